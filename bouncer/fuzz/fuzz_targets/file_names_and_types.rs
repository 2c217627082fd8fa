//! What a file brings with it: its name (cleaned for disk and URL) and
//! its bytes (typed by content); for a staff upload also the
//! `Content-Disposition` naming it and the `Authorization` sent with it —
//! arbitrary all.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msnbnc::files::upload::{basic, disposition_name};
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
    if let Some(named) = disposition_name(&name) {
        let cleaned = clean_name(&named);
        assert!(!cleaned.is_empty() && !cleaned.contains('/'), "{cleaned:?}");
    }
    if let Some((user, _)) = basic(&name) {
        assert!(!user.contains(':'), "{user:?}");
    }
});
