//! `params`: values bound to `?` placeholders by position; and duplicate
//! keys anywhere in a body, refused by name.

use fasty_server::ServerOptions;
use serde_json::json;

use crate::client::TestServer;

fn post(s: &TestServer, body: serde_json::Value) -> crate::client::Resp {
    s.post(body.to_string().as_bytes())
}

#[test]
fn params_bind_by_position_with_json_types() {
    let s = TestServer::start(ServerOptions::default());
    s.ok("create table users { id: int, name: string, score: float, ok: bool, m: json }");
    let r = post(
        &s,
        json!({"query": "insert users { id: ?, name: ?, score: ?, ok: ?, m: ? }",
               "params": [3, "o'brien \"x\"", 2, true, {"a": [1, 2]}]}),
    );
    assert_eq!(
        r.json(),
        json!({"success": true, "affected": 1}),
        "{}",
        r.text()
    );
    let r = post(
        &s,
        json!({"query": "find users where id = ?", "params": [3]}),
    );
    assert_eq!(
        r.json(),
        json!({"success": true, "rows": 1, "data": [
            {"id": 3, "name": "o'brien \"x\"", "score": 2.0, "ok": true, "m": {"a": [1, 2]}}
        ]}),
        "{}",
        r.text()
    );
    // A string that looks like a statement stays a value.
    let r = post(
        &s,
        json!({"query": "find users where name = ?", "params": ["x\" or id > 0 --"]}),
    );
    assert_eq!(r.json()["rows"], 0, "{}", r.text());
    let r = post(
        &s,
        json!({"query": "update users set score = ? where id = ? and ok = ?",
               "params": [9.5, 3, true]}),
    );
    assert_eq!(
        r.json(),
        json!({"success": true, "affected": 1}),
        "{}",
        r.text()
    );
    // No placeholders, no values.
    let r = post(
        &s,
        json!({"query": "select count(*) from users", "params": []}),
    );
    assert_eq!(r.json()["data"], json!([{"count(*)": 1}]), "{}", r.text());
    // A wrong type is the query's error, as for batch rows.
    post(
        &s,
        json!({"query": "find users where id = ?", "params": ["3"]}),
    );
    post(
        &s,
        json!({"query": "insert users { id: ?, score: ? }", "params": [4, 1.5e0]}),
    );
    let r = post(
        &s,
        json!({"query": "insert users { id: ? }", "params": [1.5]}),
    );
    r.assert_error(400, "type_mismatch");
}

#[test]
fn a_params_count_mismatch_is_bad_request() {
    let s = TestServer::start(ServerOptions::default());
    s.ok("create table t { id: int }");
    for (q, params) in [
        ("find t where id = ?", json!([])),
        ("find t where id = ?", json!([1, 2])),
        ("find t where id = 1", json!([1])),
        ("find t where id = ? or id = ?", json!([1])),
    ] {
        let e = post(&s, json!({"query": q, "params": params})).assert_error(400, "bad_request");
        assert!(
            e["message"].as_str().unwrap().contains("placeholder"),
            "{e}"
        );
    }
    post(
        &s,
        json!({"query": "find t where id = ?", "params": {"a": 1}}),
    )
    .assert_error(400, "bad_request");
    post(&s, json!({"table": "t", "rows": [], "params": [1]})).assert_error(400, "bad_request");
    // Placeholders without "params" are not bound: a syntax error.
    post(&s, json!({"query": "find t where id = ?"})).assert_error(400, "syntax_error");
}

#[test]
fn duplicate_keys_are_bad_requests_naming_the_key() {
    let s = TestServer::start(ServerOptions::default());
    s.ok("create table t { id: int, v: int, m: json }");
    for (body, key) in [
        (
            r#"{"table": "t", "rows": [{"id": 1, "v": 1, "v": 2}]}"#,
            "v",
        ),
        (
            r#"{"table": "t", "rows": [{"id": 1}, {"id": 2, "id": 3}]}"#,
            "id",
        ),
        (
            r#"{"table": "t", "rows": [{"id": 1, "m": {"a": 1, "a": 2}}]}"#,
            "a",
        ),
        (
            r#"{"query": "insert t { id: 1 }", "query": "select t"}"#,
            "query",
        ),
        (r#"{"table": "t", "table": "u", "rows": []}"#, "table"),
        (
            r#"{"query": "find t where id = ?", "params": [1], "params": [2]}"#,
            "params",
        ),
    ] {
        let e = s.post(body.as_bytes()).assert_error(400, "bad_request");
        let m = e["message"].as_str().unwrap();
        assert!(
            m.contains(&format!("\"{key}\"")) || m.contains(&format!("`{key}`")),
            "{body}: {m}"
        );
    }
    // Nothing was written.
    assert_eq!(s.ok("select count(*) from t")["data"][0]["count(*)"], 0);
    // The same keys in different rows or objects are fine.
    let r = s.post(br#"{"table": "t", "rows": [{"id": 1, "m": {"a": {"a": 1}}}, {"id": 2}]}"#);
    assert_eq!(
        r.json(),
        json!({"success": true, "inserted": 2}),
        "{}",
        r.text()
    );
}
