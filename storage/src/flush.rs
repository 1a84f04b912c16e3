//! Flushing: frozen memtables become level-0 SSTs.
//!
//! A flush writes the oldest frozen memtable to a new SST (fsynced), makes
//! its name durable, then records it in the manifest together with the new
//! flushed sequence number, and only then drops the memtable. A crash at any
//! step leaves either the old manifest (the SST is an orphan, removed at the
//! next open) or the new one.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::engine::Inner;
use crate::error::{Error, Result};
use crate::memtable::{MemIter, Memtable};
use crate::sst::{Table, TableWriter};
use crate::types::Entry;
use crate::version::Version;

impl Inner {
    /// Body of the background flush thread.
    pub(crate) fn flush_loop(&self) {
        while self.wait_until(|inner| !inner.is_poisoned() && !inner.current().frozen.is_empty()) {
            if let Err(e) = self.flush_oldest() {
                tracing::error!(error = %e, "background flush failed");
            }
        }
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
        if let Err(e) = &result {
            self.poison(e);
        }
        self.notify();
        result.map(|()| true)
    }

    fn flush_memtable(&self, mem: &Arc<Memtable>) -> Result<()> {
        let table = if mem.is_empty() {
            None
        } else {
            let entries = MemIter::new(
                mem.clone(),
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                false,
            );
            let table = self.write_tables(entries.map(Ok), u64::MAX)?.pop();
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
        if let Some(t) = table {
            version.levels[0].insert(0, t);
        }
        let flushed = mem
            .max_seqno()
            .max(self.flushed_seqno.load(Ordering::Acquire));
        self.store_manifest(&version, flushed)?;
        self.flushed_seqno.store(flushed, Ordering::Release);
        let version = Arc::new(version);
        self.install(|cur| Inner::without_frozen(cur, mem, version));
        Ok(())
    }

    /// Writes SSTs from versions in internal order, starting a new file
    /// once one reaches `split_bytes` (only between user keys, so all
    /// versions of a key share a file); fsyncs the files and their directory
    /// entries and opens them for reading.
    pub(crate) fn write_tables(
        &self,
        entries: impl Iterator<Item = Result<Entry>>,
        split_bytes: u64,
    ) -> Result<Vec<Table>> {
        let io = self.io.as_ref().ok_or(Error::Closed)?;
        let mut done = Vec::new();
        let mut open: Option<(u64, std::path::PathBuf, TableWriter)> = None;
        let mut last_key = bytes::Bytes::new();
        for e in entries {
            let e = e?;
            let boundary = e.key != last_key;
            if boundary {
                if let Some((_, _, w)) = &open
                    && w.estimated_size() >= split_bytes
                {
                    done.push(open.take());
                }
                last_key = e.key.clone();
            }
            let (_, _, writer) = match &mut open {
                Some(o) => o,
                None => {
                    let (id, path) = self.new_table_path();
                    let writer =
                        TableWriter::new(io.create(&path)?, path.clone(), self.writer_options());
                    open.insert((id, path, writer))
                }
            };
            writer.add(&e.key, e.seqno, e.kind, &e.value)?;
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
