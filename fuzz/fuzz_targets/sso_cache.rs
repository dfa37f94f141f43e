//! botocore's SSO token cache: `sso_cache::parse`, and the write-back after a refresh.
//!
//! Invariants: no panic; an error is one line naming the file and quoting nothing from it;
//! `Debug` shows no token, secret, client id or unknown field value; a parsed token written back
//! (`to_json`) is the same JSON document (key order and unknown fields kept; floats up to
//! serde_json's rounding) and parses to the same token; after `set_refreshed` the written file
//! parses to the new token and keeps every other field.
#![no_main]

use std::path::Path;

use keepalive_core::secret::Secret;
use keepalive_core::providers::sso::cache::{self as sso_cache, SsoToken};
use keepalive_fuzz::{
    assert_no_secret, assert_one_line, json_eq_modulo_float_rounding, json_keys, json_strings, strip_bom,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use time::macros::datetime;

const PATH: &str = "/home/u/.aws/sso/cache/0ad374308c5a4e22f723adf10145eafad7c4031c.json";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let path = Path::new(PATH);
    let parsed: Option<Value> = serde_json::from_str(strip_bom(&text)).ok();
    match sso_cache::parse(&text, path) {
        Err(e) => {
            let m = e.to_string();
            assert_one_line("error", &m);
            assert!(m.contains(PATH), "error does not name the file: {m}");
            // An error quotes nothing from the file: all of it may be secret.
            assert_no_secret("error", &m, [text.as_ref()], &[PATH]);
        }
        Ok(token) => {
            let doc = parsed.expect("parse accepted text serde_json rejects");
            check_debug(&token, &doc);
            check_round_trip(&token, &doc, path);
            check_refresh(token, &doc, path);
        }
    }
});

fn field<'a>(doc: &'a Value, key: &str) -> Option<&'a str> {
    doc.get(key).and_then(Value::as_str)
}

fn check_debug(token: &SsoToken, doc: &Value) {
    let d = format!("{token:?}");
    // Only the start URL and region are shown (and the path, and field names).
    let mut secrets = Vec::new();
    if let Value::Object(map) = doc {
        for (k, v) in map {
            if k != "startUrl" && k != "region" {
                json_strings(v, &mut secrets);
            }
        }
    }
    let mut keys = Vec::new();
    json_keys(doc, &mut keys);
    let times = format!("{:?} {:?}", token.expires_at, token.registration_expires_at);
    let mut allowed: Vec<&str> = vec![PATH, &times];
    allowed.extend(field(doc, "startUrl"));
    allowed.extend(field(doc, "region"));
    allowed.extend(keys.iter().map(String::as_str));
    assert_no_secret("SsoToken Debug", &d, secrets.iter().map(String::as_str), &allowed);
}

fn check_round_trip(token: &SsoToken, doc: &Value, path: &Path) {
    let written = token.to_json();
    assert_one_line("cache file", &written);
    assert!(written.is_ascii(), "botocore writes ASCII only: {written}");
    let back: Value = serde_json::from_str(&written).unwrap_or_else(|e| panic!("wrote invalid JSON ({e}): {written}"));
    assert!(json_eq_modulo_float_rounding(&back, doc), "write-back changed the document: {back} vs {doc}");
    let again = sso_cache::parse(&written, path).unwrap_or_else(|e| panic!("cannot re-read what we wrote: {e}"));
    assert_same(token, &again);
    // Stable (floats aside: serde_json's default parser is not correctly rounded, so a long
    // float can move by one ulp per read; its `float_roundtrip` feature would make this exact).
    let rewritten: Value = serde_json::from_str(&again.to_json()).unwrap();
    assert!(json_eq_modulo_float_rounding(&rewritten, &back), "write-back is not stable");
    if !has_float(&back) {
        assert_eq!(again.to_json(), written, "write-back is not stable");
    }
}

fn assert_same(a: &SsoToken, b: &SsoToken) {
    let expose = |s: &Option<Secret>| s.as_ref().map(|s| s.expose().to_string());
    assert_eq!(a.start_url, b.start_url);
    assert_eq!(a.region, b.region);
    assert_eq!(expose(&a.access_token), expose(&b.access_token));
    assert_eq!(a.expires_at, b.expires_at);
    assert_eq!(a.client_id, b.client_id);
    assert_eq!(expose(&a.client_secret), expose(&b.client_secret));
    assert_eq!(a.registration_expires_at, b.registration_expires_at);
    assert_eq!(expose(&a.refresh_token), expose(&b.refresh_token));
}

fn check_refresh(mut token: SsoToken, doc: &Value, path: &Path) {
    let before = token.clone();
    let exp = datetime!(2026-11-22 13:00:00 UTC);
    token.set_refreshed(Secret::new("NEWACCESS1"), exp, Some(Secret::new("NEWREFRESH1")), "https://u/start", "r-1");
    let written = token.to_json();
    let after = sso_cache::parse(&written, path).unwrap_or_else(|e| panic!("cannot re-read a refreshed token: {e}"));
    assert_eq!(after.access_token.as_ref().map(Secret::expose), Some("NEWACCESS1"));
    assert_eq!(after.refresh_token.as_ref().map(Secret::expose), Some("NEWREFRESH1"));
    assert_eq!(after.expires_at, Some(exp));
    assert_eq!(after.start_url, before.start_url.or(Some("https://u/start".into())));
    assert_eq!(after.region, before.region.or(Some("r-1".into())));
    assert_eq!(after.client_id, before.client_id);
    assert_eq!(after.registration_expires_at, before.registration_expires_at);
    let back: Value = serde_json::from_str(&written).unwrap_or_else(|e| panic!("wrote invalid JSON ({e})"));
    if let (Value::Object(old), Value::Object(new)) = (doc, &back) {
        const CHANGED: &[&str] = &["accessToken", "expiresAt", "refreshToken", "startUrl", "region"];
        for (k, v) in old {
            if !CHANGED.contains(&k.as_str()) {
                let kept = new.get(k).is_some_and(|n| json_eq_modulo_float_rounding(n, v));
                assert!(kept, "refresh changed {k:?}");
            }
        }
    }
}

fn has_float(v: &Value) -> bool {
    match v {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(map) => map.values().any(has_float),
        Value::Null | Value::Bool(_) | Value::String(_) => false,
    }
}
