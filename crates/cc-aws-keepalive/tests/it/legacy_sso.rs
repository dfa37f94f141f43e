//! A legacy SSO profile (the start URL in the profile, no `sso_session`), for both test binaries
//! of this package: `it` and `hooks` (which includes this file with `#[path]`).

use test_support::TestHome;

/// The start URL of [`legacy_home`]'s profile.
const LEGACY_START_URL: &str = "https://legacy.awsapps.com/start";

/// Profile `dev`, legacy SSO, used by the hooks (our config names it), its cached token as
/// `aws sso login --profile dev` leaves it (no refresh token, no client registration):
/// `access_token`, expiring at `expires`.
pub fn legacy_home(access_token: &str, expires: &str) -> TestHome {
    let home = TestHome::new();
    home.write(
        ".aws/config",
        format!(
            "[profile dev]\nsso_start_url = {LEGACY_START_URL}\nsso_region = us-east-1\nsso_account_id = 111122223333\n\
             sso_role_name = Admin\nregion = us-east-1\n"
        ),
    );
    let token = serde_json::json!({
        "startUrl": LEGACY_START_URL, "region": "us-east-1", "accessToken": access_token, "expiresAt": expires
    });
    home.write(test_support::sso::token_rel(LEGACY_START_URL), token.to_string());
    home.write(".config/cc-aws-keepalive/config.json", r#"{"profile":"dev"}"#);
    home
}
