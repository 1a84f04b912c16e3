//! `GET /schema`, `GET /schema/{table}`, the admin routes, and the auth
//! rules they share with every route but `/health`.

use fasty_query::{Database, Output, Value};
use fasty_server::{AppState, ServerOptions};
use serde_json::json;

use crate::client::{TestServer, request};

#[test]
fn schema_lists_tables_columns_and_indexes() {
    let s = TestServer::start(ServerOptions::default());
    let r = s.get("/schema");
    assert_eq!(
        r.json(),
        json!({"success": true, "data": []}),
        "{}",
        r.text()
    );
    s.ok("create table users { id: int, name: string, email: string, age: int, balance: float, active: bool, metadata: json }");
    s.ok("create table a { id: int }");
    s.ok("create index idx_email on users (email)");
    s.ok("create index idx_age on users (age)");
    let users = json!({
        "name": "users",
        "columns": [
            {"name": "id", "type": "int"},
            {"name": "name", "type": "string"},
            {"name": "email", "type": "string"},
            {"name": "age", "type": "int"},
            {"name": "balance", "type": "float"},
            {"name": "active", "type": "bool"},
            {"name": "metadata", "type": "json"},
        ],
        "indexes": [
            {"name": "idx_email", "columns": ["email"]},
            {"name": "idx_age", "columns": ["age"]},
        ],
    });
    let a = json!({"name": "a", "columns": [{"name": "id", "type": "int"}], "indexes": []});
    let r = s.get("/schema");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json(), json!({"success": true, "data": [a, users]}));
    let r = s.get("/schema/users");
    assert_eq!(r.json(), json!({"success": true, "data": users}));
    s.get("/schema/nosuch").assert_error(404, "unknown_table");
    request(s.addr, "POST", "/schema", &[], b"").assert_error(405, "method_not_allowed");
}

#[test]
fn schema_shows_keys_and_constraints() {
    let s = TestServer::start(ServerOptions::default());
    s.ok("create table items { sku: int primary key, name: string not null unique, qty: int default 0, note: json default [1] }");
    s.ok("create unique index items_qty on items (qty)");
    let r = s.get("/schema/items");
    assert_eq!(
        r.json(),
        json!({"success": true, "data": {
            "name": "items",
            "columns": [
                {"name": "sku", "type": "int", "primary_key": true},
                {"name": "name", "type": "string", "not_null": true},
                {"name": "qty", "type": "int", "default": 0},
                {"name": "note", "type": "json", "default": [1]},
            ],
            "indexes": [
                {"name": "items_name_key", "columns": ["name"], "unique": true},
                {"name": "items_qty", "columns": ["qty"], "unique": true},
            ],
        }}),
        "{}",
        r.text()
    );
}

#[test]
fn admin_checkpoint_compact_and_backup() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::start_in(
        dir,
        fasty_query::Options::default(),
        ServerOptions::default(),
    );
    s.ok("create table t { id: int, v: string }");
    let rows: Vec<_> = (0..500)
        .map(|i| json!({"id": i, "v": format!("v{i}")}))
        .collect();
    s.post(json!({"table": "t", "rows": rows}).to_string().as_bytes());
    let post = |path: &str, body: &[u8]| request(s.addr, "POST", path, &[], body);

    let before = s.get("/stats").json()["data"]["storage"]["flushes"].clone();
    let r = post("/admin/checkpoint", b"");
    assert_eq!(r.json(), json!({"success": true}), "{}", r.text());
    let after = s.get("/stats").json()["data"]["storage"]["flushes"].clone();
    assert!(after.as_u64() > before.as_u64(), "{before} -> {after}");
    s.ok("delete t where id < 250");
    let r = post("/admin/compact", b"");
    assert_eq!(r.json(), json!({"success": true}), "{}", r.text());
    let levels = s.get("/stats").json()["data"]["storage"]["levels"].clone();
    let non_empty = levels
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["files"].as_u64() > Some(0))
        .count();
    assert_eq!(non_empty, 1, "{levels}");
    s.ok(r#"insert t { id: 1000, v: "after" }"#);

    // Backup into a new directory: it opens with the rows.
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("b1");
    let r = post("/admin/backup", json!({"dir": dest}).to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    assert_eq!(j["success"], true);
    let files = std::fs::read_dir(&dest).unwrap().count()
        + std::fs::read_dir(dest.join("wal")).map_or(0, |d| d.count())
        - usize::from(dest.join("wal").is_dir());
    assert_eq!(j["data"]["files"].as_u64(), Some(files as u64), "{j}");
    assert!(j["data"]["bytes"].as_u64().unwrap() > 0, "{j}");
    let db = Database::open(&dest, fasty_query::Options::default()).unwrap();
    let Output::Rows { rows, .. } = db.execute("select count(*) from t").unwrap() else {
        panic!()
    };
    assert_eq!(rows, vec![vec![Value::Int(251)]]);
    db.close().unwrap();

    // A non-empty existing directory is refused and left alone.
    std::fs::write(out.path().join("keep"), b"x").unwrap();
    let e = post(
        "/admin/backup",
        json!({"dir": out.path()}).to_string().as_bytes(),
    )
    .assert_error(400, "bad_request");
    assert!(e["message"].as_str().unwrap().contains("not empty"), "{e}");
    assert!(out.path().join("keep").is_file());
    // An empty existing one is fine.
    let empty = out.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let r = post(
        "/admin/backup",
        json!({"dir": empty}).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());

    for body in [
        &b""[..],
        b"{}",
        br#"{"dir": 5}"#,
        br#"{"dir": ""}"#,
        br#"{"dir": "/tmp/x", "dir": "/tmp/y"}"#,
        br#"{"dir": "/tmp/x", "other": 1}"#,
    ] {
        let r = post("/admin/backup", body);
        assert_eq!(
            r.status,
            400,
            "{}: {}",
            String::from_utf8_lossy(body),
            r.text()
        );
    }
    request(s.addr, "GET", "/admin/checkpoint", &[], b"").assert_error(405, "method_not_allowed");
}

#[test]
fn backup_of_an_in_memory_database_is_refused() {
    let s = TestServer::start(ServerOptions::default());
    let out = tempfile::tempdir().unwrap();
    let r = request(
        s.addr,
        "POST",
        "/admin/backup",
        &[],
        json!({"dir": out.path().join("b")}).to_string().as_bytes(),
    );
    r.assert_error(400, "bad_request");
    assert!(!out.path().join("b").exists());
    // Checkpoint and compact are no-ops there.
    let r = request(s.addr, "POST", "/admin/checkpoint", &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn new_routes_need_the_token() {
    let s = TestServer::start(ServerOptions::default().with_auth_token(Some("s3cret".into())));
    let auth = [("Authorization", "Bearer s3cret")];
    for (method, path) in [
        ("GET", "/schema"),
        ("GET", "/schema/t"),
        ("POST", "/admin/checkpoint"),
        ("POST", "/admin/compact"),
        ("POST", "/admin/backup"),
    ] {
        request(s.addr, method, path, &[], b"").assert_error(401, "unauthorized");
        let r = request(s.addr, method, path, &auth, b"");
        assert_ne!(r.status, 401, "{method} {path}");
    }
}

#[test]
fn an_empty_auth_token_is_refused_at_start() {
    let opts = ServerOptions::default().with_auth_token(Some(String::new()));
    let e = opts.validate().unwrap_err();
    assert!(
        e.to_string().contains("auth token must not be empty"),
        "{e}"
    );
    // `serve` refuses to start with it, before accepting anything.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db =
        std::sync::Arc::new(Database::open(dir.path(), fasty_query::Options::memory()).unwrap());
    let err = rt
        .block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            fasty_server::serve(listener, AppState::new(db, opts), std::future::pending()).await
        })
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        err.to_string().contains("auth token must not be empty"),
        "{err}"
    );
    assert!(ServerOptions::default().validate().is_ok());
    let blank = ServerOptions::default().with_auth_token(Some(" \t".into()));
    assert!(blank.validate().is_err());
}

#[test]
fn an_empty_token_lets_nobody_in_through_the_router() {
    // An embedder that skips `serve` (and so validation) still gets no
    // open door: `Bearer ` with nothing after it does not match.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db =
        std::sync::Arc::new(Database::open(dir.path(), fasty_query::Options::memory()).unwrap());
    let state = AppState::new(
        db,
        ServerOptions::default().with_auth_token(Some(String::new())),
    );
    let app = fasty_server::router(state);
    let status = rt.block_on(async {
        use tower_service::Service;
        let req = axum::http::Request::builder()
            .method("GET")
            .uri("/schema")
            .header("Authorization", "Bearer ")
            .body(axum::body::Body::empty())
            .unwrap();
        let mut app = app;
        app.call(req).await.unwrap().status()
    });
    assert_eq!(status, 401);
}
