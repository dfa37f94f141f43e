//! `cc-aws-keepalive refresh`: the keep-alive policy of the daemon, run once, now, with a
//! person at the terminal — every session within the threshold (all with `--force`), the hook
//! profiles the daemon keeps (keys through `autoLoginCmd` within `autoLoginMinutes`, roles,
//! `aws login`), or one `--session` or `--profile`.

use time::OffsetDateTime;

use crate::config::Config;
use crate::ctx::Ctx;
use crate::daemon::discovery::{Discovery, Target};
use crate::daemon::policy::{ChainResult, KeepOptions, KeysStep, Outcome, keep_chain, keep_keys, keep_one};
use crate::env::vars;
use crate::log::{self, Level};
use crate::providers::exec;
use crate::providers::resolve::{self, AwsFiles, Choice};
use crate::providers::{Base, Chain, RoleStep};
use crate::{expiry, next_step, paths};

/// What `cc-aws-keepalive refresh` acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every `[sso-session]` (and the hooks' legacy SSO profiles), and the hook profiles the
    /// daemon keeps.
    All,
    Session(String),
    /// One profile: its SSO session and role credentials, its keys (through `autoLoginCmd`),
    /// or its credentials-file entry as `awsAuthRefresh` handles it.
    Profile(String),
}

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("no [sso-session {name}] in {path}; `cc-aws-keepalive status` lists the sessions")]
    NoSession { name: String, path: String },
    #[error(transparent)]
    Chain(Box<resolve::ResolveError>),
    #[error(transparent)]
    Profile(#[from] crate::config::ProfileError),
}

/// What a refresh did, per session and per hook profile, plus role credentials for `--profile`.
#[derive(Debug, Default)]
pub struct RefreshReport {
    pub results: Vec<(String, Outcome)>,
    /// Hook profiles kept beyond the sessions (keys through `autoLoginCmd`, roles, `aws login`).
    pub chains: Vec<ChainResult>,
    /// `--profile`: the profile's credentials valid until, or why not.
    pub role: Option<Result<Option<OffsetDateTime>, String>>,
    /// `--profile`: the profile's chain, when it is made of more than keys in a file.
    pub chain: Option<Chain>,
    /// `--profile` of a credentials-file profile: the `awsAuthRefresh` exit code.
    pub file_refresh_code: Option<u8>,
    pub problems: Vec<String>,
}

impl RefreshReport {
    pub fn ok(&self) -> bool {
        self.results.iter().all(|(_, o)| !matches!(o, Outcome::Failed { .. } | Outcome::LoginNeeded { .. }))
            && self.chains.iter().all(|c| !c.failed)
            && !matches!(self.role, Some(Err(_)))
            && self.file_refresh_code.is_none_or(|c| c == 0)
    }

    /// Whether it acted on (or looked at) anything at all.
    pub fn is_empty(&self) -> bool {
        self.results.is_empty() && self.chains.is_empty() && self.file_refresh_code.is_none() && self.chain.is_none()
    }
}

/// Refreshes the selected sessions within the threshold (all with `force`), silently first,
/// then as `opts.login` allows. `say` receives each result as it is known.
pub fn refresh(
    ctx: &Ctx,
    config: &Config,
    selection: &Selection,
    opts: &KeepOptions,
    mfa: &mut dyn FnMut(&RoleStep) -> Option<String>,
    say: &mut dyn FnMut(&str),
) -> Result<RefreshReport, SelectError> {
    let mut report = RefreshReport::default();
    let p = match selection {
        Selection::All | Selection::Session(_) => {
            let found = Discovery::read(ctx, config);
            report.problems = found.problems.clone();
            let chosen: Vec<&Target> = match selection {
                Selection::Session(name) => {
                    let t: Vec<&Target> = found.targets.iter().filter(|t| &t.name == name).collect();
                    if t.is_empty() {
                        let path =
                            paths::aws_config_file(&ctx.env).map(|p| p.display().to_string()).unwrap_or_default();
                        return Err(SelectError::NoSession { name: name.clone(), path });
                    }
                    t
                }
                _ => found.targets.iter().collect(),
            };
            for t in chosen {
                keep_session(ctx, config, t, opts, &mut report, say);
            }
            if *selection == Selection::All {
                for (p, chain) in &found.chains {
                    let Ok(chain) = chain else { continue };
                    if let Some(r) = keep_chain(ctx, config, p, chain, opts, say) {
                        say_chain(ctx, &r, say);
                        report.chains.push(r);
                    }
                }
            }
            return Ok(report);
        }
        Selection::Profile(p) => p,
    };
    if !crate::config::valid_profile_name(p) {
        return Err(crate::config::ProfileError::Invalid { name: p.clone(), source_name: "--profile" }.into());
    }
    let files = AwsFiles::read(&ctx.env).map_err(|e| SelectError::Chain(Box::new(e)))?;
    let chain = resolve::resolve_in(&ctx.env, config, &files, p, Choice::Explicit("--profile"))
        .map_err(|e| SelectError::Chain(Box::new(e)))?;
    // Keys a login tool writes, renewed by autoLoginCmd; then any roles on them.
    let chain = match keep_keys(ctx, config, p, &chain, opts, say) {
        KeysStep::Final(r) => {
            say_chain(ctx, &r, say);
            report.chains.push(r);
            return Ok(report);
        }
        KeysStep::Continue(Some(again)) => *again,
        KeysStep::Continue(None) => chain,
    };
    match &chain.base {
        Base::Sso(sp) => {
            let name = sp.session.clone().unwrap_or_else(|| format!("profile {}", sp.profile));
            let t = Target { name, profile: sp.clone(), profiles: vec![p.clone()] };
            keep_session(ctx, config, &t, opts, &mut report, say);
        }
        Base::Keys(_) if chain.roles.is_empty() && config.auto_login_cmd.is_empty() => {
            // A credentials-file profile without autoLoginCmd: exactly what awsAuthRefresh does.
            let mut env = ctx.env.clone();
            env.set(vars::CC_KEEPALIVE_PROFILE, p);
            let code = crate::hooks::refresh::run(&Ctx::new(env, ctx.now), say);
            report.file_refresh_code = Some(code);
            return Ok(report);
        }
        _ => {}
    }
    report.chain = Some(chain.clone());
    if report.results.iter().any(|(_, o)| o.is_failure()) {
        return Ok(report);
    }
    let r = if opts.force {
        exec::renew(ctx, config, &chain, opts.threshold, true, mfa)
    } else {
        exec::credentials_with_mfa(ctx, config, &chain, mfa)
    };
    // `profile dev: role credentials …` for SSO, `profile bedrock (bedrock ← role ← …): …` for chains.
    let what = match (&chain.base, chain.roles.is_empty()) {
        (Base::Sso(_), true) => format!("profile {p}: role credentials"),
        _ => format!("profile {p} ({}): credentials", resolve::describe(&chain)),
    };
    let r = match r {
        Ok(c) => {
            match c.expiration {
                Some(exp) => {
                    say(&format!("{what} valid until {} ({})", expiry::to_iso8601(exp), expiry::relative(ctx.now, exp)))
                }
                None => say(&format!("{what} ready")),
            }
            Ok(c.expiration)
        }
        Err(e) => {
            let line = match (&chain.base, e.human_step()) {
                // The error names `aws sso login`; the real fix is converting the profile.
                (Base::Sso(sp), exec::HumanStep::Login) if next_step::is_legacy(sp) => {
                    format!("{e}; {}", next_step::legacy_note(sp))
                }
                _ => e.to_string(),
            };
            say(&format!("profile {p}: {line}"));
            Err(line)
        }
    };
    report.role = Some(r);
    Ok(report)
}

/// One SSO session: keep it, say and log what happened.
fn keep_session(
    ctx: &Ctx,
    config: &Config,
    t: &Target,
    opts: &KeepOptions,
    report: &mut RefreshReport,
    say: &mut dyn FnMut(&str),
) {
    let outcome = keep_one(ctx, config, t, opts, say);
    let line = format!("{}: {}", t.name, outcome.describe(ctx.now));
    say(&line);
    let level = if outcome.is_failure() { Level::Warn } else { Level::Info };
    log::write(ctx, level, "refresh", &line);
    report.results.push((t.name.clone(), outcome));
}

fn say_chain(ctx: &Ctx, r: &ChainResult, say: &mut dyn FnMut(&str)) {
    say(&r.line);
    log::write(ctx, if r.failed { Level::Warn } else { Level::Info }, "refresh", &r.line);
}
