//! `*msn` for history, for clients without chathistory: a
//! conversation's last lines, a search of every conversation, and (for
//! administrators) the store's size and pruning. The store answers on its
//! own threads.

use super::{notice, Args, Asker};
use crate::hub::Hub;
use crate::irc::local_time::{action, readable, LocalTime};
use crate::store::lines::{Kind, Line};
use crate::store::{Store, StoreError};

/// A stored line as one notice: `[date time] <nick> text`, with the
/// channel in front for search results; notes and our notices marked.
fn describe(l: &Line, with_channel: bool, local: &LocalTime) -> String {
    let when = local.date_and_clock(l.time_ms);
    let who = l.source.split('!').next().unwrap_or_default();
    let place = match with_channel {
        true => format!("{} ", l.channel),
        false => String::new(),
    };
    let text = readable(who, &l.text);
    match l.kind {
        Kind::Note => format!("[{when}] {place}(note) <{who}> {text}"),
        Kind::Notice => format!("[{when}] {place}-- {text}"),
        _ if action(&l.text).is_some() => format!("[{when}] {place}{text}"),
        _ => format!("[{when}] {place}<{who}> {text}"),
    }
}

/// How many lines `history` shows: 20, or 1 to 500 as asked.
pub fn history_lines(arg: &str) -> Option<usize> {
    match arg {
        "" => Some(20),
        n => n.parse().ok().filter(|n| (1..=500).contains(n)),
    }
}

/// Sends what a query found, one notice per line.
fn answer(hub: &mut Hub, client: crate::irc::conn::ClientId, lines: Result<Vec<String>, StoreError>) {
    for line in lines.unwrap_or_else(|e| vec![format!("failed: {e}")]) {
        notice(hub, client, &line);
    }
}

/// `history #bob [n]`: the last lines of a conversation, oldest first.
pub(super) fn history(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let channel = args.word(0).to_owned();
    let n = history_lines(args.word(1)).ok_or("usage: history <#conversation> [lines] (1 to 500 lines)")?;
    let known = hub.conversations.by_channel(&channel);
    let local = hub.settings.irc.time_zone.clone();
    let query = move |s: &Store| -> Result<Vec<String>, StoreError> {
        let conversation = match known {
            Some(c) => Some(c),
            None => s.conversation_named(&channel)?.map(|c| c.id),
        };
        let lines = match conversation {
            Some(c) => s.latest(c, None, n)?,
            None => Vec::new(),
        };
        Ok(match lines.is_empty() {
            true => vec![match s.conversation_named(&format!("#{channel}"))? {
                Some(_) if !channel.starts_with('#') => {
                    format!("no history for {channel}; did you mean #{channel}?")
                }
                _ => format!("no history for {channel}"),
            }],
            false => lines.iter().map(|l| describe(l, false, &local)).collect(),
        })
    };
    let client = asker.client;
    hub.read(query, move |hub, lines| answer(hub, client, lines));
    Ok(())
}

pub(super) fn search(hub: &mut Hub, asker: &Asker, args: &Args<'_>) -> Result<(), String> {
    let words = args.from(0).trim().to_owned();
    let local = hub.settings.irc.time_zone.clone();
    let query = move |s: &Store| -> Result<Vec<String>, StoreError> {
        let found = s.search(&words, 20)?;
        Ok(match found.is_empty() {
            true => vec![format!("nothing found for {words:?}")],
            false => found.iter().map(|l| describe(l, true, &local)).collect(),
        })
    };
    let client = asker.client;
    hub.read(query, move |hub, lines| answer(hub, client, lines));
    Ok(())
}

pub(super) fn store(hub: &mut Hub, asker: &Asker, _: &Args<'_>) -> Result<(), String> {
    let client = asker.client;
    hub.maintain(
        |s| Ok(vec![crate::store_cli::describe(&s.stats()?)]),
        move |hub, lines| answer(hub, client, lines),
    );
    Ok(())
}

pub(super) fn store_prune(hub: &mut Hub, asker: &Asker, _: &Args<'_>) -> Result<(), String> {
    let policy = hub.settings.store.retention;
    let client = asker.client;
    let job = move |s: &mut Store| -> Result<Vec<String>, StoreError> {
        let pruned = match policy.is_forever() {
            true => "retention keeps everything; nothing pruned. ".to_owned(),
            false => format!("pruned {} lines. ", crate::store_cli::prune_all(s, &policy)?),
        };
        Ok(vec![format!(
            "{pruned}{}",
            crate::store_cli::describe(&s.stats()?)
        )])
    };
    hub.maintain(job, move |hub, lines| answer(hub, client, lines));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_takes_one_to_five_hundred_lines() {
        assert_eq!(history_lines(""), Some(20));
        assert_eq!(history_lines("500"), Some(500));
        for bad in ["0", "501", "-1", "many"] {
            assert_eq!(history_lines(bad), None, "{bad}");
        }
    }
}
