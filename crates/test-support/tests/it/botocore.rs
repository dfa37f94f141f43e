//! The mock against a real AWS client: botocore signs and parses Bedrock, STS, SSO-OIDC and
//! SSO portal calls against it. Needs python3 with botocore (`pip install botocore`).

use serde_json::Value;
use test_support::{MockAws, Route};

use crate::{AKID, SECRET, TOKEN, botocore_json, mock_with_key};

/// Calls the mock with botocore and prints one JSON object with each call's outcome (run after
/// the prelude of [`botocore_json`], which defines `session`, `out` and `call`).
const SCRIPT: &str = r#"
url, akid, secret, token = sys.argv[1:5]
cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=15)

def client(name, signed=True):
    kw = dict(region_name="us-east-1", endpoint_url=url, config=cfg)
    if signed:
        kw.update(aws_access_key_id=akid, aws_secret_access_key=secret,
                  aws_session_token=token or None)
    else:
        kw["config"] = cfg.merge(Config(signature_version=UNSIGNED))
    return session.create_client(name, **kw)

model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
body = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8,
                   "messages": [{"role": "user", "content": "hi"}]})
br = client("bedrock-runtime")
call("invoke", lambda: json.loads(br.invoke_model(modelId=model, body=body,
     contentType="application/json", accept="application/json")["body"].read()))
call("stream", lambda: [json.loads(ev["chunk"]["bytes"]) for ev in
     br.invoke_model_with_response_stream(modelId=model, body=body,
     contentType="application/json")["body"]])
call("sts", lambda: client("sts").get_caller_identity()["Arn"])
call("profiles", lambda: client("bedrock").list_inference_profiles(
     typeEquals="SYSTEM_DEFINED")["inferenceProfileSummaries"])
if len(sys.argv) > 5:
    oidc = client("sso-oidc", signed=False)
    call("token", lambda: oidc.create_token(clientId="cid", clientSecret="csec",
         grantType="refresh_token", refreshToken=sys.argv[5]))
    call("token_again", lambda: oidc.create_token(clientId="cid", clientSecret="csec",
         grantType="refresh_token", refreshToken=sys.argv[5]))
    at = out["token"].get("value", {}).get("accessToken", "none")
    sso = client("sso", signed=False)
    call("role", lambda: sso.get_role_credentials(roleName="MockRole",
         accountId="123456789012", accessToken=at)["roleCredentials"])
    call("role_bad", lambda: sso.get_role_credentials(roleName="MockRole",
         accountId="123456789012", accessToken="bogus")["roleCredentials"])
print(json.dumps(out, default=str))
"#;

fn botocore(mock: &MockAws, akid: &str, secret: &str, extra: &[&str]) -> Value {
    let url = mock.url();
    let mut args = vec![url.as_str(), akid, secret, TOKEN];
    args.extend_from_slice(extra);
    botocore_json(SCRIPT, &args)
}

#[test]
fn botocore_signed_requests_are_accepted() {
    let mock = mock_with_key();
    mock.set_answer("BOTO_OK");
    let v = botocore(&mock, AKID, SECRET, &[]);
    assert_eq!(v["invoke"]["ok"], true, "{v}\n{}", mock.dump());
    assert_eq!(v["invoke"]["value"]["content"][0]["text"], "BOTO_OK");
    // botocore's event-stream parser checks both CRCs of every frame.
    assert_eq!(v["stream"]["ok"], true, "{v}");
    let events = v["stream"]["value"].as_array().unwrap();
    assert_eq!(events.len(), 6);
    assert_eq!(events[2]["delta"]["text"], "BOTO_OK");
    assert_eq!(v["sts"]["ok"], true, "{v}");
    assert_eq!(v["sts"]["value"], "arn:aws:iam::123456789012:user/mock-user");
    assert_eq!(v["profiles"]["ok"], true, "{v}");

    let reqs = mock.requests();
    assert_eq!(reqs.len(), 4, "{}", mock.dump());
    for r in &reqs {
        assert!(r.signed_ok_by(AKID), "{}", r.to_json());
        assert_eq!(r.security_token.as_deref(), Some(TOKEN));
    }
    assert_eq!(reqs[0].model_id.as_deref(), Some("us.anthropic.claude-sonnet-4-5-20250929-v1:0"));
    assert_eq!(mock.count(Route::Sts), 1);
}

#[test]
fn botocore_with_a_wrong_secret_gets_invalid_signature() {
    let mock = mock_with_key();
    let v = botocore(&mock, AKID, "wrong-secret-0000000000000000000000000000", &[]);
    assert_eq!(v["invoke"]["code"], "InvalidSignatureException", "{v}");
    assert_eq!(v["invoke"]["status"], 403);
    assert_eq!(v["stream"]["code"], "InvalidSignatureException", "{v}");
    assert_eq!(v["sts"]["code"], "SignatureDoesNotMatch", "{v}");
    assert!(mock.requests().iter().all(|r| !r.signature_ok));
}

#[test]
fn botocore_sees_expired_keys_as_expired() {
    let mock = mock_with_key();
    mock.set_key_valid(AKID, false);
    let v = botocore(&mock, AKID, SECRET, &[]);
    assert_eq!(v["invoke"]["code"], "ExpiredTokenException", "{v}");
    assert_eq!(v["sts"]["code"], "ExpiredToken", "{v}");
}

#[test]
fn botocore_sso_oidc_and_portal() {
    let mock = mock_with_key();
    mock.set_oidc_client("cid", "csec");
    mock.set_refresh_token("rt-boto");
    let v = botocore(&mock, AKID, SECRET, &["rt-boto"]);
    assert_eq!(v["token"]["ok"], true, "{v}\n{}", mock.dump());
    let token = &v["token"]["value"];
    assert_eq!(token["expiresIn"], 3600);
    assert!(token["refreshToken"].as_str().unwrap().starts_with("mockrt-"));
    // Rotation: the same refresh token a second time is refused, as botocore reports it.
    assert_eq!(v["token_again"]["ok"], false, "{v}");
    assert_eq!(v["token_again"]["code"], "InvalidGrantException", "{v}");
    assert_eq!(v["token_again"]["status"], 400);

    assert_eq!(v["role"]["ok"], true, "{v}");
    let role = &v["role"]["value"];
    assert_eq!(mock.issued_role_keys(), [role["accessKeyId"].as_str().unwrap()]);
    assert!(role["expiration"].as_u64().unwrap() > 1_700_000_000_000);
    assert_eq!(v["role_bad"]["code"], "UnauthorizedException", "{v}");
    assert_eq!(v["role_bad"]["status"], 401);
}
