//! A misbehaving `msn-worker` stand-in for the supervisor tests. It speaks
//! through the real `ipc` crate where it needs to get far enough to
//! misbehave, and writes raw bytes where the misbehaviour is the framing.
//!
//! Usage: `fake-worker MODE` with MODE one of: garbage, oversize,
//! wrong-phase, future-version, wrong-credentials, signed-in-elsewhere,
//! failed-sandbox.
#![forbid(unsafe_code)]

use std::io::Write;
use std::process::ExitCode;

use ipc::{
    Event, FromWorker, LayerReport, LayerState, SandboxLayer, SandboxReport, SignOutClass, ToWorker,
    WorkerChannel,
};

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let mut socket = match msn_worker::inherited_fd::take_ipc_socket(3) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("ERROR fake-worker: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!("INFO fake-worker mode {mode}");
    match mode.as_str() {
        "garbage" => {
            // A 3-byte frame whose message variant does not exist.
            let _ = socket.write_all(&[0, 0, 0, 3, 200, 1, 2]);
            linger();
        }
        "oversize" => {
            let _ = socket.write_all(&(64u32 << 20).to_be_bytes());
            let _ = socket.write_all(&[0; 1024]);
            linger();
        }
        "future-version" => {
            let frame = ipc::codec::encode_frame(&FromWorker::Hello(ipc::Hello {
                protocol_version: ipc::PROTOCOL_VERSION + 1,
                build: "fake-worker from the future".into(),
            }))
            .unwrap_or_default();
            let _ = socket.write_all(&frame);
            linger();
        }
        "wrong-phase" | "wrong-credentials" | "signed-in-elsewhere" | "failed-sandbox" => {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
            let Ok(runtime) = runtime else {
                return ExitCode::from(2);
            };
            if let Err(e) = runtime.block_on(speak(socket, &mode)) {
                eprintln!("ERROR fake-worker: {e}");
            }
        }
        other => {
            eprintln!("ERROR fake-worker: unknown mode {other:?}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

/// Stays alive so that only the supervisor's reaction ends us.
fn linger() {
    std::thread::sleep(std::time::Duration::from_secs(60));
}

async fn speak(socket: std::os::unix::net::UnixStream, mode: &str) -> anyhow::Result<()> {
    socket.set_nonblocking(true)?;
    let stream = tokio::net::UnixStream::from_std(socket)?;
    if mode == "wrong-phase" {
        // Hello, then Ready before being configured: the framing is fine,
        // the order is not. Bypass our own phase check by writing raw frames.
        use tokio::io::AsyncWriteExt;
        let mut stream = stream;
        for msg in [
            FromWorker::Hello(ipc::Hello {
                protocol_version: ipc::PROTOCOL_VERSION,
                build: "fake".into(),
            }),
            FromWorker::Ready,
        ] {
            stream.write_all(&ipc::codec::encode_frame(&msg)?).await?;
        }
        linger();
        return Ok(());
    }
    let mut channel = WorkerChannel::new(stream);
    channel.handshake("fake-worker").await?;
    loop {
        match channel.recv().await? {
            Some(ToWorker::Configure(_)) => {
                let state = |layer| {
                    if mode == "failed-sandbox" && layer == SandboxLayer::Seccomp {
                        LayerState::Failed("seccomp(2): EINVAL".into())
                    } else {
                        LayerState::Enforced
                    }
                };
                let layers = SandboxLayer::ALL
                    .into_iter()
                    .map(|layer| LayerReport {
                        layer,
                        state: state(layer),
                    })
                    .collect();
                channel
                    .send(FromWorker::Configured(SandboxReport { layers }))
                    .await?
            }
            Some(ToWorker::Credentials(_)) => {
                if mode == "failed-sandbox" {
                    eprintln!("ERROR fake-worker: received the password despite a failed sandbox");
                    std::process::exit(3);
                }
                break;
            }
            Some(ToWorker::Heartbeat { nonce }) => channel.send(FromWorker::HeartbeatAck { nonce }).await?,
            Some(_) => {}
            None => return Ok(()),
        }
    }
    channel.send(FromWorker::Ready).await?;
    let (class, reason) = match mode {
        "wrong-credentials" => (SignOutClass::WrongCredentials, "Passport: 401 Unauthorized"),
        _ => (SignOutClass::SignedInElsewhere, "OUT OTH"),
    };
    channel
        .send(FromWorker::Event {
            seq: 0,
            event: Event::SignedOut {
                class,
                reason: reason.into(),
                retry_after_secs: None,
            },
        })
        .await?;
    Ok(())
}
