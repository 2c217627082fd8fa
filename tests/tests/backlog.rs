//! The durable backlog, end to end: what a device missed is replayed when
//! it attaches, once, in order, with its original times.

use std::time::Duration;

use msnbnc_tests::irc::IrcClient;
use msnbnc_tests::msn_env::{config, sim, Sim};
use msnbnc_tests::worker::{ACCOUNT, PASSWORD};
use msnbnc_tests::{add_staff, Bouncer, TestDir};

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
    let bouncer = Bouncer::run(&cfg);
    let (_, line) = bouncer.wait_for("IRC listening on 127.0.0.1:", SOON).unwrap();
    let port = line.rsplit(':').next().unwrap().trim().parse().unwrap();
    bouncer
        .wait_for(&format!("worker state: signed in as {ACCOUNT}"), SOON)
        .unwrap();
    assert!(s.rt.block_on(s.sim.wait_until(SOON, |x| x.is_online(ACCOUNT))));
    Env {
        s,
        _dir: dir,
        _bouncer: bouncer,
        port,
    }
}

/// Logs `login` in, requesting `caps`, and waits for the end of the MOTD.
fn attach(port: u16, login: &str, caps: &str) -> IrcClient {
    let mut c = IrcClient::connect(port).unwrap();
    if !caps.is_empty() {
        c.send(&format!("CAP REQ :{caps}"));
    }
    c.send(&format!("PASS {login}:pw"));
    c.send("NICK x");
    c.send("USER x 0 * :x");
    if !caps.is_empty() {
        c.expect(" ACK ", SOON).unwrap();
        c.send("CAP END");
    }
    c.expect(" 376 ", SOON).unwrap();
    c
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
        .map(|l| {
            l.rsplit(" :")
                .next()
                .unwrap_or_default()
                .trim_start_matches("\x02\x0304")
                .to_owned()
        })
        .collect()
}

#[test]
fn each_device_gets_what_it_missed_once_in_order_with_times() {
    let e = env();
    let (bob, carol) = (e.s.sim.customer(BOB), e.s.sim.customer(CAROL));
    bob.sign_in("NLN");
    carol.sign_in("NLN");

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
    std::thread::sleep(Duration::from_millis(300));

    // The laptop gets exactly those, as chathistory batches with times.
    let mut laptop = attach(e.port, "alice@laptop", "batch server-time message-tags");
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
    let got = settle(&mut phone);
    let texts: Vec<String> = got
        .iter()
        .filter(|l| l.contains(" PRIVMSG #"))
        .map(|l| l.rsplit(" :").next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(texts.len(), 4, "{got:#?}");
    assert!(
        texts[0].starts_with('[') && texts[0].ends_with("one"),
        "{texts:?}"
    );

    // A third attach of the laptop: nothing new.
    let mut again = attach(e.port, "alice@laptop", "batch server-time");
    let got = settle(&mut again);
    assert!(privmsgs(&got).is_empty(), "{got:#?}");
}
