//! The hooks on profiles botocore resolves through a chain: roles assumed from keys or from
//! SSO, environment keys, `AWS_DEFAULT_PROFILE`, MFA roles. Against the mock STS, with the
//! real clock (the mock issues credentials relative to now).

use std::time::Duration;

use serde_json::Value;
use test_support::{MockAws, Route, RunOutput, TestHome};

use crate::bin;
use crate::sso::Sso;

const SRC_KEY: &str = "AKIACHAINSOURCE00001";
const SRC_SECRET: &str = "chainSourceSecretValue0123456789abcdefgh";
const ROLE: &str = "arn:aws:iam::111122223333:role/KalBedrock";
/// botocore's cache key for `{"RoleArn": ROLE}` (REFERENCE.md's example).
const ROLE_CACHE: &str = ".aws/cli/cache/f80c9ecace670741c5910425d552bb9dee3fd8fb.json";

pub fn keys_home(mock: &MockAws, extra_config: &str) -> TestHome {
    let home = TestHome::new();
    mock.add_key(SRC_KEY, SRC_SECRET, None, true);
    home.write(
        ".aws/credentials",
        format!("[src]\naws_access_key_id = {SRC_KEY}\naws_secret_access_key = {SRC_SECRET}\n"),
    );
    home.write(
        ".aws/config",
        format!("[profile bedrock]\nrole_arn = {ROLE}\nsource_profile = src\nregion = us-east-1\n{extra_config}"),
    );
    home.write(".config/cc-aws-keepalive/config.json", r#"{"profile":"bedrock"}"#);
    home
}

pub fn run(home: &TestHome, mock: &MockAws, name: &str, env: &[(&str, &str)]) -> RunOutput {
    let mut cmd = home.command(bin(name));
    cmd.env("AWS_ENDPOINT_URL", mock.url());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = test_support::run(&mut cmd, b"{}", Duration::from_secs(60));
    assert!(!out.timed_out && !out.stderr.contains("panicked"), "{name}: {}", out.describe());
    test_support::assert_no_secret(&out.stderr, &[SRC_SECRET]);
    out
}

/// `n` exports at once against the mock, each with nothing on stdin.
fn parallel_exports(home: &TestHome, mock: &MockAws, n: usize) -> Vec<RunOutput> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            let mut cmd = home.command(bin("export"));
            cmd.env("AWS_ENDPOINT_URL", mock.url());
            std::thread::spawn(move || test_support::run(&mut cmd, b"", Duration::from_secs(60)))
        })
        .collect();
    children.into_iter().map(|c| c.join().unwrap()).collect()
}

pub fn exported_key(out: &RunOutput) -> String {
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap_or_else(|_| panic!("{}", out.describe()));
    v["Credentials"]["AccessKeyId"].as_str().unwrap().to_string()
}

#[test]
fn a_role_over_keys_is_assumed_once_and_cached_where_the_aws_cli_looks() {
    let mock = MockAws::start();
    let home = keys_home(&mock, "");
    let out = run(&home, &mock, "export", &[]);
    assert!(out.success(), "{}", out.describe());
    let key = exported_key(&out);
    assert!(key.starts_with("ASIA") && key != SRC_KEY, "{key}");
    assert_eq!(mock.count(Route::Sts), 1);
    let cached: Value = serde_json::from_str(&home.read(ROLE_CACHE)).unwrap();
    assert_eq!(cached["Credentials"]["AccessKeyId"], key.as_str());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.join(ROLE_CACHE)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // The second export is served from the cache.
    let again = run(&home, &mock, "export", &[]);
    assert_eq!(exported_key(&again), key);
    assert_eq!(mock.count(Route::Sts), 1);
    // The assumed role signs for the next hop: the mock verifies it.
    assert!(mock.requests().iter().any(|r| r.signed_ok_by(SRC_KEY)));
}

#[test]
fn eight_parallel_exports_assume_the_role_once() {
    let mock = MockAws::start();
    let home = keys_home(&mock, "");
    let keys: Vec<String> = parallel_exports(&home, &mock, 8).iter().map(exported_key).collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    assert_eq!(mock.count(Route::Sts), 1, "one AssumeRole for eight callers");
}

#[test]
fn a_role_over_sso_refreshes_nothing_while_the_token_is_fresh() {
    let s = Sso::new();
    s.write_token(3600 * 4, 3600 * 24 * 30);
    s.home.write(
        ".aws/config",
        format!(
            "{}\n[profile bedrock]\nrole_arn = {ROLE}\nsource_profile = dev\nregion = us-east-1\n",
            s.home.read(".aws/config")
        ),
    );
    s.home.write(".config/cc-aws-keepalive/config.json", r#"{"profile":"bedrock"}"#);
    let out = s.run("export", b"", &[("AWS_ENDPOINT_URL", &s.mock.url())]);
    assert!(out.success(), "{}", out.describe());

    let key = exported_key(&out);
    // The source's role credentials came from the portal, the exported key from STS.
    assert_eq!(s.mock.count(Route::RoleCredentials), 1);
    assert_eq!(s.mock.count(Route::Sts), 1);
    assert_eq!(s.mock.count(Route::Token), 0);
    assert!(!s.mock.issued_role_keys().contains(&key), "the exported key is the assumed role's");
    let status = s.run("statusline", b"{}", &[("NO_COLOR", "1")]);
    // The session ends when the SSO registration does: 30 days.
    assert!(status.stdout.starts_with("AWS: 29d") || status.stdout.starts_with("AWS: 30d"), "{}", status.stdout);
    let check = s.run("check", b"{}", &[]);
    assert!(check.stdout.trim().is_empty(), "{}", check.describe());
}

#[test]
fn environment_keys_win_unless_a_profile_is_chosen_explicitly() {
    let mock = MockAws::start();
    let home = keys_home(&mock, "");
    home.write(".config/cc-aws-keepalive/config.json", "{}");
    let env_keys =
        [("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT1"), ("AWS_SECRET_ACCESS_KEY", "envSecretValue0123456789")];
    // No profile chosen: the environment's keys, not [default] or anything else.
    let out = run(&home, &mock, "export", &env_keys);
    assert_eq!(exported_key(&out), "AKIAFROMENVIRONMENT1");
    // AWS_PROFILE does not beat them (botocore), but must name a profile that exists.
    let with_profile = [env_keys[0], env_keys[1], ("AWS_PROFILE", "bedrock")];
    assert_eq!(exported_key(&run(&home, &mock, "export", &with_profile)), "AKIAFROMENVIRONMENT1");
    let missing = [env_keys[0], env_keys[1], ("AWS_PROFILE", "ghost")];
    let out = run(&home, &mock, "export", &missing);
    assert!(!out.success() && out.stderr.contains("AWS_PROFILE") && out.stderr.contains("ghost"), "{}", out.describe());
    // Our own profile setting is explicit: the environment's keys are dropped.
    home.write(".config/cc-aws-keepalive/config.json", r#"{"profile":"src"}"#);
    assert_eq!(exported_key(&run(&home, &mock, "export", &env_keys)), SRC_KEY);
    assert_eq!(mock.count(Route::Sts), 0);
}

#[test]
fn aws_default_profile_is_read_before_aws_profile() {
    let mock = MockAws::start();
    let home = keys_home(&mock, "");
    home.write(".config/cc-aws-keepalive/config.json", "{}");
    let out = run(&home, &mock, "export", &[("AWS_DEFAULT_PROFILE", "src"), ("AWS_PROFILE", "bedrock")]);
    assert_eq!(exported_key(&out), SRC_KEY);
}

#[test]
fn an_mfa_role_says_what_to_run_and_then_uses_the_cached_credentials() {
    let mock = MockAws::start();
    let home = keys_home(&mock, "");
    home.write(
        ".aws/config",
        format!("[profile bedrock]\nrole_arn = {ROLE}\nsource_profile = src\nregion = us-east-1\nmfa_serial = arn:aws:iam::111122223333:mfa/me\n"),
    );
    let out = run(&home, &mock, "export", &[]);
    assert!(!out.success(), "{}", out.describe());
    assert!(out.stderr.contains("cc-aws-keepalive refresh --profile bedrock"), "{}", out.describe());
    assert_eq!(mock.count(Route::Sts), 0, "no call without a code");
    let check = run(&home, &mock, "check", &[]);
    assert!(
        check.stdout.contains("MFA") && check.stdout.contains("cc-aws-keepalive refresh --profile bedrock"),
        "{}",
        check.describe()
    );
    let refresh = run(&home, &mock, "refresh", &[]);
    assert!(
        refresh.status == Some(1) && refresh.stdout.contains("cc-aws-keepalive refresh --profile bedrock"),
        "{}",
        refresh.describe()
    );
    // What `cc-aws-keepalive refresh --profile bedrock` leaves behind: the hooks use it.
    let step = keepalive_core::providers::RoleStep {
        mfa_serial: Some("arn:aws:iam::111122223333:mfa/me".into()),
        ..keepalive_core::providers::RoleStep::new("bedrock", ROLE, Some("us-east-1".into()))
    };
    let key = keepalive_core::providers::assume_role::cache_key(&step);
    let expires = test_support::rfc3339(test_support::unix_now() + 3000).replace('Z', "UTC");
    home.write(
        format!(".aws/cli/cache/{key}.json"),
        format!(
            "{{\"Credentials\": {{\"AccessKeyId\": \"ASIAMFACACHED0000001\", \"SecretAccessKey\": \"mfaCachedSecret0123456789\", \"SessionToken\": \"mfaCachedToken\", \"Expiration\": \"{expires}\"}}}}"
        ),
    );
    let out = run(&home, &mock, "export", &[]);
    assert_eq!(exported_key(&out), "ASIAMFACACHED0000001", "{}", out.describe());
    let check = run(&home, &mock, "check", &[]);
    assert!(check.stdout.trim().is_empty(), "50 minutes left: nothing to say yet: {}", check.describe());
    assert_eq!(mock.count(Route::Sts), 0);
}

#[test]
fn a_cycle_and_an_unsupported_source_are_named() {
    let mock = MockAws::start();
    let home = keys_home(
        &mock,
        "[profile a]\nrole_arn = arn:aws:iam::1:role/A\nsource_profile = b\n[profile b]\nrole_arn = arn:aws:iam::1:role/B\nsource_profile = a\n[profile ec2]\nrole_arn = arn:aws:iam::1:role/E\ncredential_source = Ec2InstanceMetadata\n",
    );
    home.write(".config/cc-aws-keepalive/config.json", r#"{"profile":"a"}"#);
    let out = run(&home, &mock, "export", &[]);
    assert!(!out.success() && out.stderr.contains("a → b → a"), "{}", out.describe());
    // A broken configuration: no login can help, so none is suggested.
    assert!(!out.stderr.contains("log in"), "{}", out.describe());
    let check = run(&home, &mock, "check", &[]);
    assert!(check.stdout.contains("a → b → a") && !check.stdout.contains("log in"), "{}", check.describe());
    let status = run(&home, &mock, "statusline", &[("NO_COLOR", "1")]);
    assert!(status.stdout.contains("AWS:"), "{}", status.describe());
    home.write(".config/cc-aws-keepalive/config.json", r#"{"profile":"ec2"}"#);
    let out = run(&home, &mock, "refresh", &[]);
    assert!(out.status == Some(1) && out.stdout.contains("EC2 instance"), "{}", out.describe());
    assert!(!out.stdout.contains("log in again"), "{}", out.describe());
}

#[test]
fn eight_parallel_exports_on_an_expired_aws_login_session_refresh_once() {
    let mock = MockAws::start();
    let home = TestHome::new();
    let session = "arn:aws:iam::111122223333:user/parallel";
    let expired = test_support::unix_now() - 60;
    let login = mock.write_login_session(&home.join(".aws/login/cache"), session, expired);
    home.write(".aws/config", login.config_text("ai", "us-east-1"));
    home.write(".config/cc-aws-keepalive/config.json", r#"{"profile":"ai"}"#);
    let outs = parallel_exports(&home, &mock, 8);
    let keys: Vec<String> = outs.iter().map(exported_key).collect();
    assert_eq!(mock.login_refresh_calls(), 1, "one /v1/token call for eight exports");
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    assert_eq!(mock.issued_login_keys(), vec![keys[0].clone()]);
    for out in &outs {
        test_support::assert_no_secret(&out.stderr, &[&login.refresh_token, &login.secret_access_key]);
    }
    // The rotated refresh token is what the cache holds now.
    let cache: Value = serde_json::from_str(&std::fs::read_to_string(&login.cache_path).unwrap()).unwrap();
    assert_ne!(cache["refreshToken"], login.refresh_token.as_str());
}
