//! The SSO paths end to end against the mock: cache hits, silent refresh,
//! login-needed cases, and the role-credential fetch.

use std::time::Instant;

use keepalive_core::ctx::Ctx;
use keepalive_core::expiry;
use keepalive_core::providers::sso::role_cache;
use keepalive_core::providers::sso::{self, RefreshOutcome};
use keepalive_core::{creds::Credentials, secret::Secret};
use serde_json::json;
use test_support::{Fault, Route};
use time::{Duration, OffsetDateTime};

use crate::support::{Fixture, config, is_botocore_timestamp};

fn fresh_role_creds(secret: &str, minutes: i64) -> Credentials {
    Credentials {
        access_key_id: "ASIACACHED0000000001".into(),
        secret_access_key: Secret::new(secret),
        session_token: Some(Secret::new(format!("{secret}-session"))),
        expiration: Some(OffsetDateTime::now_utc() + Duration::minutes(minutes)),
    }
}

#[test]
fn warm_role_cache_makes_no_request() {
    let f = Fixture::new();
    f.write_corp_token(Duration::hours(1));
    let p = f.profile("dev");
    role_cache::write(&f.role_cache_path(&p), &fresh_role_creds("ROLESECRETwarm-0001", 60), &p.account_id).unwrap();
    let c = sso::role_credentials(&f.ctx(), &config(), &p).unwrap();
    assert_eq!(c.access_key_id, "ASIACACHED0000000001");
    assert!(f.mock.requests().is_empty(), "{}", f.mock.dump());
}

#[test]
fn role_creds_with_less_than_ten_minutes_are_refetched() {
    let f = Fixture::new();
    f.write_corp_token(Duration::hours(1));
    let p = f.profile("dev");
    role_cache::write(&f.role_cache_path(&p), &fresh_role_creds("ROLESECRETshort-001", 9), &p.account_id).unwrap();
    let c = sso::role_credentials(&f.ctx(), &config(), &p).unwrap();
    assert_ne!(c.access_key_id, "ASIACACHED0000000001");
    assert_eq!(f.mock.count(Route::RoleCredentials), 1);
    assert_eq!(f.mock.count(Route::Token), 0, "token outside the window: no refresh");
    assert!(c.remaining(OffsetDateTime::now_utc()).unwrap() > Duration::minutes(50));
}

#[test]
fn warm_token_fetches_role_creds_once_and_caches_them_like_the_cli() {
    let f = Fixture::new();
    let token_path = f.write_corp_token(Duration::hours(1));
    let before = std::fs::read(&token_path).unwrap();
    let p = f.profile("dev");
    let c = sso::role_credentials(&f.ctx(), &config(), &p).unwrap();
    assert_eq!(f.mock.count(Route::Token), 0);
    assert_eq!(f.mock.count(Route::RoleCredentials), 1);
    let req = &f.mock.requests()[0];
    assert_eq!(req.bearer_token.as_deref(), Some(f.secrets.access_token.as_str()));
    assert!(req.query.contains("role_name=Admin") && req.query.contains("account_id=111122223333"), "{}", req.query);
    assert_eq!(std::fs::read(&token_path).unwrap(), before, "token cache untouched without a refresh");
    let cache = f.role_cache_path(&p);
    #[cfg(unix)]
    {
        assert_eq!(crate::support::mode(&cache), 0o600);
        assert_eq!(crate::support::mode(cache.parent().unwrap()), 0o700, "cache dir we create is private");
    }
    let v = f.read_json(&cache);
    assert_eq!(v["ProviderType"], "sso");
    assert_eq!(v["Credentials"]["AccessKeyId"], c.access_key_id.as_str());
    assert_eq!(v["Credentials"]["AccountId"], "111122223333");
    assert!(is_botocore_timestamp(v["Credentials"]["Expiration"].as_str().unwrap()), "{v}");
    // Second call: from the cache.
    let again = sso::role_credentials(&f.ctx(), &config(), &p).unwrap();
    assert_eq!(again.access_key_id, c.access_key_id);
    assert_eq!(f.mock.count(Route::RoleCredentials), 1);
}

#[test]
fn token_inside_the_window_is_refreshed_once_and_stored_like_botocore() {
    let f = Fixture::new();
    let token_path = f.write_corp_token(Duration::minutes(5));
    let p = f.profile("dev");
    let c = sso::role_credentials(&f.ctx(), &config(), &p).unwrap();
    assert_eq!(f.mock.count(Route::Token), 1, "{}", f.mock.dump());
    assert_eq!(f.mock.count(Route::RoleCredentials), 1);

    let reqs = f.mock.requests();
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(
        body,
        json!({"clientId": crate::support::CLIENT_ID, "clientSecret": f.secrets.client_secret,
               "grantType": "refresh_token", "refreshToken": f.secrets.refresh_token})
    );
    let new_at = f.mock.issued_access_tokens().pop().unwrap();
    assert_eq!(reqs[1].bearer_token.as_deref(), Some(new_at.as_str()), "portal called with the new token");

    let v = f.read_json(&token_path);
    assert_eq!(v["accessToken"], new_at.as_str());
    let rotated = f.mock.refresh_token().unwrap();
    assert_ne!(rotated, f.secrets.refresh_token);
    assert_eq!(v["refreshToken"], rotated.as_str(), "rotated refresh token stored");
    assert_eq!(v["someFutureField"], json!({"kept": [1, 2, 3]}), "unknown fields kept");
    assert_eq!(v["clientSecret"], f.secrets.client_secret.as_str());
    let exp = v["expiresAt"].as_str().unwrap();
    assert!(is_botocore_timestamp(exp), "{exp}");
    let left = expiry::parse(exp).unwrap() - OffsetDateTime::now_utc();
    assert!(left > Duration::minutes(58) && left <= Duration::minutes(61), "{left}");
    #[cfg(unix)]
    assert_eq!(crate::support::mode(&token_path), 0o600);
    // Written in botocore's one-line json.dumps layout, keeping the file's key order.
    let text = std::fs::read_to_string(&token_path).unwrap();
    assert!(!text.contains('\n') && text.starts_with("{\"accessToken\": \"mockat-"), "{}", &text[..30]);
    assert!(text.contains(&format!("\", \"clientId\": \"{}\", ", crate::support::CLIENT_ID)), "layout");
    assert!(c.session_token.is_some());
    f.assert_no_secret(&format!("{c:?}"), &[c.secret_access_key.expose()]);
}

#[test]
fn expired_token_without_rotation_keeps_the_refresh_token() {
    let f = Fixture::new();
    f.mock.set_rotate_refresh_token(false);
    let token_path = f.write_corp_token(Duration::minutes(-30));
    let out = sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), false).unwrap();
    assert!(matches!(out, RefreshOutcome::Refreshed { .. }), "{out:?}");
    let v = f.read_json(&token_path);
    assert_eq!(v["refreshToken"], f.secrets.refresh_token.as_str());
    assert_eq!(f.mock.count(Route::Token), 1);
}

#[test]
fn refresh_session_only_when_needed_or_forced() {
    let f = Fixture::new();
    f.write_corp_token(Duration::hours(1));
    let p = f.profile("dev");
    let out = sso::refresh_session(&f.ctx(), &config(), &p, false).unwrap();
    assert!(matches!(out, RefreshOutcome::NotNeeded { .. }), "{out:?}");
    assert_eq!(f.mock.count(Route::Token), 0);
    let out = sso::refresh_session(&f.ctx(), &config(), &p, true).unwrap();
    assert!(matches!(out, RefreshOutcome::Refreshed { .. }), "{out:?}");
    assert_eq!(f.mock.count(Route::Token), 1);
    assert!(out.to_string().contains("refreshed"), "{out}");
    // A larger configured window makes the fresh 1-hour token "inside" it.
    let mut cfg = config();
    cfg.sso_refresh_minutes = 90;
    let out = sso::refresh_session(&f.ctx(), &cfg, &p, false).unwrap();
    assert!(matches!(out, RefreshOutcome::Refreshed { .. }), "{out:?}");
    assert_eq!(f.mock.count(Route::Token), 2);
}

fn assert_login_error(f: &Fixture, err: &sso::SsoError, command: &str) -> String {
    let msg = err.to_string();
    assert!(err.needs_login(), "{msg}");
    assert!(msg.contains(command), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    f.assert_no_secret(&msg, &[]);
    f.assert_no_secret(&format!("{err:?}"), &[]);
    msg
}

#[test]
fn expired_registration_needs_login_without_calling_aws() {
    let f = Fixture::new();
    let mut t = f.token_json("https://corp.awsapps.com/start", Duration::minutes(-1));
    t["registrationExpiresAt"] = json!(expiry::to_iso8601(OffsetDateTime::now_utc() - Duration::days(1)));
    let path = f.write_token("corp", &t);
    let before = std::fs::read(&path).unwrap();
    let err = sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap_err();
    let msg = assert_login_error(&f, &err, "aws sso login --sso-session corp");
    assert!(msg.contains("registration expired"), "{msg}");
    assert!(f.mock.requests().is_empty());
    assert_eq!(std::fs::read(&path).unwrap(), before);
    let err = sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), true).unwrap_err();
    assert_login_error(&f, &err, "aws sso login --sso-session corp");
}

#[test]
fn missing_refresh_token_needs_login_once_the_token_expires() {
    let f = Fixture::new();
    let mut t = f.token_json("https://corp.awsapps.com/start", Duration::minutes(-2));
    t.as_object_mut().unwrap().remove("refreshToken");
    f.write_token("corp", &t);
    let err = sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap_err();
    let msg = assert_login_error(&f, &err, "aws sso login --sso-session corp");
    assert!(msg.contains("no refresh token"), "{msg}");
    assert!(f.mock.requests().is_empty());

    // Still valid but inside the window: used as is, no refresh attempted.
    let f = Fixture::new();
    let mut t = f.token_json("https://corp.awsapps.com/start", Duration::minutes(5));
    t.as_object_mut().unwrap().remove("refreshToken");
    f.write_token("corp", &t);
    sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap();
    assert_eq!(f.mock.count(Route::Token), 0);
    assert_eq!(f.mock.count(Route::RoleCredentials), 1);
}

#[test]
fn no_token_cache_needs_login() {
    let f = Fixture::new();
    let err = sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap_err();
    let msg = assert_login_error(&f, &err, "aws sso login --sso-session corp");
    assert!(msg.contains(".aws/sso/cache"), "{msg}");
}

#[test]
fn invalid_grant_needs_login_and_leaves_the_file() {
    let f = Fixture::new();
    f.mock.set_refresh_token("someone-elses-refresh-token");
    let path = f.write_corp_token(Duration::minutes(-1));
    let before = std::fs::read(&path).unwrap();
    let err = sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap_err();
    let msg = assert_login_error(&f, &err, "aws sso login --sso-session corp");
    assert!(msg.contains("invalid_grant"), "{msg}");
    assert_eq!(f.mock.count(Route::Token), 1, "a refused refresh is not retried");
    assert_eq!(std::fs::read(&path).unwrap(), before);

    // Through push_fault too, with a token still valid: refused refresh of a
    // still-valid token → login error as well (the session is dead).
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(-1));
    f.mock.push_fault(Route::Token, Fault::InvalidGrant);
    let err = sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), false).unwrap_err();
    assert_login_error(&f, &err, "aws sso login --sso-session corp");
}

#[test]
fn invalid_client_needs_login() {
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(-1));
    f.mock.push_fault(Route::Token, Fault::Unauthorized);
    let err = sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), false).unwrap_err();
    let msg = assert_login_error(&f, &err, "aws sso login --sso-session corp");
    assert!(msg.contains("invalid_client"), "{msg}");
}

#[test]
fn invalid_grant_after_another_writer_rotated_the_file_is_success() {
    let f = Fixture::new();
    let path = f.write_corp_token(Duration::minutes(-1));
    // Another tool (the AWS CLI) refreshes without our lock while our
    // CreateToken is in flight: the mock then refuses our old refresh token.
    let other_at = "ATOKEN-from-the-other-writer-0001";
    let other_rt = "RTOKEN-from-the-other-writer-0001";
    f.mock.set_refresh_token(other_rt);
    f.mock.add_access_token(other_at, true);
    f.mock.push_fault(Route::Token, Fault::Slow(std::time::Duration::from_millis(1500)));
    let mut rotated = f.token_json("https://corp.awsapps.com/start", Duration::hours(1));
    rotated["accessToken"] = json!(other_at);
    rotated["refreshToken"] = json!(other_rt);
    let text = rotated.to_string();
    // Wait until our request reached the mock, then write as the CLI would.
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    let result = std::thread::scope(|s| {
        let h = s.spawn(|| sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")));
        while f.mock.count(Route::Token) == 0 && Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::fs::write(&path, &text).unwrap();
        h.join().unwrap()
    });
    let c = result.unwrap();
    assert_eq!(f.mock.count(Route::Token), 1);
    assert_eq!(f.mock.count(Route::RoleCredentials), 1);
    let portal = f.mock.requests().into_iter().find(|r| r.route == Route::RoleCredentials).unwrap();
    assert_eq!(portal.bearer_token.as_deref(), Some(other_at));
    assert_eq!(f.read_json(&path)["refreshToken"], other_rt, "the other writer's file is kept");
    f.assert_no_secret(&format!("{c:?}"), &[other_at, other_rt]);
}

#[test]
fn server_error_then_success_is_retried() {
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(-1));
    f.mock.push_fault(Route::Token, Fault::Status(500));
    f.mock.push_fault(Route::RoleCredentials, Fault::Status(503));
    sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap();
    assert_eq!(f.mock.count(Route::Token), 2);
    assert_eq!(f.mock.count(Route::RoleCredentials), 2);
}

#[test]
fn throttling_honours_retry_after() {
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(-1));
    f.mock.push_fault(Route::Token, Fault::Throttle { retry_after_secs: 1 });
    let start = Instant::now();
    sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), false).unwrap();
    assert!(start.elapsed() >= std::time::Duration::from_millis(950), "{:?}", start.elapsed());
    assert_eq!(f.mock.count(Route::Token), 2);

    // A Retry-After beyond the budget: give up at once with the throttling error.
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(-1));
    f.mock.push_fault(Route::Token, Fault::Throttle { retry_after_secs: 60 });
    let start = Instant::now();
    let err = sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), false).unwrap_err();
    assert!(start.elapsed() < std::time::Duration::from_secs(5));
    let msg = err.to_string();
    assert!(msg.contains("429") && msg.contains("ThrottlingException") && !err.needs_login(), "{msg}");
}

#[test]
fn persistent_server_errors_end_after_bounded_retries() {
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(-1));
    f.mock.set_sticky_fault(Route::Token, Some(Fault::Status(500)));
    let start = Instant::now();
    let err = sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), false).unwrap_err();
    assert!(start.elapsed() < std::time::Duration::from_secs(15));
    assert_eq!(f.mock.count(Route::Token), keepalive_core::http::MAX_ATTEMPTS as usize);
    let msg = err.to_string();
    assert!(msg.contains("HTTP 500") && msg.contains(&format!("{}/token", f.mock.url())), "{msg}");
    assert!(!err.needs_login());
}

#[test]
fn slow_endpoint_times_out_within_the_budget_naming_it() {
    let f = Fixture::new();
    let path = f.write_corp_token(Duration::minutes(-1));
    let before = std::fs::read(&path).unwrap();
    f.mock.push_fault(Route::Token, Fault::Slow(std::time::Duration::from_secs(40)));
    let start = Instant::now();
    let err = sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), false).unwrap_err();
    let took = start.elapsed();
    // Ends near the 15 s budget, well before the 40 s the endpoint would take (loose upper bound: a
    // loaded machine adds scheduling delay).
    assert!(took >= std::time::Duration::from_secs(14) && took < std::time::Duration::from_secs(30), "{took:?}");
    let msg = err.to_string();
    assert!(msg.contains("timeout") && msg.contains("SSO-OIDC CreateToken") && msg.contains(&f.mock.url()), "{msg}");
    assert!(!err.needs_login());
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn malformed_json_is_a_clear_error_and_changes_nothing() {
    let f = Fixture::new();
    let path = f.write_corp_token(Duration::minutes(-1));
    let before = std::fs::read(&path).unwrap();
    f.mock.push_fault(Route::Token, Fault::MalformedJson);
    let err = sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), false).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("not a CreateToken result") && msg.contains("not valid JSON") || msg.contains("cut short"),
        "{msg}"
    );
    assert!(!err.needs_login());
    assert_eq!(std::fs::read(&path).unwrap(), before);

    let f = Fixture::new();
    f.write_corp_token(Duration::hours(1));
    f.mock.push_fault(Route::RoleCredentials, Fault::MalformedJson);
    let err = sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("GetRoleCredentials") && msg.contains("not role credentials"), "{msg}");
}

#[test]
fn truncated_body_is_retried_then_reported() {
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(-1));
    f.mock.push_fault(Route::Token, Fault::Truncated);
    sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), false).unwrap();
    assert_eq!(f.mock.count(Route::Token), 2);

    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(-1));
    f.mock.set_sticky_fault(Route::Token, Some(Fault::Truncated));
    let err = sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), false).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("cut short") && msg.contains("CreateToken"), "{msg}");

    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(-1));
    f.mock.set_sticky_fault(Route::Token, Some(Fault::CloseConnection));
    let err = sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), false).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("CreateToken") && !msg.contains('\n'), "{msg}");
}

#[test]
fn connection_refused_names_the_endpoint() {
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(-1));
    let port = crate::support::closed_port();
    let mut env = f.env();
    env.set("AWS_ENDPOINT_URL_SSO_OIDC", &format!("http://127.0.0.1:{port}"));
    let ctx = Ctx::new(env, OffsetDateTime::now_utc());
    let start = Instant::now();
    let err = sso::refresh_session(&ctx, &config(), &f.profile("dev"), false).unwrap_err();
    assert!(start.elapsed() < std::time::Duration::from_secs(8), "{:?}", start.elapsed());
    let msg = err.to_string();
    assert!(msg.contains("connection refused") && msg.contains(&format!("127.0.0.1:{port}/token")), "{msg}");
}

#[test]
fn tls_and_endpoint_configuration_errors() {
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(-1));
    let p = f.profile("dev");
    // A server that answers a TLS handshake with plain HTTP, as a
    // misconfigured endpoint or an intercepting box might.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        // Bounded: at most MAX_ATTEMPTS connections are served.
        for _ in 0..keepalive_core::http::MAX_ATTEMPTS {
            let Ok((mut s, _)) = listener.accept() else { break };
            let mut buf = [0u8; 512];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let mut env = f.env();
    env.set("AWS_ENDPOINT_URL_SSO_OIDC", &format!("https://127.0.0.1:{port}"));
    let err = sso::refresh_session(&Ctx::new(env, OffsetDateTime::now_utc()), &config(), &p, false).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("TLS") && msg.contains("AWS_CA_BUNDLE") && msg.contains(&port.to_string()), "{msg}");
    drop(server);

    let mut env = f.env();
    env.set("AWS_ENDPOINT_URL_SSO_OIDC", "http://oidc.example.com");
    let err = sso::refresh_session(&Ctx::new(env, OffsetDateTime::now_utc()), &config(), &p, false).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("AWS_ENDPOINT_URL_SSO_OIDC") && msg.contains("loopback"), "{msg}");

    // A proxy that refuses connections, for the real (https) endpoint.
    let mut env = f.env();
    env.set("AWS_ENDPOINT_URL_SSO_OIDC", "");
    env.set("HTTPS_PROXY", &format!("http://user:pw@127.0.0.1:{}", crate::support::closed_port()));
    let err = sso::refresh_session(&Ctx::new(env, OffsetDateTime::now_utc()), &config(), &p, false).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("proxy") && msg.contains("HTTPS_PROXY") && msg.contains("oidc.eu-central-1.amazonaws.com"),
        "{msg}"
    );
    assert!(!msg.contains("pw@"), "{msg}");
    assert_eq!(f.mock.count(Route::Token), 0);
}

#[test]
fn portal_401_forces_one_refresh_then_succeeds() {
    let f = Fixture::new();
    f.write_corp_token(Duration::hours(1));
    f.mock.push_fault(Route::RoleCredentials, Fault::Unauthorized);
    let c = sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap();
    assert_eq!(f.mock.count(Route::Token), 1);
    assert_eq!(f.mock.count(Route::RoleCredentials), 2);
    let issued = f.mock.issued_access_tokens();
    let last = f.mock.requests().into_iter().rfind(|r| r.route == Route::RoleCredentials).unwrap();
    assert_eq!(last.bearer_token.as_deref(), Some(issued[0].as_str()));
    assert!(c.expiration.is_some());

    // Revoked server-side: the forced refresh works but the portal still refuses.
    let f = Fixture::new();
    f.write_corp_token(Duration::hours(1));
    f.mock.set_sticky_fault(Route::RoleCredentials, Some(Fault::Unauthorized));
    let err = sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap_err();
    assert_login_error(&f, &err, "aws sso login --sso-session corp");
    assert_eq!(f.mock.count(Route::Token), 1);
    assert_eq!(f.mock.count(Route::RoleCredentials), 2);

    // No refresh token: nothing to force, straight to the login error.
    let f = Fixture::new();
    let mut t = f.token_json("https://corp.awsapps.com/start", Duration::hours(1));
    t.as_object_mut().unwrap().remove("refreshToken");
    f.write_token("corp", &t);
    f.mock.push_fault(Route::RoleCredentials, Fault::Unauthorized);
    let err = sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap_err();
    let msg = assert_login_error(&f, &err, "aws sso login --sso-session corp");
    assert!(msg.contains("refused the access token"), "{msg}");
    assert_eq!(f.mock.count(Route::Token), 0);
}

#[test]
fn legacy_profile_uses_start_url_keys_and_profile_login() {
    let f = Fixture::new();
    let start_url = "https://legacy.awsapps.com/start";
    let t = f.token_json(start_url, Duration::minutes(3));
    let path = f.write_token(start_url, &t);
    assert!(path.ends_with(".aws/sso/cache/79e435d7a515078e81c9dffc35f38d5687ebd3a7.json"));
    let p = f.profile("legacy");
    assert_eq!(p.session, None);
    assert_eq!(sso::login_command(&p), "aws sso login --profile legacy");
    let c = sso::role_credentials(&f.ctx(), &config(), &p).unwrap();
    assert_eq!(f.mock.count(Route::Token), 1);
    assert_eq!(f.read_json(&path)["accessToken"], f.mock.issued_access_tokens()[0].as_str());
    let key = role_cache::cache_key("444455556666", "ReadOnly", role_cache::SessionRef::StartUrl(start_url));
    let v = f.read_json(&f.home.join(format!(".aws/cli/cache/{key}.json")));
    assert_eq!(v["Credentials"]["AccessKeyId"], c.access_key_id.as_str());

    // And the login error names the profile.
    let f = Fixture::new();
    let err = sso::role_credentials(&f.ctx(), &config(), &f.profile("legacy")).unwrap_err();
    assert_login_error(&f, &err, "aws sso login --profile legacy");
}

#[test]
fn offset_and_utc_timestamps_are_read() {
    // "+00:00", outside the window: used without refresh.
    let f = Fixture::new();
    let mut t = f.token_json("https://corp.awsapps.com/start", Duration::hours(1));
    let exp = expiry::parse(t["expiresAt"].as_str().unwrap()).unwrap();
    t["expiresAt"] = json!(expiry::to_iso8601(exp).replace('Z', "+00:00"));
    f.write_token("corp", &t);
    sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap();
    assert_eq!(f.mock.count(Route::Token), 0);
    let st = sso::session_status(&f.ctx(), &config(), &f.profile("dev")).unwrap();
    assert_eq!(st.access_token_expires_at, Some(exp.replace_nanosecond(0).unwrap()));

    // "UTC" (older CLIs), inside the window: refreshed, then written with "Z".
    let f = Fixture::new();
    let mut t = f.token_json("https://corp.awsapps.com/start", Duration::minutes(4));
    for k in ["expiresAt", "registrationExpiresAt"] {
        let v = t[k].as_str().unwrap().replace('Z', "UTC");
        t[k] = json!(v);
    }
    let path = f.write_token("corp", &t);
    sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap();
    assert_eq!(f.mock.count(Route::Token), 1);
    let v = f.read_json(&path);
    assert!(is_botocore_timestamp(v["expiresAt"].as_str().unwrap()));
    assert!(v["registrationExpiresAt"].as_str().unwrap().ends_with("UTC"), "untouched fields keep their form");
}

#[test]
fn corrupt_token_cache_is_a_clear_error_and_untouched() {
    for (tag, content) in [
        (
            "truncated",
            "{\"startUrl\": \"https://corp.awsapps.com/start\", \"accessToken\": \"ATOKENcut-off-mid-wa".to_string(),
        ),
        ("empty", String::new()),
        ("garbage", "\u{0}\u{1}binary junk ATOKENgarbage-secret".to_string()),
        ("array", "[\"ATOKENin-an-array-0001\"]".to_string()),
        ("badtime", "{\"accessToken\": \"ATOKENbadtime-0001\", \"expiresAt\": \"next tuesday\"}".to_string()),
    ] {
        let f = Fixture::new();
        let path = f.token_path("corp");
        f.home.write(path.strip_prefix(f.home.path()).unwrap(), &content);
        for err in [
            sso::role_credentials(&f.ctx(), &config(), &f.profile("dev")).unwrap_err(),
            sso::refresh_session(&f.ctx(), &config(), &f.profile("dev"), true).unwrap_err(),
            sso::session_status(&f.ctx(), &config(), &f.profile("dev")).unwrap_err(),
        ] {
            let msg = err.to_string();
            assert!(msg.contains(&path.display().to_string()), "{tag}: {msg}");
            assert!(msg.contains("aws sso login --sso-session corp") && err.needs_login(), "{tag}: {msg}");
            assert!(!msg.contains("ATOKEN") && !format!("{err:?}").contains("ATOKEN"), "{tag}: {msg}");
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), content, "{tag}: file untouched");
        assert!(f.mock.requests().is_empty(), "{tag}");
    }
}

#[test]
fn session_status_reports_without_network() {
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(10));
    let p = f.profile("dev");
    let ctx = f.ctx();
    let st = sso::session_status(&ctx, &config(), &p).unwrap();
    assert!(st.token_found && st.refresh_token_present && st.silent_refresh_possible);
    assert!(st.access_token_valid(ctx.now));
    assert!(st.needs_refresh(ctx.now, Duration::minutes(15)));
    assert!(!st.needs_refresh(ctx.now, Duration::minutes(5)));
    assert_eq!(st.login_command, "aws sso login --sso-session corp");
    assert_eq!(st.session_label, "sso-session corp");
    assert_eq!(st.role_credentials_expire_at, None);
    assert!(st.login_needed_at() - ctx.now > Duration::days(79));
    assert_eq!(st.silent_refresh_until(), st.registration_expires_at);
    assert!(f.mock.requests().is_empty());

    sso::role_credentials(&ctx, &config(), &p).unwrap();
    let st = sso::session_status(&f.ctx(), &config(), &p).unwrap();
    assert!(st.role_credentials_fresh(ctx.now));
    assert!(!st.needs_refresh(ctx.now, Duration::minutes(15)), "refreshed on the way");
    f.assert_no_secret(&format!("{st:?}"), &[]);

    let f = Fixture::new();
    let st = sso::session_status(&f.ctx(), &config(), &f.profile("dev")).unwrap();
    assert!(!st.token_found && !st.silent_refresh_possible);
    assert_eq!(st.login_needed_at(), st.checked_at);
}

#[test]
fn the_resolver_classifies_profiles_in_the_test_home() {
    use keepalive_core::config::{Choice, Config};
    use keepalive_core::providers::Base;
    use keepalive_core::providers::resolve::{AwsFiles, resolve_in};
    let f = Fixture::new();
    let resolve = |name: &str| {
        let ctx = f.ctx();
        let files = AwsFiles::read(&ctx.env).unwrap();
        resolve_in(&ctx.env, &Config::default(), &files, name, Choice::Explicit("test"))
    };
    assert!(matches!(resolve("dev").unwrap().base, Base::Sso(p) if p.session.as_deref() == Some("corp")));
    assert!(resolve("nope").unwrap_err().is_missing());
    f.home.write(
        ".aws/config",
        format!(
            "{}\n[profile broken]\nsso_session = corp\nsso_account_id = 1\n\
             [profile proc]\ncredential_process = my-tool creds\n[profile keys]\ncredential_process = other\n",
            crate::support::aws_config()
        ),
    );
    // botocore prefers credentials-file keys over credential_process.
    f.home.write(".aws/credentials", "[keys]\naws_access_key_id = AKIAX\naws_secret_access_key = S\n");
    assert!(matches!(resolve("proc").unwrap().base, Base::Process { command, .. } if command == "my-tool creds"));
    assert!(matches!(resolve("keys").unwrap().base, Base::Keys(_)));
    let e = resolve("broken").unwrap_err().to_string();
    assert!(e.contains("sso_role_name") && e.contains(".aws/config") && e.contains("\"broken\""), "{e}");
}

#[test]
fn nothing_secret_in_errors_or_debug() {
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(-1));
    let p = f.profile("dev");
    let mut texts = vec![format!("{p:?}")];
    for fault in
        [Fault::InvalidGrant, Fault::Unauthorized, Fault::MalformedJson, Fault::Status(400), Fault::Status(403)]
    {
        f.mock.push_fault(Route::Token, fault);
        let e = sso::refresh_session(&f.ctx(), &config(), &p, false).unwrap_err();
        texts.push(e.to_string());
        texts.push(format!("{e:?}"));
    }
    let c = sso::role_credentials(&f.ctx(), &config(), &p).unwrap();
    texts.push(format!("{c:?}"));
    for fault in [Fault::Unauthorized, Fault::MalformedJson, Fault::Status(400)] {
        f.mock.set_sticky_fault(Route::RoleCredentials, Some(fault));
        std::fs::remove_file(f.role_cache_path(&p)).ok();
        if let Err(e) = sso::role_credentials(&f.ctx(), &config(), &p) {
            texts.push(e.to_string());
            texts.push(format!("{e:?}"));
        }
    }
    let st = sso::session_status(&f.ctx(), &config(), &p).unwrap();
    texts.push(format!("{st:?}"));
    let token = keepalive_core::providers::sso::cache::read(&f.token_path("corp")).unwrap().unwrap();
    texts.push(format!("{token:?}"));
    let all = texts.join("\n");
    f.assert_no_secret(&all, &[c.secret_access_key.expose(), c.session_token.as_ref().unwrap().expose()]);
    // The log holds events, never secrets.
    let log = f.home.try_read(".local/state/cc-aws-keepalive/keepalive.log").unwrap_or_default();
    assert!(log.contains("refreshed SSO token"), "{log}");
    f.assert_no_secret(&log, &[c.secret_access_key.expose(), c.session_token.as_ref().unwrap().expose()]);
}

#[test]
fn test_support_token_path_is_botocore_cache_key() {
    for key in ["corp", "https://legacy.awsapps.com/start"] {
        let want = format!(".aws/sso/cache/{}.json", keepalive_core::providers::sso::cache::cache_key(key));
        assert_eq!(test_support::sso::token_rel(key), want);
    }
    assert_eq!(test_support::SsoConfig::CORP.token_rel(), test_support::sso::token_rel("corp"));
}
