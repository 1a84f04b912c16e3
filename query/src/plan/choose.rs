//! Physical planning: a [`Logical`] plan becomes a [`Physical`] one, with
//! the rules below; there are no statistics:
//!
//! - Access paths, best first, from a scan's own conjuncts: primary-key
//!   points (`id = c`, `id in (…)`), index points (`col = c`, `col in
//!   (…)` on an indexed column), primary-key range, index range, else a
//!   full scan. Every conjunct is still checked on the rows an access path
//!   returns (an access path only narrows what is read), except the ones
//!   a primary-key access of the driving table enforces exactly.
//! - Joins: a lookup join (by the joined table's primary key, or an index
//!   on its key column) when the driving rows are few (found by key) or a
//!   limit without sort or aggregate stops early; otherwise a hash join
//!   building on the joined table, its own conjuncts applied while
//!   building — or on the rows before when they are estimated at most half
//!   as many (see [`Sizes`]; not under a limit that stops early).
//! - `order by` with `limit`: a top-k; without, a full sort.
//! - The driving table's full scan runs split over threads unless a limit
//!   without sort or aggregate can stop it early.

use std::collections::HashMap;
use std::ops::Bound;

use crate::ast::{AggFunc, BinaryOp, ColumnType, Expr, JoinKind};
use crate::catalog::{Catalog, Table};
use crate::error::Result;
use crate::plan::bind::{bind_select, finder};
use crate::plan::bound::BoundExpr;
use crate::plan::logical::{AggCall, Logical, SortKey};
use crate::plan::physical::{Access, Lookup, Physical};
use crate::value::Value;

/// Planner switches, for tests and diagnosis.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanOptions {
    /// Use primary-key and index access paths (false: always full scans,
    /// which must return the same rows).
    pub use_indexes: bool,
}

/// Converts a bound value to the column's type for a key, or `None` when
/// it cannot be used as a key (then the scan falls back to filtering).
pub(crate) fn key_value(v: Value, ty: ColumnType) -> Option<Value> {
    match (v, ty) {
        (Value::Int(i), ColumnType::Int) => Some(Value::Int(i)),
        // An integral float equals that int (`id = 2.0`); the cast is
        // exact inside i64's range.
        (Value::Float(x), ColumnType::Int) if x.fract() == 0.0 && x.abs() < 9.2e18 => {
            Some(Value::Int(x as i64))
        }
        (Value::Int(i), ColumnType::Float) => Some(Value::Float(i as f64)),
        (Value::Float(x), ColumnType::Float) => Some(Value::Float(x)),
        (Value::String(s), ColumnType::String) => Some(Value::String(s)),
        (Value::Bool(b), ColumnType::Bool) => Some(Value::Bool(b)),
        _ => None,
    }
}

/// Plans the rows of `table` that `filter` selects, for `update` and
/// `delete`: whole rows (every column, in table order), in primary-key
/// order.
pub(crate) fn plan_rows(
    cat: &Catalog,
    table: &str,
    filter: Option<&Expr>,
    opts: PlanOptions,
) -> Result<Physical> {
    let bound = bind_select(cat, &finder(table, filter))?;
    physical(bound.plan, opts)
}

/// Rough row counts of scans, for the choice of a hash join's build
/// side: the rows a scan of a table by an access path reads (its own
/// filter aside), `None` when unknown.
pub(crate) type Sizes<'s> = &'s dyn Fn(&Table, &Access) -> Option<u64>;

/// The physical plan of a logical one, without row counts: every hash join
/// builds on its joined table.
pub(crate) fn physical(plan: Logical, opts: PlanOptions) -> Result<Physical> {
    physical_sized(plan, opts, None)
}

/// The physical plan of a logical one; with `sizes`, a hash join builds on
/// whichever of its inputs is estimated clearly smaller.
pub(crate) fn physical_sized(
    plan: Logical,
    opts: PlanOptions,
    sizes: Option<Sizes<'_>>,
) -> Result<Physical> {
    let early_stop = stops_early(&plan);
    // The driving table's access path decides the join strategy.
    let few = {
        let mut l = &plan;
        loop {
            match l {
                Logical::Scan {
                    table,
                    columns,
                    filter,
                } => {
                    let access = opts.access(table, columns, filter);
                    break matches!(access, Access::PkPoints(_) | Access::IndexPoints(..));
                }
                Logical::Join { left: input, .. }
                | Logical::Filter { input, .. }
                | Logical::Aggregate { input, .. }
                | Logical::Project { input, .. }
                | Logical::Sort { input, .. }
                | Logical::Limit { input, .. } => l = input,
            }
        }
    };
    let cx = Cx {
        opts,
        early_stop,
        lookups: opts.use_indexes && (few || early_stop),
        sizes,
    };
    Ok(scan_aggregates(cx.convert(plan, true)?))
}

/// `plan` with each aggregate without group by whose aggregates are
/// counts, `min` or `max` of the scanned columns ([`fused_aggregate`])
/// over a full scan or a primary-key range turned into a
/// [`Physical::ScanAggregate`], which counts straight from the table's
/// pieces. Looks through the nodes above an aggregate (project, sort,
/// top-k, limit, filter); joins are left as they are.
fn scan_aggregates(plan: Physical) -> Physical {
    let under = |input: Box<Physical>| Box::new(scan_aggregates(*input));
    match plan {
        Physical::HashAggregate { input, keys, aggs } if keys.is_empty() => {
            match *input {
                Physical::Scan {
                    table,
                    // A primary-key range is counted from its pieces too:
                    // whole columnar runs from their selections, row runs
                    // without decoding when there is no filter.
                    access: access @ (Access::FullScan | Access::PkRange(..)),
                    columns,
                    filter,
                    parallel,
                } if aggs.iter().all(|a| fused_aggregate(a, columns.len())) => {
                    Physical::ScanAggregate {
                        table,
                        access,
                        columns,
                        filter,
                        parallel,
                        aggs,
                    }
                }
                input => Physical::HashAggregate {
                    input: Box::new(input),
                    keys,
                    aggs,
                },
            }
        }
        Physical::Project { input, exprs } => Physical::Project {
            input: under(input),
            exprs,
        },
        Physical::Filter { input, predicate } => Physical::Filter {
            input: under(input),
            predicate,
        },
        Physical::Sort { input, keys } => Physical::Sort {
            input: under(input),
            keys,
        },
        Physical::TopK {
            input,
            keys,
            limit,
            offset,
        } => Physical::TopK {
            input: under(input),
            keys,
            limit,
            offset,
        },
        Physical::Limit {
            input,
            limit,
            offset,
        } => Physical::Limit {
            input: under(input),
            limit,
            offset,
        },
        other => other,
    }
}

/// Whether [`Physical::ScanAggregate`] computes `a` over a scan with
/// `columns` output columns: `count(*)`, or `count`, `min` or `max` of a
/// column of the scan.
fn fused_aggregate(a: &AggCall, columns: usize) -> bool {
    if a.distinct && !matches!(a.func, AggFunc::Min | AggFunc::Max) {
        return false;
    }
    match &a.arg {
        None => a.func == AggFunc::Count,
        Some(BoundExpr::Column { index, .. }) => {
            *index < columns && matches!(a.func, AggFunc::Count | AggFunc::Min | AggFunc::Max)
        }
        Some(_) => false,
    }
}

/// Whether the plan has a limit that can stop reading early: one with no
/// sort or aggregate below it.
fn stops_early(l: &Logical) -> bool {
    fn blocking(l: &Logical) -> bool {
        match l {
            Logical::Sort { .. } | Logical::Aggregate { .. } => true,
            Logical::Scan { .. } => false,
            Logical::Join { left, right, .. } => blocking(left) || blocking(right),
            Logical::Filter { input, .. }
            | Logical::Project { input, .. }
            | Logical::Limit { input, .. } => blocking(input),
        }
    }
    match l {
        Logical::Project { input, .. } | Logical::Filter { input, .. } => stops_early(input),
        Logical::Limit {
            limit: Some(_),
            input,
            ..
        } => !blocking(input),
        _ => false,
    }
}

/// What every step of one plan's conversion shares.
struct Cx<'s> {
    opts: PlanOptions,
    /// A limit can stop the driving scan early.
    early_stop: bool,
    /// Joins may look rows up instead of hashing.
    lookups: bool,
    /// Row counts of scans, when known.
    sizes: Option<Sizes<'s>>,
}

impl Cx<'_> {
    /// Converts `l`; `driving` marks the chain of first inputs down to the
    /// driving table's scan.
    fn convert(&self, l: Logical, driving: bool) -> Result<Physical> {
        let b = |x: Box<Logical>| self.convert(*x, driving).map(Box::new);
        Ok(match l {
            Logical::Scan {
                table,
                columns,
                filter,
            } => {
                let access = self.opts.access(&table, &columns, &filter);
                // Conjuncts a primary-key access enforces exactly need no
                // re-check on the driving table (a joined table keeps
                // every conjunct).
                let filter = if driving {
                    let mut first_eq = true;
                    filter
                        .into_iter()
                        .filter(|t| !enforced_by_pk(&table, &columns, &access, t, &mut first_eq))
                        .collect()
                } else {
                    filter
                };
                let parallel = driving && access == Access::FullScan && !self.early_stop;
                Physical::Scan {
                    table,
                    access,
                    columns,
                    filter,
                    parallel,
                }
            }
            Logical::Filter { input, predicate } => Physical::Filter {
                input: b(input)?,
                predicate,
            },
            Logical::Join {
                left,
                right,
                left_key,
                right_key,
                filter,
                order,
                kind,
            } => {
                let left_outer = kind == JoinKind::Left;
                if left_outer {
                    // A left join always hashes its joined table: every
                    // row before is streamed through once and kept.
                    return Ok(Physical::HashJoin {
                        probe: Box::new(self.convert(*left, driving)?),
                        build: Box::new(self.convert(*right, false)?),
                        probe_key: left_key,
                        build_key: right_key,
                        filter,
                        emit_build: true,
                        build_left: false,
                        left_outer: true,
                    });
                }
                let via = self.lookup(&right, &right_key);
                if via.is_none() && self.build_left(&left, &right) {
                    // The joined table becomes the streamed side (the
                    // driving one when this join is on the driving chain).
                    return Ok(Physical::HashJoin {
                        build: Box::new(self.convert(*left, false)?),
                        probe: Box::new(self.convert(*right, driving)?),
                        probe_key: right_key,
                        build_key: left_key,
                        filter,
                        emit_build: true,
                        build_left: true,
                        left_outer: false,
                    });
                }
                let left = self.convert(*left, driving)?;
                let width = left.fields().len();
                match (via, *right) {
                    (
                        Some(via),
                        Logical::Scan {
                            table,
                            columns,
                            filter: own,
                        },
                    ) => {
                        // The lookup is the joined table's access path; its
                        // own conjuncts join the filter over the joined row,
                        // in the order they were written.
                        let mut own = own.iter().map(|e| e.remap(&|i| i + width));
                        let mut cross = filter.into_iter();
                        let mut all: Vec<BoundExpr> = order
                            .iter()
                            .filter_map(|&o| if o { own.next() } else { cross.next() })
                            .collect();
                        // Conjuncts `order` does not account for (a plan
                        // built by hand) still apply.
                        all.extend(own);
                        all.extend(cross);
                        Physical::LookupJoin {
                            input: Box::new(left),
                            table,
                            via,
                            key: left_key,
                            columns,
                            filter: all,
                        }
                    }
                    (_, right) => Physical::HashJoin {
                        probe: Box::new(left),
                        build: Box::new(self.convert(right, false)?),
                        probe_key: left_key,
                        build_key: right_key,
                        filter,
                        emit_build: true,
                        build_left: false,
                        left_outer: false,
                    },
                }
            }
            Logical::Aggregate { input, keys, aggs } => join_keys_only(Physical::HashAggregate {
                input: b(input)?,
                keys,
                aggs,
            }),
            Logical::Project { input, exprs } => Physical::Project {
                input: b(input)?,
                exprs,
            },
            Logical::Sort { input, keys } => Physical::Sort {
                input: b(input)?,
                keys,
            },
            Logical::Limit {
                input,
                limit,
                offset,
            } => match (*input, limit) {
                (Logical::Sort { input, keys }, Some(limit)) => late_materialise(Physical::TopK {
                    input: b(input)?,
                    keys,
                    limit,
                    offset,
                }),
                (input, limit) => Physical::Limit {
                    input: Box::new(self.convert(input, driving)?),
                    limit,
                    offset,
                },
            },
        })
    }

    /// Whether a hash join of `left` and `right` builds on `left`: when it
    /// is estimated at most half as many rows as `right` (so that close
    /// or rough estimates keep the statement's order), and no limit can
    /// stop the driving scan early (its rows come in the driving table's
    /// order).
    fn build_left(&self, left: &Logical, right: &Logical) -> bool {
        if self.early_stop || self.sizes.is_none() {
            return false;
        }
        match (self.estimate(left), self.estimate(right)) {
            (Some(l), Some(r)) => l.saturating_mul(2) <= r && l < r,
            _ => false,
        }
    }

    /// Roughly how many rows `l` produces: a scan's estimate (filters
    /// aside), a join's larger input; `None` when unknown.
    fn estimate(&self, l: &Logical) -> Option<u64> {
        match l {
            Logical::Scan {
                table,
                columns,
                filter,
            } => {
                let access = self.opts.access(table, columns, filter);
                (self.sizes?)(table, &access)
            }
            Logical::Filter { input, .. } | Logical::Project { input, .. } => self.estimate(input),
            Logical::Join { left, right, .. } => {
                Some(self.estimate(left)?.max(self.estimate(right)?))
            }
            Logical::Aggregate { .. } | Logical::Sort { .. } | Logical::Limit { .. } => None,
        }
    }

    /// How a join may look up the rows of `right` by `right_key`, if it
    /// may: `right` is a plain scan and the key is its table's primary
    /// key or an indexed column.
    fn lookup(&self, right: &Logical, right_key: &BoundExpr) -> Option<Lookup> {
        if !self.lookups {
            return None;
        }
        let (Logical::Scan { table, columns, .. }, BoundExpr::Column { index, .. }) =
            (right, right_key)
        else {
            return None;
        };
        let col = *columns.get(*index)?;
        if col == table.pk {
            return Some(Lookup::Pk);
        }
        let ix = table.indexes.iter().find(|i| i.pos == col)?;
        Some(Lookup::Index(ix.clone()))
    }
}

/// Most rows a top-k may keep for its other columns to be read after it
/// (one primary-key lookup per row kept) rather than by its scan.
const LATE_ROWS: u64 = 4096;

/// A top-k straight over a scan reads, in the scan, only the columns its
/// filter and sort keys need plus the primary key; the other columns are
/// read for the rows that win only, by a primary-key lookup join above
/// the top-k, and a projection puts the columns back in the scan's order.
/// Any other plan is returned as it is.
fn late_materialise(plan: Physical) -> Physical {
    let Physical::TopK {
        input,
        keys,
        limit,
        offset,
    } = plan
    else {
        return plan;
    };
    let kept = limit.saturating_add(offset);
    let Physical::Scan {
        table,
        access,
        columns,
        filter,
        parallel,
    } = *input
    else {
        return Physical::TopK {
            input,
            keys,
            limit,
            offset,
        };
    };
    // Scan positions the filter and the keys read, and the primary key.
    let mut eager: Vec<usize> = Vec::new();
    filter.iter().for_each(|f| f.columns(&mut eager));
    keys.iter().for_each(|k| k.expr.columns(&mut eager));
    if let Some(p) = columns.iter().position(|&c| c == table.pk) {
        eager.push(p);
    }
    eager.sort_unstable();
    eager.dedup();
    let pk_pos = columns.iter().position(|&c| c == table.pk);
    let lazy: Vec<usize> = (0..columns.len()).filter(|p| !eager.contains(p)).collect();
    let (Some(pk_pos), false, true) = (pk_pos, lazy.is_empty(), kept <= LATE_ROWS) else {
        let scan = Physical::Scan {
            table,
            access,
            columns,
            filter,
            parallel,
        };
        return Physical::TopK {
            input: Box::new(scan),
            keys,
            limit,
            offset,
        };
    };
    // Where each old scan position went: eager ones first, lazy after.
    let mut at = vec![0; columns.len()];
    for (i, &p) in eager.iter().enumerate() {
        at[p] = i;
    }
    for (i, &p) in lazy.iter().enumerate() {
        at[p] = eager.len() + i;
    }
    let remap = |e: &BoundExpr| e.remap(&|i| at[i]);
    let fields = Physical::Scan {
        table: table.clone(),
        access: Access::FullScan,
        columns: columns.clone(),
        filter: Vec::new(),
        parallel: false,
    }
    .fields();
    let scan = Physical::Scan {
        table: table.clone(),
        access,
        columns: eager.iter().map(|&p| columns[p]).collect(),
        filter: filter.iter().map(remap).collect(),
        parallel,
    };
    let top = Physical::TopK {
        input: Box::new(scan),
        keys: keys
            .iter()
            .map(|k| SortKey {
                expr: remap(&k.expr),
                desc: k.desc,
            })
            .collect(),
        limit,
        offset,
    };
    let pk = &table.columns[table.pk];
    let fetch = Physical::LookupJoin {
        input: Box::new(top),
        table: table.clone(),
        via: Lookup::Pk,
        key: BoundExpr::column(at[pk_pos], Some(pk.ty), pk.name.clone()),
        columns: lazy.iter().map(|&p| columns[p]).collect(),
        filter: Vec::new(),
    };
    Physical::Project {
        input: Box::new(fetch),
        exprs: fields
            .into_iter()
            .enumerate()
            .map(|(p, f)| (BoundExpr::column(at[p], f.ty, f.name.clone()), f.name))
            .collect(),
    }
}

/// An aggregate straight over a hash join that reads no build column
/// (no key, argument or join filter does): the join emits its probe
/// columns only, so its build side keeps the keys alone (for an int key in
/// a small range, a bitmap) and no joined row is put together. When the
/// join builds on its left input the aggregate's columns move down by the
/// build side's width. Any other plan is returned as it is.
fn join_keys_only(plan: Physical) -> Physical {
    let Physical::HashAggregate { input, keys, aggs } = plan else {
        return plan;
    };
    let Physical::HashJoin {
        probe,
        build,
        probe_key,
        build_key,
        filter,
        emit_build,
        build_left,
        left_outer,
    } = *input
    else {
        return Physical::HashAggregate { input, keys, aggs };
    };
    if left_outer {
        // Its unmatched rows need the null build columns' place.
        let input = Box::new(Physical::HashJoin {
            probe,
            build,
            probe_key,
            build_key,
            filter,
            emit_build,
            build_left,
            left_outer,
        });
        return Physical::HashAggregate { input, keys, aggs };
    }
    let mut reads = Vec::new();
    keys.iter().for_each(|k| k.columns(&mut reads));
    aggs.iter()
        .filter_map(|a| a.arg.as_ref())
        .for_each(|a| a.columns(&mut reads));
    // The probe columns' positions in the join's output.
    let (first, width) = if build_left {
        let b = build.fields().len();
        (b, b + probe.fields().len())
    } else {
        (0, probe.fields().len())
    };
    let probe_only = filter.is_empty() && reads.iter().all(|&c| c >= first && c < width);
    let (keys, aggs) = if emit_build && probe_only && first > 0 {
        let down = |e: &BoundExpr| e.remap(&|i| i - first);
        let keys = keys.iter().map(down).collect();
        let aggs = aggs
            .into_iter()
            .map(|mut a| {
                a.arg = a.arg.as_ref().map(down);
                a
            })
            .collect();
        (keys, aggs)
    } else {
        (keys, aggs)
    };
    let emit_build = emit_build && !probe_only;
    // Keys only: the output is the probe side's, of which the aggregate
    // and this join's key read some columns; a join of a join below may
    // then drop its own build columns too.
    let probe = if emit_build {
        probe
    } else {
        let mut below: Vec<usize> = Vec::new();
        keys.iter().for_each(|k| k.columns(&mut below));
        aggs.iter()
            .filter_map(|a| a.arg.as_ref())
            .for_each(|a| a.columns(&mut below));
        probe_key.columns(&mut below);
        Box::new(chain_keys_only(*probe, below))
    };
    Physical::HashAggregate {
        input: Box::new(Physical::HashJoin {
            probe,
            build,
            probe_key,
            build_key,
            filter,
            emit_build,
            build_left,
            left_outer: false,
        }),
        keys,
        aggs,
    }
}

/// `plan`, the probe side of a keys-only hash join of which only the
/// columns `reads` are read: when it is itself a hash join (building on
/// its joined table, without a filter) whose build columns none of
/// `reads` is, it emits its probe columns only, which leaves the columns
/// read where they were; and so on down the chain. Anything else is
/// returned as it is.
fn chain_keys_only(plan: Physical, mut reads: Vec<usize>) -> Physical {
    match plan {
        Physical::HashJoin {
            probe,
            build,
            probe_key,
            build_key,
            filter,
            emit_build: true,
            build_left: false,
            left_outer: false,
        } if filter.is_empty() && reads.iter().all(|&c| c < probe.fields().len()) => {
            probe_key.columns(&mut reads);
            Physical::HashJoin {
                probe: Box::new(chain_keys_only(*probe, reads)),
                build,
                probe_key,
                build_key,
                filter,
                emit_build: false,
                build_left: false,
                left_outer: false,
            }
        }
        other => other,
    }
}

/// What a sargable conjunct says about one column.
enum TermKind {
    /// The column equals one of these values.
    Eq(Vec<Value>),
    /// The column lies within this range.
    Range(Bound<Value>, Bound<Value>),
}

/// A sargable conjunct: `col op constant` (or mirrored), `col between c
/// and d`, `col in (c, …)` on a plain column of the scan; the column's
/// table position and what it says.
fn term_bounds(columns: &[usize], e: &BoundExpr) -> Option<(usize, TermKind)> {
    let col = |x: &BoundExpr| match x {
        BoundExpr::Column { index, .. } => columns.get(*index).copied(),
        _ => None,
    };
    let lit = |x: &BoundExpr| match x {
        BoundExpr::Literal(v) => Some(v.clone()),
        _ => None,
    };
    match e {
        BoundExpr::Binary { op, left, right } => {
            let (c, v, op) = match (col(left), lit(right), col(right), lit(left)) {
                (Some(c), Some(v), _, _) => (c, v, *op),
                (_, _, Some(c), Some(v)) => (c, v, flip(*op)?),
                _ => return None,
            };
            if v.is_null() {
                return None;
            }
            let kind = match op {
                BinaryOp::Eq => TermKind::Eq(vec![v]),
                BinaryOp::Lt => TermKind::Range(Bound::Unbounded, Bound::Excluded(v)),
                BinaryOp::LtEq => TermKind::Range(Bound::Unbounded, Bound::Included(v)),
                BinaryOp::Gt => TermKind::Range(Bound::Excluded(v), Bound::Unbounded),
                BinaryOp::GtEq => TermKind::Range(Bound::Included(v), Bound::Unbounded),
                _ => return None,
            };
            Some((c, kind))
        }
        BoundExpr::Between {
            expr,
            low,
            high,
            negated: false,
        } => {
            let c = col(expr)?;
            let (lo, hi) = (lit(low)?, lit(high)?);
            if lo.is_null() || hi.is_null() {
                return None;
            }
            Some((c, TermKind::Range(Bound::Included(lo), Bound::Included(hi))))
        }
        BoundExpr::InList {
            expr,
            list,
            negated: false,
        } => {
            let c = col(expr)?;
            let vals: Option<Vec<Value>> = list
                .iter()
                .map(|x| lit(x).filter(|v| !v.is_null()))
                .collect();
            Some((c, TermKind::Eq(vals?)))
        }
        _ => None,
    }
}

/// `c op x` is `x flip(op) c`, for the operators an access path uses.
fn flip(op: BinaryOp) -> Option<BinaryOp> {
    Some(match op {
        BinaryOp::Eq => BinaryOp::Eq,
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        _ => return None,
    })
}

/// Whether `term` is exactly what `access` (a primary-key access chosen
/// by [`choose_access`]) guarantees: the first int equality or `in` for
/// points, every int range conjunct for a range.
fn enforced_by_pk(
    table: &Table,
    columns: &[usize],
    access: &Access,
    term: &BoundExpr,
    first_eq: &mut bool,
) -> bool {
    let Some((c, kind)) = term_bounds(columns, term) else {
        return false;
    };
    if c != table.pk {
        return false;
    }
    match (access, kind) {
        (Access::PkPoints(_), TermKind::Eq(vals))
            if *first_eq && vals.iter().all(|v| matches!(v, Value::Int(_))) =>
        {
            *first_eq = false;
            true
        }
        (Access::PkRange(..), TermKind::Range(lo, hi)) => {
            let b = |x: &Bound<Value>| match x {
                Bound::Included(v) | Bound::Excluded(v) => matches!(v, Value::Int(_)),
                Bound::Unbounded => true,
            };
            b(&lo) && b(&hi)
        }
        _ => false,
    }
}

/// The tighter of two bounds on one side of a range: the larger lower
/// bound (`lower`) or the smaller upper bound; at equal values the
/// exclusive one.
fn tighter(a: Bound<Value>, b: Bound<Value>, lower: bool) -> Bound<Value> {
    use std::cmp::Ordering::*;
    match (&a, &b) {
        (Bound::Unbounded, _) => b,
        (_, Bound::Unbounded) => a,
        (Bound::Included(x) | Bound::Excluded(x), Bound::Included(y) | Bound::Excluded(y)) => {
            match (x.sort_cmp(y), lower) {
                (Less, true) | (Greater, false) => b,
                (Greater, true) | (Less, false) => a,
                (Equal, _) if matches!(a, Bound::Excluded(_)) => a,
                (Equal, _) => b,
            }
        }
    }
}

impl PlanOptions {
    /// The access path of a scan of `table` reading `columns` under
    /// `terms`: [`choose_access`]'s, or a full scan when indexes are off.
    fn access(&self, table: &Table, columns: &[usize], terms: &[BoundExpr]) -> Access {
        if self.use_indexes {
            choose_access(table, columns, terms)
        } else {
            Access::FullScan
        }
    }
}

/// Picks the access path of a scan of `table` reading `columns` from its
/// conjuncts (over the scan's output).
pub(crate) fn choose_access(table: &Table, columns: &[usize], terms: &[BoundExpr]) -> Access {
    let mut eq: HashMap<usize, Vec<Value>> = HashMap::new();
    let mut ranges: HashMap<usize, (Bound<Value>, Bound<Value>)> = HashMap::new();
    for t in terms {
        let Some((c, kind)) = term_bounds(columns, t) else {
            continue;
        };
        let ty = table.columns[c].ty;
        let conv = |v: Value| key_value(v, ty);
        match kind {
            TermKind::Eq(vals) => {
                // A value that cannot be a key (`id = 2.5`) matches no row
                // of a keyed column; the filter decides that.
                let Some(vals) = vals.into_iter().map(conv).collect::<Option<Vec<_>>>() else {
                    continue;
                };
                eq.entry(c).or_insert(vals);
            }
            TermKind::Range(lo, hi) => {
                let map = |b: Bound<Value>| -> Option<Bound<Value>> {
                    Some(match b {
                        Bound::Included(v) => Bound::Included(conv(v)?),
                        Bound::Excluded(v) => Bound::Excluded(conv(v)?),
                        Bound::Unbounded => Bound::Unbounded,
                    })
                };
                let (Some(lo), Some(hi)) = (map(lo), map(hi)) else {
                    continue;
                };
                let e = ranges
                    .entry(c)
                    .or_insert((Bound::Unbounded, Bound::Unbounded));
                e.0 = tighter(e.0.clone(), lo, true);
                e.1 = tighter(e.1.clone(), hi, false);
            }
        }
    }
    let as_int = |v: &Value| match v {
        Value::Int(i) => Some(*i),
        _ => None,
    };
    if let Some(vals) = eq.get(&table.pk) {
        let mut pks: Vec<i64> = vals.iter().filter_map(as_int).collect();
        pks.sort_unstable();
        pks.dedup();
        return Access::PkPoints(pks);
    }
    for ix in &table.indexes {
        if let Some(vals) = eq.get(&ix.pos) {
            return Access::IndexPoints(ix.clone(), vals.clone());
        }
    }
    if let Some((lo, hi)) = ranges.get(&table.pk) {
        let int_bound = |b: &Bound<Value>| match b {
            Bound::Included(v) => as_int(v).map_or(Bound::Unbounded, Bound::Included),
            Bound::Excluded(v) => as_int(v).map_or(Bound::Unbounded, Bound::Excluded),
            Bound::Unbounded => Bound::Unbounded,
        };
        return Access::PkRange(int_bound(lo), int_bound(hi));
    }
    for ix in &table.indexes {
        if let Some((lo, hi)) = ranges.get(&ix.pos) {
            return Access::IndexRange(ix.clone(), lo.clone(), hi.clone());
        }
    }
    Access::FullScan
}
