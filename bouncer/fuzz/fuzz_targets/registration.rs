//! Arbitrary client lines through connection registration (CAP, PASS,
//! SASL PLAIN and EXTERNAL, NICK, USER), with every credential check
//! answered both ways. Panics are bugs; what it asks to send must be one
//! line each, never a forged second line.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use msnbnc::irc::line::{Line, LineReader};
use msnbnc::irc::registration::{Login, Output, Registration, Via};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let cert = (flags & 1 == 1).then(|| "ab".repeat(32));
    let mut reg = Registration::new("fuzz").with_cert(cert);
    let mut reader = LineReader::default();
    let mut buf = BytesMut::from(rest);
    let mut answer = flags & 2 == 2;
    while let Some(line) = reader.next(&mut buf) {
        let Line::Message(m) = line else { continue };
        let mut pending = reg.on_message(&m);
        while !pending.is_empty() {
            let mut next = Vec::new();
            for o in pending {
                match o {
                    Output::Send(l) => assert!(!l.contains('\r') && !l.contains('\n'), "{l:?}"),
                    Output::Verify { login, via, .. } => {
                        answer = !answer;
                        next.extend(reg.verified(login, via, answer));
                    }
                    Output::VerifyCert { wanted, .. } => {
                        answer = !answer;
                        let login = wanted.unwrap_or(Login {
                            user: "owner".into(),
                            device: None,
                        });
                        next.extend(reg.verified(login, Via::Sasl, answer));
                    }
                    Output::Registered(_) | Output::Close(_) => return,
                }
            }
            pending = next;
        }
    }
});
