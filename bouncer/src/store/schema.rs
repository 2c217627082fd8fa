//! The schema, versioned with `PRAGMA user_version`: [`MIGRATIONS`] run in
//! order, each in a transaction. A database written by a newer msnbnc is
//! refused with a clear error rather than guessed at.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: staff accounts.
    "CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        name          TEXT    NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT    NOT NULL,
        role          TEXT    NOT NULL CHECK (role IN ('admin', 'staff')),
        created_ms    INTEGER NOT NULL
    );",
    // 2: the IRC names of MSN contacts, stable across restarts.
    "CREATE TABLE contact_names (
        handle TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
        name   TEXT NOT NULL UNIQUE COLLATE NOCASE
    );",
    // 3: client-certificate logins (SASL EXTERNAL) and per-user signatures
    // (NULL: the global one).
    "CREATE TABLE user_certs (
        fingerprint TEXT    NOT NULL PRIMARY KEY,
        user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        added_ms    INTEGER NOT NULL
    );
    CREATE INDEX user_certs_by_user ON user_certs(user_id);
    ALTER TABLE users ADD COLUMN signature TEXT;",
    // 4: history. Positions say how far each of a user's devices has seen
    // each conversation (device '': logins without one); read markers are
    // the user's, by time (draft/read-marker).
    "CREATE TABLE conversations (
        id         INTEGER PRIMARY KEY,
        channel    TEXT    NOT NULL UNIQUE COLLATE NOCASE,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE messages (
        id           INTEGER PRIMARY KEY,
        conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        time_ms      INTEGER NOT NULL,
        msgid        TEXT    NOT NULL UNIQUE,
        kind         TEXT    NOT NULL CHECK (kind IN ('customer', 'staff', 'note', 'notice')),
        sender       TEXT    NOT NULL,
        source       TEXT    NOT NULL,
        command      TEXT    NOT NULL CHECK (command IN ('PRIVMSG', 'NOTICE')),
        text         TEXT    NOT NULL
    );
    CREATE INDEX messages_by_conversation ON messages(conversation, id);
    CREATE INDEX messages_by_time ON messages(conversation, time_ms, id);
    CREATE TABLE positions (
        user         TEXT    NOT NULL COLLATE NOCASE,
        device       TEXT    NOT NULL,
        conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        message      INTEGER NOT NULL,
        PRIMARY KEY (user, device, conversation)
    ) WITHOUT ROWID;
    CREATE TABLE devices (
        user     TEXT    NOT NULL COLLATE NOCASE,
        device   TEXT    NOT NULL,
        first_ms INTEGER NOT NULL,
        PRIMARY KEY (user, device)
    ) WITHOUT ROWID;
    CREATE TABLE read_markers (
        user         TEXT    NOT NULL COLLATE NOCASE,
        conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
        time_ms      INTEGER NOT NULL,
        PRIMARY KEY (user, conversation)
    ) WITHOUT ROWID;
    -- Full-text search over the text without formatting codes (written
    -- with each line; contentless, so the text is not stored twice).
    CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='', contentless_delete=1);
    CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        DELETE FROM messages_fts WHERE rowid = old.id;
    END;",
    // 5: the outbox: staff messages to customers until MSN has them.
    // pending: not yet written to a switchboard (may be sent, or re-sent);
    // sent: written, not acknowledged (never re-sent); then delivered,
    // failed, or unknown (the worker stopped before the answer).
    "CREATE TABLE outbox (
        message    INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
        handle     TEXT    NOT NULL,
        body       TEXT    NOT NULL,
        font       TEXT,
        effects    INTEGER NOT NULL,
        color      INTEGER,
        state      TEXT    NOT NULL CHECK (state IN ('pending', 'sent', 'delivered', 'failed', 'unknown')),
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL
    );
    CREATE INDEX outbox_open ON outbox(state) WHERE state IN ('pending', 'sent');",
    // 6: a conversation is a record with a stable id, and its channel only
    // the name it was last shown under: two customers who were each
    // `#bob-2` at different times are two conversations. `customers` (the
    // lower-cased handles, sorted, space-separated) says whom it is with;
    // `last_message` and `last_ms` (its time) let replay and CHATHISTORY
    // find what moved without reading all history; a device's
    // `seen_through` is the line up to which it has seen everything.
    "CREATE TABLE conversations_v6 (
        id           INTEGER PRIMARY KEY,
        channel      TEXT    NOT NULL,
        customers    TEXT    NOT NULL,
        created_ms   INTEGER NOT NULL,
        last_message INTEGER NOT NULL DEFAULT 0,
        last_ms      INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO conversations_v6 (id, channel, customers, created_ms, last_message, last_ms)
        SELECT c.id, c.channel,
            COALESCE((SELECT group_concat(h, ' ' ORDER BY h) FROM
                (SELECT DISTINCT lower(m.sender) AS h FROM messages m
                 WHERE m.conversation = c.id AND m.kind = 'customer')), ''),
            c.created_ms,
            COALESCE((SELECT MAX(m.id) FROM messages m WHERE m.conversation = c.id), 0),
            COALESCE((SELECT MAX(m.time_ms) FROM messages m WHERE m.conversation = c.id), 0)
        FROM conversations c;
    DROP TABLE conversations;
    ALTER TABLE conversations_v6 RENAME TO conversations;
    CREATE INDEX conversations_by_channel ON conversations(channel COLLATE NOCASE, id);
    CREATE INDEX conversations_by_customers ON conversations(customers, id);
    CREATE INDEX conversations_by_last_message ON conversations(last_message);
    CREATE INDEX conversations_by_last_ms ON conversations(last_ms);
    ALTER TABLE devices ADD COLUMN seen_through INTEGER NOT NULL DEFAULT 0;",
    // 7: read markers of channels that are not conversations (`&msn`,
    // staff channels), by name.
    "CREATE TABLE channel_read_markers (
        user    TEXT    NOT NULL COLLATE NOCASE,
        channel TEXT    NOT NULL COLLATE NOCASE,
        time_ms INTEGER NOT NULL,
        PRIMARY KEY (user, channel)
    ) WITHOUT ROWID;",
    // 8: the desk: each conversation's state, since when its customer
    // waits for an answer, who claimed it. Conversations from before are
    // taken as resolved.
    "ALTER TABLE conversations ADD COLUMN state TEXT NOT NULL DEFAULT 'resolved'
        CHECK (state IN ('new', 'open', 'waiting', 'resolved'));
    ALTER TABLE conversations ADD COLUMN waiting_since_ms INTEGER;
    ALTER TABLE conversations ADD COLUMN claim TEXT;
    ALTER TABLE conversations ADD COLUMN state_ms INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX conversations_unresolved ON conversations(state) WHERE state != 'resolved';",
    // 9: canned replies, shared by the team.
    "CREATE TABLE canned (
        name       TEXT    PRIMARY KEY COLLATE NOCASE,
        text       TEXT    NOT NULL,
        author     TEXT    NOT NULL,
        created_ms INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 10: what the team knows about a customer: dated, signed notes, and tags.
    "CREATE TABLE customer_notes (
        id      INTEGER PRIMARY KEY,
        handle  TEXT    NOT NULL COLLATE NOCASE,
        author  TEXT    NOT NULL,
        time_ms INTEGER NOT NULL,
        text    TEXT    NOT NULL
    );
    CREATE INDEX customer_notes_by_handle ON customer_notes(handle, id);
    CREATE TABLE customer_tags (
        handle TEXT NOT NULL COLLATE NOCASE,
        tag    TEXT NOT NULL COLLATE NOCASE,
        PRIMARY KEY (handle, tag)
    ) WITHOUT ROWID;",
    // 11: staff lines by time, for `*msn stats`; conversations by creation.
    "CREATE INDEX messages_staff_by_time ON messages(time_ms) WHERE kind = 'staff';
    CREATE INDEX conversations_by_created ON conversations(created_ms);",
    // 12: who resolved a conversation (for the figures per staff member).
    "ALTER TABLE conversations ADD COLUMN resolved_by TEXT;",
];

pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database at `path` to [`SCHEMA_VERSION`].
pub(super) fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    migrate_to(conn, path, SCHEMA_VERSION)
}

fn migrate_to(conn: &mut Connection, path: &Path, target: u32) -> Result<(), StoreError> {
    let open_err = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    let found: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(open_err)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found >= target {
        return Ok(());
    }
    // Rebuilding a table must not cascade deletes into the ones that
    // refer to it: foreign keys are off while migrating (they cannot be
    // switched inside a transaction), and checked afterwards.
    conn.pragma_update(None, "foreign_keys", false)
        .map_err(open_err)?;
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .take(target as usize)
        .skip(found as usize)
    {
        let version = i as u32 + 1;
        let err = |source| StoreError::Migrate {
            path: path.to_owned(),
            version,
            source,
        };
        let tx = conn.transaction().map_err(err)?;
        tx.execute_batch(sql).map_err(err)?;
        tx.pragma_update(None, "user_version", version).map_err(err)?;
        tx.commit().map_err(err)?;
        tracing::info!("{}: schema migrated to version {version}", path.display());
    }
    let broken: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
        .map_err(open_err)?;
    if broken > 0 {
        tracing::warn!(
            "{}: {broken} rows refer to rows that do not exist",
            path.display()
        );
    }
    conn.pragma_update(None, "foreign_keys", true).map_err(open_err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversations_of_version_5_become_records_with_their_customers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("msnbnc.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate_to(&mut conn, &path, 5).unwrap();
        conn.execute_batch(
            "INSERT INTO conversations (id, channel, created_ms) VALUES (1, '#bob', 10), (2, '#carol', 20);
             INSERT INTO messages (id, conversation, time_ms, msgid, kind, sender, source, command, text) VALUES
               (1, 1, 11, 'a', 'customer', 'Bob@Example.com', 'bob!bob@example.com', 'PRIVMSG', 'hi'),
               (2, 1, 12, 'b', 'staff', 'alice', 'alice!alice@msnbnc', 'PRIVMSG', 'hello'),
               (3, 2, 21, 'c', 'customer', 'dave@example.com', 'dave!dave@example.com', 'PRIVMSG', 'x'),
               (4, 2, 22, 'd', 'customer', 'carol@example.com', 'carol!carol@example.com', 'PRIVMSG', 'y');
             INSERT INTO positions VALUES ('alice', '', 1, 2);
             INSERT INTO devices VALUES ('alice', '', 5);",
        )
        .unwrap();
        migrate(&mut conn, &path).unwrap();
        let rows: Vec<(i64, String, String, i64)> = conn
            .prepare("SELECT id, channel, customers, last_message FROM conversations ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (1, "#bob".into(), "bob@example.com".into(), 2),
                (2, "#carol".into(), "carol@example.com dave@example.com".into(), 4)
            ]
        );
        // Nothing that referred to them was lost, and names may repeat now.
        let kept: (i64, i64) = conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM messages), (SELECT COUNT(*) FROM positions)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(kept, (4, 1));
        conn.execute(
            "INSERT INTO conversations (id, channel, customers, created_ms) VALUES (3, '#bob', 'x@y.z', 30)",
            [],
        )
        .unwrap();
        let fk: bool = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert!(fk, "foreign keys are back on");
    }
}
