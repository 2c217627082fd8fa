//! A file from a contact through the switchboard, packet by packet.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::*;
use std::time::Instant;

pub(crate) const BOB: &str = "bob@example.com";

/// The file-transfer context: header length, version 2, size, type 0,
/// the name as UTF-16 in 520 bytes, then room for a preview.
pub(crate) fn context(name: &str, size: u64) -> String {
    let mut raw = Vec::new();
    raw.extend_from_slice(&574u32.to_le_bytes());
    raw.extend_from_slice(&2u32.to_le_bytes());
    raw.extend_from_slice(&size.to_le_bytes());
    raw.extend_from_slice(&1u32.to_le_bytes());
    let mut name16: Vec<u8> = name.encode_utf16().flat_map(u16::to_le_bytes).collect();
    name16.resize(520, 0);
    raw.extend_from_slice(&name16);
    raw.resize(574, 0);
    B64.encode(raw)
}

pub(crate) fn invite(session: u32, guid: &str, ctx: &str) -> Vec<u8> {
    let session = session.to_string();
    let bytes = slp::build(
        &Start::Request {
            method: "INVITE".into(),
            to: "relay@example.com".into(),
        },
        &[
            ("To", "<msnmsgr:relay@example.com>"),
            ("From", "<msnmsgr:bob@example.com>"),
            ("Via", "MSNSLP/1.0/TLP ;branch={B1}"),
            ("CSeq", "0 "),
            ("Call-ID", "{C1}"),
            ("Max-Forwards", "0"),
            ("Content-Type", "application/x-msnmsgr-sessionreqbody"),
        ],
        &[
            ("EUF-GUID", guid),
            ("SessionID", &session),
            ("AppID", "2"),
            ("Context", ctx),
        ],
    );
    // Several packets, as an INVITE with a context often is.
    p2p::chunks(0, 500, 0, &bytes, app::SLP, 77).concat()
}

/// Feeds packets (one `MSG` body each) and collects the actions.
pub(crate) fn feed(t: &mut Transfers, packets: &[Vec<u8>]) -> Vec<Action> {
    packets
        .iter()
        .flat_map(|p| t.packet(BOB, p, Instant::now()))
        .collect()
}

pub(crate) fn split(bytes: Vec<u8>) -> Vec<Vec<u8>> {
    // chunks() output concatenated: cut it back at each header's length.
    let mut out = Vec::new();
    let mut rest = &bytes[..];
    while rest.len() >= 52 {
        let len = u32::from_le_bytes(rest[24..28].try_into().unwrap()) as usize;
        out.push(rest[..48 + len + 4].to_vec());
        rest = &rest[48 + len + 4..];
    }
    out
}

pub(crate) fn slp_sent(actions: &[Action]) -> Vec<slp::Message> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { packet, .. } => p2p::parse(packet)
                .ok()
                .filter(|p| p.header.flags & flags::ACK == 0),
            _ => None,
        })
        .filter_map(|p| slp::parse(&p.data).ok())
        .collect()
}

#[test]
fn a_file_is_offered_accepted_received_in_order_and_acknowledged() {
    let mut t = Transfers::new("relay@example.com");
    let got = feed(
        &mut t,
        &split(invite(9, slp::FILE_TRANSFER, &context("screenshot.png", 3000))),
    );
    assert!(got.iter().any(|a| matches!(a, Action::Send { packet, .. } if p2p::parse(packet).unwrap().header.flags == flags::ACK)), "the INVITE is acked");
    assert!(got.contains(&Action::Offered {
        session: 9,
        from: BOB.into(),
        name: "screenshot.png".into(),
        size: 3000
    }));
    let answer = slp_sent(&t.answer(9, true, Instant::now()));
    assert_eq!(
        answer[0].start,
        Start::Response {
            code: 200,
            reason: "OK".into()
        }
    );
    assert_eq!(answer[0].field("SessionID"), Some("9"));
    assert_eq!(answer[0].header("Call-ID"), Some("{C1}"));
    let data: Vec<u8> = (0..3000u32).map(|i| i as u8).collect();
    let got = feed(
        &mut t,
        &p2p::chunks(9, 600, flags::FILE_DATA, &data, app::FILE, 1),
    );
    let received: Vec<u8> = got
        .iter()
        .filter_map(|a| match a {
            Action::Data { data, .. } => Some(data.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(received, data);
    assert!(got.contains(&Action::Ended {
        session: 9,
        outcome: Ok(())
    }));
    let acks = got
        .iter()
        .filter(|a| matches!(a, Action::Send { packet, .. } if p2p::parse(packet).unwrap().header.flags == flags::ACK))
        .count();
    assert_eq!(acks, 1, "one ack for the whole file");
}

#[test]
fn what_is_not_a_file_or_is_declined_gets_603() {
    let mut t = Transfers::new("relay@example.com");
    let picture = "{A4268EEC-FEC5-49E5-95C3-F126696BDBF6}";
    let got = feed(&mut t, &split(invite(3, picture, "")));
    assert_eq!(
        slp_sent(&got)[0].start,
        Start::Response {
            code: 603,
            reason: "Decline".into()
        }
    );
    feed(
        &mut t,
        &split(invite(4, slp::FILE_TRANSFER, &context("big.zip", 1 << 40))),
    );
    let answer = slp_sent(&t.answer(4, false, Instant::now()));
    assert_eq!(
        answer[0].start,
        Start::Response {
            code: 603,
            reason: "Decline".into()
        }
    );
    // Declined: its data is nobody's.
    assert!(feed(&mut t, &p2p::chunks(4, 1, flags::FILE_DATA, b"x", app::FILE, 0)).is_empty());
}

#[test]
fn data_that_skips_lies_or_comes_unasked_ends_the_transfer() {
    let mut t = Transfers::new("relay@example.com");
    feed(
        &mut t,
        &split(invite(5, slp::FILE_TRANSFER, &context("a.txt", 10))),
    );
    let early = feed(
        &mut t,
        &p2p::chunks(5, 1, flags::FILE_DATA, &[1; 10], app::FILE, 0),
    );
    assert!(
        matches!(
            &early[0],
            Action::Ended {
                session: 5,
                outcome: Err(_)
            }
        ),
        "{early:?}"
    );

    feed(
        &mut t,
        &split(invite(6, slp::FILE_TRANSFER, &context("b.txt", 10))),
    );
    t.answer(6, true, Instant::now());
    // A size that is not the one announced.
    let lying = feed(
        &mut t,
        &p2p::chunks(6, 2, flags::FILE_DATA, &[1; 20], app::FILE, 0),
    );
    assert!(
        matches!(
            &lying[0],
            Action::Ended {
                session: 6,
                outcome: Err(_)
            }
        ),
        "{lying:?}"
    );

    feed(
        &mut t,
        &split(invite(7, slp::FILE_TRANSFER, &context("c.txt", 10))),
    );
    t.answer(7, true, Instant::now());
    let mut skip = p2p::chunks(7, 3, flags::FILE_DATA, &[1; 10], app::FILE, 0);
    let mut h = p2p::parse(&skip[0]).unwrap().header;
    h.offset = 4;
    skip[0] = p2p::build(h, &[1; 6], app::FILE);
    let got = feed(&mut t, &skip);
    assert!(
        matches!(
            &got[0],
            Action::Ended {
                session: 7,
                outcome: Err(_)
            }
        ),
        "{got:?}"
    );
}

#[test]
fn a_direct_connection_is_turned_down_and_a_bye_ends_what_is_unfinished() {
    let mut t = Transfers::new("relay@example.com");
    feed(
        &mut t,
        &split(invite(8, slp::FILE_TRANSFER, &context("d.txt", 10))),
    );
    t.answer(8, true, Instant::now());
    let transreq = slp::build(
        &Start::Request {
            method: "INVITE".into(),
            to: "relay@example.com".into(),
        },
        &[
            ("From", "<msnmsgr:bob@example.com>"),
            ("Call-ID", "{C1}"),
            ("Via", "MSNSLP/1.0/TLP ;branch={B2}"),
            ("Content-Type", "application/x-msnmsgr-transreqbody"),
        ],
        &[("Bridges", "TCPv1"), ("NetID", "0"), ("Conn-Type", "Firewall")],
    );
    let got = feed(&mut t, &p2p::chunks(0, 9, 0, &transreq, app::SLP, 1));
    let answer = slp_sent(&got);
    assert_eq!(answer[0].field("Listening"), Some("false"));
    let half = p2p::Header {
        session: 8,
        identifier: 10,
        total: 10,
        flags: flags::FILE_DATA,
        ..p2p::Header::default()
    };
    let got = feed(&mut t, &[p2p::build(half, b"half", app::FILE)]);
    assert_eq!(
        got,
        [Action::Data {
            session: 8,
            offset: 0,
            data: b"half".to_vec()
        }]
    );
    let bye = slp::build(
        &Start::Request {
            method: "BYE".into(),
            to: "relay@example.com".into(),
        },
        &[
            ("From", "<msnmsgr:bob@example.com>"),
            ("Call-ID", "{C1}"),
            ("Content-Type", "application/x-msnmsgr-sessionclosebody"),
        ],
        &[("SessionID", "8")],
    );
    let got = feed(&mut t, &p2p::chunks(0, 11, 0, &bye, app::SLP, 1));
    assert!(
        got.iter().any(|a| matches!(
            a,
            Action::Ended {
                session: 8,
                outcome: Err(_)
            }
        )),
        "{got:?}"
    );
}

#[test]
fn a_context_names_the_file_and_its_size() {
    assert_eq!(
        file_context(&context("report 2026.pdf", 84_016)),
        Some(("report 2026.pdf".into(), 84_016))
    );
    assert_eq!(file_context("not base64!"), None);
    assert_eq!(file_context(&B64.encode([0u8; 10])), None);
}

#[test]
fn chunks_past_the_end_and_endless_unfinished_messages_hold_nothing() {
    let mut t = Transfers::new("relay@example.com");
    feed(
        &mut t,
        &split(invite(9, slp::FILE_TRANSFER, &context("a.bin", 2404))),
    );
    t.answer(9, true, Instant::now());
    let file = p2p::chunks(9, 600, flags::FILE_DATA, &[5; 2404], app::FILE, 1);
    let got = feed(&mut t, &file);
    assert!(got.contains(&Action::Ended {
        session: 9,
        outcome: Ok(())
    }));
    // The sender goes on: the same packets again, and packets that claim
    // a larger whole. None is data any more.
    for _ in 0..100 {
        let more = feed(&mut t, &file);
        assert!(more.iter().all(|a| !matches!(a, Action::Data { .. })), "{more:?}");
    }
    let lie = p2p::chunks(9, 601, flags::FILE_DATA, &[5; 5000], app::FILE, 1);
    assert!(feed(&mut t, &lie).is_empty());
    // First pieces of MSNSLP messages that never finish: a few are held,
    // the rest dropped.
    for id in 0..10_000u32 {
        let first = p2p::build(
            p2p::Header {
                identifier: id,
                total: slp::MAX_MESSAGE as u64,
                ..p2p::Header::default()
            },
            &[b'x'; 1202],
            app::SLP,
        );
        feed(&mut t, &[first]);
    }
    assert!(
        t.slp.len() <= MAX_PARTIAL,
        "{} partial messages held",
        t.slp.len()
    );
    // … and the next whole message still gets through.
    let got = feed(
        &mut t,
        &split(invite(12, slp::FILE_TRANSFER, &context("next.txt", 3))),
    );
    assert!(
        got.iter()
            .any(|a| matches!(a, Action::Offered { session: 12, .. })),
        "{got:?}"
    );
}
