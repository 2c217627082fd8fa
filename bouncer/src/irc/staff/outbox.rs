//! Staff messages on their way to customers, through the store's outbox:
//! stored before the worker gets them, followed to MSN, held while the
//! worker is down and sent when it is back (or reported failed when too
//! old), never sent twice once written to a switchboard. Every outcome but
//! a plain success is said in the conversation's channel.

use ipc::{Command, ConversationTarget, FailureKind, TextFormat};

use super::{Outgoing, Pending, Staff};
use crate::store::outbox::State;

impl Staff {
    /// Queues a staff message for a customer: in the outbox (beside its
    /// line `row`), then to the worker once the batch is committed.
    pub(super) fn send_to_customer(
        &mut self,
        row: Option<i64>,
        to: ConversationTarget,
        handle: &str,
        body: String,
        format: TextFormat,
        mut outgoing: Outgoing,
    ) {
        if let Some(row) = row {
            if let Err(e) = self.store.outbox_add(row, handle, &body, &format) {
                self.history_failed(&e.to_string());
            } else {
                outgoing.outbox = Some(row);
            }
        }
        let command = Command::SendMessage {
            to,
            text: body,
            format,
        };
        if self.in_transaction {
            self.deferred_commands
                .push((command, Some(Pending::Message(outgoing))));
        } else {
            self.command(command, Some(Pending::Message(outgoing)));
        }
    }

    fn outbox_set(&mut self, row: Option<i64>, state: State) {
        if let Some(row) = row {
            if let Err(e) = self.store.outbox_set(row, state) {
                self.history_failed(&e.to_string());
            }
        }
    }

    /// The worker wrote it to a switchboard: from now on it is never re-sent.
    pub(super) fn message_sent(&mut self, command_id: u64) {
        let row = match self.pending.get_mut(&command_id) {
            Some(Pending::Message(o)) => {
                o.sent = true;
                o.outbox
            }
            _ => return,
        };
        self.outbox_set(row, State::Sent);
    }

    /// MSN acknowledged it.
    pub(super) fn message_delivered(&mut self, sent: Outgoing) {
        self.outbox_set(sent.outbox, State::Delivered);
        if sent.retried {
            self.announce(&sent, "delivered now that MSN is back");
        }
    }

    /// It failed. A worker that is down did not take it: it waits in the
    /// outbox for the next sign-in instead.
    pub(super) fn message_failed(&mut self, sent: Outgoing, what: &str, kind: FailureKind, detail: &str) {
        if kind == FailureKind::NotSignedIn && sent.outbox.is_some() && !sent.sent {
            let wait = self.settings.outbox_retry.as_secs() / 60;
            self.announce(
                &sent,
                &format!("queued: MSN is not signed in; it goes out when it is (if within {wait} min)"),
            );
            return;
        }
        self.outbox_set(sent.outbox, State::Failed);
        self.announce_failure(sent, what, detail);
    }

    /// The worker stopped: what it had written may or may not have reached
    /// the customer (reported, never re-sent); what it had not waits.
    pub(super) fn worker_lost_messages(&mut self) {
        let ids: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| matches!(p, Pending::Message(_)))
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let Some(Pending::Message(sent)) = self.pending.remove(&id) else {
                continue;
            };
            if sent.sent || sent.outbox.is_none() {
                self.outbox_set(sent.outbox, State::Unknown);
                self.announce_failure(
                    sent,
                    "delivery unknown",
                    "the MSN worker stopped before confirming it",
                );
            } else {
                self.announce(
                    &sent,
                    "held: the MSN worker stopped before sending it; it goes out when MSN is back",
                );
            }
        }
    }

    /// Signed in again: the outbox goes out, oldest first; what is too old
    /// is reported failed; what a previous run left half-sent is unknown.
    pub(super) fn resend_outbox(&mut self) {
        let found = self.store.outbox(State::Sent).and_then(|sent| {
            let pending = self.store.outbox(State::Pending)?;
            Ok((sent, pending))
        });
        let (sent, pending) = match found {
            Ok(x) => x,
            Err(e) => return self.history_failed(&e.to_string()),
        };
        let in_flight: Vec<i64> = self
            .pending
            .values()
            .filter_map(|p| match p {
                Pending::Message(o) => o.outbox,
                _ => None,
            })
            .collect();
        for q in sent.into_iter().filter(|q| !in_flight.contains(&q.message)) {
            let o = Outgoing::from_queued(&q);
            self.outbox_set(Some(q.message), State::Unknown);
            self.announce_failure(o, "delivery unknown", "msnbnc stopped before MSN confirmed it");
        }
        let oldest = self.retry_cutoff();
        for q in pending.into_iter().filter(|q| !in_flight.contains(&q.message)) {
            let mut o = Outgoing::from_queued(&q);
            if q.created_ms < oldest {
                self.outbox_set(Some(q.message), State::Failed);
                self.announce_failure(o, "not sent", "MSN was unavailable for too long");
                continue;
            }
            o.retried = true;
            let command = Command::SendMessage {
                to: ConversationTarget::Contact(q.handle.clone()),
                text: q.body.clone(),
                format: q.format.clone(),
            };
            self.command(command, Some(Pending::Message(o)));
        }
    }

    /// While MSN is away: messages waiting longer than allowed fail.
    pub(super) fn expire_outbox(&mut self) {
        if self.signed_in {
            return;
        }
        let oldest = self.retry_cutoff();
        let pending = match self.store.outbox(State::Pending) {
            Ok(p) => p,
            Err(e) => return self.history_failed(&e.to_string()),
        };
        for q in pending.into_iter().filter(|q| q.created_ms < oldest) {
            let o = Outgoing::from_queued(&q);
            self.outbox_set(Some(q.message), State::Failed);
            self.announce_failure(o, "not sent", "MSN was unavailable for too long");
        }
    }

    /// Held messages created before this (ms) are too old to send.
    fn retry_cutoff(&self) -> i64 {
        let window = i64::try_from(self.settings.outbox_retry.as_millis()).unwrap_or(i64::MAX);
        crate::store::now_ms().saturating_sub(window)
    }

    /// A notice about a staff message, in its conversation (kept in history).
    fn announce(&mut self, sent: &Outgoing, what: &str) {
        let target = sent
            .conversation_hint
            .clone()
            .unwrap_or_else(|| crate::irc::view::ROSTER.to_owned());
        let text = format!("{what}: <{}> {}", sent.from, sent.text);
        self.server_notice_in(&target, &text);
    }
}

impl Outgoing {
    pub(super) fn new(
        channel: Option<String>,
        opening_for: Option<String>,
        from: &str,
        text: &str,
    ) -> Outgoing {
        Outgoing {
            conversation_hint: channel,
            opening_for,
            from: from.to_owned(),
            text: text.to_owned(),
            outbox: None,
            sent: false,
            retried: false,
        }
    }

    fn from_queued(q: &crate::store::outbox::Queued) -> Outgoing {
        Outgoing {
            conversation_hint: Some(q.channel.clone()),
            opening_for: None,
            from: q.from.clone(),
            text: q.text.clone(),
            outbox: Some(q.message),
            sent: false,
            retried: false,
        }
    }
}
