//! WHO and WHOIS, for staff and contacts alike: H or G (here or away),
//! so clients show contacts' away states, and real names.

use super::Ctx;
use crate::hub::roster::{Contact, ROSTER};
use crate::hub::welcome::{channel_contacts, channel_staff};
use crate::hub::Hub;
use crate::untrusted::short;

/// One 352 row: nick, user, host, flags, real name.
type WhoRow = (String, String, String, String, String);

fn staff_row(hub: &Hub, nick: &str) -> WhoRow {
    let flag = match hub.clients.away_message(nick) {
        Some(_) => "G@",
        None => "H@",
    };
    (
        nick.to_owned(),
        nick.to_owned(),
        hub.server().to_owned(),
        flag.to_owned(),
        hub.clients.realname(nick),
    )
}

fn contact_row(c: &Contact, prefix: &str) -> WhoRow {
    let (user, host) = c.handle.split_once('@').unwrap_or((&c.handle, "msn"));
    let flag = if c.away().is_some() { "G" } else { "H" };
    (
        c.nick.clone(),
        user.to_owned(),
        host.to_owned(),
        format!("{flag}{prefix}"),
        short(&c.realname()),
    )
}

/// WHO for a channel or a nick: one 352 per person.
pub(super) fn who(hub: &mut Hub, ctx: &Ctx<'_>) {
    let mask = ctx.param(0);
    let server = hub.server().to_owned();
    let mut rows: Vec<WhoRow> = Vec::new();
    let is_channel = mask.starts_with(['#', '&']);
    if is_channel {
        rows.extend(channel_staff(hub, mask).iter().map(|n| staff_row(hub, n)));
        let voice = if mask.eq_ignore_ascii_case(ROSTER) {
            "+"
        } else {
            ""
        };
        rows.extend(channel_contacts(hub, mask).iter().map(|c| contact_row(c, voice)));
    } else if mask.contains(['*', '?']) || mask.is_empty() {
        // A mask: everyone whose nick matches (`WHO *` for all).
        let pattern = if mask.is_empty() { "*" } else { mask };
        let staff: Vec<String> = hub
            .clients
            .team()
            .into_iter()
            .filter(|n| glob(pattern, n))
            .collect();
        rows.extend(staff.iter().map(|n| staff_row(hub, n)));
        rows.extend(
            hub.roster
                .contacts()
                .filter(|c| glob(pattern, &c.nick))
                .map(|c| contact_row(c, "")),
        );
    } else if let Some(c) = hub.roster.contact_by_nick(mask) {
        rows.push(contact_row(c, ""));
    } else if let Some(n) = hub.clients.member_named(mask) {
        rows.push(staff_row(hub, &n));
    }
    let channel = if is_channel { mask } else { "*" };
    for (nick, user, host, flags, real) in rows {
        let hop_real = format!("0 {real}");
        hub.numeric(
            ctx.id,
            "352",
            &[channel, &user, &host, &server, &nick, &flags, &hop_real],
        );
    }
    hub.numeric(ctx.id, "315", &[mask, "End of /WHO list"]);
}

pub(super) fn whois(hub: &mut Hub, ctx: &Ctx<'_>) {
    let target = ctx.params.last().map_or("", String::as_str);
    let server = hub.server().to_owned();
    if let Some(c) = hub.roster.contact_by_nick(target).cloned() {
        let (user, host) = c.handle.split_once('@').unwrap_or((&c.handle, "msn"));
        let real = match c.personal_message.as_str() {
            "" => format!("{} <{}>", short(&c.friendly_name), c.handle),
            psm => format!("{} <{}>: \"{}\"", short(&c.friendly_name), c.handle, short(psm)),
        };
        hub.numeric(ctx.id, "311", &[&c.nick, user, host, "*", &real]);
        let what = format!("MSN contact, {}", crate::hub::roster::status_words(c.status));
        hub.numeric(ctx.id, "312", &[&c.nick, &server, &what]);
        if let Some(away) = c.away() {
            hub.numeric(ctx.id, "301", &[&c.nick, &away]);
        }
    } else if let Some(n) = hub.clients.member_named(target) {
        let devices = hub.clients.devices_of(&n).len();
        let real = hub.clients.realname(&n);
        hub.numeric(ctx.id, "311", &[&n, &n, &server, "*", &real]);
        let what = format!(
            "msnbnc staff, {devices} device{} attached",
            if devices == 1 { "" } else { "s" }
        );
        hub.numeric(ctx.id, "312", &[&n, &server, &what]);
        if let Some(away) = hub.clients.away_message(&n) {
            hub.numeric(ctx.id, "301", &[&n, &away]);
        }
        hub.numeric(ctx.id, "330", &[&n, &n, "is logged in as"]);
    } else {
        hub.numeric(ctx.id, "401", &[target, "No such nick/channel"]);
    }
    hub.numeric(ctx.id, "318", &[target, "End of /WHOIS list"]);
}

/// IRC's mask matching, case-insensitive: `*` any run, `?` one character.
fn glob(pattern: &str, name: &str) -> bool {
    let (p, n): (Vec<char>, Vec<char>) = (
        pattern.to_ascii_lowercase().chars().collect(),
        name.to_ascii_lowercase().chars().collect(),
    );
    // The classic two-pointer walk, remembering the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < n.len() {
        if i < p.len() && (p[i] == '?' || p[i] == n[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob;

    #[test]
    fn masks_match_like_irc_servers_do() {
        assert!(glob("*", "alice"));
        assert!(glob("a*", "Alice"));
        assert!(glob("*li?e", "alice"));
        assert!(!glob("b*", "alice"));
        assert!(glob("a*e*", "alicee"));
        assert!(!glob("a?", "abc"));
    }
}
