//! msnbnc as staff see it in the IRC clients they really use: WeeChat 3.8
//! and irssi 1.4, driven against msnbnc and the MSN simulator. These
//! clients ask for server-time but not batch, and irssi waits for the
//! answers to its channel probes before a channel is usable.

use std::time::Duration;

use msnbnc_tests::client_drivers::{installed, Irssi, Weechat};
use msnbnc_tests::irc::IrcClient;
use msnbnc_tests::msn_env::{config, signed_in_port, sim, Sim};
use msnbnc_tests::worker::{ACCOUNT, PASSWORD};
use msnbnc_tests::{add_staff, Bouncer, TestDir};

const SOON: Duration = Duration::from_secs(20);
const BOB: &str = "bob@example.com";

struct Desk {
    s: Sim,
    _dir: TestDir,
    _bouncer: Bouncer,
    port: u16,
}

/// msnbnc signed in to the simulator, staff alice, zoe and kim, and a
/// customer who asked a question before any of them attached.
fn desk() -> Desk {
    desk_with("")
}

/// [`desk`] with more configuration (`extra` is appended).
fn desk_with(extra: &str) -> Desk {
    let s = sim();
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    let text = std::fs::read_to_string(&cfg).unwrap() + extra;
    std::fs::write(&cfg, text).unwrap();
    for name in ["alice", "zoe", "kim"] {
        add_staff(&cfg, name, "pw", false);
    }
    let bouncer = Bouncer::run(&cfg);
    let port = signed_in_port(&bouncer, &s);
    let bob = s.sim.customer(BOB);
    bob.sign_in("NLN");
    s.rt.block_on(bob.say(ACCOUNT, "my lamp is broken")).unwrap();
    Desk {
        s,
        _dir: dir,
        _bouncer: bouncer,
        port,
    }
}

/// Now, as WeeChat logs it (UTC, to the second).
fn now() -> String {
    jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S").to_string()
}

/// The time WeeChat logged for the first line containing `text`.
fn logged_at<'a>(log: &'a str, text: &str) -> &'a str {
    let line = log.lines().find(|l| l.contains(text)).unwrap_or_default();
    line.split('\t').next().unwrap_or_default()
}

/// zoe, from a plain client, answers in #bob with a line and a `/me`.
fn zoe_answers(port: u16) {
    let mut zoe = IrcClient::log_in(port, "zoe:pw", "").unwrap();
    zoe.expect(" JOIN #bob", SOON).unwrap();
    zoe.send("PRIVMSG #bob :we are on it");
    zoe.send("PRIVMSG #bob :\x01ACTION waves\x01");
    zoe.send("PING :done");
    zoe.expect("PONG", SOON).unwrap();
}

#[test]
fn weechat_shows_a_new_colleague_the_question_and_after_a_reconnect_what_was_missed_at_its_time() {
    if !installed("weechat", &["weechat-headless"]) {
        return;
    }
    let d = desk();
    let home = TestDir::new();
    std::thread::sleep(Duration::from_millis(2100));
    let started = now();
    let w = Weechat::start(home.path(), d.port, "alice", "pw", &[]).unwrap();
    // A first attach: the conversation from its start, at its own time.
    let log = w.wait_log("#bob", "bob\tmy lamp is broken", SOON).unwrap();
    let asked = logged_at(&log, "my lamp is broken");
    assert!(
        asked < started.as_str(),
        "asked at {asked}, shown as of {started}:\n{log}"
    );
    w.quit();

    // While alice is away, zoe answers; alice comes back later.
    let answered = now();
    zoe_answers(d.port);
    std::thread::sleep(Duration::from_millis(2100));
    let back = now();
    let w = Weechat::start(home.path(), d.port, "alice", "pw", &[]).unwrap();
    let log = w.wait_log("#bob", "zoe\twe are on it", SOON).unwrap();
    let at = logged_at(&log, "we are on it");
    assert!(
        answered.as_str() <= at && at < back.as_str(),
        "answered at {answered}, back at {back}, shown as of {at}:\n{log}"
    );
    let log = w.wait_log("#bob", "zoe waves", SOON).unwrap();
    assert!(log.contains(" *\tzoe waves"), "{log}");
    assert!(
        !log.contains('\x01') && !log.contains("ACTION"),
        "raw CTCP:\n{log}"
    );
    // Nobody is shown twice, and the whole team is there.
    let log = w.wait_log("#bob", "Nicks #bob", SOON).unwrap();
    let nicks = log.lines().find(|l| l.contains("Nicks #bob")).unwrap_or_default();
    for who in ["@alice", "@kim", "@zoe", "bob"] {
        assert!(nicks.contains(who), "{who} missing: {nicks}");
    }
    assert_eq!(
        w.log("#bob").matches("has joined #bob").count(),
        2,
        "one JOIN per connection"
    );
    drop(d.s);
}

#[test]
fn irssi_syncs_every_channel_and_shows_the_conversation_with_its_start_and_without_raw_ctcp() {
    if !installed("irssi", &["irssi", "tmux"]) {
        return;
    }
    let d = desk();
    zoe_answers(d.port);
    let irssi = Irssi::start(d.port, "kim", "pw").unwrap();
    let log = irssi.wait_log("#bob", "zoe> we are on it", SOON).unwrap();
    assert!(log.contains("< bob> my lamp is broken"), "{log}");
    // server-time: the time is irssi's to show, not in the text.
    assert!(!log.contains("> ["), "a time in the text:\n{log}");
    let log = irssi.wait_log("#bob", " * zoe waves", SOON).unwrap();
    assert!(
        !log.contains('\x01') && !log.contains("ACTION"),
        "raw CTCP:\n{log}"
    );
    // irssi sends MODE #bob, WHO #bob and MODE #bob b and waits for each
    // answer before the channel is synced (before msnbnc answered the
    // ban list, never). irssi paces these itself (0.5–2.2 s apart).
    for channel in ["&msn", "#bob"] {
        let log = irssi
            .wait_log(
                channel,
                &format!("Join to {channel} was synced in"),
                Duration::from_secs(40),
            )
            .unwrap();
        let line = log
            .lines()
            .find(|l| l.contains("was synced in"))
            .unwrap_or_default();
        let secs: u64 = line
            .rsplit("synced in ")
            .next()
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(u64::MAX);
        assert!(secs <= 30, "{line}");
    }
    // The same nick list as every other client.
    let names = irssi.wait_log("#bob", "Total of", SOON).unwrap();
    for who in ["[@alice]", "[@kim]", "[@zoe]", "[ bob]"] {
        assert!(names.contains(who), "{who} missing:\n{names}");
    }
}

/// The Lounge 4.5 (on irc-framework 4.14) could not run here (it needs
/// Node 22 and a GitHub checkout): this client sends what their source
/// sends — its capability request, then, after each JOIN, `ZNC *playback
/// PLAY <channel> 0` instead of chathistory.
#[test]
fn a_client_speaking_as_the_lounge_gets_the_conversation_through_znc_playback() {
    let d = desk();
    zoe_answers(d.port);
    let mut c = IrcClient::connect(d.port).unwrap();
    c.send("CAP LS 302");
    c.send("PASS :alice@lounge:pw");
    c.send("NICK alice");
    c.send("USER alice 0 * :Alice");
    c.expect(" CAP * LS ", SOON).unwrap();
    c.send(
        "CAP REQ :cap-notify batch multi-prefix message-tags away-notify account-tag server-time \
         userhost-in-names extended-join echo-message setname znc.in/self-message znc.in/playback",
    );
    let ack = c.expect(" ACK ", SOON).unwrap();
    assert!(
        ack.contains("znc.in/playback") && ack.contains("znc.in/self-message"),
        "{ack}"
    );
    c.send("CAP END");
    c.expect(" JOIN #bob", SOON).unwrap();
    c.send("ZNC *playback PLAY #bob 0");
    let question = c.expect("my lamp is broken", SOON).unwrap();
    assert!(
        question.contains("time=") && question.contains("batch="),
        "{question}"
    );
    let me = c.expect("ACTION waves", SOON).unwrap();
    assert!(me.ends_with(":\x01ACTION waves\x01"), "{me}");
}

#[test]
fn irssi_sends_an_uploaded_file_by_writing_its_link_and_sees_every_step() {
    if !installed("irssi", &["irssi", "tmux"]) {
        return;
    }
    let d = desk_with("\n[files]\nlisten = \"127.0.0.1:0\"\n");
    let files = msnbnc_tests::http::files_port(&d._bouncer);
    let manual: Vec<u8> = (0..30_000u32).map(|i| (i % 241) as u8).collect();
    let (head, _) = msnbnc_tests::http::upload(files, "kim:pw", "manual.pdf", &manual);
    let link = msnbnc_tests::http::location(&head);
    let irssi = Irssi::start(d.port, "kim", "pw").unwrap();
    irssi.wait_log("#bob", "my lamp is broken", SOON).unwrap();
    irssi.type_line(&format!("/msg #bob {link}"));
    let bob = d.s.sim.customer(BOB);
    let got =
        d.s.rt
            .block_on(bob.receive_file(ACCOUNT, msn_sim::FileAnswer::Accept, SOON))
            .unwrap();
    assert_eq!(got.bytes.as_deref(), Some(&manual[..]));
    let log = irssi
        .wait_log("#bob", "manual.pdf (30 KiB) reached bob@example.com", SOON)
        .unwrap();
    for step in [
        &format!("<@kim> {link}"),
        "offering manual.pdf (30 KiB) to bob@example.com",
        "bob@example.com accepted manual.pdf; sending",
    ] {
        assert!(log.contains(step), "{step} missing:\n{log}");
    }
}
