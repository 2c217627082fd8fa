//! Passport and the web services over HTTPS, with a certificate authority
//! made at start-up: the nexus (`/rdr/pprdr.asp`, also `/nexus-mock`) and
//! the Passport 1.4 login server (`/login`, and `/login-redirect` which
//! answers 302 to `/login`); for MSNP13+ the RST service (`/RST.srf`) and
//! the address book and sharing services (`/abservice/…`).

use std::sync::{Arc, Mutex};

use anyhow::Context;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::ns::issue_ticket;
use crate::state::State;
use crate::wire::unquote;

pub struct Tls {
    pub ca_pem: String,
    pub acceptor: TlsAcceptor,
}

/// A fresh CA and a server certificate for 127.0.0.1 and localhost.
pub fn make_tls() -> anyhow::Result<Tls> {
    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "msn-sim test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let key = rcgen::KeyPair::generate()?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "msn-sim");
    let cert = params.signed_by(&key, &issuer)?;

    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .context("server certificate")?;
    Ok(Tls {
        ca_pem: ca_cert.pem(),
        acceptor: TlsAcceptor::from(Arc::new(config)),
    })
}

#[derive(Clone)]
pub struct Options {
    pub port: u16,
    /// Microsoft sent `DALogin` without a scheme; Escargot with one.
    pub dalogin_without_scheme: bool,
}

pub async fn serve(listener: TcpListener, acceptor: TlsAcceptor, state: Arc<Mutex<State>>, options: Options) {
    while let Ok((tcp, _)) = listener.accept().await {
        let (acceptor, state, options) = (acceptor.clone(), state.clone(), options.clone());
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(tcp).await else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // The head, then as much body as Content-Length says.
            let complete = |r: &[u8]| {
                let Some(end) = r.windows(4).position(|w| w == b"\r\n\r\n") else {
                    return false;
                };
                let head = String::from_utf8_lossy(&r[..end]).to_ascii_lowercase();
                let len = head
                    .split("\r\n")
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                r.len() >= end + 4 + len
            };
            while !complete(&request) && request.len() < 1024 * 1024 {
                match tls.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => request.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&request);
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let response = match head.split(' ').nth(1).unwrap_or("") {
                "/RST.srf" => state
                    .lock()
                    .map(|mut s| crate::sso::rst(&mut s, body))
                    .unwrap_or_default(),
                "/abservice/abservice.asmx" | "/abservice/SharingService.asmx" => state
                    .lock()
                    .map(|mut s| crate::soap::address_book(&mut s, body))
                    .unwrap_or_default(),
                "/rsi/rsi.asmx" => state
                    .lock()
                    .map(|mut s| crate::oim::rsi(&mut s, body))
                    .unwrap_or_default(),
                "/OimWS/oim.asmx" => state
                    .lock()
                    .map(|mut s| crate::oim::store(&mut s, body))
                    .unwrap_or_default(),
                _ => respond(head, &state, &options),
            };
            let _ = tls.write_all(response.as_bytes()).await;
            let _ = tls.shutdown().await;
        });
    }
}

fn respond(request: &str, state: &Arc<Mutex<State>>, options: &Options) -> String {
    let mut lines = request.split("\r\n");
    let first = lines.next().unwrap_or("");
    let path = first.split(' ').nth(1).unwrap_or("");
    let header = |name: &str| {
        request
            .split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
    };
    let ok =
        |extra: &str| format!("HTTP/1.1 200 OK\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n");
    match path {
        "/rdr/pprdr.asp" | "/nexus-mock" => {
            let login = if options.dalogin_without_scheme {
                format!("127.0.0.1:{}/login", options.port)
            } else {
                format!("https://127.0.0.1:{}/login", options.port)
            };
            // Escargot's proxy lower-cases the header name like this.
            ok(&format!("Passporturls: DARealm=Passport.Net,DALogin={login},DAReg=x,Properties=y,ConfigVersion=15\r\n"))
        }
        "/login-redirect" => format!(
            "HTTP/1.1 302 Found\r\nLocation: https://127.0.0.1:{}/login\r\nAuthentication-Info: Passport1.4 da-status=redir\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            options.port
        ),
        "/login" => {
            let auth = header("Authorization").unwrap_or_default();
            let fields = auth.strip_prefix("Passport1.4 ").unwrap_or("");
            let field = |name: &str| {
                fields
                    .split(',')
                    .filter_map(|f| f.split_once('='))
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| unquote(v))
            };
            let ticket = match (field("sign-in"), field("pwd")) {
                (Some(user), Some(pwd)) => state.lock().ok().and_then(|mut s| issue_ticket(&mut s, &user, &pwd)),
                _ => None,
            };
            match ticket {
                Some(t) => ok(&format!(
                    "Authentication-Info: Passport1.4 da-status=success,tname=MSPAuth,tname=MSPProf,tname=MSPSec,from-PP='{t}',ru=http://messenger.msn.com\r\n"
                )),
                None => "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Passport1.4 da-status=failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
            }
        }
        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_owned(),
    }
}
