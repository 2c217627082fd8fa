//! What survives msnbnc being killed: outbox outcomes, device positions,
//! and a replay that could not be done.

use ipc::{Command, Event};

use super::harness::Harness;
use super::hub_tests::{has, BOB};

/// Alice answers Bob and leaves; the worker says it wrote the answer to
/// a switchboard, and msnbnc dies before MSN acknowledges it.
fn answer_on_the_wire_then_crash() -> Harness {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", Some("laptop"), &[]);
    h.customer_says(1, BOB, "hello?");
    h.commands_with_ids();
    h.line(alice, "PRIVMSG #bob :on the wire");
    let sent = h
        .commands_with_ids()
        .into_iter()
        .find_map(|(id, c)| matches!(c, Command::SendMessage { .. }).then_some(id))
        .expect("the answer went to the worker");
    // Resolved: it does not come back by itself after the restart.
    h.line(alice, "PRIVMSG *msn :resolve #bob");
    h.detach(alice);
    h.worker(Event::Sent { command_id: sent });
    h.crash_and_restart()
}

#[test]
fn an_answer_left_unconfirmed_by_a_crash_is_reported_in_its_conversation() {
    let mut h = answer_on_the_wire_then_crash();
    // Staff are back before MSN is (and missed nothing): the outcome is
    // known at sign-in.
    let alice = h.attach("alice", Some("laptop"), &[]);
    let got = h.got(alice);
    assert!(!has(&got, "JOIN #bob"), "{got:#?}");
    h.signed_in(&[BOB]);
    let got = h.wait_for(alice, "delivery unknown");
    assert!(
        has(
            &got,
            "NOTICE #bob :delivery unknown (msnbnc stopped before MSN confirmed it): <alice> on the wire"
        ),
        "{got:#?}"
    );
    assert!(has(&got, "JOIN #bob"), "the conversation is open again: {got:#?}");
    let stored = h.stored_texts(1);
    assert!(
        stored.iter().any(|t| t.starts_with("delivery unknown")),
        "kept in the conversation's history: {stored:#?}"
    );
}

#[test]
fn an_answer_left_unconfirmed_by_a_crash_is_replayed_to_staff_who_attach_later() {
    let mut h = answer_on_the_wire_then_crash();
    h.signed_in(&[BOB]);
    // Nobody was attached when it was said.
    let phone = h.attach("alice", Some("phone"), &[]);
    let got = h.wait_for(phone, "delivery unknown");
    assert!(
        has(&got, "<alice> on the wire"),
        "the notice names the message: {got:#?}"
    );
}

fn customer_lines(h: &mut Harness, prefix: &str, n: usize) {
    for i in 0..n {
        h.customer_says(1, BOB, &format!("{prefix} {i}"));
    }
}

/// Bob's lines starting with `prefix`, live or replayed (`[hh:mm] `).
fn replayed(got: &[String], prefix: &str) -> usize {
    got.iter()
        .filter(|l| l.contains("PRIVMSG #bob :") && l.contains(&format!("{prefix} ")))
        .count()
}

#[test]
fn after_a_crash_a_device_is_re_sent_only_what_came_after_its_last_saved_position() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", Some("laptop"), &[]);
    customer_lines(&mut h, "seen", 50);
    // The once-a-second save.
    h.end_turn_only(super::Hub::save_positions);
    h.settle();
    // Delivered within the last second: the most a crash may re-send.
    customer_lines(&mut h, "recent", 3);
    assert_eq!(replayed(&h.got(alice), "recent"), 3);
    let mut h = h.crash_and_restart();
    let alice = h.attach("alice", Some("laptop"), &[]);
    let got = h.wait_for(alice, "recent 2");
    assert_eq!(replayed(&got, "recent"), 3, "{got:#?}");
    assert_eq!(
        replayed(&got, "seen"),
        0,
        "already seen before the crash: {got:#?}"
    );
}

#[test]
fn lines_still_on_their_way_to_the_store_do_not_move_a_position() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let alice = h.attach("alice", Some("laptop"), &[]);
    // Recorded, not yet committed (so not shown) when positions are saved.
    h.end_turn_only(|hub| {
        hub.on_worker(&crate::supervisor::Update::Event(Event::Message {
            conversation: 1,
            from: BOB.into(),
            text: "in flight 0".into(),
            format: ipc::TextFormat::default(),
        }));
    });
    h.end_turn_only(super::Hub::save_positions);
    h.settle();
    assert_eq!(replayed(&h.got(alice), "in flight"), 1);
    let mut h = h.crash_and_restart();
    let alice = h.attach("alice", Some("laptop"), &[]);
    let got = h.wait_for(alice, "in flight 0");
    assert_eq!(replayed(&got, "in flight"), 1, "{got:#?}");
}

#[test]
fn a_replay_that_fails_is_told_and_the_device_gets_it_next_time() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let laptop = h.attach("alice", Some("laptop"), &[]);
    h.detach(laptop);
    customer_lines(&mut h, "missed", 3);
    // The replay cannot read the store.
    let path = std::mem::replace(
        &mut h.hub.settings.store.path,
        // Under a file: no directory can be made there.
        h.dir.path().join("msnbnc.db").join("replay.db"),
    );
    let laptop = h.attach("alice", Some("laptop"), &[]);
    let got = h.wait_for(laptop, "Could not replay what this device missed");
    assert_eq!(replayed(&got, "missed"), 0, "{got:#?}");
    // Later lines are shown, positions saved, the device leaves: what it
    // never got is not passed over.
    customer_lines(&mut h, "live", 1);
    h.end_turn_only(super::Hub::save_positions);
    h.detach(laptop);
    h.hub.settings.store.path = path;
    let laptop = h.attach("alice", Some("laptop"), &[]);
    let got = h.wait_for(laptop, "missed 2");
    assert_eq!(replayed(&got, "missed"), 3, "{got:#?}");
}

#[test]
fn a_device_that_cannot_be_noted_in_a_read_only_store_is_told() {
    let mut h = Harness::new("");
    h.signed_in(&[BOB]);
    let laptop = h.attach("alice", Some("laptop"), &[]);
    h.detach(laptop);
    customer_lines(&mut h, "missed", 2);
    h.store_fails(true);
    let phone = h.attach("alice", Some("phone"), &[]);
    h.wait_for(phone, "Could not replay what this device missed");
    h.end_turn_only(super::Hub::save_positions);
    h.detach(phone);
    h.store_fails(false);
    let phone = h.attach("alice", Some("phone"), &[]);
    let got = h.wait_for(phone, "missed 1");
    assert_eq!(replayed(&got, "missed"), 2, "{got:#?}");
}
