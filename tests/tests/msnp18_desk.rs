//! The desk over MSNP18 end to end: msnbnc with its real worker signed in
//! to the simulator with single sign-on and the web services, staff on
//! IRC, customers on MSN — and a person's own Messenger signed in to the
//! same account beside msnbnc.

use std::time::Duration;

use msn_sim::Received;
use msnbnc_tests::irc::IrcClient;
use msnbnc_tests::msn_env::{config_for, signed_in_port, sim, Sim};
use msnbnc_tests::worker::{ACCOUNT, PASSWORD};
use msnbnc_tests::{add_staff, Bouncer, TestDir};

const SOON: Duration = Duration::from_secs(15);
const BOB: &str = "bob@example.com";

struct Env {
    s: Sim,
    _dir: TestDir,
    _bouncer: Bouncer,
    port: u16,
}

fn env(msn: &str) -> Env {
    env_after(msn, |_| {})
}

/// [`env`], with `before` done to the simulator before msnbnc starts.
fn env_after(msn: &str, before: impl FnOnce(&Sim)) -> Env {
    let s = sim();
    before(&s);
    let dir = TestDir::new();
    let cfg = config_for(&dir, &s.sim, PASSWORD, true, 18);
    msnbnc_tests::msn_env::add_to_config(&cfg, "[msn]", msn);
    add_staff(&cfg, "alice", "pw", true);
    let bouncer = Bouncer::run(&cfg);
    bouncer
        .wait_for(
            &format!("msn: signed in as {ACCOUNT} (Support Desk) with MSNP18"),
            SOON,
        )
        .unwrap();
    let port = signed_in_port(&bouncer, &s);
    Env {
        s,
        _dir: dir,
        _bouncer: bouncer,
        port,
    }
}

fn login(port: u16) -> IrcClient {
    let mut c = IrcClient::log_in(port, "alice:pw", "").unwrap();
    c.expect(" JOIN &msn", SOON).unwrap();
    c
}

#[test]
fn at_msnp18_staff_and_customers_talk_and_a_stranger_is_accepted() {
    let e = env("auto_accept_contacts = false");
    let mut alice = login(e.port);
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    alice.expect(":bob!bob@example.com JOIN &msn", SOON).unwrap();
    bob.set_personal_message("order 1234");
    e.s.rt.block_on(bob.say(ACCOUNT, "hello over MSNP18")).unwrap();
    alice.expect(" JOIN #bob", SOON).unwrap();
    alice.expect("hello over MSNP18", SOON).unwrap();
    alice.send("PRIVMSG #bob :hi bob, how can we help?");
    let got = e.s.rt.block_on(bob.wait_for(
        SOON,
        |r| matches!(r, Received::Text { text, .. } if text == "hi bob, how can we help?"),
    ));
    assert!(got.is_some(), "{:?}", bob.inbox());

    // Someone adds the account: ADL 0, accepted through the web services.
    let dave = e.s.sim.customer("dave@example.com");
    dave.sign_in("NLN");
    dave.add(ACCOUNT);
    alice
        .expect(
            "dave@example.com wants to add the account; accept with /msg *msn accept dave@example.com",
            SOON,
        )
        .unwrap();
    alice.send("PRIVMSG *msn :accept dave@example.com");
    alice
        .expect("NOTICE alice :done: accept dave@example.com", SOON)
        .unwrap();
    alice.expect(":dave!dave@example.com JOIN &msn", SOON).unwrap();
    assert_eq!(
        e.s.sim.lists(ACCOUNT, "dave@example.com") & 0b011,
        0b011,
        "FL and AL"
    );
}

#[test]
fn at_msnp18_another_place_stays_beside_msnbnc_and_its_words_show_in_the_conversation() {
    let e = env("");
    let mut alice = login(e.port);
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    e.s.rt.block_on(bob.say(ACCOUNT, "anyone there?")).unwrap();
    alice.expect("anyone there?", SOON).unwrap();

    // The manager's own Messenger signs in too: nobody is signed out.
    let laptop = e.s.sim.another_place_signs_in(ACCOUNT, "LAPTOP");
    alice
        .expect(
            &format!("another place signed in to the account: LAPTOP {laptop}"),
            SOON,
        )
        .unwrap();
    alice.send("PRIVMSG *msn :endpoints");
    alice
        .expect("NOTICE alice :2 place(s) signed in to the account:", SOON)
        .unwrap();
    let ours = alice.expect("NOTICE alice :msnbnc {", SOON).unwrap();
    assert!(ours.ends_with("} (msnbnc, this worker)"), "{ours}");
    alice
        .expect(&format!("NOTICE alice :LAPTOP {laptop}"), SOON)
        .unwrap();

    // What it writes to bob shows in #bob, once; bob gets it once.
    e.s.sim
        .another_place_says(ACCOUNT, BOB, "I'll take this one")
        .unwrap();
    alice
        .expect(
            "NOTICE #bob :sent from another place signed in to the account: I'll take this one",
            SOON,
        )
        .unwrap();
    let texts = bob.texts();
    assert_eq!(
        texts.iter().filter(|t| *t == "I'll take this one").count(),
        1,
        "{texts:?}"
    );

    // A customer's line reaches the desk once, though two places have it.
    e.s.rt.block_on(bob.say(ACCOUNT, "thanks!")).unwrap();
    alice.expect("thanks!", SOON).unwrap();
    alice.send("PING :settle");
    alice.expect("PONG", SOON).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let again = alice.expect("thanks!", Duration::from_millis(300));
    assert!(again.is_err(), "relayed twice: {again:?}");
    // Asked to leave by that place: msnbnc stays, and says so.
    e.s.sim.another_place_asks_others_to_leave(ACCOUNT, &laptop);
    alice
        .expect(
            "another place signed in to the account asked msnbnc to sign out",
            SOON,
        )
        .unwrap();
    e.s.sim.another_place_signs_out(ACCOUNT, &laptop);
    alice
        .expect(
            &format!("a place signed out of the account: LAPTOP {laptop}"),
            SOON,
        )
        .unwrap();
    assert_eq!(e.s.sim.logins(), 1, "msnbnc was never signed out");
}

#[test]
fn at_msnp18_offline_messages_arrive_with_their_time_and_staff_answers_reach_offline_customers() {
    // bob wrote while msnbnc was signed out.
    let e = env_after("", |s| {
        s.sim
            .customer(BOB)
            .leave_offline_message(ACCOUNT, "are you open on Sunday?");
    });
    let mut alice = login(e.port);
    alice.expect(" JOIN #bob", SOON).unwrap();
    // It came before alice attached: replayed, with the time it was written.
    alice
        .expect("offline message from bob@example.com (Bob), written 2026-12-04 12:00 while msnbnc was signed out:", SOON)
        .unwrap();
    alice
        .expect(
            ":bob!bob@example.com PRIVMSG #bob :[12:00] are you open on Sunday?",
            SOON,
        )
        .unwrap();
    // Kept in history, then deleted from the server.
    assert!(e.s.rt.block_on(
        e.s.sim
            .wait_until(SOON, |x| x.offline_messages(ACCOUNT).is_empty())
    ));
    alice.send("PRIVMSG *msn :history #bob 5");
    alice.expect("<bob> are you open on Sunday?", SOON).unwrap();

    // bob is offline: the answer is left for him, and staff are told so.
    alice.send("PRIVMSG #bob :Yes, 10 to 4.");
    alice
        .expect("NOTICE #bob :sent as an offline message (bob@example.com is offline and gets it when they sign in): <alice> Yes, 10 to 4.", SOON)
        .unwrap();
    assert!(e.s.rt.block_on(e.s.sim.wait_until(SOON, |x| {
        x.offline_messages(BOB)
            .iter()
            .any(|(from, text)| from == ACCOUNT && text == "Yes, 10 to 4.")
    })));
}
