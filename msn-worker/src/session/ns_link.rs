//! The notification-server side of the session: which connection is
//! current, how the login is going, and what to do when it ends — try the
//! next server, log in once more after a rejected ticket (servers expire
//! them fast), or give up with the right class. Decisions only; the
//! driver does the I/O.

use std::time::{Duration, Instant};

use ipc::{ServerAddr, SignOutClass};
use tokio::sync::mpsc;

use crate::msnp::ns::NsSession;

/// Most dispatch redirects followed in one login.
pub const MAX_REDIRECTS: usize = 3;

pub struct NsLink {
    pub session: Option<NsSession>,
    /// Numbers connections, so frames from a replaced one are ignored.
    pub conn: u64,
    pub writer: Option<mpsc::Sender<Vec<u8>>>,
    login_started: Instant,
    /// Longest a login may take from TCP connect to the end of the list sync.
    pub login_timeout: Duration,
    redirects: usize,
    ticket_rejections: u32,
    /// The configured servers, and the next one to try.
    servers: Vec<ServerAddr>,
    next_server: usize,
}

/// What to do after the server ended the session.
#[derive(Debug, PartialEq, Eq)]
pub enum AfterEnd {
    /// Log in again, from the first server.
    LogInAgain(ServerAddr),
    End {
        class: SignOutClass,
        reason: String,
        retry_after: Option<Duration>,
    },
}

impl NsLink {
    pub fn new(servers: Vec<ServerAddr>, login_timeout: Duration) -> NsLink {
        NsLink {
            login_timeout,
            session: None,
            conn: 0,
            writer: None,
            login_started: Instant::now(),
            redirects: 0,
            ticket_rejections: 0,
            servers,
            next_server: 0,
        }
    }

    pub fn online(&self) -> bool {
        self.session.as_ref().is_some_and(NsSession::is_online)
    }

    /// A new connection replaces the current one.
    pub fn replace(&mut self) -> u64 {
        self.conn += 1;
        self.session = None;
        self.writer = None;
        self.conn
    }

    /// The login starts: the first server.
    pub fn first_server(&mut self) -> Option<ServerAddr> {
        self.login_started = Instant::now();
        self.next_server = 1;
        self.servers.first().cloned()
    }

    /// A server could not be reached: the next one to try, if any.
    pub fn next_server(&mut self) -> Option<ServerAddr> {
        let next = self.servers.get(self.next_server).cloned()?;
        self.next_server += 1;
        Some(next)
    }

    /// Whether the login has taken too long.
    pub fn login_overdue(&self, now: Instant) -> bool {
        !self.online() && now.duration_since(self.login_started) > self.login_timeout
    }

    /// The dispatch server sends us elsewhere: `Err` when that has gone
    /// on too long.
    pub fn redirected(&mut self) -> Result<(), String> {
        self.redirects += 1;
        match self.redirects > MAX_REDIRECTS {
            true => Err(format!("more than {MAX_REDIRECTS} dispatch redirects")),
            false => Ok(()),
        }
    }

    pub fn ticket_rejected(&mut self) {
        self.ticket_rejections += 1;
    }

    /// The connection closed: how that ends the session.
    pub fn closed(&self, reason: &str) -> (SignOutClass, String) {
        let class = match reason.starts_with("protocol error") {
            true => SignOutClass::ProtocolError,
            false => SignOutClass::Transient,
        };
        let reason = match self.online() {
            true => format!("lost the notification server: {reason}"),
            false => format!("the notification server closed the connection during login: {reason}"),
        };
        (class, reason)
    }

    /// The server ended the session. One rejected ticket may just have
    /// expired: the login is tried once more; twice, the sign-in name is
    /// probably not the registered one.
    pub fn ended(&mut self, class: SignOutClass, reason: String, retry_after: Option<Duration>) -> AfterEnd {
        let transient = class == SignOutClass::Transient;
        if self.ticket_rejections == 1 && transient {
            if let Some(first) = self.servers.first().cloned() {
                self.ticket_rejections += 1;
                self.login_started = Instant::now();
                return AfterEnd::LogInAgain(first);
            }
        }
        if self.ticket_rejections >= 2 && transient {
            return AfterEnd::End {
                class: SignOutClass::WrongCredentials,
                reason: format!(
                    "{reason} twice: check that account.handle is exactly the registered sign-in name (servers compare it case-sensitively)"
                ),
                retry_after: None,
            };
        }
        AfterEnd::End {
            class,
            reason,
            retry_after,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn servers() -> Vec<ServerAddr> {
        ["a", "b"]
            .map(|h| ServerAddr {
                host: h.into(),
                port: 1863,
            })
            .into()
    }

    #[test]
    fn servers_are_tried_in_order() {
        let mut ns = NsLink::new(servers(), Duration::from_secs(60));
        assert_eq!(ns.first_server().map(|s| s.host), Some("a".into()));
        assert_eq!(ns.next_server().map(|s| s.host), Some("b".into()));
        assert_eq!(ns.next_server(), None);
        assert_eq!(ns.replace(), 1);
        assert!(!ns.login_overdue(Instant::now()));
        assert!(ns.login_overdue(Instant::now() + Duration::from_secs(121)));
    }

    #[test]
    fn a_rejected_ticket_is_tried_once_more_then_named_a_credentials_problem() {
        let mut ns = NsLink::new(servers(), Duration::from_secs(60));
        ns.ticket_rejected();
        let again = ns.ended(SignOutClass::Transient, "911".into(), None);
        assert!(matches!(again, AfterEnd::LogInAgain(s) if s.host == "a"));
        match ns.ended(SignOutClass::Transient, "911".into(), None) {
            AfterEnd::End { class, reason, .. } => {
                assert_eq!(class, SignOutClass::WrongCredentials);
                assert!(reason.contains("twice"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let mut ns = NsLink::new(servers(), Duration::from_secs(60));
        let plain = ns.ended(SignOutClass::SignedInElsewhere, "OTH".into(), None);
        assert!(matches!(
            plain,
            AfterEnd::End {
                class: SignOutClass::SignedInElsewhere,
                ..
            }
        ));
    }

    #[test]
    fn redirects_and_closed_connections() {
        let mut ns = NsLink::new(servers(), Duration::from_secs(60));
        for _ in 0..MAX_REDIRECTS {
            assert!(ns.redirected().is_ok());
        }
        assert!(ns.redirected().is_err());
        let (class, reason) = ns.closed("protocol error: line too long");
        assert_eq!(class, SignOutClass::ProtocolError);
        assert!(reason.contains("during login"), "{reason}");
        assert_eq!(
            ns.closed("connection closed by the server").0,
            SignOutClass::Transient
        );
    }
}
