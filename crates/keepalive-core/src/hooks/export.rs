//! `cc-aws-export` (`awsCredentialExport`): the profile's credentials, read
//! fresh on every call, as the JSON Claude Code expects.

use super::{Output, Setup, autologin, login_hint};
use crate::ctx::Ctx;
use crate::expiry;

pub fn run(ctx: &Ctx, stdout_is_terminal: bool) -> Output {
    let setup = Setup::load(ctx);
    // Claude Code captures this hook's stderr silently; warnings cost nothing.
    let mut out = Output { stderr: setup.loaded.problems(), ..Output::default() };
    let profile = match &setup.profile {
        Ok(p) => p.clone(),
        Err(e) => {
            out.stderr.push(format!("cc-aws-export: {e}"));
            out.code = 1;
            return out;
        }
    };
    let state = match crate::source::read_file(ctx, setup.config(), &profile) {
        Ok(s) => s,
        Err(e) => {
            out.stderr.push(format!(
                "cc-aws-export: no AWS credentials for profile \"{profile}\": {e}; {}",
                login_hint(&setup)
            ));
            out.code = 1;
            return out;
        }
    };
    if let Some(w) = &state.profile.expiry_warning {
        out.stderr.push(format!("cc-aws-export: {}: profile \"{profile}\": {w}", state.path.display()));
    }
    let Some(creds) = state.creds() else {
        out.code = 1;
        return out;
    };
    if let Some(exp) = creds.expiration {
        let left = exp - ctx.now;
        let auto_window = time::Duration::minutes(setup.config().auto_login_minutes as i64);
        if left <= auto_window.max(time::Duration::ZERO) || left <= time::Duration::ZERO {
            autologin::maybe_start_background(ctx, &setup, &profile);
        }
        if left <= time::Duration::ZERO {
            // Expired keys would only earn a 403; Claude Code then falls back
            // and calls awsAuthRefresh, which is what we want.
            out.stderr.push(format!(
                "cc-aws-export: AWS credentials for profile \"{profile}\" expired {} ({}); {}",
                expiry::relative(ctx.now, exp),
                state.path.display(),
                login_hint(&setup)
            ));
            out.code = 1;
            return out;
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
