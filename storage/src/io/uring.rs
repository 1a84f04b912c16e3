//! The io_uring backend: appends are queued on a per-file ring and several
//! writes stay in flight while the caller goes on; `sync` drains them and
//! then waits for an fsync submitted after them.
//!
//! This module owns every buffer the kernel may be reading from. A buffer
//! handed to [`WritableFile::append`] moves into the file's in-flight table
//! and is freed only after the completion of the last write that points into
//! it has been reaped, so no path (error, short write, drop) frees memory the
//! kernel still owns. Metadata operations (create, rename, remove, …) are
//! plain `std` calls with the same semantics as [`super::std_fs`].

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use io_uring::{IoUring, opcode, types};

use super::std_fs::StdIo;
use super::{Io, WritableFile};
use crate::error::{Error, Result};

/// Submission-queue size of each file's ring.
const RING_ENTRIES: u32 = 32;
/// Writes one file keeps in flight before `append` waits for completions.
/// Well below [`RING_ENTRIES`] (and the completion queue, twice as large), so
/// resubmissions and the fsync always find room.
const MAX_IN_FLIGHT: usize = 16;
/// Largest single write submitted; longer buffers go out in pieces (the
/// length field of a write is 32 bits). Small in tests so that the
/// continuation path, shared with short writes, is exercised.
#[cfg(not(test))]
const MAX_CHUNK: usize = 1 << 30;
#[cfg(test)]
const MAX_CHUNK: usize = 1 << 20;
/// `user_data` of the fsync; writes use their slot index.
const FSYNC_TAG: u64 = u64::MAX;
/// `user_data` of the probe's no-op.
const NOP_TAG: u64 = 0x6e6f70;
/// Pseudo-path used in errors that concern the ring rather than a file.
const RING_PATH: &str = "<io_uring>";

/// [`Io`] over io_uring: every file opened for appending gets its own small
/// ring; reads and directory operations use `std`.
#[derive(Debug)]
pub struct UringIo {
    std: StdIo,
}

impl UringIo {
    /// Checks that io_uring works here: sets up a ring, checks that the write
    /// and fsync opcodes are supported, and round-trips a no-op.
    ///
    /// Any failure (old kernel, io_uring disabled by sysctl or seccomp, out
    /// of locked memory) is returned as [`Error::Io`] saying which step
    /// failed, so [`super::open_backend`] can fall back to std.
    pub fn new() -> Result<UringIo> {
        probe().map_err(|e| {
            Error::io(
                RING_PATH,
                io::Error::new(e.kind(), format!("io_uring probe failed: {e}")),
            )
        })?;
        Ok(UringIo { std: StdIo::new() })
    }
}

/// The checks behind [`UringIo::new`].
fn probe() -> io::Result<()> {
    let mut ring = IoUring::new(2).map_err(|e| context(e, "setting up a ring"))?;
    let mut probe = io_uring::Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| context(e, "probing supported opcodes"))?;
    for (code, name) in [
        (opcode::Write::CODE, "write"),
        (opcode::Fsync::CODE, "fsync"),
    ] {
        if !probe.is_supported(code) {
            return Err(io::Error::new(
                ErrorKind::Unsupported,
                format!("the kernel does not support the {name} opcode"),
            ));
        }
    }
    let nop = opcode::Nop::new().build().user_data(NOP_TAG);
    // SAFETY: a no-op references no memory, so nothing has to outlive it.
    unsafe { ring.submission().push(&nop) }
        .map_err(|_| io::Error::other("submission queue of a fresh ring is full"))?;
    submit_and_wait(&ring, 1).map_err(|e| context(e, "submitting a no-op"))?;
    let cqe = ring
        .completion()
        .next()
        .ok_or_else(|| io::Error::other("no completion for the no-op"))?;
    if cqe.user_data() != NOP_TAG {
        return Err(io::Error::other("unexpected completion for the no-op"));
    }
    if cqe.result() < 0 {
        return Err(context(
            io::Error::from_raw_os_error(-cqe.result()),
            "completing a no-op",
        ));
    }
    Ok(())
}

/// Prefixes an error with what was being done, keeping its kind.
fn context(e: io::Error, what: &str) -> io::Error {
    io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// `io_uring_enter`, retried when a signal interrupts the wait. Retrying is
/// harmless: entries already consumed are not submitted twice.
fn submit_and_wait(ring: &IoUring, want: usize) -> io::Result<()> {
    loop {
        match ring.submit_and_wait(want) {
            Ok(_) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// One append the kernel may be writing from.
#[derive(Debug)]
struct InFlight {
    /// The caller's buffer; freed only once no submitted write points into it.
    buf: Vec<u8>,
    /// File offset of `buf[0]`.
    offset: u64,
    /// Bytes of `buf` known to be written.
    done: usize,
    /// Bytes of `buf` covered by the write currently submitted (from `done`).
    submitted: usize,
}

/// The first failure on a file, replayed by every later call.
#[derive(Debug)]
struct Sticky {
    kind: ErrorKind,
    message: String,
}

/// A file appended to through its own io_uring.
///
/// Up to 16 writes are in flight at once; an error of one of them is
/// reported by a later `append`, `sync` or `truncate`, and from then on
/// every call fails (the file's content is uncertain).
pub struct UringFile {
    ring: IoUring,
    file: File,
    path: PathBuf,
    /// End offset including writes still in flight.
    len: u64,
    /// Writes in flight, indexed by their `user_data`. Never resized, though
    /// that would be harmless too: the kernel points into each `buf`'s heap
    /// allocation, not into this table.
    slots: Vec<Option<InFlight>>,
    in_flight: usize,
    /// Result of the outstanding fsync once its completion is reaped.
    fsync_result: Option<i32>,
    fsync_pending: bool,
    sticky: Option<Sticky>,
    /// Completions copied out of the queue before they are handled.
    reaped: Vec<(u64, i32)>,
}

impl std::fmt::Debug for UringFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringFile")
            .field("path", &self.path)
            .field("len", &self.len)
            .field("in_flight", &self.in_flight)
            .field("failed", &self.sticky.is_some())
            .finish()
    }
}

impl UringFile {
    fn open(path: &Path, truncate: bool) -> Result<UringFile> {
        let ring = IoUring::new(RING_ENTRIES)
            .map_err(|e| Error::io(path, context(e, "setting up the file's io_uring")))?;
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(truncate)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        Ok(UringFile {
            ring,
            file,
            path: path.to_path_buf(),
            len,
            slots: (0..MAX_IN_FLIGHT).map(|_| None).collect(),
            in_flight: 0,
            fsync_result: None,
            fsync_pending: false,
            sticky: None,
            reaped: Vec::with_capacity(2 * RING_ENTRIES as usize),
        })
    }

    /// Records the first failure (later ones are consequences) and returns it.
    fn fail(&mut self, e: io::Error) -> Error {
        if self.sticky.is_none() {
            self.sticky = Some(Sticky {
                kind: e.kind(),
                message: e.to_string(),
            });
        }
        Error::io(&self.path, e)
    }

    /// The remembered failure, if any, as a fresh error.
    fn check(&self) -> Result<()> {
        match &self.sticky {
            None => Ok(()),
            Some(s) => Err(Error::io(
                &self.path,
                io::Error::new(s.kind, format!("an earlier write failed: {}", s.message)),
            )),
        }
    }

    /// Queues the next piece of the write in `slot` (from its `done` bytes).
    /// On failure nothing is queued, so the kernel does not own the buffer.
    fn push_write(&mut self, slot: usize) -> io::Result<()> {
        let fd = types::Fd(self.file.as_raw_fd());
        let Some(w) = self.slots[slot].as_mut() else {
            return Err(io::Error::other("write slot is empty"));
        };
        let piece = (w.buf.len() - w.done).min(MAX_CHUNK);
        let entry = opcode::Write::new(fd, w.buf[w.done..].as_ptr(), piece as u32)
            .offset(w.offset + w.done as u64)
            .build()
            .user_data(slot as u64);
        w.submitted = piece;
        // SAFETY: the entry points at `piece` bytes inside `w.buf`'s heap
        // allocation. That Vec sits in `self.slots[slot]` and is not touched
        // until this entry's completion is reaped (`handle_write`); `Drop`
        // drains every slot first and leaks the buffers if it cannot. Moving
        // the Vec (or `UringFile`) never moves its heap allocation.
        unsafe { self.ring.submission().push(&entry) }
            .map_err(|_| io::Error::other("io_uring submission queue is full"))
    }

    /// Hands queued entries to the kernel and waits until `want` completions
    /// are available, then handles everything completed so far.
    fn wait(&mut self, want: usize) -> io::Result<()> {
        submit_and_wait(&self.ring, want)?;
        self.reap()
    }

    /// Handles every completion in the queue without waiting; resubmits
    /// short or interrupted writes.
    fn reap(&mut self) -> io::Result<()> {
        let mut reaped = std::mem::take(&mut self.reaped);
        reaped.clear();
        reaped.extend(self.ring.completion().map(|c| (c.user_data(), c.result())));
        let mut resubmitted = false;
        for &(tag, res) in &reaped {
            if tag == FSYNC_TAG {
                self.fsync_result = Some(res);
            } else if let Some(slot) = usize::try_from(tag).ok().filter(|&s| s < MAX_IN_FLIGHT) {
                resubmitted |= self.handle_write(slot, res);
            }
        }
        self.reaped = reaped;
        if resubmitted {
            submit_and_wait(&self.ring, 0)?;
        }
        Ok(())
    }

    /// Handles the completion of the write in `slot`; returns whether a
    /// continuation was queued.
    fn handle_write(&mut self, slot: usize, res: i32) -> bool {
        let Some(w) = self.slots[slot].as_mut() else {
            return false;
        };
        let outcome = if res == -libc::EINTR || res == -libc::EAGAIN {
            Ok(())
        } else if res < 0 {
            Err(io::Error::from_raw_os_error(-res))
        } else if res == 0 {
            Err(io::Error::new(
                ErrorKind::WriteZero,
                "write completed 0 bytes",
            ))
        } else {
            // res > 0, and the kernel never reports more than was submitted.
            w.done += (res as usize).min(w.submitted);
            Ok(())
        };
        let finished = w.done == w.buf.len();
        match outcome {
            Ok(()) if finished => {
                self.release(slot);
                false
            }
            Ok(()) => match self.push_write(slot) {
                Ok(()) => true,
                Err(e) => {
                    // Not queued, so the kernel holds no pointer into it.
                    self.release(slot);
                    self.fail(e);
                    false
                }
            },
            Err(e) => {
                // The completion arrived: the kernel is done with the buffer.
                self.release(slot);
                self.fail(e);
                false
            }
        }
    }

    fn release(&mut self, slot: usize) {
        if self.slots[slot].take().is_some() {
            self.in_flight -= 1;
        }
    }

    /// Waits until no write is in flight. Errors of the writes themselves
    /// become sticky; an `Err` here means the ring itself failed.
    fn drain(&mut self) -> io::Result<()> {
        while self.in_flight > 0 || self.fsync_pending {
            self.wait(1)?;
            if self.fsync_result.is_some() {
                self.fsync_pending = false;
            }
        }
        Ok(())
    }

    /// `drain`, with a ring failure made sticky.
    fn drain_or_fail(&mut self) -> Result<()> {
        self.drain()
            .map_err(|e| self.fail(context(e, "waiting for writes")))
    }

    /// Submits an fsync (data and size) and waits for its completion. Only
    /// called with nothing in flight, so it covers every earlier write.
    fn fsync(&mut self) -> io::Result<()> {
        self.submit_fsync()?;
        self.wait_fsync()
    }

    /// Queues an fsync (data and size) and hands it to the kernel without
    /// waiting. Only called with nothing in flight, so it covers every
    /// earlier write.
    fn submit_fsync(&mut self) -> io::Result<()> {
        let entry = opcode::Fsync::new(types::Fd(self.file.as_raw_fd()))
            .flags(types::FsyncFlags::DATASYNC)
            .build()
            .user_data(FSYNC_TAG);
        self.fsync_result = None;
        // SAFETY: an fsync references no memory; the fd stays open while
        // `self` lives and `Drop` waits for the pending fsync.
        unsafe { self.ring.submission().push(&entry) }
            .map_err(|_| io::Error::other("io_uring submission queue is full"))?;
        self.fsync_pending = true;
        submit_and_wait(&self.ring, 0)
    }

    /// Waits for the fsync [`UringFile::submit_fsync`] queued; resubmits it
    /// when interrupted.
    fn wait_fsync(&mut self) -> io::Result<()> {
        loop {
            while self.fsync_result.is_none() {
                self.wait(1)?;
            }
            self.fsync_pending = false;
            match self.fsync_result {
                Some(res) if res == -libc::EINTR || res == -libc::EAGAIN => self.submit_fsync()?,
                Some(res) if res < 0 => return Err(io::Error::from_raw_os_error(-res)),
                _ => return Ok(()),
            }
        }
    }
}

impl WritableFile for UringFile {
    fn append(&mut self, buf: Vec<u8>) -> Result<()> {
        self.check()?;
        if buf.is_empty() {
            return Ok(());
        }
        while self.in_flight == MAX_IN_FLIGHT {
            self.wait(1)
                .map_err(|e| self.fail(context(e, "waiting for a write slot")))?;
            self.check()?;
        }
        let Some(slot) = self.slots.iter().position(Option::is_none) else {
            return Err(self.fail(io::Error::other("no free write slot")));
        };
        let len = buf.len() as u64;
        self.slots[slot] = Some(InFlight {
            buf,
            offset: self.len,
            done: 0,
            submitted: 0,
        });
        self.in_flight += 1;
        if let Err(e) = self.push_write(slot) {
            self.release(slot);
            return Err(self.fail(e));
        }
        self.len += len;
        // Hand it to the kernel, and pick up whatever already completed so
        // errors surface early.
        submit_and_wait(&self.ring, 0)
            .and_then(|()| self.reap())
            .map_err(|e| self.fail(context(e, "submitting a write")))?;
        self.check()
    }

    fn sync(&mut self) -> Result<()> {
        self.check()?;
        self.drain_or_fail()?;
        self.check()?;
        self.fsync().map_err(|e| self.fail(context(e, "fsync")))
    }

    fn start_sync(&mut self) -> Result<()> {
        self.check()?;
        self.drain_or_fail()?;
        self.check()?;
        self.submit_fsync()
            .map_err(|e| self.fail(context(e, "fsync")))
    }

    fn finish_sync(&mut self) -> Result<()> {
        if !self.fsync_pending {
            // Nothing started (or it failed to start): a whole sync.
            return self.sync();
        }
        self.wait_fsync()
            .map_err(|e| self.fail(context(e, "fsync")))?;
        self.check()
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn truncate(&mut self, len: u64) -> Result<()> {
        self.check()?;
        self.drain_or_fail()?;
        self.check()?;
        self.file
            .set_len(len)
            .map_err(|e| self.fail(context(e, "ftruncate")))?;
        self.len = len;
        Ok(())
    }

    fn rewind_to(&mut self, offset: u64) -> Result<()> {
        self.check()?;
        super::std_fs::check_rewind(&self.path, offset, self.len)?;
        self.drain_or_fail()?;
        self.check()?;
        // Writes carry their own offsets: moving `len` back is all it takes.
        self.len = offset;
        Ok(())
    }
}

impl Drop for UringFile {
    fn drop(&mut self) {
        if self.drain().is_err() {
            // The ring failed, so completions may never be seen; the kernel
            // may still write from these buffers. Leak them rather than free
            // memory it owns.
            for slot in &mut self.slots {
                if let Some(w) = slot.take() {
                    std::mem::forget(w.buf);
                }
            }
        }
    }
}

impl Io for UringIo {
    fn name(&self) -> &'static str {
        "uring"
    }

    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        Ok(Box::new(UringFile::open(path, true)?))
    }

    fn open_append(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        if !path.exists() {
            return Err(Error::io(
                path,
                io::Error::new(ErrorKind::NotFound, "file does not exist"),
            ));
        }
        Ok(Box::new(UringFile::open(path, false)?))
    }

    fn read(&self, path: &Path) -> Result<Vec<u8>> {
        self.std.read(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        self.std.rename(from, to)
    }

    fn remove(&self, path: &Path) -> Result<()> {
        self.std.remove(path)
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        self.std.sync_dir(dir)
    }

    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        self.std.create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        self.std.list(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backend, or `None` (with a note) where io_uring is unavailable.
    /// Set `FASTY_REQUIRE_URING=1` to turn that into a failure.
    fn uring() -> Option<UringIo> {
        match UringIo::new() {
            Ok(io) => Some(io),
            Err(e) if std::env::var_os("FASTY_REQUIRE_URING").is_none() => {
                eprintln!("skipping io_uring test: {e}");
                None
            }
            Err(e) => panic!("io_uring required but unavailable: {e}"),
        }
    }

    /// Deterministic bytes for buffer `i` of length `len`.
    fn pattern(i: usize, len: usize) -> Vec<u8> {
        (0..len).map(|j| (i * 31 + j * 7) as u8).collect()
    }

    #[test]
    fn probe_reports_name() {
        let Some(io) = uring() else { return };
        assert_eq!(io.name(), "uring");
    }

    #[test]
    fn many_appends_then_sync_read_back() {
        let Some(io) = uring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = io.create(&path).unwrap();
        let mut expected = Vec::new();
        for i in 0..500 {
            let buf = pattern(i, [1, 7, 100, 4096, 4097, 65_536][i % 6]);
            expected.extend_from_slice(&buf);
            f.append(buf).unwrap();
            assert_eq!(f.len(), expected.len() as u64);
        }
        f.append(Vec::new()).unwrap();
        f.sync().unwrap();
        assert_eq!(io.read(&path).unwrap(), expected);
        // More appends after a sync keep going at the end.
        f.append(b"tail".to_vec()).unwrap();
        expected.extend_from_slice(b"tail");
        f.sync().unwrap();
        assert_eq!(io.read(&path).unwrap(), expected);
    }

    #[test]
    fn started_sync_covers_earlier_appends_and_appends_go_on_after() {
        let Some(io) = uring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = io.create(&path).unwrap();
        let mut expected = Vec::new();
        for round in 0..50 {
            for i in 0..round % 5 + 1 {
                let buf = pattern(round * 7 + i, [3, 4096, 70_000][i % 3]);
                expected.extend_from_slice(&buf);
                f.append(buf).unwrap();
            }
            f.start_sync().unwrap();
            f.finish_sync().unwrap();
            assert_eq!(io.read(&path).unwrap(), expected);
        }
        // A finish without a start is a whole sync; dropping with a sync
        // started waits for it.
        f.append(b"tail".to_vec()).unwrap();
        f.finish_sync().unwrap();
        f.start_sync().unwrap();
        drop(f);
        expected.extend_from_slice(b"tail");
        assert_eq!(io.read(&path).unwrap(), expected);
    }

    #[test]
    fn truncate_then_append() {
        let Some(io) = uring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = io.create(&path).unwrap();
        for i in 0..20 {
            f.append(pattern(i, 1000)).unwrap();
        }
        f.truncate(1500).unwrap();
        assert_eq!(f.len(), 1500);
        f.append(b"xyz".to_vec()).unwrap();
        f.sync().unwrap();
        let mut expected = pattern(0, 1000);
        expected.extend_from_slice(&pattern(1, 500));
        expected.extend_from_slice(b"xyz");
        assert_eq!(io.read(&path).unwrap(), expected);
    }

    #[test]
    fn open_append_continues_at_end() {
        let Some(io) = uring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        {
            let mut f = io.create(&path).unwrap();
            f.append(b"hello ".to_vec()).unwrap();
            f.sync().unwrap();
        }
        let mut f = io.open_append(&path).unwrap();
        assert_eq!(f.len(), 6);
        f.append(b"world".to_vec()).unwrap();
        f.sync().unwrap();
        assert_eq!(io.read(&path).unwrap(), b"hello world");
        // create truncates
        let f = io.create(&path).unwrap();
        assert!(f.is_empty());
        assert!(io.read(&path).unwrap().is_empty());
    }

    #[test]
    fn open_append_missing_file_fails() {
        let Some(io) = uring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let err = io.open_append(&dir.path().join("nope")).err().unwrap();
        assert!(matches!(err, Error::Io { .. }), "{err}");
    }

    #[test]
    fn large_write() {
        let Some(io) = uring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        let mut f = io.create(&path).unwrap();
        let big = pattern(3, 8 << 20);
        f.append(b"head".to_vec()).unwrap();
        f.append(big.clone()).unwrap();
        f.append(b"tail".to_vec()).unwrap();
        f.sync().unwrap();
        let data = io.read(&path).unwrap();
        assert_eq!(data.len(), 8 + (8 << 20));
        assert_eq!(&data[..4], b"head");
        assert!(data[4..4 + big.len()] == big[..]);
        assert_eq!(&data[4 + big.len()..], b"tail");
    }

    #[test]
    fn drop_with_writes_in_flight_drains() {
        let Some(io) = uring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut expected = Vec::new();
        {
            let mut f = io.create(&path).unwrap();
            for i in 0..MAX_IN_FLIGHT * 3 {
                let buf = pattern(i, 256 << 10);
                expected.extend_from_slice(&buf);
                f.append(buf).unwrap();
            }
            // Dropped without sync while writes are (likely) in flight.
        }
        assert!(io.read(&path).unwrap() == expected);
    }

    #[test]
    fn write_error_is_sticky() {
        let Some(_io) = uring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let mut f = UringFile::open(&path, true).unwrap();
        // Swap in a read-only descriptor so the kernel rejects the write.
        f.file = File::open(&path).unwrap();
        let first = f.append(b"data".to_vec()).and_then(|()| f.sync());
        let err = first.err().unwrap();
        assert!(
            matches!(&err, Error::Io { path: p, .. } if p == &path),
            "{err}"
        );
        assert!(f.append(b"more".to_vec()).is_err());
        assert!(f.sync().is_err());
        assert!(f.truncate(0).is_err());
    }

    #[test]
    fn files_are_independent() {
        let Some(io) = uring() else { return };
        let dir = tempfile::tempdir().unwrap();
        let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
        let mut a = io.create(&pa).unwrap();
        let mut b = io.create(&pb).unwrap();
        for i in 0..40 {
            a.append(pattern(i, 3000)).unwrap();
            b.append(pattern(i + 1, 5000)).unwrap();
        }
        a.sync().unwrap();
        b.sync().unwrap();
        assert_eq!(io.read(&pa).unwrap().len(), 40 * 3000);
        assert_eq!(io.read(&pb).unwrap().len(), 40 * 5000);
    }
}
