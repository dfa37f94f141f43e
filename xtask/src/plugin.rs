//! The plugin's generated files: `.claude-plugin/plugin.json`, `.claude-plugin/marketplace.json`,
//! `hooks/hooks.json`, the npm package's `package.json` and the npm marketplace, plus `cargo
//! xtask codegen`, which writes the committed copies (`plugin/.claude-plugin/*.json`,
//! `plugin/package.json`, top-level `hooks.json` and `.claude-plugin/marketplace.json`) that a
//! test keeps in sync.
//!
//! Formats checked against Claude Code 2.1.330 (`claude plugin validate --strict`): an unknown
//! key in plugin.json is a warning (so an error under `--strict`); a hook command using
//! `${CLAUDE_PLUGIN_ROOT}` unquoted is a warning; a marketplace without a top-level
//! `description` is a warning. When a directory holds both manifests, `validate DIR` checks the
//! marketplace and, through it, the plugin's hooks.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::{self, Result};

pub const PLUGIN_NAME: &str = "cc-aws-keepalive";
/// The marketplace `cargo xtask install` registers: the locally built plugin directory.
pub const MARKETPLACE_NAME: &str = "cc-aws-keepalive-local";
const AUTHOR: &str = "cc-aws-keepalive contributors";
const DESCRIPTION: &str = "Keeps Claude Code sessions on Amazon Bedrock alive through AWS credential expiry: \
     fresh credentials for every request, a warning before a login is needed, and a status line timer.";
const KEYWORDS: &[&str] = &["aws", "bedrock", "credentials", "sso", "statusline"];
/// The marketplace of the published plugin (`.claude-plugin/marketplace.json` at the repository
/// root, and `<target>/dist/marketplace/`): one entry, the npm package.
pub const NPM_MARKETPLACE_NAME: &str = "cc-aws-keepalive";
/// The npm package: a complete plugin with the binaries of every released target.
pub const NPM_PACKAGE: &str = "cc-aws-keepalive";
/// `cc-aws-check` never waits on the network; this only bounds a broken machine.
pub const CHECK_TIMEOUT_SECS: u64 = 10;
/// `session-start` copies the binaries when a new version arrives (a few MiB) and reads a few
/// files; this only bounds a broken machine.
pub const SESSION_START_TIMEOUT_SECS: u64 = 30;
/// The `SessionStart` hook: the installed version's command, through the launcher.
pub const SESSION_START_COMMAND: &str = "\"${CLAUDE_PLUGIN_ROOT}/bin/cc-aws-keepalive\" session-start";
/// The stable copy of the binaries, which `session-start` keeps current and settings.json
/// points at: it survives `claude plugin update` and the pruning of old version directories in
/// Claude Code's plugin cache (`plugins/cache/<marketplace>/<plugin>/<version>/`), which the
/// plugin's own `${CLAUDE_PLUGIN_ROOT}` does not. Relative to `$XDG_DATA_HOME`, else
/// `~/.local/share`; keep in step with keepalive-core's `paths`.
pub const STABLE_BIN_DIR: &str = "cc-aws-keepalive/current/bin";

/// The `UserPromptSubmit` hook: `cc-aws-check` from the stable copy, expanded by the shell
/// Claude Code runs hook commands with.
pub fn check_command() -> String {
    format!("\"${{XDG_DATA_HOME:-$HOME/.local/share}}/{STABLE_BIN_DIR}/cc-aws-check\"")
}

/// JSON with keys in the order written: serde_json's `Value` sorts keys unless the
/// `preserve_order` feature is on, and turning it on here would change it for the whole
/// workspace build (features unify).
pub enum J {
    Obj(Vec<(&'static str, J)>),
    Arr(Vec<J>),
    V(Value),
}

fn s(text: &str) -> J {
    J::V(Value::String(text.to_string()))
}

impl J {
    /// Pretty-printed like `JSON.stringify(v, null, 2)` with a final newline.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, 0);
        out.push('\n');
        out
    }

    fn write(&self, out: &mut String, depth: usize) {
        let pad = |n: usize| "  ".repeat(n);
        match self {
            J::V(v) => out.push_str(&v.to_string()),
            J::Obj(members) if members.is_empty() => out.push_str("{}"),
            J::Arr(items) if items.is_empty() => out.push_str("[]"),
            J::Obj(members) => {
                out.push_str("{\n");
                for (i, (k, v)) in members.iter().enumerate() {
                    out.push_str(&pad(depth + 1));
                    out.push_str(&Value::String((*k).to_string()).to_string());
                    out.push_str(": ");
                    v.write(out, depth + 1);
                    out.push_str(if i + 1 < members.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(depth));
                out.push('}');
            }
            J::Arr(items) => {
                out.push_str("[\n");
                for (i, v) in items.iter().enumerate() {
                    out.push_str(&pad(depth + 1));
                    v.write(out, depth + 1);
                    out.push_str(if i + 1 < items.len() { ",\n" } else { "\n" });
                }
                out.push_str(&pad(depth));
                out.push(']');
            }
        }
    }
}

/// `[workspace.package] version` from the root Cargo.toml: the shipped crates inherit it,
/// while xtask itself stays at 0.0.0 like every internal crate.
pub fn workspace_version(root: &Path) -> Result<String> {
    workspace_package_field(root, "version")
}

/// A string field of `[workspace.package]`, read by hand (no TOML parser for two strings).
fn workspace_package_field(root: &Path, field: &str) -> Result<String> {
    let manifest = root.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
    let mut in_section = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_section = line == "[workspace.package]";
        } else if in_section
            && let Some(rest) = line.strip_prefix(field)
            && let Some(value) = rest.trim_start().strip_prefix('=')
        {
            return Ok(value.trim().trim_matches('"').to_string());
        }
    }
    Err(format!("no {field} in [workspace.package] of {}", manifest.display()))
}

pub fn plugin_json(version: &str, license: &str) -> String {
    J::Obj(vec![
        ("name", s(PLUGIN_NAME)),
        ("version", s(version)),
        ("description", s(DESCRIPTION)),
        ("author", J::Obj(vec![("name", s(AUTHOR))])),
        ("license", s(license)),
        ("keywords", J::Arr(KEYWORDS.iter().map(|k| s(k)).collect())),
    ])
    .render()
}

/// The plugin directory is its own marketplace (`"source": "./"`), so `claude plugin
/// marketplace add DIR` followed by `claude plugin install NAME@MARKETPLACE` installs it.
pub fn marketplace_json(version: &str) -> String {
    J::Obj(vec![
        ("name", s(MARKETPLACE_NAME)),
        ("description", s("The locally built cc-aws-keepalive plugin, as laid out by `cargo xtask install`")),
        ("owner", J::Obj(vec![("name", s(AUTHOR))])),
        (
            "plugins",
            J::Arr(vec![J::Obj(vec![
                ("name", s(PLUGIN_NAME)),
                ("source", s("./")),
                ("description", s(DESCRIPTION)),
                ("version", s(version)),
            ])]),
        ),
    ])
    .render()
}

/// The marketplace of the published plugin: its one entry is the npm package, so Claude Code
/// fetches it with the user's `npm` (`npm view`, `npm pack`) from their default registry. No
/// version: `claude plugin update` takes the registry's latest.
pub fn npm_marketplace_json() -> String {
    J::Obj(vec![
        ("name", s(NPM_MARKETPLACE_NAME)),
        ("description", s("cc-aws-keepalive, installed from the npm registry with prebuilt binaries")),
        ("owner", J::Obj(vec![("name", s(AUTHOR))])),
        (
            "plugins",
            J::Arr(vec![J::Obj(vec![
                ("name", s(PLUGIN_NAME)),
                ("source", J::Obj(vec![("source", s("npm")), ("package", s(NPM_PACKAGE))])),
                ("description", s(DESCRIPTION)),
            ])]),
        ),
    ])
    .render()
}

/// The npm package's manifest. No dependencies and no scripts: Claude Code installs neither
/// (it unpacks the tarball itself), so the package carries its binaries. `files` is what `npm
/// pack` ships (package.json and README.md always go in); our own tarball writer ships exactly
/// the staged directory, which holds the same.
pub fn package_json(version: &str, license: &str) -> String {
    J::Obj(vec![
        ("name", s(NPM_PACKAGE)),
        ("version", s(version)),
        ("description", s(DESCRIPTION)),
        ("license", s(license)),
        ("author", s(AUTHOR)),
        ("keywords", J::Arr(["claude-code", "claude-code-plugin"].iter().chain(KEYWORDS).map(|k| s(k)).collect())),
        ("files", J::Arr(NPM_FILES.iter().map(|f| s(f)).collect())),
    ])
    .render()
}

/// Top-level entries of the npm package besides package.json and README.md.
pub const NPM_FILES: &[&str] = &[".claude-plugin/", "hooks/", "bin/", "config.example.json"];

/// The plugin's hooks. `SessionStart` runs the `cc-aws-keepalive` command of the installed
/// version through the launcher (which picks the platform's binary): it keeps the stable copy of
/// the binaries current and says when settings.json needs `setup`. `UserPromptSubmit` runs
/// `cc-aws-check` from that stable copy directly: no launcher on the per-prompt path. `--strict`
/// validation wants `${CLAUDE_PLUGIN_ROOT}` quoted.
pub fn hooks_json() -> String {
    let hook = |command: &str, timeout: u64| {
        J::Obj(vec![("type", s("command")), ("command", s(command)), ("timeout", J::V(Value::from(timeout)))])
    };
    let event = |h: J| J::Arr(vec![J::Obj(vec![("hooks", J::Arr(vec![h]))])]);
    J::Obj(vec![
        (
            "description",
            s("cc-aws-keepalive: keeps its binaries current at session start and warns before the AWS \
               credentials Claude Code uses for Bedrock expire"),
        ),
        (
            "hooks",
            J::Obj(vec![
                ("SessionStart", event(hook(SESSION_START_COMMAND, SESSION_START_TIMEOUT_SECS))),
                ("UserPromptSubmit", event(hook(&check_command(), CHECK_TIMEOUT_SECS))),
            ]),
        ),
    ])
    .render()
}

/// Where a generated file goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// The plugin directory `cargo xtask install` uses and the npm package.
    Plugin,
    /// The plugin directory only (its own marketplace).
    PluginDirOnly,
    /// The npm package only.
    NpmOnly,
    /// The npm marketplace directory (`<target>/dist/marketplace/`).
    NpmMarketplace,
}

/// A generated file: where it goes, its path there, the path of its committed copy, contents.
pub struct Generated {
    pub dest: Dest,
    pub rel: &'static str,
    pub committed: PathBuf,
    pub text: String,
}

/// Every generated file.
pub fn generated(root: &Path) -> Result<Vec<Generated>> {
    let version = workspace_version(root)?;
    let license = workspace_package_field(root, "license")?;
    let g = |dest, rel, committed: &str, text| Generated { dest, rel, committed: root.join(committed), text };
    Ok(vec![
        g(
            Dest::Plugin,
            ".claude-plugin/plugin.json",
            "plugin/.claude-plugin/plugin.json",
            plugin_json(&version, &license),
        ),
        g(Dest::Plugin, "hooks/hooks.json", "hooks.json", hooks_json()),
        g(
            Dest::PluginDirOnly,
            ".claude-plugin/marketplace.json",
            "plugin/.claude-plugin/marketplace.json",
            marketplace_json(&version),
        ),
        g(Dest::NpmOnly, "package.json", "plugin/package.json", package_json(&version, &license)),
        // At the repository root too, so `claude plugin marketplace add <owner>/<repo>` finds it.
        g(
            Dest::NpmMarketplace,
            ".claude-plugin/marketplace.json",
            ".claude-plugin/marketplace.json",
            npm_marketplace_json(),
        ),
    ])
}

/// Files copied verbatim from `plugin/` into the plugin directory and the npm package.
pub const STATIC_FILES: &[&str] = &["README.md"];

/// The npm package's `bin/cc-aws-keepalive`: a POSIX sh launcher that runs the platform's
/// binary from `bin/<target>/` (committed as `plugin/launcher.sh`).
pub const LAUNCHER: &str = "launcher.sh";

/// `cargo xtask codegen`: rewrites the committed copies.
pub fn codegen(root: &Path) -> Result {
    for file in generated(root)? {
        let old = std::fs::read_to_string(&file.committed).unwrap_or_default();
        if old != file.text {
            util::write(&file.committed, &file.text)?;
            println!("updated {}", file.committed.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed files are what xtask generates (and so what `dist` lays out).
    #[test]
    fn committed_files_match_the_generator() {
        let root = util::project_root();
        for file in generated(&root).unwrap() {
            let on_disk = std::fs::read_to_string(&file.committed).unwrap_or_default();
            assert!(on_disk == file.text, "{} is out of date: run `cargo xtask codegen`", file.committed.display());
        }
        for name in STATIC_FILES.iter().chain([&LAUNCHER]) {
            assert!(root.join("plugin").join(name).is_file(), "plugin/{name} is missing");
        }
    }

    #[test]
    fn generated_json_is_valid_and_quoted() {
        let hooks: Value = serde_json::from_str(&hooks_json()).unwrap();
        let start = &hooks["hooks"]["SessionStart"][0]["hooks"][0]["command"];
        assert_eq!(start, "\"${CLAUDE_PLUGIN_ROOT}/bin/cc-aws-keepalive\" session-start");
        let check = &hooks["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"];
        assert_eq!(check, "\"${XDG_DATA_HOME:-$HOME/.local/share}/cc-aws-keepalive/current/bin/cc-aws-check\"");
        let plugin: Value = serde_json::from_str(&plugin_json("1.2.3", "MIT")).unwrap();
        assert_eq!(plugin["version"], "1.2.3");
        assert_eq!(plugin["name"], PLUGIN_NAME);
        let market: Value = serde_json::from_str(&marketplace_json("1.2.3")).unwrap();
        assert_eq!(market["plugins"][0]["version"], "1.2.3");
        assert_eq!(market["plugins"][0]["source"], "./");
        let npm_market: Value = serde_json::from_str(&npm_marketplace_json()).unwrap();
        assert_eq!(npm_market["plugins"][0]["source"], serde_json::json!({"source": "npm", "package": NPM_PACKAGE}));
        let package: Value = serde_json::from_str(&package_json("1.2.3", "MIT")).unwrap();
        assert_eq!((&package["name"], &package["version"]), (&Value::from(NPM_PACKAGE), &Value::from("1.2.3")));
        for absent in ["dependencies", "scripts", "bin", "optionalDependencies", "bundleDependencies"] {
            assert!(package.get(absent).is_none(), "package.json must not have {absent}");
        }
        // Key order is as written.
        assert!(plugin_json("1", "MIT").starts_with("{\n  \"name\": \"cc-aws-keepalive\",\n  \"version\": \"1\","));
    }

    /// The prompt hook's path is where core keeps the stable binaries (`paths::stable_bin_dir`),
    /// with `$XDG_DATA_HOME` and without.
    #[test]
    fn check_command_names_cores_stable_bin_dir() {
        use keepalive_core::env::Env;
        use keepalive_core::paths::stable_bin_dir;
        let with = Env::from_pairs([("HOME", "/h"), ("XDG_DATA_HOME", "/x")]);
        assert_eq!(stable_bin_dir(&with).unwrap(), Path::new("/x").join(STABLE_BIN_DIR));
        let without = Env::from_pairs([("HOME", "/h")]);
        assert_eq!(stable_bin_dir(&without).unwrap(), Path::new("/h/.local/share").join(STABLE_BIN_DIR));
        assert!(check_command().contains(&format!("${{XDG_DATA_HOME:-$HOME/.local/share}}/{STABLE_BIN_DIR}/")));
    }

    #[test]
    fn reads_the_workspace_version() {
        let v = workspace_version(&util::project_root()).unwrap();
        assert!(v.split('.').count() == 3 && v.split('.').all(|p| p.parse::<u32>().is_ok()), "{v}");
    }
}
