//! Arbitrary server bytes fed to a notification session and a switchboard
//! session in every state they can reach, to find panics in the state
//! machines (not just the parsers).
#![no_main]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use msn_worker::msnp::codec::{Decoded, Decoder};
use msn_worker::msnp::ns::{NsConfig, NsOutput, NsSession};
use msn_worker::msnp::sb::{Role, SbSession};

fuzz_target!(|data: &[u8]| {
    let Some((&dialect, rest)) = data.split_first() else {
        return;
    };
    let dialect = 8 + dialect % 5;
    let now = Instant::now();
    let mut ns = NsSession::new(NsConfig {
        account: "relay@example.com".into(),
        min_version: 8,
        max_version: dialect,
        auto_accept_contacts: true,
    });
    ns.start();
    let mut sb = SbSession::new(
        "relay@example.com",
        Role::Calling {
            cookie: "c".into(),
            invite: vec!["bob@example.com".into()],
        },
        now,
    );
    sb.start();
    sb.send_text(1, "hello", &Default::default());
    let mut buf = BytesMut::from(rest);
    let mut t = now;
    while let Ok(Some(d)) = Decoder.decode(&mut buf) {
        let Decoded::Frame(f) = d else { continue };
        for o in ns.on_frame(f.clone(), t) {
            if let NsOutput::Authenticate { .. } = o {
                ns.ticket("ticket");
            }
        }
        sb.on_frame(f, t);
        t += Duration::from_secs(7);
        ns.tick(t);
        sb.tick(t);
    }
});
