//! Feeds arbitrary bytes to the bouncer's frame decoder (worker frames are
//! untrusted) and to the worker's, in arbitrary read sizes, through the phase
//! tracker. Any panic is a bug; errors are the expected outcome.
#![no_main]

use bytes::BytesMut;
use ipc::{FrameCodec, FromWorker, PhaseTracker, ToWorker};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, so split reads are explored too.
    let Some((&chunk, rest)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);

    let mut bouncer = FrameCodec::<FromWorker, ToWorker>::default();
    let mut phases = PhaseTracker::default();
    let mut buf = BytesMut::new();
    'outer: for piece in rest.chunks(chunk) {
        buf.extend_from_slice(piece);
        loop {
            match bouncer.decode(&mut buf) {
                Ok(Some(msg)) => {
                    if phases.from_worker(&msg).is_err() {
                        break 'outer;
                    }
                }
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
    }
    let _ = bouncer.decode_eof(&mut buf);

    let mut worker = FrameCodec::<ToWorker, FromWorker>::default();
    let mut buf = BytesMut::from(rest);
    while let Ok(Some(_)) = worker.decode(&mut buf) {}
});
