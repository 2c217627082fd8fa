//! Stored lines as a client sees them, and the replay of what a device
//! missed. A replay can be far longer than a client's queue (100,000
//! lines after a long weekend), so it runs on a blocking thread with its
//! own read connection to the store, reading a chunk at a time and waiting
//! for the client's writer to take each line: memory stays flat and the
//! hub never stalls.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use tokio::sync::mpsc;

use super::conn::OutLine;
use super::tags::{escape, timestamp};
use crate::store::history::{Anchor, Kind, Line};
use crate::store::Store;

/// How a client wants history lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// In a `chathistory` batch with `time=` (batch + server-time).
    pub batched: bool,
    pub msgid: bool,
    pub account: bool,
}

impl Style {
    pub fn of(caps: &std::collections::BTreeSet<String>) -> Style {
        Style {
            batched: caps.contains("batch") && caps.contains("server-time"),
            msgid: caps.contains("message-tags"),
            account: caps.contains("account-tag"),
        }
    }
}

/// `[HH:MM]` (UTC) for clients without server-time.
fn short_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("[{:02}:{:02}]", secs / 3600, secs % 3600 / 60)
}

/// One stored line; `batch` is the reference it belongs to, if batched.
pub fn format_line(l: &Line, style: Style, batch: Option<&str>) -> String {
    let Some(reference) = batch.filter(|_| style.batched) else {
        return format!(
            ":{} {} {} :{} {}",
            l.source,
            l.command,
            l.target(),
            short_time(l.time_ms),
            l.text
        );
    };
    let time = timestamp(UNIX_EPOCH + Duration::from_millis(l.time_ms.max(0) as u64));
    let mut tags = format!("@batch={reference};time={time}");
    if style.msgid {
        tags.push_str(";msgid=");
        tags.push_str(&escape(&l.msgid));
    }
    if style.account && matches!(l.kind, Kind::Staff | Kind::Note) {
        tags.push_str(";account=");
        tags.push_str(&escape(&l.sender));
    }
    format!("{tags} :{} {} {} :{}", l.source, l.command, l.target(), l.text)
}

/// What one conversation owes a device.
#[derive(Debug, Clone)]
pub struct Job {
    pub conversation: i64,
    pub channel: String,
    /// Lines after this row are missed.
    pub after: i64,
    pub count: i64,
}

/// A replay to run.
pub struct Replay {
    pub store: PathBuf,
    pub server: String,
    pub user: String,
    pub device: String,
    pub style: Style,
    /// Lines per conversation at most (the newest).
    pub cap: usize,
    /// The newest line when the client attached: later ones reach it live.
    pub upto: i64,
    pub jobs: Vec<Job>,
    pub tx: mpsc::Sender<OutLine>,
}

/// Lines read from the store at a time.
const CHUNK: usize = 2_000;

impl Replay {
    /// Runs on a blocking thread; ends early if the client goes.
    pub fn spawn(self) {
        tokio::task::spawn_blocking(move || {
            if let Err(e) = self.run() {
                tracing::warn!("replay stopped: {e}");
            }
        });
    }

    fn run(self) -> anyhow::Result<()> {
        let mut store = Store::open(&self.store)?;
        for (n, job) in self.jobs.iter().enumerate() {
            let send = |line: String| {
                self.tx
                    .blocking_send(line.into())
                    .map_err(|_| anyhow::anyhow!("the client left"))
            };
            let cap = self.cap.max(1);
            // Too much missed: the newest `cap`, and a word about the rest.
            let mut after = job.after;
            if job.count as usize > cap {
                let older = job.count as usize - cap;
                send(format!(
                    ":{} NOTICE {} :{older} older missed line(s) not replayed here: /msg *msn history {} {} (or your client's history)",
                    self.server, job.channel, job.channel, job.count
                ))?;
                let first = store.before(job.conversation, Some(Anchor::Message(self.upto + 1)), cap)?;
                after = first.first().map_or(job.after, |l| l.id - 1);
            }
            let reference = format!("r{n}");
            if self.style.batched {
                send(format!(
                    ":{} BATCH +{reference} chathistory {}",
                    self.server, job.channel
                ))?;
            }
            let mut last = None;
            loop {
                let mut lines = store.lines_after(job.conversation, after, CHUNK)?;
                let complete = lines.len() < CHUNK || lines.last().is_some_and(|l| l.id >= self.upto);
                lines.retain(|l| l.id <= self.upto);
                for l in &lines {
                    send(format_line(l, self.style, Some(&reference)))?;
                }
                match lines.last() {
                    Some(l) => {
                        after = l.id;
                        last = Some(l.id);
                    }
                    None => break,
                }
                if complete {
                    break;
                }
            }
            if self.style.batched {
                send(format!(":{} BATCH -{reference}", self.server))?;
            }
            if let Some(last) = last {
                store.set_position(&self.user, &self.device, job.conversation, last)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: Kind) -> Line {
        Line {
            id: 7,
            channel: "#bob".into(),
            time_ms: 1_795_310_096_789,
            msgid: "m;7".into(),
            kind,
            sender: "alice".into(),
            source: "alice!alice@msnbnc".into(),
            command: "PRIVMSG".into(),
            text: "hi there".into(),
        }
    }

    #[test]
    fn lines_keep_their_time_msgid_and_account_in_a_batch() {
        let all = Style {
            batched: true,
            msgid: true,
            account: true,
        };
        assert_eq!(
            format_line(&line(Kind::Staff), all, Some("r0")),
            "@batch=r0;time=2026-11-22T01:14:56.789Z;msgid=m\\:7;account=alice :alice!alice@msnbnc PRIVMSG #bob :hi there"
        );
        assert_eq!(
            format_line(&line(Kind::Note), all, Some("r0")),
            "@batch=r0;time=2026-11-22T01:14:56.789Z;msgid=m\\:7;account=alice :alice!alice@msnbnc PRIVMSG @#bob :hi there"
        );
        let plain = Style {
            batched: false,
            msgid: true,
            account: false,
        };
        assert_eq!(
            format_line(&line(Kind::Customer), plain, Some("r0")),
            ":alice!alice@msnbnc PRIVMSG #bob :[01:14] hi there"
        );
    }
}
