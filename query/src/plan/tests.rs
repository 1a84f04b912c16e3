//! Binding and planning tests: errors and output columns, access paths and
//! join strategies, `explain` text, the `explain analyze` figures, and the
//! engine's rows against the oracle's (`exec/oracle.rs`).

use std::sync::atomic::Ordering;

use crate::ast::Statement;
use crate::database::{Database, Options};
use crate::error::ErrorCode;
use crate::exec::ExecCtx;
use crate::exec::oracle;
use crate::limits::Limits;
use crate::output::Output;
use crate::plan::bind::bind_select;
use crate::plan::choose::PlanOptions;
use crate::plan::choose::{physical, plan_rows};
use crate::plan::explain::{explain, explain_analyze};
use crate::plan::physical::{Access, Physical};

const INDEXES: PlanOptions = PlanOptions { use_indexes: true };

/// The schema of the plan snapshots (tests/explain/fixtures), on the
/// vectorised engine.
fn db() -> Database {
    let db = Database::open("/nonexistent/plan-tests", Options::memory()).unwrap();
    for s in [
        "create table t { id: int, email: string, age: int, score: float, doc: json }",
        "create index idx_email on t (email)",
        "create index idx_age on t (age)",
        "create table o { id: int, t_id: int, email: string }",
        "create table items { id: int, o_id: int, sku: string }",
    ] {
        db.execute(s).unwrap();
    }
    db
}

/// The select in `text`.
fn select(text: &str) -> crate::ast::Select {
    match crate::parser::parse(text).unwrap() {
        Statement::Select(s) => *s,
        other => panic!("not a select: {other}"),
    }
}

/// The physical plan of `text`.
fn plan(db: &Database, text: &str, opts: PlanOptions) -> crate::error::Result<Physical> {
    let bound = bind_select(&db.catalog(), &select(text))?;
    physical(bound.plan, opts)
}

/// `explain TEXT` through the database.
fn explained(db: &Database, text: &str) -> String {
    match db.execute(&format!("explain {text}")).unwrap() {
        Output::Plan(p) => p,
        other => panic!("not a plan: {other:?}"),
    }
}

/// The driving scan's access path.
fn access(p: &Physical) -> &Access {
    match p {
        Physical::Scan { access, .. } | Physical::ScanAggregate { access, .. } => access,
        other => access(other.children()[0]),
    }
}

#[test]
fn binding_errors_and_output_columns() {
    use ErrorCode::*;
    let db = db();
    let cat = db.catalog();
    let long_like = format!("find t where email like \"{}\"", "x".repeat(100_000));
    // The output column names of a statement that binds, or its error.
    let cases: Vec<(&str, Result<Vec<&str>, ErrorCode>)> = vec![
        // Fine.
        ("find t", Ok(vec!["id", "email", "age", "score", "doc"])),
        (
            "select id, age + 1 as a, doc.x.y from t where email = \"x\" order by a desc",
            Ok(vec!["id", "a", "doc.x.y"]),
        ),
        (
            "select t.id, o.id from t join o on o.t_id = t.id",
            Ok(vec!["t.id", "o.id"]),
        ),
        (
            "select id, id as id, email from t",
            Ok(vec!["id", "id_1", "email"]),
        ),
        (
            "select age, count(*), avg(score) from t group by age order by count(*) desc limit 3",
            Ok(vec!["age", "count(*)", "avg(score)"]),
        ),
        ("select count(*) from t", Ok(vec!["count(*)"])),
        (
            "select max(age) - min(age) as spread from t",
            Ok(vec!["spread"]),
        ),
        (
            "select o.email, count(*) from o join t on o.t_id = t.id group by o.email",
            Ok(vec!["o.email", "count(*)"]),
        ),
        ("select doc.a from t", Ok(vec!["doc.a"])),
        // Unknown and ambiguous names, with and without tables.
        ("select nope from t", Err(UnknownColumn)),
        ("select t.nope from t", Err(UnknownColumn)),
        ("select x.id from t", Err(UnknownColumn)),
        ("select id, id, id_1 from t", Err(UnknownColumn)),
        ("find t where agee > 3", Err(UnknownColumn)),
        (
            "select id from t join o on o.t_id = t.id",
            Err(AmbiguousColumn),
        ),
        (
            "select email from t join o on o.t_id = t.id",
            Err(AmbiguousColumn),
        ),
        ("find nope", Err(UnknownTable)),
        ("find t join nope on nope.id = t.id", Err(UnknownTable)),
        // Paths into non-json columns.
        ("find t where age.x = 1", Err(TypeMismatch)),
        // Aggregates where they are not allowed.
        ("find t where count(*) > 1", Err(Unsupported)),
        ("select age from t group by count(*)", Err(Unsupported)),
        ("select count(max(age)) from t", Err(Unsupported)),
        ("select * from t group by age", Err(Unsupported)),
        ("select id, count(*) from t", Err(Unsupported)),
        ("select age from t order by count(*)", Err(Unsupported)),
        ("select id from t group by age", Err(Unsupported)),
        // Join conditions.
        ("select * from t join o on o.t_id > t.id", Err(Unsupported)),
        (
            "select * from t join o on o.t_id + 1 = t.id",
            Err(Unsupported),
        ),
        ("select * from t join o on t.id = t.age", Err(Unsupported)),
        ("select * from t join o on o.t_id = 3", Err(Unsupported)),
        // A like pattern too long, written in the statement.
        (&long_like, Err(TooComplex)),
    ];
    for (text, want) in cases {
        let got = bind_select(&cat, &select(text))
            .map(|b| b.columns.into_iter().map(|(n, _)| n).collect::<Vec<_>>())
            .map_err(|e| e.code());
        let want = want.map(|names| names.into_iter().map(String::from).collect::<Vec<_>>());
        assert_eq!(got, want, "{text}");
    }
    // A misspelt column gets the nearest one as a hint.
    let e = bind_select(&cat, &select("find t where agee > 3")).unwrap_err();
    assert_eq!(e.hint(), Some("did you mean column \"age\"?"));
}

#[test]
fn more_than_64_tables_is_too_complex() {
    let db = db();
    let joins: String = (0..64).map(|_| " join o on o.id = t.id").collect();
    let err = plan(&db, &format!("find t{joins}"), INDEXES).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooComplex);
}

#[test]
fn access_paths() {
    let db = db();
    let cases: [(&str, &str); 12] = [
        (
            "find t where id = 42",
            "primary-key lookup on t (id in [42])",
        ),
        (
            "find t where id in (3, 1, 2, 3)",
            "primary-key lookup on t (id in [1, 2, 3])",
        ),
        (
            "find t where id = 2.0",
            "primary-key lookup on t (id in [2])",
        ),
        (
            "find t where id > 10 and id <= 20 and id > 12",
            "primary-key range on t (id > 12 and <= 20)",
        ),
        (
            "find t where id between 5 and 9",
            "primary-key range on t (id >= 5 and <= 9)",
        ),
        (
            "find t where email = \"a\"",
            "index lookup on t using idx_email (email in [\"a\"])",
        ),
        (
            "find t where 80 < age",
            "index range on t using idx_age (age > 80)",
        ),
        (
            "find t where age > 3 and id = 1",
            "primary-key lookup on t (id in [1])",
        ),
        (
            "find t where age > 3 and email = \"a\"",
            "index lookup on t using idx_email (email in [\"a\"])",
        ),
        (
            "find t where id = 2.5",
            "full scan on t (parallel key ranges)",
        ),
        (
            "find t where age + 1 > 80 or id = 1",
            "full scan on t (parallel key ranges)",
        ),
        (
            "find t where age = null",
            "full scan on t (parallel key ranges)",
        ),
    ];
    for (text, want) in cases {
        let p = plan(&db, text, INDEXES).unwrap();
        let Physical::Scan {
            access,
            table,
            parallel,
            ..
        } = &p
        else {
            panic!("{text}: {p:?}");
        };
        assert_eq!(access.describe(table, *parallel), want, "{text}");
    }
    // Without indexes, always a full scan, every conjunct kept.
    let p = plan(
        &db,
        "find t where id = 42",
        PlanOptions { use_indexes: false },
    )
    .unwrap();
    assert_eq!(access(&p), &Access::FullScan);
    let Physical::Scan { filter, .. } = &p else {
        panic!()
    };
    assert_eq!(filter.len(), 1);
}

#[test]
fn a_primary_key_access_drops_only_the_conjuncts_it_enforces() {
    let db = db();
    let filter = |text: &str| match plan(&db, text, INDEXES).unwrap() {
        Physical::Scan { filter, .. } => filter.iter().map(ToString::to_string).collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert!(filter("find t where id = 42").is_empty());
    assert_eq!(filter("find t where id = 42 and id = 43"), ["id = 43"]);
    assert_eq!(filter("find t where id = 2.0"), ["id = 2.0"]);
    assert!(filter("find t where id > 1 and id < 9").is_empty());
    assert_eq!(filter("find t where id > 1.5"), ["id > 1.5"]);
    assert_eq!(filter("find t where email = \"a\""), ["email = \"a\""]);
}

#[test]
fn join_strategies() {
    let db = db();
    let shape = |text: &str| {
        let p = plan(&db, text, INDEXES).unwrap();
        explain(&p)
    };
    // Few driving rows or an early-stopping limit: lookups.
    assert!(
        shape("select o.id, t.age from o join t on o.t_id = t.id limit 10")
            .contains("nested-loop join t on o.t_id = t.id (primary-key lookup)")
    );
    assert!(
        shape("select o.id from o join t on o.email = t.email where o.id in (1, 3)")
            .contains("(index lookup using idx_email)")
    );
    // Otherwise, or with a sort, or on an unindexed column: hash joins.
    for text in [
        "select o.id, t.age from o join t on o.t_id = t.id",
        "select o.id from o join t on o.t_id = t.id order by o.id limit 10",
        "select count(*) from o join t on o.t_id = t.id limit 10",
        "select t.id from t join o on t.id = o.t_id limit 5",
    ] {
        assert!(shape(text).contains("hash join"), "{text}");
    }
    // Without indexes never a lookup.
    let p = plan(
        &db,
        "select o.id from o join t on o.t_id = t.id limit 10",
        PlanOptions { use_indexes: false },
    )
    .unwrap();
    assert!(explain(&p).contains("hash join"));
}

#[test]
fn a_lookup_join_filters_with_the_joined_tables_conjuncts() {
    let db = db();
    let p = plan(
        &db,
        "select o.id, t.age from o join t on o.t_id = t.id where t.age > 3 and o.email = t.email and o.id = 1",
        INDEXES,
    )
    .unwrap();
    let Physical::Project { input, .. } = &p else {
        panic!("{p:?}")
    };
    let Physical::LookupJoin {
        columns,
        filter,
        key,
        ..
    } = &**input
    else {
        panic!("{input:?}")
    };
    // o reads id, t_id, email; t reads id, email, age.
    assert_eq!(columns, &[0, 1, 2]);
    assert_eq!(key.to_string(), "o.t_id");
    let cols: Vec<Vec<usize>> = filter
        .iter()
        .map(|f| {
            let mut c = Vec::new();
            f.columns(&mut c);
            c
        })
        .collect();
    assert_eq!(cols, [vec![5], vec![2, 4]]);
}

#[test]
fn explain_shapes() {
    let db = db();
    let cases: [(&str, &str); 11] = [
        (
            "find t where id = 42",
            "primary-key lookup on t (id in [42])",
        ),
        (
            "find t where email in (\"a\", \"b\") and score > 1",
            "filter: email in (\"a\", \"b\") and score > 1
  index lookup on t using idx_email (email in [\"a\", \"b\"])",
        ),
        (
            "select id, score from t",
            "project id, score
  full scan on t (parallel key ranges)",
        ),
        (
            "select id from t limit 5 offset 2",
            "project id
  limit 5 offset 2
    full scan on t",
        ),
        (
            "select * from t order by score desc limit 10 offset 5",
            "project id, email, age, score, doc
  late materialisation: email, age, doc of t by primary key
    top-k 10 offset 5 by score desc (heap)
      full scan on t (parallel key ranges)",
        ),
        (
            "select id, age * 2 as a from t where age > 20 order by a, id desc",
            "project id, a
  sort by age * 2, id desc
    filter: age > 20
      index range on t using idx_age (age > 20)",
        ),
        (
            "select age, count(*) from t group by age order by age desc limit 3",
            "project age, count(*)
  top-k 3 by age desc (heap)
    hash aggregate: group by age; aggregates count(*)
      full scan on t (parallel key ranges)",
        ),
        (
            "select count(*), avg(score) from t where score > 1 offset 1",
            "project count(*), avg(score)
  limit offset 1
    hash aggregate: aggregates count(*), avg(score)
      filter: score > 1
        full scan on t (parallel key ranges)",
        ),
        (
            "select o.id, t.age from o join t on o.t_id = t.id where t.age > 30 and o.email = \"a\" and o.id < t.age",
            "project o.id, t.age
  filter: o.id < t.age
    hash join t on o.t_id = t.id (build on t)
      filter: o.email = \"a\"
        full scan on o (parallel key ranges)
      filter: t.age > 30
        index range on t using idx_age (age > 30)",
        ),
        (
            "select o.id, t.id from o join t on o.email = t.email limit 5",
            "project o.id, t.id
  limit 5
    nested-loop join t on o.email = t.email (index lookup using idx_email)
      full scan on o
      index lookup on t using idx_email per row",
        ),
        (
            "select items.sku, t.age from items join o on items.o_id = o.id join t on o.t_id = t.id order by items.sku",
            "project items.sku, t.age
  sort by items.sku
    hash join t on o.t_id = t.id (build on t)
      hash join o on items.o_id = o.id (build on o)
        full scan on items (parallel key ranges)
        full scan on o
      full scan on t",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(explained(&db, text), want, "{text}");
    }
}

#[test]
fn explain_of_writes() {
    let db = db();
    assert_eq!(
        explained(&db, "update t set age = age + 1 where id = 7"),
        "update t (one atomic batch, indexes maintained)\n  primary-key lookup on t (id in [7])"
    );
    assert_eq!(
        explained(&db, "delete t where email = \"u3@x\""),
        "delete t (one atomic batch, indexes maintained)
  filter: email = \"u3@x\"
    index lookup on t using idx_email (email in [\"u3@x\"])"
    );
    assert_eq!(
        explained(&db, "insert t [ { id: 1, age: 3 }, { id: 2 } ]"),
        "insert 2 row(s) into t (one atomic batch, 2 index(es))"
    );
}

#[test]
fn plan_rows_reads_whole_rows_in_table_order() {
    let db = db();
    let cat = db.catalog();
    let p = plan_rows(&cat, "t", None, INDEXES).unwrap();
    let Physical::Scan {
        columns,
        filter,
        access,
        ..
    } = &p
    else {
        panic!("{p:?}")
    };
    assert_eq!(columns, &[0, 1, 2, 3, 4]);
    assert!(filter.is_empty());
    assert_eq!(access, &Access::FullScan);
    let filter = crate::parser::parse("find t where age > 3 and score < 2").unwrap();
    let Statement::Select(s) = filter else {
        panic!()
    };
    let p = plan_rows(&cat, "t", s.filter.as_ref(), INDEXES).unwrap();
    let Physical::Scan {
        columns,
        filter,
        access,
        ..
    } = &p
    else {
        panic!("{p:?}")
    };
    assert_eq!(columns.len(), 5);
    assert_eq!(filter.len(), 2);
    assert!(matches!(access, Access::IndexRange(..)));
    assert_eq!(
        plan_rows(&cat, "nope", None, INDEXES).unwrap_err().code(),
        ErrorCode::UnknownTable
    );
}

#[test]
fn explain_analyze_refuses_inserts_and_ddl_and_changes_nothing() {
    let db = db();
    for text in [
        "explain analyze insert t { id: 1 }",
        "explain analyze upsert t { id: 1 }",
        "explain analyze create table u { id: int }",
        "explain analyze drop table t",
        "explain analyze explain find t",
    ] {
        let err = db.execute(text).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Unsupported, "{text}");
    }
    assert!(db.tables().contains(&"t".to_string()));
    assert!(!db.tables().contains(&"u".to_string()));
    match db.execute("find t where id = 1").unwrap() {
        Output::Rows { rows, .. } => assert!(rows.is_empty()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn explain_analyze_prints_each_nodes_figures() {
    let db = db();
    let p = plan(
        &db,
        "select id from t where score > 1 order by id limit 2",
        INDEXES,
    )
    .unwrap();
    let snap = db.kv().snapshot();
    let limits = Limits::none();
    let ctx = ExecCtx::analysing(&snap, &limits, p.size());
    let profile = ctx.profile.as_ref().unwrap();
    // Node 0 is the project, 1 the top-k, 2 the scan.
    for (id, rows, nanos) in [(0, 2, 4_000_000), (1, 2, 3_500_000), (2, 7, 1_234_567)] {
        let s = profile.node(id).unwrap();
        s.rows.store(rows, Ordering::Relaxed);
        s.chunks.store(1, Ordering::Relaxed);
        s.nanos.store(nanos, Ordering::Relaxed);
    }
    assert_eq!(
        explain_analyze(&p, 0, profile),
        "project id  (actual rows=2, chunks=1, time=4.000 ms)
  top-k 2 by id (heap)  (actual rows=2, chunks=1, time=3.500 ms)
    filter: score > 1  (actual rows=7, chunks=1, time=1.234 ms)
      full scan on t (parallel key ranges)"
    );
}

#[test]
fn explain_analyze_parses_beside_explain() {
    let s = crate::parser::parse("explain analyze find t where id = 1").unwrap();
    assert!(
        matches!(&s, Statement::ExplainAnalyze(inner) if matches!(**inner, Statement::Select(_)))
    );
    assert_eq!(
        s.to_string(),
        "explain analyze select * from t where id = 1"
    );
    let s = crate::parser::parse("explain find analyze").unwrap();
    assert!(matches!(s, Statement::Explain(_)));
    assert!(crate::parser::parse("explain analyze").is_err());
}

#[test]
fn the_engine_gives_the_oracles_rows() {
    // The engine answers; the same plans run by the oracle over the rows
    // read straight from storage must give the same rows in the same
    // order (the same error code when it fails).
    let db = Database::open("/nonexistent/plan-oracle", Options::memory()).unwrap();
    for s in [
        "create table t { id: int, email: string, age: int, score: float, doc: json }",
        "create index idx_email on t (email)",
        "create index idx_age on t (age)",
        "create table o { id: int, t_id: int, email: string }",
        "create table items { id: int, o_id: int, sku: string }",
    ] {
        db.execute(s).unwrap();
    }
    for i in 1..=40i64 {
        let age = if i % 5 == 0 {
            "null".to_string()
        } else {
            (i % 13).to_string()
        };
        db.execute(&format!(
            "insert t {{ id: {i}, email: \"u{}@x\", age: {age}, score: {}.5, doc: {{ x: {} }} }}",
            i % 7,
            i % 4,
            i % 3
        ))
        .unwrap();
    }
    for i in 1..=30i64 {
        db.execute(&format!(
            "insert o {{ id: {i}, t_id: {}, email: \"u{}@x\" }}",
            (i * 7) % 45,
            i % 9
        ))
        .unwrap();
    }
    for i in 1..=50i64 {
        db.execute(&format!(
            "insert items {{ id: {i}, o_id: {}, sku: \"s{}\" }}",
            (i * 3) % 35,
            i % 6
        ))
        .unwrap();
    }
    let tables = oracle::stored_tables(&db).unwrap();
    let cat = db.catalog();
    let queries = [
        "find t",
        "find t where id = 7",
        "find t where id in (9, 3, 3, 50) and age > 1",
        "find t where id = 2.0 or id = 3",
        "find t where id = 2.0",
        "find t where id > 10 and id <= 20 and score > 1",
        "find t where id between 5.5 and 9",
        "find t where email = \"u3@x\"",
        "find t where email in (\"u3@x\", \"u5@x\") and id > 10",
        "find t where age > 8",
        "find t where 8 >= age and age >= 3",
        "find t where age = 4.0",
        "find t where age is null",
        "find t where doc.x = 1",
        "find t where email like \"u1%\"",
        "find t where not (age > 3) or score < 1",
        "find t where 1 = 1",
        "find t where false",
        "find t limit 5 offset 3",
        "select id, age * 2 as a from t where age > 2 order by a desc, id limit 7",
        "select id, score from t order by score, email desc",
        "select email, id from t order by email offset 30",
        "select doc.x, id + 1 from t where id < 6",
        "select id, id, id_1 from t where id < 3",
        "select count(*) from t",
        "select count(*), count(age), sum(age), avg(score), min(email), max(doc.x) from t where id > 4",
        "select age, count(*) from t group by age",
        "select age, count(*) as n from t group by age order by n desc, age limit 4",
        "select age + 1, sum(score) from t where id > 3 group by age + 1 order by sum(score)",
        "select email, max(age) - min(age) as spread from t group by email order by spread desc, email",
        "select count(*) from t where id = 1000",
        "select * from o join t on o.t_id = t.id",
        "select o.id, t.age from o join t on o.t_id = t.id limit 10",
        "select o.id, t.age from o join t on t.id = o.t_id where o.id in (1, 3, 4, 7)",
        "select o.id, t.id from o join t on o.email = t.email where o.id < 12 limit 6",
        "select o.id, t.id from o join t on o.email = t.email where t.age > 3 and o.id > t.age order by o.id, t.id",
        "select o.id, t.age from o join t on o.t_id = t.id where t.age > 3 and o.email = \"u2@x\" and o.id < t.age + 30",
        "select o.id, t.age from o join t on o.t_id = t.id where t.age > 3 and o.id > 2 limit 5",
        "select items.sku, t.age, o.id from items join o on items.o_id = o.id join t on o.t_id = t.id order by items.sku, items.id",
        "select items.id, o.id from items join o on items.o_id = o.id join t on o.t_id = t.id where t.age > 2 and items.id < 30 limit 8",
        "select t.email, count(*) from o join t on o.t_id = t.id group by t.email order by count(*) desc, t.email",
        "select count(*) from items join o on items.o_id = o.id where items.sku = o.email",
        "find t where email + 1 > 0",
        // A lookup join checks its conjuncts in the order written: the
        // join's comparison rejects each row before the joined table's
        // own conjunct would fail on it.
        "select o.id from o join t on o.t_id = t.id where o.id in (1, 2) and o.email = t.email and t.email + 1 > 0",
        "select age / 0, id from t where id < 4",
        "select sum(email) from t",
        // Left joins, distinct, having, distinct aggregates, aliases.
        "select * from t left join o on o.t_id = t.id",
        "select t.id, o.id from t left join o on o.t_id = t.id and o.email = \"u2@x\" where t.age > 2",
        "select t.id, o.id, items.sku from t left join o on o.t_id = t.id left join items on items.o_id = o.id where items.id is null or t.id < 5",
        "select t.email, count(o.id) from t left join o on o.t_id = t.id group by t.email having count(o.id) > 0",
        "select count(*) from t left join o on o.email = t.email",
        "select distinct age, email from t where id > 3 order by email desc, age limit 6",
        "select distinct doc.x from t",
        "select age, count(distinct email), sum(distinct score), avg(distinct id) from t group by age having min(id) < 20",
        "select a.id, b.id from t a join t b on a.age = b.id where a.id < 15 order by a.id",
        "select a.id, b.email from o a left join t b on b.id = a.t_id order by a.id limit 9",
    ];
    let mut checked = 0;
    for text in queries {
        for use_indexes in [true, false] {
            let opts = crate::limits::ExecOptions::default().with_use_indexes(use_indexes);
            let want = db.execute_with(text, opts);
            let got = (|| {
                let bound = bind_select(&cat, &select(text))?;
                let p = physical(bound.plan, PlanOptions { use_indexes })?;
                oracle::run(&p, &tables, &Limits::none())
            })();
            match (want, got) {
                (Ok(Output::Rows { rows, .. }), Ok(got)) => {
                    assert_eq!(rows, got, "{text} (indexes: {use_indexes})")
                }
                (Err(w), Err(g)) => assert_eq!(w.code(), g.code(), "{text}"),
                (w, g) => panic!("{text}: engine {w:?}, oracle {g:?}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, queries.len() * 2);
}

#[test]
fn binding_planning_and_explain_at_the_depth_bound_fit_a_small_stack() {
    // As the parser's limit tests do for parsing: the deepest
    // expressions the parser accepts bind, plan and print on a quarter of
    // a worker thread's stack.
    /// An expression of `n` levels.
    type Shape = fn(usize) -> String;
    let shapes: [(&str, Shape); 4] = [
        ("+ chain", |n| vec!["a"; n].join(" + ")),
        ("parentheses", |n| {
            format!("{}a{} > 1", "(".repeat(n), ")".repeat(n))
        }),
        ("not", |n| format!("{}b", "not ".repeat(n))),
        ("and/or", |n| {
            (0..n)
                .map(|i| format!("a = {i}"))
                .collect::<Vec<_>>()
                .join(if n % 2 == 0 { " and " } else { " or " })
        }),
    ];
    std::thread::Builder::new()
        .stack_size(512 * 1024)
        .spawn(move || {
            let db = Database::open("/nonexistent/plan-depth", Options::memory()).unwrap();
            db.execute("create table t { id: int, a: int, b: bool }")
                .unwrap();
            for (name, shape) in shapes {
                // The largest that parses.
                let mut n = crate::parser::MAX_DEPTH as usize + 1;
                let q = loop {
                    let e = shape(n);
                    let q = format!("select {e} as x from t where {e} order by {e}");
                    if crate::parser::parse(&q).is_ok() {
                        break q;
                    }
                    n -= 1;
                };
                assert!(n > 100, "{name}: {n}");
                let p = plan(&db, &q, INDEXES).unwrap();
                assert!(!explain(&p).is_empty(), "{name}");
                drop(p);
                assert!(explained(&db, &q).contains("sort by"), "{name}");
            }
        })
        .unwrap()
        .join()
        .unwrap();
}
