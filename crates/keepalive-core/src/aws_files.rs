//! Reading `~/.aws/credentials` and `~/.aws/config` exactly as botocore does.
//!
//! botocore reads both files with `botocore.configloader.raw_config_parse`: Python's
//! `configparser.RawConfigParser` (strict, default options), then its own parsing of indented
//! sub-sections; the config file then goes through `build_profile_map`. The rules, each
//! checked against botocore (`tests/it/ini_parity.rs` compares us with it on generated files;
//! `[sso-session my corp]` is three words, so botocore ignores it, and so do we):
//!
//! - Lines end at `\n`, `\r\n` or a lone `\r` (Python's universal newlines).
//! - A line whose stripped text starts with `#` or `;` is a comment, indented or not, also in
//!   the middle of a multi-line value. Inline comments do not exist: `region = x # y` is the
//!   value `x # y`.
//! - "Whitespace" and "strip" are Python's (`str.isspace`): besides the usual, `\x1c`–`\x1f`.
//!   Indentation is counted in characters (a tab is one, like a space).
//! - A line indented deeper than the line that started the current key continues that key's
//!   value (pieces stripped, joined with `\n`; blank lines inside count, trailing ones do not).
//!   This is checked before anything else, so a deeper `[x]` or `k = v` line is value text.
//! - `[name]` (after stripping; up to the *last* `]`, anything after it ignored) starts a
//!   section; the name is taken literally (not trimmed). `[DEFAULT]` is configparser's default
//!   section: its keys show up in every section that lacks them, and it is not itself a section.
//! - `key = value` or `key: value`, split at the first `=` or `:`; the key is stripped and
//!   lowercased (section names keep their case), the value stripped; `key =` is `""`.
//! - A value that starts with a newline (`s3 =` then indented lines) is a sub-section: each
//!   non-blank line (also split at `\x0b`, `\x0c`, `\x1c`–`\x1e`, `\x85`, `\u2028`, `\u2029`,
//!   as Python's `splitlines` does) is `name = value` split at the first `=` only, name and
//!   value stripped, the name keeping its case. Its keys are not the section's keys: we keep
//!   them apart ([`IniDoc::nested`]), and the key is absent from [`Section`].
//! - Config file (`build_profile_map`): a section whose name starts with `profile` is split
//!   like shell words (`shlex.split`); exactly two words make a profile named by the second
//!   (`[profile "my kal"]` is `my kal`, `[profile   kal]` is `kal`, even `[profiles x]` is `x`);
//!   anything else (`[profile]`, `[profile a b]`, an unclosed quote) is ignored. The same for
//!   `sso-session` and `services`. `[default]` is the profile `default` too; when several
//!   sections name one profile, the last one wins whole (keys are not merged).
//! - Credentials file: section names are profile names, literally.
//!
//! Where botocore fails the whole file we are tolerant, never by giving a key text that is
//! not its own, nor a section keys that are not its own:
//!
//! - a UTF-8 BOM is skipped (botocore: parse error);
//! - duplicate sections are merged and a later duplicate key wins (botocore: error; this is
//!   what configparser does with `strict=False`);
//! - a line that is neither a section, a key nor a continuation is skipped, and it ends the
//!   current value (configparser would glue later, deeper lines onto the key *before* it); if
//!   it starts with `[` (a broken section header), the keys after it belong to no section
//!   until the next header, instead of to the section before it;
//! - a line without a key name (`= x`) is skipped; so are keys before the first section, with
//!   the lines continuing them;
//! - invalid UTF-8 is decoded lossily by the reader (botocore: error);
//! - a file being rewritten in place by a login tool is read again until it settles (bounded
//!   by [`SETTLE_BUDGET`]; see [`IniDoc::read`]) instead of failing or serving half of it.
//!
//! A sub-section line without `=` is an error, as in botocore: the block is ambiguous (it
//! may be a multi-line value), and guessing could serve the wrong text. So is a file where
//! sections × `[DEFAULT]` keys exceed a million (a bound on memory botocore does not have).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use crate::fsutil::{self, FsError};

#[derive(Debug, thiserror::Error)]
pub enum AwsFileError {
    #[error("cannot parse {path} (line {line}, column {col}): {what}")]
    Syntax { path: PathBuf, line: usize, col: usize, what: &'static str },
    #[error(
        "{path} is being written right now (a login tool rewriting it?) and was not whole within {ms} ms; run this again in a moment"
    )]
    Busy { path: PathBuf, ms: u64 },
    #[error(transparent)]
    Fs(#[from] FsError),
}

const NESTED_LINE: &str = "an indented line under a key with an empty value (a sub-section) must read `name = value`; \
                           fix that line, or put the value on the key's line";

const TOO_MANY_DEFAULTS: &str = "too many [DEFAULT] keys for this many sections (each section inherits them all); \
                                 move them into the sections that need them";
/// Sections × [DEFAULT] keys we accept.
const MAX_INHERITED: usize = 1_000_000;

/// One section's keys (lowercased, as botocore's configparser does) and plain values.
/// Keys whose value is a sub-section are not here: see [`IniDoc::nested`].
pub type Section = BTreeMap<String, String>;

/// A section's sub-sections: key (lowercased) → the sub-section's `name = value` pairs
/// (names as written: botocore does not lowercase them).
pub type SubSections = BTreeMap<String, Section>;

/// A parsed AWS INI file. Duplicate sections are merged, later keys winning.
#[derive(Debug, Default, Clone)]
pub struct IniDoc {
    sections: Vec<Entry>,
}

#[derive(Debug, Default, Clone)]
struct Entry {
    /// The literal section name.
    name: String,
    /// A secret or token set before the key id last changed (botocore refuses such a file):
    /// we refuse this section's keys rather than pair one key id with another key's secret.
    clash: Option<String>,
    keys: Section,
    nested: SubSections,
    /// What `build_profile_map` makes of the name in a config file.
    role: Option<(ConfigKind, String)>,
}

/// The keys that belong to one key id: after the id changes, each must be set again.
const PAIRED_KEYS: &[&str] = &["aws_secret_access_key", "aws_session_token", "aws_security_token"];

/// A secret (or token) left from before `aws_access_key_id` changed within one section: the
/// later key id would be served with an earlier key's secret.
fn stale_credential(sect: &RawSection<'_>) -> Option<String> {
    let changed = sect.id_changed_at?;
    PAIRED_KEYS
        .iter()
        .find(|k| sect.opts.get(**k).and_then(|p| p.first()).is_some_and(|p| p.line < changed))
        .map(|k| (*k).to_string())
}

/// The named section kinds of a config file (botocore's `build_profile_map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigKind {
    /// `[profile NAME]`, and `[default]` for `default`.
    Profile,
    /// `[sso-session NAME]`.
    SsoSession,
    /// `[services NAME]`.
    Services,
}

impl IniDoc {
    pub fn parse(text: &str, path: &Path) -> Result<IniDoc, AwsFileError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let raw = read_raw(text);
        // Every section gets its own copy of the [DEFAULT] keys: bound what a crafted file can
        // make of that (real files have a handful of sections and rarely any default).
        if raw.sections.len().saturating_mul(raw.defaults.len()) > MAX_INHERITED
            && let Some(p) = raw.defaults.values().filter_map(|v| v.first()).min_by_key(|p| p.line)
        {
            return Err(AwsFileError::Syntax {
                path: path.to_path_buf(),
                line: p.line,
                col: p.col,
                what: TOO_MANY_DEFAULTS,
            });
        }
        let mut doc = IniDoc::default();
        for sect in &raw.sections {
            let mut entry = Entry {
                name: sect.name.to_string(),
                role: role(sect.name),
                clash: stale_credential(sect),
                ..Entry::default()
            };
            let defaults = raw.defaults.iter().filter(|(k, _)| !sect.opts.contains_key(*k));
            for (key, pieces) in sect.opts.iter().chain(defaults) {
                match finalize(pieces, path)? {
                    Value::Plain(v) => {
                        entry.keys.insert(key.clone(), v);
                    }
                    Value::Nested(s) => {
                        entry.nested.insert(key.clone(), s);
                    }
                }
            }
            doc.sections.push(entry);
        }
        Ok(doc)
    }

    /// Reads and parses `path`; `Ok(None)` when the file does not exist.
    ///
    /// Login tools (saml2aws, gimme-aws-creds, aws-google-auth, …) truncate the credentials
    /// file and write the new one into it in place, so a read can catch it empty, half written
    /// (a prefix that may even parse, minus the session token or the expiry), or mixed from
    /// two versions. A file is therefore taken only once it has settled:
    ///
    /// - last modified more than [`QUIET`] ago and unchanged while we read it (the warm
    ///   path: one read and two `fstat`s); or
    /// - read twice [`SETTLE_STEP`] apart with identical bytes and metadata — longer than a
    ///   writer pauses between its write calls, so a prefix shows by growing — and looking
    ///   whole: it parses, is not empty, ends with a line break (a writer stalled longer than
    ///   the step is almost always stalled inside a line), no profile has half a key pair and
    ///   the last section has keys; or
    /// - unchanged for [`STALL`] whatever it holds: nobody is writing it, so a parse error or
    ///   a half profile is the file's own, reported as always.
    ///
    /// A file still changing when [`SETTLE_BUDGET`] is spent is reported as busy
    /// ([`AwsFileError::Busy`]) unless the last read looks whole: never served in part.
    pub fn read(path: &Path) -> Result<Option<IniDoc>, AwsFileError> {
        IniDoc::read_by(path, Instant::now() + SETTLE_BUDGET)
    }

    /// [`IniDoc::read`], waiting for the file to settle until `deadline` at most (callers
    /// reading several files share one budget).
    pub fn read_by(path: &Path, deadline: Instant) -> Result<Option<IniDoc>, AwsFileError> {
        let start = Instant::now();
        let mut prev: Option<Snapshot> = None;
        // When the content of `prev` was first seen.
        let mut since = start;
        let mut reads = 0;
        loop {
            let Some(snap) = Snapshot::take(path)? else { return Ok(None) };
            reads += 1;
            if snap.consistent && snap.quiet_for(QUIET) {
                return IniDoc::parse(&String::from_utf8_lossy(&snap.bytes), path).map(Some);
            }
            let steady = prev.as_ref().is_some_and(|p| p.same_as(&snap));
            if !steady {
                since = Instant::now();
            }
            // The budget is our waiting, not the scheduler's: a process starved past the
            // deadline still gets a few reads before calling the file busy.
            let out_of_time = Instant::now() >= deadline && reads >= MIN_READS;
            if steady || out_of_time {
                let text = String::from_utf8_lossy(&snap.bytes);
                let parsed = IniDoc::parse(&text, path);
                let whole =
                    snap.consistent && looks_whole(&text) && parsed.as_ref().is_ok_and(IniDoc::has_whole_profiles);
                if whole || (steady && since.elapsed() >= STALL) {
                    return parsed.map(Some);
                }
                if out_of_time {
                    return Err(AwsFileError::Busy {
                        path: path.to_path_buf(),
                        ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
                    });
                }
            }
            prev = Some(snap);
            // Always the whole step: two reads closer together would find a pausing writer's
            // prefix steady. The budget is overrun by one step at most.
            std::thread::sleep(SETTLE_STEP);
        }
    }

    /// No section has an access key id without its secret, or a secret or session token
    /// without a key id, and the last section has keys: what a file cut short in the middle of
    /// a profile, or right after a section header, does not show.
    fn has_whole_profiles(&self) -> bool {
        let has = |e: &Entry, k: &str| e.keys.get(k).is_some_and(|v| !v.trim().is_empty());
        let pairs = self.sections.iter().all(|e| {
            let id = has(e, "aws_access_key_id");
            id == has(e, "aws_secret_access_key") && (id || !has(e, "aws_session_token"))
        });
        pairs && self.sections.last().is_none_or(|e| !e.keys.is_empty() || !e.nested.is_empty())
    }

    fn entry(&self, name: &str) -> Option<&Entry> {
        self.sections.iter().find(|e| e.name == name)
    }

    /// A section by its literal name (in the credentials file, a profile).
    pub fn section(&self, name: &str) -> Option<&Section> {
        self.entry(name).map(|e| &e.keys)
    }

    /// The secret or token a section (by its literal name) set before its key id changed.
    pub fn clash(&self, name: &str) -> Option<&str> {
        self.entry(name).and_then(|e| e.clash.as_deref())
    }

    /// [`IniDoc::clash`] for a config-file profile.
    pub fn config_profile_clash(&self, name: &str) -> Option<&str> {
        self.config_entry(ConfigKind::Profile, name).and_then(|e| e.clash.as_deref())
    }

    /// The sub-sections of a section by its literal name (`s3 =` + indented lines).
    pub fn nested(&self, name: &str) -> Option<&SubSections> {
        self.entry(name).map(|e| &e.nested)
    }

    /// Literal section names, in order of first appearance (`[DEFAULT]` is not one).
    pub fn section_names(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().map(|e| e.name.as_str())
    }

    /// The profiles of a credentials file: its section names, taken literally.
    pub fn credentials_profile_names(&self) -> Vec<String> {
        self.section_names().map(str::to_string).collect()
    }

    /// The section that defines `name` of `kind` in a config file: the last one naming it.
    fn config_entry(&self, kind: ConfigKind, name: &str) -> Option<&Entry> {
        self.sections.iter().rev().find(|e| e.role.as_ref().is_some_and(|(k, n)| *k == kind && n == name))
    }

    /// The keys and sub-sections of `name` of `kind` in a config file; when several sections
    /// name it, the last one (whole).
    pub fn config_section(&self, kind: ConfigKind, name: &str) -> Option<(&Section, &SubSections)> {
        self.config_entry(kind, name).map(|e| (&e.keys, &e.nested))
    }

    /// The names of `kind` in a config file, in order of first appearance.
    pub fn config_names(&self, kind: ConfigKind) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for e in &self.sections {
            if let Some((k, n)) = &e.role
                && *k == kind
                && !names.contains(n)
            {
                names.push(n.clone());
            }
        }
        names
    }

    /// A profile in `~/.aws/config`: `[profile NAME]`, or `[default]` / `[profile default]`
    /// for `default`; when several sections name it, the last one (whole).
    pub fn config_profile(&self, name: &str) -> Option<&Section> {
        self.config_entry(ConfigKind::Profile, name).map(|e| &e.keys)
    }

    /// The sub-sections of a config-file profile (`s3 =` + indented lines).
    pub fn config_profile_nested(&self, name: &str) -> Option<&SubSections> {
        self.config_entry(ConfigKind::Profile, name).map(|e| &e.nested)
    }

    /// Names of all profiles in a config file, in order of first appearance.
    pub fn config_profile_names(&self) -> Vec<String> {
        self.config_names(ConfigKind::Profile)
    }

    /// An `[sso-session NAME]` section.
    pub fn sso_session(&self, name: &str) -> Option<&Section> {
        self.config_entry(ConfigKind::SsoSession, name).map(|e| &e.keys)
    }

    /// Names of all `[sso-session NAME]` sections.
    pub fn sso_session_names(&self) -> Vec<String> {
        self.config_names(ConfigKind::SsoSession)
    }

    /// A `[services NAME]` section: service id → its settings (`s3 =` + indented lines).
    pub fn services(&self, name: &str) -> Option<&SubSections> {
        self.config_entry(ConfigKind::Services, name).map(|e| &e.nested)
    }
}

/// A file last modified at least this long ago is not being written: a writer that is
/// rewriting it in place moves its modification time with every write call. Kept well above
/// the kernel's timestamp granularity (a clock tick, up to 10 ms), which makes a file look
/// older than it is.
const QUIET: Duration = Duration::from_secs(1);
/// Between two reads of a recently modified file: longer than a writer pauses between the
/// write calls of one rewrite (microseconds for the tools we know), short enough to find a
/// whole file between two rewrites of a busy writer.
const SETTLE_STEP: Duration = Duration::from_millis(2);
/// How long [`IniDoc::read`] may wait for a file to settle, in all; the hooks' latency budget
/// allows this, and no login tool takes longer to write a few hundred bytes.
pub const SETTLE_BUDGET: Duration = Duration::from_millis(100);

/// A file unchanged this long is not being written: a login tool writes its few hundred bytes
/// in well under a millisecond. One that stalls longer mid-write is beyond what a bounded
/// wait can tell from a file saved that way.
const STALL: Duration = Duration::from_millis(50);
/// Reads [`IniDoc::read`] makes before calling a file busy, whatever the clock says.
const MIN_READS: u32 = 4;

/// What identifies one version of a file, read from the open file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    /// The inode: a file replaced by rename is another version even with the same length and
    /// (coarse) time.
    ino: u64,
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Stamp {
        #[cfg(unix)]
        let ino = std::os::unix::fs::MetadataExt::ino(meta);
        #[cfg(not(unix))]
        let ino = 0;
        Stamp { len: meta.len(), modified: meta.modified().ok(), ino }
    }
}

/// One read of a file, and whether the file stayed the same while it was read.
struct Snapshot {
    bytes: Vec<u8>,
    stamp: Stamp,
    /// The metadata before and after the read agree, and the bytes are as long as the file:
    /// no writer truncated or appended in between (which could give a mix of two versions).
    consistent: bool,
}

impl Snapshot {
    /// `Ok(None)` when the file does not exist.
    fn take(path: &Path) -> Result<Option<Snapshot>, FsError> {
        let read_err = |source| FsError::Read { path: path.to_path_buf(), source };
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(read_err(e)),
        };
        let before = Stamp::of(&file.metadata().map_err(read_err)?);
        let mut bytes = Vec::new();
        (&mut file).take(fsutil::MAX_READ + 1).read_to_end(&mut bytes).map_err(read_err)?;
        if bytes.len() as u64 > fsutil::MAX_READ {
            return Err(FsError::TooLarge { path: path.to_path_buf(), limit: fsutil::MAX_READ });
        }
        let stamp = Stamp::of(&file.metadata().map_err(read_err)?);
        let consistent = before == stamp && stamp.len == bytes.len() as u64;
        Ok(Some(Snapshot { bytes, stamp, consistent }))
    }

    /// Last modified at least `quiet` ago by the system clock (a time in the future is not).
    fn quiet_for(&self, quiet: Duration) -> bool {
        self.stamp.modified.and_then(|m| SystemTime::now().duration_since(m).ok()).is_some_and(|age| age >= quiet)
    }

    /// The same version as `other`, both read whole.
    fn same_as(&self, other: &Snapshot) -> bool {
        self.consistent && other.consistent && self.stamp == other.stamp && self.bytes == other.bytes
    }
}

/// Text that may be a whole file rather than the start of one: not empty, and ending with a
/// line break. Every login tool ends its last line (Go's ini package and Python's
/// configparser both do), while a write cut short almost always ends inside a line (buffer
/// sizes do not follow lines), even when what came before parses.
fn looks_whole(text: &str) -> bool {
    !text.trim().is_empty() && text.ends_with(['\n', '\r'])
}

/// One stripped line of a value, with where it starts (for errors).
#[derive(Debug)]
struct Piece<'a> {
    text: &'a str,
    line: usize,
    col: usize,
}

#[derive(Debug, Default)]
struct RawSection<'a> {
    name: &'a str,
    opts: BTreeMap<String, Vec<Piece<'a>>>,
    /// The line where `aws_access_key_id` last changed to a different value, if it did.
    id_changed_at: Option<usize>,
}

#[derive(Debug, Default)]
struct Raw<'a> {
    sections: Vec<RawSection<'a>>,
    defaults: BTreeMap<String, Vec<Piece<'a>>>,
}

impl<'a> Raw<'a> {
    fn opts(&mut self, at: Cur) -> Option<&mut BTreeMap<String, Vec<Piece<'a>>>> {
        match at {
            Cur::Nowhere => None,
            Cur::Defaults => Some(&mut self.defaults),
            Cur::Section(i) => self.sections.get_mut(i).map(|s| &mut s.opts),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Cur {
    /// Before the first section, or after a broken section header.
    Nowhere,
    Defaults,
    Section(usize),
}

/// configparser's `_read`, with the tolerances described in the module docs.
fn read_raw(text: &str) -> Raw<'_> {
    let mut raw = Raw::default();
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let mut cur = Cur::Nowhere;
    // The key whose value continuation lines extend (configparser's `optname`).
    let mut key: Option<String> = None;
    let mut indent_level = 0usize;
    for (i, line) in universal_lines(text).enumerate() {
        let lineno = i + 1;
        let content = py_strip(line);
        if content.starts_with(['#', ';']) {
            continue;
        }
        if content.is_empty() {
            if let Some(k) = &key
                && let Some(v) = raw.opts(cur).and_then(|o| o.get_mut(k))
            {
                v.push(Piece { text: "", line: lineno, col: 1 });
            }
            continue;
        }
        let indent = line.chars().take_while(|c| py_isspace(*c)).count();
        let piece = Piece { text: content, line: lineno, col: indent + 1 };
        if let Some(k) = &key
            && indent > indent_level
        {
            if let Some(v) = raw.opts(cur).and_then(|o| o.get_mut(k)) {
                v.push(piece);
            }
            continue;
        }
        indent_level = indent;
        key = None;
        if let Some(name) = section_header(content) {
            cur = if name == "DEFAULT" {
                Cur::Defaults
            } else {
                let n = *index.entry(name).or_insert_with(|| {
                    raw.sections.push(RawSection { name, opts: BTreeMap::new(), id_changed_at: None });
                    raw.sections.len() - 1
                });
                Cur::Section(n)
            };
            continue;
        }
        let Some(d) = content.find(['=', ':']) else {
            // Neither section, key nor continuation: skipped (botocore fails the file).
            if content.starts_with('[') {
                cur = Cur::Nowhere;
            }
            continue;
        };
        let (name, rest) = content.split_at(d);
        let name = py_strip(name);
        if name.is_empty() {
            continue;
        }
        let value = py_strip(rest.get(1..).unwrap_or(""));
        let name = name.to_lowercase();
        if let Cur::Section(n) = cur
            && name == "aws_access_key_id"
            && let Some(sect) = raw.sections.get_mut(n)
            && sect.opts.get(&name).and_then(|p| p.first()).is_some_and(|old| old.text != value)
        {
            sect.id_changed_at = Some(piece.line);
        }
        if let Some(opts) = raw.opts(cur) {
            opts.insert(name.clone(), vec![Piece { text: value, ..piece }]);
        }
        // Outside a section too: its continuation lines are dropped with it, not read as
        // sections or keys of their own.
        key = Some(name);
    }
    raw
}

enum Value {
    Plain(String),
    Nested(Section),
}

/// configparser's `_join_multiline_values`, then botocore's `_parse_nested`.
fn finalize(pieces: &[Piece<'_>], path: &Path) -> Result<Value, AwsFileError> {
    let joined = pieces.iter().map(|p| p.text).collect::<Vec<_>>().join("\n");
    let joined = joined.trim_end_matches(py_isspace);
    if !joined.starts_with('\n') {
        return Ok(Value::Plain(joined.to_string()));
    }
    let mut sub = Section::new();
    for p in pieces {
        for part in p.text.split(py_line_break).map(py_strip).filter(|s| !s.is_empty()) {
            let Some((k, v)) = part.split_once('=') else {
                return Err(AwsFileError::Syntax {
                    path: path.to_path_buf(),
                    line: p.line,
                    col: p.col,
                    what: NESTED_LINE,
                });
            };
            sub.insert(py_strip(k).to_string(), py_strip(v).to_string());
        }
    }
    Ok(Value::Nested(sub))
}

/// Lines as Python's universal newlines mode reads them: `\n`, `\r\n` and `\r` end a line.
fn universal_lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let Some(i) = rest.find(['\r', '\n']) else {
            return Some(std::mem::take(&mut rest));
        };
        let (line, tail) = rest.split_at(i);
        let skip = if tail.starts_with("\r\n") { 2 } else { 1 };
        rest = tail.get(skip..).unwrap_or("");
        Some(line)
    })
}

/// configparser's `SECTCRE` (`\[(?P<header>.+)\]`, matched at the start): up to the last `]`,
/// at least one character between.
fn section_header(content: &str) -> Option<&str> {
    let rest = content.strip_prefix('[')?;
    let end = rest.rfind(']')?;
    let name = rest.get(..end)?;
    (!name.is_empty()).then_some(name)
}

/// What `build_profile_map` makes of a config-file section name.
fn role(name: &str) -> Option<(ConfigKind, String)> {
    let kind = if name.starts_with("profile") {
        ConfigKind::Profile
    } else if name.starts_with("sso-session") {
        ConfigKind::SsoSession
    } else if name.starts_with("services") {
        ConfigKind::Services
    } else if name == "default" {
        return Some((ConfigKind::Profile, "default".to_string()));
    } else {
        return None;
    };
    // botocore's `_parse_section`: exactly two shell words, else the section is dropped.
    let mut words = shlex_split(name)?.into_iter();
    match (words.next(), words.next(), words.next()) {
        (Some(_), Some(second), None) => Some((kind, second)),
        _ => None,
    }
}

/// Python's `shlex.split(s)` (POSIX mode, no comments); `None` where it raises `ValueError`.
fn shlex_split(s: &str) -> Option<Vec<String>> {
    #[derive(Clone, Copy, PartialEq)]
    enum St {
        Space,
        Word,
        Quote(char),
        /// After a backslash, outside quotes (back to `Word`) or inside `"` (back to it).
        Escape {
            in_dquote: bool,
        },
    }
    let mut words = Vec::new();
    let mut token = String::new();
    let mut st = St::Space;
    let mut chars = s.chars();
    loop {
        let c = chars.next();
        st = match (st, c) {
            (St::Space, None) => break,
            (St::Space, Some(' ' | '\t' | '\r' | '\n')) => St::Space,
            (St::Space | St::Word, Some('\\')) => St::Escape { in_dquote: false },
            (St::Space | St::Word, Some(q @ ('"' | '\''))) => St::Quote(q),
            (St::Word, None) => {
                words.push(std::mem::take(&mut token));
                break;
            }
            (St::Word, Some(' ' | '\t' | '\r' | '\n')) => {
                words.push(std::mem::take(&mut token));
                St::Space
            }
            (St::Space | St::Word, Some(c)) => {
                token.push(c);
                St::Word
            }
            (St::Quote(_) | St::Escape { .. }, None) => return None,
            (St::Quote(q), Some(c)) if c == q => St::Word,
            (St::Quote('"'), Some('\\')) => St::Escape { in_dquote: true },
            (St::Quote(q), Some(c)) => {
                token.push(c);
                St::Quote(q)
            }
            (St::Escape { in_dquote }, Some(c)) => {
                if in_dquote && c != '\\' && c != '"' {
                    token.push('\\');
                }
                token.push(c);
                if in_dquote { St::Quote('"') } else { St::Word }
            }
        };
    }
    Some(words)
}

/// Python's `str.isspace`, which `strip`, `split` and the regex `\s` use: Unicode
/// whitespace plus the separators `\x1c`–`\x1f`.
fn py_isspace(c: char) -> bool {
    c.is_whitespace() || ('\x1c'..='\x1f').contains(&c)
}

fn py_strip(s: &str) -> &str {
    s.trim_matches(py_isspace)
}

/// The line boundaries of Python's `str.splitlines` (besides `\n` and `\r`).
fn py_line_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> IniDoc {
        IniDoc::parse(text, Path::new("/f")).unwrap()
    }

    fn get<'a>(doc: &'a IniDoc, section: &str, key: &str) -> Option<&'a str> {
        doc.section(section).and_then(|s| s.get(key)).map(String::as_str)
    }

    #[test]
    fn python_whitespace_is_what_rust_calls_whitespace_plus_four_separators() {
        // Python: [c for c in range(0x110000) if chr(c).isspace()]
        let python: Vec<u32> = [0x9, 0xa, 0xb, 0xc, 0xd, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680]
            .into_iter()
            .chain(0x2000..=0x200a)
            .chain([0x2028, 0x2029, 0x202f, 0x205f, 0x3000])
            .collect();
        let ours: Vec<u32> =
            (0..=0x10ffff).filter_map(char::from_u32).filter(|c| py_isspace(*c)).map(u32::from).collect();
        assert_eq!(ours, python);
    }

    #[test]
    fn equals_or_colon_split_at_the_first_of_either() {
        let doc = parse("[p]\na = 1\nb: 2\nc:d=3\ne=f:4\ng  :  \nh=\n");
        assert_eq!(get(&doc, "p", "a"), Some("1"));
        assert_eq!(get(&doc, "p", "b"), Some("2"));
        assert_eq!(get(&doc, "p", "c"), Some("d=3"));
        assert_eq!(get(&doc, "p", "e"), Some("f:4"));
        assert_eq!(get(&doc, "p", "g"), Some(""));
        assert_eq!(get(&doc, "p", "h"), Some(""));
    }

    #[test]
    fn keys_are_lowercased_section_names_are_not() {
        let doc = parse("[Profile Work]\nAWS_Access_Key_ID = A\nÄrger = 1\n");
        assert_eq!(get(&doc, "Profile Work", "aws_access_key_id"), Some("A"));
        assert_eq!(get(&doc, "Profile Work", "ärger"), Some("1"));
        assert!(doc.section("profile work").is_none());
        // `Profile Work` does not start with `profile`: not a profile.
        assert!(doc.config_profile_names().is_empty());
    }

    #[test]
    fn whitespace_is_trimmed_and_uniform_indentation_is_fine() {
        let doc = parse("  [p]  \n  sso_region = us-east-1  \n\tregion\t=\teu-west-1\t\n  x = 1\n");
        assert_eq!(get(&doc, "p", "sso_region"), Some("us-east-1"));
        // A tab is one character of indentation: shallower than the two spaces before it, so
        // it starts a key, and `x` (two spaces, deeper than the tab) continues `region`.
        assert_eq!(get(&doc, "p", "region"), Some("eu-west-1\nx = 1"));
        assert_eq!(get(&doc, "p", "x"), None);
        let doc = parse("[p]\n\tsso_region = us-east-1\n\tregion = eu-west-1\n");
        assert_eq!(get(&doc, "p", "sso_region"), Some("us-east-1"));
        assert_eq!(get(&doc, "p", "region"), Some("eu-west-1"));
    }

    #[test]
    fn deeper_lines_continue_the_value_with_blank_lines_and_comments() {
        let doc = parse("[p]\nk = a\n  b\n\n\t c = d\n  # not part of it\n  ; nor this\n    [q]\n\n\nn = 1\n");
        assert_eq!(get(&doc, "p", "k"), Some("a\nb\n\nc = d\n[q]"));
        assert_eq!(get(&doc, "p", "c"), None);
        assert!(doc.section("q").is_none());
        assert_eq!(get(&doc, "p", "n"), Some("1"));
        // Deeper than the key line, not than the section header.
        let doc = parse("  [p]\na = 1\n b = 2\n");
        assert_eq!(get(&doc, "p", "a"), Some("1\nb = 2"));
        // The first key after a header is never a continuation.
        let doc = parse("[p]\n      a = 1\n    b = 2\n");
        assert_eq!(get(&doc, "p", "a"), Some("1"));
        assert_eq!(get(&doc, "p", "b"), Some("2"));
    }

    #[test]
    fn a_value_starting_with_a_newline_is_a_sub_section() {
        let text = "[profile dev]\nregion = us-east-1\ns3 =\n  # comment\n  Max_Concurrent_Requests = 10\n\n  \
                    addressing_style = path\n  x = a = b\nsso_region = eu-west-1\n";
        let doc = parse(text);
        let p = doc.config_profile("dev").unwrap();
        assert_eq!(p.get("region").unwrap(), "us-east-1");
        assert_eq!(p.get("sso_region").unwrap(), "eu-west-1");
        assert!(p.get("s3").is_none() && p.get("addressing_style").is_none());
        let s3 = doc.config_profile_nested("dev").unwrap().get("s3").unwrap();
        assert_eq!(s3.get("Max_Concurrent_Requests").unwrap(), "10", "sub-section names keep their case");
        assert_eq!(s3.get("addressing_style").unwrap(), "path");
        assert_eq!(s3.get("x").unwrap(), "a = b");
        assert_eq!(doc.nested("profile dev").unwrap().len(), 1);
        // Services sections.
        let doc = parse("[services local]\ndynamodb =\n  endpoint_url = http://localhost:8000\n");
        assert_eq!(doc.config_names(ConfigKind::Services), ["local"]);
        assert_eq!(doc.services("local").unwrap()["dynamodb"]["endpoint_url"], "http://localhost:8000");
        assert!(doc.section("services local").unwrap().is_empty());
        // `key =` followed by nothing but blank or comment lines is an empty string.
        let doc = parse("[p]\ns3 =\n\n  # c\n\nx = 1\n");
        assert_eq!(get(&doc, "p", "s3"), Some(""));
        // Python's splitlines splits a sub-section line at a vertical tab, too.
        let doc = parse("[p]\ns3 =\n  a = 1\x0bb = 2\n");
        assert_eq!(doc.nested("p").unwrap()["s3"].len(), 2);
    }

    #[test]
    fn a_sub_section_line_without_equals_is_an_error_naming_the_line_not_the_text() {
        for (text, at) in [
            ("[p]\nk =\n  SECRETVALUE1\n", "line 3, column 3"),
            ("[p]\nk =\n  a = 1\n   SECRETVALUE1: 2\n", "line 4, column 4"),
        ] {
            let e = IniDoc::parse(text, Path::new("/h/.aws/config")).unwrap_err().to_string();
            assert!(e.contains("/h/.aws/config") && e.contains(at), "{e}");
            assert!(!e.contains("SECRETVALUE1") && !e.contains('\n'), "{e}");
        }
        // In [DEFAULT] it matters only once a section inherits it, as in botocore.
        assert!(IniDoc::parse("[DEFAULT]\nk =\n  x\n", Path::new("/f")).is_ok());
        assert!(IniDoc::parse("[DEFAULT]\nk =\n  x\n[p]\n", Path::new("/f")).is_err());
        assert!(IniDoc::parse("[DEFAULT]\nk =\n  x\n[p]\nk = 1\n", Path::new("/f")).is_ok());
    }

    #[test]
    fn comments_are_whole_lines_only() {
        let doc = parse("# c\n; c\n[p]\n  # c = 1\n\t; d = 2\nregion = us-east-1 # x\nb = 1 ;y\n#[q]\n");
        assert_eq!(get(&doc, "p", "region"), Some("us-east-1 # x"));
        assert_eq!(get(&doc, "p", "b"), Some("1 ;y"));
        assert_eq!(doc.section("p").unwrap().len(), 2);
        assert_eq!(doc.section_names().count(), 1);
    }

    #[test]
    fn section_headers_as_configparser_matches_them() {
        let doc = parse("[ spaced ]\na=1\n[x] trailing\nb=2\n[]]\nc=3\n[a]b]\nd=4\n");
        assert_eq!(get(&doc, " spaced ", "a"), Some("1"));
        assert_eq!(get(&doc, "x", "b"), Some("2"));
        assert_eq!(get(&doc, "]", "c"), Some("3"));
        assert_eq!(get(&doc, "a]b", "d"), Some("4"));
    }

    #[test]
    fn profile_names_are_shell_words() {
        let text = "[profile \"my kal\"]\na=1\n[profile   kal]\nb=2\n[profile\tt]\nc=3\n[profile 'q \"x']\nd=4\n\
                    [profile a\\ b]\ne=5\n[profiles bad]\nf=6\n[profile]\ng=7\n[profile a b]\nh=8\n[profile \"open]\ni=9\n\
                    [profilex]\nj=1\n[ profile y]\nk=1\n[profile \"\"]\nl=1\n";
        let doc = parse(text);
        assert_eq!(doc.config_profile_names(), ["my kal", "kal", "t", "q \"x", "a b", "bad", ""]);
        assert_eq!(doc.config_profile("my kal").unwrap()["a"], "1");
        assert_eq!(doc.config_profile("kal").unwrap()["b"], "2");
        assert_eq!(doc.config_profile("bad").unwrap()["f"], "6");
        assert!(doc.config_profile("y").is_none());
    }

    #[test]
    fn shlex_matches_python() {
        // shlex.split(...) in Python 3.11.
        let cases: &[(&str, Option<&[&str]>)] = &[
            ("profile x", Some(&["profile", "x"])),
            ("profile \"a\\\"b\\x\" c\\ d", Some(&["profile", "a\"b\\x", "c d"])),
            ("profile 'a\\b'", Some(&["profile", "a\\b"])),
            ("profile \"\"", Some(&["profile", ""])),
            ("profile a\"b c\"d", Some(&["profile", "ab cd"])),
            ("  ", Some(&[])),
            ("profile \"x", None),
            ("profile x\\", None),
            ("profile 'x\\", None),
        ];
        for (s, want) in cases {
            let got = shlex_split(s);
            assert_eq!(
                got.as_deref().map(|v| v.iter().map(String::as_str).collect::<Vec<_>>()),
                want.map(<[_]>::to_vec),
                "{s:?}"
            );
        }
    }

    #[test]
    fn default_and_profile_default_are_one_profile_the_later_wins_whole() {
        let doc = parse("[default]\nregion = us-east-1\nx = 1\n[profile default]\nregion = eu-west-1\n");
        assert_eq!(doc.config_profile("default").unwrap().get("region").unwrap(), "eu-west-1");
        assert!(doc.config_profile("default").unwrap().get("x").is_none());
        let doc = parse("[profile default]\nregion = eu-west-1\n[default]\nregion = us-east-1\n");
        assert_eq!(doc.config_profile("default").unwrap().get("region").unwrap(), "us-east-1");
        assert_eq!(doc.config_profile_names(), ["default"]);
        // Two spellings of one profile: the later section, whole.
        let doc = parse("[profile a]\nx=1\n[profile \"a\"]\ny=2\n");
        assert_eq!(doc.config_profile("a").unwrap().len(), 1);
        assert_eq!(doc.config_profile("a").unwrap()["y"], "2");
    }

    #[test]
    fn credentials_sections_are_literal() {
        let doc = parse("[profile x]\na=1\n[ default]\nb=2\n[my kal]\nc=3\n");
        assert_eq!(doc.credentials_profile_names(), ["profile x", " default", "my kal"]);
        assert!(doc.section("default").is_none() && doc.section("x").is_none());
        assert_eq!(get(&doc, "my kal", "c"), Some("3"));
    }

    #[test]
    fn sso_sessions() {
        let doc =
            parse("[sso-session corp]\nsso_region=us-east-1\n[sso-session \"my corp\"]\nsso_region=x\n[sso-session]\n");
        assert_eq!(doc.sso_session_names(), ["corp", "my corp"]);
        assert_eq!(doc.sso_session("corp").unwrap()["sso_region"], "us-east-1");
    }

    #[test]
    fn the_default_section_is_inherited_by_every_section() {
        let doc = parse(
            "[DEFAULT]\nregion = us-east-1\ns3 =\n  a = 1\n[p]\nregion = eu-west-1\n[profile q]\n[DEFAULT]\nz = 2\n",
        );
        assert_eq!(doc.section_names().collect::<Vec<_>>(), ["p", "profile q"]);
        assert_eq!(get(&doc, "p", "region"), Some("eu-west-1"));
        assert_eq!(get(&doc, "p", "z"), Some("2"));
        assert_eq!(doc.config_profile("q").unwrap()["region"], "us-east-1");
        assert_eq!(doc.config_profile_nested("q").unwrap()["s3"]["a"], "1");
    }

    #[test]
    fn a_huge_default_section_times_many_sections_is_an_error_not_an_explosion() {
        let mut text = String::from("[DEFAULT]\n");
        text.extend((0..2000).map(|i| format!("k{i} = v\n")));
        text.extend((0..600).map(|i| format!("[s{i}]\n")));
        let e = IniDoc::parse(&text, Path::new("/f")).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("[DEFAULT]"), "{e}");
        text.truncate(text.find("[s100]").unwrap());
        assert_eq!(parse(&text).section("s99").unwrap().len(), 2000);
    }

    #[test]
    fn line_endings_and_bom() {
        let doc = parse("\u{feff}[p]\r\na = 1\r\n  b\r\nc = 2\rd = 3\n");
        assert_eq!(get(&doc, "p", "a"), Some("1\nb"));
        assert_eq!(get(&doc, "p", "c"), Some("2"));
        assert_eq!(get(&doc, "p", "d"), Some("3"));
        let doc = parse("\u{feff}# comment\n[p]\na=1\n");
        assert_eq!(get(&doc, "p", "a"), Some("1"));
    }

    #[test]
    fn duplicates_merge_and_later_keys_win() {
        let doc = parse("[p]\na = 1\nb = 2\nA = 3\n[q]\n[p]\nb =\n  x = 1\nc = 4\n");
        assert_eq!(doc.section_names().collect::<Vec<_>>(), ["p", "q"]);
        let p = doc.section("p").unwrap();
        assert_eq!((p["a"].as_str(), p.get("b"), p["c"].as_str()), ("3", None, "4"));
        assert_eq!(doc.nested("p").unwrap()["b"]["x"], "1");
        let doc = parse("[p]\nb =\n  x = 1\n[p]\nb = 2\n");
        assert_eq!(get(&doc, "p", "b"), Some("2"));
        assert!(doc.nested("p").unwrap().is_empty());
    }

    #[test]
    fn junk_lines_are_skipped_and_end_the_value_before_them() {
        let text = "[p]\naws_access_key_id = AKIA1\njunk line\n  aws_secret_access_key = S1\nregion = x\n";
        let doc = parse(text);
        assert_eq!(get(&doc, "p", "aws_access_key_id"), Some("AKIA1"), "configparser would append the secret");
        assert_eq!(get(&doc, "p", "aws_secret_access_key"), Some("S1"));
        // A broken header: its keys (and their continuation lines) are not given to the
        // section before it, nor read as sections of their own.
        let doc = parse("[a]\nx = 1\n[default\naws_access_key_id = K\n  [c] K2\n[b]\ny = 2\n");
        assert_eq!(doc.section_names().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(doc.section("a").unwrap().len(), 1);
        assert_eq!(get(&doc, "b", "y"), Some("2"));
        // Keys before the first section (with their continuation lines) and lines without a
        // key name are skipped; the latter end the value before them.
        let doc = parse("orphan = 1\n  [q]\n[p]\nk = 4\n= 2\n  x = 5\n: 3\n");
        assert_eq!(doc.section_names().collect::<Vec<_>>(), ["p"]);
        assert_eq!(get(&doc, "p", "k"), Some("4"));
        assert_eq!(get(&doc, "p", "x"), Some("5"));
    }

    #[test]
    fn tolerant_like_the_cli() {
        let text = "\u{feff}# comment\r\n; another\r\n[default]\r\naws_access_key_id = AKIA1\r\n\
                    AWS_SECRET_ACCESS_KEY=se=cr\"et\\x\r\naws_access_key_id   =   AKIA2\r\n\r\n[other]\nx=1\n[default]\nregion=eu-west-1\n";
        let doc = parse(text);
        let d = doc.section("default").unwrap();
        assert_eq!(d.get("aws_access_key_id").unwrap(), "AKIA2");
        assert_eq!(d.get("aws_secret_access_key").unwrap(), "se=cr\"et\\x");
        assert_eq!(d.get("region").unwrap(), "eu-west-1");
        assert_eq!(doc.section("other").unwrap().get("x").unwrap(), "1");
    }

    #[test]
    fn config_profiles_and_sessions() {
        let text = "[default]\nregion=us-east-1\n[profile   work ]\nsso_session = corp\n\
                    [sso-session corp]\nsso_start_url=https://x.awsapps.com/start\n[profile default]\nregion=eu-west-1\n\
                    [profiles odd]\n[services s]\ndynamodb =\n  endpoint_url = http://localhost:8000\n";
        let doc = parse(text);
        assert_eq!(doc.config_profile("work").unwrap().get("sso_session").unwrap(), "corp");
        assert_eq!(doc.config_profile("default").unwrap().get("region").unwrap(), "eu-west-1");
        assert!(doc.sso_session("corp").is_some());
        assert_eq!(doc.sso_session_names(), vec!["corp"]);
        // botocore only checks the prefix: `[profiles odd]` is the profile `odd`.
        assert_eq!(doc.config_profile_names(), vec!["default", "work", "odd"]);
        // The nested value stays nested instead of leaking keys into the section.
        assert!(doc.section("services s").unwrap().get("endpoint_url").is_none());
    }

    /// The fuzz target's invariants (`fuzz/fuzz_targets/aws_ini.rs`) on random files made of
    /// the fragments that matter to this parser.
    #[test]
    fn random_files_keep_the_invariants() {
        const FRAGMENTS: &[&str] = &[
            "[",
            "]",
            "=",
            ":",
            "#",
            ";",
            " ",
            "  ",
            "\t",
            "\r",
            "\n",
            "\r\n",
            "\"",
            "'",
            "\\",
            "a",
            "Key",
            "1",
            "\u{a0}",
            "\u{1c}",
            "\u{0b}",
            "\u{85}",
            "\u{2028}",
            "\u{feff}",
            "DEFAULT",
            "profile ",
            "sso-session ",
            "services ",
            "default",
            "é",
            "Σ",
            "İ",
        ];
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let path = Path::new("/h/.aws/credentials");
        for _ in 0..20_000 {
            let text: String = (0..next(60)).map(|_| FRAGMENTS[next(FRAGMENTS.len())]).collect();
            let doc = match IniDoc::parse(&text, path) {
                Ok(doc) => doc,
                Err(e) => {
                    let m = e.to_string();
                    assert!(m.contains("/h/.aws/credentials") && !m.contains(['\n', '\r']), "{m}");
                    continue;
                }
            };
            let names: Vec<&str> = doc.section_names().collect();
            for (i, n) in names.iter().enumerate() {
                assert!(!names[..i].contains(n), "{text:?}");
                for (k, v) in doc.section(n).unwrap() {
                    assert!(*k == k.trim().to_lowercase() && *v == v.trim(), "{text:?}");
                }
                assert!(doc.nested(n).unwrap().keys().all(|k| doc.section(n).unwrap().get(k).is_none()));
            }
            for kind in [ConfigKind::Profile, ConfigKind::SsoSession, ConfigKind::Services] {
                for n in doc.config_names(kind) {
                    assert!(doc.config_section(kind, &n).is_some(), "{text:?}");
                }
            }
        }
    }

    #[test]
    fn garbage_never_panics() {
        for text in [
            "\0\0\0",
            "[[[]]]",
            "a=b=c",
            "[x]\n\tindented=1",
            "\u{feff}",
            "[é]\nü=ö",
            "\r\r\r",
            "[ ]\n k = v",
            "[p]\nk=\n \u{2028}=\u{85}",
            "[profile \"\\",
            "[p]\nk =\n\n\n",
            "[\u{3000}]\n\u{3000}k\u{3000}=\u{3000}v\u{3000}\n\u{3000}\u{3000}w",
        ] {
            let _ = IniDoc::parse(text, Path::new("/f"));
        }
    }

    fn tmpfile(tag: &str, text: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("kc-aws-files-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("credentials");
        std::fs::write(&p, text).unwrap();
        p
    }

    fn cleanup(p: &Path) {
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }

    const WHOLE: &str = "[p]\naws_access_key_id = A\naws_secret_access_key = S\naws_session_token = T\n";

    #[test]
    fn whole_looking_text() {
        let whole = |t: &str| looks_whole(t) && IniDoc::parse(t, Path::new("/f")).unwrap().has_whole_profiles();
        assert!(whole(WHOLE));
        assert!(whole("[p]\r\nregion = x\r\n"));
        // Cut inside a line, right after a header, or between a key id and its secret.
        assert!(!whole(&WHOLE[..WHOLE.len() - 3]));
        assert!(!whole("[p]\naws_access_key_id = A\naws_secret_access_key = S\n[q]\n"));
        assert!(!whole("[p]\naws_access_key_id = A\n"));
        assert!(!whole("[p]\naws_access_key_id = A\naws_secret_access_key =\n"));
        assert!(!whole("[p]\naws_session_token = T\n"));
        assert!(!whole(""));
        assert!(!whole(" \n"));
    }

    #[test]
    fn a_recent_whole_file_is_read_after_one_step() {
        let p = tmpfile("recent", WHOLE);
        let t = Instant::now();
        let doc = IniDoc::read(&p).unwrap().unwrap();
        assert!(t.elapsed() < STALL, "{:?}", t.elapsed());
        assert_eq!(doc.section("p").unwrap().get("aws_session_token").map(String::as_str), Some("T"));
        assert!(IniDoc::read(&p.with_file_name("absent")).unwrap().is_none());
        cleanup(&p);
    }

    #[test]
    fn an_old_file_is_taken_at_once_whatever_it_holds() {
        let p = tmpfile("old", "[p]\naws_access_key_id = A");
        let old = SystemTime::now() - Duration::from_secs(3600);
        File::options().write(true).open(&p).unwrap().set_modified(old).unwrap();
        let t = Instant::now();
        let doc = IniDoc::read(&p).unwrap().unwrap();
        assert!(t.elapsed() < STALL, "{:?}", t.elapsed());
        assert_eq!(doc.section("p").unwrap().get("aws_access_key_id").map(String::as_str), Some("A"));
        cleanup(&p);
    }

    #[test]
    fn a_recent_unwhole_file_is_taken_as_it_is_once_it_stays_unchanged() {
        // Saved by hand without a final line break, half a key pair: nobody is writing it, so
        // after a short wait it is what it is (and its problems are reported as usual).
        let p = tmpfile("stale", "[p]\naws_access_key_id = A");
        let t = Instant::now();
        let doc = IniDoc::read(&p).unwrap().unwrap();
        let took = t.elapsed();
        assert!(took >= STALL && took < SETTLE_BUDGET + STALL, "{took:?}");
        assert!(doc.section("p").unwrap().get("aws_secret_access_key").is_none());
        cleanup(&p);
    }

    #[test]
    fn a_file_that_never_settles_is_busy_not_served_in_part() {
        let p = tmpfile("busy", "[p]\naws_access_key_id = A0");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (p, stop) = (p.clone(), std::sync::Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    n += 1;
                    // Always half a profile, always different: a writer that never finishes.
                    let _ = std::fs::write(&p, format!("[p]\naws_access_key_id = A{n}"));
                    std::thread::sleep(Duration::from_micros(500));
                }
            })
        };
        let t = Instant::now();
        let r = IniDoc::read(&p);
        let took = t.elapsed();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        writer.join().unwrap();
        assert!(matches!(r, Err(AwsFileError::Busy { .. })), "{r:?}");
        assert!(took >= SETTLE_BUDGET, "{took:?}");
        let msg = r.unwrap_err().to_string();
        assert!(msg.contains("being written") && msg.contains("credentials"), "{msg}");
        cleanup(&p);
    }
}
