//! [`Core`]: the state the [`crate::Db`] handle shares with its background
//! workers (the log writer, the spare segments), and what any of them may
//! do to it: poison the log, delete the segments a flush made redundant.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use fasty_storage::io::Io;
use fasty_storage::{Engine, Seqno};
use parking_lot::{Condvar, Mutex};

use crate::error::{Error, Result};
use crate::options::Options;
use crate::queue::{State, fail_all};
use crate::recovery::{ReplayStats, SegmentMeta};
use crate::spare::Spares;

/// Counters kept while the database runs.
#[derive(Default)]
pub(crate) struct Counters {
    pub groups: AtomicU64,
    pub syncs: AtomicU64,
    pub records_written: AtomicU64,
    pub bytes_written: AtomicU64,
    pub rotations: AtomicU64,
    pub segments_removed: AtomicU64,
}

/// The log's files.
pub(crate) struct LogDir {
    pub io: Arc<dyn Io>,
    /// `dir/wal`.
    pub dir: PathBuf,
    /// Segments the writer has finished with, oldest first (the active one
    /// is the writer's own).
    pub segments: Mutex<Vec<SegmentMeta>>,
    /// Durable mode with [`Options::preallocate_segments`]: the next
    /// segment, written ahead.
    pub spares: Option<Arc<Spares>>,
}

/// State shared by the handle and the log writer thread.
pub(crate) struct Core {
    pub engine: Engine,
    pub opts: Options,
    pub state: Mutex<State>,
    /// Wakes the log writer.
    pub writer_cv: Condvar,
    /// Wakes writers waiting for an fsync, for room in the queue, or for a
    /// sync request to be served.
    pub done_cv: Condvar,
    /// Async and memory modes: keeps sequence assignment and engine apply in
    /// the same order.
    pub apply_lock: Mutex<()>,
    /// One checkpoint at a time.
    pub checkpoint_lock: Mutex<()>,
    /// `None` in memory mode.
    pub log: Option<LogDir>,
    pub counters: Counters,
    pub replay: ReplayStats,
}

impl Core {
    /// Refuses every later write; the first cause is kept.
    pub(crate) fn poison(&self, cause: String) {
        let mut st = self.state.lock();
        if st.poisoned.is_none() {
            tracing::error!(cause = %cause, "database poisoned: writes are refused until reopen, reads keep working");
            st.poisoned = Some(cause);
        }
        // Batches the writer has not taken will never be written.
        let pending = std::mem::take(&mut st.pending);
        drop(st);
        fail_all(pending);
        self.writer_cv.notify_all();
        self.done_cv.notify_all();
    }

    /// Deletes the oldest finished segments whose every record is at or
    /// below `flushed` (so already in the engine's tables), then fsyncs the
    /// directory. Returns how many went.
    pub(crate) fn remove_obsolete(&self, flushed: Seqno) -> Result<usize> {
        let Some(log) = self.log.as_ref() else {
            return Ok(0);
        };
        let mut segments = log.segments.lock();
        let n = obsolete_prefix(&segments, flushed);
        if n == 0 {
            return Ok(0);
        }
        let mut removed = 0;
        let mut result = Ok(());
        for seg in &segments[..n] {
            if let Err(e) = log.io.remove(&seg.path) {
                result = Err(e);
                break;
            }
            removed += 1;
        }
        segments.drain(..removed);
        drop(segments);
        result?;
        log.io.sync_dir(&log.dir)?;
        self.counters
            .segments_removed
            .fetch_add(removed as u64, Ordering::Relaxed);
        tracing::debug!(segments = removed, flushed, "deleted flushed wal segments");
        Ok(removed)
    }

    pub(crate) fn check_writable(st: &State) -> Result<()> {
        if let Some(cause) = &st.poisoned {
            return Err(Error::Poisoned {
                cause: cause.clone(),
            });
        }
        if st.shutdown {
            return Err(Error::Closed);
        }
        if let Some(stall) = &st.stalled {
            return Err(Error::DiskFull {
                cause: stall.cause.clone(),
            });
        }
        Ok(())
    }
}

/// How many of `segments` (oldest first) may be deleted once the engine has
/// flushed everything up to `flushed`: the longest prefix whose every record
/// is at or below it. Empty segments count as obsolete.
pub(crate) fn obsolete_prefix(segments: &[SegmentMeta], flushed: Seqno) -> usize {
    segments
        .iter()
        .take_while(|s| s.last_seqno.is_none_or(|last| last <= flushed))
        .count()
}

impl Core {
    pub(crate) fn new(
        engine: Engine,
        opts: Options,
        state: State,
        log: Option<LogDir>,
        replay: ReplayStats,
    ) -> Core {
        Core {
            engine,
            opts,
            state: Mutex::new(state),
            writer_cv: Condvar::new(),
            done_cv: Condvar::new(),
            apply_lock: Mutex::new(()),
            checkpoint_lock: Mutex::new(()),
            log,
            counters: Counters::default(),
            replay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(id: u64, last: Option<Seqno>) -> SegmentMeta {
        SegmentMeta {
            path: PathBuf::from(format!("{id}.log")),
            last_seqno: last,
        }
    }

    #[test]
    fn only_segments_wholly_at_or_below_flushed_are_obsolete() {
        // Segment 2 straddles the flushed seqno: it and everything after it stay.
        let segs = [
            seg(1, Some(10)),
            seg(2, Some(20)),
            seg(3, None),
            seg(4, Some(30)),
        ];
        assert_eq!(obsolete_prefix(&segs, 0), 0);
        assert_eq!(obsolete_prefix(&segs, 9), 0);
        assert_eq!(obsolete_prefix(&segs, 10), 1);
        assert_eq!(obsolete_prefix(&segs, 15), 1);
        assert_eq!(obsolete_prefix(&segs, 20), 3);
        assert_eq!(obsolete_prefix(&segs, 29), 3);
        assert_eq!(obsolete_prefix(&segs, 30), 4);
        assert_eq!(obsolete_prefix(&[], 30), 0);
    }
}
