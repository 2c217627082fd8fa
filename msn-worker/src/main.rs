//! `msn-worker`: owns msnbnc's one MSN Messenger connection.
//!
//! Started only by `msnbnc`, which passes one end of a Unix socketpair as a
//! file descriptor. The worker sandboxes itself as soon as it knows its
//! configuration and before it is given the account password; it keeps no
//! durable state, so the bouncer can kill and restart it at any time.
#![forbid(unsafe_code)]
// No function over 80 lines (clippy.toml sets the threshold).
#![warn(clippy::too_many_lines)]

use std::process::ExitCode;

use msn_worker::{inherited_fd, service};

use clap::Parser;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    version,
    about = "msnbnc's sandboxed MSN connection (started by msnbnc, not by hand)"
)]
struct Args {
    /// Inherited file descriptor of the IPC socket.
    #[arg(long, default_value_t = 3)]
    ipc_fd: i32,
    /// tracing filter for the worker's log, e.g. "info" or "msn_worker=debug".
    #[arg(long, default_value = "info")]
    log_filter: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // The bouncer reads our stderr line by line and re-logs it with our pid,
    // so no timestamps and no colours here.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_new(&args.log_filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .init();
    inherited_fd::close_strays(args.ipc_fd.max(2));

    let stream = match inherited_fd::take_ipc_socket(args.ipc_fd) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(2);
        }
    };
    // One thread on purpose: the sandbox forbids creating threads.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        stream.set_nonblocking(true)?;
        let stream = tokio::net::UnixStream::from_std(stream)?;
        service::run(stream).await
    });
    match result {
        Ok(service::Exit::Stopped) => ExitCode::SUCCESS,
        Ok(service::Exit::SignedOut(class)) => {
            tracing::info!("MSN session over ({class:?}); exiting");
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(1)
        }
    }
}
