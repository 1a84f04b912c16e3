//! docs/language.md end to end: every statement of the language on a small
//! database whose answers are worked out by hand, every error code, the
//! planner's choice of access path (via `explain`) with the same rows as a
//! forced full scan, and the catalog surviving a reopen.

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

fn code(db: &Database, q: &str) -> ErrorCode {
    match db.execute(q) {
        Err(e) => e.code(),
        Ok(o) => panic!("{q}: expected an error, got {o:?}"),
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
fn select_forms_and_null_columns() {
    let (db, _d) = db();
    users(&db);
    let all = rows(&db, "select users");
    assert_eq!(ids(&all), [1, 2, 3, 4, 5]);
    // Every column, nulls included, in declaration order.
    assert_eq!(all[0].len(), 8);
    assert_eq!(all[1][2], Value::Null, "bob has no email");
    assert_eq!(
        all[0][4],
        Value::Float(10.0),
        "an int literal into a float column is a float"
    );
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
    assert_eq!(
        rows(&db, "select name, email from users where age > 21"),
        vec![
            vec![s("alice"), s("a@b.c")],
            vec![s("carol"), Value::Null],
            vec![s("d"), Value::Null],
            vec![s("alina"), s("x@y.z")],
        ]
    );
    assert_eq!(ids(&rows(&db, "find users where name = \"alice\"")), [1]);
    assert_eq!(
        ids(&rows(&db, "find users where age >= 18 and age <= 65")),
        [1, 3, 5]
    );
    assert_eq!(
        ids(&rows(
            &db,
            "find users where city = \"NYC\" or city = \"LA\""
        )),
        [1, 2, 5]
    );
    assert_eq!(
        ids(&rows(&db, "find users where name like \"ali%\"")),
        [1, 5]
    );
    assert_eq!(ids(&rows(&db, "find users where name like \"_o_\"")), [2]);
    assert_eq!(
        ids(&rows(
            &db,
            "find users where not (age < 18) and email is not null"
        )),
        [1, 5]
    );
    assert_eq!(ids(&rows(&db, "find users where metadata.level > 3")), [2]);
    assert_eq!(
        ids(&rows(&db, "find users where age in (17, 70, 99)")),
        [2, 4]
    );
    assert_eq!(
        ids(&rows(&db, "find users where age between 25 and 40")),
        [1, 3, 5]
    );
    assert_eq!(
        ids(&rows(&db, "find users where email = null")),
        Vec::<i64>::new(),
        "comparing with null is never true"
    );
    assert_eq!(
        ids(&rows(&db, "FIND users WHERE age > 60")),
        [4],
        "keywords are case-insensitive"
    );
    assert_eq!(
        code(&db, "find users where Age > 60"),
        ErrorCode::UnknownColumn,
        "identifiers are not"
    );
}

#[test]
fn order_limit_offset() {
    let (db, _d) = db();
    users(&db);
    assert_eq!(
        ids(&rows(
            &db,
            "select * from users where active = true order by age desc limit 2"
        )),
        [4, 3]
    );
    assert_eq!(
        ids(&rows(
            &db,
            "select * from users order by age desc limit 2 offset 1"
        )),
        [3, 5]
    );
    // Nulls first ascending: bob and d have no balance... d has none, bob has none.
    assert_eq!(
        ids(&rows(&db, "select id from users order by balance, id")),
        [2, 4, 3, 5, 1]
    );
    assert_eq!(
        ids(&rows(&db, "select id from users order by balance desc, id")),
        [1, 5, 3, 2, 4]
    );
    assert_eq!(
        ids(&rows(&db, "select id from users order by city, age desc")),
        [4, 2, 5, 1, 3]
    );
    assert_eq!(
        ids(&rows(&db, "select id from users limit 2 offset 3")),
        [4, 5]
    );
}

#[test]
fn aggregates_and_group_by() {
    let (db, _d) = db();
    users(&db);
    let r = rows(
        &db,
        "select count(*), avg(age), min(age), max(age), sum(balance) from users where active = true",
    );
    assert_eq!(
        r,
        vec![vec![
            int(4),
            Value::Float(41.25),
            int(25),
            int(70),
            Value::Float(20.0)
        ]]
    );
    match db
        .execute("select city, count(*) from users group by city order by count(*) desc limit 5")
        .unwrap()
    {
        Output::Rows { columns, rows } => {
            assert_eq!(columns[1].name, "count(*)");
            assert_eq!(rows[0], vec![s("NYC"), int(2)]);
            assert_eq!(rows.len(), 4, "null is a group of its own");
        }
        other => panic!("{other:?}"),
    }
    let r = rows(
        &db,
        "select count(email) as with_email, count(*) as n from users",
    );
    assert_eq!(r, vec![vec![int(2), int(5)]]);
    let r = rows(&db, "select count(*), sum(age) from users where age > 1000");
    assert_eq!(
        r,
        vec![vec![int(0), Value::Null]],
        "aggregates over no rows"
    );
    assert_eq!(
        code(&db, "select name, count(*) from users"),
        ErrorCode::Unsupported
    );
}

#[test]
fn joins() {
    let (db, _d) = db();
    users(&db);
    ok(
        &db,
        "create table orders { id: int, user_id: int, amount: float }",
    );
    affected(
        &db,
        "insert orders [ {id: 10, user_id: 1, amount: 5}, {id: 11, user_id: 3, amount: 7.5}, {id: 12, user_id: 1, amount: 1}, {id: 13, user_id: 99, amount: 3}, {id: 14} ]",
    );
    match db
        .execute("select * from orders join users on orders.user_id = users.id limit 10")
        .unwrap()
    {
        Output::Rows { columns, rows } => {
            assert_eq!(columns[0].name, "orders.id");
            assert_eq!(columns[3].name, "users.id");
            assert_eq!(
                ids(&rows),
                [10, 11, 12],
                "inner join: unmatched and null keys drop out"
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        rows(
            &db,
            "select users.name, sum(amount) from orders join users on orders.user_id = users.id group by users.name order by users.name"
        ),
        vec![
            vec![s("alice"), Value::Float(6.0)],
            vec![s("carol"), Value::Float(7.5)]
        ]
    );
    assert_eq!(
        code(
            &db,
            "select id from orders join users on orders.user_id = users.id"
        ),
        ErrorCode::AmbiguousColumn
    );
    assert_eq!(
        ids(&rows(
            &db,
            "select orders.id from orders join users on users.id = orders.user_id where age > 30"
        )),
        [11]
    );
    // Chained joins.
    ok(
        &db,
        "create table items { id: int, order_id: int, sku: string }",
    );
    affected(
        &db,
        "insert items [ {id: 1, order_id: 11, sku: \"a\"}, {id: 2, order_id: 10, sku: \"b\"}, {id: 3, order_id: 11, sku: \"c\"} ]",
    );
    assert_eq!(
        rows(
            &db,
            "select items.sku, users.name from items join orders on items.order_id = orders.id join users on orders.user_id = users.id order by items.sku"
        ),
        vec![
            vec![s("a"), s("carol")],
            vec![s("b"), s("alice")],
            vec![s("c"), s("carol")]
        ]
    );
}

#[test]
fn update_delete_upsert() {
    let (db, _d) = db();
    users(&db);
    assert_eq!(
        affected(&db, "update users set balance = 100.50 where id = 1"),
        1
    );
    assert_eq!(
        rows(&db, "select balance from users where id = 1"),
        vec![vec![Value::Float(100.5)]]
    );
    assert_eq!(
        affected(
            &db,
            "update users set active = false, age = age + 1 where age < 18"
        ),
        1
    );
    assert_eq!(
        rows(&db, "select age, active from users where id = 2"),
        vec![vec![int(18), Value::Bool(false)]]
    );
    assert_eq!(affected(&db, "upsert users { id: 1, name: \"alice2\" }"), 1);
    assert_eq!(
        rows(&db, "select name, age from users where id = 1"),
        vec![vec![s("alice2"), Value::Null]],
        "upsert replaces the whole row"
    );
    assert_eq!(affected(&db, "upsert users { id: 9, name: \"new\" }"), 1);
    assert_eq!(affected(&db, "delete users where id = 1"), 1);
    assert_eq!(affected(&db, "delete from users where active = false"), 1);
    assert_eq!(affected(&db, "delete from users where active = false"), 0);
    assert_eq!(ids(&rows(&db, "select id from users")), [3, 4, 5, 9]);
    assert_eq!(affected(&db, "delete users"), 4);
    assert!(rows(&db, "select users").is_empty());
}

#[test]
fn a_failed_statement_changes_nothing() {
    let (db, _d) = db();
    users(&db);
    ok(&db, "create index idx_city on users (city)");
    assert_eq!(
        code(&db, "insert users [ { id: 20, city: \"X\" }, { id: 1 } ]"),
        ErrorCode::DuplicateKey
    );
    assert_eq!(
        code(&db, "insert users [ { id: 21 }, { id: 21 } ]"),
        ErrorCode::DuplicateKey
    );
    assert_eq!(
        code(&db, "insert users [ { id: 22 }, { name: \"x\" } ]"),
        ErrorCode::MissingPrimaryKey
    );
    assert_eq!(
        code(&db, "insert users [ { id: 23 }, { id: null } ]"),
        ErrorCode::MissingPrimaryKey
    );
    assert_eq!(
        code(&db, "insert users [ { id: 24 }, { id: 25, age: 1.5 } ]"),
        ErrorCode::TypeMismatch
    );
    assert_eq!(
        code(&db, "insert users [ { id: 26 }, { id: 27, agee: 1 } ]"),
        ErrorCode::UnknownColumn
    );
    assert_eq!(
        code(
            &db,
            "update users set age = age + 9223372036854775807 where id > 2"
        ),
        ErrorCode::NumericOverflow
    );
    assert_eq!(
        code(&db, "update users set id = 1 where id = 2"),
        ErrorCode::DuplicateKey
    );
    assert_eq!(ids(&rows(&db, "select id from users")), [1, 2, 3, 4, 5]);
    assert_eq!(
        ids(&rows(&db, "find users where city = \"X\"")),
        Vec::<i64>::new()
    );
    assert_eq!(
        rows(&db, "select age from users where id = 3"),
        vec![vec![int(40)]]
    );
    let err = db
        .execute("insert users { id: 30, age: \"old\" }")
        .unwrap_err();
    assert!(
        err.message().contains("age")
            && err.message().contains("int")
            && err.message().contains("string"),
        "{}",
        err.message()
    );
}

#[test]
fn every_error_code() {
    let (db, _d) = db();
    users(&db);
    let e = db.execute("selct * from users").unwrap_err();
    assert_eq!(e.code(), ErrorCode::SyntaxError);
    assert_eq!((e.line(), e.column()), (Some(1), Some(1)));
    assert!(
        e.hint().is_some_and(|h| h.contains("select")),
        "{:?}",
        e.hint()
    );
    let e = db.execute("find userz").unwrap_err();
    assert_eq!(e.code(), ErrorCode::UnknownTable);
    assert_eq!(e.hint(), Some("did you mean table \"users\"?"));
    let e = db.execute("find users where nmae = 1").unwrap_err();
    assert_eq!(e.code(), ErrorCode::UnknownColumn);
    assert_eq!(e.hint(), Some("did you mean column \"name\"?"));
    assert_eq!(code(&db, "drop index nope"), ErrorCode::UnknownIndex);
    assert_eq!(
        code(&db, "create table users { id: int }"),
        ErrorCode::TableExists
    );
    ok(&db, "create index i1 on users (age)");
    assert_eq!(
        code(&db, "create index i1 on users (name)"),
        ErrorCode::IndexExists
    );
    assert_eq!(
        code(&db, "create table t { name: string }"),
        ErrorCode::InvalidSchema
    );
    assert_eq!(
        code(&db, "create table t { id: string }"),
        ErrorCode::InvalidSchema
    );
    assert_eq!(
        code(&db, "create table t { id: int, a: int, a: string }"),
        ErrorCode::InvalidSchema
    );
    assert_eq!(code(&db, "insert users { id: 1 }"), ErrorCode::DuplicateKey);
    assert_eq!(
        code(&db, "insert users { name: \"x\" }"),
        ErrorCode::MissingPrimaryKey
    );
    assert_eq!(
        code(&db, "insert users { id: 7, active: 1 }"),
        ErrorCode::TypeMismatch
    );
    assert_eq!(
        code(&db, "find users where name.x = 1"),
        ErrorCode::TypeMismatch
    );
    ok(&db, "create table other { id: int, name: string }");
    assert_eq!(
        code(
            &db,
            "select name from users join other on users.id = other.id"
        ),
        ErrorCode::AmbiguousColumn
    );
    assert_eq!(
        code(&db, "select * from users join other on users.id > other.id"),
        ErrorCode::Unsupported
    );
    assert_eq!(
        code(
            &db,
            "update users set age = 9223372036854775807 + age where id = 1"
        ),
        ErrorCode::NumericOverflow
    );
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
fn indexes_follow_every_write() {
    let (db, _d) = db();
    users(&db);
    ok(&db, "create index idx_city on users (city)");
    let nyc = |db: &Database| ids(&rows(db, "find users where city = \"NYC\""));
    assert_eq!(nyc(&db), [1, 5], "backfilled");
    affected(&db, "insert users { id: 6, city: \"NYC\" }");
    assert_eq!(nyc(&db), [1, 5, 6]);
    affected(&db, "upsert users { id: 1, city: \"LA\" }");
    assert_eq!(nyc(&db), [5, 6]);
    affected(&db, "update users set city = \"NYC\" where id = 3");
    assert_eq!(nyc(&db), [3, 5, 6]);
    affected(&db, "update users set id = 30 where id = 3");
    assert_eq!(nyc(&db), [5, 6, 30]);
    affected(&db, "delete users where id = 5");
    assert_eq!(nyc(&db), [6, 30]);
    ok(&db, "drop index idx_city");
    assert!(plan(&db, "find users where city = \"NYC\"").contains("full scan"));
    assert_eq!(nyc(&db), [6, 30]);
    // A new index of the same name starts from the table, not from the
    // dropped one's entries.
    ok(&db, "create index idx_city on users (city)");
    assert_eq!(nyc(&db), [6, 30]);
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
    // A placeholder outside a prepared statement is a syntax error at it.
    let e = db.execute("find users\nwhere id = ?").unwrap_err();
    assert_eq!(e.code(), ErrorCode::SyntaxError);
    assert_eq!((e.line(), e.column()), (Some(2), Some(12)));
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
