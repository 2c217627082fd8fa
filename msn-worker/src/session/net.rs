//! Reaching servers from inside the sandbox: names are resolved with an
//! asynchronous resolver in our own single-threaded runtime (the blocking
//! system resolver would need a thread, which the sandbox forbids).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::Resolver;
use tokio::net::TcpStream;

pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Why a connection could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot resolve {host}: {reason}")]
    Resolve { host: String, reason: String },
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
}

/// Resolves lazily: a configuration of IP literals never reads
/// `/etc/resolv.conf` at all.
#[derive(Default)]
pub struct Net {
    resolver: Option<Resolver<TokioConnectionProvider>>,
}

impl Net {
    async fn resolve(&mut self, host: &str) -> Result<Vec<IpAddr>, ConnectError> {
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            return Ok(vec![ip]);
        }
        let fail = |reason: String| ConnectError::Resolve {
            host: host.to_owned(),
            reason,
        };
        if self.resolver.is_none() {
            let builder =
                Resolver::builder_tokio().map_err(|e| fail(format!("resolver configuration: {e}")))?;
            self.resolver = Some(builder.build());
        }
        let Some(resolver) = &self.resolver else {
            return Err(fail("no resolver".into()));
        };
        let lookup = tokio::time::timeout(CONNECT_TIMEOUT, resolver.lookup_ip(host))
            .await
            .map_err(|_| fail("timed out".into()))?
            .map_err(|e| fail(e.to_string()))?;
        let ips: Vec<IpAddr> = lookup.iter().collect();
        if ips.is_empty() {
            return Err(fail("no addresses".into()));
        }
        Ok(ips)
    }

    /// Connects to the first address of `host` that answers.
    pub async fn connect(&mut self, host: &str, port: u16) -> Result<TcpStream, ConnectError> {
        let mut last = String::from("no address tried");
        for ip in self.resolve(host).await? {
            let addr = SocketAddr::new(ip, port);
            match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(stream);
                }
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = format!("timed out after {} s", CONNECT_TIMEOUT.as_secs()),
            }
        }
        Err(ConnectError::Connect {
            addr: format!("{host}:{port}"),
            reason: last,
        })
    }
}
