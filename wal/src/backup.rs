//! Backup and restore at file level: a consistent image of a data
//! directory taken without opening it, so while a server holds it open
//! and writes (the engine's `LOCK` is not taken).
//!
//! An image is the engine's manifest, every SST it lists (immutable, so
//! hard-linked where possible) and the log segments; replaying the log
//! after the manifest's flushed sequence number gives the state the log
//! had reached when it was copied — what a crash at that moment would
//! have kept. The steps, retried from the start when the directory moved
//! underneath (a flush, compaction or checkpoint):
//!
//! 1. read `MANIFEST` (bytes `m`);
//! 2. list the log segments;
//! 3. copy every SST `m` lists (a file gone means a compaction replaced
//!    it: retry);
//! 4. copy the segments in order (one gone means a checkpoint: retry); the
//!    last may end in a record being appended: cut it at its last whole
//!    record, as recovery would;
//! 5. read `MANIFEST` again: if it is not `m`, a flush or compaction ran
//!    and segments may have been deleted between steps 1 and 2: retry;
//! 6. write `m` into the image, last, and fsync everything.
//!
//! Segments are only deleted below the flushed sequence number of a
//! manifest already stored, so an unchanged manifest (step 5) means every
//! record after `m`'s flushed sequence number is in the copied segments.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use fasty_storage::MANIFEST_FILE;

use crate::error::{Error, Result};
use crate::segment::{SegmentEnd, WAL_DIR, parse_segment_name, scan_segment};

/// How many times a backup starts over before giving up.
const ATTEMPTS: usize = 20;

/// What [`backup`] copied.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct BackupReport {
    /// SST files.
    pub tables: usize,
    /// Log segments.
    pub segments: usize,
    /// Bytes of every file in the image.
    pub bytes: u64,
    /// Attempts that started over because the directory changed.
    pub retries: usize,
}

/// Copies a consistent image of the database in `dir` to `dest` (created;
/// it must be empty or missing), even while the database is open and
/// being written. The image opens with [`crate::Db::open`] (after
/// [`restore`], or in place).
pub fn backup(dir: impl AsRef<Path>, dest: impl AsRef<Path>) -> Result<BackupReport> {
    let (dir, dest) = (dir.as_ref(), dest.as_ref());
    if !dir.join(MANIFEST_FILE).is_file() {
        return Err(Error::InvalidArgument(format!(
            "{} holds no database (no {MANIFEST_FILE})",
            dir.display()
        )));
    }
    ensure_empty(dest)?;
    let existed = dest.exists();
    let mut bad = None;
    for retries in 0..ATTEMPTS {
        if retries > 0 {
            clear(dest)?;
            std::thread::sleep(std::time::Duration::from_millis(10 * retries as u64));
        }
        match attempt(dir, dest)? {
            Attempt::Done(mut report) => {
                report.retries = retries;
                return Ok(report);
            }
            Attempt::Changed => {
                bad = None;
                tracing::debug!(attempt = retries, "backup: the directory changed, again");
            }
            Attempt::Bad(e) => {
                tracing::debug!(attempt = retries, error = %e, "backup: a bad log record, again");
                bad = Some(e);
            }
        }
    }
    // Leave `dest` as it was found.
    let _ = fs::remove_dir_all(dest);
    if existed {
        let _ = fs::create_dir(dest);
    }
    // The same bad record every time is corruption, not a race.
    Err(bad.unwrap_or_else(|| {
        Error::InvalidArgument(format!(
            "the database in {} kept changing during {ATTEMPTS} backup attempts",
            dir.display()
        ))
    }))
}

/// How one attempt ended.
enum Attempt {
    Done(BackupReport),
    /// A file vanished or the manifest changed: start over.
    Changed,
    /// A bad record where no append can be in progress: start over, and
    /// report it if it stays.
    Bad(Error),
}

/// One attempt; `None` when the directory changed underneath.
fn attempt(dir: &Path, dest: &Path) -> Result<Attempt> {
    let manifest_path = dir.join(MANIFEST_FILE);
    let manifest = fs::read(&manifest_path).map_err(|e| io_err(&manifest_path, e))?;
    let live = fasty_storage::live_files(&manifest, &manifest_path)?;
    let wal_dir = dir.join(WAL_DIR);
    let mut segments: Vec<(u64, PathBuf)> = match fs::read_dir(&wal_dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter_map(|p| parse_segment_name(&p).map(|id| (id, p)))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_err(&wal_dir, e)),
    };
    segments.sort_unstable_by_key(|(id, _)| *id);

    fs::create_dir_all(dest.join(WAL_DIR)).map_err(|e| io_err(dest, e))?;
    let mut report = BackupReport::default();
    for name in &live.tables {
        let (from, to) = (dir.join(name), dest.join(name));
        let copied = match fs::hard_link(&from, &to) {
            Ok(()) => fs::metadata(&to).map(|m| m.len()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Attempt::Changed),
            Err(_) => fs::copy(&from, &to),
        };
        match copied {
            Ok(n) => report.bytes += n,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Attempt::Changed),
            Err(e) => return Err(io_err(&from, e)),
        }
        report.tables += 1;
    }
    let n = segments.len();
    for (i, (_, path)) in segments.iter().enumerate() {
        let data = match fs::read(path) {
            Ok(d) => Bytes::from(d),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Attempt::Changed),
            Err(e) => return Err(io_err(path, e)),
        };
        let last = i + 1 == n;
        let scan = scan_segment(&data, last, |_| Ok(()));
        let keep = match scan.end {
            // Without the zeros a pre-allocated segment may end in.
            SegmentEnd::Clean => scan.valid_len as usize,
            // A record being appended as we read: what a crash would cut.
            SegmentEnd::Torn { .. } if last => scan.valid_len as usize,
            // Seen mid-write (an append landing out of order), or real
            // corruption, which the next attempts will see again.
            SegmentEnd::Torn { offset, reason } | SegmentEnd::Corrupt { offset, reason } => {
                return Ok(Attempt::Bad(Error::Corruption {
                    path: path.clone(),
                    offset,
                    reason,
                }));
            }
            SegmentEnd::Unsupported { found } => {
                return Err(Error::UnsupportedVersion {
                    path: path.clone(),
                    found,
                    supported: crate::segment::FORMAT_VERSION,
                });
            }
        };
        let Some(file_name) = path.file_name() else {
            continue;
        };
        let to = dest.join(WAL_DIR).join(file_name);
        write_synced(&to, &data[..keep.min(data.len())])?;
        report.bytes += keep as u64;
        report.segments += 1;
    }
    let again = match fs::read(&manifest_path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Attempt::Changed),
        Err(e) => return Err(io_err(&manifest_path, e)),
    };
    if again != manifest {
        return Ok(Attempt::Changed);
    }
    // SSTs: linked files share the source's fsynced data; copies need it.
    for name in &live.tables {
        sync_file(&dest.join(name))?;
    }
    sync_dir(&dest.join(WAL_DIR))?;
    write_synced(&dest.join(MANIFEST_FILE), &manifest)?;
    report.bytes += manifest.len() as u64;
    sync_dir(dest)?;
    Ok(Attempt::Done(report))
}

/// Copies the backup in `src` into `dest` (created; it must be empty or
/// missing), fsyncing every file, the manifest last. Returns the number
/// of files copied.
pub fn restore(src: impl AsRef<Path>, dest: impl AsRef<Path>) -> Result<usize> {
    let (src, dest) = (src.as_ref(), dest.as_ref());
    let manifest = src.join(MANIFEST_FILE);
    if !manifest.is_file() {
        return Err(Error::InvalidArgument(format!(
            "{} is not a backup (no {MANIFEST_FILE})",
            src.display()
        )));
    }
    ensure_empty(dest)?;
    fs::create_dir_all(dest.join(WAL_DIR)).map_err(|e| io_err(dest, e))?;
    let mut files = 0;
    let wal_src = src.join(WAL_DIR);
    if wal_src.is_dir() {
        for e in fs::read_dir(&wal_src).map_err(|e| io_err(&wal_src, e))? {
            let path = e.map_err(|e| io_err(&wal_src, e))?.path();
            if let (Some(_), Some(name)) = (parse_segment_name(&path), path.file_name()) {
                copy_synced(&path, &dest.join(WAL_DIR).join(name))?;
                files += 1;
            }
        }
    }
    sync_dir(&dest.join(WAL_DIR))?;
    let bytes = fs::read(&manifest).map_err(|e| io_err(&manifest, e))?;
    let live = fasty_storage::live_files(&bytes, &manifest)?;
    for name in &live.tables {
        copy_synced(&src.join(name), &dest.join(name))?;
        files += 1;
    }
    write_synced(&dest.join(MANIFEST_FILE), &bytes)?;
    sync_dir(dest)?;
    Ok(files + 1)
}

fn ensure_empty(dest: &Path) -> Result<()> {
    match fs::read_dir(dest) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(Error::InvalidArgument(format!(
                    "{} is not empty",
                    dest.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err(dest, e)),
    }
}

/// Empties `dest` (an image this module started) for a new attempt.
fn clear(dest: &Path) -> Result<()> {
    fs::remove_dir_all(dest).map_err(|e| io_err(dest, e))?;
    fs::create_dir_all(dest).map_err(|e| io_err(dest, e))
}

fn copy_synced(from: &Path, to: &Path) -> Result<()> {
    fs::copy(from, to).map_err(|e| io_err(from, e))?;
    sync_file(to)
}

fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = fs::File::create(path).map_err(|e| io_err(path, e))?;
    f.write_all(data).map_err(|e| io_err(path, e))?;
    f.sync_all().map_err(|e| io_err(path, e))
}

fn sync_file(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err(path, e))
}

fn sync_dir(path: &Path) -> Result<()> {
    fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err(path, e))
}

fn io_err(path: &Path, source: std::io::Error) -> Error {
    Error::Storage(fasty_storage::Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Db, Options, WriteBatch};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    fn put(db: &Db, i: u32) {
        let mut b = WriteBatch::new();
        // Two keys per batch: an image must hold both or neither.
        b.put(format!("a{i:08}").into_bytes(), vec![1u8; 100]);
        b.put(format!("b{i:08}").into_bytes(), vec![2u8; 100]);
        db.write(b).unwrap();
    }

    fn keys(db: &Db) -> Vec<Vec<u8>> {
        db.scan(..)
            .map(|kv| kv.unwrap().0.to_vec())
            .collect::<Vec<_>>()
    }

    #[test]
    fn image_of_a_quiet_database_holds_every_synced_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for i in 0..500 {
            put(&db, i);
        }
        db.checkpoint().unwrap();
        for i in 500..1000 {
            put(&db, i);
        }
        db.sync().unwrap();
        let out = tempfile::tempdir().unwrap();
        let image = out.path().join("image");
        let report = backup(dir.path(), &image).unwrap();
        assert!(report.tables >= 1 && report.segments >= 1, "{report:?}");
        let want = keys(&db);
        db.close().unwrap();
        let restored = out.path().join("restored");
        restore(&image, &restored).unwrap();
        let copy = Db::open(&restored, Options::default()).unwrap();
        assert_eq!(keys(&copy), want);
        assert_eq!(want.len(), 2000);
        copy.close().unwrap();
    }

    #[test]
    fn image_taken_during_writes_and_checkpoints_is_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Db::open(dir.path(), Options::default()).unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (db, stop) = (db.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    put(&db, i);
                    if i % 700 == 0 {
                        db.checkpoint().unwrap();
                    }
                    i += 1;
                }
                i
            })
        };
        let out = tempfile::tempdir().unwrap();
        let mut images = Vec::new();
        for n in 0..3 {
            std::thread::sleep(std::time::Duration::from_millis(150));
            let image = out.path().join(format!("image{n}"));
            backup(dir.path(), &image).unwrap();
            images.push(image);
        }
        stop.store(true, Ordering::Relaxed);
        let written = writer.join().unwrap();
        for image in images {
            let copy = Db::open(&image, Options::default()).unwrap();
            let ks = keys(&copy);
            let a: Vec<_> = ks.iter().filter(|k| k[0] == b'a').collect();
            let b: Vec<_> = ks.iter().filter(|k| k[0] == b'b').collect();
            // Whole batches, a prefix of the writes.
            assert_eq!(a.len(), b.len());
            for (i, k) in a.iter().enumerate() {
                assert_eq!(**k, format!("a{i:08}").into_bytes());
            }
            assert!(a.len() <= written as usize);
            copy.close().unwrap();
        }
    }

    #[test]
    fn corruption_in_the_log_is_reported_not_copied() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(dir.path(), Options::default()).unwrap();
        for i in 0..50 {
            put(&db, i);
        }
        db.sync().unwrap();
        std::mem::forget(db); // a crash: the log keeps the records
        let seg = fs::read_dir(dir.path().join(WAL_DIR))
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| fs::metadata(p).unwrap().len() > 1000)
            .unwrap();
        let mut bytes = fs::read(&seg).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 1;
        fs::write(&seg, bytes).unwrap();
        let out = tempfile::tempdir().unwrap();
        let image = out.path().join("image");
        match backup(dir.path(), &image) {
            Err(Error::Corruption { path, .. }) => assert_eq!(path, seg),
            other => panic!("{other:?}"),
        }
        assert!(!image.exists());
    }

    #[test]
    fn refuses_a_non_empty_destination() {
        let dir = tempfile::tempdir().unwrap();
        Db::open(dir.path(), Options::default())
            .unwrap()
            .close()
            .unwrap();
        let out = tempfile::tempdir().unwrap();
        fs::write(out.path().join("x"), b"x").unwrap();
        assert!(matches!(
            backup(dir.path(), out.path()),
            Err(Error::InvalidArgument(_))
        ));
        assert!(matches!(
            restore(dir.path(), out.path()),
            Err(Error::InvalidArgument(_))
        ));
    }
}
