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
        let layout = self
            .opts
            .value_layout
            .clone()
            .filter(|_| level >= self.opts.columnar_from_level);
        let compress_from = match self.opts.columnar_compress_from_level {
            Some(level) if layout.is_some() => level,
            _ => self.opts.compress_from_level,
        };
        WriterOptions {
            block_size: self.opts.block_size,
            zstd_level: if level >= compress_from {
                self.opts.zstd_level
            } else {
                0
            },
            bloom_bits_per_key: self.opts.bloom_bits_per_key,
            layout,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::columnar::Field;
    use crate::columnar::testing::{TaggedLayout, row_key, tagged};
    use crate::{Engine, Options, WriteBatch};

    /// Keys outside any group (as a database's index entries are): a long
    /// shared prefix, so their row blocks compress well.
    fn loose_key(i: u32) -> Vec<u8> {
        let mut k = b"ix-an-index-entry-with-a-long-shared-prefix-".to_vec();
        k.extend_from_slice(&i.to_be_bytes());
        k
    }

    /// Level 0's bytes after flushing 2000 loose keys and 2000 rows of a
    /// group, written with `opts` (and the test layout if `columnar`);
    /// every key reads back.
    fn level0_bytes(opts: Options, columnar: bool) -> u64 {
        let dir = tempfile::tempdir().unwrap();
        let layout = columnar.then(|| Arc::new(TaggedLayout) as _);
        let engine = Engine::open(
            dir.path(),
            opts.with_background(false).with_value_layout(layout),
        )
        .unwrap();
        let row = |i: u32| tagged(&[Field::Int(i64::from(i)), Field::Text(b"name")]);
        let mut b = WriteBatch::new();
        for i in 0..2000u32 {
            b.put(loose_key(i), b"");
            b.put(row_key(u64::from(i)), row(i));
        }
        engine.apply(&b, 1).unwrap();
        engine.flush().unwrap();
        for i in [0u32, 999, 1999] {
            assert_eq!(
                engine.get(&loose_key(i)).unwrap().as_deref(),
                Some(&b""[..])
            );
            assert_eq!(
                engine.get(&row_key(u64::from(i))).unwrap().as_deref(),
                Some(&row(i)[..])
            );
        }
        let bytes = engine.stats().levels[0].bytes;
        engine.close().unwrap();
        bytes
    }

    /// Columnar tables compress their row blocks from
    /// `columnar_compress_from_level` when it is set, whatever
    /// `compress_from_level` says; unset (the default), they follow
    /// `compress_from_level`, as tables without a layout always do.
    #[test]
    fn columnar_tables_compress_row_blocks_from_their_own_level() {
        let loose = 2000 * loose_key(0).len() as u64;
        let columnar = |opts: Options| level0_bytes(opts, true);
        let plain = |opts: Options| level0_bytes(opts, false);
        // The default: level 0 is not compressed, with a layout or not.
        let off = columnar(Options::default());
        let rows = plain(Options::default());
        assert!(off > loose && rows > loose, "{off} and {rows} bytes");
        let on = columnar(Options::default().with_columnar_compress_from_level(Some(0)));
        assert!(
            on < off - loose / 2,
            "compressed {on}, uncompressed {off} bytes"
        );
        // The columnar setting wins over the general one, both ways.
        let on_general = Options::default().with_compress_from_level(0);
        assert_eq!(
            columnar(
                on_general
                    .clone()
                    .with_columnar_compress_from_level(Some(1))
            ),
            off
        );
        assert_eq!(columnar(on_general.clone()), on);
        // Tables without a layout follow only the general setting.
        assert_eq!(
            plain(Options::default().with_columnar_compress_from_level(Some(0))),
            rows
        );
        let rows_on = plain(on_general);
        assert!(
            rows_on < rows - loose / 2,
            "compressed {rows_on}, uncompressed {rows} bytes"
        );
    }
}
