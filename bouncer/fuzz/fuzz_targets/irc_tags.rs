//! Arbitrary client lines with message tags: every tag value read from a
//! line (a `label`, a client-only `+typing`) comes back unchanged when it
//! is echoed — escaped into a labelled reply, alone or in a batch — and
//! the reply's lines are well-formed, one line each.
#![no_main]

use bytes::BytesMut;
use irc_proto::Message;
use libfuzzer_sys::fuzz_target;
use msnbnc::irc::line::{Line, LineReader};
use msnbnc::irc::reply_batch::{BatchIds, Labeled};
use msnbnc::irc::wire::tag;

fuzz_target!(|data: &[u8]| {
    let mut reader = LineReader::default();
    let mut buf = BytesMut::from(data);
    while let Some(line) = reader.next(&mut buf) {
        let Line::Message(m) = line else { continue };
        let Some(tags) = m.tags.clone() else { continue };
        for t in tags {
            let Some(value) = t.1 else { continue };
            for (replies, batch) in [(0, false), (1, false), (2, true)] {
                let reply = Labeled {
                    client: 1,
                    label: value.clone(),
                    lines: (0..replies)
                        .map(|i| format!(":s NOTICE alice :reply {i}"))
                        .collect(),
                };
                let out = reply.finish("s", batch, &mut BatchIds::default());
                for l in &out {
                    assert!(!l.contains(['\r', '\n', '\0']), "{l:?}");
                }
                let first: Message = out[0].parse().unwrap_or_else(|e| panic!("{:?}: {e}", out[0]));
                assert_eq!(tag(&first, "label"), Some(value.as_str()), "{:?}", out[0]);
            }
        }
    }
});
