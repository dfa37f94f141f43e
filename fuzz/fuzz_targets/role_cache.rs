//! The AWS CLI's role-credential cache: `role_cache::read` on arbitrary file bytes (it only
//! reads from a path, so each input goes through a scratch file), then `to_json` + `read`.
//!
//! Invariants: no panic; an error is one line naming the file and quoting nothing from it;
//! accepted credentials are exactly the four non-empty fields of the `Credentials` object;
//! what we write for them reads back as the same credentials (expiry to the second).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use keepalive_core::expiry;
use keepalive_core::providers::sso::role_cache;
use keepalive_fuzz::{assert_no_secret, assert_one_line};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// This process's scratch file (the reader only takes a path); removed after each input.
fn scratch() -> &'static PathBuf {
    static FILE: OnceLock<PathBuf> = OnceLock::new();
    FILE.get_or_init(|| {
        // tmpfs when there is one: this target writes a file per input.
        let base = std::path::Path::new("/dev/shm");
        let base = if base.is_dir() { base.to_path_buf() } else { std::env::temp_dir() };
        let dir = base.join("keepalive-fuzz-role-cache");
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(format!("{}.json", std::process::id()))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = scratch();
    std::fs::write(path, data).unwrap();
    let shown = path.display().to_string();
    let result = role_cache::read(path);
    let text = String::from_utf8_lossy(data);
    let _ = std::fs::remove_file(path);
    match result {
        Err(e) => {
            let m = e.to_string();
            assert_one_line("error", &m);
            assert!(m.contains(&shown), "error does not name the file: {m}");
            assert_no_secret("error", &m, [text.as_ref()], &[&shown]);
        }
        Ok(None) => panic!("an existing file read as missing"),
        Ok(Some(c)) => {
            let doc: Value = serde_json::from_str(&text).expect("read accepted text serde_json rejects");
            let inner = &doc["Credentials"];
            let field = |k: &str| inner.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
            assert_eq!(c.access_key_id, field("AccessKeyId"));
            assert_eq!(c.secret_access_key.expose(), field("SecretAccessKey"));
            assert_eq!(c.session_token.as_ref().map(|t| t.expose().to_string()), Some(field("SessionToken")));
            assert!(!c.access_key_id.is_empty() && !c.secret_access_key.is_empty());
            assert_eq!(c.expiration, Some(expiry::parse(&field("Expiration")).unwrap()));
            let d = format!("{c:?}");
            assert_no_secret(
                "Credentials Debug",
                &d,
                [field("SecretAccessKey").as_str(), field("SessionToken").as_str()],
                &[&c.access_key_id, &format!("{:?}", c.expiration)],
            );

            let out = role_cache::to_json(&c, "123456789012");
            std::fs::write(path, &out).unwrap();
            let back = role_cache::read(path);
            let _ = std::fs::remove_file(path);
            let back = back.unwrap_or_else(|e| panic!("cannot re-read what we wrote: {e}")).unwrap();
            assert_eq!(back.access_key_id, c.access_key_id);
            assert_eq!(back.secret_access_key.expose(), c.secret_access_key.expose());
            assert_eq!(back.session_token.as_ref().map(|t| t.expose()), c.session_token.as_ref().map(|t| t.expose()));
            let to_second = |t: time::OffsetDateTime| t.replace_nanosecond(0).unwrap();
            assert_eq!(back.expiration.map(to_second), c.expiration.map(to_second));
        }
    }
});
