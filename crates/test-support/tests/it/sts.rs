//! The mock's STS against botocore as the client: AssumeRole (signed) with its per-role rules,
//! role chaining, keys that work afterwards, and AssumeRoleWithWebIdentity (unsigned).
//! Needs python3 with botocore (`pip install botocore`).

use serde_json::Value;
use test_support::{MockAws, Route};

use crate::{AKID, SECRET, TOKEN, botocore_json, mock_with_key};

const ROLE: &str = "arn:aws:iam::111122223333:role/KalBedrock";
const STRICT: &str = "arn:aws:iam::111122223333:role/Strict";
const MFA_ROLE: &str = "arn:aws:iam::111122223333:role/WithMfa";
const DENIED: &str = "arn:aws:iam::111122223333:role/Denied";
const SERIAL: &str = "arn:aws:iam::111122223333:mfa/me";

/// Runs the calls with botocore and prints one JSON object with each call's outcome (run after
/// the prelude of [`botocore_json`], which defines `session`, `out` and `call`).
const SCRIPT: &str = r#"
url, akid, secret, token, role, strict, mfa_role, denied, serial = sys.argv[1:10]
cfg = Config(retries={"max_attempts": 1, "mode": "standard"})

def sts(k=None, signed=True):
    kw = dict(region_name="eu-west-1", endpoint_url=url, config=cfg)
    if signed:
        kw.update(aws_access_key_id=k["AccessKeyId"], aws_secret_access_key=k["SecretAccessKey"],
                  aws_session_token=k.get("SessionToken"))
    else:
        kw["config"] = cfg.merge(Config(signature_version=UNSIGNED))
    return session.create_client("sts", **kw)

base = {"AccessKeyId": akid, "SecretAccessKey": secret, "SessionToken": token}
call("assume", lambda: sts(base).assume_role(RoleArn=role, RoleSessionName="boto-1", DurationSeconds=7200))
issued = out["assume"].get("value", {}).get("Credentials", base)
call("whoami", lambda: sts(issued).get_caller_identity())
call("chain_long", lambda: sts(issued).assume_role(RoleArn=role, RoleSessionName="boto-2", DurationSeconds=7200))
call("chain_hour", lambda: sts(issued).assume_role(RoleArn=role, RoleSessionName="boto-3", DurationSeconds=3600))
call("strict_none", lambda: sts(base).assume_role(RoleArn=strict, RoleSessionName="boto-4"))
call("strict_ok", lambda: sts(base).assume_role(RoleArn=strict, RoleSessionName="boto-5", ExternalId="ext-1"))
call("mfa_none", lambda: sts(base).assume_role(RoleArn=mfa_role, RoleSessionName="boto-6"))
call("mfa_bad", lambda: sts(base).assume_role(RoleArn=mfa_role, RoleSessionName="boto-7",
     SerialNumber=serial, TokenCode="000000"))
call("mfa_ok", lambda: sts(base).assume_role(RoleArn=mfa_role, RoleSessionName="boto-8",
     SerialNumber=serial, TokenCode="123456"))
call("denied", lambda: sts(base).assume_role(RoleArn=denied, RoleSessionName="boto-9"))
call("web_ok", lambda: sts(signed=False).assume_role_with_web_identity(RoleArn=role,
     RoleSessionName="pod-1", WebIdentityToken="eyJ.mock.token"))
call("web_bad", lambda: sts(signed=False).assume_role_with_web_identity(RoleArn=role,
     RoleSessionName="pod-2", WebIdentityToken="eyJ.other.token"))
print(json.dumps(out, default=lambda o: int(o.timestamp()) if hasattr(o, "timestamp") else str(o)))
"#;

fn botocore(mock: &MockAws) -> Value {
    botocore_json(SCRIPT, &[&mock.url(), AKID, SECRET, TOKEN, ROLE, STRICT, MFA_ROLE, DENIED, SERIAL])
}

#[test]
fn sts_assume_role_and_web_identity_with_botocore() {
    let mock = mock_with_key();
    mock.sts_require_external_id(STRICT, "ext-1");
    mock.sts_require_mfa(MFA_ROLE, SERIAL, "123456");
    mock.sts_deny_role(DENIED);
    mock.sts_add_web_identity_token("eyJ.mock.token");
    let v = botocore(&mock);
    let dump = || format!("{v}\n{}", mock.dump());

    let assumed = &v["assume"]["value"];
    assert_eq!(v["assume"]["ok"], true, "{}", dump());
    let key = assumed["Credentials"]["AccessKeyId"].as_str().unwrap();
    assert!(key.starts_with("ASIA"), "{}", dump());
    assert_eq!(assumed["AssumedRoleUser"]["Arn"], "arn:aws:sts::111122223333:assumed-role/KalBedrock/boto-1");
    // The lifetime asked for (7200 s) is what was granted, give or take the test's runtime.
    let exp = assumed["Credentials"]["Expiration"].as_u64().unwrap();
    let expected = test_support::unix_now() + 7200;
    assert!(exp.abs_diff(expected) < 120, "{exp} vs {expected}");

    // The issued key signs: GetCallerIdentity says who it is.
    assert_eq!(v["whoami"]["value"]["Arn"], "arn:aws:sts::111122223333:assumed-role/KalBedrock/boto-1", "{}", dump());
    assert_eq!(v["whoami"]["value"]["Account"], "111122223333");
    // Role chaining: more than an hour is refused, an hour is fine.
    assert_eq!(v["chain_long"]["code"], "ValidationError", "{}", dump());
    assert!(v["chain_long"]["message"].as_str().unwrap().contains("role chaining"));
    assert_eq!(v["chain_hour"]["ok"], true, "{}", dump());

    assert_eq!(v["strict_none"]["code"], "AccessDenied", "{}", dump());
    assert_eq!(v["strict_ok"]["ok"], true, "{}", dump());
    assert_eq!(v["mfa_none"]["code"], "AccessDenied");
    assert_eq!(v["mfa_bad"]["code"], "AccessDenied");
    assert!(v["mfa_bad"]["message"].as_str().unwrap().contains("MultiFactorAuthentication"));
    assert_eq!(v["mfa_ok"]["ok"], true, "{}", dump());
    assert_eq!(v["denied"]["code"], "AccessDenied");
    assert_eq!(v["denied"]["status"], 403);

    assert_eq!(v["web_ok"]["ok"], true, "{}", dump());
    assert_eq!(v["web_ok"]["value"]["SubjectFromWebIdentityToken"], "system:serviceaccount:default:mock");
    assert_eq!(v["web_bad"]["code"], "InvalidIdentityToken", "{}", dump());

    // What tests can read back.
    assert_eq!(mock.assume_role_count(ROLE), 3);
    assert_eq!(mock.assume_role_count(MFA_ROLE), 3);
    assert_eq!(mock.web_identity_count(ROLE), 2);
    let calls = mock.sts_calls();
    assert_eq!(calls[0].session_name.as_deref(), Some("boto-1"));
    assert_eq!(calls[0].duration_seconds.as_deref(), Some("7200"));
    assert_eq!(calls[0].source_key.as_deref(), Some(AKID));
    assert_eq!(calls[1].source_key.as_deref(), Some(key));
    assert_eq!(calls[1].error.as_deref(), Some("ValidationError"));
    assert_eq!(mock.sts_issued_keys().len(), 5, "{}", dump());
    // Web identity is unsigned and recorded as such.
    let web: Vec<_> = mock.requests().into_iter().filter(|r| r.body_text().contains("WebIdentity")).collect();
    assert_eq!(web.len(), 2);
    assert!(web.iter().all(|r| r.header("authorization").is_none() && r.access_key_id.is_none()));
    assert_eq!(mock.count(Route::Sts), 12);
}

#[test]
fn keys_issued_by_sts_sign_bedrock_calls_and_expire() {
    let mock = mock_with_key();
    let body = format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=s1&DurationSeconds=900",
        ROLE.replace(':', "%3A").replace('/', "%2F")
    );
    let r = crate::post_signed(&mock.url(), "/", body.as_bytes(), "sts", crate::creds()).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let text = r.text();
    let field = |name: &str| {
        let start = text.find(&format!("<{name}>")).unwrap() + name.len() + 2;
        let end = text[start..].find('<').unwrap() + start;
        text[start..end].to_string()
    };
    let (akid, secret, token) = (field("AccessKeyId"), field("SecretAccessKey"), field("SessionToken"));
    let creds =
        test_support::client::Creds { access_key_id: &akid, secret_access_key: &secret, session_token: Some(&token) };
    let r = crate::post_signed(
        &mock.url(),
        "/model/us.anthropic.claude-sonnet-4-5-20250929-v1:0/invoke",
        crate::INVOKE_BODY.as_bytes(),
        "bedrock",
        creds,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    mock.set_key_valid(&akid, false);
    let r = crate::sts_probe(&mock.url(), creds);
    assert_eq!(r.status, 403);
    assert!(r.text().contains("ExpiredToken"), "{}", r.text());
}
