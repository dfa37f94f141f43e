//! The AWS CLI's role-credential cache, `~/.aws/cli/cache/<sha1>.json`, shared
//! with botocore's SSO credential provider: what either of us fetched, the
//! other reuses without calling the SSO portal.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::creds::Credentials;
use crate::env::Env;
use crate::expiry;
use crate::fsutil::{self, FsError, SECRET_DIR_MODE, SECRET_FILE_MODE};
use crate::paths::{self, PathError};
use crate::providers::sso::cache::{Ordered, json_problem, python_json};
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum RoleCacheError {
    #[error("role credential cache {path} is unreadable ({detail}); it will be replaced on the next fetch")]
    Corrupt { path: PathBuf, detail: String },
    #[error(transparent)]
    Fs(#[from] FsError),
    #[error(transparent)]
    Path(#[from] PathError),
}

/// What identifies the SSO session in the key: the sso-session name, or the
/// start URL for legacy profiles (botocore's `SSOCredentialFetcher`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionRef<'a> {
    Session(&'a str),
    StartUrl(&'a str),
}

/// sha1 hex of `json.dumps({"accountId","roleName","sessionName"|"startUrl"},
/// sort_keys=True, separators=(",", ":"))`, as botocore computes it.
pub fn cache_key(account_id: &str, role_name: &str, session: SessionRef<'_>) -> String {
    let (k, v) = match session {
        SessionRef::Session(s) => ("sessionName", s),
        SessionRef::StartUrl(u) => ("startUrl", u),
    };
    // Sorted: accountId < roleName < sessionName/startUrl.
    let fields = [
        ("accountId".to_string(), Value::String(account_id.to_string())),
        ("roleName".to_string(), Value::String(role_name.to_string())),
        (k.to_string(), Value::String(v.to_string())),
    ];
    let json = python_json(&fields, true);
    sha1_smol::Sha1::from(json.as_bytes()).digest().to_string()
}

pub fn path(env: &Env, key: &str) -> Result<PathBuf, PathError> {
    Ok(paths::cli_cache_dir(env)?.join(format!("{key}.json")))
}

/// Reads cached role credentials. `Ok(None)` when the file does not exist.
/// A file without the four fields botocore needs is `Corrupt`; callers treat
/// that as a miss, as botocore does, and overwrite it.
pub fn read(path: &Path) -> Result<Option<Credentials>, RoleCacheError> {
    let Some(text) = fsutil::read_optional(path)? else {
        return Ok(None);
    };
    let corrupt = |detail: &str| RoleCacheError::Corrupt { path: path.to_path_buf(), detail: detail.to_string() };
    let Ordered(top) = serde_json::from_str::<Ordered>(&text).map_err(|e| corrupt(json_problem(&e)))?;
    let Some((_, Value::Object(c))) = top.iter().find(|(k, _)| k == "Credentials") else {
        return Err(corrupt("no \"Credentials\" object"));
    };
    let field = |k: &str| c.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    let (Some(id), Some(secret), Some(token), Some(exp)) =
        (field("AccessKeyId"), field("SecretAccessKey"), field("SessionToken"), field("Expiration"))
    else {
        return Err(corrupt("AccessKeyId, SecretAccessKey, SessionToken or Expiration missing"));
    };
    let expiration = expiry::parse(exp).map_err(|_| corrupt("\"Expiration\" is not a timestamp"))?;
    Ok(Some(Credentials {
        access_key_id: id.to_string(),
        secret_access_key: Secret::new(secret),
        session_token: Some(Secret::new(token)),
        expiration: Some(expiration),
    }))
}

/// The file content botocore writes: `{"ProviderType": "sso", "Credentials":
/// {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "AccountId"}}`.
pub fn to_json(creds: &Credentials, account_id: &str) -> String {
    let credentials = [
        ("AccessKeyId", creds.access_key_id.clone()),
        ("SecretAccessKey", creds.secret_access_key.expose().to_string()),
        ("SessionToken", creds.session_token.as_ref().map(|t| t.expose().to_string()).unwrap_or_default()),
        ("Expiration", creds.expiration.map(expiry::to_iso8601).unwrap_or_default()),
        ("AccountId", account_id.to_string()),
    ];
    // Nested objects would be written sorted by serde_json's map; build the
    // inner object in botocore's order by hand.
    let inner = python_json(
        &credentials.iter().map(|(k, v)| (k.to_string(), Value::String(v.clone()))).collect::<Vec<_>>(),
        false,
    );
    format!("{{\"ProviderType\": \"sso\", \"Credentials\": {inner}}}")
}

/// Writes role credentials atomically (0600; the directory 0700 if we create it).
pub fn write(path: &Path, creds: &Credentials, account_id: &str) -> Result<(), RoleCacheError> {
    if let Some(dir) = path.parent() {
        fsutil::ensure_dir(dir, SECRET_DIR_MODE)?;
    }
    fsutil::write_atomic(path, to_json(creds, account_id).as_bytes(), Some(SECRET_FILE_MODE))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn keys_match_botocore() {
        // python3 -c 'import json,hashlib; print(hashlib.sha1(json.dumps({"roleName":"Admin",
        //   "accountId":"123456789012","sessionName":"corp"},sort_keys=True,separators=(",",":")).encode()).hexdigest())'
        assert_eq!(
            cache_key("123456789012", "Admin", SessionRef::Session("corp")),
            sha1_smol::Sha1::from(r#"{"accountId":"123456789012","roleName":"Admin","sessionName":"corp"}"#)
                .digest()
                .to_string()
        );
        assert_eq!(
            cache_key("1", "R", SessionRef::StartUrl("https://x/start")),
            sha1_smol::Sha1::from(r#"{"accountId":"1","roleName":"R","startUrl":"https://x/start"}"#)
                .digest()
                .to_string()
        );
    }

    #[test]
    fn round_trip_in_botocore_layout() {
        let c = Credentials {
            access_key_id: "ASIA1".into(),
            secret_access_key: Secret::new("SK"),
            session_token: Some(Secret::new("ST")),
            expiration: Some(datetime!(2026-11-22 12:00:00 UTC)),
        };
        assert_eq!(
            to_json(&c, "123"),
            r#"{"ProviderType": "sso", "Credentials": {"AccessKeyId": "ASIA1", "SecretAccessKey": "SK", "SessionToken": "ST", "Expiration": "2026-11-22T12:00:00Z", "AccountId": "123"}}"#
        );
        let dir = std::env::temp_dir().join(format!("kc-role-cache-{}", std::process::id()));
        let p = dir.join("cli/cache/k.json");
        write(&p, &c, "123").unwrap();
        let back = read(&p).unwrap().unwrap();
        assert_eq!(back.access_key_id, "ASIA1");
        assert_eq!(back.expiration, c.expiration);
        std::fs::write(&p, "{\"Credentials\": {\"AccessKeyId\": \"SECRETX\"}}").unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(!e.contains("SECRETX"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
