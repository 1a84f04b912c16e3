//! The planner: turns a `select` (and the row-finding part of `update` and
//! `delete`) into a [`Plan`] — names resolved against the catalog, the
//! access path of each table chosen, `where` split into conjuncts and each
//! pushed down to the first point where its tables are present, joins given
//! a strategy, and the output stage (projection, sort, top-k, aggregation)
//! compiled. `explain` prints the plan.
//!
//! Access paths, best first: primary-key lookup (`id = c`, `id in (..)`),
//! index lookup (`col = c`, `col in (..)` on an indexed column),
//! primary-key range (`id > c`, `between`, ...), index range, full scan
//! (split into key ranges scanned in parallel). Every pushed-down conjunct
//! is still checked on the rows an access path returns, so an access path
//! only ever narrows what is read, never what matches.
//!
//! Join strategies for `join T on a = b`: primary-key lookup when `b` is
//! T's `id`, index lookup when `b` is indexed, else a hash join that
//! builds on T (its pushed-down filter applied while building).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Bound;
use std::sync::Arc;

use crate::ast::{AggFunc, BinaryOp, ColumnType, Expr, OrderBy, Select};
use crate::catalog::{Catalog, Index, Table};
use crate::error::{Error, ErrorCode, Result};
use crate::expr::{self, Binder, Eval, Resolved, compile, conjuncts, constant, has_aggregate};
use crate::value::Value;

/// The tables of a statement, each with the offset of its columns in the
/// combined row the executor passes along.
pub(crate) struct Scope {
    pub tables: Vec<(Arc<Table>, usize)>,
    pub width: usize,
}

impl Scope {
    pub(crate) fn new(tables: Vec<Arc<Table>>) -> Scope {
        let mut out = Vec::new();
        let mut width = 0;
        for t in tables {
            let n = t.columns.len();
            out.push((t, width));
            width += n;
        }
        Scope { tables: out, width }
    }

    /// Which table (index into `tables`) a name refers to, with the
    /// column position within that table.
    pub(crate) fn locate(&self, parts: &[String]) -> Result<(usize, usize, Vec<String>)> {
        // `table.column[.path]`
        if parts.len() >= 2 {
            for (ti, (t, _)) in self.tables.iter().enumerate() {
                if t.name == parts[0] {
                    if let Some(c) = t.column(&parts[1]) {
                        return Ok((ti, c, parts[2..].to_vec()));
                    }
                    if !self
                        .tables
                        .iter()
                        .any(|(o, _)| o.column(&parts[0]).is_some())
                    {
                        return Err(self.unknown_column(&parts[1], Some(ti)));
                    }
                }
            }
        }
        // `column[.path]`
        let mut found = None;
        for (ti, (t, _)) in self.tables.iter().enumerate() {
            if let Some(c) = t.column(&parts[0]) {
                if found.is_some() {
                    return Err(Error::query(
                        ErrorCode::AmbiguousColumn,
                        format!(
                            "column \"{}\" is ambiguous; qualify it with its table (\"table.{}\")",
                            parts[0], parts[0]
                        ),
                    ));
                }
                found = Some((ti, c));
            }
        }
        match found {
            Some((ti, c)) => Ok((ti, c, parts[1..].to_vec())),
            None => Err(self.unknown_column(&parts[0], None)),
        }
    }

    fn unknown_column(&self, name: &str, table: Option<usize>) -> Error {
        let candidates: Vec<&str> = self
            .tables
            .iter()
            .enumerate()
            .filter(|(i, _)| table.is_none_or(|t| t == *i))
            .flat_map(|(_, (t, _))| t.columns.iter().map(|c| c.name.as_str()))
            .collect();
        let hint = crate::hint::closest(name, candidates.iter().copied())
            .map(|c| format!("did you mean column \"{c}\"?"));
        let tables: Vec<&str> = self.tables.iter().map(|(t, _)| t.name.as_str()).collect();
        Error::hinted(
            ErrorCode::UnknownColumn,
            format!("unknown column \"{name}\" in {}", tables.join(", ")),
            hint,
        )
    }

    /// Tables `e` refers to, as a bit set over `tables`.
    pub(crate) fn tables_of(&self, e: &Expr) -> Result<u64> {
        let mut set = 0u64;
        let mut err = None;
        expr::visit(e, &mut |x| {
            if let Expr::Name(parts) = x {
                match self.locate(parts) {
                    Ok((ti, _, _)) => set |= 1 << ti,
                    Err(e) => err = err.take().or(Some(e)),
                }
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(set),
        }
    }
}

impl Binder for Scope {
    fn column(&self, parts: &[String]) -> Result<Resolved> {
        let (ti, c, path) = self.locate(parts)?;
        let (t, off) = &self.tables[ti];
        Ok(Resolved {
            index: off + c,
            ty: t.columns[c].ty,
            path,
        })
    }
}

/// How a scan finds a table's rows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Access {
    /// Point lookups of these primary keys (sorted, unique).
    PkPoints(Vec<i64>),
    /// A primary-key range.
    PkRange(Bound<i64>, Bound<i64>),
    /// Index entries equal to one of these values.
    IndexPoints(Arc<Index>, Vec<Value>),
    /// Index entries within a range (nulls never included).
    IndexRange(Arc<Index>, Bound<Value>, Bound<Value>),
    /// Every row.
    FullScan,
}

/// One table's part of a plan: how to find its rows, which columns to
/// decode, and the filter pushed down to it.
pub(crate) struct Source {
    pub table: Arc<Table>,
    /// Offset of its columns in the combined row.
    pub offset: usize,
    pub access: Access,
    /// Column positions (within the table) to decode, ascending.
    pub columns: Vec<usize>,
    /// Columns decoded only for rows that reach the output (a top-k
    /// decodes its sort key for every row, the rest for the few that enter
    /// the heap). Empty unless the plan is a single-table top-k.
    pub lazy: Vec<usize>,
    /// The conjuncts first evaluable at this table (they need it and
    /// possibly tables before it), compiled over the combined row.
    pub filter: Vec<Eval>,
    /// Per conjunct: whether it needs this table alone (a hash join's
    /// build side applies those while building).
    pub own: Vec<bool>,
    /// The conjuncts themselves, printed only by `explain`.
    pub filter_terms: Vec<Expr>,
}

/// How a joined table meets the rows before it.
pub(crate) enum Strategy {
    /// Look the key up as the joined table's primary key.
    PkLookup,
    /// Look the key up in an index of the joined table.
    IndexLookup(Arc<Index>),
    /// Build a hash table over the joined table's (filtered) rows.
    Hash,
}

/// One `join` step.
pub(crate) struct JoinStep {
    pub source: Source,
    /// The key from the rows before (compiled over the combined row).
    pub left_key: Eval,
    /// The joined table's key column (position within that table).
    pub right_column: usize,
    pub strategy: Strategy,
    /// `on` as written, for `explain`.
    pub on: Expr,
}

/// What happens to the rows that pass every filter.
pub(crate) enum Output {
    /// Project each row (`*` or expressions), optionally sorted or top-k.
    Rows {
        /// The output expressions; empty for `*` (the whole combined row).
        items: Vec<Eval>,
        order: Vec<(Eval, bool)>,
    },
    /// Group and aggregate, then project over the group rows.
    Aggregate(Aggregation),
}

/// A compiled aggregation.
pub(crate) struct Aggregation {
    /// Group-by keys, over the combined row.
    pub keys: Vec<Eval>,
    /// The aggregates, over the combined row (`None`: `count(*)`).
    pub aggs: Vec<(AggFunc, Option<Eval>)>,
    /// Output expressions over a group row `[keys.., aggregates..]`.
    pub items: Vec<Eval>,
    /// `order by` over the group row.
    pub order: Vec<(Eval, bool)>,
    /// Text of keys and aggregates, for `explain`.
    pub text: String,
}

/// A planned `select` (or the row-finding half of `update`/`delete`).
pub(crate) struct Plan {
    pub scope: Scope,
    pub driver: Source,
    pub joins: Vec<JoinStep>,
    pub output: Output,
    /// Output column names and types.
    pub columns: Columns,
    pub limit: Option<u64>,
    pub offset: u64,
    /// Run the driver's full scan split over threads.
    pub parallel: bool,
}

/// Planner switches, for tests and diagnosis.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanOptions {
    /// Use primary-key and index access paths (false: always full scans,
    /// which must return the same rows).
    pub use_indexes: bool,
}

/// Plans a `select`.
pub(crate) fn plan_select(cat: &Catalog, s: &Select, opts: PlanOptions) -> Result<Plan> {
    let mut tables = vec![cat.table(&s.from)?.clone()];
    for j in &s.joins {
        tables.push(cat.table(&j.table)?.clone());
    }
    if tables.len() > 64 {
        return Err(Error::query(
            ErrorCode::TooComplex,
            "more than 64 tables in one statement (too complex)",
        ));
    }
    let scope = Scope::new(tables);

    // Which conjunct goes where: to the earliest step where all its
    // tables are present.
    let mut terms = Vec::new();
    if let Some(w) = &s.filter {
        if has_aggregate(w) {
            return Err(Error::query(
                ErrorCode::Unsupported,
                "aggregates are not allowed in where",
            ));
        }
        conjuncts(w, &mut terms);
    }
    let mut per_step: Vec<Vec<Expr>> = vec![Vec::new(); scope.tables.len()];
    for t in terms {
        let set = scope.tables_of(&t)?;
        let step = (64 - set.leading_zeros()).saturating_sub(1) as usize;
        per_step[step].push(t);
    }

    // Columns each table must decode.
    let mut needed: Vec<Vec<bool>> = scope
        .tables
        .iter()
        .map(|(t, _)| vec![false; t.columns.len()])
        .collect();
    let star = s.items.is_empty();
    let mut mark = |e: &Expr| -> Result<()> {
        let mut err = None;
        expr::visit(e, &mut |x| {
            if let Expr::Name(parts) = x {
                match scope.locate(parts) {
                    Ok((ti, c, _)) => needed[ti][c] = true,
                    Err(e) => err = err.take().or(Some(e)),
                }
            }
        });
        err.map_or(Ok(()), Err)
    };
    for e in s.items.iter().map(|i| &i.expr) {
        mark(e)?;
    }
    for e in per_step.iter().flatten() {
        mark(e)?;
    }
    for e in &s.group_by {
        mark(e)?;
    }
    for o in &s.order_by {
        // An order key may name an output alias instead of a column.
        if !matches!(&o.expr, Expr::Name(p) if p.len() == 1 && s.items.iter().any(|i| i.alias.as_deref() == Some(&p[0])))
        {
            mark(&o.expr)?;
        }
    }
    let mut join_keys = Vec::new();
    for (k, j) in s.joins.iter().enumerate() {
        let (l, r) = join_columns(&scope, &j.on, k + 1)?;
        mark(&l)?;
        mark(&r)?;
        join_keys.push((l, r));
    }
    if star {
        for n in &mut needed {
            n.iter_mut().for_each(|b| *b = true);
        }
    }

    let mut sources = Vec::new();
    for (ti, terms) in per_step.iter().enumerate() {
        let (table, offset) = scope.tables[ti].clone();
        let columns: Vec<usize> = (0..table.columns.len())
            .filter(|&c| needed[ti][c])
            .collect();
        // Access paths use only the terms on this table alone.
        let own: Vec<&Expr> = terms
            .iter()
            .filter(|t| scope.tables_of(t).is_ok_and(|set| set == 1 << ti))
            .collect();
        let access = if opts.use_indexes {
            choose_access(&scope, ti, &own)
        } else {
            Access::FullScan
        };
        // Terms a primary-key access enforces exactly need no re-check on
        // the driving table (joined tables may switch to lookups, which
        // drop their access path, so they keep every term).
        let terms: Vec<Expr> = if ti == 0 {
            let mut first_eq = true;
            terms
                .iter()
                .filter(|t| !enforced_by_pk(&scope, ti, &access, t, &mut first_eq))
                .cloned()
                .collect()
        } else {
            terms.clone()
        };
        sources.push(Source {
            table,
            offset,
            access,
            columns,
            lazy: Vec::new(),
            filter: terms
                .iter()
                .map(|t| compile(t, &scope))
                .collect::<Result<_>>()?,
            own: terms
                .iter()
                .map(|t| scope.tables_of(t).is_ok_and(|set| set & !(1 << ti) == 0))
                .collect(),
            filter_terms: terms,
        });
    }
    let mut sources = sources.into_iter();
    let Some(driver) = sources.next() else {
        return Err(Error::query(
            ErrorCode::Unsupported,
            "a select needs a table",
        ));
    };
    // Lookup joins pay a point read per driving row; a hash join pays one
    // scan of the joined table. Without statistics: look up when the
    // driving rows are few (found by key) or a limit without sorting or
    // grouping stops early; otherwise hash.
    let few_driving_rows = matches!(driver.access, Access::PkPoints(_) | Access::IndexPoints(..))
        || (s.limit.is_some()
            && s.order_by.is_empty()
            && s.group_by.is_empty()
            && !s.items.iter().any(|i| has_aggregate(&i.expr)));
    let mut joins = Vec::new();
    for ((mut source, (l, r)), j) in sources.zip(join_keys).zip(&s.joins) {
        let Expr::Name(rp) = &r else {
            return Err(Error::query(
                ErrorCode::Unsupported,
                "a join condition must be an equality of two columns",
            ));
        };
        let (_, right_column, _) = scope.locate(rp)?;
        let strategy = if !opts.use_indexes || !few_driving_rows {
            Strategy::Hash
        } else if right_column == source.table.pk {
            Strategy::PkLookup
        } else if let Some(ix) = source.table.indexes.iter().find(|i| i.pos == right_column) {
            Strategy::IndexLookup(ix.clone())
        } else {
            Strategy::Hash
        };
        if !matches!(strategy, Strategy::Hash) {
            // The lookup is the access path; its own terms stay filters.
            source.access = Access::FullScan;
        }
        joins.push(JoinStep {
            left_key: compile(&l, &scope)?,
            right_column,
            strategy,
            on: j.on.clone(),
            source,
        });
    }

    let (output, columns) = plan_output(&scope, s)?;
    let mut driver = driver;
    // A single-table top-k: decode only what filters and sort keys need,
    // the rest once a row makes it into the heap.
    if joins.is_empty()
        && s.limit.is_some()
        && !s.order_by.is_empty()
        && s.group_by.is_empty()
        && matches!(output, Output::Rows { .. })
    {
        let mut eager = vec![false; driver.table.columns.len()];
        for e in per_step[0].iter().chain(s.order_by.iter().map(|o| &o.expr)) {
            expr::visit(e, &mut |x| {
                if let Expr::Name(parts) = x
                    && let Ok((0, c, _)) = scope.locate(parts)
                {
                    eager[c] = true;
                }
            });
        }
        // Order keys naming an output alias resolve through the item.
        for o in &s.order_by {
            if let Expr::Name(p) = &o.expr
                && let Some(i) = s.items.iter().find(|i| i.alias.as_deref() == Some(&p[0]))
            {
                expr::visit(&i.expr, &mut |x| {
                    if let Expr::Name(parts) = x
                        && let Ok((0, c, _)) = scope.locate(parts)
                    {
                        eager[c] = true;
                    }
                });
            }
        }
        let (now, later): (Vec<usize>, Vec<usize>) =
            driver.columns.iter().partition(|&&c| eager[c]);
        driver.columns = now;
        driver.lazy = later;
    }
    let parallel = matches!(driver.access, Access::FullScan)
        && (!matches!(&output, Output::Rows { order, .. } if order.is_empty())
            || s.limit.is_none());
    Ok(Plan {
        scope,
        driver,
        joins,
        output,
        columns,
        limit: s.limit,
        offset: s.offset.unwrap_or(0),
        parallel,
    })
}

/// The two sides of `join T on a = b` where `b` belongs to the table at
/// `step` and `a` to the ones before it.
pub(crate) fn join_columns(scope: &Scope, on: &Expr, step: usize) -> Result<(Expr, Expr)> {
    let unsupported = || {
        Error::query(
            ErrorCode::Unsupported,
            format!(
                "join condition \"{on}\" must be an equality of a column of the joined table and one of the tables before it"
            ),
        )
    };
    let Expr::Binary {
        op: BinaryOp::Eq,
        left,
        right,
    } = on
    else {
        return Err(unsupported());
    };
    let (ls, rs) = (scope.tables_of(left)?, scope.tables_of(right)?);
    let new = 1u64 << step;
    let before = new - 1;
    let is_col = |e: &Expr| matches!(e, Expr::Name(_));
    if rs == new && ls != 0 && ls & !before == 0 && is_col(right) {
        Ok(((**left).clone(), (**right).clone()))
    } else if ls == new && rs != 0 && rs & !before == 0 && is_col(left) {
        Ok(((**right).clone(), (**left).clone()))
    } else {
        Err(unsupported())
    }
}

/// A sargable term: `col op constant` on a plain column of table `ti`.
fn term_bounds(scope: &Scope, ti: usize, e: &Expr) -> Option<(usize, TermKind)> {
    let col = |x: &Expr| -> Option<usize> {
        let Expr::Name(parts) = x else { return None };
        let (t, c, path) = scope.locate(parts).ok()?;
        (t == ti && path.is_empty()).then_some(c)
    };
    match e {
        Expr::Binary { op, left, right } => {
            let (c, v, op) = match (col(left), constant(right), col(right), constant(left)) {
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
        Expr::Between {
            expr,
            low,
            high,
            negated: false,
        } => {
            let c = col(expr)?;
            let (lo, hi) = (constant(low)?, constant(high)?);
            if lo.is_null() || hi.is_null() {
                return None;
            }
            Some((c, TermKind::Range(Bound::Included(lo), Bound::Included(hi))))
        }
        Expr::InList {
            expr,
            list,
            negated: false,
        } => {
            let c = col(expr)?;
            let vals: Option<Vec<Value>> = list
                .iter()
                .map(|x| constant(x).filter(|v| !v.is_null()))
                .collect();
            Some((c, TermKind::Eq(vals?)))
        }
        _ => None,
    }
}

enum TermKind {
    Eq(Vec<Value>),
    Range(Bound<Value>, Bound<Value>),
}

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
/// by [`choose_access`]) already guarantees: an int equality or `in`
/// (only the first one, which the lookup uses) for points, every int
/// range term for a range.
fn enforced_by_pk(
    scope: &Scope,
    ti: usize,
    access: &Access,
    term: &Expr,
    first_eq: &mut bool,
) -> bool {
    let table = &scope.tables[ti].0;
    if scope.tables_of(term).ok() != Some(1 << ti) {
        return false;
    }
    let Some((c, kind)) = term_bounds(scope, ti, term) else {
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

/// Picks the access path of table `ti` from its own conjuncts.
fn choose_access(scope: &Scope, ti: usize, terms: &[&Expr]) -> Access {
    let table = &scope.tables[ti].0;
    let mut eq: HashMap<usize, Vec<Value>> = HashMap::new();
    let mut ranges: HashMap<usize, (Bound<Value>, Bound<Value>)> = HashMap::new();
    for t in terms {
        let Some((c, kind)) = term_bounds(scope, ti, t) else {
            continue;
        };
        let ty = table.columns[c].ty;
        let conv = |v: Value| key_value(v, ty);
        match kind {
            TermKind::Eq(vals) => {
                // A value that cannot be a key (`id = 2.5`) matches no row
                // of a keyed column, but leave that to the filter.
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

/// Resolves names over a group row `[group keys.., aggregates..]`.
pub(crate) struct GroupBinder<'a> {
    pub scope: &'a Scope,
    pub keys: &'a [Expr],
    pub aggs: &'a [Expr],
}

impl Binder for GroupBinder<'_> {
    fn column(&self, parts: &[String]) -> Result<Resolved> {
        // A bare column must be a group key (checked by `precomputed`
        // before we get here); anything else is an error.
        self.scope.locate(parts)?;
        Err(Error::query(
            ErrorCode::Unsupported,
            format!(
                "column \"{}\" must appear in group by or inside an aggregate",
                parts.join(".")
            ),
        ))
    }

    fn precomputed(&self, e: &Expr) -> Option<usize> {
        if let Some(i) = self.keys.iter().position(|k| same_expr(self.scope, k, e)) {
            return Some(i);
        }
        self.aggs
            .iter()
            .position(|a| same_expr(self.scope, a, e))
            .map(|i| self.keys.len() + i)
    }
}

/// Whether two expressions mean the same (names compared after resolution,
/// so `age` and `users.age` match).
pub(crate) fn same_expr(scope: &Scope, a: &Expr, b: &Expr) -> bool {
    match (a, b) {
        (Expr::Name(x), Expr::Name(y)) => match (scope.locate(x), scope.locate(y)) {
            (Ok(p), Ok(q)) => p == q,
            _ => x == y,
        },
        (Expr::Aggregate { func: f, arg: x }, Expr::Aggregate { func: g, arg: y }) => {
            f == g
                && match (x, y) {
                    (None, None) => true,
                    (Some(x), Some(y)) => same_expr(scope, x, y),
                    _ => false,
                }
        }
        _ => a == b,
    }
}

/// Output column names and types.
pub(crate) type Columns = Vec<(String, Option<ColumnType>)>;

/// The `order by` keys, an output alias replaced by its expression.
pub(crate) fn order_by_exprs(s: &Select) -> Vec<OrderBy> {
    s.order_by
        .iter()
        .map(|o| {
            let e = match &o.expr {
                Expr::Name(p) if p.len() == 1 => s
                    .items
                    .iter()
                    .find(|i| i.alias.as_deref() == Some(&p[0]))
                    .map_or_else(|| o.expr.clone(), |i| i.expr.clone()),
                e => e.clone(),
            };
            OrderBy {
                expr: e,
                desc: o.desc,
            }
        })
        .collect()
}

/// Output column names made distinct, so a result row is a JSON object
/// without repeated keys: the first column of a name keeps it, a later
/// one becomes `name_1` (`name_2`, ...), skipping any name another column
/// has or was given. `select name, name, name_1` gives `name`, `name_2`,
/// `name_1`.
pub(crate) fn distinct_names(names: Vec<String>) -> Vec<String> {
    let mut taken: std::collections::HashSet<String> = names.iter().cloned().collect();
    let mut seen = std::collections::HashSet::new();
    // The next suffix to try per name, so n copies of a name cost O(n),
    // not O(n²).
    let mut next: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    names
        .into_iter()
        .map(|name| {
            if seen.insert(name.clone()) {
                return name;
            }
            let n = next.entry(name.clone()).or_insert(1);
            loop {
                let candidate = format!("{name}_{n}");
                *n += 1;
                if !taken.contains(&candidate) {
                    taken.insert(candidate.clone());
                    seen.insert(candidate.clone());
                    return candidate;
                }
            }
        })
        .collect()
}

fn plan_output(scope: &Scope, s: &Select) -> Result<(Output, Columns)> {
    let aggregate = !s.group_by.is_empty()
        || s.items.iter().any(|i| has_aggregate(&i.expr))
        || s.order_by.iter().any(|o| has_aggregate(&o.expr));
    // `select *`: every column of every table, in order; the combined row
    // is the output row, so there is nothing to compile.
    if s.items.is_empty() && !aggregate {
        let qualify = scope.tables.len() > 1;
        let columns = scope
            .tables
            .iter()
            .flat_map(|(t, _)| {
                t.columns.iter().map(move |c| {
                    let name = if qualify {
                        format!("{}.{}", t.name, c.name)
                    } else {
                        c.name.clone()
                    };
                    (name, Some(c.ty))
                })
            })
            .collect();
        let order = order_by_exprs(s)
            .iter()
            .map(|o| Ok((compile(&o.expr, scope)?, o.desc)))
            .collect::<Result<_>>()?;
        return Ok((
            Output::Rows {
                items: Vec::new(),
                order,
            },
            columns,
        ));
    }
    let names = distinct_names(s.items.iter().map(|i| i.name()).collect());
    let star_items: Vec<(String, Expr)> = names
        .into_iter()
        .zip(s.items.iter().map(|i| i.expr.clone()))
        .collect();
    if aggregate && s.items.is_empty() {
        return Err(Error::query(
            ErrorCode::Unsupported,
            "select * cannot be combined with group by or aggregates",
        ));
    }
    let order_exprs = order_by_exprs(s);

    if !aggregate {
        let columns = star_items
            .iter()
            .map(|(n, e)| (n.clone(), expr::type_of(e, scope)))
            .collect();
        let items = star_items
            .iter()
            .map(|(_, e)| compile(e, scope))
            .collect::<Result<_>>()?;
        let order = order_exprs
            .iter()
            .map(|o| Ok((compile(&o.expr, scope)?, o.desc)))
            .collect::<Result<_>>()?;
        return Ok((Output::Rows { items, order }, columns));
    }

    // Distinct aggregates used anywhere in the output.
    let mut aggs: Vec<Expr> = Vec::new();
    for e in star_items
        .iter()
        .map(|(_, e)| e)
        .chain(order_exprs.iter().map(|o| &o.expr))
    {
        let mut err = None;
        expr::visit(e, &mut |x| {
            if let Expr::Aggregate { arg, .. } = x {
                if arg.as_deref().is_some_and(has_aggregate) {
                    err = Some(Error::query(
                        ErrorCode::Unsupported,
                        "an aggregate cannot contain another aggregate",
                    ));
                }
                if !aggs.iter().any(|a| same_expr(scope, a, x)) {
                    aggs.push(x.clone());
                }
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
    }
    let keys: Vec<Eval> = s
        .group_by
        .iter()
        .map(|e| {
            if has_aggregate(e) {
                Err(Error::query(
                    ErrorCode::Unsupported,
                    "group by cannot use an aggregate",
                ))
            } else {
                compile(e, scope)
            }
        })
        .collect::<Result<_>>()?;
    let mut compiled_aggs = Vec::new();
    for a in &aggs {
        let Expr::Aggregate { func, arg } = a else {
            continue;
        };
        let arg = match arg {
            Some(x) => Some(compile(x, scope)?),
            None => None,
        };
        compiled_aggs.push((*func, arg));
    }
    let binder = GroupBinder {
        scope,
        keys: &s.group_by,
        aggs: &aggs,
    };
    let columns = star_items
        .iter()
        .map(|(n, e)| (n.clone(), expr::type_of(e, scope)))
        .collect();
    let items = star_items
        .iter()
        .map(|(_, e)| compile(e, &binder))
        .collect::<Result<_>>()?;
    let order = order_exprs
        .iter()
        .map(|o| Ok((compile(&o.expr, &binder)?, o.desc)))
        .collect::<Result<_>>()?;
    let mut text = String::new();
    if !s.group_by.is_empty() {
        let ks: Vec<String> = s.group_by.iter().map(ToString::to_string).collect();
        let _ = write!(text, "group by {}; ", ks.join(", "));
    }
    let as_: Vec<String> = aggs.iter().map(ToString::to_string).collect();
    let _ = write!(text, "aggregates {}", as_.join(", "));
    Ok((
        Output::Aggregate(Aggregation {
            keys,
            aggs: compiled_aggs,
            items,
            order,
            text,
        }),
        columns,
    ))
}

fn bound_text(b: &Bound<impl std::fmt::Display>, lower: bool) -> String {
    match (b, lower) {
        (Bound::Included(v), true) => format!(">= {v}"),
        (Bound::Excluded(v), true) => format!("> {v}"),
        (Bound::Included(v), false) => format!("<= {v}"),
        (Bound::Excluded(v), false) => format!("< {v}"),
        (Bound::Unbounded, _) => String::new(),
    }
}

fn range_text(lo: &Bound<impl std::fmt::Display>, hi: &Bound<impl std::fmt::Display>) -> String {
    let parts: Vec<String> = [bound_text(lo, true), bound_text(hi, false)]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    if parts.is_empty() {
        "all non-null".into()
    } else {
        parts.join(" and ")
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let mut out = String::new();
            let _ = crate::ast::write_string(&mut out, s);
            out
        }
        v => v.to_string(),
    }
}

impl Access {
    /// One line describing the access path of `table`.
    pub(crate) fn describe(&self, table: &Table, parallel: bool) -> String {
        let t = &table.name;
        match self {
            Access::PkPoints(pks) => {
                let list: Vec<String> = pks.iter().map(ToString::to_string).collect();
                format!("primary-key lookup on {t} (id in [{}])", list.join(", "))
            }
            Access::PkRange(lo, hi) => {
                format!("primary-key range on {t} (id {})", range_text(lo, hi))
            }
            Access::IndexPoints(ix, vals) => {
                let list: Vec<String> = vals.iter().map(value_text).collect();
                format!(
                    "index lookup on {t} using {} ({} in [{}])",
                    ix.name,
                    ix.column,
                    list.join(", ")
                )
            }
            Access::IndexRange(ix, lo, hi) => {
                let f = |b: &Bound<Value>| match b {
                    Bound::Included(v) => Bound::Included(value_text(v)),
                    Bound::Excluded(v) => Bound::Excluded(value_text(v)),
                    Bound::Unbounded => Bound::Unbounded,
                };
                format!(
                    "index range on {t} using {} ({} {})",
                    ix.name,
                    ix.column,
                    range_text(&f(lo), &f(hi))
                )
            }
            Access::FullScan if parallel => format!("full scan on {t} (parallel key ranges)"),
            Access::FullScan => format!("full scan on {t}"),
        }
    }
}

impl Plan {
    /// `explain`: one line per plan node, children indented under their
    /// parent, the access path at the bottom.
    pub(crate) fn explain(&self, s: &Select) -> String {
        let mut lines: Vec<String> = Vec::new();
        if self.limit.is_some() || self.offset > 0 {
            let mut l = String::from("limit");
            if let Some(n) = self.limit {
                let _ = write!(l, " {n}");
            }
            if self.offset > 0 {
                let _ = write!(l, " offset {}", self.offset);
            }
            lines.push(l);
        }
        let order_text = || {
            s.order_by
                .iter()
                .map(|o| format!("{}{}", o.expr, if o.desc { " desc" } else { "" }))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let names: Vec<&str> = self.columns.iter().map(|(n, _)| n.as_str()).collect();
        match &self.output {
            Output::Rows { order, .. } => {
                if !order.is_empty() {
                    match self.limit {
                        Some(n) => lines.push(format!(
                            "top-k {} by {} (heap)",
                            n + self.offset,
                            order_text()
                        )),
                        None => lines.push(format!("sort by {}", order_text())),
                    }
                }
                if s.items.is_empty() {
                    lines.push("project *".into());
                } else {
                    lines.push(format!("project {}", names.join(", ")));
                }
            }
            Output::Aggregate(a) => {
                if !a.order.is_empty() {
                    lines.push(format!("sort by {}", order_text()));
                }
                lines.push(format!("project {}", names.join(", ")));
                lines.push(format!("hash aggregate: {}", a.text));
            }
        }
        let mut out = String::new();
        let mut depth = 0;
        for l in lines {
            let _ = writeln!(out, "{}{l}", "  ".repeat(depth));
            depth += 1;
        }
        // Joins, innermost last: each join node's children are the rows
        // before it and the joined table.
        self.explain_joins(&mut out, depth, self.joins.len());
        out.truncate(out.trim_end().len());
        out
    }

    /// The row-finding part of the plan alone (for `update`/`delete`),
    /// indented by `depth` levels.
    pub(crate) fn explain_access(&self, depth: usize) -> String {
        let mut out = String::new();
        self.explain_joins(&mut out, depth, self.joins.len());
        out.truncate(out.trim_end().len());
        out
    }

    fn explain_joins(&self, out: &mut String, depth: usize, n: usize) {
        let pad = "  ".repeat(depth);
        if n == 0 {
            explain_source(out, depth, &self.driver, self.parallel);
            return;
        }
        let j = &self.joins[n - 1];
        let what = match &j.strategy {
            Strategy::PkLookup => format!(
                "nested-loop join {} on {} (primary-key lookup)",
                j.source.table.name, j.on
            ),
            Strategy::IndexLookup(ix) => format!(
                "nested-loop join {} on {} (index lookup using {})",
                j.source.table.name, j.on, ix.name
            ),
            Strategy::Hash => format!(
                "hash join {} on {} (build on {})",
                j.source.table.name, j.on, j.source.table.name
            ),
        };
        let _ = writeln!(out, "{pad}{what}");
        if !j.source.filter_terms.is_empty() {
            let _ = writeln!(out, "{pad}  filter: {}", and_text(&j.source.filter_terms));
        }
        self.explain_joins(out, depth + 1, n - 1);
        match &j.strategy {
            Strategy::Hash => explain_source_access(out, depth + 1, &j.source, false),
            Strategy::PkLookup => {
                let _ = writeln!(
                    out,
                    "{pad}  primary-key lookup on {} per row",
                    j.source.table.name
                );
            }
            Strategy::IndexLookup(ix) => {
                let _ = writeln!(
                    out,
                    "{pad}  index lookup on {} using {} per row",
                    j.source.table.name, ix.name
                );
            }
        }
    }
}

/// Conjuncts as text, for `explain`.
fn and_text(terms: &[Expr]) -> String {
    terms
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" and ")
}

fn explain_source(out: &mut String, depth: usize, s: &Source, parallel: bool) {
    let pad = "  ".repeat(depth);
    if !s.filter_terms.is_empty() {
        let _ = writeln!(out, "{pad}filter: {}", and_text(&s.filter_terms));
        explain_source_access(out, depth + 1, s, parallel);
    } else {
        explain_source_access(out, depth, s, parallel);
    }
}

fn explain_source_access(out: &mut String, depth: usize, s: &Source, parallel: bool) {
    let _ = writeln!(
        out,
        "{}{}",
        "  ".repeat(depth),
        s.access.describe(&s.table, parallel)
    );
}
