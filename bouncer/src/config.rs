//! The configuration file: TOML, every key documented in
//! `contrib/msnbnc.example.toml`. Loading reports every mistake as
//! `file: key: reason`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipc::{Secret, ServerAddr, VersionRange};
use serde::Deserialize;

/// Lowest and highest MSNP dialect msnbnc knows about.
pub const MSNP_VERSIONS: std::ops::RangeInclusive<u8> = 8..=12;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub key: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.file.display(), self.key, self.reason)
    }
}

/// All the mistakes found in one file.
#[derive(Debug)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

// ---- the file's shape -------------------------------------------------------

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    account: RawAccount,
    #[serde(default)]
    msn: RawMsn,
    #[serde(default)]
    worker: RawWorker,
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    irc: RawIrc,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawIrc {
    listen: Vec<String>,
    tls_listen: Vec<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    server_name: String,
    network: String,
    unattended_status: String,
    unattended_reply: String,
    idle_close_secs: u64,
    replay_max: usize,
    signature: String,
}

impl Default for RawIrc {
    fn default() -> Self {
        RawIrc {
            listen: vec!["127.0.0.1:6667".into(), "[::1]:6667".into()],
            tls_listen: Vec::new(),
            tls_cert: None,
            tls_key: None,
            server_name: "msnbnc".into(),
            network: "msnbnc".into(),
            unattended_status: "away".into(),
            unattended_reply: String::new(),
            idle_close_secs: 3600,
            replay_max: 500,
            signature: String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrcSettings {
    pub listen: Vec<std::net::SocketAddr>,
    /// TLS listeners and the certificate chain and key they present
    /// (re-read on SIGHUP).
    pub tls_listen: Vec<std::net::SocketAddr>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub server_name: String,
    pub network: String,
    /// The MSN status while no staff member is attached.
    pub unattended_status: ipc::Status,
    /// Sent once to a customer who writes while nobody is attached (empty: off).
    pub unattended_reply: String,
    /// Conversations quiet for this long are closed (0: never).
    pub idle_close: Duration,
    /// Lines replayed per conversation on attach; older ones are fetched
    /// with CHATHISTORY or `*msn history`.
    pub replay_max: usize,
    /// Staff messages MSN never got (the worker was down) are sent when it
    /// is back, if they are younger than this; older ones are reported failed.
    pub outbox_retry: Duration,
    /// What history keeps (pruned in the background).
    pub retention: crate::store::retention::Retention,
    /// How staff messages reach customers, e.g. `[{nick}] {text}`; empty:
    /// the text alone.
    pub signature: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawStore {
    path: PathBuf,
    outbox_retry_secs: u64,
    retention_days: u64,
    retention_lines: u64,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore {
            path: PathBuf::from("/var/lib/msnbnc/msnbnc.db"),
            outbox_retry_secs: 600,
            retention_days: 0,
            retention_lines: 0,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    handle: String,
    password: Option<String>,
    password_file: Option<PathBuf>,
    password_credential: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
struct RawMsn {
    servers: Vec<String>,
    protocol_min: u8,
    protocol_max: u8,
    webpki_roots: bool,
    ca_file: Option<PathBuf>,
    passport_nexus: Option<String>,
    passport_login: Option<String>,
    allow_plain_http_login: bool,
    auto_accept_contacts: bool,
}

impl Default for RawMsn {
    fn default() -> Self {
        RawMsn {
            servers: Vec::new(),
            protocol_min: *MSNP_VERSIONS.start(),
            protocol_max: *MSNP_VERSIONS.end(),
            webpki_roots: true,
            ca_file: None,
            passport_nexus: None,
            passport_login: None,
            allow_plain_http_login: false,
            auto_accept_contacts: true,
        }
    }
}

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
struct RawWorker {
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

// ---- the validated configuration ---------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    Inline(Secret),
    File(PathBuf),
    /// A file named this in `$CREDENTIALS_DIRECTORY` (systemd `LoadCredential=`).
    Credential(String),
}

impl PasswordSource {
    /// Reads the password now (files are re-read for every login, so a
    /// rotated password is picked up without a restart).
    pub fn load(&self) -> Result<Secret, String> {
        let path = match self {
            PasswordSource::Inline(s) => return Ok(s.clone()),
            PasswordSource::File(p) => p.clone(),
            PasswordSource::Credential(name) => {
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY").ok_or_else(|| {
                    format!("password_credential = {name:?} but $CREDENTIALS_DIRECTORY is not set (is LoadCredential= in the unit?)")
                })?;
                Path::new(&dir).join(name)
            }
        };
        let mut text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        // One trailing newline is an artefact of editors and `echo`.
        let trimmed_len = text.trim_end_matches(['\n', '\r']).len();
        let secret = Secret::new(text[..trimmed_len].to_owned());
        zeroize::Zeroize::zeroize(&mut text);
        if secret.is_empty() {
            return Err(format!("{} is empty", path.display()));
        }
        Ok(secret)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSettings {
    pub path: PathBuf,
    pub user: Option<String>,
    pub group: Option<String>,
    pub log_filter: String,
    pub heartbeat_interval: Duration,
    pub heartbeat_timeout: Duration,
    pub restart_initial: Duration,
    pub restart_max: Duration,
    pub stable_after: Duration,
    pub signed_in_elsewhere: ElsewherePolicy,
    pub signed_in_elsewhere_cooldown: Duration,
    pub read_paths: Vec<PathBuf>,
    pub connect_ports: Vec<u16>,
    pub max_open_files: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub file: PathBuf,
    pub account: String,
    pub password: PasswordSource,
    pub servers: Vec<ServerAddr>,
    pub protocol: VersionRange,
    pub webpki_roots: bool,
    pub ca_file: Option<PathBuf>,
    pub passport: ipc::PassportConfig,
    pub auto_accept_contacts: bool,
    pub worker: WorkerSettings,
    /// The SQLite database.
    pub store_path: PathBuf,
    pub irc: IrcSettings,
}

/// Where `msn-worker` is by default: next to the running `msnbnc`.
pub fn default_worker_path() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join("msn-worker")))
        .unwrap_or_else(|| PathBuf::from("msn-worker"))
}

fn parse_server(s: &str) -> Result<ServerAddr, String> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or("unclosed '[' in IPv6 address")?;
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("unexpected {after:?} after ']'")),
        }
    } else {
        match s.rsplit_once(':') {
            Some((host, port)) if !host.contains(':') => (host, Some(port)),
            Some(_) => return Err("IPv6 addresses must be written as [addr]:port".into()),
            None => (s, None),
        }
    };
    if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
        return Err(format!("{host:?} is not a host name or address"));
    }
    let port = match port {
        None => 1863,
        Some(p) => match p.parse::<u16>() {
            Ok(0) | Err(_) => return Err(format!("{p:?} is not a port number (1-65535)")),
            Ok(n) => n,
        },
    };
    Ok(ServerAddr {
        host: host.to_owned(),
        port,
    })
}

/// Position of a byte offset as "line L, column C" for syntax errors.
fn line_col(text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("line {line}, column {col}")
}

pub fn load(file: &Path) -> Result<Config, ConfigErrors> {
    let err = |key: &str, reason: String| ConfigError {
        file: file.to_owned(),
        key: key.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| ConfigErrors(vec![err("(file)", format!("cannot read: {e}"))]))?;
    parse(file, &text)
}

pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let mut errors = Vec::new();
    let mut err = |key: &str, reason: String| {
        errors.push(ConfigError {
            file: file.to_owned(),
            key: key.to_owned(),
            reason,
        })
    };
    let raw: RawConfig = match toml::Deserializer::parse(text) {
        Err(e) => {
            let at = e.span().map(|s| line_col(text, s.start)).unwrap_or_default();
            return Err(ConfigErrors(vec![ConfigError {
                file: file.to_owned(),
                key: format!("(syntax, {at})"),
                reason: e.message().to_owned(),
            }]));
        }
        Ok(de) => match serde_path_to_error::deserialize(de) {
            Ok(raw) => raw,
            Err(e) => {
                let key = e.path().to_string();
                let inner = e.into_inner();
                let key = if key == "." { "(top level)".to_owned() } else { key };
                return Err(ConfigErrors(vec![ConfigError {
                    file: file.to_owned(),
                    key,
                    reason: inner.message().to_owned(),
                }]));
            }
        },
    };

    let account = raw.account.handle.trim().to_owned();
    if account != raw.account.handle {
        err(
            "account.handle",
            "must not have leading or trailing spaces".into(),
        );
    }
    match account.split_once('@') {
        Some((user, domain))
            if !user.is_empty() && domain.contains('.') && !account.contains(char::is_whitespace) => {}
        _ => err(
            "account.handle",
            format!("{account:?} is not an MSN sign-in name like support@example.com"),
        ),
    }

    let sources = [
        raw.account.password.is_some(),
        raw.account.password_file.is_some(),
        raw.account.password_credential.is_some(),
    ];
    let password = match sources.iter().filter(|s| **s).count() {
        0 => {
            err(
                "account.password",
                "no password: set one of password, password_file or password_credential".into(),
            );
            None
        }
        1 => {
            if let Some(p) = raw.account.password {
                if p.is_empty() {
                    err("account.password", "is empty".into());
                }
                Some(PasswordSource::Inline(Secret::new(p)))
            } else if let Some(f) = raw.account.password_file {
                Some(PasswordSource::File(f))
            } else {
                raw.account.password_credential.map(|name| {
                    if name.is_empty() || name.contains('/') {
                        err(
                            "account.password_credential",
                            format!("{name:?} is not a credential name"),
                        );
                    }
                    PasswordSource::Credential(name)
                })
            }
        }
        _ => {
            err(
                "account.password",
                "set only one of password, password_file and password_credential".into(),
            );
            None
        }
    };

    if raw.msn.servers.is_empty() {
        err(
            "msn.servers",
            "at least one server is required, e.g. [\"messenger.example.com:1863\"]".into(),
        );
    }
    let servers: Vec<ServerAddr> = raw
        .msn
        .servers
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            parse_server(s)
                .map_err(|e| err(&format!("msn.servers[{i}]"), e))
                .ok()
        })
        .collect();
    for (key, v) in [
        ("msn.protocol_min", raw.msn.protocol_min),
        ("msn.protocol_max", raw.msn.protocol_max),
    ] {
        if !MSNP_VERSIONS.contains(&v) {
            err(
                key,
                format!(
                    "MSNP{v} is not supported; choose {}..={}",
                    MSNP_VERSIONS.start(),
                    MSNP_VERSIONS.end()
                ),
            );
        }
    }
    if raw.msn.protocol_min > raw.msn.protocol_max {
        err("msn.protocol_min", "is greater than msn.protocol_max".into());
    }
    if !raw.msn.webpki_roots && raw.msn.ca_file.is_none() {
        err(
            "msn.webpki_roots",
            "is false and no msn.ca_file is set: no certificate could be trusted".into(),
        );
    }
    if raw.msn.passport_nexus.is_none() && raw.msn.passport_login.is_none() {
        err(
            "msn.passport_nexus",
            "set the Passport nexus URL (or msn.passport_login to skip the nexus)".into(),
        );
    }
    for (key, url) in [
        ("msn.passport_nexus", &raw.msn.passport_nexus),
        ("msn.passport_login", &raw.msn.passport_login),
    ] {
        let Some(url) = url else { continue };
        match url.split_once("://") {
            Some(("https", rest)) if !rest.is_empty() && !rest.starts_with('/') => {}
            Some(("http", rest)) if !rest.is_empty() && !rest.starts_with('/') => {
                if !raw.msn.allow_plain_http_login {
                    err(
                        key,
                        "sends the password over plain HTTP; use https:// (or set msn.allow_plain_http_login for a test server)"
                            .into(),
                    );
                }
            }
            _ => err(key, format!("{url:?} is not an https:// URL")),
        }
    }
    if let Some(ca) = &raw.msn.ca_file {
        if !ca.is_absolute() {
            err(
                "msn.ca_file",
                "must be an absolute path (the worker's sandbox allows absolute paths only)".into(),
            );
        }
    }

    let w = raw.worker;
    let secs = |key: &str, v: u64, min: u64, err: &mut dyn FnMut(&str, String)| {
        if v < min {
            err(key, format!("must be at least {min}"));
        }
        Duration::from_secs(v)
    };
    let heartbeat_interval = secs(
        "worker.heartbeat_interval_secs",
        w.heartbeat_interval_secs,
        1,
        &mut err,
    );
    let heartbeat_timeout = secs(
        "worker.heartbeat_timeout_secs",
        w.heartbeat_timeout_secs,
        1,
        &mut err,
    );
    if w.heartbeat_timeout_secs <= w.heartbeat_interval_secs {
        err(
            "worker.heartbeat_timeout_secs",
            "must be longer than worker.heartbeat_interval_secs".into(),
        );
    }
    let restart_initial = secs("worker.restart_initial_secs", w.restart_initial_secs, 1, &mut err);
    let restart_max = secs("worker.restart_max_secs", w.restart_max_secs, 1, &mut err);
    if w.restart_max_secs < w.restart_initial_secs {
        err(
            "worker.restart_max_secs",
            "is less than worker.restart_initial_secs".into(),
        );
    }
    let stable_after = secs("worker.stable_after_secs", w.stable_after_secs, 1, &mut err);
    let cooldown = secs(
        "worker.signed_in_elsewhere_cooldown_secs",
        w.signed_in_elsewhere_cooldown_secs,
        60,
        &mut err,
    );
    if tracing_subscriber::EnvFilter::try_new(&w.log_filter).is_err() {
        err(
            "worker.log_filter",
            format!("{:?} is not a valid tracing filter", w.log_filter),
        );
    }
    for (i, p) in w.read_paths.iter().enumerate() {
        if !p.is_absolute() {
            err(
                &format!("worker.read_paths[{i}]"),
                "must be an absolute path".into(),
            );
        }
    }
    if w.connect_ports.contains(&0) {
        err("worker.connect_ports", "0 is not a port".into());
    }
    if !(16..=65536).contains(&w.max_open_files) {
        err("worker.max_open_files", "must be between 16 and 65536".into());
    }
    if let Some(p) = &w.path {
        if !p.is_absolute() {
            err("worker.path", "must be an absolute path".into());
        }
    }
    for (key, name) in [("worker.user", &w.user), ("worker.group", &w.group)] {
        if let Some(n) = name {
            if n.is_empty() || n.contains(|c: char| c == ':' || c.is_whitespace()) {
                err(key, format!("{n:?} is not a user or group name"));
            }
        }
    }

    let listen: Vec<std::net::SocketAddr> = raw
        .irc
        .listen
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            a.parse()
                .map_err(|_| {
                    err(
                        &format!("irc.listen[{i}]"),
                        format!("{a:?} is not an address:port like 127.0.0.1:6667 or [::1]:6667"),
                    )
                })
                .ok()
        })
        .collect();
    let tls_listen: Vec<std::net::SocketAddr> = raw
        .irc
        .tls_listen
        .iter()
        .enumerate()
        .filter_map(|(i, a)| {
            a.parse()
                .map_err(|_| {
                    err(
                        &format!("irc.tls_listen[{i}]"),
                        format!("{a:?} is not an address:port like 0.0.0.0:6697"),
                    )
                })
                .ok()
        })
        .collect();
    if raw.irc.listen.is_empty() && raw.irc.tls_listen.is_empty() {
        err(
            "irc.listen",
            "at least one address (or irc.tls_listen) is required".into(),
        );
    }
    if !raw.irc.tls_listen.is_empty() {
        match (&raw.irc.tls_cert, &raw.irc.tls_key) {
            (Some(cert), Some(key)) => {
                if let Err(e) = crate::irc::tls::acceptor(cert, key) {
                    err("irc.tls_cert", e);
                }
            }
            _ => err(
                "irc.tls_cert",
                "irc.tls_listen needs irc.tls_cert and irc.tls_key (PEM files)".into(),
            ),
        }
    }
    let name_ok = |n: &str| {
        !n.is_empty() && n.len() <= 63 && n.chars().all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
    };
    if !name_ok(&raw.irc.server_name) {
        err(
            "irc.server_name",
            format!("{:?} is not a host-like name", raw.irc.server_name),
        );
    }
    if !name_ok(&raw.irc.network) {
        err(
            "irc.network",
            format!("{:?} must be letters, digits, '-' or '.'", raw.irc.network),
        );
    }
    let unattended_status =
        crate::irc::service::parse_status(&raw.irc.unattended_status).unwrap_or_else(|| {
            err(
                "irc.unattended_status",
                format!(
                    "{:?} is not one of online, busy, away, brb, phone, lunch, hidden",
                    raw.irc.unattended_status
                ),
            );
            ipc::Status::Away
        });
    if !raw.irc.signature.is_empty() && !raw.irc.signature.contains("{text}") {
        err(
            "irc.signature",
            "must contain {text} (e.g. \"[{nick}] {text}\")".into(),
        );
    }
    if !raw.store.path.is_absolute() {
        err("store.path", "must be an absolute path".into());
    }

    let Some(password) = password else {
        return Err(ConfigErrors(errors));
    };
    if !errors.is_empty() {
        return Err(ConfigErrors(errors));
    }

    let mut read_paths = w.read_paths;
    if let Some(ca) = &raw.msn.ca_file {
        read_paths.push(ca.clone());
    }
    let mut connect_ports = w.connect_ports;
    connect_ports.extend(servers.iter().map(|s| s.port));
    connect_ports.sort_unstable();
    connect_ports.dedup();

    Ok(Config {
        file: file.to_owned(),
        account,
        password,
        servers,
        protocol: VersionRange {
            min: raw.msn.protocol_min,
            max: raw.msn.protocol_max,
        },
        webpki_roots: raw.msn.webpki_roots,
        ca_file: raw.msn.ca_file,
        passport: ipc::PassportConfig {
            nexus_url: raw.msn.passport_nexus,
            login_url: raw.msn.passport_login,
            allow_plain_http: raw.msn.allow_plain_http_login,
        },
        auto_accept_contacts: raw.msn.auto_accept_contacts,
        worker: WorkerSettings {
            path: w.path.unwrap_or_else(default_worker_path),
            user: w.user,
            group: w.group,
            log_filter: w.log_filter,
            heartbeat_interval,
            heartbeat_timeout,
            restart_initial,
            restart_max,
            stable_after,
            signed_in_elsewhere: w.signed_in_elsewhere,
            signed_in_elsewhere_cooldown: cooldown,
            read_paths,
            connect_ports,
            max_open_files: w.max_open_files,
        },
        store_path: raw.store.path,
        irc: IrcSettings {
            listen,
            tls_listen,
            tls_cert: raw.irc.tls_cert,
            tls_key: raw.irc.tls_key,
            server_name: raw.irc.server_name,
            network: raw.irc.network,
            unattended_status,
            unattended_reply: raw.irc.unattended_reply,
            idle_close: Duration::from_secs(raw.irc.idle_close_secs),
            replay_max: raw.irc.replay_max,
            outbox_retry: Duration::from_secs(raw.store.outbox_retry_secs),
            retention: crate::store::retention::Retention {
                max_age_ms: (raw.store.retention_days > 0).then(|| {
                    i64::try_from(raw.store.retention_days.saturating_mul(86_400_000)).unwrap_or(i64::MAX)
                }),
                max_lines: (raw.store.retention_lines > 0).then_some(raw.store.retention_lines),
            },
            signature: raw.irc.signature,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[account]
handle = "support@example.com"
password = "p@ss, word%"

[msn]
servers = ["127.0.0.1:1863"]
passport_nexus = "https://127.0.0.1:8443/rdr/pprdr.asp"
"#;

    fn errors(text: &str) -> Vec<String> {
        match parse(Path::new("/etc/msnbnc.toml"), text) {
            Ok(_) => panic!("expected errors"),
            Err(ConfigErrors(v)) => v.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn minimal_config_gets_documented_defaults() {
        let c = parse(Path::new("x.toml"), MINIMAL).unwrap();
        assert_eq!(c.account, "support@example.com");
        assert_eq!(c.password.load().unwrap().expose(), "p@ss, word%");
        assert_eq!(c.protocol, VersionRange { min: 8, max: 12 });
        assert_eq!(c.worker.heartbeat_interval, Duration::from_secs(5));
        assert_eq!(c.worker.restart_max, Duration::from_secs(300));
        assert_eq!(c.worker.connect_ports, vec![443, 1863, 1864]);
        assert_eq!(c.worker.signed_in_elsewhere, ElsewherePolicy::Wait);
    }

    #[test]
    fn servers_accept_hosts_ipv4_ipv6_and_default_port() {
        assert_eq!(parse_server("msn.example.com").unwrap().port, 1863);
        assert_eq!(parse_server("10.0.0.1:1865").unwrap().port, 1865);
        let v6 = parse_server("[::1]:1999").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 1999));
        assert!(parse_server("::1:1863").is_err());
        assert!(parse_server("host:0").is_err());
        assert!(parse_server("host:99999").is_err());
    }

    #[test]
    fn syntax_error_names_file_and_position() {
        let e = errors("[account\nhandle = 1");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("/etc/msnbnc.toml: (syntax, line 1, column"),
            "{e:?}"
        );
    }

    #[test]
    fn wrong_type_names_the_key() {
        let e = errors(&MINIMAL.replace("[msn]", "[worker]\nheartbeat_interval_secs = \"soon\"\n[msn]"));
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("/etc/msnbnc.toml: worker.heartbeat_interval_secs: "),
            "{e:?}"
        );
    }

    #[test]
    fn unknown_key_is_refused_with_its_section() {
        let e = errors(&MINIMAL.replace("[msn]", "[msn]\nserver = \"typo\""));
        assert!(e[0].starts_with("/etc/msnbnc.toml: msn"), "{e:?}");
        assert!(e[0].contains("unknown field `server`"), "{e:?}");
    }

    #[test]
    fn every_semantic_mistake_is_reported_at_once() {
        let text = r#"
[account]
handle = "not-an-address"
password = "x"
password_file = "/run/pw"

[msn]
servers = ["host:70000"]
protocol_min = 12
protocol_max = 7

[worker]
heartbeat_interval_secs = 10
heartbeat_timeout_secs = 5
read_paths = ["relative/path"]
"#;
        let e = errors(text);
        let keys: Vec<&str> = e.iter().map(|l| l.split(": ").nth(1).unwrap_or("")).collect();
        for key in [
            "account.handle",
            "account.password",
            "msn.servers[0]",
            "msn.protocol_max",
            "msn.protocol_min",
            "worker.heartbeat_timeout_secs",
            "worker.read_paths[0]",
        ] {
            assert!(keys.contains(&key), "{key} missing from {e:#?}");
        }
    }

    #[test]
    fn passport_urls_must_be_https_unless_explicitly_allowed() {
        let plain = MINIMAL.replace("https://127.0.0.1:8443", "http://127.0.0.1:8080");
        let e = errors(&plain);
        assert!(
            e[0].starts_with("/etc/msnbnc.toml: msn.passport_nexus: sends the password over plain HTTP"),
            "{e:?}"
        );
        let allowed = plain.replace("[msn]", "[msn]\nallow_plain_http_login = true");
        assert!(parse(Path::new("x"), &allowed).is_ok());
        let none = MINIMAL.replace("passport_nexus = \"https://127.0.0.1:8443/rdr/pprdr.asp\"\n", "");
        assert!(errors(&none)[0].contains("msn.passport_nexus: set the Passport nexus URL"));
        assert!(errors(&MINIMAL.replace("https://127.0.0.1:8443", "ftp://x"))[0]
            .contains("is not an https:// URL"));
    }

    #[test]
    fn missing_password_is_an_error() {
        let e = errors(
            "[account]\nhandle = \"a@b.c\"\n[msn]\nservers = [\"h\"]\npassport_login = \"https://h/login\"\n",
        );
        assert_eq!(e, vec!["/etc/msnbnc.toml: account.password: no password: set one of password, password_file or password_credential"]);
    }

    #[test]
    fn password_file_is_read_and_trailing_newline_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret, with spaces\n").unwrap();
        let src = PasswordSource::File(f.clone());
        assert_eq!(src.load().unwrap().expose(), "s3cret, with spaces");
        std::fs::write(&f, "\n").unwrap();
        assert!(src.load().unwrap_err().contains("is empty"));
    }
}
