//! What the statement tests in tests/slt/ (sqllogictest files: statements,
//! their rows, counts and error codes) cannot say: result column names,
//! the planner's choice of access path with the same rows as a forced full
//! scan, the catalog surviving a reopen, memory and durable modes, the
//! batch insert path, prepared statements, and which statements are key
//! reads.

use fasty_query::{ColumnType, Database, ErrorCode, ExecOptions, Options, Output, Value};

fn db() -> (Database, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), Options::default()).unwrap();
    (db, dir)
}

fn rows(db: &Database, q: &str) -> Vec<Vec<Value>> {
    match db.execute(q) {
        Ok(Output::Rows { rows, .. }) => rows,
        other => panic!("{q}: {other:?}"),
    }
}

fn affected(db: &Database, q: &str) -> u64 {
    match db.execute(q) {
        Ok(Output::Affected(n)) => n,
        other => panic!("{q}: {other:?}"),
    }
}

fn ok(db: &Database, q: &str) {
    match db.execute(q) {
        Ok(Output::Ok) => {}
        other => panic!("{q}: {other:?}"),
    }
}

fn plan(db: &Database, q: &str) -> String {
    match db.execute(&format!("explain {q}")) {
        Ok(Output::Plan(p)) => p,
        other => panic!("{q}: {other:?}"),
    }
}

fn int(i: i64) -> Value {
    Value::Int(i)
}

fn s(x: &str) -> Value {
    Value::String(x.into())
}

fn ids(rows: &[Vec<Value>]) -> Vec<i64> {
    rows.iter()
        .map(|r| match r[0] {
            Value::Int(i) => i,
            ref v => panic!("not an id: {v:?}"),
        })
        .collect()
}

/// The users table of docs/language.md with five rows.
fn users(db: &Database) {
    ok(
        db,
        "create table users { id: int, name: string, email: string, age: int,
                     balance: float, active: bool, metadata: json, city: string }",
    );
    assert_eq!(
        affected(
            db,
            r#"insert users { id: 1, name: "alice", age: 25, email: "a@b.c", city: "NYC", active: true, balance: 10 }"#
        ),
        1
    );
    assert_eq!(
        affected(
            db,
            r#"insert users { id: 2, name: "bob", age: 17, metadata: { level: 5, badges: ["gold", "silver"] }, city: "LA", active: false }"#
        ),
        1
    );
    assert_eq!(
        affected(
            db,
            r#"insert users [ { id: 3, name: "carol", age: 40, city: "SF", active: true, balance: 2.5 }, { id: 4, name: "d", age: 70, metadata: { level: 2 }, active: true } ]"#
        ),
        2
    );
    assert_eq!(
        affected(
            db,
            r#"insert users { id: 5, name: "alina", age: 30, email: "x@y.z", city: "NYC", active: true, balance: 7.5 }"#
        ),
        1
    );
}

#[test]
fn result_columns_are_named_as_written() {
    // The rows of these statements are checked in tests/slt/; their
    // column names (which sqllogictest does not print) are checked here.
    let (db, _d) = db();
    users(&db);
    match db.execute("select * from users where id = 1").unwrap() {
        Output::Rows { columns, .. } => {
            let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(
                names,
                [
                    "id", "name", "email", "age", "balance", "active", "metadata", "city"
                ]
            );
            assert_eq!(columns[0].ty, Some(ColumnType::Int));
        }
        other => panic!("{other:?}"),
    }
    match db
        .execute("select city, count(*) from users group by city order by count(*) desc limit 5")
        .unwrap()
    {
        Output::Rows { columns, .. } => assert_eq!(columns[1].name, "count(*)"),
        other => panic!("{other:?}"),
    }
    ok(
        &db,
        "create table orders { id: int, user_id: int, amount: float }",
    );
    affected(&db, "insert orders [ {id: 10, user_id: 1, amount: 5} ]");
    match db
        .execute("select * from orders join users on orders.user_id = users.id limit 10")
        .unwrap()
    {
        Output::Rows { columns, .. } => {
            assert_eq!(columns[0].name, "orders.id");
            assert_eq!(columns[3].name, "users.id");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn access_paths_are_chosen_and_agree_with_full_scans() {
    let (db, _d) = db();
    ok(
        &db,
        "create table t { id: int, email: string, age: int, score: float }",
    );
    let rows_json: Vec<String> = (0..500)
        .map(|i| {
            format!(
                "{{ id: {i}, email: \"u{}@x\", age: {}, score: {} }}",
                i % 50,
                i % 90,
                (i % 7) as f64 * 0.5
            )
        })
        .collect();
    affected(&db, &format!("insert t [ {} ]", rows_json.join(", ")));
    ok(&db, "create index idx_email on t (email)");
    ok(&db, "create index idx_age on t (age)");
    let cases = [
        ("find t where id = 42", "primary-key lookup on t"),
        ("find t where id in (3, 1, 2)", "primary-key lookup on t"),
        (
            "find t where id > 10 and id <= 20",
            "primary-key range on t",
        ),
        ("find t where id between 5 and 9", "primary-key range on t"),
        (
            "find t where email = \"u7@x\"",
            "index lookup on t using idx_email",
        ),
        (
            "find t where email in (\"u7@x\", \"u9@x\")",
            "index lookup on t using idx_email",
        ),
        ("find t where age > 80", "index range on t using idx_age"),
        (
            "find t where age < 3 and score > 1",
            "index range on t using idx_age",
        ),
        ("find t where 80 < age", "index range on t using idx_age"),
        ("find t where score > 1", "full scan on t"),
        ("find t where age + 1 > 80", "full scan on t"),
        (
            "select count(*) from t where age > 50",
            "index range on t using idx_age",
        ),
        (
            "select * from t order by score desc limit 10",
            "top-k 10 by score desc",
        ),
    ];
    for (q, expect) in cases {
        let p = plan(&db, q);
        assert!(p.contains(expect), "{q}: expected {expect:?} in plan:\n{p}");
        let fast = db.execute(q).unwrap();
        let slow = db
            .execute_with(q, ExecOptions::default().with_use_indexes(false))
            .unwrap();
        assert_eq!(fast, slow, "{q}");
        let slow_plan = match db
            .execute_with(
                &format!("explain {q}"),
                ExecOptions::default().with_use_indexes(false),
            )
            .unwrap()
        {
            Output::Plan(p) => p,
            o => panic!("{o:?}"),
        };
        assert!(slow_plan.contains("full scan on t"), "{slow_plan}");
    }
    // Joins: primary-key lookup when joining on id, index lookup on an
    // indexed column, hash join otherwise.
    ok(&db, "create table o { id: int, t_id: int, email: string }");
    affected(
        &db,
        "insert o [ {id: 1, t_id: 5, email: \"u5@x\"}, {id: 2, t_id: 6, email: \"u1@x\"}, {id: 3, t_id: 600} ]",
    );
    for (q, expect) in [
        (
            "select o.id, t.age from o join t on o.t_id = t.id limit 10",
            "primary-key lookup",
        ),
        (
            "select o.id, t.age from o join t on o.t_id = t.id where o.id in (1, 3)",
            "primary-key lookup",
        ),
        (
            "select o.id, t.age from o join t on o.t_id = t.id",
            "hash join t",
        ),
        (
            "select o.id, t.id from o join t on o.email = t.email limit 5",
            "index lookup using idx_email",
        ),
        (
            "select o.id, t.id from t join o on t.id = o.t_id limit 5",
            "hash join o",
        ),
    ] {
        let p = plan(&db, q);
        assert!(p.contains(expect), "{q}: expected {expect:?} in plan:\n{p}");
        let mut fast = match db.execute(q).unwrap() {
            Output::Rows { rows, .. } => rows,
            o => panic!("{o:?}"),
        };
        let mut slow = match db
            .execute_with(q, ExecOptions::default().with_use_indexes(false))
            .unwrap()
        {
            Output::Rows { rows, .. } => rows,
            o => panic!("{o:?}"),
        };
        let key = |r: &Vec<Value>| format!("{r:?}");
        fast.sort_by_key(key);
        slow.sort_by_key(key);
        assert_eq!(fast, slow, "{q}");
        assert!(!fast.is_empty());
    }
}

#[test]
fn catalog_and_data_survive_reopen_and_drops_stay_dropped() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path(), Options::default()).unwrap();
        users(&db);
        ok(&db, "create index idx_email on users (email)");
        ok(&db, "create table gone { id: int, x: int }");
        affected(&db, "insert gone [ {id: 1, x: 1}, {id: 2, x: 2} ]");
        ok(&db, "drop table gone");
        db.close().unwrap();
    }
    let db = Database::open(dir.path(), Options::default()).unwrap();
    assert_eq!(db.tables(), ["users"]);
    let (cols, idx) = db.schema("users").unwrap();
    assert_eq!(cols.len(), 8);
    assert_eq!(idx, ["idx_email"]);
    assert!(plan(&db, "find users where email = \"a@b.c\"").contains("idx_email"));
    assert_eq!(ids(&rows(&db, "find users where email = \"a@b.c\"")), [1]);
    // A table created under the dropped name is empty.
    ok(&db, "create table gone { id: int, x: int }");
    assert!(rows(&db, "select gone").is_empty());
    affected(&db, "insert gone { id: 1, x: 5 }");
    assert_eq!(rows(&db, "select x from gone"), vec![vec![int(5)]]);
}

#[test]
fn memory_and_durable_modes() {
    let db = Database::open("/nonexistent/never-created", Options::memory()).unwrap();
    users(&db);
    assert_eq!(ids(&rows(&db, "select id from users where id > 3")), [4, 5]);
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), Options::durable()).unwrap();
    users(&db);
    drop(db);
    let db = Database::open(dir.path(), Options::durable()).unwrap();
    assert_eq!(ids(&rows(&db, "select id from users")), [1, 2, 3, 4, 5]);
}

#[test]
fn batch_fast_path() {
    let (db, _d) = db();
    users(&db);
    let batch: Vec<Vec<(&str, Value)>> = (100..110)
        .map(|i| vec![("id", int(i)), ("name", s("b")), ("balance", int(3))])
        .collect();
    assert_eq!(
        db.insert_rows("users", batch.clone(), fasty_query::InsertMode::Insert)
            .unwrap(),
        10
    );
    assert_eq!(
        db.insert_rows("users", batch.clone(), fasty_query::InsertMode::Insert)
            .unwrap_err()
            .code(),
        ErrorCode::DuplicateKey
    );
    assert_eq!(
        db.insert_rows("users", batch, fasty_query::InsertMode::Upsert)
            .unwrap(),
        10
    );
    assert_eq!(
        rows(
            &db,
            "select count(*), sum(balance) from users where name = \"b\""
        ),
        vec![vec![int(10), Value::Float(30.0)]]
    );
}

#[test]
fn prepared_statements_bind_values_in_order() {
    let (db, _d) = db();
    users(&db);
    let find = db.prepare("find users where id = ?").unwrap();
    assert_eq!(find.params(), 1);
    for id in [1, 3, 42] {
        let got = match db.execute_prepared(&find, &[int(id)]).unwrap() {
            Output::Rows { rows, .. } => rows,
            o => panic!("{o:?}"),
        };
        assert_eq!(got, rows(&db, &format!("find users where id = {id}")));
    }
    let range = db
        .prepare("select id from users where age between ? and ? and name like ? order by id")
        .unwrap();
    match db
        .execute_prepared(&range, &[int(20), int(45), s("%a%")])
        .unwrap()
    {
        Output::Rows { rows, .. } => assert_eq!(ids(&rows), [1, 3, 5]),
        o => panic!("{o:?}"),
    }
    let ins = db
        .prepare("insert users { id: ?, name: ?, metadata: ? }")
        .unwrap();
    let meta = Value::Json(serde_json::json!({"level": 9}));
    assert_eq!(
        db.execute_prepared(&ins, &[int(50), s("p"), meta]).unwrap(),
        Output::Affected(1)
    );
    assert_eq!(ids(&rows(&db, "find users where metadata.level = 9")), [50]);
    let upd = db
        .prepare("update users set age = age + ? where id = ?")
        .unwrap();
    assert_eq!(
        db.execute_prepared(&upd, &[int(5), int(1)]).unwrap(),
        Output::Affected(1)
    );
    assert_eq!(
        rows(&db, "select age from users where id = 1"),
        vec![vec![int(30)]]
    );
    // Wrong count: refused, nothing run.
    let e = db.execute_prepared(&upd, &[int(5)]).unwrap_err();
    assert_eq!(e.code(), ErrorCode::InvalidParameter);
    assert_eq!(
        rows(&db, "select age from users where id = 1"),
        vec![vec![int(30)]]
    );
}

#[test]
fn batch_inserts_resolve_fields_by_name_in_any_order() {
    use fasty_query::InsertMode;
    let (db, _dir) = db();
    ok(
        &db,
        "create table t { id: int, a: int, b: float, c: string }",
    );
    ok(&db, "create index idx_c on t (c)");
    // The field order changes between rows, and fields are left out:
    // every value still lands in its column (the rest are null).
    let batch: Vec<Vec<(&str, Value)>> = vec![
        vec![("id", int(1)), ("a", int(10)), ("c", s("x"))],
        vec![("id", int(2)), ("a", int(20)), ("c", s("y"))],
        vec![("c", s("z")), ("id", int(3)), ("b", int(7))],
        vec![("id", int(4))],
        vec![
            ("id", int(5)),
            ("a", int(50)),
            ("c", s("x")),
            ("b", Value::Float(0.5)),
        ],
    ];
    assert_eq!(db.insert_rows("t", batch, InsertMode::Insert).unwrap(), 5);
    assert_eq!(
        rows(&db, "select id, a, b, c from t"),
        vec![
            vec![int(1), int(10), Value::Null, s("x")],
            vec![int(2), int(20), Value::Null, s("y")],
            vec![int(3), Value::Null, Value::Float(7.0), s("z")],
            vec![int(4), Value::Null, Value::Null, Value::Null],
            vec![int(5), int(50), Value::Float(0.5), s("x")],
        ]
    );
    // An unknown field in a later row fails the whole batch.
    let bad: Vec<Vec<(&str, Value)>> = vec![
        vec![("id", int(6)), ("a", int(1))],
        vec![("id", int(7)), ("nope", int(1))],
    ];
    let err = db.insert_rows("t", bad, InsertMode::Insert).unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownColumn);
    // Upsert: of rows sharing an id the last wins, index entries follow.
    let up: Vec<Vec<(&str, Value)>> = vec![
        vec![("id", int(1)), ("c", s("p"))],
        vec![("id", int(8)), ("c", s("q"))],
        vec![("id", int(1)), ("c", s("r"))],
    ];
    assert_eq!(db.insert_rows("t", up, InsertMode::Upsert).unwrap(), 3);
    assert_eq!(
        rows(&db, "select id, a, c from t where id = 1 or id = 8"),
        vec![
            vec![int(1), Value::Null, s("r")],
            vec![int(8), Value::Null, s("q")],
        ]
    );
    assert_eq!(ids(&rows(&db, "find t where c = \"x\"")), vec![5]);
    assert_eq!(ids(&rows(&db, "find t where c = \"r\"")), vec![1]);
    assert!(rows(&db, "find t where c = \"p\"").is_empty());
    assert_eq!(rows(&db, "select count(*) from t"), vec![vec![int(6)]]);
}

#[test]
fn single_key_top_k_matches_a_full_sort() {
    let (db, _dir) = db();
    ok(
        &db,
        "create table t { id: int, x: float, n: int, s: string }",
    );
    // Many ties, nulls, ints next to floats (stored in a float column as
    // floats) and strings: the top-k must keep the first rows of a tie
    // in primary-key order, exactly as sorting everything would.
    let mut stmt = String::from("insert t [");
    for id in 1..=400 {
        let x = match id % 7 {
            0 => "null".to_string(),
            1 => format!("{}", id % 5),
            _ => format!("{}.5", id % 4),
        };
        let n = if id % 9 == 0 {
            "null".to_string()
        } else {
            format!("{}", id % 6)
        };
        let s = if id % 11 == 0 {
            "null".to_string()
        } else {
            format!("\"k{}\"", id % 13)
        };
        stmt.push_str(&format!("{{ id: {id}, x: {x}, n: {n}, s: {s} }},"));
    }
    stmt.pop();
    stmt.push(']');
    affected(&db, &stmt);
    for key in ["x", "n", "s", "id"] {
        for dir in ["asc", "desc"] {
            for filter in ["", "where n > 1", "where x >= 1", "where s < \"k5\""] {
                let all = rows(
                    &db,
                    &format!("select id from t {filter} order by {key} {dir}"),
                );
                for limit in [0, 1, 3, 10, 57] {
                    let q = format!("select id from t {filter} order by {key} {dir} limit {limit}");
                    let want: Vec<_> = all.iter().take(limit).cloned().collect();
                    assert_eq!(rows(&db, &q), want, "{q}");
                }
            }
        }
    }
}

#[test]
fn key_reads_are_exactly_the_primary_key_point_reads() {
    let (db, _dir) = db();
    users(&db);
    let key_read = |q: &str| db.is_key_read(&fasty_query::parse(q).expect("parses"));
    for q in [
        "find users where id = 3",
        "select * from users where id = 3",
        "select * from users where 3 = id",
        "find users where users.id = -1",
    ] {
        assert!(key_read(q), "{q}");
        // And it is a point read: at most one row.
        assert!(rows(&db, q).len() <= 1, "{q}");
    }
    for q in [
        "find users where id >= 3",
        "find users where id = 3 or id = 4",
        "find users where name = \"alice\"",
        "select name from users where id = 3",
        "select count(*) from users where id = 3",
        "find users where id = 3 order by age",
        "find users where id = 3.5",
        "find nosuch where id = 3",
        "select * from users join orders on users.id = orders.user_id where users.id = 1",
        "insert users { id: 99 }",
        "find users",
    ] {
        assert!(!key_read(q), "{q}");
    }
}
