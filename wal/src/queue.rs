//! The queue between writers and the log writer: records framed into
//! chunks under the state lock (which is also where sequence numbers are
//! assigned, so log order is sequence order), the durable-mode batches
//! waiting for their fsync, and what a waiting write is told when it ends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use fasty_storage::{Seqno, WriteBatch};
use parking_lot::Mutex;

use crate::error::Result;
use crate::record::{UnsealedRecord, encode_record, encode_unchecked, seal_records};
use crate::segment::SEGMENT_HEADER_LEN;

/// A durable-mode writer waiting for its batch. The log writer marks it
/// and unparks exactly the writers an fsync covered (none has to take the
/// state lock again), and not one by one: it wakes the first of the group,
/// and every woken writer wakes two more, so the wake-ups (a large part of
/// the log writer's time with many writers) spread over the woken threads.
pub(crate) struct Waiter {
    state: AtomicU8,
    thread: std::thread::Thread,
    /// Set before `DONE`: the group this waiter was acknowledged with and
    /// its index there. Taken when it wakes, which also breaks the cycle.
    group: Mutex<Option<(Group, usize)>>,
}

/// The writers one fsync acknowledged, in sequence order.
type Group = Arc<[Arc<Waiter>]>;

const WAITING: u8 = 0;
const DONE: u8 = 1;
const FAILED: u8 = 2;
const NO_SPACE: u8 = 3;

/// How a durable-mode write ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Fsynced and applied.
    Done,
    /// The log failed for good (poisoned).
    Failed,
    /// Not written for lack of disk space; never applied.
    NoSpace,
}

impl Waiter {
    pub(crate) fn new() -> Arc<Waiter> {
        Arc::new(Waiter {
            state: AtomicU8::new(WAITING),
            thread: std::thread::current(),
            group: Mutex::new(None),
        })
    }

    pub(crate) fn fail(&self) {
        self.state.store(FAILED, Ordering::Release);
        self.thread.unpark();
    }

    pub(crate) fn fail_no_space(&self) {
        self.state.store(NO_SPACE, Ordering::Release);
        self.thread.unpark();
    }

    /// Parks until the writer finished with this batch.
    pub(crate) fn wait(&self) -> Outcome {
        loop {
            if let Some(outcome) = self.poll() {
                return outcome;
            }
            std::thread::park();
        }
    }

    /// How the batch ended, if the writer has finished with it (without
    /// waiting). Once done, wakes this waiter's share of its group.
    pub(crate) fn poll(&self) -> Option<Outcome> {
        match self.state.load(Ordering::Acquire) {
            DONE => {
                let slot = self.group.lock().take();
                if let Some((group, i)) = slot {
                    for child in [2 * i + 1, 2 * i + 2] {
                        if let Some(w) = group.get(child) {
                            w.thread.unpark();
                        }
                    }
                }
                Some(Outcome::Done)
            }
            FAILED => Some(Outcome::Failed),
            NO_SPACE => Some(Outcome::NoSpace),
            _ => None,
        }
    }
}

/// Acknowledges `waiters` (fsynced and applied): marks them all, wakes the
/// first, and leaves the rest of the wake-ups to them.
pub(crate) fn acknowledge(waiters: Vec<Arc<Waiter>>) {
    if waiters.is_empty() {
        return;
    }
    let group: Group = waiters.into();
    for (i, w) in group.iter().enumerate() {
        *w.group.lock() = Some((group.clone(), i));
        w.state.store(DONE, Ordering::Release);
    }
    group[0].thread.unpark();
}

/// A durable-mode batch whose record is queued: applied once its fsync has
/// completed, then its writer is woken.
pub(crate) type PendingBatch = (Seqno, WriteBatch, Arc<Waiter>);

/// Wakes the writers of batches that will never be applied.
pub(crate) fn fail_all(batches: impl IntoIterator<Item = PendingBatch>) {
    for (_, _, waiter) in batches {
        waiter.fail();
    }
}

/// Records queued for one segment, written with one append.
#[derive(Clone)]
pub(crate) struct Chunk {
    /// The segment these records belong in.
    pub segment: u64,
    /// Framed records, back to back.
    pub bytes: Vec<u8>,
    /// Number of records in `bytes`.
    pub records: u32,
    /// Sequence number of the last record in `bytes`.
    pub last_seqno: Option<Seqno>,
    /// A large record encoded on its own: later records start a new chunk
    /// instead of being copied after it.
    pub sealed: bool,
}

impl Chunk {
    fn new(segment: u64, bytes: Vec<u8>) -> Chunk {
        Chunk {
            segment,
            bytes,
            records: 0,
            last_seqno: None,
            sealed: false,
        }
    }

    /// Fills in the checksums of its records if they were queued without
    /// ([`State::new`]'s `writer_checksums`); a sealed record has its own.
    pub(crate) fn finish_checksums(&mut self, writer_checksums: bool) -> Result<(), String> {
        if writer_checksums && !self.sealed {
            seal_records(&mut self.bytes)?;
            // Written again as it is if the write fails for lack of space.
            self.sealed = true;
        }
        Ok(())
    }
}

/// The queue between writers and the log writer, and the progress the
/// writer reports back. Guarded by `Core::state`.
pub(crate) struct State {
    /// The sequence number the next write gets.
    pub next_seqno: Seqno,
    /// Records not yet taken by the writer, in sequence order.
    pub queue: Vec<Chunk>,
    /// Bytes in `queue`.
    pub queued_bytes: usize,
    /// Durable mode: batches whose records are queued, to apply once their
    /// fsync has completed.
    pub pending: Vec<PendingBatch>,
    /// The segment the next record goes into, and that segment's size
    /// once every queued record is written.
    pub tail_segment: u64,
    pub tail_len: u64,
    /// Every record up to this sequence number has been fsynced.
    pub durable: Seqno,
    /// Sync requests made (a counter) and the last one the writer served.
    pub sync_requested: u64,
    pub sync_done: u64,
    /// Why writes are refused, once a log write or fsync failed.
    pub poisoned: Option<String>,
    /// Async mode: the log could not be written for lack of disk space.
    /// The records stay queued and the writer retries; new writes are
    /// refused until a retry succeeds.
    pub stalled: Option<Stall>,
    /// Durable mode: why the last round failed for lack of space (its
    /// writers were refused; the next write tries again).
    pub last_full: Option<String>,
    /// Set by close/drop: the writer writes and syncs what is queued, then
    /// exits.
    pub shutdown: bool,
    /// Initial capacity of a chunk: async mode fills one up to the write
    /// buffer size before the writer takes it, so it is allocated whole
    /// rather than grown by copying.
    chunk_capacity: usize,
    /// Small records are queued without their checksums, which the log
    /// writer computes before writing them.
    pub writer_checksums: bool,
}

impl State {
    /// The queue of a log whose next record is `next_seqno`, in `segment`.
    /// With `writer_checksums` (async mode), the log writer computes the
    /// checksums of small records instead of the threads that write them:
    /// that thread is otherwise idle between syncs, while a writer's time
    /// is the database's throughput.
    pub(crate) fn new(
        next_seqno: Seqno,
        segment: u64,
        chunk_capacity: usize,
        writer_checksums: bool,
    ) -> State {
        State {
            next_seqno,
            queue: Vec::new(),
            queued_bytes: 0,
            pending: Vec::new(),
            tail_segment: segment,
            tail_len: SEGMENT_HEADER_LEN as u64,
            durable: next_seqno - 1,
            sync_requested: 0,
            sync_done: 0,
            poisoned: None,
            stalled: None,
            last_full: None,
            shutdown: false,
            chunk_capacity,
            writer_checksums,
        }
    }

    /// Whether a record of `len` bytes must start a new segment.
    fn must_rotate(&self, len: usize, segment_size: u64) -> bool {
        self.tail_len > SEGMENT_HEADER_LEN as u64 && self.tail_len + len as u64 > segment_size
    }

    fn rotate_tail(&mut self) {
        self.tail_segment += 1;
        self.tail_len = SEGMENT_HEADER_LEN as u64;
    }

    /// Frames `batch` as record `seqno` straight into the queue (small
    /// batches: cheaper than a buffer of its own).
    pub(crate) fn push_small(
        &mut self,
        seqno: Seqno,
        batch: &WriteBatch,
        segment_size: u64,
    ) -> Result<(), String> {
        let seg = self.tail_segment;
        let reuse = matches!(self.queue.last(), Some(c) if c.segment == seg && !c.sealed);
        if !reuse {
            self.queue
                .push(Chunk::new(seg, Vec::with_capacity(self.chunk_capacity)));
        }
        let idx = self.queue.len() - 1;
        let start = self.queue[idx].bytes.len();
        let encode = if self.writer_checksums {
            encode_unchecked
        } else {
            encode_record
        };
        if let Err(e) = encode(&mut self.queue[idx].bytes, seqno, batch) {
            if self.queue[idx].bytes.is_empty() && self.queue[idx].records == 0 {
                self.queue.pop();
            }
            return Err(e);
        }
        let len = self.queue[idx].bytes.len() - start;
        if self.must_rotate(len, segment_size) {
            let rec = self.queue[idx].bytes.split_off(start);
            if self.queue[idx].bytes.is_empty() && self.queue[idx].records == 0 {
                self.queue.pop();
            }
            self.rotate_tail();
            self.queue.push(Chunk::new(self.tail_segment, rec));
        }
        let chunk = self.queue.last_mut().ok_or("log queue vanished")?;
        chunk.records += 1;
        chunk.last_seqno = Some(seqno);
        self.tail_len += len as u64;
        self.queued_bytes += len;
        Ok(())
    }

    /// Queues a record encoded outside the lock, sealed as `seqno`.
    /// Queues `batch` (or `large`, its record encoded outside the lock)
    /// under the next sequence number, which it returns.
    pub(crate) fn push_next(
        &mut self,
        batch: &WriteBatch,
        large: Option<UnsealedRecord>,
        segment_size: u64,
    ) -> std::result::Result<Seqno, String> {
        let seqno = self.next_seqno;
        match large {
            Some(rec) => self.push_sealed(seqno, rec, segment_size),
            None => self.push_small(seqno, batch, segment_size)?,
        }
        self.next_seqno += 1;
        Ok(seqno)
    }

    pub(crate) fn push_sealed(&mut self, seqno: Seqno, rec: UnsealedRecord, segment_size: u64) {
        let len = rec.len();
        if self.must_rotate(len, segment_size) {
            self.rotate_tail();
        }
        self.queue.push(Chunk {
            records: 1,
            last_seqno: Some(seqno),
            sealed: true,
            ..Chunk::new(self.tail_segment, rec.seal(seqno))
        });
        self.tail_len += len as u64;
        self.queued_bytes += len;
    }

    /// Makes the next record start a new segment (if the current one holds
    /// any), so that a checkpoint can delete the current one.
    pub(crate) fn rotate_now(&mut self) {
        if self.tail_len > SEGMENT_HEADER_LEN as u64 {
            self.rotate_tail();
            self.queue.push(Chunk::new(self.tail_segment, Vec::new()));
        }
    }
}

/// Async mode: the log writer is waiting for disk space.
#[derive(Clone, Debug)]
pub(crate) struct Stall {
    /// The failure, for the error writers get meanwhile.
    pub cause: String,
    /// Failed attempts so far (the pause before the next one doubles).
    pub failures: u32,
    /// When the writer tries again (at once on close).
    pub retry_at: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> WriteBatch {
        let mut b = WriteBatch::new();
        b.put(&b"key"[..], vec![1u8; 100]);
        b
    }

    #[test]
    fn a_checkpoint_rotation_starts_a_chunk_the_next_write_joins() {
        let mut st = State::new(1, 7, 1024, true);
        st.rotate_now();
        assert!(st.queue.is_empty(), "an empty segment is not rotated");
        st.push_next(&small(), None, 1 << 20).unwrap();
        st.rotate_now();
        assert_eq!(st.tail_segment, 8);
        assert_eq!(st.tail_len, SEGMENT_HEADER_LEN as u64);
        let last = st.queue.last().unwrap();
        assert_eq!((last.segment, last.records, last.bytes.len()), (8, 0, 0));
        // A write racing the checkpoint joins that chunk: its record is
        // queued without a checksum, and the chunk is the writer's to seal.
        let seqno = st.push_next(&small(), None, 1 << 20).unwrap();
        assert_eq!(seqno, 2);
        assert_eq!(st.queue.len(), 2);
        let joined = st.queue.last_mut().unwrap();
        assert_eq!((joined.records, joined.last_seqno), (1, Some(2)));
        assert!(crate::record::read_record(&bytes::Bytes::from(joined.bytes.clone()), 0).is_err());
        joined.finish_checksums(true).unwrap();
        let rec = crate::record::read_record(&bytes::Bytes::from(joined.bytes.clone()), 0)
            .unwrap()
            .unwrap();
        assert_eq!(rec.end, joined.bytes.len());
    }

    #[test]
    fn a_full_segment_sends_the_next_record_to_the_next_one() {
        let mut st = State::new(1, 1, 1024, false);
        let mut n = 0;
        while st.tail_segment == 1 {
            st.push_next(&small(), None, 4096).unwrap();
            n += 1;
            assert!(n < 100, "never rotated");
        }
        let (first, second) = (&st.queue[0], &st.queue[1]);
        assert_eq!((first.segment, second.segment), (1, 2));
        assert_eq!(first.records + second.records, n);
        assert_eq!(second.records, 1, "only the record that did not fit moves");
        let in_first = SEGMENT_HEADER_LEN + first.bytes.len();
        assert!(in_first <= 4096, "{in_first}");
        assert_eq!(
            st.tail_len,
            (SEGMENT_HEADER_LEN + second.bytes.len()) as u64
        );
        assert_eq!(st.queued_bytes, first.bytes.len() + second.bytes.len());
        assert_eq!(st.next_seqno, u64::from(n) + 1);
        assert_eq!(st.durable, 0);
    }

    #[test]
    fn a_waiter_learns_how_its_batch_ended() {
        let done = [Waiter::new(), Waiter::new(), Waiter::new()];
        assert_eq!(done[0].poll(), None);
        acknowledge(done.to_vec());
        for w in &done {
            assert_eq!(w.poll(), Some(Outcome::Done));
            assert_eq!(w.wait(), Outcome::Done);
            assert!(w.group.lock().is_none(), "the group is let go once woken");
        }
        let failed = Waiter::new();
        fail_all([(1, WriteBatch::new(), failed.clone())]);
        assert_eq!(failed.poll(), Some(Outcome::Failed));
        let full = Waiter::new();
        full.fail_no_space();
        assert_eq!(full.wait(), Outcome::NoSpace);
    }

    #[test]
    fn every_queued_chunk_checks_once_the_writer_fills_in_checksums() {
        let mut b = WriteBatch::new();
        b.put(&b"key"[..], vec![1u8; 100]);
        let big = vec![2u8; 20 << 10];
        let mut large = WriteBatch::new();
        large.put(&b"large"[..], big);
        // Small records, a rotation asked for (a checkpoint), more small
        // records, a rotation because the segment is full, a sealed large
        // record, small ones again.
        let mut st = State::new(1, 1, 1024, true);
        st.push_next(&b, None, 4096).unwrap();
        st.rotate_now();
        for _ in 0..40 {
            st.push_next(&b, None, 4096).unwrap();
        }
        let rec = UnsealedRecord::new(&large).unwrap();
        st.push_next(&large, Some(rec), 1 << 20).unwrap();
        st.push_next(&b, None, 1 << 20).unwrap();
        assert!(st.queue.iter().map(|c| c.segment).max() > Some(2));
        for (i, chunk) in st.queue.iter_mut().enumerate() {
            chunk.finish_checksums(true).unwrap();
            let data = bytes::Bytes::from(chunk.bytes.clone());
            let mut off = 0;
            while let Some(rec) = crate::record::read_record(&data, off)
                .unwrap_or_else(|e| panic!("chunk {i}: {}", e.reason()))
            {
                off = rec.end;
            }
        }
    }
}
