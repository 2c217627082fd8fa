//! What each staff member sees in their client, as the hub decides it:
//! the answers to what clients probe, one team in every channel, away
//! states, replay that fits each client, the service's answers, and calm
//! outages. No sockets: [`super::harness`].

use ipc::Command;

use super::harness::Harness;
use super::hub_tests::{has, BOB};
use crate::irc::cap::Cap;
use crate::supervisor::WorkerState;

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
    h.wait_for(alice, "] hi");
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
    // Their first attach replays the conversation beside the hub.
    h.wait_for(alice, "] hi");
    h.wait_for(zoe, "] hi");
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
    let got = h.got(alice);
    assert!(got.is_empty(), "{got:#?}");
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
    h.wait_for(alice, "] hi");
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
    h.wait_for(alice, "] hi");
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

#[test]
fn a_worker_restart_is_one_line_per_channel_each_way_and_one_in_the_roster() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB, "carol@example.com"]);
    h.customer_says(1, BOB, "hello");
    h.customer_says(2, "carol@example.com", "hi");
    let zoe = h.attach("zoe", None, &[]);
    h.got(zoe);
    let restarting = WorkerState::Restarting {
        after: std::time::Duration::from_secs(1),
        reason: "killed".into(),
    };
    h.worker_state(restarting.clone());
    h.worker_state(WorkerState::Starting);
    h.worker_state(WorkerState::LoggingIn {
        pid: 2,
        server: "127.0.0.1:1863".into(),
        step: "connecting".into(),
        gives_up_after: std::time::Duration::from_secs(60),
    });
    // A failed try: still the same outage.
    h.worker_state(restarting);
    h.worker_state(WorkerState::Starting);
    h.signed_in(&[]);
    let got = h.got(zoe);
    let notices = |target: &str| -> Vec<&String> {
        got.iter()
            .filter(|l| l.contains(&format!(" NOTICE {target} :")))
            .collect()
    };
    for channel in ["#bob", "#carol"] {
        let lines = notices(channel);
        assert_eq!(lines.len(), 2, "{channel}: {lines:#?}");
        assert!(lines[0].contains("MSN connection lost") && lines[1].ends_with(":MSN connection back"));
    }
    let roster = notices("&msn");
    assert_eq!(roster.len(), 2, "{roster:#?}");
    assert!(roster[0].contains("restarting in") && roster[1].contains("signed in as"));
    assert!(!has(&got, "write here to reach the customer again"));
}

#[test]
fn messages_held_by_an_outage_are_counted_in_its_two_lines() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    h.customer_says(1, BOB, "hello");
    let zoe = h.attach("zoe", None, &[]);
    h.line(zoe, "PRIVMSG #bob :one moment please");
    h.got(zoe);
    h.worker_state(WorkerState::Restarting {
        after: std::time::Duration::from_secs(1),
        reason: "killed".into(),
    });
    let got = h.got(zoe);
    assert!(
        has(&got, "NOTICE #bob :MSN connection lost; 1 message(s) held"),
        "{got:#?}"
    );
    assert!(!has(&got, "held: "), "no line per message: {got:#?}");
    h.commands();
    h.signed_in(&[]);
    let got = h.got(zoe);
    assert!(
        has(
            &got,
            "NOTICE #bob :MSN connection back; 1 held message(s) sent now"
        ),
        "{got:#?}"
    );
    assert!(h
        .commands()
        .iter()
        .any(|c| matches!(c, Command::SendMessage { text, .. } if text.contains("one moment please"))));
}

#[test]
fn client_tags_reach_colleagues_and_the_echo_but_not_msn() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    h.customer_says(1, BOB, "hi");
    let tags = [Cap::MessageTags, Cap::EchoMessage];
    let alice = h.attach("alice", None, &tags);
    let zoe = h.attach("zoe", None, &[Cap::MessageTags]);
    let plain = h.attach("kim", None, &[]);
    for id in [alice, zoe, plain] {
        h.wait_for(id, "] hi");
    }
    h.commands();
    h.line(alice, "@+draft/reply=abc;+example=x\\sy PRIVMSG #bob :sure");
    for id in [alice, zoe] {
        let got = h.got(id);
        let line = got.iter().find(|l| l.ends_with("PRIVMSG #bob :sure")).unwrap();
        assert!(
            line.contains("+draft/reply=abc") && line.contains("+example=x\\sy"),
            "{line}"
        );
    }
    assert!(!h.got(plain).iter().any(|l| l.contains("+draft")));
    let sent = h.commands();
    assert!(
        sent.iter()
            .any(|c| matches!(c, Command::SendMessage { text, .. } if text == "sure")),
        "{sent:?}"
    );
    // A reaction: to colleagues and back, nothing to MSN.
    h.line(alice, "@+draft/react=👍;+draft/reply=abc TAGMSG #bob");
    assert!(has(&h.got(zoe), "+draft/react=👍"));
    assert!(has(&h.got(alice), "TAGMSG #bob"));
    assert!(h.got(plain).is_empty());
    assert!(h.commands().is_empty());
}

#[test]
fn list_userhost_who_masks_lusers_time_and_whowas_are_answered() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    h.customer_says(1, BOB, "hi");
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    h.line(alice, "LIST");
    let got = h.got(alice);
    assert!(has(&got, " 321 alice Channel :Users  Name"), "{got:#?}");
    assert!(has(&got, " 322 alice &msn 2 :MSN account"), "{got:#?}");
    assert!(
        has(&got, " 322 alice #bob 2 :Conversation with bob@example.com"),
        "{got:#?}"
    );
    assert!(has(&got, " 323 alice :End of /LIST"), "{got:#?}");
    h.line(alice, "USERHOST alice bob nobody");
    assert!(has(
        &h.got(alice),
        " 302 alice :alice=+alice@msnbnc bob=+bob@example.com"
    ));
    h.line(alice, "WHO b*");
    let who = h.got(alice);
    assert!(
        has(&who, " 352 alice * bob example.com msnbnc bob H :0 bob"),
        "{who:#?}"
    );
    assert!(!has(&who, " alice H@"), "{who:#?}");
    h.line(alice, "LUSERS");
    assert!(has(&h.got(alice), " 251 alice :There are 2 users"));
    h.line(alice, "TIME");
    assert!(has(&h.got(alice), " 391 alice msnbnc :"));
    h.line(alice, "WHOWAS carl");
    let got = h.got(alice);
    assert!(
        has(&got, " 406 alice carl :") && has(&got, " 369 alice carl :"),
        "{got:#?}"
    );
}

#[test]
fn znc_playback_clients_get_no_replay_and_ask_for_what_they_want() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    h.customer_says(1, BOB, "my lamp is broken");
    let caps = [Cap::Playback, Cap::ServerTime, Cap::Batch];
    let lounge = h.attach("alice", Some("lounge"), &caps);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(!has(&h.got(lounge), "my lamp is broken"), "no replay of its own");
    h.line(lounge, "PRIVMSG *playback :PLAY * 0");
    let got = h.wait_for(lounge, "my lamp is broken");
    let line = got.iter().find(|l| l.contains("my lamp is broken")).unwrap();
    assert!(line.contains("time=") && line.contains("batch="), "{line}");
    // As The Lounge asks, after joining: ZNC's own command.
    h.line(lounge, "ZNC *playback PLAY #bob 0");
    h.wait_for(lounge, "my lamp is broken");
    // Nothing after a time in the future; a wrong request is explained.
    h.line(lounge, "PRIVMSG *playback :PLAY #bob 99999999999");
    h.line(lounge, "PRIVMSG *playback :LIST");
    let got = h.wait_for(lounge, "only PLAY");
    assert!(!has(&got, "my lamp is broken"), "{got:#?}");
}

#[test]
fn ones_own_private_messages_reach_ones_devices_that_take_self_message() {
    let mut h = Harness::new("");
    let phone = h.attach("alice", Some("phone"), &[]);
    let lounge = h.attach("alice", Some("lounge"), &[Cap::SelfMessage]);
    let plain = h.attach("alice", Some("old"), &[]);
    let zoe = h.attach("zoe", None, &[]);
    for id in [phone, lounge, plain, zoe] {
        h.got(id);
    }
    h.line(phone, "PRIVMSG zoe :lunch?");
    assert!(has(&h.got(zoe), ":alice!alice@msnbnc PRIVMSG zoe :lunch?"));
    assert!(has(&h.got(lounge), ":alice!alice@msnbnc PRIVMSG zoe :lunch?"));
    assert!(h.got(plain).is_empty());
}

#[test]
fn read_markers_work_in_staff_channels_and_the_roster_too() {
    let mut h = Harness::new("");
    let alice = h.attach("alice", Some("laptop"), &[Cap::ReadMarker]);
    h.got(alice);
    h.line(alice, "JOIN #team");
    let got = h.wait_for(alice, "MARKREAD #team");
    assert!(has(&got, "MARKREAD #team *"), "{got:#?}");
    for target in ["#team", "&msn"] {
        h.line(
            alice,
            &format!("MARKREAD {target} timestamp=2026-12-04T10:00:00.000Z"),
        );
        h.wait_for(
            alice,
            &format!("MARKREAD {target} timestamp=2026-12-04T10:00:00.000Z"),
        );
    }
    // Another device joining #team learns the marker.
    let phone = h.attach("alice", Some("phone"), &[Cap::ReadMarker]);
    h.wait_for(phone, "MARKREAD #team timestamp=2026-12-04T10:00:00.000Z");
}

#[test]
fn monitor_tells_who_is_online_now_and_when_that_changes() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    h.line(alice, "MONITOR + bob,zoe");
    let got = h.got(alice);
    assert!(has(&got, " 730 alice :bob!bob@example.com"), "{got:#?}");
    assert!(has(&got, " 731 alice :zoe"), "{got:#?}");
    let zoe = h.attach("zoe", None, &[]);
    assert!(has(&h.got(alice), " 730 alice :zoe!zoe@msnbnc"));
    h.detach(zoe);
    assert!(has(&h.got(alice), " 731 alice :zoe"));
    h.worker(ipc::Event::Presence {
        handle: BOB.into(),
        status: ipc::Status::Offline,
        friendly_name: None,
        personal_message: None,
    });
    assert!(has(&h.got(alice), " 731 alice :bob"));
    h.line(alice, "MONITOR L");
    let got = h.got(alice);
    assert!(
        has(&got, " 732 alice :bob,zoe") && has(&got, " 733 alice :End of MONITOR list"),
        "{got:#?}"
    );
    h.line(alice, "MONITOR C");
    h.line(alice, "MONITOR L");
    let got = h.got(alice);
    assert!(!has(&got, " 732 ") && has(&got, " 733 "), "{got:#?}");
}

#[test]
fn staff_channels_per_user_are_bounded_and_the_bound_is_advertised() {
    let mut h = Harness::new("");
    let alice = h.attach("alice", None, &[]);
    let welcome = h.got(alice);
    assert!(has(&welcome, "CHANLIMIT=#:50"), "{welcome:#?}");
    for i in 0..50 {
        h.line(alice, &format!("JOIN #team{i}"));
    }
    h.got(alice);
    h.line(alice, "JOIN #one-too-many");
    let got = h.got(alice);
    assert!(
        has(
            &got,
            " 405 alice #one-too-many :You have joined too many channels"
        ),
        "{got:#?}"
    );
    assert!(!has(&got, " JOIN #one-too-many"), "{got:#?}");
    // Joining one already joined is not refused.
    h.line(alice, "PART #team3");
    h.line(alice, "JOIN #team3");
    assert!(has(&h.got(alice), " JOIN #team3"));
}
