//! Large query results are streamed: the answer starts before the
//! statement ends, in chunks, with the same JSON as a whole answer.

use std::io::{Read, Write};
use std::time::Duration;

use fasty_server::ServerOptions;
use serde_json::json;

use crate::client::{TestServer, connect, read_response};

#[test]
fn a_large_result_is_streamed_with_the_same_json() {
    let s = TestServer::start(ServerOptions::default());
    s.ok("create table t { id: int, name: string, m: json }");
    let n = 20_000;
    for start in (0..n).step_by(5000) {
        let rows: Vec<_> = (start..start + 5000)
            .map(|i| json!({"id": i, "name": format!("name {i} \"q\""), "m": {"i": i}}))
            .collect();
        let r = s.post(json!({"table": "t", "rows": rows}).to_string().as_bytes());
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // Over the threshold: chunked, no Content-Length.
    let r = s.query("select t");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.header("transfer-encoding"),
        Some("chunked"),
        "{:?}",
        r.headers
    );
    assert!(r.header("content-length").is_none());
    let j = r.json();
    assert_eq!(j.as_object().unwrap().len(), 3);
    assert_eq!(j["success"], true);
    assert_eq!(j["rows"], n);
    let data = j["data"].as_array().unwrap();
    assert_eq!(data.len(), n as usize);
    for (i, row) in data.iter().enumerate() {
        assert_eq!(
            row,
            &json!({"id": i, "name": format!("name {i} \"q\""), "m": {"i": i}})
        );
    }
    // With offset and limit, still streamed in order.
    let j = s.ok("select id from t order by id desc limit 15000 offset 10");
    assert_eq!(j["rows"], 15000);
    assert_eq!(j["data"][0], json!({"id": n - 11}));
    // Under the threshold: whole, with a length.
    let r = s.query("find t where id < 3");
    assert!(r.header("content-length").is_some(), "{:?}", r.headers);
    assert_eq!(r.json()["rows"], 3);
    // Errors before the first byte keep their status.
    s.query("select nosuch").assert_error(400, "unknown_table");
}

#[test]
fn a_client_that_hangs_up_mid_stream_stops_the_statement() {
    let mut s =
        TestServer::start(ServerOptions::default().with_stop_timeout(Duration::from_secs(120)));
    s.ok("create table a { id: int, k: int }");
    s.ok("create table b { id: int, k: int }");
    let rows = json!(
        (0..10_000)
            .map(|i| json!({"id": i, "k": 0}))
            .collect::<Vec<_>>()
    );
    for t in ["a", "b"] {
        s.post(json!({"table": t, "rows": rows}).to_string().as_bytes());
    }
    // 100 million rows, streamed: far more than anyone reads.
    let body = json!({"query": "select a.id, b.id from a join b on a.k = b.k"}).to_string();
    let mut conn = connect(s.addr);
    write!(
        conn,
        "POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut head = [0u8; 4096];
    let n = conn.read(&mut head).unwrap();
    assert!(
        head[..n].starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&head[..n])
    );
    drop(conn);
    // The statement stops at its next chunk: a stop does not wait for
    // the rest of the join.
    std::thread::sleep(Duration::from_millis(100));
    s.trigger_stop();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !s.is_stopped() {
        assert!(
            std::time::Instant::now() < deadline,
            "the stop is still waiting for a statement nobody reads"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    s.join().unwrap();
}

#[test]
fn a_streamed_answer_cut_off_by_a_limit_is_incomplete_not_wrong() {
    // The statement fails after the answer began: the status cannot
    // change, so the body ends early and the connection closes.
    let s = TestServer::start(
        ServerOptions::default().with_statement_timeout(Some(Duration::from_millis(300))),
    );
    s.ok("create table a { id: int, k: int }");
    s.ok("create table b { id: int, k: int }");
    let rows = json!(
        (0..10_000)
            .map(|i| json!({"id": i, "k": 0}))
            .collect::<Vec<_>>()
    );
    for t in ["a", "b"] {
        s.post(json!({"table": t, "rows": rows}).to_string().as_bytes());
    }
    let body = json!({"query": "select a.id, b.id from a join b on a.k = b.k"}).to_string();
    let mut conn = connect(s.addr);
    write!(
        conn,
        "POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let r = read_response(&mut conn).expect("an answer began");
    assert_eq!(r.status, 200);
    assert!(
        serde_json::from_slice::<serde_json::Value>(&r.body).is_err(),
        "a complete body for a statement that ran out of time"
    );
    // The server goes on.
    assert_eq!(s.get("/health").status, 200);
}
