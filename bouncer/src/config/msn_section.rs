//! `[msn]`: which servers the worker signs in to, with which protocol
//! versions, how it trusts their certificates, where Passport is, and —
//! for MSNP13+ — the web services and this installation's machine GUID.

use std::path::PathBuf;

use ipc::{ServerAddr, VersionRange};
use serde::Deserialize;

use super::Errors;

/// Lowest and highest MSNP dialect msnbnc knows about.
pub const MSNP_VERSIONS: std::ops::RangeInclusive<u8> = 8..=18;

/// The highest version offered unless configured: MSNP13+ needs the web
/// services, which a configuration names first.
const DEFAULT_MAX: u8 = 12;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMsn {
    servers: Vec<String>,
    protocol_min: u8,
    protocol_max: u8,
    webpki_roots: bool,
    ca_file: Option<PathBuf>,
    passport_nexus: Option<String>,
    passport_login: Option<String>,
    allow_plain_http_login: bool,
    auto_accept_contacts: bool,
    login_timeout_secs: u64,
    web_services: Option<String>,
    machine_guid: Option<String>,
}

impl Default for RawMsn {
    fn default() -> Self {
        RawMsn {
            servers: Vec::new(),
            protocol_min: *MSNP_VERSIONS.start(),
            protocol_max: DEFAULT_MAX,
            webpki_roots: true,
            ca_file: None,
            passport_nexus: None,
            passport_login: None,
            allow_plain_http_login: false,
            auto_accept_contacts: true,
            login_timeout_secs: 60,
            web_services: None,
            machine_guid: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MsnSettings {
    pub servers: Vec<ServerAddr>,
    pub protocol: VersionRange,
    pub webpki_roots: bool,
    pub ca_file: Option<PathBuf>,
    pub passport: ipc::PassportConfig,
    pub auto_accept_contacts: bool,
    /// A login that has not finished in this long is given up (and the
    /// worker replaced after its back-off).
    pub login_timeout: std::time::Duration,
    pub web_services: Option<Box<ipc::WebServices>>,
    /// `{…}`, lower case.
    pub machine_guid: String,
}

/// A stable machine GUID for `account` when none is configured: the same
/// at every start of this configuration, so that the server sees one
/// place (MSNP16+) — a UUID of version 4's shape from a SHA-256 of the
/// account.
pub fn derived_machine_guid(account: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("msnbnc machine {account}").as_bytes(),
    );
    let b = digest.as_ref();
    let hex = |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    let (v, n) = (
        format!("4{}", &hex(6..8)[1..]),
        format!("{:x}{}", 8 | (b[8] & 3), &hex(8..10)[1..]),
    );
    format!("{{{}-{}-{v}-{n}-{}}}", hex(0..4), hex(4..6), hex(10..16))
}

/// `{8-4-4-4-12 hex}`.
pub(super) fn valid_guid(g: &str) -> bool {
    let Some(inner) = g.strip_prefix('{').and_then(|g| g.strip_suffix('}')) else {
        return false;
    };
    let parts: Vec<&str> = inner.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts.iter().all(|p| p.chars().all(|c| c.is_ascii_hexdigit()))
}

pub(super) fn parse_server(s: &str) -> Result<ServerAddr, String> {
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

pub(super) fn validate(raw: RawMsn, errors: &mut Errors) -> MsnSettings {
    if raw.servers.is_empty() {
        errors.add(
            "msn.servers",
            "at least one server is required, e.g. [\"messenger.example.com:1863\"]".into(),
        );
    }
    let servers: Vec<ServerAddr> = raw
        .servers
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            parse_server(s)
                .map_err(|e| errors.add(&format!("msn.servers[{i}]"), e))
                .ok()
        })
        .collect();
    for (key, v) in [
        ("msn.protocol_min", raw.protocol_min),
        ("msn.protocol_max", raw.protocol_max),
    ] {
        if !MSNP_VERSIONS.contains(&v) {
            errors.add(
                key,
                format!(
                    "MSNP{v} is not supported; choose {}..={}",
                    MSNP_VERSIONS.start(),
                    MSNP_VERSIONS.end()
                ),
            );
        }
    }
    if raw.protocol_min > raw.protocol_max {
        errors.add("msn.protocol_min", "is greater than msn.protocol_max".into());
    }
    if !raw.webpki_roots && raw.ca_file.is_none() {
        errors.add(
            "msn.webpki_roots",
            "is false and no msn.ca_file is set: no certificate could be trusted".into(),
        );
    }
    check_passport(&raw, errors);
    if raw.ca_file.as_ref().is_some_and(|ca| !ca.is_absolute()) {
        errors.add(
            "msn.ca_file",
            "must be an absolute path (the worker's sandbox allows absolute paths only)".into(),
        );
    }
    check_web_services(&raw, errors);
    if !(5..=600).contains(&raw.login_timeout_secs) {
        errors.add(
            "msn.login_timeout_secs",
            format!("{} is not between 5 and 600", raw.login_timeout_secs),
        );
    }
    MsnSettings {
        login_timeout: std::time::Duration::from_secs(raw.login_timeout_secs.clamp(5, 600)),
        servers,
        protocol: VersionRange {
            min: raw.protocol_min,
            max: raw.protocol_max,
        },
        webpki_roots: raw.webpki_roots,
        ca_file: raw.ca_file,
        passport: ipc::PassportConfig {
            nexus_url: raw.passport_nexus,
            login_url: raw.passport_login,
            allow_plain_http: raw.allow_plain_http_login,
        },
        auto_accept_contacts: raw.auto_accept_contacts,
        web_services: raw
            .web_services
            .as_deref()
            .map(|b| Box::new(ipc::WebServices::under(b))),
        machine_guid: raw
            .machine_guid
            .map(|g| g.to_ascii_lowercase())
            .unwrap_or_default(),
    }
}

/// MSNP13+ needs the web services; a configured machine GUID is a GUID.
fn check_web_services(raw: &RawMsn, errors: &mut Errors) {
    if let Some(base) = &raw.web_services {
        if let Err(e) = ipc::passport_url::check(base, raw.allow_plain_http_login) {
            errors.add("msn.web_services", e);
        }
    } else if raw.protocol_max >= 13 {
        errors.add(
            "msn.web_services",
            format!(
                "MSNP{} needs the server's web services (sign-on, contact list): set their base URL, e.g. \"https://messenger.example.com\", or protocol_max = 12",
                raw.protocol_max
            ),
        );
    }
    if let Some(g) = raw.machine_guid.as_deref().filter(|g| !valid_guid(g)) {
        errors.add(
            "msn.machine_guid",
            format!("{g:?} is not a GUID like {{3f2504e0-4f89-41d3-9a0c-0305e82c3301}}"),
        );
    }
}

/// The Passport URLs, checked exactly as the worker will read them.
fn check_passport(raw: &RawMsn, errors: &mut Errors) {
    if raw.passport_nexus.is_none() && raw.passport_login.is_none() {
        errors.add(
            "msn.passport_nexus",
            "set the Passport nexus URL (or msn.passport_login to skip the nexus)".into(),
        );
    }
    for (key, url) in [
        ("msn.passport_nexus", &raw.passport_nexus),
        ("msn.passport_login", &raw.passport_login),
    ] {
        if let Some(url) = url {
            if let Err(e) = ipc::passport_url::check(url, raw.allow_plain_http_login) {
                errors.add(key, e);
            }
        }
    }
}
