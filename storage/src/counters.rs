//! Counters of the engine's work since open, for [`crate::Stats`].

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters kept while the engine runs.
#[derive(Default)]
pub(crate) struct Counters {
    flushes: AtomicU64,
    compactions: AtomicU64,
    bytes_flushed: AtomicU64,
    bytes_compacted: AtomicU64,
    stalls: AtomicU64,
    stall_micros: AtomicU64,
    ingests: AtomicU64,
    bytes_ingested: AtomicU64,
}

/// The counters' values at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CounterValues {
    pub flushes: u64,
    pub compactions: u64,
    pub bytes_flushed: u64,
    pub bytes_compacted: u64,
    pub stalls: u64,
    pub stall_micros: u64,
    pub ingests: u64,
    pub bytes_ingested: u64,
}

impl Counters {
    /// A memtable was flushed, into a table of `bytes` (none if it held
    /// nothing to write).
    pub(crate) fn flushed(&self, bytes: Option<u64>) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        if let Some(bytes) = bytes {
            self.bytes_flushed.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// A compaction wrote `bytes` of tables.
    pub(crate) fn compacted(&self, bytes: u64) {
        self.compactions.fetch_add(1, Ordering::Relaxed);
        self.bytes_compacted.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A writer starts to wait for background work.
    pub(crate) fn stall_began(&self) {
        self.stalls.fetch_add(1, Ordering::Relaxed);
    }

    /// A writer waited `micros` for background work.
    pub(crate) fn stall_ended(&self, micros: u64) {
        self.stall_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// An ingest chunk became a sorted run of about `bytes`.
    pub(crate) fn ingested(&self, bytes: u64) {
        self.ingests.fetch_add(1, Ordering::Relaxed);
        self.bytes_ingested.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn read(&self) -> CounterValues {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterValues {
            flushes: get(&self.flushes),
            compactions: get(&self.compactions),
            bytes_flushed: get(&self.bytes_flushed),
            bytes_compacted: get(&self.bytes_compacted),
            stalls: get(&self.stalls),
            stall_micros: get(&self.stall_micros),
            ingests: get(&self.ingests),
            bytes_ingested: get(&self.bytes_ingested),
        }
    }
}
