//! `fasty admin` on a data directory: stats, checkpoint, compact, verify
//! and repair of a corrupt log, and the refusal of the commands a server
//! cannot do.

mod common;

use std::path::Path;

use common::{Http, Server, ok, query_json, run};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn filled(dir: &Path) {
    let d = s(dir);
    std::fs::create_dir_all(dir).unwrap();
    ok(&[
        "query",
        "--data-dir",
        d,
        "create table t { id: int, v: string }",
    ]);
    for k in 0..4 {
        let rows: Vec<String> = (k * 50..k * 50 + 50)
            .map(|i| format!("{{ id: {i}, v: \"row {i}\" }}"))
            .collect();
        ok(&[
            "query",
            "--data-dir",
            d,
            &format!("insert t [{}]", rows.join(", ")),
        ]);
    }
    ok(&["query", "--data-dir", d, "delete t where id < 100"]);
}

#[test]
fn stats_checkpoint_and_compact_on_a_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    filled(&data);
    let d = s(&data);
    let out = ok(&["admin", "stats", "--data-dir", d]);
    assert!(out.contains("tables:\n  t:\n"), "{out}");
    assert!(out.contains("rows: 100"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&ok(&["admin", "stats", "--json", "--data-dir", d])).unwrap();
    assert_eq!(v["tables"]["t"]["rows"], 100);
    assert!(v["storage"]["levels"].is_array(), "{v}");

    let out = ok(&["admin", "checkpoint", "--data-dir", d]);
    assert!(out.starts_with("checkpoint done"), "{out}");
    let out = ok(&["admin", "compact", "--data-dir", d]);
    assert_eq!(out, "compaction done: 1 table file(s)\n");
    let v = query_json(&data, "select count(*), min(id) from t");
    assert_eq!(
        v["data"][0],
        serde_json::json!({ "count(*)": 100, "min(id)": 100 })
    );

    // No database there: a clear error, and nothing created.
    let missing = tmp.path().join("missing");
    for cmd in ["checkpoint", "verify", "repair", "stats"] {
        let out = run(&["admin", cmd, "--data-dir", s(&missing)]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("does not exist") && err.contains("--server URL"),
            "{err}"
        );
    }
    assert!(!missing.exists());
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = run(&["admin", "compact", "--data-dir", s(&empty)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no database"));
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
}

#[test]
fn verify_finds_corruption_and_repair_cuts_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // A log with records in it: durable writes, then a crash.
    let server = Server::start(&data, &["--durable"]);
    let http = Http::new(&server.url);
    http.query("create table t { id: int }");
    for i in 0..20 {
        http.query(&format!("insert t {{ id: {i} }}"));
    }
    server.kill();
    let out = ok(&["admin", "verify", "--data-dir", s(&data)]);
    assert!(out.contains("record(s)") && out.ends_with("ok\n"), "{out}");

    // Flip a byte in the middle of the log.
    let wal = data.join("wal");
    let mut segments: Vec<_> = std::fs::read_dir(&wal)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "log") && std::fs::metadata(p).unwrap().len() > 16
        })
        .collect();
    segments.sort();
    let seg = &segments[0];
    let mut bytes = std::fs::read(seg).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x40;
    std::fs::write(seg, &bytes).unwrap();

    let out = run(&["admin", "verify", "--data-dir", s(&data)]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("corruption in") && stdout.contains("at offset"),
        "{stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("fasty admin repair"));
    let out = run(&["query", "--data-dir", s(&data), "select count(*) from t"]);
    assert_eq!(out.status.code(), Some(1), "a corrupt log must not open");

    let out = ok(&["admin", "repair", "--data-dir", s(&data)]);
    assert!(out.starts_with("cut the log at corruption in"), "{out}");
    let v = query_json(&data, "select count(*) from t");
    let n = v["data"][0]["count(*)"].as_i64().unwrap();
    assert!(n < 20, "rows after the cut are gone: {v}");
    let out = ok(&["admin", "verify", "--data-dir", s(&data)]);
    assert!(out.ends_with("ok\n"), "{out}");
}

#[test]
fn verify_and_repair_need_the_data_directory() {
    for cmd in ["verify", "repair"] {
        let out = run(&["admin", cmd, "--server", "http://127.0.0.1:1"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("admin {cmd} works on a data directory only")),
            "{err}"
        );
    }
    for cmd in ["stats", "checkpoint", "compact"] {
        let out = run(&["admin", cmd, "--server", "http://127.0.0.1:1"]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("cannot reach the server"), "{err}");
    }
}

/// A reader that closes the pipe early (`fasty admin stats | head -1`)
/// ends the output quietly: no panic, exit status 0.
#[test]
fn a_closed_stdout_is_not_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    filled(&data);
    // The read end is gone before the command writes a byte, so every
    // write of it fails with a broken pipe.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fasty"))
        .args(["admin", "stats", "--data-dir", s(&data)])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
}

#[test]
fn verify_checks_every_index_against_its_table() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    filled(&data);
    let d = s(&data);
    ok(&["query", "--data-dir", d, "create index t_v on t (v)"]);
    let out = ok(&["admin", "verify", "--data-dir", d]);
    assert!(out.contains("rows and indexes: "), "{out}");
    assert!(out.contains("no problems"), "{out}");

    // One more row brings two keys: the row's and its index entry's.
    // Removing either behind the query layer's back leaves the index out
    // of step with the table (an entry missing, or one dangling).
    let keys = |db: &fasty_query::Database| -> std::collections::BTreeSet<Vec<u8>> {
        db.kv().scan(..).map(|kv| kv.unwrap().0.to_vec()).collect()
    };
    {
        let db = fasty_query::Database::open(&data, fasty_query::Options::default()).unwrap();
        let before = keys(&db);
        db.execute(r#"insert t { id: 1000, v: "late" }"#).unwrap();
        let added: Vec<Vec<u8>> = keys(&db).difference(&before).cloned().collect();
        assert_eq!(added.len(), 2, "a row and its index entry");
        let mut batch = fasty_wal::WriteBatch::new();
        batch.delete(&added[0]);
        db.kv().write(batch).unwrap();
        db.close().unwrap();
    }
    let out = run(&["admin", "verify", "--data-dir", d]);
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("1 problem(s)"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("do not agree"), "{stderr}");
}
