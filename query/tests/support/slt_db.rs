//! fasty as a sqllogictest database, shared by the slt runner
//! (tests/slt.rs) and the SQLite differential test, which writes its
//! failures as .slt files in this format.
//!
//! How results print (query/tests/slt/README.md says the same):
//! - column type letters come from the result column's type as fasty
//!   knows it before running: `I` int, `R` float, `T` string, bool and
//!   json, `?` unknown (a json path, a null literal);
//! - values: `NULL`; ints in decimal; floats in Rust's shortest
//!   round-trip form, always with a `.` or an exponent (`10.0`, `41.25`);
//!   bools `true`/`false`; strings as they are, the empty string as
//!   `(empty)`; json compact (`{"level":5}`);
//! - `explain` is a query with one `T` column and one row per plan line,
//!   its indentation kept (the normaliser only trims the right end);
//! - `insert`/`upsert`/`update`/`delete` complete with their affected
//!   count (`statement count N`), DDL with 0;
//! - an error is `<code>: <message>`, then ` at line L, column C` for a
//!   syntax error and ` (hint: ...)` when there is a hint, so
//!   `statement error duplicate_key` matches by the stable code.
//!
//! Files directly in a `sql/` directory are SQL (docs/sql.md), the others the
//! fasty language. A SQL file whose first line is `# portable` also runs
//! against SQLite (label `sqlite`, so `skipif sqlite` / `onlyif fasty`
//! mark the records whose results differ, each with a comment saying why);
//! against SQLite only values are compared, not type letters.
#![allow(dead_code)]

use std::path::Path;

use fasty_query::{Column, Database, ExecOptions, Options, Output, Value};
use sqllogictest::{DBOutput, DefaultColumnType};

/// The language a .slt file's statements are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The fasty language (docs/language.md).
    Fasty,
    /// SQL, PostgreSQL dialect (docs/sql.md).
    Sql,
}

impl Dialect {
    /// The dialect of a file: SQL when its directory is named `sql`
    /// (only the file's own directory counts: the checkout's path may
    /// hold such a name too).
    pub fn of(path: &Path) -> Dialect {
        if path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|d| d == "sql")
        {
            Dialect::Sql
        } else {
            Dialect::Fasty
        }
    }
}

/// One in-memory fasty database behind the sqllogictest `DB` trait.
pub struct FastyDb {
    db: Database,
    dialect: Dialect,
}

impl FastyDb {
    /// A fresh, empty database in memory mode.
    pub fn memory() -> FastyDb {
        FastyDb::memory_with(Dialect::Fasty)
    }

    /// A fresh, empty database in memory mode that reads `dialect`.
    pub fn memory_with(dialect: Dialect) -> FastyDb {
        let db = Database::open("/nonexistent/slt-memory", Options::memory())
            .expect("a memory database opens");
        FastyDb { db, dialect }
    }

    /// Runs SQL text: every statement in it, giving the last one's output.
    fn run_sql(&self, sql: &str) -> fasty_query::Result<Output> {
        let mut out = Output::Ok;
        for stmt in fasty_query::parse_sql(sql)? {
            out = self.db.run(&stmt, ExecOptions::default())?;
        }
        Ok(out)
    }
}

/// A failed statement, as the runner matches it: `<code>: <message>...`.
#[derive(Debug)]
pub struct SltError(String);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SltError {}

/// The error text the .slt files match against.
pub fn error_text(e: &fasty_query::Error) -> String {
    let mut s = format!("{}: {}", e.code(), e.message());
    if let (Some(line), Some(column)) = (e.line(), e.column()) {
        s.push_str(&format!(" at line {line}, column {column}"));
    }
    if let Some(h) = e.hint() {
        s.push_str(&format!(" (hint: {h})"));
    }
    s
}

/// The type letter of a result column.
pub fn column_type(c: &Column) -> DefaultColumnType {
    match c.ty.map(|t| t.name()) {
        Some("int") => DefaultColumnType::Integer,
        Some("float") => DefaultColumnType::FloatingPoint,
        Some(_) => DefaultColumnType::Text,
        None => DefaultColumnType::Any,
    }
}

/// One value as it prints in a result line.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "NULL".into(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => format!("{x:?}"),
        Value::Bool(b) => b.to_string(),
        Value::String(s) if s.is_empty() => "(empty)".into(),
        Value::String(s) => s.clone(),
        Value::Json(j) => j.to_string(),
    }
}

/// A statement's output as sqllogictest sees it.
pub fn to_slt(out: Output) -> DBOutput<DefaultColumnType> {
    match out {
        Output::Rows { columns, rows } => DBOutput::Rows {
            types: columns.iter().map(column_type).collect(),
            rows: rows
                .iter()
                .map(|r| r.iter().map(value_text).collect())
                .collect(),
        },
        Output::Plan(p) => DBOutput::Rows {
            types: vec![DefaultColumnType::Text],
            rows: p.lines().map(|l| vec![l.to_string()]).collect(),
        },
        Output::Affected(n) => DBOutput::StatementComplete(n),
        Output::Ok => DBOutput::StatementComplete(0),
    }
}

impl sqllogictest::DB for FastyDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let out = match self.dialect {
            Dialect::Fasty => self.db.execute(sql),
            Dialect::Sql => self.run_sql(sql),
        };
        out.map(to_slt).map_err(|e| SltError(error_text(&e)))
    }

    fn engine_name(&self) -> &str {
        "fasty"
    }
}

/// Compares result lines with only the right end trimmed, so the
/// indentation of `explain` output counts.
#[allow(clippy::ptr_arg)] // the runner's normaliser signature
fn trim_end(s: &String) -> String {
    s.trim_end().to_string()
}

/// A runner over a fresh in-memory database, comparing column types and
/// values strictly.
pub fn runner() -> sqllogictest::Runner<FastyDb, impl sqllogictest::MakeConnection<Conn = FastyDb>>
{
    runner_with(Dialect::Fasty)
}

/// [`runner`] for files in `dialect`.
pub fn runner_with(
    dialect: Dialect,
) -> sqllogictest::Runner<FastyDb, impl sqllogictest::MakeConnection<Conn = FastyDb>> {
    let mut r = sqllogictest::Runner::new(move || async move {
        Ok::<_, SltError>(FastyDb::memory_with(dialect))
    });
    r.with_normalizer(trim_end);
    r.with_column_validator(sqllogictest::strict_column_validator);
    r.add_label("fasty");
    r
}

/// Runs one .slt file on a fresh database; the error names the file and
/// line of the first record that failed.
pub fn run_file(path: &Path) -> Result<(), String> {
    let dialect = Dialect::of(path);
    let mut r = runner_with(dialect);
    let res = r.run_file(path).map_err(|e| e.display(false).to_string());
    r.shutdown();
    res?;
    if dialect == Dialect::Sql && is_portable(path) {
        let mut r = sqlite_runner();
        let res = r
            .run_file(path)
            .map_err(|e| format!("against SQLite: {}", e.display(false)));
        r.shutdown();
        res?;
    }
    Ok(())
}

/// Whether a file's first line is `# portable`: it runs against SQLite too.
pub fn is_portable(path: &Path) -> bool {
    std::fs::read_to_string(path)
        .is_ok_and(|t| t.lines().next().is_some_and(|l| l.trim() == "# portable"))
}

/// SQLite in memory behind the sqllogictest `DB` trait, for the portable
/// SQL files. Values print as fasty's do (floats in shortest round-trip
/// form); an error is SQLite's message.
pub struct SqliteDb {
    conn: rusqlite::Connection,
}

impl sqllogictest::DB for SqliteDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        use rusqlite::types::ValueRef;
        let err = |e: rusqlite::Error| SltError(format!("sqlite: {e}"));
        let mut stmt = self.conn.prepare(sql).map_err(err)?;
        let width = stmt.column_count();
        if width == 0 {
            let n = stmt.execute([]).map_err(err)?;
            return Ok(DBOutput::StatementComplete(n as u64));
        }
        let mut rows = stmt.query([]).map_err(err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(err)? {
            let mut line = Vec::with_capacity(width);
            for i in 0..width {
                line.push(match row.get_ref(i).map_err(err)? {
                    ValueRef::Null => "NULL".to_string(),
                    ValueRef::Integer(i) => i.to_string(),
                    ValueRef::Real(x) => format!("{x:?}"),
                    ValueRef::Text([]) => "(empty)".to_string(),
                    ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    ValueRef::Blob(_) => "(blob)".to_string(),
                });
            }
            out.push(line);
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; width],
            rows: out,
        })
    }

    fn engine_name(&self) -> &str {
        "sqlite"
    }
}

/// A runner over a fresh in-memory SQLite, comparing values only.
pub fn sqlite_runner()
-> sqllogictest::Runner<SqliteDb, impl sqllogictest::MakeConnection<Conn = SqliteDb>> {
    let mut r = sqllogictest::Runner::new(|| async {
        rusqlite::Connection::open_in_memory()
            .map(|conn| SqliteDb { conn })
            .map_err(|e| SltError(e.to_string()))
    });
    r.with_normalizer(trim_end);
    r.with_column_validator(|_, _| true);
    r.add_label("sqlite");
    r
}

/// Runs .slt text on a fresh database (`name` is what failures cite).
pub fn run_script(script: &str, name: &str) -> Result<(), String> {
    let mut r = runner();
    let res = r
        .run_script_with_name(script, name.to_string())
        .map_err(|e| e.display(false).to_string());
    r.shutdown();
    res
}

/// Rewrites the expected results of `path` with what fasty gives now
/// (`FASTY_BLESS=1`). Read the diff before committing it.
pub fn bless_file(path: &Path) -> Result<(), String> {
    let mut r = runner_with(Dialect::of(path));
    let res = futures_block_on(r.update_test_file(
        path,
        " ",
        sqllogictest::default_validator,
        trim_end,
        sqllogictest::strict_column_validator,
    ))
    .map_err(|e| e.to_string());
    r.shutdown();
    res
}

/// Drives a future to completion on this thread (the runner's futures
/// never wait on anything outside it).
fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::yield_now();
    }
}
