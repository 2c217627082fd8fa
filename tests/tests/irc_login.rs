//! Staff attach over IRC: logins, the welcome, and bad input.

use std::time::{Duration, Instant};

use msnbnc_tests::irc::IrcClient;
use msnbnc_tests::{add_staff, binaries, config_text, Bouncer, TestDir};

const SOON: Duration = Duration::from_secs(10);

/// A bouncer with staff user alice (password "open sesame") and its IRC port.
fn bouncer() -> (TestDir, Bouncer, u16) {
    bouncer_with("[irc]", "")
}

/// [`bouncer`], with `lines` added to configuration section `section`.
fn bouncer_with(section: &str, lines: &str) -> (TestDir, Bouncer, u16) {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &config_text(&binaries().worker, ""));
    msnbnc_tests::msn_env::add_to_config(&config, section, lines);
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
fn wrong_guesses_for_one_account_do_not_lock_out_a_colleague_at_the_same_address() {
    let (d, _b, port) = bouncer();
    add_staff(&d.path().join("msnbnc.toml"), "zoe", "open sesame", false);
    let guesses: Vec<_> = (0..3)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = IrcClient::connect(port).unwrap();
                c.send("PASS :alice:wrong");
                c.send("NICK alice");
                c.send("USER alice 0 * :A");
                c.expect(" 464 ", SOON).unwrap();
            })
        })
        .collect();
    for g in guesses {
        g.join().unwrap();
    }
    // zoe, same address, right password: in, after a short shared wait.
    let start = Instant::now();
    let mut zoe = IrcClient::connect(port).unwrap();
    zoe.send("PASS :zoe:open sesame");
    zoe.send("NICK zoe");
    zoe.send("USER zoe 0 * :Z");
    zoe.expect(" 001 zoe ", SOON).unwrap();
    assert!(start.elapsed() < Duration::from_secs(6), "{:?}", start.elapsed());
    // alice herself, with her right password: never "Password incorrect".
    let mut alice = IrcClient::connect(port).unwrap();
    alice.send("PASS :alice:open sesame");
    alice.send("NICK alice");
    alice.send("USER alice 0 * :A");
    alice.expect(" 001 alice ", Duration::from_secs(40)).unwrap();
}

#[test]
fn lines_before_login_are_paced_like_any_others() {
    let (_d, _b, port) = bouncer();
    let mut c = IrcClient::connect(port).unwrap();
    let pings: String = (0..200).map(|i| format!("PING :p{i}\r\n")).collect();
    c.send_raw(pings.as_bytes());
    // The burst (30) is answered at once; the rest at 4 a second.
    c.expect("PONG msnbnc :p29", SOON).unwrap();
    assert!(c.expect("PONG msnbnc :p60", Duration::from_secs(1)).is_err());
}

#[test]
fn connections_still_logging_in_are_capped_per_address_and_a_login_frees_a_place() {
    let (_d, _b, port) = bouncer_with("[irc]", "max_unregistered_per_address = 3");
    let mut waiting: Vec<IrcClient> = (0..3).map(|_| IrcClient::connect(port).unwrap()).collect();
    for (i, c) in waiting.iter_mut().enumerate() {
        c.send(&format!("PING :w{i}"));
        c.expect(&format!("PONG msnbnc :w{i}"), SOON).unwrap();
    }
    let mut fourth = IrcClient::connect(port).unwrap();
    fourth
        .expect(
            "ERROR :Closing link (too many connections from your address are still logging in)",
            SOON,
        )
        .unwrap();
    assert!(fourth.closed(SOON));
    // One of them logs in: its place is free again.
    let first = &mut waiting[0];
    first.send("PASS :alice:open sesame");
    first.send("NICK alice");
    first.send("USER alice 0 * :A");
    first.expect(" 001 alice ", SOON).unwrap();
    let mut next = IrcClient::connect(port).unwrap();
    next.send("PING :admitted");
    next.expect("PONG msnbnc :admitted", SOON).unwrap();
}

#[test]
fn a_hung_server_is_given_up_after_the_configured_login_timeout_and_staff_see_it() {
    let (_d, _b, port) = bouncer_with("[msn]", "login_timeout_secs = 5");
    let mut alice = IrcClient::connect(port).unwrap();
    alice.send("PASS :alice:open sesame");
    alice.send("NICK alice");
    alice.send("USER alice 0 * :A");
    alice.expect(" 001 alice ", SOON).unwrap();
    alice.send("PRIVMSG *msn :worker");
    let server = format!("127.0.0.1:{}", msnbnc_tests::silent_server_port());
    let now = alice.expect("MSN worker: ", SOON).unwrap();
    assert!(
        now.contains(&format!("logging in to {server} (connecting), ")) && now.contains("gives up after 5 s"),
        "{now}"
    );
    let given_up = alice
        .expect("NOTICE &msn :MSN worker: restarting in ", Duration::from_secs(15))
        .unwrap();
    assert!(
        given_up.contains("login did not complete within 5 s"),
        "{given_up}"
    );
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

#[test]
fn shutdown_tells_every_client_why_before_closing() {
    let (_d, mut b, port) = bouncer();
    let mut c = attach(port, "alice@laptop");
    let mut phone = attach(port, "alice@phone");
    b.signal(nix::sys::signal::Signal::SIGTERM);
    for client in [&mut c, &mut phone] {
        client
            .expect("ERROR :Closing link (msnbnc is shutting down)", SOON)
            .unwrap();
        assert!(client.closed(SOON));
    }
    assert_eq!(b.wait_exit(SOON).unwrap().code(), Some(0));
}

/// Logs `login` in (password "open sesame") and waits for the welcome.
fn attach(port: u16, login: &str) -> IrcClient {
    IrcClient::log_in(port, &format!("{login}:open sesame"), "").unwrap()
}

#[test]
fn staff_talk_among_themselves_in_their_own_channels() {
    let (d, _b, port) = bouncer();
    add_staff(&d.path().join("msnbnc.toml"), "zoe", "open sesame", false);
    let (mut alice, mut zoe) = (attach(port, "alice@laptop"), attach(port, "zoe"));

    alice.send("JOIN #staff");
    alice.expect(":alice!alice@msnbnc JOIN #staff", SOON).unwrap();
    alice.expect(" 366 alice #staff ", SOON).unwrap();
    zoe.send("JOIN #staff");
    zoe.expect(" 353 zoe = #staff :@alice @zoe", SOON).unwrap();
    alice.expect(":zoe!zoe@msnbnc JOIN #staff", SOON).unwrap();

    // A second device of alice joins her channels on attach.
    let mut phone = attach(port, "alice@phone");
    phone.expect(":alice!alice@msnbnc JOIN #staff", SOON).unwrap();

    zoe.send("PRIVMSG #staff :who takes the 3pm shift?");
    for c in [&mut alice, &mut phone] {
        c.expect(":zoe!zoe@msnbnc PRIVMSG #staff :who takes the 3pm shift?", SOON)
            .unwrap();
    }
    alice.send("TOPIC #staff :3pm: alice");
    zoe.expect(":alice!alice@msnbnc TOPIC #staff :3pm: alice", SOON)
        .unwrap();
    phone.expect("TOPIC #staff :3pm: alice", SOON).unwrap();

    // Leaving: everyone sees it; the leaver can no longer write there.
    zoe.send("PART #staff :off duty");
    alice
        .expect(":zoe!zoe@msnbnc PART #staff :off duty", SOON)
        .unwrap();
    zoe.send("PRIVMSG #staff :still there?");
    zoe.expect(" 404 zoe #staff ", SOON).unwrap();
    zoe.send("PART #staff");
    zoe.expect(" 442 zoe #staff ", SOON).unwrap();
    zoe.send("PART #nowhere");
    zoe.expect(" 403 zoe #nowhere ", SOON).unwrap();
    zoe.send("JOIN bad-name");
    zoe.expect(" 403 zoe bad-name ", SOON).unwrap();

    // Nicks are user names: taken ones get 433, others 447.
    zoe.send("NICK alice");
    zoe.expect(" 433 zoe alice ", SOON).unwrap();
    zoe.send("NICK *msn");
    zoe.expect(" 433 zoe *msn ", SOON).unwrap();
    zoe.send("NICK zed");
    zoe.expect(" 447 zoe zed ", SOON).unwrap();
}

#[test]
fn staff_connect_over_ipv6_too() {
    // Only where the machine has IPv6 loopback at all.
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    }
    let dir = TestDir::new();
    let text = config_text(&binaries().worker, "").replace(
        "listen = [\"127.0.0.1:0\"]",
        "listen = [\"127.0.0.1:0\", \"[::1]:0\"]",
    );
    let config = dir.write("msnbnc.toml", &text);
    add_staff(&config, "alice", "open sesame", false);
    let b = Bouncer::run(&config);
    let (_, line) = b.wait_for("IRC listening on [::1]:", SOON).unwrap();
    let addr: std::net::SocketAddr = line.rsplit(' ').next().unwrap().trim().parse().unwrap();
    let mut c = IrcClient::connect_to(addr).unwrap();
    c.send("PASS :alice:open sesame");
    c.send("NICK alice");
    c.send("USER alice 0 * :A");
    c.expect(" 001 alice ", SOON).unwrap();
}
