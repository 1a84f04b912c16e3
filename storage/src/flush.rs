//! Flushing: frozen memtables become level-0 SSTs.
//!
//! A flush writes the oldest frozen memtable to a new SST (fsynced), makes
//! its name durable, then records it in the manifest together with the new
//! flushed sequence number, and only then drops the memtable. A crash at any
//! step leaves either the old manifest (the SST is an orphan, removed at the
//! next open) or the new one.
//!
//! Ingest ([`crate::Engine::ingest_batches`]) turns a chunk of batches into
//! an immutable sorted run ([`Inner::build_run`], [`RunBuilder`])
//! that joins the frozen memtables and is flushed by this same protocol;
//! a run's versions are written straight from its buffer.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::batch::{BatchOp, WriteBatch};
use crate::engine::{Inner, Outcome};
use crate::error::{Error, Result};
use crate::memtable::{MemIter, Memtable, RunBuilder};
use crate::sst::{Table, TableWriter};
use crate::types::{Kind, Seqno, TableInput};
use crate::version::Version;

impl Inner {
    /// Body of the background flush thread.
    pub(crate) fn flush_loop(&self) {
        self.background_loop(Inner::flush_due, Inner::flush_step);
    }

    /// One step of the background flush: flushes the oldest frozen
    /// memtable, if any. A memtable whose flush failed for lack of space
    /// stays frozen (and readable) until the retry.
    pub(crate) fn flush_step(&self) -> Outcome {
        self.background_step("flush", Inner::flush_due, Inner::flush_oldest)
    }

    fn flush_due(&self) -> bool {
        !self.current().frozen.is_empty()
    }

    /// Freezes the active memtable and flushes every frozen one.
    pub(crate) fn flush_all(&self) -> Result<()> {
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

    /// Flushes the oldest frozen memtable; false when there was none.
    pub(crate) fn flush_oldest(&self) -> Result<bool> {
        let _f = self.flush_lock.lock();
        self.check_writable()?;
        let Some(mem) = self.current().frozen.last().cloned() else {
            return Ok(false);
        };
        let result = self.flush_memtable(&mem);
        // Out of space, nothing changed: the memtable stays frozen.
        self.settle("flush", &result);
        result.map(|()| true)
    }

    fn flush_memtable(&self, mem: &Arc<Memtable>) -> Result<()> {
        let table = if mem.is_empty() {
            None
        } else {
            let table = match mem.run_versions() {
                Some(versions) => self.write_tables(versions.map(Ok), 0, u64::MAX)?.pop(),
                None => {
                    let entries = MemIter::new(
                        mem.clone(),
                        std::ops::Bound::Unbounded,
                        std::ops::Bound::Unbounded,
                        false,
                    );
                    self.write_tables(entries.map(Ok), 0, u64::MAX)?.pop()
                }
            };
            self.counters.flushes.fetch_add(1, Ordering::Relaxed);
            if let Some(t) = &table {
                self.counters
                    .bytes_flushed
                    .fetch_add(t.meta().file_size, Ordering::Relaxed);
            }
            table.map(Arc::new)
        };
        let _v = self.version_lock.lock();
        let cur = self.current();
        let mut version = Version::clone(&cur.version);
        if let Some(t) = &table {
            version.levels[0].insert(0, t.clone());
        }
        let flushed = mem
            .max_seqno()
            .max(self.flushed_seqno.load(Ordering::Acquire));
        if let Err(e) = self.store_manifest(&version, flushed) {
            // Out of space, the manifest was not replaced (that takes a
            // rename, the last step but the directory fsync): the table is
            // in no manifest and its file goes with it. After another
            // failure the engine is poisoned and the file stays, as the
            // new manifest may already name it.
            if let Some(t) = table.as_ref().filter(|_| e.is_out_of_space()) {
                t.mark_obsolete();
            }
            return Err(e);
        }
        self.flushed_seqno.store(flushed, Ordering::Release);
        let version = Arc::new(version);
        self.install(|cur| Inner::without_frozen(cur, mem, version));
        Ok(())
    }

    /// Builds the immutable sorted run of `chunk` (batches in increasing
    /// sequence order): its keys and values copied, in log order, into one
    /// buffer, its versions sorted into internal order (a key written twice
    /// by one batch keeping its later write), and the run's maximum
    /// sequence number the chunk's last (even an empty batch's). `None` for
    /// an empty chunk. See [`RunBuilder`].
    pub(crate) fn build_run<B: std::borrow::Borrow<WriteBatch>>(
        chunk: &[(Seqno, B)],
    ) -> Option<Memtable> {
        let last = chunk.last().map(|(s, _)| *s)?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let ops: usize = chunk.iter().map(|(_, b)| b.borrow().len()).sum();
        let run = if cores < 2 || chunk.len() < 2 || ops < PARALLEL_COPY_MIN {
            let bytes: usize = chunk.iter().map(|(_, b)| b.borrow().as_bytes().len()).sum();
            let mut run = RunBuilder::with_capacity(bytes, ops);
            for (seqno, batch) in chunk {
                for op in batch.borrow().iter() {
                    match op {
                        BatchOp::Put(k, v) => run.push(k, *seqno, Kind::Put, v),
                        BatchOp::Delete(k) => run.push(k, *seqno, Kind::Delete, b""),
                    }
                }
            }
            run
        } else {
            // Copying the keys and values (and faulting in the fresh buffer)
            // is a good part of an ingest: two halves of the chunk at once.
            // `B` need not be `Sync`; a `&WriteBatch` is.
            let refs: Vec<(Seqno, &WriteBatch)> =
                chunk.iter().map(|(s, b)| (*s, b.borrow())).collect();
            let (a, b) = refs.split_at(refs.len() / 2);
            RunBuilder::fill_parallel(
                &[a, b],
                |part| part.iter().map(|(_, b)| b.as_bytes().len()).sum(),
                |part, sink| {
                    for (seqno, batch) in *part {
                        for op in batch.iter() {
                            match op {
                                BatchOp::Put(k, v) => sink.push(k, *seqno, Kind::Put, v),
                                BatchOp::Delete(k) => sink.push(k, *seqno, Kind::Delete, b""),
                            }
                        }
                    }
                },
            )
        };
        Some(run.finish(last))
    }
}

/// Chunks with fewer versions are copied on one thread (small enough that
/// the model tests exercise both paths).
const PARALLEL_COPY_MIN: usize = 32;

impl Inner {
    /// Writes SSTs for `level` from versions in internal order, starting a new file
    /// once one reaches `split_bytes` (only between user keys, so all
    /// versions of a key share a file); fsyncs the files and their directory
    /// entries and opens them for reading.
    pub(crate) fn write_tables<E: TableInput>(
        &self,
        entries: impl Iterator<Item = Result<E>>,
        level: usize,
        split_bytes: u64,
    ) -> Result<Vec<Table>> {
        let mut created = Vec::new();
        let result = self.write_tables_into(entries, level, split_bytes, &mut created);
        if result.is_err()
            && let Some(io) = self.io.as_ref()
        {
            // Half-written tables must not hold space (the failure may well
            // be a full disk); they are in no manifest.
            for path in &created {
                if let Err(e) = io.remove(path) {
                    tracing::debug!(path = %path.display(), error = %e, "could not remove an unfinished table");
                }
            }
        }
        result
    }

    fn write_tables_into<E: TableInput>(
        &self,
        entries: impl Iterator<Item = Result<E>>,
        level: usize,
        split_bytes: u64,
        created: &mut Vec<std::path::PathBuf>,
    ) -> Result<Vec<Table>> {
        let io = self.io.as_ref().ok_or(Error::Closed)?;
        let mut done = Vec::new();
        let mut open: Option<(u64, std::path::PathBuf, TableWriter)> = None;
        let mut last_key: Vec<u8> = Vec::new();
        for e in entries {
            let e = e?;
            let boundary = open.is_none() || e.key() != last_key.as_slice();
            if boundary {
                if let Some((_, _, w)) = &open
                    && w.estimated_size() >= split_bytes
                {
                    done.push(open.take());
                }
                last_key.clear();
                last_key.extend_from_slice(e.key());
            }
            let (_, _, writer) = match &mut open {
                Some(o) => o,
                None => {
                    let (id, path) = self.new_table_path();
                    created.push(path.clone());
                    let writer = TableWriter::new(
                        io.create(&path)?,
                        path.clone(),
                        self.writer_options(level),
                    );
                    open.insert((id, path, writer))
                }
            };
            writer.add(e.key(), e.seqno(), e.kind(), e.value())?;
        }
        done.push(open);
        let mut tables = Vec::new();
        for (id, path, writer) in done.into_iter().flatten() {
            writer.finish()?;
            tables.push((id, path));
        }
        if tables.is_empty() {
            return Ok(Vec::new());
        }
        io.sync_dir(&self.dir)?;
        tables
            .into_iter()
            .map(|(id, path)| Table::open(&path, id, self.cache.clone(), io.clone()))
            .collect()
    }
}
