//! Offline messages on the notification server (MSNP13+,
//! `docs/msnp13-18.md` §6): the announcement of waiting ones (at sign-in,
//! or one arriving while online) starts a fetch of each through the
//! offline-message service; each comes to the bouncer with its original
//! time and is deleted from the server only when the bouncer says it is
//! kept. A message for an offline contact is left as an offline message:
//! `UUM` at MSNP18, the `Store2` service (with its lock-key challenge)
//! before.

use std::collections::HashSet;

use ipc::{CommandResult, Delivery, Event, FailureKind};

use super::super::codec::{encode, Frame};
use super::super::message::Mime;
use super::super::{challenge, oim, sso};
use super::transactions::Pending;
use super::web::{Purpose, Service};
use super::{failure, NsOutput, NsSession};

/// A SOAP call about offline messages, and what its answer is for.
#[derive(Debug, Clone)]
pub enum Job {
    Fetch {
        id: String,
    },
    Metadata,
    Delete {
        command: u64,
    },
    Store {
        command: u64,
        to: String,
        text: String,
        retried: bool,
    },
}

#[derive(Debug, Default)]
pub struct OfflineState {
    /// Ids fetched (or being fetched) on this connection.
    asked: HashSet<String>,
    /// The answer to the store service's challenge, once known.
    lock_key: String,
    /// This sign-in's run id, and the last sequence number used.
    run_id: String,
    sequence: u32,
}

impl NsSession {
    /// A `MSG` from the server that announces offline messages.
    pub(super) fn announces_offline(&self, frame: &Frame) -> bool {
        self.dialect >= 13
            && frame.cmd == "MSG"
            && frame.arg(0) == Some("Hotmail")
            && frame
                .payload
                .as_deref()
                .is_some_and(|p| oim::announces(Mime::parse(p).header("Content-Type").unwrap_or("")))
    }

    /// Fetches each waiting message (or asks which there are).
    pub(super) fn offline_announced(&mut self, out: &mut Vec<NsOutput>, frame: &Frame) {
        let payload = frame.payload.clone().unwrap_or_default();
        let mime = Mime::parse(&payload);
        let body = String::from_utf8_lossy(&mime.body).into_owned();
        match oim::parse_mail_data(&body) {
            Some(waiting) => self.fetch_offline(out, waiting),
            None => {
                let body = oim::get_metadata(&self.ticket_for(sso::OIM_READ));
                let action = oim::rsi_action("GetMetadata");
                self.soap_call(
                    out,
                    Purpose::Offline(Job::Metadata),
                    Service::OimRead,
                    action,
                    body,
                );
            }
        }
    }

    fn fetch_offline(&mut self, out: &mut Vec<NsOutput>, waiting: Vec<oim::Waiting>) {
        let ticket = self.ticket_for(sso::OIM_READ);
        for w in waiting {
            if !self.web.offline.asked.insert(w.id.clone()) {
                continue;
            }
            let body = oim::get_message(&ticket, &w.id);
            let job = Job::Fetch { id: w.id };
            self.soap_call(
                out,
                Purpose::Offline(job),
                Service::OimRead,
                oim::rsi_action("GetMessage"),
                body,
            );
        }
    }

    /// The bouncer kept these: the server may forget them.
    pub(super) fn delete_offline(&mut self, out: &mut Vec<NsOutput>, command: u64, ids: &[String]) {
        let body = oim::delete_messages(&self.ticket_for(sso::OIM_READ), ids);
        let job = Job::Delete { command };
        self.soap_call(
            out,
            Purpose::Offline(job),
            Service::OimRead,
            oim::rsi_action("DeleteMessages"),
            body,
        );
    }

    /// Leaves `text` for `to` as an offline message; the outcome comes as
    /// the delivery of `command`.
    pub fn send_offline(&mut self, command: u64, to: &str, text: &str) -> Vec<NsOutput> {
        let mut out = vec![NsOutput::Event(Event::Sent { command_id: command })];
        if self.dialect >= 18 {
            let t = self.transactions.open(Some(Pending::Internal("offline message")));
            let payload = oim::uum_payload(text);
            out.push(NsOutput::Send(encode(
                "UUM",
                Some(t),
                &[to, "1", "1"],
                Some(&payload),
            )));
            out.push(NsOutput::Event(Event::Delivery {
                command_id: command,
                outcome: Delivery::Offline,
            }));
            return out;
        }
        self.store_offline(&mut out, command, to.to_owned(), text.to_owned(), false);
        out
    }

    fn store_offline(
        &mut self,
        out: &mut Vec<NsOutput>,
        command: u64,
        to: String,
        text: String,
        retried: bool,
    ) {
        let state = &mut self.web.offline;
        if state.run_id.is_empty() {
            state.run_id = format!(
                "{{{}}}",
                self.config.machine_guid.trim_matches(|c| c == '{' || c == '}')
            );
        }
        state.sequence += 1;
        let ticket = self.ticket_for(sso::OIM_SEND);
        let from = oim::StoreFrom {
            account: &self.config.account,
            friendly_name: &self.friendly_name,
            ticket: &ticket,
            lock_key: &self.web.offline.lock_key,
            app_id: challenge::MSNP18_KEY.id,
            run_id: &self.web.offline.run_id,
            sequence: self.web.offline.sequence,
        };
        let body = oim::store(&from, &to, &text);
        let job = Job::Store {
            command,
            to,
            text,
            retried,
        };
        self.soap_call(
            out,
            Purpose::Offline(job),
            Service::OimStore,
            oim::STORE_ACTION.to_owned(),
            body,
        );
    }

    pub(super) fn offline_answer(
        &mut self,
        out: &mut Vec<NsOutput>,
        job: Job,
        answer: Result<Vec<u8>, String>,
    ) {
        let fault = answer.as_ref().ok().and_then(|b| super::super::abch::fault(b));
        match (job, answer, fault) {
            (Job::Fetch { id }, Ok(body), None) => {
                match oim::message_of_answer(&body).and_then(|m| oim::parse_message(&m)) {
                    Some(m) => out.push(NsOutput::Event(Event::OfflineMessage {
                        id,
                        from: m.from,
                        text: m.text,
                        sent_ms: m.sent_ms,
                    })),
                    None => tracing::warn!(id, "an offline message could not be read; left on the server"),
                }
            }
            (Job::Metadata, Ok(body), None) => self.fetch_offline(out, oim::parse_md(&body)),
            (Job::Delete { command }, Ok(_), None) => out.push(NsOutput::CommandDone {
                id: command,
                result: CommandResult::Ok,
            }),
            (Job::Store { command, .. }, Ok(_), None) => out.push(NsOutput::Event(Event::Delivery {
                command_id: command,
                outcome: Delivery::Offline,
            })),
            (
                Job::Store {
                    command,
                    to,
                    text,
                    retried: false,
                },
                Ok(body),
                Some(_),
            ) if oim::lock_challenge(&body).is_some() => {
                let challenge_text = oim::lock_challenge(&body).unwrap_or_default();
                self.web.offline.lock_key = challenge::msnp11(&challenge_text, challenge::MSNP18_KEY);
                self.store_offline(out, command, to, text, true);
            }
            (Job::Store { command, .. }, answer, fault) => {
                let why = fault.or(answer.err()).unwrap_or_else(|| "no answer".into());
                let detail = format!("217: not delivered, and the offline-message service refused it: {why}");
                out.push(NsOutput::Event(Event::Delivery {
                    command_id: command,
                    outcome: Delivery::Failed(failure(FailureKind::ContactOffline, detail)),
                }));
            }
            (Job::Delete { command }, answer, fault) => {
                let why = fault.or(answer.err()).unwrap_or_default();
                out.push(NsOutput::CommandDone {
                    id: command,
                    result: CommandResult::Failed(failure(FailureKind::ServerError, why)),
                });
            }
            (Job::Fetch { id }, answer, fault) => {
                let why = fault.or(answer.err()).unwrap_or_default();
                tracing::warn!(id, "an offline message could not be fetched: {why}");
                self.web.offline.asked.remove(&id);
            }
            (Job::Metadata, answer, fault) => {
                let why = fault.or(answer.err()).unwrap_or_default();
                tracing::warn!("the list of offline messages could not be fetched: {why}");
            }
        }
    }
}
