//! Statement limits from `ServerOptions`, passed to every statement: a
//! time limit and a memory limit, each a 400 with its code; and the
//! cancel flag set when the client hangs up.

use std::io::Write;
use std::time::Duration;

use fasty_server::ServerOptions;
use serde_json::json;

use crate::client::{TestServer, connect};

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
fn a_statement_past_its_time_limit_is_400_statement_timeout() {
    let s = TestServer::start(
        ServerOptions::default().with_statement_timeout(Some(Duration::from_millis(50))),
    );
    join_tables(&s, 2000);
    let slow = "select a.id, b.id from a join b on a.k = b.k order by a.id desc, b.id desc limit 1";
    s.query(slow).assert_error(400, "statement_timeout");
    // Quick statements are unaffected, and so is the server.
    assert_eq!(s.ok("select count(*) from a")["data"][0]["count(*)"], 2000);
}

#[test]
fn a_statement_past_its_memory_limit_is_400_memory_limit() {
    let s = TestServer::start(ServerOptions::default().with_statement_memory(Some(64 << 10)));
    join_tables(&s, 2000);
    s.query("select * from a order by k desc, id desc")
        .assert_error(400, "memory_limit");
    assert_eq!(s.ok("find a where id = 7")["rows"], 1);
}

#[test]
fn a_client_that_hangs_up_cancels_its_statement() {
    let mut s =
        TestServer::start(ServerOptions::default().with_stop_timeout(Duration::from_secs(120)));
    // A top-k over a 100-million-row join: tens of seconds in a debug
    // build, unless it is cancelled.
    join_tables(&s, 10_000);
    let slow = "select a.id, b.id from a join b on a.k = b.k order by a.id desc, b.id desc limit 1";
    let mut conn = connect(s.addr);
    let body = json!({ "query": slow }).to_string();
    write!(
        conn,
        "POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // Hang up while it runs.
    drop(conn);
    std::thread::sleep(Duration::from_millis(100));
    // A stop waits for running statements (120 s allowed here): it ends
    // long before the join could because the statement was cancelled.
    s.trigger_stop();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !s.is_stopped() {
        assert!(
            std::time::Instant::now() < deadline,
            "the stop is still waiting for the statement of a client that hung up"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    s.join().unwrap();
}
