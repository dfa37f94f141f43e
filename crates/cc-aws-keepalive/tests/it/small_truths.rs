//! Small truths: `setup` says config.json was created only when it created it; `doctor` tells
//! an unreadable file, a directory and invalid JSON apart (settings.json and config.json, each
//! with its own fix), and prints each problem once however many checks run into it.

use std::process::Command;
use std::time::Duration;

use test_support::{RunOutput, TestHome};

use crate::{command, run};

const SETTINGS: &str = ".claude/settings.json";
const CONFIG: &str = ".config/cc-aws-keepalive/config.json";

#[test]
fn setup_says_config_created_only_when_it_created_it() {
    let home = TestHome::new();
    // settings.json is broken: setup stops before writing anything, and says nothing was created.
    home.write(SETTINGS, "{\"model\": ");
    let out = run(&home, None, &["setup"], &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(out.stderr.contains("not valid JSON"), "{}", out.describe());
    assert!(!out.stdout.contains("created"), "{}", out.stdout);
    assert!(home.try_read(CONFIG).is_none());

    // A dry run would create it, and says so in those words.
    home.write(SETTINGS, "{}\n");
    let out = run(&home, None, &["setup", "--dry-run"], &[]);
    assert!(out.stdout.contains("config.json would be created from the example"), "{}", out.stdout);
    assert!(home.try_read(CONFIG).is_none());

    // An existing config.json is not "created".
    home.write(CONFIG, "{\"profile\": \"dev\"}\n");
    let out = run(&home, None, &["setup"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("config.json exists"), "{}", out.stdout);
    assert!(!out.stdout.contains("created"), "{}", out.stdout);
    assert_eq!(home.read(CONFIG), "{\"profile\": \"dev\"}\n");

    // A missing one is, and it exists afterwards.
    std::fs::remove_file(home.join(CONFIG)).unwrap();
    let out = run(&home, None, &["setup"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("config.json created from the example"), "{}", out.stdout);
    assert!(home.try_read(CONFIG).is_some());
}

/// `PROBLEM  subject: message` lines (without their fix lines).
fn problems(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("PROBLEM")).collect()
}

/// No message is printed twice, under the same subject or another.
fn assert_each_problem_once(stdout: &str) {
    let messages: Vec<&str> =
        problems(stdout).iter().map(|l| l.split_once(": ").map_or(*l, |(_, m)| m.trim())).collect();
    for (i, m) in messages.iter().enumerate() {
        assert!(!messages[..i].contains(m), "printed twice: {m}\n{stdout}");
    }
}

fn doctor(home: &TestHome) -> RunOutput {
    run(home, None, &["doctor", "--offline"], &[])
}

#[test]
fn doctor_tells_a_directory_and_invalid_json_apart() {
    for (file, subject) in [(SETTINGS, "settings.json"), (CONFIG, "config.json")] {
        let home = TestHome::new();
        home.write(SETTINGS, "{\"env\": {\"CLAUDE_CODE_USE_BEDROCK\": \"1\"}}");
        home.write(CONFIG, "{}");

        std::fs::remove_file(home.join(file)).unwrap();
        std::fs::create_dir_all(home.join(file)).unwrap();
        let out = doctor(&home);
        assert_eq!(out.status, Some(1), "{}", out.describe());
        let about: Vec<&str> = problems(&out.stdout).into_iter().filter(|l| l.contains(subject)).collect();
        assert_eq!(about.len(), 1, "{file} as a directory: {}", out.stdout);
        assert!(about[0].contains("is a directory"), "{}", out.stdout);
        assert!(!about[0].contains("JSON"), "{}", out.stdout);
        assert!(out.stdout.contains(&format!("fix: move the directory '{}' away", home.join(file).display())));
        assert_each_problem_once(&out.stdout);

        std::fs::remove_dir(home.join(file)).unwrap();
        home.write(file, "{\"profile\": ");
        let out = doctor(&home);
        assert_eq!(out.status, Some(1), "{}", out.describe());
        let about: Vec<&str> = problems(&out.stdout).into_iter().filter(|l| l.contains(subject)).collect();
        assert_eq!(about.len(), 1, "{file} with invalid JSON: {}", out.stdout);
        assert!(about[0].contains("invalid JSON") && !about[0].contains("directory"), "{}", out.stdout);
        assert!(!about[0].contains("unreadable"), "{}", out.stdout);
        assert_each_problem_once(&out.stdout);
        if file == SETTINGS {
            // The broken file is one problem, not also a note that it "does not set" Bedrock.
            assert!(!out.stdout.contains("does not set CLAUDE_CODE_USE_BEDROCK"), "{}", out.stdout);
        }
    }
}

/// `cmd`, run where a mode-000 file really cannot be read: root reads anything, so for root
/// the capabilities that allow it are dropped (`setpriv`). `None` when that is not possible.
fn unprivileged(cmd: &Command, probe: &std::path::Path) -> Option<Command> {
    if std::fs::read(probe).is_err() {
        let mut c = Command::new(cmd.get_program());
        c.args(cmd.get_args());
        copy_env(cmd, &mut c);
        return Some(c);
    }
    let caps = "-dac_override,-dac_read_search";
    let works = Command::new("setpriv")
        .args(["--bounding-set", caps, "cat"])
        .arg(probe)
        .output()
        .is_ok_and(|o| !o.status.success() && String::from_utf8_lossy(&o.stderr).contains("Permission denied"));
    if !works {
        return None;
    }
    let mut c = Command::new("setpriv");
    c.args(["--bounding-set", caps, "--"]).arg(cmd.get_program()).args(cmd.get_args());
    copy_env(cmd, &mut c);
    Some(c)
}

fn copy_env(from: &Command, to: &mut Command) {
    to.env_clear();
    for (k, v) in from.get_envs() {
        if let Some(v) = v {
            to.env(k, v);
        }
    }
    if let Some(d) = from.get_current_dir() {
        to.current_dir(d);
    }
}

#[test]
fn doctor_says_unreadable_for_a_file_it_may_not_read() {
    for (file, subject) in [(SETTINGS, "settings.json"), (CONFIG, "config.json")] {
        let home = TestHome::new();
        home.write(SETTINGS, "{\"env\": {\"CLAUDE_CODE_USE_BEDROCK\": \"1\"}}");
        home.write(CONFIG, "{}");
        crate::chmod(&home.join(file), 0o000);
        let Some(mut cmd) = unprivileged(&command(&home, None, &["doctor", "--offline"]), &home.join(file)) else {
            eprintln!("skipped: running as root without a way to drop CAP_DAC_OVERRIDE (setpriv)");
            return;
        };
        let out = test_support::run(&mut cmd, b"", Duration::from_secs(60));
        crate::chmod(&home.join(file), 0o600);
        assert_eq!(out.status, Some(1), "{}", out.describe());
        let about: Vec<&str> = problems(&out.stdout).into_iter().filter(|l| l.contains(subject)).collect();
        assert_eq!(about.len(), 1, "{file} unreadable: {}", out.stdout);
        assert!(about[0].contains("unreadable") && about[0].contains("permission denied"), "{}", out.stdout);
        assert!(!about[0].contains("JSON") && !about[0].contains("directory"), "{}", out.stdout);
        assert!(out.stdout.contains(&format!("chmod 600 '{}'", home.join(file).display())), "{}", out.stdout);
        assert_each_problem_once(&out.stdout);
    }
}

#[test]
fn doctor_prints_each_problem_once() {
    let home = TestHome::new();
    home.write(
        SETTINGS,
        "{\"env\": {\"CLAUDE_CODE_USE_BEDROCK\": \"1\", \"AWS_REGION\": \"us-east-1\", \"AWS_PROFILE\": \"dev\"}}",
    );
    // Two hook profiles (config.json's and settings.json's AWS_PROFILE) on one session that is
    // not logged in: one problem, not one per profile plus one for the session.
    home.write(CONFIG, "{\"profile\": \"ops\"}");
    home.write(
        ".aws/config",
        "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Admin\nregion = us-east-1\n\
         [profile ops]\nsso_session = corp\nsso_account_id = 111122223333\nsso_role_name = Ops\nregion = us-east-1\n\
         [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-central-1\n\
         sso_registration_scopes = sso:account:access\n",
    );
    let out = doctor(&home);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    let login: Vec<&str> = problems(&out.stdout)
        .into_iter()
        .filter(|l| l.contains("not logged in") || l.contains("no cached token"))
        .collect();
    assert_eq!(login.len(), 1, "{}", out.stdout);
    // settings.json sets neither command: one problem (not wired), one fix.
    let wiring: Vec<&str> = problems(&out.stdout)
        .into_iter()
        .filter(|l| l.contains("awsCredentialExport") || l.contains("awsAuthRefresh"))
        .collect();
    assert_eq!(wiring.len(), 1, "{}", out.stdout);
    assert!(wiring[0].contains("sets neither"), "{}", out.stdout);
    assert_each_problem_once(&out.stdout);

    // A broken AWS config file: the session check and each profile reach it; said once.
    home.write(".aws/config", "[profile dev]\nsso_session = corp\ns3 =\n  not a pair\n");
    let out = doctor(&home);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    let parse: Vec<&str> = problems(&out.stdout).into_iter().filter(|l| l.contains("cannot parse")).collect();
    assert_eq!(parse.len(), 1, "{}", out.stdout);
    assert_each_problem_once(&out.stdout);
}
