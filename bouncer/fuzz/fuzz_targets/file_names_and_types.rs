//! What a customer's file brings with it: its name (cleaned for disk and
//! URL) and its bytes (typed by content) — arbitrary both.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msnbnc::files::{clean_name, sniff::sniff, valid_token};

fuzz_target!(|data: &[u8]| {
    let name = String::from_utf8_lossy(data);
    let cleaned = clean_name(&name);
    assert!(!cleaned.is_empty() && cleaned.len() <= 100, "{cleaned:?}");
    assert!(
        !cleaned.starts_with('.') && !cleaned.contains(['/', '\\']),
        "{cleaned:?}"
    );
    assert_eq!(clean_name(&cleaned), cleaned, "cleaning is stable");
    let served = sniff(data);
    assert!(
        !(served.inline && served.content_type.contains("html")),
        "{served:?}"
    );
    let _ = valid_token(&name);
});
