//! Checkpoints: copying the write-ahead log into the database. SQLite
//! would do it inside the writer's commits, and the writer would wait for
//! the disk; here the writer's connection only notices that the log has
//! grown past [`CHECKPOINT_PAGES`] and wakes a thread of its own, which
//! checkpoints on its own connection (PASSIVE: it never waits for the
//! writer or for readers). A log kept short also keeps reads fast: every
//! page read looks through the log's index first.

use std::path::Path;
use std::sync::mpsc;

use super::{Store, StoreError};

/// SQLite's own automatic threshold (about 4 MiB of 4 KiB pages).
const CHECKPOINT_PAGES: i32 = 1000;

/// Makes `writer`'s commits wake a checkpointing thread on `path` when
/// the log is long. The thread ends when the writer's connection closes.
pub(super) fn attach(writer: &mut Store, path: &Path) -> Result<(), StoreError> {
    // The writer stays the only one to decide; never two checkpoints
    // asked for at once, and a commit never waits to ask.
    let (ask, asked) = mpsc::sync_channel::<()>(1);
    writer.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    writer
        .conn
        .wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages: i32| {
            if pages >= CHECKPOINT_PAGES {
                let _ = ask.try_send(());
            }
            Ok(())
        }))?;
    let store = Store::open_reader(path)?;
    store.conn.pragma_update(None, "query_only", false)?;
    std::thread::Builder::new()
        .name("store-checkpointer".into())
        .spawn(move || {
            while asked.recv().is_ok() {
                match store.checkpoint() {
                    Ok((log, copied)) => tracing::debug!(log, copied, "checkpoint"),
                    Err(e) => tracing::warn!("checkpoint failed (the log grows until one works): {e}"),
                }
            }
        })
        .map_err(|e| StoreError::Invalid(format!("cannot start the checkpointer thread: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::lines::tests::{say, store};

    #[test]
    fn a_long_log_is_copied_into_the_database_by_the_checkpointer() {
        let (dir, mut s) = store();
        let path = dir.path().join("msnbnc.db");
        attach(&mut s, &path).unwrap();
        let size = || std::fs::metadata(&path).unwrap().len();
        let before = size();
        // About 6 MiB: all of it goes to the log first.
        let texts: Vec<String> = (0..3000).map(|i| format!("{i} {}", "x".repeat(2000))).collect();
        say(
            &mut s,
            1,
            "#bob",
            &texts.iter().map(String::as_str).collect::<Vec<_>>(),
            0,
        );
        // Only a checkpoint moves it into the database file.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while size() < before + 4 * 1024 * 1024 {
            assert!(
                std::time::Instant::now() < deadline,
                "the log was never checkpointed"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn without_the_checkpointer_the_log_keeps_everything() {
        let (dir, mut s) = store();
        let path = dir.path().join("msnbnc.db");
        s.conn.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        let texts: Vec<String> = (0..3000).map(|i| format!("{i} {}", "x".repeat(2000))).collect();
        say(
            &mut s,
            1,
            "#bob",
            &texts.iter().map(String::as_str).collect::<Vec<_>>(),
            0,
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(std::fs::metadata(&path).unwrap().len() < before + 1024 * 1024);
    }
}
