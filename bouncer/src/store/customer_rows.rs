//! What the team knows about a customer (by MSN address): notes, each
//! dated and signed, and tags; and what history says of them — first
//! contact, how many conversations, the last one and who answered in it.

use rusqlite::{params, OptionalExtension};

use super::{now_ms, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerNote {
    pub author: String,
    pub time_ms: i64,
    pub text: String,
}

/// A customer's card, as the store has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CardRecord {
    pub first_contact_ms: Option<i64>,
    pub conversations: i64,
    /// The last conversation's last line (ms), and who answered in it.
    pub last_ms: Option<i64>,
    pub last_answered_by: Vec<String>,
    pub tags: Vec<String>,
    pub notes: Vec<CustomerNote>,
}

/// Conversations with this customer, alone or in a group (`customers` is
/// sorted, space-separated).
/// (`instr`, not LIKE: `_` may be part of an address.)
const WITH_CUSTOMER: &str = "(customers = ?1 OR instr(' ' || customers || ' ', ' ' || ?1 || ' ') > 0)";

impl Store {
    pub fn add_customer_note(&mut self, handle: &str, author: &str, text: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO customer_notes (handle, author, time_ms, text) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![handle.to_ascii_lowercase(), author, now_ms(), text])?;
        Ok(())
    }

    /// Tags a customer; whether the tag is new.
    pub fn add_customer_tag(&mut self, handle: &str, tag: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("INSERT OR IGNORE INTO customer_tags (handle, tag) VALUES (?1, ?2)")?
            .execute(params![handle.to_ascii_lowercase(), tag])?;
        Ok(n > 0)
    }

    /// Removes a tag; whether it was there.
    pub fn remove_customer_tag(&mut self, handle: &str, tag: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM customer_tags WHERE handle = ?1 AND tag = ?2")?
            .execute(params![handle.to_ascii_lowercase(), tag])?;
        Ok(n > 0)
    }

    /// Every customer's notes, oldest first: (handle, note).
    pub fn all_customer_notes(&self) -> Result<Vec<(String, CustomerNote)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT handle, author, time_ms, text FROM customer_notes ORDER BY id")?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                CustomerNote {
                    author: r.get(1)?,
                    time_ms: r.get(2)?,
                    text: r.get(3)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every customer's tags: (handle, tag).
    pub fn all_customer_tags(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT handle, tag FROM customer_tags ORDER BY handle, tag")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every conversation with this customer (alone or in a group), oldest
    /// first.
    pub fn conversations_with(&self, handle: &str) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT id FROM conversations WHERE {WITH_CUSTOMER} ORDER BY id"
        ))?;
        let rows = stmt.query_map(params![handle.to_ascii_lowercase()], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Everything the card shows that the store knows.
    pub fn card(&self, handle: &str) -> Result<CardRecord, StoreError> {
        let handle = handle.to_ascii_lowercase();
        let (first, count, last): (Option<i64>, i64, Option<i64>) = self.conn.query_row(
            &format!(
                "SELECT MIN(created_ms), COUNT(*), MAX(NULLIF(last_ms, 0)) FROM conversations WHERE {WITH_CUSTOMER}"
            ),
            params![handle],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let last_conversation: Option<i64> = self
            .conn
            .query_row(
                &format!("SELECT id FROM conversations WHERE {WITH_CUSTOMER} ORDER BY last_ms DESC, id DESC LIMIT 1"),
                params![handle],
                |r| r.get(0),
            )
            .optional()?;
        let mut answered = Vec::new();
        if let Some(c) = last_conversation {
            let mut stmt = self.conn.prepare_cached(
                "SELECT sender FROM messages WHERE conversation = ?1 AND kind = 'staff'
                 GROUP BY sender ORDER BY MIN(id)",
            )?;
            for who in stmt.query_map(params![c], |r| r.get::<_, String>(0))? {
                answered.push(who?);
            }
        }
        let mut tags = Vec::new();
        let mut stmt = self
            .conn
            .prepare_cached("SELECT tag FROM customer_tags WHERE handle = ?1 ORDER BY tag")?;
        for tag in stmt.query_map(params![handle], |r| r.get::<_, String>(0))? {
            tags.push(tag?);
        }
        let mut notes = Vec::new();
        let mut stmt = self.conn.prepare_cached(
            "SELECT author, time_ms, text FROM customer_notes WHERE handle = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![handle], |r| {
            Ok(CustomerNote {
                author: r.get(0)?,
                time_ms: r.get(1)?,
                text: r.get(2)?,
            })
        })?;
        for note in rows {
            notes.push(note?);
        }
        Ok(CardRecord {
            first_contact_ms: first,
            conversations: count,
            last_ms: last,
            last_answered_by: answered,
            tags,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::batch::Batch;
    use crate::store::lines::{ConversationRow, Kind, LineRow};

    fn line(id: i64, conversation: i64, kind: Kind, sender: &str) -> LineRow {
        LineRow {
            id,
            conversation,
            time_ms: 1_000 * id,
            msgid: format!("m{id}"),
            kind,
            sender: sender.into(),
            source: sender.into(),
            command: "PRIVMSG",
            text: "x".into(),
            plain: "x".into(),
        }
    }

    #[test]
    fn a_card_counts_conversations_alone_and_in_groups_and_names_who_answered_last() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.db")).unwrap();
        let conversation = |id: i64, customers: &[&str]| ConversationRow {
            id,
            channel: format!("#c{id}"),
            customers: customers.iter().map(|c| (*c).to_owned()).collect(),
            created_ms: 100 * id,
        };
        let batch = Batch {
            conversations: vec![
                conversation(1, &["bob@example.com"]),
                conversation(2, &["bob@example.com", "carol@example.com"]),
                conversation(3, &["carol@example.com"]),
            ],
            lines: vec![
                line(1, 1, Kind::Customer, "bob@example.com"),
                line(2, 1, Kind::Staff, "zoe"),
                line(3, 2, Kind::Customer, "bob@example.com"),
                line(4, 2, Kind::Staff, "alice"),
                line(5, 2, Kind::Staff, "zoe"),
                line(6, 2, Kind::Staff, "alice"),
            ],
            ..Batch::default()
        };
        s.apply_now(&batch).unwrap();
        s.add_customer_note("Bob@Example.com", "alice", "prefers email")
            .unwrap();
        assert!(s.add_customer_tag("bob@example.com", "vip").unwrap());
        assert!(!s.add_customer_tag("bob@example.com", "VIP").unwrap());
        let card = s.card("bob@example.com").unwrap();
        assert_eq!((card.first_contact_ms, card.conversations), (Some(100), 2));
        assert_eq!(card.last_ms, Some(6_000));
        assert_eq!(card.last_answered_by, ["alice", "zoe"]);
        assert_eq!(card.tags, ["vip"]);
        assert_eq!(
            (card.notes[0].author.as_str(), card.notes[0].text.as_str()),
            ("alice", "prefers email")
        );
        assert!(s.remove_customer_tag("bob@example.com", "vip").unwrap());
        let nobody = s.card("nobody@example.com").unwrap();
        assert_eq!((nobody.conversations, nobody.first_contact_ms), (0, None));
    }
}
