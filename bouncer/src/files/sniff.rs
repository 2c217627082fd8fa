//! What a file is, from its first bytes — never from the name or type the
//! sender gave: images, documents and archives by their signatures (the
//! `infer` crate), text by being UTF-8 without NUL bytes. Types a browser
//! would run (HTML, SVG, XML, anything unknown) are served as downloads.

/// How a file is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub content_type: String,
    /// Shown in the browser (`inline`), or only downloaded (`attachment`).
    pub inline: bool,
}

/// Types a browser shows without running anything.
const PASSIVE: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "image/bmp",
    "application/pdf",
    "text/plain; charset=utf-8",
];

/// How `head` (the first bytes of a file) is served.
pub fn sniff(head: &[u8]) -> Served {
    let content_type = match infer::get(head) {
        Some(kind) => kind.mime_type().to_owned(),
        None if looks_active(head) => "text/html".to_owned(),
        None if std::str::from_utf8(head).is_ok_and(|t| !t.contains('\0')) || utf8_cut(head) => {
            "text/plain; charset=utf-8".to_owned()
        }
        None => "application/octet-stream".to_owned(),
    };
    let inline = PASSIVE.contains(&content_type.as_str());
    Served { content_type, inline }
}

/// Text a browser would interpret: markup, scripts, SVG.
fn looks_active(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(&head[..head.len().min(1024)]).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    [
        "<!doctype",
        "<html",
        "<svg",
        "<?xml",
        "<script",
        "<head",
        "<body",
        "<iframe",
    ]
    .iter()
    .any(|m| text.starts_with(m))
        || text.contains("<svg")
        || text.contains("<script")
}

/// UTF-8 cut in the middle of a character at the end of the sample.
fn utf8_cut(head: &[u8]) -> bool {
    match std::str::from_utf8(head) {
        Ok(_) => false,
        Err(e) => e.error_len().is_none() && !head[..e.valid_up_to()].contains(&0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_and_documents_are_shown_whatever_they_are_called() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
        assert_eq!(
            sniff(png),
            Served {
                content_type: "image/png".into(),
                inline: true
            }
        );
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF").content_type, "image/jpeg");
        assert_eq!(sniff(b"%PDF-1.7\n").content_type, "application/pdf");
        assert_eq!(
            sniff("plain words ✓".as_bytes()).content_type,
            "text/plain; charset=utf-8"
        );
        assert!(
            sniff(&"é".repeat(10).as_bytes()[..7]).inline,
            "a character cut by the sample"
        );
    }

    #[test]
    fn what_a_browser_would_run_is_only_downloaded() {
        for active in [
            &b"<!DOCTYPE html><html><script>alert(1)</script>"[..],
            b"  <svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>",
            b"<?xml version=\"1.0\"?><svg/>",
        ] {
            let s = sniff(active);
            assert!(!s.inline, "{s:?}");
        }
        let exe = sniff(b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff");
        assert!(!exe.inline, "{exe:?}");
        assert_eq!(
            sniff(b"\0\x01\x02binary").content_type,
            "application/octet-stream"
        );
        assert!(!sniff(b"PK\x03\x04\x14\0").inline, "archives download");
    }
}
