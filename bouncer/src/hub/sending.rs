//! Staff text on its way to a customer: IRC formatting becomes MSN
//! formatting, `/me` becomes *action*, a signature says who answered.
//! The line is shown to all staff in the conversation's channel (stored
//! first) and handed to the outbox. Writing in a dormant channel, or to a
//! contact with no conversation, opens one with them.

use crate::irc::wire::client_tags;
use ipc::{ConversationTarget, TextFormat};

use super::canned::{StaffLine, Values};
use super::conversation::Link;
use super::irc_commands::Ctx;
use super::outbox::{self, StaffMessage};
use super::{msn_events, Hub, Shown};
use crate::irc::conn::ClientId;
use crate::irc::format::{action, describe, from_irc, FromIrc};
use crate::store::lines::Kind;

/// What the customer gets from a staff member's `text`: MSN text and
/// format, signed with `template` (`{nick}`, `{text}`; empty: unsigned).
pub(crate) fn for_customer(text: &str, nick: &str, template: &str) -> FromIrc {
    let mut msn = match action(text) {
        Some(act) => FromIrc {
            text: format!("*{}*", from_irc(act).text),
            format: TextFormat::default(),
            partial: false,
        },
        None => from_irc(text),
    };
    if !template.is_empty() && !msn.text.trim().is_empty() {
        msn.text = template.replace("{nick}", nick).replace("{text}", &msn.text);
    }
    msn
}

/// The signature `nick` signs with: their own, else the global one.
fn signature(hub: &Hub, nick: &str) -> String {
    match hub.clients.users().get(nick).and_then(|u| u.signature.clone()) {
        Some(own) => own,
        None => hub.settings.irc.signature.clone(),
    }
}

/// A message in a conversation channel (live or dormant).
pub(super) fn in_conversation(hub: &mut Hub, ctx: &Ctx<'_>, id: i64, except: Option<ClientId>) {
    let msn = for_customer(ctx.param(1), &ctx.nick, &signature(hub, &ctx.nick));
    if msn.text.trim().is_empty() && ctx.cmd == "PRIVMSG" {
        hub.numeric(ctx.id, "412", &["No text to send"]);
        return;
    }
    let Some(c) = hub.conversations.get_mut(id) else {
        return;
    };
    let only = c.only_customer().map(str::to_owned);
    let to = match (c.link, only) {
        (Link::Live(w), _) => {
            c.last_activity = std::time::Instant::now();
            ConversationTarget::Existing(w)
        }
        // A dormant channel: writing re-opens the conversation.
        (Link::Dormant { .. }, Some(handle)) => ConversationTarget::Contact(customer_handle(hub, &handle)),
        (Link::Dormant { .. }, None) => {
            let channel = c.channel.clone();
            hub.numeric(
                ctx.id,
                "404",
                &[
                    &channel,
                    "This group conversation has ended; /msg one of its members",
                ],
            );
            return;
        }
    };
    deliver(hub, ctx, id, to, except);
}

/// The handle as MSN spells it (the record keeps it lower-cased).
fn customer_handle(hub: &Hub, key: &str) -> String {
    hub.roster
        .contact(key)
        .map_or_else(|| key.to_owned(), |c| c.handle.clone())
}

/// `/msg bob …`: lands in bob's conversation (live or dormant), for
/// everyone; with none, a channel opens for it at once.
pub(super) fn to_contact(hub: &mut Hub, ctx: &Ctx<'_>, handle: &str) {
    let id = match hub.conversations.with_customer(handle) {
        Some(id) => id,
        None => {
            let Some(contact) = hub.roster.contact(handle).cloned() else {
                return;
            };
            let (id, wanted) = match hub.roster.last_conversation(handle) {
                Some((id, channel)) => (id, Some(channel)),
                None => (hub.conversations.allocate_id(), None),
            };
            let link = Link::Dormant { suspended: false };
            msn_events::open(hub, id, &contact, wanted.as_deref(), link);
            id
        }
    };
    let to = match hub.conversations.get(id).and_then(|c| c.worker_id()) {
        Some(w) => ConversationTarget::Existing(w),
        None => ConversationTarget::Contact(customer_handle(hub, handle)),
    };
    deliver(hub, ctx, id, to, None);
}

/// The line as it goes to the customer: a canned reply (`!name`)
/// expanded — shown to its sender too, who did not see it typed — or the
/// line itself. `None`: it named no reply; the sender is told, the
/// customer gets nothing.
fn staff_text(hub: &mut Hub, ctx: &Ctx<'_>, id: i64) -> Option<(String, bool)> {
    let typed = ctx.param(1);
    if ctx.cmd != "PRIVMSG" || !typed.starts_with('!') {
        return Some((typed.to_owned(), false));
    }
    let customer = hub
        .conversations
        .get(id)
        .and_then(|c| c.customers.first())
        .and_then(|h| hub.roster.contact(h))
        .map_or_else(String::new, |c| c.friendly_name.clone());
    let agent = hub
        .clients
        .users()
        .get(&ctx.nick)
        .map_or_else(|| ctx.nick.clone(), |u| u.realname.clone());
    let values = Values {
        customer: &customer,
        nick: &ctx.nick,
        agent: &agent,
    };
    match hub.canned.expand(typed, &values) {
        StaffLine::Plain(text) => Some((text, false)),
        StaffLine::Expanded(text) => Some((text, true)),
        StaffLine::Unknown(name) => {
            let server = hub.server().to_owned();
            let line = format!(
                ":{server} NOTICE {} :no canned reply {name:?}; nothing was sent (/msg *msn canned lists them; !!text sends !text)",
                ctx.nick
            );
            hub.send(ctx.id, line);
            None
        }
    }
}

/// Shows the staff line in the conversation's channel and, for PRIVMSG,
/// sends it to the customer through the outbox.
fn deliver(hub: &mut Hub, ctx: &Ctx<'_>, id: i64, to: ConversationTarget, except: Option<ClientId>) {
    let Some((text, expanded)) = staff_text(hub, ctx, id) else {
        return;
    };
    let except = if expanded { None } else { except };
    let Some(c) = hub.conversations.get(id) else {
        return;
    };
    let _span = tracing::debug_span!("conversation", conv = c.worker_id(), record = id).entered();
    let channel = c.channel.clone();
    // Whom a retry goes to: the conversation's (first) customer.
    let first = c.customers.first().cloned().unwrap_or_default();
    let handle = customer_handle(hub, &first);
    let (text, source) = (text.as_str(), hub.user_prefix(&ctx.nick));
    // A lone link to a file uploaded here sends the file; one that cannot
    // be sent is not shown as if it had been.
    let file = ctx.cmd == "PRIVMSG" && super::file_sending::is_our_file(hub, text);
    if let (true, Err(why)) = (file, super::file_sending::sendable(hub, id, text)) {
        let server = hub.server().to_owned();
        hub.send(
            ctx.id,
            format!(":{server} NOTICE {channel} :{why}; nothing was sent"),
        );
        return;
    }
    let shown = Shown {
        kind: Kind::Staff,
        sender: &ctx.nick,
        source: &source,
        command: super::irc_commands::command_of(&ctx.cmd),
        target: &channel,
        text,
        account: Some(&ctx.nick),
        client_tags: &client_tags(ctx.message),
    };
    let row = hub.show(shown, except);
    if ctx.cmd != "PRIVMSG" {
        return;
    }
    super::desk_state::staff_answered(hub, id, &ctx.nick);
    if file {
        if let Err(why) = super::file_sending::offer(hub, id, to, &ctx.nick, text) {
            let server = hub.server().to_owned();
            hub.send(
                ctx.id,
                format!(":{server} NOTICE {channel} :{why}; nothing was sent"),
            );
        }
        return;
    }
    let msn = for_customer(text, &ctx.nick, &signature(hub, &ctx.nick));
    if msn.partial {
        let server = hub.server().to_owned();
        // In the channel, where they typed — for them alone.
        let line = format!(
            ":{server} NOTICE {channel} :MSN formats a message as a whole, so {handle} sees all of it {} (formatting part of a line is not possible there)",
            describe(&msn.format)
        );
        hub.send(ctx.id, line);
    }
    let message = StaffMessage {
        row,
        conversation: Some(id),
        channel,
        handle,
        body: msn.text,
        format: msn.format,
        created_ms: crate::store::now_ms(),
        from: ctx.nick.clone(),
        text: text.to_owned(),
    };
    outbox::send(hub, message, to);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customers_get_msn_formatting_actions_and_signatures() {
        let msn = for_customer("\x02hello\x02 there", "alice", "");
        assert_eq!(msn.text, "hello there");
        assert!(msn.format.bold && msn.partial);
        assert_eq!(
            for_customer("\x01ACTION waves\x01", "alice", "[{nick}] {text}").text,
            "[alice] *waves*"
        );
        assert_eq!(
            for_customer("\x02\x02", "alice", "[{nick}] {text}").text,
            "",
            "nothing to sign"
        );
    }
}
