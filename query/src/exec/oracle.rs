//! The test oracle of the query engine: a row-at-a-time interpreter of
//! physical plans, each node by its documented meaning, over the tables'
//! rows decoded whole straight from storage (in primary-key order). It
//! shares binding and planning with the engine but none of its operators
//! or kernels (expressions run through `BoundExpr::eval_row`): the
//! operators' tests and the planner's tests compare the engine's rows
//! (and error codes) with its.
//!
//! An aggregate over a parallel full scan aggregates each part of the
//! scan on its own and merges the parts in key order, as the engine
//! does, so a statement whose parts fail differently from one pass over
//! all rows (an overflow only when merging) fails the same way here.
//!
//! The memory limit is modelled simply: every row a node must hold to
//! answer (a hash join's build side, a group, a sorted row) is counted
//! with [`crate::limits::row_bytes`], so a statement far over a limit
//! fails here too, and one far under it passes.

use std::cmp::Ordering;
use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;

use crate::ast::{AggFunc, Statement};
use crate::database::Database;
use crate::error::{Error, ErrorCode, Result};
use crate::expr::as_f64;
use crate::limits::{ExecOptions, Limits, row_bytes};
use crate::plan::bind::bind_select;
use crate::plan::bound::BoundExpr;
use crate::plan::choose::{PlanOptions, key_value, physical};
use crate::plan::logical::{AggCall, SortKey};
use crate::plan::physical::{Access, Lookup, Physical};
use crate::value::Value;

/// Every table's rows.
pub(crate) type Tables = HashMap<String, Vec<Vec<Value>>>;

/// Whether every conjunct of `filter` is true on `row`.
fn keep(filter: &[BoundExpr], row: &[Value]) -> Result<bool> {
    for f in filter {
        if !matches!(f.eval_row(row)?, Value::Bool(true)) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether `v` is a non-null value within the bounds.
fn within(v: &Value, lo: &Bound<Value>, hi: &Bound<Value>) -> bool {
    use std::cmp::Ordering::*;
    let above = match lo {
        Bound::Included(b) => v.sort_cmp(b) != Less,
        Bound::Excluded(b) => v.sort_cmp(b) == Greater,
        Bound::Unbounded => true,
    };
    let below = match hi {
        Bound::Included(b) => v.sort_cmp(b) != Greater,
        Bound::Excluded(b) => v.sort_cmp(b) == Less,
        Bound::Unbounded => true,
    };
    !v.is_null() && above && below
}

/// `rows` sorted by `keys` (stable: ties keep their order), each row
/// held against `limits` as a sort holds it.
fn sorted(mut rows: Vec<Vec<Value>>, keys: &[SortKey], limits: &Limits) -> Result<Vec<Vec<Value>>> {
    let mut keyed = Vec::new();
    for r in rows.drain(..) {
        limits.hold(row_bytes(&r))?;
        let k = keys
            .iter()
            .map(|k| k.expr.eval_row(&r))
            .collect::<Result<Vec<_>>>()?;
        keyed.push((k, r));
    }
    keyed.sort_by(|a, b| {
        for ((x, y), k) in a.0.iter().zip(&b.0).zip(keys) {
            let o = x.sort_cmp(y);
            let o = if k.desc { o.reverse() } else { o };
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    Ok(keyed.into_iter().map(|(_, r)| r).collect())
}

/// The rows `limit` and `offset` keep.
fn window(rows: Vec<Vec<Value>>, limit: Option<u64>, offset: u64) -> Vec<Vec<Value>> {
    rows.into_iter()
        .skip(offset as usize)
        .take(limit.map_or(usize::MAX, |l| l as usize))
        .collect()
}

/// Equal join keys: both non-null, non-json and equal as numbers,
/// strings or bools.
fn same_key(a: &Value, b: &Value) -> bool {
    !matches!(a, Value::Null | Value::Json(_))
        && !matches!(b, Value::Null | Value::Json(_))
        && a.sql_cmp(b) == Some(std::cmp::Ordering::Equal)
}

/// The rows of `plan`.
pub(crate) fn run(plan: &Physical, tables: &Tables, limits: &Limits) -> Result<Vec<Vec<Value>>> {
    run_part(plan, tables, limits, None)
}

/// A part of a parallel full scan: the primary keys from `.0` to `.1`.
type Part = (i64, i64);

/// The parts a parallel full scan at the end of `plan`'s first-input
/// chain is split into, as `exec::partitions` documents it: about four
/// per core, of equal key width between the table's first and last key,
/// the last one reaching the last key; `None` when it runs whole.
fn parts_of(plan: &Physical, tables: &Tables) -> Option<Vec<Part>> {
    match plan {
        Physical::Scan {
            table,
            access: Access::FullScan,
            parallel: true,
            ..
        } => {
            let rows = &tables[&table.name];
            let pk = |r: Option<&Vec<Value>>| match r.map(|r| &r[table.pk]) {
                Some(Value::Int(i)) => Some(i128::from(*i)),
                _ => None,
            };
            let (first, last) = (pk(rows.first())?, pk(rows.last())?);
            let n = (rayon::current_num_threads() * 4) as i128;
            let width = ((last - first) / n).max(1);
            let mut parts = Vec::new();
            let mut lo = first;
            while lo <= last {
                let last_part = parts.len() as i128 == n - 1;
                let hi = if last_part {
                    last
                } else {
                    (lo + width - 1).min(last)
                };
                parts.push((lo as i64, hi as i64));
                lo = hi + 1;
            }
            (parts.len() > 1).then_some(parts)
        }
        Physical::Filter { .. }
        | Physical::Project { .. }
        | Physical::LookupJoin { .. }
        | Physical::HashJoin { .. } => parts_of(plan.children()[0], tables),
        _ => None,
    }
}

/// Groups by their keys' order-preserving encoding: the key values and
/// the aggregates' states.
type Groups = BTreeMap<Vec<u8>, (Vec<Value>, Vec<AggState>)>;

/// The groups of `rows`, aggregated one row at a time.
fn aggregate(
    rows: Vec<Vec<Value>>,
    keys: &[BoundExpr],
    aggs: &[AggCall],
    limits: &Limits,
) -> Result<Groups> {
    let mut groups = Groups::new();
    // `f(distinct e)`: (group, aggregate, value) already added.
    let mut seen: std::collections::HashSet<(Vec<u8>, usize, Vec<u8>)> =
        std::collections::HashSet::new();
    if keys.is_empty() {
        groups.insert(
            Vec::new(),
            (
                Vec::new(),
                aggs.iter().map(|a| AggState::new(a.func)).collect(),
            ),
        );
    }
    for r in rows {
        let vals = keys
            .iter()
            .map(|k| k.eval_row(&r))
            .collect::<Result<Vec<_>>>()?;
        let mut enc = Vec::new();
        for v in &vals {
            crate::keys::encode_ordered(v, &mut enc);
        }
        let g = match groups.entry(enc.clone()) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                limits.hold(row_bytes(&vals) + 16 * aggs.len())?;
                v.insert((vals, aggs.iter().map(|a| AggState::new(a.func)).collect()))
            }
        };
        for (i, (a, s)) in aggs.iter().zip(g.1.iter_mut()).enumerate() {
            match &a.arg {
                None => s.add(None)?,
                Some(e) => {
                    let v = e.eval_row(&r)?;
                    if a.distinct && !v.is_null() {
                        let mut ve = Vec::new();
                        crate::keys::encode_ordered(&v, &mut ve);
                        if !seen.insert((enc.clone(), i, ve)) {
                            continue;
                        }
                    }
                    s.add(Some(&v))?
                }
            }
        }
    }
    Ok(groups)
}

/// The rows of `plan` whose driving parallel scan reads only `part`
/// (`None`: all of it).
fn run_part(
    plan: &Physical,
    tables: &Tables,
    limits: &Limits,
    part: Option<Part>,
) -> Result<Vec<Vec<Value>>> {
    // Only the first input continues the driving table's chain.
    let input = |i: usize| {
        let part = if i == 0 { part } else { None };
        run_part(plan.children()[i], tables, limits, part)
    };
    Ok(match plan {
        // The fused aggregate, as the general plan has it: an aggregate
        // over its scan.
        Physical::ScanAggregate {
            table,
            access,
            columns,
            filter,
            parallel,
            aggs,
        } => run_part(
            &Physical::HashAggregate {
                input: Box::new(Physical::Scan {
                    table: table.clone(),
                    access: access.clone(),
                    columns: columns.clone(),
                    filter: filter.clone(),
                    parallel: *parallel,
                }),
                keys: Vec::new(),
                aggs: aggs.clone(),
            },
            tables,
            limits,
            part,
        )?,
        Physical::Scan {
            table,
            access,
            columns,
            filter,
            ..
        } => {
            let mut out = Vec::new();
            for r in &tables[&table.name] {
                let pk = match &r[table.pk] {
                    Value::Int(i) => *i,
                    _ => continue,
                };
                if part.is_some_and(|(lo, hi)| pk < lo || pk > hi) {
                    continue;
                }
                let found = match access {
                    Access::FullScan => true,
                    Access::PkPoints(pks) => pks.contains(&pk),
                    Access::PkRange(lo, hi) => std::ops::RangeBounds::contains(&(*lo, *hi), &pk),
                    Access::IndexPoints(ix, vals) => vals.iter().any(|v| same_key(v, &r[ix.pos])),
                    Access::IndexRange(ix, lo, hi) => within(&r[ix.pos], lo, hi),
                };
                let row: Vec<Value> = columns.iter().map(|&c| r[c].clone()).collect();
                if found && keep(filter, &row)? {
                    out.push(row);
                }
            }
            out
        }
        Physical::Filter { predicate, .. } => {
            let mut out = Vec::new();
            for r in input(0)? {
                if keep(predicate, &r)? {
                    out.push(r);
                }
            }
            out
        }
        Physical::Project { exprs, .. } => input(0)?
            .iter()
            .map(|r| exprs.iter().map(|(e, _)| e.eval_row(r)).collect())
            .collect::<Result<_>>()?,
        Physical::HashJoin {
            probe_key,
            build_key,
            filter,
            emit_build,
            build_left,
            left_outer,
            ..
        } => {
            let width = plan.children()[1].fields().len();
            let build = input(1)?;
            for b in &build {
                limits.hold(row_bytes(b))?;
            }
            let mut out = Vec::new();
            for p in input(0)? {
                let k = probe_key.eval_row(&p)?;
                let mut matched = false;
                for b in &build {
                    if same_key(&k, &build_key.eval_row(b)?) {
                        matched = true;
                        let row: Vec<Value> = if *build_left {
                            b.iter().chain(&p).cloned().collect()
                        } else {
                            p.iter().chain(b).cloned().collect()
                        };
                        if keep(filter, &row)? {
                            out.push(if *emit_build { row } else { p.clone() });
                        }
                    }
                }
                if *left_outer && !matched {
                    let mut row = p.clone();
                    row.resize(p.len() + width, Value::Null);
                    out.push(row);
                }
            }
            out
        }
        Physical::LookupJoin {
            table,
            via,
            key,
            columns,
            filter,
            ..
        } => {
            let pos = match via {
                Lookup::Pk => table.pk,
                Lookup::Index(ix) => ix.pos,
            };
            let mut out = Vec::new();
            for l in input(0)? {
                let k = key.eval_row(&l)?;
                if k.is_null() {
                    continue;
                }
                let Some(k) = key_value(k, table.columns[pos].ty) else {
                    continue;
                };
                for r in &tables[&table.name] {
                    if same_key(&k, &r[pos]) {
                        let row: Vec<Value> = l
                            .iter()
                            .cloned()
                            .chain(columns.iter().map(|&c| r[c].clone()))
                            .collect();
                        if keep(filter, &row)? {
                            out.push(row);
                        }
                    }
                }
            }
            out
        }
        Physical::HashAggregate { keys, aggs, .. } => {
            // A parallel scan's parts aggregate on their own (the first
            // part in key order that fails decides the error), then merge
            // in key order. (Distinct aggregates merge by their values,
            // which the errors cannot tell: they run whole here.)
            let whole = part.is_some() || aggs.iter().any(|a| a.distinct);
            let groups = match parts_of(plan.children()[0], tables).filter(|_| !whole) {
                None => aggregate(input(0)?, keys, aggs, limits)?,
                Some(parts) => {
                    let mut each = Vec::new();
                    for p in parts {
                        let rows = run_part(plan.children()[0], tables, limits, Some(p))?;
                        each.push(aggregate(rows, keys, aggs, limits)?);
                    }
                    let mut each = each.into_iter();
                    let mut all = each.next().unwrap_or_default();
                    for groups in each {
                        for (enc, (vals, states)) in groups {
                            match all.entry(enc) {
                                Entry::Vacant(v) => {
                                    v.insert((vals, states));
                                }
                                Entry::Occupied(mut o) => {
                                    for (s, other) in o.get_mut().1.iter_mut().zip(states) {
                                        s.merge(other)?;
                                    }
                                }
                            }
                        }
                    }
                    all
                }
            };
            groups
                .into_values()
                .map(|(mut k, s)| {
                    k.extend(s.iter().map(AggState::result));
                    k
                })
                .collect()
        }
        Physical::TopK {
            keys,
            limit,
            offset,
            ..
        } => window(sorted(input(0)?, keys, limits)?, Some(*limit), *offset),
        Physical::Sort { keys, .. } => sorted(input(0)?, keys, limits)?,
        Physical::Limit { limit, offset, .. } => window(input(0)?, *limit, *offset),
        other => panic!("not a query node: {other:?}"),
    })
}

/// One aggregate's running state, one input value at a time.
#[derive(Clone, Debug)]
enum AggState {
    /// Rows (or non-null values) so far.
    Count(i64),
    /// An int sum until a float arrives, then a float one; `any`: a
    /// non-null value arrived (else the sum is null).
    Sum {
        int: i64,
        float: f64,
        any: bool,
        is_float: bool,
    },
    /// Sum and count of the non-null values.
    Avg { sum: f64, n: i64 },
    /// The smallest non-null value so far (null before one).
    Min(Value),
    /// The largest non-null value so far (null before one).
    Max(Value),
}

impl AggState {
    /// The state before any input.
    fn new(f: AggFunc) -> AggState {
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
    fn add(&mut self, v: Option<&Value>) -> Result<()> {
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

    /// Folds in the state of the same aggregate over later rows.
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

    /// The aggregate's value.
    fn result(&self) -> Value {
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

/// The error of `sum`/`avg` over a value that is no number.
fn not_number(f: &str, v: &Value) -> Error {
    Error::query(
        ErrorCode::TypeMismatch,
        format!("{f} needs numbers, got {}", v.type_name()),
    )
}

/// Every row of every table of `db`, decoded from the stored bytes.
pub(crate) fn stored_tables(db: &Database) -> Result<Tables> {
    let snap = db.kv().snapshot();
    let mut out = Tables::new();
    for t in db.catalog().tables.values() {
        let start = crate::keys::table_prefix(t.id).to_vec();
        let end = crate::exec::keys::table_end(t.id);
        let mut rows = Vec::new();
        for pair in snap.scan(start..end) {
            let (_, bytes) = pair.map_err(|e| Error::Storage(e.into()))?;
            rows.push(crate::row::decode_row(&bytes, t.columns.len())?);
        }
        out.insert(t.name.clone(), rows);
    }
    Ok(out)
}

/// The oracle's rows of the select `query` over `db`'s stored rows,
/// planned as `opts` says (indexes or not, memory limit), or the error
/// code it fails with.
pub(crate) fn rows_of(
    db: &Database,
    query: &str,
    opts: ExecOptions,
) -> std::result::Result<Vec<Vec<Value>>, ErrorCode> {
    let run = || -> Result<Vec<Vec<Value>>> {
        let Statement::Select(s) = crate::parser::parse(query)? else {
            return Err(Error::query(ErrorCode::Unsupported, "not a select"));
        };
        let bound = bind_select(&db.catalog(), &s)?;
        let plan = physical(
            bound.plan,
            PlanOptions {
                use_indexes: opts.use_indexes,
            },
        )?;
        run(&plan, &stored_tables(db)?, &Limits::new(&opts))
    };
    run().map_err(|e| e.code())
}
