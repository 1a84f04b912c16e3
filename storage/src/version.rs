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
use crate::sst::{Table, TableCursor};
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

fn overlaps(t: &Table, lower: &Bound<Bytes>, upper: &Bound<Bytes>) -> bool {
    let m = t.meta();
    let above_lower = match lower {
        Bound::Included(l) => m.max_key >= *l,
        Bound::Excluded(l) => m.max_key > *l,
        Bound::Unbounded => true,
    };
    let below_upper = match upper {
        Bound::Included(u) => m.min_key <= *u,
        Bound::Excluded(u) => m.min_key < *u,
        Bound::Unbounded => true,
    };
    above_lower && below_upper
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
            let mut tables: Vec<Arc<Table>> = level
                .iter()
                .filter(|t| overlaps(t, lower, upper))
                .cloned()
                .collect();
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
