//! Request bodies, serialised before a section starts so that the timed
//! loop only clones reference-counted bytes, and what each answer must say.
//! The rows are `query::data`'s `users`, by seed.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::data::User;

/// The statements of the schema: `users` with its email index.
pub fn schema(table: &str) -> [String; 2] {
    [
        format!(
            "create table {table} {{ id: int, name: string, email: string, age: int, \
             balance: float, active: bool }}"
        ),
        format!("create index idx_{table}_email on {table} (email)"),
    ]
}

/// What a correct answer to one request says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Expect {
    /// `{"success": true, "inserted": N}`.
    Inserted(u64),
    /// `{"success": true}` with anything else (DDL).
    Success,
    /// `rows` rows; the first with this id, where known.
    Rows { rows: u64, first_id: Option<i64> },
}

/// One pre-serialised request and its expected answer.
#[derive(Clone, Debug)]
pub struct Req {
    /// The JSON body of `POST /query`.
    pub body: Bytes,
    /// What the answer must say.
    pub expect: Expect,
    /// Rows the request inserts (0 for queries).
    pub rows: u64,
}

#[derive(Serialize)]
struct RowsBody<'a> {
    table: &'a str,
    rows: Vec<UserRow<'a>>,
}

#[derive(Serialize)]
struct UserRow<'a> {
    id: i64,
    name: &'a str,
    email: &'a str,
    age: i64,
    balance: f64,
    active: bool,
}

#[derive(Serialize)]
struct QueryBody<'a> {
    query: &'a str,
}

/// `{"table": T, "rows": [...]}` for `users`, one request per `batch`
/// rows (the last may be shorter).
pub fn insert_batches(table: &str, users: &[User], batch: usize) -> Vec<Req> {
    users
        .chunks(batch.max(1))
        .map(|chunk| Req {
            body: Bytes::from(insert_body(table, chunk)),
            expect: Expect::Inserted(chunk.len() as u64),
            rows: chunk.len() as u64,
        })
        .collect()
}

/// The JSON body `{"table": T, "rows": [...]}` inserting `users`.
pub fn insert_body(table: &str, users: &[User]) -> Vec<u8> {
    let body = RowsBody {
        table,
        rows: users
            .iter()
            .map(|u| UserRow {
                id: u.id,
                name: &u.name,
                email: &u.email,
                age: u.age,
                balance: u.balance,
                active: u.active,
            })
            .collect(),
    };
    // Serialising plain structs into a Vec cannot fail.
    serde_json::to_vec(&body).unwrap_or_default()
}

/// `{"query": text}`.
pub fn query(text: &str, expect: Expect) -> Req {
    Req {
        body: Bytes::from(serde_json::to_vec(&QueryBody { query: text }).unwrap_or_default()),
        expect,
        rows: 0,
    }
}

/// A JSON string literal of the query language (double quotes, escaped).
pub fn string_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The parts of an answer the checks read; everything else is skipped.
#[derive(Deserialize)]
struct Answer {
    success: bool,
    #[serde(default)]
    rows: Option<u64>,
    #[serde(default)]
    inserted: Option<u64>,
    #[serde(default)]
    data: Option<Vec<RowView>>,
}

#[derive(Deserialize)]
struct RowView {
    #[serde(default)]
    id: Option<i64>,
}

/// Checks one answer against `expect`: `Ok(())` or what was wrong, in one
/// line.
pub fn check(status: u16, body: &[u8], expect: Expect) -> Result<(), String> {
    if status != 200 {
        return Err(format!("HTTP {status}: {}", snippet(body)));
    }
    let a: Answer = serde_json::from_slice(body)
        .map_err(|e| format!("unreadable answer ({e}): {}", snippet(body)))?;
    if !a.success {
        return Err(format!("success false: {}", snippet(body)));
    }
    match expect {
        Expect::Success => Ok(()),
        Expect::Inserted(n) => match a.inserted {
            Some(m) if m == n => Ok(()),
            other => Err(format!("inserted {other:?}, expected {n}")),
        },
        Expect::Rows { rows, first_id } => {
            let data = a.data.unwrap_or_default();
            if data.len() as u64 != rows || a.rows.is_some_and(|r| r != rows) {
                return Err(format!(
                    "{} rows (\"rows\": {:?}), expected {rows}",
                    data.len(),
                    a.rows
                ));
            }
            match (first_id, data.first()) {
                (Some(id), Some(r)) if r.id != Some(id) => {
                    Err(format!("first row has id {:?}, expected {id}", r.id))
                }
                _ => Ok(()),
            }
        }
    }
}

/// The start of a body, for error messages.
fn snippet(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(&body[..body.len().min(160)]);
    s.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::UserStream;

    #[test]
    fn batches_serialise_every_row() {
        let users = UserStream::new(1).take(5);
        let reqs = insert_batches("users", &users, 2);
        assert_eq!(reqs.len(), 3);
        assert_eq!(reqs[2].expect, Expect::Inserted(1));
        let v: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
        assert_eq!(v["table"], "users");
        assert_eq!(v["rows"][1]["id"], 2);
        assert_eq!(v["rows"][1]["email"], users[1].email.as_str());
    }

    #[test]
    fn checks_accept_right_answers_and_refuse_wrong_ones() {
        let ins = Expect::Inserted(2);
        assert!(check(200, br#"{"success":true,"inserted":2}"#, ins).is_ok());
        assert!(check(200, br#"{"success":true,"inserted":1}"#, ins).is_err());
        assert!(check(400, br#"{"success":false}"#, ins).is_err());
        assert!(check(200, b"not json", ins).is_err());
        assert!(check(200, br#"{"success":false,"inserted":2}"#, ins).is_err());
        let one = Expect::Rows {
            rows: 1,
            first_id: Some(7),
        };
        assert!(
            check(
                200,
                br#"{"success":true,"data":[{"id":7,"name":"x"}],"rows":1}"#,
                one
            )
            .is_ok()
        );
        assert!(check(200, br#"{"success":true,"data":[{"id":8}],"rows":1}"#, one).is_err());
        assert!(check(200, br#"{"success":true,"data":[],"rows":0}"#, one).is_err());
    }

    #[test]
    fn literals_escape_quotes() {
        assert_eq!(string_literal(r#"a"b\c"#), r#""a\"b\\c""#);
        let req = query(
            &format!("find users where email = {}", string_literal("x@y")),
            Expect::Success,
        );
        let v: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(v["query"], r#"find users where email = "x@y""#);
    }
}
