//! Merging and visibility: turns the versions of many sources into the
//! user's view at one sequence number.
//!
//! [`MergeIter`] merges sorted sources (memtables, level-0 tables, one
//! iterator per deeper level) into one stream in internal order (or its
//! reverse). [`Scan`] then keeps, per user key, the newest version visible at
//! the read's sequence number and hides tombstones.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::ops::{Bound, Range, RangeFrom, RangeFull, RangeInclusive, RangeTo, RangeToInclusive};

use bytes::Bytes;

use crate::error::Result;
use crate::types::{Entry, Kind, Seqno, internal_cmp};

/// A sorted stream of versions.
pub(crate) type Source = Box<dyn Iterator<Item = Result<Entry>> + Send>;

struct HeapItem {
    entry: Entry,
    source: usize,
    reverse: bool,
}

impl HeapItem {
    /// Order in which items leave the heap: the greatest item pops first.
    fn rank(&self, other: &Self) -> Ordering {
        let ord = internal_cmp(
            &self.entry.key,
            self.entry.seqno,
            &other.entry.key,
            other.entry.seqno,
        )
        .then_with(|| self.source.cmp(&other.source));
        if self.reverse { ord } else { ord.reverse() }
    }
}

impl Ord for HeapItem {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank(other)
    }
}
impl PartialOrd for HeapItem {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for HeapItem {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for HeapItem {}

/// Merges sorted sources into one sorted stream.
pub(crate) struct MergeIter {
    sources: Vec<Source>,
    heap: BinaryHeap<HeapItem>,
    reverse: bool,
    started: bool,
    failed: bool,
}

impl MergeIter {
    pub(crate) fn new(sources: Vec<Source>, reverse: bool) -> MergeIter {
        MergeIter {
            heap: BinaryHeap::with_capacity(sources.len()),
            sources,
            reverse,
            started: false,
            failed: false,
        }
    }

    fn pull(&mut self, source: usize) -> Result<()> {
        if let Some(item) = self.sources[source].next() {
            self.heap.push(HeapItem {
                entry: item?,
                source,
                reverse: self.reverse,
            });
        }
        Ok(())
    }
}

impl Iterator for MergeIter {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        if self.failed {
            return None;
        }
        if !self.started {
            self.started = true;
            for i in 0..self.sources.len() {
                if let Err(e) = self.pull(i) {
                    self.failed = true;
                    return Some(Err(e));
                }
            }
        }
        let top = self.heap.pop()?;
        if let Err(e) = self.pull(top.source) {
            self.failed = true;
            return Some(Err(e));
        }
        Some(Ok(top.entry))
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

/// Copies a caller's range into owned bounds.
pub(crate) fn owned_bounds(range: &impl KeyRange) -> (Bound<Bytes>, Bound<Bytes>) {
    let (lower, upper) = range.key_bounds();
    (
        lower.map(Bytes::copy_from_slice),
        upper.map(Bytes::copy_from_slice),
    )
}

/// An ordered iterator over the live key-value pairs of a range, as of one
/// sequence number. Forward scans yield keys ascending, reverse scans
/// descending. The files it reads stay on disk until it is dropped.
pub struct Scan {
    merge: MergeIter,
    seqno: Seqno,
    reverse: bool,
    /// Forward: the key whose versions are being skipped.
    /// Reverse: the key being collected and its newest visible version.
    current: Option<Bytes>,
    best: Option<Entry>,
    done: bool,
}

impl Scan {
    pub(crate) fn new(merge: MergeIter, seqno: Seqno, reverse: bool) -> Scan {
        Scan {
            merge,
            seqno,
            reverse,
            current: None,
            best: None,
            done: false,
        }
    }

    fn next_forward(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        loop {
            let e = match self.merge.next()? {
                Ok(e) => e,
                Err(err) => return Some(Err(err)),
            };
            if e.seqno > self.seqno || self.current.as_ref() == Some(&e.key) {
                continue;
            }
            self.current = Some(e.key.clone());
            if e.kind == Kind::Put {
                return Some(Ok((e.key, e.value)));
            }
        }
    }

    fn next_reverse(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        // Versions arrive key descending, seqno ascending: the last visible
        // version seen before the key changes is the one to show.
        loop {
            let e = match self.merge.next() {
                Some(Ok(e)) => e,
                Some(Err(err)) => return Some(Err(err)),
                None => {
                    self.current = None;
                    return self.take_best();
                }
            };
            if self.current.as_ref() != Some(&e.key) {
                self.current = Some(e.key.clone());
                let previous = self.take_best();
                if e.seqno <= self.seqno {
                    self.best = Some(e);
                }
                if previous.is_some() {
                    return previous;
                }
            } else if e.seqno <= self.seqno {
                self.best = Some(e);
            }
        }
    }

    fn take_best(&mut self) -> Option<Result<(Bytes, Bytes)>> {
        match self.best.take() {
            Some(e) if e.kind == Kind::Put => Some(Ok((e.key, e.value))),
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
            self.next_reverse()
        } else {
            self.next_forward()
        };
        match &item {
            None | Some(Err(_)) => self.done = true,
            Some(Ok(_)) => {}
        }
        item
    }
}
