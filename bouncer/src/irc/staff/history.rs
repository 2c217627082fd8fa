//! Conversation lines go through here: recorded in the store, then shown.
//! Writes are grouped — the first line of a batch opens a transaction,
//! everything sent to clients meanwhile waits, and [`Staff::finish_batch`]
//! commits and then sends — so a line is never shown before it is stored.
//! Also: each device's position, and the replay of what it missed.

use std::time::{SystemTime, UNIX_EPOCH};

use super::{Channel, Staff};
use crate::irc::conn::ClientId;
use crate::irc::replay::{format_line, Job, Replay, Style};
use crate::irc::view::{key, ROSTER};
use crate::store::history::{Kind, Line, NewLine};

/// A line for a conversation channel.
pub(super) struct Shown<'a> {
    pub kind: Kind,
    /// The customer's handle or the staff member's user name ('' for us).
    pub sender: &'a str,
    /// The IRC source (`bob!bob@example.com`, or the server's name).
    pub source: &'a str,
    pub command: &'a str,
    /// The channel, or `@channel` for a staff-only note.
    pub target: &'a str,
    pub text: &'a str,
    /// The staff account, for account-tag.
    pub account: Option<&'a str>,
}

impl Staff {
    /// Records (in a conversation channel) and shows a line; returns its
    /// row in history, if it was recorded.
    pub(super) fn show(&mut self, line: Shown<'_>, except: Option<ClientId>) -> Option<i64> {
        let msgid = self.msgids.fresh();
        // One time for the store and the live line: history repeats it exactly.
        let now = SystemTime::now();
        let ms = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let channel = line.target.trim_start_matches('@');
        let row = if self.view.channel(channel).is_some() {
            self.record(channel, &line, &msgid, ms)
        } else {
            None
        };
        let text = format!(":{} {} {} :{}", line.source, line.command, line.target, line.text);
        match line.account {
            Some(a) => self.broadcast_at(now, &[("account", a), ("msgid", &msgid)], &text, except),
            None => self.broadcast_at(now, &[("msgid", &msgid)], &text, except),
        }
        row
    }

    /// Background retention: a bounded batch per housekeeping tick.
    /// Each pass scans the whole store, so it runs every few minutes —
    /// on every tick only while a pass still finds a full batch.
    pub(super) fn prune_some(&mut self, now: std::time::Instant) {
        const BATCH: usize = 2_000;
        const PAUSE: std::time::Duration = std::time::Duration::from_secs(600);
        let policy = self.settings.retention;
        if policy.is_forever()
            || self.history_broken.is_some()
            || self.in_transaction
            || now < self.next_prune
        {
            return;
        }
        match self.store.prune(&policy, crate::store::now_ms(), BATCH) {
            Ok(n) if n >= BATCH => tracing::info!("retention: pruned {n} lines; more to do"),
            Ok(n) => {
                if n > 0 {
                    tracing::info!("retention: pruned {n} lines");
                }
                self.next_prune = now + PAUSE;
            }
            Err(e) => {
                tracing::warn!("retention: pruning failed: {e}");
                self.next_prune = now + PAUSE;
            }
        }
    }

    /// Before exiting: every attached device's position is saved.
    pub fn shutdown(&mut self) {
        let ids: Vec<ClientId> = self.clients.keys().copied().collect();
        self.save_positions(&ids);
        self.finish_batch();
    }

    /// A notice from us in a conversation channel (kept in its history).
    pub(super) fn server_notice_in(&mut self, channel: &str, text: &str) {
        let server = self.server().to_owned();
        self.show(
            Shown {
                kind: Kind::Notice,
                sender: "",
                source: &server,
                command: "NOTICE",
                target: channel,
                text,
                account: None,
            },
            None,
        );
    }

    fn record(&mut self, channel: &str, line: &Shown<'_>, msgid: &str, time_ms: i64) -> Option<i64> {
        if self.history_broken.is_some() {
            return None;
        }
        let result = (|| {
            let conversation = match self.conversation_ids.get(&key(channel)) {
                Some(c) => *c,
                None => {
                    let c = self.store.conversation(channel)?;
                    self.conversation_ids.insert(key(channel), c);
                    c
                }
            };
            if !self.in_transaction {
                self.store.begin()?;
                self.in_transaction = true;
                self.deferred.get_or_insert_with(Vec::new);
            }
            let id = self.store.record(
                conversation,
                &NewLine {
                    time_ms,
                    msgid,
                    kind: line.kind,
                    sender: line.sender,
                    source: line.source,
                    command: line.command,
                    text: line.text,
                    plain: &crate::irc::format::from_irc(line.text).0,
                },
            )?;
            self.last_line.insert(conversation, id);
            self.newest_line = self.newest_line.max(id);
            Ok::<i64, crate::store::StoreError>(id)
        })();
        match result {
            Ok(id) => Some(id),
            Err(e) => {
                self.history_failed(&e.to_string());
                None
            }
        }
    }

    /// Commits the batch, then sends what waited for it.
    pub fn finish_batch(&mut self) {
        if self.in_transaction {
            self.in_transaction = false;
            if let Err(e) = self.store.commit() {
                self.store.rollback();
                self.history_failed(&e.to_string());
            }
        }
        if let Some(lines) = self.deferred.take() {
            for (id, line) in lines {
                self.deliver(id, line);
            }
        }
        // The outbox has them now: the worker may.
        for (command, pending) in std::mem::take(&mut self.deferred_commands) {
            self.command(command, pending);
        }
    }

    /// The store refused a write: stop recording (loudly), keep relaying.
    pub(super) fn history_failed(&mut self, error: &str) {
        if self.in_transaction {
            self.store.rollback();
            self.in_transaction = false;
        }
        let first = self.history_broken.is_none();
        self.history_broken = Some(error.to_owned());
        if first {
            tracing::error!("the history store failed; new lines are NOT being recorded: {error}");
            crate::systemd::status(&format!("history not recorded: {error}"));
            let text = format!(
                "history is NOT being recorded (the store failed: {error}); lines are still shown live — fix the database and restart msnbnc"
            );
            let line = format!(
                ":{} NOTICE {ROSTER} :{}",
                self.server(),
                crate::supervisor::worker::untrusted(&text)
            );
            self.broadcast(&line, None);
        }
    }

    /// Where a client's device has seen up to, persisted for every
    /// conversation that moved while it was attached.
    pub(super) fn save_positions(&mut self, ids: &[ClientId]) {
        if self.history_broken.is_some() {
            return;
        }
        let moved: Vec<(i64, i64)> = self.last_line.iter().map(|(c, l)| (*c, *l)).collect();
        let mut result = Ok(());
        for id in ids {
            let Some(c) = self.clients.get(id) else { continue };
            if c.seen_up_to >= self.newest_line {
                continue;
            }
            let (user, device) = (c.login.user.clone(), c.login.device.clone().unwrap_or_default());
            let from = c.seen_up_to;
            for (conversation, last) in moved.iter().filter(|(_, l)| *l > from) {
                result = result.and_then(|()| self.store.set_position(&user, &device, *conversation, *last));
            }
            let newest = self.newest_line;
            if let Some(c) = self.clients.get_mut(id) {
                c.seen_up_to = newest;
            }
        }
        if let Err(e) = result {
            self.history_failed(&e.to_string());
        }
    }

    /// On attach: every conversation with lines this device has not seen
    /// is joined (re-opened as a dormant channel if it was closed) and what
    /// it missed is replayed — unless the client fetches history itself
    /// (draft/chathistory).
    pub(super) fn replay(&mut self, id: ClientId) {
        let Some(c) = self.clients.get(&id) else { return };
        let (user, device) = (c.login.user.clone(), c.login.device.clone().unwrap_or_default());
        let fetches = c.caps.contains("draft/chathistory");
        let found = (|| {
            let (new_user, new_device) = self.store.device_attached(&user, &device)?;
            if new_user {
                // A user seen for the first time starts now.
                return Ok(Vec::new());
            }
            self.store.unseen(&user, &device, new_device)
        })();
        let unseen = match found {
            Ok(u) => u,
            Err(e) => {
                self.history_failed(&e.to_string());
                return;
            }
        };
        let mut jobs = Vec::new();
        for u in unseen {
            let channel = self.reopen_for_history(&u.channel, u.conversation);
            jobs.push(Job {
                conversation: u.conversation,
                channel,
                after: u.after,
                count: u.count,
            });
        }
        if fetches || jobs.is_empty() {
            return;
        }
        let Some(c) = self.clients.get(&id) else { return };
        Replay {
            store: self.store_path.clone(),
            server: self.server().to_owned(),
            user,
            device,
            style: Style::of(&c.caps),
            cap: self.settings.replay_max,
            upto: self.newest_line,
            jobs,
            tx: c.tx.clone(),
        }
        .spawn();
    }

    /// A conversation with history but no channel gets a dormant one, joined
    /// by every attached client (as every conversation channel is).
    fn reopen_for_history(&mut self, channel: &str, conversation: i64) -> String {
        if let Some(c) = self.view.channel(channel) {
            return c.name.clone();
        }
        let members = self
            .store
            .customers(conversation)
            .unwrap_or_default()
            .first()
            .map(|h| [key(h)].into())
            .unwrap_or_default();
        self.view.dormant.insert(
            key(channel),
            Channel {
                name: channel.to_owned(),
                members,
            },
        );
        self.conversation_ids.insert(key(channel), conversation);
        let ids: Vec<ClientId> = self.clients.keys().copied().collect();
        for cid in ids {
            self.join_burst(cid, channel);
        }
        channel.to_owned()
    }

    /// Stored lines to one client: a `chathistory` batch with their
    /// original times and msgids where it speaks batch and server-time,
    /// else plain lines with a short time in front.
    pub(super) fn send_history(&mut self, id: ClientId, target: &str, lines: &[Line]) {
        let Some(c) = self.clients.get(&id) else { return };
        let style = Style::of(&c.caps);
        if !style.batched {
            for l in lines {
                self.push(id, format_line(l, style, None).into());
            }
            return;
        }
        let reference = self.batch_ids.fresh();
        let open = format!(":{} BATCH +{reference} chathistory {target}", self.server());
        self.push(id, open.into());
        for l in lines {
            self.push(id, format_line(l, style, Some(&reference)).into());
        }
        let close = format!(":{} BATCH -{reference}", self.server());
        self.push(id, close.into());
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use ipc::{Event, TextFormat};
    use tokio::sync::mpsc;

    use super::super::Staff;
    use crate::irc::conn::{Attached, ClientEvent};
    use crate::irc::registration::Login;
    use crate::store::Store;

    /// A hub-side Staff over a store that refuses writes, with one client.
    fn staff_over_a_failing_store() -> (
        tempfile::TempDir,
        Staff,
        mpsc::Receiver<crate::irc::conn::OutLine>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("msnbnc.db");
        let store = Store::open(&path).unwrap();
        // As if the disk failed under it: every write is refused.
        store.conn.pragma_update(None, "query_only", true).unwrap();
        let minimal = "[account]\nhandle = \"a@example.com\"\npassword = \"x\"\n[msn]\nservers = [\"127.0.0.1:1863\"]\npassport_nexus = \"https://127.0.0.1/\"\n";
        let config = crate::config::parse(std::path::Path::new("x.toml"), minimal).unwrap();
        let (worker, _commands) = mpsc::channel(16);
        let mut staff = Staff::new(config.irc, store, path, worker);
        let (tx, rx) = mpsc::channel(1024);
        staff.on_event(ClientEvent::Attached(Attached {
            id: 1,
            login: Login {
                user: "alice".into(),
                device: None,
            },
            role: crate::store::users::Role::Staff,
            requested_nick: "alice".into(),
            realname: "Alice".into(),
            caps: BTreeSet::new(),
            addr: "127.0.0.1:1".parse().unwrap(),
            cert: None,
            tx,
        }));
        staff.finish_batch();
        (dir, staff, rx)
    }

    #[test]
    fn a_store_that_fails_is_announced_and_lines_are_still_shown() {
        let (_dir, mut staff, mut rx) = staff_over_a_failing_store();
        staff.on_worker_event(&Event::ConversationJoined {
            conversation: 1,
            handle: "bob@example.com".into(),
            friendly_name: "Bob".into(),
        });
        staff.on_worker_event(&Event::Message {
            conversation: 1,
            from: "bob@example.com".into(),
            text: "is anyone there?".into(),
            format: TextFormat::default(),
        });
        staff.finish_batch();
        let mut lines = Vec::new();
        while let Ok(l) = rx.try_recv() {
            lines.push(l.to_string());
        }
        assert!(
            lines
                .iter()
                .any(|l| l.contains("NOTICE &msn :history is NOT being recorded")),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.ends_with("PRIVMSG #bob :is anyone there?")),
            "the line still reaches staff: {lines:#?}"
        );
        assert!(staff.history_broken.is_some());
    }
}
