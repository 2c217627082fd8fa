//! What the MSN side does, shown to staff: the worker's state, presence
//! in `&msn`, conversations as channels (a new MSN conversation finds its
//! record — a dormant one, or the customer's last one — or gets a new
//! one), customer messages, typing, nudges, and the results of commands.

use ipc::{CommandResult, ConversationId, ConversationTarget, Event, Status, TextFormat};

use super::conversation::{Conversation, Link};
use super::conversations::Conversations;
use super::roster::{valid_handle, Contact, ROSTER};
use super::welcome::{broadcast_join, everyone_joins, sync_status, topic_changed};
use super::{outbox, Hub, Shown};
use crate::irc::cap::Cap;
use crate::store::lines::Kind;
use crate::supervisor::WorkerState;
use crate::untrusted::{irc_text, short};

/// Lines one customer message may become: a pasted wall of lines must
/// not flood every staff client.
const MAX_LINES: usize = 25;

/// A back-off this long is announced in `&msn` every time, with when the
/// next attempt is.
const LONG_BACKOFF: std::time::Duration = std::time::Duration::from_secs(60);

/// Every second: a login that is taking long is mentioned in `&msn` (at
/// 15 s, 30 s, 60 s …), with the server and the step it is at.
pub(super) fn login_watch(hub: &mut Hub, now: std::time::Instant) {
    if hub.worker.login_is_slow(now) {
        let described = hub.worker.described(&hub.settings.irc.time_zone, now);
        hub.roster_notice(&format!("MSN worker: still {described}"));
    }
}

pub(super) fn worker_state(hub: &mut Hub, state: &WorkerState) {
    if matches!(state, WorkerState::Restarting { .. }) {
        hub.metrics.worker_restarts.inc();
    }
    let lost = super::worker_link::WorkerLink::lost(state);
    // A worker that is gone will not confirm deliveries it accepted.
    let held = match lost {
        true => {
            super::file_transfers::worker_lost(hub);
            super::file_sending::worker_lost(hub);
            outbox::worker_lost(hub)
        }
        false => outbox::PerChannel::new(),
    };
    let was_up = hub.worker.signed_in();
    hub.worker.set_state(state);
    // `&msn` hears of an outage once, and once of its end; not of each
    // step of a restart (those are in `*msn worker`).
    let up = hub.worker.signed_in();
    let tell = match state {
        _ if up => !was_up,
        WorkerState::Held { .. } | WorkerState::Stopped => {
            hub.worker.first_word_of_outage();
            true
        }
        // A long back-off is said each time: when the next attempt is.
        WorkerState::Restarting { after, .. } if *after >= LONG_BACKOFF => {
            hub.worker.first_word_of_outage();
            true
        }
        _ if lost => hub.worker.first_word_of_outage(),
        _ => false,
    };
    if tell {
        let described = hub
            .worker
            .described(&hub.settings.irc.time_zone, std::time::Instant::now());
        let text = format!("MSN worker: {described}");
        hub.roster_notice(&text);
        super::welcome::roster_topic_changed(hub);
    }
    if lost {
        // The worker's conversations died with it; their channels stay,
        // dormant, so staff keep the context and can write again.
        for id in hub.conversations.suspend_all() {
            let Some(channel) = hub.conversations.get(id).map(|c| c.channel.clone()) else {
                continue;
            };
            let text = match held.get(&channel) {
                Some(n) => format!(
                    "MSN connection lost; {n} message(s) held, and anything written here, go out when it is back"
                ),
                None => "MSN connection lost; anything written here goes out when it is back".to_owned(),
            };
            hub.server_notice_in(&channel, &text);
        }
    } else if up {
        let sent = outbox::resend(hub);
        for id in hub.conversations.take_suspended() {
            let Some(channel) = hub.conversations.get(id).map(|c| c.channel.clone()) else {
                continue;
            };
            let text = match sent.get(&channel) {
                Some(n) => format!("MSN connection back; {n} held message(s) sent now"),
                None => "MSN connection back".to_owned(),
            };
            hub.server_notice_in(&channel, &text);
        }
    }
}

/// Handles end up in IRC prefixes: a malformed one (from a compromised
/// worker) could forge lines, so such events are dropped.
fn well_formed(event: &Event) -> bool {
    let handle = match event {
        Event::Presence { handle, .. }
        | Event::ConversationJoined { handle, .. }
        | Event::ConversationLeft { handle, .. }
        | Event::AddRequest { handle, .. } => Some(handle),
        Event::Message { from, .. }
        | Event::Typing { from, .. }
        | Event::Nudge { from, .. }
        | Event::OfflineMessage { from, .. }
        | Event::FileOffered { from, .. } => Some(from),
        Event::Roster { contacts, .. } => return contacts.iter().all(|c| valid_handle(&c.handle)),
        _ => None,
    };
    handle.is_none_or(|h| valid_handle(h))
}

pub(super) fn event(hub: &mut Hub, event: &Event) {
    if !well_formed(event) {
        tracing::warn!(
            "dropped a worker event with a malformed contact address: {:?}",
            short(&format!("{event:?}"))
        );
        return;
    }
    // The worker's id and the record's: `grep conv=N` follows both processes.
    let _span = event.conversation().map(|conv| {
        let record = hub.conversations.by_worker(conv);
        tracing::debug_span!("conversation", conv, record).entered()
    });
    match event {
        Event::Roster { contacts, .. } => roster(hub, contacts),
        Event::Presence {
            handle,
            status,
            friendly_name,
            personal_message,
        } => {
            let name = friendly_name
                .as_deref()
                .map(short)
                .or_else(|| hub.roster.contact(handle).map(|b| b.friendly_name.clone()))
                .unwrap_or_else(|| handle.clone());
            learn(hub, handle, &name, *status);
            if let Some(psm) = personal_message {
                hub.roster.set_personal_message(handle, &short(psm));
            }
        }
        Event::ConversationJoined {
            conversation, handle, ..
        } => {
            customer_joined(hub, *conversation, handle);
        }
        Event::ConversationLeft { conversation, handle } => customer_left(hub, *conversation, handle),
        Event::ConversationClosed(conversation) => closed(hub, *conversation),
        Event::Message {
            conversation,
            from,
            text,
            format,
        } => customer_message(hub, *conversation, from, text, format),
        Event::Nudge { conversation, from } => nudge(hub, *conversation, from),
        Event::SentElsewhere {
            conversation, text, ..
        } => sent_elsewhere(hub, *conversation, text),
        Event::Typing { conversation, from } => typing(hub, *conversation, from),
        Event::Delivery { command_id, outcome } => {
            if !super::file_sending::delivery(hub, *command_id, outcome) {
                outbox::delivery(hub, *command_id, outcome);
            }
        }
        Event::FileAccepted { command_id } => super::file_sending::accepted(hub, *command_id),
        Event::FileWanted { command_id, offset } => super::file_sending::wanted(hub, *command_id, *offset),
        Event::Sent { command_id } => outbox::sent(hub, *command_id),
        Event::AddRequest {
            handle,
            friendly_name,
        } => add_request(hub, handle, friendly_name),
        Event::Notice(text) => hub.roster_notice(text),
        Event::SignedOut { reason, .. } => hub.roster_notice(&format!("signed out: {reason}")),
        Event::Places(places) => super::places::changed(hub, places),
        Event::FileOffered { .. } | Event::FileData { .. } | Event::FileEnded { .. } => {
            super::file_transfers::event(hub, event);
        }
        Event::OfflineMessage {
            id,
            from,
            text,
            sent_ms,
        } => super::offline_messages::arrived(hub, id, from, text, *sent_ms),
        Event::SignedIn { protocol, .. } => {
            hub.worker.protocol = *protocol;
            hub.worker.places.clear();
            // A new login starts online; show the right status at once.
            if hub.clients.is_empty() {
                sync_status(hub);
            }
        }
        Event::LoginProgress(_) => {}
    }
}

/// The account's lists: every contact, and who waits to be accepted.
fn roster(hub: &mut Hub, contacts: &[ipc::Contact]) {
    for c in contacts {
        let status = hub.roster.contact(&c.handle).map_or(c.status, |b| b.status);
        learn(hub, &c.handle, &short(&c.friendly_name), status);
        if hub
            .roster
            .set_pending(&c.handle, ipc::lists::waits_for_us(c.lists))
        {
            their_topics_changed(hub, &c.handle);
        }
    }
}

/// Someone added the account and waits to be accepted.
fn add_request(hub: &mut Hub, handle: &str, friendly_name: &str) {
    if hub.roster.contact(handle).is_none() {
        learn(hub, handle, &short(friendly_name), Status::Offline);
    }
    if hub.roster.set_pending(handle, true) {
        their_topics_changed(hub, handle);
    }
    hub.roster_notice(&format!(
        "{handle} wants to add the account; accept with /msg *msn accept {handle}"
    ));
}

/// The result of a command this side sent.
pub(super) fn command_result(hub: &mut Hub, id: u64, result: &CommandResult) {
    if let Some((client, what)) = hub.worker.service_answer(id) {
        let text = match result {
            CommandResult::Ok => format!("done: {what}"),
            CommandResult::Failed(f) => format!("failed: {what}: {}", short(&f.detail)),
        };
        super::service::notice(hub, client, &text);
        return;
    }
    if let CommandResult::Failed(f) = result {
        if !super::file_sending::refused(hub, id, f) {
            outbox::not_taken(hub, id, f);
        }
    }
}

/// Notes a contact's presence and name; shows what changed.
pub(super) fn learn(hub: &mut Hub, handle: &str, friendly_name: &str, status: Status) -> Contact {
    let learned = hub.roster.learn(handle, friendly_name, status);
    if let Some((handle, name)) = learned.named {
        hub.history.contact_named(handle, name);
    }
    presence_changed(hub, learned.before.as_ref(), &learned.after);
    learned.after
}

/// MSN said a contact is offline (217 on a send): believed over a
/// presence the server may have failed to update.
pub(super) fn contact_offline(hub: &mut Hub, handle: &str) {
    let Some(c) = hub.roster.contact(handle).cloned() else {
        return;
    };
    if c.online() {
        learn(hub, &c.handle, &c.friendly_name, Status::Offline);
    }
}

/// The topics of `handle`'s conversations, which describe them, again.
fn their_topics_changed(hub: &mut Hub, handle: &str) {
    let key = super::roster::key(handle);
    let theirs: Vec<i64> = hub
        .conversations
        .iter()
        .filter(|c| c.customers.contains(&key))
        .map(|c| c.id)
        .collect();
    for id in theirs {
        super::welcome::topic_changed(hub, id);
    }
}

/// Shows a contact coming online (JOIN +v) or going offline (PART) in
/// `&msn`, away states (away-notify) and new names (setname).
fn presence_changed(hub: &mut Hub, before: Option<&Contact>, after: &Contact) {
    // Their conversations' topics name their status and name.
    their_topics_changed(hub, &after.handle);
    let (was, is) = (before.is_some_and(Contact::online), after.online());
    if is && before.map(|b| b.status) != Some(after.status) {
        let line = match after.away() {
            Some(why) => format!(":{} AWAY :{why}", after.prefix()),
            None => format!(":{} AWAY", after.prefix()),
        };
        if was || after.away().is_some() {
            hub.broadcast_to_cap(Cap::AwayNotify, &[], &line);
        }
    }
    if is && before.is_some_and(|b| b.friendly_name != after.friendly_name) {
        let line = format!(":{} SETNAME :{}", after.prefix(), after.friendly_name);
        hub.broadcast_to_cap(Cap::Setname, &[], &line);
    }
    if was == is {
        return;
    }
    super::irc_commands::monitor::changed(hub, &after.nick);
    if is {
        broadcast_join(hub, &after.prefix(), ROSTER, "*", &after.friendly_name, None);
        let mode = format!(":{} MODE {ROSTER} +v {}", hub.server(), after.nick);
        hub.broadcast(&mode, None);
    } else {
        let part = format!(":{} PART {ROSTER} :offline", after.prefix());
        hub.broadcast(&part, None);
    }
}

/// The record an MSN conversation of the worker is shown in: its own, a
/// dormant one with this customer alone (it comes back to life), the
/// customer's last conversation (re-opened), or a new one. Every attached
/// client joins a channel that is new to it.
pub(super) fn record_for(hub: &mut Hub, worker: ConversationId, handle: &str) -> i64 {
    let now = std::time::Instant::now();
    if let Some(id) = hub.conversations.by_worker(worker) {
        return id;
    }
    let dormant = hub.conversations.with_customer(handle).filter(|id| {
        hub.conversations
            .get(*id)
            .is_some_and(|c| c.worker_id().is_none())
    });
    if let Some(id) = dormant {
        hub.conversations.bind(id, worker, now);
        tracing::debug!(conv = worker, record = id, "conversation back to life");
        return id;
    }
    let contact = match hub.roster.contact(handle) {
        Some(c) => c.clone(),
        None => learn(hub, handle, handle, Status::Online),
    };
    let (id, wanted) = match hub.roster.last_conversation(handle) {
        Some((id, channel)) if hub.conversations.get(id).is_none() => (id, Some(channel)),
        _ => (hub.conversations.allocate_id(), None),
    };
    open(hub, id, &contact, wanted.as_deref(), Link::Live(worker));
    tracing::debug!(conv = worker, record = id, "conversation shown");
    id
}

/// Puts record `id` with `contact` alone in the registry under a free
/// channel (`wanted` if it is free) that every attached client joins.
pub(super) fn open(hub: &mut Hub, id: i64, contact: &Contact, wanted: Option<&str>, link: Link) -> String {
    let staff = &hub.staff_channels;
    let channel = hub
        .conversations
        .free_channel(&contact.nick, wanted, |n| staff.exists(n));
    let customers = Conversations::one(&contact.handle);
    let mut record = Conversation::new(id, channel.clone(), customers, link, std::time::Instant::now());
    record.created_ms = hub.now_ms();
    hub.history.conversation(record.row());
    hub.conversations.add(record);
    hub.roster.set_last_conversation(&contact.handle, id, &channel);
    everyone_joins(hub, &channel);
    super::customer_cards::show_on_open(hub, &channel, &contact.handle);
    channel
}

fn customer_joined(hub: &mut Hub, worker: ConversationId, handle: &str) -> i64 {
    let id = record_for(hub, worker, handle);
    if hub.conversations.add_customer(id, handle) {
        if let Some(c) = hub.roster.contact(handle).cloned() {
            let channel = hub
                .conversations
                .get(id)
                .map(|c| c.channel.clone())
                .unwrap_or_default();
            broadcast_join(hub, &c.prefix(), &channel, "*", &c.friendly_name, None);
        }
        // A group conversation now: the topic names everyone; it is no
        // longer anyone's conversation alone.
        if let Some(row) = hub.conversations.get(id).map(Conversation::row) {
            for customer in &row.customers {
                hub.roster.forget_conversation(customer, id);
            }
            hub.history.conversation(row);
        }
        topic_changed(hub, id);
    }
    id
}

fn customer_left(hub: &mut Hub, worker: ConversationId, handle: &str) {
    let Some(id) = hub.conversations.by_worker(worker) else {
        return;
    };
    let Some(contact) = hub.roster.contact(handle).cloned() else {
        return;
    };
    let Some(c) = hub.conversations.get(id) else {
        return;
    };
    let channel = c.channel.clone();
    let group = c.customers.len() > 1 && c.customers.contains(&super::roster::key(handle));
    if group {
        // One customer leaves a group conversation: the others stay.
        hub.conversations.remove_customer(id, handle);
        let part = format!(
            ":{} PART {channel} :closed the conversation window",
            contact.prefix()
        );
        hub.broadcast(&part, None);
        topic_changed(hub, id);
    } else {
        let text = format!("{} closed the conversation window", contact.nick);
        hub.server_notice_in(&channel, &text);
    }
}

/// The worker closed a conversation (idle): its channel is parted.
fn closed(hub: &mut Hub, worker: ConversationId) {
    let Some(c) = hub
        .conversations
        .by_worker(worker)
        .and_then(|id| hub.conversations.close(id))
    else {
        return;
    };
    tracing::debug!(conv = worker, record = c.id, "conversation closed");
    for id in hub.clients.ids() {
        let Some(nick) = hub.clients.get(id).map(|c| c.nick.clone()) else {
            continue;
        };
        let line = format!(
            ":{} PART {} :conversation closed (idle)",
            hub.user_prefix(&nick),
            c.channel
        );
        hub.send(id, line);
        hub.clients.left(id, &c.channel);
    }
}

fn customer_message(hub: &mut Hub, worker: ConversationId, from: &str, text: &str, format: &TextFormat) {
    let id = customer_joined(hub, worker, from);
    let auto_reply = auto_reply(hub, id);
    let Some(c) = hub.conversations.get_mut(id) else {
        return;
    };
    c.last_activity = std::time::Instant::now();
    let channel = c.channel.clone();
    if let Some((reply, _)) = &auto_reply {
        let command = ipc::Command::SendMessage {
            to: ConversationTarget::Existing(worker),
            text: reply.clone(),
            format: TextFormat::default(),
        };
        hub.command(command, None);
    }
    tracing::debug!(record = id, bytes = text.len(), "customer message");
    let now = hub.now_ms();
    show_customer_text(hub, from, &channel, text, format, now);
    // Someone not accepted yet can already write (`auto_accept_contacts`
    // off): staff are told once per conversation, with how to accept.
    if hub.roster.pending(from) {
        if let Some(c) = hub.conversations.get_mut(id).filter(|c| !c.pending_told) {
            c.pending_told = true;
            let text = format!(
                "{from} is not an accepted contact yet: they added the account and wrote before anyone accepted them; accept with /msg *msn accept {from}"
            );
            hub.server_notice_in(&channel, &text);
        }
    }
    // Staff see (and history keeps) what the customer was answered.
    if let Some((reply, why)) = auto_reply {
        hub.server_notice_in(&channel, &format!("auto-reply sent ({why}): {reply}"));
    }
    super::desk_state::customer_wrote(hub, id);
}

/// A customer's text in `channel`, written at `at_ms`: long messages (MSN
/// allows ~1.5 kB) become several IRC lines, at most [`MAX_LINES`] and a
/// note of what is left; each formatted, shown and kept.
pub(super) fn show_customer_text(
    hub: &mut Hub,
    from: &str,
    channel: &str,
    text: &str,
    format: &TextFormat,
    at_ms: i64,
) {
    let prefix = hub.roster.prefix_of(from);
    let room = crate::irc::split::room(&prefix, "PRIVMSG", channel).saturating_sub(8);
    let mut pieces = crate::irc::split::split(text, room);
    if pieces.len() > MAX_LINES {
        let dropped = pieces.len() - MAX_LINES;
        pieces.truncate(MAX_LINES);
        pieces.push(format!("[… {dropped} more lines not shown]"));
    }
    for piece in pieces {
        let styled = crate::irc::format::to_irc(&irc_text(&piece), format);
        let shown = Shown {
            kind: Kind::Customer,
            sender: from,
            source: &prefix,
            command: "PRIVMSG",
            target: channel,
            text: &styled,
            account: None,
            client_tags: &[],
        };
        hub.show_at(shown, None, at_ms);
    }
}

/// The automatic answer a customer's line gets, and why: outside business
/// hours the closed reply (once per conversation); inside them, while no
/// staff member is attached, the unattended reply (once until someone
/// attaches).
fn auto_reply(hub: &mut Hub, id: i64) -> Option<(String, &'static str)> {
    let now = hub.now_ms();
    let desk = &hub.settings.desk;
    let closed = !desk.hours.is_open(now) && !desk.closed_reply.is_empty();
    let (closed_reply, unattended) = (
        desk.closed_reply.clone(),
        hub.settings.irc.unattended_reply.clone(),
    );
    let nobody = hub.clients.is_empty();
    let c = hub.conversations.get_mut(id)?;
    if closed {
        let first = !std::mem::replace(&mut c.closed_replied, true);
        return first.then_some((closed_reply, "outside business hours"));
    }
    let first = nobody && !unattended.is_empty() && !std::mem::replace(&mut c.auto_replied, true);
    first.then_some((unattended, "nobody is attached"))
}

fn nudge(hub: &mut Hub, worker: ConversationId, from: &str) {
    let id = customer_joined(hub, worker, from);
    let Some(channel) = hub.conversations.get(id).map(|c| c.channel.clone()) else {
        return;
    };
    let prefix = hub.roster.prefix_of(from);
    let shown = Shown {
        kind: Kind::Customer,
        sender: from,
        source: &prefix,
        command: "PRIVMSG",
        target: &channel,
        text: "\x01ACTION nudged you\x01",
        account: None,
        client_tags: &[],
    };
    hub.show(shown, None);
}

/// Someone at another place signed in to the account (their own
/// Messenger, MSNP16+) wrote in a conversation: staff see it there, and
/// history keeps it.
fn sent_elsewhere(hub: &mut Hub, worker: ConversationId, text: &str) {
    let Some(channel) = hub
        .conversations
        .by_worker(worker)
        .and_then(|id| hub.conversations.get(id))
        .map(|c| c.channel.clone())
    else {
        return;
    };
    let text = format!(
        "sent from another place signed in to the account: {}",
        irc_text(text)
    );
    hub.server_notice_in(&channel, &text);
}

fn typing(hub: &mut Hub, worker: ConversationId, from: &str) {
    let Some(id) = hub.conversations.by_worker(worker) else {
        return;
    };
    let Some(channel) = hub.conversations.get(id).map(|c| c.channel.clone()) else {
        return;
    };
    let prefix = hub.roster.prefix_of(from);
    let line = format!(":{prefix} TAGMSG {channel}");
    hub.broadcast_to_cap(Cap::MessageTags, &[("+typing", "active")], &line);
}
