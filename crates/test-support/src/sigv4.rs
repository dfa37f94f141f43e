//! AWS Signature Version 4: the pieces the mock needs to verify signed requests, and a signer
//! tests can use to build requests a real client would send.
//!
//! Follows the SigV4 spec for headers-based signing (no presigned URLs, no chunked
//! `aws-chunked` payload signing: Claude Code and botocore send neither to Bedrock or STS).

use sha2::{Digest, Sha256};

/// The only algorithm AWS accepts for SigV4 header signing.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = Sha256::digest(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(&digest);
    out
}

/// Lower-case hex SHA-256 of `data` (the "hashed payload" of SigV4).
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&sha256(data))
}

/// HMAC-SHA256 (RFC 2104). Written out because it is ten lines and saves a dependency.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&sha256(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(data);
    let inner = inner.finalize();
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner);
    let mut out = [0u8; 32];
    out.copy_from_slice(&outer.finalize());
    out
}

/// The SigV4 signing key: HMAC chain over date (YYYYMMDD), region, service, "aws4_request".
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k_date = hmac_sha256(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac_sha256(&k_date, region.as_bytes());
    let k_service = hmac_sha256(&k_region, service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

/// Percent-encodes everything except RFC 3986 unreserved characters (and `/` when
/// `keep_slash`), with upper-case hex: the encoding SigV4 prescribes.
pub fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    let mut s = String::with_capacity(input.len());
    for &b in input {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            s.push(char::from(b));
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// Decodes `%XX` escapes; anything that is not a valid escape is kept literally
/// (so malformed client input never fails here).
pub fn percent_decode(input: &str) -> Vec<u8> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex_val(bytes[i + 1]), hex_val(bytes[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Canonical query string: every `name=value` pair decoded, re-encoded the SigV4 way, sorted by
/// name then value, joined with `&`. A pair without `=` gets an empty value.
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(&percent_decode(k), false), uri_encode(&percent_decode(v), false))
        })
        .collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// A header value as SigV4 canonicalises it: trimmed, runs of spaces collapsed to one.
pub fn canonical_header_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The canonical request. `headers` are the signed headers as (lower-case name, value) in any
/// order; repeated names are joined with `,` in the order given.
pub fn canonical_request(
    method: &str,
    canonical_uri: &str,
    canonical_query: &str,
    headers: &[(String, String)],
    payload_hash: &str,
) -> String {
    let mut names: Vec<String> = headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    let mut canon_headers = String::new();
    for name in &names {
        let values: Vec<String> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| canonical_header_value(v))
            .collect();
        canon_headers.push_str(&format!("{name}:{}\n", values.join(",")));
    }
    format!("{method}\n{canonical_uri}\n{canonical_query}\n{canon_headers}\n{}\n{payload_hash}", names.join(";"))
}

/// The string to sign for a canonical request.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// Hex signature of a string to sign.
pub fn signature(secret: &str, date: &str, region: &str, service: &str, string_to_sign: &str) -> String {
    hex(&hmac_sha256(&signing_key(secret, date, region, service), string_to_sign.as_bytes()))
}

/// The parts of an `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeader {
    pub access_key_id: String,
    /// `YYYYMMDD` from the credential scope.
    pub date: String,
    pub region: String,
    pub service: String,
    /// Lower-case names, as listed.
    pub signed_headers: Vec<String>,
    pub signature: String,
}

impl AuthHeader {
    /// `DATE/REGION/SERVICE/aws4_request`.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}/aws4_request", self.date, self.region, self.service)
    }
}

/// Parses an `Authorization` header value; `None` for anything that is not well-formed SigV4.
pub fn parse_authorization(value: &str) -> Option<AuthHeader> {
    let rest = value.trim().strip_prefix(ALGORITHM)?;
    if !rest.starts_with(' ') {
        return None;
    }
    let (mut credential, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k.trim() {
            "Credential" => credential = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => sig = Some(v.trim()),
            _ => return None,
        }
    }
    let mut cred = credential?.split('/');
    let (Some(akid), Some(date), Some(region), Some(service), Some("aws4_request"), None) =
        (cred.next(), cred.next(), cred.next(), cred.next(), cred.next(), cred.next())
    else {
        return None;
    };
    let signature = sig?;
    if akid.is_empty() || date.len() != 8 || signature.len() != 64 {
        return None;
    }
    Some(AuthHeader {
        access_key_id: akid.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers: signed?.split(';').filter(|h| !h.is_empty()).map(str::to_ascii_lowercase).collect(),
        signature: signature.to_ascii_lowercase(),
    })
}

/// Credentials and scope for [`sign`].
#[derive(Debug, Clone)]
pub struct Signer<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a str,
    pub session_token: Option<&'a str>,
    pub region: &'a str,
    pub service: &'a str,
    /// `YYYYMMDDTHHMMSSZ`.
    pub amz_date: &'a str,
}

/// Signs a request the way the AWS SDKs do for non-S3 services and returns the headers to add
/// (`x-amz-date`, `x-amz-security-token` when there is a session token, `authorization`).
///
/// `path` is the path as it goes on the wire; it is URI-encoded once more for the canonical
/// request (the SDKs' "double encoding" for everything but S3). `headers` must include `host`.
pub fn sign(
    signer: &Signer<'_>,
    method: &str,
    path: &str,
    query: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Vec<(String, String)> {
    let mut signed: Vec<(String, String)> = headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect();
    let mut added = vec![("x-amz-date".to_string(), signer.amz_date.to_string())];
    if let Some(token) = signer.session_token {
        added.push(("x-amz-security-token".to_string(), token.to_string()));
    }
    signed.extend(added.iter().cloned());
    let canonical_uri = uri_encode(path.as_bytes(), true);
    let creq = canonical_request(method, &canonical_uri, &canonical_query(query), &signed, &sha256_hex(body));
    let date = signer.amz_date.get(..8).unwrap_or_default();
    let scope = format!("{date}/{}/{}/aws4_request", signer.region, signer.service);
    let sts = string_to_sign(signer.amz_date, &scope, &creq);
    let sig = signature(signer.secret_access_key, date, signer.region, signer.service, &sts);
    let mut names: Vec<String> = signed.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    names.dedup();
    added.push((
        "authorization".to_string(),
        format!(
            "{ALGORITHM} Credential={}/{scope}, SignedHeaders={}, Signature={sig}",
            signer.access_key_id,
            names.join(";")
        ),
    ));
    added
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time, for signing requests "now".
pub fn amz_date(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let rem = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a Unix time: the form credential files and caches use.
pub fn rfc3339(unix_secs: u64) -> String {
    let (y, m, d) = civil_from_days(unix_secs / 86_400);
    let rem = unix_secs % 86_400;
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Gregorian date for days since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// AWS's published example ("Create a signed AWS API request", IAM ListUsers).
    #[test]
    fn aws_published_example() {
        let headers = vec![
            ("content-type".to_string(), "application/x-www-form-urlencoded; charset=utf-8".to_string()),
            ("host".to_string(), "iam.amazonaws.com".to_string()),
            ("x-amz-date".to_string(), "20150830T123600Z".to_string()),
        ];
        let creq = canonical_request(
            "GET",
            "/",
            &canonical_query("Version=2010-05-08&Action=ListUsers"),
            &headers,
            &sha256_hex(b""),
        );
        assert_eq!(
            creq,
            "GET\n/\nAction=ListUsers&Version=2010-05-08\n\
             content-type:application/x-www-form-urlencoded; charset=utf-8\n\
             host:iam.amazonaws.com\nx-amz-date:20150830T123600Z\n\n\
             content-type;host;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(sha256_hex(creq.as_bytes()), "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59");
        let secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
        assert_eq!(
            hex(&signing_key(secret, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        let sts = string_to_sign("20150830T123600Z", "20150830/us-east-1/iam/aws4_request", &creq);
        assert_eq!(
            signature(secret, "20150830", "us-east-1", "iam", &sts),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    /// RFC 4231 test case 2 (short key) and 6 (key longer than the block).
    #[test]
    fn hmac_rfc4231() {
        assert_eq!(
            hex(&hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex(&hmac_sha256(&[0xaa; 131], b"Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn encoding_and_parsing() {
        assert_eq!(uri_encode(b"/model/a.b:0/invoke", true), "/model/a.b%3A0/invoke");
        assert_eq!(uri_encode(b"a b/c", false), "a%20b%2Fc");
        assert_eq!(percent_decode("a%3Ab%zz%4"), b"a:b%zz%4");
        assert_eq!(canonical_query("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
        assert_eq!(canonical_header_value("  a   b  c "), "a b c");
        assert_eq!(amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(rfc3339(1_440_938_160), "2015-08-30T12:36:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        let h = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/iam/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7",
        );
        let h = h.expect("parses");
        assert_eq!(h.access_key_id, "AKID");
        assert_eq!(h.scope(), "20150830/us-east-1/iam/aws4_request");
        assert_eq!(h.signed_headers, ["content-type", "host", "x-amz-date"]);
        assert!(parse_authorization("AWS4-HMAC-SHA256 Credential=x").is_none());
        assert!(parse_authorization("Bearer abc").is_none());
        assert!(parse_authorization("").is_none());
    }
}
