//! A line the hub shows in a conversation channel — recorded in history
//! first — the tags every message line carries, and the hub's own notices
//! there.

use super::Hub;
use crate::store::lines::Kind;

/// A line for a conversation channel (`target`), recorded before shown.
pub(crate) struct Shown<'a> {
    pub kind: Kind,
    /// The customer's handle or the staff member's user name ('' for us).
    pub sender: &'a str,
    /// The IRC source (`bob!bob@example.com`, or the server's name).
    pub source: &'a str,
    pub command: &'static str,
    /// The channel, or `@channel` for a staff-only note.
    pub target: &'a str,
    pub text: &'a str,
    /// The staff account, for account-tag.
    pub account: Option<&'a str>,
    /// A staff member's client-only tags (`+draft/reply` …): relayed to
    /// colleagues whose clients take tags, never stored, never to MSN.
    pub client_tags: &'a [(String, String)],
}

/// A message line's tags: the staff account (account-tag), the msgid,
/// then the sender's client-only tags.
pub(crate) fn line_tags<'a>(
    account: Option<&'a str>,
    msgid: &'a str,
    client_tags: &'a [(String, String)],
) -> Vec<(&'a str, &'a str)> {
    let mut tags = Vec::with_capacity(2 + client_tags.len());
    if let Some(a) = account {
        tags.push(("account", a));
    }
    tags.push(("msgid", msgid));
    tags.extend(client_tags.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    tags
}

impl Hub {
    /// A notice from us in a conversation channel (kept in its history).
    pub(super) fn server_notice_in(&mut self, channel: &str, text: &str) {
        let server = self.server().to_owned();
        self.show(
            Shown {
                kind: Kind::Notice,
                sender: "",
                source: &server,
                command: "NOTICE",
                target: channel,
                text,
                account: None,
                client_tags: &[],
            },
            None,
        );
    }

    /// [`Hub::server_notice_in`] the channel of conversation record `id`,
    /// if it still has one.
    pub(super) fn notice_in_conversation(&mut self, id: i64, text: &str) {
        if let Some(channel) = self.conversations.get(id).map(|c| c.channel.clone()) {
            self.server_notice_in(&channel, text);
        }
    }
}
