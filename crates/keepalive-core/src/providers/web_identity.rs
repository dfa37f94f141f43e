//! Web identity (`web_identity_token_file` + `role_arn`, or `AWS_WEB_IDENTITY_TOKEN_FILE`):
//! the token file read with a size bound, `AssumeRoleWithWebIdentity`, and the AWS CLI's cache.
//!
//! Caching, as read in botocore 1.43 and awscli: botocore's `AssumeRoleWithWebIdentityProvider`
//! keeps credentials in memory unless given a cache, and the AWS CLI gives it the same
//! `JSONFileCache` on `~/.aws/cli/cache` as the assume-role provider
//! (`awscli/customizations/assumerole.py`). The key follows the assume-role rule with
//! botocore's web-identity arguments: `RoleArn` and, when configured, `RoleSessionName` (botocore
//! never sends `DurationSeconds` for web identity, so it is never part of the key).

use std::io::Read;
use std::path::PathBuf;

use serde_json::Value;

use crate::creds::Credentials;
use crate::ctx::Ctx;
use crate::env::Env;
use crate::expiry;
use crate::log::{self, Level};
use crate::paths::{self, PathError};
use crate::providers::WebIdentity;
use crate::providers::assume_role::{generated_session_name, key_of, read_cache, write_cache};
use crate::providers::sts::{self, StsError, WebIdentityParams};
use crate::secret::Secret;

/// STS takes tokens of up to 20,000 characters; a file much larger holds something else.
pub const MAX_TOKEN_BYTES: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum WebIdentityError {
    #[error(
        "cannot read the web identity token file {} of profile \"{profile}\": {detail}; check web_identity_token_file (or AWS_WEB_IDENTITY_TOKEN_FILE) and that whatever writes the token is running",
        path.display()
    )]
    TokenFile { profile: String, path: PathBuf, detail: String },
    #[error(
        "the web identity token file {} of profile \"{profile}\" is {problem}; it must hold only the token (a JWT) that whatever writes web_identity_token_file provides",
        path.display()
    )]
    BadToken { profile: String, path: PathBuf, problem: &'static str },
    #[error(transparent)]
    Sts(#[from] StsError),
}

/// botocore's key: sha1 hex of `json.dumps({"RoleArn": …[, "RoleSessionName": …]}, sort_keys=True)`.
pub fn cache_key(w: &WebIdentity) -> String {
    let mut args: Vec<(String, Value)> = vec![("RoleArn".into(), Value::String(w.role_arn.clone()))];
    if let Some(n) = w.session_name.as_deref().filter(|n| !n.is_empty()) {
        args.push(("RoleSessionName".into(), Value::String(n.to_string())));
    }
    key_of(args)
}

/// `~/.aws/cli/cache/<key>.json`.
pub fn cache_path(env: &Env, w: &WebIdentity) -> Result<PathBuf, PathError> {
    Ok(paths::cli_cache_dir(env)?.join(format!("{}.json", cache_key(w))))
}

/// Whatever the cache holds, however little time it has left; missing or unusable: `None`.
pub fn cached(ctx: &Ctx, w: &WebIdentity) -> Option<Credentials> {
    match cache_path(&ctx.env, w) {
        Ok(path) => read_cache(ctx, &path, "web-identity"),
        Err(e) => {
            log::write(ctx, Level::Warn, "web-identity", &e.to_string());
            None
        }
    }
}

/// Reads the token and exchanges it for role credentials, cached for the AWS CLI too.
/// `duration_seconds`, when the resolver found one, is sent (botocore ignores it for web
/// identity; other SDKs honour it) but, as for botocore, is not part of the cache key.
pub fn assume(ctx: &Ctx, w: &WebIdentity) -> Result<Credentials, WebIdentityError> {
    let token = read_token(w)?;
    let session_name = match w.session_name.as_deref().filter(|n| !n.is_empty()) {
        Some(n) => n.to_string(),
        None => generated_session_name(ctx),
    };
    let params = WebIdentityParams {
        profile: &w.profile,
        role_arn: &w.role_arn,
        session_name: &session_name,
        duration_seconds: w.duration_seconds,
        region: w.region.as_deref(),
        token_file: &w.token_file,
    };
    let assumed = sts::assume_role_with_web_identity(ctx, &params, &token)?;
    match cache_path(&ctx.env, w) {
        Ok(path) => write_cache(ctx, &path, &assumed, "web-identity"),
        Err(e) => log::write(ctx, Level::Warn, "web-identity", &format!("cannot cache the role credentials: {e}")),
    }
    log::write(
        ctx,
        Level::Info,
        "web-identity",
        &format!(
            "assumed {} with the web identity token of profile {} ({}), valid until {}",
            w.role_arn,
            w.profile,
            assumed.credentials.access_key_id,
            assumed.credentials.expiration.map(expiry::to_iso8601).unwrap_or_default()
        ),
    );
    Ok(assumed.credentials)
}

/// The token, trimmed (a JWT has no whitespace; a trailing newline from `echo` would otherwise
/// be sent). Errors name the file, never its content.
fn read_token(w: &WebIdentity) -> Result<Secret, WebIdentityError> {
    let path = &w.token_file;
    let file_err =
        |detail: String| WebIdentityError::TokenFile { profile: w.profile.clone(), path: path.clone(), detail };
    let bad = |problem| WebIdentityError::BadToken { profile: w.profile.clone(), path: path.clone(), problem };
    let file = std::fs::File::open(path).map_err(|e| {
        file_err(if e.kind() == std::io::ErrorKind::NotFound {
            "the file does not exist".into()
        } else {
            e.to_string()
        })
    })?;
    let mut buf = Vec::new();
    file.take(MAX_TOKEN_BYTES + 1).read_to_end(&mut buf).map_err(|e| file_err(e.to_string()))?;
    if buf.len() as u64 > MAX_TOKEN_BYTES {
        return Err(bad("larger than 64 KiB"));
    }
    let text = String::from_utf8(buf).map_err(|_| bad("not text"))?;
    let token = text.trim();
    if token.is_empty() {
        return Err(bad("empty"));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("more than one word"));
    }
    Ok(Secret::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn w(token_file: PathBuf) -> WebIdentity {
        WebIdentity {
            profile: "eks".into(),
            role_arn: "arn:aws:iam::111122223333:role/KalBedrock".into(),
            token_file,
            session_name: None,
            duration_seconds: Some(7200),
            region: Some("eu-west-1".into()),
        }
    }

    #[test]
    fn key_follows_botocore() {
        let mut x = w(PathBuf::from("/t"));
        // Same args as the assume-role example, so the same key; duration is not part of it.
        assert_eq!(cache_key(&x), "f80c9ecace670741c5910425d552bb9dee3fd8fb");
        x.session_name = Some("pod".into());
        assert_eq!(
            cache_key(&x),
            sha1_smol::Sha1::from(
                r#"{"RoleArn": "arn:aws:iam::111122223333:role/KalBedrock", "RoleSessionName": "pod"}"#
            )
            .digest()
            .to_string()
        );
    }

    #[test]
    fn token_file_errors_name_the_file_never_the_token() {
        let dir = std::env::temp_dir().join(format!("kc-web-identity-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ctx = Ctx::new(Env::default(), datetime!(2026-11-27 11:00:00 UTC));
        let cases: [(&str, &[u8], &str); 4] = [
            ("empty", b" \n", "is empty"),
            ("binary", b"\xff\xfe", "not text"),
            ("two", b"eyJSECRETPART one two", "more than one word"),
            ("big", &[b'a'; 70 * 1024], "larger than 64 KiB"),
        ];
        for (name, content, expected) in cases {
            let p = dir.join(name);
            std::fs::write(&p, content).unwrap();
            let e = assume(&ctx, &w(p.clone())).unwrap_err().to_string();
            assert!(e.contains(expected) && e.contains(p.to_str().unwrap()) && !e.contains("SECRETPART"), "{e}");
        }
        let missing = dir.join("missing");
        let e = assume(&ctx, &w(missing.clone())).unwrap_err().to_string();
        assert!(e.contains("does not exist") && e.contains(missing.to_str().unwrap()), "{e}");
        let ok = dir.join("ok");
        std::fs::write(&ok, "eyJhbGciOi.payload.sig\n").unwrap();
        assert_eq!(read_token(&w(ok)).unwrap().expose(), "eyJhbGciOi.payload.sig");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
