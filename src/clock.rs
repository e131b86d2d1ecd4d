//! The time source.
//!
//! Everything that expires or waits (access tokens, the circuit breaker, simulated VM boots) reads
//! time from a [`Clock`], never from the system directly, so tests move time forward instead of
//! sleeping and the simulator can run faster than real time.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// A source of wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> DateTime<Utc>;

    /// How long to really wait for `d` of this clock's time to pass. The system clock waits `d`;
    /// a faster-than-real clock waits less; a manual clock does not wait at all (the test moves
    /// time itself).
    fn real_duration(&self, d: Duration) -> Duration {
        d
    }
}

/// Waits until `d` of `clock`'s time has passed (see [`Clock::real_duration`]).
pub async fn sleep(clock: &dyn Clock, d: Duration) {
    let real = clock.real_duration(d);
    if !real.is_zero() {
        tokio::time::sleep(real).await;
    }
}

/// A shareable clock.
pub type SharedClock = Arc<dyn Clock>;

/// The real time of the machine.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system clock as a [`SharedClock`].
pub fn system() -> SharedClock {
    Arc::new(SystemClock)
}

/// A clock that only moves when told to: for tests.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// A manual clock starting at `start`.
    pub fn new(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self {
            now: Mutex::new(start),
        })
    }

    /// A manual clock starting at the current system time.
    pub fn starting_now() -> Arc<Self> {
        Self::new(Utc::now())
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
    }

    /// Sets the clock to `to`.
    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn real_duration(&self, _d: Duration) -> Duration {
        Duration::ZERO
    }
}

/// A clock that runs `speed` times faster than real time from the moment it is made: the
/// simulator's virtual time.
#[derive(Debug)]
pub struct ScaledClock {
    origin_real: Instant,
    origin_virtual: DateTime<Utc>,
    speed: f64,
}

impl ScaledClock {
    /// A clock starting at the current system time and running `speed` times faster than it.
    /// A speed that is not a positive finite number is taken as 1.
    pub fn new(speed: f64) -> Arc<Self> {
        let speed = if speed.is_finite() && speed > 0.0 {
            speed
        } else {
            1.0
        };
        Arc::new(Self {
            origin_real: Instant::now(),
            origin_virtual: Utc::now(),
            speed,
        })
    }

    /// How many times faster than real time this clock runs.
    pub fn speed(&self) -> f64 {
        self.speed
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = self.origin_real.elapsed().mul_f64(self.speed);
        self.origin_virtual + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::MAX)
    }

    fn real_duration(&self, d: Duration) -> Duration {
        d.div_f64(self.speed)
    }
}

/// A length of time as flags and files write it: `90` (seconds), or a number with `ms`, `s`,
/// `m` or `h` (`1.5s`, `15m`). The error names the value and the fix.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    match num.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Duration::from_secs_f64(v * mult)),
        _ => Err(format!(
            "invalid duration {text:?}: write seconds (90) or a number with ms, s, m or h (1.5s, 15m)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let start = Utc::now();
        let clock = ManualClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::from_secs(30));
        assert_eq!(clock.now(), start + chrono::Duration::seconds(30));
        assert_eq!(clock.real_duration(Duration::from_secs(5)), Duration::ZERO);
    }

    #[test]
    fn scaled_clock_rejects_nonsense_speeds() {
        assert_eq!(ScaledClock::new(f64::NAN).speed(), 1.0);
        assert_eq!(ScaledClock::new(-3.0).speed(), 1.0);
        assert_eq!(ScaledClock::new(10.0).speed(), 10.0);
        assert_eq!(
            ScaledClock::new(10.0).real_duration(Duration::from_secs(10)),
            Duration::from_secs(1)
        );
    }
}
