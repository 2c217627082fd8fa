//! Growing delays for failed logins. Sans-IO.
//!
//! Two counts: per (account, source address), growing to 30 s, so that
//! guessing one account's password is slow; and per address over all
//! accounts, growing only to a few seconds, so that one misconfigured
//! client behind an office NAT slows its colleagues a little but never
//! locks them out. A login that arrives while backing off waits for its
//! turn and is then checked: a correct password always gets in.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const FIRST: Duration = Duration::from_millis(500);
/// The longest wait for one account from one address.
const ACCOUNT_MAX: Duration = Duration::from_secs(30);
/// The longest wait any login from an address shares with the others.
const ADDRESS_MAX: Duration = Duration::from_secs(4);
/// Failures older than this are forgotten.
const FORGET: Duration = Duration::from_secs(15 * 60);
/// Entries remembered at most in each count (the oldest go first).
const CAPACITY: usize = 10_000;

/// Failures of one key: how many, and the time of the last one.
#[derive(Debug)]
struct Failures<K>(HashMap<K, (u32, Instant)>);

impl<K> Default for Failures<K> {
    fn default() -> Self {
        Failures(HashMap::new())
    }
}

impl<K: std::hash::Hash + Eq + Clone> Failures<K> {
    fn delay(count: u32, max: Duration) -> Duration {
        FIRST
            .saturating_mul(2u32.saturating_pow(count.saturating_sub(1).min(16)))
            .min(max)
    }

    fn add(&mut self, key: K, now: Instant, max: Duration) -> Duration {
        self.0
            .retain(|_, (_, last)| now.saturating_duration_since(*last) < FORGET);
        if self.0.len() >= CAPACITY && !self.0.contains_key(&key) {
            if let Some(oldest) = self.0.iter().min_by_key(|(_, (_, t))| *t).map(|(k, _)| k.clone()) {
                self.0.remove(&oldest);
            }
        }
        let entry = self.0.entry(key).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        Self::delay(entry.0, max)
    }

    /// How long is left of `key`'s back-off.
    fn left(&self, key: &K, now: Instant, max: Duration) -> Duration {
        self.0.get(key).map_or(Duration::ZERO, |(count, last)| {
            (*last + Self::delay(*count, max)).saturating_duration_since(now)
        })
    }
}

#[derive(Debug, Default)]
pub struct LoginThrottle {
    accounts: Failures<(String, IpAddr)>,
    addresses: Failures<IpAddr>,
}

impl LoginThrottle {
    /// How long a login for `account` from `ip` waits before it is
    /// checked (zero when nothing failed lately).
    pub fn wait(&self, account: &str, ip: IpAddr, now: Instant) -> Duration {
        let key = (account.to_ascii_lowercase(), ip);
        self.accounts
            .left(&key, now, ACCOUNT_MAX)
            .max(self.addresses.left(&ip, now, ADDRESS_MAX))
    }

    /// Records a failure and returns how long to wait before answering
    /// it: 0.5 s, 1 s, 2 s … up to 30 s for the account from this address.
    pub fn failed(&mut self, account: &str, ip: IpAddr, now: Instant) -> Duration {
        let key = (account.to_ascii_lowercase(), ip);
        let mine = self.accounts.add(key, now, ACCOUNT_MAX);
        let shared = self.addresses.add(ip, now, ADDRESS_MAX);
        mine.max(shared)
    }

    /// A login succeeded: that account's failures from there are forgotten.
    pub fn succeeded(&mut self, account: &str, ip: IpAddr) {
        self.accounts.0.remove(&(account.to_ascii_lowercase(), ip));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_per_account_and_address_cap_and_reset() {
        let mut t = LoginThrottle::default();
        let now = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::1".parse().unwrap();
        let delays: Vec<u64> = (0..8)
            .map(|_| t.failed("alice", a, now).as_millis() as u64)
            .collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(t.failed("alice", b, now), FIRST, "another address starts afresh");
        t.succeeded("alice", a);
        assert_eq!(t.wait("alice", a, now), ADDRESS_MAX, "the address's share stays");
        assert_eq!(
            t.failed("zoe", b, now + FORGET + Duration::from_secs(1)),
            FIRST,
            "old failures are forgotten"
        );
    }

    #[test]
    fn one_account_failing_slows_colleagues_at_that_address_only_a_little() {
        let mut t = LoginThrottle::default();
        let now = Instant::now();
        let office: IpAddr = "192.0.2.7".parse().unwrap();
        for _ in 0..20 {
            t.failed("alice", office, now);
        }
        assert_eq!(t.wait("alice", office, now), ACCOUNT_MAX);
        assert_eq!(
            t.wait("ZOE", office, now),
            ADDRESS_MAX,
            "zoe waits at most the ceiling"
        );
        assert!(t.wait("zoe", office, now + ADDRESS_MAX).is_zero());
        assert!(t.wait("zoe", "192.0.2.8".parse().unwrap(), now).is_zero());
    }
}
