//! Crash consistency: a simulated crash at every I/O step of a flush and of
//! a compaction. After the crash the directory is rewritten to what was
//! durable (fsynced files, fsynced directory entries) and the engine is
//! reopened: everything flushed before the crash point must be there, the
//! interrupted work must be all-or-nothing, and nothing may be corrupt.

mod common;
use common::*;

use std::sync::Arc;

use fasty_storage::io::Io;
use fasty_storage::io::std_fs::StdIo;
use fasty_storage::io::testing::{FaultKind, SimIo, Torn};
use fasty_storage::{Engine, Options, WriteBatch};

fn options(io: Arc<SimIo>) -> Options {
    Options::default()
        .with_custom_io(Some(io))
        .with_memtable_budget(1 << 20)
        .with_block_size(512)
        .with_l0_compaction_trigger(100)
        .with_target_file_size(8 << 10)
        .with_background(false)
}

/// Writes `n` keys starting at `from` in batches of 10, overwriting and
/// deleting some earlier keys on the way.
fn write(engine: &Engine, model: &mut Model, seqno: &mut u64, from: u32, n: u32) {
    for chunk in (from..from + n).collect::<Vec<_>>().chunks(10) {
        let mut b = WriteBatch::new();
        for &i in chunk {
            let k = format!("key{:06}", i * 7919 % 10007).into_bytes();
            let v = format!("value-{i}-{}", "x".repeat((i % 50) as usize)).into_bytes();
            b.put(k.clone(), v.clone());
            model.insert(k, v);
            if i % 9 == 0 {
                let dk = format!("key{:06}", (i / 2) * 7919 % 10007).into_bytes();
                b.delete(dk.clone());
                model.remove(&dk);
            }
        }
        *seqno += 1;
        engine.apply(&b, *seqno).expect("apply");
    }
}

fn contents(engine: &Engine) -> Model {
    engine
        .scan(..)
        .map(|r| {
            let (k, v) = r.expect("scan after recovery must not fail");
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

fn check_gets(engine: &Engine, model: &Model) {
    for (k, v) in model.iter().step_by(13) {
        assert_eq!(engine.get(k).expect("get").as_deref(), Some(v.as_slice()));
    }
}

/// Builds the state before the step under test: `tables` flushed tables.
fn prepare(dir: &std::path::Path, sim: &Arc<SimIo>, tables: u32) -> (Model, u64) {
    let engine = Engine::open(dir, options(sim.clone())).expect("open");
    let (mut model, mut seqno) = (Model::new(), 0);
    for t in 0..tables {
        write(&engine, &mut model, &mut seqno, t * 300, 300);
        engine.flush().expect("flush");
    }
    engine.close().expect("close");
    (model, seqno)
}

/// Crashes `work` at every I/O step in turn, on every backend; `before` and
/// `after` are the only states recovery may produce.
fn crash_every_step(
    tables: u32,
    work: impl Fn(&Engine, &mut Model, &mut u64) -> fasty_storage::Result<()>,
) {
    for inner in backends() {
        crash_every_step_on(inner, tables, &work);
    }
}

fn crash_every_step_on(
    inner: Arc<dyn Io>,
    tables: u32,
    work: &impl Fn(&Engine, &mut Model, &mut u64) -> fasty_storage::Result<()>,
) {
    let mut step = 0u64;
    loop {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = SimIo::new(inner.clone());
        let (before, mut seqno) = prepare(dir.path(), &sim, tables);
        let engine = Engine::open(dir.path(), options(sim.clone())).expect("open");
        let mut after = before.clone();
        sim.inject(sim.ops() + step, FaultKind::Crash);
        let result = work(&engine, &mut after, &mut seqno);
        let crashed = sim.crashed();
        drop(engine);
        sim.restore_durable_image(Torn::DropUnsynced)
            .expect("restore");
        sim.clear_faults();

        let engine = Engine::open(dir.path(), options(sim.clone()))
            .unwrap_or_else(|e| panic!("reopen after crash at step {step} failed: {e}"));
        let got = contents(&engine);
        assert!(
            got == before || got == after,
            "crash at step {step}: recovered state is neither the state before nor after (len {} vs {} / {})",
            got.len(),
            before.len(),
            after.len()
        );
        check_gets(&engine, &got);
        drop(engine);
        if !crashed {
            result.expect("work without a crash must succeed");
            assert!(step > 3, "the work did no I/O");
            break;
        }
        if result.is_ok() {
            // The crash hit clean-up after the work was committed (the
            // removal of obsolete files), so the work must be all there.
            assert!(
                got == after,
                "crash at step {step} after commit lost the work"
            );
        }
        step += 1;
    }
}

#[test]
fn crash_at_every_step_of_a_flush() {
    crash_every_step(2, |engine, model, seqno| {
        write(engine, model, seqno, 10_000, 400);
        engine.flush()
    });
}

#[test]
fn crash_at_every_step_of_a_compaction() {
    crash_every_step(4, |engine, _model, _seqno| engine.compact());
}

#[test]
fn crash_with_torn_unsynced_tails_recovers() {
    // Unsynced bytes that happen to reach the disk must not confuse
    // recovery either: an interrupted SST or manifest is simply not live.
    for step in 0..40 {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = SimIo::new(Arc::new(StdIo::new()));
        let (before, mut seqno) = prepare(dir.path(), &sim, 1);
        let engine = Engine::open(dir.path(), options(sim.clone())).expect("open");
        let mut after = before.clone();
        sim.inject(sim.ops() + step, FaultKind::Crash);
        write(&engine, &mut after, &mut seqno, 5_000, 300);
        let _ = engine.compact();
        drop(engine);
        sim.restore_durable_image(Torn::KeepPrefix(step))
            .expect("restore");
        sim.clear_faults();
        let engine = Engine::open(dir.path(), options(sim.clone())).expect("reopen");
        let got = contents(&engine);
        assert!(got == before || got == after, "torn crash at step {step}");
    }
}
