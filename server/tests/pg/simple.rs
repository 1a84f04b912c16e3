//! The simple query protocol: command tags, several statements in one
//! message, empty queries, EXPLAIN, values as text.

use crate::common::{Raw, Server, rows};

#[tokio::test]
async fn command_tags_follow_postgres() {
    let server = Server::start().await;
    let mut raw = Raw::connect(server.port).await;
    let cases = [
        (
            "create table t { id: int, name: string, score: float }",
            "CREATE TABLE",
        ),
        (
            "insert t [ { id: 1, name: 'a', score: 1.5 }, { id: 2, name: 'b' }, { id: 3, name: 'c' } ]",
            "INSERT 0 3",
        ),
        ("select name from t where id > 1", "SELECT 2"),
        ("update t set score = 2.5 where id >= 2", "UPDATE 2"),
        ("delete from t where id = 3", "DELETE 1"),
        ("create index t_name on t (name)", "CREATE INDEX"),
        ("drop index t_name", "DROP INDEX"),
        ("select * from t where id = 99", "SELECT 0"),
    ];
    for (sql, tag) in cases {
        let a = raw.query(sql).await;
        assert_eq!(a.errors, Vec::<String>::new(), "{sql}");
        assert_eq!(a.tags, vec![tag.to_string()], "{sql}");
        assert_eq!(a.status, 'I', "{sql}");
    }
    // What the tags claim happened did happen: the database agrees.
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
    let a = raw.query("drop table t").await;
    assert_eq!(a.tags, vec!["DROP TABLE".to_string()]);
}

#[tokio::test]
async fn several_statements_in_one_message_answer_in_turn() {
    let server = Server::start().await;
    let mut raw = Raw::connect(server.port).await;
    let a = raw
        .query("create table t { id: int, name: string }; insert t { id: 1, name: 'x;y' }; select name from t;")
        .await;
    assert_eq!(a.tags, vec!["CREATE TABLE", "INSERT 0 1", "SELECT 1"]);
    assert_eq!(a.columns, vec![vec!["name".to_string()]]);
    assert_eq!(a.rows, vec![vec![Some("x;y".to_string())]]);
    assert_eq!(a.status, 'I');

    // An error stops the message there: the statements after it never run.
    let a = raw
        .query("insert t { id: 2 }; select * from nosuch; insert t { id: 3 }")
        .await;
    assert_eq!(a.tags, vec!["INSERT 0 1"]);
    assert_eq!(a.errors, vec!["42P01"]);
    assert_eq!(a.status, 'I');
    let a = raw.query("select id from t").await;
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
            "create table t { id: int, a: int }; insert t [ { id: 1, a: 1 }, { id: 2, a: 5 } ]",
        )
        .await
        .unwrap();
    let sql = "explain select a from t where a > 1";
    let expected = match server.db.execute(sql).unwrap() {
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
            "create table v { id: int, f: float, b: bool, s: string, j: json };
             insert v [ { id: 1, f: 0.25, b: true, s: 'héllo', j: { k: [1, 'two'] } }, { id: 2 } ]",
        )
        .await
        .unwrap();
    let got = rows(&client, "select id, f, b, s, j from v").await;
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
