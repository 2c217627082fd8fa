//! The hub's behaviour, with no sockets: worker events and client lines
//! in, the lines each client gets and the worker's commands out.

use ipc::{Command, ConversationTarget, Event};

use super::harness::{Harness, EVERY_CAP};
use crate::irc::cap::Cap;
use crate::supervisor::WorkerState;

pub(super) const BOB: &str = "bob@example.com";

pub(super) fn has(lines: &[String], text: &str) -> bool {
    lines.iter().any(|l| l.contains(text))
}

#[test]
fn a_customer_line_is_shown_only_once_it_is_stored() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    h.end_turn_only(|hub| {
        super::msn_events::event(
            hub,
            &Event::Message {
                conversation: 1,
                from: BOB.into(),
                text: "is anyone there?".into(),
                format: ipc::TextFormat::default(),
            },
        );
    });
    let before = h.got(alice);
    assert!(
        has(&before, " JOIN #bob"),
        "the channel opens at once: {before:#?}"
    );
    assert!(
        !has(&before, "is anyone there?"),
        "not before it is stored: {before:#?}"
    );
    h.settle();
    let after = h.got(alice);
    assert!(
        has(&after, ":bob!bob@example.com PRIVMSG #bob :is anyone there?"),
        "{after:#?}"
    );
    let stored = h.store().latest(1, None, 10).unwrap();
    assert_eq!(stored[0].text, "is anyone there?");
}

#[test]
fn nothing_overtakes_a_line_waiting_for_its_commit() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    let ping: irc_proto::Message = "PING :after".parse().unwrap();
    h.end_turn_only(|hub| {
        hub.on_worker(&crate::supervisor::Update::Event(Event::Message {
            conversation: 1,
            from: BOB.into(),
            text: "first".into(),
            format: ipc::TextFormat::default(),
        }));
    });
    h.end_turn_only(|hub| hub.on_client(crate::irc::conn::ClientEvent::Line(alice, Box::new(ping))));
    h.settle();
    let got = h.got(alice);
    let first = got.iter().position(|l| l.ends_with(":first"));
    let pong = got.iter().position(|l| l.contains("PONG"));
    assert!(first.is_some() && first < pong, "{got:#?}");
}

#[test]
fn a_store_that_fails_is_announced_lines_are_still_shown_and_recording_resumes() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, &[]);
    // As if the disk failed under the writer.
    h.store_fails(true);
    h.customer_says(1, BOB, "lost line");
    let got = h.got(alice);
    assert!(
        has(&got, "NOTICE &msn :history is NOT being recorded"),
        "{got:#?}"
    );
    assert!(has(&got, "PRIVMSG #bob :lost line"), "still shown: {got:#?}");
    assert!(h.hub.history.broken().is_some());
    // Someone attaching now is told too.
    let zoe = h.attach("zoe", None, &[]);
    let got = h.got(zoe);
    assert!(
        has(&got, "NOTICE &msn :history is NOT being recorded"),
        "{got:#?}"
    );
    h.store_fails(false);
    h.customer_says(1, BOB, "kept line");
    let got = h.got(alice);
    assert!(has(&got, "history is being recorded again"), "{got:#?}");
    assert!(h.hub.history.broken().is_none());
    let texts = h.stored_texts(1);
    assert_eq!(texts, ["kept line"]);
}

#[test]
fn two_conversations_shown_under_one_name_keep_their_own_history() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB, "carol@example.com"]);
    let alice = h.attach("alice", None, EVERY_CAP);
    // Bob's conversation becomes a group one, and closes.
    h.customer_says(1, BOB, "just me");
    h.worker(Event::ConversationJoined {
        conversation: 1,
        handle: "carol@example.com".into(),
        friendly_name: "Carol".into(),
    });
    h.customer_says(1, "carol@example.com", "and me");
    h.worker(Event::ConversationClosed(1));
    // Bob alone again: a conversation of its own, shown as #bob again.
    h.customer_says(2, BOB, "alone again");
    h.got(alice);
    h.line(alice, "CHATHISTORY LATEST #bob * 10");
    let got = h.got(alice);
    assert!(has(&got, "PRIVMSG #bob :alone again"), "{got:#?}");
    assert!(!has(&got, "and me") && !has(&got, "just me"), "{got:#?}");
    let records: Vec<i64> = h.hub.conversations.iter().map(|c| c.id).collect();
    assert_eq!(records.len(), 1);
    let old = h.store().conversation(1).unwrap().unwrap();
    assert_eq!(old.customers, ["bob@example.com", "carol@example.com"]);
}

#[test]
fn an_outage_leaves_channels_dormant_and_writing_there_reopens_the_conversation() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let zoe = h.attach("zoe", None, &[]);
    h.customer_says(1, BOB, "hello");
    h.worker_state(WorkerState::Restarting {
        after: std::time::Duration::from_secs(1),
        reason: "killed".into(),
    });
    let got = h.got(zoe);
    assert!(has(&got, "NOTICE #bob :MSN connection lost"), "{got:#?}");
    h.signed_in(&[]);
    let got = h.got(zoe);
    assert!(has(&got, "NOTICE #bob :MSN connection back"), "{got:#?}");
    h.commands();
    h.line(zoe, "PRIVMSG #bob :Sorry, we were cut off.");
    let sent = h.commands();
    assert!(
        sent.iter().any(
            |c| matches!(c, Command::SendMessage { to: ConversationTarget::Contact(h), .. } if h == BOB)
        ),
        "{sent:?}"
    );
    // Bob answers in a new MSN conversation: the same channel.
    h.customer_says(7, BOB, "no problem");
    let got = h.got(zoe);
    assert!(has(&got, "PRIVMSG #bob :no problem"), "{got:#?}");
    assert!(!has(&got, "JOIN"), "no new channel: {got:#?}");
}

#[test]
fn a_message_to_a_contact_opens_its_channel_at_once_and_reaches_the_worker_after_the_commit() {
    let mut h = Harness::new("");
    h.signed_in(&["carol@example.com"]);
    let (alice, zoe) = (h.attach("alice", None, &[]), h.attach("zoe", None, &[]));
    h.commands();
    h.got(zoe);
    h.line(alice, "PRIVMSG carol :Your refund is on its way.");
    let got = h.got(zoe);
    let join = got.iter().position(|l| l.contains(" JOIN #carol"));
    let line = got
        .iter()
        .position(|l| l.ends_with("PRIVMSG #carol :Your refund is on its way."));
    assert!(join.is_some() && join < line, "{got:#?}");
    let sent = h.commands();
    assert!(
        matches!(&sent[..], [Command::SendMessage { to: ConversationTarget::Contact(c), .. }] if c == "carol@example.com"),
        "{sent:?}"
    );
    let row = h.store().outbox_open().unwrap();
    assert_eq!(row.len(), 1, "in the outbox before the worker had it");
}

#[test]
fn commands_come_from_the_table_with_their_standard_answers() {
    let mut h = Harness::new("");
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    for (line, want) in [
        ("FROBNICATE", " 421 alice FROBNICATE :Unknown command"),
        ("JOIN", " 461 alice JOIN :Not enough parameters"),
        ("PRIVMSG", " 411 alice :No recipient given (PRIVMSG)"),
        ("PRIVMSG #nowhere", " 412 alice :No text to send"),
        ("WHOIS", " 431 alice :No nickname given"),
        ("USER a 0 * :b", " 462 alice :You may not reregister"),
        ("PING :x", "PONG msnbnc :x"),
        ("MODE #nowhere b", " 403 alice #nowhere :No such channel"),
        ("PING", " 409 alice :No origin specified"),
    ] {
        h.line(alice, line);
        let got = h.got(alice);
        assert!(has(&got, want), "{line}: {got:#?}");
    }
}

#[test]
fn a_labelled_history_request_gets_its_labelled_answer_when_the_store_gives_it() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, EVERY_CAP);
    h.customer_says(1, BOB, "one");
    h.got(alice);
    h.line(alice, "@label=abc CHATHISTORY LATEST #bob * 5");
    let got = h.got(alice);
    assert!(
        got[0].starts_with("@label=abc") && got[0].contains("BATCH +"),
        "{got:#?}"
    );
    assert!(has(&got, "PRIVMSG #bob :one"), "{got:#?}");
    assert!(!has(&got, "ACK"), "{got:#?}");
}

#[test]
fn a_device_that_missed_lines_gets_them_replayed_in_order() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let laptop = h.attach("alice", Some("laptop"), &[]);
    h.detach(laptop);
    for text in ["a", "b", "c"] {
        h.customer_says(1, BOB, text);
    }
    let again = h.attach("alice", Some("laptop"), &[Cap::Batch, Cap::ServerTime]);
    let got = h.wait_for(again, "PRIVMSG #bob :c");
    let replayed: Vec<&String> = got.iter().filter(|l| l.contains("PRIVMSG #bob")).collect();
    assert_eq!(replayed.len(), 3, "{got:#?}");
    assert!(
        replayed[0].ends_with(":a") && replayed[2].ends_with(":c"),
        "{got:#?}"
    );
    assert!(replayed.iter().all(|l| l.starts_with("@batch=")), "{got:#?}");
}

#[test]
fn the_service_answers_from_its_table() {
    let mut h = Harness::new("");
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    h.line(alice, "PRIVMSG *msn :help users");
    let got = h.got(alice);
    assert!(
        has(&got, "users add <name> — a staff account, with a new password"),
        "{got:#?}"
    );
    h.line(alice, "PRIVMSG *msn :users add kim");
    let got = h.wait_for(alice, "added kim (staff)");
    let line = got.iter().find(|l| l.contains("added kim")).unwrap();
    let password = line.rsplit(' ').next().unwrap();
    assert_eq!(password.len(), 20, "{line}");
    assert!(h.store().verify("kim", password).unwrap().is_some());
}

#[test]
fn a_slow_login_is_told_in_the_roster_with_its_server_step_and_time() {
    let mut h = Harness::new("");
    let alice = h.attach("alice", None, &[]);
    let login = |step: &str| WorkerState::LoggingIn {
        pid: 7,
        server: "msn.example.net:1863".into(),
        step: step.into(),
        gives_up_after: std::time::Duration::from_secs(60),
    };
    h.worker_state(login("connecting"));
    h.worker_state(login("authenticating with Passport"));
    let start = std::time::Instant::now();
    let at = |s: u64| start + std::time::Duration::from_secs(s);
    h.got(alice);
    h.end_turn_only(|hub| hub.every_second(at(5)));
    assert!(!has(&h.got(alice), "still logging in"), "not yet");
    h.end_turn_only(|hub| hub.every_second(at(16)));
    let got = h.got(alice);
    assert!(
        has(
            &got,
            "NOTICE &msn :MSN worker: still logging in to msn.example.net:1863 (authenticating with Passport), 16 s so far; gives up after 60 s"
        ),
        "{got:#?}"
    );
    h.end_turn_only(|hub| hub.every_second(at(20)));
    assert!(!has(&h.got(alice), "still logging in"), "once per doubling");
    h.end_turn_only(|hub| hub.every_second(at(31)));
    assert!(has(&h.got(alice), "31 s so far"));
    h.line(alice, "PRIVMSG *msn :worker");
    assert!(has(
        &h.got(alice),
        "MSN worker: logging in to msn.example.net:1863 (authenticating with Passport), "
    ));
}

#[test]
fn a_long_back_off_says_when_the_next_attempt_is_each_time_and_how_to_try_now() {
    let mut h = Harness::new("");
    h.signed_in(&[]);
    let alice = h.attach("alice", None, &[]);
    let restarting = |secs: u64| WorkerState::Restarting {
        after: std::time::Duration::from_secs(secs),
        reason: "worker crashed".into(),
    };
    h.worker_state(restarting(2));
    h.worker_state(WorkerState::Starting);
    h.worker_state(restarting(4));
    h.worker_state(WorkerState::Starting);
    h.worker_state(restarting(256));
    let got = h.got(alice);
    let told: Vec<&String> = got
        .iter()
        .filter(|l| l.contains("NOTICE &msn :MSN worker:"))
        .collect();
    assert_eq!(
        told.len(),
        2,
        "the outage's first word, then the long wait: {told:#?}"
    );
    assert!(
        told[1].contains("restarting in 256 s (at ") && told[1].contains("): worker crashed"),
        "{told:#?}"
    );
    assert!(told[1].contains("/msg *msn worker restart"), "{told:#?}");
    h.line(alice, "PRIVMSG *msn :worker");
    let got = h.got(alice);
    assert!(has(&got, "MSN worker: restarting in "), "{got:#?}");
    h.line(alice, "PRIVMSG *msn :worker restart");
    assert!(has(&h.got(alice), "restarting the MSN worker"));
    assert!(
        h.controls()
            .iter()
            .any(|c| matches!(c, crate::supervisor::Control::Restart)),
        "the supervisor is asked to try now"
    );
}
