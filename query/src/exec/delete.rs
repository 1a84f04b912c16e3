//! The `delete` operator ([`crate::plan::physical::Physical::Delete`]):
//! deletes each input row and its index entries, all in one batch that
//! the caller writes (holding the table's lock) — see
//! [`crate::exec::index_entries`].

use fasty_wal::WriteBatch;

use crate::catalog::Table;
use crate::error::{Error, ErrorCode, Result};
use crate::exec::index_entries::{IndexEntries, Written};
use crate::exec::{BoxOp, ExecCtx, Node, build};
use crate::limits::{Limits, Meter};
use crate::plan::physical::Physical;
use crate::value::Value;

/// Deletes the rows its input produces: whole rows of the table, every
/// column in table order.
pub(crate) struct Delete<'a> {
    input: BoxOp<'a>,
    table: &'a Table,
    limits: &'a Limits,
}

impl<'a> Delete<'a> {
    /// Deletes the rows of `table` that `input` produces.
    pub(crate) fn new(input: BoxOp<'a>, table: &'a Table, limits: &'a Limits) -> Delete<'a> {
        Delete {
            input,
            table,
            limits,
        }
    }

    /// The operator of a [`Physical::Delete`] node, its input built in
    /// `ctx`: how `Database` runs a `delete`.
    pub(crate) fn from_plan(node: Node<'a>, ctx: &'a ExecCtx<'a>) -> Result<Delete<'a>> {
        let Physical::Delete { table, .. } = node.plan else {
            return Err(not_a(node.plan, "delete"));
        };
        let child = node
            .child(0)
            .ok_or_else(|| not_a(node.plan, "delete with its input"))?;
        Ok(Delete::new(build(child, ctx, None)?, table, ctx.limits))
    }

    /// Consumes the input; returns the batch of deletes and the number of
    /// rows deleted. The batch is held until the caller writes it, so it
    /// is counted against the statement's memory limit.
    pub(crate) fn run(mut self) -> Result<Written> {
        let t = self.table;
        let width = t.columns.len();
        let mut batch = WriteBatch::new();
        let mut entries = IndexEntries::new(t);
        let mut meter = Meter::new(self.limits);
        // Only the primary key and the indexed columns are read.
        let mut row = vec![Value::Null; width];
        let mut count = 0u64;
        while let Some(chunk) = self.input.next()? {
            if chunk.columns.len() != width {
                return Err(whole_rows(t));
            }
            for p in chunk.positions() {
                let Value::Int(pk) = chunk.columns[t.pk].value(p)? else {
                    return Err(Error::corrupt(format!(
                        "a row of table \"{}\" has no int id",
                        t.name
                    )));
                };
                for ix in &t.indexes {
                    row[ix.pos] = chunk.columns[ix.pos].value(p)?;
                }
                meter.tick_holding((t.indexes.len() + 1) * 48)?;
                entries.remove(pk, &row, None, &mut batch);
                count += 1;
            }
        }
        meter.flush()?;
        Ok(Written { batch, count })
    }
}

/// The internal error of a write operator given the wrong node.
pub(crate) fn not_a(node: &Physical, what: &str) -> Error {
    Error::query(
        ErrorCode::Unsupported,
        format!(
            "internal: a {} node is not a {what}",
            crate::exec::name(node)
        ),
    )
}

/// The internal error of a write operator whose input does not produce
/// whole rows of its table.
pub(crate) fn whole_rows(t: &Table) -> Error {
    Error::query(
        ErrorCode::Unsupported,
        format!(
            "internal: the rows to change in table \"{}\" are not whole rows",
            t.name
        ),
    )
}
