//! `hash join`: holds the build side's rows in memory, hashed on its key,
//! and streams the probe side through it. Output is probe ++ build
//! columns (build ++ probe when the planner built on the statement's left
//! input, see [`estimate_rows`]), then the join's filter.
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

use rayon::prelude::*;

use std::ops::Bound;

use fasty_wal::{Piece, Snapshot};

use super::keys::{index_range, pk_range, table_end};
use super::{BoxOp, ExecCtx, Kernel, Node, Operator, Part, Predicate, build, partitions};
use crate::catalog::Table;
use crate::error::{Error, ErrorCode, Result};
use crate::limits::{Limits, Meter};
use crate::plan::bound::BoundExpr;
use crate::plan::physical::{Access, Physical};
use crate::value::Value;
use crate::vector::{Chunk, Data, VECTOR_SIZE, Vector, VectorBuilder, gather};

/// No (further) row: the end of a chain.
const NONE: u32 = u32::MAX;

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

/// How the int keys of a build table find their first row.
#[derive(Debug, Default)]
enum Ints {
    /// No int key.
    #[default]
    Empty,
    /// Keys in a small range: key `k`'s first row at `heads[k - min]`.
    Direct {
        /// The smallest key.
        min: i64,
        /// Per key in the range: its first row, or [`NONE`].
        heads: Vec<u32>,
    },
    /// Unique keys in a small range, their rows not kept (the join emits
    /// probe columns only): one bit per key in the range.
    Present {
        /// The smallest key.
        min: i64,
        /// Bit `k - min` set when key `k` is present.
        bits: Vec<u64>,
        /// Keys in the range.
        len: u64,
    },
    /// Any int keys, hashed.
    Hashed(FxHashMap<i64, u32>),
}

impl Ints {
    /// The first row of int key `k`, or [`NONE`]; for [`Ints::Present`],
    /// row 0 when present (its rows are not kept).
    #[inline]
    fn get(&self, k: i64) -> u32 {
        match self {
            Ints::Empty => NONE,
            Ints::Direct { min, heads } => {
                // Below `min` wraps to a huge offset: out of range too.
                let o = k.wrapping_sub(*min) as u64;
                if o < heads.len() as u64 {
                    heads[o as usize]
                } else {
                    NONE
                }
            }
            Ints::Present { min, bits, len } => {
                let o = k.wrapping_sub(*min) as u64;
                if o < *len && bits[(o / 64) as usize] >> (o % 64) & 1 == 1 {
                    0
                } else {
                    NONE
                }
            }
            Ints::Hashed(m) => m.get(&k).copied().unwrap_or(NONE),
        }
    }

    /// Heap bytes held.
    fn heap_bytes(&self) -> usize {
        match self {
            Ints::Empty => 0,
            Ints::Direct { heads, .. } => heads.len() * 4,
            Ints::Present { bits, .. } => bits.len() * 8,
            Ints::Hashed(m) => m.capacity() * 16,
        }
    }
}

/// The widest int key range kept as a direct table, per int key: a range
/// up to this many times the number of keys is indexed by offset instead
/// of hashed.
const DIRECT_SPREAD: u64 = 4;

/// One input chunk of the build side, as collected before indexing.
struct Collected {
    /// The rows (no columns when the rows are not kept), with the input's
    /// selection.
    chunk: Chunk,
    /// The key at each position.
    keys: Arc<Vector>,
}

/// How a build column is stored, for gathering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ColKind {
    /// Ints without nulls in every chunk.
    Int,
    /// Floats without nulls in every chunk.
    Float,
    /// Anything else.
    Other,
}

/// The build side in memory.
#[derive(Debug, Default)]
pub(crate) struct BuildTable {
    /// The build input's chunks as they came (empty when the rows are not
    /// kept): row `r` is position `r % VECTOR_SIZE` of chunk
    /// `r / VECTOR_SIZE`, so positions outside a chunk's selection or with
    /// a null key are rows no key reaches.
    chunks: Vec<Chunk>,
    /// Columns per row.
    width: usize,
    /// Per column: how it is stored.
    kinds: Vec<ColKind>,
    /// Per row: the next row with the same key, or [`NONE`]; empty when
    /// no key has two rows.
    next: Vec<u32>,
    /// Int keys (and floats with an integral value).
    ints: Ints,
    /// Per other key (encoded): its first row.
    others: FxHashMap<Box<[u8]>, u32>,
}

impl BuildTable {
    /// Reads all of `input` into a table on `key`, counting its memory;
    /// `keep_rows` false keeps the keys only (a join that emits probe
    /// columns only).
    pub(crate) fn build(
        mut input: BoxOp<'_>,
        key: &Kernel,
        limits: &Limits,
        keep_rows: bool,
    ) -> Result<BuildTable> {
        let mut meter = Meter::new(limits);
        let mut parts = Vec::new();
        while let Some(chunk) = input.next()? {
            limits.check()?;
            if chunk.is_empty() {
                continue;
            }
            let c = collect(chunk, key, keep_rows)?;
            meter.tick_holding(c.chunk.heap_bytes() + c.keys.heap_bytes())?;
            parts.push(c);
        }
        BuildTable::index(parts, keep_rows, meter)
    }

    /// [`BuildTable::build`] over the build side at `child` read in
    /// `parts` (in key order), each in a rayon task; the chunks are
    /// indexed in part order, so rows keep their build order. The first
    /// error in build order is the one returned.
    fn build_parts<'a>(
        child: Node<'a>,
        ctx: &'a ExecCtx<'a>,
        parts: &[Part],
        key: &BoundExpr,
        keep_rows: bool,
    ) -> Result<BuildTable> {
        let limits = ctx.limits;
        let read = |part: Part| -> Result<(Vec<Collected>, Meter<'a>)> {
            let key = Kernel::compile(key)?;
            let mut input = build(child, ctx, Some(part))?;
            let mut meter = Meter::new(limits);
            let mut out = Vec::new();
            while let Some(chunk) = input.next()? {
                limits.check()?;
                if chunk.is_empty() {
                    continue;
                }
                let c = collect(chunk, &key, keep_rows)?;
                meter.tick_holding(c.chunk.heap_bytes() + c.keys.heap_bytes())?;
                out.push(c);
            }
            Ok((out, meter))
        };
        let read: Vec<Result<(Vec<Collected>, Meter<'a>)>> =
            parts.par_iter().map(|&p| read(p)).collect();
        let mut meter = Meter::new(limits);
        let mut all = Vec::new();
        for r in read {
            let (chunks, m) = r?;
            meter.absorb(m)?;
            all.extend(chunks);
        }
        BuildTable::index(all, keep_rows, meter)
    }

    /// Indexes the collected chunks by key. Rows are filed last to first,
    /// so that each key's chain runs in build order.
    fn index(parts: Vec<Collected>, keep_rows: bool, mut meter: Meter<'_>) -> Result<BuildTable> {
        let limits = meter.limits();
        let slots = parts.len().saturating_mul(VECTOR_SIZE);
        if slots >= NONE as usize {
            return Err(Error::query(
                ErrorCode::Unsupported,
                "hash join build side too large",
            ));
        }
        // The int keys' range, to choose between a direct table and a hash
        // map.
        let mut buf = Vec::new();
        let (mut min, mut max, mut n_int) = (i64::MAX, i64::MIN, 0u64);
        for c in &parts {
            limits.check()?;
            match (c.keys.data(), c.keys.validity()) {
                (Data::Int(xs), None) => {
                    each_position(&c.chunk, |p| {
                        min = min.min(xs[p]);
                        max = max.max(xs[p]);
                    });
                    n_int += c.chunk.count() as u64;
                }
                _ => {
                    for p in c.chunk.positions() {
                        match key_at(&c.keys, p, &mut buf)? {
                            Some(Key::Int(i)) => {
                                min = min.min(i);
                                max = max.max(i);
                                n_int += 1;
                            }
                            Some(Key::Other) | None => {}
                        }
                    }
                }
            }
        }
        let mut ints = if n_int == 0 {
            Ints::Empty
        } else {
            let range = (i128::from(max) - i128::from(min) + 1) as u128;
            if range <= u128::from(n_int.saturating_mul(DIRECT_SPREAD).saturating_add(64)) {
                meter.tick_holding(range as usize * 4)?;
                Ints::Direct {
                    min,
                    heads: vec![NONE; range as usize],
                }
            } else {
                let mut m = FxHashMap::default();
                m.reserve(n_int as usize);
                let t = Ints::Hashed(m);
                meter.tick_holding(t.heap_bytes())?;
                t
            }
        };
        let mut others: FxHashMap<Box<[u8]>, u32> = FxHashMap::default();
        let mut next: Vec<u32> = Vec::new();
        let mut pos: Vec<u32> = Vec::with_capacity(VECTOR_SIZE);
        // Files row `r` under the chain head `head`.
        let mut link = |head: &mut u32, r: u32, meter: &mut Meter<'_>| -> Result<()> {
            if *head != NONE {
                if next.is_empty() {
                    next = vec![NONE; slots];
                    meter.tick_holding(slots * 4)?;
                }
                next[r as usize] = *head;
            }
            *head = r;
            Ok(())
        };
        for (ci, c) in parts.iter().enumerate().rev() {
            limits.check()?;
            let base = (ci * VECTOR_SIZE) as u32;
            pos.clear();
            pos.extend(c.chunk.positions().map(|p| p as u32));
            match (c.keys.data(), c.keys.validity(), &mut ints) {
                (Data::Int(xs), None, Ints::Direct { min, heads }) => {
                    for &p in pos.iter().rev() {
                        let o = xs[p as usize].wrapping_sub(*min) as usize;
                        link(&mut heads[o], base + p, &mut meter)?;
                    }
                }
                _ => {
                    for &p in pos.iter().rev() {
                        let r = base + p;
                        match key_at(&c.keys, p as usize, &mut buf)? {
                            None => {}
                            Some(Key::Int(i)) => match &mut ints {
                                Ints::Direct { min, heads } => {
                                    let o = i.wrapping_sub(*min) as usize;
                                    link(&mut heads[o], r, &mut meter)?;
                                }
                                Ints::Hashed(m) => {
                                    link(m.entry(i).or_insert(NONE), r, &mut meter)?;
                                }
                                Ints::Empty | Ints::Present { .. } => {
                                    return Err(Error::query(
                                        ErrorCode::Unsupported,
                                        "internal: hash join int keys miscounted",
                                    ));
                                }
                            },
                            Some(Key::Other) => match others.get_mut(buf.as_slice()) {
                                Some(head) => link(head, r, &mut meter)?,
                                None => {
                                    meter.tick_holding(buf.len() + 32)?;
                                    others.insert(buf.as_slice().into(), r);
                                }
                            },
                        }
                    }
                }
            }
        }
        // Unique keys whose rows are not needed: a bit per key is enough.
        if next.is_empty()
            && !keep_rows
            && let Ints::Direct { min, heads } = &ints
        {
            let len = heads.len() as u64;
            let mut bits = vec![0u64; heads.len().div_ceil(64)];
            for (o, &h) in heads.iter().enumerate() {
                if h != NONE {
                    bits[o / 64] |= 1 << (o % 64);
                }
            }
            ints = Ints::Present {
                min: *min,
                bits,
                len,
            };
        }
        let chunks: Vec<Chunk> = if keep_rows {
            parts.into_iter().map(|c| c.chunk).collect()
        } else {
            Vec::new()
        };
        let width = chunks.first().map_or(0, |c| c.columns.len());
        let kinds = (0..width)
            .map(|i| {
                let all = |f: fn(&Data) -> bool| {
                    chunks.iter().all(|c| {
                        c.columns
                            .get(i)
                            .is_some_and(|v| v.validity().is_none() && f(v.data()))
                    })
                };
                if all(|d| matches!(d, Data::Int(_))) {
                    ColKind::Int
                } else if all(|d| matches!(d, Data::Float(_))) {
                    ColKind::Float
                } else {
                    ColKind::Other
                }
            })
            .collect();
        meter.flush()?;
        Ok(BuildTable {
            chunks,
            width,
            kinds,
            next,
            ints,
            others,
        })
    }

    /// Whether no key has more than one row.
    fn unique(&self) -> bool {
        self.next.is_empty()
    }

    /// The row after `r` with the same key, or [`NONE`].
    #[inline]
    fn next_of(&self, r: u32) -> u32 {
        self.next.get(r as usize).copied().unwrap_or(NONE)
    }

    /// The first row whose key equals the key at position `p` of `v`.
    #[inline]
    fn first(&self, v: &Vector, p: usize, buf: &mut Vec<u8>) -> Result<u32> {
        Ok(match key_at(v, p, buf)? {
            None => NONE,
            Some(Key::Int(i)) => self.ints.get(i),
            Some(Key::Other) => self.others.get(buf.as_slice()).copied().unwrap_or(NONE),
        })
    }

    /// Fills `heads` with the first matching row of each row in play of
    /// `chunk`, whose keys are `keys`.
    fn heads(
        &self,
        chunk: &Chunk,
        keys: &Vector,
        heads: &mut Vec<u32>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        heads.clear();
        match (keys.data(), keys.validity()) {
            (Data::Int(xs), None) => match &self.ints {
                Ints::Present { min, bits, len } => each_position(chunk, |p| {
                    let o = xs[p].wrapping_sub(*min) as u64;
                    let hit = o < *len && bits[(o / 64) as usize] >> (o % 64) & 1 == 1;
                    heads.push(if hit { 0 } else { NONE });
                }),
                Ints::Direct { min, heads: table } => each_position(chunk, |p| {
                    let o = xs[p].wrapping_sub(*min) as u64;
                    heads.push(if o < table.len() as u64 {
                        table[o as usize]
                    } else {
                        NONE
                    });
                }),
                ints => each_position(chunk, |p| heads.push(ints.get(xs[p]))),
            },
            _ => {
                for p in chunk.positions() {
                    heads.push(self.first(keys, p, buf)?);
                }
            }
        }
        Ok(())
    }

    /// Column `c` of `rows`, as a new vector; a null (or, for typed
    /// columns unless `nulls`, a zero) where a row is [`NONE`].
    fn gather(&self, c: usize, rows: &[u32], nulls: bool) -> Result<Vector> {
        let Some(first) = self.chunks.first().and_then(|ch| ch.columns.get(c)) else {
            return Ok(Vector::nulls(rows.len()));
        };
        let at = |r: u32| -> Option<(&Vector, usize)> {
            let r = r as usize;
            let col = self.chunks.get(r / VECTOR_SIZE)?.columns.get(c)?;
            Some((col, r % VECTOR_SIZE))
        };
        match self.kinds.get(c) {
            _ if nulls => {}
            Some(ColKind::Int) => {
                let out = rows
                    .iter()
                    .map(|&r| match at(r) {
                        Some((v, p)) => match v.data() {
                            Data::Int(x) => x.get(p).copied().unwrap_or(0),
                            _ => 0,
                        },
                        None => 0,
                    })
                    .collect();
                return Ok(Vector::new(Data::Int(out), None));
            }
            Some(ColKind::Float) => {
                let out = rows
                    .iter()
                    .map(|&r| match at(r) {
                        Some((v, p)) => match v.data() {
                            Data::Float(x) => x.get(p).copied().unwrap_or(0.0),
                            _ => 0.0,
                        },
                        None => 0.0,
                    })
                    .collect();
                return Ok(Vector::new(Data::Float(out), None));
            }
            _ => {}
        }
        let mut b = VectorBuilder::like(first, rows.len());
        for &r in rows {
            if r == NONE {
                b.push_null();
                continue;
            }
            let (col, p) = at(r).ok_or_else(|| {
                Error::query(ErrorCode::Unsupported, "internal: hash join row missing")
            })?;
            b.push_from(col, p)?;
        }
        Ok(b.finish())
    }
}

/// Evaluates the build key over `chunk` and keeps what the table needs.
fn collect(chunk: Chunk, key: &Kernel, keep_rows: bool) -> Result<Collected> {
    if chunk.len > VECTOR_SIZE {
        return Err(Error::query(
            ErrorCode::Unsupported,
            "internal: a chunk longer than a vector",
        ));
    }
    let keys = key.eval(&chunk)?;
    let chunk = if keep_rows {
        chunk
    } else {
        Chunk {
            columns: Vec::new(),
            len: chunk.len,
            sel: chunk.sel,
        }
    };
    Ok(Collected { chunk, keys })
}

/// Calls `f` with each position in play of `chunk`, in order (one branch
/// on the selection per chunk, not per row).
#[inline]
fn each_position(chunk: &Chunk, mut f: impl FnMut(usize)) {
    match &chunk.sel {
        Some(s) => s.iter().for_each(|&p| f(p as usize)),
        None => (0..chunk.len).for_each(f),
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
    let Physical::HashJoin {
        build_key,
        emit_build,
        ..
    } = node.plan
    else {
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
    let key = Kernel::compile(build_key)?;
    let t = match build_parts(child, ctx)? {
        Some(parts) => BuildTable::build_parts(child, ctx, &parts, build_key, *emit_build)?,
        None => BuildTable::build(build(child, ctx, None)?, &key, ctx.limits, *emit_build)?,
    };
    let t = Arc::new(t);
    *guard = Some(t.clone());
    Ok(t)
}

/// The parts a build side can be read in, one rayon task each: when it is
/// a full scan (under filters and projections only, so that no task waits
/// on another join's table) of a table big enough to split.
fn build_parts<'a>(child: Node<'a>, ctx: &'a ExecCtx<'a>) -> Result<Option<Vec<Part>>> {
    let mut n = child.plan;
    loop {
        match n {
            Physical::Filter { input, .. } | Physical::Project { input, .. } => n = input,
            Physical::Scan {
                access: Access::FullScan,
                ..
            } => break,
            _ => return Ok(None),
        }
    }
    // The build side's own scan is not marked parallel (it is not the
    // driving table); ask for its parts as if it were.
    let mut plan = child.plan.clone();
    let mut m = &mut plan;
    loop {
        match m {
            Physical::Filter { input, .. } | Physical::Project { input, .. } => m = input,
            Physical::Scan { parallel, .. } => {
                *parallel = true;
                break;
            }
            _ => return Ok(None),
        }
    }
    partitions(
        Node {
            plan: &plan,
            id: child.id,
        },
        ctx,
    )
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
        probe_key,
        filter,
        emit_build,
        build_left,
        left_outer,
        ..
    } = node.plan
    else {
        return Err(Error::query(
            ErrorCode::Unsupported,
            "internal: not a hash join",
        ));
    };
    let build_width = node.plan.children().get(1).map_or(0, |b| b.fields().len());
    if *left_outer && (!*emit_build || *build_left || !filter.is_empty()) {
        return Err(Error::query(
            ErrorCode::Unsupported,
            "internal: a left hash join must emit its build columns after the probe's, unfiltered",
        ));
    }
    Ok(Box::new(
        HashJoin::new(
            probe,
            BuildSide::Shared(node, ctx),
            probe_key,
            filter,
            *emit_build,
            ctx.limits,
        )?
        .with_build_left(*build_left)
        .with_left_outer(*left_outer, build_width),
    ))
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
    /// Whether the output has the build columns (else probe columns only).
    emit_build: bool,
    /// Whether the build columns come first in the output.
    build_left: bool,
    /// Whether a probe row without a match is kept (build columns null).
    left_outer: bool,
    /// The build side's width as planned (its table knows it only once
    /// it holds a row; a left join emits the columns of an empty one).
    planned_width: usize,
    /// The statement's limits.
    limits: &'a Limits,
    /// The probe chunk being joined.
    cur: Option<Probing>,
    /// Scratch: an encoded key.
    buf: Vec<u8>,
}

impl<'a> HashJoin<'a> {
    /// Joins `probe` on `probe_key` with the rows of `build`, then
    /// filters by `filter` (over probe ++ build). Without `emit_build`
    /// the output is the probe columns only (each probe row once per
    /// match), and `filter` must be empty.
    pub(crate) fn new(
        probe: BoxOp<'a>,
        build: BuildSide<'a>,
        probe_key: &BoundExpr,
        filter: &[BoundExpr],
        emit_build: bool,
        limits: &'a Limits,
    ) -> Result<HashJoin<'a>> {
        if !emit_build && !filter.is_empty() {
            return Err(Error::query(
                ErrorCode::Unsupported,
                "internal: a hash join filter over build columns it does not emit",
            ));
        }
        Ok(HashJoin {
            probe,
            build: Some(build),
            table: Arc::default(),
            key: Kernel::compile(probe_key)?,
            filter: Predicate::compile(filter)?,
            emit_build,
            build_left: false,
            left_outer: false,
            planned_width: 0,
            limits,
            cur: None,
            buf: Vec::new(),
        })
    }

    /// The join with the build columns first in its output (build ++
    /// probe; `filter` is then over that order).
    pub(crate) fn with_build_left(mut self, build_left: bool) -> HashJoin<'a> {
        self.build_left = build_left;
        self
    }

    /// The join as a left outer one: each probe row without a match comes
    /// out once, with nulls for the build columns (which must follow the
    /// probe columns, unfiltered).
    pub(crate) fn with_left_outer(mut self, left_outer: bool, build_width: usize) -> HashJoin<'a> {
        self.left_outer = left_outer;
        self.planned_width = build_width;
        self
    }

    /// The number of build columns emitted.
    fn build_width(&self) -> usize {
        self.table.width.max(self.planned_width)
    }

    /// Builds (or fetches) the table: before the first probe row is read,
    /// so a build-side error comes first.
    fn ensure_built(&mut self) -> Result<()> {
        if let Some(b) = self.build.take() {
            self.table = match b {
                BuildSide::Shared(node, ctx) => shared_table(node, ctx)?,
                #[cfg(test)]
                BuildSide::Input(op, key) => {
                    Arc::new(BuildTable::build(op, &key, self.limits, self.emit_build)?)
                }
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
            self.table.heads(&chunk, &keys, &mut heads, &mut self.buf)?;
            let at = heads.first().copied().unwrap_or(NONE);
            let t = &self.table;
            let unique = t.unique() || heads.iter().all(|&h| h == NONE || t.next_of(h) == NONE);
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

    /// `cur`'s probe columns, its matched rows selected, with the build
    /// columns gathered beside them when emitted: the output of a chunk
    /// whose rows have one match at most. `None` when no row matched.
    fn select_matches(&self, cur: Probing) -> Result<Option<Chunk>> {
        let chunk = cur.chunk;
        let mut sel = Vec::with_capacity(cur.heads.len());
        match &chunk.sel {
            // Every row in play stays: matched or null-extended.
            _ if self.left_outer => sel.extend(chunk.positions().map(|p| p as u32)),
            Some(s) => {
                for (&p, &h) in s.iter().zip(&cur.heads) {
                    if h != NONE {
                        sel.push(p);
                    }
                }
            }
            None => {
                for (p, &h) in cur.heads.iter().enumerate() {
                    if h != NONE {
                        sel.push(p as u32);
                    }
                }
            }
        }
        if sel.is_empty() {
            return Ok(None);
        }
        let mut columns = chunk.columns;
        if self.emit_build {
            let mut rows = vec![NONE; chunk.len];
            for (i, &h) in cur.heads.iter().enumerate() {
                if h != NONE {
                    rows[chunk.sel.as_ref().map_or(i, |s| s[i] as usize)] = h;
                }
            }
            let width = self.build_width();
            let mut built = Vec::with_capacity(width + columns.len());
            for c in 0..width {
                built.push(Arc::new(self.table.gather(c, &rows, self.left_outer)?));
            }
            if self.build_left {
                built.append(&mut columns);
                columns = built;
            } else {
                columns.append(&mut built);
            }
        }
        Ok(Some(Chunk {
            columns,
            len: chunk.len,
            sel: Some(sel.into()),
        }))
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
            if cur.unique {
                // At most one match per row: the probe columns pass
                // through as they are, the matched rows selected.
                if let Some(out) = self.select_matches(cur)? {
                    let out = self.filter.apply(out)?;
                    if !out.is_empty() {
                        return Ok(Some(out));
                    }
                }
                continue;
            }
            let table = &self.table;
            let mut probe_pos = Vec::new();
            let mut build_rows = Vec::new();
            while probe_pos.len() < VECTOR_SIZE && cur.i < cur.heads.len() {
                if cur.at == NONE {
                    // A row without any match, kept once by a left join.
                    if self.left_outer && cur.heads.get(cur.i) == Some(&NONE) {
                        probe_pos.push(cur.chunk.position(cur.i) as u32);
                        build_rows.push(NONE);
                    }
                    cur.i += 1;
                    cur.at = cur.heads.get(cur.i).copied().unwrap_or(NONE);
                    continue;
                }
                probe_pos.push(cur.chunk.position(cur.i) as u32);
                build_rows.push(cur.at);
                cur.at = table.next_of(cur.at);
            }
            let chunk = &cur.chunk;
            let out = if probe_pos.is_empty() {
                None
            } else {
                let width = self.build_width();
                let mut columns = Vec::with_capacity(chunk.columns.len() + width);
                let built = self.emit_build && self.build_left;
                if built {
                    for c in 0..width {
                        columns.push(Arc::new(table.gather(c, &build_rows, self.left_outer)?));
                    }
                }
                for c in &chunk.columns {
                    columns.push(Arc::new(gather(c, &probe_pos)?));
                }
                if self.emit_build && !built {
                    for c in 0..width {
                        columns.push(Arc::new(table.gather(c, &build_rows, self.left_outer)?));
                    }
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

/// Rows up to which [`estimate_rows`] counts exactly.
const COUNTED: u64 = 4096;

/// Roughly how many rows a scan of `table` by `access` reads (its own
/// filter aside), for the planner's choice of a hash join's build side:
/// cheap, not exact. Up to [`COUNTED`] rows are counted; beyond that a
/// primary-key scan is taken to read its span of keys (ids are mostly
/// dense) and an index scan [`COUNTED`] rows. Points count as themselves.
/// `None` when storage fails (the planner then keeps the statement's
/// order).
pub(crate) fn estimate_rows(snap: &Snapshot, table: &Table, access: &Access) -> Option<u64> {
    // The key range read and whether it is of primary keys; `None` when
    // it is empty.
    let range = match access {
        Access::PkPoints(pks) => return Some(pks.len() as u64),
        Access::FullScan => {
            pk_range(table.id, Bound::Unbounded, Bound::Unbounded).map(|(s, e)| (s, e, true))
        }
        Access::PkRange(lo, hi) => pk_range(table.id, *lo, *hi).map(|(s, e)| (s, e, true)),
        Access::IndexPoints(ix, vals) => {
            let mut n = 0u64;
            let mut prefix = Vec::new();
            for v in vals {
                prefix.clear();
                crate::keys::index_prefix(ix.id, v, &mut prefix);
                let end = crate::keys::successor(&prefix).unwrap_or_else(|| table_end(ix.id));
                n = n.saturating_add(count_up_to(snap, prefix.clone(), end, COUNTED)?);
                if n >= COUNTED {
                    break;
                }
            }
            return Some(n);
        }
        Access::IndexRange(ix, lo, hi) => {
            let (s, e) = index_range(ix.id, lo.as_ref(), hi.as_ref());
            Some((s, e, false))
        }
    };
    let Some((start, end, pk)) = range.filter(|(s, e, _)| s < e) else {
        return Some(0);
    };
    let n = count_up_to(snap, start.clone(), end.clone(), COUNTED)?;
    if n < COUNTED || !pk {
        return Some(n);
    }
    let first = snap.scan(start.clone()..end.clone()).next()?.ok()?;
    let last = snap.scan_rev(start..end).next()?.ok()?;
    let (_, lo) = crate::keys::decode_row_key(&first.0)?;
    let (_, hi) = crate::keys::decode_row_key(&last.0)?;
    let span = (i128::from(hi) - i128::from(lo) + 1).clamp(0, i128::from(u64::MAX)) as u64;
    Some(span.max(n))
}

/// The live keys in `[start, end)`, counted up to `cap` (a count at or
/// past it stops there); `None` when storage fails.
fn count_up_to(snap: &Snapshot, start: Vec<u8>, end: Vec<u8>, cap: u64) -> Option<u64> {
    let mut n = 0u64;
    for piece in snap.pieces(start..end, None) {
        n += match piece.ok()? {
            Piece::Rows(pairs) => pairs.len() as u64,
            Piece::Block { block, rows } => rows.len(block.rows()) as u64,
        };
        if n >= cap {
            break;
        }
    }
    Some(n)
}

#[cfg(test)]
mod tests;
