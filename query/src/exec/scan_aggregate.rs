//! `scan aggregate`: aggregates without group-by keys computed straight
//! from a scan's pieces, without the vectors a scan would build for an
//! aggregate on top of it.
//!
//! It computes `count(*)`, and `count`, `min` and `max` of a scanned
//! column. A run of rows (memtable, row blocks) goes through the scan's
//! row decoder and filter, as in the scan (without decoding when only
//! rows are counted and nothing filters); but the selected rows of a
//! columnar block are aggregated from the block:
//! - with no filter, the selection's length is the count;
//! - when every conjunct of the filter is a `column op constant` test
//!   ([`ZoneFilter`]), the block's zone maps, then each 2048-row
//!   vector's, decide whole vectors (no row passes, or every row does);
//!   the rest of an int column's tests run on its frame-of-reference
//!   offsets (`base + offset > c` ⇔ `offset > c - base`), unpacked and
//!   compared in bulk, with the null bitmap; other tests decode the
//!   vector's rows and run the filter;
//! - counts of a column's values skip its null rows, `min`/`max` of an
//!   int column read its offsets; of other columns they decode the
//!   vector's rows.
//!
//! Tests of that form cannot fail at run time, so leaving rows out
//! undecoded hides no error; a filter with other conjuncts decodes every
//! block, as the scan does. A parallel full scan aggregates its parts in
//! rayon tasks, one copy of the work per part, merged in key order.

use std::ops::{Bound, Range};

use fasty_wal::{
    Bitmap, ColumnBlock, ColumnKind, Encoded, Field, Packed, Piece, RangeTest, Selection,
    VECTOR_ROWS, Verdict,
};
use rayon::prelude::*;

use super::scan::{RowDecoder, ZoneFilter, key_range, storage, zone_verdict};
use super::{ExecCtx, Node, Operator, Part, Predicate};
use crate::ast::{AggFunc, BinaryOp, ColumnType};
use crate::catalog::Table;
use crate::error::{Error, ErrorCode, Result};
use crate::exec::keys::split_ranges;
use crate::plan::bound::BoundExpr;
use crate::plan::logical::AggCall;
use crate::plan::physical::{Access, Physical};
use crate::value::Value;
use crate::vector::{Chunk, VECTOR_SIZE, VectorBuilder};

/// The operator: one row of aggregates on its first pull.
pub(crate) struct ScanAggregate<'a> {
    node: Node<'a>,
    ctx: &'a ExecCtx<'a>,
    done: bool,
}

impl<'a> ScanAggregate<'a> {
    /// The operator of `node` (a [`Physical::ScanAggregate`]).
    pub(crate) fn new(node: Node<'a>, ctx: &'a ExecCtx<'a>) -> Result<ScanAggregate<'a>> {
        Ok(ScanAggregate {
            node,
            ctx,
            done: false,
        })
    }
}

/// An internal error: a plan this operator does not run.
fn internal(what: &str) -> Error {
    Error::query(ErrorCode::Unsupported, format!("internal: {what}"))
}

impl Operator for ScanAggregate<'_> {
    fn next(&mut self) -> Result<Option<Chunk>> {
        if self.done {
            return Ok(None);
        }
        self.done = true;
        let Physical::ScanAggregate {
            table,
            access,
            columns,
            filter,
            parallel,
            aggs,
        } = self.node.plan
        else {
            return Err(internal("scan aggregate over another node"));
        };
        let kinds = aggs
            .iter()
            .map(|a| Agg::of(a, columns.len()))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| internal("scan aggregate of an aggregate it does not compute"))?;
        let bounds = match access {
            Access::FullScan => (Bound::Unbounded, Bound::Unbounded),
            Access::PkRange(lo, hi) => (*lo, *hi),
            _ => return Err(internal("scan aggregate over a lookup")),
        };
        let counter = Counter::new(table, columns, filter, kinds)?;
        let parts = if *parallel && *access == Access::FullScan {
            let n = rayon::current_num_threads() * 4;
            split_ranges(self.ctx.snap, table.id, n)?.filter(|r| r.len() > 1)
        } else {
            None
        };
        // Parts merge in key order (rayon's reduce keeps the order), so
        // `min`/`max` keep the first of equal values, as row order does.
        let totals = match parts {
            Some(parts) => parts
                .par_iter()
                .map(|&(lo, hi)| counter.count(self.ctx, bounds, Some(Part { lo, hi })))
                .try_reduce(
                    || counter.empty(),
                    |mut a, b| {
                        a.merge(b);
                        Ok(a)
                    },
                )?,
            None => counter.count(self.ctx, bounds, None)?,
        };
        self.ctx.limits.check()?;
        let columns = totals
            .results()
            .into_iter()
            .map(|v| {
                let mut b = match v {
                    Value::Int(_) => VectorBuilder::typed(ColumnType::Int, 1),
                    _ => VectorBuilder::with_capacity(1),
                };
                b.push(&v);
                std::sync::Arc::new(b.finish())
            })
            .collect();
        Ok(Some(Chunk::new(columns, 1)))
    }
}

/// An aggregate the operator computes, with its argument's output column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Agg {
    /// `count(*)`.
    Rows,
    /// `count(column)`: the non-null values.
    Count(usize),
    /// `min(column)`.
    Min(usize),
    /// `max(column)`.
    Max(usize),
}

impl Agg {
    /// The aggregate `a` over a scan of `columns` output columns, or
    /// `None` when this operator does not compute it.
    fn of(a: &AggCall, columns: usize) -> Option<Agg> {
        let col = match &a.arg {
            None => return (a.func == AggFunc::Count).then_some(Agg::Rows),
            Some(BoundExpr::Column { index, .. }) if *index < columns => *index,
            Some(_) => return None,
        };
        match a.func {
            AggFunc::Count => Some(Agg::Count(col)),
            AggFunc::Min => Some(Agg::Min(col)),
            AggFunc::Max => Some(Agg::Max(col)),
            AggFunc::Sum | AggFunc::Avg => None,
        }
    }
}

/// The running aggregates of a part: the rows that passed, and per
/// aggregate a count of non-null values or the best value so far.
#[derive(Debug, Clone)]
struct Totals {
    aggs: Vec<Agg>,
    rows: u64,
    counts: Vec<u64>,
    best: Vec<Value>,
}

impl Totals {
    fn new(aggs: &[Agg]) -> Totals {
        Totals {
            aggs: aggs.to_vec(),
            rows: 0,
            counts: vec![0; aggs.len()],
            best: vec![Value::Null; aggs.len()],
        }
    }

    /// Keeps `x` (not null) as aggregate `k`'s value when it comes before
    /// (`min`) or after (`max`) the value so far in the `order by` order;
    /// the first of equal values stays, as in the hash aggregate.
    fn offer(&mut self, k: usize, x: Value) {
        let want = match self.aggs.get(k) {
            Some(Agg::Min(_)) => std::cmp::Ordering::Less,
            Some(Agg::Max(_)) => std::cmp::Ordering::Greater,
            _ => return,
        };
        let cur = &mut self.best[k];
        if x.is_null() {
            return;
        }
        if cur.is_null() || x.sort_cmp(cur) == want {
            *cur = x;
        }
    }

    /// Adds a later part's totals.
    fn merge(&mut self, later: Totals) {
        self.rows += later.rows;
        for (a, b) in self.counts.iter_mut().zip(&later.counts) {
            *a += b;
        }
        for (k, x) in later.best.into_iter().enumerate() {
            self.offer(k, x);
        }
    }

    /// The aggregates' values, in order.
    fn results(self) -> Vec<Value> {
        let int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
        self.aggs
            .iter()
            .zip(self.counts)
            .zip(self.best)
            .map(|((agg, n), best)| match agg {
                Agg::Rows => int(self.rows),
                Agg::Count(_) => int(n),
                Agg::Min(_) | Agg::Max(_) => best,
            })
            .collect()
    }
}

/// What counting needs of the scan, shared by every part.
struct Counter<'p> {
    table: u32,
    /// The filter's columns: table position and type, in output order.
    types: Vec<(usize, ColumnType)>,
    filter: &'p [BoundExpr],
    zones: ZoneFilter,
    /// Every conjunct is a zone test (so blocks can be counted from
    /// zone maps and encoded values).
    tests_only: bool,
    aggs: Vec<Agg>,
    /// Every aggregate is `count(*)`.
    rows_only: bool,
}

impl<'p> Counter<'p> {
    fn new(
        table: &Table,
        columns: &[usize],
        filter: &'p [BoundExpr],
        aggs: Vec<Agg>,
    ) -> Result<Counter<'p>> {
        let types = columns
            .iter()
            .map(|&c| {
                table
                    .columns
                    .get(c)
                    .map(|d| (c, d.ty))
                    .ok_or_else(|| internal(&format!("table {} has no column {c}", table.name)))
            })
            .collect::<Result<Vec<_>>>()?;
        let zones = ZoneFilter::new(filter, columns);
        Ok(Counter {
            table: table.id,
            types,
            filter,
            tests_only: zones.tests().len() == filter.len(),
            zones,
            rows_only: aggs.iter().all(|a| *a == Agg::Rows),
            aggs,
        })
    }

    /// The totals of no rows.
    fn empty(&self) -> Totals {
        Totals::new(&self.aggs)
    }

    /// The aggregates of the rows within `bounds` (and `part`) that pass
    /// the filter.
    fn count(
        &self,
        ctx: &ExecCtx<'_>,
        bounds: (Bound<i64>, Bound<i64>),
        part: Option<Part>,
    ) -> Result<Totals> {
        let Some((start, end)) = key_range(self.table, bounds, part) else {
            return Ok(self.empty());
        };
        let mut run = Run {
            decoder: RowDecoder::new(self.types.clone()),
            predicate: Predicate::compile(self.filter)?,
            pending: 0,
            count: 0,
            totals: self.empty(),
            mask: Vec::new(),
            picked: Vec::new(),
        };
        for piece in ctx.snap.pieces(start..end, None) {
            ctx.limits.check()?;
            match piece.map_err(storage)? {
                Piece::Rows(pairs) => {
                    if self.filter.is_empty() && self.rows_only {
                        run.count += pairs.len() as u64;
                        continue;
                    }
                    for (_, v) in &pairs {
                        run.decoder.push(v)?;
                        run.pending += 1;
                        if run.pending == VECTOR_SIZE {
                            run.flush()?;
                        }
                    }
                }
                Piece::Block { block, rows } => self.block(&block, &rows, &mut run)?,
            }
        }
        run.flush()?;
        run.totals.rows = run.count;
        Ok(run.totals)
    }

    /// Counts the rows `sel` of `block` that pass.
    fn block(&self, block: &ColumnBlock, sel: &Selection, run: &mut Run) -> Result<()> {
        let n = block.rows();
        if self.filter.is_empty() && self.rows_only {
            run.count += sel.len(n) as u64;
            return Ok(());
        }
        if !self.tests_only {
            return run.decode(block, sel, 0..n);
        }
        let mut verdicts = Vec::with_capacity(self.zones.tests().len());
        for (pos, op, value) in self.zones.tests() {
            let Some(column) = block.column(*pos) else {
                // Every row null: no row passes.
                return Ok(());
            };
            match zone_verdict(*op, value, &column.block_zone()) {
                Verdict::Skip => return Ok(()),
                v => verdicts.push(v),
            }
        }
        if self.rows_only && verdicts.iter().all(|v| *v == Verdict::All) {
            run.count += sel.len(n) as u64;
            return Ok(());
        }
        let mut start = 0;
        while start < n {
            let range = start..(start + VECTOR_ROWS).min(n);
            start = range.end;
            self.vector(block, sel, range, run)?;
        }
        Ok(())
    }

    /// Counts the rows of `sel` within `range` (one vector of `block`)
    /// that pass.
    fn vector(
        &self,
        block: &ColumnBlock,
        sel: &Selection,
        range: Range<usize>,
        run: &mut Run,
    ) -> Result<()> {
        let selected = selected_in(sel, block.rows(), &range);
        if selected == 0 {
            return Ok(());
        }
        let v = range.start / VECTOR_ROWS;
        let mut open = Vec::new();
        for (i, (pos, op, value)) in self.zones.tests().iter().enumerate() {
            let Some(column) = block.column(*pos) else {
                return Ok(());
            };
            match zone_verdict(*op, value, &column.zone(v)) {
                Verdict::Skip => return Ok(()),
                Verdict::All => {}
                Verdict::Some => open.push(i),
            }
        }
        if open.is_empty() && self.rows_only {
            run.count += selected as u64;
            return Ok(());
        }
        // The open tests on offsets when all are int tests on
        // frame-of-reference columns; else the vector's rows decoded.
        let mut plans = Vec::with_capacity(open.len());
        for &i in &open {
            let Some((pos, op, Value::Int(c))) = self.zones.tests().get(i) else {
                return run.decode(block, sel, range);
            };
            let Some(column) = block.column(*pos) else {
                return Ok(());
            };
            if column.kind() != ColumnKind::Int {
                return run.decode(block, sel, range);
            }
            let Encoded::For { base, packed } = column.encoded() else {
                return run.decode(block, sel, range);
            };
            plans.push((OffsetTest::new(*op, *c, base), packed, column.nulls()));
        }
        if !self.rows_only {
            return self.vector_aggs(block, sel, range, &plans, run);
        }
        // One test over a run of rows without nulls: a count of the
        // offsets in bulk.
        if let [(test, packed, None)] = plans[..] {
            let rows = match sel {
                Selection::All => Some(range.clone()),
                Selection::Range { start, end } => {
                    Some((*start as usize).max(range.start)..(*end as usize).min(range.end))
                }
                Selection::Rows(_) => None,
            };
            if let Some(rows) = rows {
                run.count += packed.count_passing(rows, &test.0) as u64;
                return Ok(());
            }
        }
        passing_mask(sel, &range, &plans, &mut run.mask);
        run.count += run.mask.iter().map(|&m| u64::from(m)).sum::<u64>();
        Ok(())
    }

    /// The aggregates of the rows of `sel` within `range` (one vector of
    /// `block`) that pass the `plans` (the vector's open tests, on
    /// offsets): counts and int `min`/`max` from the block's columns; a
    /// `min`/`max` of another kind of column decodes the vector's rows.
    fn vector_aggs(
        &self,
        block: &ColumnBlock,
        sel: &Selection,
        range: Range<usize>,
        plans: &[Plan<'_>],
        run: &mut Run,
    ) -> Result<()> {
        let column = |i: usize| self.types.get(i).and_then(|&(pos, _)| block.column(pos));
        for agg in &self.aggs {
            if let Agg::Min(i) | Agg::Max(i) = *agg
                && let Some(c) = column(i)
                && (c.kind() != ColumnKind::Int || !matches!(c.encoded(), Encoded::For { .. }))
            {
                return run.decode(block, sel, range);
            }
        }
        passing_mask(sel, &range, plans, &mut run.mask);
        let mask = &run.mask;
        run.count += mask.iter().map(|&m| u64::from(m)).sum::<u64>();
        for (k, agg) in self.aggs.iter().enumerate() {
            let (Agg::Count(i) | Agg::Min(i) | Agg::Max(i)) = *agg else {
                continue;
            };
            // A column missing from the block is null in every row.
            let Some(c) = column(i) else {
                continue;
            };
            let rows = mask
                .iter()
                .enumerate()
                .filter(|&(_, &m)| m != 0)
                .map(|(k, _)| range.start + k);
            match agg {
                Agg::Count(_) => {
                    let n = rows.filter(|&r| !matches!(c.field(r), Field::Null)).count();
                    run.totals.counts[k] += n as u64;
                }
                _ => {
                    let Encoded::For { base, packed } = c.encoded() else {
                        continue;
                    };
                    let nulls = c.nulls();
                    let vals = rows
                        .filter(|&r| !nulls.is_some_and(|b| b.get(r)))
                        .map(|r| base.wrapping_add(packed.get(r) as i64));
                    let best = if *agg == Agg::Min(i) {
                        vals.min()
                    } else {
                        vals.max()
                    };
                    if let Some(v) = best {
                        run.totals.offer(k, Value::Int(v));
                    }
                }
            }
        }
        Ok(())
    }
}

/// An open test of a vector on an int column's offsets: the test, the
/// offsets and the column's nulls.
type Plan<'b> = (OffsetTest, Packed<'b>, Option<Bitmap<'b>>);

/// Sets `mask` (one byte per row of `range`) to 1 for the rows of `sel`
/// that pass every plan and are not null in the columns the plans test,
/// and to 0 for the others.
fn passing_mask(sel: &Selection, range: &Range<usize>, plans: &[Plan<'_>], mask: &mut Vec<u8>) {
    mask.clear();
    mask.resize(range.len(), 0);
    match sel {
        Selection::All => mask.fill(1),
        Selection::Range { start, end } => {
            let s = (*start as usize).max(range.start);
            let e = (*end as usize).min(range.end);
            if s < e {
                mask[s - range.start..e - range.start].fill(1);
            }
        }
        Selection::Rows(rows) => {
            for &r in rows_in(rows, range) {
                mask[r as usize - range.start] = 1;
            }
        }
    }
    for (test, packed, nulls) in plans {
        if let Some(nulls) = nulls {
            for (k, m) in mask.iter_mut().enumerate() {
                *m &= u8::from(!nulls.get(range.start + k));
            }
        }
        packed.and_passing(range.start, &test.0, mask);
    }
}

/// `base + offset op c` as a test of the offset alone: the offsets in
/// `lo..=hi` pass (or, `negated`, the others); none when `lo > hi`.
#[derive(Debug, Clone, Copy)]
struct OffsetTest(RangeTest);

impl OffsetTest {
    /// The test for `op` (column on the left) against `c`, with offsets
    /// from `base`. Exact: the arithmetic is on 128 bits.
    fn new(op: BinaryOp, c: i64, base: i64) -> OffsetTest {
        let t = i128::from(c) - i128::from(base);
        let (lo, hi, negated) = match op {
            BinaryOp::Eq => (t, t, false),
            BinaryOp::NotEq => (t, t, true),
            BinaryOp::Lt => (i128::MIN, t - 1, false),
            BinaryOp::LtEq => (i128::MIN, t, false),
            BinaryOp::Gt => (t + 1, i128::MAX, false),
            // Only comparisons become zone tests; `>=` is the rest.
            _ => (t, i128::MAX, false),
        };
        let clamp = |x: i128| x.clamp(0, i128::from(u64::MAX)) as u64;
        if hi < 0 || lo > i128::from(u64::MAX) || lo > hi {
            // No offset is in the range.
            return OffsetTest(RangeTest {
                lo: 1,
                hi: 0,
                negated,
            });
        }
        OffsetTest(RangeTest {
            lo: clamp(lo),
            hi: clamp(hi),
            negated,
        })
    }
}

/// The rows of `rows` (ascending) within `range`.
fn rows_in<'r>(rows: &'r [u32], range: &Range<usize>) -> &'r [u32] {
    let s = rows.partition_point(|&r| (r as usize) < range.start);
    let e = rows.partition_point(|&r| (r as usize) < range.end);
    &rows[s..e]
}

/// How many rows of `sel` (over a block of `n` rows) are within `range`.
fn selected_in(sel: &Selection, n: usize, range: &Range<usize>) -> usize {
    match sel {
        Selection::All => range.end.min(n).saturating_sub(range.start),
        Selection::Range { start, end } => {
            let s = (*start as usize).max(range.start);
            let e = (*end as usize).min(range.end);
            e.saturating_sub(s)
        }
        Selection::Rows(rows) => rows_in(rows, range).len(),
    }
}

/// One part's counting state.
struct Run {
    decoder: RowDecoder,
    predicate: Predicate,
    /// Rows in the decoder not yet filtered.
    pending: usize,
    count: u64,
    /// The other aggregates.
    totals: Totals,
    /// Per row of a vector: still passing.
    mask: Vec<u8>,
    /// Rows of a block to decode.
    picked: Vec<usize>,
}

impl Run {
    /// Filters the rows in the decoder and counts those that pass.
    fn flush(&mut self) -> Result<()> {
        if self.pending == 0 {
            return Ok(());
        }
        self.pending = 0;
        let chunk = self.predicate.apply(self.decoder.finish())?;
        self.count += chunk.count() as u64;
        for k in 0..self.totals.aggs.len() {
            let (Agg::Count(i) | Agg::Min(i) | Agg::Max(i)) = self.totals.aggs[k] else {
                continue;
            };
            let Some(v) = chunk.columns.get(i) else {
                return Err(internal("scan aggregate of a column the scan lacks"));
            };
            if let Agg::Count(_) = self.totals.aggs[k] {
                let n = chunk.positions().filter(|&p| !v.is_null(p)).count();
                self.totals.counts[k] += n as u64;
                continue;
            }
            for p in chunk.positions() {
                if !v.is_null(p) {
                    let x = v.value(p)?;
                    self.totals.offer(k, x);
                }
            }
        }
        Ok(())
    }

    /// Decodes the rows of `sel` within `range` of `block` and counts
    /// those that pass the filter.
    fn decode(&mut self, block: &ColumnBlock, sel: &Selection, range: Range<usize>) -> Result<()> {
        let mut rows = sel
            .iter(block.rows())
            .skip_while(|&r| r < range.start)
            .take_while(|&r| r < range.end)
            .peekable();
        while rows.peek().is_some() {
            self.picked.clear();
            self.picked
                .extend(rows.by_ref().take(VECTOR_SIZE - self.pending));
            self.decoder.push_block(block, &self.picked)?;
            self.pending += self.picked.len();
            if self.pending == VECTOR_SIZE {
                self.flush()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! The fused count against the general plan (a hash aggregate over a
    //! scan) over columnar data in several tables of storage and the
    //! memtable, with nulls, mixed kinds and blocks that match whole,
    //! partly or not at all.

    use std::ops::Bound;

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::super::scan::tests::run;
    use crate::ast::{AggFunc, BinaryOp, ColumnType};
    use crate::catalog::Catalog;
    use crate::limits::Limits;
    use crate::plan::bound::BoundExpr;
    use crate::plan::logical::AggCall;
    use crate::plan::physical::{Access, Physical};
    use crate::value::Value;
    use crate::{Database, Options};

    /// Rows of the test table.
    const ROWS: i64 = 9000;

    /// A durable columnar database with table `t { id, a: int, b: int,
    /// f: float, s: string }`: `a` rises with `id` (so whole blocks match
    /// or fail a test on it) with a few nulls, `b` is scattered with nulls, `f` has a few
    /// ints among its floats in the memtable. Most rows are compacted,
    /// some flushed to a second table, some in the memtable (rewritten
    /// or deleted).
    pub(crate) fn fixture() -> (tempfile::TempDir, Database) {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path(), Options::durable().with_columnar(true)).unwrap();
        db.execute("create table t { id: int, a: int, b: int, f: float, s: string }")
            .unwrap();
        let row = |id: i64| {
            // A few nulls in `a`, inside blocks (and vectors without).
            let a = if id % 997 == 0 && id < 5000 {
                "null".to_string()
            } else {
                (id / 10 - 300).to_string()
            };
            let b = if id % 5 == 0 {
                "null".to_string()
            } else {
                ((id * 7919) % 201 - 100).to_string()
            };
            let s = if id % 3 == 0 {
                "null".to_string()
            } else {
                format!("\"s{}\"", id % 97)
            };
            format!("{{ id: {id}, a: {a}, b: {b}, f: {}.25, s: {s} }}", id % 50)
        };
        let insert = |verb: &str, ids: std::ops::Range<i64>| {
            let rows: Vec<String> = ids.map(row).collect();
            db.execute(&format!("{verb} t [ {} ]", rows.join(", ")))
                .unwrap();
        };
        for start in (1..7000).step_by(1000) {
            insert("insert", start..start + 1000);
        }
        db.kv().compact().unwrap();
        insert("insert", 7001..ROWS);
        insert("upsert", 2000..2500);
        db.kv().checkpoint().unwrap();
        db.execute("delete t where id >= 4000 and id < 4040")
            .unwrap();
        db.execute("delete t where id = 100 or id = 6001").unwrap();
        insert("upsert", 5000..5030);
        db.execute("upsert t [ { id: 5003, a: 7, b: 2, f: 3.0 }, { id: 5004, a: null } ]")
            .unwrap();
        (dir, db)
    }

    /// `column op constant`, either way round.
    fn test_expr(col: usize, name: &str, op: BinaryOp, c: Value, swap: bool) -> BoundExpr {
        let ty = [
            ColumnType::Int,
            ColumnType::Int,
            ColumnType::Float,
            ColumnType::String,
        ][col];
        let column = Box::new(BoundExpr::column(col, Some(ty), name));
        let constant = Box::new(BoundExpr::Literal(c));
        let (left, right, op) = if swap {
            let flipped = match op {
                BinaryOp::Lt => BinaryOp::Gt,
                BinaryOp::LtEq => BinaryOp::GtEq,
                BinaryOp::Gt => BinaryOp::Lt,
                BinaryOp::GtEq => BinaryOp::LtEq,
                other => other,
            };
            (constant, column, flipped)
        } else {
            (column, constant, op)
        };
        BoundExpr::Binary { op, left, right }
    }

    #[test]
    fn aggregates_as_the_general_plan() {
        let (_dir, db) = fixture();
        let table = Catalog::load(&db.kv().snapshot())
            .unwrap()
            .table("t")
            .unwrap()
            .clone();
        let ops = [
            BinaryOp::Eq,
            BinaryOp::NotEq,
            BinaryOp::Lt,
            BinaryOp::LtEq,
            BinaryOp::Gt,
            BinaryOp::GtEq,
        ];
        // (output column, table column name, constants)
        let op = prop::sample::select(ops.to_vec());
        let conjunct = (0usize..5, op, -320i64..700, any::<bool>());
        let bound = (0u8..3, -10i64..ROWS + 10);
        // (aggregate, its column): count(*) for 0, else count, min, max.
        let agg = (0u8..4, 0usize..4);
        let strategy = (
            prop::collection::vec(conjunct, 0..3),
            bound.clone(),
            bound,
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec(agg, 1..4),
        );
        let mut runner = TestRunner::new(Config {
            cases: 400,
            ..Config::default()
        });
        runner
            .run(
                &strategy,
                |(conjuncts, lo, hi, range, parallel, agg_picks)| {
                    // Output columns: a, b, f, s (table positions 1..=4).
                    let columns = vec![1, 2, 3, 4];
                    let names = ["a", "b", "f", "s"];
                    let filter: Vec<BoundExpr> = conjuncts
                        .iter()
                        .map(|&(kind, op, c, swap)| match kind {
                            0 | 1 => test_expr(kind, names[kind], op, Value::Int(c / 2), swap),
                            2 => test_expr(2, "f", op, Value::Float(c as f64 / 16.0), swap),
                            3 => test_expr(3, "s", op, Value::String(format!("s{}", c % 97)), swap),
                            // Not a zone test: `a + 1 > c`.
                            _ => BoundExpr::Binary {
                                op,
                                left: Box::new(BoundExpr::Binary {
                                    op: BinaryOp::Add,
                                    left: Box::new(BoundExpr::column(0, None, "a")),
                                    right: Box::new(BoundExpr::Literal(Value::Int(1))),
                                }),
                                right: Box::new(BoundExpr::Literal(Value::Int(c))),
                            },
                        })
                        .collect();
                    let b = |(kind, v): (u8, i64)| match kind {
                        0 => Bound::Included(v),
                        1 => Bound::Excluded(v),
                        _ => Bound::Unbounded,
                    };
                    let access = if range {
                        Access::PkRange(b(lo), b(hi))
                    } else {
                        Access::FullScan
                    };
                    let parallel = parallel && access == Access::FullScan;
                    // Half the cases count rows only (the counting paths).
                    let rows_only = agg_picks.len() == 2;
                    let aggs: Vec<AggCall> = agg_picks
                        .iter()
                        .map(|&(f, col)| {
                            let ty = [
                                ColumnType::Int,
                                ColumnType::Int,
                                ColumnType::Float,
                                ColumnType::String,
                            ][col];
                            let arg = Some(BoundExpr::column(col, Some(ty), names[col]));
                            match (f, rows_only) {
                                (0, _) | (_, true) => AggCall {
                                    func: AggFunc::Count,
                                    arg: None,
                                    distinct: false,
                                },
                                (1, _) => AggCall {
                                    func: AggFunc::Count,
                                    arg,
                                    distinct: false,
                                },
                                (2, _) => AggCall {
                                    func: AggFunc::Min,
                                    arg,
                                    distinct: false,
                                },
                                _ => AggCall {
                                    func: AggFunc::Max,
                                    arg,
                                    distinct: false,
                                },
                            }
                        })
                        .collect();
                    let fused = Physical::ScanAggregate {
                        table: table.clone(),
                        access: access.clone(),
                        columns: columns.clone(),
                        filter: filter.clone(),
                        parallel,
                        aggs: aggs.clone(),
                    };
                    let general = Physical::HashAggregate {
                        input: Box::new(Physical::Scan {
                            table: table.clone(),
                            access,
                            columns,
                            filter,
                            parallel,
                        }),
                        keys: Vec::new(),
                        aggs,
                    };
                    let limits = Limits::none();
                    let want = run(&db, &general, &limits).map_err(|e| e.code());
                    let got = run(&db, &fused, &limits).map_err(|e| e.code());
                    prop_assert_eq!(got, want);
                    Ok(())
                },
            )
            .unwrap();
    }
}
