//! A version: the immutable set of SSTs per level at one moment, and the
//! "super version" that adds the memtables on top.
//!
//! Readers clone an `Arc<SuperVersion>` and read from it without locks; the
//! tables and memtables it holds stay alive (and their files on disk) until
//! the last reader lets go. Flushes and compactions install a new super
//! version; they never change one in place.

use std::ops::Bound;
use std::sync::Arc;

use bytes::Bytes;

use crate::error::Result;
use crate::iter::Cursor;
use crate::manifest::{Manifest, TableRecord};
use crate::memtable::Memtable;
use crate::sst::{Table, TableCursor, TableRef};
use crate::types::{Kind, Seqno};

/// Number of levels: level 0 (overlapping, newest first) and 1..=6 (each
/// sorted by key, files not overlapping).
pub(crate) const NUM_LEVELS: usize = 7;

/// The tables of every level.
#[derive(Clone)]
pub(crate) struct Version {
    pub levels: Vec<Vec<Arc<Table>>>,
}

/// Everything a read looks at: active memtable, frozen memtables (newest
/// first) and the tables.
pub(crate) struct SuperVersion {
    pub active: Arc<Memtable>,
    pub frozen: Vec<Arc<Memtable>>,
    pub version: Arc<Version>,
}

/// Whether every key of `t` is below `lower`.
fn ends_below(t: &Table, lower: &Bound<Bytes>) -> bool {
    let max = &t.meta().max_key;
    match lower {
        Bound::Included(l) => max < l,
        Bound::Excluded(l) => max <= l,
        Bound::Unbounded => false,
    }
}

/// Whether every key of `t` is above `upper`.
fn starts_above(t: &Table, upper: &Bound<Bytes>) -> bool {
    let min = &t.meta().min_key;
    match upper {
        Bound::Included(u) => min > u,
        Bound::Excluded(u) => min >= u,
        Bound::Unbounded => false,
    }
}

fn overlaps(t: &Table, lower: &Bound<Bytes>, upper: &Bound<Bytes>) -> bool {
    !ends_below(t, lower) && !starts_above(t, upper)
}

/// The tables of a sorted level (level 1 and deeper: key ranges ascending
/// and disjoint) that overlap the bounds: one run of them, found by two
/// binary searches instead of a look at every table's keys.
fn overlapping_run<'a>(
    level: &'a [Arc<Table>],
    lower: &Bound<Bytes>,
    upper: &Bound<Bytes>,
) -> &'a [Arc<Table>] {
    let start = level.partition_point(|t| ends_below(t, lower));
    let rest = &level[start..];
    &rest[..rest.partition_point(|t| !starts_above(t, upper))]
}

impl Version {
    pub(crate) fn empty() -> Version {
        Version {
            levels: vec![Vec::new(); NUM_LEVELS],
        }
    }

    /// The kind and value of the newest version of `key` visible at
    /// `seqno` held in any table.
    pub(crate) fn get(&self, key: &[u8], seqno: Seqno) -> Result<Option<(Kind, Bytes)>> {
        for t in &self.levels[0] {
            let m = t.meta();
            if key < m.min_key.as_ref() || key > m.max_key.as_ref() {
                continue;
            }
            if let Some(e) = t.get_value(key, seqno)? {
                return Ok(Some(e));
            }
        }
        for level in &self.levels[1..] {
            let i = level.partition_point(|t| t.meta().max_key.as_ref() < key);
            if let Some(t) = level.get(i)
                && t.meta().min_key.as_ref() <= key
                && let Some(e) = t.get_value(key, seqno)?
            {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// Whether a table holds a version of `key` newer than `seqno`: only
    /// tables whose newest version is newer than `seqno` are looked into.
    pub(crate) fn written_after(&self, key: &[u8], seqno: Seqno) -> Result<bool> {
        for t in self.levels.iter().flatten() {
            let m = t.meta();
            if m.max_seqno <= seqno || key < m.min_key.as_ref() || key > m.max_key.as_ref() {
                continue;
            }
            if t.newest_seqno(key)?.is_some_and(|newest| newest > seqno) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// [`Version::get`] without joining a columnar row's value, borrowing
    /// the table's cached block (see [`Table::read_ref`]).
    pub(crate) fn read_ref(
        &self,
        key: &[u8],
        seqno: Seqno,
    ) -> Result<Option<(Kind, TableRef<'_>)>> {
        for t in &self.levels[0] {
            let m = t.meta();
            if key < m.min_key.as_ref() || key > m.max_key.as_ref() {
                continue;
            }
            if let Some(e) = t.read_ref(key, seqno)? {
                return Ok(Some(e));
            }
        }
        for level in &self.levels[1..] {
            let i = level.partition_point(|t| t.meta().max_key.as_ref() < key);
            if let Some(t) = level.get(i)
                && t.meta().min_key.as_ref() <= key
                && let Some(e) = t.read_ref(key, seqno)?
            {
                return Ok(Some(e));
            }
        }
        Ok(None)
    }

    /// Tables of `level` whose key range meets `[lo, hi]`.
    pub(crate) fn overlapping(&self, level: usize, lo: &Bytes, hi: &Bytes) -> Vec<Arc<Table>> {
        let lower = Bound::Included(lo.clone());
        let upper = Bound::Included(hi.clone());
        self.levels[level]
            .iter()
            .filter(|t| overlaps(t, &lower, &upper))
            .cloned()
            .collect()
    }

    pub(crate) fn level_bytes(&self, level: usize) -> u64 {
        self.levels[level].iter().map(|t| t.meta().file_size).sum()
    }

    pub(crate) fn to_manifest(&self, next_file_id: u64, flushed_seqno: Seqno) -> Manifest {
        Manifest {
            next_file_id,
            flushed_seqno,
            levels: self
                .levels
                .iter()
                .map(|l| {
                    l.iter()
                        .map(|t| TableRecord {
                            id: t.id(),
                            meta: t.meta().clone(),
                        })
                        .collect()
                })
                .collect(),
        }
    }

    /// One cursor per source that can hold keys within the bounds: each
    /// overlapping level-0 table, and each level with an overlapping table.
    pub(crate) fn iterators(
        &self,
        lower: &Bound<Bytes>,
        upper: &Bound<Bytes>,
        reverse: bool,
        out: &mut Vec<Cursor>,
    ) {
        for t in &self.levels[0] {
            if overlaps(t, lower, upper) {
                out.push(Cursor::Tables(TableCursor::new(
                    vec![t.clone()],
                    lower.clone(),
                    upper.clone(),
                    reverse,
                )));
            }
        }
        for level in &self.levels[1..] {
            let mut tables = overlapping_run(level, lower, upper).to_vec();
            if tables.is_empty() {
                continue;
            }
            if reverse {
                tables.reverse();
            }
            out.push(Cursor::Tables(TableCursor::new(
                tables,
                lower.clone(),
                upper.clone(),
                reverse,
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::BlockCache;
    use crate::io::Io;
    use crate::io::std_fs::StdIo;
    use crate::sst::{TableWriter, WriterOptions};
    use crate::types::Kind;

    /// A table holding `keys` (ascending), one version each.
    fn table(dir: &std::path::Path, id: u64, keys: &[&[u8]]) -> Arc<Table> {
        let io: Arc<dyn Io> = Arc::new(StdIo::new());
        let path = dir.join(format!("{id}.sst"));
        let mut w = TableWriter::new(
            io.create(&path).unwrap(),
            path.clone(),
            WriterOptions {
                block_size: 64,
                zstd_level: 0,
                bloom_bits_per_key: 10,
                layout: None,
                columnar_rows: 4096,
            },
        );
        for k in keys {
            w.add(k, 1, Kind::Put, b"v").unwrap();
        }
        w.finish().unwrap();
        Arc::new(Table::open(&path, id, Arc::new(BlockCache::new(1 << 20)), io).unwrap())
    }

    /// The binary searches of a sorted level pick exactly the tables a look
    /// at every table's key range picks, for bounds that touch none, some
    /// or all of them, between, on and beyond their first and last keys.
    #[test]
    fn overlapping_run_is_the_overlapping_tables() {
        let dir = tempfile::tempdir().unwrap();
        let level: Vec<Arc<Table>> = [
            &[&b"b"[..], b"c"][..],
            &[b"e", b"ee", b"f"],
            &[b"h"],
            &[b"k", b"m"],
        ]
        .iter()
        .enumerate()
        .map(|(i, keys)| table(dir.path(), i as u64 + 1, keys))
        .collect();
        let probes: Vec<&[u8]> = vec![
            b"", b"a", b"b", b"bb", b"c", b"d", b"e", b"ef", b"f", b"g", b"h", b"i", b"k", b"l",
            b"m", b"n",
        ];
        let bounds: Vec<Bound<Bytes>> = std::iter::once(Bound::Unbounded)
            .chain(probes.iter().flat_map(|p| {
                let p = Bytes::copy_from_slice(p);
                [Bound::Included(p.clone()), Bound::Excluded(p)]
            }))
            .collect();
        let ids = |ts: &[Arc<Table>]| ts.iter().map(|t| t.id()).collect::<Vec<_>>();
        for lower in &bounds {
            for upper in &bounds {
                let want: Vec<Arc<Table>> = level
                    .iter()
                    .filter(|t| overlaps(t, lower, upper))
                    .cloned()
                    .collect();
                let got = overlapping_run(&level, lower, upper);
                assert_eq!(ids(got), ids(&want), "{lower:?}..{upper:?}");
            }
        }
    }
}
