//! What a device missed, and the store's upkeep. On attach, the writer
//! (after every batch before it, so nothing shown is missed) notes the
//! device and finds the conversations with lines it has not seen; each
//! gets its channel back (a dormant one if it had none), and the replay
//! streams them to the client beside the hub ([`crate::irc::replay`]).
//! Retention runs on the maintenance thread now and then.

use std::time::Instant;

use super::clients::Tracking;
use super::conversation::{Conversation, Link};
use super::history::PRUNE_BATCH;
use super::welcome::everyone_joins;
use super::Hub;
use crate::irc::cap::Cap;
use crate::irc::conn::ClientId;
use crate::irc::replay::{Job, Replay, Style};
use crate::store::positions::Unseen;
use crate::store::StoreError;

/// Plans the replay for a client that just attached.
pub(super) fn plan(hub: &mut Hub, id: ClientId) {
    let Some(c) = hub.clients.get(id) else { return };
    let (user, device) = (c.login.user.clone(), c.device().to_owned());
    let upto = hub.history.newest();
    let ongoing: Vec<i64> = hub.conversations.iter().map(|c| c.id).collect();
    let find = move |s: &mut crate::store::Store| -> Result<Vec<Unseen>, StoreError> {
        let (new_user, new_device) = s.device_attached(&user, &device)?;
        // A new user has missed nothing from before it existed; a new
        // device, what its user missed.
        let unseen = match new_user {
            true => Vec::new(),
            false => s.unseen(&user, &device, new_device)?,
        };
        // Nobody joins an ongoing conversation without its start.
        match new_device {
            true => s.from_start(&ongoing, unseen),
            false => Ok(unseen),
        }
    };
    hub.write(find, move |hub, found| match found {
        Ok(unseen) => start(hub, id, upto, unseen),
        Err(e) => {
            hub.history_failed(&e.to_string());
            finished(hub, id, Err(e.to_string()));
        }
    });
}

/// The replay for client `id` ended. After a failure the client is told,
/// and its position stays where it was: what it never got is replayed on
/// its next connection.
pub(super) fn finished(hub: &mut Hub, id: ClientId, outcome: Result<(), String>) {
    let server = hub.server().to_owned();
    let Some(c) = hub.clients.get_mut(id) else { return };
    let Err(error) = outcome else {
        c.tracking = Tracking::Following;
        return;
    };
    c.tracking = Tracking::Frozen;
    let nick = c.nick.clone();
    let text = crate::untrusted::short(&format!(
        "Could not replay what this device missed ({error}). Nothing is marked as seen on this device, so it is replayed when you connect again; meanwhile /msg *msn history #channel shows a conversation."
    ));
    hub.send(id, format!(":{server} NOTICE {nick} :{text}"));
}

/// Every conversation with lines the device missed is in its channel;
/// unless the client fetches history itself (draft/chathistory), what it
/// missed (up to `upto`; later lines reach it live) is replayed.
fn start(hub: &mut Hub, id: ClientId, upto: i64, unseen: Vec<Unseen>) {
    let jobs: Vec<Job> = unseen
        .into_iter()
        .map(|u| Job {
            channel: reopen(hub, u.conversation, &u.channel, &u.customers),
            conversation: u.conversation,
            after: u.after,
            count: u.count,
        })
        .collect();
    let server = hub.server().to_owned();
    let Some(c) = hub.clients.get_mut(id) else { return };
    // Clients that fetch history themselves (chathistory, ZNC's playback).
    if c.has(Cap::Chathistory) || c.has(Cap::Playback) || jobs.is_empty() {
        c.tracking = Tracking::Following;
        return;
    }
    tracing::debug!(
        client = id,
        conversations = jobs.len(),
        "replaying what the device missed"
    );
    hub.metrics.replays.inc();
    Replay {
        store: hub.settings.store.path.clone(),
        server,
        user: c.login.user.clone(),
        device: c.device().to_owned(),
        style: Style::of(c.caps),
        local: hub.settings.irc.time_zone.clone(),
        cap: hub.settings.irc.replay_max,
        upto,
        jobs,
        tx: c.sender(),
        client: id,
        done: hub.events.clone(),
    }
    .spawn();
}

/// The channel of stored conversation `conversation`; one with history
/// but no channel gets a dormant one (under its old name `channel` if
/// that is free), joined by every attached client.
pub(super) fn reopen(hub: &mut Hub, conversation: i64, channel: &str, customers: &[String]) -> String {
    if let Some(c) = hub.conversations.get(conversation) {
        return c.channel.clone();
    }
    let nick = customers
        .first()
        .and_then(|h| hub.roster.contact(h).map(|c| c.nick.clone()))
        .unwrap_or_else(|| channel.trim_start_matches('#').to_owned());
    let staff = &hub.staff_channels;
    let name = hub
        .conversations
        .free_channel(&nick, Some(channel), |n| staff.exists(n));
    let record = Conversation::new(
        conversation,
        name.clone(),
        customers.iter().cloned().collect(),
        Link::Dormant { suspended: false },
        Instant::now(),
    );
    if name != channel {
        hub.history.conversation(record.row());
    }
    hub.conversations.add(record);
    everyone_joins(hub, &name);
    name
}

/// Background retention: a bounded batch at a time, on the maintenance
/// thread.
pub(super) fn prune_now_and_then(hub: &mut Hub, now: Instant) {
    let policy = hub.settings.store.retention;
    if policy.is_forever() || !hub.history.prune_due(now) {
        return;
    }
    let prune = move |s: &mut crate::store::Store| s.prune(&policy, crate::store::now_ms(), PRUNE_BATCH);
    hub.maintain(prune, |hub, pruned| {
        let n = match pruned {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!("retention: pruning failed: {e}");
                0
            }
        };
        if n > 0 {
            tracing::info!("retention: pruned {n} lines");
        }
        hub.history.pruned(n, Instant::now());
    });
}
