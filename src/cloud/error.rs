//! The errors of the VPSie API client and their classes (the `error_type` metric label).

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use super::op::Operation;

/// The class of a [`CloudError`]: what went wrong, as an operator and an alert see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorClass {
    /// 401: the credentials were refused.
    Unauthorized,
    /// 403: the credentials lack a permission.
    Forbidden,
    /// 404: the resource does not exist.
    NotFound,
    /// 429: the API asks us to slow down.
    RateLimited,
    /// 5xx: the API failed.
    ServerError,
    /// No answer: connection refused or reset, timeout, a reply cut off.
    Network,
    /// An answer saying the account quota is exhausted.
    QuotaExceeded,
    /// Any other 4xx: the request was wrong.
    BadRequest,
    /// An answer that is not what the API documents (bad JSON, wrong shape, too large).
    Decode,
    /// The circuit breaker refused the call without sending it.
    CircuitOpen,
    /// The client is misconfigured (bad base URL, missing credentials).
    Config,
}

impl ErrorClass {
    /// Every class, in a stable order.
    pub const ALL: [ErrorClass; 11] = [
        ErrorClass::Unauthorized,
        ErrorClass::Forbidden,
        ErrorClass::NotFound,
        ErrorClass::RateLimited,
        ErrorClass::ServerError,
        ErrorClass::Network,
        ErrorClass::QuotaExceeded,
        ErrorClass::BadRequest,
        ErrorClass::Decode,
        ErrorClass::CircuitOpen,
        ErrorClass::Config,
    ];

    /// The `error_type` label of `vpsie_api_errors_total`, e.g. `rate_limited`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Unauthorized => "unauthorized",
            ErrorClass::Forbidden => "forbidden",
            ErrorClass::NotFound => "not_found",
            ErrorClass::RateLimited => "rate_limited",
            ErrorClass::ServerError => "server_error",
            ErrorClass::Network => "network",
            ErrorClass::QuotaExceeded => "quota_exceeded",
            ErrorClass::BadRequest => "bad_request",
            ErrorClass::Decode => "decode",
            ErrorClass::CircuitOpen => "circuit_open",
            ErrorClass::Config => "config",
        }
    }

    /// Whether the class says the service is unavailable (it counts against the circuit
    /// breaker): `server_error` and `network`.
    pub fn is_availability_failure(self) -> bool {
        matches!(self, ErrorClass::ServerError | ErrorClass::Network)
    }
}

impl fmt::Display for ErrorClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Formats `" [X-Request-ID abc]"` when the answer carried one.
struct Rid<'a>(&'a Option<String>);

impl fmt::Display for Rid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(id) => write!(f, " [X-Request-ID {id}]"),
            None => Ok(()),
        }
    }
}

/// Formats the retry hint of a 429.
struct RetryHint<'a>(&'a Option<Duration>);

impl fmt::Display for RetryHint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => write!(f, "retry after {}s", d.as_secs_f64().ceil() as u64),
            None => f.write_str("retry later; lower the request rate if this persists"),
        }
    }
}

/// Formats a time for messages: RFC 3339, seconds precision, `Z`.
pub(crate) fn fmt_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Formats the breaker refusal.
struct BreakerText<'a> {
    since: &'a DateTime<Utc>,
    failures: u32,
    next_probe_at: &'a Option<DateTime<Utc>>,
    probing: bool,
}

impl fmt::Display for BreakerText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.probing {
            write!(
                f,
                "VPSie API circuit breaker is half-open since {} after {} consecutive failures; \
                 a probe call is in flight, retry when it ends; reset with kubectl vpsie breaker reset",
                fmt_time(self.since),
                self.failures
            )
        } else {
            write!(
                f,
                "VPSie API circuit breaker is open since {} after {} consecutive failures; next probe at {}; \
                 reset with kubectl vpsie breaker reset",
                fmt_time(self.since),
                self.failures,
                self.next_probe_at
                    .as_ref()
                    .map(fmt_time)
                    .unwrap_or_else(|| "the next call".to_string())
            )
        }
    }
}

/// Everything that can go wrong talking to the VPSie API. Messages say what to do; none ever
/// contains a credential.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CloudError {
    /// 401 (or a refused login).
    #[error("VPSie API authentication failed ({status}) on {op}: check Secret {secret} (keys {keys}); the API said: {message}{}", Rid(request_id))]
    Unauthorized {
        /// The operation.
        op: Operation,
        /// The HTTP status (401, or the `code` of a refused login).
        status: u16,
        /// The Secret holding the credentials, `namespace/name`.
        secret: String,
        /// The keys of that Secret in use, e.g. `clientId, clientSecret`.
        keys: String,
        /// What the API said.
        message: String,
        /// The `X-Request-ID` of the answer.
        request_id: Option<String>,
    },
    /// 403.
    #[error("VPSie API denied {op} (403): the API client lacks the permission; grant it in the VPSie console or use credentials with the needed scopes; the API said: {message}{}", Rid(request_id))]
    Forbidden {
        /// The operation.
        op: Operation,
        /// What the API said.
        message: String,
        /// The `X-Request-ID` of the answer.
        request_id: Option<String>,
    },
    /// 404.
    #[error(
        "{what} (404 on {op}): {hint}; the API said: {message}{}",
        Rid(request_id)
    )]
    NotFound {
        /// The operation.
        op: Operation,
        /// What is missing, e.g. `Instance type not available: offering 'x'`.
        what: String,
        /// What to do about it.
        hint: String,
        /// What the API said.
        message: String,
        /// The `X-Request-ID` of the answer.
        request_id: Option<String>,
    },
    /// 429.
    #[error(
        "VPSie API rate limit hit (429) on {op}; {}{}",
        RetryHint(retry_after),
        Rid(request_id)
    )]
    RateLimited {
        /// The operation.
        op: Operation,
        /// The `Retry-After` the API gave.
        retry_after: Option<Duration>,
        /// What the API said.
        message: String,
        /// The `X-Request-ID` of the answer.
        request_id: Option<String>,
    },
    /// 5xx.
    #[error("VPSie API server error ({status}) on {op}: {message}; safe calls are retried and the circuit breaker opens if this persists; check https://status.vpsie.com{}", Rid(request_id))]
    Server {
        /// The operation.
        op: Operation,
        /// The HTTP status.
        status: u16,
        /// What the API said.
        message: String,
        /// The `Retry-After` the API gave, if any.
        retry_after: Option<Duration>,
        /// The `X-Request-ID` of the answer.
        request_id: Option<String>,
    },
    /// No (complete) answer.
    #[error("VPSie API unreachable on {op}: {detail}; check network access to the API base URL and https://status.vpsie.com")]
    Network {
        /// The operation.
        op: Operation,
        /// What happened (connection refused, timeout after 30s, reply cut off, ...).
        detail: String,
    },
    /// An answer saying the quota is exhausted.
    #[error("Insufficient VPSie quota: {message} (on {op}); ask VPSie support to raise the account quota or lower maxNodes{}", Rid(request_id))]
    QuotaExceeded {
        /// The operation.
        op: Operation,
        /// What the API said (without a leading `Insufficient VPSie quota:`).
        message: String,
        /// The `X-Request-ID` of the answer.
        request_id: Option<String>,
    },
    /// Another 4xx.
    #[error(
        "VPSie API rejected {op} ({status}): {message}; check the NodeGroup spec values sent{}",
        Rid(request_id)
    )]
    BadRequest {
        /// The operation.
        op: Operation,
        /// The HTTP status.
        status: u16,
        /// What the API said.
        message: String,
        /// The `X-Request-ID` of the answer.
        request_id: Option<String>,
    },
    /// A malformed answer.
    #[error("VPSie API answered {op} with a malformed reply{}: {detail}; check the base URL points at the VPSie API v2{}", .status.map(|s| format!(" (status {s})")).unwrap_or_default(), Rid(request_id))]
    Decode {
        /// The operation.
        op: Operation,
        /// The HTTP status, when there was one.
        status: Option<u16>,
        /// What was wrong with it.
        detail: String,
        /// The `X-Request-ID` of the answer.
        request_id: Option<String>,
    },
    /// The circuit breaker refused the call.
    #[error("{}", BreakerText { since, failures: *failures, next_probe_at, probing: *probing })]
    CircuitOpen {
        /// The operation refused.
        op: Operation,
        /// Since when the breaker is open (or half-open).
        since: DateTime<Utc>,
        /// Consecutive availability failures that opened it.
        failures: u32,
        /// When a probe is let through next (`None` when half-open).
        next_probe_at: Option<DateTime<Utc>>,
        /// Whether the breaker is half-open with its one probe in flight.
        probing: bool,
    },
    /// The client is misconfigured: the message names the field, the value and the fix.
    #[error("VPSie client configuration: {0}")]
    Config(String),
}

impl CloudError {
    /// The class (metric label) of the error.
    pub fn class(&self) -> ErrorClass {
        match self {
            CloudError::Unauthorized { .. } => ErrorClass::Unauthorized,
            CloudError::Forbidden { .. } => ErrorClass::Forbidden,
            CloudError::NotFound { .. } => ErrorClass::NotFound,
            CloudError::RateLimited { .. } => ErrorClass::RateLimited,
            CloudError::Server { .. } => ErrorClass::ServerError,
            CloudError::Network { .. } => ErrorClass::Network,
            CloudError::QuotaExceeded { .. } => ErrorClass::QuotaExceeded,
            CloudError::BadRequest { .. } => ErrorClass::BadRequest,
            CloudError::Decode { .. } => ErrorClass::Decode,
            CloudError::CircuitOpen { .. } => ErrorClass::CircuitOpen,
            CloudError::Config(_) => ErrorClass::Config,
        }
    }

    /// Whether trying again later may succeed: network errors, 5xx, 429 and an open breaker.
    /// Whether the client itself retries also depends on the operation (see
    /// [`super::retry::RetryPolicy::decide`]).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.class(),
            ErrorClass::Network
                | ErrorClass::ServerError
                | ErrorClass::RateLimited
                | ErrorClass::CircuitOpen
        )
    }

    /// How long the API asked us to wait before trying again (`Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            CloudError::RateLimited { retry_after, .. }
            | CloudError::Server { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// When a caller should try again (e.g. a controller's requeue delay), at `now`: the
    /// `Retry-After` of a 429/5xx, the time left until the breaker's next probe, a short
    /// default for other retryable errors, and `None` for errors that retrying will not fix.
    pub fn suggested_requeue(&self, now: DateTime<Utc>) -> Option<Duration> {
        match self {
            CloudError::CircuitOpen {
                next_probe_at: Some(at),
                ..
            } => Some(
                (*at - now)
                    .to_std()
                    .unwrap_or(Duration::ZERO)
                    .max(Duration::from_secs(1)),
            ),
            CloudError::CircuitOpen {
                next_probe_at: None,
                ..
            } => Some(Duration::from_secs(1)),
            e if e.is_retryable() => Some(e.retry_after().unwrap_or(Duration::from_secs(10))),
            _ => None,
        }
    }

    /// The `X-Request-ID` of the answer, when it had one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            CloudError::Unauthorized { request_id, .. }
            | CloudError::Forbidden { request_id, .. }
            | CloudError::NotFound { request_id, .. }
            | CloudError::RateLimited { request_id, .. }
            | CloudError::Server { request_id, .. }
            | CloudError::QuotaExceeded { request_id, .. }
            | CloudError::BadRequest { request_id, .. }
            | CloudError::Decode { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// The operation that failed (`None` for configuration errors).
    pub fn operation(&self) -> Option<Operation> {
        match self {
            CloudError::Unauthorized { op, .. }
            | CloudError::Forbidden { op, .. }
            | CloudError::NotFound { op, .. }
            | CloudError::RateLimited { op, .. }
            | CloudError::Server { op, .. }
            | CloudError::Network { op, .. }
            | CloudError::QuotaExceeded { op, .. }
            | CloudError::BadRequest { op, .. }
            | CloudError::Decode { op, .. }
            | CloudError::CircuitOpen { op, .. } => Some(*op),
            CloudError::Config(_) => None,
        }
    }

    /// The same error with every occurrence of each of `secrets` (non-empty ones) in its texts
    /// replaced by `<redacted>`: a server that echoes a token in its message must not leak it
    /// into logs, events or status.
    pub fn redact(self, secrets: &[&str]) -> CloudError {
        let scrub = |mut text: String| {
            for s in secrets.iter().filter(|s| !s.is_empty()) {
                if text.contains(*s) {
                    text = text.replace(*s, "<redacted>");
                }
            }
            text
        };
        match self {
            CloudError::Unauthorized {
                op,
                status,
                secret,
                keys,
                message,
                request_id,
            } => CloudError::Unauthorized {
                op,
                status,
                secret,
                keys,
                message: scrub(message),
                request_id,
            },
            CloudError::Forbidden {
                op,
                message,
                request_id,
            } => CloudError::Forbidden {
                op,
                message: scrub(message),
                request_id,
            },
            CloudError::NotFound {
                op,
                what,
                hint,
                message,
                request_id,
            } => CloudError::NotFound {
                op,
                what: scrub(what),
                hint,
                message: scrub(message),
                request_id,
            },
            CloudError::RateLimited {
                op,
                retry_after,
                message,
                request_id,
            } => CloudError::RateLimited {
                op,
                retry_after,
                message: scrub(message),
                request_id,
            },
            CloudError::Server {
                op,
                status,
                message,
                retry_after,
                request_id,
            } => CloudError::Server {
                op,
                status,
                message: scrub(message),
                retry_after,
                request_id,
            },
            CloudError::Network { op, detail } => CloudError::Network {
                op,
                detail: scrub(detail),
            },
            CloudError::QuotaExceeded {
                op,
                message,
                request_id,
            } => CloudError::QuotaExceeded {
                op,
                message: scrub(message),
                request_id,
            },
            CloudError::BadRequest {
                op,
                status,
                message,
                request_id,
            } => CloudError::BadRequest {
                op,
                status,
                message: scrub(message),
                request_id,
            },
            CloudError::Decode {
                op,
                status,
                detail,
                request_id,
            } => CloudError::Decode {
                op,
                status,
                detail: scrub(detail),
                request_id,
            },
            CloudError::Config(m) => CloudError::Config(scrub(m)),
            open @ CloudError::CircuitOpen { .. } => open,
        }
    }

    /// Whether the error leaves it unknown if the API acted on the request: no complete answer
    /// or a 5xx. A `CreateVM` failing this way must be checked by looking the VM up.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self.class(), ErrorClass::Network | ErrorClass::ServerError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn every_error() -> Vec<CloudError> {
        let op = Operation::CreateVM;
        let rid = Some("rid-9".to_string());
        let t = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 5)
            .single()
            .expect("valid");
        vec![
            CloudError::Unauthorized {
                op,
                status: 401,
                secret: "kube-system/vpsie-secret".into(),
                keys: "clientId, clientSecret".into(),
                message: "m".into(),
                request_id: rid.clone(),
            },
            CloudError::Forbidden {
                op,
                message: "m".into(),
                request_id: rid.clone(),
            },
            CloudError::NotFound {
                op,
                what: "Datacenter not found".into(),
                hint: "h".into(),
                message: "m".into(),
                request_id: rid.clone(),
            },
            CloudError::RateLimited {
                op,
                retry_after: Some(Duration::from_millis(11_200)),
                message: "m".into(),
                request_id: rid.clone(),
            },
            CloudError::Server {
                op,
                status: 502,
                message: "m".into(),
                retry_after: None,
                request_id: rid.clone(),
            },
            CloudError::Network {
                op,
                detail: "connection refused".into(),
            },
            CloudError::QuotaExceeded {
                op,
                message: "m".into(),
                request_id: rid.clone(),
            },
            CloudError::BadRequest {
                op,
                status: 422,
                message: "m".into(),
                request_id: rid.clone(),
            },
            CloudError::Decode {
                op,
                status: Some(200),
                detail: "d".into(),
                request_id: rid,
            },
            CloudError::CircuitOpen {
                op,
                since: t,
                failures: 5,
                next_probe_at: Some(t + chrono::Duration::seconds(30)),
                probing: false,
            },
            CloudError::Config("c".into()),
        ]
    }

    #[test]
    fn classes_labels_and_retryability() {
        let errors = every_error();
        let classes: Vec<ErrorClass> = errors.iter().map(CloudError::class).collect();
        assert_eq!(classes, ErrorClass::ALL.to_vec());
        let labels: Vec<&str> = ErrorClass::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(
            labels,
            [
                "unauthorized",
                "forbidden",
                "not_found",
                "rate_limited",
                "server_error",
                "network",
                "quota_exceeded",
                "bad_request",
                "decode",
                "circuit_open",
                "config"
            ]
        );
        for c in ErrorClass::ALL {
            assert_eq!(
                serde_json::to_value(c).ok(),
                Some(serde_json::Value::String(c.as_str().to_string()))
            );
            assert_eq!(c.to_string(), c.as_str());
        }
        let retryable: Vec<bool> = errors.iter().map(CloudError::is_retryable).collect();
        assert_eq!(
            retryable,
            [false, false, false, true, true, true, false, false, false, true, false]
        );
        let ambiguous: Vec<bool> = errors.iter().map(CloudError::is_ambiguous).collect();
        assert_eq!(
            ambiguous,
            [false, false, false, false, true, true, false, false, false, false, false]
        );
        assert_eq!(errors[3].retry_after(), Some(Duration::from_millis(11_200)));
        assert_eq!(errors[0].request_id(), Some("rid-9"));
        assert_eq!(errors[5].request_id(), None);
        assert_eq!(errors[10].operation(), None);
        assert!(errors[..10]
            .iter()
            .all(|e| e.operation() == Some(Operation::CreateVM)));
        let t = Utc
            .with_ymd_and_hms(2026, 1, 2, 3, 4, 15)
            .single()
            .expect("valid");
        let requeue: Vec<Option<Duration>> =
            errors.iter().map(|e| e.suggested_requeue(t)).collect();
        assert_eq!(
            requeue,
            [
                None,
                None,
                None,
                Some(Duration::from_millis(11_200)),
                Some(Duration::from_secs(10)),
                Some(Duration::from_secs(10)),
                None,
                None,
                None,
                Some(Duration::from_secs(20)),
                None
            ]
        );
    }

    #[test]
    fn messages() {
        let e = every_error();
        assert_eq!(
            e[0].to_string(),
            "VPSie API authentication failed (401) on CreateVM: check Secret kube-system/vpsie-secret (keys clientId, clientSecret); the API said: m [X-Request-ID rid-9]"
        );
        assert_eq!(
            e[3].to_string(),
            "VPSie API rate limit hit (429) on CreateVM; retry after 12s [X-Request-ID rid-9]"
        );
        assert!(e[2]
            .to_string()
            .starts_with("Datacenter not found (404 on CreateVM): h"));
        assert!(e[6].to_string().starts_with("Insufficient VPSie quota: m"));
        assert_eq!(
            e[9].to_string(),
            "VPSie API circuit breaker is open since 2026-01-02T03:04:05Z after 5 consecutive failures; next probe at 2026-01-02T03:04:35Z; reset with kubectl vpsie breaker reset"
        );
        assert!(e[5]
            .to_string()
            .contains("unreachable on CreateVM: connection refused"));
        assert!(e[8].to_string().contains("malformed reply (status 200): d"));
        let no_hint = CloudError::RateLimited {
            op: Operation::ListVMs,
            retry_after: None,
            message: String::new(),
            request_id: None,
        };
        assert_eq!(no_hint.to_string(), "VPSie API rate limit hit (429) on ListVMs; retry later; lower the request rate if this persists");
    }

    #[test]
    fn redact_covers_every_text() {
        for e in every_error() {
            let secretful = match e {
                CloudError::Config(_) => CloudError::Config("S3CRET".into()),
                CloudError::Network { op, .. } => CloudError::Network {
                    op,
                    detail: "S3CRET".into(),
                },
                CloudError::Decode {
                    op,
                    status,
                    request_id,
                    ..
                } => CloudError::Decode {
                    op,
                    status,
                    detail: "x S3CRET".into(),
                    request_id,
                },
                CloudError::NotFound {
                    op,
                    hint,
                    request_id,
                    ..
                } => CloudError::NotFound {
                    op,
                    what: "S3CRET".into(),
                    hint,
                    message: "S3CRET".into(),
                    request_id,
                },
                CloudError::Unauthorized {
                    op,
                    status,
                    secret,
                    keys,
                    request_id,
                    ..
                } => CloudError::Unauthorized {
                    op,
                    status,
                    secret,
                    keys,
                    message: "S3CRET".into(),
                    request_id,
                },
                CloudError::Forbidden { op, request_id, .. } => CloudError::Forbidden {
                    op,
                    message: "S3CRET".into(),
                    request_id,
                },
                CloudError::RateLimited {
                    op,
                    retry_after,
                    request_id,
                    ..
                } => CloudError::RateLimited {
                    op,
                    retry_after,
                    message: "S3CRET".into(),
                    request_id,
                },
                CloudError::Server {
                    op,
                    status,
                    retry_after,
                    request_id,
                    ..
                } => CloudError::Server {
                    op,
                    status,
                    message: "S3CRET".into(),
                    retry_after,
                    request_id,
                },
                CloudError::QuotaExceeded { op, request_id, .. } => CloudError::QuotaExceeded {
                    op,
                    message: "S3CRET".into(),
                    request_id,
                },
                CloudError::BadRequest {
                    op,
                    status,
                    request_id,
                    ..
                } => CloudError::BadRequest {
                    op,
                    status,
                    message: "S3CRET".into(),
                    request_id,
                },
                open @ CloudError::CircuitOpen { .. } => open,
            };
            let r = secretful.redact(&["S3CRET"]);
            assert!(!format!("{r} {r:?}").contains("S3CRET"), "{r:?}");
        }
    }
}
