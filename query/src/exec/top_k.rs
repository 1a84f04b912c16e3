//! `top-k`: the first `limit + offset` input rows in key order, kept in a
//! bounded heap, then the first `offset` of them dropped. Rows whose keys
//! tie keep their input order: each row carries its arrival number, and
//! of two tied rows the later one ranks after, so a row tied with the
//! heap's worst does not enter a full heap.
//!
//! A row is compared with the heap's worst by its keys alone (evaluated
//! for the whole chunk) before anything of it is copied out of its chunk;
//! only rows that enter the heap are materialised. Over a parallel scan
//! each part fills a heap of its own in a task; arrival numbers start at
//! a base per part (the part's index above bit 40), so merging the heaps
//! keeps ties in part order, which is scan order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;

use super::sort::{Held, SortKeys, input_of};
use super::{BoxOp, ExecCtx, Node, Operator, Part, build, parallel_parts, profiled, scan};
use crate::ast::ColumnType;
use crate::error::Result;
use crate::limits::{Limits, row_bytes};
use crate::plan::bound::BoundExpr;
use crate::plan::logical::SortKey;
use crate::plan::physical::Physical;
use crate::value::Value;
use crate::vector::{Chunk, VECTOR_SIZE, Vector, VectorBuilder};

/// Bits of an arrival number below a part's base.
const PART_SHIFT: u32 = 40;

/// The dynamic filter a top-k hands the scan under it: the tightest
/// worst key of any part's full heap. No row whose key sorts strictly
/// after it can be among the first `k` of the whole input (that heap
/// already holds `k` rows at least as good), so the scan may leave such
/// rows out before decoding them. Rows that tie it are kept: a tied row
/// of an earlier part still wins on arrival order. Only non-null ints
/// and floats are held (what the scan compares against a column).
#[derive(Debug)]
pub(crate) struct KeyBound {
    desc: bool,
    value: Mutex<Option<Value>>,
}

impl KeyBound {
    /// No bound yet, for a key sorted descending when `desc`.
    pub(crate) fn new(desc: bool) -> KeyBound {
        KeyBound {
            desc,
            value: Mutex::new(None),
        }
    }

    /// Whether the key sorts descending (larger values first).
    pub(crate) fn desc(&self) -> bool {
        self.desc
    }

    /// The bound now, if any.
    pub(crate) fn get(&self) -> Option<Value> {
        self.value.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Offers a full heap's worst key: kept when tighter than the bound.
    pub(crate) fn offer(&self, v: &Value) {
        if !matches!(v, Value::Int(_) | Value::Float(_)) {
            return;
        }
        let mut held = self.value.lock().unwrap_or_else(|e| e.into_inner());
        let tighter = match &*held {
            None => true,
            Some(old) => {
                let o = v.sort_cmp(old);
                if self.desc {
                    o == Ordering::Greater
                } else {
                    o == Ordering::Less
                }
            }
        };
        if tighter {
            *held = Some(v.clone());
        }
    }
}

/// A row in the heap: its keys, arrival number and columns.
struct Entry<'k> {
    keys: Vec<Value>,
    seq: u64,
    row: Vec<Value>,
    order: &'k SortKeys,
}

impl Ord for Entry<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order
            .cmp_values(&self.keys, &other.keys)
            .then(self.seq.cmp(&other.seq))
    }
}

impl PartialOrd for Entry<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Entry<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Entry<'_> {}

/// The best `k` rows seen so far, by key then arrival.
pub(crate) struct Heap<'k, 'l> {
    order: &'k SortKeys,
    k: usize,
    /// A max-heap: its top is the worst row kept.
    entries: BinaryHeap<Entry<'k>>,
    /// Arrival number of the last row offered.
    seq: u64,
    /// An empty vector per input column, of its type: how output columns
    /// are typed.
    templates: Option<Vec<Vector>>,
    held: Held<'l>,
}

impl<'k, 'l> Heap<'k, 'l> {
    /// An empty heap of at most `k` rows, numbering arrivals from `base`.
    pub(crate) fn new(order: &'k SortKeys, k: usize, base: u64, limits: &'l Limits) -> Self {
        Heap {
            order,
            k,
            entries: BinaryHeap::new(),
            seq: base,
            templates: None,
            held: Held::new(limits),
        }
    }

    /// The keys of the worst row kept, once the heap is full: a later row
    /// whose keys do not come strictly before these cannot enter. `None`
    /// while there is room (and when `k` is 0, where no row enters).
    pub(crate) fn boundary(&self) -> Option<&[Value]> {
        if self.entries.len() < self.k {
            return None;
        }
        self.entries.peek().map(|e| e.keys.as_slice())
    }

    /// Offers every row in play of `chunk`, in order.
    pub(crate) fn push_chunk(&mut self, chunk: &Chunk) -> Result<()> {
        if chunk.is_empty() {
            return Ok(());
        }
        if self.templates.is_none() {
            self.templates = Some(
                chunk
                    .columns
                    .iter()
                    .map(|c| VectorBuilder::like(c, 0).finish())
                    .collect(),
            );
        }
        // Every row's keys are evaluated, entering or not: the same rows
        // fail on a bad key whatever the heap holds.
        let cols = self.order.eval(chunk)?;
        let mut bytes = 0;
        for pos in chunk.positions() {
            self.seq += 1;
            if self.entries.len() >= self.k {
                // A row tied with the worst arrived after it and loses.
                let Some(top) = self.entries.peek() else {
                    continue;
                };
                if self.order.cmp_owned(&cols, pos, &top.keys) != Ordering::Less {
                    continue;
                }
            }
            let entry = Entry {
                keys: cols.iter().map(|c| c.get(pos).to_value()).collect(),
                seq: self.seq,
                row: chunk.row(pos)?,
                order: self.order,
            };
            if self.entries.len() < self.k {
                bytes += row_bytes(&entry.keys) + row_bytes(&entry.row) + size_of::<Entry<'_>>();
            } else {
                self.entries.pop();
            }
            self.entries.push(entry);
        }
        self.held.hold(bytes)
    }

    /// Takes in `other`'s rows (a later part's heap).
    fn merge(&mut self, other: Heap<'k, '_>) {
        if self.templates.is_none() {
            self.templates = other.templates;
        }
        self.held.absorb(other.held);
        for e in other.entries {
            if self.entries.len() < self.k {
                self.entries.push(e);
            } else if let Some(top) = self.entries.peek()
                && e < *top
            {
                self.entries.pop();
                self.entries.push(e);
            }
        }
    }

    /// The rows kept, best first, and the column templates.
    fn finish(self) -> (Vec<Vec<Value>>, Option<Vec<Vector>>, Held<'l>) {
        let rows = self
            .entries
            .into_sorted_vec()
            .into_iter()
            .map(|e| e.row)
            .collect();
        (rows, self.templates, self.held)
    }
}

/// Reads all of `input` into a heap, offering its worst key to `bound`
/// (the scan's dynamic filter) whenever the heap is full.
fn fill<'k, 'l>(
    input: &mut dyn Operator,
    heap: &mut Heap<'k, 'l>,
    limits: &'l Limits,
    bound: Option<&KeyBound>,
) -> Result<()> {
    while let Some(chunk) = input.next()? {
        limits.check()?;
        heap.push_chunk(&chunk)?;
        if let (Some(b), Some([key])) = (bound, heap.boundary()) {
            b.offer(key);
        }
    }
    Ok(())
}

/// The rows to output, in order.
struct Output {
    rows: std::iter::Skip<std::vec::IntoIter<Vec<Value>>>,
    templates: Option<Vec<Vector>>,
}

/// The top-k operator.
pub(crate) struct TopK<'a> {
    node: Node<'a>,
    ctx: &'a ExecCtx<'a>,
    part: Option<Part>,
    keys: SortKeys,
    limit: u64,
    offset: u64,
    out: Option<Output>,
}

impl<'a> TopK<'a> {
    /// The first `limit` rows after `offset` of `node`'s input (a
    /// [`crate::plan::physical::Physical::TopK`]) in `keys` order; `part`
    /// as for [`build`].
    pub(crate) fn new(
        node: Node<'a>,
        ctx: &'a ExecCtx<'a>,
        part: Option<Part>,
        keys: &[SortKey],
        limit: u64,
        offset: u64,
    ) -> Result<TopK<'a>> {
        Ok(TopK {
            node,
            ctx,
            part,
            keys: SortKeys::compile(keys)?,
            limit,
            offset,
            out: None,
        })
    }

    /// The dynamic filter for the scan under the top-k, when it can take
    /// one: one key, a plain int or float column of a scan whose own
    /// filter cannot fail (rows the scan leaves out are then never
    /// evaluated, and nothing about them could have raised an error).
    fn bound(&self, child: Node<'_>) -> Option<Arc<KeyBound>> {
        let Physical::TopK { keys, .. } = self.node.plan else {
            return None;
        };
        let [key] = keys.as_slice() else {
            return None;
        };
        let BoundExpr::Column { index, .. } = &key.expr else {
            return None;
        };
        let Physical::Scan {
            table,
            columns,
            filter,
            ..
        } = child.plan
        else {
            return None;
        };
        let ty = table.columns.get(*columns.get(*index)?)?.ty;
        let typed = matches!(ty, ColumnType::Int | ColumnType::Float);
        (typed && scan::infallible(filter, columns)).then(|| Arc::new(KeyBound::new(key.desc)))
    }

    /// The operator of the top-k's input `child` over `part`: a scan
    /// with the dynamic filter `bound` when there is one.
    fn input(
        &self,
        child: Node<'a>,
        part: Option<Part>,
        bound: Option<&Arc<KeyBound>>,
    ) -> Result<BoxOp<'a>> {
        let (
            Some(bound),
            Physical::Scan {
                table,
                access,
                columns,
                filter,
                ..
            },
            Some(Physical::TopK { keys, .. }),
        ) = (bound, child.plan, Some(self.node.plan))
        else {
            return build(child, self.ctx, part);
        };
        let Some(BoundExpr::Column { index, .. }) = keys.first().map(|k| &k.expr) else {
            return build(child, self.ctx, part);
        };
        let Some(&pos) = columns.get(*index) else {
            return build(child, self.ctx, part);
        };
        let scan = scan::Scan::new(self.ctx, table, access, columns, filter, part)?
            .with_bound(Arc::clone(bound), pos);
        Ok(profiled(child, self.ctx, Box::new(scan)))
    }

    /// Reads the input (in parallel per part when it is a parallel scan)
    /// and keeps the best rows.
    fn read(&self) -> Result<Output> {
        let child = input_of(self.node)?;
        let k = usize::try_from(self.limit.saturating_add(self.offset)).unwrap_or(usize::MAX);
        let limits = self.ctx.limits;
        let parts = match self.part {
            None => parallel_parts(child, self.ctx)?,
            Some(_) => None,
        };
        let bound = self.bound(child);
        let heap = match parts {
            Some(parts) => {
                let heaps = parts
                    .par_iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let mut heap = Heap::new(&self.keys, k, (i as u64) << PART_SHIFT, limits);
                        let mut op = self.input(child, Some(*p), bound.as_ref())?;
                        fill(&mut *op, &mut heap, limits, bound.as_deref())?;
                        Ok(heap)
                    })
                    .collect::<Result<Vec<_>>>()?;
                let mut all = Heap::new(&self.keys, k, 0, limits);
                for h in heaps {
                    all.merge(h);
                }
                all
            }
            None => {
                let mut heap = Heap::new(&self.keys, k, 0, limits);
                let mut op = self.input(child, self.part, bound.as_ref())?;
                fill(&mut *op, &mut heap, limits, bound.as_deref())?;
                heap
            }
        };
        limits.check()?;
        let (rows, templates, mut held) = heap.finish();
        held.hand_on();
        let skip = usize::try_from(self.offset).unwrap_or(usize::MAX);
        Ok(Output {
            rows: rows.into_iter().skip(skip),
            templates,
        })
    }
}

impl Operator for TopK<'_> {
    fn next(&mut self) -> Result<Option<Chunk>> {
        if self.out.is_none() {
            self.out = Some(self.read()?);
        }
        let Some(out) = &mut self.out else {
            return Ok(None);
        };
        self.ctx.limits.check()?;
        let rows: Vec<Vec<Value>> = out.rows.by_ref().take(VECTOR_SIZE).collect();
        if rows.is_empty() {
            return Ok(None);
        }
        let width = out.templates.as_ref().map_or(0, Vec::len);
        if width == 0 {
            return Ok(Some(Chunk::empty_rows(rows.len())));
        }
        let mut builders: Vec<VectorBuilder> = match &out.templates {
            Some(t) => t
                .iter()
                .map(|v| VectorBuilder::like(v, rows.len()))
                .collect(),
            None => Vec::new(),
        };
        for row in &rows {
            for (b, v) in builders.iter_mut().zip(row) {
                b.push(v);
            }
        }
        Ok(Some(Chunk::new(
            builders.into_iter().map(|b| Arc::new(b.finish())).collect(),
            rows.len(),
        )))
    }
}

#[cfg(test)]
mod tests {
    //! Top-k against the sort oracle cut to its window; parallel against
    //! serial; the heap's boundary; memory.

    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    use super::super::scan::tests::{BIG, Fixture, T_COLUMNS, run, scan};
    use super::super::sort::tests::{col, key, memory, oracle, sort_keys};
    use super::super::tests::{Source, int_chunks};
    use super::super::{ExecCtx, Node};
    use super::*;
    use crate::error::ErrorCode;
    use crate::plan::physical::{Access, Physical};

    /// A top-k node over `input`.
    fn top_k(input: Physical, keys: Vec<SortKey>, limit: u64, offset: u64) -> Physical {
        Physical::TopK {
            input: Box::new(input),
            keys,
            limit,
            offset,
        }
    }

    /// `oracle`'s rows, `offset` dropped, at most `limit` kept.
    fn window(rows: Vec<Vec<Value>>, limit: u64, offset: u64) -> Vec<Vec<Value>> {
        rows.into_iter()
            .skip(offset as usize)
            .take(limit as usize)
            .collect()
    }

    #[test]
    fn top_k_agrees_with_a_sorted_window() {
        let fx = Fixture::new();
        let t = fx.table("t");
        let all = fx.rows("t");
        let full: Vec<usize> = (0..T_COLUMNS).collect();
        let case = (
            sort_keys(T_COLUMNS),
            prop_oneof![0u64..20, 0u64..400],
            prop_oneof![0u64..5, 0u64..400],
            any::<bool>(),
        );
        let mut runner = TestRunner::new(Config::with_cases(150));
        runner
            .run(&case, |(keys, limit, offset, parallel)| {
                let plan = top_k(
                    scan(
                        t.clone(),
                        Access::FullScan,
                        full.clone(),
                        Vec::new(),
                        parallel,
                    ),
                    keys.clone(),
                    limit,
                    offset,
                );
                let got = run(&fx.db, &plan, &Limits::none());
                match oracle(&all, &keys) {
                    Ok(sorted) => prop_assert_eq!(got.unwrap(), window(sorted, limit, offset)),
                    Err(e) => prop_assert_eq!(got.unwrap_err().code(), e.code()),
                }
                Ok(())
            })
            .unwrap();
    }

    #[test]
    fn parallel_top_k_keeps_ties_in_scan_order() {
        let fx = Fixture::new();
        let big = fx.table("big");
        let all = fx.rows("big");
        for (keys, limit, offset) in [
            (vec![key(col(1), false)], 10, 0),
            (vec![key(col(1), false)], 900, 850),
            (vec![key(col(1), true)], 3000, 10),
            (vec![key(col(2), true), key(col(1), false)], 50, 7),
            (vec![key(col(1), false)], 10_000, 0),
            (vec![key(col(1), false)], 10, 10_000),
        ] {
            let want = window(oracle(&all, &keys).unwrap(), limit, offset);
            for parallel in [false, true] {
                let plan = top_k(
                    scan(
                        big.clone(),
                        Access::FullScan,
                        vec![0, 1, 2],
                        Vec::new(),
                        parallel,
                    ),
                    keys.clone(),
                    limit,
                    offset,
                );
                let got = run(&fx.db, &plan, &Limits::none()).unwrap();
                assert_eq!(
                    got, want,
                    "parallel {parallel}, limit {limit}, offset {offset}"
                );
            }
        }
        assert_eq!(all.len(), BIG as usize);
    }

    #[test]
    fn sort_and_top_k_give_the_row_engines_rows() {
        let fx = Fixture::new();
        let t = fx.table("t");
        let full: Vec<usize> = (0..T_COLUMNS).collect();
        // (order by, its keys over t's columns, limit and offset)
        let cases = [
            ("a desc, s", vec![key(col(1), true), key(col(2), false)]),
            ("j, id desc", vec![key(col(5), false), key(col(0), true)]),
            ("f, b desc", vec![key(col(3), false), key(col(4), true)]),
        ];
        for (order, keys) in cases {
            for (limit, offset) in [(None, 0), (Some(7), 0), (Some(20), 290), (Some(0), 3)] {
                let mut text = format!("select * from t order by {order}");
                if let Some(l) = limit {
                    text += &format!(" limit {l} offset {offset}");
                }
                let crate::Output::Rows { rows: want, .. } = fx.db.execute(&text).unwrap() else {
                    panic!("rows expected from {text}");
                };
                for parallel in [false, true] {
                    let input = scan(
                        t.clone(),
                        Access::FullScan,
                        full.clone(),
                        Vec::new(),
                        parallel,
                    );
                    let plan = match limit {
                        None => super::super::sort::tests::sort(input, keys.clone()),
                        Some(l) => top_k(input, keys.clone(), l, offset),
                    };
                    let got = run(&fx.db, &plan, &Limits::none()).unwrap();
                    assert_eq!(got, want, "{text}, parallel {parallel}");
                }
            }
        }
    }

    #[test]
    fn top_k_of_an_empty_table_is_empty() {
        let fx = Fixture::new();
        let plan = top_k(
            scan(
                fx.table("e"),
                Access::FullScan,
                vec![0, 1],
                Vec::new(),
                true,
            ),
            vec![key(col(1), false)],
            5,
            0,
        );
        assert!(run(&fx.db, &plan, &Limits::none()).unwrap().is_empty());
    }

    #[test]
    fn the_boundary_is_the_worst_key_kept_once_full() {
        let keys = SortKeys::compile(&[key(col(0), false)]).unwrap();
        let limits = Limits::none();
        let values: Vec<Option<i64>> = vec![Some(9), None, Some(4), Some(7), Some(4), Some(1)];
        let mut heap = Heap::new(&keys, 3, 0, &limits);
        let mut src = Source(int_chunks(&values[..2], 2));
        fill(&mut src, &mut heap, &limits, None).unwrap();
        assert_eq!(heap.boundary(), None, "room left");
        let mut src = Source(int_chunks(&values[2..], 2));
        fill(&mut src, &mut heap, &limits, None).unwrap();
        // Kept: null, 1, 4 (the first 4; the second tied and came later).
        assert_eq!(heap.boundary(), Some(&[Value::Int(4)][..]));
        let (rows, _, _) = heap.finish();
        assert_eq!(
            rows,
            vec![vec![Value::Null], vec![Value::Int(1)], vec![Value::Int(4)]]
        );
        let mut none = Heap::new(&keys, 0, 0, &limits);
        let mut src = Source(int_chunks(&values, 4));
        fill(&mut src, &mut none, &limits, None).unwrap();
        assert_eq!(none.boundary(), None);
        assert!(none.finish().0.is_empty());
    }

    #[test]
    fn a_top_k_hands_its_rows_on_to_the_result() {
        let fx = Fixture::new();
        let plan = top_k(
            scan(
                fx.table("big"),
                Access::FullScan,
                vec![0, 2],
                Vec::new(),
                false,
            ),
            vec![key(col(1), false)],
            3000,
            0,
        );
        let limits = memory(64 << 20);
        let snap = fx.db.kv().snapshot();
        let ctx = ExecCtx::new(&snap, &limits);
        let mut op = build(Node::root(&plan), &ctx, None).unwrap();
        assert!(op.next().unwrap().is_some());
        assert!(
            limits.hold(64 << 20).is_ok(),
            "the top-k still counts its rows"
        );
    }

    #[test]
    fn a_large_top_k_past_the_memory_limit_fails_with_its_code() {
        let fx = Fixture::new();
        for parallel in [false, true] {
            let plan = top_k(
                scan(
                    fx.table("big"),
                    Access::FullScan,
                    vec![0, 1, 2],
                    Vec::new(),
                    parallel,
                ),
                vec![key(col(1), false)],
                5000,
                0,
            );
            let e = run(&fx.db, &plan, &memory(64 << 10)).unwrap_err();
            assert_eq!(e.code(), ErrorCode::MemoryLimit, "{}", e.message());
            assert!(run(&fx.db, &plan, &memory(64 << 20)).is_ok());
        }
    }

    /// The top-k with its dynamic filter over columnar data (compacted
    /// blocks, a flushed table, the memtable) against a full sort's
    /// window: keys with many ties and nulls, both directions, parts or
    /// not, with and without a filter the scan can test on zone maps.
    #[test]
    fn the_dynamic_filter_never_drops_a_winner() {
        let (_dir, db) = super::super::scan_aggregate::tests::fixture();
        let t = crate::catalog::Catalog::load(&db.kv().snapshot())
            .unwrap()
            .table("t")
            .unwrap()
            .clone();
        let columns: Vec<usize> = (0..5).collect();
        let types = [
            ColumnType::Int,
            ColumnType::Int,
            ColumnType::Int,
            ColumnType::Float,
            ColumnType::String,
        ];
        let case = (
            1usize..4,
            any::<bool>(),
            prop_oneof![0u64..3, 0u64..60],
            prop_oneof![Just(0u64), 0u64..30],
            any::<bool>(),
            prop::option::of(-100i64..100),
        );
        let mut runner = TestRunner::new(Config::with_cases(120));
        runner
            .run(&case, |(k, desc, limit, offset, parallel, over)| {
                let keys = vec![SortKey {
                    expr: BoundExpr::column(k, Some(types[k]), "k"),
                    desc,
                }];
                // `b > c`: a zone test, which keeps the dynamic filter on.
                let filter: Vec<BoundExpr> = over
                    .map(|c| crate::exec::scan::tests::gt_typed(2, ColumnType::Int, Value::Int(c)))
                    .into_iter()
                    .collect();
                let input = scan(
                    t.clone(),
                    Access::FullScan,
                    columns.clone(),
                    filter,
                    parallel,
                );
                let got = run(
                    &db,
                    &top_k(input.clone(), keys.clone(), limit, offset),
                    &Limits::none(),
                );
                let sorted = Physical::Limit {
                    input: Box::new(Physical::Sort {
                        input: Box::new(input),
                        keys,
                    }),
                    limit: Some(limit),
                    offset,
                };
                let want = run(&db, &sorted, &Limits::none());
                prop_assert_eq!(got.unwrap(), want.unwrap());
                Ok(())
            })
            .unwrap();
    }

    /// A scan with a dynamic filter set to a value of its key column
    /// leaves out only rows whose key sorts strictly after it: every
    /// other row comes out, in order (ties and nulls included).
    #[test]
    fn a_scan_under_a_bound_keeps_every_row_that_can_still_win() {
        let (_dir, db) = super::super::scan_aggregate::tests::fixture();
        let t = crate::catalog::Catalog::load(&db.kv().snapshot())
            .unwrap()
            .table("t")
            .unwrap()
            .clone();
        let columns: Vec<usize> = (0..4).collect();
        let snap = db.kv().snapshot();
        let limits = Limits::none();
        let ctx = ExecCtx::new(&snap, &limits);
        let rows = |bound: Option<(Arc<KeyBound>, usize)>| {
            let mut op =
                super::super::scan::Scan::new(&ctx, &t, &Access::FullScan, &columns, &[], None)
                    .unwrap();
            if let Some((b, pos)) = bound {
                op = op.with_bound(b, pos);
            }
            let mut out = Vec::new();
            while let Some(c) = op.next().unwrap() {
                out.extend(c.to_rows().unwrap());
            }
            out
        };
        let all = rows(None);
        let mut runner = TestRunner::new(Config::with_cases(60));
        let case = (1usize..4, any::<bool>(), 0usize..all.len());
        runner
            .run(&case, |(k, desc, at)| {
                let b = all[at][k].clone();
                prop_assume!(!b.is_null());
                let bound = Arc::new(KeyBound::new(desc));
                bound.offer(&b);
                let got = rows(Some((bound, k)));
                let strictly_after = |v: &Value| {
                    let o = v.sort_cmp(&b);
                    if desc {
                        o == Ordering::Less
                    } else {
                        o == Ordering::Greater
                    }
                };
                let want: Vec<Vec<Value>> = all
                    .iter()
                    .filter(|r| !strictly_after(&r[k]))
                    .cloned()
                    .collect();
                // What is left out is strictly after the bound; what is
                // kept is a run of the scan's rows in order.
                let kept: Vec<Vec<Value>> = got
                    .iter()
                    .filter(|r| !strictly_after(&r[k]))
                    .cloned()
                    .collect();
                prop_assert_eq!(kept, want);
                let mut rest = all.iter();
                prop_assert!(got.iter().all(|g| rest.any(|r| r == g)));
                Ok(())
            })
            .unwrap();
    }
}
