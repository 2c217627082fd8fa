//! Customer cards: what the team knows about a customer — notes (dated,
//! signed) and tags, held here for every customer and written to the store
//! — and the card as staff read it, with what history says (first contact,
//! conversations, the last one and who answered). A conversation that
//! opens shows its customer's tags and latest notes at its top, to staff
//! only.

use std::collections::{BTreeSet, HashMap};

use super::roster::key;
use super::Hub;
use crate::store::customer_rows::{CardRecord, CustomerNote};

/// Notes a conversation shows when it opens (the newest).
const NOTES_ON_OPEN: usize = 3;

#[derive(Debug, Default)]
pub struct Cards {
    notes: HashMap<String, Vec<CustomerNote>>,
    tags: HashMap<String, BTreeSet<String>>,
}

impl Cards {
    pub fn new(notes: Vec<(String, CustomerNote)>, tags: Vec<(String, String)>) -> Cards {
        let mut cards = Cards::default();
        for (handle, note) in notes {
            cards.note_added(&handle, note);
        }
        for (handle, tag) in tags {
            cards
                .tags
                .entry(key(&handle))
                .or_default()
                .insert(tag.to_ascii_lowercase());
        }
        cards
    }

    pub fn note_added(&mut self, handle: &str, note: CustomerNote) {
        self.notes.entry(key(handle)).or_default().push(note);
    }

    /// Whether the tag was new.
    pub fn tag(&mut self, handle: &str, tag: &str) -> bool {
        self.tags
            .entry(key(handle))
            .or_default()
            .insert(tag.to_ascii_lowercase())
    }

    /// Whether it was there.
    pub fn untag(&mut self, handle: &str, tag: &str) -> bool {
        self.tags
            .get_mut(&key(handle))
            .is_some_and(|t| t.remove(&tag.to_ascii_lowercase()))
    }

    pub fn tags_of(&self, handle: &str) -> Vec<String> {
        self.tags
            .get(&key(handle))
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn notes_of(&self, handle: &str) -> &[CustomerNote] {
        self.notes.get(&key(handle)).map_or(&[], Vec::as_slice)
    }
}

/// Whether `tag` may be a tag: a word of letters, digits, `-`, `_`.
pub fn valid_tag(tag: &str) -> bool {
    !tag.is_empty() && tag.len() <= 32 && tag.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
}

/// The customer a staff member means: a contact's nick, an MSN address,
/// or a conversation's channel (its one customer).
pub(super) fn customer_named(hub: &Hub, word: &str) -> Option<String> {
    if word.starts_with('#') {
        let c = hub
            .conversations
            .by_channel(word)
            .and_then(|id| hub.conversations.get(id))?;
        return c.only_customer().map(str::to_owned);
    }
    if let Some(c) = hub.roster.contact_by_nick(word) {
        return Some(key(&c.handle));
    }
    (word.contains('@') && super::roster::valid_handle(word)).then(|| key(word))
}

/// The card of `handle` as lines for staff.
pub(super) fn card_lines(hub: &Hub, handle: &str, record: &CardRecord) -> Vec<String> {
    let local = &hub.settings.irc.time_zone;
    let mut out = Vec::new();
    let who = match hub.roster.contact(handle) {
        Some(c) => {
            let psm = match c.personal_message.as_str() {
                "" => String::new(),
                psm => format!(" — \u{201c}{psm}\u{201d}"),
            };
            format!(
                "{} — {} ({}){psm}",
                c.handle,
                c.friendly_name,
                super::roster::status_words(c.status)
            )
        }
        None => format!("{handle} (not on the contact list)"),
    };
    out.push(who);
    let history = match (record.first_contact_ms, record.last_ms) {
        (Some(first), Some(last)) => format!(
            "first contact {}; {} conversation(s); the last {}, answered by {}",
            local.date_and_clock(first),
            record.conversations,
            local.date_and_clock(last),
            match record.last_answered_by.is_empty() {
                true => "nobody yet".to_owned(),
                false => record.last_answered_by.join(", "),
            }
        ),
        (Some(first), None) => format!("first contact {}; no lines yet", local.date_and_clock(first)),
        _ => "no conversation yet".to_owned(),
    };
    out.push(history);
    let tags = hub.cards.tags_of(handle);
    out.push(match tags.is_empty() {
        true => "tags: none".to_owned(),
        false => format!("tags: {}", tags.join(", ")),
    });
    for n in hub.cards.notes_of(handle) {
        out.push(format!(
            "note {} {}: {}",
            local.date_and_clock(n.time_ms),
            n.author,
            n.text
        ));
    }
    out
}

/// A conversation with `handle` opened in `channel`: its tags and newest
/// notes at the top, for staff (a channel's notices never reach MSN).
pub(super) fn show_on_open(hub: &mut Hub, channel: &str, handle: &str) {
    let tags = hub.cards.tags_of(handle);
    let notes = hub.cards.notes_of(handle);
    if tags.is_empty() && notes.is_empty() {
        return;
    }
    let local = hub.settings.irc.time_zone.clone();
    let mut lines = Vec::new();
    let older = notes.len().saturating_sub(NOTES_ON_OPEN);
    let head = match (tags.is_empty(), older) {
        (true, 0) => "card:".to_owned(),
        (true, n) => format!("card ({n} older note(s): /msg *msn card {handle}):"),
        (false, 0) => format!("card: tags {}", tags.join(", ")),
        (false, n) => format!(
            "card: tags {} ({n} older note(s): /msg *msn card {handle})",
            tags.join(", ")
        ),
    };
    lines.push(head);
    for n in &notes[older..] {
        lines.push(format!(
            "note {} {}: {}",
            local.date_and_clock(n.time_ms),
            n.author,
            n.text
        ));
    }
    for line in lines {
        hub.server_notice_in(channel, &crate::untrusted::short(&line));
    }
}
