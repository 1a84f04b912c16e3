//! The append-only tail of a skiplist memtable.

use std::cmp::Ordering;

use super::key::{InternalKey, Probe, view_cmp};

/// Versions appended in internal order: while a memtable's writes come in
/// ascending key order (a bulk load with increasing keys, the common case),
/// each is appended here at constant cost instead of searched into the
/// skiplist, whose search is most of an insert's cost.
///
/// Invariant: a version is appended only if it is greater than every
/// version the memtable holds — the tail's last (or the memtable is empty),
/// and so every skiplist version, since the skiplist only takes versions
/// not above the tail's last. A version can therefore be in both only if
/// the skiplist got it later (one key written twice at one sequence
/// number, in one batch), and readers let the skiplist's copy win.
///
/// One writer (inserts are serialised by the engine's write lock) and any
/// number of lock-free readers: `boxcar` publishes an element before the
/// count that covers it, so every index below [`boxcar::Vec::count`] is
/// readable.
#[derive(Default)]
pub(super) struct Tail {
    pub(super) items: boxcar::Vec<InternalKey>,
}

impl Tail {
    pub(super) fn last(&self) -> Option<&InternalKey> {
        self.items
            .count()
            .checked_sub(1)
            .and_then(|i| self.items.get(i))
    }

    pub(super) fn get(&self, i: usize) -> Option<&InternalKey> {
        self.items.get(i)
    }

    /// The first index below `n` (a count read before) whose version is at
    /// or after `probe` (after it when not `inclusive`); `n` if none.
    pub(super) fn seek(&self, n: usize, probe: &Probe<'_>, inclusive: bool) -> usize {
        let (mut lo, mut hi) = (0, n);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let before = match self.items.get(mid) {
                Some(v) => match view_cmp(v, probe) {
                    Ordering::Less => true,
                    Ordering::Equal => !inclusive,
                    Ordering::Greater => false,
                },
                // Unreachable below a count read before.
                None => false,
            };
            if before {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}
