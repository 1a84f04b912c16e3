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

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering as AtomicOrdering};

use bytes::Bytes;
use crossbeam_epoch as epoch;
use crossbeam_skiplist::SkipList;

use crate::sst::bloom;
use crate::types::{Kind, Seqno, TableInput};

mod cursor;
mod filter;
mod key;
mod run;
mod tail;

pub(crate) use cursor::{MemCursor, MemIter};
use filter::KeyFilter;
use key::{InternalKey, KeyView, Probe, view_cmp};
#[cfg(test)]
pub(crate) use run::RunBuilder;
use run::{RUN_RECORD_BYTES, RunKey, RunRecord, SortedRun};
pub(crate) use run::{RunVersion, build_run};
use tail::Tail;

/// Approximate bytes a skiplist node costs beyond its key and value.
const NODE_OVERHEAD: usize = 72;
pub(crate) use crate::types::MAX_SEQNO;

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
        self.find(key, seqno, |_, kind, value| {
            (kind, Bytes::copy_from_slice(value))
        })
    }

    /// The sequence number of the newest version of `key` (a put or a
    /// tombstone), if the memtable holds one.
    pub(crate) fn newest_seqno(&self, key: &[u8]) -> Option<Seqno> {
        self.find(key, MAX_SEQNO, |seqno, _, _| seqno)
    }

    /// `f` of the seqno, kind and value of the newest version of `key`
    /// with a sequence number `<= seqno`.
    fn find<R>(
        &self,
        key: &[u8],
        seqno: Seqno,
        f: impl FnOnce(Seqno, Kind, &[u8]) -> R,
    ) -> Option<R> {
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
                return Some(f(found.seqno(), found.kind(), found.value));
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
        Some(f(found.seqno(), found.kind(), found.value()))
    }
}

#[cfg(test)]
mod tests {
    use super::filter::FILTER_BYTES_PER_KEY;
    use super::*;
    use crate::types::Entry;
    use std::sync::Arc;

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
