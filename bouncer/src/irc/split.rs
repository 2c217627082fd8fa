//! Splitting text into IRC-sized lines: at line breaks, then at spaces
//! near the limit, never inside a UTF-8 character.

/// Pieces of `text` of at most `max` bytes each: one per line of `text`,
/// long lines cut (preferably at a space).
pub fn split(text: &str, max: usize) -> Vec<String> {
    let max = max.max(16);
    let mut out = Vec::new();
    for line in text.split('\n').map(|l| l.trim_end_matches('\r')) {
        let mut rest = line;
        while rest.len() > max {
            let mut cut = max;
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            // A space in the last quarter makes a nicer break.
            let mut from = cut * 3 / 4;
            while !rest.is_char_boundary(from) {
                from -= 1;
            }
            if let Some(space) = rest[from..cut].rfind(' ') {
                cut = from + space + 1;
            }
            out.push(rest[..cut].trim_end().to_owned());
            rest = &rest[cut..];
        }
        let rest = rest.trim_end();
        if !rest.is_empty() {
            out.push(rest.to_owned());
        }
    }
    out
}

/// Room for the text of `:prefix PRIVMSG target :text\r\n` in 512 bytes.
pub fn room(prefix: &str, command: &str, target: &str) -> usize {
    512usize.saturating_sub(prefix.len() + command.len() + target.len() + 7)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_long_text_are_split_at_boundaries() {
        assert_eq!(split("a\r\nb\n\nc", 100), vec!["a", "b", "c"]);
        let words = "word ".repeat(100);
        let parts = split(&words, 64);
        assert!(parts.iter().all(|p| p.len() <= 64 && !p.ends_with(' ')));
        assert_eq!(parts.join(" ").split_whitespace().count(), 100);
        let wide = "✓".repeat(100);
        let parts = split(&wide, 50);
        assert!(parts.iter().all(|p| p.len() <= 50));
        assert_eq!(parts.concat(), wide);
    }

    #[test]
    fn room_leaves_space_for_the_envelope() {
        let prefix = "bob!bob@example.com";
        let n = room(prefix, "PRIVMSG", "#bob");
        let line = format!(":{prefix} PRIVMSG #bob :{}\r\n", "x".repeat(n));
        assert_eq!(line.len(), 512);
    }
}
