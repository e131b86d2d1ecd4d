//! The `vpsie_api_*` Prometheus metrics of the client (the runbook greps these names).
//!
//! prometheus-client appends `_total` to counters itself, so counters are registered without
//! it; the encoded names are the ones listed on [`CloudMetrics`].

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::breaker::BreakerState;
use super::error::ErrorClass;
use super::op::Operation;

/// Labels of `vpsie_api_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RequestLabels {
    /// The operation, e.g. `CreateVM`.
    pub method: String,
    /// The HTTP status as text, or `error` when there was no answer.
    pub status: String,
}

/// Labels of `vpsie_api_errors_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct ErrorLabels {
    /// [`ErrorClass::as_str`].
    pub error_type: String,
}

/// Labels of `vpsie_api_request_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct MethodLabels {
    /// The operation.
    pub method: String,
}

/// Labels of `vpsie_api_token_refreshes_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RefreshLabels {
    /// `initial`, `expiry`, `unauthorized` or `rotated`.
    pub reason: String,
}

/// Why the access token was (re)fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshReason {
    /// First login (no token yet).
    Initial,
    /// The token is within 5 minutes of expiry.
    Expiry,
    /// The API answered 401 with the cached token.
    Unauthorized,
    /// The credentials were replaced (Secret rotated).
    Rotated,
}

impl RefreshReason {
    /// The `reason` label.
    pub fn as_str(self) -> &'static str {
        match self {
            RefreshReason::Initial => "initial",
            RefreshReason::Expiry => "expiry",
            RefreshReason::Unauthorized => "unauthorized",
            RefreshReason::Rotated => "rotated",
        }
    }
}

fn duration_histogram() -> Histogram {
    // 5 ms .. ~41 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// The client's metrics. Cheap to clone (the metrics share their storage).
///
/// Encoded names: `vpsie_api_requests_total{method,status}`, `vpsie_api_errors_total{error_type}`,
/// `vpsie_api_request_duration_seconds{method}` (histogram), `vpsie_api_circuit_breaker_state`
/// (0 closed, 1 open, 2 half-open), `vpsie_api_rate_limit_waits_total`,
/// `vpsie_api_rate_limit_wait_seconds_total`, `vpsie_api_rate_limited_total` (429s seen),
/// `vpsie_api_rate_limit_tokens`, `vpsie_api_token_refreshes_total{reason}`.
#[derive(Debug, Clone)]
pub struct CloudMetrics {
    requests: Family<RequestLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    duration: Family<MethodLabels, Histogram, fn() -> Histogram>,
    breaker_state: Gauge,
    rate_limit_waits: Counter,
    rate_limit_wait_seconds: Counter<f64, AtomicU64>,
    rate_limited: Counter,
    rate_limit_tokens: Gauge<f64, AtomicU64>,
    token_refreshes: Family<RefreshLabels, Counter>,
}

impl CloudMetrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn new(registry: &mut Registry) -> Self {
        let m = CloudMetrics {
            requests: Family::default(),
            errors: Family::default(),
            duration: Family::new_with_constructor(duration_histogram as fn() -> Histogram),
            breaker_state: Gauge::default(),
            rate_limit_waits: Counter::default(),
            rate_limit_wait_seconds: Counter::default(),
            rate_limited: Counter::default(),
            rate_limit_tokens: Gauge::default(),
            token_refreshes: Family::default(),
        };
        registry.register(
            "vpsie_api_requests",
            "VPSie API calls by operation and HTTP status (\"error\" when no answer)",
            m.requests.clone(),
        );
        registry.register(
            "vpsie_api_errors",
            "VPSie API call failures by error type",
            m.errors.clone(),
        );
        registry.register(
            "vpsie_api_request_duration_seconds",
            "Duration of VPSie API calls by operation",
            m.duration.clone(),
        );
        registry.register(
            "vpsie_api_circuit_breaker_state",
            "VPSie API circuit breaker state: 0 closed, 1 open, 2 half-open",
            m.breaker_state.clone(),
        );
        registry.register(
            "vpsie_api_rate_limit_waits",
            "Calls that waited for the client-side rate limiter or a server pause",
            m.rate_limit_waits.clone(),
        );
        registry.register(
            "vpsie_api_rate_limit_wait_seconds",
            "Seconds spent waiting for the rate limiter or a server pause",
            m.rate_limit_wait_seconds.clone(),
        );
        registry.register(
            "vpsie_api_rate_limited",
            "429 answers received from the VPSie API",
            m.rate_limited.clone(),
        );
        registry.register(
            "vpsie_api_rate_limit_tokens",
            "Tokens left in the client-side rate limiter bucket",
            m.rate_limit_tokens.clone(),
        );
        registry.register(
            "vpsie_api_token_refreshes",
            "Access token logins by reason",
            m.token_refreshes.clone(),
        );
        m
    }

    /// Metrics registered nowhere (tests, tools that do not export metrics).
    pub fn unregistered() -> Self {
        Self::new(&mut Registry::default())
    }

    /// Counts one HTTP exchange: `status` is the HTTP status, `None` when there was no answer.
    pub fn observe_request(&self, op: Operation, status: Option<u16>, seconds: f64) {
        let status = status.map_or_else(|| "error".to_string(), |s| s.to_string());
        self.requests
            .get_or_create(&RequestLabels {
                method: op.as_str().to_string(),
                status,
            })
            .inc();
        self.duration
            .get_or_create(&MethodLabels {
                method: op.as_str().to_string(),
            })
            .observe(seconds.max(0.0));
    }

    /// Counts a failure by class; a 429 also counts in `vpsie_api_rate_limited_total`.
    pub fn observe_error(&self, class: ErrorClass) {
        self.errors
            .get_or_create(&ErrorLabels {
                error_type: class.as_str().to_string(),
            })
            .inc();
        if class == ErrorClass::RateLimited {
            self.rate_limited.inc();
        }
    }

    /// Counts a call the client refused itself before sending (a server pause still in
    /// force): its class counts in `vpsie_api_errors_total`, but no 429 was received, so
    /// `vpsie_api_rate_limited_total` stays as it is.
    pub fn observe_refusal(&self, class: ErrorClass) {
        self.errors
            .get_or_create(&ErrorLabels {
                error_type: class.as_str().to_string(),
            })
            .inc();
    }

    /// `vpsie_api_errors_total` by `error_type`, for the types counted so far (as the
    /// encoded registry lists them), read without encoding the registry.
    pub fn errors_by_type(&self) -> BTreeMap<String, u64> {
        ErrorClass::ALL
            .iter()
            .filter_map(|c| {
                let labels = ErrorLabels {
                    error_type: c.as_str().to_string(),
                };
                let n = self.errors.get(&labels)?.get();
                Some((labels.error_type, n))
            })
            .collect()
    }

    /// `vpsie_api_rate_limit_waits_total`.
    pub fn rate_limit_waits(&self) -> u64 {
        self.rate_limit_waits.get()
    }

    /// `vpsie_api_rate_limited_total`.
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.get()
    }

    /// Sets the breaker gauge.
    pub fn set_breaker_state(&self, state: BreakerState) {
        self.breaker_state.set(state.gauge_value());
    }

    /// Counts a wait for the rate limiter.
    pub fn observe_rate_limit_wait(&self, seconds: f64) {
        self.rate_limit_waits.inc();
        self.rate_limit_wait_seconds.inc_by(seconds.max(0.0));
    }

    /// Sets the tokens gauge.
    pub fn set_rate_limit_tokens(&self, tokens: f64) {
        self.rate_limit_tokens.set(tokens);
    }

    /// Counts a token login.
    pub fn observe_token_refresh(&self, reason: RefreshReason) {
        self.token_refreshes
            .get_or_create(&RefreshLabels {
                reason: reason.as_str().to_string(),
            })
            .inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn encoded_names_are_exact() {
        let mut registry = Registry::default();
        let m = CloudMetrics::new(&mut registry);
        m.observe_request(Operation::CreateVM, Some(200), 1.2);
        m.observe_request(Operation::ListVMs, None, 0.1);
        m.observe_error(ErrorClass::RateLimited);
        m.observe_error(ErrorClass::ServerError);
        m.set_breaker_state(BreakerState::HalfOpen);
        m.observe_rate_limit_wait(0.5);
        m.observe_rate_limit_wait(0.25);
        m.set_rate_limit_tokens(7.5);
        m.observe_token_refresh(RefreshReason::Expiry);
        m.observe_token_refresh(RefreshReason::Unauthorized);
        let mut text = String::new();
        encode(&mut text, &registry).expect("encodes");
        for line in [
            "vpsie_api_requests_total{method=\"CreateVM\",status=\"200\"} 1",
            "vpsie_api_requests_total{method=\"ListVMs\",status=\"error\"} 1",
            "vpsie_api_errors_total{error_type=\"rate_limited\"} 1",
            "vpsie_api_errors_total{error_type=\"server_error\"} 1",
            "vpsie_api_request_duration_seconds_count{method=\"CreateVM\"} 1",
            "vpsie_api_request_duration_seconds_sum{method=\"CreateVM\"} 1.2",
            "vpsie_api_circuit_breaker_state 2",
            "vpsie_api_rate_limit_waits_total 2",
            "vpsie_api_rate_limit_wait_seconds_total 0.75",
            "vpsie_api_rate_limited_total 1",
            "vpsie_api_rate_limit_tokens 7.5",
            "vpsie_api_token_refreshes_total{reason=\"expiry\"} 1",
            "vpsie_api_token_refreshes_total{reason=\"unauthorized\"} 1",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing {line:?} in\n{text}"
            );
        }
        assert!(!text.contains("_total_total"), "{text}");
    }
}
