//! What installs changed, for `setup --uninstall`: `$XDG_STATE_HOME/cc-aws-keepalive/setup.json`.
//!
//! Every install path (`cargo xtask install`, `cc-aws-keepalive setup`) writes it before it
//! edits anything, so an uninstall can undo any of them: byte for byte when nobody touched the
//! files since, key by key otherwise.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::InstallError;
use crate::claude_settings::Record;
use crate::fsutil;

/// What installs changed. Settings records stack: each install that changed something adds
/// one, and uninstall undoes them newest first.
///
/// Paths are the ones Claude Code and we open, symlinks included: every read and write goes
/// through the link to the file it names (which a dotfiles manager may move between setups),
/// and the texts and hashes recorded are that file's bytes, which an uninstall puts back.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SetupRecord {
    pub settings_path: Option<PathBuf>,
    pub settings: Vec<Record>,
    pub config: Option<ConfigRecord>,
    /// The `cc-aws-keepalive` link an install put into `~/.local/bin`.
    pub cli_link: Option<LinkRecord>,
}

impl SetupRecord {
    pub fn is_empty(&self) -> bool {
        self.settings.is_empty() && self.config.is_none() && self.cli_link.is_none()
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigRecord {
    pub path: PathBuf,
    /// The text before our first change; `None`: we created the file.
    pub original: Option<String>,
    /// The text we last wrote.
    pub written: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkRecord {
    pub path: PathBuf,
    /// Where the link pointed.
    pub target: PathBuf,
    /// Where a link we replaced pointed (`None`: there was none), put back by an uninstall.
    pub previous: Option<PathBuf>,
}

pub fn read(path: &Path) -> Result<SetupRecord, InstallError> {
    match fsutil::read_optional(path)? {
        None => Ok(SetupRecord::default()),
        Some(t) => serde_json::from_str(&t).map_err(|_| InstallError::Record { path: path.to_path_buf() }),
    }
}

/// Private (0600 in a 0700 directory): it holds settings.json's texts, and those can hold an
/// `env` block with secrets.
pub fn write(path: &Path, r: &SetupRecord) -> Result<(), InstallError> {
    if let Some(d) = path.parent() {
        fsutil::ensure_dir(d, fsutil::SECRET_DIR_MODE)?;
    }
    let mut text = serde_json::to_string_pretty(r).map_err(|_| InstallError::Record { path: path.to_path_buf() })?;
    text.push('\n');
    fsutil::write_atomic(path, text.as_bytes(), Some(fsutil::SECRET_FILE_MODE))?;
    Ok(())
}
