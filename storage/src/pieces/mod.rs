//! The piece-wise scan: the same live pairs as [`crate::Scan`], in the same
//! order, but a columnar block whose rows no other source interleaves comes
//! up whole and undecoded ([`Piece::Block`]), and may be skipped by its
//! zone maps without being decoded ([`BlockFilter`]).
//!
//! This module owns the visibility rules for whole blocks; the merge of
//! sources is `iter`'s, the blocks' format `sst`'s and `columnar`'s.

#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;

use crate::columnar::{ColumnBlock, Zones};
use crate::error::Result;
use crate::iter::{Cursor, MergeIter};
use crate::types::{Kind, Seqno, same_key};

/// Pairs gathered into one [`Piece::Rows`] before it is handed up.
const ROWS_PER_PIECE: usize = 1024;
/// Shortest run of a columnar block handed up as a [`Piece::Block`] when
/// it is not the whole block; shorter runs go row by row.
const MIN_RUN: usize = 32;

/// Which rows of a [`ColumnBlock`] a [`Piece::Block`] stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every row of the block.
    All,
    /// The rows `start..end`.
    Range {
        /// First row.
        start: u32,
        /// One past the last row.
        end: u32,
    },
    /// These rows, ascending (row numbers of the block).
    Rows(Vec<u32>),
}

impl Selection {
    /// Number of rows selected in a block of `block_rows` rows.
    pub fn len(&self, block_rows: usize) -> usize {
        match self {
            Selection::All => block_rows,
            Selection::Range { start, end } => end.saturating_sub(*start) as usize,
            Selection::Rows(r) => r.len(),
        }
    }

    /// Whether no row is selected (never true of a piece a scan yields).
    pub fn is_empty(&self, block_rows: usize) -> bool {
        self.len(block_rows) == 0
    }

    /// The selected row numbers of a block of `block_rows` rows.
    pub fn iter(&self, block_rows: usize) -> impl Iterator<Item = usize> + '_ {
        let (all, rows) = match self {
            Selection::All => (0..block_rows, &[][..]),
            Selection::Range { start, end } => (*start as usize..*end as usize, &[][..]),
            Selection::Rows(r) => (0..0, &r[..]),
        };
        all.chain(rows.iter().map(|&r| r as usize))
    }
}

/// A run of the live pairs of a scan.
#[derive(Debug, Clone)]
pub enum Piece {
    /// Live key/value pairs (from memtables, row blocks, or columnar
    /// blocks that other sources interleave), keys ascending.
    Rows(Vec<(Bytes, Bytes)>),
    /// The selected rows of one columnar block: each is the live version
    /// of its key, keys ascending. Their values are the block's fields
    /// (see [`ColumnBlock::value`] for the bytes).
    Block {
        /// The block.
        block: Arc<ColumnBlock>,
        /// Its rows that are live in this scan.
        rows: Selection,
    },
}

/// What [`Pieces::next_lent`] came to: rows lent to its callback, or a
/// block piece.
#[derive(Debug, Clone)]
pub enum Lent {
    /// This many live rows were lent to the callback (at least one).
    Rows(usize),
    /// As [`Piece::Block`].
    Block {
        /// The block.
        block: Arc<ColumnBlock>,
        /// Its rows that are live in this scan.
        rows: Selection,
    },
}

/// What a [`BlockFilter`] decides about a block from its zone maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No row of the block can match: the scan leaves the block out.
    Skip,
    /// Every row matches (storage treats it as [`Verdict::Some`]; it is
    /// for the filter's own bookkeeping).
    All,
    /// Some rows may match: the block comes up.
    Some,
}

/// Decides from a block's zone maps whether a scan may leave it out. It
/// is asked only about blocks that a scan would hand up whole, so a
/// skipped block never hides or reveals versions of other sources.
pub trait BlockFilter {
    /// The verdict on a block whose block-level zone maps are `zones`.
    fn check(&self, zones: &Zones<'_>) -> Verdict;
}

/// The pieces of a scan, in key order; see [`crate::Snapshot::pieces`].
/// After an error it yields `None`.
pub struct Pieces<'f> {
    merge: MergeIter,
    seqno: Seqno,
    filter: Option<&'f dyn BlockFilter>,
    /// The key whose newest visible version was decided last.
    key: Vec<u8>,
    has_key: bool,
    /// The merge is on a version not yet looked at (after a block skip).
    on: bool,
    rows: Vec<(Bytes, Bytes)>,
    /// A block piece to hand up after `rows`.
    next_block: Option<Piece>,
    /// An error to hand up after `rows`.
    error: Option<crate::Error>,
    done: bool,
}

impl fmt::Debug for Pieces<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pieces")
            .field("seqno", &self.seqno)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<'f> Pieces<'f> {
    pub(crate) fn new(
        merge: MergeIter,
        seqno: Seqno,
        filter: Option<&'f dyn BlockFilter>,
    ) -> Pieces<'f> {
        Pieces {
            merge,
            seqno,
            filter,
            key: Vec::new(),
            has_key: false,
            on: false,
            rows: Vec::new(),
            next_block: None,
            error: None,
            done: false,
        }
    }

    /// Fills `rows` or `next_block`; `false` at the end of the scan.
    fn fill(&mut self) -> Result<bool> {
        let mut rows = std::mem::take(&mut self.rows);
        let more = self.fill_with(|c| {
            rows.push(c.pair());
            rows.len() < ROWS_PER_PIECE
        });
        self.rows = rows;
        more
    }

    /// Hands each live row to `put` (which says whether to go on) until
    /// it says stop, or a block piece is found (left in `next_block`), or
    /// the scan ends (`false`).
    fn fill_with(&mut self, mut put: impl FnMut(&Cursor) -> bool) -> Result<bool> {
        loop {
            if !self.on && !self.merge.advance()? {
                return Ok(false);
            }
            self.on = false;
            if let Some(run) = self.run() {
                let Run {
                    block,
                    start,
                    end,
                    zones,
                } = run;
                // The run is taken whole: its keys are decided.
                self.key.clear();
                block.key_into(end - 1, &mut self.key);
                self.has_key = true;
                let skip = match (self.filter, zones) {
                    (Some(f), Some(z)) => f.check(&z) == Verdict::Skip,
                    _ => false,
                };
                let rows = if skip {
                    None
                } else {
                    visible_rows(&block, self.seqno, start, end)
                };
                self.on = self.merge.skip_current_to_row(end)?;
                if let Some(rows) = rows {
                    self.next_block = Some(Piece::Block { block, rows });
                    return Ok(true);
                }
                continue;
            }
            let c = self.merge.current();
            if c.seqno() > self.seqno || (self.has_key && same_key(c.key(), &self.key)) {
                continue;
            }
            self.key.clear();
            self.key.extend_from_slice(c.key());
            self.has_key = true;
            if c.kind() == Kind::Put && !put(c) {
                return Ok(true);
            }
        }
    }

    /// When the merge's current version is in a columnar block and starts
    /// a run of it that can be taken whole: the run (rows `start..end`)
    /// and the block's zone maps from the table's index.
    ///
    /// A run is the current row and the rows after it in the block whose
    /// keys are below the next key of every other source (all of the
    /// block's rest when the block's last key is) and within the scan's
    /// end bound, provided its first key is not the key decided last. Then no other source holds a version of any of the run's
    /// keys that is yet to come (newer ones were consumed before, and
    /// decided its first key), so the run's visible rows are decided by
    /// the block alone, and leaving the run out (for a filter, whose zone
    /// maps cover the whole block) neither unmasks an older version
    /// elsewhere nor hides a newer one. A run never splits a key's
    /// versions (they are consecutive). Rows another source interleaves
    /// are read version by version instead, with the others, as
    /// [`crate::Scan`] does.
    fn run(&self) -> Option<Run> {
        let Cursor::Tables(t) = self.merge.current() else {
            return None;
        };
        let (block, pos, i, table) = t.at_columnar_row()?;
        let n = block.rows();
        // Rows past the scan's end bound are not the run's.
        let limit = t.rows_within_end().min(n);
        if pos >= limit || (self.has_key && block.key_cmp(pos, &self.key).is_eq()) {
            return None;
        }
        let end = match self.merge.others_first_key() {
            Some(next) if block.key_cmp(n - 1, next).is_ge() => {
                // The rows below `next`: a binary search.
                let (mut lo, mut hi) = (pos, n);
                while lo < hi {
                    let mid = lo + (hi - lo) / 2;
                    if block.key_cmp(mid, next).is_lt() {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                lo
            }
            _ => n,
        }
        .min(limit);
        let whole = pos == 0 && end == n;
        if !whole && end - pos < MIN_RUN {
            return None;
        }
        Some(Run {
            block: block.clone(),
            start: pos,
            end,
            // The zone maps only matter to a filter (copying them costs
            // an allocation per column).
            zones: self
                .filter
                .and_then(|_| table.block_zones(i))
                .map(owned_zones),
        })
    }
}

/// A run of a columnar block the scan takes whole.
struct Run {
    block: Arc<ColumnBlock>,
    start: usize,
    end: usize,
    zones: Option<Zones<'static>>,
}

fn owned_zones(z: Zones<'_>) -> Zones<'static> {
    let rows = z.rows();
    let cols = (0..z.columns()).map(|c| z.column(c).into_owned()).collect();
    Zones::new(rows, cols)
}

/// The rows `start..end` of `block` that are the live version of their
/// key as of `seqno`, or `None` when there are none. The block's summary
/// settles the common case (every key once, no tombstone, nothing newer
/// than the scan); otherwise each row's version decides.
fn visible_rows(block: &ColumnBlock, seqno: Seqno, start: usize, end: usize) -> Option<Selection> {
    let n = block.rows();
    if block.keys_unique() && !block.has_tombstones() && block.seqno_range().1 <= seqno {
        if start == 0 && end == n {
            return (n > 0).then_some(Selection::All);
        }
        return (start < end).then_some(Selection::Range {
            start: start as u32,
            end: end as u32,
        });
    }
    let mut rows = Vec::new();
    let mut decided: Option<usize> = None;
    for i in start..end {
        if block.seqno(i) > seqno {
            continue;
        }
        if decided.is_some_and(|d| block.same_key(d, i)) {
            continue;
        }
        decided = Some(i);
        if !block.is_tombstone(i) {
            rows.push(i as u32);
        }
    }
    if rows.is_empty() {
        return None;
    }
    if rows.len() == n {
        return Some(Selection::All);
    }
    if rows.len() == end - start {
        return Some(Selection::Range {
            start: start as u32,
            end: end as u32,
        });
    }
    Some(Selection::Rows(rows))
}

impl Pieces<'_> {
    /// The next piece, with runs of rows lent rather than handed up: each
    /// live row's value goes to `row` as bytes borrowed from its source
    /// (no copy, no reference count per row), in key order, until `row`
    /// returns `false` (after taking that row) or a block piece comes.
    /// Then [`Lent::Rows`] says how many rows `row` took, and a block
    /// piece comes up as [`Lent::Block`]. `None` at the end of the scan,
    /// and after an error. Mixes with [`Iterator::next`]: rows already
    /// gathered into a piece are lent first.
    pub fn next_lent(&mut self, mut row: impl FnMut(&[u8]) -> bool) -> Option<Result<Lent>> {
        let mut lent = 0;
        let mut more = true;
        let mut rows = std::mem::take(&mut self.rows).into_iter();
        for (_, v) in rows.by_ref() {
            lent += 1;
            if !row(&v) {
                more = false;
                break;
            }
        }
        if !more {
            self.rows = rows.collect();
            return Some(Ok(Lent::Rows(lent)));
        }
        loop {
            if lent > 0 && (!more || self.next_block.is_some() || self.done) {
                return Some(Ok(Lent::Rows(lent)));
            }
            if let Some(Piece::Block { block, rows }) = self.next_block.take() {
                return Some(Ok(Lent::Block { block, rows }));
            }
            if let Some(e) = self.error.take() {
                return Some(Err(e));
            }
            if self.done {
                return None;
            }
            let filled = self.fill_with(|c| {
                lent += 1;
                more = row(c.value());
                more
            });
            match filled {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(e) => {
                    self.done = true;
                    self.error = Some(e);
                }
            }
        }
    }
}

impl Iterator for Pieces<'_> {
    type Item = Result<Piece>;

    fn next(&mut self) -> Option<Result<Piece>> {
        loop {
            if !self.rows.is_empty() {
                return Some(Ok(Piece::Rows(std::mem::take(&mut self.rows))));
            }
            if let Some(b) = self.next_block.take() {
                return Some(Ok(b));
            }
            if let Some(e) = self.error.take() {
                return Some(Err(e));
            }
            if self.done {
                return None;
            }
            match self.fill() {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(e) => {
                    // The pairs before the error come first, as in a scan.
                    self.done = true;
                    self.error = Some(e);
                }
            }
        }
    }
}
