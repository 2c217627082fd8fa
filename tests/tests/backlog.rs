//! The durable backlog, end to end: what a device missed is replayed when
//! it attaches, once, in order, with its original times.

use std::time::Duration;

use msnbnc_tests::irc::{plain, IrcClient};
use msnbnc_tests::msn_env::{add_to_config, config, signed_in_port, sim, Sim};
use msnbnc_tests::worker::{ACCOUNT, PASSWORD};
use msnbnc_tests::{add_staff, signal_pid, Bouncer, TestDir};
use nix::sys::signal::Signal;

const SOON: Duration = Duration::from_secs(15);
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.com";

struct Env {
    s: Sim,
    _dir: TestDir,
    _bouncer: Bouncer,
    port: u16,
}

fn env() -> Env {
    let s = sim();
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    add_staff(&cfg, "alice", "pw", false);
    // A colleague who stays attached: what she has seen is stored.
    add_staff(&cfg, "zoe", "pw", false);
    let bouncer = Bouncer::run(&cfg);
    let port = signed_in_port(&bouncer, &s);
    Env {
        s,
        _dir: dir,
        _bouncer: bouncer,
        port,
    }
}

/// Logs `login` in, requesting `caps`, and waits for the end of the MOTD.
fn attach(port: u16, login: &str, caps: &str) -> IrcClient {
    IrcClient::log_in(port, &format!("{login}:pw"), caps).unwrap()
}

/// Everything received until a PING answers: nothing else is on its way.
fn settle(c: &mut IrcClient) -> Vec<String> {
    c.send("PING :settled");
    c.expect("PONG msnbnc :settled", SOON).unwrap();
    std::mem::take(&mut c.received)
}

fn privmsgs(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .filter(|l| l.contains(" PRIVMSG #"))
        .map(|l| plain(l.rsplit(" :").next().unwrap_or_default()))
        .collect()
}

#[test]
fn each_device_gets_what_it_missed_once_in_order_with_times() {
    let e = env();
    let (bob, carol) = (e.s.sim.customer(BOB), e.s.sim.customer(CAROL));
    bob.sign_in("NLN");
    carol.sign_in("NLN");

    let mut zoe = attach(e.port, "zoe", "");
    let (mut laptop, mut phone) = (
        attach(e.port, "alice@laptop", ""),
        attach(e.port, "alice@phone", ""),
    );
    e.s.rt.block_on(bob.say(ACCOUNT, "seen live")).unwrap();
    for c in [&mut laptop, &mut phone] {
        c.expect("seen live", SOON).unwrap();
        c.send("QUIT");
        assert!(c.closed(SOON));
    }

    // While alice is away: three lines from bob, and a new conversation.
    for text in ["one", "two", "three"] {
        e.s.rt.block_on(bob.say(ACCOUNT, text)).unwrap();
    }
    e.s.rt.block_on(carol.say(ACCOUNT, "hello from carol")).unwrap();
    zoe.expect("hello from carol", SOON).unwrap();

    // The laptop gets exactly those, as chathistory batches with times.
    let mut laptop = attach(e.port, "alice@laptop", "batch server-time message-tags");
    // The replay runs beside the session: wait for its last batch to close.
    laptop.expect(":msnbnc BATCH -r1", SOON).unwrap();
    let got = settle(&mut laptop);
    assert_eq!(
        privmsgs(&got),
        ["one", "two", "three", "hello from carol"],
        "{got:#?}"
    );
    let opens: Vec<&String> = got.iter().filter(|l| l.contains(" BATCH +")).collect();
    assert!(opens.iter().any(|l| l.ends_with(" chathistory #bob")), "{got:#?}");
    assert!(
        opens.iter().any(|l| l.ends_with(" chathistory #carol")),
        "{got:#?}"
    );
    for l in got.iter().filter(|l| l.contains(" PRIVMSG #")) {
        assert!(
            l.starts_with("@batch=") && l.contains(";time=20") && l.contains(";msgid="),
            "{l}"
        );
    }
    assert!(got.iter().any(|l| l.contains(" JOIN #carol")), "{got:#?}");

    // The other device has its own position: it gets the same, as plain
    // lines with a short time in front (no batch, no server-time).
    let mut phone = attach(e.port, "alice@phone", "");
    // (the last replayed line: put back where it came from, at the end)
    let last = phone.expect("hello from carol", SOON).unwrap();
    phone.received.push(last);
    let got = settle(&mut phone);
    let texts: Vec<String> = got
        .iter()
        .filter(|l| l.contains(" PRIVMSG #"))
        .map(|l| plain(l.rsplit(" :").next().unwrap_or_default()))
        .collect();
    assert_eq!(texts.len(), 4, "{got:#?}");
    assert!(
        texts[0].starts_with('[') && texts[0].ends_with("one"),
        "{texts:?}"
    );

    // A third attach of the laptop: nothing new.
    let mut again = attach(e.port, "alice@laptop", "batch server-time");
    std::thread::sleep(Duration::from_millis(500));
    let got = settle(&mut again);
    assert!(privmsgs(&got).is_empty(), "{got:#?}");
}

/// Sends a command and collects the lines of the batch that answers it.
fn batch(c: &mut IrcClient, command: &str) -> Vec<String> {
    c.received.clear();
    c.send(command);
    c.expect(" BATCH -", SOON).unwrap();
    let lines: Vec<String> = std::mem::take(&mut c.received);
    lines.into_iter().filter(|l| l.starts_with("@batch=")).collect()
}

fn texts_of(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| plain(l.rsplit(" :").next().unwrap_or_default()))
        .collect()
}

fn tag<'a>(line: &'a str, name: &str) -> &'a str {
    line.trim_start_matches('@')
        .split(' ')
        .next()
        .unwrap_or_default()
        .split(';')
        .find_map(|t| t.strip_prefix(&format!("{name}=")))
        .unwrap_or_default()
}

const MODERN: &str = "batch server-time message-tags draft/chathistory draft/read-marker";

#[test]
fn chathistory_answers_every_subcommand_and_refuses_mistakes() {
    let e = env();
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    let mut alice = attach(e.port, "alice", MODERN);
    let isupport = alice
        .received
        .iter()
        .find(|l| l.contains(" 005 "))
        .cloned()
        .unwrap_or_default();
    assert!(
        isupport.contains("CHATHISTORY=1000") && isupport.contains("MSGREFTYPES=msgid,timestamp"),
        "{isupport}"
    );
    let mut live = Vec::new();
    for i in 1..=5 {
        e.s.rt.block_on(bob.say(ACCOUNT, &format!("l{i}"))).unwrap();
        live.push(
            alice
                .expect(&format!("PRIVMSG #bob :\x02\x0304l{i}"), SOON)
                .unwrap(),
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let id = |i: usize| tag(&live[i - 1], "msgid").to_owned();
    let time = |i: usize| tag(&live[i - 1], "time").to_owned();

    assert_eq!(
        texts_of(&batch(&mut alice, "CHATHISTORY LATEST #bob * 3")),
        ["l3", "l4", "l5"]
    );
    assert_eq!(
        texts_of(&batch(
            &mut alice,
            &format!("CHATHISTORY BEFORE #bob msgid={} 10", id(3))
        )),
        ["l1", "l2"]
    );
    assert_eq!(
        texts_of(&batch(
            &mut alice,
            &format!("CHATHISTORY AFTER #bob msgid={} 1", id(3))
        )),
        ["l4"]
    );
    assert_eq!(
        texts_of(&batch(
            &mut alice,
            &format!("CHATHISTORY AROUND #bob msgid={} 3", id(3))
        )),
        ["l2", "l3", "l4"]
    );
    assert_eq!(
        texts_of(&batch(
            &mut alice,
            &format!("CHATHISTORY BETWEEN #bob msgid={} msgid={} 10", id(1), id(5))
        )),
        ["l2", "l3", "l4"]
    );
    assert_eq!(
        texts_of(&batch(
            &mut alice,
            &format!("CHATHISTORY LATEST #bob msgid={} 10", id(3))
        )),
        ["l4", "l5"]
    );
    // Timestamps as references; the replies keep original times and msgids.
    let after = batch(
        &mut alice,
        &format!("CHATHISTORY AFTER #bob timestamp={} 10", time(3)),
    );
    assert_eq!(texts_of(&after), ["l4", "l5"]);
    assert_eq!(
        (tag(&after[0], "msgid"), tag(&after[0], "time")),
        (id(4).as_str(), time(4).as_str())
    );
    assert_eq!(
        texts_of(&batch(
            &mut alice,
            &format!(
                "CHATHISTORY BETWEEN #bob timestamp={} timestamp={} 10",
                time(4),
                time(1)
            )
        )),
        ["l2", "l3"]
    );
    // Edges: nothing before the first line is an empty batch.
    assert!(batch(&mut alice, &format!("CHATHISTORY BEFORE #bob msgid={} 10", id(1))).is_empty());
    let targets = batch(
        &mut alice,
        "CHATHISTORY TARGETS timestamp=2000-01-01T00:00:00.000Z timestamp=2999-01-01T00:00:00.000Z 10",
    );
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert!(
        targets[0].contains(" CHATHISTORY TARGETS #bob ") && targets[0].ends_with(&time(5)),
        "{targets:?}"
    );

    // Mistakes get the standard FAIL codes.
    for (command, fail) in [
        (
            "CHATHISTORY LATEST #nobody * 10",
            "FAIL CHATHISTORY INVALID_TARGET LATEST #nobody",
        ),
        (
            "CHATHISTORY LATEST #bob * 0",
            "FAIL CHATHISTORY INVALID_PARAMS LATEST",
        ),
        (
            "CHATHISTORY BEFORE #bob msgid=nonesuch 10",
            "FAIL CHATHISTORY INVALID_PARAMS BEFORE",
        ),
        (
            "CHATHISTORY BEFORE #bob last-tuesday 10",
            "FAIL CHATHISTORY INVALID_PARAMS BEFORE",
        ),
        (
            "CHATHISTORY FROB #bob * 10",
            "FAIL CHATHISTORY INVALID_PARAMS FROB",
        ),
        ("CHATHISTORY", "FAIL CHATHISTORY INVALID_PARAMS *"),
    ] {
        alice.send(command);
        alice.expect(fail, SOON).unwrap();
    }
}

#[test]
fn a_read_marker_set_on_one_device_reaches_the_others() {
    let e = env();
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    let mut laptop = attach(e.port, "alice@laptop", MODERN);
    e.s.rt.block_on(bob.say(ACCOUNT, "read me")).unwrap();
    let line = laptop.expect("read me", SOON).unwrap();
    let mut phone = attach(e.port, "alice@phone", MODERN);
    // On JOIN, a read-marker client learns the marker (none yet).
    phone.expect("MARKREAD #bob *", SOON).unwrap();
    let t = tag(&line, "time").to_owned();
    laptop.send(&format!("MARKREAD #bob timestamp={t}"));
    for c in [&mut laptop, &mut phone] {
        c.expect(&format!("MARKREAD #bob timestamp={t}"), SOON).unwrap();
    }
    // Markers never go back; asking gives the one in force.
    phone.send("MARKREAD #bob timestamp=2000-01-01T00:00:00.000Z");
    phone
        .expect(&format!("MARKREAD #bob timestamp={t}"), SOON)
        .unwrap();
    phone.send("MARKREAD #bob");
    phone
        .expect(&format!("MARKREAD #bob timestamp={t}"), SOON)
        .unwrap();
    phone.send("MARKREAD #bob yesterday");
    phone.expect("FAIL MARKREAD INVALID_PARAMS", SOON).unwrap();
    phone.send("MARKREAD");
    phone.expect("FAIL MARKREAD NEED_MORE_PARAMS", SOON).unwrap();
}

#[test]
fn the_service_shows_history_and_searches_every_conversation() {
    let e = env();
    let (bob, carol) = (e.s.sim.customer(BOB), e.s.sim.customer(CAROL));
    bob.sign_in("NLN");
    carol.sign_in("NLN");
    let mut alice = attach(e.port, "alice", "");
    for text in ["my order 1234 is late", "it was due monday", "any news?"] {
        e.s.rt.block_on(bob.say(ACCOUNT, text)).unwrap();
        alice.expect(text, SOON).unwrap();
    }
    e.s.rt.block_on(carol.say(ACCOUNT, "where is my ORDER?")).unwrap();
    alice.expect("where is my ORDER?", SOON).unwrap();
    alice.send("PRIVMSG #bob :Checking order 1234 now.");

    alice.send("PRIVMSG *msn :history #bob 2");
    let a = alice.expect("NOTICE alice :[", SOON).unwrap();
    let b = alice.expect("NOTICE alice :[", SOON).unwrap();
    assert!(a.ends_with("<bob> \x02\x0304any news?\x0f"), "{a}");
    assert!(b.ends_with("<alice> Checking order 1234 now."), "{b}");

    alice.send("PRIVMSG *msn :search order");
    let hits: Vec<String> = (0..3)
        .map(|_| alice.expect("NOTICE alice :[", SOON).unwrap())
        .collect();
    assert!(hits[0].contains("#bob <alice> Checking order 1234"), "{hits:?}");
    assert!(hits[1].contains("#carol <carol>"), "{hits:?}");
    assert!(
        hits[2].contains("#bob <bob>") && hits[2].contains("my order 1234"),
        "{hits:?}"
    );
    alice.send("PRIVMSG *msn :search zeppelin");
    alice.expect("nothing found for \"zeppelin\"", SOON).unwrap();
    alice.send("PRIVMSG *msn :history #nobody");
    alice.expect("no history for #nobody", SOON).unwrap();
}

#[test]
fn killing_msnbnc_mid_stream_loses_nothing_it_showed_and_duplicates_nothing() {
    let s = sim();
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    add_staff(&cfg, "alice", "pw", false);
    let bouncer = Bouncer::run(&cfg);
    let port = signed_in_port(&bouncer, &s);
    let bob = s.sim.customer(BOB);
    bob.sign_in("NLN");
    let mut alice = attach(port, "alice", "");

    // Bob writes m0, m1, … without pause; msnbnc dies in the middle.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (bob, stop) = (s.sim.customer(BOB), stop.clone());
        s.rt.spawn(async move {
            let mut i = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // While msnbnc is down the account is offline: those fail.
                if bob.say(ACCOUNT, &format!("m{i}")).await.is_ok() {
                    i += 1;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            i
        })
    };
    alice.expect("PRIVMSG #bob :\x02\x0304m40", SOON).unwrap();
    signal_pid(bouncer.pid(), Signal::SIGKILL);
    assert!(alice.closed(SOON));
    let seen: Vec<usize> = alice
        .received
        .iter()
        .filter_map(|l| plain(l.rsplit("PRIVMSG #bob :\x02\x0304m").next()?).parse().ok())
        .collect();
    drop(bouncer);

    let bouncer = Bouncer::run(&cfg);
    let port = signed_in_port(&bouncer, &s);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = s.rt.block_on(writer).unwrap();
    let mut alice = attach(port, "alice", "batch server-time message-tags draft/chathistory");
    let history: Vec<usize> = batch(&mut alice, "CHATHISTORY LATEST #bob * 1000")
        .iter()
        .filter_map(|l| plain(l.rsplit(" :\x02\x0304m").next()?).parse().ok())
        .collect();
    // Everything alice saw before the kill is there, once, in order.
    assert!(seen.len() >= 40, "{seen:?}");
    for m in &seen {
        assert_eq!(
            history.iter().filter(|h| *h == m).count(),
            1,
            "m{m} in {history:?}"
        );
    }
    assert!(
        history.windows(2).all(|w| w[0] < w[1]),
        "out of order or repeated: {history:?}"
    );
    assert!(history.iter().all(|h| *h < sent), "{history:?} vs {sent} sent");
    let _ = bouncer;
}

#[test]
fn staff_messages_survive_a_worker_crash_exactly_once_or_are_reported() {
    // The switchboard acknowledges only after 3 s: a message can be on the
    // wire, unacknowledged, when the worker dies.
    let s = msnbnc_tests::msn_env::sim_with(|c| msn_sim::SimConfig {
        ack_delay: Duration::from_secs(3),
        ..c
    });
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    add_staff(&cfg, "alice", "pw", false);
    let bouncer = Bouncer::run(&cfg);
    let port = signed_in_port(&bouncer, &s);
    let bob = s.sim.customer(BOB);
    bob.sign_in("NLN");
    let mut alice = attach(port, "alice", "");
    s.rt.block_on(bob.say(ACCOUNT, "hello?")).unwrap();
    alice.expect("PRIVMSG #bob :", SOON).unwrap();
    let got = |text: &str| bob.texts().iter().filter(|t| *t == text).count();

    // On the wire, unacknowledged, when the worker dies: reported, and
    // never sent again.
    alice.send("PRIVMSG #bob :on the wire");
    assert!(s
        .rt
        .block_on(bob.wait_for(
            SOON,
            |r| matches!(r, msn_sim::Received::Text { text, .. } if text == "on the wire")
        ))
        .is_some());
    let (_, line) = bouncer.wait_for("worker ready worker_pid=", SOON).unwrap();
    let pid = msnbnc_tests::worker_pid(&line).unwrap();
    signal_pid(pid, Signal::SIGKILL);
    alice.expect("NOTICE #bob :delivery unknown", SOON).unwrap();
    alice
        .expect("NOTICE &msn :MSN worker: restarting in", SOON)
        .unwrap();

    // Written while the worker is down: held, then sent once it is back.
    alice.send("PRIVMSG #bob :while you were away");
    alice
        .expect("NOTICE #bob :queued: MSN is not signed in", SOON)
        .unwrap();
    alice
        .expect(
            "NOTICE #bob :delivered now that MSN is back: <alice> while you were away",
            Duration::from_secs(30),
        )
        .unwrap();
    assert_eq!(got("while you were away"), 1, "{:?}", bob.texts());
    // Whatever happens next, the first one is not sent again.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(got("on the wire"), 1, "{:?}", bob.texts());

    // Both outcomes are in history, at their place.
    alice.send("PRIVMSG *msn :history #bob 10");
    alice.expect("-- delivery unknown", SOON).unwrap();
    alice.expect("-- delivered now that MSN is back", SOON).unwrap();
}

#[test]
fn held_messages_older_than_the_retry_window_are_reported_not_sent() {
    let s = sim();
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    add_to_config(&cfg, "[store]", "outbox_retry_secs = 0");
    add_staff(&cfg, "alice", "pw", false);
    let bouncer = Bouncer::run(&cfg);
    let port = signed_in_port(&bouncer, &s);
    let bob = s.sim.customer(BOB);
    bob.sign_in("NLN");
    let mut alice = attach(port, "alice", "");
    s.rt.block_on(bob.say(ACCOUNT, "hello?")).unwrap();
    alice.expect("PRIVMSG #bob :", SOON).unwrap();
    let (_, line) = bouncer.wait_for("worker ready worker_pid=", SOON).unwrap();
    signal_pid(msnbnc_tests::worker_pid(&line).unwrap(), Signal::SIGKILL);
    alice
        .expect("NOTICE &msn :MSN worker: restarting in", SOON)
        .unwrap();
    alice.send("PRIVMSG #bob :too late");
    alice.expect("NOTICE #bob :queued", SOON).unwrap();
    alice
        .expect(
            "NOTICE #bob :not sent (MSN was unavailable for too long): <alice> too late",
            Duration::from_secs(30),
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    assert!(!bob.texts().iter().any(|t| t == "too late"), "{:?}", bob.texts());
}

#[test]
fn retention_prunes_what_it_should_and_nothing_else() {
    let s = sim();
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    add_to_config(&cfg, "[store]", "retention_lines = 2");
    add_staff(&cfg, "alice", "pw", true);
    let bouncer = Bouncer::run(&cfg);
    let port = signed_in_port(&bouncer, &s);
    let (bob, carol) = (s.sim.customer(BOB), s.sim.customer(CAROL));
    bob.sign_in("NLN");
    carol.sign_in("NLN");
    let mut alice = attach(port, "alice", "");
    for text in ["b1", "b2", "b3", "b4"] {
        s.rt.block_on(bob.say(ACCOUNT, text)).unwrap();
        alice.expect(&format!("\x0304{text}"), SOON).unwrap();
    }
    s.rt.block_on(carol.say(ACCOUNT, "c1")).unwrap();
    alice.expect("\x0304c1", SOON).unwrap();

    alice.send("PRIVMSG *msn :store prune");
    alice.expect("NOTICE alice :pruned 2 lines. ", SOON).unwrap();
    alice.send("PRIVMSG *msn :history #bob 10");
    let kept: Vec<String> = (0..2)
        .map(|_| alice.expect("NOTICE alice :[", SOON).unwrap())
        .collect();
    assert!(
        plain(&kept[0]).ends_with("b3") && plain(&kept[1]).ends_with("b4"),
        "{kept:?}"
    );
    alice.send("PRIVMSG *msn :history #carol 10");
    alice.expect("<carol> \x02\x0304c1", SOON).unwrap();

    // The command line sees the same store (while msnbnc runs).
    let out = std::process::Command::new(&msnbnc_tests::binaries().msnbnc)
        .args(["store", "stats", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("3 lines in 2 conversations"),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = std::process::Command::new(&msnbnc_tests::binaries().msnbnc)
        .args(["store", "prune", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("pruned 0 lines"),
        "{out:?}"
    );
}

#[test]
fn a_long_absence_replays_more_than_a_client_queue_and_caps_with_a_notice() {
    let s = sim();
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    add_to_config(&cfg, "listen = [\"127.0.0.1:0\"]", "replay_max = 9500");
    add_staff(&cfg, "alice", "pw", false);
    add_staff(&cfg, "zoe", "pw", false);
    let bouncer = Bouncer::run(&cfg);
    let port = signed_in_port(&bouncer, &s);
    let bob = s.sim.customer(BOB);
    bob.sign_in("NLN");
    let mut alice = attach(port, "alice", "");
    alice.send("QUIT");
    assert!(alice.closed(SOON));
    // 10,000 lines while alice is away: more than a client's queue (8,192).
    // zoe stays: when she has the last one, all are stored.
    let mut zoe = attach(port, "zoe", "");
    s.rt.block_on(async {
        for i in 0..10_000 {
            bob.say(ACCOUNT, &format!("n{i}")).await.unwrap();
        }
    });
    zoe.expect("\x0304n9999", Duration::from_secs(60)).unwrap();
    let mut alice = attach(port, "alice", "");
    alice
        .expect("NOTICE #bob :500 older missed line(s) not replayed here", SOON)
        .unwrap();
    let last = alice.expect("\x0304n9999", Duration::from_secs(60)).unwrap();
    alice.received.push(last);
    let got = settle(&mut alice);
    let replayed = privmsgs(&got);
    assert_eq!(replayed.len(), 9500);
    assert!(
        replayed[0].ends_with(" n500") && replayed[9499].ends_with(" n9999"),
        "{:?}",
        (&replayed[0], &replayed[9499])
    );
}

#[test]
fn clients_that_fetch_history_themselves_are_not_replayed_to() {
    let e = env();
    let bob = e.s.sim.customer(BOB);
    bob.sign_in("NLN");
    let mut zoe = attach(e.port, "zoe", "");
    let mut pc = attach(e.port, "alice@pc", MODERN);
    e.s.rt.block_on(bob.say(ACCOUNT, "seen")).unwrap();
    pc.expect("seen", SOON).unwrap();
    pc.send("QUIT");
    assert!(pc.closed(SOON));
    e.s.rt.block_on(bob.say(ACCOUNT, "missed")).unwrap();
    zoe.expect("missed", SOON).unwrap();
    // Back with draft/chathistory: the channel, but no flood of lines …
    let mut pc = attach(e.port, "alice@pc", MODERN);
    pc.expect(" JOIN #bob", SOON).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let got = settle(&mut pc);
    assert!(privmsgs(&got).is_empty(), "{got:#?}");
    // … it asks for what it needs.
    assert_eq!(
        texts_of(&batch(&mut pc, "CHATHISTORY LATEST #bob * 1")),
        ["missed"]
    );
}

#[test]
fn a_transcript_shows_a_conversation_with_times_speakers_and_staff_notes_marked() {
    let s = sim();
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    add_staff(&cfg, "alice", "pw", false);
    let bouncer = Bouncer::run(&cfg);
    let port = signed_in_port(&bouncer, &s);
    let mut alice = attach(port, "alice", "");
    let bob = s.sim.customer(BOB);
    bob.sign_in("NLN");
    s.rt.block_on(bob.say(ACCOUNT, "my order is late")).unwrap();
    alice.expect("PRIVMSG #bob :", SOON).unwrap();
    alice.send("PRIVMSG @#bob :courier says Tuesday");
    alice.send("PRIVMSG #bob :It arrives on Tuesday.");
    assert!(s
        .rt
        .block_on(bob.wait_for(
            SOON,
            |r| matches!(r, msn_sim::Received::Text { text, .. } if text == "It arrives on Tuesday.")
        ))
        .is_some());
    alice.send("PING :stored");
    alice.expect("PONG msnbnc :stored", SOON).unwrap();
    let cfg_arg = cfg.to_string_lossy().into_owned();
    let run = |extra: &[&str]| {
        let mut args = vec!["transcript", "--config", &cfg_arg, "#bob"];
        args.extend_from_slice(extra);
        let (status, stdout, stderr) = msnbnc_tests::run_msnbnc(&args);
        assert!(status.success(), "{stderr}");
        stdout
    };
    let text = run(&[]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[0].ends_with(" <bob@example.com> my order is late"),
        "{text}"
    );
    assert!(
        lines[1].ends_with(" [staff note] <alice> courier says Tuesday"),
        "{text}"
    );
    assert!(lines[2].ends_with(" <alice> It arrives on Tuesday."), "{text}");
    let customer_view = run(&["--customer-view", "--format", "html"]);
    assert!(
        customer_view.contains("It arrives on Tuesday.") && !customer_view.contains("courier"),
        "{customer_view}"
    );
    let (status, _, stderr) = msnbnc_tests::run_msnbnc(&["transcript", "--config", &cfg_arg, "#nobody"]);
    assert!(
        !status.success() && stderr.contains("no conversation \"#nobody\""),
        "{stderr}"
    );
}
