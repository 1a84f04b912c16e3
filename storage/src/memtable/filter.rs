//! The memtable's key filter: a register-blocked bloom filter over the user
//! keys of a skiplist memtable.

use std::sync::atomic::{AtomicU64, Ordering as AtomicOrdering};

use super::NODE_OVERHEAD;
use crate::sst::bloom;

/// Bytes per version assumed when sizing a key filter for a budget: the
/// node overhead plus a short key and value.
pub(super) const FILTER_BYTES_PER_KEY: usize = NODE_OVERHEAD + 24;
/// Filter bits per key a memtable's budget can hold (about 1% false
/// positives with [`FILTER_PROBES`]).
pub(super) const FILTER_BITS_PER_KEY: usize = 12;
/// Bits set and tested per key (within one word).
pub(super) const FILTER_PROBES: u32 = 5;
/// Largest key filter, in words (2 MiB, ~1.4M keys), for very large
/// budgets such as a memory-only engine's, which never rotates.
pub(super) const FILTER_MAX_WORDS: usize = (2 << 20) / 8;

/// A *register-blocked* bloom filter over the user keys of a skiplist
/// memtable: all of a key's bits fall in one 64-bit word, chosen by the high
/// half of its hash (the tables' hash, [`bloom::hash`]), so a get of a key
/// the memtable does not hold — most gets, once most data is in tables —
/// reads one word instead of walking the skiplist (a dependent cache miss
/// per level), and an insert costs one atomic OR.
///
/// Bits are only ever set, with atomic ORs, so concurrent inserts are
/// safe. A key's bits are set before [`Memtable::insert`] returns, and a
/// reader only needs versions whose batch became visible (the engine's
/// visible sequence number, published after the batch's inserts) before it
/// read, so it never misses one. A reader may see a version whose bits it
/// does not see yet only if that version belongs to a batch it must not see.
pub(super) struct KeyFilter {
    pub(super) words: Box<[AtomicU64]>,
}

impl KeyFilter {
    /// A filter sized for the keys a memtable of `budget` bytes holds.
    pub(super) fn for_budget(budget: usize) -> KeyFilter {
        let bits = (budget / FILTER_BYTES_PER_KEY).saturating_mul(FILTER_BITS_PER_KEY);
        let words = bits.div_ceil(64).clamp(1, FILTER_MAX_WORDS);
        KeyFilter {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The word and the bits of `hash`.
    #[inline]
    pub(super) fn bits(&self, hash: u64) -> (&AtomicU64, u64) {
        let mut mask = 0u64;
        let mut h = hash as u32;
        for _ in 0..FILTER_PROBES {
            mask |= 1 << (h >> 26);
            h = h.wrapping_mul(0x9E37_79B9);
        }
        // `block_of` is below the word count.
        (&self.words[bloom::block_of(hash, self.words.len())], mask)
    }

    /// Starts adding `hash`: reads its word now, so that the cache miss
    /// overlaps the skiplist insert; [`PendingBits::set`] finishes.
    #[inline]
    pub(super) fn begin_insert(&self, hash: u64) -> PendingBits<'_> {
        let (word, mask) = self.bits(hash);
        PendingBits {
            word,
            mask,
            seen: word.load(AtomicOrdering::Relaxed),
        }
    }

    /// False only if no key with this hash was inserted.
    #[inline]
    pub(super) fn may_contain(&self, hash: u64) -> bool {
        let (word, mask) = self.bits(hash);
        word.load(AtomicOrdering::Acquire) & mask == mask
    }
}

/// A key's filter bits, read but not yet set ([`KeyFilter::begin_insert`]).
pub(super) struct PendingBits<'a> {
    pub(super) word: &'a AtomicU64,
    pub(super) mask: u64,
    /// The word as read: bits are never cleared, so any set here still are.
    pub(super) seen: u64,
}

impl PendingBits<'_> {
    pub(super) fn set(self) {
        // Skip the atomic read-modify-write when the bits are set.
        if self.seen & self.mask != self.mask {
            self.word.fetch_or(self.mask, AtomicOrdering::Release);
        }
    }
}
