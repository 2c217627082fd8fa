//! The desk as staff see it: states, waiting times in topics, the queue,
//! and what survives a restart.

use std::time::Duration;

use ipc::Event;

use super::harness::Harness;
use super::hub_tests::{has, BOB};
use crate::store::desk_rows::DeskState;

const CAROL: &str = "carol@example.com";
const DAVE: &str = "dave@example.com";

fn minutes(n: u64) -> Duration {
    Duration::from_secs(60 * n)
}

fn topics(got: &[String], channel: &str) -> Vec<String> {
    got.iter()
        .filter(|l| {
            l.contains(&format!(" TOPIC {channel} :")) || l.contains(&format!(" 332 alice {channel} :"))
        })
        .cloned()
        .collect()
}

fn state_of(h: &Harness, channel: &str) -> DeskState {
    let id = h.hub.conversations.by_channel(channel).expect("the conversation");
    h.hub.conversations.get(id).expect("its record").desk.state
}

#[test]
fn a_conversation_is_new_until_answered_and_its_topic_shows_how_long_the_customer_waits() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, &[]);
    h.customer_says(1, BOB, "hello?");
    let got = h.got(alice);
    assert!(
        topics(&got, "#bob")
            .iter()
            .any(|t| t.contains("| new | unclaimed")),
        "{got:#?}"
    );
    h.advance_clock(minutes(4));
    let got = h.got(alice);
    assert!(
        topics(&got, "#bob")
            .iter()
            .any(|t| t.ends_with("| new, waiting 4 min | unclaimed")),
        "{got:#?}"
    );
    // A minute later the topic moves on; within the minute it does not.
    h.advance_clock(Duration::from_secs(20));
    assert!(topics(&h.got(alice), "#bob").is_empty());
    h.advance_clock(Duration::from_secs(40));
    assert!(topics(&h.got(alice), "#bob")
        .iter()
        .any(|t| t.contains("waiting 5 min")));
    // A second customer line does not restart the clock.
    h.customer_says(1, BOB, "anyone?");
    h.line(alice, "PRIVMSG #bob :Hi Bob, here I am.");
    let got = h.got(alice);
    assert!(
        topics(&got, "#bob")
            .iter()
            .any(|t| t.ends_with("| open | unclaimed")),
        "{got:#?}"
    );
    assert_eq!(state_of(&h, "#bob"), DeskState::Open);
    // The customer writes again: waiting, but the topic reads the same
    // (under a minute), so it is not sent again.
    h.customer_says(1, BOB, "thanks!");
    assert!(topics(&h.got(alice), "#bob").is_empty());
    h.line(alice, "PRIVMSG #bob :You are welcome.");
    let stored = h.store().unresolved().unwrap();
    assert_eq!(
        (stored[0].desk.state, stored[0].desk.waiting_since_ms),
        (DeskState::Open, None)
    );
}

#[test]
fn wait_and_resolve_are_said_once_and_a_customer_writing_again_reopens() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, &[]);
    h.customer_says(1, BOB, "my order is late");
    h.line(alice, "PRIVMSG #bob :What is the order number?");
    h.line(alice, "PRIVMSG *msn :wait #bob");
    let got = h.got(alice);
    assert!(
        has(&got, "NOTICE #bob :waiting for the customer's answer (alice)"),
        "{got:#?}"
    );
    assert!(topics(&got, "#bob")
        .iter()
        .any(|t| t.contains("| waiting | unclaimed")));
    h.customer_says(1, BOB, "It is 1234");
    assert_eq!(state_of(&h, "#bob"), DeskState::Open, "the customer answered");
    h.line(alice, "PRIVMSG *msn :resolve #bob refund sent");
    let got = h.got(alice);
    assert!(
        has(&got, "NOTICE #bob :resolved by alice: refund sent"),
        "{got:#?}"
    );
    h.line(alice, "PRIVMSG *msn :resolve #bob");
    assert!(has(&h.got(alice), "#bob is resolved already"));
    assert!(h.store().unresolved().unwrap().is_empty());
    // The customer writes again: open again, waiting for an answer.
    h.customer_says(1, BOB, "one more thing");
    let got = h.got(alice);
    assert!(
        has(&got, "NOTICE #bob :re-opened: the customer wrote again"),
        "{got:#?}"
    );
    assert_eq!(state_of(&h, "#bob"), DeskState::New);
    // Kept in history, in order.
    let texts = h.stored_texts(1);
    let at = |t: &str| texts.iter().position(|x| x.starts_with(t));
    assert!(
        at("resolved by alice") < at("one more thing") && at("re-opened").is_some(),
        "{texts:#?}"
    );
}

#[test]
fn the_queue_lists_what_is_not_resolved_longest_wait_first() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB, CAROL, DAVE]);
    let alice = h.attach("alice", None, &[]);
    h.line(alice, "PRIVMSG *msn :queue");
    assert!(has(&h.got(alice), "the queue is empty"));
    h.customer_says(1, BOB, "first");
    h.advance_clock(minutes(8));
    h.customer_says(2, CAROL, "second");
    h.customer_says(3, DAVE, "third");
    h.line(alice, "PRIVMSG #dave :Hello Dave");
    h.line(alice, "PRIVMSG *msn :claim #carol");
    h.advance_clock(minutes(2));
    h.got(alice);
    h.line(alice, "PRIVMSG *msn :queue");
    let got: Vec<String> = h
        .got(alice)
        .into_iter()
        .filter(|l| l.contains("NOTICE alice :"))
        .collect();
    assert!(got[0].ends_with(":3 conversation(s) not resolved:"), "{got:#?}");
    assert!(
        got[1].ends_with(":#bob bob@example.com — new, waiting 10 min, unclaimed"),
        "{got:#?}"
    );
    assert!(
        got[2].ends_with(":#carol carol@example.com — new, waiting 2 min, claimed by alice"),
        "{got:#?}"
    );
    assert!(
        got[3].ends_with(":#dave dave@example.com — open, nobody waiting, unclaimed"),
        "{got:#?}"
    );
    h.line(alice, "PRIVMSG *msn :resolve #dave");
    h.got(alice);
    h.line(alice, "PRIVMSG *msn :queue");
    assert!(!has(&h.got(alice), "#dave"), "resolved ones leave the queue");
}

#[test]
fn what_is_not_resolved_comes_back_after_a_restart_with_its_claim_and_wait() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB, CAROL]);
    let alice = h.attach("alice", None, &[]);
    h.customer_says(1, BOB, "help");
    h.line(alice, "PRIVMSG *msn :claim #bob");
    h.customer_says(2, CAROL, "thanks, bye");
    h.line(alice, "PRIVMSG *msn :resolve #carol");
    h.advance_clock(minutes(3));
    let mut h = h.crash_and_restart();
    h.advance_clock(minutes(3));
    let alice = h.attach("alice", None, &[]);
    let got = h.got(alice);
    assert!(has(&got, "JOIN #bob"), "{got:#?}");
    assert!(
        topics(&got, "#bob")
            .iter()
            .any(|t| t.contains("| new, waiting 3 min | claimed by alice")),
        "the wait counts from the customer's line: {got:#?}"
    );
    assert!(!has(&got, "JOIN #carol"), "resolved: not brought back");
    // The customer writes again: the same record, live again.
    h.signed_in(&[BOB]);
    h.worker(Event::Message {
        conversation: 7,
        from: BOB.into(),
        text: "still there?".into(),
        format: ipc::TextFormat::default(),
    });
    assert_eq!(
        h.hub
            .conversations
            .iter()
            .filter(|c| c.channel.starts_with("#bob"))
            .count(),
        1
    );
    assert_eq!(state_of(&h, "#bob"), DeskState::New);
}

fn alerts(got: &[String]) -> Vec<&String> {
    got.iter().filter(|l| l.contains("for an answer")).collect()
}

#[test]
fn a_customer_waiting_past_the_threshold_gets_every_attached_colleague_highlighted_once_then_again() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, &[]);
    let zoe = h.attach("zoe", Some("phone"), &[]);
    h.customer_says(1, BOB, "hello?");
    h.advance_clock(Duration::from_secs(119));
    assert!(alerts(&h.got(alice)).is_empty(), "not before 120 s");
    h.advance_clock(Duration::from_secs(1));
    let got = h.got(alice);
    let said = alerts(&got);
    assert_eq!(said.len(), 2, "{got:#?}");
    assert!(
        said[0].contains("NOTICE #bob :bob has waited 2 min for an answer: alice zoe"),
        "{said:#?}"
    );
    assert!(
        said[1].contains("NOTICE &msn :#bob: bob has waited 2 min for an answer"),
        "{said:#?}"
    );
    assert_eq!(alerts(&h.got(zoe)).len(), 2, "every attached colleague");
    h.advance_clock(minutes(5));
    assert!(alerts(&h.got(alice)).is_empty(), "once per threshold");
    h.advance_clock(minutes(3));
    assert!(
        has(
            &h.got(alice),
            "NOTICE #bob :bob has waited 10 min for an answer: alice zoe"
        ),
        "again at the second threshold"
    );
    h.advance_clock(minutes(30));
    assert!(alerts(&h.got(alice)).is_empty(), "and not a third time");
    // Answered, then waiting again: a new wait, new alerts.
    h.line(alice, "PRIVMSG #bob :Sorry!");
    h.customer_says(1, BOB, "ok, and?");
    h.advance_clock(minutes(2));
    assert_eq!(alerts(&h.got(alice)).len(), 2);
}

#[test]
fn nobody_is_alerted_while_a_colleague_types_an_answer() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, &[crate::irc::cap::Cap::MessageTags]);
    h.customer_says(1, BOB, "hello?");
    h.advance_clock(Duration::from_secs(100));
    h.line(alice, "@+typing=active TAGMSG #bob");
    h.advance_clock(Duration::from_secs(30));
    assert!(alerts(&h.got(alice)).is_empty(), "alice is typing");
    h.line(alice, "@+typing=done TAGMSG #bob");
    h.advance_clock(Duration::from_secs(1));
    assert_eq!(alerts(&h.got(alice)).len(), 2, "she stopped without answering");
}

fn sent_texts(h: &mut Harness) -> Vec<String> {
    h.commands()
        .into_iter()
        .filter_map(|c| match c {
            ipc::Command::SendMessage { text, .. } => Some(text),
            _ => None,
        })
        .collect()
}

#[test]
fn a_canned_reply_goes_to_the_customer_expanded_and_every_colleague_sees_the_expansion() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, &[]);
    let zoe = h.attach("zoe", None, &[]);
    h.line(
        alice,
        "PRIVMSG *msn :canned add hello Hello {customer}, this is {agent} ({nick}).",
    );
    assert!(has(&h.got(alice), "!hello added"));
    h.customer_says(1, BOB, "hi");
    h.got(alice);
    h.got(zoe);
    h.commands();
    h.line(zoe, "PRIVMSG #bob :!HELLO How can I help?");
    let expanded = "Hello bob, this is zoe (zoe). How can I help?";
    assert_eq!(sent_texts(&mut h), [expanded]);
    for who in [alice, zoe] {
        let got = h.got(who);
        assert!(
            has(&got, &format!(":zoe!zoe@msnbnc PRIVMSG #bob :{expanded}")),
            "{got:#?}"
        );
    }
    // A name that is no reply: the sender is told; nothing goes out.
    h.line(zoe, "PRIVMSG #bob :!refund");
    assert!(sent_texts(&mut h).is_empty());
    assert!(has(
        &h.got(zoe),
        "NOTICE zoe :no canned reply \"refund\"; nothing was sent"
    ));
    assert!(h.got(alice).is_empty(), "colleagues see nothing");
    // `!!` sends a line that starts with `!`.
    h.line(zoe, "PRIVMSG #bob :!!important");
    assert_eq!(sent_texts(&mut h), ["!important"]);
}

#[test]
fn canned_replies_are_listed_shown_deleted_and_kept_across_a_restart() {
    let mut h = Harness::new("");
    let alice = h.attach("alice", None, &[]);
    h.line(alice, "PRIVMSG *msn :canned");
    assert!(has(&h.got(alice), "no canned replies yet"));
    h.line(alice, "PRIVMSG *msn :canned add hours We are open 9-17.");
    h.line(alice, "PRIVMSG *msn :canned add bye Bye, {customer}!");
    h.got(alice);
    h.line(alice, "PRIVMSG *msn :canned add b@d some text");
    assert!(has(&h.got(alice), "\"b@d\" cannot name a reply"));
    h.line(alice, "PRIVMSG *msn :canned");
    let got = h.got(alice);
    assert!(
        has(&got, "!bye — Bye, {customer}!") && has(&got, "!hours — We are open 9-17."),
        "{got:#?}"
    );
    h.line(alice, "PRIVMSG *msn :canned show hours");
    assert!(has(&h.got(alice), "!hours (by alice): We are open 9-17."));
    h.line(alice, "PRIVMSG *msn :canned del bye");
    assert!(has(&h.got(alice), "!bye deleted"));
    let mut h = h.crash_and_restart();
    let alice = h.attach("alice", None, &[]);
    h.line(alice, "PRIVMSG *msn :canned");
    let got = h.got(alice);
    assert!(has(&got, "!hours") && !has(&got, "!bye"), "{got:#?}");
}

#[test]
fn a_customers_card_shows_contact_history_tags_and_notes() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, &[]);
    let zoe = h.attach("zoe", None, &[]);
    h.customer_says(1, BOB, "hi");
    h.line(zoe, "PRIVMSG #bob :Hello!");
    h.line(alice, "PRIVMSG #bob :And hello from me.");
    h.line(alice, "PRIVMSG *msn :note bob prefers email over phone");
    h.line(alice, "PRIVMSG *msn :tag #bob VIP");
    h.line(alice, "PRIVMSG *msn :tag bob@example.com vip");
    let got = h.got(alice);
    assert!(has(&got, "noted on bob@example.com's card"), "{got:#?}");
    assert!(has(&got, "bob@example.com is tagged vip") && has(&got, "was tagged vip already"));
    h.line(alice, "PRIVMSG *msn :card bob");
    let got: Vec<String> = h
        .got(alice)
        .into_iter()
        .filter(|l| l.contains("NOTICE alice :"))
        .collect();
    assert!(got[0].ends_with(":bob@example.com — bob (online)"), "{got:#?}");
    assert!(
        got[1].contains("first contact ")
            && got[1].contains("1 conversation(s)")
            && got[1].ends_with("answered by zoe, alice"),
        "{got:#?}"
    );
    assert!(got[2].ends_with(":tags: vip"), "{got:#?}");
    assert!(got[3].contains(" alice: prefers email over phone"), "{got:#?}");
    h.line(alice, "PRIVMSG *msn :card nobody");
    assert!(has(&h.got(alice), "no customer \"nobody\""));
}

#[test]
fn a_conversation_that_opens_shows_its_customers_tags_and_notes_to_staff_first() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, &[]);
    h.line(alice, "PRIVMSG *msn :tag bob@example.com vip");
    h.line(
        alice,
        "PRIVMSG *msn :note bob@example.com refund of order 1234 promised",
    );
    let mut h = h.crash_and_restart();
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, &[]);
    h.got(alice);
    h.commands();
    h.customer_says(1, BOB, "where is my refund?");
    let got = h.got(alice);
    let at = |t: &str| got.iter().position(|l| l.contains(t));
    assert!(at("NOTICE #bob :card: tags vip").is_some(), "{got:#?}");
    assert!(
        at("alice: refund of order 1234 promised") > at("card: tags vip"),
        "{got:#?}"
    );
    assert!(
        at("PRIVMSG #bob :where is my refund?") > at("refund of order 1234 promised"),
        "{got:#?}"
    );
    assert!(h.commands().is_empty(), "nothing of it goes to the customer");
}

/// Monday to Friday 09:00-17:00 in Berlin, and a closed reply.
fn office_hours(h: &mut Harness) {
    let day = crate::business_hours::parse_day("09:00-17:00").unwrap();
    let days = [
        day.clone(),
        day.clone(),
        day.clone(),
        day.clone(),
        day,
        Vec::new(),
        Vec::new(),
    ];
    let zone = crate::irc::local_time::LocalTime::named("Europe/Berlin").unwrap();
    h.hub.settings.desk.hours = crate::business_hours::Schedule::new(Some(days), zone);
    h.hub.settings.desk.closed_reply = "We are closed; we answer from 9:00 (Berlin).".into();
}

/// 2026-12-07 is a Monday; Berlin is UTC+1.
fn monday_utc(h: u32, m: u32) -> i64 {
    let t: jiff::Timestamp = format!("2026-12-07T{h:02}:{m:02}:00Z").parse().unwrap();
    t.as_millisecond()
}

#[test]
fn outside_business_hours_a_customers_first_line_gets_the_closed_reply_once() {
    let mut h = Harness::new("");
    office_hours(&mut h);
    h.hub.set_desk_clock(monday_utc(7, 30));
    h.signed_in(&[BOB, CAROL]);
    let alice = h.attach("alice", None, &[]);
    h.commands();
    h.customer_says(1, BOB, "hello?");
    assert_eq!(
        sent_texts(&mut h),
        ["We are closed; we answer from 9:00 (Berlin)."]
    );
    let got = h.got(alice);
    assert!(
        has(
            &got,
            "NOTICE #bob :auto-reply sent (outside business hours): We are closed"
        ),
        "staff see it: {got:#?}"
    );
    h.customer_says(1, BOB, "anyone?");
    assert!(sent_texts(&mut h).is_empty(), "once per conversation");
    h.line(alice, "PRIVMSG *msn :hours");
    let got = h.got(alice);
    assert!(
        has(&got, "mon 09:00-17:00") && has(&got, "sun closed"),
        "{got:#?}"
    );
    assert!(has(&got, "now (08:30 there): closed"), "{got:#?}");
    // Open: staff are here, so nothing automatic.
    h.hub.set_desk_clock(monday_utc(8, 0));
    h.customer_says(2, CAROL, "good morning");
    assert!(
        sent_texts(&mut h).is_empty(),
        "inside the hours, with staff attached"
    );
    h.line(alice, "PRIVMSG *msn :hours");
    assert!(has(&h.got(alice), "now (09:00 there): open"));
}

#[test]
fn inside_business_hours_with_nobody_attached_the_unattended_reply_still_applies() {
    let mut h = Harness::new("unattended_reply = \"Back soon!\"");
    office_hours(&mut h);
    h.hub.set_desk_clock(monday_utc(10, 0));
    h.signed_in(&[BOB]);
    h.commands();
    h.customer_says(1, BOB, "hello?");
    assert_eq!(sent_texts(&mut h), ["Back soon!"]);
    let texts = h.stored_texts(1);
    assert!(
        texts
            .iter()
            .any(|t| t == "auto-reply sent (nobody is attached): Back soon!"),
        "kept for staff who attach later: {texts:#?}"
    );
}

/// Sets the desk's clock to 2026-12-07 (a Monday) `h:m` UTC.
fn at(h: &mut Harness, hour: u32, minute: u32) {
    h.hub.stop_desk_clock(monday_utc(hour, minute));
}

#[test]
fn stats_after_a_scripted_day_match_the_figures_worked_out_by_hand() {
    let mut h = Harness::new("time_zone = \"UTC\"");
    h.hub.settings.desk.hours.zone = crate::irc::local_time::LocalTime::named("UTC").unwrap();
    h.signed_in(&[BOB, CAROL, DAVE]);
    let alice = h.attach("alice", None, &[]);
    let zoe = h.attach("zoe", None, &[]);
    // Bob: asks at 09:00, alice answers at 09:02, resolved at 09:30.
    at(&mut h, 9, 0);
    h.customer_says(1, BOB, "q1");
    at(&mut h, 9, 2);
    h.line(alice, "PRIVMSG #bob :a1");
    h.line(alice, "PRIVMSG #bob :a2");
    at(&mut h, 9, 30);
    h.line(alice, "PRIVMSG *msn :resolve #bob");
    // Carol: asks at 10:00, zoe answers at 10:10, resolved at 11:00.
    at(&mut h, 10, 0);
    h.customer_says(2, CAROL, "q2");
    h.customer_says(2, CAROL, "q3");
    at(&mut h, 10, 10);
    h.line(zoe, "PRIVMSG #carol :a3");
    at(&mut h, 11, 0);
    h.line(zoe, "PRIVMSG *msn :resolve #carol");
    // Dave: asks at 12:00, zoe answers at 12:01; still open.
    at(&mut h, 12, 0);
    h.customer_says(3, DAVE, "q4");
    at(&mut h, 12, 1);
    h.line(zoe, "PRIVMSG #dave :a4");
    at(&mut h, 18, 0);
    h.got(alice);
    h.line(alice, "PRIVMSG *msn :stats today");
    let got: Vec<String> = h
        .got(alice)
        .into_iter()
        .filter(|l| l.contains("NOTICE alice :"))
        .map(|l| {
            l.split_once("NOTICE alice :")
                .map(|(_, t)| t.to_owned())
                .unwrap_or_default()
        })
        .collect();
    // First responses 2, 10 and 1 min: median 2, 90th percentile 10.
    // Resolutions 30 and 60 min: median 30, 90th percentile 60.
    // Lines: 4 from customers, 4 from staff, over 3 conversations.
    assert_eq!(
        got,
        [
            "today (since 2026-12-07 00:00): 3 conversation(s), 2 resolved",
            "first response: median 2 min, 90th percentile 10 min (3)",
            "resolution: median 30 min, 90th percentile 1 h 0 min (2)",
            "lines per conversation: 2.7 (1.3 from customers, 1.3 from staff)",
            "alice: 2 line(s) in 1 conversation(s), 2.0 each; first response median 2 min, 90th percentile 2 min (1); resolution median 30 min, 90th percentile 30 min (1)",
            "zoe: 2 line(s) in 2 conversation(s), 1.0 each; first response median 1 min, 90th percentile 10 min (2); resolution median 1 h 0 min, 90th percentile 1 h 0 min (1)",
        ]
    );
    h.line(alice, "PRIVMSG *msn :stats year");
    assert!(has(&h.got(alice), "say today, week or month"));
}

#[test]
fn a_send_refused_because_the_customer_is_offline_shows_them_offline_and_topics_follow_presence() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", None, &[]);
    h.customer_says(1, BOB, "hi");
    h.commands_with_ids();
    h.line(alice, "PRIVMSG #bob :Hello!");
    let (id, _) = h
        .commands_with_ids()
        .into_iter()
        .find(|(_, c)| matches!(c, ipc::Command::SendMessage { .. }))
        .expect("the answer went to the worker");
    h.got(alice);
    // The server lost bob's FLN; a 217 tells the truth.
    h.worker(Event::Delivery {
        command_id: id,
        outcome: ipc::Delivery::Failed(ipc::Failure {
            kind: ipc::FailureKind::ContactOffline,
            detail: "217 contact offline".into(),
        }),
    });
    let got = h.got(alice);
    assert!(has(&got, "PART &msn :offline"), "{got:#?}");
    assert!(
        topics(&got, "#bob").iter().any(|t| t.contains("(bob, offline)")),
        "{got:#?}"
    );
    // Bob comes back: the topic says so.
    h.worker(Event::Presence {
        handle: BOB.into(),
        status: ipc::Status::Away,
        friendly_name: Some("bob".into()),
        personal_message: None,
    });
    let got = h.got(alice);
    assert!(
        topics(&got, "#bob").iter().any(|t| t.contains("(bob, away)")),
        "{got:#?}"
    );
}
