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
use msn_worker::msnp::sso::Token;

fn tokens() -> Vec<Token> {
    vec![
        Token {
            address: "messengerclear.live.com".into(),
            ticket: "t=a&p=".into(),
            secret: Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYX".into()),
        },
        Token {
            address: "contacts.msn.com".into(),
            ticket: "t=b&p=".into(),
            secret: None,
        },
    ]
}

fuzz_target!(|data: &[u8]| {
    let Some((&dialect, rest)) = data.split_first() else {
        return;
    };
    let dialect = 8 + dialect % 11;
    let now = Instant::now();
    let mut ns = NsSession::new(NsConfig {
        account: "relay@example.com".into(),
        min_version: 8,
        max_version: dialect,
        auto_accept_contacts: true,
        machine_guid: "{7f1b6a2e-0d3c-4b8e-9f00-3a5e8c1d2b44}".into(),
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
        let mut pending = ns.on_frame(f.clone(), t);
        // Drive what the session asks for, with answers that let it go on.
        for _ in 0..8 {
            let mut next = Vec::new();
            for o in pending {
                match o {
                    NsOutput::Authenticate { .. } => next.extend(ns.ticket("ticket")),
                    NsOutput::SingleSignOn { .. } => next.extend(ns.signed_on(tokens(), [0; 8])),
                    NsOutput::Soap(call) => next.extend(ns.soap_answer(call.token, Ok(b"<ok/>".to_vec()), t)),
                    _ => {}
                }
            }
            pending = next;
        }
        sb.on_frame(f, t);
        t += Duration::from_secs(7);
        ns.tick(t);
        sb.tick(t);
    }
});
