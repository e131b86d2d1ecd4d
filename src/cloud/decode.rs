//! Turning an HTTP answer (status, headers, body bytes) into a typed result or a classified
//! [`CloudError`]. Pure functions: no I/O, never a panic, whatever the bytes.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::credentials::{SecretString, DEFAULT_SECRET_REF};
use super::error::CloudError;
use super::op::Operation;
use super::types::{ErrorBody, ListResponse, LoginResponse};

/// The largest answer body the client reads: 10 MiB.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// The longest `Retry-After` honoured; longer values are clamped to it.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// The longest API message quoted in an error.
const MAX_MESSAGE_CHARS: usize = 300;

/// An answer as read off the wire. `Debug` shows the body's length, not the body (a login
/// answer holds a token).
#[derive(Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The `X-Request-ID` header.
    pub request_id: Option<String>,
    /// The `Retry-After` header, parsed.
    pub retry_after: Option<Duration>,
    /// The body (at most [`MAX_BODY_BYTES`]).
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("request_id", &self.request_id)
            .field("retry_after", &self.retry_after)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl Reply {
    /// Builds a reply from the parts, reading `X-Request-ID` and `Retry-After` (relative to
    /// `now` when it is an HTTP-date).
    pub fn from_parts(status: u16, headers: &HeaderMap, body: Vec<u8>, now: DateTime<Utc>) -> Self {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        Reply {
            status,
            request_id: header("x-request-id").map(|s| sanitize(&s, 128)),
            retry_after: header("retry-after").and_then(|v| parse_retry_after(&v, now)),
            body,
        }
    }
}

/// Who asked, for messages: the operation, the id it was about, and the Secret to point at on
/// a 401.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorContext {
    /// The operation.
    pub op: Operation,
    /// The id the call was about (offering id, VM id), if any.
    pub target: Option<String>,
    /// The Secret holding the credentials, `namespace/name`.
    pub secret: String,
    /// Its keys in use, e.g. `clientId, clientSecret`.
    pub keys: String,
}

impl ErrorContext {
    /// A context for `op` with the default Secret and client-credential keys.
    pub fn new(op: Operation) -> Self {
        ErrorContext {
            op,
            target: None,
            secret: DEFAULT_SECRET_REF.to_string(),
            keys: "clientId, clientSecret".to_string(),
        }
    }

    /// The same context about `target`.
    pub fn with_target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
}

/// Parses a `Retry-After` value: delay seconds (`"12"`) or an HTTP-date
/// (`"Wed, 21 Oct 2015 07:28:00 GMT"`) relative to `now`. A date in the past gives zero; junk
/// gives `None`; anything over [`MAX_RETRY_AFTER`] is clamped to it.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        let secs = v.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(secs).min(MAX_RETRY_AFTER));
    }
    if let Ok(f) = v.parse::<f64>() {
        if f.is_finite() && f >= 0.0 {
            return Some(Duration::from_secs_f64(
                f.min(MAX_RETRY_AFTER.as_secs_f64()),
            ));
        }
        return None;
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    let d = (at - now).to_std().unwrap_or(Duration::ZERO);
    Some(d.min(MAX_RETRY_AFTER))
}

/// Checks a body length against [`MAX_BODY_BYTES`].
pub fn check_body_size(op: Operation, len: usize, status: Option<u16>) -> Result<(), CloudError> {
    if len > MAX_BODY_BYTES {
        return Err(CloudError::Decode {
            op,
            status,
            detail: format!(
                "answer body is larger than the {} MiB cap",
                MAX_BODY_BYTES / (1024 * 1024)
            ),
            request_id: None,
        });
    }
    Ok(())
}

/// Text fit for a message: control characters dropped, cut at `max` characters.
fn sanitize(s: &str, max: usize) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    if s.chars().filter(|c| !c.is_control()).count() > max {
        out.push('…');
    }
    out
}

/// The short error name and message of an error body, whatever its shape.
fn error_parts(body: &[u8]) -> (Option<String>, String) {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        let parsed: ErrorBody = serde_json::from_value(Value::Object(map)).unwrap_or_default();
        let short = parsed
            .error
            .filter(|e| e != "true" && e != "false" && !e.trim().is_empty());
        let message = parsed
            .message
            .filter(|m| !m.trim().is_empty())
            .or_else(|| short.clone())
            .unwrap_or_else(|| "no message".to_string());
        return (
            short.map(|s| sanitize(&s, 64)),
            sanitize(&message, MAX_MESSAGE_CHARS),
        );
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        (None, "no message".to_string())
    } else {
        (None, sanitize(text, MAX_MESSAGE_CHARS))
    }
}

/// Whether an error names a quota.
fn is_quota(short: Option<&str>, message: &str) -> bool {
    short.is_some_and(|s| s.to_ascii_lowercase().contains("quota"))
        || message.to_ascii_lowercase().contains("quota")
}

/// What a 404 means for this call: (what is missing, what to do).
fn not_found_text(ctx: &ErrorContext, message: &str) -> (String, String) {
    let m = message.to_ascii_lowercase();
    let target = ctx
        .target
        .as_deref()
        .map(|t| format!(" '{t}'"))
        .unwrap_or_default();
    if m.contains("datacenter") || m.contains("data center") {
        return (
            format!("Datacenter not found{}", if ctx.op == Operation::CreateVM { String::new() } else { target }),
            "verify datacenterID in the NodeGroup against the VPSie console (kubectl vpsie datacenters)".to_string(),
        );
    }
    if m.contains("image") || m.contains("os_image") {
        return (
            "OS image not found".to_string(),
            "verify osImageID in the NodeGroup against the available images (kubectl vpsie images)"
                .to_string(),
        );
    }
    if ctx.op == Operation::GetOffering
        || m.contains("offering")
        || m.contains("boxsize")
        || m.contains("instance type")
    {
        return (
            format!("Instance type not available: offering{}", if ctx.op == Operation::GetOffering { target } else { String::new() }),
            "check offeringID in the NodeGroup against the offerings of its datacenter (kubectl vpsie offerings)".to_string(),
        );
    }
    match ctx.op {
        Operation::GetVM | Operation::DeleteVM => (
            format!("VM not found: id{target}"),
            "the VM is gone (deleted outside the autoscaler?); its VPSieNode will be replaced"
                .to_string(),
        ),
        _ => (
            "VPSie resource not found".to_string(),
            "check the base URL and the IDs in the NodeGroup spec".to_string(),
        ),
    }
}

/// Classifies a failed answer (any status, usually not 2xx) into a [`CloudError`].
pub fn classify(ctx: &ErrorContext, reply: &Reply) -> CloudError {
    let (short, message) = error_parts(&reply.body);
    classify_parts(ctx, reply.status, short, message, reply)
}

fn classify_parts(
    ctx: &ErrorContext,
    status: u16,
    short: Option<String>,
    message: String,
    reply: &Reply,
) -> CloudError {
    let op = ctx.op;
    let request_id = reply.request_id.clone();
    match status {
        401 => CloudError::Unauthorized {
            op,
            status,
            secret: ctx.secret.clone(),
            keys: ctx.keys.clone(),
            message,
            request_id,
        },
        429 => CloudError::RateLimited {
            op,
            retry_after: reply.retry_after,
            message,
            request_id,
        },
        500..=599 => CloudError::Server {
            op,
            status,
            message,
            retry_after: reply.retry_after,
            request_id,
        },
        400..=499 if is_quota(short.as_deref(), &message) => {
            let stripped = message
                .strip_prefix("Insufficient VPSie quota")
                .map(|r| r.trim_start_matches([':', ' ', '-']).to_string())
                .unwrap_or_else(|| message.clone());
            let message = if stripped.trim().is_empty() {
                "the account quota is exhausted".to_string()
            } else {
                stripped
            };
            CloudError::QuotaExceeded {
                op,
                message,
                request_id,
            }
        }
        403 => CloudError::Forbidden {
            op,
            message,
            request_id,
        },
        404 => {
            let (what, hint) = not_found_text(ctx, &message);
            CloudError::NotFound {
                op,
                what,
                hint,
                message,
                request_id,
            }
        }
        400..=499 => CloudError::BadRequest {
            op,
            status,
            message,
            request_id,
        },
        other => CloudError::Decode {
            op,
            status: Some(other),
            detail: format!("unexpected HTTP status {other} ({message})"),
            request_id,
        },
    }
}

/// Checks the `{"error": true, "code": N, ...}` envelope of a 2xx answer: a refusal wrapped
/// in a 200 is classified by its `code` (400 when it has none usable).
fn envelope_error(ctx: &ErrorContext, reply: &Reply, value: &Value) -> Option<CloudError> {
    let obj = value.as_object()?;
    if obj.get("error") != Some(&Value::Bool(true)) {
        return None;
    }
    let code = obj
        .get("code")
        .and_then(|c| {
            c.as_u64()
                .or_else(|| c.as_str().and_then(|s| s.trim().parse().ok()))
        })
        .filter(|c| (400..=599).contains(c))
        .unwrap_or(400) as u16;
    let (short, message) = error_parts(&reply.body);
    Some(classify_parts(ctx, code, short, message, reply))
}

fn decode_error(ctx: &ErrorContext, reply: &Reply, detail: String) -> CloudError {
    CloudError::Decode {
        op: ctx.op,
        status: Some(reply.status),
        detail,
        request_id: reply.request_id.clone(),
    }
}

/// Parses the body of a 2xx reply as JSON, or classifies the failure.
fn json_value(ctx: &ErrorContext, reply: &Reply) -> Result<Value, CloudError> {
    json_value_with(ctx, reply, true)
}

/// Like [`json_value`]; `echo` says whether a piece of a malformed body may be quoted in the
/// error (never for a login answer, which may hold a token).
fn json_value_with(ctx: &ErrorContext, reply: &Reply, echo: bool) -> Result<Value, CloudError> {
    if let Err(CloudError::Decode {
        op, status, detail, ..
    }) = check_body_size(ctx.op, reply.body.len(), Some(reply.status))
    {
        return Err(CloudError::Decode {
            op,
            status,
            detail,
            request_id: reply.request_id.clone(),
        });
    }
    if !(200..=299).contains(&reply.status) {
        return Err(classify(ctx, reply));
    }
    let value: Value = serde_json::from_slice(&reply.body).map_err(|e| {
        let detail = if echo {
            format!(
                "body is not valid JSON ({e}): {}",
                sanitize(&String::from_utf8_lossy(&reply.body), 80)
            )
        } else {
            format!(
                "body is not valid JSON (error at line {} column {})",
                e.line(),
                e.column()
            )
        };
        decode_error(ctx, reply, detail)
    })?;
    if let Some(err) = envelope_error(ctx, reply, &value) {
        return Err(err);
    }
    Ok(value)
}

/// Decodes a single object answer (`GET /vm/{id}`, `POST /vm`, `GET /offerings/{id}`). The
/// object may also come wrapped as `{"data": {...}}` (the envelope).
pub fn decode_object<T: DeserializeOwned>(
    ctx: &ErrorContext,
    reply: &Reply,
) -> Result<T, CloudError> {
    let value = json_value(ctx, reply)?;
    let inner = match &value {
        Value::Object(map) if map.contains_key("data") && !map.contains_key("id") => {
            map.get("data").cloned().unwrap_or(Value::Null)
        }
        _ => value,
    };
    serde_json::from_value(inner).map_err(|e| {
        decode_error(
            ctx,
            reply,
            format!(
                "answer is not a {} ({e})",
                std::any::type_name::<T>()
                    .rsplit("::")
                    .next()
                    .unwrap_or("value")
            ),
        )
    })
}

/// Decodes a list answer `{"data": [...], "pagination": {...}}`; a bare array is accepted too.
pub fn decode_list<T: DeserializeOwned>(
    ctx: &ErrorContext,
    reply: &Reply,
) -> Result<ListResponse<T>, CloudError> {
    let value = json_value(ctx, reply)?;
    let value = match value {
        Value::Array(items) => {
            let mut map = serde_json::Map::new();
            map.insert("data".to_string(), Value::Array(items));
            Value::Object(map)
        }
        Value::Object(mut map) if map.get("data").is_some_and(Value::is_null) => {
            map.insert("data".to_string(), Value::Array(Vec::new()));
            Value::Object(map)
        }
        other => other,
    };
    serde_json::from_value(value).map_err(|e| {
        decode_error(
            ctx,
            reply,
            format!(
                "answer is not a list envelope {{\"data\": [...], \"pagination\": {{...}}}} ({e})"
            ),
        )
    })
}

/// Checks an answer whose body does not matter (`DELETE`, `GET /health`): a 2xx is success
/// unless it is an error envelope.
pub fn decode_empty(ctx: &ErrorContext, reply: &Reply) -> Result<(), CloudError> {
    check_body_size(ctx.op, reply.body.len(), Some(reply.status))?;
    if !(200..=299).contains(&reply.status) {
        return Err(classify(ctx, reply));
    }
    if let Ok(value) = serde_json::from_slice::<Value>(&reply.body) {
        if let Some(err) = envelope_error(ctx, reply, &value) {
            return Err(err);
        }
    }
    Ok(())
}

/// Checks the answer of `DELETE /vm/{id}`: like [`decode_empty`], and a 404 means the VM is
/// already gone, which is what was asked (so it is no error, for the metrics neither).
pub fn decode_delete(ctx: &ErrorContext, reply: &Reply) -> Result<(), CloudError> {
    match decode_empty(ctx, reply) {
        Err(CloudError::NotFound { .. }) => Ok(()),
        other => other,
    }
}

/// An access token from a login.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginToken {
    /// The token.
    pub token: SecretString,
    /// Its expiry, when the answer gave a readable one.
    pub expires: Option<DateTime<Utc>>,
}

/// Decodes the answer of `POST /auth/from/api`.
pub fn decode_login(ctx: &ErrorContext, reply: &Reply) -> Result<LoginToken, CloudError> {
    let value = json_value_with(ctx, reply, false)?;
    // serde's messages quote values, and this answer holds a token: say only what is expected.
    let login: LoginResponse = serde_json::from_value(value).map_err(|_| {
        decode_error(
            ctx,
            reply,
            "login answer has an unexpected shape (expected {\"accessToken\": {\"token\": \"...\", \"expires\": \"<RFC3339>\"}})".to_string(),
        )
    })?;
    let access = login
        .access_token
        .ok_or_else(|| decode_error(ctx, reply, "login answer has no accessToken".to_string()))?;
    if access.token.trim().is_empty() {
        return Err(decode_error(
            ctx,
            reply,
            "login answer has an empty accessToken.token".to_string(),
        ));
    }
    let expires = access
        .expires
        .as_deref()
        .and_then(|e| DateTime::parse_from_rfc3339(e.trim()).ok())
        .map(|d| d.with_timezone(&Utc));
    Ok(LoginToken {
        token: SecretString::new(access.token),
        expires,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud::error::ErrorClass;
    use crate::cloud::types::{Offering, Vps};
    use chrono::TimeZone;
    use reqwest::header::HeaderValue;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2015, 10, 21, 7, 28, 0)
            .single()
            .expect("valid")
    }

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status,
            request_id: Some("req-1".to_string()),
            retry_after: None,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn retry_after_seconds_dates_and_junk() {
        assert_eq!(
            parse_retry_after("12", now()),
            Some(Duration::from_secs(12))
        );
        assert_eq!(parse_retry_after(" 0 ", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.5", now()),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now()),
            Some(MAX_RETRY_AFTER)
        );
        for junk in [
            "",
            "soon",
            "-5",
            "NaN",
            "inf",
            "12s",
            "Wed, 99 Foo 2015",
            "-1.0",
        ] {
            assert_eq!(parse_retry_after(junk, now()), None, "{junk:?}");
        }
    }

    #[test]
    fn reply_reads_headers() {
        let mut h = HeaderMap::new();
        h.insert("x-request-id", HeaderValue::from_static("abc-123"));
        h.insert("retry-after", HeaderValue::from_static("7"));
        let r = Reply::from_parts(429, &h, Vec::new(), now());
        assert_eq!(r.request_id.as_deref(), Some("abc-123"));
        assert_eq!(r.retry_after, Some(Duration::from_secs(7)));
        let e = classify(&ErrorContext::new(Operation::ListVMs), &r);
        assert_eq!(
            e.to_string(),
            "VPSie API rate limit hit (429) on ListVMs; retry after 7s [X-Request-ID abc-123]"
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(7)));
        assert_eq!(e.request_id(), Some("abc-123"));
    }

    #[test]
    fn every_status_is_classified() {
        let ctx = ErrorContext::new(Operation::CreateVM);
        let cases: &[(u16, &str, ErrorClass)] = &[
            (
                401,
                r#"{"error":"unauthorized","message":"bad token","code":401}"#,
                ErrorClass::Unauthorized,
            ),
            (
                403,
                r#"{"error":"forbidden","message":"no","code":403}"#,
                ErrorClass::Forbidden,
            ),
            (
                404,
                r#"{"error":"not_found","message":"Datacenter x not found","code":404}"#,
                ErrorClass::NotFound,
            ),
            (429, "", ErrorClass::RateLimited),
            (500, "oops", ErrorClass::ServerError),
            (502, "<html>bad gateway</html>", ErrorClass::ServerError),
            (503, "", ErrorClass::ServerError),
            (599, "", ErrorClass::ServerError),
            (
                400,
                r#"{"error":"quota_exceeded","message":"Insufficient VPSie quota: 10 of 10 VMs used","code":400}"#,
                ErrorClass::QuotaExceeded,
            ),
            (
                403,
                r#"{"error":"forbidden","message":"CPU quota reached","code":403}"#,
                ErrorClass::QuotaExceeded,
            ),
            (
                400,
                r#"{"error":"bad_request","message":"hostname invalid","code":400}"#,
                ErrorClass::BadRequest,
            ),
            (409, "conflict", ErrorClass::BadRequest),
            (422, "{}", ErrorClass::BadRequest),
            (302, "", ErrorClass::Decode),
            (101, "", ErrorClass::Decode),
        ];
        for (status, body, class) in cases {
            let e = classify(&ctx, &reply(*status, body));
            assert_eq!(e.class(), *class, "{status} {body}: {e}");
            assert_eq!(e.operation(), Some(Operation::CreateVM));
            assert_eq!(e.request_id(), Some("req-1"), "{status}");
        }
    }

    #[test]
    fn messages_are_actionable() {
        let ctx = ErrorContext::new(Operation::CreateVM);
        let e = classify(
            &ctx,
            &Reply {
                request_id: None,
                ..reply(
                    401,
                    r#"{"error":"unauthorized","message":"invalid token","code":401}"#,
                )
            },
        );
        assert_eq!(
            e.to_string(),
            "VPSie API authentication failed (401) on CreateVM: check Secret kube-system/vpsie-secret (keys clientId, clientSecret); the API said: invalid token"
        );
        let e = classify(
            &ctx,
            &reply(
                400,
                r#"{"error":"quota_exceeded","message":"Insufficient VPSie quota: 10 of 10 VMs used","code":400}"#,
            ),
        );
        assert!(
            e.to_string()
                .starts_with("Insufficient VPSie quota: 10 of 10 VMs used (on CreateVM)"),
            "{e}"
        );
        let e = classify(
            &ctx.clone(),
            &reply(
                404,
                r#"{"error":"not_found","message":"datacenter dc-x not found","code":404}"#,
            ),
        );
        assert!(
            e.to_string()
                .starts_with("Datacenter not found (404 on CreateVM)"),
            "{e}"
        );
        let e = classify(
            &ErrorContext::new(Operation::GetOffering).with_target("xl"),
            &reply(404, "{}"),
        );
        assert!(
            e.to_string()
                .starts_with("Instance type not available: offering 'xl' (404 on GetOffering)"),
            "{e}"
        );
        let e = classify(
            &ErrorContext::new(Operation::CreateVM),
            &reply(404, r#"{"message":"offering nope does not exist"}"#),
        );
        assert!(
            e.to_string().starts_with("Instance type not available"),
            "{e}"
        );
        let e = classify(
            &ErrorContext::new(Operation::GetVM).with_target("42"),
            &reply(404, ""),
        );
        assert!(e.to_string().starts_with("VM not found: id '42'"), "{e}");
        let e = classify(
            &ErrorContext::new(Operation::CreateVM),
            &reply(404, r#"{"message":"os image missing"}"#),
        );
        assert!(e.to_string().starts_with("OS image not found"), "{e}");
        let e = classify(&ctx, &reply(503, "maintenance"));
        assert!(
            e.to_string()
                .contains("server error (503) on CreateVM: maintenance"),
            "{e}"
        );
        assert!(e.is_retryable() && e.is_ambiguous());
        let e = classify(&ctx, &reply(400, &"x".repeat(5000)));
        assert!(e.to_string().len() < 600, "long messages are cut");
    }

    #[test]
    fn decodes_vps_tolerantly() {
        let ctx = ErrorContext::new(Operation::GetVM);
        let body = r#"{"id":"17","identifier":"u-1","hostname":"ng-a-1","status":"running","cpu":"2","ram":4096,
            "ssd":null,"boxsize_id":3,"datacenter_id":"dc-us-east-1","tags":["a",null,5],"extra":{"x":1}}"#;
        let v: Vps = decode_object(&ctx, &reply(200, body)).expect("decodes");
        assert_eq!(v.id, 17);
        assert_eq!(v.cpu, Some(2));
        assert_eq!(v.ssd, None);
        assert_eq!(v.boxsize_id.as_deref(), Some("3"));
        assert_eq!(v.tags, vec!["a".to_string(), "5".to_string()]);
        assert_eq!(v.default_ip, None);
        let wrapped = format!(r#"{{"error":false,"code":200,"message":"ok","data":{body}}}"#);
        let w: Vps = decode_object(&ctx, &reply(200, &wrapped)).expect("wrapped");
        assert_eq!(w, v);
        let e = decode_object::<Vps>(&ctx, &reply(200, r#"{"name":"x"}"#)).expect_err("no id");
        assert_eq!(e.class(), ErrorClass::Decode);
        assert!(e.to_string().contains("GetVM"), "{e}");
        let e = decode_object::<Vps>(&ctx, &reply(200, "not json")).expect_err("junk");
        assert_eq!(e.class(), ErrorClass::Decode);
    }

    #[test]
    fn envelope_errors_in_a_200_are_classified() {
        let ctx = ErrorContext::new(Operation::CreateVM);
        let e = decode_object::<Vps>(
            &ctx,
            &reply(
                200,
                r#"{"error":true,"code":429,"message":"slow down","data":null}"#,
            ),
        )
        .expect_err("env");
        assert_eq!(e.class(), ErrorClass::RateLimited);
        let e = decode_object::<Vps>(
            &ctx,
            &reply(
                200,
                r#"{"error":true,"message":"Insufficient VPSie quota"}"#,
            ),
        )
        .expect_err("env");
        assert_eq!(e.class(), ErrorClass::QuotaExceeded);
        assert!(
            e.to_string().contains("the account quota is exhausted"),
            "{e}"
        );
        let e = decode_empty(
            &ErrorContext::new(Operation::DeleteVM),
            &reply(200, r#"{"error":true,"code":"500"}"#),
        )
        .expect_err("env");
        assert_eq!(e.class(), ErrorClass::ServerError);
        decode_empty(&ErrorContext::new(Operation::DeleteVM), &reply(204, "")).expect("empty ok");
        decode_delete(&ErrorContext::new(Operation::DeleteVM), &reply(404, "{}"))
            .expect("gone is done");
        let e = decode_delete(&ErrorContext::new(Operation::DeleteVM), &reply(403, "{}"))
            .expect_err("403");
        assert_eq!(e.class(), ErrorClass::Forbidden);
        decode_empty(&ErrorContext::new(Operation::Health), &reply(200, "OK")).expect("text ok");
    }

    #[test]
    fn decodes_lists() {
        let ctx = ErrorContext::new(Operation::ListOfferings);
        let body = r#"{"data":[{"id":"small-2cpu-4gb","cpu":2,"ram":4096,"price":"12.5","hourly_price":0.017,"available":1},
            {"id":7,"available":"false"}],"pagination":{"total":"2","count":2,"per_page":50,"current_page":1,"total_pages":1}}"#;
        let l: ListResponse<Offering> = decode_list(&ctx, &reply(200, body)).expect("list");
        assert_eq!(l.data.len(), 2);
        assert_eq!(l.data[0].price, Some(12.5));
        assert_eq!(l.data[0].available, Some(true));
        assert_eq!(l.data[1].id, "7");
        assert_eq!(l.data[1].available, Some(false));
        assert_eq!(l.pagination.and_then(|p| p.total), Some(2));
        let bare: ListResponse<Offering> =
            decode_list(&ctx, &reply(200, r#"[{"id":"a"}]"#)).expect("bare");
        assert_eq!(bare.data.len(), 1);
        let empty: ListResponse<Offering> =
            decode_list(&ctx, &reply(200, r#"{"data":null}"#)).expect("null");
        assert!(empty.data.is_empty());
        let e = decode_list::<Offering>(&ctx, &reply(200, r#"{"items":[]}"#)).expect_err("shape");
        assert!(
            e.to_string().contains("ListOfferings") && e.to_string().contains("list envelope"),
            "{e}"
        );
    }

    #[test]
    fn login_answers() {
        let ctx = ErrorContext::new(Operation::Login);
        let ok = r#"{"error":false,"code":200,"message":"ok","accessToken":{"token":"tok-xyz","expires":"2015-10-21T08:28:00Z"},"refreshToken":{"token":"r","expires":"2015-10-22T07:28:00Z"}}"#;
        let t = decode_login(&ctx, &reply(200, ok)).expect("login");
        assert_eq!(t.token.expose(), "tok-xyz");
        assert_eq!(t.expires, Some(now() + chrono::Duration::hours(1)));
        assert!(!format!("{t:?}").contains("tok-xyz"));
        let no_exp = r#"{"accessToken":{"token":"t"}}"#;
        assert_eq!(
            decode_login(&ctx, &reply(200, no_exp)).expect("ok").expires,
            None
        );
        let refused = r#"{"error":true,"code":401,"message":"invalid client"}"#;
        let e = decode_login(&ctx, &reply(200, refused)).expect_err("refused");
        assert_eq!(e.class(), ErrorClass::Unauthorized);
        let e = decode_login(&ctx, &reply(200, r#"{"error":false}"#)).expect_err("no token");
        assert_eq!(e.class(), ErrorClass::Decode);
        let e = decode_login(&ctx, &reply(200, r#"{"accessToken":{"token":"  "}}"#))
            .expect_err("empty");
        assert_eq!(e.class(), ErrorClass::Decode);
        for leaky in [
            r#"{"accessToken":"tok-leak-1"}"#,
            r#"{"accessToken":{"token":["tok-leak-1"]}}"#,
            r#"{"accessToken":{"token":"tok-leak-1"},"code":{"x":"tok-leak-1"}}"#,
            "tok-leak-1 not json",
        ] {
            if let Err(e) = decode_login(&ctx, &reply(200, leaky)) {
                assert!(!format!("{e} {e:?}").contains("tok-leak-1"), "{leaky}: {e}");
            }
        }
    }

    #[test]
    fn echoed_secrets_are_redacted() {
        let token = "tok-very-secret-123";
        let ctx = ErrorContext::new(Operation::GetVM);
        let body =
            format!(r#"{{"error":"bad","message":"token {token} is not valid here","code":400}}"#);
        let e = classify(&ctx, &reply(400, &body)).redact(&[token, ""]);
        assert!(!e.to_string().contains(token), "{e}");
        assert!(!format!("{e:?}").contains(token));
        assert!(
            e.to_string().contains("token <redacted> is not valid"),
            "{e}"
        );
        for status in [401, 403, 404, 429, 500, 409] {
            let e = classify(&ctx, &reply(status, &body)).redact(&[token]);
            assert!(!format!("{e} {e:?}").contains(token), "{status}");
        }
        let e =
            decode_object::<Vps>(&ctx, &reply(200, &format!("garbage {token}"))).expect_err("junk");
        assert!(!e.redact(&[token]).to_string().contains(token));
        let r = reply(200, &format!(r#"{{"accessToken":{{"token":"{token}"}}}}"#));
        assert!(!format!("{r:?}").contains(token));
    }

    #[test]
    fn oversized_bodies_are_refused() {
        let ctx = ErrorContext::new(Operation::ListVMs);
        let r = Reply {
            body: vec![b' '; MAX_BODY_BYTES + 1],
            ..reply(200, "")
        };
        let e = decode_list::<Vps>(&ctx, &r).expect_err("too big");
        assert_eq!(e.class(), ErrorClass::Decode);
        assert!(e.to_string().contains("10 MiB"), "{e}");
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn any_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
                    .map(Value::Number)
                    .unwrap_or(Value::Null)),
                ".{0,12}".prop_map(Value::String),
                prop_oneof![
                    Just("id"),
                    Just("data"),
                    Just("error"),
                    Just("code"),
                    Just("message"),
                    Just("accessToken")
                ]
                .prop_map(|s| Value::String(s.to_string())),
            ];
            leaf.prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                    prop::collection::btree_map(
                        prop_oneof![
                            Just("id".to_string()),
                            Just("data".to_string()),
                            Just("error".to_string()),
                            Just("code".to_string()),
                            Just("message".to_string()),
                            Just("tags".to_string()),
                            Just("pagination".to_string()),
                            Just("accessToken".to_string()),
                            Just("token".to_string()),
                            Just("expires".to_string()),
                            ".{0,6}"
                        ],
                        inner,
                        0..6
                    )
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn run_all(status: u16, body: Vec<u8>) {
            for op in Operation::ALL {
                let ctx = ErrorContext::new(op).with_target("t");
                let r = Reply {
                    status,
                    request_id: None,
                    retry_after: None,
                    body: body.clone(),
                };
                let _ = decode_object::<Vps>(&ctx, &r);
                let _ = decode_object::<Offering>(&ctx, &r);
                let _ = decode_list::<Vps>(&ctx, &r);
                let _ = decode_list::<crate::cloud::types::Datacenter>(&ctx, &r);
                let _ = decode_list::<crate::cloud::types::OsImage>(&ctx, &r);
                let _ = decode_empty(&ctx, &r);
                let _ = decode_login(&ctx, &r);
                let e = classify(&ctx, &r);
                let _ = e.to_string();
            }
        }

        proptest! {
            #[test]
            fn no_bytes_make_the_decoder_panic(status in 0u16..1000, body in prop::collection::vec(any::<u8>(), 0..256)) {
                run_all(status, body);
            }

            #[test]
            fn no_json_makes_the_decoder_panic(status in prop_oneof![Just(200u16), Just(201), Just(400), Just(401), Just(404), Just(429), Just(500)], v in any_json()) {
                let body = serde_json::to_vec(&v).unwrap_or_default();
                run_all(status, body);
            }

            #[test]
            fn retry_after_never_panics(s in ".{0,40}") {
                if let Some(d) = parse_retry_after(&s, now()) {
                    prop_assert!(d <= MAX_RETRY_AFTER);
                }
            }
        }
    }
}
