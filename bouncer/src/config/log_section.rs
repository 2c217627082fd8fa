//! `[log]`: what msnbnc's own log may contain. Customer and staff text is
//! private (the retention policy deletes it from the store, and a journal
//! would keep it): logs carry ids, sizes and outcomes, and message text
//! only at TRACE level when `message_text` is on, for debugging a
//! conversation on a test account.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawLog {
    message_text: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogSettings {
    /// Message text in TRACE lines (off: never in any log line).
    pub message_text: bool,
}

pub(super) fn validate(raw: RawLog) -> LogSettings {
    LogSettings {
        message_text: raw.message_text,
    }
}
