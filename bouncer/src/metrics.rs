//! Figures for machines: Prometheus (OpenMetrics) text on
//! `[metrics] listen`, `GET /metrics`. The hub updates the counters and
//! gauges as things happen (atomics: scraping never touches the hub); the
//! store's size is read from its files at each scrape.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub customer_lines: Counter,
    pub staff_lines: Counter,
    pub conversations: Family<StateLabel, Gauge>,
    /// How long customers waited for an answer (each wait that an answer
    /// ended), seconds.
    pub waiting: Histogram,
    /// How long until a conversation's first staff answer, seconds.
    pub first_response: Histogram,
    pub worker_restarts: Counter,
    pub worker_signed_in: Gauge,
    /// 1 for the worker's state now, 0 for the others.
    pub worker_state: Family<StateLabel, Gauge>,
    pub attached_clients: Gauge,
    pub replays: Counter,
    store_bytes: Gauge,
    store_path: PathBuf,
}

/// Waits from 5 s to about 6 h.
fn wait_buckets() -> Histogram {
    Histogram::new(exponential_buckets(5.0, 2.0, 12))
}

impl Metrics {
    pub fn new(store_path: PathBuf) -> Metrics {
        let mut m = Metrics {
            customer_lines: Counter::default(),
            staff_lines: Counter::default(),
            conversations: Family::default(),
            waiting: wait_buckets(),
            first_response: wait_buckets(),
            worker_restarts: Counter::default(),
            worker_signed_in: Gauge::default(),
            worker_state: Family::default(),
            attached_clients: Gauge::default(),
            replays: Counter::default(),
            store_bytes: Gauge::default(),
            store_path,
            registry: Registry::with_prefix("msnbnc"),
        };
        m.registry.register(
            "customer_lines",
            "Lines customers wrote",
            m.customer_lines.clone(),
        );
        m.registry.register(
            "staff_lines",
            "Lines staff wrote to customers",
            m.staff_lines.clone(),
        );
        m.registry.register(
            "conversations",
            "Conversations by desk state (new, open, waiting; resolved ones are not held)",
            m.conversations.clone(),
        );
        m.registry.register_with_unit(
            "customer_wait",
            "How long customers waited for an answer",
            Unit::Seconds,
            m.waiting.clone(),
        );
        m.registry.register_with_unit(
            "first_response",
            "How long until a conversation's first staff answer",
            Unit::Seconds,
            m.first_response.clone(),
        );
        m.registry.register(
            "worker_restarts",
            "MSN worker restarts",
            m.worker_restarts.clone(),
        );
        m.registry.register(
            "worker_signed_in",
            "Whether the MSN worker is signed in (1) or not (0)",
            m.worker_signed_in.clone(),
        );
        m.registry.register(
            "worker_state",
            "The MSN worker's state (starting, logging_in, signed_in, restarting, held, stopped): 1 for the current one",
            m.worker_state.clone(),
        );
        m.registry.register(
            "attached_clients",
            "IRC clients attached",
            m.attached_clients.clone(),
        );
        m.registry
            .register("replays", "Replays of missed lines started", m.replays.clone());
        m.registry.register_with_unit(
            "store_size",
            "The history store's files (database and write-ahead log)",
            Unit::Bytes,
            m.store_bytes.clone(),
        );
        m
    }

    /// The exposition text, as of now.
    pub fn render(&self) -> String {
        let mut bytes = 0u64;
        for suffix in ["", "-wal"] {
            let mut path = self.store_path.clone().into_os_string();
            path.push(suffix);
            bytes += std::fs::metadata(&path).map_or(0, |m| m.len());
        }
        self.store_bytes.set(i64::try_from(bytes).unwrap_or(i64::MAX));
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Milliseconds as seconds, for histograms.
pub fn seconds(ms: i64) -> f64 {
    ms.max(0) as f64 / 1000.0
}

const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

fn answer(metrics: &Metrics, req: &Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let (status, body, kind) = match (req.method(), req.uri().path()) {
        (&hyper::Method::GET, "/metrics") => (StatusCode::OK, metrics.render(), CONTENT_TYPE),
        (_, "/metrics") => (StatusCode::METHOD_NOT_ALLOWED, "GET only\n".into(), "text/plain"),
        _ => (StatusCode::NOT_FOUND, "see /metrics\n".into(), "text/plain"),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(kind) {
        response.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}

/// Binds `addr` (before READY: a taken port stops msnbnc) and serves
/// `/metrics` from there on.
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<()> {
    crate::http_listener::serve(addr, "metrics", move |req, _| {
        let response = crate::http_listener::whole(answer(&metrics, &req));
        async move { response }
    })
    .await?;
    Ok(())
}
