//! `limit`/`offset`: drops the first `offset` rows in play, passes at most
//! `limit` after them, and stops pulling its input once it has them.

use super::{BoxOp, Operator};
use crate::error::Result;
use crate::vector::{Chunk, Selection};

/// The limit operator.
pub(crate) struct Limit<'a> {
    input: BoxOp<'a>,
    /// Rows still to drop.
    skip: u64,
    /// Rows still to pass.
    left: u64,
}

impl<'a> Limit<'a> {
    /// At most `limit` rows of `input` after the first `offset`.
    pub(crate) fn new(input: BoxOp<'a>, limit: Option<u64>, offset: u64) -> Limit<'a> {
        Limit {
            input,
            skip: offset,
            left: limit.unwrap_or(u64::MAX),
        }
    }
}

impl Operator for Limit<'_> {
    fn next(&mut self) -> Result<Option<Chunk>> {
        while self.left > 0 {
            let Some(chunk) = self.input.next()? else {
                return Ok(None);
            };
            let n = chunk.count() as u64;
            if n <= self.skip {
                self.skip -= n;
                continue;
            }
            // Rows [skip, skip + take) of those in play.
            let from = self.skip as usize;
            let take = (n - self.skip).min(self.left) as usize;
            self.skip = 0;
            self.left -= take as u64;
            if from == 0 && take as u64 == n {
                return Ok(Some(chunk));
            }
            let sel: Selection = (from..from + take)
                .map(|i| chunk.position(i) as u32)
                .collect();
            return Ok(Some(chunk.with_selection(sel)));
        }
        Ok(None)
    }
}
