//! The IAM Identity Center fixture the tests share: `~/.aws/config` with a profile `dev` on an
//! sso-session, and the token cache file as `aws sso login` leaves it.

use serde_json::{Value, json};

/// A profile `dev` on one `[sso-session]`: the values that go into `~/.aws/config` and into
/// the session's token cache file.
#[derive(Debug, Clone, Copy)]
pub struct SsoConfig<'a> {
    pub session: &'a str,
    pub start_url: &'a str,
    pub sso_region: &'a str,
    pub account_id: &'a str,
    pub role_name: &'a str,
    /// The profile's `region`.
    pub region: &'a str,
}

impl SsoConfig<'static> {
    /// Session `corp` in eu-central-1, role `Admin` in account 111122223333, profile region us-east-1.
    pub const CORP: SsoConfig<'static> = SsoConfig {
        session: "corp",
        start_url: "https://corp.awsapps.com/start",
        sso_region: "eu-central-1",
        account_id: "111122223333",
        role_name: "Admin",
        region: "us-east-1",
    };
}

impl SsoConfig<'_> {
    /// The `[profile dev]` and `[sso-session …]` sections, each ending in a newline, separated
    /// by an empty line.
    pub fn config_text(&self) -> String {
        let SsoConfig { session, start_url, sso_region, account_id, role_name, region } = self;
        format!(
            "[profile dev]\nsso_session = {session}\nsso_account_id = {account_id}\nsso_role_name = {role_name}\n\
             region = {region}\n\n\
             [sso-session {session}]\nsso_start_url = {start_url}\nsso_region = {sso_region}\n\
             sso_registration_scopes = sso:account:access\n"
        )
    }

    /// The session's token cache file, relative to HOME.
    pub fn token_rel(&self) -> String {
        token_rel(self.session)
    }

    /// The token cache as `aws sso login` leaves it (startUrl and region from `self`); without
    /// `refreshToken` when `refresh_token` is `None`. Timestamps are taken as given.
    pub fn token_json(
        &self,
        client: (&str, &str),
        access_token: &str,
        refresh_token: Option<&str>,
        expires_at: &str,
        registration_expires_at: &str,
    ) -> Value {
        let (client_id, client_secret) = client;
        let mut v = json!({
            "startUrl": self.start_url,
            "region": self.sso_region,
            "accessToken": access_token,
            "expiresAt": expires_at,
            "clientId": client_id,
            "clientSecret": client_secret,
            "registrationExpiresAt": registration_expires_at,
        });
        if let Some(r) = refresh_token {
            v["refreshToken"] = json!(r);
        }
        v
    }
}

/// botocore's token cache file for an sso-session name or a legacy start URL, relative to HOME:
/// `.aws/sso/cache/<sha1 hex>.json` (the same key as `keepalive_core::providers::sso::cache::cache_key`).
pub fn token_rel(session_or_start_url: &str) -> String {
    format!(".aws/sso/cache/{}.json", sha1_smol::Sha1::from(session_or_start_url).digest())
}
