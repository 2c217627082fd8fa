//! A small HTTP/1.1 listener for what msnbnc serves besides IRC — the
//! metrics and the files customers send — on hyper: bound before READY
//! (a taken port stops msnbnc), one task per connection, and a client that
//! stalls is dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};

/// Longest one connection may take.
const CONNECTION_LIMIT: Duration = Duration::from_secs(60);

/// Binds `addr` and answers every request with `handle`; returns the
/// address bound (port 0 picks one). `what` names it in logs.
pub async fn serve<F, Fut>(addr: SocketAddr, what: &'static str, handle: F) -> anyhow::Result<SocketAddr>
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for {what} on {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    tracing::info!("{what} listening on {bound}");
    tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("{what}: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let answer = handle(req);
                    async move { Ok::<_, std::convert::Infallible>(answer.await) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let conn = hyper::server::conn::http1::Builder::new().serve_connection(io, service);
                let _ = tokio::time::timeout(CONNECTION_LIMIT, conn).await;
            });
        }
    });
    Ok(bound)
}
