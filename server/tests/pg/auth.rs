//! Authentication: trust without a token, the token as password with one.

use fasty_server::ServerOptions;

use crate::common::{Server, rows};

#[tokio::test]
async fn without_a_token_every_client_is_trusted() {
    let server = Server::start().await;
    let client = server.try_connect(Some("anything")).await.unwrap();
    client
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .unwrap();
}

#[tokio::test]
async fn with_a_token_the_password_must_equal_it() {
    let server =
        Server::with(ServerOptions::default().with_auth_token(Some("s3cret".into()))).await;
    // The driver learns that a password is needed and has none.
    let e = server.try_connect(None).await.unwrap_err();
    assert!(e.as_db_error().is_none(), "{e:?}");
    let e = server.try_connect(Some("wrong")).await.unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("28P01"), "{e:?}");
    let client = server.try_connect(Some("s3cret")).await.unwrap();
    client
        .batch_execute("CREATE TABLE t (id INT PRIMARY KEY)")
        .await
        .unwrap();
    assert!(rows(&client, "SELECT id FROM t").await.is_empty());
}
