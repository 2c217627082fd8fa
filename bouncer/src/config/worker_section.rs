//! `[worker]`: how the `msn-worker` process is started, watched and
//! restarted, and what its sandbox lets it reach.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Errors;

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ElsewherePolicy {
    /// Wait for an operator after `OUT OTH` (default).
    Wait,
    /// Retry after `signed_in_elsewhere_cooldown_secs`.
    Retry,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawWorker {
    path: Option<PathBuf>,
    user: Option<String>,
    group: Option<String>,
    log_filter: String,
    heartbeat_interval_secs: u64,
    heartbeat_timeout_secs: u64,
    restart_initial_secs: u64,
    restart_max_secs: u64,
    stable_after_secs: u64,
    signed_in_elsewhere: ElsewherePolicy,
    signed_in_elsewhere_cooldown_secs: u64,
    read_paths: Vec<PathBuf>,
    connect_ports: Vec<u16>,
    max_open_files: u64,
}

impl Default for RawWorker {
    fn default() -> Self {
        RawWorker {
            path: None,
            user: None,
            group: None,
            log_filter: "info".into(),
            heartbeat_interval_secs: 5,
            heartbeat_timeout_secs: 15,
            restart_initial_secs: 1,
            restart_max_secs: 300,
            stable_after_secs: 600,
            signed_in_elsewhere: ElsewherePolicy::Wait,
            signed_in_elsewhere_cooldown_secs: 3600,
            read_paths: vec!["/etc/resolv.conf".into(), "/etc/hosts".into()],
            connect_ports: vec![443, 1863, 1864],
            max_open_files: 256,
        }
    }
}

/// When to restart a worker that ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartPolicy {
    pub initial: Duration,
    pub max: Duration,
    /// A worker that ran this long resets the back-off.
    pub stable_after: Duration,
    pub signed_in_elsewhere: ElsewherePolicy,
    pub signed_in_elsewhere_cooldown: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    pub path: PathBuf,
    pub user: Option<String>,
    pub group: Option<String>,
    pub log_filter: String,
    pub heartbeat_interval: Duration,
    pub heartbeat_timeout: Duration,
    pub restart: RestartPolicy,
    pub read_paths: Vec<PathBuf>,
    pub connect_ports: Vec<u16>,
    pub max_open_files: u64,
}

/// Where `msn-worker` is by default: next to the running `msnbnc`.
pub fn default_worker_path() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("msn-worker")))
        .unwrap_or_else(|| PathBuf::from("msn-worker"))
}

fn secs(key: &str, v: u64, min: u64, errors: &mut Errors) -> Duration {
    if v < min {
        errors.add(key, format!("must be at least {min}"));
    }
    Duration::from_secs(v)
}

fn restart_policy(w: &RawWorker, errors: &mut Errors) -> RestartPolicy {
    if w.restart_max_secs < w.restart_initial_secs {
        errors.add(
            "worker.restart_max_secs",
            "is less than worker.restart_initial_secs".into(),
        );
    }
    RestartPolicy {
        initial: secs("worker.restart_initial_secs", w.restart_initial_secs, 1, errors),
        max: secs("worker.restart_max_secs", w.restart_max_secs, 1, errors),
        stable_after: secs("worker.stable_after_secs", w.stable_after_secs, 1, errors),
        signed_in_elsewhere: w.signed_in_elsewhere,
        signed_in_elsewhere_cooldown: secs(
            "worker.signed_in_elsewhere_cooldown_secs",
            w.signed_in_elsewhere_cooldown_secs,
            60,
            errors,
        ),
    }
}

fn check_paths_and_names(w: &RawWorker, errors: &mut Errors) {
    if tracing_subscriber::EnvFilter::try_new(&w.log_filter).is_err() {
        errors.add(
            "worker.log_filter",
            format!("{:?} is not a valid tracing filter", w.log_filter),
        );
    }
    for (i, p) in w.read_paths.iter().enumerate() {
        if !p.is_absolute() {
            errors.add(
                &format!("worker.read_paths[{i}]"),
                "must be an absolute path".into(),
            );
        }
    }
    if w.connect_ports.contains(&0) {
        errors.add("worker.connect_ports", "0 is not a port".into());
    }
    if !(16..=65536).contains(&w.max_open_files) {
        errors.add("worker.max_open_files", "must be between 16 and 65536".into());
    }
    if w.path.as_ref().is_some_and(|p| !p.is_absolute()) {
        errors.add("worker.path", "must be an absolute path".into());
    }
    for (key, name) in [("worker.user", &w.user), ("worker.group", &w.group)] {
        if let Some(n) = name {
            if n.is_empty() || n.contains(|c: char| c == ':' || c.is_whitespace()) {
                errors.add(key, format!("{n:?} is not a user or group name"));
            }
        }
    }
}

/// The worker's settings; `msn` adds the CA file to what it may read and
/// the servers' ports to where it may connect.
pub(super) fn validate(w: RawWorker, msn: &super::MsnSettings, errors: &mut Errors) -> WorkerSettings {
    let heartbeat_interval = secs(
        "worker.heartbeat_interval_secs",
        w.heartbeat_interval_secs,
        1,
        errors,
    );
    let heartbeat_timeout = secs(
        "worker.heartbeat_timeout_secs",
        w.heartbeat_timeout_secs,
        1,
        errors,
    );
    if w.heartbeat_timeout_secs <= w.heartbeat_interval_secs {
        errors.add(
            "worker.heartbeat_timeout_secs",
            "must be longer than worker.heartbeat_interval_secs".into(),
        );
    }
    let restart = restart_policy(&w, errors);
    check_paths_and_names(&w, errors);
    let mut read_paths = w.read_paths;
    read_paths.extend(msn.ca_file.clone());
    let mut connect_ports = w.connect_ports;
    connect_ports.extend(msn.servers.iter().map(|s| s.port));
    // The web services of MSNP13+ are as much the server as its address.
    if let Some(w) = &msn.web_services {
        let urls = [&w.rst, &w.address_book, &w.sharing, &w.oim_read, &w.oim_store];
        connect_ports.extend(
            urls.iter()
                .filter_map(|u| ipc::passport_url::Url::parse(u))
                .map(|u| u.port),
        );
    }
    connect_ports.sort_unstable();
    connect_ports.dedup();
    WorkerSettings {
        path: w.path.unwrap_or_else(default_worker_path),
        user: w.user,
        group: w.group,
        log_filter: w.log_filter,
        heartbeat_interval,
        heartbeat_timeout,
        restart,
        read_paths,
        connect_ports,
        max_open_files: w.max_open_files,
    }
}
