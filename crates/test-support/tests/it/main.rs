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

use std::time::Duration;

use serde_json::Value;
use test_support::client::{Creds, HttpResponse, SignedRequest, send_signed};
use test_support::{MockAws, TestHome, run};

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

/// The start of every script [`botocore_json`] runs: botocore's imports (or
/// `{"import_error": …}` when it is missing), a session, and `call(name, f)`, which records in
/// `out` what `f()` returned or the code, message and HTTP status of the error AWS answered.
const BOTOCORE_PRELUDE: &str = r#"
import json, sys
try:
    import botocore.session
    from botocore.config import Config
    from botocore.exceptions import ClientError
    from botocore import UNSIGNED
except ImportError as e:
    print(json.dumps({"import_error": str(e)}))
    sys.exit(0)

session = botocore.session.get_session()
out = {}
def call(name, f):
    try:
        out[name] = {"ok": True, "value": f()}
    except ClientError as e:
        out[name] = {"ok": False, "code": e.response["Error"]["Code"],
                     "message": e.response["Error"].get("Message"),
                     "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
"#;

/// Runs `script`, after [`BOTOCORE_PRELUDE`], with `args` in python3 in a fresh temp HOME,
/// botocore kept away from any real configuration or metadata service; returns the one JSON
/// object the script prints.
pub fn botocore_json(script: &str, args: &[&str]) -> Value {
    let home = TestHome::new();
    let mut cmd = home.command("python3");
    cmd.arg("-c")
        .arg(format!("{BOTOCORE_PRELUDE}{script}"))
        .args(args)
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true");
    let out = run(&mut cmd, b"", Duration::from_secs(60));
    assert!(
        out.status.is_some(),
        "python3 is needed for this test (and botocore: pip install botocore)\n{}",
        out.describe()
    );
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "botocore script failed ({e}); python3 with botocore is required: pip install botocore\n{}",
            out.describe()
        )
    });
    assert!(v.get("import_error").is_none(), "botocore is missing: pip install botocore ({})", v["import_error"]);
    v
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
