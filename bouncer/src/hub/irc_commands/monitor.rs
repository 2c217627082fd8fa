//! MONITOR (IRCv3): a client names the nicks it wants to hear about —
//! customers and colleagues — and is told at once, and whenever that
//! changes, whether each is online (730) or not (731). A customer is
//! online when MSN says so, a colleague while a device of theirs is
//! attached.

use super::Ctx;
use crate::hub::Hub;
use crate::irc::conn::ClientId;

/// Nicks one client may monitor (ISUPPORT `MONITOR=`).
pub(crate) const LIMIT: usize = 100;

/// `nick!user@host` of whoever is online under `nick`.
fn online(hub: &Hub, nick: &str) -> Option<String> {
    if let Some(c) = hub.roster.contact_by_nick(nick).filter(|c| c.online()) {
        return Some(c.prefix());
    }
    let n = hub.clients.member_named(nick)?;
    (!hub.clients.devices_of(&n).is_empty()).then(|| hub.user_prefix(&n))
}

/// 730 for those of `nicks` online, 731 for the others, to `id`.
fn tell(hub: &mut Hub, id: ClientId, nicks: &[String]) {
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for n in nicks {
        match online(hub, n) {
            Some(prefix) => on.push(prefix),
            None => off.push(n.clone()),
        }
    }
    if !on.is_empty() {
        hub.numeric(id, "730", &[&on.join(",")]);
    }
    if !off.is_empty() {
        hub.numeric(id, "731", &[&off.join(",")]);
    }
}

pub(super) fn monitor(hub: &mut Hub, ctx: &Ctx<'_>) {
    let targets: Vec<String> = ctx
        .param(1)
        .split(',')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    match ctx.param(0) {
        "+" => {
            let added = hub.clients.monitor_add(ctx.id, &targets, LIMIT);
            if added.len() < targets.len() {
                let rest = targets[added.len()..].join(",");
                hub.numeric(
                    ctx.id,
                    "734",
                    &[&LIMIT.to_string(), &rest, "Monitor list is full."],
                );
            }
            tell(hub, ctx.id, &added);
        }
        "-" => hub.clients.monitor_remove(ctx.id, &targets),
        "C" | "c" => hub.clients.monitor_clear(ctx.id),
        "L" | "l" => {
            let list = hub.clients.monitored(ctx.id);
            if !list.is_empty() {
                hub.numeric(ctx.id, "732", &[&list.join(",")]);
            }
            hub.numeric(ctx.id, "733", &["End of MONITOR list"]);
        }
        "S" | "s" => {
            let list = hub.clients.monitored(ctx.id);
            tell(hub, ctx.id, &list);
        }
        other => hub.numeric(
            ctx.id,
            "421",
            &[&format!("MONITOR {other}"), "Unknown MONITOR subcommand"],
        ),
    }
}

/// `nick` came online (or went offline): every client monitoring it hears.
pub(crate) fn changed(hub: &mut Hub, nick: &str) {
    for id in hub.clients.monitoring(nick) {
        tell(hub, id, &[nick.to_owned()]);
    }
}
