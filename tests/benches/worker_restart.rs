//! Worker restart cost and idle memory, with the real binaries.
//!
//! `cargo bench -p msnbnc-tests --bench worker_restart` prints:
//! * kill → detected: SIGKILL to the supervisor noticing the death;
//! * spawn → ready: process start, handshake, sandbox, credentials;
//! * kill → ready: the whole outage, including the back-off delay
//!   (restart_initial_secs = 1, minus up to 25 % jitter);
//! * RSS of msnbnc and msn-worker at idle.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use msnbnc_tests::{binaries, signal_pid, Bouncer, TestDir};
use nix::sys::signal::Signal;

const ROUNDS: usize = 15;

/// Seconds since midnight of a log line's leading RFC 3339 UTC timestamp.
fn log_time(line: &str) -> Option<f64> {
    let time = line.split('T').nth(1)?.split('Z').next()?;
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some(h * 3600.0 + m * 60.0 + s)
}

fn now_of_day() -> f64 {
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    (t.as_secs_f64()) % 86_400.0
}

fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn summary(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name:<22} median {:>8.2} ms   p90 {:>8.2} ms   min {:>8.2} ms   max {:>8.2} ms",
        percentile(&ms, 0.5),
        percentile(&ms, 0.9),
        ms[0],
        ms[ms.len() - 1]
    );
}

fn main() {
    let dir = TestDir::new();
    let config = dir.write(
        "msnbnc.toml",
        &msnbnc_tests::config_text(&binaries().worker, "")
            .replace("restart_max_secs = 4", "restart_max_secs = 1"),
    );
    let bouncer = Bouncer::run(&config);
    let timeout = Duration::from_secs(10);
    let (mut at, mut pid) = bouncer.wait_worker_ready(0, timeout).expect("first worker");

    std::thread::sleep(Duration::from_secs(2));
    let bouncer_rss = rss_kib(bouncer.pid()).unwrap_or(0);
    let worker_rss = rss_kib(pid).unwrap_or(0);

    let (mut detect, mut bring_up, mut outage) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let killed = now_of_day();
        signal_pid(pid, Signal::SIGKILL);
        let (ended, ended_line) = bouncer
            .wait_for_from(at, "worker ended", timeout)
            .expect("death noticed");
        let (started, started_line) = bouncer
            .wait_for_from(ended, "worker started", timeout)
            .expect("respawn");
        let (ready, ready_line) = bouncer
            .wait_for_from(started, "worker ready worker_pid=", timeout)
            .expect("ready");
        let t = |l: &str| log_time(l).expect("timestamp");
        detect.push((t(&ended_line) - killed) * 1000.0);
        bring_up.push((t(&ready_line) - t(&started_line)) * 1000.0);
        outage.push((t(&ready_line) - killed) * 1000.0);
        pid = msnbnc_tests::worker_pid(&ready_line).expect("pid");
        at = ready;
        std::thread::sleep(Duration::from_millis(300));
    }

    println!("worker restart, {ROUNDS} rounds (release build, restart_initial_secs = 1)");
    summary("kill -> detected", detect);
    summary("spawn -> ready", bring_up);
    summary("kill -> ready", outage);
    println!("idle RSS: msnbnc {bouncer_rss} KiB, msn-worker {worker_rss} KiB");
}
