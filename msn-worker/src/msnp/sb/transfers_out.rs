//! Files we send to a contact through the switchboard (`docs/msnp2p.md`
//! §5), sans-IO: the `INVITE` with the file's context; the contact's
//! `200 OK` (the bouncer is asked for the data, piece by piece) or `603`;
//! the data as one P2P message in 1202-byte packets, at most [`WINDOW`]
//! of them unacknowledged by the switchboard, so neither the worker nor
//! the connection ever holds more than a few KiB of a file; the
//! contact's acknowledgement of the whole is delivery; then our `BYE`.

use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ipc::{Delivery, Failure, FailureKind};

use super::super::p2p::{self, app, flags, Header};
use super::super::slp::{self, Start};
use super::transfers::{Action, Transfers};

// Each piece the bouncer hands over goes out as one P2P packet.
const _: () = assert!(ipc::FILE_PIECE <= p2p::MAX_CHUNK);

/// Data packets written and not yet acknowledged by the switchboard.
pub const WINDOW: usize = 4;
/// How long the contact has to take or decline a file.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a transfer may go without progress once it is under way.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The `INVITE` is out.
    Invited,
    /// Taken: `next` is the next offset to send; `asked` whether the
    /// bouncer has been asked for it; `unacked` data packets in flight.
    Sending { next: u64, asked: bool, unacked: usize },
    /// All data is out; the contact's acknowledgement is awaited.
    Sent,
}

#[derive(Debug, Clone)]
pub(super) struct Sending {
    to: String,
    call_id: String,
    size: u64,
    stage: Stage,
    /// The data message's identifier (what the contact's ack names).
    data_id: u32,
    /// When it last moved.
    moved: Instant,
}

/// A `{8-4-4-4-12}` GUID from fresh random bytes.
fn guid() -> String {
    let mut b = [0u8; 16];
    // Only uniqueness matters here; should the system's randomness fail,
    // the clock still tells transfers apart.
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        b = nanos.to_le_bytes();
    }
    let h: String = b.iter().map(|x| format!("{x:02X}")).collect();
    format!(
        "{{{}-{}-{}-{}-{}}}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// The version-2 file context (`docs/msnp2p.md` §3.6): 574 bytes, type
/// 1 (no preview), the name as UTF-16 in 520 bytes, `FF FF FF FF` last.
pub fn build_context(name: &str, size: u64) -> String {
    let mut raw = Vec::with_capacity(574);
    raw.extend_from_slice(&574u32.to_le_bytes());
    raw.extend_from_slice(&2u32.to_le_bytes());
    raw.extend_from_slice(&size.to_le_bytes());
    raw.extend_from_slice(&1u32.to_le_bytes());
    for unit in name.encode_utf16().take(259) {
        raw.extend_from_slice(&unit.to_le_bytes());
    }
    raw.resize(570, 0);
    raw.extend_from_slice(&[0xff; 4]);
    B64.encode(raw)
}

fn failed(kind: FailureKind, detail: impl Into<String>) -> Delivery {
    Delivery::Failed(Failure {
        kind,
        detail: detail.into(),
    })
}

impl Transfers {
    /// Offers file `name` of `size` bytes to `to`: the session's id and
    /// the `INVITE`'s packets. The bouncer is asked for the data once the
    /// contact takes it.
    pub fn offer(&mut self, to: &str, name: &str, size: u64, now: Instant) -> (u32, Vec<Action>) {
        let session = loop {
            let s = self.id() & 0x7fff_ffff;
            if s != 0 && !self.sessions.contains_key(&s) && !self.sending.contains_key(&s) {
                break s;
            }
        };
        let (call_id, branch) = (guid(), guid());
        let id = session.to_string();
        let context = build_context(name, size);
        let actions = self.request(
            ("INVITE", to, &call_id, &branch),
            "application/x-msnmsgr-sessionreqbody",
            &[
                ("EUF-GUID", slp::FILE_TRANSFER),
                ("SessionID", &id),
                ("AppID", "2"),
                ("Context", &context),
            ],
        );
        let data_id = self.id();
        self.sending.insert(
            session,
            Sending {
                to: to.to_owned(),
                call_id,
                size,
                stage: Stage::Invited,
                data_id,
                moved: now,
            },
        );
        (session, actions)
    }

    /// The session of ours an MSNSLP answer or `BYE` belongs to.
    pub(super) fn sending_call(&self, call_id: &str) -> Option<u32> {
        self.sending
            .iter()
            .find(|(_, s)| s.call_id == call_id)
            .map(|(id, _)| *id)
    }

    /// The contact answered our `INVITE` (`200`, `603` …).
    pub(super) fn answered(&mut self, out: &mut Vec<Action>, session: u32, code: u16, now: Instant) {
        let Some(s) = self.sending.get_mut(&session) else {
            return;
        };
        if s.stage != Stage::Invited {
            // A second answer (another place of theirs): the first counts.
            return;
        }
        if code != 200 {
            let why = match code {
                603 => failed(FailureKind::Rejected, format!("{} declined it", s.to)),
                _ => failed(
                    FailureKind::ServerError,
                    format!("{}'s Messenger refused it (MSNSLP {code})", s.to),
                ),
            };
            self.sending.remove(&session);
            out.push(Action::Delivered {
                session,
                outcome: why,
            });
            return;
        }
        s.stage = Stage::Sending {
            next: 0,
            asked: false,
            unacked: 0,
        };
        s.moved = now;
        out.push(Action::Accepted { session });
        self.ask(out, session);
    }

    /// Asks the bouncer for the next piece, if the window has room.
    fn ask(&mut self, out: &mut Vec<Action>, session: u32) {
        let Some(s) = self.sending.get_mut(&session) else {
            return;
        };
        if let Stage::Sending {
            next,
            asked: asked @ false,
            unacked,
        } = &mut s.stage
        {
            if *unacked < WINDOW && *next < s.size {
                *asked = true;
                out.push(Action::Wanted {
                    session,
                    offset: *next,
                });
            }
        }
    }

    /// The bouncer's piece of the file at `offset`.
    pub fn data(&mut self, session: u32, offset: u64, bytes: &[u8], now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let Some(s) = self.sending.get_mut(&session) else {
            return out;
        };
        let Stage::Sending { next, unacked, .. } = s.stage else {
            return out;
        };
        let end = offset.saturating_add(bytes.len() as u64);
        if offset != next || bytes.is_empty() || bytes.len() > ipc::FILE_PIECE || end > s.size {
            let why = format!(
                "the file's data did not follow on ({} bytes at {offset}, expected {next} of {})",
                bytes.len(),
                s.size
            );
            self.cancel(&mut out, session, failed(FailureKind::InvalidArgument, why));
            return out;
        }
        let header = Header {
            session,
            identifier: s.data_id,
            offset,
            total: s.size,
            flags: flags::FILE_DATA,
            ack_session: s.data_id ^ 0x2468_1357,
            ..Header::default()
        };
        out.push(Action::SendData {
            to: s.to.clone(),
            session,
            packet: p2p::build(header, bytes, app::FILE),
        });
        s.moved = now;
        s.stage = match end == s.size {
            true => Stage::Sent,
            false => Stage::Sending {
                next: end,
                asked: false,
                unacked: unacked + 1,
            },
        };
        self.ask(&mut out, session);
        out
    }

    /// The switchboard took one of `session`'s data packets.
    pub fn written(&mut self, session: u32) -> Vec<Action> {
        let mut out = Vec::new();
        if let Some(Stage::Sending { unacked, .. }) = self.sending.get_mut(&session).map(|s| &mut s.stage) {
            *unacked = unacked.saturating_sub(1);
        }
        self.ask(&mut out, session);
        out
    }

    /// The contact acknowledged a whole message: the file, if it names ours.
    pub(super) fn acked(&mut self, out: &mut Vec<Action>, h: &Header) {
        let Some((&session, s)) = self.sending.iter().find(|(_, s)| s.data_id == h.ack_session) else {
            return;
        };
        if s.stage != Stage::Sent || h.ack_size != s.size {
            return;
        }
        let s = s.clone();
        self.sending.remove(&session);
        out.push(Action::Delivered {
            session,
            outcome: Delivery::Delivered,
        });
        out.extend(self.bye(&s, session));
    }

    /// The contact ended one of our sessions (`BYE`) before the end.
    pub(super) fn ended_by_them(&mut self, out: &mut Vec<Action>, session: u32) {
        if let Some(s) = self.sending.remove(&session) {
            let why = match s.stage {
                Stage::Invited => format!("{} did not take it", s.to),
                _ => format!("{} cancelled it", s.to),
            };
            out.push(Action::Delivered {
                session,
                outcome: failed(FailureKind::Rejected, why),
            });
        }
    }

    /// Stops sending `session`: our `BYE`, and the outcome.
    pub fn cancel(&mut self, out: &mut Vec<Action>, session: u32, outcome: Delivery) {
        if let Some(s) = self.sending.remove(&session) {
            out.extend(self.bye(&s, session));
            out.push(Action::Delivered { session, outcome });
        }
    }

    fn bye(&mut self, s: &Sending, session: u32) -> Vec<Action> {
        self.bye_to(&s.to.clone(), &s.call_id.clone(), session)
    }

    /// Our `BYE` for call `call_id` (session `session`) with `to`.
    pub(super) fn bye_to(&mut self, to: &str, call_id: &str, session: u32) -> Vec<Action> {
        let id = session.to_string();
        let branch = guid();
        self.request(
            ("BYE", to, call_id, &branch),
            "application/x-msnmsgr-sessionclosebody",
            &[("SessionID", &id)],
        )
    }

    /// An MSNSLP request of ours — `(method, to, call, branch)` — in packets.
    fn request(
        &mut self,
        (method, to, call_id, branch): (&str, &str, &str, &str),
        content: &str,
        body: &[(&str, &str)],
    ) -> Vec<Action> {
        let start = Start::Request {
            method: method.into(),
            to: to.to_owned(),
        };
        let (target, me, via) = (
            format!("<msnmsgr:{to}>"),
            format!("<msnmsgr:{}>", self.me),
            format!("MSNSLP/1.0/TLP ;branch={branch}"),
        );
        let headers = [
            ("To", target.as_str()),
            ("From", &me),
            ("Via", &via),
            ("CSeq", "0 "),
            ("Call-ID", call_id),
            ("Max-Forwards", "0"),
            ("Content-Type", content),
        ];
        self.slp_to(to, start, &headers, body)
    }

    /// Sends that waited too long for an answer or for progress.
    pub(super) fn sending_timeouts(&mut self, out: &mut Vec<Action>, now: Instant) {
        let late: Vec<(u32, Stage)> = self
            .sending
            .iter()
            .filter(|(_, s)| {
                let limit = match s.stage {
                    Stage::Invited => ANSWER_TIMEOUT,
                    _ => STALL_TIMEOUT,
                };
                now.duration_since(s.moved) > limit
            })
            .map(|(id, s)| (*id, s.stage))
            .collect();
        for (session, stage) in late {
            let why = match stage {
                Stage::Invited => failed(
                    FailureKind::TimedOut,
                    format!("no answer within {} minutes", ANSWER_TIMEOUT.as_secs() / 60),
                ),
                _ => failed(
                    FailureKind::TimedOut,
                    format!("no progress for {} s", STALL_TIMEOUT.as_secs()),
                ),
            };
            self.cancel(out, session, why);
        }
    }
}

#[cfg(test)]
#[path = "transfers_out_tests.rs"]
mod tests;
