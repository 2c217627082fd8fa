//! The project's own fault runs, bounded in time: under steady customer
//! and staff traffic, the MSN worker is killed again and again, then
//! msnbnc itself. Each run prints its figures (staff disconnects, customer
//! lines lost and doubled, staff messages delivered once, outcome notices)
//! and asserts on them. `MSNBNC_FAULT_KILLS=100` makes the runs longer.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use msnbnc_tests::irc::IrcClient;
use msnbnc_tests::msn_env::{config, signed_in_port, sim, sim_with, Sim};
use msnbnc_tests::worker::{ACCOUNT, PASSWORD};
use msnbnc_tests::{add_staff, signal_pid, Bouncer, TestDir};
use nix::sys::signal::Signal;

const SOON: Duration = Duration::from_secs(20);
const BOB: &str = "bob@example.com";
const CAROL: &str = "carol@example.com";

fn kills(default: usize) -> usize {
    std::env::var("MSNBNC_FAULT_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Numbered customer lines, said every `gap` until stopped: which numbers
/// MSN accepted (the account was in the conversation) and how many it
/// refused (the account was away).
struct Customer {
    stop: Arc<AtomicBool>,
    accepted: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<usize>>,
}

impl Customer {
    fn start(s: &Sim, email: &'static str, gap: Duration) -> Customer {
        let who = email.split('@').next().unwrap_or(email);
        let c = s.sim.customer(email);
        c.sign_in("NLN");
        let stop: Arc<AtomicBool> = Arc::default();
        let accepted: Arc<Mutex<Vec<String>>> = Arc::default();
        let refused: Arc<Mutex<usize>> = Arc::default();
        let (stop2, accepted2, refused2) = (stop.clone(), accepted.clone(), refused.clone());
        s.rt.spawn(async move {
            let mut n = 0u64;
            while !stop2.load(Ordering::Relaxed) {
                let token = format!("{who}-{n}.");
                match c.say(ACCOUNT, &token).await {
                    Ok(_) => accepted2.lock().unwrap().push(token),
                    Err(_) => *refused2.lock().unwrap() += 1,
                }
                n += 1;
                tokio::time::sleep(gap).await;
            }
        });
        Customer {
            stop,
            accepted,
            refused,
        }
    }

    fn stop(&self) -> (Vec<String>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(300));
        (
            self.accepted.lock().unwrap().clone(),
            *self.refused.lock().unwrap(),
        )
    }
}

/// `bob-17.`-like tokens in customer lines (live or replayed).
fn customer_tokens(line: &str) -> Vec<String> {
    if !line.contains(" PRIVMSG #") {
        return Vec::new();
    }
    let Some((_, text)) = line.split_once(" :") else {
        return Vec::new();
    };
    let plain: String = text.chars().filter(|c| !c.is_control()).collect();
    let mut found = Vec::new();
    for prefix in ["bob-", "carol-"] {
        for (at, _) in plain.match_indices(prefix) {
            let rest = &plain[at + prefix.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() && rest[digits.len()..].starts_with('.') {
                found.push(format!("{prefix}{digits}."));
            }
        }
    }
    found
}

/// Reads what arrives for `d`; `false` if the connection closed.
fn pump(c: &mut IrcClient, d: Duration) -> bool {
    !c.closed(d)
}

#[derive(Debug, Default)]
struct Figures {
    disconnects: usize,
    accepted: usize,
    refused: usize,
    lost: usize,
    doubled: usize,
    staff_sent: usize,
    staff_delivered_once: usize,
    staff_doubled: usize,
    staff_unreported: usize,
    notices: usize,
}

/// Customer lines seen by staff, by token.
fn tally(lines: &[String]) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for l in lines {
        for t in customer_tokens(l) {
            *seen.entry(t).or_insert(0) += 1;
        }
    }
    seen
}

fn count_customer_lines(f: &mut Figures, accepted: &[String], seen: &BTreeMap<String, usize>) {
    f.accepted += accepted.len();
    let lost: Vec<&String> = accepted.iter().filter(|t| !seen.contains_key(*t)).collect();
    if !lost.is_empty() {
        eprintln!("lost: {lost:?}");
    }
    f.lost += lost.len();
    f.doubled += seen.values().map(|n| n.saturating_sub(1)).sum::<usize>();
}

/// Each staff message reached the customer once, or staff were told.
fn count_staff_messages(f: &mut Figures, sent: usize, bob_got: &[String], staff_lines: &[String]) {
    const OUTCOMES: [&str; 4] = ["not delivered", "not sent", "delivery unknown", "queued"];
    f.staff_sent += sent;
    f.notices += staff_lines
        .iter()
        .filter(|l| l.contains(" NOTICE #") && OUTCOMES.iter().any(|o| l.contains(o)))
        .count();
    for i in 0..sent {
        let text = format!("s-{i}.");
        match bob_got.iter().filter(|t| **t == text).count() {
            1 => f.staff_delivered_once += 1,
            0 => {
                let told = staff_lines
                    .iter()
                    .any(|l| l.contains(" NOTICE #") && l.contains(&format!("<alice> {text}")));
                if !told {
                    f.staff_unreported += 1;
                }
            }
            _ => f.staff_doubled += 1,
        }
    }
}

fn start(s: &Sim) -> (TestDir, std::path::PathBuf, Bouncer, u16) {
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    add_staff(&cfg, "alice", "pw", true);
    let bouncer = Bouncer::run(&cfg);
    let port = signed_in_port(&bouncer, s);
    (dir, cfg, bouncer, port)
}

fn alice(port: u16) -> IrcClient {
    IrcClient::log_in(port, "alice@laptop:pw", "").expect("alice logs in")
}

#[test]
fn worker_kills_under_traffic_lose_and_double_nothing_and_drop_no_staff() {
    let s = sim();
    let (_dir, _cfg, bouncer, port) = start(&s);
    let mut alice = alice(port);
    let bob = Customer::start(&s, BOB, Duration::from_millis(40));
    let carol = Customer::start(&s, CAROL, Duration::from_millis(60));
    // (Kept: it is counted with the rest.)
    let first = alice.expect("PRIVMSG #bob :", SOON).unwrap();
    alice.received.push(first);
    let mut f = Figures::default();
    let mut sent = 0;
    let runs = kills(8);
    let began = Instant::now();
    let mut from = 0;
    for _ in 0..runs {
        let (_, pid) = bouncer.wait_worker_ready(from, SOON).unwrap();
        // Staff answer while the worker lives, then it is killed mid-flow.
        for _ in 0..5 {
            alice.send(&format!("PRIVMSG #bob :s-{sent}."));
            sent += 1;
            f.disconnects += usize::from(!pump(&mut alice, Duration::from_millis(60)));
        }
        from = bouncer.log_len();
        signal_pid(pid, Signal::SIGKILL);
        // Written while it is down: held, then sent.
        alice.send(&format!("PRIVMSG #bob :s-{sent}."));
        sent += 1;
        bouncer
            .wait_for_from(from, "worker state: signed in as", SOON)
            .unwrap();
        f.disconnects += usize::from(!pump(&mut alice, Duration::from_millis(300)));
    }
    let (bob_said, bob_refused) = bob.stop();
    let (carol_said, carol_refused) = carol.stop();
    f.refused = bob_refused + carol_refused;
    // Everything settles: held messages go out, last lines arrive.
    f.disconnects += usize::from(!pump(&mut alice, Duration::from_secs(3)));
    let lines = alice.received.clone();
    let seen = tally(&lines);
    count_customer_lines(&mut f, &[bob_said, carol_said].concat(), &seen);
    let bob_got = s.sim.customer(BOB).texts();
    count_staff_messages(&mut f, sent, &bob_got, &lines);
    eprintln!(
        "fault run: {runs} worker kills in {:.0} s: {f:?}",
        began.elapsed().as_secs_f64()
    );
    assert_eq!(f.disconnects, 0, "{f:?}");
    assert_eq!(f.doubled, 0, "{f:?}");
    // At most the line on the wire when the worker died.
    assert!(f.lost <= runs, "{f:?}");
    assert_eq!((f.staff_doubled, f.staff_unreported), (0, 0), "{f:?}");
}

#[test]
fn msnbnc_kills_re_send_at_most_what_was_in_flight_and_report_every_outcome() {
    // MSN acknowledges answers after 3 s: those of the last seconds are
    // unconfirmed when msnbnc dies, and must be reported after it restarts.
    let s = sim_with(|c| msn_sim::SimConfig {
        ack_delay: Duration::from_secs(3),
        ..c
    });
    let (_dir, cfg, mut bouncer, mut port) = start(&s);
    let mut alice = alice(port);
    let bob = Customer::start(&s, BOB, Duration::from_millis(50));
    // (Kept: it is counted with the rest.)
    let first = alice.expect("PRIVMSG #bob :", SOON).unwrap();
    alice.received.push(first);
    let mut f = Figures::default();
    let mut lines = Vec::new();
    let mut sent = 0;
    let runs = kills(4);
    let began = Instant::now();
    for _ in 0..runs {
        for _ in 0..5 {
            alice.send(&format!("PRIVMSG #bob :s-{sent}."));
            sent += 1;
            pump(&mut alice, Duration::from_millis(200));
        }
        // Lines get a second to be saved as seen, then msnbnc dies.
        pump(&mut alice, Duration::from_millis(1200));
        bouncer.signal(Signal::SIGKILL);
        bouncer.wait_exit(SOON).unwrap();
        f.disconnects += usize::from(!pump(&mut alice, Duration::from_millis(500)));
        lines.append(&mut alice.received);
        bouncer = Bouncer::run(&cfg);
        port = signed_in_port(&bouncer, &s);
        alice = self::alice(port);
        pump(&mut alice, Duration::from_millis(1500));
    }
    let (said, refused) = bob.stop();
    f.refused = refused;
    pump(&mut alice, Duration::from_secs(3));
    lines.append(&mut alice.received);
    let seen = tally(&lines);
    count_customer_lines(&mut f, &said, &seen);
    let bob_got = s.sim.customer(BOB).texts();
    count_staff_messages(&mut f, sent, &bob_got, &lines);
    eprintln!(
        "fault run: {runs} msnbnc kills in {:.0} s: {f:?}",
        began.elapsed().as_secs_f64()
    );
    // Each kill closes the staff connection; nothing else does.
    assert_eq!(f.disconnects, runs, "{f:?}");
    // A crash re-sends what was delivered in the second before it (about
    // 20 lines at this rate), not the 30 s it used to.
    assert!(f.doubled <= runs * 30, "{f:?}");
    // Lost: what the killed process had read and not yet stored.
    assert!(f.lost <= runs * 3, "{f:?}");
    assert_eq!((f.staff_doubled, f.staff_unreported), (0, 0), "{f:?}");
    // Every answer left unconfirmed by a kill is reported after it.
    assert!(f.notices >= runs, "{f:?}");
}

#[test]
fn customer_tokens_are_found_in_live_and_replayed_lines() {
    let live = ":bob!bob@example.com PRIVMSG #bob :\x02\x0304bob-17.";
    let replayed = ":bob!bob@example.com PRIVMSG #bob :[12:01] bob-170.";
    assert_eq!(customer_tokens(live), ["bob-17."]);
    assert_eq!(customer_tokens(replayed), ["bob-170."]);
    assert!(customer_tokens(":x NOTICE #bob :bob-1.").is_empty());
}
