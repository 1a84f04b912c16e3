//! File I/O: the one boundary between the engine and the operating system
//! for everything the engine *writes*.
//!
//! [`Io`] is a small trait with two production backends, [`uring`] (batched
//! writes and fsyncs through io_uring, several writes in flight) and
//! [`std_fs`] (plain `std::fs`), plus test backends in `testing` (only with
//! the `test-util` feature) that inject faults or simulate a crash by keeping
//! the durable (fsynced) image apart from what was merely written. Reads of SSTs go through `memmap2` maps and do not
//! pass through this trait; the crash backend therefore writes real files and
//! rewrites the directory to its durable image when it "crashes".
//!
//! Durability contract every backend keeps:
//! - [`WritableFile::append`] takes ownership of the buffer; the backend may
//!   keep it in flight (the kernel owns it until the completion arrives).
//!   An error of an earlier in-flight write is reported by a later `append`
//!   or by `sync`.
//! - [`WritableFile::sync`] returns only after every earlier append has
//!   completed *and* an fsync issued after them has completed. A write is
//!   never reported durable before its fsync completes.
//! - Creating, renaming or removing a file is durable only after
//!   [`Io::sync_dir`] on its directory.

pub mod std_fs;
#[cfg(any(test, feature = "test-util"))]
pub mod testing;
pub mod uring;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Which I/O backend to use for writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IoBackend {
    /// io_uring when a ring can be set up, otherwise std (the reason is
    /// logged). The environment variable `FASTY_IO=uring|std` overrides it.
    #[default]
    Auto,
    /// io_uring; opening fails if no ring can be set up.
    Uring,
    /// Plain `std::fs` calls.
    Std,
}

/// A file opened for appending.
pub trait WritableFile: Send {
    /// Queues `buf` to be written at the current end of the file. The write
    /// may still be in flight when this returns.
    fn append(&mut self, buf: Vec<u8>) -> Result<()>;
    /// Waits for every queued write, then fsyncs (data and size) and waits
    /// for that too.
    fn sync(&mut self) -> Result<()>;
    /// Starts what [`WritableFile::sync`] does without waiting for the
    /// fsync, so the caller can work while the disk does; nothing may be
    /// appended until [`WritableFile::finish_sync`] has returned. A backend
    /// that cannot sync in the background does nothing here and syncs in
    /// `finish_sync` (the default).
    fn start_sync(&mut self) -> Result<()> {
        Ok(())
    }
    /// Waits for the sync begun by [`WritableFile::start_sync`]: once this
    /// returns `Ok`, everything appended before `start_sync` is durable, as
    /// after `sync`.
    fn finish_sync(&mut self) -> Result<()> {
        self.sync()
    }
    /// The write position: where the next append goes (the end of the
    /// file unless [`WritableFile::rewind_to`] moved it back), counting
    /// writes still in flight.
    fn len(&self) -> u64;
    /// Whether nothing has been appended.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Truncates the file to `len` bytes (waiting for in-flight writes
    /// first); later appends continue from there. Not durable until `sync`.
    fn truncate(&mut self, len: u64) -> Result<()>;
    /// Moves the write position back to `offset` (at most [`len`]),
    /// waiting for in-flight writes first. The file keeps its size and
    /// content; later appends overwrite it from `offset` on. This is for
    /// writing into space written ahead of time (a log segment filled with
    /// zeros), where an fsync then has no file size or block allocation to
    /// record. A backend that cannot do this returns `InvalidArgument` (the
    /// default).
    ///
    /// [`len`]: WritableFile::len
    fn rewind_to(&mut self, offset: u64) -> Result<()> {
        Err(Error::InvalidArgument(format!(
            "this file cannot move its write position back to {offset}"
        )))
    }
}

/// The file-system operations the engine needs, one implementation per
/// backend.
pub trait Io: Send + Sync + 'static {
    /// A short name for logs and stats: `"uring"`, `"std"`, …
    fn name(&self) -> &'static str;
    /// Creates (or truncates) `path` for appending.
    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>>;
    /// Opens an existing file for appending at its current end.
    fn open_append(&self, path: &Path) -> Result<Box<dyn WritableFile>>;
    /// Reads a whole file.
    fn read(&self, path: &Path) -> Result<Vec<u8>>;
    /// Atomically renames `from` to `to`, replacing `to`.
    fn rename(&self, from: &Path, to: &Path) -> Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> Result<()>;
    /// Makes creations, renames and removals in `dir` durable.
    fn sync_dir(&self, dir: &Path) -> Result<()>;
    /// Creates `dir` and its parents if missing.
    fn create_dir_all(&self, dir: &Path) -> Result<()>;
    /// Lists the entries of `dir` (full paths, unordered).
    fn list(&self, dir: &Path) -> Result<Vec<PathBuf>>;
}

/// Chooses the backend for `choice`; with `Auto`, `FASTY_IO=uring|std` forces one.
///
/// With [`IoBackend::Auto`], any failure to set up a ring falls back to std
/// and logs why.
pub fn open_backend(choice: IoBackend) -> Result<Arc<dyn Io>> {
    let forced = std::env::var("FASTY_IO").ok();
    select_backend(choice, forced.as_deref(), || {
        uring::UringIo::new().map(|io| Arc::new(io) as Arc<dyn Io>)
    })
}

/// The choice behind [`open_backend`], with the environment and the ring
/// set-up passed in so that the fallback can be tested.
fn select_backend(
    choice: IoBackend,
    forced: Option<&str>,
    uring: impl FnOnce() -> Result<Arc<dyn Io>>,
) -> Result<Arc<dyn Io>> {
    let choice = match (choice, forced) {
        (IoBackend::Auto, Some("uring")) => IoBackend::Uring,
        (IoBackend::Auto, Some("std")) => IoBackend::Std,
        (IoBackend::Auto, Some(other)) => {
            tracing::warn!(
                value = other,
                "FASTY_IO is neither \"uring\" nor \"std\"; ignoring it"
            );
            IoBackend::Auto
        }
        (choice, _) => choice,
    };
    match choice {
        IoBackend::Std => Ok(Arc::new(std_fs::StdIo::new())),
        IoBackend::Uring => uring(),
        IoBackend::Auto => match uring() {
            Ok(io) => Ok(io),
            Err(e) => {
                tracing::warn!(error = %e, "io_uring unavailable, falling back to std file i/o");
                Ok(Arc::new(std_fs::StdIo::new()))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn failing() -> Result<Arc<dyn Io>> {
        Err(Error::io(
            "<io_uring>",
            std::io::Error::from_raw_os_error(libc::EPERM),
        ))
    }

    fn working() -> Result<Arc<dyn Io>> {
        Ok(testing::SimIo::new(Arc::new(std_fs::StdIo::new())))
    }

    #[test]
    fn auto_falls_back_to_std_on_any_ring_error() {
        let io = select_backend(IoBackend::Auto, None, failing).unwrap();
        assert_eq!(io.name(), "std");
        assert_eq!(
            select_backend(IoBackend::Auto, None, working)
                .unwrap()
                .name(),
            "sim"
        );
    }

    #[test]
    fn explicit_uring_reports_the_ring_error() {
        assert!(select_backend(IoBackend::Uring, None, failing).is_err());
    }

    #[test]
    fn environment_forces_a_backend_under_auto_only() {
        assert_eq!(
            select_backend(IoBackend::Auto, Some("std"), working)
                .unwrap()
                .name(),
            "std"
        );
        assert!(select_backend(IoBackend::Auto, Some("uring"), failing).is_err());
        assert_eq!(
            select_backend(IoBackend::Auto, Some("bogus"), working)
                .unwrap()
                .name(),
            "sim"
        );
        assert_eq!(
            select_backend(IoBackend::Std, Some("uring"), failing)
                .unwrap()
                .name(),
            "std"
        );
    }

    /// Every backend: a rewound file is overwritten in place, keeps its
    /// size, and refuses a rewind past the write position.
    #[test]
    fn rewind_overwrites_in_place_on_every_backend() {
        let mut backends: Vec<Arc<dyn Io>> = vec![
            Arc::new(std_fs::StdIo::new()),
            testing::SimIo::new(Arc::new(std_fs::StdIo::new())),
        ];
        if let Ok(io) = uring::UringIo::new() {
            backends.push(Arc::new(io));
        }
        for io in backends {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("f");
            let mut f = io.create(&path).unwrap();
            f.append(vec![0; 4000]).unwrap();
            f.append(vec![0; 96]).unwrap();
            f.sync().unwrap();
            let err = f.rewind_to(4097).unwrap_err();
            assert!(
                matches!(err, Error::InvalidArgument(_)),
                "{}: {err}",
                io.name()
            );
            f.rewind_to(10).unwrap();
            assert_eq!(f.len(), 10);
            f.append(b"abc".to_vec()).unwrap();
            f.append(b"de".to_vec()).unwrap();
            assert_eq!(f.len(), 15);
            f.sync().unwrap();
            let mut expected = vec![0u8; 4096];
            expected[10..15].copy_from_slice(b"abcde");
            assert_eq!(io.read(&path).unwrap(), expected, "{}", io.name());
            // Rewinding to the position itself changes nothing; a reopened
            // file appends at its end.
            f.rewind_to(15).unwrap();
            drop(f);
            let mut f = io.open_append(&path).unwrap();
            assert_eq!(f.len(), 4096);
            f.append(b"z".to_vec()).unwrap();
            f.sync().unwrap();
            expected.push(b'z');
            assert_eq!(io.read(&path).unwrap(), expected, "{}", io.name());
        }
    }

    #[test]
    fn a_real_ring_or_a_clear_error() {
        match open_backend(IoBackend::Auto) {
            Ok(io) => assert!(["uring", "std"].contains(&io.name())),
            Err(e) => panic!("auto must never fail: {e}"),
        }
    }
}
