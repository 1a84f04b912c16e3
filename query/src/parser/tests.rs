//! The fasty language parser (docs/language.md): every example of the language reference parses
//! to the tree written out here by hand; printing any tree and parsing it
//! back gives the same tree; syntax errors point at the offending token
//! with a hint where a keyword is close; no input makes the parser panic.

use crate::ast::{
    AggFunc, AlterAction, BinaryOp, ColumnDef, ColumnType, Expr, Join, JoinKind, Literal, OrderBy,
    Select, SelectItem, Statement, UnaryOp,
};
use crate::parser::{is_keyword, parse};
use crate::{Error, ErrorCode};
use proptest::prelude::*;

// ---- tree builders ----

fn name(dotted: &str) -> Expr {
    Expr::Name(dotted.split('.').map(str::to_owned).collect())
}

fn int(i: i64) -> Expr {
    Expr::Literal(Literal::Int(i))
}

fn float(x: f64) -> Expr {
    Expr::Literal(Literal::Float(x))
}

fn string(s: &str) -> Expr {
    Expr::Literal(Literal::String(s.to_owned()))
}

fn boolean(b: bool) -> Expr {
    Expr::Literal(Literal::Bool(b))
}

fn bin(left: Expr, op: BinaryOp, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

fn not(e: Expr) -> Expr {
    Expr::Unary {
        op: UnaryOp::Not,
        expr: Box::new(e),
    }
}

fn neg(e: Expr) -> Expr {
    Expr::Unary {
        op: UnaryOp::Neg,
        expr: Box::new(e),
    }
}

fn agg(func: AggFunc, arg: Option<Expr>) -> Expr {
    Expr::Aggregate {
        func,
        arg: arg.map(Box::new),
        distinct: false,
    }
}

fn item(expr: Expr) -> SelectItem {
    SelectItem { expr, alias: None }
}

/// `select * from TABLE` with nothing else.
fn from(table: &str) -> Select {
    Select {
        items: Vec::new(),
        from: table.to_owned(),
        joins: Vec::new(),
        filter: None,
        group_by: Vec::new(),
        order_by: Vec::new(),
        limit: None,
        offset: None,
        distinct: false,
        having: None,
        from_alias: None,
    }
}

fn select(s: Select) -> Statement {
    Statement::Select(Box::new(s))
}

fn fields(pairs: &[(&str, Literal)]) -> Vec<(String, Literal)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn ok(text: &str) -> Statement {
    match parse(text) {
        Ok(s) => s,
        Err(e) => panic!("{text:?} does not parse: {e} (hint {:?})", e.hint()),
    }
}

/// The parse error of `text`: (message, line, column, hint).
fn err(text: &str) -> (String, u32, u32, Option<String>) {
    match parse(text) {
        Ok(s) => panic!("{text:?} parsed as {s:?}"),
        Err(Error::Syntax {
            message,
            line,
            column,
            hint,
            ..
        }) => (message, line, column, hint),
        Err(e) => panic!("{text:?}: not a syntax error: {e}"),
    }
}

fn hint(word: &str) -> Option<String> {
    Some(format!("did you mean \"{word}\"?"))
}

// ---- the language reference, example by example ----

#[test]
fn spec_ddl() {
    let column = |n: &str, ty| ColumnDef::new(n.to_owned(), ty);
    assert_eq!(
        ok(
            "create table users { id: int, name: string, email: string, age: int,\n\
            \x20                    balance: float, active: bool, metadata: json }"
        ),
        Statement::CreateTable {
            name: "users".into(),
            columns: vec![
                column("id", ColumnType::Int),
                column("name", ColumnType::String),
                column("email", ColumnType::String),
                column("age", ColumnType::Int),
                column("balance", ColumnType::Float),
                column("active", ColumnType::Bool),
                column("metadata", ColumnType::Json),
            ],
            if_not_exists: false,
        }
    );
    assert_eq!(
        ok("drop table users"),
        Statement::DropTable {
            name: "users".into(),
            if_exists: false,
        }
    );
    assert_eq!(
        ok("create index idx_email on users (email)"),
        Statement::CreateIndex {
            name: "idx_email".into(),
            table: "users".into(),
            column: "email".into(),
            if_not_exists: false,
            unique: false,
        }
    );
    assert_eq!(
        ok("drop index idx_email"),
        Statement::DropIndex {
            name: "idx_email".into(),
            if_exists: false,
        }
    );
}

#[test]
fn if_exists_guards_and_tables_named_if() {
    assert_eq!(
        ok("create table IF NOT Exists t { id: int }"),
        Statement::CreateTable {
            name: "t".into(),
            columns: vec![ColumnDef::new("id", ColumnType::Int)],
            if_not_exists: true,
        }
    );
    assert_eq!(
        ok("create index if not exists i on t (id)"),
        Statement::CreateIndex {
            name: "i".into(),
            table: "t".into(),
            column: "id".into(),
            if_not_exists: true,
            unique: false,
        }
    );
    assert_eq!(
        ok("drop table if exists t"),
        Statement::DropTable {
            name: "t".into(),
            if_exists: true,
        }
    );
    assert_eq!(
        ok("drop index if exists i"),
        Statement::DropIndex {
            name: "i".into(),
            if_exists: true,
        }
    );
    // `if` and `exists` stay names where no guard can stand.
    assert_eq!(
        ok("drop table if"),
        Statement::DropTable {
            name: "if".into(),
            if_exists: false,
        }
    );
    assert_eq!(
        ok("create table if { exists: int }"),
        Statement::CreateTable {
            name: "if".into(),
            columns: vec![ColumnDef::new("exists", ColumnType::Int)],
            if_not_exists: false,
        }
    );
    assert!(crate::parser::parse("create table if not t { id: int }").is_err());
    assert!(crate::parser::parse("drop table if exists").is_err());
}

#[test]
fn spec_inserts() {
    assert_eq!(
        ok(r#"insert users { id: 1, name: "alice", age: 25 }"#),
        Statement::Insert {
            table: "users".into(),
            rows: vec![fields(&[
                ("id", Literal::Int(1)),
                ("name", Literal::String("alice".into())),
                ("age", Literal::Int(25)),
            ])],
            upsert: false,
        }
    );
    assert_eq!(
        ok(r#"insert users { id: 2, metadata: { level: 5, badges: ["gold", "silver"] } }"#),
        Statement::Insert {
            table: "users".into(),
            rows: vec![fields(&[
                ("id", Literal::Int(2)),
                (
                    "metadata",
                    Literal::Object(fields(&[
                        ("level", Literal::Int(5)),
                        (
                            "badges",
                            Literal::Array(vec![
                                Literal::String("gold".into()),
                                Literal::String("silver".into()),
                            ]),
                        ),
                    ])),
                ),
            ])],
            upsert: false,
        }
    );
    assert_eq!(
        ok(r#"insert users [ { id: 3 }, { id: 4, name: "d" } ]        -- many rows, atomic"#),
        Statement::Insert {
            table: "users".into(),
            rows: vec![
                fields(&[("id", Literal::Int(3))]),
                fields(&[
                    ("id", Literal::Int(4)),
                    ("name", Literal::String("d".into()))
                ]),
            ],
            upsert: false,
        }
    );
    assert_eq!(
        ok(r#"upsert users { id: 1, name: "alice2" }"#),
        Statement::Insert {
            table: "users".into(),
            rows: vec![fields(&[
                ("id", Literal::Int(1)),
                ("name", Literal::String("alice2".into())),
            ])],
            upsert: true,
        }
    );
}

#[test]
fn spec_selects() {
    use BinaryOp::*;
    assert_eq!(
        ok("select users                                            -- all rows, all columns"),
        select(from("users"))
    );
    assert_eq!(ok("select * from users"), select(from("users")));
    assert_eq!(
        ok("select name, email from users where age > 21"),
        select(Select {
            items: vec![item(name("name")), item(name("email"))],
            filter: Some(bin(name("age"), Gt, int(21))),
            ..from("users")
        })
    );
    assert_eq!(
        ok("select * from users where active = true order by age desc limit 10 offset 20"),
        select(Select {
            filter: Some(bin(name("active"), Eq, boolean(true))),
            order_by: vec![OrderBy {
                expr: name("age"),
                desc: true,
            }],
            limit: Some(10),
            offset: Some(20),
            ..from("users")
        })
    );
    assert_eq!(
        ok("select * from orders join users on orders.user_id = users.id limit 10"),
        select(Select {
            joins: vec![Join {
                table: "users".into(),
                on: bin(name("orders.user_id"), Eq, name("users.id")),
                kind: JoinKind::Inner,
                alias: None,
            }],
            limit: Some(10),
            ..from("orders")
        })
    );
    assert_eq!(
        ok(
            "select count(*), avg(age), min(age), max(age), sum(balance) from users where active = true"
        ),
        select(Select {
            items: vec![
                item(agg(AggFunc::Count, None)),
                item(agg(AggFunc::Avg, Some(name("age")))),
                item(agg(AggFunc::Min, Some(name("age")))),
                item(agg(AggFunc::Max, Some(name("age")))),
                item(agg(AggFunc::Sum, Some(name("balance")))),
            ],
            filter: Some(bin(name("active"), Eq, boolean(true))),
            ..from("users")
        })
    );
    assert_eq!(
        ok("select city, count(*) from users group by city order by count(*) desc limit 5"),
        select(Select {
            items: vec![item(name("city")), item(agg(AggFunc::Count, None))],
            group_by: vec![name("city")],
            order_by: vec![OrderBy {
                expr: agg(AggFunc::Count, None),
                desc: true,
            }],
            limit: Some(5),
            ..from("users")
        })
    );
}

#[test]
fn spec_finds() {
    use BinaryOp::*;
    let find = |filter| {
        select(Select {
            filter: Some(filter),
            ..from("users")
        })
    };
    assert_eq!(
        ok(r#"find users where name = "alice""#),
        find(bin(name("name"), Eq, string("alice")))
    );
    assert_eq!(
        ok("find users where age >= 18 and age <= 65"),
        find(bin(
            bin(name("age"), GtEq, int(18)),
            And,
            bin(name("age"), LtEq, int(65))
        ))
    );
    assert_eq!(
        ok(r#"find users where city = "NYC" or city = "LA""#),
        find(bin(
            bin(name("city"), Eq, string("NYC")),
            Or,
            bin(name("city"), Eq, string("LA"))
        ))
    );
    assert_eq!(
        ok(r#"find users where name like "ali%"                       -- % any run, _ one char"#),
        find(Expr::Like {
            expr: Box::new(name("name")),
            pattern: Box::new(string("ali%")),
            negated: false,
        })
    );
    assert_eq!(
        ok("find users where not (age < 18) and email is not null"),
        find(bin(
            not(bin(name("age"), Lt, int(18))),
            And,
            Expr::IsNull {
                expr: Box::new(name("email")),
                negated: true,
            }
        ))
    );
    assert_eq!(
        ok("find users where metadata.level > 3                     -- path into a json column"),
        find(bin(name("metadata.level"), Gt, int(3)))
    );
}

#[test]
fn spec_writes_and_explain() {
    use BinaryOp::*;
    assert_eq!(
        ok("update users set balance = 100.50 where id = 1"),
        Statement::Update {
            table: "users".into(),
            assignments: vec![("balance".into(), float(100.5))],
            filter: Some(bin(name("id"), Eq, int(1))),
        }
    );
    assert_eq!(
        ok("update users set active = false, age = age + 1 where age < 18"),
        Statement::Update {
            table: "users".into(),
            assignments: vec![
                ("active".into(), boolean(false)),
                ("age".into(), bin(name("age"), Add, int(1))),
            ],
            filter: Some(bin(name("age"), Lt, int(18))),
        }
    );
    assert_eq!(
        ok("delete users where id = 1"),
        Statement::Delete {
            table: "users".into(),
            filter: Some(bin(name("id"), Eq, int(1))),
        }
    );
    assert_eq!(
        ok("delete from users where active = false"),
        Statement::Delete {
            table: "users".into(),
            filter: Some(bin(name("active"), Eq, boolean(false))),
        }
    );
    assert_eq!(
        ok(r#"explain find users where email = "a@b.c"                -- the plan, not the rows"#),
        Statement::Explain(Box::new(select(Select {
            filter: Some(bin(name("email"), Eq, string("a@b.c"))),
            ..from("users")
        })))
    );
}

// ---- lexical rules ----

#[test]
fn keywords_ignore_case_names_keep_it() {
    assert_eq!(
        ok("SELECT Name FROM Users WHERE Age IS NOT NULL ORDER BY Age DESC"),
        select(Select {
            items: vec![item(name("Name"))],
            filter: Some(Expr::IsNull {
                expr: Box::new(name("Age")),
                negated: true,
            }),
            order_by: vec![OrderBy {
                expr: name("Age"),
                desc: true,
            }],
            ..from("Users")
        })
    );
    assert_eq!(ok("Find users"), select(from("users")));
    assert_eq!(ok("fInD users"), ok("find users"));
    assert_ne!(ok("find Users"), ok("find users"));
    assert_eq!(
        ok("find t where a = TRUE or b = Null"),
        ok("find t where a = true or b = null")
    );
    assert_eq!(
        ok("CREATE TABLE t { id: INT }"),
        ok("create table t { id: int }")
    );
    assert_eq!(ok("select COUNT(*) from t"), ok("select count(*) from t"));
}

#[test]
fn comments_go_wherever_whitespace_does() {
    assert_eq!(
        ok("-- lead\nfind -- a\n users--b\n where--c\na=1--d\n-- tail"),
        ok("find users where a = 1")
    );
    assert_eq!(
        ok("find users -- unterminated \"string' in a comment"),
        ok("find users")
    );
    // Inside a string, `--` is text.
    assert_eq!(
        ok(r#"find t where a = "x -- y""#),
        select(Select {
            filter: Some(bin(name("a"), BinaryOp::Eq, string("x -- y"))),
            ..from("t")
        })
    );
}

#[test]
fn both_quote_styles_and_escapes() {
    let value = |text: &str| match ok(&format!("insert t {{ s: {text} }}")) {
        Statement::Insert { rows, .. } => rows[0][0].1.clone(),
        other => panic!("{other:?}"),
    };
    let s = |x: &str| Literal::String(x.to_owned());
    assert_eq!(value(r#""double""#), s("double"));
    assert_eq!(value("'single'"), s("single"));
    assert_eq!(value(r#""it's""#), s("it's"));
    assert_eq!(value(r#"'say "hi"'"#), s("say \"hi\""));
    assert_eq!(value(r#"'it\'s'"#), s("it's"));
    assert_eq!(value(r#""a\"b\\c\nd\te""#), s("a\"b\\c\nd\te"));
    assert_eq!(value(r#"'\"'"#), s("\""));
    assert_eq!(value("\"multi\nline\""), s("multi\nline"));
    assert_eq!(value("'ünïcödé 😀'"), s("ünïcödé 😀"));
    assert_eq!(value("''"), s(""));
}

#[test]
fn numbers() {
    let value = |text: &str| match ok(&format!("insert t {{ n: {text} }}")) {
        Statement::Insert { rows, .. } => rows[0][0].1.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(value("-12"), Literal::Int(-12));
    assert_eq!(value("0"), Literal::Int(0));
    assert_eq!(value("3.5"), Literal::Float(3.5));
    assert_eq!(value("1e6"), Literal::Float(1e6));
    assert_eq!(value("1E6"), Literal::Float(1e6));
    assert_eq!(value("1.5e-3"), Literal::Float(1.5e-3));
    assert_eq!(value("2e+2"), Literal::Float(200.0));
    assert_eq!(value("9223372036854775807"), Literal::Int(i64::MAX));
    assert_eq!(value("-9223372036854775808"), Literal::Int(i64::MIN));
    assert_eq!(
        value("9223372036854775808"),
        Literal::Float(9223372036854775808.0)
    );
    assert_eq!(
        value("-9223372036854775809"),
        Literal::Float(-9223372036854775809.0)
    );
    assert_eq!(
        value("123456789012345678901234567890"),
        Literal::Float(1.2345678901234568e29)
    );
    assert_eq!(value("- 7"), Literal::Int(-7)); // no expressions in a literal
    assert_eq!(value("-1.5"), Literal::Float(-1.5));
}

#[test]
fn minus_signs_in_expressions() {
    use BinaryOp::*;
    let expr = |text: &str| match ok(&format!("select {text} from t")) {
        Statement::Select(s) => s.items[0].expr.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(expr("-5"), int(-5));
    assert_eq!(expr("-9223372036854775808"), int(i64::MIN));
    assert_eq!(expr("-x"), neg(name("x")));
    assert_eq!(expr("- 5"), neg(int(5)));
    assert_eq!(expr("-(5)"), neg(int(5)));
    assert_eq!(expr("-(-5)"), neg(int(-5)));
    assert_eq!(expr("a-1"), bin(name("a"), Sub, int(1)));
    assert_eq!(expr("a -1"), bin(name("a"), Sub, int(1)));
    assert_eq!(expr("a - -1"), bin(name("a"), Sub, int(-1)));
    assert_eq!(expr("-a * b"), bin(neg(name("a")), Mul, name("b")));
    assert_eq!(expr("-2 * b"), bin(int(-2), Mul, name("b")));
    // `--` starts a comment.
    assert_eq!(
        ok("select a--1\nfrom t"),
        select(Select {
            items: vec![item(name("a"))],
            ..from("t")
        })
    );
}

// ---- grammar ----

#[test]
fn precedence_loosest_first() {
    use BinaryOp::*;
    assert_eq!(
        ok("find t where a or b and not c = d + e * -f"),
        select(Select {
            filter: Some(bin(
                name("a"),
                Or,
                bin(
                    name("b"),
                    And,
                    not(bin(
                        name("c"),
                        Eq,
                        bin(name("d"), Add, bin(name("e"), Mul, neg(name("f"))))
                    ))
                )
            )),
            ..from("t")
        })
    );
    assert_eq!(
        ok("find t where a - b - c / d / e"),
        ok("find t where ((a - b) - ((c / d) / e))")
    );
    assert_eq!(
        ok("find t where not not a"),
        select(Select {
            filter: Some(not(not(name("a")))),
            ..from("t")
        })
    );
    assert_eq!(ok("find t where a <> 1"), ok("find t where a != 1"));
    assert_eq!(
        ok("find t where a <> 1"),
        select(Select {
            filter: Some(bin(name("a"), NotEq, int(1))),
            ..from("t")
        })
    );
}

#[test]
fn comparison_forms() {
    let filter = |text: &str| match ok(&format!("find t where {text}")) {
        Statement::Select(s) => s.filter.clone().expect("a filter"),
        other => panic!("{other:?}"),
    };
    let b = |e: Expr| Box::new(e);
    assert_eq!(
        filter("a not like 'x_'"),
        Expr::Like {
            expr: b(name("a")),
            pattern: b(string("x_")),
            negated: true
        }
    );
    assert_eq!(
        filter("a is null"),
        Expr::IsNull {
            expr: b(name("a")),
            negated: false
        }
    );
    assert_eq!(
        filter("a in (1, 'b', c + 1)"),
        Expr::InList {
            expr: b(name("a")),
            list: vec![int(1), string("b"), bin(name("c"), BinaryOp::Add, int(1))],
            negated: false
        }
    );
    assert_eq!(
        filter("a not in (1)"),
        Expr::InList {
            expr: b(name("a")),
            list: vec![int(1)],
            negated: true
        }
    );
    // The `and` of `between` binds first; the next one is boolean.
    assert_eq!(
        filter("a between 1 and 2 + 3 and b"),
        bin(
            Expr::Between {
                expr: b(name("a")),
                low: b(int(1)),
                high: b(bin(int(2), BinaryOp::Add, int(3))),
                negated: false
            },
            BinaryOp::And,
            name("b")
        )
    );
    assert_eq!(
        filter("a not between -1 and 1"),
        Expr::Between {
            expr: b(name("a")),
            low: b(int(-1)),
            high: b(int(1)),
            negated: true
        }
    );
    // Literal arrays and objects are atoms (json comparisons, `set`).
    assert_eq!(
        filter("m = {k: [1, null]}"),
        bin(
            name("m"),
            BinaryOp::Eq,
            Expr::Literal(Literal::Object(fields(&[(
                "k",
                Literal::Array(vec![Literal::Int(1), Literal::Null])
            )])))
        )
    );
}

#[test]
fn select_forms() {
    use BinaryOp::*;
    // `select TABLE` takes the same clauses as `find TABLE`.
    assert_eq!(
        ok("select users where age > 1 limit 2"),
        ok("find users where age > 1 limit 2")
    );
    assert_eq!(ok("select users"), ok("find users"));
    assert_eq!(ok("select * from users"), ok("find users"));
    assert_eq!(
        ok("select a as x, count(*) as n, t.b from t"),
        select(Select {
            items: vec![
                SelectItem {
                    expr: name("a"),
                    alias: Some("x".into())
                },
                SelectItem {
                    expr: agg(AggFunc::Count, None),
                    alias: Some("n".into())
                },
                item(name("t.b")),
            ],
            ..from("t")
        })
    );
    // Chained joins, several sort keys, asc spelt out.
    assert_eq!(
        ok(
            "select * from a join b on a.x = b.x join c on b.y = c.y order by a.x asc, b.y desc, c.z"
        ),
        select(Select {
            joins: vec![
                Join {
                    table: "b".into(),
                    on: bin(name("a.x"), Eq, name("b.x")),
                    kind: JoinKind::Inner,
                    alias: None,
                },
                Join {
                    table: "c".into(),
                    on: bin(name("b.y"), Eq, name("c.y")),
                    kind: JoinKind::Inner,
                    alias: None,
                },
            ],
            order_by: vec![
                OrderBy {
                    expr: name("a.x"),
                    desc: false
                },
                OrderBy {
                    expr: name("b.y"),
                    desc: true
                },
                OrderBy {
                    expr: name("c.z"),
                    desc: false
                },
            ],
            ..from("a")
        })
    );
    assert_eq!(
        ok("select a, b, count(x) from t group by a, b"),
        select(Select {
            items: vec![
                item(name("a")),
                item(name("b")),
                item(agg(AggFunc::Count, Some(name("x"))))
            ],
            group_by: vec![name("a"), name("b")],
            ..from("t")
        })
    );
}

#[test]
fn limit_and_offset_in_either_order() {
    let lo = |text: &str| match ok(text) {
        Statement::Select(s) => (s.limit, s.offset),
        other => panic!("{other:?}"),
    };
    assert_eq!(lo("find t limit 10 offset 20"), (Some(10), Some(20)));
    assert_eq!(lo("find t offset 20 limit 10"), (Some(10), Some(20)));
    assert_eq!(lo("find t offset 20"), (None, Some(20)));
    assert_eq!(lo("find t limit 0"), (Some(0), None));
    assert_eq!(
        lo("find t limit 18446744073709551615"),
        (Some(u64::MAX), None)
    );
    let (message, ..) = err("find t limit 1 limit 2");
    assert_eq!(message, r#"expected end of input but found "limit""#);
    let (message, _, column, _) = err("find t limit -1");
    assert_eq!(
        (message.as_str(), column),
        (r#""limit" takes a non-negative integer"#, 14)
    );
    let (message, ..) = err("find t offset 1.5");
    assert_eq!(message, r#""offset" takes a non-negative integer"#);
}

#[test]
fn statement_endings() {
    assert_eq!(ok("find t;"), ok("find t"));
    assert_eq!(ok("  find t ; -- done\n"), ok("find t"));
    assert_eq!(
        err("find t;;"),
        (
            r#"expected end of input after ";" but found ";": one statement per request"#.into(),
            1,
            8,
            None
        )
    );
    assert_eq!(
        err("find t; find u"),
        (
            r#"expected end of input after ";" but found "find": one statement per request"#.into(),
            1,
            9,
            None
        )
    );
}

#[test]
fn objects_and_lists() {
    // Keys may be any word, keywords included, or strings; trailing commas
    // are accepted in braces and brackets.
    assert_eq!(
        ok(r#"insert t { select: 1, "two words": 2, 'q': [], "": {}, }"#),
        Statement::Insert {
            table: "t".into(),
            rows: vec![fields(&[
                ("select", Literal::Int(1)),
                ("two words", Literal::Int(2)),
                ("q", Literal::Array(vec![])),
                ("", Literal::Object(vec![])),
            ])],
            upsert: false,
        }
    );
    assert_eq!(
        ok("insert t [ {id: 1}, ]"),
        Statement::Insert {
            table: "t".into(),
            rows: vec![fields(&[("id", Literal::Int(1))])],
            upsert: false,
        }
    );
    assert_eq!(
        ok("insert t []"),
        Statement::Insert {
            table: "t".into(),
            rows: vec![],
            upsert: false,
        }
    );
    assert_eq!(
        ok("create table t { id: int, }"),
        ok("create table t { id: int }")
    );
    let (message, ..) = err("insert t [1]");
    assert_eq!(message, r#"expected "{" or "]" but found "1""#);
    let (message, ..) = err("insert t {id: x}");
    assert_eq!(message, r#"expected a value but found "x""#);
}

#[test]
fn contextual_keywords_are_names() {
    assert_eq!(
        ok("create table table { index: int, set: string, by: bool, count: int, int: json }"),
        Statement::CreateTable {
            name: "table".into(),
            columns: vec![
                ColumnDef::new("index", ColumnType::Int),
                ColumnDef::new("set", ColumnType::String),
                ColumnDef::new("by", ColumnType::Bool),
                ColumnDef::new("count", ColumnType::Int),
                ColumnDef::new("int", ColumnType::Json),
            ],
            if_not_exists: false,
        }
    );
    assert_eq!(
        ok("select count, count(count) from table order by by"),
        select(Select {
            items: vec![
                item(name("count")),
                item(agg(AggFunc::Count, Some(name("count"))))
            ],
            order_by: vec![OrderBy {
                expr: name("by"),
                desc: false
            }],
            ..from("table")
        })
    );
    assert_eq!(
        ok("update set set set = set + 1"),
        Statement::Update {
            table: "set".into(),
            assignments: vec![("set".into(), bin(name("set"), BinaryOp::Add, int(1)))],
            filter: None,
        }
    );
    assert_eq!(
        ok("drop index index"),
        Statement::DropIndex {
            name: "index".into(),
            if_exists: false,
        }
    );
    // After a dot any word is a field.
    assert_eq!(
        ok("find t where m.order.select = 1"),
        select(Select {
            filter: Some(bin(name("m.order.select"), BinaryOp::Eq, int(1))),
            ..from("t")
        })
    );
}

#[test]
fn reserved_words() {
    for word in [
        "select", "find", "insert", "upsert", "update", "delete", "create", "drop", "explain",
        "from", "join", "on", "where", "group", "order", "asc", "desc", "limit", "offset", "as",
        "or", "and", "not", "like", "is", "in", "between", "null", "true", "false", "SELECT",
        "Null",
    ] {
        assert!(is_keyword(word), "{word}");
    }
    for word in [
        "table", "index", "set", "by", "count", "sum", "min", "int", "json", "users", "selects",
    ] {
        assert!(!is_keyword(word), "{word}");
    }
    assert_eq!(
        err("create table order { id: int }"),
        (
            r#"expected a table name but found reserved word "order""#.into(),
            1,
            14,
            None
        )
    );
    let (message, ..) = err("select from from t");
    assert_eq!(
        message,
        r#"expected an expression or "*" but found reserved word "from""#
    );
}

// ---- errors ----

#[test]
fn error_points_at_the_offending_token_on_its_line() {
    let text = "select name,\n       email\nfrom users\nwhere age >\n  order by age";
    assert_eq!(
        err(text),
        (
            r#"expected an expression but found reserved word "order""#.into(),
            5,
            3,
            None
        )
    );
    let text = "select name\n  from users\n  wehre age > 1";
    assert_eq!(
        err(text),
        (
            r#"expected end of input but found "wehre""#.into(),
            3,
            3,
            hint("where")
        )
    );
    // Columns count characters, not bytes.
    let (_, line, column, _) = err("find t where a = 'é' b");
    assert_eq!((line, column), (1, 22));
    // The farthest point reached, deep inside the statement.
    let (message, line, column, _) = err("select a, b from t\nwhere a = 1 and b in (1, 2 3)");
    assert_eq!(message, r#"expected "," or ")" but found "3""#);
    assert_eq!((line, column), (2, 28));
}

#[test]
fn hints_for_misspelt_keywords() {
    assert_eq!(
        err("selct * from users"),
        (
            r#"expected a statement but found "selct""#.into(),
            1,
            1,
            hint("select")
        )
    );
    assert_eq!(
        err("select * form users"),
        (
            r#"expected "from" but found "form""#.into(),
            1,
            10,
            hint("from")
        )
    );
    assert_eq!(
        err("fnd users"),
        (
            r#"expected a statement but found "fnd""#.into(),
            1,
            1,
            hint("find")
        )
    );
    assert_eq!(
        err("select a, b frm t"),
        (
            r#"expected "from" but found "frm""#.into(),
            1,
            13,
            hint("from")
        )
    );
    assert_eq!(err("SELCT * from t").3, hint("select"));
    assert_eq!(err("find t where a = 1 adn b = 2").3, hint("and"));
    assert_eq!(err("find t where a lik 'x%'").3, hint("like"));
    assert_eq!(err("find t ordr by a").3, hint("order"));
    assert_eq!(err("find t order a").0, r#"expected "by" but found "a""#);
    assert_eq!(err("find t limt 5").3, hint("limit"));
    assert_eq!(err("create tabel t { id: int }").3, hint("table"));
    assert_eq!(err("create table t { id: strng }").3, hint("string"));
    assert_eq!(err("drop indx i").3, hint("index"));
    assert_eq!(err("explain slect * from t").3, hint("select"));
    // Nothing close: no hint.
    assert_eq!(err("find users where x = 1 blah").3, None);
    assert_eq!(err("frobnicate users").3, None);
    assert_eq!(err("x").3, None);
}

#[test]
fn lexical_errors() {
    assert_eq!(
        err(r#"find t where a = "x\qy""#),
        (
            r#"unknown escape "\q" in a string (known: \" \' \\ \n \t)"#.into(),
            1,
            20,
            None
        )
    );
    assert_eq!(
        err("find t\nwhere a = 'abc"),
        ("unterminated string: no closing quote".into(), 2, 11, None)
    );
    assert_eq!(
        err(r#"find t where a = "abc\"#).0,
        "unterminated string: no closing quote"
    );
    assert_eq!(
        err("find t where a = 12abc"),
        (r#"invalid number "12abc""#.into(), 1, 18, None)
    );
    assert_eq!(
        err("find t where a # 1"),
        (r##"unexpected character "#""##.into(), 1, 16, None)
    );
    assert_eq!(
        err("find t where a = 1e999").0,
        r#"number "1e999" is out of range"#
    );
    assert_eq!(
        err("insert t {n: -1e999}").0,
        r#"number "-1e999" is out of range"#
    );
    // An earlier syntax error wins over a later bad token.
    assert_eq!(err(r#"fnd t where a = "\q""#).3, hint("find"));
}

#[test]
fn empty_and_trailing_input() {
    for text in ["", "   ", "-- just a comment", "\n\n"] {
        let (message, ..) = err(text);
        assert_eq!(
            message, "unexpected end of input, expected a statement",
            "{text:?}"
        );
    }
    assert_eq!(err("\n\n").1, 3);
    assert_eq!(
        err("find users where"),
        (
            "unexpected end of input, expected an expression".into(),
            1,
            17,
            None
        )
    );
    assert_eq!(
        err("find users x"),
        (r#"expected end of input but found "x""#.into(), 1, 12, None)
    );
    assert_eq!(
        err("select a frm t"),
        (
            r#"expected "from" or end of input but found "frm""#.into(),
            1,
            10,
            hint("from")
        )
    );
    assert_eq!(
        err("find t where (a = 1").0,
        r#"unexpected end of input, expected ")""#
    );
    assert_eq!(
        err("select").0,
        r#"unexpected end of input, expected an expression or "*""#
    );
}

#[test]
fn grammar_errors() {
    assert_eq!(
        err("find t where a = b = c"),
        (
            "comparisons do not chain: add parentheses, as in (a = b) = c".into(),
            1,
            20,
            None
        )
    );
    assert_eq!(
        err("find t where a is null is null").0,
        err("find t where a < b < c").0
    );
    assert_eq!(
        err("find t where a not b").0,
        r#"expected "like", "in" or "between" but found "b""#
    );
    assert_eq!(
        err("find t where a in ()").0,
        r#"expected an expression but found ")""#
    );
    assert_eq!(
        err("select sum(*) from t").0,
        r#""*" is only allowed in count(*), not in sum()"#
    );
    assert_eq!(
        err("select cuont(*) from t"),
        (r#"unknown function "cuont""#.into(), 1, 8, hint("count"))
    );
    assert_eq!(
        err("select a.b(1) from t").0,
        r#"expected "from" but found "(""#
    );
    assert_eq!(
        err("find t where a.1 = 1").0,
        r#"expected a field name but found "1""#
    );
    assert_eq!(
        err("find t where a = not b").0,
        r#"expected an expression but found reserved word "not""#
    );
    assert_eq!(
        err("update t set a = 1, where a = 2").0,
        r#"expected a column name but found reserved word "where""#
    );
    assert_eq!(
        err("create table t { id: integer }").0,
        r#"expected a column type (int, float, string, bool or json) but found "integer""#
    );
}

#[test]
fn messages_quote_at_most_a_little_user_text() {
    let long = "x".repeat(100_000);
    let digits = "9".repeat(100_000);
    for text in [
        format!("find t {long}"),
        format!("find t; {long}"),
        format!("select {long}(1) from t"),
        format!("find t where a = {digits}.0"),
        format!("find t where a = 1{long}"),
        format!("find t where a = {digits}e9"),
    ] {
        let (message, ..) = err(&text);
        assert!(message.len() < 120, "{message}");
        assert!(
            message.contains("xxx…") || message.contains("999…"),
            "{message}"
        );
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    // Within the limit, fine.
    let ok_depth = 60;
    let text = format!(
        "find t where {}1{}",
        "(".repeat(ok_depth),
        ")".repeat(ok_depth)
    );
    assert!(parse(&text).is_ok());
    let chain = |op: &str| vec!["a"; 100_000].join(op);
    for text in [
        format!(
            "find t where {}1{}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        ),
        format!("find t where {}a", "not ".repeat(100_000)),
        format!("find t where {}a", "- ".repeat(100_000)),
        format!("insert t {{ a: {}", "[".repeat(100_000)),
        format!("insert t {}", "{a: ".repeat(100_000)),
        format!("{}find t", "explain ".repeat(100_000)),
        format!("select {}*) from t", "count(".repeat(100_000)),
        // Chains are built in a loop, but the tree they make is as deep.
        format!("find t where {}", chain(" + ")),
        format!("find t where {} > 0", chain(" * ")),
        format!("find t where {}", chain(" or ")),
        format!("find t where {}", chain(" and ")),
        format!("update t set a = {}", chain(" - ")),
        format!("select {} from t", chain(" / ")),
        format!("find t where {}", vec!["a = 1"; 100_000].join(" or ")),
    ] {
        let e = parse(&text).expect_err("too deep");
        assert_eq!(e.code(), ErrorCode::TooComplex, "{e}");
        assert!(e.message().contains("nested too deeply"), "{e}");
        assert!(e.line().is_some() && e.column().is_some(), "{e}");
    }
}

#[test]
fn a_thousand_row_insert() {
    let rows: Vec<String> = (0..1000)
        .map(|i| {
            format!(
                r#"{{ id: {i}, name: "user{i}", age: {}, balance: {i}.5, active: true }}"#,
                i % 90
            )
        })
        .collect();
    let text = format!("insert users [ {} ]", rows.join(", "));
    let Statement::Insert { rows, .. } = ok(&text) else {
        panic!("not an insert")
    };
    assert_eq!(rows.len(), 1000);
    assert_eq!(rows[999][0], ("id".to_owned(), Literal::Int(999)));
    assert_eq!(rows[999][3], ("balance".to_owned(), Literal::Float(999.5)));
}

// ---- properties ----

/// A bare name: mostly random, sometimes a contextual keyword.
fn ident() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[A-Za-z_][A-Za-z0-9_]{0,7}".prop_filter("reserved", |s| !is_keyword(s)),
        1 => prop::sample::select(vec![
            "table", "index", "set", "by", "count", "Min", "int", "json", "TABLE", "_",
        ])
        .prop_map(str::to_owned),
    ]
}

/// Any word, reserved ones included (object keys, dotted parts).
fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => ident(),
        1 => prop::sample::select(vec!["select", "FROM", "null", "true", "order", "not", "in"])
            .prop_map(str::to_owned),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof!["[a-z\"'\\\\\n\t %_é😀-]{0,10}", any::<String>(),]
}

fn finite_float() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        prop::sample::select(vec![
            0.0,
            -0.0,
            1.0,
            -1.5,
            100.5,
            1e16,
            1e300,
            f64::MAX,
            f64::MIN,
            f64::MIN_POSITIVE,
            5e-324,
            9223372036854775808.0,
        ]),
    ]
}

/// The first of each key: a key given twice does not parse.
fn unique_keys<T>(fields: Vec<(String, T)>) -> Vec<(String, T)> {
    let mut seen = std::collections::HashSet::new();
    fields
        .into_iter()
        .filter(|(k, _)| seen.insert(k.clone()))
        .collect()
}

fn literal() -> impl Strategy<Value = Literal> {
    let leaf = prop_oneof![
        Just(Literal::Null),
        any::<bool>().prop_map(Literal::Bool),
        any::<i64>().prop_map(Literal::Int),
        prop::sample::select(vec![i64::MIN, i64::MAX, 0, -1, 1]).prop_map(Literal::Int),
        finite_float().prop_map(Literal::Float),
        text().prop_map(Literal::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Literal::Array),
            prop::collection::vec((prop_oneof![word(), text()], inner), 0..4)
                .prop_map(|fields| Literal::Object(unique_keys(fields))),
        ]
    })
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        3 => literal().prop_map(Expr::Literal),
        3 => (ident(), prop::collection::vec(word(), 0..3)).prop_map(|(first, rest)| {
            let mut parts = vec![first];
            parts.extend(rest);
            Expr::Name(parts)
        }),
        1 => Just(Expr::Aggregate { func: AggFunc::Count, arg: None, distinct: false }),
    ];
    leaf.prop_recursive(4, 48, 4, |inner| {
        let b = |e: Expr| Box::new(e);
        prop_oneof![
            (
                prop::sample::select(vec![UnaryOp::Not, UnaryOp::Neg]),
                inner.clone()
            )
                .prop_map(move |(op, e)| Expr::Unary { op, expr: b(e) }),
            (
                prop::sample::select(vec![
                    BinaryOp::Or,
                    BinaryOp::And,
                    BinaryOp::Eq,
                    BinaryOp::NotEq,
                    BinaryOp::Lt,
                    BinaryOp::LtEq,
                    BinaryOp::Gt,
                    BinaryOp::GtEq,
                    BinaryOp::Add,
                    BinaryOp::Sub,
                    BinaryOp::Mul,
                    BinaryOp::Div,
                    BinaryOp::Mod,
                    BinaryOp::Concat,
                ]),
                inner.clone(),
                inner.clone()
            )
                .prop_map(move |(op, l, r)| Expr::Binary {
                    op,
                    left: b(l),
                    right: b(r)
                }),
            (inner.clone(), inner.clone(), any::<bool>()).prop_map(move |(e, p, negated)| {
                Expr::Like {
                    expr: b(e),
                    pattern: b(p),
                    negated,
                }
            }),
            (inner.clone(), any::<bool>()).prop_map(move |(e, negated)| Expr::IsNull {
                expr: b(e),
                negated
            }),
            (
                inner.clone(),
                prop::collection::vec(inner.clone(), 1..4),
                any::<bool>()
            )
                .prop_map(move |(e, list, negated)| Expr::InList {
                    expr: b(e),
                    list,
                    negated
                }),
            (inner.clone(), inner.clone(), inner.clone(), any::<bool>()).prop_map(
                move |(e, low, high, negated)| Expr::Between {
                    expr: b(e),
                    low: b(low),
                    high: b(high),
                    negated,
                }
            ),
            (
                prop::sample::select(vec![
                    AggFunc::Count,
                    AggFunc::Sum,
                    AggFunc::Avg,
                    AggFunc::Min,
                    AggFunc::Max,
                ]),
                inner.clone(),
                any::<bool>()
            )
                .prop_map(move |(func, a, distinct)| Expr::Aggregate {
                    func,
                    arg: Some(b(a)),
                    distinct
                }),
            (
                prop::sample::select(vec!["coalesce", "lower", "substring", "round"]),
                prop::collection::vec(inner.clone(), 0..3)
            )
                .prop_map(|(name, args)| Expr::Function {
                    name: name.to_owned(),
                    args
                }),
            (
                prop::option::of(inner.clone()),
                prop::collection::vec((inner.clone(), inner.clone()), 1..3),
                prop::option::of(inner.clone())
            )
                .prop_map(move |(o, whens, e)| Expr::Case {
                    operand: o.map(b),
                    whens,
                    else_result: e.map(b),
                }),
            (
                inner,
                prop::sample::select(vec![ColumnType::Int, ColumnType::String, ColumnType::Json])
            )
                .prop_map(move |(e, ty)| Expr::Cast { expr: b(e), ty }),
        ]
    })
}

fn select_strategy() -> impl Strategy<Value = Select> {
    let items = prop::collection::vec(
        (expr(), prop::option::of(ident())).prop_map(|(expr, alias)| SelectItem { expr, alias }),
        0..3,
    );
    let joins = prop::collection::vec(
        (ident(), expr(), any::<bool>(), prop::option::of(ident())).prop_map(
            |(table, on, left, alias)| Join {
                table,
                on,
                kind: if left {
                    JoinKind::Left
                } else {
                    JoinKind::Inner
                },
                alias,
            },
        ),
        0..3,
    );
    let order_by = prop::collection::vec(
        (expr(), any::<bool>()).prop_map(|(expr, desc)| OrderBy { expr, desc }),
        0..3,
    );
    (
        items,
        ident(),
        joins,
        prop::option::of(expr()),
        prop::collection::vec(expr(), 0..3),
        order_by,
        prop::option::of(prop_oneof![any::<u64>(), 0..100u64]),
        prop::option::of(prop_oneof![any::<u64>(), 0..100u64]),
        (
            any::<bool>(),
            prop::option::of(expr()),
            prop::option::of(ident()),
        ),
    )
        .prop_map(
            |(
                items,
                from,
                joins,
                filter,
                group_by,
                order_by,
                limit,
                offset,
                (distinct, having, from_alias),
            )| Select {
                items,
                from,
                joins,
                filter,
                group_by,
                order_by,
                limit,
                offset,
                distinct,
                having,
                from_alias,
            },
        )
}

fn statement() -> impl Strategy<Value = Statement> {
    let column_type = prop::sample::select(vec![
        ColumnType::Int,
        ColumnType::Float,
        ColumnType::String,
        ColumnType::Bool,
        ColumnType::Json,
    ]);
    let row =
        prop::collection::vec((prop_oneof![word(), text()], literal()), 0..4).prop_map(unique_keys);
    let plain = prop_oneof![
        (
            ident(),
            prop::collection::vec(
                (
                    ident(),
                    column_type,
                    any::<[bool; 3]>(),
                    prop::option::of(any::<i64>())
                )
                    .prop_map(|(name, ty, [primary_key, not_null, unique], d)| {
                        ColumnDef {
                            name,
                            ty,
                            primary_key,
                            not_null,
                            unique,
                            default: d.map(Literal::Int),
                        }
                    }),
                0..5
            ),
            any::<bool>()
        )
            .prop_map(|(name, columns, if_not_exists)| Statement::CreateTable {
                name,
                columns,
                if_not_exists,
            }),
        (ident(), any::<bool>())
            .prop_map(|(name, if_exists)| Statement::DropTable { name, if_exists }),
        (ident(), ident(), ident(), any::<bool>(), any::<bool>()).prop_map(
            |(name, table, column, if_not_exists, unique)| {
                Statement::CreateIndex {
                    name,
                    table,
                    column,
                    if_not_exists,
                    unique,
                }
            }
        ),
        (
            ident(),
            ident(),
            ident(),
            prop::sample::select(vec![0u8, 1, 2])
        )
            .prop_map(|(table, a, b, kind)| Statement::AlterTable {
                table,
                action: match kind {
                    0 => AlterAction::DropColumn(a),
                    1 => AlterAction::RenameColumn { from: a, to: b },
                    _ => AlterAction::RenameTable(b),
                },
            }),
        (ident(), any::<bool>())
            .prop_map(|(name, if_exists)| Statement::DropIndex { name, if_exists }),
        (ident(), prop::collection::vec(row, 0..4), any::<bool>()).prop_map(
            |(table, rows, upsert)| Statement::Insert {
                table,
                rows,
                upsert
            }
        ),
        select_strategy().prop_map(|s| Statement::Select(Box::new(s))),
        select_strategy().prop_map(|s| Statement::Select(Box::new(s))),
        (
            ident(),
            prop::collection::vec((ident(), expr()), 1..4),
            prop::option::of(expr())
        )
            .prop_map(|(table, assignments, filter)| Statement::Update {
                table,
                assignments: unique_keys(assignments),
                filter
            }),
        (ident(), prop::option::of(expr()))
            .prop_map(|(table, filter)| Statement::Delete { table, filter }),
    ];
    (0..3usize, plain).prop_map(|(explains, mut s)| {
        // Mostly plain statements, some explained (once or twice).
        for _ in 0..explains.saturating_sub(1) {
            s = Statement::Explain(Box::new(s));
        }
        s
    })
}

/// Pieces of text that make plausible (and implausible) statements.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "select",
            "find",
            "insert",
            "upsert",
            "update",
            "delete",
            "create",
            "drop",
            "explain",
            "table",
            "index",
            "from",
            "join",
            "on",
            "where",
            "group",
            "order",
            "by",
            "asc",
            "desc",
            "limit",
            "offset",
            "as",
            "set",
            "or",
            "and",
            "not",
            "like",
            "is",
            "in",
            "between",
            "null",
            "true",
            "false",
            "count",
            "sum",
            "(",
            ")",
            "[",
            "]",
            "{",
            "}",
            ",",
            ":",
            ";",
            ".",
            "*",
            "+",
            "-",
            "/",
            "=",
            "!=",
            "<>",
            "<",
            "<=",
            ">",
            ">=",
            "--",
            "\n",
            "\"",
            "'",
            "\\",
            "\\q",
            "1",
            "-1",
            "1.5e3",
            "1e",
            "9223372036854775808",
            "users",
            "a.b",
            "é",
            "#",
            "!",
            "\t",
            "\r",
        ])
        .prop_map(str::to_owned),
        "[a-z]{1,6}",
        any::<char>().prop_map(String::from),
    ]
}

/// A syntax error's position lies within the text (or just past it).
fn check_position(text: &str, e: &Error) -> Result<(), TestCaseError> {
    if let Error::Syntax { line, column, .. } = e {
        let lines: Vec<&str> = text.split('\n').collect();
        prop_assert!(
            *line >= 1 && (*line as usize) <= lines.len(),
            "line {line} of {text:?}"
        );
        let width = lines[*line as usize - 1].chars().count();
        prop_assert!(
            *column >= 1 && (*column as usize) <= width + 1,
            "column {column} of {text:?}"
        );
    } else {
        prop_assert!(false, "not a syntax error: {e}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// print → parse gives the same tree, and printing is then stable.
    #[test]
    fn printed_statements_parse_back(statement in statement()) {
        let text = statement.to_string();
        let parsed = match parse(&text) {
            Ok(p) => p,
            Err(e) => return Err(TestCaseError::fail(format!("{text:?} does not parse: {e}"))),
        };
        prop_assert_eq!(&parsed, &statement, "text: {:?}", text);
        prop_assert_eq!(parsed.to_string(), text);
    }

    /// Random token soup never panics; errors point into the text.
    #[test]
    fn garbage_never_panics(pieces in prop::collection::vec((fragment(), prop_oneof![Just(""), Just(" ")]), 0..30)) {
        let text: String = pieces.iter().flat_map(|(f, sep)| [f.as_str(), sep]).collect();
        if let Err(e) = parse(&text) {
            check_position(&text, &e)?;
        }
    }

    /// Arbitrary strings never panic.
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        if let Err(e) = parse(&text) {
            check_position(&text, &e)?;
        }
    }

    /// Valid statements, cut short or with a piece spliced in, never panic.
    #[test]
    fn damaged_statements_never_panic(statement in statement(), cut in any::<prop::sample::Index>(), piece in fragment()) {
        let text = statement.to_string();
        let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
        let at = boundaries[cut.index(boundaries.len())];
        for damaged in [text[..at].to_owned(), format!("{}{piece}{}", &text[..at], &text[at..])] {
            if let Err(e) = parse(&damaged) {
                check_position(&damaged, &e)?;
            }
        }
    }
}
