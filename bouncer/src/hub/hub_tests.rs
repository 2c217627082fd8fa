//! The hub's behaviour, with no sockets: worker events and client lines
//! in, the lines each client gets and the worker's commands out.

use ipc::{Command, ConversationTarget, Event};

use super::harness::{Harness, EVERY_CAP};
use crate::irc::cap::Cap;
use crate::supervisor::WorkerState;

const BOB: &str = "bob@example.com";

fn has(lines: &[String], text: &str) -> bool {
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
    h.hub.store.write(Box::new(|s| {
        s.conn.pragma_update(None, "query_only", true).unwrap();
        Box::new(|_: &mut super::Hub| {})
    }));
    h.customer_says(1, BOB, "lost line");
    let got = h.got(alice);
    assert!(
        has(&got, "NOTICE &msn :history is NOT being recorded"),
        "{got:#?}"
    );
    assert!(has(&got, "PRIVMSG #bob :lost line"), "still shown: {got:#?}");
    assert!(h.hub.history.broken().is_some());
    h.hub.store.write(Box::new(|s| {
        s.conn.pragma_update(None, "query_only", false).unwrap();
        Box::new(|_: &mut super::Hub| {})
    }));
    h.customer_says(1, BOB, "kept line");
    let got = h.got(alice);
    assert!(has(&got, "history is being recorded again"), "{got:#?}");
    assert!(h.hub.history.broken().is_none());
    let texts: Vec<String> = h
        .store()
        .latest(1, None, 10)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
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
fn no_password_is_taken_from_an_irc_line() {
    let mut h = Harness::new("");
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    h.line(alice, "PRIVMSG *msn :users add kim s3cret words");
    assert!(has(&h.got(alice), "no passwords on IRC lines"));
    assert!(h.store().users().unwrap().iter().all(|u| u.name != "kim"));
}

#[test]
fn claiming_is_confirmed_to_the_claimer() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    h.customer_says(1, BOB, "hi");
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    h.line(alice, "PRIVMSG *msn :claim #bob");
    let got = h.got(alice);
    assert!(has(&got, "NOTICE alice :#bob is yours now"), "{got:#?}");
    assert!(
        has(&got, "TOPIC #bob :") && has(&got, "claimed by alice"),
        "{got:#?}"
    );
    h.line(alice, "PRIVMSG *msn :unclaim #bob");
    assert!(has(&h.got(alice), "#bob is no longer claimed"));
}

#[test]
fn every_staff_member_is_in_every_conversation_away_while_detached() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    h.customer_says(1, BOB, "hi");
    let alice = h.attach("alice", None, &[Cap::AwayNotify]);
    let zoe = h.attach("zoe", None, &[]);
    h.got(alice);
    h.line(zoe, "NAMES #bob");
    let names = h.got(zoe);
    assert!(has(&names, "@alice") && has(&names, "@zoe"), "{names:#?}");
    // zoe leaves: still listed, away; alice hears it, and sees no PART.
    h.detach(zoe);
    let got = h.got(alice);
    assert!(has(&got, ":zoe!zoe@msnbnc AWAY :not attached"), "{got:#?}");
    assert!(!has(&got, "PART") && !has(&got, "QUIT"), "{got:#?}");
    h.line(alice, "NAMES #bob");
    assert!(has(&h.got(alice), "@zoe"));
    h.line(alice, "WHO #bob");
    let who = h.got(alice);
    let row = who
        .iter()
        .find(|l| l.contains(" 352 ") && l.contains(" zoe "))
        .unwrap();
    assert!(row.contains(" G@ "), "{row}");
    // Her phone attaches: back, and no second JOIN anywhere.
    let phone = h.attach("zoe", Some("phone"), &[]);
    let got = h.got(alice);
    assert!(
        has(&got, ":zoe!zoe@msnbnc AWAY") && !has(&got, "JOIN"),
        "{got:#?}"
    );
    let tablet = h.attach("zoe", Some("tablet"), &[]);
    assert!(h.got(alice).is_empty());
    h.detach(tablet);
    h.detach(phone);
}

#[test]
fn away_is_set_and_cleared_and_colleagues_hear_it() {
    let mut h = Harness::new("");
    let alice = h.attach("alice", None, &[Cap::AwayNotify]);
    let zoe = h.attach("zoe", None, &[]);
    h.got(alice);
    h.line(zoe, "AWAY :lunch");
    assert!(has(&h.got(zoe), " 306 zoe :You have been marked as being away"));
    assert!(has(&h.got(alice), ":zoe!zoe@msnbnc AWAY :lunch"));
    h.line(alice, "WHOIS zoe");
    assert!(has(&h.got(alice), " 301 alice zoe :lunch"));
    h.line(zoe, "AWAY");
    assert!(has(
        &h.got(zoe),
        " 305 zoe :You are no longer marked as being away"
    ));
    let back = h.got(alice);
    assert!(back.iter().any(|l| l.ends_with("AWAY")), "{back:#?}");
}

#[test]
fn the_account_status_is_in_the_roster_topic_in_words() {
    let mut h = Harness::new("");
    h.signed_in(&[]);
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    h.line(alice, "PRIVMSG *msn :status brb");
    let got = h.got(alice);
    assert!(
        has(&got, "TOPIC &msn :") && has(&got, "| be right back"),
        "{got:#?}"
    );
}

/// alice's laptop missed a customer line and alice's `/me`.
fn missed_a_line_and_a_me(h: &mut Harness) {
    h.signed_in(&[BOB]);
    let laptop = h.attach("alice", Some("laptop"), &[]);
    h.customer_says(1, BOB, "hello?");
    h.detach(laptop);
    let phone = h.attach("alice", Some("phone"), &[]);
    h.line(phone, "PRIVMSG #bob :\x01ACTION waves\x01");
    h.detach(phone);
}

#[test]
fn replay_to_a_client_with_server_time_but_no_batch_carries_time_and_msgid_tags() {
    let mut h = Harness::new("time_zone = \"UTC\"");
    missed_a_line_and_a_me(&mut h);
    let again = h.attach("alice", Some("laptop"), &[Cap::ServerTime, Cap::MessageTags]);
    let got = h.wait_for(again, "ACTION waves");
    let me = got.iter().find(|l| l.contains("ACTION waves")).unwrap();
    assert!(me.starts_with("@time=") && me.contains(";msgid="), "{me}");
    assert!(me.ends_with("PRIVMSG #bob :\x01ACTION waves\x01"), "{me}");
    assert!(!has(&got, "BATCH"), "{got:#?}");
}

#[test]
fn replay_without_server_time_puts_the_local_time_inside_a_me() {
    let mut h = Harness::new("time_zone = \"Asia/Kolkata\"");
    missed_a_line_and_a_me(&mut h);
    let again = h.attach("alice", Some("laptop"), &[]);
    let got = h.wait_for(again, "ACTION [");
    let me = got.iter().find(|l| l.contains("ACTION [")).unwrap();
    // Kolkata is UTC+5:30: the minutes differ from UTC's by 30.
    let local = crate::irc::local_time::LocalTime::named("Asia/Kolkata").unwrap();
    let stored = h.store().latest(1, None, 10).unwrap();
    let clock = local.clock(stored.last().unwrap().time_ms);
    assert!(
        me.ends_with(&format!("PRIVMSG #bob :\x01ACTION [{clock}] waves\x01")),
        "{me}"
    );
}

#[test]
fn service_history_shows_a_me_as_prose_and_suggests_the_channel() {
    let mut h = Harness::new("");
    missed_a_line_and_a_me(&mut h);
    let desk = h.attach("alice", Some("desk"), &[]);
    h.got(desk);
    h.line(desk, "PRIVMSG *msn :history #bob");
    let got = h.wait_for(desk, "* alice waves");
    let service: Vec<&String> = got.iter().filter(|l| l.starts_with(":*msn!")).collect();
    assert!(!service.iter().any(|l| l.contains('\x01')), "{got:#?}");
    h.line(desk, "PRIVMSG *msn :history bob");
    h.wait_for(desk, "no history for bob; did you mean #bob?");
}

/// Every line `alice` gets for `line`.
fn answer(h: &mut Harness, alice: crate::irc::conn::ClientId, line: &str) -> Vec<String> {
    h.line(alice, line);
    h.got(alice)
}

#[test]
fn what_clients_probe_on_join_gets_the_standard_answers() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    h.customer_says(1, BOB, "hi");
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    for (line, want) in [
        ("MODE #bob", " 324 alice #bob :+nt"),
        ("MODE #bob b", " 368 alice #bob :End of channel ban list"),
        ("MODE #bob +e", " 349 alice #bob :End of channel exception list"),
        ("MODE #bob I", " 347 alice #bob :End of channel invite list"),
        (
            "MODE #bob +o bob",
            " 482 alice #bob :Channel modes are fixed here",
        ),
        ("TOPIC #nowhere", " 403 alice #nowhere :No such channel"),
    ] {
        let got = answer(&mut h, alice, line);
        assert!(has(&got, want), "{line}: {got:#?}");
    }
    // Irssi waits for each list's end: one line each, nothing more.
    assert_eq!(answer(&mut h, alice, "MODE #bob b").len(), 1);
    let got = answer(&mut h, alice, "NAMES #nowhere");
    assert_eq!(got.len(), 1, "only the end of an empty list: {got:#?}");
    assert!(got[0].contains(" 366 alice #nowhere "), "{got:#?}");
}

#[test]
fn joining_a_channel_one_is_in_changes_nothing_and_joining_after_a_part_shows_it_again() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    h.customer_says(1, BOB, "hi");
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    assert!(answer(&mut h, alice, "JOIN #bob,&msn").is_empty());
    assert!(has(&answer(&mut h, alice, "PART #bob"), " PART #bob"));
    let again = answer(&mut h, alice, "JOIN #bob");
    assert!(
        has(&again, " JOIN #bob") && has(&again, " 366 alice #bob "),
        "{again:#?}"
    );
    // A staff channel likewise.
    assert!(has(&answer(&mut h, alice, "JOIN #team"), " JOIN #team"));
    assert!(answer(&mut h, alice, "JOIN #team").is_empty());
}

#[test]
fn a_notice_is_never_answered_with_an_error() {
    let mut h = Harness::new("");
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    for line in [
        "NOTICE nobody :hi",
        "NOTICE &msn :hi",
        "NOTICE #nowhere :hi",
        "NOTICE @#nowhere :hi",
        "NOTICE x :",
    ] {
        let got = answer(&mut h, alice, line);
        assert!(got.is_empty(), "{line}: {got:#?}");
    }
    assert!(has(
        &answer(&mut h, alice, "PRIVMSG nobody :hi"),
        " 401 alice nobody "
    ));
}

#[test]
fn a_channel_without_a_topic_is_joined_without_an_empty_topic_line() {
    let mut h = Harness::new("");
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    let got = answer(&mut h, alice, "JOIN #team");
    assert!(!got.iter().any(|l| l.contains(" 332 ")), "{got:#?}");
}

#[test]
fn a_new_colleague_joins_each_ongoing_conversation_with_its_start() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    h.customer_says(1, BOB, "my lamp is broken");
    let alice = h.attach("alice", None, &[]);
    h.line(alice, "PRIVMSG #bob :sorry to hear that");
    // zoe was never seen before: she still gets the customer's question.
    let zoe = h.attach("zoe", None, &[Cap::Batch, Cap::ServerTime]);
    let got = h.wait_for(zoe, "sorry to hear that");
    let question = got
        .iter()
        .position(|l| l.ends_with("PRIVMSG #bob :my lamp is broken"));
    let answer = got
        .iter()
        .position(|l| l.ends_with("PRIVMSG #bob :sorry to hear that"));
    assert!(question.is_some() && question < answer, "{got:#?}");
}

#[test]
fn a_new_device_gets_each_ongoing_conversation_from_its_start_within_the_cap() {
    let mut h = Harness::new("replay_max = 2");
    h.signed_in(&[BOB]);
    let laptop = h.attach("alice", Some("laptop"), &[]);
    for text in ["one", "two", "three"] {
        h.customer_says(1, BOB, text);
    }
    h.got(laptop);
    let phone = h.attach("alice", Some("phone"), &[]);
    let got = h.wait_for(phone, "] three");
    assert!(has(&got, "1 older missed line(s) not replayed here"), "{got:#?}");
    assert!(has(&got, "] two") && !has(&got, "] one"), "{got:#?}");
}
