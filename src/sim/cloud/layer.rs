//! The layer in front of every `/v2` route: it names the operation, applies fault rules,
//! authenticates the bearer token, stamps `X-Request-ID` and records the request.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use crate::clock;

use super::api::BASE_PATH;
use super::faults::{self, FaultAction};
use super::log::RequestRecord;
use super::ops::Operation;
use super::wire::ApiError;
use super::Shared;

/// The client id a request acts as: set by the layer for authenticated requests, and by the
/// login handler on its response.
#[derive(Debug, Clone)]
pub(crate) struct Principal(pub String);

/// The VM a CreateVM made: set by its handler on the response, recorded in the log.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CreatedVm(pub u64);

fn bearer_of(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The middleware function (see the module doc).
pub(crate) async fn api_layer(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().as_str().to_owned();
    let rel_path = req.uri().path().to_owned();
    let full_path = req
        .extensions()
        .get::<OriginalUri>()
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|| format!("{BASE_PATH}{rel_path}"));
    let op = Operation::classify(&method, &rel_path);
    let request_id = format!("sim-{}", Uuid::new_v4());
    let bearer = bearer_of(req.headers());
    let arrived = shared.clock.now();

    let outcome = {
        let mut guard = shared.lock();
        let st = &mut *guard;
        let outcome = faults::evaluate(&mut st.faults, &mut st.rng, &method, &rel_path, op);
        if outcome.expire_tokens {
            st.expire_tokens(arrived);
        }
        outcome
    };
    if outcome.latency_ms > 0 {
        clock::sleep(&*shared.clock, Duration::from_millis(outcome.latency_ms)).await;
    }
    let mut principal = bearer
        .as_deref()
        .and_then(|b| shared.lock().principal_of(b));

    let mut response = match &outcome.terminal {
        Some(FaultAction::Status { code, message }) => {
            ApiError::new(*code, message.clone()).into_response()
        }
        Some(FaultAction::RateLimited { retry_after_secs }) => {
            ApiError::rate_limited(*retry_after_secs).into_response()
        }
        _ => {
            let auth = if op.needs_auth() {
                let now = shared.clock.now();
                shared.lock().authenticate(bearer.as_deref(), now).map(Some)
            } else {
                Ok(None)
            };
            match auth {
                Err(e) => e.into_response(),
                Ok(p) => {
                    let mut req = req;
                    if let Some(p) = p {
                        req.extensions_mut().insert(Principal(p));
                    }
                    next.run(req).await
                }
            }
        }
    };
    if let Some(Principal(p)) = response.extensions().get::<Principal>() {
        principal = Some(p.clone());
    }
    let vm_id = response.extensions().get::<CreatedVm>().map(|c| c.0);
    match &outcome.terminal {
        Some(FaultAction::LoseResponse) => response = lose(response).await,
        Some(FaultAction::HoldResponse { ms }) => {
            clock::sleep(&*shared.clock, Duration::from_millis(*ms)).await;
        }
        Some(FaultAction::AnswerTrue) if response.status().is_success() => {
            response = answer_true(response);
        }
        _ => {}
    }
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    let record = RequestRecord {
        seq: 0,
        time: arrived,
        method,
        path: full_path,
        operation: op,
        status: response.status().as_u16(),
        principal,
        request_id,
        faults: outcome.fired,
        vm_id,
    };
    shared.lock().log.push(record);
    shared.observe();
    response
}

/// The same status and headers, with the body `{"error": false, ..., "data": true}`.
fn answer_true(response: Response) -> Response {
    let (mut parts, _) = response.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    let body = serde_json::json!({"error": false, "code": parts.status.as_u16(), "message": "OK", "data": true});
    Response::from_parts(parts, Body::from(body.to_string()))
}

/// Keeps the status and headers but breaks the body half way, like a connection cut after
/// the server committed the change.
async fn lose(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 10 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let half = bytes.slice(..bytes.len().div_ceil(2));
    parts.headers.remove(header::CONTENT_LENGTH);
    // Step 0 sends the first half; step 1 first lets the server flush the status line, the
    // headers and that half to the socket (by yielding once), then fails the body, which makes
    // the server abort the connection mid-message.
    let stream = futures::stream::unfold(0u8, move |step| {
        let half = half.clone();
        async move {
            match step {
                0 => Some((Ok::<Bytes, std::io::Error>(half), 1)),
                1 => {
                    for _ in 0..4 {
                        tokio::task::yield_now().await;
                    }
                    Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::ConnectionAborted,
                            "sim cloud: response lost (injected fault)",
                        )),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_is_parsed_case_insensitively() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_of(&h), None);
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer abc"),
        );
        assert_eq!(bearer_of(&h).as_deref(), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer_of(&h), None);
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer "));
        assert_eq!(bearer_of(&h), None);
    }
}
