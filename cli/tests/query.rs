//! `fasty query` and `fasty shell` on a data directory: the printed table,
//! `--json` output, error messages and exit codes, and every command's
//! `--help`.

mod common;

use common::{ok, query_json, run, with_stdin};

fn setup() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("data").to_str().unwrap().to_string();
    std::fs::create_dir(&dir).unwrap();
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
    assert_eq!(lines[3], " 2 | bob   | NULL | NULL");
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
        b"select name\n  from users\n  where id = 1;\n.tables\n.schema users\n.help\n.quit\nselect users;\n",
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("name\n-----\nalice\n1 row ("), "{stdout}");
    assert!(stdout.contains("\nusers\n"), "{stdout}");
    assert!(
        stdout.contains("create table users { id: int, name: string, age: int, meta: json }"),
        "{stdout}"
    );
    assert!(stdout.contains(".schema [TABLE]"), "{stdout}");
    assert!(stdout.contains("docs/language.md"), "{stdout}");
    // `.quit` stops before the last statement.
    assert!(!stdout.contains("2 rows"), "{stdout}");
    assert_eq!(out.status.code(), Some(0));
    // A script is not the user's typing: it stays out of the history.
    assert!(!history.exists());
}

/// `fasty shell --data-dir dir` with `script` on stdin: (status, stdout,
/// stderr).
fn shell(dir: &str, script: &str) -> (Option<i32>, String, String) {
    let out = with_stdin(&["shell", "--data-dir", dir], script.as_bytes());
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn shell_prints_null_apart_from_the_string_null_and_aligns_wide_text() {
    let (_tmp, dir) = setup();
    let (code, out, err) = shell(
        &dir,
        ".timer off\ninsert users { id: 3, name: \"null\" }; insert users { id: 4, name: \"東京\" };\n\
         select id, name from users;\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("id | name\n---+------\n 1 | alice\n 2 | bob\n 3 | null\n 4 | 東京\n4 rows\n"),
        "{out}"
    );
    let (_, out, _) = shell(&dir, ".timer off\nselect age from users where id = 2;");
    assert!(out.contains("age\n----\nNULL\n1 row\n"), "{out}");
}

#[test]
fn shell_splits_statements_at_semicolons_and_knows_quit_words() {
    let (_tmp, dir) = setup();
    let (code, out, err) = shell(
        &dir,
        ".timer off\nupdate users set name = \"a;b\" where id = 1; select name from users where id = 1; -- ; not a statement\n\\q\nselect users;\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("1 row affected\nname\n----\na;b\n1 row\n"),
        "{out}"
    );
    assert!(!out.contains("2 rows"), "{out}");
    for word in ["quit", "exit", "\\q", "quit;", ".quit"] {
        let (code, out, _) = shell(&dir, &format!("{word}\nselect users;\n"));
        assert_eq!(code, Some(0), "{word}");
        assert!(!out.contains("rows"), "{word}: {out}");
    }
}

#[test]
fn shell_transactions_commit_together_and_roll_back_on_exit() {
    let (_tmp, dir) = setup();
    let (code, out, err) = shell(
        &dir,
        ".timer off\nbegin;\ninsert users { id: 3, name: \"carol\" };\n\
         update users set name = \"ann\" where id = 1;\nselect count(*) from users;\ncommit;\n\
         begin; delete users; rollback;\nbegin read only;\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        out.contains("count(*)\n--------\n       3\n1 row\n"),
        "{out}"
    );
    let v = query_json(std::path::Path::new(&dir), "select id, name from users");
    assert_eq!(v["data"].as_array().unwrap().len(), 3, "{v}");
    assert_eq!(v["data"][0]["name"], "ann", "{v}");
    // The shell ended with `begin read only` open: rolled back, said so.
    assert!(
        err.contains("the open transaction was rolled back"),
        "{err}"
    );
    // Writes of a transaction the shell leaves open are dropped.
    let (code, _, err) = shell(&dir, "begin;\ndelete users;\n");
    assert_eq!(code, Some(0), "{err}");
    let v = query_json(std::path::Path::new(&dir), "select count(*) from users");
    assert_eq!(v["data"][0]["count(*)"], 3);
    // Commit without begin fails the script at its line.
    let (code, _, err) = shell(&dir, "select users;\ncommit;\n");
    assert_eq!(code, Some(1));
    assert!(
        err.contains("error: line 2: invalid_transaction_state"),
        "{err}"
    );
}

#[test]
fn a_failing_script_names_its_line_and_stops() {
    let (_tmp, dir) = setup();
    let (code, out, err) = shell(
        &dir,
        "select users;\n\n-- a comment\nselect\n  nope;\ninsert users { id: 9 };\n",
    );
    assert_eq!(code, Some(1));
    assert!(out.contains("2 rows"), "{out}");
    assert!(err.contains("error: line 4: unknown_table"), "{err}");
    // The statement after the failure did not run.
    let v = query_json(std::path::Path::new(&dir), "select count(*) from users");
    assert_eq!(v["data"][0]["count(*)"], 2);
    // A meta command fails the same way.
    let (code, _, err) = shell(&dir, "select users;\n.mode fancy\n");
    assert_eq!(code, Some(1));
    assert!(err.contains("error: line 2: usage: .mode"), "{err}");
}

#[test]
fn shell_modes_timer_read_output_and_describe() {
    let (tmp, dir) = setup();
    let script = tmp.path().join("script.fql");
    std::fs::write(&script, "select id from users where id = 1;\n").unwrap();
    let bad = tmp.path().join("bad.fql");
    std::fs::write(&bad, "select users;\nselect nope;\n").unwrap();
    let result = tmp.path().join("out.txt");
    let input = format!(
        ".timer off\n.mode csv\nselect id, name from users;\n.mode json\nselect id, age from users;\n\
         .mode line\nselect id, name from users where id = 2;\n.mode table\n.read {}\n\
         .output {}\nselect name from users where id = 2;\n.output\ndescribe users;\n",
        script.display(),
        result.display()
    );
    let (code, out, err) = shell(&dir, &input);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("id,name\n1,alice\n2,bob\n"), "{out}");
    assert!(
        out.contains("[{\"id\":1,\"age\":25},{\"id\":2,\"age\":null}]\n"),
        "{out}"
    );
    assert!(out.contains("  id = 2\nname = bob\n"), "{out}");
    assert!(out.contains("id\n--\n 1\n1 row\n"), "{out}");
    assert!(!out.contains("name\n----\nbob"), "{out}");
    assert_eq!(
        std::fs::read_to_string(&result).unwrap(),
        "name\n----\nbob\n1 row\n"
    );
    assert!(
        out.ends_with("column | type\n-------+-------\nid     | int\nname   | string\nage    | int\nmeta   | json\n"),
        "{out}"
    );
    // .read stops at the file's first failure and names file and line.
    let (code, _, err) = shell(&dir, &format!(".read {}\n", bad.display()));
    assert_eq!(code, Some(1));
    assert!(
        err.contains(&format!("{}: line 2: unknown_table", bad.display())),
        "{err}"
    );
}

#[test]
fn read_only_commands_never_create_a_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("data");
    let d = missing.to_str().unwrap();
    for args in [
        vec!["query", "--data-dir", d, "select users"],
        vec!["shell", "--data-dir", d],
        vec!["admin", "stats", "--data-dir", d],
        vec!["admin", "verify", "--data-dir", d],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("data directory {d} does not exist"))
                && err.contains("--data-dir DIR")
                && err.contains("--server URL"),
            "{args:?}: {err}"
        );
        assert!(!missing.exists(), "{args:?} created {d}");
    }
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

/// The interactive path (rustyline on a terminal) through `script`, which
/// gives the shell a pseudo-terminal; skipped where `script` is missing.
#[test]
fn the_interactive_shell_leaves_on_backslash_q_and_keeps_history() {
    let (tmp, dir) = setup();
    let history = tmp.path().join("history");
    let command = format!(
        "{} shell --data-dir {dir} --history {}",
        env!("CARGO_BIN_EXE_fasty"),
        history.display()
    );
    let child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        println!("skipped: no `script` command to give the shell a terminal");
        return;
    };
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(b"select name from users where id = 1; select nope;\n\\q\nselect users;\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stdout.contains("on data directory") && stderr.contains("script:") {
        println!("skipped: `script` cannot make a terminal here: {stderr}");
        return;
    }
    assert!(stdout.contains("on data directory"), "{stdout}\n{stderr}");
    assert!(stdout.contains("alice\n1 row ("), "{stdout}");
    assert!(stdout.contains("unknown_table"), "{stdout}");
    // `\q` left before the last line; a failed statement does not end a session.
    assert!(!stdout.contains("2 rows"), "{stdout}");
    assert!(out.status.success(), "{stdout}");
    let h = std::fs::read_to_string(&history).unwrap();
    assert!(
        h.contains("select name from users where id = 1; select nope;"),
        "{h}"
    );
}
