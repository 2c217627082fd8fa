//! Signals and systemd integration of the running bouncer.

use std::time::{Duration, Instant};

use msnbnc_tests::notify::NotifySocket;
use msnbnc_tests::{binaries, config_text, process_alive, Bouncer, TestDir};
use nix::sys::signal::Signal;

const SOON: Duration = Duration::from_secs(10);

#[test]
fn sigterm_exits_zero_within_five_seconds_and_takes_the_worker_along() {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &config_text(&binaries().worker, ""));
    let mut bouncer = Bouncer::run(&config);
    let (_, pid) = bouncer.wait_worker_ready(0, SOON).unwrap();

    let asked = Instant::now();
    bouncer.signal(Signal::SIGTERM);
    let status = bouncer.wait_exit(Duration::from_secs(5)).unwrap();
    assert!(asked.elapsed() < Duration::from_secs(5));
    assert_eq!(status.code(), Some(0), "{:?}", bouncer.lines());
    std::thread::sleep(Duration::from_millis(100));
    assert!(!process_alive(pid), "worker {pid} outlived the bouncer");
    // The worker was asked to stop rather than killed.
    assert!(!bouncer.lines().iter().any(|l| l.contains("killing worker")));
}

#[test]
fn sigint_also_stops_cleanly() {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &config_text(&binaries().worker, ""));
    let mut bouncer = Bouncer::run(&config);
    bouncer.wait_worker_ready(0, SOON).unwrap();
    bouncer.signal(Signal::SIGINT);
    assert_eq!(bouncer.wait_exit(Duration::from_secs(5)).unwrap().code(), Some(0));
}

#[test]
fn sighup_rereads_the_configuration_and_keeps_the_old_one_if_broken() {
    let dir = TestDir::new();
    let good = config_text(&binaries().worker, "");
    let config = dir.write("msnbnc.toml", &good);
    // The worker's debug lines are relayed at debug level: let them through.
    let mut bouncer = Bouncer::start(
        &["run", "--config", &config.to_string_lossy()],
        &[("RUST_LOG", "info,msn_worker=debug")],
    );
    let (at, pid) = bouncer.wait_worker_ready(0, SOON).unwrap();
    assert!(!bouncer.lines().iter().any(|l| l.contains("handshake complete")));

    // Broken: reported, old configuration kept, nothing restarted.
    dir.write("msnbnc.toml", "[account\n");
    bouncer.signal(Signal::SIGHUP);
    let (_, line) = bouncer
        .wait_for_from(at, "configuration reload failed", SOON)
        .unwrap();
    assert!(line.contains("keeping the running configuration"), "{line}");
    let (_, detail) = bouncer
        .wait_for_from(at, "msnbnc.toml: (syntax, line 1", SOON)
        .unwrap();
    assert!(detail.contains("msnbnc.toml"));
    assert!(process_alive(pid));

    // Valid: the new worker settings apply to the next worker.
    dir.write(
        "msnbnc.toml",
        &good.replace(
            "heartbeat_interval_secs = 1",
            "log_filter = \"debug\"\nheartbeat_interval_secs = 1",
        ),
    );
    let before = bouncer.log_len();
    bouncer.signal(Signal::SIGHUP);
    bouncer
        .wait_for_from(before, "configuration reloaded from", SOON)
        .unwrap();
    assert!(process_alive(pid), "a reload must not restart a running worker");
    msnbnc_tests::signal_pid(pid, Signal::SIGKILL);
    let (ready_at, _) = bouncer.wait_worker_ready(before, SOON).unwrap();
    // Only a worker started with log_filter = "debug" logs its handshake.
    bouncer
        .wait_for_from(before, "handshake complete", SOON)
        .map(|(i, _)| assert!(i <= ready_at + 5))
        .unwrap();
    assert!(bouncer.is_running());
}

#[test]
fn systemd_hears_ready_status_watchdog_and_stopping_in_order() {
    let dir = TestDir::new();
    let config = dir.write("msnbnc.toml", &config_text(&binaries().worker, ""));
    let notify = NotifySocket::bind(dir.path());
    let socket = notify.path.to_string_lossy().into_owned();
    let mut bouncer = Bouncer::start(
        &["run", "--config", &config.to_string_lossy()],
        &[("NOTIFY_SOCKET", &socket), ("WATCHDOG_USEC", "400000")],
    );
    bouncer.wait_worker_ready(0, SOON).unwrap();
    let deadline = Instant::now() + SOON;
    while !notify.messages().iter().any(|m| m == "WATCHDOG=1") {
        assert!(
            Instant::now() < deadline,
            "no WATCHDOG=1: {:?}",
            notify.messages()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    bouncer.signal(Signal::SIGTERM);
    bouncer.wait_exit(Duration::from_secs(5)).unwrap();
    std::thread::sleep(Duration::from_millis(300));

    let messages = notify.messages();
    let first = |needle: &str| messages.iter().position(|m| m.starts_with(needle));
    let ready = first("READY=1").expect("READY=1");
    let status = first(&format!(
        "STATUS=logging in to 127.0.0.1:{}",
        msnbnc_tests::silent_server_port()
    ))
    .expect("STATUS= with the worker state");
    let watchdog = first("WATCHDOG=1").expect("WATCHDOG=1");
    let stopping = first("STOPPING=1").expect("STOPPING=1");
    assert_eq!(ready, 0, "READY=1 comes first: {messages:?}");
    assert!(ready < status && ready < watchdog, "{messages:?}");
    assert!(
        messages
            .iter()
            .skip(stopping + 1)
            .all(|m| !m.starts_with("WATCHDOG") && !m.starts_with("READY")),
        "nothing but status after STOPPING=1: {messages:?}"
    );
    assert!(messages.iter().any(|m| m == "STATUS=stopped"), "{messages:?}");
}
