//! The switchboard's side of file transfers (`transfers.rs`,
//! `transfers_out.rs`): P2P packets go out as `MSG … D` addressed with
//! `P2P-Dest`; the data packets of a file we send are counted until the
//! switchboard acknowledges them, which paces the transfer; whatever the
//! transfers report becomes the session's events.

use std::time::Instant;

use super::super::codec::encode;
use super::transfers::Action;
use super::{Outgoing, SbEvent, SbOutput, SbSession};

fn p2p_payload(to: &str, packet: &[u8]) -> Vec<u8> {
    let mut payload =
        format!("MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: {to}\r\n\r\n")
            .into_bytes();
    payload.extend_from_slice(packet);
    payload
}

impl SbSession {
    /// The bouncer takes or declines file `session`.
    pub fn answer_file(&mut self, session: u32, accept: bool) -> Vec<SbOutput> {
        let mut out = Vec::new();
        let actions = self.transfers.answer(session, accept, Instant::now());
        self.file_actions(&mut out, actions);
        out
    }

    /// Offers `to` a file: its P2P session, and what to send. The
    /// invitation waits in the queue until `to` is in the switchboard.
    pub fn offer_file(&mut self, to: &str, name: &str, size: u64, now: Instant) -> (u32, Vec<SbOutput>) {
        let (session, actions) = self.transfers.offer(to, name, size, now);
        for a in actions {
            if let Action::Send { to, packet } = a {
                self.queue.push_back(Outgoing {
                    command_id: None,
                    payload: p2p_payload(&to, &packet),
                    ack: 'D',
                });
            }
        }
        (session, self.flush())
    }

    /// The bouncer's piece of a file we send.
    pub fn file_data(&mut self, session: u32, offset: u64, data: &[u8]) -> Vec<SbOutput> {
        let mut out = Vec::new();
        let actions = self.transfers.data(session, offset, data, Instant::now());
        self.file_actions(&mut out, actions);
        out
    }

    /// The switchboard acknowledged (`ok`) or refused message `trid`:
    /// true if it was a file's data packet.
    pub(super) fn file_packet_answered(
        &mut self,
        out: &mut Vec<SbOutput>,
        trid: u32,
        ok: bool,
        why: &str,
    ) -> bool {
        let Some(session) = self.file_trids.remove(&trid) else {
            return false;
        };
        let actions = if ok {
            self.transfers.written(session)
        } else {
            let mut actions = Vec::new();
            let outcome = ipc::Delivery::Failed(ipc::Failure {
                kind: ipc::FailureKind::ServerError,
                detail: format!("the switchboard refused a piece of it ({why})"),
            });
            self.transfers.cancel(&mut actions, session, outcome);
            actions
        };
        self.file_actions(out, actions);
        true
    }

    /// One packet as `MSG … D`; a data packet of `paced` (a file we
    /// send) is counted until the switchboard acknowledges it.
    fn send_packet(&mut self, out: &mut Vec<SbOutput>, to: &str, packet: &[u8], paced: Option<u32>) {
        let t = self.trid();
        if let Some(session) = paced {
            self.file_trids.insert(t, session);
        }
        out.push(SbOutput::Send(encode(
            "MSG",
            Some(t),
            &["D"],
            Some(&p2p_payload(to, packet)),
        )));
    }

    pub(super) fn file_actions(&mut self, out: &mut Vec<SbOutput>, actions: Vec<Action>) {
        for a in actions {
            let event = match a {
                Action::Send { to, packet } => {
                    self.send_packet(out, &to, &packet, None);
                    continue;
                }
                Action::SendData { to, session, packet } => {
                    self.send_packet(out, &to, &packet, Some(session));
                    continue;
                }
                Action::Offered {
                    session,
                    from,
                    name,
                    size,
                } => SbEvent::FileOffered {
                    session,
                    from,
                    name,
                    size,
                },
                Action::Data {
                    session,
                    offset,
                    data,
                } => SbEvent::FileData {
                    session,
                    offset,
                    data,
                },
                Action::Ended { session, outcome } => SbEvent::FileEnded { session, outcome },
                Action::Accepted { session } => SbEvent::FileAccepted { session },
                Action::Wanted { session, offset } => SbEvent::FileWanted { session, offset },
                Action::Delivered { session, outcome } => {
                    self.file_trids.retain(|_, s| *s != session);
                    SbEvent::FileDelivered { session, outcome }
                }
            };
            out.push(SbOutput::Event(event));
        }
    }
}
