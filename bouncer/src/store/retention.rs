//! Retention: history older than a limit, or beyond a number of lines per
//! conversation, is deleted — a batch at a time, so the hub never stalls —
//! except staff messages still on their way to MSN. Also the store's size.

use rusqlite::params;

use super::{Store, StoreError};

/// What to keep. `None`: no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Retention {
    pub max_age_ms: Option<i64>,
    pub max_lines: Option<u64>,
}

impl Retention {
    pub fn is_forever(&self) -> bool {
        self.max_age_ms.is_none() && self.max_lines.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    pub bytes: i64,
    pub messages: i64,
    pub conversations: i64,
    pub oldest_ms: Option<i64>,
}

/// Lines the outbox still needs.
const OPEN: &str = "SELECT message FROM outbox WHERE state IN ('pending', 'sent')";

impl Store {
    /// Deletes up to `batch` lines the policy no longer keeps; returns how
    /// many. Call again until it returns less than `batch`.
    pub fn prune(&mut self, policy: &Retention, now_ms: i64, batch: usize) -> Result<usize, StoreError> {
        let mut deleted = 0;
        if let Some(age) = policy.max_age_ms {
            deleted += self.conn.execute(
                &format!(
                    "DELETE FROM messages WHERE id IN (
                         SELECT id FROM messages WHERE time_ms < ?1 AND id NOT IN ({OPEN}) ORDER BY id LIMIT ?2)"
                ),
                params![now_ms.saturating_sub(age), batch as i64],
            )?;
        }
        if let Some(max) = policy.max_lines {
            let over: Vec<(i64, i64)> = {
                let mut stmt = self.conn.prepare(
                    "SELECT conversation, COUNT(*) FROM messages GROUP BY conversation HAVING COUNT(*) > ?1",
                )?;
                let rows = stmt.query_map(params![max as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            for (conversation, _) in over {
                if deleted >= batch {
                    break;
                }
                // The newest line beyond the limit, and everything before it.
                let cutoff: i64 = self.conn.query_row(
                    "SELECT id FROM messages WHERE conversation = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2",
                    params![conversation, max as i64],
                    |r| r.get(0),
                )?;
                deleted += self.conn.execute(
                    &format!(
                        "DELETE FROM messages WHERE id IN (
                             SELECT id FROM messages WHERE conversation = ?1 AND id <= ?2 AND id NOT IN ({OPEN})
                             ORDER BY id LIMIT ?3)"
                    ),
                    params![conversation, cutoff, (batch - deleted) as i64],
                )?;
            }
        }
        Ok(deleted)
    }

    pub fn stats(&self) -> Result<Stats, StoreError> {
        let page_count: i64 = self.conn.pragma_query_value(None, "page_count", |r| r.get(0))?;
        let page_size: i64 = self.conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
        let (messages, oldest_ms): (i64, Option<i64>) =
            self.conn
                .query_row("SELECT COUNT(*), MIN(time_ms) FROM messages", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
        let conversations: i64 =
            self.conn
                .query_row("SELECT COUNT(DISTINCT conversation) FROM messages", [], |r| {
                    r.get(0)
                })?;
        Ok(Stats {
            bytes: page_count * page_size,
            messages,
            conversations,
            oldest_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::lines::tests::{say, store, texts};
    use crate::store::outbox_rows::State;

    fn all(s: &Store, c: i64) -> Vec<String> {
        texts(&s.latest(c, None, 100).unwrap())
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn old_lines_go_and_nothing_else() {
        let (_d, mut s) = store();
        say(&mut s, 1, "#bob", &["old"], 1_000);
        say(&mut s, 1, "#bob", &["older?"], 2_000);
        say(&mut s, 1, "#bob", &["new"], 50_000);
        let keep = say(&mut s, 1, "#bob", &["old but unsent"], 500)[0];
        s.outbox_add(
            keep,
            "bob@example.com",
            "old but unsent",
            &Default::default(),
            500,
        )
        .unwrap();
        let policy = Retention {
            max_age_ms: Some(10_000),
            max_lines: None,
        };
        // In batches: one at a time.
        assert_eq!(s.prune(&policy, 60_000, 1).unwrap(), 1);
        assert_eq!(s.prune(&policy, 60_000, 10).unwrap(), 1);
        assert_eq!(s.prune(&policy, 60_000, 10).unwrap(), 0);
        assert_eq!(
            all(&s, 1),
            ["new", "old but unsent"],
            "unsent staff messages stay"
        );
        // Once MSN has it, it may go too.
        s.outbox_set(keep, State::Delivered).unwrap();
        assert_eq!(s.prune(&policy, 60_000, 10).unwrap(), 1);
        assert_eq!(all(&s, 1), ["new"]);
        assert!(
            s.search("old", 10).unwrap().is_empty(),
            "the search index follows"
        );
    }

    #[test]
    fn each_conversation_keeps_its_newest_lines() {
        let (_d, mut s) = store();
        for i in 0..5 {
            say(&mut s, 1, "#bob", &[&format!("b{i}")], i);
        }
        say(&mut s, 2, "#carol", &["c0"], 0);
        let policy = Retention {
            max_age_ms: None,
            max_lines: Some(2),
        };
        assert_eq!(s.prune(&policy, 0, 100).unwrap(), 3);
        assert_eq!(all(&s, 1), ["b3", "b4"]);
        assert_eq!(all(&s, 2), ["c0"]);
        let stats = s.stats().unwrap();
        assert_eq!(
            (stats.messages, stats.conversations, stats.oldest_ms),
            (3, 2, Some(0))
        );
        assert!(stats.bytes > 0);
        assert!(Retention::default().is_forever());
    }
}
