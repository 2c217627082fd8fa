//! Files a contact sends us through the switchboard (MSNP2P version 1
//! with MSNSLP; `docs/msnp2p.md`), sans-IO. An `INVITE` for the
//! file-transfer application is offered to the bouncer, which accepts or
//! declines it; a request for a direct connection is answered so that
//! everything stays in the switchboard; the data must come in order and
//! never past the size announced; every whole message is acknowledged.
//! Bounded: a few transfers at once per switchboard, MSNSLP messages of
//! at most 16 KiB, data never buffered (each piece goes out as it comes).

use std::collections::HashMap;
use std::time::Instant;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::super::p2p::{self, app, flags, Header};
use super::super::slp::{self, Start};
use super::transfers_out::{Sending, STALL_TIMEOUT};
use ipc::{Delivery, Failure, FailureKind};

/// Transfers at once per switchboard.
const MAX_TRANSFERS: usize = 4;
/// MSNSLP messages arriving in pieces at once per switchboard (each at
/// most [`slp::MAX_MESSAGE`]): a stream of first pieces never finished
/// cannot grow without end.
const MAX_PARTIAL: usize = 8;

/// What the switchboard session must do or report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A P2P packet for `to` (sent as `MSG … D` with `P2P-Dest`).
    Send { to: String, packet: Vec<u8> },
    /// A data packet of a file we send: the switchboard's `ACK` of it
    /// makes room for the next ([`Transfers::written`]).
    SendData {
        to: String,
        session: u32,
        packet: Vec<u8>,
    },
    /// `from` offers a file: the bouncer answers with [`Transfers::answer`].
    Offered {
        session: u32,
        from: String,
        name: String,
        size: u64,
    },
    /// The next piece of an accepted file.
    Data {
        session: u32,
        offset: u64,
        data: Vec<u8>,
    },
    /// A transfer is over: whole (`Ok`), or why not.
    Ended {
        session: u32,
        outcome: Result<(), String>,
    },
    /// The contact took a file we offer.
    Accepted { session: u32 },
    /// The bouncer is asked for the piece of a file we send at `offset`
    /// (answered with [`Transfers::data`]).
    Wanted { session: u32, offset: u64 },
    /// A file we offered is over: delivered (the contact acknowledged all
    /// of it), or why not.
    Delivered { session: u32, outcome: Delivery },
}

#[derive(Debug, Clone)]
pub(super) struct Incoming {
    from: String,
    /// The `INVITE`'s identifying headers, for our answers.
    call_id: String,
    branch: String,
    size: u64,
    /// `None` until the bouncer accepts; then the next offset expected.
    next: Option<u64>,
    /// When it last moved.
    moved: Instant,
}

/// An MSNSLP message arriving in several packets.
#[derive(Debug, Default)]
struct Partial {
    data: Vec<u8>,
    /// When its first piece came (the oldest gives way when too many wait).
    since: Option<Instant>,
}

#[derive(Debug)]
pub struct Transfers {
    /// Our address (for MSNSLP `From`).
    pub(super) me: String,
    next_id: u32,
    /// Files coming in, by P2P session.
    pub(super) sessions: HashMap<u32, Incoming>,
    /// Files we send (`transfers_out.rs`), by P2P session.
    pub(super) sending: HashMap<u32, Sending>,
    slp: HashMap<u32, Partial>,
}

/// The name and size in a file-transfer `Context` (base64): a little-
/// endian header length, version, the size (u64 at 8), a type, then the
/// name as UTF-16 (at 20, 520 bytes, NUL-padded).
pub fn file_context(context: &str) -> Option<(String, u64)> {
    let raw = B64.decode(context.trim()).ok()?;
    let size = u64::from_le_bytes(raw.get(8..16)?.try_into().ok()?);
    let name_bytes = raw.get(20..raw.len().min(540))?;
    let units: Vec<u16> = name_bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0)
        .collect();
    Some((String::from_utf16_lossy(&units), size))
}

impl Transfers {
    pub fn new(me: &str) -> Transfers {
        Transfers {
            me: me.to_owned(),
            next_id: 0x4000_0000,
            sessions: HashMap::new(),
            sending: HashMap::new(),
            slp: HashMap::new(),
        }
    }

    pub(super) fn id(&mut self) -> u32 {
        self.next_id = self.next_id.wrapping_add(1);
        self.next_id
    }

    /// An MSNSLP message of ours to `to`, in packets.
    pub(super) fn slp_to(
        &mut self,
        to: &str,
        start: Start,
        headers: &[(&str, &str)],
        body: &[(&str, &str)],
    ) -> Vec<Action> {
        let bytes = slp::build(&start, headers, body);
        let id = self.id();
        p2p::chunks(0, id, flags::NONE, &bytes, app::SLP, id ^ 0x5a5a)
            .into_iter()
            .map(|packet| Action::Send {
                to: to.to_owned(),
                packet,
            })
            .collect()
    }

    /// A P2P packet from `from`.
    pub fn packet(&mut self, from: &str, body: &[u8], now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let packet = match p2p::parse(body) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(%from, "skipped a P2P packet: {e}");
                return out;
            }
        };
        let h = packet.header;
        if h.flags & p2p::flags::ACK != 0 {
            self.acked(&mut out, &h);
            return out;
        }
        if h.flags & (flags::ABORT | flags::CANCELLED) != 0 && h.session != 0 {
            // Cancelled without a BYE (docs/msnp2p.md §6.2, §6.3).
            if self.sending.contains_key(&h.session) {
                self.ended_by_them(&mut out, h.session);
            } else if self.sessions.remove(&h.session).is_some() {
                out.push(Action::Ended {
                    session: h.session,
                    outcome: Err("the sender cancelled it".to_owned()),
                });
            }
            return out;
        }
        if h.session == 0 {
            self.slp_piece(&mut out, from, &h, &packet.data, now);
        } else {
            self.data_piece(&mut out, from, &h, &packet.data, now);
        }
        out
    }

    fn slp_piece(&mut self, out: &mut Vec<Action>, from: &str, h: &Header, data: &[u8], now: Instant) {
        if h.total > slp::MAX_MESSAGE as u64 {
            return;
        }
        if !self.slp.contains_key(&h.identifier) && self.slp.len() >= MAX_PARTIAL {
            // The oldest unfinished one gives way: a peer that never
            // finishes its messages cannot shut out the next answer.
            let oldest = self.slp.iter().min_by_key(|(_, p)| p.since).map(|(id, _)| *id);
            if let Some(id) = oldest {
                tracing::debug!(%from, "too many unfinished MSNSLP messages; dropped the oldest");
                self.slp.remove(&id);
            }
        }
        let partial = self.slp.entry(h.identifier).or_default();
        partial.since.get_or_insert(now);
        if h.offset != partial.data.len() as u64 {
            self.slp.remove(&h.identifier);
            return;
        }
        partial.data.extend_from_slice(data);
        if (partial.data.len() as u64) < h.total {
            return;
        }
        let Some(whole) = self.slp.remove(&h.identifier) else {
            return;
        };
        out.push(Action::Send {
            to: from.to_owned(),
            packet: p2p::ack(h, self.id()),
        });
        match slp::parse(&whole.data) {
            Ok(m) => self.slp_message(out, from, &m, now),
            Err(e) => tracing::debug!(%from, "skipped an MSNSLP message: {e}"),
        }
    }

    fn slp_message(&mut self, out: &mut Vec<Action>, from: &str, m: &slp::Message, now: Instant) {
        let session: u32 = m.field("SessionID").and_then(|s| s.parse().ok()).unwrap_or(0);
        let content = m.header("Content-Type").unwrap_or("");
        let ours = self.sending_call(m.header("Call-ID").unwrap_or(""));
        match (&m.start, content) {
            (Start::Response { code, .. }, _) => match ours {
                Some(session) => self.answered(out, session, *code, now),
                None => tracing::debug!(%from, "an MSNSLP answer to no call of ours"),
            },
            (Start::Request { method, .. }, _) if method == "BYE" && ours.is_some() => {
                if let Some(session) = ours {
                    self.ended_by_them(out, session);
                }
            }
            (Start::Request { method, .. }, "application/x-msnmsgr-sessionreqbody") if method == "INVITE" => {
                self.invited(out, from, m, session, now);
            }
            (Start::Request { method, .. }, "application/x-msnmsgr-transreqbody") if method == "INVITE" => {
                // A direct connection: not from here; the switchboard carries it.
                let answer = self.reply(m, 200, "OK", "application/x-msnmsgr-transrespbody");
                let body = [
                    ("Bridge", "TCPv1"),
                    ("Listening", "false"),
                    ("Nonce", "{00000000-0000-0000-0000-000000000000}"),
                ];
                out.extend(self.slp_to(
                    from,
                    answer.0,
                    &answer.1.iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>(),
                    &body,
                ));
            }
            (Start::Request { method, .. }, _) if method == "BYE" => {
                for (id, t) in self
                    .sessions
                    .iter()
                    .filter(|(_, t)| t.call_id == m.header("Call-ID").unwrap_or(""))
                {
                    let done = t.next.is_some_and(|n| n == t.size);
                    let outcome = if done {
                        Ok(())
                    } else {
                        Err("the sender closed it before the end".to_owned())
                    };
                    out.push(Action::Ended {
                        session: *id,
                        outcome,
                    });
                }
                let call = m.header("Call-ID").unwrap_or("").to_owned();
                self.sessions.retain(|_, t| t.call_id != call);
            }
            _ => tracing::debug!(%from, "ignored an MSNSLP message"),
        }
    }

    fn invited(&mut self, out: &mut Vec<Action>, from: &str, m: &slp::Message, session: u32, now: Instant) {
        let file = m
            .field("EUF-GUID")
            .is_some_and(|g| g.eq_ignore_ascii_case(slp::FILE_TRANSFER));
        let context = m.field("Context").and_then(file_context);
        let fits = self.sessions.len() < MAX_TRANSFERS
            && session != 0
            && !self.sessions.contains_key(&session)
            && !self.sending.contains_key(&session);
        let (Some((name, size)), true, true) = (context, file, fits) else {
            // Not a file (a display picture, a webcam …), or too many.
            out.extend(self.decline_message(from, m, session));
            return;
        };
        self.sessions.insert(
            session,
            Incoming {
                from: from.to_owned(),
                call_id: m.header("Call-ID").unwrap_or("").to_owned(),
                branch: branch(m),
                size,
                next: None,
                moved: now,
            },
        );
        out.push(Action::Offered {
            session,
            from: from.to_owned(),
            name,
            size,
        });
    }

    /// Our answer's start line and headers, for message `m`.
    fn reply(
        &self,
        m: &slp::Message,
        code: u16,
        reason: &str,
        content: &str,
    ) -> (Start, Vec<(&'static str, String)>) {
        let them = m.header("From").unwrap_or("").to_owned();
        let headers = vec![
            ("To", them),
            ("From", format!("<msnmsgr:{}>", self.me)),
            ("Via", format!("MSNSLP/1.0/TLP ;branch={}", branch(m))),
            ("CSeq", "1 ".to_owned()),
            ("Call-ID", m.header("Call-ID").unwrap_or("").to_owned()),
            ("Max-Forwards", "0".to_owned()),
            ("Content-Type", content.to_owned()),
        ];
        (
            Start::Response {
                code,
                reason: reason.to_owned(),
            },
            headers,
        )
    }

    fn decline_message(&mut self, from: &str, m: &slp::Message, session: u32) -> Vec<Action> {
        let (start, headers) = self.reply(m, 603, "Decline", "application/x-msnmsgr-sessionreqbody");
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let session = session.to_string();
        self.slp_to(from, start, &headers, &[("SessionID", &session)])
    }

    /// The bouncer's answer to an offer.
    pub fn answer(&mut self, session: u32, accept: bool, now: Instant) -> Vec<Action> {
        let Some(t) = self.sessions.get(&session).cloned() else {
            return Vec::new();
        };
        let invite = slp::Message {
            start: Start::Request {
                method: "INVITE".into(),
                to: self.me.clone(),
            },
            headers: vec![
                ("From".into(), format!("<msnmsgr:{}>", t.from)),
                ("Call-ID".into(), t.call_id.clone()),
                ("Via".into(), format!("MSNSLP/1.0/TLP ;branch={}", t.branch)),
            ],
            body: Vec::new(),
        };
        if !accept {
            self.sessions.remove(&session);
            return self.decline_message(&t.from, &invite, session);
        }
        if let Some(s) = self.sessions.get_mut(&session) {
            s.next = Some(0);
            s.moved = now;
        }
        let (start, headers) = self.reply(&invite, 200, "OK", "application/x-msnmsgr-sessionreqbody");
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let id = session.to_string();
        self.slp_to(&t.from, start, &headers, &[("SessionID", &id)])
    }

    fn data_piece(&mut self, out: &mut Vec<Action>, from: &str, h: &Header, data: &[u8], now: Instant) {
        let Some(t) = self.sessions.get_mut(&h.session) else {
            return;
        };
        let failed = |why: String| Action::Ended {
            session: h.session,
            outcome: Err(why),
        };
        let Some(next) = t.next else {
            // Data before our 200 OK.
            out.push(failed("data came before the transfer was accepted".into()));
            self.sessions.remove(&h.session);
            return;
        };
        if !t.from.eq_ignore_ascii_case(from) || h.total != t.size || h.offset != next {
            let why = format!(
                "the data did not follow on (offset {} of {}, expected {next} of {})",
                h.offset, h.total, t.size
            );
            out.push(failed(why));
            self.sessions.remove(&h.session);
            return;
        }
        let end = next + data.len() as u64;
        t.next = Some(end);
        t.moved = now;
        out.push(Action::Data {
            session: h.session,
            offset: next,
            data: data.to_vec(),
        });
        if end == t.size {
            let identifier = self.id();
            out.push(Action::Send {
                to: from.to_owned(),
                packet: p2p::ack(h, identifier),
            });
            out.push(Action::Ended {
                session: h.session,
                outcome: Ok(()),
            });
            // The BYE that follows finds nothing left to end.
            self.sessions.remove(&h.session);
        }
    }
}

impl Transfers {
    /// Transfers that waited too long: files coming in that stopped
    /// coming, files we send that got no answer or stopped moving.
    pub fn tick(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        let stalled: Vec<(u32, Incoming)> = self
            .sessions
            .iter()
            .filter(|(_, t)| t.next.is_some() && now.duration_since(t.moved) > STALL_TIMEOUT)
            .map(|(id, t)| (*id, t.clone()))
            .collect();
        for (session, t) in stalled {
            self.sessions.remove(&session);
            out.extend(self.bye_to(&t.from, &t.call_id, session));
            out.push(Action::Ended {
                session,
                outcome: Err(format!("nothing came for {} s", STALL_TIMEOUT.as_secs())),
            });
        }
        self.sending_timeouts(&mut out, now);
        out
    }

    /// The switchboard closed: every transfer in it is over.
    pub fn closed(&mut self, reason: &str) -> Vec<Action> {
        let mut out: Vec<Action> = self
            .sessions
            .drain()
            .map(|(session, _)| Action::Ended {
                session,
                outcome: Err(format!("the conversation's connection closed ({reason})")),
            })
            .collect();
        out.extend(self.sending.drain().map(|(session, _)| Action::Delivered {
            session,
            outcome: Delivery::Failed(Failure {
                kind: FailureKind::ServerError,
                detail: format!("the conversation's connection closed ({reason})"),
            }),
        }));
        self.slp.clear();
        out
    }
}

fn branch(m: &slp::Message) -> String {
    m.header("Via")
        .and_then(|v| v.split("branch=").nth(1))
        .unwrap_or("")
        .trim()
        .to_owned()
}

#[cfg(test)]
#[path = "transfers_tests.rs"]
pub(crate) mod tests;
