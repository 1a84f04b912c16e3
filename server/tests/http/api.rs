//! Every route, response shape and status code of docs/http.md.

use fasty_server::ServerOptions;
use serde_json::json;

use crate::client::{Resp, TestServer, raw, request};

const ITEMS: &str = "create table items { id: int, name: string, qty: int, price: float, \
                     ok: bool, meta: json }";

#[test]
fn health_unknown_routes_and_wrong_methods() {
    let s = TestServer::start(ServerOptions::default());
    let r = s.get("/health");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.body, br#"{"success":true,"data":"ok"}"#);

    s.get("/nope").assert_error(404, "not_found");
    s.get("/").assert_error(404, "not_found");
    s.get("/query/").assert_error(404, "not_found");
    request(s.addr, "POST", "/nope", &[], b"{}").assert_error(404, "not_found");

    let r = s.get("/query");
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("POST"));
    let r = request(s.addr, "POST", "/health", &[], b"");
    r.assert_error(405, "method_not_allowed");
    assert!(r.header("allow").unwrap().contains("GET"), "{r:?}");
    request(s.addr, "DELETE", "/stats", &[], b"").assert_error(405, "method_not_allowed");
    request(s.addr, "PUT", "/metrics", &[], b"").assert_error(405, "method_not_allowed");
}

#[test]
fn statements_answer_with_the_spec_shapes() {
    let s = TestServer::start(ServerOptions::default());
    // DDL: exactly {"success": true}.
    let r = s.query(ITEMS);
    assert_eq!((r.status, r.json()), (200, json!({"success": true})));
    assert_eq!(
        s.ok("create index idx_name on items (name)"),
        json!({"success": true})
    );

    assert_eq!(
        s.ok(
            r#"insert items { id: 1, name: "a", qty: 3, price: 2.5, ok: true,
                               meta: { level: 5, badges: ["gold", "silver"] } }"#
        ),
        json!({"success": true, "affected": 1})
    );
    assert_eq!(
        s.ok(r#"insert items [ { id: 2, name: "b", qty: 7 }, { id: 3, price: 1, meta: [1, {x: null}] } ]"#),
        json!({"success": true, "affected": 2})
    );
    assert_eq!(
        s.ok(r#"upsert items { id: 3, name: "c", price: 0.5 }"#),
        json!({"success": true, "affected": 1})
    );

    // Rows: objects keyed by column, every column (nulls too), typed
    // values, json nested; `rows` is the count.
    let r = s.ok("select * from items");
    assert_eq!(
        r,
        json!({"success": true, "rows": 3, "data": [
            {"id": 1, "name": "a", "qty": 3, "price": 2.5, "ok": true,
             "meta": {"level": 5, "badges": ["gold", "silver"]}},
            {"id": 2, "name": "b", "qty": 7, "price": null, "ok": null, "meta": null},
            {"id": 3, "name": "c", "qty": null, "price": 0.5, "ok": null, "meta": null},
        ]})
    );
    assert!(r["data"][0]["qty"].is_i64() && r["data"][0]["price"].is_f64());
    // Keys in declaration order on the wire.
    let text = s.query("find items where id = 2").text();
    assert_eq!(
        text,
        r#"{"success":true,"data":[{"id":2,"name":"b","qty":7,"price":null,"ok":null,"meta":null}],"rows":1}"#
    );
    assert_eq!(
        s.ok("select name, meta.level from items where meta.level > 3"),
        json!({"success": true, "rows": 1, "data": [{"name": "a", "meta.level": 5}]})
    );
    assert_eq!(
        s.ok("select count(*), sum(qty) as total from items"),
        json!({"success": true, "rows": 1, "data": [{"count(*)": 3, "total": 10}]})
    );
    assert_eq!(
        s.ok("find items where id > 100"),
        json!({"success": true, "rows": 0, "data": []})
    );

    assert_eq!(
        s.ok("update items set qty = qty + 1 where qty is not null"),
        json!({"success": true, "affected": 2})
    );
    assert_eq!(
        s.ok("delete items where id = 2"),
        json!({"success": true, "affected": 1})
    );
    assert_eq!(
        s.ok("delete from items where id = 99;"),
        json!({"success": true, "affected": 0})
    );

    let r = s.ok(r#"explain find items where name = "a""#);
    let obj = r.as_object().unwrap();
    assert_eq!(obj.len(), 2, "{r}");
    assert_eq!(r["success"], true);
    let plan = r["plan"].as_str().unwrap();
    assert!(plan.contains("idx_name"), "{plan}");
    let r = s.ok("explain find items where id = 1");
    assert!(r["plan"].as_str().unwrap().contains("primary"), "{r}");

    assert_eq!(s.ok("drop index idx_name"), json!({"success": true}));
    assert_eq!(s.ok("drop table items"), json!({"success": true}));
    s.query("select items").assert_error(400, "unknown_table");
}

#[test]
fn batch_inserts_and_upserts() {
    let s = TestServer::start(ServerOptions::default());
    s.ok(ITEMS);
    let body = json!({"table": "items", "rows": [
        {"id": 1, "name": "a", "qty": 3, "price": 2.5, "ok": true, "meta": {"k": [1, 2, {"z": null}]}},
        {"id": 2, "name": "b", "price": 4},
        {"name": "c", "id": 3, "meta": [true, "x"]},
    ]});
    let r = s.post(body.to_string().as_bytes());
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"success": true, "inserted": 3}))
    );
    assert_eq!(
        s.ok("select * from items")["data"],
        json!([
            {"id": 1, "name": "a", "qty": 3, "price": 2.5, "ok": true, "meta": {"k": [1, 2, {"z": null}]}},
            {"id": 2, "name": "b", "qty": null, "price": 4.0, "ok": null, "meta": null},
            {"id": 3, "name": "c", "qty": null, "price": null, "ok": null, "meta": [true, "x"]},
        ])
    );

    // An existing key fails the whole batch: nothing written.
    let r = s.post(br#"{"table": "items", "rows": [{"id": 4}, {"id": 1}]}"#);
    r.assert_error(400, "duplicate_key");
    assert_eq!(s.ok("select count(*) from items")["data"][0]["count(*)"], 3);
    // A bad row anywhere fails it too.
    let r = s.post(br#"{"table": "items", "rows": [{"id": 5}, {"id": 6, "qty": "many"}]}"#);
    let e = r.assert_error(400, "type_mismatch");
    assert!(e["message"].as_str().unwrap().contains("qty"), "{e}");
    s.post(br#"{"table": "items", "rows": [{"id": 7, "qty": 1.5}]}"#)
        .assert_error(400, "type_mismatch");
    s.post(br#"{"table": "items", "rows": [{"id": 8, "qty": 1}, {"name": "x"}]}"#)
        .assert_error(400, "missing_primary_key");
    let e = s
        .post(br#"{"table": "items", "rows": [{"id": 9, "nam": "x"}]}"#)
        .assert_error(400, "unknown_column");
    assert_eq!(e["hint"], "did you mean column \"name\"?", "{e}");
    s.post(br#"{"table": "itemz", "rows": [{"id": 9}]}"#)
        .assert_error(400, "unknown_table");
    assert_eq!(s.ok("select count(*) from items")["data"][0]["count(*)"], 3);

    // Upsert replaces whole rows: columns not given become null.
    let r = s.post(
        br#"{"mode": "upsert", "table": "items", "rows": [{"id": 1, "qty": 9}, {"id": 10, "name": "new"}]}"#,
    );
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"success": true, "inserted": 2}))
    );
    assert_eq!(
        s.ok("find items where id = 1 or id = 10")["data"],
        json!([
            {"id": 1, "name": null, "qty": 9, "price": null, "ok": null, "meta": null},
            {"id": 10, "name": "new", "qty": null, "price": null, "ok": null, "meta": null},
        ])
    );
    let r = s.post(br#"{"table": "items", "rows": [], "mode": "insert"}"#);
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"success": true, "inserted": 0}))
    );
}

#[test]
fn query_errors_carry_code_position_and_hint() {
    let s = TestServer::start(ServerOptions::default());
    s.ok(ITEMS);
    let e = s
        .query("selct * from items")
        .assert_error(400, "syntax_error");
    assert_eq!(
        (e["line"].clone(), e["column"].clone()),
        (json!(1), json!(1)),
        "{e}"
    );
    assert_eq!(e["hint"], "did you mean \"select\"?", "{e}");
    let e = s
        .query("find items\nwhere id = = 1")
        .assert_error(400, "syntax_error");
    assert_eq!(e["line"], 2, "{e}");
    assert!(e["column"].as_u64().unwrap() > 1, "{e}");

    let e = s
        .query("find items where nme = 1")
        .assert_error(400, "unknown_column");
    assert_eq!(e.as_object().unwrap().len(), 3, "no position: {e}");
    assert_eq!(e["hint"], "did you mean column \"name\"?");
    let e = s.query("select itemz").assert_error(400, "unknown_table");
    assert!(e.get("line").is_none() && e.get("column").is_none(), "{e}");
    s.query(r#"insert items { id: 1, qty: "x" }"#)
        .assert_error(400, "type_mismatch");
    s.ok("insert items { id: 1 }");
    s.query("insert items { id: 1 }")
        .assert_error(400, "duplicate_key");
    s.query("insert items { name: \"x\" }")
        .assert_error(400, "missing_primary_key");
    s.query("create table items { id: int }")
        .assert_error(400, "table_exists");
    s.query("update items set qty = 9223372036854775807 + 1")
        .assert_error(400, "numeric_overflow");
    s.query("select 1; select 2")
        .assert_error(400, "syntax_error");
    s.query("").assert_error(400, "syntax_error");
    s.query("find items where id = ?")
        .assert_error(400, "syntax_error");
}

#[test]
fn malformed_bodies_are_400_with_the_json_error_body() {
    let s = TestServer::start(ServerOptions::default());
    let cases: &[(&[u8], &str)] = &[
        (b"", "bad_request"),
        (b"   ", "bad_request"),
        (b"{", "invalid_json"),
        (b"{\"query\": \"select x\"", "invalid_json"),
        (b"query=select+x", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        (b"[]", "bad_request"),
        (b"null", "bad_request"),
        (b"\"select x\"", "bad_request"),
        (b"{}", "bad_request"),
        (br#"{"query": 5}"#, "bad_request"),
        (br#"{"query": ["select"]}"#, "bad_request"),
        (br#"{"quer": "select x"}"#, "bad_request"),
        (br#"{"query": "a", "rows": []}"#, "bad_request"),
        (br#"{"table": "t"}"#, "bad_request"),
        (br#"{"table": "t", "rows": 5}"#, "bad_request"),
        (br#"{"table": "t", "rows": [[1, 2]]}"#, "bad_request"),
        (br#"{"table": "t", "rows": [], "mode": 1}"#, "bad_request"),
    ];
    for (body, code) in cases {
        s.post(body).assert_error(400, code);
    }
    let e = s.post(b"{\n\"query\": }").assert_error(400, "invalid_json");
    assert_eq!(
        (e["line"].clone(), e["column"].clone()),
        (json!(2), json!(10)),
        "{e}"
    );
}

#[test]
fn bodies_are_json_whatever_the_content_type() {
    let s = TestServer::start(ServerOptions::default());
    s.ok("create table t { id: int }");
    let body = br#"{"query": "insert t {id: 1}"}"#;
    for ct in [
        Some("application/x-www-form-urlencoded"),
        Some("text/plain"),
        Some("application/octet-stream"),
        None,
    ] {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("Content-Type", c)).into_iter().collect();
        let r = request(
            s.addr,
            "POST",
            "/query",
            &headers,
            b"{\"query\": \"select t\"}",
        );
        assert_eq!(r.status, 200, "{ct:?}: {}", r.text());
        assert_eq!(r.json()["rows"], 0);
    }
    let r = request(
        s.addr,
        "POST",
        "/query",
        &[("Content-Type", "text/html")],
        body,
    );
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"success": true, "affected": 1}))
    );
}

#[test]
fn auth_token_guards_every_route_but_health() {
    let s = TestServer::start(ServerOptions::default().with_auth_token(Some("s3cret".into())));
    let q = br#"{"query": "create table t { id: int }"}"#;
    let post = |auth: Option<&str>| {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        request(s.addr, "POST", "/query", &headers, q)
    };
    for bad in [
        None,
        Some("Bearer wrong"),
        Some("Bearer s3cre"),
        Some("Basic s3cret"),
        Some("s3cret"),
    ] {
        let r = post(bad);
        r.assert_error(401, "unauthorized");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    // Nothing ran: the table does not exist yet.
    let r = post(Some("Bearer s3cret"));
    assert_eq!((r.status, r.json()), (200, json!({"success": true})));
    let r = post(Some("Bearer s3cret"));
    r.assert_error(400, "table_exists");

    for path in ["/stats", "/metrics", "/nope"] {
        s.get(path).assert_error(401, "unauthorized");
        request(
            s.addr,
            "GET",
            path,
            &[("Authorization", "Bearer nope")],
            b"",
        )
        .assert_error(401, "unauthorized");
    }
    let ok = [("Authorization", "Bearer s3cret")];
    assert_eq!(request(s.addr, "GET", "/stats", &ok, b"").status, 200);
    assert_eq!(request(s.addr, "GET", "/metrics", &ok, b"").status, 200);
    request(s.addr, "GET", "/nope", &ok, b"").assert_error(404, "not_found");
    // /health needs no token.
    let r = s.get("/health");
    assert_eq!(
        (r.status, r.json()),
        (200, json!({"success": true, "data": "ok"}))
    );
}

#[test]
fn bodies_over_the_limit_get_413() {
    let s = TestServer::start(ServerOptions::default().with_max_body(1024));
    s.ok("create table t { id: int, s: string }");
    // Exactly at the limit: accepted.
    let mut at = br#"{"query": "select t"}"#.to_vec();
    at.resize(1024, b' ');
    let r = s.post(&at);
    assert_eq!(r.status, 200, "{}", r.text());
    // One byte over, announced by Content-Length.
    at.push(b' ');
    s.post(&at).assert_error(413, "payload_too_large");
    let big = json!({"table": "t", "rows": (0..100).map(|i| json!({"id": i, "s": "xxxxxxxxxx"})).collect::<Vec<_>>()});
    s.post(big.to_string().as_bytes())
        .assert_error(413, "payload_too_large");
    // Chunked, with no length announced: cut off while reading.
    let mut req = format!(
        "POST /query HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n",
        s.addr
    )
    .into_bytes();
    for _ in 0..3 {
        req.extend_from_slice(b"200\r\n");
        req.extend_from_slice(&[b' '; 0x200]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    raw(s.addr, &req).assert_error(413, "payload_too_large");
    // Nothing was written.
    assert_eq!(s.ok("select count(*) from t")["data"][0]["count(*)"], 0);
}

#[test]
fn stats_and_metrics_report_tables_storage_and_requests() {
    let s = TestServer::start(ServerOptions::default());
    s.ok("create table a { id: int, v: string }");
    s.ok("create table b { id: int }");
    s.ok("create index idx_v on a (v)");
    s.post(br#"{"table": "a", "rows": [{"id": 1, "v": "x"}, {"id": 2}, {"id": 3}]}"#);
    s.ok("insert b { id: 1 }");
    s.ok("upsert b { id: 1 }");
    s.ok("update b set id = 5 where id = 1");
    s.ok("delete b where id = 5");
    s.ok("insert b { id: 2 }");
    for _ in 0..3 {
        s.ok("select a");
    }
    s.ok("explain select a");
    s.query("select nosuch").assert_error(400, "unknown_table");
    s.post(b"{").assert_error(400, "invalid_json");
    s.get("/nope");

    let r = s.get("/stats");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let j = r.json();
    assert_eq!(j["success"], true);
    let d = &j["data"];
    let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "cache",
            "connections",
            "errors",
            "indexes",
            "latency",
            "memory",
            "requests",
            "rows",
            "storage",
            "tables",
            "transactions",
            "uptime",
            "wal"
        ]
    );
    assert_eq!(d["tables"], json!(["a", "b"]));
    assert_eq!(d["indexes"], json!({"a": ["idx_v"], "b": []}));
    assert_eq!(d["rows"], json!({"a": 3, "b": 1}));
    assert!(d["memory"]["memtable_bytes"].as_u64().unwrap() > 0, "{d}");
    assert!(d["storage"]["levels"].is_array(), "{d}");
    assert!(
        d["storage"]["files"].is_u64() && d["storage"]["bytes"].is_u64(),
        "{d}"
    );
    assert_eq!(d["wal"]["durability"], "memory");
    for k in ["bytes", "fsyncs", "records", "segments"] {
        assert!(d["wal"][k].is_u64(), "{k}: {d}");
    }
    for k in ["hits", "misses", "bytes"] {
        assert!(d["cache"][k].is_u64(), "{k}: {d}");
    }
    assert!(d["cache"].get("hit_ratio").is_some());
    assert!(d["uptime"].as_f64().unwrap() > 0.0);
    assert_eq!(d["wal"]["lag"], 0, "{d}");
    assert_eq!(
        d["errors"],
        json!({"unknown_table": 1, "invalid_json": 1, "not_found": 1}),
        "{d}"
    );
    // This connection at least (the earlier ones may still be closing),
    // and no request: scrapes are not counted.
    assert!(d["connections"]["open"].as_u64() >= Some(1), "{d}");
    assert_eq!(d["connections"]["requests_in_flight"], 0, "{d}");

    let req = &d["requests"];
    // `select nosuch` parses, so it counts as a select that failed.
    assert_eq!(
        req["select"],
        json!({"total": 4, "200": 3, "400": 1}),
        "{req}"
    );
    assert_eq!(req["ddl"], json!({"total": 3, "200": 3}), "{req}");
    assert_eq!(req["batch"], json!({"total": 1, "200": 1}), "{req}");
    for kind in ["insert", "upsert", "update", "delete"] {
        let n = if kind == "insert" { 2 } else { 1 };
        assert_eq!(req[kind], json!({"total": n, "200": n}), "{kind}: {req}");
    }
    assert_eq!(req["explain"], json!({"total": 1, "200": 1}), "{req}");
    assert_eq!(req["invalid"], json!({"total": 1, "400": 1}), "{req}");
    assert_eq!(req["other"], json!({"total": 1, "404": 1}), "{req}");
    assert_eq!(req["total"], 16, "{req}");
    let lat = &d["latency"]["select"];
    assert_eq!(lat["count"], 4);
    assert_eq!(lat["sampled"], 4);
    let (p50, p95, p99) = (
        lat["p50_ms"].as_f64().unwrap(),
        lat["p95_ms"].as_f64().unwrap(),
        lat["p99_ms"].as_f64().unwrap(),
    );
    assert!(0.0 < p50 && p50 <= p95 && p95 <= p99, "{lat}");
    assert_eq!(d["latency"]["batch"]["count"], 1);
    assert!(d["latency"]["delete"]["p99_ms"].is_f64());

    let r = s.get("/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/plain; version=0.0.4"));
    let text = r.text();
    check_exposition(&text);
    for line in [
        "fasty_tables 2",
        "fasty_indexes 1",
        "fasty_requests_total{kind=\"select\",status=\"200\"} 3",
        "fasty_requests_total{kind=\"invalid\",status=\"400\"} 1",
        "fasty_requests_total{kind=\"select\",status=\"400\"} 1",
        "fasty_requests_total{kind=\"other\",status=\"404\"} 1",
        "fasty_table_rows{table=\"a\"} 3",
        "fasty_table_rows{table=\"b\"} 1",
        "fasty_errors_total{code=\"unknown_table\"} 1",
        "fasty_errors_total{code=\"not_found\"} 1",
        "fasty_http_requests_in_flight 0",
        "fasty_wal_lag 0",
        "fasty_request_duration_seconds_count{kind=\"select\"} 4",
        "fasty_request_duration_seconds_bucket{kind=\"select\",le=\"+Inf\"} 4",
        "fasty_request_duration_seconds_count{kind=\"batch\"} 1",
        "fasty_request_duration_seconds_count{kind=\"upsert\"} 1",
        "# TYPE fasty_request_duration_seconds histogram",
        "# TYPE fasty_wal_fsyncs_total counter",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    let open: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("fasty_http_connections "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(open >= 1.0, "{text}");
    // Scrapes (the /stats and /metrics above) are not counted.
    assert!(
        !text.contains("fasty_requests_total{kind=\"other\",status=\"200\"}"),
        "{text}"
    );
    assert_eq!(s.get("/stats").json()["data"]["requests"]["total"], 16);
    let start: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("process_start_time_seconds "))
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(start > 1.7e9 && start <= now + 1.0, "{start} vs {now}");
    for metric in [
        "fasty_cache_hits_total ",
        "fasty_wal_bytes_written_total ",
        "fasty_uptime_seconds ",
    ] {
        assert!(text.contains(metric), "{metric}");
    }
}

/// Every sample line is `name{labels} value` with a numeric value, every
/// metric has HELP and TYPE first, and histogram buckets are cumulative.
fn check_exposition(text: &str) {
    let mut typed = std::collections::HashSet::new();
    let mut last_bucket: Option<(String, f64)> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_string());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let v: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        let name = series.split('{').next().unwrap();
        let base = name
            .strip_suffix("_bucket")
            .or_else(|| name.strip_suffix("_sum"))
            .or_else(|| name.strip_suffix("_count"))
            .filter(|b| typed.contains(*b))
            .unwrap_or(name);
        assert!(typed.contains(base), "no TYPE before {line}");
        if name.ends_with("_bucket") {
            let kind = series
                .split("kind=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            if let Some((k, prev)) = &last_bucket
                && k == kind
            {
                assert!(v >= *prev, "buckets not cumulative at {line}");
            }
            last_bucket = Some((kind.to_string(), v));
        }
    }
}

#[test]
fn statements_run_off_the_async_workers() {
    // A slow statement must not hold up other requests: /health answers
    // while it runs.
    // One async worker: a statement run on it would stall everything.
    let s = TestServer::start_current_thread(ServerOptions::default());
    s.ok("create table a { id: int, k: int }");
    s.ok("create table b { id: int, k: int }");
    let rows = |n: i64| json!((0..n).map(|i| json!({"id": i, "k": 0})).collect::<Vec<_>>());
    for t in ["a", "b"] {
        let r = s.post(
            json!({"table": t, "rows": rows(2000)})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    // A top-k over a 4-million-row join: about a second in debug.
    let slow = "select a.id, b.id from a join b on a.k = b.k order by a.id desc, b.id desc limit 1";
    let addr = s.addr;
    let started = std::time::Instant::now();
    let t = std::thread::spawn(move || {
        let r = request(
            addr,
            "POST",
            "/query",
            &[],
            json!({"query": slow}).to_string().as_bytes(),
        );
        (r, started.elapsed())
    });
    std::thread::sleep(std::time::Duration::from_millis(50));
    let mut healthy = Vec::new();
    for _ in 0..4 {
        let r: Resp = s.get("/health");
        assert_eq!(r.status, 200);
        healthy.push(started.elapsed());
    }
    let (r, slow_took) = t.join().unwrap();
    assert_eq!(
        r.json(),
        json!({"success": true, "rows": 1, "data": [{"a.id": 1999, "b.id": 1999}]})
    );
    assert!(
        healthy.iter().all(|&h| h < slow_took),
        "health answered at {healthy:?}, the join took {slow_took:?}"
    );
}

#[test]
fn concurrent_clients_see_every_acknowledged_write() {
    let s = TestServer::start(ServerOptions::default());
    s.ok("create table t { id: int, w: int }");
    let addr = s.addr;
    let writers: Vec<_> = (0..6)
        .map(|w| {
            std::thread::spawn(move || {
                for b in 0..15 {
                    let base = (w * 15 + b) * 40;
                    let rows: Vec<_> = (base..base + 40)
                        .map(|id| json!({"id": id, "w": w}))
                        .collect();
                    let body = json!({"table": "t", "rows": rows}).to_string();
                    let r = request(addr, "POST", "/query", &[], body.as_bytes());
                    assert_eq!(r.json(), json!({"success": true, "inserted": 40}));
                    // Reads interleave with the writes and see whole batches.
                    let q = json!({"query": "select count(*) from t"}).to_string();
                    let n = request(addr, "POST", "/query", &[], q.as_bytes()).json()["data"][0]
                        ["count(*)"]
                        .as_i64()
                        .unwrap();
                    assert!(n % 40 == 0 && n >= 40, "{n}");
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(
        s.ok("select w, count(*) from t group by w")["data"],
        json!(
            (0..6)
                .map(|w| json!({"w": w, "count(*)": 600}))
                .collect::<Vec<_>>()
        )
    );
}
