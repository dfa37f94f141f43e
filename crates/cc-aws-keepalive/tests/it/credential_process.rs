//! `credential_process` helpers through the CLI: `refresh --profile` runs the helper where it
//! can prompt and shows its last stderr line, and a failed run makes `status` show the error
//! and `doctor` fail until a run succeeds.

use test_support::{TestHome, assert_no_secret};

use crate::run;

const PROC_SECRET: &str = "cpSECRETxKEYxVALUEx0123456789abcdef";
const PROC_TOKEN: &str = "cpTOKENxSESSIONxVALUEx0123456789abc";
const MFA_LINE: &str = "MFA device not present; touch your YubiKey";

/// A helper that prints credentials valid for an hour from the real clock.
fn good_helper() -> String {
    let exp = crate::iso(time::OffsetDateTime::now_utc() + time::Duration::hours(1));
    format!(
        "echo run >> \"$HOME/runs.log\"\necho 'using the cached session' >&2\n\
         printf '{{\"Version\": 1, \"AccessKeyId\": \"ASIAPROC\", \"SecretAccessKey\": \"{PROC_SECRET}\", \
         \"SessionToken\": \"{PROC_TOKEN}\", \"Expiration\": \"{exp}\"}}'\n"
    )
}

/// A helper that says something, prints its secret on stdout and fails with the YubiKey line.
fn failing_helper() -> String {
    format!(
        "echo run >> \"$HOME/runs.log\"\necho 'looking for a security key' >&2\necho '{PROC_SECRET}'\n\
         printf '\\033[31m{MFA_LINE}\\033[0m\\n' >&2\nexit 1\n"
    )
}

/// Everything in order for doctor (wired settings, region), the hooks' profile `proc` running
/// `sh helper.sh`.
fn proc_home(helper: &str) -> TestHome {
    let home = TestHome::new();
    let script = home.write("helper.sh", helper);
    home.write(
        ".aws/config",
        format!("[profile proc]\ncredential_process = sh {}\nregion = us-east-1\n", script.display()),
    );
    crate::wire_claude_code(&home, "proc");
    home
}

fn runs(home: &TestHome) -> usize {
    home.try_read("runs.log").map(|s| s.lines().count()).unwrap_or(0)
}

#[test]
fn refresh_runs_the_helper_and_shows_its_last_stderr_line() {
    let home = proc_home(&failing_helper());
    let out = run(&home, None, &["refresh", "--profile", "proc"], &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert_eq!(runs(&home), 1);
    let said: Vec<&str> = out.stdout.lines().filter(|l| l.contains(MFA_LINE)).collect();
    assert_eq!(said.len(), 1, "{}", out.describe());
    assert!(said[0].contains("failed (exit status: 1): MFA device"), "{}", said[0]);
    assert!(!said[0].contains('\x1b'), "{}", said[0]);
    // The CLI passes the helper's stderr through as it comes (its prompts must be seen).
    assert!(out.stderr.contains("looking for a security key"), "{}", out.describe());
    assert_no_secret(&format!("{}{}", out.stdout, out.stderr), &[PROC_SECRET]);

    home.write("helper.sh", good_helper());
    let out = run(&home, None, &["refresh", "--profile", "proc"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("profile proc (") && out.stdout.contains("valid until"), "{}", out.describe());
    assert_no_secret(&format!("{}{}", out.stdout, out.stderr), &[PROC_SECRET, PROC_TOKEN]);
}

#[test]
fn a_failed_helper_shows_in_status_and_fails_doctor_until_a_run_succeeds() {
    let home = proc_home(&good_helper());
    assert_eq!(run(&home, None, &["refresh", "--profile", "proc"], &[]).status, Some(0));
    let doctor = run(&home, None, &["doctor", "--offline"], &[]);
    assert_eq!(doctor.status, Some(0), "{}", doctor.describe());

    // The cache runs out and the next run fails.
    home.write("helper.sh", failing_helper());
    let later = crate::iso(time::OffsetDateTime::now_utc() + time::Duration::minutes(55));
    let out = run(&home, None, &["refresh", "--profile", "proc"], &[("CC_KEEPALIVE_NOW", &later)]);
    assert_eq!(out.status, Some(1), "{}", out.describe());

    let status = run(&home, None, &["status"], &[("CC_KEEPALIVE_NOW", &later)]);
    assert!(status.stdout.contains(MFA_LINE), "{}", status.describe());
    assert!(status.stdout.contains("cc-aws-keepalive refresh --profile proc"), "{}", status.describe());
    let json = run(&home, None, &["status", "--json"], &[("CC_KEEPALIVE_NOW", &later)]);
    assert!(json.stdout.contains(MFA_LINE), "{}", json.describe());
    let doctor = run(&home, None, &["doctor", "--offline"], &[("CC_KEEPALIVE_NOW", &later)]);
    assert_eq!(doctor.status, Some(1), "{}", doctor.describe());
    let problem = doctor.stdout.lines().find(|l| l.contains("profile proc")).unwrap_or_default();
    assert!(problem.starts_with("PROBLEM") && problem.contains(MFA_LINE), "{}", doctor.describe());
    // The fix is one that can work: a run where the helper can prompt, not "log in again".
    assert!(
        doctor
            .stdout
            .contains("run `cc-aws-keepalive refresh --profile proc` in a terminal: the helper can prompt there"),
        "{}",
        doctor.describe()
    );
    for out in [&status, &json, &doctor] {
        assert_no_secret(&format!("{}{}", out.stdout, out.stderr), &[PROC_SECRET, PROC_TOKEN]);
    }

    // Fixed: one successful run clears it everywhere.
    home.write("helper.sh", good_helper());
    assert_eq!(run(&home, None, &["refresh", "--profile", "proc"], &[]).status, Some(0));
    let doctor = run(&home, None, &["doctor", "--offline"], &[]);
    assert_eq!(doctor.status, Some(0), "{}", doctor.describe());
    let status = run(&home, None, &["status"], &[]);
    assert!(!status.stdout.contains(MFA_LINE), "{}", status.describe());
}

/// In a terminal the helper stays in the foreground process group: it can prompt on
/// `/dev/tty` and read the answer (in a group of its own it would be stopped by SIGTTIN).
#[test]
fn a_helper_prompts_on_the_terminal_of_refresh() {
    if !test_support::on_path("script") {
        eprintln!("skipped: no `script` (util-linux) to give the CLI a terminal");
        return;
    }
    let home = proc_home(&format!(
        "printf 'MFA code for arn:aws:iam::111122223333:mfa/me: ' > /dev/tty\nread code < /dev/tty\n\
         [ \"$code\" = 123456 ] || {{ echo \"wrong code: $code\" >&2; exit 1; }}\n{}",
        good_helper()
    ));
    let mut cmd = home.command("script");
    cmd.args(["-qec", &format!("'{}' refresh --profile proc", crate::bin()), "/dev/null"])
        .env("CC_KEEPALIVE_NO_SERVICE_MANAGER", "1")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    let out = test_support::run(&mut cmd, b"123456\n", std::time::Duration::from_secs(20));
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stdout.contains("MFA code for arn:aws:iam::111122223333:mfa/me:"), "{}", out.describe());
    assert!(out.stdout.contains("valid until"), "{}", out.describe());
    assert_eq!(runs(&home), 1);
    assert_no_secret(&format!("{}{}", out.stdout, out.stderr), &[PROC_SECRET, PROC_TOKEN]);
}
