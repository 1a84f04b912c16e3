//! Durable mode's spare segments (`Options::preallocate_segments`): each
//! segment is written ahead as zeros and overwritten, the spare outlives a
//! close, a half-written one left by a crash is removed, and the other
//! modes keep no spare. Crashes in the middle of all this are in
//! `model.rs` (torn overwrites included).

mod common;

use std::path::Path;

use common::*;
use fasty_storage::background::{Progress, Stepper, check_seeds};
use fasty_storage::io::testing::{FaultKind, Torn};
use fasty_wal::{Db, Durability, WriteBatch};

const SEGMENT: u64 = 4096;

fn wal_file(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join("wal").join(name)
}

fn write_batches(db: &Db, model: &mut Model, from: u64, n: u64) {
    for i in from..from + n {
        let (b, changes) = make_batch(i, 2);
        db.write(b).unwrap();
        apply_to(model, &changes);
    }
}

/// Reopens in durable mode: the spare the drop left is used for the first
/// segment, and everything written is there.
fn reopen_holds(dir: &Path, model: &Model) {
    let db = Db::open(dir, options(Durability::Durable, None)).unwrap();
    assert_eq!(db.stats().log_spares_used, 1, "the spare left by the drop");
    assert_eq!(&contents(&db), model);
}

#[test]
fn every_rotation_starts_from_a_spare_and_segments_keep_their_size() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(Durability::Durable, None)).unwrap();
    // No spare at the first open; the writer prepares one at once.
    assert_eq!(db.stats().log_spares_used, 0);
    assert!(wal_file(dir.path(), "spare.ready").is_file());
    let mut model = Model::new();
    write_batches(&db, &mut model, 0, 300);
    let stats = db.stats();
    assert!(stats.log_rotations >= 5, "{}", stats.log_rotations);
    assert_eq!(stats.log_spares_used, stats.log_rotations);
    // Finished segments were overwritten, not grown: each is exactly the
    // spare's size, records then zeros, and reads back clean.
    let segs = segments(dir.path());
    assert!(segs.len() >= 5);
    for seg in &segs[1..segs.len() - 1] {
        let bytes = std::fs::read(seg).unwrap();
        assert_eq!(bytes.len() as u64, SEGMENT, "{}", seg.display());
        assert_eq!(bytes.last(), Some(&0), "{}", seg.display());
    }
    let report = fasty_wal::verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.records, 300);
    // The spare outlives the close, and the next open starts from it.
    db.close().unwrap();
    let spare = wal_file(dir.path(), "spare.ready");
    assert_eq!(std::fs::metadata(&spare).unwrap().len(), SEGMENT);
    let db = Db::open(dir.path(), options(Durability::Durable, None)).unwrap();
    assert_eq!(db.stats().log_spares_used, 1);
    assert_eq!(contents(&db), model);
    write_batches(&db, &mut model, 300, 50);
    drop(db);
    reopen_holds(dir.path(), &model);
}

#[test]
fn a_half_written_spare_is_replaced_and_a_ready_one_is_used() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("wal")).unwrap();
    // Left by a crash while preparing: never used as a segment.
    std::fs::write(wal_file(dir.path(), "spare.tmp"), b"half a spare").unwrap();
    let db = Db::open(dir.path(), options(Durability::Durable, None)).unwrap();
    assert_eq!(db.stats().log_spares_used, 0);
    assert!(!wal_file(dir.path(), "spare.tmp").exists());
    let mut model = Model::new();
    write_batches(&db, &mut model, 0, 100);
    drop(db);
    reopen_holds(dir.path(), &model);
}

#[test]
fn other_modes_and_preallocation_off_append_and_keep_no_spare() {
    let dir = tempfile::tempdir().unwrap();
    Db::open(dir.path(), options(Durability::Durable, None))
        .unwrap()
        .close()
        .unwrap();
    assert!(wal_file(dir.path(), "spare.ready").is_file());
    let no_spare = options(Durability::Durable, None).with_preallocate_segments(false);
    for opts in [options(async_manual(), None), no_spare] {
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        assert!(!wal_file(dir.path(), "spare.ready").exists());
        let mut model = Model::new();
        write_batches(&db, &mut model, 0, 300);
        db.sync().unwrap();
        let stats = db.stats();
        assert!(stats.log_rotations >= 5);
        assert_eq!(stats.log_spares_used, 0);
        // Appended: no finished segment ends in zeros.
        let segs = segments(dir.path());
        for seg in &segs[..segs.len() - 1] {
            let bytes = std::fs::read(seg).unwrap();
            assert_ne!(bytes.last(), Some(&0), "{}", seg.display());
        }
        assert!(!wal_file(dir.path(), "spare.ready").exists());
        db.close().unwrap();
    }
}

/// A spare that cannot be taken (here `spare.ready` removed behind the
/// log's back, so the rotation's rename of it fails with "no such file")
/// costs only the speed-up: that rotation creates its segment the slow
/// way, no write fails, and the next spare is prepared and used as usual.
#[test]
fn a_spare_that_cannot_be_taken_never_fails_a_write() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path(), options(Durability::Durable, None)).unwrap();
    let mut model = Model::new();
    // The first write rotates into the spare prepared at open; the writer
    // prepares the next one before writing, so once the write is
    // acknowledged that one is ready and the writer idle.
    write_batches(&db, &mut model, 0, 1);
    assert_eq!(db.stats().log_spares_used, 1);
    std::fs::remove_file(wal_file(dir.path(), "spare.ready")).unwrap();
    write_batches(&db, &mut model, 1, 300);
    let stats = db.stats();
    assert!(stats.log_rotations >= 5, "{stats:?}");
    assert_eq!(
        stats.log_spares_used + 1,
        stats.log_rotations,
        "one rotation, the one that found no spare, created its segment"
    );
    assert!(wal_file(dir.path(), "spare.ready").is_file());
    let report = fasty_wal::verify(dir.path()).unwrap();
    assert!(report.is_clean(), "{:?}", report.problems);
    assert_eq!(report.records, 301);
    drop(db);
    reopen_holds(dir.path(), &model);
}

/// A spare file that cannot be removed at open (here a directory by that
/// name, which a file removal refuses) is logged and left: it fails
/// neither a durable open, which starts without a spare, nor an open in
/// another mode, which would only have removed it to free the space.
#[test]
fn a_spare_that_cannot_be_removed_never_fails_an_open() {
    for (name, opts) in [
        ("spare.tmp", options(Durability::Durable, None)),
        ("spare.ready", options(async_manual(), None)),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(wal_file(dir.path(), name).join("x")).unwrap();
        let db = Db::open(dir.path(), opts.clone()).unwrap();
        let mut model = Model::new();
        write_batches(&db, &mut model, 0, 100);
        db.sync().unwrap();
        db.close().unwrap();
        let db = Db::open(dir.path(), opts).unwrap();
        assert_eq!(contents(&db), model, "{name}");
        assert!(wal_file(dir.path(), name).is_dir(), "{name}");
    }
}

/// Several threads writing durably into small segments while the spare
/// thread prepares the next one: many rotations, some from a spare, some
/// created because the thread was not done yet, none failing a write.
#[test]
fn many_writers_rotating_while_the_spare_thread_prepares() {
    use std::sync::Arc;
    let dir = tempfile::tempdir().unwrap();
    let opts = options(Durability::Durable, None).with_storage(
        options(Durability::Durable, None)
            .storage
            .with_background(true),
    );
    let db = Arc::new(Db::open(dir.path(), opts.clone()).unwrap());
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 400;
    // Each thread writes keys of its own, so the expected contents are
    // known whatever order the writes are applied in.
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let mut b = WriteBatch::new();
                    b.put(format!("t{t}-{i:04}").into_bytes(), vec![b'v'; 40]);
                    db.write(b).unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let stats = db.stats();
    assert!(stats.log_rotations >= 10, "{stats:?}");
    assert!(stats.log_spares_used <= stats.log_rotations);
    Arc::into_inner(db).unwrap().close().unwrap();
    let expected: Model = (0..THREADS)
        .flat_map(|t| (0..PER_THREAD).map(move |i| format!("t{t}-{i:04}").into_bytes()))
        .map(|k| (k, vec![b'v'; 40]))
        .collect();
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(contents(&db), expected);
}

/// With the engine's background threads on, a thread of its own prepares
/// the spares while the writer goes on.
#[test]
fn a_background_thread_prepares_spares() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(Durability::Durable, None)
        .with_segment_size(64 << 10)
        .with_storage(
            options(Durability::Durable, None)
                .storage
                .with_background(true),
        );
    let db = Db::open(dir.path(), opts.clone()).unwrap();
    let mut model = Model::new();
    let mut n = 0;
    // Bounded: 64 KiB segments fill in a few hundred writes; the spare
    // thread needs a moment for each.
    while db.stats().log_spares_used < 3 && n < 100_000 {
        write_batches(&db, &mut model, n, 100);
        n += 100;
    }
    let stats = db.stats();
    assert!(stats.log_spares_used >= 3, "{stats:?}");
    assert!(stats.log_spares_used <= stats.log_rotations);
    db.close().unwrap();
    let db = Db::open(dir.path(), opts).unwrap();
    assert_eq!(contents(&db), model);
}

/// A failure at any step of preparing a spare (here: the one written at
/// open) leaves no half-written spare behind to hold disk space, and the
/// database works on without it.
#[test]
fn a_failed_spare_is_removed_and_costs_nothing_else() {
    let mut failed_preparations = 0;
    for kind in [
        FaultKind::FailWrite,
        FaultKind::ShortWrite,
        FaultKind::FailSync,
    ] {
        for step in 0..40 {
            let dir = tempfile::tempdir().unwrap();
            let sim = sim();
            sim.inject(sim.ops() + step, kind);
            let opts = || options(Durability::Durable, Some(sim.clone()));
            let Ok(db) = Db::open(dir.path(), opts()) else {
                continue; // the fault hit the engine or the log itself
            };
            sim.clear_faults();
            assert!(
                !wal_file(dir.path(), "spare.tmp").exists(),
                "{kind:?} at {step}: a half-written spare was left"
            );
            if !wal_file(dir.path(), "spare.ready").exists() {
                failed_preparations += 1;
            }
            let mut model = Model::new();
            write_batches(&db, &mut model, 0, 100);
            db.close().unwrap();
            let db = Db::open(dir.path(), opts()).unwrap();
            assert_eq!(contents(&db), model, "{kind:?} at {step}");
        }
    }
    assert!(
        failed_preparations > 0,
        "no step hit the spare's preparation"
    );
}

/// Durable writes, checkpoints, the log writer, the spare segments and the
/// engine's flushes as steps of one seeded stepper, then a power cut at a
/// point the seed chooses (a spare maybe half written, a rotation into one
/// maybe under way): every acknowledged write is there after reopening.
#[test]
fn stepped_durable_writes_with_spares_survive_a_crash() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    check_seeds("stepped_durable_writes_with_spares", 24, |seed| {
        let dir = tempfile::tempdir().unwrap();
        let sim = sim();
        let stepper = Stepper::new(seed);
        let opts = || {
            let mut o = options(Durability::Durable, Some(sim.clone()));
            o.storage.background = true;
            o.storage.stepper = Some(stepper.clone());
            o
        };
        let db = Arc::new(Db::open(dir.path(), opts()).unwrap());
        let writes = 20 + stepper.next_u64() % 100;
        let acked = Arc::new(AtomicU64::new(0));
        let (w_db, w_acked) = (db.clone(), acked.clone());
        let model = Arc::new(parking_lot::Mutex::new(Model::new()));
        let w_model = model.clone();
        let write = stepper.register(
            "test-write",
            Arc::new(move || {
                let n = w_acked.load(Ordering::SeqCst);
                if n == writes {
                    return Progress::Idle;
                }
                let (b, changes) = make_batch(n, 3);
                w_db.write(b).unwrap();
                apply_to(&mut w_model.lock(), &changes);
                w_acked.store(n + 1, Ordering::SeqCst);
                Progress::Worked
            }),
        );
        let (c_db, c_acked) = (db.clone(), acked.clone());
        let checkpointed = Arc::new(AtomicU64::new(0));
        let c_done = checkpointed.clone();
        let checkpoint = stepper.register(
            "test-checkpoint",
            Arc::new(move || {
                let k = c_done.load(Ordering::SeqCst);
                if c_acked.load(Ordering::SeqCst) < (k + 1) * 40 {
                    return Progress::Idle;
                }
                c_db.checkpoint().unwrap();
                c_done.store(k + 1, Ordering::SeqCst);
                Progress::Worked
            }),
        );
        stepper
            .drive_until(|| acked.load(Ordering::SeqCst) == writes)
            .unwrap();
        // Whatever background work the seed left undone stays undone.
        drop((write, checkpoint));
        let spares_used = db.stats().log_spares_used;
        crash(Arc::into_inner(db).unwrap(), &sim, Torn::DropUnsynced);
        let db = Db::open(dir.path(), opts()).unwrap();
        assert_eq!(contents(&db), *model.lock());
        if writes > 60 {
            assert!(spares_used > 0, "{writes} writes, no spare used");
        }
        db.close().unwrap();
    });
}

/// With a stepper nothing runs by itself: the spare is written when its
/// step runs, and a durable write drives the writer's step to its fsync.
#[test]
fn with_a_stepper_the_writer_and_spares_are_steps() {
    let dir = tempfile::tempdir().unwrap();
    let stepper = Stepper::new(7);
    let mut o = options(Durability::Durable, None);
    o.storage.background = true;
    o.storage.stepper = Some(stepper.clone());
    let db = Db::open(dir.path(), o).unwrap();
    assert!(
        !wal_file(dir.path(), "spare.ready").exists(),
        "nothing stepped yet"
    );
    assert!(stepper.run_until_idle() > 0);
    assert!(wal_file(dir.path(), "spare.ready").exists());
    assert!(stepper.trace_tail(100).contains(&"wal-spare"));
    let mut model = Model::new();
    write_batches(&db, &mut model, 0, 3);
    assert_eq!(db.stats().durable_seqno, db.last_seqno());
    assert!(stepper.trace_tail(3).contains(&"wal-writer"));
    db.close().unwrap();
    assert!(!stepper.step(), "close unregistered the log's steps");
    let db = Db::open(dir.path(), options(Durability::Durable, None)).unwrap();
    assert_eq!(contents(&db), model);
}
