//! Arbitrary bytes as what a customer's client sends for a file transfer:
//! a P2P packet (its header's lengths and offsets must not be trusted)
//! and the MSNSLP message inside; what is built is read back the same;
//! a file being received and one being sent never go past their sizes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use msn_worker::msnp::sb::transfers::{Action, Transfers};
use msn_worker::msnp::{p2p, slp};

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = p2p::parse(data) {
        assert_eq!(packet.data.len(), packet.header.length as usize);
        let again = p2p::build(packet.header, &packet.data, packet.app);
        assert_eq!(p2p::parse(&again).as_ref(), Ok(&packet));
        let _ = slp::parse(&packet.data);
    }
    if let Ok(m) = slp::parse(data) {
        let _ = m.address("From");
        let _ = m.field("Context");
    }
    // The bytes as a stream of packets to a receiving switchboard, every
    // offer accepted: nothing panics, no data is reported past its size.
    // A file of ours is on offer too: answers, acks and BYEs may name it;
    // whatever is asked for stays within its size.
    let now = std::time::Instant::now();
    let mut t = Transfers::new("relay@example.com");
    let (ours, _) = t.offer("bob@example.com", "report.pdf", 5000, now);
    let mut sizes = std::collections::HashMap::new();
    for piece in data.split(|b| *b == 0xff).take(64) {
        let mut actions = t.packet("bob@example.com", piece, now);
        while let Some(a) = actions.pop() {
            match a {
                Action::Offered { session, size, .. } => {
                    sizes.insert(session, size);
                    let _ = t.answer(session, true, now);
                }
                Action::Wanted { session, offset } => {
                    assert_eq!(session, ours);
                    assert!(offset < 5000, "asked past the size");
                    let len = (5000 - offset).min(1202) as usize;
                    actions.extend(t.data(session, offset, &vec![7; len], now));
                    actions.extend(t.written(session));
                }
                Action::Data {
                    session,
                    offset,
                    data,
                } => {
                    let size = sizes.get(&session).copied().unwrap_or(0);
                    assert!(offset + data.len() as u64 <= size, "past the size");
                }
                _ => {}
            }
        }
    }
});
