//! `msnbnc check-login`: starts a sandboxed worker exactly as `run` would,
//! signs in, reports what the server said, and signs out.

use std::time::Duration;

use anyhow::bail;
use ipc::{Event, FromWorker, LoginStage, SignOutClass, ToWorker};

use crate::config::Config;
use crate::supervisor::{spawn, worker};

/// Beyond the worker's own login timeout: time to start it and hear it.
const MARGIN: Duration = Duration::from_secs(30);

/// What went wrong, in an operator's words.
pub fn describe(class: SignOutClass) -> &'static str {
    match class {
        SignOutClass::WrongCredentials => "wrong credentials",
        SignOutClass::SignedInElsewhere => "signed in elsewhere",
        SignOutClass::Tls => "TLS/trust error",
        SignOutClass::Unreachable => "server unreachable",
        SignOutClass::ProtocolError => "protocol error",
        SignOutClass::Fatal => "refused by the server",
        SignOutClass::Transient => "temporary failure",
        SignOutClass::Requested => "signed out",
    }
}

/// Returns whether the login succeeded.
pub async fn run(config: &Config) -> anyhow::Result<bool> {
    spawn::preflight(&config.worker)?;
    let mut spawned = spawn::spawn(&config.worker)?;
    let pid = spawned.pid;
    let limit = config.msn.login_timeout + MARGIN;
    let result = tokio::time::timeout(limit, login(config, &mut spawned.channel, pid)).await;
    let _ = spawned.channel.send(ToWorker::Shutdown).await;
    let _ = tokio::time::timeout(Duration::from_secs(3), spawned.child.wait()).await;
    let _ = spawned.child.start_kill();
    match result {
        Ok(r) => r,
        Err(_) => bail!("no answer within {} s", limit.as_secs()),
    }
}

async fn login(config: &Config, channel: &mut ipc::BouncerChannel, pid: u32) -> anyhow::Result<bool> {
    let mut gaps = Vec::new();
    worker::bring_up(channel, config, pid, &mut gaps, 1)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let clean = crate::untrusted::short;
    let mut protocol = None;
    let mut name = None;
    loop {
        let event = match channel.recv().await? {
            Some(FromWorker::Event { event, .. }) => event,
            Some(FromWorker::HeartbeatAck { .. }) => continue,
            Some(other) => bail!(
                "unexpected message from the worker: {}",
                clean(&format!("{other:?}"))
            ),
            None => bail!("the worker exited without saying why"),
        };
        match event {
            Event::LoginProgress(LoginStage::Connecting(server)) => {
                println!("connecting to {}", clean(&server.to_string()));
            }
            Event::LoginProgress(LoginStage::Negotiated { protocol: p }) => {
                protocol = Some(p);
                println!("negotiated protocol: MSNP{p}");
            }
            Event::SignedIn {
                account,
                friendly_name,
                ..
            } => {
                println!("signed in as {} ({:?})", clean(&account), clean(&friendly_name));
                name = Some(friendly_name);
            }
            Event::Roster { contacts, groups } => {
                println!("contacts: {}, groups: {}", contacts.len(), groups.len());
                if protocol.is_some() && name.is_some() {
                    println!("login OK; signing out");
                    return Ok(true);
                }
            }
            Event::SignedOut { class, reason, .. } => {
                println!("login failed: {}: {}", describe(class), clean(&reason));
                return Ok(false);
            }
            _ => {}
        }
    }
}
