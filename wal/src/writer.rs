//! The log writer: one thread that owns the active segment, takes every
//! record queued since its last round, writes them with as few appends as
//! possible, fsyncs once for all of them (group commit), rotates segments,
//! and in durable mode applies the batches to the engine once their fsync
//! has completed, overlapping that with the next round's fsync.
//!
//! Writers never touch files: they frame their record into the queue
//! ([`crate::queue`]) under the state lock, which is also where sequence
//! numbers are assigned, so log order is sequence order. This module owns
//! the writer's loop; segments are started and sealed by
//! [`crate::lifecycle`], and what a write waits for is decided in
//! [`crate::db`].

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fasty_storage::Seqno;
use fasty_storage::background::Stepper;

use crate::error::Result;
use crate::lifecycle::{Active, rotate};
use crate::queue::{Chunk, PendingBatch, Stall, State, acknowledge, fail_all};
use crate::recovery::SegmentMeta;
use crate::shared::Core;
use crate::spare::Spares;

/// Pause before retry number `failures + 1` of a log write that failed for
/// lack of space: 50 ms, doubling up to 1 s.
fn stall_pause(failures: u32) -> Duration {
    Duration::from_millis(50u64 << failures.min(5)).min(Duration::from_secs(1))
}

/// What one round of the writer took from the queue.
struct Round {
    chunks: Vec<Chunk>,
    /// [`State::new`]'s `writer_checksums`.
    writer_checksums: bool,
    batches: Vec<PendingBatch>,
    upto: Seqno,
    epoch: u64,
    sync: bool,
    shutdown: bool,
}

/// What the writer does next.
enum Next {
    /// Write (and maybe fsync) these records.
    Round(Round),
    /// Nothing to write yet.
    Idle,
    /// Shut down after a failure: nothing more may be written.
    Exit,
}

/// What the writer does next, as decided from the queue under the state
/// lock ([`decide`]).
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    /// Take what is queued and write it (maybe fsync it).
    Take,
    /// Nothing to do before this deadline (`None`: until woken).
    Wait(Option<Instant>),
    /// Shut down after a failure: nothing more may be written.
    Exit,
}

/// What one turn of the writer did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Turn {
    /// It wrote, fsynced, applied or failed something; there may be more.
    Worked,
    /// Nothing to do: on a thread, wait for [`LogWriter::wait_for_work`].
    Idle,
    /// The writer is done (shut down); its segment is
    /// [`LogWriter::meta`].
    Exit,
}

/// The log writer: the active segment and what its loop carries from one
/// round to the next. [`LogWriter::turn`] is one unit of its work, run by
/// the thread's loop ([`run`]) or as a step of a test's stepper.
///
/// Durable mode pipelines when that pays ([`Pacing`]): when a
/// round's fsync has completed and more records are already queued, the
/// writer writes those and starts their fsync before applying the finished
/// round's batches and waking their writers, so that work overlaps the
/// disk's. With nothing queued it applies at once, as one writer alone
/// needs.
pub(crate) struct LogWriter {
    active: Active,
    /// Async mode's sync interval.
    interval: Option<Duration>,
    last_sync: Instant,
    /// Batches whose fsync has completed, not yet applied.
    fsynced: Vec<PendingBatch>,
    /// False once the engine refused a batch: later ones are not applied.
    applying: bool,
    pacing: Pacing,
    /// Tests: run as a step of this stepper, whose seed then also chooses
    /// whether to overlap (instead of [`Pacing`]'s timings), and for which
    /// timers are due whenever the step runs.
    stepper: Option<Stepper>,
}

impl LogWriter {
    /// The writer of `core`'s log, appending to `active`; run as a step of
    /// `stepper` when given (tests), else on a thread of its own.
    pub(crate) fn new(core: &Core, active: Active, stepper: Option<Stepper>) -> LogWriter {
        let interval: Option<Duration> = match core.opts.durability {
            crate::Durability::Async { sync_interval } => Some(sync_interval),
            _ => None,
        };
        LogWriter {
            active,
            interval,
            last_sync: Instant::now(),
            fsynced: Vec::new(),
            applying: true,
            pacing: Pacing::new(Instant::now()),
            stepper,
        }
    }

    /// The active segment's description (close deletes it once flushed).
    pub(crate) fn meta(&self) -> SegmentMeta {
        self.active.meta()
    }

    /// Whether to overlap applying a finished group with the next round.
    fn overlap(&self) -> bool {
        match &self.stepper {
            Some(stepper) => stepper.chance(1, 2),
            None => self.pacing.overlap(),
        }
    }

    /// Applies the batches whose fsync has completed.
    fn apply_fsynced(&mut self, core: &Core) {
        let batches = std::mem::take(&mut self.fsynced);
        self.applying = apply_and_acknowledge(core, batches, self.applying);
    }

    /// One unit of the writer's work, without waiting: a round written (and
    /// maybe fsynced), or fsynced batches applied.
    pub(crate) fn turn(&mut self, core: &Core) -> Turn {
        let spares = core.log.as_ref().and_then(|l| l.spares.as_deref());
        let active = &mut self.active;
        // A segment created without a spare (none was ready: the first
        // open, or rotations outpacing the spare thread) is left for the
        // spare as soon as one is ready, rather than appended to for a
        // whole segment's worth of slower fsyncs.
        if !active.preallocated && spares.is_some_and(Spares::is_ready) {
            core.state.lock().rotate_now();
        }
        if !self.fsynced.is_empty() && !self.overlap() {
            self.apply_fsynced(core);
        }
        let timers_due = self.stepper.is_some();
        let round = match next_round(core, self.interval, self.last_sync, timers_due) {
            Next::Round(round) => round,
            Next::Idle if self.fsynced.is_empty() => return Turn::Idle,
            Next::Idle => {
                self.apply_fsynced(core);
                return Turn::Worked;
            }
            Next::Exit => {
                self.apply_fsynced(core);
                return Turn::Exit;
            }
        };
        let active = &mut self.active;
        let started = Instant::now();
        let mut chunks: VecDeque<Chunk> = round.chunks.into();
        let written =
            write_round(core, active, &mut chunks, round.writer_checksums).and_then(|()| {
                if round.sync {
                    active.file.start_sync().map_err(Into::into)
                } else {
                    Ok(())
                }
            });
        // The previous round's fsync completed before this round was
        // written: its batches may become visible now, while this one's
        // fsync runs (and whether or not this round failed).
        if !self.fsynced.is_empty() {
            self.apply_fsynced(core);
        }
        let active = &mut self.active;
        let mut result = written.and_then(|()| {
            if round.sync {
                active.file.finish_sync().map_err(Into::into)
            } else {
                Ok(())
            }
        });
        // A spare segment written ahead must never be why the log cannot
        // be written: it goes first, and the round is written again.
        if let Err(e) = &result
            && out_of_space(e)
            && spares.is_some_and(Spares::release)
        {
            tracing::warn!(error = %e, "wal write failed for lack of space: removed the spare segment and writing again");
            result = match rewrite(core, active, &mut chunks, round.writer_checksums) {
                Ok(r) => r,
                Err(rolled_back) => {
                    core.poison(format!(
                        "wal write failed ({e}) and could not be undone: {rolled_back}"
                    ));
                    fail_all(round.batches);
                    return Turn::Worked;
                }
            };
        }
        if let Err(e) = result {
            if !out_of_space(&e) {
                core.poison(format!("wal write or fsync failed: {e}"));
                fail_all(round.batches);
                return Turn::Worked;
            }
            let Some(acked) = handle_full(core, active, chunks, round.batches, &e) else {
                return Turn::Worked;
            };
            self.fsynced = acked;
            if round.shutdown && self.interval.is_some() {
                // Closing with the disk still full: what could not be
                // written stays in the engine, which close flushes.
                self.apply_fsynced(core);
                return Turn::Exit;
            }
            return Turn::Worked;
        }
        if round.sync {
            active.synced();
        }
        let c = &core.counters;
        c.groups.fetch_add(1, Ordering::Relaxed);
        if round.sync {
            self.last_sync = started;
            c.syncs.fetch_add(1, Ordering::Relaxed);
        }
        self.pacing
            .finished_round(round.batches.len(), Instant::now());
        // Durable mode: the fsync covering these batches has completed; only
        // now may they become visible, and only then be acknowledged.
        self.fsynced = round.batches;
        let mut st = core.state.lock();
        if round.sync {
            st.durable = st.durable.max(round.upto);
            st.sync_done = st.sync_done.max(round.epoch);
            st.last_full = None;
            if let Some(stall) = st.stalled.take() {
                tracing::info!(
                    failures = stall.failures,
                    "the wal is written again after running out of disk space: writes resume, nothing was lost"
                );
            }
        }
        let finished = round.shutdown && st.queue.is_empty();
        drop(st);
        core.done_cv.notify_all();
        if finished {
            self.apply_fsynced(core);
            return Turn::Exit;
        }
        Turn::Worked
    }

    /// After an idle [`LogWriter::turn`]: sleeps on the writer's condition
    /// variable until there may be work (woken, or the sync interval or a
    /// retry after a full disk is due). The check and the sleep are under
    /// one hold of the state lock, so no wake-up is lost between them.
    pub(crate) fn wait_for_work(&self, core: &Core) {
        let mut st = core.state.lock();
        match decide(&st, &core.opts, self.interval, self.last_sync, false) {
            Decision::Wait(Some(due)) => {
                core.writer_cv.wait_until(&mut st, due);
            }
            Decision::Wait(None) => core.writer_cv.wait(&mut st),
            Decision::Take | Decision::Exit => {}
        }
    }
}

/// The writer thread's body: turns, sleeping while idle. Returns the active
/// segment's description when it exits (on shutdown), so close can delete
/// it once flushed.
pub(crate) fn run(core: &Core, mut writer: LogWriter) -> SegmentMeta {
    loop {
        match writer.turn(core) {
            Turn::Worked => {}
            Turn::Idle => writer.wait_for_work(core),
            Turn::Exit => return writer.meta(),
        }
    }
}

/// Chooses whether the durable-mode writer overlaps applying a finished
/// group (and waking its writers) with the next round's fsync, from what
/// each way has recently delivered.
///
/// Neither way is better everywhere. Overlapping takes the apply and the
/// wake-ups off the round's critical path, but the writers of the group
/// being applied cannot join the round already under way, so with many
/// writers the groups split in two that alternate. Applying first lets the
/// woken writers catch the next round whole, at the cost of a longer round.
/// Which wins depends on the disk's fsync time, the apply's, the number of
/// writers and how fast this machine wakes a thread: on one VM with 64
/// single-row writers, forcing either way came out ahead by 20–40% from
/// one run to the next, and the fixed rule used before (overlap when the
/// last apply took at least a quarter of the last fsync) flipped between
/// the two on noise, because each way changes the other's timings. So the
/// writer measures what it delivers instead: it runs in epochs of
/// [`EPOCH_ROUNDS`] rounds, keeps each way's smoothed batches per second,
/// follows the better one and tries the other one epoch in
/// [`EXPLORE_EVERY`]. With one writer both ways do the same thing (there
/// is never a next round queued to overlap with), so the choice is moot.
struct Pacing {
    overlap: bool,
    /// Smoothed batches per second: `[applying first, overlapping]`.
    rate: [Option<f64>; 2],
    /// Rounds finished in this epoch; the first [`WARMUP_ROUNDS`] settle
    /// the group sizes after a switch and are not measured.
    rounds: u32,
    measured_since: Instant,
    batches: usize,
    epochs: u32,
}

/// Rounds in one measuring epoch (a few tens of milliseconds with a fast
/// fsync).
const EPOCH_ROUNDS: u32 = 64;
/// Rounds at the start of an epoch left out of its measurement.
const WARMUP_ROUNDS: u32 = 8;
/// One epoch in this many tries the way currently measured as slower, so
/// that its measure follows changes in load and disk.
const EXPLORE_EVERY: u32 = 8;

impl Pacing {
    fn new(now: Instant) -> Pacing {
        Pacing {
            overlap: false,
            rate: [None, None],
            rounds: 0,
            measured_since: now,
            batches: 0,
            epochs: 0,
        }
    }

    /// Whether to overlap applying a finished group with the next round.
    fn overlap(&self) -> bool {
        self.overlap
    }

    /// Counts a round whose fsync covered `batches` durable batches.
    fn finished_round(&mut self, batches: usize, now: Instant) {
        self.rounds += 1;
        if self.rounds <= WARMUP_ROUNDS {
            self.measured_since = now;
            return;
        }
        self.batches += batches;
        if self.rounds < EPOCH_ROUNDS {
            return;
        }
        let secs = now.duration_since(self.measured_since).as_secs_f64();
        if secs > 0.0 {
            let measured = self.batches as f64 / secs;
            let slot = &mut self.rate[usize::from(self.overlap)];
            *slot = Some(slot.map_or(measured, |old| 0.5 * old + 0.5 * measured));
        }
        self.epochs = self.epochs.wrapping_add(1);
        self.rounds = 0;
        self.batches = 0;
        self.overlap = match self.rate {
            // Measure each way once before comparing.
            [None, _] => false,
            [_, None] => true,
            [Some(apply_first), Some(overlapping)] => {
                let better = overlapping > apply_first;
                if self.epochs.is_multiple_of(EXPLORE_EVERY) {
                    !better
                } else {
                    better
                }
            }
        };
    }
}

/// Applies fsynced `batches` in order and acknowledges their writers; if
/// not `applying` (the engine refused an earlier batch) or the engine
/// refuses one of these, the database is poisoned and the rest fail.
/// Returns whether later batches may still be applied.
fn apply_and_acknowledge(core: &Core, batches: Vec<PendingBatch>, applying: bool) -> bool {
    if !applying {
        fail_all(batches);
        return false;
    }
    let mut ok = true;
    let mut done = Vec::with_capacity(batches.len());
    let mut batches = batches.into_iter();
    for (seqno, batch, waiter) in batches.by_ref() {
        if let Err(e) = core.engine.apply(&batch, seqno) {
            core.poison(format!("the engine refused logged batch {seqno}: {e}"));
            waiter.fail();
            ok = false;
            break;
        }
        done.push(waiter);
    }
    acknowledge(done);
    fail_all(batches);
    ok
}

/// Whether the writer has work in `st`, and if not until when it has none.
/// With `timers_due` (a stepped writer) every deadline counts as passed.
fn decide(
    st: &State,
    opts: &crate::Options,
    interval: Option<Duration>,
    last_sync: Instant,
    timers_due: bool,
) -> Decision {
    if st.poisoned.is_some() {
        return if st.shutdown {
            Decision::Exit
        } else {
            Decision::Wait(None)
        };
    }
    if let Some(stall) = &st.stalled {
        // Out of space: only the retry (at once on close) is written.
        return if st.shutdown || timers_due || Instant::now() >= stall.retry_at {
            Decision::Take
        } else {
            Decision::Wait(Some(stall.retry_at))
        };
    }
    if st.shutdown || st.sync_requested > st.sync_done {
        return Decision::Take;
    }
    if !st.queue.is_empty() && (interval.is_none() || st.queued_bytes >= opts.write_buffer_size) {
        return Decision::Take;
    }
    match interval {
        Some(iv) if st.next_seqno - 1 > st.durable || !st.queue.is_empty() => {
            let due = last_sync + iv;
            if timers_due || Instant::now() >= due {
                Decision::Take
            } else {
                Decision::Wait(Some(due))
            }
        }
        _ => Decision::Wait(None),
    }
}

/// Takes the work there is, if any, without waiting (see [`decide`]).
fn next_round(
    core: &Core,
    interval: Option<Duration>,
    last_sync: Instant,
    timers_due: bool,
) -> Next {
    let mut st = core.state.lock();
    match decide(&st, &core.opts, interval, last_sync, timers_due) {
        Decision::Take => {}
        Decision::Wait(_) => return Next::Idle,
        Decision::Exit => return Next::Exit,
    }
    let now = Instant::now();
    let sync = interval.is_none_or(|iv| timers_due || now >= last_sync + iv)
        || st.sync_requested > st.sync_done
        || st.shutdown
        || st.stalled.is_some();
    let round = Round {
        chunks: std::mem::take(&mut st.queue),
        writer_checksums: st.writer_checksums,
        batches: std::mem::take(&mut st.pending),
        upto: st.next_seqno - 1,
        epoch: st.sync_requested,
        sync,
        shutdown: st.shutdown,
    };
    st.queued_bytes = 0;
    drop(st);
    // Writers waiting for room in the queue may go on.
    core.done_cv.notify_all();
    Next::Round(round)
}

/// After a failed write: rolls the active segment back to its last fsync
/// and writes everything since again (`chunks` keeps what is still
/// unwritten if this fails too), then fsyncs. The outer error is a failed
/// rollback (the log is then in an unknown state).
fn rewrite(
    core: &Core,
    active: &mut Active,
    chunks: &mut VecDeque<Chunk>,
    writer_checksums: bool,
) -> Result<Result<()>> {
    let Some(log) = core.log.as_ref() else {
        return Ok(Ok(()));
    };
    let mut again: VecDeque<Chunk> = active.roll_back(log.io.as_ref(), false)?.into();
    again.extend(chunks.drain(..));
    *chunks = again;
    Ok(write_round(core, active, chunks, writer_checksums).and_then(|()| active.sync()))
}

/// A round failed for lack of disk space (`e`). The active segment is
/// rolled back to its last fsync (a failure there poisons the log:
/// `None`). Then:
/// - async mode: every record not durable yet goes back to the front of
///   the queue (they are acknowledged and applied; nothing is dropped), and
///   the log stalls: new writes are refused with [`crate::Error::DiskFull`]
///   and the writer retries with growing pauses ([`stall_pause`]), at once
///   on close;
/// - durable mode: the round's batches that an earlier fsync in the round
///   made durable (a rotation) are returned, to be applied and
///   acknowledged; every other batch, this round's and those queued since,
///   is refused (never acknowledged, never applied; their bytes are cut
///   off or zeroed) and the queue starts again after the last durable
///   record. The next write simply tries again.
fn handle_full(
    core: &Core,
    active: &mut Active,
    chunks: VecDeque<Chunk>,
    batches: Vec<PendingBatch>,
    e: &crate::Error,
) -> Option<Vec<PendingBatch>> {
    let log = core.log.as_ref()?;
    let async_mode = matches!(core.opts.durability, crate::Durability::Async { .. });
    let mut retry = match active.roll_back(log.io.as_ref(), !async_mode) {
        Ok(rolled) => rolled,
        Err(re) => {
            core.poison(format!(
                "wal write failed for lack of space ({e}) and could not be undone: {re}"
            ));
            fail_all(batches);
            return None;
        }
    };
    let cause = e.to_string();
    if async_mode {
        retry.extend(chunks);
        let bytes: usize = retry.iter().map(|c| c.bytes.len()).sum();
        let mut st = core.state.lock();
        st.queue.splice(0..0, retry);
        st.queued_bytes += bytes;
        let failures = st.stalled.as_ref().map_or(0, |s| s.failures) + 1;
        if failures == 1 {
            tracing::error!(error = %cause, "wal write failed for lack of disk space: new writes are refused until it can be written; acknowledged writes are kept and retried");
        }
        st.stalled = Some(Stall {
            cause,
            failures,
            retry_at: Instant::now() + stall_pause(failures - 1),
        });
        drop(st);
        core.done_cv.notify_all();
        return Some(batches);
    }
    let last_rotated = log.segments.lock().last().and_then(|m| m.last_seqno);
    let mut st = core.state.lock();
    let durable = st
        .durable
        .max(active.synced_last_seqno.unwrap_or(0))
        .max(last_rotated.unwrap_or(0));
    let (acked, refused): (Vec<_>, Vec<_>) = batches.into_iter().partition(|b| b.0 <= durable);
    let pending = std::mem::take(&mut st.pending);
    st.queue.clear();
    st.queued_bytes = 0;
    st.next_seqno = durable + 1;
    st.durable = durable;
    st.tail_segment = active.id;
    st.tail_len = active.file.len();
    // Every acknowledged write is durable: sync requests are served.
    st.sync_done = st.sync_requested;
    tracing::warn!(error = %cause, refused = refused.len() + pending.len(), "wal write failed for lack of disk space: the writes of this group are refused, the next write tries again");
    st.last_full = Some(cause);
    drop(st);
    for (_, _, waiter) in refused.into_iter().chain(pending) {
        waiter.fail_no_space();
    }
    core.done_cv.notify_all();
    Some(acked)
}

/// Appends the chunks, starting new segments where they say so, taking
/// each from the front of `chunks` as it goes: on an error, `chunks` holds
/// those not yet written (the one being appended is already among
/// `active.unsynced`). With `writer_checksums` the small records'
/// checksums are filled in first.
fn write_round(
    core: &Core,
    active: &mut Active,
    chunks: &mut VecDeque<Chunk>,
    writer_checksums: bool,
) -> Result<()> {
    let Some(log) = core.log.as_ref() else {
        chunks.clear();
        return Ok(());
    };
    while let Some(mut chunk) = chunks.pop_front() {
        // Only a bug could make this fail; the log is then poisoned rather
        // than written with records that would not check.
        if let Err(why) = chunk.finish_checksums(writer_checksums) {
            return Err(fasty_storage::Error::Io {
                path: active.path.clone(),
                source: std::io::Error::other(why),
            }
            .into());
        }
        if chunk.segment > active.id {
            if let Err(e) = rotate(core, log, active) {
                chunks.push_front(chunk);
                return Err(e);
            }
            chunks.push_front(chunk);
            continue;
        }
        if !chunk.bytes.is_empty() {
            let c = &core.counters;
            c.bytes_written
                .fetch_add(chunk.bytes.len() as u64, Ordering::Relaxed);
            c.records_written
                .fetch_add(u64::from(chunk.records), Ordering::Relaxed);
            let bytes = chunk.bytes.clone();
            if chunk.last_seqno.is_some() {
                active.last_seqno = chunk.last_seqno;
            }
            active.unsynced.push(chunk);
            active.file.append(bytes)?;
        } else if chunk.last_seqno.is_some() {
            active.last_seqno = chunk.last_seqno;
        }
    }
    Ok(())
}

/// Whether `e` is a failure for lack of disk space (retried), not one that
/// poisons the log.
fn out_of_space(e: &crate::Error) -> bool {
    matches!(e, crate::Error::Storage(se) if se.is_out_of_space())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `epochs` epochs against a simulated disk where a round takes
    /// `round(overlap)` and carries `batches(overlap)` batches; returns how
    /// many epochs overlapped.
    fn simulate(
        pacing: &mut Pacing,
        clock: &mut Instant,
        epochs: u32,
        round: impl Fn(bool) -> (Duration, usize),
    ) -> u32 {
        let mut overlapped = 0;
        for _ in 0..epochs {
            let overlap = pacing.overlap();
            overlapped += u32::from(overlap);
            for _ in 0..EPOCH_ROUNDS {
                assert_eq!(
                    pacing.overlap(),
                    overlap,
                    "the way changes only between epochs"
                );
                let (took, batches) = round(overlap);
                *clock += took;
                pacing.finished_round(batches, *clock);
            }
        }
        overlapped
    }

    #[test]
    fn follows_the_faster_way_and_keeps_measuring_the_other() {
        let mut clock = Instant::now();
        let mut pacing = Pacing::new(clock);
        // Overlapping: 30 batches per 300 us round (100 k/s); applying
        // first: 45 per 600 us (75 k/s).
        let overlap_wins = |overlap: bool| {
            if overlap {
                (Duration::from_micros(300), 30)
            } else {
                (Duration::from_micros(600), 45)
            }
        };
        let n = 8 * EXPLORE_EVERY;
        let overlapped = simulate(&mut pacing, &mut clock, n, overlap_wins);
        // Two epochs to measure both, then all but one in EXPLORE_EVERY.
        assert!(
            overlapped >= n - n / EXPLORE_EVERY - 2,
            "{overlapped} of {n}"
        );
        assert!(overlapped < n, "the slower way is tried now and then");

        // The disk slows down: applying first now wins (60 per 1.1 ms
        // against 32 per 1 ms); the pacing follows within a few epochs.
        let apply_first_wins = |overlap: bool| {
            if overlap {
                (Duration::from_micros(1000), 32)
            } else {
                (Duration::from_micros(1100), 60)
            }
        };
        simulate(&mut pacing, &mut clock, 2 * EXPLORE_EVERY, apply_first_wins);
        let overlapped = simulate(&mut pacing, &mut clock, n, apply_first_wins);
        assert!(overlapped <= n / EXPLORE_EVERY + 1, "{overlapped} of {n}");
        assert!(overlapped > 0, "the slower way is tried now and then");
    }

    #[test]
    fn starts_by_applying_first() {
        // One writer alone never has a next round to overlap with; the
        // first epochs must not depend on a measurement.
        let pacing = Pacing::new(Instant::now());
        assert!(!pacing.overlap());
    }
}
