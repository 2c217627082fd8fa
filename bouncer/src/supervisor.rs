//! Keeps exactly one `msn-worker` alive: starts it, watches it, replaces it
//! when it dies, hangs or misbehaves, and waits for an operator when
//! retrying cannot help (wrong password, signed in elsewhere).
//!
//! Runs as one task; the hub talks to it through [`Control`] and hears from
//! it through [`Update`].

mod backoff;
mod running;
pub mod spawn;
pub mod worker;

use std::fmt;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ElsewherePolicy};
use backoff::Backoff;
use worker::{Ended, Link};

/// What the worker is doing, for logs, `STATUS=` and (later) IRC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerState {
    Starting,
    LoggingIn {
        pid: u32,
        /// The server being tried, and the step the login is at.
        server: String,
        step: String,
        /// When the worker gives up on this login.
        gives_up_after: Duration,
    },
    SignedIn {
        pid: u32,
        account: String,
    },
    Restarting {
        after: Duration,
        reason: String,
    },
    /// Waiting for an operator (SIGHUP or restart) before trying again.
    Held {
        reason: String,
    },
    Stopped,
}

impl fmt::Display for WorkerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkerState::Starting => write!(f, "starting the MSN worker"),
            WorkerState::LoggingIn { server, step, .. } => write!(f, "logging in to {server} ({step})"),
            WorkerState::SignedIn { account, .. } => write!(f, "signed in as {account}"),
            WorkerState::Restarting { after, reason } => {
                write!(
                    f,
                    "restarting in {} s: {reason}",
                    after.as_secs_f64().ceil() as u64
                )
            }
            WorkerState::Held { reason } => {
                write!(
                    f,
                    "waiting for an operator: {reason} (fix it, then reload: SIGHUP)"
                )
            }
            WorkerState::Stopped => write!(f, "stopped"),
        }
    }
}

#[derive(Debug)]
pub enum Update {
    State(WorkerState),
    Event(ipc::Event),
    CommandResult { id: u64, result: ipc::CommandResult },
}

#[derive(Debug)]
pub enum Control {
    /// A reloaded configuration: used from the next worker start on; also
    /// releases a held worker and cuts a back-off short.
    Reconfigure(Box<Config>),
    /// A command for the worker; its result comes back as an
    /// [`Update::CommandResult`] (at once, failed, when no worker runs).
    Command { id: u64, command: ipc::Command },
    /// Replace the running worker with a new one now (no back-off).
    Restart,
    /// Release a worker held after a fatal outcome, or cut a back-off short.
    Resume,
}

enum Next {
    RestartAfterBackoff,
    RestartAfter(Duration),
    Hold,
}

fn decide(ended: &Ended, config: &Config) -> Next {
    match ended {
        Ended::SignedOut { class, .. } if *class == ipc::SignOutClass::SignedInElsewhere => {
            match config.worker.restart.signed_in_elsewhere {
                ElsewherePolicy::Wait => Next::Hold,
                ElsewherePolicy::Retry => {
                    Next::RestartAfter(config.worker.restart.signed_in_elsewhere_cooldown)
                }
            }
        }
        Ended::SignedOut { class, .. } if class.needs_operator() => Next::Hold,
        Ended::Incompatible(_) | Ended::Credentials(_) | Ended::SandboxFailed(_) => Next::Hold,
        Ended::Restart => Next::RestartAfter(Duration::ZERO),
        _ => Next::RestartAfterBackoff,
    }
}

pub struct Supervisor {
    config: Config,
    updates: mpsc::Sender<Update>,
    control: mpsc::Receiver<Control>,
    shutdown: CancellationToken,
    known_sandbox_gaps: Vec<worker::SandboxGap>,
    /// The first conversation id the next worker may give out.
    next_conversation: u64,
}

impl Supervisor {
    pub fn new(
        config: Config,
        updates: mpsc::Sender<Update>,
        control: mpsc::Receiver<Control>,
        shutdown: CancellationToken,
    ) -> Self {
        Supervisor {
            config,
            updates,
            control,
            shutdown,
            known_sandbox_gaps: Vec::new(),
            next_conversation: 1,
        }
    }

    fn link(&mut self) -> Link<'_> {
        Link {
            config: &mut self.config,
            updates: &self.updates,
            control: &mut self.control,
            shutdown: &self.shutdown,
            known_sandbox_gaps: &mut self.known_sandbox_gaps,
            next_conversation: &mut self.next_conversation,
        }
    }

    async fn state(&self, state: WorkerState) {
        let _ = self.updates.send(Update::State(state)).await;
    }

    pub async fn run(mut self) {
        let mut backoff = new_backoff(&self.config);
        loop {
            let (ended, ready_at) = self.link().run().await;
            if let Ended::Shutdown = ended {
                self.state(WorkerState::Stopped).await;
                return;
            }
            let reason = ended.to_string();
            tracing::warn!("worker ended: {reason}");
            let delay = match decide(&ended, &self.config) {
                Next::RestartAfterBackoff => {
                    let delay = backoff.next_delay(ready_at, Instant::now(), fastrand::f64());
                    match ended {
                        // The server said how long to stay away (OUT RCT, maintenance).
                        Ended::SignedOut {
                            retry_after: Some(wait),
                            ..
                        } => delay.max(wait),
                        _ => delay,
                    }
                }
                Next::RestartAfter(d) => d,
                Next::Hold => {
                    tracing::error!("not restarting the worker until an operator acts: {reason}");
                    self.state(WorkerState::Held { reason }).await;
                    if !self.wait_for_operator().await {
                        self.state(WorkerState::Stopped).await;
                        return;
                    }
                    backoff = new_backoff(&self.config);
                    continue;
                }
            };
            tracing::info!("restarting the worker in {:.1} s", delay.as_secs_f64());
            self.state(WorkerState::Restarting { after: delay, reason }).await;
            if !self.sleep(delay).await {
                self.state(WorkerState::Stopped).await;
                return;
            }
        }
    }

    /// Sleeps for the back-off delay; `false` if shutting down.
    async fn sleep(&mut self, delay: Duration) -> bool {
        let deadline = tokio::time::sleep(delay);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = &mut deadline => return true,
                _ = self.shutdown.cancelled() => return false,
                Some(control) = self.control.recv() => {
                    if self.while_down(control).await {
                        return true;
                    }
                }
            }
        }
    }

    /// A control message while no worker runs; `true` for a new configuration.
    async fn while_down(&mut self, control: Control) -> bool {
        match control {
            Control::Reconfigure(new) => {
                self.config = *new;
                true
            }
            Control::Command { id, .. } => {
                let result = ipc::CommandResult::Failed(ipc::Failure {
                    kind: ipc::FailureKind::NotSignedIn,
                    detail: "the MSN worker is not running".into(),
                });
                let _ = self.updates.send(Update::CommandResult { id, result }).await;
                false
            }
            Control::Restart | Control::Resume => true,
        }
    }

    /// Waits for a reload; `false` if shutting down.
    async fn wait_for_operator(&mut self) -> bool {
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return false,
                Some(control) = self.control.recv() => {
                    if self.while_down(control).await {
                        tracing::info!("operator released the held worker; starting it");
                        return true;
                    }
                }
            }
        }
    }
}

fn new_backoff(config: &Config) -> Backoff {
    let r = &config.worker.restart;
    Backoff::new(r.initial, r.max, r.stable_after)
}
