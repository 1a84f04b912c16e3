//! The translator against an oracle: each SQL text must give the same tree
//! as the fasty parser gives for the equivalent fasty text.

use super::*;
use crate::ast::{Literal, Statement};
use crate::error::{Error, ErrorCode};
use crate::parser;

fn sql1(text: &str) -> Statement {
    match parse_sql_with_params(text) {
        Ok((mut v, _)) if v.len() == 1 => v.remove(0),
        other => panic!("{text}: {other:?}"),
    }
}

fn code(text: &str) -> ErrorCode {
    match parse_sql_with_params(text) {
        Ok(v) => panic!("{text} translated: {v:?}"),
        Err(e) => e.code(),
    }
}

#[test]
fn statements_match_the_fasty_parser() {
    for (sql, fasty) in [
        (
            "CREATE TABLE users (id INT PRIMARY KEY, name TEXT, age integer, score double precision, ok BOOLEAN, meta JSONB)",
            "create table users { id: int primary key, name: string, age: int, score: float, ok: bool, meta: json }",
        ),
        (
            "create table if not exists t (id bigint not null, v varchar(20), n numeric(10,2), c char(3), PRIMARY KEY (id))",
            "create table if not exists t { id: int not null primary key, v: string, n: float, c: string }",
        ),
        (
            "create table t (id serial primary key, r real, s smallint)",
            "create table t { id: int primary key, r: float, s: int }",
        ),
        (
            "create table p (sku int primary key, name text not null default 'x', email text unique, n int default -1)",
            "create table p { sku: int primary key, name: string not null default \"x\", email: string unique, n: int default -1 }",
        ),
        (
            "create table p (sku int, email text, primary key (sku), unique (email))",
            "create table p { sku: int primary key, email: string unique }",
        ),
        (
            "create unique index i on t (c)",
            "create unique index i on t (c)",
        ),
        (
            "alter table t add column c int default 0",
            "alter table t add column c: int default 0",
        ),
        ("alter table t drop column c", "alter table t drop column c"),
        (
            "alter table t rename column a to b",
            "alter table t rename column a to b",
        ),
        ("alter table t rename to u", "alter table t rename to u"),
        ("select distinct a from t", "select distinct a from t"),
        (
            "select a, count(distinct b) from t group by a having count(*) > 1",
            "select a, count(distinct b) from t group by a having count(*) > 1",
        ),
        (
            "select u.name, o.amount from users u left join orders as o on u.id = o.user_id",
            "select u.name, o.amount from users u left join orders o on u.id = o.user_id",
        ),
        (
            "select * from a inner join b on a.id = b.id",
            "select * from a join b on a.id = b.id",
        ),
        (
            "select case when a > 1 then 'x' else 'y' end, case a when 1 then 2 end from t",
            "select case when a > 1 then \"x\" else \"y\" end, case a when 1 then 2 end from t",
        ),
        (
            "select cast(a as text), b::int, lower(c) || upper(c), a % 2 from t",
            "select cast(a as string), b::int, lower(c) || upper(c), a % 2 from t",
        ),
        (
            "select substring(s from 2 for 3), substring(s, 2), trim(s), position('a' in s), coalesce(a, 0), round(x, 2), abs(x), length(s) from t",
            "select substring(s, 2, 3), substring(s, 2), trim(s), strpos(s, \"a\"), coalesce(a, 0), round(x, 2), abs(x), length(s) from t",
        ),
        ("DROP TABLE users", "drop table users"),
        ("drop table if exists users;", "drop table if exists users"),
        (
            "create index idx_age on users (age)",
            "create index idx_age on users (age)",
        ),
        (
            "create index if not exists i on t (c)",
            "create index if not exists i on t (c)",
        ),
        ("drop index if exists i", "drop index if exists i"),
        (
            "insert into users (id, name, age) values (1, 'it''s', -3), (2, E'a\\tb', NULL)",
            "insert users [{ id: 1, name: \"it's\", age: -3 }, { id: 2, name: \"a\\tb\", age: null }]",
        ),
        (
            "insert into t (id, ok, x) values (1, true, 2.5)",
            "insert t { id: 1, ok: true, x: 2.5 }",
        ),
        (
            "insert into t (id, j) values (1, '{\"a\": [1, 2.5, \"x\"]}'::jsonb)",
            "insert t { id: 1, j: { a: [1, 2.5, \"x\"] } }",
        ),
        ("SELECT * FROM users", "select * from users"),
        (
            "select name AS n, age + 1 from users where age > 30 and city = 'NYC' order by age desc, name limit 10 offset 5",
            "select name as n, age + 1 from users where age > 30 and city = \"NYC\" order by age desc, name limit 10 offset 5",
        ),
        (
            "select users.name, orders.amount from users join orders on users.id = orders.user_id where orders.amount >= 10",
            "select users.name, orders.amount from users join orders on users.id = orders.user_id where orders.amount >= 10",
        ),
        (
            "select city, count(*), sum(age), avg(age), min(age), max(age) from users group by city",
            "select city, count(*), sum(age), avg(age), min(age), max(age) from users group by city",
        ),
        (
            "select id from t where a in (1, 2, -3) and b not in ('x') and c between 1 and 5 and d not between 2 and 3",
            "select id from t where a in (1, 2, -3) and b not in (\"x\") and c between 1 and 5 and d not between 2 and 3",
        ),
        (
            "select id from t where name like 'a%' and name not like '_b' and x is null and y is not null",
            "select id from t where name like \"a%\" and name not like \"_b\" and x is null and y is not null",
        ),
        (
            "select id from t where not (a = 1 or b <> 2) and c != 3 and -x < 2 * (y - 1) / 4",
            "select id from t where not (a = 1 or b != 2) and c != 3 and -(x) < 2 * (y - 1) / 4",
        ),
        (
            "select id from t where meta->'level' = 2 and meta->'a'->>'b' = 'c'",
            "select id from t where meta.level = 2 and meta.a.b = \"c\"",
        ),
        (
            "select id from t order by a asc nulls first, b desc nulls last",
            "select id from t order by a, b desc",
        ),
        (
            "update users set age = age + 1, name = 'x' where id = 3",
            "update users set age = age + 1, name = \"x\" where id = 3",
        ),
        ("update users set age = 1", "update users set age = 1"),
        (
            "delete from users where id in (1, 2)",
            "delete from users where id in (1, 2)",
        ),
        ("delete from users", "delete from users"),
        (
            "explain select * from users where id = 1",
            "explain select * from users where id = 1",
        ),
        (
            "explain analyze delete from users where age > 3",
            "explain analyze delete from users where age > 3",
        ),
        ("begin", "begin"),
        ("START TRANSACTION READ ONLY", "begin read only"),
        ("begin transaction read write", "begin"),
        ("commit", "commit"),
        ("end", "commit"),
        ("rollback", "rollback"),
    ] {
        let want = parser::parse(fasty).unwrap_or_else(|e| panic!("{fasty}: {e}"));
        assert_eq!(sql1(sql), want, "{sql}");
    }
}

#[test]
fn identifiers_fold_unless_quoted() {
    assert_eq!(
        sql1("SELECT Name FROM Users"),
        parser::parse("select name from users").unwrap()
    );
    match sql1("select \"Name\" as \"Big\" from \"Users\"") {
        Statement::Select(s) => {
            assert_eq!(s.from, "Users");
            assert_eq!(s.items[0].expr, crate::ast::Expr::Name(vec!["Name".into()]));
            assert_eq!(s.items[0].alias.as_deref(), Some("Big"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn numbers() {
    let lit = |t: &str| match sql1(&format!("insert into t (id) values ({t})")) {
        Statement::Insert { rows, .. } => rows[0][0].1.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(lit("-9223372036854775808"), Literal::Int(i64::MIN));
    assert_eq!(
        lit("9223372036854775808"),
        Literal::Float(9223372036854775808.0)
    );
    assert_eq!(lit("1e3"), Literal::Float(1000.0));
    assert_eq!(lit("-0.5"), Literal::Float(-0.5));
    assert_eq!(lit("$$dollar$$"), Literal::String("dollar".into()));
}

#[test]
fn placeholders_are_numbered_by_n() {
    let (v, n) =
        parse_sql_with_params("select id from t where a = $2 and b = $1 and c = $2").unwrap();
    assert_eq!(n, 2);
    let want = parser::parse_with_params("select id from t where a = ? and b = ? and c = ?")
        .unwrap()
        .0;
    // `?` are numbered in order of appearance; `$n` by n.
    let Statement::Select(mut w) = want else {
        panic!()
    };
    let renumber = [1, 0, 1];
    let mut i = 0;
    fn walk(e: &mut crate::ast::Expr, f: &mut dyn FnMut(&mut Literal)) {
        use crate::ast::Expr;
        match e {
            Expr::Literal(l) => f(l),
            Expr::Binary { left, right, .. } => {
                walk(left, f);
                walk(right, f);
            }
            _ => {}
        }
    }
    if let Some(filter) = w.filter.as_mut() {
        walk(filter, &mut |l| {
            if let Literal::Param(_) = l {
                *l = Literal::Param(renumber[i]);
                i += 1;
            }
        });
    }
    assert_eq!(v, vec![Statement::Select(w)]);
    assert_eq!(
        parse_sql_with_params("insert into t (id) values ($7)")
            .unwrap()
            .1,
        7
    );
    assert_eq!(
        code("select * from t where id = $0"),
        ErrorCode::SyntaxError
    );
    // Plain parse refuses placeholders.
    assert_eq!(
        parse_sql("select * from t where id = $1")
            .unwrap_err()
            .code(),
        ErrorCode::SyntaxError
    );
}

#[test]
fn several_statements() {
    let v = parse_sql("begin; insert into t (id) values (1); commit;").unwrap();
    assert_eq!(v.len(), 3);
    assert_eq!(parse_sql("").unwrap().len(), 0);
    assert!(parse_one_sql("select * from t; select * from u").is_err());
    assert!(parse_one_sql("").is_err());
}

#[test]
fn insert_without_columns_is_positional() {
    match sql1("insert into t values (1, 'a')") {
        Statement::Insert { rows, .. } => {
            let names: Vec<Option<usize>> =
                rows[0].iter().map(|(k, _)| positional_index(k)).collect();
            assert_eq!(names, vec![Some(0), Some(1)]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        code("insert into t (id, a) values (1)"),
        ErrorCode::SyntaxError
    );
}

#[test]
fn unsupported_constructs_are_named() {
    for (text, word) in [
        ("select * from t where id in (select id from u)", "subquery"),
        ("insert into t (id) values (1) returning id", "RETURNING"),
        (
            "insert into t (id) values (1) on conflict do nothing",
            "ON CONFLICT",
        ),
        ("select a from t order by a nulls last", "NULLS LAST"),
        ("select a from t order by a desc nulls first", "NULLS FIRST"),
        ("create table t (id int, d date)", "date"),
        ("create table t (id int, d timestamptz)", "timestamptz"),
        ("create index i on t (a, b)", "several columns"),
        ("select 1", "without FROM"),
        ("select a from t union select a from u", "UNION"),
        ("begin isolation level serializable", "ISOLATION"),
        ("select distinct on (a) a from t", "DISTINCT ON"),
        ("update t u set a = 1", "alias"),
        (
            "alter table t add column b int, drop column c",
            "several actions",
        ),
        (
            "create table t (a int, b int, primary key (a, b))",
            "several columns",
        ),
    ] {
        let e = parse_sql_with_params(text).unwrap_err();
        assert_eq!(e.code(), ErrorCode::Unsupported, "{text}: {e}");
        assert!(
            e.to_string().to_lowercase().contains(&word.to_lowercase()),
            "{text}: {e}"
        );
    }
}

#[test]
fn syntax_errors_have_positions() {
    match parse_sql("select * from\n  where") {
        Err(Error::Syntax {
            code,
            line,
            column,
            message,
            ..
        }) => {
            assert_eq!(code, ErrorCode::SyntaxError);
            assert_eq!((line, column), (2, 3), "{message}");
        }
        other => panic!("{other:?}"),
    }
    match parse_sql("select 'unterminated") {
        Err(Error::Syntax { line, column, .. }) => assert_eq!((line, column), (1, 8)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn deep_input_is_too_complex_not_a_crash() {
    // Nesting: sqlparser's recursion limit.
    let deep = format!(
        "select * from t where {}1{}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert_eq!(code(&deep), ErrorCode::TooComplex);
    let nots = format!("select * from t where {}a", "not ".repeat(5000));
    assert_eq!(code(&nots), ErrorCode::TooComplex);
    // Chains, which sqlparser builds in a loop.
    let chain = format!("select * from t where a = 1{}", " or a = 1".repeat(100_000));
    assert_eq!(code(&chain), ErrorCode::TooComplex);
    let sum = format!("select {} from t", vec!["(a)"; 100_000].join("+"));
    assert_eq!(code(&sum), ErrorCode::TooComplex);
    // Long lists and many rows are not chains.
    let list = format!(
        "select * from t where a in ({})",
        vec!["-1"; 10_000].join(", ")
    );
    assert!(parse_sql(&list).is_ok());
    let rows = format!(
        "insert into t (id) values {}",
        vec!["(-1)"; 10_000].join(", ")
    );
    assert!(parse_sql(&rows).is_ok());
}

#[test]
fn deepest_accepted_nesting_fits_a_small_stack() {
    // The deepest nesting accepted, on a thread with a 2 MiB stack (a
    // server worker's): parsing and translating must not overflow.
    let text = |n: usize| {
        format!(
            "select * from t where {}a = 1{}",
            "(".repeat(n),
            ")".repeat(n)
        )
    };
    let n = (1..=errors::RECURSION_LIMIT)
        .rev()
        .find(|&n| parse_sql(&text(n)).is_ok())
        .unwrap();
    assert!(n >= 64, "only {n} levels of parentheses");
    let deepest = text(n);
    let ok = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || parse_sql(&deepest).map(|v| v.len()))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(ok.unwrap(), 1);
}

#[test]
fn prepared_sql_runs_with_values_by_number() {
    use crate::{Database, ExecOptions, Options, Output, Value};
    let db = Database::open("/nonexistent/sql-unit", Options::memory()).unwrap();
    for s in parse_sql("create table t (id int primary key, name text, age int);").unwrap() {
        db.run(&s, ExecOptions::default()).unwrap();
    }
    // No column list: the table's order; `$3` before `$2`.
    let p = db.prepare_sql("insert into t values ($1, $3, $2)").unwrap();
    assert_eq!(p.params(), 3);
    let row = [Value::Int(1), Value::Int(30), Value::String("a".into())];
    assert!(matches!(
        db.execute_prepared(&p, &row),
        Ok(Output::Affected(1))
    ));
    assert_eq!(
        db.execute_prepared(&p, &row[..1]).unwrap_err().code(),
        ErrorCode::InvalidParameter
    );
    // Read back through the fasty language.
    match db.execute("find t where id = 1").unwrap() {
        Output::Rows { rows, .. } => assert_eq!(
            rows,
            vec![vec![
                Value::Int(1),
                Value::String("a".into()),
                Value::Int(30)
            ]]
        ),
        other => panic!("{other:?}"),
    }
    let q = db
        .prepare_sql("select name from t where id = $1 or age = $1")
        .unwrap();
    assert_eq!(q.params(), 1);
    match db.execute_prepared(&q, &[Value::Int(30)]).unwrap() {
        Output::Rows { rows, .. } => assert_eq!(rows, vec![vec![Value::String("a".into())]]),
        other => panic!("{other:?}"),
    }
    assert!(db.prepare_sql("select * from t; select * from t").is_err());
}
