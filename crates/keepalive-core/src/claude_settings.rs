//! Merging our commands into Claude Code's settings.json with minimal textual edits.
//!
//! Claude Code reads `awsCredentialExport`, `awsAuthRefresh` and `statusLine` only from
//! settings files (plugins cannot set them), so installing means editing a file people keep by
//! hand. We therefore never re-serialise it: the document is validated with serde_json, a small
//! scanner finds the byte spans of the top-level members, and only the spans of the members we
//! own are replaced (or one member list is appended before the closing brace, in the file's own
//! indentation, comma and line-ending style). Every edit is recorded so that an uninstall puts
//! the original bytes back.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fsutil::{self, FsError};

/// settings.json key of the credential export command.
pub const EXPORT_KEY: &str = "awsCredentialExport";
/// settings.json key of the login/refresh command.
pub const REFRESH_KEY: &str = "awsAuthRefresh";
/// settings.json key of the status line object.
pub const STATUS_LINE_KEY: &str = "statusLine";
/// File names of our binaries; a command naming one of them is ours, whatever wraps it.
pub const EXPORT_BIN: &str = "cc-aws-export";
pub const REFRESH_BIN: &str = "cc-aws-refresh";
pub const STATUS_LINE_BIN: &str = "cc-aws-statusline";
/// Our config.json key that receives a user's own status line command when composing.
pub const STATUS_LINE_CMD_KEY: &str = "statusLineCmd";

/// Indentation for files we create or objects that have no members to copy it from; it is
/// what Claude Code itself writes.
const DEFAULT_INDENT: &str = "  ";
const BOM: &str = "\u{feff}";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error(
        "{path} is not valid JSON ({detail}); Claude Code cannot read it either. Fix it by hand and run this again (the file was left untouched)"
    )]
    Invalid { path: PathBuf, detail: String },
    #[error(
        "{path}: the top level is not a JSON object; fix it by hand and run this again (the file was left untouched)"
    )]
    NotAnObject { path: PathBuf },
    #[error("{path} is not UTF-8 text; fix it by hand and run this again (the file was left untouched)")]
    NotUtf8 { path: PathBuf },
    #[error("{path} changed while we were preparing our edit; run this again")]
    Changed { path: PathBuf },
    /// The scanner disagrees with serde_json: a bug of ours, reported instead of guessing.
    #[error(
        "{path}: could not locate the members of the top-level object (please report this); the file was left untouched"
    )]
    Scan { path: PathBuf },
    #[error(transparent)]
    Fs(#[from] FsError),
}

/// Absolute paths of the installed binaries to wire into settings.json.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wiring {
    pub export: PathBuf,
    pub refresh: PathBuf,
    pub statusline: PathBuf,
}

/// What to do with `statusLine`.
///
/// The default never takes a status line away from anyone without being asked: people who
/// have one chose it, and a prompt would not work in scripted installs. Composing is an
/// explicit opt-in because it moves their command into our config.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusLinePolicy {
    /// Set ours when there is none (or update ours); leave someone else's and add a hint.
    #[default]
    IfAbsent,
    /// Also when the user has their own: move their command into config.json's
    /// `statusLineCmd` (our status line runs it and prints `<its line> | AWS: 4h23m`).
    Compose,
    /// Do not touch `statusLine` at all.
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options {
    pub status_line: StatusLinePolicy,
    /// `statusLine.refreshInterval` in seconds for a status line of ours: Claude Code then
    /// re-runs it while the session is idle, so the countdown ticks without a prompt. Added to
    /// a status line of ours that lacks one; a value someone set is kept. `None`: not written.
    pub refresh_interval: Option<u32>,
}

/// The `statusLine.refreshInterval` setups write: a minute-resolution countdown needs no
/// more, and our status line costs about a millisecond per run.
pub const STATUS_LINE_REFRESH_SECS: u32 = 30;
/// The member of `statusLine` holding it (seconds, at least 1).
pub const REFRESH_INTERVAL_KEY: &str = "refreshInterval";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// The key was absent.
    Added,
    /// The value already ran our binary (possibly wrapped); only the path moved.
    PathUpdated,
    /// Our status line, completed in place: `refreshInterval` added (and the path moved, if it
    /// had).
    Updated,
    /// The value was something else; `old` holds it.
    Replaced,
    /// Uninstall: the member was removed.
    Removed,
    /// Uninstall: the value from before the install was put back.
    Restored,
}

/// One key's change, values as compact JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub key: String,
    pub kind: ChangeKind,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// The outcome of [`plan`] or [`unplan`]: nothing is written until [`apply`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The file's new text; `None`: leave it as it is.
    pub new_text: Option<String>,
    /// Uninstall of a file we created and nobody touched since: delete it.
    pub remove_file: bool,
    pub changes: Vec<Change>,
    /// The user's own status line command, to store in config.json's `statusLineCmd`.
    pub moved_status_line_cmd: Option<String>,
    /// Things the user should know (a kept status line, keys changed since install, …).
    pub hints: Vec<String>,
    /// What the install changed, for [`unplan`]; `None` when nothing changes.
    pub record: Option<Record>,
    /// sha1 of the text the plan was made from (`None`: no file); [`apply`] refuses to write
    /// over a file that changed in between.
    pub base_sha1: Option<String>,
}

/// What an install changed, serialisable so a CLI can keep it for its uninstall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The file did not exist before (through a symlink: its target did not).
    pub created: bool,
    /// sha1 of the text we wrote. While the file still has it, the edits below undo the
    /// install byte for byte.
    pub written_sha1: String,
    /// Our edits, in the coordinates of the written text, ascending.
    pub edits: Vec<RecordEdit>,
    /// Per key, the value text before (`None`: absent) and after, for an uninstall after the
    /// file was changed by someone else (Claude Code rewrites it when plugins are toggled).
    pub keys: Vec<KeyRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordEdit {
    /// Byte offset in the written text.
    pub at: usize,
    /// Bytes we wrote there.
    pub written_len: usize,
    /// The bytes they replaced.
    pub original: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub key: String,
    pub before: Option<String>,
    pub after: String,
}

/// Reads settings.json strictly: a file that is not UTF-8 would be damaged by a lossy round trip.
/// Through symlinks: the text is the link target's, the bytes an uninstall puts back.
pub fn read_settings(path: &Path) -> Result<Option<String>, SettingsError> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(FsError::Read { path: path.to_path_buf(), source }.into()),
    };
    if bytes.len() as u64 > fsutil::MAX_READ {
        return Err(FsError::TooLarge { path: path.to_path_buf(), limit: fsutil::MAX_READ }.into());
    }
    String::from_utf8(bytes).map(Some).map_err(|_| SettingsError::NotUtf8 { path: path.to_path_buf() })
}

/// Plans the edit of settings.json (`existing`: its text, `None` when missing) that wires
/// in our commands.
pub fn plan(existing: Option<&str>, path: &Path, wiring: &Wiring, opts: &Options) -> Result<Plan, SettingsError> {
    let doc = Doc::load(existing, path)?;
    let mut out = Planner::default();
    let string_keys = [(EXPORT_KEY, EXPORT_BIN, &wiring.export), (REFRESH_KEY, REFRESH_BIN, &wiring.refresh)];
    for (key, bin, bin_path) in string_keys {
        plan_command_key(&doc, &mut out, key, bin, &shell_word(&bin_path.to_string_lossy()))?;
    }
    if opts.status_line != StatusLinePolicy::Skip {
        let ours = shell_word(&wiring.statusline.to_string_lossy());
        plan_status_line(&doc, &mut out, &ours, opts.status_line, opts.refresh_interval)?;
    }
    out.finish(&doc)
}

/// Plans the uninstall of what `record` installed. Byte for byte when the file is still exactly
/// what we wrote; otherwise key by key: a value still equal to what we wrote is restored (or its
/// member removed), a value changed since is left with a hint.
pub fn unplan(current: Option<&str>, path: &Path, record: &Record) -> Result<Plan, SettingsError> {
    let Some(text) = current else {
        return Ok(Plan {
            hints: vec![format!("{} no longer exists; nothing to undo", path.display())],
            ..Plan::empty(None)
        });
    };
    let base_sha1 = Some(sha1(text));
    let changes: Vec<Change> = record
        .keys
        .iter()
        .map(|k| Change {
            key: k.key.clone(),
            kind: if k.before.is_some() { ChangeKind::Restored } else { ChangeKind::Removed },
            old: Some(compact(&k.after)),
            new: k.before.as_deref().map(compact),
        })
        .collect();
    if base_sha1.as_deref() == Some(record.written_sha1.as_str()) {
        if record.created {
            return Ok(Plan { remove_file: true, changes, ..Plan::empty(base_sha1) });
        }
        let mut restored = text.to_string();
        for e in record.edits.iter().rev() {
            let end = e.at.checked_add(e.written_len).ok_or_else(|| scan_err(path))?;
            if restored.get(e.at..end).is_none() {
                return Err(scan_err(path));
            }
            restored.replace_range(e.at..end, &e.original);
        }
        return Ok(Plan { new_text: Some(restored), changes, ..Plan::empty(base_sha1) });
    }
    // Someone else edited the file since: undo key by key, re-scanning after each edit.
    let mut text_now = text.to_string();
    let mut done = Vec::new();
    let mut hints = Vec::new();
    for k in record.keys.iter().rev() {
        let doc = Doc::load(Some(&text_now), path)?;
        let Some(member) = doc.member(&k.key) else {
            hints.push(format!("{} is no longer set; nothing to undo", k.key));
            continue;
        };
        let current_value = doc.raw(member);
        if !same_json(current_value, &k.after) {
            hints.push(format!("{} changed since it was installed ({}); left as is", k.key, compact(current_value)));
            continue;
        }
        let (range, replacement) = match &k.before {
            Some(before) => ((member.value_start, member.value_end), before.clone()),
            None => (doc.removal_span(member).ok_or_else(|| scan_err(path))?, String::new()),
        };
        text_now = splice_one(&text_now, range, &replacement).ok_or_else(|| scan_err(path))?;
        done.extend(changes.iter().filter(|c| c.key == k.key).cloned());
    }
    done.reverse();
    let new_text = (text_now != text).then_some(text_now);
    Ok(Plan { new_text, changes: done, hints, ..Plan::empty(base_sha1) })
}

/// Sets a top-level string member of a JSON object file with the same minimal edits (used for
/// our config.json's `statusLineCmd`). Returns the new text, `None` when already equal.
pub fn set_string_member(
    existing: Option<&str>,
    path: &Path,
    key: &str,
    value: &str,
) -> Result<Option<String>, SettingsError> {
    let doc = Doc::load(existing, path)?;
    let mut out = Planner::default();
    let new_raw = json_string(value);
    match doc.member(key) {
        Some(m) if doc.value(m) == Value::String(value.to_string()) => {}
        Some(m) => out.replace(&doc, key, m, ChangeKind::Replaced, (m.value_start, m.value_end), new_raw),
        None => out.insert(key, NewValue::Str(value.to_string())),
    }
    Ok(out.finish(&doc)?.new_text)
}

/// Writes a plan: backs the file up (timestamped, same directory), then replaces it atomically
/// keeping its mode, creating the directory when missing. Returns the backup's path.
///
/// A settings.json that is a symlink (GNU stow, yadm, home-manager keep it in a dotfiles
/// repository) stays one: reads, the backup and [`fsutil::write_atomic`] all go through the
/// link to the file it names, and the plan's `base_sha1` and record are of that file's bytes.
/// Removing a file we created removes that file, not the link.
pub fn apply(path: &Path, plan: &Plan, now: time::OffsetDateTime) -> Result<Option<PathBuf>, SettingsError> {
    if plan.new_text.is_none() && !plan.remove_file {
        return Ok(None);
    }
    let current = read_settings(path)?;
    if current.as_deref().map(sha1) != plan.base_sha1 {
        return Err(SettingsError::Changed { path: path.to_path_buf() });
    }
    let backup = fsutil::backup(path, now)?;
    if plan.remove_file {
        if current.is_some() {
            remove_through_links(path)?;
        }
        return Ok(backup);
    }
    if let Some(text) = &plan.new_text {
        // The directory the write lands in: the link's target's (a dangling link into a
        // dotfiles tree names where the file is to be).
        let target = fsutil::write_target(path)?;
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Settings can hold secrets (`env`); a directory we create is private.
            fsutil::ensure_dir(dir, fsutil::SECRET_DIR_MODE)?;
        }
        fsutil::write_atomic(path, text.as_bytes(), None)?;
    }
    Ok(backup)
}

/// Removes the file `path` names, through any symlinks ([`fsutil::write_target`]: the file a
/// write through them lands in), leaving the links — dangling, as they were before we created
/// the file. A missing file is already removed.
pub fn remove_through_links(path: &Path) -> Result<(), FsError> {
    let target = fsutil::write_target(path)?;
    match fs::remove_file(&target) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(FsError::Write { path: target, source: e }),
        _ => Ok(()),
    }
}

/// True when `cmd` runs our binary `bin` (bare, or by a path ending in `/bin`).
pub fn references(cmd: &str, bin: &str) -> bool {
    replace_bin_paths(cmd, bin, "").is_some()
}

/// The first word of `cmd` that names `bin` (`/p/bin/cc-aws-export`, `"/My Tools/cc-aws-export"`,
/// a bare `cc-aws-export`), unquoted as a shell would, to check that the file still exists.
/// Quoting is read the POSIX way (single quotes literal, backslash escapes in double quotes and
/// outside); expansions are not performed, so a `$VAR/…` path comes back as written.
pub fn bin_path_in(cmd: &str, bin: &str) -> Option<String> {
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = cmd.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        q => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c if c.is_whitespace() || matches!(c, ';' | '&' | '|' | '(' | ')' | '`' | '<' | '>') => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                }
                in_word = false;
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    // `env A=1 /p/cc-aws-export`: the word after `=` in an assignment is a value, but a path
    // is never one of ours there; only whole words count.
    words.into_iter().find(|w| w == bin || w.ends_with(&format!("/{bin}")))
}

/// A line diff of `old` and `new` in unified format (3 lines of context), for `--dry-run`.
/// Empty when they are equal. String values of members whose names look secret (an `env`
/// block's `AWS_SECRET_ACCESS_KEY`, `AWS_BEARER_TOKEN_BEDROCK`, …) are shown as `"***"`:
/// context lines would otherwise print them.
pub fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a == b {
        return String::new();
    }
    let ops = line_ops(&a, &b);
    let mut out = String::from("--- before\n+++ after\n");
    const CONTEXT: usize = 3;
    let mut i = 0;
    while i < ops.len() {
        let Some(first_change) = ops.iter().skip(i).position(|o| !matches!(o, Op::Same(..))).map(|p| p + i) else {
            break;
        };
        let start = first_change.saturating_sub(CONTEXT).max(i);
        // Extend the hunk while changes are within 2×CONTEXT of each other.
        let mut end = first_change;
        let mut j = first_change;
        while j < ops.len() {
            if !matches!(ops[j], Op::Same(..)) {
                end = j;
            } else if j - end > 2 * CONTEXT {
                break;
            }
            j += 1;
        }
        let stop = (end + 1 + CONTEXT).min(ops.len());
        let (mut a_start, mut b_start) = (0, 0);
        for op in &ops[..start] {
            match op {
                Op::Same(..) => (a_start, b_start) = (a_start + 1, b_start + 1),
                Op::Del(_) => a_start += 1,
                Op::Add(_) => b_start += 1,
            }
        }
        let hunk = &ops[start..stop];
        let a_len = hunk.iter().filter(|o| !matches!(o, Op::Add(_))).count();
        let b_len = hunk.iter().filter(|o| !matches!(o, Op::Del(_))).count();
        out.push_str(&format!("@@ -{},{a_len} +{},{b_len} @@\n", a_start + 1, b_start + 1));
        for op in hunk {
            let (sign, line) = match op {
                Op::Same(l) => (' ', l),
                Op::Del(l) => ('-', l),
                Op::Add(l) => ('+', l),
            };
            out.push(sign);
            out.push_str(&mask_secret_values(line));
            out.push('\n');
        }
        i = stop;
    }
    out
}

/// Parts of member names whose string values [`diff`] masks.
const SECRET_NAME_PARTS: &[&str] = &["SECRET", "TOKEN", "PASSWORD", "PASSWD", "KEY", "BEARER", "COOKIE"];

/// `line` with the string value of every `"name": "value"` pair whose name looks secret
/// replaced by `"***"`. JSON strings never span lines, so a line can be scanned alone.
fn mask_secret_values(line: &str) -> std::borrow::Cow<'_, str> {
    let b = line.as_bytes();
    // Index just past the string literal starting at `start` (or the line's end).
    let string_end = |start: usize| {
        let mut i = start + 1;
        while i < b.len() {
            match b[i] {
                b'\\' => i += 2,
                b'"' => return i + 1,
                _ => i += 1,
            }
        }
        b.len()
    };
    let mut out = String::new();
    let (mut i, mut copied) = (0, 0);
    // After `"name":`, whether the name looks secret.
    let mut secret_name = false;
    while i < b.len() {
        match b[i] {
            b'"' => {
                let end = string_end(i);
                let mut j = end;
                while j < b.len() && b[j].is_ascii_whitespace() {
                    j += 1;
                }
                if j < b.len() && b[j] == b':' {
                    let name = line[i + 1..end.saturating_sub(1).max(i + 1)].to_ascii_uppercase();
                    secret_name = SECRET_NAME_PARTS.iter().any(|p| name.contains(p));
                    i = j + 1;
                    continue;
                }
                if secret_name {
                    out.push_str(&line[copied..i]);
                    out.push_str("\"***\"");
                    copied = end;
                }
                secret_name = false;
                i = end;
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                secret_name = false;
                i += 1;
            }
        }
    }
    if copied == 0 {
        return std::borrow::Cow::Borrowed(line);
    }
    out.push_str(&line[copied..]);
    std::borrow::Cow::Owned(out)
}

enum Op<'a> {
    Same(&'a str),
    Del(&'a str),
    Add(&'a str),
}

/// Longest-common-subsequence line alignment; settings files are small, and past a size
/// where the table would be large we show a whole-file replacement instead.
fn line_ops<'a>(a: &[&'a str], b: &[&'a str]) -> Vec<Op<'a>> {
    let (n, m) = (a.len(), b.len());
    if n.saturating_mul(m) > 4_000_000 {
        return a.iter().map(|l| Op::Del(l)).chain(b.iter().map(|l| Op::Add(l))).collect();
    }
    // lcs[i][j]: LCS length of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops = Vec::with_capacity(n + m);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            ops.push(Op::Same(a[i]));
            (i, j) = (i + 1, j + 1);
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            // Deletions first, as diff(1) shows them.
            ops.push(Op::Del(a[i]));
            i += 1;
        } else {
            ops.push(Op::Add(b[j]));
            j += 1;
        }
    }
    ops
}

// ---------------------------------------------------------------------------------------------
// Planning

fn plan_command_key(doc: &Doc, out: &mut Planner, key: &str, bin: &str, ours: &str) -> Result<(), SettingsError> {
    let Some(m) = doc.member(key) else {
        out.insert(key, NewValue::Str(ours.to_string()));
        return Ok(());
    };
    let span = (m.value_start, m.value_end);
    match doc.value(m) {
        Value::String(s) => match replace_bin_paths(&s, bin, ours) {
            Some(updated) if updated == s => {}
            Some(updated) => out.replace(doc, key, m, ChangeKind::PathUpdated, span, json_string(&updated)),
            None => out.replace(doc, key, m, ChangeKind::Replaced, span, json_string(ours)),
        },
        _ => out.replace(doc, key, m, ChangeKind::Replaced, span, json_string(ours)),
    }
    Ok(())
}

fn plan_status_line(
    doc: &Doc,
    out: &mut Planner,
    ours: &str,
    policy: StatusLinePolicy,
    refresh: Option<u32>,
) -> Result<(), SettingsError> {
    let key = STATUS_LINE_KEY;
    let Some(m) = doc.member(key) else {
        out.insert(key, NewValue::StatusLine(ours.to_string(), refresh));
        return Ok(());
    };
    let value = doc.value(m);
    let command = value.get("command").and_then(Value::as_str).map(str::to_string);
    if let Some(cmd) = &command
        && let Some(updated) = replace_bin_paths(cmd, STATUS_LINE_BIN, ours)
    {
        return update_our_status_line(doc, out, m, (cmd, &updated), refresh);
    }
    let shown = compact(doc.raw(m));
    match policy {
        StatusLinePolicy::Skip => {}
        StatusLinePolicy::IfAbsent => out.hints.push(format!(
            "kept your statusLine ({shown}); to show it together with the AWS timer, run again with --statusline \
             (your command moves into our config.json as \"{STATUS_LINE_CMD_KEY}\")"
        )),
        StatusLinePolicy::Compose => {
            match command.filter(|c| !c.trim().is_empty()) {
                Some(cmd) => out.moved = Some(cmd),
                None => out.hints.push(format!("replaced statusLine {shown}: it has no command to show before ours")),
            }
            let raw = render(&NewValue::StatusLine(ours.to_string(), refresh), &doc.style, 1);
            out.replace(doc, key, m, ChangeKind::Replaced, (m.value_start, m.value_end), raw);
        }
    }
    Ok(())
}

/// A status line of ours already in place: only the command string's path moves, and a
/// missing `refreshInterval` is added after its last member; padding and anything else the
/// user set stay. One edit spanning both, so the record has one entry per key.
fn update_our_status_line(
    doc: &Doc,
    out: &mut Planner,
    m: &Member,
    (cmd, updated): (&str, &str),
    refresh: Option<u32>,
) -> Result<(), SettingsError> {
    let inner = parse_object(doc.text, m.value_start).ok_or_else(|| scan_err(&doc.path))?;
    // (start, end, replacement), ascending and disjoint.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    if updated != cmd {
        let cm = inner.members.iter().rev().find(|x| x.key == "command").ok_or_else(|| scan_err(&doc.path))?;
        edits.push((cm.value_start, cm.value_end, json_string(updated)));
    }
    let has_interval = inner.members.iter().any(|x| x.key == REFRESH_INTERVAL_KEY);
    if let (Some(secs), false, Some(last)) = (refresh, has_interval, inner.members.last()) {
        // The object's own style (one line or one member per line), else the file's.
        let style = Style::detect(doc.text, &inner, doc.style.nl);
        let (sep, colon) = match &style {
            Some(s) => (s.sep.as_str(), s.colon.as_str()),
            None => (",", doc.style.colon.as_str()),
        };
        edits.push((
            last.value_end,
            last.value_end,
            format!("{sep}{}{colon}{secs}", json_string(REFRESH_INTERVAL_KEY)),
        ));
    }
    let (Some(first), Some(final_)) = (edits.first(), edits.last()) else { return Ok(()) };
    let (start, end) = (first.0, final_.1);
    let mut new = String::new();
    let mut pos = start;
    for (s, e, text) in &edits {
        new.push_str(doc.text.get(pos..*s).ok_or_else(|| scan_err(&doc.path))?);
        new.push_str(text);
        pos = *e;
    }
    new.push_str(doc.text.get(pos..end).ok_or_else(|| scan_err(&doc.path))?);
    let kind = if edits.len() == 1 && updated != cmd { ChangeKind::PathUpdated } else { ChangeKind::Updated };
    out.replace(doc, STATUS_LINE_KEY, m, kind, (start, end), new);
    Ok(())
}

enum NewValue {
    Str(String),
    /// `{"type":"command","command":…,"padding":0}`, plus `"refreshInterval":N` when given.
    StatusLine(String, Option<u32>),
}

struct Edit {
    start: usize,
    end: usize,
    new: String,
}

#[derive(Default)]
struct Planner {
    edits: Vec<Edit>,
    inserts: Vec<(String, NewValue)>,
    changes: Vec<Change>,
    keys: Vec<KeyRecord>,
    moved: Option<String>,
    hints: Vec<String>,
}

impl Planner {
    /// Replaces `span` (the member's value or a part of it) with `new`.
    fn replace(&mut self, doc: &Doc, key: &str, m: &Member, kind: ChangeKind, span: (usize, usize), new: String) {
        let old_raw = doc.raw(m);
        let after = format!(
            "{}{new}{}",
            doc.text.get(m.value_start..span.0).unwrap_or(""),
            doc.text.get(span.1..m.value_end).unwrap_or("")
        );
        self.changes.push(Change {
            key: key.to_string(),
            kind,
            old: Some(compact(old_raw)),
            new: Some(compact(&after)),
        });
        self.keys.push(KeyRecord { key: key.to_string(), before: Some(old_raw.to_string()), after });
        self.edits.push(Edit { start: span.0, end: span.1, new });
    }

    fn insert(&mut self, key: &str, value: NewValue) {
        self.inserts.push((key.to_string(), value));
    }

    fn finish(mut self, doc: &Doc) -> Result<Plan, SettingsError> {
        if !self.inserts.is_empty() {
            let (edit, rendered) = doc.insertion(&self.inserts);
            for ((key, _), raw) in self.inserts.iter().zip(rendered) {
                self.changes.push(Change {
                    key: key.clone(),
                    kind: ChangeKind::Added,
                    old: None,
                    new: Some(compact(&raw)),
                });
                self.keys.push(KeyRecord { key: key.clone(), before: None, after: raw });
            }
            self.edits.push(edit);
        }
        let base_sha1 = doc.original.map(sha1);
        if self.edits.is_empty() {
            return Ok(Plan { hints: self.hints, moved_status_line_cmd: self.moved, ..Plan::empty(base_sha1) });
        }
        self.edits.sort_by_key(|e| (e.start, e.end));
        let mut text = String::with_capacity(doc.text.len() + 256);
        let mut record_edits = Vec::new();
        let mut pos = 0;
        for e in &self.edits {
            text.push_str(doc.text.get(pos..e.start).ok_or_else(|| scan_err(&doc.path))?);
            record_edits.push(RecordEdit {
                at: text.len(),
                written_len: e.new.len(),
                original: doc.text.get(e.start..e.end).ok_or_else(|| scan_err(&doc.path))?.to_string(),
            });
            text.push_str(&e.new);
            pos = e.end;
        }
        text.push_str(doc.text.get(pos..).ok_or_else(|| scan_err(&doc.path))?);
        // Never write something Claude Code could not read.
        if serde_json::from_str::<Value>(text.strip_prefix(BOM).unwrap_or(&text)).is_err() {
            return Err(scan_err(&doc.path));
        }
        let record =
            Record { created: doc.original.is_none(), written_sha1: sha1(&text), edits: record_edits, keys: self.keys };
        Ok(Plan {
            new_text: Some(text),
            remove_file: false,
            changes: self.changes,
            moved_status_line_cmd: self.moved,
            hints: self.hints,
            record: Some(record),
            base_sha1,
        })
    }
}

impl Plan {
    fn empty(base_sha1: Option<String>) -> Plan {
        Plan {
            new_text: None,
            remove_file: false,
            changes: Vec::new(),
            moved_status_line_cmd: None,
            hints: Vec::new(),
            record: None,
            base_sha1,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The document: validation, member spans, formatting style

struct Doc<'a> {
    path: PathBuf,
    /// The file's text, `None` when it does not exist.
    original: Option<&'a str>,
    /// The text to edit ("" for a missing file).
    text: &'a str,
    /// `None` for a missing or blank file.
    obj: Option<Object>,
    style: Style,
}

struct Style {
    nl: &'static str,
    /// Text between two members, from the end of one value to the next key (", " or ",\n  ").
    sep: String,
    /// Text between a key and its value (": ").
    colon: String,
    /// Indentation of top-level members; empty when members share the braces' line.
    indent: String,
}

impl<'a> Doc<'a> {
    fn load(existing: Option<&'a str>, path: &Path) -> Result<Doc<'a>, SettingsError> {
        let text = existing.unwrap_or("");
        let body = text.strip_prefix(BOM).unwrap_or(text);
        let nl = if text.contains("\r\n") { "\r\n" } else { "\n" };
        let fresh_style =
            || Style { nl, sep: format!(",{nl}{DEFAULT_INDENT}"), colon: ": ".into(), indent: DEFAULT_INDENT.into() };
        if body.trim().is_empty() {
            return Ok(Doc { path: path.to_path_buf(), original: existing, text, obj: None, style: fresh_style() });
        }
        match serde_json::from_str::<Value>(body) {
            Err(e) => return Err(SettingsError::Invalid { path: path.to_path_buf(), detail: e.to_string() }),
            Ok(Value::Object(_)) => {}
            Ok(_) => return Err(SettingsError::NotAnObject { path: path.to_path_buf() }),
        }
        let start = text.len() - body.len();
        let open = skip_ws(text.as_bytes(), start);
        let obj = parse_object(text, open).ok_or_else(|| scan_err(path))?;
        let style = Style::detect(text, &obj, nl).unwrap_or_else(fresh_style);
        Ok(Doc { path: path.to_path_buf(), original: existing, text, obj: Some(obj), style })
    }

    /// The last member named `key`: with duplicate keys, JSON.parse (Claude Code) keeps the last.
    fn member(&self, key: &str) -> Option<&Member> {
        self.obj.as_ref()?.members.iter().rev().find(|m| m.key == key)
    }

    fn raw(&self, m: &Member) -> &str {
        self.text.get(m.value_start..m.value_end).unwrap_or("")
    }

    fn value(&self, m: &Member) -> Value {
        serde_json::from_str(self.raw(m)).unwrap_or(Value::Null)
    }

    /// The bytes to delete to remove member `m` with one of its separators.
    fn removal_span(&self, m: &Member) -> Option<(usize, usize)> {
        let obj = self.obj.as_ref()?;
        let idx = obj.members.iter().position(|x| x.key_start == m.key_start)?;
        match (idx.checked_sub(1).and_then(|p| obj.members.get(p)), obj.members.get(idx + 1)) {
            (Some(prev), _) => Some((prev.value_end, m.value_end)),
            (None, Some(next)) => Some((m.key_start, next.key_start)),
            (None, None) => Some((obj.open + 1, obj.close)),
        }
    }

    /// One edit adding all `inserts` as members, and each value as rendered.
    fn insertion(&self, inserts: &[(String, NewValue)]) -> (Edit, Vec<String>) {
        let s = &self.style;
        let rendered: Vec<String> = inserts.iter().map(|(_, v)| render(v, s, 1)).collect();
        let members: Vec<String> =
            inserts.iter().zip(&rendered).map(|((k, _), raw)| format!("{}{}{raw}", json_string(k), s.colon)).collect();
        let edit = match &self.obj {
            // A blank file: everything but its BOM (kept, as in every other edit) is replaced.
            None => Edit {
                start: if self.text.starts_with(BOM) { BOM.len() } else { 0 },
                end: self.text.len(),
                new: format!("{{{nl}{DEFAULT_INDENT}{}{nl}}}{nl}", members.join(&s.sep), nl = s.nl),
            },
            Some(obj) => match obj.members.last() {
                Some(last) => Edit {
                    start: last.value_end,
                    end: last.value_end,
                    new: format!("{}{}", s.sep, members.join(&s.sep)),
                },
                // An empty object: `{}`, `{ }` or `{\n}` becomes a multi-line object.
                None => Edit {
                    start: obj.open + 1,
                    end: obj.close,
                    new: format!("{nl}{DEFAULT_INDENT}{}{nl}", members.join(&s.sep), nl = s.nl),
                },
            },
        };
        (edit, rendered)
    }
}

impl Style {
    fn detect(text: &str, obj: &Object, nl: &'static str) -> Option<Style> {
        let first = obj.members.first()?;
        let colon = text.get(first.key_end..first.value_start)?.to_string();
        // Copy the separator the file already uses between its last two members; with a
        // single member, derive it from the space between the brace and the key.
        let sep = match obj.members.len().checked_sub(2).and_then(|i| obj.members.get(i)) {
            Some(prev) => text.get(prev.value_end..obj.members.last()?.key_start)?.to_string(),
            None => {
                let lead = text.get(obj.open + 1..first.key_start)?;
                match lead.rfind('\n') {
                    Some(i) => format!(",{nl}{}", lead.get(i + 1..)?),
                    None if colon.ends_with(' ') => ", ".to_string(),
                    None => ",".to_string(),
                }
            }
        };
        // Only the whitespace: in comma-first files (`\n, "b": 2`) the comma starts the line,
        // and as indentation inside a new object it would make the object invalid.
        let indent = match sep.rfind('\n') {
            Some(i) => sep.get(i + 1..)?.chars().filter(|c| matches!(c, ' ' | '\t')).collect(),
            None => String::new(),
        };
        // A separator with a newline but no comma would be unusual; fall back to the default.
        if !sep.contains(',') || sep.chars().any(|c| !matches!(c, ',' | ' ' | '\t' | '\n' | '\r')) {
            return None;
        }
        Some(Style { nl, sep, colon, indent })
    }
}

/// Renders a value for a member at nesting `depth` (1 = top-level member).
fn render(v: &NewValue, s: &Style, depth: usize) -> String {
    match v {
        NewValue::Str(text) => json_string(text),
        NewValue::StatusLine(cmd, refresh) => {
            let mut fields =
                vec![("type", json_string("command")), ("command", json_string(cmd)), ("padding", "0".to_string())];
            if let Some(secs) = refresh {
                fields.push((REFRESH_INTERVAL_KEY, secs.to_string()));
            }
            let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{}{}{v}", json_string(k), s.colon)).collect();
            if s.indent.is_empty() {
                let sep = if s.sep.ends_with(' ') { ", " } else { "," };
                format!("{{{}}}", parts.join(sep))
            } else {
                let outer = s.indent.repeat(depth);
                let inner = s.indent.repeat(depth + 1);
                let sep = format!(",{}{inner}", s.nl);
                format!("{{{nl}{inner}{}{nl}{outer}}}", parts.join(&sep), nl = s.nl)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The scanner. It runs only on text serde_json accepted, so it can be small; where it still
// fails it returns `None` and the caller reports a scan error rather than guessing.

#[derive(Debug, Clone)]
struct Member {
    key: String,
    key_start: usize,
    key_end: usize,
    value_start: usize,
    value_end: usize,
}

#[derive(Debug)]
struct Object {
    open: usize,
    close: usize,
    members: Vec<Member>,
}

fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// `i` at an opening quote; returns the index after the closing quote.
fn scan_string(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    let mut j = i + 1;
    loop {
        match b.get(j)? {
            b'\\' => j += 2,
            b'"' => return Some(j + 1),
            _ => j += 1,
        }
    }
}

/// `i` at the first byte of a value; returns the index after it.
fn scan_value(b: &[u8], i: usize) -> Option<usize> {
    match b.get(i)? {
        b'"' => scan_string(b, i),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut j = i;
            loop {
                match b.get(j)? {
                    b'"' => {
                        j = scan_string(b, j)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth = depth.checked_sub(1)?;
                        if depth == 0 {
                            return Some(j + 1);
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
        }
        _ => {
            let mut j = i;
            while b.get(j).is_some_and(|c| !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')) {
                j += 1;
            }
            (j > i).then_some(j)
        }
    }
}

/// The members of the object whose `{` is at `open`.
fn parse_object(text: &str, open: usize) -> Option<Object> {
    let b = text.as_bytes();
    if b.get(open) != Some(&b'{') {
        return None;
    }
    let mut members = Vec::new();
    let mut i = skip_ws(b, open + 1);
    if b.get(i) == Some(&b'}') {
        return Some(Object { open, close: i, members });
    }
    loop {
        let key_start = i;
        let key_end = scan_string(b, key_start)?;
        let key: String = serde_json::from_str(text.get(key_start..key_end)?).ok()?;
        i = skip_ws(b, key_end);
        if b.get(i) != Some(&b':') {
            return None;
        }
        let value_start = skip_ws(b, i + 1);
        let value_end = scan_value(b, value_start)?;
        members.push(Member { key, key_start, key_end, value_start, value_end });
        i = skip_ws(b, value_end);
        match b.get(i)? {
            b',' => i = skip_ws(b, i + 1),
            b'}' => return Some(Object { open, close: i, members }),
            _ => return None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Commands

/// Characters after which a command word ends.
fn ends_word(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b';' | b'&' | b'|' | b')' | b'`' | b'<' | b'>')
}

/// Characters before which a command word starts (for a bare binary name, or a path's start).
fn starts_word(c: u8) -> bool {
    c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b';' | b'&' | b'|' | b'(' | b'`' | b'=')
}

/// Replaces every word of `cmd` that runs `bin` (a bare `bin`, or a path whose file name is
/// `bin`, quoted or not, inside wrappers like `env X=1 …` or `bash -c '…'`) with `new_path`
/// (already shell-quoted when it needs it) and keeps the rest of the command. `None` when `cmd`
/// does not mention `bin`.
fn replace_bin_paths(cmd: &str, bin: &str, new_path: &str) -> Option<String> {
    let b = cmd.as_bytes();
    let mut out = String::with_capacity(cmd.len() + new_path.len());
    let mut pos = 0;
    let mut found = false;
    let mut search = 0;
    while let Some(rel) = cmd.get(search..).and_then(|s| s.find(bin)) {
        let s = search + rel;
        let e = s + bin.len();
        search = e;
        let after = b.get(e).copied();
        if !after.is_none_or(ends_word) {
            continue;
        }
        let before = s.checked_sub(1).and_then(|i| b.get(i)).copied();
        let start = match before {
            None => s,
            Some(c) if starts_word(c) => s,
            Some(b'/') => {
                let mut j = s;
                while j > 0 && b.get(j - 1).is_some_and(|&c| !starts_word(c) && !ends_word(c)) {
                    j -= 1;
                }
                // A quoted path may contain spaces: `"/Users/me/My Tools/cc-aws-export"`, and
                // quotes: `"/home/o'brien/cc-aws-export"`, `"/tmp/a\"b/cc-aws-export"`. Only a
                // quoted string that is nothing but a path counts, not `bash -c 'env A=1 /p'`.
                match after {
                    Some(q @ (b'"' | b'\'')) => match quoted_path_open(cmd, s, q) {
                        Some(open) if open >= pos => open + 1,
                        _ => j,
                    },
                    _ => j,
                }
            }
            Some(_) => continue,
        };
        if start < pos {
            continue;
        }
        let quoted = match (start.checked_sub(1).and_then(|i| b.get(i)), after) {
            (Some(&q), Some(a)) if (q == b'"' || q == b'\'') && q == a => Some(q),
            _ => None,
        };
        out.push_str(cmd.get(pos..start)?);
        out.push_str(&requote(new_path, quoted));
        pos = e;
        found = true;
    }
    if !found {
        return None;
    }
    out.push_str(cmd.get(pos..)?);
    Some(out)
}

/// Where the string quoted with `q` that ends at `s` (the start of our binary's name) opens, when
/// it is nothing but a directory path. In double quotes a backslash escapes the next character
/// (`shell_word` writes `\"`, `\\`, `\$`, `` \` ``) and `'` is an ordinary one; in single quotes
/// nothing is special and a `'` is written `'\''` (close, escaped quote, reopen; see `requote`).
/// A home directory like `/home/o'brien` must still be recognised as ours, or a second install
/// would splice our path into the middle of the old one.
fn quoted_path_open(cmd: &str, s: usize, q: u8) -> Option<usize> {
    let head = cmd.get(..s)?;
    if q == b'\'' {
        let mut end = head.len();
        let open = loop {
            let i = head.get(..end)?.rfind('\'')?;
            match head.get(..=i).and_then(|h| h.strip_suffix("'\\''")) {
                Some(before) => end = before.len(),
                None => break i,
            }
        };
        let plain = head.get(open + 1..)?.replace("'\\''", "_");
        // As for `'` in double quotes below: where the word scan sees a new word start before a
        // path (`'/a"/b/…'`, `'/a/`/b/…'`), this is not one quoted path.
        if plain.as_bytes().windows(2).any(|w| starts_word(w[0]) && matches!(w[1], b'/' | b'~')) {
            return None;
        }
        return looks_like_path(&plain.replace(['"', '$', '`'], "_")).then_some(open);
    }
    let b = head.as_bytes();
    let mut end = b.len();
    let open = loop {
        let i = b.get(..end)?.iter().rposition(|&c| c == b'"')?;
        let backslashes = b.get(..i)?.iter().rev().take_while(|&&c| c == b'\\').count();
        if backslashes % 2 == 0 {
            break i;
        }
        end = i;
    };
    // The body with each escaped or quoted-literal character as a plain one.
    let mut plain = String::new();
    let mut chars = head.get(open + 1..)?.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
                plain.push('_');
            }
            // To the word scan in `replace_bin_paths` a quote starts a word: `'/opt/…` there is
            // a path of its own, and taking the body whole here would disagree with it.
            '\'' if matches!(chars.peek(), Some('/' | '~')) => return None,
            '\'' => plain.push('_'),
            c => plain.push(c),
        }
    }
    looks_like_path(&plain).then_some(open)
}

/// A directory path, not a piece of shell code: `bash -c '/usr/bin/true;/old/cc-aws-export'`
/// must keep its first command.
fn looks_like_path(dir: &str) -> bool {
    (dir.starts_with('/') || dir.starts_with('~'))
        && !dir.contains(['"', '\'', '=', '$', '`', ';', '&', '|', '(', ')', '<', '>'])
        && !dir.contains(" /")
        && !dir.chars().any(char::is_control)
}

/// `word` is shell-quoted for an unquoted position; inside quotes, use the raw path instead.
fn requote(word: &str, inside: Option<u8>) -> String {
    let raw = unquote(word);
    match inside {
        None => word.to_string(),
        Some(b'"') => double_quote_body(&raw),
        Some(_) => raw.replace('\'', "'\\''"),
    }
}

fn unquote(word: &str) -> String {
    match word.strip_prefix('"').and_then(|w| w.strip_suffix('"')) {
        Some(body) => {
            let mut out = String::new();
            let mut chars = body.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    out.extend(chars.next());
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => word.to_string(),
    }
}

fn double_quote_body(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | '$' | '`') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A path as one shell word: bare when it only has safe characters, else double-quoted
/// (Claude Code runs these commands through a shell).
pub fn shell_word(path: &str) -> String {
    let safe = !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | ',' | ':' | '@' | '%'));
    if safe { path.to_string() } else { format!("\"{}\"", double_quote_body(path)) }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

fn json_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// A value's text as compact JSON, for messages.
fn compact(raw: &str) -> String {
    serde_json::from_str::<Value>(raw).map(|v| v.to_string()).unwrap_or_else(|_| raw.trim().to_string())
}

fn same_json(a: &str, b: &str) -> bool {
    match (serde_json::from_str::<Value>(a), serde_json::from_str::<Value>(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

fn splice_one(text: &str, (start, end): (usize, usize), new: &str) -> Option<String> {
    Some(format!("{}{new}{}", text.get(..start)?, text.get(end..)?))
}

fn sha1(text: &str) -> String {
    sha1_smol::Sha1::from(text.as_bytes()).digest().to_string()
}

fn scan_err(path: &Path) -> SettingsError {
    SettingsError::Scan { path: path.to_path_buf() }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXP: &str = "/opt/p/bin/cc-aws-export";
    const REF: &str = "/opt/p/bin/cc-aws-refresh";
    const SL: &str = "/opt/p/bin/cc-aws-statusline";

    fn path() -> PathBuf {
        PathBuf::from("/home/me/.claude/settings.json")
    }

    fn wiring() -> Wiring {
        Wiring { export: EXP.into(), refresh: REF.into(), statusline: SL.into() }
    }

    fn opts(status_line: StatusLinePolicy) -> Options {
        Options { status_line, ..Options::default() }
    }

    fn plan_with(existing: Option<&str>, policy: StatusLinePolicy) -> Plan {
        plan(existing, &path(), &wiring(), &opts(policy)).unwrap()
    }

    /// Installs, checks idempotence and the byte-exact uninstall, returns the new text.
    fn install(existing: Option<&str>, policy: StatusLinePolicy) -> Option<String> {
        let p = plan_with(existing, policy);
        let Some(text) = p.new_text.clone() else {
            assert!(p.record.is_none() && p.changes.is_empty());
            return None;
        };
        serde_json::from_str::<Value>(text.strip_prefix(BOM).unwrap_or(&text)).unwrap();
        let again = plan_with(Some(&text), policy);
        assert_eq!(again.new_text, None, "not idempotent on:\n{text}");
        assert!(again.changes.is_empty());
        let record = p.record.unwrap();
        // The record survives a round trip through JSON, as a CLI would store it.
        let record: Record = serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
        let undo = unplan(Some(&text), &path(), &record).unwrap();
        match existing {
            None => assert!(undo.remove_file && undo.new_text.is_none()),
            Some(orig) => assert_eq!(undo.new_text.as_deref(), Some(orig), "uninstall is not byte-exact"),
        }
        Some(text)
    }

    const FULL_MULTI: &str = r#"{
  "awsCredentialExport": "/opt/p/bin/cc-aws-export",
  "awsAuthRefresh": "/opt/p/bin/cc-aws-refresh",
  "statusLine": {
    "type": "command",
    "command": "/opt/p/bin/cc-aws-statusline",
    "padding": 0
  }
}"#;

    #[test]
    fn inserts_in_the_files_own_style() {
        let full_nl = format!("{FULL_MULTI}\n");
        let sl_inline = r#"{"type": "command", "command": "/opt/p/bin/cc-aws-statusline", "padding": 0}"#;
        let sl_compact = r#"{"type":"command","command":"/opt/p/bin/cc-aws-statusline","padding":0}"#;
        let cases: Vec<(&str, Option<&str>, String)> = vec![
            ("missing file", None, full_nl.clone()),
            ("empty file", Some(""), full_nl.clone()),
            ("blank file", Some("\n\n"), full_nl.clone()),
            ("{} one line", Some("{}"), FULL_MULTI.to_string()),
            ("{} newline", Some("{}\n"), full_nl.clone()),
            ("{ }", Some("{ }\n"), full_nl.clone()),
            ("empty multi-line", Some("{\n}\n"), full_nl.clone()),
            ("trailing whitespace", Some("{}  \n\n"), format!("{FULL_MULTI}  \n\n")),
            (
                "one line with spaces",
                Some(r#"{"model": "opus"}"#),
                format!(
                    r#"{{"model": "opus", "awsCredentialExport": "{EXP}", "awsAuthRefresh": "{REF}", "statusLine": {sl_inline}}}"#
                ),
            ),
            (
                "compact",
                Some(r#"{"model":"opus","x":[1,{"y":2}]}"#),
                format!(
                    r#"{{"model":"opus","x":[1,{{"y":2}}],"awsCredentialExport":"{EXP}","awsAuthRefresh":"{REF}","statusLine":{sl_compact}}}"#
                ),
            ),
            (
                "pretty two spaces",
                Some("{\n  \"model\": \"opus\"\n}\n"),
                format!(
                    "{{\n  \"model\": \"opus\",\n  \"awsCredentialExport\": \"{EXP}\",\n  \"awsAuthRefresh\": \"{REF}\",\n  \"statusLine\": {{\n    \"type\": \"command\",\n    \"command\": \"{SL}\",\n    \"padding\": 0\n  }}\n}}\n"
                ),
            ),
            (
                "four spaces, two members",
                Some("{\n    \"a\": 1,\n    \"b\": {\"c\": 2}\n}"),
                format!(
                    "{{\n    \"a\": 1,\n    \"b\": {{\"c\": 2}},\n    \"awsCredentialExport\": \"{EXP}\",\n    \"awsAuthRefresh\": \"{REF}\",\n    \"statusLine\": {{\n        \"type\": \"command\",\n        \"command\": \"{SL}\",\n        \"padding\": 0\n    }}\n}}"
                ),
            ),
            (
                "tabs",
                Some("{\n\t\"a\": true\n}\n"),
                format!(
                    "{{\n\t\"a\": true,\n\t\"awsCredentialExport\": \"{EXP}\",\n\t\"awsAuthRefresh\": \"{REF}\",\n\t\"statusLine\": {{\n\t\t\"type\": \"command\",\n\t\t\"command\": \"{SL}\",\n\t\t\"padding\": 0\n\t}}\n}}\n"
                ),
            ),
            (
                "CRLF",
                Some("{\r\n  \"a\": null\r\n}\r\n"),
                format!(
                    "{{\r\n  \"a\": null,\r\n  \"awsCredentialExport\": \"{EXP}\",\r\n  \"awsAuthRefresh\": \"{REF}\",\r\n  \"statusLine\": {{\r\n    \"type\": \"command\",\r\n    \"command\": \"{SL}\",\r\n    \"padding\": 0\r\n  }}\r\n}}\r\n"
                ),
            ),
            ("CRLF empty object", Some("{}\r\n"), format!("{}\r\n", FULL_MULTI.replace('\n', "\r\n"))),
            ("BOM", Some("\u{feff}{}\n"), format!("\u{feff}{full_nl}")),
            (
                "BOM and a member",
                Some("\u{feff}{\"a\":1}"),
                format!(
                    "\u{feff}{{\"a\":1,\"awsCredentialExport\":\"{EXP}\",\"awsAuthRefresh\":\"{REF}\",\"statusLine\":{sl_compact}}}"
                ),
            ),
        ];
        for (name, input, want) in cases {
            let got = install(input, StatusLinePolicy::IfAbsent);
            assert_eq!(got.as_deref(), Some(want.as_str()), "case {name}");
        }
    }

    /// Found by `cargo xtask fuzz claude_settings` (input: a file holding only a BOM): a blank
    /// file lost its BOM, which every other edit keeps.
    #[test]
    fn fuzz_regression_blank_file_keeps_its_bom() {
        let want = format!("\u{feff}{FULL_MULTI}\n");
        for input in ["\u{feff}", "\u{feff}\n\n"] {
            assert_eq!(install(Some(input), StatusLinePolicy::IfAbsent).as_deref(), Some(want.as_str()), "{input:?}");
        }
    }

    /// Found by `cargo xtask fuzz claude_settings` (the input below, policy Compose): in a
    /// comma-first file the separator's comma became the indentation of our new statusLine
    /// object, the result was invalid JSON, and install refused with "please report this".
    #[test]
    fn fuzz_regression_comma_first_files_get_a_valid_status_line() {
        let crash = "{\n    \"awsCredentialExport\": \"env AWS_PROFILE=saml /old/plugin/bin/cc-aws-export\",\n    \
                     \"awsAuthRefresh\":\r\n \"\\\"/old/My\\\"/old/My Tools/c=c-aws-refresh\\\"\",\n    \
                     \"statusLife\": {\n        \"type\": \"command\",\n        \"command\": \"bash -c 'cc-aws-statusline'\"\n   } \n\
                     ,    \"model\": \"sonnet\"\n}\n";
        serde_json::from_str::<Value>(crash).unwrap();
        let text = install(Some(crash), StatusLinePolicy::Compose).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v[STATUS_LINE_KEY]["command"], SL);
        assert!(
            text.ends_with(
                "\"sonnet\" \n,    \"statusLine\": {\r\n        \"type\": \"command\",\r\n        \
                 \"command\": \"/opt/p/bin/cc-aws-statusline\",\r\n        \"padding\": 0\r\n    }\n}\n"
            ),
            "{text:?}"
        );
        // The npm style.
        let text = install(Some("{ \"a\": 1\n, \"b\": 2\n}\n"), StatusLinePolicy::IfAbsent).unwrap();
        assert!(text.starts_with("{ \"a\": 1\n, \"b\": 2\n, \"awsCredentialExport\": "), "{text}");
    }

    #[test]
    fn tricky_content_and_nested_keys_are_untouched() {
        let cases = [
            // Our key names nested in other objects or arrays, and inside strings.
            r#"{"env": {"awsCredentialExport": "x", "statusLine": {"command": "cc-aws-statusline"}}, "list": ["awsAuthRefresh"]}"#,
            // Braces, brackets, quotes, escaped quotes and backslashes inside strings.
            r#"{"a": "}{][\"", "b": ["]", {"c": "\\"}], "d": "\\\"}", "e\"}": "awsCredentialExport"}"#,
            // Unicode, escapes and numbers of every shape.
            "{\"u\": \"\\u00e9\u{e9}\u{1F600}\", \"n\": -1.5e+10, \"z\": 0, \"t\": false}",
            // Whitespace everywhere JSON allows it.
            "  {  \"a\"  :  1  ,\n\n  \"b\"  :  [ 1 , 2 ]  }  ",
        ];
        for input in cases {
            let got = install(Some(input), StatusLinePolicy::IfAbsent).unwrap();
            // Everything before the insertion point is byte-identical.
            let close = input.rfind('}').unwrap();
            let last_value_end = input[..close].trim_end().len();
            assert!(got.starts_with(&input[..last_value_end]), "{input}\n{got}");
            assert!(got.ends_with(&input[last_value_end..]), "{input}\n{got}");
            let v: Value = serde_json::from_str(&got).unwrap();
            let orig: Value = serde_json::from_str(input).unwrap();
            for (k, val) in orig.as_object().unwrap() {
                assert_eq!(&v[k], val, "{k} changed");
            }
            assert_eq!(v[EXPORT_KEY], EXP);
            assert_eq!(v[STATUS_LINE_KEY]["command"], SL);
        }
    }

    #[test]
    fn invalid_documents_are_refused_with_the_path() {
        for bad in ["{", "{\"a\": 1,}", "// comment\n{}", "{\"a\" 1}", "{'a': 1}", "{} {}", "nul"] {
            let err = plan(Some(bad), &path(), &wiring(), &Options::default()).unwrap_err();
            assert!(matches!(err, SettingsError::Invalid { .. }), "{bad:?}: {err:?}");
            let msg = err.to_string();
            assert!(msg.contains("/home/me/.claude/settings.json") && msg.contains("Fix it by hand"), "{msg}");
            assert!(msg.contains("left untouched"), "{msg}");
        }
        for not_object in ["[]", "\"x\"", "null", "1", "[{\"awsCredentialExport\": 1}]"] {
            let err = plan(Some(not_object), &path(), &wiring(), &Options::default()).unwrap_err();
            assert!(matches!(err, SettingsError::NotAnObject { .. }), "{not_object:?}: {err:?}");
        }
    }

    /// (existing awsCredentialExport command, expected command after the plan, expected kind).
    #[test]
    fn wrappers_keep_everything_but_the_path() {
        use ChangeKind::*;
        let cases: &[(&str, &str, ChangeKind)] = &[
            ("/old/bin/cc-aws-export", EXP, PathUpdated),
            (
                "env AWS_PROFILE=work /old/bin/cc-aws-export --flag",
                "env AWS_PROFILE=work /opt/p/bin/cc-aws-export --flag",
                PathUpdated,
            ),
            (
                "bash -c '/old/cc-aws-export 2>/dev/null || cat ~/x'",
                "bash -c '/opt/p/bin/cc-aws-export 2>/dev/null || cat ~/x'",
                PathUpdated,
            ),
            ("bash -c '/old/cc-aws-export'", "bash -c '/opt/p/bin/cc-aws-export'", PathUpdated),
            ("\"/Users/me/My Tools/cc-aws-export\" --x", "\"/opt/p/bin/cc-aws-export\" --x", PathUpdated),
            ("'/Users/me/My Tools/cc-aws-export'", "'/opt/p/bin/cc-aws-export'", PathUpdated),
            ("cc-aws-export", EXP, PathUpdated),
            ("FOO=1 cc-aws-export;echo", "FOO=1 /opt/p/bin/cc-aws-export;echo", PathUpdated),
            ("~/bin/cc-aws-export", EXP, PathUpdated),
            (
                "/a/cc-aws-export || /b/cc-aws-export",
                "/opt/p/bin/cc-aws-export || /opt/p/bin/cc-aws-export",
                PathUpdated,
            ),
            // Not ours: replaced, and the old value reported.
            ("aws configure export-credentials --profile p --format process", EXP, Replaced),
            ("/old/cc-aws-export.sh", EXP, Replaced),
            ("/old/cc-aws-exporter", EXP, Replaced),
            ("/old/my-cc-aws-export", EXP, Replaced),
            ("", EXP, Replaced),
        ];
        for (old, want, kind) in cases {
            let input = format!("{{\n  \"{EXPORT_KEY}\": {}\n}}\n", json_string(old));
            let p = plan_with(Some(&input), StatusLinePolicy::Skip);
            let text = install(Some(&input), StatusLinePolicy::Skip).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v[EXPORT_KEY], *want, "from {old:?}");
            let c = p.changes.iter().find(|c| c.key == EXPORT_KEY).unwrap();
            assert_eq!(c.kind, *kind, "from {old:?}");
            assert_eq!(c.old.as_deref(), Some(json_string(old).as_str()));
            assert_eq!(c.new.as_deref(), Some(json_string(want).as_str()));
            // Only that value's bytes changed; the refresh key was appended after it.
            let expected_prefix = format!("{{\n  \"{EXPORT_KEY}\": {},", json_string(want));
            assert!(text.starts_with(&expected_prefix), "{text}");
        }
    }

    #[test]
    fn non_string_values_are_replaced_and_reported() {
        let input = r#"{"awsCredentialExport": {"cmd": "x"}, "awsAuthRefresh": null}"#;
        let p = plan_with(Some(input), StatusLinePolicy::Skip);
        let olds: Vec<_> = p.changes.iter().map(|c| (c.key.as_str(), c.kind, c.old.clone())).collect();
        assert_eq!(
            olds,
            [
                (EXPORT_KEY, ChangeKind::Replaced, Some(r#"{"cmd":"x"}"#.to_string())),
                (REFRESH_KEY, ChangeKind::Replaced, Some("null".to_string()))
            ]
        );
        install(Some(input), StatusLinePolicy::Skip);
    }

    #[test]
    fn paths_that_need_quoting_are_quoted() {
        let w = Wiring {
            export: "/Users/me/My Apps/cc-aws-export".into(),
            refresh: "/opt/$x/cc-aws-refresh".into(),
            statusline: SL.into(),
        };
        let input = r#"{"awsAuthRefresh": "env A=1 /old/cc-aws-refresh --x"}"#;
        let p = plan(Some(input), &path(), &w, &opts(StatusLinePolicy::Skip)).unwrap();
        let v: Value = serde_json::from_str(p.new_text.as_deref().unwrap()).unwrap();
        assert_eq!(v[EXPORT_KEY], "\"/Users/me/My Apps/cc-aws-export\"");
        assert_eq!(v[REFRESH_KEY], "env A=1 \"/opt/\\$x/cc-aws-refresh\" --x");
        // Inside quotes already: the raw path, no nested quotes.
        let input = r#"{"awsCredentialExport": "\"/old/cc-aws-export\" --x"}"#;
        let p = plan(Some(input), &path(), &w, &opts(StatusLinePolicy::Skip)).unwrap();
        let v: Value = serde_json::from_str(p.new_text.as_deref().unwrap()).unwrap();
        assert_eq!(v[EXPORT_KEY], "\"/Users/me/My Apps/cc-aws-export\" --x");
        // And a second plan sees the quoted path as ours and changes nothing.
        let again = plan(p.new_text.as_deref(), &path(), &w, &opts(StatusLinePolicy::Skip)).unwrap();
        assert_eq!(again.new_text, None);
    }

    /// Found by `cargo xtask fuzz claude_settings` (input: policy byte 0x07, empty file): an
    /// install directory with a quote in it (a home like `/home/o'brien`) was not recognised as
    /// ours on the next install, which spliced the new path into the middle of the old one.
    #[test]
    fn fuzz_regression_second_install_keeps_paths_with_quotes() {
        for dir in ["/tmp/a'b\"c$d`e\\f g", "/home/o'brien/.local/share/cc-aws-keepalive/plugin/bin", "/tmp/a\"b/bin"] {
            let d = Path::new(dir);
            let w = Wiring {
                export: d.join(EXPORT_BIN),
                refresh: d.join(REFRESH_BIN),
                statusline: d.join(STATUS_LINE_BIN),
            };
            for policy in [StatusLinePolicy::IfAbsent, StatusLinePolicy::Compose] {
                let first = plan(Some(""), &path(), &w, &opts(policy)).unwrap().new_text.unwrap();
                let v: Value = serde_json::from_str(&first).unwrap();
                assert_eq!(v[EXPORT_KEY], shell_word(&d.join(EXPORT_BIN).to_string_lossy()), "{dir}");
                let again = plan(Some(&first), &path(), &w, &opts(policy)).unwrap();
                assert_eq!(again.new_text, None, "{dir}: {:?}", again.changes);
                // Moving to a plain directory replaces the whole quoted path.
                let p = plan(Some(&first), &path(), &wiring(), &opts(policy)).unwrap();
                let v: Value = serde_json::from_str(p.new_text.as_deref().unwrap()).unwrap();
                assert_eq!(v[EXPORT_KEY], format!("\"{EXP}\""), "{dir}");
                assert_eq!(v[REFRESH_KEY], format!("\"{REF}\""), "{dir}");
                assert_eq!(v[STATUS_LINE_KEY]["command"], format!("\"{SL}\""), "{dir}");
            }
        }
    }

    /// Found by `cargo xtask fuzz claude_settings` (the input below, installing into the
    /// directory of the test above): a path with a `'` went into a single-quoted wrapper
    /// as is, ending the quotes early, and the next install spliced its path into the result.
    #[test]
    fn fuzz_regression_single_quoted_wrappers_take_paths_with_quotes() {
        let crash = "{\n    \"awsCredentailExport\": \"env AWOFRIP_SL@=saml /old/plugi/cc-aws-euport\"\r\n,\n    \
                     \"awsAuh\":1,\"awsAuthRefthRefresh\": \"\\\"/old/My Tools/ccefresh\\\"\",\n    \"statusLine\": {\n        \
                     \"|ype\": \"command\",\n        \"command\" :\"bash -c '/old/bin/cc-aws-statusline'\"\n    },\n    \
                     \"mofel\": \"sonnet\"\n}\n";
        for dir in ["/tmp/a'b\"c$d`e\\f g", "/home/o'brien/bin"] {
            let d = Path::new(dir);
            let w = Wiring {
                export: d.join(EXPORT_BIN),
                refresh: d.join(REFRESH_BIN),
                statusline: d.join(STATUS_LINE_BIN),
            };
            let first = plan(Some(crash), &path(), &w, &opts(StatusLinePolicy::IfAbsent)).unwrap().new_text.unwrap();
            let v: Value = serde_json::from_str(&first).unwrap();
            let sl = d.join(STATUS_LINE_BIN).to_string_lossy().replace('\'', "'\\''");
            assert_eq!(v[STATUS_LINE_KEY]["command"], format!("bash -c '{sl}'"), "{dir}");
            let again = plan(Some(&first), &path(), &w, &opts(StatusLinePolicy::IfAbsent)).unwrap();
            assert_eq!(again.new_text, None, "{dir}: {:?}", again.changes);
            // And back to a plain directory.
            let p = plan(Some(&first), &path(), &wiring(), &opts(StatusLinePolicy::IfAbsent)).unwrap();
            let v: Value = serde_json::from_str(p.new_text.as_deref().unwrap()).unwrap();
            assert_eq!(v[STATUS_LINE_KEY]["command"], format!("bash -c '{SL}'"), "{dir}");
        }
    }

    /// Found by `cargo xtask fuzz claude_settings` (the input below): a single-quoted wrapper
    /// running two commands counted as one quoted path, so the second install dropped the first
    /// command (`/oldǝin;`); the same happened on a first install of `'/usr/bin/true;/old/…'`.
    #[test]
    fn fuzz_regression_quoted_code_is_not_a_path() {
        let crash = "{    \"awsTredentialExport\": \"\",\n    \"statusLine\": {\n        \"type\": \"command\",\n      \
                     \t\t\"command\": \"bash -c '/old\u{1dd}in;cc-aws-statusline'\"\n    },\n    \"model\": \"sonnet\"\n\n}\n";
        let text = install(Some(crash), StatusLinePolicy::Compose).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v[STATUS_LINE_KEY]["command"], format!("bash -c '/old\u{1dd}in;{SL}'"));
        for (old, want) in [
            ("bash -c '/usr/bin/true;/old/cc-aws-export'", format!("bash -c '/usr/bin/true;{EXP}'")),
            ("sh -c \"/usr/bin/env&&/old/cc-aws-export\"", format!("sh -c \"/usr/bin/env&&{EXP}\"")),
            ("'/a|/old/cc-aws-export'", format!("'/a|{EXP}'")),
        ] {
            let input = format!("{{\"{EXPORT_KEY}\": {}}}", json_string(old));
            let text = install(Some(&input), StatusLinePolicy::Skip).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v[EXPORT_KEY], want, "from {old:?}");
        }
    }

    /// Found by `cargo xtask fuzz claude_settings` (the value below): after the first install put
    /// our path behind a `'` inside a double-quoted string, the second took the whole string as
    /// one quoted path and replaced it again.
    #[test]
    fn fuzz_regression_quote_then_path_inside_quotes_is_stable() {
        let crash = "\"/old/My Ttttttttttttttttttttttttttttttttttttttttttt'tttttttttttttttfd53093f7141d73bae7b$2a4e533a9adca924cc4/cc-aws-refresh\"";
        for (old, want) in [
            (crash.to_string(), format!("\"/old/My Ttttttttttttttttttttttttttttttttttttttttttt'{REF}\"")),
            ("'/a\"/b/cc-aws-refresh'".to_string(), format!("'/a\"{REF}'")),
            // The same, found in the next run (input `bar[h -c '/old/bin/`cc-aws-statusline'`).
            ("bar[h -c '/old/bin/`cc-aws-refresh'".to_string(), format!("bar[h -c '/old/bin/`{REF}'")),
        ] {
            let input = format!("{{\"{REFRESH_KEY}\": {}}}", json_string(&old));
            let text = install(Some(&input), StatusLinePolicy::Skip).unwrap();
            let v: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(v[REFRESH_KEY], want, "from {old:?}");
        }
    }

    #[test]
    fn status_line_policies() {
        let theirs = r#"{"statusLine": {"type": "command", "command": "~/.claude/my-line.sh", "padding": 1}}"#;
        // Default: keep theirs, say how to compose.
        let p = plan_with(Some(theirs), StatusLinePolicy::IfAbsent);
        assert!(p.changes.iter().all(|c| c.key != STATUS_LINE_KEY));
        assert_eq!(p.moved_status_line_cmd, None);
        assert!(p.hints.iter().any(|h| h.contains("~/.claude/my-line.sh") && h.contains("--statusline")), "{p:?}");
        assert!(p.new_text.as_deref().unwrap().contains("my-line.sh"));
        // Compose: ours replaces it, their command moves to config.json.
        let p = plan_with(Some(theirs), StatusLinePolicy::Compose);
        assert_eq!(p.moved_status_line_cmd.as_deref(), Some("~/.claude/my-line.sh"));
        let c = p.changes.iter().find(|c| c.key == STATUS_LINE_KEY).unwrap();
        assert_eq!(c.kind, ChangeKind::Replaced);
        assert!(c.old.as_deref().unwrap().contains("my-line.sh"));
        let v: Value = serde_json::from_str(p.new_text.as_deref().unwrap()).unwrap();
        assert_eq!(v[STATUS_LINE_KEY], serde_json::json!({"type": "command", "command": SL, "padding": 0}));
        install(Some(theirs), StatusLinePolicy::Compose);
        // Skip: not even a hint.
        let p = plan_with(Some(theirs), StatusLinePolicy::Skip);
        assert!(p.hints.is_empty() && p.changes.iter().all(|c| c.key != STATUS_LINE_KEY));
        let p = plan_with(Some("{}"), StatusLinePolicy::Skip);
        assert!(!p.new_text.unwrap().contains(STATUS_LINE_KEY));
        // Ours at an old path, wrapped, with the user's padding: only the path moves.
        let ours =
            r#"{"statusLine": {"padding": 2, "command": "NO_COLOR=1 /old/cc-aws-statusline", "type": "command"}}"#;
        for policy in [StatusLinePolicy::IfAbsent, StatusLinePolicy::Compose] {
            let p = plan_with(Some(ours), policy);
            assert_eq!(p.moved_status_line_cmd, None);
            let text = p.new_text.unwrap();
            assert!(
                text.starts_with(&format!(
                    r#"{{"statusLine": {{"padding": 2, "command": "NO_COLOR=1 {SL}", "type": "command"}}"#
                )),
                "{text}"
            );
            install(Some(ours), policy);
        }
    }

    #[test]
    fn duplicate_keys_edit_the_last_one_like_json_parse() {
        let input = r#"{"awsCredentialExport": "/a/cc-aws-export", "awsCredentialExport": "/b/cc-aws-export"}"#;
        let text = install(Some(input), StatusLinePolicy::Skip).unwrap();
        assert!(
            text.starts_with(&format!(
                r#"{{"awsCredentialExport": "/a/cc-aws-export", "awsCredentialExport": "{EXP}""#
            ))
        );
    }

    #[test]
    fn upgrade_moves_paths_and_keeps_wrappers() {
        let original = "{\n  \"model\": \"opus\",\n  \"awsAuthRefresh\": \"env X=1 /old/cc-aws-refresh\"\n}\n";
        let first = install(Some(original), StatusLinePolicy::IfAbsent).unwrap();
        // A later version installs elsewhere.
        let w2 = Wiring {
            export: "/new/bin/cc-aws-export".into(),
            refresh: "/new/bin/cc-aws-refresh".into(),
            statusline: "/new/bin/cc-aws-statusline".into(),
        };
        let p = plan(Some(&first), &path(), &w2, &Options::default()).unwrap();
        assert!(p.changes.iter().all(|c| c.kind == ChangeKind::PathUpdated), "{:?}", p.changes);
        assert_eq!(p.changes.len(), 3);
        let second = p.new_text.unwrap();
        assert_eq!(second, first.replace("/opt/p/bin/", "/new/bin/"));
        let v: Value = serde_json::from_str(&second).unwrap();
        assert_eq!(v[REFRESH_KEY], "env X=1 /new/bin/cc-aws-refresh");
    }

    #[test]
    fn uninstall_after_other_edits_goes_key_by_key() {
        let original = r#"{"model": "opus", "awsCredentialExport": "aws-vault export p", "statusLine": {"type": "command", "command": "mine"}}"#;
        let p = plan_with(Some(original), StatusLinePolicy::Compose);
        let installed = p.new_text.unwrap();
        let record = p.record.unwrap();
        // Something else (Claude Code enabling a plugin) adds a member and reformats nothing…
        let touched = set_string_member(Some(&installed), &path(), "theme", "dark").unwrap().unwrap();
        // …and the user changed awsAuthRefresh by hand.
        let touched = set_string_member(Some(&touched), &path(), REFRESH_KEY, "my-login").unwrap().unwrap();
        let undo = unplan(Some(&touched), &path(), &record).unwrap();
        let v: Value = serde_json::from_str(undo.new_text.as_deref().unwrap()).unwrap();
        assert_eq!(v[EXPORT_KEY], "aws-vault export p");
        assert_eq!(v[STATUS_LINE_KEY], serde_json::json!({"type": "command", "command": "mine"}));
        assert_eq!(v[REFRESH_KEY], "my-login");
        assert_eq!(v["theme"], "dark");
        assert!(undo.hints.iter().any(|h| h.contains(REFRESH_KEY) && h.contains("left as is")), "{:?}", undo.hints);
        let keys: Vec<_> = undo.changes.iter().map(|c| (c.key.as_str(), c.kind)).collect();
        assert_eq!(keys, [(EXPORT_KEY, ChangeKind::Restored), (STATUS_LINE_KEY, ChangeKind::Restored)]);

        // Members we added are removed with their separator, wherever they ended up.
        for start in ["{}", "{\"a\": 1}", "{\n  \"a\": 1\n}\n"] {
            let p = plan_with(Some(start), StatusLinePolicy::IfAbsent);
            let installed = p.new_text.unwrap();
            let touched = format!("{installed} ");
            let undo = unplan(Some(&touched), &path(), &p.record.unwrap()).unwrap();
            let text = undo.new_text.unwrap();
            assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), serde_json::from_str::<Value>(start).unwrap());
        }
        // Missing file: nothing to undo.
        let undo = unplan(None, &path(), &record).unwrap();
        assert!(undo.new_text.is_none() && !undo.remove_file && !undo.hints.is_empty());
    }

    #[test]
    fn set_string_member_edits_one_span() {
        let example = crate::config::example_json();
        let text = set_string_member(Some(&example), &path(), STATUS_LINE_CMD_KEY, "echo \"hi\"").unwrap().unwrap();
        assert_eq!(text, example.replace("\"statusLineCmd\": \"\"", "\"statusLineCmd\": \"echo \\\"hi\\\"\""));
        assert_eq!(set_string_member(Some(&text), &path(), STATUS_LINE_CMD_KEY, "echo \"hi\"").unwrap(), None);
        let created = set_string_member(None, &path(), STATUS_LINE_CMD_KEY, "x").unwrap().unwrap();
        assert_eq!(created, "{\n  \"statusLineCmd\": \"x\"\n}\n");
    }

    #[test]
    fn refresh_interval_is_added_to_ours_and_kept_when_set() {
        let with = |status_line| Options { status_line, refresh_interval: Some(STATUS_LINE_REFRESH_SECS) };
        let mk = |existing: Option<&str>, o: Options| plan(existing, &path(), &wiring(), &o).unwrap();
        // A new status line carries it, in the file's style.
        let p = mk(Some("{\n  \"model\": \"opus\"\n}\n"), with(StatusLinePolicy::IfAbsent));
        let text = p.new_text.unwrap();
        assert!(
            text.contains(&format!(
                "\"statusLine\": {{\n    \"type\": \"command\",\n    \"command\": \"{SL}\",\n    \"padding\": 0,\n    \"refreshInterval\": 30\n  }}"
            )),
            "{text}"
        );
        let p = mk(Some("{\"a\":1}"), with(StatusLinePolicy::Compose));
        assert!(p.new_text.unwrap().ends_with(",\"padding\":0,\"refreshInterval\":30}}"));
        // An older install of ours without it: added after the last member, nothing else moves;
        // a second run changes nothing; the uninstall is byte-exact.
        let old = FULL_MULTI.replace("/opt/p/bin", "/old/bin");
        let p = mk(Some(&old), with(StatusLinePolicy::IfAbsent));
        let text = p.new_text.clone().unwrap();
        let want = FULL_MULTI.replace("\"padding\": 0\n", "\"padding\": 0,\n    \"refreshInterval\": 30\n");
        assert_eq!(text, want);
        let sl = p.changes.iter().find(|c| c.key == STATUS_LINE_KEY).unwrap();
        assert_eq!(sl.kind, ChangeKind::Updated, "{sl:?}");
        assert!(mk(Some(&text), with(StatusLinePolicy::IfAbsent)).new_text.is_none());
        let undo = unplan(Some(&text), &path(), p.record.as_ref().unwrap()).unwrap();
        assert_eq!(undo.new_text.as_deref(), Some(old.as_str()));
        // Only the interval missing, one-line object.
        let one_line = format!("{{\"statusLine\": {{\"type\": \"command\", \"command\": \"{SL}\"}}}}");
        let p = mk(Some(&one_line), Options { status_line: StatusLinePolicy::Skip, ..with(StatusLinePolicy::Skip) });
        assert!(p.changes.iter().all(|c| c.key != STATUS_LINE_KEY), "Skip leaves statusLine alone");
        let p = mk(Some(&one_line), with(StatusLinePolicy::IfAbsent));
        let text = p.new_text.unwrap();
        assert!(
            text.contains(&format!("{{\"type\": \"command\", \"command\": \"{SL}\", \"refreshInterval\": 30}}")),
            "{text}"
        );
        // A value someone chose stays.
        let set = FULL_MULTI.replace("\"padding\": 0\n", "\"padding\": 0,\n    \"refreshInterval\": 5\n");
        assert!(mk(Some(&set), with(StatusLinePolicy::IfAbsent)).new_text.is_none());
        // Someone else's status line gets none.
        let theirs = "{\"statusLine\": {\"type\": \"command\", \"command\": \"my-line\"}}";
        let p = mk(Some(theirs), with(StatusLinePolicy::IfAbsent));
        let v: Value = serde_json::from_str(&p.new_text.unwrap()).unwrap();
        assert!(v[STATUS_LINE_KEY].get(REFRESH_INTERVAL_KEY).is_none());
        // Without the option nothing is added to an install of ours.
        assert!(mk(Some(FULL_MULTI), Options::default()).new_text.is_none());
    }

    #[test]
    fn bin_path_in_unquotes_like_a_shell() {
        let cases = [
            ("/opt/p/bin/cc-aws-export", Some("/opt/p/bin/cc-aws-export")),
            ("\"/Users/me/My Tools/cc-aws-export\"", Some("/Users/me/My Tools/cc-aws-export")),
            ("'/home/o'\\''brien/cc-aws-export' --x", Some("/home/o'brien/cc-aws-export")),
            ("env AWS_PROFILE=dev /p/cc-aws-export", Some("/p/cc-aws-export")),
            // A bare name (the shell finds it on PATH), whatever wraps it.
            ("bash -c 'cc-aws-export'", Some("cc-aws-export")),
            // Code inside quotes is one word to a shell: not a path of ours.
            ("bash -c '/p/cc-aws-export --x'", None),
            ("cc-aws-export", Some("cc-aws-export")),
            ("/p/not-cc-aws-export", None),
            ("/p/My\\ Tools/cc-aws-export", Some("/p/My Tools/cc-aws-export")),
            ("x; /p/cc-aws-export|cat", Some("/p/cc-aws-export")),
        ];
        for (cmd, want) in cases {
            assert_eq!(bin_path_in(cmd, EXPORT_BIN).as_deref(), want, "{cmd}");
        }
    }

    #[test]
    fn references_by_file_name_only() {
        assert!(references("/x/cc-aws-statusline", STATUS_LINE_BIN));
        assert!(references("cc-aws-statusline | tr a b", STATUS_LINE_BIN));
        assert!(!references("/x/cc-aws-statusline2", STATUS_LINE_BIN));
        assert!(!references("/x/cc-aws-export", STATUS_LINE_BIN));
        assert!(!references("echo cc-aws-statusline-old", STATUS_LINE_BIN));
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("/a/b-c_d.e/f"), "/a/b-c_d.e/f");
        assert_eq!(shell_word("/a b/c"), "\"/a b/c\"");
        assert_eq!(shell_word("/a\"$`\\/c"), "\"/a\\\"\\$\\`\\\\/c\"");
    }

    #[test]
    fn diff_shows_changed_lines_with_context() {
        assert_eq!(diff("a\nb\n", "a\nb\n"), "");
        let d = diff("{\n  \"a\": 1\n}\n", "{\n  \"a\": 1,\n  \"b\": 2\n}\n");
        assert_eq!(d, "--- before\n+++ after\n@@ -1,3 +1,4 @@\n {\n-  \"a\": 1\n+  \"a\": 1,\n+  \"b\": 2\n }\n");
        let old: String = (0..30).map(|i| format!("l{i}\n")).collect();
        let new = old.replace("l2\n", "L2\n").replace("l25\n", "L25\n");
        let d = diff(&old, &new);
        assert_eq!(d.matches("@@ -").count(), 2, "{d}");
        assert!(d.contains("-l2\n+L2\n") && d.contains("-l25\n+L25\n"));
        assert!(!d.contains("l12"), "{d}");
        assert!(diff("", "x\n").contains("+x"));
    }

    #[test]
    fn diff_masks_secret_looking_values() {
        let old = "{\n  \"env\": {\n    \"AWS_REGION\": \"us-east-1\",\n    \"AWS_SECRET_ACCESS_KEY\": \"S3CR\\\"ET\"\n  },\n  \"model\": \"m\"\n}\n";
        let new = old.replace("\"m\"\n", "\"m\",\n  \"awsAuthRefresh\": \"cc-aws-refresh\"\n");
        let d = diff(old, &new);
        assert!(d.contains("\"AWS_SECRET_ACCESS_KEY\": \"***\"") && !d.contains("S3CR"), "{d}");
        assert!(
            d.contains("\"AWS_REGION\": \"us-east-1\"") && d.contains("+  \"awsAuthRefresh\": \"cc-aws-refresh\""),
            "{d}"
        );
        // One-line files, several members per line, names of any case.
        let line = r#"{"env":{"apiToken" : "T1","n":"ok","x":{"password":"P1"}},"k":["v"],"bearer":1}"#;
        assert_eq!(
            mask_secret_values(line),
            r#"{"env":{"apiToken" : "***","n":"ok","x":{"password":"***"}},"k":["v"],"bearer":1}"#
        );
        assert_eq!(mask_secret_values(r#"  "unterminated": "SECRET"#), r#"  "unterminated": "SECRET"#);
        assert_eq!(mask_secret_values(r#""TOKEN": "a\"b""#), r#""TOKEN": "***""#);
    }

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kc-settings-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[cfg(unix)]
    #[test]
    fn removal_through_relative_and_chained_links_keeps_the_links() {
        use std::os::unix::fs::symlink;
        let d = tmpdir("links");
        fs::create_dir_all(d.join("dots/claude")).unwrap();
        fs::create_dir_all(d.join("home/.claude")).unwrap();
        let real = d.join("dots/claude/settings.json");
        fs::write(&real, "{}").unwrap();
        // Relative, from the link's own directory (stow writes these), then a chain of two.
        let rel = d.join("home/.claude/rel.json");
        symlink("../../dots/claude/settings.json", &rel).unwrap();
        let chained = d.join("home/chained.json");
        symlink(".claude/rel.json", &chained).unwrap();
        remove_through_links(&chained).unwrap();
        assert!(!real.exists());
        assert!(fs::symlink_metadata(&chained).unwrap().file_type().is_symlink());
        assert!(fs::symlink_metadata(&rel).unwrap().file_type().is_symlink());
        // Already gone (a dangling link): nothing to do.
        remove_through_links(&chained).unwrap();
        // A plain file is removed as such.
        fs::write(&real, "{}").unwrap();
        remove_through_links(&real).unwrap();
        assert!(!real.exists());
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn apply_backs_up_keeps_mode_and_refuses_a_changed_file() {
        let d = tmpdir("apply");
        let p = d.join("sub/settings.json");
        let now = time::OffsetDateTime::UNIX_EPOCH;
        // A missing file and directory: created, no backup.
        let plan1 = plan(None, &p, &wiring(), &Options::default()).unwrap();
        assert_eq!(apply(&p, &plan1, now).unwrap(), None);
        assert_eq!(read_settings(&p).unwrap(), plan1.new_text);
        // No change: nothing written.
        let plan2 = plan(read_settings(&p).unwrap().as_deref(), &p, &wiring(), &Options::default()).unwrap();
        assert_eq!(apply(&p, &plan2, now).unwrap(), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::write(&p, "{\"a\": 1}").unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o600)).unwrap();
            let plan3 = plan(Some("{\"a\": 1}"), &p, &wiring(), &Options::default()).unwrap();
            let backup = apply(&p, &plan3, now).unwrap().unwrap();
            assert_eq!(fs::read_to_string(&backup).unwrap(), "{\"a\": 1}");
            assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
            // Uninstall restores the bytes.
            let undo = unplan(read_settings(&p).unwrap().as_deref(), &p, plan3.record.as_ref().unwrap()).unwrap();
            apply(&p, &undo, now).unwrap();
            assert_eq!(fs::read_to_string(&p).unwrap(), "{\"a\": 1}");
        }
        // The file changes between plan and apply: refused, untouched.
        let stale = plan(Some("{\"a\": 1}"), &p, &wiring(), &Options::default()).unwrap();
        fs::write(&p, "{\"b\": 2}").unwrap();
        assert!(matches!(apply(&p, &stale, now), Err(SettingsError::Changed { .. })));
        assert_eq!(fs::read_to_string(&p).unwrap(), "{\"b\": 2}");
        // Uninstall of a file we created removes it.
        let q = d.join("fresh.json");
        let created = plan(None, &q, &wiring(), &Options::default()).unwrap();
        apply(&q, &created, now).unwrap();
        let undo = unplan(read_settings(&q).unwrap().as_deref(), &q, created.record.as_ref().unwrap()).unwrap();
        assert!(undo.remove_file);
        apply(&q, &undo, now).unwrap();
        assert!(!q.exists());
        // Not UTF-8: refused.
        fs::write(&q, b"{\"a\": \"\xff\"}").unwrap();
        assert!(matches!(read_settings(&q), Err(SettingsError::NotUtf8 { .. })));
        fs::remove_dir_all(&d).unwrap();
    }
}
