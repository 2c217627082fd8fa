//! Business hours: when the desk is open, per day of the week, in one
//! time zone (`[desk.hours]`: `mon = "09:00-12:30, 13:30-17:00"`, a day
//! left out or `""` is closed). Without any hours the desk is always open.
//! Parsing and the question "open at this instant?" — no I/O.

use crate::irc::local_time::LocalTime;

pub const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Open from the first minute of the day up to (not including) the second.
type Span = (u32, u32);

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Monday first; `None`: no hours configured (always open).
    days: Option<[Vec<Span>; 7]>,
    pub zone: LocalTime,
}

fn minute(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}

/// One day's spans: `"09:00-17:00"`, `"09:00-12:00, 13:00-17:00"`, `""`.
pub fn parse_day(text: &str) -> Result<Vec<Span>, String> {
    let mut spans = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || format!("{part:?} is not a span like \"09:00-17:00\"");
        let (from, to) = part.split_once('-').ok_or_else(bad)?;
        let (from, to) = (minute(from).ok_or_else(bad)?, minute(to).ok_or_else(bad)?);
        if from >= to {
            return Err(format!("{part:?} ends before it starts"));
        }
        spans.push((from, to));
    }
    spans.sort_unstable();
    if spans.windows(2).any(|w| w[0].1 > w[1].0) {
        return Err(format!("{text:?} has overlapping spans"));
    }
    Ok(spans)
}

fn clock(m: u32) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

impl Schedule {
    /// From `[desk.hours]`'s days (`None`: none configured).
    pub fn new(days: Option<[Vec<Span>; 7]>, zone: LocalTime) -> Schedule {
        Schedule { days, zone }
    }

    pub fn is_configured(&self) -> bool {
        self.days.is_some()
    }

    /// Whether the desk is open at `ms`.
    pub fn is_open(&self, ms: i64) -> bool {
        let Some(days) = &self.days else { return true };
        let (day, minute) = self.zone.weekday_and_minute(ms);
        days[day].iter().any(|(from, to)| (*from..*to).contains(&minute))
    }

    /// A line per day: `mon 09:00-17:00`, `sat closed`.
    pub fn describe(&self) -> Vec<String> {
        let Some(days) = &self.days else {
            return vec!["no business hours set: the desk is always open".into()];
        };
        DAYS.iter()
            .zip(days.iter())
            .map(|(name, spans)| match spans.is_empty() {
                true => format!("{name} closed"),
                false => {
                    let spans: Vec<String> = spans
                        .iter()
                        .map(|(f, t)| format!("{}-{}", clock(*f), clock(*t)))
                        .collect();
                    format!("{name} {}", spans.join(", "))
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekdays_nine_to_five() -> Schedule {
        let office = parse_day("09:00-12:30, 13:30-17:00").unwrap();
        let days = [
            office.clone(),
            office.clone(),
            office.clone(),
            office.clone(),
            office,
            Vec::new(),
            Vec::new(),
        ];
        Schedule::new(Some(days), LocalTime::named("Europe/Berlin").unwrap())
    }

    /// 2026-12-07 is a Monday; Berlin is UTC+1 in December.
    fn utc(day: u32, h: u32, m: u32) -> i64 {
        let t: jiff::Timestamp = format!("2026-12-{day:02}T{h:02}:{m:02}:00Z").parse().unwrap();
        t.as_millisecond()
    }

    #[test]
    fn open_only_inside_a_days_spans_in_the_desks_zone() {
        let s = weekdays_nine_to_five();
        assert!(!s.is_open(utc(7, 7, 59)), "08:59 in Berlin");
        assert!(s.is_open(utc(7, 8, 0)), "09:00 in Berlin");
        assert!(!s.is_open(utc(7, 11, 45)), "the lunch break");
        assert!(s.is_open(utc(7, 15, 59)));
        assert!(!s.is_open(utc(7, 16, 0)), "17:00 is closed");
        assert!(!s.is_open(utc(12, 10, 0)), "Saturday");
        assert!(
            Schedule::default().is_open(utc(12, 3, 0)),
            "no hours: always open"
        );
    }

    #[test]
    fn days_are_parsed_strictly() {
        assert_eq!(parse_day("").unwrap(), []);
        assert_eq!(parse_day("00:00-24:00").unwrap(), [(0, 1440)]);
        for bad in [
            "9-17",
            "09:00",
            "17:00-09:00",
            "09:00-25:00",
            "09:00-12:00,11:00-13:00",
        ] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
        assert_eq!(
            weekdays_nine_to_five().describe()[0],
            "mon 09:00-12:30, 13:30-17:00"
        );
        assert_eq!(weekdays_nine_to_five().describe()[6], "sun closed");
    }
}
