//! Errors carry SQLSTATEs and, for syntax errors, the position.

use crate::common::{Server, sqlstate};
use tokio_postgres::error::ErrorPosition;

#[tokio::test]
async fn errors_carry_their_sqlstate() {
    let server = Server::start().await;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY, name TEXT); INSERT INTO t (id, name) VALUES (1, 'a')")
        .await
        .unwrap();
    let cases = [
        ("SELECT * FROM nosuch", "42P01"),
        ("SELECT nmae FROM t", "42703"),
        ("INSERT INTO t (id, name) VALUES (1, 'again')", "23505"),
        ("CREATE TABLE t (id INT PRIMARY KEY)", "42P07"),
        ("INSERT INTO t (id, name) VALUES (2, 5)", "42804"),
        ("DROP INDEX nosuch", "42704"),
        ("INSERT INTO t (name) VALUES ('no id')", "23502"),
        ("COMMIT", "25P01"),
    ];
    for (sql, code) in cases {
        match client.simple_query(sql).await {
            Err(e) => assert_eq!(sqlstate(&e), code, "{sql}: {e:?}"),
            // COMMIT outside a transaction is a warning, not an error.
            Ok(_) => assert_eq!(code, "25P01", "{sql} succeeded"),
        }
    }
    // Nothing of the failed statements was written.
    let n: i64 = client
        .query_one("SELECT count(*) AS n FROM t", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn a_syntax_error_has_its_position() {
    let server = Server::start().await;
    let client = server.connect().await;
    let sql = "SELECT *\nFRM t";
    let e = client.simple_query(sql).await.unwrap_err();
    assert_eq!(sqlstate(&e), "42601");
    let db = e.as_db_error().unwrap();
    // The engine's own line and column, turned into a character offset.
    let fe = fasty_query::parse_sql(sql).unwrap_err();
    let (line, col) = (fe.line().unwrap() as usize, fe.column().unwrap() as usize);
    let offset: usize = sql
        .split('\n')
        .take(line - 1)
        .map(|l| l.chars().count() + 1)
        .sum::<usize>()
        + col;
    assert_eq!(db.position(), Some(&ErrorPosition::Original(offset as u32)));
    assert!(offset > 1);
}
