//! Model test of transactions: several sessions interleave random
//! transactions (reads, inserts, upserts, updates, deletes through the
//! primary key and a secondary index, commits, rollbacks) with single
//! statements and checkpoints (flushes and compactions while snapshots are
//! open), against a reference that knows which snapshot each read was
//! entitled to — the committed state at its `begin` plus its own writes —
//! and which commits must fail: those writing a row that some commit or
//! single statement wrote after their `begin` (first committer wins). The
//! committed transactions and single statements, applied in commit order,
//! are a serial order; the final table must equal the reference's, and
//! every index must agree with it (`Database::verify`).
//!
//! Each run draws fresh seeds and prints them; `FASTY_TXN_SEED` replays
//! one, `FASTY_TXN_RUNS` sets how many runs (default 24).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use fasty_query::{Database, ErrorCode, Options, Output, Transaction, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// id → (a, s).
type Rows = BTreeMap<i64, (i64, String)>;

const IDS: i64 = 24;
const WORDS: [&str; 4] = ["x", "y", "z", ""];
const SESSIONS: usize = 3;

/// A statement, its text and how it changes or reads a view of the table.
#[derive(Debug, Clone)]
enum Stmt {
    /// `find m where id = k`
    Find(i64),
    /// `select id, a, s from m where a = v` (the index on `a`)
    ByA(i64),
    /// `select count(*), sum(a) from m where id between lo and hi`
    Count(i64, i64),
    /// `select id, a, s from m` (a full scan)
    All,
    /// `insert m [rows]`: all or nothing; fails on a key in the view.
    Insert(Vec<(i64, i64, usize)>),
    /// `upsert m [rows]`
    Upsert(Vec<(i64, i64, usize)>),
    /// `update m set a = a + d where id between lo and hi` (d != 0)
    AddRange(i64, i64, i64),
    /// `update m set s = w, a = a + 1 where a = v`
    SetByA(i64, usize),
    /// `delete from m where id = k`
    Delete(i64),
}

impl Stmt {
    fn random(rng: &mut StdRng, reads: bool) -> Stmt {
        let id = |rng: &mut StdRng| rng.random_range(0..IDS);
        let rows = |rng: &mut StdRng| {
            let mut ids: Vec<i64> = (0..rng.random_range(1..=3)).map(|_| id(rng)).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.into_iter()
                .map(|k| (k, rng.random_range(0..6), rng.random_range(0..WORDS.len())))
                .collect()
        };
        let pick = if reads {
            rng.random_range(0..9)
        } else {
            rng.random_range(4..9)
        };
        match pick {
            0 => Stmt::Find(id(rng)),
            1 => Stmt::ByA(rng.random_range(0..6)),
            2 => {
                let lo = id(rng);
                Stmt::Count(lo, lo + rng.random_range(0..8))
            }
            3 => Stmt::All,
            4 => Stmt::Insert(rows(rng)),
            5 => Stmt::Upsert(rows(rng)),
            6 => {
                let lo = id(rng);
                let d = if rng.random_bool(0.5) { 1 } else { -1 };
                Stmt::AddRange(lo, lo + rng.random_range(0..4), d)
            }
            7 => Stmt::SetByA(rng.random_range(0..6), rng.random_range(0..WORDS.len())),
            _ => Stmt::Delete(id(rng)),
        }
    }

    fn text(&self) -> String {
        let objects = |rows: &[(i64, i64, usize)]| {
            let objs: Vec<String> = rows
                .iter()
                .map(|(k, a, w)| format!("{{ id: {k}, a: {a}, s: \"{}\" }}", WORDS[*w]))
                .collect();
            format!("[{}]", objs.join(", "))
        };
        match self {
            Stmt::Find(k) => format!("find m where id = {k}"),
            Stmt::ByA(v) => format!("select id, a, s from m where a = {v}"),
            Stmt::Count(lo, hi) => {
                format!("select count(*), sum(a) from m where id between {lo} and {hi}")
            }
            Stmt::All => "select id, a, s from m".into(),
            Stmt::Insert(rows) => format!("insert m {}", objects(rows)),
            Stmt::Upsert(rows) => format!("upsert m {}", objects(rows)),
            Stmt::AddRange(lo, hi, d) => {
                format!("update m set a = a + {d} where id between {lo} and {hi}")
            }
            Stmt::SetByA(v, w) => {
                format!(
                    "update m set s = \"{}\", a = a + 1 where a = {v}",
                    WORDS[*w]
                )
            }
            Stmt::Delete(k) => format!("delete from m where id = {k}"),
        }
    }

    /// Runs the statement on the model `view`: the rows a read returns
    /// (as the database prints them), or the keys a write wrote; `Err`
    /// with the code the database must fail with (the view unchanged).
    fn apply(&self, view: &mut Rows) -> Result<Effect, ErrorCode> {
        let row = |k: &i64, (a, s): &(i64, String)| {
            vec![Value::Int(*k), Value::Int(*a), Value::String(s.clone())]
        };
        Ok(match self {
            Stmt::Find(k) => Effect::Read(
                view.get_key_value(k)
                    .map(|(k, v)| row(k, v))
                    .into_iter()
                    .collect(),
            ),
            Stmt::ByA(v) => Effect::Read(
                view.iter()
                    .filter(|(_, (a, _))| a == v)
                    .map(|(k, v)| row(k, v))
                    .collect(),
            ),
            Stmt::Count(lo, hi) => {
                let matched: Vec<i64> = view.range(lo..=hi).map(|(_, (a, _))| *a).collect();
                let sum = if matched.is_empty() {
                    Value::Null
                } else {
                    Value::Int(matched.iter().sum())
                };
                Effect::Read(vec![vec![Value::Int(matched.len() as i64), sum]])
            }
            Stmt::All => Effect::Read(view.iter().map(|(k, v)| row(k, v)).collect()),
            Stmt::Insert(rows) => {
                if rows.iter().any(|(k, _, _)| view.contains_key(k)) {
                    return Err(ErrorCode::DuplicateKey);
                }
                Stmt::Upsert(rows.clone()).apply(view)?
            }
            Stmt::Upsert(rows) => {
                for (k, a, w) in rows {
                    view.insert(*k, (*a, WORDS[*w].to_string()));
                }
                Effect::Wrote(rows.iter().map(|(k, _, _)| *k).collect())
            }
            Stmt::AddRange(lo, hi, d) => {
                let mut keys = BTreeSet::new();
                for (k, (a, _)) in view.range_mut(lo..=hi) {
                    *a += d;
                    keys.insert(*k);
                }
                Effect::Wrote(keys)
            }
            Stmt::SetByA(v, w) => {
                let mut keys = BTreeSet::new();
                for (k, (a, s)) in view.iter_mut() {
                    if a == v {
                        *a += 1;
                        *s = WORDS[*w].to_string();
                        keys.insert(*k);
                    }
                }
                Effect::Wrote(keys)
            }
            Stmt::Delete(k) => Effect::Wrote(view.remove(k).map(|_| *k).into_iter().collect()),
        })
    }
}

/// What a statement did on the model.
enum Effect {
    Read(Vec<Vec<Value>>),
    Wrote(BTreeSet<i64>),
}

/// The reference: the committed rows, and per key the commit number of
/// its last write.
#[derive(Default)]
struct Reference {
    rows: Rows,
    commits: u64,
    last_write: HashMap<i64, u64>,
}

impl Reference {
    fn commit(&mut self, rows: Rows, written: &BTreeSet<i64>) {
        self.commits += 1;
        self.rows = rows;
        for k in written {
            self.last_write.insert(*k, self.commits);
        }
    }
}

/// An open transaction and its model.
struct Open<'db> {
    tx: Transaction<'db>,
    began: u64,
    view: Rows,
    written: BTreeSet<i64>,
}

/// Checks a statement's outcome against the model's.
fn check(
    seed: u64,
    step: usize,
    stmt: &Stmt,
    got: Result<Output, fasty_query::Error>,
    want: Result<Effect, ErrorCode>,
) {
    match (got, want) {
        (Ok(Output::Rows { rows, .. }), Ok(Effect::Read(expected))) => {
            // `find` returns whole rows, in column order: id, a, s.
            assert_eq!(rows, expected, "seed {seed} step {step}: {}", stmt.text());
        }
        (Ok(Output::Affected(n)), Ok(Effect::Wrote(keys))) => {
            // Inserts and upserts count their rows, updates and deletes
            // the rows they matched.
            let expected = match stmt {
                Stmt::Insert(r) | Stmt::Upsert(r) => r.len() as u64,
                _ => keys.len() as u64,
            };
            assert_eq!(n, expected, "seed {seed} step {step}: {}", stmt.text());
        }
        (Err(e), Err(code)) => {
            assert_eq!(
                e.code(),
                code,
                "seed {seed} step {step}: {}: {e}",
                stmt.text()
            )
        }
        (got, want) => panic!(
            "seed {seed} step {step}: {}: got {got:?}, the model says {}",
            stmt.text(),
            match want {
                Ok(Effect::Read(r)) => format!("rows {r:?}"),
                Ok(Effect::Wrote(k)) => format!("writes {k:?}"),
                Err(c) => format!("error {c}"),
            }
        ),
    }
}

fn stored(db: &Database) -> Rows {
    let Output::Rows { rows, .. } = db.execute("select id, a, s from m").unwrap() else {
        panic!("rows");
    };
    rows.into_iter()
        .map(|r| match (&r[0], &r[1], &r[2]) {
            (Value::Int(k), Value::Int(a), Value::String(s)) => (*k, (*a, s.clone())),
            other => panic!("{other:?}"),
        })
        .collect()
}

fn run(seed: u64, steps: usize) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), Options::default()).unwrap();
    db.execute("create table m { id: int, a: int, s: string }")
        .unwrap();
    db.execute("create index m_a on m (a)").unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut reference = Reference::default();
    let mut sessions: Vec<Option<Open<'_>>> = (0..SESSIONS).map(|_| None).collect();
    let (mut commits, mut conflicts) = (0, 0);
    for step in 0..steps {
        let s = rng.random_range(0..SESSIONS);
        match sessions[s].take() {
            None if rng.random_bool(0.15) => {
                // A single statement on its own.
                let stmt = Stmt::random(&mut rng, true);
                let mut view = reference.rows.clone();
                let want = stmt.apply(&mut view);
                if let Ok(Effect::Wrote(keys)) = &want {
                    reference.commit(view, keys);
                }
                check(seed, step, &stmt, db.execute(&stmt.text()), want);
            }
            None if rng.random_bool(0.05) => {
                db.kv().checkpoint().unwrap();
            }
            None => {
                sessions[s] = Some(Open {
                    tx: db.begin().unwrap(),
                    began: reference.commits,
                    view: reference.rows.clone(),
                    written: BTreeSet::new(),
                });
            }
            Some(mut open) => {
                let roll = rng.random_range(0..100);
                if roll < 12 {
                    // Commit: fails if a row it wrote was written since
                    // its begin.
                    let conflict = open
                        .written
                        .iter()
                        .any(|k| reference.last_write.get(k).is_some_and(|&c| c > open.began));
                    match open.tx.commit() {
                        Ok(()) => {
                            assert!(
                                !conflict,
                                "seed {seed} step {step}: a conflicting commit succeeded"
                            );
                            if !open.written.is_empty() {
                                // Apply the transaction's writes to what
                                // is committed now: keys it did not write
                                // keep their committed value.
                                let mut rows = reference.rows.clone();
                                for k in &open.written {
                                    match open.view.get(k) {
                                        Some(v) => rows.insert(*k, v.clone()),
                                        None => rows.remove(k),
                                    };
                                }
                                reference.commit(rows, &open.written);
                            }
                            commits += 1;
                        }
                        Err(e) => {
                            assert_eq!(
                                e.code(),
                                ErrorCode::SerializationFailure,
                                "seed {seed} step {step}: {e}"
                            );
                            assert!(
                                conflict,
                                "seed {seed} step {step}: a commit failed without a conflict: {e}"
                            );
                            conflicts += 1;
                        }
                    }
                } else if roll < 16 {
                    open.tx.rollback();
                } else {
                    let stmt = Stmt::random(&mut rng, true);
                    let mut view = open.view.clone();
                    let want = stmt.apply(&mut view);
                    if let Ok(Effect::Wrote(keys)) = &want {
                        open.view = view;
                        open.written.extend(keys.iter().copied());
                    }
                    check(seed, step, &stmt, open.tx.execute(&stmt.text()), want);
                    sessions[s] = Some(open);
                }
            }
        }
    }
    drop(sessions);
    assert_eq!(stored(&db), reference.rows, "seed {seed}: the final table");
    let report = db.verify().unwrap();
    assert!(report.is_clean(), "seed {seed}: {report:?}");
    assert_eq!(db.transaction_stats().open, 0);
    assert!(
        commits > 0,
        "seed {seed}: no commit ({conflicts} conflicts)"
    );
}

#[test]
fn random_interleaved_transactions_match_the_reference() {
    if let Ok(seed) = std::env::var("FASTY_TXN_SEED") {
        let seed = seed.parse().expect("FASTY_TXN_SEED is a number");
        println!("transaction model seed {seed}");
        run(seed, 1500);
        return;
    }
    let runs: u64 = std::env::var("FASTY_TXN_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let base: u64 = rand::random();
    for i in 0..runs {
        let seed = base.wrapping_add(i);
        println!("transaction model seed {seed} (FASTY_TXN_SEED={seed} replays it)");
        run(seed, 1500);
    }
}
