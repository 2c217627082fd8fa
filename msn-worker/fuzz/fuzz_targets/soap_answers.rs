//! Arbitrary bytes as what MSNP13+ reads from the web services and the
//! server: the HTTP head and body reader (by length, chunked, to the
//! close), the XML reader, the RST (single sign-on) answer, the
//! membership and address-book answers, `<ml>` documents, the offline
//! messages' mail data and stored messages, the places in a UBX, handle
//! forms and presence lines of every version; and arbitrary proof keys.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msn_worker::msnp::{abch, handles, oim, sso, xml};
use msn_worker::session::https;

fuzz_target!(|data: &[u8]| {
    if let Ok(head) = https::parse_head(data) {
        let end = data
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |i| i + 4);
        let _ = https::body(&head.headers, &data[end..]);
    }
    let _ = xml::walk(data, |_, _| {});
    let _ = sso::parse_rst_response(data);
    let mut lists = abch::Lists::default();
    let _ = abch::read_memberships(data, &mut lists);
    let _ = abch::read_address_book(data, &mut lists);
    let _ = abch::parse_ml(data);
    let _ = abch::fault(data);
    let _ = oim::parse_md(data);
    let _ = oim::message_of_answer(data);
    let _ = oim::lock_challenge(data);
    let _ = handles::places(data);
    let text = String::from_utf8_lossy(data);
    let _ = oim::parse_mail_data(&text);
    let _ = oim::parse_message(&text);
    let _ = handles::split(&text);
    let args: Vec<String> = text
        .split(' ')
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    for dialect in 13..=18 {
        for cmd in ["ILN", "NLN", "FLN", "UBX"] {
            let _ = handles::presence_args(dialect, cmd, &args);
        }
    }
    let _ = sso::mbi_proof(&text, "nonce", [0; 8]);
});
