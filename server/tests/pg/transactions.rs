//! Transactions per connection, the status byte, and PostgreSQL's failed
//! transaction block.

use crate::common::{Raw, Server, rows, sqlstate};

#[tokio::test]
async fn status_byte_follows_the_transaction() {
    let server = Server::start().await;
    let mut raw = Raw::connect(server.port).await;
    assert_eq!(
        raw.query("CREATE TABLE t (id INT PRIMARY KEY)")
            .await
            .status,
        'I'
    );
    let a = raw.query("BEGIN").await;
    assert_eq!((a.tags.clone(), a.status), (vec!["BEGIN".to_string()], 'T'));
    let a = raw.query("INSERT INTO t (id) VALUES (1)").await;
    assert_eq!(
        (a.tags.clone(), a.status),
        (vec!["INSERT 0 1".to_string()], 'T')
    );
    // Another connection does not see the uncommitted row.
    let other = server.connect().await;
    assert!(rows(&other, "SELECT id FROM t").await.is_empty());
    let a = raw.query("COMMIT").await;
    assert_eq!(
        (a.tags.clone(), a.status),
        (vec!["COMMIT".to_string()], 'I')
    );
    assert_eq!(
        rows(&other, "SELECT id FROM t").await,
        vec![vec![Some("1".into())]]
    );

    // START TRANSACTION / ROLLBACK.
    assert_eq!(raw.query("START TRANSACTION").await.status, 'T');
    raw.query("INSERT INTO t (id) VALUES (2)").await;
    let a = raw.query("ROLLBACK").await;
    assert_eq!(
        (a.tags.clone(), a.status),
        (vec!["ROLLBACK".to_string()], 'I')
    );
    assert_eq!(rows(&other, "SELECT id FROM t").await.len(), 1);
}

#[tokio::test]
async fn an_error_fails_the_block_until_it_ends() {
    let server = Server::start().await;
    let mut raw = Raw::connect(server.port).await;
    raw.query("CREATE TABLE t (id INT PRIMARY KEY)").await;
    raw.query("BEGIN").await;
    raw.query("INSERT INTO t (id) VALUES (1)").await;
    let a = raw.query("SELECT * FROM nosuch").await;
    assert_eq!(
        (a.errors.clone(), a.status),
        (vec!["42P01".to_string()], 'E')
    );
    // Everything but COMMIT and ROLLBACK is refused, SET included.
    for sql in [
        "SELECT id FROM t",
        "INSERT INTO t (id) VALUES (2)",
        "SET application_name = 'x'",
        "BEGIN",
    ] {
        let a = raw.query(sql).await;
        assert_eq!(a.errors, vec!["25P02".to_string()], "{sql}");
        assert_eq!(a.status, 'E', "{sql}");
    }
    // COMMIT of a failed block rolls it back, and says so.
    let a = raw.query("COMMIT").await;
    assert_eq!(
        (a.tags.clone(), a.errors.clone(), a.status),
        (vec!["ROLLBACK".to_string()], vec![], 'I')
    );
    let a = raw.query("SELECT id FROM t").await;
    assert!(a.rows.is_empty(), "{a:?}");

    // ROLLBACK ends a failed block as well; the connection works after.
    raw.query("BEGIN").await;
    assert_eq!(
        raw.query("INSERT INTO t (id) VALUES (1); INSERT INTO t (id) VALUES (1)")
            .await
            .status,
        'E'
    );
    let a = raw.query("ROLLBACK").await;
    assert_eq!(
        (a.tags.clone(), a.status),
        (vec!["ROLLBACK".to_string()], 'I')
    );
    let a = raw.query("INSERT INTO t (id) VALUES (5)").await;
    assert_eq!(
        (a.tags.clone(), a.status),
        (vec!["INSERT 0 1".to_string()], 'I')
    );
}

#[tokio::test]
async fn an_error_outside_a_block_leaves_the_connection_idle() {
    let server = Server::start().await;
    let mut raw = Raw::connect(server.port).await;
    let a = raw.query("SELECT * FROM nosuch").await;
    assert_eq!(
        (a.errors.clone(), a.status),
        (vec!["42P01".to_string()], 'I')
    );
    let a = raw.query("CREATE TABLE t (id INT PRIMARY KEY)").await;
    assert!(a.errors.is_empty());
}

#[tokio::test]
async fn nested_begin_and_stray_commit_are_warnings() {
    let server = Server::start().await;
    let mut raw = Raw::connect(server.port).await;
    let a = raw.query("COMMIT").await;
    assert_eq!(
        (a.notices.clone(), a.status),
        (vec!["25P01".to_string()], 'I')
    );
    raw.query("BEGIN").await;
    let a = raw.query("BEGIN").await;
    assert_eq!(
        (a.notices.clone(), a.tags.clone(), a.status),
        (vec!["25001".to_string()], vec!["BEGIN".to_string()], 'T')
    );
    assert_eq!(raw.query("ROLLBACK").await.status, 'I');
}

#[tokio::test]
async fn driver_transactions_commit_and_roll_back() {
    let server = Server::start().await;
    let mut client = server.connect().await;
    client
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY, n INT)")
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    tx.batch_execute("INSERT INTO t (id, n) VALUES (1, 10)")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let tx = client.transaction().await.unwrap();
    tx.batch_execute("INSERT INTO t (id, n) VALUES (2, 20)")
        .await
        .unwrap();
    drop(tx); // rolls back
    // A prepared statement that fails inside a transaction fails the block
    // for the extended protocol too.
    let tx = client.transaction().await.unwrap();
    let e = tx.query("SELECT * FROM nosuch", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "42P01");
    let e = tx.query("SELECT n FROM t", &[]).await.unwrap_err();
    assert_eq!(sqlstate(&e), "25P02");
    tx.rollback().await.unwrap();
    assert_eq!(
        rows(&client, "SELECT id FROM t").await,
        vec![vec![Some("1".into())]]
    );
}
