//! `MSG` payloads: MIME-style headers and a body (msnp.md §6.5–6.7).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ipc::TextFormat;

use super::escape;

/// Largest `MSG` payload a switchboard accepts; longer ones close the SB.
pub const MAX_MSG_PAYLOAD: usize = 1664;

/// A parsed payload: headers in order (names as sent) and the raw body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mime {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Mime {
    pub fn parse(payload: &[u8]) -> Mime {
        let (head, body) = match find(payload, b"\r\n\r\n") {
            Some(i) => (&payload[..i], &payload[i + 4..]),
            None => match find(payload, b"\n\n") {
                Some(i) => (&payload[..i], &payload[i + 2..]),
                None => (payload, &[][..]),
            },
        };
        let headers = String::from_utf8_lossy(head)
            .split('\n')
            .filter_map(|line| {
                let (k, v) = line.trim_end_matches('\r').split_once(':')?;
                Some((k.trim().to_owned(), v.trim().to_owned()))
            })
            .collect();
        Mime {
            headers,
            body: body.to_vec(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The content type without parameters, lower-cased.
    pub fn content_type(&self) -> String {
        self.header("Content-Type")
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }

    fn charset(&self) -> Option<String> {
        let ct = self.header("Content-Type")?;
        ct.split(';').skip(1).find_map(|p| {
            let (k, v) = p.split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case("charset")
                .then(|| v.trim().trim_matches('"').to_ascii_lowercase())
        })
    }

    /// The body as text: UTF-8 when declared so (lossily), ISO-8859-1
    /// otherwise, as the protocol defines.
    pub fn body_text(&self) -> String {
        match self.charset().as_deref() {
            None | Some("iso-8859-1") | Some("latin1") => self.body.iter().map(|&b| char::from(b)).collect(),
            _ => String::from_utf8_lossy(&self.body).into_owned(),
        }
    }

    /// Body lines as `Name: value` pairs (typing, invitations, system messages).
    fn body_fields(&self) -> HashMap<String, String> {
        String::from_utf8_lossy(&self.body)
            .lines()
            .filter_map(|l| {
                let (k, v) = l.split_once(':')?;
                Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            })
            .collect()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// What a payload means to us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    Text {
        text: String,
        format: TextFormat,
    },
    Typing {
        user: String,
    },
    Nudge,
    /// A legacy application invitation (file transfer, voice …).
    Invitation {
        command: String,
        cookie: String,
        application: String,
    },
    /// Server maintenance warning (`Type: 1`, `Arg1: minutes`).
    Maintenance {
        minutes: Option<u32>,
    },
    /// The NS's login profile.
    Profile,
    /// Anything else: logged and ignored.
    Other {
        content_type: String,
    },
}

pub fn classify(mime: &Mime) -> Content {
    let ct = mime.content_type();
    match ct.as_str() {
        "text/plain" => Content::Text {
            // Line breaks are CR LF on the wire; keep plain LF.
            text: mime.body_text().replace("\r\n", "\n"),
            format: mime
                .header("X-MMS-IM-Format")
                .map(parse_format)
                .unwrap_or_default(),
        },
        "text/x-msmsgscontrol" => Content::Typing {
            user: mime.header("TypingUser").unwrap_or("").to_owned(),
        },
        "text/x-msnmsgr-datacast" if mime.body_fields().get("id").map(String::as_str) == Some("1") => {
            Content::Nudge
        }
        "text/x-msmsgsinvite" => {
            let f = mime.body_fields();
            let get = |k: &str| f.get(k).cloned().unwrap_or_default();
            Content::Invitation {
                command: get("invitation-command"),
                cookie: get("invitation-cookie"),
                application: get("application-name"),
            }
        }
        "application/x-msmsgssystemmessage" => {
            let f = mime.body_fields();
            if f.get("type").map(String::as_str) == Some("1") {
                Content::Maintenance {
                    minutes: f.get("arg1").and_then(|m| m.parse().ok()),
                }
            } else {
                Content::Other { content_type: ct }
            }
        }
        "text/x-msmsgsprofile" => Content::Profile,
        _ => Content::Other { content_type: ct },
    }
}

/// Parses `X-MMS-IM-Format` (`FN=…; EF=BI; CO=ff; CS=0; PF=22`), any order,
/// any field missing. `CO` is BGR on the wire; [`TextFormat`] holds RGB.
pub fn parse_format(value: &str) -> TextFormat {
    let mut f = TextFormat::default();
    for field in value.split(';') {
        let Some((k, v)) = field.trim().split_once('=') else {
            continue;
        };
        match k.trim().to_ascii_uppercase().as_str() {
            "FN" => {
                let name = escape::decode(v.trim());
                f.font = (!name.is_empty()).then_some(name);
            }
            "EF" => {
                let v = v.to_ascii_uppercase();
                f.bold = v.contains('B');
                f.italic = v.contains('I');
                f.underline = v.contains('U');
                f.strikethrough = v.contains('S');
            }
            "CO" => {
                if let Ok(bgr) = u32::from_str_radix(v.trim(), 16) {
                    if bgr <= 0xff_ffff {
                        let [b, g, r] = [(bgr >> 16) as u8, (bgr >> 8) as u8, bgr as u8];
                        f.color = Some([r, g, b]);
                    }
                }
            }
            _ => {}
        }
    }
    f
}

pub fn format_header(f: &TextFormat) -> String {
    let font = escape::encode(f.font.as_deref().unwrap_or("Segoe UI"));
    let mut ef = String::new();
    for (on, c) in [
        (f.bold, 'B'),
        (f.italic, 'I'),
        (f.underline, 'U'),
        (f.strikethrough, 'S'),
    ] {
        if on {
            ef.push(c);
        }
    }
    let co = f
        .color
        .map(|[r, g, b]| u32::from(b) << 16 | u32::from(g) << 8 | u32::from(r))
        .unwrap_or(0);
    format!("FN={font}; EF={ef}; CO={co:x}; CS=0; PF=22")
}

fn with_crlf_body(headers: &str, body: &str) -> Vec<u8> {
    format!("{headers}\r\n{body}").into_bytes()
}

pub fn text_payload(text: &str, format: &TextFormat) -> Vec<u8> {
    let body = text.replace("\r\n", "\n").replace('\n', "\r\n");
    with_crlf_body(
        &format!(
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: {}\r\n",
            format_header(format)
        ),
        &body,
    )
}

pub fn typing_payload(account: &str) -> Vec<u8> {
    with_crlf_body(
        &format!("MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: {account}\r\n"),
        "\r\n",
    )
}

pub fn nudge_payload() -> Vec<u8> {
    with_crlf_body(
        "MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n",
        "ID: 1\r\n\r\n",
    )
}

pub fn decline_invitation_payload(cookie: &str) -> Vec<u8> {
    with_crlf_body(
        "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n",
        &format!("Invitation-Command: CANCEL\r\nInvitation-Cookie: {cookie}\r\nCancel-Code: REJECT_NOT_INSTALLED\r\n"),
    )
}

/// Splits `text` into pieces whose text payloads fit in one `MSG`, at a
/// line break or space where one is near, never inside a UTF-8 character.
pub fn split_for_msg(text: &str, format: &TextFormat) -> Vec<String> {
    let overhead = text_payload("", format).len();
    let room = MAX_MSG_PAYLOAD.saturating_sub(overhead).max(64);
    let mut pieces = Vec::new();
    let mut rest = text;
    // CR LF doubles newlines on the wire: count each '\n' as two bytes.
    let wire_len = |s: &str| s.len() + s.matches('\n').count();
    while wire_len(rest) > room {
        let mut cut = 0;
        let mut wire = 0;
        for (i, c) in rest.char_indices() {
            let w = c.len_utf8() + usize::from(c == '\n');
            if wire + w > room {
                break;
            }
            wire += w;
            cut = i + c.len_utf8();
        }
        // Prefer a break in the last quarter of the piece.
        let window = &rest[cut * 3 / 4..cut];
        let soft = window
            .rfind('\n')
            .or_else(|| window.rfind(' '))
            .map(|i| cut * 3 / 4 + i + 1)
            .filter(|&i| rest.is_char_boundary(i));
        let cut = soft.unwrap_or(cut).max(1);
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece.trim_end_matches(['\n', ' ']).to_owned());
        rest = tail;
    }
    if !rest.is_empty() || pieces.is_empty() {
        pieces.push(rest.to_owned());
    }
    pieces
}

/// Reassembles chunked messages (`Message-ID` + `Chunks: n`, then
/// `Chunk: i`); incomplete sets are dropped after a timeout.
#[derive(Debug, Default)]
pub struct Reassembler {
    pending: HashMap<String, Partial>,
}

#[derive(Debug)]
struct Partial {
    first: Mime,
    expected: usize,
    bodies: Vec<Vec<u8>>,
    started: Instant,
}

/// Most chunks one message may have (bounds memory per sender).
const MAX_CHUNKS: usize = 64;
const CHUNK_TIMEOUT: Duration = Duration::from_secs(60);

impl Reassembler {
    /// Returns the whole message when `mime` completes one (or is not chunked).
    pub fn feed(&mut self, mime: Mime, now: Instant) -> Option<Mime> {
        self.pending
            .retain(|_, p| now.duration_since(p.started) < CHUNK_TIMEOUT);
        let id = mime.header("Message-ID").map(str::to_owned);
        if let (Some(id), Some(n)) = (&id, mime.header("Chunks").and_then(|c| c.parse::<usize>().ok())) {
            if n <= 1 || n > MAX_CHUNKS || self.pending.len() >= MAX_CHUNKS {
                return (n <= 1).then_some(mime);
            }
            let body = mime.body.clone();
            self.pending.insert(
                id.clone(),
                Partial {
                    first: mime,
                    expected: n,
                    bodies: vec![body],
                    started: now,
                },
            );
            return None;
        }
        if let (Some(id), Some(i)) = (&id, mime.header("Chunk").and_then(|c| c.parse::<usize>().ok())) {
            let partial = self.pending.get_mut(id)?;
            if i != partial.bodies.len() {
                self.pending.remove(id);
                return None;
            }
            partial.bodies.push(mime.body);
            if partial.bodies.len() == partial.expected {
                let p = self.pending.remove(id)?;
                let mut whole = p.first;
                whole.body = p.bodies.concat();
                return Some(whole);
            }
            return None;
        }
        Some(mime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_with_format_is_parsed() {
        let m = Mime::parse(
            b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Segoe%20UI; EF=BI; CO=ff; CS=0; PF=22\r\n\r\nhi \xe2\x9c\x93\r\nline 2",
        );
        let Content::Text { text, format } = classify(&m) else {
            panic!()
        };
        assert_eq!(text, "hi ✓\nline 2");
        assert_eq!(format.font.as_deref(), Some("Segoe UI"));
        assert!(format.bold && format.italic && !format.underline);
        assert_eq!(format.color, Some([255, 0, 0]), "CO=ff is red (BGR)");
    }

    #[test]
    fn text_without_charset_is_latin1_and_lf_headers_are_tolerated() {
        let m = Mime::parse(b"Content-Type: text/plain\n\ncaf\xe9");
        assert_eq!(
            classify(&m),
            Content::Text {
                text: "café".into(),
                format: TextFormat::default()
            }
        );
    }

    #[test]
    fn format_fields_in_any_order_and_colours_both_ways() {
        let f = parse_format("CO=ff0000;EF=SU ; FN=Arial");
        assert_eq!(f.color, Some([0, 0, 255]));
        assert!(f.strikethrough && f.underline);
        assert_eq!(format_header(&f), "FN=Arial; EF=US; CO=ff0000; CS=0; PF=22");
        assert_eq!(parse_format("CO=zz; EF=").color, None);
        assert_eq!(parse_format(&format_header(&f)), f);
    }

    #[test]
    fn typing_nudge_invitation_and_maintenance_are_recognised() {
        assert_eq!(
            classify(&Mime::parse(&typing_payload("a@b.c"))),
            Content::Typing { user: "a@b.c".into() }
        );
        assert_eq!(classify(&Mime::parse(&nudge_payload())), Content::Nudge);
        assert_eq!(
            classify(&Mime::parse(
                b"Content-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n"
            )),
            Content::Nudge
        );
        let inv = Mime::parse(b"Content-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\nApplication-Name: File Transfer\r\nInvitation-Command: INVITE\r\nInvitation-Cookie: 42\r\n");
        assert_eq!(
            classify(&inv),
            Content::Invitation {
                command: "INVITE".into(),
                cookie: "42".into(),
                application: "File Transfer".into()
            }
        );
        let sys = Mime::parse(b"MIME-Version: 1.0\r\nContent-Type: application/x-msmsgssystemmessage\r\n\r\nType: 1\r\nArg1: 5\r\n");
        assert_eq!(classify(&sys), Content::Maintenance { minutes: Some(5) });
        assert_eq!(
            classify(&Mime::parse(
                b"Content-Type: application/x-msnmsgrp2p\r\n\r\n\x00\x01"
            )),
            Content::Other {
                content_type: "application/x-msnmsgrp2p".into()
            }
        );
    }

    #[test]
    fn built_payloads_fit_the_documented_sizes() {
        assert_eq!(typing_payload("relay@example.com").len(), 90);
        assert!(text_payload("x", &TextFormat::default()).len() < 140);
    }

    #[test]
    fn long_text_is_split_within_the_limit_at_utf8_boundaries() {
        let f = TextFormat::default();
        let text = "ünïcödé ".repeat(400) + &"✓".repeat(700);
        let pieces = split_for_msg(&text, &f);
        assert!(pieces.len() > 2);
        for p in &pieces {
            assert!(text_payload(p, &f).len() <= MAX_MSG_PAYLOAD, "{}", p.len());
        }
        let rejoined: String = pieces.concat();
        assert_eq!(rejoined.replace(' ', ""), text.replace(' ', ""));
        assert_eq!(split_for_msg("short", &f), vec!["short"]);
        let lines = "line\n".repeat(600);
        for p in split_for_msg(&lines, &f) {
            assert!(text_payload(&p, &f).len() <= MAX_MSG_PAYLOAD);
        }
    }

    #[test]
    fn chunked_messages_are_reassembled_in_order() {
        let now = Instant::now();
        let mut r = Reassembler::default();
        let first =
            Mime::parse(b"Content-Type: text/plain; charset=UTF-8\r\nMessage-ID: {X}\r\nChunks: 3\r\n\r\nab");
        assert!(r.feed(first, now).is_none());
        assert!(r
            .feed(Mime::parse(b"Message-ID: {X}\r\nChunk: 1\r\n\r\ncd"), now)
            .is_none());
        let whole = r
            .feed(Mime::parse(b"Message-ID: {X}\r\nChunk: 2\r\n\r\nef"), now)
            .unwrap();
        assert_eq!(whole.body, b"abcdef");
        assert_eq!(whole.content_type(), "text/plain");
        // Out of order or unknown chunks are dropped.
        assert!(r
            .feed(Mime::parse(b"Message-ID: {Y}\r\nChunk: 1\r\n\r\nzz"), now)
            .is_none());
        // Plain messages pass through.
        assert!(r
            .feed(Mime::parse(b"Content-Type: text/plain\r\n\r\nhi"), now)
            .is_some());
    }

    #[test]
    fn incomplete_chunk_sets_expire() {
        let now = Instant::now();
        let mut r = Reassembler::default();
        r.feed(Mime::parse(b"Message-ID: {X}\r\nChunks: 2\r\n\r\na"), now);
        let later = now + CHUNK_TIMEOUT + Duration::from_secs(1);
        assert!(r
            .feed(Mime::parse(b"Message-ID: {X}\r\nChunk: 1\r\n\r\nb"), later)
            .is_none());
        assert!(r.pending.is_empty());
    }
}
