//! `[store]`: where history is kept, for how long, and how long a staff
//! message may wait for MSN.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Errors;
use crate::store::retention::Retention;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawStore {
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSettings {
    /// The SQLite database.
    pub path: PathBuf,
    /// Staff messages MSN never got (the worker was down) are sent when it
    /// is back, if they are younger than this; older ones are reported failed.
    pub outbox_retry: Duration,
    /// What history keeps (pruned in the background).
    pub retention: Retention,
}

pub(super) fn validate(raw: RawStore, errors: &mut Errors) -> StoreSettings {
    if !raw.path.is_absolute() {
        errors.add("store.path", "must be an absolute path".into());
    }
    StoreSettings {
        path: raw.path,
        outbox_retry: Duration::from_secs(raw.outbox_retry_secs),
        retention: Retention {
            max_age_ms: (raw.retention_days > 0)
                .then(|| i64::try_from(raw.retention_days.saturating_mul(86_400_000)).unwrap_or(i64::MAX)),
            max_lines: (raw.retention_lines > 0).then_some(raw.retention_lines),
        },
    }
}
