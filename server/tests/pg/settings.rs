//! SET, SHOW and RESET, and the parameters reported at start-up.

use crate::common::{Raw, Server, rows, sqlstate};

#[tokio::test]
async fn show_reports_the_usual_parameters() {
    let server = Server::start().await;
    let client = server.connect().await;
    let show = |name: &'static str| {
        let client = &client;
        async move {
            rows(client, &format!("show {name}")).await[0][0]
                .clone()
                .unwrap()
        }
    };
    let version = show("server_version").await;
    assert!(
        version.starts_with("16.") && version.contains("fasty"),
        "{version}"
    );
    assert_eq!(show("client_encoding").await, "UTF8");
    assert_eq!(show("standard_conforming_strings").await, "on");
    assert_eq!(show("TimeZone").await, "UTC");
    // From the start-up message.
    assert_eq!(show("application_name").await, "pg-tests");
    let e = client.simple_query("show no_such_thing").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42704");
}

#[tokio::test]
async fn set_is_remembered_per_connection() {
    let server = Server::start().await;
    let client = server.connect().await;
    client
        .batch_execute("SET search_path TO myschema, public; SET extra_float_digits = 3; SET my.custom TO 'v 1'; SET TIME ZONE 'Europe/Berlin'")
        .await
        .unwrap();
    assert_eq!(
        rows(&client, "show search_path").await,
        vec![vec![Some("myschema, public".into())]]
    );
    assert_eq!(
        rows(&client, "SHOW EXTRA_FLOAT_DIGITS").await,
        vec![vec![Some("3".into())]]
    );
    assert_eq!(
        rows(&client, "show my.custom").await,
        vec![vec![Some("v 1".into())]]
    );
    assert_eq!(
        rows(&client, "show timezone").await,
        vec![vec![Some("Europe/Berlin".into())]]
    );
    // Another connection keeps its own.
    let other = server.connect().await;
    assert_eq!(
        rows(&other, "show extra_float_digits").await,
        vec![vec![Some("1".into())]]
    );
    client
        .batch_execute("reset extra_float_digits; reset my.custom")
        .await
        .unwrap();
    assert_eq!(
        rows(&client, "show extra_float_digits").await,
        vec![vec![Some("1".into())]]
    );
    assert_eq!(
        sqlstate(&client.simple_query("show my.custom").await.unwrap_err()),
        "42704"
    );
    // Only UTF-8 is spoken.
    let e = client
        .simple_query("set client_encoding to 'LATIN1'")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023");
    // Through the extended protocol as well.
    let row = client.query_one("show search_path", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), "myschema, public");
}

#[tokio::test]
async fn reported_parameters_send_a_status_on_change() {
    let server = Server::start().await;
    let mut raw = Raw::connect(server.port).await;
    let a = raw.query("set application_name = 'psql-like'").await;
    assert_eq!(a.tags, vec!["SET"]);
    assert_eq!(
        a.params,
        vec![("application_name".to_string(), "psql-like".to_string())]
    );
    let a = raw.query("set extra_float_digits = 2").await;
    assert!(a.params.is_empty(), "{a:?}");
}
