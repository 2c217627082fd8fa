//! `[metrics]`: where Prometheus scrapes msnbnc's figures (off unless
//! `listen` is set).

use std::net::SocketAddr;

use serde::Deserialize;

use super::Errors;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(super) struct RawMetrics {
    listen: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsSettings {
    /// `GET /metrics` is served here.
    pub listen: Option<SocketAddr>,
}

pub(super) fn validate(raw: RawMetrics, errors: &mut Errors) -> MetricsSettings {
    let listen = raw.listen.and_then(|a| {
        a.parse()
            .map_err(|_| {
                errors.add(
                    "metrics.listen",
                    format!("{a:?} is not an address:port like 127.0.0.1:9464"),
                );
            })
            .ok()
    });
    MetricsSettings { listen }
}
