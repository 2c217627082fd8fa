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
    let mut places = None;
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
                println!("login method: {}", login_method(p));
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
                if let (Some(p), Some(_)) = (protocol, &name) {
                    if p >= 13 {
                        after_lists(channel, p, &mut places).await?;
                    }
                    println!("login OK; signing out");
                    return Ok(true);
                }
            }
            Event::Places(p) => places = Some(p),
            Event::SignedOut { class, reason, .. } => {
                println!("login failed: {}: {}", describe(class), clean(&reason));
                return Ok(false);
            }
            _ => {}
        }
    }
}

/// How a version signs in.
fn login_method(protocol: u8) -> &'static str {
    match protocol {
        16.. => "single sign-on (RST tickets, MBI_KEY_OLD proof) with this installation's machine GUID",
        15 => "single sign-on (RST tickets, MBI_KEY_OLD proof)",
        13 | 14 => "Passport ticket from the RST service (USR TWN)",
        _ => "Passport 1.4 (USR TWN)",
    }
}

/// MSNP13+: the places signed in to the account and the offline messages
/// waiting, as they come after the lists (offline messages are only
/// counted: they stay on the server for msnbnc).
async fn after_lists(
    channel: &mut ipc::BouncerChannel,
    protocol: u8,
    places: &mut Option<Vec<ipc::Place>>,
) -> anyhow::Result<()> {
    let clean = crate::untrusted::short;
    let mut waiting = 0usize;
    // Until the server has been quiet for 2 s (10 s at most).
    let end = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let quiet = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        match tokio::time::timeout_at(quiet.min(end), channel.recv()).await {
            Ok(Ok(Some(FromWorker::Event { event, .. }))) => match event {
                Event::OfflineMessage { .. } => waiting += 1,
                Event::Places(p) => *places = Some(p),
                _ => {}
            },
            Ok(Ok(Some(_))) => {}
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
        }
    }
    match (protocol, places.as_deref()) {
        (16.., Some(list)) if !list.is_empty() => {
            println!("places signed in to the account: {}", list.len());
            for p in list {
                let whose = if p.ours { " (this installation)" } else { "" };
                let name = if p.name.is_empty() { "unnamed" } else { &p.name };
                println!("  {} {}{whose}", clean(name), clean(&p.guid));
            }
        }
        (16.., _) => println!("places signed in to the account: this installation only"),
        _ => println!("places: one per account at MSNP{protocol} (a login elsewhere signs msnbnc out)"),
    }
    println!("offline messages waiting: {waiting} (left on the server for msnbnc)");
    Ok(())
}
