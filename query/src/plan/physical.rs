//! The physical plan: how a statement runs, as a tree of the operators in
//! `exec/` (one node per operator instance), with the access path of
//! every scan and the algorithm of every join and aggregate chosen.
//! `explain` prints this tree; `explain analyze` runs it and prints, per
//! node, the rows it produced and the time spent in it.

use std::ops::Bound;
use std::sync::Arc;

use crate::catalog::{Index, Table};
use crate::plan::bound::BoundExpr;
use crate::plan::logical::{AggCall, Field, SortKey, aggregate_fields};
use crate::value::Value;

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

/// How a lookup join finds the joined rows of one input row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lookup {
    /// The key is the joined table's primary key.
    Pk,
    /// The key is looked up in this index of the joined table.
    Index(Arc<Index>),
}

/// A node of the physical plan. Expressions are bound to the node's input
/// columns, as in the logical plan.
#[derive(Debug, Clone)]
pub(crate) enum Physical {
    /// `exec/scan.rs`: rows of `table` found by `access`, the columns at
    /// `columns`, filtered by `filter` inside the scan.
    Scan {
        /// The table.
        table: Arc<Table>,
        /// How its rows are found.
        access: Access,
        /// Which columns, by table position, in output order.
        columns: Vec<usize>,
        /// Conjuncts over the output, applied inside the scan.
        filter: Vec<BoundExpr>,
        /// Whether a full scan may be split over threads.
        parallel: bool,
    },
    /// `exec/filter.rs`.
    Filter {
        /// The rows.
        input: Box<Physical>,
        /// Conjuncts over the input.
        predicate: Vec<BoundExpr>,
    },
    /// `exec/project.rs`.
    Project {
        /// The rows.
        input: Box<Physical>,
        /// Output expressions over the input, with their names.
        exprs: Vec<(BoundExpr, String)>,
    },
    /// `exec/hash_join.rs`: builds a hash table on `build`'s key, probes it
    /// with each `probe` row's key; output is probe ++ build columns (build
    /// ++ probe with `build_left`), filtered by `filter`, or, without
    /// `emit_build`, the probe columns only (each probe row once per match;
    /// `filter` is then empty).
    HashJoin {
        /// The streamed side (the rows before, or the joined table with
        /// `build_left`).
        probe: Box<Physical>,
        /// The side held in memory (the joined table, or the rows before
        /// with `build_left`).
        build: Box<Physical>,
        /// Key over the probe side.
        probe_key: BoundExpr,
        /// Key over the build side.
        build_key: BoundExpr,
        /// Conjuncts over the output columns (probe ++ build, or build ++
        /// probe with `build_left`).
        filter: Vec<BoundExpr>,
        /// Whether the output has the build columns: false when nothing
        /// above reads them (an aggregate over probe columns), so that
        /// the build keeps its keys only.
        emit_build: bool,
        /// Whether the build side is the statement's left input (the rows
        /// before), chosen because it is estimated smaller than the joined
        /// table: the output columns then stay in the statement's order,
        /// build ++ probe.
        build_left: bool,
        /// A left outer join: a probe row without a match is kept once,
        /// with nulls for the build columns (then `emit_build` is true,
        /// `build_left` false and `filter` empty).
        left_outer: bool,
    },
    /// `exec/lookup_join.rs`: for each input row, the rows of `table`
    /// whose primary key (or indexed column) equals `key`; output is input
    /// ++ the table's `columns`, filtered by `filter`.
    LookupJoin {
        /// The rows before.
        input: Box<Physical>,
        /// The joined table.
        table: Arc<Table>,
        /// Primary key or index.
        via: Lookup,
        /// The key over the input.
        key: BoundExpr,
        /// The joined table's columns, by position.
        columns: Vec<usize>,
        /// Conjuncts over input ++ columns.
        filter: Vec<BoundExpr>,
    },
    /// `exec/hash_aggregate.rs`: keys then aggregates, one row per group
    /// (exactly one row when there are no keys).
    HashAggregate {
        /// The rows.
        input: Box<Physical>,
        /// Group-by keys.
        keys: Vec<BoundExpr>,
        /// Aggregates.
        aggs: Vec<AggCall>,
    },
    /// `exec/scan_aggregate.rs`: aggregates without group-by keys over
    /// the rows a scan of `table` would produce (same access, columns and
    /// filter as [`Physical::Scan`]), counted straight from storage's
    /// pieces: a columnar block's rows are counted from its zone maps or
    /// its encoded values where the filter allows, without building
    /// vectors. One row out, as [`Physical::HashAggregate`] gives without
    /// keys. Chosen only for aggregates it computes (`count(*)`).
    ScanAggregate {
        /// The table.
        table: Arc<Table>,
        /// How its rows are found (a full scan or a primary-key range).
        access: Access,
        /// Which columns the filter reads, by table position.
        columns: Vec<usize>,
        /// Conjuncts over those columns.
        filter: Vec<BoundExpr>,
        /// Whether a full scan may be split over threads.
        parallel: bool,
        /// Aggregates.
        aggs: Vec<AggCall>,
    },
    /// `exec/top_k.rs`: the first `limit + offset` rows in key order, kept
    /// in a bounded heap, minus the first `offset`.
    TopK {
        /// The rows.
        input: Box<Physical>,
        /// Sort keys.
        keys: Vec<SortKey>,
        /// Rows returned.
        limit: u64,
        /// Rows skipped first.
        offset: u64,
    },
    /// `exec/sort.rs`: every row, in key order (stable).
    Sort {
        /// The rows.
        input: Box<Physical>,
        /// Sort keys.
        keys: Vec<SortKey>,
    },
    /// `exec/insert.rs`: writes `rows` (whole rows of `table`, in column
    /// order, already checked against its types) and their index entries
    /// in one batch; `upsert` replaces existing rows instead of failing.
    /// Produces one row: the count written.
    // Statements do not build it yet: `insert` runs its operator
    // directly (`Database::write_rows`), outside a plan.
    #[allow(dead_code)]
    Insert {
        /// The table.
        table: Arc<Table>,
        /// The rows.
        rows: Vec<Vec<Value>>,
        /// Replace rows whose key exists.
        upsert: bool,
    },
    /// `exec/update.rs`: for each input row (a whole row of `table`, in
    /// column order), the row with `sets` applied (each over the old row),
    /// and its index entries, in one batch. Produces one row: the count.
    Update {
        /// The rows to change.
        input: Box<Physical>,
        /// The table.
        table: Arc<Table>,
        /// Column positions and their new values.
        sets: Vec<(usize, BoundExpr)>,
    },
    /// `exec/delete.rs`: deletes each input row (a whole row of `table`)
    /// and its index entries, in one batch. Produces one row: the count.
    Delete {
        /// The rows to delete.
        input: Box<Physical>,
        /// The table.
        table: Arc<Table>,
    },
    /// `exec/limit.rs`.
    Limit {
        /// The rows.
        input: Box<Physical>,
        /// Rows returned at most.
        limit: Option<u64>,
        /// Rows skipped first.
        offset: u64,
    },
}

impl Physical {
    /// The node's inputs, in order.
    pub(crate) fn children(&self) -> Vec<&Physical> {
        match self {
            Physical::Scan { .. } | Physical::ScanAggregate { .. } | Physical::Insert { .. } => {
                Vec::new()
            }
            Physical::Filter { input, .. }
            | Physical::Project { input, .. }
            | Physical::LookupJoin { input, .. }
            | Physical::HashAggregate { input, .. }
            | Physical::TopK { input, .. }
            | Physical::Sort { input, .. }
            | Physical::Limit { input, .. }
            | Physical::Update { input, .. }
            | Physical::Delete { input, .. } => vec![input],
            Physical::HashJoin { probe, build, .. } => vec![probe, build],
        }
    }

    /// The node's output columns.
    pub(crate) fn fields(&self) -> Vec<Field> {
        match self {
            Physical::Scan { table, columns, .. } => columns
                .iter()
                .map(|&c| Field {
                    name: table.columns[c].name.clone(),
                    ty: Some(table.columns[c].ty),
                })
                .collect(),
            Physical::Filter { input, .. }
            | Physical::TopK { input, .. }
            | Physical::Sort { input, .. }
            | Physical::Limit { input, .. } => input.fields(),
            Physical::Project { exprs, .. } => exprs
                .iter()
                .map(|(e, name)| Field {
                    name: name.clone(),
                    ty: match e {
                        BoundExpr::Column { ty, .. } => *ty,
                        _ => None,
                    },
                })
                .collect(),
            Physical::HashJoin {
                probe,
                build,
                emit_build,
                build_left,
                ..
            } => match (*emit_build, *build_left) {
                (false, _) => probe.fields(),
                (true, false) => [probe.fields(), build.fields()].concat(),
                (true, true) => [build.fields(), probe.fields()].concat(),
            },
            Physical::LookupJoin {
                input,
                table,
                columns,
                ..
            } => {
                let mut f = input.fields();
                f.extend(columns.iter().map(|&c| Field {
                    name: table.columns[c].name.clone(),
                    ty: Some(table.columns[c].ty),
                }));
                f
            }
            Physical::Insert { .. } | Physical::Update { .. } | Physical::Delete { .. } => {
                vec![Field {
                    name: "affected".into(),
                    ty: Some(crate::ast::ColumnType::Int),
                }]
            }
            Physical::HashAggregate { keys, aggs, .. } => aggregate_fields(keys, aggs),
            Physical::ScanAggregate { aggs, .. } => aggregate_fields(&[], aggs),
        }
    }

    /// Number of nodes in this tree: node ids run from 0 (this node) in
    /// preorder, children left to right, which is how `explain analyze`
    /// finds each node's figures.
    pub(crate) fn size(&self) -> usize {
        1 + self.children().iter().map(|c| c.size()).sum::<usize>()
    }
}

/// One side of a range as text (`>= 3`, `< 9`; empty when unbounded).
fn bound_text(b: &Bound<impl std::fmt::Display>, lower: bool) -> String {
    match (b, lower) {
        (Bound::Included(v), true) => format!(">= {v}"),
        (Bound::Excluded(v), true) => format!("> {v}"),
        (Bound::Included(v), false) => format!("<= {v}"),
        (Bound::Excluded(v), false) => format!("< {v}"),
        (Bound::Unbounded, _) => String::new(),
    }
}

/// A range as text, as `explain` prints it.
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

/// A value as written in a statement (strings quoted).
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
