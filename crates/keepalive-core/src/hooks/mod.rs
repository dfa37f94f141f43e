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

/// What a hook prints and how it exits.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    /// One line each.
    pub stderr: Vec<String>,
    pub code: u8,
}

pub use crate::providers::cached::{FRESH_MINUTES, fresh_margin};

/// Config and profile, resolved once per hook call.
#[derive(Debug)]
pub struct Setup {
    pub loaded: Loaded,
    pub profile: Result<String, config::ProfileError>,
}

impl Setup {
    pub fn load(ctx: &Ctx) -> Setup {
        let loaded = config::load(&ctx.env);
        let profile = config::resolve_profile(&ctx.env, &loaded.config);
        Setup { loaded, profile }
    }

    pub fn config(&self) -> &Config {
        &self.loaded.config
    }
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
    if arg == background::BACKGROUND_SSO_ARG {
        let ctx = Ctx::from_process();
        return Some(background::run_sso(&ctx));
    }
    None
}
