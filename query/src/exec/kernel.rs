//! Expressions compiled for vectors: a [`Kernel`] evaluates a
//! [`BoundExpr`] over every row in play of a [`Chunk`] at once, and
//! [`Kernel::select`] narrows a chunk's selection to the rows for which it
//! is true.
//!
//! Semantics are [`BoundExpr::eval_row`]'s exactly (three-valued logic,
//! `and`/`or` that do not evaluate their right side where the left side
//! decides, errors only from rows that are evaluated); the general path
//! below evaluates row by row through it, and typed fast paths must agree
//! with it on every input.

use std::sync::Arc;

use crate::error::Result;
use crate::plan::bound::BoundExpr;
use crate::value::Value;
use crate::vector::{Chunk, Selection, Vector, VectorBuilder};

/// A compiled expression.
#[derive(Debug, Clone)]
pub(crate) struct Kernel {
    expr: BoundExpr,
    /// The input columns the expression reads.
    reads: Vec<usize>,
}

impl Kernel {
    /// Compiles `expr`.
    pub(crate) fn compile(expr: &BoundExpr) -> Result<Kernel> {
        let mut reads = Vec::new();
        expr.columns(&mut reads);
        reads.sort_unstable();
        reads.dedup();
        Ok(Kernel {
            expr: expr.clone(),
            reads,
        })
    }

    /// The expression's value at every row in play of `chunk`: a vector
    /// of `chunk.len` positions whose positions outside the selection are
    /// unspecified. A bare column is the chunk's own vector (no copy).
    pub(crate) fn eval(&self, chunk: &Chunk) -> Result<Arc<Vector>> {
        if let BoundExpr::Column { index, .. } = &self.expr
            && let Some(c) = chunk.columns.get(*index)
        {
            return Ok(c.clone());
        }
        let mut out = VectorBuilder::with_capacity(chunk.len);
        let mut row = vec![Value::Null; chunk.columns.len()];
        let mut next = 0;
        for pos in chunk.positions() {
            // Positions skipped by the selection get placeholders.
            while next < pos {
                out.push_null();
                next += 1;
            }
            self.load(chunk, pos, &mut row)?;
            out.push(&self.expr.eval_row(&row)?);
            next += 1;
        }
        while next < chunk.len {
            out.push_null();
            next += 1;
        }
        Ok(Arc::new(out.finish()))
    }

    /// The rows in play for which the expression is `true` (not false,
    /// not null), in order.
    pub(crate) fn select(&self, chunk: &Chunk) -> Result<Selection> {
        let mut sel = Vec::with_capacity(chunk.count());
        let mut row = vec![Value::Null; chunk.columns.len()];
        for pos in chunk.positions() {
            self.load(chunk, pos, &mut row)?;
            if matches!(self.expr.eval_row(&row)?, Value::Bool(true)) {
                sel.push(pos as u32);
            }
        }
        Ok(sel.into())
    }

    /// Fills the columns the expression reads of row `pos`.
    fn load(&self, chunk: &Chunk, pos: usize, row: &mut [Value]) -> Result<()> {
        for &c in &self.reads {
            if let (Some(v), Some(slot)) = (chunk.columns.get(c), row.get_mut(c)) {
                *slot = v.value(pos)?;
            }
        }
        Ok(())
    }
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
