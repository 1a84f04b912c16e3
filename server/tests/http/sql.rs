//! `{"sql": ...}`: SQL statements (docs/sql.md) over `POST /query`, with
//! the same answers as the fasty language's, and `$n` placeholders bound
//! from `params` by number.

use fasty_server::ServerOptions;
use serde_json::json;

use crate::client::TestServer;

fn post(s: &TestServer, body: serde_json::Value) -> crate::client::Resp {
    s.post(body.to_string().as_bytes())
}

#[test]
fn sql_answers_like_the_fasty_language() {
    let s = TestServer::start(ServerOptions::default());
    let r = post(
        &s,
        json!({"sql": "CREATE TABLE users (id INT PRIMARY KEY, name TEXT, age INT)"}),
    );
    assert_eq!(r.json(), json!({"success": true}), "{}", r.text());
    let r = post(
        &s,
        json!({"sql": "INSERT INTO users (id, name, age) VALUES (1, 'alice', 30), (2, 'bob', 25)"}),
    );
    assert_eq!(
        r.json(),
        json!({"success": true, "affected": 2}),
        "{}",
        r.text()
    );
    // The same query in both languages gives the same body.
    let sql = post(
        &s,
        json!({"sql": "SELECT name, age FROM users WHERE age > 20 ORDER BY age DESC"}),
    );
    let fasty = s.ok("select name, age from users where age > 20 order by age desc");
    assert_eq!(sql.json(), fasty, "{}", sql.text());
    assert_eq!(fasty["rows"], 2);
    // Written by SQL, read by fasty.
    let r = post(
        &s,
        json!({"sql": "UPDATE users SET age = age + 1 WHERE name = 'bob'"}),
    );
    assert_eq!(r.json()["affected"], 1, "{}", r.text());
    assert_eq!(s.ok("find users where id = 2")["data"][0]["age"], json!(26));
    let r = post(&s, json!({"sql": "DELETE FROM users WHERE id = 1;"}));
    assert_eq!(r.json()["affected"], 1, "{}", r.text());
    assert_eq!(s.ok("select count(*) from users")["data"][0]["count(*)"], 1);
}

#[test]
fn dollar_params_bind_by_number() {
    let s = TestServer::start(ServerOptions::default());
    s.ok("create table t { id: int, name: string, score: float, m: json }");
    let r = post(
        &s,
        json!({"sql": "INSERT INTO t (id, name, score, m) VALUES ($1, $2, $3, $4)",
               "params": [3, "o'brien", 2.5, {"a": [1]}]}),
    );
    assert_eq!(r.json()["affected"], 1, "{}", r.text());
    // `$2` before `$1`, and `$1` twice.
    let r = post(
        &s,
        json!({"sql": "SELECT id, name FROM t WHERE name = $2 AND id = $1 AND id >= $1",
               "params": [3, "o'brien"]}),
    );
    assert_eq!(
        r.json(),
        json!({"success": true, "rows": 1, "data": [{"id": 3, "name": "o'brien"}]}),
        "{}",
        r.text()
    );
    // A value is a value, never SQL.
    let r = post(
        &s,
        json!({"sql": "SELECT id FROM t WHERE name = $1", "params": ["x' OR 1 = 1 --"]}),
    );
    assert_eq!(r.json()["rows"], 0, "{}", r.text());
}

#[test]
fn a_params_count_mismatch_is_bad_request() {
    let s = TestServer::start(ServerOptions::default());
    s.ok("create table t { id: int }");
    for (q, params) in [
        ("SELECT * FROM t WHERE id = $1", Some(json!([]))),
        ("SELECT * FROM t WHERE id = $1", Some(json!([1, 2]))),
        ("SELECT * FROM t WHERE id = $2", Some(json!([1]))),
        ("SELECT * FROM t WHERE id = 1", Some(json!([1]))),
        ("SELECT * FROM t WHERE id = $1", None),
    ] {
        let body = match &params {
            Some(p) => json!({"sql": q, "params": p}),
            None => json!({"sql": q}),
        };
        let e = post(&s, body).assert_error(400, "bad_request");
        assert!(
            e["message"].as_str().unwrap().contains("params"),
            "{q}: {e}"
        );
    }
}

#[test]
fn sql_errors_carry_codes_and_positions() {
    let s = TestServer::start(ServerOptions::default());
    s.ok("create table t { id: int }");
    let e = post(&s, json!({"sql": "SELECT * FROM\nWHERE"})).assert_error(400, "syntax_error");
    assert_eq!(
        (e["line"].clone(), e["column"].clone()),
        (json!(2), json!(1)),
        "{e}"
    );
    post(&s, json!({"sql": "SELECT * FROM missing"})).assert_error(400, "unknown_table");
    let e = post(
        &s,
        json!({"sql": "SELECT id FROM t UNION SELECT id FROM t"}),
    )
    .assert_error(400, "unsupported");
    assert!(e["message"].as_str().unwrap().contains("UNION"), "{e}");
    // One statement per request.
    let e = post(&s, json!({"sql": "SELECT * FROM t; SELECT * FROM t"}))
        .assert_error(400, "syntax_error");
    assert!(
        e["message"].as_str().unwrap().contains("one statement"),
        "{e}"
    );
    // "sql" and "query" do not mix.
    post(&s, json!({"sql": "SELECT * FROM t", "query": "find t"})).assert_error(400, "bad_request");
    post(&s, json!({"sql": 3})).assert_error(400, "bad_request");
    // Nothing was written by any of them.
    assert_eq!(s.ok("select count(*) from t")["data"][0]["count(*)"], 0);
}
