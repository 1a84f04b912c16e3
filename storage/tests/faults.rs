//! Fault injection at the I/O boundary: a failed write, a short write or a
//! failed fsync during a flush or compaction poisons the engine — later
//! writes get `Poisoned`, reads keep working and see every write — and the
//! files on disk stay consistent: reopening gives the state before or after.

use std::collections::BTreeMap;
use std::sync::Arc;

use fasty_storage::io::std_fs::StdIo;
use fasty_storage::io::testing::{FaultKind, SimIo};
use fasty_storage::{Engine, Error, Options, WriteBatch};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn options(io: Arc<SimIo>) -> Options {
    Options::default()
        .with_custom_io(Some(io))
        .with_block_size(512)
        .with_l0_compaction_trigger(100)
        .with_background(false)
}

fn fill(engine: &Engine, model: &mut Model, seqno: &mut u64, tag: &str) {
    for i in 0..200u32 {
        let mut b = WriteBatch::new();
        let k = format!("k{:05}", i * 37 % 1000).into_bytes();
        let v = format!("{tag}-{i}").into_bytes();
        b.put(k.clone(), v.clone());
        model.insert(k, v);
        *seqno += 1;
        engine.apply(&b, *seqno).expect("apply");
    }
}

fn contents(engine: &Engine) -> Model {
    engine
        .scan(..)
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("scan"))
        .collect()
}

fn fault_every_step(kind: FaultKind, compact: bool) {
    let mut step = 0;
    loop {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = SimIo::new(Arc::new(StdIo::new()));
        let engine = Engine::open(dir.path(), options(sim.clone())).expect("open");
        let (mut model, mut seqno) = (Model::new(), 0);
        fill(&engine, &mut model, &mut seqno, "a");
        engine.flush().expect("flush");
        let before = model.clone();
        fill(&engine, &mut model, &mut seqno, "b");
        if compact {
            engine.flush().expect("flush");
        }
        sim.inject(sim.ops() + step, kind);
        let result = if compact {
            engine.compact()
        } else {
            engine.flush()
        };
        sim.clear_faults();
        let Err(err) = result else {
            // The fault lay beyond the last step: the work is done.
            assert!(step > 3, "no I/O happened");
            assert_eq!(contents(&engine), model);
            break;
        };
        assert!(
            !matches!(err, Error::Poisoned { .. }),
            "the first error names the fault: {err}"
        );
        // Poisoned: writes refused, reads see everything.
        let mut b = WriteBatch::new();
        b.put(&b"new"[..], &b"x"[..]);
        match engine.apply(&b, seqno + 1) {
            Err(Error::Poisoned { .. }) => {}
            other => panic!("write after a {kind:?} at step {step} was not refused: {other:?}"),
        }
        assert!(matches!(engine.flush(), Err(Error::Poisoned { .. })));
        assert_eq!(
            contents(&engine),
            model,
            "reads after a fault at step {step}"
        );
        assert!(engine.stats().poisoned.is_some());
        drop(engine);
        // What is on disk is the state before the work or after it.
        let engine = Engine::open(dir.path(), options(sim.clone())).expect("reopen after fault");
        let got = contents(&engine);
        let after_flush = if compact { &model } else { &before };
        assert!(
            got == before || got == model || got == *after_flush,
            "{kind:?} at step {step}: reopened state is neither before nor after"
        );
        step += 1;
    }
}

#[test]
fn failed_write_during_flush_poisons() {
    fault_every_step(FaultKind::FailWrite, false);
}

#[test]
fn short_write_during_flush_poisons() {
    fault_every_step(FaultKind::ShortWrite, false);
}

#[test]
fn failed_fsync_during_flush_poisons() {
    fault_every_step(FaultKind::FailSync, false);
}

#[test]
fn failed_write_during_compaction_poisons() {
    fault_every_step(FaultKind::FailWrite, true);
}

#[test]
fn failed_fsync_during_compaction_poisons() {
    fault_every_step(FaultKind::FailSync, true);
}

/// Names of the table files in `dir`.
fn tables(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sst"))
        .collect();
    names.sort();
    names
}

/// A full disk (`ENOSPC`) at any step of a flush or a compaction does not
/// poison: the work fails, nothing changes (no half-written table is left
/// behind), writes go on, and the same work succeeds once there is space.
#[test]
fn out_of_space_at_every_step_of_a_flush_or_compaction_is_retried_not_poisoned() {
    for compact in [false, true] {
        let mut step = 0;
        loop {
            let dir = tempfile::tempdir().expect("tempdir");
            let sim = SimIo::new(Arc::new(StdIo::new()));
            let engine = Engine::open(dir.path(), options(sim.clone())).expect("open");
            let (mut model, mut seqno) = (Model::new(), 0);
            fill(&engine, &mut model, &mut seqno, "a");
            engine.flush().expect("flush");
            fill(&engine, &mut model, &mut seqno, "b");
            if compact {
                engine.flush().expect("flush");
            }
            let before = tables(dir.path());
            sim.inject(sim.ops() + step, FaultKind::NoSpace);
            let result = if compact {
                engine.compact()
            } else {
                engine.flush()
            };
            sim.clear_faults();
            let Err(err) = result else {
                assert!(step > 3, "no I/O happened");
                break;
            };
            assert!(err.is_out_of_space(), "step {step}: {err}");
            assert!(engine.stats().poisoned.is_none(), "step {step}: poisoned");
            assert_eq!(tables(dir.path()), before, "step {step}: files left behind");
            // Writes go on, and the work succeeds now.
            fill(&engine, &mut model, &mut seqno, "c");
            if compact {
                engine.compact().expect("compact after the disk has room");
            } else {
                engine.flush().expect("flush after the disk has room");
            }
            assert_eq!(contents(&engine), model, "step {step}");
            drop(engine);
            let engine = Engine::open(dir.path(), options(sim.clone())).expect("reopen");
            assert_eq!(contents(&engine), model, "step {step} after reopen");
            step += 1;
        }
    }
}
