//! Segments written ahead of time ("spares"): durable mode's appends
//! overwrite zeros instead of growing the file.
//!
//! An fsync after an append that grows a file must also journal the new
//! size and the newly allocated blocks; after an overwrite of blocks that
//! are already written it has only the data to flush. On the ext4 virtio
//! disks we measure on, a 4.4 KB write plus `fdatasync` took 191 µs
//! appended and 124 µs over written zeros (wal/README.md). So in durable
//! mode a spare segment — the 16-byte header and zeros up to
//! `segment_size`, fsynced — is prepared before it is needed, off the write
//! path, and a rotation renames it into place instead of creating an empty
//! file. Readers take an all-zero remainder of a segment as its end
//! ([`crate::segment::scan_segment`]).
//!
//! Files, in `wal/`:
//! - `spare.tmp`: being written; never used, removed at open;
//! - `spare.ready`: complete and fsynced (it is renamed from `spare.tmp`
//!   only after its fsync, so the name implies the content); a rotation
//!   renames it to the next segment's name and fsyncs the directory, which
//!   makes the segment durable as created. It survives a close or a crash
//!   and is used by the next open.
//!
//! With the engine's background threads on, a thread of its own prepares
//! the next spare whenever there is none; with them off
//! (`fasty_storage::Options::background == false`, as in the tests) the
//! log writer prepares it itself right after starting a segment, so the
//! I/O steps happen in a repeatable order. A failure to prepare, take or
//! remove a spare is logged and costs nothing but the speed-up: the
//! rotation then creates the segment as it would without spares, and no
//! write or open fails for it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use fasty_storage::background::Progress;
use fasty_storage::io::{Io, WritableFile};
use parking_lot::{Condvar, Mutex};

use crate::error::Result;
use crate::segment::{SEGMENT_HEADER_LEN, segment_header, segment_path};

/// The spare being written.
pub(crate) const SPARE_TMP: &str = "spare.tmp";
/// The spare ready to become the next segment.
pub(crate) const SPARE_READY: &str = "spare.ready";
/// Zeros per append while preparing a spare.
const ZERO_CHUNK: usize = 1 << 20;

/// The spare segment of one open log.
pub(crate) struct Spares {
    io: Arc<dyn Io>,
    dir: PathBuf,
    /// Size of a spare, header included: the segment size.
    size: u64,
    /// Prepared by a thread of its own (else by the log writer).
    background: bool,
    state: Mutex<SpareState>,
    cv: Condvar,
}

#[derive(Default)]
struct SpareState {
    /// `spare.ready` exists.
    ready: bool,
    /// The last attempt failed (or was skipped for lack of space); the
    /// next rotation asks for another.
    failed: bool,
    shutdown: bool,
    /// A spare is being written.
    preparing: bool,
    /// [`Spares::release`] wants the spare being written given up.
    abort: bool,
    /// Rotations that used a spare.
    used: u64,
}

impl Spares {
    /// Removes a half-written spare left by a crash and notes whether a
    /// ready one exists. Never fails the open: if the directory cannot be
    /// listed or the half-written spare removed, that is logged and the log
    /// starts without a spare (the next one prepared replaces both names).
    pub(crate) fn open(io: Arc<dyn Io>, dir: &Path, size: u64, background: bool) -> Spares {
        let ready = match present(io.as_ref(), dir) {
            Ok((tmp, ready)) => {
                if tmp && let Err(e) = io.remove(&dir.join(SPARE_TMP)) {
                    tracing::warn!(error = %e, "could not remove a half-written spare wal segment; the next spare prepared overwrites it");
                }
                ready
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not look for spare wal segments; starting without one");
                false
            }
        };
        Spares {
            io,
            dir: dir.to_path_buf(),
            size: size.max(SEGMENT_HEADER_LEN as u64),
            background,
            state: Mutex::new(SpareState {
                ready,
                ..SpareState::default()
            }),
            cv: Condvar::new(),
        }
    }

    /// Whether a spare is ready to be taken.
    pub(crate) fn is_ready(&self) -> bool {
        self.state.lock().ready
    }

    /// Rotations that started their segment from a spare.
    pub(crate) fn used(&self) -> u64 {
        self.state.lock().used
    }

    /// Starts segment `id` from the ready spare, if there is one: renamed
    /// into place, the directory fsynced, opened for writing after its
    /// header; returns its path and the open file. `None` when no spare is
    /// ready or it could not be taken (`spare.ready` gone or not renamable,
    /// the directory fsync or the open failed): that is logged, and the
    /// caller creates the segment the slow way, over whatever the failed
    /// attempt left at its name. A spare is only a speed-up; it never
    /// fails a rotation or an open.
    pub(crate) fn take(&self, id: u64) -> Option<(PathBuf, Box<dyn WritableFile>)> {
        match self.try_take(id) {
            Ok(taken) => taken,
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    dir = %self.dir.display(),
                    "could not start a wal segment from the spare; creating it the slow way"
                );
                None
            }
        }
    }

    /// [`Spares::take`], with its failure for the caller to log.
    fn try_take(&self, id: u64) -> Result<Option<(PathBuf, Box<dyn WritableFile>)>> {
        let mut st = self.state.lock();
        if !st.ready {
            return Ok(None);
        }
        st.ready = false;
        let path = segment_path(&self.dir, id);
        // Under the lock, so that a spare being prepared cannot take the
        // name `spare.ready` before this one has left it.
        self.io.rename(&self.dir.join(SPARE_READY), &path)?;
        drop(st);
        self.io.sync_dir(&self.dir)?;
        let mut file = self.io.open_append(&path)?;
        file.rewind_to(SEGMENT_HEADER_LEN as u64)?;
        self.state.lock().used += 1;
        tracing::debug!(file = %path.display(), "started a wal segment from a spare");
        Ok(Some((path, file)))
    }

    /// Gives back the disk space spares hold, because a log write failed
    /// for lack of it: removes `spare.ready`, stops a spare being written
    /// (waiting until its file is gone) and prepares no other until the
    /// next segment starts. Returns whether any space was given back, so
    /// that the failed write is worth trying again at once.
    pub(crate) fn release(&self) -> bool {
        let mut st = self.state.lock();
        let mut released = false;
        if st.preparing {
            st.abort = true;
            while st.preparing {
                self.cv.wait(&mut st);
            }
            released = true;
        }
        st.failed = true;
        // Also a `spare.ready` the state lost track of (a rotation whose
        // rename of it failed).
        let on_disk = present(self.io.as_ref(), &self.dir).is_ok_and(|(_, ready)| ready);
        if st.ready || on_disk {
            match self.io.remove(&self.dir.join(SPARE_READY)) {
                Ok(()) => {
                    st.ready = false;
                    released = true;
                }
                Err(e) => tracing::warn!(error = %e, "could not remove the spare wal segment"),
            }
        }
        released
    }

    /// Called by the log writer once it has started a segment: the next
    /// spare is wanted. Prepares it now when there is no background thread.
    pub(crate) fn segment_started(&self) {
        let mut st = self.state.lock();
        st.failed = false;
        if st.ready || st.shutdown {
            return;
        }
        if self.background {
            drop(st);
            self.cv.notify_all();
            return;
        }
        drop(st);
        self.prepare_logged();
    }

    /// One unit of the background work: prepares a spare if one is
    /// wanted (none ready, the last attempt did not fail, not shut down).
    pub(crate) fn step(&self) -> Progress {
        {
            let st = self.state.lock();
            if st.shutdown || st.ready || st.failed {
                return Progress::Idle;
            }
        }
        self.prepare_logged();
        Progress::Worked
    }

    /// The background thread's body: steps, sleeping while no spare is
    /// wanted, until [`Spares::shutdown`].
    pub(crate) fn run(&self) {
        loop {
            if self.step() == Progress::Worked {
                continue;
            }
            let mut st = self.state.lock();
            while !st.shutdown && (st.ready || st.failed) {
                self.cv.wait(&mut st);
            }
            if st.shutdown {
                return;
            }
        }
    }

    /// Stops the background thread (an unfinished spare stays `spare.tmp`,
    /// removed at the next open).
    pub(crate) fn shutdown(&self) {
        self.state.lock().shutdown = true;
        self.cv.notify_all();
    }

    fn prepare_logged(&self) {
        if let Some(free) = self.free_space()
            && free < 2 * self.size
        {
            tracing::info!(
                dir = %self.dir.display(),
                free_bytes = free,
                spare_bytes = self.size,
                "not preparing a spare wal segment: less than two segments of disk space free, the log needs it more"
            );
            self.state.lock().failed = true;
            return;
        }
        {
            let mut st = self.state.lock();
            st.preparing = true;
            st.abort = false;
        }
        let result = self.prepare();
        let aborted = {
            let mut st = self.state.lock();
            st.preparing = false;
            std::mem::take(&mut st.abort)
        };
        if aborted {
            // Released for a log write that ran out of space.
            if let Err(e) = self.io.remove(&self.dir.join(SPARE_TMP)) {
                tracing::debug!(error = %e, "could not remove the unfinished spare wal segment");
            }
            let mut st = self.state.lock();
            st.failed = true;
            drop(st);
            self.cv.notify_all();
            return;
        }
        self.cv.notify_all();
        match result {
            Ok(true) => {}
            Ok(false) => {} // shut down midway
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    dir = %self.dir.display(),
                    "could not prepare a spare wal segment; the next rotation creates one the slow way"
                );
                // A half-written spare must not hold disk space the log
                // needs (the failure may well be a full disk).
                if let Err(e) = self.io.remove(&self.dir.join(SPARE_TMP)) {
                    tracing::debug!(error = %e, "could not remove the unfinished spare wal segment");
                }
                self.state.lock().failed = true;
            }
        }
    }

    /// Writes `spare.tmp` (header, zeros), fsyncs it and renames it to
    /// `spare.ready`. Returns false if shut down midway.
    fn prepare(&self) -> Result<bool> {
        let tmp = self.dir.join(SPARE_TMP);
        let mut file = self.io.create(&tmp)?;
        file.append(segment_header())?;
        let mut left = self.size - SEGMENT_HEADER_LEN as u64;
        while left > 0 {
            let st = self.state.lock();
            if st.shutdown || st.abort {
                return Ok(false);
            }
            drop(st);
            let n = left.min(ZERO_CHUNK as u64) as usize;
            file.append(vec![0; n])?;
            left -= n as u64;
        }
        file.sync()?;
        drop(file);
        let mut st = self.state.lock();
        if st.shutdown || st.abort {
            return Ok(false);
        }
        // The rename is made durable by the directory fsync of the rotation
        // that uses the spare; a crash before that leaves `spare.tmp`.
        self.io.rename(&tmp, &self.dir.join(SPARE_READY))?;
        st.ready = true;
        tracing::debug!(dir = %self.dir.display(), bytes = self.size, "prepared a spare wal segment");
        Ok(true)
    }
}

impl Spares {
    /// Bytes free to unprivileged writers on the log's file system, if the
    /// system says (a spare is prepared only when that leaves room).
    fn free_space(&self) -> Option<u64> {
        match rustix::fs::statvfs(&self.dir) {
            Ok(s) => Some(s.f_bavail.saturating_mul(s.f_frsize)),
            Err(e) => {
                tracing::debug!(error = %e, dir = %self.dir.display(), "statvfs failed");
                None
            }
        }
    }
}

/// Whether `spare.tmp` and `spare.ready` exist in `dir`.
fn present(io: &dyn Io, dir: &Path) -> Result<(bool, bool)> {
    let names: Vec<PathBuf> = io.list(dir)?;
    let has = |name: &str| {
        names
            .iter()
            .any(|p| p.file_name().is_some_and(|n| n == name))
    };
    Ok((has(SPARE_TMP), has(SPARE_READY)))
}

/// Removes any spare in `dir`: for logs that do not use them (async mode,
/// or pre-allocation turned off), so no disk space is held for nothing. A
/// failure is logged, never the open's: the next open tries again.
pub(crate) fn remove_spares(io: &dyn Io, dir: &Path) {
    let (tmp, ready) = match present(io, dir) {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "could not look for spare wal segments to remove");
            return;
        }
    };
    for (there, name) in [(tmp, SPARE_TMP), (ready, SPARE_READY)] {
        if there && let Err(e) = io.remove(&dir.join(name)) {
            tracing::warn!(error = %e, "could not remove a spare wal segment the log does not use");
        }
    }
}
