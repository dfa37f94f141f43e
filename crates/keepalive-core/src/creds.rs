//! AWS credentials: the shape Claude Code's `awsCredentialExport` reads, and
//! extraction from a credentials-file profile with its expiry.

use time::{Duration, OffsetDateTime};

use crate::aws_files::Section;
use crate::expiry;
use crate::secret::Secret;

#[derive(Debug, Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
    pub expiration: Option<OffsetDateTime>,
}

impl Credentials {
    /// `{"Credentials":{"AccessKeyId",…,"Expiration"}}` for `awsCredentialExport`.
    /// `SessionToken` is left out for long-term keys; `Expiration` when unknown.
    pub fn export_json(&self) -> String {
        let mut inner = serde_json::Map::new();
        inner.insert("AccessKeyId".into(), self.access_key_id.clone().into());
        inner.insert("SecretAccessKey".into(), self.secret_access_key.expose().into());
        if let Some(t) = &self.session_token {
            inner.insert("SessionToken".into(), t.expose().into());
        }
        if let Some(e) = self.expiration {
            inner.insert("Expiration".into(), expiry::to_iso8601(e).into());
        }
        let mut outer = serde_json::Map::new();
        outer.insert("Credentials".into(), serde_json::Value::Object(inner));
        serde_json::Value::Object(outer).to_string()
    }

    /// Time left, `None` when the expiry is unknown.
    pub fn remaining(&self, now: OffsetDateTime) -> Option<Duration> {
        self.expiration.map(|e| e - now)
    }
}

/// Expiry keys written by the common credential-file providers, most specific first.
pub const EXPIRY_FIELDS: &[&str] = &[
    "x_security_token_expires",   // saml2aws, gimme-aws-creds, aws-google-auth
    "aws_expiration",             // aws-vault exports, various CLIs
    "aws_session_expiration",     // aws-sso-util, others
    "awsmyid_session_expiration", // awsmyid
    "aws_credential_expiration",
    "aws_session_token_expiration",
    "expiration",
    "expires",
    "expiry",
];

/// Keys whose values are secrets; no message shows them.
const SECRET_FIELDS: &[&str] = &["aws_secret_access_key", "aws_session_token", "aws_security_token"];

/// What a credentials-file profile holds.
#[derive(Debug, Clone, Default)]
pub struct FileProfile {
    pub creds: Option<Credentials>,
    /// The field the expiry came from.
    pub expiry_field: Option<String>,
    /// A problem with the expiry (unparsable value, configured field missing).
    pub expiry_warning: Option<String>,
}

/// Extracts keys and expiry from a credentials-file section. `expiration_field`
/// empty means: try [`EXPIRY_FIELDS`], then any key containing "expir".
pub fn from_section(section: &Section, expiration_field: &str) -> FileProfile {
    let get = |k: &str| section.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    let mut out = FileProfile::default();
    let field = if !expiration_field.is_empty() {
        let f = expiration_field.to_ascii_lowercase();
        if get(&f).is_none() {
            out.expiry_warning = Some(format!("configured expirationField {f:?} is not in this profile"));
        }
        Some(f)
    } else {
        EXPIRY_FIELDS
            .iter()
            .map(|f| f.to_string())
            .find(|f| get(f).is_some())
            .or_else(|| section.keys().find(|k| k.contains("expir") && get(k).is_some()).cloned())
    };
    let mut expiration = None;
    if let Some(f) = field.as_deref()
        && let Some(v) = get(f)
    {
        match expiry::parse(v) {
            Ok(t) => {
                expiration = Some(t);
                out.expiry_field = Some(f.to_string());
            }
            // expirationField can name a secret key by mistake: its value is never quoted.
            Err(_) if SECRET_FIELDS.contains(&f) => {
                out.expiry_warning =
                    Some(format!("{f:?} holds a secret, not an expiry; set expirationField to the key with the expiry"))
            }
            // `{f:?}`: a key can hold line breaks (a line without `=` joins the next key).
            Err(e) => out.expiry_warning = Some(format!("{f:?}: {e}")),
        }
    }
    if let (Some(id), Some(secret)) = (get("aws_access_key_id"), get("aws_secret_access_key")) {
        out.creds = Some(Credentials {
            access_key_id: id.to_string(),
            secret_access_key: Secret::new(secret),
            session_token: get("aws_session_token").or_else(|| get("aws_security_token")).map(Secret::new),
            expiration,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn section(pairs: &[(&str, &str)]) -> Section {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn export_json_shape() {
        let c = Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: Secret::new("SEC"),
            session_token: Some(Secret::new("TOK")),
            expiration: Some(datetime!(2026-11-22 12:00:00 UTC)),
        };
        let v: serde_json::Value = serde_json::from_str(&c.export_json()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"Credentials":{"AccessKeyId":"AKID","SecretAccessKey":"SEC","SessionToken":"TOK","Expiration":"2026-11-22T12:00:00Z"}})
        );
        let long_term = Credentials { session_token: None, expiration: None, ..c };
        let v: serde_json::Value = serde_json::from_str(&long_term.export_json()).unwrap();
        assert_eq!(v, serde_json::json!({"Credentials":{"AccessKeyId":"AKID","SecretAccessKey":"SEC"}}));
    }

    #[test]
    fn detects_each_providers_expiry_field() {
        for field in EXPIRY_FIELDS.iter().chain(["my_custom_expiry_time"].iter()) {
            let s = section(&[
                ("aws_access_key_id", "A"),
                ("aws_secret_access_key", "S"),
                ("aws_session_token", "T"),
                (field, "2026-11-22T12:00:00Z"),
            ]);
            let p = from_section(&s, "");
            assert_eq!(p.creds.unwrap().expiration, Some(datetime!(2026-11-22 12:00:00 UTC)), "{field}");
        }
    }

    #[test]
    fn configured_field_wins_and_missing_field_warns() {
        let s = section(&[
            ("aws_access_key_id", "A"),
            ("aws_secret_access_key", "S"),
            ("expiration", "2026-11-22T12:00:00Z"),
            ("custom_until", "1795352400"),
        ]);
        let p = from_section(&s, "Custom_Until");
        assert_eq!(p.creds.unwrap().expiration, Some(datetime!(2026-11-22 13:00:00 UTC)));
        let p = from_section(&s, "nope");
        assert!(p.creds.unwrap().expiration.is_none());
        assert!(p.expiry_warning.unwrap().contains("nope"));
    }

    /// Found by `cargo xtask fuzz aws_ini` (the gimme-aws-creds seed with expirationField set to
    /// a secret key): the warning quoted the secret as an "unrecognised timestamp".
    #[test]
    fn fuzz_regression_expiration_field_naming_a_secret_never_quotes_it() {
        let s = section(&[
            ("aws_access_key_id", "ASIAIOSFODNN7EXAMPLE"),
            ("aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
            ("aws_session_token", "IQoJb3JpZ2luX2VjEXAMPLEtoken="),
            ("aws_security_token", "IQoJb3JpZ2luX2VjEXAMPLEtoken="),
            ("x_security_token_expires", "2026-11-22 12:00:00+00:00"),
        ]);
        for field in ["aws_secret_access_key", "AWS_SESSION_TOKEN", "aws_security_token"] {
            let p = from_section(&s, field);
            let w = p.expiry_warning.unwrap();
            assert!(!w.contains("wJalrXUtnFEMI") && !w.contains("IQoJb3JpZ2lu"), "{w}");
            assert!(w.contains(&field.to_ascii_lowercase()), "{w}");
            assert!(p.creds.unwrap().expiration.is_none());
        }
    }

    /// Found by `cargo xtask fuzz aws_ini` (the gimme-aws-creds seed with its `; aws-vault style`
    /// comment garbled): a line without `=` becomes part of the next key, line breaks included,
    /// and a warning naming that key was several lines.
    #[test]
    fn fuzz_regression_warnings_naming_keys_with_line_breaks_are_one_line() {
        let text = "[dev-admin]\r\naws_access_key_id = ASIAIOSFODNN7EXAMPLE\r\n\
                    aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\r\n\r\n\
                    \u{fffd}\u{fffd}-vault style\r\n[vault]\r\nAWS_ACCESS_KEY_ID=ASIAEXAMPLE2\r\n\
                    [p]\nnot a key\nexpiration = soon\n";
        let doc = crate::aws_files::IniDoc::parse(text, std::path::Path::new("/f")).unwrap();
        let mut warnings = 0;
        for name in doc.section_names() {
            let s = doc.section(name).unwrap();
            for field in std::iter::once("").chain(s.keys().map(String::as_str)).chain(["a\nb"]) {
                if let Some(w) = from_section(s, field).expiry_warning {
                    assert!(!w.contains(['\n', '\r']), "{w:?}");
                    warnings += 1;
                }
            }
        }
        assert!(warnings >= 3, "{warnings}");
    }

    #[test]
    fn bad_expiry_is_a_warning_and_missing_keys_mean_no_creds() {
        let s = section(&[
            ("aws_access_key_id", "A"),
            ("aws_secret_access_key", "S"),
            ("x_security_token_expires", "soon"),
        ]);
        let p = from_section(&s, "");
        assert!(p.creds.unwrap().expiration.is_none());
        assert!(p.expiry_warning.unwrap().contains("soon"));
        let p = from_section(&section(&[("aws_access_key_id", "A"), ("aws_secret_access_key", " ")]), "");
        assert!(p.creds.is_none());
    }
}
