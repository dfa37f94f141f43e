//! `AssumeRole` and `AssumeRoleWithWebIdentity` against the mock STS (signatures verified,
//! parameters as configured, AWS's refusals), and the `~/.aws/cli/cache` interchange with the
//! real botocore both ways. python3 with botocore is required: these tests fail, never skip,
//! without it.

use keepalive_core::creds::Credentials;
use keepalive_core::ctx::Ctx;
use keepalive_core::env::Env;
use keepalive_core::providers::sts::StsError;
use keepalive_core::providers::{RoleStep, WebIdentity, assume_role, web_identity};
use keepalive_core::secret::Secret;
use serde_json::Value;
use test_support::{MockAws, Route, TestHome};
use time::OffsetDateTime;

use crate::support::{botocore, mode, sha1};

const ROLE: &str = "arn:aws:iam::111122223333:role/KalBedrock";
const SOURCE_KEY: &str = "AKIAKALSOURCE0000001";

/// A temp HOME, the mock, and source keys the mock knows (unique per fixture, so that leak
/// checks, which also look for 8-character prefixes, mean something).
struct Fx {
    home: TestHome,
    mock: MockAws,
    secret: String,
    token: String,
}

impl Fx {
    fn new() -> Fx {
        let home = TestHome::new();
        let mock = MockAws::start();
        let n = std::process::id();
        let secret = format!("SRCSECRET{n}/x+{}", mock.port());
        let token = format!("SRCTOKEN{n}-{}", mock.port());
        mock.add_key(SOURCE_KEY, &secret, Some(&token), true);
        Fx { home, mock, secret, token }
    }

    fn env(&self) -> Env {
        let home = self.home.path().to_str().unwrap();
        let state = self.home.state_dir();
        Env::from_pairs([
            ("HOME", home),
            ("XDG_STATE_HOME", state.to_str().unwrap()),
            ("AWS_ENDPOINT_URL_STS", &self.mock.url()),
        ])
    }

    fn ctx(&self) -> Ctx {
        Ctx::new(self.env(), OffsetDateTime::now_utc())
    }

    fn source(&self) -> Credentials {
        Credentials {
            access_key_id: SOURCE_KEY.into(),
            secret_access_key: Secret::new(&self.secret),
            session_token: Some(Secret::new(&self.token)),
            expiration: None,
        }
    }

    fn log(&self) -> String {
        self.home.try_read(".local/state/cc-aws-keepalive/keepalive.log").unwrap_or_default()
    }

    /// Every secret in play: the source's and all the mock issued (read from its answers).
    fn assert_no_secret(&self, text: &str) {
        let mut secrets = vec![self.secret.clone(), self.token.clone()];
        for r in self.mock.requests() {
            if let Some(t) = r.security_token {
                secrets.push(t);
            }
        }
        let refs: Vec<&str> = secrets.iter().map(String::as_str).collect();
        test_support::assert_no_secret(text, &refs);
    }
}

fn step(role_arn: &str) -> RoleStep {
    RoleStep::new("bedrock", role_arn, Some("eu-west-1".into()))
}

#[test]
fn assume_is_signed_and_sends_what_is_configured() {
    let fx = Fx::new();
    fx.mock.sts_require_external_id(ROLE, "ext-42");
    let s = RoleStep {
        session_name: Some("kal-session".into()),
        external_id: Some("ext-42".into()),
        duration_seconds: Some(7200),
        ..step(ROLE)
    };
    let ctx = fx.ctx();
    let c = assume_role::assume(&ctx, &s, &fx.source(), false, None).unwrap();

    let reqs = fx.mock.requests();
    assert_eq!(reqs.len(), 1, "{}", fx.mock.dump());
    let r = &reqs[0];
    assert!(r.signed_ok_by(SOURCE_KEY), "{}", r.to_json());
    assert_eq!(r.security_token.as_deref(), Some(fx.token.as_str()));
    assert_eq!(r.signing_region.as_deref(), Some("eu-west-1"));
    assert_eq!(r.signing_service.as_deref(), Some("sts"));
    let call = &fx.mock.sts_calls()[0];
    assert_eq!(call.session_name.as_deref(), Some("kal-session"));
    assert_eq!(call.duration_seconds.as_deref(), Some("7200"));
    assert_eq!(call.external_id.as_deref(), Some("ext-42"));
    assert_eq!(call.issued_key.as_deref(), Some(c.access_key_id.as_str()));
    let left = c.remaining(ctx.now).unwrap().whole_seconds();
    assert!((7000..=7200).contains(&left), "{left}");

    // The cache file: botocore's layout, 0600, in ~/.aws/cli/cache under botocore's key.
    let path = assume_role::cache_path(&ctx.env, &s).unwrap();
    assert_eq!(path.parent().unwrap(), fx.home.join(".aws/cli/cache"));
    assert_eq!(mode(&path), 0o600);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v["Credentials"]["AccessKeyId"], c.access_key_id.as_str());
    assert_eq!(v["Credentials"]["AccountId"], "111122223333");
    assert!(v["Credentials"]["Expiration"].as_str().unwrap().ends_with("UTC"), "{v}");
    assert_eq!(v["AssumedRoleUser"]["Arn"], "arn:aws:sts::111122223333:assumed-role/KalBedrock/kal-session");
    let again = assume_role::cached(&ctx, &s).unwrap();
    assert_eq!(again.access_key_id, c.access_key_id);
    assert_eq!(again.session_token, c.session_token);

    // The new keys work: STS knows who they are.
    let creds = test_support::client::Creds {
        access_key_id: &c.access_key_id,
        secret_access_key: c.secret_access_key.expose(),
        session_token: c.session_token.as_ref().map(Secret::expose),
    };
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let headers = &[("content-type", "application/x-www-form-urlencoded")];
    let who = test_support::client::send_signed(
        &fx.mock.url(),
        &test_support::client::SignedRequest {
            method: "POST",
            path: "/",
            query: "",
            headers,
            body,
            service: "sts",
            creds,
        },
    )
    .unwrap();
    assert!(who.text().contains("assumed-role/KalBedrock/kal-session"), "{}", who.text());
    fx.assert_no_secret(&fx.log());
}

#[test]
fn a_generated_session_name_is_botocores() {
    let fx = Fx::new();
    let ctx = fx.ctx();
    assume_role::assume(&ctx, &step(ROLE), &fx.source(), false, None).unwrap();
    let name = fx.mock.sts_calls()[0].session_name.clone().unwrap();
    assert_eq!(name, format!("botocore-session-{}", ctx.now.unix_timestamp()));
    assert_eq!(fx.mock.sts_calls()[0].duration_seconds, None);
}

#[test]
fn chained_sessions_are_capped_at_an_hour() {
    let fx = Fx::new();
    let ctx = fx.ctx();
    let role = assume_role::assume(&ctx, &step(ROLE), &fx.source(), false, None).unwrap();
    let next = RoleStep { duration_seconds: Some(7200), ..step("arn:aws:iam::111122223333:role/Next") };
    // Role credentials as the source: STS refuses more than an hour, so we ask for an hour.
    let c = assume_role::assume(&ctx, &next, &role, true, None).unwrap();
    let calls = fx.mock.sts_calls();
    assert_eq!(calls[1].duration_seconds.as_deref(), Some("3600"), "{calls:?}");
    assert_eq!(calls[1].source_key.as_deref(), Some(role.access_key_id.as_str()));
    assert!(c.remaining(ctx.now).unwrap().whole_seconds() <= 3600);
    assert!(fx.log().contains("lowered to 3600"), "{}", fx.log());
    // Told it is not chained, we send 7200 and STS says no, which names the fix.
    let e = assume_role::assume(&ctx, &next, &role, false, None).unwrap_err();
    assert!(matches!(&e, assume_role::AssumeRoleError::Sts(StsError::Duration { requested: 7200, .. })), "{e:?}");
    let m = e.to_string();
    assert!(m.contains("lower duration_seconds in [profile bedrock]") && m.contains("role chaining"), "{m}");
    // Not capped without chaining.
    let long = RoleStep { duration_seconds: Some(7200), ..step(ROLE) };
    assume_role::assume(&ctx, &long, &fx.source(), false, None).unwrap();
    assert_eq!(fx.mock.sts_calls()[3].duration_seconds.as_deref(), Some("7200"));
}

#[test]
fn mfa_is_asked_for_and_sent() {
    let fx = Fx::new();
    let serial = "arn:aws:iam::111122223333:mfa/kal";
    fx.mock.sts_require_mfa(ROLE, serial, "123456");
    let s = RoleStep { mfa_serial: Some(serial.into()), ..step(ROLE) };
    let ctx = fx.ctx();
    let e = assume_role::assume(&ctx, &s, &fx.source(), false, None).unwrap_err();
    assert!(e.needs_mfa(), "{e}");
    assert!(e.to_string().contains("run `cc-aws-keepalive refresh --profile bedrock` in a terminal"), "{e}");
    assert_eq!(fx.mock.count(Route::Sts), 0, "no STS call without a code");

    let e = assume_role::assume(&ctx, &s, &fx.source(), false, Some("000000")).unwrap_err();
    let m = e.to_string();
    assert!(!e.needs_mfa() && !e.source_rejected(), "{m}");
    assert!(m.contains("MFA code") && m.contains("trust policy") && !m.contains("000000"), "{m}");

    let c = assume_role::assume(&ctx, &s, &fx.source(), false, Some("123456")).unwrap();
    let call = fx.mock.sts_calls().pop().unwrap();
    assert_eq!((call.serial_number.as_deref(), call.token_code.as_deref()), (Some(serial), Some("123456")));
    assert_eq!(call.issued_key, Some(c.access_key_id));
    assert!(!fx.log().contains("123456"));
}

#[test]
fn refusals_name_the_fix() {
    let fx = Fx::new();
    let ctx = fx.ctx();
    // Expired source keys: source_rejected, naming the profile, the role and the endpoint.
    fx.mock.set_key_valid(SOURCE_KEY, false);
    let e = assume_role::assume(&ctx, &step(ROLE), &fx.source(), false, None).unwrap_err();
    assert!(e.source_rejected(), "{e}");
    let m = e.to_string();
    for part in [fx.mock.url().as_str(), "\"bedrock\"", ROLE, SOURCE_KEY, "ExpiredToken", "source_profile"] {
        assert!(m.contains(part), "{part}: {m}");
    }
    fx.assert_no_secret(&format!("{m} {e:?}"));
    fx.mock.set_key_valid(SOURCE_KEY, true);

    // A wrong secret is a rejected source too.
    let mut wrong = fx.source();
    wrong.secret_access_key = Secret::new("not-the-secret");
    assert!(assume_role::assume(&ctx, &step(ROLE), &wrong, false, None).unwrap_err().source_rejected());

    // The trust policy says no.
    let denied = "arn:aws:iam::111122223333:role/Denied";
    fx.mock.sts_deny_role(denied);
    let e = assume_role::assume(&ctx, &step(denied), &fx.source(), false, None).unwrap_err();
    let m = e.to_string();
    assert!(
        !e.source_rejected() && m.contains("check role_arn in [profile bedrock] and the role's trust policy"),
        "{m}"
    );

    // A required external id that is missing.
    fx.mock.sts_require_external_id(ROLE, "ext-1");
    let m = assume_role::assume(&ctx, &step(ROLE), &fx.source(), false, None).unwrap_err().to_string();
    assert!(m.contains("external_id"), "{m}");

    // Nothing cached from failures, no secret logged.
    assert!(assume_role::cached(&ctx, &step(ROLE)).is_none());
    fx.assert_no_secret(&fx.log());

    // No region with an endpoint override: a clear error, no call.
    let before = fx.mock.count(Route::Sts);
    let m = assume_role::assume(&ctx, &RoleStep { region: None, ..step(ROLE) }, &fx.source(), false, None)
        .unwrap_err()
        .to_string();
    assert!(m.contains("add region = <region> to [profile bedrock] or set AWS_DEFAULT_REGION"), "{m}");
    assert_eq!(fx.mock.count(Route::Sts), before);
}

#[test]
fn a_transient_sts_failure_is_retried() {
    let fx = Fx::new();
    fx.mock.push_fault(Route::Sts, test_support::Fault::Status(503));
    fx.mock.push_fault(Route::Sts, test_support::Fault::Throttle { retry_after_secs: 0 });
    let c = assume_role::assume(&fx.ctx(), &step(ROLE), &fx.source(), false, None).unwrap();
    let reqs = fx.mock.requests();
    assert_eq!(reqs.len(), 3, "{}", fx.mock.dump());
    // The same signed request each time, and it still verifies.
    assert!(reqs.iter().all(|r| r.signature_ok), "{}", fx.mock.dump());
    assert_eq!(fx.mock.sts_issued_keys(), [c.access_key_id]);
}

#[test]
fn an_unwritable_cache_is_not_fatal() {
    let fx = Fx::new();
    // A file where the cache directory should be.
    fx.home.write(".aws/cli/cache", "not a directory");
    let ctx = fx.ctx();
    let c = assume_role::assume(&ctx, &step(ROLE), &fx.source(), false, None).unwrap();
    assert!(c.access_key_id.starts_with("ASIA"));
    assert!(fx.log().contains("cannot cache the role credentials"), "{}", fx.log());
    assert!(assume_role::cached(&ctx, &step(ROLE)).is_none());
}

#[test]
fn web_identity_against_the_mock() {
    let fx = Fx::new();
    let jwt = format!("eyJWEBTOKEN{}.payload.sig", std::process::id());
    fx.mock.sts_add_web_identity_token(&jwt);
    let token_file = fx.home.write("token", format!("{jwt}\n"));
    let w = WebIdentity {
        profile: "eks".into(),
        role_arn: ROLE.into(),
        token_file: token_file.clone(),
        session_name: Some("pod-1".into()),
        duration_seconds: None,
        region: Some("eu-west-1".into()),
    };
    let ctx = fx.ctx();
    let c = web_identity::assume(&ctx, &w).unwrap();
    let reqs = fx.mock.requests();
    assert_eq!(reqs.len(), 1);
    assert!(reqs[0].header("authorization").is_none(), "unsigned");
    let call = &fx.mock.sts_calls()[0];
    assert_eq!(call.web_identity_token.as_deref(), Some(jwt.as_str()), "trimmed");
    assert_eq!(call.issued_key.as_deref(), Some(c.access_key_id.as_str()));
    let cached = web_identity::cached(&ctx, &w).unwrap();
    assert_eq!(cached.access_key_id, c.access_key_id);
    let path = web_identity::cache_path(&ctx.env, &w).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r#""AccountId": "111122223333"}, "SubjectFromWebIdentityToken": "#), "{text}");

    // A token the provider no longer accepts: the error names the file, not the token.
    fx.home.write("token", "eyJSTALETOKEN.x.y");
    let e = web_identity::assume(&ctx, &w).unwrap_err().to_string();
    assert!(e.contains("InvalidIdentityToken") && e.contains(token_file.to_str().unwrap()), "{e}");
    test_support::assert_no_secret(&format!("{e} {}", fx.log()), &[&jwt, "eyJSTALETOKEN.x.y"]);
}

#[test]
fn refused_web_identity_keys_are_replaced_once() {
    use keepalive_core::providers::{Base, Chain, exec};
    let fx = Fx::new();
    let jwt = format!("eyJWEBTOKEN{}.refused.sig", std::process::id());
    fx.mock.sts_add_web_identity_token(&jwt);
    let w = WebIdentity {
        profile: "eks".into(),
        role_arn: ROLE.into(),
        token_file: fx.home.write("token", &jwt),
        session_name: None,
        duration_seconds: None,
        region: Some("eu-west-1".into()),
    };
    let chain = Chain { profile: Some("eks".into()), base: Base::WebIdentity(w), roles: Vec::new() };
    let (ctx, config) = (fx.ctx(), keepalive_core::config::Config::default());
    let refused = exec::credentials(&ctx, &config, &chain).unwrap();
    assert_eq!(exec::credentials(&ctx, &config, &chain).unwrap().access_key_id, refused.access_key_id, "cached");
    let new = exec::replace(&ctx, &config, &chain, &refused).unwrap().unwrap();
    assert_ne!(new.access_key_id, refused.access_key_id);
    assert_eq!(fx.mock.sts_calls().len(), 2, "{}", fx.mock.dump());
    // Another session refused the same key meanwhile: it takes the new one, no call.
    let again = exec::replace(&ctx, &config, &chain, &refused).unwrap().unwrap();
    assert_eq!((again.access_key_id, fx.mock.sts_calls().len()), (new.access_key_id, 2));
}

// ---- botocore ------------------------------------------------------------------------------

/// Loads a profile's credentials the way the AWS CLI does: botocore's chain with the CLI's
/// `JSONFileCache` on `~/.aws/cli/cache` plugged into the assume-role and web-identity
/// providers (`awscli/customizations/assumerole.py`). Prints the key and digests of the rest.
const LOAD: &str = r#"
import hashlib, json, os, sys, botocore.session
from botocore.utils import JSONFileCache
s = botocore.session.Session(profile=sys.argv[1])
chain = s.get_component("credential_provider")
cache = JSONFileCache(os.path.expanduser(os.path.join("~", ".aws", "cli", "cache")))
chain.get_provider("assume-role").cache = cache
chain.get_provider("assume-role-with-web-identity").cache = cache
c = s.get_credentials().get_frozen_credentials()
sha = lambda v: hashlib.sha1(v.encode()).hexdigest()
print(json.dumps({"key": c.access_key, "secret": sha(c.secret_key), "token": sha(c.token)}))
"#;

/// botocore's own cache keys for assume-role arguments (one JSON object per line of argv).
const KEYS: &str = r#"
import json, sys
from botocore.credentials import AssumeRoleCredentialFetcher, AssumeRoleWithWebIdentityCredentialFetcher
out = []
for arg in sys.argv[1:]:
    a = json.loads(arg)
    role = a.pop("RoleArn")
    if a.pop("web", False):
        f = AssumeRoleWithWebIdentityCredentialFetcher(None, None, role, extra_args=a)
    else:
        f = AssumeRoleCredentialFetcher(None, None, role, extra_args=a)
    out.append(f._cache_key)
print(json.dumps(out))
"#;

/// Runs a script (`args[0]`, its arguments after it) with botocore, STS at the mock; parses
/// the JSON it prints.
fn python(fx: &Fx, args: &[&str]) -> Value {
    serde_json::from_str(botocore(&fx.home, &fx.mock, &["AWS_ENDPOINT_URL_STS"], args).trim()).unwrap()
}

/// `[profile bedrock]` assumes ROLE with the static keys of `[profile base]`.
fn write_role_config(fx: &Fx, extra: &str) {
    fx.home.write(
        ".aws/config",
        format!(
            "[profile base]\naws_access_key_id = {SOURCE_KEY}\naws_secret_access_key = {}\naws_session_token = {}\n\n\
             [profile bedrock]\nrole_arn = {ROLE}\nsource_profile = base\nregion = eu-west-1\n{extra}",
            fx.secret, fx.token
        ),
    );
}

#[test]
fn cache_keys_are_botocores() {
    let fx = Fx::new();
    let cases: Vec<(RoleStep, Value)> = vec![
        (step(ROLE), serde_json::json!({"RoleArn": ROLE})),
        (
            RoleStep { session_name: Some("me".into()), ..step(ROLE) },
            serde_json::json!({"RoleArn": ROLE, "RoleSessionName": "me"}),
        ),
        (
            RoleStep {
                session_name: Some("s".into()),
                external_id: Some("ext-é\"x".into()),
                mfa_serial: Some("arn:aws:iam::1:mfa/me".into()),
                duration_seconds: Some(43200),
                ..step("arn:aws:iam::999:role/path/Other")
            },
            serde_json::json!({"RoleArn": "arn:aws:iam::999:role/path/Other", "RoleSessionName": "s",
                "ExternalId": "ext-é\"x", "SerialNumber": "arn:aws:iam::1:mfa/me", "DurationSeconds": 43200}),
        ),
        (
            RoleStep { duration_seconds: Some(900), ..step(ROLE) },
            serde_json::json!({"RoleArn": ROLE, "DurationSeconds": 900}),
        ),
    ];
    let mut args: Vec<String> = cases.iter().map(|(_, v)| v.to_string()).collect();
    let webs = [
        WebIdentity {
            profile: "w".into(),
            role_arn: ROLE.into(),
            token_file: "/t".into(),
            session_name: Some("pod".into()),
            duration_seconds: Some(7200),
            region: None,
        },
        WebIdentity {
            profile: "w".into(),
            role_arn: ROLE.into(),
            token_file: "/t".into(),
            session_name: None,
            duration_seconds: None,
            region: None,
        },
    ];
    args.push(serde_json::json!({"RoleArn": ROLE, "RoleSessionName": "pod", "web": true}).to_string());
    args.push(serde_json::json!({"RoleArn": ROLE, "web": true}).to_string());
    let mut argv = vec![KEYS];
    argv.extend(args.iter().map(String::as_str));
    let theirs = python(&fx, &argv);
    let ours: Vec<String> =
        cases.iter().map(|(s, _)| assume_role::cache_key(s)).chain(webs.iter().map(web_identity::cache_key)).collect();
    assert_eq!(theirs, serde_json::json!(ours));
    assert_eq!(ours[0], "f80c9ecace670741c5910425d552bb9dee3fd8fb");
}

#[test]
fn we_use_the_role_credentials_botocore_cached() {
    let fx = Fx::new();
    write_role_config(&fx, "");
    let v = python(&fx, &[LOAD, "bedrock"]);
    assert_eq!(fx.mock.assume_role_count(ROLE), 1, "{}", fx.mock.dump());
    let issued = fx.mock.sts_issued_keys()[0].clone();
    assert_eq!(v["key"], issued.as_str());

    let ctx = fx.ctx();
    let s = step(ROLE);
    let c = assume_role::cached(&ctx, &s).expect("botocore's cache file is found under our key");
    assert_eq!(c.access_key_id, issued);
    assert_eq!(v["secret"], sha1(c.secret_access_key.expose()).as_str());
    assert_eq!(v["token"], sha1(c.session_token.as_ref().unwrap().expose()).as_str());
    assert!(c.remaining(ctx.now).unwrap().whole_minutes() >= 55);

    // Our file has the same shape as botocore's: the same keys in the same order.
    let path = assume_role::cache_path(&ctx.env, &s).unwrap();
    let other = RoleStep { session_name: Some("ours".into()), ..s };
    assume_role::assume(&ctx, &other, &fx.source(), false, None).unwrap();
    let ours = assume_role::cache_path(&ctx.env, &other).unwrap();
    let shapes = python(&fx, &[SHAPE, path.to_str().unwrap(), ours.to_str().unwrap()]);
    assert_eq!(shapes[0], shapes[1]);
    assert_eq!(shapes[0][0], "Credentials");
    let expiration = |p: &std::path::Path| {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        v["Credentials"]["Expiration"].as_str().unwrap().to_string()
    };
    let (a, b) = (expiration(&path), expiration(&ours));
    assert!(a.ends_with("UTC") && b.ends_with("UTC") && a.len() == b.len(), "{a} {b}");
}

/// The key paths of JSON files in file order (Python keeps it), without values and without
/// what is inside `HTTPHeaders` (botocore records the HTTP headers; we have none to record).
const SHAPE: &str = r#"
import json, sys
def walk(v, at, out):
    if isinstance(v, dict):
        for k, x in v.items():
            out.append(at + k)
            if k != "HTTPHeaders":
                walk(x, at + k + "/", out)
    return out
print(json.dumps([walk(json.load(open(p)), "", []) for p in sys.argv[1:]]))
"#;

#[test]
fn botocore_uses_the_role_credentials_we_cached() {
    let fx = Fx::new();
    write_role_config(&fx, "external_id = ext-9\nduration_seconds = 7200\n");
    fx.mock.sts_require_external_id(ROLE, "ext-9");
    let s = RoleStep { external_id: Some("ext-9".into()), duration_seconds: Some(7200), ..step(ROLE) };
    let c = assume_role::assume(&fx.ctx(), &s, &fx.source(), false, None).unwrap();
    assert_eq!(fx.mock.assume_role_count(ROLE), 1);
    let v = python(&fx, &[LOAD, "bedrock"]);
    assert_eq!(fx.mock.assume_role_count(ROLE), 1, "botocore must use our cache: {}", fx.mock.dump());
    assert_eq!(v["key"], c.access_key_id.as_str());
    assert_eq!(v["secret"], sha1(c.secret_access_key.expose()).as_str());
    assert_eq!(v["token"], sha1(c.session_token.as_ref().unwrap().expose()).as_str());
}

/// `[profile web]`: web identity with a token file.
fn write_web_config(fx: &Fx, jwt: &str) -> WebIdentity {
    let token_file = fx.home.write("token", jwt);
    fx.home.write(
        ".aws/config",
        format!(
            "[profile web]\nrole_arn = {ROLE}\nweb_identity_token_file = {}\nrole_session_name = pod-7\nregion = eu-west-1\n",
            token_file.display()
        ),
    );
    WebIdentity {
        profile: "web".into(),
        role_arn: ROLE.into(),
        token_file,
        session_name: Some("pod-7".into()),
        duration_seconds: None,
        region: Some("eu-west-1".into()),
    }
}

#[test]
fn web_identity_cache_interchange_with_botocore() {
    let fx = Fx::new();
    let jwt = format!("eyJBOTOWEB{}.p.s", std::process::id());
    fx.mock.sts_add_web_identity_token(&jwt);
    let w = write_web_config(&fx, &jwt);
    let ctx = fx.ctx();

    // botocore (as the AWS CLI wires it) fetches and caches; we find it.
    let v = python(&fx, &[LOAD, "web"]);
    assert_eq!(fx.mock.web_identity_count(ROLE), 1, "{}", fx.mock.dump());
    let c = web_identity::cached(&ctx, &w).expect("botocore's web identity cache is found");
    assert_eq!(v["key"], c.access_key_id.as_str());
    assert_eq!(v["token"], sha1(c.session_token.as_ref().unwrap().expose()).as_str());

    // Ours written (over botocore's) → botocore uses it without calling STS.
    let ours = web_identity::assume(&ctx, &w).unwrap();
    assert_eq!(fx.mock.web_identity_count(ROLE), 2);
    let v = python(&fx, &[LOAD, "web"]);
    assert_eq!(fx.mock.web_identity_count(ROLE), 2, "botocore must use our cache: {}", fx.mock.dump());
    assert_eq!(v["key"], ours.access_key_id.as_str());
}
