//! Transactions: `begin` … `commit` under snapshot isolation.
//!
//! A transaction reads one snapshot, taken at `begin`, through which it
//! also sees its own writes: each write statement's batch goes into the
//! snapshot's private writes (`Snapshot::write_private`) instead of the
//! log, so every read path — point reads, index lookups, scans, joins,
//! aggregates — finds them as the newest versions of their keys, and no
//! other reader finds them at all. A statement that fails adds nothing,
//! and the transaction stays usable (statement-level rollback).
//!
//! `commit` writes the private writes as one batch through the log, under
//! the locks single statements take (each written table's lock, shared,
//! and the stripes of the written primary keys), after checking that no
//! row it writes has a version newer than its snapshot: one written by
//! anyone since `begin`. If one has, the commit fails with
//! `serialization_failure` and writes nothing — of two transactions
//! writing the same row, the later to commit fails. Index entries change
//! only with their row, so checking the rows covers the indexes.
//!
//! Single statements outside a transaction never come here: they lock
//! and write as before, and pay nothing for transactions existing.
//!
//! This module holds a transaction's state and the registry of open
//! ones, and knows nothing of the database; the handles users hold
//! (`Transaction`, `Session`) are in `session.rs`, and the commit itself
//! (locks, conflict check, write) is `Database::commit_state`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fasty_wal::{Snapshot, WriteBatch};
use parking_lot::Mutex;

use crate::catalog::Table;
use crate::error::{Error, ErrorCode, Result};

/// What an open transaction holds: its snapshot (with its own writes in
/// it) and the definitions of the tables it wrote.
pub(crate) struct TxnState {
    snap: Snapshot,
    pub(crate) read_only: bool,
    max_bytes: usize,
    /// Each table written, as defined when first written: the commit
    /// fails if DDL changed one since (its rows' index entries were made
    /// for this definition).
    tables: BTreeMap<u32, Arc<Table>>,
}

impl TxnState {
    /// What the transaction's statements read.
    pub(crate) fn snapshot(&self) -> &Snapshot {
        &self.snap
    }

    /// Refuses a write in a read-only transaction, before it runs.
    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.read_only {
            return Err(Error::query(
                ErrorCode::ReadOnlyTransaction,
                "this transaction is read only (begin read only): it cannot write",
            ));
        }
        Ok(())
    }

    /// Adds a write statement's batch, made for table `t`'s definition, to
    /// the transaction's writes: all of it, or (past the size bound, or
    /// when `t` changed since the transaction first wrote it) none.
    pub(crate) fn record(&mut self, t: &Arc<Table>, batch: WriteBatch) -> Result<()> {
        self.check_writable()?;
        if batch.is_empty() {
            return Ok(());
        }
        if let Some(first) = self.tables.get(&t.id)
            && !same_definition(first, t)
        {
            return Err(changed(&t.name));
        }
        let bytes = self.snap.private_bytes() + batch.as_bytes().len();
        if bytes > self.max_bytes {
            return Err(Error::query(
                ErrorCode::TransactionTooLarge,
                format!(
                    "the transaction's writes would take about {bytes} bytes, over its bound of {} (Options::max_transaction_bytes); the statement added nothing",
                    self.max_bytes
                ),
            ));
        }
        self.snap.write_private(&batch);
        self.tables.entry(t.id).or_insert_with(|| t.clone());
        Ok(())
    }

    /// The tables written, by id (ascending), as first written.
    pub(crate) fn tables(&self) -> &BTreeMap<u32, Arc<Table>> {
        &self.tables
    }
}

/// Whether two definitions of a table are the same for its writes: same
/// table, columns and indexes.
pub(crate) fn same_definition(a: &Arc<Table>, b: &Arc<Table>) -> bool {
    Arc::ptr_eq(a, b)
        || (a.id == b.id
            && a.columns == b.columns
            && a.indexes.len() == b.indexes.len()
            && a.indexes.iter().zip(&b.indexes).all(|(x, y)| x.id == y.id))
}

/// The error of a transaction that wrote a table DDL changed since.
pub(crate) fn changed(table: &str) -> Error {
    Error::query(
        ErrorCode::SerializationFailure,
        format!(
            "table \"{table}\" was changed (created, dropped or indexed) by another session during the transaction; nothing was written: run the transaction again"
        ),
    )
}

/// Counters of the transactions of a database, for stats and metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionStats {
    /// Transactions open now.
    pub open: u64,
    /// Transactions begun since the database opened.
    pub begun: u64,
    /// Transactions committed (a read-only or empty one included).
    pub commits: u64,
    /// Transactions rolled back: by `rollback`, by dropping the handle,
    /// by a failed commit, or by the idle timeout.
    pub rollbacks: u64,
    /// Commits that failed with `serialization_failure`.
    pub conflicts: u64,
    /// Transactions rolled back by the idle timeout.
    pub timeouts: u64,
}

/// The open transactions of a database (for the idle timeout) and its
/// transaction counters.
pub(crate) struct Registry {
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Slot>>>,
    begun: AtomicU64,
    commits: AtomicU64,
    rollbacks: AtomicU64,
    conflicts: AtomicU64,
    timeouts: AtomicU64,
    max_bytes: usize,
    idle_timeout: Option<Duration>,
    epoch: Instant,
}

/// One open transaction's state, shared by its handle and the idle
/// timeout's sweep: `None` once the sweep rolled it back.
struct Slot {
    state: Mutex<Option<TxnState>>,
    /// When a statement last ended (or the transaction began), in
    /// milliseconds since the registry's epoch.
    last_used: AtomicU64,
}

impl Registry {
    /// A registry whose transactions hold at most `max_bytes` of writes
    /// and are rolled back after `idle_timeout` without a statement.
    pub(crate) fn new(max_bytes: usize, idle_timeout: Option<Duration>) -> Arc<Registry> {
        Arc::new(Registry {
            next_id: AtomicU64::new(1),
            open: Mutex::new(HashMap::new()),
            begun: AtomicU64::new(0),
            commits: AtomicU64::new(0),
            rollbacks: AtomicU64::new(0),
            conflicts: AtomicU64::new(0),
            timeouts: AtomicU64::new(0),
            max_bytes,
            idle_timeout,
            epoch: Instant::now(),
        })
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The idle timeout, if any: how often the sweep should run.
    pub(crate) fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// The counters as of now.
    pub(crate) fn stats(&self) -> TransactionStats {
        TransactionStats {
            open: self.open.lock().len() as u64,
            begun: self.begun.load(Ordering::Relaxed),
            commits: self.commits.load(Ordering::Relaxed),
            rollbacks: self.rollbacks.load(Ordering::Relaxed),
            conflicts: self.conflicts.load(Ordering::Relaxed),
            timeouts: self.timeouts.load(Ordering::Relaxed),
        }
    }

    /// Rolls back every transaction idle past the timeout and not running
    /// a statement now; returns how many.
    pub(crate) fn sweep(&self) -> usize {
        let Some(timeout) = self.idle_timeout else {
            return 0;
        };
        let limit = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        let now = self.now_ms();
        let idle: Vec<(u64, Arc<Slot>)> = self
            .open
            .lock()
            .iter()
            .filter(|(_, s)| now.saturating_sub(s.last_used.load(Ordering::Relaxed)) > limit)
            .map(|(id, s)| (*id, s.clone()))
            .collect();
        let mut n = 0;
        for (id, slot) in idle {
            // A transaction running a statement is not idle.
            let Some(mut state) = slot.state.try_lock() else {
                continue;
            };
            if now.saturating_sub(slot.last_used.load(Ordering::Relaxed)) <= limit {
                continue;
            }
            if state.take().is_some() {
                self.open.lock().remove(&id);
                self.timeouts.fetch_add(1, Ordering::Relaxed);
                self.rollbacks.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }
        n
    }
}

/// An open transaction, owned: the registry entry that ends it. Dropped
/// before its commit took the state, it rolls back.
pub(crate) struct OpenTxn {
    id: u64,
    slot: Arc<Slot>,
    registry: Arc<Registry>,
}

impl OpenTxn {
    /// Opens a transaction reading `snap`.
    pub(crate) fn begin(registry: &Arc<Registry>, snap: Snapshot, read_only: bool) -> OpenTxn {
        let id = registry.next_id.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Slot {
            state: Mutex::new(Some(TxnState {
                snap,
                read_only,
                max_bytes: registry.max_bytes,
                tables: BTreeMap::new(),
            })),
            last_used: AtomicU64::new(registry.now_ms()),
        });
        registry.open.lock().insert(id, slot.clone());
        registry.begun.fetch_add(1, Ordering::Relaxed);
        OpenTxn {
            id,
            slot,
            registry: registry.clone(),
        }
    }

    /// Whether this transaction belongs to `registry`'s database.
    pub(crate) fn of(&self, registry: &Arc<Registry>) -> bool {
        Arc::ptr_eq(&self.registry, registry)
    }

    /// Runs `f` on the transaction's state; `transaction_timeout` once the
    /// idle timeout rolled it back.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut TxnState) -> Result<R>) -> Result<R> {
        let mut guard = self.slot.state.lock();
        let Some(state) = guard.as_mut() else {
            return Err(timed_out());
        };
        let result = f(state);
        self.slot
            .last_used
            .store(self.registry.now_ms(), Ordering::Relaxed);
        result
    }

    /// Takes the state out (`None` once taken, by a commit or the idle
    /// timeout) and ends the registration.
    fn finish(&mut self) -> Option<TxnState> {
        self.registry.open.lock().remove(&self.id);
        self.slot.state.lock().take()
    }

    /// Ends the transaction by handing its state to `commit` (the
    /// database's commit: locks, conflict check, write), counting the
    /// outcome; `transaction_timeout` if the idle timeout took it first.
    pub(crate) fn commit_with(mut self, commit: impl FnOnce(TxnState) -> Result<()>) -> Result<()> {
        let Some(state) = self.finish() else {
            return Err(timed_out());
        };
        let r = &self.registry;
        match commit(state) {
            Ok(()) => {
                r.commits.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(e) => {
                if e.code() == ErrorCode::SerializationFailure {
                    r.conflicts.fetch_add(1, Ordering::Relaxed);
                }
                r.rollbacks.fetch_add(1, Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Drops the writes (as dropping the handle does).
    pub(crate) fn rollback(self) {}
}

impl Drop for OpenTxn {
    fn drop(&mut self) {
        if self.finish().is_some() {
            self.registry.rollbacks.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn timed_out() -> Error {
    Error::query(
        ErrorCode::TransactionTimeout,
        "the transaction was idle past its timeout (Options::idle_transaction_timeout) and was rolled back: nothing of it was written",
    )
}
