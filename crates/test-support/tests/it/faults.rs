//! Fault injection: FIFO queues per route, sticky faults, and every fault's wire behaviour.

use std::time::{Duration, Instant};

use serde_json::json;
use test_support::client::{send, send_raw};
use test_support::{Fault, MockAws, Route};

use crate::{INVOKE_BODY, creds, mock_with_key};
use crate::{post_signed, sts_probe};

fn token_request(mock: &MockAws) -> std::io::Result<test_support::client::HttpResponse> {
    let body = json!({
        "clientId": "c", "clientSecret": "s", "grantType": "refresh_token", "refreshToken": "rt",
    });
    send(&mock.url(), "POST", "/token", &[], body.to_string().as_bytes())
}

fn sso_mock() -> MockAws {
    let mock = MockAws::start();
    mock.set_oidc_client("c", "s");
    mock.set_refresh_token("rt");
    mock.set_rotate_refresh_token(false);
    mock
}

#[test]
fn queued_faults_are_consumed_in_order_then_normal() {
    let mock = sso_mock();
    mock.push_fault(Route::Token, Fault::Status(500));
    mock.push_fault(Route::Token, Fault::Throttle { retry_after_secs: 7 });
    mock.push_fault(Route::Token, Fault::InvalidGrant);
    // A fault on another route does not touch this one.
    mock.push_fault(Route::Sts, Fault::Status(503));

    let r = token_request(&mock).unwrap();
    assert_eq!(r.status, 500);
    assert_eq!(r.header("x-amzn-errortype"), Some("InternalServerException"));
    let r = token_request(&mock).unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("7"));
    assert_eq!(r.header("x-amzn-errortype"), Some("ThrottlingException"));
    let r = token_request(&mock).unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"], "invalid_grant");
    let r = token_request(&mock).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());

    assert_eq!(mock.count(Route::Token), 4);
    let faults: Vec<Option<Fault>> = mock.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        [Some(Fault::Status(500)), Some(Fault::Throttle { retry_after_secs: 7 }), Some(Fault::InvalidGrant), None]
    );
    // Only the fault-free call issued a token.
    assert_eq!(mock.issued_access_tokens().len(), 1);
}

#[test]
fn sticky_fault_applies_until_cleared_and_queue_goes_first() {
    let mock = mock_with_key();
    mock.set_sticky_fault(Route::BedrockInvoke, Some(Fault::Status(503)));
    mock.push_fault(Route::BedrockInvoke, Fault::Status(400));
    let call =
        || post_signed(&mock.url(), "/model/m/invoke", INVOKE_BODY.as_bytes(), "bedrock", creds()).unwrap().status;
    assert_eq!(call(), 400);
    assert_eq!(call(), 503);
    assert_eq!(call(), 503);
    mock.set_sticky_fault(Route::BedrockInvoke, None);
    assert_eq!(call(), 200);
    // Faulted requests still had their signature checked and recorded.
    assert!(mock.requests().iter().all(|r| r.signature_ok));
}

#[test]
fn slow_delays_then_answers_normally() {
    let mock = sso_mock();
    mock.push_fault(Route::Token, Fault::Slow(Duration::from_millis(300)));
    let start = Instant::now();
    let r = token_request(&mock).unwrap();
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status, 200);
}

#[test]
fn malformed_truncated_and_closed_answers() {
    let mock = sso_mock();
    mock.push_fault(Route::Token, Fault::MalformedJson);
    mock.push_fault(Route::Token, Fault::Truncated);
    mock.push_fault(Route::Token, Fault::CloseConnection);

    let r = token_request(&mock).unwrap();
    assert_eq!(r.status, 200);
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());

    let e = token_request(&mock).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof, "{e}");

    let raw = send_raw(&mock.url(), b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}").unwrap();
    assert!(raw.is_empty(), "{}", String::from_utf8_lossy(&raw));

    let statuses: Vec<Option<u16>> = mock.requests().into_iter().map(|r| r.status).collect();
    assert_eq!(statuses, [Some(200), Some(200), None]);
}

#[test]
fn unauthorized_is_each_routes_own_refusal() {
    let mock = mock_with_key();
    for route in [Route::Token, Route::RoleCredentials, Route::Sts, Route::BedrockStream] {
        mock.push_fault(route, Fault::Unauthorized);
    }
    let r = token_request(&mock).unwrap();
    assert_eq!((r.status, r.json()["error"].clone()), (401, json!("invalid_client")));

    let r = send(&mock.url(), "GET", "/federation/credentials?role_name=R&account_id=1", &[], b"").unwrap();
    assert_eq!(r.status, 401);
    assert_eq!(r.header("x-amzn-errortype"), Some("UnauthorizedException"));

    let r = sts_probe(&mock.url(), creds());
    assert_eq!(r.status, 403);
    assert!(r.text().contains("<Code>ExpiredToken</Code>"));

    let r =
        post_signed(&mock.url(), "/model/m/invoke-with-response-stream", INVOKE_BODY.as_bytes(), "bedrock", creds())
            .unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-amzn-errortype"), Some("ExpiredTokenException"));
}
