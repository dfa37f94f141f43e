//! Profiles resolved into chains, through the CLI: `status` rows for a role chain over SSO, an
//! `aws login` session and an MFA role (fixed clock, no network); `refresh --profile` asking
//! for an MFA code on stdin; `daemon --once` renewing an `aws login` session and a role over
//! keys; `doctor --offline` on broken and healthy chains. STS and Sign-In are the mock's, with
//! the real clock (the mock issues credentials relative to now).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use test_support::mock::signin::{DpopTestKey, LoginSession, SAME_DEVICE_CLIENT_ID};
use test_support::{MockAws, RunOutput, TestHome, rfc3339, unix_now};

use crate::{CORP, REFRESH, all_logs, assert_clean, chmod, command, run, run_at_now, write_token};

const ROLE: &str = "arn:aws:iam::111122223333:role/KalBedrock";
/// botocore's cache file for `{"RoleArn": ROLE}` (sha1 of `json.dumps(args, sort_keys=True)`).
const ROLE_CACHE: &str = ".aws/cli/cache/f80c9ecace670741c5910425d552bb9dee3fd8fb.json";
const MFA_ROLE: &str = "arn:aws:iam::111122223333:role/KalAdmin";
const SERIAL: &str = "arn:aws:iam::111122223333:mfa/me";
/// botocore's cache file for `{"RoleArn": MFA_ROLE, "SerialNumber": SERIAL}`, computed apart
/// (`printf '%s' '{"RoleArn": "…", "SerialNumber": "…"}' | sha1sum`).
const MFA_CACHE: &str = ".aws/cli/cache/ec25c9261aed9c4c9b65c60317a1433f5935b671.json";
/// The MFA code the mock accepts, and one it refuses.
const CODE: &str = "730915";
const WRONG_CODE: &str = "482616";
const SRC_KEY: &str = "AKIACHAINSRC00000001";
const SRC_SECRET: &str = "srcSECRETchainKEYvalue0123456789abcdef";
const CACHED_SECRET: &str = "cacSECRETassumedROLEvalue0123456789";
const CACHED_TOKEN: &str = "cacTOKENassumedROLEsession0123456789";
const LOGIN_SECRET: &str = "lgnSECRETaccessKEYvalue0123456789";
const LOGIN_TOKEN: &str = "lgnTOKENsessionVALUE0123456789abcdef";
const LOGIN_REFRESH: &str = "lgnREFRESHtokenVALUE0123456789abcdef";

/// An assume-role cache file as the AWS CLI writes it (`json.dumps`, `Expiration` with `UTC`).
fn write_role_cache(home: &TestHome, rel: &str, role: &str, key_id: &str, expiration: &str) {
    let name = role.rsplit('/').next().unwrap();
    let p = home.write(
        rel,
        format!(
            "{{\"Credentials\": {{\"AccessKeyId\": \"{key_id}\", \"SecretAccessKey\": \"{CACHED_SECRET}\", \
             \"SessionToken\": \"{CACHED_TOKEN}\", \"Expiration\": \"{expiration}\", \"AccountId\": \"111122223333\"}}, \
             \"AssumedRoleUser\": {{\"AssumedRoleId\": \"AROAEXAMPLEROLEID0001:botocore-session-1795000000\", \
             \"Arn\": \"arn:aws:sts::111122223333:assumed-role/{name}/botocore-session-1795000000\"}}, \
             \"ResponseMetadata\": {{\"RequestId\": \"4f1c0e52-mock\", \"HTTPStatusCode\": 200, \"RetryAttempts\": 0}}}}"
        ),
    );
    chmod(&p, 0o600);
}

/// botocore's `Expiration` format for a Unix time: `2026-11-22T13:00:00UTC`.
fn botocore_time(unix: u64) -> String {
    rfc3339(unix).replace('Z', "UTC")
}

/// Long-term keys `[src]`, the mock knowing them when there is one.
fn write_source_keys(home: &TestHome, mock: Option<&MockAws>) {
    if let Some(m) = mock {
        m.add_key(SRC_KEY, SRC_SECRET, None, true);
    }
    home.write(
        ".aws/credentials",
        format!("[src]\naws_access_key_id = {SRC_KEY}\naws_secret_access_key = {SRC_SECRET}\n"),
    );
}

fn mfa_profile() -> String {
    format!("[profile admin]\nrole_arn = {MFA_ROLE}\nsource_profile = src\nmfa_serial = {SERIAL}\nregion = us-east-1\n")
}

/// Everything secret these tests use, for `assert_no_secret`.
fn our_secrets() -> Vec<&'static str> {
    vec![SRC_SECRET, CACHED_SECRET, CACHED_TOKEN, LOGIN_SECRET, LOGIN_TOKEN, LOGIN_REFRESH, REFRESH]
}

/// The secrets of an AWS CLI cache file (role or login), if it holds any.
fn cache_secrets(path: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let Ok(v) = serde_json::from_str::<Value>(&text) else { return Vec::new() };
    let mut out = Vec::new();
    for (outer, inner) in [
        ("Credentials", "SecretAccessKey"),
        ("Credentials", "SessionToken"),
        ("accessToken", "secretAccessKey"),
        ("accessToken", "sessionToken"),
    ] {
        if let Some(s) = v[outer][inner].as_str() {
            out.push(s.to_string());
        }
    }
    if let Some(s) = v["refreshToken"].as_str() {
        out.push(s.to_string());
    }
    out
}

fn assert_no_secret(text: &str, extra: &[String]) {
    let mut all: Vec<&str> = our_secrets();
    all.extend(extra.iter().map(String::as_str));
    test_support::assert_no_secret(text, &all);
}

/// The "Profiles used by the Claude Code hooks" table: its lines up to the empty line.
fn profile_table(stdout: &str) -> String {
    let start =
        stdout.find("Profiles used by the Claude Code hooks").unwrap_or_else(|| panic!("no profiles:\n{stdout}"));
    stdout[start..].split("\n\n").next().unwrap().to_string()
}

/// The `! …` notes at the end of the table output.
fn notes(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| l.starts_with("! ")).collect()
}

/// `status` at the fixed clock with the hooks on `profile`: it succeeds and shows no secret
/// (nor one of `extra`); returns its stdout.
fn status(home: &TestHome, profile: &str, extra: &[String]) -> String {
    let out = run_at_now(home, None, &["status"], &[("AWS_PROFILE", profile)]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_no_secret(&(out.stdout.clone() + &out.stderr), extra);
    out.stdout
}

/// The same with `--json`, parsed.
fn status_json(home: &TestHome, profile: &str, extra: &[String]) -> Value {
    let out = run_at_now(home, None, &["status", "--json"], &[("AWS_PROFILE", profile)]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_no_secret(&out.stdout, extra);
    serde_json::from_str(&out.stdout).unwrap()
}

fn profile_json<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["profiles"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("no {name}: {v}"))
}

// ---------------------------------------------------------------------------------------------
// status

#[test]
fn status_shows_a_role_chain_over_sso_with_the_cached_role_expiry_and_the_session_end() {
    let home = TestHome::new();
    home.write(
        ".aws/config",
        format!("{}\n[profile bedrock]\nrole_arn = {ROLE}\nsource_profile = dev\n", CORP.config_text()),
    );
    // The SSO token has 20 minutes left, refreshable until its registration ends in 90 days.
    write_token(&home, "corp", "2026-11-22T12:20:00Z", Some(REFRESH), "2027-02-20T12:00:00Z");
    // dev's own role credentials are not cached; the assumed role's are, for an hour.
    write_role_cache(&home, ROLE_CACHE, ROLE, "ASIACACHEDROLE000001", "2026-11-22T13:00:00UTC");

    let stdout = status(&home, "bedrock", &[]);
    assert_eq!(
        profile_table(&stdout),
        "Profiles used by the Claude Code hooks\n\
         \x20 PROFILE  SOURCE      SESSION / FIELD                          CREDENTIALS  NEXT LOGIN\n\
         \x20 bedrock  role chain  bedrock ← role ← dev (sso-session corp)  1h0m         login in 90d0h",
        "\n{stdout}"
    );
    // The SSO session row says when the login is due; nothing is due within a day.
    assert!(stdout.contains("  corp     dev       20m"), "{stdout}");
    assert_eq!(notes(&stdout), Vec::<&str>::new(), "{stdout}");

    let v = status_json(&home, "bedrock", &[]);
    assert_eq!(v["profiles"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(
        v["profiles"][0],
        json!({
            "name": "bedrock", "source": "sso", "chain": "bedrock ← role ← dev (sso-session corp)", "roles": 1,
            "session": "corp", "expiryField": null,
            "expiresAt": "2026-11-22T13:00:00Z", "secondsLeft": 3600,
            "stepNeededAt": "2027-02-20T12:00:00Z", "stepNeeded": "login",
            "nextStep": "run `aws sso login --sso-session corp`", "error": null
        }),
        "\n{v}"
    );
}

/// An `aws login` cache file as the AWS CLI leaves it, with our fixed secrets: keys valid until
/// `expires_at`, the login at `logged_in_at` (Unix seconds).
fn write_login_cache(home: &TestHome, session: &str, expires_at: &str, logged_in_at: u64) -> LoginSession {
    let key = DpopTestKey::generate().unwrap();
    let rel = format!(".aws/login/cache/{}.json", test_support::sigv4::sha256_hex(session.as_bytes()));
    let s = LoginSession {
        session: session.to_string(),
        client_id: SAME_DEVICE_CLIENT_ID.to_string(),
        refresh_token: LOGIN_REFRESH.to_string(),
        access_key_id: "ASIALOGINCACHED00001".to_string(),
        secret_access_key: LOGIN_SECRET.to_string(),
        session_token: LOGIN_TOKEN.to_string(),
        account_id: "111122223333".to_string(),
        cache_path: home.join(&rel),
        dpop_key_pem: key.sec1_pem(),
        public_key: key.public_key.clone(),
    };
    let p = home.write(&rel, s.cache_json(expires_at, logged_in_at));
    chmod(&p, 0o600);
    s
}

#[test]
fn status_shows_an_aws_login_session_and_when_it_ends() {
    let home = TestHome::new();
    let session = "arn:aws:iam::111122223333:user/console-me";
    // Logged in two hours before the fixed clock: the session ends 12 hours after the login.
    let logged_in = keepalive_core::expiry::parse("2026-11-22T10:00:00Z").unwrap().unix_timestamp();
    let login = write_login_cache(&home, session, "2026-11-22T12:08:00Z", u64::try_from(logged_in).unwrap());
    home.write(".aws/config", login.config_text("ai", "us-east-1"));

    let pem_body: String = login.dpop_key_pem.lines().nth(1).unwrap().chars().skip(12).collect();
    let stdout = status(&home, "ai", std::slice::from_ref(&pem_body));
    assert_eq!(
        profile_table(&stdout),
        "Profiles used by the Claude Code hooks\n\
         \x20 PROFILE  SOURCE     SESSION / FIELD  CREDENTIALS  NEXT LOGIN\n\
         \x20 ai       aws-login  -                8m           login in 10h0m",
        "\n{stdout}"
    );
    assert!(stdout.contains("SSO sessions: none in the AWS config"), "{stdout}");
    // Within a day: a note names the chain, when the login is due and the command.
    assert_eq!(
        notes(&stdout),
        ["! profile ai (ai (aws login)): needs a login in 10h0m; run `aws login --profile ai`"],
        "{stdout}"
    );

    let v = status_json(&home, "ai", &[pem_body]);
    assert_eq!(
        *profile_json(&v, "ai"),
        json!({
            "name": "ai", "source": "aws-login", "chain": "ai (aws login)", "roles": 0,
            "session": null, "expiryField": null,
            "expiresAt": "2026-11-22T12:08:00Z", "secondsLeft": 480,
            "stepNeededAt": "2026-11-22T22:00:00Z", "stepNeeded": "login",
            "nextStep": "run `aws login --profile ai`", "error": null
        }),
        "\n{v}"
    );
}

#[test]
fn status_shows_when_an_mfa_role_needs_a_code_and_what_to_run() {
    let home = TestHome::new();
    write_source_keys(&home, None);
    home.write(".aws/config", mfa_profile());

    // Nothing cached: the code is needed now.
    let stdout = status(&home, "admin", &[]);
    let table = profile_table(&stdout);
    assert!(
        table.ends_with("  admin    role chain  admin ← role ← src (keys in credentials)  -            mfa NOW"),
        "\n{stdout}"
    );
    assert_eq!(
        notes(&stdout),
        [
            "! profile admin (admin ← role ← src (keys in credentials)): needs an MFA code now; run `cc-aws-keepalive refresh --profile admin` in a terminal and enter your MFA code"
        ],
        "{stdout}"
    );

    // Cached for an hour (under the key that includes the MFA serial): the code is due then.
    write_role_cache(&home, MFA_CACHE, MFA_ROLE, "ASIACACHEDMFAROLE001", "2026-11-22T13:00:00UTC");
    let stdout = status(&home, "admin", &[]);
    assert!(
        profile_table(&stdout)
            .ends_with("  admin    role chain  admin ← role ← src (keys in credentials)  1h0m         mfa in 1h0m"),
        "\n{stdout}"
    );
    assert_eq!(
        notes(&stdout),
        [
            "! profile admin (admin ← role ← src (keys in credentials)): needs an MFA code in 1h0m; run `cc-aws-keepalive refresh --profile admin` in a terminal and enter your MFA code"
        ],
        "{stdout}"
    );

    let v = status_json(&home, "admin", &[]);
    assert_eq!(
        *profile_json(&v, "admin"),
        json!({
            "name": "admin", "source": "credentials-file", "chain": "admin ← role ← src (keys in credentials)",
            "roles": 1, "session": null, "expiryField": null,
            "expiresAt": "2026-11-22T13:00:00Z", "secondsLeft": 3600,
            "stepNeededAt": "2026-11-22T13:00:00Z", "stepNeeded": "mfa",
            "nextStep": "run `cc-aws-keepalive refresh --profile admin` in a terminal and enter your MFA code",
            "error": null
        }),
        "\n{v}"
    );
}

// ---------------------------------------------------------------------------------------------
// refresh --profile with an MFA role

fn mfa_home(mock: &MockAws) -> TestHome {
    let home = TestHome::new();
    write_source_keys(&home, Some(mock));
    home.write(".aws/config", mfa_profile());
    mock.sts_require_mfa(MFA_ROLE, SERIAL, CODE);
    home
}

/// `refresh --profile admin` (more `args` first) with `stdin` as the terminal's input.
fn refresh_admin(home: &TestHome, mock: &MockAws, args: &[&str], stdin: &[u8]) -> RunOutput {
    let mut all = vec!["refresh"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--profile", "admin"]);
    let mut cmd = command(home, Some(mock), &all);
    cmd.env("AWS_ENDPOINT_URL", mock.url());
    let out = test_support::run(&mut cmd, stdin, Duration::from_secs(60));
    assert!(!out.timed_out && !out.stderr.contains("panicked"), "{}", out.describe());
    out
}

/// Output, log and state files: no MFA code, no secret.
fn assert_mfa_clean(home: &TestHome, outputs: &str) {
    let mut texts = outputs.to_string() + &all_logs(home);
    for f in test_support::files_below(&home.state_dir()) {
        texts.push_str(&String::from_utf8_lossy(&std::fs::read(&f).unwrap_or_default()));
    }
    for code in [CODE, WRONG_CODE] {
        assert!(!texts.contains(code), "the MFA code {code} appears:\n{texts}");
    }
    // The assumed role's secret and session token, as STS issued them and the cache holds them.
    assert_no_secret(&texts, &cache_secrets(&home.join(MFA_CACHE)));
}

#[test]
fn refresh_profile_asks_for_the_mfa_code_and_caches_the_role_where_the_aws_cli_does() {
    let mock = MockAws::start();
    let home = mfa_home(&mock);
    let out = refresh_admin(&home, &mock, &[], format!("{CODE}\n").as_bytes());
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(out.stderr.contains(&format!("MFA code for {SERIAL} (profile admin): ")), "{}", out.describe());
    assert!(
        out.stdout.contains("profile admin (admin ← role ← src (keys in credentials)): credentials valid until "),
        "{}",
        out.describe()
    );
    let calls = mock.sts_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    assert_eq!(call.action, "AssumeRole");
    assert_eq!(call.role_arn, MFA_ROLE);
    assert_eq!(call.serial_number.as_deref(), Some(SERIAL));
    assert_eq!(call.token_code.as_deref(), Some(CODE));
    assert_eq!(call.source_key.as_deref(), Some(SRC_KEY));
    assert_eq!(call.error, None);
    let issued = call.issued_key.clone().unwrap();

    // Cached where the AWS CLI looks for this role (the key includes the MFA serial), 0600.
    let cached: Value = serde_json::from_str(&home.read(MFA_CACHE)).unwrap();
    assert_eq!(cached["Credentials"]["AccessKeyId"], issued.as_str(), "{cached}");
    assert!(cached["Credentials"]["Expiration"].as_str().unwrap().ends_with("UTC"), "{cached}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.join(MFA_CACHE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    assert!(home.try_read(ROLE_CACHE).is_none(), "cached under the key without the serial");
    let logs = all_logs(&home);
    assert!(logs.contains(&format!("assumed {MFA_ROLE} for profile admin ({issued})")), "{logs}");

    // Without a terminal the cached credentials serve: no prompt answer needed, no STS call.
    let again = refresh_admin(&home, &mock, &[], b"");
    assert_eq!(again.status, Some(0), "{}", again.describe());
    assert!(again.stdout.contains("credentials valid until"), "{}", again.describe());
    assert_eq!(mock.sts_calls().len(), 1, "served from the cache");
    assert_eq!(serde_json::from_str::<Value>(&home.read(MFA_CACHE)).unwrap(), cached);

    // --force assumes the role again, which needs a new code: none on stdin, so it fails.
    let forced = refresh_admin(&home, &mock, &["--force"], b"");
    assert_eq!(forced.status, Some(1), "{}", forced.describe());
    assert!(forced.stdout.contains("in a terminal"), "{}", forced.describe());
    assert_eq!(mock.sts_calls().len(), 1, "no call without a code");
    assert_eq!(serde_json::from_str::<Value>(&home.read(MFA_CACHE)).unwrap(), cached, "the cache survives");

    let outputs = [&out, &again, &forced].iter().map(|o| o.stdout.clone() + &o.stderr).collect::<String>();
    assert_mfa_clean(&home, &outputs);
}

#[test]
fn refresh_profile_with_a_wrong_mfa_code_fails_in_one_line() {
    let mock = MockAws::start();
    let home = mfa_home(&mock);
    let out = refresh_admin(&home, &mock, &[], format!("{WRONG_CODE}\n").as_bytes());
    assert_eq!(out.status, Some(1), "{}", out.describe());
    let calls = mock.sts_calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].token_code.as_deref(), Some(WRONG_CODE));
    assert_eq!(calls[0].error.as_deref(), Some("AccessDenied"));
    // One line: the profile and STS's reason.
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.describe());
    let line = out.stdout.trim_end();
    assert!(line.starts_with("profile admin: "), "{line}");
    assert!(line.contains("MultiFactorAuthentication failed"), "{line}");
    // The prompt is the only thing on stderr.
    assert_eq!(out.stderr, format!("MFA code for {SERIAL} (profile admin): "), "{}", out.describe());
    assert!(home.try_read(MFA_CACHE).is_none(), "nothing cached after a refusal");
    assert_mfa_clean(&home, &(out.stdout.clone() + &out.stderr));
}

#[test]
fn refresh_profile_without_a_terminal_says_to_run_it_in_one() {
    let mock = MockAws::start();
    let home = mfa_home(&mock);
    let out = refresh_admin(&home, &mock, &[], b"");
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert!(mock.sts_calls().is_empty(), "no call without a code: {:?}", mock.sts_calls());
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.describe());
    assert!(out.stdout.contains("run `cc-aws-keepalive refresh --profile admin` in a terminal"), "{}", out.describe());
    assert!(home.try_read(MFA_CACHE).is_none());
    assert_mfa_clean(&home, &(out.stdout.clone() + &out.stderr));
}

// ---------------------------------------------------------------------------------------------
// daemon --once

fn daemon_once(home: &TestHome, mock: &MockAws) -> RunOutput {
    run(home, Some(mock), &["daemon", "--once"], &[("AWS_ENDPOINT_URL", &mock.url())])
}

#[test]
fn daemon_renews_an_aws_login_session_about_to_expire() {
    let mock = MockAws::start();
    let home = TestHome::new();
    // Keys with 5 minutes left: inside the 30-minute threshold (and the hooks' 10-minute margin).
    let login = mock.write_login_session(
        &home.join(".aws/login/cache"),
        "arn:aws:iam::111122223333:user/daemon",
        unix_now() + 300,
    );
    home.write(".aws/config", login.config_text("ai", "us-east-1"));
    home.write(".config/cc-aws-keepalive/config.json", r#"{"profile":"ai"}"#);

    let out = daemon_once(&home, &mock);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(mock.login_refresh_calls(), 1, "{}", mock.dump());
    assert!(mock.rejected_dpop_proofs().is_empty(), "{:?}", mock.rejected_dpop_proofs());
    let cache: Value = serde_json::from_str(&std::fs::read_to_string(&login.cache_path).unwrap()).unwrap();
    assert_eq!(cache["accessToken"]["accessKeyId"], mock.issued_login_keys()[0].as_str(), "{cache}");
    assert_eq!(cache["refreshToken"], mock.issued_login_refresh_tokens()[0].as_str(), "the rotated token is saved");
    let line = "profile ai (ai (aws login)): credentials valid until ";
    assert!(out.stdout.contains(line), "{}", out.describe());
    let logs = all_logs(&home);
    assert!(logs.lines().any(|l| l.contains("daemon") && l.contains(line)), "{logs}");

    let mut secrets = cache_secrets(&login.cache_path);
    secrets.extend([login.refresh_token.clone(), login.secret_access_key.clone(), login.session_token.clone()]);
    assert_no_secret(&(out.stdout.clone() + &out.stderr + &logs), &secrets);
    assert_clean(&logs, Some(&mock));
}

#[test]
fn daemon_assumes_a_role_again_when_its_cached_credentials_are_within_the_threshold() {
    let mock = MockAws::start();
    let home = TestHome::new();
    write_source_keys(&home, Some(&mock));
    home.write(
        ".aws/config",
        format!("[profile bedrock]\nrole_arn = {ROLE}\nsource_profile = src\nregion = us-east-1\n"),
    );
    home.write(".config/cc-aws-keepalive/config.json", r#"{"profile":"bedrock"}"#);
    // 20 minutes left: fresh enough for the hooks, inside the daemon's 30-minute threshold.
    write_role_cache(&home, ROLE_CACHE, ROLE, "ASIACACHEDROLE000001", &botocore_time(unix_now() + 20 * 60));

    let out = daemon_once(&home, &mock);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert_eq!(mock.assume_role_count(ROLE), 1, "{:?}", mock.sts_calls());
    let call = &mock.sts_calls()[0];
    assert_eq!(call.source_key.as_deref(), Some(SRC_KEY));
    let issued = call.issued_key.clone().unwrap();
    let cached: Value = serde_json::from_str(&home.read(ROLE_CACHE)).unwrap();
    assert_eq!(cached["Credentials"]["AccessKeyId"], issued.as_str(), "{cached}");
    let line = "profile bedrock (bedrock ← role ← src (keys in credentials)): credentials valid until ";
    assert!(out.stdout.contains(line), "{}", out.describe());
    assert!(all_logs(&home).lines().any(|l| l.contains(line)), "{}", all_logs(&home));

    // Now an hour left: outside the threshold, nothing to do.
    let again = daemon_once(&home, &mock);
    assert_eq!(again.status, Some(0), "{}", again.describe());
    assert_eq!(mock.assume_role_count(ROLE), 1, "{:?}", mock.sts_calls());
    assert_eq!(serde_json::from_str::<Value>(&home.read(ROLE_CACHE)).unwrap(), cached);

    let logs = all_logs(&home);
    let secrets = cache_secrets(&home.join(ROLE_CACHE));
    assert_no_secret(&(out.stdout + &out.stderr + &again.stdout + &again.stderr + &logs), &secrets);
}

// ---------------------------------------------------------------------------------------------
// doctor --offline

fn doctor_home() -> TestHome {
    let home = TestHome::new();
    write_source_keys(&home, None);
    home.write(
        ".aws/config",
        format!(
            "[profile a]\nrole_arn = arn:aws:iam::111122223333:role/A\nsource_profile = b\n\
             [profile b]\nrole_arn = arn:aws:iam::111122223333:role/B\nsource_profile = a\n\
             [profile ec2]\nrole_arn = arn:aws:iam::111122223333:role/E\ncredential_source = Ec2InstanceMetadata\n\
             [profile bedrock]\nrole_arn = {ROLE}\nsource_profile = src\nregion = us-east-1\n{}",
            mfa_profile()
        ),
    );
    home
}

/// `doctor --offline` for hook profile `profile`: the lines about it (with their fix lines).
fn doctor_lines(home: &TestHome, profile: &str) -> (RunOutput, Vec<String>) {
    home.write(".config/cc-aws-keepalive/config.json", json!({ "profile": profile }).to_string());
    let out = run_at_now(home, None, &["doctor", "--offline"], &[]);
    assert!(matches!(out.status, Some(0 | 1)), "{}", out.describe());
    let subject = format!("  profile {profile}: ");
    let mut lines = Vec::new();
    let mut keep = false;
    for l in out.stdout.lines() {
        if l.contains(&subject) {
            keep = true;
        } else if !l.starts_with("         fix:") {
            keep = false;
        }
        if keep {
            lines.push(l.to_string());
        }
    }
    assert_no_secret(&(out.stdout.clone() + &out.stderr), &[]);
    (out, lines)
}

#[test]
fn doctor_names_a_cycle_and_a_host_only_credential_source() {
    let home = doctor_home();
    let (out, lines) = doctor_lines(&home, "a");
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert_eq!(
        lines,
        [
            "PROBLEM  profile a: the source_profile links form a cycle: a → b → a; break it by giving one profile its own credentials",
            "         fix: fix the profile in the AWS config file as described",
        ],
        "{}",
        out.stdout
    );

    let (out, lines) = doctor_lines(&home, "ec2");
    assert_eq!(out.status, Some(1), "{}", out.describe());
    assert_eq!(lines.len(), 2, "{}", out.stdout);
    assert!(lines[0].starts_with("PROBLEM  profile ec2: "), "{}", out.stdout);
    assert!(
        lines[0].contains("credential_source = Ec2InstanceMetadata, which only works on an EC2 instance"),
        "{}",
        out.stdout
    );
    assert!(lines[0].contains("use source_profile with a profile that has credentials"), "{}", out.stdout);
}

#[test]
fn doctor_notes_an_mfa_role_and_passes_a_healthy_chain() {
    let home = doctor_home();
    let (out, lines) = doctor_lines(&home, "admin");
    assert_eq!(
        lines,
        [
            format!("note     profile admin: assuming {MFA_ROLE} needs an MFA code ({SERIAL})"),
            "         fix: run `cc-aws-keepalive refresh --profile admin` in a terminal when it asks; the hooks use the cached credentials until they end".to_string(),
            "ok       profile admin: admin ← role ← src (keys in credentials)".to_string(),
        ],
        "{}",
        out.stdout
    );

    let (out, lines) = doctor_lines(&home, "bedrock");
    assert_eq!(lines, ["ok       profile bedrock: bedrock ← role ← src (keys in credentials)"], "{}", out.stdout);
    assert!(!out.stdout.contains("PROBLEM  profile"), "{}", out.stdout);
}
