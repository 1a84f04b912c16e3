//! The data directory: its lock, the check that a directory without a
//! manifest is new, and the removal of what an interrupted flush or
//! compaction left behind.

use std::collections::HashSet;
use std::fs::File;
use std::path::Path;

use crate::error::{Error, Result};
use crate::io::Io;
use crate::manifest::{MANIFEST_TMP, Manifest, parse_sst_name};

/// How long [`lock_dir`] waits for a lock held elsewhere before it says
/// the directory is in use. A process forked by another thread of this
/// process (a test harness running `mount`, a server starting a helper)
/// holds a copy of the lock's descriptor until it execs, so a directory
/// closed and reopened at once can look busy for a moment.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(1);

/// Takes an exclusive advisory lock on `dir/LOCK`, waiting up to
/// [`LOCK_WAIT`] for a holder to let go.
pub(crate) fn lock_dir(dir: &Path) -> Result<File> {
    use std::os::fd::AsRawFd;
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        // SAFETY: flock only reads the descriptor, which `file` keeps open
        // for the duration of the call.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(file);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if err.kind() != std::io::ErrorKind::WouldBlock {
            return Err(Error::io(&path, err));
        }
        if std::time::Instant::now() >= deadline {
            return Err(Error::io(
                &path,
                std::io::Error::new(
                    std::io::ErrorKind::WouldBlock,
                    "data directory is in use by another engine; stop it first",
                ),
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Decides whether a directory without a manifest may become a new
/// engine. Any table file (`NNNNNNNNNNNN.sst`), or a `MANIFEST.tmp` listing tables,
/// means an existing engine lost its manifest: that is
/// [`Error::MissingManifest`], and nothing is changed, so that `fasty admin
/// repair` can rebuild the manifest from the tables. A `MANIFEST.tmp`
/// that lists no tables or does not decode is what a crash leaves during
/// the very first manifest write; it is removed. Other files (a log
/// directory, `LOCK`) are not the engine's to judge: a write-ahead log
/// without tables is replayed from its start by the layer above.
pub(crate) fn check_fresh(io: &dyn Io, dir: &Path) -> Result<()> {
    let mut tables = 0usize;
    let mut tmp = None;
    for path in io.list(dir)? {
        if parse_sst_name(&path).is_some() {
            tables += 1;
        } else if path.file_name().is_some_and(|n| n == MANIFEST_TMP) {
            tmp = Some(path);
        }
    }
    if tables > 0 {
        return Err(Error::MissingManifest {
            dir: dir.to_path_buf(),
            found: format!("{tables} table file(s)"),
        });
    }
    if let Some(tmp) = tmp {
        let listed = io
            .read(&tmp)
            .ok()
            .and_then(|b| Manifest::decode(&b, &tmp).ok())
            .map_or(0, |m| m.levels.iter().map(Vec::len).sum::<usize>());
        if listed > 0 {
            return Err(Error::MissingManifest {
                dir: dir.to_path_buf(),
                found: format!("a {MANIFEST_TMP} listing {listed} table(s)"),
            });
        }
        tracing::info!(path = %tmp.display(), "removing a manifest whose first write a crash interrupted");
        io.remove(&tmp)?;
        io.sync_dir(dir)?;
    }
    Ok(())
}

/// Deletes SSTs the manifest does not list and a leftover `MANIFEST.tmp`:
/// the remains of a flush or compaction that a crash interrupted.
pub(crate) fn remove_orphans(io: &dyn Io, dir: &Path, live: &HashSet<u64>) -> Result<()> {
    let mut removed = false;
    for path in io.list(dir)? {
        let orphan = match parse_sst_name(&path) {
            Some(id) => !live.contains(&id),
            None => path.file_name().is_some_and(|n| n == MANIFEST_TMP),
        };
        if orphan {
            tracing::info!(path = %path.display(), "removing file left by an interrupted flush or compaction");
            io.remove(&path)?;
            removed = true;
        }
    }
    if removed {
        io.sync_dir(dir)?;
    }
    Ok(())
}
