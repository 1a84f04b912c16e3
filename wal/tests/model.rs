//! Model test with simulated crashes: random batches, syncs, checkpoints
//! and clean reopens against a `BTreeMap`, a power cut at a random I/O step
//! of each cycle (the directory rewritten to its durable image, unsynced
//! tails dropped or torn), then recovery, over several cycles on the same
//! directory.
//!
//! After each crash the database must equal the model after some prefix of
//! the batches attempted in that cycle (so every batch is all-or-nothing and
//! the order is kept), and that prefix must hold every batch acknowledged in
//! durable mode, or every batch acknowledged before the last successful
//! `sync`/`checkpoint`/close in async mode.

mod common;

use common::*;
use fasty_storage::io::testing::{FaultKind, Torn};
use fasty_wal::{Db, Durability};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// A batch of this many puts plus one delete.
    Write(usize),
    Sync,
    Checkpoint,
    /// Close cleanly and open again.
    Reopen,
}

#[derive(Clone, Debug)]
struct Cycle {
    ops: Vec<Op>,
    /// I/O steps into the cycle at which the power goes; past the end of
    /// the cycle's work it goes at the end.
    crash_after: u64,
    /// `None`: unsynced bytes are dropped; `Some(seed)`: a torn prefix of
    /// them survives.
    torn: Option<u64>,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (1usize..6).prop_map(Op::Write),
        1 => Just(Op::Write(60)),
        2 => Just(Op::Sync),
        1 => Just(Op::Checkpoint),
        1 => Just(Op::Reopen),
    ]
}

fn cycle() -> impl Strategy<Value = Cycle> {
    (
        proptest::collection::vec(op(), 1..40),
        0u64..160,
        proptest::option::of(any::<u64>()),
    )
        .prop_map(|(ops, crash_after, torn)| Cycle {
            ops,
            crash_after,
            torn,
        })
}

/// `preallocate`: durable mode's segments written ahead as zeros (and
/// overwritten, so a crash tears an overwrite) or appended to.
fn run(durability: Durability, preallocate: bool, cycles: Vec<Cycle>) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim();
    let opts = || options(durability, Some(sim.clone())).with_preallocate_segments(preallocate);
    let mut model = Model::new();
    let mut n = 0u64;
    for (c, cycle) in cycles.into_iter().enumerate() {
        let mut db = Some(Db::open(dir.path(), opts()).expect("recovery must succeed"));
        if let Some(db) = &db {
            prop_assert_eq!(&contents(db), &model, "cycle {} start", c);
        }
        sim.inject(sim.ops() + cycle.crash_after, FaultKind::Crash);
        let mut history: Vec<Changes> = Vec::new();
        let mut acked = 0usize;
        let mut floor = 0usize;
        for op in &cycle.ops {
            let Some(d) = db.as_ref() else { break };
            let ok = match op {
                Op::Write(k) => {
                    let (batch, changes) = make_batch(n, *k);
                    n += 1;
                    history.push(changes);
                    let ok = d.write(batch).is_ok();
                    if ok {
                        acked = history.len();
                    }
                    ok
                }
                Op::Sync => d.sync().is_ok(),
                Op::Checkpoint => d.checkpoint().is_ok(),
                Op::Reopen => {
                    let closed = db.take().map(|d| d.close().is_ok()).unwrap_or(false);
                    if closed {
                        floor = acked;
                        db = Db::open(dir.path(), opts()).ok();
                    }
                    closed && db.is_some()
                }
            };
            match op {
                Op::Sync | Op::Checkpoint if ok => floor = acked,
                _ => {}
            }
            if !ok {
                break;
            }
        }
        let torn = cycle.torn.map_or(Torn::DropUnsynced, Torn::KeepPrefix);
        match db {
            Some(db) => crash(db, &sim, torn),
            None => {
                sim.restore_durable_image(torn).unwrap();
                sim.clear_faults();
            }
        }
        let db = Db::open(dir.path(), opts()).expect("recovery must succeed");
        let got = contents(&db);
        let lo = match durability {
            Durability::Durable => acked,
            _ => floor,
        };
        let mut state = model.clone();
        for changes in &history[..lo] {
            apply_to(&mut state, changes);
        }
        let mut found = None;
        for j in lo..=history.len() {
            if state == got {
                found = Some(j);
                break;
            }
            if j < history.len() {
                apply_to(&mut state, &history[j]);
            }
        }
        prop_assert!(
            found.is_some(),
            "cycle {}: recovered state is no prefix of batches {}..={} (acked {}, floor {}, {} keys)",
            c,
            lo,
            history.len(),
            acked,
            floor,
            got.len()
        );
        if std::env::var("WAL_MODEL_DEBUG").is_ok() {
            eprintln!(
                "{durability:?} cycle {c}: ops={} attempted={} acked={acked} floor={floor} kept={:?} replayed={} spares={}",
                sim.ops(),
                history.len(),
                found,
                db.stats().replay.records,
                db.stats().log_spares_used
            );
        }
        model = got;
        db.close().expect("clean close after recovery");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, max_shrink_iters: 200, ..ProptestConfig::default() })]

    #[test]
    fn durable_mode_keeps_every_acknowledged_batch(
        preallocate in any::<bool>(),
        cycles in proptest::collection::vec(cycle(), 1..5),
    ) {
        run(Durability::Durable, preallocate, cycles)?;
    }

    #[test]
    fn async_mode_keeps_a_prefix_of_acknowledged_batches(cycles in proptest::collection::vec(cycle(), 1..5)) {
        run(async_manual(), false, cycles)?;
    }
}

/// Async mode with a short interval: the writer's own timed syncs run
/// concurrently with the crash.
#[test]
fn async_with_interval_syncs_recovers_a_prefix() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        cases: 4,
        ..ProptestConfig::default()
    });
    runner
        .run(&proptest::collection::vec(cycle(), 1..3), |cycles| {
            run(
                Durability::Async {
                    sync_interval: std::time::Duration::from_millis(2),
                },
                false,
                cycles,
            )
        })
        .unwrap();
}
