//! Hook and status-line stdin: `hook_io::parse_input`, and the `systemMessage` we print back.
//!
//! Invariants: no panic on any bytes; a UTF-8 JSON object without duplicate top-level keys whose
//! `session_id`, `hook_event_name` and `cwd` are strings (or null, or absent) yields exactly
//! those, whatever else it holds; anything else yields a field only if the input has it as a
//! string; `system_message` of the input (as text) is one line of JSON that gives the text back.
#![no_main]

use keepalive_core::hook_io::{self, Colour};
use keepalive_fuzz::{assert_one_line, top_level_keys};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const FIELDS: [&str; 3] = ["session_id", "hook_event_name", "cwd"];

fuzz_target!(|data: &[u8]| {
    let input = hook_io::parse_input(data);
    let got = [&input.session_id, &input.hook_event_name, &input.cwd];
    // serde skips ignored fields without checking their UTF-8; compare with the lossy text.
    let doc: Option<Value> = serde_json::from_str(&String::from_utf8_lossy(data)).ok();
    let wanted = |k: &str| doc.as_ref().and_then(|d| d.get(k)).and_then(Value::as_str).map(str::to_string);
    for (k, v) in FIELDS.iter().zip(got) {
        if v.is_some() {
            assert_eq!(*v, wanted(k), "{k} differs from the input");
        }
    }
    let clean = std::str::from_utf8(data)
        .ok()
        .and_then(top_level_keys)
        .is_some_and(|keys| keys.iter().enumerate().all(|(i, k)| !keys[..i].contains(k)))
        && doc.as_ref().is_some_and(|d| {
            FIELDS.iter().all(|k| matches!(d.get(*k), None | Some(Value::Null) | Some(Value::String(_))))
        });
    if clean {
        for (k, v) in FIELDS.iter().zip(got) {
            assert_eq!(*v, wanted(k), "{k} lost from a well-formed input");
        }
    }

    let text = String::from_utf8_lossy(data);
    let msg = hook_io::system_message(&text);
    assert_one_line("systemMessage JSON", &msg);
    let back: Value = serde_json::from_str(&msg).unwrap();
    assert_eq!(back["systemMessage"].as_str(), Some(text.as_ref()));
    for c in [Colour::Plain, Colour::Yellow, Colour::Red] {
        assert_eq!(hook_io::paint(&text, c, false), text);
        assert!(hook_io::paint(&text, c, true).contains(text.as_ref()));
    }
});
