//! The simple query protocol: command tags, several statements in one
//! message, empty queries, EXPLAIN, values as text.

use crate::common::{Raw, Server, rows};

#[tokio::test]
async fn command_tags_follow_postgres() {
    let server = Server::start().await;
    let mut raw = Raw::connect(server.port).await;
    let cases = [
        (
            "CREATE TABLE t (id INT PRIMARY KEY, name TEXT, score FLOAT8)",
            "CREATE TABLE",
        ),
        (
            "INSERT INTO t (id, name, score) VALUES (1, 'a', 1.5), (2, 'b', NULL), (3, 'c', NULL)",
            "INSERT 0 3",
        ),
        ("SELECT name FROM t WHERE id > 1", "SELECT 2"),
        ("UPDATE t SET score = 2.5 WHERE id >= 2", "UPDATE 2"),
        ("DELETE FROM t WHERE id = 3", "DELETE 1"),
        ("CREATE INDEX t_name ON t (name)", "CREATE INDEX"),
        ("DROP INDEX t_name", "DROP INDEX"),
        ("SELECT * FROM t WHERE id = 99", "SELECT 0"),
    ];
    for (sql, tag) in cases {
        let a = raw.query(sql).await;
        assert_eq!(a.errors, Vec::<String>::new(), "{sql}");
        assert_eq!(a.tags, vec![tag.to_string()], "{sql}");
        assert_eq!(a.status, 'I', "{sql}");
    }
    // What the tags claim happened did happen: the database agrees.
    // (Read in the fasty language, the engine's other front end.)
    let out = server.db.execute("select id, score from t").unwrap();
    let fasty_query::Output::Rows { rows, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        rows,
        vec![
            vec![fasty_query::Value::Int(1), fasty_query::Value::Float(1.5)],
            vec![fasty_query::Value::Int(2), fasty_query::Value::Float(2.5)],
        ]
    );
    let a = raw.query("DROP TABLE t").await;
    assert_eq!(a.tags, vec!["DROP TABLE".to_string()]);
}

#[tokio::test]
async fn several_statements_in_one_message_answer_in_turn() {
    let server = Server::start().await;
    let mut raw = Raw::connect(server.port).await;
    let a = raw
        .query("CREATE TABLE t (id INT PRIMARY KEY, name TEXT); INSERT INTO t (id, name) VALUES (1, 'x;y'); SELECT name FROM t;")
        .await;
    assert_eq!(a.tags, vec!["CREATE TABLE", "INSERT 0 1", "SELECT 1"]);
    assert_eq!(a.columns, vec![vec!["name".to_string()]]);
    assert_eq!(a.rows, vec![vec![Some("x;y".to_string())]]);
    assert_eq!(a.status, 'I');

    // An error stops the message there: the statements after it never run.
    let a = raw
        .query("INSERT INTO t (id) VALUES (2); SELECT * FROM nosuch; INSERT INTO t (id) VALUES (3)")
        .await;
    assert_eq!(a.tags, vec!["INSERT 0 1"]);
    assert_eq!(a.errors, vec!["42P01"]);
    assert_eq!(a.status, 'I');
    let a = raw.query("SELECT id FROM t ORDER BY id").await;
    assert_eq!(
        a.rows,
        vec![vec![Some("1".to_string())], vec![Some("2".to_string())]]
    );
}

#[tokio::test]
async fn empty_queries_answer_empty() {
    let server = Server::start().await;
    let mut raw = Raw::connect(server.port).await;
    for sql in ["", "   ", ";", " ; ; ", "-- nothing\n"] {
        let a = raw.query(sql).await;
        assert_eq!(a.empty, 1, "{sql:?}: {a:?}");
        assert!(a.tags.is_empty() && a.errors.is_empty(), "{sql:?}: {a:?}");
        assert_eq!(a.status, 'I');
    }
}

#[tokio::test]
async fn explain_is_a_query_plan_column_with_one_row_per_line() {
    let server = Server::start().await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE t (id INT PRIMARY KEY, a INT); INSERT INTO t (id, a) VALUES (1, 1), (2, 5)",
        )
        .await
        .unwrap();
    let sql = "EXPLAIN SELECT a FROM t WHERE a > 1";
    // The engine's own plan of the same SQL, run without the protocol.
    let stmt = fasty_query::parse_sql(sql).unwrap().remove(0);
    let expected = match server
        .db
        .run(&stmt, fasty_query::ExecOptions::default())
        .unwrap()
    {
        fasty_query::Output::Plan(p) => p,
        other => panic!("{other:?}"),
    };
    let mut raw = Raw::connect(server.port).await;
    let a = raw.query(sql).await;
    assert_eq!(a.columns, vec![vec!["QUERY PLAN".to_string()]]);
    let lines: Vec<Option<String>> = expected.lines().map(|l| Some(l.to_string())).collect();
    assert!(!lines.is_empty());
    assert_eq!(
        a.rows,
        lines.into_iter().map(|l| vec![l]).collect::<Vec<_>>()
    );
    assert_eq!(a.tags, vec!["EXPLAIN"]);
}

#[tokio::test]
async fn values_arrive_as_postgres_text() {
    let server = Server::start().await;
    let client = server.connect().await;
    client
        .batch_execute(
            "CREATE TABLE v (id INT PRIMARY KEY, f FLOAT8, b BOOL, s TEXT, j JSONB);
             INSERT INTO v (id, f, b, s, j) VALUES (1, 0.25, TRUE, 'héllo', '{\"k\": [1, \"two\"]}'::jsonb), (2, NULL, NULL, NULL, NULL)",
        )
        .await
        .unwrap();
    let got = rows(&client, "SELECT id, f, b, s, j FROM v ORDER BY id").await;
    assert_eq!(
        got,
        vec![
            vec![
                Some("1".into()),
                Some("0.25".into()),
                Some("t".into()),
                Some("héllo".into()),
                Some(r#"{"k":[1,"two"]}"#.into()),
            ],
            vec![Some("2".into()), None, None, None, None],
        ]
    );
}

#[tokio::test]
async fn leading_comments_do_not_hide_the_statement() {
    let server = Server::start().await;
    let mut raw = Raw::connect(server.port).await;
    let cases = [
        (
            "/* tool */ CREATE TABLE t (id INT PRIMARY KEY)",
            "CREATE TABLE",
            'I',
        ),
        ("-- open\nBEGIN", "BEGIN", 'T'),
        ("/* a */ INSERT INTO t (id) VALUES (1)", "INSERT 0 1", 'T'),
        ("/* b */ SET application_name = 'c'", "SET", 'T'),
        ("-- x\n/* y */ COMMIT", "COMMIT", 'I'),
        ("/* z */ SHOW application_name", "SHOW", 'I'),
    ];
    for (sql, tag, status) in cases {
        let a = raw.query(sql).await;
        assert_eq!(a.errors, Vec::<String>::new(), "{sql}");
        assert_eq!(a.tags, vec![tag.to_string()], "{sql}");
        assert_eq!(a.status, status, "{sql}");
    }
    let a = raw.query("SELECT id FROM t").await;
    assert_eq!(a.rows, vec![vec![Some("1".to_string())]]);
    // A nested BEGIN behind a comment is still only a warning.
    raw.query("BEGIN").await;
    let a = raw.query("/* again */ BEGIN").await;
    assert_eq!(
        (a.notices.clone(), a.errors.clone(), a.status),
        (vec!["25001".to_string()], vec![], 'T')
    );
    assert_eq!(raw.query("ROLLBACK").await.status, 'I');
}
