//! Every environment variable we read, in one place, and a snapshot of them.
//!
//! Core never calls `std::env::var` elsewhere: tests build an [`Env`] by hand
//! and integration tests pass variables to child processes.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Names of the environment variables cc-aws-keepalive reads.
pub mod vars {
    pub const HOME: &str = "HOME";
    pub const AWS_PROFILE: &str = "AWS_PROFILE";
    pub const AWS_CONFIG_FILE: &str = "AWS_CONFIG_FILE";
    pub const AWS_SHARED_CREDENTIALS_FILE: &str = "AWS_SHARED_CREDENTIALS_FILE";
    pub const AWS_ENDPOINT_URL: &str = "AWS_ENDPOINT_URL";
    pub const AWS_ENDPOINT_URL_SSO_OIDC: &str = "AWS_ENDPOINT_URL_SSO_OIDC";
    pub const AWS_ENDPOINT_URL_SSO: &str = "AWS_ENDPOINT_URL_SSO";
    pub const AWS_ENDPOINT_URL_STS: &str = "AWS_ENDPOINT_URL_STS";
    pub const AWS_ENDPOINT_URL_SIGNIN: &str = "AWS_ENDPOINT_URL_SIGNIN";
    /// `AWS_DEFAULT_PROFILE` is read before `AWS_PROFILE` (botocore).
    pub const AWS_DEFAULT_PROFILE: &str = "AWS_DEFAULT_PROFILE";
    /// Environment keys (aws-vault, granted, CI).
    pub const AWS_ACCESS_KEY_ID: &str = "AWS_ACCESS_KEY_ID";
    pub const AWS_SECRET_ACCESS_KEY: &str = "AWS_SECRET_ACCESS_KEY";
    pub const AWS_SESSION_TOKEN: &str = "AWS_SESSION_TOKEN";
    /// Old name botocore still reads when `AWS_SESSION_TOKEN` is unset.
    pub const AWS_SECURITY_TOKEN: &str = "AWS_SECURITY_TOKEN";
    pub const AWS_CREDENTIAL_EXPIRATION: &str = "AWS_CREDENTIAL_EXPIRATION";
    /// Where `aws login` caches its tokens (default `~/.aws/login/cache`).
    pub const AWS_LOGIN_CACHE_DIRECTORY: &str = "AWS_LOGIN_CACHE_DIRECTORY";
    /// Web identity from the environment (EKS, CI OIDC).
    pub const AWS_WEB_IDENTITY_TOKEN_FILE: &str = "AWS_WEB_IDENTITY_TOKEN_FILE";
    pub const AWS_ROLE_ARN: &str = "AWS_ROLE_ARN";
    pub const AWS_ROLE_SESSION_NAME: &str = "AWS_ROLE_SESSION_NAME";
    pub const AWS_CA_BUNDLE: &str = "AWS_CA_BUNDLE";
    pub const HTTPS_PROXY: &str = "HTTPS_PROXY";
    pub const HTTPS_PROXY_LOWER: &str = "https_proxy";
    pub const NO_PROXY: &str = "NO_PROXY";
    pub const NO_PROXY_LOWER: &str = "no_proxy";
    pub const XDG_CONFIG_HOME: &str = "XDG_CONFIG_HOME";
    pub const XDG_STATE_HOME: &str = "XDG_STATE_HOME";
    pub const XDG_DATA_HOME: &str = "XDG_DATA_HOME";
    pub const CLAUDE_CONFIG_DIR: &str = "CLAUDE_CONFIG_DIR";
    pub const NO_COLOR: &str = "NO_COLOR";
    /// The terminal's width, when the shell exports it: `status` fits its table to it.
    pub const COLUMNS: &str = "COLUMNS";
    /// Path of our config.json, overriding the XDG location.
    pub const CC_KEEPALIVE_CONFIG: &str = "CC_KEEPALIVE_CONFIG";
    /// Profile to use, overriding config.json and `AWS_PROFILE`.
    pub const CC_KEEPALIVE_PROFILE: &str = "CC_KEEPALIVE_PROFILE";
    /// Test-only: a fixed "now" (RFC 3339) so golden tests do not depend on the clock.
    pub const CC_KEEPALIVE_NOW: &str = "CC_KEEPALIVE_NOW";
    /// Overrides from the bash/Node daemons users migrate from.
    pub const AWS_SSO_REFRESH_THRESHOLD: &str = "AWS_SSO_REFRESH_THRESHOLD";
    pub const AWS_SSO_REFRESH_INTERVAL: &str = "AWS_SSO_REFRESH_INTERVAL";
    /// Claude Code on Bedrock needs these; `doctor` checks them.
    pub const AWS_REGION: &str = "AWS_REGION";
    pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
    /// Test-only: the daemon's check interval in milliseconds, overriding every other setting.
    pub const CC_KEEPALIVE_DAEMON_TICK_MS: &str = "CC_KEEPALIVE_DAEMON_TICK_MS";
    /// A shell command run instead of the desktop notifier, with the notification in
    /// `CC_KEEPALIVE_NOTIFY_TITLE`, `CC_KEEPALIVE_NOTIFY_BODY` and `CC_KEEPALIVE_NOTIFY_KIND`.
    pub const CC_KEEPALIVE_NOTIFY_CMD: &str = "CC_KEEPALIVE_NOTIFY_CMD";
    /// `1`: `service install|uninstall` write and remove files but never call
    /// systemctl/launchctl/schtasks (tests, packaging); they print what to run instead.
    pub const CC_KEEPALIVE_NO_SERVICE_MANAGER: &str = "CC_KEEPALIVE_NO_SERVICE_MANAGER";
    /// Test-only: generate the service files of another platform (`launchd`, `systemd`,
    /// `taskscheduler`); the service manager is then never called.
    pub const CC_KEEPALIVE_SERVICE_PLATFORM: &str = "CC_KEEPALIVE_SERVICE_PLATFORM";

    /// Everything [`super::Env::from_process`] captures.
    pub const ALL: &[&str] = &[
        HOME,
        AWS_PROFILE,
        AWS_CONFIG_FILE,
        AWS_SHARED_CREDENTIALS_FILE,
        AWS_ENDPOINT_URL,
        AWS_ENDPOINT_URL_SSO_OIDC,
        AWS_ENDPOINT_URL_SSO,
        AWS_ENDPOINT_URL_STS,
        AWS_ENDPOINT_URL_SIGNIN,
        AWS_DEFAULT_PROFILE,
        AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY,
        AWS_SESSION_TOKEN,
        AWS_SECURITY_TOKEN,
        AWS_CREDENTIAL_EXPIRATION,
        AWS_LOGIN_CACHE_DIRECTORY,
        AWS_WEB_IDENTITY_TOKEN_FILE,
        AWS_ROLE_ARN,
        AWS_ROLE_SESSION_NAME,
        AWS_CA_BUNDLE,
        HTTPS_PROXY,
        HTTPS_PROXY_LOWER,
        NO_PROXY,
        NO_PROXY_LOWER,
        XDG_CONFIG_HOME,
        XDG_STATE_HOME,
        XDG_DATA_HOME,
        CLAUDE_CONFIG_DIR,
        NO_COLOR,
        COLUMNS,
        CC_KEEPALIVE_CONFIG,
        CC_KEEPALIVE_PROFILE,
        CC_KEEPALIVE_NOW,
        AWS_SSO_REFRESH_THRESHOLD,
        AWS_SSO_REFRESH_INTERVAL,
        AWS_REGION,
        AWS_DEFAULT_REGION,
        CC_KEEPALIVE_DAEMON_TICK_MS,
        CC_KEEPALIVE_NOTIFY_CMD,
        CC_KEEPALIVE_NO_SERVICE_MANAGER,
        CC_KEEPALIVE_SERVICE_PLATFORM,
    ];
}

/// A snapshot of the variables in [`vars::ALL`]. Empty values count as unset,
/// as the AWS CLI treats them.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

/// Variables whose values are secrets: `Debug` shows `***` for them.
const SECRET_VARS: &[&str] = &[vars::AWS_SECRET_ACCESS_KEY, vars::AWS_SESSION_TOKEN, vars::AWS_SECURITY_TOKEN];

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.vars {
            if SECRET_VARS.contains(&k.as_str()) {
                m.entry(k, &"***")
            } else {
                m.entry(k, v)
            };
        }
        m.finish()
    }
}

impl Env {
    pub fn from_process() -> Env {
        let mut env = Env::default();
        for name in vars::ALL {
            if let Some(value) = std::env::var_os(name) {
                env.set(name, value.to_string_lossy().as_ref());
            }
        }
        env
    }

    /// Builds an environment from explicit pairs (tests).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        let mut env = Env::default();
        for (k, v) in pairs {
            env.set(k, v);
        }
        env
    }

    pub fn set(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            self.vars.remove(name);
        } else {
            self.vars.insert(name.to_string(), value.to_string());
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// Every captured variable, for handing the same environment to a child.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn is_set(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    /// The user's home directory. On Unix only `HOME` counts: falling back to
    /// the password database would let a test with HOME unset reach the real home.
    pub fn home(&self) -> Option<PathBuf> {
        if let Some(h) = self.get(vars::HOME) {
            return Some(PathBuf::from(h));
        }
        if cfg!(unix) { None } else { home::home_dir() }
    }
}
