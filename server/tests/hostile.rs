//! Hostile clients against a real server on a loopback port: thousands of
//! generated requests built to hurt — long operator chains, deep nesting,
//! huge numbers, names and strings, invalid UTF-8 and NUL bytes, duplicate
//! JSON keys, wrong types, requests cut short, bodies that stall or
//! trickle in. Every answer must be a well-formed JSON body (an error with
//! a code and a message, or a success) with a sensible status; the server
//! must keep answering `/health`; and a checksum of all the data must be
//! unchanged at the end (after every request, where a request could
//! write).
//!
//! One test per kind of attack, each with its own server, so that a crash
//! (a stack overflow aborts the process) fails only its own test. A test
//! collects every bad answer and fails listing them.

#[path = "http/client.rs"]
#[allow(dead_code)]
mod client;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::net::Shutdown;
use std::time::Duration;

use fasty_server::ServerOptions;
use serde_json::json;

use client::{Resp, Rng, TestServer, connect, read_response};

/// Largest body the servers here accept: small enough that a test can
/// exceed it cheaply.
const MAX_BODY: usize = 4 << 20;

/// How long a whole body may take: short, so stalled requests end
/// quickly.
const BODY_TIMEOUT: Duration = Duration::from_secs(1);

/// The statuses a hostile request may get: success, bad request, not
/// found, wrong method, body too slow, body too large, URI too long,
/// headers too large. (Each with a JSON body all the same.)
const SENSIBLE: [u16; 8] = [200, 400, 404, 405, 408, 413, 414, 431];

/// A server with a few tables and indexes, the checksum of its data and
/// the problems found so far.
struct Target {
    server: TestServer,
    sum: u64,
    failures: Vec<String>,
    sent: usize,
    /// Print each request before sending it: where a request can crash
    /// the process, the output then names it.
    trace: bool,
}

impl Target {
    fn start() -> Target {
        let opts = ServerOptions::default()
            .with_max_body(MAX_BODY)
            .with_body_timeout(BODY_TIMEOUT);
        let server = TestServer::start(opts);
        for q in [
            "create table items { id: int, name: string, qty: int, price: float, ok: bool, meta: json }",
            "create table logs { id: int, msg: string }",
            "create index items_name on items (name)",
            "create index items_qty on items (qty)",
            "create index logs_msg on logs (msg)",
        ] {
            server.ok(q);
        }
        let rows: Vec<_> = (0..30)
            .map(|i| {
                json!({"id": i, "name": format!("n{i}"), "qty": i % 7, "price": i as f64 / 3.0,
                       "ok": i % 2 == 0, "meta": {"i": i, "tags": ["a", i]}})
            })
            .collect();
        let r = server.post(
            json!({"table": "items", "rows": rows})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
        server.ok(r#"insert logs [{id: 1, msg: "hello"}, {id: 2, msg: "x\ny"}]"#);
        let sum = checksum(&server);
        Target {
            server,
            sum,
            failures: Vec::new(),
            sent: 0,
            trace: false,
        }
    }

    /// Records a problem with the request described by `what`.
    fn fail(&mut self, what: &str, problem: String) {
        self.failures.push(format!("{what}: {problem}"));
    }

    /// Checks one answer (`None`: the connection closed without one,
    /// acceptable only where `may_close`).
    fn check(&mut self, what: &str, resp: Option<Resp>, may_close: bool) {
        self.sent += 1;
        let Some(r) = resp else {
            if !may_close {
                self.fail(what, "no answer".into());
            }
            if !self.healthy() {
                self.fail(what, "the server stopped answering /health".into());
            }
            return;
        };
        if let Err(problem) = well_formed(&r) {
            self.fail(what, problem);
        }
    }

    /// `POST /query` with `body`, checking the answer.
    fn post(&mut self, what: &str, body: &[u8]) {
        if self.trace {
            println!("sending {what}");
        }
        let r = send(&self.server, body);
        self.check(what, r, false);
    }

    /// [`Target::post`] of a request that must get `status`.
    fn post_expecting(&mut self, what: &str, body: &[u8], status: u16) {
        let r = send(&self.server, body);
        if let Some(resp) = &r
            && resp.status != status
        {
            self.fail(
                what,
                format!(
                    "status {} instead of {status}: {}",
                    resp.status,
                    resp.text()
                ),
            );
        }
        self.check(what, r, false);
        self.data_unchanged(what);
    }

    /// [`Target::post`] of a request that could write: also checks that
    /// the data did not change.
    fn post_write(&mut self, what: &str, body: &[u8]) {
        self.post(what, body);
        self.data_unchanged(what);
    }

    fn healthy(&self) -> bool {
        let mut s = connect(self.server.addr);
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let req = format!(
            "GET /health HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.server.addr
        );
        s.write_all(req.as_bytes()).is_ok()
            && read_response(&mut s).is_some_and(|r| r.status == 200)
    }

    fn data_unchanged(&mut self, what: &str) {
        if checksum(&self.server) != self.sum {
            self.fail(what, "the data changed".into());
            // Compare later requests against the new state, so that one
            // write is reported once.
            self.sum = checksum(&self.server);
        }
    }

    /// Final checks: the server is up, the data unchanged, no failures.
    fn finish(mut self, kind: &str) {
        if !self.healthy() {
            self.fail("at the end", "the server does not answer /health".into());
        }
        self.data_unchanged("at the end");
        println!(
            "{kind}: {} requests, {} problems",
            self.sent,
            self.failures.len()
        );
        if !self.failures.is_empty() {
            let n = self.failures.len();
            let shown: Vec<&str> = self.failures.iter().take(40).map(String::as_str).collect();
            panic!(
                "{kind}: {n} of {} hostile requests got a bad answer:\n  {}",
                self.sent,
                shown.join("\n  ")
            );
        }
    }
}

/// Every row of every table, the indexes and the catalog, hashed.
fn checksum(s: &TestServer) -> u64 {
    let mut all = String::new();
    for q in [
        "select * from items order by id",
        "select * from logs order by id",
        "select id, name from items where name >= \"\" order by name, id",
        "select id, qty from items where qty >= 0 order by qty, id",
        "select id from logs where msg >= \"\" order by msg, id",
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
    h.finish()
}

/// Sends `POST /query` with `body` and reads the answer (`None` if the
/// connection closed without one).
fn send(server: &TestServer, body: &[u8]) -> Option<Resp> {
    let mut s = connect(server.addr);
    let _ = s.set_read_timeout(Some(Duration::from_secs(15)));
    let head = format!(
        "POST /query HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        server.addr,
        body.len()
    );
    let _ = s.write_all(head.as_bytes());
    // The server may answer (413) and close before reading everything.
    let _ = s.write_all(body);
    read_response(&mut s)
}

/// Whether `r` is a well-formed answer: a sensible status, a JSON
/// content type and body, `{"success": true, ...}` for 200 and the error
/// shape (`code` and a non-empty `message`, nothing unknown) otherwise.
fn well_formed(r: &Resp) -> Result<(), String> {
    let text = || {
        let t = r.text();
        t.chars().take(200).collect::<String>()
    };
    if !SENSIBLE.contains(&r.status) {
        return Err(format!("status {}: {}", r.status, text()));
    }
    if r.header("content-type") != Some("application/json") {
        return Err(format!("content type {:?}", r.header("content-type")));
    }
    let j: serde_json::Value =
        serde_json::from_slice(&r.body).map_err(|e| format!("not JSON ({e}): {}", text()))?;
    if r.status == 200 {
        return match j["success"] == true {
            true => Ok(()),
            false => Err(format!("200 without success: {}", text())),
        };
    }
    let ok = j.as_object().is_some_and(|o| o.len() == 2)
        && j["success"] == false
        && j["error"]["code"].as_str().is_some_and(|c| !c.is_empty())
        && j["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
        && j["error"].as_object().is_some_and(|e| {
            e.keys()
                .all(|k| ["code", "message", "line", "column", "hint"].contains(&k.as_str()))
        });
    match ok {
        true => Ok(()),
        false => Err(format!(
            "{} with a malformed error body: {}",
            r.status,
            text()
        )),
    }
}

/// `{"query": q}` as bytes.
fn query(q: &str) -> Vec<u8> {
    json!({ "query": q }).to_string().into_bytes()
}

/// A short description of a request for failure messages.
fn describe(kind: &str, body: &[u8]) -> String {
    let preview: String = String::from_utf8_lossy(&body[..body.len().min(60)]).into();
    format!("{kind} ({} bytes) {preview:?}", body.len())
}

/// Lengths from short to very long.
const LENGTHS: [usize; 8] = [10, 100, 1_000, 5_000, 20_000, 100_000, 300_000, 1_000_000];

#[test]
fn long_operator_chains() {
    let mut t = Target::start();
    t.trace = true;
    let mut rng = Rng(0x5eed_0001);
    let ops = ["+", "-", "*", "/", "and", "or", "=", "<", "like", "||"];
    for _ in 0..120 {
        let op = rng.pick(&ops);
        let n = rng.pick(&LENGTHS);
        let operand = rng.pick(&["qty", "1", "id", "price", "name", "true", "null", "meta.i"]);
        let chain = vec![operand; n].join(&format!(" {op} "));
        let q = match rng.below(5) {
            0 => format!("select * from items where {chain}"),
            1 => format!("select {chain} from items"),
            2 => format!("select * from items order by {chain}"),
            3 => format!("update items set qty = {chain} where id < 0"),
            _ => format!("select * from items where id in ({chain})"),
        };
        let body = query(&q);
        t.post_write(&describe(&format!("{op} x{n}"), &body), &body);
    }
    for n in LENGTHS {
        // Long lists and many columns.
        let list: Vec<String> = (0..n).map(|i| i.to_string()).collect();
        let body = query(&format!(
            "select * from items where id in ({})",
            list.join(",")
        ));
        t.post(&describe(&format!("in list x{n}"), &body), &body);
        let items = vec!["id"; n].join(", ");
        let body = query(&format!("select {items} from items limit 1"));
        t.post(&describe(&format!("columns x{n}"), &body), &body);
        let keys = vec!["id desc"; n].join(", ");
        let body = query(&format!("select * from items order by {keys}"));
        t.post(&describe(&format!("order keys x{n}"), &body), &body);
    }
    t.finish("long operator chains");
}

#[test]
fn deep_nesting() {
    let mut t = Target::start();
    t.trace = true;
    let depths = [10, 63, 64, 65, 100, 1_000, 10_000, 100_000, 500_000];
    for n in depths {
        let cases: Vec<(&str, String)> = vec![
            (
                "parentheses",
                format!(
                    "select * from items where {}1{}",
                    "(".repeat(n),
                    ")".repeat(n)
                ),
            ),
            (
                "not",
                format!("select * from items where {}ok", "not ".repeat(n)),
            ),
            ("minus", format!("select {}qty from items", "- ".repeat(n))),
            (
                "minus touching",
                format!("select {}1 from items", "-".repeat(n)),
            ),
            ("explain", format!("{}select items", "explain ".repeat(n))),
            (
                "array literal",
                format!(
                    "insert items {{id: 1, meta: {}1{}}}",
                    "[".repeat(n),
                    "]".repeat(n)
                ),
            ),
            (
                "object literal",
                format!(
                    "insert items {{id: 1, meta: {}1{}}}",
                    "{a: ".repeat(n),
                    "}".repeat(n)
                ),
            ),
            (
                "unclosed",
                format!("select * from items where {}", "(".repeat(n)),
            ),
            (
                "json path",
                format!("select meta{} from items", ".a".repeat(n)),
            ),
        ];
        for (kind, q) in cases {
            let body = query(&q);
            t.post_write(&describe(&format!("{kind} x{n}"), &body), &body);
        }
        // Nesting in the JSON body itself.
        for (kind, body) in [
            (
                "json body arrays",
                format!("{}{}", "[".repeat(n), "]".repeat(n)),
            ),
            (
                "json row value",
                format!(
                    r#"{{"table": "items", "rows": [{{"id": 1, "meta": {}1{}}}]}}"#,
                    "[".repeat(n),
                    "]".repeat(n)
                ),
            ),
            (
                "json row object",
                format!(
                    r#"{{"table": "items", "rows": [{{"id": 1, "meta": {}1{}}}]}}"#,
                    r#"{"a":"#.repeat(n),
                    "}".repeat(n)
                ),
            ),
            (
                "json query object",
                format!(
                    r#"{{"query": {}"x"{}}}"#,
                    r#"{"a":"#.repeat(n),
                    "}".repeat(n)
                ),
            ),
        ] {
            t.post_write(
                &describe(&format!("{kind} x{n}"), body.as_bytes()),
                body.as_bytes(),
            );
        }
    }
    t.finish("deep nesting");
}

#[test]
fn huge_numbers_and_names() {
    let mut t = Target::start();
    let numbers = [
        "9223372036854775807",
        "9223372036854775808",
        "-9223372036854775808",
        "-9223372036854775809",
        "99999999999999999999999999999999999999999999999999",
        "1e308",
        "1e309",
        "-1e309",
        "1e-400",
        "1e99999999999999999999",
        "0.000000000000000000000000000000000000000000000000001",
        "123456789012345678901234567890.123456789e-5",
    ];
    for n in numbers {
        for q in [
            format!("select * from items where id = {n}"),
            format!("select * from items where qty > {n} or price < {n}"),
            format!("select qty * {n}, price / {n}, id - {n} from items"),
            format!("select * from items limit {n}"),
            format!("select * from items offset {n}"),
            format!("update items set qty = qty + {n} where id < 0"),
            format!("update items set qty = {n} where id = 1 and id = 2"),
            // Both fail on the existing id 1, whole.
            format!("insert items [{{id: {n}, qty: {n}}}, {{id: 1}}]"),
            format!("insert items {{id: 1, qty: {n}, price: {n}}}"),
        ] {
            let body = query(&q);
            t.post_write(&describe(n, &body), &body);
        }
        for body in [
            format!(r#"{{"table": "items", "rows": [{{"id": {n}}}, {{"id": 1}}]}}"#),
            format!(r#"{{"table": "items", "rows": [{{"id": 1, "qty": {n}, "price": {n}}}]}}"#),
            format!(r#"{{"query": "select items", "limit": {n}}}"#),
        ] {
            t.post_write(&describe(n, body.as_bytes()), body.as_bytes());
        }
    }
    // A long run of digits as a statement and inside the JSON body.
    for len in LENGTHS {
        let digits = "9".repeat(len);
        let body = query(&format!("select * from items where id = {digits}"));
        t.post(&describe(&format!("digits x{len}"), &body), &body);
        let body = format!(r#"{{"table": "items", "rows": [{{"id": 1, "qty": {digits}}}]}}"#);
        t.post_write(
            &describe(&format!("json digits x{len}"), body.as_bytes()),
            body.as_bytes(),
        );
    }
    // Huge names: tables, columns, indexes, aliases, object keys.
    for len in LENGTHS {
        let name = "n".repeat(len);
        for q in [
            format!("select * from {name}"),
            format!("select {name} from items"),
            format!("select id as {name} from items limit 1"),
            format!("find items where meta.{name} = 1"),
            format!("create index {name} on nosuch (id)"),
            format!("drop index {name}"),
            format!("drop table {name}"),
            format!("insert items {{id: 1, {name}: 1}}"),
            format!("create table items {{id: int, {name}: int}}"),
        ] {
            let body = query(&q);
            t.post_write(&describe(&format!("name x{len}"), &body), &body);
        }
        let body = format!(r#"{{"table": "{name}", "rows": [{{"id": 1}}]}}"#);
        t.post_write(
            &describe(&format!("table name x{len}"), body.as_bytes()),
            body.as_bytes(),
        );
        let body = format!(r#"{{"table": "items", "rows": [{{"id": 1, "{name}": 1}}]}}"#);
        t.post_write(
            &describe(&format!("column name x{len}"), body.as_bytes()),
            body.as_bytes(),
        );
    }
    t.finish("huge numbers and names");
}

#[test]
fn invalid_utf8_and_nul_bytes() {
    let mut t = Target::start();
    let mut rng = Rng(0x5eed_0004);
    let templates: [&[u8]; 6] = [
        br#"{"query": "select * from items where name = \"n1\""}"#,
        br#"{"query": "insert items {id: 1, name: \"x\"}"}"#,
        br#"{"table": "items", "rows": [{"id": 1, "name": "x"}]}"#,
        br#"{"table": "items", "rows": [{"id": 99, "meta": {"k": "v"}}, {"id": 1}], "mode": "insert"}"#,
        br#"{"query": "update items set name = \"z\" where id < 0"}"#,
        br#"{"query": "delete from items where id < 0"}"#,
    ];
    let bad: [&[u8]; 12] = [
        b"\xff",
        b"\xc3",
        b"\xc3\x28",
        b"\xe2\x82",
        b"\xf0\x28\x8c\x28",
        b"\xed\xa0\x80",
        b"\xf8\x88\x80\x80\x80",
        b"\x00",
        b"\\u0000",
        b"\\ud800",
        b"\\udfff\\ud800",
        b"\\u0000\\u0000'\\\"",
    ];
    for i in 0..1500 {
        let mut body = rng.pick(&templates).to_vec();
        let at = rng.below(body.len() + 1);
        let insert = bad[i % bad.len()];
        body.splice(at..at, insert.iter().copied());
        // Every write carries an existing id (or matches no row), so none
        // can change anything; the data is compared every few requests.
        if i % 5 == 0 {
            t.post_write(&describe("bytes", &body), &body);
        } else {
            t.post(&describe("bytes", &body), &body);
        }
    }
    t.data_unchanged("after the byte insertions");
    // NUL bytes escaped into names and values that reach the engine.
    for q in [
        "select * from it\u{0}ems",
        "select * from items where name = \"n\u{0}1\"",
        "select * from items where name like \"%\u{0}%\"",
        "insert items {id: 1, name: \"\u{0}\"}",
        "create table t\u{0} {id: int}",
        "select na\u{0}me from items",
        "find items where meta.\u{0} = 1",
        "\u{0}",
        "select items\u{0}",
    ] {
        let body = query(q);
        t.post_write(&describe("nul", &body), &body);
    }
    for body in [
        r#"{"table": "items\u0000", "rows": [{"id": 1}]}"#,
        r#"{"table": "items", "rows": [{"id": 1, "na\u0000me": "x"}]}"#,
        r#"{"table": "items", "rows": [{"id": 1, "name": "\u0000"}]}"#,
        r#"{"query": "select * from items where name = \"\ud800\""}"#,
        r#"{"table": "items", "rows": [{"id": 1, "name": "\udc00"}]}"#,
    ] {
        t.post_write(&describe("nul json", body.as_bytes()), body.as_bytes());
    }
    t.finish("invalid utf-8 and nul bytes");
}

#[test]
fn duplicate_json_keys() {
    let mut t = Target::start();
    let bodies = [
        r#"{"query": "select items", "query": "drop table items"}"#,
        r#"{"query": "drop table logs", "query": "select items"}"#,
        r#"{"table": "items", "table": "logs", "rows": [{"id": 500}]}"#,
        r#"{"table": "items", "rows": [{"id": 500}], "rows": [{"id": 501}]}"#,
        r#"{"table": "items", "rows": [{"id": 500}], "mode": "insert", "mode": "upsert"}"#,
        r#"{"table": "items", "rows": [{"id": 500, "id": 501}]}"#,
        r#"{"table": "items", "rows": [{"id": 1, "id": 500}]}"#,
        r#"{"table": "items", "rows": [{"id": 500, "id": 1}]}"#,
        r#"{"table": "items", "rows": [{"id": 1, "name": "a", "name": "b"}], "mode": "upsert"}"#,
        r#"{"table": "items", "rows": [{"id": 1, "name": "n1", "qty": 1, "qty": 2}], "mode": "upsert"}"#,
        r#"{"table": "logs", "rows": [{"id": 1, "msg": "hello", "msg": "other"}], "mode": "upsert"}"#,
        r#"{"table": "items", "rows": [{"id": 600, "meta": {"a": 1, "a": 2}}, {"id": 1}]}"#,
        r#"{"query": "select items", "table": "items", "rows": []}"#,
    ];
    // A repeated key is ambiguous (which one counts?): every one of these
    // must be refused, and none may change anything.
    for _ in 0..5 {
        for body in bodies {
            t.post_expecting(
                &describe("duplicate keys", body.as_bytes()),
                body.as_bytes(),
                400,
            );
        }
    }
    // Statement-level duplicates: the same column twice in a row, the
    // same assignment twice.
    // Inside a json value a repeated key is the json column's business
    // (the last one wins, as in most JSON stores); the row must still fail
    // whole on its duplicate id.
    let body = query("insert items [{id: 702, meta: {a: 1, a: 2}}, {id: 1}]");
    t.post_write(&describe("duplicate json value keys", &body), &body);
    for q in [
        "insert items {id: 700, id: 1}",
        "insert items {id: 700, id: 701}",
        "insert items {id: 1, name: \"a\", name: \"b\"}",
        "upsert items {id: 1, name: \"n1\", qty: 1, qty: 2}",
        "upsert items {id: 1, name: \"a\", name: \"n1\"}",
        "update items set qty = 1, qty = 2 where id < 0",
    ] {
        let body = query(q);
        t.post_expecting(&describe("duplicate columns", &body), &body, 400);
    }
    t.finish("duplicate json keys");
}

#[test]
fn huge_strings() {
    let mut t = Target::start();
    let mut rng = Rng(0x5eed_0006);
    for len in [1_000, 100_000, 1 << 20, 3 << 20, 5 << 20, 16 << 20] {
        let s: String = (0..len)
            .map(|_| rng.pick(&['a', 'é', ' ', '"', '\\', '\n', '\u{0}', '\u{1F600}']))
            .collect();
        let lit = serde_json::to_string(&s).unwrap_or_default();
        for q in [
            format!("select * from items where name = {lit}"),
            format!("select * from items where name like {lit}"),
            format!("insert items {{id: 1, name: {lit}}}"),
            format!("update items set name = {lit} where id < 0"),
            format!("select {lit} from items limit 1"),
        ] {
            let body = query(&q);
            t.post_write(&describe(&format!("string x{len}"), &body), &body);
        }
        let body = json!({"table": "items", "rows": [{"id": 1, "name": s}]}).to_string();
        t.post_write(
            &describe(&format!("batch string x{len}"), body.as_bytes()),
            body.as_bytes(),
        );
        // Whitespace around a valid read: fine below the limit, 413 above.
        let body = format!(
            "{}{}",
            " ".repeat(len),
            String::from_utf8_lossy(&query("select logs"))
        );
        t.post(
            &describe(&format!("whitespace x{len}"), body.as_bytes()),
            body.as_bytes(),
        );
    }
    // Many rows in one batch, each failing on the duplicate id 1 at the end.
    for n in [1_000, 20_000, 100_000] {
        let rows: Vec<_> = (0..n)
            .map(|i| json!({"id": 10_000 + i, "name": "r"}))
            .chain([json!({"id": 1})])
            .collect();
        let body = json!({"table": "items", "rows": rows}).to_string();
        t.post_write(
            &describe(&format!("rows x{n}"), body.as_bytes()),
            body.as_bytes(),
        );
    }
    t.finish("huge strings");
}

#[test]
fn wrong_types() {
    let mut t = Target::start();
    let values = [
        "5",
        "null",
        "true",
        "\"s\"",
        "1.5",
        "[]",
        "[1, 2]",
        "{}",
        r#"{"a": 1}"#,
        "-0",
        "1e400",
    ];
    let mut n = 0;
    for v in values {
        for body in [
            format!(r#"{{"query": {v}}}"#),
            format!(r#"{{"table": {v}, "rows": [{{"id": 900}}]}}"#),
            format!(r#"{{"table": "items", "rows": {v}}}"#),
            format!(r#"{{"table": "items", "rows": [{v}]}}"#),
            format!(r#"{{"table": "items", "rows": [{{"id": 1}}], "mode": {v}}}"#),
            format!(r#"{{"table": "items", "rows": [{{"id": {v}}}]}}"#),
            format!(r#"{{"table": "items", "rows": [{{"id": 1, "qty": {v}}}]}}"#),
            format!(r#"{{"table": "items", "rows": [{{"id": 1, "ok": {v}}}]}}"#),
            format!(r#"{{"table": "items", "rows": [{{"id": 1, "name": {v}}}]}}"#),
            format!(
                r#"{{"table": "items", "rows": [{{"id": 901, "qty": {v}, "price": {v}, "ok": {v}, "name": {v}}}, {{"id": 1}}]}}"#
            ),
            v.to_string(),
        ] {
            t.post_write(&describe("wrong type", body.as_bytes()), body.as_bytes());
            n += 1;
        }
        let sv = v.replace('"', "\\\"");
        for q in [
            format!("insert items {{id: 1, qty: {v}}}"),
            format!("update items set qty = {v} where id < 0"),
            format!("select * from items where qty = {v}"),
            format!("select * from items where name + {v} > 1"),
            format!("select * from items where ok and {v}"),
            format!("select * from items where {v}"),
            format!("select sum(name), avg(ok), min(meta), max({v}) from items"),
            format!("select * from items limit {v}"),
            format!("insert items {{id: {v}}}"),
            format!("select \"{sv}\" like {v} from items"),
        ] {
            let body = query(&q);
            t.post_write(&describe("wrong type statement", &body), &body);
            n += 1;
        }
    }
    assert!(n > 200);
    t.finish("wrong types");
}

/// Sends `parts` over one connection, pausing `pause` between them, then
/// (unless `keep_open`) half-closes the connection; gives the answer.
fn send_parts(
    server: &TestServer,
    parts: &[&[u8]],
    pause: Duration,
    keep_open: bool,
) -> Option<Resp> {
    let mut s = connect(server.addr);
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(pause);
        }
        if s.write_all(p).is_err() {
            break;
        }
    }
    if !keep_open {
        let _ = s.shutdown(Shutdown::Write);
    }
    read_response(&mut s)
}

#[test]
fn truncated_and_half_sent_requests() {
    let mut t = Target::start();
    let addr = t.server.addr;
    let write = br#"{"query": "insert items {id: 1000, name: \"new\"}"}"#;
    let full = {
        let mut v = format!(
            "POST /query HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            write.len()
        )
        .into_bytes();
        v.extend_from_slice(write);
        v
    };
    let head_len = full.len() - write.len();
    // Every prefix of the request, sent and then half-closed: the head cut
    // short may close without an answer; a body cut short must not run.
    for cut in 0..full.len() {
        let r = send_parts(&t.server, &[&full[..cut]], Duration::ZERO, false);
        let what = format!("request cut at byte {cut} of {}", full.len());
        t.check(&what, r, true);
        if cut % 8 == 0 {
            t.data_unchanged(&what);
        }
    }
    t.data_unchanged("after the cut requests");
    // A body that stops arriving (connection left open): 408 in time.
    for cut in [
        head_len,
        head_len + 1,
        head_len + write.len() / 2,
        full.len() - 1,
    ] {
        let r = send_parts(&t.server, &[&full[..cut]], Duration::ZERO, true);
        let what = format!("body stalled after byte {cut}");
        match &r {
            Some(resp) if resp.status != 408 => {
                t.fail(&what, format!("status {} instead of 408", resp.status))
            }
            _ => {}
        }
        t.check(&what, r, false);
    }
    t.data_unchanged("after the stalled bodies");
    // Content-Length lies and oddities.
    for head in [
        format!(
            "POST /query HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 99999999999999999999\r\n\r\n{{}}"
        ),
        format!("POST /query HTTP/1.1\r\nHost: {addr}\r\nContent-Length: -5\r\n\r\n{{}}"),
        format!(
            "POST /query HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n{{}}"
        ),
        format!(
            "POST /query HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 2\r\n\r\n{{\"query\": \"drop table logs\"}}"
        ),
        format!(
            "POST /query HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n"
        ),
        format!(
            "POST /query HTTP/1.1\r\nHost: {addr}\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{{}}\r\n0\r\n\r\n"
        ),
        format!(
            "POST /query HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{{}}\r\n0\r\n\r\n"
        ),
        format!(
            "POST /query HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n\r\n",
            8 << 20
        ),
        format!(
            "POST /query HTTP/1.1\r\nHost: {addr}\r\n{}: x\r\nContent-Length: 2\r\n\r\n{{}}",
            "h".repeat(100_000)
        ),
        format!(
            "POST /query HTTP/1.1\r\nHost: {addr}\r\nX: {}\r\nContent-Length: 2\r\n\r\n{{}}",
            "\u{0}".repeat(100)
        ),
        format!("POST /\u{ff}query HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 2\r\n\r\n{{}}"),
        format!(
            "POST /query?{} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 2\r\n\r\n{{}}",
            "q".repeat(100_000)
        ),
        format!("GARBAGE /query HTTP/1.1\r\nHost: {addr}\r\n\r\n"),
        format!("POST /query HTTP/9.9\r\nHost: {addr}\r\nContent-Length: 2\r\n\r\n{{}}"),
        "\r\n\r\n\r\n".to_string(),
    ] {
        let r = send_parts(&t.server, &[head.as_bytes()], Duration::ZERO, false);
        let what = describe("odd request", head.as_bytes());
        t.check(&what, r, true);
        t.data_unchanged(&what);
    }
    t.finish("truncated and half-sent requests");
}

#[test]
fn trickled_bodies() {
    let mut t = Target::start();
    let addr = t.server.addr;
    let read = br#"{"query": "select * from items where qty > 3"}"#;
    let write = br#"{"query": "insert items {id: 1, name: \"dup\"}"}"#;
    for (body, gap, expect) in [
        // Well inside the body timeout: the request completes.
        (&read[..], Duration::from_millis(20), 200),
        (&write[..], Duration::from_millis(20), 400),
        // Longer than the body timeout: 408.
        (&read[..], BODY_TIMEOUT * 2, 408),
        (&write[..], BODY_TIMEOUT * 2, 408),
    ] {
        let head = format!(
            "POST /query HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        // The body in pieces of a few bytes; for the slow cases only the
        // first few pieces (the server gives up after the first stall).
        let mut parts: Vec<&[u8]> = vec![head.as_bytes()];
        let pieces: Vec<&[u8]> = body.chunks(3).collect();
        let pieces = if expect == 408 {
            &pieces[..3]
        } else {
            &pieces[..]
        };
        parts.extend_from_slice(pieces);
        let r = send_parts(&t.server, &parts, gap, true);
        let what = format!("body trickled every {gap:?}, {} bytes", body.len());
        match &r {
            Some(resp) if resp.status != expect => t.fail(
                &what,
                format!(
                    "status {} instead of {expect}: {}",
                    resp.status,
                    resp.text()
                ),
            ),
            _ => {}
        }
        t.check(&what, r, false);
        t.data_unchanged(&what);
    }
    // The head itself trickled byte by byte, then a valid read.
    let mut whole = format!(
        "POST /query HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        read.len()
    )
    .into_bytes();
    whole.extend_from_slice(read);
    let parts: Vec<&[u8]> = whole.chunks(7).collect();
    let r = send_parts(&t.server, &parts, Duration::from_millis(2), true);
    match &r {
        Some(resp) if resp.status != 200 => {
            t.fail("head trickled", format!("status {}", resp.status))
        }
        _ => {}
    }
    t.check("head trickled", r, false);
    t.finish("trickled bodies");
}
