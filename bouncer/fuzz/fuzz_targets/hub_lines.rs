//! Arbitrary lines from two staff clients (one with every capability, one
//! with none) and from customers, through the whole hub — IRC commands,
//! `*msn` commands with their arguments, CHATHISTORY, tags — with a real
//! store. Panics are bugs, and every line a client gets is one
//! well-formed IRC line.
//!
//! A line starting `2 ` comes from the second client; one starting `!`
//! is a customer's message (in conversation 1, 2 or 3 by the length).
#![no_main]

use bytes::BytesMut;
use irc_proto::Message;
use libfuzzer_sys::fuzz_target;
use msnbnc::hub::harness::{Harness, EVERY_CAP};
use msnbnc::irc::line::{Line, LineReader};

const CUSTOMERS: [&str; 3] = ["bob@example.com", "carol@example.com", "dave@example.com"];
/// Lines per input: the store settles after each, so keep runs short.
const MOST_LINES: usize = 48;

fuzz_target!(|data: &[u8]| {
    let mut h = Harness::new("");
    h.signed_in(&CUSTOMERS);
    let alice = h.attach("alice", None, EVERY_CAP);
    let kim = h.attach("kim", Some("phone"), &[]);
    h.customer_says(1, CUSTOMERS[0], "hello");
    let mut reader = LineReader::default();
    let mut buf = BytesMut::from(data);
    let mut lines = 0;
    while let Some(line) = reader.next(&mut buf) {
        let Line::Message(m) = line else { continue };
        lines += 1;
        if lines > MOST_LINES {
            break;
        }
        let raw = m.to_string();
        if let Some(text) = raw.trim_end().strip_prefix('!') {
            let n = text.len() % CUSTOMERS.len();
            h.customer_says(n as u64 + 1, CUSTOMERS[n], text);
        } else if let Some(rest) = raw.strip_prefix("2 ") {
            match rest.parse::<Message>() {
                Ok(m) => h.message(kim, m),
                Err(_) => continue,
            }
        } else {
            h.message(alice, *m);
        }
        h.commands();
        for id in [alice, kim] {
            for got in h.got(id).iter().filter(|l| !l.is_empty()) {
                assert!(!got.contains(['\r', '\n', '\0']), "{got:?}");
                assert!(got.parse::<Message>().is_ok(), "{got:?}");
            }
        }
    }
});
