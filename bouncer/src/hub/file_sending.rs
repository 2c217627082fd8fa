//! Files staff send to a customer (issue 14): a file uploaded here (the
//! `soju.im/FILEHOST` upload, or `curl`) is offered to the customer as an
//! MSN file transfer when its link is what a staff member writes in the
//! conversation, or with `*msn send #bob LINK`. The customer's Messenger
//! asks them to accept; the worker then asks for the file piece by piece
//! and the hub reads each from disk, so no file is ever held whole.
//! Everyone in the channel sees the offer, the answer, progress on large
//! files and the outcome as notices, kept in history.

use ipc::{Command, ConversationTarget, Delivery, Failure, FILE_PIECE};
use std::fs::File;
use std::os::unix::fs::FileExt;

use super::file_transfers::store_of;
use super::Hub;
use crate::files::human_size;
use crate::untrusted::short;

/// Files this large get progress notices (at a quarter, a half, three quarters).
const PROGRESS_FROM: u64 = 1024 * 1024;

pub(super) struct Outgoing {
    conversation: i64,
    customer: String,
    name: String,
    size: u64,
    file: File,
    /// Quarters already reported.
    quarters: u64,
}

/// The token and name of a link to a file kept here
/// (`…/f/<token>/<name>`), if `text` is one link and nothing else.
pub(super) fn file_link(text: &str) -> Option<(&str, &str)> {
    let text = text.trim();
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))?;
    if rest.contains(char::is_whitespace) || rest.contains(['?', '#']) {
        return None;
    }
    let mut parts = rest.rsplitn(3, '/');
    let (name, token, before) = (parts.next()?, parts.next()?, parts.next()?);
    (before.ends_with("/f") && crate::files::valid_token(token) && !name.is_empty()).then_some((token, name))
}

/// Whether a staff line is a lone link to a file uploaded here (under
/// this desk's `public_url`): then the customer gets the file itself.
pub(super) fn is_our_file(hub: &Hub, text: &str) -> bool {
    let public = hub.settings.files.public_url.trim_end_matches('/');
    let text = text.trim();
    !public.is_empty()
        && text
            .strip_prefix(public)
            .is_some_and(|rest| rest.starts_with("/f/"))
        && file_link(text).is_some()
}

/// What an offer needs, once checked.
pub(super) struct Sendable {
    name: String,
    path: std::path::PathBuf,
    size: u64,
    customer: String,
    channel: String,
}

/// Whether the file `link` names can go to the customer of conversation
/// `id`: kept here, not empty, and one customer to send it to.
pub(super) fn sendable(hub: &Hub, id: i64, link: &str) -> Result<Sendable, String> {
    let (token, name) = file_link(link).ok_or("that is not a link to a file uploaded here")?;
    let keep = hub.settings.files.keep;
    let (path, size) = store_of(hub)
        .find(token, name, Some(keep))
        .ok_or_else(|| format!("no file {name} here (unknown, or expired)"))?;
    if size == 0 {
        return Err(format!("{name} is empty; MSN cannot send an empty file"));
    }
    let conversation = hub.conversations.get(id).ok_or("no such conversation")?;
    let customer = conversation
        .only_customer()
        .map(str::to_owned)
        .ok_or("files go to one customer at a time; this conversation has several")?;
    Ok(Sendable {
        name: name.to_owned(),
        path,
        size,
        customer,
        channel: conversation.channel.clone(),
    })
}

/// Offers the file behind `link` to the customer of conversation `id`
/// (`to` names them for the worker); `by` is the staff member.
pub(super) fn offer(
    hub: &mut Hub,
    id: i64,
    to: ConversationTarget,
    by: &str,
    link: &str,
) -> Result<(), String> {
    let Sendable {
        name,
        path,
        size,
        customer,
        channel,
    } = sendable(hub, id, link)?;
    let file = File::open(&path).map_err(|e| format!("{name} cannot be read: {e}"))?;
    let command = Command::SendFile {
        to,
        name: name.clone(),
        size,
    };
    // Noted before it goes: a worker that cannot take it refuses at once.
    let command_id = hub.worker.next_id();
    tracing::info!(record = id, command_id, bytes = size, %by, "offering a file to a customer");
    hub.server_notice_in(
        &channel,
        &format!(
            "offering {name} ({}) to {customer}; their Messenger asks them to accept it",
            human_size(size)
        ),
    );
    let outgoing = Outgoing {
        conversation: id,
        customer,
        name,
        size,
        file,
        quarters: 0,
    };
    hub.files.sending.insert(command_id, outgoing);
    hub.command_as(command_id, command, None);
    Ok(())
}

fn notice(hub: &mut Hub, o: &Outgoing, text: &str) {
    hub.notice_in_conversation(o.conversation, text);
}

/// The worker refused the offer outright: true if it was one.
pub(super) fn refused(hub: &mut Hub, command_id: u64, f: &Failure) -> bool {
    let Some(o) = hub.files.sending.remove(&command_id) else {
        return false;
    };
    let text = format!(
        "{} could not be offered to {}: {}",
        o.name,
        o.customer,
        short(&f.detail)
    );
    notice(hub, &o, &text);
    true
}

/// The customer took it.
pub(super) fn accepted(hub: &mut Hub, command_id: u64) {
    let Some(o) = hub.files.sending.remove(&command_id) else {
        return;
    };
    notice(hub, &o, &format!("{} accepted {}; sending", o.customer, o.name));
    hub.files.sending.insert(command_id, o);
}

/// The worker wants the piece at `offset`: read from disk, handed on.
pub(super) fn wanted(hub: &mut Hub, command_id: u64, offset: u64) {
    let Some(mut o) = hub.files.sending.remove(&command_id) else {
        return;
    };
    let want = usize::try_from(o.size.saturating_sub(offset)).map_or(FILE_PIECE, |left| left.min(FILE_PIECE));
    let mut data = vec![0; want];
    let read = o.file.read_at(&mut data, offset);
    match read {
        Ok(n) => data.truncate(n),
        Err(e) => {
            // The worker ends the transfer on an empty piece.
            let text = format!("{} cannot be read any more: {e}", o.name);
            notice(hub, &o, &text);
            data.clear();
        }
    }
    let reached = (offset + data.len() as u64) * 4 / o.size.max(1);
    if o.size >= PROGRESS_FROM && reached > o.quarters && reached < 4 {
        o.quarters = reached;
        let text = format!(
            "{} to {}: {}% ({} of {})",
            o.name,
            o.customer,
            reached * 25,
            human_size(offset + data.len() as u64),
            human_size(o.size)
        );
        notice(hub, &o, &text);
    }
    // A file on its way keeps its conversation from closing as idle.
    if let Some(c) = hub.conversations.get_mut(o.conversation) {
        c.last_activity = std::time::Instant::now();
    }
    hub.files.sending.insert(command_id, o);
    let command = Command::FileData {
        transfer: command_id,
        offset,
        data,
    };
    hub.command(command, None);
}

/// The outcome of an offer: true if `command_id` was one.
pub(super) fn delivery(hub: &mut Hub, command_id: u64, outcome: &Delivery) -> bool {
    let Some(o) = hub.files.sending.remove(&command_id) else {
        return false;
    };
    let text = match outcome {
        Delivery::Delivered | Delivery::Offline => {
            tracing::info!(record = o.conversation, command_id, "a file reached a customer");
            format!("{} ({}) reached {}", o.name, human_size(o.size), o.customer)
        }
        Delivery::Failed(f) => format!("{} did not reach {}: {}", o.name, o.customer, short(&f.detail)),
    };
    notice(hub, &o, &text);
    true
}

/// The worker is gone: files on their way are not any more.
pub(super) fn worker_lost(hub: &mut Hub) {
    let gone: Vec<Outgoing> = hub.files.sending.drain().map(|(_, o)| o).collect();
    for o in gone {
        let text = format!(
            "{} did not reach {}: the MSN connection was lost",
            o.name, o.customer
        );
        notice(hub, &o, &text);
    }
}

#[cfg(test)]
mod tests {
    use super::file_link;

    #[test]
    fn only_a_lone_link_to_a_kept_file_is_a_file_to_send() {
        let token = "0123456789abcdef0123456789abcdef";
        let link = format!("https://desk.example.com:8443/f/{token}/invoice.pdf");
        assert_eq!(file_link(&link), Some((token, "invoice.pdf")));
        assert_eq!(
            file_link(&format!(" http://127.0.0.1:8080/bnc/f/{token}/a.png ")),
            Some((token, "a.png"))
        );
        for not in [
            format!("see {link}"),
            format!("{link} please"),
            format!("https://example.com/x/{token}/a.png"),
            "https://example.com/f/short/a.png".to_owned(),
            format!("ftp://example.com/f/{token}/a.png"),
            format!("https://example.com/f/{token}/"),
            format!("https://example.com/f/{token}/a.png?x=1"),
        ] {
            assert_eq!(file_link(&not), None, "{not}");
        }
    }
}
