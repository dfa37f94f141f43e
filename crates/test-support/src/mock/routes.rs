//! Request routing, SigV4 checks, fault injection and the AWS-shaped answers of each route.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::http::{Delivery, Request, Response};
use super::{AccessToken, Fault, Key, MAX_RECORDED, RecordedRequest, Route, Shared, delivered_status};
use crate::eventstream;
use crate::sigv4;

/// Handles one request; returns the answer and the request's sequence number.
pub(super) fn handle(shared: &Shared, req: &Request) -> (Response, u64) {
    let route = classify(req);
    let model_id = model_id(route, &req.path);
    let (seq, fault) = {
        let mut st = shared.state();
        let seq = st.next_seq;
        st.next_seq += 1;
        *st.counts.entry(route).or_default() += 1;
        (seq, st.take_fault(route))
    };
    let sig = match route {
        Route::Sts if !super::sts::is_unsigned(req) => Some(verify_sigv4(shared, req, "sts")),
        Route::BedrockInvoke | Route::BedrockStream | Route::InferenceProfiles => {
            Some(verify_sigv4(shared, req, "bedrock"))
        }
        _ => None,
    };

    let mut resp = match &fault {
        Some(Fault::Slow(d)) => {
            sleep_unless_stopped(shared, *d);
            answer(shared, route, req, sig.as_ref(), model_id.as_deref())
        }
        Some(f) => fault_response(route, f),
        None => answer(shared, route, req, sig.as_ref(), model_id.as_deref()),
    };
    if resp.delivery == Delivery::Close {
        resp.status = 0;
    }

    let error = resp.header("x-amzn-errortype").map(str::to_string).or_else(|| error_code_in_body(&resp));
    let record = RecordedRequest {
        seq,
        at: SystemTime::now(),
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        route,
        headers: req.headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.clone())).collect(),
        body: req.body.clone(),
        model_id,
        access_key_id: sig.as_ref().and_then(|s| s.access_key_id.clone()),
        signing_service: sig.as_ref().and_then(|s| s.service.clone()),
        signing_region: sig.as_ref().and_then(|s| s.region.clone()),
        signature_ok: sig.as_ref().is_some_and(|s| s.signature_ok),
        signature_variant: sig.as_ref().and_then(|s| s.variant),
        security_token: req.header("x-amz-security-token").map(str::to_string),
        bearer_token: req.header("x-amz-sso_bearer_token").map(str::to_string),
        status: delivered_status(&resp),
        error,
        fault,
    };
    let mut st = shared.state();
    if st.requests.len() < MAX_RECORDED {
        // Keep the log in arrival order even when a slow request finishes after a later one.
        let pos = st.requests.partition_point(|r| r.seq < seq);
        st.requests.insert(pos, record);
    }
    (resp, seq)
}

fn classify(req: &Request) -> Route {
    let p = req.path.as_str();
    match req.method.as_str() {
        "POST" if p == "/token" => Route::Token,
        "POST" if p == "/v1/token" => Route::SigninToken,
        "GET" if p == "/federation/credentials" => Route::RoleCredentials,
        "POST" | "GET" if p == "/" && sts_action(req).is_some() => Route::Sts,
        "POST" if p.starts_with("/model/") && p.ends_with("/invoke-with-response-stream") => Route::BedrockStream,
        "POST" if p.starts_with("/model/") && p.ends_with("/invoke") => Route::BedrockInvoke,
        "GET" if p == "/inference-profiles" || p.starts_with("/inference-profiles/") => Route::InferenceProfiles,
        _ => Route::Other,
    }
}

/// `Action` of an STS query-protocol request, from the form body or the query string.
fn sts_action(req: &Request) -> Option<String> {
    let body = String::from_utf8_lossy(&req.body);
    form_value(&body, "Action").or_else(|| form_value(&req.query, "Action"))
}

/// Value of `name` in a `application/x-www-form-urlencoded` string.
pub(super) fn form_value(form: &str, name: &str) -> Option<String> {
    form.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| String::from_utf8_lossy(&sigv4::percent_decode(&s.replace('+', " "))).into_owned();
        (decode(k) == name).then(|| decode(v))
    })
}

/// Percent-decoded model id of a Bedrock runtime path.
fn model_id(route: Route, path: &str) -> Option<String> {
    let suffix = match route {
        Route::BedrockInvoke => "/invoke",
        Route::BedrockStream => "/invoke-with-response-stream",
        _ => return None,
    };
    let raw = path.strip_prefix("/model/")?.strip_suffix(suffix)?;
    Some(String::from_utf8_lossy(&sigv4::percent_decode(raw)).into_owned())
}

fn sleep_unless_stopped(shared: &Shared, d: Duration) {
    let deadline = Instant::now() + d;
    while Instant::now() < deadline && !shared.stop.load(std::sync::atomic::Ordering::SeqCst) {
        let left = deadline.saturating_duration_since(Instant::now());
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// Why a signed request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AuthFailure {
    Missing,
    Malformed,
    UnknownKey,
    BadSignature,
    WrongService,
    BadToken,
    Expired,
}

/// Outcome of the SigV4 check of one request.
#[derive(Debug, Clone)]
struct SigCheck {
    access_key_id: Option<String>,
    service: Option<String>,
    region: Option<String>,
    signature_ok: bool,
    variant: Option<&'static str>,
    failure: Option<AuthFailure>,
    expected_service: &'static str,
}

fn verify_sigv4(shared: &Shared, req: &Request, expected_service: &'static str) -> SigCheck {
    let mut check = SigCheck {
        access_key_id: None,
        service: None,
        region: None,
        signature_ok: false,
        variant: None,
        failure: None,
        expected_service,
    };
    let Some(auth) = req.header("authorization") else {
        check.failure = Some(AuthFailure::Missing);
        return check;
    };
    let Some(auth) = sigv4::parse_authorization(auth) else {
        check.failure = Some(AuthFailure::Malformed);
        return check;
    };
    check.access_key_id = Some(auth.access_key_id.clone());
    check.service = Some(auth.service.clone());
    check.region = Some(auth.region.clone());
    let key: Option<Key> = shared.state().keys.get(&auth.access_key_id).cloned();
    let Some(key) = key else {
        check.failure = Some(AuthFailure::UnknownKey);
        return check;
    };

    check.variant = signature_variant(req, &auth, &key.secret);
    check.signature_ok = check.variant.is_some();
    let sent_token = req.header("x-amz-security-token");
    check.failure = if !check.signature_ok {
        Some(AuthFailure::BadSignature)
    } else if auth.service != expected_service {
        Some(AuthFailure::WrongService)
    } else if sent_token != key.session_token.as_deref() {
        Some(AuthFailure::BadToken)
    } else if !key.usable(SystemTime::now()) {
        Some(AuthFailure::Expired)
    } else {
        None
    };
    check
}

/// Which canonical-URI variant, if any, reproduces the request's signature with `secret`.
///
/// Clients disagree on path encoding: the SDKs sign a path encoded once more than what they
/// send (double encoding for non-S3 services), and a `:` in a model id may be sent raw or as
/// `%3A`. Trying a few variants accepts all honest clients; the secret must still be right.
fn signature_variant(req: &Request, auth: &sigv4::AuthHeader, secret: &str) -> Option<&'static str> {
    let amz_date = req.header("x-amz-date")?;
    if !amz_date.starts_with(&auth.date) || !auth.signed_headers.iter().any(|h| h == "host") {
        return None;
    }
    let headers: Vec<(String, String)> =
        auth.signed_headers.iter().map(|name| (name.clone(), req.header_all(name).join(","))).collect();
    let payload_hash = match req.header("x-amz-content-sha256") {
        Some(h) => h.to_string(),
        None => sigv4::sha256_hex(&req.body),
    };
    let query = sigv4::canonical_query(&req.query);
    let raw = if req.path.is_empty() { "/" } else { req.path.as_str() };
    let enc = |s: &str| sigv4::uri_encode(s.as_bytes(), true);
    let decoded = String::from_utf8_lossy(&sigv4::percent_decode(raw)).into_owned();
    let variants: [(&'static str, String); 6] = [
        ("as-received", raw.to_string()),
        ("encoded-once", enc(raw)),
        ("encoded-twice", enc(&enc(raw))),
        ("decoded", decoded.clone()),
        ("decoded-encoded-once", enc(&decoded)),
        ("decoded-encoded-twice", enc(&enc(&decoded))),
    ];
    let scope = auth.scope();
    let mut tried: Vec<&str> = Vec::new();
    for (name, uri) in &variants {
        if tried.contains(&uri.as_str()) {
            continue;
        }
        tried.push(uri);
        let creq = sigv4::canonical_request(&req.method, uri, &query, &headers, &payload_hash);
        let sts = sigv4::string_to_sign(amz_date, &scope, &creq);
        if sigv4::signature(secret, &auth.date, &auth.region, &auth.service, &sts) == auth.signature {
            return Some(name);
        }
    }
    None
}

/// The normal (fault-free) answer of a route.
fn answer(shared: &Shared, route: Route, req: &Request, sig: Option<&SigCheck>, model_id: Option<&str>) -> Response {
    if let Some(failure) = sig.and_then(|s| s.failure.map(|f| (f, s.expected_service))) {
        return auth_error(route, failure.0, failure.1);
    }
    match route {
        Route::Token => create_token(shared, req),
        Route::SigninToken => super::signin::token(shared, req),
        Route::RoleCredentials => role_credentials(shared, req),
        Route::Sts => super::sts::answer(shared, req, sig.and_then(|s| s.access_key_id.as_deref())),
        Route::BedrockInvoke => invoke(shared, model_id.unwrap_or_default()),
        Route::BedrockStream => invoke_stream(shared, model_id.unwrap_or_default()),
        Route::InferenceProfiles => inference_profiles(req),
        Route::Other => {
            aws_json_error(404, "UnknownOperationException", &format!("mock: no route for {} {}", req.method, req.path))
        }
    }
}

/// Error in the AWS JSON protocols: `x-amzn-errortype` header and `{"message"}` body.
fn aws_json_error(status: u16, error_type: &str, message: &str) -> Response {
    Response::json(status, &json!({ "message": message })).with_header("x-amzn-errortype", error_type)
}

/// Error in the STS query protocol (XML).
pub(super) fn sts_error(status: u16, code: &str, message: &str) -> Response {
    let kind = if status >= 500 { "Receiver" } else { "Sender" };
    Response::new(
        status,
        "text/xml",
        format!(
            "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <Error>\n    \
             <Type>{kind}</Type>\n    <Code>{code}</Code>\n    <Message>{message}</Message>\n  \
             </Error>\n  <RequestId>00000000-0000-0000-0000-000000000000</RequestId>\n</ErrorResponse>\n"
        ),
    )
}

/// Error in the SSO-OIDC protocol: `{"error","error_description"}`.
fn oidc_error(status: u16, code: &str, error_type: &str, description: &str) -> Response {
    Response::json(status, &json!({ "error": code, "error_description": description }))
        .with_header("x-amzn-errortype", error_type)
}

/// Pulls `error` (OIDC) or `<Code>` (STS) out of an error body, for the request log.
fn error_code_in_body(resp: &Response) -> Option<String> {
    if resp.status < 400 {
        return None;
    }
    let text = String::from_utf8_lossy(&resp.body);
    if let Some(code) = serde_json::from_str::<Value>(&text).ok().and_then(|v| v["error"].as_str().map(str::to_string))
    {
        return Some(code);
    }
    let start = text.find("<Code>")? + "<Code>".len();
    let end = text[start..].find("</Code>")? + start;
    Some(text[start..end].to_string())
}

fn auth_error(route: Route, failure: AuthFailure, expected_service: &str) -> Response {
    const INVALID_TOKEN: &str = "The security token included in the request is invalid.";
    const EXPIRED: &str = "The security token included in the request is expired";
    const BAD_SIG: &str = "The request signature we calculated does not match the signature \
        you provided. Check your AWS Secret Access Key and signing method. Consult the service \
        documentation for details.";
    let wrong_service = format!("Credential should be scoped to correct service: '{expected_service}'. ");
    if route == Route::Sts {
        return match failure {
            AuthFailure::Missing => {
                sts_error(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
            }
            AuthFailure::Malformed => sts_error(400, "IncompleteSignature", "Malformed Authorization header"),
            AuthFailure::UnknownKey | AuthFailure::BadToken => sts_error(403, "InvalidClientTokenId", INVALID_TOKEN),
            AuthFailure::BadSignature => sts_error(403, "SignatureDoesNotMatch", BAD_SIG),
            AuthFailure::WrongService => sts_error(403, "SignatureDoesNotMatch", &wrong_service),
            AuthFailure::Expired => sts_error(403, "ExpiredToken", EXPIRED),
        };
    }
    match failure {
        AuthFailure::Missing => {
            aws_json_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        }
        AuthFailure::Malformed => aws_json_error(403, "IncompleteSignatureException", "Malformed Authorization header"),
        AuthFailure::UnknownKey | AuthFailure::BadToken => {
            aws_json_error(403, "UnrecognizedClientException", INVALID_TOKEN)
        }
        AuthFailure::BadSignature => aws_json_error(403, "InvalidSignatureException", BAD_SIG),
        AuthFailure::WrongService => aws_json_error(403, "InvalidSignatureException", &wrong_service),
        AuthFailure::Expired => aws_json_error(403, "ExpiredTokenException", EXPIRED),
    }
}

fn fault_response(route: Route, fault: &Fault) -> Response {
    match fault {
        Fault::Status(code) => {
            let error_type = match code {
                400 => "ValidationException",
                401 => "UnauthorizedException",
                403 => "AccessDeniedException",
                404 => "ResourceNotFoundException",
                429 => "ThrottlingException",
                500 => "InternalServerException",
                503 => "ServiceUnavailableException",
                _ => "MockFaultException",
            };
            let message = format!("mock fault: HTTP {code}");
            match route {
                Route::Sts => sts_error(*code, error_type, &message),
                Route::Token => oidc_error(*code, "server_error", error_type, &message),
                _ => aws_json_error(*code, error_type, &message),
            }
        }
        Fault::Throttle { retry_after_secs } => {
            let resp = if route == Route::Sts {
                sts_error(429, "Throttling", "Rate exceeded")
            } else {
                aws_json_error(429, "ThrottlingException", "Rate exceeded")
            };
            resp.with_header("Retry-After", &retry_after_secs.to_string())
        }
        Fault::MalformedJson => {
            if route == Route::Sts {
                Response::new(200, "text/xml", "<GetCallerIdentityResponse><broken")
            } else {
                Response::new(200, "application/json", "{\"mock\": \"this is not json")
            }
        }
        Fault::Truncated => {
            let mut resp = Response::json(
                200,
                &json!({
                    "message": "mock fault: this body is cut short on purpose",
                    "padding": "x".repeat(256),
                }),
            );
            resp.delivery = Delivery::Truncated;
            resp
        }
        Fault::InvalidGrant => oidc_error(400, "invalid_grant", "InvalidGrantException", "mock fault: invalid_grant"),
        Fault::Unauthorized => match route {
            Route::Token => oidc_error(401, "invalid_client", "InvalidClientException", "mock fault: invalid_client"),
            Route::Sts => sts_error(403, "ExpiredToken", "The security token included in the request is expired"),
            Route::BedrockInvoke | Route::BedrockStream | Route::InferenceProfiles => {
                aws_json_error(403, "ExpiredTokenException", "The security token included in the request is expired")
            }
            Route::SigninToken => super::signin::token_expired(),
            Route::RoleCredentials | Route::Other => {
                aws_json_error(401, "UnauthorizedException", "Session token not found or invalid")
            }
        },
        Fault::CloseConnection | Fault::Slow(_) => {
            let mut resp = Response::new(0, "text/plain", "");
            resp.delivery = Delivery::Close;
            resp
        }
    }
}

/// `now + secs`, clamped to `now` for zero or negative lifetimes ("dead on arrival").
fn after(now: SystemTime, secs: i64) -> SystemTime {
    now + Duration::from_secs(u64::try_from(secs).unwrap_or_default())
}

fn create_token(shared: &Shared, req: &Request) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return oidc_error(400, "invalid_request", "InvalidRequestException", "body is not JSON");
    };
    let field = |name: &str| body[name].as_str().unwrap_or_default().to_string();
    if field("grantType") != "refresh_token" {
        return oidc_error(
            400,
            "unsupported_grant_type",
            "UnsupportedGrantTypeException",
            "the mock supports only grantType refresh_token",
        );
    }
    let (client_id, client_secret, refresh) = (field("clientId"), field("clientSecret"), field("refreshToken"));
    let n = shared.next_unique();
    let access_token = format!("mockat-{n}-{}", shared.unique_hex(24));
    let new_refresh = format!("mockrt-{n}-{}", shared.unique_hex(24));
    let now = SystemTime::now();

    let mut st = shared.state();
    let client_ok = st.oidc_client.as_ref().is_some_and(|(id, secret)| *id == client_id && *secret == client_secret);
    if !client_ok {
        // AWS answers InvalidClientException with HTTP 401.
        return oidc_error(401, "invalid_client", "InvalidClientException", "Invalid client provided");
    }
    if refresh.is_empty() || st.refresh_token.as_deref() != Some(refresh.as_str()) {
        return oidc_error(400, "invalid_grant", "InvalidGrantException", "Invalid refresh token provided");
    }
    let expires_in = st.token_expires_in;
    st.access_tokens
        .insert(access_token.clone(), AccessToken { valid: true, expires_at: Some(after(now, expires_in)) });
    st.issued_access_tokens.push(access_token.clone());
    let mut out = json!({
        "accessToken": access_token,
        "expiresIn": expires_in,
        "tokenType": "Bearer",
    });
    if st.rotate_refresh_token {
        st.refresh_token = Some(new_refresh.clone());
        st.issued_refresh_tokens.push(new_refresh.clone());
        out["refreshToken"] = json!(new_refresh);
    }
    Response::json(200, &out)
}

fn role_credentials(shared: &Shared, req: &Request) -> Response {
    let role = form_value(&req.query, "role_name").unwrap_or_default();
    let account = form_value(&req.query, "account_id").unwrap_or_default();
    if role.is_empty() || account.is_empty() {
        return aws_json_error(400, "InvalidRequestException", "role_name and account_id are required");
    }
    let unauthorized = || aws_json_error(401, "UnauthorizedException", "Session token not found or invalid");
    let Some(bearer) = req.header("x-amz-sso_bearer_token") else {
        return unauthorized();
    };
    let now = SystemTime::now();
    let access_key_id = format!("ASIA{}", shared.unique_hex(16).to_ascii_uppercase());
    let secret = shared.unique_hex(40);
    let session_token = format!("mockst-{}", shared.unique_hex(96));

    let mut st = shared.state();
    let token_ok = st.access_tokens.get(bearer).is_some_and(|t| t.valid && t.expires_at.is_none_or(|e| now < e));
    if !token_ok {
        return unauthorized();
    }
    let expires_at = after(now, st.role_creds_lifetime);
    st.keys.insert(access_key_id.clone(), Key::issued(&secret, &session_token, expires_at));
    st.issued_role_keys.push(access_key_id.clone());
    let expiration_ms = expires_at.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or_default();
    Response::json(
        200,
        &json!({
            "roleCredentials": {
                "accessKeyId": access_key_id,
                "secretAccessKey": secret,
                "sessionToken": session_token,
                "expiration": u64::try_from(expiration_ms).unwrap_or(u64::MAX),
            }
        }),
    )
}

pub(super) fn sts(req: &Request, access_key_id: Option<&str>) -> Response {
    let action = sts_action(req).unwrap_or_default();
    if action != "GetCallerIdentity" {
        return sts_error(400, "InvalidAction", &format!("mock: unsupported STS action {action}"));
    }
    let akid = access_key_id.unwrap_or_default();
    let (arn, user_id) = if akid.starts_with("ASIA") {
        ("arn:aws:sts::123456789012:assumed-role/MockRole/mock-session", "AROAMOCKROLE00000000:mock-session")
    } else {
        ("arn:aws:iam::123456789012:user/mock-user", "AIDAMOCKUSER00000000")
    };
    Response::new(
        200,
        "text/xml",
        format!(
            "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  \
             <GetCallerIdentityResult>\n    <Arn>{arn}</Arn>\n    <UserId>{user_id}</UserId>\n    \
             <Account>123456789012</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    \
             <RequestId>00000000-0000-0000-0000-000000000001</RequestId>\n  </ResponseMetadata>\n\
             </GetCallerIdentityResponse>\n"
        ),
    )
}

fn usage() -> Value {
    json!({ "input_tokens": 12, "output_tokens": 6, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0 })
}

fn invoke(shared: &Shared, model: &str) -> Response {
    let answer = shared.state().answer.clone();
    let id = format!("msg_bdrk_mock{}", shared.next_unique());
    Response::json(
        200,
        &json!({
            "id": id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{ "type": "text", "text": answer }],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": usage(),
        }),
    )
}

/// The Anthropic streaming events of one answer, in order.
pub(crate) fn stream_events(id: &str, model: &str, answer: &str) -> Vec<Value> {
    vec![
        json!({
            "type": "message_start",
            "message": {
                "id": id, "type": "message", "role": "assistant", "model": model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": { "input_tokens": 12, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0 },
            },
        }),
        json!({ "type": "content_block_start", "index": 0, "content_block": { "type": "text", "text": "" } }),
        json!({ "type": "content_block_delta", "index": 0, "delta": { "type": "text_delta", "text": answer } }),
        json!({ "type": "content_block_stop", "index": 0 }),
        json!({
            "type": "message_delta",
            "delta": { "stop_reason": "end_turn", "stop_sequence": null },
            "usage": { "output_tokens": 6 },
        }),
        json!({
            "type": "message_stop",
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": 12, "outputTokenCount": 6, "invocationLatency": 42, "firstByteLatency": 21,
            },
        }),
    ]
}

fn invoke_stream(shared: &Shared, model: &str) -> Response {
    let answer = shared.state().answer.clone();
    let id = format!("msg_bdrk_mock{}", shared.next_unique());
    let mut body = Vec::new();
    for event in stream_events(&id, model, &answer) {
        body.extend(eventstream::bedrock_chunk(&event.to_string()));
    }
    Response::new(200, "application/vnd.amazon.eventstream", body)
        .with_header("x-amzn-bedrock-content-type", "application/json")
}

fn inference_profiles(req: &Request) -> Response {
    if req.path == "/inference-profiles" {
        Response::json(200, &json!({ "inferenceProfileSummaries": [] }))
    } else {
        aws_json_error(404, "ResourceNotFoundException", "mock: no such inference profile")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_and_model_ids() {
        assert_eq!(
            form_value("Action=GetCallerIdentity&Version=2011-06-15", "Action").as_deref(),
            Some("GetCallerIdentity")
        );
        assert_eq!(form_value("a=x+y%21", "a").as_deref(), Some("x y!"));
        assert_eq!(form_value("a", "b"), None);
        assert_eq!(
            model_id(Route::BedrockStream, "/model/a.b%3A0/invoke-with-response-stream").as_deref(),
            Some("a.b:0")
        );
        assert_eq!(model_id(Route::BedrockInvoke, "/model/a.b:0/invoke").as_deref(), Some("a.b:0"));
    }
}
