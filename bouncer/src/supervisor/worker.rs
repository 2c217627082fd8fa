//! One worker process, from spawn to exit: bring-up (handshake, configure,
//! credentials), then the running loop with heartbeats. Every frame from the
//! worker is untrusted; anything out of line ends this worker with a reason.

use std::fmt;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use ipc::{
    BouncerChannel, Credentials, FromWorker, LayerReport, LayerState, ProtocolError, SandboxLayer,
    SandboxReport, SignOutClass, ToWorker, WorkerConfig,
};
use tokio::process::Child;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::running::Running;
use super::spawn::{self, SpawnError};
use super::{Control, Update, WorkerState};
use crate::config::Config;
use crate::untrusted::short;

pub const BUILD: &str = concat!("msnbnc ", env!("CARGO_PKG_VERSION"));

/// How long a new worker may take from spawn to `Ready`.
pub const BRING_UP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a worker may take to exit once told to, or after signing out.
pub(super) const EXIT_GRACE: Duration = Duration::from_secs(2);

/// Why a worker ended.
#[derive(Debug)]
pub enum Ended {
    Spawn(SpawnError),
    /// The process died or exited on its own.
    Exited(Option<ExitStatus>),
    Protocol(ProtocolError),
    /// No heartbeat answer for this long.
    Hung(Duration),
    BringUpTimeout,
    /// The worker binary speaks another IPC version: restarting cannot help.
    Incompatible(String),
    /// The password could not be loaded: restarting cannot help.
    Credentials(String),
    /// The worker could not sandbox itself: it does not get the password.
    SandboxFailed(String),
    /// An operator asked for a new worker.
    Restart,
    SignedOut {
        class: SignOutClass,
        reason: String,
        /// The server asked us to stay away this long.
        retry_after: Option<Duration>,
    },
    Shutdown,
}

impl fmt::Display for Ended {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ended::Spawn(e) => write!(f, "{e}"),
            Ended::Exited(Some(status)) => match (
                status.code(),
                std::os::unix::process::ExitStatusExt::signal(status),
            ) {
                (Some(code), _) => write!(f, "worker exited with status {code}"),
                (None, Some(sig)) => write!(
                    f,
                    "worker killed by signal {}",
                    nix::sys::signal::Signal::try_from(sig)
                        .map_or_else(|_| sig.to_string(), |s| s.to_string())
                ),
                (None, None) => write!(f, "worker ended ({status})"),
            },
            Ended::Exited(None) => write!(f, "worker closed the IPC connection"),
            Ended::Protocol(e) => write!(f, "worker broke the IPC protocol: {e}"),
            Ended::Hung(d) => write!(f, "worker hung (no heartbeat answer for {} s)", d.as_secs()),
            Ended::BringUpTimeout => write!(
                f,
                "worker did not become ready within {} s",
                BRING_UP_TIMEOUT.as_secs()
            ),
            Ended::Incompatible(e) => write!(f, "{e}"),
            Ended::Credentials(e) => write!(f, "cannot load the MSN password: {e}"),
            Ended::SandboxFailed(e) => write!(f, "{e}"),
            Ended::Restart => write!(f, "restarted by an operator"),
            Ended::SignedOut { class, reason, .. } => write!(f, "signed out ({class:?}): {reason}"),
            Ended::Shutdown => write!(f, "shut down"),
        }
    }
}

impl From<ProtocolError> for Ended {
    fn from(e: ProtocolError) -> Self {
        match e {
            // The process's own fate (exit status, signal) is the better story.
            ProtocolError::PeerClosed => Ended::Exited(None),
            ProtocolError::VersionMismatch { .. } => Ended::Incompatible(e.to_string()),
            other => Ended::Protocol(other),
        }
    }
}

/// What the worker is told; its conversation ids start at `first_conversation`.
pub fn worker_config(config: &Config, first_conversation: u64) -> WorkerConfig {
    WorkerConfig {
        account: config.account.clone(),
        servers: config.msn.servers.clone(),
        protocol: config.msn.protocol,
        trust: ipc::TrustConfig {
            webpki_roots: config.msn.webpki_roots,
            ca_file: config.msn.ca_file.clone(),
        },
        passport: config.msn.passport.clone(),
        auto_accept_contacts: config.msn.auto_accept_contacts,
        sandbox: ipc::SandboxPolicy {
            read_paths: config.worker.read_paths.clone(),
            connect_ports: config.worker.connect_ports.clone(),
            max_open_files: config.worker.max_open_files,
        },
        heartbeat_interval_ms: u64::try_from(config.worker.heartbeat_interval.as_millis())
            .unwrap_or(u64::MAX),
        first_conversation,
        login_timeout_ms: u64::try_from(config.msn.login_timeout.as_millis()).unwrap_or(u64::MAX),
        web_services: config.msn.web_services.clone(),
        machine_guid: match config.msn.machine_guid.as_str() {
            "" => crate::config::derived_machine_guid(&config.account),
            configured => configured.to_owned(),
        },
    }
}

/// Handshake and configuration: on success the worker is sandboxed and
/// waiting for credentials (or probes).
pub async fn configure(
    channel: &mut BouncerChannel,
    config: &Config,
    first_conversation: u64,
) -> Result<SandboxReport, Ended> {
    let peer = channel.handshake(BUILD).await?;
    tracing::debug!(worker_build = %short(&peer.build), "IPC handshake complete");
    channel
        .send(ToWorker::Configure(worker_config(config, first_conversation)))
        .await?;
    match channel.recv().await? {
        Some(FromWorker::Configured(report)) => Ok(report),
        Some(other) => Err(Ended::Protocol(ProtocolError::Malformed(short(&format!(
            "expected Configured, got {other:?}"
        ))))),
        None => Err(Ended::Exited(None)),
    }
}

/// A layer and how it fell short: at most 5 × 3 of them, whatever the
/// worker reports.
pub type SandboxGap = (SandboxLayer, &'static str);

/// The sandbox layers in `report` that are not enforced and not yet in
/// `known_gaps`; records them there.
fn new_sandbox_gaps(report: &SandboxReport, known_gaps: &mut Vec<SandboxGap>) -> Vec<LayerReport> {
    let mut fresh = Vec::new();
    for layer in &report.layers {
        let gap = (layer.layer, layer.state.label());
        if layer.state != LayerState::Enforced && !known_gaps.contains(&gap) {
            known_gaps.push(gap);
            fresh.push(layer.clone());
        }
    }
    fresh
}

/// Whether the worker may be trusted with the password: every layer
/// reported, none failed (a layer the kernel lacks is acceptable). The
/// report is trustworthy here: the worker has not yet read any untrusted input.
fn sandbox_acceptable(report: &SandboxReport) -> Result<(), String> {
    for layer in SandboxLayer::ALL {
        match report.layers.iter().find(|l| l.layer == layer) {
            None => {
                return Err(format!(
                    "the worker did not report its {} sandbox layer",
                    layer.name()
                ))
            }
            Some(LayerReport {
                state: LayerState::Failed(why),
                ..
            }) => {
                return Err(format!(
                    "the worker's {} sandbox layer failed ({}); not sending it the password",
                    layer.name(),
                    short(why)
                ))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// Warns about sandbox layers that are not enforced — once per distinct
/// gap for the life of the bouncer, not at every worker restart.
fn log_sandbox(report: &SandboxReport, pid: u32, known_gaps: &mut Vec<SandboxGap>) {
    for layer in new_sandbox_gaps(report, known_gaps) {
        tracing::warn!(
            worker_pid = pid,
            "worker sandbox layer {} is {}: {}",
            layer.layer.name(),
            layer.state.label(),
            short(layer.state.detail())
        );
    }
}

pub async fn bring_up(
    channel: &mut BouncerChannel,
    config: &Config,
    pid: u32,
    known_gaps: &mut Vec<SandboxGap>,
    first_conversation: u64,
) -> Result<(), Ended> {
    let report = configure(channel, config, first_conversation).await?;
    log_sandbox(&report, pid, known_gaps);
    sandbox_acceptable(&report).map_err(Ended::SandboxFailed)?;
    let password = config.password.load().map_err(Ended::Credentials)?;
    channel
        .send(ToWorker::Credentials(Credentials { password }))
        .await?;
    match channel.recv().await? {
        Some(FromWorker::Ready) => Ok(()),
        Some(other) => Err(Ended::Protocol(ProtocolError::Malformed(short(&format!(
            "expected Ready, got {other:?}"
        ))))),
        None => Err(Ended::Exited(None)),
    }
}

/// Reaps the child, killing it if it does not exit within the grace period.
async fn reap(child: &mut Child, pid: u32) -> Option<ExitStatus> {
    match tokio::time::timeout(EXIT_GRACE, child.wait()).await {
        Ok(Ok(status)) => Some(status),
        _ => {
            tracing::warn!(worker_pid = pid, "killing worker");
            let _ = child.start_kill();
            child.wait().await.ok()
        }
    }
}

pub struct Link<'a> {
    pub config: &'a mut Config,
    pub updates: &'a mpsc::Sender<Update>,
    pub control: &'a mut mpsc::Receiver<Control>,
    pub shutdown: &'a CancellationToken,
    pub known_sandbox_gaps: &'a mut Vec<SandboxGap>,
    /// Above every conversation id earlier workers gave out.
    pub next_conversation: &'a mut u64,
}

impl Link<'_> {
    pub(super) async fn state(&self, state: WorkerState) {
        let _ = self.updates.send(Update::State(state)).await;
    }

    /// Runs one worker to its end. Returns why it ended and when it became
    /// ready (for the back-off's stability rule).
    pub async fn run(&mut self) -> (Ended, Option<Instant>) {
        self.state(WorkerState::Starting).await;
        let spawned = match spawn::spawn(&self.config.worker) {
            Ok(s) => s,
            Err(e) => return (Ended::Spawn(e), None),
        };
        let spawn::Spawned {
            mut child,
            pid,
            mut channel,
        } = spawned;
        tracing::info!(worker_pid = pid, "worker started");

        let config = self.config.clone();
        // No branch on the child's exit here: its death shows up as
        // end-of-file on the channel, after every frame it sent before dying.
        let brought_up = tokio::select! {
            biased;
            r = tokio::time::timeout(BRING_UP_TIMEOUT, bring_up(&mut channel, &config, pid, self.known_sandbox_gaps, *self.next_conversation)) => match r {
                Ok(r) => r,
                Err(_) => Err(Ended::BringUpTimeout),
            },
            _ = self.shutdown.cancelled() => Err(Ended::Shutdown),
        };
        if let Err(ended) = brought_up {
            let ended = match ended {
                // The connection closed: report the process's own fate.
                Ended::Exited(None) => Ended::Exited(reap(&mut child, pid).await),
                other => {
                    let _ = child.start_kill();
                    reap(&mut child, pid).await;
                    other
                }
            };
            return (ended, None);
        }
        let ready_at = Instant::now();
        tracing::info!(worker_pid = pid, "worker ready");
        let first_server = config
            .msn
            .servers
            .first()
            .map(ToString::to_string)
            .unwrap_or_default();
        self.state(WorkerState::LoggingIn {
            pid,
            server: first_server.clone(),
            step: "connecting".into(),
            gives_up_after: config.msn.login_timeout,
        })
        .await;

        let (ended, unanswered) = Running::new(self, pid, first_server).run(&mut channel).await;
        // Commands this worker never answered: say so, nothing is left hanging.
        for id in unanswered {
            let result = ipc::CommandResult::Failed(ipc::Failure {
                kind: ipc::FailureKind::ServerError,
                detail: "the MSN worker stopped before answering".into(),
            });
            let _ = self.updates.send(Update::CommandResult { id, result }).await;
        }
        // A worker that is leaving on its own gets a grace period; one that
        // misbehaved is killed at once.
        if !matches!(
            ended,
            Ended::Exited(_) | Ended::Shutdown | Ended::SignedOut { .. }
        ) {
            let _ = child.start_kill();
        }
        let status = reap(&mut child, pid).await;
        let ended = match ended {
            Ended::Exited(None) => Ended::Exited(status),
            other => other,
        };
        (ended, Some(ready_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipc::SandboxLayer;

    #[test]
    fn each_sandbox_gap_is_reported_once_across_restarts() {
        let report = SandboxReport {
            layers: vec![
                LayerReport {
                    layer: SandboxLayer::Seccomp,
                    state: LayerState::Enforced,
                },
                LayerReport {
                    layer: SandboxLayer::Landlock,
                    state: LayerState::Unavailable("old kernel".into()),
                },
            ],
        };
        let mut known: Vec<SandboxGap> = Vec::new();
        let first = new_sandbox_gaps(&report, &mut known);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].layer, SandboxLayer::Landlock);
        assert!(new_sandbox_gaps(&report, &mut known).is_empty());
        // A different kind of failure of the same layer is news; a new
        // wording of the same one is not.
        let worse = SandboxReport {
            layers: vec![LayerReport {
                layer: SandboxLayer::Landlock,
                state: LayerState::Failed("EINVAL".into()),
            }],
        };
        assert_eq!(new_sandbox_gaps(&worse, &mut known).len(), 1);
        let reworded = SandboxReport {
            layers: vec![LayerReport {
                layer: SandboxLayer::Landlock,
                state: LayerState::Failed("EINVAL again".into()),
            }],
        };
        assert!(new_sandbox_gaps(&reworded, &mut known).is_empty());
    }

    fn report(states: Vec<(SandboxLayer, LayerState)>) -> SandboxReport {
        SandboxReport {
            layers: states
                .into_iter()
                .map(|(layer, state)| LayerReport { layer, state })
                .collect(),
        }
    }

    #[test]
    fn the_password_goes_only_to_a_fully_reported_sandbox_without_failures() {
        let all = |state: LayerState| report(SandboxLayer::ALL.iter().map(|l| (*l, state.clone())).collect());
        assert!(sandbox_acceptable(&all(LayerState::Enforced)).is_ok());
        assert!(sandbox_acceptable(&all(LayerState::Unavailable("old kernel".into()))).is_ok());
        let err = sandbox_acceptable(&all(LayerState::Failed("EPERM".into()))).unwrap_err();
        assert!(err.contains("no_new_privs sandbox layer failed"), "{err}");
        let err = sandbox_acceptable(&report(vec![])).unwrap_err();
        assert!(err.contains("did not report"), "{err}");
    }
}
