//! Starting an `msn-worker` process: a fresh socketpair whose worker end
//! becomes the child's fd 3, no environment, its own process group, an
//! unprivileged user when we are root, and its stderr re-logged here.

use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Stdio;

use command_fds::{CommandFdExt, FdMapping};
use ipc::BouncerChannel;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::{Child, Command};

use crate::config::WorkerSettings;

/// The fd number the worker finds its IPC socket on.
const WORKER_IPC_FD: i32 = 3;
/// Longest worker log line we re-log; the rest is cut off.
const MAX_LOG_LINE: usize = 4096;

pub struct Spawned {
    pub child: Child,
    pub pid: u32,
    pub channel: BouncerChannel,
}

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("worker binary {path}: {reason}")]
    Binary { path: String, reason: String },
    #[error("worker.user {0:?}: {1}")]
    User(String, String),
    #[error("worker.group {0:?}: {1}")]
    Group(String, String),
    #[error("msnbnc runs as root, so worker.user must name an unprivileged account for the worker (e.g. \"msnbnc-worker\" or \"nobody\")")]
    RootNeedsUser,
    #[error("cannot start the worker: {0}")]
    Io(#[from] std::io::Error),
}

/// Checks up front what would otherwise fail on every restart.
pub fn preflight(settings: &WorkerSettings) -> Result<(), SpawnError> {
    check_binary(&settings.path)?;
    worker_ids(settings)?;
    Ok(())
}

fn check_binary(path: &Path) -> Result<(), SpawnError> {
    use std::os::unix::fs::PermissionsExt;
    let fail = |reason: String| SpawnError::Binary {
        path: path.display().to_string(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| fail(e.to_string()))?;
    if !meta.is_file() {
        return Err(fail("not a regular file".into()));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(fail("not executable".into()));
    }
    Ok(())
}

/// The uid/gid to run the worker as, when we are root.
fn worker_ids(settings: &WorkerSettings) -> Result<Option<(u32, u32)>, SpawnError> {
    if !nix::unistd::Uid::effective().is_root() {
        if let Some(user) = &settings.user {
            tracing::debug!(user, "not running as root; worker.user is ignored");
        }
        return Ok(None);
    }
    let name = settings.user.as_ref().ok_or(SpawnError::RootNeedsUser)?;
    let user = nix::unistd::User::from_name(name)
        .map_err(|e| SpawnError::User(name.clone(), e.to_string()))?
        .ok_or_else(|| SpawnError::User(name.clone(), "no such user".into()))?;
    if user.uid.is_root() {
        return Err(SpawnError::User(
            name.clone(),
            "is root; choose an unprivileged account".into(),
        ));
    }
    let gid = match &settings.group {
        None => user.gid,
        Some(g) => {
            nix::unistd::Group::from_name(g)
                .map_err(|e| SpawnError::Group(g.clone(), e.to_string()))?
                .ok_or_else(|| SpawnError::Group(g.clone(), "no such group".into()))?
                .gid
        }
    };
    Ok(Some((user.uid.as_raw(), gid.as_raw())))
}

pub fn spawn(settings: &WorkerSettings) -> Result<Spawned, SpawnError> {
    check_binary(&settings.path)?;
    let ids = worker_ids(settings)?;
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()?;

    let mut cmd = Command::new(&settings.path);
    cmd.arg("--ipc-fd")
        .arg(WORKER_IPC_FD.to_string())
        .arg("--log-filter")
        .arg(&settings.log_filter)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C in our terminal is ours to handle.
        .process_group(0)
        .kill_on_drop(true);
    if let Some((uid, gid)) = ids {
        // std also drops supplementary groups when switching away from root.
        cmd.uid(uid).gid(gid);
    }
    cmd.fd_mappings(vec![FdMapping {
        parent_fd: OwnedFd::from(theirs),
        child_fd: WORKER_IPC_FD,
    }])
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    let mut child = cmd.spawn()?;
    // The command holds our copy of the worker's end; drop it so that the
    // worker's death is seen as end-of-file on ours.
    drop(cmd);
    let pid = child.id().unwrap_or(0);
    if let Some(stderr) = child.stderr.take() {
        tokio::spawn(relay_stderr(stderr, pid));
    }
    ours.set_nonblocking(true)?;
    let channel = BouncerChannel::new(tokio::net::UnixStream::from_std(ours)?);
    Ok(Spawned { child, pid, channel })
}

/// Re-logs the worker's stderr, line by line, at the level the worker
/// printed (its lines start with the level), tagged with its pid. Lines are
/// untrusted: cut to a bounded length and decoded lossily.
async fn relay_stderr(mut stderr: impl AsyncRead + Unpin, pid: u32) {
    let mut buf = vec![0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    let mut truncated = false;
    loop {
        let n = match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if b == b'\n' {
                log_worker_line(pid, &line, truncated);
                line.clear();
                truncated = false;
            } else if line.len() < MAX_LOG_LINE {
                line.push(b);
            } else {
                truncated = true;
            }
        }
    }
    if !line.is_empty() {
        log_worker_line(pid, &line, truncated);
    }
}

fn log_worker_line(pid: u32, raw: &[u8], truncated: bool) {
    let text = String::from_utf8_lossy(raw);
    let text: String = text.chars().filter(|c| !c.is_control() || *c == '\t').collect();
    let trimmed = text.trim_start();
    let (level, message) = match trimmed.split_once(' ') {
        Some((l @ ("ERROR" | "WARN" | "INFO" | "DEBUG" | "TRACE"), rest)) => (l, rest.trim_start()),
        _ => ("INFO", trimmed),
    };
    let cut = if truncated { " [line truncated]" } else { "" };
    match level {
        "ERROR" => tracing::error!(target: "msn_worker", worker_pid = pid, "{message}{cut}"),
        "WARN" => tracing::warn!(target: "msn_worker", worker_pid = pid, "{message}{cut}"),
        "DEBUG" => tracing::debug!(target: "msn_worker", worker_pid = pid, "{message}{cut}"),
        "TRACE" => tracing::trace!(target: "msn_worker", worker_pid = pid, "{message}{cut}"),
        _ => tracing::info!(target: "msn_worker", worker_pid = pid, "{message}{cut}"),
    }
}
