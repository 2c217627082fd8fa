//! Staff on IRC and customers on MSN, end to end: msnbnc with its real
//! worker, the MSN simulator, and IRC clients on loopback.

use std::time::Duration;

use msn_sim::Received;
use msnbnc_tests::irc::IrcClient;
use msnbnc_tests::msn_env::{add_to_config, config, signed_in_port, sim, Sim};
use msnbnc_tests::worker::{ACCOUNT, PASSWORD};
use msnbnc_tests::{add_staff, signal_pid, Bouncer, TestDir};
use nix::sys::signal::Signal;

const SOON: Duration = Duration::from_secs(15);
const BOB: &str = "bob@example.com";

struct Env {
    s: Sim,
    _dir: TestDir,
    /// The configuration file.
    cfg: std::path::PathBuf,
    bouncer: Bouncer,
    port: u16,
}

fn env() -> Env {
    env_with("")
}

/// An environment with extra `[irc]` settings.
fn env_with(irc: &str) -> Env {
    env_with_sections(irc, "")
}

/// An environment with extra `[irc]` and `[msn]` settings.
fn env_with_sections(irc: &str, msn: &str) -> Env {
    env_with_config(irc, msn, "")
}

/// An environment with extra `[irc]` and `[msn]` settings, and more
/// sections at the end of the file.
fn env_with_config(irc: &str, msn: &str, sections: &str) -> Env {
    let s = sim();
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    add_to_config(&cfg, "listen = [\"127.0.0.1:0\"]", irc);
    add_to_config(&cfg, "[msn]", msn);
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}\n{sections}\n")).unwrap();
    add_staff(&cfg, "alice", "pw", true);
    add_staff(&cfg, "zoe", "pw", false);
    let bouncer = Bouncer::run(&cfg);
    let port = signed_in_port(&bouncer, &s);
    Env {
        s,
        _dir: dir,
        cfg,
        bouncer,
        port,
    }
}

fn login(port: u16, login: &str) -> IrcClient {
    let mut c = IrcClient::log_in(port, &format!("{login}:pw"), "").unwrap();
    c.expect(" JOIN &msn", SOON).unwrap();
    c
}

#[test]
fn customers_and_staff_talk_through_conversation_channels() {
    let e = env();
    let (mut laptop, mut phone, mut zoe) = (
        login(e.port, "alice@laptop"),
        login(e.port, "alice@phone"),
        login(e.port, "zoe"),
    );
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    for c in [&mut laptop, &mut phone, &mut zoe] {
        c.expect(":bob!bob@example.com JOIN &msn", SOON).unwrap();
        c.expect("MODE &msn +v bob", SOON).unwrap();
    }

    // A customer's message reaches every staff client, in #bob.
    e.s.rt.block_on(bob.say(ACCOUNT, "hello, anyone?")).unwrap();
    for c in [&mut laptop, &mut phone, &mut zoe] {
        c.expect(" JOIN #bob", SOON).unwrap();
        c.expect(
            ":bob!bob@example.com PRIVMSG #bob :\x02\x0304hello, anyone?",
            SOON,
        )
        .unwrap();
    }

    // A staff reply reaches the customer, the other staff and the sender's other device.
    laptop.send("PRIVMSG #bob :Hi Bob, how can we help?");
    let got = e.s.rt.block_on(bob.wait_for(
        SOON,
        |r| matches!(r, Received::Text { text, .. } if text == "Hi Bob, how can we help?"),
    ));
    assert!(got.is_some(), "bob never got the reply: {:?}", bob.inbox());
    phone
        .expect(":alice!alice@msnbnc PRIVMSG #bob :Hi Bob, how can we help?", SOON)
        .unwrap();
    zoe.expect(":alice!alice@msnbnc PRIVMSG #bob :Hi Bob, how can we help?", SOON)
        .unwrap();

    // A staff-only note never reaches the customer.
    zoe.send("PRIVMSG @#bob :he ordered twice, check #1234");
    laptop.expect("PRIVMSG @#bob :he ordered twice", SOON).unwrap();
    // /msg to the contact lands in #bob for everyone, and reaches bob.
    zoe.send("PRIVMSG bob :Your order ships today.");
    laptop
        .expect(":zoe!zoe@msnbnc PRIVMSG #bob :Your order ships today.", SOON)
        .unwrap();
    assert!(e
        .s
        .rt
        .block_on(bob.wait_for(
            SOON,
            |r| matches!(r, Received::Text { text, .. } if text == "Your order ships today.")
        ))
        .is_some());
    assert!(
        !bob.texts().iter().any(|t| t.contains("ordered twice")),
        "a staff note leaked: {:?}",
        bob.texts()
    );

    // A message to an offline contact: every staff member is told.
    zoe.send("PRIVMSG carol :are you there?");
    laptop.expect("not delivered", SOON).unwrap();
}

#[test]
fn a_worker_crash_drops_no_staff_connection_and_is_announced() {
    let mut e = env();
    let mut alice = login(e.port, "alice");
    let mut zoe = login(e.port, "zoe");
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    e.s.rt.block_on(bob.say(ACCOUNT, "before the crash")).unwrap();
    alice
        .expect("PRIVMSG #bob :\x02\x0304before the crash", SOON)
        .unwrap();
    let (_, line) = e.bouncer.wait_for("worker ready worker_pid=", SOON).unwrap();
    let pid = msnbnc_tests::worker_pid(&line).unwrap();
    let before = e.bouncer.log_len();
    signal_pid(pid, Signal::SIGKILL);
    alice
        .expect("NOTICE &msn :MSN worker: restarting in", SOON)
        .unwrap();
    alice
        .expect("NOTICE &msn :MSN worker: signed in as", SOON)
        .unwrap();
    e.bouncer
        .wait_for_from(before, "worker state: signed in as", SOON)
        .unwrap();
    alice.send("PING :alive");
    alice.expect("PONG msnbnc :alive", SOON).unwrap();
    assert!(e.bouncer.is_running());

    // The conversation channel stays, showing the outage and the recovery …
    for c in [&mut alice, &mut zoe] {
        c.expect("NOTICE #bob :MSN connection lost", SOON).unwrap();
        c.expect("NOTICE #bob :MSN connection back", SOON).unwrap();
    }
    // … and writing there re-opens the conversation with bob.
    zoe.send("PRIVMSG #bob :Sorry, we were cut off.");
    alice
        .expect(":zoe!zoe@msnbnc PRIVMSG #bob :Sorry, we were cut off.", SOON)
        .unwrap();
    let got = e.s.rt.block_on(bob.wait_for(
        SOON,
        |r| matches!(r, Received::Text { text, .. } if text == "Sorry, we were cut off."),
    ));
    assert!(got.is_some(), "{:?}", bob.texts());
    e.s.rt.block_on(bob.say(ACCOUNT, "no problem")).unwrap();
    let reply = alice.expect("no problem", SOON).unwrap();
    assert!(
        reply.contains("PRIVMSG #bob :"),
        "bob's reply is in the same channel: {reply}"
    );
}

#[test]
fn a_message_to_a_contact_opens_a_channel_everyone_sees_it_in() {
    let e = env();
    let (mut alice, mut zoe) = (login(e.port, "alice"), login(e.port, "zoe"));
    let carol = e.s.sim.customer("carol@example.com");
    carol.sign_in("NLN");
    zoe.expect(":carol!carol@example.com JOIN &msn", SOON).unwrap();
    alice.send("PRIVMSG carol :Your refund is on its way.");
    let got = e.s.rt.block_on(carol.wait_for(
        SOON,
        |r| matches!(r, Received::Text { text, .. } if text == "Your refund is on its way."),
    ));
    assert!(got.is_some(), "{:?}", carol.texts());
    for c in [&mut alice, &mut zoe] {
        c.expect(" JOIN #carol", SOON).unwrap();
        c.expect(
            ":alice!alice@msnbnc PRIVMSG #carol :Your refund is on its way.",
            SOON,
        )
        .unwrap();
    }
}

#[test]
fn a_group_conversation_is_one_channel_with_every_customer_in_it() {
    let e = env();
    let mut alice = login(e.port, "alice");
    let (bob, carol) = (e.s.sim.customer(BOB), e.s.sim.customer("carol@example.com"));
    bob.sign_in("NLN");
    carol.sign_in("NLN");
    let room =
        e.s.rt
            .block_on(bob.say(ACCOUNT, "my wife has a question too"))
            .unwrap();
    alice.expect("PRIVMSG #bob :", SOON).unwrap();
    bob.invite(room, "carol@example.com").unwrap();
    alice.expect(":carol!carol@example.com JOIN #bob", SOON).unwrap();
    e.s.rt.block_on(carol.say(ACCOUNT, "hi, it's Carol")).unwrap();
    alice
        .expect(
            ":carol!carol@example.com PRIVMSG #bob :\x02\x0304hi, it's Carol",
            SOON,
        )
        .unwrap();
    // The topic names both customers.
    alice
        .expect(
            "TOPIC #bob :Conversation with bob@example.com (Bob, online), carol@example.com (Carol, online)",
            SOON,
        )
        .unwrap();
    // A staff answer reaches both customers.
    alice.send("PRIVMSG #bob :Hello to you both.");
    for c in [&bob, &carol] {
        let got = e.s.rt.block_on(c.wait_for(
            SOON,
            |r| matches!(r, Received::Text { text, .. } if text == "Hello to you both."),
        ));
        assert!(got.is_some(), "{}: {:?}", c.email(), c.texts());
    }
    // One of them leaves; the conversation goes on with the other.
    carol.leave(room);
    alice
        .expect(
            ":carol!carol@example.com PART #bob :closed the conversation window",
            SOON,
        )
        .unwrap();
    e.s.rt.block_on(bob.say(ACCOUNT, "still here")).unwrap();
    alice.expect("PRIVMSG #bob :\x02\x0304still here", SOON).unwrap();
}

#[test]
fn a_stranger_adding_the_account_is_accepted_through_the_service() {
    let e = env_with_sections("", "auto_accept_contacts = false");
    let mut alice = login(e.port, "alice");
    let dave = e.s.sim.customer("dave@example.com");
    dave.sign_in("NLN");
    dave.add(ACCOUNT);
    alice
        .expect(
            "dave@example.com wants to add the account; accept with /msg *msn accept dave@example.com",
            SOON,
        )
        .unwrap();
    assert_eq!(
        e.s.sim.lists(ACCOUNT, "dave@example.com") & 0b011,
        0,
        "not accepted yet"
    );
    // He writes before anyone accepted him: the conversation says so.
    e.s.rt.block_on(dave.say(ACCOUNT, "hello?")).unwrap();
    alice.expect(" JOIN #dave", SOON).unwrap();
    alice
        .expect("332 alice #dave :Conversation with dave@example.com (Dave, offline, not accepted as a contact yet)", SOON)
        .unwrap();
    let said = alice
        .expect(":dave!dave@example.com PRIVMSG #dave :", SOON)
        .unwrap();
    assert!(said.contains("hello?"), "{said}");
    alice
        .expect("NOTICE #dave :dave@example.com is not an accepted contact yet: they added the account and wrote before anyone accepted them; accept with /msg *msn accept dave@example.com", SOON)
        .unwrap();
    alice.send("PRIVMSG *msn :accept dave@example.com");
    alice
        .expect("NOTICE alice :done: accept dave@example.com", SOON)
        .unwrap();
    // Now dave is a contact: his presence shows in &msn, and the topic
    // no longer calls him pending.
    alice
        .expect(
            " TOPIC #dave :Conversation with dave@example.com (Dave, online) | new",
            SOON,
        )
        .unwrap();
    alice.expect(":dave!dave@example.com JOIN &msn", SOON).unwrap();
}

#[test]
fn the_service_answers_and_changes_the_account() {
    let e = env();
    let mut alice = login(e.port, "alice");
    alice.send("PRIVMSG *msn :help");
    alice
        .expect(":*msn!service@msnbnc NOTICE alice :commands", SOON)
        .unwrap();
    alice
        .expect(
            "status <status> — online, busy, away, brb, phone, lunch, hidden",
            SOON,
        )
        .unwrap();
    alice.send("PRIVMSG *msn :name Example Shop Support");
    alice
        .expect("NOTICE alice :done: name \"Example Shop Support\"", SOON)
        .unwrap();
    assert_eq!(
        e.s.sim.friendly_name(ACCOUNT).as_deref(),
        Some("Example Shop Support")
    );
    alice.send("PRIVMSG *msn :contacts");
    alice.expect("bob@example.com", SOON).unwrap();
    alice.send("PRIVMSG *msn :who");
    alice.expect("attached: alice (1 device)", SOON).unwrap();
    alice.send("PRIVMSG *msn :frobnicate");
    alice.expect("unknown command \"frobnicate\"", SOON).unwrap();
    alice.send("PRIVMSG *msn :add");
    alice.expect("usage: add <address>", SOON).unwrap();
    // MSNP12 keeps one place per account.
    alice.send("PRIVMSG *msn :endpoints");
    alice
        .expect(
            "NOTICE alice :MSNP12 allows one place per account: a login elsewhere signs msnbnc out",
            SOON,
        )
        .unwrap();
}

#[test]
fn the_account_is_away_while_nobody_is_attached() {
    let e = env();
    let away = |want: &str| {
        e.s.rt.block_on(
            e.s.sim
                .wait_until(SOON, |s| s.status(ACCOUNT).as_deref() == Some(want)),
        )
    };
    assert!(away("AWY"), "unattended: {:?}", e.s.sim.status(ACCOUNT));
    let mut alice = login(e.port, "alice");
    assert!(away("NLN"), "attached: {:?}", e.s.sim.status(ACCOUNT));
    alice.send("QUIT :lunch");
    assert!(alice.closed(SOON));
    assert!(away("AWY"), "detached again: {:?}", e.s.sim.status(ACCOUNT));
}

#[test]
fn long_customer_messages_are_split_into_irc_lines() {
    let e = env();
    let mut alice = login(e.port, "alice");
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    let text = "lorem ipsum dolor ".repeat(80);
    e.s.rt.block_on(bob.say(ACCOUNT, text.trim_end())).unwrap();
    alice.expect("PRIVMSG #bob :\x02\x0304lorem", SOON).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let _ = alice.closed(Duration::from_millis(300));
    let lines: Vec<&String> = alice
        .received
        .iter()
        .filter(|l| l.contains("PRIVMSG #bob :"))
        .collect();
    assert!(lines.len() >= 2, "{lines:?}");
    assert!(lines.iter().all(|l| l.len() + 2 <= 512), "{lines:?}");
}

#[test]
fn ircv3_clients_get_times_echoes_accounts_typing_and_away() {
    let e = env();
    let mut c = IrcClient::connect(e.port).unwrap();
    c.send("CAP LS 302");
    c.send("PASS alice:pw");
    c.send("NICK alice");
    c.send("USER alice 0 * :A");
    c.send("CAP REQ :server-time message-tags echo-message account-tag away-notify userhost-in-names");
    c.expect(
        "CAP alice ACK :server-time message-tags echo-message account-tag away-notify userhost-in-names",
        SOON,
    )
    .unwrap();
    c.send("CAP END");
    c.expect(" 376 alice ", SOON).unwrap();
    let names = c.expect(" 353 alice = &msn ", SOON).unwrap();
    assert!(names.contains("@alice!alice@msnbnc"), "{names}");

    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    e.s.rt.block_on(bob.say(ACCOUNT, "timed?")).unwrap();
    let line = c.expect("PRIVMSG #bob :\x02\x0304timed?", SOON).unwrap();
    assert!(
        line.starts_with("@time=20")
            && line.contains(";msgid=")
            && line.contains(" :bob!bob@example.com PRIVMSG"),
        "{line}"
    );

    c.send("PRIVMSG #bob :echoed");
    let echo = c.expect("PRIVMSG #bob :echoed", SOON).unwrap();
    assert!(
        echo.contains("account=alice") && echo.contains(":alice!alice@msnbnc PRIVMSG"),
        "{echo}"
    );

    e.s.rt.block_on(bob.typing(ACCOUNT)).unwrap();
    let typing = c.expect("TAGMSG #bob", SOON).unwrap();
    assert!(
        typing.contains("+typing=active") && typing.contains(":bob!bob@example.com"),
        "{typing}"
    );
    c.send("@+typing=active TAGMSG #bob");
    assert!(e
        .s
        .rt
        .block_on(bob.wait_for(SOON, |r| matches!(r, Received::Typing { .. })))
        .is_some());

    bob.sign_in("BSY");
    c.expect(":bob!bob@example.com AWAY :busy", SOON).unwrap();
    bob.sign_in("NLN");
    let back = c.expect(":bob!bob@example.com AWAY", SOON).unwrap();
    assert!(back.ends_with(" AWAY"), "{back}");
}

#[test]
fn modern_clients_get_labels_batches_msgids_extended_joins_and_setname() {
    let e = env();
    let mut c = IrcClient::connect(e.port).unwrap();
    c.send("CAP LS 302");
    c.send("PASS alice:pw");
    c.send("NICK alice");
    c.send("USER alice 0 * :Alice Liddell");
    c.send("CAP REQ :message-tags batch labeled-response extended-join setname");
    c.expect(
        "ACK :message-tags batch labeled-response extended-join setname",
        SOON,
    )
    .unwrap();
    c.send("CAP END");
    let isupport = c.expect(" 005 alice ", SOON).unwrap();
    assert!(isupport.contains("NAMELEN=200"), "{isupport}");
    // Our own JOIN carries our account and real name.
    c.expect(":alice!alice@msnbnc JOIN &msn alice :Alice Liddell", SOON)
        .unwrap();

    // A reply of several lines is one labelled batch.
    c.send("@label=w1 WHOIS alice");
    let open = c.expect(" BATCH +", SOON).unwrap();
    assert!(
        open.starts_with("@label=w1 :msnbnc BATCH +") && open.ends_with(" labeled-response"),
        "{open}"
    );
    let reference = open
        .split('+')
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();
    let real = c.expect(" 311 alice alice ", SOON).unwrap();
    assert!(
        real.starts_with(&format!("@batch={reference} ")) && real.ends_with(":Alice Liddell"),
        "{real}"
    );
    c.expect(&format!(":msnbnc BATCH -{reference}"), SOON).unwrap();
    // One line carries the label; no reply at all is an ACK.
    c.send("@label=p1 PING :x");
    let pong = c.expect("PONG msnbnc :x", SOON).unwrap();
    assert!(pong.starts_with("@label=p1 "), "{pong}");
    c.send("@label=a1 PONG :x");
    c.expect("@label=a1 :msnbnc ACK", SOON).unwrap();

    // Contacts join with account `*` and their friendly name, and
    // renaming themselves is a SETNAME.
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    c.expect(":bob!bob@example.com JOIN &msn * :Bob", SOON).unwrap();
    bob.set_name("Bob (order #1234)");
    c.expect(":bob!bob@example.com SETNAME :Bob (order #1234)", SOON)
        .unwrap();

    // Messages carry a msgid.
    e.s.rt.block_on(bob.say(ACCOUNT, "with an id")).unwrap();
    let line = c.expect("PRIVMSG #bob :\x02\x0304with an id", SOON).unwrap();
    assert!(line.starts_with("@msgid="), "{line}");

    // Staff rename themselves too; over-long names are refused.
    c.send("SETNAME :Alice L. (support)");
    c.expect(":alice!alice@msnbnc SETNAME :Alice L. (support)", SOON)
        .unwrap();
    c.send(&format!("SETNAME :{}", "x".repeat(201)));
    c.expect("FAIL SETNAME INVALID_REALNAME", SOON).unwrap();
    c.send("WHOIS alice");
    c.expect(" 311 alice alice alice msnbnc * :Alice L. (support)", SOON)
        .unwrap();
}

#[test]
fn formatting_actions_and_claims() {
    let e = env();
    let mut alice = login(e.port, "alice");
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    // The simulator's customers write bold red Arial.
    e.s.rt.block_on(bob.say(ACCOUNT, "styled")).unwrap();
    // … closed with a reset, so nothing after the line inherits it.
    alice
        .expect(":bob!bob@example.com PRIVMSG #bob :\x02\x0304styled\x0f", SOON)
        .unwrap();

    alice.send("PRIVMSG #bob :\x02bold\x02 and \x0312blue\x03 reply");
    // MSN formats whole messages: the sender is told what bob sees.
    alice
        .expect(
            "NOTICE #bob :MSN formats a message as a whole, so bob@example.com sees all of it bold and coloured",
            SOON,
        )
        .unwrap();
    let got = e.s.rt.block_on(bob.wait_for(
        SOON,
        |r| matches!(r, Received::Text { text, .. } if text == "bold and blue reply"),
    ));
    let Some(Received::Text {
        format: Some(format), ..
    }) = got
    else {
        panic!("{:?}", bob.inbox())
    };
    assert!(
        format.contains("EF=B") && format.contains("CO=fc0000"),
        "{format}"
    );

    alice.send("PRIVMSG #bob :\x01ACTION waves\x01");
    assert!(e
        .s
        .rt
        .block_on(bob.wait_for(
            SOON,
            |r| matches!(r, Received::Text { text, .. } if text == "*waves*")
        ))
        .is_some());

    alice.send("PRIVMSG *msn :claim #bob");
    alice
        .expect(
            "TOPIC #bob :Conversation with bob@example.com (Bob, online) | open | claimed by alice",
            SOON,
        )
        .unwrap();
    alice.send("PRIVMSG *msn :unclaim #bob");
    alice.expect("| unclaimed", SOON).unwrap();
    alice.send("PRIVMSG *msn :claim #nobody");
    alice.expect("no conversation #nobody", SOON).unwrap();
}

#[test]
fn customers_get_one_auto_reply_while_nobody_is_attached() {
    let e = env_with("unattended_reply = \"Thanks! We are away right now and will answer soon.\"");
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    e.s.rt.block_on(bob.say(ACCOUNT, "hello?")).unwrap();
    e.s.rt.block_on(bob.say(ACCOUNT, "anyone?")).unwrap();
    let reply = "Thanks! We are away right now and will answer soon.";
    assert!(e
        .s
        .rt
        .block_on(bob.wait_for(
            SOON,
            |r| matches!(r, Received::Text { text, .. } if text == reply)
        ))
        .is_some());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        bob.texts().iter().filter(|t| *t == reply).count(),
        1,
        "{:?}",
        bob.texts()
    );
    // With staff attached, no auto-reply.
    let _alice = login(e.port, "alice");
    e.s.rt.block_on(bob.say(ACCOUNT, "still there?")).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(bob.texts().iter().filter(|t| *t == reply).count(), 1);
}

#[test]
fn idle_conversations_close_and_reopen_on_new_activity() {
    let e = env_with("idle_close_secs = 2");
    let mut alice = login(e.port, "alice");
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    e.s.rt.block_on(bob.say(ACCOUNT, "first")).unwrap();
    alice.expect(" JOIN #bob", SOON).unwrap();
    alice
        .expect(":alice!alice@msnbnc PART #bob :conversation closed (idle)", SOON)
        .unwrap();
    // Once the server has seen the account leave, bob writes again. (A
    // message crossing our OUT on the wire would be lost: see the notes.)
    let left = |s: &msn_sim::Simulator| s.transcript().iter().any(|l| l == "SB< OUT");
    assert!(e.s.rt.block_on(e.s.sim.wait_until(SOON, left)));
    std::thread::sleep(Duration::from_millis(200));
    e.s.rt.block_on(bob.say(ACCOUNT, "back again")).unwrap();
    alice.expect(" JOIN #bob", SOON).unwrap();
    alice.expect("PRIVMSG #bob :\x02\x0304back again", SOON).unwrap();
}

#[test]
fn admins_manage_users_and_the_worker_from_irc() {
    let e = env();
    let (mut alice, mut zoe) = (login(e.port, "alice"), login(e.port, "zoe"));
    zoe.send("PRIVMSG *msn :users list");
    zoe.expect("users is for administrators", SOON).unwrap();
    alice.send("PRIVMSG *msn :users add kim");
    let added = alice.expect("added kim (staff)", SOON).unwrap();
    let password = added.rsplit(' ').next().unwrap().trim().to_owned();
    let mut kim = IrcClient::connect(e.port).unwrap();
    kim.send(&format!("PASS :kim:{password}"));
    kim.send("NICK kim");
    kim.send("USER kim 0 * :Kim");
    kim.expect(" 001 kim ", SOON).unwrap();

    // Signed in elsewhere: held until an admin resumes it.
    e.s.sim.sign_in_elsewhere(ACCOUNT);
    alice.expect("MSN worker: waiting for an operator", SOON).unwrap();
    alice.send("PRIVMSG *msn :worker resume");
    alice.expect("resuming the MSN worker", SOON).unwrap();
    alice
        .expect("NOTICE &msn :MSN worker: signed in as", SOON)
        .unwrap();
    assert_eq!(e.s.sim.logins(), 2);

    alice.send("PRIVMSG *msn :worker restart");
    alice.expect("restarting the MSN worker", SOON).unwrap();
    alice
        .expect("NOTICE &msn :MSN worker: signed in as", SOON)
        .unwrap();
    assert!(e.s.rt.block_on(e.s.sim.wait_until(SOON, |s| s.logins() == 3)));
}

#[test]
fn the_desk_follows_a_conversation_from_new_to_resolved_and_back_when_the_customer_writes() {
    let e = env();
    let mut alice = login(e.port, "alice");
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    e.s.rt.block_on(bob.say(ACCOUNT, "my parcel never came")).unwrap();
    alice
        .expect(
            "TOPIC #bob :Conversation with bob@example.com (Bob, online) | new | unclaimed",
            SOON,
        )
        .unwrap();
    alice.send("PRIVMSG *msn :queue");
    alice
        .expect("#bob bob@example.com — new, waiting ", SOON)
        .unwrap();
    alice.send("PRIVMSG #bob :Sorry about that, I will check.");
    alice
        .expect(
            "TOPIC #bob :Conversation with bob@example.com (Bob, online) | open | unclaimed",
            SOON,
        )
        .unwrap();
    alice.send("PRIVMSG *msn :resolve #bob resent by courier");
    alice
        .expect("NOTICE #bob :resolved by alice: resent by courier", SOON)
        .unwrap();
    alice.send("PRIVMSG *msn :queue");
    alice.expect("the queue is empty", SOON).unwrap();
    alice.send("PRIVMSG *msn :stats");
    alice.expect(": 1 conversation(s), 1 resolved", SOON).unwrap();
    let first = alice.expect("first response: median ", SOON).unwrap();
    assert!(first.ends_with(" (1)"), "{first}");
    alice
        .expect(
            "alice: 1 line(s) in 1 conversation(s), 1.0 each; first response median ",
            SOON,
        )
        .unwrap();
    // The customer writes again: the conversation is back in the queue.
    e.s.rt.block_on(bob.say(ACCOUNT, "it came, but broken")).unwrap();
    alice
        .expect("NOTICE #bob :re-opened: the customer wrote again", SOON)
        .unwrap();
    alice.expect("| new | unclaimed", SOON).unwrap();
    alice.send("PRIVMSG *msn :queue");
    alice
        .expect("#bob bob@example.com — new, waiting ", SOON)
        .unwrap();
}

#[test]
fn a_customer_waiting_past_the_threshold_gets_staff_alerted_once() {
    let e = env_with_config("", "", "[desk]\nalert_after_secs = 2\nalert_again_after_secs = 0");
    let mut alice = login(e.port, "alice");
    let mut zoe = login(e.port, "zoe");
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    e.s.rt.block_on(bob.say(ACCOUNT, "is anybody there?")).unwrap();
    for c in [&mut alice, &mut zoe] {
        // 2 s, or a little more on a busy machine.
        let said = c.expect("NOTICE #bob :bob has waited ", SOON).unwrap();
        assert!(said.ends_with(" s for an answer: alice zoe"), "{said}");
        c.expect("NOTICE &msn :#bob: bob has waited ", SOON).unwrap();
    }
    // Once: no second alert is configured.
    std::thread::sleep(Duration::from_secs(2));
    alice.send("PING :later");
    alice.expect("PONG msnbnc :later", SOON).unwrap();
    assert!(
        !alice.received.iter().any(|l| l.contains("for an answer")),
        "{:#?}",
        alice.received
    );
}

#[test]
fn a_canned_reply_reaches_the_customer_expanded_and_staff_see_the_expansion() {
    let e = env();
    let mut alice = login(e.port, "alice");
    // {agent} is the real name the client gives.
    let mut zoe = IrcClient::connect(e.port).unwrap();
    zoe.send("PASS :zoe:pw");
    zoe.send("NICK zoe");
    zoe.send("USER zoe 0 * :Zoe Quinn");
    zoe.expect(" JOIN &msn", SOON).unwrap();
    alice.send(
        "PRIVMSG *msn :canned add thanks Thank you, {customer}! {agent} ({nick}) from the support team.",
    );
    alice.expect("!thanks added", SOON).unwrap();
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    e.s.rt.block_on(bob.say(ACCOUNT, "it works now")).unwrap();
    zoe.expect("PRIVMSG #bob :", SOON).unwrap();
    zoe.send("PRIVMSG #bob :!thanks");
    let expanded = "Thank you, Bob! Zoe Quinn (zoe) from the support team.";
    let got = e.s.rt.block_on(bob.wait_for(
        SOON,
        |r| matches!(r, Received::Text { text, .. } if text == expanded),
    ));
    assert!(got.is_some(), "bob got {:?}", bob.texts());
    for c in [&mut alice, &mut zoe] {
        c.expect(&format!(":zoe!zoe@msnbnc PRIVMSG #bob :{expanded}"), SOON)
            .unwrap();
    }
    assert!(!bob.texts().iter().any(|t| t.contains("!thanks")));
}

#[test]
fn the_closed_reply_goes_out_outside_business_hours_only() {
    let s = sim();
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    add_staff(&cfg, "alice", "pw", false);
    let text = std::fs::read_to_string(&cfg).unwrap();
    let desk = "[desk]\ntime_zone = \"UTC\"\nclosed_reply = \"We are closed until Monday 9:00 UTC.\"\n[desk.hours]\nmon = \"09:00-17:00\"\ntue = \"09:00-17:00\"\n";
    std::fs::write(&cfg, format!("{text}\n{desk}")).unwrap();
    let bob = s.sim.customer(BOB);
    bob.sign_in("NLN");
    let closed = "We are closed until Monday 9:00 UTC.";
    let replies = |bob: &msn_sim::Customer| bob.texts().iter().filter(|t| *t == closed).count();
    let cfg_arg = cfg.to_string_lossy().into_owned();
    let run_at = |now: &str| Bouncer::start(&["run", "--config", &cfg_arg], &[("MSNBNC_DESK_NOW", now)]);

    // Sunday: closed. The customer gets the reply once; staff see it.
    let bouncer = run_at("2026-12-06T12:00:00Z");
    let port = signed_in_port(&bouncer, &s);
    let mut alice = login(port, "alice");
    s.rt.block_on(bob.say(ACCOUNT, "hello?")).unwrap();
    alice
        .expect(
            &format!("NOTICE #bob :auto-reply sent (outside business hours): {closed}"),
            SOON,
        )
        .unwrap();
    let got = s.rt.block_on(bob.wait_for(
        SOON,
        |r| matches!(r, Received::Text { text, .. } if text == closed),
    ));
    assert!(got.is_some(), "bob got {:?}", bob.texts());
    s.rt.block_on(bob.say(ACCOUNT, "anyone?")).unwrap();
    alice.expect("PRIVMSG #bob :", SOON).unwrap();
    alice.send("PRIVMSG *msn :hours");
    alice.expect("now (12:00 there): closed", SOON).unwrap();
    assert_eq!(replies(&bob), 1, "{:?}", bob.texts());
    drop(alice);
    drop(bouncer);

    // Monday 10:00: open, staff attached. No reply.
    let bouncer = run_at("2026-12-07T10:00:00Z");
    let port = signed_in_port(&bouncer, &s);
    let mut alice = login(port, "alice");
    let before = bob.texts().len();
    s.rt.block_on(bob.say(ACCOUNT, "good morning")).unwrap();
    alice.expect("good morning", SOON).unwrap();
    alice.send("PRIVMSG *msn :hours");
    alice.expect("now (10:00 there): open", SOON).unwrap();
    assert_eq!(bob.texts().len(), before, "{:?}", bob.texts());
}

/// `GET path` over plain HTTP/1.1; the status line and the body.
fn http_get(port: u16, path: &str) -> (String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    let (head, body) = reply.split_once("\r\n\r\n").unwrap_or((&reply, ""));
    (head.lines().next().unwrap_or("").to_owned(), body.to_owned())
}

/// Strictly Prometheus/OpenMetrics text: comments are HELP, TYPE, UNIT or
/// the final EOF; every sample is `name{labels} number`. Returns the
/// samples by name with labels.
fn parse_exposition(text: &str) -> std::collections::BTreeMap<String, f64> {
    let mut samples = std::collections::BTreeMap::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.last(), Some(&"# EOF"), "ends with # EOF");
    for line in &lines[..lines.len() - 1] {
        if let Some(comment) = line.strip_prefix("# ") {
            let word = comment.split(' ').next().unwrap_or("");
            assert!(["HELP", "TYPE", "UNIT"].contains(&word), "bad comment: {line}");
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value: {line}"));
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
                && !name.starts_with(|c: char| c.is_ascii_digit()),
            "bad name: {line}"
        );
        if name_end < series.len() {
            let labels = &series[name_end..];
            assert!(
                labels.starts_with('{') && labels.ends_with('}'),
                "bad labels: {line}"
            );
            for pair in labels[1..labels.len() - 1].split(',').filter(|p| !p.is_empty()) {
                let (k, v) = pair
                    .split_once('=')
                    .unwrap_or_else(|| panic!("bad label: {line}"));
                assert!(
                    k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                    "bad label name: {line}"
                );
                assert!(
                    v.starts_with('"') && v.ends_with('"') && v.len() >= 2,
                    "bad label value: {line}"
                );
            }
        }
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("bad value: {line}"));
        samples.insert(series.to_owned(), v);
    }
    samples
}

#[test]
fn the_metrics_endpoint_serves_prometheus_text_that_follows_the_desk() {
    let e = env_with_config("", "", "[metrics]\nlisten = \"127.0.0.1:0\"");
    let port = msnbnc_tests::http::listening_port(&e.bouncer, "metrics");
    let mut alice = login(e.port, "alice");
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    e.s.rt.block_on(bob.say(ACCOUNT, "hello?")).unwrap();
    alice.expect("PRIVMSG #bob :", SOON).unwrap();
    alice.send("PRIVMSG #bob :Hi Bob!");
    alice
        .expect(
            "TOPIC #bob :Conversation with bob@example.com (Bob, online) | open",
            SOON,
        )
        .unwrap();
    // Gauges follow within a second.
    std::thread::sleep(Duration::from_millis(1500));
    let (status, body) = http_get(port, "/metrics");
    assert!(status.contains(" 200 "), "{status}");
    let m = parse_exposition(&body);
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no {k} in {body}"));
    assert_eq!(get("msnbnc_customer_lines_total"), 1.0);
    assert_eq!(get("msnbnc_staff_lines_total"), 1.0);
    assert_eq!(get("msnbnc_conversations{state=\"open\"}"), 1.0);
    assert_eq!(get("msnbnc_conversations{state=\"new\"}"), 0.0);
    assert_eq!(get("msnbnc_first_response_seconds_count"), 1.0);
    assert_eq!(get("msnbnc_attached_clients"), 1.0);
    assert_eq!(get("msnbnc_worker_signed_in"), 1.0);
    assert_eq!(get("msnbnc_worker_state{state=\"signed_in\"}"), 1.0);
    assert_eq!(get("msnbnc_worker_state{state=\"restarting\"}"), 0.0);
    assert!(get("msnbnc_store_size_bytes") > 0.0);
    assert!(http_get(port, "/").0.contains(" 404 "));
}

#[test]
fn a_signature_tells_the_customer_who_answered() {
    let e = env_with("signature = \"[{nick}] {text}\"");
    let mut alice = login(e.port, "alice");
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    e.s.rt.block_on(bob.say(ACCOUNT, "who is this?")).unwrap();
    alice.expect("PRIVMSG #bob :", SOON).unwrap();
    alice.send("PRIVMSG #bob :Alice from support here.");
    let bob_gets = |want: &str| {
        let got =
            e.s.rt
                .block_on(bob.wait_for(SOON, |r| matches!(r, Received::Text { text, .. } if text == want)));
        assert!(got.is_some(), "wanted {want:?}; bob got {:?}", bob.texts());
    };
    bob_gets("[alice] Alice from support here.");

    // A staff member's own signature wins over the global one, and stays.
    alice.send("PRIVMSG *msn :signature {text} -- Alice, Example Shop");
    alice.expect("signature set: {text} -- Alice", SOON).unwrap();
    alice.send("PRIVMSG #bob :Your parcel left today.");
    bob_gets("Your parcel left today. -- Alice, Example Shop");
    alice.send("QUIT");
    assert!(alice.closed(SOON));
    let mut alice = login(e.port, "alice");
    alice.send("PRIVMSG *msn :signature");
    alice.expect("your signature: {text} -- Alice", SOON).unwrap();
    // `none` sends the text alone; `default` brings back the global one.
    alice.send("PRIVMSG *msn :signature none");
    alice.expect("no signature from now on", SOON).unwrap();
    alice.send("PRIVMSG #bob :Plain.");
    bob_gets("Plain.");
    alice.send("PRIVMSG *msn :signature default");
    alice.expect("back to the default signature", SOON).unwrap();
    alice.send("PRIVMSG #bob :Signed again.");
    bob_gets("[alice] Signed again.");
}

#[test]
fn sighup_applies_a_new_signature_at_once_and_names_what_needs_a_restart() {
    let e = env_with("signature = \"[{nick}] {text}\"");
    let mut alice = login(e.port, "alice");
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    e.s.rt.block_on(bob.say(ACCOUNT, "anyone there?")).unwrap();
    alice.expect("PRIVMSG #bob :", SOON).unwrap();
    let bob_gets = |want: &str| {
        let got =
            e.s.rt
                .block_on(bob.wait_for(SOON, |r| matches!(r, Received::Text { text, .. } if text == want)));
        assert!(got.is_some(), "wanted {want:?}; bob got {:?}", bob.texts());
    };
    alice.send("PRIVMSG #bob :Yes, hello.");
    bob_gets("[alice] Yes, hello.");

    // A new signature and a new listener: the first applies now, the
    // second is named as waiting for a restart (the old one stays open).
    let text = std::fs::read_to_string(&e.cfg).unwrap();
    let text = text
        .replace(
            "signature = \"[{nick}] {text}\"",
            "signature = \"{text} ({nick}, Example Shop)\"",
        )
        .replace(
            "listen = [\"127.0.0.1:0\"]",
            "listen = [\"127.0.0.1:0\", \"127.0.0.2:0\"]",
        );
    std::fs::write(&e.cfg, text).unwrap();
    let before = e.bouncer.log_len();
    e.bouncer.signal(Signal::SIGHUP);
    e.bouncer
        .wait_for_from(before, "applied now: irc.signature", SOON)
        .unwrap();
    e.bouncer
        .wait_for_from(before, "take effect only when msnbnc restarts: irc.listen", SOON)
        .unwrap();
    alice.send("PRIVMSG #bob :How can I help?");
    bob_gets("How can I help? (alice, Example Shop)");
    // Still the same listener, and the same staff connection.
    let mut zoe = login(e.port, "zoe");
    zoe.send("PING :still");
    zoe.expect("PONG", SOON).unwrap();
}

#[test]
fn who_and_whois_show_contacts_and_their_away_state() {
    let e = env();
    let mut alice = login(e.port, "alice");
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("LUN");
    alice.expect(":bob!bob@example.com JOIN &msn", SOON).unwrap();
    alice.send("WHO &msn");
    let row = alice
        .expect(" 352 alice &msn bob example.com msnbnc bob ", SOON)
        .unwrap();
    assert!(row.contains(" G+ :0 Bob"), "{row}");
    alice.expect(" 315 alice &msn ", SOON).unwrap();
    alice.send("WHOIS bob");
    alice
        .expect(" 311 alice bob bob example.com * :Bob <bob@example.com>", SOON)
        .unwrap();
    alice.expect(" 301 alice bob :out to lunch", SOON).unwrap();
    alice.expect(" 318 alice bob ", SOON).unwrap();
    alice.send("WHOIS nobody");
    alice.expect(" 401 alice nobody ", SOON).unwrap();
    // A personal message is part of the real name.
    bob.set_personal_message("back at 3");
    std::thread::sleep(Duration::from_millis(300));
    alice.send("WHO bob");
    let row = alice.expect(" bob example.com msnbnc bob ", SOON).unwrap();
    assert!(row.ends_with(":0 Bob: \"back at 3\""), "{row}");
    alice.send("WHOIS bob");
    alice
        .expect(
            " 311 alice bob bob example.com * :Bob <bob@example.com>: \"back at 3\"",
            SOON,
        )
        .unwrap();
}

#[test]
fn nudges_go_both_ways_as_actions_and_personal_messages_show_in_topics() {
    let e = env();
    let (mut alice, mut zoe) = (login(e.port, "alice"), login(e.port, "zoe"));
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    bob.set_personal_message("Waiting for order 1234");
    e.s.rt.block_on(bob.nudge(ACCOUNT)).unwrap();
    // A customer's nudge: an action in their conversation, kept in history.
    for c in [&mut alice, &mut zoe] {
        c.expect(
            ":bob!bob@example.com PRIVMSG #bob :\x01ACTION nudged you\x01",
            SOON,
        )
        .unwrap();
    }
    // Their personal message is part of who they are in the topic.
    alice
        .expect(
            "#bob :Conversation with bob@example.com (Bob, online, \"Waiting for order 1234\")",
            SOON,
        )
        .unwrap();
    alice.send("PRIVMSG *msn :history #bob 5");
    alice.expect("* bob nudged you", SOON).unwrap();

    // Staff nudge back: bob's window shakes, colleagues see who did it.
    alice.send("PRIVMSG *msn :nudge #bob");
    alice.expect("NOTICE alice :done: nudge #bob", SOON).unwrap();
    zoe.expect(
        ":alice!alice@msnbnc PRIVMSG #bob :\x01ACTION sent a nudge\x01",
        SOON,
    )
    .unwrap();
    let got =
        e.s.rt
            .block_on(bob.wait_for(SOON, |r| matches!(r, Received::Nudge { .. })));
    assert!(got.is_some(), "bob got no nudge: {:?}", bob.inbox());
    alice.send("PRIVMSG *msn :nudge #nobody");
    alice
        .expect("NOTICE alice :no conversation #nobody", SOON)
        .unwrap();
}
