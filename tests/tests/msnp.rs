//! msn-worker against the MSN simulator over real sockets, for the oldest
//! and newest dialects we speak. The test plays the bouncer over IPC.

use std::time::Duration;

use ipc::{
    Command, CommandResult, ConversationTarget, Delivery, Event, FailureKind, SignOutClass, Status,
    TextFormat,
};
use msn_sim::{Received, SimConfig, Simulator, AL, FL};
use msnbnc_tests::worker::{Options, Worker, ACCOUNT, PASSWORD, SOON};

const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.com";
const DIALECTS: [u8; 3] = [8, 12, 18];

async fn sim() -> Simulator {
    Simulator::start(
        SimConfig::default()
            .account(ACCOUNT, PASSWORD, "Support Desk")
            .customer(BOB, "Bob B")
            .customer(CAROL, "Carol")
            .customer("dave@example.com", "Dave")
            .friends(ACCOUNT, BOB)
            .friends(ACCOUNT, CAROL),
    )
    .await
    .expect("simulator")
}

async fn online(sim: &Simulator, dialect: u8) -> Worker {
    let mut w = Worker::start(sim, Options::new(dialect)).await.expect("worker");
    w.signed_in().await.expect("signed in");
    // Visible (first CHG answered) before anyone can invite us.
    assert!(sim.wait_until(SOON, |s| s.is_online(ACCOUNT)).await);
    w
}

#[tokio::test]
async fn login_reports_version_name_and_roster() {
    for dialect in DIALECTS {
        let sim = sim().await;
        let mut w = Worker::start(&sim, Options::new(dialect)).await.unwrap();
        let (signed_in, roster) = w.signed_in().await.unwrap();
        assert_eq!(
            signed_in,
            Event::SignedIn {
                account: ACCOUNT.into(),
                friendly_name: "Support Desk".into(),
                protocol: dialect
            }
        );
        let Event::Roster { contacts, groups } = roster else {
            panic!()
        };
        let handles: Vec<&str> = contacts.iter().map(|c| c.handle.as_str()).collect();
        assert_eq!(handles, vec![BOB, CAROL], "MSNP{dialect}");
        assert!(contacts.iter().all(|c| c.lists & (FL | AL) == FL | AL));
        // MSNP13+ leaves groups out (IRC has none); before, one is listed.
        assert_eq!(groups.len(), usize::from(dialect < 13), "MSNP{dialect}");
        assert!(
            sim.wait_until(SOON, |s| s.status(ACCOUNT).as_deref() == Some("NLN"))
                .await
        );
    }
}

#[tokio::test]
async fn wrong_password_and_unknown_account_are_wrong_credentials() {
    for dialect in DIALECTS {
        let sim = sim().await;
        for (account, password) in [(ACCOUNT, "not it"), ("nobody@example.com", PASSWORD)] {
            let mut options = Options::new(dialect);
            options.account = account.into();
            options.password = password.into();
            let mut w = Worker::start(&sim, options).await.unwrap();
            let e = w
                .wait_event(SOON, |e| matches!(e, Event::SignedOut { .. }))
                .await
                .unwrap();
            assert!(
                matches!(&e, Event::SignedOut { class: SignOutClass::WrongCredentials, reason, .. } if reason.contains("refused the account or password")),
                "MSNP{dialect} {account}: {e:?}"
            );
            assert!(w.exited(SOON).await.unwrap().success());
        }
        assert_eq!(sim.logins(), 0);
    }
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_failure() {
    let sim = sim().await;
    let mut options = Options::new(12);
    options.trust_sim_ca = false;
    let mut w = Worker::start(&sim, options).await.unwrap();
    let e = w
        .wait_event(SOON, |e| matches!(e, Event::SignedOut { .. }))
        .await
        .unwrap();
    assert!(
        matches!(&e, Event::SignedOut { class: SignOutClass::Tls, reason, .. } if reason.contains("UnknownIssuer")),
        "{e:?}"
    );
}

#[tokio::test]
async fn passport_redirects_are_followed_with_the_same_credentials() {
    let sim = sim().await;
    let mut options = Options::new(12);
    options.login_url = Some(sim.redirecting_login_url());
    let mut w = Worker::start(&sim, options).await.unwrap();
    w.signed_in().await.unwrap();
}

#[tokio::test]
async fn a_dalogin_without_scheme_is_taken_as_https() {
    let config = SimConfig {
        dalogin_without_scheme: true,
        ..SimConfig::default()
    }
    .account(ACCOUNT, PASSWORD, "Desk");
    let sim = Simulator::start(config).await.unwrap();
    let mut w = Worker::start(&sim, Options::new(8)).await.unwrap();
    w.signed_in().await.unwrap();
}

#[tokio::test]
async fn a_dispatch_server_redirect_is_followed() {
    let sim = Simulator::start(
        SimConfig {
            dispatch: true,
            ..SimConfig::default()
        }
        .account(ACCOUNT, PASSWORD, "Desk"),
    )
    .await
    .unwrap();
    let mut w = Worker::start(&sim, Options::new(8)).await.unwrap();
    w.signed_in().await.unwrap();
    assert!(
        sim.transcript()
            .iter()
            .filter(|l| l.starts_with("NS< VER"))
            .count()
            == 2
    );
}

#[tokio::test]
async fn presence_changes_arrive_as_events() {
    for dialect in DIALECTS {
        let sim = sim().await;
        let mut w = online(&sim, dialect).await;
        let bob = sim.customer(BOB);
        bob.sign_in("AWY");
        let e = w
            .wait_event(
                SOON,
                |e| matches!(e, Event::Presence { handle, .. } if handle == BOB),
            )
            .await
            .unwrap();
        assert!(
            matches!(
                e,
                Event::Presence {
                    status: Status::Away,
                    ..
                }
            ),
            "{e:?}"
        );
        bob.set_name("Bobby Tables");
        let e = w
            .wait_event(
                SOON,
                |e| matches!(e, Event::Presence { friendly_name: Some(n), .. } if n == "Bobby Tables"),
            )
            .await;
        assert!(e.is_ok(), "MSNP{dialect}: {e:?}");
        if dialect >= 11 {
            bob.set_personal_message("out <fishing> & back");
            w.wait_event(SOON, |e| matches!(e, Event::Presence { personal_message: Some(p), .. } if p == "out <fishing> & back"))
                .await
                .unwrap();
        }
        bob.sign_out();
        w.wait_event(
            SOON,
            |e| matches!(e, Event::Presence { handle, status: Status::Offline, .. } if handle == BOB),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn customer_messages_typing_and_nudges_reach_the_account() {
    for dialect in DIALECTS {
        let sim = sim().await;
        let mut w = online(&sim, dialect).await;
        let bob = sim.customer(BOB);
        bob.sign_in("NLN");
        bob.say(ACCOUNT, "hello, is anyone there? ✓").await.unwrap();
        let joined = w
            .wait_event(SOON, |e| matches!(e, Event::ConversationJoined { .. }))
            .await
            .unwrap();
        let Event::ConversationJoined {
            conversation,
            handle,
            friendly_name,
        } = joined
        else {
            panic!()
        };
        assert_eq!((handle.as_str(), friendly_name.as_str()), (BOB, "Bob B"));
        let msg = w
            .wait_event(SOON, |e| matches!(e, Event::Message { .. }))
            .await
            .unwrap();
        let Event::Message {
            conversation: c,
            from,
            text,
            format,
        } = msg
        else {
            panic!()
        };
        assert_eq!(
            (c, from.as_str(), text.as_str()),
            (conversation, BOB, "hello, is anyone there? ✓")
        );
        assert!(format.bold && format.color == Some([255, 0, 0]), "{format:?}");
        bob.typing(ACCOUNT).await.unwrap();
        w.wait_event(
            SOON,
            |e| matches!(e, Event::Typing { conversation: c, from } if *c == conversation && from == BOB),
        )
        .await
        .unwrap();
        bob.nudge(ACCOUNT).await.unwrap();
        w.wait_event(SOON, |e| matches!(e, Event::Nudge { from, .. } if from == BOB))
            .await
            .unwrap();
        bob.offer_file(ACCOUNT).await.unwrap();
        w.wait_event(
            SOON,
            |e| matches!(e, Event::Notice(n) if n.contains("File Transfer") && n.contains("declined")),
        )
        .await
        .unwrap();
        let declined = bob
            .wait_for(
                SOON,
                |r| matches!(r, Received::Other { body, .. } if body.contains("Invitation-Command: CANCEL")),
            )
            .await;
        assert!(
            declined.is_some(),
            "MSNP{dialect}: the invitation was not declined"
        );
        // The old way needs a direct connection: the customer is told why.
        assert!(
            bob.wait_for(
                SOON,
                |r| matches!(r, Received::Text { text, .. } if text.contains("send a link to the file"))
            )
            .await
            .is_some(),
            "MSNP{dialect}: {:?}",
            bob.texts()
        );
    }
}

#[tokio::test]
async fn account_messages_reach_the_customer_through_a_new_switchboard() {
    for dialect in DIALECTS {
        let sim = sim().await;
        let mut w = online(&sim, dialect).await;
        let bob = sim.customer(BOB);
        bob.sign_in("NLN");
        let id = w
            .command(Command::SendMessage {
                to: ConversationTarget::Contact(BOB.into()),
                text: "Hi Bob, how can we help?\nSecond line".into(),
                format: TextFormat {
                    italic: true,
                    color: Some([0, 0, 255]),
                    ..TextFormat::default()
                },
            })
            .await
            .unwrap();
        w.wait_event(SOON, |e| matches!(e, Event::Delivery { command_id, outcome: Delivery::Delivered } if *command_id == id))
            .await
            .unwrap();
        let got = bob
            .wait_for(SOON, |r| matches!(r, Received::Text { .. }))
            .await
            .unwrap();
        let Received::Text { text, format, .. } = got else {
            panic!()
        };
        assert_eq!(text, "Hi Bob, how can we help?\nSecond line");
        let format = format.unwrap_or_default();
        assert!(
            format.contains("EF=I") && format.contains("CO=ff0000"),
            "{format}"
        );
        // Typing and a nudge into the same conversation.
        let conversation = match w
            .wait_event(SOON, |e| matches!(e, Event::ConversationJoined { .. }))
            .await
            .unwrap()
        {
            Event::ConversationJoined { conversation, .. } => conversation,
            _ => unreachable!(),
        };
        assert_eq!(
            w.run(Command::SendTyping {
                to: ConversationTarget::Existing(conversation)
            })
            .await
            .unwrap(),
            CommandResult::Ok
        );
        assert!(bob
            .wait_for(SOON, |r| matches!(r, Received::Typing { .. }))
            .await
            .is_some());
        assert_eq!(
            w.run(Command::SendNudge {
                to: ConversationTarget::Existing(conversation)
            })
            .await
            .unwrap(),
            CommandResult::Ok
        );
        assert!(
            bob.wait_for(SOON, |r| matches!(r, Received::Nudge { .. }))
                .await
                .is_some(),
            "MSNP{dialect}"
        );
    }
}

#[tokio::test]
async fn a_message_to_an_offline_contact_fails_with_217() {
    for dialect in [8, 12] {
        let sim = sim().await;
        let mut w = online(&sim, dialect).await;
        let e = w
            .deliver(
                ConversationTarget::Contact(CAROL.into()),
                "are you there?",
                TextFormat::default(),
            )
            .await
            .unwrap();
        assert!(
            matches!(&e, Delivery::Failed(f) if f.kind == FailureKind::ContactOffline && f.detail.contains("217")),
            "MSNP{dialect}: {e:?}"
        );
    }
}

#[tokio::test]
async fn multi_party_conversations_share_one_conversation() {
    for dialect in DIALECTS {
        let sim = sim().await;
        let mut w = online(&sim, dialect).await;
        let (bob, carol) = (sim.customer(BOB), sim.customer(CAROL));
        bob.sign_in("NLN");
        carol.sign_in("NLN");
        let room = bob.say(ACCOUNT, "I'm bringing Carol in").await.unwrap();
        bob.invite(room, CAROL).unwrap();
        let first = w
            .wait_event(
                SOON,
                |e| matches!(e, Event::ConversationJoined { handle, .. } if handle == BOB),
            )
            .await
            .unwrap();
        let second = w
            .wait_event(
                SOON,
                |e| matches!(e, Event::ConversationJoined { handle, .. } if handle == CAROL),
            )
            .await
            .unwrap();
        let (
            Event::ConversationJoined { conversation: a, .. },
            Event::ConversationJoined { conversation: b, .. },
        ) = (first, second)
        else {
            panic!()
        };
        assert_eq!(a, b, "MSNP{dialect}: one conversation with both");
        // Carol speaks in the room she was invited into (the one she shares with us).
        assert_eq!(carol.say(ACCOUNT, "hi all").await.unwrap(), room);
        w.wait_event(
            SOON,
            |e| matches!(e, Event::Message { from, conversation, .. } if from == CAROL && *conversation == a),
        )
        .await
        .unwrap();
        assert_eq!(
            w.deliver(
                ConversationTarget::Existing(a),
                "hello both",
                TextFormat::default()
            )
            .await
            .unwrap(),
            Delivery::Delivered
        );
        assert!(bob
            .wait_for(
                SOON,
                |r| matches!(r, Received::Text { text, .. } if text == "hello both")
            )
            .await
            .is_some());
        assert!(carol
            .wait_for(
                SOON,
                |r| matches!(r, Received::Text { text, .. } if text == "hello both")
            )
            .await
            .is_some());
        bob.leave(room);
        w.wait_event(
            SOON,
            |e| matches!(e, Event::ConversationLeft { handle, .. } if handle == BOB),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn a_closed_switchboard_is_reopened_for_the_next_message() {
    for dialect in DIALECTS {
        let sim = sim().await;
        let mut w = online(&sim, dialect).await;
        let bob = sim.customer(BOB);
        bob.sign_in("NLN");
        bob.say(ACCOUNT, "first").await.unwrap();
        let conversation = match w
            .wait_event(SOON, |e| matches!(e, Event::Message { .. }))
            .await
            .unwrap()
        {
            Event::Message { conversation, .. } => conversation,
            _ => unreachable!(),
        };
        sim.close_switchboards();
        assert_eq!(sim.switchboards(), 0);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            w.deliver(
                ConversationTarget::Existing(conversation),
                "still here",
                TextFormat::default()
            )
            .await
            .unwrap(),
            Delivery::Delivered
        );
        assert!(
            bob.wait_for(
                SOON,
                |r| matches!(r, Received::Text { text, .. } if text == "still here")
            )
            .await
            .is_some(),
            "MSNP{dialect}"
        );
        // Bob's next message lands in the same conversation.
        bob.say(ACCOUNT, "good").await.unwrap();
        w.wait_event(SOON, |e| matches!(e, Event::Message { conversation: c, text, .. } if *c == conversation && text == "good"))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn a_message_that_crosses_our_leaving_opens_a_new_conversation() {
    // The server acts on our OUT only after a while: bob's next message
    // reaches the switchboard we are leaving.
    let sim = Simulator::start(
        SimConfig {
            out_delay: Duration::from_millis(500),
            ..SimConfig::default()
        }
        .account(ACCOUNT, PASSWORD, "Support Desk")
        .customer(BOB, "Bob B")
        .friends(ACCOUNT, BOB),
    )
    .await
    .unwrap();
    let mut w = online(&sim, 12).await;
    let bob = sim.customer(BOB);
    bob.sign_in("NLN");
    let room = bob.say(ACCOUNT, "first").await.unwrap();
    let conversation = match w
        .wait_event(SOON, |e| matches!(e, Event::Message { .. }))
        .await
        .unwrap()
    {
        Event::Message { conversation, .. } => conversation,
        _ => unreachable!(),
    };
    assert_eq!(
        w.run(Command::CloseConversation(conversation)).await.unwrap(),
        CommandResult::Ok
    );
    w.wait_event(
        SOON,
        |e| matches!(e, Event::ConversationClosed(c) if *c == conversation),
    )
    .await
    .unwrap();
    assert_eq!(
        bob.say(ACCOUNT, "wait, one more thing").await.unwrap(),
        room,
        "the old room"
    );
    let fresh = match w
        .wait_event(
            SOON,
            |e| matches!(e, Event::Message { text, .. } if text == "wait, one more thing"),
        )
        .await
        .unwrap()
    {
        Event::Message { conversation, .. } => conversation,
        _ => unreachable!(),
    };
    assert_ne!(fresh, conversation, "the closed conversation stays closed");
    // The answer goes out through a new switchboard.
    assert_eq!(
        w.deliver(ConversationTarget::Existing(fresh), "sure", TextFormat::default())
            .await
            .unwrap(),
        Delivery::Delivered
    );
    assert!(bob
        .wait_for(
            SOON,
            |r| matches!(r, Received::Text { text, .. } if text == "sure")
        )
        .await
        .is_some());
}

#[tokio::test]
async fn add_requests_are_accepted_automatically() {
    for dialect in DIALECTS {
        let sim = sim().await;
        let mut w = online(&sim, dialect).await;
        let dave = sim.customer("dave@example.com");
        dave.sign_in("NLN");
        dave.add(ACCOUNT);
        w.wait_event(
            SOON,
            |e| matches!(e, Event::Notice(n) if n.contains("dave@example.com") && n.contains("accepted")),
        )
        .await
        .unwrap();
        assert!(
            sim.wait_until(SOON, |s| s.lists(ACCOUNT, "dave@example.com") & (FL | AL)
                == FL | AL)
                .await,
            "MSNP{dialect}: dave was not added back"
        );
        // And now he can talk to support.
        dave.say(ACCOUNT, "thanks for adding me").await.unwrap();
        w.wait_event(
            SOON,
            |e| matches!(e, Event::Message { from, .. } if from == "dave@example.com"),
        )
        .await
        .unwrap();
    }
}

#[tokio::test]
async fn add_requests_are_forwarded_when_not_automatic() {
    let sim = sim().await;
    let mut options = Options::new(12);
    options.auto_accept = false;
    let mut w = Worker::start(&sim, options).await.unwrap();
    w.signed_in().await.unwrap();
    assert!(sim.wait_until(SOON, |s| s.is_online(ACCOUNT)).await);
    sim.customer("dave@example.com").add(ACCOUNT);
    w.wait_event(
        SOON,
        |e| matches!(e, Event::AddRequest { handle, .. } if handle == "dave@example.com"),
    )
    .await
    .unwrap();
    assert_eq!(
        w.run(Command::AcceptAddRequest("dave@example.com".into()))
            .await
            .unwrap(),
        CommandResult::Ok
    );
    assert_eq!(sim.lists(ACCOUNT, "dave@example.com") & (FL | AL), FL | AL);
}

#[tokio::test]
async fn account_commands_change_name_status_and_personal_message() {
    for dialect in DIALECTS {
        let sim = sim().await;
        let mut w = online(&sim, dialect).await;
        assert_eq!(
            w.run(Command::SetFriendlyName("Support (Mon-Fri)".into()))
                .await
                .unwrap(),
            CommandResult::Ok
        );
        assert_eq!(sim.friendly_name(ACCOUNT).as_deref(), Some("Support (Mon-Fri)"));
        assert_eq!(
            w.run(Command::SetStatus(Status::Busy)).await.unwrap(),
            CommandResult::Ok
        );
        assert_eq!(sim.status(ACCOUNT).as_deref(), Some("BSY"));
        let psm = w
            .run(Command::SetPersonalMessage("We answer within 5 minutes".into()))
            .await
            .unwrap();
        if dialect >= 11 {
            assert_eq!(psm, CommandResult::Ok);
            assert_eq!(
                sim.personal_message(ACCOUNT).as_deref(),
                Some("We answer within 5 minutes")
            );
        } else {
            assert!(matches!(psm, CommandResult::Failed(_)));
        }
        assert_eq!(
            w.run(Command::BlockContact(BOB.into())).await.unwrap(),
            CommandResult::Ok
        );
        assert_ne!(sim.lists(ACCOUNT, BOB) & msn_sim::BL, 0);
        assert_eq!(
            w.run(Command::UnblockContact(BOB.into())).await.unwrap(),
            CommandResult::Ok
        );
        assert_eq!(sim.lists(ACCOUNT, BOB) & msn_sim::BL, 0);
    }
}

#[tokio::test]
async fn challenges_are_answered_and_accepted() {
    for (dialect, expected) in [
        (8, " msmsgs@msnmsgr.com 32 [8f2f5a91b72102cd28355e9fc9000d6e]"),
        (12, " PROD0101{0RM?UBW 32 ["),
    ] {
        let sim = sim().await;
        let mut w = online(&sim, dialect).await;
        sim.send_raw(ACCOUNT, b"CHL 0 15570131571988941333\r\n");
        assert!(
            sim.wait_until(SOON, |s| s.transcript().iter().any(|l| l.contains(expected)))
                .await,
            "MSNP{dialect}: {:#?}",
            sim.transcript()
        );
        // A wrong answer would have been a 540 and a disconnect.
        assert_eq!(
            w.run(Command::SetStatus(Status::Away)).await.unwrap(),
            CommandResult::Ok
        );
    }
}

#[tokio::test]
async fn nak_and_not_listed_are_reported_per_message() {
    for dialect in DIALECTS {
        let sim = sim().await;
        let mut w = online(&sim, dialect).await;
        let bob = sim.customer(BOB);
        bob.sign_in("NLN");
        bob.refuse_messages(true);
        let e = w
            .deliver(
                ConversationTarget::Contact(BOB.into()),
                "x",
                TextFormat::default(),
            )
            .await
            .unwrap();
        assert!(
            matches!(&e, Delivery::Failed(f) if f.kind == FailureKind::Rejected),
            "{e:?}"
        );
        // Dave does not list the account and the account does not list him.
        sim.customer("dave@example.com").sign_in("NLN");
        let e = w
            .deliver(
                ConversationTarget::Contact("dave@example.com".into()),
                "hello stranger",
                TextFormat::default(),
            )
            .await
            .unwrap();
        assert!(
            matches!(&e, Delivery::Failed(f) if f.kind == FailureKind::NotOnList && f.detail.contains("205")),
            "MSNP{dialect}: {e:?}"
        );
    }
}

#[tokio::test]
async fn a_second_login_elsewhere_kicks_the_first_and_it_stays_out() {
    for dialect in DIALECTS {
        let sim = sim().await;
        let mut first = online(&sim, dialect).await;
        let mut second = Worker::start(&sim, Options::new(12)).await.unwrap();
        second.signed_in().await.unwrap();
        let e = first
            .wait_event(SOON, |e| matches!(e, Event::SignedOut { .. }))
            .await
            .unwrap();
        assert!(
            matches!(
                e,
                Event::SignedOut {
                    class: SignOutClass::SignedInElsewhere,
                    ..
                }
            ),
            "{e:?}"
        );
        assert!(first.exited(SOON).await.unwrap().success());
        assert_eq!(
            sim.logins(),
            2,
            "MSNP{dialect}: the kicked worker must not log in again"
        );
    }
}

#[tokio::test]
async fn signed_in_elsewhere_is_fatal_and_not_retried() {
    for dialect in DIALECTS {
        for keep_socket in [false, true] {
            let config = SimConfig {
                keep_socket_after_oth: keep_socket,
                ..SimConfig::default()
            }
            .account(ACCOUNT, PASSWORD, "Desk");
            let sim = Simulator::start(config).await.unwrap();
            let mut w = online(&sim, dialect).await;
            sim.sign_in_elsewhere(ACCOUNT);
            let e = w
                .wait_event(SOON, |e| matches!(e, Event::SignedOut { .. }))
                .await
                .unwrap();
            assert!(
                matches!(
                    e,
                    Event::SignedOut {
                        class: SignOutClass::SignedInElsewhere,
                        ..
                    }
                ),
                "{e:?}"
            );
            // The worker closes even a socket the server leaves open, and exits.
            assert!(w.exited(SOON).await.unwrap().success());
            assert_eq!(sim.logins(), 1, "MSNP{dialect}: must not log in again");
        }
    }
}

#[tokio::test]
async fn a_closed_connection_and_a_dead_server_end_the_session_as_transient() {
    for dialect in DIALECTS {
        let sim = sim().await;
        let mut w = online(&sim, dialect).await;
        sim.drop_connection(ACCOUNT);
        let e = w
            .wait_event(SOON, |e| matches!(e, Event::SignedOut { .. }))
            .await
            .unwrap();
        assert!(
            matches!(
                e,
                Event::SignedOut {
                    class: SignOutClass::Transient,
                    ..
                }
            ),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn a_keepalive_timeout_is_detected() {
    let sim = Simulator::start(
        SimConfig {
            qng_interval: 1,
            ..SimConfig::default()
        }
        .account(ACCOUNT, PASSWORD, "Desk"),
    )
    .await
    .unwrap();
    let mut w = online(&sim, 12).await;
    assert!(
        sim.wait_until(SOON, |s| s.transcript().iter().any(|l| l == "NS< PNG"))
            .await,
        "no ping"
    );
    sim.answer_pings(false);
    let e = w
        .wait_event(Duration::from_secs(15), |e| matches!(e, Event::SignedOut { .. }))
        .await
        .unwrap();
    assert!(
        matches!(&e, Event::SignedOut { class: SignOutClass::Transient, reason, .. } if reason.contains("keep-alive")),
        "{e:?}"
    );
}

#[tokio::test]
async fn garbage_from_the_server_is_skipped_and_a_bad_length_ends_the_session() {
    let sim = sim().await;
    let mut w = online(&sim, 12).await;
    sim.send_raw(ACCOUNT, b"\xff\xfe garbage\r\nhello world\r\nZZZZ 1 2 3\r\n\r\n");
    let bob = sim.customer(BOB);
    bob.sign_in("NLN");
    w.wait_event(
        SOON,
        |e| matches!(e, Event::Presence { handle, .. } if handle == BOB),
    )
    .await
    .unwrap();
    sim.send_raw(ACCOUNT, b"MSG Hotmail Hotmail 999999999999\r\n");
    let e = w
        .wait_event(SOON, |e| matches!(e, Event::SignedOut { .. }))
        .await
        .unwrap();
    assert!(
        matches!(
            &e,
            Event::SignedOut {
                class: SignOutClass::ProtocolError,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_maintenance_warning_becomes_a_notice() {
    let sim = sim().await;
    let mut w = online(&sim, 8).await;
    sim.maintenance(5);
    w.wait_event(
        SOON,
        |e| matches!(e, Event::Notice(n) if n.contains("maintenance in 5 minutes")),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn at_msnp16_and_later_a_second_place_of_the_account_leaves_the_first_signed_in() {
    let sim = sim().await;
    let mut first = online(&sim, 18).await;
    let mut options = Options::new(18);
    options.machine_guid = "{00000000-0000-4000-8000-0000000000aa}".into();
    let mut second = Worker::start(&sim, options).await.unwrap();
    second.signed_in().await.unwrap();
    // Another place is no reason to leave: no OUT OTH, both stay.
    let kicked = first
        .wait_event(Duration::from_secs(2), |e| matches!(e, Event::SignedOut { .. }))
        .await;
    assert!(kicked.is_err(), "the first place was signed out: {kicked:?}");
    assert_eq!(sim.logins(), 2);
    // The same place signing in again replaces it, as a reconnect does.
    let mut again = Worker::start(&sim, Options::new(18)).await.unwrap();
    again.signed_in().await.unwrap();
    let e = first
        .wait_event(SOON, |e| matches!(e, Event::SignedOut { .. }))
        .await
        .unwrap();
    assert!(
        matches!(
            e,
            Event::SignedOut {
                class: SignOutClass::SignedInElsewhere,
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn from_msnp13_a_message_to_an_offline_contact_is_left_as_an_offline_message() {
    // MSNP15: the store service and its lock-key challenge; MSNP18: UUM.
    for dialect in [15, 18] {
        let sim = sim().await;
        let mut w = online(&sim, dialect).await;
        let e = w
            .deliver(
                ConversationTarget::Contact(CAROL.into()),
                "we shipped your order",
                TextFormat::default(),
            )
            .await
            .unwrap();
        assert_eq!(e, Delivery::Offline, "MSNP{dialect}");
        assert!(
            sim.wait_until(SOON, |s| s
                .offline_messages(CAROL)
                .iter()
                .any(|(_, t)| t == "we shipped your order"))
                .await,
            "MSNP{dialect}: {:?}",
            sim.offline_messages(CAROL)
        );
    }
}

#[tokio::test]
async fn offline_messages_waiting_at_sign_in_are_fetched_and_deleted_when_kept() {
    for dialect in [13, 15, 18] {
        let sim = sim().await;
        sim.customer(BOB)
            .leave_offline_message(ACCOUNT, "my order never came\nnumber 1234");
        let mut w = online(&sim, dialect).await;
        let e = w
            .wait_event(SOON, |e| matches!(e, Event::OfflineMessage { .. }))
            .await
            .unwrap();
        let Event::OfflineMessage {
            id,
            from,
            text,
            sent_ms,
        } = e
        else {
            panic!()
        };
        assert_eq!(
            (from.as_str(), text.as_str()),
            (BOB, "my order never came\nnumber 1234"),
            "MSNP{dialect}"
        );
        assert!(sent_ms.is_some());
        // It stays on the server until the bouncer has kept it.
        assert_eq!(sim.offline_messages(ACCOUNT).len(), 1);
        assert_eq!(
            w.run(Command::DeleteOfflineMessages(vec![id])).await.unwrap(),
            CommandResult::Ok
        );
        assert!(sim.offline_messages(ACCOUNT).is_empty(), "MSNP{dialect}");
        // One left while we are online is announced and fetched at once.
        sim.customer(CAROL).leave_offline_message(ACCOUNT, "ping");
        let e = w
            .wait_event(
                SOON,
                |e| matches!(e, Event::OfflineMessage { text, .. } if text == "ping"),
            )
            .await;
        assert!(e.is_ok(), "MSNP{dialect}: {e:?}");
    }
}

#[tokio::test]
async fn more_offline_messages_than_the_mail_data_holds_are_listed_through_the_service() {
    let sim = sim().await;
    let bob = sim.customer(BOB);
    for i in 0..30 {
        bob.leave_offline_message(ACCOUNT, &format!("note {i}"));
    }
    // The mail data says `too-large`: GetMetadata lists them.
    let mut w = online(&sim, 18).await;
    let mut got = std::collections::BTreeSet::new();
    while got.len() < 30 {
        let e = w
            .wait_event(SOON, |e| matches!(e, Event::OfflineMessage { .. }))
            .await
            .unwrap();
        if let Event::OfflineMessage { text, .. } = e {
            got.insert(text);
        }
    }
    assert!(got.contains("note 0") && got.contains("note 29"));
}
