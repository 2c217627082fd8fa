//! Conversations and their lines: every line shown in a conversation
//! channel, in order, with its time and msgid, and the queries behind
//! `CHATHISTORY`, `*msn history` and `*msn search`.
//!
//! A conversation is a record with a stable id; its channel is only the
//! name it was last shown under. Ids of conversations and lines are given
//! by the hub (see [`Store::high_water`]), so that it can show a line the
//! moment the writer has committed it, without waiting to learn its row.

use rusqlite::{params, OptionalExtension, Row};

use super::{Store, StoreError};

/// What a line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// From a customer.
    Customer,
    /// A staff member to the customer.
    Staff,
    /// A staff-only note (`@#bob`).
    Note,
    /// From the server: delivery failures, outages.
    Notice,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Customer => "customer",
            Kind::Staff => "staff",
            Kind::Note => "note",
            Kind::Notice => "notice",
        }
    }

    fn parse(s: &str) -> Result<Kind, StoreError> {
        Ok(match s {
            "customer" => Kind::Customer,
            "staff" => Kind::Staff,
            "note" => Kind::Note,
            "notice" => Kind::Notice,
            other => return Err(StoreError::Invalid(format!("unknown message kind {other:?}"))),
        })
    }
}

/// A conversation as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRow {
    pub id: i64,
    /// The channel it is shown as (now, or when it was last shown).
    pub channel: String,
    /// Lower-cased handles of its customers, sorted.
    pub customers: Vec<String>,
    pub created_ms: i64,
}

impl ConversationRow {
    /// The customers as stored: sorted, space-separated.
    pub fn customer_key(customers: &[String]) -> String {
        let mut sorted: Vec<&str> = customers.iter().map(String::as_str).collect();
        sorted.sort_unstable();
        sorted.join(" ")
    }

    fn from_row(r: &Row<'_>) -> rusqlite::Result<ConversationRow> {
        let customers: String = r.get(2)?;
        Ok(ConversationRow {
            id: r.get(0)?,
            channel: r.get(1)?,
            customers: customers.split_whitespace().map(str::to_owned).collect(),
            created_ms: r.get(3)?,
        })
    }
}

/// A line to record, with the id the hub gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineRow {
    pub id: i64,
    pub conversation: i64,
    pub time_ms: i64,
    pub msgid: String,
    pub kind: Kind,
    /// The customer's handle or the staff member's user name ('' for the server).
    pub sender: String,
    /// The IRC source it is shown with (`bob!bob@example.com`).
    pub source: String,
    /// `PRIVMSG` or `NOTICE`.
    pub command: &'static str,
    /// The text as shown on IRC (formatting codes included).
    pub text: String,
    /// The text without formatting, for search.
    pub plain: String,
}

/// A recorded line, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub id: i64,
    pub conversation: i64,
    /// The conversation's channel.
    pub channel: String,
    pub time_ms: i64,
    pub msgid: String,
    pub kind: Kind,
    pub sender: String,
    pub source: String,
    pub command: String,
    pub text: String,
}

impl Line {
    /// Where it was sent: notes went to `@#bob`.
    pub fn target(&self) -> String {
        match self.kind {
            Kind::Note => format!("@{}", self.channel),
            _ => self.channel.clone(),
        }
    }
}

/// A point in a conversation: a message (by its row) or a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Anchor {
    Message(i64),
    Time(i64),
}

const COLUMNS: &str =
    "m.id, m.conversation, c.channel, m.time_ms, m.msgid, m.kind, m.sender, m.source, m.command, m.text";

fn line(r: &Row<'_>) -> rusqlite::Result<(Line, String)> {
    let kind: String = r.get(5)?;
    Ok((
        Line {
            id: r.get(0)?,
            conversation: r.get(1)?,
            channel: r.get(2)?,
            time_ms: r.get(3)?,
            msgid: r.get(4)?,
            kind: Kind::Customer,
            sender: r.get(6)?,
            source: r.get(7)?,
            command: r.get(8)?,
            text: r.get(9)?,
        },
        kind,
    ))
}

fn lines(rows: impl Iterator<Item = rusqlite::Result<(Line, String)>>) -> Result<Vec<Line>, StoreError> {
    rows.map(|r| {
        let (mut l, kind) = r?;
        l.kind = Kind::parse(&kind)?;
        Ok(l)
    })
    .collect()
}

/// The SQL condition and value for "before"/"after" an anchor.
fn bound(anchor: Anchor, after: bool) -> (&'static str, i64) {
    match (anchor, after) {
        (Anchor::Message(id), false) => ("m.id < ?", id),
        (Anchor::Message(id), true) => ("m.id > ?", id),
        (Anchor::Time(t), false) => ("m.time_ms < ?", t),
        (Anchor::Time(t), true) => ("m.time_ms > ?", t),
    }
}

impl Store {
    /// The next free line and conversation ids: above every id ever
    /// given, even if retention deleted the lines since (device positions
    /// point at them).
    pub fn high_water(&self) -> Result<(i64, i64), StoreError> {
        Ok(self.conn.query_row(
            "SELECT MAX(COALESCE((SELECT MAX(id) FROM messages), 0),
                        COALESCE((SELECT MAX(last_message) FROM conversations), 0),
                        COALESCE((SELECT MAX(message) FROM positions), 0)) + 1,
                    COALESCE((SELECT MAX(id) FROM conversations), 0) + 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Creates a conversation, or renames it (its channel, its customers).
    pub fn put_conversation(&mut self, c: &ConversationRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO conversations (id, channel, customers, created_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET channel = excluded.channel, customers = excluded.customers",
            )?
            .execute(params![
                c.id,
                c.channel,
                ConversationRow::customer_key(&c.customers),
                c.created_ms
            ])?;
        Ok(())
    }

    /// Records a line (the search index gets it with [`Store::index_lines`]).
    pub fn put_line(&mut self, l: &LineRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO messages (id, conversation, time_ms, msgid, kind, sender, source, command, text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(params![
                l.id,
                l.conversation,
                l.time_ms,
                l.msgid,
                l.kind.as_str(),
                l.sender,
                l.source,
                l.command,
                l.text
            ])?;
        Ok(())
    }

    /// Adds lines — (id, text without formatting) — to the search index,
    /// in one transaction. A line deleted meanwhile is left out.
    pub fn index_lines(&mut self, lines: &[(i64, String)]) -> Result<(), StoreError> {
        // IMMEDIATE: a deferred transaction that reads, then writes after
        // another connection wrote (a replay saving positions) fails at
        // once instead of waiting its turn.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut stored = tx.prepare_cached("SELECT EXISTS(SELECT 1 FROM messages WHERE id = ?1)")?;
            let mut add = tx.prepare_cached("INSERT INTO messages_fts (rowid, text) VALUES (?1, ?2)")?;
            for (id, plain) in lines {
                if stored.query_row(params![id], |r| r.get::<_, bool>(0))? {
                    add.execute(params![id, plain])?;
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Up to `limit` lines stored after the newest one in the search index
    /// (msnbnc stopped before indexing them), oldest first: (id, text as
    /// shown).
    pub fn unindexed_lines(&self, limit: usize) -> Result<Vec<(i64, String)>, StoreError> {
        let newest: i64 = self.conn.query_row(
            "SELECT COALESCE((SELECT rowid FROM messages_fts ORDER BY rowid DESC LIMIT 1), 0)",
            [],
            |r| r.get(0),
        )?;
        let mut stmt = self
            .conn
            .prepare("SELECT id, text FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2")?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![newest, limit], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Notes a conversation's newest line (once per batch, not per line).
    pub fn put_last_line(&mut self, conversation: i64, line: i64, time_ms: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE conversations SET last_message = MAX(last_message, ?2), last_ms = MAX(last_ms, ?3)
                 WHERE id = ?1",
            )?
            .execute(params![conversation, line, time_ms])?;
        Ok(())
    }

    /// A conversation by id.
    pub fn conversation(&self, id: i64) -> Result<Option<ConversationRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, channel, customers, created_ms FROM conversations WHERE id = ?1",
                params![id],
                ConversationRow::from_row,
            )
            .optional()?)
    }

    /// The newest conversation shown as `channel`.
    pub fn conversation_named(&self, channel: &str) -> Result<Option<ConversationRow>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, channel, customers, created_ms FROM conversations
                 WHERE channel = ?1 COLLATE NOCASE ORDER BY id DESC LIMIT 1",
                params![channel],
                ConversationRow::from_row,
            )
            .optional()?)
    }

    /// Lines containing `words` (each word, in any order), newest first.
    pub fn search(&self, words: &str, limit: usize) -> Result<Vec<Line>, StoreError> {
        // Every word quoted: FTS5 operators in the text are just words.
        let query: Vec<String> = words
            .split_whitespace()
            .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
            .collect();
        if query.is_empty() {
            return Ok(Vec::new());
        }
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages_fts f JOIN messages m ON m.id = f.rowid
             JOIN conversations c ON c.id = m.conversation
             WHERE messages_fts MATCH ?1 ORDER BY m.id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![query.join(" "), limit as i64], line)?;
        lines(rows)
    }

    /// Up to `limit` lines of a conversation after row `after`, oldest first.
    pub fn lines_after(&self, conversation: i64, after: i64, limit: usize) -> Result<Vec<Line>, StoreError> {
        self.after(conversation, Anchor::Message(after), limit)
    }

    /// One page of a conversation: up to `limit` lines matching `cond`
    /// (bound to `value`), the oldest or the newest of them, oldest first.
    fn page(
        &self,
        conversation: i64,
        (cond, value): (&str, i64),
        newest: bool,
        limit: usize,
    ) -> Result<Vec<Line>, StoreError> {
        let order = if newest { "DESC" } else { "ASC" };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages m JOIN conversations c ON c.id = m.conversation
             WHERE m.conversation = ? AND {cond} ORDER BY m.id {order} LIMIT ?"
        ))?;
        let rows = stmt.query_map(params![conversation, value, limit as i64], line)?;
        let mut out = lines(rows)?;
        if newest {
            out.reverse();
        }
        Ok(out)
    }

    /// The row of the `n`-th newest line at or before row `upto`.
    pub fn nth_newest(&self, conversation: i64, upto: i64, n: usize) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM messages WHERE conversation = ?1 AND id <= ?2 ORDER BY id DESC LIMIT 1 OFFSET ?3",
                params![conversation, upto, n.saturating_sub(1) as i64],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// The last row of a conversation (0 if it has none).
    pub fn last_line(&self, conversation: i64) -> Result<i64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation = ?1",
            params![conversation],
            |r| r.get(0),
        )?)
    }

    /// The row and conversation of a msgid.
    pub fn find_msgid(&self, msgid: &str) -> Result<Option<(i64, i64)>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id, conversation FROM messages WHERE msgid = ?1",
                params![msgid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?)
    }

    /// The `limit` lines just before `anchor` (or the newest, with `None`),
    /// oldest first.
    pub fn before(
        &self,
        conversation: i64,
        anchor: Option<Anchor>,
        limit: usize,
    ) -> Result<Vec<Line>, StoreError> {
        let cond = anchor.map_or(("1 = ?", 1), |a| bound(a, false));
        self.page(conversation, cond, true, limit)
    }

    /// The `limit` lines just after `anchor`, oldest first.
    pub fn after(&self, conversation: i64, anchor: Anchor, limit: usize) -> Result<Vec<Line>, StoreError> {
        self.page(conversation, bound(anchor, true), false, limit)
    }

    /// The newest `limit` lines after `anchor` (all lines with `None`),
    /// oldest first.
    pub fn latest(
        &self,
        conversation: i64,
        since: Option<Anchor>,
        limit: usize,
    ) -> Result<Vec<Line>, StoreError> {
        let cond = since.map_or(("1 = ?", 1), |a| bound(a, true));
        self.page(conversation, cond, true, limit)
    }

    /// Lines strictly between two anchors, at most `limit`, oldest first:
    /// counted from `from` (so from the end when `from` is the later one).
    pub fn between(
        &self,
        conversation: i64,
        from: Anchor,
        to: Anchor,
        limit: usize,
    ) -> Result<Vec<Line>, StoreError> {
        let forward = match (
            self.anchor_key(conversation, from)?,
            self.anchor_key(conversation, to)?,
        ) {
            (Some(a), Some(b)) => a <= b,
            _ => true,
        };
        let (lo, hi) = if forward { (from, to) } else { (to, from) };
        let (c1, v1) = bound(lo, true);
        let (c2, v2) = bound(hi, false);
        let order = if forward { "ASC" } else { "DESC" };
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM messages m JOIN conversations c ON c.id = m.conversation
             WHERE m.conversation = ? AND {c1} AND {c2} ORDER BY m.id {order} LIMIT ?"
        ))?;
        let rows = stmt.query_map(params![conversation, v1, v2, limit as i64], line)?;
        let mut out = lines(rows)?;
        if !forward {
            out.reverse();
        }
        Ok(out)
    }

    /// About half the lines before the anchor, the anchor itself (a
    /// message), the rest after.
    pub fn around(&self, conversation: i64, at: Anchor, limit: usize) -> Result<Vec<Line>, StoreError> {
        let mut out = self.before(conversation, Some(at), limit / 2)?;
        if let Anchor::Message(row) = at {
            out.extend(
                self.lines_after(conversation, row - 1, 1)?
                    .into_iter()
                    .filter(|l| l.id == row),
            );
        }
        let rest = limit.saturating_sub(out.len());
        if rest > 0 {
            out.extend(self.after(conversation, at, rest)?);
        }
        Ok(out)
    }

    /// An anchor as a comparable (time, row) pair, to order two of them.
    fn anchor_key(&self, conversation: i64, a: Anchor) -> Result<Option<(i64, i64)>, StoreError> {
        Ok(match a {
            Anchor::Time(t) => Some((t, 0)),
            Anchor::Message(id) => self
                .conn
                .query_row(
                    "SELECT time_ms, id FROM messages WHERE id = ?1 AND conversation = ?2",
                    params![id, conversation],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?,
        })
    }

    /// Conversations with lines between two times: (channel, newest time
    /// in that span), oldest first, at most `limit`. Only conversations
    /// active since the start of the span are looked at.
    pub fn targets(&self, from_ms: i64, to_ms: i64, limit: usize) -> Result<Vec<(String, i64)>, StoreError> {
        let (lo, hi) = (from_ms.min(to_ms), from_ms.max(to_ms));
        let mut stmt = self.conn.prepare_cached(
            "SELECT channel, last FROM (
                 SELECT c.channel, (SELECT MAX(m.time_ms) FROM messages m
                                    WHERE m.conversation = c.id AND m.time_ms > ?1 AND m.time_ms < ?2) AS last
                 FROM conversations c WHERE c.last_ms > ?1)
             WHERE last IS NOT NULL ORDER BY last LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![lo, hi, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
#[path = "lines_tests.rs"]
pub(crate) mod tests;
