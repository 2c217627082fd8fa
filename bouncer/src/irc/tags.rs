//! IRCv3 message tags on outgoing lines: which a client gets depends on
//! the capabilities it negotiated.

use std::time::{SystemTime, UNIX_EPOCH};

use super::cap::{Cap, Caps};

/// `YYYY-MM-DDThh:mm:ss.sssZ` for `server-time`.
pub fn timestamp(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// [`timestamp`] of a time stored as ms since the epoch.
pub fn timestamp_ms(ms: i64) -> String {
    timestamp(UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0).unsigned_abs()))
}

/// The inverse of [`timestamp`]: ms since the epoch, from
/// `YYYY-MM-DDThh:mm:ss(.sss)Z`.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || *b.last()? != b'Z'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let millis = match &s[19..s.len() - 1] {
        "" => 0,
        frac => {
            let digits = frac.strip_prefix('.')?;
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let padded = format!("{digits:0<3}");
            padded[..3].parse::<i64>().ok()?
        }
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + millis)
}

pub fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// `msgid` values: a random per-process prefix and a counter, so ids stay
/// unique across restarts.
#[derive(Debug)]
pub struct MsgIds {
    prefix: String,
    next: u64,
}

impl Default for MsgIds {
    fn default() -> Self {
        MsgIds {
            prefix: format!("{:08x}", fastrand::u32(..)),
            next: 0,
        }
    }
}

impl MsgIds {
    pub fn fresh(&mut self) -> String {
        self.next += 1;
        // Fixed width: one run's ids sort in the order they were given, so
        // the store appends them to its msgid index.
        if self.next >> 40 != 0 {
            return format!("{}-{:x}", self.prefix, self.next);
        }
        // `{prefix}-{:010x}`, without the formatting machinery (once per line).
        let mut id = String::with_capacity(self.prefix.len() + 11);
        id.push_str(&self.prefix);
        id.push('-');
        for shift in (0..10).rev() {
            let digit = (self.next >> (shift * 4)) & 0xf;
            id.push(char::from(b"0123456789abcdef"[digit as usize]));
        }
        id
    }
}

/// `line` with one more tag (`key=value`, already escaped) in front.
pub fn with_tag(line: &str, tag: &str) -> String {
    match line.strip_prefix('@') {
        Some(rest) => format!("@{tag};{rest}"),
        None => format!("@{tag} {line}"),
    }
}

/// Which tags a client takes, from its capabilities: clients with the same
/// variant get byte-identical lines, so a broadcast formats each variant
/// once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variant(u8);

impl Variant {
    const TIME: u8 = 1;
    const TAGS: u8 = 2;
    const ACCOUNT: u8 = 4;
    /// How many variants there are.
    pub const COUNT: usize = 8;

    pub fn of(caps: Caps) -> Variant {
        let mut v = 0;
        if caps.has(Cap::ServerTime) {
            v |= Self::TIME;
        }
        if caps.has(Cap::MessageTags) {
            v |= Self::TAGS;
        }
        if caps.has(Cap::AccountTag) {
            v |= Self::ACCOUNT;
        }
        Variant(v)
    }

    pub fn has_time(self) -> bool {
        self.0 & Self::TIME != 0
    }

    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// The tag prefix (`@a=b;c=d `, or nothing) for a client with `caps`.
/// `extra`: `account` needs account-tag, `+client` tags need message-tags.
pub fn prefix(caps: Caps, time: SystemTime, extra: &[(&str, &str)]) -> String {
    prefix_for(Variant::of(caps), &timestamp(time), extra)
}

/// [`prefix`] for a variant, with the `server-time` stamp already made.
pub fn prefix_for(variant: Variant, stamp: &str, extra: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut tag = |k: &str, v: &str| {
        out.push(if out.is_empty() { '@' } else { ';' });
        out.push_str(k);
        if !v.is_empty() {
            out.push('=');
            push_escaped(&mut out, v);
        }
    };
    if variant.0 & Variant::TIME != 0 {
        tag("time", stamp);
    }
    for (k, v) in extra {
        let wanted = match *k {
            "account" => variant.0 & Variant::ACCOUNT != 0,
            _ => variant.0 & Variant::TAGS != 0,
        };
        if wanted {
            tag(k, v);
        }
    }
    if !out.is_empty() {
        out.push(' ');
    }
    out
}

/// A tag value, escaped only where it needs to be.
pub fn push_escaped(out: &mut String, v: &str) {
    if v.contains([';', ' ', '\\', '\r', '\n']) {
        out.push_str(&escape(v));
    } else {
        out.push_str(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msgids_are_the_prefix_and_a_fixed_width_counter_in_order() {
        let mut ids = MsgIds::default();
        let (a, b) = (ids.fresh(), ids.fresh());
        let (prefix, counter) = a.split_once('-').unwrap();
        assert_eq!((prefix.len(), counter), (8, "0000000001"));
        assert_eq!(b, format!("{prefix}-0000000002"));
        assert!(a < b);
        ids.next = 0xab_cdef_0123 - 1;
        assert_eq!(ids.fresh(), format!("{prefix}-abcdef0123"));
        ids.next = 1 << 40;
        assert_eq!(ids.fresh(), format!("{prefix}-10000000001"));
    }
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_utc_with_millis() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_795_310_096_789);
        assert_eq!(timestamp(t), "2026-11-22T01:14:56.789Z");
        assert_eq!(
            timestamp(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn timestamps_parse_back() {
        for ms in [0i64, 951_782_400_000, 1_795_310_096_789] {
            let t = UNIX_EPOCH + Duration::from_millis(ms as u64);
            assert_eq!(parse_timestamp(&timestamp(t)), Some(ms));
        }
        assert_eq!(parse_timestamp("2026-11-22T01:14:56Z"), Some(1_795_310_096_000));
        assert_eq!(parse_timestamp("2026-11-22T01:14:56.7Z"), Some(1_795_310_096_700));
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00.000Z",
            "2026-11-22 01:14:56.000Z",
            "2026-11-22T01:14:56.000",
            "2026-11-22T01:14:56.Z",
            "+026-11-22T01:14:56.000Z",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }

    #[test]
    fn tags_follow_the_clients_capabilities() {
        let none = Caps::default();
        assert_eq!(
            prefix(none, UNIX_EPOCH, &[("account", "alice"), ("+typing", "active")]),
            ""
        );
        let all: Caps = [Cap::ServerTime, Cap::MessageTags, Cap::AccountTag]
            .into_iter()
            .collect();
        assert_eq!(
            prefix(all, UNIX_EPOCH, &[("account", "alice"), ("+typing", "active")]),
            "@time=1970-01-01T00:00:00.000Z;account=alice;+typing=active "
        );
        let tags_only: Caps = [Cap::MessageTags].into_iter().collect();
        assert_eq!(
            prefix(tags_only, UNIX_EPOCH, &[("+x", "a b;c")]),
            "@+x=a\\sb\\:c "
        );
    }
}
