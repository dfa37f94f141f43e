//! The mock against the real Claude Code: static keys, every request signed and answered.
//! Ignored by default; `cargo xtask ci` runs it with `CC_E2E_CLAUDE` set.

use std::time::Duration;

use test_support::{Route, TestHome, assert_no_secret, claude_bedrock_env, e2e_claude, run};

use crate::{AKID, SECRET, TOKEN, mock_with_key};

#[test]
#[ignore = "needs the real Claude Code; run by cargo xtask ci"]
fn claude_code_signs_every_request_and_reads_the_stream() {
    let claude = e2e_claude();
    let mock = mock_with_key();
    mock.set_answer("MOCK_E2E_STATIC_KEYS");
    let home = TestHome::new();
    let mut cmd = home.command(&claude);
    claude_bedrock_env(&mut cmd, &mock.url())
        .env("AWS_ACCESS_KEY_ID", AKID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_SESSION_TOKEN", TOKEN)
        .args(["-p", "say hi", "--output-format", "stream-json", "--verbose"]);
    let out = run(&mut cmd, b"", Duration::from_secs(120));
    let context = format!("{}\n--- mock log ---\n{}", out.describe(), mock.dump());
    assert!(out.success(), "{context}");
    assert!(out.stdout.contains("MOCK_E2E_STATIC_KEYS"), "{context}");
    assert_no_secret(&out.stdout, &[SECRET]);

    assert!(mock.count(Route::BedrockStream) >= 1, "{context}");
    assert_eq!(mock.count(Route::Other), 0, "unexpected requests: {context}");
    for r in mock.requests() {
        assert!(r.signed_ok_by(AKID), "{}", r.to_json());
        assert_eq!(r.security_token.as_deref(), Some(TOKEN));
        assert_eq!(r.signing_service.as_deref(), Some("bedrock"));
    }
}
