//! Statements from many threads at once: an `insert` of a key is accepted
//! exactly once however many threads race for it (the duplicate check and
//! the write are atomic), and concurrent upserts, updates and deletes leave
//! every index agreeing with a full scan.

use std::sync::Arc;

use fasty_query::{Database, ErrorCode, ExecOptions, Options, Output};

fn rows(db: &Database, q: &str, use_indexes: bool) -> Vec<Vec<fasty_query::Value>> {
    match db
        .execute_with(q, ExecOptions::default().with_use_indexes(use_indexes))
        .unwrap()
    {
        Output::Rows { rows, .. } => rows,
        o => panic!("{o:?}"),
    }
}

#[test]
fn racing_inserts_of_one_key_succeed_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path(), Options::durable()).unwrap());
    db.execute("create table t { id: int, who: int }").unwrap();
    db.execute("create index ix_who on t (who)").unwrap();
    let threads: Vec<_> = (0..4)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut won = 0;
                for id in 0..200 {
                    match db.execute(&format!("insert t {{ id: {id}, who: {w} }}")) {
                        Ok(_) => won += 1,
                        Err(e) => assert_eq!(e.code(), ErrorCode::DuplicateKey, "{e}"),
                    }
                }
                won
            })
        })
        .collect();
    let won: i32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(won, 200, "every id inserted exactly once");
    // Each row has exactly one index entry: index lookups partition the rows.
    let mut via_index = 0;
    for w in 0..4 {
        let by_index = rows(&db, &format!("find t where who = {w}"), true);
        assert_eq!(
            by_index,
            rows(&db, &format!("find t where who = {w}"), false)
        );
        via_index += by_index.len();
    }
    assert_eq!(via_index, 200);
}

#[test]
fn concurrent_writes_keep_indexes_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(Database::open(dir.path(), Options::default()).unwrap());
    db.execute("create table t { id: int, k: int, s: string }")
        .unwrap();
    db.execute("create index ix_k on t (k)").unwrap();
    db.execute("create index ix_s on t (s)").unwrap();
    let threads: Vec<_> = (0..4u64)
        .map(|w| {
            let db = db.clone();
            std::thread::spawn(move || {
                let mut x = w * 7919 + 1;
                for _ in 0..300 {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let id = (x >> 33) % 50;
                    let k = (x >> 20) % 5;
                    let q = match (x >> 40) % 4 {
                        0 => format!("upsert t {{ id: {id}, k: {k}, s: \"s{k}\" }}"),
                        1 => format!("update t set k = k + 1, s = \"u\" where id = {id}"),
                        2 => format!("delete t where k = {k}"),
                        _ => format!("insert t {{ id: {}, k: {k} }}", id + 50),
                    };
                    if let Err(e) = db.execute(&q) {
                        assert_eq!(e.code(), ErrorCode::DuplicateKey, "{q}: {e}");
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for q in (0..8).map(|k| format!("find t where k = {k}")).chain(
        [
            "find t where s = \"u\"",
            "find t where s >= \"s2\"",
            "find t where k > 2",
        ]
        .map(String::from),
    ) {
        assert_eq!(rows(&db, &q, true), rows(&db, &q, false), "{q}");
    }
}
