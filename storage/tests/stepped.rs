//! Seeded interleavings of writes, reads, flushes and compactions, with a
//! crash at a seeded point: one engine on the simulated I/O whose background
//! work runs as steps of a [`Stepper`], so each run is a function of its
//! seed. Reads are checked against a model at every step; after the crash
//! (unsynced bytes torn) the reopened engine must hold exactly what the
//! model held at its flushed sequence number (storage alone keeps no log:
//! what was flushed survives, nothing else).
//!
//! A failure prints its seed; `FASTY_SEED=<n>` replays it and
//! `FASTY_SEEDS=<n>` runs more seeds than the default budget.

mod common;
use common::*;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use fasty_storage::background::{Stepper, check_seeds};
use fasty_storage::io::std_fs::StdIo;
use fasty_storage::io::testing::{FaultKind, SimIo, Torn};
use fasty_storage::{Engine, Options, Snapshot, WriteBatch};

/// Seeds per run of the test: enough for a few thousand interleaved
/// operations, small enough to stay within seconds in a debug build.
const BUDGET: u64 = 32;
/// Operations (foreground or background) per seed before the crash point
/// is certain to have passed.
const OPS: u64 = 300;
/// Distinct keys: few, so that keys are overwritten and deleted often.
const KEYS: u64 = 40;

/// Small memtables and tables and low level-0 triggers, so that flushes,
/// compactions and write stalls happen every few operations. (Options are
/// set field by field, as for a `#[non_exhaustive]` struct.)
#[allow(clippy::field_reassign_with_default)]
fn options(sim: &Arc<SimIo>, stepper: &Stepper) -> Options {
    let mut o = Options::default();
    o.custom_io = Some(sim.clone());
    o.memtable_budget = 1 << 10;
    o.max_frozen_memtables = 2;
    o.block_size = 256;
    o.l0_compaction_trigger = 2;
    o.l0_stall_files = 5;
    o.target_file_size = 2 << 10;
    o.level1_budget = 4 << 10;
    o.stepper = Some(stepper.clone());
    o
}

fn key(stepper: &Stepper) -> Vec<u8> {
    format!("key{:03}", stepper.next_u64() % KEYS).into_bytes()
}

fn value(stepper: &Stepper, seqno: u64) -> Vec<u8> {
    let pad = (stepper.next_u64() % 40) as usize;
    format!("v{seqno}-{}", "x".repeat(pad)).into_bytes()
}

/// The run of one seed; see the module docs.
struct Run {
    stepper: Stepper,
    /// The model after each applied batch, by sequence number (0: empty).
    history: BTreeMap<u64, Model>,
    seqno: u64,
    /// Live snapshots.
    snapshots: Vec<Snapshot>,
}

impl Run {
    fn model(&self) -> &Model {
        &self.history[&self.seqno]
    }

    fn model_at(&self, seqno: u64) -> &Model {
        self.history
            .range(..=seqno)
            .next_back()
            .map(|(_, m)| m)
            .expect("history starts at 0")
    }

    /// One random batch of puts and deletes, applied to engine and model.
    fn write(&mut self, engine: &Engine) -> fasty_storage::Result<()> {
        let seqno = self.seqno + 1;
        let mut model = self.model().clone();
        let mut batch = WriteBatch::new();
        for _ in 0..1 + self.stepper.next_u64() % 4 {
            let k = key(&self.stepper);
            if self.stepper.chance(1, 4) {
                batch.delete(k.clone());
                model.remove(&k);
            } else {
                let v = value(&self.stepper, seqno);
                batch.put(k.clone(), v.clone());
                model.insert(k, v);
            }
        }
        engine.apply(&batch, seqno)?;
        self.seqno = seqno;
        self.history.insert(seqno, model);
        Ok(())
    }

    /// Reads from the engine and from a live snapshot, checked against the
    /// model of their sequence numbers.
    fn check_reads(&self, engine: &Engine, full: bool) {
        let k = key(&self.stepper);
        check_get(engine, self.model(), &k);
        if let Some(snap) = self.pick_snapshot() {
            check_get(snap, self.model_at(snap.seqno()), &k);
        }
        if full {
            let (l, u) = (Bound::Included(k), Bound::Unbounded);
            let rev = self.stepper.chance(1, 2);
            check_scan(engine, self.model(), &l, &u, rev);
            if let Some(snap) = self.pick_snapshot() {
                check_scan(snap, self.model_at(snap.seqno()), &l, &u, rev);
            }
        }
    }

    fn pick_snapshot(&self) -> Option<&Snapshot> {
        let n = self.snapshots.len() as u64;
        (n > 0).then(|| &self.snapshots[(self.stepper.next_u64() % n) as usize])
    }
}

/// Runs random operations until `stop` ops have run or the simulated crash
/// has fired. Failures are allowed only once a crash is armed (`armed`).
fn operate(run: &mut Run, engine: &Engine, sim: &SimIo, ops: u64, armed: &dyn Fn() -> bool) {
    for _ in 0..ops {
        if sim.crashed() {
            return;
        }
        let ok = |r: fasty_storage::Result<()>, what: &str| {
            if let Err(e) = r
                && !armed()
            {
                panic!("{what} failed without a crash: {e}");
            }
        };
        match run.stepper.next_u64() % 100 {
            // Writes outpace the background steps now and then, so that
            // writes stall and drive the stepper themselves.
            0..=59 => {
                let r = run.write(engine);
                ok(r, "write");
            }
            60..=61 => ok(engine.flush(), "flush"),
            62..=66 => {
                if run.snapshots.len() < 3 {
                    run.snapshots.push(engine.snapshot());
                } else {
                    let i = (run.stepper.next_u64() % 3) as usize;
                    run.snapshots.swap_remove(i);
                }
            }
            67 if !run.snapshots.is_empty() => {
                run.snapshots.clear();
            }
            _ => {
                run.stepper.step();
            }
        }
        if sim.crashed() {
            return;
        }
        let full = run.stepper.chance(1, 10);
        run.check_reads(engine, full);
    }
}

fn one_seed(seed: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = SimIo::new(Arc::new(StdIo::new()));
    let stepper = Stepper::new(seed);
    let engine = Engine::open(dir.path(), options(&sim, &stepper)).expect("open");
    let mut run = Run {
        stepper: stepper.clone(),
        history: BTreeMap::from([(0, Model::new())]),
        seqno: 0,
        snapshots: Vec::new(),
    };

    // The crash is armed after a seeded number of operations, for a seeded
    // I/O step a little ahead (often in the middle of a flush or a
    // compaction); if the run ends first, the power is cut then.
    let calm = stepper.next_u64() % OPS;
    operate(&mut run, &engine, &sim, calm, &|| false);
    sim.inject(sim.ops() + stepper.next_u64() % 40, FaultKind::Crash);
    operate(&mut run, &engine, &sim, OPS - calm, &|| true);
    if !sim.crashed() {
        sim.inject(sim.ops(), FaultKind::Crash);
    }
    run.snapshots.clear();
    drop(engine);
    sim.restore_durable_image(Torn::KeepPrefix(seed))
        .expect("restore");
    sim.clear_faults();

    let stepper = Stepper::new(seed.wrapping_add(1 << 32));
    let engine = Engine::open(dir.path(), options(&sim, &stepper))
        .unwrap_or_else(|e| panic!("reopen after the crash failed: {e}"));
    let flushed = engine.flushed_seqno();
    assert!(
        flushed <= run.seqno,
        "flushed {flushed} past the last write"
    );
    assert!(
        run.history.contains_key(&flushed),
        "flushed {flushed} is not the sequence number of a batch"
    );
    let got = collect(engine.scan(..));
    let want: Vec<(Vec<u8>, Vec<u8>)> = run.history[&flushed]
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert!(
        got == want,
        "after the crash: {} pairs, the model at flushed seqno {flushed} has {}; last steps {:?}",
        got.len(),
        want.len(),
        run.stepper.trace_tail(12)
    );

    // The reopened engine goes on working, and a clean close keeps all.
    run.history.retain(|&s, _| s <= flushed);
    run.seqno = flushed;
    run.stepper = stepper.clone();
    operate(&mut run, &engine, &sim, OPS / 3, &|| false);
    run.snapshots.clear();
    engine.close().expect("close");
    let engine = Engine::open(dir.path(), options(&sim, &Stepper::new(seed))).expect("reopen");
    assert_eq!(engine.flushed_seqno(), run.seqno);
    let want: Vec<(Vec<u8>, Vec<u8>)> = run
        .model()
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert!(collect(engine.scan(..)) == want, "after a clean close");
}

#[test]
fn seeded_interleavings_with_a_crash_keep_what_was_flushed() {
    check_seeds("stepped", BUDGET, one_seed);
}

/// A write that stalls under a stepper runs the background steps itself:
/// with nothing stepping them from outside, many memtables' worth of writes
/// still go through, flushed and compacted on the writer's thread.
#[test]
fn a_stalled_write_drives_the_stepper() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = SimIo::new(Arc::new(StdIo::new()));
    let stepper = Stepper::new(5);
    let engine = Engine::open(dir.path(), options(&sim, &stepper)).expect("open");
    let mut model = Model::new();
    for seqno in 1..=400u64 {
        let k = format!("key{:03}", seqno % 97).into_bytes();
        let v = format!("value-{seqno}-{}", "y".repeat(30)).into_bytes();
        let mut b = WriteBatch::new();
        b.put(k.clone(), v.clone());
        model.insert(k, v);
        engine.apply(&b, seqno).expect("apply");
    }
    let stats = engine.stats();
    assert!(stats.write_stalls > 0, "no write stalled: {stats:?}");
    assert!(stats.flushes > 0 && stats.compactions > 0, "{stats:?}");
    assert!(stats.frozen_memtables <= 2, "{stats:?}");
    let want: Vec<(Vec<u8>, Vec<u8>)> = model.into_iter().collect();
    assert!(collect(engine.scan(..)) == want);
}

/// A stall that no background step can end (level 0 may hold one table,
/// but compaction starts at four) fails the write with a clear error
/// instead of waiting forever, and applies nothing of it.
#[test]
fn a_stall_no_step_can_end_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = SimIo::new(Arc::new(StdIo::new()));
    let stepper = Stepper::new(9);
    let mut opts = options(&sim, &stepper);
    opts.l0_stall_files = 1;
    opts.l0_compaction_trigger = 4;
    let engine = Engine::open(dir.path(), opts).expect("open");
    let mut err = None;
    for seqno in 1..=200u64 {
        let mut b = WriteBatch::new();
        b.put(format!("key{seqno:03}").into_bytes(), vec![b'v'; 100]);
        if let Err(e) = engine.apply(&b, seqno) {
            assert_eq!(engine.last_seqno(), seqno - 1, "the failed write applied");
            err = Some(e);
            break;
        }
    }
    let err = err.expect("the writes never stalled");
    assert!(
        matches!(&err, fasty_storage::Error::InvalidArgument(m) if m.contains("no step can do")),
        "{err}"
    );
    assert!(engine.get(b"key001").expect("get").is_some());
}
