//! Differential tests against SQLite: the same seeded random data (nulls
//! in every nullable column) in fasty and in SQLite (rusqlite, bundled),
//! thousands of random queries and random writes, whose results, affected
//! counts and resulting tables must agree — values and types alike (an
//! `int` is not a `float`).
//!
//! fasty runs on disk with a small memtable and small tables, so that its
//! rows lie in the memtable, in level 0 and in deeper levels at once,
//! newer versions and tombstones above masking older ones below
//! (`support/differential/pair.rs`). Half the seeds store tables in
//! columnar blocks from level 1 down (level 0 stays in row blocks), so a
//! table's rows are in the memtable, row blocks and columnar blocks at
//! once; the other half in row blocks only. The queries (`generate.rs`): filters with
//! and/or/not/like/in/between/is null, null literals and arithmetic on
//! either side; projections of columns, arithmetic (int and float mixed,
//! division by zero) and comparisons; orders that define the order, with
//! limit and offset; aggregates with and without group by, over one table
//! and over joins — many-to-one, one-to-many, many-to-many on non-unique
//! and indexed columns, chains of three tables, inner and left; `select
//! distinct`, `having`, `count`/`sum`/`avg`/`min(distinct …)`. The writes: updates
//! (moving rows to new ids too), deletes, inserts (of freed ids too) and
//! upserts. After each run, `Database::verify` must find every index
//! entry matching its row and every row its entries.
//!
//! Queries are generated as fasty syntax trees; fasty runs their printed
//! text (so the parser is exercised too), SQLite a translation
//! (`sql.rs`). Results with an `order by` compare in order, the others as
//! multisets. How values compare, and where SQLite's types are mapped to
//! fasty's, is in `compare.rs`. SQLite's `like` is made case-sensitive
//! (`PRAGMA case_sensitive_like`), as fasty's is.
//!
//! Seeds: each test runs fixed seeds (so CI always covers known data)
//! plus a fresh one each run, printed; `FASTY_SEED=<n>` runs only seed n.
//! A query on which the two disagree is written out as a sqllogictest
//! file (the statements that built the tables, the query and SQLite's
//! rows) to `<target dir>/tmp/slt-failures/`, named in the panic message,
//! ready to be copied into tests/slt/regressions/ and replayed by the slt
//! runner (in memory: a failure that depends on where fasty keeps its rows
//! replays with the seed instead).

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use fasty_query::{Database, IntegrityKind, Output};
use fasty_wal::WriteBatch;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "support/differential/mod.rs"]
mod differential;

use differential::generate;
use differential::pair::{self, Pair, assert_integrity, check_query, integrity, setup};
use differential::slt_db;

/// Queries per seed of a query test.
const QUERIES: usize = 1000;
/// Writes per seed of the write test.
const WRITES: usize = 200;

/// A seed no run has used before.
fn fresh_seed() -> u64 {
    use std::hash::BuildHasher;
    let now = std::time::SystemTime::now();
    std::collections::hash_map::RandomState::new().hash_one(now) >> 16
}

/// Runs `test` for each seed: `FASTY_SEED` alone when it is set, else the
/// `fixed` seeds and a fresh one. Each seed is printed, and a failing one
/// with how to replay it.
fn for_each_seed(name: &str, fixed: &[u64], test: impl Fn(u64)) {
    let seeds =
        match std::env::var("FASTY_SEED") {
            Ok(v) => vec![v.trim().parse::<u64>().unwrap_or_else(|_| {
                panic!("FASTY_SEED={v:?} is not a seed (an unsigned integer)")
            })],
            Err(_) => {
                let mut s = fixed.to_vec();
                s.push(fresh_seed());
                s
            }
        };
    for seed in seeds {
        eprintln!("{name}: seed {seed}");
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| test(seed))) {
            eprintln!(
                "{name}: failed with seed {seed}; replay it with \
                 FASTY_SEED={seed} cargo nextest run -p fasty-query -E 'test({name})'"
            );
            resume_unwind(panic);
        }
    }
}

fn run_queries(seed: u64, indexes: bool, n: usize) {
    let p = setup(seed, indexes);
    assert_integrity(&p, "after the setup");
    let mut rng = StdRng::seed_from_u64(seed ^ 0xD1FF);
    for _ in 0..n {
        check_query(&p, &generate::rand_query(&mut rng));
    }
    assert_integrity(&p, "after the queries");
}

#[test]
fn random_queries_agree_with_sqlite_without_indexes() {
    for_each_seed(
        "random_queries_agree_with_sqlite_without_indexes",
        &[1],
        |seed| run_queries(seed, false, QUERIES),
    );
}

#[test]
fn random_queries_agree_with_sqlite_with_indexes() {
    for_each_seed(
        "random_queries_agree_with_sqlite_with_indexes",
        &[2],
        |seed| run_queries(seed, true, QUERIES),
    );
}

/// Random updates, deletes, inserts and upserts over rows in every place,
/// with flushes and compactions between them: affected counts agree, and
/// so do the tables afterwards (read whole and through each index), and
/// `verify` finds the indexes matching the rows. Odd seeds run with
/// indexes, even ones without; the fixed seeds cover row blocks with
/// indexes (3), columnar blocks without (4) and with (5).
#[test]
fn random_writes_agree_with_sqlite() {
    for_each_seed("random_writes_agree_with_sqlite", &[3, 4, 5], |seed| {
        let mut p = setup(seed, seed % 2 == 1);
        let mut rng = StdRng::seed_from_u64(seed ^ 0xC4A6);
        let probes = generate::probes();
        for step in 1..=WRITES {
            p.random_writes(&mut rng, 1);
            match rng.random_range(0..100) {
                0..=2 => p.flush(),
                3 => p.compact(),
                _ => {}
            }
            if step % 20 == 0 {
                for q in &probes {
                    check_query(&p, q);
                }
            }
            if step % 50 == 0 {
                assert_integrity(&p, &format!("after write {step}"));
            }
        }
        let (memtable, levels) = p.layout();
        let blocks = p.columnar_blocks();
        eprintln!(
            "seed {seed}: memtable {memtable} bytes, tables in levels {levels:?}, \
             {blocks} columnar blocks"
        );
    });
}

/// Hand-picked queries of the shapes the random ones cover, on fixed data:
/// every run checks these whatever the generators draw.
#[test]
fn known_shapes_agree_with_sqlite() {
    let p = setup(6, true);
    for q in [
        // Joins that multiply rows: on non-unique columns, many-to-many,
        // three tables, an expression on one side.
        "select visits.id, users.id, users.name from visits join users on users.email = visits.email order by visits.id, users.id",
        "select orders.id, visits.id from orders join visits on visits.day = orders.day where orders.qty < 3 order by orders.id desc, visits.id",
        "select users.city, count(*), min(visits.spent), max(orders.amount), avg(orders.qty), sum(visits.day) from visits join users on users.id = visits.user_id join orders on orders.user_id = users.id group by users.city",
        "select count(*), min(users.age), max(users.name), avg(visits.spent), sum(visits.day) from users join visits on visits.day = users.age + 1",
        "select orders.status, visits.paid, count(*), sum(orders.amount * orders.qty) from orders join users on users.id = orders.user_id join visits on visits.email = users.email group by orders.status, visits.paid order by count(*) desc, orders.status, visits.paid",
        "select users.id, orders.id, orders.amount from users join orders on orders.user_id = users.id where users.age > 80 order by orders.id limit 15 offset 3",
        // Arithmetic: int and float mixed, division by zero, null.
        "select id, age / 7, age / 7.0, balance * 2 - age, balance / 0, age / (age - age), null + age from users where id < 50",
        "select id, qty * day - 3, amount / 4, -qty from orders where qty * 2 > 30 and amount / 2 <= day",
        "select day / 100, count(*), sum(qty) / count(*), max(amount) - min(amount) from orders group by day / 100",
        // -0.0 (a negative amount times 0) and 0.0 are one number: one
        // group, ties in an order.
        "select amount * 0, count(*) from orders group by amount * 0",
        "select id, -(amount) * 0 as z from orders order by z, id limit 40",
        // Null literals in comparisons.
        "select id from users where age = null",
        "select id from users where null < age or null = null",
        "select id from users where not (age between null and 30)",
        "select id, age > null, null = email, city in (\"LA\", null) from users where id < 30",
        // Orders defined by a unique column or by every output column.
        "select * from users order by id desc limit 20",
        "select name, city from users order by city desc, name limit 30",
        "select active, age from users where age < 30 order by age, active desc",
        // Aggregates over nulls and empty inputs.
        "select count(*), count(email), sum(balance), avg(age), min(city), max(active) from users where age > 1000",
        "select city, count(email), min(balance), max(name) from users group by city",
        // Left joins (null keys, no partner, `on` versus `where`),
        // distinct, having, distinct aggregates.
        "select users.id, orders.id, orders.amount from users left join orders on orders.user_id = users.id and orders.qty > 3 order by users.id, orders.id",
        "select users.id from users left join orders on orders.user_id = users.id where orders.id is null order by users.id",
        "select orders.id, users.name, visits.id from orders left join users on users.id = orders.user_id left join visits on visits.email = users.email order by orders.id, visits.id",
        "select users.city, count(orders.id), sum(orders.qty) from users left join orders on orders.user_id = users.id group by users.city",
        "select distinct city, active from users",
        "select distinct status, qty / 3 from orders order by status desc, qty / 3 limit 7",
        "select city, count(*), count(distinct age) from users group by city having count(*) > 2 or min(age) < 10",
        "select status, count(distinct user_id), sum(distinct qty), avg(distinct amount) from orders group by status",
    ] {
        let s = match fasty_query::parser::parse(q) {
            Ok(fasty_query::ast::Statement::Select(s)) => *s,
            other => panic!("{q}: {other:?}"),
        };
        check_query(&p, &s);
    }
    assert_integrity(&p, "after the queries");
}

/// A failing case written out replays through the slt runner: the file
/// passes when its expected rows are what fasty gives and fails, naming
/// the query, when they differ.
#[test]
fn a_mismatch_is_written_as_a_replayable_slt_file() {
    let p = setup(5, true);
    for q in [
        "select id, name, balance, active from users where age > 30 order by age, id limit 12",
        "select city, count(*), avg(balance), sum(age) from users group by city",
        "select orders.id, users.name, orders.amount from orders join users on orders.user_id = users.id where users.age < 20",
    ] {
        let s = match fasty_query::parser::parse(q) {
            Ok(fasty_query::ast::Statement::Select(s)) => *s,
            other => panic!("{q}: {other:?}"),
        };
        let sql = differential::sql::sql_select(&s);
        let mut c = pair::compare(&p, &s, q, &sql);
        assert!(c.agree(), "{q}");
        assert!(c.theirs.len() > 1, "{q}: too few rows to be a test");
        // SQLite's own rows: the file is a passing test.
        let path = pair::write_case(p.seed, q, &pair::slt_case(&p, q, &sql, &c));
        let replay = slt_db::run_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(replay, Ok(()), "{q}");
        // A synthetic mismatch: SQLite "returned" one row less and a
        // different value in the first row.
        c.theirs.pop();
        c.theirs[0][1] = differential::compare::Lite::Text("not what fasty has".into());
        let case = pair::slt_case(&p, q, &sql, &c);
        assert!(case.contains("not what fasty has"), "{case}");
        let err = slt_db::run_script(&case, "mismatch.slt").unwrap_err();
        assert!(
            err.contains("query result mismatch") && err.contains(q),
            "{err}"
        );
    }
}

/// Every key and value of the store.
fn all_entries(db: &Database) -> Vec<(Vec<u8>, Vec<u8>)> {
    db.kv()
        .scan(..)
        .map(|r| {
            let (k, v) = r.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

/// The entries in `b` that are not in `a`.
fn added(a: &[(Vec<u8>, Vec<u8>)], b: &[(Vec<u8>, Vec<u8>)]) -> Vec<(Vec<u8>, Vec<u8>)> {
    b.iter().filter(|e| !a.contains(e)).cloned().collect()
}

fn kinds(db: &Database) -> Vec<IntegrityKind> {
    db.verify()
        .unwrap()
        .problems
        .iter()
        .map(|p| p.kind)
        .collect()
}

/// The integrity check the differential runs end with catches a broken
/// index: an index entry written back after its row changed, one left
/// behind by a deleted row, one missing. The entries are found by what a
/// statement adds and removes in the store, so the test does not depend on
/// how keys are encoded; the damage is done through `Database::kv`, below
/// the language, with data in SSTs and in the memtable.
#[test]
fn the_integrity_check_catches_a_broken_index() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), pair::options()).unwrap();
    for s in [
        "create table t { id: int, v: string }",
        "create index ix_v on t (v)",
        "insert t [ { id: 1, v: \"a\" }, { id: 2, v: \"b\" }, { id: 3, v: \"c\" } ]",
    ] {
        db.execute(s).unwrap();
    }
    db.kv().checkpoint().unwrap();
    assert_eq!(integrity(&db), Ok(()));
    let put = |k: &[u8], v: &[u8]| {
        let mut b = WriteBatch::new();
        b.put(k, v);
        db.kv().write(b).unwrap();
    };
    let delete = |k: &[u8]| {
        let mut b = WriteBatch::new();
        b.delete(k);
        db.kv().write(b).unwrap();
    };

    // Row 1's value changes: its old entry goes, a new one comes.
    let before = all_entries(&db);
    assert_eq!(
        db.execute("update t set v = \"z\" where id = 1").unwrap(),
        Output::Affected(1)
    );
    let after = all_entries(&db);
    let gone = added(&after, &before);
    let came = added(&before, &after);
    let old_entry = gone
        .iter()
        .find(|(k, _)| !after.iter().any(|(k2, _)| k2 == k))
        .expect("the update removes row 1's old index entry")
        .clone();
    let new_entry = came
        .iter()
        .find(|(k, _)| !before.iter().any(|(k2, _)| k2 == k))
        .expect("the update adds row 1's new index entry")
        .clone();

    // The old entry written back: row 1 has an entry too many.
    put(&old_entry.0, &old_entry.1);
    let err = integrity(&db).unwrap_err();
    assert!(err.contains("duplicate_index_entry"), "{err}");
    assert_eq!(kinds(&db), vec![IntegrityKind::DuplicateIndexEntry]);

    // Row 1 deleted through the language: the stray entry now points at
    // no row.
    db.kv().checkpoint().unwrap();
    assert_eq!(
        db.execute("delete t where id = 1").unwrap(),
        Output::Affected(1)
    );
    assert_eq!(kinds(&db), vec![IntegrityKind::DanglingIndexEntry]);
    delete(&old_entry.0);
    assert_eq!(integrity(&db), Ok(()));

    // An entry of a live row deleted: the row misses it.
    assert_eq!(
        db.execute("insert t { id: 1, v: \"z\" }").unwrap(),
        Output::Affected(1)
    );
    assert_eq!(integrity(&db), Ok(()));
    delete(&new_entry.0);
    assert_eq!(kinds(&db), vec![IntegrityKind::MissingIndexEntry]);
    put(&new_entry.0, &new_entry.1);
    assert_eq!(integrity(&db), Ok(()));
}

/// The rows of a set-up pair are in the memtable and in two levels or
/// more, the deepest below level 1 (`setup` checks it; this names it).
#[test]
fn the_setup_puts_rows_in_every_place() {
    let p: Pair = setup(7, false);
    let (memtable, levels) = p.layout();
    assert!(memtable > 0, "{levels:?}");
    assert!(
        levels.len() >= 2 && levels[levels.len() - 1] >= 2,
        "{levels:?}"
    );
}
