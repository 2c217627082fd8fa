//! The desk's view of each conversation, kept beside it: its state
//! (`new` until staff answer, `open`, `waiting` for the customer,
//! `resolved`), since when its customer waits for an answer, and who
//! claimed it. What is not resolved is read back at start, so a restart
//! forgets no one waiting.

use rusqlite::params;

use super::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DeskState {
    /// The customer wrote; no staff answer yet.
    New,
    /// Answered.
    Open,
    /// Staff asked the customer something and wait for the answer.
    Waiting,
    /// Closed by staff (until the customer writes again).
    Resolved,
}

impl DeskState {
    pub fn parse(s: &str) -> Option<DeskState> {
        Some(match s {
            "new" => DeskState::New,
            "open" => DeskState::Open,
            "waiting" => DeskState::Waiting,
            "resolved" => DeskState::Resolved,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DeskState::New => "new",
            DeskState::Open => "open",
            DeskState::Waiting => "waiting",
            DeskState::Resolved => "resolved",
        }
    }
}

/// A conversation's desk fields, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskRow {
    pub conversation: i64,
    pub state: DeskState,
    /// The customer's oldest unanswered line (ms), while there is one.
    pub waiting_since_ms: Option<i64>,
    pub claim: Option<String>,
    /// When the state last changed (ms).
    pub state_ms: i64,
    /// Who resolved it, while it is resolved.
    pub resolved_by: Option<String>,
}

/// A conversation that is not resolved, with what its record needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    pub desk: DeskRow,
    pub channel: String,
    pub customers: Vec<String>,
    pub created_ms: i64,
}

impl Store {
    /// Sets a conversation's desk fields (it exists: created in this batch
    /// or before).
    pub fn put_desk(&mut self, d: &DeskRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE conversations SET state = ?2, waiting_since_ms = ?3, claim = ?4, state_ms = ?5,
                     resolved_by = ?6
                 WHERE id = ?1",
            )?
            .execute(params![
                d.conversation,
                d.state.as_str(),
                d.waiting_since_ms,
                d.claim,
                d.state_ms,
                d.resolved_by
            ])?;
        Ok(())
    }

    /// Every conversation that is not resolved, oldest first.
    pub fn unresolved(&self) -> Result<Vec<Unresolved>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, channel, customers, created_ms, state, waiting_since_ms, claim, state_ms
             FROM conversations WHERE state != 'resolved' ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, i64>(7)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, channel, customers, created_ms, state, waiting_since_ms, claim, state_ms) = row?;
            // The schema's CHECK keeps out anything else.
            let state = DeskState::parse(&state).unwrap_or(DeskState::Open);
            out.push(Unresolved {
                desk: DeskRow {
                    conversation: id,
                    state,
                    waiting_since_ms,
                    claim,
                    state_ms,
                    resolved_by: None,
                },
                channel,
                customers: customers.split_whitespace().map(str::to_owned).collect(),
                created_ms,
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::lines::ConversationRow;

    #[test]
    fn desk_fields_are_kept_and_only_what_is_not_resolved_is_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("s.db")).unwrap();
        for (id, channel) in [(1, "#bob"), (2, "#carol")] {
            s.put_conversation(&ConversationRow {
                id,
                channel: channel.into(),
                customers: vec![format!("{}@example.com", &channel[1..])],
                created_ms: 10,
            })
            .unwrap();
        }
        assert!(
            s.unresolved().unwrap().is_empty(),
            "a conversation starts resolved until the hub says"
        );
        let waiting = DeskRow {
            conversation: 1,
            state: DeskState::New,
            waiting_since_ms: Some(1_000),
            claim: Some("alice".into()),
            state_ms: 1_000,
            resolved_by: None,
        };
        s.put_desk(&waiting).unwrap();
        s.put_desk(&DeskRow {
            conversation: 2,
            state: DeskState::Resolved,
            waiting_since_ms: None,
            claim: None,
            state_ms: 2_000,
            resolved_by: Some("zoe".into()),
        })
        .unwrap();
        let open = s.unresolved().unwrap();
        assert_eq!(open.len(), 1);
        assert_eq!(open[0].desk, waiting);
        assert_eq!(
            (open[0].channel.as_str(), open[0].customers.as_slice()),
            ("#bob", &["bob@example.com".to_owned()][..])
        );
    }
}
