//! Flood control per client: a [`TokenBucket`]. Lines beyond the burst
//! are delayed to the refill rate; a client that stays over it for long is
//! disconnected. Sans-IO.

use std::time::{Duration, Instant};

use crate::token_bucket::TokenBucket;

/// Lines a client may send at once.
pub const BURST: f64 = 30.0;
/// Lines per second after the burst.
pub const RATE: f64 = 4.0;
/// Seconds of continuous delay tolerated before "Excess Flood".
pub const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub struct Bucket {
    tokens: TokenBucket,
    /// Since when the client has been over the limit without a break.
    over_since: Option<Instant>,
}

#[derive(Debug, PartialEq)]
pub enum Verdict {
    Go,
    /// Wait this long before handling the line.
    Wait(Duration),
    /// Over the limit for too long: disconnect.
    Flood,
}

impl Bucket {
    pub fn new(now: Instant) -> Bucket {
        Bucket {
            tokens: TokenBucket::new(BURST, RATE, now),
            over_since: None,
        }
    }

    /// Takes a token for one line.
    pub fn take(&mut self, now: Instant) -> Verdict {
        // Half the burst back: the client has had a break.
        if self.tokens.level(now) >= 0.5 {
            self.over_since = None;
        }
        let wait = self.tokens.take(now);
        if wait.is_zero() {
            return Verdict::Go;
        }
        let since = *self.over_since.get_or_insert(now);
        if now.saturating_duration_since(since) > PATIENCE {
            return Verdict::Flood;
        }
        Verdict::Wait(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_lines_are_paced_then_abuse_is_cut() {
        let start = Instant::now();
        let mut b = Bucket::new(start);
        for _ in 0..30 {
            assert_eq!(b.take(start), Verdict::Go);
        }
        assert_eq!(b.take(start), Verdict::Wait(Duration::from_millis(250)));
        // Sustained: each line waits its turn…
        let mut now = start;
        let mut verdict = Verdict::Go;
        for _ in 0..1000 {
            now += Duration::from_millis(100);
            verdict = b.take(now);
            if verdict == Verdict::Flood {
                break;
            }
        }
        assert_eq!(verdict, Verdict::Flood, "…until it has gone on for too long");
        // A pause restores the burst.
        let mut b = Bucket::new(start);
        for _ in 0..31 {
            b.take(start);
        }
        assert_eq!(b.take(start + Duration::from_secs(10)), Verdict::Go);
    }
}
