//! Success bodies of `POST /query`, serialised straight from the
//! statement's [`Output`] into bytes: rows are written as JSON objects
//! (column name → value, `json` columns nested) without building a
//! `serde_json::Value` per row.

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use fasty_query::{Column, Output, Value};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use crate::error::json_response;

/// A successful answer to `/query`.
pub(crate) enum Answer {
    /// The whole JSON body, built before sending.
    Json(Vec<u8>),
    /// A query's JSON body, still being written by its statement
    /// ([`crate::stream`]).
    Stream(Body),
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        match self {
            Answer::Json(body) => json_response(StatusCode::OK, body),
            Answer::Stream(body) => {
                let mut res = Response::new(body);
                res.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                res
            }
        }
    }
}

/// The body for a statement's output.
pub(crate) fn output_body(out: &Output) -> Vec<u8> {
    output_object(out, true)
}

/// The response object of a statement's output, with `"success": true`
/// first when `success` (a whole body), without it for an element of a
/// transaction's `results`.
fn output_object(out: &Output, success: bool) -> Vec<u8> {
    let body = match out {
        Output::Rows { columns, rows } => serde_json::to_vec(&RowsBody {
            success,
            columns,
            rows,
        }),
        Output::Affected(n) => serde_json::to_vec(&Affected {
            success,
            affected: *n,
        }),
        Output::Ok if success => return br#"{"success":true}"#.to_vec(),
        Output::Ok => return b"{}".to_vec(),
        Output::Plan(plan) => serde_json::to_vec(&PlanBody { success, plan }),
    };
    // Serialising into a Vec only fails on a non-string map key, and
    // every key here is a string.
    body.unwrap_or_default()
}

/// `{"success": true, "results": [...]}`: a transaction's statements'
/// outputs, in order.
pub(crate) fn results_body(outs: &[Output]) -> Vec<u8> {
    let mut body = br#"{"success":true,"results":["#.to_vec();
    for (i, out) in outs.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&output_object(out, false));
    }
    body.extend_from_slice(b"]}");
    body
}

/// Appends one row as a JSON object, as in [`output_body`]'s `data`.
pub(crate) fn write_row(out: &mut Vec<u8>, columns: &[Column], row: &[Value]) {
    // Writing into a Vec cannot fail, and every key is a string.
    let _ = serde_json::to_writer(out, &RowObject { columns, row });
}

/// `{"success": true, "inserted": N}`.
pub(crate) fn inserted_body(n: u64) -> Vec<u8> {
    format!(r#"{{"success":true,"inserted":{n}}}"#).into_bytes()
}

#[derive(Serialize)]
struct Affected {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    success: bool,
    affected: u64,
}

#[derive(Serialize)]
struct PlanBody<'a> {
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    success: bool,
    plan: &'a str,
}

/// `{"success": true, "data": [{...}, ...], "rows": N}` (without
/// `success` when it is false).
struct RowsBody<'a> {
    success: bool,
    columns: &'a [Column],
    rows: &'a [Vec<Value>],
}

impl Serialize for RowsBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(2 + usize::from(self.success)))?;
        if self.success {
            m.serialize_entry("success", &true)?;
        }
        m.serialize_entry(
            "data",
            &Data {
                columns: self.columns,
                rows: self.rows,
            },
        )?;
        m.serialize_entry("rows", &self.rows.len())?;
        m.end()
    }
}

struct Data<'a> {
    columns: &'a [Column],
    rows: &'a [Vec<Value>],
}

impl Serialize for Data<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.rows.len()))?;
        for row in self.rows {
            seq.serialize_element(&RowObject {
                columns: self.columns,
                row,
            })?;
        }
        seq.end()
    }
}

struct RowObject<'a> {
    columns: &'a [Column],
    row: &'a [Value],
}

impl Serialize for RowObject<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.columns.len()))?;
        for (c, v) in self.columns.iter().zip(self.row) {
            m.serialize_entry(&c.name, &JsonValue(v))?;
        }
        m.end()
    }
}

/// A value as JSON: `json` values nested, non-finite floats as null
/// (JSON has no NaN or infinity).
struct JsonValue<'a>(&'a Value);

impl Serialize for JsonValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Null => s.serialize_unit(),
            Value::Int(i) => s.serialize_i64(*i),
            Value::Float(x) if x.is_finite() => s.serialize_f64(*x),
            Value::Float(_) => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::String(v) => s.serialize_str(v),
            Value::Json(j) => j.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fasty_query::ColumnType;

    #[test]
    fn rows_are_objects_with_nested_json() {
        let col = |name: &str, ty| Column {
            name: name.into(),
            ty,
        };
        let out = Output::Rows {
            columns: vec![
                col("id", Some(ColumnType::Int)),
                col("x", Some(ColumnType::Float)),
                col("m", Some(ColumnType::Json)),
                col("count(*)", None),
            ],
            rows: vec![
                vec![
                    Value::Int(1),
                    Value::Float(2.5),
                    Value::Json(serde_json::json!({"a": [1, "b"]})),
                    Value::Null,
                ],
                vec![
                    Value::Int(-2),
                    Value::Float(f64::INFINITY),
                    Value::String("q\"".into()),
                    Value::Bool(false),
                ],
            ],
        };
        assert_eq!(
            String::from_utf8(output_body(&out)).unwrap(),
            r#"{"success":true,"data":[{"id":1,"x":2.5,"m":{"a":[1,"b"]},"count(*)":null},{"id":-2,"x":null,"m":"q\"","count(*)":false}],"rows":2}"#
        );
        assert_eq!(
            output_body(&Output::Affected(3)),
            br#"{"success":true,"affected":3}"#
        );
        assert_eq!(output_body(&Output::Ok), br#"{"success":true}"#);
        assert_eq!(
            output_body(&Output::Plan("scan t\n  filter".into())),
            br#"{"success":true,"plan":"scan t\n  filter"}"#
        );
        assert_eq!(inserted_body(7), br#"{"success":true,"inserted":7}"#);
    }
}
