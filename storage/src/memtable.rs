//! The in-memory write buffer: a concurrent ordered map of versions.
//!
//! Keys are (user key, sequence number) in internal order, so the newest
//! version of a key comes first. Writers insert under the engine's write
//! lock while any number of readers look up and iterate without locks
//! (crossbeam's epoch-based skiplist). A memtable is "frozen" by the engine
//! once it reaches its byte budget and is then only read until flushed.
//!
//! Versions that arrive in internal order — ascending keys, as in a bulk
//! load with increasing primary keys — skip the skiplist: they are appended
//! to the memtable's [`Tail`], an append-only array, at constant cost, and
//! readers merge the two (a get checks both, a cursor interleaves them).
//! On a 1000-row-batch load of increasing keys this took the skiplist
//! search (about half of the write path) out of the profile.
//!
//! A memtable can also be a *sorted run* ([`Memtable::from_sorted`]): an
//! immutable array of versions already in internal order, built by bulk
//! ingest from a chunk of batches. It holds the chunk's keys and values in
//! one buffer and a fixed-size record per version, answers the same reads
//! by binary search, and is flushed like any frozen memtable; it is never
//! the active memtable, so nothing is inserted into it.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering};

use bytes::{Bytes, BytesMut};
use crossbeam_epoch as epoch;
use crossbeam_skiplist::SkipList;

use crate::flush::TableInput;
use crate::sst::bloom;
use crate::types::{Entry, Kind, Seqno, compare_keys, key_prefix};

/// Approximate bytes a skiplist node costs beyond its key and value.
const NODE_OVERHEAD: usize = 72;
/// Bytes per version assumed when sizing a key filter for a budget: the
/// node overhead plus a short key and value.
const FILTER_BYTES_PER_KEY: usize = NODE_OVERHEAD + 24;
/// Filter bits per key a memtable's budget can hold (about 1% false
/// positives with [`FILTER_PROBES`]).
const FILTER_BITS_PER_KEY: usize = 12;
/// Bits set and tested per key (within one word).
const FILTER_PROBES: u32 = 5;
/// Largest key filter, in words (2 MiB, ~1.4M keys), for very large
/// budgets such as a memory-only engine's, which never rotates.
const FILTER_MAX_WORDS: usize = (2 << 20) / 8;
/// Sequence numbers must fit in 63 bits: the kind shares their word.
pub(crate) const MAX_SEQNO: Seqno = (1 << 63) - 1;
/// Versions a cursor copies out of a skiplist by its first refill; each
/// refill doubles it, up to [`CHUNK_MAX_VERSIONS`]. A short scan copies
/// little; a long one pays the skiplist seek and the epoch pin once per
/// many versions.
const CHUNK_FIRST_VERSIONS: usize = 16;
/// See [`CHUNK_FIRST_VERSIONS`].
const CHUNK_MAX_VERSIONS: usize = 1024;
/// A refill stops once it has copied this many key and value bytes (but
/// always copies at least one version).
const CHUNK_MAX_BYTES: usize = 32 << 10;

/// A version inside the skiplist: the node's whole key, and the map's value
/// is `()`.
///
/// Laid out so that a skiplist node (this key, crossbeam's reference count
/// and the first tower pointers) fits one 64-byte cache line: the walk of
/// an insert or lookup then costs one miss per node visited (~150 ns each on
/// the machines we measure on) instead of two. The first 16 key bytes are
/// inline, so most comparisons never touch `kv`.
struct InternalKey {
    /// The first 16 key bytes, zero-padded, as two big-endian halves.
    prefix: [u64; 2],
    /// `seqno << 1 | kind`.
    tag: u64,
    /// `[key length u32 LE][key][value]`.
    kv: Box<[u8]>,
}

impl InternalKey {
    fn new(key: &[u8], seqno: Seqno, kind: Kind, value: &[u8]) -> InternalKey {
        let mut kv = Vec::with_capacity(4 + key.len() + value.len());
        kv.extend_from_slice(&(key.len() as u32).to_le_bytes());
        kv.extend_from_slice(key);
        kv.extend_from_slice(value);
        let prefix = key_prefix(key);
        InternalKey {
            prefix: [(prefix >> 64) as u64, prefix as u64],
            tag: seqno << 1 | kind as u64,
            kv: kv.into_boxed_slice(),
        }
    }

    fn key_len(&self) -> usize {
        let mut len = [0u8; 4];
        len.copy_from_slice(&self.kv[..4]);
        u32::from_le_bytes(len) as usize
    }

    fn kind(&self) -> Kind {
        if self.tag & 1 == 1 {
            Kind::Put
        } else {
            Kind::Delete
        }
    }

    fn value(&self) -> &[u8] {
        &self.kv[4 + self.key_len()..]
    }
}

/// A borrowed view of an internal key, so lookups need no allocation.
trait KeyView {
    fn prefix(&self) -> u128;
    fn user_key(&self) -> &[u8];
    fn seqno(&self) -> Seqno;
}

impl KeyView for InternalKey {
    fn prefix(&self) -> u128 {
        u128::from(self.prefix[0]) << 64 | u128::from(self.prefix[1])
    }
    fn user_key(&self) -> &[u8] {
        &self.kv[4..4 + self.key_len()]
    }
    fn seqno(&self) -> Seqno {
        self.tag >> 1
    }
}

/// A lookup key: a borrowed user key with its prefix computed once.
struct Probe<'a> {
    prefix: u128,
    key: &'a [u8],
    seqno: Seqno,
}

impl<'a> Probe<'a> {
    fn new(key: &'a [u8], seqno: Seqno) -> Probe<'a> {
        Probe {
            prefix: key_prefix(key),
            key,
            seqno,
        }
    }
}

impl KeyView for Probe<'_> {
    fn prefix(&self) -> u128 {
        self.prefix
    }
    fn user_key(&self) -> &[u8] {
        self.key
    }
    fn seqno(&self) -> Seqno {
        self.seqno
    }
}

/// Internal order using the inline prefixes first.
#[inline]
fn view_cmp(a: &(impl KeyView + ?Sized), b: &(impl KeyView + ?Sized)) -> Ordering {
    let by_key = match a.prefix().cmp(&b.prefix()) {
        Ordering::Equal => {
            let (ak, bk) = (a.user_key(), b.user_key());
            if ak.len() <= 16 && bk.len() <= 16 {
                ak.len().cmp(&bk.len())
            } else {
                compare_keys(ak, bk)
            }
        }
        other => other,
    };
    by_key.then_with(|| b.seqno().cmp(&a.seqno()))
}

impl<'a> Borrow<dyn KeyView + 'a> for InternalKey {
    fn borrow(&self) -> &(dyn KeyView + 'a) {
        self
    }
}

impl Ord for dyn KeyView + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        view_cmp(self, other)
    }
}
impl PartialOrd for dyn KeyView + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for dyn KeyView + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for dyn KeyView + '_ {}

impl Ord for InternalKey {
    fn cmp(&self, other: &Self) -> Ordering {
        view_cmp(self, other)
    }
}
impl PartialOrd for InternalKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl PartialEq for InternalKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for InternalKey {}

/// One version of a sorted run: its key's inline prefix and tag as in
/// [`InternalKey`], and where its key and value lie in the run's buffer
/// (the value follows the key).
#[derive(Clone, Copy)]
struct RunRecord {
    /// The first 16 key bytes, zero-padded, as two big-endian halves.
    prefix: [u64; 2],
    /// `seqno << 1 | kind`.
    tag: u64,
    /// Offset of the key in the run's buffer.
    offset: usize,
    key_len: u32,
    value_len: u32,
}

/// An immutable run of versions in internal order (see the module docs).
struct SortedRun {
    /// Every version's key then value, in record order; shared with the
    /// entries cursors hand out.
    data: Bytes,
    records: Vec<RunRecord>,
}

/// A record of a run together with the run's buffer, as a [`KeyView`].
struct RunKey<'a> {
    rec: &'a RunRecord,
    data: &'a [u8],
}

impl KeyView for RunKey<'_> {
    fn prefix(&self) -> u128 {
        u128::from(self.rec.prefix[0]) << 64 | u128::from(self.rec.prefix[1])
    }
    fn user_key(&self) -> &[u8] {
        &self.data[self.rec.offset..self.rec.offset + self.rec.key_len as usize]
    }
    fn seqno(&self) -> Seqno {
        self.rec.tag >> 1
    }
}

/// One version of a sorted run, borrowed: what a flush writes.
pub(crate) struct RunVersion<'a> {
    key: &'a [u8],
    value: &'a [u8],
    tag: u64,
}

impl TableInput for RunVersion<'_> {
    fn key(&self) -> &[u8] {
        self.key
    }
    fn seqno(&self) -> Seqno {
        self.tag >> 1
    }
    fn kind(&self) -> Kind {
        tag_kind(self.tag)
    }
    fn value(&self) -> &[u8] {
        self.value
    }
}

fn tag_kind(tag: u64) -> Kind {
    if tag & 1 == 1 {
        Kind::Put
    } else {
        Kind::Delete
    }
}

impl SortedRun {
    fn version(&self, rec: &RunRecord) -> RunVersion<'_> {
        let key_end = rec.offset + rec.key_len as usize;
        RunVersion {
            key: &self.data[rec.offset..key_end],
            value: &self.data[key_end..key_end + rec.value_len as usize],
            tag: rec.tag,
        }
    }

    /// Where record `i` lies in `data`, as a cursor's [`Slot`].
    #[inline]
    fn slot(&self, i: usize) -> Slot {
        let rec = &self.records[i];
        let value = rec.offset + rec.key_len as usize;
        Slot {
            key: rec.offset,
            value,
            end: value + rec.value_len as usize,
            tag: rec.tag,
        }
    }

    /// Index of the first record not ordered before `probe` (`inclusive`)
    /// or after it (not `inclusive`): the start of `[probe, ..)` or of
    /// `(probe, ..)`.
    fn seek(&self, probe: &Probe<'_>, inclusive: bool) -> usize {
        self.records.partition_point(|rec| {
            let ord = view_cmp(
                &RunKey {
                    rec,
                    data: &self.data,
                },
                probe,
            );
            ord == Ordering::Less || (!inclusive && ord == Ordering::Equal)
        })
    }
}

/// Bytes a record of a run costs, for [`Memtable::approximate_bytes`].
const RUN_RECORD_BYTES: usize = std::mem::size_of::<RunRecord>();

/// Internal order of two records of one run's buffer, and between the
/// versions of one key and seqno (a batch writing a key twice) the later
/// write, which lies further into the buffer, first (offsets grow strictly
/// with every version pushed, even an empty one).
fn run_order(data: &[u8], a: &RunRecord, b: &RunRecord) -> Ordering {
    view_cmp(&RunKey { rec: a, data }, &RunKey { rec: b, data }).then(b.offset.cmp(&a.offset))
}

/// Records with fewer versions are sorted on one thread (small enough that
/// the model tests exercise both paths).
const PARALLEL_SORT_MIN: usize = 32;

/// One part's slice of a run's buffer, filled by one thread
/// ([`RunBuilder::fill_parallel`]).
pub(crate) struct RunSink<'a> {
    buf: &'a mut [u8],
    /// Offset of `buf` in the run's buffer.
    base: usize,
    pos: usize,
    records: Vec<RunRecord>,
}

impl RunSink<'_> {
    /// Adds a version, as [`RunBuilder::push`] does.
    ///
    /// # Panics
    ///
    /// When the key and value do not fit the rest of the slice.
    pub(crate) fn push(&mut self, key: &[u8], seqno: Seqno, kind: Kind, value: &[u8]) {
        debug_assert!(seqno <= MAX_SEQNO);
        // Offsets must grow strictly: they order writes of one key by one
        // batch (see `run_order`); an empty key and value take a byte.
        let end = self.pos + (key.len() + value.len()).max(1);
        self.buf[self.pos..self.pos + key.len()].copy_from_slice(key);
        self.buf[self.pos + key.len()..self.pos + key.len() + value.len()].copy_from_slice(value);
        let prefix = key_prefix(key);
        self.records.push(RunRecord {
            prefix: [(prefix >> 64) as u64, prefix as u64],
            tag: seqno << 1 | kind as u64,
            offset: self.base + self.pos,
            key_len: key.len() as u32,
            value_len: value.len() as u32,
        });
        self.pos = end;
    }
}

/// Collects the versions of a chunk of batches, in log order, into the
/// buffer and records of a future sorted run ([`RunBuilder::finish`]).
pub(crate) struct RunBuilder {
    data: Vec<u8>,
    records: Vec<RunRecord>,
}

impl RunBuilder {
    /// A builder with room for `bytes` of keys and values and `versions`
    /// versions.
    pub(crate) fn with_capacity(bytes: usize, versions: usize) -> RunBuilder {
        RunBuilder {
            data: Vec::with_capacity(bytes),
            records: Vec::with_capacity(versions),
        }
    }

    /// Adds a version. Versions must come in log order: sequence numbers
    /// never decrease, and of two writes of a key by one batch the later is
    /// added later (and wins). Key and value lengths must fit in 32 bits
    /// (a batch's encoding guarantees it).
    pub(crate) fn push(&mut self, key: &[u8], seqno: Seqno, kind: Kind, value: &[u8]) {
        debug_assert!(seqno <= MAX_SEQNO);
        let prefix = key_prefix(key);
        self.records.push(RunRecord {
            prefix: [(prefix >> 64) as u64, prefix as u64],
            tag: seqno << 1 | kind as u64,
            offset: self.data.len(),
            key_len: key.len() as u32,
            value_len: value.len() as u32,
        });
        self.data.extend_from_slice(key);
        self.data.extend_from_slice(value);
        if key.is_empty() && value.is_empty() {
            // Offsets must grow strictly: they order writes of one key by
            // one batch (see `run_order`).
            self.data.push(0);
        }
    }

    /// Collects the versions of `parts` in parallel, one thread per part:
    /// `fill` pushes a part's versions (in log order) into its own slice of
    /// the run's buffer, of `capacity(part)` bytes, which must be at least
    /// the part's key and value bytes, at least one per version (a batch's
    /// encoded size is); a part
    /// that overfills its slice panics. Parts must be in log order too.
    pub(crate) fn fill_parallel<P: Sync>(
        parts: &[P],
        capacity: impl Fn(&P) -> usize,
        fill: impl Fn(&P, &mut RunSink<'_>) + Sync,
    ) -> RunBuilder {
        let sizes: Vec<usize> = parts.iter().map(capacity).collect();
        // Zeroed by the allocator lazily (fresh pages), then faulted in by
        // the threads that fill them.
        let mut data = vec![0u8; sizes.iter().sum()];
        let mut sinks = Vec::with_capacity(parts.len());
        let mut rest: &mut [u8] = &mut data;
        let mut base = 0;
        for size in &sizes {
            let (head, tail) = rest.split_at_mut(*size);
            sinks.push(RunSink {
                buf: head,
                base,
                pos: 0,
                records: Vec::new(),
            });
            base += size;
            rest = tail;
        }
        let fill = &fill;
        let parts_records: Vec<Vec<RunRecord>> = std::thread::scope(|s| {
            let mut work = parts.iter().zip(sinks);
            let first = work.next();
            let handles: Vec<_> = work
                .map(|(p, mut sink)| {
                    s.spawn(move || {
                        fill(p, &mut sink);
                        sink.records
                    })
                })
                .collect();
            let mut all = Vec::with_capacity(parts.len());
            if let Some((p, mut sink)) = first {
                fill(p, &mut sink);
                all.push(sink.records);
            }
            for h in handles {
                all.push(
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                );
            }
            all
        });
        let mut records = Vec::with_capacity(parts_records.iter().map(Vec::len).sum());
        for r in parts_records {
            records.extend_from_slice(&r);
        }
        RunBuilder { data, records }
    }

    /// Sorts the versions into internal order, keeps the last write of each
    /// key and seqno, and builds the run (see [`Memtable::from_sorted`]).
    ///
    /// Large runs are cut in two around their middle version and both
    /// halves sorted at once (when the machine has more than one core):
    /// the sort is most of an ingest's work.
    pub(crate) fn finish(self, max_seqno: Seqno) -> Memtable {
        let RunBuilder { data, mut records } = self;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores < 2 || records.len() < PARALLEL_SORT_MIN {
            records.sort_unstable_by(|a, b| run_order(&data, a, b));
        } else {
            let mid = records.len() / 2;
            records.select_nth_unstable_by(mid, |a, b| run_order(&data, a, b));
            let (left, right) = records.split_at_mut(mid);
            let data = &data;
            std::thread::scope(|s| {
                let other = s.spawn(|| right.sort_unstable_by(|a, b| run_order(data, a, b)));
                left.sort_unstable_by(|a, b| run_order(data, a, b));
                other
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            });
        }
        // Equal keys and seqnos are adjacent now, the later write first;
        // `dedup_by` keeps the first of a run of equal records.
        records.dedup_by(|later, earlier| {
            later.tag >> 1 == earlier.tag >> 1
                && view_cmp(
                    &RunKey {
                        rec: later,
                        data: &data,
                    },
                    &RunKey {
                        rec: earlier,
                        data: &data,
                    },
                ) == Ordering::Equal
        });
        Memtable::from_sorted(data.into_boxed_slice(), records, max_seqno)
    }
}

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
struct Tail {
    items: boxcar::Vec<InternalKey>,
}

impl Tail {
    fn last(&self) -> Option<&InternalKey> {
        self.items
            .count()
            .checked_sub(1)
            .and_then(|i| self.items.get(i))
    }

    fn get(&self, i: usize) -> Option<&InternalKey> {
        self.items.get(i)
    }

    /// The first index below `n` (a count read before) whose version is at
    /// or after `probe` (after it when not `inclusive`); `n` if none.
    fn seek(&self, n: usize, probe: &Probe<'_>, inclusive: bool) -> usize {
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
struct KeyFilter {
    words: Box<[AtomicU64]>,
}

impl KeyFilter {
    /// A filter sized for the keys a memtable of `budget` bytes holds.
    fn for_budget(budget: usize) -> KeyFilter {
        let bits = (budget / FILTER_BYTES_PER_KEY).saturating_mul(FILTER_BITS_PER_KEY);
        let words = bits.div_ceil(64).clamp(1, FILTER_MAX_WORDS);
        KeyFilter {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The word and the bits of `hash`.
    #[inline]
    fn bits(&self, hash: u64) -> (&AtomicU64, u64) {
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
    fn begin_insert(&self, hash: u64) -> PendingBits<'_> {
        let (word, mask) = self.bits(hash);
        PendingBits {
            word,
            mask,
            seen: word.load(AtomicOrdering::Relaxed),
        }
    }

    /// False only if no key with this hash was inserted.
    #[inline]
    fn may_contain(&self, hash: u64) -> bool {
        let (word, mask) = self.bits(hash);
        word.load(AtomicOrdering::Acquire) & mask == mask
    }
}

/// A key's filter bits, read but not yet set ([`KeyFilter::begin_insert`]).
struct PendingBits<'a> {
    word: &'a AtomicU64,
    mask: u64,
    /// The word as read: bits are never cleared, so any set here still are.
    seen: u64,
}

impl PendingBits<'_> {
    fn set(self) {
        // Skip the atomic read-modify-write when the bits are set.
        if self.seen & self.mask != self.mask {
            self.word.fetch_or(self.mask, AtomicOrdering::Release);
        }
    }
}

/// The two ways a memtable holds its versions.
// The skiplist is large (cache-padded heads); boxing it would add a pointer
// chase to every write, while a run only wastes a few hundred bytes of the
// handful of memtables alive at once.
#[allow(clippy::large_enum_variant)]
enum Repr {
    /// The active (and later frozen) write buffer: a skiplist, a filter of
    /// its keys and an append-only [`Tail`].
    Skip(SkipList<InternalKey, ()>, KeyFilter, Tail),
    /// An immutable sorted run built by ingest.
    Run(SortedRun),
}

/// The write buffer: a concurrent skiplist, or an immutable sorted run.
pub(crate) struct Memtable {
    repr: Repr,
    bytes: AtomicUsize,
    max_seqno: AtomicU64,
}

impl Memtable {
    /// An empty skiplist memtable for about `budget` bytes of versions (which
    /// sizes its key filter; more may be inserted).
    pub(crate) fn new(budget: usize) -> Memtable {
        Memtable {
            repr: Repr::Skip(
                SkipList::new(epoch::default_collector().clone()),
                KeyFilter::for_budget(budget),
                Tail::default(),
            ),
            bytes: AtomicUsize::new(0),
            max_seqno: AtomicU64::new(0),
        }
    }

    /// An immutable sorted run over `data`: `records` (each a key with its
    /// value right after it in `data`) must be in internal order (key
    /// ascending, seqno descending) with one version per key and seqno.
    /// `max_seqno` is the highest sequence number the run stands for: its
    /// last batch's, even if that batch had no operations, so flushing the
    /// run advances the flushed sequence number past it.
    ///
    /// Usually built by [`RunBuilder`].
    fn from_sorted(data: Box<[u8]>, records: Vec<RunRecord>, max_seqno: Seqno) -> Memtable {
        debug_assert!(max_seqno <= MAX_SEQNO);
        debug_assert!(records.windows(2).all(|w| view_cmp(
            &RunKey {
                rec: &w[0],
                data: &data
            },
            &RunKey {
                rec: &w[1],
                data: &data
            }
        ) == Ordering::Less));
        let bytes = data.len() + records.len() * RUN_RECORD_BYTES;
        Memtable {
            repr: Repr::Run(SortedRun {
                data: Bytes::from(data),
                records,
            }),
            bytes: AtomicUsize::new(bytes),
            max_seqno: AtomicU64::new(max_seqno),
        }
    }

    /// The versions of a sorted run in internal order, borrowed (`None` for
    /// a skiplist memtable): lets a flush write a run without copying.
    pub(crate) fn run_versions(&self) -> Option<impl Iterator<Item = RunVersion<'_>>> {
        match &self.repr {
            Repr::Skip(..) => None,
            Repr::Run(run) => Some(run.records.iter().map(|r| run.version(r))),
        }
    }

    /// Adds one version. Callers serialise inserts (the engine's write lock);
    /// a second insert of the same key and seqno replaces the first, which is
    /// how "last write in a batch wins" falls out.
    ///
    /// Gets rely on the memtable's key filter, so a version must become
    /// visible to readers (the engine's visible sequence number) only after
    /// its `insert` returned.
    ///
    /// `seqno` must not exceed [`MAX_SEQNO`] (the engine checks). Returns
    /// false, inserting nothing, on a sorted run: runs are immutable and
    /// never the active memtable, so the engine treats that as a bug report,
    /// not a panic.
    #[must_use]
    pub(crate) fn insert(&self, key: &[u8], seqno: Seqno, kind: Kind, value: &[u8]) -> bool {
        debug_assert!(seqno <= MAX_SEQNO);
        let Repr::Skip(map, filter, tail) = &self.repr else {
            return false;
        };
        let bits = filter.begin_insert(bloom::hash(key));
        let size = key.len() + value.len() + NODE_OVERHEAD;
        let version = InternalKey::new(key, seqno, kind, value);
        // Versions that come in internal order (ascending keys: the usual
        // bulk load) are appended to the tail; the rest go into the
        // skiplist.
        let append = match tail.last() {
            Some(last) => version > *last,
            None => map.is_empty(),
        };
        if append {
            tail.items.push(version);
        } else {
            let guard = &epoch::pin();
            map.insert(version, (), guard).release(guard);
        }
        // Readers rely on the filter only for versions of batches made
        // visible after this returns (see `KeyFilter`), so the bits may be
        // set after the node is linked.
        bits.set();
        // Inserts are serialised by the engine's write lock, so a plain load
        // and store will do; the batch's seqno is noted once, by the caller
        // (`note_seqno`).
        let bytes = self.bytes.load(AtomicOrdering::Relaxed);
        self.bytes.store(bytes + size, AtomicOrdering::Relaxed);
        true
    }

    /// Records that the batch `seqno` went into this memtable (even one with
    /// no operations, so flushing still advances the flushed sequence
    /// number). Called once per batch, after its inserts.
    pub(crate) fn note_seqno(&self, seqno: Seqno) {
        self.max_seqno.fetch_max(seqno, AtomicOrdering::Relaxed);
    }

    /// Approximate memory held, in bytes.
    pub(crate) fn approximate_bytes(&self) -> usize {
        self.bytes.load(AtomicOrdering::Relaxed)
    }

    pub(crate) fn is_empty(&self) -> bool {
        match &self.repr {
            Repr::Skip(map, _, tail) => map.is_empty() && tail.items.is_empty(),
            Repr::Run(run) => run.records.is_empty(),
        }
    }

    /// Highest sequence number inserted so far (0 when empty).
    pub(crate) fn max_seqno(&self) -> Seqno {
        self.max_seqno.load(AtomicOrdering::Relaxed)
    }

    /// The newest version of `key` with a sequence number `<= seqno`.
    pub(crate) fn get(&self, key: &[u8], seqno: Seqno) -> Option<(Kind, Bytes)> {
        let probe = Probe::new(key, seqno);
        let (map, tail) = match &self.repr {
            Repr::Skip(map, filter, tail) => {
                // An empty memtable (just after a rotation) needs no hash.
                if self.is_empty() || !filter.may_contain(bloom::hash(key)) {
                    return None;
                }
                (map, tail)
            }
            Repr::Run(run) => {
                let i = run.seek(&probe, true);
                let found = run.records.get(i).map(|r| run.version(r))?;
                if found.key != key {
                    return None;
                }
                return Some((found.kind(), Bytes::copy_from_slice(found.value)));
            }
        };
        let guard = &epoch::pin();
        let in_map = map
            .lower_bound(Bound::Included(&probe as &dyn KeyView), guard)
            .filter(|e| e.key().user_key() == key);
        let n = tail.items.count();
        let in_tail = tail
            .get(tail.seek(n, &probe, true))
            .filter(|v| v.user_key() == key);
        // Both hold the newest version visible at `seqno` of their own;
        // the newer wins, and on a tie (a key written twice in one batch)
        // the skiplist's, which came later.
        let found = match (&in_map, in_tail) {
            (Some(e), Some(t)) if t.seqno() > e.key().seqno() => t,
            (Some(e), _) => e.key(),
            (None, Some(t)) => t,
            (None, None) => return None,
        };
        Some((found.kind(), Bytes::copy_from_slice(found.value())))
    }
}

/// Where one version lies in a cursor's chunk: key at `key..value`, value
/// at `value..end`; `tag` as in [`InternalKey`].
#[derive(Clone, Copy, Debug)]
struct Slot {
    key: usize,
    value: usize,
    end: usize,
    tag: u64,
}

impl Slot {
    const EMPTY: Slot = Slot {
        key: 0,
        value: 0,
        end: 0,
        tag: 0,
    };
}

/// How a [`MemCursor`] walks its memtable.
enum Walk {
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
    fn refill(&mut self) -> bool {
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
fn past_end(key: &[u8], end: &Bound<Bytes>, reverse: bool) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Bytes {
        Bytes::copy_from_slice(s.as_bytes())
    }

    #[test]
    fn get_sees_newest_visible_version() {
        let m = Memtable::new(1 << 20);
        assert!(m.insert(b"a", 1, Kind::Put, b"1"));
        assert!(m.insert(b"a", 3, Kind::Put, b"3"));
        assert!(m.insert(b"a", 5, Kind::Delete, b""));
        assert!(m.insert(b"b", 7, Kind::Put, b"first"));
        assert!(m.insert(b"b", 7, Kind::Put, b"second"));
        assert_eq!(
            m.get(b"b", 9),
            Some((Kind::Put, b("second"))),
            "a batch's last write wins"
        );
        assert_eq!(m.get(b"a", 0), None);
        assert_eq!(m.get(b"a", 2), Some((Kind::Put, b("1"))));
        assert_eq!(m.get(b"a", 4), Some((Kind::Put, b("3"))));
        assert_eq!(m.get(b"a", 9), Some((Kind::Delete, Bytes::new())));
        assert_eq!(m.get(b"c", 9), None);
        assert_eq!(m.get(b"", 9), None);
    }

    #[test]
    fn key_filter_has_no_false_negatives_and_few_false_positives() {
        let n = 20_000;
        let f = KeyFilter::for_budget(n * FILTER_BYTES_PER_KEY);
        let h = |s: String| bloom::hash(s.as_bytes());
        // Concurrent inserts lose no bits.
        std::thread::scope(|s| {
            for t in 0..4 {
                let f = &f;
                s.spawn(move || {
                    for i in (t..n).step_by(4) {
                        f.begin_insert(h(format!("key{i}"))).set();
                    }
                });
            }
        });
        assert!((0..n).all(|i| f.may_contain(h(format!("key{i}")))));
        let fp = (0..n)
            .filter(|i| f.may_contain(h(format!("other{i}"))))
            .count();
        let rate = fp as f64 / n as f64;
        assert!(rate < 0.02, "false-positive rate {rate}");
        // A tiny budget still gets a (saturating, never wrong) filter.
        let tiny = KeyFilter::for_budget(0);
        tiny.begin_insert(h("a".into())).set();
        assert!(tiny.may_contain(h("a".into())));
    }

    #[test]
    fn iter_respects_bounds_both_directions() {
        let m = Arc::new(Memtable::new(1 << 20));
        let mut seq = 0;
        for k in 0..1000u32 {
            for _ in 0..2 {
                seq += 1;
                assert!(m.insert(&k.to_be_bytes(), seq, Kind::Put, b""));
            }
        }
        let key = |k: u32| Bytes::copy_from_slice(&k.to_be_bytes());
        let fwd: Vec<Entry> = MemIter::new(
            m.clone(),
            Bound::Included(key(10)),
            Bound::Excluded(key(500)),
            false,
        )
        .collect();
        assert_eq!(fwd.len(), 490 * 2);
        assert_eq!(fwd[0].key, key(10));
        assert!(fwd[0].seqno > fwd[1].seqno);
        let mut rev: Vec<Entry> = MemIter::new(
            m.clone(),
            Bound::Included(key(10)),
            Bound::Excluded(key(500)),
            true,
        )
        .collect();
        rev.reverse();
        assert_eq!(fwd, rev);
        let ex: Vec<Entry> = MemIter::new(
            m.clone(),
            Bound::Excluded(key(10)),
            Bound::Included(key(12)),
            false,
        )
        .collect();
        assert_eq!(ex.len(), 4);
        assert_eq!(ex[0].key, key(11));
        let all = MemIter::new(m, Bound::Unbounded, Bound::Unbounded, true).count();
        assert_eq!(all, 2000);
    }

    fn all(m: &Arc<Memtable>, lower: Bound<Bytes>, upper: Bound<Bytes>, rev: bool) -> Vec<Entry> {
        MemIter::new(m.clone(), lower, upper, rev).collect()
    }

    proptest::proptest! {
        /// A sorted run answers every read as a skiplist memtable holding
        /// the same versions does, however its input is cut into parts.
        #[test]
        fn sorted_run_reads_like_the_skiplist(
            ops in proptest::collection::vec(
                (proptest::collection::vec(0u8..3, 0..20), 1u64..40, proptest::bool::ANY,
                 proptest::collection::vec(proptest::num::u8::ANY, 0..4)),
                0..300),
            probes in proptest::collection::vec(
                (proptest::collection::vec(0u8..3, 0..20), 0u64..45), 20),
        ) {
            // Log order: seqnos never decrease.
            let mut ops = ops;
            ops.sort_by_key(|op| op.1);
            let skip = Arc::new(Memtable::new(1 << 20));
            let mut builder = RunBuilder::with_capacity(0, 0);
            for (k, s, put, v) in &ops {
                // Deletes carry no value (the engine stores none).
                let (kind, v) = if *put { (Kind::Put, &v[..]) } else { (Kind::Delete, &[][..]) };
                assert!(skip.insert(k, *s, kind, v));
                builder.push(k, *s, kind, v);
            }
            let run = Arc::new(builder.finish(50));
            proptest::prop_assert!(!run.insert(b"k", 51, Kind::Put, b"v"), "a run refuses inserts");
            proptest::prop_assert_eq!(run.is_empty(), skip.is_empty());
            proptest::prop_assert_eq!(run.max_seqno(), 50);
            for (k, s) in &probes {
                proptest::prop_assert_eq!(run.get(k, *s), skip.get(k, *s));
            }
            let b = |k: &Vec<u8>| Bytes::copy_from_slice(k);
            for rev in [false, true] {
                proptest::prop_assert_eq!(
                    all(&run, Bound::Unbounded, Bound::Unbounded, rev),
                    all(&skip, Bound::Unbounded, Bound::Unbounded, rev)
                );
                for w in probes.windows(2) {
                    let (lo, hi) = (&w[0].0, &w[1].0);
                    for (l, u) in [
                        (Bound::Included(b(lo)), Bound::Excluded(b(hi))),
                        (Bound::Excluded(b(lo)), Bound::Included(b(hi))),
                        (Bound::Included(b(lo)), Bound::Unbounded),
                        (Bound::Unbounded, Bound::Excluded(b(hi))),
                    ] {
                        proptest::prop_assert_eq!(
                            all(&run, l.clone(), u.clone(), rev),
                            all(&skip, l, u, rev)
                        );
                    }
                }
            }
            let flushed: Vec<(Vec<u8>, Seqno, Kind, Vec<u8>)> = run
                .run_versions()
                .map(|it| it.map(|v| (v.key().to_vec(), v.seqno(), v.kind(), v.value().to_vec())).collect())
                .unwrap_or_default();
            let want: Vec<(Vec<u8>, Seqno, Kind, Vec<u8>)> =
                all(&skip, Bound::Unbounded, Bound::Unbounded, false)
                    .into_iter()
                    .map(|e| (e.key.to_vec(), e.seqno, e.kind, e.value.to_vec()))
                    .collect();
            proptest::prop_assert_eq!(flushed, want);
            proptest::prop_assert!(skip.run_versions().is_none());
        }

        /// A skiplist memtable — whose ascending writes go to its append-only
        /// tail and the rest to the skiplist — reads like a model map:
        /// ascending runs, random keys and keys written twice in a batch,
        /// every get and every bounded scan in both directions.
        #[test]
        fn skiplist_and_tail_read_like_a_model(
            batches in proptest::collection::vec(
                (proptest::bool::ANY, 0u16..600, 1usize..40, proptest::bool::ANY, proptest::bool::ANY),
                1..25),
            probes in proptest::collection::vec((0u16..700, 0u64..200), 30),
        ) {
            use std::collections::BTreeMap;
            // (key, Reverse(seqno)) orders like internal keys.
            type Model = BTreeMap<(Vec<u8>, std::cmp::Reverse<Seqno>), (Kind, Vec<u8>)>;
            let mut model = Model::new();
            let m = Arc::new(Memtable::new(1 << 20));
            let mut seqno = 0;
            for (ascending, start, len, twice, delete) in batches {
                seqno += 1;
                for i in 0..len {
                    let k = if ascending { start as usize + i } else { (start as usize * 7 + i * 131) % 650 };
                    let key = (k as u16).to_be_bytes().to_vec();
                    let writes = if twice && i % 5 == 0 { 2 } else { 1 };
                    for w in 0..writes {
                        let (kind, value) = if delete && i % 3 == 0 && w == writes - 1 {
                            (Kind::Delete, Vec::new())
                        } else {
                            (Kind::Put, format!("{seqno}.{i}.{w}").into_bytes())
                        };
                        assert!(m.insert(&key, seqno, kind, &value));
                        model.insert((key.clone(), std::cmp::Reverse(seqno)), (kind, value));
                    }
                }
                m.note_seqno(seqno);
            }
            let want_get = |k: &[u8], s: Seqno| {
                model
                    .range((k.to_vec(), std::cmp::Reverse(s))..)
                    .next()
                    .filter(|((key, _), _)| key.as_slice() == k)
                    .map(|(_, (kind, v))| (*kind, Bytes::copy_from_slice(v)))
            };
            for (k, s) in &probes {
                let key = k.to_be_bytes();
                proptest::prop_assert_eq!(m.get(&key, *s), want_get(&key, *s));
            }
            let entries = |lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>, rev: bool| {
                let inside = |k: &Vec<u8>| {
                    (match &lo { Bound::Included(l) => k >= l, Bound::Excluded(l) => k > l, Bound::Unbounded => true })
                        && (match &hi { Bound::Included(h) => k <= h, Bound::Excluded(h) => k < h, Bound::Unbounded => true })
                };
                let mut v: Vec<(Vec<u8>, Seqno, Kind, Vec<u8>)> = model
                    .iter()
                    .filter(|((k, _), _)| inside(k))
                    .map(|((k, s), (kind, val))| (k.clone(), s.0, *kind, val.clone()))
                    .collect();
                if rev {
                    v.reverse();
                }
                v
            };
            let got = |lo: Bound<Vec<u8>>, hi: Bound<Vec<u8>>, rev: bool| {
                all(&m, lo.map(Bytes::from), hi.map(Bytes::from), rev)
                    .into_iter()
                    .map(|e| (e.key.to_vec(), e.seqno, e.kind, e.value.to_vec()))
                    .collect::<Vec<_>>()
            };
            for rev in [false, true] {
                proptest::prop_assert_eq!(
                    got(Bound::Unbounded, Bound::Unbounded, rev),
                    entries(Bound::Unbounded, Bound::Unbounded, rev)
                );
                for w in probes.windows(2) {
                    let (lo, hi) = (w[0].0.to_be_bytes().to_vec(), w[1].0.to_be_bytes().to_vec());
                    for (l, u) in [
                        (Bound::Included(lo.clone()), Bound::Excluded(hi.clone())),
                        (Bound::Excluded(lo.clone()), Bound::Included(hi.clone())),
                        (Bound::Included(lo.clone()), Bound::Unbounded),
                        (Bound::Unbounded, Bound::Excluded(hi.clone())),
                    ] {
                        proptest::prop_assert_eq!(got(l.clone(), u.clone(), rev), entries(l, u, rev));
                    }
                }
            }
        }
    }
}
