//! A file we send through the switchboard, packet by packet: the
//! invitation, the answer, the window of data, the outcome.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ipc::{Delivery, FailureKind};
use std::time::Instant;

use super::super::transfers::tests::{context, feed, invite, slp_sent, split, BOB};
use super::super::transfers::{file_context, Action, Transfers};
use super::{ANSWER_TIMEOUT, STALL_TIMEOUT, WINDOW};
use crate::msnp::p2p::{self, app, flags};
use crate::msnp::slp::{self, Start};

/// Bob's answer (`200 OK`, `603` …) to the `INVITE` we sent.
fn answer_to(invite: &slp::Message, code: u16) -> Vec<Vec<u8>> {
    let session = invite.field("SessionID").unwrap().to_owned();
    let bytes = slp::build(
        &Start::Response {
            code,
            reason: "OK".into(),
        },
        &[
            ("To", "<msnmsgr:relay@example.com>"),
            ("From", "<msnmsgr:bob@example.com>"),
            ("Via", invite.header("Via").unwrap()),
            ("CSeq", "1 "),
            ("Call-ID", invite.header("Call-ID").unwrap()),
            ("Max-Forwards", "0"),
            ("Content-Type", "application/x-msnmsgr-sessionreqbody"),
        ],
        &[("SessionID", &session)],
    );
    split(p2p::chunks(0, 900, 0, &bytes, app::SLP, 5).concat())
}

fn wanted(actions: &[Action]) -> Vec<u64> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Wanted { offset, .. } => Some(*offset),
            _ => None,
        })
        .collect()
}

fn offered(t: &mut Transfers, size: u64) -> (u32, slp::Message) {
    let (session, actions) = t.offer(BOB, "report.pdf", size, Instant::now());
    let invite = slp_sent(&actions).remove(0);
    (session, invite)
}

#[test]
fn a_file_we_send_is_invited_with_its_context_then_sent_in_a_window_and_delivered_on_the_ack() {
    let mut t = Transfers::new("relay@example.com");
    let size = 6 * 1202 + 100;
    let (session, invite) = offered(&mut t, size);
    assert_eq!(
        invite.start,
        Start::Request {
            method: "INVITE".into(),
            to: BOB.into()
        }
    );
    assert_eq!(invite.field("EUF-GUID"), Some(slp::FILE_TRANSFER));
    assert_eq!(invite.field("SessionID"), Some(session.to_string().as_str()));
    let context = invite.field("Context").unwrap();
    assert_eq!(file_context(context), Some(("report.pdf".into(), size)));
    assert_eq!(B64.decode(context).unwrap().len(), 574, "version 2, no preview");
    // Nothing is asked for before Bob takes it.
    assert!(wanted(&t.data(session, 0, &[1; 10], Instant::now())).is_empty());

    let got = feed(&mut t, &answer_to(&invite, 200));
    assert!(got.contains(&Action::Accepted { session }));
    assert_eq!(wanted(&got), [0]);

    let file: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut sent = Vec::new();
    let mut next = 0u64;
    // The bouncer answers each ask; the switchboard acknowledges nothing
    // yet: after WINDOW packets the worker stops asking.
    for _ in 0..WINDOW {
        let end = (next as usize + 1202).min(file.len());
        let out = t.data(session, next, &file[next as usize..end], Instant::now());
        for a in &out {
            if let Action::SendData { packet, .. } = a {
                sent.push(p2p::parse(packet).unwrap());
            }
        }
        next = end as u64;
        let asked = wanted(&out);
        if sent.len() < WINDOW {
            assert_eq!(asked, [next]);
        } else {
            assert!(asked.is_empty(), "the window is full");
        }
    }
    // Each acknowledgement by the switchboard makes room for one more.
    while next < size {
        assert_eq!(wanted(&t.written(session)), [next]);
        let end = (next as usize + 1202).min(file.len());
        for a in t.data(session, next, &file[next as usize..end], Instant::now()) {
            if let Action::SendData { packet, .. } = a {
                sent.push(p2p::parse(&packet).unwrap());
            }
        }
        next = end as u64;
    }
    let whole: Vec<u8> = sent.iter().flat_map(|p| p.data.clone()).collect();
    assert_eq!(whole, file);
    let h = sent[0].header;
    assert!(sent.iter().all(|p| p.header.session == session
        && p.header.identifier == h.identifier
        && p.header.total == size
        && p.header.flags == flags::FILE_DATA
        && p.app == app::FILE));

    // Bob's ack of the whole data message is delivery; our BYE follows.
    let last = sent.last().unwrap().header;
    let got = feed(&mut t, &[p2p::ack(&last, 4242)]);
    assert!(got.contains(&Action::Delivered {
        session,
        outcome: Delivery::Delivered
    }));
    let bye = slp_sent(&got);
    assert!(matches!(&bye[0].start, Start::Request { method, .. } if method == "BYE"));
    assert_eq!(bye[0].header("Call-ID"), invite.header("Call-ID"));
}

#[test]
fn a_declined_file_is_reported_declined_and_asks_for_nothing() {
    let mut t = Transfers::new("relay@example.com");
    let (session, invite) = offered(&mut t, 500);
    let got = feed(&mut t, &answer_to(&invite, 603));
    assert!(wanted(&got).is_empty());
    assert!(got.iter().any(|a| matches!(a,
        Action::Delivered { session: s, outcome: Delivery::Failed(f) }
            if *s == session && f.kind == FailureKind::Rejected && f.detail.contains("declined"))));
    // A second answer (another place of Bob's) changes nothing.
    assert!(feed(&mut t, &answer_to(&invite, 200))
        .iter()
        .all(|a| matches!(a, Action::Send { .. })));
}

#[test]
fn data_that_does_not_follow_on_stops_the_send_with_a_bye() {
    let mut t = Transfers::new("relay@example.com");
    let (session, invite) = offered(&mut t, 5000);
    feed(&mut t, &answer_to(&invite, 200));
    let got = t.data(session, 1202, &[0; 1202], Instant::now());
    assert!(got.iter().any(|a| matches!(a,
        Action::Delivered { outcome: Delivery::Failed(f), .. } if f.kind == FailureKind::InvalidArgument)));
    assert!(matches!(&slp_sent(&got)[0].start, Start::Request { method, .. } if method == "BYE"));
    assert!(t.data(session, 0, &[0; 100], Instant::now()).is_empty(), "over");
}

#[test]
fn a_bye_from_the_contact_during_the_data_is_a_cancellation() {
    let mut t = Transfers::new("relay@example.com");
    let (session, invite) = offered(&mut t, 5000);
    feed(&mut t, &answer_to(&invite, 200));
    let bye = slp::build(
        &Start::Request {
            method: "BYE".into(),
            to: "relay@example.com".into(),
        },
        &[
            ("From", "<msnmsgr:bob@example.com>"),
            ("Call-ID", invite.header("Call-ID").unwrap()),
            ("Content-Type", "application/x-msnmsgr-sessionclosebody"),
        ],
        &[],
    );
    let got = feed(&mut t, &split(p2p::chunks(0, 901, 0, &bye, app::SLP, 5).concat()));
    assert!(got.iter().any(|a| matches!(a,
        Action::Delivered { session: s, outcome: Delivery::Failed(f) } if *s == session && f.detail.contains("cancelled"))));
}

#[test]
fn offers_without_an_answer_and_transfers_that_stall_time_out() {
    let start = Instant::now();
    let mut t = Transfers::new("relay@example.com");
    let (unanswered, _) = t.offer(BOB, "a.txt", 10, start);
    feed(
        &mut t,
        &split(invite(8, slp::FILE_TRANSFER, &context("in.txt", 3000))),
    );
    t.answer(8, true, start);
    assert!(t.tick(start + std::time::Duration::from_secs(60)).is_empty());
    let got = t.tick(start + STALL_TIMEOUT + std::time::Duration::from_secs(1));
    assert!(
        got.iter().any(|a| matches!(
            a,
            Action::Ended {
                session: 8,
                outcome: Err(_)
            }
        )),
        "the trickle ends"
    );
    assert!(
        !got.iter().any(|a| matches!(a, Action::Delivered { .. })),
        "the offer may still be answered"
    );
    let got = t.tick(start + ANSWER_TIMEOUT + std::time::Duration::from_secs(1));
    assert!(got.iter().any(|a| matches!(a,
        Action::Delivered { session, outcome: Delivery::Failed(f) } if *session == unanswered && f.kind == FailureKind::TimedOut)));
}

#[test]
fn a_closed_switchboard_ends_every_transfer_in_it() {
    let mut t = Transfers::new("relay@example.com");
    let (ours, _) = t.offer(BOB, "a.txt", 10, Instant::now());
    feed(
        &mut t,
        &split(invite(8, slp::FILE_TRANSFER, &context("in.txt", 3000))),
    );
    let got = t.closed("the server closed it");
    assert!(got.iter().any(|a| matches!(
        a,
        Action::Ended {
            session: 8,
            outcome: Err(_)
        }
    )));
    assert!(got
        .iter()
        .any(|a| matches!(a, Action::Delivered { session, .. } if *session == ours)));
    assert!(t.closed("again").is_empty());
}

#[test]
fn a_binary_cancel_ends_a_send_and_a_receive() {
    let mut t = Transfers::new("relay@example.com");
    let (session, ours) = offered(&mut t, 5000);
    feed(&mut t, &answer_to(&ours, 200));
    let abort = |s: u32, f: u32| {
        p2p::build(
            p2p::Header {
                session: s,
                identifier: 9,
                flags: f,
                ..p2p::Header::default()
            },
            &[],
            app::SLP,
        )
    };
    let got = feed(&mut t, &[abort(session, flags::ABORT)]);
    assert!(got.iter().any(|a| matches!(a,
        Action::Delivered { session: s, outcome: Delivery::Failed(f) } if *s == session && f.detail.contains("cancelled"))));
    feed(
        &mut t,
        &split(invite(13, slp::FILE_TRANSFER, &context("in.txt", 3000))),
    );
    t.answer(13, true, Instant::now());
    let got = feed(&mut t, &[abort(13, flags::CANCELLED)]);
    assert!(got.contains(&Action::Ended {
        session: 13,
        outcome: Err("the sender cancelled it".into())
    }));
}
