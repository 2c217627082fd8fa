//! Arbitrary `timestamp=` values (CHATHISTORY references, `server-time`
//! read back) through the parser. Whatever it accepts at or after the
//! epoch, formatting gives back and parsing that gives the same instant;
//! any instant formatted parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msnbnc::irc::tags::{parse_timestamp, timestamp_ms};

/// 9999-12-31T23:59:59.999Z: the last instant four year digits can say.
const LAST: i64 = 253_402_300_799_999;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(ms) = parse_timestamp(text) {
            if (0..=LAST).contains(&ms) {
                let again = timestamp_ms(ms);
                assert_eq!(parse_timestamp(&again), Some(ms), "{text:?} → {again:?}");
            }
        }
    }
    if let Some(bytes) = data.get(..8) {
        let ms = i64::from_le_bytes(bytes.try_into().unwrap_or_default()).rem_euclid(LAST + 1);
        let text = timestamp_ms(ms);
        assert_eq!(parse_timestamp(&text), Some(ms), "{ms} → {text:?}");
    }
});
