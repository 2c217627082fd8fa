//! A client attaching: the welcome burst (001–005, MOTD), every channel
//! it is in (the roster, each conversation, its user's staff channels)
//! with topic and names, and what it missed. Also what a channel looks
//! like to a client — its JOIN, topic and NAMES — and the account's MSN
//! status, which follows whether anyone is attached.

use std::collections::BTreeSet;

use ipc::Status;

use super::roster::{Contact, ROSTER};
use super::Hub;
use crate::irc::cap::Cap;
use crate::irc::conn::{Attached, ClientId};

const MOTD: &[&str] = &[
    "msnbnc: one MSN Messenger account, shared by the whole team.",
    "&msn is the contact list; each customer conversation is a channel.",
    "Talk in a conversation channel (or /msg a contact) to answer the customer;",
    "prefix the channel with @ (/msg @#bob …) for a note only staff see.",
    "/msg *msn help lists the desk's commands (claim, history, search …).",
];

/// SETNAME's limit, also in ISUPPORT NAMELEN.
pub(super) const MAX_REALNAME: usize = 200;

pub(super) fn attach(hub: &mut Hub, a: Attached) {
    let (id, requested, nick) = (a.id, a.requested_nick.clone(), a.login.user.clone());
    let device = a.login.device.clone();
    tracing::info!(client = id, user = %nick, device = ?device, addr = %a.addr, "IRC client attached");
    let info = hub.clients.attach(a, hub.history.newest());
    greet(hub, id, &nick);
    if !requested.eq_ignore_ascii_case(&nick) {
        // Every device of a user shares the user's nick.
        let line = format!(":{requested}!{nick}@{} NICK :{nick}", hub.server());
        hub.send(id, line);
    }
    if info.first_of_user {
        super::irc_commands::monitor::changed(hub, &nick);
        if hub.clients.team_joined(&nick) {
            // An account msnbnc did not know yet: a new member everywhere.
            member_joins(hub, &nick, Some(id));
        } else if !hub.clients.said_away(&nick) {
            // A member all along: colleagues see them back.
            announce_away(hub, &nick, Some(id));
        }
    }
    join_burst(hub, id, ROSTER);
    // Whoever attaches while history is off is told, not only those who
    // were there when it failed.
    if let Some(error) = hub.history.broken() {
        let text = crate::untrusted::short(&super::recording_off(error));
        let line = format!(":{} NOTICE {ROSTER} :{text}", hub.server());
        hub.send(id, line);
    }

    let channels: Vec<String> = hub.conversations.iter().map(|c| c.channel.clone()).collect();
    for c in channels.into_iter().chain(hub.staff_channels.of(&nick)) {
        join_burst(hub, id, &c);
    }
    super::replay_plan::plan(hub, id);
    if info.first_of_all {
        for id in hub.conversations.iter().map(|c| c.id).collect::<Vec<_>>() {
            if let Some(c) = hub.conversations.get_mut(id) {
                c.auto_replied = false;
            }
        }
        sync_status(hub);
    }
}

/// 001–005 and the MOTD.
fn greet(hub: &mut Hub, id: ClientId, nick: &str) {
    let s = hub.settings.irc.clone();
    let version = env!("CARGO_PKG_VERSION");
    hub.numeric(
        id,
        "001",
        &[&format!("Welcome to the {} IRC network, {nick}", s.network)],
    );
    hub.numeric(
        id,
        "002",
        &[&format!(
            "Your host is {}, running msnbnc {version}",
            s.server_name
        )],
    );
    hub.numeric(id, "003", &["This server shares one MSN Messenger account"]);
    hub.numeric(
        id,
        "004",
        &[&s.server_name, &format!("msnbnc-{version}"), "io", "ntov"],
    );
    let mut isupport = vec![
        format!("NETWORK={}", s.network),
        "CASEMAPPING=ascii".to_owned(),
        "CHANTYPES=#&".to_owned(),
        format!("CHANLIMIT=#:{}", super::staff_channels::PER_USER),
        "PREFIX=(ov)@+".to_owned(),
        "CHANMODES=,,,nt".to_owned(),
        "STATUSMSG=@".to_owned(),
        "TARGMAX=PRIVMSG:1,NOTICE:1,TAGMSG:1".to_owned(),
        "NICKLEN=30".to_owned(),
        "CHANNELLEN=64".to_owned(),
        format!("NAMELEN={MAX_REALNAME}"),
        format!("MONITOR={}", super::irc_commands::monitor::LIMIT),
        format!("CHATHISTORY={}", crate::irc::chathistory::MAX_LIMIT),
        "MSGREFTYPES=msgid,timestamp".to_owned(),
    ];
    // Staff uploads, for the clients that know the convention — where the
    // password they send goes encrypted, or stays on this machine.
    let files = &hub.settings.files;
    let safe = files.public_url.starts_with("https://") || files.listen.is_some_and(|a| a.ip().is_loopback());
    if files.listen.is_some() && safe {
        isupport.push(format!("soju.im/FILEHOST={}/upload", files.public_url));
    }
    let mut params: Vec<&str> = isupport.iter().map(String::as_str).collect();
    params.push("are supported by this server");
    hub.numeric(id, "005", &params);
    hub.numeric(id, "375", &[&format!("- {} Message of the day -", s.server_name)]);
    for line in MOTD {
        hub.numeric(id, "372", &[&format!("- {line}")]);
    }
    hub.numeric(id, "376", &["End of /MOTD command"]);
}

/// The MSN status the account should show: online while anyone is
/// attached, the configured unattended status otherwise.
pub(super) fn sync_status(hub: &mut Hub) {
    let status = match hub.clients.is_empty() {
        true => hub.settings.irc.unattended_status,
        false => Status::Online,
    };
    hub.command(ipc::Command::SetStatus(status), None);
    account_status_is(hub, status);
}

/// The account's status changed: `&msn`'s topic says so.
pub(super) fn account_status_is(hub: &mut Hub, status: Status) {
    if hub.worker.account_status.replace(status) != Some(status) {
        roster_topic_changed(hub);
    }
}

/// Everyone sees `&msn`'s new topic (the worker's state, the status).
pub(super) fn roster_topic_changed(hub: &mut Hub) {
    let line = format!(":{} TOPIC {ROSTER} :{}", hub.server(), topic(hub, ROSTER));
    hub.broadcast(&line, None);
}

/// A JOIN as client `id` wants it: extended-join adds the account (`*`
/// for none) and the real name.
pub(super) fn join_line(
    hub: &Hub,
    id: ClientId,
    prefix: &str,
    channel: &str,
    account: &str,
    realname: &str,
) -> String {
    let extended = hub.clients.get(id).is_some_and(|c| c.has(Cap::ExtendedJoin));
    if extended {
        format!(":{prefix} JOIN {channel} {account} :{realname}")
    } else {
        format!(":{prefix} JOIN {channel}")
    }
}

pub(super) fn broadcast_join(
    hub: &mut Hub,
    prefix: &str,
    channel: &str,
    account: &str,
    realname: &str,
    except: Option<ClientId>,
) {
    for id in hub.clients.ids().into_iter().filter(|c| Some(*c) != except) {
        let line = join_line(hub, id, prefix, channel, account, realname);
        hub.send(id, line);
    }
}

/// A new staff member joins `&msn` and every conversation, as every
/// attached client (but `except`) sees it.
pub(super) fn member_joins(hub: &mut Hub, nick: &str, except: Option<ClientId>) {
    let (prefix, realname) = (hub.user_prefix(nick), hub.clients.realname(nick));
    let channels: Vec<String> = std::iter::once(ROSTER.to_owned())
        .chain(hub.conversations.iter().map(|c| c.channel.clone()))
        .collect();
    for channel in channels {
        broadcast_join(hub, &prefix, &channel, nick, &realname, except);
    }
}

/// away-notify: `nick` is away now (with why) or back, to every client
/// that asked to hear it but `except`.
pub(super) fn announce_away(hub: &mut Hub, nick: &str, except: Option<ClientId>) {
    let prefix = hub.user_prefix(nick);
    let line = match hub.clients.away_message(nick) {
        Some(why) => format!(":{prefix} AWAY :{why}"),
        None => format!(":{prefix} AWAY"),
    };
    for id in hub.clients.with(Cap::AwayNotify) {
        if Some(id) != except {
            hub.send(id, line.clone());
        }
    }
}

/// A channel joined by every attached client (a new conversation).
pub(super) fn everyone_joins(hub: &mut Hub, channel: &str) {
    for id in hub.clients.ids() {
        join_burst(hub, id, channel);
    }
}

/// JOIN, topic and names of `channel` for one client.
pub(super) fn join_burst(hub: &mut Hub, id: ClientId, channel: &str) {
    let Some(nick) = hub.clients.get(id).map(|c| c.nick.clone()) else {
        return;
    };
    let (prefix, realname) = (hub.user_prefix(&nick), hub.clients.realname(&nick));
    let join = join_line(hub, id, &prefix, channel, &nick, &realname);
    hub.send(id, join);
    hub.clients.joined(id, channel);
    // No topic: nothing (an empty 332 reads as a topic of "").
    let topic = topic(hub, channel);
    if !topic.is_empty() {
        hub.numeric(id, "332", &[channel, &topic]);
    }
    names(hub, id, channel);
    super::irc_commands::backlog::markread_after_join(hub, id, channel);
}

/// A channel's topic: the worker's state in the roster, who the customers
/// are and who answers in a conversation, whatever staff set in theirs.
pub(super) fn topic(hub: &Hub, channel: &str) -> String {
    if channel.eq_ignore_ascii_case(ROSTER) {
        return match hub.worker.account_status {
            Some(s) if hub.worker.signed_in() => {
                format!(
                    "MSN account: {} | {}",
                    hub.worker.shown(),
                    super::roster::status_words(s)
                )
            }
            _ => format!("MSN account: {}", hub.worker.shown()),
        };
    }
    if let Some(local) = hub.staff_channels.get(channel) {
        return local.topic.clone();
    }
    match hub
        .conversations
        .by_channel(channel)
        .and_then(|c| hub.conversations.get(c))
    {
        Some(c) => c.topic(&hub.roster, hub.now_ms()),
        None => String::new(),
    }
}

/// Everyone sees a conversation's new topic (once: the same text again
/// is not sent).
pub(super) fn topic_changed(hub: &mut Hub, conversation: i64) {
    let Some(name) = hub.conversations.get(conversation).map(|c| c.channel.clone()) else {
        return;
    };
    let text = topic(hub, &name);
    if let Some(c) = hub.conversations.get_mut(conversation) {
        if c.shown_topic == text {
            return;
        }
        c.shown_topic.clone_from(&text);
    }
    let line = format!(":{} TOPIC {name} :{text}", hub.server());
    hub.broadcast(&line, None);
}

/// The staff in a channel: a staff channel's members, otherwise the
/// whole team, attached or not (away while not).
pub(super) fn channel_staff(hub: &Hub, channel: &str) -> BTreeSet<String> {
    match hub.staff_channels.get(channel) {
        Some(local) => local.members.clone(),
        None => hub.clients.team(),
    }
}

/// The contacts in a channel: the online ones in `&msn`, the customers of
/// a conversation in its channel.
pub(super) fn channel_contacts(hub: &Hub, channel: &str) -> Vec<Contact> {
    if channel.eq_ignore_ascii_case(ROSTER) {
        return hub.roster.contacts().filter(|c| c.online()).cloned().collect();
    }
    let Some(c) = hub
        .conversations
        .by_channel(channel)
        .and_then(|c| hub.conversations.get(c))
    else {
        return Vec::new();
    };
    c.customers
        .iter()
        .filter_map(|h| hub.roster.contact(h))
        .cloned()
        .collect()
}

pub(super) fn names(hub: &mut Hub, id: ClientId, channel: &str) {
    // userhost-in-names: full nick!user@host entries.
    let full = hub.clients.get(id).is_some_and(|c| c.has(Cap::UserhostInNames));
    let mut names: Vec<String> = channel_staff(hub, channel)
        .iter()
        .map(|n| match full {
            true => format!("@{}", hub.user_prefix(n)),
            false => format!("@{n}"),
        })
        .collect();
    let voice = if channel.eq_ignore_ascii_case(ROSTER) {
        "+"
    } else {
        ""
    };
    names.extend(channel_contacts(hub, channel).iter().map(|c| {
        let name = if full { c.prefix() } else { c.nick.clone() };
        format!("{voice}{name}")
    }));
    // Keep each 353 well under 512 bytes, however long the entries are.
    let mut line = String::new();
    for name in names {
        if !line.is_empty() && line.len() + name.len() > 380 {
            let full = std::mem::take(&mut line);
            hub.numeric(id, "353", &["=", channel, &full]);
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&name);
    }
    if !line.is_empty() {
        hub.numeric(id, "353", &["=", channel, &line]);
    }
    hub.numeric(id, "366", &[channel, "End of /NAMES list"]);
}
