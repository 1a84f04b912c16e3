//! What a statement gives back: its result columns and rows, a count of
//! changed rows, or a plan ([`Output`]); and what a streamed run did
//! ([`Streamed`]).

use crate::ast::ColumnType;
use crate::value::Value;

/// A result column: its name (the expression as written, or its alias)
/// and type, where known before running (`None` for a json path or a
/// null literal).
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// The column's name.
    pub name: String,
    /// Its type, where known.
    pub ty: Option<ColumnType>,
}

/// What a statement returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A query's rows.
    Rows {
        /// The columns, in order.
        columns: Vec<Column>,
        /// The rows, each with one value per column.
        rows: Vec<Vec<Value>>,
    },
    /// Rows changed by `insert`, `upsert`, `update` or `delete`.
    Affected(u64),
    /// DDL done.
    Ok,
    /// `explain`: one line per plan node.
    Plan(String),
}

/// What [`crate::Database::run_into`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Streamed {
    /// A query: its columns and this many rows went to the sink.
    Rows(u64),
    /// Any other statement: its output, as [`crate::Database::run`] gives it; the
    /// sink was not called.
    Other(Output),
}
