//! Which message may be sent when — the phase table.
//!
//! Like OpenSSH's monitor, both ends run the same [`PhaseTracker`] over every
//! message, sent or received. Anything the table does not allow is a
//! protocol error, and the bouncer replaces a worker that commits one.
//!
//! ```text
//!  Hello ──both Hellos──▶ Configure ──Configure──▶ Sandboxing ──Configured──▶ Credentials
//!        (ProbeSandbox / ProbeReport allowed here) ──Credentials──▶ Starting ──Ready──▶ Running
//!  any phase ──Shutdown──▶ Closing
//! ```

use crate::message::{FromWorker, ToWorker};
use crate::ProtocolError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    ToWorker,
    FromWorker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Hello,
    Configure,
    Sandboxing,
    Credentials,
    Starting,
    Running,
    Closing,
}

impl Phase {
    fn describe(self) -> &'static str {
        match self {
            Phase::Hello => "exchanging hellos",
            Phase::Configure => "waiting for the configuration",
            Phase::Sandboxing => "waiting for the sandbox report",
            Phase::Credentials => "waiting for credentials",
            Phase::Starting => "waiting for the worker to start",
            Phase::Running => "running",
            Phase::Closing => "shutting down",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hello,
    Configure,
    ProbeSandbox,
    Credentials,
    Command,
    Heartbeat,
    Shutdown,
    Configured,
    ProbeReport,
    Ready,
    Event,
    CommandResult,
    HeartbeatAck,
}

use Phase as P;

/// One row: a message kind, the phases it is allowed in, and the phase it
/// moves the connection to (`None`: stays).
struct Rule {
    kind: Kind,
    direction: Direction,
    allowed: &'static [Phase],
    next: Option<Phase>,
}

const AFTER_HELLO: &[Phase] = &[
    P::Configure,
    P::Sandboxing,
    P::Credentials,
    P::Starting,
    P::Running,
];

#[rustfmt::skip]
const TABLE: &[Rule] = &[
    Rule { kind: Kind::Hello,         direction: Direction::ToWorker,   allowed: &[P::Hello],        next: None },
    Rule { kind: Kind::Configure,     direction: Direction::ToWorker,   allowed: &[P::Configure],    next: Some(P::Sandboxing) },
    Rule { kind: Kind::ProbeSandbox,  direction: Direction::ToWorker,   allowed: &[P::Credentials],  next: None },
    Rule { kind: Kind::Credentials,   direction: Direction::ToWorker,   allowed: &[P::Credentials],  next: Some(P::Starting) },
    Rule { kind: Kind::Command,       direction: Direction::ToWorker,   allowed: &[P::Running],      next: None },
    Rule { kind: Kind::Heartbeat,     direction: Direction::ToWorker,   allowed: AFTER_HELLO,        next: None },
    Rule { kind: Kind::Shutdown,      direction: Direction::ToWorker,   allowed: AFTER_HELLO,        next: Some(P::Closing) },
    Rule { kind: Kind::Hello,         direction: Direction::FromWorker, allowed: &[P::Hello],        next: None },
    Rule { kind: Kind::Configured,    direction: Direction::FromWorker, allowed: &[P::Sandboxing, P::Closing], next: Some(P::Credentials) },
    Rule { kind: Kind::ProbeReport,   direction: Direction::FromWorker, allowed: &[P::Credentials, P::Closing], next: None },
    Rule { kind: Kind::Ready,         direction: Direction::FromWorker, allowed: &[P::Starting, P::Closing], next: Some(P::Running) },
    Rule { kind: Kind::Event,         direction: Direction::FromWorker, allowed: &[P::Running, P::Closing], next: None },
    Rule { kind: Kind::CommandResult, direction: Direction::FromWorker, allowed: &[P::Running, P::Closing], next: None },
    Rule { kind: Kind::HeartbeatAck,  direction: Direction::FromWorker, allowed: &[P::Configure, P::Sandboxing, P::Credentials, P::Starting, P::Running, P::Closing], next: None },
];

fn kind_to_worker(msg: &ToWorker) -> (Kind, &'static str) {
    match msg {
        ToWorker::Hello(_) => (Kind::Hello, "Hello"),
        ToWorker::Configure(_) => (Kind::Configure, "Configure"),
        ToWorker::ProbeSandbox(_) => (Kind::ProbeSandbox, "ProbeSandbox"),
        ToWorker::Credentials(_) => (Kind::Credentials, "Credentials"),
        ToWorker::Command { .. } => (Kind::Command, "Command"),
        ToWorker::Heartbeat { .. } => (Kind::Heartbeat, "Heartbeat"),
        ToWorker::Shutdown => (Kind::Shutdown, "Shutdown"),
    }
}

fn kind_from_worker(msg: &FromWorker) -> (Kind, &'static str) {
    match msg {
        FromWorker::Hello(_) => (Kind::Hello, "Hello"),
        FromWorker::Configured(_) => (Kind::Configured, "Configured"),
        FromWorker::ProbeReport(_) => (Kind::ProbeReport, "ProbeReport"),
        FromWorker::Ready => (Kind::Ready, "Ready"),
        FromWorker::Event { .. } => (Kind::Event, "Event"),
        FromWorker::CommandResult { .. } => (Kind::CommandResult, "CommandResult"),
        FromWorker::HeartbeatAck { .. } => (Kind::HeartbeatAck, "HeartbeatAck"),
    }
}

/// The connection's phase, as both ends see it.
#[derive(Debug, Clone)]
pub struct PhaseTracker {
    phase: Phase,
    hello_to_worker: bool,
    hello_from_worker: bool,
    probes_pending: u32,
}

impl Default for PhaseTracker {
    fn default() -> Self {
        PhaseTracker {
            phase: Phase::Hello,
            hello_to_worker: false,
            hello_from_worker: false,
            probes_pending: 0,
        }
    }
}

impl PhaseTracker {
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// Checks and records a bouncer → worker message.
    pub fn to_worker(&mut self, msg: &ToWorker) -> Result<(), ProtocolError> {
        let (kind, name) = kind_to_worker(msg);
        self.apply(Direction::ToWorker, kind, name)
    }

    /// Checks and records a worker → bouncer message.
    pub fn from_worker(&mut self, msg: &FromWorker) -> Result<(), ProtocolError> {
        let (kind, name) = kind_from_worker(msg);
        self.apply(Direction::FromWorker, kind, name)
    }

    fn apply(&mut self, direction: Direction, kind: Kind, name: &'static str) -> Result<(), ProtocolError> {
        let wrong = |phase: Phase| ProtocolError::WrongPhase {
            message: name,
            phase: phase.describe(),
        };
        let rule = TABLE
            .iter()
            .find(|r| r.kind == kind && r.direction == direction)
            .ok_or(wrong(self.phase))?;
        if !rule.allowed.contains(&self.phase) {
            return Err(wrong(self.phase));
        }
        match (kind, direction) {
            (Kind::Hello, dir) => {
                let seen = match dir {
                    Direction::ToWorker => &mut self.hello_to_worker,
                    Direction::FromWorker => &mut self.hello_from_worker,
                };
                if *seen {
                    return Err(wrong(self.phase));
                }
                *seen = true;
                if self.hello_to_worker && self.hello_from_worker {
                    self.phase = Phase::Configure;
                }
                return Ok(());
            }
            (Kind::ProbeSandbox, _) => self.probes_pending += 1,
            (Kind::ProbeReport, _) => {
                if self.probes_pending == 0 {
                    return Err(wrong(self.phase));
                }
                self.probes_pending -= 1;
            }
            _ => {}
        }
        if let Some(next) = rule.next {
            // Closing is final: late answers do not reopen the connection.
            if self.phase != Phase::Closing {
                self.phase = next;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::*;
    use crate::worker_config::*;
    use crate::Secret;

    fn hello() -> Hello {
        Hello {
            protocol_version: crate::PROTOCOL_VERSION,
            build: "t".into(),
        }
    }

    fn configure() -> ToWorker {
        ToWorker::Configure(WorkerConfig {
            account: "a@b".into(),
            servers: vec![],
            protocol: VersionRange { min: 8, max: 12 },
            trust: TrustConfig {
                webpki_roots: true,
                ca_file: None,
            },
            passport: PassportConfig {
                nexus_url: None,
                login_url: Some("https://login.example.com/login".into()),
                allow_plain_http: false,
            },
            auto_accept_contacts: false,
            sandbox: SandboxPolicy {
                read_paths: vec![],
                connect_ports: vec![],
                max_open_files: 64,
            },
            heartbeat_interval_ms: 1000,
            first_conversation: 1,
            login_timeout_ms: 60_000,
            web_services: None,
            machine_guid: "{00000000-0000-4000-8000-000000000001}".into(),
        })
    }

    fn probe() -> ToWorker {
        ToWorker::ProbeSandbox(ProbeRequest {
            forbidden_file: "/etc/passwd".into(),
            scratch_dir: "/tmp".into(),
            program: "/bin/true".into(),
            forbidden_port: 9,
        })
    }

    fn credentials() -> ToWorker {
        ToWorker::Credentials(Credentials {
            password: Secret::new("x".into()),
        })
    }

    fn running() -> PhaseTracker {
        let mut t = PhaseTracker::default();
        t.to_worker(&ToWorker::Hello(hello())).unwrap();
        t.from_worker(&FromWorker::Hello(hello())).unwrap();
        t.to_worker(&configure()).unwrap();
        t.from_worker(&FromWorker::Configured(SandboxReport { layers: vec![] }))
            .unwrap();
        t.to_worker(&probe()).unwrap();
        t.from_worker(&FromWorker::ProbeReport(ProbeReport { results: vec![] }))
            .unwrap();
        t.to_worker(&credentials()).unwrap();
        t.from_worker(&FromWorker::Ready).unwrap();
        t
    }

    fn assert_wrong_phase(r: Result<(), ProtocolError>) {
        assert!(matches!(r, Err(ProtocolError::WrongPhase { .. })), "{r:?}");
    }

    #[test]
    fn the_full_sequence_reaches_running() {
        let mut t = running();
        assert_eq!(t.phase(), Phase::Running);
        t.to_worker(&ToWorker::Command {
            id: 1,
            command: Command::SignOut,
        })
        .unwrap();
        t.from_worker(&FromWorker::Event {
            seq: 1,
            event: Event::Notice("n".into()),
        })
        .unwrap();
        t.to_worker(&ToWorker::Shutdown).unwrap();
        assert_eq!(t.phase(), Phase::Closing);
        // Late answers while closing are fine.
        t.from_worker(&FromWorker::CommandResult {
            id: 1,
            result: CommandResult::Ok,
        })
        .unwrap();
    }

    #[test]
    fn credentials_before_the_sandbox_report_are_refused() {
        let mut t = PhaseTracker::default();
        t.to_worker(&ToWorker::Hello(hello())).unwrap();
        t.from_worker(&FromWorker::Hello(hello())).unwrap();
        assert_wrong_phase(t.to_worker(&credentials()));
        t.to_worker(&configure()).unwrap();
        assert_wrong_phase(t.to_worker(&credentials()));
    }

    #[test]
    fn anything_before_hello_is_refused() {
        let mut t = PhaseTracker::default();
        assert_wrong_phase(t.from_worker(&FromWorker::Ready));
        assert_wrong_phase(t.from_worker(&FromWorker::HeartbeatAck { nonce: 1 }));
        assert_wrong_phase(t.to_worker(&configure()));
    }

    #[test]
    fn a_second_hello_is_refused() {
        let mut t = PhaseTracker::default();
        t.from_worker(&FromWorker::Hello(hello())).unwrap();
        assert_wrong_phase(t.from_worker(&FromWorker::Hello(hello())));
    }

    #[test]
    fn events_before_ready_are_refused() {
        let mut t = PhaseTracker::default();
        t.to_worker(&ToWorker::Hello(hello())).unwrap();
        t.from_worker(&FromWorker::Hello(hello())).unwrap();
        assert_wrong_phase(t.from_worker(&FromWorker::Event {
            seq: 0,
            event: Event::Notice("x".into()),
        }));
    }

    #[test]
    fn unsolicited_probe_report_is_refused() {
        let mut t = running();
        assert_wrong_phase(t.from_worker(&FromWorker::ProbeReport(ProbeReport { results: vec![] })));
    }

    #[test]
    fn configuration_cannot_be_replaced_while_running() {
        let mut t = running();
        assert_wrong_phase(t.to_worker(&configure()));
        assert_wrong_phase(t.to_worker(&credentials()));
        assert_wrong_phase(t.from_worker(&FromWorker::Ready));
    }

    #[test]
    fn wrong_phase_error_names_message_and_phase() {
        let mut t = PhaseTracker::default();
        let err = t.from_worker(&FromWorker::Ready).unwrap_err().to_string();
        assert_eq!(err, "Ready is not allowed while exchanging hellos");
    }
}
