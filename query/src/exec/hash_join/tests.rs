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
    let mut op = HashJoin::new(probe, build, &col(a, ka, 0), filter, true, limits).unwrap();
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
            true,
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
                true,
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

/// The join of build keys `build` (one chunk per inner vec, `None` a
/// null) with probe keys `probe`, as (probe index, build row index)
/// pairs, through a table built on them; and the table's int index kind.
fn pairs_through_table(
    build: &[Vec<Option<i64>>],
    probe: &[Option<i64>],
    keep_rows: bool,
) -> (Vec<(usize, usize)>, &'static str) {
    let key = BoundExpr::column(0, None, "k");
    let mut chunks = Vec::new();
    let mut row = 0i64;
    for keys in build {
        let vals: Vec<Value> = keys
            .iter()
            .map(|k| k.map_or(Value::Null, Value::Int))
            .collect();
        // Column 1: the row's index in build order.
        let ids: Vec<Value> = keys
            .iter()
            .map(|_| {
                row += 1;
                Value::Int(row - 1)
            })
            .collect();
        chunks.push(Chunk::new(
            vec![
                Arc::new(Vector::from_values(&vals)),
                Arc::new(Vector::from_values(&ids)),
            ],
            keys.len(),
        ));
    }
    let limits = Limits::none();
    let t = Arc::new(
        BuildTable::build(
            Box::new(Source(chunks)),
            &Kernel::compile(&key).unwrap(),
            &limits,
            keep_rows,
        )
        .unwrap(),
    );
    let kind = match &t.ints {
        Ints::Empty => "empty",
        Ints::Direct { .. } => "direct",
        Ints::Present { .. } => "present",
        Ints::Hashed(_) => "hashed",
    };
    let vals: Vec<Value> = probe
        .iter()
        .map(|k| k.map_or(Value::Null, Value::Int))
        .collect();
    let idx: Vec<Value> = (0..probe.len() as i64).map(Value::Int).collect();
    let chunk = Chunk::new(
        vec![
            Arc::new(Vector::from_values(&vals)),
            Arc::new(Vector::from_values(&idx)),
        ],
        probe.len(),
    );
    let mut op = HashJoin::new(
        Box::new(Source(vec![chunk])),
        BuildSide::Ready(t),
        &key,
        &[],
        keep_rows,
        &limits,
    )
    .unwrap();
    let rows = drain_codes(&mut op).unwrap();
    let pairs = rows
        .iter()
        .map(|r| {
            let at = |i: usize| match r.get(i) {
                Some(Value::Int(x)) => *x as usize,
                _ => usize::MAX,
            };
            (at(1), at(3))
        })
        .collect();
    (pairs, kind)
}

/// The same pairs by nested loops: each probe key's matches in build order.
fn pairs_by_loops(build: &[Vec<Option<i64>>], probe: &[Option<i64>]) -> Vec<(usize, usize)> {
    let all: Vec<Option<i64>> = build.concat();
    let mut out = Vec::new();
    for (i, p) in probe.iter().enumerate() {
        for (j, b) in all.iter().enumerate() {
            if p.is_some() && p == b {
                out.push((i, j));
            }
        }
    }
    out
}

#[test]
fn direct_and_hashed_int_tables_find_the_same_rows() {
    let mut rng = StdRng::seed_from_u64(11);
    let dense: Vec<Vec<Option<i64>>> = vec![
        (0..700).map(|i| Some(i * 2 - 300)).collect(),
        (0..500).map(|i| (i % 9 != 0).then_some(i + 1100)).collect(),
    ];
    let dups: Vec<Vec<Option<i64>>> = vec![
        (0..900)
            .map(|_| (rng.random_range(0..10) != 0).then(|| rng.random_range(-40..40)))
            .collect(),
    ];
    let sparse: Vec<Vec<Option<i64>>> = vec![
        (0..600)
            .map(|i| Some(i * 1_000_003 - 7))
            .chain([Some(i64::MIN), Some(i64::MAX), None])
            .collect(),
    ];
    let extremes: Vec<Vec<Option<i64>>> = vec![vec![Some(i64::MAX - 2), Some(i64::MAX), None]];
    let probe_of = |keys: &[Vec<Option<i64>>], rng: &mut StdRng| -> Vec<Option<i64>> {
        let all: Vec<Option<i64>> = keys.concat();
        let mut p: Vec<Option<i64>> = (0..1500)
            .map(|_| match rng.random_range(0..4) {
                0 => None,
                1 => Some(rng.random_range(-2000..3000)),
                _ => all[rng.random_range(0..all.len())],
            })
            .collect();
        p.extend([Some(i64::MIN), Some(i64::MAX), Some(i64::MIN + 1), Some(0)]);
        p
    };
    let cases = [
        (&dense, "direct", "present"),
        (&dups, "direct", "direct"),
        (&sparse, "hashed", "hashed"),
        (&extremes, "direct", "present"),
    ];
    for (build, with_rows, keys_only) in cases {
        let probe = probe_of(build, &mut rng);
        let want = pairs_by_loops(build, &probe);
        let (got, kind) = pairs_through_table(build, &probe, true);
        assert_eq!(kind, with_rows);
        assert_eq!(got, want, "{kind}");
        // Keys only: each probe row once per match, no build columns.
        let (got, kind) = pairs_through_table(build, &probe, false);
        assert_eq!(kind, keys_only);
        let want: Vec<(usize, usize)> = want.iter().map(|&(i, _)| (i, usize::MAX)).collect();
        assert_eq!(got, want, "{kind}");
    }
}

#[test]
fn keys_only_joins_give_the_probe_side_of_full_joins() {
    for seed in 0..3u64 {
        let mut stmts = random_table("a", seed + 20, 400 + 300 * seed as usize);
        stmts.extend(random_table("b", seed + 120, 100 + 400 * seed as usize));
        stmts.push("create table e { id: int, k: int, f: float, s: string, v: int }".into());
        let (_dir, db) = db(&stmts);
        let (a, b, e) = (table(&db, "a"), table(&db, "b"), table(&db, "e"));
        let limits = Limits::none();
        let width = a.columns.len();
        let cases = [
            (&a, "k", &b, "k"),
            (&a, "k", &b, "f"),
            (&a, "f", &b, "k"),
            (&a, "s", &b, "s"),
            (&a, "k", &b, "id"),
            (&a, "f", &b, "id"),
            (&a, "id", &b, "id"),
            (&a, "k", &e, "k"),
            (&e, "k", &a, "k"),
        ];
        for (l, lk, r, rk) in cases {
            for sizes in [(2048, 2048), (7, 5)] {
                let full = join(&db, (l, lk), (r, rk), &[], sizes, &limits).unwrap();
                let want: Vec<Vec<Value>> = full.iter().map(|row| row[..width].to_vec()).collect();
                let probe = Box::new(Source(scan_all(&db, l, sizes.0)));
                let build = Box::new(Source(scan_all(&db, r, sizes.1)));
                let build =
                    BuildSide::Input(build, Box::new(Kernel::compile(&col(r, rk, 0)).unwrap()));
                let mut op =
                    HashJoin::new(probe, build, &col(l, lk, 0), &[], false, &limits).unwrap();
                let got = drain_codes(&mut op).unwrap();
                assert_eq!(got, want, "{}.{lk} = {}.{rk} {sizes:?}", l.name, r.name);
            }
        }
    }
}

#[test]
fn join_aggregates_and_joined_rows_agree_with_the_oracle() {
    let mut stmts = random_table("a", 31, 1500);
    stmts.extend(random_table("b", 32, 700));
    stmts.extend(random_table("c", 33, 500));
    stmts.push("create table e { id: int, k: int, f: float, s: string, v: int }".into());
    let queries = [
        "select count(*), sum(a.v), avg(a.f), min(a.s), max(a.v) from a join b on a.k = b.k",
        "select count(*), sum(a.f) from a join b on a.f = b.k",
        "select count(*), sum(a.v) from a join b on a.k = b.f",
        "select count(*), max(a.s) from a join b on a.s = b.s",
        "select count(*), sum(a.v), min(a.f) from a join b on a.k = b.id",
        "select count(*), sum(a.v) from a join b on a.f = b.id",
        "select a.k, count(*), sum(a.v) from a join b on a.k = b.id group by a.k",
        "select a.s, count(a.f), avg(a.v) from a join b on a.k = b.k group by a.s",
        "select count(*), sum(b.v) from a join b on a.k = b.k",
        "select count(*), sum(a.v) from a join b on a.k = b.k where a.v < b.v",
        "select count(*), sum(a.v) from a join e on a.k = e.k",
        "select count(*), sum(e.v) from e join a on e.k = a.k",
        "select count(*) from a join b on a.k = b.k join e on b.k = e.k",
        // Chains whose aggregate and keys read the first table only: each
        // join keys only; and ones reading a middle table's columns.
        "select count(*), sum(a.v), max(a.s) from a join b on a.k = b.id join c on a.id = c.k",
        "select a.s, count(*), sum(a.f) from a join b on a.f = b.id join c on a.k = c.f group by a.s",
        "select count(*), sum(a.v) from a join b on a.k = b.id join c on a.id = c.id join e on a.k = e.k",
        "select count(*), sum(a.v) from a join b on a.k = b.id join c on b.k = c.k",
        "select count(*), sum(b.v) from a join b on a.k = b.id join c on a.id = c.k",
        "select count(*), min(c.s) from a join b on a.k = b.id join c on a.id = c.k",
        // Joined rows in order: each probe row's matches in build order,
        // also when the build side was read in parts.
        "select * from a join b on a.k = b.k",
        "select a.id, b.id from a join b on a.s = b.s",
    ];
    for columnar in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let opts = crate::Options::memory().with_columnar(columnar);
        let vdb = Database::open(dir.path(), opts).unwrap();
        for s in &stmts {
            vdb.execute(s).unwrap();
        }
        let (_dir, db) = db(&stmts);
        // The engine's answer, as the oracle's is given.
        let engine = |q: &str, opts: ExecOptions| match vdb.execute_with(q, opts) {
            Ok(crate::Output::Rows { rows, .. }) => Ok(rows),
            Ok(other) => panic!("{q}: {other:?}"),
            Err(e) => Err(e.code()),
        };
        for q in queries {
            let want = rows_of(&db, q, no_indexes());
            assert_eq!(
                engine(q, ExecOptions::default()),
                want,
                "{q} (columnar {columnar})"
            );
            assert_eq!(
                engine(q, no_indexes()),
                want,
                "{q} (columnar {columnar}, no indexes)"
            );
        }
    }
}

/// The plan of `query` over `db` with hash joins built on the input its
/// rows say is smaller, as the database plans it.
fn sized_plan(db: &Database, query: &str, opts: ExecOptions) -> Physical {
    let crate::ast::Statement::Select(s) = crate::parser::parse(query).unwrap() else {
        panic!("{query}: not a select");
    };
    let bound = crate::plan::bind::bind_select(&db.catalog(), &s).unwrap();
    let snap = db.kv().snapshot();
    let sizes = |t: &Table, a: &Access| estimate_rows(&snap, t, a);
    let popts = crate::plan::choose::PlanOptions {
        use_indexes: opts.use_indexes,
    };
    crate::plan::choose::physical_sized(bound.plan, popts, Some(&sizes)).unwrap()
}

/// Whether some hash join of `plan` builds on its left input.
fn builds_left(plan: &Physical) -> bool {
    matches!(
        plan,
        Physical::HashJoin {
            build_left: true,
            ..
        }
    ) || plan.children().into_iter().any(builds_left)
}

/// `rows` in a fixed order, to compare as multisets.
fn sorted(mut rows: Vec<Vec<Value>>) -> Vec<Vec<Value>> {
    rows.sort_by_cached_key(|r| format!("{r:?}"));
    rows
}

#[test]
fn joins_built_on_the_smaller_left_input_agree_with_the_oracle() {
    // `s` has far fewer rows than `a`, so joins that name `s` first build
    // on it; keys repeat on both sides (many-to-many), with nulls, ints,
    // integral floats and empty strings.
    for seed in 0..2u64 {
        let mut stmts = random_table("s", seed + 40, 30 + 40 * seed as usize);
        stmts.extend(random_table("a", seed + 140, 300 + 100 * seed as usize));
        stmts.extend(random_table("b", seed + 240, 900));
        let queries = [
            "select * from s join a on s.k = a.k",
            "select * from s join a on s.f = a.k",
            "select * from s join a on s.k = a.f",
            "select * from s join a on s.s = a.s",
            "select * from s join a on s.id = a.k",
            "select * from s join a on s.k = a.id",
            "select s.id, a.id, a.v - s.v from s join a on s.k = a.k where s.v < a.v",
            "select a.id, s.s from s join a on s.k = a.k where a.v > 50 and s.v < 50",
            "select count(*), sum(a.v), avg(a.f), min(a.s), max(a.v) from s join a on s.k = a.k",
            "select count(*), sum(s.v), max(s.s) from s join a on s.s = a.s",
            "select a.k, count(*), sum(a.v) from s join a on s.k = a.k group by a.k",
            "select s.s, count(*), sum(a.v), min(s.f) from s join a on s.k = a.k group by s.s",
            // Chains: the join of s and a built on again, under b.
            "select s.id, a.id, b.id from s join a on s.k = a.k join b on a.id = b.k",
            "select count(*), sum(b.v) from s join a on s.k = a.k join b on a.id = b.k",
        ];
        for columnar in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let opts = crate::Options::memory().with_columnar(columnar);
            let vdb = Database::open(dir.path(), opts).unwrap();
            for s in &stmts {
                vdb.execute(s).unwrap();
            }
            let tables = crate::exec::oracle::stored_tables(&vdb).unwrap();
            for q in queries {
                for opts in [ExecOptions::default(), no_indexes()] {
                    let got = match vdb.execute_with(q, opts.clone()) {
                        Ok(crate::Output::Rows { rows, .. }) => rows,
                        other => panic!("{q}: {other:?}"),
                    };
                    // The same plan, interpreted: the same rows in the same
                    // order.
                    let plan = sized_plan(&vdb, q, opts.clone());
                    assert!(builds_left(&plan), "{q}: builds on the joined table");
                    let want = crate::exec::oracle::run(&plan, &tables, &Limits::none()).unwrap();
                    assert_eq!(got, want, "{q} (columnar {columnar})");
                    // The plan as written (building on the joined table):
                    // the same rows, in its own order.
                    let written = rows_of(&vdb, q, opts).unwrap();
                    assert_eq!(sorted(got), sorted(written), "{q} (columnar {columnar})");
                }
            }
        }
    }
}

#[test]
fn keys_only_chains_count_and_sum_the_joined_rows() {
    // Checked against the joined rows themselves (a plan without an
    // aggregate keeps every column), not against the oracle, which runs
    // the same keys-only plan.
    let mut stmts = random_table("a", 51, 1500);
    stmts.extend(random_table("b", 52, 700));
    stmts.extend(random_table("c", 53, 500));
    stmts.extend(random_table("d", 54, 400));
    let (_dir, db) = db(&stmts);
    let chains = [
        ("a.v", "a join b on a.k = b.id join c on a.id = c.k"),
        ("a.v", "a join b on a.k = b.id join c on b.k = c.k"),
        ("a.v", "a join b on a.f = b.k join c on a.k = c.f"),
        ("b.v", "a join b on a.k = b.id join c on a.id = c.k"),
        ("a.id", "a join b on a.s = b.s join c on a.id = c.id"),
        (
            "a.v",
            "a join b on a.k = b.id join c on a.id = c.k join d on b.id = d.k",
        ),
        (
            "a.v",
            "a join b on a.k = b.id join c on b.k = c.k join d on a.id = d.k",
        ),
    ];
    let rows = |q: &str| match db.execute(q) {
        Ok(crate::Output::Rows { rows, .. }) => rows,
        other => panic!("{q}: {other:?}"),
    };
    for (x, chain) in chains {
        let joined = rows(&format!("select {x} from {chain}"));
        let sum: i64 = joined
            .iter()
            .map(|r| match r[0] {
                Value::Int(v) => v,
                _ => 0,
            })
            .sum();
        let want = vec![vec![
            Value::Int(joined.len() as i64),
            if joined.is_empty() {
                Value::Null
            } else {
                Value::Int(sum)
            },
        ]];
        let q = format!("select count(*), sum({x}) from {chain}");
        assert_eq!(rows(&q), want, "{q}");
    }
}

/// Left-joins `a` (probe) and `b` (build) on `ka = kb`.
fn left_join(
    db: &Database,
    (a, ka): (&Table, &str),
    (b, kb): (&Table, &str),
    sizes: (usize, usize),
    limits: &Limits,
) -> std::result::Result<Vec<Vec<Value>>, ErrorCode> {
    let probe = Box::new(Source(scan_all(db, a, sizes.0)));
    let build = Box::new(Source(scan_all(db, b, sizes.1)));
    let build = BuildSide::Input(build, Box::new(Kernel::compile(&col(b, kb, 0)).unwrap()));
    let mut op = HashJoin::new(probe, build, &col(a, ka, 0), &[], true, limits)
        .unwrap()
        .with_left_outer(true, b.columns.len());
    drain_codes(&mut op)
}

#[test]
fn left_joins_agree_with_the_oracle() {
    for seed in 0..3u64 {
        let mut stmts = random_table("a", seed + 20, 300 + 200 * seed as usize);
        stmts.extend(random_table("b", seed + 120, 150 + 300 * seed as usize));
        stmts.push("create table e { id: int, k: int, f: float, s: string, v: int }".into());
        let (_dir, db) = db(&stmts);
        let (a, b, e) = (table(&db, "a"), table(&db, "b"), table(&db, "e"));
        let limits = Limits::none();
        for (l, lk, r, rk) in [
            (&a, "k", &b, "k"),
            (&a, "f", &b, "k"),
            (&a, "s", &b, "s"),
            // At most one match per probe row.
            (&a, "k", &b, "id"),
            (&a, "f", &b, "id"),
            // Nothing to match.
            (&a, "k", &e, "k"),
        ] {
            let query = format!(
                "select * from {0} left join {1} on {0}.{lk} = {1}.{rk}",
                l.name, r.name
            );
            let want = rows_of(&db, &query, no_indexes()).unwrap();
            let inner = rows_of(&db, &query.replace(" left", ""), no_indexes()).unwrap();
            // Every probe row at least once, nulls where nothing matched.
            assert!(want.len() > inner.len() && want.len() >= l.columns.len());
            let width = l.columns.len();
            assert!(
                want.iter()
                    .any(|row| row[width..].iter().all(Value::is_null))
            );
            for sizes in [(2048, 2048), (7, 5), (64, 1)] {
                let got = left_join(&db, (l, lk), (r, rk), sizes, &limits);
                assert_eq!(got.as_ref(), Ok(&want), "{query} (chunks {sizes:?})");
            }
        }
    }
}

#[test]
fn a_left_join_keeps_unmatched_rows_past_a_chunk_in_order() {
    // Rows of `a` alternate between three matches and none: the output
    // spans several chunks, each unmatched row once, in probe order.
    let mut stmts = vec![
        "create table a { id: int, k: int }".to_string(),
        "create table b { id: int, k: int }".to_string(),
    ];
    let rows: Vec<String> = (1..=3000)
        .map(|i| format!("{{ id: {i}, k: {} }}", i % 2))
        .collect();
    stmts.push(format!("insert a [ {} ]", rows.join(", ")));
    stmts.push("insert b [ { id: 1, k: 1 }, { id: 2, k: 1 }, { id: 3, k: 1 } ]".into());
    let (_dir, db) = db(&stmts);
    let (a, b) = (table(&db, "a"), table(&db, "b"));
    let limits = Limits::none();
    let got = left_join(&db, (&a, "k"), (&b, "k"), (2048, 2048), &limits).unwrap();
    assert_eq!(got.len(), 1500 * 3 + 1500);
    let mut expected = Vec::new();
    for i in 1..=3000i64 {
        if i % 2 == 1 {
            for j in 1..=3 {
                expected.push(vec![
                    Value::Int(i),
                    Value::Int(1),
                    Value::Int(j),
                    Value::Int(1),
                ]);
            }
        } else {
            expected.push(vec![Value::Int(i), Value::Int(0), Value::Null, Value::Null]);
        }
    }
    assert_eq!(got, expected);
}
