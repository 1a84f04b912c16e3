//! SQLite (bundled by rusqlite) as the suite runs it: one database file
//! in WAL mode, one connection per client thread, `synchronous=NORMAL`
//! (`sqlite`, no fsync per commit, like fasty's async mode) or `FULL`
//! (`sqlite-full`, an fsync per commit, like fasty's durable mode), a page
//! cache as large as fasty's block cache, every statement prepared once
//! per connection and cached. Writers take the lock up front
//! (`BEGIN IMMEDIATE`) and wait for it (`busy_timeout`), as concurrent
//! SQLite writers must.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, TransactionBehavior, params};

use super::recovery::Engine;
use super::system::{Conn, Result, System};
use crate::data::{AgeGroup, Order, User};

/// SQLite's page cache per connection, in KiB: fasty's block-cache budget.
const CACHE_KIB: i64 = 128 << 10;
/// How long a writer waits for the write lock before failing.
const BUSY: Duration = Duration::from_secs(600);

fn err(e: impl std::fmt::Display) -> String {
    format!("sqlite: {e}")
}

/// One SQLite database file.
pub struct Sqlite {
    name: &'static str,
    path: PathBuf,
    synchronous: &'static str,
}

impl Sqlite {
    /// A database in the new directory `dir`, `full` choosing
    /// `synchronous=FULL` over `NORMAL`.
    pub fn open(name: &'static str, dir: &Path, full: bool) -> Result<Sqlite> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let sys = Sqlite {
            name,
            path: dir.join("bench.sqlite"),
            synchronous: if full { "FULL" } else { "NORMAL" },
        };
        drop(sys.connection()?);
        Ok(sys)
    }

    fn connection(&self) -> Result<Connection> {
        open_file(&self.path, self.synchronous == "FULL")
    }
}

/// A connection to the database file `path` with the suite's settings:
/// WAL, `synchronous` FULL or NORMAL, the page cache, the busy timeout.
pub fn open_file(path: &Path, full: bool) -> Result<Connection> {
    let conn = Connection::open(path).map_err(err)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
        .map_err(err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("sqlite refused WAL mode (journal_mode={mode})"));
    }
    let synchronous = if full { "FULL" } else { "NORMAL" };
    conn.pragma_update(None, "synchronous", synchronous)
        .map_err(err)?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)
        .map_err(err)?;
    conn.busy_timeout(BUSY).map_err(err)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

/// Creates a `users`-shaped table with its email index.
pub fn create_users(conn: &Connection, table: &str) -> Result<()> {
    conn.execute_batch(&format!(
        "CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT, email TEXT, \
         age INTEGER, balance REAL, active INTEGER);
         CREATE INDEX idx_{table}_email ON {table} (email);"
    ))
    .map_err(err)
}

/// Inserts `rows` in one `BEGIN IMMEDIATE` transaction.
pub fn insert_users(conn: &mut Connection, table: &str, rows: &[User]) -> Result<()> {
    let sql = format!(
        "INSERT INTO {table} (id, name, email, age, balance, active) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    );
    write(conn, |tx| {
        let mut stmt = tx.prepare_cached(&sql)?;
        for u in rows {
            stmt.execute(params![u.id, u.name, u.email, u.age, u.balance, u.active])?;
        }
        Ok(())
    })
}

/// Runs `body` in a `BEGIN IMMEDIATE` transaction (writers take the lock
/// up front and wait for it, as concurrent SQLite writers must) and
/// commits.
fn write(
    conn: &mut Connection,
    body: impl FnOnce(&rusqlite::Transaction) -> rusqlite::Result<()>,
) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(err)?;
    body(&tx).map_err(err)?;
    tx.commit().map_err(err)
}

impl System for Sqlite {
    fn name(&self) -> &'static str {
        self.name
    }

    fn describe(&self) -> String {
        format!(
            "SQLite {} (bundled by rusqlite 0.41) in the harness's process: journal_mode=WAL, \
             synchronous={}, cache_size {} MiB per connection, one connection per client, \
             writes in BEGIN IMMEDIATE transactions (one per batch) with a cached prepared \
             INSERT, reads as cached prepared statements with every column read",
            rusqlite::version(),
            self.synchronous,
            CACHE_KIB >> 10
        )
    }

    fn connect(&self) -> Result<Box<dyn Conn>> {
        Ok(Box::new(SqliteConn {
            conn: self.connection()?,
        }))
    }

    fn disk_bytes(&self) -> Result<Option<u64>> {
        let conn = self.connection()?;
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(err)?;
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let wal = self.path.with_extension("sqlite-wal");
        Ok(Some(size(&self.path) + size(&wal)))
    }

    fn recovery(&self, scratch: &Path, wal_bytes: u64) -> Option<Result<f64>> {
        let engine = if self.synchronous == "FULL" {
            Engine::SqliteFull
        } else {
            Engine::Sqlite
        };
        Some(super::recovery::measure(engine, scratch, wal_bytes))
    }

    fn stop(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

struct SqliteConn {
    conn: Connection,
}

impl SqliteConn {
    /// The ids of the rows `sql` returns, reading every column of each.
    fn ids(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<i64>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(params).map_err(err)?;
        let mut ids = Vec::new();
        while let Some(r) = rows.next().map_err(err)? {
            for i in 1..columns {
                read(r.get_ref(i).map_err(err)?);
            }
            ids.push(r.get(0).map_err(err)?);
        }
        Ok(ids)
    }
}

/// Copies a value out of SQLite's buffers, as a client handing it on must.
fn read(v: ValueRef<'_>) -> usize {
    match v {
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).len(),
        _ => 0,
    }
}

impl Conn for SqliteConn {
    fn create_users(&mut self, table: &str) -> Result<()> {
        create_users(&self.conn, table)
    }

    fn create_orders(&mut self, table: &str) -> Result<()> {
        self.conn
            .execute_batch(&format!(
                "CREATE TABLE {table} (id INTEGER PRIMARY KEY, user_id INTEGER, amount REAL);"
            ))
            .map_err(err)
    }

    fn drop_table(&mut self, table: &str) -> Result<()> {
        self.conn
            .execute_batch(&format!("DROP TABLE {table};"))
            .map_err(err)
    }

    fn insert_users(&mut self, table: &str, rows: &[User]) -> Result<()> {
        insert_users(&mut self.conn, table, rows)
    }

    fn insert_orders(&mut self, table: &str, rows: &[Order]) -> Result<()> {
        let sql = format!("INSERT INTO {table} (id, user_id, amount) VALUES (?1, ?2, ?3)");
        write(&mut self.conn, |tx| {
            let mut stmt = tx.prepare_cached(&sql)?;
            for o in rows {
                stmt.execute(params![o.id, o.user_id, o.amount])?;
            }
            Ok(())
        })
    }

    fn user_by_id(&mut self, id: i64) -> Result<Vec<i64>> {
        self.ids("SELECT * FROM users WHERE id = ?1", [id])
    }

    fn user_by_email(&mut self, email: &str) -> Result<Vec<i64>> {
        self.ids("SELECT * FROM users WHERE email = ?1", [email])
    }

    fn users_in_range(&mut self, lo: i64, hi: i64) -> Result<Vec<i64>> {
        self.ids("SELECT * FROM users WHERE id >= ?1 AND id < ?2", [lo, hi])
    }

    fn top_balances(&mut self, k: usize) -> Result<Vec<f64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT * FROM users ORDER BY balance DESC LIMIT ?1")
            .map_err(err)?;
        let rows = stmt
            .query_map([k as i64], |r| {
                for i in 0..6 {
                    read(r.get_ref(i)?);
                }
                r.get::<_, f64>(4)
            })
            .map_err(err)?;
        rows.map(|r| r.map_err(err)).collect()
    }

    fn join_count_sum(&mut self) -> Result<(i64, f64)> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT count(*), sum(orders.amount) FROM orders \
                 JOIN users ON orders.user_id = users.id",
            )
            .map_err(err)?;
        let (n, sum): (i64, Option<f64>) = stmt
            .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(err)?;
        Ok((n, sum.unwrap_or(0.0)))
    }

    fn join_limit(&mut self, k: usize) -> Result<usize> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT * FROM orders JOIN users ON orders.user_id = users.id LIMIT ?1")
            .map_err(err)?;
        let columns = stmt.column_count();
        let rows = stmt
            .query_map([k as i64], |r| {
                for i in 0..columns {
                    read(r.get_ref(i)?);
                }
                Ok(())
            })
            .map_err(err)?;
        let mut n = 0;
        for r in rows {
            r.map_err(err)?;
            n += 1;
        }
        Ok(n)
    }

    fn count_older(&mut self, age: i64) -> Result<i64> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT count(*) FROM users WHERE age > ?1")
            .map_err(err)?;
        stmt.query_row([age], |r| r.get(0)).map_err(err)
    }

    fn groups_by_age(&mut self) -> Result<Vec<AgeGroup>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT age, count(*), avg(balance) FROM users GROUP BY age")
            .map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(AgeGroup {
                    age: r.get(0)?,
                    count: r.get(1)?,
                    avg_balance: r.get::<_, Option<f64>>(2)?.unwrap_or(0.0),
                })
            })
            .map_err(err)?;
        rows.collect::<std::result::Result<_, _>>().map_err(err)
    }

    fn count_id_range(&mut self, lo: i64, hi: i64) -> Result<i64> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT count(*) FROM users WHERE id BETWEEN ?1 AND ?2")
            .map_err(err)?;
        stmt.query_row([lo, hi], |r| r.get(0)).map_err(err)
    }
}
