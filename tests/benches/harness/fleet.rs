//! K IRC clients reading concurrently, each timestamping the benchmark
//! lines it receives; and the three measurements made through them.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// A benchmark line arrived: (sequence number, client, when).
type Arrival = (u64, usize, Instant);

/// The marker every benchmark message carries: `bench#<seq>#`.
pub fn text(seq: u64) -> String {
    format!("bench#{seq}# lorem ipsum dolor sit amet, consectetur")
}

pub fn seq_of(line: &str) -> Option<u64> {
    let rest = &line[line.find("bench#")? + 6..];
    rest[..rest.find('#')?].parse().ok()
}

/// Where the customer's messages come from (the MSN simulator, or an IRC
/// client on ngircd).
pub trait Upstream {
    async fn send(&mut self, text: &str) -> anyhow::Result<()>;
}

pub struct Fleet {
    k: usize,
    readers: Vec<tokio::task::JoinHandle<()>>,
    arrivals: mpsc::UnboundedReceiver<Arrival>,
    next_seq: u64,
}

impl Fleet {
    /// Connects `k` clients to `port`, sends each its `login(i)` lines, and
    /// waits until every one has seen `ready` (e.g. the end of the MOTD).
    pub async fn attach(
        port: u16,
        k: usize,
        login: impl Fn(usize) -> Vec<String>,
        ready: &str,
    ) -> anyhow::Result<Fleet> {
        let (tx, arrivals) = mpsc::unbounded_channel();
        let mut readers = Vec::with_capacity(k);
        for i in 0..k {
            let stream = TcpStream::connect(("127.0.0.1", port))
                .await
                .with_context(|| format!("client {i} cannot connect to {port}"))?;
            stream.set_nodelay(true)?;
            let (rd, mut wr) = stream.into_split();
            for l in login(i) {
                wr.write_all(format!("{l}\r\n").as_bytes()).await?;
            }
            let mut lines = BufReader::new(rd).lines();
            // Registration first, then the reader runs on its own.
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let line = tokio::time::timeout_at(deadline.into(), lines.next_line())
                    .await
                    .with_context(|| format!("client {i}: no {ready:?} within 30 s"))??
                    .with_context(|| format!("client {i}: closed before {ready:?}"))?;
                if let Some(token) = line.strip_prefix("PING ") {
                    wr.write_all(format!("PONG {token}\r\n").as_bytes()).await?;
                }
                if line.contains(ready) {
                    break;
                }
            }
            let tx = tx.clone();
            readers.push(tokio::spawn(async move {
                while let Ok(Some(line)) = lines.next_line().await {
                    let now = Instant::now();
                    if let Some(seq) = seq_of(&line) {
                        let _ = tx.send((seq, i, now));
                    } else if let Some(token) = line.strip_prefix("PING ") {
                        let _ = wr.write_all(format!("PONG {token}\r\n").as_bytes()).await;
                    }
                }
            }));
        }
        Ok(Fleet {
            k,
            readers,
            arrivals,
            next_seq: 1,
        })
    }

    /// The sequence number of the last message sent through this fleet.
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    fn fresh(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// Sends one message and waits for every client to have it.
    async fn one(&mut self, up: &mut impl Upstream) -> anyhow::Result<Vec<f64>> {
        let seq = self.fresh();
        let start = Instant::now();
        up.send(&text(seq)).await?;
        let mut ms = Vec::with_capacity(self.k);
        while ms.len() < self.k {
            let (s, _, at) = self.next_arrival(Duration::from_secs(10)).await?;
            if s == seq {
                ms.push(at.duration_since(start).as_secs_f64() * 1000.0);
            }
        }
        Ok(ms)
    }

    async fn next_arrival(&mut self, timeout: Duration) -> anyhow::Result<Arrival> {
        match tokio::time::timeout(timeout, self.arrivals.recv()).await {
            Ok(Some(a)) => Ok(a),
            Ok(None) => bail!("every client is gone"),
            Err(_) => bail!("nothing arrived within {timeout:?}"),
        }
    }

    /// Fan-out latency: `n` messages one at a time; one sample per client
    /// per message.
    pub async fn latency(&mut self, up: &mut impl Upstream, n: usize) -> anyhow::Result<Vec<f64>> {
        self.one(up).await?; // warm-up
        let mut all = Vec::with_capacity(n * self.k);
        for _ in 0..n {
            all.extend(self.one(up).await?);
        }
        Ok(all)
    }

    /// Burst: `n` messages back to back; deliveries per second until the
    /// last client has the last one, and how many never arrived.
    pub async fn burst(&mut self, up: &mut impl Upstream, n: usize) -> anyhow::Result<Throughput> {
        let first = self.next_seq;
        let start = Instant::now();
        for _ in 0..n {
            let seq = self.fresh();
            up.send(&text(seq)).await?;
        }
        self.drain(first, n, start).await
    }

    /// Sustained: `n` messages with at most `window` not yet delivered to
    /// every client, so the upstream never runs far ahead.
    pub async fn sustained(
        &mut self,
        up: &mut impl Upstream,
        n: usize,
        window: usize,
    ) -> anyhow::Result<Throughput> {
        let first = self.next_seq;
        let start = Instant::now();
        let mut complete = vec![0usize; n];
        let (mut sent, mut done, mut got, mut last) = (0usize, 0usize, 0usize, start);
        while done < n {
            while sent < n && sent - done < window {
                let seq = self.fresh();
                up.send(&text(seq)).await?;
                sent += 1;
            }
            let (seq, _, at) = match self.next_arrival(Duration::from_secs(10)).await {
                Ok(a) => a,
                Err(_) => break,
            };
            let Some(i) = seq.checked_sub(first).map(|i| i as usize).filter(|i| *i < n) else {
                continue;
            };
            got += 1;
            last = at;
            complete[i] += 1;
            // Messages complete in order per client; advance over finished ones.
            while done < n && complete[done] == self.k {
                done += 1;
            }
        }
        Ok(Throughput::new(n * self.k, got, last.duration_since(start)))
    }

    async fn drain(&mut self, first: u64, n: usize, start: Instant) -> anyhow::Result<Throughput> {
        let want = n * self.k;
        let (mut got, mut last) = (0usize, start);
        while got < want {
            match self.next_arrival(Duration::from_secs(10)).await {
                Ok((seq, _, at)) if seq >= first && seq < first + n as u64 => {
                    got += 1;
                    last = at;
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(Throughput::new(want, got, last.duration_since(start)))
    }
}

/// Dropping the fleet disconnects every client.
impl Drop for Fleet {
    fn drop(&mut self) {
        for r in &self.readers {
            r.abort();
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    pub wanted: usize,
    pub delivered: usize,
    pub elapsed: Duration,
}

impl Throughput {
    fn new(wanted: usize, delivered: usize, elapsed: Duration) -> Self {
        Throughput {
            wanted,
            delivered,
            elapsed,
        }
    }

    pub fn per_second(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn lost(&self) -> usize {
        self.wanted - self.delivered
    }
}
