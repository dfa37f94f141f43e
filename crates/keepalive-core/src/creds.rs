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
            out.expiry_warning = Some(format!("configured expirationField \"{f}\" is not in this profile"));
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
            Err(e) => out.expiry_warning = Some(format!("\"{f}\": {e}")),
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
