//! The hub's handle on the store: typed batches for the writer, and jobs
//! for the writer (in order), the readers and the maintenance thread.
//! Results come back as [`StoreEvent`]s on one channel the hub drains.

use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

use super::batch::Batch;
use super::reader::{self, Committed, MaintenanceJob, ReadJob};
use super::writer::{StoreEvent, Work, WriteJob, Writer};
use super::{Store, StoreError};

/// Reader threads: a slow search leaves the other free.
const READERS: usize = 2;

pub struct StoreThreads<R> {
    writer: mpsc::Sender<Work<R>>,
    readers: mpsc::Sender<(u64, ReadJob<R>)>,
    maintenance: mpsc::Sender<(u64, MaintenanceJob<R>)>,
    writer_thread: Option<JoinHandle<()>>,
    next_seq: u64,
    committed: Arc<Committed>,
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, StoreError> {
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(f)
        .map_err(|e| StoreError::Invalid(format!("cannot start the {name} thread: {e}")))
}

impl<R: Send + 'static> StoreThreads<R> {
    /// Opens the connections (the database must be migrated already) and
    /// starts the threads.
    pub fn start(path: &Path) -> Result<(StoreThreads<R>, UnboundedReceiver<StoreEvent<R>>), StoreError> {
        let (events, events_rx) = unbounded_channel();
        let committed = Arc::new(Committed::default());
        let (writer, work) = mpsc::channel();
        let store = Store::open(path)?;
        // The writer checkpoints inside its commits, as SQLite does by
        // default (every 1,000 pages of log). A checkpointing thread of its
        // own was tried: while the writer keeps writing, the log can never
        // start again from its beginning, and it grew to hundreds of MiB.
        // The writer's values come from Rust enums (a line's kind, its
        // command): SQLite checking `kind IN (…)` again builds a temporary
        // b-tree for every line, a sixth of the writer's work.
        store.conn.pragma_update(None, "ignore_check_constraints", true)?;
        let w = Writer::new(store, committed.clone(), events.clone());
        let writer_thread = spawn("store-writer", move || w.run(work))?;

        let (readers, read_rx) = mpsc::channel::<(u64, ReadJob<R>)>();
        let read_rx = Arc::new(Mutex::new(read_rx));
        for i in 0..READERS {
            let (store, rx, ev) = (Store::open_reader(path)?, read_rx.clone(), events.clone());
            let c = committed.clone();
            spawn(&format!("store-reader-{i}"), move || {
                reader::serve(store, rx, c, ev, reader::run_read)
            })?;
        }
        let keep = committed.clone();
        let (maintenance, maint_rx) = mpsc::channel::<(u64, MaintenanceJob<R>)>();
        let (store, rx) = (Store::open(path)?, Arc::new(Mutex::new(maint_rx)));
        spawn("store-maintenance", move || {
            reader::serve(store, rx, committed, events, reader::run_maintenance)
        })?;
        Ok((
            StoreThreads {
                writer,
                readers,
                maintenance,
                writer_thread: Some(writer_thread),
                next_seq: 1,
                committed: keep,
            },
            events_rx,
        ))
    }

    /// Hands a batch to the writer; returns its sequence number, which a
    /// later [`StoreEvent::Committed`] or [`StoreEvent::Failed`] names
    /// (`None`: the writer is gone, nothing will be stored).
    pub fn commit(&mut self, batch: Batch) -> Option<u64> {
        let seq = self.next_seq;
        self.committed.started();
        if self.writer.send(Work::Batch { seq, batch }).is_err() {
            self.committed.finished(1);
            return None;
        }
        self.next_seq += 1;
        Some(seq)
    }

    /// A job for the writer, after every batch handed over before it.
    pub fn write(&self, job: WriteJob<R>) -> bool {
        self.hand_over(|| self.writer.send(Work::Job(job)).is_ok())
    }

    /// A query for a reader thread; it sees every batch handed over
    /// before it.
    pub fn read(&self, job: ReadJob<R>) -> bool {
        self.hand_over(|| self.readers.send((self.next_seq - 1, job)).is_ok())
    }

    /// Slow upkeep for the maintenance thread, after the batches handed
    /// over before it.
    pub fn maintain(&self, job: MaintenanceJob<R>) -> bool {
        self.hand_over(|| self.maintenance.send((self.next_seq - 1, job)).is_ok())
    }

    /// Counts the work as handed out before it is (a thread may answer at
    /// once), and takes it back if it could not be.
    fn hand_over(&self, send: impl FnOnce() -> bool) -> bool {
        self.committed.started();
        let sent = send();
        if !sent {
            self.committed.finished(1);
        }
        sent
    }

    /// Whether work handed out is not answered yet (its events may still
    /// be coming).
    pub fn busy(&self) -> bool {
        self.committed.busy()
    }

    /// Lets the writer finish what it was given (at most `budget`); later
    /// work is not done.
    pub fn stop(&mut self, budget: Duration) {
        let Some(thread) = self.writer_thread.take() else {
            return;
        };
        let _ = self.writer.send(Work::Stop);
        let deadline = std::time::Instant::now() + budget;
        while !thread.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            tracing::warn!("the store writer did not finish in time");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::lines::{ConversationRow, Kind, LineRow};

    fn line(id: i64, text: &str) -> LineRow {
        LineRow {
            id,
            conversation: 1,
            time_ms: id,
            msgid: format!("m{id}"),
            kind: Kind::Customer,
            sender: "bob@example.com".into(),
            source: "bob!bob@example.com".into(),
            command: "PRIVMSG",
            text: text.into(),
            plain: text.into(),
        }
    }

    fn bob() -> ConversationRow {
        ConversationRow {
            id: 1,
            channel: "#bob".into(),
            customers: vec!["bob@example.com".into()],
            created_ms: 0,
        }
    }

    type Threads = (StoreThreads<String>, UnboundedReceiver<StoreEvent<String>>);

    fn start(dir: &tempfile::TempDir) -> Threads {
        let path = dir.path().join("db");
        Store::open(&path).unwrap();
        StoreThreads::start(&path).unwrap()
    }

    #[test]
    fn batches_commit_in_order_and_jobs_see_what_came_before() {
        let dir = tempfile::tempdir().unwrap();
        let (mut t, mut events) = start(&dir);
        let first = Batch {
            conversations: vec![bob()],
            lines: vec![line(1, "one")],
            ..Batch::default()
        };
        let a = t.commit(first).unwrap();
        let b = t
            .commit(Batch {
                lines: vec![line(2, "two")],
                ..Batch::default()
            })
            .unwrap();
        t.write(Box::new(|s| format!("{}", s.last_line(1).unwrap())));
        let mut committed = 0;
        let answer = loop {
            match events.blocking_recv().unwrap() {
                StoreEvent::Committed { seq } => committed = seq,
                StoreEvent::Done(r) => break r,
                e => panic!("{e:?}"),
            }
        };
        assert_eq!((committed, answer.as_str()), (b, "2"), "after {a} and {b}");
        t.read(Box::new(|s| s.latest(1, None, 10).unwrap().len().to_string()));
        assert!(matches!(events.blocking_recv(), Some(StoreEvent::Done(n)) if n == "2"));
    }

    #[test]
    fn a_failed_batch_is_reported_and_the_next_one_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let (mut t, mut events) = start(&dir);
        // As if the disk failed under the writer.
        t.write(Box::new(|s| {
            s.conn.pragma_update(None, "query_only", true).unwrap();
            String::new()
        }));
        let seq = t
            .commit(Batch {
                conversations: vec![bob()],
                lines: vec![line(1, "lost")],
                ..Batch::default()
            })
            .unwrap();
        let _ = events.blocking_recv();
        match events.blocking_recv() {
            Some(StoreEvent::Failed { seq: s, error }) => {
                assert_eq!(s, seq);
                assert!(error.contains("readonly"), "{error}");
            }
            e => panic!("{e:?}"),
        }
        t.write(Box::new(|s| {
            s.conn.pragma_update(None, "query_only", false).unwrap();
            String::new()
        }));
        // The conversation of the failed batch is written with the next one.
        let seq = t
            .commit(Batch {
                lines: vec![line(2, "kept")],
                ..Batch::default()
            })
            .unwrap();
        let _ = events.blocking_recv();
        assert!(matches!(events.blocking_recv(), Some(StoreEvent::Committed { seq: s }) if s == seq));
        t.stop(Duration::from_secs(5));
        let s = Store::open(&dir.path().join("db")).unwrap();
        assert_eq!(s.latest(1, None, 10).unwrap()[0].text, "kept");
    }

    #[test]
    fn the_log_stays_short_while_the_writer_never_falls_idle() {
        let dir = tempfile::tempdir().unwrap();
        let (mut t, mut events) = start(&dir);
        // About 30 MiB of lines (long ones) in 10,000 batches, each handed
        // over before the last one is committed.
        let big = "x".repeat(200);
        let mut last = 0;
        for b in 0..10_000i64 {
            let lines = (0..10).map(|i| line(b * 10 + i + 1, &big)).collect();
            let conversations = if b == 0 { vec![bob()] } else { Vec::new() };
            last = t
                .commit(Batch {
                    conversations,
                    lines,
                    ..Batch::default()
                })
                .unwrap();
        }
        while let Some(e) = events.blocking_recv() {
            match e {
                StoreEvent::Committed { seq } if seq == last => break,
                StoreEvent::Failed { error, .. } => panic!("{error}"),
                _ => {}
            }
        }
        let log = std::fs::metadata(dir.path().join("db-wal")).unwrap().len();
        assert!(log < 8 * 1024 * 1024, "the log grew to {log} bytes");
        t.stop(Duration::from_secs(5));
    }
}
