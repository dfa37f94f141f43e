//! Expiry timestamps: parsing every format credential tools write, and
//! formatting remaining time for people.

use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime, UtcOffset};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unrecognised timestamp {value:?} (expected RFC 3339 like 2026-11-22T12:00:00Z, or epoch seconds/milliseconds)"
)]
pub struct ExpiryError {
    /// Timestamps are not secret; the value helps the user find the bad field.
    pub value: String,
}

/// Epoch values at or above this are milliseconds (1e11 s is the year 5138).
const MILLIS_THRESHOLD: f64 = 1e11;

/// Parses an expiry as written by saml2aws, gimme-aws-creds, the AWS CLI,
/// botocore and others: RFC 3339 with `Z`, an offset (with or without colon)
/// and optional fractional seconds; a space instead of `T`; a `UTC` suffix;
/// no zone at all (taken as UTC); epoch seconds or milliseconds.
pub fn parse(raw: &str) -> Result<OffsetDateTime, ExpiryError> {
    let err = || ExpiryError { value: raw.chars().take(64).collect() };
    let s = raw.trim().trim_matches(|c| c == '"' || c == '\'').trim();
    if s.is_empty() {
        return Err(err());
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let n: f64 = s.parse().map_err(|_| err())?;
        let secs = if n >= MILLIS_THRESHOLD { n / 1000.0 } else { n };
        // Below 1e9 (2001) a number is a typo or a duration, not an expiry.
        if !secs.is_finite() || !(1e9..=253_402_300_799.0).contains(&secs) {
            return Err(err());
        }
        let whole = secs.trunc() as i64;
        let nanos = ((secs - secs.trunc()) * 1e9) as i64;
        return OffsetDateTime::from_unix_timestamp(whole).map(|t| t + Duration::nanoseconds(nanos)).map_err(|_| err());
    }
    let t = OffsetDateTime::parse(&normalise(s), &Rfc3339).map_err(|_| err())?;
    // In UTC the year can leave RFC 3339's 0000–9999 (`9999-12-31T23:59:59-01:00`): `to_offset`
    // would panic there, and a negative year would not round-trip through `to_iso8601`.
    t.checked_to_offset(UtcOffset::UTC).filter(|t| (0..=9999).contains(&t.year())).ok_or_else(err)
}

/// Rewrites the near-RFC-3339 variants into strict RFC 3339.
fn normalise(s: &str) -> String {
    let mut s = s.to_string();
    // "2026-11-22 12:00:00" -> "2026-11-22T12:00:00"
    if s.len() > 10 && s.as_bytes().get(10) == Some(&b' ') {
        s.replace_range(10..11, "T");
    }
    if let Some(i) = s.find('t').filter(|&i| i == 10) {
        s.replace_range(i..i + 1, "T");
    }
    for suffix in [" UTC", "UTC", " GMT", "GMT", " Z", "z"] {
        if let Some(stripped) = s.strip_suffix(suffix) {
            s = format!("{}Z", stripped.trim_end());
            break;
        }
    }
    let time_part = s.get(11..).unwrap_or("");
    let has_zone = time_part.ends_with('Z') || time_part.contains('+') || time_part.contains('-');
    if !has_zone {
        s.push('Z');
    } else if !s.ends_with('Z') {
        // "+0000" -> "+00:00"
        let b = s.as_bytes();
        let n = b.len();
        if n >= 5 && (b[n - 5] == b'+' || b[n - 5] == b'-') && b[n - 4..].iter().all(u8::is_ascii_digit) {
            s.insert(n - 2, ':');
        }
    }
    s
}

/// `2026-11-22T12:00:00Z`: the form Claude Code, botocore and the CLI all read.
pub fn to_iso8601(t: OffsetDateTime) -> String {
    utc_stamp(t, "-", ":")
}

/// `t` in UTC to the second, with `date_sep` between the date's fields and `time_sep` between
/// the time's: the one formatter behind the extended and the basic ISO 8601 forms.
fn utc_stamp(t: OffsetDateTime, date_sep: &str, time_sep: &str) -> String {
    // Checked: at the edge of `time`'s range the conversion fails instead of panicking.
    let t = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
    format!(
        "{:04}{date_sep}{:02}{date_sep}{:02}T{:02}{time_sep}{:02}{time_sep}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Serde for `Option<OffsetDateTime>` fields of our state files, as [`to_iso8601`] text.
/// Text that does not parse reads as `None`: those files are informative, and one odd value
/// must not cost the rest.
pub mod serde_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    pub fn serialize<S: Serializer>(t: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::to_iso8601(*t)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<OffsetDateTime>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        Ok(text.and_then(|t| super::parse(&t).ok()))
    }
}

/// `20261122T120000Z` (ISO 8601's basic form), for backup file names and SigV4's `X-Amz-Date`.
pub fn compact_stamp(t: OffsetDateTime) -> String {
    utc_stamp(t, "", "")
}

/// Remaining time as people read it: `2d4h`, `4h23m`, `23m`, `<1m`.
/// Callers show "EXPIRED" for negative durations themselves.
pub fn human(d: Duration) -> String {
    let mins = d.whole_minutes();
    if mins < 1 {
        "<1m".to_string()
    } else if mins < 60 {
        format!("{mins}m")
    } else if mins < 48 * 60 {
        format!("{}h{}m", mins / 60, mins % 60)
    } else {
        format!("{}d{}h", mins / (24 * 60), (mins / 60) % 24)
    }
}

/// "in 4h23m" or "5m ago", for messages.
pub fn relative(now: OffsetDateTime, at: OffsetDateTime) -> String {
    if at > now { format!("in {}", human(at - now)) } else { format!("{} ago", human(now - at)) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn accepts_the_formats_tools_write() {
        let noon = datetime!(2026-11-22 12:00:00 UTC);
        let cases: &[(&str, OffsetDateTime)] = &[
            ("2026-11-22T12:00:00Z", noon),
            ("2026-11-22T12:00:00z", noon),
            ("2026-11-22t12:00:00Z", noon),
            ("2026-11-22T12:00:00+00:00", noon),
            ("2026-11-22T13:00:00+01:00", noon),
            ("2026-11-22T07:00:00-05:00", noon),
            ("2026-11-22T13:00:00+0100", noon),
            ("2026-11-22T12:00:00UTC", noon),
            ("2026-11-22T12:00:00 UTC", noon),
            ("2026-11-22 12:00:00", noon),
            ("2026-11-22 12:00:00+00:00", noon),
            ("2026-11-22T12:00:00", noon),
            ("\"2026-11-22T12:00:00Z\"", noon),
            ("  2026-11-22T12:00:00Z  ", noon),
            ("1795348800", noon),
            ("1795348800000", noon),
        ];
        for (input, want) in cases {
            assert_eq!(parse(input).as_ref(), Ok(want), "input {input:?}");
        }
        let frac = parse("2026-11-22T12:00:00.123456Z").unwrap();
        assert_eq!(frac.millisecond(), 123);
        let frac_offset = parse("2026-11-22T12:00:00.5+00:00").unwrap();
        assert_eq!(frac_offset.millisecond(), 500);
        assert_eq!(parse("1795348800.5").unwrap().millisecond(), 500);
    }

    #[test]
    fn rejects_garbage_without_panicking() {
        for bad in [
            "",
            " ",
            "tomorrow",
            "2026-13-01T00:00:00Z",
            "2026-11-22T25:00:00Z",
            "99999999999999999999999",
            "1.2.3",
            "..",
            "2026-11-22T12:00:00+99:00",
            "-",
            "+",
            "2026",
            "é",
            "2026-11-22T12:00:00ZZ",
            "\u{0}",
            "１２３",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
        let e = parse("tomorrow").unwrap_err().to_string();
        assert!(e.contains("tomorrow") && e.contains("RFC 3339"), "{e}");
    }

    /// Found by `cargo xtask fuzz expiry`: an offset that moves the time out of years 0000–9999
    /// in UTC gave a negative year that `to_iso8601` wrote as `-001-…` and could not read back;
    /// at the other end (found by hand from the same cause) `to_offset` panicked.
    #[test]
    fn fuzz_regression_offsets_beyond_the_rfc3339_years_are_rejected() {
        for bad in ["0000-01-01T00:00:30+0100", "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59.999999999-23:59"] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
        for (edge, iso) in [
            ("0000-01-01T00:00:00Z", "0000-01-01T00:00:00Z"),
            ("0000-01-01T01:00:00+01:00", "0000-01-01T00:00:00Z"),
            ("9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z"),
            ("9999-12-31T23:59:59.5+00:00", "9999-12-31T23:59:59Z"),
        ] {
            let t = parse(edge).unwrap();
            assert_eq!(to_iso8601(t), iso);
            assert_eq!(parse(iso).unwrap(), t.replace_nanosecond(0).unwrap());
        }
    }

    #[test]
    fn formats() {
        let t = datetime!(2026-11-22 13:04:05.9 +01:00);
        assert_eq!(to_iso8601(t), "2026-11-22T12:04:05Z");
        assert_eq!(compact_stamp(t), "20261122T120405Z");
        assert_eq!(human(Duration::seconds(30)), "<1m");
        assert_eq!(human(Duration::minutes(23)), "23m");
        assert_eq!(human(Duration::minutes(4 * 60 + 23)), "4h23m");
        assert_eq!(human(Duration::hours(50)), "2d2h");
        assert_eq!(relative(t, t + Duration::minutes(5)), "in 5m");
        assert_eq!(relative(t + Duration::minutes(5), t), "5m ago");
    }
}
