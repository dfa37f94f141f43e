//! Dotfiles managers (GNU stow, yadm, home-manager) make `~/.claude/settings.json` and our
//! config.json symlinks into a repository. `setup` writes through them to the files they name
//! and the links stay links; `setup --uninstall` puts those files' bytes back exactly — for an
//! absolute link, a relative one, a chain of two, and a dangling one (whose file setup creates
//! and uninstall removes again).

use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use test_support::TestHome;

use crate::run;

const SETTINGS: &str = ".claude/settings.json";
const CONFIG: &str = ".config/cc-aws-keepalive/config.json";

/// A status line of the user's own (so `--statusline` also edits config.json), CRLF line ends
/// and no final line break: bytes a rewrite would not reproduce by accident.
const SETTINGS_ORIGINAL: &str =
    "{\r\n  \"model\": \"sonnet\",\r\n  \"statusLine\": {\"type\": \"command\", \"command\": \"~/bin/line.sh\"}\r\n}";
const CONFIG_ORIGINAL: &str = "{\n    \"profile\": \"dev\"\n}\n";

fn is_link(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink())
}

fn link(target: impl AsRef<Path>, at: &Path) {
    std::fs::create_dir_all(at.parent().unwrap()).unwrap();
    symlink(target, at).unwrap();
}

/// The names in a directory, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn settings_value(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn setup_and_uninstall_write_through_absolute_and_relative_links() {
    let home = TestHome::new();
    let real_settings = home.write("dotfiles/claude/settings.json", SETTINGS_ORIGINAL);
    let real_config = home.write("dotfiles/keepalive/config.json", CONFIG_ORIGINAL);
    // home-manager links absolutely, stow relatively.
    link(&real_settings, &home.join(SETTINGS));
    link("../../dotfiles/keepalive/config.json", &home.join(CONFIG));
    let links_before: Vec<PathBuf> =
        [SETTINGS, CONFIG].iter().map(|p| std::fs::read_link(home.join(p)).unwrap()).collect();

    let out = run(&home, None, &["setup", "--statusline"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    for (p, before) in [SETTINGS, CONFIG].iter().zip(&links_before) {
        assert!(is_link(&home.join(p)), "{p} is no longer a symlink:\n{}", out.stdout);
        assert_eq!(&std::fs::read_link(home.join(p)).unwrap(), before, "{p} points elsewhere");
    }
    // The files the links name were edited.
    let v = settings_value(&real_settings);
    assert!(v["awsCredentialExport"].as_str().unwrap().ends_with("cc-aws-export"), "{v}");
    assert!(v["statusLine"]["command"].as_str().unwrap().contains("cc-aws-statusline"), "{v}");
    assert_eq!(v["model"], "sonnet");
    let cfg = settings_value(&real_config);
    assert_eq!(cfg["statusLineCmd"], "~/bin/line.sh");
    assert_eq!(cfg["profile"], "dev");
    // Nothing else appeared in the repository (no temp files, no backups among the dotfiles).
    assert_eq!(names(&home.join("dotfiles/claude")), ["settings.json"]);
    assert_eq!(names(&home.join("dotfiles/keepalive")), ["config.json"]);
    // The backup holds the bytes the link led to, and is a file of its own.
    let backups: Vec<PathBuf> = std::fs::read_dir(home.join(".claude"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("settings.json.bak-"))
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert!(!is_link(&backups[0]));
    assert_eq!(std::fs::read_to_string(&backups[0]).unwrap(), SETTINGS_ORIGINAL);
    // Where the edit landed is said.
    assert!(out.stdout.contains(&format!("→ {}", real_settings.display())), "{}", out.stdout);

    let un = run(&home, None, &["setup", "--uninstall"], &[]);
    assert_eq!(un.status, Some(0), "{}", un.describe());
    for p in [SETTINGS, CONFIG] {
        assert!(is_link(&home.join(p)), "{p} is no longer a symlink after uninstall:\n{}", un.stdout);
    }
    assert_eq!(std::fs::read(&real_settings).unwrap(), SETTINGS_ORIGINAL.as_bytes(), "settings bytes restored");
    assert_eq!(std::fs::read(&real_config).unwrap(), CONFIG_ORIGINAL.as_bytes(), "config bytes restored");
}

#[test]
fn a_chain_of_two_links_and_a_dangling_link() {
    let home = TestHome::new();
    // settings.json -> settings.d/current.json -> ../../dotfiles/settings.json, both relative.
    let real_settings = home.write("dotfiles/settings.json", SETTINGS_ORIGINAL);
    link("../../dotfiles/settings.json", &home.join(".claude/settings.d/current.json"));
    link("settings.d/current.json", &home.join(SETTINGS));
    // config.json names a file the repository does not have yet.
    let real_config = home.join("dotfiles/keepalive/config.json");
    std::fs::create_dir_all(real_config.parent().unwrap()).unwrap();
    link(&real_config, &home.join(CONFIG));

    let out = run(&home, None, &["setup"], &[]);
    assert_eq!(out.status, Some(0), "{}", out.describe());
    assert!(is_link(&home.join(SETTINGS)) && is_link(&home.join(".claude/settings.d/current.json")));
    let v = settings_value(&real_settings);
    assert!(v["awsAuthRefresh"].as_str().unwrap().ends_with("cc-aws-refresh"), "{v}");
    // Our config was created where the link points, private, and the link kept.
    assert!(is_link(&home.join(CONFIG)));
    assert!(out.stdout.contains("created from the example"), "{}", out.stdout);
    assert_eq!(std::fs::metadata(&real_config).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&real_config).unwrap().contains("\"profile\""));

    let un = run(&home, None, &["setup", "--uninstall"], &[]);
    assert_eq!(un.status, Some(0), "{}", un.describe());
    assert!(is_link(&home.join(SETTINGS)) && is_link(&home.join(".claude/settings.d/current.json")));
    assert_eq!(std::fs::read(&real_settings).unwrap(), SETTINGS_ORIGINAL.as_bytes());
    // The file setup created is gone; the link is left dangling, as it was.
    assert!(is_link(&home.join(CONFIG)), "{}", un.stdout);
    assert!(!real_config.exists(), "{}", un.stdout);
}
