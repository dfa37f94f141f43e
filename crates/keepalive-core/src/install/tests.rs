//! The installer in temp directories: copy, switch and prune of versions; a second run changes
//! nothing; a dry run writes nothing; uninstall restores every file byte for byte.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use time::macros::datetime;

use super::bins::{self, compare_versions};
use super::*;
use crate::env::Env;

/// A temp root with `home/` (HOME) and `src-<version>/` binaries; removed on drop.
struct T {
    root: PathBuf,
    ctx: Ctx,
}

impl T {
    fn new(tag: &str) -> T {
        let root = std::env::temp_dir().join(format!("kc-install-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("home")).unwrap();
        let s = |rel: &str| root.join(rel).to_string_lossy().into_owned();
        let env = Env::from_pairs([
            ("HOME", s("home").as_str()),
            ("XDG_CONFIG_HOME", &s("home/.config")),
            ("XDG_DATA_HOME", &s("home/.local/share")),
            ("XDG_STATE_HOME", &s("home/.local/state")),
        ]);
        T { ctx: Ctx::new(env, datetime!(2026-11-22 12:00:00 UTC)), root }
    }

    fn home(&self, rel: &str) -> PathBuf {
        self.root.join("home").join(rel)
    }

    /// Five small "binaries" whose content names the version and `flavour`.
    fn source(&self, version: &str, flavour: &str) -> Source {
        let dir = self.root.join(format!("src-{version}-{flavour}"));
        fs::create_dir_all(&dir).unwrap();
        for b in BINARIES {
            fs::write(dir.join(exe(b)), format!("#!/bin/sh\necho {b} {version} {flavour}\n")).unwrap();
        }
        Source { bin_dir: dir, version: version.into(), plugin_dir: None }
    }

    fn req<'a>(&self, source: Source, dry_run: bool) -> Request<'a> {
        Request { command: "setup", source, status_line: StatusLinePolicy::IfAbsent, dry_run, path_var: None }
    }

    /// Runs an install, returns its outcome and lines.
    fn install(&self, source: Source, dry_run: bool) -> (Outcome, Vec<String>) {
        let mut lines = Vec::new();
        let out = install(&self.ctx, &self.req(source, dry_run), &mut |l| lines.push(l.to_string())).unwrap();
        (out, lines)
    }

    fn uninstall(&self, dry_run: bool) -> Vec<String> {
        let mut lines = Vec::new();
        uninstall(&self.ctx, dry_run, &mut |l| lines.push(l.to_string())).unwrap();
        lines
    }

    fn versions(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(self.home(".local/share/cc-aws-keepalive/versions"))
            .map(|r| r.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    fn current_bin(&self, name: &str) -> String {
        fs::read_to_string(self.home(".local/share/cc-aws-keepalive/current/bin").join(exe(name))).unwrap()
    }

    /// Every file and link under HOME, with contents, for "nothing changed" checks.
    fn snapshot(&self) -> Vec<(PathBuf, String)> {
        fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
            for e in fs::read_dir(dir).into_iter().flatten().flatten() {
                let p = e.path();
                let t = e.file_type().unwrap();
                if t.is_symlink() {
                    out.push((p.clone(), format!("-> {}", fs::read_link(&p).unwrap().display())));
                } else if t.is_dir() {
                    walk(&p, out);
                } else {
                    out.push((p.clone(), fs::read_to_string(&p).unwrap_or_default()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root.join("home"), &mut out);
        out.sort();
        out
    }
}

impl Drop for T {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

const SETTINGS: &str = ".claude/settings.json";
/// Odd-but-valid formatting and keys of the user's own.
const ORIGINAL: &str = "{\n    \"model\": \"sonnet\",\n    \"env\": {\"AWS_REGION\": \"us-east-1\"}\n}\n";

#[cfg(unix)]
#[test]
fn upgrades_copy_switch_and_keep_the_previous_version_only() {
    let t = T::new("upgrade");
    let wait = Duration::from_secs(5);
    let placed = bins::place(&t.ctx, &t.source("0.1.0", "a"), Check::Contents, false, wait).unwrap();
    assert_eq!(placed, Placed::Installed { name: "0.1.0".into(), previous: None });
    assert_eq!(fs::read_link(t.home(".local/share/cc-aws-keepalive/current")).unwrap(), Path::new("versions/0.1.0"));
    assert_eq!(t.current_bin("cc-aws-check"), "#!/bin/sh\necho cc-aws-check 0.1.0 a\n");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(t.home(".local/share/cc-aws-keepalive/current/bin/cc-aws-export")).unwrap();
        assert_eq!(mode.permissions().mode() & 0o777, 0o755, "executable whatever the source's mode");
    }
    let placed = bins::place(&t.ctx, &t.source("0.2.0", "a"), Check::Contents, false, wait).unwrap();
    assert_eq!(placed, Placed::Installed { name: "0.2.0".into(), previous: Some("0.1.0".into()) });
    assert_eq!(t.versions(), ["0.1.0", "0.2.0"]);
    // A leftover of an interrupted run goes with the next prune.
    fs::create_dir_all(t.home(".local/share/cc-aws-keepalive/versions/.tmp-0.2.5-1")).unwrap();
    bins::place(&t.ctx, &t.source("0.10.0", "a"), Check::Contents, false, wait).unwrap();
    assert_eq!(t.versions(), ["0.10.0", "0.2.0"], "the current and the previous version stay");
    assert_eq!(t.current_bin("cc-aws-keepalive"), "#!/bin/sh\necho cc-aws-keepalive 0.10.0 a\n");

    // An older source never replaces a newer complete install.
    let placed = bins::place(&t.ctx, &t.source("0.9.0", "a"), Check::Contents, false, wait).unwrap();
    assert_eq!(placed, Placed::KeptNewer { installed: "0.10.0".into(), source: "0.9.0".into() });
    // A rebuild of the same version: a start hook (versions only) leaves it, setup replaces
    // it in a new directory, never writing into the one in use.
    let rebuilt = t.source("0.10.0", "b");
    let placed = bins::place(&t.ctx, &rebuilt, Check::Version, false, wait).unwrap();
    assert_eq!(placed, Placed::Unchanged { version: "0.10.0".into() });
    let placed = bins::place(&t.ctx, &rebuilt, Check::Contents, false, wait).unwrap();
    assert_eq!(placed, Placed::Installed { name: "0.10.0~2".into(), previous: Some("0.10.0".into()) });
    assert_eq!(t.current_bin("cc-aws-check"), "#!/bin/sh\necho cc-aws-check 0.10.0 b\n");
    assert_eq!(
        bins::place(&t.ctx, &rebuilt, Check::Contents, false, wait).unwrap(),
        Placed::Unchanged { version: "0.10.0".into() }
    );
    // A binary lost from the install: the start hook puts the set back.
    fs::remove_file(t.home(".local/share/cc-aws-keepalive/current/bin/cc-aws-check")).unwrap();
    let placed = bins::place(&t.ctx, &rebuilt, Check::Version, false, wait).unwrap();
    assert!(matches!(placed, Placed::Installed { .. }), "{placed:?}");
    assert_eq!(t.current_bin("cc-aws-check"), "#!/bin/sh\necho cc-aws-check 0.10.0 b\n");
}

#[test]
fn an_incomplete_source_is_refused_or_the_installed_set_kept() {
    let t = T::new("incomplete");
    let wait = Duration::from_secs(5);
    let partial = t.source("0.2.0", "p");
    fs::remove_file(partial.bin_dir.join(exe("cc-aws-export"))).unwrap();
    let err = bins::place(&t.ctx, &partial, Check::Contents, false, wait).unwrap_err();
    assert!(matches!(err, InstallError::MissingBinaries { .. }), "{err:?}");
    assert!(err.to_string().contains("cc-aws-export"), "{err}");
    assert!(t.versions().is_empty());
    bins::place(&t.ctx, &t.source("0.1.0", "a"), Check::Contents, false, wait).unwrap();
    let placed = bins::place(&t.ctx, &partial, Check::Contents, false, wait).unwrap();
    assert_eq!(
        placed,
        Placed::KeptIncompleteSource { installed: "0.1.0".into(), missing: vec!["cc-aws-export".into()] }
    );
}

#[test]
fn a_dry_run_writes_nothing() {
    let t = T::new("dry");
    t.source("0.1.0", "a");
    fs::create_dir_all(t.home(".claude")).unwrap();
    fs::write(t.home(SETTINGS), ORIGINAL).unwrap();
    let before = t.snapshot();
    let (out, lines) = t.install(t.source("0.1.0", "a"), true);
    assert!(out.changed);
    let text = lines.join("\n");
    assert!(text.contains("would be switched to versions/0.1.0"), "{text}");
    assert!(text.contains("would be created from the example"), "{text}");
    assert!(lines.iter().any(|l| l.starts_with('+') && l.contains("cc-aws-export")), "a diff: {text}");
    assert!(text.ends_with("setup: dry run, nothing written"), "{text}");
    assert_eq!(t.snapshot(), before, "a dry run wrote something");
}

#[cfg(unix)]
#[test]
fn install_is_idempotent_and_uninstall_restores_every_byte() {
    let t = T::new("roundtrip");
    fs::create_dir_all(t.home(".claude")).unwrap();
    fs::write(t.home(SETTINGS), ORIGINAL).unwrap();
    let (out, lines) = t.install(t.source("0.1.0", "a"), false);
    assert!(out.changed, "{lines:?}");
    let settings = fs::read_to_string(t.home(SETTINGS)).unwrap();
    let v: serde_json::Value = serde_json::from_str(&settings).unwrap();
    let bin = t.home(".local/share/cc-aws-keepalive/current/bin");
    assert_eq!(v["awsCredentialExport"], bin.join("cc-aws-export").to_string_lossy().as_ref());
    assert_eq!(v["awsAuthRefresh"], bin.join("cc-aws-refresh").to_string_lossy().as_ref());
    assert_eq!(v["statusLine"]["command"], bin.join("cc-aws-statusline").to_string_lossy().as_ref());
    assert_eq!(v["statusLine"]["refreshInterval"], 30, "the countdown ticks while idle");
    assert!(settings.starts_with("{\n    \"model\": \"sonnet\",\n    \"env\": {\"AWS_REGION\": \"us-east-1\"},\n"));
    let link = t.home(".local/bin/cc-aws-keepalive");
    assert_eq!(fs::read_link(&link).unwrap(), bin.join("cc-aws-keepalive"));
    assert!(t.home(".config/cc-aws-keepalive/config.json").is_file());

    // Again: nothing to do, nothing written.
    let before = t.snapshot();
    let (out, lines) = t.install(t.source("0.1.0", "a"), false);
    assert!(!out.changed, "{lines:?}");
    assert_eq!(lines.last().map(String::as_str), Some("setup: no changes"));
    assert_eq!(t.snapshot(), before);

    // A dry uninstall says what it would do and does nothing.
    let lines = t.uninstall(true);
    assert!(lines.iter().any(|l| l.contains("would be restored")), "{lines:?}");
    assert_eq!(t.snapshot(), before);

    let lines = t.uninstall(false);
    assert_eq!(fs::read_to_string(t.home(SETTINGS)).unwrap(), ORIGINAL, "{lines:?}");
    assert!(!t.home(".config/cc-aws-keepalive/config.json").exists(), "the config setup created is removed");
    assert!(link.symlink_metadata().is_err(), "the link setup created is removed");
    assert!(!t.home(".local/state/cc-aws-keepalive/setup.json").exists());
    assert!(lines.iter().any(|l| l.contains("stay for the plugin's hooks")), "{lines:?}");
    let lines = t.uninstall(false);
    assert!(lines[0].contains("nothing recorded"), "{lines:?}");
}

#[cfg(unix)]
#[test]
fn an_upgrade_from_the_old_plugin_layout_moves_the_paths_and_uninstalls_exactly() {
    let t = T::new("oldlayout");
    // What the layout before versions/ wired, and a link of someone else's in ~/.local/bin.
    let old = "{\n  \"awsCredentialExport\": \"/h/.local/share/cc-aws-keepalive/plugin/bin/cc-aws-export\",\n  \
               \"statusLine\": {\n    \"type\": \"command\",\n    \"command\": \"/old/cc-aws-statusline\"\n  }\n}\n";
    fs::create_dir_all(t.home(".claude")).unwrap();
    fs::write(t.home(SETTINGS), old).unwrap();
    fs::create_dir_all(t.home(".local/bin")).unwrap();
    std::os::unix::fs::symlink("/opt/elsewhere/cc-aws-keepalive", t.home(".local/bin/cc-aws-keepalive")).unwrap();
    let (_, lines) = t.install(t.source("0.2.0", "a"), false);
    let text = lines.join("\n");
    assert!(text.contains("awsCredentialExport") && text.contains("(path updated)"), "{text}");
    assert!(text.contains("statusLine") && text.contains("(updated)"), "{text}");
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(t.home(SETTINGS)).unwrap()).unwrap();
    assert_eq!(v["statusLine"]["refreshInterval"], 30);
    t.uninstall(false);
    assert_eq!(fs::read_to_string(t.home(SETTINGS)).unwrap(), old);
    assert_eq!(
        fs::read_link(t.home(".local/bin/cc-aws-keepalive")).unwrap(),
        Path::new("/opt/elsewhere/cc-aws-keepalive"),
        "the link that was there is put back"
    );
}

#[test]
fn composing_moves_their_status_line_into_a_backed_up_config_and_back() {
    let t = T::new("compose");
    let settings = "{\"statusLine\": {\"type\": \"command\", \"command\": \"~/bin/mine.sh\"}}\n";
    let config = "{\n  \"profile\": \"dev\"\n}\n";
    fs::create_dir_all(t.home(".claude")).unwrap();
    fs::create_dir_all(t.home(".config/cc-aws-keepalive")).unwrap();
    fs::write(t.home(SETTINGS), settings).unwrap();
    fs::write(t.home(".config/cc-aws-keepalive/config.json"), config).unwrap();
    let req = Request { status_line: StatusLinePolicy::Compose, ..t.req(t.source("0.1.0", "a"), false) };
    let mut lines = Vec::new();
    install(&t.ctx, &req, &mut |l| lines.push(l.to_string())).unwrap();
    let cfg: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(t.home(".config/cc-aws-keepalive/config.json")).unwrap()).unwrap();
    assert_eq!(cfg["statusLineCmd"], "~/bin/mine.sh");
    let backup = lines.iter().find_map(|l| l.strip_prefix("  backup: ").filter(|b| b.contains("config.json")));
    assert_eq!(fs::read_to_string(backup.expect("a backup of config.json")).unwrap(), config);
    let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(t.home(SETTINGS)).unwrap()).unwrap();
    assert!(v["statusLine"]["command"].as_str().unwrap().ends_with("/current/bin/cc-aws-statusline"), "{v}");
    assert_eq!(v["statusLine"]["refreshInterval"], 30);
    t.uninstall(false);
    assert_eq!(fs::read_to_string(t.home(SETTINGS)).unwrap(), settings);
    assert_eq!(fs::read_to_string(t.home(".config/cc-aws-keepalive/config.json")).unwrap(), config);
}

#[test]
fn a_file_in_the_link_place_is_left_alone() {
    let t = T::new("notalink");
    fs::create_dir_all(t.home(".local/bin")).unwrap();
    fs::write(t.home(".local/bin/cc-aws-keepalive"), "mine").unwrap();
    let (_, lines) = t.install(t.source("0.1.0", "a"), false);
    assert!(lines.iter().any(|l| l.contains("exists and is not a link; left alone")), "{lines:?}");
    t.uninstall(false);
    assert_eq!(fs::read_to_string(t.home(".local/bin/cc-aws-keepalive")).unwrap(), "mine");
}

#[test]
fn versions_compare_as_semver() {
    use std::cmp::Ordering::*;
    let cases = [
        ("0.1.0", "0.2.0", Less),
        ("0.10.0", "0.9.0", Greater),
        ("1.0.0", "1.0.0", Equal),
        ("1.0.0-beta.2", "1.0.0", Less),
        ("1.0.0-beta.2", "1.0.0-beta.10", Less),
        ("1.0.0-alpha", "1.0.0-beta", Less),
        ("1.0.0-1", "1.0.0-alpha", Less),
        ("1.0.0+build.5", "1.0.0", Equal),
        ("1.0", "1.0.0", Equal),
        ("garbage", "0.0.1", Less),
    ];
    for (a, b, want) in cases {
        assert_eq!(compare_versions(a, b), want, "{a} vs {b}");
        assert_eq!(compare_versions(b, a), want.reverse(), "{b} vs {a}");
    }
}
