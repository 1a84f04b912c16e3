//! Hundreds of malformed or random requests: each gets a JSON answer (400,
//! or 200 for a random read that happens to be valid), the server keeps
//! answering, and the data is unchanged.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use fasty_server::ServerOptions;
use serde_json::json;

use crate::client::{Rng, TestServer, raw};

/// Every row of every table, hashed (with the bodies kept for messages).
fn checksum(s: &TestServer) -> (u64, String) {
    let mut all = String::new();
    for q in [
        "select * from items",
        "select * from logs",
        "explain find items where name = \"n1\"",
    ] {
        let r = s.query(q);
        assert_eq!(r.status, 200, "{q}: {}", r.text());
        all.push_str(&r.text());
    }
    let stats = s.get("/stats").json();
    all.push_str(&stats["data"]["tables"].to_string());
    all.push_str(&stats["data"]["indexes"].to_string());
    let mut h = DefaultHasher::new();
    all.hash(&mut h);
    (h.finish(), all)
}

fn setup(s: &TestServer) {
    s.ok("create table items { id: int, name: string, qty: int, price: float, ok: bool, meta: json }");
    s.ok("create table logs { id: int, msg: string }");
    s.ok("create index idx_name on items (name)");
    let rows: Vec<_> = (0..40)
        .map(|i| {
            json!({"id": i, "name": format!("n{i}"), "qty": i * 3, "price": i as f64 / 4.0,
                   "ok": i % 2 == 0, "meta": {"i": i, "tags": ["a", i]}})
        })
        .collect();
    let r = s.post(
        json!({"table": "items", "rows": rows})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    s.ok(r#"insert logs [ { id: 1, msg: "hello" }, { id: 2, msg: "x\ny" } ]"#);
}

/// Valid requests that change data; prefixes of them (cut before their
/// end) must all fail.
const WRITES: &[&str] = &[
    r#"{"query": "insert items { id: 1000, name: \"new\", meta: { a: [1, 2] } }"}"#,
    r#"{"query": "update items set qty = qty + 1 where id < 10"}"#,
    r#"{"query": "delete items where id >= 0"}"#,
    r#"{"query": "drop table logs"}"#,
    r#"{"table": "items", "rows": [{"id": 2000, "name": "x"}, {"id": 2001, "meta": {"k": [1, {"z": 2}]}}], "mode": "upsert"}"#,
    r#"{"table": "logs", "rows": [{"id": 3000, "msg": "m"}]}"#,
];

/// Statement pieces for random fragments.
const WORDS: &[&str] = &[
    "select",
    "find",
    "from",
    "where",
    "items",
    "logs",
    "nosuch",
    "id",
    "name",
    "qty",
    "meta.i",
    "=",
    "!=",
    "<",
    ">=",
    "and",
    "or",
    "not",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    ";",
    "*",
    "1",
    "-5",
    "2.5",
    "1e309",
    "99999999999999999999",
    "\"s\"",
    "'q'",
    "\"unterminated",
    "null",
    "true",
    "like",
    "in",
    "between",
    "is",
    "order",
    "by",
    "desc",
    "limit",
    "offset",
    "group",
    "count(*)",
    "avg(qty)",
    "join",
    "on",
    "insert",
    "upsert",
    "update",
    "set",
    "delete",
    "drop",
    "table",
    "index",
    "create",
    "explain",
    "--",
    "\\",
    "?",
    "\u{e9}",
    "\0",
    "\t\n",
];

/// Requests that must be rejected (400) without touching anything.
fn bad_request(rng: &mut Rng, i: usize) -> Vec<u8> {
    match i % 10 {
        // Random bytes.
        0 => (0..rng.below(64)).map(|_| rng.next() as u8).collect(),
        // A write cut short.
        1 => {
            let w = rng.pick(WRITES).as_bytes();
            w[..rng.below(w.len() - 1)].to_vec()
        }
        // A write with a byte JSON allows nowhere (invalid UTF-8, a raw
        // control character) slipped in.
        2 => {
            let mut w = rng.pick(WRITES).as_bytes().to_vec();
            let at = rng.below(w.len());
            w.insert(at, rng.pick(&[0xff, 0xc3, 0x00, 0x01, 0x1f]));
            w
        }
        // Wrong JSON types and fields.
        3 => rng
            .pick(&[
                r#"{"query": 5}"#,
                r#"{"query": null}"#,
                r#"{"query": {"q": "select items"}}"#,
                r#"{"query": true}"#,
                r#"{"table": "items", "rows": {"id": 1}}"#,
                r#"{"table": "items", "rows": [1, 2]}"#,
                r#"{"table": ["items"], "rows": []}"#,
                r#"{"table": "items", "rows": [{"id": 1}], "mode": "replace"}"#,
                r#"{"rows": [{"id": 5000}]}"#,
                r#"{"table": "items"}"#,
                r#"{"query": "select items", "table": "items", "rows": []}"#,
                r#"{"query": "select items", "query": "drop table items"}"#,
                r#"[{"query": "drop table items"}]"#,
                r#"{"Query": "drop table items"}"#,
                r#""drop table items""#,
                "null",
                "",
                " \r\n ",
            ])
            .as_bytes()
            .to_vec(),
        // Huge or odd numbers in batch rows.
        4 => {
            let n = rng.pick(&[
                "1e400",
                "-1e400",
                "123456789012345678901234567890e999",
                "99999999999999999999",
                "1.5",
                "-9223372036854775809",
                "\"7\"",
                "[1]",
                "{}",
                "true",
            ]);
            let col = rng.pick(&["id", "qty", "ok", "name"]);
            // Every row also repeats an existing id, so even the values
            // that fit make the batch a duplicate.
            format!(r#"{{"table": "items", "rows": [{{"id": 3000, "{col}": {n}}}, {{"id": 1}}]}}"#)
                .into_bytes()
        }
        // Statements that parse but cannot run.
        5 => json!({"query": rng.pick(&[
            "insert items { id: 1 }",
            "insert items [ { id: 5000 }, { id: 5000 } ]",
            "insert items { id: 5001, qty: \"three\" }",
            "insert items { id: 5002, price: true }",
            "insert items { name: \"no id\" }",
            "insert items { id: null }",
            "insert items { id: 5003, nope: 1 }",
            "insert nosuch { id: 1 }",
            "upsert items { id: 1, qty: 1.5 }",
            "update items set qty = \"x\" where id = 1",
            "update items set qty = 9223372036854775807 + id where id >= 0",
            "update items set nope = 1",
            "delete nosuch",
            "delete items where nope = 1",
            "create table items { id: int }",
            "create table bad { name: string }",
            "create table bad2 { id: string }",
            "create index idx_name on items (qty)",
            "create index idx_x on items (nope)",
            "drop table nosuch",
            "drop index nosuch",
            "select nosuch from items",
            "select * from items join logs on items.nope = logs.id",
            "find items where id = ?",
        ])})
        .to_string()
        .into_bytes(),
        // Keyword-looking garbage and statements cut short.
        _ => {
            let q = if i % 10 == 6 {
                let w = r#"insert items { id: 6000, name: "cut", meta: { a: [1] } }"#;
                w[..rng.below(w.len() - 1)].to_string()
            } else {
                let mut q = rng
                    .pick(&[
                        "selct", "fnd", "insrt", "dlete", "(", "}", "1", "\"", "--x\n+",
                    ])
                    .to_string();
                for _ in 0..rng.below(8) {
                    q.push(' ');
                    q.push_str(rng.pick(WORDS));
                }
                q
            };
            json!({ "query": q }).to_string().into_bytes()
        }
    }
}

/// A random read: valid or not, it must not change anything.
fn random_read(rng: &mut Rng) -> Vec<u8> {
    let mut q = rng
        .pick(&[
            "select",
            "find",
            "explain",
            "explain delete",
            "explain insert",
        ])
        .to_string();
    for _ in 0..rng.below(10) {
        q.push(' ');
        q.push_str(rng.pick(WORDS));
    }
    json!({ "query": q }).to_string().into_bytes()
}

#[test]
fn malformed_and_random_requests_change_nothing() {
    let s = TestServer::start(ServerOptions::default());
    setup(&s);
    let (before, text_before) = checksum(&s);
    let mut rng = Rng(0x5eed_f00d_1234_5678);
    let mut statuses = std::collections::BTreeMap::new();
    let mut sent = 0;
    for i in 0..400 {
        let body = bad_request(&mut rng, i);
        let r = s.post(&body);
        let preview = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(r.status, 400, "{preview:?} -> {}", r.text());
        let e = r.assert_error(400, r.json()["error"]["code"].as_str().unwrap_or("?"));
        assert!(
            !["internal_error", "storage_error", "corruption", "poisoned"]
                .contains(&e["code"].as_str().unwrap()),
            "{preview:?} -> {e}"
        );
        *statuses
            .entry(e["code"].as_str().unwrap().to_string())
            .or_insert(0) += 1;
        sent += 1;
    }
    for _ in 0..150 {
        let body = random_read(&mut rng);
        let r = s.post(&body);
        let preview = String::from_utf8_lossy(&body).into_owned();
        assert!(
            matches!(r.status, 200 | 400),
            "{preview:?} -> {} {}",
            r.status,
            r.text()
        );
        assert_eq!(
            r.json()["success"],
            r.status == 200,
            "{preview:?} -> {}",
            r.text()
        );
        *statuses.entry(r.status.to_string()).or_insert(0) += 1;
        sent += 1;
    }
    // Garbage at the HTTP level: the connection is refused or answered,
    // the server lives on.
    for _ in 0..20 {
        let junk: Vec<u8> = (0..rng.below(200)).map(|_| rng.next() as u8).collect();
        let mut stream = crate::client::connect(s.addr);
        let _ = std::io::Write::write_all(&mut stream, &junk);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let _ = crate::client::read_response(&mut stream);
    }
    let half = format!(
        "POST /query HTTP/1.1\r\nHost: {}\r\nContent-Length: 50\r\n\r\n{{\"query\"",
        s.addr
    );
    let mut stream = crate::client::connect(s.addr);
    std::io::Write::write_all(&mut stream, half.as_bytes()).unwrap();
    drop(stream);
    let _ = raw(s.addr, b"GET /health HTTP/1.0\r\n\r\n");

    assert!(sent >= 550, "{sent}");
    // Every class was exercised.
    for code in [
        "invalid_json",
        "bad_request",
        "syntax_error",
        "duplicate_key",
        "type_mismatch",
    ] {
        assert!(
            statuses.get(code).copied().unwrap_or(0) >= 5,
            "{code}: {statuses:?}"
        );
    }
    let r = s.get("/health");
    assert_eq!(r.status, 200);
    let (after, text_after) = checksum(&s);
    assert_eq!(text_before, text_after);
    assert_eq!(before, after);
    // Still writable and readable.
    s.ok("insert logs { id: 99, msg: \"after\" }");
    assert_eq!(s.ok("find logs where id = 99")["rows"], 1);
}
