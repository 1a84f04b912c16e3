//! Reads of keys and key ranges that operators share: the key range of a
//! primary-key range or of an index range, the primary keys behind index
//! entries, which primary keys exist (for `insert`'s duplicate check),
//! and the split of a table into primary-key ranges for a parallel scan.

use std::ops::Bound;

use bytes::Bytes;
use fasty_wal::Snapshot;

use crate::catalog::Table;
use crate::error::{Error, Result};
use crate::keys;
use crate::limits::Meter;
use crate::value::Value;

/// A storage error as this crate's error.
fn storage(e: fasty_wal::Error) -> Error {
    Error::Storage(e)
}

/// The key range of table `t`'s rows with primary keys within bounds.
pub(crate) fn pk_range(t: u32, lo: Bound<i64>, hi: Bound<i64>) -> Option<(Vec<u8>, Vec<u8>)> {
    let start = match lo {
        Bound::Included(i) => keys::row_key(t, i).to_vec(),
        Bound::Excluded(i) => keys::row_key(t, i.checked_add(1)?).to_vec(),
        Bound::Unbounded => keys::table_prefix(t).to_vec(),
    };
    let end = match hi {
        Bound::Included(i) => match i.checked_add(1) {
            Some(n) => keys::row_key(t, n).to_vec(),
            None => table_end(t),
        },
        Bound::Excluded(i) => keys::row_key(t, i).to_vec(),
        Bound::Unbounded => table_end(t),
    };
    (start < end).then_some((start, end))
}

/// The first key after every key of table (or index) `t`.
pub(crate) fn table_end(t: u32) -> Vec<u8> {
    match t.checked_add(1) {
        Some(n) => keys::table_prefix(n).to_vec(),
        None => vec![0xFF; 13],
    }
}

/// The primary keys of index entries equal to any of `values`, sorted
/// and unique.
pub(crate) fn index_pks(
    snap: &Snapshot,
    index: u32,
    values: &[Value],
    meter: &mut Meter<'_>,
) -> Result<Vec<i64>> {
    let mut pks = Vec::new();
    let mut prefix = Vec::new();
    for v in values {
        prefix.clear();
        keys::index_prefix(index, v, &mut prefix);
        let end = keys::successor(&prefix).unwrap_or_else(|| table_end(index));
        collect_pks(snap, prefix.clone(), end, meter, &mut pks)?;
    }
    pks.sort_unstable();
    pks.dedup();
    Ok(pks)
}

/// The key range of index `index`'s entries with values within bounds
/// (never its null entries): where an index range access scans.
pub(crate) fn index_range(index: u32, lo: Bound<&Value>, hi: Bound<&Value>) -> (Vec<u8>, Vec<u8>) {
    let mut prefix = Vec::new();
    let start = match lo {
        Bound::Included(v) => {
            keys::index_prefix(index, v, &mut prefix);
            prefix.clone()
        }
        Bound::Excluded(v) => {
            keys::index_prefix(index, v, &mut prefix);
            keys::successor(&prefix).unwrap_or_else(|| table_end(index))
        }
        Bound::Unbounded => keys::not_null_start(index),
    };
    prefix.clear();
    let end = match hi {
        Bound::Included(v) => {
            keys::index_prefix(index, v, &mut prefix);
            keys::successor(&prefix).unwrap_or_else(|| table_end(index))
        }
        Bound::Excluded(v) => {
            keys::index_prefix(index, v, &mut prefix);
            prefix
        }
        Bound::Unbounded => table_end(index),
    };
    (start, end)
}

/// Appends the primary keys of the index entries in `[start, end)` to
/// `out`, in entry order.
pub(crate) fn collect_pks(
    snap: &Snapshot,
    start: Vec<u8>,
    end: Vec<u8>,
    meter: &mut Meter<'_>,
    out: &mut Vec<i64>,
) -> Result<()> {
    if start >= end {
        return Ok(());
    }
    let mut failed = None;
    snap.scan(start..end)
        .visit(|k, _| {
            let pk = keys::pk_of_index_key(k).ok_or_else(|| Error::corrupt("bad index key"));
            // (Not counted as held: the keys of a lookup join's probe are
            // dropped after each probe, and eight bytes a row are little.)
            match pk.and_then(|pk| meter.tick().map(|()| pk)) {
                Ok(pk) => {
                    out.push(pk);
                    true
                }
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })
        .map_err(|e| storage(e.into()))?;
    failed.map_or(Ok(()), Err)
}

/// Splits table `t`'s primary keys into about `parts` ranges of equal
/// width between its first and last key; `None` when it is empty.
pub(crate) fn split_ranges(
    snap: &Snapshot,
    t: u32,
    parts: usize,
) -> Result<Option<Vec<(i64, i64)>>> {
    let first = snap
        .scan(keys::table_prefix(t).to_vec()..table_end(t))
        .next();
    let last = snap
        .scan_rev(keys::table_prefix(t).to_vec()..table_end(t))
        .next();
    fn pk<E: Into<fasty_wal::Error>>(p: Option<Result<(Bytes, Bytes), E>>) -> Result<Option<i64>> {
        match p {
            None => Ok(None),
            Some(r) => {
                let (k, _) = r.map_err(|e| storage(e.into()))?;
                keys::decode_row_key(&k)
                    .map(|(_, pk)| Some(pk))
                    .ok_or_else(|| Error::corrupt("bad row key"))
            }
        }
    }
    let (Some(lo), Some(hi)) = (pk(first)?, pk(last)?) else {
        return Ok(None);
    };
    let (lo, hi) = (i128::from(lo), i128::from(hi));
    let parts = parts.max(1) as i128;
    let width = ((hi - lo) / parts).max(1);
    let mut out = Vec::new();
    let mut start = lo;
    while start <= hi {
        let end = (start + width - 1).min(hi);
        let end = if out.len() as i128 == parts - 1 {
            hi
        } else {
            end
        };
        // Both fit i64: they lie within [lo, hi].
        out.push((start as i64, end as i64));
        start = end + 1;
    }
    Ok(Some(out))
}

/// Table lookups by primary key, for `insert`'s duplicate check.
pub(crate) fn existing_pks(snap: &Snapshot, table: &Table, sorted_pks: &[i64]) -> Result<Vec<i64>> {
    let (Some(&lo), Some(&hi)) = (sorted_pks.first(), sorted_pks.last()) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    if sorted_pks.len() < 16 {
        for &pk in sorted_pks {
            // By reference: only whether the row exists matters.
            if snap
                .with_ref(&keys::row_key(table.id, pk), |read| read.is_some())
                .map_err(|e| storage(e.into()))?
            {
                found.push(pk);
            }
        }
        return Ok(found);
    }
    // A batch: one scan over its key span finds every existing key in it
    // (new keys beyond the table's end cost one seek).
    let Some((s, e)) = pk_range(table.id, Bound::Included(lo), Bound::Included(hi)) else {
        return Ok(found);
    };
    for pair in snap.scan(s..e) {
        let (k, _) = pair.map_err(|e| storage(e.into()))?;
        if let Some((_, pk)) = keys::decode_row_key(&k)
            && sorted_pks.binary_search(&pk).is_ok()
        {
            found.push(pk);
        }
    }
    Ok(found)
}
