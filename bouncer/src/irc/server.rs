//! The IRC listeners: accept, set TCP_NODELAY, hand each connection to its
//! own task.

use std::net::SocketAddr;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::auth::Auth;
use super::conn::{self, ClientEvent};

/// Binds every configured address; fails (before READY) if one cannot be.
pub async fn listen(addrs: &[SocketAddr]) -> anyhow::Result<Vec<TcpListener>> {
    let mut out = Vec::new();
    for a in addrs {
        let l = TcpListener::bind(a)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {a}: {e}"))?;
        tracing::info!("IRC listening on {}", l.local_addr()?);
        out.push(l);
    }
    Ok(out)
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
