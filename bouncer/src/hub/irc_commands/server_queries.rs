//! What clients and bots ask a server about itself and its people:
//! LIST, USERHOST, LUSERS, TIME and WHOWAS, answered as any IRC server
//! would, over msnbnc's channels, staff and contacts.

use super::Ctx;
use crate::hub::roster::ROSTER;
use crate::hub::welcome::{channel_contacts, channel_staff, topic};
use crate::hub::Hub;

/// Every channel a staff member can see: `&msn`, the conversations and
/// the staff channels, with how many are in each and the topic.
pub(super) fn list(hub: &mut Hub, ctx: &Ctx<'_>) {
    let mut channels: Vec<String> = vec![ROSTER.to_owned()];
    channels.extend(hub.conversations.iter().map(|c| c.channel.clone()));
    channels.extend(hub.staff_channels.all().map(|c| c.name.clone()));
    // `LIST #bob,#carol` lists only those.
    if let Some(wanted) = ctx.params.first().filter(|w| !w.is_empty()) {
        let wanted: Vec<&str> = wanted.split(',').collect();
        channels.retain(|c| wanted.iter().any(|w| w.eq_ignore_ascii_case(c)));
    }
    hub.numeric(ctx.id, "321", &["Channel", "Users  Name"]);
    for channel in channels {
        let users = channel_staff(hub, &channel).len() + channel_contacts(hub, &channel).len();
        let topic = topic(hub, &channel);
        hub.numeric(ctx.id, "322", &[&channel, &users.to_string(), &topic]);
    }
    hub.numeric(ctx.id, "323", &["End of /LIST"]);
}

/// `USERHOST nick …` (up to five): `nick=+user@host`, `-` when away.
pub(super) fn userhost(hub: &mut Hub, ctx: &Ctx<'_>) {
    let server = hub.server().to_owned();
    let found: Vec<String> = ctx
        .params
        .iter()
        .take(5)
        .filter_map(|nick| {
            if let Some(c) = hub.roster.contact_by_nick(nick) {
                let (user, host) = c.handle.split_once('@').unwrap_or((&c.handle, "msn"));
                let here = if c.away().is_some() { '-' } else { '+' };
                return Some(format!("{}={here}{user}@{host}", c.nick));
            }
            let n = hub.clients.member_named(nick)?;
            let here = if hub.clients.away_message(&n).is_some() {
                '-'
            } else {
                '+'
            };
            Some(format!("{n}={here}{n}@{server}"))
        })
        .collect();
    hub.numeric(ctx.id, "302", &[&found.join(" ")]);
}

/// How many are here: staff attached, contacts online, channels.
pub(super) fn lusers(hub: &mut Hub, ctx: &Ctx<'_>) {
    let staff = hub.clients.users().len();
    let contacts = hub.roster.contacts().filter(|c| c.online()).count();
    let channels = 1 + hub.conversations.iter().count() + hub.staff_channels.all().count();
    let users = format!(
        "There are {} users and 0 invisible on 1 servers",
        staff + contacts
    );
    hub.numeric(ctx.id, "251", &[&users]);
    hub.numeric(ctx.id, "254", &[&channels.to_string(), "channels formed"]);
    let clients = format!("I have {} clients and 0 servers", hub.clients.ids().len());
    hub.numeric(ctx.id, "255", &[&clients]);
}

/// The server's time, in UTC.
pub(super) fn time(hub: &mut Hub, ctx: &Ctx<'_>) {
    let server = hub.server().to_owned();
    let now = jiff::Timestamp::now()
        .strftime("%A %B %d %Y -- %H:%M:%S UTC")
        .to_string();
    hub.numeric(ctx.id, "391", &[&server, &now]);
}

/// Nobody's past nick is kept: no such nickname, and the end.
pub(super) fn whowas(hub: &mut Hub, ctx: &Ctx<'_>) {
    let nick = ctx.param(0);
    hub.numeric(ctx.id, "406", &[nick, "There was no such nickname"]);
    hub.numeric(ctx.id, "369", &[nick, "End of WHOWAS"]);
}
