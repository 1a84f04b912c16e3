//! Statement limits, cancel requests and the graceful stop.

use std::time::{Duration, Instant};

use fasty_server::ServerOptions;
use tokio_postgres::NoTls;

use crate::common::{Server, sqlstate};

/// Two tables whose join has `n * n` rows: a statement that runs for a
/// long while (seconds) unless stopped (the filter on every joined row
/// keeps the engine from counting the join cheaply).
async fn slow_tables(client: &tokio_postgres::Client, n: usize) -> &'static str {
    let rows: Vec<String> = (1..=n).map(|i| format!("({i}, 1)")).collect();
    client
        .batch_execute(&format!(
            "CREATE TABLE a (id INT PRIMARY KEY, k INT); CREATE TABLE b (id INT PRIMARY KEY, k INT);
             INSERT INTO a (id, k) VALUES {rows}; INSERT INTO b (id, k) VALUES {rows}",
            rows = rows.join(", ")
        ))
        .await
        .unwrap();
    "SELECT count(*) FROM a JOIN b ON a.k = b.k WHERE a.id + b.id > 0"
}

#[tokio::test]
async fn a_cancel_request_stops_the_running_statement() {
    let server = Server::start().await;
    let client = server.connect().await;
    let slow = slow_tables(&client, 6000).await;
    for extended in [false, true] {
        let token = client.cancel_token();
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            token.cancel_query(NoTls).await.unwrap();
        });
        let started = Instant::now();
        let e = if extended {
            client.query(slow, &[]).await.map(|_| ()).unwrap_err()
        } else {
            client.simple_query(slow).await.map(|_| ()).unwrap_err()
        };
        assert_eq!(sqlstate(&e), "57014", "{e:?}");
        assert!(started.elapsed() < Duration::from_secs(20));
        canceller.await.unwrap();
        // The connection goes on.
        let n: i64 = client
            .query_one("SELECT count(*) FROM a", &[])
            .await
            .unwrap()
            .get(0);
        assert_eq!(n, 6000);
    }
}

#[tokio::test]
async fn statements_run_under_the_time_limit() {
    let server = Server::with(
        ServerOptions::default().with_statement_timeout(Some(Duration::from_millis(200))),
    )
    .await;
    let client = server.connect().await;
    let slow = slow_tables(&client, 6000).await;
    let e = client.simple_query(slow).await.unwrap_err();
    assert_eq!(sqlstate(&e), "57014", "{e:?}");
    let message = e.as_db_error().unwrap().message();
    assert!(message.contains("time"), "{message}");
}

#[tokio::test]
async fn the_stop_closes_connections_and_returns() {
    let server =
        Server::with(ServerOptions::default().with_stop_timeout(Duration::from_secs(5))).await;
    let port = server.port;
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .expect("the stop took too long");
    assert!(client.simple_query("SELECT id FROM t").await.is_err());
    // Nothing listens any more.
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
    );
}
