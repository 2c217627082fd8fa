//! The writer thread: while msnbnc runs, the only connection that writes
//! lines and conversations (a replay moves its device's positions, the
//! maintenance thread prunes). It takes the hub's batches in order; batches that queue up
//! while it commits go into one transaction (group commit). A transaction
//! that meets another connection's lock is retried a bounded number of
//! times; a real failure is reported, and the next batch is tried afresh,
//! so recording resumes by itself when the store works again.

use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;

use super::batch::Batch;
use super::lines::ConversationRow;
use super::{Store, StoreError};

/// A job run on the writer, in order with the batches: a write whose
/// result the hub needs, or a read that must see every earlier batch.
pub type WriteJob<R> = Box<dyn FnOnce(&mut Store) -> R + Send>;

pub(super) enum Work<R> {
    Batch {
        seq: u64,
        batch: Batch,
    },
    Job(WriteJob<R>),
    /// Finish: everything sent before is done.
    Stop,
}

/// What the store threads tell the hub.
pub enum StoreEvent<R> {
    /// Every batch up to and including `seq` is committed.
    Committed { seq: u64 },
    /// The batches up to `seq` could not be stored (they are not retried).
    Failed { seq: u64, error: String },
    /// A job's result.
    Done(R),
}

impl<R> std::fmt::Debug for StoreEvent<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreEvent::Committed { seq } => write!(f, "Committed({seq})"),
            StoreEvent::Failed { seq, error } => write!(f, "Failed({seq}: {error})"),
            StoreEvent::Done(_) => write!(f, "Done"),
        }
    }
}

/// Waits between attempts at a transaction that met a lock (each attempt
/// also waits up to a second for the lock itself): about 10 s in all.
const RETRY: [Duration; 6] = [
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(200),
    Duration::from_millis(400),
    Duration::from_millis(800),
];

/// Lines merged into one transaction at most.
const GROUP_LINES: usize = 4096;
/// Lines waiting for the search index before it is brought up to date,
/// busy or not.
const INDEX_BACKLOG: usize = 20_000;
/// How long the writer waits for more work before it indexes.
const INDEX_IDLE: Duration = Duration::from_millis(10);
/// Lines written between two idle moments that were a burst.
const BURST_LINES: usize = 1000;

pub(super) struct Writer<R> {
    store: Store,
    committed: std::sync::Arc<super::reader::Committed>,
    events: UnboundedSender<StoreEvent<R>>,
    /// Conversations of batches that failed: written first next time, so
    /// that later lines do not refer to a conversation that is missing.
    unsaved: Vec<ConversationRow>,
    /// Committed lines not in the search index yet: (id, plain text).
    unindexed: Vec<(i64, String)>,
    /// The last batch handled (stored or given up on).
    done: u64,
    /// Lines indexed since memory was last given back.
    since_trim: usize,
}

impl<R: Send + 'static> Writer<R> {
    pub(super) fn new(
        store: Store,
        committed: std::sync::Arc<super::reader::Committed>,
        events: UnboundedSender<StoreEvent<R>>,
    ) -> Self {
        Writer {
            store,
            committed,
            events,
            unsaved: Vec::new(),
            unindexed: Vec::new(),
            done: 0,
            since_trim: 0,
        }
    }

    /// The next piece of work. Once none has come for a moment, the
    /// search index is brought up to date. `None`: the hub is gone.
    fn next(&mut self, work: &Receiver<Work<R>>) -> Option<Work<R>> {
        if self.unindexed.is_empty() {
            self.committed.advance(self.done);
        } else {
            match work.recv_timeout(INDEX_IDLE) {
                Ok(w) => return Some(w),
                Err(RecvTimeoutError::Timeout) => {
                    self.index();
                    if self.since_trim >= BURST_LINES {
                        // A burst is over: what it used is free again.
                        crate::malloc_tuning::give_back_freed_memory();
                        self.since_trim = 0;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    self.index();
                    return None;
                }
            }
        }
        work.recv().ok()
    }

    /// Indexes what was committed since the last time, then lets the
    /// queries waiting for it go.
    fn index(&mut self) {
        if !self.unindexed.is_empty() {
            let lines = std::mem::take(&mut self.unindexed);
            self.since_trim += lines.len();
            let mut waits = RETRY.iter();
            let indexed = loop {
                match self.store.index_lines(&lines) {
                    Err(e) if e.is_transient() => match waits.next() {
                        Some(wait) => std::thread::sleep(*wait),
                        None => break Err(e),
                    },
                    other => break other,
                }
            };
            if let Err(e) = indexed {
                // The lines are stored; msnbnc indexes them at its next start.
                tracing::warn!("{} lines not in the search index yet: {e}", lines.len());
            }
        }
        self.committed.advance(self.done);
    }

    /// Runs until the hub drops its sender.
    pub(super) fn run(mut self, work: Receiver<Work<R>>) {
        let mut next = None;
        loop {
            let item = match next.take() {
                Some(w) => w,
                None => match self.next(&work) {
                    Some(w) => w,
                    None => return,
                },
            };
            match item {
                Work::Stop => return self.index(),
                Work::Job(job) => {
                    // A job sees everything handed over before it.
                    self.index();
                    // A job that panics is a bug; it must not take history down.
                    let store = &mut self.store;
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(store))) {
                        Ok(result) => {
                            let _ = self.events.send(StoreEvent::Done(result));
                        }
                        Err(_) => tracing::error!("a store job panicked"),
                    }
                    self.committed.finished(1);
                }
                Work::Batch { seq, batch } => {
                    let (batch, seq, merged, after) = Self::gather(batch, seq, &work);
                    next = after;
                    let lines: Vec<(i64, String)> =
                        batch.lines.iter().map(|l| (l.id, l.plain.clone())).collect();
                    let this = &mut self;
                    let done = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| this.commit(batch)));
                    if matches!(done, Ok(Ok(()))) {
                        self.unindexed.extend(lines);
                    }
                    let event = match done {
                        Ok(Ok(())) => StoreEvent::Committed { seq },
                        Ok(Err(e)) => StoreEvent::Failed {
                            seq,
                            error: e.to_string(),
                        },
                        Err(_) => StoreEvent::Failed {
                            seq,
                            error: "the store writer hit a bug (see the log)".into(),
                        },
                    };
                    self.done = seq;
                    let _ = self.events.send(event);
                    if self.unindexed.len() >= INDEX_BACKLOG {
                        self.index();
                    }
                    self.committed.finished(merged);
                }
            }
        }
    }

    /// The batch, and the ones already queued behind it (up to a job,
    /// which must wait for their commit): one transaction.
    /// Also says how many batches it took.
    fn gather(
        mut batch: Batch,
        mut seq: u64,
        work: &Receiver<Work<R>>,
    ) -> (Batch, u64, usize, Option<Work<R>>) {
        let mut merged = 1;
        while batch.lines.len() < GROUP_LINES {
            match work.try_recv() {
                Ok(Work::Batch { seq: s, batch: b }) => {
                    batch.append(b);
                    seq = s;
                    merged += 1;
                }
                Ok(other @ (Work::Job(_) | Work::Stop)) => return (batch, seq, merged, Some(other)),
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        (batch, seq, merged, None)
    }

    fn commit(&mut self, mut batch: Batch) -> Result<(), StoreError> {
        if !self.unsaved.is_empty() {
            let mut first = std::mem::take(&mut self.unsaved);
            first.append(&mut batch.conversations);
            batch.conversations = first;
        }
        let mut waits = RETRY.iter();
        loop {
            match self.store.apply_now(&batch) {
                Ok(()) => return Ok(()),
                Err(e) if e.is_transient() => match waits.next() {
                    Some(wait) => {
                        tracing::debug!("store busy, trying again in {wait:?}: {e}");
                        std::thread::sleep(*wait);
                    }
                    None => {
                        self.unsaved = batch.conversations;
                        return Err(e);
                    }
                },
                Err(e) => {
                    self.unsaved = batch.conversations;
                    return Err(e);
                }
            }
        }
    }
}
