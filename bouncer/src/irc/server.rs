//! The IRC listeners: accept, set TCP_NODELAY, admit (a bounded number
//! still logging in), hand each connection to its own task.

use std::net::SocketAddr;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::admission::{Admission, Ticket};
use super::auth::Auth;
use super::conn::{self, ClientEvent};

/// Binds every configured address; fails (before READY) if one cannot be.
pub async fn listen(addrs: &[SocketAddr], what: &str) -> anyhow::Result<Vec<TcpListener>> {
    let mut out = Vec::new();
    for a in addrs {
        let l = TcpListener::bind(a)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {a}: {e}"))?;
        tracing::info!("{what} listening on {}", l.local_addr()?);
        out.push(l);
    }
    Ok(out)
}

/// How long a client has to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// What every accepted connection is served with.
#[derive(Clone)]
pub struct Doors {
    pub server: String,
    pub auth: Auth,
    pub hub: mpsc::Sender<ClientEvent>,
    /// Places for connections still logging in.
    pub admission: Admission,
}

impl Doors {
    /// A place for a new connection, or (having said why to a plain-text
    /// one) `None`.
    async fn admit(&self, stream: &mut TcpStream, addr: SocketAddr, plain: bool) -> Option<Ticket> {
        match self.admission.admit(addr.ip()) {
            Ok(ticket) => Some(ticket),
            Err(refused) => {
                tracing::debug!(%addr, ?refused, "connection refused: too many still logging in");
                if plain {
                    let line = format!("{}\r\n", refused.error_line());
                    let _ = tokio::time::timeout(WRITE_TIMEOUT, stream.write_all(line.as_bytes())).await;
                }
                None
            }
        }
    }
}

/// How long a refused client gets to take its one line.
const WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Accepts TLS connections with whatever certificate is current in `tls`
/// (a reload swaps it for new connections).
pub fn spawn_accept_tls(
    listener: TcpListener,
    tls: tokio::sync::watch::Receiver<tokio_rustls::TlsAcceptor>,
    doors: Doors,
) {
    tokio::spawn(async move {
        loop {
            let Some((mut stream, addr)) = accept(&listener).await else {
                continue;
            };
            let acceptor = tls.borrow().clone();
            let doors = doors.clone();
            tokio::spawn(async move {
                let Some(ticket) = doors.admit(&mut stream, addr, false).await else {
                    return;
                };
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                    Ok(Ok(tls_stream)) => {
                        let cert = super::tls::client_fingerprint(tls_stream.get_ref().1);
                        conn::serve(tls_stream, addr, cert, ticket, doors).await
                    }
                    Ok(Err(e)) => tracing::debug!(%addr, "TLS handshake failed: {e}"),
                    Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                }
            });
        }
    });
}

pub fn spawn_accept(listener: TcpListener, doors: Doors) {
    tokio::spawn(async move {
        loop {
            let Some((mut stream, addr)) = accept(&listener).await else {
                continue;
            };
            let doors = doors.clone();
            tokio::spawn(async move {
                let Some(ticket) = doors.admit(&mut stream, addr, true).await else {
                    return;
                };
                conn::serve(stream, addr, None, ticket, doors).await
            });
        }
    });
}

/// The next connection (with no Nagle delays: interactive traffic); after
/// a failed accept (out of descriptors, say) a short pause.
async fn accept(listener: &TcpListener) -> Option<(TcpStream, SocketAddr)> {
    match listener.accept().await {
        Ok((stream, addr)) => {
            let _ = stream.set_nodelay(true);
            Some((stream, addr))
        }
        Err(e) => {
            tracing::warn!("accept failed: {e}");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            None
        }
    }
}
