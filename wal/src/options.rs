//! Database configuration: one struct, documented defaults.

use std::time::Duration;

/// How much durability a [`crate::Db`] trades for speed (docs/wal.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// A write is acknowledged once it is in the log's queue and applied;
    /// the log writer writes and fsyncs every `sync_interval` and on
    /// [`crate::Db::sync`], [`crate::Db::close`] and drop. A crash loses at
    /// most the writes of the last interval (never half a batch); a clean
    /// stop loses nothing.
    Async {
        /// How often queued log records are written and fsynced.
        sync_interval: Duration,
    },
    /// A write is acknowledged only after the fsync that covers it has
    /// completed. Concurrent writers share fsyncs (group commit).
    Durable,
    /// No log and no files: everything lives in memory and is lost when the
    /// database is dropped.
    Memory,
}

impl Default for Durability {
    /// `Async` with a 50 ms sync interval.
    fn default() -> Self {
        Durability::Async {
            sync_interval: Duration::from_millis(50),
        }
    }
}

impl Durability {
    /// `"async"`, `"durable"` or `"memory"`, for logs and stats.
    pub fn name(&self) -> &'static str {
        match self {
            Durability::Async { .. } => "async",
            Durability::Durable => "durable",
            Durability::Memory => "memory",
        }
    }
}

/// How a [`crate::Db`] is configured. Build it with struct-update syntax
/// over [`Options::default()`]:
///
/// ```
/// use fasty_wal::{Durability, Options};
/// let opts = Options { durability: Durability::Durable, ..Options::default() };
/// # let _ = opts;
/// ```
#[derive(Clone, Debug)]
pub struct Options {
    /// The durability mode. Default [`Durability::Async`] with 50 ms.
    pub durability: Durability,
    /// The storage engine's options. Its `memory_only` is set from
    /// `durability` (true exactly for [`Durability::Memory`]); its
    /// `custom_io` / `io` choose the backend the log is written through too.
    pub storage: fasty_storage::Options,
    /// Largest size of one log segment before the writer starts the next
    /// (a single record larger than this gets a segment of its own).
    /// Default 64 MiB.
    pub segment_size: u64,
    /// Async mode: queued log bytes at which the writer writes them out
    /// without waiting for the sync interval. Default 1 MiB.
    pub write_buffer_size: usize,
    /// Async mode: queued log bytes at which writers wait for the log
    /// writer to catch up, so a slow disk cannot make memory grow without
    /// bound. Default 64 MiB.
    pub max_queued_bytes: usize,
    /// Durable mode: keep the next segment written ahead of time (header
    /// and zeros up to `segment_size`, fsynced), so that appends overwrite
    /// allocated space and each fsync has no file size to record — shorter
    /// fsyncs, so more writes per second. Costs one spare segment of disk
    /// (`wal/spare.ready`) and writing each segment's size twice. Ignored
    /// in the other modes, whose opens remove a spare. Default true.
    pub preallocate_segments: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::default(),
            storage: fasty_storage::Options::default(),
            segment_size: 64 << 20,
            write_buffer_size: 1 << 20,
            max_queued_bytes: 64 << 20,
            preallocate_segments: true,
        }
    }
}

impl Options {
    /// Default options in durable mode.
    pub fn durable() -> Self {
        Options {
            durability: Durability::Durable,
            ..Options::default()
        }
    }

    /// Default options in memory mode: nothing touches the disk.
    pub fn memory() -> Self {
        Options {
            durability: Durability::Memory,
            ..Options::default()
        }
    }
}
