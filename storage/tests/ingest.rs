//! `Engine::ingest_batches`: the bulk path must be indistinguishable from
//! applying each batch in turn.
//!
//! - a proptest model against a `BTreeMap`: random batches (puts, deletes,
//!   keys repeated within and across batches) applied or ingested in random
//!   chunkings, interleaved with gets, scans both ways, snapshots, flushes,
//!   compactions and reopens, memory-only and on disk with and without
//!   background threads;
//! - a simulated crash at every I/O step of an ingest followed by a flush
//!   (an ingest puts each chunk in memory as a sorted run, behind the
//!   unflushed writes it freezes; the flushes write them in order): after
//!   recovery the state is the one at a flush boundary, a whole number of
//!   chunks, and the flushed sequence number matches it;
//! - argument checks, and level 0 kept in check over many chunks.

mod common;
use common::*;

use std::ops::Bound;
use std::sync::Arc;

use fasty_storage::io::Io;
use fasty_storage::io::testing::{FaultKind, SimIo, Torn};
use fasty_storage::{Engine, Error, IoBackend, Options, Seqno, WriteBatch};
use proptest::prelude::*;

/// One batch: keys with a value (put) or none (delete), in order.
type Ops = Vec<(Vec<u8>, Option<Vec<u8>>)>;

fn to_batch(ops: &Ops) -> WriteBatch {
    let mut b = WriteBatch::new();
    for (k, v) in ops {
        match v {
            Some(v) => b.put(k, v),
            None => b.delete(k),
        }
    }
    b
}

fn apply_model(model: &mut Model, ops: &Ops) {
    for (k, v) in ops {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
}

// ---------------------------------------------------------------- model ---

#[derive(Clone, Debug)]
enum Op {
    /// Batches applied one by one with `apply`.
    Apply(Vec<Ops>),
    /// Calls of `ingest_batches`, one per group.
    Ingest(Vec<Vec<Ops>>),
    Get(Vec<u8>),
    Scan(Bound<Vec<u8>>, Bound<Vec<u8>>, bool),
    TakeSnapshot,
    CheckSnapshot(usize, Bound<Vec<u8>>, Bound<Vec<u8>>, bool),
    DropSnapshot(usize),
    Flush,
    Compact,
    Reopen,
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => Just(Vec::new()),
        20 => (0u8..24).prop_map(|n| vec![b'k', n]),
        3 => (0u8..24, 0u8..3).prop_map(|(n, m)| vec![b'k', n, m]),
        1 => (0u8..4).prop_map(|n| {
            // Longer than the 16-byte prefix the sort compares first.
            let mut k = vec![b'p'; 18];
            k.push(n);
            k
        }),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => proptest::collection::vec(any::<u8>(), 0..16),
        1 => (0usize..600, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
    ]
}

fn batch() -> impl Strategy<Value = Ops> {
    proptest::collection::vec((key(), proptest::option::weighted(0.75, value())), 0..10)
}

fn bound() -> impl Strategy<Value = Bound<Vec<u8>>> {
    prop_oneof![
        1 => Just(Bound::Unbounded),
        2 => key().prop_map(Bound::Included),
        2 => key().prop_map(Bound::Excluded),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::collection::vec(batch(), 1..4).prop_map(Op::Apply),
        8 => proptest::collection::vec(proptest::collection::vec(batch(), 0..8), 1..4)
            .prop_map(Op::Ingest),
        6 => key().prop_map(Op::Get),
        4 => (bound(), bound(), any::<bool>()).prop_map(|(l, u, r)| Op::Scan(l, u, r)),
        2 => Just(Op::TakeSnapshot),
        3 => (any::<usize>(), bound(), bound(), any::<bool>())
            .prop_map(|(i, l, u, r)| Op::CheckSnapshot(i, l, u, r)),
        1 => any::<usize>().prop_map(Op::DropSnapshot),
        1 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Reopen),
    ]
}

fn model_options(io: Option<IoBackend>, background: bool) -> Options {
    match io {
        None => Options::memory(),
        Some(io) => Options::default()
            .with_io(io)
            // Small enough that one call is often several chunks.
            .with_memtable_budget(512)
            .with_block_size(256)
            .with_block_cache_budget(64 << 10)
            .with_l0_compaction_trigger(3)
            .with_l0_stall_files(6)
            .with_target_file_size(1 << 10)
            .with_level1_budget(8 << 10)
            .with_background(background),
    }
}

/// Checks every key the ops can produce and full scans both ways.
fn check_all(engine: &Engine, model: &Model) {
    assert_eq!(
        collect(engine.scan(..)),
        model_scan(model, &Bound::Unbounded, &Bound::Unbounded, false)
    );
    assert_eq!(
        collect(engine.scan_rev(..)),
        model_scan(model, &Bound::Unbounded, &Bound::Unbounded, true)
    );
    for n in 0..24u8 {
        let k = vec![b'k', n];
        assert_eq!(
            engine.get(&k).expect("get").map(|v| v.to_vec()).as_ref(),
            model.get(&k),
            "get {k:?}"
        );
    }
}

fn run(ops: Vec<Op>, io: Option<IoBackend>, background: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let open = || Engine::open(dir.path(), model_options(io, background)).expect("open");
    let mut engine = Some(open());
    let mut model = Model::new();
    let mut snapshots: Vec<(fasty_storage::Snapshot, Model)> = Vec::new();
    let mut seqno: Seqno = 0;
    for op in ops {
        let e = engine.as_ref().expect("engine is open");
        match op {
            Op::Apply(batches) => {
                for b in batches {
                    seqno += 1;
                    e.apply(&to_batch(&b), seqno).expect("apply");
                    apply_model(&mut model, &b);
                }
            }
            Op::Ingest(groups) => {
                for group in groups {
                    let mut owned = Vec::new();
                    for b in &group {
                        seqno += 1;
                        owned.push((seqno, to_batch(b)));
                        apply_model(&mut model, b);
                    }
                    // Alternate owned and borrowed batches.
                    if seqno.is_multiple_of(2) {
                        e.ingest_batches(owned).expect("ingest");
                    } else {
                        e.ingest_batches(owned.iter().map(|(s, b)| (*s, b)))
                            .expect("ingest");
                    }
                    assert_eq!(e.last_seqno(), seqno, "an ingest is visible on return");
                    // Durable once flushed: without background threads each
                    // chunk is flushed before the call returns.
                    if io.is_some() && !background && !group.is_empty() {
                        assert_eq!(
                            e.flushed_seqno(),
                            seqno,
                            "an inline-flushed ingest is durable"
                        );
                    }
                    assert!(e.flushed_seqno() <= seqno);
                }
            }
            Op::Get(k) => check_get(e, &model, &k),
            Op::Scan(l, u, r) => check_scan(e, &model, &l, &u, r),
            Op::TakeSnapshot => snapshots.push((e.snapshot(), model.clone())),
            Op::CheckSnapshot(i, l, u, r) if !snapshots.is_empty() => {
                let (s, m) = &snapshots[i % snapshots.len()];
                check_scan(s, m, &l, &u, r);
                for (k, v) in m.iter().step_by(3) {
                    assert_eq!(
                        s.get(k).expect("snapshot get").as_deref(),
                        Some(v.as_slice())
                    );
                }
            }
            Op::DropSnapshot(i) if !snapshots.is_empty() => {
                snapshots.remove(i % snapshots.len());
            }
            Op::Flush => e.flush().expect("flush"),
            Op::Compact => e.compact().expect("compact"),
            Op::Reopen if io.is_some() => {
                snapshots.clear();
                engine.take().expect("engine").close().expect("close");
                engine = Some(open());
                assert_eq!(engine.as_ref().expect("engine").last_seqno(), seqno);
            }
            _ => {}
        }
    }
    let e = engine.as_ref().expect("engine");
    check_all(e, &model);
    for (s, m) in &snapshots {
        assert_eq!(
            collect(s.scan(..)),
            model_scan(m, &Bound::Unbounded, &Bound::Unbounded, false)
        );
    }
    assert!(e.stats().poisoned.is_none());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn ingest_matches_apply_on_disk(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops, Some(IoBackend::Std), false);
    }

    #[test]
    fn ingest_matches_apply_with_background_threads(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops, Some(IoBackend::Auto), true);
    }

    #[test]
    fn ingest_matches_apply_in_memory(ops in proptest::collection::vec(op(), 1..40)) {
        run(ops, None, false);
    }
}

// ---------------------------------------------------------------- crash ---

const CRASH_BUDGET: usize = 2 << 10;

fn crash_options(io: Arc<SimIo>) -> Options {
    Options::default()
        .with_custom_io(Some(io))
        .with_memtable_budget(CRASH_BUDGET)
        .with_block_size(256)
        .with_l0_compaction_trigger(100)
        .with_target_file_size(1 << 10)
        .with_background(false)
}

fn contents(engine: &Engine) -> Model {
    collect(engine.scan(..)).into_iter().collect()
}

/// Batch `i` of the crash workload: ten puts and a delete over 60 keys, one
/// key written twice.
fn crash_batch(i: u32) -> Ops {
    let k = |n: u32| format!("key{:03}", n % 60).into_bytes();
    let mut ops: Ops = (0..10)
        .map(|j| {
            (
                k(i * 7 + j * 13),
                Some(format!("v{i}-{j}-{}", "x".repeat((i % 17) as usize)).into_bytes()),
            )
        })
        .collect();
    ops.push((k(i * 7), Some(format!("v{i}-again").into_bytes())));
    ops.push((k(i * 11 + 5), None));
    ops
}

#[test]
fn crash_at_every_step_of_an_ingest_keeps_whole_chunks() {
    for inner in backends() {
        crash_every_step_on(inner);
    }
}

fn crash_every_step_on(inner: Arc<dyn Io>) {
    // The states recovery may produce, with their sequence numbers: the
    // prepared state, after (a prefix of) the unflushed applies (the ingest
    // freezes them behind its first run, so they are flushed first), then
    // after each chunk, chunks cut as the engine documents.
    let mut base = Model::new();
    let mut seqno: Seqno = 0;
    let prepared: Vec<Ops> = (0..20).map(crash_batch).collect();
    for b in &prepared {
        apply_model(&mut base, b);
    }
    seqno += prepared.len() as Seqno;
    let unflushed: Vec<Ops> = (20..25).map(crash_batch).collect();
    let ingested: Vec<Ops> = (25..70).map(crash_batch).collect();
    let mut states = vec![(seqno, base.clone())];
    // The flush of the unflushed writes goes a memtable at a time, so any
    // prefix of them may be what survives.
    let mut m = base.clone();
    for b in &unflushed {
        apply_model(&mut m, b);
        seqno += 1;
        states.push((seqno, m.clone()));
    }
    let first_ingest = seqno + 1;
    let mut bytes = 0;
    for (i, b) in ingested.iter().enumerate() {
        apply_model(&mut m, b);
        seqno += 1;
        bytes += to_batch(b).as_bytes().len();
        if bytes >= CRASH_BUDGET || i + 1 == ingested.len() {
            states.push((seqno, m.clone()));
            bytes = 0;
        }
    }
    assert!(
        states.len() >= unflushed.len() + 4,
        "the workload should make several chunks"
    );

    let mut step = 0u64;
    loop {
        let dir = tempfile::tempdir().expect("tempdir");
        let sim = SimIo::new(inner.clone());
        {
            let engine = Engine::open(dir.path(), crash_options(sim.clone())).expect("open");
            for (i, b) in prepared.iter().enumerate() {
                engine.apply(&to_batch(b), i as Seqno + 1).expect("apply");
            }
            engine.close().expect("close");
        }
        let engine = Engine::open(dir.path(), crash_options(sim.clone())).expect("open");
        for (i, b) in unflushed.iter().enumerate() {
            engine
                .apply(&to_batch(b), (prepared.len() + i) as Seqno + 1)
                .expect("apply");
        }
        sim.inject(sim.ops() + step, FaultKind::Crash);
        let batches = ingested
            .iter()
            .enumerate()
            .map(|(i, b)| (first_ingest + i as Seqno, to_batch(b)));
        // Ingest, then flush whatever the ingest left in memory.
        let result = engine.ingest_batches(batches).and_then(|()| engine.flush());
        let crashed = sim.crashed();
        drop(engine);
        sim.restore_durable_image(Torn::DropUnsynced)
            .expect("restore");
        sim.clear_faults();

        let engine = Engine::open(dir.path(), crash_options(sim.clone()))
            .unwrap_or_else(|e| panic!("reopen after crash at step {step} failed: {e}"));
        let got = contents(&engine);
        let flushed = engine.flushed_seqno();
        let Some((_, want)) = states.iter().find(|(s, _)| *s == flushed) else {
            panic!("crash at step {step}: flushed seqno {flushed} is not a chunk boundary");
        };
        assert!(
            got == *want,
            "crash at step {step}: state does not match flushed seqno {flushed}"
        );
        assert_eq!(engine.last_seqno(), flushed);
        for (k, v) in want.iter().step_by(7) {
            assert_eq!(engine.get(k).expect("get").as_deref(), Some(v.as_slice()));
        }
        drop(engine);
        if !crashed {
            result.expect("ingest and flush without a crash must succeed");
            assert_eq!(flushed, seqno, "a whole ingest must be there");
            assert!(step > 10, "the ingest did little I/O");
            break;
        }
        step += 1;
    }
}

// ----------------------------------------------------------- arguments ---

#[test]
fn sequence_numbers_must_increase() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine =
        Engine::open(dir.path(), model_options(Some(IoBackend::Std), false)).expect("open");
    let b = to_batch(&vec![(b"a".to_vec(), Some(b"1".to_vec()))]);
    engine.apply(&b, 5).expect("apply");
    let err = engine
        .ingest_batches([(5, &b)])
        .expect_err("seqno not above last");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let err = engine
        .ingest_batches([(7, &b), (7, &b)])
        .expect_err("repeated seqno");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    assert_eq!(engine.last_seqno(), 5);
    engine
        .ingest_batches([(6, &b), (9, &b)])
        .expect("gaps are allowed");
    assert_eq!(engine.last_seqno(), 9);
    engine
        .ingest_batches(Vec::<(Seqno, WriteBatch)>::new())
        .expect("nothing to ingest");
    assert!(engine.stats().poisoned.is_none());
}

#[test]
fn empty_batches_advance_the_flushed_seqno() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine =
        Engine::open(dir.path(), model_options(Some(IoBackend::Std), false)).expect("open");
    engine
        .ingest_batches([(1, WriteBatch::new()), (2, WriteBatch::new())])
        .expect("ingest");
    assert_eq!((engine.last_seqno(), engine.flushed_seqno()), (2, 2));
    engine.close().expect("close");
    let engine =
        Engine::open(dir.path(), model_options(Some(IoBackend::Std), false)).expect("open");
    assert_eq!(engine.last_seqno(), 2);
}

// ------------------------------------------------------------- level 0 ---

fn many_chunks(background: bool) -> (Engine, tempfile::TempDir, Model) {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options::default()
        .with_memtable_budget(8 << 10)
        .with_target_file_size(16 << 10)
        .with_l0_compaction_trigger(4)
        .with_l0_stall_files(8)
        .with_level1_budget(64 << 10)
        .with_background(background)
        .with_io(IoBackend::Std);
    let engine = Engine::open(dir.path(), opts).expect("open");
    let mut model = Model::new();
    let batches: Vec<(Seqno, WriteBatch)> = (0..1500u32)
        .map(|i| {
            let ops = crash_batch(i);
            apply_model(&mut model, &ops);
            (Seqno::from(i) + 1, to_batch(&ops))
        })
        .collect();
    engine.ingest_batches(batches).expect("ingest");
    (engine, dir, model)
}

#[test]
fn level_0_stays_bounded_without_background_threads() {
    let (engine, _dir, model) = many_chunks(false);
    let stats = engine.stats();
    assert!(
        stats.ingests > 20,
        "expected many chunks, got {}",
        stats.ingests
    );
    assert!(
        stats.levels[0].files < 4,
        "level 0 has {} files",
        stats.levels[0].files
    );
    assert!(stats.compactions > 0);
    check_all(&engine, &model);
    assert_eq!(contents(&engine), model);
}

#[test]
fn level_0_stays_bounded_with_background_threads() {
    let (engine, _dir, model) = many_chunks(true);
    let stats = engine.stats();
    assert!(
        stats.ingests > 20,
        "expected many chunks, got {}",
        stats.ingests
    );
    // Each chunk waits until level 0 is below the stall count; one chunk
    // adds at most a couple of tables.
    assert!(
        stats.levels[0].files <= 8 + 2,
        "level 0 has {} files",
        stats.levels[0].files
    );
    assert_eq!(contents(&engine), model);
}

// -------------------------------------------------- visible, then durable ---

#[test]
fn ingest_is_visible_at_once_and_durable_once_flushed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options::default()
        .with_memtable_budget(8 << 10)
        // Runs wait in memory: a chunk stalls only behind 64 of them.
        .with_max_frozen_memtables(64)
        .with_background(true)
        .with_io(IoBackend::Std);
    let engine = Engine::open(dir.path(), opts.clone()).expect("open");
    let mut model = Model::new();
    // Unflushed applies of the same keys: the runs must shadow them.
    for i in 0..30u32 {
        let ops = crash_batch(i);
        apply_model(&mut model, &ops);
        engine
            .apply(&to_batch(&ops), Seqno::from(i) + 1)
            .expect("apply");
    }
    let batches: Vec<(Seqno, WriteBatch)> = (30..400u32)
        .map(|i| {
            let ops = crash_batch(i);
            apply_model(&mut model, &ops);
            (Seqno::from(i) + 1, to_batch(&ops))
        })
        .collect();
    engine.ingest_batches(batches).expect("ingest");
    assert_eq!(engine.last_seqno(), 400);
    assert_eq!(contents(&engine), model, "visible on return");
    assert!(engine.flushed_seqno() <= 400);
    engine.flush().expect("flush");
    assert_eq!(engine.flushed_seqno(), 400, "durable once flushed");
    assert_eq!(contents(&engine), model);
    engine.close().expect("close");
    let engine = Engine::open(dir.path(), opts).expect("reopen");
    assert_eq!(engine.last_seqno(), 400);
    assert_eq!(contents(&engine), model);
}
