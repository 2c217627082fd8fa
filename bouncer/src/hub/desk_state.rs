//! The desk: where each conversation stands — `new` until staff answer,
//! `open`, `waiting` for the customer, `resolved` — and since when its
//! customer waits for an answer. Customer lines and staff answers move
//! it; `*msn wait` and `*msn resolve` set it; a customer writing again
//! re-opens a resolved one. Every change is stored with the conversation
//! (what is not resolved comes back after a restart) and shown in its
//! topic; changes staff did not see happen are said once in the channel.

use std::time::{Duration, Instant};

use super::conversation::Conversation;
use super::welcome::topic_changed;
use super::Hub;
use crate::store::desk_rows::{DeskState, Unresolved};

/// After a restart: every conversation the desk has not resolved is back,
/// dormant, under its old channel name if that is free.
pub(super) fn restore(hub: &mut Hub, unresolved: Vec<Unresolved>) {
    for u in unresolved {
        let id = u.desk.conversation;
        super::replay_plan::reopen(hub, id, &u.channel, &u.customers);
        if let Some(record) = hub.conversations.get_mut(id) {
            record.created_ms = u.created_ms;
            record.claim = u.desk.claim;
            record.desk.state = u.desk.state;
            record.desk.waiting_since_ms = u.desk.waiting_since_ms;
            record.desk.state_ms = u.desk.state_ms;
        }
    }
}

/// Stores a conversation's desk fields and shows its topic.
fn changed(hub: &mut Hub, id: i64) {
    let now = hub.now_ms();
    let Some(c) = hub.conversations.get_mut(id) else {
        return;
    };
    c.desk.shown_wait = c.desk.wait_step(now);
    let row = c.desk_row();
    hub.history.desk(row);
    topic_changed(hub, id);
}

fn set_state(hub: &mut Hub, id: i64, state: DeskState) {
    let now = hub.now_ms();
    if let Some(c) = hub.conversations.get_mut(id) {
        c.desk.state = state;
        c.desk.state_ms = now;
        c.desk.resolved_by = None;
    }
}

/// A customer wrote in conversation `id`: it waits for an answer from
/// now (unless it already did); a resolved one opens again.
pub(super) fn customer_wrote(hub: &mut Hub, id: i64) {
    let now = hub.now_ms();
    let Some(c) = hub.conversations.get_mut(id) else {
        return;
    };
    let reopened = c.desk.state == DeskState::Resolved && c.desk.state_ms != 0;
    let before = (c.desk.state, c.desk.waiting_since_ms);
    c.desk.waiting_since_ms.get_or_insert(now);
    let state = match c.desk.state {
        // Fresh, or resolved and written to again: nobody answered yet.
        DeskState::Resolved => DeskState::New,
        // The customer answered what staff asked.
        DeskState::Waiting => DeskState::Open,
        other => other,
    };
    let channel = c.channel.clone();
    let same = before == (state, c.desk.waiting_since_ms);
    if state != c.desk.state {
        set_state(hub, id, state);
    }
    if reopened {
        hub.server_notice_in(&channel, "re-opened: the customer wrote again");
    }
    if !same {
        changed(hub, id);
    }
}

/// Staff answered the customer in conversation `id`.
pub(super) fn staff_answered(hub: &mut Hub, id: i64, nick: &str) {
    let now = hub.now_ms();
    let Some(c) = hub.conversations.get(id) else {
        return;
    };
    if let Some(since) = c.desk.waiting_since_ms {
        let waited = crate::metrics::seconds(now - since);
        hub.metrics.waiting.observe(waited);
        if c.desk.state == DeskState::New {
            hub.metrics.first_response.observe(waited);
        }
    }
    let Some(c) = hub.conversations.get_mut(id) else {
        return;
    };
    let before = (c.desk.state, c.desk.waiting_since_ms);
    c.desk.waiting_since_ms = None;
    c.desk.alerted = 0;
    c.desk.staff_typing_until = None;
    let (state, reopened) = match c.desk.state {
        DeskState::New => (DeskState::Open, false),
        DeskState::Resolved => (DeskState::Open, c.desk.state_ms != 0),
        other => (other, false),
    };
    let channel = c.channel.clone();
    if before == (state, None) {
        return;
    }
    if state != before.0 {
        set_state(hub, id, state);
    }
    if reopened {
        hub.server_notice_in(&channel, &format!("re-opened by {nick}"));
    }
    changed(hub, id);
}

/// `*msn wait`/`resolve`: staff set the state; said once in the channel.
pub(super) fn set_by_staff(hub: &mut Hub, id: i64, state: DeskState, nick: &str, note: &str) -> bool {
    let Some(c) = hub.conversations.get_mut(id) else {
        return false;
    };
    if c.desk.state == state && c.desk.state_ms != 0 {
        return false;
    }
    let channel = c.channel.clone();
    c.desk.waiting_since_ms = None;
    c.desk.alerted = 0;
    set_state(hub, id, state);
    if state == DeskState::Resolved {
        if let Some(c) = hub.conversations.get_mut(id) {
            c.desk.resolved_by = Some(nick.to_owned());
        }
    }
    let said = match (state, note.trim()) {
        (DeskState::Waiting, _) => format!("waiting for the customer's answer ({nick})"),
        (DeskState::Resolved, "") => format!("resolved by {nick}"),
        (DeskState::Resolved, note) => format!("resolved by {nick}: {note}"),
        (other, _) => format!("{} ({nick})", other.as_str()),
    };
    hub.server_notice_in(&channel, &said);
    changed(hub, id);
    true
}

/// A claim changed: stored with the conversation.
pub(super) fn claim_changed(hub: &mut Hub, id: i64) {
    if let Some(row) = hub.conversations.get(id).map(Conversation::desk_row) {
        hub.history.desk(row);
    }
}

/// Every second: topics whose shown waiting time is behind move on.
pub(super) fn show_waits(hub: &mut Hub) {
    let now = hub.now_ms();
    let behind: Vec<i64> = hub
        .conversations
        .iter()
        .filter(|c| c.desk.state_ms != 0 && c.desk.wait_step(now) != c.desk.shown_wait)
        .map(|c| c.id)
        .collect();
    for id in behind {
        if let Some(c) = hub.conversations.get_mut(id) {
            c.desk.shown_wait = c.desk.wait_step(now);
        }
        topic_changed(hub, id);
    }
}

/// How long a typing indicator counts (IRCv3 typing: a client repeats
/// `active` every 3 s while typing; 6 s without one means it stopped).
const TYPING_LASTS: Duration = Duration::from_secs(6);

/// A staff member's typing indicator in `channel`.
pub(super) fn staff_typing(hub: &mut Hub, channel: &str, active: bool) {
    let Some(c) = hub
        .conversations
        .by_channel(channel)
        .and_then(|id| hub.conversations.get_mut(id))
    else {
        return;
    };
    c.desk.staff_typing_until = active.then(|| Instant::now() + TYPING_LASTS);
}

/// Every second: customers waiting past `desk.alert_after_secs` (and
/// again past `alert_again_after_secs`) without an answer get every
/// attached staff member highlighted — in the channel, naming them, and
/// in `&msn` — unless someone is typing an answer there.
pub(super) fn alerts(hub: &mut Hub, now: Instant) {
    let settings = hub.settings.desk.clone();
    let thresholds = [settings.alert_after, settings.alert_again_after];
    let now_ms = hub.now_ms();
    let mut due = Vec::new();
    for c in hub.conversations.iter() {
        let Some(since) = c.desk.waiting_since_ms else {
            continue;
        };
        let waited = Duration::from_millis(u64::try_from(now_ms.saturating_sub(since)).unwrap_or(0));
        let next = thresholds
            .get(usize::from(c.desk.alerted))
            .copied()
            .unwrap_or(Duration::ZERO);
        let typing = c.desk.staff_typing_until.is_some_and(|t| t > now);
        if !next.is_zero() && waited >= next && !typing {
            due.push((c.id, c.channel.clone(), waited));
        }
    }
    if due.is_empty() {
        return;
    }
    let staff: Vec<String> = hub.clients.users().keys().cloned().collect();
    for (id, channel, waited) in due {
        if let Some(c) = hub.conversations.get_mut(id) {
            c.desk.alerted += 1;
        }
        if staff.is_empty() {
            continue;
        }
        let ms = i64::try_from(waited.as_millis()).unwrap_or(i64::MAX);
        let (who, waited) = (customer_names(hub, id), duration_words(ms));
        let text = format!("{who} has waited {waited} for an answer: {}", staff.join(" "));
        hub.server_notice_in(&channel, &text);
        hub.roster_notice(&format!("{channel}: {who} has waited {waited} for an answer"));
    }
}

/// The customers of conversation `id`, by their nicks.
fn customer_names(hub: &Hub, id: i64) -> String {
    let Some(c) = hub.conversations.get(id) else {
        return String::new();
    };
    let names: Vec<String> = c
        .customers
        .iter()
        .map(|h| {
            hub.roster
                .contact(h)
                .map_or_else(|| h.clone(), |k| k.nick.clone())
        })
        .collect();
    names.join(", ")
}

/// `2 h 5 min`, `4 min`, `35 s`.
pub(super) fn duration_words(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    match secs {
        0..=59 => format!("{secs} s"),
        60..=3599 => format!("{} min", secs / 60),
        _ => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
    }
}

/// The queue: every conversation not resolved, longest wait first, then
/// the others by their last change.
pub(super) fn queue(hub: &Hub) -> Vec<String> {
    let now = hub.now_ms();
    let mut open: Vec<&Conversation> = hub
        .conversations
        .iter()
        .filter(|c| c.desk.state_ms != 0 && c.desk.state != DeskState::Resolved)
        .collect();
    open.sort_by_key(|c| {
        (
            c.desk.waiting_since_ms.is_none(),
            c.desk.waiting_since_ms,
            c.desk.state_ms,
        )
    });
    open.iter()
        .map(|c| {
            let customers: Vec<&str> = c.customers.iter().map(String::as_str).collect();
            let wait = match c.desk.waiting_since_ms {
                Some(since) => format!("waiting {}", duration_words(now - since)),
                None => "nobody waiting".to_owned(),
            };
            let claim = match &c.claim {
                Some(who) => format!("claimed by {who}"),
                None => "unclaimed".to_owned(),
            };
            format!(
                "{} {} — {}, {wait}, {claim}",
                c.channel,
                customers.join(" "),
                c.desk.state.as_str()
            )
        })
        .collect()
}

/// Conversations by state, attached clients and the worker, for metrics.
pub(super) fn gauges(hub: &mut Hub) {
    for state in [DeskState::New, DeskState::Open, DeskState::Waiting] {
        let n = hub
            .conversations
            .iter()
            .filter(|c| c.desk.state_ms != 0 && c.desk.state == state)
            .count();
        let label = crate::metrics::StateLabel {
            state: state.as_str(),
        };
        hub.metrics
            .conversations
            .get_or_create(&label)
            .set(i64::try_from(n).unwrap_or(i64::MAX));
    }
    let clients = hub.clients.ids().len();
    hub.metrics
        .attached_clients
        .set(i64::try_from(clients).unwrap_or(i64::MAX));
    hub.metrics
        .worker_signed_in
        .set(i64::from(hub.worker.signed_in()));
    let now = hub.worker.state_name();
    for state in [
        "starting",
        "logging_in",
        "signed_in",
        "restarting",
        "held",
        "stopped",
    ] {
        let label = crate::metrics::StateLabel { state };
        hub.metrics
            .worker_state
            .get_or_create(&label)
            .set(i64::from(state == now));
    }
}
