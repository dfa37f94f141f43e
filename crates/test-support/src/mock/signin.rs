//! The mock's AWS Sign-In `POST /v1/token` (CreateOAuth2Token, refresh grant) for `aws login`
//! sessions, and a fixture that leaves a login cache file the way `aws login` does.
//!
//! Like the real service (botocore 1.43's `data/signin` model and `LoginCredentialFetcher`):
//! the body is `{clientId, refreshToken, grantType: "refresh_token"}`, the answer
//! `{accessToken: {accessKeyId, secretAccessKey, sessionToken}, tokenType: "aws_sigv4",
//! expiresIn, refreshToken}`, errors `{"error": CODE, "message"}` with `x-amzn-errortype`
//! (`AccessDeniedException` + `TOKEN_EXPIRED` is HTTP 401). Stricter than we know AWS to be, so
//! client mistakes show: every `DPoP` proof is checked (ES256 signature by the jwk in its
//! header, that jwk = the key the session was registered with, `htm`, `htu` = the request URL,
//! `iat` within 5 minutes, `jti` never seen) and refresh tokens are single use (each success
//! rotates it; the used one answers `TOKEN_EXPIRED`). Issued keys enter the mock's key table,
//! so Bedrock and STS calls signed with them verify until `expiresIn` has passed.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, UnparsedPublicKey,
};
use serde_json::{Value, json};

use super::http::{Request, Response};
use super::{Key, MockAws, Route, Shared};

/// How far a proof's `iat` may be from the mock's clock.
const IAT_SKEW_SECS: u64 = 300;
/// `expiresIn` of issued keys unless changed (the real service: at most 900).
pub const DEFAULT_EXPIRES_IN: i64 = 900;
/// The client id `aws login` uses on a machine with a browser.
pub const SAME_DEVICE_CLIENT_ID: &str = "arn:aws:signin:::devtools/same-device";

/// The Sign-In part of the mock's state.
#[derive(Debug)]
pub(super) struct SigninState {
    sessions: Vec<Session>,
    seen_jti: HashSet<String>,
    expires_in: i64,
    expire_next: bool,
    issued_keys: Vec<String>,
    issued_refresh_tokens: Vec<String>,
    rejected_proofs: Vec<String>,
}

impl SigninState {
    pub(super) fn new() -> SigninState {
        SigninState {
            sessions: Vec::new(),
            seen_jti: HashSet::new(),
            expires_in: DEFAULT_EXPIRES_IN,
            expire_next: false,
            issued_keys: Vec::new(),
            issued_refresh_tokens: Vec::new(),
            rejected_proofs: Vec::new(),
        }
    }
}

/// One `aws login` session: its client, the one refresh token that works now (`None` once
/// the session ended) and the DPoP public key the refresh token is bound to.
#[derive(Debug)]
struct Session {
    client_id: String,
    refresh_token: Option<String>,
    public_key: Vec<u8>,
}

impl MockAws {
    /// Registers an `aws login` session: `refresh_token` works once, with DPoP proofs signed by
    /// the key whose uncompressed SEC1 point (`04‖x‖y`, 65 bytes) is `public_key`.
    pub fn add_login_session(&self, client_id: &str, refresh_token: &str, public_key: &[u8]) {
        self.shared.state().signin.sessions.push(Session {
            client_id: client_id.to_string(),
            refresh_token: Some(refresh_token.to_string()),
            public_key: public_key.to_vec(),
        });
    }

    /// `POST /v1/token` calls so far (refused ones and faults included).
    pub fn login_refresh_calls(&self) -> usize {
        self.count(Route::SigninToken)
    }

    /// The next refresh answers `TOKEN_EXPIRED` and ends its session, as when AWS ends it.
    pub fn expire_next_login_refresh(&self) {
        self.shared.state().signin.expire_next = true;
    }

    /// `expiresIn` of keys issued from now on (default [`DEFAULT_EXPIRES_IN`]).
    pub fn set_login_expires_in(&self, secs: i64) {
        self.shared.state().signin.expires_in = secs;
    }

    /// Access key ids issued by `/v1/token`, oldest first.
    pub fn issued_login_keys(&self) -> Vec<String> {
        self.shared.state().signin.issued_keys.clone()
    }

    /// Refresh tokens issued by `/v1/token` (one per success), oldest first.
    pub fn issued_login_refresh_tokens(&self) -> Vec<String> {
        self.shared.state().signin.issued_refresh_tokens.clone()
    }

    /// Why DPoP proofs were rejected, oldest first (empty when every proof was good).
    pub fn rejected_dpop_proofs(&self) -> Vec<String> {
        self.shared.state().signin.rejected_proofs.clone()
    }

    /// Leaves an `aws login` session in `cache_dir` the way the AWS CLI does and registers it:
    /// a fresh P-256 DPoP key (SEC1 PEM), keys valid until `expires_at` (Unix seconds; they
    /// enter the key table with that expiry), a refresh token the mock accepts once.
    ///
    /// # Panics
    /// If the file cannot be written or ring cannot make a key: no fixture, no test.
    #[allow(clippy::panic, reason = "test fixture: failing loudly at the cause is the point")]
    pub fn write_login_session(&self, cache_dir: &Path, session: &str, expires_at: u64) -> LoginSession {
        let shared = &self.shared;
        let key = match DpopTestKey::generate() {
            Ok(k) => k,
            Err(e) => panic!("cannot make a P-256 key: {e}"),
        };
        let s = LoginSession {
            session: session.to_string(),
            client_id: SAME_DEVICE_CLIENT_ID.to_string(),
            refresh_token: format!("loginrt-{}-{}", shared.next_unique(), shared.unique_hex(40)),
            access_key_id: format!("ASIA{}", shared.unique_hex(16).to_ascii_uppercase()),
            secret_access_key: format!("loginsk{}", shared.unique_hex(33)),
            session_token: format!("loginst-{}", shared.unique_hex(80)),
            account_id: "111122223333".to_string(),
            cache_path: cache_dir.join(format!("{}.json", crate::sigv4::sha256_hex(session.as_bytes()))),
            dpop_key_pem: key.sec1_pem(),
            public_key: key.public_key,
        };
        let text = s.cache_json(&crate::sigv4::rfc3339(expires_at), crate::sigv4::unix_now());
        if let Err(e) = write_secret_file(&s.cache_path, &text) {
            panic!("cannot write {}: {e}", s.cache_path.display());
        }
        self.add_login_session(&s.client_id, &s.refresh_token, &s.public_key);
        let key = Key::issued(&s.secret_access_key, &s.session_token, UNIX_EPOCH + Duration::from_secs(expires_at));
        self.shared.state().keys.insert(s.access_key_id.clone(), key);
        s
    }
}

/// An `aws login` session as [`MockAws::write_login_session`] left it. Every value is what the
/// cache file holds; all but the ids are secrets.
#[derive(Debug, Clone)]
pub struct LoginSession {
    /// The `login_session` value (an ARN).
    pub session: String,
    pub client_id: String,
    pub refresh_token: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: String,
    pub account_id: String,
    /// `<cache dir>/<sha256 hex of session>.json`.
    pub cache_path: PathBuf,
    pub dpop_key_pem: String,
    /// Uncompressed SEC1 point, 65 bytes.
    pub public_key: Vec<u8>,
}

impl LoginSession {
    /// `[profile NAME]` with `login_session` and `region`, as `aws login --profile NAME` writes it.
    pub fn config_text(&self, profile: &str, region: &str) -> String {
        format!("[profile {profile}]\nlogin_session = {}\nregion = {region}\n", self.session)
    }

    /// The cache file's content as the AWS CLI writes it (Python `json.dumps`: one line,
    /// `", "`/`": "`; fields in the CLI's order).
    pub fn cache_json(&self, expires_at: &str, logged_in_at: u64) -> String {
        let s = |v: &str| Value::String(v.to_string()).to_string();
        let id_token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"ES384","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(json!({"sub": self.session, "iat": logged_in_at}).to_string()),
            URL_SAFE_NO_PAD.encode(b"mock-signature")
        );
        format!(
            "{{\"accessToken\": {{\"accessKeyId\": {}, \"secretAccessKey\": {}, \"sessionToken\": {}, \"accountId\": {}, \
             \"expiresAt\": {}}}, \"tokenType\": \"aws_sigv4\", \"clientId\": {}, \"refreshToken\": {}, \"idToken\": {}, \
             \"dpopKey\": {}}}",
            s(&self.access_key_id),
            s(&self.secret_access_key),
            s(&self.session_token),
            s(&self.account_id),
            s(expires_at),
            s(&self.client_id),
            s(&self.refresh_token),
            s(&id_token),
            s(&self.dpop_key_pem),
        )
    }
}

/// Writes a file with mode 0600 in a 0700 folder, as botocore's cache does.
fn write_secret_file(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
    }
    std::fs::write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// A P-256 key made with ring, exportable as the SEC1 PEM `aws login` writes.
pub struct DpopTestKey {
    pub private_scalar: [u8; 32],
    /// Uncompressed SEC1 point, 65 bytes.
    pub public_key: Vec<u8>,
    pair: EcdsaKeyPair,
}

impl std::fmt::Debug for DpopTestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopTestKey").field("public_key", &self.public_key).finish_non_exhaustive()
    }
}

impl DpopTestKey {
    pub fn generate() -> Result<DpopTestKey, String> {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|e| e.to_string())?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .map_err(|e| e.to_string())?;
        // ring's PKCS#8 wraps an ECPrivateKey: `02 01 01 04 20` (version 1, 32-byte OCTET STRING).
        let der = pkcs8.as_ref();
        let at = der.windows(5).position(|w| w == [0x02, 0x01, 0x01, 0x04, 0x20]).ok_or("unexpected PKCS#8 layout")?;
        let private_scalar: [u8; 32] =
            der.get(at + 5..at + 37).and_then(|s| s.try_into().ok()).ok_or("unexpected PKCS#8 layout")?;
        let public_key = pair.public_key().as_ref().to_vec();
        Ok(DpopTestKey { private_scalar, public_key, pair })
    }

    /// `ECPrivateKey` DER as awscrt exports it: version 1, the scalar, [0] prime256v1, [1] point.
    pub fn sec1_der(&self) -> Vec<u8> {
        let mut der = vec![0x30, 0x77, 0x02, 0x01, 0x01, 0x04, 0x20];
        der.extend_from_slice(&self.private_scalar);
        der.extend_from_slice(&[0xa0, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]);
        der.extend_from_slice(&[0xa1, 0x44, 0x03, 0x42, 0x00]);
        der.extend_from_slice(&self.public_key);
        der
    }

    /// The PEM exactly as the AWS CLI's `_serialize_to_pem` writes it (64-character lines,
    /// trailing newline).
    pub fn sec1_pem(&self) -> String {
        let b64 = STANDARD.encode(self.sec1_der());
        let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
        format!("-----BEGIN EC PRIVATE KEY-----\n{}\n-----END EC PRIVATE KEY-----\n", lines.join("\n"))
    }

    /// A DPoP proof (compact ES256 JWS) for `POST htu`, for tests of the mock itself.
    pub fn proof(&self, htu: &str, iat: u64, jti: &str) -> String {
        let point = &self.public_key;
        let (x, y) = (point.get(1..33).unwrap_or_default(), point.get(33..65).unwrap_or_default());
        let header = json!({"typ": "dpop+jwt", "alg": "ES256",
            "jwk": {"kty": "EC", "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y), "crv": "P-256"}});
        let payload = json!({"htm": "POST", "htu": htu, "iat": iat, "jti": jti});
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(payload.to_string()));
        let sig =
            self.pair.sign(&SystemRandom::new(), input.as_bytes()).map(|s| s.as_ref().to_vec()).unwrap_or_default();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

/// Sign-In's error shape: `{"error", "message"}` and `x-amzn-errortype`.
fn signin_error(status: u16, error_type: &str, error: &str, message: &str) -> Response {
    Response::json(status, &json!({ "error": error, "message": message })).with_header("x-amzn-errortype", error_type)
}

/// What Sign-In answers a refresh token that is expired, used or unknown.
pub(super) fn token_expired() -> Response {
    signin_error(401, "AccessDeniedException", "TOKEN_EXPIRED", "The refresh token has expired or is invalid")
}

fn invalid_request(message: &str) -> Response {
    signin_error(400, "ValidationException", "INVALID_REQUEST", message)
}

/// A verified proof: the public point from its jwk and its `jti`.
struct Proof {
    point: Vec<u8>,
    jti: String,
}

/// Checks the request's `DPoP` header; the error says what is wrong.
fn verify_dpop(req: &Request, now: u64) -> Result<Proof, String> {
    let values = req.header_all("dpop");
    let [jwt] = values.as_slice() else {
        return Err(format!("expected one DPoP header, got {}", values.len()));
    };
    let parts: Vec<&str> = jwt.split('.').collect();
    let [h64, p64, s64] = parts.as_slice() else {
        return Err("not a compact JWS (three dot-separated parts)".into());
    };
    let decode = |part: &str, what: &str| URL_SAFE_NO_PAD.decode(part).map_err(|_| format!("{what} is not base64url"));
    let header: Value = serde_json::from_slice(&decode(h64, "the header")?).map_err(|_| "header is not JSON")?;
    let payload: Value = serde_json::from_slice(&decode(p64, "the payload")?).map_err(|_| "payload is not JSON")?;
    let sig = decode(s64, "the signature")?;
    if header["typ"] != "dpop+jwt" || header["alg"] != "ES256" {
        return Err(format!("header typ/alg are {}/{}, not dpop+jwt/ES256", header["typ"], header["alg"]));
    }
    let jwk = &header["jwk"];
    if jwk["kty"] != "EC" || jwk["crv"] != "P-256" {
        return Err("jwk is not an EC P-256 key".into());
    }
    if jwk.get("d").is_some() {
        return Err("jwk carries the private key".into());
    }
    let coord = |name: &str| {
        jwk[name]
            .as_str()
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
            .filter(|b| b.len() == 32)
            .ok_or_else(|| format!("jwk {name} is not a 32-byte base64url value"))
    };
    let mut point = vec![0x04];
    point.extend(coord("x")?);
    point.extend(coord("y")?);
    if sig.len() != 64 {
        return Err(format!("signature is {} bytes, not r‖s (64)", sig.len()));
    }
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &point)
        .verify(format!("{h64}.{p64}").as_bytes(), &sig)
        .map_err(|_| "ES256 signature does not verify with the jwk")?;
    if payload["htm"] != "POST" {
        return Err(format!("htm is {}, not POST", payload["htm"]));
    }
    let url = format!("http://{}{}", req.header("host").unwrap_or_default(), req.path);
    if payload["htu"].as_str() != Some(url.as_str()) {
        return Err(format!("htu is {}, not {url}", payload["htu"]));
    }
    let iat = payload["iat"].as_u64().ok_or("iat is not a number of seconds")?;
    if iat.abs_diff(now) > IAT_SKEW_SECS {
        return Err(format!("iat {iat} is more than {IAT_SKEW_SECS} s from now ({now})"));
    }
    let jti = payload["jti"].as_str().filter(|j| !j.is_empty()).ok_or("no jti")?;
    Ok(Proof { point, jti: jti.to_string() })
}

/// `POST /v1/token`.
pub(super) fn token(shared: &Shared, req: &Request) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return invalid_request("the body is not JSON");
    };
    let field = |name: &str| body[name].as_str().unwrap_or_default().to_string();
    if field("grantType") != "refresh_token" {
        return invalid_request("the mock supports only grantType refresh_token");
    }
    let (client_id, refresh) = (field("clientId"), field("refreshToken"));
    let now = SystemTime::now();
    let now_secs = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
    let proof = verify_dpop(req, now_secs);
    let access_key_id = format!("ASIA{}", shared.unique_hex(16).to_ascii_uppercase());
    let secret = format!("loginsk{}", shared.unique_hex(33));
    let session_token = format!("loginst-{}", shared.unique_hex(80));
    let new_refresh = format!("loginrt-{}-{}", shared.next_unique(), shared.unique_hex(40));

    let mut guard = shared.state();
    let st = &mut *guard;
    let proof = match proof {
        Ok(p) => p,
        Err(reason) => {
            st.signin.rejected_proofs.push(reason.clone());
            return invalid_request(&format!("invalid DPoP proof: {reason}"));
        }
    };
    if !st.signin.seen_jti.insert(proof.jti.clone()) {
        st.signin.rejected_proofs.push(format!("jti {} was used before", proof.jti));
        return invalid_request("invalid DPoP proof: jti replayed");
    }
    let Some(session) = st.signin.sessions.iter_mut().find(|s| {
        !refresh.is_empty() && s.refresh_token.as_deref() == Some(refresh.as_str()) && s.client_id == client_id
    }) else {
        return token_expired();
    };
    if session.public_key != proof.point {
        st.signin.rejected_proofs.push("jwk is not the key the refresh token is bound to".into());
        return invalid_request("invalid DPoP proof: key does not match the refresh token");
    }
    if std::mem::take(&mut st.signin.expire_next) {
        session.refresh_token = None;
        return token_expired();
    }
    session.refresh_token = Some(new_refresh.clone());
    let expires_in = st.signin.expires_in;
    let expires_at = now + Duration::from_secs(u64::try_from(expires_in).unwrap_or_default());
    st.keys.insert(access_key_id.clone(), Key::issued(&secret, &session_token, expires_at));
    st.signin.issued_keys.push(access_key_id.clone());
    st.signin.issued_refresh_tokens.push(new_refresh.clone());
    Response::json(
        200,
        &json!({
            "accessToken": {
                "accessKeyId": access_key_id,
                "secretAccessKey": secret,
                "sessionToken": session_token,
            },
            "tokenType": "aws_sigv4",
            "expiresIn": expires_in,
            "refreshToken": new_refresh,
        }),
    )
}
