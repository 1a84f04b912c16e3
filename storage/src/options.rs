//! Engine configuration: one struct, documented defaults.

use std::sync::Arc;

use crate::background::Stepper;
use crate::columnar::ValueLayout;
use crate::io::{Io, IoBackend};

/// How an [`crate::Engine`] is configured. Start from [`Options::default()`]
/// (or [`Options::memory()`]) and change what differs with the builder
/// methods, `with_<field>(value)` for every field, taking the field's type;
/// every field's doc says its default:
///
/// ```
/// let opts = fasty_storage::Options::default()
///     .with_memtable_budget(8 << 20)
///     .with_background(false);
/// # let _ = opts;
/// ```
///
/// Memory mode: [`Options::memory()`] (or `with_memory_only(true)`) keeps
/// everything in memory. That switch is for the engine used on its own;
/// `fasty_wal` sets it from its durability mode.
///
/// New fields may be added in minor versions (the struct is
/// `#[non_exhaustive]`): build it from a default, not with a struct
/// literal.
#[derive(Clone)]
#[non_exhaustive]
pub struct Options {
    /// Bytes of keys and values the active memtable holds before it is frozen
    /// and queued for flushing. Default 64 MiB.
    pub memtable_budget: usize,
    /// Frozen memtables that may wait for flushing before writes stall.
    /// Default 2.
    pub max_frozen_memtables: usize,
    /// Target uncompressed size of an SST data block. Default 4 KiB.
    pub block_size: usize,
    /// Byte budget of the cache of decompressed blocks. Default 128 MiB.
    pub block_cache_budget: usize,
    /// zstd level for SST blocks; 0 stores blocks uncompressed. Default 1.
    pub zstd_level: i32,
    /// The first level whose tables are compressed; tables written into
    /// shallower levels store their blocks uncompressed. Default 2: level 0
    /// and level 1 hold the newest, most read and soonest rewritten data,
    /// which a flush or a compaction would otherwise spend CPU compressing
    /// and every block-cache miss decompressing (uncompressed blocks are
    /// read straight from the file mapping). They are a small share of a
    /// large database, whose bulk (level 2 and deeper) stays compressed.
    pub compress_from_level: usize,
    /// The first level whose columnar tables (those written with a
    /// [`Options::value_layout`], from [`Options::columnar_from_level`] on)
    /// are compressed, in place of [`Options::compress_from_level`] for
    /// them. Columnar blocks are never compressed, so this decides only
    /// about such a table's row blocks — the keys outside any group, such
    /// as a database's index entries and catalog — and its index block.
    /// Those row blocks shrink about 3.5× with zstd level 1, but a point
    /// read or a scan of a compressed one goes through the block cache and
    /// decompresses on a miss, where an uncompressed one is read from the
    /// file mapping. Default `None`: as `compress_from_level`.
    pub columnar_compress_from_level: Option<usize>,
    /// Bloom filter bits per key. Default 10 (about 1% false positives).
    pub bloom_bits_per_key: u32,
    /// Which I/O backend writes files. Default [`IoBackend::Auto`].
    pub io: IoBackend,
    /// Keep everything in memory and never touch the disk. Default false.
    pub memory_only: bool,
    /// Level-0 files that trigger a compaction into level 1. Default 4.
    pub l0_compaction_trigger: usize,
    /// Level-0 files at which writes stall until compaction catches up.
    /// Default 16.
    pub l0_stall_files: usize,
    /// Target size of one SST produced by compaction. Default 64 MiB.
    pub target_file_size: u64,
    /// Size budget of level 1; each deeper level is 10× the one above.
    /// Default 256 MiB.
    pub level1_budget: u64,
    /// Run flushes and compactions on background threads (default true).
    /// With false they run only when `flush()`/`compact()` are called, which
    /// makes tests deterministic.
    pub background: bool,
    /// A custom I/O backend (tests use it for fault injection); overrides
    /// `io` when set.
    pub custom_io: Option<Arc<dyn Io>>,
    /// Tests only: run flushes and compactions as steps of this seeded
    /// [`Stepper`] instead of on threads of their own. Nothing then runs
    /// by itself: background work happens when the test steps the stepper
    /// or when a write that stalls on it drives the stepper (see
    /// [`crate::background`]). Ignored when `background` is false (no
    /// background work at all) and in memory-only mode. Default `None`.
    pub stepper: Option<Stepper>,
    /// How values split into typed fields. With a layout, flushes and
    /// compactions store the entries of the key groups it names (a
    /// table's rows) column by column, in columnar blocks with zone maps
    /// (SST format version 2), which [`crate::Snapshot::pieces`] hands up
    /// whole; without one, storage never looks inside values and writes
    /// version 1 tables. A data directory whose tables hold columnar
    /// blocks must be opened with the same layout. Default `None`.
    pub value_layout: Option<Arc<dyn ValueLayout>>,
    /// Rows at which a columnar block is cut (at the next key change, so
    /// a key's versions share a block; a block is also cut at 4 MiB of
    /// keys and values). Default 4096: two vectors of
    /// [`crate::VECTOR_ROWS`].
    pub columnar_block_rows: usize,
    /// The first level whose tables store columnar blocks (with a
    /// [`Options::value_layout`]); flushes into level 0 and compactions
    /// into shallower levels write row blocks, which are cheaper to write
    /// and serve point reads of recent keys with one cache line less per
    /// field. Scans read both kinds. Default 0: every table may be
    /// columnar.
    pub columnar_from_level: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memtable_budget: 64 << 20,
            max_frozen_memtables: 2,
            block_size: 4 << 10,
            block_cache_budget: 128 << 20,
            zstd_level: 1,
            compress_from_level: 2,
            columnar_compress_from_level: None,
            bloom_bits_per_key: 10,
            io: IoBackend::Auto,
            memory_only: false,
            l0_compaction_trigger: 4,
            l0_stall_files: 16,
            target_file_size: 64 << 20,
            level1_budget: 256 << 20,
            background: true,
            custom_io: None,
            stepper: None,
            value_layout: None,
            columnar_block_rows: 4096,
            columnar_from_level: 0,
        }
    }
}

impl Options {
    /// Options for a memory-only engine: nothing is written to disk.
    pub fn memory() -> Self {
        Options::default().with_memory_only(true)
    }

    /// Sets [`Options::memtable_budget`].
    #[must_use]
    pub fn with_memtable_budget(mut self, memtable_budget: usize) -> Self {
        self.memtable_budget = memtable_budget;
        self
    }

    /// Sets [`Options::max_frozen_memtables`].
    #[must_use]
    pub fn with_max_frozen_memtables(mut self, max_frozen_memtables: usize) -> Self {
        self.max_frozen_memtables = max_frozen_memtables;
        self
    }

    /// Sets [`Options::block_size`].
    #[must_use]
    pub fn with_block_size(mut self, block_size: usize) -> Self {
        self.block_size = block_size;
        self
    }

    /// Sets [`Options::block_cache_budget`].
    #[must_use]
    pub fn with_block_cache_budget(mut self, block_cache_budget: usize) -> Self {
        self.block_cache_budget = block_cache_budget;
        self
    }

    /// Sets [`Options::zstd_level`].
    #[must_use]
    pub fn with_zstd_level(mut self, zstd_level: i32) -> Self {
        self.zstd_level = zstd_level;
        self
    }

    /// Sets [`Options::compress_from_level`].
    #[must_use]
    pub fn with_compress_from_level(mut self, compress_from_level: usize) -> Self {
        self.compress_from_level = compress_from_level;
        self
    }

    /// Sets [`Options::columnar_compress_from_level`].
    #[must_use]
    pub fn with_columnar_compress_from_level(
        mut self,
        columnar_compress_from_level: Option<usize>,
    ) -> Self {
        self.columnar_compress_from_level = columnar_compress_from_level;
        self
    }

    /// Sets [`Options::bloom_bits_per_key`].
    #[must_use]
    pub fn with_bloom_bits_per_key(mut self, bloom_bits_per_key: u32) -> Self {
        self.bloom_bits_per_key = bloom_bits_per_key;
        self
    }

    /// Sets [`Options::io`].
    #[must_use]
    pub fn with_io(mut self, io: IoBackend) -> Self {
        self.io = io;
        self
    }

    /// Sets [`Options::memory_only`].
    #[must_use]
    pub fn with_memory_only(mut self, memory_only: bool) -> Self {
        self.memory_only = memory_only;
        self
    }

    /// Sets [`Options::l0_compaction_trigger`].
    #[must_use]
    pub fn with_l0_compaction_trigger(mut self, l0_compaction_trigger: usize) -> Self {
        self.l0_compaction_trigger = l0_compaction_trigger;
        self
    }

    /// Sets [`Options::l0_stall_files`].
    #[must_use]
    pub fn with_l0_stall_files(mut self, l0_stall_files: usize) -> Self {
        self.l0_stall_files = l0_stall_files;
        self
    }

    /// Sets [`Options::target_file_size`].
    #[must_use]
    pub fn with_target_file_size(mut self, target_file_size: u64) -> Self {
        self.target_file_size = target_file_size;
        self
    }

    /// Sets [`Options::level1_budget`].
    #[must_use]
    pub fn with_level1_budget(mut self, level1_budget: u64) -> Self {
        self.level1_budget = level1_budget;
        self
    }

    /// Sets [`Options::background`].
    #[must_use]
    pub fn with_background(mut self, background: bool) -> Self {
        self.background = background;
        self
    }

    /// Sets [`Options::custom_io`].
    #[must_use]
    pub fn with_custom_io(mut self, custom_io: Option<Arc<dyn Io>>) -> Self {
        self.custom_io = custom_io;
        self
    }

    /// Sets [`Options::stepper`].
    #[must_use]
    pub fn with_stepper(mut self, stepper: Option<Stepper>) -> Self {
        self.stepper = stepper;
        self
    }

    /// Sets [`Options::columnar_block_rows`].
    #[must_use]
    pub fn with_columnar_block_rows(mut self, columnar_block_rows: usize) -> Self {
        self.columnar_block_rows = columnar_block_rows;
        self
    }

    /// Sets [`Options::columnar_from_level`].
    #[must_use]
    pub fn with_columnar_from_level(mut self, columnar_from_level: usize) -> Self {
        self.columnar_from_level = columnar_from_level;
        self
    }

    /// Sets [`Options::value_layout`].
    #[must_use]
    pub fn with_value_layout(mut self, value_layout: Option<Arc<dyn ValueLayout>>) -> Self {
        self.value_layout = value_layout;
        self
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("memtable_budget", &self.memtable_budget)
            .field("max_frozen_memtables", &self.max_frozen_memtables)
            .field("block_size", &self.block_size)
            .field("block_cache_budget", &self.block_cache_budget)
            .field("zstd_level", &self.zstd_level)
            .field("compress_from_level", &self.compress_from_level)
            .field(
                "columnar_compress_from_level",
                &self.columnar_compress_from_level,
            )
            .field("bloom_bits_per_key", &self.bloom_bits_per_key)
            .field("io", &self.io)
            .field("memory_only", &self.memory_only)
            .field("l0_compaction_trigger", &self.l0_compaction_trigger)
            .field("l0_stall_files", &self.l0_stall_files)
            .field("target_file_size", &self.target_file_size)
            .field("level1_budget", &self.level1_budget)
            .field("background", &self.background)
            .field("custom_io", &self.custom_io.as_ref().map(|io| io.name()))
            .field("stepper", &self.stepper.as_ref().map(|s| s.seed()))
            .field("value_layout", &self.value_layout)
            .field("columnar_block_rows", &self.columnar_block_rows)
            .field("columnar_from_level", &self.columnar_from_level)
            .finish()
    }
}
