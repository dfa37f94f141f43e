//! AWS Signature Version 4, headers-based signing, for the signed calls we make (STS
//! `AssumeRole`): HMAC-SHA256 and SHA-256 from `ring`, the canonical request as the AWS SDKs
//! build it for non-S3 services.
//!
//! What is signed is exactly what is sent: `host`, `content-type`, `x-amz-date` and, with a
//! session token, `x-amz-security-token`. No `x-amz-content-sha256` (STS does not need it and
//! botocore does not send it), no presigned URLs, no chunked payloads.

use std::fmt;

use ring::{digest, hmac};
use time::OffsetDateTime;

use crate::secret::Secret;

/// The only algorithm AWS accepts for SigV4 header signing.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// Who signs, for which service and region, at what time.
#[derive(Debug, Clone, Copy)]
pub struct SigningParams<'a> {
    pub access_key_id: &'a str,
    pub secret_access_key: &'a Secret,
    pub session_token: Option<&'a Secret>,
    pub region: &'a str,
    pub service: &'a str,
    pub time: OffsetDateTime,
}

/// The request to sign, as it goes on the wire.
#[derive(Clone, Copy)]
pub struct SignableRequest<'a> {
    pub method: &'a str,
    /// The `Host` header value: lower-case host, with `:port` when the port is not the scheme's
    /// default.
    pub host: &'a str,
    /// The path as sent, starting with `/`.
    pub path: &'a str,
    /// Query parameters, not yet encoded.
    pub query: &'a [(&'a str, &'a str)],
    /// The `Content-Type` header value exactly as sent.
    pub content_type: &'a str,
    /// May hold secrets (an MFA code, a web identity token): hashed, never shown.
    pub body: &'a [u8],
}

impl fmt::Debug for SignableRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignableRequest")
            .field("method", &self.method)
            .field("host", &self.host)
            .field("path", &self.path)
            .field("query", &self.query.iter().map(|(k, _)| *k).collect::<Vec<_>>())
            .field("content_type", &self.content_type)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// The headers to add to the request: `authorization`, `x-amz-date` and, with a session token,
/// `x-amz-security-token`. `Debug` shows neither the token nor the signature.
#[derive(Clone)]
pub struct SignedHeaders {
    authorization: String,
    amz_date: String,
    security_token: Option<Secret>,
    /// `KEY/DATE/REGION/SERVICE/aws4_request`, for `Debug`.
    credential: String,
    signed_headers: String,
}

impl SignedHeaders {
    /// `(name, value)` pairs, names lower-case, to send along with `host` and `content-type`.
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        let mut h = vec![("authorization", self.authorization.as_str()), ("x-amz-date", self.amz_date.as_str())];
        if let Some(t) = &self.security_token {
            h.push(("x-amz-security-token", t.expose()));
        }
        h
    }

    pub fn authorization(&self) -> &str {
        &self.authorization
    }

    /// `YYYYMMDDTHHMMSSZ`.
    pub fn amz_date(&self) -> &str {
        &self.amz_date
    }
}

impl fmt::Debug for SignedHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignedHeaders")
            .field("credential", &self.credential)
            .field("signed_headers", &self.signed_headers)
            .field("amz_date", &self.amz_date)
            .field("security_token", &self.security_token)
            .finish_non_exhaustive()
    }
}

/// Signs `req` with `params`.
pub fn sign(params: &SigningParams<'_>, req: &SignableRequest<'_>) -> SignedHeaders {
    let amz_date = amz_date(params.time);
    let date = amz_date.get(..8).unwrap_or_default().to_string();
    let mut headers: Vec<(&str, &str)> =
        vec![("host", req.host), ("content-type", req.content_type), ("x-amz-date", &amz_date)];
    if let Some(t) = params.session_token {
        headers.push(("x-amz-security-token", t.expose()));
    }
    let (creq, signed_headers) = canonical_request(req.method, req.path, req.query, &headers, &sha256_hex(req.body));
    let scope = format!("{date}/{}/{}/aws4_request", params.region, params.service);
    let to_sign = string_to_sign(&amz_date, &scope, &creq);
    let key = signing_key(params.secret_access_key, &date, params.region, params.service);
    let signature = hex(hmac::sign(&key, to_sign.as_bytes()).as_ref());
    let credential = format!("{}/{scope}", params.access_key_id);
    SignedHeaders {
        authorization: format!(
            "{ALGORITHM} Credential={credential}, SignedHeaders={signed_headers}, Signature={signature}"
        ),
        amz_date,
        security_token: params.session_token.cloned(),
        credential,
        signed_headers,
    }
}

/// `YYYYMMDDTHHMMSSZ` in UTC: ISO 8601's basic form, which `expiry` formats.
pub fn amz_date(t: OffsetDateTime) -> String {
    crate::expiry::compact_stamp(t)
}

/// The SigV4 signing key: the HMAC chain over date (`YYYYMMDD`), region, service and
/// `aws4_request`, starting from `"AWS4" + secret`.
fn signing_key(secret: &Secret, date: &str, region: &str, service: &str) -> hmac::Key {
    let mut k_secret = Vec::with_capacity(secret.expose().len() + 4);
    k_secret.extend_from_slice(b"AWS4");
    k_secret.extend_from_slice(secret.expose().as_bytes());
    let mut key = hmac::Key::new(hmac::HMAC_SHA256, &k_secret);
    // The intermediate holds the secret in the clear: do not leave it lying around.
    k_secret.fill(0);
    for part in [date, region, service, "aws4_request"] {
        let tag = hmac::sign(&key, part.as_bytes());
        key = hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref());
    }
    key
}

/// The canonical request and the `SignedHeaders` list. `headers` are (lower-case name, value);
/// values are trimmed and inner runs of spaces collapsed, as SigV4 prescribes.
fn canonical_request(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
    payload_hash: &str,
) -> (String, String) {
    let mut headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    headers.sort();
    let canon_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed_headers = headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");
    let uri = if path.is_empty() { "/".to_string() } else { uri_encode(path.as_bytes(), true) };
    let creq =
        format!("{method}\n{uri}\n{}\n{canon_headers}\n{signed_headers}\n{payload_hash}", canonical_query(query));
    (creq, signed_headers)
}

/// Query pairs encoded the SigV4 way and sorted by name, then value.
fn canonical_query(query: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> =
        query.iter().map(|(k, v)| (uri_encode(k.as_bytes(), false), uri_encode(v.as_bytes(), false))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &str) -> String {
    format!("{ALGORITHM}\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// Percent-encodes all but RFC 3986's unreserved characters (and `/` when `keep_slash`), with
/// upper-case hex. The same encoding makes a correct `application/x-www-form-urlencoded` body.
pub fn uri_encode(input: &[u8], keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(input.len());
    for &b in input {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            s.push(char::from(b));
        } else {
            s.push('%');
            s.push(char::from(HEX[usize::from(b >> 4)]));
            s.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    s
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, data).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

    fn params<'a>(secret: &'a Secret, token: Option<&'a Secret>) -> SigningParams<'a> {
        SigningParams {
            access_key_id: "AKIDEXAMPLE",
            secret_access_key: secret,
            session_token: token,
            region: "us-east-1",
            service: "service",
            time: datetime!(2015-08-30 12:36:00 UTC),
        }
    }

    /// AWS's SigV4 test suite, "post-x-www-form-urlencoded" (docs.aws.amazon.com/general/latest/gr/
    /// signature-v4-test-suite.html; the same vector is in the AWS SDKs' test fixtures).
    #[test]
    fn aws_test_suite_post_x_www_form_urlencoded() {
        let secret = Secret::new(SECRET);
        let req = SignableRequest {
            method: "POST",
            host: "example.amazonaws.com",
            path: "/",
            query: &[],
            content_type: "application/x-www-form-urlencoded",
            body: b"Param1=value1",
        };
        let s = sign(&params(&secret, None), &req);
        assert_eq!(
            s.authorization(),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
        );
        assert_eq!(s.amz_date(), "20150830T123600Z");
        assert_eq!(s.headers().len(), 2);
    }

    /// AWS's published IAM ListUsers example ("Create a signed AWS API request"): the signing key
    /// and the signature of a GET with a query.
    #[test]
    fn aws_published_iam_example() {
        let secret = Secret::new(SECRET);
        let key = signing_key(&secret, "20150830", "us-east-1", "iam");
        // The key itself is not exposed by ring; its HMAC of "" pins it as well as the bytes would.
        let probe = hex(hmac::sign(&key, b"").as_ref());
        let expected_key = ring::hmac::Key::new(
            hmac::HMAC_SHA256,
            &test_support::sigv4::signing_key(SECRET, "20150830", "us-east-1", "iam"),
        );
        assert_eq!(probe, hex(hmac::sign(&expected_key, b"").as_ref()));
        assert_eq!(
            test_support::sigv4::hex(&test_support::sigv4::signing_key(SECRET, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
        );
        let req = SignableRequest {
            method: "GET",
            host: "iam.amazonaws.com",
            path: "/",
            query: &[("Version", "2010-05-08"), ("Action", "ListUsers")],
            content_type: "application/x-www-form-urlencoded; charset=utf-8",
            body: b"",
        };
        let mut p = params(&secret, None);
        p.service = "iam";
        let s = sign(&p, &req);
        assert!(
            s.authorization().ends_with("Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"),
            "{}",
            s.authorization()
        );
    }

    /// Our signature against the independent implementation the mock verifies with, with a
    /// session token, a port in the host, odd characters in the body and the query.
    #[test]
    fn matches_the_test_support_signer() {
        let secret = Secret::new("s3cr3t/with+chars=");
        let token = Secret::new("FQoGZXIvYXdzE//token+with/slashes==");
        let body =
            "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2FR&RoleSessionName=a%20b";
        let query = [("b", "2 3"), ("a", "x/y"), ("a", "w")];
        let req = SignableRequest {
            method: "POST",
            host: "127.0.0.1:8443",
            path: "/",
            query: &query,
            content_type: "application/x-www-form-urlencoded; charset=utf-8",
            body: body.as_bytes(),
        };
        let p = SigningParams {
            access_key_id: "ASIAEXAMPLE",
            secret_access_key: &secret,
            session_token: Some(&token),
            region: "eu-west-1",
            service: "sts",
            time: datetime!(2026-11-27 12:15:34 UTC),
        };
        let ours = sign(&p, &req);
        let signer = test_support::sigv4::Signer {
            access_key_id: "ASIAEXAMPLE",
            secret_access_key: secret.expose(),
            session_token: Some(token.expose()),
            region: "eu-west-1",
            service: "sts",
            amz_date: "20261127T121534Z",
        };
        let headers = vec![
            ("host".to_string(), "127.0.0.1:8443".to_string()),
            ("content-type".to_string(), "application/x-www-form-urlencoded; charset=utf-8".to_string()),
        ];
        let theirs = test_support::sigv4::sign(&signer, "POST", "/", "b=2%203&a=x%2Fy&a=w", &headers, body.as_bytes());
        let get = |name: &str| theirs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
        assert_eq!(Some(ours.authorization()), get("authorization"));
        assert_eq!(Some(ours.amz_date()), get("x-amz-date"));
        let sent: Vec<_> = ours.headers();
        assert!(sent.contains(&("x-amz-security-token", token.expose())));
        // And the mock's verifier accepts it.
        let auth = test_support::sigv4::parse_authorization(ours.authorization()).unwrap();
        assert_eq!(auth.signed_headers, ["content-type", "host", "x-amz-date", "x-amz-security-token"]);
        let mut all = headers.clone();
        all.push(("x-amz-date".into(), ours.amz_date().into()));
        all.push(("x-amz-security-token".into(), token.expose().into()));
        let creq = test_support::sigv4::canonical_request(
            "POST",
            "/",
            &test_support::sigv4::canonical_query("b=2%203&a=x%2Fy&a=w"),
            &all,
            &test_support::sigv4::sha256_hex(body.as_bytes()),
        );
        let sts = test_support::sigv4::string_to_sign(ours.amz_date(), &auth.scope(), &creq);
        assert_eq!(
            test_support::sigv4::signature(secret.expose(), &auth.date, &auth.region, &auth.service, &sts),
            auth.signature
        );
    }

    #[test]
    fn nothing_secret_in_debug() {
        let secret = Secret::new("SECRETKEYVALUE1234");
        let token = Secret::new("SESSIONTOKENVALUE5678");
        let p = params(&secret, Some(&token));
        let req = SignableRequest {
            method: "POST",
            host: "h",
            path: "/",
            query: &[("q", "QUERYVALUE")],
            content_type: "c",
            body: b"WebIdentityToken=BODYSECRET",
        };
        let s = sign(&p, &req);
        let shown = format!("{p:?} {req:?} {s:?}");
        for needle in ["SECRETKEY", "SESSIONTOKEN", "BODYSECRET", "QUERYVALUE"] {
            assert!(!shown.contains(needle), "{needle} in {shown}");
        }
        let sig = s.authorization().rsplit('=').next().unwrap().to_string();
        assert!(!shown.contains(&sig), "{shown}");
        assert!(shown.contains("AKIDEXAMPLE/20150830/us-east-1/service/aws4_request"), "{shown}");
    }

    #[test]
    fn encoding_and_dates() {
        assert_eq!(uri_encode(b"a b/c~d:e", false), "a%20b%2Fc~d%3Ae");
        assert_eq!(uri_encode(b"/x y/", true), "/x%20y/");
        assert_eq!(uri_encode("é".as_bytes(), false), "%C3%A9");
        assert_eq!(canonical_query(&[("b", "1"), ("a", "2"), ("a", "1")]), "a=1&a=2&b=1");
        assert_eq!(amz_date(datetime!(2026-01-02 03:04:05 +02:00)), "20260102T010405Z");
        let (creq, signed) = canonical_request("POST", "", &[], &[("Host", " a   b ")], "h");
        assert_eq!(creq, "POST\n/\n\nhost:a b\n\nhost\nh");
        assert_eq!(signed, "host");
    }
}
