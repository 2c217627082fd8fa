//! Files customers send (issue 14): the worker offers each one; the hub
//! takes it if files are served here, it fits `[files] max_bytes` and the
//! conversation has not sent too many lately — else it is declined, the
//! customer told why when it is too large, staff told in the channel.
//! Taken files are written piece by piece into the files directory and,
//! when whole, every staff member sees `* bob sent NAME (SIZE): LINK` in
//! the conversation, kept in history.

use std::collections::{HashMap, VecDeque};

use ipc::{Command, ConversationId, ConversationTarget, TextFormat};

use super::{Hub, Shown};
use crate::config::FilesSettings;
use crate::files::{human_size, FileStore, Upload};
use crate::store::lines::Kind;
use crate::untrusted::short;

/// Offers a conversation may make per hour.
const PER_HOUR: usize = 10;

struct Receiving {
    conversation: i64,
    from: String,
    upload: Upload,
}

#[derive(Default)]
pub(super) struct FileTransfers {
    receiving: HashMap<u64, Receiving>,
    /// Files staff send, by their `SendFile` command's id (`file_sending.rs`).
    pub(super) sending: HashMap<u64, super::file_sending::Outgoing>,
    /// Recent offers (ms) per conversation record.
    offers: HashMap<i64, VecDeque<i64>>,
}

pub(super) fn store_of(hub: &Hub) -> FileStore {
    FileStore::new(
        FilesSettings::dir(&hub.settings.store.path),
        hub.settings.files.max_bytes,
    )
}

/// A file event from the worker.
pub(super) fn event(hub: &mut Hub, event: &ipc::Event) {
    match event {
        ipc::Event::FileOffered {
            conversation,
            transfer,
            from,
            name,
            size,
        } => offered(hub, *conversation, *transfer, from, name, *size),
        ipc::Event::FileData {
            transfer,
            offset,
            data: bytes,
        } => data(hub, *transfer, *offset, bytes),
        ipc::Event::FileEnded { transfer, outcome } => ended(hub, *transfer, outcome),
        _ => {}
    }
}

/// A customer offers a file in a conversation.
fn offered(hub: &mut Hub, worker: ConversationId, transfer: u64, from: &str, name: &str, size: u64) {
    let Some(id) = hub.conversations.by_worker(worker) else {
        return answer(hub, transfer, false);
    };
    let Some(channel) = hub.conversations.get(id).map(|c| c.channel.clone()) else {
        return answer(hub, transfer, false);
    };
    let now = hub.now_ms();
    let recent = hub.files.offers.entry(id).or_default();
    recent.retain(|t| now - t < 3_600_000);
    recent.push_back(now);
    let (name, max) = (short(name), hub.settings.files.max_bytes);
    let what = format!("{from} offered {name} ({})", human_size(size));
    let refusal = if hub.settings.files.listen.is_none() {
        Some("files are not received here ([files] listen is not set)".to_owned())
    } else if size > max {
        tell_customer(
            hub,
            worker,
            &format!(
                "Sorry, files over {} cannot be received here. Please send a smaller one, or a link.",
                human_size(max)
            ),
        );
        Some(format!(
            "larger than the {} limit; they were told",
            human_size(max)
        ))
    } else if recent.len() > PER_HOUR {
        Some(format!(
            "more than {PER_HOUR} files from this conversation within an hour"
        ))
    } else {
        None
    };
    if let Some(why) = refusal {
        hub.server_notice_in(&channel, &format!("{what}; declined: {why}"));
        return answer(hub, transfer, false);
    }
    match store_of(hub).begin(&name, size) {
        Ok(upload) => {
            tracing::info!(record = id, transfer, bytes = size, "receiving a file");
            let receiving = Receiving {
                conversation: id,
                from: from.to_owned(),
                upload,
            };
            hub.files.receiving.insert(transfer, receiving);
            answer(hub, transfer, true);
        }
        Err(e) => {
            hub.server_notice_in(&channel, &format!("{what}; declined: {e}"));
            answer(hub, transfer, false);
        }
    }
}

fn answer(hub: &mut Hub, transfer: u64, accept: bool) {
    hub.command(Command::AnswerFile { transfer, accept }, None);
}

fn tell_customer(hub: &mut Hub, worker: ConversationId, text: &str) {
    let command = Command::SendMessage {
        to: ConversationTarget::Existing(worker),
        text: text.to_owned(),
        format: TextFormat::default(),
    };
    hub.command(command, None);
}

/// The next piece of a file being received.
fn data(hub: &mut Hub, transfer: u64, offset: u64, bytes: &[u8]) {
    let Some(r) = hub.files.receiving.get_mut(&transfer) else {
        return;
    };
    // A file on its way keeps its conversation from closing as idle.
    if let Some(c) = hub.conversations.get_mut(r.conversation) {
        c.last_activity = std::time::Instant::now();
    }
    if let Err(e) = r.upload.write(offset, bytes) {
        if let Some(r) = hub.files.receiving.remove(&transfer) {
            failed(hub, r, &e.to_string());
        }
    }
}

/// A transfer is over.
fn ended(hub: &mut Hub, transfer: u64, outcome: &Result<(), String>) {
    let Some(r) = hub.files.receiving.remove(&transfer) else {
        return;
    };
    if let Err(why) = outcome {
        return failed(hub, r, why);
    }
    let (conversation, from) = (r.conversation, r.from.clone());
    match r.upload.finish() {
        Ok(kept) => {
            let Some(channel) = hub.conversations.get(conversation).map(|c| c.channel.clone()) else {
                return;
            };
            let link = format!("{}/f/{}/{}", hub.settings.files.public_url, kept.token, kept.name);
            let text = format!(
                "\x01ACTION sent {} ({}): {link}\x01",
                kept.name,
                human_size(kept.size)
            );
            let prefix = hub.roster.prefix_of(&from);
            let shown = Shown {
                kind: Kind::Customer,
                sender: &from,
                source: &prefix,
                command: "PRIVMSG",
                target: &channel,
                text: &text,
                account: None,
                client_tags: &[],
            };
            hub.show(shown, None);
            super::desk_state::customer_wrote(hub, conversation);
        }
        Err(e) => {
            hub.notice_in_conversation(conversation, &format!("a file from {from} did not arrive: {e}"));
        }
    }
}

fn failed(hub: &mut Hub, r: Receiving, why: &str) {
    let name = r.upload.name.clone();
    r.upload.abandon();
    let text = format!("{name} from {} did not arrive: {}", r.from, short(why));
    hub.notice_in_conversation(r.conversation, &text);
}

/// The worker is gone: files on their way in will not finish.
pub(super) fn worker_lost(hub: &mut Hub) {
    let gone: Vec<Receiving> = hub.files.receiving.drain().map(|(_, r)| r).collect();
    for r in gone {
        failed(hub, r, "the MSN connection was lost");
    }
}
