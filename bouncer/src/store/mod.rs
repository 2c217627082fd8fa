//! The durable store: SQLite (WAL), owned by the bouncer alone.
//!
//! The schema is versioned with `PRAGMA user_version`; [`MIGRATIONS`] runs
//! in order, each in a transaction. A database written by a newer msnbnc is
//! refused with a clear error rather than guessed at.

pub mod certs;
pub mod contacts;
pub mod history;
pub mod outbox;
pub mod retention;
pub mod users;

use std::path::{Path, PathBuf};

use rusqlite::Connection;

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
    // 4: history. A conversation is a channel (#bob): it outlives the MSN
    // conversations shown in it. Positions say how far each of a user's
    // devices has seen each conversation (device '': logins without one);
    // read markers are the user's, by time (draft/read-marker).
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
];

pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "{path} has schema version {found}, but this msnbnc knows only up to {supported}: it was written by a newer msnbnc; upgrade msnbnc (or restore a backup)"
    )]
    NewerSchema {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    #[error("{path}: migrating the schema to version {version}: {source}")]
    Migrate {
        path: PathBuf,
        version: u32,
        source: rusqlite::Error,
    },
    #[error("database: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("{0}")]
    Invalid(String),
}

pub struct Store {
    pub(crate) conn: Connection,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Invalid(format!("{}: {e}", dir.display())))?;
            }
        }
        let conn = Connection::open(path).map_err(open_err)?;
        // Journal mode first: it also proves the file is a database.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_err)?;
        let mut store = Store { conn };
        store.migrate(path)?;
        Ok(store)
    }

    fn migrate(&mut self, path: &Path) -> Result<(), StoreError> {
        let found: u32 = self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_owned(),
                found,
                supported: SCHEMA_VERSION,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            let version = i as u32 + 1;
            let err = |source| StoreError::Migrate {
                path: path.to_owned(),
                version,
                source,
            };
            let tx = self.conn.transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.pragma_update(None, "user_version", version).map_err(err)?;
            tx.commit().map_err(err)?;
            tracing::info!("{}: schema migrated to version {version}", path.display());
        }
        Ok(())
    }

    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(self.conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_database_is_migrated_to_the_current_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/msnbnc.db");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        drop(store);
        // Opening again is a no-op.
        assert_eq!(
            Store::open(&path).unwrap().schema_version().unwrap(),
            SCHEMA_VERSION
        );
    }

    #[test]
    fn a_newer_schema_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("msnbnc.db");
        let store = Store::open(&path).unwrap();
        store
            .conn
            .pragma_update(None, "user_version", SCHEMA_VERSION + 7)
            .unwrap();
        drop(store);
        let err = Store::open(&path).err().unwrap().to_string();
        assert!(
            err.contains(&format!("has schema version {}", SCHEMA_VERSION + 7)),
            "{err}"
        );
        assert!(err.contains("written by a newer msnbnc"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("msnbnc.db");
        std::fs::write(
            &path,
            b"this is not sqlite, just some text that is long enough to have a header........",
        )
        .unwrap();
        let err = Store::open(&path).err().unwrap().to_string();
        assert!(err.starts_with(&path.display().to_string()), "{err}");
        assert!(err.contains("not a database"), "{err}");
    }
}
