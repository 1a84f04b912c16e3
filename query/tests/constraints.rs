//! Constraints beyond the statement tests (tests/slt/constraints.slt,
//! alter.slt): random writes against SQLite as the oracle of `unique`,
//! `not null` and defaults; the unique check at a transaction's commit;
//! definitions and altered tables after a reopen.

use fasty_query::{Database, ErrorCode, Options, Output, Value};

fn memory() -> Database {
    Database::open("unused", Options::memory()).unwrap()
}

fn rows(out: Output) -> Vec<Vec<Value>> {
    match out {
        Output::Rows { rows, .. } => rows,
        other => panic!("expected rows, got {other:?}"),
    }
}

/// A small deterministic generator (xorshift64*), so a failure repeats.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

/// `null` or a small int, as (fasty, SQL) text.
fn small(rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => "null".into(),
        n => (n % 4).to_string(),
    }
}

/// One random write, as (fasty statement, SQLite statement).
fn write(rng: &mut Rng) -> (String, String) {
    let id = rng.below(8);
    match rng.below(5) {
        0 | 1 => {
            // One or two rows, each naming `n` or leaving it to the default.
            let count = 1 + rng.below(2);
            let mut f = Vec::new();
            let mut s = Vec::new();
            for i in 0..count {
                let (id, u) = (id + i * 3, small(rng));
                if rng.below(3) == 0 {
                    f.push(format!("{{ id: {id}, u: {u} }}"));
                    s.push(format!("INSERT INTO t (id, u) VALUES ({id}, {u})"));
                } else {
                    let n = small(rng);
                    f.push(format!("{{ id: {id}, u: {u}, n: {n} }}"));
                    s.push(format!("INSERT INTO t (id, u, n) VALUES ({id}, {u}, {n})"));
                }
            }
            (format!("insert t [{}]", f.join(", ")), s.join(";\n"))
        }
        2 => {
            let u = small(rng);
            (
                format!("update t set u = {u} where id = {id}"),
                format!("UPDATE t SET u = {u} WHERE id = {id}"),
            )
        }
        3 => {
            let n = small(rng);
            (
                format!("update t set n = {n} where id = {id}"),
                format!("UPDATE t SET n = {n} WHERE id = {id}"),
            )
        }
        _ => (
            format!("delete t where id = {id}"),
            format!("DELETE FROM t WHERE id = {id}"),
        ),
    }
}

/// SQLite runs `sql` (one or more statements) all or nothing.
fn sqlite_atomic(conn: &mut rusqlite::Connection, sql: &str) -> bool {
    let tx = conn.transaction().unwrap();
    match tx.execute_batch(sql) {
        Ok(()) => {
            tx.commit().unwrap();
            true
        }
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            false
        }
        Err(e) => panic!("sqlite: {e} in {sql}"),
    }
}

#[test]
fn unique_not_null_and_defaults_agree_with_sqlite() {
    for seed in 1..=40u64 {
        let db = memory();
        db.execute("create table t { id: int, u: int unique, n: int not null default 7 }")
            .unwrap();
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, u INTEGER UNIQUE, n INTEGER NOT NULL DEFAULT 7)",
        )
        .unwrap();
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        for step in 0..60 {
            let (f, s) = write(&mut rng);
            let ours = db.execute(&f);
            let theirs = sqlite_atomic(&mut conn, &s);
            if let Err(e) = &ours {
                assert!(
                    matches!(
                        e.code(),
                        ErrorCode::DuplicateKey | ErrorCode::NotNullViolation
                    ),
                    "seed {seed} step {step}: {f}: {e}"
                );
            }
            assert_eq!(
                ours.is_ok(),
                theirs,
                "seed {seed} step {step}: {f} gave {ours:?}, SQLite {theirs}"
            );
            let mine = rows(db.execute("select id, u, n from t order by id").unwrap());
            let mut stmt = conn.prepare("SELECT id, u, n FROM t ORDER BY id").unwrap();
            let want: Vec<Vec<Value>> = stmt
                .query_map([], |r| {
                    let v = |i: usize| -> rusqlite::Result<Value> {
                        Ok(r.get::<_, Option<i64>>(i)?.map_or(Value::Null, Value::Int))
                    };
                    Ok(vec![v(0)?, v(1)?, v(2)?])
                })
                .unwrap()
                .collect::<rusqlite::Result<_>>()
                .unwrap();
            assert_eq!(mine, want, "seed {seed} step {step}: after {f}");
        }
    }
}

#[test]
fn unique_is_checked_again_at_commit() {
    let db = memory();
    db.execute("create table u { id: int, e: string unique }")
        .unwrap();
    // A value committed by a statement after the transaction began.
    let mut tx = db.begin().unwrap();
    tx.execute(r#"insert u { id: 1, e: "a" }"#).unwrap();
    db.execute(r#"insert u { id: 2, e: "a" }"#).unwrap();
    assert_eq!(tx.commit().unwrap_err().code(), ErrorCode::DuplicateKey);
    // Two transactions: the first to commit wins.
    let mut a = db.begin().unwrap();
    let mut b = db.begin().unwrap();
    a.execute(r#"insert u { id: 3, e: "b" }"#).unwrap();
    b.execute(r#"insert u { id: 4, e: "b" }"#).unwrap();
    a.commit().unwrap();
    assert_eq!(b.commit().unwrap_err().code(), ErrorCode::DuplicateKey);
    // A transaction that frees a value and takes it in another row.
    let mut c = db.begin().unwrap();
    c.execute("delete u where id = 2").unwrap();
    c.execute(r#"insert u { id: 5, e: "a" }"#).unwrap();
    c.commit().unwrap();
    let ids = rows(db.execute("select id, e from u order by id").unwrap());
    assert_eq!(
        ids,
        vec![
            vec![Value::Int(3), Value::String("b".into())],
            vec![Value::Int(5), Value::String("a".into())],
        ]
    );
}

#[test]
fn definitions_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Database::open(dir.path(), Options::durable()).unwrap();
        db.execute("create table p { name: string not null, sku: int primary key, qty: int default 3, tag: string unique }")
            .unwrap();
        db.execute(r#"insert p { sku: 5, name: "a", tag: "x" }"#)
            .unwrap();
        db.execute("alter table p add column w: float default 1.5")
            .unwrap();
        db.execute("alter table p rename column qty to count_")
            .unwrap();
        db.execute("alter table p rename to q").unwrap();
    }
    let db = Database::open(dir.path(), Options::durable()).unwrap();
    assert_eq!(
        rows(db.execute("find q").unwrap()),
        vec![vec![
            Value::String("a".into()),
            Value::Int(5),
            Value::Int(3),
            Value::String("x".into()),
            Value::Float(1.5),
        ]]
    );
    let code = |s: &str| db.execute(s).unwrap_err().code();
    assert_eq!(code("insert q { sku: 6 }"), ErrorCode::NotNullViolation);
    assert_eq!(
        code(r#"insert q { sku: 6, name: "b", tag: "x" }"#),
        ErrorCode::DuplicateKey
    );
    assert_eq!(
        code(r#"insert q { sku: 5, name: "b" }"#),
        ErrorCode::DuplicateKey
    );
    db.execute(r#"insert q { sku: 6, name: "b" }"#).unwrap();
    assert_eq!(
        rows(db.execute("select count_, w from q where sku = 6").unwrap()),
        vec![vec![Value::Int(3), Value::Float(1.5)]]
    );
    assert!(db.verify().unwrap().is_clean());
}
