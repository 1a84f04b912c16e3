//! `sort`: every input row, in key order. Stable: rows whose keys tie
//! keep their input order (scan order, for a plain `order by`).
//!
//! The input's chunks are kept whole (only the rows in play), with their
//! keys evaluated once per chunk; a permutation of (chunk, position)
//! pairs is sorted, and the output gathers rows in its order, a chunk at
//! a time. Over a parallel scan each part of the key space is collected
//! and sorted in a task of its own; the sorted parts are merged in part
//! order, a tie going to the earlier part, which is the order a single
//! scan would have given.
//!
//! The buffer counts against the statement's memory limit while the
//! input is read; once rows go out it is handed on to the result (which
//! counts what it keeps).
//!
//! The key helpers here ([`KeyRef`], [`KeyCol`], [`SortKeys`]) are shared
//! with `top_k.rs`.

use std::cmp::Ordering;
use std::sync::Arc;

use rayon::prelude::*;

use super::{BoxOp, ExecCtx, Kernel, Node, Operator, Part, build, parallel_parts};
use crate::error::{Error, ErrorCode, Result};
use crate::limits::{Limits, row_bytes};
use crate::plan::logical::SortKey;
use crate::value::Value;
use crate::vector::{Chunk, Data, VECTOR_SIZE, Vector, VectorBuilder};

/// One key value, borrowed from a key column, in a form that compares
/// without allocating or failing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyRef<'v> {
    /// Null: first ascending.
    Null,
    /// A bool.
    Bool(bool),
    /// An int.
    Int(i64),
    /// A float (never NaN).
    Float(f64),
    /// A string.
    Str(&'v str),
    /// A parsed json value.
    Json(&'v serde_json::Value),
}

impl KeyRef<'_> {
    /// The owned value.
    pub(crate) fn to_value(self) -> Value {
        match self {
            KeyRef::Null => Value::Null,
            KeyRef::Bool(b) => Value::Bool(b),
            KeyRef::Int(i) => Value::Int(i),
            KeyRef::Float(x) => Value::Float(x),
            KeyRef::Str(s) => Value::String(s.to_owned()),
            KeyRef::Json(j) => Value::Json(j.clone()),
        }
    }
}

impl<'v> KeyRef<'v> {
    /// The key form of an owned value.
    pub(crate) fn of(v: &'v Value) -> KeyRef<'v> {
        match v {
            Value::Null => KeyRef::Null,
            Value::Bool(b) => KeyRef::Bool(*b),
            Value::Int(i) => KeyRef::Int(*i),
            Value::Float(x) => KeyRef::Float(*x),
            Value::String(s) => KeyRef::Str(s),
            Value::Json(j) => KeyRef::Json(j),
        }
    }

    /// The kind's place in the order: nulls, bools, numbers, strings,
    /// json.
    fn rank(self) -> u8 {
        match self {
            KeyRef::Null => 0,
            KeyRef::Bool(_) => 1,
            KeyRef::Int(_) | KeyRef::Float(_) => 2,
            KeyRef::Str(_) => 3,
            KeyRef::Json(_) => 4,
        }
    }

    /// [`Value::sort_cmp`] of the two values, exactly.
    pub(crate) fn cmp(self, other: KeyRef<'_>) -> Ordering {
        match (self, other) {
            (KeyRef::Int(a), KeyRef::Int(b)) => a.cmp(&b),
            (KeyRef::Float(a), KeyRef::Float(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            (KeyRef::Str(a), KeyRef::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            (KeyRef::Bool(a), KeyRef::Bool(b)) => a.cmp(&b),
            (KeyRef::Null, KeyRef::Null) => Ordering::Equal,
            (KeyRef::Int(a), KeyRef::Float(b)) => Value::Int(a)
                .sql_cmp(&Value::Float(b))
                .unwrap_or(Ordering::Equal),
            (KeyRef::Float(a), KeyRef::Int(b)) => Value::Float(a)
                .sql_cmp(&Value::Int(b))
                .unwrap_or(Ordering::Equal),
            (KeyRef::Json(a), KeyRef::Json(b)) => a.to_string().cmp(&b.to_string()),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

/// One sort key's values over a dense run of rows (a compacted chunk),
/// with json parsed up front so that comparing cannot fail.
#[derive(Debug, Clone)]
pub(crate) enum KeyCol {
    /// A vector of anything but json.
    Vector(Arc<Vector>),
    /// Owned values (json parsed).
    Values(Vec<Value>),
}

impl KeyCol {
    /// The key column of `v` at the rows in play of `chunk`; other
    /// positions hold unspecified keys. Json is parsed here, and corrupt
    /// json text is an error.
    pub(crate) fn new(v: Arc<Vector>, chunk: &Chunk) -> Result<KeyCol> {
        if let Data::Json(_) = v.data() {
            let mut values = vec![Value::Null; v.len()];
            for p in chunk.positions() {
                if let Some(slot) = values.get_mut(p) {
                    *slot = v.value(p)?;
                }
            }
            return Ok(KeyCol::Values(values));
        }
        Ok(KeyCol::Vector(v))
    }

    /// The key at position `i`.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> KeyRef<'_> {
        match self {
            KeyCol::Values(v) => KeyRef::of(&v[i]),
            KeyCol::Vector(v) => {
                if v.is_null(i) {
                    return KeyRef::Null;
                }
                match v.data() {
                    Data::Int(x) => KeyRef::Int(x[i]),
                    Data::Float(x) => KeyRef::Float(x[i]),
                    Data::Bool(x) => KeyRef::Bool(x[i]),
                    Data::Str(x) => KeyRef::Str(x.str(i)),
                    Data::Any(x) => KeyRef::of(&x[i]),
                    // Parsed into `Values` by `new`.
                    Data::Json(_) => KeyRef::Null,
                }
            }
        }
    }

    /// Heap bytes held.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            KeyCol::Vector(v) => v.heap_bytes(),
            KeyCol::Values(v) => row_bytes(v),
        }
    }
}

/// Sort keys compiled for chunks.
#[derive(Debug, Clone)]
pub(crate) struct SortKeys {
    /// Per key: its kernel and whether it is descending.
    keys: Vec<(Kernel, bool)>,
}

impl SortKeys {
    /// Compiles `keys`.
    pub(crate) fn compile(keys: &[SortKey]) -> Result<SortKeys> {
        Ok(SortKeys {
            keys: keys
                .iter()
                .map(|k| Ok((Kernel::compile(&k.expr)?, k.desc)))
                .collect::<Result<_>>()?,
        })
    }

    /// The keys of the rows in play of `chunk`, by position (other
    /// positions hold unspecified keys).
    pub(crate) fn eval(&self, chunk: &Chunk) -> Result<Vec<KeyCol>> {
        self.keys
            .iter()
            .map(|(k, _)| KeyCol::new(k.eval(chunk)?, chunk))
            .collect()
    }

    /// The order of two rows by their keys, `a[k].get(i)` against
    /// `b[k].get(j)` key by key, descending keys reversed.
    #[inline]
    pub(crate) fn cmp(&self, a: &[KeyCol], i: usize, b: &[KeyCol], j: usize) -> Ordering {
        for (((_, desc), x), y) in self.keys.iter().zip(a).zip(b) {
            let o = x.get(i).cmp(y.get(j));
            if o != Ordering::Equal {
                return if *desc { o.reverse() } else { o };
            }
        }
        Ordering::Equal
    }

    /// The order of row `i` of `a` against owned keys `b`.
    #[inline]
    pub(crate) fn cmp_owned(&self, a: &[KeyCol], i: usize, b: &[Value]) -> Ordering {
        for (((_, desc), x), y) in self.keys.iter().zip(a).zip(b) {
            let o = x.get(i).cmp(KeyRef::of(y));
            if o != Ordering::Equal {
                return if *desc { o.reverse() } else { o };
            }
        }
        Ordering::Equal
    }

    /// The order of two rows' owned keys.
    #[inline]
    pub(crate) fn cmp_values(&self, a: &[Value], b: &[Value]) -> Ordering {
        for (((_, desc), x), y) in self.keys.iter().zip(a).zip(b) {
            let o = KeyRef::of(x).cmp(KeyRef::of(y));
            if o != Ordering::Equal {
                return if *desc { o.reverse() } else { o };
            }
        }
        Ordering::Equal
    }
}

/// Bytes held against a statement's memory limit, given back when
/// dropped.
pub(crate) struct Held<'l> {
    limits: &'l Limits,
    bytes: usize,
}

impl<'l> Held<'l> {
    /// Nothing held yet.
    pub(crate) fn new(limits: &'l Limits) -> Held<'l> {
        Held { limits, bytes: 0 }
    }

    /// Holds `bytes` more; fails once the statement holds more than its
    /// memory limit.
    pub(crate) fn hold(&mut self, bytes: usize) -> Result<()> {
        // Counted before the check, so that a failed hold is given back
        // too.
        self.bytes += bytes;
        self.limits.hold(bytes)
    }

    /// Takes over what `other` holds.
    pub(crate) fn absorb(&mut self, mut other: Held<'_>) {
        self.bytes += std::mem::take(&mut other.bytes);
    }

    /// Gives back everything held now: the buffer is handed on to the
    /// result, which counts it again if it keeps it, so a sorted result
    /// collected whole counts once, not twice.
    pub(crate) fn hand_on(&mut self) {
        self.limits.release(std::mem::take(&mut self.bytes));
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.limits.release(self.bytes);
    }
}

/// The rows of one part of the input (or all of it), sorted.
struct Run<'l> {
    /// The input's rows in play, dense.
    chunks: Vec<Chunk>,
    /// Per chunk, its keys.
    keys: Vec<Vec<KeyCol>>,
    /// (chunk, position) of every row, in key order.
    order: Vec<(u32, u32)>,
    held: Held<'l>,
}

impl<'l> Run<'l> {
    /// Every row of `input`, sorted by `keys`.
    fn collect(input: &mut dyn Operator, keys: &SortKeys, limits: &'l Limits) -> Result<Run<'l>> {
        let mut run = Run {
            chunks: Vec::new(),
            keys: Vec::new(),
            order: Vec::new(),
            held: Held::new(limits),
        };
        while let Some(chunk) = input.next()? {
            limits.check()?;
            if chunk.is_empty() {
                continue;
            }
            let chunk = chunk.compact()?;
            let k = keys.eval(&chunk)?;
            let c = u32::try_from(run.chunks.len()).map_err(|_| too_many())?;
            let bytes = chunk.heap_bytes()
                + k.iter().map(KeyCol::heap_bytes).sum::<usize>()
                + chunk.len * size_of::<(u32, u32)>();
            run.held.hold(bytes)?;
            run.order.extend((0..chunk.len as u32).map(|p| (c, p)));
            run.chunks.push(chunk);
            run.keys.push(k);
        }
        // The sort itself does not stop midway: check before and after.
        limits.check()?;
        let (all_keys, order) = (&run.keys, &mut run.order);
        order.sort_by(|&(ca, pa), &(cb, pb)| {
            keys.cmp(
                &all_keys[ca as usize],
                pa as usize,
                &all_keys[cb as usize],
                pb as usize,
            )
        });
        limits.check()?;
        Ok(run)
    }

    /// The keys of the row at `at` in the run's order.
    fn row(&self, at: usize) -> (&[KeyCol], usize) {
        let (c, p) = self.order[at];
        (&self.keys[c as usize], p as usize)
    }
}

/// More chunks than a sort can number (over four billion).
fn too_many() -> Error {
    Error::query(
        ErrorCode::Unsupported,
        "too many rows to sort; add a filter or a limit",
    )
}

/// The sort operator.
pub(crate) struct Sort<'a> {
    node: Node<'a>,
    ctx: &'a ExecCtx<'a>,
    part: Option<Part>,
    keys: SortKeys,
    /// The sorted runs, once the input is read: one, or one per part.
    runs: Option<Vec<Run<'a>>>,
    /// Per run, the next of its rows to output.
    next: Vec<usize>,
}

impl<'a> Sort<'a> {
    /// Sorts the input of `node` (a [`crate::plan::physical::Physical::Sort`])
    /// by `keys`; `part` as for [`build`].
    pub(crate) fn new(
        node: Node<'a>,
        ctx: &'a ExecCtx<'a>,
        part: Option<Part>,
        keys: &[SortKey],
    ) -> Result<Sort<'a>> {
        Ok(Sort {
            node,
            ctx,
            part,
            keys: SortKeys::compile(keys)?,
            runs: None,
            next: Vec::new(),
        })
    }

    /// Reads and sorts the input: in parallel per part when it is a
    /// parallel scan (and this sort is not itself one part's).
    fn read(&self) -> Result<Vec<Run<'a>>> {
        let child = input_of(self.node)?;
        let parts = match self.part {
            None => parallel_parts(child, self.ctx)?,
            Some(_) => None,
        };
        let limits = self.ctx.limits;
        match parts {
            Some(parts) => parts
                .par_iter()
                .map(|p| {
                    let mut op = build(child, self.ctx, Some(*p))?;
                    Run::collect(&mut *op, &self.keys, limits)
                })
                .collect(),
            None => {
                let mut op: BoxOp<'a> = build(child, self.ctx, self.part)?;
                Ok(vec![Run::collect(&mut *op, &self.keys, limits)?])
            }
        }
    }
}

/// A node's first input.
pub(crate) fn input_of(node: Node<'_>) -> Result<Node<'_>> {
    node.child(0).ok_or_else(|| {
        Error::query(
            ErrorCode::Unsupported,
            "internal: a plan node without its input",
        )
    })
}

impl Operator for Sort<'_> {
    fn next(&mut self) -> Result<Option<Chunk>> {
        if self.runs.is_none() {
            let mut runs = self.read()?;
            for r in &mut runs {
                r.held.hand_on();
            }
            self.next = vec![0; runs.len()];
            self.runs = Some(runs);
        }
        let Some(runs) = &self.runs else {
            return Ok(None);
        };
        self.ctx.limits.check()?;
        // The next rows in merged order: the least key among the runs'
        // next rows, a tie going to the earlier run (the earlier part).
        let mut picked: Vec<(usize, usize)> = Vec::with_capacity(VECTOR_SIZE);
        while picked.len() < VECTOR_SIZE {
            let mut best: Option<usize> = None;
            for (r, run) in runs.iter().enumerate() {
                if self.next[r] >= run.order.len() {
                    continue;
                }
                best = match best {
                    None => Some(r),
                    Some(b) => {
                        let (bk, bp) = runs[b].row(self.next[b]);
                        let (rk, rp) = run.row(self.next[r]);
                        if self.keys.cmp(rk, rp, bk, bp) == Ordering::Less {
                            Some(r)
                        } else {
                            Some(b)
                        }
                    }
                };
            }
            let Some(b) = best else { break };
            picked.push((b, self.next[b]));
            self.next[b] += 1;
        }
        if picked.is_empty() {
            return Ok(None);
        }
        gather(runs, &picked).map(Some)
    }
}

/// A chunk of the rows at `picked` ((run, index in its order) each), in
/// that order.
fn gather(runs: &[Run<'_>], picked: &[(usize, usize)]) -> Result<Chunk> {
    let Some(first) = runs
        .iter()
        .find(|r| !r.chunks.is_empty())
        .and_then(|r| r.chunks.first())
    else {
        return Ok(Chunk::empty_rows(0));
    };
    if first.columns.is_empty() {
        return Ok(Chunk::empty_rows(picked.len()));
    }
    let mut builders: Vec<VectorBuilder> = first
        .columns
        .iter()
        .map(|c| VectorBuilder::like(c, picked.len()))
        .collect();
    for &(r, at) in picked {
        let run = &runs[r];
        let (c, p) = run.order[at];
        let chunk = &run.chunks[c as usize];
        for (b, col) in builders.iter_mut().zip(&chunk.columns) {
            b.push_from(col, p as usize)?;
        }
    }
    Ok(Chunk::new(
        builders.into_iter().map(|b| Arc::new(b.finish())).collect(),
        picked.len(),
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    //! The sort against a stable sort of the fixture's rows by
    //! `Value::sort_cmp`; parallel against serial; memory and corruption.

    use std::ops::Bound;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::super::scan::tests::{BIG, Fixture, T_COLUMNS, corrupt_row, run, scan};
    use super::*;
    use crate::ExecOptions;
    use crate::ast::BinaryOp;
    use crate::plan::bound::BoundExpr;
    use crate::plan::physical::{Access, Physical};

    /// A sort node over `input`.
    pub(crate) fn sort(input: Physical, keys: Vec<SortKey>) -> Physical {
        Physical::Sort {
            input: Box::new(input),
            keys,
        }
    }

    /// Key `expr`, descending or not.
    pub(crate) fn key(expr: BoundExpr, desc: bool) -> SortKey {
        SortKey { expr, desc }
    }

    /// A key on input column `i`.
    pub(crate) fn col(i: usize) -> BoundExpr {
        BoundExpr::column(i, None, format!("c{i}"))
    }

    /// `rows` stably sorted by `keys`, one row at a time; the first key
    /// error in row order.
    pub(crate) fn oracle(rows: &[Vec<Value>], keys: &[SortKey]) -> Result<Vec<Vec<Value>>> {
        let mut ranked = Vec::new();
        for r in rows {
            let k = keys
                .iter()
                .map(|k| k.expr.eval_row(r))
                .collect::<Result<Vec<_>>>()?;
            ranked.push((k, r.clone()));
        }
        ranked.sort_by(|(a, _), (b, _)| {
            for ((x, y), k) in a.iter().zip(b).zip(keys) {
                let o = x.sort_cmp(y);
                let o = if k.desc { o.reverse() } else { o };
                if o != Ordering::Equal {
                    return o;
                }
            }
            Ordering::Equal
        });
        Ok(ranked.into_iter().map(|(_, r)| r).collect())
    }

    /// Sort keys over `width` input columns: columns, and `c * 2` (a type
    /// error on a string) sometimes.
    pub(crate) fn sort_keys(width: usize) -> impl Strategy<Value = Vec<SortKey>> {
        let one = (0..width, any::<bool>(), 0..4u8).prop_map(|(c, desc, kind)| {
            let expr = if kind == 0 {
                BoundExpr::Binary {
                    op: BinaryOp::Mul,
                    left: Box::new(col(c)),
                    right: Box::new(BoundExpr::Literal(Value::Int(2))),
                }
            } else {
                col(c)
            };
            key(expr, desc)
        });
        prop::collection::vec(one, 1..4)
    }

    #[test]
    fn key_order_is_sort_cmp() {
        let v = || crate::keys::arb::value();
        let mut runner = TestRunner::new(Config::with_cases(2000));
        runner
            .run(&(v(), v()), |(a, b)| {
                prop_assert_eq!(KeyRef::of(&a).cmp(KeyRef::of(&b)), a.sort_cmp(&b));
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn sort_agrees_with_a_stable_sort() {
        let fx = Fixture::new();
        let t = fx.table("t");
        let all = fx.rows("t");
        let full: Vec<usize> = (0..T_COLUMNS).collect();
        let mut runner = TestRunner::new(Config::with_cases(100));
        runner
            .run(
                &(sort_keys(T_COLUMNS), any::<bool>()),
                |(keys, parallel)| {
                    let plan = sort(
                        scan(
                            t.clone(),
                            Access::FullScan,
                            full.clone(),
                            Vec::new(),
                            parallel,
                        ),
                        keys.clone(),
                    );
                    let got = run(&fx.db, &plan, &Limits::none());
                    match oracle(&all, &keys) {
                        Ok(want) => prop_assert_eq!(got.unwrap(), want),
                        Err(e) => prop_assert_eq!(got.unwrap_err().code(), e.code()),
                    }
                    Ok(())
                },
            )
            .unwrap();
    }

    #[test]
    fn parallel_sort_gives_the_serial_order() {
        let fx = Fixture::new();
        let big = fx.table("big");
        let all = fx.rows("big");
        // `k` has seven values and nulls: long runs of ties across parts.
        for keys in [
            vec![key(col(1), false)],
            vec![key(col(1), true)],
            vec![key(col(2), true), key(col(1), false)],
        ] {
            let serial = sort(
                scan(
                    big.clone(),
                    Access::FullScan,
                    vec![0, 1, 2],
                    Vec::new(),
                    false,
                ),
                keys.clone(),
            );
            let parallel = sort(
                scan(
                    big.clone(),
                    Access::FullScan,
                    vec![0, 1, 2],
                    Vec::new(),
                    true,
                ),
                keys.clone(),
            );
            let limits = Limits::none();
            let snap = fx.db.kv().snapshot();
            let ctx = ExecCtx::new(&snap, &limits);
            let parts =
                super::super::partitions(Node::root(&parallel).child(0).unwrap(), &ctx).unwrap();
            assert!(parts.is_some_and(|p| p.len() > 1), "the scan splits");
            let want = oracle(&all, &keys).unwrap();
            assert_eq!(want.len(), BIG as usize);
            assert_eq!(run(&fx.db, &serial, &limits).unwrap(), want);
            assert_eq!(run(&fx.db, &parallel, &limits).unwrap(), want);
        }
    }

    #[test]
    fn sort_of_nothing_and_of_rows_without_columns() {
        let fx = Fixture::new();
        let plan = sort(
            scan(
                fx.table("e"),
                Access::FullScan,
                vec![0, 1],
                Vec::new(),
                true,
            ),
            vec![key(col(1), false)],
        );
        assert!(run(&fx.db, &plan, &Limits::none()).unwrap().is_empty());
        // Keys need no column: every row ties, the count stays.
        let plan = sort(
            scan(
                fx.table("big"),
                Access::FullScan,
                Vec::new(),
                Vec::new(),
                false,
            ),
            vec![key(BoundExpr::Literal(Value::Int(1)), false)],
        );
        let snap = fx.db.kv().snapshot();
        let limits = Limits::none();
        let ctx = ExecCtx::new(&snap, &limits);
        let mut op = build(Node::root(&plan), &ctx, None).unwrap();
        let mut n = 0;
        while let Some(c) = op.next().unwrap() {
            assert!(c.columns.is_empty());
            n += c.count();
        }
        assert_eq!(n, BIG as usize);
    }

    #[test]
    fn sort_over_a_filtered_range_keeps_ties_in_key_order() {
        let fx = Fixture::new();
        let big = fx.table("big");
        let filter = vec![super::super::scan::tests::gt(1, Value::Int(3))];
        let access = Access::PkRange(Bound::Excluded(100), Bound::Included(5000));
        let plan = sort(
            scan(big, access, vec![0, 1], filter, false),
            vec![key(col(1), true)],
        );
        let rows: Vec<Vec<Value>> = fx
            .rows("big")
            .into_iter()
            .filter(|r| (101..=5000).contains(&super::super::scan::tests::int(&r[0])))
            .map(|r| vec![r[0].clone(), r[1].clone()])
            .filter(|r| matches!(r[1], Value::Int(k) if k > 3))
            .collect();
        let want = oracle(&rows, &[key(col(1), true)]).unwrap();
        assert_eq!(run(&fx.db, &plan, &Limits::none()).unwrap(), want);
    }

    /// Limits with only a memory limit of `limit` bytes.
    pub(crate) fn memory(limit: usize) -> Limits {
        Limits::new(&ExecOptions::default().with_memory_limit(Some(limit)))
    }

    #[test]
    fn a_sort_past_the_memory_limit_fails_with_its_code() {
        let fx = Fixture::new();
        for parallel in [false, true] {
            let plan = sort(
                scan(
                    fx.table("big"),
                    Access::FullScan,
                    vec![0, 1, 2],
                    Vec::new(),
                    parallel,
                ),
                vec![key(col(2), false)],
            );
            let e = run(&fx.db, &plan, &memory(64 << 10)).unwrap_err();
            assert_eq!(e.code(), ErrorCode::MemoryLimit, "{}", e.message());
            assert!(run(&fx.db, &plan, &memory(64 << 20)).is_ok());
        }
    }

    #[test]
    fn a_finished_sort_gives_its_memory_back() {
        let fx = Fixture::new();
        let plan = sort(
            scan(
                fx.table("big"),
                Access::FullScan,
                vec![0, 2],
                Vec::new(),
                false,
            ),
            vec![key(col(1), false)],
        );
        // The least limit the sort runs within.
        let (mut lo, mut hi) = (1usize, 64 << 20);
        assert!(run(&fx.db, &plan, &memory(hi)).is_ok());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if run(&fx.db, &plan, &memory(mid)).is_ok() {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        // Run twice under the same limits: the second fits only if the
        // first gave back what it held.
        let limits = memory(hi);
        assert!(run(&fx.db, &plan, &limits).is_ok());
        assert!(run(&fx.db, &plan, &limits).is_ok());
        assert!(run(&fx.db, &plan, &memory(hi - 1)).is_err());
        // Once rows go out, the result counts them (if it keeps them),
        // not the sort: the whole limit is free again.
        let snap = fx.db.kv().snapshot();
        let ctx = ExecCtx::new(&snap, &limits);
        let mut op = build(Node::root(&plan), &ctx, None).unwrap();
        assert!(op.next().unwrap().is_some());
        assert!(limits.hold(hi).is_ok(), "the sort still counts its buffer");
    }

    #[test]
    fn a_sort_over_corrupt_rows_fails_with_corruption() {
        let fx = Fixture::new();
        corrupt_row(&fx, "big", 4321);
        for parallel in [false, true] {
            let plan = sort(
                scan(
                    fx.table("big"),
                    Access::FullScan,
                    vec![0, 1],
                    Vec::new(),
                    parallel,
                ),
                vec![key(col(1), false)],
            );
            let e = run(&fx.db, &plan, &Limits::none()).unwrap_err();
            assert_eq!(e.code(), ErrorCode::Corruption, "{}", e.message());
        }
    }
}
