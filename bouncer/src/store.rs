//! The durable store: SQLite (WAL), owned by the bouncer alone.
//!
//! [`Store`] is the synchronous API over one connection. The running
//! bouncer never calls it from the hub: one writer thread applies every
//! change in order, with group commit, and a few reader threads answer
//! queries ([`threads`]). The command-line tools use [`Store`] directly.

pub mod batch;
pub mod canned_rows;
pub mod certs;
pub mod contacts;
pub mod customer_rows;
pub mod desk_rows;
pub mod lines;
pub mod outbox_rows;
pub mod positions;
pub mod reader;
pub mod retention;
mod schema;
pub mod stats_rows;
pub mod threads;
pub mod users;
pub mod writer;

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode};

pub use schema::SCHEMA_VERSION;

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

impl StoreError {
    /// Another connection holds the lock (or a table is locked): trying
    /// again shortly may well succeed. Everything else is a real failure.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Sql(rusqlite::Error::SqliteFailure(e, _)) => {
                matches!(e.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
            }
            _ => false,
        }
    }
}

pub struct Store {
    pub(crate) conn: Connection,
}

/// How long one statement waits for another connection's lock.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

impl Store {
    /// Opens (creating if needed) and migrates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir)
                    .map_err(|e| StoreError::Invalid(format!("{}: {e}", dir.display())))?;
            }
        }
        let mut store = Store::connect(path)?;
        schema::migrate(&mut store.conn, path)?;
        Ok(store)
    }

    /// A connection that only reads a database [`Store::open`] already
    /// migrated (replays, queries, login checks).
    pub fn open_reader(path: &Path) -> Result<Store, StoreError> {
        let store = Store::connect(path)?;
        let found = store.schema_version()?;
        if found != SCHEMA_VERSION {
            return Err(StoreError::Invalid(format!(
                "{}: schema version {found}, expected {SCHEMA_VERSION}",
                path.display()
            )));
        }
        store.conn.pragma_update(None, "query_only", true)?;
        Ok(store)
    }

    fn connect(path: &Path) -> Result<Store, StoreError> {
        let open_err = |source| StoreError::Open {
            path: path.to_owned(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        // Journal mode first: it also proves the file is a database.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", true).map_err(open_err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        conn.busy_timeout(BUSY_WAIT).map_err(open_err)?;
        Ok(Store { conn })
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
        // A reader refuses to write.
        let reader = Store::open_reader(&path).unwrap();
        assert!(reader
            .conn
            .execute("DELETE FROM users", [])
            .unwrap_err()
            .to_string()
            .contains("readonly"));
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

    #[test]
    fn only_lock_conflicts_are_transient() {
        let busy = StoreError::Sql(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        ));
        let full = StoreError::Sql(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        ));
        assert!(busy.is_transient());
        assert!(!full.is_transient());
        assert!(!StoreError::Invalid("x".into()).is_transient());
    }
}
