//! `fasty query` and `fasty shell` on a data directory: the printed table,
//! `--json` output, error messages and exit codes, and every command's
//! `--help`.

mod common;

use common::{ok, query_json, run, with_stdin};

fn setup() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data").to_str().unwrap().to_string();
    ok(&[
        "query",
        "--data-dir",
        &dir,
        "create table users { id: int, name: string, age: int, meta: json }",
    ]);
    ok(&[
        "query",
        "--data-dir",
        &dir,
        r#"insert users [{ id: 1, name: "alice", age: 25, meta: { level: 5 } }, { id: 2, name: "bob" }]"#,
    ]);
    (tmp, dir)
}

#[test]
fn prints_an_aligned_table_with_row_count_and_time() {
    let (_tmp, dir) = setup();
    let out = ok(&["query", "--data-dir", &dir, "select users"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "id | name  | age  | meta");
    assert_eq!(lines[1], "---+-------+------+------------");
    assert_eq!(lines[2], " 1 | alice |   25 | {\"level\":5}");
    assert_eq!(lines[3], " 2 | bob   | null | null");
    assert!(
        lines[4].starts_with("2 rows (") && lines[4].ends_with("ms)"),
        "{out}"
    );
    let out = ok(&[
        "query",
        "--data-dir",
        &dir,
        "update users set age = 1 where id = 2",
    ]);
    assert!(out.starts_with("1 row affected ("), "{out}");
    let out = ok(&[
        "query",
        "--data-dir",
        &dir,
        "explain find users where id = 1",
    ]);
    assert!(out.contains("primary-key lookup"), "{out}");
}

#[test]
fn json_prints_exactly_the_response_object() {
    let (_tmp, dir) = setup();
    let out = ok(&[
        "query",
        "--json",
        "--data-dir",
        &dir,
        "select name, age from users",
    ]);
    assert_eq!(
        out,
        "{\"success\":true,\"data\":[{\"name\":\"alice\",\"age\":25},{\"name\":\"bob\",\"age\":null}],\"rows\":2}\n"
    );
    let v = query_json(dir.as_ref(), "find users where meta.level > 3");
    assert_eq!(v["data"][0]["meta"], serde_json::json!({ "level": 5 }));
    let v = query_json(dir.as_ref(), "delete users where id = 2");
    assert_eq!(v, serde_json::json!({ "success": true, "affected": 1 }));
    let v = query_json(dir.as_ref(), "create index idx_name on users (name)");
    assert_eq!(v, serde_json::json!({ "success": true }));
    let v = query_json(dir.as_ref(), "explain find users where name = \"a\"");
    assert!(v["plan"].as_str().unwrap().contains("idx_name"), "{v}");
}

#[test]
fn errors_give_code_position_and_hint_and_exit_1() {
    let (_tmp, dir) = setup();
    let out = run(&["query", "--data-dir", &dir, "selec * from users"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("error: syntax_error at 1:1: "), "{err}");
    assert!(err.contains("did you mean \"select\"?"), "{err}");

    let out = run(&[
        "query",
        "--json",
        "--data-dir",
        &dir,
        "select nam from users",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["success"], false);
    assert_eq!(v["error"]["code"], "unknown_column");
    assert!(v["error"]["hint"].as_str().unwrap().contains("name"), "{v}");

    let out = run(&["query", "--json", "--data-dir", &dir, "select users\nwhere"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["line"], 2, "{v}");
    assert!(v["error"]["column"].is_u64(), "{v}");

    let out = run(&["query", "--data-dir", &dir, "insert users { id: 1 }"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("duplicate_key"));
    // A usage error is clap's exit status 2.
    assert_eq!(run(&["query"]).status.code(), Some(2));
}

#[test]
fn shell_runs_multi_line_statements_and_meta_commands() {
    let (tmp, dir) = setup();
    let history = tmp.path().join("history");
    let out = with_stdin(
        &["shell", "--data-dir", &dir, "--history", history.to_str().unwrap()],
        b"select name\n  from users\n  where id = 1;\n.tables\n.schema users\n.help\nselect nope;\n.quit\nselect users;\n",
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stdout.contains("name\n-----\nalice\n1 row ("), "{stdout}");
    assert!(stdout.contains("\nusers\n"), "{stdout}");
    assert!(
        stdout.contains("create table users { id: int, name: string, age: int, meta: json }"),
        "{stdout}"
    );
    assert!(stdout.contains(".schema TABLE"), "{stdout}");
    assert!(stderr.contains("unknown_table"), "{stderr}");
    // `.quit` stops before the last statement; the failed one sets the status.
    assert!(!stdout.contains("2 rows"), "{stdout}");
    assert_eq!(out.status.code(), Some(1));
    let h = std::fs::read_to_string(&history).unwrap();
    assert!(h.contains("where id = 1;"), "{h}");
}

#[test]
fn every_command_explains_itself_with_an_example() {
    for cmd in [
        vec!["serve"],
        vec!["query"],
        vec!["shell"],
        vec!["import"],
        vec!["admin"],
        vec!["admin", "stats"],
        vec!["admin", "backup"],
        vec!["admin", "restore"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let out = ok(&args);
        assert!(out.contains("Example"), "fasty {cmd:?} --help: {out}");
    }
}

#[test]
fn serve_refuses_a_public_address_without_a_token() {
    let out = run(&["serve", "--memory", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refusing to listen on 0.0.0.0:0"), "{err}");
    assert!(err.contains("--insecure"), "{err}");
}
