//! What the bouncer tells the worker before it signs in
//! ([`crate::ToWorker::Configure`]): the account and servers, the MSNP
//! versions, trust, Passport and the web services, the sandbox.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::ConversationId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerConfig {
    /// The account's sign-in name, used verbatim (servers compare it case-sensitively).
    pub account: String,
    /// Dispatch / notification servers, tried in order.
    pub servers: Vec<ServerAddr>,
    pub protocol: VersionRange,
    pub trust: TrustConfig,
    pub passport: PassportConfig,
    /// When someone adds the account, add them back (the server refuses
    /// conversations unless both sides list each other).
    pub auto_accept_contacts: bool,
    pub sandbox: SandboxPolicy,
    /// How often the bouncer will send heartbeats (informational for the worker).
    pub heartbeat_interval_ms: u64,
    /// The first conversation id the worker gives out: ids stay unique
    /// across the workers of one bouncer run, so a conversation is named
    /// by the same id in both processes' logs.
    pub first_conversation: ConversationId,
    /// Longest a login may take, from connecting to the end of the
    /// contact-list sync, before the worker gives up on it.
    pub login_timeout_ms: u64,
    /// The SOAP services of MSNP13+ (contact list, offline messages);
    /// `None`: MSNP13+ is not offered.
    pub web_services: Option<Box<WebServices>>,
    /// This installation's endpoint at MSNP16+ (`{…}`), the same at every
    /// login so that the server takes a new login for the same place.
    pub machine_guid: String,
}

/// Where MSNP13+ finds its web services (HTTPS URLs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebServices {
    /// Passport's RST (single sign-on: tickets for everything else).
    pub rst: String,
    /// The address book (`ABFindAll`, `ABContactAdd` …).
    pub address_book: String,
    /// Memberships (`FindMembership`, `AddMember`, `DeleteMember`).
    pub sharing: String,
    /// Reading and deleting offline messages.
    pub oim_read: String,
    /// Storing an offline message.
    pub oim_store: String,
}

impl WebServices {
    /// The services at their usual paths under `base` (`https://host:port`).
    pub fn under(base: &str) -> WebServices {
        let base = base.trim_end_matches('/');
        WebServices {
            rst: format!("{base}/RST.srf"),
            address_book: format!("{base}/abservice/abservice.asmx"),
            sharing: format!("{base}/abservice/SharingService.asmx"),
            oim_read: format!("{base}/rsi/rsi.asmx"),
            oim_store: format!("{base}/OimWS/oim.asmx"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerAddr {
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for ServerAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// MSNP dialects the worker may offer, inclusive (e.g. 8..=12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRange {
    pub min: u8,
    pub max: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustConfig {
    /// Trust the Mozilla root set compiled into the worker.
    pub webpki_roots: bool,
    /// An extra PEM bundle (revival servers often use their own CA).
    pub ca_file: Option<PathBuf>,
}

/// Where Passport 1.4 logins go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassportConfig {
    /// The nexus that names the login server (`PassportURLs` header).
    pub nexus_url: Option<String>,
    /// The login server itself, skipping the nexus.
    pub login_url: Option<String>,
    /// Developer escape hatch: allow sending the password over plain HTTP.
    pub allow_plain_http: bool,
}

/// What the worker's sandbox must allow; everything else is denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxPolicy {
    /// Files or directories the worker may read (trust roots, resolver config).
    pub read_paths: Vec<PathBuf>,
    /// TCP ports the worker may connect to (where Landlock supports it).
    pub connect_ports: Vec<u16>,
    /// Maximum number of open file descriptors.
    pub max_open_files: u64,
}
