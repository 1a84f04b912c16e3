//! `fasty import` on a data directory: type inference with `--create`,
//! the primary key, malformed rows with their line numbers (skipped or
//! aborting), batch atomicity and parallel workers.

mod common;

use std::path::{Path, PathBuf};

use common::{ids, ok, query_json, run};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn create_infers_types_and_numbers_the_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let csv = write(
        tmp.path(),
        "people.csv",
        "name,age,score,active,zip\nalice,30,1.5,true,01234\nbob,,2,FALSE,\n\"carl, jr\",7,-3e2,true,99\n",
    );
    let out = ok(&[
        "import",
        "people",
        s(&csv),
        "--data-dir",
        s(&data),
        "--create",
    ]);
    assert!(out.starts_with("3 rows imported into people in "), "{out}");
    assert!(out.trim_end().ends_with("0 skipped"), "{out}");
    let v = query_json(&data, "select people");
    assert_eq!(
        v["data"],
        serde_json::json!([
            { "id": 1, "name": "alice", "age": 30, "score": 1.5, "active": true, "zip": 1234 },
            { "id": 2, "name": "bob", "age": null, "score": 2.0, "active": false, "zip": null },
            { "id": 3, "name": "carl, jr", "age": 7, "score": -300.0, "active": true, "zip": 99 },
        ])
    );
    // The types are the table's: a float column takes floats, an int one refuses them.
    let out = run(&[
        "query",
        "--data-dir",
        s(&data),
        "insert people { id: 9, age: 1.5 }",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("type_mismatch"));
}

#[test]
fn create_takes_an_id_column_as_primary_key() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let csv = write(tmp.path(), "t.csv", "city,id\nNYC,10\nLA,-4\n");
    ok(&["import", "t", s(&csv), "--data-dir", s(&data), "--create"]);
    let v = query_json(&data, "select id, city from t");
    assert_eq!(
        v["data"],
        serde_json::json!([{ "id": -4, "city": "LA" }, { "id": 10, "city": "NYC" }])
    );
    // An id that is not an int cannot be the primary key.
    let csv = write(tmp.path(), "u.csv", "id,x\na,1\n");
    let out = run(&["import", "u", s(&csv), "--data-dir", s(&data), "--create"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("primary key must be int"));
}

/// Records on lines 2..=11, ids 1..=10; line 9 (id 8) has a field too many.
fn with_bad_row(dir: &Path) -> PathBuf {
    let mut text = String::from("id,v\n");
    for id in 1..=10 {
        if id == 8 {
            text.push_str("8,x,extra\n");
        } else {
            text.push_str(&format!("{id},r{id}\n"));
        }
    }
    write(dir, "bad.csv", &text)
}

/// An empty database in `dir` with a table `t { id: int, v: string }`.
fn table_t(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    ok(&[
        "query",
        "--data-dir",
        s(dir),
        "create table t { id: int, v: string }",
    ]);
}

#[test]
fn a_bad_row_aborts_its_batch_and_all_later_ones() {
    for workers in ["1", "3"] {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        table_t(&data);
        let csv = with_bad_row(tmp.path());
        let out = run(&[
            "import",
            "t",
            s(&csv),
            "--data-dir",
            s(&data),
            "--batch-size",
            "3",
            "--workers",
            workers,
        ]);
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains("line 9: expected 2 fields, found 3"), "{err}");
        assert!(err.contains("6 rows imported"), "{err}");
        // Batches [1-3] and [4-6] are in; [7-9], holding line 9, and [10] are not.
        let v = query_json(&data, "select id from t");
        assert_eq!(ids(&v), vec![1, 2, 3, 4, 5, 6], "workers {workers}");
    }
}

#[test]
fn a_bad_row_is_skipped_with_its_line_number() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let csv = with_bad_row(tmp.path());
    let out = run(&[
        "import",
        "t",
        s(&csv),
        "--data-dir",
        s(&data),
        "--create",
        "--batch-size",
        "3",
        "--on-error",
        "skip",
    ]);
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("skipped line 9: expected 2 fields, found 3"),
        "{err}"
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("9 rows imported") && stdout.contains("1 skipped"),
        "{stdout}"
    );
    let v = query_json(&data, "select id from t");
    assert_eq!(ids(&v), vec![1, 2, 3, 4, 5, 6, 7, 9, 10]);
}

#[test]
fn a_value_of_the_wrong_type_is_a_bad_row() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    // Types are inferred from the first two rows only; line 5 then breaks them.
    let csv = write(
        tmp.path(),
        "t.csv",
        "n,flag\n1,true\n2,false\n3,true\nfour,true\n5,maybe\n",
    );
    let out = run(&[
        "import",
        "t",
        s(&csv),
        "--data-dir",
        s(&data),
        "--create",
        "--infer-rows",
        "2",
        "--on-error",
        "skip",
    ]);
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("line 5: column n: \"four\" is not an int"),
        "{err}"
    );
    assert!(
        err.contains("line 6: column flag: \"maybe\" is not a bool"),
        "{err}"
    );
    let v = query_json(&data, "select n from t");
    assert_eq!(v["rows"], 3);
}

#[test]
fn a_failing_batch_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let d = s(&data);
    std::fs::create_dir(&data).unwrap();
    ok(&[
        "query",
        "--data-dir",
        d,
        "create table t { id: int, v: string }",
    ]);
    ok(&["query", "--data-dir", d, "insert t { id: 5, v: \"old\" }"]);
    let mut text = String::from("id,v\n");
    for id in 1..=9 {
        text.push_str(&format!("{id},{id}\n")); // v stays a string: the table says so
    }
    let csv = write(tmp.path(), "t.csv", &text);
    let out = run(&[
        "import",
        "t",
        s(&csv),
        "--data-dir",
        d,
        "--batch-size",
        "3",
        "--workers",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("lines 5-7") && err.contains("duplicate_key"),
        "{err}"
    );
    let v = query_json(&data, "select t");
    assert_eq!(
        v["data"],
        serde_json::json!([
            { "id": 1, "v": "1" }, { "id": 2, "v": "2" }, { "id": 3, "v": "3" },
            { "id": 5, "v": "old" },
        ])
    );
    // --upsert replaces instead.
    ok(&["import", "t", s(&csv), "--data-dir", d, "--upsert"]);
    assert_eq!(
        query_json(&data, "select count(*) from t")["data"][0]["count(*)"],
        9
    );
}

#[test]
fn parallel_workers_import_every_row() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let mut text = String::from("name,amount\n");
    for i in 0..20_000 {
        text.push_str(&format!("user{i},{}.25\n", i % 100));
    }
    let csv = write(tmp.path(), "big.csv", &text);
    let out = ok(&[
        "import",
        "big",
        s(&csv),
        "--data-dir",
        s(&data),
        "--create",
        "--batch-size",
        "1000",
        "--workers",
        "4",
    ]);
    assert!(out.starts_with("20000 rows imported"), "{out}");
    let v = query_json(&data, "select count(*), sum(amount), max(id) from big");
    assert_eq!(v["data"][0]["count(*)"], 20_000);
    assert_eq!(v["data"][0]["max(id)"], 20_000);
    assert_eq!(
        v["data"][0]["sum(amount)"],
        200.0 * 4950.0 + 20_000.0 * 0.25
    );
}

#[test]
fn a_missing_file_or_an_existing_table_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let out = run(&[
        "import",
        "t",
        s(&tmp.path().join("no.csv")),
        "--data-dir",
        s(&data),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
    let csv = write(tmp.path(), "t.csv", "a\n1\n");
    ok(&["import", "t", s(&csv), "--data-dir", s(&data), "--create"]);
    let out = run(&["import", "t", s(&csv), "--data-dir", s(&data), "--create"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("table_exists"));
    // A table that was there before is not this import's to drop.
    assert!(!String::from_utf8_lossy(&out.stderr).contains("dropped"));
    assert_eq!(
        query_json(&data, "select count(*) from t")["data"][0]["count(*)"],
        1
    );
    // Without --create, a header column the table lacks is named.
    let csv = write(tmp.path(), "u.csv", "a,b\n1,2\n");
    let out = run(&["import", "t", s(&csv), "--data-dir", s(&data)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("table t has no column \"b\""));
}

/// `fasty import args…` on `csv` into `data`; (status, stdout, stderr).
fn import(data: &Path, csv: &Path, table: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["import", table, s(csv), "--data-dir", s(data)];
    args.extend_from_slice(extra);
    let out = run(&args);
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Whether `table` exists in `data`.
fn has_table(data: &Path, table: &str) -> bool {
    let out = run(&[
        "query",
        "--json",
        "--data-dir",
        s(data),
        &format!("select count(*) from {table}"),
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    match v["success"].as_bool() {
        Some(true) => true,
        _ => {
            assert_eq!(v["error"]["code"], "unknown_table", "{v}");
            false
        }
    }
}

#[test]
fn an_unterminated_quote_is_an_error_not_one_long_field() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let csv = write(tmp.path(), "q.csv", "id,name\n1,\"unterminated\n2,b\n");
    let (code, stdout, err) = import(&data, &csv, "t", &["--create"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        err.contains("line 2: the quote opening field 2 never closes"),
        "{err}"
    );
    // The table this import created is gone again.
    assert!(
        err.contains("table t (created by this import) dropped"),
        "{err}"
    );
    assert!(!has_table(&data, "t"));
    // Skipping loses that line only: reading resumes on the next one.
    let (code, stdout, err) = import(&data, &csv, "t", &["--create", "--on-error", "skip"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("skipped line 2: the quote opening"), "{err}");
    assert!(stdout.starts_with("1 rows imported") && stdout.contains("1 skipped"));
    assert_eq!(
        query_json(&data, "select t")["data"],
        serde_json::json!([{ "id": 2, "name": "b" }])
    );
}

#[test]
fn an_aborted_create_import_leaves_no_table() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let csv = with_bad_row(tmp.path());
    // Two batches are in before line 9 stops the import; the table goes anyway.
    let (code, _, err) = import(&data, &csv, "t", &["--create", "--batch-size", "3"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("line 9: expected 2 fields, found 3"), "{err}");
    assert!(err.contains("dropped"), "{err}");
    assert!(!has_table(&data, "t"));
    // A table that existed before stays, with the batches before the bad row.
    table_t(&data);
    let (code, _, err) = import(&data, &csv, "t", &["--batch-size", "3"]);
    assert_eq!(code, Some(1));
    assert!(!err.contains("dropped"), "{err}");
    assert_eq!(
        ids(&query_json(&data, "select id from t")),
        vec![1, 2, 3, 4, 5, 6]
    );
}

#[test]
fn invalid_utf8_and_values_that_do_not_fit_are_errors_with_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    table_t(&data);
    let csv = tmp.path().join("latin1.csv");
    std::fs::write(&csv, b"id,v\n1,ok\n2,caf\xE9\n").unwrap();
    let (code, _, err) = import(&data, &csv, "t", &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("line 3: field 2 is not valid utf-8"), "{err}");
    let csv = write(
        tmp.path(),
        "big.csv",
        "id,v\n99999999999999999999,x\n\"\"\"1\",y\n",
    );
    let (code, _, err) = import(&data, &csv, "t", &["--on-error", "skip"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("line 2: column id: \"99999999999999999999\" does not fit an int"),
        "{err}"
    );
    assert!(
        err.contains("line 3: column id: \"\\\"1\" is not an int"),
        "{err}"
    );
    // Text after a closing quote is not glued onto the field.
    let csv = write(tmp.path(), "after.csv", "id,v\n7,\"a\"b\n");
    let (code, _, err) = import(&data, &csv, "t", &[]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("line 2: field 2 has text after its closing quote"),
        "{err}"
    );
    assert_eq!(
        query_json(&data, "select count(*) from t")["data"][0]["count(*)"],
        0
    );
}

#[test]
fn a_wrong_guess_names_the_option_that_fixes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let csv = write(tmp.path(), "ages.csv", "age\n1\n2\n3.5\n");
    let (code, _, err) = import(&data, &csv, "p", &["--create", "--infer-rows", "2"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains(
            "line 4: column age: \"3.5\" is not an int (column age was guessed int from the \
             first 2 rows; create the table yourself or pass a larger --infer-rows)"
        ),
        "{err}"
    );
    let (code, _, err) = import(&data, &csv, "p", &["--create", "--infer-rows", "3"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        query_json(&data, "select max(age) from p")["data"][0]["max(age)"],
        3.5
    );
}

#[test]
fn delimiter_quote_null_and_no_header() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let csv = write(tmp.path(), "x.txt", "1;'a;b';NULL\n2;'';x\n3;;'NULL'\n");
    let (code, _, err) = import(
        &data,
        &csv,
        "x",
        &[
            "--create",
            "--no-header",
            "--delimiter",
            ";",
            "--quote",
            "'",
            "--null",
            "NULL",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    // No header: columns column1…; no id column: rows numbered.
    assert_eq!(
        query_json(&data, "select x")["data"],
        serde_json::json!([
            { "id": 1, "column1": 1, "column2": "a;b", "column3": null },
            { "id": 2, "column1": 2, "column2": "", "column3": "x" },
            { "id": 3, "column1": 3, "column2": "", "column3": "NULL" },
        ])
    );
    let tsv = write(tmp.path(), "y.tsv", "id\tname\n1\tann\n");
    let (code, _, err) = import(&data, &tsv, "y", &["--create", "--delimiter", "tab"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        query_json(&data, "select y")["data"],
        serde_json::json!([{ "id": 1, "name": "ann" }])
    );
    let (code, _, err) = import(&data, &tsv, "z", &["--delimiter", "ab"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("--delimiter takes one ASCII character"),
        "{err}"
    );
}

#[test]
fn an_unquoted_empty_field_is_null_and_a_quoted_one_an_empty_string() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let csv = write(tmp.path(), "e.csv", "id,s,n\n1,,5\n2,\"\",\"\"\n");
    let (code, _, err) = import(&data, &csv, "e", &["--create"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        query_json(&data, "select e")["data"],
        serde_json::json!([
            { "id": 1, "s": null, "n": 5 },
            { "id": 2, "s": "", "n": null },
        ])
    );
}

#[test]
fn headers_that_are_not_identifiers_are_mapped_and_the_mapping_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let csv = write(
        tmp.path(),
        "h.csv",
        "first name,Total ($),2nd,id\nann,3,x,1\n",
    );
    let (code, _, err) = import(&data, &csv, "h", &["--create"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("header \"first name\" is column first_name"),
        "{err}"
    );
    assert!(
        err.contains("header \"Total ($)\" is column Total"),
        "{err}"
    );
    assert!(err.contains("header \"2nd\" is column _2nd"), "{err}");
    assert_eq!(
        query_json(&data, "select h")["data"],
        serde_json::json!([{ "id": 1, "first_name": "ann", "Total": 3, "_2nd": "x" }])
    );
    // The same mapping finds the columns of an existing table.
    let csv = write(tmp.path(), "h2.csv", "id,first name\n2,bo\n");
    let (code, _, err) = import(&data, &csv, "h", &[]);
    assert_eq!(code, Some(0), "{err}");
    // Two headers that map to one name are an error; nothing is created.
    let csv = write(tmp.path(), "dup.csv", "a b,a-b\n1,2\n");
    let (code, _, err) = import(&data, &csv, "d", &["--create"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("both become column \"a_b\""), "{err}");
    assert!(!has_table(&data, "d"));
}

#[test]
fn only_a_create_import_makes_a_missing_data_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let csv = write(tmp.path(), "a.csv", "a\n1\n");
    let (code, _, err) = import(&data, &csv, "t", &[]);
    assert_eq!(code, Some(1));
    assert!(err.contains("does not exist"), "{err}");
    assert!(!data.exists());
    let (code, _, err) = import(&data, &csv, "t", &["--create"]);
    assert_eq!(code, Some(0), "{err}");
}
