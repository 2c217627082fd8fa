//! Text that came from outside — the worker, MSN, an IRC client — made
//! safe for where it goes: a log line, a systemd status, an IRC line. One
//! rule everywhere: no control character survives that could end a line
//! or forge the next one.

/// How long a one-line rendering may get, in characters.
const ONE_LINE_MAX: usize = 256;

/// `s` with every control character `keep` refuses turned into a space.
fn clean(s: &str, keep: impl Fn(char) -> bool) -> String {
    let bad = |c: char| c.is_control() && !keep(c);
    // Most text has nothing to replace: one copy, no per-char pushes. A
    // control character is a byte below 0x20, 0x7f, or U+0080–U+009F
    // (0xc2 first): text with none of those bytes is copied at once.
    let maybe = |b: &u8| *b < 0x20 || *b == 0x7f || *b == 0xc2;
    if !s.as_bytes().iter().any(maybe) || !s.chars().any(bad) {
        return s.to_owned();
    }
    s.chars().map(|c| if bad(c) { ' ' } else { c }).collect()
}

/// One line: every control character becomes a space.
pub fn one_line(s: &str) -> String {
    clean(s, |_| false)
}

/// For logs, statuses and notices of strings from the worker: one line of
/// at most 256 characters (an ellipsis says it was cut).
pub fn short(s: &str) -> String {
    let mut out = one_line(s);
    if let Some((cut, _)) = out.char_indices().nth(ONE_LINE_MAX) {
        out.truncate(cut);
        out.push('…');
    }
    out
}

/// For customer text on IRC: IRC formatting codes (bold, colour …) are
/// kept, any other control character becomes a space; no length limit
/// (the caller splits long text).
pub fn irc_text(s: &str) -> String {
    clean(s, |c| {
        matches!(c, '\x02' | '\x03' | '\x0f' | '\x16' | '\x1d' | '\x1e' | '\x1f')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_loses_control_characters_and_length() {
        assert_eq!(short("a\r\nQUIT\x07b"), "a  QUIT b");
        let long = "é".repeat(300);
        let cut = short(&long);
        assert_eq!(cut.chars().count(), ONE_LINE_MAX + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(short(&"x".repeat(256)), "x".repeat(256));
        assert_eq!(one_line(&"x\n".repeat(300)).len(), 600);
    }

    #[test]
    fn irc_text_keeps_formatting_but_not_line_breaks() {
        assert_eq!(irc_text("\x02bold\x02 \x0304red"), "\x02bold\x02 \x0304red");
        assert_eq!(irc_text("a\r\nPRIVMSG #x :forged\0"), "a  PRIVMSG #x :forged ");
        assert_eq!(irc_text(&"y".repeat(1000)).len(), 1000);
    }
}
