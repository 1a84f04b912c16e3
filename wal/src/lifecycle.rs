//! The segment life cycle: a segment is created (or taken from the spare
//! written ahead, [`crate::spare`]) durably before any record goes in,
//! appended to by the log writer, rolled back to its last fsync after a
//! failed write, and sealed by the rotation that starts the next one.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use fasty_storage::Seqno;
use fasty_storage::io::{Io, WritableFile};

use crate::error::Result;
use crate::queue::Chunk;
use crate::recovery::SegmentMeta;
use crate::segment::{segment_header, segment_path};
use crate::shared::{Core, LogDir};
use crate::spare::Spares;

/// Stands in for a segment's file between closing a failed handle and
/// opening the next: every call fails.
struct ClosedFile;

impl WritableFile for ClosedFile {
    fn append(&mut self, _buf: Vec<u8>) -> fasty_storage::Result<()> {
        Err(closed_file())
    }
    fn sync(&mut self) -> fasty_storage::Result<()> {
        Err(closed_file())
    }
    fn len(&self) -> u64 {
        0
    }
    fn truncate(&mut self, _len: u64) -> fasty_storage::Result<()> {
        Err(closed_file())
    }
}

fn closed_file() -> fasty_storage::Error {
    fasty_storage::Error::Io {
        path: PathBuf::from("<wal segment>"),
        source: std::io::Error::other("the segment could not be reopened after a failed write"),
    }
}

/// The segment the writer appends to.
pub(crate) struct Active {
    pub id: u64,
    pub path: PathBuf,
    pub file: Box<dyn WritableFile>,
    pub last_seqno: Option<Seqno>,
    /// Started from a spare written ahead ([`crate::spare`]).
    pub preallocated: bool,
    /// The file's length as of its last successful fsync, and its last
    /// record then: what a failed write rolls back to.
    pub synced_len: u64,
    pub synced_last_seqno: Option<Seqno>,
    /// Copies of the chunks appended since that fsync, written again after
    /// a rollback (the backend may have taken the originals).
    pub unsynced: Vec<Chunk>,
}

impl Active {
    /// A segment whose header (and everything in `file`) is durable.
    pub(crate) fn new(
        id: u64,
        path: PathBuf,
        file: Box<dyn WritableFile>,
        preallocated: bool,
    ) -> Active {
        Active {
            id,
            synced_len: file.len(),
            path,
            file,
            last_seqno: None,
            preallocated,
            synced_last_seqno: None,
            unsynced: Vec::new(),
        }
    }

    /// Everything appended so far has been fsynced.
    pub(crate) fn synced(&mut self) {
        self.synced_len = self.file.len();
        self.synced_last_seqno = self.last_seqno;
        self.unsynced.clear();
    }

    /// Syncs and records it.
    pub(crate) fn sync(&mut self) -> Result<()> {
        self.file.sync()?;
        self.synced();
        Ok(())
    }

    /// After a failed write or fsync: reopens the file (a backend may keep
    /// a failed write's error for good) at its last synced length, cutting
    /// off whatever the failed writes left — truncated, or in a segment
    /// written ahead, left for the same bytes to overwrite (`zero`: zeros
    /// written over it first, when those bytes will not be written again).
    /// The truncation is fsynced. Returns the chunks to write again.
    pub(crate) fn roll_back(&mut self, io: &dyn Io, zero: bool) -> Result<Vec<Chunk>> {
        // The old handle goes first: dropping it waits for its writes still
        // in flight, which must not land after the cut below.
        drop(std::mem::replace(&mut self.file, Box::new(ClosedFile)));
        let mut file = io.open_append(&self.path)?;
        if self.preallocated {
            if zero {
                let attempted: u64 = self.unsynced.iter().map(|c| c.bytes.len() as u64).sum();
                let end = (self.synced_len + attempted).min(file.len());
                file.rewind_to(self.synced_len)?;
                let mut left = end - self.synced_len;
                while left > 0 {
                    let n = left.min(1 << 20);
                    file.append(vec![0; n as usize])?;
                    left -= n;
                }
                file.sync()?;
            }
            file.rewind_to(self.synced_len)?;
        } else {
            file.truncate(self.synced_len)?;
            file.sync()?;
        }
        self.file = file;
        self.last_seqno = self.synced_last_seqno;
        Ok(std::mem::take(&mut self.unsynced))
    }
    pub(crate) fn meta(&self) -> SegmentMeta {
        SegmentMeta {
            path: self.path.clone(),
            last_seqno: self.last_seqno,
        }
    }
}

/// Creates segment `id` with its header, durably: the header is fsynced and
/// so is the directory entry, before any record goes in.
pub(crate) fn create_segment(io: &dyn Io, wal_dir: &Path, id: u64) -> Result<Active> {
    let path = segment_path(wal_dir, id);
    let mut file = io.create(&path)?;
    file.append(segment_header())?;
    file.sync()?;
    io.sync_dir(wal_dir)?;
    tracing::debug!(file = %path.display(), "started a wal segment");
    Ok(Active::new(id, path, file, false))
}

/// Starts segment `id`: from the spare if one is ready ([`crate::spare`]),
/// otherwise created; either way durable as created before any record goes
/// in. Then asks for the next spare.
pub(crate) fn start_segment(
    io: &dyn Io,
    wal_dir: &Path,
    spares: Option<&Spares>,
    id: u64,
) -> Result<Active> {
    let active = match spares.and_then(|s| s.take(id)) {
        Some((path, file)) => Active::new(id, path, file, true),
        None => create_segment(io, wal_dir, id)?,
    };
    if let Some(spares) = spares {
        spares.segment_started();
    }
    Ok(active)
}

/// Closes the active segment and starts the next one.
pub(crate) fn rotate(core: &Core, log: &LogDir, active: &mut Active) -> Result<()> {
    // The old segment is complete and durable before the next one exists,
    // so only the newest segment can ever be torn.
    active.sync()?;
    let id = active.id + 1;
    let next = match start_segment(log.io.as_ref(), &log.dir, log.spares.as_deref(), id) {
        Ok(next) => next,
        Err(e) => {
            // A segment left half created (no header) would end the log
            // with a bad segment.
            let path = segment_path(&log.dir, id);
            if log.io.remove(&path).is_ok() {
                let _ = log.io.sync_dir(&log.dir);
            }
            return Err(e);
        }
    };
    let old = std::mem::replace(active, next);
    log.segments.lock().push(old.meta());
    core.counters.rotations.fetch_add(1, Ordering::Relaxed);
    if let Err(e) = core.remove_obsolete(core.engine.flushed_seqno()) {
        tracing::warn!(error = %e, "could not delete flushed wal segments; the next checkpoint retries");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use fasty_storage::io::std_fs::StdIo;

    use super::*;
    use crate::queue::State;
    use crate::recovery::ReplayStats;
    use crate::segment::SEGMENT_HEADER_LEN;
    use crate::spare::{SPARE_READY, Spares};

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    /// A core over an engine in `dir`, its log in `dir/wal` with spares
    /// prepared inline (no background threads).
    fn core(dir: &Path, segment_size: u64) -> Core {
        let mut opts = crate::Options::durable();
        opts.segment_size = segment_size;
        opts.storage.background = false;
        let engine = fasty_storage::Engine::open(dir, opts.storage.clone()).unwrap();
        let io: Arc<dyn Io> = Arc::new(StdIo::new());
        let wal = dir.join("wal");
        io.create_dir_all(&wal).unwrap();
        let spares = Spares::open(io.clone(), &wal, segment_size, false);
        let log = LogDir {
            io,
            dir: wal,
            segments: parking_lot::Mutex::new(Vec::new()),
            spares: Some(Arc::new(spares)),
        };
        let state = State::new(1, 1, 1024, false);
        Core::new(engine, opts, state, Some(log), ReplayStats::default())
    }

    #[test]
    fn the_first_segment_is_created_and_the_next_comes_from_the_spare() {
        let dir = tempfile::tempdir().unwrap();
        let core = core(dir.path(), 8192);
        let log = core.log.as_ref().unwrap();
        let spares = log.spares.as_deref();
        let first = start_segment(log.io.as_ref(), &log.dir, spares, 1).unwrap();
        assert!(!first.preallocated, "no spare was ready yet");
        assert_eq!(first.file.len(), SEGMENT_HEADER_LEN as u64);
        assert_eq!(first.synced_len, SEGMENT_HEADER_LEN as u64);
        // Starting a segment asks for the next spare (inline here).
        assert!(spares.unwrap().is_ready());
        assert_eq!(names(&log.dir), ["000000000001.log", SPARE_READY]);
        let second = start_segment(log.io.as_ref(), &log.dir, spares, 2).unwrap();
        assert!(second.preallocated);
        // Appends go after the header, over the spare's zeros.
        assert_eq!(second.file.len(), SEGMENT_HEADER_LEN as u64);
        assert_eq!(spares.unwrap().used(), 1);
        assert_eq!(
            std::fs::metadata(&second.path).unwrap().len(),
            8192,
            "the spare's full size"
        );
        assert!(spares.unwrap().is_ready(), "and the one after is prepared");
    }

    #[test]
    fn a_spare_gone_from_disk_is_created_the_slow_way() {
        let dir = tempfile::tempdir().unwrap();
        let core = core(dir.path(), 8192);
        let log = core.log.as_ref().unwrap();
        let spares = log.spares.as_deref();
        start_segment(log.io.as_ref(), &log.dir, spares, 1).unwrap();
        assert!(spares.unwrap().is_ready());
        // Removed behind the log's back: the take's rename finds nothing.
        std::fs::remove_file(log.dir.join(SPARE_READY)).unwrap();
        let second = start_segment(log.io.as_ref(), &log.dir, spares, 2).unwrap();
        assert!(!second.preallocated, "created, not taken");
        assert_eq!(
            std::fs::metadata(&second.path).unwrap().len(),
            SEGMENT_HEADER_LEN as u64
        );
        assert_eq!(spares.unwrap().used(), 0);
        assert!(spares.unwrap().is_ready(), "the next spare is prepared");
        assert_eq!(
            names(&log.dir),
            ["000000000001.log", "000000000002.log", SPARE_READY]
        );
    }

    #[test]
    fn rotation_seals_the_old_segment_and_hands_the_next_one_from_the_spare() {
        let dir = tempfile::tempdir().unwrap();
        let core = core(dir.path(), 8192);
        let log = core.log.as_ref().unwrap();
        let mut active =
            start_segment(log.io.as_ref(), &log.dir, log.spares.as_deref(), 1).unwrap();
        let mut batch = fasty_storage::WriteBatch::new();
        batch.put(&b"k"[..], &b"v"[..]);
        let mut record = Vec::new();
        crate::record::encode_record(&mut record, 5, &batch).unwrap();
        active.file.append(record.clone()).unwrap();
        active.last_seqno = Some(5);
        let old_path = active.path.clone();
        rotate(&core, log, &mut active).unwrap();
        // The old segment is sealed: fsynced whole and listed as finished
        // with its last record; the new one is the spare, renamed.
        assert_eq!(active.id, 2);
        assert!(active.preallocated);
        assert_eq!(active.last_seqno, None);
        let finished = log.segments.lock().clone();
        assert_eq!(finished.len(), 1);
        assert_eq!(finished[0].path, old_path);
        assert_eq!(finished[0].last_seqno, Some(5));
        assert_eq!(
            std::fs::metadata(&old_path).unwrap().len(),
            (SEGMENT_HEADER_LEN + record.len()) as u64
        );
        assert_eq!(core.counters.rotations.load(Ordering::Relaxed), 1);
        assert!(log.spares.as_ref().unwrap().is_ready());
        assert_eq!(
            names(&log.dir),
            ["000000000001.log", "000000000002.log", SPARE_READY]
        );
    }

    #[test]
    fn a_failed_write_rolls_the_segment_back_to_its_last_fsync() {
        let dir = tempfile::tempdir().unwrap();
        let io = StdIo::new();
        let mut active = create_segment(&io, dir.path(), 1).unwrap();
        active.file.append(vec![1; 10]).unwrap();
        active.last_seqno = Some(1);
        active.sync().unwrap();
        let chunk = Chunk {
            segment: 1,
            bytes: vec![2; 20],
            records: 1,
            last_seqno: Some(2),
            sealed: true,
        };
        active.file.append(chunk.bytes.clone()).unwrap();
        active.unsynced.push(chunk);
        active.last_seqno = Some(2);
        let again = active.roll_back(&io, false).unwrap();
        assert_eq!(again.len(), 1, "the unsynced chunk is handed back");
        assert_eq!(active.last_seqno, Some(1));
        let synced = SEGMENT_HEADER_LEN as u64 + 10;
        assert_eq!(active.file.len(), synced);
        assert_eq!(std::fs::metadata(&active.path).unwrap().len(), synced);
        assert!(active.unsynced.is_empty());
    }
}
