//! `msnbnc check-sandbox`: starts a worker exactly as `run` would, lets it
//! sandbox itself, asks it to attempt what the sandbox must forbid, and
//! prints what each layer achieved and what each attempt got.

use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use anyhow::{bail, Context};
use ipc::{FromWorker, ProbeRequest, ToWorker};

use crate::config::Config;
use crate::supervisor::{spawn, worker};

/// Returns whether the sandbox held: every probe blocked and no layer failed.
pub async fn run(config: &Config) -> anyhow::Result<bool> {
    spawn::preflight(&config.worker)?;
    let mut spawned = spawn::spawn(&config.worker)?;
    let result = match tokio::time::timeout(worker::BRING_UP_TIMEOUT, probe(config, &mut spawned)).await {
        Ok(r) => r,
        Err(_) => Err(anyhow::anyhow!(
            "the worker did not answer within {} s",
            worker::BRING_UP_TIMEOUT.as_secs()
        )),
    };
    let _ = spawned.channel.send(ToWorker::Shutdown).await;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), spawned.child.wait()).await;
    let _ = spawned.child.start_kill();
    result
}

async fn probe(config: &Config, spawned: &mut spawn::Spawned) -> anyhow::Result<bool> {
    let report = worker::configure(&mut spawned.channel, config, 1)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    // Everything below prints what the worker said: sanitise it.
    let clean = crate::untrusted::short;

    // A port that is certainly listening, so an unblocked connect would
    // visibly succeed instead of failing for lack of a listener.
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("binding a probe port")?;
    let port = listener.local_addr()?.port();
    // A world-writable directory of our own, so that only the sandbox, not
    // Unix permissions, can stop the worker from creating a file in it.
    let scratch = tempfile::Builder::new()
        .prefix("msnbnc-sandbox-probe-")
        .tempdir()?;
    std::fs::set_permissions(scratch.path(), std::fs::Permissions::from_mode(0o777))?;
    let request = ProbeRequest {
        // World-readable everywhere: only the sandbox can stop the read.
        forbidden_file: PathBuf::from("/etc/passwd"),
        scratch_dir: scratch.path().to_owned(),
        program: PathBuf::from("/bin/sh"),
        forbidden_port: port,
    };
    spawned.channel.send(ToWorker::ProbeSandbox(request)).await?;
    let probes = match spawned.channel.recv().await? {
        Some(FromWorker::ProbeReport(p)) => p,
        Some(other) => bail!("worker answered the probe with {other:?}"),
        None => bail!("the worker exited during the probe (an exec that succeeded would look like this)"),
    };

    println!("{:<14} {:<12} detail", "layer", "state");
    for layer in &report.layers {
        println!(
            "{:<14} {:<12} {}",
            layer.layer.name(),
            layer.state.label(),
            layer.state.detail()
        );
    }
    println!();
    println!("{:<40} {:<9} detail", "attempt from inside the sandbox", "result");
    for r in &probes.results {
        println!(
            "{:<40} {:<9} {}",
            clean(&r.attempt),
            if r.blocked { "blocked" } else { "ALLOWED" },
            clean(&r.detail)
        );
    }
    let failed_layer = report
        .layers
        .iter()
        .any(|l| matches!(l.state, ipc::LayerState::Failed(_)));
    let hole = probes.results.iter().any(|r| !r.blocked);
    Ok(!failed_layer && !hole)
}
