//! Arbitrary text through the MSN ↔ IRC formatting conversions. From IRC,
//! no formatting code survives into the text for MSN; to IRC, a message's
//! own text always comes back unchanged after its format codes (so no
//! customer text can be read as a colour or an effect), and its effects
//! are the ones it had.
#![no_main]

use ipc::TextFormat;
use libfuzzer_sys::fuzz_target;
use msnbnc::irc::format::{action, from_irc, to_irc};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let plain = from_irc(text).text;
    assert!(
        !plain.contains(['\x02', '\x03', '\x0f', '\x11', '\x16', '\x1d', '\x1e', '\x1f']),
        "{text:?} → {plain:?}"
    );
    let _ = action(text);

    let format = TextFormat {
        bold: flags & 1 != 0,
        italic: flags & 2 != 0,
        underline: flags & 4 != 0,
        strikethrough: flags & 8 != 0,
        color: (flags & 16 != 0).then(|| [flags.wrapping_mul(37), flags.wrapping_mul(11), flags]),
        ..TextFormat::default()
    };
    let irc = to_irc(&plain, &format);
    let back = from_irc(&irc);
    let got = back.format;
    assert_eq!(back.text, plain, "{irc:?}");
    // A whole message's format comes back whole; with no visible text it
    // formats nothing.
    assert!(!back.partial, "{irc:?}");
    if plain.trim().is_empty() {
        return;
    }
    assert_eq!(
        (got.bold, got.italic, got.underline, got.strikethrough),
        (format.bold, format.italic, format.underline, format.strikethrough),
        "{irc:?}"
    );
    assert_eq!(
        got.color.is_some(),
        format.color.is_some_and(|c| c != [0, 0, 0]),
        "{irc:?}"
    );
});
