//! `[irc]`: where staff connect, what the server calls itself, and how the
//! desk behaves for them (away status and auto-reply while nobody is
//! attached, idle conversations, replay, signatures).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Errors;
use crate::irc::admission::Limits;
use crate::irc::local_time::LocalTime;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawIrc {
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
    time_zone: String,
    max_unregistered: usize,
    max_unregistered_per_address: usize,
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
            time_zone: String::new(),
            max_unregistered: 256,
            max_unregistered_per_address: 16,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrcSettings {
    pub listen: Vec<SocketAddr>,
    /// TLS listeners and the certificate chain and key they present
    /// (re-read on SIGHUP).
    pub tls_listen: Vec<SocketAddr>,
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
    /// How staff messages reach customers, e.g. `[{nick}] {text}`; empty:
    /// the text alone.
    pub signature: String,
    /// The zone of times written into text (`*msn` replies, replay to
    /// clients without server-time).
    pub time_zone: LocalTime,
    /// Connections still logging in, at most: per address and in all.
    pub unregistered: Limits,
}

/// MSN statuses by the names staff use (`*msn status`, the configuration).
pub fn parse_status(s: &str) -> Option<ipc::Status> {
    use ipc::Status;
    Some(match s.to_ascii_lowercase().as_str() {
        "online" | "back" => Status::Online,
        "busy" => Status::Busy,
        "away" => Status::Away,
        "brb" => Status::BeRightBack,
        "phone" => Status::OnThePhone,
        "lunch" => Status::OutToLunch,
        "hidden" | "invisible" => Status::Hidden,
        "idle" => Status::Idle,
        _ => return None,
    })
}

fn addresses(key: &str, list: &[String], example: &str, errors: &mut Errors) -> Vec<SocketAddr> {
    list.iter()
        .enumerate()
        .filter_map(|(i, a)| {
            a.parse()
                .map_err(|_| {
                    errors.add(
                        &format!("{key}[{i}]"),
                        format!("{a:?} is not an address:port like {example}"),
                    )
                })
                .ok()
        })
        .collect()
}

fn check_listeners(raw: &RawIrc, errors: &mut Errors) {
    if raw.listen.is_empty() && raw.tls_listen.is_empty() {
        errors.add(
            "irc.listen",
            "at least one address (or irc.tls_listen) is required".into(),
        );
    }
    if !raw.tls_listen.is_empty() {
        match (&raw.tls_cert, &raw.tls_key) {
            (Some(cert), Some(key)) => {
                if let Err(e) = crate::irc::tls::acceptor(cert, key) {
                    errors.add("irc.tls_cert", e);
                }
            }
            _ => errors.add(
                "irc.tls_cert",
                "irc.tls_listen needs irc.tls_cert and irc.tls_key (PEM files)".into(),
            ),
        }
    }
    let name_ok = |n: &str| {
        !n.is_empty() && n.len() <= 63 && n.chars().all(|c| c.is_ascii_alphanumeric() || "-.".contains(c))
    };
    if !name_ok(&raw.server_name) {
        errors.add(
            "irc.server_name",
            format!("{:?} is not a host-like name", raw.server_name),
        );
    }
    if !name_ok(&raw.network) {
        errors.add(
            "irc.network",
            format!("{:?} must be letters, digits, '-' or '.'", raw.network),
        );
    }
}

pub(super) fn validate(raw: RawIrc, errors: &mut Errors) -> IrcSettings {
    let listen = addresses("irc.listen", &raw.listen, "127.0.0.1:6667 or [::1]:6667", errors);
    let tls_listen = addresses("irc.tls_listen", &raw.tls_listen, "0.0.0.0:6697", errors);
    check_listeners(&raw, errors);
    let unattended_status = parse_status(&raw.unattended_status).unwrap_or_else(|| {
        errors.add(
            "irc.unattended_status",
            format!(
                "{:?} is not one of online, busy, away, brb, phone, lunch, hidden",
                raw.unattended_status
            ),
        );
        ipc::Status::Away
    });
    if !raw.signature.is_empty() && !raw.signature.contains("{text}") {
        errors.add(
            "irc.signature",
            "must contain {text} (e.g. \"[{nick}] {text}\")".into(),
        );
    }
    let time_zone = LocalTime::named(&raw.time_zone).unwrap_or_else(|e| {
        errors.add("irc.time_zone", e);
        LocalTime::default()
    });
    for (key, n) in [
        ("irc.max_unregistered", raw.max_unregistered),
        (
            "irc.max_unregistered_per_address",
            raw.max_unregistered_per_address,
        ),
    ] {
        if n == 0 {
            errors.add(key, "must be at least 1 (0 would let nobody log in)".into());
        }
    }
    IrcSettings {
        listen,
        tls_listen,
        tls_cert: raw.tls_cert,
        tls_key: raw.tls_key,
        server_name: raw.server_name,
        network: raw.network,
        unattended_status,
        unattended_reply: raw.unattended_reply,
        idle_close: Duration::from_secs(raw.idle_close_secs),
        replay_max: raw.replay_max,
        signature: raw.signature,
        time_zone,
        unregistered: Limits {
            per_address: raw.max_unregistered_per_address,
            total: raw.max_unregistered,
        },
    }
}
