//! A rotated refresh token is never lost (issue 9, item 1): after AWS answers a refresh, the
//! old refresh token is dead, so a save that fails or a process killed mid-call would cost a
//! browser login. Against the mock, through a delaying proxy that lets the mock rotate the
//! token and then holds the answer:
//!
//! - kills of `cc-aws-export` (SIGTERM, SIGINT, SIGKILL, and SIGKILL to its whole process
//!   group) at random moments of a held `CreateToken` / `/v1/token`; after each, a fresh
//!   export succeeds with no `invalid_grant` and the file holds the mock's live refresh token;
//! - a full disk (a tiny tmpfs in a private mount namespace): the refresh waits, unspent;
//! - a bind-mounted token file (rename answers EBUSY): written in place;
//! - a read-only bind-mounted token file: the token waits in the stash and is adopted later.
//!
//! Children get default signal dispositions (`env --default-signal`), whatever this test
//! process inherited (`nohup`, `&` in a script ignore SIGINT), and each is reaped.

// Signals, process groups and mount namespaces are Linux/Unix matters.
#![cfg(target_os = "linux")]

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal, kill_process, kill_process_group};
use serde_json::Value;
use test_support::{DelayProxy, MockAws, Route, RunOutput, TestHome, rfc3339, unix_now};

use crate::bin;
use crate::sso::Sso;

/// How long the proxy holds each refresh answer after the mock has rotated the token.
const HOLD: Duration = Duration::from_millis(150);
/// Kills per signal kind for SSO, and for `aws login`.
const SSO_KILLS: usize = 20;
const LOGIN_KILLS: usize = 6;
/// No single spawn-to-exit may take longer than this.
const RUN_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
enum Stop {
    Term,
    Int,
    Kill,
    /// SIGKILL to the export's whole process group, as Claude Code may stop a hook.
    Group,
}

impl Stop {
    const ALL: [Stop; 4] = [Stop::Term, Stop::Int, Stop::Kill, Stop::Group];

    fn signal(self) -> Signal {
        match self {
            Stop::Term => Signal::TERM,
            Stop::Int => Signal::INT,
            Stop::Kill | Stop::Group => Signal::KILL,
        }
    }

    fn send(self, pid: u32) {
        let pid = Pid::from_raw(pid as i32).unwrap();
        match self {
            Stop::Group => kill_process_group(pid, Signal::KILL).unwrap(),
            _ => kill_process(pid, self.signal()).unwrap(),
        }
    }
}

/// xorshift64*: random kill offsets without a dependency.
struct Rng(u64);

impl Rng {
    fn from_time() -> Rng {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
        Rng(nanos | 1)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// `bin` started with default signal dispositions, in its own process group (so a group kill
/// reaches it and nothing of ours), output discarded.
fn spawn_hook(home: &TestHome, name: &str, env: &[(&str, String)]) -> Child {
    let mut cmd = home.command("/usr/bin/env");
    cmd.arg("--default-signal").arg(bin(name));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).process_group(0);
    cmd.spawn().unwrap()
}

/// Reaps `child` (bounded; a child overstaying is killed and the test fails).
fn reap(mut child: Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + RUN_LIMIT;
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a hook did not end within {RUN_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The refresh worker of `s` runs in its own process group (not the export's, `export_pid`)
/// and ignores the signals service managers and terminals send.
fn assert_worker_detached(s: &Sso, export_pid: u32) {
    let worker = crate::crash::find_worker(s).expect("the export started no refresh worker");
    let stat = std::fs::read_to_string(format!("/proc/{worker}/stat")).unwrap();
    // Fields after the command name: state, ppid, pgrp.
    let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
    assert_eq!(fields[2], worker.to_string(), "the worker leads its own process group");
    assert_ne!(fields[2], export_pid.to_string());
    let status = std::fs::read_to_string(format!("/proc/{worker}/status")).unwrap();
    let ignored = status.lines().find_map(|l| l.strip_prefix("SigIgn:")).unwrap().trim();
    let mask = u64::from_str_radix(ignored, 16).unwrap();
    for sig in [Signal::HUP, Signal::INT, Signal::QUIT, Signal::TERM] {
        assert!(mask & (1 << (sig.as_raw() - 1)) != 0, "the worker does not ignore {sig:?}: SigIgn {ignored}");
    }
}

/// Moves the cached SSO token into the refresh window (5 minutes left), keeping whatever
/// refresh token it holds now, and forgets the role credentials so the export needs it.
fn sso_into_window(s: &Sso) {
    let mut t = s.token();
    t["expiresAt"] = rfc3339(unix_now() + 300).into();
    s.home.write(s.token_rel(), t.to_string());
    let _ = std::fs::remove_dir_all(s.home.join(".aws/cli/cache"));
}

fn invalid_grants(mock: &MockAws) -> usize {
    mock.requests()
        .iter()
        .filter(|r| matches!(r.route, Route::Token | Route::SigninToken) && r.status != Some(200))
        .count()
}

#[test]
fn kills_during_a_held_create_token_never_cost_the_session() {
    let _heavy = crate::load::HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let s = Sso::new();
    s.write_token(300, 80 * 86400);
    let proxy = DelayProxy::start(&s.mock);
    proxy.hold("/token", HOLD);
    let env = [("AWS_ENDPOINT_URL_SSO_OIDC", proxy.url()), ("AWS_ENDPOINT_URL_SSO", s.mock.url())];
    let mut rng = Rng::from_time();
    let seed = rng.0;
    let mut runs = 0;
    for kind in Stop::ALL {
        for i in 0..SSO_KILLS {
            sso_into_window(&s);
            let answered = proxy.answered("/token");
            let child = spawn_hook(&s.home, "export", &env);
            let pid = child.id();
            proxy
                .wait_answered("/token", answered, RUN_LIMIT)
                .unwrap_or_else(|| panic!("{kind:?} #{i}: the export never reached CreateToken\n{}", s.mock.dump()));
            if i == 0 {
                assert_worker_detached(&s, pid);
            }
            // The mock has rotated the refresh token; its answer is held. Kill at a random
            // moment of the hold.
            std::thread::sleep(Duration::from_micros(rng.below(HOLD.as_micros() as u64 * 9 / 10)));
            kind.send(pid);
            let status = reap(child);
            assert_eq!(
                status.signal(),
                Some(kind.signal().as_raw()),
                "{kind:?} #{i} (seed {seed}): the export was not killed by the signal: {status}"
            );
            runs += 1;
            // A fresh export: no browser, no invalid_grant, no second CreateToken.
            let out = s.run("export", b"", &[("AWS_ENDPOINT_URL_SSO_OIDC", &proxy.url())]);
            assert!(out.success(), "{kind:?} #{i} (seed {seed}): {}\n{}", out.describe(), s.mock.dump());
            assert!(proxy.settle("/token", RUN_LIMIT));
            assert_eq!(invalid_grants(&s.mock), 0, "{kind:?} #{i} (seed {seed}): {}", s.mock.dump());
            assert_eq!(s.mock.count(Route::Token), runs, "{kind:?} #{i}: one CreateToken per run");
            assert_eq!(
                s.token()["refreshToken"].as_str(),
                s.mock.refresh_token().as_deref(),
                "{kind:?} #{i} (seed {seed}): the file does not hold the live refresh token"
            );
        }
    }
    assert_eq!(s.mock.issued_refresh_tokens().len(), runs);
    // Nothing stashed: every save reached the cache file.
    assert!(test_support::files_below(&s.home.state_dir().join("cc-aws-keepalive/stash")).is_empty());
    eprintln!(
        "token_safety: {runs} kills of cc-aws-export during a held CreateToken ({SSO_KILLS} each of SIGTERM, SIGINT, \
         SIGKILL, process-group SIGKILL; seed {seed}) in {:?}: 0 invalid_grant, 0 lost rotations",
        started.elapsed()
    );
}

#[test]
fn kills_during_a_held_aws_login_refresh_never_cost_the_session() {
    let _heavy = crate::load::HEAVY.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let mock = MockAws::start();
    let home = TestHome::new();
    let session = "arn:aws:iam::111122223333:user/kills";
    let login = mock.write_login_session(&home.join(".aws/login/cache"), session, unix_now() + 300);
    home.write(".aws/config", login.config_text("ai", "us-east-1"));
    home.write(".config/cc-aws-keepalive/config.json", r#"{"profile":"ai"}"#);
    let proxy = DelayProxy::start(&mock);
    proxy.hold("/v1/token", HOLD);
    let env = [("AWS_ENDPOINT_URL_SIGNIN", proxy.url())];
    let cache = || -> Value { serde_json::from_str(&std::fs::read_to_string(&login.cache_path).unwrap()).unwrap() };
    let mut rng = Rng::from_time();
    let seed = rng.0;
    let mut runs = 0;
    for kind in Stop::ALL {
        for i in 0..LOGIN_KILLS {
            // Keys with 5 minutes left: inside the 10-minute margin, so the export refreshes.
            let mut c = cache();
            c["accessToken"]["expiresAt"] = rfc3339(unix_now() + 300).into();
            std::fs::write(&login.cache_path, c.to_string()).unwrap();
            let answered = proxy.answered("/v1/token");
            let child = spawn_hook(&home, "export", &env);
            let pid = child.id();
            proxy
                .wait_answered("/v1/token", answered, RUN_LIMIT)
                .unwrap_or_else(|| panic!("{kind:?} #{i}: the export never reached /v1/token\n{}", mock.dump()));
            std::thread::sleep(Duration::from_micros(rng.below(HOLD.as_micros() as u64 * 9 / 10)));
            kind.send(pid);
            let status = reap(child);
            assert_eq!(status.signal(), Some(kind.signal().as_raw()), "{kind:?} #{i} (seed {seed}): {status}");
            runs += 1;
            let mut cmd = home.command(bin("export"));
            cmd.env("AWS_ENDPOINT_URL_SIGNIN", proxy.url());
            let out = test_support::run(&mut cmd, b"", RUN_LIMIT);
            assert!(out.success(), "{kind:?} #{i} (seed {seed}): {}\n{}", out.describe(), mock.dump());
            test_support::assert_no_secret(&out.stderr, &[&login.refresh_token, &login.secret_access_key]);
            assert!(proxy.settle("/v1/token", RUN_LIMIT));
            assert_eq!(invalid_grants(&mock), 0, "{kind:?} #{i} (seed {seed}): {}", mock.dump());
            assert_eq!(mock.login_refresh_calls(), runs, "{kind:?} #{i}: one /v1/token per run");
            assert_eq!(
                cache()["refreshToken"].as_str(),
                mock.issued_login_refresh_tokens().last().map(String::as_str),
                "{kind:?} #{i} (seed {seed}): the cache does not hold the live refresh token"
            );
        }
    }
    eprintln!(
        "token_safety: {runs} kills of cc-aws-export during a held aws login refresh ({LOGIN_KILLS} per signal kind; \
         seed {seed}) in {:?}: 0 refused refreshes",
        started.elapsed()
    );
}

/// Whether this process may make private mount namespaces (root, or user namespaces).
fn unshare_works() -> bool {
    std::process::Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -t tmpfs -o size=4k tmpfs /mnt"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Runs `script` with `sh` in a private mount namespace as the hooks' environment: `$EXPORT`
/// is the export hook, `$TOKEN` the session's token cache file.
fn in_namespace(s: &Sso, script: &str) -> RunOutput {
    let mut cmd = s.home.command("unshare");
    cmd.args(["-m", "sh", "-c", script])
        .env("EXPORT", bin("export"))
        .env("TOKEN", s.home.join(s.token_rel()))
        .env("AWS_ENDPOINT_URL_SSO_OIDC", s.mock.url())
        .env("AWS_ENDPOINT_URL_SSO", s.mock.url());
    let out = test_support::run(&mut cmd, b"", RUN_LIMIT);
    assert!(!out.timed_out && !out.stderr.contains("panicked"), "{}", out.describe());
    s.assert_no_secret(&out.stderr);
    out
}

fn log(s: &Sso) -> String {
    s.home.try_read(".local/state/cc-aws-keepalive/keepalive.log").unwrap_or_default()
}

#[test]
fn a_full_disk_stops_the_refresh_before_the_refresh_token_is_spent() {
    if !unshare_works() {
        eprintln!(
            "skipping a_full_disk_stops_the_refresh_before_the_refresh_token_is_spent: unshare -m is not permitted here"
        );
        return;
    }
    for (case, access_secs) in [("inside the window", 300), ("expired", -60)] {
        let s = Sso::new();
        s.write_token(access_secs, 80 * 86400);
        // The token cache on a 64 KiB tmpfs, filled up; exports on the full disk, then once
        // there is room again.
        let out = in_namespace(
            &s,
            r#"
            cache=$(dirname "$TOKEN"); cp "$TOKEN" "$HOME/token.orig"
            mount -t tmpfs -o size=64k,mode=0700 tmpfs "$cache" || exit 90
            cp "$HOME/token.orig" "$TOKEN"; chmod 600 "$TOKEN"
            dd if=/dev/zero of="$cache/filler" bs=1024 2>/dev/null
            "$EXPORT" > "$HOME/out1" 2> "$HOME/err1"; echo $? > "$HOME/code1"
            cp "$HOME/.local/state/cc-aws-keepalive/keepalive.log" "$HOME/log1" 2>/dev/null
            rm -rf "$HOME/.aws/cli/cache" "$cache/filler"
            "$EXPORT" > "$HOME/out2" 2> "$HOME/err2"; echo $? > "$HOME/code2"
            cp "$TOKEN" "$HOME/token.final"; ls -a "$cache" > "$HOME/cache.list"
            "#,
        );
        assert!(out.success(), "{case}: {}", out.describe());
        let tokens: Vec<_> = s.mock.requests().into_iter().filter(|r| r.route == Route::Token).collect();
        assert_eq!(tokens.len(), 1, "{case}: one CreateToken, once there was room: {}", s.mock.dump());
        assert_eq!(tokens[0].status, Some(200), "{case}: no invalid_grant: {}", s.mock.dump());
        let first = (s.home.read("code1"), s.home.read("err1"));
        if access_secs > 0 {
            // The still-valid access token serves meanwhile; the refresh was not attempted.
            assert_eq!(first.0.trim(), "0", "{case}: {first:?}");
            let log1 = s.home.read("log1");
            assert!(log1.contains("No space left on device") && log1.contains("not refreshed"), "{case}: {log1}");
        } else {
            assert_eq!(first.0.trim(), "1", "{case}: {first:?}");
            assert!(
                first.1.contains("No space left on device") && first.1.contains(".aws/sso/cache"),
                "{case}: the error names the cause and the file: {}",
                first.1
            );
            assert_eq!(first.1.trim().lines().count(), 1, "{case}: {}", first.1);
        }
        assert_eq!(s.home.read("code2").trim(), "0", "{case}: {}", s.home.read("err2"));
        let fin: Value = serde_json::from_str(&s.home.read("token.final")).unwrap();
        assert_eq!(fin["refreshToken"].as_str(), s.mock.refresh_token().as_deref(), "{case}");
        // No temp file stayed behind on the tmpfs.
        assert!(!s.home.read("cache.list").contains(".tmp."), "{case}: {}", s.home.read("cache.list"));
        s.assert_no_secret(&log(&s));
    }
}

#[test]
fn a_bind_mounted_token_file_is_refreshed_in_place() {
    if !unshare_works() {
        eprintln!("skipping a_bind_mounted_token_file_is_refreshed_in_place: unshare -m is not permitted here");
        return;
    }
    let s = Sso::new();
    s.write_token(-60, 80 * 86400);
    let inode = std::fs::metadata(s.home.join(s.token_rel())).map(|m| std::os::unix::fs::MetadataExt::ino(&m)).unwrap();
    // As a devcontainer mounts a single file: renaming over it answers EBUSY.
    let out = in_namespace(
        &s,
        r#"mount --bind "$TOKEN" "$TOKEN" || exit 90
           "$EXPORT" > "$HOME/out1" 2> "$HOME/err1"; echo $? > "$HOME/code1""#,
    );
    assert!(out.success(), "{}", out.describe());
    assert_eq!(s.home.read("code1").trim(), "0", "{}", s.home.read("err1"));
    assert_eq!(s.mock.count(Route::Token), 1);
    let t = s.token();
    assert_eq!(t["refreshToken"].as_str(), s.mock.refresh_token().as_deref(), "the live refresh token is in the file");
    assert_ne!(t["refreshToken"], s.refresh_token.as_str());
    assert_eq!(t["unknownField"], "kept");
    let meta = std::fs::metadata(s.home.join(s.token_rel())).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::ino(&meta), inode, "the same file, written in place");
    assert_eq!(std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777, 0o600);
    assert!(log(&s).contains("wrote it in place"), "{}", log(&s));
    assert!(test_support::files_below(&s.home.state_dir().join("cc-aws-keepalive/stash")).is_empty());
    // And the next export is served from that file, without another CreateToken.
    let _ = std::fs::remove_dir_all(s.home.join(".aws/cli/cache"));
    let again = s.run("export", b"", &[]);
    assert!(again.success(), "{}", again.describe());
    assert_eq!(s.mock.count(Route::Token), 1);
}

#[test]
fn a_token_file_that_cannot_be_written_keeps_the_token_in_the_stash_until_it_can() {
    if !unshare_works() {
        eprintln!(
            "skipping a_token_file_that_cannot_be_written_keeps_the_token_in_the_stash_until_it_can: unshare -m is not permitted here"
        );
        return;
    }
    let s = Sso::new();
    s.write_token(-60, 80 * 86400);
    // A read-only single-file mount: no rename, no in-place write. The folder stays writable,
    // so the prepared temp file exists and the refresh goes ahead.
    let out = in_namespace(
        &s,
        r#"mount --bind "$TOKEN" "$TOKEN" && mount -o remount,ro,bind "$TOKEN" || exit 90
           "$EXPORT" > "$HOME/out1" 2> "$HOME/err1"; echo $? > "$HOME/code1"
           rm -rf "$HOME/.aws/cli/cache"
           "$EXPORT" > "$HOME/out2" 2> "$HOME/err2"; echo $? > "$HOME/code2""#,
    );
    assert!(out.success(), "{}", out.describe());
    assert_eq!(s.home.read("code1").trim(), "0", "{}", s.home.read("err1"));
    assert_eq!(s.home.read("code2").trim(), "0", "the stashed token serves the next call: {}", s.home.read("err2"));
    assert_eq!(s.mock.count(Route::Token), 1, "{}", s.mock.dump());
    let stash_dir = s.home.state_dir().join("cc-aws-keepalive/stash");
    let stashed = test_support::files_below(&stash_dir);
    assert_eq!(stashed.len(), 1, "{stashed:?}");
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&stashed[0]).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&stash_dir).unwrap().permissions().mode() & 0o777, 0o700);
    }
    let kept: Value = serde_json::from_str(&std::fs::read_to_string(&stashed[0]).unwrap()).unwrap();
    assert_eq!(kept["refreshToken"].as_str(), s.mock.refresh_token().as_deref());
    assert_eq!(s.token()["refreshToken"], s.refresh_token.as_str(), "the file itself could not change");
    assert!(log(&s).contains("kept in"), "{}", log(&s));
    s.assert_no_secret(&log(&s));

    // Outside the namespace the file is writable again: the next call adopts the stash.
    let _ = std::fs::remove_dir_all(s.home.join(".aws/cli/cache"));
    let out = s.run("export", b"", &[]);
    assert!(out.success(), "{}", out.describe());
    assert_eq!(s.mock.count(Route::Token), 1, "no second refresh: {}", s.mock.dump());
    assert_eq!(invalid_grants(&s.mock), 0);
    assert_eq!(s.token()["refreshToken"].as_str(), s.mock.refresh_token().as_deref());
    assert_eq!(s.token()["unknownField"], "kept");
    assert!(test_support::files_below(&stash_dir).is_empty(), "the stash is removed once written back");
}
