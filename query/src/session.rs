//! The handles of transactions: [`Transaction`], which borrows its
//! [`Database`] ([`Database::begin`]), and [`Session`], a connection's
//! state for `begin`, `commit` and `rollback` statements, which borrows
//! nothing and is given the database on each call, so that a server or a
//! shell can keep one per connection. What a transaction is and how it
//! commits: the `transaction` module and `Database::commit_state`.

use crate::ast;
use crate::database::{Database, InsertMode, Prepared};
use crate::error::{Error, ErrorCode, Result};
use crate::limits::ExecOptions;
use crate::output::{Output, Streamed};
use crate::statement::Statement;
use crate::stream::RowSink;
use crate::transaction::OpenTxn;
use crate::value::Value;

impl Database {
    /// Begins a transaction: its statements read the database as of now
    /// plus their own writes, and [`Transaction::commit`] writes them all
    /// or none (see [`Transaction`]).
    pub fn begin(&self) -> Result<Transaction<'_>> {
        Ok(Transaction {
            db: self,
            txn: self.begin_txn(false),
        })
    }

    /// Begins a transaction that refuses writes (`read_only_transaction`):
    /// a consistent view for several reads.
    pub fn begin_read_only(&self) -> Result<Transaction<'_>> {
        Ok(Transaction {
            db: self,
            txn: self.begin_txn(true),
        })
    }
}

fn invalid_state(message: &str) -> Error {
    Error::query(ErrorCode::InvalidTransactionState, message)
}

/// An open transaction on a [`Database`] ([`Database::begin`]): its
/// statements read the database as of `begin` plus their own writes;
/// [`Transaction::commit`] writes all of it or, on a conflict
/// (`serialization_failure`), none. Dropping it uncommitted rolls it back.
///
/// ```
/// # let db = fasty_query::Database::open("unused", fasty_query::Options::memory())?;
/// db.execute("create table accounts { id: int, balance: int }")?;
/// db.execute("insert accounts [{ id: 1, balance: 100 }, { id: 2, balance: 0 }]")?;
/// let mut tx = db.begin()?;
/// tx.execute("update accounts set balance = balance - 30 where id = 1")?;
/// tx.execute("update accounts set balance = balance + 30 where id = 2")?;
/// tx.commit()?;
/// # Ok::<(), fasty_query::Error>(())
/// ```
pub struct Transaction<'db> {
    db: &'db Database,
    txn: OpenTxn,
}

impl Transaction<'_> {
    /// Runs one statement in the transaction. `begin`, `commit`,
    /// `rollback` and DDL are refused (`invalid_transaction_state`); use
    /// [`Transaction::commit`] and [`Transaction::rollback`].
    pub fn execute(&mut self, text: &str) -> Result<Output> {
        self.execute_with(text, ExecOptions::default())
    }

    /// [`Transaction::execute`] with per-call switches and limits.
    pub fn execute_with(&mut self, text: &str, opts: ExecOptions) -> Result<Output> {
        let stmt = crate::parser::parse(text)?;
        let db = self.db;
        self.txn
            .with_state(|state| db.collect_in(&stmt, opts, Some(state)))
    }

    /// Runs a parsed statement ([`crate::parse`]) in the transaction.
    pub fn run(&mut self, stmt: &Statement, opts: ExecOptions) -> Result<Output> {
        let db = self.db;
        self.txn
            .with_state(|state| db.run_tree_in(&stmt.0, opts, Some(state)))
    }

    /// [`Database::run_into`] in the transaction: a query's rows go to
    /// `sink` as they are produced.
    pub fn run_into(
        &mut self,
        stmt: &Statement,
        opts: ExecOptions,
        sink: &mut dyn RowSink,
    ) -> Result<Streamed> {
        let db = self.db;
        self.txn
            .with_state(|state| db.run_into_in(stmt, opts, sink, Some(state)))
    }

    /// [`Database::execute_prepared`] in the transaction.
    pub fn execute_prepared(&mut self, prepared: &Prepared, params: &[Value]) -> Result<Output> {
        let db = self.db;
        self.txn.with_state(|state| {
            db.execute_prepared_in(prepared, params, ExecOptions::default(), Some(state))
        })
    }

    /// [`Database::insert_rows`] in the transaction.
    pub fn insert_rows<R, K>(
        &mut self,
        table: &str,
        rows: impl IntoIterator<Item = R>,
        mode: InsertMode,
    ) -> Result<u64>
    where
        R: IntoIterator<Item = (K, Value)>,
        K: AsRef<str>,
    {
        let db = self.db;
        self.txn
            .with_state(|state| db.insert_rows_in(table, rows, mode, Some(state)))
    }

    /// Whether it was begun read only.
    pub fn is_read_only(&self) -> bool {
        self.txn
            .with_state(|state| Ok(state.read_only))
            .unwrap_or(false)
    }

    /// Writes the transaction's writes as one batch (durable, in durable
    /// mode, when this returns) — or, if another transaction or statement
    /// wrote one of its rows since it began (`serialization_failure`), or
    /// it idled past its timeout (`transaction_timeout`), nothing.
    pub fn commit(self) -> Result<()> {
        commit(self.db, self.txn)
    }

    /// Drops the transaction's writes.
    pub fn rollback(self) {
        self.txn.rollback();
    }
}

/// A connection's transaction state for `begin`, `commit` and `rollback`
/// statements: outside a transaction each statement runs on its own; after
/// `begin`, statements run in the transaction until `commit` or
/// `rollback`. It borrows nothing; every call is given the [`Database`]
/// (the one the transaction began on). Dropping it with a transaction open
/// rolls that back.
///
/// A transaction that the idle timeout rolled back stays in the session,
/// failing every statement with `transaction_timeout`, until `rollback`
/// (or `commit`, which fails the same way) ends it: the statements that
/// follow never run on their own by surprise.
#[derive(Default)]
pub struct Session {
    txn: Option<OpenTxn>,
}

impl Session {
    /// A session with no transaction open.
    pub fn new() -> Session {
        Session::default()
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.txn.is_some()
    }

    /// Parses and runs one statement.
    pub fn execute(&mut self, db: &Database, text: &str) -> Result<Output> {
        let stmt = Statement(crate::parser::parse(text)?);
        self.run(db, &stmt, ExecOptions::default())
    }

    /// Runs one parsed statement: `begin`, `commit` and `rollback` act on
    /// the session's transaction, anything else runs in it (or on its own
    /// outside one).
    pub fn run(&mut self, db: &Database, stmt: &Statement, opts: ExecOptions) -> Result<Output> {
        if let Some(out) = self.control(db, &stmt.0)? {
            return Ok(out);
        }
        match &self.txn {
            Some(txn) => {
                check_database(txn, db)?;
                txn.with_state(|state| db.run_tree_in(&stmt.0, opts, Some(state)))
            }
            None => db.run(stmt, opts),
        }
    }

    /// [`Session::run`], sending a query's rows to `sink` as they are
    /// produced ([`Database::run_into`]).
    pub fn run_into(
        &mut self,
        db: &Database,
        stmt: &Statement,
        opts: ExecOptions,
        sink: &mut dyn RowSink,
    ) -> Result<Streamed> {
        if let Some(out) = self.control(db, &stmt.0)? {
            return Ok(Streamed::Other(out));
        }
        match &self.txn {
            Some(txn) => {
                check_database(txn, db)?;
                txn.with_state(|state| db.run_into_in(stmt, opts, sink, Some(state)))
            }
            None => db.run_into(stmt, opts, sink),
        }
    }

    /// Runs a prepared statement ([`Database::prepare`]) with `params[i]`
    /// for its `i`-th placeholder, as [`Session::run`] runs a parsed one:
    /// in the session's transaction when one is open.
    pub fn execute_prepared(
        &mut self,
        db: &Database,
        prepared: &Prepared,
        params: &[Value],
        opts: ExecOptions,
    ) -> Result<Output> {
        if let Some(out) = self.control(db, prepared.tree())? {
            return Ok(out);
        }
        match &self.txn {
            Some(txn) => {
                check_database(txn, db)?;
                txn.with_state(|state| db.execute_prepared_in(prepared, params, opts, Some(state)))
            }
            None => db.execute_prepared_with(prepared, params, opts),
        }
    }

    /// [`Database::insert_rows`], in the session's transaction when one
    /// is open.
    pub fn insert_rows<R, K>(
        &mut self,
        db: &Database,
        table: &str,
        rows: impl IntoIterator<Item = R>,
        mode: InsertMode,
    ) -> Result<u64>
    where
        R: IntoIterator<Item = (K, Value)>,
        K: AsRef<str>,
    {
        match &self.txn {
            Some(txn) => {
                check_database(txn, db)?;
                txn.with_state(|state| db.insert_rows_in(table, rows, mode, Some(state)))
            }
            None => db.insert_rows(table, rows, mode),
        }
    }

    /// `begin`, `commit` and `rollback`: their output; `None` for any
    /// other statement.
    fn control(&mut self, db: &Database, stmt: &ast::Statement) -> Result<Option<Output>> {
        match stmt {
            ast::Statement::Begin { read_only } => {
                if self.txn.is_some() {
                    return Err(invalid_state(
                        "a transaction is already open: commit or roll it back first",
                    ));
                }
                self.txn = Some(db.begin_txn(*read_only));
            }
            ast::Statement::Commit => {
                // Checked before the transaction leaves the session: a
                // call with the wrong database must not end it.
                match &self.txn {
                    None => return Err(invalid_state("commit outside a transaction: begin first")),
                    Some(txn) => check_database(txn, db)?,
                }
                if let Some(txn) = self.txn.take() {
                    commit(db, txn)?;
                }
            }
            ast::Statement::Rollback => match self.txn.take() {
                None => {
                    return Err(invalid_state("rollback outside a transaction: begin first"));
                }
                Some(txn) => txn.rollback(),
            },
            _ => return Ok(None),
        }
        Ok(Some(Output::Ok))
    }
}

/// Commits `txn` through `db` (see `Database::commit_state`).
fn commit(db: &Database, txn: OpenTxn) -> Result<()> {
    txn.commit_with(|state| db.commit_state(state))
}

/// Refuses to run a session's transaction on another database than the
/// one it began on.
fn check_database(txn: &OpenTxn, db: &Database) -> Result<()> {
    if !txn.of(db.registry()) {
        return Err(invalid_state(
            "the session's transaction was begun on another database",
        ));
    }
    Ok(())
}
