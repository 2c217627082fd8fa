//! Keep-alive on the notification server: a `PNG` when the interval the
//! last `QNG` named has passed, and the end of the session when a `PNG`
//! goes unanswered. Pinging starts once we are visible.

use std::time::{Duration, Instant};

/// MSNP8's `QNG` carries no interval.
pub const MSNP8_PING_INTERVAL: Duration = Duration::from_secs(45);

#[derive(Debug)]
pub struct KeepAlive {
    interval: Duration,
    next_ping: Option<Instant>,
    ping_sent: Option<Instant>,
}

/// What a clock tick asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Due {
    Nothing,
    Ping,
    /// No `QNG` within this long: the connection is dead.
    TimedOut(Duration),
}

impl Default for KeepAlive {
    fn default() -> Self {
        KeepAlive {
            interval: MSNP8_PING_INTERVAL,
            next_ping: None,
            ping_sent: None,
        }
    }
}

impl KeepAlive {
    /// How long a `PNG` may wait for its `QNG`.
    fn timeout(&self) -> Duration {
        (self.interval * 2).clamp(Duration::from_secs(5), Duration::from_secs(30))
    }

    pub fn tick(&mut self, now: Instant) -> Due {
        if let Some(sent) = self.ping_sent {
            let timeout = self.timeout();
            return match now.duration_since(sent) > timeout {
                true => Due::TimedOut(timeout),
                false => Due::Nothing,
            };
        }
        if self.next_ping.is_some_and(|t| now >= t) {
            self.ping_sent = Some(now);
            self.next_ping = None;
            return Due::Ping;
        }
        Due::Nothing
    }

    /// When the next tick matters.
    pub fn next_tick(&self) -> Option<Instant> {
        match (self.ping_sent, self.next_ping) {
            (Some(sent), _) => Some(sent + self.timeout()),
            (None, next) => next,
        }
    }

    /// A `QNG`, naming the next interval in seconds (MSNP9+).
    pub fn answered(&mut self, now: Instant, interval: Option<u64>) {
        self.ping_sent = None;
        self.interval = match interval {
            Some(secs) => Duration::from_secs(secs.clamp(1, 300)),
            None => MSNP8_PING_INTERVAL,
        };
        self.next_ping = Some(now + self.interval);
    }

    /// We are visible (our status was set): pinging starts.
    pub fn visible(&mut self, now: Instant) {
        if self.next_ping.is_none() && self.ping_sent.is_none() {
            self.next_ping = Some(now + Duration::from_secs(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_follow_the_servers_interval_and_a_silent_server_times_out() {
        let t0 = Instant::now();
        let mut k = KeepAlive::default();
        assert_eq!(
            k.tick(t0 + Duration::from_secs(100)),
            Due::Nothing,
            "not before we are visible"
        );
        k.visible(t0);
        assert_eq!(k.tick(t0 + Duration::from_secs(1)), Due::Ping);
        k.answered(t0 + Duration::from_secs(2), Some(50));
        assert_eq!(k.next_tick(), Some(t0 + Duration::from_secs(52)));
        assert_eq!(k.tick(t0 + Duration::from_secs(52)), Due::Ping);
        let late = t0 + Duration::from_secs(52 + 31);
        assert_eq!(k.tick(late), Due::TimedOut(Duration::from_secs(30)));
    }
}
