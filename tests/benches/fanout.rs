//! Fan-out: a customer's message reaching K attached staff clients, for
//! msnbnc (MSN simulator → msn-worker → msnbnc → K clients) and for ZNC
//! (a client on ngircd → ZNC → K clients), measured in the same run.
//!
//! For K = 1, 10, 50:
//! * latency: one message at a time, customer sends → each client has it
//!   (median and p99 over every client's sample);
//! * burst: messages back to back; deliveries per second until the last
//!   client has the last one, and how many were lost;
//! * sustained: a long run with a bounded number in flight;
//! * RSS of the processes involved.
//!
//! ZNC's figure includes its upstream hop through ngircd; the "added"
//! latency subtracts ngircd alone (customer → a client on ngircd), while
//! msnbnc's figure subtracts nothing (its simulator hop stays in).
//!
//! `bench/run` installs Debian's znc and ngircd if missing and runs this;
//! without them only msnbnc is measured.

// The harness modules are shared by the fan-out and replay benches; each
// uses only part of them.
#![allow(dead_code)]

#[path = "harness/fleet.rs"]
mod fleet;
#[path = "harness/msnbnc.rs"]
mod msnbnc;
#[path = "harness/stats.rs"]
mod stats;
#[path = "harness/znc.rs"]
mod znc;

use fleet::{Fleet, Throughput, Upstream};
use stats::{rss_mib, summary};

const KS: [usize; 3] = [1, 10, 50];
/// Each K is measured this many times, msnbnc and ZNC alternating, so that
/// drifts of the machine touch both alike.
const ROUNDS: usize = 3;
const LATENCY_MESSAGES: usize = 300;
const BURST_MESSAGES: usize = 2000;
const SUSTAINED_MESSAGES: usize = 6000;
const SUSTAINED_WINDOW: usize = 100;

/// Everything measured for one system at one K, over all rounds.
#[derive(Default)]
struct Row {
    latency: Vec<f64>,
    burst: Vec<Throughput>,
    sustained: Vec<Throughput>,
    rss: Vec<(&'static str, f64)>,
}

impl Row {
    async fn measure(
        &mut self,
        fleet: &mut Fleet,
        up: &mut impl Upstream,
        pids: &[(&'static str, u32)],
    ) -> anyhow::Result<()> {
        self.latency.extend(fleet.latency(up, LATENCY_MESSAGES).await?);
        self.burst.push(fleet.burst(up, BURST_MESSAGES).await?);
        self.sustained
            .push(fleet.sustained(up, SUSTAINED_MESSAGES, SUSTAINED_WINDOW).await?);
        self.rss = pids
            .iter()
            .filter_map(|(n, p)| Some((*n, rss_mib(*p)?)))
            .collect();
        Ok(())
    }

    fn latency(&self) -> (f64, f64) {
        summary(self.latency.clone())
    }

    /// The median round's deliveries per second, and the messages lost in all.
    fn rate(runs: &[Throughput]) -> (f64, usize) {
        let mut rates: Vec<f64> = runs.iter().map(Throughput::per_second).collect();
        rates.sort_by(|a, b| a.total_cmp(b));
        (
            stats::percentile(&rates, 0.5),
            runs.iter().map(Throughput::lost).sum(),
        )
    }

    fn print(&self, k: usize, name: &str, added: f64) {
        let (median, p99) = self.latency();
        let (burst, burst_lost) = Row::rate(&self.burst);
        let (sustained, sustained_lost) = Row::rate(&self.sustained);
        let rss: Vec<String> = self.rss.iter().map(|(n, m)| format!("{n} {m:.1}")).collect();
        println!(
            "{k:>3} {name:<8} {median:>8.3} {p99:>8.3} {added:>8.3} {burst:>10.0} {burst_lost:>5} {sustained:>11.0} {sustained_lost:>5}  {}",
            rss.join(", ")
        );
    }
}

/// One K's measurements: msnbnc, ZNC, and ngircd's hop alone (median
/// and p99), when ZNC was measured.
struct Measured {
    k: usize,
    ours: Row,
    theirs: Row,
    upstream: Option<(f64, f64)>,
}

/// ZNC's added latency is compared only when it stands out from the
/// noise of the hop it is measured against: more than this share of
/// ngircd's median, and more than this many ms.
const RESOLVABLE_SHARE: f64 = 0.1;
const RESOLVABLE_MS: f64 = 0.002;

/// The ratios against ZNC. Latency is compared whole path to whole path
/// (msnbnc's includes the simulator's hop, ZNC's ngircd's), and against
/// ZNC's added latency where the run can resolve it; when ZNC's median is
/// within ngircd's own, there is nothing added to divide by.
fn ratios(table: &[Measured]) {
    println!("\nmsnbnc against ZNC (targets: latency ratio ≤ 0.5, throughput ratio ≥ 2.0)");
    println!("  K  latency whole path  latency msnbnc/ZNC-added  burst msnbnc/ZNC  sustained msnbnc/ZNC");
    let mut unresolved = Vec::new();
    for Measured {
        k,
        ours,
        theirs,
        upstream,
    } in table
    {
        let Some((hop, _)) = upstream else { continue };
        let (ours_ms, theirs_ms) = (ours.latency().0, theirs.latency().0);
        let added = theirs_ms - hop;
        let against_added = if added > RESOLVABLE_MS && added > hop * RESOLVABLE_SHARE {
            format!("{:.2}", ours_ms / added)
        } else {
            unresolved.push(format!("K={k}: ZNC {theirs_ms:.3} ms, ngircd alone {hop:.3} ms"));
            "—".to_owned()
        };
        println!(
            "{k:>3}  {:>18.2}  {:>24}  {:>16.2}  {:>20.2}",
            ours_ms / theirs_ms.max(1e-6),
            against_added,
            Row::rate(&ours.burst).0 / Row::rate(&theirs.burst).0,
            Row::rate(&ours.sustained).0 / Row::rate(&theirs.sustained).0
        );
    }
    if !unresolved.is_empty() {
        println!(
            "—: ZNC's median is within ngircd's own hop (under {:.0}% of it or {} µs), so ZNC adds nothing this run can measure; compare whole paths there ({})",
            RESOLVABLE_SHARE * 100.0,
            RESOLVABLE_MS * 1000.0,
            unresolved.join("; ")
        );
    }
}

async fn bench() -> anyhow::Result<()> {
    // Build (if needed) before anything is timed.
    msnbnc_tests::binaries();
    let msnbnc = msnbnc::Msnbnc::start().await?;
    let znc = znc::Znc::start().await?;
    let pids = [("msnbnc", msnbnc.bouncer.pid()), ("worker", msnbnc.worker_pid)];
    // FANOUT_KS=1,10 measures only those (for profiling one case).
    let ks: Vec<usize> = std::env::var("FANOUT_KS")
        .ok()
        .map(|v| v.split(',').filter_map(|k| k.trim().parse().ok()).collect())
        .unwrap_or_else(|| KS.to_vec());
    let mut table = Vec::new();
    for k in ks {
        let (mut ours, mut theirs) = (Row::default(), Row::default());
        // ZNC's upstream hop alone (customer → ngircd → a client there),
        // measured in every round beside ZNC.
        let mut upstream = Vec::new();
        for _ in 0..ROUNDS {
            let mut fleet = msnbnc.fleet(k).await?;
            ours.measure(&mut fleet, &mut msnbnc.customer(), &pids).await?;
            drop(fleet);
            if let Some(z) = &znc {
                let mut fleet = z.fleet(k).await?;
                let pids = [("znc", z.znc_pid()), ("ngircd", z.ngircd_pid())];
                theirs
                    .measure(&mut fleet, &mut z.customer().await?, &pids)
                    .await?;
                drop(fleet);
                upstream.extend(z.ngircd_alone(LATENCY_MESSAGES).await?);
            }
        }
        let upstream = (!upstream.is_empty()).then(|| summary(upstream));
        table.push(Measured {
            k,
            ours,
            theirs,
            upstream,
        });
    }

    println!("fan-out: a customer's message → K attached staff clients, loopback, {ROUNDS} rounds per K");
    println!("latency in ms (median and p99 over every client's sample); deliveries per second (median round); RSS in MiB");
    println!("  K system     median      p99    added    burst/s  lost sustained/s  lost  RSS");
    for Measured {
        k,
        ours,
        theirs,
        upstream,
    } in &table
    {
        // msnbnc's whole path counts as added (nothing subtracted).
        ours.print(*k, "msnbnc", ours.latency().0);
        if let Some((m, p)) = upstream {
            theirs.print(*k, "ZNC", (theirs.latency().0 - m).max(0.0));
            println!("{k:>3} ngircd   {m:>8.3} {p:>8.3}   (the upstream hop alone: customer → ngircd → a client there)");
        }
    }
    match &znc {
        Some(z) => {
            println!("{}", z.versions());
            ratios(&table);
        }
        None => println!("\nZNC or ngircd not installed: only msnbnc was measured (bench/run installs them)"),
    }
    Ok(())
}

fn main() {
    msnbnc_tests::run_bench(bench());
}
