//! Arbitrary parameter lists through every contact-list and presence
//! parser, for every dialect, plus the escaping and format parsers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msn_worker::msnp::{escape, message, ns, roster};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let args: Vec<String> = text
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    for dialect in 8..=12 {
        let _ = roster::parse_syn(dialect, &args);
        let _ = roster::parse_lsg(dialect, &args);
        let _ = roster::parse_lst(dialect, &args);
    }
    let _ = roster::parse_iln(&args);
    let _ = roster::parse_nln(&args);
    let _ = roster::parse_fln(&args);
    let _ = roster::parse_added_me(&args);
    let _ = roster::parse_removed_me(&args);
    let _ = roster::parse_psm(data);
    let _ = escape::decode(&text);
    let _ = message::parse_format(&text);
    let _ = ns::parse_addr(&text);
    let _ = msn_worker::msnp::passport::Url::parse(&text);
});
