//! Claude Code's settings.json: `claude_settings::plan` on arbitrary text, then the uninstall
//! (`unplan`) of what it planned. The first input byte picks the status-line policy, the
//! install paths (some need shell quoting) and whether a refreshInterval is set; the rest is
//! the file.
//!
//! Invariants: no panic. Text that is not a JSON object (after a BOM; blank counts as a new
//! file) is refused with a one-line error naming the file and quoting nothing from it. For a
//! JSON object: a plan is always made (a scan error there is our bug); the new text is a JSON
//! object with every original top-level key, every key we do not own unchanged, no new keys but
//! ours, our commands in place and the BOM kept; planning again changes nothing; the uninstall
//! of the untouched result gives back the original bytes; and after someone else adds a key, the
//! key-by-key uninstall gives back the original document plus that key. Hints are one line.
#![no_main]

use std::path::Path;

use keepalive_core::claude_settings::{
    self as cs, EXPORT_BIN, EXPORT_KEY, Options, REFRESH_BIN, REFRESH_KEY, STATUS_LINE_BIN, STATUS_LINE_KEY,
    StatusLinePolicy, Wiring,
};
use keepalive_fuzz::{assert_no_secret, assert_one_line, json_object, strip_bom};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

const PATH: &str = "/home/u/.claude/settings.json";
const OWNED: [&str; 3] = [EXPORT_KEY, REFRESH_KEY, STATUS_LINE_KEY];
/// Added "by someone else" between install and uninstall.
const EDIT_KEY: &str = "zz-edited-after-install";
/// Install directories: plain, with a space, with an apostrophe, with every character
/// `shell_word` escapes.
const DIRS: [&str; 4] = ["/opt/p/bin", "/Users/me/My Tools/bin", "/home/o'brien/bin", "/tmp/a'b\"c$d`e\\f g"];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    // read_settings refuses what is not UTF-8; plan only ever sees text.
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let policy = [StatusLinePolicy::IfAbsent, StatusLinePolicy::Compose, StatusLinePolicy::Skip][sel as usize % 3];
    let dir = Path::new(DIRS[(sel as usize / 3) % DIRS.len()]);
    let wiring =
        Wiring { export: dir.join(EXPORT_BIN), refresh: dir.join(REFRESH_BIN), statusline: dir.join(STATUS_LINE_BIN) };
    // With and without the status line's refreshInterval (setups write it).
    let refresh_interval = ((sel as usize / 12) % 2 == 1).then_some(cs::STATUS_LINE_REFRESH_SECS);
    let opts = Options { status_line: policy, refresh_interval };
    let path = Path::new(PATH);

    let blank = strip_bom(text).trim().is_empty();
    let original = json_object(text);
    let plan = cs::plan(Some(text), path, &wiring, &opts);
    let plan = match (plan, blank || original.is_some()) {
        (Err(e), false) => {
            let m = e.to_string();
            assert_one_line("error", &m);
            assert!(m.contains(PATH), "error does not name the file: {m}");
            // settings.json can hold secrets (`env`): the error quotes none of it.
            assert_no_secret("error", &m, [text], &[PATH]);
            return;
        }
        (Ok(_), false) => panic!("planned an edit of text that is not a JSON object"),
        (Err(e), true) => panic!("no plan for a valid settings file: {e}"),
        (Ok(p), true) => p,
    };
    for h in &plan.hints {
        assert_one_line("hint", h);
    }
    assert!(plan.changes.iter().all(|c| OWNED.contains(&c.key.as_str())), "changed a key we do not own");
    if policy != StatusLinePolicy::Compose {
        assert!(plan.moved_status_line_cmd.is_none());
    }
    assert!(!plan.remove_file);
    let original = original.unwrap_or_default();

    let Some(new) = &plan.new_text else {
        assert!(plan.changes.is_empty() && plan.record.is_none());
        check_wired(&original, &original, policy);
        return;
    };
    assert_eq!(text.starts_with('\u{feff}'), new.starts_with('\u{feff}'), "BOM added or lost");
    let after = json_object(new).unwrap_or_else(|| panic!("new text is not a JSON object: {new:?}"));
    for (k, v) in &original {
        let now = after.get(k).unwrap_or_else(|| panic!("key {k:?} lost"));
        if !OWNED.contains(&k.as_str()) {
            assert_eq!(now, v, "key {k:?} we do not own changed");
        }
    }
    for k in after.keys() {
        assert!(original.contains_key(k) || OWNED.contains(&k.as_str()), "key {k:?} appeared");
    }
    check_wired(&original, &after, policy);
    if new.lines().count().saturating_mul(text.lines().count()) < 250_000 {
        let _ = cs::diff(text, new);
    }

    // Idempotent: a second install finds nothing to do.
    let second =
        cs::plan(Some(new), path, &wiring, &opts).unwrap_or_else(|e| panic!("cannot re-plan our own text: {e}"));
    assert_eq!(second.new_text, None, "a second install edits again: {:?}", second.changes);

    // Uninstall of the untouched file: byte for byte.
    let record = plan.record.as_ref().expect("an edit without a record");
    let undo = cs::unplan(Some(new), path, record).unwrap_or_else(|e| panic!("cannot uninstall: {e}"));
    assert!(!undo.remove_file);
    assert_eq!(undo.new_text.as_deref(), Some(text), "uninstall did not restore the original bytes");

    // Uninstall after someone else added a key: key by key, the rest as it was.
    if blank || original.contains_key(EDIT_KEY) {
        return;
    }
    let edited = cs::set_string_member(Some(new), path, EDIT_KEY, "x")
        .unwrap_or_else(|e| panic!("cannot add a key to our own text: {e}"))
        .expect("adding a new key changed nothing");
    let undo =
        cs::unplan(Some(&edited), path, record).unwrap_or_else(|e| panic!("cannot uninstall an edited file: {e}"));
    for h in &undo.hints {
        assert_one_line("uninstall hint", h);
    }
    let restored = undo.new_text.as_deref().unwrap_or(&edited);
    let mut restored = json_object(restored).unwrap_or_else(|| panic!("uninstall wrote invalid JSON: {restored:?}"));
    assert_eq!(restored.remove(EDIT_KEY), Some(Value::String("x".into())), "uninstall lost the other edit");
    assert_eq!(restored, original, "key-by-key uninstall did not restore the document");
});

/// Our two commands run our binaries; the status line follows the policy.
fn check_wired(original: &Map<String, Value>, after: &Map<String, Value>, policy: StatusLinePolicy) {
    for (key, bin) in [(EXPORT_KEY, EXPORT_BIN), (REFRESH_KEY, REFRESH_BIN)] {
        let cmd = after.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("{key} is not a string"));
        assert!(cs::references(cmd, bin), "{key} = {cmd:?} does not run {bin}");
    }
    let ours = |v: Option<&Value>| {
        v.and_then(|v| v.get("command")).and_then(Value::as_str).is_some_and(|c| cs::references(c, STATUS_LINE_BIN))
    };
    let before = original.get(STATUS_LINE_KEY);
    let now = after.get(STATUS_LINE_KEY);
    match policy {
        StatusLinePolicy::Skip => assert_eq!(now, before, "statusLine changed although skipped"),
        StatusLinePolicy::Compose => assert!(ours(now), "statusLine is not ours: {now:?}"),
        StatusLinePolicy::IfAbsent if before.is_none() || ours(before) => {
            assert!(ours(now), "statusLine is not ours: {now:?}")
        }
        StatusLinePolicy::IfAbsent => assert_eq!(now, before, "someone else's statusLine was replaced"),
    }
}
