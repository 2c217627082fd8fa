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
    if let Some((uid, gid)) = worker_ids(settings)? {
        check_executable_by(&settings.path, uid, gid)?;
    }
    Ok(())
}

/// Whether `uid`/`gid` may search every directory on the way to `path` and
/// execute it, by plain Unix permissions (what matters after the switch).
fn check_executable_by(path: &Path, uid: u32, gid: u32) -> Result<(), SpawnError> {
    use std::os::unix::fs::MetadataExt;
    let may = |meta: &std::fs::Metadata| {
        let mode = meta.mode();
        if meta.uid() == uid {
            mode & 0o100 != 0
        } else if meta.gid() == gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        }
    };
    let fail = |what: &Path| SpawnError::Binary {
        path: path.display().to_string(),
        reason: format!(
            "the worker user (uid {uid}) may not {} {}",
            if what == path { "execute" } else { "enter" },
            what.display()
        ),
    };
    let absolute = std::fs::canonicalize(path).map_err(|e| SpawnError::Binary {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    for dir in absolute.ancestors().skip(1) {
        if let Ok(meta) = std::fs::metadata(dir) {
            if !may(&meta) {
                return Err(fail(dir));
            }
        }
    }
    match std::fs::metadata(&absolute) {
        Ok(meta) if may(&meta) => Ok(()),
        _ => Err(fail(path)),
    }
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

/// The worker's log lines: a burst, then a steady rate; what is over is
/// dropped and counted. Sans-IO: time is passed in.
#[derive(Debug)]
pub struct LogBudget {
    tokens: crate::token_bucket::TokenBucket,
    dropped: u64,
}

const LOG_BURST: f64 = 200.0;
const LOG_PER_SECOND: f64 = 50.0;

impl LogBudget {
    pub fn new(now: std::time::Instant) -> Self {
        LogBudget {
            tokens: crate::token_bucket::TokenBucket::new(LOG_BURST, LOG_PER_SECOND, now),
            dropped: 0,
        }
    }

    /// Whether a line may be logged now; when lines were dropped before
    /// this one, also returns how many.
    pub fn admit(&mut self, now: std::time::Instant) -> (bool, u64) {
        if self.tokens.try_take(now) {
            (true, std::mem::take(&mut self.dropped))
        } else {
            self.dropped += 1;
            (false, 0)
        }
    }
}

/// Re-logs the worker's stderr, line by line, at the level the worker
/// printed (its lines start with the level), tagged with its pid. Lines are
/// untrusted: cut to a bounded length, decoded lossily and rate-limited so a
/// compromised worker cannot flood the journal.
async fn relay_stderr(mut stderr: impl AsyncRead + Unpin, pid: u32) {
    let mut buf = vec![0u8; 8192];
    let mut line: Vec<u8> = Vec::new();
    let mut truncated = false;
    let mut budget = LogBudget::new(std::time::Instant::now());
    let mut emit = |line: &[u8], truncated: bool| {
        let (admitted, dropped) = budget.admit(std::time::Instant::now());
        if dropped > 0 {
            tracing::warn!(target: "msn_worker", worker_pid = pid, "{dropped} worker log lines dropped (too many)");
        }
        if admitted {
            log_worker_line(pid, line, truncated);
        }
    };
    loop {
        let n = match stderr.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if b == b'\n' {
                emit(&line, truncated);
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
        emit(&line, truncated);
    }
}

fn log_worker_line(pid: u32, raw: &[u8], truncated: bool) {
    let text = crate::untrusted::one_line(&String::from_utf8_lossy(raw));
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn log_budget_allows_a_burst_then_a_rate_and_counts_what_it_drops() {
        let start = Instant::now();
        let mut b = LogBudget::new(start);
        let admitted = (0..300).filter(|_| b.admit(start).0).count();
        assert_eq!(admitted, 200);
        // One second later: 50 more, and the first reports the 100 dropped.
        let later = start + Duration::from_secs(1);
        assert_eq!(b.admit(later), (true, 100));
        let more = (0..100).filter(|_| b.admit(later).0).count();
        assert_eq!(more, 49);
    }

    #[test]
    fn a_binary_the_worker_user_cannot_reach_is_refused_up_front() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let private = dir.path().join("private");
        std::fs::create_dir(&private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        let bin = private.join("msn-worker");
        std::fs::write(&bin, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let me = nix::unistd::Uid::effective().as_raw();
        let other = me.wrapping_add(12345);
        let err = check_executable_by(&bin, other, other).unwrap_err().to_string();
        assert!(err.contains("may not enter"), "{err}");
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(check_executable_by(&bin, other, other).is_ok());
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(check_executable_by(&bin, other, other)
            .unwrap_err()
            .to_string()
            .contains("may not execute"));
    }
}
