//! Just enough HTTPS for Passport and the SOAP services: one request per
//! connection over rustls, with our own trust roots — a GET read up to its
//! headers (Passport 1.4), or a POST read to its end (bounded; with a
//! length, chunked, or up to the close).

use std::sync::Arc;
use std::time::Duration;

use ipc::TrustConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_rustls::TlsConnector;

use super::net::Net;
use crate::msnp::passport::Url;

/// Largest response head we read (status line + headers).
const MAX_HEAD: usize = 64 * 1024;
/// Largest response body we read (an address book of a few thousand
/// contacts is well under this).
pub const MAX_BODY: usize = 8 * 1024 * 1024;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Connect(#[from] super::net::ConnectError),
    #[error("TLS with {host}: {reason}")]
    Tls { host: String, reason: String },
    #[error("trust roots: {0}")]
    Trust(String),
    #[error("refusing to send credentials to {0} over plain HTTP")]
    Plain(String),
    #[error("HTTP exchange with {host} failed: {reason}")]
    Protocol { host: String, reason: String },
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// Empty for a GET (only its head is read).
    pub body: Vec<u8>,
}

/// Builds the TLS client configuration once per session: the Mozilla roots
/// and/or the configured CA file (read inside the sandbox, which allows it).
pub fn tls_connector(trust: &TrustConfig) -> Result<TlsConnector, HttpError> {
    let mut roots = rustls::RootCertStore::empty();
    if trust.webpki_roots {
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    }
    if let Some(path) = &trust.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| HttpError::Trust(format!("cannot read {}: {e}", path.display())))?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| HttpError::Trust(format!("{}: {e}", path.display())))?;
            roots
                .add(cert)
                .map_err(|e| HttpError::Trust(format!("{}: {e}", path.display())))?;
            added += 1;
        }
        if added == 0 {
            return Err(HttpError::Trust(format!(
                "{} holds no certificates",
                path.display()
            )));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::Trust(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

/// One GET with extra headers; the connection is closed afterwards.
pub async fn get(
    net: &mut Net,
    tls: &TlsConnector,
    url: &Url,
    headers: &[(&str, &str)],
    allow_plain: bool,
) -> Result<Response, HttpError> {
    let mut request = format!("GET {} HTTP/1.1\r\nHost: {}\r\n", url.path, url.authority());
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("User-Agent: MSMSGS\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n");
    let request = zeroize::Zeroizing::new(request.into_bytes());
    send(net, tls, url, &request, allow_plain, false).await
}

/// One POST of `body` (XML, for `action`: the SOAPAction, if any); the
/// whole answer is read.
pub async fn post(
    net: &mut Net,
    tls: &TlsConnector,
    url: &Url,
    action: Option<&str>,
    body: &str,
    allow_plain: bool,
) -> Result<Response, HttpError> {
    let mut request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n",
        url.path,
        url.authority(),
        body.len()
    );
    if let Some(action) = action {
        request.push_str(&format!("SOAPAction: \"{action}\"\r\n"));
    }
    request.push_str("User-Agent: MSN Explorer/9.0 (MSN 8.0; TmstmpExt)\r\nConnection: close\r\n\r\n");
    let mut bytes = zeroize::Zeroizing::new(request.into_bytes());
    bytes.extend_from_slice(body.as_bytes());
    send(net, tls, url, &bytes, allow_plain, true).await
}

async fn send(
    net: &mut Net,
    tls: &TlsConnector,
    url: &Url,
    request: &[u8],
    allow_plain: bool,
    whole: bool,
) -> Result<Response, HttpError> {
    let exchange = async {
        let tcp = net.connect(&url.host, url.port).await?;
        if url.https {
            let name = ServerName::try_from(url.host.clone()).map_err(|e| HttpError::Tls {
                host: url.host.clone(),
                reason: e.to_string(),
            })?;
            let stream = tls.connect(name, tcp).await.map_err(|e| HttpError::Tls {
                host: url.host.clone(),
                reason: e.to_string(),
            })?;
            exchange(stream, request, &url.host, whole).await
        } else if allow_plain {
            exchange(tcp, request, &url.host, whole).await
        } else {
            Err(HttpError::Plain(url.authority()))
        }
    };
    tokio::time::timeout(REQUEST_TIMEOUT, exchange)
        .await
        .unwrap_or_else(|_| {
            Err(HttpError::Protocol {
                host: url.host.clone(),
                reason: format!("no answer within {} s", REQUEST_TIMEOUT.as_secs()),
            })
        })
}

async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: &[u8],
    host: &str,
    whole: bool,
) -> Result<Response, HttpError> {
    let fail = |reason: String| HttpError::Protocol {
        host: host.to_owned(),
        reason,
    };
    stream.write_all(request).await.map_err(|e| fail(e.to_string()))?;
    stream.flush().await.map_err(|e| fail(e.to_string()))?;
    let mut received = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = match stream.read(&mut chunk).await {
            Ok(n) => n,
            // A server that closes without TLS close_notify: the end.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !received.is_empty() => 0,
            Err(e) => return Err(fail(e.to_string())),
        };
        if n == 0 {
            break;
        }
        received.extend_from_slice(&chunk[..n]);
        let head_end = received.windows(4).position(|w| w == b"\r\n\r\n");
        match head_end {
            None if received.len() > MAX_HEAD => {
                return Err(fail(format!("response head larger than {MAX_HEAD} bytes")))
            }
            Some(_) if !whole => break,
            Some(end) if complete(&received[..end + 4], &received[end + 4..]) => break,
            _ => {}
        }
        if received.len() > MAX_HEAD + MAX_BODY {
            return Err(fail(format!("response larger than {MAX_BODY} bytes")));
        }
    }
    let mut response = parse_head(&received).map_err(fail)?;
    if whole {
        let end = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 4;
        response.body = body(&response.headers, &received[end..]).map_err(fail)?;
    }
    Ok(response)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
}

/// Whether a response whose head is `head` is whole with `rest` after it
/// (a length reached, or the last chunk): then we need not wait for the
/// server to close.
fn complete(head: &[u8], rest: &[u8]) -> bool {
    let Ok(parsed) = parse_head(head) else {
        return true;
    };
    if let Some(len) = header(&parsed.headers, "content-length").and_then(|l| l.parse::<usize>().ok()) {
        return rest.len() >= len;
    }
    let chunked =
        header(&parsed.headers, "transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
    chunked && rest.ends_with(b"0\r\n\r\n")
}

/// The body after the head: `Content-Length` bytes, the chunks put
/// together, or everything up to the close.
pub fn body(headers: &[(String, String)], rest: &[u8]) -> Result<Vec<u8>, String> {
    if let Some(len) = header(headers, "content-length") {
        let len: usize = len.parse().map_err(|_| format!("bad Content-Length {len:?}"))?;
        return rest
            .get(..len)
            .map(<[u8]>::to_vec)
            .ok_or_else(|| format!("body cut short: {} of {len} bytes", rest.len()));
    }
    let chunked = header(headers, "transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked"));
    if !chunked {
        return Ok(rest.to_vec());
    }
    let mut out = Vec::new();
    let mut rest = rest;
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line without its end")?;
        let size_text =
            std::str::from_utf8(&rest[..line_end]).map_err(|_| "a chunk size that is not text")?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let size =
            usize::from_str_radix(size_text, 16).map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if size > MAX_BODY - out.len().min(MAX_BODY) {
            return Err(format!("body larger than {MAX_BODY} bytes"));
        }
        let data = rest.get(..size).ok_or("a chunk cut short")?;
        out.extend_from_slice(data);
        rest = rest.get(size + 2..).ok_or("a chunk without its line end")?;
    }
}

/// Parses a response head (status line and headers).
pub fn parse_head(head: &[u8]) -> Result<Response, String> {
    let mut storage = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut storage);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => {
            return Err("connection closed before the response head ended".into())
        }
        Err(e) => return Err(format!("malformed response: {e}")),
    }
    let status = response.code.ok_or("no status code")?;
    let headers = response
        .headers
        .iter()
        .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
        .collect();
    Ok(Response {
        status,
        headers,
        body: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_heads_parse_and_garbage_is_an_error() {
        let r =
            parse_head(b"HTTP/1.1 302 Found\r\nLocation: https://x/y\r\nPassporturls: DALogin=z\r\n\r\nbody")
                .unwrap();
        assert_eq!(r.status, 302);
        assert_eq!(r.headers[1], ("Passporturls".to_owned(), "DALogin=z".to_owned()));
        assert!(parse_head(b"HTTP/1.1 200 OK\r\nX: y\r\n").is_err());
        assert!(parse_head(b"\x00\x01garbage\r\n\r\n").is_err());
    }

    #[test]
    fn bodies_are_read_by_length_by_chunks_or_to_the_close() {
        let h = |k: &str, v: &str| vec![(k.to_owned(), v.to_owned())];
        assert_eq!(body(&h("Content-Length", "3"), b"abcdef").unwrap(), b"abc");
        assert!(body(&h("Content-Length", "9"), b"abc").is_err());
        assert!(body(&h("Content-Length", "x"), b"abc").is_err());
        let chunked = h("Transfer-Encoding", "chunked");
        assert_eq!(
            body(&chunked, b"3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(body(&chunked, b"3\r\nab").is_err());
        assert!(body(&chunked, b"zz\r\nab\r\n0\r\n\r\n").is_err());
        assert!(
            body(&chunked, b"fffffffffffff\r\n").is_err(),
            "a size past the bound"
        );
        assert_eq!(body(&[], b"to the close").unwrap(), b"to the close");
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n", b"ok"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", b"ok"));
    }

    #[test]
    fn missing_or_empty_ca_files_are_trust_errors() {
        let missing = TrustConfig {
            webpki_roots: false,
            ca_file: Some("/nonexistent/ca.pem".into()),
        };
        assert!(matches!(tls_connector(&missing), Err(HttpError::Trust(m)) if m.contains("cannot read")));
        let dir = std::env::temp_dir().join(format!("msn-worker-https-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let cfg = TrustConfig {
            webpki_roots: false,
            ca_file: Some(empty),
        };
        assert!(matches!(tls_connector(&cfg), Err(HttpError::Trust(m)) if m.contains("no certificates")));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(tls_connector(&TrustConfig {
            webpki_roots: true,
            ca_file: None
        })
        .is_ok());
    }
}
