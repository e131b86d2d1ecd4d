//! When and how long to wait before retrying a failed call.
//!
//! Exponential backoff (default: up to 3 retries, 100 ms, x2, capped at 30 s, full jitter) as a
//! pure function of the attempt and a random source. Only calls that cannot do anything twice
//! are retried after an ambiguous failure (network error, 5xx): reads, `DeleteVM` and the
//! login. A 429 means nothing was done, so any call may be retried after it, waiting the
//! `Retry-After` when given.

use std::time::Duration;

use rand::Rng;

use super::error::{CloudError, ErrorClass};
use super::op::Operation;

/// How randomness spreads the delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly the exponential delay.
    None,
    /// Uniform in `[0, delay]`.
    Full,
    /// `delay/2` plus uniform in `[0, delay/2]`.
    Equal,
}

/// The retry policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first try (default 3).
    pub max_retries: u32,
    /// Delay before the first retry (default 100 ms).
    pub initial_delay: Duration,
    /// Growth per retry (default 2).
    pub multiplier: f64,
    /// Longest delay (default 30 s); a `Retry-After` longer than this is not waited for: the
    /// error goes back to the caller, who requeues.
    pub max_delay: Duration,
    /// Jitter (default full).
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            initial_delay: Duration::from_millis(100),
            multiplier: 2.0,
            max_delay: Duration::from_secs(30),
            jitter: Jitter::Full,
        }
    }
}

/// What to do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Return the error.
    GiveUp,
}

/// Whether `op` may be sent again after a failure that leaves unknown whether it was done.
pub fn is_retry_safe(op: Operation) -> bool {
    op.is_idempotent()
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..RetryPolicy::default()
        }
    }

    /// The delay before retry number `attempt` (0 for the first retry), before jitter:
    /// `initial * multiplier^attempt`, capped at `max_delay`.
    pub fn base_delay(&self, attempt: u32) -> Duration {
        let mult = if self.multiplier.is_finite() && self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0
        };
        let secs = self.initial_delay.as_secs_f64() * mult.powi(attempt.min(1000) as i32);
        let cap = self.max_delay.as_secs_f64();
        if !secs.is_finite() || secs >= cap {
            self.max_delay
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// The jittered delay before retry number `attempt` (0 for the first retry).
    pub fn backoff<R: Rng + ?Sized>(&self, attempt: u32, rng: &mut R) -> Duration {
        let base = self.base_delay(attempt);
        match self.jitter {
            Jitter::None => base,
            Jitter::Full => base.mul_f64(rng.random_range(0.0..=1.0)),
            Jitter::Equal => base / 2 + (base / 2).mul_f64(rng.random_range(0.0..=1.0)),
        }
    }

    /// Whether and how long to wait before retrying `op` after `err`, when `retries_done`
    /// retries were already made.
    pub fn decide<R: Rng + ?Sized>(
        &self,
        op: Operation,
        err: &CloudError,
        retries_done: u32,
        rng: &mut R,
    ) -> RetryDecision {
        if retries_done >= self.max_retries {
            return RetryDecision::GiveUp;
        }
        let backoff = self.backoff(retries_done, rng);
        match err.class() {
            ErrorClass::RateLimited => match err.retry_after() {
                Some(wait) if wait > self.max_delay => RetryDecision::GiveUp,
                Some(wait) => RetryDecision::RetryAfter(wait),
                None => RetryDecision::RetryAfter(backoff),
            },
            ErrorClass::Network | ErrorClass::ServerError if is_retry_safe(op) => {
                match err.retry_after() {
                    Some(wait) if wait > self.max_delay => RetryDecision::GiveUp,
                    Some(wait) => RetryDecision::RetryAfter(wait.max(backoff)),
                    None => RetryDecision::RetryAfter(backoff),
                }
            }
            _ => RetryDecision::GiveUp,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn server() -> CloudError {
        CloudError::Server {
            op: Operation::GetVM,
            status: 503,
            message: String::new(),
            retry_after: None,
            request_id: None,
        }
    }

    fn limited(after: Option<u64>) -> CloudError {
        CloudError::RateLimited {
            op: Operation::ListVMs,
            retry_after: after.map(Duration::from_secs),
            message: String::new(),
            request_id: None,
        }
    }

    #[test]
    fn exponential_and_capped() {
        let p = RetryPolicy::default();
        let ms: Vec<u128> = (0..5).map(|a| p.base_delay(a).as_millis()).collect();
        assert_eq!(ms, vec![100, 200, 400, 800, 1600]);
        assert_eq!(
            p.base_delay(9),
            Duration::from_millis(51_200).min(Duration::from_secs(30))
        );
        assert_eq!(p.base_delay(50), Duration::from_secs(30));
        assert_eq!(p.base_delay(u32::MAX), Duration::from_secs(30));
        let weird = RetryPolicy {
            multiplier: f64::NAN,
            ..p
        };
        assert_eq!(weird.base_delay(5), Duration::from_millis(100));
    }

    #[test]
    fn jitter_bounds() {
        let mut rng = StdRng::seed_from_u64(7);
        let full = RetryPolicy::default();
        let equal = RetryPolicy {
            jitter: Jitter::Equal,
            ..full
        };
        let none = RetryPolicy {
            jitter: Jitter::None,
            ..full
        };
        let mut distinct = std::collections::BTreeSet::new();
        for attempt in 0..8 {
            let base = full.base_delay(attempt);
            for _ in 0..200 {
                let f = full.backoff(attempt, &mut rng);
                assert!(f <= base);
                distinct.insert(f);
                let e = equal.backoff(attempt, &mut rng);
                assert!(e >= base / 2 && e <= base, "{e:?} vs {base:?}");
            }
            assert_eq!(none.backoff(attempt, &mut rng), base);
        }
        assert!(distinct.len() > 100, "jitter actually varies");
    }

    #[test]
    fn decisions() {
        let mut rng = StdRng::seed_from_u64(1);
        let p = RetryPolicy {
            jitter: Jitter::None,
            ..RetryPolicy::default()
        };
        assert_eq!(
            p.decide(Operation::GetVM, &server(), 0, &mut rng),
            RetryDecision::RetryAfter(Duration::from_millis(100))
        );
        assert_eq!(
            p.decide(Operation::GetVM, &server(), 2, &mut rng),
            RetryDecision::RetryAfter(Duration::from_millis(400))
        );
        assert_eq!(
            p.decide(Operation::GetVM, &server(), 3, &mut rng),
            RetryDecision::GiveUp
        );
        let net = CloudError::Network {
            op: Operation::DeleteVM,
            detail: String::new(),
        };
        assert!(matches!(
            p.decide(Operation::DeleteVM, &net, 0, &mut rng),
            RetryDecision::RetryAfter(_)
        ));
        assert!(matches!(
            p.decide(Operation::Login, &net, 0, &mut rng),
            RetryDecision::RetryAfter(_)
        ));
        // CreateVM is never retried after an ambiguous failure...
        assert_eq!(
            p.decide(Operation::CreateVM, &server(), 0, &mut rng),
            RetryDecision::GiveUp
        );
        assert_eq!(
            p.decide(Operation::CreateVM, &net, 0, &mut rng),
            RetryDecision::GiveUp
        );
        // ...but is after a 429, which did nothing.
        assert_eq!(
            p.decide(Operation::CreateVM, &limited(Some(12)), 0, &mut rng),
            RetryDecision::RetryAfter(Duration::from_secs(12))
        );
        assert_eq!(
            p.decide(Operation::ListVMs, &limited(None), 1, &mut rng),
            RetryDecision::RetryAfter(Duration::from_millis(200))
        );
        assert_eq!(
            p.decide(Operation::ListVMs, &limited(Some(31)), 0, &mut rng),
            RetryDecision::GiveUp
        );
        // 503 with Retry-After waits at least that long.
        let s = CloudError::Server {
            op: Operation::GetVM,
            status: 503,
            message: String::new(),
            retry_after: Some(Duration::from_secs(2)),
            request_id: None,
        };
        assert_eq!(
            p.decide(Operation::GetVM, &s, 0, &mut rng),
            RetryDecision::RetryAfter(Duration::from_secs(2))
        );
        for e in [
            CloudError::Config("x".into()),
            CloudError::Forbidden {
                op: Operation::GetVM,
                message: String::new(),
                request_id: None,
            },
            CloudError::BadRequest {
                op: Operation::GetVM,
                status: 400,
                message: String::new(),
                request_id: None,
            },
            CloudError::Decode {
                op: Operation::GetVM,
                status: Some(200),
                detail: String::new(),
                request_id: None,
            },
        ] {
            assert_eq!(
                p.decide(Operation::GetVM, &e, 0, &mut rng),
                RetryDecision::GiveUp,
                "{e}"
            );
        }
        assert_eq!(
            RetryPolicy::none().decide(Operation::GetVM, &server(), 0, &mut rng),
            RetryDecision::GiveUp
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn delays_never_exceed_the_cap(
                attempt in 0u32..200,
                initial_ms in 0u64..100_000,
                mult in 0.0f64..10.0,
                cap_ms in 0u64..100_000,
                jitter in prop_oneof![Just(Jitter::None), Just(Jitter::Full), Just(Jitter::Equal)],
                retry_after in prop::option::of(0u64..200),
                seed in any::<u64>(),
            ) {
                let p = RetryPolicy {
                    max_retries: 500,
                    initial_delay: Duration::from_millis(initial_ms),
                    multiplier: mult,
                    max_delay: Duration::from_millis(cap_ms),
                    jitter,
                };
                let mut rng = StdRng::seed_from_u64(seed);
                prop_assert!(p.backoff(attempt, &mut rng) <= p.max_delay);
                let errs = [
                    CloudError::RateLimited { op: Operation::ListVMs, retry_after: retry_after.map(Duration::from_secs), message: String::new(), request_id: None },
                    CloudError::Server { op: Operation::ListVMs, status: 503, message: String::new(), retry_after: retry_after.map(Duration::from_secs), request_id: None },
                ];
                for e in errs {
                    if let RetryDecision::RetryAfter(d) = p.decide(Operation::ListVMs, &e, attempt, &mut rng) {
                        prop_assert!(d <= p.max_delay);
                    }
                }
            }
        }
    }
}
