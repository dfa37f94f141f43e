//! Our config.json: `config::parse`.
//!
//! Invariants: no panic; every problem (error or warning) is one line naming the file and
//! quoting no value (commands may hold passwords), only key names; an error means defaults and
//! no warnings; values are within their documented ranges and text values trimmed; a document
//! of only known keys with well-typed values gives no warnings.
#![no_main]

use std::path::Path;

use keepalive_core::config::{self, Config};
use keepalive_fuzz::{assert_no_secret, assert_one_line, json_keys, json_object, json_strings};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const PATH: &str = "/home/u/.config/cc-aws-keepalive/config.json";
const WEEK: u64 = 7 * 24 * 60;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (c, warnings, error) = config::parse(&text, Path::new(PATH));
    let mut keys = Vec::new();
    let mut values = Vec::new();
    let obj = json_object(&text);
    if let Some(map) = &obj {
        let v = Value::Object(map.clone());
        json_keys(&v, &mut keys);
        json_strings(&v, &mut values);
    }
    let mut allowed: Vec<&str> = vec![PATH];
    allowed.extend(keys.iter().map(String::as_str));
    match &error {
        Some(e) => {
            let m = e.to_string();
            assert_one_line("error", &m);
            assert!(m.contains(PATH), "error does not name the file: {m}");
            assert_no_secret("error", &m, [text.as_ref()], &allowed);
            assert_eq!(c, Config::default(), "an error must leave the defaults");
            assert!(warnings.is_empty());
            assert!(obj.is_none(), "a JSON object was rejected: {m}");
        }
        None => {
            if !text.trim_start_matches('\u{feff}').trim().is_empty() {
                assert!(obj.is_some(), "accepted a file that is not a JSON object");
            }
        }
    }
    for w in &warnings {
        assert_one_line("warning", w);
        assert!(w.contains(PATH), "warning does not name the file: {w}");
        assert_no_secret("warning", w, values.iter().map(String::as_str), &allowed);
    }
    for m in
        [c.auto_login_minutes, c.warn_minutes, c.timer_warn_minutes, c.sso_refresh_minutes, c.refresh_threshold_minutes]
    {
        assert!(m <= WEEK, "{m} minutes is more than a week");
    }
    assert!((1..=60).contains(&c.check_interval_minutes));
    for s in [&c.profile, &c.expiration_field, &c.login_cmd, &c.auto_login_cmd, &c.status_line_cmd] {
        assert_eq!(s.as_str(), s.trim(), "text value not trimmed");
    }
    // Well-typed known keys only: no warnings.
    if let Some(map) = &obj {
        let well_typed = map.iter().all(|(k, v)| match (k.as_str(), v) {
            (k, Value::Null) => {
                config::KEYS.iter().any(|(known, _, _)| *known == k) || k.starts_with('$') || k.starts_with('_')
            }
            ("profile" | "expirationField" | "loginCmd" | "autoLoginCmd" | "statusLineCmd", Value::String(_)) => true,
            (
                "autoLoginMinutes"
                | "warnMinutes"
                | "timerWarnMinutes"
                | "ssoRefreshMinutes"
                | "refreshThresholdMinutes"
                | "checkIntervalMinutes",
                Value::Number(n),
            ) => n.is_u64(),
            ("notify", Value::String(s)) => ["problems", "all", "off"].contains(&s.trim()),
            ("notify", Value::Bool(_)) => true,
            (k, _) => k.starts_with('$') || k.starts_with('_'),
        });
        if well_typed {
            assert!(warnings.is_empty(), "warnings for a well-typed file: {warnings:?}");
        }
    }
});
