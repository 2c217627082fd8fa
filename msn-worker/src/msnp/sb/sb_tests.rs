use std::time::{Duration, Instant};

use bytes::BytesMut;
use ipc::{Delivery, FailureKind, TextFormat};

use super::*;
use crate::msnp::codec::{Decoded, Decoder};

fn feed(sb: &mut SbSession, bytes: &[u8]) -> Vec<SbOutput> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(d) = Decoder.decode(&mut buf).unwrap() {
        if let Decoded::Frame(f) = d {
            out.extend(sb.on_frame(f, Instant::now()));
        }
    }
    out
}

fn sent(out: &[SbOutput]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            SbOutput::Send(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .collect()
}

fn msg(from: &str, payload: &str) -> String {
    format!("MSG {from} Name {}\r\n{payload}", payload.len())
}

fn calling(invite: &[&str]) -> SbSession {
    SbSession::new(
        "relay@example.com",
        Role::Calling {
            cookie: "17262740.1050826919.32308".into(),
            invite: invite.iter().map(|s| s.to_string()).collect(),
        },
        Instant::now(),
    )
}

#[test]
fn calling_queues_until_the_contact_joins_then_reports_delivery() {
    let mut sb = calling(&["bob@example.com"]);
    assert_eq!(
        sent(&sb.start()),
        vec!["USR 1 relay@example.com 17262740.1050826919.32308\r\n"]
    );
    assert!(
        sent(&sb.send_text(42, "hello", &TextFormat::default())).is_empty(),
        "queued before JOI"
    );
    let out = feed(&mut sb, b"USR 1 OK relay@example.com Relay%20Bot\r\n");
    assert_eq!(sent(&out), vec!["CAL 2 bob@example.com\r\n"]);
    let out = feed(
        &mut sb,
        b"CAL 2 RINGING 11752013\r\nJOI bob@example.com Bob 1342177280\r\n",
    );
    assert_eq!(
        out[0],
        SbOutput::Event(SbEvent::Joined {
            handle: "bob@example.com".into(),
            friendly_name: "Bob".into()
        })
    );
    let lines = sent(&out);
    assert!(lines[0].starts_with("MSG 3 A "), "{lines:?}");
    assert!(lines[0].ends_with("\r\n\r\nhello"), "{lines:?}");
    let out = feed(&mut sb, b"ACK 3\r\n");
    assert_eq!(
        out,
        vec![SbOutput::Delivery {
            command_id: 42,
            outcome: Delivery::Delivered
        }]
    );
}

#[test]
fn answering_joins_and_receives_text_typing_and_nudges() {
    let mut sb = SbSession::new(
        "relay@example.com",
        Role::Answering {
            session_id: "11752013".into(),
            cookie: "849102291.520491113".into(),
        },
        Instant::now(),
    );
    assert_eq!(
        sent(&sb.start()),
        vec!["ANS 1 relay@example.com 849102291.520491113 11752013\r\n"]
    );
    let text = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\nX-MMS-IM-Format: FN=Arial; EF=B; CO=ff; CS=0; PF=22\r\n\r\nhi there";
    let typing =
        "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: bob@example.com\r\n\r\n\r\n";
    let nudge = "MIME-Version: 1.0\r\nContent-Type: text/x-msnmsgr-datacast\r\n\r\nID: 1\r\n\r\n";
    let p2p = "MIME-Version: 1.0\r\nContent-Type: application/x-msnmsgrp2p\r\nP2P-Dest: relay@example.com\r\n\r\nxx";
    let out = feed(
        &mut sb,
        format!(
            "IRO 1 1 1 bob@example.com Bob 1342177280\r\nANS 1 OK\r\n{}{}{}{}",
            msg("bob@example.com", text),
            msg("bob@example.com", typing),
            msg("bob@example.com", nudge),
            msg("bob@example.com", p2p)
        )
        .as_bytes(),
    );
    let events: Vec<&SbEvent> = out
        .iter()
        .filter_map(|o| if let SbOutput::Event(e) = o { Some(e) } else { None })
        .collect();
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(
        matches!(events[1], SbEvent::Message { from, text, format } if from == "bob@example.com" && text == "hi there" && format.bold && format.color == Some([255, 0, 0]))
    );
    assert_eq!(
        events[2],
        &SbEvent::Typing {
            from: "bob@example.com".into()
        }
    );
    assert_eq!(
        events[3],
        &SbEvent::Nudge {
            from: "bob@example.com".into()
        }
    );
}

#[test]
fn offline_contact_fails_queued_messages_with_217() {
    let mut sb = calling(&["gone@example.com"]);
    sb.start();
    sb.send_text(7, "anyone?", &TextFormat::default());
    feed(&mut sb, b"USR 1 OK relay@example.com R\r\n");
    let out = feed(&mut sb, b"217 2\r\n");
    assert!(out.iter().any(|o| matches!(o, SbOutput::Delivery { command_id: 7, outcome: Delivery::Failed(f) } if f.kind == FailureKind::ContactOffline)), "{out:?}");
    assert!(out.iter().any(|o| matches!(o, SbOutput::Closed { .. })));
    assert!(sb.is_closed());
}

#[test]
fn bare_207_for_an_unknown_account_fails_the_call() {
    let mut sb = calling(&["nobody@example.com"]);
    sb.start();
    sb.send_text(7, "x", &TextFormat::default());
    feed(&mut sb, b"USR 1 OK relay@example.com R\r\n");
    let out = feed(&mut sb, b"207\r\n");
    assert!(out.iter().any(|o| matches!(o, SbOutput::Delivery { command_id: 7, outcome: Delivery::Failed(f) } if f.kind == FailureKind::NotOnList)));
}

#[test]
fn long_messages_are_delivered_when_every_piece_is_acknowledged() {
    let mut sb = calling(&["bob@example.com"]);
    sb.start();
    feed(
        &mut sb,
        b"USR 1 OK relay@example.com R\r\nJOI bob@example.com Bob\r\n",
    );
    let out = sb.send_text(9, &"word ".repeat(1000), &TextFormat::default());
    let lines = sent(&out);
    assert!(lines.len() >= 3);
    for l in &lines {
        let header_end = l.find("\r\n").unwrap();
        let len: usize = l[..header_end].rsplit(' ').next().unwrap().parse().unwrap();
        assert!(len <= message::MAX_MSG_PAYLOAD);
    }
    let acks: String = (3..3 + lines.len()).map(|t| format!("ACK {t}\r\n")).collect();
    let out = feed(&mut sb, acks.as_bytes());
    assert_eq!(
        out,
        vec![SbOutput::Delivery {
            command_id: 9,
            outcome: Delivery::Delivered
        }]
    );
}

#[test]
fn nak_and_missing_ack_fail_the_message() {
    let mut sb = calling(&["bob@example.com"]);
    sb.start();
    feed(
        &mut sb,
        b"USR 1 OK relay@example.com R\r\nJOI bob@example.com Bob\r\n",
    );
    sb.send_text(1, "a", &TextFormat::default());
    let out = feed(&mut sb, b"NAK 3\r\n");
    assert!(
        matches!(&out[0], SbOutput::Delivery { command_id: 1, outcome: Delivery::Failed(f) } if f.kind == FailureKind::Rejected)
    );
    sb.send_text(2, "b", &TextFormat::default());
    let out = sb.tick(Instant::now() + ACK_TIMEOUT + Duration::from_secs(1));
    assert!(
        matches!(&out[0], SbOutput::Delivery { command_id: 2, outcome: Delivery::Failed(f) } if f.kind == FailureKind::TimedOut)
    );
}

#[test]
fn when_everyone_leaves_the_switchboard_closes_and_returns_unsent_messages() {
    let mut sb = calling(&["bob@example.com"]);
    sb.start();
    feed(
        &mut sb,
        b"USR 1 OK relay@example.com R\r\nJOI bob@example.com Bob\r\n",
    );
    sb.send_text(1, "in flight", &TextFormat::default());
    let out = feed(&mut sb, b"BYE bob@example.com 1\r\n");
    assert_eq!(
        out[0],
        SbOutput::Event(SbEvent::Left {
            handle: "bob@example.com".into()
        })
    );
    assert!(sent(&out).contains(&"OUT\r\n".to_owned()));
    assert!(out.iter().any(|o| matches!(
        o,
        SbOutput::Delivery {
            command_id: 1,
            outcome: Delivery::Failed(_)
        }
    )));
    assert!(sb.is_closed());

    // Queued but never sent: handed back for a new switchboard.
    let mut sb = calling(&["bob@example.com"]);
    sb.start();
    sb.send_text(5, "later", &TextFormat::default());
    let out = sb.connection_lost("connection reset");
    assert!(
        matches!(&out[0], SbOutput::Closed { unsent, .. } if unsent.len() == 1 && unsent[0].command_id == Some(5))
    );
    let mut fresh = calling(&["bob@example.com"]);
    fresh.start();
    let SbOutput::Closed { unsent, .. } = out[0].clone() else {
        panic!()
    };
    fresh.requeue(unsent);
    feed(&mut fresh, b"USR 1 OK relay@example.com R\r\n");
    let out = feed(&mut fresh, b"JOI bob@example.com Bob\r\nACK 3\r\n");
    assert!(
        out.contains(&SbOutput::Delivery {
            command_id: 5,
            outcome: Delivery::Delivered
        }),
        "{out:?}"
    );
}

#[test]
fn multi_party_and_invitations_declined() {
    let mut sb = calling(&["bob@example.com", "carol@example.com"]);
    sb.start();
    let out = feed(&mut sb, b"USR 1 OK relay@example.com R\r\n");
    assert_eq!(
        sent(&out),
        vec!["CAL 2 bob@example.com\r\n", "CAL 3 carol@example.com\r\n"]
    );
    feed(
        &mut sb,
        b"JOI bob@example.com Bob\r\nJOI carol@example.com Carol\r\nJOI relay@example.com Me\r\n",
    );
    assert_eq!(sb.participants().count(), 2, "our own JOI is ignored");
    let invite = "MIME-Version: 1.0\r\nContent-Type: text/x-msmsgsinvite; charset=UTF-8\r\n\r\nApplication-Name: File Transfer\r\nInvitation-Command: INVITE\r\nInvitation-Cookie: 99\r\n";
    let out = feed(&mut sb, msg("bob@example.com", invite).as_bytes());
    let lines = sent(&out);
    assert!(
        lines[0].starts_with("MSG 4 U ")
            && lines[0].contains("Invitation-Command: CANCEL\r\nInvitation-Cookie: 99"),
        "{lines:?}"
    );
    let out = feed(&mut sb, b"BYE bob@example.com\r\n");
    assert!(!sb.is_closed(), "carol is still there");
    assert_eq!(
        out,
        vec![SbOutput::Event(SbEvent::Left {
            handle: "bob@example.com".into()
        })]
    );
}

#[test]
fn nobody_joining_times_out() {
    let start = Instant::now();
    let mut sb = SbSession::new(
        "relay@example.com",
        Role::Calling {
            cookie: "c".into(),
            invite: vec!["bob@example.com".into()],
        },
        start,
    );
    sb.start();
    sb.send_text(3, "hello?", &TextFormat::default());
    feed(&mut sb, b"USR 1 OK relay@example.com R\r\n");
    assert!(sb.tick(start + Duration::from_secs(10)).is_empty());
    let out = sb.tick(start + JOIN_TIMEOUT + Duration::from_secs(1));
    assert!(
        matches!(&out[0], SbOutput::Delivery { command_id: 3, outcome: Delivery::Failed(f) } if f.kind == FailureKind::TimedOut)
    );
}

#[test]
fn typing_is_not_queued_into_an_empty_switchboard() {
    let mut sb = calling(&["bob@example.com"]);
    sb.start();
    assert!(sb.send_typing().is_empty());
    feed(
        &mut sb,
        b"USR 1 OK relay@example.com R\r\nJOI bob@example.com Bob\r\n",
    );
    let lines = sent(&sb.send_typing());
    assert!(lines[0].starts_with("MSG 3 U 90\r\n"), "{lines:?}");
    assert!(sent(&sb.send_nudge())[0].starts_with("MSG 4 U "));
}

/// A calling switchboard with bob joined.
fn with_bob() -> SbSession {
    let mut sb = calling(&["bob@example.com"]);
    sb.start();
    feed(&mut sb, b"USR 1 OK relay@example.com Relay\r\n");
    feed(&mut sb, b"CAL 2 RINGING 1\r\nJOI bob@example.com Bob 0\r\n");
    sb
}

#[test]
fn a_message_that_crosses_our_out_is_still_delivered() {
    let mut sb = with_bob();
    let now = Instant::now();
    assert_eq!(sent(&sb.leave(now)), vec!["OUT\r\n"]);
    assert!(sb.is_closed(), "a leaving switchboard takes nothing new");
    let text = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nwait, one more thing";
    let out = feed(&mut sb, msg("bob@example.com", text).as_bytes());
    assert!(
        out.iter().any(
            |o| matches!(o, SbOutput::Event(SbEvent::Message { text, .. }) if text == "wait, one more thing")
        ),
        "{out:?}"
    );
    // The server's goodbye ends it.
    let out = feed(&mut sb, b"OUT\r\n");
    assert!(
        out.iter().any(|o| matches!(o, SbOutput::Closed { .. })),
        "{out:?}"
    );
}

#[test]
fn a_left_switchboard_closes_after_the_grace_period_and_fails_what_was_queued() {
    let mut sb = calling(&["bob@example.com"]);
    sb.start();
    feed(&mut sb, b"USR 1 OK relay@example.com Relay\r\n");
    // Queued, waiting for bob to join, when the conversation is closed.
    sb.send_text(7, "queued", &TextFormat::default());
    let now = Instant::now();
    let out = sb.leave(now);
    assert!(
        out.iter().any(|o| matches!(
            o,
            SbOutput::Delivery {
                command_id: 7,
                outcome: Delivery::Failed(_)
            }
        )),
        "{out:?}"
    );
    assert!(sb.tick(now + Duration::from_secs(1)).is_empty());
    let out = sb.tick(now + LEAVE_GRACE + Duration::from_secs(1));
    assert!(
        out.iter().any(|o| matches!(o, SbOutput::Closed { .. })),
        "{out:?}"
    );
}

#[test]
fn at_msnp16_we_are_one_place_and_others_count_once_whatever_their_places() {
    let guid = "{7f1b6a2e-0d3c-4b8e-9f00-3a5e8c1d2b44}";
    let mut sb = SbSession::new(
        &format!("relay@example.com;{guid}"),
        Role::Answering {
            session_id: "11752013".into(),
            cookie: "c".into(),
        },
        Instant::now(),
    );
    assert_eq!(
        sent(&sb.start()),
        [format!("ANS 1 relay@example.com;{guid} c 11752013\r\n")]
    );
    let out = feed(
        &mut sb,
        b"IRO 1 1 4 bob@example.com Bob 2789003324:48\r\nIRO 1 2 4 bob@example.com;{4059a9be-0000-4000-8000-000000000001} Bob 2789003324:48\r\nIRO 1 3 4 relay@example.com;{3c9d0000-0000-4000-8000-000000000002} Relay 2789003324:48\r\nIRO 1 4 4 relay@example.com Relay 2789003324:48\r\nANS 1 OK\r\n",
    );
    let joined: Vec<&SbOutput> = out
        .iter()
        .filter(|o| matches!(o, SbOutput::Event(SbEvent::Joined { .. })))
        .collect();
    assert_eq!(
        joined,
        [&SbOutput::Event(SbEvent::Joined {
            handle: "bob@example.com".into(),
            friendly_name: "Bob".into()
        })]
    );
    // One of bob's places leaves: bob is still here.
    assert!(feed(
        &mut sb,
        b"BYE bob@example.com;{4059a9be-0000-4000-8000-000000000001}\r\n"
    )
    .is_empty());
    assert!(sb.has_participant("bob@example.com"));
    // What the account's other place writes is an echo, not a customer line.
    let text = "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\nI'll take this one";
    let out = feed(&mut sb, msg("relay@example.com", text).as_bytes());
    assert_eq!(
        out,
        [SbOutput::Event(SbEvent::Echo {
            text: "I'll take this one".into(),
            format: TextFormat::default()
        })]
    );
    let out = feed(
        &mut sb,
        msg(
            "bob@example.com;{4059a9be-0000-4000-8000-000000000001}",
            "MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nthanks",
        )
        .as_bytes(),
    );
    assert!(
        matches!(&out[0], SbOutput::Event(SbEvent::Message { from, text, .. }) if from == "bob@example.com" && text == "thanks")
    );
}
