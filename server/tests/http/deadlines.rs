//! Deadlines outside the statement: the request head, the whole body, and
//! idle keep-alive connections, each cut off however slowly the client
//! keeps sending.

use std::io::{Read, Write};
use std::time::Duration;

use fasty_server::ServerOptions;

use crate::client::{TestServer, connect, read_response};

/// Writes `bytes` one at a time, `gap` apart, stopping at the first write
/// error (the server closed the connection); whether all were written.
fn trickle(stream: &mut std::net::TcpStream, bytes: &[u8], gap: Duration) -> bool {
    for b in bytes {
        std::thread::sleep(gap);
        if stream.write_all(std::slice::from_ref(b)).is_err() {
            return false;
        }
    }
    true
}

#[test]
fn a_body_trickled_a_byte_at_a_time_is_cut_off_at_the_body_deadline() {
    let s =
        TestServer::start(ServerOptions::default().with_body_timeout(Duration::from_millis(500)));
    s.ok("create table t { id: int }");
    let body = format!(r#"{{"query": "insert t {{ id: 1 }}"  {}}}"#, " ".repeat(40));
    let mut conn = connect(s.addr);
    write!(
        conn,
        "POST /query HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    // A byte every 50 ms: never a long gap, but the whole body takes 3 s.
    let mut sender = conn.try_clone().unwrap();
    let bytes = body.into_bytes();
    let t = std::thread::spawn(move || trickle(&mut sender, &bytes, Duration::from_millis(50)));
    let r = read_response(&mut conn).expect("an answer");
    r.assert_error(408, "request_timeout");
    let _ = t.join();
    // Nothing was written.
    assert_eq!(s.ok("select count(*) from t")["data"][0]["count(*)"], 0);
}

#[test]
fn a_request_head_trickled_a_byte_at_a_time_is_cut_off_at_the_head_deadline() {
    let s =
        TestServer::start(ServerOptions::default().with_head_timeout(Duration::from_millis(500)));
    let mut conn = connect(s.addr);
    // A complete request, sent a byte every 50 ms (3 s in all): the head
    // deadline passes long before its end.
    let head = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(30)
    );
    trickle(&mut conn, head.as_bytes(), Duration::from_millis(50));
    assert!(
        read_response(&mut conn).is_none(),
        "the slow head was answered"
    );
    // Other clients are served meanwhile and after.
    assert_eq!(s.get("/health").status, 200);
}

#[test]
fn idle_keep_alive_connections_are_closed_after_the_idle_timeout() {
    let s = TestServer::start(ServerOptions::default().with_idle_timeout(Duration::from_secs(1)));
    let mut conn = connect(s.addr);
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut conn).unwrap().status, 200);
    // Still open for a second request right away.
    conn.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut conn).unwrap().status, 200);
    // Then, without traffic, the server closes it: end of stream (not
    // the client's 20 s read timeout).
    let mut buf = [0u8; 64];
    let n = loop {
        match conn.read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    assert_eq!(n.expect("closed, not timed out"), 0);
}

#[test]
fn requests_that_take_longer_than_the_idle_timeout_are_not_cut_off() {
    // The idle clock only runs between requests: a slow statement or a
    // slow (but in-time) body is not idleness.
    let s = TestServer::start(
        ServerOptions::default()
            .with_idle_timeout(Duration::from_millis(200))
            .with_head_timeout(Duration::from_millis(200)),
    );
    s.ok("create table t { id: int }");
    let body = br#"{"query": "insert t { id: 1 }"}"#;
    let mut conn = connect(s.addr);
    write!(
        conn,
        "POST /query HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    // 30 bytes, 20 ms apart: 600 ms of body, three idle timeouts.
    assert!(trickle(&mut conn, body, Duration::from_millis(20)));
    let r = read_response(&mut conn).unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
}
