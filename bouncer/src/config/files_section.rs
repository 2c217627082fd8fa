//! `[files]`: files customers send (off unless `listen` is set) — where
//! staff download them, the link they see, how large a file may be, how
//! long a link works. The files live in a `files` directory next to the
//! database.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::Errors;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawFiles {
    listen: Option<String>,
    public_url: Option<String>,
    max_bytes: u64,
    keep_days: u64,
    tls: bool,
}

impl Default for RawFiles {
    fn default() -> Self {
        RawFiles {
            listen: None,
            public_url: None,
            max_bytes: 20 * 1024 * 1024,
            keep_days: 30,
            tls: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesSettings {
    /// Downloads and uploads are served here (HTTP, or HTTPS with `tls`).
    pub listen: Option<SocketAddr>,
    /// What links start with: `https://desk.example.com/files`, else
    /// `http://<listen>`.
    pub public_url: String,
    pub max_bytes: u64,
    /// A link stops working, and its file is removed, after this long.
    pub keep: Duration,
    /// HTTPS with the IRC certificate (`irc.tls_cert`, `irc.tls_key`).
    pub tls: bool,
}

impl FilesSettings {
    /// The files directory beside the database at `store`, named after
    /// it (`msnbnc.db` → `msnbnc.files`), so two desks sharing a
    /// directory never share files.
    pub fn dir(store: &Path) -> std::path::PathBuf {
        let stem = store
            .file_stem()
            .map_or_else(|| "msnbnc".into(), |s| s.to_string_lossy().into_owned());
        store
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!("{stem}.files"))
    }
}

pub(super) fn validate(raw: RawFiles, errors: &mut Errors) -> FilesSettings {
    let listen = raw.listen.and_then(|a| {
        a.parse::<SocketAddr>()
            .map_err(|_| {
                errors.add(
                    "files.listen",
                    format!("{a:?} is not an address:port like 127.0.0.1:8088"),
                )
            })
            .ok()
    });
    let public_url = match (raw.public_url, listen) {
        (Some(u), _) if u.starts_with("https://") || u.starts_with("http://") => {
            u.trim_end_matches('/').to_owned()
        }
        (Some(u), _) => {
            errors.add(
                "files.public_url",
                format!("{u:?} is not an http:// or https:// URL"),
            );
            String::new()
        }
        (None, Some(addr)) => format!("{}://{addr}", if raw.tls { "https" } else { "http" }),
        (None, None) => String::new(),
    };
    if !(1024..=1024 * 1024 * 1024).contains(&raw.max_bytes) {
        errors.add(
            "files.max_bytes",
            format!("{} is not between 1 KiB and 1 GiB", raw.max_bytes),
        );
    }
    if !(1..=3650).contains(&raw.keep_days) {
        errors.add(
            "files.keep_days",
            format!("{} is not between 1 and 3650", raw.keep_days),
        );
    }
    FilesSettings {
        listen,
        public_url,
        max_bytes: raw.max_bytes,
        keep: Duration::from_secs(raw.keep_days.clamp(1, 3650) * 86_400),
        tls: raw.tls,
    }
}
