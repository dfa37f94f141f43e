//! The no-Rust install, end to end: the npm plugin package `cargo xtask dist` built, published to
//! a loopback npm registry, installed by the real Claude Code from a marketplace that points at
//! it, wired by the one setup command the plugin names, answering through our export, updated to
//! the next version, and uninstalled — with no cargo (nor rustc) on PATH, so nothing can come from
//! the build tree.
//!
//! Ignored by default: it needs the real Claude Code (`CC_E2E_CLAUDE`), npm on PATH, and the dist
//! outputs (`CC_E2E_NPM_TGZ`, `CC_E2E_MARKETPLACE_DIR`); `cargo xtask ci` sets them. Everything
//! happens in a temp HOME against 127.0.0.1 (the registry and the mock AWS).

// Unix only: the launcher is `sh`, and file modes are checked.
#![cfg(unix)]
// Test code: failing loudly at the first surprise is the point.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use test_support::npm_registry::NpmRegistry;
use test_support::{
    MockAws, RunOutput, TestHome, assert_no_secret, claude_bedrock_env, e2e_claude, files_below, rfc3339, run, unix_now,
};

/// A `claude -p` against the mock takes about a second; failures retry for minutes.
const CLAUDE_TIMEOUT: Duration = Duration::from_secs(120);
/// `claude plugin install`/`update` run npm against the loopback registry: seconds.
const PLUGIN_TIMEOUT: Duration = Duration::from_secs(120);
/// npm, tar, setup.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

const PLUGIN: &str = "cc-aws-keepalive";
/// The marketplace the dist manifest names (`npm_marketplace_json` in xtask/src/plugin.rs).
const MARKETPLACE: &str = "cc-aws-keepalive";
const PLUGIN_ID: &str = "cc-aws-keepalive@cc-aws-keepalive";

/// The keys of profile `corp` in `~/.aws/credentials`, which only our export hands to Claude
/// Code: its own default chain finds no `[default]` and no `AWS_PROFILE`.
const AKID: &str = "ASIANPME2EKEY0000001";
const SECRET: &str = "npmE2eSecret/0000000000000000000000000001";
const TOKEN: &str = "npm-e2e-session-token-0001";

fn env_path(var: &str) -> PathBuf {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => panic!("{var} is not set: run this test through `cargo xtask ci` (it builds the npm package)"),
    }
}

/// The caller's PATH without any directory that holds cargo, rustc or rustup; npm and node must
/// still be found (Claude Code runs npm).
fn path_without_cargo() -> OsString {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let kept: Vec<PathBuf> = std::env::split_paths(&path)
        .filter(|d| !["cargo", "rustc", "rustup"].iter().any(|t| d.join(t).exists()))
        .collect();
    for tool in ["npm", "node"] {
        assert!(kept.iter().any(|d| d.join(tool).is_file()), "{tool} is not on PATH outside the Rust toolchain dirs");
    }
    std::env::join_paths(kept).unwrap()
}

/// A command in the temp HOME with the cargo-free PATH.
fn command(home: &TestHome, path: &OsString, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = home.command(program);
    cmd.env("PATH", path);
    cmd
}

/// `claude ARGS…` with the Bedrock-on-mock environment.
fn claude(home: &TestHome, path: &OsString, mock: &MockAws, args: &[&str]) -> Command {
    let mut cmd = command(home, path, e2e_claude());
    claude_bedrock_env(&mut cmd, &mock.url()).env("CLAUDE_CODE_EMIT_USER_PROMPT_SUBMIT_HOOK_EVENTS", "1").args(args);
    cmd
}

fn ok(out: &RunOutput, what: &str, ctx: &dyn Fn() -> String) {
    assert!(out.success(), "{what} failed:\n{}\n{}", out.describe(), ctx());
}

/// The JSON objects on the stdout of a stream-json run.
fn events(stdout: &str) -> Vec<Value> {
    stdout.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()).collect()
}

/// The `hook_response` events of `event`'s hooks (2.1.332: `hook_event`, `outcome`,
/// `exit_code`, `stdout`, `stderr`; `UserPromptSubmit` ones only with
/// `CLAUDE_CODE_EMIT_USER_PROMPT_SUBMIT_HOOK_EVENTS`).
fn hook_responses(stdout: &str, event: &str) -> Vec<Value> {
    events(stdout)
        .into_iter()
        .filter(|v| v["type"] == "system" && v["subtype"] == "hook_response" && v["hook_event"] == event)
        .collect()
}

fn session_start_responses(stdout: &str) -> Vec<Value> {
    hook_responses(stdout, "SessionStart")
}

/// Our only hook for `event` ran and exited 0.
fn assert_hook_ran(out: &RunOutput, event: &str, label: &str) {
    let responses = hook_responses(&out.stdout, event);
    assert!(
        responses.len() == 1 && responses[0]["outcome"] == "success" && responses[0]["exit_code"] == 0,
        "{label}: our {event} hook did not run successfully: {responses:?}\n{}",
        out.describe()
    );
}

/// The plugin Claude Code loaded, from the stream's `init` event: (version, path).
fn loaded_plugin(stdout: &str) -> Option<(String, String)> {
    events(stdout).iter().filter(|v| v["type"] == "system" && v["subtype"] == "init").find_map(|v| {
        v["plugins"].as_array()?.iter().find(|p| p["source"] == PLUGIN_ID).map(|p| {
            (p["version"].as_str().unwrap_or_default().to_string(), p["path"].as_str().unwrap_or_default().to_string())
        })
    })
}

/// The `systemMessage`s our SessionStart hook printed (stream-json shows them only inside the
/// `hook_response` event's stdout).
fn session_start_messages(stdout: &str) -> Vec<String> {
    session_start_responses(stdout)
        .iter()
        .filter_map(|v| v["stdout"].as_str().map(str::to_string))
        .filter_map(|out| serde_json::from_str::<Value>(out.trim()).ok())
        .filter_map(|v| v["systemMessage"].as_str().map(str::to_string))
        .collect()
}

/// The command in backticks after "run" in a message, e.g. ``run `…/cc-aws-keepalive setup` in a
/// terminal``.
fn setup_command(message: &str) -> Option<String> {
    message
        .split('`')
        .skip(1)
        .step_by(2)
        .find(|c| c.contains("cc-aws-keepalive") && c.contains("setup"))
        .map(String::from)
}

/// `plugins/installed_plugins.json`: version and install path of our plugin.
fn installed(home: &TestHome) -> (String, PathBuf) {
    let text = home.read(".claude/plugins/installed_plugins.json");
    let doc: Value = serde_json::from_str(&text).unwrap();
    let entry = doc["plugins"][PLUGIN_ID].as_array().and_then(|a| a.first()).cloned().unwrap_or_else(|| {
        panic!("{PLUGIN_ID} is not in installed_plugins.json:\n{text}");
    });
    (entry["version"].as_str().unwrap_or_default().to_string(), PathBuf::from(entry["installPath"].as_str().unwrap()))
}

/// Every file of an installed plugin: no symlinks, the binaries and the launcher executable.
fn check_installed_tree(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let files = files_below(dir);
    assert!(!files.is_empty(), "{} is empty", dir.display());
    for f in &files {
        let meta = std::fs::symlink_metadata(f).unwrap();
        assert!(meta.file_type().is_file(), "{} is not a plain file", f.display());
    }
    let exec: Vec<&PathBuf> = files.iter().filter(|f| f.starts_with(dir.join("bin"))).collect();
    assert!(exec.len() >= 6, "launcher and five binaries expected in bin/: {exec:?}");
    for f in exec {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o111, 0o111, "{} is not executable ({mode:o})", f.display());
    }
}

/// Unpacks `tgz` into `dir` (which then holds `package/`) with the system's tar.
fn untar(home: &TestHome, path: &OsString, tgz: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let out = run(command(home, path, "tar").arg("-xzf").arg(tgz).arg("-C").arg(dir), b"", TOOL_TIMEOUT);
    ok(&out, "tar -xzf", &String::new);
}

/// Sets `"version"` in a JSON file, keeping the rest of it.
fn set_version(file: &Path, version: &str) {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    doc["version"] = Value::from(version);
    std::fs::write(file, serde_json::to_string_pretty(&doc).unwrap() + "\n").unwrap();
}

/// `major.minor.(patch+1)`.
fn next_patch(version: &str) -> String {
    let mut parts: Vec<u64> = version.split('.').map(|p| p.parse().unwrap()).collect();
    *parts.last_mut().unwrap() += 1;
    parts.iter().map(u64::to_string).collect::<Vec<_>>().join(".")
}

#[test]
#[ignore = "needs the real Claude Code, npm and the dist package; run by cargo xtask ci"]
fn npm_plugin_installs_sets_up_updates_and_uninstalls_without_cargo() {
    let tgz = env_path("CC_E2E_NPM_TGZ");
    let marketplace_src = env_path("CC_E2E_MARKETPLACE_DIR");
    let path = path_without_cargo();

    let mock = MockAws::start();
    mock.set_answer("E2E_ANSWER_NPM_PLUGIN");
    mock.add_key(AKID, SECRET, Some(TOKEN), true);
    let registry = NpmRegistry::start();

    let home = TestHome::new();
    home.write(".npmrc", registry.npmrc());
    home.write(
        ".aws/credentials",
        format!(
            "[corp]\naws_access_key_id = {AKID}\naws_secret_access_key = {SECRET}\naws_session_token = {TOKEN}\n\
             x_security_token_expires = {}\n",
            rfc3339(unix_now() + 30 * 3600)
        ),
    );
    home.write(".config/cc-aws-keepalive/config.json", r#"{"profile": "corp"}"#);
    let ctx = || {
        format!(
            "--- registry ---\n{}\n--- mock ---\n{}\n--- settings.json ---\n{}",
            registry.dump(),
            mock.dump(),
            home.try_read(".claude/settings.json").unwrap_or_default()
        )
    };

    // The package as `cargo xtask dist` wrote it, published as is.
    let v1_src = home.join("src-v1");
    untar(&home, &path, &tgz, &v1_src);
    let v1_json = std::fs::read_to_string(v1_src.join("package/package.json")).unwrap();
    let v1: String = serde_json::from_str::<Value>(&v1_json).unwrap()["version"].as_str().unwrap().to_string();
    registry.publish(&v1_json, std::fs::read(&tgz).unwrap());

    // The marketplace `cargo xtask dist` wrote: its one plugin is the npm package.
    let market = home.join("marketplace");
    let manifest = std::fs::read_to_string(marketplace_src.join(".claude-plugin/marketplace.json")).unwrap();
    home.write("marketplace/.claude-plugin/marketplace.json", &manifest);
    let market_arg = market.to_string_lossy().into_owned();

    let out =
        run(&mut claude(&home, &path, &mock, &["plugin", "marketplace", "add", &market_arg]), b"", PLUGIN_TIMEOUT);
    ok(&out, "claude plugin marketplace add", &ctx);
    let out = run(&mut claude(&home, &path, &mock, &["plugin", "install", PLUGIN_ID]), b"", PLUGIN_TIMEOUT);
    ok(&out, "claude plugin install", &ctx);
    // npm fetches it more than once (2.1.332: three times, through `npm pack`).
    assert!(registry.downloads(&format!("{PLUGIN}-{v1}.tgz")) >= 1, "the tarball was not fetched:\n{}", ctx());
    let (version, v1_dir) = installed(&home);
    assert_eq!(version, v1, "installed version:\n{}", ctx());
    assert!(v1_dir.ends_with(format!("plugins/cache/{MARKETPLACE}/{PLUGIN}/{v1}")), "{}", v1_dir.display());
    check_installed_tree(&v1_dir);
    eprintln!("installed {PLUGIN_ID} {v1} at {}", v1_dir.display());

    // The settings as the plugin install left them: what `setup --uninstall` must restore.
    let before_setup = home.try_read(".claude/settings.json");

    // First session: the plugin's SessionStart hook copies the binaries to the stable place and
    // names the setup command.
    let stream = ["-p", "say hi", "--output-format", "stream-json", "--verbose"];
    let first = run(&mut claude(&home, &path, &mock, &stream), b"", CLAUDE_TIMEOUT);
    assert_hook_ran(&first, "SessionStart", "first session");
    assert_eq!(loaded_plugin(&first.stdout).map(|p| p.0), Some(v1.clone()), "first session: plugin not loaded");
    let messages = session_start_messages(&first.stdout);
    let setup = messages.iter().find_map(|m| setup_command(m)).unwrap_or_else(|| {
        panic!("no SessionStart message names the setup command: {messages:?}\n{}\n{}", first.describe(), ctx())
    });
    eprintln!("SessionStart said: {messages:?}");
    assert!(!setup.contains("plugins/cache"), "the setup command runs from the versioned cache: {setup}");

    let out = run(command(&home, &path, "sh").args(["-c", &setup]), b"", TOOL_TIMEOUT);
    ok(&out, &format!("`{setup}`"), &ctx);
    eprintln!("setup printed:\n{}", out.stdout);
    let settings: Value = serde_json::from_str(&home.read(".claude/settings.json")).unwrap();
    let stable_bin = home.data_dir().join("cc-aws-keepalive/current/bin");
    for key in ["awsCredentialExport", "awsAuthRefresh"] {
        let cmd = settings[key].as_str().unwrap_or_default();
        assert!(
            cmd.contains(&*stable_bin.to_string_lossy()) && !cmd.contains("plugins/cache"),
            "{key} does not run the stable copy in {}: {cmd:?}",
            stable_bin.display()
        );
    }

    // Second session: Bedrock answers through our export.
    let answer = |label: &str| {
        let before = mock.requests().len();
        let out = run(&mut claude(&home, &path, &mock, &stream), b"", CLAUDE_TIMEOUT);
        ok(&out, label, &ctx);
        assert!(out.stdout.contains("E2E_ANSWER_NPM_PLUGIN"), "{label}: no answer:\n{}\n{}", out.describe(), ctx());
        // The start hook of the installed version, then cc-aws-check from the stable copy.
        assert_hook_ran(&out, "SessionStart", label);
        assert_hook_ran(&out, "UserPromptSubmit", label);
        let signed = mock.requests()[before..]
            .iter()
            .any(|r| r.route == test_support::Route::BedrockStream && r.signed_ok_by(AKID));
        assert!(signed, "{label}: no Bedrock stream call signed with the exported key:\n{}", ctx());
        assert_no_secret(&format!("{}\n{}", out.stdout, out.stderr), &[SECRET, TOKEN]);
        out
    };
    answer("claude -p after setup");

    // Version + 1: the same package with a bumped version, packed by npm, published.
    let v2 = next_patch(&v1);
    let v2_src = home.join("src-v2");
    untar(&home, &path, &tgz, &v2_src);
    let pkg = v2_src.join("package");
    set_version(&pkg.join("package.json"), &v2);
    set_version(&pkg.join(".claude-plugin/plugin.json"), &v2);
    let packed = home.join("packed");
    std::fs::create_dir_all(&packed).unwrap();
    let mut npm_pack = command(&home, &path, "npm");
    npm_pack.args(["pack", "--ignore-scripts", "--pack-destination"]).arg(&packed).current_dir(&pkg);
    let out = run(&mut npm_pack, b"", TOOL_TIMEOUT);
    ok(&out, "npm pack", &ctx);
    let v2_tgz = std::fs::read(packed.join(format!("{PLUGIN}-{v2}.tgz"))).unwrap();
    registry.publish(&std::fs::read_to_string(pkg.join("package.json")).unwrap(), v2_tgz);

    let settings_before_update = home.try_read(".claude/settings.json");
    let out = run(&mut claude(&home, &path, &mock, &["plugin", "update", PLUGIN_ID]), b"", PLUGIN_TIMEOUT);
    ok(&out, "claude plugin update", &ctx);
    assert!(registry.downloads(&format!("{PLUGIN}-{v2}.tgz")) >= 1, "the new tarball was not fetched:\n{}", ctx());
    let (version, v2_dir) = installed(&home);
    assert_eq!(version, v2, "version after update:\n{}", ctx());
    assert_ne!(v2_dir, v1_dir);
    check_installed_tree(&v2_dir);
    let update_rewrote_settings = home.try_read(".claude/settings.json") != settings_before_update;
    eprintln!(
        "updated to {v2} at {}; settings.json rewritten by the update: {update_rewrote_settings}",
        v2_dir.display()
    );
    // Claude Code deletes the old version's directory later (14 days, when no session uses it):
    // nothing may depend on it.
    std::fs::remove_dir_all(&v1_dir).unwrap();

    let after_update = answer("claude -p after the update");
    assert_eq!(
        loaded_plugin(&after_update.stdout),
        Some((v2.clone(), v2_dir.to_string_lossy().into_owned())),
        "the session after the update did not load the new version"
    );
    let messages = session_start_messages(&after_update.stdout);
    assert!(
        !messages.iter().any(|m| setup_command(m).is_some()),
        "after the update the plugin asks for setup again: {messages:?}"
    );

    // Uninstall through the stable copy: settings.json as the plugin install left it.
    let cli = stable_bin.join("cc-aws-keepalive");
    let out = run(command(&home, &path, &cli).args(["setup", "--uninstall"]), b"", TOOL_TIMEOUT);
    ok(&out, "setup --uninstall", &ctx);
    let after = home.try_read(".claude/settings.json");
    if update_rewrote_settings {
        // Claude Code rewrote the file in between (re-indented, reordered): the same settings.
        let parse = |t: &Option<String>| t.as_deref().map(|t| serde_json::from_str::<Value>(t).unwrap());
        assert_eq!(parse(&after), parse(&before_setup), "setup --uninstall left other settings:\n{}", ctx());
    } else {
        assert_eq!(after, before_setup, "setup --uninstall did not restore settings.json byte for byte:\n{}", ctx());
    }
    eprintln!("registry requests:\n{}", registry.dump());
}

#[test]
fn setup_command_is_taken_from_backticks() {
    let m = "cc-aws-keepalive: Claude Code does not run our export; run `'/h/.local/share/cc-aws-keepalive/current/bin/cc-aws-keepalive' setup` in a terminal, then restart Claude Code.";
    assert_eq!(
        setup_command(m).as_deref(),
        Some("'/h/.local/share/cc-aws-keepalive/current/bin/cc-aws-keepalive' setup")
    );
    assert_eq!(setup_command("AWS session ends at 18:00; run `aws sso login` then"), None);
    assert_eq!(next_patch("0.1.9"), "0.1.10");
}
