//! Stored lines as a client sees them, and the replay of what a device
//! missed. A replay can be far longer than a client's queue (100,000
//! lines after a long weekend), so it runs on a blocking thread with its
//! own read connection to the store, reading a chunk at a time and waiting
//! for the client's writer to take each line: memory stays flat and the
//! hub never stalls.

use std::path::PathBuf;
use tokio::sync::mpsc;

use super::cap::{Cap, Caps};
use super::conn::{ClientEvent, ClientId, OutLine};
use super::local_time::{action, LocalTime};
use super::tags::{push_escaped, timestamp_ms};
use crate::store::lines::{Kind, Line};
use crate::store::Store;

/// How a client wants history lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    /// In a `chathistory` batch (batch + server-time).
    pub batched: bool,
    /// With `time=` (server-time); without it, the time is in the text.
    pub time: bool,
    pub msgid: bool,
    pub account: bool,
}

impl Style {
    pub fn of(caps: Caps) -> Style {
        Style {
            batched: caps.has(Cap::Batch) && caps.has(Cap::ServerTime),
            time: caps.has(Cap::ServerTime),
            msgid: caps.has(Cap::MessageTags),
            account: caps.has(Cap::AccountTag),
        }
    }
}

/// One stored line of `channel` (its name now); `batch` is the reference
/// it belongs to, if batched.
#[cfg(test)]
pub fn format_line(l: &Line, channel: &str, style: Style, batch: Option<&str>, local: &LocalTime) -> String {
    let mut out = String::with_capacity(l.text.len() + 128);
    let mut stamps = Stamps::new(local.clone());
    format_line_into(&mut out, &mut stamps, (l, channel), style, batch);
    out
}

/// `server-time` stamps for many lines: the date part is made once a day.
/// And the desk's zone, for clients that get the time in the text.
pub struct Stamps {
    day: Option<i64>,
    date: String,
    local: LocalTime,
}

impl Stamps {
    pub fn new(local: LocalTime) -> Stamps {
        Stamps {
            day: None,
            date: String::new(),
            local,
        }
    }

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

/// The tags a stored line carries for this client, then the space before
/// the source (nothing at all when it gets no tags).
fn push_tags(out: &mut String, stamps: &mut Stamps, l: &Line, style: Style, batch: Option<&str>) {
    let mut first = true;
    let mut tag = |out: &mut String, name: &str| {
        out.push(if std::mem::take(&mut first) { '@' } else { ';' });
        out.push_str(name);
        out.push('=');
    };
    if let Some(reference) = batch.filter(|_| style.batched) {
        tag(out, "batch");
        out.push_str(reference);
    }
    if style.time {
        tag(out, "time");
        stamps.push(out, l.time_ms);
    }
    if style.msgid {
        tag(out, "msgid");
        push_escaped(out, &l.msgid);
    }
    if style.account && matches!(l.kind, Kind::Staff | Kind::Note) {
        tag(out, "account");
        push_escaped(out, &l.sender);
    }
    if !first {
        out.push(' ');
    }
}

/// [`format_line`] into a buffer, without allocating per line. Without
/// server-time the text starts with the time, `[12:10] `, inside a `/me`
/// (`\x01ACTION [12:10] waves\x01`) so that the client still shows it as one.
pub fn format_line_into(
    out: &mut String,
    stamps: &mut Stamps,
    (l, channel): (&Line, &str),
    style: Style,
    batch: Option<&str>,
) {
    push_tags(out, stamps, l, style, batch);
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
    if style.time {
        out.push_str(&l.text);
        return;
    }
    let clock = stamps.local.clock(l.time_ms);
    match action(&l.text) {
        Some(rest) => {
            out.push_str("\x01ACTION [");
            out.push_str(&clock);
            out.push_str("] ");
            out.push_str(rest);
            out.push('\x01');
        }
        None => {
            out.push('[');
            out.push_str(&clock);
            out.push_str("] ");
            out.push_str(&l.text);
        }
    }
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
    /// The zone of the time in the text, for clients without server-time.
    pub local: LocalTime,
    /// Lines per conversation at most (the newest).
    pub cap: usize,
    /// The newest line when the client attached: later ones reach it live.
    pub upto: i64,
    pub jobs: Vec<Job>,
    pub tx: mpsc::Sender<OutLine>,
    /// Who is told when it ends, and how: the hub, about `client`.
    pub client: ClientId,
    pub done: mpsc::Sender<ClientEvent>,
}

/// Lines read from the store at a time.
const CHUNK: usize = 2_000;
/// A replay this long leaves memory worth giving back.
const GIVE_BACK_AFTER: usize = 1_000;

impl Replay {
    /// Runs on a blocking thread; ends early if the client goes.
    pub fn spawn(self) {
        tokio::task::spawn_blocking(move || {
            let (client, done, tx) = (self.client, self.done.clone(), self.tx.clone());
            let outcome = match self.run() {
                Ok(lines) => {
                    // What a long replay read and formatted is free again.
                    if lines >= GIVE_BACK_AFTER {
                        crate::malloc_tuning::give_back_freed_memory();
                    }
                    Ok(())
                }
                // The client left: nobody to tell.
                Err(_) if tx.is_closed() => return,
                Err(e) => {
                    tracing::warn!(client, "replay failed: {e:#}");
                    Err(format!("{e:#}"))
                }
            };
            let _ = done.blocking_send(ClientEvent::Replayed(client, outcome));
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
            stamps: Stamps::new(self.local.clone()),
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
        let mut stamps = Stamps::new(LocalTime::default());
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

    fn utc() -> LocalTime {
        LocalTime::named("UTC").unwrap()
    }

    fn style(batched: bool, time: bool, msgid: bool, account: bool) -> Style {
        Style {
            batched,
            time,
            msgid,
            account,
        }
    }

    #[test]
    fn lines_keep_their_time_msgid_and_account_in_a_batch() {
        let all = style(true, true, true, true);
        assert_eq!(
            format_line(&line(Kind::Staff), "#bob", all, Some("r0"), &utc()),
            "@batch=r0;time=2026-11-22T01:14:56.789Z;msgid=m\\:7;account=alice :alice!alice@msnbnc PRIVMSG #bob :hi there"
        );
        assert_eq!(
            format_line(&line(Kind::Note), "#bob", all, Some("r0"), &utc()),
            "@batch=r0;time=2026-11-22T01:14:56.789Z;msgid=m\\:7;account=alice :alice!alice@msnbnc PRIVMSG @#bob :hi there"
        );
    }

    #[test]
    fn server_time_without_batch_still_gets_the_time_and_msgid_as_tags() {
        // irssi 1.4 and WeeChat 3.8 ask for server-time but not batch.
        let irssi = style(false, true, true, false);
        assert_eq!(
            format_line(&line(Kind::Customer), "#bob", irssi, Some("r0"), &utc()),
            "@time=2026-11-22T01:14:56.789Z;msgid=m\\:7 :alice!alice@msnbnc PRIVMSG #bob :hi there"
        );
    }

    #[test]
    fn without_server_time_the_time_is_in_the_text_and_inside_a_me() {
        let plain = style(false, false, false, false);
        let berlin = LocalTime::named("Europe/Berlin").unwrap();
        assert_eq!(
            format_line(&line(Kind::Customer), "#bob", plain, None, &berlin),
            ":alice!alice@msnbnc PRIVMSG #bob :[02:14] hi there"
        );
        let mut me = line(Kind::Staff);
        me.text = "\x01ACTION waves\x01".into();
        assert_eq!(
            format_line(&me, "#bob", plain, None, &utc()),
            ":alice!alice@msnbnc PRIVMSG #bob :\x01ACTION [01:14] waves\x01"
        );
    }
}
