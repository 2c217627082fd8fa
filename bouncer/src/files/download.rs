//! `GET /f/<token>/<name>`: a kept file, for whoever has the link (the
//! token is the secret), with the type its bytes say, shown or downloaded
//! as that type allows, and with headers that keep a browser from running
//! anything in it. Expired or unknown links are 404.

use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};

use super::sniff::sniff;
use super::FileStore;

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

/// The answer to one request.
pub async fn answer(downloads: &Downloads, method: &Method, path: &str) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "GET only");
    }
    let parts: Vec<&str> = path.split('/').collect();
    let ["", "f", token, name] = parts.as_slice() else {
        return plain(StatusCode::NOT_FOUND, "no such file");
    };
    let Some((file, len)) = downloads.store.find(token, name, Some(downloads.keep)) else {
        return plain(StatusCode::NOT_FOUND, "no such file (or the link has expired)");
    };
    if len > downloads.store.max_bytes() {
        return plain(StatusCode::NOT_FOUND, "no such file");
    }
    let read = tokio::task::spawn_blocking(move || std::fs::read(file)).await;
    let bytes = match read.map_err(std::io::Error::other).and_then(|r| r) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("a kept file could not be read: {e}");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "the file could not be read");
        }
    };
    let served = sniff(&bytes[..bytes.len().min(512)]);
    let body = match *method {
        Method::HEAD => Bytes::new(),
        _ => Bytes::from(bytes),
    };
    let mut r = Response::new(Full::new(body));
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

    fn header(r: &Response<Full<Bytes>>, name: &str) -> String {
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
