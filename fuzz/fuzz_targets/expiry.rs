//! Expiry timestamps: `expiry::parse` and the formats built on it.
//!
//! Invariants: no panic; an error is one line quoting at most 64 characters of the input; a
//! parsed time is in UTC and its `to_iso8601` form re-parses to the same second (that string is
//! what we give Claude Code, botocore and the AWS CLI); `compact_stamp`, `human` and `relative`
//! work for every parsed time.
#![no_main]

use keepalive_core::expiry;
use keepalive_fuzz::assert_one_line;
use libfuzzer_sys::fuzz_target;
use time::UtcOffset;
use time::macros::datetime;

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    let raw = raw.as_ref();
    match expiry::parse(raw) {
        Err(e) => {
            assert!(e.value.chars().count() <= 64, "error keeps the whole input");
            assert_one_line("error", &e.to_string());
        }
        Ok(t) => {
            assert_eq!(t.offset(), UtcOffset::UTC, "parse must return UTC");
            let iso = expiry::to_iso8601(t);
            let again =
                expiry::parse(&iso).unwrap_or_else(|e| panic!("{raw:?} parsed to {t}, but {iso:?} does not: {e}"));
            assert_eq!(again, t.replace_nanosecond(0).unwrap(), "{raw:?} -> {iso:?} is not the same second");
            assert_eq!(expiry::to_iso8601(again), iso);
            let stamp = expiry::compact_stamp(t);
            assert_eq!(stamp.len(), 16, "{stamp}");
            let now = datetime!(2026-11-22 12:00:00 UTC);
            assert_one_line("relative", &expiry::relative(now, t));
            assert_one_line("relative", &expiry::relative(t, now));
        }
    }
});
