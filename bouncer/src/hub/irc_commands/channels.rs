//! Channels: JOIN, PART, NAMES, TOPIC and MODE, for the roster, the
//! conversations (every staff member is in each) and staff channels
//! (created by joining, members only).

use super::Ctx;
use crate::hub::roster::ROSTER;
use crate::hub::staff_channels::{valid_name, Joined};
use crate::hub::welcome::{join_burst, join_line, names as names_of, topic as topic_of};
use crate::hub::Hub;
use crate::irc::conn::ClientId;
use crate::untrusted::short;

/// The name staff know a roster or conversation channel by.
fn shared_channel(hub: &Hub, name: &str) -> Option<String> {
    if name.eq_ignore_ascii_case(ROSTER) {
        return Some(ROSTER.to_owned());
    }
    let id = hub.conversations.by_channel(name)?;
    hub.conversations.get(id).map(|c| c.channel.clone())
}

/// Whether `name` is a channel here: `&msn`, a conversation or a staff
/// channel.
fn exists(hub: &Hub, name: &str) -> bool {
    shared_channel(hub, name).is_some() || hub.staff_channels.exists(name)
}

pub(super) fn join(hub: &mut Hub, ctx: &Ctx<'_>) {
    for ch in ctx.param(0).split(',') {
        // Already in it (WeeChat joins again on every reconnect): nothing.
        if hub.clients.is_in(ctx.id, ch) && exists(hub, ch) {
            continue;
        }
        match shared_channel(hub, ch) {
            Some(name) => join_burst(hub, ctx.id, &name),
            None => join_staff_channel(hub, ctx.id, &ctx.nick, ch),
        }
    }
}

/// JOIN of a channel that is neither `&msn` nor a conversation.
fn join_staff_channel(hub: &mut Hub, id: ClientId, nick: &str, channel: &str) {
    if !valid_name(channel) {
        hub.numeric(
            id,
            "403",
            &[channel, "No such channel (staff channels start with #)"],
        );
        return;
    }
    let member = hub.staff_channels.is_member(channel, nick);
    if !member && hub.staff_channels.of(nick).len() >= crate::hub::staff_channels::PER_USER {
        hub.numeric(id, "405", &[channel, "You have joined too many channels"]);
        return;
    }
    let name = match hub.staff_channels.join(channel, nick) {
        // Already a member: this device just (re)joins.
        Joined::Again(name) => return join_burst(hub, id, &name),
        Joined::Member(name) => name,
    };
    // Every device of the new member joins; the other members see them arrive.
    let (prefix, realname) = (hub.user_prefix(nick), hub.clients.realname(nick));
    let mine = hub.clients.devices_of(nick);
    for cid in &mine {
        join_burst(hub, *cid, &name);
    }
    for cid in members_clients(hub, &name) {
        if !mine.contains(&cid) {
            let line = join_line(hub, cid, &prefix, &name, nick, &realname);
            hub.send(cid, line);
        }
    }
}

/// The clients of every member of a staff channel.
pub(super) fn members_clients(hub: &Hub, channel: &str) -> Vec<ClientId> {
    let Some(c) = hub.staff_channels.get(channel) else {
        return Vec::new();
    };
    c.members.iter().flat_map(|m| hub.clients.devices_of(m)).collect()
}

pub(super) fn part(hub: &mut Hub, ctx: &Ctx<'_>) {
    let reason = ctx.params.get(1).map_or("left", String::as_str).to_owned();
    for ch in ctx.param(0).split(',') {
        if hub.staff_channels.exists(ch) {
            part_staff_channel(hub, ctx, ch, &reason);
        } else if shared_channel(hub, ch).is_some() {
            // Staff are in every conversation: this device leaves until it
            // attaches again.
            let line = format!(":{} PART {ch} :{reason}", hub.user_prefix(&ctx.nick));
            hub.send(ctx.id, line);
            hub.clients.left(ctx.id, ch);
        } else {
            hub.numeric(ctx.id, "403", &[ch, "No such channel"]);
        }
    }
}

/// Every device of the user leaves the staff channel.
fn part_staff_channel(hub: &mut Hub, ctx: &Ctx<'_>, channel: &str, reason: &str) {
    if !hub.staff_channels.is_member(channel, &ctx.nick) {
        hub.numeric(ctx.id, "442", &[channel, "You're not on that channel"]);
        return;
    }
    let name = hub
        .staff_channels
        .get(channel)
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let line = format!(":{} PART {name} :{reason}", hub.user_prefix(&ctx.nick));
    for cid in members_clients(hub, channel) {
        hub.send(cid, line.clone());
    }
    for cid in hub.clients.devices_of(&ctx.nick) {
        hub.clients.left(cid, channel);
    }
    hub.staff_channels.part(channel, &ctx.nick);
}

pub(super) fn names(hub: &mut Hub, ctx: &Ctx<'_>) {
    let Some(list) = ctx.params.first() else {
        return hub.numeric(ctx.id, "366", &["*", "End of /NAMES list"]);
    };
    for ch in list.split(',') {
        match exists(hub, ch) {
            true => names_of(hub, ctx.id, ch),
            // Nobody is in a channel that does not exist.
            false => hub.numeric(ctx.id, "366", &[ch, "End of /NAMES list"]),
        }
    }
}

pub(super) fn topic(hub: &mut Hub, ctx: &Ctx<'_>) {
    let ch = ctx.param(0);
    if !exists(hub, ch) {
        return hub.numeric(ctx.id, "403", &[ch, "No such channel"]);
    }
    if ctx.params.len() == 1 {
        let topic = topic_of(hub, ch);
        match topic.is_empty() {
            true => hub.numeric(ctx.id, "331", &[ch, "No topic is set"]),
            false => hub.numeric(ctx.id, "332", &[ch, &topic]),
        }
        return;
    }
    if !hub.staff_channels.exists(ch) {
        hub.numeric(ctx.id, "482", &[ch, "Topics show the customer and cannot be set"]);
        return;
    }
    // A staff channel: its members may set it.
    if !hub.staff_channels.is_member(ch, &ctx.nick) {
        hub.numeric(ctx.id, "442", &[ch, "You're not on that channel"]);
        return;
    }
    let topic = short(ctx.param(1));
    let Some(name) = hub.staff_channels.set_topic(ch, topic.clone()) else {
        return;
    };
    let line = format!(":{} TOPIC {name} :{topic}", hub.user_prefix(&ctx.nick));
    for cid in members_clients(hub, ch) {
        hub.send(cid, line.clone());
    }
}

pub(super) fn mode(hub: &mut Hub, ctx: &Ctx<'_>) {
    let t = ctx.param(0);
    if t.starts_with(['#', '&']) {
        channel_mode(hub, ctx, t);
    } else if t.eq_ignore_ascii_case(&ctx.nick) {
        hub.numeric(ctx.id, "221", &["+i"]);
    } else {
        hub.numeric(ctx.id, "502", &[t, "Can't change mode for other users"]);
    }
}

/// The end of each list a client may ask for (`MODE #bob b`, which irssi
/// sends on every join and waits for): lists here are always empty.
const LIST_ENDS: [(char, &str, &str); 3] = [
    ('b', "368", "End of channel ban list"),
    ('e', "349", "End of channel exception list"),
    ('I', "347", "End of channel invite list"),
];

/// `MODE #chan` shows the modes; `MODE #chan b` (or `+b`, `e`, `I`) ends
/// an empty list; a change is refused: the modes here are fixed.
fn channel_mode(hub: &mut Hub, ctx: &Ctx<'_>, channel: &str) {
    if !exists(hub, channel) {
        return hub.numeric(ctx.id, "403", &[channel, "No such channel"]);
    }
    let Some(modes) = ctx.params.get(1) else {
        return hub.numeric(ctx.id, "324", &[channel, "+nt"]);
    };
    let letters = modes.strip_prefix('+').unwrap_or(modes);
    let lists: Vec<_> = LIST_ENDS.iter().filter(|(m, ..)| letters.contains(*m)).collect();
    let only_lists =
        ctx.params.len() == 2 && letters.chars().all(|c| LIST_ENDS.iter().any(|(m, ..)| *m == c));
    if only_lists && !lists.is_empty() {
        for (_, code, text) in lists {
            hub.numeric(ctx.id, code, &[channel, text]);
        }
        return;
    }
    hub.numeric(ctx.id, "482", &[channel, "Channel modes are fixed here"]);
}
