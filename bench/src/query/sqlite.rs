//! SQLite (bundled by rusqlite) as fasty's peer: WAL journal,
//! `synchronous=NORMAL` (no fsync per commit, as fasty's async mode), a
//! page cache as large as fasty's block cache, the equivalent schema
//! (`INTEGER PRIMARY KEY` ids, an index on `users(email)`), and every
//! statement prepared once and cached (`prepare_cached`).
//!
//! Rows are handed back as owned `fasty_query::Value`s, the same work
//! fasty's `execute` does for its caller.

use std::path::Path;

use fasty_query::Value;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, params};

use super::data::{Order, User};
use super::{Error, QueryDb, Result, Row, io_err};

/// SQLite's page cache, in KiB: fasty's default block-cache budget.
const CACHE_KIB: i64 = 128 << 10;

const SCHEMA: &str = "
    CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT, email TEXT, age INTEGER,
                        balance REAL, active INTEGER);
    CREATE INDEX idx_email ON users (email);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, amount REAL);";

const INSERT_USER: &str =
    "INSERT INTO users (id, name, email, age, balance, active) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
const INSERT_ORDER: &str = "INSERT INTO orders (id, user_id, amount) VALUES (?1, ?2, ?3)";
const BY_ID: &str = "SELECT * FROM users WHERE id = ?1";
const BY_EMAIL: &str = "SELECT * FROM users WHERE email = ?1";
const RANGE: &str = "SELECT * FROM users WHERE id >= ?1 AND id < ?2";
const TOP: &str = "SELECT * FROM users ORDER BY balance DESC LIMIT ?1";
const JOIN: &str =
    "SELECT count(*), sum(orders.amount) FROM orders JOIN users ON orders.user_id = users.id";
const COUNT: &str = "SELECT count(*) FROM users WHERE age > ?1";

/// An open connection.
pub struct SqliteDb {
    conn: Connection,
}

impl SqliteDb {
    /// Creates a database file in the new directory `dir`.
    pub fn open(dir: &Path) -> Result<SqliteDb> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let conn = Connection::open(dir.join("bench.sqlite"))?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Shape(format!(
                "SQLite refused WAL mode (journal_mode={mode})"
            )));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        conn.set_prepared_statement_cache_capacity(16);
        Ok(SqliteDb { conn })
    }

    fn users(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let mut rows = stmt.query(params)?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(6);
            for i in 0..6 {
                row.push(owned(r.get_ref(i)?, i == 5));
            }
            out.push(row);
        }
        Ok(out)
    }
}

/// A column value as fasty would return it (`active` is stored as 0/1).
fn owned(v: ValueRef<'_>, is_bool: bool) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) if is_bool => Value::Bool(i != 0),
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Float(f),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            Value::String(String::from_utf8_lossy(t).into_owned())
        }
    }
}

impl QueryDb for SqliteDb {
    fn name(&self) -> &'static str {
        "SQLite"
    }

    fn setup(&self) -> String {
        format!(
            "SQLite {} (bundled by rusqlite 0.41): journal_mode=WAL, synchronous=NORMAL, \
             cache_size {} MiB (fasty's block-cache budget), other pragmas default; \
             INTEGER PRIMARY KEY ids, bool as INTEGER; load: one transaction per batch with \
             a cached prepared INSERT; queries: cached prepared statements with bound \
             parameters, rows read into owned values",
            rusqlite::version(),
            CACHE_KIB >> 10
        )
    }

    fn create_schema(&mut self) -> Result<()> {
        self.conn.execute_batch(SCHEMA)?;
        Ok(())
    }

    fn insert_users(&mut self, rows: &[User]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(INSERT_USER)?;
            for u in rows {
                stmt.execute(params![u.id, u.name, u.email, u.age, u.balance, u.active])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn insert_orders(&mut self, rows: &[Order]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(INSERT_ORDER)?;
            for o in rows {
                stmt.execute(params![o.id, o.user_id, o.amount])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn settle(&mut self) -> Result<Option<String>> {
        Ok(None)
    }

    fn user_by_id(&mut self, id: i64) -> Result<Vec<Row>> {
        self.users(BY_ID, [id])
    }

    fn user_by_email(&mut self, email: &str) -> Result<Vec<Row>> {
        self.users(BY_EMAIL, [email])
    }

    fn users_in_range(&mut self, lo: i64, hi: i64) -> Result<Vec<Row>> {
        self.users(RANGE, [lo, hi])
    }

    fn top_by_balance(&mut self, k: usize) -> Result<Vec<Row>> {
        self.users(TOP, [k as i64])
    }

    fn join_count_sum(&mut self) -> Result<(i64, f64)> {
        let mut stmt = self.conn.prepare_cached(JOIN)?;
        let (n, sum): (i64, Option<f64>) = stmt.query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok((n, sum.unwrap_or(0.0)))
    }

    fn count_older(&mut self, age: i64) -> Result<i64> {
        let mut stmt = self.conn.prepare_cached(COUNT)?;
        Ok(stmt.query_row([age], |r| r.get(0))?)
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.conn.close().map_err(|(_, e)| Error::Sqlite(e))
    }
}
