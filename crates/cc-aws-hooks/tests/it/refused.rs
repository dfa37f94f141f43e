//! `cc-aws-refresh` when the cached credentials look fresh: Claude Code runs it after AWS
//! refused a call, so they are issued anew, silently, once for every session refused at the
//! same moment; credentials it has just made are not replaced, and keys no silent renewal can
//! replace are left as they are.

use std::time::Duration;

use test_support::{Fault, Route, RunOutput};

use crate::chain::{exported_key, keys_home, run};
use crate::sso::Sso;

const ISSUED: &str = "Issued new AWS credentials";

#[test]
fn fresh_looking_sso_role_credentials_are_replaced_once_per_refusal() {
    let s = Sso::new();
    s.write_token(2 * 3600, 80 * 86400);
    let first = Sso::exported_key(&s.run("export", b"", &[]));
    assert_eq!(s.mock.count(Route::RoleCredentials), 1);

    let out = s.run("refresh", b"", &[]);
    assert!(out.success() && out.stdout.contains(ISSUED), "{}", out.describe());
    assert!(!out.stdout.contains("browser"), "{}", out.stdout);
    assert_eq!((s.mock.count(Route::RoleCredentials), s.mock.count(Route::Token)), (2, 0), "{}", s.mock.dump());
    let second = Sso::exported_key(&s.run("export", b"", &[]));
    assert_ne!(second, first);
    assert!(s.mock.issued_role_keys().contains(&second));

    // Another refusal within Claude Code's own 30 s spacing: new credentials are not theirs
    // to fix again (model access, a policy); the run says they are valid.
    let out = s.run("refresh", b"", &[]);
    assert!(out.success() && !out.stdout.contains(ISSUED), "{}", out.describe());
    assert!(out.stdout.contains("valid for"), "{}", out.stdout);
    assert_eq!(s.mock.count(Route::RoleCredentials), 2);
}

#[test]
fn credentials_made_by_this_refresh_are_not_replaced() {
    let s = Sso::new();
    s.write_token(-60, 80 * 86400);
    let out = s.run("refresh", b"", &[]);
    assert!(out.success() && !out.stdout.contains(ISSUED), "{}", out.describe());
    assert_eq!((s.mock.count(Route::Token), s.mock.count(Route::RoleCredentials)), (1, 1), "{}", s.mock.dump());
}

#[test]
fn sessions_refused_together_share_one_replacement_of_a_role() {
    let mock = test_support::MockAws::start();
    let home = keys_home(&mock, "");
    let first = exported_key(&run(&home, &mock, "export", &[]));
    assert_eq!(mock.count(Route::Sts), 1);
    mock.push_fault(Route::Sts, Fault::Slow(Duration::from_millis(400)));
    let outs: Vec<RunOutput> = std::thread::scope(|sc| {
        let hs: Vec<_> = (0..6).map(|_| sc.spawn(|| run(&home, &mock, "refresh", &[]))).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for o in &outs {
        assert!(o.success(), "{}", o.describe());
    }
    assert_eq!(mock.count(Route::Sts), 2, "one AssumeRole for all six: {}", mock.dump());
    let now = exported_key(&run(&home, &mock, "export", &[]));
    assert_ne!(now, first);
    assert_eq!(mock.sts_issued_keys().last(), Some(&now));
}

#[test]
fn keys_no_silent_renewal_can_replace_are_left_as_they_are() {
    let mock = test_support::MockAws::start();
    let home = keys_home(&mock, "");
    // The source profile itself: static keys in the credentials file.
    let out = run(&home, &mock, "refresh", &[("CC_KEEPALIVE_PROFILE", "src")]);
    assert!(out.success() && !out.stdout.contains(ISSUED), "{}", out.describe());
    assert_eq!(mock.requests().len(), 0, "{}", mock.dump());
}
