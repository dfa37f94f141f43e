//! botocore's SSO token cache, `~/.aws/sso/cache/<sha1>.json`: reading every
//! variant the AWS tools write, and writing it back the way botocore does, so
//! botocore and the AWS CLI take our refreshed token without refreshing again.
//!
//! The file holds the refresh token and the client secret: it is written with
//! mode 0600, never blindly replaced when unreadable, and never shown. A refresh
//! prepares its write before the call ([`SsoToken::prepare_write`]); where that
//! write lands when the file cannot take it is `providers::worker`'s business.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;
use time::OffsetDateTime;

use crate::env::Env;
use crate::expiry;
use crate::fsutil::{self, FsError, PreparedWrite, SECRET_DIR_MODE, SECRET_FILE_MODE};
use crate::paths::{self, PathError};
use crate::providers::worker::Stashable;
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum SsoCacheError {
    #[error("SSO token cache {path} is unreadable ({detail}); it was left untouched")]
    Corrupt { path: PathBuf, detail: String },
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Path(#[from] PathError),
}

/// The cache key botocore uses: sha1 hex of the sso-session name, or of the
/// start URL for legacy profiles.
pub fn cache_key(session_or_start_url: &str) -> String {
    sha1_smol::Sha1::from(session_or_start_url).digest().to_string()
}

/// `~/.aws/sso/cache/<sha1 of session name or start URL>.json`.
pub fn token_path(env: &Env, session_or_start_url: &str) -> Result<PathBuf, PathError> {
    Ok(paths::sso_cache_dir(env)?.join(format!("{}.json", cache_key(session_or_start_url))))
}

/// Field names as botocore and the AWS CLI write them.
pub mod keys {
    pub const START_URL: &str = "startUrl";
    pub const REGION: &str = "region";
    pub const ACCESS_TOKEN: &str = "accessToken";
    pub const EXPIRES_AT: &str = "expiresAt";
    pub const CLIENT_ID: &str = "clientId";
    pub const CLIENT_SECRET: &str = "clientSecret";
    pub const REGISTRATION_EXPIRES_AT: &str = "registrationExpiresAt";
    pub const REFRESH_TOKEN: &str = "refreshToken";
}

/// One token cache file as read. Every field is kept, known or not, in its
/// order, so a write-back changes only what a refresh changes.
#[derive(Clone)]
pub struct SsoToken {
    pub path: PathBuf,
    pub start_url: Option<String>,
    pub region: Option<String>,
    pub access_token: Option<Secret>,
    pub expires_at: Option<OffsetDateTime>,
    pub client_id: Option<String>,
    pub client_secret: Option<Secret>,
    pub registration_expires_at: Option<OffsetDateTime>,
    pub refresh_token: Option<Secret>,
    fields: Vec<(String, Value)>,
}

impl fmt::Debug for SsoToken {
    /// Unknown fields may be secrets too: only their names are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SsoToken")
            .field("path", &self.path)
            .field("start_url", &self.start_url)
            .field("region", &self.region)
            .field("access_token", &self.access_token)
            .field("expires_at", &self.expires_at)
            .field("client_id", &self.client_id.as_ref().map(|_| "…"))
            .field("client_secret", &self.client_secret)
            .field("registration_expires_at", &self.registration_expires_at)
            .field("refresh_token", &self.refresh_token)
            .field("fields", &self.fields.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>())
            .finish()
    }
}

impl SsoToken {
    /// The access token, when present and not yet expired at `now`.
    pub fn valid_access_token(&self, now: OffsetDateTime) -> Option<&Secret> {
        match (&self.access_token, self.expires_at) {
            (Some(t), Some(exp)) if exp > now && !t.is_empty() => Some(t),
            _ => None,
        }
    }

    /// Whether CreateToken can be tried: a refresh token, the client
    /// registration, and a registration that has not expired (botocore's rule).
    pub fn can_refresh(&self, now: OffsetDateTime) -> bool {
        self.refresh_token.as_ref().is_some_and(|t| !t.is_empty())
            && self.client_id.as_ref().is_some_and(|c| !c.is_empty())
            && self.client_secret.as_ref().is_some_and(|c| !c.is_empty())
            && self.registration_expires_at.is_some_and(|r| r > now)
    }

    /// Records a successful CreateToken: new access token and expiry, the
    /// rotated refresh token when one came back. `startUrl`/`region` are
    /// filled in only when missing, as botocore always writes them.
    pub fn set_refreshed(
        &mut self,
        access_token: Secret,
        expires_at: OffsetDateTime,
        refresh_token: Option<Secret>,
        start_url: &str,
        region: &str,
    ) {
        if self.start_url.is_none() {
            self.set(keys::START_URL, Value::String(start_url.to_string()));
            self.start_url = Some(start_url.to_string());
        }
        if self.region.is_none() {
            self.set(keys::REGION, Value::String(region.to_string()));
            self.region = Some(region.to_string());
        }
        self.set(keys::ACCESS_TOKEN, Value::String(access_token.expose().to_string()));
        self.access_token = Some(access_token);
        self.set(keys::EXPIRES_AT, Value::String(expiry::to_iso8601(expires_at)));
        self.expires_at = Some(expires_at);
        if let Some(rt) = refresh_token {
            self.set(keys::REFRESH_TOKEN, Value::String(rt.expose().to_string()));
            self.refresh_token = Some(rt);
        }
    }

    fn set(&mut self, key: &str, value: Value) {
        match self.fields.iter_mut().find(|(k, _)| k == key) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((key.to_string(), value)),
        }
    }

    /// The file's content in botocore's layout: `json.dumps` separators
    /// (`", "`, `": "`), ASCII only, one line.
    pub fn to_json(&self) -> String {
        python_json(&self.fields, false)
    }

    /// Writes the token back atomically with mode 0600, creating the cache
    /// directory (0700) if needed.
    pub fn write(&self) -> Result<(), SsoCacheError> {
        if let Some(dir) = self.path.parent() {
            fsutil::ensure_dir(dir, SECRET_DIR_MODE)?;
        }
        fsutil::write_atomic(&self.path, self.to_json().as_bytes(), Some(SECRET_FILE_MODE))?;
        Ok(())
    }

    /// The write of this token's successor, prepared before a refresh spends the refresh
    /// token: the temp file (0600) exists next to the cache file, filled to twice today's
    /// size (8 KiB at least), so a new token longer than the old one still fits.
    pub fn prepare_write(&self) -> Result<PreparedWrite, FsError> {
        if let Some(dir) = self.path.parent() {
            fsutil::ensure_dir(dir, SECRET_DIR_MODE)?;
        }
        fsutil::prepare_write(&self.path, reserve_for(self.to_json().len()), Some(SECRET_FILE_MODE))
    }
}

/// Room reserved for a refreshed token cache file whose current content is `len` bytes.
pub fn reserve_for(len: usize) -> usize {
    len.saturating_mul(2).max(8192)
}

impl Stashable for SsoToken {
    fn expires_at(&self) -> Option<OffsetDateTime> {
        self.expires_at
    }

    fn write_back(&self) -> Result<(), String> {
        self.write().map_err(|e| e.to_string())
    }
}

/// Reads a token cache file. `Ok(None)` when it does not exist; an empty,
/// cut-off or non-JSON file, or one whose timestamps cannot be read, is an
/// error (the caller must not overwrite it with nothing).
pub fn read(path: &Path) -> Result<Option<SsoToken>, SsoCacheError> {
    // A file that refuses renames (bind-mounted) is rewritten in place, so a read can
    // catch a mix of two versions for a moment: a cut-off file is read again, briefly.
    let mut tries = CORRUPT_RETRIES;
    loop {
        let Some(text) = fsutil::read_optional(path)? else {
            return Ok(None);
        };
        match parse(&text, path) {
            Err(SsoCacheError::Corrupt { .. }) if tries > 0 => {
                tries -= 1;
                std::thread::sleep(CORRUPT_PAUSE);
            }
            result => return result.map(Some),
        }
    }
}

/// How often, and how far apart, an unreadable cache file is read again (an in-place
/// rewrite takes one `write` call).
pub const CORRUPT_RETRIES: u32 = 2;
pub const CORRUPT_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

pub fn parse(text: &str, path: &Path) -> Result<SsoToken, SsoCacheError> {
    let corrupt = |detail: &str| SsoCacheError::Corrupt { path: path.to_path_buf(), detail: detail.to_string() };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(corrupt("the file is empty"));
    }
    let Ordered(fields) = serde_json::from_str::<Ordered>(text).map_err(|e| corrupt(json_problem(&e)))?;
    let get_str = |key: &str| -> Result<Option<String>, SsoCacheError> {
        match fields.iter().find(|(k, _)| k == key).map(|(_, v)| v) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(corrupt(&format!("\"{key}\" is not a string"))),
        }
    };
    let get_time = |key: &str| -> Result<Option<OffsetDateTime>, SsoCacheError> {
        match fields.iter().find(|(k, _)| k == key).map(|(_, v)| v) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => {
                expiry::parse(s).map(Some).map_err(|_| corrupt(&format!("\"{key}\" is not a timestamp")))
            }
            Some(Value::Number(n)) => {
                expiry::parse(&n.to_string()).map(Some).map_err(|_| corrupt(&format!("\"{key}\" is not a timestamp")))
            }
            Some(_) => Err(corrupt(&format!("\"{key}\" is not a timestamp"))),
        }
    };
    Ok(SsoToken {
        path: path.to_path_buf(),
        start_url: get_str(keys::START_URL)?,
        region: get_str(keys::REGION)?,
        access_token: get_str(keys::ACCESS_TOKEN)?.map(Secret::new),
        expires_at: get_time(keys::EXPIRES_AT)?,
        client_id: get_str(keys::CLIENT_ID)?,
        client_secret: get_str(keys::CLIENT_SECRET)?.map(Secret::new),
        registration_expires_at: get_time(keys::REGISTRATION_EXPIRES_AT)?,
        refresh_token: get_str(keys::REFRESH_TOKEN)?.map(Secret::new),
        fields,
    })
}

/// serde_json's messages can quote the input (a token): keep only the kind.
pub(crate) fn json_problem(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Eof => "the JSON is cut short",
        serde_json::error::Category::Syntax => "not valid JSON",
        serde_json::error::Category::Data => "not a JSON object",
        serde_json::error::Category::Io => "read error",
    }
}

/// A JSON object with its keys in file order (serde_json's map sorts them).
/// A repeated key keeps its first position and its last value, as Python's
/// `json.load` does.
pub(crate) struct Ordered(pub Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ordered, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut out: Vec<(String, Value)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, Value>()? {
                    match out.iter_mut().find(|(key, _)| *key == k) {
                        Some(slot) => slot.1 = v,
                        None => out.push((k, v)),
                    }
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// JSON exactly as Python's `json.dumps` writes it: `ensure_ascii`, and
/// separators `", "`/`": "` (or `","`/`":"` when `compact`, as botocore
/// hashes its role-credential cache keys).
pub fn python_json(fields: &[(String, Value)], compact: bool) -> String {
    let mut out = String::new();
    write_object(fields.iter().map(|(k, v)| (k.as_str(), v)), compact, &mut out);
    out
}

fn write_object<'a>(entries: impl Iterator<Item = (&'a str, &'a Value)>, compact: bool, out: &mut String) {
    out.push('{');
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            out.push_str(if compact { "," } else { ", " });
        }
        write_str(k, out);
        out.push_str(if compact { ":" } else { ": " });
        write_value(v, compact, out);
    }
    out.push('}');
}

fn write_value(v: &Value, compact: bool, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(if compact { "," } else { ", " });
                }
                write_value(item, compact, out);
            }
            out.push(']');
        }
        Value::Object(map) => write_object(map.iter().map(|(k, v)| (k.as_str(), v)), compact, out),
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_ascii() && !c.is_ascii_control() => out.push(c),
            c => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn keys_match_botocore() {
        // hashlib.sha1(b"my-sso").hexdigest()
        assert_eq!(cache_key("my-sso"), "0ad374308c5a4e22f723adf10145eafad7c4031c");
        assert_eq!(cache_key("abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }

    #[test]
    fn python_layout() {
        let fields = vec![
            ("startUrl".to_string(), Value::String("https://x/start".into())),
            ("n".to_string(), serde_json::json!([1, {"b": true, "a": null}])),
            ("u".to_string(), Value::String("é\u{1F600}\"\\\n\u{1}".into())),
        ];
        assert_eq!(
            python_json(&fields, false),
            r#"{"startUrl": "https://x/start", "n": [1, {"a": null, "b": true}], "u": "\u00e9\ud83d\ude00\"\\\n\u0001"}"#
        );
        assert_eq!(python_json(&fields[..1], true), r#"{"startUrl":"https://x/start"}"#);
    }

    #[test]
    fn reads_all_timestamp_forms_and_keeps_order_and_unknowns() {
        let p = Path::new("/c/x.json");
        for (raw, want) in [
            ("2026-11-22T12:00:00Z", datetime!(2026-11-22 12:00:00 UTC)),
            ("2026-11-22T12:00:00+00:00", datetime!(2026-11-22 12:00:00 UTC)),
            ("2026-11-22T12:00:00UTC", datetime!(2026-11-22 12:00:00 UTC)),
        ] {
            let text = format!(r#"{{"zeta": 1, "accessToken": "AT", "expiresAt": "{raw}", "alpha": {{"k": "v"}}}}"#);
            let mut t = parse(&text, p).unwrap();
            assert_eq!(t.expires_at, Some(want), "{raw}");
            t.set_refreshed(Secret::new("NEW"), datetime!(2026-11-22 13:00:00 UTC), Some(Secret::new("RT2")), "u", "r");
            assert_eq!(
                t.to_json(),
                r#"{"zeta": 1, "accessToken": "NEW", "expiresAt": "2026-11-22T13:00:00Z", "alpha": {"k": "v"}, "startUrl": "u", "region": "r", "refreshToken": "RT2"}"#
            );
        }
    }

    #[test]
    fn corrupt_files_are_errors_that_quote_nothing() {
        let p = Path::new("/c/x.json");
        for bad in [
            "",
            "  \n",
            "{\"accessToken\": \"SECRETTOKEN",
            "SECRETTOKEN",
            "[\"SECRETTOKEN\"]",
            "\"SECRETTOKEN\"",
            "{\"accessToken\": 5}",
            "{\"expiresAt\": \"SECRETTOKEN\"}",
            "\0\0\0",
        ] {
            let e = parse(bad, p).unwrap_err().to_string();
            assert!(e.contains("/c/x.json") && !e.contains("SECRETTOKEN") && !e.contains('\n'), "{bad:?}: {e}");
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let t = parse(
            r#"{"accessToken":"S1","clientSecret":"S2","refreshToken":"S3","clientId":"S4","other":"S5"}"#,
            Path::new("/x"),
        )
        .unwrap();
        let d = format!("{t:?}");
        for s in ["S1", "S2", "S3", "S4", "S5"] {
            assert!(!d.contains(&format!("\"{s}\"")), "{d}");
        }
    }
}
