//! The `query` benchmark: fasty's embedded relational layer
//! (`fasty_query::Database`) against SQLite (rusqlite, bundled), in the
//! same run, on the same rows.
//!
//! Each system sits behind [`QueryDb`]: create the schema, load rows in
//! batches, and answer the benchmark's seven kinds of statement. Both run
//! the lookups and the filtered count as prepared statements with bound
//! values (fasty: `Database::prepare` / `execute_prepared`; SQLite: cached
//! prepared statements) and the top-10 and the join as statement text;
//! fasty loads through its batch fast path `insert_rows`. [`data`] makes the rows and the expected answers,
//! [`workload`] times the lines, [`report`] prints the table. SQLite is
//! behind the cargo feature `sqlite`; without it the run is fasty-only and
//! says so.

pub(crate) mod data;
pub(crate) mod fasty;
mod report;
#[cfg(feature = "sqlite")]
mod sqlite;
mod workload;

use std::path::PathBuf;

use fasty_query::Value;

use crate::counts::parse_count;
use crate::workdir::WorkDir;
use data::{Dataset, Order, User};
use report::Report;

/// Options of `fasty-bench query`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Rows in `users`. Underscores are allowed: 1_000_000.
    #[arg(long, default_value = "1_000_000", value_parser = parse_count)]
    pub users: u64,

    /// Rows in `orders` (each with a random existing `user_id`).
    #[arg(long, default_value = "1_000_000", value_parser = parse_count)]
    pub orders: u64,

    /// Runs of each heavy query (top-10, join, count) per system, after one
    /// untimed warm-up; systems alternate and the median is reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,

    /// Seconds each lookup line (primary key, email, range) runs per system.
    #[arg(long, default_value_t = 1.5)]
    pub seconds: f64,

    /// Query lines to run, comma-separated (2–7; see below). The load
    /// (line 1) always runs: the queries need its data.
    #[arg(long, value_delimiter = ',', default_value = "2,3,4,5,6,7",
          value_parser = clap::value_parser!(u8).range(2..=7))]
    pub lines: Vec<u8>,

    /// Seed of the rows and of the lookup keys.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Directory for the databases (fresh subdirectories, removed at the
    /// end). Default: a new temporary directory under $TMPDIR; use a disk,
    /// not tmpfs.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

const AFTER_HELP: &str = "\
Lines (users: id, name, email, age, balance, active; orders: id, user_id,
amount; an index on users.email; both tables loaded first):
  1  batch insert    1000-row batches, rows/s over the whole load
                     (fasty: Database::insert_rows; SQLite: one transaction
                     per batch, cached prepared INSERT)
  2  pk lookup       find users where id = X, random X            lookups/s
  3  email lookup    find users where email = \"...\", random user  lookups/s
  4  pk range        find users where id >= X and id < X+100      ranges/s
  5  top-10          select * from users order by balance desc limit 10
                     (no index on balance)                         ms, median
  6  join            select count(*), sum(orders.amount) from orders
                     join users on orders.user_id = users.id       ms, median
  7  filtered count  select count(*) from users where age > 50     ms, median
Both prepare the lookups and the count once and run them with bound values.
Ratios: fasty ÷ SQLite for throughput, SQLite ÷ fasty for time: > 1 means
fasty is ahead. Every answer is checked against the generated data.
Targets: batch insert >= 5M rows/s, top-10 <= 10 ms, filtered count <= 3 ms,
join + aggregate <= 60 ms, and ahead of SQLite on every line.

SQLite (journal_mode=WAL, synchronous=NORMAL) needs the `sqlite` feature:
  cargo run --release -p fasty-bench --features sqlite -- query
  cargo run --release -p fasty-bench --features sqlite -- query --users 100_000 --orders 100_000";

/// A row of `users` as returned by either system: the six columns in
/// declaration order.
pub type Row = Vec<Value>;

/// A relational database as the benchmark drives it. Lookups return the
/// rows they found, as owned values, so that every system does the work of
/// handing a row to its caller.
pub trait QueryDb {
    /// The name in the table.
    fn name(&self) -> &'static str;
    /// How the system was configured, for the notes under the table.
    fn setup(&self) -> String;
    /// Creates `users` (with its email index) and `orders`.
    fn create_schema(&mut self) -> Result<()>;
    /// Inserts one batch of users, atomically.
    fn insert_users(&mut self, rows: &[User]) -> Result<()>;
    /// Inserts one batch of orders, atomically.
    fn insert_orders(&mut self, rows: &[Order]) -> Result<()>;
    /// Lets the system finish the work a load leaves behind (fasty:
    /// flushing frozen memtables); a one-line note of what was waited for.
    fn settle(&mut self) -> Result<Option<String>>;
    /// A one-line note on the system's state after the queries (fasty:
    /// its block cache's hits and misses), if it has one.
    fn state(&self) -> Option<String> {
        None
    }
    /// `find users where id = X`.
    fn user_by_id(&mut self, id: i64) -> Result<Vec<Row>>;
    /// `find users where email = E`.
    fn user_by_email(&mut self, email: &str) -> Result<Vec<Row>>;
    /// `find users where id >= LO and id < HI`.
    fn users_in_range(&mut self, lo: i64, hi: i64) -> Result<Vec<Row>>;
    /// `select * from users order by balance desc limit K`.
    fn top_by_balance(&mut self, k: usize) -> Result<Vec<Row>>;
    /// `select count(*), sum(orders.amount) from orders join users on
    /// orders.user_id = users.id`.
    fn join_count_sum(&mut self) -> Result<(i64, f64)>;
    /// `select count(*) from users where age > A`.
    fn count_older(&mut self, age: i64) -> Result<i64>;
    /// Closes the database.
    fn close(self: Box<Self>) -> Result<()>;
}

/// What can end a query benchmark run (an error in one line of one system
/// is reported in the table instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// fasty's query layer failed.
    #[error("fasty: {0}")]
    Fasty(#[from] fasty_query::Error),
    /// SQLite failed.
    #[cfg(feature = "sqlite")]
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Creating or removing benchmark files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A system answered a statement in an unexpected shape.
    #[error("unexpected result: {0}")]
    Shape(String),
}

/// The query benchmark's result type.
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(feature = "sqlite")]
fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs the query benchmark and prints the markdown table on stdout
/// (progress goes to stderr).
pub fn run(args: &Args) -> Result<()> {
    let workdir = WorkDir::new(args.dir.as_deref(), "fasty-bench-query-")
        .map_err(|(path, source)| Error::Io { path, source })?;
    let base = workdir.path().to_path_buf();
    eprintln!(
        "generating {} users and {} orders (seed {})",
        args.users, args.orders, args.seed
    );
    let data = Dataset::new(args.users, args.orders, args.seed);

    let mut systems: Vec<Box<dyn QueryDb>> = Vec::new();
    let dir = base.join("fasty");
    systems.push(Box::new(fasty::FastyDb::open(&dir)?));
    #[cfg(feature = "sqlite")]
    {
        let dir = base.join("sqlite");
        systems.push(Box::new(sqlite::SqliteDb::open(&dir)?));
    }
    if cfg!(not(feature = "sqlite")) {
        eprintln!(
            "SQLite not built in: running fasty only \
             (enable it with `cargo run --release -p fasty-bench --features sqlite -- query`)"
        );
    }

    let mut report = Report::new(&data, &base, args, &systems);
    workload::run_all(&mut systems, &data, args, &mut report);
    for s in systems {
        let name = s.name();
        if let Err(e) = s.close() {
            report.note(format!("closing {name} failed: {e}"));
        }
    }
    print!("{}", report.markdown());
    Ok(())
}
