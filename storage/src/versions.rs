//! The engine's current [`SuperVersion`] and how it changes: one edit at a
//! time, each written to the manifest (with the next table file number and
//! the flushed sequence number) before it is installed.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard, RwLock};

use crate::error::{Error, Result};
use crate::io::Io;
use crate::manifest::sst_path;
use crate::types::Seqno;
use crate::version::{SuperVersion, Version};

/// The current super version, the manifest that records it, and the
/// numbers that go with it.
pub(crate) struct Versions {
    dir: PathBuf,
    /// `None` in memory-only mode (no manifest, no tables).
    io: Option<Arc<dyn Io>>,
    current: RwLock<Arc<SuperVersion>>,
    /// Serialises version edits together with their manifest write.
    edit_lock: Mutex<()>,
    /// Every version with a seqno at or below this is in the SSTs.
    flushed_seqno: AtomicU64,
    next_file_id: AtomicU64,
}

impl Versions {
    /// Starts from `current`, as loaded from a manifest (or empty).
    pub(crate) fn new(
        dir: PathBuf,
        io: Option<Arc<dyn Io>>,
        current: SuperVersion,
        flushed_seqno: Seqno,
        next_file_id: u64,
    ) -> Versions {
        Versions {
            dir,
            io,
            current: RwLock::new(Arc::new(current)),
            edit_lock: Mutex::new(()),
            flushed_seqno: AtomicU64::new(flushed_seqno),
            next_file_id: AtomicU64::new(next_file_id),
        }
    }

    /// The data directory the tables and the manifest live in.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// What readers read now.
    pub(crate) fn current(&self) -> Arc<SuperVersion> {
        self.current.read().clone()
    }

    /// Replaces the super version; callers hold [`Versions::lock_edits`]
    /// or the engine's write lock so that edits do not interleave.
    pub(crate) fn install(&self, f: impl FnOnce(&SuperVersion) -> SuperVersion) {
        let mut cur = self.current.write();
        let next = f(&cur);
        *cur = Arc::new(next);
    }

    /// Held while a new version is built, stored and installed.
    pub(crate) fn lock_edits(&self) -> MutexGuard<'_, ()> {
        self.edit_lock.lock()
    }

    /// Every version with a sequence number at or below this is in SSTs.
    pub(crate) fn flushed_seqno(&self) -> Seqno {
        self.flushed_seqno.load(Ordering::Acquire)
    }

    /// Records a flush's new flushed sequence number, once its manifest is
    /// stored.
    pub(crate) fn set_flushed_seqno(&self, seqno: Seqno) {
        self.flushed_seqno.store(seqno, Ordering::Release);
    }

    /// A fresh table file number and its path.
    pub(crate) fn new_table_path(&self) -> (u64, PathBuf) {
        let id = self.next_file_id.fetch_add(1, Ordering::AcqRel);
        (id, sst_path(&self.dir, id))
    }

    /// Writes the manifest for `version` (replacing the previous one by a
    /// rename, so a failure leaves the old one in place).
    pub(crate) fn store_manifest(&self, version: &Version, flushed_seqno: Seqno) -> Result<()> {
        let io = self.io.as_ref().ok_or(Error::Closed)?;
        let manifest =
            version.to_manifest(self.next_file_id.load(Ordering::Acquire), flushed_seqno);
        manifest.store(io.as_ref(), &self.dir)
    }
}
