//! Differential tests against SQLite: the same seeded random data (with
//! nulls) in fasty and in SQLite (rusqlite, bundled), thousands of random
//! queries — filters with and/or/not/like/in/between/is null,
//! projections, order by with limit/offset, aggregates with group by,
//! joins — and random updates and deletes, whose counts and resulting
//! tables must agree.
//!
//! Queries are generated as fasty ASTs; fasty runs their printed text
//! (so the parser is exercised too), SQLite runs a translation. To make
//! results comparable, `order by` always ends with the primary keys (ties
//! are otherwise unordered in SQLite), queries without `order by` are
//! compared as multisets, and floats with a relative tolerance (SQLite
//! sums in a different order). SQLite's `like` is made case-sensitive
//! (`PRAGMA case_sensitive_like`), as fasty's is.
//!
//! A query on which the two disagree is written out as a sqllogictest file
//! (the statements that built the tables, the query and SQLite's rows) to
//! `<target dir>/tmp/slt-failures/`, named in the panic message, ready to
//! be copied into tests/slt/regressions/ and replayed by the slt runner.

use fasty_query::ast::{
    AggFunc, BinaryOp, Expr, Join, Literal, OrderBy, Select, SelectItem, Statement, UnaryOp,
};
use fasty_query::{Column, Database, ExecOptions, Options, Output, Value};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "support/slt_db.rs"]
mod slt_db;

const NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "Alfred", "al_x", "b%b",
];
const CITIES: &[&str] = &["NYC", "LA", "SF", "Berlin", "Paris"];
const STATUSES: &[&str] = &["new", "paid", "shipped"];

/// A column of the test schema and how to make values for it.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Int,
    Float,
    Str,
    Bool,
}

struct Col {
    table: &'static str,
    name: &'static str,
    kind: Kind,
}

const USERS: &[Col] = &[
    Col {
        table: "users",
        name: "id",
        kind: Kind::Int,
    },
    Col {
        table: "users",
        name: "name",
        kind: Kind::Str,
    },
    Col {
        table: "users",
        name: "email",
        kind: Kind::Str,
    },
    Col {
        table: "users",
        name: "age",
        kind: Kind::Int,
    },
    Col {
        table: "users",
        name: "balance",
        kind: Kind::Float,
    },
    Col {
        table: "users",
        name: "active",
        kind: Kind::Bool,
    },
    Col {
        table: "users",
        name: "city",
        kind: Kind::Str,
    },
];

const ORDERS: &[Col] = &[
    Col {
        table: "orders",
        name: "id",
        kind: Kind::Int,
    },
    Col {
        table: "orders",
        name: "user_id",
        kind: Kind::Int,
    },
    Col {
        table: "orders",
        name: "amount",
        kind: Kind::Float,
    },
    Col {
        table: "orders",
        name: "status",
        kind: Kind::Str,
    },
];

fn rand_value(rng: &mut StdRng, col: &Col, allow_null: bool) -> Literal {
    if allow_null && rng.random_bool(0.12) {
        return Literal::Null;
    }
    match (col.table, col.name) {
        ("users", "name") => Literal::String(NAMES[rng.random_range(0..NAMES.len())].into()),
        ("users", "email") => Literal::String(format!("u{}@x.io", rng.random_range(0..40))),
        ("users", "city") => Literal::String(CITIES[rng.random_range(0..CITIES.len())].into()),
        ("orders", "status") => {
            Literal::String(STATUSES[rng.random_range(0..STATUSES.len())].into())
        }
        ("users", "age") => Literal::Int(rng.random_range(0..90)),
        ("orders", "user_id") => Literal::Int(rng.random_range(0..USER_ROWS + 20)),
        _ => match col.kind {
            Kind::Int => Literal::Int(rng.random_range(-50..500)),
            // Quarters: exact in binary, so sums are exact in any order.
            Kind::Float => Literal::Float(f64::from(rng.random_range(-400..4000)) / 4.0),
            Kind::Bool => Literal::Bool(rng.random_bool(0.5)),
            Kind::Str => Literal::String(NAMES[rng.random_range(0..NAMES.len())].into()),
        },
    }
}

const USER_ROWS: i64 = 240;
const ORDER_ROWS: i64 = 480;

fn sql_literal(l: &Literal) -> String {
    match l {
        Literal::Null => "NULL".into(),
        Literal::Bool(b) => (if *b { "1" } else { "0" }).into(),
        Literal::Int(i) => i.to_string(),
        Literal::Float(x) => format!("{x:?}"),
        Literal::String(s) => format!("'{}'", s.replace('\'', "''")),
        Literal::Array(_) | Literal::Object(_) | Literal::Param(_) => {
            unreachable!("no json in the differential schema")
        }
    }
}

/// SQLite text for a fasty expression.
fn sql_expr(e: &Expr) -> String {
    match e {
        Expr::Literal(l) => sql_literal(l),
        Expr::Name(p) => p.join("."),
        Expr::Unary {
            op: UnaryOp::Not,
            expr,
        } => format!("(NOT {})", sql_expr(expr)),
        Expr::Unary {
            op: UnaryOp::Neg,
            expr,
        } => format!("(-{})", sql_expr(expr)),
        Expr::Binary { op, left, right } => {
            let op = match op {
                BinaryOp::Or => "OR",
                BinaryOp::And => "AND",
                BinaryOp::NotEq => "<>",
                o => o.symbol(),
            };
            format!("({} {op} {})", sql_expr(left), sql_expr(right))
        }
        Expr::Like {
            expr,
            pattern,
            negated,
        } => format!(
            "({} {}LIKE {})",
            sql_expr(expr),
            if *negated { "NOT " } else { "" },
            sql_expr(pattern)
        ),
        Expr::IsNull { expr, negated } => format!(
            "({} IS {}NULL)",
            sql_expr(expr),
            if *negated { "NOT " } else { "" }
        ),
        Expr::InList {
            expr,
            list,
            negated,
        } => format!(
            "({} {}IN ({}))",
            sql_expr(expr),
            if *negated { "NOT " } else { "" },
            list.iter().map(sql_expr).collect::<Vec<_>>().join(", ")
        ),
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => format!(
            "({} {}BETWEEN {} AND {})",
            sql_expr(expr),
            if *negated { "NOT " } else { "" },
            sql_expr(low),
            sql_expr(high)
        ),
        Expr::Aggregate { func, arg } => match arg {
            None => "count(*)".into(),
            Some(a) => format!("{}({})", func.name(), sql_expr(a)),
        },
    }
}

fn sql_select(s: &Select) -> String {
    let items = if s.items.is_empty() {
        "*".to_string()
    } else {
        s.items
            .iter()
            .map(|i| sql_expr(&i.expr))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut q = format!("SELECT {items} FROM {}", s.from);
    for j in &s.joins {
        q += &format!(" JOIN {} ON {}", j.table, sql_expr(&j.on));
    }
    if let Some(w) = &s.filter {
        q += &format!(" WHERE {}", sql_expr(w));
    }
    if !s.group_by.is_empty() {
        q += &format!(
            " GROUP BY {}",
            s.group_by
                .iter()
                .map(sql_expr)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if !s.order_by.is_empty() {
        q += &format!(
            " ORDER BY {}",
            s.order_by
                .iter()
                .map(|o| format!("{}{}", sql_expr(&o.expr), if o.desc { " DESC" } else { "" }))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    match (s.limit, s.offset) {
        (Some(l), Some(o)) => q += &format!(" LIMIT {l} OFFSET {o}"),
        (Some(l), None) => q += &format!(" LIMIT {l}"),
        (None, Some(o)) => q += &format!(" LIMIT -1 OFFSET {o}"),
        (None, None) => {}
    }
    q
}

fn name(table: &str, col: &str, qualify: bool) -> Expr {
    if qualify {
        Expr::Name(vec![table.into(), col.into()])
    } else {
        Expr::Name(vec![col.into()])
    }
}

/// A random predicate over `cols` (qualified names when `qualify`).
fn rand_pred(rng: &mut StdRng, cols: &[&Col], depth: u32, qualify: bool) -> Expr {
    if depth > 0 && rng.random_bool(0.4) {
        let l = Box::new(rand_pred(rng, cols, depth - 1, qualify));
        return match rng.random_range(0..3) {
            0 => Expr::Binary {
                op: BinaryOp::And,
                left: l,
                right: Box::new(rand_pred(rng, cols, depth - 1, qualify)),
            },
            1 => Expr::Binary {
                op: BinaryOp::Or,
                left: l,
                right: Box::new(rand_pred(rng, cols, depth - 1, qualify)),
            },
            _ => Expr::Unary {
                op: UnaryOp::Not,
                expr: l,
            },
        };
    }
    let col = cols[rng.random_range(0..cols.len())];
    let c = Box::new(name(col.table, col.name, qualify));
    let lit = |rng: &mut StdRng| Box::new(Expr::Literal(rand_value(rng, col, false)));
    match rng.random_range(0..10) {
        0 => Expr::IsNull {
            expr: c,
            negated: rng.random_bool(0.5),
        },
        1 => Expr::InList {
            expr: c,
            list: (0..rng.random_range(1..4))
                .map(|_| Expr::Literal(rand_value(rng, col, true)))
                .collect(),
            negated: rng.random_bool(0.3),
        },
        2 if col.kind != Kind::Bool => Expr::Between {
            expr: c,
            low: lit(rng),
            high: lit(rng),
            negated: rng.random_bool(0.2),
        },
        3 if col.kind == Kind::Str => {
            let base = match rand_value(rng, col, false) {
                Literal::String(s) => s,
                _ => String::new(),
            };
            let cut = rng.random_range(0..=base.chars().count().min(3));
            let mut p: String = base.chars().take(cut).collect();
            p.push(['%', '_'][rng.random_range(0..2)]);
            if rng.random_bool(0.3) {
                p.insert(0, '%');
            }
            Expr::Like {
                expr: c,
                pattern: Box::new(Expr::Literal(Literal::String(p))),
                negated: rng.random_bool(0.2),
            }
        }
        4 if matches!(col.kind, Kind::Int | Kind::Float) => {
            // Arithmetic on the left: `age + 3 > 40`.
            let op = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul][rng.random_range(0..3)];
            Expr::Binary {
                op: [BinaryOp::Gt, BinaryOp::LtEq][rng.random_range(0..2)],
                left: Box::new(Expr::Binary {
                    op,
                    left: c,
                    right: Box::new(Expr::Literal(Literal::Int(rng.random_range(1..4)))),
                }),
                right: lit(rng),
            }
        }
        _ => {
            let ops: &[BinaryOp] = if col.kind == Kind::Bool {
                &[BinaryOp::Eq, BinaryOp::NotEq]
            } else {
                &[
                    BinaryOp::Eq,
                    BinaryOp::NotEq,
                    BinaryOp::Lt,
                    BinaryOp::LtEq,
                    BinaryOp::Gt,
                    BinaryOp::GtEq,
                ]
            };
            let op = ops[rng.random_range(0..ops.len())];
            if rng.random_bool(0.2) {
                Expr::Binary {
                    op: flip(op),
                    left: lit(rng),
                    right: c,
                }
            } else {
                Expr::Binary {
                    op,
                    left: c,
                    right: lit(rng),
                }
            }
        }
    }
}

fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        o => o,
    }
}

fn select(from: &str) -> Select {
    Select {
        items: Vec::new(),
        from: from.into(),
        joins: Vec::new(),
        filter: None,
        group_by: Vec::new(),
        order_by: Vec::new(),
        limit: None,
        offset: None,
    }
}

fn item(e: Expr) -> SelectItem {
    SelectItem {
        expr: e,
        alias: None,
    }
}

fn rand_limit(rng: &mut StdRng, s: &mut Select) {
    if rng.random_bool(0.6) {
        s.limit = Some(rng.random_range(0..30));
        if rng.random_bool(0.4) {
            s.offset = Some(rng.random_range(0..20));
        }
    }
}

/// A random single-table query over users or orders.
fn rand_single(rng: &mut StdRng) -> Select {
    let (table, cols) = if rng.random_bool(0.7) {
        ("users", USERS)
    } else {
        ("orders", ORDERS)
    };
    let refs: Vec<&Col> = cols.iter().collect();
    let mut s = select(table);
    if rng.random_bool(0.85) {
        s.filter = Some(rand_pred(rng, &refs, 2, false));
    }
    if rng.random_bool(0.5) {
        let n = rng.random_range(1..4);
        s.items = (0..n)
            .map(|_| {
                let c = refs[rng.random_range(0..refs.len())];
                item(name(table, c.name, false))
            })
            .collect();
    }
    if rng.random_bool(0.6) {
        for _ in 0..rng.random_range(1..3) {
            let c = refs[rng.random_range(0..refs.len())];
            s.order_by.push(OrderBy {
                expr: name(table, c.name, false),
                desc: rng.random_bool(0.5),
            });
        }
        s.order_by.push(OrderBy {
            expr: name(table, "id", false),
            desc: rng.random_bool(0.5),
        });
        rand_limit(rng, &mut s);
    }
    s
}

/// A random aggregate query, grouped or not.
fn rand_aggregate(rng: &mut StdRng) -> Select {
    let refs: Vec<&Col> = USERS.iter().collect();
    let mut s = select("users");
    if rng.random_bool(0.7) {
        s.filter = Some(rand_pred(rng, &refs, 1, false));
    }
    let groups = ["city", "active", "age", "name"];
    let ngroup = rng.random_range(0..3);
    for _ in 0..ngroup {
        let g = groups[rng.random_range(0..groups.len())];
        let e = name("users", g, false);
        if !s.group_by.contains(&e) {
            s.group_by.push(e);
        }
    }
    s.items = s.group_by.iter().cloned().map(item).collect();
    let aggs = [
        (AggFunc::Count, None),
        (AggFunc::Count, Some("email")),
        (AggFunc::Sum, Some("age")),
        (AggFunc::Sum, Some("balance")),
        (AggFunc::Avg, Some("age")),
        (AggFunc::Avg, Some("balance")),
        (AggFunc::Min, Some("age")),
        (AggFunc::Max, Some("balance")),
        (AggFunc::Min, Some("name")),
        (AggFunc::Max, Some("city")),
    ];
    for _ in 0..rng.random_range(1..4) {
        let (f, a) = aggs[rng.random_range(0..aggs.len())];
        s.items.push(item(Expr::Aggregate {
            func: f,
            arg: a.map(|c| Box::new(name("users", c, false))),
        }));
    }
    if !s.group_by.is_empty() && rng.random_bool(0.5) {
        s.order_by = s
            .group_by
            .iter()
            .map(|g| OrderBy {
                expr: g.clone(),
                desc: rng.random_bool(0.5),
            })
            .collect();
        rand_limit(rng, &mut s);
    }
    s
}

/// A random join of orders with users (and sometimes users again by
/// another key is not allowed: a table joins once).
fn rand_join(rng: &mut StdRng) -> Select {
    let mut s = select("orders");
    s.joins.push(Join {
        table: "users".into(),
        on: Expr::Binary {
            op: BinaryOp::Eq,
            left: Box::new(name("orders", "user_id", true)),
            right: Box::new(name("users", "id", true)),
        },
    });
    let refs: Vec<&Col> = USERS.iter().chain(ORDERS).collect();
    if rng.random_bool(0.8) {
        s.filter = Some(rand_pred(rng, &refs, 2, true));
    }
    if rng.random_bool(0.3) {
        s.items = vec![
            item(Expr::Aggregate {
                func: AggFunc::Count,
                arg: None,
            }),
            item(Expr::Aggregate {
                func: AggFunc::Sum,
                arg: Some(Box::new(name("orders", "amount", true))),
            }),
        ];
        if rng.random_bool(0.5) {
            s.group_by = vec![name("users", "city", true)];
            s.items.insert(0, item(name("users", "city", true)));
        }
        return s;
    }
    s.items = vec![
        item(name("orders", "id", true)),
        item(name("users", "name", true)),
        item(name("orders", "amount", true)),
        item(name("users", "age", true)),
    ];
    if rng.random_bool(0.6) {
        s.order_by = vec![
            OrderBy {
                expr: name("users", "age", true),
                desc: rng.random_bool(0.5),
            },
            OrderBy {
                expr: name("orders", "id", true),
                desc: false,
            },
        ];
        rand_limit(rng, &mut s);
    }
    s
}

/// A value as comparable across the two systems.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Cmp {
    Null,
    Num(f64),
    Text(String),
}

fn from_fasty(v: &Value) -> Cmp {
    match v {
        Value::Null => Cmp::Null,
        Value::Int(i) => Cmp::Num(*i as f64),
        Value::Float(x) => Cmp::Num(*x),
        Value::Bool(b) => Cmp::Num(if *b { 1.0 } else { 0.0 }),
        Value::String(s) => Cmp::Text(s.clone()),
        Value::Json(j) => Cmp::Text(j.to_string()),
    }
}

/// A value as SQLite returned it, kept to write a failing case out.
#[derive(Debug, Clone, PartialEq)]
enum Lite {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Lite {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Lite::Null,
        ValueRef::Integer(i) => Lite::Int(i),
        ValueRef::Real(x) => Lite::Real(x),
        ValueRef::Text(t) => Lite::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(_) => Lite::Text("<blob>".into()),
    }
}

fn from_lite(v: &Lite) -> Cmp {
    match v {
        Lite::Null => Cmp::Null,
        Lite::Int(i) => Cmp::Num(*i as f64),
        Lite::Real(x) => Cmp::Num(*x),
        Lite::Text(t) => Cmp::Text(t.clone()),
    }
}

/// Two values are the same: equal, or numbers within a relative
/// tolerance.
fn same_value(p: &Cmp, q: &Cmp) -> bool {
    match (p, q) {
        (Cmp::Num(p), Cmp::Num(q)) => (p - q).abs() <= 1e-9 * p.abs().max(q.abs()).max(1.0),
        _ => p == q,
    }
}

fn same(a: &[Vec<Cmp>], b: &[Vec<Cmp>]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_value(p, q)))
}

fn sort_rows(rows: &mut [Vec<Cmp>]) {
    rows.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
}

/// Sorts rows of any kind by their comparable form (the order
/// [`sort_rows`] gives).
fn sort_rows_by<T>(rows: &mut Vec<Vec<T>>, cmp: fn(&T) -> Cmp) {
    let mut keyed: Vec<(Vec<Cmp>, Vec<T>)> = rows
        .drain(..)
        .map(|r| (r.iter().map(cmp).collect(), r))
        .collect();
    keyed.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
    rows.extend(keyed.into_iter().map(|(_, r)| r));
}

fn comparable<T>(rows: &[Vec<T>], cmp: fn(&T) -> Cmp) -> Vec<Vec<Cmp>> {
    rows.iter().map(|r| r.iter().map(cmp).collect()).collect()
}

struct Pair {
    fasty: Database,
    sqlite: rusqlite::Connection,
    _dir: tempfile::TempDir,
    /// The seed the tables were made from, for the name of a failing case.
    seed: u64,
    /// Every statement run on fasty so far that changed the database, with
    /// its affected count (`None` for DDL): the setup of a failing case.
    history: Vec<(String, Option<u64>)>,
}

fn setup(seed: u64, indexes: bool) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let fasty = Database::open(dir.path(), Options::default()).unwrap();
    let sqlite = rusqlite::Connection::open_in_memory().unwrap();
    sqlite
        .execute_batch("PRAGMA case_sensitive_like = ON;")
        .unwrap();
    let mut history = Vec::new();
    for ddl in [
        "create table users { id: int, name: string, email: string, age: int, balance: float, active: bool, city: string }",
        "create table orders { id: int, user_id: int, amount: float, status: string }",
    ] {
        fasty.execute(ddl).unwrap();
        history.push((ddl.to_string(), None));
    }
    sqlite.execute_batch(
        "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, age INTEGER, balance REAL, active INTEGER, city TEXT);
         CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, amount REAL, status TEXT);",
    ).unwrap();
    if indexes {
        for (i, t, c) in [
            ("ix_age", "users", "age"),
            ("ix_email", "users", "email"),
            ("ix_city", "users", "city"),
            ("ix_user", "orders", "user_id"),
            ("ix_amount", "orders", "amount"),
        ] {
            let ddl = format!("create index {i} on {t} ({c})");
            fasty.execute(&ddl).unwrap();
            history.push((ddl, None));
            sqlite
                .execute_batch(&format!("CREATE INDEX {i} ON {t} ({c})"))
                .unwrap();
        }
    }
    let mut rng = StdRng::seed_from_u64(seed);
    for (table, cols, n) in [("users", USERS, USER_ROWS), ("orders", ORDERS, ORDER_ROWS)] {
        // Ids with gaps, inserted in batches of random sizes.
        let mut ids: Vec<i64> = (0..n).map(|i| i * 2 + rng.random_range(0..2)).collect();
        if table == "users" {
            ids = (0..n).collect();
        }
        for chunk in ids.chunks(rng.random_range(1..60)) {
            let rows: Vec<Vec<(String, Literal)>> = chunk
                .iter()
                .map(|&id| {
                    let mut r = vec![("id".to_string(), Literal::Int(id))];
                    for c in &cols[1..] {
                        let v = rand_value(&mut rng, c, true);
                        // A missing field is null too.
                        if v != Literal::Null || rng.random_bool(0.5) {
                            r.push((c.name.to_string(), v));
                        }
                    }
                    r
                })
                .collect();
            for r in &rows {
                let names: Vec<&str> = r.iter().map(|(k, _)| k.as_str()).collect();
                let vals: Vec<String> = r.iter().map(|(_, v)| sql_literal(v)).collect();
                sqlite
                    .execute(
                        &format!(
                            "INSERT INTO {table} ({}) VALUES ({})",
                            names.join(", "),
                            vals.join(", ")
                        ),
                        [],
                    )
                    .unwrap();
            }
            let n = rows.len() as u64;
            let stmt = Statement::Insert {
                table: table.into(),
                rows,
                upsert: false,
            };
            let text = stmt.to_string();
            fasty.execute(&text).unwrap();
            history.push((text, Some(n)));
        }
    }
    Pair {
        fasty,
        sqlite,
        _dir: dir,
        seed,
        history,
    }
}

fn fasty_output(db: &Database, text: &str, opts: ExecOptions) -> (Vec<Column>, Vec<Vec<Value>>) {
    match db.execute_with(text, opts) {
        Ok(Output::Rows { columns, rows }) => (columns, rows),
        Ok(other) => panic!("{text}: expected rows, got {other:?}"),
        Err(e) => panic!("{text}: fasty failed: {e} ({})", e.code()),
    }
}

fn fasty_rows(db: &Database, text: &str, opts: ExecOptions) -> Vec<Vec<Cmp>> {
    comparable(&fasty_output(db, text, opts).1, from_fasty)
}

fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> Vec<Vec<Lite>> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let n = stmt.column_count();
    let mut out = Vec::new();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        out.push((0..n).map(|i| from_sqlite(r.get_ref(i).unwrap())).collect());
    }
    out
}

/// One query run on both sides: fasty's columns and rows, SQLite's rows
/// (both sorted when the query has no order), and whether they agree.
struct Compared {
    columns: Vec<Column>,
    ours: Vec<Vec<Value>>,
    theirs: Vec<Vec<Lite>>,
    unordered: bool,
    agree: bool,
}

fn compare(p: &Pair, text: &str, sql: &str, unordered: bool) -> Compared {
    let (columns, mut ours) = fasty_output(&p.fasty, text, ExecOptions::default());
    let mut theirs = sqlite_rows(&p.sqlite, sql);
    if unordered {
        sort_rows_by(&mut ours, from_fasty);
        sort_rows_by(&mut theirs, from_lite);
    }
    let agree = same(
        &comparable(&ours, from_fasty),
        &comparable(&theirs, from_lite),
    );
    Compared {
        columns,
        ours,
        theirs,
        unordered,
        agree,
    }
}

/// A SQLite value as the slt runner prints the fasty value it stands for
/// (tests/slt/README.md): the column's fasty type (`ty`, its name) says
/// whether an integer is an int, a float or a bool.
fn lite_text(v: &Lite, ty: Option<&str>) -> String {
    match (v, ty) {
        (Lite::Null, _) => "NULL".into(),
        (Lite::Int(i), Some("float")) => slt_db::value_text(&Value::Float(*i as f64)),
        (Lite::Int(i), Some("bool")) => slt_db::value_text(&Value::Bool(*i != 0)),
        (Lite::Int(i), _) => i.to_string(),
        (Lite::Real(x), _) => slt_db::value_text(&Value::Float(*x)),
        (Lite::Text(t), _) => slt_db::value_text(&Value::String(t.clone())),
    }
}

/// The case as a sqllogictest file: the statements that built the
/// database, then the query with SQLite's rows as the expected result.
/// A number within the comparison's tolerance of fasty's (same row and
/// column) is written as fasty prints it, so the file fails only where
/// the two really differ.
fn slt_case(p: &Pair, text: &str, sql: &str, c: &Compared) -> String {
    let mut out = format!(
        "# fasty and SQLite differ on the last query (differential test, seed {}).\n\
         # SQLite ran: {sql}\n\
         # The expected rows are SQLite's.\n",
        p.seed
    );
    for (stmt, count) in &p.history {
        match count {
            None => out.push_str(&format!("\nstatement ok\n{stmt}\n")),
            Some(n) => out.push_str(&format!("\nstatement count {n}\n{stmt}\n")),
        }
    }
    let letters: String = c
        .columns
        .iter()
        .map(|col| sqllogictest::ColumnType::to_char(&slt_db::column_type(col)))
        .collect();
    let sort = if c.unordered { " rowsort" } else { "" };
    out.push_str(&format!("\nquery {letters}{sort}\n{text}\n----\n"));
    let mut lines: Vec<Vec<String>> = Vec::new();
    for (i, row) in c.theirs.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(j, v)| {
                let ours = c.ours.get(i).and_then(|r| r.get(j));
                match ours {
                    Some(o)
                        if matches!(v, Lite::Real(_) | Lite::Int(_))
                            && same_value(&from_fasty(o), &from_lite(v)) =>
                    {
                        slt_db::value_text(o)
                    }
                    _ => lite_text(v, c.columns.get(j).and_then(|c| c.ty).map(|t| t.name())),
                }
            })
            .collect();
        lines.push(cells);
    }
    if c.unordered {
        // The order `rowsort` compares in: by the printed cells.
        lines.sort_unstable();
    }
    for cells in lines {
        out.push_str(&cells.join(" "));
        out.push('\n');
    }
    out
}

/// Writes a failing case to `<target>/tmp/slt-failures/` and returns its
/// path.
fn write_case(seed: u64, text: &str, case: &str) -> std::path::PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("slt-failures");
    let path = dir.join(format!("{seed}-{:016x}.slt", h.finish()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&path, case).unwrap();
    path
}

fn check_query(p: &Pair, s: &Select) {
    let text = Statement::Select(Box::new(s.clone())).to_string();
    let sql = sql_select(s);
    let c = compare(p, &text, &sql, s.order_by.is_empty());
    // The same query with access paths switched off must agree too.
    let mut scanned = fasty_rows(
        &p.fasty,
        &text,
        ExecOptions::default().with_use_indexes(false),
    );
    if s.order_by.is_empty() {
        sort_rows(&mut scanned);
    }
    let ours = comparable(&c.ours, from_fasty);
    if !c.agree {
        let theirs = comparable(&c.theirs, from_lite);
        let path = write_case(p.seed, &text, &slt_case(p, &text, &sql, &c));
        panic!(
            "fasty and SQLite differ\n fasty:  {text}\n sqlite: {sql}\n fasty rows ({}): {:?}\n sqlite rows ({}): {:?}\n the case, replayable by the slt runner: {}",
            ours.len(),
            ours.iter().take(8).collect::<Vec<_>>(),
            theirs.len(),
            theirs.iter().take(8).collect::<Vec<_>>(),
            path.display()
        );
    }
    assert!(
        same(&ours, &scanned),
        "index and full-scan plans differ for {text}"
    );
}

fn run_queries(seed: u64, indexes: bool, n: usize) {
    let p = setup(seed, indexes);
    let mut rng = StdRng::seed_from_u64(seed ^ 0xD1FF);
    for _ in 0..n {
        let s = match rng.random_range(0..10) {
            0..=5 => rand_single(&mut rng),
            6..=7 => rand_aggregate(&mut rng),
            _ => rand_join(&mut rng),
        };
        check_query(&p, &s);
    }
}

#[test]
fn random_queries_agree_with_sqlite_without_indexes() {
    run_queries(1, false, 1500);
}

#[test]
fn random_queries_agree_with_sqlite_with_indexes() {
    run_queries(2, true, 1500);
}

/// Random updates and deletes: affected counts agree, and so do the
/// tables afterwards (and the indexes, through indexed queries).
#[test]
fn random_updates_and_deletes_agree_with_sqlite() {
    for (seed, indexes) in [(3, true), (4, false)] {
        let mut p = setup(seed, indexes);
        let mut rng = StdRng::seed_from_u64(seed ^ 0xC4A6);
        let refs: Vec<&Col> = USERS.iter().collect();
        for step in 0..150 {
            let filter = rand_pred(&mut rng, &refs, 1, false);
            let stmt = if rng.random_bool(0.25) {
                Statement::Delete {
                    table: "users".into(),
                    filter: Some(filter),
                }
            } else {
                let mut sets = Vec::new();
                if rng.random_bool(0.6) {
                    sets.push((
                        "age".to_string(),
                        Expr::Binary {
                            op: BinaryOp::Add,
                            left: Box::new(name("users", "age", false)),
                            right: Box::new(Expr::Literal(Literal::Int(1))),
                        },
                    ));
                }
                if rng.random_bool(0.5) || sets.is_empty() {
                    sets.push((
                        "city".to_string(),
                        Expr::Literal(rand_value(&mut rng, &USERS[6], true)),
                    ));
                }
                if rng.random_bool(0.3) {
                    sets.push((
                        "email".to_string(),
                        Expr::Literal(rand_value(&mut rng, &USERS[2], true)),
                    ));
                }
                Statement::Update {
                    table: "users".into(),
                    assignments: sets,
                    filter: Some(filter),
                }
            };
            let sql = match &stmt {
                Statement::Delete { filter, .. } => format!(
                    "DELETE FROM users WHERE {}",
                    sql_expr(filter.as_ref().unwrap())
                ),
                Statement::Update {
                    assignments,
                    filter,
                    ..
                } => format!(
                    "UPDATE users SET {} WHERE {}",
                    assignments
                        .iter()
                        .map(|(c, e)| format!("{c} = {}", sql_expr(e)))
                        .collect::<Vec<_>>()
                        .join(", "),
                    sql_expr(filter.as_ref().unwrap())
                ),
                _ => unreachable!(),
            };
            let text = stmt.to_string();
            let ours = match p.fasty.execute(&text) {
                Ok(Output::Affected(n)) => n,
                other => panic!("{text}: {other:?}"),
            };
            let theirs = p.sqlite.execute(&sql, []).unwrap() as u64;
            assert_eq!(
                ours, theirs,
                "step {step}: affected rows differ\n fasty: {text}\n sqlite: {sql}"
            );
            p.history.push((text, Some(ours)));
            if step % 10 == 9 {
                for q in [
                    "select * from users",
                    "select * from users where city = \"LA\"",
                    "select id, email from users where email > \"u2\"",
                    "select id from users where age between 20 and 40",
                ] {
                    let stmt = fasty_query::parser::parse(q).unwrap();
                    let Statement::Select(s) = stmt else {
                        unreachable!()
                    };
                    check_query(&p, &s);
                }
            }
        }
    }
}

/// A failing case written out replays through the slt runner: the file
/// passes when its expected rows are what fasty gives and fails, naming
/// the query, when they differ.
#[test]
fn a_mismatch_is_written_as_a_replayable_slt_file() {
    let p = setup(5, true);
    for (text, sql, unordered) in [
        (
            "select id, name, balance, active from users where age > 30 order by age, id limit 12",
            "SELECT id, name, balance, active FROM users WHERE age > 30 ORDER BY age, id LIMIT 12",
            false,
        ),
        (
            "select city, count(*), avg(balance), sum(age) from users group by city",
            "SELECT city, count(*), avg(balance), sum(age) FROM users GROUP BY city",
            true,
        ),
        (
            "select orders.id, users.name, orders.amount from orders join users on orders.user_id = users.id where users.age < 20",
            "SELECT orders.id, users.name, orders.amount FROM orders JOIN users ON orders.user_id = users.id WHERE users.age < 20",
            true,
        ),
    ] {
        let mut c = compare(&p, text, sql, unordered);
        assert!(c.agree, "{text}");
        assert!(c.theirs.len() > 1, "{text}: too few rows to be a test");
        // SQLite's own rows: the file is a passing test.
        let path = write_case(p.seed, text, &slt_case(&p, text, sql, &c));
        let replay = slt_db::run_file(&path);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(replay, Ok(()), "{text}");
        // A synthetic mismatch: SQLite "returned" one row less and a
        // different value in the first row.
        c.theirs.pop();
        c.theirs[0][1] = Lite::Text("not what fasty has".into());
        c.agree = false;
        let case = slt_case(&p, text, sql, &c);
        assert!(case.contains("not what fasty has"), "{case}");
        let err = slt_db::run_script(&case, "mismatch.slt").unwrap_err();
        assert!(
            err.contains("query result mismatch") && err.contains(text),
            "{err}"
        );
    }
}
