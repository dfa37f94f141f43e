//! `~/.aws/credentials` and `~/.aws/config`: `IniDoc::parse`, the profile and sso-session
//! lookups, and `creds::from_section` on every section.
//!
//! Invariants: no panic; a syntax error is one line naming the file and quoting no secret
//! (also when the input is the value of `aws_secret_access_key`); every listed section, profile
//! and sso-session can be looked up; keys are trimmed and lowercase, values trimmed;
//! `from_section` yields credentials exactly when both keys are non-empty, takes them verbatim,
//! and its expiry warning is one line quoting no secret, whichever key is configured as the
//! expiration field.
#![no_main]

use std::path::Path;

use keepalive_core::aws_files::{IniDoc, Section};
use keepalive_core::creds::{self, EXPIRY_FIELDS};
use keepalive_core::expiry;
use keepalive_fuzz::{assert_no_secret, assert_one_line};
use libfuzzer_sys::fuzz_target;

const PATH: &str = "/home/u/.aws/credentials";
const SECRET_KEYS: &[&str] = &["aws_secret_access_key", "aws_session_token", "aws_security_token"];

fuzz_target!(|data: &[u8]| {
    // The reader decodes lossily (fsutil::read_optional).
    let text = String::from_utf8_lossy(data);
    let path = Path::new(PATH);
    check_doc(&text, path);

    // The input as the value of a secret key (its first line is the value; later lines are
    // more of the file): whatever it does to the parse, the error does not show it.
    let wrapped = format!("[default]\naws_access_key_id = AKIAFUZZ\naws_secret_access_key = {text}");
    let secret = text.split('\n').next().unwrap_or("");
    match IniDoc::parse(&wrapped, path) {
        Err(e) => {
            let m = e.to_string();
            assert_one_line("syntax error", &m);
            assert_no_secret("syntax error", &m, [secret], &[PATH]);
        }
        Ok(doc) => check_ok(&doc),
    }
});

fn check_doc(text: &str, path: &Path) {
    match IniDoc::parse(text, path) {
        Err(e) => {
            let m = e.to_string();
            assert_one_line("syntax error", &m);
            assert!(m.contains(PATH), "syntax error does not name the file: {m}");
            // The values of secret keys, as a line-based reader would see them.
            let secrets: Vec<&str> = text
                .lines()
                .filter_map(|l| l.split_once('='))
                .filter(|(k, _)| SECRET_KEYS.contains(&k.trim().to_ascii_lowercase().as_str()))
                .map(|(_, v)| v)
                .collect();
            assert_no_secret("syntax error", &m, secrets, &[PATH]);
        }
        Ok(doc) => check_ok(&doc),
    }
}

fn check_ok(doc: &IniDoc) {
    let names: Vec<&str> = doc.section_names().collect();
    for (i, n) in names.iter().enumerate() {
        assert!(!names[..i].contains(n), "section {n:?} listed twice: duplicates must merge");
        let s = doc.section(n).unwrap_or_else(|| panic!("listed section {n:?} cannot be looked up"));
        for (k, v) in s {
            assert_eq!(*k, k.trim().to_ascii_lowercase(), "key not normalised");
            assert_eq!(*v, v.trim(), "value not trimmed");
        }
        check_from_section(s);
    }
    for p in doc.config_profile_names() {
        assert!(doc.config_profile(&p).is_some(), "listed profile {p:?} cannot be looked up");
    }
    for p in doc.sso_session_names() {
        assert!(doc.sso_session(&p).is_some(), "listed sso-session {p:?} cannot be looked up");
    }
    // Lookups of names the document does not list never panic.
    for probe in ["default", "", " ", "profile", "sso-session"] {
        let _ = doc.config_profile(probe);
        let _ = doc.sso_session(probe);
    }
}

fn check_from_section(s: &Section) {
    let trimmed = |k: &str| s.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
    // Auto-detection, every key as the configured field (a user can name any key in
    // config.json's expirationField), and a field the section lacks.
    let mut fields: Vec<String> = vec![String::new(), "no_such_field".into()];
    fields.extend(s.keys().take(8).cloned());
    fields.push("AWS_SECRET_ACCESS_KEY".into());
    let secrets: Vec<&str> = SECRET_KEYS.iter().filter_map(|k| s.get(*k)).map(String::as_str).collect();
    let mut allowed: Vec<&str> = s
        .iter()
        .filter(|(k, _)| !SECRET_KEYS.contains(&k.as_str()))
        .flat_map(|(k, v)| [k.as_str(), v.as_str()])
        .collect();
    let example = expiry::ExpiryError { value: String::new() }.to_string();
    allowed.push(&example);
    for field in &fields {
        let p = creds::from_section(s, field);
        match (&p.creds, trimmed("aws_access_key_id"), trimmed("aws_secret_access_key")) {
            (Some(c), Some(id), Some(secret)) => {
                assert_eq!(c.access_key_id, id);
                assert_eq!(c.secret_access_key.expose(), secret);
                let token = trimmed("aws_session_token").or_else(|| trimmed("aws_security_token"));
                assert_eq!(c.session_token.as_ref().map(|t| t.expose()), token);
                // Debug never shows the secrets.
                let d = format!("{c:?}");
                assert_no_secret("Credentials Debug", &d, secrets.iter().copied(), &[id]);
            }
            (None, Some(_), Some(_)) => panic!("both keys present but no credentials"),
            (Some(_), _, _) => panic!("credentials without both keys"),
            (None, _, _) => {}
        }
        if let Some(f) = &p.expiry_field {
            let v = trimmed(f).unwrap_or_else(|| panic!("expiry field {f:?} is not in the section"));
            let t = expiry::parse(v).unwrap_or_else(|e| panic!("expiry field {f:?} does not parse: {e}"));
            if let Some(c) = &p.creds {
                assert_eq!(c.expiration, Some(t));
            }
        } else if let Some(c) = &p.creds {
            assert!(c.expiration.is_none(), "an expiration without an expiry field");
        }
        if field.is_empty() && p.expiry_field.is_none() && p.expiry_warning.is_none() {
            // Auto-detection found nothing: no known field and no "expir" key with a value.
            assert!(EXPIRY_FIELDS.iter().all(|f| trimmed(f).is_none()));
        }
        if let Some(w) = &p.expiry_warning {
            assert_one_line("expiry warning", w);
            assert_no_secret("expiry warning", w, secrets.iter().copied(), &allowed);
        }
    }
}
