//! The `fasty` binary against a running `fasty serve`: query, import,
//! shell and stats over HTTP; a backup taken while the server writes; and
//! what survives SIGTERM and kill -9 during an HTTP ingest.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{
    Http, Server, check_batches, fasty, ids, ingest, ok, query_json, run, same_ids, with_stdin,
};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn query_import_shell_and_stats_through_a_server() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let url = server.url.as_str();
    let out = ok(&[
        "query",
        "--server",
        url,
        "create table users { id: int, name: string, tags: json }",
    ]);
    assert!(out.starts_with("ok ("), "{out}");
    ok(&[
        "query",
        "--server",
        url,
        r#"insert users [{ id: 1, name: "alice", tags: ["a"] }, { id: 2 }]"#,
    ]);
    let out = ok(&["query", "--server", url, "select users"]);
    assert!(
        out.starts_with("id | name  | tags\n---+-------+------\n 1 | alice | [\"a\"]\n 2 | NULL  | NULL\n2 rows ("),
        "{out}"
    );
    // --json prints the server's response object as it came.
    let direct = Http::new(url).query("find users where id = 1");
    let printed = ok(&[
        "query",
        "--json",
        "--server",
        url,
        "find users where id = 1",
    ]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&printed).unwrap(),
        direct
    );
    assert_eq!(printed.lines().count(), 1);

    let out = run(&["query", "--server", url, "select users where nme = 1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: unknown_column: ") && err.contains("did you mean"),
        "{err}"
    );
    let out = run(&["query", "--json", "--server", url, "selec"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["error"]["line"].as_u64(), v["error"]["column"].as_u64()),
        (Some(1), Some(1))
    );

    let csv = tmp.path().join("c.csv");
    let mut text = String::from("name,score\n");
    for i in 0..2500 {
        text.push_str(&format!("n{i},{i}.5\n"));
    }
    text.push_str("broken\n");
    std::fs::write(&csv, text).unwrap();
    let out = run(&[
        "import",
        "scores",
        s(&csv),
        "--server",
        url,
        "--create",
        "--batch-size",
        "500",
        "--workers",
        "3",
        "--on-error",
        "skip",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2502"));
    let v = Http::new(url).query("select count(*), max(score) from scores");
    assert_eq!(
        v["data"][0],
        serde_json::json!({ "count(*)": 2500, "max(score)": 2499.5 })
    );

    // Into an existing table, the server's column types convert the fields
    // (a string column of digits stays string; a float column takes "2").
    Http::new(url).query(
        "create table places { id: int, zip: string, area: float, tags: json, note: string }",
    );
    Http::new(url).query(r#"insert places { id: 100, zip: "x", area: 1.5, tags: [1], note: "n" }"#);
    let places = tmp.path().join("p.csv");
    std::fs::write(
        &places,
        "id,zip,area,tags,note\n1,01234,2,\"{\"\"a\"\":1}\",7\n",
    )
    .unwrap();
    ok(&["import", "places", s(&places), "--server", url]);
    let v = Http::new(url).query("find places where id = 1");
    assert_eq!(
        v["data"][0],
        serde_json::json!({ "id": 1, "zip": "01234", "area": 2.0, "tags": { "a": 1 }, "note": "7" })
    );

    let out = with_stdin(
        &[
            "shell",
            "--server",
            url,
            "--history",
            s(&tmp.path().join("h")),
        ],
        b".tables\nselect count(*)\nfrom scores;\n",
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("places\nscores\nusers\n"), "{stdout}");
    assert!(stdout.contains("2500\n1 row ("), "{stdout}");

    let v: serde_json::Value =
        serde_json::from_str(&ok(&["admin", "stats", "--json", "--server", url])).unwrap();
    assert!(v.get("tables").is_some(), "{v}");
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn a_token_is_sent_when_given() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &["--auth-token", "sesame"]);
    let url = server.url.as_str();
    let out = run(&["query", "--server", url, "create table t { id: int }"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("error: "));
    ok(&[
        "query",
        "--server",
        url,
        "--auth-token",
        "sesame",
        "create table t { id: int }",
    ]);
    let out = fasty()
        .args(["query", "--server", url, "select t"])
        .env("FASTY_AUTH_TOKEN", "sesame")
        .output()
        .unwrap();
    assert!(out.status.success());
}

#[test]
fn backup_while_a_server_writes_then_restore() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &[]);
    let http = Http::new(&server.url);
    http.query("create table t { id: int, v: string }");
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (http, stop) = (http.clone(), stop.clone());
        std::thread::spawn(move || ingest(&http, "t", 100, &stop))
    };
    std::thread::sleep(Duration::from_millis(300));
    let during = tmp.path().join("during");
    let out = ok(&["admin", "backup", s(&during), "--data-dir", s(&data)]);
    assert!(out.starts_with("backup of "), "{out}");
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let acked = writer.join().unwrap();
    assert!(acked.len() > 2, "the writer barely wrote: {acked:?}");
    // Quiet now: wait for the async log to catch up (every 50 ms, unless
    // the shared disk makes an fsync slow).
    wait_synced(&http);
    let after = tmp.path().join("after");
    ok(&["admin", "backup", s(&after), "--data-dir", s(&data)]);
    let live = ids(&http.query("select id from t"));
    check_batches(&live, &acked, 100);
    // The server holds the directory: embedded commands are refused, the
    // lock-free verify works.
    let out = run(&["query", "--data-dir", s(&data), "select t"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use"));
    let out = ok(&["admin", "verify", "--data-dir", s(&data)]);
    assert!(out.ends_with("ok\n"), "{out}");
    assert_eq!(server.terminate().code(), Some(0));

    let restored = tmp.path().join("restored");
    ok(&["admin", "restore", s(&after), "--data-dir", s(&restored)]);
    let got = ids(&query_json(&restored, "select id from t"));
    same_ids(&got, &live, "the restored quiet backup");

    let restored = tmp.path().join("restored-during");
    ok(&["admin", "restore", s(&during), "--data-dir", s(&restored)]);
    let then = ids(&query_json(&restored, "select id from t"));
    check_batches(&then, &[], 100);
    assert!(then.len() < live.len(), "{} {}", then.len(), live.len());
    assert!(then.iter().all(|id| live.contains(id)));

    // Restore refuses a non-empty directory.
    let out = run(&["admin", "restore", s(&after), "--data-dir", s(&restored)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not empty"));
}

#[test]
fn sigterm_during_ingest_keeps_every_acknowledged_row() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &[]);
    let http = Http::new(&server.url);
    http.query("create table t { id: int, v: string }");
    let stop = AtomicBool::new(false);
    let writer = {
        let http = http.clone();
        std::thread::spawn(move || ingest(&http, "t", 200, &stop))
    };
    std::thread::sleep(Duration::from_millis(400));
    let status = server.terminate();
    assert_eq!(status.code(), Some(0), "a graceful stop exits 0");
    let acked = writer.join().unwrap();
    assert!(!acked.is_empty());
    let server = Server::start(&data, &[]);
    let present = ids(&Http::new(&server.url).query("select id from t"));
    check_batches(&present, &acked, 200);
    assert_eq!(server.terminate().code(), Some(0));
}

#[test]
fn kill_9_during_durable_ingest_keeps_every_acknowledged_row() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &["--durable"]);
    let http = Http::new(&server.url);
    http.query("create table t { id: int, v: string }");
    // Two writers at once: durable acknowledgements share fsyncs.
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (http, stop) = (http.clone(), stop.clone());
            std::thread::spawn(move || ingest_offset(&http, "t", w, &stop))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(400));
    server.kill();
    let mut acked = Vec::new();
    for w in writers {
        acked.extend(w.join().unwrap());
    }
    assert!(!acked.is_empty());
    let present = ids(&query_json(&data, "select id from t"));
    check_batches(&present, &acked, 50);
}

/// `ingest` for writer `w` of two: batches `w`, `w + 2`, `w + 4`, … so that
/// two writers never collide on a key.
fn ingest_offset(http: &Http, table: &str, w: i64, stop: &AtomicBool) -> Vec<i64> {
    let mut acked = Vec::new();
    let mut k = w;
    while !stop.load(Ordering::Relaxed) {
        let rows: Vec<serde_json::Value> = (k * 50..k * 50 + 50)
            .map(|id| serde_json::json!({ "id": id, "v": "x" }))
            .collect();
        match http.post(&serde_json::json!({ "table": table, "rows": rows })) {
            Ok((200, _)) => acked.push(k),
            _ => break,
        }
        k += 2;
    }
    acked
}

/// Waits until the server's log holds every write it has acknowledged
/// (`/stats`: `wal.durable_seqno` reaches `wal.last_seqno`).
fn wait_synced(http: &Http) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = http.get("/stats").unwrap();
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        let wal = &v["data"]["wal"];
        let (durable, last) = (wal["durable_seqno"].as_u64(), wal["last_seqno"].as_u64());
        if durable.is_some() && durable >= last {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the log never caught up: {wal}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn an_aborted_create_import_on_a_server_drops_its_table() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let url = server.url.as_str();
    let csv = tmp.path().join("q.csv");
    std::fs::write(&csv, "id,name\n1,a\n2,\"unterminated\n3,b\n").unwrap();
    let out = run(&[
        "import",
        "t",
        s(&csv),
        "--server",
        url,
        "--create",
        "--batch-size",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3: the quote opening field 2 never closes"),
        "{err}"
    );
    assert!(
        err.contains("table t (created by this import) dropped"),
        "{err}"
    );
    let (status, body) = Http::new(url)
        .post(&serde_json::json!({ "query": "select t" }))
        .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown_table"), "{body}");
}

#[test]
fn shell_and_admin_check_the_server_first() {
    for args in [
        vec!["shell", "--server", "http://127.0.0.1:1"],
        vec!["admin", "checkpoint", "--server", "http://127.0.0.1:1"],
    ] {
        // No stdin: the command stops before reading it.
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("cannot reach the server at http://127.0.0.1:1")
                && err.contains("is `fasty serve` running there?"),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

/// A stand-in server answering the schema and admin routes with the
/// shapes of docs/http.md, recording each request as `METHOD path body`.
struct FakeServer {
    url: String,
    requests: Arc<std::sync::Mutex<Vec<String>>>,
}

impl FakeServer {
    fn start() -> FakeServer {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = requests.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { return };
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    continue;
                }
                let mut length = 0;
                loop {
                    let mut h = String::new();
                    reader.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).unwrap();
                let mut words = first.split_whitespace();
                let method = words.next().unwrap_or_default().to_string();
                let path = words.next().unwrap_or_default().to_string();
                let body = String::from_utf8(body).unwrap();
                log.lock()
                    .unwrap()
                    .push(format!("{method} {path} {body}").trim_end().to_string());
                let users = r#"{"name":"users","columns":[{"name":"id","type":"int"},{"name":"name","type":"string"}],"indexes":[{"name":"idx_name","columns":["name"]}]}"#;
                let (status, reply) = match (method.as_str(), path.as_str()) {
                    ("GET", "/health") => (200, r#"{"success":true,"data":"ok"}"#.to_string()),
                    ("GET", "/schema") => (
                        200,
                        format!(
                            r#"{{"success":true,"data":[{{"name":"a","columns":[{{"name":"id","type":"int"}}],"indexes":[]}},{users}]}}"#
                        ),
                    ),
                    ("GET", "/schema/users") => (200, format!(r#"{{"success":true,"data":{users}}}"#)),
                    ("GET", p) if p.starts_with("/schema/") => (
                        404,
                        r#"{"success":false,"error":{"code":"unknown_table","message":"unknown table \"x\""}}"#
                            .to_string(),
                    ),
                    ("POST", "/admin/checkpoint" | "/admin/compact") => {
                        (200, r#"{"success":true}"#.to_string())
                    }
                    ("POST", "/admin/backup") => (
                        200,
                        r#"{"success":true,"data":{"files":3,"bytes":4096}}"#.to_string(),
                    ),
                    _ => (404, r#"{"success":false,"error":{"code":"not_found","message":"no route"}}"#.to_string()),
                };
                let _ = write!(
                    conn,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                    reply.len()
                );
            }
        });
        FakeServer { url, requests }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

#[test]
fn schema_and_admin_use_the_routes_of_the_spec() {
    let fake = FakeServer::start();
    let url = fake.url.as_str();
    let out = with_stdin(
        &["shell", "--server", url],
        b".schema\n.schema users\ndescribe users;\ndescribe x;\n",
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stdout,
        "create table a { id: int }\n\
         create table users { id: int, name: string }\n  index idx_name (name)\n\
         create table users { id: int, name: string }\n  index idx_name (name)\n\
         column | type\n-------+-------\nid     | int\nname   | string\n  index idx_name (name)\n",
        "{stderr}"
    );
    assert!(stderr.contains("error: line 4: unknown_table"), "{stderr}");
    assert_eq!(out.status.code(), Some(1));

    let backup = tempfile::tempdir().unwrap();
    let dest = backup.path().join("b");
    assert_eq!(
        ok(&["admin", "checkpoint", "--server", url]),
        format!("checkpoint done on the server at {url}\n")
    );
    assert_eq!(
        ok(&["admin", "compact", "--server", url]),
        format!("compaction done on the server at {url}\n")
    );
    let out = ok(&["admin", "backup", s(&dest), "--server", url]);
    assert!(out.contains("3 file(s), 4096 byte(s)"), "{out}");
    let seen: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| !r.starts_with("GET /health"))
        .collect();
    assert_eq!(
        seen,
        vec![
            "GET /schema".to_string(),
            "GET /schema/users".to_string(),
            "GET /schema/users".to_string(),
            "GET /schema/x".to_string(),
            "POST /admin/checkpoint {}".to_string(),
            "POST /admin/compact {}".to_string(),
            format!(
                "POST /admin/backup {}",
                serde_json::json!({ "dir": s(&dest) })
            ),
        ]
    );
}

#[test]
fn schema_and_describe_through_a_server() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let url = server.url.as_str();
    let http = Http::new(url);
    http.query("create table users { id: int, email: string }");
    http.query("create index idx_email on users (email)");
    let out = with_stdin(&["shell", "--server", url], b".schema\ndescribe users;\n");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with(
            "create table users { id: int, email: string }\n  index idx_email (email)\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("email  | string\n"), "{stdout}");
}

#[test]
fn admin_checkpoint_compact_and_backup_through_a_server() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Server::start(&tmp.path().join("data"), &[]);
    let url = server.url.as_str();
    let http = Http::new(url);
    http.query("create table t { id: int }");
    http.query("insert t [{ id: 1 }, { id: 2 }]");
    assert!(ok(&["admin", "checkpoint", "--server", url]).starts_with("checkpoint done"));
    assert!(ok(&["admin", "compact", "--server", url]).starts_with("compaction done"));
    let dest = tmp.path().join("backup");
    ok(&["admin", "backup", s(&dest), "--server", url]);
    // A second backup into the same, now non-empty, directory is refused.
    let out = run(&["admin", "backup", s(&dest), "--server", url]);
    assert_eq!(out.status.code(), Some(1));
    let restored = tmp.path().join("restored");
    ok(&["admin", "restore", s(&dest), "--data-dir", s(&restored)]);
    assert_eq!(ids(&query_json(&restored, "select id from t")), vec![1, 2]);
}

#[test]
fn serve_logs_plain_text_naming_what_it_serves() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let log = tmp.path().join("serve.log");
    let port = common::free_port();
    let mut child = fasty()
        .args(["serve", "--data-dir", s(&data), "--durable"])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "info")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let http = Http::new(&format!("http://127.0.0.1:{port}"));
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !matches!(http.get("/health"), Ok((200, _))) {
        assert!(
            std::time::Instant::now() < deadline,
            "the server did not come up"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains('\u{1b}'),
        "colour codes in a log file: {text:?}"
    );
    let start = text
        .lines()
        .find(|l| l.contains("listening"))
        .unwrap_or_else(|| panic!("no start line: {text}"));
    for part in [
        format!("addr=127.0.0.1:{port}"),
        format!("data_dir={:?}", data.display().to_string()),
        "durability=\"durable\"".to_string(),
        "auth=off".to_string(),
    ] {
        assert!(start.contains(&part), "{part} missing from {start}");
    }
}

#[test]
fn serve_refuses_contradicting_options() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = common::run_exiting(
        &[
            "serve",
            "--memory",
            "--data-dir",
            s(&data),
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--memory keeps nothing on disk"), "{err}");
    assert!(!data.exists());
    // An empty token is no token: refused on a public address.
    for token in [vec!["--auth-token", ""], vec!["--auth-token", "  "]] {
        let mut args = vec!["serve", "--memory", "--listen", "0.0.0.0:0"];
        args.extend_from_slice(&token);
        let out = common::run_exiting(&args, &[]);
        assert_eq!(out.status.code(), Some(1), "{token:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("with an empty --auth-token"),
            "{token:?}: {err}"
        );
    }
    let out = common::run_exiting(
        &["serve", "--memory", "--listen", "0.0.0.0:0"],
        &[("FASTY_AUTH_TOKEN", "")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("with an empty --auth-token"));
}

#[test]
fn a_data_directory_held_by_a_server_points_to_server() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let _server = Server::start(&data, &[]);
    for args in [
        vec!["admin", "checkpoint", "--data-dir", s(&data)],
        vec!["query", "--data-dir", s(&data), "select t"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("in use") && err.contains("pass --server URL instead of --data-dir"),
            "{args:?}: {err}"
        );
    }
}

/// Async mode's promise, measured from the client: a kill -9 loses at
/// most the writes of the last sync interval. Every batch acknowledged
/// more than the interval (50 ms) plus a generous margin for a loaded
/// machine (1 s) before the kill is there after a restart, and batches are
/// whole or absent. (A kill -9 leaves the operating system's page cache,
/// so this checks that the log writer hands acknowledged records to the
/// system in time; what a power cut loses is the wal crate's model tests'
/// business.)
#[test]
fn kill_9_in_async_mode_loses_at_most_the_last_sync_interval() {
    const INTERVAL: Duration = Duration::from_millis(50);
    const MARGIN: Duration = Duration::from_secs(1);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let server = Server::start(&data, &["--sync-interval-ms", "50"]);
    let http = Http::new(&server.url);
    http.query("create table t { id: int, v: string }");
    let writer = {
        let http = http.clone();
        std::thread::spawn(move || {
            let mut acked = Vec::new();
            for k in 0i64.. {
                let rows: Vec<serde_json::Value> = (k * 10..k * 10 + 10)
                    .map(|id| serde_json::json!({ "id": id, "v": "x" }))
                    .collect();
                match http.post(&serde_json::json!({ "table": "t", "rows": rows })) {
                    Ok((200, _)) => acked.push((k, std::time::Instant::now())),
                    _ => break,
                }
            }
            acked
        })
    };
    std::thread::sleep(Duration::from_millis(2500));
    let killed_at = std::time::Instant::now();
    server.kill();
    let acked = writer.join().unwrap();
    let old_enough: Vec<i64> = acked
        .iter()
        .filter(|(_, at)| *at + INTERVAL + MARGIN < killed_at)
        .map(|(k, _)| *k)
        .collect();
    assert!(
        !old_enough.is_empty(),
        "no batch was acknowledged early enough to check"
    );
    let present = ids(&query_json(&data, "select id from t"));
    check_batches(&present, &old_enough, 10);
}
