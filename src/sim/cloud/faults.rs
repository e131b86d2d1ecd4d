//! Injected faults: rules that make the simulated cloud misbehave on chosen requests.
//!
//! Each [`FaultRule`] has a [`FaultMatcher`] (method, path prefix, operation; all given parts must
//! match), an optional probability (drawn from the sim's seeded RNG, so a run is reproducible for
//! a given seed and request sequence), an optional count of remaining hits, and a
//! [`FaultAction`]. For each request every matching rule is considered in order: `Latency` and
//! `ExpireTokens` rules apply and evaluation goes on; the first firing `Status`, `RateLimited` or
//! `LoseResponse` rule decides the outcome and later rules are not considered.

use rand::rngs::StdRng;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::error::SimCloudError;
use super::ops::Operation;

/// Which requests a rule applies to. Unset parts match everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultMatcher {
    /// HTTP method (case-insensitive), e.g. `POST`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Path prefix relative to the base path, e.g. `/vm` (a leading `/v2` is ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Operation name, e.g. `CreateVM`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<Operation>,
}

impl FaultMatcher {
    /// Whether a request matches. `path` is relative to the base path.
    pub fn matches(&self, method: &str, path: &str, op: Operation) -> bool {
        if let Some(m) = &self.method {
            if !m.eq_ignore_ascii_case(method) {
                return false;
            }
        }
        if let Some(prefix) = &self.path_prefix {
            let prefix = prefix.strip_prefix("/v2").unwrap_or(prefix);
            if !path.starts_with(prefix) {
                return false;
            }
        }
        self.operation.is_none_or(|o| o == op)
    }
}

/// What a firing rule does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// Answer with this HTTP status (400-599) and an error body carrying `message`; the request
    /// has no effect.
    Status {
        /// HTTP status code.
        code: u16,
        /// The error message.
        message: String,
    },
    /// Answer 429 with a `Retry-After` header; the request has no effect.
    RateLimited {
        /// Seconds the client should wait.
        retry_after_secs: u64,
    },
    /// Delay the answer by this many milliseconds of the sim's clock.
    Latency {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// Perform the request (e.g. create the VM), then break the answer: the status line and
    /// headers go out, the body stream fails half way.
    LoseResponse,
    /// Perform the request, then hold the answer back this many milliseconds of the sim's
    /// clock (the client times out, or is killed, with the change already made).
    HoldResponse {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// Perform the request; a successful answer's `data` becomes just `true` (as VPSie's
    /// managed-Kubernetes add sometimes answers), so the client is not told what was made.
    AnswerTrue,
    /// Expire every issued access token before handling the request.
    ExpireTokens,
}

impl FaultAction {
    /// Whether this action decides the answer (as opposed to modifying it).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            FaultAction::Status { .. }
                | FaultAction::RateLimited { .. }
                | FaultAction::LoseResponse
                | FaultAction::HoldResponse { .. }
                | FaultAction::AnswerTrue
        )
    }

    /// A short name for the request log (`status_503`, `rate_limited`, ...).
    pub fn label(&self) -> String {
        match self {
            FaultAction::Status { code, .. } => format!("status_{code}"),
            FaultAction::RateLimited { .. } => "rate_limited".into(),
            FaultAction::Latency { ms } => format!("latency_{ms}ms"),
            FaultAction::LoseResponse => "lose_response".into(),
            FaultAction::HoldResponse { ms } => format!("hold_response_{ms}ms"),
            FaultAction::AnswerTrue => "answer_true".into(),
            FaultAction::ExpireTokens => "expire_tokens".into(),
        }
    }
}

/// One fault rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultRule {
    /// Which requests it applies to.
    #[serde(default)]
    pub matcher: FaultMatcher,
    /// Chance (0..=1) that it fires on a matching request; unset means always.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// How many more times it may fire; unset means unlimited. A rule at 0 is dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// What it does.
    pub action: FaultAction,
}

impl FaultRule {
    /// A rule that fires `action` on every request.
    pub fn new(action: FaultAction) -> Self {
        Self {
            matcher: FaultMatcher::default(),
            probability: None,
            count: None,
            action,
        }
    }

    /// Only on this operation.
    pub fn on_operation(mut self, op: Operation) -> Self {
        self.matcher.operation = Some(op);
        self
    }

    /// Only on this HTTP method.
    pub fn on_method(mut self, method: impl Into<String>) -> Self {
        self.matcher.method = Some(method.into());
        self
    }

    /// Only on paths starting with `prefix` (relative to the base path).
    pub fn on_path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.matcher.path_prefix = Some(prefix.into());
        self
    }

    /// Fires with probability `p` on a matching request.
    pub fn with_probability(mut self, p: f64) -> Self {
        self.probability = Some(p);
        self
    }

    /// Fires at most `n` times.
    pub fn times(mut self, n: u32) -> Self {
        self.count = Some(n);
        self
    }

    /// Checks the rule's values, naming the bad field.
    pub fn validate(&self) -> Result<(), SimCloudError> {
        if let Some(p) = self.probability {
            if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
                return Err(SimCloudError::InvalidFault {
                    field: "probability",
                    value: p.to_string(),
                    fix: "give a number between 0 and 1",
                });
            }
        }
        if let FaultAction::Status { code, .. } = &self.action {
            if !(400..=599).contains(code) {
                return Err(SimCloudError::InvalidFault {
                    field: "action.code",
                    value: code.to_string(),
                    fix: "give an HTTP error status between 400 and 599",
                });
            }
        }
        if let Some(m) = &self.matcher.method {
            if m.is_empty() || !m.chars().all(|c| c.is_ascii_alphabetic()) {
                return Err(SimCloudError::InvalidFault {
                    field: "matcher.method",
                    value: format!("{m:?}"),
                    fix: "give an HTTP method such as GET or POST",
                });
            }
        }
        if let Some(p) = &self.matcher.path_prefix {
            if !p.starts_with('/') {
                return Err(SimCloudError::InvalidFault {
                    field: "matcher.path_prefix",
                    value: format!("{p:?}"),
                    fix: "give a path starting with /, e.g. /vm",
                });
            }
        }
        Ok(())
    }
}

/// What the rules decided for one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultOutcome {
    /// Total extra latency in milliseconds.
    pub latency_ms: u64,
    /// Expire all tokens first.
    pub expire_tokens: bool,
    /// The deciding action, if any (`Status`, `RateLimited` or `LoseResponse`).
    pub terminal: Option<FaultAction>,
    /// Labels of every rule that fired, for the request log.
    pub fired: Vec<String>,
}

/// Evaluates `rules` for one request, consuming counts and drawing from `rng`; rules whose count
/// reaches 0 are removed. Pure apart from the RNG and the rules it is given.
pub fn evaluate(
    rules: &mut Vec<FaultRule>,
    rng: &mut StdRng,
    method: &str,
    path: &str,
    op: Operation,
) -> FaultOutcome {
    let mut out = FaultOutcome::default();
    for rule in rules.iter_mut() {
        if out.terminal.is_some() && rule.action.is_terminal() {
            continue;
        }
        if rule.count == Some(0) || !rule.matcher.matches(method, path, op) {
            continue;
        }
        if let Some(p) = rule.probability {
            if !rng.random_bool(p.clamp(0.0, 1.0)) {
                continue;
            }
        }
        if let Some(n) = rule.count.as_mut() {
            *n -= 1;
        }
        out.fired.push(rule.action.label());
        match &rule.action {
            FaultAction::Latency { ms } => out.latency_ms = out.latency_ms.saturating_add(*ms),
            FaultAction::ExpireTokens => out.expire_tokens = true,
            terminal => out.terminal = Some(terminal.clone()),
        }
    }
    rules.retain(|r| r.count != Some(0));
    out
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn status(code: u16) -> FaultAction {
        FaultAction::Status {
            code,
            message: "boom".into(),
        }
    }

    #[test]
    fn matcher_parts_must_all_match() {
        let m = FaultMatcher {
            method: Some("post".into()),
            path_prefix: Some("/v2/vm".into()),
            operation: Some(Operation::CreateVM),
        };
        assert!(m.matches("POST", "/vm", Operation::CreateVM));
        assert!(!m.matches("GET", "/vm", Operation::CreateVM));
        assert!(!m.matches("POST", "/offerings", Operation::CreateVM));
        assert!(!m.matches("POST", "/vm", Operation::ListVMs));
        assert!(FaultMatcher::default().matches("GET", "/x", Operation::Unknown));
    }

    #[test]
    fn count_exhausts_and_rule_is_dropped() {
        let mut rules = vec![FaultRule::new(status(503)).times(2)];
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..2 {
            let o = evaluate(&mut rules, &mut rng, "GET", "/vm", Operation::ListVMs);
            assert_eq!(o.terminal, Some(status(503)));
        }
        assert!(rules.is_empty());
        let o = evaluate(&mut rules, &mut rng, "GET", "/vm", Operation::ListVMs);
        assert_eq!(o, FaultOutcome::default());
    }

    #[test]
    fn first_terminal_wins_and_modifiers_stack() {
        let mut rules = vec![
            FaultRule::new(FaultAction::Latency { ms: 100 }),
            FaultRule::new(status(500)).times(1),
            FaultRule::new(status(502)).times(1),
            FaultRule::new(FaultAction::Latency { ms: 50 }),
        ];
        let mut rng = StdRng::seed_from_u64(1);
        let o = evaluate(&mut rules, &mut rng, "GET", "/vm", Operation::ListVMs);
        assert_eq!(o.latency_ms, 150);
        assert_eq!(o.terminal, Some(status(500)));
        // The 502 rule was not consumed.
        assert_eq!(rules.len(), 3);
        let o = evaluate(&mut rules, &mut rng, "GET", "/vm", Operation::ListVMs);
        assert_eq!(o.terminal, Some(status(502)));
    }

    #[test]
    fn probability_is_reproducible_with_a_seed() {
        let run = |seed| {
            let mut rules = vec![FaultRule::new(status(503)).with_probability(0.5)];
            let mut rng = StdRng::seed_from_u64(seed);
            (0..64)
                .map(|_| {
                    evaluate(&mut rules, &mut rng, "GET", "/vm", Operation::ListVMs)
                        .terminal
                        .is_some()
                })
                .collect::<Vec<bool>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        let fired = a.iter().filter(|f| **f).count();
        assert!((16..=48).contains(&fired), "fired {fired} of 64 at p=0.5");
        assert_ne!(a, run(8));
    }

    #[test]
    fn validation_names_the_field() {
        let err = FaultRule::new(status(200)).validate().expect_err("200");
        assert!(err.to_string().contains("action.code"), "{err}");
        let err = FaultRule::new(status(500))
            .with_probability(1.5)
            .validate()
            .expect_err("p");
        assert!(err.to_string().contains("probability"), "{err}");
        let err = FaultRule::new(status(500))
            .on_path_prefix("vm")
            .validate()
            .expect_err("path");
        assert!(err.to_string().contains("path_prefix"), "{err}");
    }

    #[test]
    fn rules_round_trip_through_json() {
        let json = r#"{"matcher": {"operation": "CreateVM"}, "count": 1,
                       "action": {"type": "rate_limited", "retry_after_secs": 7}}"#;
        let rule: FaultRule = serde_json::from_str(json).expect("parses");
        assert_eq!(
            rule,
            FaultRule::new(FaultAction::RateLimited {
                retry_after_secs: 7
            })
            .on_operation(Operation::CreateVM)
            .times(1)
        );
        let back: FaultRule =
            serde_json::from_value(serde_json::to_value(&rule).expect("ser")).expect("de");
        assert_eq!(back, rule);
    }
}
