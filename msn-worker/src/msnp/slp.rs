//! MSNSLP, sans-IO (`docs/msnp2p.md`): the SIP-like text messages that
//! open and close P2P sessions (`INVITE`, `200 OK`, `603 Decline`, `BYE`
//! …), carried as P2P session 0. Reading is bounded and forgiving of
//! header case; a message that is not one is refused with a reason.

/// The most of a message read (they are a few hundred bytes).
pub const MAX_MESSAGE: usize = 16 * 1024;

/// The start line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// `INVITE MSNMSGR:bob@example.com MSNSLP/1.0`, `BYE …`, `ACK …`.
    Request { method: String, to: String },
    /// `MSNSLP/1.0 200 OK`.
    Response { code: u16, reason: String },
}

/// One MSNSLP message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub start: Start,
    /// Headers in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body's `Key: Value` lines.
    pub body: Vec<(String, String)>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn field(&self, name: &str) -> Option<&str> {
        self.body
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The address in `To:` or `From:` (`<msnmsgr:bob@example.com;{guid}>`).
    pub fn address(&self, header: &str) -> Option<String> {
        let v = self.header(header)?;
        let inner = v.trim().trim_start_matches('<').trim_end_matches('>');
        let addr = inner.split_once(':').map_or(inner, |(_, a)| a);
        Some(addr.split(';').next().unwrap_or(addr).to_owned())
    }
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlpError {
    #[error("an MSNSLP message of {0} bytes is over the limit")]
    TooLong(usize),
    #[error("not an MSNSLP message: {0}")]
    Malformed(&'static str),
}

fn lines(text: &str) -> impl Iterator<Item = &str> {
    text.split("\r\n")
}

/// Reads a message (the data of P2P session 0, trailing NUL and all).
pub fn parse(data: &[u8]) -> Result<Message, SlpError> {
    if data.len() > MAX_MESSAGE {
        return Err(SlpError::TooLong(data.len()));
    }
    let text = std::str::from_utf8(data).map_err(|_| SlpError::Malformed("not UTF-8"))?;
    let text = text.trim_end_matches('\0');
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let mut head_lines = lines(head);
    let first = head_lines.next().ok_or(SlpError::Malformed("empty"))?;
    let start = match first.split_once(' ') {
        Some(("MSNSLP/1.0", rest)) => {
            let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
            Start::Response {
                code: code
                    .parse()
                    .map_err(|_| SlpError::Malformed("a status without a code"))?,
                reason: reason.to_owned(),
            }
        }
        Some((method, rest)) => {
            let to = rest
                .strip_suffix(" MSNSLP/1.0")
                .ok_or(SlpError::Malformed("a request line without MSNSLP/1.0"))?;
            if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(SlpError::Malformed("a request without a method"));
            }
            Start::Request {
                method: method.to_owned(),
                to: to.strip_prefix("MSNMSGR:").unwrap_or(to).to_owned(),
            }
        }
        None => return Err(SlpError::Malformed("no start line")),
    };
    let pairs = |t: &str| -> Vec<(String, String)> {
        lines(t)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .take(64)
            .collect()
    };
    Ok(Message {
        start,
        headers: pairs(&head[first.len()..]),
        body: pairs(body),
    })
}

/// Writes a message: start line, the headers given, `Content-Length`
/// (the body with its closing NUL), the body.
pub fn build(start: &Start, headers: &[(&str, &str)], body: &[(&str, &str)]) -> Vec<u8> {
    let mut text = match start {
        Start::Request { method, to } => format!("{method} MSNMSGR:{to} MSNSLP/1.0\r\n"),
        Start::Response { code, reason } => format!("MSNSLP/1.0 {code} {reason}\r\n"),
    };
    let mut body_text: String = body.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    body_text.push_str("\r\n");
    for (k, v) in headers {
        text.push_str(&format!("{k}: {v}\r\n"));
    }
    text.push_str(&format!("Content-Length: {}\r\n\r\n", body_text.len() + 1));
    text.push_str(&body_text);
    let mut bytes = text.into_bytes();
    bytes.push(0);
    bytes
}

/// The file-transfer application's GUID (`EUF-GUID`).
pub const FILE_TRANSFER: &str = "{5D3E02AB-6190-11D3-BBBB-00C04F795683}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invitation_is_read_with_its_headers_and_body() {
        let invite = build(
            &Start::Request {
                method: "INVITE".into(),
                to: "relay@example.com".into(),
            },
            &[
                ("To", "<msnmsgr:relay@example.com>"),
                (
                    "From",
                    "<msnmsgr:bob@example.com;{4059a9be-0000-4000-8000-000000000001}>",
                ),
                (
                    "Via",
                    "MSNSLP/1.0/TLP ;branch={A0D624A6-6C0C-4283-A9E0-BC97B4B46D32}",
                ),
                ("CSeq", "0 "),
                ("Call-ID", "{A8C7E9E5-0000-4000-8000-000000000002}"),
                ("Max-Forwards", "0"),
                ("Content-Type", "application/x-msnmsgr-sessionreqbody"),
            ],
            &[
                ("EUF-GUID", FILE_TRANSFER),
                ("SessionID", "1980589"),
                ("AppID", "2"),
                ("Context", "PgIAAA=="),
            ],
        );
        assert_eq!(invite.last(), Some(&0));
        let m = parse(&invite).unwrap();
        assert_eq!(
            m.start,
            Start::Request {
                method: "INVITE".into(),
                to: "relay@example.com".into()
            }
        );
        assert_eq!(m.address("From").as_deref(), Some("bob@example.com"));
        assert_eq!(
            m.header("call-id"),
            Some("{A8C7E9E5-0000-4000-8000-000000000002}")
        );
        assert_eq!(
            (m.field("SessionID"), m.field("AppID")),
            (Some("1980589"), Some("2"))
        );
        assert_eq!(m.field("EUF-GUID"), Some(FILE_TRANSFER));
        // Content-Length counts the body with its NUL.
        let text = String::from_utf8_lossy(&invite).into_owned();
        let body = text.split_once("\r\n\r\n").unwrap().1;
        let length: usize = m.header("Content-Length").unwrap().parse().unwrap();
        assert_eq!(length, body.len());
    }

    #[test]
    fn responses_and_garbage() {
        let ok = build(
            &Start::Response {
                code: 603,
                reason: "Decline".into(),
            },
            &[("CSeq", "1 ")],
            &[("SessionID", "7")],
        );
        let m = parse(&ok).unwrap();
        assert_eq!(
            m.start,
            Start::Response {
                code: 603,
                reason: "Decline".into()
            }
        );
        for bad in [
            &b""[..],
            b"\xff\xfe",
            b"hello world",
            b"INVITE nobody",
            b"MSNSLP/1.0 OK",
            b"invite MSNMSGR:x MSNSLP/1.0",
        ] {
            assert!(parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(
            parse(&vec![b'a'; MAX_MESSAGE + 1]),
            Err(SlpError::TooLong(MAX_MESSAGE + 1))
        );
    }
}
