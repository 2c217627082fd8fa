//! A small HTTP/1.1 listener for what msnbnc serves besides IRC — the
//! metrics, and the files customers and staff exchange — on hyper: bound
//! before READY (a taken port stops msnbnc), one task per connection,
//! optionally over TLS with the IRC certificate (reloaded with it), and a
//! connection that outlasts its listener's limit is dropped.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// How long a client has to send a request's head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// What an answer carries: whole (most) or streamed (a file).
pub type Body = BoxBody<Bytes, std::io::Error>;

/// A whole answer as a [`Body`].
pub fn whole(r: Response<Full<Bytes>>) -> Response<Body> {
    r.map(|b| b.map_err(|never| match never {}).boxed())
}

/// How a listener serves.
#[derive(Clone)]
pub struct Options {
    /// Longest one connection may take (an upload is one request).
    pub limit: Duration,
    /// HTTPS with the current IRC certificate, if set.
    pub tls: Option<watch::Receiver<TlsAcceptor>>,
    /// Connections open at once; more are closed as they come.
    pub max_connections: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limit: Duration::from_secs(60),
            tls: None,
            max_connections: 64,
        }
    }
}

/// Binds `addr`; `what` names it in errors.
pub async fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen for {what} on {addr}: {e}"))
}

/// Binds `addr` and answers every request with `handle` (plain HTTP, 60 s
/// per connection); returns the address bound (port 0 picks one).
pub async fn serve<F, Fut>(addr: SocketAddr, what: &'static str, handle: F) -> anyhow::Result<SocketAddr>
where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let listener = bind(addr, what).await?;
    spawn(listener, what, Options::default(), handle)
}

/// Answers every request on `listener` with `handle`, which also gets
/// the peer's address; returns the address bound.
pub fn spawn<F, Fut>(
    listener: TcpListener,
    what: &'static str,
    options: Options,
    handle: F,
) -> anyhow::Result<SocketAddr>
where
    F: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let bound = listener.local_addr()?;
    let scheme = if options.tls.is_some() { "HTTPS" } else { "HTTP" };
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(options.max_connections));
    tracing::info!("{what} listening on {bound} ({scheme})");
    tokio::spawn(async move {
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("{what}: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(slot) = std::sync::Arc::clone(&slots).try_acquire_owned() else {
                tracing::debug!(
                    "{what}: {} connections open; closed one from {peer}",
                    options.max_connections
                );
                continue;
            };
            let (handle, options) = (handle.clone(), options.clone());
            tokio::spawn(async move {
                let _slot = slot;
                let service = hyper::service::service_fn(move |req| {
                    let answer = handle(req, peer);
                    async move { Ok::<_, std::convert::Infallible>(answer.await) }
                });
                let served = async {
                    match &options.tls {
                        None => connection(stream, service).await,
                        Some(tls) => {
                            let acceptor = tls.borrow().clone();
                            match acceptor.accept(stream).await {
                                Ok(s) => connection(s, service).await,
                                Err(e) => tracing::debug!("{what}: TLS handshake with {peer} failed: {e}"),
                            }
                        }
                    }
                };
                let _ = tokio::time::timeout(options.limit, served).await;
            });
        }
    });
    Ok(bound)
}

async fn connection<S, Svc>(stream: S, service: Svc)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    Svc: hyper::service::Service<
        Request<Incoming>,
        Response = Response<Body>,
        Error = std::convert::Infallible,
    >,
    Svc::Future: Send + 'static,
{
    let io = hyper_util::rt::TokioIo::new(stream);
    // A client that does not finish its request's head soon is dropped.
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(io, service)
        .await;
}
