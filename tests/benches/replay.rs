//! Replay: a staff member comes back to 1,000 / 10,000 / 100,000 missed
//! lines. Time from connecting to the last replayed line, and the bytes it
//! took, for msnbnc (from its SQLite store, in chathistory batches with
//! server-time and msgids) and for ZNC (from its in-memory query buffer,
//! server-time and batch requested), in the same run. Also msnbnc's insert
//! throughput (lines committed and shown per second), and its memory with
//! 1,000,000 stored lines against a small store.
//!
//! `bench/run` runs this after the fan-out bench.

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

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use fleet::{seq_of, text, Fleet, Upstream};
use stats::rss_mib;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const SIZES: [usize; 3] = [1_000, 10_000, 100_000];
const STORED: i64 = 1_000_000;

/// One replay, timed from connecting to the line with `last` (or the last
/// line, if the server kept less than was sent).
struct Replayed {
    time: Duration,
    /// The part after the welcome (001): without the login itself.
    after_login: Duration,
    bytes: usize,
    lines: usize,
}

async fn replay_once(port: u16, login: &[String], last: u64) -> anyhow::Result<Replayed> {
    let start = Instant::now();
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (rd, mut wr) = stream.into_split();
    for l in login {
        wr.write_all(format!("{l}\r\n").as_bytes()).await?;
    }
    let mut lines = BufReader::new(rd).lines();
    let (mut bytes, mut count) = (0, 0);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last_at = start;
    let mut welcomed = start;
    loop {
        // A server that kept less than was sent just stops: 3 s of silence
        // after some lines ends the replay at its last line.
        let line = match tokio::time::timeout(Duration::from_secs(3), lines.next_line()).await {
            Ok(line) => line?.context("closed during the replay")?,
            Err(_) if count > 0 => {
                return Ok(Replayed {
                    time: last_at.duration_since(start),
                    after_login: last_at.duration_since(welcomed),
                    bytes,
                    lines: count,
                })
            }
            Err(_) if Instant::now() > deadline => bail!("no replay within 120 s"),
            Err(_) => continue,
        };
        bytes += line.len() + 2;
        if line.contains(" 001 ") {
            welcomed = Instant::now();
        }
        if let Some(token) = line.strip_prefix("PING ") {
            wr.write_all(format!("PONG {token}\r\n").as_bytes()).await?;
        }
        if let Some(seq) = seq_of(&line) {
            count += 1;
            last_at = Instant::now();
            if seq == last {
                return Ok(Replayed {
                    time: start.elapsed(),
                    after_login: welcomed.elapsed(),
                    bytes,
                    lines: count,
                });
            }
        }
    }
}

fn caps_login(pass: &str, nick: &str) -> Vec<String> {
    vec![
        "CAP LS 302".to_owned(),
        "CAP REQ :batch server-time message-tags".to_owned(),
        format!("PASS {pass}"),
        format!("NICK {nick}"),
        format!("USER {nick} 0 * :{nick}"),
        "CAP END".to_owned(),
    ]
}

struct Row {
    n: usize,
    r: Replayed,
}

fn print(system: &str, row: &Row) {
    let r = &row.r;
    println!(
        "{system:<8} {:>7} {:>10.1} {:>12.1} {:>9.2} {:>9} {:>12.0}",
        row.n,
        r.time.as_secs_f64() * 1000.0,
        r.after_login.as_secs_f64() * 1000.0,
        r.bytes as f64 / 1_048_576.0,
        r.lines,
        r.lines as f64 / r.time.as_secs_f64().max(1e-9)
    );
}

/// msnbnc: `staff` goes away, the customer writes `n` lines (seen live by
/// `zoe`, so each is committed), `staff` comes back.
async fn msnbnc_rows() -> anyhow::Result<(Vec<Row>, Vec<f64>, f64)> {
    let m = msnbnc::Msnbnc::start_with("replay_max = 200000").await?;
    let mut zoe = Fleet::attach(
        m.port,
        1,
        |_| vec!["PASS zoe:pw".into(), "NICK zoe".into(), "USER zoe 0 * :z".into()],
        " 366 zoe &msn ",
    )
    .await?;
    let mut customer = m.customer();
    let (mut rows, mut inserts) = (Vec::new(), Vec::new());
    // staff has been here once (it has positions from now on).
    drop(m.fleet(1).await?);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for n in SIZES {
        let burst = zoe.burst(&mut customer, n).await?;
        if burst.lost() > 0 {
            bail!("{} of {n} lines never reached zoe", burst.lost());
        }
        inserts.push(burst.per_second());
        let last = zoe.last_seq();
        let r = replay_once(m.port, &caps_login("staff:pw", "staff"), last).await?;
        rows.push(Row { n, r });
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let rss = rss_mib(m.bouncer.pid()).unwrap_or(f64::NAN);
    Ok((rows, inserts, rss))
}

/// ZNC: the customer writes `n` lines to ZNC's nick while no client is
/// attached; a client attaches and gets the query buffer.
async fn znc_rows() -> anyhow::Result<Option<(Vec<Row>, f64)>> {
    let Some(z) = znc::Znc::start_with(200_000).await? else {
        return Ok(None);
    };
    let mut customer = z.customer().await?;
    let mut rows = Vec::new();
    let mut seq = 0u64;
    for n in SIZES {
        // Paced at 20,000 lines/s: faster, ngircd drops ZNC's connection
        // (its send queue overflows) and lines are lost before ZNC sees them.
        for i in 0..n {
            seq += 1;
            customer.send(&text(seq)).await?;
            if i % 1000 == 999 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        // ZNC takes ~20,000 lines/s into its buffer; give it ample time.
        tokio::time::sleep(Duration::from_millis(2000 + n as u64 / 5)).await;
        let r = replay_once(z.znc_port(), &caps_login("bench/local:benchpw", "c0"), seq).await?;
        if r.lines != n {
            println!("(ZNC replayed {} of the {n} lines sent)", r.lines);
        }
        rows.push(Row { n, r });
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(Some((rows, stats::rss_mib(z.znc_pid()).unwrap_or(f64::NAN))))
}

/// A store with `STORED` lines in #bob, `staff` last there 100,000 ago.
fn big_store(path: &std::path::Path) -> anyhow::Result<()> {
    use ::msnbnc::store::batch::Batch;
    use ::msnbnc::store::lines::{ConversationRow, Kind, LineRow};
    let mut s = ::msnbnc::store::Store::open(path)?;
    s.add_user("staff", "pw", ::msnbnc::store::users::Role::Staff)?;
    // staff was here before the conversation began.
    s.device_attached("staff", "")?;
    let bob = ConversationRow {
        id: 1,
        channel: "#bob".into(),
        customers: vec!["bob@example.com".into()],
        created_ms: ::msnbnc::store::now_ms(),
    };
    s.put_conversation(&bob)?;
    for chunk in 0..STORED / 10_000 {
        let lines: Vec<LineRow> = (0..10_000)
            .map(|i| {
                let id = chunk * 10_000 + i + 1;
                let t = text(id as u64);
                LineRow {
                    id,
                    conversation: 1,
                    time_ms: 1_700_000_000_000 + id,
                    msgid: format!("big-{id}"),
                    kind: Kind::Customer,
                    sender: "bob@example.com".into(),
                    source: "bob!bob@example.com".into(),
                    command: "PRIVMSG",
                    plain: t.clone(),
                    text: t,
                }
            })
            .collect();
        // What msnbnc's writer does after a batch: index it for search.
        let plain: Vec<(i64, String)> = lines.iter().map(|l| (l.id, l.plain.clone())).collect();
        s.apply_now(&Batch {
            lines,
            ..Batch::default()
        })?;
        s.index_lines(&plain)?;
    }
    // staff saw everything up to 100,000 lines ago.
    s.set_position("staff", "", 1, STORED - 100_000)?;
    s.set_seen_through("staff", "", STORED - 100_000)?;
    Ok(())
}

async fn bench() -> anyhow::Result<()> {
    msnbnc_tests::binaries();
    let (ours, inserts, rss_small) = msnbnc_rows().await?;
    let theirs = znc_rows().await?;

    // Memory with a million stored lines: idle, and after replaying 100,000.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("big.db");
    let built = Instant::now();
    tokio::task::block_in_place(|| big_store(&path))?;
    let build_s = built.elapsed().as_secs_f64();
    let db_mib = std::fs::metadata(&path)?.len() as f64 / 1_048_576.0;
    let m = msnbnc::Msnbnc::start_on("replay_max = 200000", Some(&path)).await?;
    let idle = rss_mib(m.bouncer.pid()).unwrap_or(f64::NAN);
    let big = replay_once(m.port, &caps_login("staff:pw", "staff"), STORED as u64).await?;
    let (time, lines) = (big.time, big.lines);
    let after = rss_mib(m.bouncer.pid()).unwrap_or(f64::NAN);

    println!("replay of missed lines on attach (batch + server-time + msgids), loopback");
    println!("(times from connecting; msnbnc's login includes an Argon2id check, ZNC's a plain password)");
    println!("system        lines    time ms  after login  MiB sent     lines      lines/s");
    for r in &ours {
        print("msnbnc", r);
    }
    if let Some((rows, _)) = &theirs {
        for r in rows {
            print("ZNC", r);
        }
    }
    println!(
        "\nmsnbnc insert throughput (committed, then shown to one client): {}",
        SIZES
            .iter()
            .zip(&inserts)
            .map(|(n, r)| format!("{r:.0} lines/s for {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "msnbnc with {STORED} stored lines ({db_mib:.0} MiB database, built in {build_s:.1} s): RSS {idle:.1} MiB idle, \
         {after:.1} MiB after replaying {lines} lines in {:.0} ms; with the small store above: {rss_small:.1} MiB",
        time.as_secs_f64() * 1000.0
    );
    match theirs {
        Some((rows, znc_rss)) => {
            println!("ZNC RSS after its replays: {znc_rss:.1} MiB");
            println!("\nreplay time msnbnc/ZNC (target ≤ 0.5 at 100,000): from connecting, and after login");
            for (o, t) in ours.iter().zip(&rows) {
                println!(
                    "{:>7}  {:.2}  {:.2}",
                    o.n,
                    o.r.time.as_secs_f64() / t.r.time.as_secs_f64().max(1e-9),
                    o.r.after_login.as_secs_f64() / t.r.after_login.as_secs_f64().max(1e-9)
                );
            }
        }
        None => println!("\nZNC or ngircd not installed: only msnbnc was measured (bench/run installs them)"),
    }
    Ok(())
}

fn main() {
    msnbnc_tests::run_bench(bench());
}
