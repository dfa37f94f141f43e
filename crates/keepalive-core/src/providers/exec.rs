//! The executor: walks a [`Chain`] from its base outwards. [`credentials`] makes what the
//! export hands out (caches first, network only when they are stale); [`status`] says what the
//! caches hold without any network; [`renew`] renews ahead of time for the background refresh,
//! the daemon and `cc-aws-keepalive refresh`.

use time::{Duration, OffsetDateTime};

use super::cached::{self, CacheLockError};
use super::resolve::{self, ResolveError};
use super::{Base, Chain, RoleStep, assume_role, login, process, sso, web_identity};
use crate::config::Config;
use crate::creds::Credentials;
use crate::ctx::Ctx;
use crate::expiry;

#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    #[error(transparent)]
    Resolve(Box<ResolveError>),
    #[error("AWS credentials for profile \"{profile}\" in {path} expired {when}")]
    KeysExpired { profile: String, path: std::path::PathBuf, when: String },
    #[error(
        "the AWS credentials in the environment expired {when}; renew them (e.g. a new `aws-vault exec` or `granted assume`) and restart Claude Code from that shell"
    )]
    EnvExpired { when: String },
    #[error(transparent)]
    Sso(Box<sso::SsoError>),
    #[error(transparent)]
    Login(Box<login::LoginError>),
    #[error(transparent)]
    Process(#[from] process::CredentialProcessError),
    #[error("{0}")]
    AssumeRole(#[from] assume_role::AssumeRoleError),
    #[error(transparent)]
    WebIdentity(#[from] web_identity::WebIdentityError),
    #[error(transparent)]
    Lock(#[from] CacheLockError),
}

// Boxed: the provider errors carry paths and endpoints, and `Result`s of them travel far.
impl From<ResolveError> for ExecError {
    fn from(e: ResolveError) -> ExecError {
        ExecError::Resolve(Box::new(e))
    }
}

impl From<sso::SsoError> for ExecError {
    fn from(e: sso::SsoError) -> ExecError {
        ExecError::Sso(Box::new(e))
    }
}

impl From<login::LoginError> for ExecError {
    fn from(e: login::LoginError) -> ExecError {
        ExecError::Login(Box::new(e))
    }
}

/// The human step that fixes an error or ends a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HumanStep {
    /// A browser login (`aws sso login`, `aws login`) or the user's own login tool.
    Login,
    /// An MFA code, typed into `cc-aws-keepalive refresh`.
    Mfa,
    /// Nothing a login fixes: configuration, network, a helper to repair.
    None,
}

impl ExecError {
    /// What the user must do about this error, if a login or MFA code is it.
    pub fn human_step(&self) -> HumanStep {
        match self {
            ExecError::KeysExpired { .. } => HumanStep::Login,
            ExecError::Sso(e) if e.needs_login() => HumanStep::Login,
            ExecError::Login(e) if e.needs_login() => HumanStep::Login,
            ExecError::AssumeRole(e) if e.needs_mfa() => HumanStep::Mfa,
            _ => HumanStep::None,
        }
    }
}

/// Credentials for the chain's outermost profile, as the export hands them out.
pub fn credentials(ctx: &Ctx, config: &Config, chain: &Chain) -> Result<Credentials, ExecError> {
    Walk { ctx, config, chain, need: cached::fresh_margin(), force: false, replace: None, mfa: &mut |_| None }
        .at(chain.roles.len())
}

/// New credentials in place of `rejected`, which AWS refused although they are fresh by their
/// expiry (a revoked session, a deleted key, an expiry the cache has wrong): Claude Code runs
/// `awsAuthRefresh` when a call was refused. Only the outermost level is issued anew; its
/// sources come from their caches as usual. Silent only: `None` when that level cannot be
/// renewed without a person (an MFA role) or at all (keys in a file or the environment, a
/// `credential_process` helper). N callers replacing the same key cause one renewal: after
/// the lock, other fresh keys in the cache are taken as they are.
pub fn replace(
    ctx: &Ctx,
    config: &Config,
    chain: &Chain,
    rejected: &Credentials,
) -> Option<Result<Credentials, ExecError>> {
    let silent = match chain.roles.last() {
        Some(outer) => outer.mfa_serial.is_none(),
        None => matches!(chain.base, Base::Sso(_) | Base::Login(_) | Base::WebIdentity(_)),
    };
    if !silent {
        return None;
    }
    let replace = Some(rejected.access_key_id.as_str());
    let mut walk = Walk { ctx, config, chain, need: cached::fresh_margin(), force: false, replace, mfa: &mut |_| None };
    Some(walk.at(chain.roles.len()))
}

/// What [`credentials`] would hand out when the caches hold it with the margin left: no
/// lock, no network, no helper run. `None` when [`credentials`] has work to do, or an error to
/// report. The hook binaries answer from this alone and hand everything else to the CLI
/// binary (`hooks::engine`), so the code behind [`credentials`] is not linked into them.
pub fn cached(ctx: &Ctx, chain: &Chain) -> Option<Credentials> {
    let fresh = |c: &Credentials| cached::is_fresh(c, ctx.now);
    // As in `Walk::at`: the outermost role's cache answers for the whole chain.
    if let Some(outer) = chain.roles.last() {
        return assume_role::cached(ctx, outer).filter(fresh);
    }
    let unexpired = |c: &Credentials| c.expiration.is_none_or(|t| t > ctx.now);
    match &chain.base {
        Base::Env(keys) => keys.creds.clone().filter(unexpired),
        Base::Keys(k) => k.keys.creds.clone().filter(unexpired),
        Base::Sso(p) => sso::cached_role_credentials(ctx, p),
        Base::Login(p) => login::cached_credentials(ctx, p),
        Base::Process { profile, command } => process::cached(ctx, profile, command),
        Base::WebIdentity(w) => web_identity::cached(ctx, w).filter(fresh),
    }
}

/// Like [`credentials`], asking `mfa` for a code when a role needs one (the CLI prompts).
pub fn credentials_with_mfa(
    ctx: &Ctx,
    config: &Config,
    chain: &Chain,
    mfa: &mut dyn FnMut(&RoleStep) -> Option<String>,
) -> Result<Credentials, ExecError> {
    Walk { ctx, config, chain, need: cached::fresh_margin(), force: false, replace: None, mfa }.at(chain.roles.len())
}

/// Renews ahead of time: every cached level with less than `window` left (everything with
/// `force`) is renewed. An MFA role with time left is renewed only with `force` (`mfa` is
/// asked for the code; the daemon and the hooks answer `None`).
pub fn renew(
    ctx: &Ctx,
    config: &Config,
    chain: &Chain,
    window: Duration,
    force: bool,
    mfa: &mut dyn FnMut(&RoleStep) -> Option<String>,
) -> Result<Credentials, ExecError> {
    match &chain.base {
        Base::Sso(p) => {
            sso::refresh_session(ctx, config, p, force)?;
        }
        // `aws login` keys last 15 minutes at most: renew whenever less than the window is left.
        Base::Login(p) => {
            let due = login::status(ctx, p).expires_at.is_none_or(|t| t - ctx.now < window);
            login::refresh(ctx, p, force || due)?;
        }
        _ => {}
    }
    let need = if force { Duration::MAX } else { window.max(cached::fresh_margin()) };
    Walk { ctx, config, chain, need, force, replace: None, mfa }.at(chain.roles.len())
}

struct Walk<'a, 'm> {
    ctx: &'a Ctx,
    config: &'a Config,
    chain: &'a Chain,
    /// Cached credentials with less than this left are renewed.
    need: Duration,
    /// Renew even an MFA role with time left.
    force: bool,
    /// The key id of outermost credentials AWS refused: cached ones with it do not count.
    replace: Option<&'a str>,
    mfa: &'m mut dyn FnMut(&RoleStep) -> Option<String>,
}

impl Walk<'_, '_> {
    /// Whether cached credentials have enough time left; a copy, so it borrows nothing.
    fn enough(&self) -> impl Fn(&Credentials) -> bool + use<> {
        let (now, need) = (self.ctx.now, self.need);
        move |c: &Credentials| c.remaining(now).is_none_or(|left| left >= need)
    }

    /// The key id refused at level `n` (the outermost), if any.
    fn refused_at(&self, n: usize) -> Option<&str> {
        self.replace.filter(|_| n == self.chain.roles.len())
    }

    /// Credentials after `n` roles have been assumed (0: the base).
    fn at(&mut self, n: usize) -> Result<Credentials, ExecError> {
        let Some(step) = n.checked_sub(1).and_then(|i| self.chain.roles.get(i)) else {
            return self.base();
        };
        let ctx = self.ctx;
        let enough = self.enough();
        let refused = self.refused_at(n).map(str::to_string);
        let usable = move |c: &Credentials| enough(c) && refused.as_deref() != Some(c.access_key_id.as_str());
        let reread = || assume_role::cached(ctx, step).filter(|c| usable(c));
        // A role that needs MFA keeps what it has while it has anything worth handing out:
        // renewing it early would ask for a code.
        if step.mfa_serial.is_some()
            && !self.force
            && let Some(c) = assume_role::cached(ctx, step).filter(|c| cached::is_fresh(c, ctx.now))
        {
            return Ok(c);
        }
        let name = format!("role-{}", assume_role::cache_key(step));
        let what = || format!("the role credentials of profile {}", step.profile);
        cached::renew_once(ctx, &name, &what, &reread, || {
            let source = self.at(n - 1)?;
            let code = match &step.mfa_serial {
                Some(_) => (self.mfa)(step),
                None => None,
            };
            // Role credentials (and other temporary keys) as the source: STS caps the session at 1 h.
            let chained = source.session_token.is_some();
            Ok::<_, ExecError>(assume_role::assume(ctx, step, &source, chained, code.as_deref())?)
        })
    }

    fn base(&mut self) -> Result<Credentials, ExecError> {
        let ctx = self.ctx;
        match &self.chain.base {
            Base::Env(keys) => {
                let c = keys.creds.clone().ok_or(ResolveError::PartialEnvKeys)?;
                match c.expiration {
                    Some(t) if t <= ctx.now => Err(ExecError::EnvExpired { when: expiry::relative(ctx.now, t) }),
                    _ => Ok(c),
                }
            }
            Base::Keys(k) => {
                let c = k
                    .keys
                    .creds
                    .clone()
                    .ok_or_else(|| ResolveError::PartialKeys { profile: k.profile.clone(), path: k.path.clone() })?;
                match c.expiration {
                    Some(t) if t <= ctx.now => Err(ExecError::KeysExpired {
                        profile: k.profile.clone(),
                        path: k.path.clone(),
                        when: expiry::relative(ctx.now, t),
                    }),
                    _ => Ok(c),
                }
            }
            Base::Sso(p) => Ok(match self.refused_at(0) {
                Some(key) => sso::replace_role_credentials(ctx, self.config, p, key)?,
                None => sso::role_credentials(ctx, self.config, p)?,
            }),
            Base::Login(p) => Ok(match self.refused_at(0) {
                Some(key) => login::replace(ctx, p, key)?,
                None => login::credentials(ctx, p)?,
            }),
            Base::Process { profile, command } => Ok(process::credentials(ctx, profile, command, self.force)?),
            Base::WebIdentity(w) => {
                let enough = self.enough();
                let refused = self.refused_at(0);
                let reread = || web_identity::cached(ctx, w).filter(|c| enough(c) && refused != Some(&c.access_key_id));
                let name = format!("web-identity-{}", web_identity::cache_key(w));
                let what = || format!("the web identity credentials of profile {}", w.profile);
                cached::renew_once(ctx, &name, &what, &reread, || Ok(web_identity::assume(ctx, w)?))
            }
        }
    }
}

/// What the caches say about a chain, without any network.
#[derive(Debug, Clone)]
pub struct ChainStatus {
    /// `bedrock ← role ← dev (sso-session corp)`.
    pub description: String,
    /// When the credentials the export would hand out now expire, if cached and known.
    pub creds_expire_at: Option<OffsetDateTime>,
    /// When a human step is needed (the end of the source session, or of an MFA role's
    /// credentials); `None` when nothing known ends it.
    pub step_at: Option<OffsetDateTime>,
    pub step: HumanStep,
    /// A problem visible without the network (not logged in, corrupt cache, expired keys).
    pub problem: Option<String>,
    /// Nothing to start from: not logged in at all.
    pub missing: bool,
}

/// Reads every cache of the chain, no network.
pub fn status(ctx: &Ctx, config: &Config, chain: &Chain) -> ChainStatus {
    let mut st = ChainStatus {
        description: resolve::describe(chain),
        creds_expire_at: None,
        step_at: None,
        step: HumanStep::None,
        problem: None,
        missing: false,
    };
    match &chain.base {
        Base::Env(k) => {
            st.creds_expire_at = k.creds.as_ref().and_then(|c| c.expiration);
            st.step_at = st.creds_expire_at;
        }
        Base::Keys(k) => {
            st.creds_expire_at = k.keys.creds.as_ref().and_then(|c| c.expiration);
            st.step_at = st.creds_expire_at;
            st.problem = k.keys.expiry_warning.clone();
        }
        Base::Sso(p) => match sso::session_status(ctx, config, p) {
            Ok(s) if s.token_found => {
                st.creds_expire_at = s.role_credentials_expire_at;
                st.step_at = Some(s.login_needed_at());
            }
            Ok(s) => {
                st.step_at = Some(ctx.now);
                st.missing = true;
                st.problem = Some(format!("not logged in to {}; run `{}`", s.session_label, s.login_command));
            }
            Err(e) => {
                st.missing = true;
                st.problem = Some(e.to_string());
            }
        },
        Base::Login(p) => {
            let s = login::status(ctx, p);
            st.creds_expire_at = s.expires_at;
            st.step_at = s.session_ends_at.or(if s.refresh_possible { None } else { s.expires_at });
            if !s.found {
                st.step_at = Some(ctx.now);
                st.missing = true;
                st.problem = Some(format!("no aws login session cached; run `{}`", login::login_command(p)));
            }
        }
        Base::Process { profile, command } => {
            let s = process::status(ctx, profile, command);
            st.creds_expire_at = s.expires_at;
            // The last run failed and nothing fresh is cached: the next export fails the same
            // way unless the helper gets what it asked for (a key touch, a code, a login).
            if let Some(f) = s.failure {
                let who = chain.profile.as_deref().unwrap_or("default");
                st.problem = Some(format!(
                    "credential_process {} ({}); run `cc-aws-keepalive refresh --profile {who}` in a terminal, where it can prompt",
                    f.reason,
                    expiry::relative(ctx.now, f.at)
                ));
            }
        }
        Base::WebIdentity(w) => st.creds_expire_at = web_identity::cached(ctx, w).and_then(|c| c.expiration),
    }
    if st.step_at.is_some() {
        st.step = HumanStep::Login;
    }
    if let Some(outer) = chain.roles.last() {
        st.creds_expire_at = assume_role::cached(ctx, outer).and_then(|c| c.expiration);
    }
    for step in chain.roles.iter().filter(|s| s.mfa_serial.is_some()) {
        let end = assume_role::cached(ctx, step).and_then(|c| c.expiration).unwrap_or(ctx.now);
        if st.step_at.is_none_or(|t| end < t) {
            st.step_at = Some(end);
            st.step = HumanStep::Mfa;
        }
    }
    st
}
