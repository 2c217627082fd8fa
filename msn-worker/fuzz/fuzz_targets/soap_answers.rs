//! Arbitrary bytes as the answer of a SOAP service: the XML reader and
//! the RST (single sign-on) answer, and arbitrary proofs to open.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msn_worker::msnp::{sso, xml};

fuzz_target!(|data: &[u8]| {
    let _ = xml::walk(data, |_, _| {});
    let _ = sso::parse_rst_response(data);
    let text = String::from_utf8_lossy(data);
    let _ = sso::open_proof("AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", &text);
    let _ = sso::mbi_proof(&text, "nonce", [0; 8]);
});
