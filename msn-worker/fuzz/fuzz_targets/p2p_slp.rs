//! Arbitrary bytes as what a customer's client sends for a file transfer:
//! a P2P packet (its header's lengths and offsets must not be trusted)
//! and the MSNSLP message inside; what is built is read back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
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
});
