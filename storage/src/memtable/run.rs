//! Sorted runs: the immutable memtables bulk ingest builds ([`RunBuilder`]).

use std::cmp::Ordering;

use bytes::Bytes;

use super::cursor::Slot;
use super::key::{KeyView, Probe, tag_kind, view_cmp};
use super::{MAX_SEQNO, Memtable};
use crate::batch::{BatchOp, WriteBatch};
use crate::types::{Kind, Seqno, TableInput, key_prefix};

/// One version of a sorted run: its key's inline prefix and tag as in
/// [`InternalKey`], and where its key and value lie in the run's buffer
/// (the value follows the key).
#[derive(Clone, Copy)]
pub(super) struct RunRecord {
    /// The first 16 key bytes, zero-padded, as two big-endian halves.
    pub(super) prefix: [u64; 2],
    /// `seqno << 1 | kind`.
    pub(super) tag: u64,
    /// Offset of the key in the run's buffer.
    pub(super) offset: usize,
    pub(super) key_len: u32,
    pub(super) value_len: u32,
}

/// An immutable run of versions in internal order (see the module docs).
pub(super) struct SortedRun {
    /// Every version's key then value, in record order; shared with the
    /// entries cursors hand out.
    pub(super) data: Bytes,
    pub(super) records: Vec<RunRecord>,
}

/// A record of a run together with the run's buffer, as a [`KeyView`].
pub(super) struct RunKey<'a> {
    pub(super) rec: &'a RunRecord,
    pub(super) data: &'a [u8],
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
    pub(super) key: &'a [u8],
    pub(super) value: &'a [u8],
    pub(super) tag: u64,
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

impl SortedRun {
    pub(super) fn version(&self, rec: &RunRecord) -> RunVersion<'_> {
        let key_end = rec.offset + rec.key_len as usize;
        RunVersion {
            key: &self.data[rec.offset..key_end],
            value: &self.data[key_end..key_end + rec.value_len as usize],
            tag: rec.tag,
        }
    }

    /// Where record `i` lies in `data`, as a cursor's [`Slot`].
    #[inline]
    pub(super) fn slot(&self, i: usize) -> Slot {
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
    pub(super) fn seek(&self, probe: &Probe<'_>, inclusive: bool) -> usize {
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
pub(super) const RUN_RECORD_BYTES: usize = std::mem::size_of::<RunRecord>();

/// Internal order of two records of one run's buffer, and between the
/// versions of one key and seqno (a batch writing a key twice) the later
/// write, which lies further into the buffer, first (offsets grow strictly
/// with every version pushed, even an empty one).
pub(super) fn run_order(data: &[u8], a: &RunRecord, b: &RunRecord) -> Ordering {
    view_cmp(&RunKey { rec: a, data }, &RunKey { rec: b, data }).then(b.offset.cmp(&a.offset))
}

/// Records with fewer versions are sorted on one thread (small enough that
/// the model tests exercise both paths).
pub(super) const PARALLEL_SORT_MIN: usize = 32;

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

/// Builds the immutable sorted run of `chunk` (batches in increasing
/// sequence order): its keys and values copied, in log order, into one
/// buffer, its versions sorted into internal order (a key written twice
/// by one batch keeping its later write), and the run's maximum
/// sequence number the chunk's last (even an empty batch's). `None` for
/// an empty chunk. See [`RunBuilder`].
pub(crate) fn build_run<B: std::borrow::Borrow<WriteBatch>>(
    chunk: &[(Seqno, B)],
) -> Option<Memtable> {
    let last = chunk.last().map(|(s, _)| *s)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let ops: usize = chunk.iter().map(|(_, b)| b.borrow().len()).sum();
    let run = if cores < 2 || chunk.len() < 2 || ops < PARALLEL_COPY_MIN {
        let bytes: usize = chunk.iter().map(|(_, b)| b.borrow().as_bytes().len()).sum();
        let mut run = RunBuilder::with_capacity(bytes, ops);
        for (seqno, batch) in chunk {
            for op in batch.borrow().iter() {
                match op {
                    BatchOp::Put(k, v) => run.push(k, *seqno, Kind::Put, v),
                    BatchOp::Delete(k) => run.push(k, *seqno, Kind::Delete, b""),
                }
            }
        }
        run
    } else {
        // Copying the keys and values (and faulting in the fresh buffer)
        // is a good part of an ingest: two halves of the chunk at once.
        // `B` need not be `Sync`; a `&WriteBatch` is.
        let refs: Vec<(Seqno, &WriteBatch)> = chunk.iter().map(|(s, b)| (*s, b.borrow())).collect();
        let (a, b) = refs.split_at(refs.len() / 2);
        RunBuilder::fill_parallel(
            &[a, b],
            |part| part.iter().map(|(_, b)| b.as_bytes().len()).sum(),
            |part, sink| {
                for (seqno, batch) in *part {
                    for op in batch.iter() {
                        match op {
                            BatchOp::Put(k, v) => sink.push(k, *seqno, Kind::Put, v),
                            BatchOp::Delete(k) => sink.push(k, *seqno, Kind::Delete, b""),
                        }
                    }
                }
            },
        )
    };
    Some(run.finish(last))
}

/// Chunks with fewer versions are copied on one thread (small enough that
/// the model tests exercise both paths).
const PARALLEL_COPY_MIN: usize = 32;
