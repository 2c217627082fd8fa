//! Conversation history: every line shown in a conversation channel, in
//! order, with its time and msgid; how far each device has seen each
//! conversation; each user's read markers; and the queries behind replay
//! and `CHATHISTORY`.
//!
//! Writes are grouped: the hub opens a transaction ([`Store::begin`]),
//! records a batch of lines, commits, and only then shows them.

use rusqlite::{params, OptionalExtension, Row};

use super::{now_ms, Store, StoreError};

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
    fn as_str(self) -> &'static str {
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

/// A line to record.
#[derive(Debug, Clone)]
pub struct NewLine<'a> {
    pub time_ms: i64,
    pub msgid: &'a str,
    pub kind: Kind,
    /// The customer's handle or the staff member's user name ('' for the server).
    pub sender: &'a str,
    /// The IRC source it is shown with (`bob!bob@example.com`).
    pub source: &'a str,
    /// `PRIVMSG` or `NOTICE`.
    pub command: &'a str,
    /// The text as shown on IRC (formatting codes included). A note is
    /// stored with the `@` target: [`Line::target`] gives it back.
    pub text: &'a str,
    /// The text without formatting, for search.
    pub plain: &'a str,
}

/// A recorded line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub id: i64,
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

/// A conversation with lines a device has not seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unseen {
    pub conversation: i64,
    pub channel: String,
    /// The device's position: lines after this one are new to it.
    pub after: i64,
    pub count: i64,
}

const COLUMNS: &str = "m.id, c.channel, m.time_ms, m.msgid, m.kind, m.sender, m.source, m.command, m.text";

fn line(r: &Row<'_>) -> rusqlite::Result<(Line, String)> {
    let kind: String = r.get(4)?;
    Ok((
        Line {
            id: r.get(0)?,
            channel: r.get(1)?,
            time_ms: r.get(2)?,
            msgid: r.get(3)?,
            kind: Kind::Customer,
            sender: r.get(5)?,
            source: r.get(6)?,
            command: r.get(7)?,
            text: r.get(8)?,
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
    /// Opens a write transaction for a batch of lines.
    pub fn begin(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    pub fn commit(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// Abandons a batch (after a failed write).
    pub fn rollback(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }

    /// The conversation shown as `channel`, created on first use.
    pub fn conversation(&mut self, channel: &str) -> Result<i64, StoreError> {
        if let Some(id) = self.find_conversation(channel)? {
            return Ok(id);
        }
        self.conn.execute(
            "INSERT INTO conversations (channel, created_ms) VALUES (?1, ?2)",
            params![channel, now_ms()],
        )?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn find_conversation(&self, channel: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT id FROM conversations WHERE channel = ?1",
                params![channel],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Records a line; returns its row (its place in the conversation).
    pub fn record(&mut self, conversation: i64, l: &NewLine<'_>) -> Result<i64, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO messages (conversation, time_ms, msgid, kind, sender, source, command, text)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        stmt.execute(params![
            conversation,
            l.time_ms,
            l.msgid,
            l.kind.as_str(),
            l.sender,
            l.source,
            l.command,
            l.text
        ])?;
        let id = self.conn.last_insert_rowid();
        self.conn
            .prepare_cached("INSERT INTO messages_fts (rowid, text) VALUES (?1, ?2)")?
            .execute(params![id, l.plain])?;
        Ok(id)
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

    /// Where `user`'s `device` ('' for logins without one) has seen up to
    /// in each conversation.
    pub fn positions(&self, user: &str, device: &str) -> Result<Vec<(i64, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT conversation, message FROM positions WHERE user = ?1 AND device = ?2")?;
        let rows = stmt.query_map(params![user, device], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Moves a device's position forward (never back).
    pub fn set_position(
        &mut self,
        user: &str,
        device: &str,
        conversation: i64,
        message: i64,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO positions (user, device, conversation, message) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (user, device, conversation) DO UPDATE SET message = MAX(message, excluded.message)",
        )?;
        stmt.execute(params![user, device, conversation, message])?;
        Ok(())
    }

    /// Conversations with lines this device has not seen: after its
    /// position in each, or from the start for conversations begun since
    /// the device was first seen. A device attaching for the first time
    /// (`fresh`) starts where the user's furthest device is, so it replays
    /// only what the user missed.
    pub fn unseen(&self, user: &str, device: &str, fresh: bool) -> Result<Vec<Unseen>, StoreError> {
        let positions: std::collections::HashMap<i64, i64> = if fresh {
            let mut stmt = self.conn.prepare_cached(
                "SELECT conversation, MAX(message) FROM positions WHERE user = ?1 GROUP BY conversation",
            )?;
            let rows = stmt.query_map(params![user], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        } else {
            self.positions(user, device)?.into_iter().collect()
        };
        // Conversations begun after this are new to the device.
        let since: i64 = self.conn.query_row(
            "SELECT COALESCE(MIN(first_ms), 0) FROM devices WHERE user = ?1 AND (?3 OR device = ?2)",
            params![user, device, fresh],
            |r| r.get(0),
        )?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id, c.channel, c.created_ms, MAX(m.id) FROM conversations c
             JOIN messages m ON m.conversation = c.id GROUP BY c.id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut count = self
            .conn
            .prepare_cached("SELECT COUNT(*), MIN(id) FROM messages WHERE conversation = ?1 AND id > ?2")?;
        let mut out = Vec::new();
        for row in rows {
            let (conversation, channel, created_ms, last) = row?;
            let after = match positions.get(&conversation) {
                Some(p) => *p,
                None if created_ms >= since => 0,
                None => continue,
            };
            if last > after {
                let (n, first): (i64, i64) =
                    count.query_row(params![conversation, after], |r| Ok((r.get(0)?, r.get(1)?)))?;
                out.push((
                    first,
                    Unseen {
                        conversation,
                        channel,
                        after,
                        count: n,
                    },
                ));
            }
        }
        // Conversations in the order their missed lines began.
        out.sort_by_key(|(first, _)| *first);
        Ok(out.into_iter().map(|(_, u)| u).collect())
    }

    /// Notes a device attaching. A user seen for the first time starts
    /// "now": at the last line of every conversation, so that it replays
    /// nothing from before it existed. Returns whether the user is new.
    /// The second value: whether this device is new.
    pub fn device_attached(&mut self, user: &str, device: &str) -> Result<(bool, bool), StoreError> {
        let known: bool = self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM devices WHERE user = ?1)",
            params![user],
            |r| r.get(0),
        )?;
        let known_device: bool = self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM devices WHERE user = ?1 AND device = ?2)",
            params![user, device],
            |r| r.get(0),
        )?;
        self.conn.execute(
            "INSERT OR IGNORE INTO devices (user, device, first_ms) VALUES (?1, ?2, ?3)",
            params![user, device, now_ms()],
        )?;
        if !known {
            self.conn.execute(
                "INSERT OR IGNORE INTO positions (user, device, conversation, message)
                 SELECT ?1, ?2, conversation, MAX(id) FROM messages GROUP BY conversation",
                params![user, device],
            )?;
        }
        Ok((!known, !known_device))
    }

    /// The customers who wrote in a conversation, most recent first.
    pub fn customers(&self, conversation: i64) -> Result<Vec<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT sender FROM messages WHERE conversation = ?1 AND kind = 'customer'
             GROUP BY sender ORDER BY MAX(id) DESC",
        )?;
        let rows = stmt.query_map(params![conversation], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The newest line of all (0 if none).
    pub fn newest_line(&self) -> Result<i64, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT COALESCE(MAX(id), 0) FROM messages", [], |r| r.get(0))?)
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

    /// Conversations with lines between two times: (channel, newest time),
    /// oldest first, at most `limit`.
    pub fn targets(&self, from_ms: i64, to_ms: i64, limit: usize) -> Result<Vec<(String, i64)>, StoreError> {
        let (lo, hi) = (from_ms.min(to_ms), from_ms.max(to_ms));
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.channel, MAX(m.time_ms) AS last FROM messages m JOIN conversations c ON c.id = m.conversation
             WHERE m.time_ms > ?1 AND m.time_ms < ?2 GROUP BY c.id ORDER BY last LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![lo, hi, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A user's read marker in a conversation (ms), if set.
    pub fn read_marker(&self, user: &str, conversation: i64) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .query_row(
                "SELECT time_ms FROM read_markers WHERE user = ?1 AND conversation = ?2",
                params![user, conversation],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Moves a read marker forward; returns the marker now in force.
    pub fn set_read_marker(
        &mut self,
        user: &str,
        conversation: i64,
        time_ms: i64,
    ) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO read_markers (user, conversation, time_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (user, conversation) DO UPDATE SET time_ms = MAX(time_ms, excluded.time_ms)",
            params![user, conversation, time_ms],
        )?;
        Ok(self.read_marker(user, conversation)?.unwrap_or(time_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("msnbnc.db")).unwrap();
        (dir, store)
    }

    /// Records `texts` in `channel` at times 1000, 2000, …; returns rows.
    fn say(s: &mut Store, channel: &str, texts: &[&str], t0: i64) -> Vec<i64> {
        let c = s.conversation(channel).unwrap();
        s.begin().unwrap();
        let ids = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let msgid = format!("{channel}-{t}");
                s.record(
                    c,
                    &NewLine {
                        time_ms: t0 + 1000 * i as i64,
                        msgid: &msgid,
                        kind: Kind::Customer,
                        sender: "bob@example.com",
                        source: "bob!bob@example.com",
                        command: "PRIVMSG",
                        text: t,
                        plain: t,
                    },
                )
                .unwrap()
            })
            .collect();
        s.commit().unwrap();
        ids
    }

    fn texts(lines: &[Line]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn lines_come_back_in_order_around_any_anchor() {
        let (_d, mut s) = store();
        let ids = say(&mut s, "#bob", &["a", "b", "c", "d", "e"], 1000);
        let c = s.find_conversation("#BOB").unwrap().unwrap();
        assert_eq!(texts(&s.before(c, None, 2).unwrap()), ["d", "e"]);
        assert_eq!(
            texts(&s.before(c, Some(Anchor::Message(ids[2])), 10).unwrap()),
            ["a", "b"]
        );
        assert_eq!(texts(&s.after(c, Anchor::Message(ids[2]), 1).unwrap()), ["d"]);
        assert_eq!(
            texts(&s.after(c, Anchor::Time(2500), 10).unwrap()),
            ["c", "d", "e"]
        );
        assert_eq!(
            texts(&s.latest(c, Some(Anchor::Message(ids[1])), 2).unwrap()),
            ["d", "e"]
        );
        assert_eq!(texts(&s.latest(c, None, 10).unwrap()), ["a", "b", "c", "d", "e"]);
        // Between counts from its first anchor, in either direction.
        assert_eq!(
            texts(
                &s.between(c, Anchor::Message(ids[0]), Anchor::Message(ids[4]), 2)
                    .unwrap()
            ),
            ["b", "c"]
        );
        assert_eq!(
            texts(
                &s.between(c, Anchor::Message(ids[4]), Anchor::Message(ids[0]), 2)
                    .unwrap()
            ),
            ["c", "d"]
        );
        assert_eq!(
            texts(&s.between(c, Anchor::Time(0), Anchor::Time(99_999), 100).unwrap()).len(),
            5
        );
        assert_eq!(s.find_msgid("#bob-c").unwrap(), Some((ids[2], c)));
        assert_eq!(s.find_msgid("nope").unwrap(), None);
        assert_eq!(s.last_line(c).unwrap(), ids[4]);
    }

    #[test]
    fn each_device_replays_what_it_has_not_seen() {
        let (_d, mut s) = store();
        let bob = say(&mut s, "#bob", &["hi", "anyone?"], 1000);
        let c = s.find_conversation("#bob").unwrap().unwrap();
        // A user never seen starts now: nothing to replay.
        assert_eq!(s.device_attached("alice", "laptop").unwrap(), (true, true));
        assert_eq!(s.device_attached("alice", "laptop").unwrap(), (false, false));
        assert!(s.unseen("alice", "laptop", false).unwrap().is_empty());
        assert_eq!(s.positions("alice", "laptop").unwrap(), [(c, bob[1])]);
        let more = say(&mut s, "#bob", &["hello?"], 5000);
        let carol = say(&mut s, "#carol", &["new here"], 6000);
        // Bob's new line, and a conversation opened while alice was away.
        let u = s.unseen("alice", "laptop", false).unwrap();
        assert_eq!(u.len(), 2, "{u:?}");
        assert_eq!(
            (u[0].channel.as_str(), u[0].after, u[0].count),
            ("#bob", bob[1], 1)
        );
        assert_eq!((u[1].channel.as_str(), u[1].after, u[1].count), ("#carol", 0, 1));
        // A first-time device starts where the user's furthest device is.
        let phone = s.unseen("alice", "phone", true).unwrap();
        assert!(
            phone.iter().any(|u| u.channel == "#bob" && u.after == bob[1]),
            "{phone:?}"
        );
        // Positions only move forward.
        s.set_position("alice", "laptop", c, more[0]).unwrap();
        s.set_position("alice", "laptop", c, bob[0]).unwrap();
        let carol_c = s.find_conversation("#carol").unwrap().unwrap();
        s.set_position("alice", "laptop", carol_c, carol[0]).unwrap();
        assert!(s.unseen("alice", "laptop", false).unwrap().is_empty());
        assert_eq!(
            texts(&s.lines_after(c, bob[0], 10).unwrap()),
            ["anyone?", "hello?"]
        );
    }

    #[test]
    fn search_finds_words_newest_first_and_takes_any_text() {
        let (_d, mut s) = store();
        say(&mut s, "#bob", &["my order 1234 is late", "thanks"], 1000);
        say(&mut s, "#carol", &["where is my ORDER?"], 5000);
        assert_eq!(
            texts(&s.search("order", 10).unwrap()),
            ["where is my ORDER?", "my order 1234 is late"]
        );
        assert_eq!(
            texts(&s.search("late order", 10).unwrap()),
            ["my order 1234 is late"]
        );
        assert!(s.search("nothing-like-it", 10).unwrap().is_empty());
        // FTS syntax in the words is not an error.
        assert!(s.search("\"order\" OR NEAR( * ^", 10).is_ok());
        assert!(s.search("   ", 10).unwrap().is_empty());
    }

    #[test]
    fn targets_and_read_markers() {
        let (_d, mut s) = store();
        say(&mut s, "#bob", &["a"], 1000);
        say(&mut s, "#carol", &["b"], 3000);
        assert_eq!(
            s.targets(0, 10_000, 10).unwrap(),
            [("#bob".to_owned(), 1000), ("#carol".to_owned(), 3000)]
        );
        assert_eq!(
            s.targets(2000, 10_000, 10).unwrap(),
            [("#carol".to_owned(), 3000)]
        );
        let c = s.find_conversation("#bob").unwrap().unwrap();
        assert_eq!(s.read_marker("alice", c).unwrap(), None);
        assert_eq!(s.set_read_marker("alice", c, 5000).unwrap(), 5000);
        assert_eq!(
            s.set_read_marker("alice", c, 4000).unwrap(),
            5000,
            "never backwards"
        );
    }
}
