//! The MSN side of the worker, against the simulator (release build), at
//! MSNP12 and at MSNP18 side by side:
//! * login time: spawn → sandbox → Passport over HTTPS (MSNP12) or single
//!   sign-on with its proof (MSNP18) → login → contact list (`SYN`, or the
//!   membership and address-book services) → `SignedIn` over IPC;
//! * throughput: a customer's messages → IPC `Message` events per second;
//! * latency: one message customer → switchboard → worker → IPC.
//!
//! `cargo bench -p msnbnc-tests --bench msn_worker`

use std::time::{Duration, Instant};

use ipc::Event;
use msn_sim::{SimConfig, Simulator};
use msnbnc_tests::worker::{Options, Worker, ACCOUNT, PASSWORD};

const LOGINS: usize = 20;
const BURST: usize = 5000;
const PINGS: usize = 1000;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn report(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{name:<34} median {:>8.3} ms   p99 {:>8.3} ms   min {:>8.3} ms   max {:>8.3} ms",
        percentile(&ms, 0.5),
        percentile(&ms, 0.99),
        ms[0],
        ms[ms.len() - 1]
    );
}

/// What one dialect measured.
struct Figures {
    logins: Vec<f64>,
    latency: Vec<f64>,
    burst: Duration,
}

async fn measure(dialect: u8) -> anyhow::Result<Figures> {
    let sim = Simulator::start(
        SimConfig::default()
            .account(ACCOUNT, PASSWORD, "Desk")
            .customer("bob@example.com", "Bob")
            .friends(ACCOUNT, "bob@example.com"),
    )
    .await?;
    let bob = sim.customer("bob@example.com");
    bob.sign_in("NLN");

    let mut logins = Vec::new();
    for _ in 0..LOGINS {
        let start = Instant::now();
        let mut w = Worker::start(&sim, Options::new(dialect)).await?;
        w.signed_in().await?;
        logins.push(start.elapsed().as_secs_f64() * 1000.0);
    }

    let mut w = Worker::start(&sim, Options::new(dialect)).await?;
    w.signed_in().await?;
    anyhow::ensure!(
        sim.wait_until(Duration::from_secs(10), |s| s.is_online(ACCOUNT))
            .await
    );
    bob.say(ACCOUNT, "warm-up").await?;
    w.wait_event(Duration::from_secs(10), |e| matches!(e, Event::Message { .. }))
        .await?;

    // Latency: one message at a time.
    let mut latency = Vec::with_capacity(PINGS);
    for i in 0..PINGS {
        let text = format!("ping {i}");
        let start = Instant::now();
        bob.say(ACCOUNT, &text).await?;
        w.wait_event(
            Duration::from_secs(10),
            |e| matches!(e, Event::Message { text: t, .. } if *t == text),
        )
        .await?;
        latency.push(start.elapsed().as_secs_f64() * 1000.0);
    }

    // Throughput: a burst, counted as it arrives over IPC.
    let start = Instant::now();
    for i in 0..BURST {
        bob.say(ACCOUNT, &format!("burst {i} lorem ipsum dolor sit amet"))
            .await?;
    }
    let mut got = 0;
    while got < BURST {
        w.wait_event(
            Duration::from_secs(30),
            |e| matches!(e, Event::Message { text, .. } if text.starts_with("burst ")),
        )
        .await?;
        got += 1;
    }
    Ok(Figures {
        logins,
        latency,
        burst: start.elapsed(),
    })
}

async fn bench() -> anyhow::Result<()> {
    // Build (if needed) before anything is timed.
    msnbnc_tests::binaries();
    for dialect in [12, 18] {
        let f = measure(dialect).await?;
        println!("msn-worker against msn-sim, MSNP{dialect}, release build");
        report(&format!("login MSNP{dialect} (spawn -> SignedIn)"), f.logins);
        report("message customer -> IPC event", f.latency);
        println!(
            "{:<34} {BURST} messages in {:.1} ms = {:.0} messages/s",
            "burst customer -> IPC events",
            f.burst.as_secs_f64() * 1000.0,
            BURST as f64 / f.burst.as_secs_f64()
        );
    }
    Ok(())
}

fn main() {
    msnbnc_tests::run_bench(bench());
}
