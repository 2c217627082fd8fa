//! Arbitrary bytes as the answer of a SOAP service: the HTTP head and
//! body reader (by length, chunked, to the close), the XML reader and the
//! RST (single sign-on) answer, and arbitrary proofs to open.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msn_worker::msnp::{sso, xml};
use msn_worker::session::https;

fuzz_target!(|data: &[u8]| {
    if let Ok(head) = https::parse_head(data) {
        let end = data.windows(4).position(|w| w == b"\r\n\r\n").map_or(0, |i| i + 4);
        let _ = https::body(&head.headers, &data[end..]);
    }
    let _ = xml::walk(data, |_, _| {});
    let _ = sso::parse_rst_response(data);
    let text = String::from_utf8_lossy(data);
    let _ = sso::open_proof("AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", &text);
    let _ = sso::mbi_proof(&text, "nonce", [0; 8]);
});
