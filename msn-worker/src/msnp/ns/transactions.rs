//! Transaction ids on the notification server, and what each one we sent
//! is for: a step of a bouncer command (the last step's reply answers it,
//! and one failed step fails it once), a switchboard request, or our own
//! housekeeping.

use std::collections::HashMap;

use ipc::{CommandResult, Failure};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pending {
    /// A step of a bouncer command; `last` steps report its result.
    Command {
        id: u64,
        last: bool,
    },
    Switchboard {
        token: u64,
    },
    /// Our own housekeeping (initial CHG, auto-accept …): errors are logged.
    Internal(&'static str),
}

/// What a server error for one of our transactions means.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// Answer bouncer command `id`.
    Command(u64, CommandResult),
    Switchboard(u64, Failure),
    /// Our own step failed (logged), or nothing to say.
    Quiet,
}

#[derive(Debug)]
pub struct Transactions {
    next: u32,
    pending: HashMap<u32, Pending>,
    /// Commands a step of which failed (answered already).
    failed: HashMap<u64, bool>,
}

impl Default for Transactions {
    fn default() -> Self {
        Transactions {
            next: 1,
            pending: HashMap::new(),
            failed: HashMap::new(),
        }
    }
}

impl Transactions {
    /// A new transaction id, noting what it is for.
    pub fn open(&mut self, pending: Option<Pending>) -> u32 {
        let t = self.next;
        self.next = self.next.checked_add(1).unwrap_or(1);
        if let Some(p) = pending {
            self.pending.insert(t, p);
        }
        t
    }

    /// The server answered transaction `t`: the command it completes.
    pub fn completed(&mut self, t: u32) -> Option<u64> {
        match self.pending.remove(&t) {
            Some(Pending::Command { id, last: true }) => self.failed.remove(&id).is_none().then_some(id),
            Some(Pending::Switchboard { token }) => {
                // Only XFR answers these; anything else is out of line.
                self.pending.insert(t, Pending::Switchboard { token });
                None
            }
            Some(Pending::Command { last: false, .. }) | Some(Pending::Internal(_)) | None => None,
        }
    }

    /// The switchboard request `t` answers, if it is one.
    pub fn switchboard(&mut self, t: u32) -> Option<u64> {
        match self.pending.remove(&t)? {
            Pending::Switchboard { token } => Some(token),
            other => {
                self.pending.insert(t, other);
                None
            }
        }
    }

    /// The server refused transaction `t` with `failure` (`harmless`: the
    /// state asked for is already so).
    pub fn refused(&mut self, t: u32, harmless: bool, failure: Failure) -> Refused {
        match self.pending.remove(&t) {
            Some(Pending::Command { id, last }) if harmless => match last {
                true => Refused::Command(id, CommandResult::Ok),
                false => Refused::Quiet,
            },
            Some(Pending::Command { id, .. }) => match self.failed.insert(id, true) {
                None => Refused::Command(id, CommandResult::Failed(failure)),
                Some(_) => Refused::Quiet,
            },
            Some(Pending::Switchboard { token }) => Refused::Switchboard(token, failure),
            Some(Pending::Internal(what)) => {
                if !harmless {
                    tracing::warn!("{what} failed: {}", failure.detail);
                }
                Refused::Quiet
            }
            None => {
                tracing::warn!("server error for unknown transaction {t}: {}", failure.detail);
                Refused::Quiet
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc::FailureKind;

    fn failure() -> Failure {
        Failure {
            kind: FailureKind::Rejected,
            detail: "201".into(),
        }
    }

    #[test]
    fn a_command_of_several_steps_is_answered_once() {
        let mut t = Transactions::default();
        let a = t.open(Some(Pending::Command { id: 9, last: false }));
        let b = t.open(Some(Pending::Command { id: 9, last: true }));
        assert_eq!(
            t.refused(a, false, failure()),
            Refused::Command(9, CommandResult::Failed(failure()))
        );
        assert_eq!(t.completed(b), None, "failed already: not answered again");
        let c = t.open(Some(Pending::Command { id: 10, last: true }));
        assert_eq!(t.completed(c), Some(10));
        let d = t.open(Some(Pending::Command { id: 11, last: true }));
        assert_eq!(
            t.refused(d, true, failure()),
            Refused::Command(11, CommandResult::Ok)
        );
    }

    #[test]
    fn switchboard_requests_are_answered_only_by_xfr() {
        let mut t = Transactions::default();
        let x = t.open(Some(Pending::Switchboard { token: 4 }));
        assert_eq!(t.completed(x), None);
        assert_eq!(t.switchboard(x), Some(4));
        assert_eq!(t.switchboard(x), None);
        let y = t.open(Some(Pending::Internal("initial status")));
        assert_eq!(t.switchboard(y), None);
        assert_eq!(t.refused(y, false, failure()), Refused::Quiet);
    }
}
