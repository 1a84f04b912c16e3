//! fasty's embedded relational database (`fasty_query::Database`) in its
//! default mode, driven as its users drive it: queries with values are
//! prepared once (`Database::prepare`, `?` placeholders) and run with bound
//! values (`execute_prepared`: no parsing, planned per call), like SQLite's
//! cached prepared statements; the rest is statement text through
//! `Database::execute`; the load goes through the batch fast path
//! `Database::insert_rows`.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use fasty_query::{Database, InsertMode, Options, Output, Prepared, Value};

use super::data::{Order, User};
use super::{Error, QueryDb, Result, Row};

const SCHEMA: &[&str] = &[
    "create table users { id: int, name: string, email: string, age: int, balance: float, active: bool }",
    "create index idx_email on users (email)",
    "create table orders { id: int, user_id: int, amount: float }",
];

/// How long [`FastyDb::settle`] waits at most for background flushes.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);

/// An open database, its prepared lookups and a reused buffer for
/// statement text.
pub struct FastyDb {
    db: Database,
    text: String,
    by_id: Prepared,
    by_email: Prepared,
    in_range: Prepared,
    older: Prepared,
}

impl FastyDb {
    /// Creates a database in `dir` with the default options.
    pub fn open(dir: &Path) -> Result<FastyDb> {
        let db = Database::open(dir, Options::default())?;
        Ok(FastyDb {
            by_id: db.prepare("find users where id = ?")?,
            by_email: db.prepare("find users where email = ?")?,
            in_range: db.prepare("find users where id >= ? and id < ?")?,
            older: db.prepare("select count(*) from users where age > ?")?,
            db,
            text: String::with_capacity(128),
        })
    }

    /// Runs the statement in `self.text` and returns its rows.
    fn query(&mut self) -> Result<Vec<Row>> {
        let out = self.db.execute(&self.text)?;
        rows_of(out, &self.text)
    }

    /// Runs the statement in `self.text`, expecting one row.
    fn one_row(&mut self) -> Result<Row> {
        let mut rows = self.query()?;
        match rows.len() {
            1 => Ok(rows.swap_remove(0)),
            n => Err(Error::Shape(format!(
                "{:?} gave {n} rows, not 1",
                self.text
            ))),
        }
    }
}

impl QueryDb for FastyDb {
    fn name(&self) -> &'static str {
        "fasty"
    }

    fn setup(&self) -> String {
        "fasty_query::Database with Options::default() (async durability, 50 ms sync \
         interval; storage defaults: 64 MiB memtables, 128 MiB block cache); load through \
         Database::insert_rows (InsertMode::Insert), one call per batch; lookups and the \
         count are prepared once (Database::prepare) and run with bound values; top-10 and \
         the join are statement text through Database::execute"
            .to_string()
    }

    fn create_schema(&mut self) -> Result<()> {
        for stmt in SCHEMA {
            self.db.execute(stmt)?;
        }
        Ok(())
    }

    fn insert_users(&mut self, rows: &[User]) -> Result<()> {
        let n = self.db.insert_rows(
            "users",
            rows.iter().map(|u| user_fields(u)),
            InsertMode::Insert,
        )?;
        expect_inserted(n, rows.len())
    }

    fn insert_orders(&mut self, rows: &[Order]) -> Result<()> {
        let n = self.db.insert_rows(
            "orders",
            rows.iter().map(|o| {
                [
                    ("id", Value::Int(o.id)),
                    ("user_id", Value::Int(o.user_id)),
                    ("amount", Value::Float(o.amount)),
                ]
            }),
            InsertMode::Insert,
        )?;
        expect_inserted(n, rows.len())
    }

    fn settle(&mut self) -> Result<Option<String>> {
        Ok(Some(settle(&self.db)))
    }

    fn state(&self) -> Option<String> {
        let s = self.db.kv().stats().storage;
        Some(format!(
            "fasty after the queries: block cache {} hits, {} misses ({:.0}% hits), {:.0} MiB \
             held; SST files per level [{}], {:.0} MiB in the active memtable",
            s.cache_hits,
            s.cache_misses,
            100.0 * s.cache_hits as f64 / (s.cache_hits + s.cache_misses).max(1) as f64,
            s.cache_bytes as f64 / f64::from(1 << 20),
            level_files(&s),
            s.memtable_bytes as f64 / f64::from(1 << 20),
        ))
    }

    fn user_by_id(&mut self, id: i64) -> Result<Vec<Row>> {
        let out = self.db.execute_prepared(&self.by_id, &[Value::Int(id)])?;
        rows_of(out, "find users where id = ?")
    }

    fn user_by_email(&mut self, email: &str) -> Result<Vec<Row>> {
        let out = self
            .db
            .execute_prepared(&self.by_email, &[Value::String(email.to_string())])?;
        rows_of(out, "find users where email = ?")
    }

    fn users_in_range(&mut self, lo: i64, hi: i64) -> Result<Vec<Row>> {
        let out = self
            .db
            .execute_prepared(&self.in_range, &[Value::Int(lo), Value::Int(hi)])?;
        rows_of(out, "find users where id >= ? and id < ?")
    }

    fn top_by_balance(&mut self, k: usize) -> Result<Vec<Row>> {
        self.text.clear();
        let _ = write!(
            self.text,
            "select * from users order by balance desc limit {k}"
        );
        self.query()
    }

    fn join_count_sum(&mut self) -> Result<(i64, f64)> {
        self.text.clear();
        self.text.push_str(
            "select count(*), sum(orders.amount) from orders join users on orders.user_id = users.id",
        );
        let row = self.one_row()?;
        match row.as_slice() {
            [Value::Int(n), Value::Float(s)] => Ok((*n, *s)),
            [Value::Int(n), Value::Int(s)] => Ok((*n, *s as f64)),
            [Value::Int(0), Value::Null] => Ok((0, 0.0)),
            other => Err(Error::Shape(format!("join gave {other:?}"))),
        }
    }

    fn count_older(&mut self, age: i64) -> Result<i64> {
        let out = self.db.execute_prepared(&self.older, &[Value::Int(age)])?;
        let mut rows = rows_of(out, "select count(*) from users where age > ?")?;
        let row = match rows.len() {
            1 => rows.swap_remove(0),
            n => return Err(Error::Shape(format!("count gave {n} rows, not 1"))),
        };
        match row.as_slice() {
            [Value::Int(n)] => Ok(*n),
            other => Err(Error::Shape(format!("count gave {other:?}"))),
        }
    }

    fn close(self: Box<Self>) -> Result<()> {
        self.db.close()?;
        Ok(())
    }
}

/// Waits until frozen memtables are flushed, level 0 is below the
/// compaction trigger and nothing has changed for a second (at most
/// [`SETTLE_LIMIT`]), so that background work a load caused does not run
/// under timed queries; a one-line note of the engine's state.
pub(crate) fn settle(db: &Database) -> String {
    let trigger = fasty_storage::Options::default().l0_compaction_trigger;
    let start = Instant::now();
    let shape = |s: &fasty_wal::Stats| {
        let files: Vec<usize> = s.storage.levels.iter().map(|l| l.files).collect();
        (s.storage.flushes, s.storage.compactions, files)
    };
    let mut last = shape(&db.kv().stats());
    let mut quiet_since = Instant::now();
    loop {
        let stats = db.kv().stats();
        let now = shape(&stats);
        if now != last {
            last = now;
            quiet_since = Instant::now();
        }
        let s = &stats.storage;
        let idle = s.frozen_memtables == 0
            && s.levels.first().is_none_or(|l| l.files < trigger)
            && quiet_since.elapsed() >= Duration::from_secs(1);
        if idle || start.elapsed() > SETTLE_LIMIT {
            return format!(
                "fasty after the load: {:.0} MiB in the active memtable, {} frozen, \
                     SST files per level [{}] ({:.0} MiB on disk), {} flushes and {} \
                     compactions so far, {} write stalls ({:.2} s) during the load (waited {:.1} s for background work to finish \
                     before querying)",
                s.memtable_bytes as f64 / f64::from(1 << 20),
                s.frozen_memtables,
                level_files(s),
                s.levels.iter().map(|l| l.bytes).sum::<u64>() as f64 / f64::from(1 << 20),
                s.flushes,
                s.compactions,
                s.write_stalls,
                s.write_stall_micros as f64 / 1e6,
                start.elapsed().as_secs_f64()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `users` row as `Database::insert_rows` takes it: every column by
/// name.
pub(crate) fn user_fields(u: &User) -> [(&'static str, Value); 6] {
    [
        ("id", Value::Int(u.id)),
        ("name", Value::String(u.name.clone())),
        ("email", Value::String(u.email.clone())),
        ("age", Value::Int(u.age)),
        ("balance", Value::Float(u.balance)),
        ("active", Value::Bool(u.active)),
    ]
}

/// The rows of a query's output.
fn rows_of(out: Output, what: &str) -> Result<Vec<Row>> {
    match out {
        Output::Rows { rows, .. } => Ok(rows),
        other => Err(Error::Shape(format!("{what:?} gave {other:?}, not rows"))),
    }
}

/// SST files per level, level 0 first: `5, 1, 0`.
fn level_files(s: &fasty_storage::Stats) -> String {
    let files: Vec<String> = s.levels.iter().map(|l| l.files.to_string()).collect();
    files.join(", ")
}

fn expect_inserted(n: u64, len: usize) -> Result<()> {
    if n == len as u64 {
        Ok(())
    } else {
        Err(Error::Shape(format!(
            "insert_rows reported {n} rows for a batch of {len}"
        )))
    }
}
