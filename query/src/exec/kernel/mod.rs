//! Expressions compiled for vectors: a [`Kernel`] evaluates a
//! [`BoundExpr`] over every row in play of a [`Chunk`] at once, and
//! [`Kernel::select`] narrows a chunk's selection to the rows for which it
//! is true.
//!
//! Semantics are [`BoundExpr::eval_row`]'s exactly (three-valued logic,
//! `and`/`or` that do not evaluate their right side where the left side
//! decides, errors only from rows that are evaluated). Compilation turns
//! the expression into a tree of typed kernels ([`compile`]): comparisons,
//! arithmetic, logic, `like`, `in`, `between`, `is null` and json paths
//! work on whole vectors ([`compare`], [`arith`], [`logic`], [`like`],
//! [`in_list`], [`json`]), constants are folded once, and anything without
//! a fast path (mixed types, owned values) goes through the row-by-row
//! reference for that node alone.
//!
//! Errors: a vector kernel raises an error only when some row in play
//! reaches it, as the row path does; but it works column by column, so
//! when two rows would fail differently it may find the later one first.
//! So on any error the chunk is evaluated again row by row, and what the
//! row path gives (its error: same code, same message) is the answer.

mod arith;
mod compare;
mod compile;
mod eval;
mod in_list;
mod json;
mod like;
mod logic;
mod scalar;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::error::Result;
use crate::plan::bound::BoundExpr;
use crate::value::Value;
use crate::vector::{Chunk, Selection, Vector, VectorBuilder};

use compile::Node;
use eval::{Col, Sel, State};

/// A compiled expression.
#[derive(Debug, Clone)]
pub(crate) struct Kernel {
    /// The expression, for the row-by-row path.
    expr: BoundExpr,
    /// The kernel tree.
    node: Node,
    /// The input columns the expression reads.
    reads: Vec<usize>,
}

impl Kernel {
    /// Compiles `expr`. Fails only for a tree nested deeper than any
    /// statement the parser accepts.
    pub(crate) fn compile(expr: &BoundExpr) -> Result<Kernel> {
        let mut reads = Vec::new();
        expr.columns(&mut reads);
        reads.sort_unstable();
        reads.dedup();
        Ok(Kernel {
            expr: expr.clone(),
            node: compile::compile(expr)?,
            reads,
        })
    }

    /// The expression's value at every row in play of `chunk`: a vector
    /// of `chunk.len` positions whose positions outside the selection are
    /// unspecified. A bare column is the chunk's own vector (no copy).
    pub(crate) fn eval(&self, chunk: &Chunk) -> Result<Arc<Vector>> {
        // On an error the row path decides: its error is the reference.
        self.eval_fast(chunk).or_else(|_| self.eval_rows(chunk))
    }

    /// The rows in play for which the expression is `true` (not false,
    /// not null), in order.
    pub(crate) fn select(&self, chunk: &Chunk) -> Result<Selection> {
        self.select_fast(chunk).or_else(|_| self.select_rows(chunk))
    }

    /// [`Kernel::eval`] on the kernel tree, without the row-by-row
    /// second pass that picks the reference error.
    fn eval_fast(&self, chunk: &Chunk) -> Result<Arc<Vector>> {
        let mut st = State::new(chunk);
        let sel = Sel::of(chunk);
        Ok(match eval::eval(&self.node, &mut st, sel)? {
            Col::Vec(v) => v,
            Col::Const(c) => Arc::new(Vector::repeat(&c, chunk.len)),
        })
    }

    /// [`Kernel::select`] on the kernel tree, without the row-by-row
    /// second pass that picks the reference error.
    fn select_fast(&self, chunk: &Chunk) -> Result<Selection> {
        let mut st = State::new(chunk);
        Ok(eval::select(&self.node, &mut st, Sel::of(chunk))?.into())
    }

    /// [`Kernel::eval`] row by row through [`BoundExpr::eval_row`]: the
    /// reference, run when the kernel tree fails.
    fn eval_rows(&self, chunk: &Chunk) -> Result<Arc<Vector>> {
        Ok(Arc::new(eval_rows(
            &self.expr,
            &self.reads,
            chunk,
            Sel::of(chunk),
        )?))
    }

    /// [`Kernel::select`] row by row.
    fn select_rows(&self, chunk: &Chunk) -> Result<Selection> {
        let mut sel = Vec::with_capacity(chunk.count());
        let mut row = vec![Value::Null; chunk.columns.len()];
        for pos in chunk.positions() {
            load(chunk, &self.reads, pos, &mut row)?;
            if matches!(self.expr.eval_row(&row)?, Value::Bool(true)) {
                sel.push(pos as u32);
            }
        }
        Ok(sel.into())
    }
}

/// `expr` evaluated row by row at the positions `sel` of `chunk`; `reads`
/// are the columns it reads. Positions outside `sel` are null.
fn eval_rows(expr: &BoundExpr, reads: &[usize], chunk: &Chunk, sel: Sel<'_>) -> Result<Vector> {
    let mut out = VectorBuilder::with_capacity(chunk.len);
    let mut row = vec![Value::Null; chunk.columns.len()];
    let mut next = 0;
    for pos in sel.iter() {
        // Positions skipped by the selection get placeholders.
        while next < pos {
            out.push_null();
            next += 1;
        }
        load(chunk, reads, pos, &mut row)?;
        out.push(&expr.eval_row(&row)?);
        next += 1;
    }
    while next < chunk.len {
        out.push_null();
        next += 1;
    }
    Ok(out.finish())
}

/// Fills the columns `reads` of row `pos`.
fn load(chunk: &Chunk, reads: &[usize], pos: usize, row: &mut [Value]) -> Result<()> {
    for &c in reads {
        if let (Some(v), Some(slot)) = (chunk.columns.get(c), row.get_mut(c)) {
            *slot = v.value(pos)?;
        }
    }
    Ok(())
}

/// A conjunction of filters compiled for vectors: each narrows the
/// selection the one before left, so later ones see only surviving rows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Predicate {
    conjuncts: Vec<Kernel>,
}

impl Predicate {
    /// Compiles the conjuncts.
    pub(crate) fn compile(conjuncts: &[BoundExpr]) -> Result<Predicate> {
        Ok(Predicate {
            conjuncts: conjuncts
                .iter()
                .map(Kernel::compile)
                .collect::<Result<_>>()?,
        })
    }

    /// Whether there is nothing to test.
    pub(crate) fn is_empty(&self) -> bool {
        self.conjuncts.is_empty()
    }

    /// `chunk` with only the rows for which every conjunct is true in play.
    pub(crate) fn apply(&self, chunk: Chunk) -> Result<Chunk> {
        let mut chunk = chunk;
        for k in &self.conjuncts {
            if chunk.is_empty() {
                break;
            }
            let sel = k.select(&chunk)?;
            chunk.sel = Some(sel);
        }
        Ok(chunk)
    }
}
