//! The supervisor keeps exactly one healthy worker, whatever the worker does.

use std::time::{Duration, Instant};

use msnbnc_tests::{binaries, config_text, process_alive, signal_pid, Bouncer, TestDir};
use nix::sys::signal::Signal;

const FAKE: &str = env!("CARGO_BIN_EXE_fake-worker");
const SOON: Duration = Duration::from_secs(10);

/// The delays in "restarting the worker in X s" lines from `from` on.
fn restart_delays(bouncer: &Bouncer, from: usize) -> Vec<f64> {
    bouncer
        .lines()
        .iter()
        .skip(from)
        .filter_map(|l| l.split("restarting the worker in ").nth(1))
        .filter_map(|rest| rest.split(' ').next()?.parse().ok())
        .collect()
}

#[test]
fn killed_worker_is_replaced_with_growing_backoff_that_resets_after_a_stable_run() {
    let dir = TestDir::new();
    let config = dir.write(
        "msnbnc.toml",
        &config_text(&binaries().worker, "stable_after_secs = 3"),
    );
    let mut bouncer = Bouncer::run(&config);
    let (mut at, mut pid) = bouncer.wait_worker_ready(0, SOON).unwrap();

    for round in 0..4 {
        signal_pid(pid, Signal::SIGKILL);
        let (next_at, next_pid) = bouncer.wait_worker_ready(at + 1, SOON).unwrap();
        assert_ne!(
            next_pid, pid,
            "round {round}: the same worker cannot be ready twice"
        );
        assert!(process_alive(next_pid));
        (at, pid) = (next_at, next_pid);
    }
    assert!(bouncer.is_running(), "the bouncer must survive its worker");

    // Delays 1, 2, 4, 4 (cap) with up to 25 % jitter off.
    let delays = restart_delays(&bouncer, 0);
    assert_eq!(delays.len(), 4, "{delays:?}");
    let bounds = [(0.75, 1.0), (1.5, 2.0), (3.0, 4.0), (3.0, 4.0)];
    for (d, (lo, hi)) in delays.iter().zip(bounds) {
        assert!((lo..=hi).contains(d), "delay {d} outside {lo}..={hi}: {delays:?}");
    }

    // After a stable run (3 s here) the next restart is quick again.
    std::thread::sleep(Duration::from_millis(3300));
    let before = bouncer.log_len();
    signal_pid(pid, Signal::SIGKILL);
    bouncer.wait_worker_ready(before, SOON).unwrap();
    let delays = restart_delays(&bouncer, before);
    assert!(delays[0] <= 1.0, "back-off was not reset: {delays:?}");
    let (_, line) = bouncer.wait_for_from(before, "worker ended", SOON).unwrap();
    assert!(line.contains("killed by signal SIGKILL"), "{line}");
}

#[test]
fn hung_worker_is_detected_by_missed_heartbeats_and_replaced() {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &config_text(&binaries().worker, ""));
    let bouncer = Bouncer::run(&config);
    let (at, pid) = bouncer.wait_worker_ready(0, SOON).unwrap();

    // A stopped process is the purest hang: alive, silent.
    signal_pid(pid, Signal::SIGSTOP);
    let stopped_at = Instant::now();
    let (_, line) = bouncer.wait_for_from(at, "worker ended", SOON).unwrap();
    assert!(line.contains("worker hung (no heartbeat answer for"), "{line}");
    let detected = stopped_at.elapsed();
    // heartbeat_timeout_secs = 3, checked every heartbeat_interval (1 s).
    assert!(
        detected >= Duration::from_secs(2),
        "detected too early: {detected:?}"
    );

    let (_, new_pid) = bouncer.wait_worker_ready(at + 1, SOON).unwrap();
    assert_ne!(new_pid, pid);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!process_alive(pid), "the hung worker must have been killed");
}

/// Starts a bouncer whose first worker misbehaves as `mode`, and returns
/// the reason the supervisor logged; checks a good worker replaced it.
fn misbehaving_worker_is_replaced(mode: &str) -> String {
    let dir = TestDir::new();
    let worker = dir.flaky_worker(FAKE, mode);
    let config = dir.write("msnbnc.toml", &config_text(&worker, ""));
    let mut bouncer = Bouncer::run(&config);
    let (at, line) = bouncer.wait_for("worker ended", SOON).unwrap();
    let (_, pid) = bouncer.wait_worker_ready(at, SOON).unwrap();
    assert!(process_alive(pid));
    assert!(bouncer.is_running());
    line
}

#[test]
fn worker_sending_garbage_is_replaced_and_the_reason_logged() {
    let reason = misbehaving_worker_is_replaced("garbage");
    assert!(
        reason.contains("worker broke the IPC protocol: undecodable frame"),
        "{reason}"
    );
}

#[test]
fn worker_announcing_an_oversize_frame_is_replaced_and_the_reason_logged() {
    let reason = misbehaving_worker_is_replaced("oversize");
    assert!(
        reason.contains("frame of 67108864 bytes exceeds the 1048576-byte limit"),
        "{reason}"
    );
}

#[test]
fn worker_sending_a_wrong_phase_message_is_replaced_and_the_reason_logged() {
    let reason = misbehaving_worker_is_replaced("wrong-phase");
    assert!(
        reason.contains("worker broke the IPC protocol: Ready is not allowed while waiting for the"),
        "{reason}"
    );
}

/// A worker whose outcome needs an operator is not restarted until SIGHUP.
fn held_until_sighup(mode: &str, expected_reason: &str) {
    let dir = TestDir::new();
    let worker = dir.flaky_worker(FAKE, mode);
    let config = dir.write("msnbnc.toml", &config_text(&worker, ""));
    let bouncer = Bouncer::run(&config);
    let (at, line) = bouncer.wait_for("worker ended", SOON).unwrap();
    assert!(line.contains(expected_reason), "{line}");
    bouncer
        .wait_for_from(at, "worker state: waiting for an operator", SOON)
        .unwrap();

    // restart_initial_secs is 1: a loop would have restarted it by now.
    std::thread::sleep(Duration::from_secs(3));
    let starts = bouncer
        .lines()
        .iter()
        .filter(|l| l.contains("worker started"))
        .count();
    assert_eq!(starts, 1, "a held worker must not be restarted");

    let before = bouncer.log_len();
    bouncer.signal(Signal::SIGHUP);
    bouncer
        .wait_for_from(before, "operator released the held worker", SOON)
        .unwrap();
    bouncer.wait_worker_ready(before, SOON).unwrap();
}

#[test]
fn wrong_credentials_wait_for_the_operator() {
    held_until_sighup(
        "wrong-credentials",
        "signed out (WrongCredentials): Passport: 401",
    );
}

#[test]
fn signed_in_elsewhere_waits_for_the_operator() {
    held_until_sighup("signed-in-elsewhere", "signed out (SignedInElsewhere): OUT OTH");
}

#[test]
fn a_worker_whose_sandbox_failed_never_gets_the_password() {
    held_until_sighup(
        "failed-sandbox",
        "the worker's seccomp sandbox layer failed (seccomp(2): EINVAL); not sending it the password",
    );
}

#[test]
fn incompatible_worker_binary_waits_for_the_operator() {
    held_until_sighup(
        "future-version",
        &format!(
            "IPC protocol version mismatch: we speak {}, peer speaks {}",
            ipc::PROTOCOL_VERSION,
            ipc::PROTOCOL_VERSION + 1
        ),
    );
}

#[test]
fn worker_log_lines_are_relayed_with_the_worker_pid() {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &config_text(&binaries().worker, ""));
    let bouncer = Bouncer::run(&config);
    let (_, pid) = bouncer.wait_worker_ready(0, SOON).unwrap();
    let (_, line) = bouncer
        .wait_for("msn_worker: worker ready account=support@example.com", SOON)
        .unwrap();
    assert!(line.contains(&format!("worker_pid={pid}")), "{line}");
    assert!(line.contains(" INFO "), "the worker's level is kept: {line}");
}

#[test]
fn password_is_not_in_the_workers_argv_environment_or_logs() {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &config_text(&binaries().worker, ""));
    let bouncer = Bouncer::run(&config);
    let (_, pid) = bouncer.wait_worker_ready(0, SOON).unwrap();
    let password = "correct horse, battery%staple";
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    let contains = |hay: &[u8]| hay.windows(password.len()).any(|w| w == password.as_bytes());
    assert!(!contains(&cmdline), "password in argv");
    assert!(
        environ.is_empty(),
        "the worker must start with an empty environment"
    );
    assert!(
        !bouncer.lines().iter().any(|l| l.contains(password)),
        "password in the log"
    );
}
