//! The logical plan: what a statement computes, as a tree of relational
//! operators over bound expressions, before any choice of how (which
//! access path, which join algorithm, top-k or full sort). The fasty
//! language's binder builds it; a SQL front end can build the same tree
//! and reuse everything after it.

use std::sync::Arc;

use crate::ast::{AggFunc, ColumnType, JoinKind};
use crate::catalog::Table;
use crate::plan::bound::BoundExpr;

/// One output column of a plan node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Field {
    /// The name a user sees (a column name, an alias, an expression's
    /// text).
    pub name: String,
    /// The declared type, when the column comes straight from a table.
    pub ty: Option<ColumnType>,
}

/// An aggregate call of an [`Logical::Aggregate`].
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AggCall {
    /// Which aggregate.
    pub func: AggFunc,
    /// The argument over the aggregate's input; `None` for `count(*)`.
    pub arg: Option<BoundExpr>,
    /// `f(distinct e)`: over the distinct non-null values of the argument.
    pub distinct: bool,
}

/// The output columns of an aggregation: its keys, then its aggregates,
/// named as written (`count(*)`, `sum(amount)`).
pub(crate) fn aggregate_fields(keys: &[BoundExpr], aggs: &[AggCall]) -> Vec<Field> {
    let key = |k: &BoundExpr| Field {
        name: k.to_string(),
        ty: None,
    };
    let agg = |a: &AggCall| Field {
        name: match &a.arg {
            Some(arg) if a.distinct => format!("{}(distinct {arg})", a.func.name()),
            Some(arg) => format!("{}({arg})", a.func.name()),
            None => format!("{}(*)", a.func.name()),
        },
        ty: None,
    };
    keys.iter().map(key).chain(aggs.iter().map(agg)).collect()
}

/// One key of a sort: `order by` puts nulls first ascending (last
/// descending), then bools, numbers, strings, json (`Value::sort_cmp`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SortKey {
    /// The key, over the sort's input.
    pub expr: BoundExpr,
    /// Descending.
    pub desc: bool,
}

/// A relational operator and its inputs. Every expression is bound to the
/// output columns of the node's input (for a join: the left input's
/// columns, then the right input's).
#[derive(Debug, Clone)]
pub(crate) enum Logical {
    /// Rows of a table: the columns at `columns` (table positions), in that
    /// order, of the rows for which every conjunct of `filter` (over those
    /// columns) is true.
    Scan {
        /// The table.
        table: Arc<Table>,
        /// Which columns, by table position.
        columns: Vec<usize>,
        /// Conjuncts over the scan's output.
        filter: Vec<BoundExpr>,
    },
    /// The input rows for which every conjunct is true. The binder
    /// pushes `where` conjuncts into scans and joins where it can; this
    /// node holds the ones over a left join's null-extended rows, and
    /// `having`.
    Filter {
        /// The rows.
        input: Box<Logical>,
        /// Conjuncts over the input.
        predicate: Vec<BoundExpr>,
    },
    /// Equi-join: pairs of rows whose keys are equal (null keys never
    /// match), then `filter` over the joined row; a left join also keeps
    /// each left row that has no pair, with nulls for the right columns
    /// (its `filter` is then empty).
    Join {
        /// The rows before.
        left: Box<Logical>,
        /// The joined table's rows.
        right: Box<Logical>,
        /// The key over the left input.
        left_key: BoundExpr,
        /// The key over the right input.
        right_key: BoundExpr,
        /// Conjuncts over left ++ right.
        filter: Vec<BoundExpr>,
        /// How the right input's own conjuncts (true) and `filter`'s
        /// (false) interleave as written, so a plan that evaluates them
        /// together (a lookup join) keeps the statement's order, and so
        /// which row fails with an error.
        order: Vec<bool>,
        /// Inner or left outer.
        kind: JoinKind,
    },
    /// One row per distinct `keys` (one row in all when `keys` is empty):
    /// the keys, then the aggregates.
    Aggregate {
        /// The rows.
        input: Box<Logical>,
        /// Group-by keys over the input.
        keys: Vec<BoundExpr>,
        /// The aggregates over the input.
        aggs: Vec<AggCall>,
    },
    /// One output column per expression.
    Project {
        /// The rows.
        input: Box<Logical>,
        /// The output expressions over the input, with their names.
        exprs: Vec<(BoundExpr, String)>,
    },
    /// The input in key order (ties in input order).
    Sort {
        /// The rows.
        input: Box<Logical>,
        /// The keys, most significant first.
        keys: Vec<SortKey>,
    },
    /// Drops `offset` rows, then passes at most `limit`.
    Limit {
        /// The rows.
        input: Box<Logical>,
        /// At most this many rows.
        limit: Option<u64>,
        /// After dropping this many.
        offset: u64,
    },
}
