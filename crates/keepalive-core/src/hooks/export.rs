//! `cc-aws-export` (`awsCredentialExport`): the profile's credentials, read
//! fresh on every call, as the JSON Claude Code expects.

use super::{Output, Setup, autologin, background, login_hint};
use crate::creds::Credentials;
use crate::ctx::Ctx;
use crate::expiry;
use crate::source::{self, FileState, Resolved};

pub fn run(ctx: &Ctx, stdout_is_terminal: bool) -> Output {
    let setup = Setup::load(ctx);
    // Claude Code captures this hook's stderr silently; warnings cost nothing.
    let mut out = Output { stderr: setup.loaded.problems(), ..Output::default() };
    let profile = match &setup.profile {
        Ok(p) => p.clone(),
        Err(e) => return fail(out, format!("cc-aws-export: {e}")),
    };
    let creds = match source::resolve(ctx, setup.config(), &profile) {
        Ok(Resolved::File(state)) => match file_creds(ctx, &setup, &profile, &state, &mut out) {
            Ok(c) => c,
            Err(msg) => return fail(out, msg),
        },
        Ok(Resolved::Sso(p)) => match crate::providers::sso::role_credentials(ctx, setup.config(), &p) {
            Ok(c) => c,
            Err(e) => {
                if e.needs_login() && !setup.config().auto_login_cmd.is_empty() {
                    autologin::maybe_start_background(ctx, &setup, &profile);
                }
                return fail(out, format!("cc-aws-export: {e}"));
            }
        },
        Ok(Resolved::Process { command }) => match crate::providers::process::credentials(ctx, &profile, &command) {
            Ok(c) => c,
            Err(e) => return fail(out, format!("cc-aws-export: {e}")),
        },
        Err(e) => {
            return fail(
                out,
                format!("cc-aws-export: no AWS credentials for profile \"{profile}\": {e}; {}", login_hint(&setup)),
            );
        }
    };
    if let Some(left) = creds.remaining(ctx.now) {
        if left <= time::Duration::ZERO {
            return fail(out, format!("cc-aws-export: credentials for profile \"{profile}\" have expired"));
        }
        // Handing out soon-to-expire SSO credentials is unavoidable only when the
        // portal issued them that short; start a refresh for next time.
        if left < super::fresh_margin() {
            background::maybe_start_sso(ctx, &setup, &profile);
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
    out
}

fn fail(mut out: Output, msg: String) -> Output {
    out.stderr.push(msg);
    out.code = 1;
    out
}

/// Credentials from the shared credentials file; never expired ones.
fn file_creds(
    ctx: &Ctx,
    setup: &Setup,
    profile: &str,
    state: &FileState,
    out: &mut Output,
) -> Result<Credentials, String> {
    if let Some(w) = &state.profile.expiry_warning {
        out.stderr.push(format!("cc-aws-export: {}: profile \"{profile}\": {w}", state.path.display()));
    }
    let creds = state.creds().cloned().ok_or_else(|| format!("cc-aws-export: no keys for profile \"{profile}\""))?;
    if let Some(exp) = creds.expiration {
        let left = exp - ctx.now;
        let auto_window = time::Duration::minutes(setup.config().auto_login_minutes as i64);
        if left <= auto_window || left <= time::Duration::ZERO {
            autologin::maybe_start_background(ctx, setup, profile);
        }
        if left <= time::Duration::ZERO {
            // Expired keys would only earn a 403; Claude Code then falls back
            // and calls awsAuthRefresh, which is what we want.
            return Err(format!(
                "cc-aws-export: AWS credentials for profile \"{profile}\" expired {} ({}); {}",
                expiry::relative(ctx.now, exp),
                state.path.display(),
                login_hint(setup)
            ));
        }
    }
    Ok(creds)
}
