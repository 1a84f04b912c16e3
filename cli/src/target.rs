//! Where a command runs: an embedded [`Database`] on a data directory, or
//! a server reached over HTTP (`--server URL`). Both give the same
//! [`Answer`]s and the same JSON response objects (docs/http.md), so `query`,
//! `shell` and `import` do not care which it is.

use std::fmt;
use std::path::PathBuf;

use clap::Args;
use fasty_query::{Database, InsertMode, Options, Output, Value};
use serde::Deserialize;

use crate::Result;
use crate::client::Client;

/// `--server URL | --data-dir DIR`.
#[derive(Args, Debug, Clone)]
pub struct TargetArgs {
    /// A running server (`http://127.0.0.1:8000`) instead of a data
    /// directory.
    #[arg(long, value_name = "URL", conflicts_with = "data_dir")]
    pub server: Option<String>,
    /// The data directory, opened embedded. It must exist (only
    /// `import --create` makes a missing one) and not be in use by a
    /// server.
    #[arg(long, value_name = "DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Bearer token for a server started with --auth-token.
    #[arg(
        long,
        env = "FASTY_AUTH_TOKEN",
        value_name = "T",
        hide_env_values = true
    )]
    pub auth_token: Option<String>,
}

impl TargetArgs {
    /// Opens an existing database or prepares the client. A missing data
    /// directory is an error, never created: a command run in the wrong
    /// directory must not leave an empty database behind.
    pub fn open(&self) -> Result<Target> {
        self.open_with(false)
    }

    /// Like [`TargetArgs::open`], but creates a missing data directory
    /// (for commands that create tables, such as `import --create`).
    pub fn open_or_create(&self) -> Result<Target> {
        self.open_with(true)
    }

    fn open_with(&self, create: bool) -> Result<Target> {
        match &self.server {
            Some(url) => Ok(Target::Remote(Client::new(url, self.auth_token.clone())?)),
            None => {
                if !create {
                    require_dir(&self.data_dir)?;
                }
                let db = Database::open(&self.data_dir, Options::default())
                    .map_err(|e| open_error(&self.data_dir, &e.to_string()))?;
                Ok(Target::Local(db))
            }
        }
    }
}

/// Refuses a missing data directory with what to do instead.
pub fn require_dir(dir: &std::path::Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let what = if dir.exists() {
        "is not a directory"
    } else {
        "does not exist"
    };
    Err(format!(
        "data directory {} {what}: pass --data-dir DIR for an existing database or \
         --server URL for a running server (to start a new database, create the directory)",
        dir.display()
    )
    .into())
}

/// `cannot open the data directory …`, with a hint when a server holds it.
pub fn open_error(dir: &std::path::Path, e: &str) -> Box<dyn std::error::Error + Send + Sync> {
    let hint = if e.contains("in use") {
        "; if a server runs on it, pass --server URL instead of --data-dir"
    } else {
        ""
    };
    format!(
        "cannot open the data directory {}: {e}{hint}",
        dir.display()
    )
    .into()
}

/// An embedded database or a server.
pub enum Target {
    /// A data directory, opened in this process.
    Local(Database),
    /// A server.
    Remote(Client),
}

/// A successful statement's result, as shown to a user.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// Rows: column names (empty when a server returned no rows) and the
    /// values as JSON.
    Rows {
        /// Column names, in order.
        columns: Vec<String>,
        /// One JSON value per column.
        rows: Vec<Vec<serde_json::Value>>,
    },
    /// Rows changed.
    Affected(u64),
    /// DDL done.
    Ok,
    /// An `explain` plan.
    Plan(String),
    /// Rows inserted by a batch.
    Inserted(u64),
}

/// A failed statement or request: the `error` object of docs/http.md.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ApiError {
    /// The stable code.
    pub code: String,
    /// One line.
    pub message: String,
    /// 1-based line of a syntax error.
    pub line: Option<u64>,
    /// 1-based column of a syntax error.
    pub column: Option<u64>,
    /// `did you mean …?`
    pub hint: Option<String>,
}

impl ApiError {
    fn new(code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            code: code.into(),
            message: message.into(),
            line: None,
            column: None,
            hint: None,
        }
    }

    fn from_query(e: &fasty_query::Error) -> ApiError {
        ApiError {
            code: e.code().as_str().into(),
            message: e.message(),
            line: e.line().map(u64::from),
            column: e.column().map(u64::from),
            hint: e.hint().map(str::to_string),
        }
    }

    /// The docs/http.md error response object, fields in the order of the
    /// spec (`success` first, then `code`, `message`, `line`, `column`,
    /// `hint`).
    pub fn to_json(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_string()).to_string();
        let mut e = format!(
            "{{\"success\":false,\"error\":{{\"code\":{},\"message\":{}",
            q(&self.code),
            q(&self.message)
        );
        if let Some(l) = self.line {
            e.push_str(&format!(",\"line\":{l}"));
        }
        if let Some(c) = self.column {
            e.push_str(&format!(",\"column\":{c}"));
        }
        if let Some(h) = &self.hint {
            e.push_str(&format!(",\"hint\":{}", q(h)));
        }
        e.push_str("}}");
        e
    }
}

/// One line: `syntax_error at 1:8: unexpected "selec" (did you mean "select"?)`.
impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, " at {l}:{c}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " ({h})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// An error already shown to the user (a query error printed as JSON on
/// stdout): `main` exits 1 without printing it again.
#[derive(Debug)]
pub struct Reported;

impl fmt::Display for Reported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("reported")
    }
}

impl std::error::Error for Reported {}

/// A row object, its fields in the order the server sent them.
struct OrderedRow(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for OrderedRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = OrderedRow;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a row object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<OrderedRow, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some(kv) = map.next_entry()? {
                    fields.push(kv);
                }
                Ok(OrderedRow(fields))
            }
        }
        d.deserialize_map(V)
    }
}

/// The body of a `POST /query` reply.
#[derive(Deserialize)]
struct QueryBody {
    success: bool,
    data: Option<Vec<OrderedRow>>,
    affected: Option<u64>,
    plan: Option<String>,
    inserted: Option<u64>,
    error: Option<ApiError>,
}

impl Target {
    /// Runs one statement.
    pub fn query(&self, text: &str) -> Result<Answer, ApiError> {
        match self {
            Target::Local(db) => match db.execute(text) {
                Ok(out) => Ok(answer(out)),
                Err(e) => Err(ApiError::from_query(&e)),
            },
            Target::Remote(c) => {
                let body = serde_json::json!({ "query": text }).to_string();
                parse_reply(c, &post(c, &body)?)
            }
        }
    }

    /// Runs one statement in `session` (on a data directory: `begin`,
    /// `commit` and `rollback` act on the session's transaction); on a
    /// server, as [`Target::query`].
    pub fn query_in(
        &self,
        session: &mut fasty_query::Session,
        text: &str,
    ) -> Result<Answer, ApiError> {
        match self {
            Target::Local(db) => match session.execute(db, text) {
                Ok(out) => Ok(answer(out)),
                Err(e) => Err(ApiError::from_query(&e)),
            },
            Target::Remote(_) => self.query(text),
        }
    }

    /// Runs one statement and gives the docs/http.md response object as JSON
    /// text: `Ok` on success, `Err` holding the error object otherwise.
    pub fn query_json(&self, text: &str) -> std::result::Result<String, String> {
        match self {
            Target::Local(db) => match db.execute(text) {
                Ok(out) => Ok(output_json(&out)),
                Err(e) => Err(ApiError::from_query(&e).to_json()),
            },
            Target::Remote(c) => {
                let body = serde_json::json!({ "query": text }).to_string();
                match post(c, &body) {
                    Ok(r) => {
                        let text = r.body.trim_end().to_string();
                        match serde_json::from_str::<QueryBody>(&text) {
                            Ok(b) if b.success && r.status == 200 => Ok(text),
                            Ok(_) => Err(text),
                            Err(_) => Err(http_error(&r).to_json()),
                        }
                    }
                    Err(e) => Err(e.to_json()),
                }
            }
        }
    }

    /// Inserts (or upserts) one atomic batch of rows.
    pub fn insert(
        &self,
        table: &str,
        rows: Vec<Vec<(String, Value)>>,
        mode: InsertMode,
    ) -> Result<u64, ApiError> {
        match self {
            Target::Local(db) => db
                .insert_rows(table, rows, mode)
                .map_err(|e| ApiError::from_query(&e)),
            Target::Remote(c) => {
                let rows: Vec<serde_json::Value> = rows
                    .into_iter()
                    .map(|r| {
                        serde_json::Value::Object(
                            r.into_iter().map(|(k, v)| (k, v.to_json())).collect(),
                        )
                    })
                    .collect();
                let mut body = serde_json::json!({ "table": table, "rows": rows });
                if mode == InsertMode::Upsert {
                    body["mode"] = "upsert".into();
                }
                match parse_reply(c, &post(c, &body.to_string())?)? {
                    Answer::Inserted(n) | Answer::Affected(n) => Ok(n),
                    other => Err(ApiError::new(
                        "unexpected_reply",
                        format!("the server answered a batch with {other:?}"),
                    )),
                }
            }
        }
    }

    /// The tables, sorted. A server is asked through `GET /stats`.
    pub fn tables(&self) -> Result<Vec<String>> {
        match self {
            Target::Local(db) => Ok(db.tables()),
            Target::Remote(c) => {
                let stats = remote_stats(c)?;
                let mut names: Vec<String> = match stats.get("tables") {
                    Some(serde_json::Value::Array(a)) => a
                        .iter()
                        .filter_map(|t| match t {
                            serde_json::Value::String(s) => Some(s.clone()),
                            serde_json::Value::Object(o) => {
                                o.get("name").and_then(|n| n.as_str()).map(str::to_string)
                            }
                            _ => None,
                        })
                        .collect(),
                    Some(serde_json::Value::Object(o)) => o.keys().cloned().collect(),
                    _ => {
                        return Err("the server's /stats does not list its tables".into());
                    }
                };
                names.sort();
                Ok(names)
            }
        }
    }

    /// A table's columns and indexes: embedded from the catalog, on a
    /// server through `GET /schema/{table}`.
    pub fn schema(&self, table: &str) -> Result<Schema, ApiError> {
        match self {
            Target::Local(db) => {
                let (cols, indexes) = db.schema(table).map_err(|e| ApiError::from_query(&e))?;
                Ok(Schema {
                    name: table.to_string(),
                    columns: cols
                        .into_iter()
                        .map(|c| (c.name.clone(), c.ty.name().to_string()))
                        .collect(),
                    indexes: indexes.into_iter().map(|i| (i, Vec::new())).collect(),
                })
            }
            Target::Remote(c) => {
                let path = format!("/schema/{}", percent_encode(table));
                let data = remote_data(c, &path).map_err(|e| match e.downcast::<ApiError>() {
                    Ok(api) => *api,
                    Err(other) => ApiError::new("connection_error", other.to_string()),
                })?;
                serde_json::from_value::<Schema>(data).map_err(|e| {
                    ApiError::new(
                        "unexpected_reply",
                        format!("the server's GET {path} answered an unexpected shape: {e}"),
                    )
                })
            }
        }
    }

    /// Every table's schema, by name: embedded from the catalog, on a
    /// server through `GET /schema`.
    pub fn schemas(&self) -> Result<Vec<Schema>> {
        match self {
            Target::Local(db) => db
                .tables()
                .iter()
                .map(|t| self.schema(t).map_err(Into::into))
                .collect(),
            Target::Remote(c) => {
                let data = remote_data(c, "/schema")?;
                let mut all: Vec<Schema> = serde_json::from_value(data).map_err(|e| {
                    format!("the server's GET /schema answered an unexpected shape: {e}")
                })?;
                all.sort_by(|a, b| a.name.cmp(&b.name));
                Ok(all)
            }
        }
    }

    /// Checks that a server answers `GET /health` (an embedded database
    /// is open already).
    pub fn check(&self) -> Result<()> {
        if let Target::Remote(c) = self {
            let r = c
                .get("/health")
                .map_err(|e| format!("{e}; is `fasty serve` running there? check --server"))?;
            if r.status != 200 {
                return Err(format!(
                    "the server at {} is not healthy: {}",
                    c.base(),
                    http_error(&r)
                )
                .into());
            }
        }
        Ok(())
    }
}

/// A table's columns and indexes, in the shape of `GET /schema/{table}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Schema {
    /// The table.
    pub name: String,
    /// `(name, type)` in declaration order.
    #[serde(deserialize_with = "columns_from_objects")]
    pub columns: Vec<(String, String)>,
    /// `(name, columns)`; the columns are unknown (empty) embedded.
    #[serde(default, deserialize_with = "indexes_from_objects")]
    pub indexes: Vec<(String, Vec<String>)>,
}

fn columns_from_objects<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<(String, String)>, D::Error> {
    #[derive(Deserialize)]
    struct Column {
        name: String,
        #[serde(rename = "type")]
        ty: String,
    }
    let cols = Vec::<Column>::deserialize(d)?;
    Ok(cols.into_iter().map(|c| (c.name, c.ty)).collect())
}

fn indexes_from_objects<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<(String, Vec<String>)>, D::Error> {
    #[derive(Deserialize)]
    struct Index {
        name: String,
        #[serde(default)]
        columns: Vec<String>,
    }
    let idx = Vec::<Index>::deserialize(d)?;
    Ok(idx.into_iter().map(|i| (i.name, i.columns)).collect())
}

/// A path segment with everything but unreserved characters escaped.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `GET path`'s `data`, or its error object as an [`ApiError`].
pub fn remote_data(c: &Client, path: &str) -> Result<serde_json::Value> {
    let r = c.get(path)?;
    data_of(&r)
}

/// `POST path` with a JSON body; its `data` (null when it has none), or
/// its error object as an [`ApiError`].
pub fn remote_post(c: &Client, path: &str, body: &serde_json::Value) -> Result<serde_json::Value> {
    let r = c.post_json(path, &body.to_string())?;
    data_of(&r)
}

fn data_of(r: &crate::client::Reply) -> Result<serde_json::Value> {
    let mut v: serde_json::Value = match serde_json::from_str(&r.body) {
        Ok(v) => v,
        Err(_) => return Err(http_error(r).into()),
    };
    if r.status != 200 || v.get("success") != Some(&serde_json::Value::Bool(true)) {
        let e: Option<ApiError> = v
            .get("error")
            .and_then(|e| serde_json::from_value(e.clone()).ok());
        return Err(e.unwrap_or_else(|| http_error(r)).into());
    }
    Ok(v["data"].take())
}

/// `GET /stats`'s `data` object.
pub fn remote_stats(c: &Client) -> Result<serde_json::Value> {
    remote_data(c, "/stats")
}

fn post(c: &Client, body: &str) -> Result<crate::client::Reply, ApiError> {
    c.post_json("/query", body)
        .map_err(|e| ApiError::new("connection_error", e.to_string()))
}

fn http_error(r: &crate::client::Reply) -> ApiError {
    let mut snippet: String = r.body.chars().take(200).collect();
    if snippet.is_empty() {
        snippet = "empty body".into();
    }
    ApiError::new(
        "http_error",
        format!("the server answered {}: {}", r.status, snippet.trim()),
    )
}

fn parse_reply(_c: &Client, r: &crate::client::Reply) -> Result<Answer, ApiError> {
    let body: QueryBody = serde_json::from_str(&r.body).map_err(|_| http_error(r))?;
    if !body.success {
        return Err(body.error.unwrap_or_else(|| http_error(r)));
    }
    if let Some(rows) = body.data {
        let columns: Vec<String> = rows
            .first()
            .map(|r| r.0.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default();
        let rows = rows
            .into_iter()
            .map(|r| {
                // Fields by position when the order matches, else by name.
                if r.0.len() == columns.len() && r.0.iter().zip(&columns).all(|((k, _), c)| k == c)
                {
                    r.0.into_iter().map(|(_, v)| v).collect()
                } else {
                    columns
                        .iter()
                        .map(|c| {
                            r.0.iter()
                                .find(|(k, _)| k == c)
                                .map_or(serde_json::Value::Null, |(_, v)| v.clone())
                        })
                        .collect()
                }
            })
            .collect();
        return Ok(Answer::Rows { columns, rows });
    }
    if let Some(n) = body.affected {
        return Ok(Answer::Affected(n));
    }
    if let Some(n) = body.inserted {
        return Ok(Answer::Inserted(n));
    }
    if let Some(p) = body.plan {
        return Ok(Answer::Plan(p));
    }
    Ok(Answer::Ok)
}

fn answer(out: Output) -> Answer {
    match out {
        Output::Rows { columns, rows } => Answer::Rows {
            columns: columns.into_iter().map(|c| c.name).collect(),
            rows: rows
                .into_iter()
                .map(|r| r.iter().map(Value::to_json).collect())
                .collect(),
        },
        Output::Affected(n) => Answer::Affected(n),
        Output::Ok => Answer::Ok,
        Output::Plan(p) => Answer::Plan(p),
    }
}

/// The docs/http.md response object of a statement run embedded, row fields in
/// column order.
pub fn output_json(out: &Output) -> String {
    match out {
        Output::Rows { columns, rows } => {
            let names: Vec<String> = columns
                .iter()
                .map(|c| serde_json::Value::String(c.name.clone()).to_string())
                .collect();
            let mut s = String::from("{\"success\":true,\"data\":[");
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push('{');
                for (j, (name, v)) in names.iter().zip(row).enumerate() {
                    if j > 0 {
                        s.push(',');
                    }
                    s.push_str(name);
                    s.push(':');
                    s.push_str(&v.to_json().to_string());
                }
                s.push('}');
            }
            s.push_str(&format!("],\"rows\":{}}}", rows.len()));
            s
        }
        Output::Affected(n) => serde_json::json!({"success": true, "affected": n}).to_string(),
        Output::Ok => serde_json::json!({"success": true}).to_string(),
        Output::Plan(p) => serde_json::json!({"success": true, "plan": p}).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_display_is_one_line_with_position_and_hint() {
        let e = ApiError {
            code: "syntax_error".into(),
            message: "unexpected \"selec\"".into(),
            line: Some(1),
            column: Some(1),
            hint: Some("did you mean \"select\"?".into()),
        };
        assert_eq!(
            e.to_string(),
            "syntax_error at 1:1: unexpected \"selec\" (did you mean \"select\"?)"
        );
        let j: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(j["success"], false);
        assert_eq!(j["error"]["line"], 1);
    }
}
