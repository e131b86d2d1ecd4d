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

/// A length of time as flags and files write it: `90` (seconds), or numbers with `ms`, `s`,
/// `m` or `h`, alone or in sequence (`1.5s`, `500ms`, `15m`, `1h30m`). The error names the value
/// and the fix; no input panics (too long a time is an error, not an overflow).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let err = |why: String| {
        format!(
            "invalid duration {text:?}: {why}; write seconds (90) or numbers with ms, s, m or h (1.5s, 15m, 1h30m)"
        )
    };
    let secs = |v: f64| {
        if !v.is_finite() || v < 0.0 {
            return Err(err("not a length of time".into()));
        }
        Duration::try_from_secs_f64(v).map_err(|_| err("too long".into()))
    };
    if t.is_empty() {
        return Err(err("it is empty".into()));
    }
    if t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return match t.parse::<f64>() {
            Ok(v) => secs(v),
            Err(_) => Err(err(format!("{t:?} is not a number"))),
        };
    }
    let mut total = 0.0f64;
    let mut rest = t;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if n == 0 {
            return Err(err(format!("expected a number before {rest:?}")));
        }
        let number = &rest[..n];
        let v: f64 = number
            .parse()
            .map_err(|_| err(format!("{number:?} is not a number")))?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..u] {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(err(format!("a unit is missing after {number}"))),
            other => return Err(err(format!("unknown unit {other:?}"))),
        };
        rest = &rest[u..];
        total += v * mult;
    }
    secs(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text is a duration or an error quoting it, never a panic.
        #[test]
        fn any_text_is_a_duration_or_an_error_quoting_it(text in prop_oneof![
            any::<String>(),
            "[0-9.]{1,400}[a-z]{0,3}",
            "[0-9]{1,30}(ms|s|m|h)([0-9]{1,30}(ms|s|m|h)){0,3}",
        ]) {
            if let Err(e) = parse_duration(&text) {
                prop_assert!(e.contains(&format!("{text:?}")), "{e}");
            }
        }

        /// What an operator writes in pieces adds up.
        #[test]
        fn hours_minutes_seconds_and_millis_add_up(h in 0u64..1000, m in 0u64..1000, s in 0u64..1000, ms in 0u64..1000) {
            let text = format!("{h}h{m}m{s}s{ms}ms");
            let want = Duration::from_millis(((h * 60 + m) * 60 + s) * 1000 + ms);
            let got = parse_duration(&text).unwrap();
            prop_assert!(got.abs_diff(want) < Duration::from_micros(1), "{text}: {got:?}");
        }
    }

    #[test]
    fn durations_read_as_operators_write_them() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(
            parse_duration(" 250ms ").unwrap(),
            Duration::from_millis(250)
        );
        for bad in [
            "",
            "s",
            "10x",
            "5m3",
            "-1s",
            "-1",
            "1e300",
            "NaN",
            "1..5s",
            "9".repeat(400).as_str(),
        ] {
            let e = parse_duration(bad).unwrap_err();
            assert!(e.contains("invalid duration"), "{bad}: {e}");
        }
    }

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
