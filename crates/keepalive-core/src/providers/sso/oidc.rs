//! SSO-OIDC `CreateToken` with a refresh token: the silent refresh botocore
//! and the AWS CLI do, so a new access token needs no browser.

use crate::http::{Body, Client, HttpError, Method, Request};
use crate::secret::Secret;

/// OIDC error codes that mean the refresh token or client registration is
/// dead: only a browser login helps, and retrying would not.
pub const LOGIN_ERRORS: &[&str] =
    &["invalid_grant", "invalid_client", "expired_token", "unauthorized_client", "access_denied"];

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("{at} refused the refresh (HTTP {status} {code}): the SSO session or client registration has ended")]
    Rejected { at: String, status: u16, code: String },
    #[error("{at} sent an answer that is not a CreateToken result ({detail}); retry later")]
    Malformed { at: String, detail: String },
    #[error(transparent)]
    Http(#[from] HttpError),
}

impl OidcError {
    /// Whether only a browser login (`aws sso login`) can fix this.
    pub fn needs_login(&self) -> bool {
        matches!(self, OidcError::Rejected { .. })
    }

    /// The OIDC error code, when the service gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            OidcError::Rejected { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// The longest `expiresIn` we accept: ten years, in seconds.
pub const MAX_EXPIRES_IN: i64 = 10 * 366 * 24 * 3600;

/// A new access token. `refresh_token` is the rotated refresh token, when
/// the service returned one (the old one then stops working).
#[derive(Debug, Clone)]
pub struct TokenGrant {
    pub access_token: Secret,
    pub expires_in: i64,
    pub refresh_token: Option<Secret>,
}

/// `POST {oidc}/token` with `grantType=refresh_token`.
pub fn create_token(
    client: &Client,
    client_id: &str,
    client_secret: &Secret,
    refresh_token: &Secret,
) -> Result<TokenGrant, OidcError> {
    let body = serde_json::json!({
        "clientId": client_id,
        "clientSecret": client_secret.expose(),
        "grantType": "refresh_token",
        "refreshToken": refresh_token.expose(),
    })
    .to_string();
    let req = Request {
        op: "CreateToken",
        method: Method::Post,
        path: "/token",
        query: &[],
        headers: &[],
        body: Body::Json(body),
    };
    let reply = client.send(&req)?;
    if reply.status != 200 {
        let code = reply.error_code();
        let login = match code.as_deref() {
            Some(c) => LOGIN_ERRORS.contains(&c),
            // No code but "unauthorised": the same meaning.
            None => reply.status == 401 || reply.status == 403,
        };
        if login && (400..500).contains(&reply.status) {
            return Err(OidcError::Rejected {
                at: reply.at,
                status: reply.status,
                code: code.unwrap_or_else(|| "unauthorized".into()),
            });
        }
        return Err(reply.into_status_error().into());
    }
    let malformed = |detail: &str| OidcError::Malformed { at: reply.at.clone(), detail: detail.to_string() };
    let v: serde_json::Value =
        serde_json::from_str(&reply.body).map_err(|e| malformed(crate::providers::sso::cache::json_problem(&e)))?;
    let access_token = v
        .get("accessToken")
        .and_then(|x| x.as_str())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| malformed("no accessToken"))?;
    let expires_in = v
        .get("expiresIn")
        .and_then(|x| x.as_i64().or_else(|| x.as_f64().map(|f| f as i64)))
        .ok_or_else(|| malformed("no expiresIn"))?;
    // Access tokens last hours; a lifetime past this is a broken answer, and
    // adding it to the clock would overflow.
    if !(0..=MAX_EXPIRES_IN).contains(&expires_in) {
        return Err(malformed("expiresIn out of range"));
    }
    let refresh_token = v.get("refreshToken").and_then(|x| x.as_str()).filter(|s| !s.is_empty()).map(Secret::new);
    Ok(TokenGrant { access_token: Secret::new(access_token), expires_in, refresh_token })
}
