//! The mock's AWS Sign-In `POST /v1/token`: DPoP verification, single-use rotating refresh
//! tokens, issued keys that work at STS and expire, the login cache fixture, and botocore as a
//! client (its proofs pass, it reads the mock's errors as AWS's).

use std::time::Duration;

use serde_json::{Value, json};
use test_support::client::{Creds, HttpResponse, send};
use test_support::mock::signin::{DpopTestKey, SAME_DEVICE_CLIENT_ID};
use test_support::{MockAws, Route, TestHome, run, unix_now};

use crate::sts_probe;

const SESSION: &str = "arn:aws:iam::111122223333:user/console-user";

struct Setup {
    mock: MockAws,
    key: DpopTestKey,
    jti: std::cell::Cell<u32>,
}

fn setup() -> Setup {
    let mock = MockAws::start();
    let key = DpopTestKey::generate().unwrap();
    mock.add_login_session(SAME_DEVICE_CLIENT_ID, "rt-0", &key.public_key);
    Setup { mock, key, jti: std::cell::Cell::new(0) }
}

impl Setup {
    fn htu(&self) -> String {
        format!("{}/v1/token", self.mock.url())
    }

    fn next_jti(&self) -> String {
        self.jti.set(self.jti.get() + 1);
        format!("jti-{}", self.jti.get())
    }

    fn refresh_with(&self, refresh: &str, proof: &str) -> HttpResponse {
        let body = json!({"clientId": SAME_DEVICE_CLIENT_ID, "refreshToken": refresh, "grantType": "refresh_token"});
        send(
            &self.mock.url(),
            "POST",
            "/v1/token",
            &[("content-type", "application/json"), ("DPoP", proof)],
            body.to_string().as_bytes(),
        )
        .unwrap()
    }

    fn refresh(&self, refresh: &str) -> HttpResponse {
        let proof = self.key.proof(&self.htu(), unix_now(), &self.next_jti());
        self.refresh_with(refresh, &proof)
    }
}

fn creds(v: &Value) -> Creds<'_> {
    Creds {
        access_key_id: v["accessKeyId"].as_str().unwrap(),
        secret_access_key: v["secretAccessKey"].as_str().unwrap(),
        session_token: v["sessionToken"].as_str(),
    }
}

#[test]
fn refresh_rotates_and_issued_keys_work_at_sts() {
    let s = setup();
    let r = s.refresh("rt-0");
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    assert_eq!(v["tokenType"], "aws_sigv4");
    assert_eq!(v["expiresIn"], 900);
    let rt1 = v["refreshToken"].as_str().unwrap().to_string();
    assert_eq!(s.mock.issued_login_refresh_tokens(), vec![rt1.clone()]);
    assert_eq!(s.mock.issued_login_keys(), vec![v["accessToken"]["accessKeyId"].as_str().unwrap().to_string()]);
    let probe = sts_probe(&s.mock.url(), creds(&v["accessToken"]));
    assert_eq!(probe.status, 200, "{}", probe.text());

    // The used token is dead; the rotated one works once.
    let again = s.refresh("rt-0");
    assert_eq!((again.status, again.header("x-amzn-errortype")), (401, Some("AccessDeniedException")));
    assert_eq!(again.json()["error"], "TOKEN_EXPIRED");
    assert_eq!(s.refresh(&rt1).status, 200);
    assert_eq!(s.refresh("never-issued").json()["error"], "TOKEN_EXPIRED");
    assert_eq!(s.mock.login_refresh_calls(), 4);
    assert!(s.mock.rejected_dpop_proofs().is_empty(), "{:?}", s.mock.rejected_dpop_proofs());
    let rec = s.mock.requests();
    assert!(rec.iter().all(|r| r.route != Route::SigninToken || r.header("dpop").is_some()));
    assert_eq!(rec.iter().filter(|r| r.error.as_deref() == Some("AccessDeniedException")).count(), 2);
}

#[test]
fn issued_keys_expire_after_expires_in() {
    let s = setup();
    s.mock.set_login_expires_in(1);
    let v = s.refresh("rt-0").json();
    assert_eq!(v["expiresIn"], 1);
    std::thread::sleep(Duration::from_millis(1100));
    let probe = sts_probe(&s.mock.url(), creds(&v["accessToken"]));
    assert!(probe.text().contains("ExpiredToken"), "{}", probe.text());
}

#[test]
fn bad_proofs_are_refused_and_named() {
    let s = setup();
    let other = DpopTestKey::generate().unwrap();
    let now = unix_now();
    let good = s.key.proof(&s.htu(), now, "replayed");
    assert_eq!(s.refresh_with("rt-0", &good).status, 200);
    let rt1 = s.mock.issued_login_refresh_tokens()[0].clone();

    // A valid signature by another key, with that key's jwk: not the key the token is bound to.
    let foreign = other.proof(&s.htu(), now, "j-foreign");
    // The registered key's jwk, signed by another key: the signature does not verify.
    let mut parts: Vec<String> = s.key.proof(&s.htu(), now, "j-forged").split('.').map(str::to_string).collect();
    parts[2] = other.proof(&s.htu(), now, "x").split('.').nth(2).unwrap().to_string();
    let forged = parts.join(".");
    for (proof, why) in [
        (good.as_str(), "jti"),
        (foreign.as_str(), "bound to"),
        (forged.as_str(), "signature"),
        (&s.key.proof("http://127.0.0.1:1/v1/token", now, "j-htu"), "htu"),
        (&s.key.proof(&s.htu(), now - 3600, "j-old"), "iat"),
        (&s.key.proof(&s.htu(), now + 3600, "j-future"), "iat"),
        ("not-a-jwt", "compact JWS"),
        ("", "compact JWS"),
    ] {
        let r = s.refresh_with(&rt1, proof);
        assert_eq!((r.status, r.json()["error"].as_str()), (400, Some("INVALID_REQUEST")), "{why}: {}", r.text());
        let reasons = s.mock.rejected_dpop_proofs();
        assert!(reasons.last().unwrap().contains(why), "{why}: {reasons:?}");
    }
    // None of that burnt the refresh token.
    assert_eq!(s.refresh(&rt1).status, 200);
}

#[test]
fn expired_session_answers_token_expired_for_good() {
    let s = setup();
    s.mock.expire_next_login_refresh();
    let r = s.refresh("rt-0");
    assert_eq!((r.status, r.json()["error"].as_str()), (401, Some("TOKEN_EXPIRED")));
    assert_eq!(s.refresh("rt-0").status, 401, "the session stays ended");
    assert!(s.mock.issued_login_keys().is_empty());
}

#[test]
fn fixture_writes_the_cache_as_aws_login_does() {
    let home = TestHome::new();
    let mock = MockAws::start();
    let dir = home.join(".aws/login/cache");
    let expires = unix_now() + 600;
    let sess = mock.write_login_session(&dir, SESSION, expires);
    // hashlib.sha256(SESSION.encode()).hexdigest()
    assert_eq!(
        sess.cache_path.file_name().unwrap().to_str().unwrap(),
        format!("{}.json", test_support::sigv4::sha256_hex(SESSION.as_bytes()))
    );
    let text = std::fs::read_to_string(&sess.cache_path).unwrap();
    assert!(text.starts_with(r#"{"accessToken": {"accessKeyId": ""#), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["tokenType"], "aws_sigv4");
    assert_eq!(v["accessToken"]["expiresAt"], test_support::rfc3339(expires).as_str());
    assert!(v["dpopKey"].as_str().unwrap().starts_with("-----BEGIN EC PRIVATE KEY-----\n"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&sess.cache_path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert!(sess.config_text("console", "us-east-1").contains(&format!("login_session = {SESSION}\n")));
    // The cached keys work until they expire; the refresh token works once.
    let c = Creds {
        access_key_id: &sess.access_key_id,
        secret_access_key: &sess.secret_access_key,
        session_token: Some(&sess.session_token),
    };
    assert_eq!(sts_probe(&mock.url(), c).status, 200);
}

/// botocore's own DPoP code (`_build_add_dpop_header_handler`, the key loaded by
/// `LoginCredentialFetcher._load_private_key`) against the mock: a refresh, then a replay of
/// the used refresh token, which botocore must read as `AccessDeniedException`/`TOKEN_EXPIRED`.
const BOTOCORE: &str = r#"
import json, sys, botocore, botocore.session
from botocore.config import Config
from botocore.credentials import LoginCredentialFetcher, _build_add_dpop_header_handler
url, cache = sys.argv[1:3]
token = json.load(open(cache))
key = LoginCredentialFetcher._load_private_key(token)
c = botocore.session.get_session().create_client("signin", region_name="us-east-1", endpoint_url=url,
    config=Config(signature_version=botocore.UNSIGNED, retries={"max_attempts": 1}))
c.meta.events.register("before-call.signin.CreateOAuth2Token", _build_add_dpop_header_handler(key))
body = {"clientId": token["clientId"], "refreshToken": token["refreshToken"], "grantType": "refresh_token"}
out = {}
r = c.create_o_auth2_token(tokenInput=body)["tokenOutput"]
out["first"] = {"key": r["accessToken"]["accessKeyId"], "expiresIn": r["expiresIn"]}
try:
    c.create_o_auth2_token(tokenInput=body)
except c.exceptions.AccessDeniedException as e:
    out["second"] = {"error": e.response.get("error"), "status": e.response["ResponseMetadata"]["HTTPStatusCode"]}
print(json.dumps(out))
"#;

#[test]
fn botocore_proofs_pass_and_botocore_reads_the_errors() {
    let home = TestHome::new();
    let mock = MockAws::start();
    let sess = mock.write_login_session(&home.join(".aws/login/cache"), SESSION, unix_now() + 60);
    let mut cmd = home.command("python3");
    cmd.args(["-c", BOTOCORE, &mock.url(), sess.cache_path.to_str().unwrap()]);
    let out = run(&mut cmd, b"", Duration::from_secs(60));
    assert!(out.success(), "python3 with botocore[crt] is required: {}\n{}", out.describe(), mock.dump());
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["first"]["key"], mock.issued_login_keys()[0].as_str(), "{v}");
    assert_eq!(v["first"]["expiresIn"], 900);
    assert_eq!(v["second"], json!({"error": "TOKEN_EXPIRED", "status": 401}));
    assert!(mock.rejected_dpop_proofs().is_empty(), "{:?}", mock.rejected_dpop_proofs());
}
