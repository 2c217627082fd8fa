//! Threads that answer the hub's queries (CHATHISTORY, `*msn history` and
//! `search`, read markers, certificates) on read-only connections, and
//! one that does slow maintenance on a connection of its own (pruning,
//! staff accounts with their Argon2 hashing, store figures) — so neither
//! the hub nor the writer waits for them.

use std::sync::mpsc::Receiver;
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::mpsc::UnboundedSender;

use super::writer::StoreEvent;
use super::Store;

/// How far the writer has got: queries wait until every batch handed to
/// it before them is done, so the hub reads what it just wrote. Also how
/// much work is handed out and not yet answered.
#[derive(Debug, Default)]
pub struct Committed {
    seq: Mutex<u64>,
    changed: Condvar,
    outstanding: std::sync::atomic::AtomicUsize,
}

impl Committed {
    /// Batches up to `seq` are done (stored or given up on).
    pub(super) fn advance(&self, seq: u64) {
        if let Ok(mut s) = self.seq.lock() {
            *s = (*s).max(seq);
            self.changed.notify_all();
        }
    }

    /// Work was handed out.
    pub(super) fn started(&self) {
        self.outstanding.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// `n` pieces of work were answered (their events are sent).
    pub(super) fn finished(&self, n: usize) {
        self.outstanding.fetch_sub(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether handed-out work is still unanswered.
    pub(super) fn busy(&self) -> bool {
        self.outstanding.load(std::sync::atomic::Ordering::SeqCst) > 0
    }

    /// Waits until batches up to `seq` are done.
    pub(super) fn wait_for(&self, seq: u64) {
        let Ok(mut s) = self.seq.lock() else { return };
        while *s < seq {
            s = match self.changed.wait(s) {
                Ok(s) => s,
                Err(_) => return,
            };
        }
    }
}

/// A query, run on a read-only connection.
pub type ReadJob<R> = Box<dyn FnOnce(&Store) -> R + Send>;
/// Slow upkeep, run on a writable connection beside the writer's.
pub type MaintenanceJob<R> = Box<dyn FnOnce(&mut Store) -> R + Send>;

/// Runs each job it is given on `store`, one at a time, once the batches
/// handed to the writer before it are done, until the sender is dropped.
/// Several threads may share one queue.
pub(super) fn serve<J, R>(
    mut store: Store,
    queue: Arc<Mutex<Receiver<(u64, J)>>>,
    committed: Arc<Committed>,
    events: UnboundedSender<StoreEvent<R>>,
    run: fn(J, &mut Store) -> R,
) {
    loop {
        let next = match queue.lock() {
            Ok(rx) => rx.recv(),
            // Another reader panicked while holding the lock: stop too.
            Err(_) => return,
        };
        let Ok((after, job)) = next else { return };
        committed.wait_for(after);
        let store = &mut store;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(job, store)));
        let sent = match result {
            Ok(result) => events.send(StoreEvent::Done(result)).is_ok(),
            Err(_) => {
                tracing::error!("a store query panicked");
                true
            }
        };
        committed.finished(1);
        if !sent {
            return;
        }
    }
}

pub(super) fn run_read<R>(job: ReadJob<R>, store: &mut Store) -> R {
    job(store)
}

pub(super) fn run_maintenance<R>(job: MaintenanceJob<R>, store: &mut Store) -> R {
    job(store)
}
