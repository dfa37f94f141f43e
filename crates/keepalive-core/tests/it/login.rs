//! `aws login` sessions against the mock's Sign-In (DPoP verified, refresh tokens single use)
//! and with the real botocore on the same cache: each tool takes the other's refresh without
//! calling Sign-In again. python3 with botocore[crt] is required: these tests fail, never skip,
//! without it.

use std::sync::{Arc, Barrier};
use std::time::Duration as StdDuration;

use keepalive_core::ctx::Ctx;
use keepalive_core::env::Env;
use keepalive_core::providers::LoginProfile;
use keepalive_core::providers::login;
use serde_json::Value;
use test_support::client::{Creds, SignedRequest, send_signed};
use test_support::mock::signin::LoginSession;
use test_support::{Fault, MockAws, ReadOnly, Route, TestHome, run, unix_now};
use time::{Duration, OffsetDateTime};

use crate::support::{is_botocore_timestamp, mode};

const SESSION: &str = "arn:aws:iam::111122223333:user/console-user";

struct Fx {
    home: TestHome,
    mock: MockAws,
    sess: LoginSession,
}

/// A home with profile `console` on an `aws login` session whose keys expire `expires_in`
/// seconds from now (negative: already expired), and the mock that knows the session.
fn fx(expires_in: i64) -> Fx {
    let home = TestHome::new();
    let mock = MockAws::start();
    let at = unix_now().saturating_add_signed(expires_in);
    let sess = mock.write_login_session(&home.join(".aws/login/cache"), SESSION, at);
    home.write(".aws/config", sess.config_text("console", "us-east-1"));
    Fx { home, mock, sess }
}

impl Fx {
    fn env(&self) -> Env {
        let home = self.home.path();
        Env::from_pairs([
            ("HOME", home.to_str().unwrap()),
            ("AWS_CONFIG_FILE", home.join(".aws/config").to_str().unwrap()),
            ("XDG_STATE_HOME", home.join(".local/state").to_str().unwrap()),
            ("AWS_ENDPOINT_URL_SIGNIN", &self.mock.url()),
        ])
    }

    fn ctx(&self) -> Ctx {
        Ctx::new(self.env(), OffsetDateTime::now_utc())
    }

    fn profile(&self) -> LoginProfile {
        LoginProfile { profile: "console".into(), session: SESSION.into(), region: Some("us-east-1".into()) }
    }

    fn cache(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(&self.sess.cache_path).unwrap()).unwrap()
    }

    /// Every secret of the session and the mock's answers.
    fn secrets(&self) -> Vec<String> {
        let mut v = vec![
            self.sess.secret_access_key.clone(),
            self.sess.session_token.clone(),
            self.sess.refresh_token.clone(),
            self.sess.dpop_key_pem.lines().nth(1).unwrap().to_string(),
        ];
        v.extend(self.mock.issued_login_refresh_tokens());
        v.push(self.cache()["accessToken"]["secretAccessKey"].as_str().unwrap().to_string());
        v.push(self.cache()["accessToken"]["sessionToken"].as_str().unwrap().to_string());
        v
    }

    /// Runs `script` with botocore in this home, pointed at the mock; returns stdout.
    fn botocore(&self, script: &str) -> String {
        crate::support::botocore(&self.home, &self.mock, &["AWS_ENDPOINT_URL_SIGNIN"], &[script])
    }
}

/// Resolves profile `console` through botocore's whole credential chain (its login provider,
/// refreshing when it wants to) and prints the key id.
const BOTOCORE_KEY: &str = r#"
import botocore.session
c = botocore.session.Session(profile="console").get_credentials()
assert c.method == "login", c.method
print("KEY", c.get_frozen_credentials().access_key)
"#;

/// Prints the cache file re-dumped by Python's `json.dumps`: equal to the file when the file
/// is in botocore's layout.
const REDUMP: &str = r#"
import json, sys
sys.stdout.write(json.dumps(json.load(open(sys.argv[1]))))
"#;

fn sts_ok(mock: &MockAws, c: &keepalive_core::creds::Credentials) -> bool {
    let creds = Creds {
        access_key_id: &c.access_key_id,
        secret_access_key: c.secret_access_key.expose(),
        session_token: c.session_token.as_ref().map(|t| t.expose()),
    };
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    let headers = &[("content-type", "application/x-www-form-urlencoded")];
    let r = send_signed(
        &mock.url(),
        &SignedRequest { method: "POST", path: "/", query: "", headers, body, service: "sts", creds },
    )
    .unwrap();
    r.status == 200
}

#[test]
fn refreshes_an_expired_key_and_writes_it_back_like_botocore() {
    let f = fx(-60);
    let before = f.cache();
    let c = login::credentials(&f.ctx(), &f.profile()).unwrap();
    assert_eq!(f.mock.login_refresh_calls(), 1);
    assert!(f.mock.rejected_dpop_proofs().is_empty(), "{:?}", f.mock.rejected_dpop_proofs());
    assert_eq!(c.access_key_id, f.mock.issued_login_keys()[0]);
    assert!(sts_ok(&f.mock, &c), "the new key verifies at STS: {}", f.mock.dump());
    let left = c.expiration.unwrap() - OffsetDateTime::now_utc();
    assert!(left > Duration::minutes(14) && left <= Duration::minutes(15), "{left}");

    let after = f.cache();
    assert_eq!(after["accessToken"]["accessKeyId"], c.access_key_id.as_str());
    assert_eq!(after["refreshToken"], f.mock.issued_login_refresh_tokens()[0].as_str());
    assert!(is_botocore_timestamp(after["accessToken"]["expiresAt"].as_str().unwrap()));
    for kept in ["tokenType", "clientId", "idToken", "dpopKey"] {
        assert_eq!(after[kept], before[kept], "{kept}");
    }
    assert_eq!(after["accessToken"]["accountId"], before["accessToken"]["accountId"]);
    assert_eq!(mode(&f.sess.cache_path), 0o600);
    // Byte for byte what Python's json.dumps makes of it.
    let text = std::fs::read_to_string(&f.sess.cache_path).unwrap();
    let mut cmd = f.home.command("python3");
    cmd.args(["-c", REDUMP, f.sess.cache_path.to_str().unwrap()]);
    assert_eq!(run(&mut cmd, b"", StdDuration::from_secs(60)).stdout, text);

    // Fresh now: no second call, same key.
    assert_eq!(login::credentials(&f.ctx(), &f.profile()).unwrap().access_key_id, c.access_key_id);
    assert_eq!(f.mock.login_refresh_calls(), 1);
    let log = std::fs::read_to_string(f.home.join(".local/state/cc-aws-keepalive/keepalive.log")).unwrap();
    assert!(log.contains("refreshed aws login session of profile console"), "{log}");
    let secrets = f.secrets();
    test_support::assert_no_secret(&log, &secrets.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn refresh_honours_the_window_and_force() {
    let f = fx(20 * 60);
    let p = f.profile();
    let cached = login::refresh(&f.ctx(), &p, false).unwrap();
    assert_eq!(f.mock.login_refresh_calls(), 0, "20 minutes left: nothing to do");
    let forced = login::refresh(&f.ctx(), &p, true).unwrap();
    assert_eq!(f.mock.login_refresh_calls(), 1);
    assert!(forced < cached, "a 15-minute key replaced the 20-minute one");
    // Eight minutes left: inside our 10-minute window (botocore would wait until 5).
    let in_window = Ctx::new(f.env(), OffsetDateTime::now_utc() + Duration::minutes(7));
    login::refresh(&in_window, &p, false).unwrap();
    assert_eq!(f.mock.login_refresh_calls(), 2);
    let st = login::status(&f.ctx(), &p);
    assert!(st.found && st.refresh_possible && st.fresh() && st.problem.is_none(), "{st:?}");
    assert!(st.session_ends_at.is_some_and(|t| t > OffsetDateTime::now_utc() + Duration::hours(11)), "{st:?}");
}

#[test]
fn refused_fresh_keys_are_replaced_once() {
    let f = fx(20 * 60);
    let p = f.profile();
    let refused = login::credentials(&f.ctx(), &p).unwrap();
    assert_eq!(f.mock.login_refresh_calls(), 0, "fresh keys are used as cached");
    let new = login::replace(&f.ctx(), &p, &refused.access_key_id).unwrap();
    assert_eq!(f.mock.login_refresh_calls(), 1);
    assert_ne!(new.access_key_id, refused.access_key_id);
    assert!(sts_ok(&f.mock, &new), "{}", f.mock.dump());
    // A second session refused the same key meanwhile: it takes the new keys, no call.
    let again = login::replace(&f.ctx(), &p, &refused.access_key_id).unwrap();
    assert_eq!((again.access_key_id, f.mock.login_refresh_calls()), (new.access_key_id, 1));
}

#[test]
fn botocore_refreshes_against_the_mock_and_we_take_its_key() {
    let f = fx(-60);
    let out = f.botocore(BOTOCORE_KEY);
    assert_eq!(f.mock.login_refresh_calls(), 1, "botocore refreshed: {out}\n{}", f.mock.dump());
    assert!(f.mock.rejected_dpop_proofs().is_empty(), "{:?}", f.mock.rejected_dpop_proofs());
    let key = f.mock.issued_login_keys()[0].clone();
    assert!(out.contains(&format!("KEY {key}")), "{out}");
    assert_eq!(f.cache()["accessToken"]["accessKeyId"], key.as_str());

    let c = login::credentials(&f.ctx(), &f.profile()).unwrap();
    assert_eq!(c.access_key_id, key);
    assert_eq!(f.mock.login_refresh_calls(), 1, "we used botocore's key: {}", f.mock.dump());
    // And the next refresh uses the refresh token botocore stored (the mock takes only it).
    login::refresh(&f.ctx(), &f.profile(), true).unwrap();
    assert_eq!(f.mock.login_refresh_calls(), 2);
    assert_eq!(f.cache()["refreshToken"], f.mock.issued_login_refresh_tokens()[1].as_str());
}

#[test]
fn botocore_uses_the_key_we_refreshed_without_calling_sign_in() {
    let f = fx(-60);
    let c = login::credentials(&f.ctx(), &f.profile()).unwrap();
    assert_eq!(f.mock.login_refresh_calls(), 1);
    let out = f.botocore(BOTOCORE_KEY);
    assert!(out.contains(&format!("KEY {}", c.access_key_id)), "{out}");
    assert_eq!(f.mock.login_refresh_calls(), 1, "botocore must not refresh again: {}", f.mock.dump());
}

#[test]
fn eight_threads_one_refresh() {
    let f = fx(-60);
    let barrier = Arc::new(Barrier::new(8));
    let keys: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (ctx, p, barrier) = (f.ctx(), f.profile(), Arc::clone(&barrier));
                s.spawn(move || {
                    barrier.wait();
                    login::credentials(&ctx, &p).unwrap().access_key_id
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(f.mock.login_refresh_calls(), 1, "{}", f.mock.dump());
    assert!(keys.iter().all(|k| *k == f.mock.issued_login_keys()[0]), "{keys:?}");
}

#[test]
fn a_refused_refresh_needs_aws_login() {
    let f = fx(-60);
    f.mock.expire_next_login_refresh();
    let e = login::credentials(&f.ctx(), &f.profile()).unwrap_err();
    assert!(e.needs_login(), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("aws login --profile console") && msg.contains("TOKEN_EXPIRED"), "{msg}");
    assert!(!msg.contains('\n'));
    test_support::assert_no_secret(&msg, &f.secrets().iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(f.cache()["refreshToken"], f.sess.refresh_token.as_str(), "the file is left alone");
    assert_eq!(f.mock.login_refresh_calls(), 1);
}

#[test]
fn a_refusal_after_botocore_rotated_the_token_takes_botocores_key() {
    let f = fx(-60);
    // Our call is held 4 s; meanwhile botocore refreshes with the same refresh token and
    // stores the rotated one. Ours then arrives with the used token and is refused.
    f.mock.push_fault(Route::SigninToken, Fault::Slow(StdDuration::from_secs(4)));
    let (ctx, p) = (f.ctx(), f.profile());
    let ours = std::thread::spawn(move || login::credentials(&ctx, &p).map_err(|e| e.to_string()));
    let start = std::time::Instant::now();
    while f.mock.login_refresh_calls() == 0 && start.elapsed() < StdDuration::from_secs(10) {
        std::thread::sleep(StdDuration::from_millis(10));
    }
    let out = f.botocore(BOTOCORE_KEY);
    let botocore_key = f.mock.issued_login_keys()[0].clone();
    assert!(out.contains(&botocore_key), "{out}");
    let c = ours.join().unwrap().unwrap();
    assert_eq!(c.access_key_id, botocore_key, "{}", f.mock.dump());
    assert_eq!(f.mock.login_refresh_calls(), 2);
    assert_eq!(f.mock.issued_login_keys().len(), 1);
}

#[test]
fn an_unwritable_cache_is_not_refreshed() {
    let f = fx(-60);
    let dir = f.sess.cache_path.parent().unwrap().to_path_buf();
    let e = {
        let _ro = ReadOnly::new(&dir);
        login::credentials(&f.ctx(), &f.profile()).unwrap_err()
    };
    assert!(!e.needs_login(), "{e:?}");
    assert!(e.to_string().contains(dir.to_str().unwrap()), "{e}");
    assert_eq!(f.mock.login_refresh_calls(), 0, "the refresh token was not spent");
}

#[test]
fn network_and_config_errors_are_not_logins() {
    let f = fx(-60);
    let mut env = f.env();
    env.set("AWS_ENDPOINT_URL_SIGNIN", &format!("http://127.0.0.1:{}", crate::support::closed_port()));
    let e = login::credentials(&Ctx::new(env, OffsetDateTime::now_utc()), &f.profile()).unwrap_err();
    assert!(!e.needs_login() && e.to_string().contains("console"), "{e}");
    let mut env = f.env();
    env.set("AWS_ENDPOINT_URL_SIGNIN", "");
    let no_region = LoginProfile { region: None, ..f.profile() };
    let e = login::credentials(&Ctx::new(env, OffsetDateTime::now_utc()), &no_region).unwrap_err();
    assert!(!e.needs_login() && e.to_string().contains("region"), "{e}");
    f.mock.push_fault(Route::SigninToken, Fault::MalformedJson);
    let e = login::credentials(&f.ctx(), &f.profile()).unwrap_err();
    assert!(!e.needs_login() && e.to_string().contains("unusable answer"), "{e}");
    assert_eq!(f.cache()["refreshToken"], f.sess.refresh_token.as_str());
}
