//! `[desk]`: how the support desk looks after customers — when staff are
//! alerted to a customer waiting for an answer.

use std::time::Duration;

use serde::Deserialize;

use super::Errors;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDesk {
    alert_after_secs: u64,
    alert_again_after_secs: u64,
}

impl Default for RawDesk {
    fn default() -> Self {
        RawDesk {
            alert_after_secs: 120,
            alert_again_after_secs: 600,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskSettings {
    /// A customer waiting this long for an answer gets every attached
    /// staff member highlighted (zero: never).
    pub alert_after: Duration,
    /// And again after this long (zero: once only).
    pub alert_again_after: Duration,
}

impl Default for DeskSettings {
    fn default() -> Self {
        let mut errors = Errors::new(std::path::Path::new(""));
        validate(RawDesk::default(), &mut errors)
    }
}

pub(super) fn validate(raw: RawDesk, errors: &mut Errors) -> DeskSettings {
    let again = raw.alert_again_after_secs;
    if again != 0 && again <= raw.alert_after_secs {
        errors.add(
            "desk.alert_again_after_secs",
            format!(
                "{again} must be above desk.alert_after_secs ({}), or 0 for no second alert",
                raw.alert_after_secs
            ),
        );
    }
    DeskSettings {
        alert_after: Duration::from_secs(raw.alert_after_secs),
        alert_again_after: Duration::from_secs(again),
    }
}
