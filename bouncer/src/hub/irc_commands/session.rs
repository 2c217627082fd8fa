//! The connection itself: PING, QUIT, CAP after registration, NICK,
//! SETNAME, and attempts to register again.

use super::Ctx;
use crate::hub::welcome::MAX_REALNAME;
use crate::hub::Hub;
use crate::irc::cap::{self, Cap, Stage};
use crate::untrusted::short;

pub(super) fn ping(hub: &mut Hub, ctx: &Ctx<'_>) {
    let server = hub.server().to_owned();
    hub.send(ctx.id, format!(":{server} PONG {server} :{}", ctx.param(0)));
}

pub(super) fn quit(hub: &mut Hub, ctx: &Ctx<'_>) {
    // The last line to this client: straight to its writer, whatever
    // waits for the store (it would be dropped with the client).
    hub.clients.deliver(ctx.id, "ERROR :Closing link (Quit)".into());
    // Dropping its queue ends the writer, which closes the socket.
    hub.detach(ctx.id, "quit");
}

pub(super) fn cap(hub: &mut Hub, ctx: &Ctx<'_>) {
    let server = hub.server().to_owned();
    let Some(c) = hub.clients.get_mut(ctx.id) else {
        return;
    };
    let reply = cap::cap(&mut c.caps, &server, &ctx.nick, &ctx.params, Stage::Registered);
    for line in reply.lines {
        hub.send(ctx.id, line);
    }
}

pub(super) fn setname(hub: &mut Hub, ctx: &Ctx<'_>) {
    let real = ctx.param(0).trim();
    if real.is_empty() || real.len() > MAX_REALNAME {
        let server = hub.server().to_owned();
        hub.send(
            ctx.id,
            format!(":{server} FAIL SETNAME INVALID_REALNAME :A real name is 1 to {MAX_REALNAME} bytes"),
        );
        return;
    }
    let real = short(real);
    if let Some(u) = hub.clients.user_mut(&ctx.nick) {
        u.realname = real.clone();
    }
    let line = format!(":{} SETNAME :{real}", hub.user_prefix(&ctx.nick));
    hub.broadcast_to_cap(Cap::Setname, &[], &line);
}

/// A staff member's nick is their user name.
pub(super) fn nick(hub: &mut Hub, ctx: &Ctx<'_>) {
    let n = ctx.param(0);
    if n == ctx.nick {
        return;
    }
    let taken = hub.roster.contact_by_nick(n).is_some()
        || n.eq_ignore_ascii_case(crate::hub::service::NICK)
        || hub.clients.user_named(n).is_some();
    if taken {
        hub.numeric(ctx.id, "433", &[n, "Nickname is already in use"]);
    } else {
        hub.numeric(
            ctx.id,
            "447",
            &[n, "Your nick is your user name here; it cannot be changed"],
        );
    }
}

pub(super) fn reregister(hub: &mut Hub, ctx: &Ctx<'_>) {
    hub.numeric(ctx.id, "462", &["You may not reregister"]);
}

/// AWAY with a message marks the user away on every device, AWAY alone
/// back; colleagues hear it through away-notify, WHO and WHOIS.
pub(super) fn away(hub: &mut Hub, ctx: &Ctx<'_>) {
    let message = ctx
        .params
        .first()
        .map(|m| crate::untrusted::short(m))
        .filter(|m| !m.is_empty());
    let (code, text) = match message {
        Some(_) => ("306", "You have been marked as being away"),
        None => ("305", "You are no longer marked as being away"),
    };
    hub.clients.set_away(&ctx.nick, message);
    hub.numeric(ctx.id, code, &[text]);
    crate::hub::welcome::announce_away(hub, &ctx.nick, Some(ctx.id));
}
