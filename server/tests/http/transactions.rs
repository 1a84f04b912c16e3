//! `{"transaction": [...]}` requests (docs/http.md#transactions): results
//! in order, all or nothing, the failing statement's index, and the
//! transaction counters of `/stats` and `/metrics`.

use fasty_server::ServerOptions;
use serde_json::json;

use crate::client::TestServer;

fn accounts() -> TestServer {
    let s = TestServer::start(ServerOptions::default());
    s.ok("create table accounts { id: int, balance: int }");
    s.ok("insert accounts [{ id: 1, balance: 100 }, { id: 2, balance: 0 }]");
    s
}

#[test]
fn a_transaction_answers_every_statement_in_order_and_commits() {
    let s = accounts();
    let r = s.transaction(&[
        "update accounts set balance = balance - 30 where id = 1",
        "update accounts set balance = balance + 30 where id = 2",
        "select id, balance from accounts where id = 1 or id = 2",
        "insert accounts { id: 3, balance: 5 }",
        "explain find accounts where id = 3",
    ]);
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["success"], true);
    let results = j["results"].as_array().unwrap();
    assert_eq!(results.len(), 5, "{j}");
    assert_eq!(results[0], json!({"affected": 1}));
    assert_eq!(results[1], json!({"affected": 1}));
    assert_eq!(
        results[2],
        json!({"data": [{"id": 1, "balance": 70}, {"id": 2, "balance": 30}], "rows": 2})
    );
    assert_eq!(results[3], json!({"affected": 1}));
    assert!(results[4]["plan"].as_str().is_some(), "{j}");
    assert_eq!(
        s.ok("select sum(balance) from accounts")["data"][0]["sum(balance)"],
        105
    );
}

#[test]
fn the_first_failure_names_its_statement_and_writes_nothing() {
    let s = accounts();
    let r = s.transaction(&[
        "update accounts set balance = 0 where id = 1",
        "insert accounts { id: 2, balance: 1 }",
        "update accounts set balance = 0 where id = 2",
    ]);
    let e = r.assert_error(400, "duplicate_key");
    assert_eq!(e["statement"], 1, "{e}");
    let r = s.transaction(&["find accounts where id = 1", "selct 1"]);
    let e = r.assert_error(400, "syntax_error");
    assert_eq!(e["statement"], 1, "{e}");
    for bad in ["create table t { id: int }", "commit", "begin"] {
        let e = s
            .transaction(&["update accounts set balance = 7 where id = 1", bad])
            .assert_error(400, "invalid_transaction_state");
        assert_eq!(e["statement"], 1, "{bad}: {e}");
    }
    assert_eq!(
        s.ok("select id, balance from accounts")["data"],
        json!([{"id": 1, "balance": 100}, {"id": 2, "balance": 0}])
    );
    // Alone, transaction statements have no session to act on.
    s.query("begin")
        .assert_error(400, "invalid_transaction_state");
    s.post(br#"{"transaction": []}"#)
        .assert_error(400, "bad_request");
    s.post(br#"{"transaction": ["find accounts"], "query": "find accounts"}"#)
        .assert_error(400, "bad_request");
    s.post(br#"{"transaction": "find accounts"}"#)
        .assert_error(400, "bad_request");
}

#[test]
fn stats_and_metrics_count_transactions() {
    let s = accounts();
    s.transaction(&["update accounts set balance = 1 where id = 1"]);
    s.transaction(&["update accounts set balance = 2 where id = 1", "selct"]);
    let stats = s.get("/stats").json();
    let t = &stats["data"]["transactions"];
    assert_eq!(t["open"], 0, "{t}");
    assert_eq!(t["begun"], 2, "{t}");
    assert_eq!(t["commits"], 1, "{t}");
    assert_eq!(t["rollbacks"], 1, "{t}");
    assert_eq!(t["conflicts"], 0, "{t}");
    let metrics = s.get("/metrics").text();
    assert!(
        metrics.contains("fasty_transaction_commits_total 1"),
        "{metrics}"
    );
    assert!(metrics.contains("fasty_transactions_open 0"), "{metrics}");
    assert!(
        metrics.contains("fasty_requests_total{kind=\"transaction\",status=\"200\"} 1"),
        "{metrics}"
    );
}
