//! Transactions: snapshot isolation through every read path, first
//! committer wins, statement-level rollback, read-only transactions, the
//! size bound and the idle timeout, sessions — and, with threads, the
//! concurrent-increment and bank-transfer invariants.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread;
use std::time::Duration;

use fasty_query::{Database, ErrorCode, Options, Output, Session, Value};

fn memory() -> Database {
    Database::open("unused", Options::memory()).unwrap()
}

/// The rows of a query, as values.
fn rows(out: Output) -> Vec<Vec<Value>> {
    match out {
        Output::Rows { rows, .. } => rows,
        other => panic!("expected rows, got {other:?}"),
    }
}

/// The one value a query returns.
fn scalar(out: Output) -> Value {
    let mut r = rows(out);
    assert_eq!(r.len(), 1, "one row");
    r.remove(0).remove(0)
}

fn int(out: Output) -> i64 {
    match scalar(out) {
        Value::Int(n) => n,
        other => panic!("expected an int, got {other:?}"),
    }
}

/// `users` with an index on `city`, rows 1..=n, the data flushed into
/// tables (columnar at the bottom) so that reads merge the snapshot's
/// private writes with tables, not only memtables.
fn users(n: i64) -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), Options::default()).unwrap();
    db.execute("create table users { id: int, name: string, city: string, balance: int }")
        .unwrap();
    db.execute("create index users_city on users (city)")
        .unwrap();
    db.execute("create table orders { id: int, user_id: int, amount: int }")
        .unwrap();
    let cities = ["oslo", "rome", "lima"];
    let rows: Vec<Vec<(&str, Value)>> = (1..=n)
        .map(|i| {
            vec![
                ("id", Value::Int(i)),
                ("name", Value::String(format!("u{i}"))),
                ("city", Value::String(cities[(i % 3) as usize].into())),
                ("balance", Value::Int(100)),
            ]
        })
        .collect();
    db.insert_rows("users", rows, fasty_query::InsertMode::Insert)
        .unwrap();
    let orders: Vec<Vec<(&str, Value)>> = (1..=n)
        .map(|i| {
            vec![
                ("id", Value::Int(i)),
                ("user_id", Value::Int(i)),
                ("amount", Value::Int(i % 7)),
            ]
        })
        .collect();
    db.insert_rows("orders", orders, fasty_query::InsertMode::Insert)
        .unwrap();
    db.kv().compact().unwrap();
    (dir, db)
}

#[test]
fn a_transaction_reads_its_own_writes_through_every_path() {
    let (_dir, db) = users(3000);
    let mut tx = db.begin().unwrap();
    tx.execute(r#"insert users { id: 5000, name: "new", city: "oslo", balance: 7 }"#)
        .unwrap();
    tx.execute("update users set city = \"rome\", balance = 1 where id = 3")
        .unwrap();
    tx.execute("delete users where id = 6").unwrap();
    tx.execute("insert orders { id: 9000, user_id: 5000, amount: 50 }")
        .unwrap();

    // Point reads.
    assert_eq!(
        rows(tx.execute("find users where id = 5000").unwrap()).len(),
        1
    );
    assert!(rows(tx.execute("find users where id = 6").unwrap()).is_empty());
    // Index lookups: row 3 moved from oslo (3 % 3 = 0) to rome, row 6
    // (oslo) is gone, row 5000 is in oslo.
    let oslo: Vec<i64> = rows(
        tx.execute("select id from users where city = \"oslo\"")
            .unwrap(),
    )
    .into_iter()
    .map(|r| match r[0] {
        Value::Int(i) => i,
        _ => unreachable!(),
    })
    .collect();
    assert!(oslo.contains(&5000) && !oslo.contains(&3) && !oslo.contains(&6));
    assert_eq!(oslo.len(), 1000 - 2 + 1);
    // Scans and aggregates.
    assert_eq!(int(tx.execute("select count(*) from users").unwrap()), 3000);
    assert_eq!(
        int(tx.execute("select sum(balance) from users").unwrap()),
        2998 * 100 + 7 + 1
    );
    assert_eq!(
        int(tx
            .execute("select count(*) from users where city = \"rome\"")
            .unwrap()),
        1000 + 1
    );
    // A join and a grouped aggregate see the new order and miss the
    // deleted user.
    assert_eq!(
        int(tx
            .execute("select sum(orders.amount) from users join orders on users.id = orders.user_id where users.id > 4999")
            .unwrap()),
        50
    );
    assert_eq!(
        int(tx
            .execute("select count(*) from users join orders on users.id = orders.user_id")
            .unwrap()),
        3000 - 1 + 1
    );

    // Nobody else sees any of it.
    assert!(rows(db.execute("find users where id = 5000").unwrap()).is_empty());
    assert_eq!(int(db.execute("select count(*) from users").unwrap()), 3000);
    tx.commit().unwrap();
    assert_eq!(
        rows(db.execute("find users where id = 5000").unwrap()).len(),
        1
    );
    assert!(rows(db.execute("find users where id = 6").unwrap()).is_empty());
    assert!(db.verify().unwrap().is_clean());
}

#[test]
fn a_transaction_reads_as_of_its_begin() {
    let (_dir, db) = users(100);
    let mut tx = db.begin().unwrap();
    db.execute("update users set balance = 0 where id <= 50")
        .unwrap();
    db.execute(r#"insert users { id: 200, name: "late", city: "lima", balance: 5 }"#)
        .unwrap();
    assert_eq!(
        int(tx.execute("select sum(balance) from users").unwrap()),
        100 * 100
    );
    assert!(rows(tx.execute("find users where id = 200").unwrap()).is_empty());
    // Writing a row the others did not touch commits.
    tx.execute("update users set balance = 1 where id = 99")
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        int(db.execute("select sum(balance) from users").unwrap()),
        49 * 100 + 1 + 5
    );
}

#[test]
fn the_later_committer_of_a_row_fails_and_the_other_stays() {
    let (_dir, db) = users(10);
    let mut a = db.begin().unwrap();
    let mut b = db.begin().unwrap();
    a.execute("update users set balance = balance + 1 where id = 1")
        .unwrap();
    b.execute("update users set balance = balance + 10 where id = 1")
        .unwrap();
    b.execute(r#"insert users { id: 77, name: "b", city: "lima", balance: 0 }"#)
        .unwrap();
    a.commit().unwrap();
    let e = b.commit().unwrap_err();
    assert_eq!(e.code(), ErrorCode::SerializationFailure, "{e}");
    assert_eq!(
        int(db
            .execute("select balance from users where id = 1")
            .unwrap()),
        101
    );
    assert!(
        rows(db.execute("find users where id = 77").unwrap()).is_empty(),
        "nothing of the failed transaction"
    );
    let stats = db.transaction_stats();
    assert_eq!(
        (stats.commits, stats.conflicts, stats.open),
        (1, 1, 0),
        "{stats:?}"
    );
}

#[test]
fn a_single_statement_after_begin_conflicts_with_the_transaction() {
    let (_dir, db) = users(10);
    for stmt in [
        "update users set balance = 5 where id = 2",
        "delete users where id = 2",
    ] {
        db.execute("upsert users { id: 2, name: \"u2\", city: \"lima\", balance: 100 }")
            .unwrap();
        let mut tx = db.begin().unwrap();
        tx.execute("update users set balance = 0 where id = 2")
            .unwrap();
        db.execute(stmt).unwrap();
        assert_eq!(
            tx.commit().unwrap_err().code(),
            ErrorCode::SerializationFailure,
            "{stmt}"
        );
    }
    // Two transactions inserting one key: the second fails.
    let mut a = db.begin().unwrap();
    let mut b = db.begin().unwrap();
    a.execute(r#"insert users { id: 500, name: "a", city: "oslo", balance: 1 }"#)
        .unwrap();
    b.execute(r#"insert users { id: 500, name: "b", city: "rome", balance: 2 }"#)
        .unwrap();
    a.commit().unwrap();
    assert_eq!(
        b.commit().unwrap_err().code(),
        ErrorCode::SerializationFailure
    );
    assert_eq!(
        rows(
            db.execute("select name from users where city = \"rome\" and id = 500")
                .unwrap()
        )
        .len(),
        0
    );
    assert!(db.verify().unwrap().is_clean());
}

#[test]
fn a_failed_statement_leaves_the_transaction_usable() {
    let (_dir, db) = users(10);
    let mut tx = db.begin().unwrap();
    tx.execute("update users set balance = 1 where id = 1")
        .unwrap();
    // A duplicate key in a two-row insert adds neither row.
    let e = tx
        .execute(r#"insert users [{ id: 300, name: "x", city: "oslo", balance: 0 }, { id: 2, name: "dup", city: "oslo", balance: 0 }]"#)
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::DuplicateKey);
    assert_eq!(
        tx.execute("update users set balance = \"text\" where id = 3")
            .unwrap_err()
            .code(),
        ErrorCode::TypeMismatch
    );
    assert!(rows(tx.execute("find users where id = 300").unwrap()).is_empty());
    tx.execute("update users set balance = 2 where id = 4")
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(
        int(db
            .execute("select sum(balance) from users where id <= 4")
            .unwrap()),
        1 + 100 + 100 + 2
    );
}

#[test]
fn read_only_transactions_refuse_writes_and_ddl_is_refused_inside() {
    let (_dir, db) = users(10);
    let mut ro = db.begin_read_only().unwrap();
    assert!(ro.is_read_only());
    for stmt in [
        "update users set balance = 1 where id = 1",
        "delete users where id = 1",
        r#"insert users { id: 99, name: "x", city: "y", balance: 0 }"#,
    ] {
        assert_eq!(
            ro.execute(stmt).unwrap_err().code(),
            ErrorCode::ReadOnlyTransaction,
            "{stmt}"
        );
    }
    assert_eq!(
        ro.insert_rows(
            "users",
            [[("id", Value::Int(98))]],
            fasty_query::InsertMode::Insert
        )
        .unwrap_err()
        .code(),
        ErrorCode::ReadOnlyTransaction
    );
    assert_eq!(int(ro.execute("select count(*) from users").unwrap()), 10);
    ro.commit().unwrap();

    let mut tx = db.begin().unwrap();
    for stmt in [
        "create table t2 { id: int }",
        "drop table users",
        "create index users_name on users (name)",
        "drop index users_city",
        "begin",
        "commit",
        "rollback",
    ] {
        assert_eq!(
            tx.execute(stmt).unwrap_err().code(),
            ErrorCode::InvalidTransactionState,
            "{stmt}"
        );
    }
    tx.rollback();
    assert_eq!(
        db.execute("begin").unwrap_err().code(),
        ErrorCode::InvalidTransactionState
    );
}

#[test]
fn ddl_on_a_written_table_during_the_transaction_fails_its_commit() {
    let (_dir, db) = users(10);
    let mut tx = db.begin().unwrap();
    tx.execute(r#"insert users { id: 50, name: "n", city: "oslo", balance: 0 }"#)
        .unwrap();
    // The new index would miss the transaction's row.
    db.execute("create index users_name on users (name)")
        .unwrap();
    assert_eq!(
        tx.commit().unwrap_err().code(),
        ErrorCode::SerializationFailure
    );
    assert!(db.verify().unwrap().is_clean());
}

#[test]
fn the_write_set_has_a_bound() {
    let db = Database::open(
        "unused",
        Options::memory().with_max_transaction_bytes(64 << 10),
    )
    .unwrap();
    db.execute("create table t { id: int, s: string }").unwrap();
    let mut tx = db.begin().unwrap();
    let big = "x".repeat(1000);
    let mut n = 0;
    let e = loop {
        match tx.execute(&format!("insert t {{ id: {n}, s: \"{big}\" }}")) {
            Ok(_) => n += 1,
            Err(e) => break e,
        }
        assert!(n < 1000, "the bound was never reached");
    };
    assert_eq!(e.code(), ErrorCode::TransactionTooLarge);
    assert!(n > 10, "{n} rows fit");
    // The transaction is still usable, and commits what fit.
    assert_eq!(int(tx.execute("select count(*) from t").unwrap()), n);
    tx.commit().unwrap();
    assert_eq!(int(db.execute("select count(*) from t").unwrap()), n);
}

#[test]
fn an_idle_transaction_is_rolled_back_by_the_timeout() {
    let db = Database::open(
        "unused",
        Options::memory().with_idle_transaction_timeout(Some(Duration::from_millis(50))),
    )
    .unwrap();
    db.execute("create table t { id: int }").unwrap();
    let mut tx = db.begin().unwrap();
    tx.execute("insert t { id: 1 }").unwrap();
    let mut waited = Duration::ZERO;
    while db.transaction_stats().timeouts == 0 {
        assert!(waited < Duration::from_secs(10), "never rolled back");
        thread::sleep(Duration::from_millis(20));
        waited += Duration::from_millis(20);
    }
    assert_eq!(
        tx.execute("select count(*) from t").unwrap_err().code(),
        ErrorCode::TransactionTimeout
    );
    assert_eq!(
        tx.commit().unwrap_err().code(),
        ErrorCode::TransactionTimeout
    );
    assert_eq!(int(db.execute("select count(*) from t").unwrap()), 0);
    let stats = db.transaction_stats();
    assert_eq!((stats.open, stats.rollbacks), (0, 1), "{stats:?}");

    // A busy transaction is not idle.
    let mut tx = db.begin().unwrap();
    for i in 0..10 {
        thread::sleep(Duration::from_millis(15));
        tx.execute(&format!("insert t {{ id: {} }}", 10 + i))
            .unwrap();
    }
    tx.commit().unwrap();
    assert_eq!(int(db.execute("select count(*) from t").unwrap()), 10);
}

#[test]
fn dropping_a_handle_rolls_back() {
    let db = memory();
    db.execute("create table t { id: int }").unwrap();
    {
        let mut tx = db.begin().unwrap();
        tx.execute("insert t { id: 1 }").unwrap();
        assert_eq!(db.transaction_stats().open, 1);
    }
    let stats = db.transaction_stats();
    assert_eq!((stats.open, stats.rollbacks, stats.begun), (0, 1, 1));
    assert_eq!(int(db.execute("select count(*) from t").unwrap()), 0);
}

#[test]
fn a_session_runs_begin_commit_and_rollback_statements() {
    let db = memory();
    let mut s = Session::new();
    s.execute(&db, "create table t { id: int, n: int }")
        .unwrap();
    s.execute(&db, "insert t { id: 1, n: 0 }").unwrap();
    assert_eq!(
        s.execute(&db, "commit").unwrap_err().code(),
        ErrorCode::InvalidTransactionState
    );
    assert_eq!(s.execute(&db, "begin").unwrap(), Output::Ok);
    assert!(s.in_transaction());
    assert_eq!(
        s.execute(&db, "begin").unwrap_err().code(),
        ErrorCode::InvalidTransactionState
    );
    s.execute(&db, "update t set n = 5 where id = 1").unwrap();
    assert_eq!(int(s.execute(&db, "select n from t").unwrap()), 5);
    assert_eq!(int(db.execute("select n from t").unwrap()), 0);
    assert_eq!(s.execute(&db, "rollback").unwrap(), Output::Ok);
    assert!(!s.in_transaction());
    assert_eq!(int(db.execute("select n from t").unwrap()), 0);
    s.execute(&db, "begin").unwrap();
    s.execute(&db, "update t set n = 6 where id = 1").unwrap();
    s.execute(&db, "commit").unwrap();
    assert_eq!(int(db.execute("select n from t").unwrap()), 6);
    s.execute(&db, "begin read only").unwrap();
    assert_eq!(
        s.execute(&db, "delete t").unwrap_err().code(),
        ErrorCode::ReadOnlyTransaction
    );
    s.execute(&db, "commit").unwrap();
    // A session dropped with a transaction open rolls it back.
    s.execute(&db, "begin").unwrap();
    s.execute(&db, "delete t").unwrap();
    drop(s);
    assert_eq!(int(db.execute("select count(*) from t").unwrap()), 1);
    assert_eq!(db.transaction_stats().open, 0);
}

/// Retries `body` in a fresh transaction until its commit succeeds.
fn retry(db: &Database, body: impl Fn(&mut fasty_query::Transaction<'_>)) -> u64 {
    let mut conflicts = 0;
    loop {
        let mut tx = db.begin().unwrap();
        body(&mut tx);
        match tx.commit() {
            Ok(()) => return conflicts,
            Err(e) if e.code() == ErrorCode::SerializationFailure => conflicts += 1,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn concurrent_increments_are_never_lost() {
    let db = Arc::new(memory());
    db.execute("create table c { id: int, n: int }").unwrap();
    db.execute("insert c { id: 1, n: 0 }").unwrap();
    const THREADS: u64 = 6;
    const EACH: u64 = 150;
    let conflicts = AtomicU64::new(0);
    thread::scope(|s| {
        for t in 0..THREADS {
            let db = &db;
            let conflicts = &conflicts;
            s.spawn(move || {
                for i in 0..EACH {
                    if (t + i) % 2 == 0 {
                        // On its own.
                        db.execute("update c set n = n + 1 where id = 1").unwrap();
                    } else {
                        let c = retry(db, |tx| {
                            tx.execute("update c set n = n + 1 where id = 1").unwrap();
                        });
                        conflicts.fetch_add(c, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(
        int(db.execute("select n from c where id = 1").unwrap()),
        (THREADS * EACH) as i64
    );
    let stats = db.transaction_stats();
    assert_eq!(stats.conflicts, conflicts.load(Ordering::Relaxed));
    assert_eq!(stats.open, 0);
}

#[test]
fn transfers_keep_the_total_while_readers_check_it() {
    let (_dir, db) = users(40);
    let db = &db;
    let total = int(db.execute("select sum(balance) from users").unwrap());
    let done = AtomicBool::new(false);
    let checks = AtomicU64::new(0);
    thread::scope(|s| {
        let mut writers = Vec::new();
        for t in 0..3u64 {
            writers.push(s.spawn(move || {
                let mut x = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
                for _ in 0..200 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let from = (x % 40 + 1) as i64;
                    let to = ((x >> 8) % 40 + 1) as i64;
                    let amount = (x >> 16) % 30;
                    if from == to {
                        continue;
                    }
                    retry(db, |tx| {
                        tx.execute(&format!(
                            "update users set balance = balance - {amount} where id = {from}"
                        ))
                        .unwrap();
                        tx.execute(&format!(
                            "update users set balance = balance + {amount} where id = {to}"
                        ))
                        .unwrap();
                    });
                }
            }));
        }
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                let mut ro = db.begin_read_only().unwrap();
                let sum = int(ro.execute("select sum(balance) from users").unwrap());
                // Through the index too: the same snapshot.
                let by_city: i64 = ["oslo", "rome", "lima"]
                    .iter()
                    .map(|c| {
                        int(ro
                            .execute(&format!(
                                "select sum(balance) from users where city = \"{c}\""
                            ))
                            .unwrap())
                    })
                    .sum();
                ro.commit().unwrap();
                assert_eq!((sum, by_city), (total, total));
                checks.fetch_add(1, Ordering::Relaxed);
            }
        });
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    assert!(checks.load(Ordering::Relaxed) > 0);
    assert_eq!(
        int(db.execute("select sum(balance) from users").unwrap()),
        total
    );
    assert!(db.verify().unwrap().is_clean());
}

#[test]
fn a_session_given_another_database_keeps_its_transaction() {
    let (a, b) = (memory(), memory());
    a.execute("create table t { id: int }").unwrap();
    let mut s = Session::new();
    s.execute(&a, "begin").unwrap();
    s.execute(&a, "insert t { id: 1 }").unwrap();
    for stmt in ["find t", "commit"] {
        assert_eq!(
            s.execute(&b, stmt).unwrap_err().code(),
            ErrorCode::InvalidTransactionState,
            "{stmt}"
        );
    }
    assert!(s.in_transaction(), "a misdirected commit does not end it");
    s.execute(&a, "commit").unwrap();
    assert_eq!(int(a.execute("select count(*) from t").unwrap()), 1);
}
