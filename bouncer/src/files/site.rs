//! The files listener (`[files] listen`): `GET /f/<token>/<name>`
//! downloads (`download.rs`), `POST /upload` takes staff uploads
//! (`upload.rs`); anything else is 404.

use std::sync::Arc;

use hyper::StatusCode;

use super::download::{self, plain, Downloads};
use super::upload::{self, Uploads};
use crate::http_listener::{self, Options};

/// Serves both routes on `listener`; returns the address bound.
pub fn serve(
    listener: tokio::net::TcpListener,
    options: Options,
    downloads: Downloads,
    uploads: Uploads,
) -> anyhow::Result<std::net::SocketAddr> {
    let both = Arc::new((downloads, uploads));
    http_listener::spawn(listener, "files", options, move |req, peer| {
        let both = Arc::clone(&both);
        async move {
            let (downloads, uploads) = &*both;
            match req.uri().path() {
                "/upload" => http_listener::whole(upload::answer(uploads, req, peer.ip()).await),
                p if p.starts_with("/f/") => download::answer(downloads, req.method(), p).await,
                _ => http_listener::whole(plain(StatusCode::NOT_FOUND, "nothing here")),
            }
        }
    })
}
