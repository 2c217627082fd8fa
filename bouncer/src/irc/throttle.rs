//! Growing delays for failed logins, per source address. Sans-IO.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const FIRST: Duration = Duration::from_millis(500);
const MAX: Duration = Duration::from_secs(30);
/// Failures older than this are forgotten.
const FORGET: Duration = Duration::from_secs(15 * 60);
/// Addresses remembered at most (the oldest are dropped first).
const CAPACITY: usize = 10_000;

#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: HashMap<IpAddr, (u32, Instant)>,
}

impl LoginThrottle {
    /// Records a failure from `ip` and returns how long to wait before
    /// answering it: 0.5 s, 1 s, 2 s … up to 30 s.
    pub fn failed(&mut self, ip: IpAddr, now: Instant) -> Duration {
        self.failures
            .retain(|_, (_, last)| now.saturating_duration_since(*last) < FORGET);
        if self.failures.len() >= CAPACITY && !self.failures.contains_key(&ip) {
            if let Some(oldest) = self
                .failures
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(ip, _)| *ip)
            {
                self.failures.remove(&oldest);
            }
        }
        let entry = self.failures.entry(ip).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        FIRST
            .saturating_mul(2u32.saturating_pow(entry.0.saturating_sub(1).min(16)))
            .min(MAX)
    }

    /// While `ip` is still backing off from its last failure: how long is
    /// left. Checked before any password is hashed, so a flood of attempts
    /// from one address costs almost nothing.
    pub fn waiting(&self, ip: IpAddr, now: Instant) -> Option<Duration> {
        let (failures, last) = self.failures.get(&ip)?;
        let delay = FIRST
            .saturating_mul(2u32.saturating_pow(failures.saturating_sub(1).min(16)))
            .min(MAX);
        (*last + delay)
            .checked_duration_since(now)
            .filter(|d| !d.is_zero())
    }

    pub fn succeeded(&mut self, ip: IpAddr) {
        self.failures.remove(&ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_per_address_cap_and_reset() {
        let mut t = LoginThrottle::default();
        let now = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let delays: Vec<u64> = (0..8).map(|_| t.failed(a, now).as_millis() as u64).collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(t.failed(b, now), FIRST, "another address starts afresh");
        t.succeeded(a);
        assert_eq!(t.failed(a, now), FIRST);
        assert_eq!(
            t.failed(b, now + FORGET + Duration::from_secs(1)),
            FIRST,
            "old failures are forgotten"
        );
    }
}
