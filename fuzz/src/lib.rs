//! Invariant checks shared by the fuzz targets in `fuzz_targets/`.
//!
//! A violated invariant panics: that is how libFuzzer records a crash and saves the input.

use serde_json::Value;

/// Every message we show is one line: a stray newline breaks the status line, the hook's
/// `systemMessage` and the one-line log format.
pub fn assert_one_line(what: &str, msg: &str) {
    assert!(!msg.contains(['\n', '\r']), "{what} is not one line: {msg:?}");
}

/// The parts of `s` that could be (part of) a secret worth catching in a message: runs of the
/// characters keys and tokens are made of (base64, base64url, hex), at least 8 long, with both a
/// letter and a digit. English words and field names in our message templates have no digits,
/// so a hit is a quote of the input, not a coincidence.
pub fn secret_tokens(s: &str) -> Vec<&str> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '/' | '+' | '=' | '_' | '-')))
        .filter(|t| t.len() >= 8 && t.bytes().any(|b| b.is_ascii_digit()) && t.bytes().any(|b| b.is_ascii_alphabetic()))
        .collect()
}

/// No secret-looking part of any of `secrets` appears in `msg`, unless it also occurs in one of
/// the `allowed` texts (a path, a non-secret value the message is meant to name, an example in
/// a template), as is or as `Debug` shows it (`\r` becomes `\\r`, which can join a token).
pub fn assert_no_secret<'a>(what: &str, msg: &str, secrets: impl IntoIterator<Item = &'a str>, allowed: &[&str]) {
    for secret in secrets {
        for token in secret_tokens(secret) {
            let in_allowed = || allowed.iter().any(|a| a.contains(token) || format!("{a:?}").contains(token));
            if msg.contains(token) && !in_allowed() {
                panic!("{what} quotes the secret-looking input {token:?}: {msg:?}");
            }
        }
    }
}

/// Every string in a JSON value, keys excluded, recursively.
pub fn json_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| json_strings(i, out)),
        Value::Object(map) => map.values().for_each(|i| json_strings(i, out)),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Every key in a JSON value, recursively.
pub fn json_keys(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| json_keys(i, out)),
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                json_keys(v, out);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// The top-level keys of a JSON object text in document order, duplicates kept; `None` when the
/// text is not a JSON object. (serde_json's `Map` hides duplicates.)
pub fn top_level_keys(text: &str) -> Option<Vec<String>> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct Keys;
    impl<'de> Visitor<'de> for Keys {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<String>, A::Error> {
            let mut keys = Vec::new();
            while let Some((k, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                keys.push(k);
            }
            Ok(keys)
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let keys = de.deserialize_map(Keys).ok()?;
    de.end().ok()?;
    Some(keys)
}

/// JSON equality, except that floats may differ in their last bits: without serde_json's
/// `float_roundtrip` a long literal (`1803556800999…9`, 118 digits) parses to a neighbour of
/// the nearest double, and the shortest form we write back parses to the nearest one.
pub fn json_eq_modulo_float_rounding(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || ((x - y) / x.abs().max(y.abs())).abs() <= 4.0 * f64::EPSILON,
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_eq_modulo_float_rounding(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_eq_modulo_float_rounding(v, w)))
        }
        _ => a == b,
    }
}

/// The text a reader sees: our readers strip one leading BOM.
pub fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

/// `Some(v)` when `text` (after a BOM) is a JSON object.
pub fn json_object(text: &str) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_str::<Value>(strip_bom(text)) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}
