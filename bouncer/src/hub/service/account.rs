//! `*msn` for the MSN account and the worker: contacts and the contact
//! list, status, name and personal message, a nudge, who is attached,
//! the worker's state, restart and resume, the version.

use ipc::{Command, ConversationTarget};

use super::{notice, Args, Asker};
use crate::config::parse_status;
use crate::hub::{Hub, Waiting};
use crate::supervisor::Control;

/// A command for the worker; its result is the answer.
fn msn(hub: &mut Hub, asker: &Asker, command: Command, what: String) -> Result<(), String> {
    let waiting = Waiting::Service {
        client: asker.client,
        what,
    };
    hub.command(command, Some(waiting));
    Ok(())
}

pub(super) fn contacts(hub: &mut Hub, asker: &Asker, _: &Args<'_>) -> Result<(), String> {
    let lines: Vec<String> = hub
        .roster
        .contacts()
        .map(|c| {
            let status = crate::hub::roster::status_words(c.status);
            format!("{} <{}> {status}: {}", c.nick, c.handle, c.friendly_name)
        })
        .collect();
    if lines.is_empty() {
        notice(hub, asker.client, "no contacts (yet)");
    }
    for l in lines {
        notice(hub, asker.client, &l);
    }
    Ok(())
}

/// A command about one contact, the first argument (`add bob@…`).
fn about_contact(
    hub: &mut Hub,
    asker: &Asker,
    args: &Args<'_>,
    (command, verb): (fn(String) -> Command, &str),
) -> Result<(), String> {
    let handle = args.word(0);
    msn(hub, asker, command(handle.into()), format!("{verb} {handle}"))
}

pub(super) fn add(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    about_contact(hub, asker, args, (Command::AddContact, "add"))
}

pub(super) fn remove(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    about_contact(hub, asker, args, (Command::RemoveContact, "remove"))
}

pub(super) fn block(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    about_contact(hub, asker, args, (Command::BlockContact, "block"))
}

pub(super) fn unblock(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    about_contact(hub, asker, args, (Command::UnblockContact, "unblock"))
}

pub(super) fn accept(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    about_contact(hub, asker, args, (Command::AcceptAddRequest, "accept"))
}

/// The conversation `channel` names: its record, channel and how the
/// worker reaches its customer (a dormant one through its only
/// customer). `Err` is what to tell the asker; `what` is what they tried.
pub(super) fn customer_of(
    hub: &Hub,
    channel: &str,
    what: &str,
) -> Result<(i64, String, ConversationTarget), String> {
    let id = hub
        .conversations
        .by_channel(channel)
        .ok_or_else(|| format!("no conversation {channel}"))?;
    let c = hub
        .conversations
        .get(id)
        .ok_or_else(|| format!("no conversation {channel}"))?;
    let (channel, only) = (c.channel.clone(), c.only_customer().map(str::to_owned));
    let to = match (c.worker_id(), &only) {
        (Some(w), _) => ConversationTarget::Existing(w),
        (None, Some(handle)) => {
            let handle = hub
                .roster
                .contact(handle)
                .map_or_else(|| handle.clone(), |c| c.handle.clone());
            ConversationTarget::Contact(handle)
        }
        (None, None) => {
            return Err(format!(
                "{channel} has ended; {what} one of its customers in their own conversation"
            ))
        }
    };
    Ok((id, channel, to))
}

/// Nudge a conversation's customer (their window shakes); every staff
/// member sees who did, and history keeps it.
pub(super) fn nudge(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let (_, channel, to) = match customer_of(hub, args.word(0), "nudge") {
        Ok(found) => found,
        Err(why) => {
            notice(hub, asker.client, &why);
            return Ok(());
        }
    };
    msn(hub, asker, Command::SendNudge { to }, format!("nudge {channel}"))?;
    let source = hub.user_prefix(&asker.nick);
    let shown = crate::hub::Shown {
        kind: crate::store::lines::Kind::Staff,
        sender: &asker.nick,
        source: &source,
        command: "PRIVMSG",
        target: &channel,
        text: "\x01ACTION sent a nudge\x01",
        account: Some(&asker.nick),
        client_tags: &[],
    };
    hub.show(shown, None);
    Ok(())
}

/// The places signed in to the account (MSNP16+ keeps several).
pub(super) fn endpoints(hub: &mut Hub, asker: &Asker, _: &Args<'_>) -> Result<(), String> {
    let lines = match (hub.worker.signed_in(), hub.worker.protocol) {
        (false, _) => vec!["not signed in to MSN".to_owned()],
        (true, p) if p < 16 => vec![format!(
            "MSNP{p} allows one place per account: a login elsewhere signs msnbnc out (msn.protocol_max = 16 or more keeps both)"
        )],
        (true, _) => {
            let mut lines = vec![format!("{} place(s) signed in to the account:", hub.worker.places.len().max(1))];
            for p in &hub.worker.places {
                let whose = if p.ours { " (msnbnc, this worker)" } else { "" };
                lines.push(format!("{}{whose}", crate::hub::places::place_name(p)));
            }
            if hub.worker.places.is_empty() {
                lines.push("msnbnc only (the server named no places)".to_owned());
            }
            lines
        }
    };
    for l in lines {
        notice(hub, asker.client, &l);
    }
    Ok(())
}

pub(super) fn status(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let wanted = args.from(0).trim();
    let status = parse_status(wanted).ok_or_else(String::new)?;
    msn(hub, asker, Command::SetStatus(status), format!("status {wanted}"))?;
    crate::hub::welcome::account_status_is(hub, status);
    Ok(())
}

pub(super) fn name(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let name = args.from(0).trim();
    msn(
        hub,
        asker,
        Command::SetFriendlyName(name.into()),
        format!("name {name:?}"),
    )
}

pub(super) fn psm(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let text = args.from(0).trim();
    msn(
        hub,
        asker,
        Command::SetPersonalMessage(text.into()),
        format!("personal message {text:?}"),
    )
}

pub(super) fn who(hub: &mut Hub, asker: &Asker, _: &Args<'_>) -> Result<(), String> {
    let who: Vec<String> = hub
        .clients
        .users()
        .keys()
        .map(|n| {
            let d = hub.clients.devices_of(n).len();
            format!("{n} ({d} device{})", if d == 1 { "" } else { "s" })
        })
        .collect();
    notice(hub, asker.client, &format!("attached: {}", who.join(", ")));
    Ok(())
}

pub(super) fn worker(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    if !args.is_empty() {
        return Err(String::new());
    }
    let described = hub
        .worker
        .described(&hub.settings.irc.time_zone, std::time::Instant::now());
    notice(hub, asker.client, &format!("MSN worker: {described}"));
    Ok(())
}

fn control(hub: &mut Hub, asker: &Asker, control: Control, what: &str) -> Result<(), String> {
    let answer = match hub.worker.control(control) {
        true => what,
        false => "the supervisor is busy; try again",
    };
    notice(hub, asker.client, answer);
    Ok(())
}

pub(super) fn worker_restart(hub: &mut Hub, asker: &Asker, _: &Args<'_>) -> Result<(), String> {
    control(hub, asker, Control::Restart, "restarting the MSN worker")
}

pub(super) fn worker_resume(hub: &mut Hub, asker: &Asker, _: &Args<'_>) -> Result<(), String> {
    control(hub, asker, Control::Resume, "resuming the MSN worker")
}

pub(super) fn version(hub: &mut Hub, asker: &Asker, _: &Args<'_>) -> Result<(), String> {
    notice(
        hub,
        asker.client,
        &format!("msnbnc {}", env!("CARGO_PKG_VERSION")),
    );
    Ok(())
}
