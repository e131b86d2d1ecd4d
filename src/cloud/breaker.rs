//! The circuit breaker: stops calling the VPSie API while it is down, probes it now and then,
//! and lets calls through again once it answers.
//!
//! Pure: every method takes the current time (from the client's [`crate::clock::Clock`]).
//!
//! - **Closed**: calls go through. `failure_threshold` consecutive *availability failures*
//!   (5xx, network errors) open it. Any answer, including a 4xx (401, 403, 404, 429, ...),
//!   shows the service is up and resets the consecutive count.
//! - **Open**: calls are refused (`circuit_open`) until `open_timeout` has passed since it
//!   opened; then it becomes half-open (lazily, on the next call or state read).
//! - **HalfOpen**: exactly one probe call at a time goes through; the others are refused.
//!   `success_threshold` consecutive successful probes close it; a failed probe opens it again
//!   (with a new `since`).
//! - [`CircuitBreaker::reset`] forces it closed (an operator's `kubectl vpsie breaker reset`).
//!
//! The gauge `vpsie_api_circuit_breaker_state` encodes the state as 0 = closed, 1 = open,
//! 2 = half-open ([`BreakerState::gauge_value`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::error::{CloudError, ErrorClass};
use super::op::Operation;

/// Settings of the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive availability failures that open the breaker (default 5; 0 is taken as 1).
    pub failure_threshold: u32,
    /// How long it stays open before letting a probe through (default 30 s).
    pub open_timeout: Duration,
    /// Consecutive successful probes that close it (default 1; 0 is taken as 1).
    pub success_threshold: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_threshold: 5,
            open_timeout: Duration::from_secs(30),
            success_threshold: 1,
        }
    }
}

/// The state of the breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls are refused.
    Open,
    /// One probe at a time goes through.
    HalfOpen,
}

impl BreakerState {
    /// The value of the `vpsie_api_circuit_breaker_state` gauge: 0 closed, 1 open, 2 half-open.
    pub fn gauge_value(self) -> i64 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        }
    }

    /// `closed`, `open` or `half-open`.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open => "open",
            BreakerState::HalfOpen => "half-open",
        }
    }
}

/// What the breaker reports for status output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerSnapshot {
    /// The current state.
    pub state: BreakerState,
    /// Since when it is in that state.
    pub since: DateTime<Utc>,
    /// Consecutive availability failures (in closed state: so far; open: those that opened it).
    pub consecutive_failures: u32,
    /// How many times it opened since the client started.
    pub opened_count: u64,
    /// When open: when the next probe is let through.
    pub next_probe_at: Option<DateTime<Utc>>,
    /// The last availability failure's message.
    pub last_failure: Option<String>,
}

/// How a call was let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// A normal call (breaker closed).
    Normal,
    /// The one probe of the half-open state: its outcome decides the state.
    Probe,
}

/// What a call's outcome means to the breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The API answered (2xx, or any 4xx).
    Success,
    /// The API was unavailable (5xx, network); the message is kept for the snapshot.
    Failure(String),
    /// The call never reached the API (config error, refused by the limiter): it says nothing.
    Neutral,
}

impl Outcome {
    /// The breaker outcome of a call's result.
    pub fn of<T>(result: &Result<T, CloudError>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(e) => Outcome::of_error(e),
        }
    }

    /// The breaker outcome of an error.
    pub fn of_error(e: &CloudError) -> Outcome {
        match e.class() {
            ErrorClass::ServerError | ErrorClass::Network => Outcome::Failure(e.to_string()),
            ErrorClass::Config | ErrorClass::CircuitOpen => Outcome::Neutral,
            _ => Outcome::Success,
        }
    }
}

/// The circuit breaker (see the module documentation).
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: BreakerState,
    since: DateTime<Utc>,
    consecutive_failures: u32,
    probe_successes: u32,
    probe_in_flight: bool,
    opened_count: u64,
    last_failure: Option<String>,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig, now: DateTime<Utc>) -> Self {
        CircuitBreaker {
            config,
            state: BreakerState::Closed,
            since: now,
            consecutive_failures: 0,
            probe_successes: 0,
            probe_in_flight: false,
            opened_count: 0,
            last_failure: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> BreakerConfig {
        self.config
    }

    fn open_timeout(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.config.open_timeout).unwrap_or(chrono::Duration::MAX)
    }

    fn next_probe_at(&self) -> Option<DateTime<Utc>> {
        (self.state == BreakerState::Open)
            .then(|| self.since.checked_add_signed(self.open_timeout()))
            .flatten()
    }

    /// Moves Open -> HalfOpen when the timeout has passed.
    fn refresh(&mut self, now: DateTime<Utc>) {
        if self.state == BreakerState::Open {
            if let Some(at) = self.next_probe_at() {
                if now >= at {
                    self.state = BreakerState::HalfOpen;
                    self.since = now;
                    self.probe_successes = 0;
                    self.probe_in_flight = false;
                }
            }
        }
    }

    fn open(&mut self, now: DateTime<Utc>) {
        self.state = BreakerState::Open;
        self.since = now;
        self.probe_successes = 0;
        self.probe_in_flight = false;
        self.opened_count += 1;
    }

    /// The current state (after the lazy Open -> HalfOpen check).
    pub fn state(&mut self, now: DateTime<Utc>) -> BreakerState {
        self.refresh(now);
        self.state
    }

    /// Asks to let a call to `op` through. Refused calls get a `circuit_open` error saying
    /// since when, why and when the next probe goes.
    pub fn try_acquire(
        &mut self,
        op: Operation,
        now: DateTime<Utc>,
    ) -> Result<Admission, CloudError> {
        self.refresh(now);
        match self.state {
            BreakerState::Closed => Ok(Admission::Normal),
            BreakerState::HalfOpen if !self.probe_in_flight => {
                self.probe_in_flight = true;
                Ok(Admission::Probe)
            }
            BreakerState::HalfOpen => Err(CloudError::CircuitOpen {
                op,
                since: self.since,
                failures: self.consecutive_failures,
                next_probe_at: None,
                probing: true,
            }),
            BreakerState::Open => Err(CloudError::CircuitOpen {
                op,
                since: self.since,
                failures: self.consecutive_failures,
                next_probe_at: self.next_probe_at(),
                probing: false,
            }),
        }
    }

    /// Records the outcome of a call let through as `admission`.
    pub fn record(&mut self, admission: Admission, outcome: Outcome, now: DateTime<Utc>) {
        self.refresh(now);
        match (admission, self.state) {
            (Admission::Probe, BreakerState::HalfOpen) => {
                self.probe_in_flight = false;
                match outcome {
                    Outcome::Success => {
                        self.probe_successes += 1;
                        if self.probe_successes >= self.config.success_threshold.max(1) {
                            self.state = BreakerState::Closed;
                            self.since = now;
                            self.consecutive_failures = 0;
                            self.probe_successes = 0;
                        }
                    }
                    Outcome::Failure(msg) => {
                        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                        self.last_failure = Some(msg);
                        self.open(now);
                    }
                    Outcome::Neutral => {}
                }
            }
            (Admission::Normal, BreakerState::Closed) => match outcome {
                Outcome::Success => self.consecutive_failures = 0,
                Outcome::Failure(msg) => {
                    self.consecutive_failures = self.consecutive_failures.saturating_add(1);
                    self.last_failure = Some(msg);
                    if self.consecutive_failures >= self.config.failure_threshold.max(1) {
                        self.open(now);
                    }
                }
                Outcome::Neutral => {}
            },
            // A call admitted before the state changed (or a probe from before a reset): its
            // failure is still remembered, but it moves no state.
            (_, _) => {
                if let Outcome::Failure(msg) = outcome {
                    self.last_failure = Some(msg);
                }
            }
        }
    }

    /// Gives back a probe whose call ended without an outcome (cancelled), so the next call
    /// can probe.
    pub fn abandon(&mut self, admission: Admission) {
        if admission == Admission::Probe && self.state == BreakerState::HalfOpen {
            self.probe_in_flight = false;
        }
    }

    /// Forces the breaker closed (an operator's manual reset); the open count is kept.
    pub fn reset(&mut self, now: DateTime<Utc>) {
        self.state = BreakerState::Closed;
        self.since = now;
        self.consecutive_failures = 0;
        self.probe_successes = 0;
        self.probe_in_flight = false;
    }

    /// The state for status reports.
    pub fn snapshot(&mut self, now: DateTime<Utc>) -> BreakerSnapshot {
        self.refresh(now);
        BreakerSnapshot {
            state: self.state,
            since: self.since,
            consecutive_failures: self.consecutive_failures,
            opened_count: self.opened_count,
            next_probe_at: self.next_probe_at(),
            last_failure: self.last_failure.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    const OP: Operation = Operation::ListVMs;

    fn fail(b: &mut CircuitBreaker, now: DateTime<Utc>) {
        let a = b.try_acquire(OP, now).expect("admitted");
        b.record(a, Outcome::Failure("500".to_string()), now);
    }

    fn succeed(b: &mut CircuitBreaker, now: DateTime<Utc>) {
        let a = b.try_acquire(OP, now).expect("admitted");
        b.record(a, Outcome::Success, now);
    }

    fn opened(clock: &ManualClock) -> CircuitBreaker {
        let mut b = CircuitBreaker::new(BreakerConfig::default(), clock.now());
        for _ in 0..5 {
            fail(&mut b, clock.now());
        }
        assert_eq!(b.state(clock.now()), BreakerState::Open);
        b
    }

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let clock = ManualClock::starting_now();
        let mut b = CircuitBreaker::new(BreakerConfig::default(), clock.now());
        for i in 0..4 {
            fail(&mut b, clock.now());
            assert_eq!(
                b.state(clock.now()),
                BreakerState::Closed,
                "after {} failures",
                i + 1
            );
        }
        fail(&mut b, clock.now());
        let s = b.snapshot(clock.now());
        assert_eq!(s.state, BreakerState::Open);
        assert_eq!(s.consecutive_failures, 5);
        assert_eq!(s.opened_count, 1);
        assert_eq!(s.last_failure.as_deref(), Some("500"));
        assert_eq!(
            s.next_probe_at,
            Some(clock.now() + chrono::Duration::seconds(30))
        );
    }

    #[test]
    fn answers_reset_the_count_including_4xx() {
        let clock = ManualClock::starting_now();
        let mut b = CircuitBreaker::new(BreakerConfig::default(), clock.now());
        for _ in 0..4 {
            fail(&mut b, clock.now());
        }
        let not_found = CloudError::NotFound {
            op: OP,
            what: "x".into(),
            hint: "y".into(),
            message: "z".into(),
            request_id: None,
        };
        let a = b.try_acquire(OP, clock.now()).expect("closed");
        b.record(a, Outcome::of::<()>(&Err(not_found)), clock.now());
        assert_eq!(b.snapshot(clock.now()).consecutive_failures, 0);
        for _ in 0..4 {
            fail(&mut b, clock.now());
        }
        assert_eq!(b.state(clock.now()), BreakerState::Closed);
        // Neutral outcomes neither count nor reset.
        let a = b.try_acquire(OP, clock.now()).expect("closed");
        b.record(
            a,
            Outcome::of::<()>(&Err(CloudError::Config("x".into()))),
            clock.now(),
        );
        assert_eq!(b.snapshot(clock.now()).consecutive_failures, 4);
        fail(&mut b, clock.now());
        assert_eq!(b.state(clock.now()), BreakerState::Open);
    }

    #[test]
    fn outcome_classes() {
        let net = CloudError::Network {
            op: OP,
            detail: "refused".into(),
        };
        assert!(matches!(Outcome::of_error(&net), Outcome::Failure(_)));
        let rl = CloudError::RateLimited {
            op: OP,
            retry_after: None,
            message: String::new(),
            request_id: None,
        };
        assert_eq!(Outcome::of_error(&rl), Outcome::Success);
        let open = CloudError::CircuitOpen {
            op: OP,
            since: Utc::now(),
            failures: 5,
            next_probe_at: None,
            probing: false,
        };
        assert_eq!(Outcome::of_error(&open), Outcome::Neutral);
        assert_eq!(Outcome::of::<u8>(&Ok(1)), Outcome::Success);
    }

    #[test]
    fn open_refuses_with_an_actionable_message() {
        let clock = ManualClock::starting_now();
        let mut b = opened(&clock);
        clock.advance(Duration::from_secs(29));
        let e = b
            .try_acquire(Operation::CreateVM, clock.now())
            .expect_err("open");
        assert_eq!(e.class(), ErrorClass::CircuitOpen);
        let m = e.to_string();
        assert!(
            m.starts_with("VPSie API circuit breaker is open since "),
            "{m}"
        );
        assert!(
            m.contains("after 5 consecutive failures; next probe at "),
            "{m}"
        );
        assert!(m.ends_with("reset with kubectl vpsie breaker reset"), "{m}");
    }

    #[test]
    fn half_open_after_timeout_lets_one_probe_through() {
        let clock = ManualClock::starting_now();
        let mut b = opened(&clock);
        clock.advance(Duration::from_secs(30));
        assert_eq!(b.state(clock.now()), BreakerState::HalfOpen);
        let probe = b.try_acquire(OP, clock.now()).expect("probe");
        assert_eq!(probe, Admission::Probe);
        for _ in 0..3 {
            let e = b
                .try_acquire(OP, clock.now())
                .expect_err("one probe at a time");
            assert!(e.to_string().contains("a probe call is in flight"), "{e}");
        }
        b.record(probe, Outcome::Success, clock.now());
        let s = b.snapshot(clock.now());
        assert_eq!(s.state, BreakerState::Closed);
        assert_eq!(s.consecutive_failures, 0);
        assert_eq!(b.try_acquire(OP, clock.now()), Ok(Admission::Normal));
    }

    #[test]
    fn failed_probe_reopens_with_new_since() {
        let clock = ManualClock::starting_now();
        let mut b = opened(&clock);
        clock.advance(Duration::from_secs(31));
        let probe = b.try_acquire(OP, clock.now()).expect("probe");
        b.record(probe, Outcome::Failure("502".into()), clock.now());
        let s = b.snapshot(clock.now());
        assert_eq!(s.state, BreakerState::Open);
        assert_eq!(s.since, clock.now());
        assert_eq!(s.opened_count, 2);
        assert_eq!(s.consecutive_failures, 6);
        assert_eq!(s.last_failure.as_deref(), Some("502"));
        clock.advance(Duration::from_secs(29));
        assert_eq!(b.state(clock.now()), BreakerState::Open);
        clock.advance(Duration::from_secs(1));
        assert_eq!(b.state(clock.now()), BreakerState::HalfOpen);
    }

    #[test]
    fn success_threshold_needs_consecutive_probes() {
        let clock = ManualClock::starting_now();
        let cfg = BreakerConfig {
            failure_threshold: 2,
            open_timeout: Duration::from_secs(10),
            success_threshold: 2,
        };
        let mut b = CircuitBreaker::new(cfg, clock.now());
        fail(&mut b, clock.now());
        fail(&mut b, clock.now());
        assert_eq!(b.state(clock.now()), BreakerState::Open);
        clock.advance(Duration::from_secs(10));
        succeed(&mut b, clock.now());
        assert_eq!(b.state(clock.now()), BreakerState::HalfOpen);
        succeed(&mut b, clock.now());
        assert_eq!(b.state(clock.now()), BreakerState::Closed);
    }

    #[test]
    fn abandoned_probe_frees_the_slot() {
        let clock = ManualClock::starting_now();
        let mut b = opened(&clock);
        clock.advance(Duration::from_secs(30));
        let probe = b.try_acquire(OP, clock.now()).expect("probe");
        b.abandon(probe);
        let again = b.try_acquire(OP, clock.now()).expect("slot is free");
        assert_eq!(again, Admission::Probe);
        // A neutral probe outcome frees the slot too, without closing.
        b.record(again, Outcome::Neutral, clock.now());
        assert_eq!(b.state(clock.now()), BreakerState::HalfOpen);
        assert_eq!(b.try_acquire(OP, clock.now()), Ok(Admission::Probe));
    }

    #[test]
    fn stale_outcomes_move_no_state() {
        let clock = ManualClock::starting_now();
        let mut b = CircuitBreaker::new(BreakerConfig::default(), clock.now());
        let late = b.try_acquire(OP, clock.now()).expect("closed");
        for _ in 0..5 {
            fail(&mut b, clock.now());
        }
        b.record(late, Outcome::Success, clock.now());
        assert_eq!(
            b.state(clock.now()),
            BreakerState::Open,
            "a late success does not close"
        );
    }

    #[test]
    fn reset_forces_closed() {
        let clock = ManualClock::starting_now();
        let mut b = opened(&clock);
        clock.advance(Duration::from_secs(3));
        b.reset(clock.now());
        let s = b.snapshot(clock.now());
        assert_eq!(s.state, BreakerState::Closed);
        assert_eq!(s.since, clock.now());
        assert_eq!(s.consecutive_failures, 0);
        assert_eq!(s.opened_count, 1);
        assert_eq!(s.next_probe_at, None);
        assert_eq!(b.try_acquire(OP, clock.now()), Ok(Admission::Normal));
        // Reset from half-open with a probe in flight.
        let mut b = opened(&clock);
        clock.advance(Duration::from_secs(30));
        let probe = b.try_acquire(OP, clock.now()).expect("probe");
        b.reset(clock.now());
        b.record(probe, Outcome::Failure("late".into()), clock.now());
        assert_eq!(b.state(clock.now()), BreakerState::Closed);
    }

    #[test]
    fn gauge_encoding() {
        assert_eq!(BreakerState::Closed.gauge_value(), 0);
        assert_eq!(BreakerState::Open.gauge_value(), 1);
        assert_eq!(BreakerState::HalfOpen.gauge_value(), 2);
        assert_eq!(BreakerState::HalfOpen.as_str(), "half-open");
    }

    #[test]
    fn zero_thresholds_are_taken_as_one() {
        let clock = ManualClock::starting_now();
        let cfg = BreakerConfig {
            failure_threshold: 0,
            open_timeout: Duration::ZERO,
            success_threshold: 0,
        };
        let mut b = CircuitBreaker::new(cfg, clock.now());
        fail(&mut b, clock.now());
        // Zero timeout: immediately half-open.
        assert_eq!(b.state(clock.now()), BreakerState::HalfOpen);
        succeed(&mut b, clock.now());
        assert_eq!(b.state(clock.now()), BreakerState::Closed);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        #[derive(Debug, Clone)]
        enum Step {
            Acquire,
            Finish(usize, u8),
            Advance(u64),
            Reset,
        }

        fn step() -> impl Strategy<Value = Step> {
            prop_oneof![
                4 => Just(Step::Acquire),
                4 => (0usize..8, 0u8..3).prop_map(|(i, o)| Step::Finish(i, o)),
                2 => (0u64..40).prop_map(Step::Advance),
                1 => Just(Step::Reset),
            ]
        }

        proptest! {
            #[test]
            fn invariants_hold_for_any_sequence(steps in prop::collection::vec(step(), 0..80), threshold in 1u32..6) {
                let clock = ManualClock::starting_now();
                let cfg = BreakerConfig { failure_threshold: threshold, open_timeout: Duration::from_secs(30), success_threshold: 1 };
                let mut b = CircuitBreaker::new(cfg, clock.now());
                let mut outstanding: Vec<Admission> = Vec::new();
                for s in steps {
                    match s {
                        Step::Acquire => {
                            let before = b.state(clock.now());
                            match b.try_acquire(OP, clock.now()) {
                                Ok(a) => {
                                    prop_assert!(before != BreakerState::Open);
                                    if a == Admission::Probe {
                                        prop_assert_eq!(before, BreakerState::HalfOpen);
                                    }
                                    outstanding.push(a);
                                }
                                Err(e) => {
                                    prop_assert_eq!(e.class(), ErrorClass::CircuitOpen);
                                    prop_assert!(before != BreakerState::Closed);
                                }
                            }
                        }
                        Step::Finish(i, o) if !outstanding.is_empty() => {
                            let a = outstanding.remove(i % outstanding.len());
                            let outcome = match o { 0 => Outcome::Success, 1 => Outcome::Failure("f".into()), _ => Outcome::Neutral };
                            b.record(a, outcome, clock.now());
                        }
                        Step::Finish(..) => {}
                        Step::Advance(secs) => clock.advance(Duration::from_secs(secs)),
                        Step::Reset => b.reset(clock.now()),
                    }
                    let snap = b.snapshot(clock.now());
                    prop_assert_eq!(snap.next_probe_at.is_some(), snap.state == BreakerState::Open);
                    if snap.state == BreakerState::Closed {
                        prop_assert!(snap.consecutive_failures < threshold);
                    }
                    prop_assert!(snap.since <= clock.now());
                    // Half-open: never two probes admitted at once.
                    if snap.state == BreakerState::HalfOpen && b.probe_in_flight {
                        prop_assert!(b.clone().try_acquire(OP, clock.now()).is_err());
                    }
                }
            }
        }
    }
}
