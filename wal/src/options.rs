//! Database configuration: one struct, documented defaults.

use std::time::Duration;

use crate::error::{Error, Result};

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

/// How a [`crate::Db`] is configured. Start from [`Options::default()`]
/// (async), [`Options::durable()`] or [`Options::memory()`] and change what
/// differs with the builder methods, `with_<field>(value)` for every field,
/// taking the field's type; every field's doc says its default:
///
/// ```
/// use fasty_wal::{Durability, Options};
/// let opts = Options::default()
///     .with_durability(Durability::Durable)
///     .with_segment_size(8 << 20);
/// # let _ = opts;
/// ```
///
/// Memory mode is chosen by the durability and nothing else:
/// [`Durability::Memory`] (which [`Options::memory()`] sets) keeps no log
/// and has the engine keep everything in memory. The engine's own
/// `memory_only` switch in [`Options::storage`] is for the engine used on
/// its own: here the database sets it from the durability, and
/// [`crate::Db::open`] refuses it set with any other durability
/// (`InvalidArgument`) rather than silently writing to disk.
///
/// New fields may be added in minor versions (the struct is
/// `#[non_exhaustive]`): build it from a default, not with a struct
/// literal.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// The durability mode, which also decides memory mode. Default
    /// [`Durability::Async`] with 50 ms.
    pub durability: Durability,
    /// The storage engine's options. Its `memory_only` is not for setting
    /// (the durability decides it; see above); its `custom_io` / `io`
    /// choose the backend the log is written through too. Default
    /// `fasty_storage::Options::default()`.
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
        Options::default().with_durability(Durability::Durable)
    }

    /// Default options in memory mode ([`Durability::Memory`]): nothing
    /// touches the disk.
    pub fn memory() -> Self {
        Options::default().with_durability(Durability::Memory)
    }

    /// Sets [`Options::durability`].
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets [`Options::storage`].
    #[must_use]
    pub fn with_storage(mut self, storage: fasty_storage::Options) -> Self {
        self.storage = storage;
        self
    }

    /// Sets [`Options::segment_size`].
    #[must_use]
    pub fn with_segment_size(mut self, segment_size: u64) -> Self {
        self.segment_size = segment_size;
        self
    }

    /// Sets [`Options::write_buffer_size`].
    #[must_use]
    pub fn with_write_buffer_size(mut self, write_buffer_size: usize) -> Self {
        self.write_buffer_size = write_buffer_size;
        self
    }

    /// Sets [`Options::max_queued_bytes`].
    #[must_use]
    pub fn with_max_queued_bytes(mut self, max_queued_bytes: usize) -> Self {
        self.max_queued_bytes = max_queued_bytes;
        self
    }

    /// Sets [`Options::preallocate_segments`].
    #[must_use]
    pub fn with_preallocate_segments(mut self, preallocate_segments: bool) -> Self {
        self.preallocate_segments = preallocate_segments;
        self
    }

    /// The engine's options as the database opens it: memory-only exactly
    /// in [`Durability::Memory`]. `InvalidArgument` if the storage options
    /// ask for memory mode under another durability (the durability
    /// decides; the two must not disagree).
    pub(crate) fn engine_options(&self) -> Result<fasty_storage::Options> {
        let memory = self.durability == Durability::Memory;
        if self.storage.memory_only && !memory {
            return Err(Error::InvalidArgument(
                "memory mode is chosen by the durability: use Durability::Memory, not the storage options' memory_only"
                    .into(),
            ));
        }
        Ok(self.storage.clone().with_memory_only(memory))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_durability_alone_decides_memory_mode() {
        assert!(Options::memory().engine_options().unwrap().memory_only);
        assert!(!Options::durable().engine_options().unwrap().memory_only);
        assert!(!Options::default().engine_options().unwrap().memory_only);
        let agrees = Options::memory().with_storage(fasty_storage::Options::memory());
        assert!(agrees.engine_options().unwrap().memory_only);
        for durability in [Durability::default(), Durability::Durable] {
            let disagrees = Options::default()
                .with_durability(durability)
                .with_storage(fasty_storage::Options::memory());
            let err = disagrees.engine_options().unwrap_err();
            assert_eq!(err.code(), "invalid_argument", "{err}");
            // Refused before anything is created.
            let dir = tempfile::tempdir().unwrap();
            let err = crate::Db::open(dir.path(), disagrees).err().unwrap();
            assert_eq!(err.code(), "invalid_argument", "{err}");
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }
}
