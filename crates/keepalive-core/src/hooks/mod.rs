//! The logic of the four Claude Code hooks. Each returns what to print and the
//! exit code; the binaries print it.

pub mod autologin;
pub mod background;
pub mod check;
pub mod export;
pub mod refresh;
pub mod statusline;

use crate::config::{self, Config, Loaded};
use crate::ctx::Ctx;
use crate::providers::exec::{self, HumanStep};
use crate::providers::resolve::{self, ResolveError};
use crate::providers::{Base, Chain};

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

/// What to do when the chain needs `step`, for messages: the exact command when one is
/// known, else [`login_hint`].
pub fn step_hint(setup: &Setup, step: HumanStep) -> String {
    let known = setup.chain.as_ref().ok().and_then(|c| exec::next_step(c, step, &setup.config().login_cmd));
    match (known, &setup.chain) {
        (Some(s), Ok(Chain { base: Base::Keys(_), .. })) if setup.config().login_cmd.is_empty() => {
            format!("{s} (set \"loginCmd\" in {} to see the exact command here)", config_where(setup))
        }
        (Some(s), _) => s,
        (None, _) => login_hint(setup),
    }
}

fn config_where(setup: &Setup) -> String {
    setup.loaded.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "config.json".into())
}

/// How to log in, for messages: the configured `loginCmd`, or where to set it.
pub fn login_hint(setup: &Setup) -> String {
    let c = setup.config();
    if !c.login_cmd.is_empty() {
        format!("run `{}` in another terminal", c.login_cmd)
    } else {
        let where_ =
            setup.loaded.path.as_ref().map(|p| p.display().to_string()).unwrap_or_else(|| "config.json".into());
        format!("log in again with your AWS login tool (set \"loginCmd\" in {where_} to see the exact command here)")
    }
}

/// The hidden first argument with which a hook binary re-executes itself to do
/// slow work detached from Claude Code.
pub const BACKGROUND_LOGIN_ARG: &str = "__background-login";

/// Called first by hook binaries: runs background work when asked to and
/// returns the exit code, else `None`.
pub fn background_entry(first_arg: Option<&std::ffi::OsStr>) -> Option<u8> {
    let arg = first_arg?;
    if arg == BACKGROUND_LOGIN_ARG {
        let ctx = Ctx::from_process();
        return Some(autologin::run_background(&ctx));
    }
    if arg == background::BACKGROUND_RENEW_ARG {
        let ctx = Ctx::from_process();
        return Some(background::run_renew(&ctx));
    }
    None
}
