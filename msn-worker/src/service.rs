//! The worker's side of the IPC protocol: handshake, configuration and
//! sandbox, credentials, then the running session.

use anyhow::{bail, Context};
use ipc::{Credentials, FromWorker, ToWorker, WorkerChannel, WorkerConfig};
use tokio::net::UnixStream;

use crate::sandbox;
use crate::session::{Outcome, Session};

pub const BUILD: &str = concat!("msn-worker ", env!("CARGO_PKG_VERSION"));

/// What ended the worker.
pub enum Exit {
    /// The bouncer asked us to stop, or went away.
    Stopped,
    /// The MSN session ended; the bouncer has been told why and decides
    /// whether a new worker should try again.
    SignedOut(ipc::SignOutClass),
}

/// Waits for the next message that is not a heartbeat (heartbeats are
/// answered here, in every phase). `None`: shutdown or end of stream.
async fn next(channel: &mut WorkerChannel) -> anyhow::Result<Option<ToWorker>> {
    loop {
        match channel.recv().await.context("reading from the bouncer")? {
            None | Some(ToWorker::Shutdown) => return Ok(None),
            Some(ToWorker::Heartbeat { nonce }) => channel.send(FromWorker::HeartbeatAck { nonce }).await?,
            Some(other) => return Ok(Some(other)),
        }
    }
}

pub async fn run(stream: UnixStream) -> anyhow::Result<Exit> {
    let mut channel = WorkerChannel::new(stream);
    let peer = channel.handshake(BUILD).await.context("IPC handshake")?;
    tracing::debug!(bouncer = %peer.build, "handshake complete");

    let config: WorkerConfig = match next(&mut channel).await? {
        Some(ToWorker::Configure(config)) => config,
        None => return Ok(Exit::Stopped),
        Some(other) => bail!("expected Configure, got {other:?}"),
    };
    let report = sandbox::apply(&config.sandbox);
    channel.send(FromWorker::Configured(report)).await?;

    let credentials: Credentials = loop {
        match next(&mut channel).await? {
            Some(ToWorker::ProbeSandbox(request)) => {
                let report = sandbox::probe::run(&request);
                channel.send(FromWorker::ProbeReport(report)).await?;
            }
            Some(ToWorker::Credentials(credentials)) => break credentials,
            None => return Ok(Exit::Stopped),
            Some(other) => bail!("expected Credentials, got {other:?}"),
        }
    };
    channel.send(FromWorker::Ready).await?;
    tracing::info!(account = %config.account, "worker ready");
    running(&mut channel, &config, credentials).await
}

/// The running phase: the MSN session, until it ends or we are stopped.
async fn running(
    channel: &mut WorkerChannel,
    config: &WorkerConfig,
    credentials: Credentials,
) -> anyhow::Result<Exit> {
    let Credentials { password } = credentials;
    match Session::new(channel, config, password).run().await? {
        Outcome::Stopped => Ok(Exit::Stopped),
        Outcome::SignedOut { class, .. } => {
            // Read what the bouncer sent meanwhile (heartbeats), so that
            // leaving does not reset the socket under its reader.
            let quiet = std::time::Duration::from_millis(100);
            while let Ok(Ok(Some(_))) = tokio::time::timeout(quiet, channel.recv()).await {}
            Ok(Exit::SignedOut(class))
        }
    }
}
