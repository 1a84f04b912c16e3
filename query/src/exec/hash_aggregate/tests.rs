//! The hash aggregate against the oracle (`exec/oracle.rs`): the same table, the same
//! groups and aggregates through `select … group by` and through the
//! operator over the table's chunks, serial and in parts.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::exec::test_tables::{col, db, drain_codes, rows_of, scan, scan_all, scan_parts, table};
use crate::exec::tests::Source;
use crate::{ErrorCode, ExecOptions};

/// Statements making table `t` of `n` random rows: every type, nulls,
/// a small key domain, and a json field `v` holding ints and floats
/// (`1` and `1.0` both occur).
fn random_table(seed: u64, n: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = vec![
        "create table t { id: int, k: int, f: float, s: string, b: bool, j: json, x: int }"
            .to_string(),
    ];
    let mut rows = Vec::new();
    for id in 1..=n {
        let mut fields = vec![format!("id: {id}")];
        let mut maybe = |name: &str, v: String, rng: &mut StdRng| {
            if rng.random_range(0..6) != 0 {
                fields.push(format!("{name}: {v}"));
            }
        };
        let k = rng.random_range(0..5);
        maybe("k", k.to_string(), &mut rng);
        let f = f64::from(rng.random_range(-10..10)) / 2.0;
        maybe("f", format!("{f:?}"), &mut rng);
        let s = ["\"a\"", "\"b\"", "\"c\""][rng.random_range(0..3)];
        maybe("s", s.to_string(), &mut rng);
        let b = rng.random_bool(0.5);
        maybe("b", b.to_string(), &mut rng);
        let v = rng.random_range(0..3);
        let jv = if rng.random_bool(0.5) {
            format!("{v}")
        } else {
            format!("{v}.0")
        };
        maybe("j", format!("{{ v: {jv} }}"), &mut rng);
        let x = rng.random_range(-100..100);
        maybe("x", x.to_string(), &mut rng);
        rows.push(format!("{{ {} }}", fields.join(", ")));
    }
    for part in rows.chunks(500) {
        out.push(format!("insert t [ {} ]", part.join(", ")));
    }
    out
}

fn path(base: BoundExpr, field: &str) -> BoundExpr {
    BoundExpr::Path {
        base: Box::new(base),
        path: vec![field.to_string()],
    }
}

fn agg(func: AggFunc, arg: Option<BoundExpr>) -> AggCall {
    AggCall {
        func,
        arg,
        distinct: false,
    }
}

/// Runs the aggregate over `chunks` split into `parts` (one pipeline
/// when 1).
fn run_parts(
    parts: Vec<Vec<Chunk>>,
    keys: &[BoundExpr],
    aggs: &[AggCall],
    limits: &Limits,
) -> std::result::Result<Vec<Vec<Value>>, ErrorCode> {
    let input = if parts.len() == 1 {
        let chunks = parts.into_iter().flatten().collect();
        Input::One(Box::new(Source(chunks)))
    } else {
        let n = parts.len();
        Input::Parts(
            n,
            Box::new(move |i| Ok(Box::new(Source(parts[i].clone())) as BoxOp<'_>)),
        )
    };
    let mut op = HashAggregate::new(input, keys, aggs, limits).unwrap();
    drain_codes(&mut op)
}

#[test]
fn groups_and_aggregates_agree_with_the_oracle() {
    for seed in 0..3u64 {
        let (_dir, db) = db(&random_table(seed, 700 + seed as usize * 900));
        let t = table(&db, "t");
        let c = |n: &str| col(&t, n, 0);
        let jv = || path(c("j"), "v");
        let aggs_text = "count(*), count(x), sum(x), sum(f), avg(x), avg(f), min(x), max(x), \
                         min(s), max(s), min(f), max(b), min(j.v), max(j.v), sum(j.v), \
                         avg(j.v), count(j), min(j), max(j)";
        let aggs = vec![
            agg(AggFunc::Count, None),
            agg(AggFunc::Count, Some(c("x"))),
            agg(AggFunc::Sum, Some(c("x"))),
            agg(AggFunc::Sum, Some(c("f"))),
            agg(AggFunc::Avg, Some(c("x"))),
            agg(AggFunc::Avg, Some(c("f"))),
            agg(AggFunc::Min, Some(c("x"))),
            agg(AggFunc::Max, Some(c("x"))),
            agg(AggFunc::Min, Some(c("s"))),
            agg(AggFunc::Max, Some(c("s"))),
            agg(AggFunc::Min, Some(c("f"))),
            agg(AggFunc::Max, Some(c("b"))),
            agg(AggFunc::Min, Some(jv())),
            agg(AggFunc::Max, Some(jv())),
            agg(AggFunc::Sum, Some(jv())),
            agg(AggFunc::Avg, Some(jv())),
            agg(AggFunc::Count, Some(c("j"))),
            agg(AggFunc::Min, Some(c("j"))),
            agg(AggFunc::Max, Some(c("j"))),
        ];
        let key_sets: Vec<(&str, Vec<BoundExpr>)> = vec![
            ("", vec![]),
            ("k", vec![c("k")]),
            ("f", vec![c("f")]),
            ("s", vec![c("s")]),
            ("b", vec![c("b")]),
            ("j", vec![c("j")]),
            ("j.v", vec![jv()]),
            ("k, s", vec![c("k"), c("s")]),
            ("s, j.v, b", vec![c("s"), jv(), c("b")]),
        ];
        let limits = Limits::none();
        for (text, keys) in &key_sets {
            let query = if text.is_empty() {
                format!("select {aggs_text} from t")
            } else {
                format!("select {text}, {aggs_text} from t group by {text}")
            };
            let want = rows_of(&db, &query, ExecOptions::default()).unwrap();
            for (size, parts) in [(2048, 1), (7, 1), (100, 5), (33, 3)] {
                let got = run_parts(scan(&db, &t, size, parts), keys, &aggs, &limits);
                assert_eq!(
                    got.as_ref(),
                    Ok(&want),
                    "{query} (chunks of {size}, {parts} parts)"
                );
            }
        }
    }
}

#[test]
fn empty_input_gives_one_row_without_keys_and_none_with_keys() {
    let (_dir, db) = db(&["create table t { id: int, x: int }".to_string()]);
    let t = table(&db, "t");
    let aggs = vec![
        agg(AggFunc::Count, None),
        agg(AggFunc::Count, Some(col(&t, "x", 0))),
        agg(AggFunc::Sum, Some(col(&t, "x", 0))),
        agg(AggFunc::Avg, Some(col(&t, "x", 0))),
        agg(AggFunc::Min, Some(col(&t, "x", 0))),
        agg(AggFunc::Max, Some(col(&t, "x", 0))),
    ];
    let limits = Limits::none();
    let want = rows_of(
        &db,
        "select count(*), count(x), sum(x), avg(x), min(x), max(x) from t",
        ExecOptions::default(),
    )
    .unwrap();
    assert_eq!(
        want,
        vec![vec![
            Value::Int(0),
            Value::Int(0),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null
        ]]
    );
    for parts in [1, 4] {
        let chunks = vec![Vec::new(); parts];
        assert_eq!(run_parts(chunks, &[], &aggs, &limits), Ok(want.clone()));
        let chunks = vec![Vec::new(); parts];
        let keys = [col(&t, "x", 0)];
        assert_eq!(run_parts(chunks, &keys, &aggs, &limits), Ok(Vec::new()));
    }
}

/// Rows of `t { id, a: int, j: json }`.
fn error_table(rows: &[(i64, &str)]) -> Vec<String> {
    let mut out = vec!["create table t { id: int, a: int, j: json }".to_string()];
    for (i, (a, j)) in rows.iter().enumerate() {
        out.push(format!("insert t [ {{ id: {}, a: {a}, j: {j} }} ]", i + 1));
    }
    out
}

#[test]
fn errors_are_the_oracles_first() {
    let max = i64::MAX;
    let cases: Vec<(Vec<(i64, &str)>, &str)> = vec![
        // The sum overflows at the second row, avg meets a string at the
        // third: the overflow comes first, whatever the order of the
        // aggregates.
        (
            vec![(max, "{ v: 1 }"), (1, "{ v: 2 }"), (0, "{ v: \"x\" }")],
            "sum(a), avg(j.v)",
        ),
        (
            vec![(max, "{ v: 1 }"), (1, "{ v: 2 }"), (0, "{ v: \"x\" }")],
            "avg(j.v), sum(a)",
        ),
        // The string comes first.
        (
            vec![(max, "{ v: \"x\" }"), (1, "{ v: 2 }")],
            "sum(a), avg(j.v)",
        ),
        (vec![(1, "{ v: true }")], "sum(j.v)"),
        (vec![(1, "{ v: [1] }")], "avg(j.v)"),
        // An argument that fails to evaluate at the second row, where the
        // aggregate before it overflows.
        (
            vec![(1, "{ v: 1 }"), (max, "{ v: \"x\" }")],
            "sum(a), sum(a + j.v)",
        ),
        (
            vec![(1, "{ v: 1 }"), (1, "{ v: \"x\" }"), (max, "{ v: 2 }")],
            "sum(a), sum(a + j.v)",
        ),
    ];
    let limits = Limits::none();
    for (rows, aggs_text) in cases {
        let (_dir, db) = db(&error_table(&rows));
        let t = table(&db, "t");
        let a = || col(&t, "a", 0);
        let jv = || path(col(&t, "j", 0), "v");
        let aggs: Vec<AggCall> = aggs_text
            .split(", ")
            .map(|s| match s {
                "sum(a)" => agg(AggFunc::Sum, Some(a())),
                "avg(j.v)" => agg(AggFunc::Avg, Some(jv())),
                "sum(j.v)" => agg(AggFunc::Sum, Some(jv())),
                "sum(a + j.v)" => agg(
                    AggFunc::Sum,
                    Some(BoundExpr::Binary {
                        op: crate::ast::BinaryOp::Add,
                        left: Box::new(a()),
                        right: Box::new(jv()),
                    }),
                ),
                other => panic!("{other}"),
            })
            .collect();
        // `where id > 0` makes the plan scan a key range, in one
        // piece; without it, it splits the scan into parts as
        // `partitions` does.
        for (keys, group) in [(vec![], ""), (vec![a()], " group by a")] {
            let items = if group.is_empty() {
                aggs_text.to_string()
            } else {
                format!("a, {aggs_text}")
            };
            let query = format!("select {items} from t where id > 0{group}");
            let want = rows_of(&db, &query, ExecOptions::default());
            assert!(want.is_err(), "{query}: {want:?}");
            let got = run_parts(vec![scan_all(&db, &t, 2048)], &keys, &aggs, &limits);
            assert_eq!(got, want, "{query}");
            let query = format!("select {items} from t{group}");
            let want = rows_of(&db, &query, ExecOptions::default());
            let got = run_parts(scan_parts(&db, &t, 2048), &keys, &aggs, &limits);
            assert_eq!(got, want, "{query}");
        }
    }
}

#[test]
fn overflow_in_merge_of_parts_fails() {
    let (_dir, db) = db(&error_table(&[(i64::MAX, "{ v: 1 }"), (1, "{ v: 1 }")]));
    let t = table(&db, "t");
    let aggs = [agg(AggFunc::Sum, Some(col(&t, "a", 0)))];
    let got = run_parts(scan(&db, &t, 1, 2), &[], &aggs, &Limits::none());
    assert_eq!(got, Err(ErrorCode::NumericOverflow));
}

#[test]
fn many_groups_pass_the_memory_limit() {
    let mut stmts = vec!["create table t { id: int, s: string }".to_string()];
    let rows: Vec<String> = (1..=5000)
        .map(|i| format!("{{ id: {i}, s: \"group number {i}\" }}"))
        .collect();
    stmts.push(format!("insert t [ {} ]", rows.join(", ")));
    let (_dir, db) = db(&stmts);
    let t = table(&db, "t");
    let opts = ExecOptions::default().with_memory_limit(Some(64 << 10));
    let want = rows_of(&db, "select s, count(*) from t group by s", opts.clone());
    assert_eq!(want, Err(ErrorCode::MemoryLimit));
    let aggs = [agg(AggFunc::Count, None)];
    for keys in [vec![col(&t, "s", 0)], vec![col(&t, "id", 0)]] {
        for parts in [1, 4] {
            let limits = Limits::new(&opts);
            let got = run_parts(scan(&db, &t, 2048, parts), &keys, &aggs, &limits);
            assert_eq!(got, Err(ErrorCode::MemoryLimit));
        }
    }
    // Within the limit, the same groups succeed.
    let limits = Limits::new(&ExecOptions::default().with_memory_limit(Some(64 << 20)));
    let got = run_parts(scan(&db, &t, 2048, 1), &[col(&t, "id", 0)], &aggs, &limits);
    assert_eq!(got.map(|r| r.len()), Ok(5000));
}

#[test]
fn count_of_rows_counts_the_rows_in_play() {
    let (_dir, db) = db(&random_table(11, 3000));
    let t = table(&db, "t");
    let limits = Limits::none();
    let cond = BoundExpr::Binary {
        op: crate::ast::BinaryOp::Gt,
        left: Box::new(col(&t, "x", 0)),
        right: Box::new(BoundExpr::Literal(Value::Int(10))),
    };
    let want = rows_of(
        &db,
        "select count(*), count(*) from t where x > 10",
        ExecOptions::default(),
    )
    .unwrap();
    for size in [2048, 100] {
        let src = Box::new(Source(scan_all(&db, &t, size)));
        let filtered =
            crate::exec::filter::Filter::new(src, std::slice::from_ref(&cond), &limits).unwrap();
        let aggs = [agg(AggFunc::Count, None), agg(AggFunc::Count, None)];
        let mut op =
            HashAggregate::new(Input::One(Box::new(filtered)), &[], &aggs, &limits).unwrap();
        assert_eq!(drain_codes(&mut op), Ok(want.clone()));
    }
}

/// Statements making table `t` of `n` random rows without nulls: an int
/// key of a small range, ints big enough to overflow a sum now and then
/// (`big`), and floats whose sum depends on the order of addition.
fn no_null_table(seed: u64, n: usize, big: bool) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = vec!["create table t { id: int, k: int, x: int, f: float }".to_string()];
    let rows: Vec<String> = (1..=n)
        .map(|id| {
            let k = rng.random_range(-3..40);
            let x: i64 = if big {
                rng.random_range(i64::MAX / 400..i64::MAX / 200)
            } else {
                rng.random_range(-1000..1000)
            };
            let f = rng.random_range(-1.0e6..1.0e6) / 3.0;
            format!("{{ id: {id}, k: {k}, x: {x}, f: {f:?} }}")
        })
        .collect();
    for part in rows.chunks(500) {
        out.push(format!("insert t [ {} ]", part.join(", ")));
    }
    out
}

#[test]
fn typed_loops_without_nulls_agree_with_the_oracle_with_and_without_a_filter() {
    for (seed, big) in [(1u64, false), (2, false), (3, true)] {
        let n = if big { 1500 } else { 5000 };
        let (_dir, db) = db(&no_null_table(seed, n, big));
        let t = table(&db, "t");
        let c = |n: &str| col(&t, n, 0);
        let aggs_text = "count(*), count(x), sum(x), sum(f), avg(x), avg(f), min(x), max(x)";
        let aggs = vec![
            agg(AggFunc::Count, None),
            agg(AggFunc::Count, Some(c("x"))),
            agg(AggFunc::Sum, Some(c("x"))),
            agg(AggFunc::Sum, Some(c("f"))),
            agg(AggFunc::Avg, Some(c("x"))),
            agg(AggFunc::Avg, Some(c("f"))),
            agg(AggFunc::Min, Some(c("x"))),
            agg(AggFunc::Max, Some(c("x"))),
        ];
        // `k > 5 and k < 20` selects rows scattered over each chunk: the
        // loops over a selection.
        let cmp = |op, v| BoundExpr::Binary {
            op,
            left: Box::new(c("k")),
            right: Box::new(BoundExpr::Literal(Value::Int(v))),
        };
        let cond = BoundExpr::Binary {
            op: crate::ast::BinaryOp::And,
            left: Box::new(cmp(crate::ast::BinaryOp::Gt, 5)),
            right: Box::new(cmp(crate::ast::BinaryOp::Lt, 20)),
        };
        let limits = Limits::none();
        for (group, keys) in [("", vec![]), (" group by k", vec![c("k")])] {
            for filtered in [false, true] {
                let items = if group.is_empty() {
                    aggs_text.to_string()
                } else {
                    format!("k, {aggs_text}")
                };
                // `id > 0`: one serial key-range scan, so float sums
                // add in row order as the operator's below do.
                let cond_text = if filtered {
                    " where id > 0 and k > 5 and k < 20"
                } else {
                    " where id > 0"
                };
                let query = format!("select {items} from t{cond_text}{group}");
                let want = rows_of(&db, &query, ExecOptions::default());
                if big && group.is_empty() {
                    // The whole column's sum overflows (a group's does not).
                    assert_eq!(want, Err(ErrorCode::NumericOverflow), "{query}");
                } else {
                    assert!(want.is_ok(), "{query}: {want:?}");
                }
                for size in [2048, 100] {
                    let src: BoxOp<'_> = Box::new(Source(scan_all(&db, &t, size)));
                    let input: BoxOp<'_> = if filtered {
                        Box::new(
                            crate::exec::filter::Filter::new(
                                src,
                                std::slice::from_ref(&cond),
                                &limits,
                            )
                            .unwrap(),
                        )
                    } else {
                        src
                    };
                    let mut op =
                        HashAggregate::new(Input::One(input), &keys, &aggs, &limits).unwrap();
                    assert_eq!(drain_codes(&mut op), want, "{query} (chunks of {size})");
                }
            }
        }
    }
}

/// Statements making table `t` of `n` rows keyed by strings: nulls, empty
/// strings, long strings, strings that are prefixes of others, non-ASCII
/// text and many distinct values.
fn string_table(seed: u64, n: usize, distinct: usize) -> Vec<String> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = vec!["create table t { id: int, s: string, x: int, f: float }".to_string()];
    let mut rows = Vec::new();
    for id in 1..=n {
        let mut fields = vec![format!("id: {id}")];
        let d = rng.random_range(0..distinct);
        let s = match rng.random_range(0..8) {
            0 => None,
            1 => Some(String::new()),
            2 => Some(format!("{}{d}", "long text ".repeat(40 + d % 7))),
            3 => Some("ab".repeat(1 + d % 3)),
            4 => Some(format!("é{d}ü")),
            _ => Some(format!("k{d}")),
        };
        if let Some(s) = s {
            fields.push(format!("s: \"{s}\""));
        }
        fields.push(format!("x: {}", rng.random_range(-50..50)));
        fields.push(format!("f: {:?}", f64::from(rng.random_range(0..20)) / 4.0));
        rows.push(format!("{{ {} }}", fields.join(", ")));
    }
    for part in rows.chunks(500) {
        out.push(format!("insert t [ {} ]", part.join(", ")));
    }
    out
}

#[test]
fn string_keys_agree_with_the_oracle() {
    for (seed, n, distinct) in [(1u64, 600, 5), (2, 3000, 2000), (3, 2500, 40)] {
        let (_dir, db) = db(&string_table(seed, n, distinct));
        let t = table(&db, "t");
        let c = |n: &str| col(&t, n, 0);
        let aggs = vec![
            agg(AggFunc::Count, None),
            agg(AggFunc::Sum, Some(c("x"))),
            agg(AggFunc::Min, Some(c("s"))),
            agg(AggFunc::Max, Some(c("f"))),
        ];
        let query = "select s, count(*), sum(x), min(s), max(f) from t group by s";
        let want = rows_of(&db, query, ExecOptions::default()).unwrap();
        let limits = Limits::none();
        for (size, parts) in [(2048, 1), (7, 1), (100, 5), (33, 3)] {
            let got = run_parts(scan(&db, &t, size, parts), &[c("s")], &aggs, &limits);
            assert_eq!(
                got.as_ref(),
                Ok(&want),
                "{query} (seed {seed}, chunks of {size}, {parts} parts)"
            );
        }
        // Through the database too, on row and columnar blocks.
        for columnar in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let opts = crate::Options::memory().with_columnar(columnar);
            let vdb = crate::database::Database::open(dir.path(), opts).unwrap();
            for s in string_table(seed, n, distinct) {
                vdb.execute(&s).unwrap();
            }
            let got = match vdb.execute(query) {
                Ok(crate::Output::Rows { rows, .. }) => rows,
                other => panic!("{query}: {other:?}"),
            };
            assert_eq!(got, want, "{query} (seed {seed}, columnar {columnar})");
        }
    }
}

#[test]
fn distinct_aggregates_agree_with_the_oracle_serial_and_in_parts() {
    let d = |func: AggFunc, arg: BoundExpr| AggCall {
        func,
        arg: Some(arg),
        distinct: true,
    };
    for seed in 0..2u64 {
        let (_dir, db) = db(&random_table(seed + 40, 900 + seed as usize * 700));
        let t = table(&db, "t");
        let c = |n: &str| col(&t, n, 0);
        let jv = || path(c("j"), "v");
        let aggs_text = "count(distinct x), sum(distinct x), avg(distinct f), count(distinct s), \
                         count(distinct j.v), sum(distinct j.v), min(distinct x), count(*), count(x)";
        let aggs = vec![
            d(AggFunc::Count, c("x")),
            d(AggFunc::Sum, c("x")),
            d(AggFunc::Avg, c("f")),
            d(AggFunc::Count, c("s")),
            d(AggFunc::Count, jv()),
            d(AggFunc::Sum, jv()),
            d(AggFunc::Min, c("x")),
            agg(AggFunc::Count, None),
            agg(AggFunc::Count, Some(c("x"))),
        ];
        let limits = Limits::none();
        for (text, keys) in [
            ("", vec![]),
            ("k", vec![c("k")]),
            ("s, b", vec![c("s"), c("b")]),
        ] {
            let query = if text.is_empty() {
                format!("select {aggs_text} from t")
            } else {
                format!("select {text}, {aggs_text} from t group by {text}")
            };
            let want = rows_of(&db, &query, ExecOptions::default()).unwrap();
            // A distinct count is at most the plain one, and repeats occur.
            let (dc, cx) = (keys.len(), keys.len() + 8);
            assert!(want.iter().all(|r| r[dc].sort_cmp(&r[cx]).is_le()));
            assert!(want.iter().any(|r| r[dc] != r[cx]), "{query}");
            for (size, parts) in [(2048, 1), (7, 1), (100, 5), (33, 3)] {
                let got = run_parts(scan(&db, &t, size, parts), &keys, &aggs, &limits);
                assert_eq!(
                    got.as_ref(),
                    Ok(&want),
                    "{query} (chunks of {size}, {parts} parts)"
                );
            }
        }
    }
}

#[test]
fn many_distinct_values_pass_the_memory_limit() {
    // One group, 5000 distinct strings held by `count(distinct s)`.
    let mut stmts = vec!["create table t { id: int, s: string }".to_string()];
    let rows: Vec<String> = (1..=5000)
        .map(|i| format!("{{ id: {i}, s: \"distinct value number {i}\" }}"))
        .collect();
    stmts.push(format!("insert t [ {} ]", rows.join(", ")));
    let (_dir, db) = db(&stmts);
    let t = table(&db, "t");
    let counted = [AggCall {
        func: AggFunc::Count,
        arg: Some(col(&t, "s", 0)),
        distinct: true,
    }];
    let opts = ExecOptions::default().with_memory_limit(Some(64 << 10));
    for parts in [1, 4] {
        let limits = Limits::new(&opts);
        let got = run_parts(scan(&db, &t, 2048, parts), &[], &counted, &limits);
        assert_eq!(got, Err(ErrorCode::MemoryLimit), "{parts} parts");
    }
    // Within the limit it counts them; a plain count holds nothing.
    let limits = Limits::new(&ExecOptions::default().with_memory_limit(Some(64 << 20)));
    let got = run_parts(scan(&db, &t, 2048, 1), &[], &counted, &limits);
    assert_eq!(got, Ok(vec![vec![Value::Int(5000)]]));
    let limits = Limits::new(&opts);
    let plain = [agg(AggFunc::Count, Some(col(&t, "s", 0)))];
    let got = run_parts(scan(&db, &t, 2048, 1), &[], &plain, &limits);
    assert_eq!(got, Ok(vec![vec![Value::Int(5000)]]));
}
