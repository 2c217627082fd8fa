//! `POST /upload`: a staff member's file, for a customer (the
//! `soju.im/FILEHOST` convention that Goguma, gamja, Halloy and Senpai
//! follow; `curl -u alice --data-binary @invoice.pdf -H
//! 'Content-Disposition: attachment; filename="invoice.pdf"' URL` from
//! anywhere else). HTTP Basic with the staff member's IRC login (wrong
//! ones answered late, as for IRC); the body is the file, its length
//! given and within `[files] max_bytes`, written as it comes; the answer
//! is `201 Created` with the file's link in `Location`.

use std::net::IpAddr;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{
    HeaderValue, AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION,
};
use hyper::{Request, Response, StatusCode};

use super::download::plain;
use super::{FileStore, Upload};
use crate::irc::auth::Auth;

/// What the upload route needs.
#[derive(Clone)]
pub struct Uploads {
    pub store: FileStore,
    pub auth: Auth,
    /// What links start with.
    pub public_url: String,
    /// Whether uploads reach us encrypted (`[files] tls`, or TLS in front
    /// of us: an `https://` public URL). If not, only from this machine:
    /// an upload carries the staff member's IRC password.
    pub encrypted: bool,
}

/// Data is written in pieces of about this much.
const PIECE: usize = 64 * 1024;

/// The name in `Content-Disposition` (`filename*=UTF-8''…` or
/// `filename="…"`), if any.
pub fn disposition_name(value: &str) -> Option<String> {
    let params = value.split(';').map(str::trim);
    let mut plain_name = None;
    for p in params {
        let Some((key, v)) = p.split_once('=') else {
            continue;
        };
        match key.trim().to_ascii_lowercase().as_str() {
            "filename*" => {
                let encoded = v.trim().split_once("''").map_or(v, |(_, e)| e);
                return Some(percent_decode(encoded));
            }
            "filename" => plain_name = Some(v.trim().trim_matches('"').to_owned()),
            _ => {}
        }
    }
    plain_name
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `user:password` from an HTTP Basic `Authorization` value.
pub fn basic(value: &str) -> Option<(String, String)> {
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(B64.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn header(req: &Request<Incoming>, name: hyper::header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn with_cors(mut r: Response<Full<Bytes>>) -> Response<Full<Bytes>> {
    let h = r.headers_mut();
    for (name, value) in [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-methods", "POST, OPTIONS"),
        (
            "access-control-allow-headers",
            "Authorization, Content-Type, Content-Disposition",
        ),
        ("access-control-expose-headers", "Location"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    r
}

/// The answer to a request on `/upload`.
pub async fn answer(uploads: &Uploads, req: Request<Incoming>, ip: IpAddr) -> Response<Full<Bytes>> {
    with_cors(match *req.method() {
        hyper::Method::OPTIONS => plain(StatusCode::NO_CONTENT, ""),
        hyper::Method::POST => post(uploads, req, ip).await,
        _ => plain(StatusCode::METHOD_NOT_ALLOWED, "POST a file here"),
    })
}

async fn post(uploads: &Uploads, req: Request<Incoming>, ip: IpAddr) -> Response<Full<Bytes>> {
    if !uploads.encrypted && !ip.is_loopback() {
        return plain(
            StatusCode::FORBIDDEN,
            "uploads carry your IRC password: they are taken over HTTPS only ([files] tls, or TLS in front with an https:// public_url)",
        );
    }
    let Some((user, password)) = header(&req, AUTHORIZATION).and_then(basic) else {
        return unauthorized("log in with your IRC account (HTTP Basic)");
    };
    let Some(staff) = uploads.auth.verify(ip, &user, password).await else {
        return unauthorized("wrong account or password");
    };
    if header(&req, CONTENT_TYPE).is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/")) {
        return plain(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the file itself as the body, not a form",
        );
    }
    let Some(size) = header(&req, CONTENT_LENGTH).and_then(|l| l.parse::<u64>().ok()) else {
        return plain(
            StatusCode::LENGTH_REQUIRED,
            "the file's length (Content-Length) is needed",
        );
    };
    let max = uploads.store.max_bytes();
    if size > max {
        let text = format!(
            "{} is over the {} limit ([files] max_bytes)",
            super::human_size(size),
            super::human_size(max)
        );
        return plain(StatusCode::PAYLOAD_TOO_LARGE, &text);
    }
    let name = header(&req, CONTENT_DISPOSITION)
        .and_then(disposition_name)
        .unwrap_or_else(|| "upload".to_owned());
    let store = uploads.store.clone();
    let begun = tokio::task::spawn_blocking(move || store.begin(&name, size)).await;
    let upload = match begun
        .map_err(|e| super::FileError::Io(e.to_string()))
        .and_then(|r| r)
    {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!("an upload could not be started: {e}");
            return plain(
                StatusCode::INSUFFICIENT_STORAGE,
                &format!("the file cannot be kept: {e}"),
            );
        }
    };
    match receive(upload, req.into_body()).await {
        Ok(kept) => {
            tracing::info!(user = %staff.name, bytes = kept.size, "a file was uploaded");
            let link = format!("{}/f/{}/{}", uploads.public_url, kept.token, kept.name);
            let mut r = plain(StatusCode::CREATED, &link);
            if let Ok(v) = HeaderValue::from_str(&link) {
                r.headers_mut().insert(LOCATION, v);
            }
            r
        }
        Err((status, why)) => plain(status, &why),
    }
}

fn unauthorized(text: &str) -> Response<Full<Bytes>> {
    let mut r = plain(StatusCode::UNAUTHORIZED, text);
    r.headers_mut().insert(
        hyper::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"msnbnc\", charset=\"UTF-8\""),
    );
    r
}

/// Writes the body into `upload` as it comes; nothing is left of it if
/// it is not whole.
async fn receive(mut upload: Upload, mut body: Incoming) -> Result<super::Kept, (StatusCode, String)> {
    let mut buffer = Vec::with_capacity(PIECE);
    let mut offset = 0u64;
    loop {
        let frame = body.frame().await;
        let done = match frame {
            None => true,
            Some(Ok(f)) => {
                if let Ok(data) = f.into_data() {
                    buffer.extend_from_slice(&data);
                }
                false
            }
            Some(Err(e)) => {
                upload.abandon();
                return Err((StatusCode::BAD_REQUEST, format!("the upload broke off: {e}")));
            }
        };
        if buffer.len() >= PIECE || (done && !buffer.is_empty()) {
            let piece = std::mem::take(&mut buffer);
            let len = piece.len() as u64;
            let written = tokio::task::spawn_blocking(move || {
                let r = upload.write(offset, &piece);
                (upload, r)
            })
            .await;
            let Ok((back, result)) = written else {
                return Err((StatusCode::INTERNAL_SERVER_ERROR, "the upload failed".to_owned()));
            };
            upload = back;
            if let Err(e) = result {
                upload.abandon();
                return Err((StatusCode::BAD_REQUEST, format!("the file was not kept: {e}")));
            }
            offset += len;
        }
        if done {
            break;
        }
    }
    tokio::task::spawn_blocking(move || upload.finish())
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("the file was not kept: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_name_comes_from_content_disposition_in_either_form() {
        assert_eq!(
            disposition_name("attachment; filename=\"invoice 12.pdf\"").as_deref(),
            Some("invoice 12.pdf")
        );
        assert_eq!(
            disposition_name("attachment; filename=\"x.pdf\"; filename*=UTF-8''R%C3%A9sum%C3%A9.pdf")
                .as_deref(),
            Some("Résumé.pdf")
        );
        assert_eq!(disposition_name("attachment"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4", "broken escapes stay as typed");
    }

    #[test]
    fn basic_credentials_are_read_and_anything_else_is_not() {
        assert_eq!(
            basic("Basic YWxpY2U6cHc6eA=="),
            Some(("alice".into(), "pw:x".into()))
        );
        assert_eq!(basic("Bearer abc"), None);
        assert_eq!(basic("Basic !!!"), None);
    }
}
