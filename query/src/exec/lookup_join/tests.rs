//! The lookup join against the oracle (`exec/oracle.rs`): the same tables
//! joined through `select * from a join b on …` (by `b`'s primary key or
//! an index of `b`, and by a hash join without indexes) and through the
//! operator over `a`'s chunks.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::ast::BinaryOp;
use crate::database::Database;
use crate::exec::test_tables::{col, db, drain_codes, rows_of, scan_all, table};
use crate::exec::tests::Source;
use crate::value::Value;
use crate::{ErrorCode, ExecOptions};

/// Tables `a` and `b` of random rows (`b` indexed on `k`, `s` and `f`),
/// keys over small domains, with nulls and integral floats.
fn tables(seed: u64, na: usize, nb: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::new();
    for (name, n) in [("a", na), ("b", nb)] {
        out.push(format!(
            "create table {name} {{ id: int, k: int, f: float, s: string, v: int }}"
        ));
        let mut rows = Vec::new();
        for id in 1..=n {
            let mut fields = vec![format!("id: {id}")];
            if rng.random_range(0..5) != 0 {
                fields.push(format!("k: {}", rng.random_range(0..(nb as i64 + 5))));
            }
            if rng.random_range(0..5) != 0 {
                let f = f64::from(rng.random_range(0..40)) / 2.0;
                fields.push(format!("f: {f:?}"));
            }
            if rng.random_range(0..5) != 0 {
                fields.push(format!("s: \"{}\"", rng.random_range(0..10)));
            }
            fields.push(format!("v: {}", rng.random_range(0..100)));
            rows.push(format!("{{ {} }}", fields.join(", ")));
        }
        for part in rows.chunks(500) {
            out.push(format!("insert {name} [ {} ]", part.join(", ")));
        }
    }
    for c in ["k", "s", "f"] {
        out.push(format!("create index b_{c} on b ({c})"));
    }
    out
}

/// Joins `a`'s chunks of `size` rows on `key` with `b` found `via`.
fn join(
    db: &Database,
    key: &str,
    via: &Lookup,
    filter: &[BoundExpr],
    size: usize,
    limits: &Limits,
) -> std::result::Result<Vec<Vec<Value>>, ErrorCode> {
    let (a, b) = (table(db, "a"), table(db, "b"));
    let snap = db.kv().snapshot();
    let columns: Vec<usize> = (0..b.columns.len()).collect();
    let input = Box::new(Source(scan_all(db, &a, size)));
    let mut op = LookupJoin::new(
        input,
        &snap,
        &b,
        via,
        &col(&a, key, 0),
        &columns,
        filter,
        limits,
    )
    .unwrap();
    drain_codes(&mut op)
}

fn index(db: &Database, column: &str) -> Lookup {
    let b = table(db, "b");
    let ix = b.indexes.iter().find(|i| i.column == column).unwrap();
    Lookup::Index(ix.clone())
}

#[test]
fn lookups_agree_with_the_oracle() {
    for seed in 0..3u64 {
        let (_dir, db) = db(&tables(seed, 400 + 300 * seed as usize, 200));
        let a = table(&db, "a");
        let b = table(&db, "b");
        let width = a.columns.len();
        let lt = BoundExpr::Binary {
            op: BinaryOp::Lt,
            left: Box::new(col(&a, "v", 0)),
            right: Box::new(col(&b, "v", width)),
        };
        let limits = Limits::none();
        let cases: Vec<(&str, &str, Lookup, Vec<BoundExpr>, &str)> = vec![
            ("k", "id", Lookup::Pk, vec![], ""),
            ("f", "id", Lookup::Pk, vec![], ""),
            ("k", "k", index(&db, "k"), vec![], ""),
            ("f", "k", index(&db, "k"), vec![], ""),
            ("k", "f", index(&db, "f"), vec![], ""),
            ("s", "s", index(&db, "s"), vec![], ""),
            (
                "k",
                "k",
                index(&db, "k"),
                vec![lt.clone()],
                " where a.v < b.v",
            ),
            ("k", "id", Lookup::Pk, vec![lt], " where a.v < b.v"),
        ];
        for (ka, kb, via, filter, cond) in cases {
            let query = format!("select * from a join b on a.{ka} = b.{kb}{cond}");
            let want = rows_of(&db, &query, ExecOptions::default()).unwrap();
            let hashed = rows_of(&db, &query, ExecOptions::default().with_use_indexes(false));
            assert_eq!(hashed.as_ref(), Ok(&want), "{query}");
            for size in [2048, 7, 1] {
                let got = join(&db, ka, &via, &filter, size, &limits);
                assert_eq!(got.as_ref(), Ok(&want), "{query} (chunks of {size})");
            }
        }
    }
}

#[test]
fn many_matches_per_row_are_split_in_order() {
    let mut stmts = vec![
        "create table a { id: int, k: int, f: float, s: string, v: int }".to_string(),
        "create table b { id: int, k: int, f: float, s: string, v: int }".to_string(),
        "create index b_k on b (k)".to_string(),
        "insert a [ { id: 1, k: 1 }, { id: 2, k: 2 }, { id: 3, k: 1 } ]".to_string(),
    ];
    let rows: Vec<String> = (1..=3000)
        .map(|i| format!("{{ id: {i}, k: {}, v: {i} }}", 1 + i % 2))
        .collect();
    stmts.push(format!("insert b [ {} ]", rows.join(", ")));
    let (_dir, db) = db(&stmts);
    let want = rows_of(
        &db,
        "select * from a join b on a.k = b.k",
        ExecOptions::default(),
    )
    .unwrap();
    assert_eq!(want.len(), 4500);
    let got = join(&db, "k", &index(&db, "k"), &[], 2048, &Limits::none());
    assert_eq!(got, Ok(want));
}

/// `b` compacted into columnar blocks, then partly overwritten and
/// deleted (so lookups meet block rows, memtable rows and tombstones):
/// joining through it, taking any columns in any order, gives what the
/// same statements give in a database of row blocks.
#[test]
fn lookups_in_columnar_blocks_agree_with_row_blocks() {
    let stmts = tables(7, 600, 900);
    let changes = [
        "update b set v = v + 1000, s = \"changed\" where id < 120".to_string(),
        "delete b where id > 850".to_string(),
        "delete b where id > 300 and id < 320".to_string(),
    ];
    let (_row_dir, rows_db) = db(&stmts);
    let dir = tempfile::tempdir().unwrap();
    let col_db = Database::open(dir.path(), crate::Options::durable().with_columnar(true)).unwrap();
    for s in &stmts {
        col_db.execute(s).unwrap();
    }
    col_db.kv().compact().unwrap();
    let blocks: usize = col_db
        .kv()
        .stats()
        .storage
        .levels
        .iter()
        .map(|l| l.columnar_blocks)
        .sum();
    assert!(blocks > 0, "b is stored in columnar blocks");
    for s in &changes {
        rows_db.execute(s).unwrap();
        col_db.execute(s).unwrap();
    }
    let limits = Limits::none();
    for (key, via) in [("k", "id"), ("k", "k"), ("s", "s")] {
        for columns in [vec![0, 1, 2, 3, 4], vec![4, 3, 0], vec![]] {
            let mut got = Vec::new();
            for d in [&rows_db, &col_db] {
                let (a, b) = (table(d, "a"), table(d, "b"));
                let lookup = if via == "id" {
                    Lookup::Pk
                } else {
                    index(d, via)
                };
                let snap = d.kv().snapshot();
                let input = Box::new(Source(scan_all(d, &a, 300)));
                let mut op = LookupJoin::new(
                    input,
                    &snap,
                    &b,
                    &lookup,
                    &col(&a, key, 0),
                    &columns,
                    &[],
                    &limits,
                )
                .unwrap();
                got.push(drain_codes(&mut op).unwrap());
            }
            assert!(!got[0].is_empty());
            assert_eq!(got[0], got[1], "a.{key} = b.{via}, columns {columns:?}");
        }
    }
}
