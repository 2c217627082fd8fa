//! Offline messages (MSNP13+): what a customer wrote while the account was
//! signed out, fetched by the worker at sign-in. Each lands in the
//! customer's conversation (reopened dormant if need be) with the time it
//! was written, is kept in history, counts as the customer writing — and
//! only then may the server forget it.

use ipc::{Command, Status};

use super::conversation::Link;
use super::{desk_state, msn_events, Hub};
use crate::untrusted::short;

/// An offline message `id` from `from`, written at `sent_ms` (if known).
pub(super) fn arrived(hub: &mut Hub, id: &str, from: &str, text: &str, sent_ms: Option<i64>) {
    if !hub.worker.offline_kept.insert(id.to_owned()) {
        // Announced again before the server forgot it: kept already.
        hub.command(Command::DeleteOfflineMessages(vec![id.to_owned()]), None);
        return;
    }
    let contact = match hub.roster.contact(from).cloned() {
        Some(c) => c,
        None => msn_events::learn(hub, from, from, Status::Offline),
    };
    let conversation = match hub.conversations.with_customer(from) {
        Some(c) => c,
        None => {
            let (record, wanted) = match hub.roster.last_conversation(from) {
                Some((record, channel)) => (record, Some(channel)),
                None => (hub.conversations.allocate_id(), None),
            };
            let link = Link::Dormant { suspended: false };
            msn_events::open(hub, record, &contact, wanted.as_deref(), link);
            record
        }
    };
    let Some(channel) = hub.conversations.get(conversation).map(|c| c.channel.clone()) else {
        return;
    };
    let now = hub.now_ms();
    let at = sent_ms.filter(|ms| *ms <= now).unwrap_or(now);
    let when = hub.settings.irc.time_zone.date_and_clock(at);
    let notice = format!(
        "offline message from {} ({}), written {when} while msnbnc was signed out:",
        contact.handle,
        short(&contact.friendly_name)
    );
    hub.server_notice_in(&channel, &notice);
    // Kept with the time it was written.
    msn_events::show_customer_text(
        hub,
        &contact.handle,
        &channel,
        text,
        &ipc::TextFormat::default(),
        at,
    );
    desk_state::customer_wrote(hub, conversation);
    // After the line's batch is committed (commands follow the output).
    hub.command(Command::DeleteOfflineMessages(vec![id.to_owned()]), None);
}
