//! How far each device has seen: its position in each conversation and
//! the line up to which it has seen everything (`seen_through`); what it
//! missed, found by indexed queries whose cost follows what was missed,
//! not the size of the history; and each user's read markers.

use rusqlite::{params, OptionalExtension};

use super::{now_ms, Store, StoreError};

/// A conversation with lines a device has not seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unseen {
    pub conversation: i64,
    pub channel: String,
    /// Lower-cased handles of its customers.
    pub customers: Vec<String>,
    /// The device's position: lines after this one are new to it.
    pub after: i64,
    pub count: i64,
}

/// Where a device stands, for [`Store::unseen`].
struct Standing {
    /// Everything up to this line was seen.
    seen_through: i64,
    /// Conversations begun after this (ms) are new to the device.
    first_ms: i64,
}

impl Store {
    /// Notes a device attaching. A user seen for the first time starts
    /// "now": at the last line of every conversation, so that it replays
    /// nothing from before it existed. Returns whether the user is new,
    /// and whether the device is.
    pub fn device_attached(&mut self, user: &str, device: &str) -> Result<(bool, bool), StoreError> {
        let (known_user, known_device): (bool, bool) = self.conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM devices WHERE user = ?1),
                    EXISTS(SELECT 1 FROM devices WHERE user = ?1 AND device = ?2)",
            params![user, device],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let now_seen = match known_user {
            true => 0,
            false => self.conn.query_row(
                "SELECT COALESCE(MAX(last_message), 0) FROM conversations",
                [],
                |r| r.get(0),
            )?,
        };
        self.conn.execute(
            "INSERT OR IGNORE INTO devices (user, device, first_ms, seen_through) VALUES (?1, ?2, ?3, ?4)",
            params![user, device, now_ms(), now_seen],
        )?;
        if !known_user {
            self.conn.execute(
                "INSERT OR IGNORE INTO positions (user, device, conversation, message)
                 SELECT ?1, ?2, id, last_message FROM conversations WHERE last_message > 0",
                params![user, device],
            )?;
        }
        Ok((!known_user, !known_device))
    }

    fn standing(&self, user: &str, device: &str, fresh: bool) -> Result<Standing, StoreError> {
        let (seen_through, first_ms) = self.conn.query_row(
            "SELECT COALESCE(MAX(seen_through), 0), COALESCE(MIN(first_ms), 0) FROM devices
             WHERE user = ?1 AND (?3 OR device = ?2)",
            params![user, device, fresh],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(Standing {
            seen_through,
            first_ms,
        })
    }

    /// Conversations with lines this device has not seen: after its
    /// position in each, or from the start for conversations begun since
    /// the device was first seen. A device attaching for the first time
    /// (`fresh`) starts where the user's furthest device is, so it replays
    /// only what the user missed. Only conversations that moved since the
    /// device last saw everything are looked at.
    pub fn unseen(&self, user: &str, device: &str, fresh: bool) -> Result<Vec<Unseen>, StoreError> {
        let standing = self.standing(user, device, fresh)?;
        let mut moved = self.conn.prepare_cached(
            "SELECT id, channel, customers, created_ms, last_message FROM conversations
             WHERE last_message > ?1 ORDER BY last_message",
        )?;
        let position_sql = if fresh {
            "SELECT MAX(message) FROM positions WHERE user = ?1 AND conversation = ?3 AND ?2 = ?2"
        } else {
            "SELECT message FROM positions WHERE user = ?1 AND device = ?2 AND conversation = ?3"
        };
        let mut position = self.conn.prepare_cached(position_sql)?;
        let mut count = self
            .conn
            .prepare_cached("SELECT COUNT(*), MIN(id) FROM messages WHERE conversation = ?1 AND id > ?2")?;
        let rows = moved.query_map(params![standing.seen_through], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (conversation, channel, customers, created_ms) = row?;
            let seen: Option<i64> = position
                .query_row(params![user, device, conversation], |r| r.get(0))
                .optional()?
                .flatten();
            let after = match seen {
                Some(p) => p,
                None if created_ms >= standing.first_ms => 0,
                None => continue,
            };
            let (n, first): (i64, Option<i64>) =
                count.query_row(params![conversation, after], |r| Ok((r.get(0)?, r.get(1)?)))?;
            if let (true, Some(first)) = (n > 0, first) {
                let customers = customers.split_whitespace().map(str::to_owned).collect();
                out.push((
                    first,
                    Unseen {
                        conversation,
                        channel,
                        customers,
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

    /// A new device (or a new user's first) joins `conversations` — the
    /// open and dormant ones — from their start, not in the middle: each
    /// is replayed whole (the replay keeps the newest `replay_max`). The
    /// rest of `unseen` stays; conversations come in the order of their
    /// first line to replay.
    pub fn from_start(&self, conversations: &[i64], unseen: Vec<Unseen>) -> Result<Vec<Unseen>, StoreError> {
        let mut about = self
            .conn
            .prepare_cached("SELECT channel, customers FROM conversations WHERE id = ?1")?;
        let mut lines = self
            .conn
            .prepare_cached("SELECT COUNT(*), MIN(id) FROM messages WHERE conversation = ?1 AND id > ?2")?;
        let mut out = Vec::new();
        for u in unseen
            .into_iter()
            .filter(|u| !conversations.contains(&u.conversation))
        {
            let first: Option<i64> = lines.query_row(params![u.conversation, u.after], |r| r.get(1))?;
            out.push((first.unwrap_or(i64::MAX), u));
        }
        for &conversation in conversations {
            let (count, first): (i64, Option<i64>) =
                lines.query_row(params![conversation, 0], |r| Ok((r.get(0)?, r.get(1)?)))?;
            let known = about
                .query_row(params![conversation], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
                })
                .optional()?;
            if let (Some(first), Some((channel, customers))) = (first, known) {
                let customers = customers.split_whitespace().map(str::to_owned).collect();
                let u = Unseen {
                    conversation,
                    channel,
                    customers,
                    after: 0,
                    count,
                };
                out.push((first, u));
            }
        }
        out.sort_by_key(|(first, _)| *first);
        Ok(out.into_iter().map(|(_, u)| u).collect())
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

    /// The device has seen every line up to `line` (never moves back).
    pub fn set_seen_through(&mut self, user: &str, device: &str, line: i64) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE devices SET seen_through = MAX(seen_through, ?3) WHERE user = ?1 AND device = ?2",
            )?
            .execute(params![user, device, line])?;
        Ok(())
    }

    /// A user's read marker in a conversation (ms), if set.
    pub fn read_marker(&self, user: &str, conversation: i64) -> Result<Option<i64>, StoreError> {
        self.marker_at(user, &MarkerPlace::Conversation(conversation))
    }

    /// Moves a read marker forward; returns the marker now in force.
    pub fn set_read_marker(
        &mut self,
        user: &str,
        conversation: i64,
        time_ms: i64,
    ) -> Result<i64, StoreError> {
        self.set_marker_at(user, &MarkerPlace::Conversation(conversation), time_ms)
    }

    /// A user's read marker (ms) at `place`, if set.
    pub fn marker_at(&self, user: &str, place: &MarkerPlace) -> Result<Option<i64>, StoreError> {
        let (select, _, key) = place.sql();
        Ok(self
            .conn
            .prepare_cached(select)?
            .query_row(params![user, key], |r| r.get(0))
            .optional()?)
    }

    /// Moves the marker at `place` forward (never back); returns the one
    /// in force.
    pub fn set_marker_at(
        &mut self,
        user: &str,
        place: &MarkerPlace,
        time_ms: i64,
    ) -> Result<i64, StoreError> {
        let (_, upsert, key) = place.sql();
        self.conn
            .prepare_cached(upsert)?
            .execute(params![user, key, time_ms])?;
        Ok(self.marker_at(user, place)?.unwrap_or(time_ms))
    }
}

/// Where a read marker is kept: a conversation's by its id, any other
/// channel's (`&msn`, a staff channel) by its name.
#[derive(Debug, Clone)]
pub enum MarkerPlace {
    Conversation(i64),
    Channel(String),
}

impl MarkerPlace {
    /// The statements that read and move the marker, and its key.
    fn sql(&self) -> (&'static str, &'static str, rusqlite::types::Value) {
        match self {
            MarkerPlace::Conversation(c) => (
                "SELECT time_ms FROM read_markers WHERE user = ?1 AND conversation = ?2",
                "INSERT INTO read_markers (user, conversation, time_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user, conversation) DO UPDATE SET time_ms = MAX(time_ms, excluded.time_ms)",
                (*c).into(),
            ),
            MarkerPlace::Channel(name) => (
                "SELECT time_ms FROM channel_read_markers WHERE user = ?1 AND channel = ?2",
                "INSERT INTO channel_read_markers (user, channel, time_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (user, channel) DO UPDATE SET time_ms = MAX(time_ms, excluded.time_ms)",
                name.clone().into(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::store::lines::tests::{say, store, texts};

    #[test]
    fn each_device_replays_what_it_has_not_seen() {
        let (_d, mut s) = store();
        let bob = say(&mut s, 1, "#bob", &["hi", "anyone?"], 1000);
        // A user never seen starts now: nothing to replay.
        assert_eq!(s.device_attached("alice", "laptop").unwrap(), (true, true));
        assert_eq!(s.device_attached("alice", "laptop").unwrap(), (false, false));
        assert!(s.unseen("alice", "laptop", false).unwrap().is_empty());
        assert_eq!(s.positions("alice", "laptop").unwrap(), [(1, bob[1])]);
        let more = say(&mut s, 1, "#bob", &["hello?"], 5000);
        let carol = say(&mut s, 2, "#carol", &["new here"], 6000);
        // Bob's new line, and a conversation opened while alice was away.
        let u = s.unseen("alice", "laptop", false).unwrap();
        assert_eq!(u.len(), 2, "{u:?}");
        assert_eq!(
            (u[0].channel.as_str(), u[0].after, u[0].count),
            ("#bob", bob[1], 1)
        );
        assert_eq!((u[1].channel.as_str(), u[1].after, u[1].count), ("#carol", 0, 1));
        assert_eq!(u[1].customers, ["bob@example.com"]);
        // A first-time device starts where the user's furthest device is.
        let phone = s.unseen("alice", "phone", true).unwrap();
        assert!(
            phone.iter().any(|u| u.channel == "#bob" && u.after == bob[1]),
            "{phone:?}"
        );
        // Positions only move forward.
        s.set_position("alice", "laptop", 1, more[0]).unwrap();
        s.set_position("alice", "laptop", 1, bob[0]).unwrap();
        s.set_position("alice", "laptop", 2, carol[0]).unwrap();
        assert!(s.unseen("alice", "laptop", false).unwrap().is_empty());
        assert_eq!(
            texts(&s.lines_after(1, bob[0], 10).unwrap()),
            ["anyone?", "hello?"]
        );
    }

    #[test]
    fn a_device_that_saw_everything_looks_only_at_what_moved_since() {
        let (_d, mut s) = store();
        s.device_attached("alice", "").unwrap();
        let old = say(&mut s, 1, "#old", &["a", "b"], 1000);
        say(&mut s, 2, "#quiet", &["c"], 2000);
        s.set_seen_through("alice", "", old[1] + 1).unwrap();
        s.set_seen_through("alice", "", 0).unwrap();
        // #old and #quiet began after alice was first seen, but she saw
        // everything up to now: nothing is replayed.
        assert!(s.unseen("alice", "", false).unwrap().is_empty());
        let new = say(&mut s, 1, "#old", &["d"], 9000);
        let u = s.unseen("alice", "", false).unwrap();
        assert_eq!(u.len(), 1, "only what moved: {u:?}");
        assert_eq!((u[0].conversation, u[0].count), (1, 3), "from its start");
        s.set_position("alice", "", 1, new[0]).unwrap();
        assert!(s.unseen("alice", "", false).unwrap().is_empty());
    }

    #[test]
    fn read_markers_only_move_forward() {
        let (_d, mut s) = store();
        say(&mut s, 1, "#bob", &["a"], 1000);
        assert_eq!(s.read_marker("alice", 1).unwrap(), None);
        assert_eq!(s.set_read_marker("alice", 1, 5000).unwrap(), 5000);
        assert_eq!(s.set_read_marker("alice", 1, 4000).unwrap(), 5000);
    }
}
