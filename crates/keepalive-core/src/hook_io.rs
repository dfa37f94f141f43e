//! Claude Code hook input and output: tolerant stdin parsing, `systemMessage`
//! JSON, ANSI colours.

use serde::Deserialize;

/// The fields of a hook's or status line's stdin we may use. Everything is
/// optional: empty or garbage stdin gives the default.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct HookInput {
    pub session_id: Option<String>,
    pub hook_event_name: Option<String>,
    pub cwd: Option<String>,
}

/// Bytes of stdin we are willing to read; prompts can be long, but not this long.
pub const MAX_STDIN: usize = 4 * 1024 * 1024;

pub fn parse_input(bytes: &[u8]) -> HookInput {
    // Only an object: serde would also read an array as the fields in order.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return HookInput::default();
    }
    serde_json::from_slice(bytes).unwrap_or_default()
}

/// `{"systemMessage":"…"}`: shown to the user, not added to the model's context.
pub fn system_message(text: &str) -> String {
    serde_json::json!({ "systemMessage": text }).to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Plain,
    Yellow,
    Red,
}

/// Wraps `text` in an ANSI colour unless colours are off (`NO_COLOR`).
pub fn paint(text: &str, colour: Colour, enabled: bool) -> String {
    let code = match colour {
        Colour::Plain => return text.to_string(),
        Colour::Yellow => "33",
        Colour::Red => "31",
    };
    if enabled { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_stdin_is_default() {
        for input in [&b""[..], b"   ", b"not json", b"[1,2]", b"{\"session_id\":5}", b"\xff\xfe", b"null"] {
            let h = parse_input(input);
            assert!(h.session_id.is_none(), "{input:?}");
        }
        let h =
            parse_input(br#"{"session_id":"s1","hook_event_name":"UserPromptSubmit","prompt":"hi","extra":{"x":1}}"#);
        assert_eq!(h.session_id.as_deref(), Some("s1"));
    }

    /// Found by `cargo xtask fuzz hook_input` (input `[""]`): an array was read as the fields
    /// in order, giving a session id no hook sent.
    #[test]
    fn fuzz_regression_arrays_are_not_field_lists() {
        for input in [&b"[\"\"]\n"[..], b"[\"s1\",\"UserPromptSubmit\",\"/home/u\"]", b" \t[\"s1\"]"] {
            let h = parse_input(input);
            assert!(h.session_id.is_none() && h.hook_event_name.is_none() && h.cwd.is_none(), "{input:?}");
        }
        assert_eq!(parse_input(b" \r\n{\"session_id\":\"s1\"}").session_id.as_deref(), Some("s1"));
    }

    #[test]
    fn system_message_escapes() {
        let m = system_message("say \"hi\"\nnow");
        let v: serde_json::Value = serde_json::from_str(&m).unwrap();
        assert_eq!(v["systemMessage"], "say \"hi\"\nnow");
    }

    #[test]
    fn colours() {
        assert_eq!(paint("x", Colour::Red, true), "\x1b[31mx\x1b[0m");
        assert_eq!(paint("x", Colour::Red, false), "x");
        assert_eq!(paint("x", Colour::Plain, true), "x");
    }
}
