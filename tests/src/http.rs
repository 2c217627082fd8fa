//! Plain HTTP/1.1 requests to msnbnc's files listener, as a browser or
//! an IRC client's upload would make them.

use std::io::{Read, Write};

/// `GET path`: the head's lines and the body's bytes.
pub fn get(port: u16, path: &str) -> (Vec<String>, Vec<u8>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).unwrap();
    let end = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(reply.len());
    let head = String::from_utf8_lossy(&reply[..end])
        .lines()
        .map(str::to_owned)
        .collect();
    (head, reply.get(end + 4..).unwrap_or_default().to_vec())
}

/// `POST /upload` with `auth` (`user:password`), the file as the body:
/// the status line, the head and the body.
pub fn upload(port: u16, auth: &str, name: &str, bytes: &[u8]) -> (Vec<String>, String) {
    use base64::Engine;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let basic = base64::engine::general_purpose::STANDARD.encode(auth);
    let head = format!(
        "POST /upload HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic {basic}\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // A refusal may come before all of it is sent.
    let _ = s.write_all(bytes);
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let text = String::from_utf8_lossy(&reply).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (head.lines().map(str::to_owned).collect(), body.trim().to_owned())
}

/// The `Location` of a `201 Created`.
pub fn location(head: &[String]) -> String {
    head.iter()
        .find_map(|h| {
            h.strip_prefix("location: ")
                .or_else(|| h.strip_prefix("Location: "))
        })
        .unwrap_or_else(|| panic!("no Location in {head:?}"))
        .to_owned()
}

/// The port msnbnc's files listener bound (from its log).
pub fn files_port(bouncer: &crate::Bouncer) -> u16 {
    listening_port(bouncer, "files")
}

/// The port an HTTP listener of msnbnc's (`files`, `metrics`) bound.
pub fn listening_port(bouncer: &crate::Bouncer, what: &str) -> u16 {
    let (_, line) = bouncer
        .wait_for(
            &format!("{what} listening on 127.0.0.1:"),
            std::time::Duration::from_secs(15),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    line.split("127.0.0.1:")
        .nth(1)
        .and_then(|p| p.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}
