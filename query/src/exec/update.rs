//! The `update` operator ([`crate::plan::physical::Physical::Update`]):
//! each input row with the assignments applied, its old row key and
//! stale index entries deleted and the new ones put, all in one batch
//! that the caller writes (holding the table's lock) — see
//! [`crate::exec::index_entries`].
//!
//! Rows may change their id, so one row's old key can be another's new
//! one (`set id = id + 1`): the writes are gathered as the final state of
//! each key ([`FinalState`]), where a put wins over a delete. New ids must
//! be unique and must not hit a row the statement does not change.

use std::collections::HashSet;

use fasty_wal::Snapshot;

use crate::catalog::Table;
use crate::constraints;
use crate::error::{Error, ErrorCode, Result};
use crate::exec::delete::{not_a, whole_rows};
use crate::exec::index_entries::{FinalState, IndexEntries, Written};
use crate::exec::insert::duplicate;
use crate::exec::{BoxOp, ExecCtx, Node, build};
use crate::keys;
use crate::limits::{Limits, Meter};
use crate::plan::bound::BoundExpr;
use crate::plan::physical::Physical;
use crate::value::Value;

/// Updates the rows its input produces: whole rows of the table, every
/// column in table order.
pub(crate) struct Update<'a> {
    input: BoxOp<'a>,
    table: &'a Table,
    sets: &'a [(usize, BoundExpr)],
    limits: &'a Limits,
}

impl<'a> Update<'a> {
    /// Applies `sets` (column positions and their new values, each over
    /// the old row) to the rows of `table` that `input` produces.
    pub(crate) fn new(
        input: BoxOp<'a>,
        table: &'a Table,
        sets: &'a [(usize, BoundExpr)],
        limits: &'a Limits,
    ) -> Update<'a> {
        Update {
            input,
            table,
            sets,
            limits,
        }
    }

    /// The operator of a [`Physical::Update`] node, its input built in
    /// `ctx`: how `Database` runs an `update`.
    pub(crate) fn from_plan(node: Node<'a>, ctx: &'a ExecCtx<'a>) -> Result<Update<'a>> {
        let Physical::Update { table, sets, .. } = node.plan else {
            return Err(not_a(node.plan, "update"));
        };
        let child = node
            .child(0)
            .ok_or_else(|| not_a(node.plan, "update with its input"))?;
        Ok(Update::new(
            build(child, ctx, None)?,
            table,
            sets,
            ctx.limits,
        ))
    }

    /// Consumes the input; returns the batch and the number of rows
    /// changed. Errors (in row order: an assignment's, a type mismatch, a
    /// row left without id), then `duplicate_key` for a new id given twice
    /// or one that `snap` holds for a row the statement does not change.
    /// The write set is held until the caller writes it, so it is counted
    /// against the statement's memory limit.
    pub(crate) fn run(mut self, snap: &Snapshot) -> Result<Written> {
        let t = self.table;
        let width = t.columns.len();
        let mut state = FinalState::new();
        let mut entries = IndexEntries::new(t);
        let mut meter = Meter::new(self.limits);
        let mut old_pks = Vec::new();
        let mut new_pks = Vec::new();
        let mut new = Vec::with_capacity(width);
        let rules = t.columns.iter().any(|c| c.not_null);
        let unique = constraints::has_unique(t);
        // With a unique index: every row's final state, checked at the end.
        let mut finals: Vec<(i64, Vec<Value>)> = Vec::new();
        while let Some(chunk) = self.input.next()? {
            if chunk.columns.len() != width {
                return Err(whole_rows(t));
            }
            for old in chunk.to_rows()? {
                let Value::Int(old_pk) = old[t.pk] else {
                    return Err(Error::corrupt(format!(
                        "a row of table \"{}\" has no int id",
                        t.name
                    )));
                };
                new.clone_from(&old);
                for (pos, e) in self.sets {
                    new[*pos] = t.coerce(*pos, e.eval_row(&old)?)?;
                }
                let Value::Int(new_pk) = new[t.pk] else {
                    return Err(Error::query(
                        ErrorCode::MissingPrimaryKey,
                        format!("update would leave a row of \"{}\" without id", t.name),
                    ));
                };
                if rules {
                    constraints::check_not_null(t, &new)?;
                }
                if unique {
                    finals.push((new_pk, new.clone()));
                }
                let bytes = entries.change(Some((old_pk, &old)), Some((new_pk, &new)), &mut state);
                // The keys and values, and the map's nodes around them.
                meter.tick_holding(bytes + (t.indexes.len() + 1) * 96)?;
                old_pks.push(old_pk);
                new_pks.push(new_pk);
            }
        }
        let mut sorted_new = new_pks.clone();
        sorted_new.sort_unstable();
        if let Some(w) = sorted_new.windows(2).find(|w| w[0] == w[1]) {
            return Err(duplicate(t, w[0]));
        }
        let mut sorted_old = old_pks.clone();
        sorted_old.sort_unstable();
        for (&n, &o) in new_pks.iter().zip(&old_pks) {
            if n != o
                && sorted_old.binary_search(&n).is_err()
                && snap
                    .get(&keys::row_key(t.id, n))
                    .map_err(|e| Error::Storage(e.into()))?
                    .is_some()
            {
                return Err(duplicate(t, n));
            }
        }
        if unique {
            let leaving: HashSet<i64> = old_pks.iter().copied().collect();
            let rows = finals.iter().map(|(pk, r)| (*pk, &r[..]));
            constraints::check_unique(t, snap, rows, &leaving)?;
        }
        meter.flush()?;
        Ok(Written {
            batch: state.into_batch(),
            count: old_pks.len() as u64,
        })
    }
}
