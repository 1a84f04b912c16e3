//! What the suite asks of a system under test: a [`System`] (one running
//! database, however it is hosted) hands out [`Conn`]s, one per client
//! thread, and each connection answers the workloads' statements in the
//! system's own idiom (prepared statements, COPY, the HTTP API, …).
//!
//! Every method that reads hands back what it found, and the harness
//! checks it against the generated data: a system that answers wrongly
//! gets an error in its cell, not a number.

pub use super::tpcb::{TpcbOutcome, TpcbTotals, TpcbTx};
use crate::data::{AgeGroup, Order, User};

/// The suite's error: a message naming the system and what failed.
pub type Result<T> = std::result::Result<T, String>;

/// One database under test, running for the whole suite.
pub trait System: Send + Sync {
    /// The name used in `--systems`, the report's columns and its JSON.
    fn name(&self) -> &'static str;
    /// How it was set up (version, settings, how batches are sent), for
    /// the report's notes.
    fn describe(&self) -> String;
    /// A new connection (or handle) for one client thread.
    fn connect(&self) -> Result<Box<dyn Conn>>;
    /// Whether this system takes part in workload `w` (a system that only
    /// differs from another in how it sends batches skips the rest).
    /// By default every workload but the TPC-B-like transactions, which
    /// only the systems implementing [`Conn::tpcb_transaction`] run.
    fn runs(&self, w: super::workload::Workload) -> bool {
        !w.transactions()
    }
    /// Waits until background work a load leaves behind (flushes,
    /// compaction, checkpoints) is done, so it does not run under the
    /// timed reads of this or another system.
    fn settle(&self) -> Result<()> {
        Ok(())
    }
    /// Bytes on disk that hold tables `users` and `orders` after a load
    /// and [`System::settle`], `None` where it cannot be told.
    fn disk_bytes(&self) -> Result<Option<u64>>;
    /// Seconds from restarting after `kill -9`, with about `wal_bytes` of
    /// log to replay, until the first answered query, measured with a
    /// fresh database under `scratch`; `None` where not measured.
    fn recovery(&self, scratch: &std::path::Path, wal_bytes: u64) -> Option<Result<f64>> {
        let _ = (scratch, wal_bytes);
        None
    }
    /// The I/O backend fasty's storage engine uses (`uring`, `std`,
    /// `memory`); `None` for other systems.
    fn io_backend(&self) -> Option<&'static str> {
        None
    }
    /// A one-line note on the system's internal state after the run
    /// (fasty: levels, write stalls, block-cache hits), if it has one.
    fn state(&self) -> Option<String> {
        None
    }
    /// Stops the system and frees what it holds.
    fn stop(self: Box<Self>) -> Result<()>;
}

/// One client's connection. Table names are plain identifiers.
pub trait Conn: Send {
    /// Creates a table shaped like `users` (id primary key, name, email,
    /// age, balance, active), with an index on `email`.
    fn create_users(&mut self, table: &str) -> Result<()>;
    /// Creates a table shaped like `orders` (id primary key, user_id,
    /// amount).
    fn create_orders(&mut self, table: &str) -> Result<()>;
    /// Drops a table and its indexes.
    fn drop_table(&mut self, table: &str) -> Result<()>;
    /// Inserts `rows` into a `users`-shaped table, all or nothing.
    fn insert_users(&mut self, table: &str, rows: &[User]) -> Result<()>;
    /// Inserts `rows` into an `orders`-shaped table, all or nothing.
    fn insert_orders(&mut self, table: &str, rows: &[Order]) -> Result<()>;
    /// The id of each row of `users where id = ID` (every column is read).
    fn user_by_id(&mut self, id: i64) -> Result<Vec<i64>>;
    /// The id of each row of `users where email = E`.
    fn user_by_email(&mut self, email: &str) -> Result<Vec<i64>>;
    /// The id of each row of `users where id >= LO and id < HI`.
    fn users_in_range(&mut self, lo: i64, hi: i64) -> Result<Vec<i64>>;
    /// The balances of `select * from users order by balance desc limit K`.
    fn top_balances(&mut self, k: usize) -> Result<Vec<f64>>;
    /// `select count(*), sum(orders.amount) from orders join users on
    /// orders.user_id = users.id`.
    fn join_count_sum(&mut self) -> Result<(i64, f64)>;
    /// The rows of `select * from orders join users on orders.user_id =
    /// users.id limit K` (every column is read).
    fn join_limit(&mut self, k: usize) -> Result<usize>;
    /// `select count(*) from users where age > A`.
    fn count_older(&mut self, age: i64) -> Result<i64>;
    /// `select age, count(*), avg(balance) from users group by age`, in
    /// any order (the harness sorts by age).
    fn groups_by_age(&mut self) -> Result<Vec<AgeGroup>>;
    /// `select count(*) from users where id between LO and HI`.
    fn count_id_range(&mut self, lo: i64, hi: i64) -> Result<i64>;
    /// Creates and fills the TPC-B-like tables of one run,
    /// `PREFIX_branches`, `PREFIX_tellers`, `PREFIX_accounts` and
    /// `PREFIX_history` (see [`super::tpcb`]); history starts empty.
    fn tpcb_setup(&mut self, prefix: &str) -> Result<()> {
        let _ = prefix;
        Err("TPC-B-like transactions are not implemented for this system".into())
    }
    /// Drops the tables [`Conn::tpcb_setup`] made.
    fn tpcb_drop(&mut self, prefix: &str) -> Result<()> {
        let _ = prefix;
        Err("TPC-B-like transactions are not implemented for this system".into())
    }
    /// Runs one TPC-B-like transaction on the tables of `prefix`:
    /// committed with the balance its select read, or a conflict (nothing
    /// written; the harness runs it again).
    fn tpcb_transaction(&mut self, prefix: &str, tx: &TpcbTx) -> Result<TpcbOutcome> {
        let _ = (prefix, tx);
        Err("TPC-B-like transactions are not implemented for this system".into())
    }
    /// The sums of the balances and of the history's deltas, and the
    /// history's rows, once the transactions have stopped.
    fn tpcb_totals(&mut self, prefix: &str) -> Result<TpcbTotals> {
        let _ = prefix;
        Err("TPC-B-like transactions are not implemented for this system".into())
    }
}
