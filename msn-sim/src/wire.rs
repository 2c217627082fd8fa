//! The simulator's own reading and writing of MSNP, written from the
//! protocol reference and deliberately sharing no code with msn-worker, so
//! that a misreading on either side shows up as a disagreement in tests.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc::UnboundedReceiver;

/// A connection's writer: sends what arrives until an empty message (the
/// signal to close the socket) or the end of the channel.
pub async fn write_all_until_empty(mut wr: OwnedWriteHalf, mut rx: UnboundedReceiver<Vec<u8>>) {
    while let Some(bytes) = rx.recv().await {
        if bytes.is_empty() || wr.write_all(&bytes).await.is_err() {
            break;
        }
    }
    let _ = wr.shutdown().await;
}

/// What a client sent: the command, its parameters, and a payload for the
/// client→server payload commands (`MSG`, `QRY`, `UUX`; from MSNP13
/// `ADL`, `RML`, `FQY`, `UUN`, `UUM`).
#[derive(Debug, Clone)]
pub struct Line {
    pub cmd: String,
    pub params: Vec<String>,
    pub payload: Vec<u8>,
    /// The line was terminated by a bare LF (tolerated, like the servers).
    pub raw: String,
}

impl Line {
    pub fn p(&self, i: usize) -> &str {
        self.params.get(i).map(String::as_str).unwrap_or("")
    }
}

pub enum Read {
    Line(Line),
    /// The client broke framing (bad length, oversize payload, EOF).
    Closed,
}

pub const MAX_CLIENT_PAYLOAD: usize = 64 * 1024;

pub async fn read_line(r: &mut BufReader<OwnedReadHalf>) -> Read {
    let mut raw = Vec::new();
    match r.read_until(b'\n', &mut raw).await {
        Ok(0) | Err(_) => return Read::Closed,
        Ok(_) => {}
    }
    if raw.len() > 16 * 1024 {
        return Read::Closed;
    }
    let text = String::from_utf8_lossy(&raw)
        .trim_end_matches(['\r', '\n'])
        .to_owned();
    let mut parts = text.split(' ').filter(|p| !p.is_empty()).map(str::to_owned);
    let cmd = parts.next().unwrap_or_default();
    let params: Vec<String> = parts.collect();
    let mut payload = Vec::new();
    if matches!(
        cmd.as_str(),
        "MSG" | "QRY" | "UUX" | "ADL" | "RML" | "FQY" | "UUN" | "UUM"
    ) {
        let Some(len) = params.last().and_then(|l| l.parse::<usize>().ok()) else {
            return Read::Closed;
        };
        if len > MAX_CLIENT_PAYLOAD {
            return Read::Closed;
        }
        payload = vec![0; len];
        if r.read_exact(&mut payload).await.is_err() {
            return Read::Closed;
        }
    }
    Read::Line(Line {
        cmd,
        params,
        payload,
        raw: text,
    })
}

/// Percent-encoding as Escargot does it: only `%`, space, CR and LF.
pub fn quote(s: &str) -> String {
    s.replace('%', "%25")
        .replace(' ', "%20")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Decodes every `%XX`, leaving malformed escapes alone.
pub fn unquote(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| char::from(c).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a MIME-ish payload into (headers, body) the way the switchboard
/// does: CR LF header lines only (LF-only payloads are invalid).
/// Header names (lower-cased) and values, in order.
pub type Headers = Vec<(String, String)>;

pub fn split_mime(payload: &[u8]) -> Option<(Headers, Vec<u8>)> {
    let pos = payload.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&payload[..pos]);
    let headers = head
        .split("\r\n")
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        })
        .collect();
    Some((headers, payload[pos + 4..].to_vec()))
}

pub fn payload_line(prefix: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("{prefix} {}\r\n", payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_is_minimal_and_unquoting_complete() {
        assert_eq!(quote("Bob 100% ✓"), "Bob%20100%25%20✓");
        assert_eq!(unquote("Bob%20100%25%20%E2%9C%93"), "Bob 100% ✓");
        assert_eq!(unquote("50%"), "50%");
        assert_eq!(unquote("%4"), "%4");
        assert_eq!(unquote("%✓✓"), "%✓✓");
    }

    #[test]
    fn mime_needs_crlf_headers() {
        let (h, b) = split_mime(b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhi").unwrap();
        assert_eq!(h[1], ("content-type".to_owned(), "text/plain".to_owned()));
        assert_eq!(b, b"hi");
        assert!(split_mime(b"Content-Type: text/plain\n\nhi").is_none());
    }
}
