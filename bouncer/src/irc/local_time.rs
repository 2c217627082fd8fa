//! Times written into text for people to read — `*msn` replies, and the
//! replayed lines of clients that do not speak `server-time` — in the
//! desk's time zone (`irc.time_zone`, the system's by default). Clients
//! with `server-time` get UTC timestamps and show them in their own zone.

use jiff::tz::TimeZone;
use jiff::Timestamp;

/// A calendar period, for figures: today, this week, this month.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

#[derive(Debug, Clone)]
pub struct LocalTime {
    /// As configured ("" for the system's zone).
    name: String,
    zone: TimeZone,
}

impl PartialEq for LocalTime {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for LocalTime {}

impl Default for LocalTime {
    fn default() -> Self {
        LocalTime {
            name: String::new(),
            zone: TimeZone::system(),
        }
    }
}

impl LocalTime {
    /// An IANA zone name (`Europe/Berlin`, `UTC`); empty: the system's.
    pub fn named(name: &str) -> Result<LocalTime, String> {
        if name.is_empty() {
            return Ok(LocalTime::default());
        }
        let zone = TimeZone::get(name).map_err(|_| {
            format!("{name:?} is not a time zone this system knows (e.g. \"Europe/Berlin\" or \"UTC\")")
        })?;
        Ok(LocalTime {
            name: name.to_owned(),
            zone,
        })
    }

    fn civil(&self, ms: i64) -> jiff::civil::DateTime {
        let at = Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH);
        self.zone.to_datetime(at)
    }

    /// The day of the week (0: Monday) and the minute of the day.
    pub fn weekday_and_minute(&self, ms: i64) -> (usize, u32) {
        let t = self.civil(ms);
        let day = usize::try_from(t.weekday().to_monday_zero_offset()).unwrap_or(0);
        let minute = u32::try_from(i32::from(t.hour()) * 60 + i32::from(t.minute())).unwrap_or(0);
        (day, minute)
    }

    /// The start (ms) of the day, the week (Monday) or the month that `ms`
    /// falls in, here.
    pub fn start_of(&self, ms: i64, period: Period) -> i64 {
        let day = self.civil(ms).date();
        let first = match period {
            Period::Day => day,
            Period::Week => day
                .checked_sub(jiff::Span::new().days(i64::from(day.weekday().to_monday_zero_offset())))
                .unwrap_or(day),
            Period::Month => day.first_of_month(),
        };
        first
            .to_zoned(self.zone.clone())
            .map_or(ms, |z| z.timestamp().as_millisecond())
    }

    /// A wall-clock time here, as ms since the epoch.
    pub fn to_timestamp(&self, at: jiff::civil::DateTime) -> Result<i64, jiff::Error> {
        Ok(at.to_zoned(self.zone.clone())?.timestamp().as_millisecond())
    }

    /// `12:10`.
    pub fn clock(&self, ms: i64) -> String {
        let t = self.civil(ms);
        format!("{:02}:{:02}", t.hour(), t.minute())
    }

    /// `12:10:07`.
    pub fn clock_seconds(&self, ms: i64) -> String {
        let t = self.civil(ms);
        format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
    }

    /// `2026-12-04 12:10`.
    pub fn date_and_clock(&self, ms: i64) -> String {
        let t = self.civil(ms);
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute()
        )
    }
}

/// A stored PRIVMSG's text as a person reads it in plain text: `/me waves`
/// (`\x01ACTION waves\x01`) becomes `* nick waves`; any other CTCP loses
/// its `\x01` markers.
pub fn readable(nick: &str, text: &str) -> String {
    match action(text) {
        Some(rest) => format!("* {nick} {rest}"),
        None => text.replace('\x01', ""),
    }
}

/// The text of a `/me` line, if `text` is one.
pub fn action(text: &str) -> Option<&str> {
    let rest = text.strip_prefix("\x01ACTION")?;
    let rest = rest.strip_suffix('\x01').unwrap_or(rest);
    Some(rest.strip_prefix(' ').unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-22T01:14:56.789Z
    const MS: i64 = 1_795_310_096_789;

    #[test]
    fn a_named_zone_shifts_the_clock() {
        let utc = LocalTime::named("UTC").unwrap();
        let berlin = LocalTime::named("Europe/Berlin").unwrap();
        assert_eq!(utc.clock(MS), "01:14");
        assert_eq!(berlin.clock(MS), "02:14");
        assert_eq!(berlin.date_and_clock(MS), "2026-11-22 02:14");
    }

    #[test]
    fn an_unknown_zone_is_refused_by_name() {
        let e = LocalTime::named("Mars/Olympus").unwrap_err();
        assert!(e.contains("Mars/Olympus"), "{e}");
    }

    #[test]
    fn actions_and_other_ctcp_read_without_control_bytes() {
        assert_eq!(readable("alice", "\x01ACTION waves\x01"), "* alice waves");
        assert_eq!(readable("alice", "\x01ACTION\x01"), "* alice ");
        assert_eq!(readable("alice", "\x01VERSION\x01"), "VERSION");
        assert_eq!(readable("alice", "hi"), "hi");
        assert_eq!(action("\x01ACTION waves"), Some("waves"));
        assert_eq!(action("waves"), None);
    }
}
