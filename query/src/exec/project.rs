//! `project`: one output column per expression, evaluated over the rows
//! in play; a bare column passes its vector through.

use super::{BoxOp, Kernel, Operator};
use crate::error::Result;
use crate::plan::bound::BoundExpr;
use crate::vector::Chunk;

/// The project operator.
pub(crate) struct Project<'a> {
    input: BoxOp<'a>,
    exprs: Vec<Kernel>,
}

impl<'a> Project<'a> {
    /// Projects `input` onto `exprs`.
    pub(crate) fn new(input: BoxOp<'a>, exprs: &[(BoundExpr, String)]) -> Result<Project<'a>> {
        Ok(Project {
            input,
            exprs: exprs
                .iter()
                .map(|(e, _)| Kernel::compile(e))
                .collect::<Result<_>>()?,
        })
    }
}

impl Operator for Project<'_> {
    fn next(&mut self) -> Result<Option<Chunk>> {
        let Some(chunk) = self.input.next()? else {
            return Ok(None);
        };
        let columns = self
            .exprs
            .iter()
            .map(|k| k.eval(&chunk))
            .collect::<Result<Vec<_>>>()?;
        Ok(Some(Chunk {
            columns,
            len: chunk.len,
            sel: chunk.sel,
        }))
    }
}
