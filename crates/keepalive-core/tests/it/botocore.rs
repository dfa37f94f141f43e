//! Compatibility with botocore (the AWS CLI's engine) through the shared caches,
//! both tools pointed at the same mock. python3 with botocore is required:
//! these tests fail, never skip, without it.

use keepalive_core::providers::sso::{self, RefreshOutcome};
use test_support::Route;
use time::Duration;

use crate::support::{Fixture, botocore, config, sha1};

/// Loads the token the way botocore's SSO token provider does (refreshing
/// it when inside botocore's 15-minute window) and prints a digest of it.
const LOAD_TOKEN: &str = r#"
import hashlib, botocore.session, botocore.tokens
s = botocore.session.Session(profile="dev")
tok = botocore.tokens.SSOTokenProvider(s).load_token().get_frozen_token()
print("TOKEN", hashlib.sha1(tok.token.encode()).hexdigest())
"#;

/// Gets role credentials the way the AWS CLI does: botocore's SSO provider
/// with the CLI's JSON file cache in ~/.aws/cli/cache.
const LOAD_CREDS: &str = r#"
import os, botocore.session
from botocore.utils import JSONFileCache
s = botocore.session.Session(profile="dev")
s.get_component("credential_provider").get_provider("sso").cache = JSONFileCache(
    os.path.expanduser(os.path.join("~", ".aws", "cli", "cache")))
c = s.get_credentials().get_frozen_credentials()
print("KEY", c.access_key)
"#;

/// Runs `script` with botocore, its SSO endpoints at the mock.
fn python(f: &Fixture, script: &str) -> String {
    botocore(&f.home, &f.mock, &["AWS_ENDPOINT_URL_SSO_OIDC", "AWS_ENDPOINT_URL_SSO"], &[script])
}

#[test]
fn we_refresh_a_token_botocore_refreshed() {
    let f = Fixture::new();
    // botocore refreshes inside its window; its new token lives 10 minutes,
    // so it is inside ours (15) too.
    f.mock.set_token_expires_in(600);
    let path = f.write_corp_token(Duration::minutes(5));
    let out = python(&f, LOAD_TOKEN);
    assert_eq!(f.mock.count(Route::Token), 1, "botocore refreshed: {out}");
    let by_botocore = f.read_json(&path);
    let botocore_at = f.mock.issued_access_tokens()[0].clone();
    assert_eq!(by_botocore["accessToken"], botocore_at.as_str());
    assert!(out.contains(&sha1(&botocore_at)), "{out}");
    assert!(by_botocore.get("someFutureField").is_none(), "botocore drops unknown fields");

    f.mock.set_token_expires_in(3600);
    let outcome = sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), false).unwrap();
    assert!(matches!(outcome, RefreshOutcome::Refreshed { .. }), "{outcome:?}");
    // The mock accepts only the latest refresh token: success proves we used
    // the one botocore stored.
    assert_eq!(f.mock.count(Route::Token), 2, "{}", f.mock.dump());
    let v = f.read_json(&path);
    assert_eq!(v["accessToken"], f.mock.issued_access_tokens()[1].as_str());
    assert_eq!(v["refreshToken"], f.mock.refresh_token().unwrap().as_str());
}

#[test]
fn botocore_uses_the_token_we_refreshed_without_refreshing() {
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(5));
    sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), false).unwrap();
    assert_eq!(f.mock.count(Route::Token), 1);
    let ours = f.mock.issued_access_tokens()[0].clone();
    let out = python(&f, LOAD_TOKEN);
    assert_eq!(f.mock.count(Route::Token), 1, "botocore must not refresh again: {}", f.mock.dump());
    assert!(out.contains(&sha1(&ours)), "{out}");
}

#[test]
fn botocore_picks_up_role_credentials_we_cached() {
    let f = Fixture::new();
    f.write_corp_token(Duration::hours(1));
    let c = sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap();
    assert_eq!(f.mock.count(Route::RoleCredentials), 1);
    let out = python(&f, LOAD_CREDS);
    assert!(out.contains(&format!("KEY {}", c.access_key_id)), "{out}");
    assert_eq!(f.mock.count(Route::RoleCredentials), 1, "botocore used our cache: {}", f.mock.dump());
    assert_eq!(f.mock.count(Route::Token), 0);
}

#[test]
fn we_pick_up_role_credentials_botocore_cached() {
    let f = Fixture::new();
    f.write_corp_token(Duration::hours(1));
    let out = python(&f, LOAD_CREDS);
    assert_eq!(f.mock.count(Route::RoleCredentials), 1, "{out}");
    let key = f.mock.issued_role_keys()[0].clone();
    assert!(out.contains(&format!("KEY {key}")), "{out}");
    let c = sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap();
    assert_eq!(c.access_key_id, key);
    assert_eq!(f.mock.count(Route::RoleCredentials), 1, "no portal call: {}", f.mock.dump());
    // The status reads the same file.
    let st = sso::session_status(&f.ctx(), &config(), &f.profile("dev")).unwrap();
    assert!(st.role_credentials_fresh(f.ctx().now));
}
