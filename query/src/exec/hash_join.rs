//! `hash join`: holds the build side's rows in memory, hashed on its key,
//! and streams the probe side through it. Output is probe ++ build
//! columns, then the join's filter.
//!
//! Keys match as `=` on join keys does: ints, floats,
//! strings and bools by value, an int and an integral float as equal
//! (`1 = 1.0`); a null or json key matches nothing. Output order is probe
//! order, and for each probe row its matches in build order.
//!
//! The build rows are kept as dense chunks of [`VECTOR_SIZE`] rows (row
//! `r` is position `r % VECTOR_SIZE` of chunk `r / VECTOR_SIZE`), and
//! each key maps to the chain of its rows (first and last row, and per
//! row the next). The table is built once per statement and shared
//! through the [`ExecCtx`] by every copy of the join (a parallel plan runs
//! one copy per part of its probe side).

use std::sync::Arc;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

use super::{BoxOp, ExecCtx, Kernel, Node, Operator, Predicate, build};
use crate::error::{Error, ErrorCode, Result};
use crate::limits::{Limits, Meter};
use crate::plan::bound::BoundExpr;
use crate::plan::physical::Physical;
use crate::value::Value;
use crate::vector::{Chunk, Data, VECTOR_SIZE, Vector, VectorBuilder, gather};

/// No (further) row: the end of a chain.
const NONE: u32 = u32::MAX;

/// Bytes a build row holds besides its values: its chain link, and a
/// share of the key map (counted per row, whether its key is new or not).
const ROW_BYTES: usize = 4 + 24;

/// The key of one row, as the hash table files it.
enum Key {
    /// An int, or a float with an integral value in the int range.
    Int(i64),
    /// Anything else that can match, encoded in a scratch buffer: a tag
    /// byte then the value's bytes.
    Other,
}

/// Tags of [`Key::Other`] encodings.
const TAG_FLOAT: u8 = 1;
const TAG_STR: u8 = 2;
const TAG_BOOL: u8 = 3;

/// The key at position `p` of `v`, or `None` when it matches nothing
/// (null, json); [`Key::Other`] leaves its encoding in `buf`.
#[inline]
fn key_at(v: &Vector, p: usize, buf: &mut Vec<u8>) -> Result<Option<Key>> {
    if v.is_null(p) {
        return Ok(None);
    }
    Ok(match v.data() {
        Data::Int(x) => Some(Key::Int(x[p])),
        Data::Float(x) => float_key(x[p], buf),
        Data::Bool(x) => bool_key(x[p], buf),
        Data::Str(x) => str_key(x.bytes(p), buf),
        Data::Json(_) => None,
        Data::Any(x) => match &x[p] {
            Value::Int(i) => Some(Key::Int(*i)),
            Value::Float(f) => float_key(*f, buf),
            Value::Bool(b) => bool_key(*b, buf),
            Value::String(s) => str_key(s.as_bytes(), buf),
            Value::Null | Value::Json(_) => None,
        },
    })
}

/// The key of a float: an int when integral, else its bits.
fn float_key(x: f64, buf: &mut Vec<u8>) -> Option<Key> {
    // The same range as a key access's (`key_value`): every float in it that is
    // integral converts to that int exactly.
    if x.fract() == 0.0 && (-9.2e18..=9.2e18).contains(&x) {
        return Some(Key::Int(x as i64));
    }
    buf.clear();
    buf.push(TAG_FLOAT);
    buf.extend_from_slice(&x.to_bits().to_le_bytes());
    Some(Key::Other)
}

/// The key of a bool.
fn bool_key(b: bool, buf: &mut Vec<u8>) -> Option<Key> {
    buf.clear();
    buf.push(TAG_BOOL);
    buf.push(u8::from(b));
    Some(Key::Other)
}

/// The key of a string.
fn str_key(s: &[u8], buf: &mut Vec<u8>) -> Option<Key> {
    buf.clear();
    buf.push(TAG_STR);
    buf.extend_from_slice(s);
    Some(Key::Other)
}

/// The build side in memory.
#[derive(Debug, Default)]
pub(crate) struct BuildTable {
    /// The rows: full chunks of [`VECTOR_SIZE`] rows, the last one partial.
    chunks: Vec<Chunk>,
    /// Columns per row.
    width: usize,
    /// Per row: the next row with the same key, or [`NONE`].
    next: Vec<u32>,
    /// Per int key: its first and last row.
    ints: FxHashMap<i64, (u32, u32)>,
    /// Per other key (encoded): its first and last row.
    others: FxHashMap<Box<[u8]>, (u32, u32)>,
}

impl BuildTable {
    /// Reads all of `input` into a table on `key`, counting its memory.
    pub(crate) fn build(mut input: BoxOp<'_>, key: &Kernel, limits: &Limits) -> Result<BuildTable> {
        let mut t = BuildTable::default();
        let mut meter = Meter::new(limits);
        let mut buf = Vec::new();
        let mut cols: Vec<VectorBuilder> = Vec::new();
        let mut rows_in_cols = 0;
        let mut first = true;
        while let Some(chunk) = input.next()? {
            limits.check()?;
            if chunk.is_empty() {
                continue;
            }
            if first {
                t.width = chunk.columns.len();
                first = false;
            }
            let keys = key.eval(&chunk)?;
            for p in chunk.positions() {
                let Some(k) = key_at(&keys, p, &mut buf)? else {
                    continue;
                };
                let row = u32::try_from(t.next.len())
                    .ok()
                    .filter(|&r| r != NONE)
                    .ok_or_else(|| {
                        Error::query(ErrorCode::Unsupported, "hash join build side too large")
                    })?;
                if rows_in_cols == 0 {
                    cols = chunk
                        .columns
                        .iter()
                        .map(|c| VectorBuilder::like(c, VECTOR_SIZE))
                        .collect();
                }
                for (b, c) in cols.iter_mut().zip(&chunk.columns) {
                    b.push_from(c, p)?;
                }
                rows_in_cols += 1;
                t.next.push(NONE);
                let chain = match k {
                    Key::Int(i) => t.ints.entry(i).or_insert((row, NONE)),
                    Key::Other => t.others.entry(buf.as_slice().into()).or_insert((row, NONE)),
                };
                if chain.1 != NONE {
                    t.next[chain.1 as usize] = row;
                }
                chain.1 = row;
                meter.tick_holding(ROW_BYTES)?;
                if rows_in_cols == VECTOR_SIZE {
                    let c = t.seal(std::mem::take(&mut cols), rows_in_cols);
                    meter.tick_holding(c)?;
                    rows_in_cols = 0;
                }
            }
        }
        if rows_in_cols > 0 {
            let c = t.seal(cols, rows_in_cols);
            meter.tick_holding(c)?;
        }
        meter.flush()?;
        Ok(t)
    }

    /// Adds a chunk of `len` rows from `cols`; returns its bytes.
    fn seal(&mut self, cols: Vec<VectorBuilder>, len: usize) -> usize {
        let chunk = Chunk {
            columns: cols.into_iter().map(|b| Arc::new(b.finish())).collect(),
            len,
            sel: None,
        };
        let bytes = chunk.heap_bytes();
        self.chunks.push(chunk);
        bytes
    }

    /// The first row whose key equals the key at position `p` of `v`.
    #[inline]
    fn first(&self, v: &Vector, p: usize, buf: &mut Vec<u8>) -> Result<u32> {
        Ok(match key_at(v, p, buf)? {
            None => NONE,
            Some(Key::Int(i)) => self.ints.get(&i).map_or(NONE, |c| c.0),
            Some(Key::Other) => self.others.get(buf.as_slice()).map_or(NONE, |c| c.0),
        })
    }

    /// Column `c` of `rows`, as a new vector; a null where a row is
    /// [`NONE`].
    fn gather(&self, c: usize, rows: &[u32]) -> Result<Vector> {
        let Some(first) = self.chunks.first().and_then(|ch| ch.columns.get(c)) else {
            return Ok(Vector::nulls(rows.len()));
        };
        if let [only] = self.chunks.as_slice()
            && let Some(col) = only.columns.get(c)
            && !rows.contains(&NONE)
        {
            return gather(col, rows);
        }
        let mut b = VectorBuilder::like(first, rows.len());
        for &r in rows {
            if r == NONE {
                b.push_null();
                continue;
            }
            let r = r as usize;
            let col = self
                .chunks
                .get(r / VECTOR_SIZE)
                .and_then(|ch| ch.columns.get(c))
                .ok_or_else(|| {
                    Error::query(ErrorCode::Unsupported, "internal: hash join row missing")
                })?;
            b.push_from(col, r % VECTOR_SIZE)?;
        }
        Ok(b.finish())
    }
}

/// One slot per hash join node: its table once built.
type Slot = Arc<Mutex<Option<Arc<BuildTable>>>>;

/// The build tables of a statement's hash joins, by plan node id, so that
/// the copies of a join in the parts of a parallel plan build it once.
#[derive(Default)]
pub(crate) struct SharedTables {
    /// Per hash join node id: its slot.
    slots: Mutex<FxHashMap<usize, Slot>>,
}

impl SharedTables {
    /// Node `id`'s slot, made on first use.
    fn slot(&self, id: usize) -> Slot {
        self.slots.lock().entry(id).or_default().clone()
    }
}

/// The build table of the hash join at `node`, built on first use. A
/// second caller waits for the first to finish building; when building
/// fails, the next caller tries again (and fails the same way).
fn shared_table<'a>(node: Node<'a>, ctx: &'a ExecCtx<'a>) -> Result<Arc<BuildTable>> {
    let Physical::HashJoin { build_key, .. } = node.plan else {
        return Err(Error::query(
            ErrorCode::Unsupported,
            "internal: not a hash join",
        ));
    };
    let slot = ctx.joins.slot(node.id);
    let mut guard = slot.lock();
    if let Some(t) = &*guard {
        return Ok(t.clone());
    }
    let child = node.child(1).ok_or_else(|| {
        Error::query(
            ErrorCode::Unsupported,
            "internal: a hash join without its build side",
        )
    })?;
    let input = build(child, ctx, None)?;
    let t = Arc::new(BuildTable::build(
        input,
        &Kernel::compile(build_key)?,
        ctx.limits,
    )?);
    *guard = Some(t.clone());
    Ok(t)
}

/// Builds the tables of the hash joins on `node`'s first-input chain (the
/// chain a parallel plan splits into parts). A consumer that runs parts
/// in rayon tasks calls this first, so that no task waits for another to
/// build a shared table.
pub(crate) fn prepare<'a>(node: Node<'a>, ctx: &'a ExecCtx<'a>) -> Result<()> {
    let mut n = node;
    loop {
        match n.plan {
            Physical::HashJoin { .. } => {
                shared_table(n, ctx)?;
            }
            Physical::Filter { .. } | Physical::Project { .. } | Physical::LookupJoin { .. } => {}
            _ => return Ok(()),
        }
        match n.child(0) {
            Some(c) => n = c,
            None => return Ok(()),
        }
    }
}

/// The operator of the hash join at `node`, probing with `probe`.
pub(crate) fn operator<'a>(
    node: Node<'a>,
    ctx: &'a ExecCtx<'a>,
    probe: BoxOp<'a>,
) -> Result<BoxOp<'a>> {
    let Physical::HashJoin {
        probe_key, filter, ..
    } = node.plan
    else {
        return Err(Error::query(
            ErrorCode::Unsupported,
            "internal: not a hash join",
        ));
    };
    Ok(Box::new(HashJoin::new(
        probe,
        BuildSide::Shared(node, ctx),
        probe_key,
        filter,
        ctx.limits,
    )?))
}

/// Where a hash join gets its build table.
pub(crate) enum BuildSide<'a> {
    /// From the statement's shared tables (built by the first copy).
    Shared(Node<'a>, &'a ExecCtx<'a>),
    /// From this operator, on this key (tests).
    #[cfg(test)]
    Input(BoxOp<'a>, Box<Kernel>),
    /// Built (tests).
    #[cfg(test)]
    Ready(Arc<BuildTable>),
}

/// The probe chunk being joined.
struct Probing {
    /// The rows.
    chunk: Chunk,
    /// Per row in play: its first match, or [`NONE`].
    heads: Vec<u32>,
    /// The row in play being joined (an index into `heads`).
    i: usize,
    /// Its next match, or [`NONE`].
    at: u32,
    /// Whether no row has more than one match.
    unique: bool,
}

/// The hash join operator.
pub(crate) struct HashJoin<'a> {
    /// The streamed side.
    probe: BoxOp<'a>,
    /// Where the table comes from, until it is built.
    build: Option<BuildSide<'a>>,
    /// The build side in memory (empty until built).
    table: Arc<BuildTable>,
    /// The probe side's key.
    key: Kernel,
    /// Conjuncts over probe ++ build.
    filter: Predicate,
    /// The statement's limits.
    limits: &'a Limits,
    /// The probe chunk being joined.
    cur: Option<Probing>,
    /// Scratch: an encoded key.
    buf: Vec<u8>,
}

impl<'a> HashJoin<'a> {
    /// Joins `probe` on `probe_key` with the rows of `build`, then
    /// filters by `filter` (over probe ++ build).
    pub(crate) fn new(
        probe: BoxOp<'a>,
        build: BuildSide<'a>,
        probe_key: &BoundExpr,
        filter: &[BoundExpr],
        limits: &'a Limits,
    ) -> Result<HashJoin<'a>> {
        Ok(HashJoin {
            probe,
            build: Some(build),
            table: Arc::default(),
            key: Kernel::compile(probe_key)?,
            filter: Predicate::compile(filter)?,
            limits,
            cur: None,
            buf: Vec::new(),
        })
    }

    /// Builds (or fetches) the table: before the first probe row is read,
    /// so a build-side error comes first.
    fn ensure_built(&mut self) -> Result<()> {
        if let Some(b) = self.build.take() {
            self.table = match b {
                BuildSide::Shared(node, ctx) => shared_table(node, ctx)?,
                #[cfg(test)]
                BuildSide::Input(op, key) => Arc::new(BuildTable::build(op, &key, self.limits)?),
                #[cfg(test)]
                BuildSide::Ready(t) => t,
            };
        }
        Ok(())
    }

    /// The next probe chunk with its rows' first matches; `None` at the end.
    fn next_probe(&mut self) -> Result<Option<Probing>> {
        while let Some(chunk) = self.probe.next()? {
            self.limits.check()?;
            if chunk.is_empty() {
                continue;
            }
            // Keys are evaluated even when nothing can match: their errors
            // are the statement's errors.
            let keys = self.key.eval(&chunk)?;
            let mut heads = Vec::with_capacity(chunk.count());
            for p in chunk.positions() {
                heads.push(self.table.first(&keys, p, &mut self.buf)?);
            }
            let at = heads.first().copied().unwrap_or(NONE);
            let next = &self.table.next;
            let unique = heads
                .iter()
                .all(|&h| h == NONE || next.get(h as usize).is_none_or(|&n| n == NONE));
            return Ok(Some(Probing {
                chunk,
                heads,
                i: 0,
                at,
                unique,
            }));
        }
        Ok(None)
    }
}

impl Operator for HashJoin<'_> {
    fn next(&mut self) -> Result<Option<Chunk>> {
        self.ensure_built()?;
        loop {
            self.limits.check()?;
            let mut cur = match self.cur.take() {
                Some(c) => c,
                None => match self.next_probe()? {
                    Some(c) => c,
                    None => return Ok(None),
                },
            };
            let table = &self.table;
            if cur.unique {
                // At most one match per row: the probe columns pass
                // through as they are, the matched rows selected, and
                // the build columns are gathered beside them.
                let chunk = cur.chunk;
                let mut sel = Vec::with_capacity(cur.heads.len());
                let mut rows = vec![NONE; chunk.len];
                for (i, &h) in cur.heads.iter().enumerate() {
                    if h != NONE {
                        let p = chunk.position(i);
                        sel.push(p as u32);
                        rows[p] = h;
                    }
                }
                if sel.is_empty() {
                    continue;
                }
                let mut columns = chunk.columns;
                for c in 0..table.width {
                    columns.push(Arc::new(table.gather(c, &rows)?));
                }
                let out = self.filter.apply(Chunk {
                    columns,
                    len: chunk.len,
                    sel: Some(sel.into()),
                })?;
                if !out.is_empty() {
                    return Ok(Some(out));
                }
                continue;
            }
            let mut probe_pos = Vec::new();
            let mut build_rows = Vec::new();
            while probe_pos.len() < VECTOR_SIZE && cur.i < cur.heads.len() {
                if cur.at == NONE {
                    cur.i += 1;
                    cur.at = cur.heads.get(cur.i).copied().unwrap_or(NONE);
                    continue;
                }
                probe_pos.push(cur.chunk.position(cur.i) as u32);
                build_rows.push(cur.at);
                cur.at = table.next.get(cur.at as usize).copied().unwrap_or(NONE);
            }
            let chunk = &cur.chunk;
            let out = if probe_pos.is_empty() {
                None
            } else {
                let mut columns = Vec::with_capacity(chunk.columns.len() + table.width);
                for c in &chunk.columns {
                    columns.push(Arc::new(gather(c, &probe_pos)?));
                }
                for c in 0..table.width {
                    columns.push(Arc::new(table.gather(c, &build_rows)?));
                }
                Some(Chunk {
                    columns,
                    len: probe_pos.len(),
                    sel: None,
                })
            };
            if cur.i < cur.heads.len() {
                self.cur = Some(cur);
            }
            if let Some(out) = out {
                let out = self.filter.apply(out)?;
                if !out.is_empty() {
                    return Ok(Some(out));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
