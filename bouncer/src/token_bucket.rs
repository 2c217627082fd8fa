//! A token bucket: a burst, then a steady rate. Sans-IO (time is passed
//! in). Flood control paces IRC clients with it; the worker's log relay
//! drops lines with it.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct TokenBucket {
    capacity: f64,
    per_second: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `capacity` tokens, refilled at `per_second`.
    pub fn new(capacity: f64, per_second: f64, now: Instant) -> TokenBucket {
        TokenBucket {
            capacity,
            per_second,
            tokens: capacity,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
    }

    /// Takes a token even if there is none (a debt paid back by waiting):
    /// how long the caller should wait before going on (zero if none).
    pub fn take(&mut self, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }

    /// Takes a token if there is one.
    pub fn try_take(&mut self, now: Instant) -> bool {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// The share of the bucket that is full now (0 or less: in debt).
    pub fn level(&mut self, now: Instant) -> f64 {
        self.refill(now);
        self.tokens / self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(3.0, 2.0, t0);
        assert!((0..3).all(|_| b.try_take(t0)));
        assert!(!b.try_take(t0), "empty");
        assert!(
            b.try_take(t0 + Duration::from_millis(500)),
            "one more after 1/2 s"
        );
        let mut b = TokenBucket::new(1.0, 4.0, t0);
        assert_eq!(b.take(t0), Duration::ZERO);
        assert_eq!(b.take(t0), Duration::from_millis(250));
        assert_eq!(b.take(t0), Duration::from_millis(500), "debts add up");
        assert!(b.level(t0) < 0.0);
        assert!(b.level(t0 + Duration::from_secs(10)) >= 1.0);
    }
}
