//! `GET /f/<token>/<name>`: a kept file, for whoever has the link (the
//! token is the secret), with the type its bytes say, shown or downloaded
//! as that type allows, and with headers that keep a browser from running
//! anything in it; streamed from disk. Expired or unknown links are 404.

use std::time::Duration;

use futures_util::TryStreamExt;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::sniff::sniff;
use super::FileStore;
use crate::http_listener::{whole, Body};

/// What the download listener needs.
#[derive(Debug, Clone)]
pub struct Downloads {
    pub store: FileStore,
    /// Links stop working after this long.
    pub keep: Duration,
}

pub(super) fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(format!("{text}\n"))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Files are sent in pieces of this much.
const PIECE: usize = 64 * 1024;

fn not_found(text: &str) -> Response<Body> {
    whole(plain(StatusCode::NOT_FOUND, text))
}

/// The file at `path`, ready to read from its start, and its type from
/// its first bytes.
async fn open_typed(path: &std::path::Path) -> std::io::Result<(tokio::fs::File, super::sniff::Served)> {
    let mut file = tokio::fs::File::open(path).await?;
    let mut head = Vec::with_capacity(512);
    (&mut file).take(512).read_to_end(&mut head).await?;
    file.seek(std::io::SeekFrom::Start(0)).await?;
    Ok((file, sniff(&head)))
}

/// The answer to one request: the file streamed from disk, a piece at a
/// time (never read whole, however many download it at once).
pub async fn answer(downloads: &Downloads, method: &Method, path: &str) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        return whole(plain(StatusCode::METHOD_NOT_ALLOWED, "GET only"));
    }
    let parts: Vec<&str> = path.split('/').collect();
    let ["", "f", token, name] = parts.as_slice() else {
        return not_found("no such file");
    };
    let Some((path, len)) = downloads.store.find(token, name, Some(downloads.keep)) else {
        return not_found("no such file (or the link has expired)");
    };
    if len > downloads.store.max_bytes() {
        return not_found("no such file");
    }
    let (file, served) = match open_typed(&path).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!("a kept file could not be read: {e}");
            return whole(plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the file could not be read",
            ));
        }
    };
    let body: Body = match *method {
        Method::HEAD => Full::new(Bytes::new()).map_err(|never| match never {}).boxed(),
        _ => StreamBody::new(ReaderStream::with_capacity(file, PIECE).map_ok(Frame::data)).boxed(),
    };
    let mut r = Response::new(body);
    let headers = r.headers_mut();
    let disposition = match served.inline {
        true => format!("inline; filename=\"{name}\""),
        false => format!("attachment; filename=\"{name}\""),
    };
    for (header, value) in [
        (CONTENT_TYPE, served.content_type),
        (CONTENT_DISPOSITION, disposition),
        (CONTENT_LENGTH, len.to_string()),
        (CACHE_CONTROL, "private, no-store".to_owned()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(header, v);
        }
    }
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(store: &FileStore, name: &str, bytes: &[u8]) -> String {
        let mut u = store.begin(name, bytes.len() as u64).unwrap();
        u.write(0, bytes).unwrap();
        let k = u.finish().unwrap();
        format!("/f/{}/{}", k.token, k.name)
    }

    fn header(r: &Response<Body>, name: &str) -> String {
        r.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    #[tokio::test]
    async fn a_picture_is_shown_and_markup_only_downloaded_with_nothing_to_run() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().to_path_buf(), 1 << 20);
        let d = Downloads {
            store: store.clone(),
            keep: Duration::from_secs(3600),
        };
        let png = kept(&store, "error.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDRrest");
        let r = answer(&d, &Method::GET, &png).await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "content-type"), "image/png");
        assert_eq!(
            header(&r, "content-disposition"),
            "inline; filename=\"error.png\""
        );
        assert_eq!(header(&r, "x-content-type-options"), "nosniff");
        // Named as a picture, but markup: downloaded, as what it is.
        let fake = kept(&store, "cute.png", b"<svg onload=\"alert(1)\"/>");
        let r = answer(&d, &Method::GET, &fake).await;
        assert_eq!(header(&r, "content-type"), "text/html");
        assert_eq!(
            header(&r, "content-disposition"),
            "attachment; filename=\"cute.png\""
        );
        assert!(header(&r, "content-security-policy").contains("sandbox"));
    }

    #[tokio::test]
    async fn a_file_larger_than_a_piece_streams_whole_and_head_sends_no_body() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().to_path_buf(), 1 << 20);
        let d = Downloads {
            store: store.clone(),
            keep: Duration::from_secs(3600),
        };
        let bytes: Vec<u8> = (0..(3 * PIECE + 123)).map(|i| (i % 249) as u8).collect();
        let link = kept(&store, "big.bin", &bytes);
        let r = answer(&d, &Method::GET, &link).await;
        assert_eq!(header(&r, "content-length"), bytes.len().to_string());
        let body = r.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], &bytes[..]);
        let r = answer(&d, &Method::HEAD, &link).await;
        assert_eq!(header(&r, "content-length"), bytes.len().to_string());
        assert!(r.into_body().collect().await.unwrap().to_bytes().is_empty());
    }

    #[tokio::test]
    async fn unknown_expired_or_malformed_links_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().to_path_buf(), 1 << 20);
        let link = kept(&store, "a.txt", b"text");
        let fresh = Downloads {
            store: store.clone(),
            keep: Duration::from_secs(3600),
        };
        assert_eq!(answer(&fresh, &Method::GET, &link).await.status(), StatusCode::OK);
        assert_eq!(
            answer(&fresh, &Method::POST, &link).await.status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        for bad in [
            "/f/0123/a.txt",
            "/f/../../etc/passwd",
            "/",
            "/f/",
            &link.replace("a.txt", "b.txt"),
        ] {
            assert_eq!(
                answer(&fresh, &Method::GET, bad).await.status(),
                StatusCode::NOT_FOUND,
                "{bad}"
            );
        }
        std::thread::sleep(Duration::from_millis(20));
        let expired = Downloads {
            store,
            keep: Duration::from_millis(1),
        };
        assert_eq!(
            answer(&expired, &Method::GET, &link).await.status(),
            StatusCode::NOT_FOUND
        );
    }
}
