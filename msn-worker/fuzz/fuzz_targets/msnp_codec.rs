//! Arbitrary server bytes, in arbitrary read sizes, through the MSNP frame
//! decoder and the MSG payload parser. Errors are expected; panics are bugs.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use msn_worker::msnp::codec::{Decoded, Decoder};
use msn_worker::msnp::message::{classify, Mime, Reassembler};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut buf = BytesMut::new();
    let mut reassembler = Reassembler::default();
    let now = std::time::Instant::now();
    for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match Decoder.decode(&mut buf) {
                Ok(Some(Decoded::Frame(f))) => {
                    let _ = f.line();
                    let _ = f.error_code();
                    if let Some(p) = &f.payload {
                        if let Some(m) = reassembler.feed(Mime::parse(p), now) {
                            let _ = classify(&m);
                        }
                    }
                }
                Ok(Some(Decoded::Skipped { .. })) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
