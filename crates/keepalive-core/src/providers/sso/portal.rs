//! SSO portal `GetRoleCredentials`: an SSO access token in, short-term role
//! credentials out.

use time::OffsetDateTime;

use crate::creds::Credentials;
use crate::http::{Body, Client, HttpError, Method, Request};
use crate::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    #[error("{at} refused the SSO access token (HTTP {status}{}): it has expired or was revoked", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default())]
    Unauthorized { at: String, status: u16, code: Option<String> },
    #[error("{at} sent an answer that is not role credentials ({detail}); retry later")]
    Malformed { at: String, detail: String },
    #[error(transparent)]
    Http(#[from] HttpError),
}

/// `GET {portal}/federation/credentials?role_name=R&account_id=A`, unsigned,
/// with the access token in `x-amz-sso_bearer_token`.
pub fn get_role_credentials(
    client: &Client,
    access_token: &Secret,
    account_id: &str,
    role_name: &str,
) -> Result<Credentials, PortalError> {
    let query = [("role_name", role_name), ("account_id", account_id)];
    let headers = [("x-amz-sso_bearer_token", access_token.expose())];
    let req = Request {
        op: "GetRoleCredentials",
        method: Method::Get,
        path: "/federation/credentials",
        query: &query,
        headers: &headers,
        body: Body::None,
    };
    let reply = client.send(&req)?;
    if reply.status == 401 || (reply.status == 403 && reply.error_code().as_deref() == Some("UnauthorizedException")) {
        let code = reply.error_code();
        return Err(PortalError::Unauthorized { at: reply.at, status: reply.status, code });
    }
    if reply.status != 200 {
        return Err(reply.into_status_error().into());
    }
    let malformed = |detail: &str| PortalError::Malformed { at: reply.at.clone(), detail: detail.to_string() };
    let v: serde_json::Value =
        serde_json::from_str(&reply.body).map_err(|e| malformed(crate::providers::sso::cache::json_problem(&e)))?;
    let rc = v.get("roleCredentials").ok_or_else(|| malformed("no roleCredentials"))?;
    let field = |k: &str| rc.get(k).and_then(|x| x.as_str()).filter(|s| !s.is_empty());
    let (Some(id), Some(secret), Some(token)) = (field("accessKeyId"), field("secretAccessKey"), field("sessionToken"))
    else {
        return Err(malformed("accessKeyId, secretAccessKey or sessionToken missing"));
    };
    let ms = rc
        .get("expiration")
        .and_then(|x| x.as_i64().or_else(|| x.as_f64().map(|f| f as i64)))
        .ok_or_else(|| malformed("no expiration"))?;
    let expiration =
        OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).map_err(|_| malformed("expiration out of range"))?;
    Ok(Credentials {
        access_key_id: id.to_string(),
        secret_access_key: Secret::new(secret),
        session_token: Some(Secret::new(token)),
        expiration: Some(expiration),
    })
}
