//! `filter`: passes on the rows for which every conjunct is true, by
//! narrowing each chunk's selection (no row is copied).

use super::{BoxOp, Operator, Predicate};
use crate::error::Result;
use crate::limits::Limits;
use crate::plan::bound::BoundExpr;
use crate::vector::Chunk;

/// The filter operator.
pub(crate) struct Filter<'a> {
    input: BoxOp<'a>,
    predicate: Predicate,
    limits: &'a Limits,
}

impl<'a> Filter<'a> {
    /// Filters `input` by `conjuncts`.
    pub(crate) fn new(
        input: BoxOp<'a>,
        conjuncts: &[BoundExpr],
        limits: &'a Limits,
    ) -> Result<Filter<'a>> {
        Ok(Filter {
            input,
            predicate: Predicate::compile(conjuncts)?,
            limits,
        })
    }
}

impl Operator for Filter<'_> {
    fn next(&mut self) -> Result<Option<Chunk>> {
        while let Some(chunk) = self.input.next()? {
            self.limits.check()?;
            let chunk = self.predicate.apply(chunk)?;
            if !chunk.is_empty() {
                return Ok(Some(chunk));
            }
        }
        Ok(None)
    }
}
