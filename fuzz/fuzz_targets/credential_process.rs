//! The credential_process protocol's JSON: `credential_process::parse`.
//!
//! Invariants: no panic; an error is one line quoting nothing from the output (it holds
//! secrets); accepted credentials come from a `"Version": 1` object with non-empty trimmed
//! keys; they survive our export JSON (what Claude Code reads) and a second pass through the
//! protocol, expiry to the second.
#![no_main]

use keepalive_core::expiry;
use keepalive_core::providers::process as credential_process;
use keepalive_fuzz::{assert_no_secret, assert_one_line};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // The process's stdout is decoded lossily.
    let text = String::from_utf8_lossy(data);
    match credential_process::parse(&text) {
        Err(m) => {
            assert_one_line("error", &m);
            assert_no_secret("error", &m, [text.as_ref()], &[]);
        }
        Ok(c) => {
            let doc: Value = serde_json::from_str(text.trim()).expect("parse accepted text serde_json rejects");
            assert_eq!(doc["Version"].as_i64(), Some(1));
            let field = |k: &str| doc.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
            assert_eq!(Some(c.access_key_id.as_str()), field("AccessKeyId"));
            assert_eq!(Some(c.secret_access_key.expose()), field("SecretAccessKey"));
            assert_eq!(c.session_token.as_ref().map(|t| t.expose()), field("SessionToken"));
            assert_eq!(c.expiration.is_some(), field("Expiration").is_some());
            let d = format!("{c:?}");
            let secrets = [field("SecretAccessKey").unwrap_or(""), field("SessionToken").unwrap_or("")];
            assert_no_secret("Credentials Debug", &d, secrets, &[&c.access_key_id, &format!("{:?}", c.expiration)]);

            // What cc-aws-export prints, read back as the protocol (the same field names).
            let export: Value = serde_json::from_str(&c.export_json()).unwrap();
            let mut inner = export["Credentials"].clone();
            inner["Version"] = 1.into();
            let back = credential_process::parse(&inner.to_string())
                .unwrap_or_else(|e| panic!("our own export JSON does not parse: {e}"));
            assert_eq!(back.access_key_id, c.access_key_id);
            assert_eq!(back.secret_access_key.expose(), c.secret_access_key.expose());
            assert_eq!(back.session_token.as_ref().map(|t| t.expose()), c.session_token.as_ref().map(|t| t.expose()));
            let to_second = |t: time::OffsetDateTime| t.replace_nanosecond(0).unwrap();
            assert_eq!(back.expiration, c.expiration.map(to_second));
            if let Some(e) = c.expiration {
                assert_eq!(expiry::parse(&expiry::to_iso8601(e)).ok(), Some(to_second(e)));
            }
        }
    }
});
