//! kill -9 during a stream of multi-statement transactions: a child
//! process (this test binary run again, as `txn_crash_child` with
//! `FASTY_TXN_CRASH_DIR` set) opens a durable database and runs
//! transactions, each inserting a few rows tagged with its number (in
//! several statements, sometimes pausing between them), moving an
//! earlier transaction's rows to another tag bucket, and adding one to a
//! counter row; it prints `try N` before `begin` and `ack N` once `commit`
//! returned. The parent kills it at a random moment — often between the
//! statements of an open transaction — reopens the database and checks
//! that every acknowledged transaction is there whole, that no
//! transaction is there in part, that the counter equals the number of
//! transactions there, that nothing past the last one tried is there, and
//! that every index agrees with its table. The next cycle's child goes on
//! on the same directory.
//!
//! `FASTY_TXN_CRASH_CYCLES` sets the number of cycles (default 5),
//! `FASTY_TXN_CRASH_SEED` the seed (printed, for replaying a failure).

#[path = "support/child.rs"]
mod child;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use fasty_query::{Database, ErrorCode, Options, Output, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Rows each transaction inserts.
const ROWS: i64 = 4;

const SCHEMA: [&str; 4] = [
    "create table t {id: int, txn: int, bucket: int}",
    "create index t_txn on t (txn)",
    "create index t_bucket on t (bucket)",
    "create table c {id: int, n: int}",
];

fn options() -> Options {
    let mut opts = Options::durable();
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
    match db.execute("insert c {id: 0, n: 0}") {
        Ok(_) => {}
        Err(e) if e.code() == ErrorCode::DuplicateKey => {}
        Err(e) => panic!("{e}"),
    }
    db
}

/// The transactions stored: their numbers, each with its row count, the
/// counter, and the bucket of every row (which must be its txn's bucket).
fn stored(db: &Database) -> (BTreeMap<i64, i64>, i64) {
    let Output::Rows { rows, .. } = db.execute("select txn, bucket from t").unwrap() else {
        panic!("rows");
    };
    let mut txns = BTreeMap::new();
    for r in rows {
        let (Value::Int(txn), Value::Int(bucket)) = (&r[0], &r[1]) else {
            panic!("{r:?}");
        };
        // A row's bucket is its transaction's number modulo 7, or, once a
        // later transaction moved it, 100 + that.
        assert!(
            *bucket == txn % 7 || *bucket == 100 + txn % 7,
            "row of txn {txn} in bucket {bucket}"
        );
        *txns.entry(*txn).or_insert(0) += 1;
    }
    let Output::Rows { rows, .. } = db.execute("select n from c where id = 0").unwrap() else {
        panic!("rows");
    };
    let Value::Int(n) = rows[0][0] else {
        panic!("{rows:?}");
    };
    (txns, n)
}

/// The child's side: runs transactions on the database in
/// `FASTY_TXN_CRASH_DIR` until killed.
#[test]
fn txn_crash_child() {
    let Some(dir) = std::env::var_os("FASTY_TXN_CRASH_DIR") else {
        return;
    };
    let seed: u64 = std::env::var("FASTY_TXN_CRASH_SEED")
        .unwrap()
        .parse()
        .unwrap();
    let db = open(Path::new(&dir));
    // Go on from the last transaction stored.
    let (txns, _) = stored(&db);
    let first = txns.keys().next_back().map_or(0, |n| n + 1);
    let mut out = std::io::stdout().lock();
    writeln!(out, "\nready {first}").unwrap();
    out.flush().unwrap();
    let mut rng = StdRng::seed_from_u64(seed);
    for n in first.. {
        writeln!(out, "try {n}").unwrap();
        out.flush().unwrap();
        let mut tx = db.begin().unwrap();
        for j in 0..ROWS {
            let id = n * ROWS + j;
            tx.execute(&format!(
                "insert t {{id: {id}, txn: {n}, bucket: {}}}",
                n % 7
            ))
            .unwrap();
            if rng.random_bool(0.3) {
                std::thread::sleep(Duration::from_millis(rng.random_range(0..3)));
            }
        }
        if n >= 3 {
            // Move an earlier transaction's rows (through the index).
            let m = n - rng.random_range(1..=3);
            tx.execute(&format!(
                "update t set bucket = 100 + {} where txn = {m}",
                m % 7
            ))
            .unwrap();
        }
        tx.execute("update c set n = n + 1 where id = 0").unwrap();
        tx.commit().unwrap();
        writeln!(out, "ack {n}").unwrap();
        out.flush().unwrap();
    }
}

/// Runs one child on `dir` with `seed`, kills it after `after`, and
/// returns the lines it completed.
fn run_child(dir: &Path, seed: u64, after: Duration) -> Vec<String> {
    child::run_and_kill(
        "txn_crash_child",
        &[
            ("FASTY_TXN_CRASH_DIR", dir.display().to_string()),
            ("FASTY_TXN_CRASH_SEED", seed.to_string()),
        ],
        after,
    )
}

#[test]
fn kill_9_keeps_every_acknowledged_transaction_whole_and_nothing_else() {
    let cycles: u32 = child::env_number("FASTY_TXN_CRASH_CYCLES", 5);
    let seed = child::seed_from_env("FASTY_TXN_CRASH_SEED");
    println!("transaction crash test seed {seed} (FASTY_TXN_CRASH_SEED), {cycles} cycles");
    let mut rng = StdRng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut acked: BTreeSet<i64> = BTreeSet::new();
    let mut tried: Option<i64> = None;
    for cycle in 0..cycles {
        let child_seed: u64 = rng.random();
        let after = Duration::from_millis(rng.random_range(200..900));
        let lines = run_child(dir.path(), child_seed, after);
        let ctx = format!("seed {seed}, cycle {cycle} (killed after {after:?})");
        for line in &lines {
            let words: Vec<&str> = line.split(' ').collect();
            match words[..] {
                ["try", n] => tried = Some(n.parse::<i64>().unwrap()),
                ["ack", n] => {
                    acked.insert(n.parse().unwrap());
                }
                _ => {}
            }
        }
        let db = Database::open(dir.path(), options())
            .unwrap_or_else(|e| panic!("{ctx}: reopen failed: {e}"));
        let (txns, counter) = stored(&db);
        for n in &acked {
            assert_eq!(txns.get(n), Some(&ROWS), "{ctx}: acknowledged txn {n}");
        }
        for (n, rows) in &txns {
            assert_eq!(*rows, ROWS, "{ctx}: txn {n} is there in part");
            assert!(
                tried.is_some_and(|t| *n <= t) || acked.contains(n),
                "{ctx}: txn {n} was never tried"
            );
        }
        assert_eq!(
            counter,
            txns.len() as i64,
            "{ctx}: the counter disagrees with the transactions stored"
        );
        let report = db.verify().unwrap();
        assert!(report.is_clean(), "{ctx}: {report}");
        db.close().unwrap();
    }
    println!(
        "{} acknowledged transactions over {cycles} kills",
        acked.len()
    );
    assert!(
        !acked.is_empty(),
        "the children never acknowledged a transaction"
    );
}
