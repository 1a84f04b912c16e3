//! Merging and visibility: turns the versions of many sources into the
//! user's view at one sequence number.
//!
//! [`MergeIter`] merges sorted sources (memtables, level-0 tables, one
//! iterator per deeper level) into one stream in internal order (or its
//! reverse). [`Scan`] then keeps, per user key, the newest version visible at
//! the read's sequence number and hides tombstones.

use std::ops::{Bound, Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};

use bytes::Bytes;

use crate::error::Result;
use crate::memtable::MemCursor;
use crate::sst::TableCursor;
use crate::types::{Entry, Kind, Seqno, internal_cmp, same_key};

/// A positioned reader over one sorted source of versions: a memtable, one
/// level-0 table, or the tables of one deeper level. Its key and value are
/// borrowed from the source (a block, a memtable chunk) until it moves.
pub(crate) enum Cursor {
    Mem(MemCursor),
    Tables(TableCursor),
}

/// One source of a merge.
pub(crate) type Source = Cursor;

impl Cursor {
    /// Moves to the next version (the first one on the first call);
    /// `false` at the end, and after an error.
    #[inline]
    pub(crate) fn advance(&mut self) -> Result<bool> {
        match self {
            Cursor::Mem(c) => Ok(c.advance()),
            Cursor::Tables(c) => c.advance(),
        }
    }

    /// Starts the memory traffic of the first `advance` without waiting
    /// for it, where that helps (table cursors; see
    /// [`TableCursor::prepare`]).
    #[inline]
    pub(crate) fn prepare(&mut self) {
        match self {
            Cursor::Mem(_) => {}
            Cursor::Tables(c) => c.prepare(),
        }
    }

    /// The current version's key (after `advance` returned `true`).
    #[inline]
    pub(crate) fn key(&self) -> &[u8] {
        match self {
            Cursor::Mem(c) => c.key(),
            Cursor::Tables(c) => c.key(),
        }
    }

    /// The current version's value (empty for a tombstone).
    #[inline]
    pub(crate) fn value(&self) -> &[u8] {
        match self {
            Cursor::Mem(c) => c.value(),
            Cursor::Tables(c) => c.value(),
        }
    }

    #[inline]
    pub(crate) fn seqno(&self) -> Seqno {
        match self {
            Cursor::Mem(c) => c.seqno(),
            Cursor::Tables(c) => c.seqno(),
        }
    }

    #[inline]
    pub(crate) fn kind(&self) -> Kind {
        match self {
            Cursor::Mem(c) => c.kind(),
            Cursor::Tables(c) => c.kind(),
        }
    }

    /// The current version, owned (sharing the source's bytes).
    pub(crate) fn entry(&self) -> Entry {
        match self {
            Cursor::Mem(c) => c.entry(),
            Cursor::Tables(c) => c.entry(),
        }
    }

    /// The current key and value, owned (sharing the source's bytes).
    #[inline]
    pub(crate) fn pair(&self) -> (Bytes, Bytes) {
        match self {
            Cursor::Mem(c) => c.pair(),
            Cursor::Tables(c) => c.pair(),
        }
    }
}

/// Marks "no current source" in [`MergeIter`].
const NONE: usize = usize::MAX;

/// Merges sorted sources into one sorted stream, in internal order or its
/// reverse; of versions equal in key and seqno, the lower-numbered source's
/// comes first going forward (last in reverse).
///
/// The source holding the next version is kept out of the heap of the
/// others, and stays current as long as its next version still comes
/// before the heap's top (one comparison per version), so a source that is
/// far ahead of the others, or the only one, is drained without heap
/// operations; when it falls behind, it swaps places with the top (one
/// sift-down).
pub(crate) struct MergeIter {
    cursors: Vec<Cursor>,
    /// The sources other than `current` that are on a version, as a binary
    /// heap whose first element comes first.
    heap: Vec<usize>,
    /// The source on the merge's current version, or [`NONE`].
    current: usize,
    reverse: bool,
    started: bool,
}

/// Whether source `a`'s version comes before source `b`'s.
#[inline]
fn before(cursors: &[Cursor], reverse: bool, a: usize, b: usize) -> bool {
    let (x, y) = (&cursors[a], &cursors[b]);
    let ord = internal_cmp(x.key(), x.seqno(), y.key(), y.seqno()).then(a.cmp(&b));
    if reverse { ord.is_gt() } else { ord.is_lt() }
}

impl MergeIter {
    pub(crate) fn new(sources: Vec<Source>, reverse: bool) -> MergeIter {
        MergeIter {
            heap: Vec::with_capacity(sources.len()),
            cursors: sources,
            current: NONE,
            reverse,
            started: false,
        }
    }

    /// Moves to the next version of the merged stream; `false` at the end.
    /// After an error the merge is at its end.
    #[inline]
    pub(crate) fn advance(&mut self) -> Result<bool> {
        let c = self.current;
        if c == NONE {
            return if self.started {
                Ok(false)
            } else {
                self.start()
            };
        }
        let moved = self.cursors[c].advance();
        self.settle(c, moved)
    }

    /// The source on the current version. Only valid after `advance`
    /// returned `true`.
    #[inline]
    pub(crate) fn current(&self) -> &Cursor {
        &self.cursors[self.current]
    }

    /// The key of the first version of any source but the current one
    /// (forward merges): everything the current source holds below it is
    /// alone in the merge. `None` when the other sources are done.
    pub(crate) fn others_first_key(&self) -> Option<&[u8]> {
        self.heap.first().map(|&top| self.cursors[top].key())
    }

    /// Moves the current source (a table cursor in a columnar block) to
    /// row `row` of its block (past the block when `row` is its row
    /// count), and makes the merge current on the first version from
    /// there, not yet consumed: `false` when the merge is at its end.
    pub(crate) fn skip_current_to_row(&mut self, row: usize) -> Result<bool> {
        let c = self.current;
        if c == NONE {
            return Ok(false);
        }
        let moved = match &mut self.cursors[c] {
            Cursor::Tables(t) => t.skip_to_row(row),
            Cursor::Mem(m) => Ok(m.advance()),
        };
        self.settle(c, moved)
    }

    /// After current source `c` moved (`moved`: whether it still has a
    /// version, or its error): makes the merge current on the first
    /// version of all sources, dropping `c` when it is done; an error
    /// ends the merge.
    #[inline]
    fn settle(&mut self, c: usize, moved: Result<bool>) -> Result<bool> {
        match moved {
            Ok(true) => {
                if let Some(&top) = self.heap.first()
                    && before(&self.cursors, self.reverse, top, c)
                {
                    self.heap[0] = c;
                    self.sift_down(0);
                    self.current = top;
                }
                Ok(true)
            }
            Ok(false) => {
                self.current = self.pop();
                Ok(self.current != NONE)
            }
            Err(e) => {
                self.heap.clear();
                self.current = NONE;
                Err(e)
            }
        }
    }

    #[cold]
    fn start(&mut self) -> Result<bool> {
        self.started = true;
        // Each source's first seek is a chain of dependent cache misses:
        // start the tables' block loads first, so they complete while the
        // memtables (first in the list) walk their skiplists.
        if self.cursors.len() > 1 {
            for c in &mut self.cursors {
                c.prepare();
            }
        }
        for i in 0..self.cursors.len() {
            if self.cursors[i].advance()? {
                self.push(i);
            }
        }
        self.current = self.pop();
        Ok(self.current != NONE)
    }

    fn push(&mut self, source: usize) {
        self.heap.push(source);
        let mut i = self.heap.len() - 1;
        while i > 0 {
            let parent = (i - 1) / 2;
            if !before(&self.cursors, self.reverse, self.heap[i], self.heap[parent]) {
                break;
            }
            self.heap.swap(i, parent);
            i = parent;
        }
    }

    /// Removes and returns the heap's top, or [`NONE`].
    fn pop(&mut self) -> usize {
        let Some(last) = self.heap.pop() else {
            return NONE;
        };
        if self.heap.is_empty() {
            return last;
        }
        let top = std::mem::replace(&mut self.heap[0], last);
        self.sift_down(0);
        top
    }

    fn sift_down(&mut self, mut i: usize) {
        let n = self.heap.len();
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut first = i;
            if l < n && before(&self.cursors, self.reverse, self.heap[l], self.heap[first]) {
                first = l;
            }
            if r < n && before(&self.cursors, self.reverse, self.heap[r], self.heap[first]) {
                first = r;
            }
            if first == i {
                return;
            }
            self.heap.swap(i, first);
            i = first;
        }
    }
}

impl Iterator for MergeIter {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        match self.advance() {
            Ok(true) => Some(Ok(self.current().entry())),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// A range of keys for [`crate::Engine::scan`]: `..`, `a..b`, `a..=b`,
/// `a..`, `..b`, `..=b` or a `(Bound, Bound)` pair, over anything that is
/// bytes (`&[u8]`, `Vec<u8>`, `&str`, `Bytes`, byte-string literals).
///
/// ```
/// # let engine = fasty_storage::Engine::open("unused", fasty_storage::Options::memory())?;
/// let all = engine.scan(..);
/// let users = engine.scan(&b"user:"[..]..&b"user;"[..]);
/// let from_b = engine.scan("b"..);
/// # Ok::<(), fasty_storage::Error>(())
/// ```
pub trait KeyRange {
    /// The lower and upper bound.
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>);
}

impl KeyRange for RangeFull {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (Bound::Unbounded, Bound::Unbounded)
    }
}

impl<K: AsRef<[u8]>> KeyRange for Range<K> {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (
            Bound::Included(self.start.as_ref()),
            Bound::Excluded(self.end.as_ref()),
        )
    }
}

impl<K: AsRef<[u8]>> KeyRange for RangeInclusive<K> {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (
            Bound::Included(self.start().as_ref()),
            Bound::Included(self.end().as_ref()),
        )
    }
}

impl<K: AsRef<[u8]>> KeyRange for RangeFrom<K> {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (Bound::Included(self.start.as_ref()), Bound::Unbounded)
    }
}

impl<K: AsRef<[u8]>> KeyRange for RangeTo<K> {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (Bound::Unbounded, Bound::Excluded(self.end.as_ref()))
    }
}

impl<K: AsRef<[u8]>> KeyRange for RangeToInclusive<K> {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (Bound::Unbounded, Bound::Included(self.end.as_ref()))
    }
}

impl<K: AsRef<[u8]>> KeyRange for (Bound<K>, Bound<K>) {
    fn key_bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (
            self.0.as_ref().map(AsRef::as_ref),
            self.1.as_ref().map(AsRef::as_ref),
        )
    }
}

/// Copies a caller's range into owned bounds, both in one buffer that
/// the scan's sources share (cloning a bound takes a reference, never
/// allocates).
pub(crate) fn owned_bounds(range: &impl KeyRange) -> (Bound<Bytes>, Bound<Bytes>) {
    let (lower, upper) = range.key_bounds();
    fn bytes<'a>(b: &Bound<&'a [u8]>) -> &'a [u8] {
        match *b {
            Bound::Included(k) | Bound::Excluded(k) => k,
            Bound::Unbounded => &[],
        }
    }
    let (lo, hi) = (bytes(&lower), bytes(&upper));
    let mut buf = Vec::with_capacity(lo.len() + hi.len());
    buf.extend_from_slice(lo);
    buf.extend_from_slice(hi);
    // An owner rather than `Bytes::from(Vec)`, whose first clone allocates.
    let buf = Bytes::from_owner(buf);
    (
        lower.map(|_| buf.slice(..lo.len())),
        upper.map(|_| buf.slice(lo.len()..)),
    )
}

/// An ordered iterator over the live key-value pairs of a range, as of one
/// sequence number. Forward scans yield keys ascending, reverse scans
/// descending. The files it reads stay on disk until it is dropped.
///
/// Each pair it yields shares the bytes of a table block or memtable chunk
/// (a reference count each for key and value); [`Scan::visit`] hands out
/// borrowed slices instead, for callers that look at every pair and keep
/// few.
pub struct Scan {
    merge: MergeIter,
    seqno: Seqno,
    reverse: bool,
    /// Forward: the key whose older versions are being skipped.
    /// Reverse: the key being collected.
    key: Vec<u8>,
    has_key: bool,
    /// Reverse: the newest version of `key` visible so far.
    best: Option<Entry>,
    done: bool,
}

impl Scan {
    pub(crate) fn new(merge: MergeIter, seqno: Seqno, reverse: bool) -> Scan {
        Scan {
            merge,
            seqno,
            reverse,
            key: Vec::new(),
            has_key: false,
            best: None,
            done: false,
        }
    }

    /// Calls `f` with every remaining live pair, in the scan's order, as
    /// slices borrowed from the scan: nothing is allocated or
    /// reference-counted per pair going forward (reverse scans still take
    /// a reference on each newest version). Stops after the pair for which
    /// `f` returns `false`; the scan can then go on (`next`, `visit`)
    /// with the pair after it. After an error, or the last pair, the scan
    /// is finished.
    ///
    /// ```
    /// # let engine = fasty_storage::Engine::open("unused", fasty_storage::Options::memory())?;
    /// # let mut batch = fasty_storage::WriteBatch::new();
    /// # batch.put(b"user:1", b"alice");
    /// # engine.apply(&batch, 1)?;
    /// let mut bytes = 0;
    /// engine.snapshot().scan("user:".."user;").visit(|key, value| {
    ///     bytes += key.len() + value.len();
    ///     true // go on
    /// })?;
    /// assert_eq!(bytes, 11);
    /// # Ok::<(), fasty_storage::Error>(())
    /// ```
    pub fn visit(&mut self, mut f: impl FnMut(&[u8], &[u8]) -> bool) -> Result<()> {
        if self.done {
            return Ok(());
        }
        let finished = if self.reverse {
            self.visit_reverse(&mut f)
        } else {
            self.visit_forward(&mut f)
        };
        match finished {
            Ok(false) => Ok(()),
            other => {
                self.done = true;
                other.map(|_| ())
            }
        }
    }

    /// `Ok(true)` when the scan ran to its end, `Ok(false)` when `f` stopped it.
    fn visit_forward(&mut self, f: &mut impl FnMut(&[u8], &[u8]) -> bool) -> Result<bool> {
        while self.next_forward()? {
            let c = self.merge.current();
            if !f(c.key(), c.value()) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn visit_reverse(&mut self, f: &mut impl FnMut(&[u8], &[u8]) -> bool) -> Result<bool> {
        while let Some(e) = self.next_reverse()? {
            if !f(&e.key, &e.value) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Forward: moves the merge to the next live pair's version; `false`
    /// at the end.
    #[inline]
    fn next_forward(&mut self) -> Result<bool> {
        loop {
            if !self.merge.advance()? {
                return Ok(false);
            }
            let c = self.merge.current();
            if c.seqno() > self.seqno || (self.has_key && same_key(c.key(), &self.key)) {
                continue;
            }
            // The newest visible version of a new key.
            self.key.clear();
            self.key.extend_from_slice(c.key());
            self.has_key = true;
            if c.kind() == Kind::Put {
                return Ok(true);
            }
        }
    }

    /// Reverse: the next live pair's version.
    fn next_reverse(&mut self) -> Result<Option<Entry>> {
        // Versions arrive key descending, seqno ascending: the last visible
        // version seen before the key changes is the one to show.
        loop {
            if !self.merge.advance()? {
                self.has_key = false;
                return Ok(self.take_best());
            }
            let c = self.merge.current();
            if !self.has_key || !same_key(c.key(), &self.key) {
                self.key.clear();
                self.key.extend_from_slice(c.key());
                self.has_key = true;
                let previous = match self.best.take() {
                    Some(e) if e.kind == Kind::Put => Some(e),
                    _ => None,
                };
                if c.seqno() <= self.seqno {
                    self.best = Some(c.entry());
                }
                if previous.is_some() {
                    return Ok(previous);
                }
            } else if c.seqno() <= self.seqno {
                self.best = Some(c.entry());
            }
        }
    }

    fn take_best(&mut self) -> Option<Entry> {
        match self.best.take() {
            Some(e) if e.kind == Kind::Put => Some(e),
            _ => None,
        }
    }
}

impl Iterator for Scan {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = if self.reverse {
            self.next_reverse().map(|e| e.map(|e| (e.key, e.value)))
        } else {
            self.next_forward()
                .map(|found| found.then(|| self.merge.current().pair()))
        };
        match item {
            Ok(Some(pair)) => Some(Ok(pair)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The merge and the visibility rules against a `BTreeMap`, over every
    //! kind of source at once: a skiplist memtable, a sorted run, a level-0
    //! table and a level of several tables, holding random overlapping
    //! versions (puts, tombstones, many versions per key) — and over one
    //! source alone, the merge's fast path.

    use std::collections::BTreeMap;
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::cache::BlockCache;
    use crate::io::Io;
    use crate::io::std_fs::StdIo;
    use crate::memtable::{Memtable, RunBuilder};
    use crate::sst::{Table, TableWriter, WriterOptions};

    /// One version: key, kind (put?) and value; its seqno is its position
    /// in the list plus one.
    type Op = (Vec<u8>, bool, Vec<u8>);
    /// A version with its seqno: key, seqno, put?, value.
    type Version = (Vec<u8>, Seqno, bool, Vec<u8>);

    fn key() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            1 => Just(Vec::new()),
            10 => (0u8..12).prop_map(|n| vec![b'k', n]),
            2 => (0u8..12, 0u8..3).prop_map(|(n, m)| vec![b'k', n, m]),
        ]
    }

    fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
        prop_oneof![
            1 => Just(Bound::Unbounded),
            2 => key().prop_map(Bound::Included),
            2 => key().prop_map(Bound::Excluded),
        ]
    }

    /// Writes `versions` (internal order) as a table; ids are unique per
    /// test so the shared cache never mixes tables up.
    fn table(dir: &std::path::Path, id: u64, versions: &[Version]) -> Arc<Table> {
        let io: Arc<dyn Io> = Arc::new(StdIo::new());
        let path = dir.join(format!("{id}.sst"));
        let mut w = TableWriter::new(
            io.create(&path).unwrap(),
            path.clone(),
            WriterOptions {
                block_size: 64,
                zstd_level: i32::from(id.is_multiple_of(2)),
                bloom_bits_per_key: 10,
                layout: None,
                columnar_rows: 4096,
            },
        );
        for (k, s, put, v) in versions {
            let kind = if *put { Kind::Put } else { Kind::Delete };
            w.add(k, *s, kind, v).unwrap();
        }
        w.finish().unwrap();
        Arc::new(Table::open(&path, id, Arc::new(BlockCache::new(1 << 20)), io).unwrap())
    }

    /// Builds the sources: version `i` goes to source `owner[i] % sources`:
    /// 0 a skiplist memtable, 1 a sorted run, 2 a level-0 table, 3 a level
    /// of tables cut at `cuts`.
    #[allow(clippy::too_many_arguments)]
    fn cursors(
        dir: &std::path::Path,
        ops: &[Op],
        owner: &[usize],
        sources: usize,
        cuts: &[Vec<u8>],
        lower: &Bound<Bytes>,
        upper: &Bound<Bytes>,
        reverse: bool,
    ) -> Vec<Cursor> {
        let mut per: Vec<Vec<Version>> = vec![Vec::new(); 4];
        for (i, (k, put, v)) in ops.iter().enumerate() {
            let v = if *put { v.clone() } else { Vec::new() };
            per[owner[i] % sources].push((k.clone(), i as Seqno + 1, *put, v));
        }
        let kind = |put: bool| if put { Kind::Put } else { Kind::Delete };
        let mut out = Vec::new();
        // 0: skiplist.
        let mem = Arc::new(Memtable::new(1 << 20));
        for (k, s, put, v) in &per[0] {
            assert!(mem.insert(k, *s, kind(*put), v));
        }
        if !mem.is_empty() {
            out.push(Cursor::Mem(MemCursor::new(
                mem,
                lower.clone(),
                upper.clone(),
                reverse,
            )));
        }
        // 1: sorted run (pushed in log order).
        if !per[1].is_empty() {
            let mut b = RunBuilder::with_capacity(0, 0);
            for (k, s, put, v) in &per[1] {
                b.push(k, *s, kind(*put), v);
            }
            let run = Arc::new(b.finish(ops.len() as Seqno));
            out.push(Cursor::Mem(MemCursor::new(
                run,
                lower.clone(),
                upper.clone(),
                reverse,
            )));
        }
        let internal = |v: &mut Vec<Version>| {
            v.sort_by(|a, b| internal_cmp(&a.0, a.1, &b.0, b.1));
        };
        // 2: one level-0 table.
        internal(&mut per[2]);
        if !per[2].is_empty() {
            let t = table(dir, 2, &per[2]);
            out.push(Cursor::Tables(TableCursor::new(
                vec![t],
                lower.clone(),
                upper.clone(),
                reverse,
            )));
        }
        // 3: a level: the versions cut into tables at the `cuts` keys.
        internal(&mut per[3]);
        let mut tables = Vec::new();
        let mut rest = &per[3][..];
        let mut cuts = cuts.to_vec();
        cuts.sort();
        for cut in cuts.iter().map(Some).chain([None]) {
            let n = cut.map_or(rest.len(), |c| rest.partition_point(|v| v.0 < *c));
            if n > 0 {
                tables.push(table(dir, 10 + tables.len() as u64, &rest[..n]));
            }
            rest = &rest[n..];
        }
        if !tables.is_empty() {
            if reverse {
                tables.reverse();
            }
            out.push(Cursor::Tables(TableCursor::new(
                tables,
                lower.clone(),
                upper.clone(),
                reverse,
            )));
        }
        out
    }

    fn in_range(k: &[u8], lower: &Bound<Bytes>, upper: &Bound<Bytes>) -> bool {
        (match lower {
            Bound::Included(l) => k >= &l[..],
            Bound::Excluded(l) => k > &l[..],
            Bound::Unbounded => true,
        }) && (match upper {
            Bound::Included(u) => k <= &u[..],
            Bound::Excluded(u) => k < &u[..],
            Bound::Unbounded => true,
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn merge_and_scan_match_the_model(
            ops in proptest::collection::vec(
                (key(), proptest::bool::weighted(0.75), proptest::collection::vec(any::<u8>(), 0..12)),
                0..160),
            owners in proptest::collection::vec(0usize..4, 160),
            sources in 1usize..=4,
            cuts in proptest::collection::vec(key(), 0..3),
            snapshot in 0u64..170,
            lower in bound(),
            upper in bound(),
            reverse in any::<bool>(),
            stop_after in 0usize..20,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let b = |x: Bound<Vec<u8>>| x.map(Bytes::from);
            let (lower, upper) = (b(lower), b(upper));
            let make = || cursors(dir.path(), &ops, &owners, sources, &cuts, &lower, &upper, reverse);

            // The raw merge: every version in range, in internal order.
            let mut want: Vec<(Vec<u8>, Seqno)> = ops
                .iter()
                .enumerate()
                .filter(|(_, (k, _, _))| in_range(k, &lower, &upper))
                .map(|(i, (k, _, _))| (k.clone(), i as Seqno + 1))
                .collect();
            want.sort_by(|a, b| internal_cmp(&a.0, a.1, &b.0, b.1));
            if reverse {
                want.reverse();
            }
            let got: Vec<(Vec<u8>, Seqno)> = MergeIter::new(make(), reverse)
                .map(|e| e.map(|e| (e.key.to_vec(), e.seqno)))
                .collect::<Result<_>>()
                .unwrap();
            prop_assert_eq!(got, want);

            // The scan at `snapshot`: newest visible version per key, puts only.
            let mut model: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
            for (i, (k, put, v)) in ops.iter().enumerate() {
                if (i as Seqno) < snapshot && in_range(k, &lower, &upper) {
                    model.insert(k.clone(), put.then(|| v.clone()));
                }
            }
            let mut want: Vec<(Vec<u8>, Vec<u8>)> =
                model.into_iter().filter_map(|(k, v)| Some((k, v?))).collect();
            if reverse {
                want.reverse();
            }
            let scan = || Scan::new(MergeIter::new(make(), reverse), snapshot, reverse);
            let got: Vec<(Vec<u8>, Vec<u8>)> = scan()
                .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())))
                .collect::<Result<_>>()
                .unwrap();
            prop_assert_eq!(&got, &want);

            // `visit`, stopped after a few pairs and then resumed by `next`
            // and a second `visit`, sees the same pairs.
            let mut s = scan();
            let mut seen = Vec::new();
            s.visit(|k, v| {
                seen.push((k.to_vec(), v.to_vec()));
                seen.len() <= stop_after
            })
            .unwrap();
            if let Some(p) = s.next() {
                let (k, v) = p.unwrap();
                seen.push((k.to_vec(), v.to_vec()));
            }
            s.visit(|k, v| {
                seen.push((k.to_vec(), v.to_vec()));
                true
            })
            .unwrap();
            prop_assert_eq!(&seen, &want);
            prop_assert!(s.next().is_none());
        }
    }

    /// Scans can move to another thread (the query layer's parallel scans).
    #[test]
    fn scans_are_send() {
        fn send<T: Send>() {}
        send::<Scan>();
        send::<MergeIter>();
    }

    /// A source far ahead of the others is drained without swapping, and
    /// the merge still interleaves correctly when it falls behind.
    #[test]
    fn winner_stays_then_swaps() {
        let mem = |keys: &[&[u8]], seqno: Seqno| {
            let m = Arc::new(Memtable::new(1 << 20));
            for k in keys {
                assert!(m.insert(k, seqno, Kind::Put, b"v"));
            }
            Cursor::Mem(MemCursor::new(m, Bound::Unbounded, Bound::Unbounded, false))
        };
        let a = mem(&[b"a", b"b", b"c", b"x", b"z"], 1);
        let b = mem(&[b"c", b"d", b"y"], 2);
        let merged: Vec<(Vec<u8>, Seqno)> = MergeIter::new(vec![a, b], false)
            .map(|e| e.map(|e| (e.key.to_vec(), e.seqno)).unwrap())
            .collect();
        let want: Vec<(Vec<u8>, Seqno)> = [
            (&b"a"[..], 1),
            (b"b", 1),
            (b"c", 2),
            (b"c", 1),
            (b"d", 2),
            (b"x", 1),
            (b"y", 2),
            (b"z", 1),
        ]
        .iter()
        .map(|(k, s)| (k.to_vec(), *s))
        .collect();
        assert_eq!(merged, want);
    }
}
