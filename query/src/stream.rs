//! Where a query's rows go: the caller's [`RowSink`], fed in chunks as the
//! executor produces them, so that a large result never sits in memory
//! whole. The [`Emitter`] in front of the sink applies `offset` and
//! `limit`, batches rows into chunks of bounded size, and consults the
//! statement's limits once per chunk.

use crate::error::Result;
use crate::limits::{Limits, row_bytes};
use crate::output::Column;
use crate::value::Value;

/// Rows per chunk handed to a [`RowSink`] (fewer when rows are wide).
pub(crate) const CHUNK_ROWS: usize = 1024;

/// Estimated bytes after which a chunk is handed over early.
const CHUNK_BYTES: usize = 1 << 20;

/// Receives a query's result as it is produced ([`crate::Database::run_into`]):
/// first the columns, once, then the rows in chunks of at most 1024, in
/// result order. An error returned by either method (the client went
/// away, a write failed) stops the statement; it is returned by
/// `run_into` as is. The sink is only ever called on the thread that
/// called `run_into` (parallel scans hand their rows back to it), so it
/// need not be `Send`, and a sink that blocks holds up only its own
/// statement. Sinks report their own failures as
/// `Error::Query { code, message, hint: None }`, say with
/// [`crate::ErrorCode::Cancelled`].
pub trait RowSink {
    /// The result's columns, before any row (also for an empty result).
    fn columns(&mut self, columns: &[Column]) -> Result<()>;

    /// The next chunk of rows, each with one value per column. Never
    /// called with an empty chunk.
    fn rows(&mut self, rows: Vec<Vec<Value>>) -> Result<()>;
}

/// The front of a [`RowSink`]: offset, limit, chunking and per-chunk
/// limit checks.
pub(crate) struct Emitter<'o> {
    out: &'o mut dyn RowSink,
    limits: &'o Limits,
    /// Rows still to drop for `offset`.
    skip: usize,
    /// Rows still allowed by `limit`.
    left: usize,
    chunk: Vec<Vec<Value>>,
    chunk_bytes: usize,
    sent: u64,
    /// The sink keeps every row (it collects the result in memory).
    keeps_all: bool,
}

impl<'o> Emitter<'o> {
    /// An emitter of every row to `out`; `keeps_all` when `out` keeps the
    /// whole result anyway, so that bounding buffers before it gains
    /// nothing (a parallel scan then runs each key range whole).
    pub(crate) fn new(
        out: &'o mut dyn RowSink,
        limits: &'o Limits,
        keeps_all: bool,
    ) -> Emitter<'o> {
        Emitter {
            out,
            limits,
            skip: 0,
            left: usize::MAX,
            chunk: Vec::new(),
            chunk_bytes: 0,
            sent: 0,
            keeps_all,
        }
    }

    /// Drops the first `offset` rows and sends at most `limit` after them.
    pub(crate) fn window(&mut self, offset: usize, limit: Option<usize>) {
        self.skip = offset;
        self.left = limit.unwrap_or(usize::MAX);
    }

    /// Whether the limit is reached: no further row would be sent.
    pub(crate) fn done(&self) -> bool {
        self.left == 0
    }

    /// Takes the next result row (before offset and limit); returns
    /// false once no more rows are wanted.
    #[inline]
    pub(crate) fn push(&mut self, row: Vec<Value>) -> Result<bool> {
        if self.skip > 0 {
            self.skip -= 1;
            return Ok(self.left > 0);
        }
        if self.left == 0 {
            return Ok(false);
        }
        self.left -= 1;
        if !self.keeps_all {
            // Wide rows make smaller chunks (a collecting sink takes any).
            self.chunk_bytes += row_bytes(&row);
        }
        self.chunk.push(row);
        if self.chunk.len() >= CHUNK_ROWS || self.chunk_bytes >= CHUNK_BYTES {
            self.flush()?;
        }
        Ok(self.left > 0)
    }

    /// Hands the rows gathered so far to the sink, then checks the
    /// statement's time limit and cancel flag.
    fn flush(&mut self) -> Result<()> {
        if !self.chunk.is_empty() {
            let rows = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_ROWS));
            self.chunk_bytes = 0;
            self.sent += rows.len() as u64;
            self.out.rows(rows)?;
        }
        self.limits.check()
    }

    /// Sends what is left; returns how many rows were sent in all.
    pub(crate) fn finish(mut self) -> Result<u64> {
        if !self.chunk.is_empty() {
            let rows = std::mem::take(&mut self.chunk);
            self.sent += rows.len() as u64;
            self.out.rows(rows)?;
        }
        Ok(self.sent)
    }
}
