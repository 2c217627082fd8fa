//! Staff messages on their way to customers. Each is stored (its line and
//! its outbox row, in the same batch) before the worker gets it, then
//! followed: in flight with the worker (by command id), or waiting —
//! held while MSN is away and sent when it is back (or failed when too
//! old). One that the worker wrote to a switchboard is never sent again.
//! Every outcome but a plain success is said in the conversation's
//! channel. The part is [`Outbox`]; the flows below it move messages
//! through it.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use ipc::{Command, ConversationTarget, Delivery, Failure, FailureKind, TextFormat};

use super::roster::ROSTER;
use super::{Hub, Shown, Waiting};
use crate::store::batch::OutboxChange;
use crate::store::lines::Kind;
use crate::store::outbox_rows::{Queued, State};
use crate::untrusted::short;

/// A staff message for a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffMessage {
    /// Its line in history, which is also its outbox row (`None`: it was
    /// not stored).
    pub row: Option<i64>,
    /// Its conversation's record, and that conversation's channel when
    /// the message was written.
    pub conversation: Option<i64>,
    pub channel: String,
    pub handle: String,
    /// What the customer gets (signed, MSN-formatted).
    pub body: String,
    pub format: TextFormat,
    pub created_ms: i64,
    /// Who wrote it, and what they wrote (for announcements).
    pub from: String,
    pub text: String,
}

impl StaffMessage {
    fn from_queued(q: Queued) -> StaffMessage {
        StaffMessage {
            row: Some(q.message),
            conversation: Some(q.conversation),
            channel: q.channel,
            handle: q.handle,
            body: q.body,
            format: q.format,
            created_ms: q.created_ms,
            from: q.from,
            text: q.text,
        }
    }
}

struct InFlight {
    message: StaffMessage,
    /// The worker wrote it to a switchboard: never send it again.
    sent: bool,
    /// Sent again after an outage: its success is announced too.
    retried: bool,
}

pub struct Outbox {
    in_flight: HashMap<u64, InFlight>,
    /// Stored, not with any worker: pending ones wait for the next sign-in;
    /// sent ones (by an earlier msnbnc) are settled then. By row.
    waiting: BTreeMap<i64, (StaffMessage, State)>,
}

impl Outbox {
    /// The outbox as the store left it.
    pub fn new(open: Vec<Queued>) -> Outbox {
        let waiting = open
            .into_iter()
            .map(|q| (q.message, (q.state, q)))
            .map(|(row, (state, q))| (row, (StaffMessage::from_queued(q), state)))
            .collect();
        Outbox {
            in_flight: HashMap::new(),
            waiting,
        }
    }

    /// Command `id` carries `message` to the worker.
    pub fn in_flight(&mut self, id: u64, message: StaffMessage) {
        self.in_flight.insert(
            id,
            InFlight {
                message,
                sent: false,
                retried: false,
            },
        );
    }

    fn retried(&mut self, id: u64) {
        if let Some(f) = self.in_flight.get_mut(&id) {
            f.retried = true;
        }
    }

    /// Messages stored before `cutoff_ms` that still wait to be sent.
    fn expired(&mut self, cutoff_ms: i64) -> Vec<StaffMessage> {
        let old: Vec<i64> = self
            .waiting
            .iter()
            .filter(|(_, (m, state))| *state == State::Pending && m.created_ms < cutoff_ms)
            .map(|(row, _)| *row)
            .collect();
        old.into_iter()
            .filter_map(|row| self.waiting.remove(&row).map(|(m, _)| m))
            .collect()
    }
}

/// Held messages created before this (ms) are too old to send.
fn retry_cutoff(retry: Duration) -> i64 {
    let window = i64::try_from(retry.as_millis()).unwrap_or(i64::MAX);
    crate::store::now_ms().saturating_sub(window)
}

/// Queues a staff message for a customer: into the outbox (beside its
/// line, in this turn's batch), then to the worker once that is committed.
pub(super) fn send(hub: &mut Hub, message: StaffMessage, to: ConversationTarget) {
    if let Some(row) = message.row {
        hub.history.outbox(OutboxChange::Add {
            message: row,
            handle: message.handle.clone(),
            body: message.body.clone(),
            format: message.format.clone(),
            created_ms: message.created_ms,
        });
    }
    let command = Command::SendMessage {
        to,
        text: message.body.clone(),
        format: message.format.clone(),
    };
    let row = message.row;
    let command_id = hub.command(command, Some(Waiting::Message(message)));
    tracing::debug!(command_id, line = row, "staff message to the worker");
}

fn set_state(hub: &mut Hub, row: Option<i64>, state: State) {
    if let Some(message) = row {
        hub.history.outbox(OutboxChange::Set { message, state });
    }
}

/// The worker wrote it to a switchboard: from now on it is never re-sent.
pub(super) fn sent(hub: &mut Hub, id: u64) {
    let Some(f) = hub.outbox.in_flight.get_mut(&id) else {
        return;
    };
    f.sent = true;
    let row = f.message.row;
    set_state(hub, row, State::Sent);
}

/// MSN acknowledged it, or it failed.
pub(super) fn delivery(hub: &mut Hub, id: u64, outcome: &Delivery) {
    let Some(f) = hub.outbox.in_flight.remove(&id) else {
        return;
    };
    match outcome {
        Delivery::Delivered => {
            set_state(hub, f.message.row, State::Delivered);
            if f.retried {
                announce(hub, &f.message, "delivered now that MSN is back");
            }
        }
        Delivery::Offline => {
            set_state(hub, f.message.row, State::Delivered);
            let who = f.message.handle.clone();
            announce(
                hub,
                &f.message,
                &format!("sent as an offline message ({who} is offline and gets it when they sign in)"),
            );
        }
        Delivery::Failed(failure) => {
            if failure.kind == FailureKind::ContactOffline {
                super::msn_events::contact_offline(hub, &f.message.handle);
            }
            failed(hub, f, "not delivered", failure);
        }
    }
}

/// The worker did not take the command carrying it.
pub(super) fn not_taken(hub: &mut Hub, id: u64, failure: &Failure) {
    if let Some(f) = hub.outbox.in_flight.remove(&id) {
        failed(hub, f, "not sent", failure);
    }
}

/// It failed. A worker that is down did not take it: it waits for the
/// next sign-in instead.
fn failed(hub: &mut Hub, f: InFlight, what: &str, failure: &Failure) {
    if failure.kind == FailureKind::NotSignedIn && f.message.row.is_some() && !f.sent {
        let wait = hub.settings.store.outbox_retry.as_secs() / 60;
        announce(
            hub,
            &f.message,
            &format!("queued: MSN is not signed in; it goes out when it is (if within {wait} min)"),
        );
        hold(hub, f.message);
        return;
    }
    set_state(hub, f.message.row, State::Failed);
    announce_failure(hub, &f.message, what, &failure.detail);
}

fn hold(hub: &mut Hub, message: StaffMessage) {
    if let Some(row) = message.row {
        hub.outbox.waiting.insert(row, (message, State::Pending));
    }
}

/// Counts per channel, for the one line each conversation gets when MSN
/// goes or comes back.
pub(super) type PerChannel = std::collections::BTreeMap<String, usize>;

/// The worker stopped: what it had written may or may not have reached
/// the customer (reported, never re-sent); what it had not waits, counted
/// per channel for the outage's one line there.
pub(super) fn worker_lost(hub: &mut Hub) -> PerChannel {
    let lost: Vec<InFlight> = hub.outbox.in_flight.drain().map(|(_, f)| f).collect();
    let mut held = PerChannel::new();
    for f in lost {
        if f.sent || f.message.row.is_none() {
            set_state(hub, f.message.row, State::Unknown);
            announce_failure(
                hub,
                &f.message,
                "delivery unknown",
                "the MSN worker stopped before confirming it",
            );
        } else {
            *held.entry(place(hub, &f.message)).or_default() += 1;
            hold(hub, f.message);
        }
    }
    held
}

/// Signed in again: what waits goes out, oldest first (counted per
/// channel); what is too old is reported failed; what an earlier msnbnc
/// left half-sent is unknown.
pub(super) fn resend(hub: &mut Hub) -> PerChannel {
    let cutoff = retry_cutoff(hub.settings.store.outbox_retry);
    let waiting = std::mem::take(&mut hub.outbox.waiting);
    let mut sent = PerChannel::new();
    for (message, state) in waiting.into_values() {
        if state == State::Sent {
            set_state(hub, message.row, State::Unknown);
            announce_failure(
                hub,
                &message,
                "delivery unknown",
                "msnbnc stopped before MSN confirmed it",
            );
        } else if message.created_ms < cutoff {
            set_state(hub, message.row, State::Failed);
            announce_failure(hub, &message, "not sent", "MSN was unavailable for too long");
        } else {
            *sent.entry(place(hub, &message)).or_default() += 1;
            let command = Command::SendMessage {
                to: ConversationTarget::Contact(message.handle.clone()),
                text: message.body.clone(),
                format: message.format.clone(),
            };
            let id = hub.command(command, Some(Waiting::Message(message)));
            hub.outbox.retried(id);
        }
    }
    sent
}

/// While MSN is away: messages waiting longer than allowed fail.
pub(super) fn expire(hub: &mut Hub) {
    if hub.worker.signed_in() {
        return;
    }
    let cutoff = retry_cutoff(hub.settings.store.outbox_retry);
    for message in hub.outbox.expired(cutoff) {
        set_state(hub, message.row, State::Failed);
        announce_failure(hub, &message, "not sent", "MSN was unavailable for too long");
    }
}

/// Where to say something about a message: its conversation's channel,
/// reopened (dormant) if it has none — after a restart none has — so that
/// the outcome is kept in that conversation's history and replayed with
/// it. Only a message with no conversation is spoken of in the roster.
fn place(hub: &mut Hub, message: &StaffMessage) -> String {
    let Some(conversation) = message.conversation else {
        return ROSTER.to_owned();
    };
    let customers = [message.handle.to_ascii_lowercase()];
    super::replay_plan::reopen(hub, conversation, &message.channel, &customers)
}

/// A notice about a staff message, in its conversation (kept in history).
fn announce(hub: &mut Hub, message: &StaffMessage, what: &str) {
    let target = place(hub, message);
    let text = format!("{what}: <{}> {}", message.from, message.text);
    hub.server_notice_in(&target, &text);
}

/// Every staff member learns that a message did not reach the customer,
/// in the conversation's channel, naming the message.
pub(super) fn announce_failure(hub: &mut Hub, message: &StaffMessage, what: &str, detail: &str) {
    let target = place(hub, message);
    // For the operator too (which message, never what it said).
    tracing::info!(line = message.row, channel = %target, "staff message {what}: {}", short(detail));
    let text = format!("{what} ({}): <{}> {}", short(detail), message.from, message.text);
    let server = hub.server().to_owned();
    hub.show(
        Shown {
            kind: Kind::Notice,
            sender: "",
            source: &server,
            command: "NOTICE",
            target: &target,
            text: &text,
            account: None,
            client_tags: &[],
        },
        None,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queued(message: i64, state: State, created_ms: i64) -> Queued {
        Queued {
            message,
            state,
            conversation: 1,
            channel: "#bob".into(),
            handle: "bob@example.com".into(),
            body: "hi".into(),
            format: TextFormat::default(),
            created_ms,
            text: "hi".into(),
            from: "alice".into(),
        }
    }

    #[test]
    fn only_pending_messages_expire_and_only_once() {
        let mut o = Outbox::new(vec![
            queued(1, State::Pending, 100),
            queued(2, State::Sent, 100),
            queued(3, State::Pending, 900),
        ]);
        let old = o.expired(500);
        assert_eq!(old.iter().map(|m| m.row).collect::<Vec<_>>(), [Some(1)]);
        assert!(o.expired(500).is_empty());
        assert_eq!(o.waiting.len(), 2);
    }
}
