//! Graceful stop: requests admitted before the signal finish, requests
//! arriving after it get 503, idle connections do not hold the stop up,
//! and everything acknowledged is on disk afterwards.

use std::io::Write;
use std::time::{Duration, Instant};

use fasty_query::{Database, Output, Value};
use fasty_server::ServerOptions;
use serde_json::json;

use crate::client::{TestServer, connect, read_response, request};

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn graceful_stop_finishes_in_flight_refuses_new_and_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    // Async mode: only the stop's sync makes the last writes durable.
    let mut s = TestServer::start_in(
        dir,
        fasty_query::Options::default(),
        ServerOptions::default(),
    );
    s.ok("create table t { id: int, v: string }");
    s.ok(r#"insert t { id: 1, v: "before" }"#);

    // A batch whose body is still arriving when the stop begins: it has
    // been admitted, so it must complete.
    let body = json!({"table": "t", "rows": (2..=101).map(|i| json!({"id": i, "v": "in flight"})).collect::<Vec<_>>()})
        .to_string()
        .into_bytes();
    let mut slow = connect(s.addr);
    write!(
        slow,
        "POST /query HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    slow.write_all(&body[..body.len() / 2]).unwrap();
    slow.flush().unwrap();
    std::thread::sleep(Duration::from_millis(200));

    s.trigger_stop();
    // Draining: new requests get 503 (with the JSON body, and the
    // connection closed), on every route.
    wait_until("draining", || s.get("/health").status == 503);
    let r = s.query(r#"insert t { id: 500, v: "too late" }"#);
    r.assert_error(503, "shutting_down");
    assert_eq!(r.header("connection"), Some("close"));
    s.get("/stats").assert_error(503, "shutting_down");
    request(s.addr, "GET", "/nope", &[], b"").assert_error(503, "shutting_down");
    // The stop waits for the admitted request.
    std::thread::sleep(Duration::from_millis(100));
    assert!(!s.is_stopped(), "serve returned with a request in flight");

    slow.write_all(&body[body.len() / 2..]).unwrap();
    let r = read_response(&mut slow).expect("the in-flight request is answered");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json(), json!({"success": true, "inserted": 100}));

    s.join().expect("serve returns Ok after the stop");
    assert!(
        std::net::TcpStream::connect(s.addr).is_err(),
        "still accepting"
    );

    // Reopen: the acknowledged rows are there, the refused one is not.
    let db = Database::open(&path, fasty_query::Options::default()).unwrap();
    let Output::Rows { rows, .. } = db.execute("select count(*) from t").unwrap() else {
        panic!()
    };
    assert_eq!(rows, vec![vec![Value::Int(101)]]);
    let Output::Rows { rows, .. } = db.execute("find t where id = 500").unwrap() else {
        panic!()
    };
    assert!(rows.is_empty());
    db.close().unwrap();
}

#[test]
fn idle_keep_alive_connections_do_not_hold_up_the_stop() {
    let mut s = TestServer::start(ServerOptions::default());
    // A keep-alive connection that has been answered and stays open.
    let mut idle = connect(s.addr);
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_response(&mut idle).unwrap();
    assert_eq!(r.status, 200);
    let start = Instant::now();
    s.trigger_stop();
    s.join().unwrap();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    drop(idle);
}

#[test]
fn a_stalled_body_gets_408_and_does_not_hold_up_the_stop() {
    let mut s =
        TestServer::start(ServerOptions::default().with_body_timeout(Duration::from_millis(300)));
    s.ok("create table t { id: int }");
    let body = br#"{"query": "insert t { id: 1 }"}"#;
    // Half a body, then nothing: 408 once the body deadline has passed.
    let mut stalled = connect(s.addr);
    write!(
        stalled,
        "POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stalled.write_all(&body[..10]).unwrap();
    let r = read_response(&mut stalled).unwrap();
    r.assert_error(408, "request_timeout");
    assert_eq!(r.header("connection"), Some("close"));

    // A stalled body during a stop: the stop ends once it times out.
    let mut stalled = connect(s.addr);
    write!(
        stalled,
        "POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stalled.write_all(&body[..10]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    s.trigger_stop();
    s.join().unwrap();
    let r = read_response(&mut stalled).unwrap();
    r.assert_error(408, "request_timeout");
}

/// Sends `bytes` one at a time, `gap` apart, on its own thread, until
/// done or the server closes the connection; the flag says whether all
/// were sent.
fn trickle(
    mut stream: std::net::TcpStream,
    bytes: Vec<u8>,
    gap: Duration,
) -> (
    std::thread::JoinHandle<()>,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let t = std::thread::spawn(move || {
        for b in bytes {
            std::thread::sleep(gap);
            if stream.write_all(&[b]).is_err() {
                return;
            }
        }
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    (t, done)
}

#[test]
fn a_stop_cuts_off_a_trickled_request_after_the_stop_timeout_and_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    // Async mode: only the stop's sync makes the write durable.
    let mut s = TestServer::start_in(
        dir,
        fasty_query::Options::default(),
        ServerOptions::default().with_stop_timeout(Duration::from_millis(500)),
    );
    s.ok("create table t { id: int }");
    s.ok("insert t { id: 1 }");
    // An admitted request whose body arrives a byte every 100 ms: within
    // the body timeout (60 s) for all of its 8 s.
    let body = format!(
        r#"{{"query": "insert t {{ id: 2 }}", "pad": "{}"}}"#,
        "x".repeat(40)
    );
    let mut conn = connect(s.addr);
    write!(
        conn,
        "POST /query HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    let (sender, all_sent) = trickle(
        conn.try_clone().unwrap(),
        body.into_bytes(),
        Duration::from_millis(100),
    );
    std::thread::sleep(Duration::from_millis(300));
    s.trigger_stop();
    s.join()
        .expect("serve returns Ok after cutting the request off");
    assert!(
        !all_sent.load(std::sync::atomic::Ordering::SeqCst),
        "the stop waited for the whole trickled body"
    );
    // The connection was closed without an answer.
    assert!(read_response(&mut conn).is_none());
    let _ = sender.join();

    let db = Database::open(&path, fasty_query::Options::default()).unwrap();
    let Output::Rows { rows, .. } = db.execute("select count(*) from t").unwrap() else {
        panic!()
    };
    assert_eq!(rows, vec![vec![Value::Int(1)]]);
    db.close().unwrap();
}
