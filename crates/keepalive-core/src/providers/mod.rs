//! Credential sources, as botocore resolves them: one module per provider, the resolver that
//! turns the AWS config files into a [`Chain`] once, and the executor that walks it.
//!
//! Layering: `resolve` reads files and decides (no network, no caches); `exec` runs a chain
//! (caches, locks, network) by calling the provider modules; the provider modules know only
//! their own source plus `cached`, the shared lock-and-re-read mechanics. Hooks, the daemon,
//! `status` and `doctor` ask `resolve` and `exec`; nothing else classifies profiles.

pub mod assume_role;
pub mod cached;
pub mod exec;
pub mod login;
pub mod process;
pub mod resolve;
pub mod sso;
pub mod sts;
pub mod web_identity;
pub mod worker;

use std::path::PathBuf;

use crate::creds::FileProfile;

/// How a profile's credentials are made: a base provider, then roles assumed in turn.
/// `bedrock ← role ← dev (sso-session corp)` is `roles = [bedrock]`, `base = Sso(dev)`.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The profile asked for; `None` when environment keys are used with no profile chosen.
    pub profile: Option<String>,
    pub base: Base,
    /// Roles assumed on top of the base, innermost (assumed first) first.
    pub roles: Vec<RoleStep>,
}

/// Where the first credentials of a chain come from.
#[derive(Debug, Clone)]
pub enum Base {
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`) in the environment,
    /// directly or through `credential_source = Environment`.
    Env(FileProfile),
    /// Keys in the credentials file or the config file (saml2aws and friends, or long-term keys).
    Keys(KeysAt),
    /// IAM Identity Center.
    Sso(sso::SsoProfile),
    /// An `aws login` session.
    Login(LoginProfile),
    /// `credential_process`.
    Process { profile: String, command: String },
    /// `web_identity_token_file` + `role_arn` (AssumeRoleWithWebIdentity).
    WebIdentity(WebIdentity),
}

/// Keys found in one of the two files.
#[derive(Debug, Clone)]
pub struct KeysAt {
    pub profile: String,
    /// The file they were read from.
    pub path: PathBuf,
    /// The keys and their expiry (credential-file providers write one).
    pub keys: FileProfile,
}

/// A `role_arn` link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleStep {
    /// The profile that holds `role_arn`.
    pub profile: String,
    pub role_arn: String,
    /// `role_session_name`, when configured (part of botocore's cache key only then).
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    pub mfa_serial: Option<String>,
    /// `duration_seconds`, when configured.
    pub duration_seconds: Option<u32>,
    /// The region STS is called in: botocore's session region (`AWS_DEFAULT_REGION`, else the
    /// chosen profile's `region`).
    pub region: Option<String>,
}

impl RoleStep {
    /// A role with none of the optional settings (`role_session_name`, `external_id`,
    /// `mfa_serial`, `duration_seconds`): set those with struct update syntax, so callers
    /// keep compiling when a setting is added.
    pub fn new(profile: impl Into<String>, role_arn: impl Into<String>, region: Option<String>) -> RoleStep {
        RoleStep {
            profile: profile.into(),
            role_arn: role_arn.into(),
            session_name: None,
            external_id: None,
            mfa_serial: None,
            duration_seconds: None,
            region,
        }
    }
}

/// An `aws login` profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginProfile {
    pub profile: String,
    /// The `login_session` value (an ARN); its sha256 names the cache file.
    pub session: String,
    /// The region of the Sign-In endpoint.
    pub region: Option<String>,
}

/// A web-identity profile (or the `AWS_WEB_IDENTITY_TOKEN_FILE` environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    pub profile: String,
    pub role_arn: String,
    pub token_file: PathBuf,
    pub session_name: Option<String>,
    pub duration_seconds: Option<u32>,
    /// The region STS is called in.
    pub region: Option<String>,
}
