//! The extended protocol: Parse/Bind/Describe/Execute/Sync, named and
//! unnamed statements and portals, parameters and results in text and
//! binary.

use tokio_postgres::types::Type;

use crate::common::{Raw, Server, rows, sqlstate};

async fn table(server: &Server) -> tokio_postgres::Client {
    let client = server.connect().await;
    client
        .batch_execute("CREATE TABLE p (id INT8 PRIMARY KEY, f FLOAT8, s TEXT, b BOOL, j JSONB)")
        .await
        .unwrap();
    client
}

#[tokio::test]
async fn binary_parameters_of_every_type() {
    let server = Server::start().await;
    let client = table(&server).await;
    let ins = "INSERT INTO p (id, f, s, b) VALUES ($1, $2, $3, $4)";
    let s8 = client
        .prepare_typed(ins, &[Type::INT8, Type::FLOAT8, Type::TEXT, Type::BOOL])
        .await
        .unwrap();
    assert_eq!(
        client
            .execute(&s8, &[&1i64, &0.5f64, &"one", &true])
            .await
            .unwrap(),
        1
    );
    let s4 = client
        .prepare_typed(ins, &[Type::INT4, Type::FLOAT4, Type::VARCHAR, Type::BOOL])
        .await
        .unwrap();
    assert_eq!(
        client
            .execute(&s4, &[&2i32, &1.25f32, &"two", &false])
            .await
            .unwrap(),
        1
    );
    let s2 = client
        .prepare_typed(ins, &[Type::INT2, Type::FLOAT8, Type::TEXT, Type::BOOL])
        .await
        .unwrap();
    let none: Option<f64> = None;
    assert_eq!(
        client
            .execute(&s2, &[&3i16, &none, &"three", &true])
            .await
            .unwrap(),
        1
    );

    // Results come back binary (tokio-postgres asks for binary), typed
    // as the engine's columns.
    let q = client
        .prepare_typed(
            "SELECT id, f, s, b FROM p WHERE id >= $1 ORDER BY id",
            &[Type::INT8],
        )
        .await
        .unwrap();
    let types: Vec<Type> = q.columns().iter().map(|c| c.type_().clone()).collect();
    assert_eq!(
        types,
        vec![Type::INT8, Type::FLOAT8, Type::TEXT, Type::BOOL]
    );
    let names: Vec<&str> = q.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names, vec!["id", "f", "s", "b"]);
    let got: Vec<(i64, Option<f64>, String, bool)> = client
        .query(&q, &[&2i64])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, Some(1.25), "two".into(), false),
            (3, None, "three".into(), true)
        ]
    );
    // The named statement runs again with other values.
    assert_eq!(client.query(&q, &[&1i64]).await.unwrap().len(), 3);
    assert_eq!(client.query(&q, &[&9i64]).await.unwrap().len(), 0);
}

#[tokio::test]
async fn untyped_parameters_take_their_column_type() {
    let server = Server::start().await;
    let client = table(&server).await;
    // Given to a column: its type.
    let ins = client
        .prepare("INSERT INTO p (id, f, s, b) VALUES ($1, $2, $3, $4)")
        .await
        .unwrap();
    assert_eq!(
        ins.params(),
        &[Type::INT8, Type::FLOAT8, Type::TEXT, Type::BOOL]
    );
    client
        .execute(&ins, &[&1i64, &0.5f64, &"a", &true])
        .await
        .unwrap();
    client
        .execute(&ins, &[&2i64, &1.5f64, &"b", &false])
        .await
        .unwrap();
    // Compared with a column (either side, in, between, like, set).
    let q = client
        .prepare(
            "SELECT id FROM p WHERE id BETWEEN $1 AND $2 AND $3 < f AND s IN ($4, $5) AND s LIKE $6 ORDER BY id",
        )
        .await
        .unwrap();
    assert_eq!(
        q.params(),
        &[
            Type::INT8,
            Type::INT8,
            Type::FLOAT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT
        ]
    );
    let ids: Vec<i64> = client
        .query(&q, &[&1i64, &2i64, &0.0f64, &"a", &"b", &"%"])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![1, 2]);
    let up = client
        .prepare("UPDATE p SET b = $1 WHERE id = $2")
        .await
        .unwrap();
    assert_eq!(up.params(), &[Type::BOOL, Type::INT8]);
    assert_eq!(client.execute(&up, &[&true, &2i64]).await.unwrap(), 1);
    // Nothing to decide it: text.
    let free = client
        .prepare("SELECT id FROM p WHERE $1 = $2")
        .await
        .unwrap();
    assert_eq!(free.params(), &[Type::TEXT, Type::TEXT]);
}

#[tokio::test]
async fn text_parameters_and_results() {
    let server = Server::start().await;
    let _client = table(&server).await;
    let mut raw = Raw::connect(server.port).await;
    // int4, numeric, text, bool, jsonb (oids 23, 1700, 25, 16, 3802).
    let a = raw
        .extended(
            "INSERT INTO p (id, f, s, b, j) VALUES ($1, $2, $3, $4, $5)",
            &[23, 1700, 25, 16, 3802],
            &[
                Some("7"),
                Some("2.50"),
                Some("seven"),
                Some("yes"),
                Some(r#"{"a": [1, 2]}"#),
            ],
        )
        .await;
    assert_eq!(
        (a.errors.clone(), a.tags.clone()),
        (vec![], vec!["INSERT 0 1".to_string()])
    );
    // numeric with an integral value is an int; float8 text.
    let a = raw
        .extended(
            "INSERT INTO p (id, f) VALUES ($1, $2)",
            &[1700, 701],
            &[Some("8"), Some("-1e3")],
        )
        .await;
    assert_eq!(a.tags, vec!["INSERT 0 1"], "{a:?}");
    let a = raw
        .extended(
            "SELECT id, f, s, b, j FROM p WHERE id >= $1 ORDER BY id",
            &[20],
            &[Some("7")],
        )
        .await;
    assert_eq!(a.tags, vec!["SELECT 2"]);
    assert_eq!(
        a.rows,
        vec![
            vec![
                Some("7".into()),
                Some("2.5".into()),
                Some("seven".into()),
                Some("t".into()),
                Some(r#"{"a":[1,2]}"#.into())
            ],
            vec![Some("8".into()), Some("-1000".into()), None, None, None],
        ]
    );
    assert_eq!(a.status, 'I');
    // A malformed parameter is 22P02, and the connection recovers at Sync.
    let a = raw
        .extended("SELECT id FROM p WHERE id = $1", &[20], &[Some("x")])
        .await;
    assert_eq!(
        (a.errors.clone(), a.status),
        (vec!["22P02".to_string()], 'I')
    );
    let a = raw
        .extended("SELECT id FROM p WHERE id = $1", &[20], &[Some("8")])
        .await;
    assert_eq!(a.rows, vec![vec![Some("8".to_string())]]);
}

#[tokio::test]
async fn portals_return_rows_in_pieces() {
    let server = Server::start().await;
    let mut client = table(&server).await;
    client
        .batch_execute("INSERT INTO p (id) VALUES (1), (2), (3), (4), (5)")
        .await
        .unwrap();
    let tx = client.transaction().await.unwrap();
    let q = tx.prepare("SELECT id FROM p ORDER BY id").await.unwrap();
    let portal = tx.bind(&q, &[]).await.unwrap();
    let mut seen = Vec::new();
    for expect in [2, 2, 1, 0] {
        let part = tx.query_portal(&portal, 2).await.unwrap();
        assert_eq!(part.len(), expect);
        seen.extend(part.iter().map(|r| r.get::<_, i64>(0)));
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn parse_errors_and_wrong_parameter_counts() {
    let server = Server::start().await;
    let client = table(&server).await;
    // Describing a statement checks its names, as PostgreSQL's Parse does.
    let e = client.prepare("SELECT * FROM nosuch").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42P01");
    let e = client.prepare("SELECT nope FROM p").await.unwrap_err();
    assert_eq!(sqlstate(&e), "42703");
    // Several statements cannot be one prepared statement.
    let e = client
        .prepare("SELECT id FROM p; SELECT id FROM p")
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&e), "42601");
    // The connection is fine afterwards.
    assert!(rows(&client, "SELECT id FROM p").await.is_empty());
}
