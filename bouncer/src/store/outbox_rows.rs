//! The outbox: every staff message to a customer is stored (beside its
//! line in history) before the worker gets it, and follows it to MSN:
//! `pending` until the worker writes it to a switchboard, `sent` until
//! acknowledged, then `delivered`, `failed` or `unknown`. Only `pending`
//! messages are ever sent again, so none reaches a customer twice.

use ipc::TextFormat;
use rusqlite::params;

use super::{now_ms, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Sent,
    Delivered,
    Failed,
    Unknown,
}

impl State {
    fn parse(s: &str) -> Option<State> {
        Some(match s {
            "pending" => State::Pending,
            "sent" => State::Sent,
            "delivered" => State::Delivered,
            "failed" => State::Failed,
            "unknown" => State::Unknown,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sent => "sent",
            State::Delivered => "delivered",
            State::Failed => "failed",
            State::Unknown => "unknown",
        }
    }
}

/// A message MSN does not have for sure yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Its line in history.
    pub message: i64,
    pub state: State,
    /// Its conversation, and the channel that was last shown as.
    pub conversation: i64,
    pub channel: String,
    pub handle: String,
    pub body: String,
    pub format: TextFormat,
    pub created_ms: i64,
    /// The line as staff saw it, and who wrote it (for announcements).
    pub text: String,
    pub from: String,
}

const BOLD: i64 = 1;
const ITALIC: i64 = 2;
const UNDERLINE: i64 = 4;
const STRIKE: i64 = 8;

fn effects(f: &TextFormat) -> i64 {
    [
        (f.bold, BOLD),
        (f.italic, ITALIC),
        (f.underline, UNDERLINE),
        (f.strikethrough, STRIKE),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, bit)| bit)
    .sum()
}

fn color(c: Option<[u8; 3]>) -> Option<i64> {
    c.map(|[r, g, b]| (i64::from(r) << 16) | (i64::from(g) << 8) | i64::from(b))
}

impl Store {
    /// Queues a staff message (its line `message` is already recorded).
    pub fn outbox_add(
        &mut self,
        message: i64,
        handle: &str,
        body: &str,
        format: &TextFormat,
        created_ms: i64,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO outbox (message, handle, body, font, effects, color, state, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7, ?7)",
            )?
            .execute(params![
                message,
                handle,
                body,
                format.font,
                effects(format),
                color(format.color),
                created_ms
            ])?;
        Ok(())
    }

    /// Moves a message on. `sent` only from `pending`; the ends (delivered,
    /// failed, unknown) from `pending` or `sent`. Returns whether it moved.
    pub fn outbox_set(&mut self, message: i64, state: State) -> Result<bool, StoreError> {
        let from = match state {
            State::Pending => "('sent')",
            State::Sent => "('pending')",
            _ => "('pending', 'sent')",
        };
        let n = self
            .conn
            .prepare_cached(&format!(
                "UPDATE outbox SET state = ?2, updated_ms = ?3 WHERE message = ?1 AND state IN {from}"
            ))?
            .execute(params![message, state.as_str(), now_ms()])?;
        Ok(n > 0)
    }

    /// Messages MSN does not have for sure (pending or sent), oldest first.
    pub fn outbox_open(&self) -> Result<Vec<Queued>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT o.message, o.state, m.conversation, c.channel, o.handle, o.body, o.font, o.effects,
                    o.color, o.created_ms, m.text, m.sender
             FROM outbox o JOIN messages m ON m.id = o.message JOIN conversations c ON c.id = m.conversation
             WHERE o.state IN ('pending', 'sent') ORDER BY o.message",
        )?;
        let rows = stmt.query_map([], |r| {
            let state: String = r.get(1)?;
            let fx: i64 = r.get(7)?;
            let color: Option<i64> = r.get(8)?;
            Ok(Queued {
                message: r.get(0)?,
                state: State::parse(&state).unwrap_or(State::Unknown),
                conversation: r.get(2)?,
                channel: r.get(3)?,
                handle: r.get(4)?,
                body: r.get(5)?,
                format: TextFormat {
                    font: r.get(6)?,
                    bold: fx & BOLD != 0,
                    italic: fx & ITALIC != 0,
                    underline: fx & UNDERLINE != 0,
                    strikethrough: fx & STRIKE != 0,
                    color: color.map(|c| [(c >> 16) as u8, (c >> 8) as u8, c as u8]),
                },
                created_ms: r.get(9)?,
                text: r.get(10)?,
                from: r.get(11)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::lines::tests::{say, store};

    #[test]
    fn a_message_moves_forward_only_and_keeps_its_format() {
        let (_d, mut s) = store();
        let id = say(&mut s, 1, "#bob", &["\x02hello"], 1)[0];
        let format = TextFormat {
            font: Some("Arial".into()),
            bold: true,
            italic: false,
            underline: true,
            strikethrough: false,
            color: Some([255, 0, 16]),
        };
        s.outbox_add(id, "bob@example.com", "[alice] hello", &format, 7)
            .unwrap();
        let q = s.outbox_open().unwrap();
        assert_eq!(q.len(), 1);
        assert_eq!(
            (
                q[0].state,
                q[0].conversation,
                q[0].channel.as_str(),
                q[0].handle.as_str()
            ),
            (State::Pending, 1, "#bob", "bob@example.com")
        );
        assert_eq!((q[0].body.as_str(), &q[0].format), ("[alice] hello", &format));
        assert_eq!(q[0].text, "\x02hello");
        assert!(s.outbox_set(id, State::Sent).unwrap());
        assert!(!s.outbox_set(id, State::Sent).unwrap(), "already sent");
        assert_eq!(s.outbox_open().unwrap()[0].state, State::Sent);
        assert!(s.outbox_set(id, State::Delivered).unwrap());
        // Finished is final.
        assert!(!s.outbox_set(id, State::Failed).unwrap());
        assert!(!s.outbox_set(id, State::Pending).unwrap());
        assert!(s.outbox_open().unwrap().is_empty());
    }
}
