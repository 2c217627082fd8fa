//! History on request: `CHATHISTORY` (draft/chathistory) and read
//! markers (`MARKREAD`, draft/read-marker). The store answers on its own
//! threads; the reply (labelled, if the command was) follows when it does.

use super::{finish_label, later_reply, resume_reply, Ctx};
use crate::hub::roster::ROSTER;
use crate::hub::Hub;
use crate::irc::cap::Cap;
use crate::irc::chathistory::{self, Fail, Query, Ref};
use crate::irc::conn::ClientId;
use crate::irc::replay::{format_line_into, Stamps, Style};
use crate::irc::tags::{parse_timestamp, timestamp_ms as stamp};
use crate::store::lines::{Anchor, Line};
use crate::store::positions::MarkerPlace;
use crate::store::{Store, StoreError};

pub(crate) fn chathistory(hub: &mut Hub, ctx: &Ctx<'_>) {
    let server = hub.server().to_owned();
    let query = match chathistory::parse(&ctx.params) {
        Ok(q) => q,
        Err(f) => return hub.send(ctx.id, f.line(&server)),
    };
    let sub = ctx.param(0).to_ascii_uppercase();
    let (id, label) = (ctx.id, later_reply(hub));
    if let Query::Targets {
        from_ms,
        to_ms,
        limit,
    } = query
    {
        hub.read(
            move |s| s.targets(from_ms, to_ms, limit),
            move |hub, found| {
                resume_reply(hub, label);
                match found {
                    Ok(targets) => send_targets(hub, id, &targets),
                    Err(e) => hub.send(id, Fail::message_error(&sub, "*", &e.to_string()).line(&server)),
                }
                finish_label(hub);
            },
        );
        return;
    }
    let target = query.target().to_owned();
    let known = hub.conversations.by_channel(&target);
    hub.read(
        move |s| answer(s, known, &query, &sub),
        move |hub, found| {
            resume_reply(hub, label);
            match found {
                Ok(lines) => send_batch(hub, id, &target, &lines),
                Err(f) => hub.send(id, f.line(&server)),
            }
            finish_label(hub);
        },
    );
}

/// The lines a query asks for, from the store (`known`: the conversation
/// the hub shows under the target's name, if any).
pub(crate) fn answer(s: &Store, known: Option<i64>, query: &Query, sub: &str) -> Result<Vec<Line>, Fail> {
    let target = query.target();
    let store_err = |e: StoreError| Fail::message_error(sub, target, &e.to_string());
    let conversation = match known {
        Some(c) => c,
        None => s
            .conversation_named(target)
            .map_err(store_err)?
            .map(|c| c.id)
            .ok_or_else(|| Fail::invalid_target(sub, target, "no history for that target"))?,
    };
    // A msgid must belong to this conversation.
    let anchor = |r: &Ref| -> Result<Anchor, Fail> {
        match r {
            Ref::Time(t) => Ok(Anchor::Time(*t)),
            Ref::MsgId(m) => match s.find_msgid(m).map_err(store_err)? {
                Some((row, c)) if c == conversation => Ok(Anchor::Message(row)),
                _ => Err(Fail::invalid_params(
                    sub,
                    &format!("unknown msgid {m} in {target}"),
                )),
            },
        }
    };
    match query {
        Query::Before { at, limit, .. } => s.before(conversation, Some(anchor(at)?), *limit),
        Query::After { at, limit, .. } => s.after(conversation, anchor(at)?, *limit),
        Query::Latest { since, limit, .. } => {
            let since = since.as_ref().map(anchor).transpose()?;
            s.latest(conversation, since, *limit)
        }
        Query::Between { from, to, limit, .. } => s.between(conversation, anchor(from)?, anchor(to)?, *limit),
        Query::Around { at, limit, .. } => s.around(conversation, anchor(at)?, *limit),
        Query::Targets { .. } => Ok(Vec::new()),
    }
    .map_err(store_err)
}

fn send_targets(hub: &mut Hub, id: ClientId, targets: &[(String, i64)]) {
    let server = hub.server().to_owned();
    let reference = hub.out.batch_ids().fresh();
    hub.push(
        id,
        format!(":{server} BATCH +{reference} draft/chathistory-targets").into(),
    );
    for (channel, last) in targets {
        let line = format!(
            "@batch={reference} :{server} CHATHISTORY TARGETS {channel} {}",
            stamp(*last)
        );
        hub.push(id, line.into());
    }
    hub.push(id, format!(":{server} BATCH -{reference}").into());
}

/// A `chathistory` batch, even when empty (so the client stops waiting).
fn send_batch(hub: &mut Hub, id: ClientId, target: &str, lines: &[Line]) {
    let has_batch = hub.clients.get(id).is_some_and(|c| c.has(Cap::Batch));
    if has_batch && lines.is_empty() {
        let server = hub.server().to_owned();
        let reference = hub.out.batch_ids().fresh();
        hub.push(
            id,
            format!(":{server} BATCH +{reference} chathistory {target}").into(),
        );
        hub.push(id, format!(":{server} BATCH -{reference}").into());
        return;
    }
    send_history(hub, id, target, lines);
}

/// Stored lines to one client: a `chathistory` batch with their original
/// times and msgids where it speaks batch and server-time, else plain
/// lines with a short time in front.
fn send_history(hub: &mut Hub, id: ClientId, target: &str, lines: &[Line]) {
    let Some(c) = hub.clients.get(id) else { return };
    let style = Style::of(c.caps);
    // One set of stamps for all the lines: the date is made once a day.
    let mut stamps = Stamps::new(hub.settings.irc.time_zone.clone());
    let mut each = |hub: &mut Hub, reference: Option<&str>| {
        for l in lines {
            let mut out = String::with_capacity(l.text.len() + 128);
            format_line_into(&mut out, &mut stamps, (l, target), style, reference);
            hub.push(id, out.into());
        }
    };
    if !style.batched {
        return each(hub, None);
    }
    let server = hub.server().to_owned();
    let reference = hub.out.batch_ids().fresh();
    hub.push(
        id,
        format!(":{server} BATCH +{reference} chathistory {target}").into(),
    );
    each(hub, Some(&reference));
    hub.push(id, format!(":{server} BATCH -{reference}").into());
}

fn markread_line(server: &str, target: &str, marker: Option<i64>) -> String {
    let value = marker.map_or("*".to_owned(), |ms| format!("timestamp={}", stamp(ms)));
    format!(":{server} MARKREAD {target} {value}")
}

/// The conversation behind a name: the one shown under it, else the
/// newest stored under it.
fn conversation_of(s: &Store, known: Option<i64>, target: &str) -> Result<Option<i64>, StoreError> {
    match known {
        Some(c) => Ok(Some(c)),
        None => Ok(s.conversation_named(target)?.map(|c| c.id)),
    }
}

/// `MARKREAD <target> [timestamp=…]`: set (forward only) or ask.
pub(crate) fn markread(hub: &mut Hub, ctx: &Ctx<'_>) {
    let server = hub.server().to_owned();
    let fail = move |code: &str, text: &str| format!(":{server} FAIL MARKREAD {code} :{text}");
    let Some(target) = ctx.params.first().cloned() else {
        return hub.send(
            ctx.id,
            fail("NEED_MORE_PARAMS", "MARKREAD <target> [timestamp=…]"),
        );
    };
    let (id, nick, known) = (ctx.id, ctx.nick.clone(), hub.conversations.by_channel(&target));
    // `&msn` and staff channels have markers too, by name.
    let named = (target.eq_ignore_ascii_case(ROSTER) || hub.staff_channels.is_member(&target, &ctx.nick))
        .then(|| MarkerPlace::Channel(target.to_ascii_lowercase()));
    let server = hub.server().to_owned();
    let set = match ctx.params.get(1) {
        None => None,
        Some(t) => match t.strip_prefix("timestamp=").and_then(parse_timestamp) {
            Some(ms) => Some(ms),
            None => {
                let usage = "MARKREAD <target> timestamp=YYYY-MM-DDThh:mm:ss.sssZ";
                return hub.send(id, fail("INVALID_PARAMS", usage));
            }
        },
    };
    // Set or read on the writer, in order with the history it refers to.
    let job = move |s: &mut Store| -> Result<Option<Option<i64>>, StoreError> {
        let place = match named {
            Some(place) => place,
            None => match conversation_of(s, known, &target)? {
                Some(c) => MarkerPlace::Conversation(c),
                None => return Ok(None),
            },
        };
        match set {
            Some(ms) => s.set_marker_at(&nick, &place, ms).map(|m| Some(Some(m))),
            None => s.marker_at(&nick, &place).map(Some),
        }
    };
    let target = ctx.param(0).to_owned();
    let (nick, label) = (ctx.nick.clone(), later_reply(hub));
    hub.write(job, move |hub, result| {
        resume_reply(hub, label);
        match result {
            Ok(None) => hub.send(id, fail("INVALID_PARAMS", &format!("no history for {target}"))),
            Err(e) => hub.send(id, fail("INTERNAL_ERROR", &e.to_string())),
            Ok(Some(marker)) => {
                let line = markread_line(&server, &target, marker);
                match set {
                    // Every device of the user learns the marker in force.
                    Some(_) => {
                        for cid in hub.clients.devices_of(&nick) {
                            if hub.clients.get(cid).is_some_and(|c| c.has(Cap::ReadMarker)) {
                                hub.send(cid, line.clone());
                            }
                        }
                    }
                    None => hub.send(id, line),
                }
            }
        }
        finish_label(hub);
    });
}

/// After a JOIN: the user's read marker there, for read-marker clients.
pub(crate) fn markread_after_join(hub: &mut Hub, id: ClientId, channel: &str) {
    let Some(c) = hub.clients.get(id).filter(|c| c.has(Cap::ReadMarker)) else {
        return;
    };
    let place = match hub.conversations.by_channel(channel) {
        Some(conversation) => MarkerPlace::Conversation(conversation),
        None => MarkerPlace::Channel(channel.to_ascii_lowercase()),
    };
    let (nick, channel, server) = (c.nick.clone(), channel.to_owned(), hub.server().to_owned());
    hub.read(
        move |s| s.marker_at(&nick, &place),
        move |hub, marker| {
            let line = markread_line(&server, &channel, marker.ok().flatten());
            hub.send(id, line);
        },
    );
}

/// ZNC's playback service, which The Lounge uses instead of chathistory.
pub(crate) const PLAYBACK: &str = "*playback";

/// ZNC's own command, `ZNC <module> <words…>`, as The Lounge sends it:
/// `ZNC *playback PLAY #bob 1733300000`. Only `*playback` is here.
pub(crate) fn znc(hub: &mut Hub, ctx: &Ctx<'_>) {
    if ctx.param(0).eq_ignore_ascii_case(PLAYBACK) {
        return playback(hub, ctx.id, &ctx.params[1..].join(" "));
    }
    hub.numeric(
        ctx.id,
        "421",
        &["ZNC", "Unknown command (only ZNC *playback is here)"],
    );
}

/// Lines per conversation one `PLAY` sends at most.
const PLAY_LIMIT: usize = 1000;

/// `PLAY <buffers> [<from> [<to>]]` (Unix times, fractions allowed): the
/// lines of each matching conversation in that window, as a chathistory
/// batch or time-tagged lines. `*` or `#*` is every conversation.
pub(crate) fn playback(hub: &mut Hub, id: ClientId, text: &str) {
    let words: Vec<&str> = text.split_whitespace().collect();
    let say = move |hub: &mut Hub, what: &str| {
        let nick = hub.clients.get(id).map(|c| c.nick.clone()).unwrap_or_default();
        let server = hub.server().to_owned();
        hub.send(id, format!(":{PLAYBACK}!znc@{server} NOTICE {nick} :{what}"));
    };
    if !words.first().is_some_and(|w| w.eq_ignore_ascii_case("play")) {
        return say(hub, "only PLAY <buffers> [<from> [<to>]] is known here");
    }
    let seconds = |w: Option<&&str>, default: i64| -> Option<i64> {
        match w {
            None => Some(default),
            Some(w) => w
                .parse::<f64>()
                .ok()
                .filter(|t| t.is_finite() && *t >= 0.0)
                .map(|t| (t * 1000.0) as i64),
        }
    };
    let (Some(from_ms), Some(to_ms)) = (seconds(words.get(2), 0), seconds(words.get(3), i64::MAX)) else {
        return say(hub, "PLAY: times are Unix seconds, e.g. PLAY * 1700000000");
    };
    let wanted: Vec<String> = words
        .get(1)
        .unwrap_or(&"*")
        .split(',')
        .map(str::to_ascii_lowercase)
        .collect();
    let all = wanted.iter().any(|w| w == "*" || w == "#*");
    let chosen: Vec<(i64, String)> = hub
        .conversations
        .iter()
        .filter(|c| all || wanted.contains(&c.channel.to_ascii_lowercase()))
        .map(|c| (c.id, c.channel.clone()))
        .collect();
    let query = move |s: &Store| -> Result<Vec<(String, Vec<Line>)>, StoreError> {
        chosen
            .into_iter()
            .map(|(c, channel)| {
                let lines = s.between(c, Anchor::Time(from_ms), Anchor::Time(to_ms), PLAY_LIMIT)?;
                Ok((channel, lines))
            })
            .collect()
    };
    hub.read(query, move |hub, found| match found {
        Ok(found) => {
            for (channel, lines) in found.iter().filter(|(_, l)| !l.is_empty()) {
                send_history(hub, id, channel, lines);
            }
        }
        Err(e) => say(hub, &format!("PLAY failed: {e}")),
    });
}
