//! The executor: runs a [`Plan`] over one snapshot. Rows flow push-style
//! from the driving table's access path through the join steps (each
//! applying the filters that become evaluable there) into a sink that
//! projects, sorts, keeps the top k or aggregates. A sink that has all it
//! needs (`limit` without `order by`) stops the scan early.
//!
//! A full scan of the driving table whose sink can be merged (anything but
//! an early-stopping `limit`) is split into primary-key ranges run in
//! parallel on rayon; each range fills its own sink and the sinks are
//! merged in key order, so results are the same as a single scan's.
//!
//! Results leave through an [`Emitter`] in chunks. Rows that need no
//! sorting or grouping stream straight from the scan to it; a parallel
//! scan of such rows buffers a bounded prefix of each key range and
//! finishes a range that outgrew it as a single scan, in key order.
//! Sorts and aggregates buffer what they must, within the memory limit.
//!
//! Every operator counts its rows on a [`Meter`] and consults the
//! statement's [`Limits`] once per chunk: a statement past its deadline,
//! cancelled, or holding more than its memory limit stops there.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use rustc_hash::FxHashMap as HashMap;
use std::ops::Bound;

use bytes::Bytes;
use fasty_wal::Snapshot;
use rayon::prelude::*;

use crate::ast::{AggFunc, ColumnType};
use crate::catalog::Table;
use crate::error::{Error, ErrorCode, Result};
use crate::expr::{ColumnCmp, Eval, as_f64, is_true};
use crate::keys;
use crate::limits::{Limits, Meter, row_bytes};
use crate::planner::{Access, Aggregation, Output, Plan, Source, Strategy};
use crate::row::RowReader;
use crate::stream::{CHUNK_ROWS, Emitter};
use crate::value::Value;

/// Rows a partition of a parallel scan of unsorted rows buffers before
/// it stops and leaves the rest of its key range to a streaming scan.
const PART_ROWS: usize = 4 * CHUNK_ROWS;

/// Estimated bytes all such partitions together buffer at most (half
/// the memory limit when that is less), shared equally.
const PARTS_BYTES: usize = 16 << 20;

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

/// Decodes the wanted columns (ascending) of a stored row straight into
/// their slots of `row` at `offset`, in one walk over the row.
pub(crate) fn decode_into(
    bytes: &[u8],
    columns: &[usize],
    offset: usize,
    row: &mut [Value],
) -> Result<()> {
    let mut reader = RowReader::new(bytes)?;
    for &c in columns {
        row[offset + c] = reader.value(c)?;
    }
    Ok(())
}

/// The leading filters of a driving table that compare one of its
/// columns with a constant, tested on the stored row's bytes before
/// anything is decoded: a row one of them rejects is never decoded.
/// Only a leading run is taken so that filters still run in their order
/// (a comparison never fails, so running them first changes nothing).
struct RawFilter<'p> {
    /// Per filter: the column's position in the table, and the test.
    tests: Vec<(usize, &'p ColumnCmp)>,
}

impl<'p> RawFilter<'p> {
    /// The raw tests of `filters` over a table at `offset` with `width`
    /// columns, and how many leading filters they replace.
    fn new(filters: &'p [Eval], offset: usize, width: usize) -> (RawFilter<'p>, usize) {
        let tests: Vec<(usize, &ColumnCmp)> = filters
            .iter()
            .map_while(|f| f.column_cmp())
            .map_while(|c| {
                let pos = c.index.checked_sub(offset).filter(|&p| p < width)?;
                Some((pos, c))
            })
            .collect();
        let n = tests.len();
        (RawFilter { tests }, n)
    }

    /// Whether every test holds (is true, not false or null) for `bytes`.
    #[inline]
    fn passes(&self, bytes: &[u8]) -> Result<bool> {
        if self.tests.is_empty() {
            return Ok(true);
        }
        let mut reader = RowReader::new(bytes)?;
        for (pos, t) in &self.tests {
            if t.test(reader.get(*pos)?) != Some(true) {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// Whether every filter in `filters` (those flagged in `which`, if given)
/// holds for `row`.
fn passes(filters: &[Eval], which: Option<&[bool]>, row: &[Value]) -> Result<bool> {
    for (i, f) in filters.iter().enumerate() {
        if which.is_some_and(|w| !w[i]) {
            continue;
        }
        if !is_true(&*f(row)?) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// A hashable join key: numbers that are equal hash equal (`1` and `1.0`).
#[derive(Hash, PartialEq, Eq)]
enum HashKey {
    Int(i64),
    Float(u64),
    Str(String),
    Bool(bool),
}

fn hash_key(v: &Value) -> Option<HashKey> {
    Some(match v {
        Value::Int(i) => HashKey::Int(*i),
        Value::Float(x) => {
            if x.fract() == 0.0 && *x >= -9.2e18 && *x <= 9.2e18 {
                HashKey::Int(*x as i64)
            } else {
                HashKey::Float(x.to_bits())
            }
        }
        Value::String(s) => HashKey::Str(s.clone()),
        Value::Bool(b) => HashKey::Bool(*b),
        Value::Null | Value::Json(_) => return None,
    })
}

/// The per-query state the pipeline reads: snapshot, plan, hash tables.
pub(crate) struct Runner<'a> {
    pub snap: &'a Snapshot,
    pub plan: &'a Plan,
    limits: &'a Limits,
    /// Built hash tables, per join step (empty for lookup strategies).
    hashes: Vec<HashTable>,
}

/// A hash join's build side: the joined table's needed columns for every
/// row, flattened into one arena, and per key the chain of its rows in
/// primary-key order.
#[derive(Default)]
struct HashTable {
    /// `width` values per row.
    values: Vec<Value>,
    width: usize,
    /// Per row: the next row with the same key (`u32::MAX`: none).
    next: Vec<u32>,
    /// Per key: first and last row.
    heads: HashMap<HashKey, (u32, u32)>,
}

impl HashTable {
    fn insert(&mut self, key: HashKey, vals: impl Iterator<Item = Value>) -> Result<()> {
        let row = u32::try_from(self.next.len())
            .map_err(|_| Error::query(ErrorCode::Unsupported, "hash join build side too large"))?;
        self.values.extend(vals);
        self.next.push(u32::MAX);
        match self.heads.get_mut(&key) {
            Some((_, tail)) => {
                self.next[*tail as usize] = row;
                *tail = row;
            }
            None => {
                self.heads.insert(key, (row, row));
            }
        }
        Ok(())
    }
}

/// Where rows that passed everything go. `push` returns false to stop.
/// `raw` is the driving table's stored row, for columns decoded late.
pub(crate) trait Sink {
    fn push(&mut self, row: &mut [Value], raw: &[u8]) -> Result<bool>;

    /// Whether the sink holds as much as it may: the scan stops after the
    /// current driving row and reports where (a bounded partition of a
    /// parallel scan).
    fn full(&self) -> bool {
        false
    }

    /// Whether `push` reads the row's values at all (`count(*)` does not).
    fn reads_values(&self) -> bool {
        true
    }

    /// Whether the driving table's stored row `raw`, having passed the
    /// filters, would be dropped by `push` anyway: a full top-k heap it
    /// cannot enter. Checked before the row is decoded.
    fn rejects_raw(&mut self, _raw: &[u8]) -> Result<bool> {
        Ok(false)
    }
}

impl<'a> Runner<'a> {
    /// Prepares the pipeline: builds the hash tables of hash joins.
    pub(crate) fn new(
        snap: &'a Snapshot,
        plan: &'a Plan,
        limits: &'a Limits,
    ) -> Result<Runner<'a>> {
        let mut hashes = Vec::new();
        let mut scanned = Meter::new(limits);
        let mut held = Meter::new(limits);
        for j in &plan.joins {
            let mut table = HashTable {
                width: j.source.columns.len(),
                ..HashTable::default()
            };
            if matches!(j.strategy, Strategy::Hash) {
                let src = &j.source;
                let mut buf = vec![Value::Null; plan.scope.width];
                let pos = j.right_column;
                // Per row: its values, its link, and (for a new key) the
                // key's map entry, roughly.
                let fixed = table.width * size_of::<Value>() + 4 + 24;
                for_each_row(snap, src, &mut scanned, &mut |bytes| {
                    decode_into(bytes, &src.columns, src.offset, &mut buf)?;
                    if !passes(&src.filter, Some(&src.own), &buf)? {
                        return Ok(true);
                    }
                    if let Some(k) = hash_key(&buf[src.offset + pos]) {
                        let mut bytes = fixed;
                        let vals = src.columns.iter().map(|&c| {
                            let v = std::mem::replace(&mut buf[src.offset + c], Value::Null);
                            bytes += crate::limits::value_heap(&v);
                            v
                        });
                        table.insert(k, vals)?;
                        held.tick_holding(bytes)?;
                    }
                    Ok(true)
                })?;
                held.flush()?;
            }
            hashes.push(table);
        }
        Ok(Runner {
            snap,
            plan,
            limits,
            hashes,
        })
    }

    /// Runs the driving table's rows within `range` (a primary-key range
    /// of a full scan, or the whole access path) into `sink`. Returns the
    /// primary key of the last driving row done when the sink filled up
    /// ([`Sink::full`]) before the end; `None` when all was done or the
    /// sink asked to stop.
    pub(crate) fn run(
        &self,
        range: Option<(i64, i64)>,
        sink: &mut dyn Sink,
    ) -> Result<Option<i64>> {
        let d = &self.plan.driver;
        let mut scanned = Meter::new(self.limits);
        let mut joined = Meter::new(self.limits);
        let mut stopped_at = None;
        let mut buf = vec![Value::Null; self.plan.scope.width];
        let (raw, tested) = RawFilter::new(&d.filter, d.offset, d.table.columns.len());
        let rest = &d.filter[tested..];
        // Nothing to decode when every filter ran on the bytes and the
        // rest of the pipeline reads no value (`count(*)`).
        let decode = !rest.is_empty() || !self.plan.joins.is_empty() || sink.reads_values();
        let mut go = |bytes: &[u8]| -> Result<bool> {
            if !raw.passes(bytes)? {
                return Ok(true);
            }
            if rest.is_empty() && sink.rejects_raw(bytes)? {
                return Ok(true);
            }
            if decode {
                decode_into(bytes, &d.columns, d.offset, &mut buf)?;
                if !passes(rest, None, &buf)? {
                    return Ok(true);
                }
            }
            if !self.feed(0, &mut buf, bytes, sink, &mut joined)? {
                return Ok(false);
            }
            if sink.full() {
                let pk = RowReader::new(bytes)?
                    .int(d.table.pk)?
                    .ok_or_else(|| Error::corrupt("a stored row without id"))?;
                stopped_at = Some(pk);
                return Ok(false);
            }
            Ok(true)
        };
        match range {
            Some((lo, hi)) => {
                let Some((s, e)) = pk_range(d.table.id, Bound::Included(lo), Bound::Included(hi))
                else {
                    return Ok(None);
                };
                scan_keys(self.snap, s, e, &mut scanned, &mut go)?;
            }
            None => for_each_row(self.snap, d, &mut scanned, &mut go)?,
        }
        Ok(stopped_at)
    }

    /// Passes a row that has every table up to join step `step` filled
    /// through the remaining joins into the sink.
    fn feed(
        &self,
        step: usize,
        row: &mut [Value],
        raw: &[u8],
        sink: &mut dyn Sink,
        meter: &mut Meter<'_>,
    ) -> Result<bool> {
        let Some(j) = self.plan.joins.get(step) else {
            return sink.push(row, raw);
        };
        let key = (j.left_key)(row)?.into_owned();
        if key.is_null() {
            return Ok(true);
        }
        let src = &j.source;
        match &j.strategy {
            Strategy::PkLookup => {
                let Some(Value::Int(pk)) = crate::planner::key_value(key, ColumnType::Int) else {
                    return Ok(true);
                };
                let Some(bytes) = self
                    .snap
                    .get(&keys::row_key(src.table.id, pk))
                    .map_err(|e| storage(e.into()))?
                else {
                    return Ok(true);
                };
                decode_into(&bytes, &src.columns, src.offset, row)?;
                if passes(&src.filter, None, row)? {
                    return self.feed(step + 1, row, raw, sink, meter);
                }
                Ok(true)
            }
            Strategy::IndexLookup(ix) => {
                let ty = src.table.columns[ix.pos].ty;
                let Some(v) = crate::planner::key_value(key, ty) else {
                    return Ok(true);
                };
                let pks = index_pks(self.snap, ix.id, std::slice::from_ref(&v), meter)?;
                for pk in pks {
                    meter.tick()?;
                    let Some(bytes) = self
                        .snap
                        .get(&keys::row_key(src.table.id, pk))
                        .map_err(|e| storage(e.into()))?
                    else {
                        continue;
                    };
                    decode_into(&bytes, &src.columns, src.offset, row)?;
                    if passes(&src.filter, None, row)?
                        && !self.feed(step + 1, row, raw, sink, meter)?
                    {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Strategy::Hash => {
                let Some(k) = hash_key(&key) else {
                    return Ok(true);
                };
                let table = &self.hashes[step];
                let Some(&(mut at, _)) = table.heads.get(&k) else {
                    return Ok(true);
                };
                while at != u32::MAX {
                    meter.tick()?;
                    let start = at as usize * table.width;
                    for (c, v) in src
                        .columns
                        .iter()
                        .zip(&table.values[start..start + table.width])
                    {
                        row[src.offset + c] = v.clone();
                    }
                    if passes(&src.filter, None, row)?
                        && !self.feed(step + 1, row, raw, sink, meter)?
                    {
                        return Ok(false);
                    }
                    at = table.next[at as usize];
                }
                Ok(true)
            }
        }
    }
}

/// Calls `f` with every stored row in `[start, end)`; stops when it
/// returns false, or when `meter`'s limits are passed.
fn scan_keys(
    snap: &Snapshot,
    start: Vec<u8>,
    end: Vec<u8>,
    meter: &mut Meter<'_>,
    f: &mut dyn FnMut(&[u8]) -> Result<bool>,
) -> Result<()> {
    // `visit` lends each value as a slice: no refcounted handle per row.
    let mut failed = None;
    snap.scan(start..end)
        .visit(|_, v| match meter.tick().and_then(|()| f(v)) {
            Ok(go_on) => go_on,
            Err(e) => {
                failed = Some(e);
                false
            }
        })
        .map_err(|e| storage(e.into()))?;
    failed.map_or(Ok(()), Err)
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

/// Calls `f` with every stored row `src`'s access path yields, in primary
/// key order; stops when it returns false.
pub(crate) fn for_each_row(
    snap: &Snapshot,
    src: &Source,
    meter: &mut Meter<'_>,
    f: &mut dyn FnMut(&[u8]) -> Result<bool>,
) -> Result<()> {
    let t = src.table.id;
    let pks = match &src.access {
        Access::FullScan => {
            return scan_keys(snap, keys::table_prefix(t).to_vec(), table_end(t), meter, f);
        }
        Access::PkRange(lo, hi) => {
            let Some((s, e)) = pk_range(t, *lo, *hi) else {
                return Ok(());
            };
            return scan_keys(snap, s, e, meter, f);
        }
        Access::PkPoints(pks) => pks.clone(),
        Access::IndexPoints(ix, vals) => index_pks(snap, ix.id, vals, meter)?,
        Access::IndexRange(ix, lo, hi) => {
            let (start, end) = index_range(ix.id, lo.as_ref(), hi.as_ref());
            let mut pks = Vec::new();
            collect_pks(snap, start, end, meter, &mut pks)?;
            pks.sort_unstable();
            pks.dedup();
            pks
        }
    };
    for pk in pks {
        meter.tick()?;
        if let Some(bytes) = snap
            .get(&keys::row_key(t, pk))
            .map_err(|e| storage(e.into()))?
            && !f(&bytes)?
        {
            break;
        }
    }
    Ok(())
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

// ---------------------------------------------------------------------
// Sinks

/// Rows with their sort keys and arrival order.
struct Ranked<'p> {
    keys: Vec<Value>,
    seq: u64,
    out: Vec<Value>,
    desc: &'p [bool],
}

fn cmp_keys(a: &[Value], b: &[Value], desc: &[bool]) -> Ordering {
    for ((x, y), d) in a.iter().zip(b).zip(desc) {
        let o = x.sort_cmp(y);
        let o = if *d { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

impl PartialEq for Ranked<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Ranked<'_> {}
impl PartialOrd for Ranked<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ranked<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_keys(&self.keys, &other.keys, self.desc).then(self.seq.cmp(&other.seq))
    }
}

/// Projects rows; sorts them, keeps the top k, or stops at the limit.
/// (Unsorted rows are buffered only by a partition of a parallel scan;
/// a single scan streams them through a [`StreamSink`].)
struct ProjectSink<'p> {
    /// Driving-table columns still to decode before projecting, and where
    /// they go in the row.
    lazy: &'p [usize],
    lazy_offset: usize,
    /// Move values out of the row buffer when projecting `*` (no joins:
    /// nothing reads the buffer again before it is decoded anew).
    take: bool,
    /// A top-k by one plain column of the driving table (no joins): its
    /// position in the table, to test rows against the heap undecoded.
    raw_key: Option<usize>,
    keys: Vec<Value>,
    items: &'p [Eval],
    order: &'p [(Eval, bool)],
    desc: &'p [bool],
    /// Without order: stop after this many rows. With order: keep only
    /// the best this many (a heap).
    keep: Option<usize>,
    seq: u64,
    plain: Vec<Vec<Value>>,
    /// Estimated bytes of `plain`.
    plain_bytes: usize,
    /// Unsorted rows of a partition: full at [`PART_ROWS`] rows or this
    /// many bytes.
    bounded: Option<usize>,
    heap: BinaryHeap<Ranked<'p>>,
    sorted: Vec<Ranked<'p>>,
    meter: Meter<'p>,
    /// Whether rows' bytes are estimated at all (a memory limit is set).
    measure: bool,
}

impl<'p> ProjectSink<'p> {
    fn new(
        plan: &'p Plan,
        items: &'p [Eval],
        order: &'p [(Eval, bool)],
        desc: &'p [bool],
        keep: Option<usize>,
        seq: u64,
        limits: &'p Limits,
    ) -> Self {
        ProjectSink {
            lazy: &plan.driver.lazy,
            lazy_offset: plan.driver.offset,
            take: plan.joins.is_empty(),
            raw_key: match order {
                [(key, _)] if plan.joins.is_empty() && keep.is_some() => key
                    .column()
                    .and_then(|i| i.checked_sub(plan.driver.offset))
                    .filter(|&p| p < plan.driver.table.columns.len()),
                _ => None,
            },
            keys: Vec::new(),
            items,
            order,
            desc,
            keep,
            seq,
            plain: Vec::new(),
            plain_bytes: 0,
            bounded: None,
            heap: BinaryHeap::new(),
            sorted: Vec::new(),
            meter: Meter::new(limits),
            measure: limits.memory_limit().is_some(),
        }
    }

    fn project(&mut self, row: &mut [Value], raw: &[u8]) -> Result<Vec<Value>> {
        if !self.lazy.is_empty() {
            decode_into(raw, self.lazy, self.lazy_offset, row)?;
        }
        if self.items.is_empty() {
            // `*`: without joins the row buffer is decoded afresh for the
            // next row, so its values move out instead of being copied.
            if self.take {
                return Ok(row.iter_mut().map(std::mem::take).collect());
            }
            return Ok(row.to_vec());
        }
        self.items
            .iter()
            .map(|f| Ok(f(row)?.into_owned()))
            .collect()
    }

    /// Every row, in final order (before offset/limit), into `emit`
    /// until it wants no more.
    fn finish(mut self, emit: &mut Emitter<'_>) -> Result<()> {
        self.meter.release_all()?;
        let limits = self.meter.limits();
        if self.order.is_empty() {
            return emit_all(self.plain, emit);
        }
        let mut all: Vec<Ranked<'p>> = if self.keep.is_some() {
            self.heap.into_vec()
        } else {
            self.sorted
        };
        // The sort itself cannot stop midway: check before and after.
        limits.check()?;
        all.sort();
        limits.check()?;
        emit_all(all.into_iter().map(|r| r.out), emit)
    }

    fn merge(&mut self, other: ProjectSink<'p>) {
        self.plain.extend(other.plain);
        self.plain_bytes += other.plain_bytes;
        self.sorted.extend(other.sorted);
        for r in other.heap {
            self.offer(r);
        }
    }

    fn offer(&mut self, r: Ranked<'p>) {
        let Some(k) = self.keep else {
            self.sorted.push(r);
            return;
        };
        if self.heap.len() < k {
            self.heap.push(r);
        } else if let Some(top) = self.heap.peek()
            && r < *top
        {
            self.heap.pop();
            self.heap.push(r);
        }
    }
}

impl Sink for ProjectSink<'_> {
    fn full(&self) -> bool {
        self.bounded
            .is_some_and(|cap| self.plain.len() >= PART_ROWS || self.plain_bytes >= cap)
    }

    fn rejects_raw(&mut self, raw: &[u8]) -> Result<bool> {
        let (Some(pos), Some(k)) = (self.raw_key, self.keep) else {
            return Ok(false);
        };
        if self.heap.len() < k {
            return Ok(false);
        }
        let Some(top) = self.heap.peek() else {
            // k = 0: nothing enters.
            return Ok(true);
        };
        let Some(o) = RowReader::new(raw)?.get(pos)?.sort_cmp(&top.keys[0]) else {
            return Ok(false);
        };
        let o = if self.desc[0] { o.reverse() } else { o };
        // A tie loses too: this row comes after every row in the heap
        // (`seq` only grows within a sink), as `push` would decide.
        Ok(o != Ordering::Less)
    }

    fn push(&mut self, row: &mut [Value], raw: &[u8]) -> Result<bool> {
        self.seq += 1;
        if self.order.is_empty() {
            let out = self.project(row, raw)?;
            let bytes = if self.measure || self.bounded.is_some() {
                row_bytes(&out)
            } else {
                0
            };
            self.plain_bytes += bytes;
            self.plain.push(out);
            self.meter.tick_holding(bytes)?;
            return Ok(self.keep.is_none_or(|k| self.plain.len() < k));
        }
        self.keys.clear();
        for (f, _) in self.order {
            let v = f(row)?.into_owned();
            self.keys.push(v);
        }
        // A row that cannot enter a full heap is not even projected.
        if let Some(k) = self.keep {
            if k == 0 {
                return Ok(true);
            }
            if self.heap.len() >= k
                && let Some(top) = self.heap.peek()
                && cmp_keys(&self.keys, &top.keys, self.desc).then(self.seq.cmp(&top.seq))
                    != Ordering::Less
            {
                return Ok(true);
            }
        }
        let keys = std::mem::take(&mut self.keys);
        let r = Ranked {
            keys,
            seq: self.seq,
            out: self.project(row, raw)?,
            desc: self.desc,
        };
        // A row replacing one in a full heap holds nothing more.
        if self.measure && self.keep.is_none_or(|k| self.heap.len() < k) {
            let bytes = row_bytes(&r.keys) + row_bytes(&r.out) + size_of::<Ranked<'_>>();
            self.meter.tick_holding(bytes)?;
        }
        self.offer(r);
        Ok(true)
    }
}

/// One aggregate's running state.
#[derive(Clone, Debug)]
pub(crate) enum AggState {
    Count(i64),
    Sum {
        int: i64,
        float: f64,
        any: bool,
        is_float: bool,
    },
    Avg {
        sum: f64,
        n: i64,
    },
    Min(Value),
    Max(Value),
}

impl AggState {
    pub(crate) fn new(f: AggFunc) -> AggState {
        match f {
            AggFunc::Count => AggState::Count(0),
            AggFunc::Sum => AggState::Sum {
                int: 0,
                float: 0.0,
                any: false,
                is_float: false,
            },
            AggFunc::Avg => AggState::Avg { sum: 0.0, n: 0 },
            AggFunc::Min => AggState::Min(Value::Null),
            AggFunc::Max => AggState::Max(Value::Null),
        }
    }

    /// Adds one input (`None` for `count(*)`).
    pub(crate) fn add(&mut self, v: Option<&Value>) -> Result<()> {
        match (self, v) {
            (AggState::Count(n), None) => *n += 1,
            (_, Some(Value::Null)) => {}
            (AggState::Count(n), Some(_)) => *n += 1,
            (
                AggState::Sum {
                    int,
                    float,
                    any,
                    is_float,
                },
                Some(v),
            ) => {
                *any = true;
                match v {
                    Value::Int(i) if !*is_float => {
                        *int = int.checked_add(*i).ok_or_else(|| {
                            Error::query(ErrorCode::NumericOverflow, "integer overflow in sum")
                        })?;
                    }
                    v => {
                        let x = as_f64(v).ok_or_else(|| not_number("sum", v))?;
                        if !*is_float {
                            *is_float = true;
                            *float = *int as f64;
                        }
                        *float += x;
                    }
                }
            }
            (AggState::Avg { sum, n }, Some(v)) => {
                *sum += as_f64(v).ok_or_else(|| not_number("avg", v))?;
                *n += 1;
            }
            (AggState::Min(m), Some(v)) => {
                if m.is_null() || v.sort_cmp(m) == Ordering::Less {
                    *m = v.clone();
                }
            }
            (AggState::Max(m), Some(v)) => {
                if m.is_null() || v.sort_cmp(m) == Ordering::Greater {
                    *m = v.clone();
                }
            }
            (_, None) => {}
        }
        Ok(())
    }

    fn merge(&mut self, other: AggState) -> Result<()> {
        match (self, other) {
            (AggState::Count(a), AggState::Count(b)) => *a += b,
            (
                AggState::Sum {
                    int,
                    float,
                    any,
                    is_float,
                },
                AggState::Sum {
                    int: i2,
                    float: f2,
                    any: a2,
                    is_float: fl2,
                },
            ) => {
                *any |= a2;
                if !*is_float && !fl2 {
                    *int = int.checked_add(i2).ok_or_else(|| {
                        Error::query(ErrorCode::NumericOverflow, "integer overflow in sum")
                    })?;
                } else {
                    let mine = if *is_float { *float } else { *int as f64 };
                    let theirs = if fl2 { f2 } else { i2 as f64 };
                    *float = mine + theirs;
                    *is_float = true;
                }
            }
            (AggState::Avg { sum, n }, AggState::Avg { sum: s2, n: n2 }) => {
                *sum += s2;
                *n += n2;
            }
            (s @ AggState::Min(_), AggState::Min(v)) | (s @ AggState::Max(_), AggState::Max(v))
                if !v.is_null() =>
            {
                s.add(Some(&v))?;
            }
            _ => {}
        }
        Ok(())
    }

    pub(crate) fn result(&self) -> Value {
        match self {
            AggState::Count(n) => Value::Int(*n),
            AggState::Sum { any: false, .. } => Value::Null,
            AggState::Sum {
                is_float: true,
                float,
                ..
            } => Value::Float(*float),
            AggState::Sum { int, .. } => Value::Int(*int),
            AggState::Avg { n: 0, .. } => Value::Null,
            AggState::Avg { sum, n } => Value::Float(sum / *n as f64),
            AggState::Min(v) | AggState::Max(v) => v.clone(),
        }
    }
}

fn not_number(f: &str, v: &Value) -> Error {
    Error::query(
        ErrorCode::TypeMismatch,
        format!("{f} needs numbers, got {}", v.type_name()),
    )
}

/// Hash aggregation: group key (order-preserving encoding) → key values
/// and aggregate states.
struct AggSink<'p> {
    agg: &'p Aggregation,
    groups: HashMap<Vec<u8>, (Vec<Value>, Vec<AggState>)>,
    /// Without `group by`: the one group's states, kept out of the map.
    single: Vec<AggState>,
    key_buf: Vec<u8>,
    meter: Meter<'p>,
}

impl<'p> AggSink<'p> {
    fn new(agg: &'p Aggregation, limits: &'p Limits) -> Self {
        AggSink {
            agg,
            groups: HashMap::default(),
            single: agg.aggs.iter().map(|(f, _)| AggState::new(*f)).collect(),
            key_buf: Vec::new(),
            meter: Meter::new(limits),
        }
    }

    fn merge(&mut self, other: AggSink<'p>) -> Result<()> {
        for (m, s) in self.single.iter_mut().zip(other.single) {
            m.merge(s)?;
        }
        for (k, (vals, states)) in other.groups {
            match self.groups.get_mut(&k) {
                Some((_, mine)) => {
                    for (m, s) in mine.iter_mut().zip(states) {
                        m.merge(s)?;
                    }
                }
                None => {
                    self.groups.insert(k, (vals, states));
                }
            }
        }
        Ok(())
    }

    /// Group rows `[keys.., aggregates..]`, in group-key order.
    fn finish(mut self) -> Result<Vec<Vec<Value>>> {
        self.meter.release_all()?;
        let mut groups: Vec<_> = self.groups.into_iter().collect();
        if self.agg.keys.is_empty() {
            groups.push((Vec::new(), (Vec::new(), self.single)));
        }
        groups.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(groups
            .into_iter()
            .map(|(_, (mut vals, states))| {
                vals.extend(states.iter().map(AggState::result));
                vals
            })
            .collect())
    }
}

impl Sink for AggSink<'_> {
    fn reads_values(&self) -> bool {
        !self.agg.keys.is_empty() || self.agg.aggs.iter().any(|(_, arg)| arg.is_some())
    }

    fn push(&mut self, row: &mut [Value], _raw: &[u8]) -> Result<bool> {
        if self.agg.keys.is_empty() {
            // One group: no key to hash.
            for ((_, arg), state) in self.agg.aggs.iter().zip(self.single.iter_mut()) {
                match arg {
                    None => state.add(None)?,
                    Some(f) => state.add(Some(&*f(row)?))?,
                }
            }
            return Ok(true);
        }
        self.key_buf.clear();
        let mut key_vals = Vec::with_capacity(self.agg.keys.len());
        for k in &self.agg.keys {
            let v = k(row)?;
            keys::encode_ordered(&v, &mut self.key_buf);
            key_vals.push(v.into_owned());
        }
        let aggs = &self.agg.aggs;
        let entry = match self.groups.get_mut(&self.key_buf) {
            Some(e) => e,
            None => {
                // A new group: its key twice (encoded and as values), its
                // states and the map's entry.
                let bytes = self.key_buf.len()
                    + row_bytes(&key_vals)
                    + aggs.len() * size_of::<AggState>()
                    + size_of::<(Vec<u8>, (Vec<Value>, Vec<AggState>))>();
                self.meter.tick_holding(bytes)?;
                self.groups.entry(self.key_buf.clone()).or_insert_with(|| {
                    (
                        key_vals,
                        aggs.iter().map(|(f, _)| AggState::new(*f)).collect(),
                    )
                })
            }
        };
        for ((_, arg), state) in aggs.iter().zip(entry.1.iter_mut()) {
            match arg {
                None => state.add(None)?,
                Some(f) => state.add(Some(&*f(row)?))?,
            }
        }
        Ok(true)
    }
}

/// Either sink, so partitions of a parallel scan can be merged.
enum AnySink<'p> {
    Rows(ProjectSink<'p>),
    Agg(AggSink<'p>),
}

impl Sink for AnySink<'_> {
    fn rejects_raw(&mut self, raw: &[u8]) -> Result<bool> {
        match self {
            AnySink::Rows(s) => s.rejects_raw(raw),
            AnySink::Agg(_) => Ok(false),
        }
    }

    fn reads_values(&self) -> bool {
        match self {
            AnySink::Rows(s) => s.reads_values(),
            AnySink::Agg(s) => s.reads_values(),
        }
    }

    fn push(&mut self, row: &mut [Value], raw: &[u8]) -> Result<bool> {
        match self {
            AnySink::Rows(s) => s.push(row, raw),
            AnySink::Agg(s) => s.push(row, raw),
        }
    }
}

impl AnySink<'_> {
    fn merge(&mut self, other: Self) -> Result<()> {
        match (self, other) {
            // What the other partition held but had not yet reported.
            (AnySink::Rows(a), AnySink::Rows(mut b)) => {
                let m = std::mem::replace(&mut b.meter, Meter::new(a.meter.limits()));
                a.meter.absorb(m)?;
                a.merge(b);
            }
            (AnySink::Agg(a), AnySink::Agg(mut b)) => {
                let m = std::mem::replace(&mut b.meter, Meter::new(a.meter.limits()));
                a.meter.absorb(m)?;
                a.merge(b)?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Passes unsorted rows straight from the scan to the [`Emitter`],
/// projected.
struct StreamSink<'p, 's, 'o> {
    proj: ProjectSink<'p>,
    out: &'s mut Emitter<'o>,
}

impl Sink for StreamSink<'_, '_, '_> {
    fn push(&mut self, row: &mut [Value], raw: &[u8]) -> Result<bool> {
        if self.out.done() {
            return Ok(false);
        }
        let r = self.proj.project(row, raw)?;
        self.out.push(r)
    }
}

/// Sends `rows` to `emit` until it wants no more.
fn emit_all(rows: impl IntoIterator<Item = Vec<Value>>, emit: &mut Emitter<'_>) -> Result<()> {
    for r in rows {
        if !emit.push(r)? {
            break;
        }
    }
    Ok(())
}

/// Runs a planned `select`, sending its rows (offset and limit applied)
/// through `emit` as they are produced.
pub(crate) fn run_select(
    snap: &Snapshot,
    plan: &Plan,
    desc: &[bool],
    limits: &Limits,
    emit: &mut Emitter<'_>,
) -> Result<()> {
    let runner = Runner::new(snap, plan, limits)?;
    let offset = usize::try_from(plan.offset).unwrap_or(usize::MAX);
    let limit = plan.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
    let keep = limit.map(|l| l.saturating_add(offset));
    emit.window(offset, limit);
    let ranges = if plan.parallel {
        let parts = rayon::current_num_threads() * 4;
        split_ranges(snap, plan.driver.table.id, parts)?.filter(|r| r.len() > 1)
    } else {
        None
    };
    if let Output::Rows { items, order } = &plan.output
        && order.is_empty()
    {
        let stream = |emit: &mut Emitter<'_>, range: Option<(i64, i64)>| -> Result<()> {
            let proj = ProjectSink::new(plan, items, order, desc, None, 0, limits);
            runner.run(range, &mut StreamSink { proj, out: emit })?;
            Ok(())
        };
        let Some(ranges) = ranges else {
            return stream(emit, None);
        };
        // Each key range is scanned in parallel into a buffer. When the
        // result streams, the buffers are bounded, and a range that
        // outgrows its buffer is finished by a streaming scan from where
        // it stopped, in key order.
        let budget = limits
            .memory_limit()
            .map_or(PARTS_BYTES, |m| (m / 2).min(PARTS_BYTES));
        let cap = (!emit.keeps_all()).then(|| budget / ranges.len());
        let parts: Vec<(ProjectSink<'_>, Option<i64>)> = ranges
            .par_iter()
            .map(|r| {
                let mut s = ProjectSink::new(plan, items, order, desc, None, 0, limits);
                s.bounded = cap;
                let stopped = runner.run(Some(*r), &mut s)?;
                Ok((s, stopped))
            })
            .collect::<Result<_>>()?;
        for ((mut part, stopped), &(_, hi)) in parts.into_iter().zip(&ranges) {
            part.meter.release_all()?;
            emit_all(part.plain, emit)?;
            if let Some(pk) = stopped
                && pk < hi
                && !emit.done()
            {
                stream(emit, Some((pk + 1, hi)))?;
            }
            if emit.done() {
                break;
            }
        }
        return Ok(());
    }
    let make = |seq: u64| -> AnySink<'_> {
        match &plan.output {
            Output::Rows { items, order } => AnySink::Rows(ProjectSink::new(
                plan, items, order, desc, keep, seq, limits,
            )),
            Output::Aggregate(a) => AnySink::Agg(AggSink::new(a, limits)),
        }
    };
    let sink = match ranges {
        Some(ranges) => {
            let sinks: Vec<AnySink<'_>> = ranges
                .par_iter()
                .enumerate()
                .map(|(i, r)| {
                    let mut s = make((i as u64) << 40);
                    runner.run(Some(*r), &mut s)?;
                    Ok(s)
                })
                .collect::<Result<_>>()?;
            let mut it = sinks.into_iter();
            let mut first = it.next().unwrap_or_else(|| make(0));
            for s in it {
                first.merge(s)?;
            }
            first
        }
        None => {
            let mut s = make(0);
            runner.run(None, &mut s)?;
            s
        }
    };
    match sink {
        AnySink::Rows(s) => s.finish(emit),
        AnySink::Agg(s) => {
            let Output::Aggregate(a) = &plan.output else {
                return Err(Error::query(
                    ErrorCode::Unsupported,
                    "internal: sink mismatch",
                ));
            };
            let groups = s.finish()?;
            limits.check()?;
            let mut out: Vec<(Vec<Value>, Vec<Value>)> = groups
                .iter()
                .map(|g| {
                    let items = a
                        .items
                        .iter()
                        .map(|f| Ok(f(g)?.into_owned()))
                        .collect::<Result<Vec<_>>>()?;
                    let keys = a
                        .order
                        .iter()
                        .map(|(f, _)| Ok(f(g)?.into_owned()))
                        .collect::<Result<Vec<_>>>()?;
                    Ok((keys, items))
                })
                .collect::<Result<_>>()?;
            if !a.order.is_empty() {
                limits.check()?;
                out.sort_by(|x, y| cmp_keys(&x.0, &y.0, desc));
            }
            emit_all(out.into_iter().map(|(_, items)| items), emit)
        }
    }
}

/// Every row of `table` matching `filter`-bearing `source`, decoded
/// whole, with its primary key: what `update` and `delete` change.
pub(crate) fn matching_rows(
    snap: &Snapshot,
    plan: &Plan,
    limits: &Limits,
) -> Result<Vec<Vec<Value>>> {
    let runner = Runner::new(snap, plan, limits)?;
    struct All<'l> {
        rows: Vec<Vec<Value>>,
        width: usize,
        meter: Meter<'l>,
    }
    impl Sink for All<'_> {
        fn push(&mut self, row: &mut [Value], _raw: &[u8]) -> Result<bool> {
            let r = row[..self.width].to_vec();
            self.meter.tick_holding(row_bytes(&r))?;
            self.rows.push(r);
            Ok(true)
        }
    }
    let mut all = All {
        rows: Vec::new(),
        width: plan.driver.table.columns.len(),
        meter: Meter::new(limits),
    };
    runner.run(None, &mut all)?;
    all.meter.flush()?;
    Ok(all.rows)
}

/// Table lookups by primary key, for `insert`'s duplicate check.
pub(crate) fn existing_pks(snap: &Snapshot, table: &Table, sorted_pks: &[i64]) -> Result<Vec<i64>> {
    let (Some(&lo), Some(&hi)) = (sorted_pks.first(), sorted_pks.last()) else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    if sorted_pks.len() < 16 {
        for &pk in sorted_pks {
            if snap
                .get(&keys::row_key(table.id, pk))
                .map_err(|e| storage(e.into()))?
                .is_some()
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
