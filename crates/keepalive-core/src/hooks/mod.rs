//! The logic of the four Claude Code hooks. Each returns what to print and the
//! exit code; the binaries print it.

pub mod autologin;
pub mod background;
pub mod check;
pub mod engine;
pub mod export;
pub mod refresh;
pub mod start;
pub mod statusline;

use crate::config::{self, Config, Loaded};
use crate::ctx::Ctx;
use crate::next_step;
use crate::providers::Chain;
use crate::providers::exec::HumanStep;
use crate::providers::resolve::{self, ResolveError};

/// What a hook prints and how it exits.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    /// One line each.
    pub stderr: Vec<String>,
    pub code: u8,
}

pub use crate::providers::cached::{FRESH_MINUTES, fresh_margin};

/// Config, profile and its chain, resolved once per hook call.
#[derive(Debug)]
pub struct Setup {
    pub loaded: Loaded,
    pub profile: Result<String, config::ProfileError>,
    /// How the profile's credentials are made (an error when the profile is broken).
    pub chain: Result<Chain, ResolveError>,
}

impl Setup {
    pub fn load(ctx: &Ctx) -> Setup {
        let loaded = config::load(&ctx.env);
        let profile = config::resolve_profile(&ctx.env, &loaded.config);
        let chain = resolve::resolve(ctx, &loaded.config);
        Setup { loaded, profile, chain }
    }

    pub fn config(&self) -> &Config {
        &self.loaded.config
    }

    /// The profile name for messages ("default" when even the name is broken).
    pub fn name(&self) -> &str {
        self.profile.as_deref().unwrap_or("default")
    }
}

/// What to do when the chain needs `step`, for messages: decided by [`next_step::advice`]
/// (the exact command when one is known, the `[sso-session]` conversion for a legacy SSO
/// profile, else where to set `loginCmd`).
pub fn step_hint(setup: &Setup, step: HumanStep) -> String {
    next_step::advice(setup.config(), setup.loaded.path.as_deref(), setup.chain.as_ref().ok(), step)
}

/// How to log in, for messages when the profile does not resolve (or for keys a login tool
/// writes): the configured `loginCmd`, or where to set it.
pub fn login_hint(setup: &Setup) -> String {
    next_step::advice(setup.config(), setup.loaded.path.as_deref(), None, HumanStep::Login)
}

/// The hidden first argument with which a hook starts `autoLoginCmd` detached, as an engine
/// process (see [`engine`]).
pub const BACKGROUND_LOGIN_ARG: &str = "__background-login";
