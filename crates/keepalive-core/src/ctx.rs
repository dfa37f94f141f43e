//! What every operation needs: the environment snapshot and the current time.

use time::OffsetDateTime;

use crate::env::{Env, vars};

#[derive(Debug, Clone)]
pub struct Ctx {
    pub env: Env,
    pub now: OffsetDateTime,
}

impl Ctx {
    /// The real environment and clock. `CC_KEEPALIVE_NOW` fixes the clock for
    /// golden tests; it is ignored when unparsable.
    pub fn from_process() -> Ctx {
        let env = Env::from_process();
        let now = env
            .get(vars::CC_KEEPALIVE_NOW)
            .and_then(|s| crate::expiry::parse(s).ok())
            .unwrap_or_else(OffsetDateTime::now_utc);
        Ctx { env, now }
    }

    pub fn new(env: Env, now: OffsetDateTime) -> Ctx {
        Ctx { env, now }
    }

    /// Colours unless `NO_COLOR` is set (https://no-color.org).
    pub fn colour(&self) -> bool {
        !self.env.is_set(vars::NO_COLOR)
    }
}
