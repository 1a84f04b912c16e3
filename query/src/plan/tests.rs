//! Binding and planning tests: errors and output columns against the row
//! planner, access paths and join strategies, `explain` text, and the
//! `explain analyze` figures.

use std::sync::atomic::Ordering;

use crate::ast::Statement;
use crate::database::{Database, Options};
use crate::error::ErrorCode;
use crate::exec::ExecCtx;
use crate::limits::Limits;
use crate::output::Output;
use crate::plan::bind::bind_select;
use crate::plan::choose::{physical, plan_rows};
use crate::plan::explain::{explain, explain_analyze};
use crate::plan::physical::{Access, Physical};
use crate::planner::{self, PlanOptions};

const INDEXES: PlanOptions = PlanOptions { use_indexes: true };

/// The schema of the plan snapshots (tests/explain/fixtures), on the
/// vectorised engine.
fn db() -> Database {
    let db = Database::open(
        "/nonexistent/plan-tests",
        Options::memory().with_vectorized(true),
    )
    .unwrap();
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
        Physical::Scan { access, .. } => access,
        other => access(other.children()[0]),
    }
}

#[test]
fn binding_errors_and_columns_agree_with_the_row_planner() {
    let db = db();
    let cat = db.catalog();
    let cases = [
        // Fine.
        "find t",
        "select id, age + 1 as a, doc.x.y from t where email = \"x\" order by a desc",
        "select t.id, o.id from t join o on o.t_id = t.id",
        "select id, id, id_1 from t",
        "select age, count(*), avg(score) from t group by age order by count(*) desc limit 3",
        "select count(*) from t",
        "select max(age) - min(age) as spread from t",
        "select o.email, count(*) from o join t on o.t_id = t.id group by o.email",
        // Unknown and ambiguous names, with and without tables.
        "select nope from t",
        "select t.nope from t",
        "select x.id from t",
        "find t where agee > 3",
        "select id from t join o on o.t_id = t.id",
        "select email from t join o on o.t_id = t.id",
        "find nope",
        "find t join nope on nope.id = t.id",
        // Paths into non-json columns.
        "find t where age.x = 1",
        "select doc.a from t",
        // Aggregates where they are not allowed.
        "find t where count(*) > 1",
        "select age from t group by count(*)",
        "select count(max(age)) from t",
        "select * from t group by age",
        "select id, count(*) from t",
        "select age from t order by count(*)",
        "select id from t group by age",
        // Join conditions.
        "select * from t join o on o.t_id > t.id",
        "select * from t join o on o.t_id + 1 = t.id",
        "select * from t join o on t.id = t.age",
        "select * from t join o on o.t_id = 3",
        // A like pattern too long, written in the statement.
        &format!("find t where email like \"{}\"", "x".repeat(100_000)),
    ];
    for text in cases {
        let s = select(text);
        let old = planner::plan_select(&cat, &s, INDEXES);
        let new = bind_select(&cat, &s);
        match (old, new) {
            (Ok(o), Ok(n)) => assert_eq!(o.columns, n.columns, "{text}"),
            (Err(o), Err(n)) => {
                assert_eq!(o.code(), n.code(), "{text}");
                assert_eq!(o.message(), n.message(), "{text}");
                assert_eq!(o.hint(), n.hint(), "{text}");
            }
            (o, n) => panic!("{text}: row planner {:?}, binder {:?}", o.err(), n.err()),
        }
    }
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
            "top-k 10 offset 5 by score desc (heap)
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
