//! The running phase of one worker: every frame it sends is checked
//! (sequence numbers, heartbeat nonces, answers only to outstanding
//! commands) and passed on to the hub; heartbeats catch a hung worker;
//! the hub's control messages reach it. The worker's death is seen as
//! end-of-file on the channel (only the worker holds the other end), and
//! only after every frame it sent before dying has been read — so a last
//! `SignedOut` event is never lost to a race with the exit status.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use ipc::{BouncerChannel, Event, FromWorker, LoginStage, ProtocolError, SignOutClass, ToWorker};

use super::worker::{Ended, Link, EXIT_GRACE};
use super::{Control, Update, WorkerState};
use crate::untrusted::short;

/// How the worker signed out, kept until it exits.
type SignedOut = (SignOutClass, String, Option<Duration>);

pub(super) struct Running<'l, 'a> {
    link: &'l mut Link<'a>,
    pid: u32,
    /// The server the login is trying.
    server: String,
    /// Commands sent and not answered yet.
    outstanding: HashSet<u64>,
    nonce_sent: u64,
    nonce_acked: u64,
    last_ack: Instant,
    next_seq: u64,
    signed_out: Option<SignedOut>,
}

impl<'l, 'a> Running<'l, 'a> {
    pub(super) fn new(link: &'l mut Link<'a>, pid: u32, server: String) -> Self {
        Running {
            link,
            pid,
            server,
            outstanding: HashSet::new(),
            nonce_sent: 0,
            nonce_acked: 0,
            last_ack: Instant::now(),
            next_seq: 0,
            signed_out: None,
        }
    }

    /// Runs until the worker ends; returns why, and the commands it never
    /// answered.
    pub(super) async fn run(mut self, channel: &mut BouncerChannel) -> (Ended, HashSet<u64>) {
        let heartbeat_timeout = self.link.config.worker.heartbeat_timeout;
        let mut heartbeat = tokio::time::interval(self.link.config.worker.heartbeat_interval);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.tick().await;
        let exit_deadline = tokio::time::sleep(Duration::from_secs(86_400));
        tokio::pin!(exit_deadline);
        let ended = loop {
            let step = tokio::select! {
                // Read what the worker said before judging its silence.
                biased;
                msg = channel.recv() => match msg {
                    Ok(Some(msg)) => self.on_frame(msg, &mut exit_deadline).await,
                    Ok(None) => Some(self.closed()),
                    // A worker that signed out and went while a heartbeat
                    // was on its way resets the socket: still its exit.
                    Err(_) if self.signed_out.is_some() => Some(self.closed()),
                    Err(e) => Some(e.into()),
                },
                _ = heartbeat.tick() => self.heartbeat(channel, heartbeat_timeout).await,
                () = &mut exit_deadline, if self.signed_out.is_some() => {
                    tracing::warn!(worker_pid = self.pid, "worker did not exit after signing out");
                    Some(self.closed())
                }
                Some(control) = self.link.control.recv() => self.on_control(control, channel).await,
                _ = self.link.shutdown.cancelled() => Some(self.shut_down(channel).await),
            };
            if let Some(ended) = step {
                break ended;
            }
        };
        (ended, self.outstanding)
    }

    /// The connection closed: the worker signed out, or died.
    fn closed(&mut self) -> Ended {
        match self.signed_out.take() {
            Some((class, reason, retry_after)) => Ended::SignedOut {
                class,
                reason,
                retry_after,
            },
            None => Ended::Exited(None),
        }
    }

    async fn on_frame(
        &mut self,
        msg: FromWorker,
        exit_deadline: &mut std::pin::Pin<&mut tokio::time::Sleep>,
    ) -> Option<Ended> {
        let malformed = |text: String| Some(Ended::Protocol(ProtocolError::Malformed(text)));
        match msg {
            FromWorker::HeartbeatAck { nonce } => {
                if nonce <= self.nonce_acked || nonce > self.nonce_sent {
                    return malformed(format!(
                        "heartbeat answer for nonce {nonce}, expected one in {}..={}",
                        self.nonce_acked + 1,
                        self.nonce_sent
                    ));
                }
                self.nonce_acked = nonce;
                self.last_ack = Instant::now();
            }
            FromWorker::Event { seq, event } => {
                if seq != self.next_seq {
                    return malformed(format!("event sequence number {seq}, expected {}", self.next_seq));
                }
                self.next_seq += 1;
                self.on_event(event, exit_deadline).await;
            }
            FromWorker::CommandResult { id, result } => {
                if !self.outstanding.remove(&id) {
                    return malformed(format!("result for command {id}, which is not outstanding"));
                }
                let _ = self.link.updates.send(Update::CommandResult { id, result }).await;
            }
            other => return malformed(short(&format!("unexpected {other:?} while running"))),
        }
        None
    }

    /// An event: what it says about the worker's state is noted, and the
    /// hub gets it.
    async fn on_event(&mut self, event: Event, exit_deadline: &mut std::pin::Pin<&mut tokio::time::Sleep>) {
        let pid = self.pid;
        if let Some(c) = event.conversation() {
            *self.link.next_conversation = (*self.link.next_conversation).max(c.saturating_add(1));
        }
        match &event {
            Event::LoginProgress(stage) => {
                let step = match stage {
                    LoginStage::Connecting(server) => {
                        self.server = short(&server.to_string());
                        "connecting".to_owned()
                    }
                    LoginStage::Negotiated { protocol } => format!("MSNP{protocol} agreed"),
                    LoginStage::Authenticating => "authenticating with Passport".to_owned(),
                    LoginStage::Synchronising => "loading the contact list".to_owned(),
                };
                let state = WorkerState::LoggingIn {
                    pid,
                    server: self.server.clone(),
                    step,
                    gives_up_after: self.link.config.msn.login_timeout,
                };
                self.link.state(state).await;
            }
            Event::SignedIn { account, .. } => {
                let account = short(account);
                self.link.state(WorkerState::SignedIn { pid, account }).await;
            }
            Event::SignedOut {
                class,
                reason,
                retry_after_secs,
            } => {
                // Bounded: a worker cannot park us for years.
                let retry_after = retry_after_secs.map(|s| Duration::from_secs(s.min(86_400)));
                self.signed_out = Some((*class, short(reason), retry_after));
                exit_deadline
                    .as_mut()
                    .reset(tokio::time::Instant::now() + EXIT_GRACE);
            }
            _ => {}
        }
        let _ = self.link.updates.send(Update::Event(event)).await;
    }

    async fn heartbeat(&mut self, channel: &mut BouncerChannel, timeout: Duration) -> Option<Ended> {
        let silent = self.last_ack.elapsed();
        if silent > timeout {
            tracing::error!(
                worker_pid = self.pid,
                "worker missed heartbeats for {} s; killing it",
                silent.as_secs()
            );
            return Some(Ended::Hung(silent));
        }
        self.nonce_sent += 1;
        let nonce = self.nonce_sent;
        match channel.send(ToWorker::Heartbeat { nonce }).await {
            Ok(()) => None,
            Err(e) => Some(self.write_failed(channel, e.into()).await),
        }
    }

    /// A write to the worker failed: it is gone, or going. What it wrote
    /// before it went still counts — a sign-out (signed in elsewhere, wrong
    /// password) explains the end better than the broken pipe.
    async fn write_failed(&mut self, channel: &mut BouncerChannel, error: Ended) -> Ended {
        let unused = tokio::time::sleep(Duration::from_secs(86_400));
        tokio::pin!(unused);
        let drained = async {
            while let Ok(Some(msg)) = channel.recv().await {
                if let Some(ended) = self.on_frame(msg, &mut unused).await {
                    return Some(ended);
                }
            }
            None
        };
        match tokio::time::timeout(Duration::from_millis(500), drained).await {
            Ok(Some(ended)) => ended,
            _ if self.signed_out.is_some() => self.closed(),
            _ => error,
        }
    }

    async fn on_control(&mut self, control: Control, channel: &mut BouncerChannel) -> Option<Ended> {
        match control {
            Control::Reconfigure(new) => {
                tracing::info!(
                    "the new [account], [msn] and [worker] settings apply at the next worker start"
                );
                *self.link.config = *new;
            }
            Control::Restart => {
                let _ = channel.send(ToWorker::Shutdown).await;
                return Some(Ended::Restart);
            }
            Control::Resume => tracing::info!("the worker is running; nothing to resume"),
            Control::Command { id, command } => {
                if !self.outstanding.insert(id) {
                    tracing::error!(command_id = id, "duplicate command id; dropped");
                    return None;
                }
                if let Err(e) = channel.send(ToWorker::Command { id, command }).await {
                    return Some(self.write_failed(channel, e.into()).await);
                }
            }
        }
        None
    }

    /// msnbnc is stopping: the worker signs out. Its last events are read
    /// meanwhile, so it never blocks on a full socket and none is lost.
    async fn shut_down(&mut self, channel: &mut BouncerChannel) -> Ended {
        let _ = channel.send(ToWorker::Shutdown).await;
        let drain = async {
            while let Ok(Some(msg)) = channel.recv().await {
                if let FromWorker::Event { event, .. } = msg {
                    let _ = self.link.updates.send(Update::Event(event)).await;
                }
            }
        };
        let _ = tokio::time::timeout(EXIT_GRACE, drain).await;
        Ended::Shutdown
    }
}
