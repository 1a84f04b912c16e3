//! Reading the whole log back: replay at open, [`verify`] and [`repair`].
//!
//! Replay runs in two passes so that a database that refuses to open has
//! changed nothing: the first reads every segment, checks every record
//! (framing, checksum, payload, sequence order, no missing records after
//! the engine's flushed sequence number) and keeps the records to replay;
//! only when the whole log is sound does the second pass truncate a torn
//! tail and hand the records to the engine's bulk ingest
//! ([`Engine::ingest_batches`]), which sorts them in chunks into in-memory
//! runs (visible at once, flushed to level-0 tables in the background)
//! instead of inserting them into the skiplist one by one. Until those runs
//! are flushed the log still holds their records, so a crash right after
//! open simply replays them again; segments go only at a checkpoint, once
//! the engine's flushed sequence number covers them.
//!
//! This module reads and repairs segments; it never appends records (that
//! is [`crate::writer`]'s job).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fasty_storage::io::Io;
use fasty_storage::{Engine, Seqno};

use crate::error::{Error, Result};
use crate::record::{Record, decode_batch};
use crate::segment::{
    Halt, SEGMENT_HEADER_LEN, SegmentEnd, SegmentScan, WAL_DIR, list_segments, scan_segment,
    scan_segment_all,
};

/// A segment that survived recovery, with what the writer and checkpoints
/// need to know about it.
#[derive(Debug, Clone)]
pub(crate) struct SegmentMeta {
    pub path: PathBuf,
    /// Sequence number of its last record; `None` if it holds none.
    pub last_seqno: Option<Seqno>,
}

/// What replay did, for [`crate::Stats`] and logs.
#[derive(Debug, Clone, Default)]
pub struct ReplayStats {
    /// Segments read.
    pub segments: usize,
    /// Records applied to the engine (those after its flushed sequence
    /// number).
    pub records: u64,
    /// Bytes of the records applied, framing included.
    pub bytes: u64,
    /// Bytes of every segment read.
    pub log_bytes: u64,
    /// Wall time of reading, checking and applying.
    pub duration: Duration,
    /// Part of `duration` spent reading and checking the log (the first
    /// pass); the rest went into truncating, syncing and applying to the
    /// engine.
    pub check_duration: Duration,
    /// Where a torn tail was cut off, if one was: file and offset.
    pub truncated: Option<(PathBuf, u64)>,
}

/// The log after replay.
pub(crate) struct Recovered {
    pub segments: Vec<SegmentMeta>,
    /// Largest segment id seen (including removed ones).
    pub max_id: u64,
    /// Sequence number of the last record in the log.
    pub last_seqno: Option<Seqno>,
    pub stats: ReplayStats,
}

/// One segment after the first pass.
struct Checked {
    id: u64,
    path: PathBuf,
    scan: SegmentScan,
    /// Records after the flushed sequence number, to apply.
    replay: Vec<(Seqno, Bytes)>,
}

/// Checks sequence order across the whole log: strictly increasing, and
/// after `flushed` (when known) without gaps, starting at `flushed + 1`.
struct SeqCheck {
    flushed: Option<Seqno>,
    prev: Option<Seqno>,
}

impl SeqCheck {
    /// Records are known to be missing before the next one (skipped
    /// damage, already reported): it need only be above the last one.
    fn restart_after_gap(&mut self) {
        self.flushed = None;
    }

    fn check(&mut self, seqno: Seqno) -> Result<(), Halt> {
        if let Some(prev) = self.prev
            && seqno <= prev
        {
            return Err(Halt(format!(
                "sequence number {seqno} does not follow {prev}"
            )));
        }
        if let Some(flushed) = self.flushed
            && seqno > flushed
        {
            let expected = match self.prev {
                Some(prev) if prev > flushed => prev + 1,
                _ => flushed + 1,
            };
            if seqno != expected {
                return Err(Halt(format!(
                    "records {expected}..{seqno} are missing (a lost segment?); the engine has everything up to {flushed}"
                )));
            }
        }
        self.prev = Some(seqno);
        Ok(())
    }
}

/// Reads and checks every segment (first pass). Returns the first problem
/// as an error, except a torn tail of the last segment.
fn check_log(io: &dyn Io, wal_dir: &Path, flushed: Seqno) -> Result<Vec<Checked>> {
    let segments = list_segments(io, wal_dir)?;
    let n = segments.len();
    let mut seq = SeqCheck {
        flushed: Some(flushed),
        prev: None,
    };
    let mut out = Vec::with_capacity(n);
    for (i, (id, path)) in segments.into_iter().enumerate() {
        let data = Bytes::from(io.read(&path)?);
        let mut replay = Vec::new();
        let scan = scan_segment(&data, i + 1 == n, |rec: &Record| {
            seq.check(rec.seqno)?;
            if rec.seqno > flushed {
                crate::record::validate_batch(&rec.payload).map_err(Halt)?;
                replay.push((rec.seqno, rec.payload.clone()));
            }
            Ok(())
        });
        match &scan.end {
            SegmentEnd::Clean | SegmentEnd::Torn { .. } => {}
            SegmentEnd::Corrupt { offset, reason } => {
                return Err(Error::corruption(&path, *offset, reason.clone()));
            }
            SegmentEnd::Unsupported { found } => {
                return Err(Error::UnsupportedVersion {
                    path,
                    found: *found,
                    supported: crate::segment::FORMAT_VERSION,
                });
            }
        }
        out.push(Checked {
            id,
            path,
            scan,
            replay,
        });
    }
    Ok(out)
}

/// Recovers the log in `wal_dir` into `engine`: checks everything, removes
/// the segments the engine has flushed, cuts a torn tail, replays every
/// record after the engine's flushed sequence number in order, and makes
/// every kept segment durable (so that, once a new segment exists, only the
/// newest can be torn by a later crash).
pub(crate) fn recover(engine: &Engine, io: &Arc<dyn Io>, wal_dir: &Path) -> Result<Recovered> {
    let start = Instant::now();
    let flushed = engine.flushed_seqno();
    let checked = check_log(io.as_ref(), wal_dir, flushed)?;
    let mut stats = ReplayStats {
        segments: checked.len(),
        check_duration: start.elapsed(),
        ..ReplayStats::default()
    };
    let max_id = checked.last().map_or(0, |c| c.id);
    let mut last_seqno = None;
    let mut segments = Vec::with_capacity(checked.len());
    let mut dir_changed = false;
    let mut prefix = true;
    let mut replay: Vec<(Arc<Path>, Seqno, Bytes)> = Vec::new();
    for c in checked {
        stats.log_bytes += c.scan.file_len;
        if c.scan.last_seqno.is_some() {
            last_seqno = c.scan.last_seqno;
        }
        // Segments whose every record is in the engine's tables are not
        // needed any more; they form a prefix of the log.
        prefix = prefix && c.scan.last_seqno.is_none_or(|s| s <= flushed);
        if prefix {
            tracing::debug!(file = %c.path.display(), "removing a wal segment the engine has flushed");
            io.remove(&c.path)?;
            dir_changed = true;
            continue;
        }
        if let SegmentEnd::Torn { offset, reason } = &c.scan.end {
            let dropped = c.scan.file_len - c.scan.valid_len;
            tracing::warn!(
                file = %c.path.display(),
                offset,
                dropped_bytes = dropped,
                reason = %reason,
                "truncating the torn tail of the last wal segment (a write cut short by a crash)"
            );
            stats.truncated = Some((c.path.clone(), *offset));
            if c.scan.valid_len < SEGMENT_HEADER_LEN as u64 {
                // Not even a whole header: a segment whose creation a crash
                // interrupted. Keeping it empty would make it a headerless
                // segment in the middle of the log once the next exists.
                io.remove(&c.path)?;
                dir_changed = true;
                continue;
            }
            let mut f = io.open_append(&c.path)?;
            f.truncate(c.scan.valid_len)?;
            f.sync()?;
        } else {
            // Read back from the page cache, not necessarily on disk yet.
            io.open_append(&c.path)?.sync()?;
        }
        let path: Arc<Path> = Arc::from(c.path.as_path());
        replay.extend(
            c.replay
                .into_iter()
                .map(|(seqno, payload)| (path.clone(), seqno, payload)),
        );
        segments.push(SegmentMeta {
            path: c.path,
            last_seqno: c.scan.last_seqno,
        });
    }
    if dir_changed {
        io.sync_dir(wal_dir)?;
    }
    ingest(engine, replay, &mut stats)?;
    stats.duration = start.elapsed();
    if stats.records > 0 {
        tracing::info!(
            records = stats.records,
            bytes = stats.bytes,
            segments = stats.segments,
            millis = stats.duration.as_millis() as u64,
            "replayed the wal"
        );
    }
    Ok(Recovered {
        segments,
        max_id,
        last_seqno,
        stats,
    })
}

/// Applies the records to replay through the engine's bulk ingest,
/// decoding them as the engine takes them (it works in chunks, so only a
/// chunk of decoded batches is held at a time).
fn ingest(
    engine: &Engine,
    replay: Vec<(Arc<Path>, Seqno, Bytes)>,
    stats: &mut ReplayStats,
) -> Result<()> {
    let mut bad: Option<Error> = None;
    let mut records = 0u64;
    let mut bytes = 0u64;
    let batches = replay.into_iter().map_while(|(path, seqno, payload)| {
        match decode_batch(&payload) {
            Ok(batch) => {
                records += 1;
                bytes += (payload.len() + crate::record::RECORD_HEADER_LEN) as u64;
                Some((seqno, batch))
            }
            Err(reason) => {
                // The first pass validated every payload; this is a bug or
                // memory corruption, not a torn log.
                bad = Some(Error::corruption(path.as_ref(), 0, reason));
                None
            }
        }
    });
    let result = engine.ingest_batches(batches);
    stats.records += records;
    stats.bytes += bytes;
    result?;
    match bad {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// How bad a [`Problem`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProblemKind {
    /// The last segment ends in a record cut short by a crash. Opening the
    /// database truncates it; nothing acknowledged as durable is lost.
    TornTail,
    /// A bad record or header that is not a torn tail. The database refuses
    /// to open until [`repair`] cuts the log there.
    Corruption,
    /// A segment written by a newer format version.
    UnsupportedVersion,
    /// Damage in the storage engine's files (a lost or unreadable
    /// manifest, a damaged table block), found by
    /// [`fasty_storage::repair::verify_dir`]; the path names the file.
    Storage,
}

/// One problem [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The segment.
    pub path: PathBuf,
    /// Byte offset of the bad record or header.
    pub offset: u64,
    /// How bad it is.
    pub kind: ProblemKind,
    /// What is wrong, in a few words.
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            ProblemKind::TornTail => "torn tail",
            ProblemKind::Corruption => "corruption",
            ProblemKind::UnsupportedVersion => "unsupported version",
            ProblemKind::Storage => "storage corruption",
        };
        write!(
            f,
            "{kind} in {} at offset {}: {}",
            self.path.display(),
            self.offset,
            self.reason
        )
    }
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Segments read.
    pub segments: usize,
    /// Good records read.
    pub records: u64,
    /// Bytes of all segments.
    pub bytes: u64,
    /// Sequence number of the last good record.
    pub last_seqno: Option<Seqno>,
    /// Every problem, oldest segment first, in file order within a segment
    /// (after a bad record that is not a torn tail, reading resumes at the
    /// next record that checks, so every damaged record is listed), then
    /// those of the engine's files (kind [`ProblemKind::Storage`], one per
    /// damaged block).
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether the log would open without truncating or refusing anything.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }

    /// Whether the database would refuse to open (a torn tail alone does
    /// not stop it).
    pub fn blocks_open(&self) -> bool {
        self.problems
            .iter()
            .any(|p| p.kind != ProblemKind::TornTail)
    }
}

/// Reads the whole log of the database in `dir` and reports every problem
/// (each damaged record with its file and offset), changing nothing (not even the engine's files: the engine is not
/// opened). Sequence numbers must increase across the log, and when the
/// engine's manifest is readable, no record may be missing after its
/// flushed sequence number (a lost segment). The engine's manifest and
/// every block of its tables are checked too
/// ([`fasty_storage::repair::verify_dir`]).
pub fn verify(dir: impl AsRef<Path>) -> Result<VerifyReport> {
    let io = fasty_storage::io::std_fs::StdIo::new();
    let wal_dir = dir.as_ref().join(WAL_DIR);
    let segments = list_segments(&io, &wal_dir)?;
    let n = segments.len();
    let mut report = VerifyReport {
        segments: n,
        ..VerifyReport::default()
    };
    let mut seq = SeqCheck {
        // A manifest that cannot be read is the engine's problem, found when
        // it opens; the log is still checked for order.
        flushed: Engine::flushed_seqno_in(dir.as_ref()).ok().flatten(),
        prev: None,
    };
    for (i, (_, path)) in segments.into_iter().enumerate() {
        let data = Bytes::from(io.read(&path)?);
        report.bytes += data.len() as u64;
        let (scan, later) = scan_segment_all(&data, i + 1 == n, true, |rec, after_gap| {
            if after_gap {
                // The damage before it hid some records; that is reported
                // already, so only the order is checked here.
                seq.restart_after_gap();
            }
            seq.check(rec.seqno)?;
            crate::record::validate_batch(&rec.payload).map_err(Halt)
        });
        report.records += scan.records;
        if scan.last_seqno.is_some() {
            report.last_seqno = scan.last_seqno;
        }
        let (kind, offset, reason) = match scan.end {
            SegmentEnd::Clean => continue,
            SegmentEnd::Torn { offset, reason } => (ProblemKind::TornTail, offset, reason),
            SegmentEnd::Corrupt { offset, reason } => (ProblemKind::Corruption, offset, reason),
            SegmentEnd::Unsupported { found } => (
                ProblemKind::UnsupportedVersion,
                8,
                format!(
                    "format version {found}, this build reads {}",
                    crate::segment::FORMAT_VERSION
                ),
            ),
        };
        report.problems.push(Problem {
            path: path.clone(),
            offset,
            kind,
            reason,
        });
        report
            .problems
            .extend(later.into_iter().map(|(offset, reason)| Problem {
                path: path.clone(),
                offset,
                kind: ProblemKind::Corruption,
                reason,
            }));
    }
    storage_problems(dir.as_ref(), &mut report)?;
    Ok(report)
}

/// Adds what [`fasty_storage::repair::verify_dir`] finds in the engine's
/// files (every damaged block of every table, a lost manifest) to `report`.
fn storage_problems(dir: &Path, report: &mut VerifyReport) -> Result<()> {
    let tables = fasty_storage::repair::verify_dir(dir)?;
    report
        .problems
        .extend(tables.findings.into_iter().map(|f| Problem {
            reason: format!("damaged {}: {}", f.part, f.reason),
            path: f.path,
            offset: f.offset,
            kind: ProblemKind::Storage,
        }));
    Ok(())
}

/// What [`repair`] did.
#[derive(Debug, Clone, Default)]
pub struct RepairReport {
    /// What was done about the engine's manifest: rebuilt from the tables
    /// when it was lost or unreadable (see
    /// [`fasty_storage::repair::rebuild_manifest`]).
    pub manifest: fasty_storage::repair::RebuildReport,
    /// The problem the log was cut at, if there was one.
    pub cut_at: Option<Problem>,
    /// Files holding the bytes removed from the log: the rest of the cut
    /// segment (`NNN.log.corrupt-tail`) and every later segment
    /// (`NNN.log.corrupt`).
    pub saved: Vec<PathBuf>,
}

/// Cuts the log of the database in `dir` at its first bad record so that
/// it opens again, never silently: the bytes from the bad record on are
/// copied to `wal/NNN.log.corrupt-tail`, later segments are renamed to
/// `wal/NNN.log.corrupt`, and each step is logged. Records after the cut
/// are lost to the database (they stay in those files).
///
/// First, a lost or unreadable engine manifest is rebuilt from the table
/// files ([`fasty_storage::repair::rebuild_manifest`]: damaged tables go to
/// `lost+found`, the flushed sequence number becomes the highest in the
/// tables, so the log replays exactly what follows).
///
/// Opens the storage engine (with default options, no background threads)
/// to learn its flushed sequence number and to hold the directory lock, so
/// the database must not be open elsewhere.
pub fn repair(dir: impl AsRef<Path>) -> Result<RepairReport> {
    let dir = dir.as_ref();
    let opts = fasty_storage::Options::default().with_background(false);
    let manifest = fasty_storage::repair::rebuild_manifest(dir, opts.clone())?;
    let engine = Engine::open(dir, opts)?;
    let io = engine
        .io()
        .ok_or_else(|| Error::InvalidArgument("repair needs an on-disk engine".into()))?;
    let wal_dir = dir.join(WAL_DIR);
    let mut report = repair_log(io.as_ref(), &wal_dir, engine.flushed_seqno())?;
    report.manifest = manifest;
    engine.close()?;
    Ok(report)
}

fn repair_log(io: &dyn Io, wal_dir: &Path, flushed: Seqno) -> Result<RepairReport> {
    let segments = list_segments(io, wal_dir)?;
    let n = segments.len();
    let mut seq = SeqCheck {
        flushed: Some(flushed),
        prev: None,
    };
    let mut report = RepairReport::default();
    let mut cut: Option<usize> = None;
    for (i, (_, path)) in segments.iter().enumerate() {
        let data = Bytes::from(io.read(path)?);
        let scan = scan_segment(&data, i + 1 == n, |rec: &Record| {
            seq.check(rec.seqno)?;
            crate::record::validate_batch(&rec.payload).map_err(Halt)
        });
        let (kind, offset, reason) = match scan.end {
            SegmentEnd::Clean => continue,
            SegmentEnd::Torn { offset, reason } => (ProblemKind::TornTail, offset, reason),
            SegmentEnd::Corrupt { offset, reason } => (ProblemKind::Corruption, offset, reason),
            SegmentEnd::Unsupported { found } => {
                return Err(Error::UnsupportedVersion {
                    path: path.clone(),
                    found,
                    supported: crate::segment::FORMAT_VERSION,
                });
            }
        };
        // Save the rest of this segment, then cut it.
        let start = usize::try_from(offset)
            .unwrap_or(data.len())
            .min(data.len());
        let mut aside_name = path.as_os_str().to_os_string();
        aside_name.push(".corrupt-tail");
        let aside = PathBuf::from(aside_name);
        let mut f = io.create(&aside)?;
        f.append(data[start..].to_vec())?;
        f.sync()?;
        tracing::warn!(
            file = %path.display(),
            offset,
            saved_to = %aside.display(),
            bytes = data.len() - start,
            reason = %reason,
            "repair: cutting the wal at its first bad record"
        );
        report.saved.push(aside);
        if offset < SEGMENT_HEADER_LEN as u64 {
            io.remove(path)?;
        } else {
            let mut f = io.open_append(path)?;
            f.truncate(offset)?;
            f.sync()?;
        }
        report.cut_at = Some(Problem {
            path: path.clone(),
            offset,
            kind,
            reason,
        });
        cut = Some(i);
        break;
    }
    if let Some(i) = cut {
        for (_, later) in &segments[i + 1..] {
            let mut name = later.as_os_str().to_os_string();
            name.push(".corrupt");
            let aside = PathBuf::from(name);
            io.rename(later, &aside)?;
            tracing::warn!(
                file = %later.display(),
                moved_to = %aside.display(),
                "repair: moving a wal segment after the cut aside"
            );
            report.saved.push(aside);
        }
        io.sync_dir(wal_dir)?;
    }
    Ok(report)
}
