//! The IRC listeners: accept, set TCP_NODELAY, hand each connection to its
//! own task.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

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

/// Accepts TLS connections with whatever certificate is current in `tls`
/// (a reload swaps it for new connections).
pub fn spawn_accept_tls(
    listener: TcpListener,
    tls: tokio::sync::watch::Receiver<tokio_rustls::TlsAcceptor>,
    server: String,
    auth: Auth,
    hub: mpsc::Sender<ClientEvent>,
) {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let acceptor = tls.borrow().clone();
                    let (server, auth, hub) = (server.clone(), auth.clone(), hub.clone());
                    tokio::spawn(async move {
                        match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                            Ok(Ok(tls_stream)) => {
                                let cert = super::tls::client_fingerprint(tls_stream.get_ref().1);
                                conn::serve(tls_stream, addr, cert, server, auth, hub).await
                            }
                            Ok(Err(e)) => tracing::debug!(%addr, "TLS handshake failed: {e}"),
                            Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
}

pub fn spawn_accept(listener: TcpListener, server: String, auth: Auth, hub: mpsc::Sender<ClientEvent>) {
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((stream, addr)) => {
                    // Interactive traffic: no Nagle delays.
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(conn::serve(
                        stream,
                        addr,
                        None,
                        server.clone(),
                        auth.clone(),
                        hub.clone(),
                    ));
                }
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        }
    });
}
