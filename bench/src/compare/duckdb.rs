//! DuckDB (bundled by the `duckdb` crate) as the suite runs it: one
//! database file opened once in the harness's process, one connection per
//! client thread (`Connection::try_clone`, as DuckDB's documentation
//! recommends for several threads), DuckDB's default settings (threads =
//! the machine's cores, memory limit 80% of RAM). Batches go through
//! DuckDB's `Appender` inside an explicit transaction (all or nothing per
//! batch); single rows through a cached prepared INSERT in autocommit;
//! reads through cached prepared statements with every column read.
//!
//! DuckDB's optimistic concurrency control can fail a writer with a
//! transaction conflict when another connection writes the same table;
//! such a write is rolled back and retried, at most [`RETRIES`] times.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use duckdb::types::ValueRef;
use duckdb::{Connection, params};

use super::system::{Conn, Result, System};
use crate::data::{AgeGroup, Order, User};

/// How often a write that hit a transaction conflict is retried.
const RETRIES: u32 = 20;

fn err(e: impl std::fmt::Display) -> String {
    format!("duckdb: {e}")
}

/// Whether `e` is a transaction conflict that a retry may get past.
fn is_conflict(e: &duckdb::Error) -> bool {
    let msg = e.to_string().to_ascii_lowercase();
    msg.contains("conflict") && !msg.contains("constraint")
}

/// One DuckDB database file, open for the whole suite.
pub struct DuckDb {
    path: PathBuf,
    /// The connection the database was opened with; clients get clones.
    conn: Mutex<Connection>,
    version: String,
    threads: String,
}

impl DuckDb {
    /// A database in the new directory `dir`.
    pub fn open(dir: &Path) -> Result<DuckDb> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join("bench.duckdb");
        let conn = Connection::open(&path).map_err(err)?;
        let version = conn.version().map_err(err)?;
        let threads: String = conn
            .query_row("SELECT current_setting('threads')::VARCHAR", [], |r| {
                r.get(0)
            })
            .map_err(err)?;
        Ok(DuckDb {
            path,
            conn: Mutex::new(conn),
            version,
            threads,
        })
    }

    fn main(&self) -> Result<std::sync::MutexGuard<'_, Connection>> {
        self.conn
            .lock()
            .map_err(|_| "duckdb: connection lock poisoned".to_string())
    }

    /// Lets the WAL grow without an automatic checkpoint folding it into
    /// the database file (for the recovery section's writer).
    pub fn hold_off_checkpoints(&self) -> Result<()> {
        self.main()?
            .execute_batch("SET checkpoint_threshold = '1TB'")
            .map_err(err)
    }

    fn checkpoint(&self) -> Result<()> {
        self.main()?.execute_batch("CHECKPOINT").map_err(err)
    }
}

impl System for DuckDb {
    fn name(&self) -> &'static str {
        "duckdb"
    }

    fn describe(&self) -> String {
        format!(
            "DuckDB {} (bundled by the duckdb crate 1.20000) in the harness's process: one \
             database file, default settings (threads={}), one connection per client \
             (Connection::try_clone), batches via the Appender in one transaction per batch, \
             single rows via a cached prepared INSERT in autocommit, reads as cached prepared \
             statements with every column read; writes that hit a transaction conflict are \
             retried (at most {RETRIES} times)",
            self.version, self.threads
        )
    }

    fn connect(&self) -> Result<Box<dyn Conn>> {
        let conn = self.main()?.try_clone().map_err(err)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(Box::new(DuckConn { conn }))
    }

    fn settle(&self) -> Result<()> {
        self.checkpoint()
    }

    fn disk_bytes(&self) -> Result<Option<u64>> {
        self.checkpoint()?;
        let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let mut wal = self.path.clone().into_os_string();
        wal.push(".wal");
        Ok(Some(size(&self.path) + size(Path::new(&wal))))
    }

    fn recovery(&self, scratch: &Path, wal_bytes: u64) -> Option<Result<f64>> {
        Some(super::recovery::measure(
            super::recovery::Engine::Duckdb,
            scratch,
            wal_bytes,
        ))
    }

    fn stop(self: Box<Self>) -> Result<()> {
        let conn = self
            .conn
            .into_inner()
            .map_err(|_| "duckdb: connection lock poisoned".to_string())?;
        conn.close().map_err(|(_, e)| err(e))
    }
}

struct DuckConn {
    conn: Connection,
}

impl DuckConn {
    /// The ids of the rows `sql` returns, reading every column of each.
    fn ids(&self, sql: &str, params: impl duckdb::Params) -> Result<Vec<i64>> {
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

    /// Runs `body` until it succeeds, fails other than by a transaction
    /// conflict, or has been retried [`RETRIES`] times.
    fn retrying(&self, mut body: impl FnMut(&Connection) -> duckdb::Result<()>) -> Result<()> {
        let mut attempt = 0;
        loop {
            match body(&self.conn) {
                Ok(()) => return Ok(()),
                Err(e) if is_conflict(&e) && attempt < RETRIES => {
                    attempt += 1;
                    std::thread::sleep(Duration::from_micros(100 << attempt.min(8)));
                }
                Err(e) if is_conflict(&e) => {
                    return Err(format!(
                        "duckdb: transaction conflict persisted after {RETRIES} retries: {e}"
                    ));
                }
                Err(e) => return Err(err(e)),
            }
        }
    }

    /// Appends `rows` to `table` in one transaction, all or nothing.
    fn append<T>(
        &self,
        table: &str,
        rows: &[T],
        row: impl Fn(&mut duckdb::Appender<'_>, &T) -> duckdb::Result<()>,
    ) -> Result<()> {
        self.retrying(|conn| {
            conn.execute_batch("BEGIN TRANSACTION")?;
            let appended = (|| {
                let mut app = conn.appender(table)?;
                for r in rows {
                    row(&mut app, r)?;
                }
                app.flush()?;
                drop(app);
                conn.execute_batch("COMMIT")
            })();
            if appended.is_err() {
                // A failed COMMIT has already ended the transaction; the
                // ROLLBACK then fails too, which changes nothing.
                let _ = conn.execute_batch("ROLLBACK");
            }
            appended
        })
    }
}

/// Copies a value out of DuckDB's buffers, as a client handing it on must.
fn read(v: ValueRef<'_>) -> usize {
    match v {
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).len(),
        _ => 0,
    }
}

impl Conn for DuckConn {
    fn create_users(&mut self, table: &str) -> Result<()> {
        self.conn
            .execute_batch(&format!(
                "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name VARCHAR, email VARCHAR, \
                 age BIGINT, balance DOUBLE, active BOOLEAN);
                 CREATE INDEX idx_{table}_email ON {table} (email);"
            ))
            .map_err(err)
    }

    fn create_orders(&mut self, table: &str) -> Result<()> {
        self.conn
            .execute_batch(&format!(
                "CREATE TABLE {table} (id BIGINT PRIMARY KEY, user_id BIGINT, amount DOUBLE);"
            ))
            .map_err(err)
    }

    fn drop_table(&mut self, table: &str) -> Result<()> {
        self.conn
            .execute_batch(&format!("DROP TABLE {table};"))
            .map_err(err)
    }

    fn insert_users(&mut self, table: &str, rows: &[User]) -> Result<()> {
        if let [u] = rows {
            let sql = format!(
                "INSERT INTO {table} (id, name, email, age, balance, active) \
                 VALUES (?, ?, ?, ?, ?, ?)"
            );
            return self.retrying(|conn| {
                let mut stmt = conn.prepare_cached(&sql)?;
                stmt.execute(params![u.id, u.name, u.email, u.age, u.balance, u.active])?;
                Ok(())
            });
        }
        self.append(table, rows, |app, u| {
            app.append_row(params![u.id, u.name, u.email, u.age, u.balance, u.active])
        })
    }

    fn insert_orders(&mut self, table: &str, rows: &[Order]) -> Result<()> {
        if let [o] = rows {
            let sql = format!("INSERT INTO {table} (id, user_id, amount) VALUES (?, ?, ?)");
            return self.retrying(|conn| {
                let mut stmt = conn.prepare_cached(&sql)?;
                stmt.execute(params![o.id, o.user_id, o.amount])?;
                Ok(())
            });
        }
        self.append(table, rows, |app, o| {
            app.append_row(params![o.id, o.user_id, o.amount])
        })
    }

    fn user_by_id(&mut self, id: i64) -> Result<Vec<i64>> {
        self.ids("SELECT * FROM users WHERE id = ?", [id])
    }

    fn user_by_email(&mut self, email: &str) -> Result<Vec<i64>> {
        self.ids("SELECT * FROM users WHERE email = ?", [email])
    }

    fn users_in_range(&mut self, lo: i64, hi: i64) -> Result<Vec<i64>> {
        self.ids(
            "SELECT * FROM users WHERE id >= ? AND id < ? ORDER BY id",
            [lo, hi],
        )
    }

    fn top_balances(&mut self, k: usize) -> Result<Vec<f64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT * FROM users ORDER BY balance DESC LIMIT ?")
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
            .prepare_cached("SELECT * FROM orders JOIN users ON orders.user_id = users.id LIMIT ?")
            .map_err(err)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query([k as i64]).map_err(err)?;
        let mut n = 0;
        while let Some(r) = rows.next().map_err(err)? {
            for i in 0..columns {
                read(r.get_ref(i).map_err(err)?);
            }
            n += 1;
        }
        Ok(n)
    }

    fn count_older(&mut self, age: i64) -> Result<i64> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT count(*) FROM users WHERE age > ?")
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
            .prepare_cached("SELECT count(*) FROM users WHERE id BETWEEN ? AND ?")
            .map_err(err)?;
        stmt.query_row([lo, hi], |r| r.get(0)).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64) -> User {
        User {
            id,
            name: format!("n{id}"),
            email: format!("e{id}@x"),
            age: 30,
            balance: id as f64,
            active: true,
        }
    }

    /// A batch that fails part-way (a duplicate key) leaves nothing behind,
    /// and the connection takes the next batch.
    #[test]
    fn failed_batch_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let db = DuckDb::open(dir.path()).unwrap();
        let mut conn = db.connect().unwrap();
        conn.create_users("users").unwrap();
        conn.insert_users("users", &[user(1), user(2)]).unwrap();
        let bad: Vec<User> = (10..1010).chain([10]).map(user).collect();
        assert!(conn.insert_users("users", &bad).is_err());
        conn.insert_users("users", &[user(3)]).unwrap();
        assert_eq!(conn.users_in_range(0, 2000).unwrap(), vec![1, 2, 3]);
        assert_eq!(conn.count_older(0).unwrap(), 3);
        Box::new(db).stop().unwrap();
    }
}
