//! SigV4 verification in the mock: accepted and refused signatures, session tokens, expiry,
//! service scoping and model-id path encodings.

use test_support::client::{Creds, SignedRequest, send, send_signed};
use test_support::{MockAws, Route};

use crate::{AKID, INVOKE_BODY, TOKEN, creds, mock_with_key};
use crate::{post_signed, sts_probe};

fn invoke(mock: &MockAws, path: &str, creds: Creds<'_>) -> test_support::client::HttpResponse {
    send_signed(
        &mock.url(),
        &SignedRequest {
            method: "POST",
            path,
            query: "",
            headers: &[("content-type", "application/json")],
            body: INVOKE_BODY.as_bytes(),
            service: "bedrock",
            creds,
        },
    )
    .unwrap()
}

#[test]
fn valid_key_is_accepted_and_recorded() {
    let mock = mock_with_key();
    mock.set_answer("HELLO_FROM_MOCK");
    let r = invoke(&mock, "/model/us.anthropic.claude-x-v1:0/invoke", creds());
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["content"][0]["text"], "HELLO_FROM_MOCK");
    assert_eq!(body["type"], "message");
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["model"], "us.anthropic.claude-x-v1:0");

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 1);
    let rec = &reqs[0];
    assert_eq!(rec.route, Route::BedrockInvoke);
    assert!(rec.signed_ok_by(AKID), "{}", mock.dump());
    assert_eq!(rec.security_token.as_deref(), Some(TOKEN));
    assert_eq!(rec.signing_service.as_deref(), Some("bedrock"));
    assert_eq!(rec.model_id.as_deref(), Some("us.anthropic.claude-x-v1:0"));
    assert_eq!(mock.count(Route::BedrockInvoke), 1);
}

#[test]
fn model_id_may_arrive_raw_or_percent_encoded() {
    let mock = mock_with_key();
    for path in [
        "/model/anthropic.claude-3-haiku-20240307-v1:0/invoke",
        "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
    ] {
        let r = invoke(&mock, path, creds());
        assert_eq!(r.status, 200, "{path}: {}", r.text());
    }
    for rec in mock.requests() {
        assert_eq!(rec.model_id.as_deref(), Some("anthropic.claude-3-haiku-20240307-v1:0"));
    }
}

#[test]
fn wrong_secret_is_an_invalid_signature() {
    let mock = mock_with_key();
    let bad = Creds { secret_access_key: "not-the-secret", ..creds() };
    let r = invoke(&mock, "/model/m/invoke", bad);
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-amzn-errortype"), Some("InvalidSignatureException"));
    let rec = &mock.requests()[0];
    assert!(!rec.signature_ok);
    assert_eq!(rec.access_key_id.as_deref(), Some(AKID));
    assert_eq!(rec.error.as_deref(), Some("InvalidSignatureException"));
}

#[test]
fn unknown_key_is_unrecognized() {
    let mock = mock_with_key();
    let other = Creds { access_key_id: "AKIAUNKNOWN000000000", ..creds() };
    let r = invoke(&mock, "/model/m/invoke", other);
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-amzn-errortype"), Some("UnrecognizedClientException"));
}

#[test]
fn expired_key_answers_like_bedrock() {
    let mock = mock_with_key();
    mock.set_key_valid(AKID, false);
    let r = invoke(&mock, "/model/m/invoke-with-response-stream", creds());
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-amzn-errortype"), Some("ExpiredTokenException"));
    assert_eq!(r.json()["message"], "The security token included in the request is expired");
    // The signature itself was right: only the key's validity failed.
    assert!(mock.requests()[0].signature_ok);

    mock.set_key_valid(AKID, true);
    let r = invoke(&mock, "/model/m/invoke-with-response-stream", creds());
    assert_eq!(r.status, 200);
}

#[test]
fn session_token_must_match_the_registered_one() {
    let mock = mock_with_key();
    for token in [None, Some("another-token")] {
        let r = invoke(&mock, "/model/m/invoke", Creds { session_token: token, ..creds() });
        assert_eq!(r.status, 403, "token {token:?}");
        assert_eq!(r.header("x-amzn-errortype"), Some("UnrecognizedClientException"));
    }
}

#[test]
fn unsigned_and_wrongly_scoped_requests_are_refused() {
    let mock = mock_with_key();
    let r = send(&mock.url(), "POST", "/model/m/invoke", &[], INVOKE_BODY.as_bytes()).unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-amzn-errortype"), Some("MissingAuthenticationTokenException"));

    let r = post_signed(&mock.url(), "/model/m/invoke", INVOKE_BODY.as_bytes(), "sts", creds()).unwrap();
    assert_eq!(r.status, 403);
    assert_eq!(r.header("x-amzn-errortype"), Some("InvalidSignatureException"));
    assert!(r.text().contains("scoped to correct service"), "{}", r.text());
}

#[test]
fn sts_get_caller_identity() {
    let mock = mock_with_key();
    let r = sts_probe(&mock.url(), creds());
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("<GetCallerIdentityResult>"));
    assert!(r.text().contains("<Account>123456789012</Account>"));

    mock.set_key_valid(AKID, false);
    let r = sts_probe(&mock.url(), creds());
    assert_eq!(r.status, 403);
    assert!(r.text().contains("<Code>ExpiredToken</Code>"), "{}", r.text());
    assert!(r.text().contains("<Type>Sender</Type>"));

    let r = sts_probe(&mock.url(), Creds { access_key_id: "AKIANOBODY0000000000", ..creds() });
    assert_eq!(r.status, 403);
    assert!(r.text().contains("<Code>InvalidClientTokenId</Code>"));

    let routes: Vec<Route> = mock.requests().iter().map(|r| r.route).collect();
    assert_eq!(routes, [Route::Sts; 3]);
    assert_eq!(mock.requests()[1].error.as_deref(), Some("ExpiredToken"));
}

#[test]
fn inference_profiles_listing() {
    let mock = mock_with_key();
    let r = send_signed(
        &mock.url(),
        &SignedRequest {
            method: "GET",
            path: "/inference-profiles",
            query: "type=SYSTEM_DEFINED",
            headers: &[],
            body: b"",
            service: "bedrock",
            creds: creds(),
        },
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["inferenceProfileSummaries"], serde_json::json!([]));
    assert_eq!(mock.count(Route::InferenceProfiles), 1);
    assert!(mock.requests()[0].signed_ok_by(AKID));
}
