//! A source of rows already in memory, as chunks: lets the write
//! operators' tests feed them rows no stored table could hold (wrong
//! types, short rows) without a scan. Test-only.

use std::sync::Arc;

use crate::error::Result;
use crate::exec::Operator;
use crate::limits::Limits;
use crate::value::Value;
use crate::vector::{Chunk, VECTOR_SIZE, VectorBuilder};

/// Hands out owned rows of `width` columns, [`VECTOR_SIZE`] at a time, in
/// the order given.
pub(crate) struct RowSource<'a> {
    rows: std::vec::IntoIter<Vec<Value>>,
    width: usize,
    limits: &'a Limits,
}

impl<'a> RowSource<'a> {
    /// A source of `rows`, each `width` columns wide (shorter rows are
    /// padded with nulls).
    pub(crate) fn new(rows: Vec<Vec<Value>>, width: usize, limits: &'a Limits) -> RowSource<'a> {
        RowSource {
            rows: rows.into_iter(),
            width,
            limits,
        }
    }
}

impl Operator for RowSource<'_> {
    fn next(&mut self) -> Result<Option<Chunk>> {
        self.limits.check()?;
        let n = self.rows.len().min(VECTOR_SIZE);
        if n == 0 {
            return Ok(None);
        }
        let mut columns: Vec<VectorBuilder> = (0..self.width)
            .map(|_| VectorBuilder::with_capacity(n))
            .collect();
        for row in self.rows.by_ref().take(n) {
            for (i, b) in columns.iter_mut().enumerate() {
                match row.get(i) {
                    Some(v) => b.push(v),
                    None => b.push_null(),
                }
            }
        }
        let columns = columns.into_iter().map(|b| Arc::new(b.finish())).collect();
        Ok(Some(Chunk::new(columns, n)))
    }
}
