//! A `MSG` on the switchboard: text, typing, a nudge, an invitation we
//! decline, a file transfer's packets (`transfers.rs`) — or, from
//! MSNP16, our other place's own words (an echo).

use std::time::Instant;

use super::super::codec::{encode, Frame};
use super::super::handles;
use super::super::message::{self, Content, Mime};
use super::{SbEvent, SbOutput, SbSession};

/// What a customer whose Messenger offers a file the old way is told.
pub const OLD_FILE_TRANSFER: &str = "Sorry, this version of Messenger sends files in a way we cannot receive. Please send a link to the file, or use Messenger 6 or later.";

impl SbSession {
    pub(super) fn on_msg(&mut self, out: &mut Vec<SbOutput>, frame: &Frame, now: Instant) {
        let (Some(from), Some(payload)) = (frame.arg(0).map(handles::email), &frame.payload) else {
            return;
        };
        let from = from.as_str();
        let Some(mime) = self.reassembler.feed(Mime::parse(payload), now) else {
            return;
        };
        if mime
            .content_type()
            .eq_ignore_ascii_case("application/x-msnmsgrp2p")
        {
            let actions = self.transfers.packet(from, &mime.body, now);
            self.file_actions(out, actions);
            return;
        }
        if from.eq_ignore_ascii_case(&self.account) {
            // Our other place's own words (typing and the rest: nothing).
            if let Content::Text { text, format } = message::classify(&mime) {
                out.push(SbOutput::Event(SbEvent::Echo { text, format }));
            }
            return;
        }
        match message::classify(&mime) {
            Content::Text { text, format } => out.push(SbOutput::Event(SbEvent::Message {
                from: from.to_owned(),
                text,
                format,
            })),
            Content::Typing { .. } => out.push(SbOutput::Event(SbEvent::Typing {
                from: from.to_owned(),
            })),
            Content::Nudge => out.push(SbOutput::Event(SbEvent::Nudge {
                from: from.to_owned(),
            })),
            Content::Invitation {
                command,
                cookie,
                application,
            } if command.eq_ignore_ascii_case("INVITE") => {
                let t = self.trid();
                let decline = message::decline_invitation_payload(&cookie);
                out.push(SbOutput::Send(encode("MSG", Some(t), &["U"], Some(&decline))));
                // A file from a Messenger that only knows the old way (MSNFTP
                // needs a direct connection to the customer, which a server
                // cannot make through NAT; docs/msnp2p.md §8.3): say so.
                if application.eq_ignore_ascii_case("File Transfer") {
                    let t = self.trid();
                    let why = message::text_payload(OLD_FILE_TRANSFER, &ipc::TextFormat::default());
                    out.push(SbOutput::Send(encode("MSG", Some(t), &["U"], Some(&why))));
                }
                let what = if application.is_empty() {
                    "an invitation".to_owned()
                } else {
                    application
                };
                out.push(SbOutput::Event(SbEvent::Notice(format!(
                    "{from} sent {what}, which msnbnc cannot accept; declined"
                ))));
            }
            Content::Other { content_type } => {
                tracing::debug!(%from, "ignored message of type {content_type:?}");
            }
            _ => {}
        }
    }
}
