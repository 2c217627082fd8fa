//! The bounded IRC line reader, sans-IO: splits client bytes into lines
//! without ever buffering more than one maximal line, then hands each to
//! irc-proto's parser. A line over the limits is reported (the caller
//! answers `ERR_INPUTTOOLONG`), never a reason to drop the connection.

use bytes::{Buf, BytesMut};
use irc_proto::Message;

/// The message part: 512 bytes including CR LF (RFC 1459).
pub const MAX_MESSAGE: usize = 512;
/// The tags part a client may send, including the leading `@` and the
/// space after it: 4,094 bytes of tag data (IRCv3 message-tags; the 8,191
/// of the spec's limit are for the server's tags added to them).
pub const MAX_TAGS: usize = 4096;
const MAX_LINE: usize = MAX_TAGS + MAX_MESSAGE;

#[derive(Debug)]
pub enum Line {
    Message(Box<Message>),
    /// Longer than the limits; the rest of it was discarded.
    TooLong,
    /// Not an IRC message (e.g. only a prefix); the reason for logs.
    Invalid(String),
}

#[derive(Debug, Default)]
pub struct LineReader {
    /// Inside an overlong line: drop bytes until its end.
    discarding: bool,
}

impl LineReader {
    /// The next line in `buf`, `None` when more bytes are needed. Empty
    /// lines are skipped.
    pub fn next(&mut self, buf: &mut BytesMut) -> Option<Line> {
        loop {
            // A lone CR ends a line too, as IRC servers take it; CR LF
            // leaves an empty line behind, which is skipped.
            let Some(nl) = buf.iter().position(|&b| b == b'\n' || b == b'\r') else {
                if buf.len() > MAX_LINE {
                    // Keep nothing of it: memory stays bounded.
                    buf.clear();
                    self.discarding = true;
                }
                return None;
            };
            let raw = buf.split_to(nl + 1);
            if std::mem::take(&mut self.discarding) {
                return Some(Line::TooLong);
            }
            let raw = &raw[..raw.len() - 1];
            if raw.iter().all(|&b| b == b' ') {
                continue;
            }
            if too_long(raw) {
                return Some(Line::TooLong);
            }
            // Invalid UTF-8 becomes U+FFFD rather than an error.
            let text = String::from_utf8_lossy(raw);
            // irc-proto treats these as line ends; no lone CR or NUL inside.
            let text = text.replace(['\r', '\0'], " ");
            return Some(match text.parse::<Message>() {
                Ok(m) if matches!(&m.command, irc_proto::Command::Raw(c, _) if c.is_empty()) => {
                    Line::Invalid("no command".into())
                }
                Ok(m) => Line::Message(Box::new(m)),
                Err(e) => Line::Invalid(e.to_string()),
            });
        }
    }

    /// Drops what is buffered of an unfinished line at end of stream.
    pub fn finish(&mut self, buf: &mut BytesMut) {
        buf.advance(buf.len());
    }
}

fn too_long(raw: &[u8]) -> bool {
    let (tags, rest) = match raw.first() {
        Some(b'@') => match raw.iter().position(|&b| b == b' ') {
            Some(i) => (i + 1, raw.len() - i - 1),
            None => (raw.len(), 0),
        },
        _ => (0, raw.len()),
    };
    tags > MAX_TAGS || rest + 2 > MAX_MESSAGE
}

#[cfg(test)]
mod tests {
    use super::*;
    use irc_proto::Command;

    fn lines(bytes: &[u8]) -> Vec<Line> {
        let mut r = LineReader::default();
        let mut buf = BytesMut::from(bytes);
        std::iter::from_fn(|| r.next(&mut buf)).collect()
    }

    #[test]
    fn registration_burst_in_one_read() {
        let out = lines(b"CAP LS 302\r\nNICK alice\r\nUSER alice 0 * :Alice A\r\n\r\n  \r\nPING :x\n");
        let cmds: Vec<String> = out
            .iter()
            .map(|l| match l {
                Line::Message(m) => format!("{:?}", m.command),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(cmds.len(), 4, "{cmds:?}");
        assert!(matches!(&out[1], Line::Message(m) if m.command == Command::NICK("alice".into())));
    }

    #[test]
    fn a_line_split_across_reads_waits_for_its_end() {
        let mut r = LineReader::default();
        let mut buf = BytesMut::from(&b"PRIVMSG #bob :hel"[..]);
        assert!(r.next(&mut buf).is_none());
        buf.extend_from_slice(b"lo\r\n");
        assert!(
            matches!(r.next(&mut buf), Some(Line::Message(m)) if m.command == Command::PRIVMSG("#bob".into(), "hello".into()))
        );
    }

    #[test]
    fn limits_are_512_bytes_plus_4094_bytes_of_client_tags() {
        let body = "a".repeat(MAX_MESSAGE - 2 - "PRIVMSG #x :".len());
        let fits = format!("PRIVMSG #x :{body}\r\n");
        assert!(matches!(lines(fits.as_bytes()).as_slice(), [Line::Message(_)]));
        let over = format!("PRIVMSG #x :{body}a\r\n");
        assert!(matches!(lines(over.as_bytes()).as_slice(), [Line::TooLong]));
        let tags = format!("@+draft/x={} ", "t".repeat(MAX_TAGS - 11));
        assert_eq!(tags.len(), MAX_TAGS);
        let tagged = format!("{tags}PRIVMSG #x :hi\r\n");
        assert!(matches!(lines(tagged.as_bytes()).as_slice(), [Line::Message(_)]));
        let tagged = format!("@{tags}PRIVMSG #x :hi\r\n");
        assert!(matches!(lines(tagged.as_bytes()).as_slice(), [Line::TooLong]));
    }

    #[test]
    fn a_lone_cr_ends_a_line() {
        let got = lines(b"PING :a\rPING :b\rPING :c\r\nPING :d\n");
        let tokens: Vec<String> = got
            .iter()
            .filter_map(|l| match l {
                Line::Message(m) => Some(m.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(tokens.len(), 4, "{got:?}");
        assert!(tokens[1].contains('b') && tokens[3].contains('d'), "{tokens:?}");
    }

    #[test]
    fn client_tag_data_over_4094_bytes_is_refused() {
        // `@` + 4,094 bytes of tag data + ` `: the most a client may send.
        let fits = format!("@+a={} PRIVMSG #x :hi\r\n", "v".repeat(4094 - 3));
        assert!(matches!(lines(fits.as_bytes()).as_slice(), [Line::Message(_)]));
        let over = format!("@+a={} PRIVMSG #x :hi\r\n", "v".repeat(4095 - 3));
        assert!(matches!(lines(over.as_bytes()).as_slice(), [Line::TooLong]));
    }

    #[test]
    fn an_endless_line_is_bounded_and_reported_once_it_ends() {
        let mut r = LineReader::default();
        let mut buf = BytesMut::new();
        for _ in 0..100 {
            buf.extend_from_slice(&[b'x'; 1000]);
            assert!(r.next(&mut buf).is_none());
            assert!(buf.len() <= MAX_LINE + 1000);
        }
        buf.extend_from_slice(b"yyy\r\nPING :after\r\n");
        assert!(matches!(r.next(&mut buf), Some(Line::TooLong)));
        assert!(
            matches!(r.next(&mut buf), Some(Line::Message(m)) if m.command == Command::PING("after".into(), None))
        );
    }

    #[test]
    fn invalid_utf8_and_garbage_do_not_end_the_connection() {
        let out = lines(b"PRIVMSG #x :caf\xe9\r\n:onlyprefix\r\nPRIVMSG #x :nul\0byte\r\n");
        assert!(
            matches!(&out[0], Line::Message(m) if m.command == Command::PRIVMSG("#x".into(), "caf\u{fffd}".into()))
        );
        assert!(matches!(&out[1], Line::Invalid(_)));
        assert!(matches!(&out[2], Line::Message(_)));
    }

    #[test]
    fn tags_are_parsed() {
        let out = lines(b"@+typing=active;label=abc TAGMSG #bob\r\n");
        let Line::Message(m) = &out[0] else { panic!() };
        let tags = m.tags.as_ref().unwrap();
        assert_eq!(tags[0].0, "+typing");
        assert_eq!(tags[0].1.as_deref(), Some("active"));
    }
}
