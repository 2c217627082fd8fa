//! MSN text formatting ↔ IRC formatting codes. MSN formats a whole
//! message (font, effects, one colour); IRC formats spans. Going to IRC,
//! the message's format opens the line and a reset closes it; coming from
//! IRC, the codes are stripped and any effect or colour used becomes the
//! message's format — which the sender is told when the codes covered
//! only part of the line.

use ipc::TextFormat;

const BOLD: char = '\x02';
const COLOR: char = '\x03';
const RESET: char = '\x0f';
const MONOSPACE: char = '\x11';
const REVERSE: char = '\x16';
const ITALIC: char = '\x1d';
const STRIKE: char = '\x1e';
const UNDERLINE: char = '\x1f';

/// The mIRC palette (codes 0–15), RGB.
const PALETTE: [[u8; 3]; 16] = [
    [255, 255, 255],
    [0, 0, 0],
    [0, 0, 127],
    [0, 147, 0],
    [255, 0, 0],
    [127, 0, 0],
    [156, 0, 156],
    [252, 127, 0],
    [255, 255, 0],
    [0, 252, 0],
    [0, 147, 147],
    [0, 255, 255],
    [0, 0, 252],
    [255, 0, 255],
    [127, 127, 127],
    [210, 210, 210],
];

fn nearest(rgb: [u8; 3]) -> usize {
    let dist = |p: &[u8; 3]| -> u32 {
        (0..3)
            .map(|i| (i32::from(p[i]) - i32::from(rgb[i])).unsigned_abs().pow(2))
            .sum()
    };
    (0..PALETTE.len()).min_by_key(|&i| dist(&PALETTE[i])).unwrap_or(1)
}

/// Text for IRC with the message's effects (black, the default, is left out).
pub fn to_irc(text: &str, f: &TextFormat) -> String {
    let mut codes = String::with_capacity(text.len() + 8);
    for (on, c) in [
        (f.bold, BOLD),
        (f.italic, ITALIC),
        (f.underline, UNDERLINE),
        (f.strikethrough, STRIKE),
    ] {
        if on {
            codes.push(c);
        }
    }
    if let Some(rgb) = f.color.filter(|c| *c != [0, 0, 0]) {
        codes.push_str(&format!("{COLOR}{:02}", nearest(rgb)));
        // "\x0304,5 stars" would read as a background colour 5: a pair of
        // reverse codes (which cancel out, and which `from_irc` ignores)
        // keeps the text's ",5".
        if text.strip_prefix(',').is_some_and(|t| digits(t) > 0) {
            codes.extend([REVERSE, REVERSE]);
        }
    }
    if codes.is_empty() {
        return text.to_owned();
    }
    // Closed, so that nothing after the line (a client's own suffix, the
    // next piece of a long message) inherits it.
    codes.push_str(text);
    codes.push(RESET);
    codes
}

/// How many ASCII digits (at most two) `s` starts with.
fn digits(s: &str) -> usize {
    s.bytes().take(2).take_while(u8::is_ascii_digit).count()
}

/// A line from IRC as MSN takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FromIrc {
    /// Without codes.
    pub text: String,
    /// Every effect and the first colour the codes asked for: MSN gives
    /// them to the whole message.
    pub format: TextFormat,
    /// The codes formatted only part of the text (visible text in more
    /// than one style): MSN shows all of it formatted.
    pub partial: bool,
}

/// The effects in force at a point of an IRC line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Attrs {
    bold: bool,
    italic: bool,
    underline: bool,
    strike: bool,
    color: Option<usize>,
}

/// Plain text and the format the IRC codes asked for. Text between codes
/// is copied a run at a time (every code is one ASCII byte).
pub fn from_irc(text: &str) -> FromIrc {
    // Every code is one ASCII byte, which never occurs inside a UTF-8
    // sequence: a byte search finds them.
    let is_code = |b: &u8| {
        matches!(
            char::from(*b),
            BOLD | ITALIC | UNDERLINE | STRIKE | RESET | MONOSPACE | REVERSE | COLOR
        )
    };
    let mut f = TextFormat::default();
    let mut out = String::with_capacity(text.len());
    let (mut now, mut first_style, mut partial) = (Attrs::default(), None, false);
    // Only styles that reach visible text count.
    let mut run = |out: &mut String, piece: &str, now: Attrs| {
        out.push_str(piece);
        if piece.trim().is_empty() {
            return;
        }
        partial |= *first_style.get_or_insert(now) != now;
        f.bold |= now.bold;
        f.italic |= now.italic;
        f.underline |= now.underline;
        f.strikethrough |= now.strike;
        if f.color.is_none() {
            f.color = now.color.map(|i| PALETTE[i]);
        }
    };
    let mut rest = text;
    while let Some(i) = rest.as_bytes().iter().position(is_code) {
        run(&mut out, &rest[..i], now);
        let code = rest.as_bytes()[i];
        rest = &rest[i + 1..];
        match char::from(code) {
            BOLD => now.bold = !now.bold,
            ITALIC => now.italic = !now.italic,
            UNDERLINE => now.underline = !now.underline,
            STRIKE => now.strike = !now.strike,
            RESET => now = Attrs::default(),
            COLOR => {
                let n = digits(rest);
                now.color = rest[..n].parse::<usize>().ok().filter(|i| *i < PALETTE.len());
                rest = &rest[n..];
                // An optional ",background" is dropped.
                if let Some(bg) = rest.strip_prefix(',').filter(|bg| digits(bg) > 0) {
                    rest = &bg[digits(bg)..];
                }
            }
            _ => {}
        }
    }
    run(&mut out, rest, now);
    FromIrc {
        text: out,
        format: f,
        partial,
    }
}

/// The effects of `f` in words ("bold and red"), for telling a sender.
pub fn describe(f: &TextFormat) -> String {
    let mut words: Vec<&str> = [
        (f.bold, "bold"),
        (f.italic, "italic"),
        (f.underline, "underlined"),
        (f.strikethrough, "struck through"),
        (f.color.is_some(), "coloured"),
    ]
    .into_iter()
    .filter_map(|(on, w)| on.then_some(w))
    .collect();
    match words.pop() {
        None => "plain".to_owned(),
        Some(last) if words.is_empty() => last.to_owned(),
        Some(last) => format!("{} and {last}", words.join(", ")),
    }
}

/// `\x01ACTION waves\x01` → `Some("waves")`.
pub fn action(text: &str) -> Option<&str> {
    let inner = text.strip_prefix("\x01ACTION")?;
    Some(inner.strip_suffix('\x01').unwrap_or(inner).trim_start())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn msn_formats_become_irc_codes() {
        let f = TextFormat {
            bold: true,
            italic: true,
            color: Some([255, 0, 0]),
            ..TextFormat::default()
        };
        assert_eq!(to_irc("hi", &f), "\x02\x1d\x0304hi\x0f");
        assert_eq!(to_irc(",5 stars", &f), "\x02\x1d\x0304\x16\x16,5 stars\x0f");
        assert_eq!(from_irc(&to_irc(",5 stars", &f)).text, ",5 stars");
        // Formatted as a whole, it comes back whole.
        assert!(!from_irc(&to_irc("hi there", &f)).partial);
        assert_eq!(
            to_irc(
                "plain",
                &TextFormat {
                    color: Some([0, 0, 0]),
                    ..TextFormat::default()
                }
            ),
            "plain"
        );
        let blueish = TextFormat {
            color: Some([10, 10, 250]),
            ..TextFormat::default()
        };
        assert_eq!(to_irc("x", &blueish), "\x0312x\x0f");
    }

    #[test]
    fn irc_codes_are_stripped_into_a_format() {
        let got = from_irc("\x02bold\x02 and \x0304,01red\x03 \x1fu\x1f\x0f!");
        assert_eq!(got.text, "bold and red u!");
        assert!(got.format.bold && got.format.underline && !got.format.italic);
        assert_eq!(got.format.color, Some([255, 0, 0]));
        assert_eq!(from_irc("\x03").text, "");
        assert_eq!(from_irc("100,5 \x033,x").text, "100,5 ,x");
        assert_eq!(from_irc("plain ✓").format, TextFormat::default());
    }

    #[test]
    fn formatting_only_part_of_a_line_is_noticed() {
        assert!(from_irc("\x02bold\x02 and plain").partial);
        assert!(from_irc("plain, then \x0304red").partial);
        assert!(from_irc("\x02bold \x1dand italic").partial);
        // The whole visible text in one style, however it is written.
        assert!(!from_irc("\x02all bold\x02").partial);
        assert!(!from_irc("  \x0304all red\x0f  ").partial);
        assert!(!from_irc("\x02\x02plain").partial);
        assert!(!from_irc("no codes").partial);
        assert_eq!(
            describe(&from_irc("\x02a\x1db\x0304c").format),
            "bold, italic and coloured"
        );
        assert_eq!(describe(&TextFormat::default()), "plain");
    }

    #[test]
    fn actions() {
        assert_eq!(action("\x01ACTION waves\x01"), Some("waves"));
        assert_eq!(action("\x01ACTION shrugs"), Some("shrugs"));
        assert_eq!(action("hello"), None);
    }
}
