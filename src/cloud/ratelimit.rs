//! Client-side rate limiting: a token bucket (default 100 requests a minute) and the pauses
//! the API imposes with `429 Retry-After`.
//!
//! Pure: [`RateLimiter::reserve`] takes the current time and says how long the caller must wait
//! before sending; the client waits with [`crate::clock::sleep`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Settings of the limiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitConfig {
    /// Sustained rate (default 100 a minute). 0 turns the bucket off (server pauses still apply).
    pub requests_per_minute: u32,
    /// How many calls may go out at once after a quiet spell (default 10; 0 is taken as 1).
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            requests_per_minute: 100,
            burst: 20,
        }
    }
}

/// What the limiter reports for status output and the tokens gauge.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitSnapshot {
    /// Tokens in the bucket now (negative when calls are queued for tokens).
    pub tokens: f64,
    /// Bucket size.
    pub capacity: u32,
    /// Calls waiting right now.
    pub waiting: u32,
    /// No call goes out before this (a 429's `Retry-After`), when in the future.
    pub blocked_until: Option<DateTime<Utc>>,
}

/// The token bucket plus the server-imposed pause.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    config: RateLimitConfig,
    tokens: f64,
    last: DateTime<Utc>,
    blocked_until: Option<DateTime<Utc>>,
    waiting: u32,
}

fn to_std(d: chrono::Duration) -> Duration {
    d.to_std().unwrap_or(Duration::ZERO)
}

impl RateLimiter {
    /// A full bucket.
    pub fn new(config: RateLimitConfig, now: DateTime<Utc>) -> Self {
        RateLimiter {
            config,
            tokens: f64::from(config.burst.max(1)),
            last: now,
            blocked_until: None,
            waiting: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> RateLimitConfig {
        self.config
    }

    fn capacity(&self) -> f64 {
        f64::from(self.config.burst.max(1))
    }

    fn rate_per_sec(&self) -> f64 {
        f64::from(self.config.requests_per_minute) / 60.0
    }

    fn refill(&mut self, now: DateTime<Utc>) {
        if now > self.last {
            let elapsed = to_std(now - self.last).as_secs_f64();
            self.tokens = (self.tokens + elapsed * self.rate_per_sec()).min(self.capacity());
            self.last = now;
        }
    }

    /// Takes a token for one call and returns how long to wait before sending it: zero when a
    /// token was there and no pause is in force. Tokens are reserved, so concurrent callers
    /// queue fairly one behind the other.
    pub fn reserve(&mut self, now: DateTime<Utc>) -> Duration {
        let bucket_wait = if self.config.requests_per_minute == 0 {
            Duration::ZERO
        } else {
            self.refill(now);
            self.tokens -= 1.0;
            if self.tokens >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-self.tokens / self.rate_per_sec())
            }
        };
        bucket_wait.max(self.pause_left(now))
    }

    /// How long the server-imposed pause still lasts.
    pub fn pause_left(&self, now: DateTime<Utc>) -> Duration {
        self.blocked_until
            .map(|at| to_std(at - now))
            .unwrap_or(Duration::ZERO)
    }

    /// Holds every call until `now + retry_after` (a 429's `Retry-After`); an earlier pause
    /// never shortens a later one.
    pub fn block_for(&mut self, now: DateTime<Utc>, retry_after: Duration) {
        let until = now + chrono::Duration::from_std(retry_after).unwrap_or(chrono::Duration::MAX);
        self.blocked_until = Some(match self.blocked_until {
            Some(existing) if existing > until => existing,
            _ => until,
        });
    }

    /// Counts a caller that started waiting.
    pub fn begin_wait(&mut self) {
        self.waiting = self.waiting.saturating_add(1);
    }

    /// Counts a caller that stopped waiting.
    pub fn end_wait(&mut self) {
        self.waiting = self.waiting.saturating_sub(1);
    }

    /// The tokens in the bucket now.
    pub fn tokens(&mut self, now: DateTime<Utc>) -> f64 {
        self.refill(now);
        self.tokens
    }

    /// The state for status reports.
    pub fn snapshot(&mut self, now: DateTime<Utc>) -> RateLimitSnapshot {
        self.refill(now);
        RateLimitSnapshot {
            tokens: self.tokens,
            capacity: self.config.burst.max(1),
            waiting: self.waiting,
            blocked_until: self.blocked_until.filter(|at| *at > now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock};

    #[test]
    fn burst_then_steady_rate() {
        let clock = ManualClock::starting_now();
        let mut l = RateLimiter::new(
            RateLimitConfig {
                requests_per_minute: 60,
                burst: 3,
            },
            clock.now(),
        );
        for _ in 0..3 {
            assert_eq!(l.reserve(clock.now()), Duration::ZERO);
        }
        assert_eq!(l.reserve(clock.now()), Duration::from_secs(1));
        assert_eq!(l.reserve(clock.now()), Duration::from_secs(2));
        let s = l.snapshot(clock.now());
        assert_eq!(s.tokens, -2.0);
        clock.advance(Duration::from_secs(3));
        // Two reserved tokens were paid back; one new one is there.
        assert_eq!(l.reserve(clock.now()), Duration::ZERO);
        assert_eq!(l.reserve(clock.now()), Duration::from_secs(1));
    }

    #[test]
    fn default_is_100_per_minute() {
        // a burst of 20 (a wave of CreateVMs passes at once), then one every 0.6 s
        let clock = ManualClock::starting_now();
        let mut l = RateLimiter::new(RateLimitConfig::default(), clock.now());
        for _ in 0..20 {
            assert_eq!(l.reserve(clock.now()), Duration::ZERO);
        }
        assert_eq!(l.reserve(clock.now()), Duration::from_millis(600));
    }

    #[test]
    fn bucket_never_overfills() {
        let clock = ManualClock::starting_now();
        let mut l = RateLimiter::new(
            RateLimitConfig {
                requests_per_minute: 600,
                burst: 5,
            },
            clock.now(),
        );
        clock.advance(Duration::from_secs(3600));
        assert_eq!(l.tokens(clock.now()), 5.0);
        assert_eq!(l.snapshot(clock.now()).capacity, 5);
    }

    #[test]
    fn server_pause_holds_every_call() {
        let clock = ManualClock::starting_now();
        let mut l = RateLimiter::new(RateLimitConfig::default(), clock.now());
        l.block_for(clock.now(), Duration::from_secs(12));
        assert_eq!(l.reserve(clock.now()), Duration::from_secs(12));
        assert_eq!(
            l.snapshot(clock.now()).blocked_until,
            Some(clock.now() + chrono::Duration::seconds(12))
        );
        // A shorter pause does not shorten it.
        l.block_for(clock.now(), Duration::from_secs(2));
        assert_eq!(l.pause_left(clock.now()), Duration::from_secs(12));
        clock.advance(Duration::from_secs(5));
        assert_eq!(l.reserve(clock.now()), Duration::from_secs(7));
        clock.advance(Duration::from_secs(7));
        assert_eq!(l.reserve(clock.now()), Duration::ZERO);
        assert_eq!(l.snapshot(clock.now()).blocked_until, None);
    }

    #[test]
    fn zero_rate_disables_the_bucket_only() {
        let clock = ManualClock::starting_now();
        let mut l = RateLimiter::new(
            RateLimitConfig {
                requests_per_minute: 0,
                burst: 0,
            },
            clock.now(),
        );
        for _ in 0..1000 {
            assert_eq!(l.reserve(clock.now()), Duration::ZERO);
        }
        l.block_for(clock.now(), Duration::from_secs(1));
        assert_eq!(l.reserve(clock.now()), Duration::from_secs(1));
    }

    #[test]
    fn waiting_count() {
        let clock = ManualClock::starting_now();
        let mut l = RateLimiter::new(RateLimitConfig::default(), clock.now());
        l.begin_wait();
        l.begin_wait();
        l.end_wait();
        assert_eq!(l.snapshot(clock.now()).waiting, 1);
        l.end_wait();
        l.end_wait();
        assert_eq!(l.snapshot(clock.now()).waiting, 0);
    }

    #[test]
    fn clock_going_back_does_not_refill() {
        let clock = ManualClock::starting_now();
        let start = clock.now();
        let mut l = RateLimiter::new(
            RateLimitConfig {
                requests_per_minute: 60,
                burst: 1,
            },
            start,
        );
        assert_eq!(l.reserve(start), Duration::ZERO);
        clock.set(start - chrono::Duration::seconds(100));
        assert_eq!(l.reserve(clock.now()), Duration::from_secs(1));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn sends_never_exceed_burst_plus_rate(
                rpm in 1u32..600,
                burst in 1u32..20,
                gaps_ms in prop::collection::vec(0u64..3000, 1..60),
            ) {
                let clock = ManualClock::starting_now();
                let start = clock.now();
                let mut l = RateLimiter::new(RateLimitConfig { requests_per_minute: rpm, burst }, start);
                let mut sends: Vec<f64> = Vec::new();
                for gap in gaps_ms {
                    clock.advance(Duration::from_millis(gap));
                    let wait = l.reserve(clock.now());
                    let at = (clock.now() - start).num_microseconds().unwrap_or(0) as f64 / 1e6 + wait.as_secs_f64();
                    sends.push(at);
                }
                let rate = f64::from(rpm) / 60.0;
                let mut sorted = sends.clone();
                sorted.sort_by(f64::total_cmp);
                for i in 0..sorted.len() {
                    for j in i..sorted.len() {
                        let count = (j - i + 1) as f64;
                        let allowed = f64::from(burst) + rate * (sorted[j] - sorted[i]) + 1e-6;
                        prop_assert!(count <= allowed, "{} sends in {}s", count, sorted[j] - sorted[i]);
                    }
                }
            }
        }
    }
}
