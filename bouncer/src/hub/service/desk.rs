//! `*msn` for the desk: who answers which conversation, the queue, and
//! the states staff set.

use super::{notice, Args, Asker};
use crate::hub::desk_state as states;
use crate::hub::welcome::topic_changed;
use crate::hub::Hub;
use crate::store::desk_rows::DeskState;

/// The conversation shown as `channel`, or the answer that there is none.
fn conversation(hub: &mut Hub, asker: &Asker, channel: &str) -> Option<i64> {
    let id = hub.conversations.by_channel(channel);
    if id.is_none() {
        notice(hub, asker.client, &format!("no conversation {channel}"));
    }
    id
}

/// Take a conversation: its topic shows who answers it.
pub(super) fn claim(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let channel = args.word(0);
    let Some(id) = conversation(hub, asker, channel) else {
        return Ok(());
    };
    let previous = hub
        .conversations
        .get_mut(id)
        .and_then(|c| c.claim.replace(asker.nick.clone()));
    let answer = match previous {
        Some(p) if p != asker.nick => format!("{channel} was claimed by {p}; it is yours now"),
        Some(_) => format!("{channel} was yours already"),
        None => format!("{channel} is yours now"),
    };
    notice(hub, asker.client, &answer);
    states::claim_changed(hub, id);
    topic_changed(hub, id);
    Ok(())
}

pub(super) fn unclaim(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let channel = args.word(0);
    let Some(id) = conversation(hub, asker, channel) else {
        return Ok(());
    };
    let owner = hub.conversations.get(id).and_then(|c| c.claim.clone());
    match owner {
        Some(o) if o == asker.nick => {
            if let Some(c) = hub.conversations.get_mut(id) {
                c.claim = None;
            }
            notice(hub, asker.client, &format!("{channel} is no longer claimed"));
            states::claim_changed(hub, id);
            topic_changed(hub, id);
        }
        Some(o) => notice(
            hub,
            asker.client,
            &format!("{channel} is claimed by {o}, not you"),
        ),
        None => notice(hub, asker.client, &format!("{channel} is not claimed")),
    }
    Ok(())
}

/// Every conversation not resolved, longest wait first.
pub(super) fn queue(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    if !args.is_empty() {
        return Err(String::new());
    }
    let rows = states::queue(hub);
    if rows.is_empty() {
        notice(
            hub,
            asker.client,
            "the queue is empty: every conversation is resolved",
        );
        return Ok(());
    }
    notice(
        hub,
        asker.client,
        &format!("{} conversation(s) not resolved:", rows.len()),
    );
    for row in rows {
        notice(hub, asker.client, &row);
    }
    Ok(())
}

fn set(hub: &mut Hub, asker: &Asker, channel: &str, state: DeskState, note: &str) {
    let Some(id) = conversation(hub, asker, channel) else {
        return;
    };
    if !states::set_by_staff(hub, id, state, &asker.nick, note) {
        notice(
            hub,
            asker.client,
            &format!("{channel} is {} already", state.as_str()),
        );
    }
}

/// Staff asked the customer something.
pub(super) fn wait(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    set(hub, asker, args.word(0), DeskState::Waiting, "");
    Ok(())
}

/// Closed by staff, with an optional note (kept in the channel's history).
pub(super) fn resolve(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    set(hub, asker, args.word(0), DeskState::Resolved, args.from(1));
    Ok(())
}

/// The business hours, and whether the desk is open now.
pub(super) fn hours(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    if !args.is_empty() {
        return Err(String::new());
    }
    let now = hub.now_ms();
    let desk = &hub.settings.desk;
    let mut lines = desk.hours.describe();
    if desk.hours.is_configured() {
        let zone = desk.hours.zone.clone();
        let state = match desk.hours.is_open(now) {
            true => "open",
            false => "closed",
        };
        lines.push(format!("now ({} there): {state}", zone.clock(now)));
        lines.push(match desk.closed_reply.as_str() {
            "" => "outside the hours customers get no reply (desk.closed_reply is empty)".to_owned(),
            reply => format!("outside the hours a customer's first line is answered: {reply}"),
        });
    }
    for line in lines {
        notice(hub, asker.client, &crate::untrusted::short(&line));
    }
    Ok(())
}

/// The desk's figures for today, this week or this month (in the desk's
/// zone).
pub(super) fn stats(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    use crate::irc::local_time::Period;
    let (period, name) = match args.word(0).to_ascii_lowercase().as_str() {
        "" | "today" => (Period::Day, "today"),
        "week" => (Period::Week, "this week"),
        "month" => (Period::Month, "this month"),
        other => return Err(format!("{other:?}: say today, week or month")),
    };
    let now = hub.now_ms();
    let zone = hub.settings.desk.hours.zone.clone();
    let from = zone.start_of(now, period);
    let title = format!("{name} (since {})", zone.date_and_clock(from));
    let client = asker.client;
    hub.read(
        move |s| {
            Ok::<_, crate::store::StoreError>((
                s.conversation_facts(from, now + 1)?,
                s.staff_facts(from, now + 1)?,
            ))
        },
        move |hub, facts| match facts {
            Ok((conversations, staff)) => {
                for line in crate::hub::desk_figures::figures(&title, &conversations, &staff) {
                    notice(hub, client, &line);
                }
            }
            Err(e) => notice(hub, client, &format!("the figures could not be read: {e}")),
        },
    );
    Ok(())
}
