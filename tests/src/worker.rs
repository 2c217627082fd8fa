//! Drives a real `msn-worker` process directly over IPC, playing the
//! bouncer, against the in-process MSN simulator.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use command_fds::{CommandFdExt, FdMapping};
use ipc::{
    BouncerChannel, Command, CommandResult, Credentials, Event, FromWorker, PassportConfig, SandboxPolicy,
    Secret, ServerAddr, ToWorker, TrustConfig, VersionRange, WorkerConfig,
};
use msn_sim::Simulator;

use crate::{binaries, TestDir};

pub const ACCOUNT: &str = "support@example.com";
pub const PASSWORD: &str = "p@ss, word%+ with spaces";

/// How to configure the worker for one test.
pub struct Options {
    pub dialect: u8,
    pub password: String,
    pub account: String,
    pub trust_sim_ca: bool,
    pub login_url: Option<String>,
    pub auto_accept: bool,
    /// This place of the account (MSNP16+).
    pub machine_guid: String,
}

impl Options {
    pub fn new(dialect: u8) -> Options {
        Options {
            dialect,
            password: PASSWORD.into(),
            account: ACCOUNT.into(),
            trust_sim_ca: true,
            login_url: None,
            auto_accept: true,
            machine_guid: "{00000000-0000-4000-8000-000000000001}".into(),
        }
    }
}

pub struct Worker {
    pub channel: BouncerChannel,
    child: tokio::process::Child,
    next_id: u64,
    /// Events received but not yet consumed by a `wait_event`.
    pub seen: Vec<Event>,
    /// Command results received but not yet consumed by `run`.
    pub results: Vec<(u64, CommandResult)>,
    _dir: TestDir,
}

impl Worker {
    /// Starts a worker, configures and sandboxes it, gives it the password.
    pub async fn start(sim: &Simulator, options: Options) -> anyhow::Result<Worker> {
        let dir = TestDir::new();
        let ca = dir.write("ca.pem", sim.ca_pem());
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;
        let mut cmd = tokio::process::Command::new(&binaries().worker);
        cmd.args([
            "--ipc-fd",
            "3",
            "--log-filter",
            &std::env::var("MSNBNC_TEST_LOG").unwrap_or_else(|_| "info".into()),
        ])
        .env_clear()
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
        if std::env::var_os("MSNBNC_TEST_ECHO").is_none() {
            cmd.stderr(std::process::Stdio::null());
        }
        cmd.fd_mappings(vec![FdMapping {
            parent_fd: OwnedFd::from(theirs),
            child_fd: 3,
        }])
        .map_err(|e| anyhow!("{e}"))?;
        let child = cmd.spawn().context("starting msn-worker")?;
        drop(cmd);
        ours.set_nonblocking(true)?;
        let mut channel = BouncerChannel::new(tokio::net::UnixStream::from_std(ours)?);
        channel.handshake("test-bouncer").await?;
        let addr = sim.server_addr();
        let config = WorkerConfig {
            account: options.account.clone(),
            servers: vec![ServerAddr {
                host: addr.ip().to_string(),
                port: addr.port(),
            }],
            protocol: VersionRange {
                min: options.dialect,
                max: options.dialect,
            },
            trust: TrustConfig {
                webpki_roots: !options.trust_sim_ca,
                ca_file: options.trust_sim_ca.then(|| ca.clone()),
            },
            passport: PassportConfig {
                nexus_url: options.login_url.is_none().then(|| sim.nexus_url()),
                login_url: options.login_url.clone(),
                allow_plain_http: false,
            },
            auto_accept_contacts: options.auto_accept,
            sandbox: SandboxPolicy {
                read_paths: vec![ca, PathBuf::from("/etc/resolv.conf")],
                connect_ports: sim.ports(),
                max_open_files: 256,
            },
            heartbeat_interval_ms: 1000,
            first_conversation: 1,
            login_timeout_ms: 60_000,
            web_services: Some(Box::new(ipc::WebServices::under(&format!(
                "https://127.0.0.1:{}",
                sim.https_port()
            )))),
            machine_guid: options.machine_guid.clone(),
        };
        channel.send(ToWorker::Configure(config)).await?;
        match channel.recv().await? {
            Some(FromWorker::Configured(_)) => {}
            other => bail!("expected Configured, got {other:?}"),
        }
        channel
            .send(ToWorker::Credentials(Credentials {
                password: Secret::new(options.password.clone()),
            }))
            .await?;
        match channel.recv().await? {
            Some(FromWorker::Ready) => {}
            other => bail!("expected Ready, got {other:?}"),
        }
        Ok(Worker {
            channel,
            child,
            next_id: 1,
            seen: Vec::new(),
            results: Vec::new(),
            _dir: dir,
        })
    }

    /// Reads the next event; command results met on the way are kept.
    async fn next_event(&mut self, timeout: Duration) -> anyhow::Result<Event> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if let Some(event) = self.next_message(left).await? {
                return Ok(event);
            }
        }
    }

    /// Reads one message: an event (returned) or a command result (kept).
    async fn next_message(&mut self, timeout: Duration) -> anyhow::Result<Option<Event>> {
        let msg = tokio::time::timeout(timeout, self.channel.recv())
            .await
            .map_err(|_| {
                anyhow!(
                    "nothing from the worker within {timeout:?}; seen: {:#?}",
                    self.seen
                )
            })??;
        match msg {
            Some(FromWorker::Event { event, .. }) => Ok(Some(event)),
            Some(FromWorker::CommandResult { id, result }) => {
                self.results.push((id, result));
                Ok(None)
            }
            Some(other) => bail!("unexpected {other:?}"),
            None => bail!("the worker closed the connection; seen: {:#?}", self.seen),
        }
    }

    /// Waits for an event matching `want`; earlier ones are kept in `seen`.
    pub async fn wait_event(
        &mut self,
        timeout: Duration,
        want: impl Fn(&Event) -> bool,
    ) -> anyhow::Result<Event> {
        if let Some(i) = self.seen.iter().position(&want) {
            return Ok(self.seen.remove(i));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let e = self.next_event(left).await?;
            if want(&e) {
                return Ok(e);
            }
            self.seen.push(e);
        }
    }

    /// Signed in and the roster received.
    pub async fn signed_in(&mut self) -> anyhow::Result<(Event, Event)> {
        let signed_in = self
            .wait_event(SOON, |e| matches!(e, Event::SignedIn { .. }))
            .await?;
        let roster = self
            .wait_event(SOON, |e| matches!(e, Event::Roster { .. }))
            .await?;
        Ok((signed_in, roster))
    }

    pub async fn command(&mut self, command: Command) -> anyhow::Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        self.channel.send(ToWorker::Command { id, command }).await?;
        Ok(id)
    }

    /// Sends a text message and waits for its delivery outcome.
    pub async fn deliver(
        &mut self,
        to: ipc::ConversationTarget,
        text: &str,
        format: ipc::TextFormat,
    ) -> anyhow::Result<ipc::Delivery> {
        let id = self
            .command(Command::SendMessage {
                to,
                text: text.into(),
                format,
            })
            .await?;
        match self
            .wait_event(
                SOON,
                |e| matches!(e, Event::Delivery { command_id, .. } if *command_id == id),
            )
            .await?
        {
            Event::Delivery { outcome, .. } => Ok(outcome),
            other => bail!("unexpected {other:?}"),
        }
    }

    /// Sends a command and waits for its result.
    pub async fn run(&mut self, command: Command) -> anyhow::Result<CommandResult> {
        let id = self.command(command).await?;
        let deadline = tokio::time::Instant::now() + SOON;
        loop {
            if let Some(i) = self.results.iter().position(|(r, _)| *r == id) {
                return Ok(self.results.remove(i).1);
            }
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                bail!("no result for command {id}");
            }
            if let Some(e) = self.next_message(left).await? {
                self.seen.push(e);
            }
        }
    }

    /// Waits for the worker process to exit.
    pub async fn exited(&mut self, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .map_err(|_| anyhow!("the worker did not exit within {timeout:?}"))?
            .map_err(Into::into)
    }
}

pub const SOON: Duration = Duration::from_secs(10);
