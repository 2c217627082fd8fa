//! `[desk]`: how the support desk looks after customers — when staff are
//! alerted to a customer waiting for an answer, business hours
//! (`[desk.hours]`, in `desk.time_zone`) and the reply a customer gets
//! outside them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::Errors;
use crate::business_hours::{parse_day, Schedule, DAYS};
use crate::irc::local_time::LocalTime;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawDesk {
    alert_after_secs: u64,
    alert_again_after_secs: u64,
    time_zone: String,
    closed_reply: String,
    hours: Option<BTreeMap<String, String>>,
}

impl Default for RawDesk {
    fn default() -> Self {
        RawDesk {
            alert_after_secs: 120,
            alert_again_after_secs: 600,
            time_zone: String::new(),
            closed_reply: String::new(),
            hours: None,
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
    /// When the desk is open (always, without `[desk.hours]`).
    pub hours: Schedule,
    /// What a customer's first line outside the hours gets, once per
    /// conversation (empty: nothing).
    pub closed_reply: String,
}

impl Default for DeskSettings {
    fn default() -> Self {
        let mut errors = Errors::new(std::path::Path::new(""));
        validate(RawDesk::default(), &LocalTime::default(), &mut errors)
    }
}

/// `[desk.hours]`: a span list per day; days left out are closed.
fn hours(raw: Option<BTreeMap<String, String>>, errors: &mut Errors) -> Option<[Vec<(u32, u32)>; 7]> {
    let raw = raw?;
    let mut days: [Vec<(u32, u32)>; 7] = Default::default();
    for (day, text) in raw {
        let Some(i) = DAYS.iter().position(|d| day.eq_ignore_ascii_case(d)) else {
            errors.add(
                &format!("desk.hours.{day}"),
                format!("not a day: use {}", DAYS.join(", ")),
            );
            continue;
        };
        match parse_day(&text) {
            Ok(spans) => days[i] = spans,
            Err(e) => errors.add(&format!("desk.hours.{day}"), e),
        }
    }
    Some(days)
}

/// `irc_zone`: the zone the desk's hours are in unless `desk.time_zone`
/// names another.
pub(super) fn validate(raw: RawDesk, irc_zone: &LocalTime, errors: &mut Errors) -> DeskSettings {
    let zone = match raw.time_zone.as_str() {
        "" => irc_zone.clone(),
        name => LocalTime::named(name).unwrap_or_else(|e| {
            errors.add("desk.time_zone", e);
            LocalTime::default()
        }),
    };
    let days = hours(raw.hours, errors);
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
        hours: Schedule::new(days, zone),
        closed_reply: raw.closed_reply,
    }
}
