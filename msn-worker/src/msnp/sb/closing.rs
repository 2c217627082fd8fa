//! How a switchboard session ends: leaving politely (`OUT`, then
//! reading what crossed it), the connection closing (messages in flight
//! fail, messages never written are handed on, file transfers end), and
//! the timeouts that close it.

use std::time::Instant;

use ipc::FailureKind;

use super::super::codec::encode;
use super::{failure, Outgoing, SbOutput, SbSession, State, ACK_TIMEOUT, JOIN_TIMEOUT, LEAVE_GRACE};

impl SbSession {
    /// Leaves politely: `OUT`, then keep reading what crossed it (the
    /// session still routes it) until the server hangs up. Messages still
    /// queued fail: the conversation was closed on purpose.
    pub fn leave(&mut self, now: Instant) -> Vec<SbOutput> {
        let mut out = Vec::new();
        match self.state {
            State::Closed | State::Leaving(_) => {}
            State::Authenticating => {
                out.push(SbOutput::Send(encode("OUT", None, &[], None)));
                self.close(&mut out, "left the conversation");
            }
            State::Ready => {
                // Files in either direction end with the conversation.
                let ended = self.transfers.closed("the conversation was closed");
                self.file_actions(&mut out, ended);
                out.push(SbOutput::Send(encode("OUT", None, &[], None)));
                let f = failure(
                    FailureKind::Rejected,
                    "the conversation was closed before it was sent",
                );
                self.fail_queue(&mut out, &f);
                self.state = State::Leaving(now);
            }
        }
        out
    }

    pub(super) fn close(&mut self, out: &mut Vec<SbOutput>, reason: &str) {
        if self.state == State::Closed {
            return;
        }
        self.state = State::Closed;
        let in_flight: Vec<u64> = self
            .deliveries
            .awaiting_ack
            .drain()
            .map(|(_, (id, _))| id)
            .collect();
        for id in in_flight {
            self.deliver(
                out,
                id,
                Err(failure(
                    FailureKind::ServerError,
                    format!("switchboard closed before acknowledging ({reason})"),
                )),
            );
        }
        let ended = self.transfers.closed(reason);
        self.file_actions(out, ended);
        // A file's packets belong to this switchboard's P2P sessions.
        let unsent: Vec<Outgoing> = self.queue.drain(..).filter(|o| o.ack != 'D').collect();
        for o in &unsent {
            if let Some(id) = o.command_id {
                self.deliveries.pieces_left.remove(&id);
            }
        }
        out.push(SbOutput::Closed {
            reason: reason.to_owned(),
            unsent,
        });
    }

    /// The connection ended (EOF or error).
    pub fn connection_lost(&mut self, why: &str) -> Vec<SbOutput> {
        let mut out = Vec::new();
        self.close(&mut out, why);
        out
    }

    /// Timeouts: unacknowledged messages and contacts that never join.
    pub fn tick(&mut self, now: Instant) -> Vec<SbOutput> {
        let mut out = Vec::new();
        let expired: Vec<(u32, u64)> = self
            .deliveries
            .awaiting_ack
            .iter()
            .filter(|(_, (_, sent))| now.duration_since(*sent) > ACK_TIMEOUT)
            .map(|(t, (id, _))| (*t, *id))
            .collect();
        for (t, id) in expired {
            self.deliveries.awaiting_ack.remove(&t);
            self.deliver(
                &mut out,
                id,
                Err(failure(
                    FailureKind::TimedOut,
                    "no acknowledgement from the switchboard",
                )),
            );
        }
        let late = self.transfers.tick(now);
        self.file_actions(&mut out, late);
        if let State::Leaving(since) = self.state {
            if now.duration_since(since) > LEAVE_GRACE {
                self.close(&mut out, "left the conversation");
            }
            return out;
        }
        if !self.ever_joined && self.state != State::Closed && now.duration_since(self.started) > JOIN_TIMEOUT
        {
            let f = failure(FailureKind::TimedOut, "the contact did not join the conversation");
            self.fail_queue(&mut out, &f);
            self.close(&mut out, "nobody joined");
        }
        out
    }
}
