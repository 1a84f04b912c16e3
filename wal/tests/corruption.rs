//! Torn tails and corruption, on a small log kept as a fixture
//! (`tests/fixtures/v1/wal`, format version 1: three segments written by
//! [`fixture_changes`]): a torn tail of the last segment is cut at open with
//! a log message naming file and offset; a bad record anywhere else stops
//! open with an error naming file and offset and changes nothing; `verify`
//! reports without changing a byte; `repair` cuts at the first bad record
//! and keeps the rest aside.
//!
//! Regenerate the fixture (only when the format version changes) with
//! `FASTY_WAL_REGENERATE_FIXTURES=1 cargo test -p fasty-wal --test corruption -- --ignored`.

mod common;

use std::cell::RefCell;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Once;

use common::*;
use fasty_storage::io::testing::Torn;
use fasty_wal::{Db, Durability, Error, ProblemKind, WriteBatch};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/v1");
const BATCHES: u64 = 170;

/// The batches the fixture holds, in order.
fn fixture_changes(n: u64) -> (WriteBatch, Changes) {
    let mut b = WriteBatch::new();
    let mut changes = Vec::new();
    for j in 0..3 {
        let k = format!("k{n:03}-{j}").into_bytes();
        let v = format!("v{n}-{j}").into_bytes();
        b.put(k.clone(), v.clone());
        changes.push((k, Some(v)));
    }
    if n > 0 {
        let k = format!("k{:03}-0", n - 1).into_bytes();
        b.delete(k.clone());
        changes.push((k, None));
    }
    (b, changes)
}

fn expected(batches: u64) -> Model {
    let mut m = Model::new();
    for n in 0..batches {
        apply_to(&mut m, &fixture_changes(n).1);
    }
    m
}

#[test]
#[ignore = "writes the fixture; run only when the format changes"]
fn regenerate_fixture() {
    if std::env::var("FASTY_WAL_REGENERATE_FIXTURES").is_err() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sim = sim();
    let db = Db::open(dir.path(), options(Durability::Durable, Some(sim.clone()))).unwrap();
    for n in 0..BATCHES {
        db.write(fixture_changes(n).0).unwrap();
    }
    crash(db, &sim, Torn::DropUnsynced);
    let out = Path::new(FIXTURE).join("wal");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    for seg in segments(dir.path()) {
        std::fs::copy(&seg, out.join(seg.file_name().unwrap())).unwrap();
    }
}

/// A fresh copy of the fixture: a data directory holding only `wal/`.
fn copy_fixture() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("wal")).unwrap();
    for seg in segments(Path::new(FIXTURE)) {
        std::fs::copy(&seg, dir.path().join("wal").join(seg.file_name().unwrap())).unwrap();
    }
    let segs = segments(dir.path());
    assert_eq!(segs.len(), 3, "the fixture has three segments");
    (dir, segs)
}

/// Offsets of the records in a segment (format version 1: a 16-byte
/// header, then `[len u32][crc u32][seqno u64][payload]`).
fn record_offsets(seg: &Path) -> Vec<u64> {
    let data = std::fs::read(seg).unwrap();
    let mut offs = Vec::new();
    let mut off = 16usize;
    while off + 16 <= data.len() {
        offs.push(off as u64);
        let len = u32::from_le_bytes(data[off..off + 4].try_into().unwrap()) as usize;
        off += 16 + len;
    }
    assert_eq!(off, data.len(), "fixture segments are whole");
    offs
}

fn flip(path: &Path, offset: u64) {
    let mut data = std::fs::read(path).unwrap();
    data[offset as usize] ^= 0x20;
    std::fs::write(path, data).unwrap();
}

/// Every file under `dir` with its bytes, to prove nothing changed.
fn snapshot_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "LOCK") {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

thread_local! {
    /// The log lines of the current thread, while [`logged`] runs on it.
    static CAPTURED: RefCell<Option<Vec<u8>>> = const { RefCell::new(None) };
}

/// Writes a formatted event into the current thread's capture, if any.
struct ThreadCapture;

impl std::io::Write for ThreadCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        CAPTURED.with(|c| {
            if let Some(out) = c.borrow_mut().as_mut() {
                out.extend_from_slice(buf);
            }
        });
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with tracing captured; returns what was logged on this thread.
///
/// One process-wide subscriber writes every event into the capture of the
/// thread that emitted it, so each test sees exactly its own lines. A
/// scoped subscriber per test is not enough: while it is the only live
/// one, a callsite first reached by another test's thread (which has no
/// subscriber) caches "never interested" for everyone, and this test then
/// misses that line.
fn logged<T>(f: impl FnOnce() -> T) -> (T, String) {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(|| ThreadCapture)
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other global subscriber in this test binary");
    });
    // Callsites registered before the subscriber existed cached "never".
    tracing::callsite::rebuild_interest_cache();
    CAPTURED.with(|c| *c.borrow_mut() = Some(Vec::new()));
    let out = f();
    let text = CAPTURED.with(|c| c.borrow_mut().take().unwrap_or_default());
    (out, String::from_utf8_lossy(&text).into_owned())
}

fn open(dir: &Path) -> fasty_wal::Result<Db> {
    Db::open(dir, options(Durability::Durable, None))
}

#[test]
fn v1_fixture_replays() {
    let (dir, _) = copy_fixture();
    let db = open(dir.path()).unwrap();
    assert_eq!(contents(&db), expected(BATCHES));
    let stats = db.stats();
    assert_eq!(stats.replay.records, BATCHES);
    assert_eq!(stats.replay.segments, 3);
    assert_eq!(db.last_seqno(), BATCHES);
    // A clean verify of the untouched fixture.
    let report = fasty_wal::verify(Path::new(FIXTURE)).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.records, BATCHES);
}

#[test]
fn torn_tail_is_truncated_on_open_with_a_log_message() {
    let (dir, segs) = copy_fixture();
    let last = segs.last().unwrap();
    let offs = record_offsets(last);
    let cut_record = *offs.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(last).unwrap();
    f.set_len(len - 5).unwrap();
    drop(f);
    let (db, log) = logged(|| open(dir.path()));
    let db = db.unwrap();
    assert!(log.contains("truncating the torn tail"), "{log}");
    assert!(log.contains(&last.display().to_string()), "{log}");
    assert!(log.contains(&format!("offset={cut_record}")), "{log}");
    assert_eq!(std::fs::metadata(last).unwrap().len(), cut_record);
    assert_eq!(
        db.stats().replay.truncated,
        Some((last.clone(), cut_record))
    );
    assert_eq!(contents(&db), expected(BATCHES - 1));
    // The cut is durable and the log keeps working.
    drop(db);
    let db = open(dir.path()).unwrap();
    assert_eq!(contents(&db), expected(BATCHES - 1));
}

#[test]
fn a_last_segment_without_a_whole_header_is_removed_at_open() {
    // A crash between creating a segment and its header reaching the disk.
    for len in [0usize, 5, 15] {
        let (dir, _) = copy_fixture();
        let half = dir.path().join("wal/000000000004.log");
        std::fs::write(&half, &b"FSTYWAL\0\x01\0\0\0\0\0\0\0"[..len]).unwrap();
        let db = open(dir.path()).unwrap();
        assert!(!half.exists(), "len {len}");
        assert_eq!(contents(&db), expected(BATCHES));
        drop(db);
        // The log stays sound for the next open (no headerless segment left
        // in the middle).
        let db = open(dir.path()).unwrap();
        assert_eq!(contents(&db), expected(BATCHES));
        assert!(fasty_wal::verify(dir.path()).unwrap().is_clean());
    }
}

#[test]
fn a_crashed_open_leaves_a_log_that_opens() {
    // Records are replayed but the database is dropped right away, without
    // a clean close, twice: the segments kept at open must stay readable.
    let (dir, _) = copy_fixture();
    let sim = sim();
    let db = Db::open(dir.path(), options(Durability::Durable, Some(sim.clone()))).unwrap();
    crash(db, &sim, Torn::DropUnsynced);
    let db = Db::open(dir.path(), options(Durability::Durable, Some(sim.clone()))).unwrap();
    assert_eq!(contents(&db), expected(BATCHES));
    crash(db, &sim, Torn::KeepPrefix(3));
    let db = open(dir.path()).unwrap();
    assert_eq!(contents(&db), expected(BATCHES));
}

#[test]
fn flipped_crc_in_a_middle_segment_refuses_open_naming_file_and_offset() {
    let (dir, segs) = copy_fixture();
    let bad = record_offsets(&segs[1])[2];
    flip(&segs[1], bad + 5); // a byte of the stored crc32
    let before = snapshot_files(dir.path());
    let err = open(dir.path()).unwrap_err();
    match &err {
        Error::Corruption { path, offset, .. } => {
            assert_eq!(path, &segs[1]);
            assert_eq!(*offset, bad);
        }
        other => panic!("expected wal corruption, got {other}"),
    }
    let msg = err.to_string();
    assert!(msg.contains(&segs[1].display().to_string()), "{msg}");
    assert!(msg.contains(&format!("offset {bad}")), "{msg}");
    assert!(msg.contains("repair"), "the message says what to do: {msg}");
    // Refusing to open changed nothing in the log.
    let after: Vec<_> = snapshot_files(dir.path())
        .into_iter()
        .filter(|(p, _)| p.starts_with(dir.path().join("wal")))
        .collect();
    let before: Vec<_> = before
        .into_iter()
        .filter(|(p, _)| p.starts_with(dir.path().join("wal")))
        .collect();
    assert_eq!(before, after);
}

#[test]
fn bad_record_followed_by_a_good_one_in_the_last_segment_is_not_a_torn_tail() {
    let (dir, segs) = copy_fixture();
    let last = segs.last().unwrap();
    let bad = record_offsets(last)[1];
    flip(last, bad + 20); // payload byte of a record with good ones after it
    let err = open(dir.path()).unwrap_err();
    assert!(
        matches!(&err, Error::Corruption { path, offset, .. } if path == last && *offset == bad),
        "{err}"
    );
}

#[test]
fn unsupported_version_is_refused() {
    let (dir, segs) = copy_fixture();
    let mut data = std::fs::read(&segs[0]).unwrap();
    data[8..12].copy_from_slice(&9u32.to_le_bytes());
    let crc = crc32fast::hash(&data[..12]);
    data[12..16].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&segs[0], data).unwrap();
    let err = open(dir.path()).unwrap_err();
    assert!(
        matches!(err, Error::UnsupportedVersion { found: 9, .. }),
        "{err}"
    );
    assert_eq!(err.code(), "unsupported_version");
}

#[test]
fn verify_reports_every_problem_without_changing_a_byte() {
    let (dir, segs) = copy_fixture();
    let bad = record_offsets(&segs[1])[3];
    flip(&segs[1], bad + 5);
    let last = segs.last().unwrap();
    let torn_at = *record_offsets(last).last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(last)
        .unwrap()
        .set_len(len - 3)
        .unwrap();
    let before = snapshot_files(dir.path());
    let report = fasty_wal::verify(dir.path()).unwrap();
    assert_eq!(snapshot_files(dir.path()), before, "verify changed nothing");
    assert!(!report.is_clean());
    assert!(report.blocks_open());
    assert_eq!(report.segments, 3);
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    let (p0, p1) = (&report.problems[0], &report.problems[1]);
    assert_eq!(
        (&p0.path, p0.offset, p0.kind),
        (&segs[1], bad, ProblemKind::Corruption)
    );
    assert_eq!(
        (&p1.path, p1.offset, p1.kind),
        (last, torn_at, ProblemKind::TornTail)
    );
    assert!(p0.to_string().contains("checksum"), "{p0}");
    // Verify does not even create the engine's files.
    assert!(!dir.path().join("MANIFEST").exists());
}

#[test]
fn repair_cuts_at_the_first_bad_record_and_keeps_the_rest_aside() {
    let (dir, segs) = copy_fixture();
    let original: Vec<Vec<u8>> = segs.iter().map(|s| std::fs::read(s).unwrap()).collect();
    let offs = record_offsets(&segs[1]);
    let bad = offs[4];
    flip(&segs[1], bad + 2); // the length field: framing is lost from here
    let flipped = std::fs::read(&segs[1]).unwrap();
    // Records before the cut: all of segment 0, four of segment 1.
    let kept = record_offsets(&segs[0]).len() as u64 + 4;

    let (report, log) = logged(|| fasty_wal::repair(dir.path()));
    let report = report.unwrap();
    assert!(log.contains("repair: cutting the wal"), "{log}");
    assert!(log.contains("moving a wal segment"), "{log}");
    let cut = report.cut_at.expect("a cut");
    assert_eq!((&cut.path, cut.offset), (&segs[1], bad));
    let tail = dir.path().join("wal/000000000002.log.corrupt-tail");
    let moved = dir.path().join("wal/000000000003.log.corrupt");
    assert_eq!(report.saved, vec![tail.clone(), moved.clone()]);
    // Nothing is thrown away: the cut bytes and the later segment are kept.
    assert_eq!(std::fs::read(&tail).unwrap(), &flipped[bad as usize..]);
    assert_eq!(std::fs::read(&moved).unwrap(), original[2]);
    assert_eq!(
        std::fs::read(&segs[1]).unwrap(),
        &original[1][..bad as usize]
    );
    assert!(!segs[2].exists());

    let report = fasty_wal::verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    let db = open(dir.path()).unwrap();
    assert_eq!(contents(&db), expected(kept));
    // New writes continue after the cut and survive a reopen.
    let mut b = WriteBatch::new();
    b.put(&b"after-repair"[..], &b"yes"[..]);
    db.write(b).unwrap();
    drop(db);
    let db = open(dir.path()).unwrap();
    assert_eq!(
        db.get(b"after-repair").unwrap().as_deref(),
        Some(&b"yes"[..])
    );
    // A second repair finds nothing to do.
    drop(db);
    let again = fasty_wal::repair(dir.path()).unwrap();
    assert!(again.cut_at.is_none() && again.saved.is_empty());
}

#[test]
fn log_capture_keeps_a_line_first_reached_on_another_thread() {
    // Another thread, capturing nothing, reaches the repair's log lines
    // first (as a concurrent test does); this thread must still see them.
    let torn = |dir: &Path| {
        let last = segments(dir).pop().unwrap();
        let mut f = std::fs::OpenOptions::new().append(true).open(last).unwrap();
        f.write_all(&[1, 2, 3]).unwrap();
    };
    let (other, _) = copy_fixture();
    torn(other.path());
    let (dir, _) = copy_fixture();
    torn(dir.path());
    let (report, log) = logged(|| {
        let path = other.path().to_path_buf();
        let first = std::thread::spawn(move || fasty_wal::repair(&path).unwrap())
            .join()
            .unwrap();
        assert!(first.cut_at.is_some());
        fasty_wal::repair(dir.path())
    });
    assert!(report.unwrap().cut_at.is_some());
    assert!(log.contains("repair: cutting the wal"), "{log}");
    // Only this thread's lines: the other repair named another directory.
    assert!(!log.contains(&other.path().display().to_string()), "{log}");
}

#[test]
fn repair_of_a_torn_tail_saves_the_torn_bytes() {
    let (dir, segs) = copy_fixture();
    let last = segs.last().unwrap();
    let mut f = std::fs::OpenOptions::new().append(true).open(last).unwrap();
    f.write_all(&[1, 2, 3]).unwrap();
    drop(f);
    let report = fasty_wal::repair(dir.path()).unwrap();
    let cut = report.cut_at.unwrap();
    assert_eq!(cut.kind, ProblemKind::TornTail);
    assert_eq!(std::fs::read(&report.saved[0]).unwrap(), [1, 2, 3]);
    let db = open(dir.path()).unwrap();
    assert_eq!(contents(&db), expected(BATCHES));
}

/// One kind of damage to the record at `off` of `seg`.
fn damage(seg: &Path, off: u64, how: &str) {
    let mut data = std::fs::read(seg).unwrap();
    let off = off as usize;
    let len = u32::from_le_bytes(data[off..off + 4].try_into().unwrap()) as usize;
    match how {
        // The length's low byte: the record seems shorter or longer, so
        // its checksum fails and the next one is looked for elsewhere.
        "length low byte" => data[off] ^= 0x11,
        // The length's top byte: it points far past the end of the file.
        "length high byte" => data[off + 3] = 0x7f,
        "zeroed record" => data[off..off + 16 + len].fill(0),
        other => panic!("unknown damage {other}"),
    }
    std::fs::write(seg, data).unwrap();
}

#[test]
fn mid_log_damage_with_good_records_after_it_refuses_open_in_every_segment() {
    for how in ["length low byte", "length high byte", "zeroed record"] {
        for which in [1usize, 2] {
            let (dir, segs) = copy_fixture();
            let seg = &segs[which];
            let offs = record_offsets(seg);
            let bad = offs[offs.len() / 2];
            damage(seg, bad, how);
            let before = snapshot_files(dir.path());
            let err = open(dir.path()).unwrap_err();
            match &err {
                Error::Corruption { path, offset, .. } => {
                    assert_eq!(
                        (path, *offset),
                        (seg, bad),
                        "{how} in segment {which}: {err}"
                    )
                }
                other => panic!("{how} in segment {which}: expected wal corruption, got {other}"),
            }
            let msg = err.to_string();
            assert!(msg.contains(&seg.display().to_string()), "{msg}");
            assert!(msg.contains(&format!("offset {bad}")), "{msg}");
            assert_eq!(err.code(), "wal_corruption");
            let wal = |files: Vec<(PathBuf, Vec<u8>)>| -> Vec<_> {
                files
                    .into_iter()
                    .filter(|(p, _)| p.starts_with(dir.path().join("wal")))
                    .collect()
            };
            assert_eq!(
                wal(before),
                wal(snapshot_files(dir.path())),
                "{how}: refusing changed nothing"
            );
            let report = fasty_wal::verify(dir.path()).unwrap();
            assert!(report.blocks_open(), "{how} in segment {which}");
            assert_eq!(
                report
                    .problems
                    .iter()
                    .map(|p| (p.path.clone(), p.offset, p.kind))
                    .collect::<Vec<_>>(),
                vec![(seg.clone(), bad, ProblemKind::Corruption)],
                "{how} in segment {which}: {:?}",
                report.problems
            );
            // Every record but the damaged one is still read.
            assert_eq!(report.records, BATCHES - 1, "{how} in segment {which}");
        }
    }
}

#[test]
fn verify_lists_every_damaged_record_of_a_segment() {
    let (dir, segs) = copy_fixture();
    let last = segs.last().unwrap();
    let offs = record_offsets(last);
    let (a, b, c) = (offs[1], offs[3], offs[offs.len() - 2]);
    damage(last, a, "length low byte");
    damage(last, b, "zeroed record");
    flip(last, c + 20);
    let report = fasty_wal::verify(dir.path()).unwrap();
    let found: Vec<_> = report
        .problems
        .iter()
        .map(|p| (p.path.clone(), p.offset, p.kind))
        .collect();
    let corrupt = ProblemKind::Corruption;
    assert_eq!(
        found,
        vec![
            (last.clone(), a, corrupt),
            (last.clone(), b, corrupt),
            (last.clone(), c, corrupt)
        ],
        "{:?}",
        report.problems
    );
    assert_eq!(report.records, BATCHES - 3);
}

#[test]
fn damage_to_the_final_record_is_still_a_torn_tail() {
    // Nothing valid after the damage: a write cut short is the likelier
    // story, and nothing after it was ever acknowledged as durable.
    for how in ["length low byte", "length high byte", "zeroed record"] {
        let (dir, segs) = copy_fixture();
        let last = segs.last().unwrap();
        let bad = *record_offsets(last).last().unwrap();
        damage(last, bad, how);
        let report = fasty_wal::verify(dir.path()).unwrap();
        if how == "zeroed record" {
            // Zeros to the end of the file are the segment's end.
            assert!(report.is_clean(), "{how}: {:?}", report.problems);
        } else {
            assert!(!report.blocks_open(), "{how}: {:?}", report.problems);
            assert_eq!(report.problems.len(), 1, "{how}");
            assert_eq!(report.problems[0].kind, ProblemKind::TornTail);
        }
        let db = open(dir.path()).unwrap();
        assert_eq!(contents(&db), expected(BATCHES - 1), "{how}");
    }
}
