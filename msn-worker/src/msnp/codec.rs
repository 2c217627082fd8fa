//! MSNP framing, sans-IO: command lines (`CMD [TrID] args…\r\n`) and payload
//! commands whose last parameter is a byte count (msnp.md §1.2–1.7).
//!
//! The decoder reads what servers send. A bad line is skipped and reported
//! (the stream is still in sync); a bad or oversize payload length is fatal
//! (after it, nothing in the stream can be trusted).

use bytes::{Buf, BytesMut};

/// Longest command line accepted (a `LST` with many groups is ~400 bytes).
pub const MAX_LINE: usize = 8 * 1024;
/// Largest payload accepted: SB messages are at most 1664 bytes, but `NOT`,
/// `GCF` and `UBX` carry XML documents.
pub const MAX_PAYLOAD: usize = 128 * 1024;
/// How much of an offending line to keep for error reports.
const EXCERPT: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Three upper-case letters, or three digits for an error reply.
    pub cmd: String,
    pub args: Vec<String>,
    pub payload: Option<Vec<u8>>,
}

impl Frame {
    /// The error code of an error reply (`217 5`).
    pub fn error_code(&self) -> Option<u16> {
        if self.cmd.len() == 3 && self.cmd.bytes().all(|b| b.is_ascii_digit()) {
            self.cmd.parse().ok()
        } else {
            None
        }
    }

    /// The first parameter as a transaction id, if it is one.
    pub fn trid(&self) -> Option<u32> {
        self.args.first()?.parse().ok()
    }

    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(String::as_str)
    }

    /// The line as received (without payload), for logs and error reports.
    pub fn line(&self) -> String {
        let mut s = self.cmd.clone();
        for a in &self.args {
            s.push(' ');
            s.push_str(a);
        }
        excerpt(&s)
    }
}

fn excerpt(s: &str) -> String {
    if s.len() <= EXCERPT {
        return s.to_owned();
    }
    let mut end = EXCERPT;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Frame(Frame),
    /// A line that could not be understood; the stream is still in sync.
    Skipped {
        reason: String,
        line: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FatalError {
    #[error("line longer than {MAX_LINE} bytes without a line end")]
    LineTooLong,
    #[error("bad payload length in {line:?}")]
    BadLength { line: String },
    #[error("payload of {len} bytes exceeds the {MAX_PAYLOAD}-byte limit in {line:?}")]
    PayloadTooLarge { len: usize, line: String },
}

/// Server → client commands followed by a payload; the index of the length
/// parameter among the arguments.
/// `Some(None)`: a payload command without any parameter (its length is
/// missing, which is fatal).
fn payload_length_index(cmd: &str, args: &[String]) -> Option<Option<usize>> {
    let last_is_length = || args.last().is_some_and(|a| a.bytes().all(|b| b.is_ascii_digit()));
    match cmd {
        // (The server's `QRY <t>` answer carries no payload, unlike ours.)
        "MSG" | "NOT" | "IPG" | "GCF" | "UBX" => Some(args.len().checked_sub(1)),
        // "UUX <t> 0" (a reply); some documents show "UUX <t>".
        "UUX" if args.len() >= 2 => Some(Some(args.len() - 1)),
        // MSNP13+: `ADL 0 <len>` + XML, but `ADL <t> OK`; `PUT <t> OK
        // <len>`; `UBN <who> <type> <len>` …: a trailing number is a length.
        "ADL" | "RML" | "FQY" | "UBN" | "UBM" | "NFY" | "SDG" | "PUT" if last_is_length() => {
            Some(Some(args.len() - 1))
        }
        // MSNP13+ errors can carry the offending payload: `241 <t> <len>`.
        _ if cmd.bytes().all(|b| b.is_ascii_digit()) && args.len() >= 2 && last_is_length() => {
            Some(Some(args.len() - 1))
        }
        _ => None,
    }
}

#[derive(Debug, Default)]
pub struct Decoder;

impl Decoder {
    /// Takes one frame from `buf`; `Ok(None)` means more bytes are needed.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Decoded>, FatalError> {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            return if buf.len() > MAX_LINE {
                Err(FatalError::LineTooLong)
            } else {
                Ok(None)
            };
        };
        if nl > MAX_LINE {
            return Err(FatalError::LineTooLong);
        }
        let raw = &buf[..nl];
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = match std::str::from_utf8(raw) {
            Ok(t) => t.to_owned(),
            Err(_) => {
                let line = excerpt(&String::from_utf8_lossy(raw));
                buf.advance(nl + 1);
                return Ok(Some(Decoded::Skipped {
                    reason: "line is not UTF-8".into(),
                    line,
                }));
            }
        };
        let mut tokens = text.split(' ').filter(|t| !t.is_empty()).map(str::to_owned);
        let Some(cmd) = tokens.next() else {
            buf.advance(nl + 1);
            return Ok(Some(Decoded::Skipped {
                reason: "empty line".into(),
                line: String::new(),
            }));
        };
        let args: Vec<String> = tokens.collect();
        let valid_cmd = cmd.len() == 3
            && (cmd.bytes().all(|b| b.is_ascii_uppercase()) || cmd.bytes().all(|b| b.is_ascii_digit()));
        if !valid_cmd {
            buf.advance(nl + 1);
            return Ok(Some(Decoded::Skipped {
                reason: "not a command".into(),
                line: excerpt(&text),
            }));
        }
        let payload_len = match payload_length_index(&cmd, &args) {
            None => None,
            Some(None) => return Err(FatalError::BadLength { line: excerpt(&text) }),
            Some(Some(i)) => match args[i].parse::<usize>() {
                Ok(n) if n > MAX_PAYLOAD => {
                    return Err(FatalError::PayloadTooLarge {
                        len: n,
                        line: excerpt(&text),
                    })
                }
                Ok(n) => Some(n),
                Err(_) => return Err(FatalError::BadLength { line: excerpt(&text) }),
            },
        };
        let payload = match payload_len {
            None => {
                buf.advance(nl + 1);
                None
            }
            Some(n) => {
                if buf.len() < nl + 1 + n {
                    buf.reserve(nl + 1 + n - buf.len());
                    return Ok(None);
                }
                buf.advance(nl + 1);
                Some(buf.split_to(n).to_vec())
            }
        };
        Ok(Some(Decoded::Frame(Frame { cmd, args, payload })))
    }
}

/// Builds a client command line: `CMD TrID args…\r\n` (TrID omitted when
/// `None`), followed by the payload if any (with its byte count appended to
/// the arguments).
pub fn encode(cmd: &str, trid: Option<u32>, args: &[&str], payload: Option<&[u8]>) -> Vec<u8> {
    let mut line = String::from(cmd);
    if let Some(t) = trid {
        line.push(' ');
        line.push_str(&t.to_string());
    }
    for a in args {
        debug_assert!(!a.contains([' ', '\r', '\n']), "unescaped parameter {a:?}");
        line.push(' ');
        line.push_str(a);
    }
    if let Some(p) = payload {
        line.push(' ');
        line.push_str(&p.len().to_string());
    }
    line.push_str("\r\n");
    let mut out = line.into_bytes();
    if let Some(p) = payload {
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8]) -> Result<Vec<Decoded>, FatalError> {
        let mut buf = BytesMut::from(bytes);
        let mut d = Decoder;
        let mut out = Vec::new();
        while let Some(x) = d.decode(&mut buf)? {
            out.push(x);
        }
        Ok(out)
    }

    fn frame(cmd: &str, args: &[&str], payload: Option<&[u8]>) -> Decoded {
        Decoded::Frame(Frame {
            cmd: cmd.into(),
            args: args.iter().map(|s| s.to_string()).collect(),
            payload: payload.map(<[u8]>::to_vec),
        })
    }

    #[test]
    fn many_commands_in_one_read() {
        let out =
            decode_all(b"VER 1 MSNP8 CVR0\r\nQNG 50\r\nMSG Hotmail Hotmail 5\r\nhelloCHL 0 123\r\n").unwrap();
        assert_eq!(
            out,
            vec![
                frame("VER", &["1", "MSNP8", "CVR0"], None),
                frame("QNG", &["50"], None),
                frame("MSG", &["Hotmail", "Hotmail", "5"], Some(b"hello")),
                frame("CHL", &["0", "123"], None),
            ]
        );
    }

    #[test]
    fn payload_split_across_reads_waits() {
        let mut d = Decoder;
        let mut buf = BytesMut::from(&b"UBX bob@example.com 10\r\n<Data>"[..]);
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"</D");
        assert_eq!(d.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"NLN");
        let Some(Decoded::Frame(f)) = d.decode(&mut buf).unwrap() else {
            panic!()
        };
        assert_eq!(f.payload.as_deref(), Some(&b"<Data></DN"[..]));
        assert_eq!(&buf[..], b"LN");
    }

    #[test]
    fn lengths_count_bytes_not_characters() {
        let out = decode_all("MSG bob B 3\r\n✓FLN x\r\n".as_bytes()).unwrap();
        assert_eq!(out[0], frame("MSG", &["bob", "B", "3"], Some("✓".as_bytes())));
        assert_eq!(out[1], frame("FLN", &["x"], None));
    }

    #[test]
    fn trailing_spaces_and_bare_lf_are_tolerated() {
        let out = decode_all(b"LST N=a@b F=A 8 1 \nOUT\r\n").unwrap();
        assert_eq!(out[0], frame("LST", &["N=a@b", "F=A", "8", "1"], None));
        assert_eq!(out[1], frame("OUT", &[], None));
    }

    #[test]
    fn error_replies_with_and_without_trid() {
        let out = decode_all(b"217 5\r\n207\r\n").unwrap();
        let Decoded::Frame(a) = &out[0] else { panic!() };
        let Decoded::Frame(b) = &out[1] else { panic!() };
        assert_eq!((a.error_code(), a.trid()), (Some(217), Some(5)));
        assert_eq!((b.error_code(), b.trid()), (Some(207), None));
    }

    #[test]
    fn msnp13_payload_commands_and_errors_with_payloads() {
        let out = decode_all(
            b"ADL 6 OK\r\nADL 0 5\r\n<ml/>UBN a@b;{x} 4 2\r\nhiPUT 9 OK 1\r\nx241 7 3\r\n<a>ADL 8 OK\r\n",
        )
        .unwrap();
        assert_eq!(
            out,
            vec![
                frame("ADL", &["6", "OK"], None),
                frame("ADL", &["0", "5"], Some(b"<ml/>")),
                frame("UBN", &["a@b;{x}", "4", "2"], Some(b"hi")),
                frame("PUT", &["9", "OK", "1"], Some(b"x")),
                frame("241", &["7", "3"], Some(b"<a>")),
                frame("ADL", &["8", "OK"], None),
            ]
        );
    }

    #[test]
    fn the_servers_qry_answer_has_no_payload() {
        let out = decode_all(b"QRY 7\r\nCHG 8 AWY 0\r\n").unwrap();
        assert_eq!(
            out,
            vec![frame("QRY", &["7"], None), frame("CHG", &["8", "AWY", "0"], None)]
        );
    }

    #[test]
    fn uux_reply_with_and_without_length() {
        let out = decode_all(b"UUX 9 0\r\nUUX 10\r\n").unwrap();
        assert_eq!(out[0], frame("UUX", &["9", "0"], Some(b"")));
        assert_eq!(out[1], frame("UUX", &["10"], None));
    }

    #[test]
    fn garbage_lines_are_skipped_not_fatal() {
        let out = decode_all(b"\xff\xfe\r\n\r\nhello world\r\nNLN NLN a@b A 0\r\n").unwrap();
        assert!(matches!(&out[0], Decoded::Skipped { reason, .. } if reason == "line is not UTF-8"));
        assert!(matches!(&out[1], Decoded::Skipped { reason, .. } if reason == "empty line"));
        assert!(
            matches!(&out[2], Decoded::Skipped { reason, line } if reason == "not a command" && line == "hello world")
        );
        assert_eq!(out[3], frame("NLN", &["NLN", "a@b", "A", "0"], None));
    }

    #[test]
    fn bad_or_huge_lengths_are_fatal() {
        assert!(matches!(
            decode_all(b"MSG a b -5\r\n"),
            Err(FatalError::BadLength { .. })
        ));
        assert!(matches!(
            decode_all(b"MSG a b 99999999999999999999999\r\n"),
            Err(FatalError::BadLength { .. })
        ));
        assert!(matches!(
            decode_all(b"NOT 999999999\r\n"),
            Err(FatalError::PayloadTooLarge { len: 999999999, .. })
        ));
        assert!(matches!(
            decode_all(b"MSG\r\n"),
            Err(FatalError::BadLength { .. })
        ));
    }

    #[test]
    fn endless_line_is_fatal() {
        let mut d = Decoder;
        let mut buf = BytesMut::from(&vec![b'A'; MAX_LINE + 1][..]);
        assert_eq!(d.decode(&mut buf), Err(FatalError::LineTooLong));
    }

    #[test]
    fn encode_appends_length_and_payload_without_crlf() {
        assert_eq!(
            encode("VER", Some(1), &["MSNP8", "CVR0"], None),
            b"VER 1 MSNP8 CVR0\r\n"
        );
        assert_eq!(encode("PNG", None, &[], None), b"PNG\r\n");
        assert_eq!(
            encode("QRY", Some(7), &["msmsgs@msnmsgr.com"], Some(b"0123")),
            b"QRY 7 msmsgs@msnmsgr.com 4\r\n0123"
        );
    }

    #[test]
    fn long_lines_are_excerpted_in_reports() {
        let long = format!("XYZ {}", "é".repeat(300));
        let f = Frame {
            cmd: "XYZ".into(),
            args: vec![long],
            payload: None,
        };
        assert!(f.line().len() < 260);
    }
}
