//! `msnbnc transcript`: one conversation (`#bob`, its latest under that
//! name) or a customer's whole history (`bob@example.com`) from the store,
//! as text, HTML or JSON, with times, who said what, and staff-only lines
//! (notes, server notices) marked — or left out with `--customer-view`,
//! which keeps exactly what the customer saw.

use std::io::Write;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::irc::local_time::LocalTime;
use crate::store::lines::{Kind, Line};
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Html,
    Json,
}

/// What the command was asked.
pub struct Request {
    /// `#channel` or an MSN address.
    pub who: String,
    /// `YYYY-MM-DD`, in the desk's zone.
    pub since: Option<String>,
    pub format: Format,
    pub customer_view: bool,
}

/// One line of a transcript (the JSON format's element).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscriptLine {
    /// UTC, RFC 3339 with milliseconds.
    pub time: String,
    pub conversation: i64,
    pub channel: String,
    /// customer, staff, note or notice.
    pub kind: String,
    /// The customer's address or the staff member's name ("" for msnbnc).
    pub from: String,
    /// Without IRC formatting.
    pub text: String,
}

/// Lines read from the store at a time.
const CHUNK: usize = 5_000;

fn from_date(date: &str, zone: &LocalTime) -> anyhow::Result<i64> {
    let day: jiff::civil::Date = date
        .parse()
        .with_context(|| format!("--since {date:?} is not a date like 2026-12-01"))?;
    let noon = day.to_datetime(jiff::civil::Time::midnight());
    let at = zone
        .to_timestamp(noon)
        .with_context(|| format!("--since {date:?}"))?;
    Ok(at)
}

/// The lines of the transcript, oldest first.
pub fn lines(store: &Store, req: &Request, zone: &LocalTime) -> anyhow::Result<Vec<TranscriptLine>> {
    let conversations = match req.who.strip_prefix('#') {
        Some(_) => store
            .conversation_named(&req.who)?
            .map(|c| c.id)
            .into_iter()
            .collect(),
        None if req.who.contains('@') => store.conversations_with(&req.who)?,
        None => bail!(
            "{:?}: name a conversation channel (#bob) or a customer's MSN address",
            req.who
        ),
    };
    if conversations.is_empty() {
        bail!("no conversation {:?} in the store", req.who);
    }
    let since = req.since.as_deref().map(|d| from_date(d, zone)).transpose()?;
    let mut out = Vec::new();
    for conversation in conversations {
        let mut after = 0;
        loop {
            let page = store.lines_after(conversation, after, CHUNK)?;
            let Some(last) = page.last().map(|l| l.id) else {
                break;
            };
            after = last;
            out.extend(
                page.iter()
                    .filter(|l| since.is_none_or(|s| l.time_ms >= s))
                    .filter(|l| !req.customer_view || seen_by_customer(l))
                    .map(transcript_line),
            );
        }
    }
    Ok(out)
}

/// What reached the customer: their lines and staff messages (a NOTICE
/// from staff goes nowhere but the channel).
fn seen_by_customer(l: &Line) -> bool {
    match l.kind {
        Kind::Customer => true,
        Kind::Staff => l.command == "PRIVMSG",
        Kind::Note | Kind::Notice => false,
    }
}

fn transcript_line(l: &Line) -> TranscriptLine {
    TranscriptLine {
        time: crate::irc::tags::timestamp_ms(l.time_ms),
        conversation: l.conversation,
        channel: l.channel.clone(),
        kind: l.kind.as_str().to_owned(),
        from: l.sender.clone(),
        text: crate::irc::format::from_irc(&l.text).text,
    }
}

fn who(l: &TranscriptLine) -> String {
    match l.kind.as_str() {
        "note" => format!("[staff note] <{}>", l.from),
        "notice" => "--".to_owned(),
        _ => format!("<{}>", l.from),
    }
}

fn local(l: &TranscriptLine, zone: &LocalTime) -> String {
    let ms = crate::irc::tags::parse_timestamp(&l.time).unwrap_or(0);
    zone.date_and_clock(ms)
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Writes the transcript in `format`.
pub fn write(
    out: &mut impl Write,
    lines: &[TranscriptLine],
    format: Format,
    zone: &LocalTime,
) -> anyhow::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, lines)?;
            writeln!(out)?;
        }
        Format::Text => {
            for l in lines {
                writeln!(out, "{} {} {}", local(l, zone), who(l), l.text)?;
            }
        }
        Format::Html => {
            writeln!(
                out,
                "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Transcript</title>\n<style>td{{vertical-align:top;padding:0 .5em}} .note,.notice{{color:#666;font-style:italic}}</style></head><body><table>"
            )?;
            for l in lines {
                writeln!(
                    out,
                    "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
                    html_escape(&l.kind),
                    html_escape(&local(l, zone)),
                    html_escape(&who(l)),
                    html_escape(&l.text)
                )?;
            }
            writeln!(out, "</table></body></html>")?;
        }
    }
    Ok(())
}

/// `msnbnc transcript …`.
pub fn run(config: &Config, req: &Request) -> anyhow::Result<()> {
    let store = Store::open(&config.store.path)?;
    let zone = config.desk.hours.zone.clone();
    let lines = lines(&store, req, &zone)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    write(&mut out, &lines, req.format, &zone)?;
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::batch::Batch;
    use crate::store::lines::{ConversationRow, LineRow};

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.db")).unwrap();
        let line = |id: i64, kind: Kind, sender: &str, command: &'static str, text: &str| LineRow {
            id,
            conversation: 1,
            time_ms: 1_764_000_000_000 + id * 60_000,
            msgid: format!("m{id}"),
            kind,
            sender: sender.into(),
            source: sender.into(),
            command,
            text: text.into(),
            plain: text.into(),
        };
        let batch = Batch {
            conversations: vec![ConversationRow {
                id: 1,
                channel: "#bob".into(),
                customers: vec!["bob@example.com".into()],
                created_ms: 1,
            }],
            lines: vec![
                line(
                    1,
                    Kind::Customer,
                    "bob@example.com",
                    "PRIVMSG",
                    "\x02my <order>\x02 is late",
                ),
                line(2, Kind::Note, "alice", "PRIVMSG", "check the courier"),
                line(3, Kind::Staff, "alice", "PRIVMSG", "Sorry Bob & co, on it"),
                line(4, Kind::Notice, "", "NOTICE", "resolved by alice"),
            ],
            ..Batch::default()
        };
        s.apply_now(&batch).unwrap();
        (dir, s)
    }

    fn request(who: &str, customer_view: bool) -> Request {
        Request {
            who: who.into(),
            since: None,
            format: Format::Json,
            customer_view,
        }
    }

    #[test]
    fn a_json_transcript_round_trips_to_the_stored_lines() {
        let (_dir, s) = store();
        let utc = LocalTime::named("UTC").unwrap();
        let lines = lines(&s, &request("#bob", false), &utc).unwrap();
        let mut out = Vec::new();
        write(&mut out, &lines, Format::Json, &utc).unwrap();
        let back: Vec<TranscriptLine> = serde_json::from_slice(&out).unwrap();
        assert_eq!(back, lines);
        let kinds: Vec<&str> = back.iter().map(|l| l.kind.as_str()).collect();
        assert_eq!(kinds, ["customer", "note", "staff", "notice"]);
        assert_eq!(back[0].text, "my <order> is late", "formatting is left out");
        assert_eq!(back[0].time, "2025-11-24T16:01:00.000Z");
        let by_address = super::lines(&s, &request("BOB@example.com", false), &utc).unwrap();
        assert_eq!(by_address, back);
    }

    #[test]
    fn the_customer_view_keeps_what_the_customer_saw_and_html_is_escaped() {
        let (_dir, s) = store();
        let utc = LocalTime::named("UTC").unwrap();
        let lines = lines(&s, &request("#bob", true), &utc).unwrap();
        let froms: Vec<&str> = lines.iter().map(|l| l.from.as_str()).collect();
        assert_eq!(froms, ["bob@example.com", "alice"]);
        let mut out = Vec::new();
        write(&mut out, &lines, Format::Html, &utc).unwrap();
        let html = String::from_utf8(out).unwrap();
        assert!(
            html.contains("my &lt;order&gt; is late") && html.contains("Sorry Bob &amp; co"),
            "{html}"
        );
        let all = super::lines(&s, &request("#bob", false), &utc).unwrap();
        let mut out = Vec::new();
        write(&mut out, &all, Format::Text, &utc).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.contains("2025-11-24 16:02 [staff note] <alice> check the courier"),
            "{text}"
        );
        assert!(text.contains("2025-11-24 16:04 -- resolved by alice"), "{text}");
    }

    #[test]
    fn since_and_unknown_names_are_handled() {
        let (_dir, s) = store();
        let utc = LocalTime::named("UTC").unwrap();
        let mut req = request("#bob", false);
        req.since = Some("2025-11-25".into());
        assert!(lines(&s, &req, &utc).unwrap().is_empty());
        req.since = Some("yesterday".into());
        assert!(lines(&s, &req, &utc).is_err());
        assert!(lines(&s, &request("#nobody", false), &utc).is_err());
        assert!(lines(&s, &request("bob", false), &utc).is_err());
    }
}
