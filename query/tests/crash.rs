//! kill -9 at the query layer: a child process (this test binary run
//! again, as the `crash_child` test with `FASTY_CRASH_DIR` set) opens a
//! durable database and runs random inserts, multi-row inserts, upserts,
//! updates and deletes on a table with two secondary indexes, printing
//! each statement before it runs and its outcome once it returns. The
//! parent kills it with SIGKILL at a random moment, reopens the database
//! and checks that the table is exactly what replaying the acknowledged
//! statements on a model gives — plus, at most, the one statement that
//! was in flight, whole — and that `Database::verify` finds every index
//! agreeing with the table. Then the next cycle's child continues on the
//! same directory.
//!
//! `FASTY_CRASH_CYCLES` sets the number of cycles (default 6, about 5 s;
//! `cargo xtask crash --cycles N` runs more), `FASTY_CRASH_SEED` the seed
//! (printed at the start, for reproducing a failure).

#[path = "support/child.rs"]
mod child;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use fasty_query::{Database, ErrorCode, Options, Output, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The table every cycle writes to.
const SCHEMA: [&str; 3] = [
    "create table t {id: int, a: int, s: string}",
    "create index t_a on t (a)",
    "create index t_s on t (s)",
];

/// Primary keys are drawn from this range, so statements keep hitting
/// existing rows.
const IDS: i64 = 60;

/// Strings of the `s` column: few, so the index on it has duplicates.
const WORDS: [&str; 5] = ["x", "y", "z", "long word with spaces", ""];

/// The table as the acknowledged statements leave it: id → (a, s).
type Model = BTreeMap<i64, (i64, String)>;

/// One statement of the workload, printed by the child and replayed by
/// the parent.
#[derive(Debug, Clone, PartialEq)]
enum Op {
    /// `insert` of rows with distinct ids: all or nothing.
    Insert(Vec<(i64, i64, usize)>),
    /// `upsert` of rows with distinct ids.
    Upsert(Vec<(i64, i64, usize)>),
    /// `update t set a = a + delta, s = word where id between lo and hi`.
    UpdateRange {
        lo: i64,
        hi: i64,
        delta: i64,
        word: usize,
    },
    /// `update t set a = to where a = from` (through the index on `a`).
    UpdateByIndex { from: i64, to: i64 },
    /// `delete from t where id between lo and hi`.
    DeleteRange { lo: i64, hi: i64 },
    /// `delete from t where s = word` (through the index on `s`).
    DeleteByIndex { word: usize },
}

impl Op {
    fn random(rng: &mut StdRng) -> Op {
        let rows = |rng: &mut StdRng| {
            let n = rng.random_range(1..=4);
            let mut ids: Vec<i64> = (0..n).map(|_| rng.random_range(0..IDS)).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.into_iter()
                .map(|id| {
                    (
                        id,
                        rng.random_range(0..20),
                        rng.random_range(0..WORDS.len()),
                    )
                })
                .collect()
        };
        let lo = rng.random_range(0..IDS);
        let hi = lo + rng.random_range(0..6);
        match rng.random_range(0..10) {
            0..=2 => Op::Insert(rows(rng)),
            3..=4 => Op::Upsert(rows(rng)),
            5 => Op::UpdateRange {
                lo,
                hi,
                delta: rng.random_range(-3..=3),
                word: rng.random_range(0..WORDS.len()),
            },
            6 => Op::UpdateByIndex {
                from: rng.random_range(0..20),
                to: rng.random_range(0..20),
            },
            7..=8 => Op::DeleteRange { lo, hi },
            _ => Op::DeleteByIndex {
                word: rng.random_range(0..WORDS.len()),
            },
        }
    }

    fn sql(&self) -> String {
        let rows = |rows: &[(i64, i64, usize)]| {
            let objs: Vec<String> = rows
                .iter()
                .map(|(id, a, w)| format!("{{id: {id}, a: {a}, s: {:?}}}", WORDS[*w]))
                .collect();
            format!("[{}]", objs.join(", "))
        };
        match self {
            Op::Insert(r) => format!("insert t {}", rows(r)),
            Op::Upsert(r) => format!("upsert t {}", rows(r)),
            Op::UpdateRange {
                lo,
                hi,
                delta,
                word,
            } => format!(
                "update t set a = a + {delta}, s = {:?} where id between {lo} and {hi}",
                WORDS[*word]
            ),
            Op::UpdateByIndex { from, to } => format!("update t set a = {to} where a = {from}"),
            Op::DeleteRange { lo, hi } => format!("delete from t where id between {lo} and {hi}"),
            Op::DeleteByIndex { word } => format!("delete from t where s = {:?}", WORDS[*word]),
        }
    }

    /// The statement's effect on `model`: rows affected, or `None` for a
    /// statement that must fail and change nothing (an insert of an
    /// existing key).
    fn apply(&self, model: &mut Model) -> Option<u64> {
        let word = |w: &usize| WORDS[*w].to_string();
        match self {
            Op::Insert(rows) => {
                if rows.iter().any(|(id, ..)| model.contains_key(id)) {
                    return None;
                }
                for (id, a, w) in rows {
                    model.insert(*id, (*a, word(w)));
                }
                Some(rows.len() as u64)
            }
            Op::Upsert(rows) => {
                for (id, a, w) in rows {
                    model.insert(*id, (*a, word(w)));
                }
                Some(rows.len() as u64)
            }
            Op::UpdateRange {
                lo,
                hi,
                delta,
                word: w,
            } => {
                let mut n = 0;
                for (_, (a, s)) in model.range_mut(*lo..=*hi) {
                    *a += delta;
                    *s = word(w);
                    n += 1;
                }
                Some(n)
            }
            Op::UpdateByIndex { from, to } => {
                let mut n = 0;
                for (a, _) in model.values_mut().filter(|(a, _)| a == from) {
                    *a = *to;
                    n += 1;
                }
                Some(n)
            }
            Op::DeleteRange { lo, hi } => {
                let before = model.len();
                model.retain(|id, _| !(lo..=hi).contains(&id));
                Some((before - model.len()) as u64)
            }
            Op::DeleteByIndex { word: w } => {
                let before = model.len();
                model.retain(|_, (_, s)| *s != WORDS[*w]);
                Some((before - model.len()) as u64)
            }
        }
    }
}

fn options() -> Options {
    let mut opts = Options::durable();
    // Small segments: the cycles also cross log rotations.
    opts.wal.segment_size = 256 << 10;
    opts
}

fn open(dir: &Path) -> Database {
    let db = Database::open(dir, options()).unwrap();
    for text in SCHEMA {
        match db.execute(text) {
            Ok(_) => {}
            Err(e) if matches!(e.code(), ErrorCode::TableExists | ErrorCode::IndexExists) => {}
            Err(e) => panic!("{text}: {e}"),
        }
    }
    db
}

/// The child's side: runs the workload of `FASTY_CRASH_SEED` on the
/// database in `FASTY_CRASH_DIR` until killed, printing `try <n>` before
/// statement `n` and `ack <n> <affected>` or `err <n> <code>` after it.
/// Does nothing when the variable is unset (an ordinary test run).
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os("FASTY_CRASH_DIR") else {
        return;
    };
    let seed: u64 = std::env::var("FASTY_CRASH_SEED").unwrap().parse().unwrap();
    let db = open(Path::new(&dir));
    let mut out = std::io::stdout().lock();
    // The harness has printed "test crash_child ... " without a newline.
    writeln!(out, "\nready").unwrap();
    out.flush().unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    for n in 0u64.. {
        let op = Op::random(&mut rng);
        writeln!(out, "try {n}").unwrap();
        out.flush().unwrap();
        let line = match db.execute(&op.sql()) {
            Ok(Output::Affected(k)) => format!("ack {n} {k}"),
            Ok(other) => panic!("{other:?}"),
            Err(e) => format!("err {n} {}", e.code().as_str()),
        };
        writeln!(out, "{line}").unwrap();
        out.flush().unwrap();
    }
}

/// The table as stored, in the model's shape.
fn stored(db: &Database) -> Model {
    let Output::Rows { rows, .. } = db.execute("select id, a, s from t").unwrap() else {
        panic!("not rows");
    };
    rows.into_iter()
        .map(|r| match &r[..] {
            [Value::Int(id), Value::Int(a), Value::String(s)] => (*id, (*a, s.clone())),
            other => panic!("unexpected row {other:?}"),
        })
        .collect()
}

/// Runs one child on `dir` with `seed`, kills it after `after`, and
/// returns the lines it completed.
fn run_child(dir: &Path, seed: u64, after: Duration) -> Vec<String> {
    child::run_and_kill(
        "crash_child",
        &[
            ("FASTY_CRASH_DIR", dir.display().to_string()),
            ("FASTY_CRASH_SEED", seed.to_string()),
        ],
        after,
    )
}

#[test]
fn kill_9_keeps_every_acknowledged_statement_and_indexes_agree() {
    let cycles: u32 = child::env_number("FASTY_CRASH_CYCLES", 6);
    let seed = child::seed_from_env("FASTY_CRASH_SEED");
    println!("crash test seed {seed} (FASTY_CRASH_SEED), {cycles} cycles");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    let mut acked_total = 0;
    for cycle in 0..cycles {
        let child_seed: u64 = rng.random();
        let after = Duration::from_millis(rng.random_range(150..900));
        let lines = run_child(dir.path(), child_seed, after);
        let ctx =
            format!("seed {seed}, cycle {cycle} (child seed {child_seed}, killed after {after:?})");
        // Replay what the child saw on the model, checking every outcome.
        let mut ops = StdRng::seed_from_u64(child_seed);
        let mut pending: Option<Op> = None;
        let mut started = false;
        for line in &lines {
            let words: Vec<&str> = line.split(' ').collect();
            match words[..] {
                ["ready"] => started = true,
                ["try", n] => {
                    assert!(started && pending.is_none(), "{ctx}: {line} out of order");
                    let op = Op::random(&mut ops);
                    let _ = n;
                    pending = Some(op);
                }
                ["ack", _, affected] => {
                    let op = pending
                        .take()
                        .unwrap_or_else(|| panic!("{ctx}: {line} without try"));
                    let expected = op.apply(&mut model);
                    assert_eq!(
                        expected,
                        Some(affected.parse().unwrap()),
                        "{ctx}: {} affected {affected}, the model says {expected:?}",
                        op.sql()
                    );
                    acked_total += 1;
                }
                ["err", _, code] => {
                    let op = pending
                        .take()
                        .unwrap_or_else(|| panic!("{ctx}: {line} without try"));
                    let mut after_op = model.clone();
                    assert_eq!(
                        (op.apply(&mut after_op), code),
                        (None, "duplicate_key"),
                        "{ctx}: {} failed with {code}",
                        op.sql()
                    );
                }
                // The test harness's own lines.
                _ => {}
            }
        }
        let db = Database::open(dir.path(), options())
            .unwrap_or_else(|e| panic!("{ctx}: reopen failed: {e}"));
        let found = if db.tables().contains(&"t".to_string()) {
            stored(&db)
        } else {
            Model::new()
        };
        if found != model {
            // Only the statement in flight may have landed too, and whole.
            let mut with_pending = model.clone();
            let landed = pending.as_ref().map(|op| op.apply(&mut with_pending));
            assert!(
                landed.is_some() && found == with_pending,
                "{ctx}: the table after reopen is neither the acknowledged state nor that plus \
                 the statement in flight ({:?})\nfound    {found:?}\nexpected {model:?}",
                pending.as_ref().map(Op::sql)
            );
            model = with_pending;
        }
        let report = db.verify().unwrap();
        assert!(report.is_clean(), "{ctx}: {report}");
        db.close().unwrap();
    }
    println!("{acked_total} acknowledged statements over {cycles} kills");
    assert!(
        acked_total > 0,
        "the children never acknowledged a statement"
    );
}
