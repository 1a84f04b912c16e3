//! What flush and compaction work with: a narrow view of the engine's
//! state, borrowed for one call, and the one way both write new tables.

use std::path::PathBuf;
use std::sync::Arc;

use crate::cache::BlockCache;
use crate::counters::Counters;
use crate::error::Result;
use crate::io::Io;
use crate::options::Options;
use crate::sst::{Table, TableWriter, WriterOptions};
use crate::status::Status;
use crate::types::{Seqno, TableInput};
use crate::version::Version;
use crate::versions::Versions;

/// The parts of the engine a flush or a compaction reads and changes.
pub(crate) struct Context<'a> {
    pub opts: &'a Options,
    pub io: &'a Arc<dyn Io>,
    pub cache: &'a Arc<BlockCache>,
    pub versions: &'a Versions,
    pub status: &'a Status,
    pub counters: &'a Counters,
}

impl Context<'_> {
    /// How tables written into `level` are built.
    pub(crate) fn writer_options(&self, level: usize) -> WriterOptions {
        let compress = level >= self.opts.compress_from_level;
        WriterOptions {
            block_size: self.opts.block_size,
            zstd_level: if compress { self.opts.zstd_level } else { 0 },
            bloom_bits_per_key: self.opts.bloom_bits_per_key,
            layout: self
                .opts
                .value_layout
                .clone()
                .filter(|_| level >= self.opts.columnar_from_level),
            columnar_rows: self.opts.columnar_block_rows,
        }
    }

    /// Writes the manifest for `version`; poisons the engine on failure.
    pub(crate) fn store_manifest(&self, version: &Version, flushed_seqno: Seqno) -> Result<()> {
        self.versions
            .store_manifest(version, flushed_seqno)
            .inspect_err(|e| {
                // A manifest not written for lack of space leaves the
                // previous one in place (it is replaced by a rename): the
                // caller retries.
                if !e.is_out_of_space() {
                    self.status.poison(e);
                }
            })
    }

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
        if result.is_err() {
            // Half-written tables must not hold space (the failure may well
            // be a full disk); they are in no manifest.
            for path in &created {
                if let Err(e) = self.io.remove(path) {
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
        created: &mut Vec<PathBuf>,
    ) -> Result<Vec<Table>> {
        let io = self.io;
        let mut done = Vec::new();
        let mut open: Option<(u64, PathBuf, TableWriter)> = None;
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
                    let (id, path) = self.versions.new_table_path();
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
        io.sync_dir(self.versions.dir())?;
        tables
            .into_iter()
            .map(|(id, path)| {
                Table::open_with(
                    &path,
                    id,
                    self.cache.clone(),
                    io.clone(),
                    self.opts.value_layout.clone(),
                )
            })
            .collect()
    }
}

/// A context over a fresh directory, for the unit tests of flush and
/// compaction.
#[cfg(test)]
pub(crate) mod testing {
    use std::ops::Bound;
    use std::sync::Arc;

    use super::Context;
    use crate::cache::BlockCache;
    use crate::counters::Counters;
    use crate::io::Io;
    use crate::io::std_fs::StdIo;
    use crate::memtable::Memtable;
    use crate::options::Options;
    use crate::sst::{Table, TableWriter};
    use crate::status::Status;
    use crate::types::{Entry, Kind, Seqno};
    use crate::version::{SuperVersion, Version};
    use crate::versions::Versions;

    /// Everything a [`Context`] borrows, owned.
    pub(crate) struct Fixture {
        pub dir: tempfile::TempDir,
        pub opts: Options,
        pub io: Arc<dyn Io>,
        pub cache: Arc<BlockCache>,
        pub versions: Versions,
        pub status: Status,
        pub counters: Counters,
    }

    impl Fixture {
        /// A fixture writing through `io` whose current version is
        /// `version`, with `frozen` memtables (newest first).
        pub(crate) fn new(
            io: Arc<dyn Io>,
            opts: Options,
            version: Version,
            frozen: Vec<Arc<Memtable>>,
        ) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let current = SuperVersion {
                active: Arc::new(Memtable::new(1 << 20)),
                frozen,
                version: Arc::new(version),
            };
            let versions = Versions::new(dir.path().to_path_buf(), Some(io.clone()), current, 0, 1);
            Fixture {
                dir,
                opts,
                io,
                cache: Arc::new(BlockCache::new(1 << 20)),
                versions,
                status: Status::default(),
                counters: Counters::default(),
            }
        }

        /// A fixture on the standard file system with an empty version.
        pub(crate) fn std() -> Fixture {
            Fixture::new(
                Arc::new(StdIo::new()),
                Options::default(),
                Version::empty(),
                Vec::new(),
            )
        }

        pub(crate) fn ctx(&self) -> Context<'_> {
            Context {
                opts: &self.opts,
                io: &self.io,
                cache: &self.cache,
                versions: &self.versions,
                status: &self.status,
                counters: &self.counters,
            }
        }

        /// A table in the fixture's directory holding `versions` (in
        /// internal order).
        pub(crate) fn table(&self, versions: &[(&str, Seqno, Kind, &str)]) -> Arc<Table> {
            let (id, path) = self.versions.new_table_path();
            let mut w = TableWriter::new(
                self.io.create(&path).unwrap(),
                path.clone(),
                self.ctx().writer_options(0),
            );
            for (k, s, kind, v) in versions {
                w.add(k.as_bytes(), *s, *kind, v.as_bytes()).unwrap();
            }
            w.finish().unwrap();
            Arc::new(Table::open(&path, id, self.cache.clone(), self.io.clone()).unwrap())
        }

        /// The table files in the fixture's directory.
        pub(crate) fn table_files(&self) -> usize {
            std::fs::read_dir(self.dir.path())
                .unwrap()
                .filter(|e| {
                    e.as_ref()
                        .unwrap()
                        .path()
                        .extension()
                        .is_some_and(|x| x == "sst")
                })
                .count()
        }
    }

    /// Every version in `t`, as `(key, seqno, kind, value)`.
    pub(crate) fn versions_of(t: &Arc<Table>) -> Vec<(String, Seqno, Kind, String)> {
        t.iter(Bound::Unbounded, Bound::Unbounded, false)
            .map(|e| {
                let e: Entry = e.unwrap();
                (
                    String::from_utf8(e.key.to_vec()).unwrap(),
                    e.seqno,
                    e.kind,
                    String::from_utf8(e.value.to_vec()).unwrap(),
                )
            })
            .collect()
    }
}
