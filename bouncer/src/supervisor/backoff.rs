//! Restart delays: exponential, capped, jittered, and forgiven after a
//! stable run. Sans-IO: time and randomness come in as arguments.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    stable_after: Duration,
    failures: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, stable_after: Duration) -> Self {
        Backoff {
            initial,
            max,
            stable_after,
            failures: 0,
        }
    }

    #[cfg(test)]
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The delay before the next start, after a worker that became ready at
    /// `ready_at` (if it ever did) ended at `now`. `unit_random` is a
    /// uniform sample from [0, 1): up to a quarter of the delay is shaved
    /// off at random so that many bouncers do not reconnect in lock-step.
    pub fn next_delay(&mut self, ready_at: Option<Instant>, now: Instant, unit_random: f64) -> Duration {
        if ready_at.is_some_and(|t| now.saturating_duration_since(t) >= self.stable_after) {
            self.failures = 0;
        }
        let base = self
            .initial
            .saturating_mul(2u32.saturating_pow(self.failures.min(31)))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        base.mul_f64(1.0 - 0.25 * unit_random.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut b = Backoff::new(secs(1), secs(300), secs(600));
        let now = Instant::now();
        let delays: Vec<u64> = (0..12).map(|_| b.next_delay(None, now, 0.0).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
    }

    #[test]
    fn jitter_shaves_at_most_a_quarter() {
        let now = Instant::now();
        let mut b = Backoff::new(secs(8), secs(300), secs(600));
        assert_eq!(b.next_delay(None, now, 0.999_999).as_millis(), 6000);
        let mut b = Backoff::new(secs(8), secs(300), secs(600));
        assert_eq!(b.next_delay(None, now, 0.5), Duration::from_millis(7000));
    }

    #[test]
    fn a_stable_run_resets_the_delay() {
        let mut b = Backoff::new(secs(1), secs(300), secs(600));
        let start = Instant::now();
        for _ in 0..5 {
            b.next_delay(None, start, 0.0);
        }
        assert_eq!(b.next_delay(Some(start), start + secs(599), 0.0), secs(32));
        assert_eq!(b.next_delay(Some(start), start + secs(600), 0.0), secs(1));
        assert_eq!(b.failures(), 1);
    }

    #[test]
    fn huge_failure_counts_do_not_overflow() {
        let mut b = Backoff::new(secs(1), secs(300), secs(600));
        b.failures = u32::MAX - 1;
        assert_eq!(b.next_delay(None, Instant::now(), 0.0), secs(300));
        assert_eq!(b.next_delay(None, Instant::now(), 0.0), secs(300));
    }
}
