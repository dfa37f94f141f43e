//! Integration tests of test-support: the mock server against our own client and botocore,
//! event-stream framing, SSO flows, fault injection, and the temp-HOME runner.

// Test code: failing loudly at the first surprise is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod botocore;
mod claude;
mod eventstream;
mod faults;
mod home;
mod http;
mod mock_binary;
mod signin;
mod sigv4;
mod sso;
mod sts;

use test_support::MockAws;
use test_support::client::{Creds, HttpResponse, SignedRequest, send_signed};

/// A static key registered in most tests.
pub const AKID: &str = "AKIAMOCKTEST00000001";
pub const SECRET: &str = "mock/secret+key0000000000000000000000001";
pub const TOKEN: &str = "mock-session-token-1";

pub fn creds() -> Creds<'static> {
    Creds { access_key_id: AKID, secret_access_key: SECRET, session_token: Some(TOKEN) }
}

/// A mock with [`AKID`] registered as valid.
pub fn mock_with_key() -> MockAws {
    let mock = MockAws::start();
    mock.add_key(AKID, SECRET, Some(TOKEN), true);
    mock
}

/// A minimal Anthropic Messages request body as Claude Code sends it to Bedrock.
pub const INVOKE_BODY: &str =
    r#"{"anthropic_version":"bedrock-2023-05-31","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;

/// A SigV4-signed POST, as Claude Code's SDK sends them to Bedrock and STS.
pub fn post_signed(
    url: &str,
    path: &str,
    body: &[u8],
    service: &str,
    creds: Creds<'_>,
) -> std::io::Result<HttpResponse> {
    send_signed(url, &SignedRequest { method: "POST", path, query: "", headers: &[], body, service, creds })
}

/// The `sts:GetCallerIdentity` probe Claude Code makes at start-up.
pub fn sts_probe(url: &str, creds: Creds<'_>) -> HttpResponse {
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let headers = &[("content-type", "application/x-www-form-urlencoded")];
    send_signed(url, &SignedRequest { method: "POST", path: "/", query: "", headers, body, service: "sts", creds })
        .expect("the mock answers the STS probe")
}
