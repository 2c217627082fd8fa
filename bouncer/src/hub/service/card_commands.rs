//! `*msn card`, `note`, `tag`, `untag`: what the team knows about a
//! customer (named by nick, MSN address or conversation channel).

use super::{notice, Args, Asker};
use crate::hub::customer_cards::{card_lines, customer_named, valid_tag};
use crate::hub::Hub;
use crate::store::customer_rows::CustomerNote;
use crate::untrusted::short;

/// Longest note.
const MAX_NOTE: usize = 400;

fn customer(hub: &Hub, word: &str) -> Result<String, String> {
    customer_named(hub, word).ok_or_else(|| {
        format!("no customer {word:?}: name one by nick, MSN address, or conversation channel (one customer)")
    })
}

pub(super) fn card(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let handle = customer(hub, args.word(0))?;
    let client = asker.client;
    let wanted = handle.clone();
    hub.read(
        move |s| s.card(&wanted),
        move |hub, record| match record {
            Ok(record) => {
                for line in card_lines(hub, &handle, &record) {
                    notice(hub, client, &short(&line));
                }
            }
            Err(e) => notice(hub, client, &format!("the card could not be read: {e}")),
        },
    );
    Ok(())
}

pub(super) fn note(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let handle = customer(hub, args.word(0))?;
    let text = args.from(1).trim().to_owned();
    if text.chars().count() > MAX_NOTE {
        return Err(format!("a note is {MAX_NOTE} characters at most"));
    }
    let (client, author, stored) = (asker.client, asker.nick.clone(), text.clone());
    let for_store = handle.clone();
    hub.write(
        move |s| s.add_customer_note(&for_store, &author, &stored),
        move |hub, result| match result {
            Ok(()) => {
                let author = hub
                    .clients
                    .get(client)
                    .map(|c| c.nick.clone())
                    .unwrap_or_default();
                let note = CustomerNote {
                    author,
                    time_ms: crate::store::now_ms(),
                    text,
                };
                hub.cards.note_added(&handle, note);
                notice(hub, client, &format!("noted on {handle}'s card"));
            }
            Err(e) => notice(hub, client, &format!("failed: {e}")),
        },
    );
    Ok(())
}

fn tagging(hub: &mut Hub, asker: &Asker, args: &Args<'_>, on: bool) -> Result<(), String> {
    let handle = customer(hub, args.word(0))?;
    let tag = args.word(1).to_ascii_lowercase();
    if !valid_tag(&tag) {
        return Err(format!(
            "{tag:?} cannot be a tag: one word of letters, digits, '-' and '_'"
        ));
    }
    let client = asker.client;
    let (for_store, stored_tag) = (handle.clone(), tag.clone());
    hub.write(
        move |s| match on {
            true => s.add_customer_tag(&for_store, &stored_tag),
            false => s.remove_customer_tag(&for_store, &stored_tag),
        },
        move |hub, result| {
            let answer = match (result, on) {
                (Err(e), _) => format!("failed: {e}"),
                (Ok(changed), true) => {
                    hub.cards.tag(&handle, &tag);
                    match changed {
                        true => format!("{handle} is tagged {tag}"),
                        false => format!("{handle} was tagged {tag} already"),
                    }
                }
                (Ok(changed), false) => {
                    hub.cards.untag(&handle, &tag);
                    match changed {
                        true => format!("{handle} is no longer tagged {tag}"),
                        false => format!("{handle} was not tagged {tag}"),
                    }
                }
            };
            notice(hub, client, &answer);
        },
    );
    Ok(())
}

pub(super) fn tag(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    tagging(hub, asker, args, true)
}

pub(super) fn untag(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    tagging(hub, asker, args, false)
}
