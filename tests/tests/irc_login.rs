//! Staff attach over IRC: logins, the welcome, and bad input.

use std::time::{Duration, Instant};

use msnbnc_tests::irc::IrcClient;
use msnbnc_tests::{add_staff, binaries, config_text, Bouncer, TestDir};

const SOON: Duration = Duration::from_secs(10);

/// A bouncer with staff user alice (password "open sesame") and its IRC port.
fn bouncer() -> (TestDir, Bouncer, u16) {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &config_text(&binaries().worker, ""));
    add_staff(&config, "alice", "open sesame", false);
    let b = Bouncer::run(&config);
    let (_, line) = b.wait_for("IRC listening on 127.0.0.1:", SOON).unwrap();
    let port = line.rsplit(':').next().unwrap().trim().parse().unwrap();
    (dir, b, port)
}

#[test]
fn pass_login_gets_the_welcome_burst() {
    let (_d, _b, port) = bouncer();
    let mut c = IrcClient::connect(port).unwrap();
    c.send("PASS :alice:open sesame");
    c.send("NICK alice");
    c.send("USER alice 0 * :Alice");
    assert!(c
        .expect(" 001 alice ", SOON)
        .unwrap()
        .contains("Welcome to the msnbnc IRC network, alice"));
    let isupport = c.expect(" 005 alice ", SOON).unwrap();
    for token in [
        "NETWORK=msnbnc",
        "CASEMAPPING=ascii",
        "CHANTYPES=#&",
        "PREFIX=(ov)@+",
        "STATUSMSG=@",
        "NICKLEN=30",
    ] {
        assert!(isupport.contains(token), "{isupport}");
    }
    c.expect(" 376 alice ", SOON).unwrap();
}

#[test]
fn a_device_and_another_nick_still_get_the_users_nick() {
    let (_d, b, port) = bouncer();
    let mut c = IrcClient::connect(port).unwrap();
    c.send("PASS :alice@laptop:open sesame");
    c.send("NICK al");
    c.send("USER x 0 * :x");
    c.expect(" 001 alice ", SOON).unwrap();
    c.expect("NICK :alice", SOON).unwrap();
    b.wait_for("device=Some(\"laptop\")", SOON).unwrap();
}

#[test]
fn sasl_plain_in_a_pipelined_registration() {
    let (_d, _b, port) = bouncer();
    let mut c = IrcClient::connect(port).unwrap();
    // \0alice\0open sesame
    let token = "AGFsaWNlAG9wZW4gc2VzYW1l";
    c.send_raw(format!("CAP LS 302\r\nNICK alice\r\nUSER alice 0 * :A\r\nCAP REQ :sasl\r\nAUTHENTICATE PLAIN\r\nAUTHENTICATE {token}\r\nCAP END\r\n").as_bytes());
    c.expect("CAP * LS :sasl=PLAIN", SOON).unwrap();
    c.expect(" 903 alice ", SOON).unwrap();
    c.expect(" 001 alice ", SOON).unwrap();
}

#[test]
fn wrong_passwords_are_refused_late_and_alike() {
    let (_d, _b, port) = bouncer();
    let mut answers = Vec::new();
    for pass in ["alice:wrong", "nobody:open sesame"] {
        let mut c = IrcClient::connect(port).unwrap();
        let start = Instant::now();
        c.send(&format!("PASS :{pass}"));
        c.send("NICK alice");
        c.send("USER alice 0 * :A");
        let line = c.expect(" 464 ", SOON).unwrap();
        assert!(
            start.elapsed() >= Duration::from_millis(400),
            "refused too fast: {:?}",
            start.elapsed()
        );
        c.expect("ERROR", SOON).unwrap();
        assert!(c.closed(SOON));
        answers.push(line);
    }
    // Nothing tells a wrong password from an unknown user.
    assert_eq!(answers[0], answers[1]);
}

#[test]
fn bad_input_gets_numerics_not_a_disconnect() {
    let (_d, _b, port) = bouncer();
    let mut c = IrcClient::connect(port).unwrap();
    c.send("JOIN #early");
    c.expect(" 451 * :You have not registered", SOON).unwrap();
    c.send("PASS :alice:open sesame");
    c.send("NICK 9lives");
    c.expect(" 432 * 9lives ", SOON).unwrap();
    c.send("NICK alice");
    c.send("USER alice 0 * :A");
    c.expect(" 001 alice ", SOON).unwrap();
    c.send("FROBNICATE now");
    c.expect(" 421 alice FROBNICATE :Unknown command", SOON).unwrap();
    c.send(&format!("PRIVMSG #x :{}", "x".repeat(600)));
    c.expect(" 417 alice :Input line was too long", SOON).unwrap();
    c.send_raw(b"PRIVMSG #x :caf\xe9\r\n:onlyprefix\r\n");
    c.send("USER again 0 * :x");
    c.expect(" 462 alice ", SOON).unwrap();
    c.send("PING :still-here");
    c.expect("PONG msnbnc :still-here", SOON).unwrap();
    c.send("QUIT :bye");
    c.expect("ERROR :Closing link", SOON).unwrap();
    assert!(c.closed(SOON));
}
