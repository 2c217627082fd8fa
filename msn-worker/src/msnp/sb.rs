//! One switchboard session (one conversation's TCP connection), sans-IO
//! (msnp.md §6). Messages are queued until someone has joined; each text
//! message's delivery (all of its pieces acknowledged, or the first
//! failure) is reported against the command that sent it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::time::{Duration, Instant};

use ipc::{Delivery, Failure, FailureKind, TextFormat};

use super::codec::{encode, Frame};
use super::message::{self, Reassembler};
use super::{errors, escape, handles, roster};

#[path = "sb/closing.rs"]
mod closing;
#[path = "sb/file_link.rs"]
mod file_link;
#[path = "sb/incoming.rs"]
mod incoming;
#[path = "sb/transfers.rs"]
pub mod transfers;
#[path = "sb/transfers_out.rs"]
pub mod transfers_out;

/// How long an invited contact has to join before queued messages fail.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the server has to acknowledge a message.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a switchboard we left is still read for messages that crossed
/// our `OUT`.
pub const LEAVE_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// We asked for this switchboard (XFR SB) and will invite contacts.
    Calling { cookie: String, invite: Vec<String> },
    /// A contact invited us (RNG).
    Answering { session_id: String, cookie: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SbEvent {
    Joined {
        handle: String,
        friendly_name: String,
    },
    Left {
        handle: String,
    },
    Message {
        from: String,
        text: String,
        format: TextFormat,
    },
    Typing {
        from: String,
    },
    Nudge {
        from: String,
    },
    /// Another place signed in to the account (MSNP16+) wrote this here.
    Echo {
        text: String,
        format: TextFormat,
    },
    /// A contact offers a file (P2P session `session` of this switchboard).
    FileOffered {
        session: u32,
        from: String,
        name: String,
        size: u64,
    },
    FileData {
        session: u32,
        offset: u64,
        data: Vec<u8>,
    },
    FileEnded {
        session: u32,
        outcome: Result<(), String>,
    },
    /// The contact took a file we offer …
    FileAccepted {
        session: u32,
    },
    /// … the piece at `offset` is wanted …
    FileWanted {
        session: u32,
        offset: u64,
    },
    /// … and it is over.
    FileDelivered {
        session: u32,
        outcome: Delivery,
    },
    Notice(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SbOutput {
    Send(Vec<u8>),
    Event(SbEvent),
    Delivery {
        command_id: u64,
        outcome: Delivery,
    },
    /// The first piece of a command's message went onto the wire.
    Sent {
        command_id: u64,
    },
    /// Close the connection. `unsent` are messages never written to this
    /// switchboard, which the caller may send through a new one.
    Closed {
        reason: String,
        unsent: Vec<Outgoing>,
    },
}

/// A message waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// The command to report delivery to (`None`: typing, nudges, declines).
    pub command_id: Option<u64>,
    pub payload: Vec<u8>,
    /// `A` (acknowledge) or `U` (no answer).
    pub ack: char,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Authenticating,
    Ready,
    /// We sent `OUT`. Messages that crossed it are still read (and
    /// acknowledgements of ours) until the server closes the connection or
    /// [`LEAVE_GRACE`] passes.
    Leaving(Instant),
    Closed,
}

/// How the messages written to this switchboard are doing.
#[derive(Debug, Default)]
struct Deliveries {
    /// MSG trid → (command id, sent at).
    awaiting_ack: HashMap<u32, (u64, Instant)>,
    /// Command id → pieces not yet acknowledged.
    pieces_left: HashMap<u64, usize>,
    /// Commands whose first piece this switchboard has written.
    announced_sent: std::collections::HashSet<u64>,
}

pub struct SbSession {
    /// Our bare address, to know ourselves among the participants.
    account: String,
    /// What we authenticate as: the address, with our endpoint from
    /// MSNP16 (`relay@example.com;{guid}`).
    login: String,
    role: Role,
    state: State,
    next_trid: u32,
    /// Other participants, keyed by lower-cased handle.
    participants: BTreeMap<String, (String, String)>,
    /// Invitations sent and not yet answered by a JOI: trid → handle.
    calls: HashMap<u32, String>,
    queue: VecDeque<Outgoing>,
    deliveries: Deliveries,
    reassembler: Reassembler,
    /// Files contacts send (MSNP2P through this switchboard).
    transfers: transfers::Transfers,
    /// `MSG` trid → P2P session, for the data packets of files we send
    /// that the switchboard has not acknowledged yet.
    file_trids: HashMap<u32, u32>,
    started: Instant,
    ever_joined: bool,
}

fn failure(kind: FailureKind, detail: impl Into<String>) -> Failure {
    Failure {
        kind,
        detail: detail.into(),
    }
}

impl SbSession {
    /// A switchboard session logging in as `login` (`address` or, from
    /// MSNP16, `address;{machine-guid}`).
    pub fn new(login: &str, role: Role, now: Instant) -> Self {
        SbSession {
            account: handles::email(login),
            login: login.to_owned(),
            role,
            state: State::Authenticating,
            next_trid: 1,
            participants: BTreeMap::new(),
            calls: HashMap::new(),
            queue: VecDeque::new(),
            deliveries: Deliveries::default(),
            reassembler: Reassembler::default(),
            transfers: transfers::Transfers::new(&handles::email(login)),
            file_trids: HashMap::new(),
            started: now,
            ever_joined: false,
        }
    }

    pub fn participants(&self) -> impl Iterator<Item = &str> {
        self.participants.values().map(|(h, _)| h.as_str())
    }

    pub fn has_participant(&self, handle: &str) -> bool {
        self.participants.contains_key(&handle.to_ascii_lowercase())
    }

    /// Closed, or leaving: either way it carries nothing new.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed | State::Leaving(_))
    }

    fn trid(&mut self) -> u32 {
        let t = self.next_trid;
        self.next_trid = self.next_trid.checked_add(1).unwrap_or(1);
        t
    }

    /// The first line on a fresh connection: `USR` or `ANS`.
    pub fn start(&mut self) -> Vec<SbOutput> {
        let t = self.trid();
        let account = self.login.clone();
        let line = match &self.role {
            Role::Calling { cookie, .. } => encode("USR", Some(t), &[&account, cookie], None),
            Role::Answering { session_id, cookie } => {
                encode("ANS", Some(t), &[&account, cookie, session_id], None)
            }
        };
        vec![SbOutput::Send(line)]
    }

    /// Queues a text message (split to fit the size limit), reporting its
    /// delivery against `command_id`.
    pub fn send_text(&mut self, command_id: u64, text: &str, format: &TextFormat) -> Vec<SbOutput> {
        let pieces = message::split_for_msg(text, format);
        self.deliveries.pieces_left.insert(command_id, pieces.len());
        for piece in pieces {
            self.queue.push_back(Outgoing {
                command_id: Some(command_id),
                payload: message::text_payload(&piece, format),
                ack: 'A',
            });
        }
        self.flush()
    }

    pub fn send_typing(&mut self) -> Vec<SbOutput> {
        let payload = message::typing_payload(&self.account);
        self.send_unacknowledged(payload)
    }

    pub fn send_nudge(&mut self) -> Vec<SbOutput> {
        self.send_unacknowledged(message::nudge_payload())
    }

    fn send_unacknowledged(&mut self, payload: Vec<u8>) -> Vec<SbOutput> {
        // Typing into an empty switchboard is pointless; do not queue it.
        if self.state != State::Ready || self.participants.is_empty() {
            return Vec::new();
        }
        self.queue.push_back(Outgoing {
            command_id: None,
            payload,
            ack: 'U',
        });
        self.flush()
    }

    /// Re-queues messages a closed switchboard never sent.
    pub fn requeue(&mut self, unsent: Vec<Outgoing>) -> Vec<SbOutput> {
        for o in unsent {
            if let Some(id) = o.command_id {
                *self.deliveries.pieces_left.entry(id).or_insert(0) += 1;
            }
            self.queue.push_back(o);
        }
        self.flush()
    }

    /// Invites another contact into this switchboard.
    pub fn invite(&mut self, handle: &str) -> Vec<SbOutput> {
        if self.state != State::Ready || self.has_participant(handle) {
            return Vec::new();
        }
        let t = self.trid();
        self.calls.insert(t, handle.to_owned());
        vec![SbOutput::Send(encode("CAL", Some(t), &[handle], None))]
    }

    fn flush(&mut self) -> Vec<SbOutput> {
        let mut out = Vec::new();
        if self.state != State::Ready || self.participants.is_empty() {
            return out;
        }
        while let Some(o) = self.queue.pop_front() {
            let t = self.trid();
            if let (Some(id), 'A') = (o.command_id, o.ack) {
                self.deliveries.awaiting_ack.insert(t, (id, Instant::now()));
            }
            let ack = o.ack.to_string();
            out.push(SbOutput::Send(encode("MSG", Some(t), &[&ack], Some(&o.payload))));
            if let Some(id) = o.command_id {
                if self.deliveries.announced_sent.insert(id) {
                    out.push(SbOutput::Sent { command_id: id });
                }
            }
        }
        out
    }

    fn deliver(&mut self, out: &mut Vec<SbOutput>, command_id: u64, result: Result<(), Failure>) {
        match result {
            Ok(()) => {
                let Some(left) = self.deliveries.pieces_left.get_mut(&command_id) else {
                    return;
                };
                *left = left.saturating_sub(1);
                if *left == 0 {
                    self.deliveries.pieces_left.remove(&command_id);
                    self.deliveries.announced_sent.remove(&command_id);
                    out.push(SbOutput::Delivery {
                        command_id,
                        outcome: Delivery::Delivered,
                    });
                }
            }
            Err(f) => {
                // Report the first failure once; later pieces are moot.
                if self.deliveries.pieces_left.remove(&command_id).is_some() {
                    out.push(SbOutput::Delivery {
                        command_id,
                        outcome: Delivery::Failed(f),
                    });
                }
            }
        }
    }

    /// Fails everything queued with `f` (nobody will join).
    fn fail_queue(&mut self, out: &mut Vec<SbOutput>, f: &Failure) {
        let queued: Vec<Outgoing> = self.queue.drain(..).collect();
        for o in queued {
            if let Some(id) = o.command_id {
                self.deliver(out, id, Err(f.clone()));
            }
        }
    }

    pub fn on_frame(&mut self, frame: Frame, now: Instant) -> Vec<SbOutput> {
        let mut out = Vec::new();
        if self.state == State::Closed {
            return out;
        }
        if let State::Leaving(_) = self.state {
            // Only what crossed our OUT, and the end.
            match frame.cmd.as_str() {
                "MSG" => self.on_msg(&mut out, &frame, now),
                "ACK" | "NAK" => self.answered(&mut out, &frame),
                "OUT" => self.close(&mut out, "left the conversation"),
                _ => {}
            }
            return out;
        }
        if let Some(code) = frame.error_code() {
            self.on_error(&mut out, code, frame.trid());
            return out;
        }
        match frame.cmd.as_str() {
            "USR" if frame.arg(1) == Some("OK") && self.state == State::Authenticating => {
                self.state = State::Ready;
                if let Role::Calling { invite, .. } = &self.role {
                    for handle in invite.clone() {
                        out.extend(self.invite(&handle));
                    }
                }
            }
            "IRO" => {
                // IRO <t> <index> <total> <email>[;{guid}] <name> [<client-id>]
                if let (Some(h), name) = (frame.arg(3), frame.arg(4)) {
                    self.joined(&mut out, &handles::email(h), name);
                }
            }
            "ANS" if frame.arg(1) == Some("OK") => {
                self.state = State::Ready;
                out.extend(self.flush());
            }
            "CAL" => {
                // CAL <t> RINGING <session>: the invitation is out; JOI follows.
            }
            "JOI" => {
                if let Some(h) = frame.arg(0).map(handles::email) {
                    self.calls.retain(|_, c| !c.eq_ignore_ascii_case(&h));
                    self.joined(&mut out, &h, frame.arg(1));
                    out.extend(self.flush());
                }
            }
            // MSNP16+: one endpoint of someone left; they are still here
            // until a BYE with the bare address.
            "BYE" if frame.arg(0).is_some_and(|h| h.contains(';')) => {}
            "BYE" => {
                if let Some(h) = frame.arg(0) {
                    if self.participants.remove(&h.to_ascii_lowercase()).is_some() {
                        out.push(SbOutput::Event(SbEvent::Left { handle: h.to_owned() }));
                    }
                    if self.participants.is_empty() && self.calls.is_empty() {
                        out.push(SbOutput::Send(encode("OUT", None, &[], None)));
                        self.close(&mut out, "everyone left");
                    }
                }
            }
            "ACK" | "NAK" => self.answered(&mut out, &frame),
            "MSG" => self.on_msg(&mut out, &frame, now),
            "OUT" => self.close(&mut out, "the server closed the conversation"),
            _ => tracing::debug!("switchboard: ignored {}", frame.line()),
        }
        out
    }

    /// `ACK`/`NAK` of one of our messages.
    fn answered(&mut self, out: &mut Vec<SbOutput>, frame: &Frame) {
        let Some(t) = frame.trid() else { return };
        let ok = frame.cmd == "ACK";
        if self.file_packet_answered(out, t, ok, "NAK") {
            return;
        }
        if let Some((id, _)) = self.deliveries.awaiting_ack.remove(&t) {
            self.acknowledged(out, id, ok);
        }
    }

    fn acknowledged(&mut self, out: &mut Vec<SbOutput>, command_id: u64, ok: bool) {
        let result = if ok {
            Ok(())
        } else {
            Err(failure(
                FailureKind::Rejected,
                "the switchboard could not deliver it (NAK)",
            ))
        };
        self.deliver(out, command_id, result);
    }

    fn joined(&mut self, out: &mut Vec<SbOutput>, handle: &str, name: Option<&str>) {
        if handle.eq_ignore_ascii_case(&self.account) || !roster::valid_handle(handle) {
            return;
        }
        let name = name.map(escape::decode).unwrap_or_else(|| handle.to_owned());
        let key = handle.to_ascii_lowercase();
        if self.participants.contains_key(&key) {
            return;
        }
        self.ever_joined = true;
        self.participants.insert(key, (handle.to_owned(), name.clone()));
        out.push(SbOutput::Event(SbEvent::Joined {
            handle: handle.to_owned(),
            friendly_name: name,
        }));
    }

    fn on_error(&mut self, out: &mut Vec<SbOutput>, code: u16, trid: Option<u32>) {
        let text = format!("{code} {}", errors::describe(code));
        if self.state == State::Authenticating {
            let f = failure(
                FailureKind::ServerError,
                format!("switchboard refused us: {text}"),
            );
            self.fail_queue(out, &f);
            self.close(out, &text);
            return;
        }
        let Some(t) = trid else {
            // Escargot sends a bare 207 for a CAL to an unknown account.
            if !self.calls.is_empty() && self.participants.is_empty() {
                self.calls.clear();
                let f = failure(FailureKind::NotOnList, text.clone());
                self.fail_queue(out, &f);
                self.close(out, &text);
            }
            return;
        };
        if let Some(handle) = self.calls.remove(&t) {
            let kind = match code {
                217 | 208 => FailureKind::ContactOffline,
                _ => errors::failure_kind(code),
            };
            out.push(SbOutput::Event(SbEvent::Notice(format!(
                "cannot reach {handle}: {text}"
            ))));
            if self.participants.is_empty() && self.calls.is_empty() {
                let f = failure(kind, format!("{handle}: {text}"));
                self.fail_queue(out, &f);
                self.close(out, &text);
            }
        } else if self.file_packet_answered(out, t, false, &text) {
        } else if let Some((id, _)) = self.deliveries.awaiting_ack.remove(&t) {
            self.deliver(out, id, Err(failure(errors::failure_kind(code), text)));
        } else {
            tracing::debug!("switchboard error for transaction {t}: {text}");
        }
    }
}

#[cfg(test)]
#[path = "sb/sb_tests.rs"]
mod tests;
