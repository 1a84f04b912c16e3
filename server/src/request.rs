//! The body of `POST /query`, parsed straight from the bytes with typed
//! serde visitors: `{"query": "...", "params"?: [...]}`, `{"sql": "...",
//! "params"?: [...]}`, `{"transaction":
//! ["...", ...]}` or `{"table": "...", "rows": [...], "mode": "insert" |
//! "upsert"}`.
//!
//! A key given twice in any object of the body — the request itself, a
//! row, or an object nested in a `json` value — is a `bad_request` naming
//! the key (serde_json on its own keeps the last).
//!
//! Batch rows become `(column, Value)` fields without a
//! `serde_json::Value` per row: scalars map directly to [`Value`] (ints to
//! `Int`, other numbers to `Float`, strings, bools, null), and only a
//! nested object or array is built as JSON (the `json` column's value).
//! Column names repeat from row to row, so each row position keeps the
//! last name seen there and shares it instead of allocating a new one.

use std::fmt;
use std::sync::Arc;

use fasty_query::{InsertMode, Value};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::ApiError;

/// A parsed `/query` body.
#[derive(Debug, PartialEq)]
pub(crate) enum QueryRequest {
    /// `{"query": "..."}`: one statement.
    Statement(String),
    /// `{"query": "...", "params": [...]}`: one statement with `?`
    /// placeholders and the values for them, in order.
    Prepared(String, Vec<Value>),
    /// `{"table": ..., "rows": [...], "mode"?: ...}`: the batch fast path.
    Batch(Batch),
    /// `{"transaction": ["...", ...]}`: statements run in one transaction.
    Transaction(Vec<String>),
    /// `{"sql": "...", "params"?: [...]}`: one SQL statement (docs/sql.md),
    /// with the values for its `$1`, `$2`, ... placeholders when given.
    Sql(String, Option<Vec<Value>>),
}

/// Rows for [`fasty_query::Database::insert_rows`].
#[derive(Debug, PartialEq)]
pub(crate) struct Batch {
    /// The target table.
    pub(crate) table: String,
    /// The rows, each its fields in the order given.
    pub(crate) rows: Vec<Row>,
    /// `insert` (default) or `upsert`.
    pub(crate) mode: InsertMode,
}

/// One row of a batch: `(column, value)` in the order given.
pub(crate) type Row = Vec<(Arc<str>, Value)>;

impl QueryRequest {
    /// Parses a body. Malformed JSON, a wrong type, a missing, unknown or
    /// repeated field is an error with the 400 body to send.
    pub(crate) fn parse(body: &[u8]) -> Result<QueryRequest, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                "empty body: send {\"query\": \"...\"}, {\"transaction\": [\"...\", ...]} or {\"table\": \"...\", \"rows\": [...]}",
            ));
        }
        let raw: RawRequest = serde_json::from_slice(body)?;
        raw.check()
    }
}

/// The fields as given, before checking which combination they form.
#[derive(Default)]
struct RawRequest {
    query: Option<String>,
    sql: Option<String>,
    params: Option<Vec<Value>>,
    table: Option<String>,
    rows: Option<Vec<Row>>,
    mode: Option<InsertMode>,
    transaction: Option<Vec<String>>,
}

impl RawRequest {
    fn check(self) -> Result<QueryRequest, ApiError> {
        match self {
            RawRequest {
                transaction: Some(statements),
                query: None,
                sql: None,
                params: None,
                table: None,
                rows: None,
                mode: None,
            } => {
                if statements.is_empty() {
                    return Err(ApiError::bad_request(
                        "\"transaction\" is empty: give the statements to run, in order",
                    ));
                }
                Ok(QueryRequest::Transaction(statements))
            }
            RawRequest {
                transaction: Some(_),
                ..
            } => Err(ApiError::bad_request(
                "\"transaction\" comes alone: give the statements as its array, with no \"query\", \"sql\", \"params\", \"table\", \"rows\" or \"mode\"",
            )),
            RawRequest {
                sql: Some(q),
                params,
                query: None,
                table: None,
                rows: None,
                mode: None,
                transaction: None,
            } => Ok(QueryRequest::Sql(q, params)),
            RawRequest { sql: Some(_), .. } => Err(ApiError::bad_request(
                "give either \"sql\" (with optional \"params\"), \"query\", or \"table\" and \"rows\", not several",
            )),
            RawRequest {
                query: Some(q),
                params,
                sql: None,
                table: None,
                rows: None,
                mode: None,
                transaction: None,
            } => Ok(match params {
                None => QueryRequest::Statement(q),
                Some(p) => QueryRequest::Prepared(q, p),
            }),
            RawRequest { query: Some(_), .. } => Err(ApiError::bad_request(
                "give either \"query\" (with optional \"params\"), or \"table\" and \"rows\" (with an optional \"mode\"), not both",
            )),
            RawRequest {
                params: Some(_), ..
            } => Err(ApiError::bad_request(
                "\"params\" goes with \"query\" (? placeholders) or \"sql\" ($1, $2, ... placeholders)",
            )),
            RawRequest {
                table: Some(table),
                rows: Some(rows),
                mode,
                ..
            } => Ok(QueryRequest::Batch(Batch {
                table,
                rows,
                mode: mode.unwrap_or_default(),
            })),
            RawRequest { table: Some(_), .. } => {
                Err(ApiError::bad_request("missing field \"rows\""))
            }
            RawRequest { rows: Some(_), .. } => {
                Err(ApiError::bad_request("missing field \"table\""))
            }
            _ => Err(ApiError::bad_request(
                "missing field \"query\" (or \"table\" and \"rows\" for a batch)",
            )),
        }
    }
}

const FIELDS: &[&str] = &[
    "query",
    "sql",
    "params",
    "table",
    "rows",
    "mode",
    "transaction",
];

impl<'de> de::Deserialize<'de> for RawRequest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(RequestVisitor)
    }
}

struct RequestVisitor;

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = RawRequest;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with \"query\", or \"table\" and \"rows\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRequest, A::Error> {
        fn once<T, E: de::Error>(slot: &Option<T>, name: &'static str) -> Result<(), E> {
            match slot {
                Some(_) => Err(E::duplicate_field(name)),
                None => Ok(()),
            }
        }
        let mut req = RawRequest::default();
        while let Some(key) = map.next_key::<Field>()? {
            match key {
                Field::Query => {
                    once(&req.query, "query")?;
                    req.query = Some(map.next_value()?);
                }
                Field::Sql => {
                    once(&req.sql, "sql")?;
                    req.sql = Some(map.next_value()?);
                }
                Field::Params => {
                    once(&req.params, "params")?;
                    req.params = Some(map.next_value_seed(ParamsSeed)?);
                }
                Field::Table => {
                    once(&req.table, "table")?;
                    req.table = Some(map.next_value()?);
                }
                Field::Rows => {
                    once(&req.rows, "rows")?;
                    req.rows = Some(map.next_value_seed(RowsSeed)?);
                }
                Field::Mode => {
                    once(&req.mode, "mode")?;
                    req.mode = Some(map.next_value::<ModeName>()?.0);
                }
                Field::Transaction => {
                    once(&req.transaction, "transaction")?;
                    req.transaction = Some(map.next_value()?);
                }
            }
        }
        Ok(req)
    }
}

enum Field {
    Query,
    Sql,
    Params,
    Table,
    Rows,
    Mode,
    Transaction,
}

impl<'de> de::Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(FieldVisitor)
    }
}

struct FieldVisitor;

impl Visitor<'_> for FieldVisitor {
    type Value = Field;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Field, E> {
        match s {
            "query" => Ok(Field::Query),
            "sql" => Ok(Field::Sql),
            "params" => Ok(Field::Params),
            "table" => Ok(Field::Table),
            "rows" => Ok(Field::Rows),
            "mode" => Ok(Field::Mode),
            "transaction" => Ok(Field::Transaction),
            _ => Err(E::unknown_field(s, FIELDS)),
        }
    }
}

/// `"insert"` or `"upsert"`.
struct ModeName(InsertMode);

impl<'de> de::Deserialize<'de> for ModeName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(ModeVisitor)
    }
}

struct ModeVisitor;

impl Visitor<'_> for ModeVisitor {
    type Value = ModeName;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("\"insert\" or \"upsert\"")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<ModeName, E> {
        match s {
            "insert" => Ok(ModeName(InsertMode::Insert)),
            "upsert" => Ok(ModeName(InsertMode::Upsert)),
            _ => Err(E::invalid_value(de::Unexpected::Str(s), &self)),
        }
    }
}

/// `[ {row}, ... ]`.
struct RowsSeed;

impl<'de> DeserializeSeed<'de> for RowsSeed {
    type Value = Vec<Row>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Row>, D::Error> {
        d.deserialize_seq(RowsVisitor)
    }
}

struct RowsVisitor;

impl<'de> Visitor<'de> for RowsVisitor {
    type Value = Vec<Row>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of row objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Row>, A::Error> {
        let mut rows = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        // names[j]: the column name last seen at field position j.
        let mut names: Vec<Arc<str>> = Vec::new();
        let mut width = 0;
        while let Some(row) = seq.next_element_seed(RowSeed {
            names: &mut names,
            width,
        })? {
            width = row.len();
            rows.push(row);
        }
        Ok(rows)
    }
}

/// `{ "column": value, ... }`.
struct RowSeed<'a> {
    names: &'a mut Vec<Arc<str>>,
    /// Fields of the previous row: the likely size of this one.
    width: usize,
}

impl<'de> DeserializeSeed<'de> for RowSeed<'_> {
    type Value = Row;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Row, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RowSeed<'_> {
    type Value = Row;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a row object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row, A::Error> {
        let mut row: Row = Vec::with_capacity(self.width);
        while let Some(name) = map.next_key_seed(NameSeed {
            names: self.names,
            pos: row.len(),
        })? {
            if row.iter().any(|(n, _)| **n == *name) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key \"{name}\" in a row: give each column once"
                )));
            }
            let value = map.next_value_seed(ValueSeed)?;
            row.push((name, value));
        }
        Ok(row)
    }
}

/// A column name, shared with the previous row's name at the same
/// position when equal.
struct NameSeed<'a> {
    names: &'a mut Vec<Arc<str>>,
    pos: usize,
}

impl<'de> DeserializeSeed<'de> for NameSeed<'_> {
    type Value = Arc<str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Arc<str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for NameSeed<'_> {
    type Value = Arc<str>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a column name")
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Arc<str>, E> {
        match self.names.get(self.pos) {
            Some(n) if &**n == s => Ok(n.clone()),
            _ => {
                let n: Arc<str> = Arc::from(s);
                if self.pos < self.names.len() {
                    self.names[self.pos] = n.clone();
                } else {
                    self.names.push(n.clone());
                }
                Ok(n)
            }
        }
    }
}

/// `[value, ...]`: the values for a statement's `?` placeholders, typed
/// as batch row values are.
struct ParamsSeed;

impl<'de> DeserializeSeed<'de> for ParamsSeed {
    type Value = Vec<Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_seq(ParamsVisitor)
    }
}

struct ParamsVisitor;

impl<'de> Visitor<'de> for ParamsVisitor {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of values for the ? placeholders")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut params = Vec::new();
        while let Some(v) = seq.next_element_seed(ValueSeed)? {
            params.push(v);
        }
        Ok(params)
    }
}

/// One field value as a fasty [`Value`].
struct ValueSeed;

impl<'de> DeserializeSeed<'de> for ValueSeed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    /// Integers above `i64::MAX` are floats, as in [`Value::from_json`].
    fn visit_u64<E>(self, u: u64) -> Result<Value, E> {
        Ok(i64::try_from(u).map_or(Value::Float(u as f64), Value::Int))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Value, E> {
        Ok(Value::Float(x))
    }

    fn visit_str<E>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(s.to_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Value, A::Error> {
        JsonVisitor.visit_seq(seq).map(Value::Json)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Value, A::Error> {
        JsonVisitor.visit_map(map).map(Value::Json)
    }
}

/// A nested JSON value (of a `json` column) as `serde_json::Value`,
/// refusing an object that gives a key twice. Depth is bounded by
/// serde_json's own recursion limit (128).
struct JsonSeed;

impl<'de> DeserializeSeed<'de> for JsonSeed {
    type Value = serde_json::Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<serde_json::Value, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E>(self) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<serde_json::Value, E> {
        Ok(b.into())
    }

    fn visit_i64<E>(self, i: i64) -> Result<serde_json::Value, E> {
        Ok(i.into())
    }

    fn visit_u64<E>(self, u: u64) -> Result<serde_json::Value, E> {
        Ok(u.into())
    }

    fn visit_f64<E>(self, x: f64) -> Result<serde_json::Value, E> {
        Ok(serde_json::Number::from_f64(x).map_or(serde_json::Value::Null, Into::into))
    }

    fn visit_str<E>(self, s: &str) -> Result<serde_json::Value, E> {
        Ok(s.into())
    }

    fn visit_string<E>(self, s: String) -> Result<serde_json::Value, E> {
        Ok(s.into())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<serde_json::Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(v) = seq.next_element_seed(JsonSeed)? {
            items.push(v);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<serde_json::Value, A::Error> {
        let mut obj = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if obj.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate key \"{key}\" in a json object: give each key once"
                )));
            }
            let value = map.next_value_seed(JsonSeed)?;
            obj.insert(key, value);
        }
        Ok(serde_json::Value::Object(obj))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(s: &str) -> Result<QueryRequest, ApiError> {
        QueryRequest::parse(s.as_bytes())
    }

    fn fields(row: &Row) -> Vec<(&str, &Value)> {
        row.iter().map(|(k, v)| (&**k, v)).collect()
    }

    #[test]
    fn statement() {
        assert_eq!(
            parse(r#" {"query": "select t"} "#).unwrap(),
            QueryRequest::Statement("select t".into())
        );
    }

    #[test]
    fn statement_with_params() {
        assert_eq!(
            parse(r#"{"params": [3, "x", null, 2.5, true, {"a": [1]}], "query": "q"}"#).unwrap(),
            QueryRequest::Prepared(
                "q".into(),
                vec![
                    Value::Int(3),
                    Value::String("x".into()),
                    Value::Null,
                    Value::Float(2.5),
                    Value::Bool(true),
                    Value::Json(json!({"a": [1]})),
                ]
            )
        );
        assert_eq!(
            parse(r#"{"query": "q", "params": []}"#).unwrap(),
            QueryRequest::Prepared("q".into(), vec![])
        );
    }

    #[test]
    fn sql_with_and_without_params() {
        assert_eq!(
            parse(r#"{"sql": "SELECT 1"}"#).unwrap(),
            QueryRequest::Sql("SELECT 1".into(), None)
        );
        assert_eq!(
            parse(r#"{"params": [2, "x"], "sql": "s"}"#).unwrap(),
            QueryRequest::Sql(
                "s".into(),
                Some(vec![Value::Int(2), Value::String("x".into())])
            )
        );
        for body in [
            r#"{"sql": "s", "query": "q"}"#,
            r#"{"sql": "s", "table": "t", "rows": []}"#,
            r#"{"sql": "s", "transaction": ["q"]}"#,
            r#"{"sql": "s", "sql": "t"}"#,
            r#"{"sql": 1}"#,
        ] {
            assert!(parse(body).is_err(), "{body}");
        }
    }

    #[test]
    fn batch_values_map_to_fasty_types() {
        let r = parse(
            r#"{"rows": [{"id": 1, "f": 2.5, "b": true, "s": "x\"y", "n": null,
                          "j": {"a": [1, {"b": null}]}, "a": [1, 2], "big": 18446744073709551615,
                          "neg": -9223372036854775808, "e": 1e3}],
                "table": "t", "mode": "upsert"}"#,
        )
        .unwrap();
        let QueryRequest::Batch(b) = r else { panic!() };
        assert_eq!(b.table, "t");
        assert_eq!(b.mode, InsertMode::Upsert);
        assert_eq!(
            fields(&b.rows[0]),
            vec![
                ("id", &Value::Int(1)),
                ("f", &Value::Float(2.5)),
                ("b", &Value::Bool(true)),
                ("s", &Value::String("x\"y".into())),
                ("n", &Value::Null),
                ("j", &Value::Json(json!({"a": [1, {"b": null}]}))),
                ("a", &Value::Json(json!([1, 2]))),
                ("big", &Value::Float(18446744073709551615.0)),
                ("neg", &Value::Int(i64::MIN)),
                ("e", &Value::Float(1000.0)),
            ]
        );
    }

    #[test]
    fn names_are_shared_between_rows() {
        let r = parse(
            r#"{"table": "t", "rows": [{"id": 1, "a": 1}, {"id": 2, "b": 2}, {"id": 3, "a": 3}]}"#,
        )
        .unwrap();
        let QueryRequest::Batch(b) = r else { panic!() };
        assert_eq!(b.mode, InsertMode::Insert);
        assert!(Arc::ptr_eq(&b.rows[0][0].0, &b.rows[1][0].0));
        assert_eq!(&*b.rows[1][1].0, "b");
        assert_eq!(&*b.rows[2][1].0, "a");
        assert_eq!(b.rows[2][1].1, Value::Int(3));
    }

    #[test]
    fn bad_bodies() {
        let cases = [
            ("", "bad_request"),
            ("  \n", "bad_request"),
            ("{", "invalid_json"),
            ("{\"query\": \"x\"", "invalid_json"),
            ("nonsense", "invalid_json"),
            ("[]", "bad_request"),
            ("5", "bad_request"),
            ("{}", "bad_request"),
            (r#"{"query": 5}"#, "bad_request"),
            (r#"{"query": null}"#, "bad_request"),
            (r#"{"query": "a", "query": "b"}"#, "bad_request"),
            (r#"{"query": "a", "table": "t"}"#, "bad_request"),
            (r#"{"querry": "a"}"#, "bad_request"),
            (r#"{"table": "t"}"#, "bad_request"),
            (r#"{"rows": []}"#, "bad_request"),
            (r#"{"table": "t", "rows": {}}"#, "bad_request"),
            (r#"{"table": "t", "rows": [5]}"#, "bad_request"),
            (r#"{"table": "t", "rows": [{"id": 1e999}]}"#, "invalid_json"),
            (
                r#"{"table": "t", "rows": [], "mode": "merge"}"#,
                "bad_request",
            ),
            (r#"{"table": 1, "rows": []}"#, "bad_request"),
            (r#"{"query": "a"} x"#, "invalid_json"),
            (r#"{"query": "a", "params": 3}"#, "bad_request"),
            (
                r#"{"query": "a", "params": [], "params": []}"#,
                "bad_request",
            ),
            (r#"{"table": "t", "rows": [], "params": []}"#, "bad_request"),
            (r#"{"params": [1]}"#, "bad_request"),
            (
                r#"{"table": "t", "rows": [{"id": 1, "v": 2, "id": 3}]}"#,
                "bad_request",
            ),
            (
                r#"{"table": "t", "rows": [{"id": 1, "m": {"a": 1, "b": {"c": 1, "c": 2}}}]}"#,
                "bad_request",
            ),
        ];
        for (body, code) in cases {
            let e = parse(body).expect_err(body);
            assert_eq!(e.code, code, "{body}: {e:?}");
            assert_eq!(e.status, axum::http::StatusCode::BAD_REQUEST);
            assert!(!e.message.contains(" at line "), "{e:?}");
        }
        let e =
            parse(r#"{"table": "t", "rows": [{"id": 1}, {"id": 2, "name": "a", "name": "b"}]}"#)
                .unwrap_err();
        assert!(e.message.contains("duplicate key \"name\""), "{e:?}");
        let e = parse(r#"{"query": "a", "query": "b"}"#).unwrap_err();
        assert!(e.message.contains("duplicate field `query`"), "{e:?}");
        let e = parse("{\n  \"query\": 5}").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(12)));
    }
}

/// The parse micro-benchmark of the README: `cargo test --release -p
/// fasty-server --lib -- --ignored --nocapture parse_throughput`.
#[cfg(test)]
mod bench {
    use super::*;
    use std::time::Instant;

    /// A 1000-row batch body in the shape of the `users` table of docs/language.md,
    /// with or without the nested `metadata` object.
    fn body(nested: bool) -> Vec<u8> {
        let rows: Vec<serde_json::Value> = (0..1000)
            .map(|i| {
                let mut row = serde_json::json!({
                    "id": i, "name": format!("user{i}"), "email": format!("user{i}@example.com"),
                    "age": 18 + i % 60, "balance": i as f64 * 1.25, "active": i % 3 == 0,
                });
                if nested {
                    row["metadata"] =
                        serde_json::json!({"level": i % 10, "badges": ["gold", "silver"]});
                }
                row
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({"table": "users", "rows": rows})).unwrap()
    }

    fn rate(label: &str, bytes: usize, mut f: impl FnMut() -> usize) {
        for _ in 0..20 {
            f();
        }
        let rounds = 300;
        let start = Instant::now();
        let mut rows = 0;
        for _ in 0..rounds {
            rows += f();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{label}: {:.0} rows/s, {:.0} MB/s ({} bytes/body)",
            rows as f64 / secs,
            (bytes * rounds) as f64 / secs / 1e6,
            bytes
        );
    }

    #[test]
    #[ignore = "benchmark: run in release"]
    fn parse_throughput() {
        let flat = body(false);
        rate(
            "typed visitor, scalar columns only",
            flat.len(),
            || match QueryRequest::parse(&flat).unwrap() {
                QueryRequest::Batch(b) => b.rows.len(),
                _ => 0,
            },
        );
        let body = body(true);
        rate(
            "typed visitor (QueryRequest::parse)",
            body.len(),
            || match QueryRequest::parse(&body).unwrap() {
                QueryRequest::Batch(b) => b.rows.len(),
                _ => 0,
            },
        );
        rate("serde_json::Value + Value::from_json", body.len(), || {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let rows: Vec<Vec<(String, Value)>> = v["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r.as_object()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), Value::from_json(v.clone())))
                        .collect()
                })
                .collect();
            rows.len()
        });
    }
}
