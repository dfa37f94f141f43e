//! The plugin's generated files: `.claude-plugin/plugin.json`, `.claude-plugin/marketplace.json`
//! and `hooks/hooks.json`, plus `cargo xtask codegen`, which writes the committed copies
//! (`plugin/.claude-plugin/*.json`, top-level `hooks.json`) that a test keeps in sync.
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
/// `cc-aws-check` never waits on the network; this only bounds a broken machine.
pub const CHECK_TIMEOUT_SECS: u64 = 10;

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
        ("keywords", J::Arr(["aws", "bedrock", "credentials", "sso", "statusline"].iter().map(|k| s(k)).collect())),
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

/// The `UserPromptSubmit` hook. `--strict` validation wants `${CLAUDE_PLUGIN_ROOT}` quoted.
pub fn hooks_json() -> String {
    let check = J::Obj(vec![
        ("type", s("command")),
        ("command", s("\"${CLAUDE_PLUGIN_ROOT}/bin/cc-aws-check\"")),
        ("timeout", J::V(Value::from(CHECK_TIMEOUT_SECS))),
    ]);
    J::Obj(vec![
        ("description", s("cc-aws-keepalive: warns before the AWS credentials Claude Code uses for Bedrock expire")),
        ("hooks", J::Obj(vec![("UserPromptSubmit", J::Arr(vec![J::Obj(vec![("hooks", J::Arr(vec![check]))])]))])),
    ])
    .render()
}

/// Every generated file: path in the dist dir, path of its committed copy, contents.
pub fn generated(root: &Path) -> Result<Vec<(&'static str, PathBuf, String)>> {
    let version = workspace_version(root)?;
    let license = workspace_package_field(root, "license")?;
    Ok(vec![
        (".claude-plugin/plugin.json", root.join("plugin/.claude-plugin/plugin.json"), plugin_json(&version, &license)),
        (
            ".claude-plugin/marketplace.json",
            root.join("plugin/.claude-plugin/marketplace.json"),
            marketplace_json(&version),
        ),
        ("hooks/hooks.json", root.join("hooks.json"), hooks_json()),
    ])
}

/// Files copied verbatim from `plugin/` into the dist dir.
pub const STATIC_FILES: &[&str] = &["README.md"];

/// `cargo xtask codegen`: rewrites the committed copies.
pub fn codegen(root: &Path) -> Result {
    for (_, committed, text) in generated(root)? {
        let old = std::fs::read_to_string(&committed).unwrap_or_default();
        if old != text {
            util::write(&committed, &text)?;
            println!("updated {}", committed.display());
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
        for (_, committed, text) in generated(&root).unwrap() {
            let on_disk = std::fs::read_to_string(&committed).unwrap_or_default();
            assert!(on_disk == text, "{} is out of date: run `cargo xtask codegen`", committed.display());
        }
        for name in STATIC_FILES {
            assert!(root.join("plugin").join(name).is_file(), "plugin/{name} is missing");
        }
    }

    #[test]
    fn generated_json_is_valid_and_quoted() {
        let hooks: Value = serde_json::from_str(&hooks_json()).unwrap();
        let cmd = &hooks["hooks"]["UserPromptSubmit"][0]["hooks"][0]["command"];
        assert_eq!(cmd, "\"${CLAUDE_PLUGIN_ROOT}/bin/cc-aws-check\"");
        let plugin: Value = serde_json::from_str(&plugin_json("1.2.3", "MIT")).unwrap();
        assert_eq!(plugin["version"], "1.2.3");
        assert_eq!(plugin["name"], PLUGIN_NAME);
        let market: Value = serde_json::from_str(&marketplace_json("1.2.3")).unwrap();
        assert_eq!(market["plugins"][0]["version"], "1.2.3");
        assert_eq!(market["plugins"][0]["source"], "./");
        // Key order is as written.
        assert!(plugin_json("1", "MIT").starts_with("{\n  \"name\": \"cc-aws-keepalive\",\n  \"version\": \"1\","));
    }

    #[test]
    fn reads_the_workspace_version() {
        let v = workspace_version(&util::project_root()).unwrap();
        assert!(v.split('.').count() == 3 && v.split('.').all(|p| p.parse::<u32>().is_ok()), "{v}");
    }
}
