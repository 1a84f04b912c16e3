//! [`Db`]: the storage engine plus its write-ahead log, the public face of
//! this crate.
//!
//! A write goes: encode (large batches, on the caller's thread) → state lock:
//! sequence number assigned, record queued ([`crate::queue::State`]) →
//! - async: applied to the engine by the caller, acknowledged; the log writer
//!   writes and fsyncs in the background every sync interval;
//! - durable: the caller waits; the log writer writes every queued record,
//!   fsyncs once, applies the batches in order and wakes their callers;
//! - memory: no log; applied and acknowledged.
//!
//! Reads go straight to the engine. `Db` never reaches below the engine's
//! public API and its I/O trait.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use bytes::Bytes;
use fasty_storage::{Engine, KeyRange, PointRead, PointRef, Scan, Seqno, Snapshot, WriteBatch};
use parking_lot::{Mutex, MutexGuard};

use crate::error::{Error, Result};
use crate::lifecycle::start_segment;
use crate::options::{Durability, Options};
use crate::queue::{Outcome, State, Waiter};
use crate::record::UnsealedRecord;
use crate::recovery::{ReplayStats, SegmentMeta, recover};
use crate::segment::WAL_DIR;
use crate::shared::{Core, LogDir};
use crate::spare::{Spares, remove_spares};
use crate::stepped::Stepped;
use crate::writer::LogWriter;

/// Batches whose keys and values exceed this are encoded on the writing
/// thread, outside every lock; smaller ones are framed straight into the
/// queue.
const LARGE_BATCH_BYTES: usize = 16 << 10;

/// A point-in-time report on the database.
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct Stats {
    /// `"async"`, `"durable"` or `"memory"`.
    pub durability: &'static str,
    /// Highest sequence number applied and visible to reads.
    pub last_seqno: Seqno,
    /// Every record up to this sequence number is fsynced in the log (or
    /// flushed by the engine). Always 0 in memory mode.
    pub durable_seqno: Seqno,
    /// Log segments on disk, the active one included.
    pub log_segments: usize,
    /// Rounds of the log writer that wrote something: with many concurrent
    /// writers, `log_records / log_groups` is the group-commit factor.
    pub log_groups: u64,
    /// fsyncs of the log.
    pub log_syncs: u64,
    /// Records (batches) written to the log since open.
    pub log_records: u64,
    /// Bytes written to the log since open.
    pub log_bytes_written: u64,
    /// Segments started since open.
    pub log_rotations: u64,
    /// Segments deleted since open.
    pub log_segments_removed: u64,
    /// Segments started from a spare written ahead of time (durable mode,
    /// [`Options::preallocate_segments`]), the first one at open included.
    pub log_spares_used: u64,
    /// What replay did at open.
    pub replay: ReplayStats,
    /// Why writes are refused, if they are.
    pub poisoned: Option<String>,
    /// The storage engine's report.
    pub storage: fasty_storage::Stats,
}

/// A durable, recoverable ordered key-value store: a storage [`Engine`]
/// plus a segmented write-ahead log, with the durability chosen at open
/// ([`Durability`]).
///
/// All methods take `&self`; share a `Db` between threads with an `Arc`.
/// Concurrent durable writes share fsyncs (group commit).
///
/// ```
/// use fasty_wal::{Db, Options, WriteBatch};
/// let dir = tempfile::tempdir()?;
/// let db = Db::open(dir.path(), Options::durable())?;
/// let mut batch = WriteBatch::new();
/// batch.put(&b"user:1"[..], &b"alice"[..]);
/// let seqno = db.write(batch)?;          // returns once fsynced
/// assert_eq!(db.get(b"user:1")?.as_deref(), Some(&b"alice"[..]));
/// db.close()?;
/// # let _ = seqno;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Db {
    core: Arc<Core>,
    writer: Option<JoinHandle<SegmentMeta>>,
    /// Prepares spare segments (durable mode, background threads on).
    spare_thread: Option<JoinHandle<()>>,
    /// Tests only, instead of the two threads: the writer and spare
    /// segments as steps of `Options::storage.stepper`.
    stepped: Option<Stepped>,
    closed: bool,
}

impl Db {
    /// Opens (or creates) the database in `dir`.
    ///
    /// Opens the engine, then recovers the log in `dir/wal`: segments the
    /// engine has flushed are deleted, a torn tail of the last segment is
    /// truncated (logged with file and offset), every later record is
    /// replayed in order, and a new segment is started. A bad record
    /// anywhere else is [`Error::Corruption`] naming file and offset, and
    /// nothing is changed. In memory mode `dir` is not touched.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Db> {
        let dir = dir.as_ref();
        let memory = opts.durability == Durability::Memory;
        let storage = opts.engine_options()?;
        if opts.segment_size < 4096 && !memory {
            return Err(Error::InvalidArgument(format!(
                "segment_size {} is below the 4096-byte minimum",
                opts.segment_size
            )));
        }
        let engine = Engine::open(dir, storage)?;
        if memory {
            let next = engine.last_seqno() + 1;
            let core = Core::new(
                engine,
                opts,
                State::new(next, 0, 0, false),
                None,
                ReplayStats::default(),
            );
            return Ok(Db {
                core: Arc::new(core),
                writer: None,
                spare_thread: None,
                stepped: None,
                closed: false,
            });
        }
        let io = engine.io().ok_or_else(|| {
            Error::InvalidArgument("an on-disk engine reported no i/o backend".into())
        })?;
        let wal_dir = dir.join(WAL_DIR);
        io.create_dir_all(&wal_dir)?;
        let recovered = recover(&engine, &io, &wal_dir)?;
        let next = engine.last_seqno().max(recovered.last_seqno.unwrap_or(0)) + 1;
        let spares = if opts.durability == Durability::Durable && opts.preallocate_segments {
            Some(Arc::new(Spares::open(
                io.clone(),
                &wal_dir,
                opts.segment_size,
                opts.storage.background,
            )))
        } else {
            remove_spares(io.as_ref(), &wal_dir);
            None
        };
        let active = start_segment(
            io.as_ref(),
            &wal_dir,
            spares.as_deref(),
            recovered.max_id + 1,
        )?;
        let chunk_capacity = match opts.durability {
            // A little over the write buffer: the record that crosses it fits.
            Durability::Async { .. } => opts.write_buffer_size + (64 << 10),
            _ => 64 << 10,
        };
        let writer_checksums = matches!(opts.durability, Durability::Async { .. });
        let state = State::new(next, active.id, chunk_capacity, writer_checksums);
        let log = LogDir {
            io,
            dir: wal_dir,
            segments: Mutex::new(recovered.segments),
            spares: spares.clone(),
        };
        // Tests only: the engine's stepper runs the log's background work too.
        let stepper = opts.storage.stepper.clone();
        let core = Arc::new(Core::new(engine, opts, state, Some(log), recovered.stats));
        if let Some(stepper) = stepper {
            // Tests: no threads; the writer (and the spares, when the
            // engine's background work is on) are steps.
            let writer = LogWriter::new(&core, active, Some(stepper.clone()));
            let spares = spares.filter(|_| core.opts.storage.background);
            let stepped = Stepped::register(stepper, &core, writer, spares.as_ref());
            return Ok(Db {
                core,
                writer: None,
                spare_thread: None,
                stepped: Some(stepped),
                closed: false,
            });
        }
        let thread_core = core.clone();
        let writer = std::thread::Builder::new()
            .name("fasty-wal-writer".into())
            .spawn(move || {
                let writer = LogWriter::new(&thread_core, active, None);
                crate::writer::run(&thread_core, writer)
            })
            .map_err(|e| {
                Error::Storage(fasty_storage::Error::Io {
                    path: PathBuf::from("fasty-wal-writer"),
                    source: e,
                })
            })?;
        // Without this thread there are no spares, only slower fsyncs.
        let spare_thread = spares
            .filter(|_| core.opts.storage.background)
            .and_then(|spares| {
                std::thread::Builder::new()
                    .name("fasty-wal-spare".into())
                    .spawn(move || spares.run())
                    .inspect_err(|e| tracing::warn!(error = %e, "could not start the wal spare segment thread"))
                    .ok()
            });
        Ok(Db {
            core,
            writer: Some(writer),
            spare_thread,
            stepped: None,
            closed: false,
        })
    }

    /// Applies `batch` atomically and returns its sequence number, once the
    /// write is acknowledged as the durability mode says: async and memory
    /// at once (the batch is visible to reads when this returns), durable
    /// only after the fsync covering it. An error means the batch was not
    /// acknowledged; after a failed fsync it never will be.
    pub fn write(&self, batch: WriteBatch) -> Result<Seqno> {
        match self.core.opts.durability {
            Durability::Memory => self.write_memory(batch),
            Durability::Async { .. } => self.write_async(batch),
            Durability::Durable => self.write_durable(batch),
        }
    }

    fn write_memory(&self, batch: WriteBatch) -> Result<Seqno> {
        let _order = self.core.apply_lock.lock();
        let seqno = {
            let st = self.core.state.lock();
            Core::check_writable(&st)?;
            st.next_seqno
        };
        self.core.engine.apply(&batch, seqno)?;
        self.core.state.lock().next_seqno = seqno + 1;
        Ok(seqno)
    }

    fn unsealed(batch: &WriteBatch) -> Result<Option<UnsealedRecord>> {
        if batch.encoded_len() < LARGE_BATCH_BYTES {
            return Ok(None);
        }
        UnsealedRecord::new(batch)
            .map(Some)
            .map_err(Error::InvalidArgument)
    }

    fn write_async(&self, batch: WriteBatch) -> Result<Seqno> {
        let core = &*self.core;
        let large = Self::unsealed(&batch)?;
        let _order = core.apply_lock.lock();
        let seqno = {
            let mut st = core.state.lock();
            Core::check_writable(&st)?;
            while st.queued_bytes >= core.opts.max_queued_bytes {
                core.writer_cv.notify_one();
                match &self.stepped {
                    None => core.done_cv.wait(&mut st),
                    Some(stepped) => MutexGuard::unlocked(&mut st, || {
                        stepped.drive(self.dir(), "room in the log's queue", || {
                            let st = core.state.lock();
                            st.queued_bytes < core.opts.max_queued_bytes
                                || Core::check_writable(&st).is_err()
                        })
                    })?,
                }
                Core::check_writable(&st)?;
            }
            // With every earlier write synced the log writer sleeps
            // without a deadline: the first write after that must wake it
            // to start the sync interval.
            let idle = st.next_seqno - 1 <= st.durable;
            let seqno = st
                .push_next(&batch, large, core.opts.segment_size)
                .map_err(Error::InvalidArgument)?;
            if idle || st.queued_bytes >= core.opts.write_buffer_size {
                core.writer_cv.notify_one();
            }
            seqno
        };
        if let Err(e) = core.engine.apply(&batch, seqno) {
            // The record is in the log but not in the engine: stop here
            // rather than let the two disagree further.
            core.poison(format!("the engine refused logged batch {seqno}: {e}"));
            return Err(e.into());
        }
        Ok(seqno)
    }

    fn write_durable(&self, batch: WriteBatch) -> Result<Seqno> {
        let core = &*self.core;
        let large = Self::unsealed(&batch)?;
        let mut st = core.state.lock();
        Core::check_writable(&st)?;
        let seqno = st
            .push_next(&batch, large, core.opts.segment_size)
            .map_err(Error::InvalidArgument)?;
        let waiter = Waiter::new();
        st.pending.push((seqno, batch, waiter.clone()));
        drop(st);
        core.writer_cv.notify_one();
        let outcome = match &self.stepped {
            None => waiter.wait(),
            Some(stepped) => {
                let mut outcome = None;
                stepped.drive(self.dir(), "a durable write's fsync", || {
                    outcome = waiter.poll();
                    outcome.is_some()
                })?;
                outcome.unwrap_or(Outcome::Failed)
            }
        };
        match outcome {
            Outcome::Done => return Ok(seqno),
            Outcome::NoSpace => {
                let cause = core.state.lock().last_full.clone();
                return Err(Error::DiskFull {
                    cause: cause.unwrap_or_else(|| "no space left on device".into()),
                });
            }
            Outcome::Failed => {}
        }
        let st = core.state.lock();
        Core::check_writable(&st)?;
        Err(Error::Poisoned {
            cause: "the log writer failed".into(),
        })
    }

    /// The current value of `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<Bytes>> {
        Ok(self.core.engine.get(key)?)
    }

    /// The current value of `key` as stored: a columnar row comes back
    /// as its block and row number, not joined into bytes (see
    /// `Snapshot::get_ref`).
    pub fn get_ref(&self, key: &[u8]) -> Result<Option<PointRead>> {
        Ok(self.core.engine.get_ref(key)?)
    }

    /// Calls `f` with the current value of `key` as stored, borrowed for
    /// the call (see `Snapshot::with_ref`): the point read that takes no
    /// reference on a shared columnar block.
    pub fn with_ref<R>(&self, key: &[u8], f: impl FnOnce(Option<PointRef<'_>>) -> R) -> Result<R> {
        Ok(self.core.engine.with_ref(key, f)?)
    }

    /// The live pairs within `range`, keys ascending.
    pub fn scan(&self, range: impl KeyRange) -> Scan {
        self.core.engine.scan(range)
    }

    /// The live pairs within `range`, keys descending.
    pub fn scan_rev(&self, range: impl KeyRange) -> Scan {
        self.core.engine.scan_rev(range)
    }

    /// A stable read view as of now.
    pub fn snapshot(&self) -> Snapshot {
        self.core.engine.snapshot()
    }

    /// Whether `key` was written (put or deleted) by a batch with a
    /// sequence number above `seqno` that is visible to reads: a
    /// transaction's check, before it writes, for a write it did not see
    /// (see `Engine::written_after`). A durable batch becomes visible once
    /// its fsync is done.
    pub fn written_after(&self, key: &[u8], seqno: Seqno) -> Result<bool> {
        Ok(self.core.engine.written_after(key, seqno)?)
    }

    /// Highest sequence number applied and visible to reads.
    pub fn last_seqno(&self) -> Seqno {
        self.core.engine.last_seqno()
    }

    /// The durability mode this database was opened with.
    pub fn durability(&self) -> Durability {
        self.core.opts.durability
    }

    /// Makes every write acknowledged so far durable: writes out and fsyncs
    /// whatever the log writer has queued, and waits for it. A no-op in
    /// memory mode; in durable mode every acknowledged write already is.
    pub fn sync(&self) -> Result<()> {
        if self.core.log.is_none() {
            return Ok(());
        }
        let mut st = self.core.state.lock();
        self.request_sync(&mut st)
    }

    /// Asks the writer for a sync round and waits for it, lock held.
    fn request_sync(&self, st: &mut parking_lot::MutexGuard<'_, State>) -> Result<()> {
        let core = &*self.core;
        Core::check_writable(st)?;
        st.sync_requested += 1;
        let ticket = st.sync_requested;
        core.writer_cv.notify_one();
        if let Some(stepped) = &self.stepped {
            MutexGuard::unlocked(st, || {
                stepped.drive(self.dir(), "a sync of the log", || {
                    let st = core.state.lock();
                    st.sync_done >= ticket || Core::check_writable(&st).is_err()
                })
            })?;
        }
        while st.sync_done < ticket {
            Core::check_writable(st)?;
            core.done_cv.wait(st);
        }
        Ok(())
    }

    /// Flushes the engine's memtables to tables and deletes every log
    /// segment whose records are all in them. The current segment is closed
    /// first (a new one started) so that it can go too.
    pub fn checkpoint(&self) -> Result<()> {
        let core = &*self.core;
        if core.log.is_none() {
            return Ok(());
        }
        let _one = core.checkpoint_lock.lock();
        {
            let mut st = core.state.lock();
            Core::check_writable(&st)?;
            st.rotate_now();
            self.request_sync(&mut st)?;
        }
        core.engine.flush()?;
        core.remove_obsolete(core.engine.flushed_seqno())?;
        Ok(())
    }

    /// A [`Db::checkpoint`], then a full compaction of the engine: every
    /// table merged into one sorted level, overwritten versions and
    /// tombstones no snapshot needs dropped.
    pub fn compact(&self) -> Result<()> {
        self.checkpoint()?;
        self.core.engine.compact()?;
        Ok(())
    }

    /// The data directory the database was opened in (not touched in
    /// memory mode), for tools that copy it, such as [`crate::backup`].
    pub fn dir(&self) -> &Path {
        self.core.engine.dir()
    }

    /// A report on the log and the engine.
    pub fn stats(&self) -> Stats {
        let core = &*self.core;
        let (durable_seqno, poisoned) = {
            let st = core.state.lock();
            (st.durable, st.poisoned.clone())
        };
        let storage = core.engine.stats();
        let c = &core.counters;
        Stats {
            durability: core.opts.durability.name(),
            last_seqno: storage.last_seqno,
            durable_seqno: if core.log.is_some() {
                durable_seqno.max(storage.flushed_seqno)
            } else {
                0
            },
            log_segments: core.log.as_ref().map_or(0, |l| {
                l.segments.lock().len()
                    + usize::from(self.writer.is_some() || self.stepped.is_some())
            }),
            log_groups: c.groups.load(Ordering::Relaxed),
            log_syncs: c.syncs.load(Ordering::Relaxed),
            log_records: c.records_written.load(Ordering::Relaxed),
            log_bytes_written: c.bytes_written.load(Ordering::Relaxed),
            log_rotations: c.rotations.load(Ordering::Relaxed),
            log_segments_removed: c.segments_removed.load(Ordering::Relaxed),
            log_spares_used: core
                .log
                .as_ref()
                .and_then(|l| l.spares.as_ref())
                .map_or(0, |s| s.used()),
            replay: core.replay.clone(),
            poisoned,
            storage,
        }
    }

    /// Writes and fsyncs everything queued, flushes the engine, deletes the
    /// log segments that made redundant, and stops the log writer. Errors
    /// say what could not be made durable; a database poisoned earlier
    /// reports [`Error::Poisoned`] (its engine is still flushed, so async
    /// writes acknowledged before the failure are kept if that succeeds).
    pub fn close(mut self) -> Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<()> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let core = &*self.core;
        if self.writer.is_none() && self.stepped.is_none() {
            return Ok(()); // memory mode: nothing to make durable
        }
        core.state.lock().shutdown = true;
        core.writer_cv.notify_all();
        let last = match (self.writer.take(), &self.stepped) {
            (Some(writer), _) => match writer.join() {
                Ok(meta) => Some(meta),
                Err(_) => {
                    core.poison("the wal writer thread panicked".into());
                    None
                }
            },
            (None, Some(stepped)) => {
                let exited = stepped.drive(
                    core.engine.dir(),
                    "the log writer to finish at close",
                    || stepped.writer_exited(),
                );
                if let Err(e) = exited {
                    core.poison(e.to_string());
                }
                stepped.take_exited()
            }
            (None, None) => None,
        };
        if let Some(spares) = core.log.as_ref().and_then(|l| l.spares.as_ref()) {
            spares.shutdown();
        }
        if let Some(thread) = self.spare_thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the wal spare segment thread panicked");
        }
        // Unregisters the steps (a stepped log's).
        self.stepped = None;
        let (poisoned, stalled) = {
            let st = core.state.lock();
            (st.poisoned.clone(), st.stalled.clone())
        };
        // Flush even when poisoned: in async mode the engine holds
        // acknowledged writes the log may not have.
        let flushed = core.engine.flush();
        if let Some(cause) = poisoned {
            if let Err(e) = flushed {
                tracing::error!(error = %e, "flush on close of a poisoned database failed");
            }
            return Err(Error::Poisoned { cause });
        }
        if let Some(stall) = stalled {
            // The log could not be written even at close (the disk is still
            // full); the engine's tables hold every acknowledged write if
            // this flush succeeded.
            match &flushed {
                Ok(()) => {
                    tracing::warn!(cause = %stall.cause, "the wal could not be written at close, but every acknowledged write is in the engine's tables")
                }
                Err(e) => tracing::error!(
                    error = %e,
                    cause = %stall.cause,
                    "closing with the disk full: neither the wal nor the engine could be written, so the writes acknowledged since the last sync are lost; free disk space before stopping the database"
                ),
            }
        }
        flushed?;
        if let (Some(log), Some(last)) = (core.log.as_ref(), last) {
            log.segments.lock().push(last);
        }
        core.remove_obsolete(core.engine.flushed_seqno())?;
        Ok(())
    }
}

impl Drop for Db {
    /// Does what [`Db::close`] does, logging errors instead of returning
    /// them: dropping a database loses nothing a clean close would keep.
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "closing the database on drop failed");
        }
    }
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("dir", &self.core.engine.dir())
            .field("durability", &self.core.opts.durability)
            .finish_non_exhaustive()
    }
}
