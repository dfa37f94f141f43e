//! `doctor`'s Bedrock region check: the region Claude Code will use against the region of the
//! profile we serve. Only a difference Claude Code was not told about is a problem.

use serde_json::{Value, json};
use test_support::{RunOutput, SsoConfig, TestHome};

use crate::{CORP, run_at_now};

/// A home whose profile `dev` (the one config.json names) has `region`, with `extra` appended
/// to the AWS config and settings.json's `env` set to Bedrock plus `env`.
fn home_with(region: &str, extra: &str, env: Value) -> TestHome {
    let home = TestHome::new();
    let sso = SsoConfig { region, ..CORP };
    home.write(".aws/config", format!("{}{extra}", sso.config_text()));
    let mut all = json!({"CLAUDE_CODE_USE_BEDROCK": "1"});
    if let (Some(all), Some(env)) = (all.as_object_mut(), env.as_object()) {
        all.extend(env.clone());
    }
    home.write(".claude/settings.json", json!({ "env": all }).to_string());
    home.write(".config/cc-aws-keepalive/config.json", r#"{"profile": "dev"}"#);
    home
}

fn doctor(home: &TestHome, env: &[(&str, &str)]) -> RunOutput {
    run_at_now(home, None, &["doctor", "--offline"], env)
}

/// The region finding with its fix line, if any.
fn region_lines(out: &RunOutput) -> String {
    let mut lines = Vec::new();
    let mut keep = false;
    for l in out.stdout.lines() {
        if l.contains("Bedrock region:") {
            keep = true;
        } else if !l.starts_with("         fix:") {
            keep = false;
        }
        if keep {
            lines.push(l);
        }
    }
    assert!(!lines.is_empty(), "no Bedrock region finding:\n{}", out.describe());
    lines.join("\n")
}

fn assert_ok(out: &RunOutput) -> String {
    let lines = region_lines(out);
    assert!(lines.starts_with("ok "), "expected no warning, got:\n{lines}\n{}", out.stdout);
    lines
}

#[test]
fn same_region_is_fine() {
    // Claude Code reads our profile through settings.json's AWS_PROFILE.
    let home = home_with("eu-west-1", "", json!({"AWS_PROFILE": "dev"}));
    let lines = assert_ok(&doctor(&home, &[]));
    assert!(lines.contains("eu-west-1") && lines.contains("region of profile dev"), "{lines}");
    // Claude Code reads [default], which happens to have the same region.
    let home = home_with("eu-west-1", "\n[default]\nregion = eu-west-1\n", json!({}));
    let lines = assert_ok(&doctor(&home, &[]));
    assert!(lines.contains("region of profile default (no AWS_PROFILE)"), "{lines}");
}

#[test]
fn region_only_on_our_profile_is_a_problem_naming_both() {
    let home = home_with("eu-west-1", "", json!({}));
    let out = doctor(&home, &[]);
    assert_eq!(out.status, Some(1), "{}", out.describe());
    let lines = region_lines(&out);
    assert!(lines.starts_with("PROBLEM"), "{lines}");
    for needle in [
        // Claude Code's region and where it comes from
        "Claude Code will call Bedrock in us-east-1",
        "Claude Code's default: no AWS_REGION, and profile default (no AWS_PROFILE) has no region",
        // ours and its profile
        "profile dev, whose credentials cc-aws-keepalive serves, has region = eu-west-1",
        // the one-line fixes
        r#"fix: add "AWS_REGION": "eu-west-1" to "env" in "#,
        r#"set "AWS_PROFILE": "dev" there"#,
    ] {
        assert!(lines.contains(needle), "missing {needle:?} in:\n{lines}");
    }
    assert!(lines.contains(&home.join(".claude/settings.json").display().to_string()), "{lines}");
    // Another profile's region (here [default]'s) is the same trap.
    let home = home_with("eu-west-1", "\n[default]\nregion = us-west-2\n", json!({}));
    let lines = region_lines(&doctor(&home, &[]));
    assert!(lines.starts_with("PROBLEM") && lines.contains("Bedrock in us-west-2"), "{lines}");
}

#[test]
fn aws_region_in_settings_env_is_the_fix() {
    let home = home_with("eu-west-1", "", json!({"AWS_REGION": "eu-west-1"}));
    let out = doctor(&home, &[]);
    let lines = assert_ok(&out);
    assert!(lines.contains("AWS_REGION in \"env\" of"), "{lines}");
    // It wins over the shell's.
    let lines = assert_ok(&doctor(&home, &[("AWS_REGION", "ap-south-1")]));
    assert!(lines.contains("uses eu-west-1"), "{lines}");
    // Claude Code also reads AWS_DEFAULT_REGION.
    let home = home_with("eu-west-1", "", json!({"AWS_DEFAULT_REGION": "eu-west-1"}));
    assert_ok(&doctor(&home, &[]));
}

#[test]
fn no_region_anywhere_and_ours_in_us_east_1_is_fine() {
    let home = home_with("us-east-1", "", json!({}));
    let out = doctor(&home, &[]);
    let lines = assert_ok(&out);
    assert!(lines.contains("uses us-east-1 (Claude Code's default"), "{lines}");
    assert!(!out.stdout.contains("AWS_REGION\": \""), "no region advice:\n{}", out.stdout);
}

#[test]
fn the_shell_counts_and_an_explicit_other_region_is_only_a_note() {
    // Doctor's own environment stands in for the shell Claude Code starts from.
    let home = home_with("eu-west-1", "", json!({}));
    let lines = assert_ok(&doctor(&home, &[("AWS_REGION", "eu-west-1")]));
    assert!(lines.contains("this shell's environment"), "{lines}");
    let lines = region_lines(&doctor(&home, &[("AWS_PROFILE", "dev")]));
    assert!(lines.starts_with("ok "), "{lines}");
    // Told explicitly to use another region: maybe intended.
    let home = home_with("eu-west-1", "", json!({"AWS_REGION": "us-west-2"}));
    let lines = region_lines(&doctor(&home, &[]));
    assert!(lines.starts_with("note"), "{lines}");
    assert!(lines.contains("us-west-2") && lines.contains("region = eu-west-1"), "{lines}");
}

#[test]
fn no_profile_region_means_no_trap() {
    let home = TestHome::new();
    home.write(".aws/config", "[profile dev]\ncredential_process = /bin/false\n");
    home.write(".claude/settings.json", json!({"env": {"CLAUDE_CODE_USE_BEDROCK": "1"}}).to_string());
    home.write(".config/cc-aws-keepalive/config.json", r#"{"profile": "dev"}"#);
    let lines = assert_ok(&doctor(&home, &[]));
    assert!(lines.contains("profile dev sets no region"), "{lines}");
}
