//! msnbnc with its real worker against the MSN simulator: check-login, and
//! the supervisor acting on what the MSN session reports.

use std::time::Duration;

use msnbnc_tests::worker::{ACCOUNT, PASSWORD};
use msnbnc_tests::{run_msnbnc, Bouncer, TestDir};
use nix::sys::signal::Signal;

const SOON: Duration = Duration::from_secs(15);

use msnbnc_tests::msn_env::{config, config_for, sim};

#[test]
fn check_login_reports_version_name_and_contacts() {
    let s = sim();
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    let (status, stdout, stderr) = run_msnbnc(&["check-login", "--config", &cfg.to_string_lossy()]);
    assert!(status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("negotiated protocol: MSNP12"), "{stdout}");
    assert!(
        stdout.contains(&format!("signed in as {ACCOUNT} (\"Support Desk\")")),
        "{stdout}"
    );
    assert!(stdout.contains("contacts: 2, groups: 1"), "{stdout}");
    assert_eq!(s.sim.logins(), 1);
    drop(s.rt);
}

#[test]
fn check_login_at_msnp18_names_the_method_the_places_and_the_offline_messages_waiting() {
    let s = sim();
    s.sim
        .customer("bob@example.com")
        .leave_offline_message(ACCOUNT, "hello?");
    let laptop = s.sim.another_place_signs_in(ACCOUNT, "LAPTOP");
    let dir = TestDir::new();
    let cfg = config_for(&dir, &s.sim, PASSWORD, true, 18);
    let (status, stdout, stderr) = run_msnbnc(&["check-login", "--config", &cfg.to_string_lossy()]);
    assert!(status.success(), "{stdout}\n{stderr}");
    for expected in [
        "negotiated protocol: MSNP18",
        "login method: single sign-on (RST tickets, MBI_KEY_OLD proof) with this installation's machine GUID",
        "contacts: 2, groups: 0",
        "places signed in to the account: 2",
        &format!("  LAPTOP {laptop}"),
        "offline messages waiting: 1 (left on the server for msnbnc)",
    ] {
        assert!(stdout.contains(expected), "{expected:?} missing from:\n{stdout}");
    }
    assert!(stdout.contains(" (this installation)"), "{stdout}");
    // Counted, not taken: still there for msnbnc.
    assert_eq!(s.sim.offline_messages(ACCOUNT).len(), 1);
    drop(s.rt);
}

#[test]
fn check_login_names_each_failure_class() {
    let s = sim();
    let dir = TestDir::new();
    let wrong = config(&dir, &s.sim, "wrong password", true);
    let (status, stdout, _) = run_msnbnc(&["check-login", "--config", &wrong.to_string_lossy()]);
    assert_eq!(status.code(), Some(1));
    assert!(
        stdout.contains("login failed: wrong credentials: Passport refused"),
        "{stdout}"
    );

    let untrusted = config(&dir, &s.sim, PASSWORD, false);
    let (status, stdout, _) = run_msnbnc(&["check-login", "--config", &untrusted.to_string_lossy()]);
    assert_eq!(status.code(), Some(1));
    assert!(
        stdout.contains("login failed: TLS/trust error:") && stdout.contains("UnknownIssuer"),
        "{stdout}"
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let text = std::fs::read_to_string(&wrong)
        .unwrap()
        .replace(&s.sim.server_addr().to_string(), &format!("127.0.0.1:{port}"));
    let unreachable = dir.write("unreachable.toml", &text);
    let (status, stdout, _) = run_msnbnc(&["check-login", "--config", &unreachable.to_string_lossy()]);
    assert_eq!(status.code(), Some(1));
    assert!(
        stdout.contains("login failed: server unreachable: cannot connect to 127.0.0.1"),
        "{stdout}"
    );
}

#[test]
fn a_dropped_connection_is_followed_by_a_new_login() {
    for dialect in [8, 12, 18] {
        let s = sim();
        let dir = TestDir::new();
        let cfg = config_for(&dir, &s.sim, PASSWORD, true, dialect);
        let bouncer = Bouncer::run(&cfg);
        bouncer
            .wait_for(
                &format!("msn: signed in as {ACCOUNT} (Support Desk) with MSNP{dialect}"),
                SOON,
            )
            .unwrap();
        let before = bouncer.log_len();
        s.sim.drop_connection(ACCOUNT);
        let (_, line) = bouncer.wait_for_from(before, "worker ended", SOON).unwrap();
        assert!(line.contains("signed out (Transient)"), "{line}");
        bouncer
            .wait_for_from(before, "restarting the worker in", SOON)
            .unwrap();
        bouncer
            .wait_for_from(before, &format!("worker state: signed in as {ACCOUNT}"), SOON)
            .unwrap();
        assert_eq!(s.sim.logins(), 2, "MSNP{dialect}");
    }
}

#[test]
fn signed_in_elsewhere_waits_for_the_operator_without_logging_in_again() {
    let s = sim();
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    let bouncer = Bouncer::run(&cfg);
    bouncer
        .wait_for(&format!("worker state: signed in as {ACCOUNT}"), SOON)
        .unwrap();
    s.sim.sign_in_elsewhere(ACCOUNT);
    bouncer
        .wait_for("worker state: waiting for an operator", SOON)
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        s.sim.logins(),
        1,
        "no kick-war: the bouncer must not log in again"
    );
    let before = bouncer.log_len();
    bouncer.signal(Signal::SIGHUP);
    bouncer
        .wait_for_from(before, &format!("worker state: signed in as {ACCOUNT}"), SOON)
        .unwrap();
    assert_eq!(s.sim.logins(), 2);
}

#[test]
fn sigterm_signs_out_of_msn_and_leaves_switchboards_politely() {
    let s = sim();
    let dir = TestDir::new();
    let cfg = config(&dir, &s.sim, PASSWORD, true);
    let mut bouncer = Bouncer::run(&cfg);
    bouncer
        .wait_for(&format!("worker state: signed in as {ACCOUNT}"), SOON)
        .unwrap();
    // A conversation is open: its switchboard is left with OUT too.
    let bob = s.sim.customer("bob@example.com");
    bob.sign_in("NLN");
    s.rt.block_on(bob.say(ACCOUNT, "hello")).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    bouncer.signal(Signal::SIGTERM);
    bouncer.wait_exit(SOON).unwrap();
    let said = s.sim.transcript();
    assert!(
        said.iter().any(|l| l == "NS< OUT"),
        "no OUT to the notification server: {said:#?}"
    );
    assert!(
        said.iter().any(|l| l == "SB< OUT"),
        "no OUT to the switchboard: {said:#?}"
    );
    assert!(s.rt.block_on(s.sim.wait_until(SOON, |x| !x.is_online(ACCOUNT))));
}
