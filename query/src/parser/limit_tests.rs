//! The parser's limits (query/README.md, "Limits"): statements at exactly
//! each bound run through every pass — planning, compilation, evaluation,
//! `explain`, printing, dropping — on a thread with a small stack, one
//! level more is `too_complex`, and input far past a bound fails fast.
//! Also names and `like` patterns past their lengths, keys given twice,
//! and output names made distinct.

use crate::ast::{BinaryOp, Expr, Literal, Statement};
use crate::parser::{
    MAX_DEPTH, MAX_EXPLAINS, MAX_JSON_DEPTH, MAX_LIKE_PATTERN_LEN, MAX_NAME_LEN, check_depth, parse,
};
use crate::{Database, Error, ErrorCode, InsertMode, Options, Output, Value};

/// The stack the statements at the bounds run on. Tests build with light
/// optimisation, whose frames are several times smaller than an
/// unoptimised build's, so this is a quarter of a worker thread's 2 MiB.
const SMALL_STACK: usize = 512 * 1024;

fn db() -> (Database, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), Options::memory()).unwrap();
    db.execute("create table t { id: int, a: int, b: bool, s: string, p: string, j: json }")
        .unwrap();
    db.execute(
        r#"insert t [{ id: 1, a: 1, b: true, s: "abc", p: "a%" }, { id: 2, a: 1, b: false, s: "xyz", p: "%z" }]"#,
    )
    .unwrap();
    (db, dir)
}

/// Runs each statement on a fresh database on a small stack.
fn run_all(statements: Vec<String>) -> Vec<Result<Output, Error>> {
    std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || {
            statements
                .iter()
                .map(|q| {
                    let (db, _dir) = db();
                    db.execute(q)
                })
                .collect()
        })
        .unwrap()
        .join()
        .unwrap()
}

/// The statements that put an expression through every pass: as a
/// filter of find, select, update, delete and explain, as a select item
/// and as an assigned value. `int`: the expression is a number (then
/// compared with 0 for a filter or item, one more level).
fn statements(e: &str, int: bool) -> Vec<String> {
    let (filter, set) = if int {
        (format!("{e} > 0"), format!("a = {e}"))
    } else {
        (e.to_string(), format!("b = {e}"))
    };
    vec![
        format!("find t where {filter}"),
        format!("select id, {filter} from t where {filter} order by id"),
        format!("update t set {set} where {filter}"),
        format!("delete from t where {filter}"),
        format!("explain find t where {filter}"),
        format!("explain update t set {set} where {filter}"),
        format!("explain select {filter} from t"),
    ]
}

/// A shape of expression: its text for parameter `n`, its height, and
/// whether it is a number.
struct Shape {
    name: &'static str,
    text: fn(usize) -> String,
    height: fn(usize) -> usize,
    int: bool,
}

fn chain(op: &'static str) -> impl Fn(usize) -> String {
    move |n| vec!["a"; n].join(op)
}

fn shapes() -> Vec<Shape> {
    vec![
        Shape {
            name: "+ chain",
            text: |n| chain(" + ")(n),
            height: |n| n,
            int: true,
        },
        Shape {
            name: "- chain",
            text: |n| format!("{} + 300", chain(" - ")(n - 1)),
            height: |n| n,
            int: true,
        },
        Shape {
            name: "* chain",
            text: |n| chain(" * ")(n),
            height: |n| n,
            int: true,
        },
        Shape {
            name: "/ chain",
            text: |n| chain(" / ")(n),
            height: |n| n,
            int: true,
        },
        Shape {
            name: "or chain of comparisons",
            text: |n| {
                (0..n)
                    .map(|i| format!("a = {i}"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            },
            height: |n| n + 1,
            int: false,
        },
        Shape {
            name: "and chain",
            text: |n| {
                (0..n)
                    .map(|i| format!("a != {}", i + 2))
                    .collect::<Vec<_>>()
                    .join(" and ")
            },
            height: |n| n + 1,
            int: false,
        },
        Shape {
            name: "mixed chains",
            text: |n| format!("a = 0 or a >= {} and b", chain(" * ")(n)),
            height: |n| n + 3,
            int: false,
        },
        Shape {
            name: "nested parentheses",
            text: |n| format!("{}a{}", "(".repeat(n), ")".repeat(n)),
            height: |n| 2 * n + 1,
            int: true,
        },
        Shape {
            name: "right-nested sums",
            text: |n| format!("{}a{}", "a + (".repeat(n), ")".repeat(n)),
            height: |n| 3 * n + 1,
            int: true,
        },
        Shape {
            name: "not chain",
            text: |n| format!("{}a = 1", "not ".repeat(n)),
            height: |n| n + 2,
            int: false,
        },
        Shape {
            name: "minus chain",
            text: |n| format!("{}a", "- ".repeat(n)),
            height: |n| n + 1,
            int: true,
        },
        Shape {
            name: "in-list item",
            text: |n| format!("a in (0, {})", chain(" * ")(n)),
            height: |n| n + 1,
            int: false,
        },
        Shape {
            name: "like operands",
            text: |n| format!("s like p or {}", chain(" or ")(n).replace('a', "b")),
            height: |n| n + 2,
            int: false,
        },
    ]
}

/// The largest `n` whose statement (the comparison with 0 of a number
/// included) is within `MAX_DEPTH`.
fn largest_within(shape: &Shape) -> usize {
    let extra = usize::from(shape.int);
    (1..10_000)
        .take_while(|&n| (shape.height)(n) + extra <= MAX_DEPTH as usize)
        .last()
        .unwrap()
}

#[test]
fn every_shape_at_the_depth_bound_runs_and_one_more_level_is_too_complex() {
    for shape in shapes() {
        let n = largest_within(&shape);
        let ok = statements(&(shape.text)(n), shape.int);
        for (q, r) in ok.iter().zip(run_all(ok.clone())) {
            assert!(r.is_ok(), "{}: {:.80}…: {r:?}", shape.name, q);
        }
        // One more: the parser refuses it, in every statement.
        let over = statements(&(shape.text)(n + 1), shape.int);
        for (q, r) in over.iter().zip(run_all(over.clone())) {
            let e = r.expect_err(q);
            assert_eq!(e.code(), ErrorCode::TooComplex, "{}: {e}", shape.name);
            assert!(e.line().is_some(), "{e}");
        }
    }
}

#[test]
fn chains_far_past_the_bound_fail_fast_with_too_complex() {
    let (db, _dir) = db();
    for op in [" + ", " - ", " * ", " / ", " or ", " and "] {
        let e = vec!["a"; 100_000].join(op);
        for q in statements(&e, true) {
            let err = db.execute(&q).expect_err("too deep");
            assert_eq!(err.code(), ErrorCode::TooComplex, "{err}");
            assert!(err.message().contains(&MAX_DEPTH.to_string()), "{err}");
        }
    }
    let ors = (0..100_000)
        .map(|i| format!("a = {i}"))
        .collect::<Vec<_>>()
        .join(" or ");
    let err = db.execute(&format!("find t where {ors}")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooComplex);
    // The same alternatives as a list: one level, fine.
    let list = (0..100_000)
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    match db.execute(&format!("find t where a in ({list})")).unwrap() {
        Output::Rows { rows, .. } => assert_eq!(rows.len(), 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_or_chain_of_a_few_hundred_terms_works() {
    let (db, _dir) = db();
    let ors = (0..250)
        .map(|i| format!("id = {i}"))
        .collect::<Vec<_>>()
        .join(" or ");
    match db.execute(&format!("find t where {ors}")).unwrap() {
        Output::Rows { rows, .. } => assert_eq!(rows.len(), 2),
        other => panic!("{other:?}"),
    }
}

/// `[[...[1]...]]` or `{k: {k: ... 1 ...}}`, `n` levels.
fn json(n: usize, object: bool) -> String {
    if object {
        format!("{}1{}", "{k: ".repeat(n), "}".repeat(n))
    } else {
        format!("{}1{}", "[".repeat(n), "]".repeat(n))
    }
}

#[test]
fn json_literals_at_their_bound_are_stored_read_and_compared() {
    let n = MAX_JSON_DEPTH as usize;
    for object in [false, true] {
        let v = json(n, object);
        let qs = vec![
            format!("update t set j = {v} where id = 1"),
            format!("insert t {{ id: 3, j: {v} }}"),
            format!("find t where j = {v}"),
            format!("select {v} from t"),
            format!("explain find t where j = {v}"),
        ];
        for (q, r) in qs.iter().zip(run_all(qs.clone())) {
            assert!(r.is_ok(), "{q:.60}: {r:?}");
        }
        // Stored, then read back and compared.
        let (db, _dir) = db();
        db.execute(&format!("update t set j = {v} where id = 1"))
            .unwrap();
        match db.execute(&format!("find t where j = {v}")).unwrap() {
            Output::Rows { rows, .. } => assert_eq!(rows.len(), 1),
            other => panic!("{other:?}"),
        }
        let over = json(n + 1, object);
        let e = db
            .execute(&format!("insert t {{ id: 3, j: {over} }}"))
            .unwrap_err();
        assert_eq!(e.code(), ErrorCode::TooComplex, "{e}");
        assert!(e.message().contains("json"), "{e}");
    }
}

#[test]
fn deeply_nested_json_from_outside_does_not_overflow() {
    // serde_json reads at most 127 levels; values that deep can come in
    // through the batch path (say from HTTP JSON) and through parameters.
    let deepest = format!("{}1{}", "{\"k\": ".repeat(127), "}".repeat(127));
    let value: serde_json::Value = serde_json::from_str(&deepest).unwrap();
    let r = std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || {
            let (db, _dir) = db();
            db.insert_rows(
                "t",
                [vec![
                    ("id", Value::Int(3)),
                    ("j", Value::Json(value.clone())),
                ]],
                InsertMode::Insert,
            )?;
            let p = db.prepare("find t where j = ? order by j")?;
            let found = db.execute_prepared(&p, &[Value::Json(value.clone())])?;
            let path = vec!["k"; 126].join(".");
            let leaf = db.execute(&format!("select j.{path} from t where id = 3"))?;
            let all = db.execute("select j from t order by j")?;
            Ok::<_, Error>((found, leaf, all))
        })
        .unwrap()
        .join()
        .unwrap();
    let (found, leaf, all) = r.unwrap();
    let count = |o: &Output| match o {
        Output::Rows { rows, .. } => rows.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(count(&found), 1);
    assert_eq!(count(&all), 3);
    match leaf {
        Output::Rows { rows, .. } => {
            assert_eq!(rows, [[Value::Json(serde_json::json!({"k": 1}))]]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn explain_nests_only_a_few_times() {
    let (db, _dir) = db();
    let ok = format!("{}find t", "explain ".repeat(MAX_EXPLAINS as usize));
    assert!(matches!(db.execute(&ok), Ok(Output::Plan(_))));
    let over = format!("{}find t", "explain ".repeat(MAX_EXPLAINS as usize + 1));
    assert_eq!(db.execute(&over).unwrap_err().code(), ErrorCode::TooComplex);
}

#[test]
fn names_past_the_length_limit_are_too_complex() {
    let (db, _dir) = db();
    let fits = "c".repeat(MAX_NAME_LEN);
    let long = "c".repeat(MAX_NAME_LEN + 1);
    db.execute(&format!("create table {fits} {{ id: int, {fits}: int }}"))
        .unwrap();
    db.execute(&format!("insert {fits} {{ id: 1, {fits}: 2 }}"))
        .unwrap();
    db.execute(&format!("create index {fits}_ on {fits} ({fits})"))
        .unwrap_err(); // 129 bytes: too long
    db.execute(&format!("create index {} on {fits} ({fits})", &fits[1..]))
        .unwrap();
    match db
        .execute(&format!(
            "select {fits} as {fits} from {fits} where {fits} = 2"
        ))
        .unwrap()
    {
        Output::Rows { rows, .. } => assert_eq!(rows, [[Value::Int(2)]]),
        other => panic!("{other:?}"),
    }
    let huge = "x".repeat(40_000);
    for q in [
        format!("create table {long} {{ id: int }}"),
        format!("find t where {long} = 1"),
        format!("find t where {huge} = 1"),
        format!("find t where j.{huge} = 1"),
        format!("select a as {long} from t"),
        format!("find {huge}"),
        format!("insert t {{ id: 5, {huge}: 1 }}"),
        format!("insert t {{ id: 5, \"{huge}\": 1 }}"),
        format!("update t set {huge} = 1"),
        format!("create index {long} on t (a)"),
        format!("drop index {long}"),
    ] {
        let e = db.execute(&q).unwrap_err();
        assert_eq!(e.code(), ErrorCode::TooComplex, "{q:.50}: {e}");
        assert!(
            e.message().contains(&format!("at most {MAX_NAME_LEN}")),
            "{e}"
        );
    }
    // Within the limit, an unknown name still gets its hint.
    let e = db.execute("find t where ab = 1").unwrap_err();
    assert_eq!(e.code(), ErrorCode::UnknownColumn);
    assert_eq!(e.hint(), Some("did you mean column \"a\"?"));
}

#[test]
fn like_patterns_past_the_length_limit_are_too_complex_wherever_they_come_from() {
    let (db, _dir) = db();
    let fits = "%".repeat(MAX_LIKE_PATTERN_LEN);
    let long = "%".repeat(MAX_LIKE_PATTERN_LEN + 1);
    match db
        .execute(&format!("find t where s like '{fits}'"))
        .unwrap()
    {
        Output::Rows { rows, .. } => assert_eq!(rows.len(), 2),
        other => panic!("{other:?}"),
    }
    let e = db
        .execute(&format!("find t where s like '{long}'"))
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::TooComplex, "{e}");
    // Bound to a placeholder.
    let p = db.prepare("find t where s like ?").unwrap();
    let e = db
        .execute_prepared(&p, &[Value::String(long.clone())])
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::TooComplex, "{e}");
    // Read from a column, at run time.
    match db.execute("find t where s like p order by id").unwrap() {
        Output::Rows { rows, .. } => assert_eq!(rows.len(), 2),
        other => panic!("{other:?}"),
    }
    db.execute(&format!("update t set p = '{long}' where id = 2"))
        .unwrap();
    let e = db.execute("find t where s like p").unwrap_err();
    assert_eq!(e.code(), ErrorCode::TooComplex, "{e}");
}

#[test]
fn a_pattern_of_many_wildcards_against_a_long_string_finishes_with_the_right_answer() {
    let (db, _dir) = db();
    // 512 `%a` pieces then `b`, against a long run of `a`s: a backtracking
    // matcher tries every way to split the run among the pieces.
    let pattern = format!("{}b", "%a".repeat(511));
    assert!(pattern.len() <= MAX_LIKE_PATTERN_LEN);
    let text = "a".repeat(20_000);
    db.execute(&format!("update t set s = '{text}' where id = 1"))
        .unwrap();
    db.execute(&format!("update t set s = '{text}b' where id = 2"))
        .unwrap();
    match db
        .execute(&format!("select id from t where s like '{pattern}'"))
        .unwrap()
    {
        Output::Rows { rows, .. } => assert_eq!(rows, [[Value::Int(2)]]),
        other => panic!("{other:?}"),
    }
    match db
        .execute(&format!("select id from t where s not like '{pattern}'"))
        .unwrap()
    {
        Output::Rows { rows, .. } => assert_eq!(rows, [[Value::Int(1)]]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn keys_given_twice_are_errors_at_the_second() {
    let (db, _dir) = db();
    for (q, message, column) in [
        (
            "insert t { id: 3, a: 1, a: 2 }",
            "column \"a\" given twice",
            25,
        ),
        (
            "upsert t [{ id: 3 }, { id: 4, id: 5 }]",
            "column \"id\" given twice",
            31,
        ),
        (
            "insert t { id: 3, \"a\": 1, a: 2 }",
            "column \"a\" given twice",
            27,
        ),
        (
            "update t set a = 1, b = true, a = 2",
            "column \"a\" given twice",
            31,
        ),
        (
            "insert t { id: 3, j: { k: 1, k: 2 } }",
            "key \"k\" given twice",
            30,
        ),
        (
            "find t where j = [{ k: 1, \"k\": 2 }]",
            "key \"k\" given twice",
            27,
        ),
    ] {
        let e = db.execute(q).unwrap_err();
        assert_eq!(e.code(), ErrorCode::SyntaxError, "{q}: {e}");
        assert_eq!(e.message(), message, "{q}");
        assert_eq!(e.column(), Some(column), "{q}: {e}");
    }
    // Nothing was written.
    match db.execute("find t").unwrap() {
        Output::Rows { rows, .. } => assert_eq!(rows.len(), 2),
        other => panic!("{other:?}"),
    }
    // The same key in different objects is fine.
    db.execute("insert t { id: 3, j: { k: { k: 1 } } }")
        .unwrap();
}

fn column_names(db: &Database, q: &str) -> Vec<String> {
    match db.execute(q).unwrap() {
        Output::Rows { columns, .. } => columns.into_iter().map(|c| c.name).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn output_names_are_made_distinct() {
    let (db, _dir) = db();
    assert_eq!(column_names(&db, "select s, s from t"), ["s", "s_1"]);
    assert_eq!(
        column_names(&db, "select s, s, a as s_1, a as s from t"),
        ["s", "s_2", "s_1", "s_3"]
    );
    assert_eq!(
        column_names(&db, "select count(*), count(*) from t"),
        ["count(*)", "count(*)_1"]
    );
    assert_eq!(
        column_names(&db, "select a, a from t group by a"),
        ["a", "a_1"]
    );
    match db.execute("explain select s, s from t").unwrap() {
        Output::Plan(p) => assert!(p.contains("project s, s_1"), "{p}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn check_depth_agrees_with_the_parser_and_walks_any_tree() {
    // Every shape at the bound parses and passes the check; the check
    // measures the tree without parentheses, so it never refuses what
    // the parser read.
    for shape in shapes() {
        let n = largest_within(&shape);
        for q in statements(&(shape.text)(n), shape.int) {
            let s = parse(&q).unwrap();
            check_depth(&s).unwrap();
            check_depth(&Statement::Explain(Box::new(s))).unwrap();
        }
    }
    // A tree built by hand, far deeper than any pass could walk: refused,
    // by a walk that does not recurse. (Dropping it would recurse, so it
    // is leaked.)
    let mut e = Expr::Name(vec!["a".into()]);
    for _ in 0..200_000 {
        e = Expr::Binary {
            op: BinaryOp::Add,
            left: Box::new(e),
            right: Box::new(Expr::Literal(Literal::Int(1))),
        };
    }
    let s = Statement::Delete {
        table: "t".into(),
        filter: Some(e),
    };
    let err = std::thread::Builder::new()
        .stack_size(SMALL_STACK)
        .spawn(move || {
            let r = check_depth(&s);
            std::mem::forget(s);
            r
        })
        .unwrap()
        .join()
        .unwrap()
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooComplex);
    // A json value 127 levels deep (all serde_json reads) bound into a
    // prepared statement passes.
    let mut l = Literal::Int(1);
    for _ in 0..127 {
        l = Literal::Array(vec![l]);
    }
    let s = parse("find t where j = 1").unwrap();
    let Statement::Select(mut sel) = s else {
        panic!()
    };
    sel.filter = Some(Expr::Binary {
        op: BinaryOp::Eq,
        left: Box::new(Expr::Name(vec!["j".into()])),
        right: Box::new(Expr::Literal(l)),
    });
    check_depth(&Statement::Select(sel)).unwrap();
    let deep_explain = (0..=MAX_EXPLAINS).fold(parse("find t").unwrap(), |s, _| {
        Statement::Explain(Box::new(s))
    });
    assert_eq!(
        check_depth(&deep_explain).unwrap_err().code(),
        ErrorCode::TooComplex
    );
}

#[test]
fn more_than_64_tables_in_one_statement_is_too_complex() {
    let (db, _dir) = db();
    for i in 0..65 {
        db.execute(&format!("create table j{i} {{ id: int, next: int }}"))
            .unwrap();
    }
    let joins = |n: usize| {
        let mut q = "select * from j0".to_string();
        for i in 1..n {
            q.push_str(&format!(" join j{i} on j{}.next = j{i}.id", i - 1));
        }
        q
    };
    assert!(db.execute(&joins(64)).is_ok());
    let err = db.execute(&joins(65)).unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooComplex, "{err}");
}

#[test]
fn run_refuses_a_hand_built_statement_past_the_bound() {
    let (db, _dir) = db();
    let mut e = Expr::Name(vec!["a".into()]);
    for _ in 0..MAX_DEPTH + 10 {
        e = Expr::Binary {
            op: BinaryOp::Add,
            left: Box::new(e),
            right: Box::new(Expr::Literal(Literal::Int(1))),
        };
    }
    let s = Statement::Delete {
        table: "t".into(),
        filter: Some(e),
    };
    let err = db
        .run(&crate::Statement(s), crate::ExecOptions::default())
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::TooComplex, "{err}");
    assert!(matches!(db.execute("select count(*) from t").unwrap(),
        Output::Rows { rows, .. } if rows == vec![vec![Value::Int(2)]]));
}
