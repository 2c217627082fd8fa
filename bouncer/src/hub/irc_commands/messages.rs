//! PRIVMSG, NOTICE and TAGMSG from staff: to `*msn`, to a staff channel,
//! as a staff-only note (`@#bob`), to a conversation (and so the
//! customer), to a colleague, or to a contact's nick. What reaches a
//! customer is in [`crate::hub::sending`].

use crate::hub::line_tags;
use crate::irc::wire::client_tags;
use ipc::{Command, ConversationTarget};

use super::channels::members_clients;
use super::Ctx;
use crate::hub::roster::ROSTER;
use crate::hub::{sending, Hub, Shown};
use crate::irc::cap::Cap;
use crate::irc::conn::ClientId;
use crate::store::lines::Kind;

/// Where a staff message goes.
enum Target {
    Service,
    /// ZNC's `*playback` (znc.in/playback).
    Playback,
    StaffChannel(String),
    Note(String),
    Roster,
    Conversation(i64),
    Colleague(String),
    Contact(String),
    Nowhere,
}

fn target_of(hub: &Hub, target: &str) -> Target {
    if target.eq_ignore_ascii_case(crate::hub::service::NICK) {
        return Target::Service;
    }
    if target.eq_ignore_ascii_case(super::backlog::PLAYBACK) {
        return Target::Playback;
    }
    let bare = target.trim_start_matches('@');
    if hub.staff_channels.exists(bare) {
        return Target::StaffChannel(bare.to_owned());
    }
    if let Some(channel) = target.strip_prefix('@') {
        return Target::Note(channel.to_owned());
    }
    if target.eq_ignore_ascii_case(ROSTER) {
        return Target::Roster;
    }
    if let Some(id) = hub.conversations.by_channel(target) {
        return Target::Conversation(id);
    }
    // A colleague's nick wins over a contact's: a private word between
    // staff must never reach a customer.
    if let Some(n) = hub.clients.user_named(target) {
        return Target::Colleague(n.to_owned());
    }
    match hub.roster.contact_by_nick(target) {
        Some(c) => Target::Contact(c.handle.clone()),
        None => Target::Nowhere,
    }
}

/// An error reply to a PRIVMSG; a NOTICE is never answered
/// automatically (RFC 2812 3.3.2), so it fails silently.
fn refuse(hub: &mut Hub, ctx: &Ctx<'_>, code: &str, params: &[&str]) {
    if ctx.cmd != "NOTICE" {
        hub.numeric(ctx.id, code, params);
    }
}

/// A message from a staff member (PRIVMSG or NOTICE).
pub(super) fn privmsg(hub: &mut Hub, ctx: &Ctx<'_>) {
    let (target, text) = (ctx.param(0), ctx.param(1));
    if text.is_empty() {
        return refuse(hub, ctx, "412", &["No text to send"]);
    }
    // echo-message: the sender's own connection sees its line too.
    let echo = hub.clients.get(ctx.id).is_some_and(|c| c.has(Cap::EchoMessage));
    let except = if echo { None } else { Some(ctx.id) };
    let target_kind = target_of(hub, target);
    // CTCP other than ACTION (DCC, VERSION …) is for IRC clients, never
    // for a customer: a DCC request would leak the staff member's address.
    let ctcp = text.starts_with('\x01') && crate::irc::format::action(text).is_none();
    let personal = matches!(
        target_kind,
        Target::Conversation(_) | Target::Colleague(_) | Target::Contact(_) | Target::Nowhere
    );
    if ctcp && personal {
        return;
    }
    match target_kind {
        Target::Service if ctx.cmd == "PRIVMSG" => crate::hub::service::run(hub, ctx.id, text),
        Target::Service => {}
        Target::Playback if ctx.cmd == "PRIVMSG" => super::backlog::playback(hub, ctx.id, text),
        Target::Playback => {}
        Target::StaffChannel(channel) => to_staff_channel(hub, ctx, &channel, echo),
        Target::Note(channel) => note(hub, ctx, &channel, except),
        Target::Roster => refuse(
            hub,
            ctx,
            "404",
            &[
                ROSTER,
                "The contact list is read-only; talk in a conversation channel",
            ],
        ),
        Target::Conversation(id) => sending::in_conversation(hub, ctx, id, except),
        Target::Colleague(nick) => to_colleague(hub, ctx, &nick, echo),
        Target::Contact(_) if ctx.cmd != "PRIVMSG" => {
            refuse(hub, ctx, "404", &[target, "Customers only get PRIVMSG"]);
        }
        Target::Contact(handle) => sending::to_contact(hub, ctx, &handle),
        Target::Nowhere => refuse(hub, ctx, "401", &[target, "No such nick/channel"]),
    }
}

fn echo_line(hub: &Hub, ctx: &Ctx<'_>) -> String {
    format!(
        ":{} {} {} :{}",
        hub.user_prefix(&ctx.nick),
        ctx.cmd,
        ctx.param(0),
        ctx.param(1)
    )
}

/// A staff channel: staff only, by definition; its members only.
fn to_staff_channel(hub: &mut Hub, ctx: &Ctx<'_>, channel: &str, echo: bool) {
    if !hub.staff_channels.is_member(channel, &ctx.nick) {
        refuse(
            hub,
            ctx,
            "404",
            &[channel, "Cannot send to channel (join it first)"],
        );
        return;
    }
    let msgid = hub.history.msgid();
    let line = echo_line(hub, ctx);
    let extra = client_tags(ctx.message);
    let tags = line_tags(Some(&ctx.nick), &msgid, &extra);
    for cid in members_clients(hub, channel) {
        if cid != ctx.id || echo {
            hub.send_tagged(cid, &tags, line.clone());
        }
    }
}

/// A staff-only note (`@#bob`, STATUSMSG): never reaches the customer.
fn note(hub: &mut Hub, ctx: &Ctx<'_>, channel: &str, except: Option<ClientId>) {
    if hub.conversations.by_channel(channel).is_none() && !channel.eq_ignore_ascii_case(ROSTER) {
        refuse(hub, ctx, "403", &[channel, "No such channel"]);
        return;
    }
    let source = hub.user_prefix(&ctx.nick);
    let shown = Shown {
        kind: Kind::Note,
        sender: &ctx.nick,
        source: &source,
        command: super::command_of(&ctx.cmd),
        target: ctx.param(0),
        text: ctx.param(1),
        account: Some(&ctx.nick),
        client_tags: &client_tags(ctx.message),
    };
    hub.show(shown, except);
}

/// A private word to a colleague: every device of theirs and the
/// sender's other devices get it.
fn to_colleague(hub: &mut Hub, ctx: &Ctx<'_>, nick: &str, echo: bool) {
    let msgid = hub.history.msgid();
    let line = echo_line(hub, ctx);
    let extra = client_tags(ctx.message);
    let tags = line_tags(Some(&ctx.nick), &msgid, &extra);
    let mut to: Vec<ClientId> = hub.clients.devices_of(nick);
    // The sender's other devices see what they sent (znc.in/self-message).
    for c in hub.clients.devices_of(&ctx.nick) {
        let understands = hub.clients.get(c).is_some_and(|o| o.has(Cap::SelfMessage));
        if c != ctx.id && understands && !to.contains(&c) {
            to.push(c);
        }
    }
    if echo && !to.contains(&ctx.id) {
        to.push(ctx.id);
    }
    for cid in to {
        hub.send_tagged(cid, &tags, line.clone());
    }
}

/// TAGMSG: client-only tags (typing, reactions, replies …) for the other
/// staff in the channel, and back with echo-message; toward MSN only
/// typing goes, in a conversation, as "typing" while it is active.
pub(super) fn tagmsg(hub: &mut Hub, ctx: &Ctx<'_>) {
    let extra = client_tags(ctx.message);
    if extra.is_empty() {
        return;
    }
    let target = ctx.param(0);
    let echo = hub.clients.get(ctx.id).is_some_and(|c| c.has(Cap::EchoMessage));
    let audience: Vec<ClientId> = match target_of(hub, target) {
        Target::Conversation(_) | Target::Roster => hub.clients.ids(),
        Target::StaffChannel(channel) if hub.staff_channels.is_member(&channel, &ctx.nick) => {
            members_clients(hub, &channel)
        }
        Target::Colleague(nick) => {
            let mut to = hub.clients.devices_of(&nick);
            to.extend(hub.clients.devices_of(&ctx.nick));
            to.sort_unstable();
            to.dedup();
            to
        }
        _ => return,
    };
    let line = format!(":{} TAGMSG {target}", hub.user_prefix(&ctx.nick));
    let mut tags = vec![("account", ctx.nick.as_str())];
    tags.extend(extra.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    for cid in audience {
        let tagged = hub.clients.get(cid).is_some_and(|c| c.has(Cap::MessageTags));
        if tagged && (cid != ctx.id || echo) {
            hub.send_tagged(cid, &tags, line.clone());
        }
    }
    let typing = extra
        .iter()
        .find(|(k, _)| k == "+typing")
        .map(|(_, v)| v.as_str());
    let worker = hub
        .conversations
        .by_channel(target)
        .and_then(|id| hub.conversations.get(id))
        .and_then(|c| c.worker_id());
    if let Some(state) = typing {
        crate::hub::desk_state::staff_typing(hub, target, state == "active");
    }
    if let (Some("active"), Some(worker)) = (typing, worker) {
        let to = ConversationTarget::Existing(worker);
        hub.command(Command::SendTyping { to }, None);
    }
}
