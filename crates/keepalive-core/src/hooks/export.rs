//! `cc-aws-export` (`awsCredentialExport`): the profile's credentials, made by walking its
//! chain on every call (caches first), as the JSON Claude Code expects. The hook binary answers
//! from the caches ([`from_caches`]); when credentials must be made, the engine runs the whole
//! export ([`run`]; see [`super::engine`]).

use super::{Output, Setup, autologin, background, login_hint, step_hint};
use crate::creds::Credentials;
use crate::ctx::Ctx;
use crate::next_step;
use crate::providers::exec::{self, ExecError, HumanStep};
use crate::providers::{Base, Chain};

/// The whole export: caches first, renewing what is stale (the engine's side).
pub fn run(ctx: &Ctx, stdout_is_terminal: bool) -> Output {
    let made = answer(ctx, stdout_is_terminal, |setup, chain| Some(exec::credentials(ctx, setup.config(), chain)));
    // `answer` gives up only when its source does, and this one always answers.
    made.unwrap_or_else(|| fail(Output::default(), "cc-aws-export: no answer".into()))
}

/// The export from the caches alone (the hook binary's side): `None` when credentials must
/// be made, which [`super::engine::hand_off`] leaves to the engine.
pub fn from_caches(ctx: &Ctx, stdout_is_terminal: bool) -> Option<Output> {
    answer(ctx, stdout_is_terminal, |_, chain| exec::cached(ctx, chain).map(Ok))
}

/// Generic over where the credentials come from, so the hook binary's copy links only the
/// cache readers.
fn answer(
    ctx: &Ctx,
    stdout_is_terminal: bool,
    make: impl FnOnce(&Setup, &Chain) -> Option<Result<Credentials, ExecError>>,
) -> Option<Output> {
    let setup = Setup::load(ctx);
    // Claude Code captures this hook's stderr silently; warnings cost nothing.
    let mut out = Output { stderr: setup.loaded.problems(), ..Output::default() };
    if let Err(e) = &setup.profile {
        return Some(fail(out, format!("cc-aws-export: {e}")));
    }
    let profile = setup.name().to_string();
    let chain = match &setup.chain {
        Ok(c) => c,
        Err(e) => {
            // Nothing configured yet: a login tool may be what writes the keys.
            if e.is_missing() {
                autologin::maybe_start_background(ctx, &setup, &profile);
                return Some(fail(
                    out,
                    format!("cc-aws-export: no AWS credentials for profile \"{profile}\": {e}; {}", login_hint(&setup)),
                ));
            }
            // A broken configuration or a file being rewritten: a login cannot help, the
            // message says what can.
            return Some(fail(out, format!("cc-aws-export: {e}")));
        }
    };
    watch_login_tool_keys(ctx, &setup, chain, &mut out);
    let creds = match make(&setup, chain)? {
        Ok(c) => c,
        Err(e) => {
            let step = e.human_step();
            if step == HumanStep::Login {
                autologin::maybe_start_background(ctx, &setup, &profile);
            }
            let msg = match (&e, &chain.base) {
                // Only these leave the next step unsaid.
                (ExecError::KeysExpired { .. } | ExecError::Resolve(_), _) => {
                    format!("{e}; {}", step_hint(&setup, step))
                }
                // The error names `aws sso login`; the real fix is converting the profile.
                (_, Base::Sso(p)) if step == HumanStep::Login && next_step::is_legacy(p) => {
                    format!("{e}; {}", next_step::legacy_note(p))
                }
                _ => e.to_string(),
            };
            return Some(fail(out, format!("cc-aws-export: {msg}")));
        }
    };
    if let Some(left) = creds.remaining(ctx.now) {
        if left <= time::Duration::ZERO {
            return Some(fail(out, format!("cc-aws-export: credentials for profile \"{profile}\" have expired")));
        }
        // Handing out soon-to-expire credentials is unavoidable only when they were issued
        // that short; renew in the background for next time.
        if left < super::fresh_margin() {
            background::maybe_start_renew(ctx, &setup, &profile);
        }
    }
    if stdout_is_terminal {
        out.stderr.push(
            "cc-aws-export: this prints secret keys for Claude Code's awsCredentialExport setting; do not paste its output anywhere"
                .into(),
        );
    }
    out.stdout = creds.export_json();
    out.stdout.push('\n');
    Some(out)
}

fn fail(mut out: Output, msg: String) -> Output {
    out.stderr.push(msg);
    out.code = 1;
    out
}

/// Keys a login tool wrote (the base of the chain, under any roles): say when their expiry
/// cannot be read, and start `autoLoginCmd` ahead of their expiry.
fn watch_login_tool_keys(ctx: &Ctx, setup: &Setup, chain: &Chain, out: &mut Output) {
    let Base::Keys(k) = &chain.base else { return };
    if let Some(w) = &k.keys.expiry_warning {
        out.stderr.push(format!("cc-aws-export: {}: profile \"{}\": {w}", k.path.display(), k.profile));
    }
    if let Some(exp) = k.keys.creds.as_ref().and_then(|c| c.expiration) {
        let left = exp - ctx.now;
        let auto_window = time::Duration::minutes(setup.config().auto_login_minutes as i64);
        if left <= auto_window || left <= time::Duration::ZERO {
            autologin::maybe_start_background(ctx, setup, setup.name());
        }
    }
}
