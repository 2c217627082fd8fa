//! Just enough HTTPS for Passport 1.4: one GET per connection over rustls,
//! with our own trust roots, reading the status line and headers only.

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
    let exchange = async {
        let tcp = net.connect(&url.host, url.port).await?;
        let mut request = format!("GET {} HTTP/1.1\r\nHost: {}\r\n", url.path, url.authority());
        for (k, v) in headers {
            request.push_str(&format!("{k}: {v}\r\n"));
        }
        request.push_str("User-Agent: MSMSGS\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n");
        let request = zeroize::Zeroizing::new(request);
        if url.https {
            let name = ServerName::try_from(url.host.clone()).map_err(|e| HttpError::Tls {
                host: url.host.clone(),
                reason: e.to_string(),
            })?;
            let stream = tls.connect(name, tcp).await.map_err(|e| HttpError::Tls {
                host: url.host.clone(),
                reason: e.to_string(),
            })?;
            exchange(stream, &request, &url.host).await
        } else if allow_plain {
            exchange(tcp, &request, &url.host).await
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
    request: &str,
    host: &str,
) -> Result<Response, HttpError> {
    let fail = |reason: String| HttpError::Protocol {
        host: host.to_owned(),
        reason,
    };
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| fail(e.to_string()))?;
    stream.flush().await.map_err(|e| fail(e.to_string()))?;
    let mut head = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).await.map_err(|e| fail(e.to_string()))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
        if head.len() > MAX_HEAD {
            return Err(fail(format!("response head larger than {MAX_HEAD} bytes")));
        }
    }
    parse_head(&head).map_err(fail)
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
    Ok(Response { status, headers })
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
