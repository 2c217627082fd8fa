//! Arbitrary client bytes, in arbitrary read sizes, through the bounded
//! IRC line reader and irc-proto's parser. Panics are bugs; the buffer
//! must never grow past one maximal line plus one read.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use msnbnc::irc::line::{LineReader, MAX_MESSAGE, MAX_TAGS};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut reader = LineReader::default();
    let mut buf = BytesMut::new();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        while reader.next(&mut buf).is_some() {}
        assert!(buf.len() <= MAX_TAGS + MAX_MESSAGE + chunk);
    }
});
