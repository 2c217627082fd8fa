//! How many connections may be waiting to log in at once — connected,
//! handshaking or registering, not yet attached — from one address and in
//! all. Past either limit a new connection is told why and closed, so a
//! flood of idle sockets cannot use up the process's descriptors or keep
//! staff out; attached clients never count.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

/// The two ceilings (from `irc.max_unregistered*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_address: usize,
    pub total: usize,
}

#[derive(Debug, Default)]
struct Counts {
    by_address: HashMap<IpAddr, usize>,
    total: usize,
}

/// Shared by every listener.
#[derive(Debug, Clone)]
pub struct Admission {
    limits: Limits,
    counts: Arc<Mutex<Counts>>,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Address,
    Total,
}

impl Refused {
    /// The `ERROR` line a plain-text client gets.
    pub fn error_line(self) -> &'static str {
        match self {
            Refused::Address => {
                "ERROR :Closing link (too many connections from your address are still logging in)"
            }
            Refused::Total => {
                "ERROR :Closing link (too many connections are still logging in; try again shortly)"
            }
        }
    }
}

/// A connection's place while it logs in; dropping it (attached, or gone)
/// frees the place.
#[derive(Debug)]
pub struct Ticket {
    address: IpAddr,
    counts: Arc<Mutex<Counts>>,
}

/// IPv4 clients on a dual-stack socket count as their IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

impl Admission {
    pub fn new(limits: Limits) -> Admission {
        Admission {
            limits,
            counts: Arc::default(),
        }
    }

    /// A place for a connection from `address`, if both limits allow.
    pub fn admit(&self, address: IpAddr) -> Result<Ticket, Refused> {
        let address = canonical(address);
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if counts.total >= self.limits.total {
            return Err(Refused::Total);
        }
        let here = counts.by_address.entry(address).or_default();
        if *here >= self.limits.per_address {
            return Err(Refused::Address);
        }
        *here += 1;
        counts.total += 1;
        Ok(Ticket {
            address,
            counts: self.counts.clone(),
        })
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.by_address.get_mut(&self.address) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                counts.by_address.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_address_is_held_to_its_share_and_gets_it_back_as_logins_end() {
        let a = Admission::new(Limits {
            per_address: 2,
            total: 10,
        });
        let first = a.admit(ip("10.0.0.1")).unwrap();
        let _second = a.admit(ip("::ffff:10.0.0.1")).unwrap();
        assert_eq!(a.admit(ip("10.0.0.1")).unwrap_err(), Refused::Address);
        assert!(a.admit(ip("10.0.0.2")).is_ok(), "others are not held back");
        drop(first);
        assert!(a.admit(ip("10.0.0.1")).is_ok());
    }

    #[test]
    fn the_total_holds_across_addresses() {
        let a = Admission::new(Limits {
            per_address: 5,
            total: 3,
        });
        let held: Vec<Ticket> = (1..=3)
            .map(|i| a.admit(ip(&format!("10.0.0.{i}"))).unwrap())
            .collect();
        assert_eq!(a.admit(ip("10.0.0.9")).unwrap_err(), Refused::Total);
        drop(held);
        let again = a.admit(ip("10.0.0.9"));
        assert!(again.is_ok());
        assert_eq!(a.counts.lock().unwrap().total, 1);
        drop(again);
        assert_eq!(a.counts.lock().unwrap().total, 0);
        assert!(
            a.counts.lock().unwrap().by_address.is_empty(),
            "nothing is kept for addresses gone"
        );
    }
}
