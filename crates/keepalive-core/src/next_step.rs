//! What a person must do when nothing silent helps: the one place that decides which login
//! command a message, a notification or `status` shows, and what a legacy SSO profile's real
//! fix is. Hooks, the daemon, `refresh`, `status` and `doctor` all ask here.
//!
//! The rules: a configured `loginCmd` wins (it is what the user runs to log in); else the
//! source's own browser login (`aws sso login …`, `aws login …`); keys in a file or the
//! environment name the tool that wrote them. A legacy SSO profile (start URL inline, no
//! `sso_session`) gets no refresh token from the AWS CLI, so another `aws sso login` only buys
//! another non-refreshable token: its fix is converting it to an `[sso-session]`.

use std::path::Path;

use crate::config::Config;
use crate::providers::exec::HumanStep;
use crate::providers::sso::{self, SsoProfile};
use crate::providers::{Base, Chain, login};

/// The scope that gives the AWS CLI a refresh token.
pub const REFRESH_SCOPE: &str = "sso:account:access";

/// The command that logs `base` in again, when one is known: `loginCmd`, else the source's
/// browser login. `None` for sources no login command renews (keys a tool wrote, the
/// environment, `credential_process`, web identity) unless `loginCmd` is set.
pub fn login_command(config: &Config, base: &Base) -> Option<String> {
    if !config.login_cmd.is_empty() {
        return Some(config.login_cmd.clone());
    }
    match base {
        Base::Sso(p) => Some(sso::login_command(p)),
        Base::Login(p) => Some(login::login_command(p)),
        Base::Keys(_) | Base::Env(_) | Base::Process { .. } | Base::WebIdentity(_) => None,
    }
}

/// The command that logs an SSO session in again (`loginCmd`, else `aws sso login …`).
pub fn sso_login_command(config: &Config, p: &SsoProfile) -> String {
    if config.login_cmd.is_empty() { sso::login_command(p) } else { config.login_cmd.clone() }
}

/// Whether `p` is a legacy SSO profile (no `sso_session`).
pub fn is_legacy(p: &SsoProfile) -> bool {
    p.session.is_none()
}

/// Why a legacy SSO profile keeps needing the browser, and its fix, for messages that name the
/// login command already.
pub fn legacy_note(p: &SsoProfile) -> String {
    format!(
        "profile \"{}\" is a legacy SSO profile (sso_start_url in the profile, no sso_session), which never gets a refresh token: convert it to an [sso-session] (`cc-aws-keepalive doctor` shows how) so it can be refreshed silently",
        p.profile
    )
}

/// The fix for a legacy SSO profile and what to run meanwhile, for one-line messages.
pub fn legacy_advice(config: &Config, p: &SsoProfile) -> String {
    format!("{}; until then run `{}`", legacy_note(p), sso_login_command(config, p))
}

/// The full conversion of a legacy SSO profile, step by step (`doctor`).
pub fn legacy_conversion(p: &SsoProfile) -> String {
    format!(
        "convert it to an [sso-session]: add `[sso-session NAME]` with sso_start_url = {}, sso_region = {} and sso_registration_scopes = {REFRESH_SCOPE}; in [profile {}] replace sso_start_url/sso_region with `sso_session = NAME`; then run `aws sso login --sso-session NAME` (or run `aws configure sso` and answer with a session name)",
        p.start_url, p.sso_region, p.profile
    )
}

/// What to do about `step` for a profile resolved to `chain` (or not resolvable: `None`), as
/// the end of a sentence ("run `aws sso login --sso-session corp`"). `config_path` is where
/// config.json lives, to say where `loginCmd` goes when nothing better is known.
pub fn advice(config: &Config, config_path: Option<&Path>, chain: Option<&Chain>, step: HumanStep) -> String {
    if let Some(known) = chain.and_then(|c| known(config, c, step)) {
        return known;
    }
    match config.login_cmd.as_str() {
        "" => {
            let where_ = config_path.map(|p| p.display().to_string()).unwrap_or_else(|| "config.json".into());
            format!(
                "log in again with your AWS login tool (set \"loginCmd\" in {where_} to see the exact command here)"
            )
        }
        cmd => format!("run `{cmd}`"),
    }
}

/// Like [`advice`], but `None` where no specific step is known for this chain (a
/// `credential_process` helper or web identity token to repair, keys whose tool is unknown).
pub fn known(config: &Config, chain: &Chain, step: HumanStep) -> Option<String> {
    match step {
        HumanStep::Mfa => {
            let profile = chain.profile.as_deref().unwrap_or("default");
            Some(format!("run `cc-aws-keepalive refresh --profile {profile}` in a terminal and enter your MFA code"))
        }
        HumanStep::Login | HumanStep::None => match &chain.base {
            Base::Sso(p) if is_legacy(p) => Some(legacy_advice(config, p)),
            Base::Env(_) if config.login_cmd.is_empty() => {
                Some("renew the keys in your environment and restart Claude Code from that shell".into())
            }
            base => login_command(config, base).map(|cmd| format!("run `{cmd}`")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn sso_profile(session: Option<&str>) -> SsoProfile {
        SsoProfile {
            profile: "dev".into(),
            session: session.map(str::to_string),
            start_url: "https://corp.awsapps.com/start".into(),
            sso_region: "eu-west-1".into(),
            account_id: "1".into(),
            role_name: "R".into(),
            region: None,
            registration_scopes: None,
            config_path: PathBuf::from("/c"),
        }
    }

    fn chain(base: Base) -> Chain {
        Chain { profile: Some("dev".into()), base, roles: Vec::new() }
    }

    #[test]
    fn login_cmd_wins_then_the_source_decides() {
        let plain = Config::default();
        let own = Config { login_cmd: "saml2aws login".into(), ..Config::default() };
        let sso = chain(Base::Sso(sso_profile(Some("corp"))));
        assert_eq!(advice(&plain, None, Some(&sso), HumanStep::Login), "run `aws sso login --sso-session corp`");
        assert_eq!(advice(&own, None, Some(&sso), HumanStep::Login), "run `saml2aws login`");
        let path = PathBuf::from("/x/config.json");
        let a = advice(&plain, Some(&path), None, HumanStep::Login);
        assert!(a.contains("your AWS login tool") && a.contains("/x/config.json"), "{a}");
        let mfa = advice(&plain, None, Some(&sso), HumanStep::Mfa);
        assert!(mfa.contains("cc-aws-keepalive refresh --profile dev"), "{mfa}");
    }

    #[test]
    fn legacy_profiles_are_told_to_convert() {
        let legacy = chain(Base::Sso(sso_profile(None)));
        let a = advice(&Config::default(), None, Some(&legacy), HumanStep::Login);
        assert!(a.contains("convert it to an [sso-session]"), "{a}");
        assert!(a.contains("aws sso login --profile dev"), "{a}");
        assert!(legacy_conversion(&sso_profile(None)).contains("sso_session = NAME"));
    }
}
