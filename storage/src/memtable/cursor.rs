//! Cursors over a memtable: [`MemCursor`] (stepping, no allocation) and
//! [`MemIter`] (owned entries).

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use crossbeam_epoch as epoch;

use super::key::{KeyView, Probe, tag_kind};
use super::{Memtable, Repr};
use crate::types::{Entry, Kind, Seqno};

/// Versions a cursor copies out of a skiplist by its first refill; each
/// refill doubles it, up to [`CHUNK_MAX_VERSIONS`]. A short scan copies
/// little; a long one pays the skiplist seek and the epoch pin once per
/// many versions.
pub(super) const CHUNK_FIRST_VERSIONS: usize = 16;
/// See [`CHUNK_FIRST_VERSIONS`].
pub(super) const CHUNK_MAX_VERSIONS: usize = 1024;
/// A refill stops once it has copied this many key and value bytes (but
/// always copies at least one version).
pub(super) const CHUNK_MAX_BYTES: usize = 32 << 10;

/// Where one version lies in a cursor's chunk: key at `key..value`, value
/// at `value..end`; `tag` as in [`InternalKey`].
#[derive(Clone, Copy, Debug)]
pub(super) struct Slot {
    pub(super) key: usize,
    pub(super) value: usize,
    pub(super) end: usize,
    pub(super) tag: u64,
}

impl Slot {
    pub(super) const EMPTY: Slot = Slot {
        key: 0,
        value: 0,
        end: 0,
        tag: 0,
    };
}

/// How a [`MemCursor`] walks its memtable.
pub(super) enum Walk {
    /// A skiplist: versions are copied out into the cursor's chunk a batch
    /// at a time, under one epoch pin and without touching the nodes'
    /// reference counts.
    Skip {
        slots: Vec<Slot>,
        /// Index in `slots` of the next version.
        next: usize,
        /// Where the next refill starts (exclusive), or the start bound.
        resume: Bound<(Vec<u8>, Seqno)>,
        /// Versions the next refill copies at most.
        limit: usize,
        /// No version is left after `slots`.
        exhausted: bool,
    },
    /// A sorted run: the records still to visit, `next..stop` forward, or
    /// `stop..next` from the top down when reverse. The chunk is the run's
    /// buffer itself.
    Run { next: usize, stop: usize },
}

/// A cursor over a memtable's versions within user-key bounds, in internal
/// order or its exact reverse, holding the memtable alive.
///
/// Keys and values are read in place (a sorted run's buffer) or from a
/// chunk the cursor copied them into (a skiplist), so stepping allocates
/// nothing and takes no reference; [`MemCursor::entry`] hands out slices of
/// the chunk.
pub(crate) struct MemCursor {
    mem: Arc<Memtable>,
    /// The bytes `cur` points into.
    chunk: Bytes,
    /// The current version.
    cur: Slot,
    walk: Walk,
    /// The bound that ends iteration (upper when forward, lower when reverse).
    end: Bound<Bytes>,
    reverse: bool,
}

impl MemCursor {
    pub(crate) fn new(
        mem: Arc<Memtable>,
        lower: Bound<Bytes>,
        upper: Bound<Bytes>,
        reverse: bool,
    ) -> MemCursor {
        let (walk, chunk) = match &mem.repr {
            Repr::Run(run) => {
                // Versions of one user key are ordered by seqno descending,
                // so the first version of `k` is (k, MAX) and the last (k, 0).
                let lo = match &lower {
                    Bound::Unbounded => 0,
                    Bound::Included(k) => run.seek(&Probe::new(k, Seqno::MAX), true),
                    Bound::Excluded(k) => run.seek(&Probe::new(k, 0), false),
                };
                let hi = match &upper {
                    Bound::Unbounded => run.records.len(),
                    Bound::Included(k) => run.seek(&Probe::new(k, 0), false),
                    Bound::Excluded(k) => run.seek(&Probe::new(k, Seqno::MAX), true),
                };
                let hi = hi.max(lo);
                let walk = if reverse {
                    Walk::Run { next: hi, stop: lo }
                } else {
                    Walk::Run { next: lo, stop: hi }
                };
                (walk, run.data.clone())
            }
            Repr::Skip(..) => {
                let start = match if reverse { &upper } else { &lower } {
                    Bound::Included(k) if reverse => Bound::Included((k.to_vec(), 0)),
                    Bound::Excluded(k) if reverse => Bound::Excluded((k.to_vec(), Seqno::MAX)),
                    Bound::Included(k) => Bound::Included((k.to_vec(), Seqno::MAX)),
                    Bound::Excluded(k) => Bound::Excluded((k.to_vec(), 0)),
                    Bound::Unbounded => Bound::Unbounded,
                };
                let walk = Walk::Skip {
                    slots: Vec::new(),
                    next: 0,
                    resume: start,
                    limit: CHUNK_FIRST_VERSIONS,
                    exhausted: false,
                };
                (walk, Bytes::new())
            }
        };
        MemCursor {
            mem,
            chunk,
            cur: Slot::EMPTY,
            walk,
            end: if reverse { lower } else { upper },
            reverse,
        }
    }

    /// Moves to the next version (the first one on the first call);
    /// `false` at the end.
    #[inline]
    pub(crate) fn advance(&mut self) -> bool {
        match &mut self.walk {
            Walk::Run { next, stop } => {
                let Repr::Run(run) = &self.mem.repr else {
                    return false;
                };
                let i = if self.reverse {
                    if *next == *stop {
                        return false;
                    }
                    *next -= 1;
                    *next
                } else {
                    if *next == *stop {
                        return false;
                    }
                    *next += 1;
                    *next - 1
                };
                self.cur = run.slot(i);
                true
            }
            Walk::Skip { slots, next, .. } => {
                if let Some(slot) = slots.get(*next) {
                    self.cur = *slot;
                    *next += 1;
                    return true;
                }
                self.refill()
            }
        }
    }

    /// The current version's key (only meaningful after `advance` returned
    /// `true`).
    #[inline]
    pub(crate) fn key(&self) -> &[u8] {
        &self.chunk[self.cur.key..self.cur.value]
    }

    /// The current version's value (empty for a tombstone).
    #[inline]
    pub(crate) fn value(&self) -> &[u8] {
        &self.chunk[self.cur.value..self.cur.end]
    }

    #[inline]
    pub(crate) fn seqno(&self) -> Seqno {
        self.cur.tag >> 1
    }

    #[inline]
    pub(crate) fn kind(&self) -> Kind {
        tag_kind(self.cur.tag)
    }

    /// The current version, owned (sharing the chunk's bytes).
    pub(crate) fn entry(&self) -> Entry {
        let (key, value) = self.pair();
        Entry {
            key,
            seqno: self.seqno(),
            kind: self.kind(),
            value,
        }
    }

    /// The current key and value, owned (sharing the chunk's bytes).
    #[inline]
    pub(crate) fn pair(&self) -> (Bytes, Bytes) {
        (
            self.chunk.slice(self.cur.key..self.cur.value),
            self.chunk.slice(self.cur.value..self.cur.end),
        )
    }

    /// Copies the next batch of versions out of the skiplist and moves to
    /// the first of them; `false` if there is none.
    #[cold]
    pub(super) fn refill(&mut self) -> bool {
        let Walk::Skip {
            slots,
            next,
            resume,
            limit,
            exhausted,
        } = &mut self.walk
        else {
            return false;
        };
        let Repr::Skip(list, _, tail) = &self.mem.repr else {
            return false;
        };
        slots.clear();
        slots.reserve(*limit);
        *next = 0;
        if *exhausted {
            self.chunk = Bytes::new();
            return false;
        }
        // Reuse the chunk's buffer unless entries handed out still share it.
        let mut buf = match std::mem::take(&mut self.chunk).try_into_mut() {
            Ok(mut b) => {
                b.clear();
                b
            }
            Err(_) => BytesMut::with_capacity(CHUNK_MAX_BYTES.min(*limit * 128)),
        };
        let from = match &*resume {
            Bound::Included((k, s)) => Bound::Included(Probe::new(k, *s)),
            Bound::Excluded((k, s)) => Bound::Excluded(Probe::new(k, *s)),
            Bound::Unbounded => Bound::Unbounded,
        };
        // The tail's versions from `from` on, in the walk's direction: the
        // next is at `t` going forward (up to `n`), at `t - 1` in reverse
        // (down to 0).
        let n = tail.items.count();
        let mut t = match (&from, self.reverse) {
            (Bound::Unbounded, false) => 0,
            (Bound::Unbounded, true) => n,
            (Bound::Included(p), false) => tail.seek(n, p, true),
            (Bound::Excluded(p), false) => tail.seek(n, p, false),
            (Bound::Included(p), true) => tail.seek(n, p, false),
            (Bound::Excluded(p), true) => tail.seek(n, p, true),
        };
        let from = from.as_ref().map(|p| p as &dyn KeyView);
        let guard = &epoch::pin();
        let mut node = if self.reverse {
            list.upper_bound(from, guard)
        } else {
            list.lower_bound(from, guard)
        };
        *exhausted = true;
        loop {
            let in_tail = if self.reverse {
                t.checked_sub(1).and_then(|i| tail.get(i))
            } else if t < n {
                tail.get(t)
            } else {
                None
            };
            // The next version of the two, in the walk's direction; a
            // version in both (one key written twice in a batch) is the
            // skiplist's, which came later.
            let (k, from_list, from_tail) = match (&node, in_tail) {
                (None, None) => break,
                (Some(e), None) => (e.key(), true, false),
                (None, Some(v)) => (v, false, true),
                (Some(e), Some(v)) => match (e.key().cmp(v), self.reverse) {
                    (Ordering::Equal, _) => (e.key(), true, true),
                    (Ordering::Less, false) | (Ordering::Greater, true) => (e.key(), true, false),
                    _ => (v, false, true),
                },
            };
            if slots.len() == *limit || buf.len() >= CHUNK_MAX_BYTES {
                *exhausted = false;
                break;
            }
            if past_end(k.user_key(), &self.end, self.reverse) {
                break;
            }
            let key = buf.len();
            buf.extend_from_slice(&k.kv[4..]);
            slots.push(Slot {
                key,
                value: key + k.key_len(),
                end: buf.len(),
                tag: k.tag,
            });
            if from_list && let Some(e) = &node {
                node = if self.reverse { e.prev() } else { e.next() };
            }
            if from_tail {
                if self.reverse {
                    t -= 1;
                } else {
                    t += 1;
                }
            }
        }
        *limit = (*limit * 2).min(CHUNK_MAX_VERSIONS);
        // No refill follows an exhausted one, so the resume point is only
        // kept when there may be more (a short scan allocates none).
        if !*exhausted && let Some(last) = slots.last() {
            let key = &buf[last.key..last.value];
            let seqno = last.tag >> 1;
            match resume {
                Bound::Excluded((k, s)) => {
                    k.clear();
                    k.extend_from_slice(key);
                    *s = seqno;
                }
                _ => *resume = Bound::Excluded((key.to_vec(), seqno)),
            }
        }
        self.chunk = buf.freeze();
        match slots.first() {
            Some(slot) => {
                self.cur = *slot;
                *next = 1;
                true
            }
            None => {
                *exhausted = true;
                false
            }
        }
    }
}

/// Whether `key` lies beyond `end`, the bound that ends a scan (the upper
/// bound going forward, the lower one in reverse).
#[inline]
pub(super) fn past_end(key: &[u8], end: &Bound<Bytes>, reverse: bool) -> bool {
    match (end, reverse) {
        (Bound::Unbounded, _) => false,
        (Bound::Included(e), false) => key > e.as_ref(),
        (Bound::Excluded(e), false) => key >= e.as_ref(),
        (Bound::Included(e), true) => key < e.as_ref(),
        (Bound::Excluded(e), true) => key <= e.as_ref(),
    }
}

/// A memtable's versions within user-key bounds as owned entries, in
/// internal order or its exact reverse (a [`MemCursor`] as an iterator).
pub(crate) struct MemIter(MemCursor);

impl MemIter {
    pub(crate) fn new(
        mem: Arc<Memtable>,
        lower: Bound<Bytes>,
        upper: Bound<Bytes>,
        reverse: bool,
    ) -> MemIter {
        MemIter(MemCursor::new(mem, lower, upper, reverse))
    }
}

impl Iterator for MemIter {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        self.0.advance().then(|| self.0.entry())
    }
}
