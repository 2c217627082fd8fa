//! What `*msn stats` is computed from: each conversation that started in
//! a period (when its customer first wrote, when staff first answered and
//! who, how it stands, how many lines), and each staff member's lines in
//! the period.

use rusqlite::params;

use super::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationFacts {
    pub id: i64,
    /// The customer's first line (ms), if they wrote.
    pub first_customer_ms: Option<i64>,
    /// The first staff line at or after it, and who wrote it.
    pub first_answer: Option<(i64, String)>,
    pub resolved_ms: Option<i64>,
    pub resolved_by: Option<String>,
    pub customer_lines: i64,
    pub staff_lines: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffFacts {
    pub nick: String,
    pub lines: i64,
    pub conversations: i64,
}

impl Store {
    /// Conversations created in `[from_ms, to_ms)`.
    pub fn conversation_facts(&self, from_ms: i64, to_ms: i64) -> Result<Vec<ConversationFacts>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.id, c.state, c.state_ms, c.resolved_by,
                (SELECT MIN(time_ms) FROM messages m WHERE m.conversation = c.id AND m.kind = 'customer') AS asked,
                (SELECT COUNT(*) FROM messages m WHERE m.conversation = c.id AND m.kind = 'customer'),
                (SELECT COUNT(*) FROM messages m WHERE m.conversation = c.id AND m.kind = 'staff')
             FROM conversations c WHERE c.created_ms >= ?1 AND c.created_ms < ?2 ORDER BY c.id",
        )?;
        let rows = stmt.query_map(params![from_ms, to_ms], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, i64>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?;
        let mut answer = self.conn.prepare_cached(
            "SELECT time_ms, sender FROM messages
             WHERE conversation = ?1 AND kind = 'staff' AND time_ms >= ?2 ORDER BY id LIMIT 1",
        )?;
        let mut out = Vec::new();
        for row in rows {
            let (id, state, state_ms, resolved_by, asked, customer_lines, staff_lines) = row?;
            let first_answer = match asked {
                Some(at) => {
                    let mut found = answer.query(params![id, at])?;
                    match found.next()? {
                        Some(r) => Some((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
                        None => None,
                    }
                }
                None => None,
            };
            out.push(ConversationFacts {
                id,
                first_customer_ms: asked,
                first_answer,
                resolved_ms: (state == "resolved" && state_ms > 0).then_some(state_ms),
                resolved_by: resolved_by.filter(|_| state == "resolved"),
                customer_lines,
                staff_lines,
            });
        }
        Ok(out)
    }

    /// Each staff member's lines (and conversations written in) in
    /// `[from_ms, to_ms)`, most lines first.
    pub fn staff_facts(&self, from_ms: i64, to_ms: i64) -> Result<Vec<StaffFacts>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT sender, COUNT(*), COUNT(DISTINCT conversation) FROM messages
             WHERE kind = 'staff' AND time_ms >= ?1 AND time_ms < ?2
             GROUP BY sender ORDER BY COUNT(*) DESC, sender",
        )?;
        let rows = stmt.query_map(params![from_ms, to_ms], |r| {
            Ok(StaffFacts {
                nick: r.get(0)?,
                lines: r.get(1)?,
                conversations: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
