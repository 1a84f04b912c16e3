//! Statement limits from `ServerOptions`, passed to every statement: a
//! time limit and a memory limit, each a 400 with its code; and the
//! cancel flag set when the client hangs up.
//!
//! These need the query crate to enforce `ExecOptions` (deadline, memory
//! limit, cancel flag); until it does they are ignored.

use std::time::Duration;

use fasty_server::ServerOptions;
use serde_json::json;

use crate::client::TestServer;

/// Two tables whose join on `k` has `n * n` rows.
fn join_tables(s: &TestServer, n: i64) {
    s.ok("create table a { id: int, k: int }");
    s.ok("create table b { id: int, k: int }");
    let rows = json!((0..n).map(|i| json!({"id": i, "k": 0})).collect::<Vec<_>>());
    for t in ["a", "b"] {
        let r = s.post(json!({"table": t, "rows": rows}).to_string().as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

#[test]
#[ignore = "needs the query crate to enforce ExecOptions::deadline"]
fn a_statement_past_its_time_limit_is_400_statement_timeout() {
    let s = TestServer::start(ServerOptions {
        statement_timeout: Some(Duration::from_millis(50)),
        ..ServerOptions::default()
    });
    join_tables(&s, 2000);
    let slow = "select a.id, b.id from a join b on a.k = b.k order by a.id desc, b.id desc limit 1";
    s.query(slow).assert_error(400, "statement_timeout");
    // Quick statements are unaffected, and so is the server.
    assert_eq!(s.ok("select count(*) from a")["data"][0]["count(*)"], 2000);
}

#[test]
#[ignore = "needs the query crate to enforce ExecOptions::memory_limit"]
fn a_statement_past_its_memory_limit_is_400_memory_limit() {
    let s = TestServer::start(ServerOptions {
        statement_memory: Some(64 << 10),
        ..ServerOptions::default()
    });
    join_tables(&s, 2000);
    s.query("select * from a order by k desc, id desc")
        .assert_error(400, "memory_limit");
    assert_eq!(s.ok("find a where id = 7")["rows"], 1);
}
