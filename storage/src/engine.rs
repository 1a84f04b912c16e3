//! The public face of the storage engine: [`Engine`], [`Snapshot`] and
//! [`Stats`].
//!
//! Writes are serialised by one write lock and land in the active memtable;
//! a batch becomes visible to readers only when the engine's visible
//! sequence number moves past it, so no reader sees half a batch. Full
//! memtables are frozen and flushed to level-0 SSTs by a background worker
//! ([`crate::flush`]); a second one merges levels ([`crate::compaction`]).
//! Each runs on a thread of its own, or as steps of the options' stepper
//! ([`crate::workers`]). When either falls behind, writers stall instead of
//! letting memory grow.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::background::Registration;
use crate::batch::{BatchOp, WriteBatch};
use crate::cache::BlockCache;
use crate::columnar::{PointRead, PointRef};
use crate::compaction::{Compactor, picker};
use crate::context::Context;
use crate::counters::Counters;
use crate::dir::{check_fresh, lock_dir, remove_orphans};
use crate::error::{Error, Result};
use crate::flush::Flusher;
use crate::io::{Io, open_backend};
use crate::iter::{KeyRange, MergeIter, Scan, Source, owned_bounds};
use crate::manifest::{MANIFEST_FILE, Manifest, sst_path};
use crate::memtable::{MAX_SEQNO, MemCursor, Memtable, build_run};
use crate::options::Options;
use crate::pieces::{BlockFilter, Pieces};
use crate::snapshots::Snapshots;
use crate::sst::{Table, TableRef};
use crate::status::Status;
use crate::types::{Kind, Seqno};
use crate::version::{NUM_LEVELS, SuperVersion, Version};
use crate::versions::Versions;
use crate::workers::{Outcome, Signal, outcome, register, spawn, thread_loop};

/// The key filter size of a snapshot's private memtable (see
/// [`Snapshot::write_private`]): a transaction's writes are usually few.
const PRIVATE_FILTER_BUDGET: usize = 64 << 10;

/// State shared by the engine handle, its snapshots and its background
/// workers: the parts ([`Versions`], [`Status`], [`Snapshots`],
/// [`Counters`], the [`Flusher`] and the [`Compactor`]) and the write path
/// that joins them.
pub(crate) struct Inner {
    dir: PathBuf,
    opts: Options,
    /// `None` in memory-only mode.
    io: Option<Arc<dyn Io>>,
    cache: Arc<BlockCache>,
    versions: Versions,
    /// Serialises writers; holds the active memtable (the same one as the
    /// super version's) so a write needs no other lock.
    write_lock: Mutex<Arc<Memtable>>,
    /// Highest sequence number whose batch is fully in the memtable.
    visible_seqno: AtomicU64,
    status: Status,
    snapshots: Snapshots,
    /// Wakes background threads and stalled writers.
    signal: Signal,
    flusher: Flusher,
    compactor: Compactor,
    counters: Counters,
    /// Held for the engine's lifetime so no second engine opens the directory.
    _lock_file: Option<File>,
}

/// An ordered key-value store: an LSM tree of memtables and SSTs.
///
/// All methods take `&self`; share an engine between threads with an `Arc`.
/// Writes are not durable until flushed (the WAL crate adds a log on top);
/// [`Engine::close`] and dropping the engine flush everything.
pub struct Engine {
    inner: Arc<Inner>,
    threads: Vec<JoinHandle<()>>,
    /// The background steps registered with `opts.stepper` (instead of
    /// threads); dropping them unregisters the steps.
    steps: Vec<Registration>,
    closed: bool,
}

/// A stable read view: sees exactly the batches applied up to its sequence
/// number, however many writes, flushes and compactions happen after.
pub struct Snapshot {
    inner: Arc<Inner>,
    seqno: Seqno,
    /// Writes made through this view alone ([`Snapshot::write_private`]),
    /// at `seqno`: read before everything else, never applied.
    private: Option<Arc<Memtable>>,
}

/// Files and bytes in one level.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LevelStats {
    /// Number of SST files.
    pub files: usize,
    /// Their total size on disk.
    pub bytes: u64,
    /// Data blocks among them stored column by column (see
    /// [`Options::value_layout`](crate::Options::value_layout)); the rest
    /// are row blocks.
    pub columnar_blocks: usize,
}

/// A point-in-time report on the engine.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Stats {
    /// The I/O backend in use (`"uring"`, `"std"`, `"memory"`, …).
    pub io_backend: &'static str,
    /// Highest sequence number applied and visible.
    pub last_seqno: Seqno,
    /// Highest sequence number safely in SSTs.
    pub flushed_seqno: Seqno,
    /// Approximate bytes in the active memtable.
    pub memtable_bytes: usize,
    /// Frozen memtables waiting to be flushed, and their bytes.
    pub frozen_memtables: usize,
    /// Approximate bytes in frozen memtables.
    pub frozen_bytes: usize,
    /// Files and bytes per level, level 0 first.
    pub levels: Vec<LevelStats>,
    /// Block cache hits, misses and bytes held.
    pub cache_hits: u64,
    /// See `cache_hits`.
    pub cache_misses: u64,
    /// See `cache_hits`.
    pub cache_bytes: u64,
    /// Memtables flushed and compactions run since open.
    pub flushes: u64,
    /// See `flushes`.
    pub compactions: u64,
    /// SST bytes written by flushes and by compactions since open.
    pub bytes_flushed: u64,
    /// See `bytes_flushed`.
    pub bytes_compacted: u64,
    /// Times a writer waited for flush or compaction, and for how long.
    pub write_stalls: u64,
    /// See `write_stalls`.
    pub write_stall_micros: u64,
    /// Chunks [`Engine::ingest_batches`] turned into sorted runs since open
    /// (their flushes count in `flushes`).
    pub ingests: u64,
    /// Approximate memory bytes of those runs.
    pub bytes_ingested: u64,
    /// Live snapshots.
    pub snapshots: usize,
    /// Why writes are refused, if they are.
    pub poisoned: Option<String>,
}

impl Engine {
    /// Opens (or creates) the engine in `dir`.
    ///
    /// Reads the manifest, opens every SST it lists (checking footers,
    /// indexes and filters), removes files a crash left behind, and starts
    /// the background threads. In memory-only mode `dir` is not touched.
    ///
    /// A directory without a manifest becomes a new engine only if it
    /// holds no table files (and no `MANIFEST.tmp` listing tables);
    /// otherwise the manifest was lost and this is
    /// [`Error::MissingManifest`], with nothing changed or deleted:
    /// [`crate::repair::rebuild_manifest`] (`fasty admin repair`) rebuilds it.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Engine> {
        let dir = dir.as_ref().to_path_buf();
        let cache = Arc::new(BlockCache::new(opts.block_cache_budget));
        let budget = opts.memtable_budget;
        let empty = |version: Version| SuperVersion {
            active: Arc::new(Memtable::new(budget)),
            frozen: Vec::new(),
            version: Arc::new(version),
        };
        if opts.memory_only {
            let inner = Inner::new(dir, opts, None, cache, empty(Version::empty()), 0, 1, None);
            return Ok(Engine {
                inner: Arc::new(inner),
                threads: Vec::new(),
                steps: Vec::new(),
                closed: false,
            });
        }
        let io = match &opts.custom_io {
            Some(io) => io.clone(),
            None => open_backend(opts.io)?,
        };
        io.create_dir_all(&dir)?;
        let lock_file = lock_dir(&dir)?;
        let manifest = match Manifest::load(io.as_ref(), &dir)? {
            Some(m) => m,
            None => {
                check_fresh(io.as_ref(), &dir)?;
                let m = Version::empty().to_manifest(1, 0);
                m.store(io.as_ref(), &dir)?;
                m
            }
        };
        Engine::start(dir, opts, io, lock_file, &manifest, true)
    }

    /// Starts an on-disk engine on `manifest` (loaded, or rebuilt by
    /// [`crate::repair::rebuild_manifest`] and not yet stored): opens every
    /// table it lists and, when `remove_orphans`, removes the files a crash
    /// left behind.
    pub(crate) fn start(
        dir: PathBuf,
        opts: Options,
        io: Arc<dyn Io>,
        lock_file: File,
        manifest: &Manifest,
        remove_orphans: bool,
    ) -> Result<Engine> {
        let cache = Arc::new(BlockCache::new(opts.block_cache_budget));
        let budget = opts.memtable_budget;
        let mut version = Version::empty();
        let mut max_id = 0;
        let mut live = std::collections::HashSet::new();
        for (level, records) in manifest.levels.iter().enumerate() {
            if level >= NUM_LEVELS {
                if records.is_empty() {
                    continue;
                }
                return Err(Error::corruption(
                    dir.join(MANIFEST_FILE),
                    0,
                    format!("manifest lists tables in level {level}, beyond the last level"),
                ));
            }
            for rec in records {
                let path = sst_path(&dir, rec.id);
                let table = Table::open_with(
                    &path,
                    rec.id,
                    cache.clone(),
                    io.clone(),
                    opts.value_layout.clone(),
                )?;
                if table.meta() != &rec.meta {
                    return Err(Error::corruption(
                        &path,
                        0,
                        "table properties disagree with the manifest",
                    ));
                }
                max_id = max_id.max(rec.id);
                live.insert(rec.id);
                version.levels[level].push(Arc::new(table));
            }
        }
        if remove_orphans {
            self::remove_orphans(io.as_ref(), &dir, &live)?;
        }
        let next_file_id = manifest.next_file_id.max(max_id + 1);
        let current = SuperVersion {
            active: Arc::new(Memtable::new(budget)),
            frozen: Vec::new(),
            version: Arc::new(version),
        };
        let inner = Arc::new(Inner::new(
            dir,
            opts,
            Some(io),
            cache,
            current,
            manifest.flushed_seqno,
            next_file_id,
            Some(lock_file),
        ));
        let mut threads = Vec::new();
        let mut steps = Vec::new();
        if inner.opts.background {
            match inner.opts.stepper.clone() {
                Some(stepper) => {
                    steps.push(register(
                        &stepper,
                        "storage-flush",
                        &inner,
                        Inner::flush_step,
                    ));
                    steps.push(register(
                        &stepper,
                        "storage-compaction",
                        &inner,
                        Inner::compaction_step,
                    ));
                }
                None => {
                    threads.push(spawn("fasty-flush", inner.clone(), Inner::flush_loop)?);
                    threads.push(spawn(
                        "fasty-compact",
                        inner.clone(),
                        Inner::compaction_loop,
                    )?);
                }
            }
        }
        Ok(Engine {
            inner,
            threads,
            steps,
            closed: false,
        })
    }

    /// Writes the manifest of the engine's current tables (repair: a
    /// rebuilt manifest that needs no compaction).
    pub(crate) fn store_current_manifest(&self) -> Result<()> {
        let inner = &self.inner;
        let version = inner.current().version.clone();
        let stored = inner
            .ctx()?
            .store_manifest(&version, inner.versions.flushed_seqno());
        inner.signal.notify();
        stored
    }

    /// Applies `batch` atomically as sequence number `seqno`, which must be
    /// greater than every earlier one. Readers see all of the batch or none
    /// of it. May wait (a write stall) while flushes or compactions catch up.
    pub fn apply(&self, batch: &WriteBatch, seqno: Seqno) -> Result<()> {
        self.inner.apply(batch, seqno)
    }

    /// The flushed sequence number recorded in `dir`'s manifest, read
    /// without opening the engine (no lock taken, nothing changed): for
    /// tools such as a log verifier that must not disturb a directory.
    /// `Ok(None)` when `dir` holds no engine.
    pub fn flushed_seqno_in(dir: impl AsRef<Path>) -> Result<Option<Seqno>> {
        let io = crate::io::std_fs::StdIo::new();
        Ok(Manifest::load(&io, dir.as_ref())?.map(|m| m.flushed_seqno))
    }

    /// Applies many batches at once, in order, for bulk loading such as a
    /// write-ahead log's replay: the result is exactly that of calling
    /// [`Engine::apply`] for each `(seqno, batch)` in turn, but the batches
    /// bypass the skiplist of the active memtable. Sequence numbers must increase strictly and the
    /// first must be above [`Engine::last_seqno`].
    ///
    /// The batches are taken in *chunks*: a chunk ends with the batch that
    /// brings its encoded size ([`WriteBatch::as_bytes`]) to
    /// [`crate::Options::memtable_budget`] or more, or with the last batch.
    /// The versions of a chunk are sorted into internal order and copied
    /// into one immutable *sorted run*, an in-memory table that takes its
    /// place in front of the frozen memtables (a non-empty active memtable
    /// is frozen first, as its writes are older), and the chunk becomes
    /// visible, all at once. The background flush then writes the run to a
    /// level-0 SST like any frozen memtable.
    ///
    /// The contract is the one of `apply`: the batches are visible when this
    /// returns and durable once flushed; [`Engine::flushed_seqno`] tells how
    /// far that is (a write-ahead log keeps them until then). A crash loses
    /// whole unflushed chunks, newest first, never part of one. Like
    /// `apply`, a chunk may first wait while the frozen memtables are
    /// flushed or level 0 is compacted (a write stall), which bounds memory
    /// to about `max_frozen_memtables + 1` chunks. Without background
    /// threads each chunk is flushed, and due compactions run, before the
    /// next one, so on return everything is durable. Other writers wait
    /// while a chunk is installed (it takes the write lock), not while it
    /// is sorted.
    ///
    /// In memory-only mode the batches are applied one by one.
    ///
    /// Errors: `InvalidArgument` for a sequence number that is not above the
    /// previous one; I/O failures (of a flush without background threads)
    /// poison the engine as a failed flush does. Chunks before the failing
    /// one stay ingested (see `last_seqno` and `flushed_seqno`).
    pub fn ingest_batches<I, B>(&self, batches: I) -> Result<()>
    where
        I: IntoIterator<Item = (Seqno, B)>,
        B: std::borrow::Borrow<WriteBatch>,
    {
        self.inner.ingest(batches.into_iter())
    }

    /// The current value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.get_at(key, self.inner.visible_seqno(), None)
    }

    /// The current value of `key`, as stored: see [`Snapshot::get_ref`].
    pub fn get_ref(&self, key: &[u8]) -> Result<Option<PointRead>> {
        self.inner.get_ref_at(key, self.inner.visible_seqno(), None)
    }

    /// Calls `f` with the current value of `key`, as stored and borrowed:
    /// see [`Snapshot::with_ref`].
    pub fn with_ref<R>(&self, key: &[u8], f: impl FnOnce(Option<PointRef<'_>>) -> R) -> Result<R> {
        self.inner
            .with_ref_at(key, self.inner.visible_seqno(), None, f)
    }

    /// The live pairs within `range`, keys ascending.
    pub fn scan(&self, range: impl KeyRange) -> Scan {
        self.inner
            .scan_at(&range, self.inner.visible_seqno(), None, false)
    }

    /// The live pairs within `range`, keys descending.
    pub fn scan_rev(&self, range: impl KeyRange) -> Scan {
        self.inner
            .scan_at(&range, self.inner.visible_seqno(), None, true)
    }

    /// A stable read view as of now.
    pub fn snapshot(&self) -> Snapshot {
        self.inner.snapshot()
    }

    /// Whether `key` has a version (a put or a tombstone) with a sequence
    /// number above `seqno`: what a transaction that read at `seqno` asks
    /// of each key it is about to write, to find a write it did not see.
    /// Costs a memtable lookup, plus one in each table written since
    /// `seqno` (usually none).
    pub fn written_after(&self, key: &[u8], seqno: Seqno) -> Result<bool> {
        self.inner.written_after(key, seqno)
    }

    /// Writes every memtable to SSTs and waits until they are durable.
    pub fn flush(&self) -> Result<()> {
        self.inner.flush_all()
    }

    /// Flushes, then merges every table into one sorted level, dropping
    /// overwritten versions and tombstones no snapshot needs.
    pub fn compact(&self) -> Result<()> {
        self.inner.compact_all()
    }

    /// Highest sequence number applied so far.
    pub fn last_seqno(&self) -> Seqno {
        self.inner.visible_seqno()
    }

    /// Every batch with a sequence number at or below this is in SSTs and
    /// survives a crash; a write-ahead log need replay only what follows.
    pub fn flushed_seqno(&self) -> Seqno {
        self.inner.versions.flushed_seqno()
    }

    /// A report on memtables, levels, cache and background work.
    pub fn stats(&self) -> Stats {
        self.inner.stats()
    }

    /// The engine's data directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The I/O backend writing this engine's files (`None` when memory-only),
    /// so layers above (the WAL) can share it.
    pub fn io(&self) -> Option<Arc<dyn Io>> {
        self.inner.io.clone()
    }

    /// Flushes everything, stops the background threads and closes the
    /// engine. Errors say what could not be flushed.
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let flushed = if self.inner.io.is_some() && !self.inner.is_poisoned() {
            self.inner.flush_all()
        } else {
            Ok(())
        };
        self.steps.clear();
        self.inner.signal.shut_down();
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                tracing::error!("a background thread panicked");
            }
        }
        flushed
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "flush on drop failed; unflushed writes are lost");
        }
    }
}

impl Snapshot {
    /// The sequence number this view reads at.
    pub fn seqno(&self) -> Seqno {
        self.seqno
    }

    /// The value of `key` as of this snapshot.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        self.inner.get_at(key, self.seqno, self.private.as_ref())
    }

    /// What [`Snapshot::get`] finds, without building the value's bytes
    /// when it lies in a columnar block: [`PointRead::Block`] hands the
    /// block and the row (for readers that want typed fields), anything
    /// else comes as [`PointRead::Row`] bytes.
    pub fn get_ref(&self, key: &[u8]) -> Result<Option<PointRead>> {
        self.inner
            .get_ref_at(key, self.seqno, self.private.as_ref())
    }

    /// Calls `f` with what [`Snapshot::get_ref`] finds (`None`: no live
    /// value), borrowed for the call: a row of a columnar block comes as
    /// a reference to the block the table keeps, so the read takes no
    /// reference on it — the point-read path of many threads reading the
    /// same blocks. `f`'s result is returned; an error means `f` was not
    /// called.
    pub fn with_ref<R>(&self, key: &[u8], f: impl FnOnce(Option<PointRef<'_>>) -> R) -> Result<R> {
        self.inner
            .with_ref_at(key, self.seqno, self.private.as_ref(), f)
    }

    /// The pairs within `range` as of this snapshot, keys ascending.
    pub fn scan(&self, range: impl KeyRange) -> Scan {
        self.inner
            .scan_at(&range, self.seqno, self.private.as_ref(), false)
    }

    /// The pairs within `range` as of this snapshot, keys descending.
    pub fn scan_rev(&self, range: impl KeyRange) -> Scan {
        self.inner
            .scan_at(&range, self.seqno, self.private.as_ref(), true)
    }

    /// The live pairs within `range` as of this snapshot, keys ascending,
    /// grouped into [`crate::Piece`]s: exactly what [`Snapshot::scan`] yields, in
    /// the same order, but the rows of a columnar block (all of them, or
    /// a run of at least 32) that no other source interleaves come up as
    /// one [`crate::Piece::Block`] (the block, and a [`crate::Selection`]
    /// of its live rows), undecoded; everything else comes up as
    /// [`crate::Piece::Rows`] of pairs. With a `skip` filter, such a run
    /// is left out when the filter's verdict on its block's zone maps is
    /// [`crate::Verdict::Skip`] (the caller's promise that no row of the
    /// block matches what it is looking for).
    pub fn pieces<'f>(
        &self,
        range: impl KeyRange,
        skip: Option<&'f dyn BlockFilter>,
    ) -> Pieces<'f> {
        self.inner
            .pieces_at(&range, self.seqno, self.private.as_ref(), skip)
    }

    /// Adds `batch` to this snapshot's private writes: every read through
    /// this snapshot (gets, scans, pieces) sees them as the newest version
    /// of their keys, later ones replacing earlier ones, while nothing
    /// reaches the engine or any other reader. A transaction reads its own
    /// writes this way before [`Snapshot::private_writes`] commits them
    /// as one batch. The batch goes in whole (inserting into memory cannot
    /// fail half-way).
    pub fn write_private(&mut self, batch: &WriteBatch) {
        if batch.is_empty() {
            return;
        }
        let mem = self
            .private
            .get_or_insert_with(|| Arc::new(Memtable::new(PRIVATE_FILTER_BUDGET)));
        for op in batch.iter() {
            // A private memtable is a skiplist, never a sorted run, so
            // every insert lands.
            let _ = match op {
                BatchOp::Put(key, value) => mem.insert(key, self.seqno, Kind::Put, value),
                BatchOp::Delete(key) => mem.insert(key, self.seqno, Kind::Delete, b""),
            };
        }
        mem.note_seqno(self.seqno);
    }

    /// Approximate memory held by the private writes, in bytes.
    pub fn private_bytes(&self) -> usize {
        self.private.as_ref().map_or(0, |m| m.approximate_bytes())
    }

    /// The private writes as one batch: the last write of each key, keys
    /// ascending (empty when there are none).
    pub fn private_writes(&self) -> WriteBatch {
        let mut batch = WriteBatch::new();
        let Some(mem) = &self.private else {
            return batch;
        };
        let mut cursor = MemCursor::new(
            mem.clone(),
            std::ops::Bound::Unbounded,
            std::ops::Bound::Unbounded,
            false,
        );
        // One version per key: all of them carry this snapshot's seqno,
        // and a second write of a key replaced the first.
        while cursor.advance() {
            match cursor.kind() {
                Kind::Put => batch.put(cursor.key(), cursor.value()),
                Kind::Delete => batch.delete(cursor.key()),
            }
        }
        batch
    }

    /// Drops the private writes.
    pub fn clear_private(&mut self) {
        self.private = None;
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.inner.snapshots.unpin(self.seqno);
    }
}

impl Inner {
    #[allow(clippy::too_many_arguments)]
    fn new(
        dir: PathBuf,
        opts: Options,
        io: Option<Arc<dyn Io>>,
        cache: Arc<BlockCache>,
        current: SuperVersion,
        flushed_seqno: Seqno,
        next_file_id: u64,
        lock_file: Option<File>,
    ) -> Inner {
        let active = current.active.clone();
        let versions = Versions::new(
            dir.clone(),
            io.clone(),
            current,
            flushed_seqno,
            next_file_id,
        );
        Inner {
            dir,
            opts,
            io,
            cache,
            versions,
            write_lock: Mutex::new(active),
            visible_seqno: AtomicU64::new(flushed_seqno),
            status: Status::default(),
            snapshots: Snapshots::default(),
            signal: Signal::default(),
            flusher: Flusher::default(),
            compactor: Compactor::default(),
            counters: Counters::default(),
            _lock_file: lock_file,
        }
    }

    /// What a flush or a compaction works with; [`Error::Closed`] in
    /// memory-only mode, which has neither.
    fn ctx(&self) -> Result<Context<'_>> {
        Ok(Context {
            opts: &self.opts,
            io: self.io.as_ref().ok_or(Error::Closed)?,
            cache: &self.cache,
            versions: &self.versions,
            status: &self.status,
            counters: &self.counters,
        })
    }

    fn current(&self) -> Arc<SuperVersion> {
        self.versions.current()
    }

    /// Replaces the super version; callers hold the write lock.
    fn install(&self, f: impl FnOnce(&SuperVersion) -> SuperVersion) {
        self.versions.install(f);
    }

    fn visible_seqno(&self) -> Seqno {
        self.visible_seqno.load(Ordering::Acquire)
    }

    fn is_poisoned(&self) -> bool {
        self.status.is_poisoned()
    }

    fn check_writable(&self) -> Result<()> {
        self.status.check_writable()
    }

    /// Freezes the active memtable and flushes every frozen one.
    fn flush_all(&self) -> Result<()> {
        if self.io.is_none() {
            return Ok(());
        }
        self.check_writable()?;
        self.freeze_active();
        while self.flush_oldest()? {}
        if !self.opts.background {
            while self.compact_once()? {}
        }
        Ok(())
    }

    /// Flushes the oldest frozen memtable (see [`Flusher::flush_oldest`]),
    /// then wakes whoever waits on background work.
    fn flush_oldest(&self) -> Result<bool> {
        let flushed = self.flusher.flush_oldest(&self.ctx()?);
        self.signal.notify();
        flushed
    }

    /// Runs one compaction if one is due (see [`Compactor::compact_once`]),
    /// then wakes whoever waits on background work.
    fn compact_once(&self) -> Result<bool> {
        let compacted = self
            .compactor
            .compact_once(&self.ctx()?, || self.snapshots.list());
        self.signal.notify();
        compacted
    }

    /// Flushes, then merges every table into the deepest level in use.
    fn compact_all(&self) -> Result<()> {
        if self.io.is_none() {
            return Ok(());
        }
        self.flush_all()?;
        let compacted = self
            .compactor
            .compact_all(&self.ctx()?, || self.snapshots.list());
        self.signal.notify();
        compacted
    }

    /// Body of the background flush thread.
    fn flush_loop(&self) {
        thread_loop(
            &self.signal,
            || !self.is_poisoned() && self.flush_due(),
            || self.flush_step(),
        );
    }

    /// One step of the background flush: flushes the oldest frozen
    /// memtable, if any. A memtable whose flush failed for lack of space
    /// stays frozen (and readable) until the retry.
    fn flush_step(&self) -> Outcome {
        if self.is_poisoned() || !self.flush_due() {
            return Outcome::Idle;
        }
        outcome("flush", self.flush_oldest())
    }

    fn flush_due(&self) -> bool {
        !self.current().frozen.is_empty()
    }

    /// Body of the background compaction thread.
    fn compaction_loop(&self) {
        thread_loop(
            &self.signal,
            || !self.is_poisoned() && self.compaction_due(),
            || self.compaction_step(),
        );
    }

    /// One step of the background compaction: runs one compaction if one
    /// is due.
    fn compaction_step(&self) -> Outcome {
        if self.is_poisoned() || !self.compaction_due() {
            return Outcome::Idle;
        }
        outcome("compaction", self.compact_once())
    }

    fn compaction_due(&self) -> bool {
        picker::compaction_due(&self.current().version, &self.opts)
    }

    fn apply(&self, batch: &WriteBatch, seqno: Seqno) -> Result<()> {
        let (mut active, full) = loop {
            let active = self.write_lock.lock();
            self.check_writable()?;
            let last = self.visible_seqno();
            if seqno <= last {
                return Err(Error::InvalidArgument(format!(
                    "sequence number {seqno} is not above the last applied {last}"
                )));
            }
            if seqno > MAX_SEQNO {
                return Err(Error::InvalidArgument(format!(
                    "sequence number {seqno} is above the largest allowed, {MAX_SEQNO}"
                )));
            }
            let full =
                !self.opts.memory_only && active.approximate_bytes() >= self.opts.memtable_budget;
            if full && self.stepped_stall() {
                // Under a stepper the stall runs background steps on this
                // thread, which must not hold the write lock meanwhile (a
                // step may write too); then the checks run again.
                drop(active);
                self.make_room()?;
                continue;
            }
            break (active, full);
        };
        if full {
            self.make_room()?;
            *active = self.rotate();
            self.signal.notify();
        }
        for op in batch.iter() {
            let inserted = match op {
                BatchOp::Put(key, value) => active.insert(key, seqno, Kind::Put, value),
                BatchOp::Delete(key) => active.insert(key, seqno, Kind::Delete, b""),
            };
            if !inserted {
                // Only possible on the first operation (the memtable's kind
                // never changes), so nothing of the batch is applied.
                return Err(Error::InvalidArgument(
                    "internal error: the active memtable is an immutable run".into(),
                ));
            }
        }
        active.note_seqno(seqno);
        self.visible_seqno.store(seqno, Ordering::Release);
        Ok(())
    }

    fn ingest<B: std::borrow::Borrow<WriteBatch>>(
        &self,
        batches: impl Iterator<Item = (Seqno, B)>,
    ) -> Result<()> {
        if self.opts.memory_only {
            for (seqno, batch) in batches {
                self.apply(batch.borrow(), seqno)?;
            }
            return Ok(());
        }
        let budget = self.opts.memtable_budget.max(1);
        let mut chunk: Vec<(Seqno, B)> = Vec::new();
        let mut bytes = 0usize;
        let mut prev: Option<Seqno> = None;
        for (seqno, batch) in batches {
            if let Some(prev) = prev
                && seqno <= prev
            {
                return Err(Error::InvalidArgument(format!(
                    "sequence number {seqno} is not above the previous one, {prev}"
                )));
            }
            prev = Some(seqno);
            bytes = bytes.saturating_add(batch.borrow().as_bytes().len());
            chunk.push((seqno, batch));
            if bytes >= budget {
                self.ingest_one(&chunk)?;
                chunk.clear();
                bytes = 0;
            }
        }
        self.ingest_one(&chunk)
    }

    /// Ingests one chunk (see [`Engine::ingest_batches`]): builds its sorted
    /// run and puts it in front of the frozen memtables.
    fn ingest_one<B: std::borrow::Borrow<WriteBatch>>(&self, chunk: &[(Seqno, B)]) -> Result<()> {
        let (Some((first, _)), Some((last, _))) = (chunk.first(), chunk.last()) else {
            return Ok(());
        };
        let check = |prev: Seqno| {
            if *first <= prev {
                return Err(Error::InvalidArgument(format!(
                    "sequence number {first} is not above the last applied {prev}"
                )));
            }
            if *last > MAX_SEQNO {
                return Err(Error::InvalidArgument(format!(
                    "sequence number {last} is above the largest allowed, {MAX_SEQNO}"
                )));
            }
            Ok(())
        };
        // Fail fast and wait for room before building the run, so no more
        // than `max_frozen_memtables` runs plus the one being built are held.
        self.check_writable()?;
        check(self.visible_seqno())?;
        self.make_room()?;
        let Some(run) = build_run(chunk) else {
            return Ok(());
        };
        let run = Arc::new(run);
        {
            let _active = loop {
                let mut active = self.write_lock.lock();
                self.check_writable()?;
                check(self.visible_seqno())?;
                // Reads take the active memtable before the frozen ones:
                // writes in it are older than the run and must move behind
                // it.
                if !active.is_empty() {
                    *active = self.rotate();
                }
                if self.stepped_stall() {
                    // See `apply`: the stall drives the stepper without the
                    // write lock.
                    drop(active);
                    self.make_room()?;
                    continue;
                }
                break active;
            };
            self.make_room()?;
            self.install(|cur| SuperVersion {
                active: cur.active.clone(),
                frozen: std::iter::once(run.clone())
                    .chain(cur.frozen.iter().cloned())
                    .collect(),
                version: cur.version.clone(),
            });
            self.visible_seqno.store(*last, Ordering::Release);
        }
        self.counters.ingested(run.approximate_bytes() as u64);
        self.signal.notify();
        if !self.opts.background {
            // Without background threads the writer flushes; a full disk
            // leaves the memtables frozen for the next write or flush to
            // retry, rather than failing a write that is already applied.
            let inline = (|| -> Result<()> {
                while self.flush_oldest()? {}
                while self.compact_once()? {}
                Ok(())
            })();
            match inline {
                Err(e) if e.is_out_of_space() => {}
                other => other?,
            }
        }
        Ok(())
    }

    /// Stalls the writer while too many memtables wait for flushing or too
    /// many level-0 files wait for compaction.
    /// Under a stepper, the stall drives the stepper (see
    /// [`crate::background`]); [`crate::background::Stuck`] is an `InvalidArgument` error (the
    /// limits leave the background work nothing it can do).
    fn make_room(&self) -> Result<()> {
        if !self.opts.background || self.has_room() {
            return Ok(());
        }
        let start = Instant::now();
        self.counters.stall_began();
        let running = match &self.opts.stepper {
            Some(stepper) => stepper.drive_until(|| self.has_room()).is_ok(),
            None => self.signal.wait_until(|| self.has_room()),
        };
        self.counters
            .stall_ended(start.elapsed().as_micros() as u64);
        self.check_writable()?;
        if !running {
            return Err(match &self.opts.stepper {
                Some(stepper) => Error::InvalidArgument(format!(
                    "a write stalls on background work that no step can do (stepper seed {}); raise l0_stall_files or max_frozen_memtables",
                    stepper.seed()
                )),
                None => Error::Closed,
            });
        }
        Ok(())
    }

    /// Whether a writer may go on: few enough memtables wait for flushing
    /// and level-0 files for compaction (or waiting could not help).
    fn has_room(&self) -> bool {
        let sv = self.current();
        self.is_poisoned()
            || self.status.is_out_of_space()
            || (sv.frozen.len() < self.opts.max_frozen_memtables
                && sv.version.levels[0].len() < self.opts.l0_stall_files)
    }

    /// Whether a writer must stall under a stepper: it then drives the
    /// stepper and must release the write lock first.
    fn stepped_stall(&self) -> bool {
        self.opts.background && self.opts.stepper.is_some() && !self.has_room()
    }

    fn get_at(
        &self,
        key: &[u8],
        seqno: Seqno,
        private: Option<&Arc<Memtable>>,
    ) -> Result<Option<Bytes>> {
        let sv = self.current();
        let found = match memtables_get(&sv, key, seqno, private) {
            Some(found) => Some(found),
            None => sv.version.get(key, seqno)?,
        };
        Ok(found.and_then(|(kind, value)| (kind == Kind::Put).then_some(value)))
    }

    fn get_ref_at(
        &self,
        key: &[u8],
        seqno: Seqno,
        private: Option<&Arc<Memtable>>,
    ) -> Result<Option<PointRead>> {
        let sv = self.current();
        let found = match memtables_get(&sv, key, seqno, private) {
            Some((kind, value)) => Some((kind, PointRead::Row(value))),
            None => sv
                .version
                .read_ref(key, seqno)?
                .map(|(kind, read)| (kind, read.into_owned())),
        };
        Ok(found.and_then(|(kind, read)| (kind == Kind::Put).then_some(read)))
    }

    fn with_ref_at<R>(
        &self,
        key: &[u8],
        seqno: Seqno,
        private: Option<&Arc<Memtable>>,
        f: impl FnOnce(Option<PointRef<'_>>) -> R,
    ) -> Result<R> {
        let sv = self.current();
        if let Some((kind, value)) = memtables_get(&sv, key, seqno, private) {
            return Ok(f((kind == Kind::Put).then_some(PointRef::Row(&value))));
        }
        Ok(match sv.version.read_ref(key, seqno)? {
            Some((Kind::Put, TableRef::Row(value))) => f(Some(PointRef::Row(&value))),
            Some((Kind::Put, TableRef::Block { block, row })) => {
                f(Some(PointRef::Block { block, row }))
            }
            _ => f(None),
        })
    }

    fn pieces_at<'f>(
        &self,
        range: &impl KeyRange,
        seqno: Seqno,
        private: Option<&Arc<Memtable>>,
        skip: Option<&'f dyn BlockFilter>,
    ) -> Pieces<'f> {
        Pieces::new(self.merge_at(range, private, false), seqno, skip)
    }

    fn scan_at(
        &self,
        range: &impl KeyRange,
        seqno: Seqno,
        private: Option<&Arc<Memtable>>,
        reverse: bool,
    ) -> Scan {
        Scan::new(self.merge_at(range, private, reverse), seqno, reverse)
    }

    /// The merge of every source holding keys within `range`: a
    /// snapshot's private writes first (of versions equal in key and
    /// seqno the merge puts the first source's first, so they hide the
    /// version they replace), then the memtables, newest first, then the
    /// tables.
    fn merge_at(
        &self,
        range: &impl KeyRange,
        private: Option<&Arc<Memtable>>,
        reverse: bool,
    ) -> MergeIter {
        let (lower, upper) = owned_bounds(range);
        let sv = self.current();
        let mut sources: Vec<Source> = Vec::new();
        for mem in private
            .into_iter()
            .chain(std::iter::once(&sv.active))
            .chain(sv.frozen.iter())
        {
            if !mem.is_empty() {
                let it = MemCursor::new(mem.clone(), lower.clone(), upper.clone(), reverse);
                sources.push(Source::Mem(it));
            }
        }
        sv.version.iterators(&lower, &upper, reverse, &mut sources);
        MergeIter::new(sources, reverse)
    }

    /// Whether `key` has a version (a put or a tombstone) newer than
    /// `seqno`: the memtables hold the newest versions, and of the tables
    /// only those holding a version newer than `seqno` need a look.
    fn written_after(&self, key: &[u8], seqno: Seqno) -> Result<bool> {
        let sv = self.current();
        for mem in std::iter::once(&sv.active).chain(sv.frozen.iter()) {
            if mem.is_empty() {
                // Just rotated: it says nothing of what is older.
                continue;
            }
            if mem.max_seqno() <= seqno {
                // Everything from here on is older still.
                return Ok(false);
            }
            if let Some(newest) = mem.newest_seqno(key) {
                // The newest memtable holding the key holds its newest
                // version.
                return Ok(newest > seqno);
            }
        }
        sv.version.written_after(key, seqno)
    }

    fn snapshot(self: &Arc<Self>) -> Snapshot {
        // Registering under the write lock keeps the seqno from moving
        // between reading it and pinning it for compaction.
        let _w = self.write_lock.lock();
        let seqno = self.visible_seqno();
        self.snapshots.pin(seqno);
        Snapshot {
            inner: self.clone(),
            seqno,
            private: None,
        }
    }

    fn stats(&self) -> Stats {
        let sv = self.current();
        let c = self.counters.read();
        Stats {
            io_backend: self.io.as_ref().map_or("memory", |io| io.name()),
            last_seqno: self.visible_seqno(),
            flushed_seqno: self.versions.flushed_seqno(),
            memtable_bytes: sv.active.approximate_bytes(),
            frozen_memtables: sv.frozen.len(),
            frozen_bytes: sv.frozen.iter().map(|m| m.approximate_bytes()).sum(),
            levels: sv
                .version
                .levels
                .iter()
                .map(|l| LevelStats {
                    files: l.len(),
                    bytes: l.iter().map(|t| t.meta().file_size).sum(),
                    columnar_blocks: l.iter().map(|t| t.columnar_block_count()).sum(),
                })
                .collect(),
            cache_hits: self.cache.hits(),
            cache_misses: self.cache.misses(),
            cache_bytes: self.cache.used_bytes(),
            flushes: c.flushes,
            compactions: c.compactions,
            bytes_flushed: c.bytes_flushed,
            bytes_compacted: c.bytes_compacted,
            write_stalls: c.stalls,
            write_stall_micros: c.stall_micros,
            ingests: c.ingests,
            bytes_ingested: c.bytes_ingested,
            snapshots: self.snapshots.count(),
            poisoned: self.status.cause(),
        }
    }

    /// Freezes the active memtable (if it holds anything) so a flush will
    /// pick it up.
    fn freeze_active(&self) {
        let mut active = self.write_lock.lock();
        if !active.is_empty() || active.max_seqno() > self.versions.flushed_seqno() {
            *active = self.rotate();
        }
    }

    /// Moves the active memtable to the front of the frozen list and
    /// returns the new active one; the caller holds the write lock and
    /// stores the result in it.
    fn rotate(&self) -> Arc<Memtable> {
        let fresh = Arc::new(Memtable::new(self.opts.memtable_budget));
        self.install(|cur| SuperVersion {
            active: fresh.clone(),
            frozen: std::iter::once(cur.active.clone())
                .chain(cur.frozen.iter().cloned())
                .collect(),
            version: cur.version.clone(),
        });
        fresh
    }
}

/// The newest version of `key` with seqno `<= seqno` in a snapshot's
/// `private` writes or `sv`'s memtables (the active one, then the frozen
/// ones, newest first): the first place a point read looks.
fn memtables_get(
    sv: &SuperVersion,
    key: &[u8],
    seqno: Seqno,
    private: Option<&Arc<Memtable>>,
) -> Option<(Kind, Bytes)> {
    private
        .into_iter()
        .chain(std::iter::once(&sv.active))
        .chain(sv.frozen.iter())
        .find_map(|mem| mem.get(key, seqno))
}
