//! Many Claude Code sessions at once: threads and processes asking for role
//! credentials together cause one CreateToken (and one portal call).

use std::path::PathBuf;
use std::sync::Barrier;
use std::time::{Duration as StdDuration, Instant};

use keepalive_core::ctx::Ctx;
use keepalive_core::providers::sso::{self, RefreshOutcome};
use test_support::{Route, run};
use time::{Duration, OffsetDateTime};

use crate::support::{Fixture, config, env_for};

const CHILD_HOME: &str = "SSO_IT_CHILD_HOME";
const CHILD_MOCK: &str = "SSO_IT_CHILD_MOCK";
const CHILD_GO: &str = "SSO_IT_CHILD_GO";

#[test]
fn eight_threads_one_create_token() {
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(5));
    let p = f.profile("dev");
    let barrier = Barrier::new(8);
    let keys: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let ctx = f.ctx();
                    barrier.wait();
                    sso::role_credentials(&ctx, &config(), &p).map(|c| c.access_key_id)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
    });
    assert_eq!(f.mock.count(Route::Token), 1, "{}", f.mock.dump());
    assert_eq!(f.mock.count(Route::RoleCredentials), 1, "{}", f.mock.dump());
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
}

#[test]
fn eight_threads_refresh_session_once() {
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(5));
    let p = f.profile("dev");
    let barrier = Barrier::new(8);
    let outcomes: Vec<RefreshOutcome> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    let ctx = f.ctx();
                    barrier.wait();
                    sso::refresh_session(&ctx, &config(), &p, false)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect()
    });
    assert_eq!(f.mock.count(Route::Token), 1, "{}", f.mock.dump());
    let refreshed = outcomes.iter().filter(|o| matches!(o, RefreshOutcome::Refreshed { .. })).count();
    assert_eq!(refreshed, 1, "{outcomes:?}");
}

/// Not a test on its own: the body of each child process of
/// [`processes_and_threads_one_create_token`], selected by environment.
#[test]
fn child_helper() {
    let (Ok(home), Ok(mock), Ok(go)) = (std::env::var(CHILD_HOME), std::env::var(CHILD_MOCK), std::env::var(CHILD_GO))
    else {
        return;
    };
    let go = PathBuf::from(go);
    let deadline = Instant::now() + StdDuration::from_secs(30);
    while !go.exists() && Instant::now() < deadline {
        std::thread::sleep(StdDuration::from_millis(2));
    }
    let ctx = Ctx::new(env_for(std::path::Path::new(&home), &mock), OffsetDateTime::now_utc());
    let result = sso::SsoProfile::load(&ctx, "dev").and_then(|p| sso::role_credentials(&ctx, &config(), &p));
    match result {
        Ok(c) => println!("CHILD-OK {}", c.access_key_id),
        Err(e) => println!("CHILD-ERR {e}"),
    }
}

#[test]
fn processes_and_threads_one_create_token() {
    let f = Fixture::new();
    f.write_corp_token(Duration::minutes(5));
    let p = f.profile("dev");
    let go = f.home.join("go");
    let exe = std::env::current_exe().unwrap();
    let keys: Vec<String> = std::thread::scope(|s| {
        let children: Vec<_> = (0..4)
            .map(|_| {
                let mut cmd = std::process::Command::new(&exe);
                cmd.args(["lock::child_helper", "--exact", "--nocapture", "--test-threads", "1"])
                    .env(CHILD_HOME, f.home.path())
                    .env(CHILD_MOCK, f.mock.url())
                    .env(CHILD_GO, &go);
                s.spawn(move || run(&mut cmd, b"", StdDuration::from_secs(90)))
            })
            .collect();
        // Give the children time to start and poll for the go file.
        std::thread::sleep(StdDuration::from_millis(300));
        std::fs::write(&go, "go").unwrap();
        let threads: Vec<_> = (0..4)
            .map(|_| s.spawn(|| sso::role_credentials(&f.ctx(), &config(), &p).map(|c| c.access_key_id)))
            .collect();
        let mut keys: Vec<String> = threads.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
        for c in children {
            let out = c.join().unwrap();
            assert!(out.success(), "{}", out.describe());
            // libtest prints the test name on the same line as our output.
            let key = out
                .stdout
                .split("CHILD-OK ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_else(|| panic!("child failed: {}", out.describe()));
            keys.push(key.to_string());
        }
        keys
    });
    assert_eq!(keys.len(), 8);
    assert_eq!(f.mock.count(Route::Token), 1, "{}", f.mock.dump());
    assert_eq!(f.mock.count(Route::RoleCredentials), 1, "{}", f.mock.dump());
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
}
