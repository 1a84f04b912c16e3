//! Failed log writes and fsyncs: the database is poisoned (writes refused
//! with `Poisoned`, reads keep working), a durable write whose fsync failed
//! is never acknowledged, and recovery afterwards keeps every acknowledged
//! batch.

mod common;

use common::*;
use fasty_storage::io::testing::{FaultKind, Torn};
use fasty_wal::{Db, Durability, Error, WriteBatch};

fn one(k: &str, v: &str) -> WriteBatch {
    let mut b = WriteBatch::new();
    b.put(k.as_bytes(), v.as_bytes());
    b
}

fn assert_poisoned(e: &Error) {
    assert!(e.is_poisoned(), "expected poisoned, got {e}");
    assert_eq!(e.code(), "poisoned");
}

#[test]
fn failed_fsync_poisons_and_its_durable_write_is_never_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim();
    let db = Db::open(dir.path(), options(Durability::Durable, Some(sim.clone()))).unwrap();
    for i in 0..5 {
        db.write(one(&format!("k{i}"), "v")).unwrap();
    }
    // The next write is one append (this step) and one fsync (the next).
    sim.inject(sim.ops() + 1, FaultKind::FailSync);
    let err = db.write(one("doomed", "v")).unwrap_err();
    assert_poisoned(&err);
    assert!(err.to_string().contains("simulated sync failure"), "{err}");
    // Not acknowledged, and not visible either.
    assert_eq!(db.get(b"doomed").unwrap(), None);
    // Later writes, syncs and checkpoints are refused; reads work.
    assert_poisoned(&db.write(one("later", "v")).unwrap_err());
    assert_poisoned(&db.sync().unwrap_err());
    assert_poisoned(&db.checkpoint().unwrap_err());
    assert_eq!(db.get(b"k4").unwrap().as_deref(), Some(&b"v"[..]));
    assert_eq!(contents(&db).len(), 5);
    assert!(db.stats().poisoned.is_some());
    assert_poisoned(&db.close().unwrap_err());
    sim.restore_durable_image(Torn::DropUnsynced).unwrap();
    let db = Db::open(dir.path(), options(Durability::Durable, Some(sim))).unwrap();
    let got = contents(&db);
    assert_eq!(got.len(), 5, "{got:?}");
    assert_eq!(db.get(b"doomed").unwrap(), None);
}

#[test]
fn failed_fsync_poisons_async_mode_and_sync_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim();
    let db = Db::open(dir.path(), options(async_manual(), Some(sim.clone()))).unwrap();
    db.write(one("a", "1")).unwrap();
    db.sync().unwrap();
    db.write(one("b", "2")).unwrap();
    // The writer's next round: one append, then the fsync.
    sim.inject(sim.ops() + 1, FaultKind::FailSync);
    assert_poisoned(&db.sync().unwrap_err());
    assert_poisoned(&db.write(one("c", "3")).unwrap_err());
    // Async writes were acknowledged and applied before the failure; reads
    // still see them.
    assert_eq!(db.get(b"b").unwrap().as_deref(), Some(&b"2"[..]));
    assert_eq!(db.get(b"c").unwrap(), None);
    drop(db);
}

#[test]
fn short_write_poisons_and_the_torn_record_is_cut_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim();
    let db = Db::open(dir.path(), options(Durability::Durable, Some(sim.clone()))).unwrap();
    db.write(one("a", "1")).unwrap();
    sim.inject(sim.ops(), FaultKind::ShortWrite);
    assert_poisoned(&db.write(one("b", "2")).unwrap_err());
    assert_poisoned(&db.write(one("c", "3")).unwrap_err());
    // Power cut with the half record on disk.
    sim.inject(sim.ops(), FaultKind::Crash);
    drop(db);
    sim.restore_durable_image(Torn::KeepPrefix(1)).unwrap();
    sim.clear_faults();
    let db = Db::open(dir.path(), options(Durability::Durable, Some(sim))).unwrap();
    assert_eq!(db.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(db.get(b"b").unwrap(), None);
}

/// Every fault kind at every I/O step of a workload with rotations and a
/// checkpoint: nothing is acknowledged after the first failure, every
/// acknowledged batch stays readable, and recovery gives a prefix holding
/// all of them.
#[test]
fn every_fault_at_every_step() {
    let workload = |db: &Db, attempted: &mut Vec<Changes>, acked: &mut usize| {
        for n in 0..40u64 {
            if n == 25 && db.checkpoint().is_err() {
                return;
            }
            let (b, changes) = make_batch(n, 3);
            attempted.push(changes);
            match db.write(b) {
                Ok(_) => *acked = attempted.len(),
                Err(e) => {
                    // Nothing after the first failure is acknowledged.
                    for m in 0..3 {
                        let (b, _) = make_batch(1000 + m, 1);
                        assert!(db.write(b).is_err(), "write acknowledged after {e}");
                    }
                    return;
                }
            }
        }
    };
    // Count the steps of a clean run.
    let steps = {
        let dir = tempfile::tempdir().unwrap();
        let sim = sim();
        let db = Db::open(dir.path(), options(Durability::Durable, Some(sim.clone()))).unwrap();
        let start = sim.ops();
        let (mut a, mut k) = (Vec::new(), 0);
        workload(&db, &mut a, &mut k);
        assert_eq!(k, 40);
        sim.ops() - start
    };
    assert!(steps > 80, "{steps}");
    for kind in [
        FaultKind::FailSync,
        FaultKind::FailWrite,
        FaultKind::ShortWrite,
    ] {
        for step in 0..steps {
            let dir = tempfile::tempdir().unwrap();
            let sim = sim();
            let opts = || options(Durability::Durable, Some(sim.clone()));
            let db = Db::open(dir.path(), opts()).unwrap();
            sim.inject(sim.ops() + step, kind);
            let (mut attempted, mut acked) = (Vec::new(), 0usize);
            workload(&db, &mut attempted, &mut acked);
            // Every acknowledged batch is readable in this process.
            let mut model = Model::new();
            for changes in &attempted[..acked] {
                apply_to(&mut model, changes);
            }
            if acked == attempted.len() {
                assert_eq!(contents(&db), model, "{kind:?} at {step}");
            }
            crash(db, &sim, Torn::DropUnsynced);
            let db = Db::open(dir.path(), opts())
                .unwrap_or_else(|e| panic!("{kind:?} at step {step}: recovery failed: {e}"));
            let got = contents(&db);
            let ok = (acked..=attempted.len()).any(|j| {
                let mut m = model.clone();
                for changes in &attempted[acked..j] {
                    apply_to(&mut m, changes);
                }
                m == got
            });
            assert!(
                ok,
                "{kind:?} at step {step}: recovered state is no prefix holding the {acked} acknowledged batches"
            );
        }
    }
}

/// Many durable writers, so the log writer pipelines (a group is applied
/// while the next one's fsync runs), with a failed fsync or write at
/// several steps: every acknowledged write is visible and survives the
/// crash, nothing whose fsync failed is visible, and nothing is
/// acknowledged once the database is poisoned.
#[test]
fn a_fault_while_groups_are_pipelined_loses_nothing_acknowledged() {
    for kind in [FaultKind::FailSync, FaultKind::FailWrite] {
        for step in [3u64, 10, 25] {
            let dir = tempfile::tempdir().unwrap();
            let sim = sim();
            // No spares, so that every step is the log's own (a failure
            // preparing a spare poisons nothing; `every_fault_at_every_step`
            // covers those steps).
            let opts =
                || options(Durability::Durable, Some(sim.clone())).with_preallocate_segments(false);
            let db = std::sync::Arc::new(Db::open(dir.path(), opts()).unwrap());
            sim.inject(sim.ops() + step, kind);
            let writers: Vec<_> = (0..8u64)
                .map(|t| {
                    let db = db.clone();
                    std::thread::spawn(move || {
                        let mut acked = Vec::new();
                        let mut failed = Vec::new();
                        for n in 0..200u64 {
                            let key = format!("t{t}-{n:04}");
                            match db.write(one(&key, "v")) {
                                Ok(_) => {
                                    assert!(
                                        failed.is_empty(),
                                        "{key} acknowledged after a failure"
                                    );
                                    acked.push(key);
                                }
                                Err(e) => {
                                    assert_poisoned(&e);
                                    failed.push(key);
                                }
                            }
                        }
                        (acked, failed)
                    })
                })
                .collect();
            let results: Vec<(Vec<String>, Vec<String>)> =
                writers.into_iter().map(|w| w.join().unwrap()).collect();
            assert!(
                db.stats().poisoned.is_some(),
                "{kind:?} at {step}: not poisoned"
            );
            for (acked, failed) in &results {
                for key in acked {
                    assert!(
                        db.get(key.as_bytes()).unwrap().is_some(),
                        "{kind:?} at {step}: {key} acknowledged but not visible"
                    );
                }
                for key in failed {
                    assert_eq!(
                        db.get(key.as_bytes()).unwrap(),
                        None,
                        "{kind:?} at {step}: {key} failed but visible"
                    );
                }
            }
            let db = std::sync::Arc::into_inner(db).unwrap();
            crash(db, &sim, Torn::DropUnsynced);
            sim.clear_faults();
            let db = Db::open(dir.path(), opts()).unwrap();
            for (acked, _) in &results {
                for key in acked {
                    assert!(
                        db.get(key.as_bytes()).unwrap().is_some(),
                        "{kind:?} at {step}: {key} acknowledged but lost"
                    );
                }
            }
        }
    }
}
