//! The hash join against the oracle (`exec/oracle.rs`): the same tables
//! joined through `select * from a join b on …` (indexes off, so the
//! plan hashes `b`) and through the operator over the tables' chunks.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;

use super::*;
use crate::ast::BinaryOp;
use crate::catalog::Table;
use crate::database::Database;
use crate::exec::test_tables::{col, db, drain_codes, rows_of, scan_all, table};
use crate::exec::tests::Source;
use crate::{ErrorCode, ExecOptions};

/// Statements making table `name` of `n` random rows over a small key
/// domain (many-to-many matches), with nulls, ints and integral floats.
fn random_table(name: &str, seed: u64, n: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = vec![format!(
        "create table {name} {{ id: int, k: int, f: float, s: string, v: int }}"
    )];
    let mut rows = Vec::new();
    for id in 1..=n {
        let mut fields = vec![format!("id: {id}")];
        if rng.random_range(0..5) != 0 {
            fields.push(format!("k: {}", rng.random_range(0..8)));
        }
        if rng.random_range(0..5) != 0 {
            let f = f64::from(rng.random_range(0..16)) / 2.0;
            fields.push(format!("f: {f:?}"));
        }
        if rng.random_range(0..5) != 0 {
            fields.push(format!(
                "s: \"{}\"",
                ["x", "y", "z", ""][rng.random_range(0..4)]
            ));
        }
        fields.push(format!("v: {}", rng.random_range(0..100)));
        rows.push(format!("{{ {} }}", fields.join(", ")));
    }
    for part in rows.chunks(500) {
        out.push(format!("insert {name} [ {} ]", part.join(", ")));
    }
    out
}

/// Joins `a` (probe) and `b` (build) on `ka = kb`, filtered by `filter`.
fn join(
    db: &Database,
    (a, ka): (&Table, &str),
    (b, kb): (&Table, &str),
    filter: &[BoundExpr],
    sizes: (usize, usize),
    limits: &Limits,
) -> std::result::Result<Vec<Vec<Value>>, ErrorCode> {
    let probe = Box::new(Source(scan_all(db, a, sizes.0)));
    let build = Box::new(Source(scan_all(db, b, sizes.1)));
    let build = BuildSide::Input(build, Box::new(Kernel::compile(&col(b, kb, 0)).unwrap()));
    let mut op = HashJoin::new(probe, build, &col(a, ka, 0), filter, limits).unwrap();
    drain_codes(&mut op)
}

/// A join to compare: probe table and key, build table and key, the
/// filter and its text.
type Case<'t> = (
    &'t Table,
    &'t str,
    &'t Table,
    &'t str,
    Vec<BoundExpr>,
    &'t str,
);

fn no_indexes() -> ExecOptions {
    ExecOptions::default().with_use_indexes(false)
}

#[test]
fn joins_agree_with_the_oracle() {
    for seed in 0..3u64 {
        let mut stmts = random_table("a", seed, 300 + 200 * seed as usize);
        stmts.extend(random_table("b", seed + 100, 150 + 300 * seed as usize));
        stmts.push("create table e { id: int, k: int, f: float, s: string, v: int }".into());
        let (_dir, db) = db(&stmts);
        let (a, b, e) = (table(&db, "a"), table(&db, "b"), table(&db, "e"));
        let limits = Limits::none();
        let width = a.columns.len();
        let lt = BoundExpr::Binary {
            op: BinaryOp::Lt,
            left: Box::new(col(&a, "v", 0)),
            right: Box::new(col(&b, "v", width)),
        };
        let cases: Vec<Case<'_>> = vec![
            (&a, "k", &b, "k", vec![], ""),
            (&a, "k", &b, "f", vec![], ""),
            (&a, "f", &b, "k", vec![], ""),
            (&a, "f", &b, "f", vec![], ""),
            (&a, "s", &b, "s", vec![], ""),
            (&a, "k", &b, "k", vec![lt.clone()], " where a.v < b.v"),
            // Unique build keys: at most one match per probe row.
            (&a, "k", &b, "id", vec![], ""),
            (&a, "f", &b, "id", vec![], ""),
            (&a, "k", &b, "id", vec![lt], " where a.v < b.v"),
            (&a, "k", &e, "k", vec![], ""),
            (&e, "k", &a, "k", vec![], ""),
        ];
        for (l, lk, r, rk, filter, cond) in cases {
            let query = format!(
                "select * from {0} join {1} on {0}.{lk} = {1}.{rk}{cond}",
                l.name, r.name
            );
            let want = rows_of(&db, &query, no_indexes()).unwrap();
            for sizes in [(2048, 2048), (7, 5), (64, 1)] {
                let got = join(&db, (l, lk), (r, rk), &filter, sizes, &limits);
                assert_eq!(got.as_ref(), Ok(&want), "{query} (chunks {sizes:?})");
            }
        }
    }
}

#[test]
fn output_past_a_chunk_is_split_in_order() {
    // Every row of `a` matches every row of `b`: 3000 x 3 rows out.
    let mut stmts = vec![
        "create table a { id: int, k: int }".to_string(),
        "create table b { id: int, k: int }".to_string(),
    ];
    let rows: Vec<String> = (1..=3000).map(|i| format!("{{ id: {i}, k: 1 }}")).collect();
    stmts.push(format!("insert a [ {} ]", rows.join(", ")));
    stmts.push("insert b [ { id: 1, k: 1 }, { id: 2, k: 1 }, { id: 3, k: 1 } ]".into());
    let (_dir, db) = db(&stmts);
    let (a, b) = (table(&db, "a"), table(&db, "b"));
    let want = rows_of(&db, "select * from a join b on a.k = b.k", no_indexes()).unwrap();
    assert_eq!(want.len(), 9000);
    // And the other way round: each probe row has 3000 matches.
    let back = rows_of(&db, "select * from b join a on b.k = a.k", no_indexes()).unwrap();
    let limits = Limits::none();
    for sizes in [(2048, 2048), (1000, 3)] {
        let got = join(&db, (&a, "k"), (&b, "k"), &[], sizes, &limits);
        assert_eq!(got.as_ref(), Ok(&want));
        let got = join(&db, (&b, "k"), (&a, "k"), &[], (sizes.1, sizes.0), &limits);
        assert_eq!(got.as_ref(), Ok(&back));
    }
}

#[test]
fn probe_parts_share_one_build_table() {
    let mut stmts = random_table("a", 7, 2000);
    stmts.extend(random_table("b", 8, 500));
    let (_dir, db) = db(&stmts);
    let (a, b) = (table(&db, "a"), table(&db, "b"));
    let limits = Limits::none();
    let built = Arc::new(
        BuildTable::build(
            Box::new(Source(scan_all(&db, &b, 100))),
            &Kernel::compile(&col(&b, "k", 0)).unwrap(),
            &limits,
        )
        .unwrap(),
    );
    let want = rows_of(&db, "select * from a join b on a.k = b.k", no_indexes()).unwrap();
    let parts = crate::exec::test_tables::scan(&db, &a, 128, 6);
    let got: Vec<Vec<Vec<Value>>> = parts
        .into_par_iter()
        .map(|chunks| {
            let side = BuildSide::Ready(built.clone());
            let mut op = HashJoin::new(
                Box::new(Source(chunks)),
                side,
                &col(&a, "k", 0),
                &[],
                &limits,
            )
            .unwrap();
            drain_codes(&mut op).unwrap()
        })
        .collect();
    assert_eq!(got.concat(), want);
}

#[test]
fn a_big_build_side_passes_the_memory_limit() {
    let mut stmts = vec![
        "create table a { id: int, k: int }".to_string(),
        "create table b { id: int, k: int, s: string }".to_string(),
        "insert a [ { id: 1, k: 1 } ]".to_string(),
    ];
    let rows: Vec<String> = (1..=4000)
        .map(|i| format!("{{ id: {i}, k: {i}, s: \"a longer string for row {i}\" }}"))
        .collect();
    stmts.push(format!("insert b [ {} ]", rows.join(", ")));
    let (_dir, db) = db(&stmts);
    let (a, b) = (table(&db, "a"), table(&db, "b"));
    let opts = no_indexes().with_memory_limit(Some(64 << 10));
    let want = rows_of(&db, "select * from a join b on a.k = b.k", opts.clone());
    assert_eq!(want, Err(ErrorCode::MemoryLimit));
    let got = join(
        &db,
        (&a, "k"),
        (&b, "k"),
        &[],
        (2048, 2048),
        &Limits::new(&opts),
    );
    assert_eq!(got, Err(ErrorCode::MemoryLimit));
    // Within a larger limit it succeeds.
    let opts = no_indexes().with_memory_limit(Some(64 << 20));
    let got = join(
        &db,
        (&a, "k"),
        (&b, "k"),
        &[],
        (2048, 2048),
        &Limits::new(&opts),
    );
    assert_eq!(got.map(|r| r.len()), Ok(1));
}
