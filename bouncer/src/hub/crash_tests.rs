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
    let stored: Vec<String> = h
        .store()
        .latest(1, None, 10)
        .unwrap()
        .into_iter()
        .map(|l| l.text)
        .collect();
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
