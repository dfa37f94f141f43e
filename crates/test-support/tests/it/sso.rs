//! SSO-OIDC CreateToken and SSO portal GetRoleCredentials: rotation, refusals, expiry, and role
//! credentials that then work (and expire) at Bedrock.

use serde_json::json;
use test_support::client::{Creds, HttpResponse, send};
use test_support::{MockAws, Route};

use crate::INVOKE_BODY;
use crate::post_signed;

const CLIENT_ID: &str = "mock-client-id";
const CLIENT_SECRET: &str = "mock-client-secret";

fn sso_mock() -> MockAws {
    let mock = MockAws::start();
    mock.set_oidc_client(CLIENT_ID, CLIENT_SECRET);
    mock.set_refresh_token("rt-0");
    mock
}

fn create_token(mock: &MockAws, client_secret: &str, refresh: &str) -> HttpResponse {
    let body = json!({
        "clientId": CLIENT_ID,
        "clientSecret": client_secret,
        "grantType": "refresh_token",
        "refreshToken": refresh,
    });
    send(&mock.url(), "POST", "/token", &[("content-type", "application/json")], body.to_string().as_bytes()).unwrap()
}

fn role_credentials(mock: &MockAws, token: Option<&str>) -> HttpResponse {
    let headers: Vec<(&str, &str)> = token.map(|t| vec![("x-amz-sso_bearer_token", t)]).unwrap_or_default();
    send(&mock.url(), "GET", "/federation/credentials?role_name=MockRole&account_id=123456789012", &headers, b"")
        .unwrap()
}

fn invoke_with(mock: &MockAws, rc: &serde_json::Value) -> HttpResponse {
    post_signed(
        &mock.url(),
        "/model/m/invoke",
        INVOKE_BODY.as_bytes(),
        "bedrock",
        Creds {
            access_key_id: rc["accessKeyId"].as_str().unwrap(),
            secret_access_key: rc["secretAccessKey"].as_str().unwrap(),
            session_token: rc["sessionToken"].as_str(),
        },
    )
    .unwrap()
}

#[test]
fn refresh_token_rotates_and_access_token_reaches_bedrock() {
    let mock = sso_mock();
    let r = create_token(&mock, CLIENT_SECRET, "rt-0");
    assert_eq!(r.status, 200, "{}", r.text());
    let tok = r.json();
    assert_eq!(tok["tokenType"], "Bearer");
    assert_eq!(tok["expiresIn"], 3600);
    let access = tok["accessToken"].as_str().unwrap().to_string();
    let rotated = tok["refreshToken"].as_str().unwrap().to_string();
    assert_ne!(rotated, "rt-0");
    assert_eq!(mock.refresh_token().as_deref(), Some(rotated.as_str()));
    assert_eq!(mock.issued_access_tokens(), std::slice::from_ref(&access));

    // The old refresh token is dead now; the rotated one works once more.
    let r = create_token(&mock, CLIENT_SECRET, "rt-0");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");
    let r = create_token(&mock, CLIENT_SECRET, &rotated);
    assert_eq!(r.status, 200);
    assert_ne!(r.json()["accessToken"].as_str().unwrap(), access);

    let r = role_credentials(&mock, Some(&access));
    assert_eq!(r.status, 200, "{}", r.text());
    let rc = r.json()["roleCredentials"].clone();
    let akid = rc["accessKeyId"].as_str().unwrap();
    assert!(akid.starts_with("ASIA") && akid.len() == 20, "{akid}");
    let expiration = rc["expiration"].as_u64().unwrap();
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    assert!(expiration > now_ms + 3_500_000 && expiration < now_ms + 3_700_000);
    assert_eq!(mock.issued_role_keys(), [akid.to_string()]);

    let r = invoke_with(&mock, &rc);
    assert_eq!(r.status, 200, "{}", r.text());
    let last = mock.requests().pop().unwrap();
    assert!(last.signed_ok_by(akid));

    let portal = mock.requests().into_iter().find(|r| r.route == Route::RoleCredentials).unwrap();
    assert_eq!(portal.bearer_token.as_deref(), Some(access.as_str()));
    assert_eq!(portal.status, Some(200));
}

#[test]
fn without_rotation_the_refresh_token_stays() {
    let mock = sso_mock();
    mock.set_rotate_refresh_token(false);
    for _ in 0..2 {
        let r = create_token(&mock, CLIENT_SECRET, "rt-0");
        assert_eq!(r.status, 200);
        assert!(r.json().get("refreshToken").is_none(), "{}", r.text());
    }
    assert_eq!(mock.issued_access_tokens().len(), 2);
    assert!(mock.issued_refresh_tokens().is_empty());
}

#[test]
fn bad_client_and_bad_grant_are_refused() {
    let mock = sso_mock();
    let r = create_token(&mock, "wrong", "rt-0");
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"], "invalid_client");
    let r = create_token(&mock, CLIENT_SECRET, "rt-unknown");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");
    assert!(r.json()["error_description"].is_string());
    let r = send(&mock.url(), "POST", "/token", &[], b"not json").unwrap();
    assert_eq!(r.status, 400);
    // Nothing was issued and the accepted refresh token did not move.
    assert!(mock.issued_access_tokens().is_empty());
    assert_eq!(mock.refresh_token().as_deref(), Some("rt-0"));
    let errors: Vec<Option<String>> = mock.requests().into_iter().map(|r| r.error).collect();
    assert_eq!(
        errors,
        [
            Some("InvalidClientException".to_string()),
            Some("InvalidGrantException".to_string()),
            Some("InvalidRequestException".to_string())
        ]
    );
}

#[test]
fn portal_refuses_unknown_invalid_and_expired_tokens() {
    let mock = sso_mock();
    mock.add_access_token("seeded-ok", true);
    mock.add_access_token("seeded-bad", false);
    assert_eq!(role_credentials(&mock, Some("seeded-ok")).status, 200);
    for token in [Some("seeded-bad"), Some("never-issued"), None] {
        let r = role_credentials(&mock, token);
        assert_eq!(r.status, 401, "{token:?}");
        assert_eq!(r.header("x-amzn-errortype"), Some("UnauthorizedException"));
        assert_eq!(r.json()["message"], "Session token not found or invalid");
    }
    mock.set_access_token_valid("seeded-ok", false);
    assert_eq!(role_credentials(&mock, Some("seeded-ok")).status, 401);

    // An access token issued with expiresIn 0 is dead on arrival.
    mock.set_token_expires_in(0);
    let r = create_token(&mock, CLIENT_SECRET, "rt-0");
    assert_eq!(r.json()["expiresIn"], 0);
    let dead = r.json()["accessToken"].as_str().unwrap().to_string();
    assert_eq!(role_credentials(&mock, Some(&dead)).status, 401);
}

#[test]
fn role_credentials_expire_at_bedrock() {
    let mock = sso_mock();
    mock.add_access_token("at", true);
    mock.set_role_creds_lifetime(0);
    let r = role_credentials(&mock, Some("at"));
    assert_eq!(r.status, 200);
    let rc = r.json()["roleCredentials"].clone();
    let r = invoke_with(&mock, &rc);
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-amzn-errortype"), Some("ExpiredTokenException"));
}

#[test]
fn portal_needs_role_and_account() {
    let mock = sso_mock();
    mock.add_access_token("at", true);
    let r = send(&mock.url(), "GET", "/federation/credentials?role_name=R", &[("x-amz-sso_bearer_token", "at")], b"")
        .unwrap();
    assert_eq!(r.status, 400);
}
