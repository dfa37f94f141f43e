//! Differential test of `aws_files` against botocore's own reader
//! (`botocore.configloader.raw_config_parse` + `build_profile_map`), on files generated from a
//! seeded PRNG. python3 with botocore is required: this test fails, never skips, without it.
//!
//! Each file falls in one of these kinds:
//! - botocore reads it: we must read exactly the same sections, profiles, sso-sessions and
//!   services, keys and values (sub-sections included), in the same order;
//! - botocore rejects it, but reads it with `strict=False` and the BOM skipped (duplicate
//!   sections or keys, a BOM): that is our documented tolerance, so we must read what that
//!   reads;
//! - rejected either way (lines without `=`/`:`, keys before any section, a sub-section line
//!   without `=`): we may fail (one line, naming the file) or read it, but must then never
//!   serve a key with text that belongs to another key. Every value the generator writes is
//!   made of tokens `<owner|n>` naming the key they belong to, which makes that checkable.
//!
//! `INI_PARITY_SEED` and `INI_PARITY_FILES` override the seed and the number of files.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use keepalive_core::aws_files::{ConfigKind, IniDoc, Section, SubSections};
use serde_json::{Map, Value, json};
use test_support::{TestHome, run};

const DEFAULT_SEED: u64 = 0x9e37_79b9_7f4a_7c15;
const DEFAULT_FILES: usize = 400;

/// Runs botocore on every file: the real reader, then the same code with configparser's
/// `strict=False` and the BOM skipped (our tolerance). One JSON answer per file.
const BOTOCORE: &str = r#"
import configparser, json, sys, types
import botocore, botocore.configloader as cl
from botocore.exceptions import ConfigParseError

class Tolerant(configparser.RawConfigParser):
    def __init__(self, *args, **kwargs):
        kwargs["strict"] = False
        super().__init__(*args, **kwargs)
    def read(self, filenames, encoding=None):
        return super().read(filenames, encoding="utf-8-sig")

def parse(path):
    try:
        raw = cl.raw_config_parse(path)
    except ConfigParseError as e:
        return {"error": str(e)}
    m = cl.build_profile_map(raw)
    kinds = ("profiles", "sso_sessions", "services")
    out = {"raw": raw, **{k: m[k] for k in kinds}}
    out["order"] = {"raw": list(raw), **{k: list(m[k]) for k in kinds}}
    return out

paths = json.load(sys.stdin)
strict = [parse(p) for p in paths]
real = cl.configparser
cl.configparser = types.SimpleNamespace(RawConfigParser=Tolerant, Error=configparser.Error)
tolerant = [parse(p) for p in paths]
cl.configparser = real
json.dump({"version": botocore.__version__, "strict": strict, "tolerant": tolerant}, sys.stdout)
"#;

#[test]
fn aws_files_read_generated_files_exactly_as_botocore_does() {
    let seed = env_number("INI_PARITY_SEED").unwrap_or(DEFAULT_SEED).max(1);
    let count = env_number("INI_PARITY_FILES").map_or(DEFAULT_FILES, |n| n as usize);
    let mut rng = Rng(seed);
    let home = TestHome::new();
    let files: Vec<(PathBuf, String, Features)> = (0..count)
        .map(|i| {
            let (text, features) = generate(&mut rng);
            (home.write(format!("ini/{i}.ini"), &text), text, features)
        })
        .collect();

    let answer = botocore(&home, &files);
    let version = answer["version"].as_str().unwrap_or("?").to_string();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut covered = Features::default();
    for (i, (path, text, features)) in files.iter().enumerate() {
        let strict = &answer["strict"][i];
        let tolerant = &answer["tolerant"][i];
        let ours = IniDoc::read(path).map(|d| d.map(|d| to_json(&d)));
        let fail = |why: String| -> ! {
            panic!(
                "file {i} of seed {seed:#x} (reproduce: INI_PARITY_SEED={seed:#x}; botocore {version}): {why}\n\
                 --- file ---\n{text:?}\n--- as lines ---\n{}\n--- botocore ---\n{strict:#}\n--- botocore, strict=False ---\n{tolerant:#}\n--- ours ---\n{:#}",
                numbered(text),
                ours.as_ref().map_or_else(|e| json!(e.to_string()), |d| json!(d)),
            )
        };
        let kind = match (strict.get("error"), tolerant.get("error"), &ours) {
            (_, _, Ok(None)) => fail("the file we wrote is missing".into()),
            (None, _, Err(e)) => fail(format!("botocore reads it, we fail: {e}")),
            (None, _, Ok(Some(ours))) => {
                if ours != strict {
                    fail("we read it differently from botocore".into());
                }
                covered.add(features);
                "botocore reads it: same result"
            }
            (Some(_), None, Err(e)) => fail(format!("botocore reads it with strict=False, we fail: {e}")),
            (Some(_), None, Ok(Some(ours))) => {
                if ours != tolerant {
                    fail("we read it differently from botocore with strict=False (our tolerance)".into());
                }
                "botocore rejects it (duplicates, BOM): same as strict=False"
            }
            (Some(_), Some(_), Err(e)) => {
                let m = e.to_string();
                if m.contains('\n') || !m.contains(&path.display().to_string()) || m.contains('<') {
                    fail(format!("our error is not one line naming the file, or quotes the file: {m}"));
                }
                "botocore rejects it either way: we fail too"
            }
            (Some(_), Some(_), Ok(Some(ours))) => {
                if let Some(bad) = foreign_text(ours) {
                    fail(bad);
                }
                "botocore rejects it either way: we read it, no key serves another's text"
            }
        };
        *kinds.entry(kind).or_default() += 1;
    }

    let mut summary = kinds.iter().map(|(k, n)| format!("  {n:4}  {k}")).collect::<Vec<_>>().join("\n");
    summary.push_str("\nfiles botocore reads, by rule:\n");
    summary.push_str(&covered.counts().iter().map(|(r, n)| format!("  {n:4}  {r}")).collect::<Vec<_>>().join("\n"));
    println!("ini_parity: seed {seed:#x}, {count} files, botocore {version}\n{summary}");
    // The generator must keep producing every kind, and every rule in files botocore reads.
    if count >= DEFAULT_FILES {
        for kind in [
            "botocore reads it: same result",
            "botocore rejects it (duplicates, BOM): same as strict=False",
            "botocore rejects it either way: we fail too",
            "botocore rejects it either way: we read it, no key serves another's text",
        ] {
            let n = kinds.get(kind).copied().unwrap_or(0);
            let min = if kind.starts_with("botocore reads") { count / 3 } else { 10 };
            assert!(n >= min, "only {n} files of kind {kind:?} (want {min}); seed {seed:#x}\n{summary}");
        }
        for (rule, n) in covered.counts() {
            assert!(n >= 5, "only {n} files botocore reads have {rule}; seed {seed:#x}\n{summary}");
        }
    }
}

fn env_number(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

fn numbered(text: &str) -> String {
    text.split_inclusive(['\n']).enumerate().map(|(i, l)| format!("{:4} {l:?}\n", i + 1)).collect()
}

fn botocore(home: &TestHome, files: &[(PathBuf, String, Features)]) -> Value {
    let missing = "python3 with botocore is required for this test (botocore is installed in CI): pip install botocore";
    if let Err(e) = Command::new("python3").arg("--version").output() {
        panic!("{missing}\ncannot start python3: {e}");
    }
    let mut check = home.command("python3");
    check.args(["-c", "import botocore.configloader"]);
    let out = run(&mut check, b"", Duration::from_secs(60));
    assert!(out.success(), "{missing}\n{}", out.describe());

    let paths: Vec<String> = files.iter().map(|(p, _, _)| p.display().to_string()).collect();
    let mut cmd = home.command("python3");
    cmd.args(["-c", BOTOCORE]).env("PYTHONUTF8", "1");
    let out = run(&mut cmd, &serde_json::to_vec(&paths).unwrap(), Duration::from_secs(120));
    assert!(out.success(), "the botocore script failed:\n{}", out.describe());
    let answer: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("botocore's answer: {e}"));
    for pass in ["strict", "tolerant"] {
        assert_eq!(answer[pass].as_array().map(Vec::len), Some(files.len()), "{pass}");
    }
    answer
}

/// Our reading in the shape of botocore's answer.
fn to_json(doc: &IniDoc) -> Value {
    fn section(keys: &Section, nested: &SubSections) -> Value {
        let mut m: Map<String, Value> = keys.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        m.extend(nested.iter().map(|(k, sub)| (k.clone(), json!(sub))));
        Value::Object(m)
    }
    let raw: Map<String, Value> = doc
        .section_names()
        .map(|n| (n.to_string(), section(doc.section(n).unwrap(), doc.nested(n).unwrap())))
        .collect();
    let mut out = json!({ "raw": raw, "order": { "raw": doc.section_names().collect::<Vec<_>>() } });
    for (key, kind) in [
        ("profiles", ConfigKind::Profile),
        ("sso_sessions", ConfigKind::SsoSession),
        ("services", ConfigKind::Services),
    ] {
        let names = doc.config_names(kind);
        let map: Map<String, Value> = names
            .iter()
            .map(|n| {
                let (keys, nested) = doc.config_section(kind, n).unwrap();
                (n.clone(), section(keys, nested))
            })
            .collect();
        out[key] = Value::Object(map);
        out["order"][key] = json!(names);
    }
    // The API callers use agrees with the general one.
    for n in doc.config_profile_names() {
        assert_eq!(doc.config_profile(&n), doc.config_section(ConfigKind::Profile, &n).map(|s| s.0));
    }
    for n in doc.sso_session_names() {
        assert_eq!(doc.sso_session(&n), doc.config_section(ConfigKind::SsoSession, &n).map(|s| s.0));
    }
    out
}

/// The first value (in a section or sub-section) holding a token owned by another key.
fn foreign_text(ours: &Value) -> Option<String> {
    let sections = ours["raw"].as_object()?;
    for (name, keys) in sections {
        for (key, value) in keys.as_object()? {
            let owners: Vec<String> = match value {
                Value::String(s) => owners(s),
                Value::Object(sub) => sub
                    .iter()
                    .flat_map(|(k, v)| {
                        owners(v.as_str().unwrap_or("")).into_iter().filter(move |o| *o != k.to_lowercase())
                    })
                    .collect(),
                _ => vec!["(not a string)".into()],
            };
            if let Some(o) = owners.iter().find(|o| **o != key.to_lowercase()) {
                return Some(format!("[{name}] {key} serves text of {o:?}"));
            }
        }
    }
    None
}

/// Owners of the `<owner|n>` tokens in a value.
fn owners(value: &str) -> Vec<String> {
    value
        .split('<')
        .skip(1)
        .filter_map(|s| s.split_once('>'))
        .filter_map(|(inside, _)| inside.split_once('|'))
        .map(|(owner, _)| owner.to_string())
        .collect()
}

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Which rules a generated file exercises (counted over the files botocore reads).
#[derive(Debug, Default, Clone)]
struct Features(BTreeMap<&'static str, usize>);

impl Features {
    fn set(&mut self, rule: &'static str) {
        self.0.insert(rule, 1);
    }

    fn add(&mut self, other: &Features) {
        for k in other.0.keys() {
            *self.0.entry(k).or_default() += 1;
        }
    }

    fn counts(&self) -> Vec<(&'static str, usize)> {
        ALL_RULES.iter().map(|r| (*r, self.0.get(r).copied().unwrap_or(0))).collect()
    }
}

const ALL_RULES: &[&str] = &[
    "CRLF",
    "a lone CR",
    "tab indentation",
    "uniformly indented keys",
    "a multi-line value",
    "blank lines inside a value",
    "comments inside a value",
    "a sub-section",
    "a sub-section key with capitals",
    "comments",
    "indented comments",
    "inline comments",
    "`key: value`",
    "mixed-case keys",
    "empty values",
    "[default] and [profile default]",
    "a quoted profile name",
    "extra spaces in a section header",
    "a section header deeper than the key before it",
    "a key line deeper than the key before it",
    "[DEFAULT]",
    "Python-only whitespace",
];

const NAMES: &[&str] = &["dev", "kal", "prod-eu", "Team.X", "ci_1", "default"];
const KEYS: &[&str] = &[
    "region",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "sso_session",
    "sso_start_url",
    "output",
    "s3",
    "x_security_token_expires",
];
const SUB_KEYS: &[&str] = &["endpoint_url", "Max_Concurrent_Requests", "addressing_style", "signature_version"];

struct Gen<'r> {
    rng: &'r mut Rng,
    out: String,
    features: Features,
    newline: &'static str,
    mixed_newlines: bool,
    tokens: usize,
    /// Indentation of the last key line in characters, while its value is open.
    open_key: Option<usize>,
}

impl Gen<'_> {
    fn line(&mut self, text: &str) {
        self.out.push_str(text);
        let nl = if self.mixed_newlines { self.rng.pick(&["\n", "\r\n", "\r"]) } else { self.newline };
        match nl {
            "\r\n" => self.features.set("CRLF"),
            "\r" => self.features.set("a lone CR"),
            _ => {}
        }
        self.out.push_str(nl);
    }

    fn token(&mut self, owner: &str) -> String {
        self.tokens += 1;
        format!("<{}|{}>", owner.to_lowercase(), self.tokens)
    }

    fn space(&mut self) -> &'static str {
        self.rng.pick(&["", " ", " ", "  ", "\t"])
    }

    /// Extra indentation for a continuation line: at least one character.
    fn deeper(&mut self) -> String {
        let mut s = self.rng.pick(&[" ", "  ", "\t", "    ", " \t"]).to_string();
        if self.rng.chance(4) {
            s.push_str(self.rng.pick(&["\u{a0}", "\u{1c}", "\u{3000}", "\u{0c}"]));
            self.features.set("Python-only whitespace");
        }
        if s.contains('\t') {
            self.features.set("tab indentation");
        }
        s
    }

    fn mixed_case(&mut self, key: &str) -> String {
        match self.rng.below(6) {
            0 => {
                self.features.set("mixed-case keys");
                key.to_uppercase()
            }
            1 => {
                self.features.set("mixed-case keys");
                key.char_indices().map(|(i, c)| if i % 2 == 0 { c.to_ascii_uppercase() } else { c }).collect()
            }
            _ => key.to_string(),
        }
    }

    fn comment(&mut self, indent: &str) {
        let mark = self.rng.pick(&["#", ";"]);
        let tok = self.token("comment");
        if !indent.is_empty() {
            self.features.set("indented comments");
        }
        self.features.set("comments");
        self.line(&format!("{indent}{mark} note = {tok}"));
    }

    fn blank(&mut self) {
        let ws = self.rng.pick(&["", "", "  ", "\t"]);
        self.line(ws);
    }

    fn header(&mut self, name: &str, base: &str) {
        let indent = if self.rng.chance(10)
            && let Some(k) = self.open_key
        {
            self.features.set("a section header deeper than the key before it");
            format!("{}{}", " ".repeat(k), self.deeper())
        } else if self.rng.chance(20) {
            base.to_string()
        } else {
            String::new()
        };
        let tail = if self.rng.chance(8) { self.rng.pick(&[" ; trailing", " # x", "  "]) } else { "" };
        self.line(&format!("{indent}[{name}]{tail}"));
        // A header that continues a value does not end it.
        if indent.chars().count() <= self.open_key.unwrap_or(0) || self.open_key.is_none() {
            self.open_key = None;
        }
    }

    /// A key line, and maybe its continuation lines or sub-section.
    fn item(&mut self, base: &str, key: &str) {
        let written = self.mixed_case(key);
        let delim = if self.rng.chance(25) {
            self.features.set("`key: value`");
            ":"
        } else {
            "="
        };
        let (s1, s2) = (self.space(), self.space());
        let shape = self.rng.below(100);
        let value = match shape {
            0..=59 => {
                let tok = self.token(key);
                let tail = match self.rng.below(8) {
                    0 => {
                        self.features.set("inline comments");
                        " # inline"
                    }
                    1 => {
                        self.features.set("inline comments");
                        " ;x"
                    }
                    2 => "=a:b",
                    3 => "  \t",
                    _ => "",
                };
                format!("{tok}{tail}")
            }
            60..=69 => {
                self.features.set("empty values");
                String::new()
            }
            70..=84 => self.token(key),
            // A sub-section: `key =` and nothing else on the line.
            _ => String::new(),
        };
        let base_len = base.chars().count();
        if self.open_key.is_some_and(|k| base_len > k) {
            self.features.set("a key line deeper than the key before it");
        }
        if !base.is_empty() {
            self.features.set("uniformly indented keys");
        }
        self.line(&format!("{base}{written}{s1}{delim}{s2}{value}"));
        if self.open_key.is_none_or(|k| base_len <= k) {
            self.open_key = Some(base_len);
        }
        let lines = 1 + self.rng.below(3);
        match shape {
            70..=84 => {
                self.features.set("a multi-line value");
                for _ in 0..lines {
                    self.filler_inside(base);
                    let deeper = self.deeper();
                    let tok = self.token(key);
                    let text =
                        self.rng.pick(&["{t}", "word = {t}", "other: {t}", "[not a header] {t}"]).replace("{t}", &tok);
                    self.line(&format!("{base}{deeper}{text}"));
                }
            }
            85..=99 => {
                self.features.set("a sub-section");
                for _ in 0..lines {
                    self.filler_inside(base);
                    let deeper = self.deeper();
                    let sub = self.rng.pick(SUB_KEYS);
                    if sub.chars().any(|c| c.is_ascii_uppercase()) {
                        self.features.set("a sub-section key with capitals");
                    }
                    let tok = self.token(sub);
                    let (s1, s2) = (self.space(), self.space());
                    let delim = match self.rng.below(50) {
                        0 => ":",
                        1 => " ",
                        _ => "=",
                    };
                    self.line(&format!("{base}{deeper}{sub}{s1}{delim}{s2}{tok}"));
                }
            }
            _ => {}
        }
    }

    /// Blank lines and comments between the lines of a value (they do not end it).
    fn filler_inside(&mut self, base: &str) {
        if self.rng.chance(15) {
            self.features.set("blank lines inside a value");
            self.blank();
        }
        if self.rng.chance(15) {
            self.features.set("comments inside a value");
            let indent = if self.rng.chance(50) { format!("{base}{}", self.deeper()) } else { String::new() };
            self.comment(&indent);
        }
    }
}

/// One file: sections of keys in many shapes; some files with duplicates, a BOM or lines
/// botocore rejects.
fn generate(rng: &mut Rng) -> (String, Features) {
    let newline = if rng.chance(30) { "\r\n" } else { "\n" };
    let mixed_newlines = rng.chance(5);
    let duplicates = rng.chance(20);
    let junk = rng.chance(12);
    let bom = rng.chance(4);
    let mut g = Gen {
        rng,
        out: String::new(),
        features: Features::default(),
        newline,
        mixed_newlines,
        tokens: 0,
        open_key: None,
    };
    if bom {
        g.out.push('\u{feff}');
    }
    if junk && g.rng.chance(30) {
        let tok = g.token("orphan");
        g.line(&format!("orphan = {tok}"));
    }
    for _ in 0..g.rng.below(3) {
        if g.rng.chance(50) { g.comment("") } else { g.blank() }
    }
    let mut used: Vec<String> = Vec::new();
    let mut base = String::new();
    for _ in 0..1 + g.rng.below(5) {
        let name = NAMES[g.rng.below(NAMES.len())];
        let has = |h: &str| used.iter().any(|u| u == h);
        let pair = match (has("default"), has("profile default")) {
            (true, false) => Some("profile default"),
            (false, true) => Some("default"),
            _ => None,
        };
        let header = match g.rng.below(16) {
            // Both spellings of the default profile in one file, often enough.
            _ if pair.is_some() && g.rng.chance(30) => pair.unwrap_or_default().to_string(),
            0 => "default".to_string(),
            1 => "profile default".to_string(),
            2 | 3 => format!("profile {name}"),
            4 => {
                g.features.set("a quoted profile name");
                format!("profile \"my {name}\"")
            }
            5 => {
                g.features.set("extra spaces in a section header");
                format!("profile   {name}  ")
            }
            6 => {
                g.features.set("extra spaces in a section header");
                format!("profile\t{name}")
            }
            7 => name.to_string(),
            8 => {
                g.features.set("extra spaces in a section header");
                format!(" {name}")
            }
            9 => format!("sso-session {name}"),
            10 => format!("services {name}"),
            11 => {
                g.features.set("[DEFAULT]");
                "DEFAULT".to_string()
            }
            12 => format!("profile a {name}"),
            13 => format!("Profile {name}"),
            14 => {
                g.features.set("a quoted profile name");
                format!("profile '{name} x'")
            }
            _ => format!("sso-session \"{name} corp\""),
        };
        if used.contains(&header) && !duplicates {
            continue;
        }
        used.push(header.clone());
        // A section header deeper than the open key continues its value, so its keys stay
        // in the section before: keep that section's indentation for them.
        let deep_header_possible = g.open_key.is_some();
        g.header(&header, &base);
        let header_continued = deep_header_possible && g.open_key.is_some();
        if !header_continued {
            base = g.rng.pick(&["", "", "", "  ", "\t", " "]).to_string();
        }
        let mut keys: Vec<&str> = Vec::new();
        for _ in 0..g.rng.below(7) {
            match g.rng.below(100) {
                0..=59 => {
                    let key = KEYS[g.rng.below(KEYS.len())];
                    if keys.contains(&key) && !duplicates {
                        continue;
                    }
                    keys.push(key);
                    // Now and then a key line deeper than the one before: it continues that
                    // value. Not in files with junk lines, where the check is that no key
                    // serves another key's text, and the generator's owners would be wrong.
                    let b = if !junk && g.open_key.is_some() && g.rng.chance(8) {
                        format!("{base}{}", g.deeper())
                    } else {
                        base.clone()
                    };
                    g.item(&b, key);
                }
                60..=74 => {
                    let indent = if g.rng.chance(50) { base.clone() } else { String::new() };
                    g.comment(&indent);
                }
                75..=84 => g.blank(),
                _ if junk => {
                    let tok = g.token("");
                    let text =
                        g.rng.pick(&["just words", "[broken header", "= {t}", "[]", ": {t}"]).replace("{t}", &tok);
                    let indent = if g.rng.chance(50) { base.clone() } else { String::new() };
                    g.line(&format!("{indent}{text}"));
                    g.open_key = None;
                }
                _ => g.blank(),
            }
        }
    }
    if used.iter().any(|h| h == "default") && used.iter().any(|h| h == "profile default") {
        g.features.set("[default] and [profile default]");
    }
    if g.rng.chance(10) {
        // No newline at the end of the file.
        while g.out.ends_with(['\n', '\r']) {
            g.out.pop();
        }
    }
    (g.out, g.features)
}
