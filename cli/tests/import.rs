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

#[test]
fn a_bad_row_aborts_its_batch_and_all_later_ones() {
    for workers in ["1", "3"] {
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
    // Without --create, a header column the table lacks is named.
    let csv = write(tmp.path(), "u.csv", "a,b\n1,2\n");
    let out = run(&["import", "t", s(&csv), "--data-dir", s(&data)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("table t has no column \"b\""));
}
