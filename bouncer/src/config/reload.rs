//! SIGHUP: what changed between the running configuration and the one
//! just read, and when each change takes effect — at once, at the next
//! worker start, or only after a restart of msnbnc.

use super::{Config, IrcSettings, StoreSettings};
use crate::store::retention::Retention;

/// The keys that changed, by when they apply.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// In effect now.
    pub now: Vec<&'static str>,
    /// Used by the next worker (a held worker is released to start one).
    pub next_worker: Vec<&'static str>,
    /// Ignored until msnbnc restarts.
    pub restart: Vec<&'static str>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.now.is_empty() && self.next_worker.is_empty() && self.restart.is_empty()
    }
}

/// Compares two configurations section by section.
pub fn changes(old: &Config, new: &Config) -> Changes {
    let mut c = Changes::default();
    let (o, n) = (&old.irc, &new.irc);
    // Every key of [irc] and [store] is sorted below: a new one does not
    // compile here until it is.
    let IrcSettings {
        listen: _,
        tls_listen: _,
        tls_cert: _,
        tls_key: _,
        server_name: _,
        network: _,
        unattended_status: _,
        unattended_reply: _,
        idle_close: _,
        replay_max: _,
        signature: _,
        time_zone: _,
        unregistered: _,
    } = o;
    let StoreSettings {
        path: _,
        outbox_retry: _,
        retention: Retention {
            max_age_ms: _,
            max_lines: _,
        },
    } = &old.store;
    let restart = [
        ("irc.listen", o.listen != n.listen),
        ("irc.tls_listen", o.tls_listen != n.tls_listen),
        ("irc.server_name", o.server_name != n.server_name),
        ("irc.network", o.network != n.network),
        (
            "irc.max_unregistered(_per_address)",
            o.unregistered != n.unregistered,
        ),
        ("store.path", old.store.path != new.store.path),
        ("metrics.listen", old.metrics != new.metrics),
        ("files", old.files != new.files),
    ];
    let now = [
        ("irc.tls_cert", o.tls_cert != n.tls_cert),
        ("irc.tls_key", o.tls_key != n.tls_key),
        (
            "irc.unattended_status",
            o.unattended_status != n.unattended_status,
        ),
        ("irc.unattended_reply", o.unattended_reply != n.unattended_reply),
        ("irc.idle_close_secs", o.idle_close != n.idle_close),
        ("irc.replay_max", o.replay_max != n.replay_max),
        ("irc.signature", o.signature != n.signature),
        ("irc.time_zone", o.time_zone != n.time_zone),
        ("log.message_text", old.log != new.log),
        ("desk", old.desk != new.desk),
        (
            "store.outbox_retry_secs",
            old.store.outbox_retry != new.store.outbox_retry,
        ),
        (
            "store.retention_days",
            old.store.retention.max_age_ms != new.store.retention.max_age_ms,
        ),
        (
            "store.retention_lines",
            old.store.retention.max_lines != new.store.retention.max_lines,
        ),
    ];
    let next_worker = [
        (
            "account",
            old.account != new.account || old.password != new.password,
        ),
        ("msn", old.msn != new.msn),
        ("worker", old.worker != new.worker),
    ];
    let changed = |list: &[(&'static str, bool)]| -> Vec<&'static str> {
        list.iter().filter(|(_, c)| *c).map(|(k, _)| *k).collect()
    };
    c.restart = changed(&restart);
    c.now = changed(&now);
    c.next_worker = changed(&next_worker);
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::MINIMAL;
    use std::path::Path;

    fn config(extra: &str) -> Config {
        let text = format!("{MINIMAL}\n{extra}");
        crate::config::parse(Path::new("x.toml"), &text).unwrap()
    }

    #[test]
    fn each_changed_key_is_sorted_by_when_it_applies() {
        let old = config("[irc]\nsignature = \"[{nick}] {text}\"");
        assert!(changes(&old, &old).is_empty());
        let new = config(
            "[irc]\nlisten = [\"127.0.0.1:7000\"]\nreplay_max = 5\n[store]\nretention_days = 3\n[worker]\nheartbeat_interval_secs = 7\nheartbeat_timeout_secs = 20",
        );
        let c = changes(&old, &new);
        assert_eq!(c.restart, ["irc.listen"]);
        assert_eq!(c.now, ["irc.replay_max", "irc.signature", "store.retention_days"]);
        assert_eq!(c.next_worker, ["worker"]);
    }
}
