//! Stored lines as a client sees them, and the replay of what a device
//! missed. A replay can be far longer than a client's queue (100,000
//! lines after a long weekend), so it runs on a blocking thread with its
//! own read connection to the store, reading a chunk at a time and waiting
//! for the client's writer to take each line: memory stays flat and the
//! hub never stalls.

use std::path::PathBuf;
use tokio::sync::mpsc;

use super::cap::{Cap, Caps};
use super::conn::OutLine;
use super::tags::{push_escaped, timestamp_ms};
use crate::store::lines::{Kind, Line};
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
    pub fn of(caps: Caps) -> Style {
        Style {
            batched: caps.has(Cap::Batch) && caps.has(Cap::ServerTime),
            msgid: caps.has(Cap::MessageTags),
            account: caps.has(Cap::AccountTag),
        }
    }
}

/// `[HH:MM]` (UTC) for clients without server-time.
fn short_time(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("[{:02}:{:02}]", secs / 3600, secs % 3600 / 60)
}

/// One stored line of `channel` (its name now); `batch` is the reference
/// it belongs to, if batched.
pub fn format_line(l: &Line, channel: &str, style: Style, batch: Option<&str>) -> String {
    let mut out = String::with_capacity(l.text.len() + 128);
    format_line_into(&mut out, &mut Stamps::default(), (l, channel), style, batch);
    out
}

/// `server-time` stamps for many lines: the date part is made once a day.
#[derive(Default)]
pub struct Stamps {
    day: Option<i64>,
    date: String,
}

impl Stamps {
    fn push(&mut self, out: &mut String, ms: i64) {
        use std::fmt::Write;
        let ms = ms.max(0);
        let day = ms / 86_400_000;
        if self.day != Some(day) {
            let full = timestamp_ms(ms);
            self.date = full[..11].to_owned(); // YYYY-MM-DDT
            self.day = Some(day);
        }
        let rem = ms % 86_400_000;
        out.push_str(&self.date);
        let _ = write!(
            out,
            "{:02}:{:02}:{:02}.{:03}Z",
            rem / 3_600_000,
            rem / 60_000 % 60,
            rem / 1000 % 60,
            rem % 1000
        );
    }
}

/// [`format_line`] into a buffer, without allocating per line.
pub fn format_line_into(
    out: &mut String,
    stamps: &mut Stamps,
    (l, channel): (&Line, &str),
    style: Style,
    batch: Option<&str>,
) {
    let Some(reference) = batch.filter(|_| style.batched) else {
        out.push(':');
        out.push_str(&l.source);
        out.push(' ');
        out.push_str(&l.command);
        out.push(' ');
        if l.kind == Kind::Note {
            out.push('@');
        }
        out.push_str(channel);
        out.push_str(" :");
        out.push_str(&short_time(l.time_ms));
        out.push(' ');
        out.push_str(&l.text);
        return;
    };
    out.push_str("@batch=");
    out.push_str(reference);
    out.push_str(";time=");
    stamps.push(out, l.time_ms);
    if style.msgid {
        out.push_str(";msgid=");
        push_escaped(out, &l.msgid);
    }
    if style.account && matches!(l.kind, Kind::Staff | Kind::Note) {
        out.push_str(";account=");
        push_escaped(out, &l.sender);
    }
    out.push_str(" :");
    out.push_str(&l.source);
    out.push(' ');
    out.push_str(&l.command);
    out.push(' ');
    if l.kind == Kind::Note {
        out.push('@');
    }
    out.push_str(channel);
    out.push_str(" :");
    out.push_str(&l.text);
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
/// A replay this long leaves memory worth giving back.
const GIVE_BACK_AFTER: usize = 1_000;

impl Replay {
    /// Runs on a blocking thread; ends early if the client goes.
    pub fn spawn(self) {
        tokio::task::spawn_blocking(move || {
            match self.run() {
                // What a long replay read and formatted is free again.
                Ok(lines) if lines >= GIVE_BACK_AFTER => crate::malloc_tuning::give_back_freed_memory(),
                Ok(_) => {}
                Err(e) => tracing::warn!("replay stopped: {e}"),
            }
        });
    }

    /// Returns how many stored lines it sent.
    fn run(self) -> anyhow::Result<usize> {
        let mut sent = 0;
        // Its own connection: it moves the device's positions as it goes.
        let mut store = Store::open(&self.store)?;
        let mut out = Out {
            tx: &self.tx,
            buf: String::with_capacity(OUT_CHUNK + 1024),
            stamps: Stamps::default(),
        };
        for (n, job) in self.jobs.iter().enumerate() {
            let cap = self.cap.max(1);
            // Too much missed: the newest `cap`, and a word about the rest.
            let mut after = job.after;
            if job.count as usize > cap {
                let older = job.count as usize - cap;
                out.line(format!(
                    ":{} NOTICE {} :{older} older missed line(s) not replayed here: /msg *msn history {} {} (or your client's history)",
                    self.server, job.channel, job.channel, job.count
                ))?;
                if let Some(first) = store.nth_newest(job.conversation, self.upto, cap)? {
                    after = first - 1;
                }
            }
            let reference = format!("r{n}");
            if self.style.batched {
                out.line(format!(
                    ":{} BATCH +{reference} chathistory {}",
                    self.server, job.channel
                ))?;
            }
            let mut last = None;
            loop {
                let mut lines = store.lines_after(job.conversation, after, CHUNK)?;
                let complete = lines.len() < CHUNK || lines.last().is_some_and(|l| l.id >= self.upto);
                lines.retain(|l| l.id <= self.upto);
                sent += lines.len();
                for l in &lines {
                    out.start_line();
                    let line = (l, job.channel.as_str());
                    format_line_into(&mut out.buf, &mut out.stamps, line, self.style, Some(&reference));
                    out.end_line()?;
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
                out.line(format!(":{} BATCH -{reference}", self.server))?;
            }
            out.flush()?;
            if let Some(last) = last {
                store.set_position(&self.user, &self.device, job.conversation, last)?;
            }
        }
        Ok(sent)
    }
}

/// Replayed lines go to the writer many at a time (one queue entry holds
/// lines joined by CRLF; the writer ends it with one more): one hand-over
/// per 32 KiB instead of one per line.
struct Out<'a> {
    tx: &'a mpsc::Sender<OutLine>,
    buf: String,
    stamps: Stamps,
}

const OUT_CHUNK: usize = 32 * 1024;

impl Out<'_> {
    fn line(&mut self, line: String) -> anyhow::Result<()> {
        self.start_line();
        self.buf.push_str(&line);
        self.end_line()
    }

    /// Before writing a line straight into `buf`.
    fn start_line(&mut self) {
        if !self.buf.is_empty() {
            self.buf.push_str("\r\n");
        }
    }

    fn end_line(&mut self) -> anyhow::Result<()> {
        if self.buf.len() >= OUT_CHUNK {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk: OutLine = std::mem::take(&mut self.buf).into();
        self.tx
            .blocking_send(chunk)
            .map_err(|_| anyhow::anyhow!("the client left"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(kind: Kind) -> Line {
        Line {
            id: 7,
            conversation: 1,
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
    fn cached_stamps_match_server_time() {
        let mut stamps = Stamps::default();
        for ms in [
            0i64,
            86_399_999,
            86_400_000,
            1_795_310_096_789,
            1_795_310_096_790,
            951_782_400_000,
        ] {
            let mut out = String::new();
            stamps.push(&mut out, ms);
            assert_eq!(out, timestamp_ms(ms), "{ms}");
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
            format_line(&line(Kind::Staff), "#bob", all, Some("r0")),
            "@batch=r0;time=2026-11-22T01:14:56.789Z;msgid=m\\:7;account=alice :alice!alice@msnbnc PRIVMSG #bob :hi there"
        );
        assert_eq!(
            format_line(&line(Kind::Note), "#bob", all, Some("r0")),
            "@batch=r0;time=2026-11-22T01:14:56.789Z;msgid=m\\:7;account=alice :alice!alice@msnbnc PRIVMSG @#bob :hi there"
        );
        let plain = Style {
            batched: false,
            msgid: true,
            account: false,
        };
        assert_eq!(
            format_line(&line(Kind::Customer), "#bob", plain, Some("r0")),
            ":alice!alice@msnbnc PRIVMSG #bob :[01:14] hi there"
        );
    }
}
