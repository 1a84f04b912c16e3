//! The embedded relational database: [`Database::open`],
//! [`Database::execute`] and the batch fast path
//! [`Database::insert_rows`]. This module owns statement semantics that
//! are not planning: DDL, the write path of `insert`/`upsert`/`update`/
//! `delete` (index entries in the same atomic batch as their row), and the
//! locking that makes each statement atomic.
//!
//! Concurrency: a statement reads one snapshot. Writers to a table take
//! its lock — shared for `insert`/`upsert` (which then lock the primary
//! keys they write, so two inserts of one key cannot both pass the
//! duplicate check, while inserts of different keys proceed and share the
//! log's group commit), exclusive for `update`, `delete` and DDL on it.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use fasty_wal::{Db, Durability, WriteBatch};
use parking_lot::{Mutex, MutexGuard, RwLock};

use crate::ast::{ColumnDef, ColumnType, Expr, Literal, Select, Statement};
use crate::catalog::{self, Catalog, Table};
use crate::constraints;
use crate::error::{Error, ErrorCode, Result};
use crate::exec;
use crate::expr;
use crate::keys;
use crate::layout::RowLayout;
use crate::limits::{ExecOptions, Limits, Meter, row_bytes};
use crate::output::{Column, Output, Streamed};
use crate::parser;
use crate::plan;
use crate::plan::choose::{PlanOptions, key_value};
use crate::plan::physical::Physical;
use crate::plan::scope::Scope;
use crate::row;
use crate::statement::StatementKind;
use crate::stream::{Emitter, RowSink};
use crate::transaction::{self, OpenTxn, Registry, TransactionStats, TxnState};
use crate::value::Value;

// The write path: operators that build a statement's batch.
use crate::exec::delete::Delete;
use crate::exec::index_entries::Written;
use crate::exec::insert::{self, Insert, Rows};
use crate::exec::keys::{index_pks, table_end};
use crate::exec::update::Update;

mod alter;

/// Options of a [`Database`]: the durability mode and storage settings
/// (`wal`), with the defaults of docs/wal.md (async, 50 ms sync interval).
/// Start from [`Options::default()`], [`Options::durable()`] or
/// [`Options::memory()`]; the builder methods are `with_<field>(value)`,
/// taking the field's type, plus [`Options::with_durability`]:
///
/// ```
/// use fasty_query::{Durability, Options};
/// let opts = Options::default().with_durability(Durability::Durable);
/// # let _ = opts;
/// ```
///
/// Memory mode is one of the durability modes ([`Durability::Memory`];
/// [`Options::memory()`] is short for it): nothing else switches it.
///
/// New fields may be added in minor versions (the struct is
/// `#[non_exhaustive]`): build it from a default, not with a struct
/// literal.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// The log and storage options, including the durability mode. Default
    /// `fasty_wal::Options::default()` (async, 50 ms).
    pub wal: fasty_wal::Options,
    /// Store table rows in storage's columnar (PAX) data blocks, split by
    /// column with zone maps, so that scans read only the columns they need
    /// and skip blocks by their zone maps. Default true; false when the
    /// environment has `FASTY_COLUMNAR=0` (to compare the two layouts, or
    /// to run a test suite on row blocks). A data directory written with
    /// row blocks opens either way (its row blocks read as before;
    /// compactions rewrite them by column when this is on); one holding
    /// columnar blocks is refused with it off, with an error naming the
    /// value layout.
    pub columnar: bool,
    /// The most memory a transaction's writes may take (about their
    /// encoded size): a statement that would take more fails with
    /// `transaction_too_large` and adds nothing. Default 256 MiB.
    pub max_transaction_bytes: usize,
    /// A transaction that runs no statement for this long is rolled back
    /// (its next statement fails with `transaction_timeout`), so an
    /// abandoned one does not keep its snapshot's versions from
    /// compaction. Default `None`: never.
    pub idle_transaction_timeout: Option<std::time::Duration>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            wal: fasty_wal::Options::default(),
            columnar: std::env::var_os("FASTY_COLUMNAR").is_none_or(|v| v != "0"),
            max_transaction_bytes: 256 << 20,
            idle_transaction_timeout: None,
        }
    }
}

impl Options {
    /// Default options in durable mode.
    pub fn durable() -> Options {
        Options::default().with_durability(Durability::Durable)
    }

    /// Default options in memory mode ([`Durability::Memory`]):
    /// nothing touches the disk.
    pub fn memory() -> Options {
        Options::default().with_durability(Durability::Memory)
    }

    /// Sets [`Options::wal`].
    #[must_use]
    pub fn with_wal(mut self, wal: fasty_wal::Options) -> Options {
        self.wal = wal;
        self
    }

    /// Sets [`Options::columnar`].
    #[must_use]
    pub fn with_columnar(mut self, columnar: bool) -> Options {
        self.columnar = columnar;
        self
    }

    /// Sets [`Options::max_transaction_bytes`].
    #[must_use]
    pub fn with_max_transaction_bytes(mut self, bytes: usize) -> Options {
        self.max_transaction_bytes = bytes;
        self
    }

    /// Sets [`Options::idle_transaction_timeout`].
    #[must_use]
    pub fn with_idle_transaction_timeout(
        mut self,
        timeout: Option<std::time::Duration>,
    ) -> Options {
        self.idle_transaction_timeout = timeout;
        self
    }

    /// Sets the durability mode (`wal.durability`), which also decides
    /// memory mode.
    #[must_use]
    pub fn with_durability(mut self, durability: Durability) -> Options {
        self.wal.durability = durability;
        self
    }
}

/// `insert` or `upsert`, for [`Database::insert_rows`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InsertMode {
    /// Fail with `duplicate_key` (writing nothing) if a key exists.
    #[default]
    Insert,
    /// Replace existing rows whole.
    Upsert,
}

/// A statement parsed once, with `?` placeholders for values, to run many
/// times ([`Database::prepare`], [`Database::execute_prepared`]): the text
/// is not parsed again, and a bound `find T where id = ?` goes straight to
/// a point read.
#[derive(Debug, Clone)]
pub struct Prepared {
    statement: Statement,
    params: usize,
}

impl Prepared {
    /// How many values a run needs (the number of `?`).
    pub fn params(&self) -> usize {
        self.params
    }

    /// The statement's kind, for routing and metrics.
    pub fn kind(&self) -> StatementKind {
        crate::statement::kind_of(&self.statement)
    }

    /// The syntax tree, placeholders unbound.
    pub(crate) fn tree(&self) -> &Statement {
        &self.statement
    }
}

/// Number of primary-key lock stripes.
const STRIPES: usize = 256;

/// An embedded fasty database.
pub struct Database {
    db: Db,
    catalog: RwLock<Arc<Catalog>>,
    /// Serialises DDL.
    ddl: Mutex<()>,
    /// Per table id: shared for inserts, exclusive for update/delete/DDL.
    table_locks: Mutex<HashMap<u32, Arc<RwLock<()>>>>,
    /// Primary-key stripes, locked by inserts and commits in ascending
    /// order.
    stripes: Vec<Mutex<()>>,
    /// Open transactions and their counters.
    txns: Arc<Registry>,
}

impl Database {
    /// Opens (or creates) the database in `dir`, recovering its log and
    /// loading the catalog; finishes deleting the data of tables and
    /// indexes dropped before a crash.
    pub fn open(dir: impl AsRef<Path>, opts: Options) -> Result<Database> {
        let txns = Registry::new(opts.max_transaction_bytes, opts.idle_transaction_timeout);
        let mut wal = opts.wal;
        if opts.columnar {
            let storage = wal
                .storage
                .clone()
                .with_value_layout(Some(Arc::new(RowLayout)));
            wal = wal.with_storage(storage);
        }
        let db = Db::open(dir, wal)?;
        let cat = Catalog::load(&db.snapshot())?;
        let dropped = cat.dropped.clone();
        let database = Database {
            db,
            catalog: RwLock::new(Arc::new(cat)),
            ddl: Mutex::new(()),
            table_locks: Mutex::new(HashMap::new()),
            stripes: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            txns,
        };
        for id in dropped {
            database.purge(id)?;
        }
        spawn_idle_sweep(&database.txns);
        Ok(database)
    }

    /// The catalog as of now, for in-crate tests that plan by hand.
    #[cfg(test)]
    pub(crate) fn catalog(&self) -> Arc<Catalog> {
        self.catalog.read().clone()
    }

    /// The key-value store below, for stats, sync and checkpoints.
    pub fn kv(&self) -> &Db {
        &self.db
    }

    /// Checks that the stored catalog and rows decode and that every
    /// index agrees with its table both ways, over one snapshot; see
    /// [`IntegrityReport`](crate::IntegrityReport). A full scan: for
    /// tests, tools and checks after a crash.
    pub fn verify(&self) -> Result<crate::IntegrityReport> {
        crate::verify::verify(&self.db)
    }

    /// Syncs and closes the database.
    pub fn close(self) -> Result<()> {
        self.db.close()?;
        Ok(())
    }

    /// Names of the tables, sorted.
    pub fn tables(&self) -> Vec<String> {
        self.catalog.read().table_names()
    }

    /// A table's columns, in declaration order, and its index names.
    pub fn schema(&self, table: &str) -> Result<(Vec<ColumnDef>, Vec<String>)> {
        let cat = self.catalog.read().clone();
        let t = cat.table(table)?;
        Ok((
            t.columns.clone(),
            t.indexes.iter().map(|i| i.name.clone()).collect(),
        ))
    }

    /// A table's indexes: `(index name, indexed column)` each, in the
    /// order they were created.
    pub fn indexes(&self, table: &str) -> Result<Vec<(String, String)>> {
        let cat = self.catalog.read().clone();
        let t = cat.table(table)?;
        Ok(t.indexes
            .iter()
            .map(|i| (i.name.clone(), i.column.clone()))
            .collect())
    }

    /// The names of a table's unique indexes (those of `unique` columns
    /// included), in the order they were created.
    pub fn unique_indexes(&self, table: &str) -> Result<Vec<String>> {
        let cat = self.catalog.read().clone();
        let t = cat.table(table)?;
        Ok(t.indexes
            .iter()
            .filter(|i| i.unique)
            .map(|i| i.name.clone())
            .collect())
    }

    /// Runs one statement.
    pub fn execute(&self, text: &str) -> Result<Output> {
        self.execute_with(text, ExecOptions::default())
    }

    /// Runs one statement with per-call switches.
    pub fn execute_with(&self, text: &str, opts: ExecOptions) -> Result<Output> {
        let stmt = parser::parse(text)?;
        // Parsed text is within the bounds already.
        self.collect_in(&stmt, opts, None)
    }

    /// Parses a statement whose values may be `?` placeholders (in
    /// expressions and insert values; not in `limit`/`offset`), for
    /// [`Database::execute_prepared`]. Names are checked when it runs.
    pub fn prepare(&self, text: &str) -> Result<Prepared> {
        let (statement, params) = parser::parse_with_params(text)?;
        Ok(Prepared {
            statement,
            params: params.len(),
        })
    }

    /// Parses one SQL statement (docs/sql.md) whose values may be `$1`,
    /// `$2`, ... placeholders, for [`Database::execute_prepared`]: `$n`
    /// takes the `n`-th value (they may come in any order, and repeat), and
    /// [`Prepared::params`] is the highest `n`. Names are checked when it
    /// runs.
    pub fn prepare_sql(&self, text: &str) -> Result<Prepared> {
        let (statement, params) = crate::sql::parse_one_sql(text)?;
        Ok(Prepared { statement, params })
    }

    /// Runs a prepared statement with `params[i]` for its `i`-th `?`;
    /// `invalid_parameter` unless exactly [`Prepared::params`] values are
    /// given.
    pub fn execute_prepared(&self, prepared: &Prepared, params: &[Value]) -> Result<Output> {
        self.execute_prepared_with(prepared, params, ExecOptions::default())
    }

    /// [`Database::execute_prepared`] with per-call switches and limits.
    pub fn execute_prepared_with(
        &self,
        prepared: &Prepared,
        params: &[Value],
        opts: ExecOptions,
    ) -> Result<Output> {
        self.execute_prepared_in(prepared, params, opts, None)
    }

    /// [`Database::execute_prepared_with`], in `txn` when given.
    pub(crate) fn execute_prepared_in(
        &self,
        prepared: &Prepared,
        params: &[Value],
        opts: ExecOptions,
        txn: Option<&mut TxnState>,
    ) -> Result<Output> {
        if params.len() != prepared.params {
            return Err(Error::query(
                ErrorCode::InvalidParameter,
                format!(
                    "the statement has {} placeholder(s), {} value(s) given",
                    prepared.params,
                    params.len()
                ),
            ));
        }
        if params.is_empty() {
            return self.run_tree_in(&prepared.statement, opts, txn);
        }
        let values: Vec<Literal> = params.iter().map(value_literal).collect();
        let mut statement = prepared.statement.clone();
        bind_statement(&mut statement, &values);
        self.run_tree_in(&statement, opts, txn)
    }

    /// The result columns a prepared statement's run would give, found by
    /// binding it (placeholders as nulls) without running it: a query's
    /// columns (names and, where known, types), empty for any other
    /// statement (`explain` included: its output is a plan, not rows).
    /// For protocols that describe a statement before executing it.
    /// Fails as the run would on unknown names.
    pub fn describe(&self, prepared: &Prepared) -> Result<Vec<Column>> {
        let mut statement = prepared.statement.clone();
        if prepared.params > 0 {
            let nulls = vec![value_literal(&Value::Null); prepared.params];
            bind_statement(&mut statement, &nulls);
        }
        let Statement::Select(select) = &statement else {
            return Ok(Vec::new());
        };
        parser::check_depth(&statement)?;
        let cat = self.catalog.read().clone();
        let bound = plan::bind::bind_select(&cat, select)?;
        Ok(bound
            .columns
            .into_iter()
            .map(|(name, ty)| Column { name, ty })
            .collect())
    }

    /// The type of each placeholder of a prepared statement, inferred
    /// from the column it is given to or compared with (`None` where no
    /// column decides it, or the name is unknown). For protocols that
    /// describe a statement's parameters before it runs.
    pub fn param_types(&self, prepared: &Prepared) -> Vec<Option<ColumnType>> {
        let cat = self.catalog.read().clone();
        crate::param_types::infer(&cat, &prepared.statement, prepared.params)
    }

    /// Whether `stmt` is a primary-key point read (`find T where id = N`,
    /// or `select * from T where N = id`, nothing else): one key lookup
    /// and at most one row, so cheap enough that a server may run it on
    /// its request thread instead of handing it to a worker pool. `false`
    /// for anything else, unknown tables included.
    pub fn is_key_read(&self, stmt: &crate::Statement) -> bool {
        let Statement::Select(s) = &stmt.0 else {
            return false;
        };
        let Some((left, right)) = equality_filter(s) else {
            return false;
        };
        let cat = self.catalog.read();
        let Ok(t) = cat.table(&s.from) else {
            return false;
        };
        matches!(column_and_literal(t, left, right), Some((pos, Literal::Int(_))) if pos == t.pk)
    }

    /// Runs one statement, sending a query's rows to `sink` as they are
    /// produced ([`Database::run_into`]).
    pub fn execute_into(
        &self,
        text: &str,
        opts: ExecOptions,
        sink: &mut dyn RowSink,
    ) -> Result<Streamed> {
        let stmt = parser::parse(text)?;
        let limits = Limits::new(&opts);
        self.run_with(&stmt, &opts, &limits, sink, false, None)
    }

    /// Runs a parsed statement ([`crate::parse`]) and returns its whole
    /// output (a query's rows collected in memory, counted against the
    /// memory limit).
    pub fn run(&self, stmt: &crate::Statement, opts: ExecOptions) -> Result<Output> {
        self.run_tree_in(&stmt.0, opts, None)
    }

    /// [`Database::run`] of a syntax tree, which may have been built by
    /// hand, in `txn` when given.
    pub(crate) fn run_tree_in(
        &self,
        stmt: &Statement,
        opts: ExecOptions,
        txn: Option<&mut TxnState>,
    ) -> Result<Output> {
        // A statement built by hand never met the parser's bounds.
        parser::check_depth(stmt)?;
        self.collect_in(stmt, opts, txn)
    }

    /// [`Database::run`] of a statement known to be within the parser's
    /// bounds, in `txn` when given.
    pub(crate) fn collect_in(
        &self,
        stmt: &Statement,
        opts: ExecOptions,
        txn: Option<&mut TxnState>,
    ) -> Result<Output> {
        let limits = Limits::new(&opts);
        let mut all = Collect {
            columns: Vec::new(),
            rows: Vec::new(),
            limits: &limits,
        };
        match self.run_with(stmt, &opts, &limits, &mut all, true, txn)? {
            Streamed::Rows(_) => Ok(Output::Rows {
                columns: all.columns,
                rows: all.rows,
            }),
            Streamed::Other(out) => Ok(out),
        }
    }

    /// Runs a parsed statement, streaming a query's result: `sink` gets
    /// the columns, then the rows in chunks as the executor produces them,
    /// so memory stays bounded however large the result (sorts and
    /// aggregates buffer what they must, within `opts.memory_limit`). An
    /// error from the sink stops the statement and is returned. Other
    /// statements do not call the sink and give [`Streamed::Other`].
    pub fn run_into(
        &self,
        stmt: &crate::Statement,
        opts: ExecOptions,
        sink: &mut dyn RowSink,
    ) -> Result<Streamed> {
        self.run_into_in(stmt, opts, sink, None)
    }

    /// [`Database::run_into`], in `txn` when given.
    pub(crate) fn run_into_in(
        &self,
        stmt: &crate::Statement,
        opts: ExecOptions,
        sink: &mut dyn RowSink,
        txn: Option<&mut TxnState>,
    ) -> Result<Streamed> {
        let stmt = &stmt.0;
        // A statement built by hand never met the parser's bounds.
        parser::check_depth(stmt)?;
        let limits = Limits::new(&opts);
        self.run_with(stmt, &opts, &limits, sink, false, txn)
    }

    // -----------------------------------------------------------------
    // Transactions

    /// Opens a transaction reading a snapshot taken now.
    pub(crate) fn begin_txn(&self, read_only: bool) -> OpenTxn {
        OpenTxn::begin(&self.txns, self.db.snapshot(), read_only)
    }

    /// The transaction registry (which database a session's transaction
    /// belongs to).
    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.txns
    }

    /// The transaction counters: open now, begun, committed, rolled back,
    /// failed on a conflict, timed out.
    pub fn transaction_stats(&self) -> TransactionStats {
        self.txns.stats()
    }

    /// Commits a transaction's writes (see the `transaction` module): under
    /// the written tables' shared locks and the written rows' stripes,
    /// checks that no written row changed since the snapshot and that no
    /// written table changed shape, then writes one batch.
    pub(crate) fn commit_state(&self, state: TxnState) -> Result<()> {
        let batch = state.snapshot().private_writes();
        if batch.is_empty() {
            return Ok(());
        }
        let tables = state.tables();
        // Table locks in ascending id order, then stripes in ascending
        // order: the order every writer takes them in.
        let locks: Vec<Arc<RwLock<()>>> = tables.keys().map(|&id| self.table_lock(id)).collect();
        // A table with a unique index is locked exclusively: its unique
        // values are checked again below against the store as it is now.
        let mut _shared = Vec::new();
        let mut _excl = Vec::new();
        for (l, t) in locks.iter().zip(tables.values()) {
            if constraints::has_unique(t) {
                _excl.push(l.write());
            } else {
                _shared.push(l.read());
            }
        }
        for used in tables.values() {
            let now = self
                .current(used)
                .map_err(|_| transaction::changed(&used.name))?;
            if !transaction::same_definition(&now, used) {
                return Err(transaction::changed(&used.name));
            }
        }
        let rows: Vec<(u32, i64)> = batch
            .iter()
            .filter_map(|op| {
                let key = match op {
                    fasty_wal::BatchOp::Put(k, _) | fasty_wal::BatchOp::Delete(k) => k,
                };
                keys::decode_row_key(key).filter(|(id, _)| tables.contains_key(id))
            })
            .collect();
        let _stripes = self.lock_stripes(rows.iter().copied());
        let seqno = state.snapshot().seqno();
        for &(id, pk) in &rows {
            if self.db.written_after(&keys::row_key(id, pk), seqno)? {
                let name = tables.get(&id).map_or("?", |t| t.name.as_str());
                return Err(Error::query(
                    ErrorCode::SerializationFailure,
                    format!(
                        "the row of \"{name}\" with id {pk} was written by another transaction or statement since this transaction began; nothing was written: run the transaction again"
                    ),
                ));
            }
        }
        if tables.values().any(|t| constraints::has_unique(t)) {
            let cat = self.catalog.read().clone();
            constraints::check_unique_commit(&cat, &batch, &self.db.snapshot())?;
        }
        drop(state);
        self.db.write(batch)?;
        Ok(())
    }

    /// Runs `stmt` into `sink`, which `keeps_all` rows when it collects
    /// them.
    fn run_with(
        &self,
        stmt: &Statement,
        opts: &ExecOptions,
        limits: &Limits,
        sink: &mut dyn RowSink,
        keeps_all: bool,
        txn: Option<&mut TxnState>,
    ) -> Result<Streamed> {
        let popts = PlanOptions {
            use_indexes: opts.use_indexes,
        };
        check_in_transaction(stmt, txn.as_deref())?;
        let out = match stmt {
            Statement::Select(s) => {
                return self
                    .select(s, popts, limits, sink, keeps_all, txn.as_deref())
                    .map(Streamed::Rows);
            }
            Statement::CreateTable {
                name,
                columns,
                if_not_exists,
            } => self.create_table(name, columns, *if_not_exists),
            Statement::DropTable { name, if_exists } => self.drop_table(name, *if_exists),
            Statement::CreateIndex {
                name,
                table,
                column,
                if_not_exists,
                unique,
            } => self.create_index(name, table, column, *if_not_exists, *unique, limits),
            Statement::AlterTable { table, action } => self.alter_table(table, action, limits),
            Statement::DropIndex { name, if_exists } => self.drop_index(name, *if_exists),
            Statement::Insert {
                table,
                rows,
                upsert,
            } => {
                let named;
                let rows = if self.positional(rows) {
                    named = self.name_positional(table, rows)?;
                    &named
                } else {
                    rows
                };
                let rows = rows
                    .iter()
                    .map(|r| r.iter().map(|(k, v)| (k.as_str(), expr::literal_value(v))));
                let mode = if *upsert {
                    InsertMode::Upsert
                } else {
                    InsertMode::Insert
                };
                self.insert_rows_in(table, rows, mode, txn)
                    .map(Output::Affected)
            }
            Statement::Update {
                table,
                assignments,
                filter,
            } => self
                .update(table, assignments, filter.as_ref(), popts, limits, txn)
                .map(Output::Affected),
            Statement::Delete { table, filter } => self
                .delete(table, filter.as_ref(), popts, limits, txn)
                .map(Output::Affected),
            Statement::Explain(inner) => {
                self.explain(inner, popts, txn.as_deref()).map(Output::Plan)
            }
            Statement::ExplainAnalyze(inner) => self
                .explain_analyze(inner, popts, limits, txn.as_deref())
                .map(Output::Plan),
            Statement::Begin { .. } | Statement::Commit | Statement::Rollback => Err(Error::query(
                ErrorCode::InvalidTransactionState,
                format!(
                    "{stmt} needs a session that holds the transaction: use Database::begin, or a Session (over HTTP, a {{\"transaction\": [...]}} request); each statement on its own is a transaction already"
                ),
            )),
        };
        out.map(Streamed::Other)
    }

    /// Whether an insert's rows are positional (SQL `INSERT INTO t VALUES`
    /// without a column list, whose rows are all positional): one look at
    /// the first field.
    fn positional(&self, rows: &[Vec<(String, Literal)>]) -> bool {
        rows.iter()
            .flatten()
            .next()
            .is_some_and(|(k, _)| crate::sql::positional_index(k).is_some())
    }

    /// Names the fields of positional rows after the table's columns in
    /// declaration order, as they are now.
    fn name_positional(
        &self,
        table: &str,
        rows: &[Vec<(String, Literal)>],
    ) -> Result<Vec<Vec<(String, Literal)>>> {
        let cat = self.catalog.read().clone();
        let t = cat.table(table)?;
        rows.iter()
            .map(|r| {
                if r.len() > t.columns.len() {
                    return Err(Error::query(
                        ErrorCode::SyntaxError,
                        format!(
                            "INSERT has more expressions ({}) than table \"{}\" has columns ({})",
                            r.len(),
                            t.name,
                            t.columns.len()
                        ),
                    ));
                }
                Ok(r.iter()
                    .map(|(k, v)| {
                        let name = match crate::sql::positional_index(k) {
                            Some(p) => t.columns.get(p).map_or(k, |c| &c.name),
                            None => k,
                        };
                        (name.clone(), v.clone())
                    })
                    .collect())
            })
            .collect()
    }

    /// The batch fast path: inserts (or upserts) rows given as
    /// `column → value` fields, atomically. Returns the number of rows.
    /// With [`InsertMode::Insert`], any existing key (or one given twice)
    /// fails the whole batch with `duplicate_key` and writes nothing.
    pub fn insert_rows<R, K>(
        &self,
        table: &str,
        rows: impl IntoIterator<Item = R>,
        mode: InsertMode,
    ) -> Result<u64>
    where
        R: IntoIterator<Item = (K, Value)>,
        K: AsRef<str>,
    {
        self.insert_rows_in(table, rows, mode, None)
    }

    /// [`Database::insert_rows`], in `txn` when given.
    pub(crate) fn insert_rows_in<R, K>(
        &self,
        table: &str,
        rows: impl IntoIterator<Item = R>,
        mode: InsertMode,
        txn: Option<&mut TxnState>,
    ) -> Result<u64>
    where
        R: IntoIterator<Item = (K, Value)>,
        K: AsRef<str>,
    {
        if let Some(t) = txn.as_deref() {
            t.check_writable()?;
        }
        let cat = self.catalog.read().clone();
        let t = cat.table(table)?.clone();
        let width = t.columns.len();
        // Sized once: growing a large buffer by doubling costs a copy and
        // fresh (page-faulting) memory per step.
        let rows = rows.into_iter();
        let mut batch = Rows::with_capacity(width, rows.size_hint().0);
        // Field `j` of the last row went to column `order[j]`: rows built
        // the same way (the usual case) need no name lookup.
        let mut order: Vec<usize> = Vec::new();
        let rules = constraints::has_column_rules(&t);
        let template = if rules {
            constraints::defaults(&t)
        } else {
            Vec::new()
        };
        for r in rows {
            let start = batch.values.len();
            if rules {
                batch.values.extend_from_slice(&template);
            } else {
                batch.values.resize(start + width, Value::Null);
            }
            let vals = &mut batch.values[start..];
            for (j, (k, v)) in r.into_iter().enumerate() {
                let k = k.as_ref();
                let pos = match order.get(j) {
                    Some(&p) if t.columns[p].name == k => p,
                    _ => {
                        let p = t.column(k).ok_or_else(|| unknown_column(&t, k))?;
                        if j < order.len() {
                            order[j] = p;
                        } else {
                            order.push(p);
                        }
                        p
                    }
                };
                vals[pos] = t.coerce(pos, v)?;
            }
            let Value::Int(pk) = vals[t.pk] else {
                return Err(insert::missing_id(&t));
            };
            if rules {
                constraints::check_not_null(&t, vals)?;
            }
            batch.pks.push(pk);
        }
        match txn {
            Some(txn) => self.write_rows_in(&t, batch, mode, txn),
            None => self.write_rows(&t, batch, mode),
        }
    }

    fn table_lock(&self, id: u32) -> Arc<RwLock<()>> {
        self.table_locks.lock().entry(id).or_default().clone()
    }

    /// The current definition of `t` (after its lock is taken: DDL may
    /// have changed it since planning).
    fn current(&self, t: &Table) -> Result<Arc<Table>> {
        let cat = self.catalog.read().clone();
        match cat.tables.get(&t.name) {
            Some(now) if now.id == t.id => Ok(now.clone()),
            _ => Err(Error::query(
                ErrorCode::UnknownTable,
                format!("table \"{}\" was dropped", t.name),
            )),
        }
    }

    /// Writes `rows` through the insert operator: encoded before the key
    /// stripes are taken (a large batch takes nearly every stripe, so
    /// whatever runs under them runs one batch at a time), checked against
    /// a snapshot taken under them.
    fn write_rows(&self, t: &Table, rows: Rows, mode: InsertMode) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let lock = self.table_lock(t.id);
        // A unique index is checked against the other rows: no writer of
        // the table may run beside this one.
        let unique = constraints::has_unique(t);
        let mut shared = (!unique).then(|| lock.read());
        let _excl = unique.then(|| lock.write());
        let mut t = self.current(t)?;
        // A unique index created since planning: lock again, exclusively.
        let _late = if !unique && constraints::has_unique(&t) {
            shared = None;
            let g = lock.write();
            t = self.current(&t)?;
            Some(g)
        } else {
            None
        };
        let _shared = shared;
        let insert = Insert::encode(&t, &rows, mode == InsertMode::Upsert)?;
        let _guards = self.lock_stripes(insert.keys().iter().map(|&pk| (t.id, pk)));
        let snap = self.db.snapshot();
        let written = insert.finish(&t, &rows, &snap)?;
        drop(snap);
        self.db.write(written.batch)?;
        Ok(written.count)
    }

    /// [`Database::write_rows`] in a transaction: checked against its
    /// snapshot, written into it; no lock (the commit takes them).
    fn write_rows_in(
        &self,
        t: &Table,
        rows: Rows,
        mode: InsertMode,
        txn: &mut TxnState,
    ) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let t = self.current(t)?;
        let insert = Insert::encode(&t, &rows, mode == InsertMode::Upsert)?;
        let written = insert.finish(&t, &rows, txn.snapshot())?;
        txn.record(&t, written.batch)?;
        Ok(written.count)
    }

    /// Locks the stripes of `(table, primary key)` pairs, in ascending
    /// stripe order.
    fn lock_stripes(&self, rows: impl Iterator<Item = (u32, i64)>) -> Vec<MutexGuard<'_, ()>> {
        let mut idx: Vec<usize> = rows.map(|(table, pk)| stripe(table, pk)).collect();
        idx.sort_unstable();
        idx.dedup();
        idx.into_iter().map(|i| self.stripes[i].lock()).collect()
    }

    /// Runs a query into `sink`; returns how many rows it sent.
    fn select(
        &self,
        s: &Select,
        opts: PlanOptions,
        limits: &Limits,
        sink: &mut dyn RowSink,
        keeps_all: bool,
        txn: Option<&TxnState>,
    ) -> Result<u64> {
        let cat = self.catalog.read().clone();
        if opts.use_indexes
            && let Some(n) = self.point_read(&cat, s, limits, sink, keeps_all, txn)?
        {
            return Ok(n);
        }
        let bound = plan::bind::bind_select(&cat, s)?;
        let snap = self.reading(txn);
        let physical = plan_select(bound.plan, opts, &snap)?;
        let columns: Vec<Column> = bound
            .columns
            .into_iter()
            .map(|(name, ty)| Column { name, ty })
            .collect();
        sink.columns(&columns)?;
        let ctx = exec::ExecCtx::new(&snap, limits);
        let mut emit = Emitter::new(sink, limits, keeps_all);
        exec::run(&physical, &ctx, &mut emit)?;
        emit.finish()
    }

    /// The fast path of the most common lookups, `find T where id = c` (one
    /// point read) and `find T where col = c` on an indexed column (one
    /// index probe, then point reads), without building a plan. Sends the
    /// rows the planner's lookup would to `sink` and returns how many;
    /// `None` (the sink untouched) for any other shape.
    fn point_read(
        &self,
        cat: &Catalog,
        s: &Select,
        limits: &Limits,
        sink: &mut dyn RowSink,
        keeps_all: bool,
        txn: Option<&TxnState>,
    ) -> Result<Option<u64>> {
        let Some((left, right)) = equality_filter(s) else {
            return Ok(None);
        };
        let t = cat.table(&s.from)?;
        let Some((pos, lit)) = column_and_literal(t, left, right) else {
            return Ok(None);
        };
        let columns: Vec<Column> = t
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                ty: Some(c.ty),
            })
            .collect();
        let limit = s.limit.map(|l| usize::try_from(l).unwrap_or(usize::MAX));
        if pos == t.pk {
            let Literal::Int(pk) = lit else {
                return Ok(None);
            };
            sink.columns(&columns)?;
            let ncols = t.columns.len();
            // Decoded while borrowed: the read takes no reference on a
            // shared columnar block.
            let key = keys::row_key(t.id, *pk);
            let decode = |read: Option<fasty_wal::PointRef<'_>>| {
                read.map(|r| exec::decode_point_read(r, ncols))
            };
            let found = match txn {
                Some(txn) => txn
                    .snapshot()
                    .with_ref(&key, decode)
                    .map_err(|e| Error::Storage(e.into()))?,
                None => self.db.with_ref(&key, decode).map_err(Error::Storage)?,
            };
            if limit != Some(0)
                && let Some(values) = found.transpose()?
            {
                sink.rows(vec![values])?;
                return Ok(Some(1));
            }
            return Ok(Some(0));
        }
        // An indexed column: the index entries equal to the value, then the
        // rows, in primary-key order — what the planner's index lookup
        // gives, without building a plan.
        let Some(ix) = t.indexes.iter().find(|i| i.pos == pos) else {
            return Ok(None);
        };
        let value = expr::literal_value(lit);
        if value.is_null() || matches!(value, Value::Json(_)) {
            return Ok(None);
        }
        let Some(key) = key_value(value, t.columns[pos].ty) else {
            return Ok(None);
        };
        sink.columns(&columns)?;
        let mut emit = Emitter::new(sink, limits, keeps_all);
        emit.window(0, limit);
        let snap = self.reading(txn);
        let mut meter = Meter::new(limits);
        for pk in index_pks(&snap, ix.id, std::slice::from_ref(&key), &mut meter)? {
            if emit.done() {
                break;
            }
            meter.tick()?;
            let ncols = t.columns.len();
            if let Some(values) = snap
                .with_ref(&keys::row_key(t.id, pk), |read| {
                    read.map(|r| exec::decode_point_read(r, ncols))
                })
                .map_err(|e| Error::Storage(e.into()))?
                .transpose()?
            {
                emit.push(values)?;
            }
        }
        emit.finish().map(Some)
    }

    /// `update`: under the table's exclusive lock, the rows the filter
    /// finds go through the update operator, whose batch is written whole.
    fn update(
        &self,
        table: &str,
        assignments: &[(String, Expr)],
        filter: Option<&Expr>,
        opts: PlanOptions,
        limits: &Limits,
        txn: Option<&mut TxnState>,
    ) -> Result<u64> {
        let t0 = self.catalog.read().table(table)?.clone();
        let lock = self.table_lock(t0.id);
        // In a transaction the commit takes the locks.
        let _excl = txn.is_none().then(|| lock.write());
        let cat = self.catalog.read().clone();
        let t = self.current(&t0)?;
        let scope = Scope::new(vec![t.clone()]);
        let mut sets = Vec::new();
        for (col, e) in assignments {
            let pos = t.column(col).ok_or_else(|| unknown_column(&t, col))?;
            if expr::has_aggregate(e) {
                return Err(Error::query(
                    ErrorCode::Unsupported,
                    "aggregates are not allowed in set",
                ));
            }
            sets.push((pos, plan::bind::bind_expr(e, &scope)?));
        }
        let input = plan::choose::plan_rows(&cat, table, filter, opts)?;
        let node = Physical::Update {
            input: Box::new(input),
            table: t.clone(),
            sets,
        };
        let snap = self.reading(txn.as_deref());
        let ctx = exec::ExecCtx::new(&snap, limits);
        let written = Update::from_plan(exec::Node::root(&node), &ctx)?.run(&snap)?;
        drop(ctx);
        drop(snap);
        self.write_in(&t, written, txn)
    }

    /// `delete`: under the table's exclusive lock, the rows the filter
    /// finds go through the delete operator, whose batch is written whole.
    fn delete(
        &self,
        table: &str,
        filter: Option<&Expr>,
        opts: PlanOptions,
        limits: &Limits,
        txn: Option<&mut TxnState>,
    ) -> Result<u64> {
        let t0 = self.catalog.read().table(table)?.clone();
        let lock = self.table_lock(t0.id);
        // In a transaction the commit takes the locks.
        let _excl = txn.is_none().then(|| lock.write());
        let cat = self.catalog.read().clone();
        let t = self.current(&t0)?;
        let input = plan::choose::plan_rows(&cat, table, filter, opts)?;
        let node = Physical::Delete {
            input: Box::new(input),
            table: t.clone(),
        };
        let snap = self.reading(txn.as_deref());
        let ctx = exec::ExecCtx::new(&snap, limits);
        let written = Delete::from_plan(exec::Node::root(&node), &ctx)?.run()?;
        drop(ctx);
        drop(snap);
        self.write_in(&t, written, txn)
    }

    /// Writes a write operator's batch for table `t` (nothing when it is
    /// empty) through the log, or into `txn`; returns its row count.
    fn write_in(
        &self,
        t: &Arc<Table>,
        written: Written,
        txn: Option<&mut TxnState>,
    ) -> Result<u64> {
        match txn {
            Some(txn) => txn.record(t, written.batch)?,
            None if !written.batch.is_empty() => {
                self.db.write(written.batch)?;
            }
            None => {}
        }
        Ok(written.count)
    }

    /// The snapshot a statement reads: its transaction's, or one taken
    /// now.
    fn reading<'t>(&self, txn: Option<&'t TxnState>) -> Reading<'t> {
        match txn {
            Some(txn) => Reading::Txn(txn.snapshot()),
            None => Reading::Own(self.db.snapshot()),
        }
    }

    fn explain(
        &self,
        stmt: &Statement,
        opts: PlanOptions,
        txn: Option<&TxnState>,
    ) -> Result<String> {
        let cat = self.catalog.read().clone();
        Ok(match stmt {
            Statement::Select(s) => {
                let bound = plan::bind::bind_select(&cat, s)?;
                let physical = plan_select(bound.plan, opts, &self.reading(txn))?;
                plan::explain::explain(&physical)
            }
            Statement::Update { table, filter, .. } | Statement::Delete { table, filter } => {
                let rows = plan::choose::plan_rows(&cat, table, filter.as_ref(), opts)?;
                format!(
                    "{} {table} (one atomic batch, indexes maintained)\n{}",
                    write_verb(stmt),
                    plan::explain::explain_at(&rows, 1)
                )
            }
            Statement::Insert {
                table,
                rows,
                upsert,
            } => {
                let t = cat.table(table)?;
                format!(
                    "{} {} row(s) into {} (one atomic batch, {} index(es))",
                    if *upsert { "upsert" } else { "insert" },
                    rows.len(),
                    t.name,
                    t.indexes.len()
                )
            }
            Statement::Explain(inner) => self.explain(inner, opts, txn)?,
            Statement::ExplainAnalyze(inner) => format!("explain analyze {inner}"),
            ddl => format!("{ddl}"),
        })
    }

    /// `explain analyze`: runs a query, or the row-finding of an `update`
    /// or `delete` (changing nothing), on the vectorised engine whichever
    /// engine runs queries (only it measures each plan node), and returns
    /// the plan with each node's rows, chunks and time. Other statements
    /// are refused with `unsupported`, before anything runs.
    fn explain_analyze(
        &self,
        stmt: &Statement,
        opts: PlanOptions,
        limits: &Limits,
        txn: Option<&TxnState>,
    ) -> Result<String> {
        let cat = self.catalog.read().clone();
        let snap = self.reading(txn);
        let (head, physical) = match stmt {
            Statement::Select(s) => {
                let bound = plan::bind::bind_select(&cat, s)?;
                (None, plan_select(bound.plan, opts, &snap)?)
            }
            Statement::Update { table, filter, .. } | Statement::Delete { table, filter } => (
                Some(format!(
                    "{} {table} (rows found, nothing changed)",
                    write_verb(stmt)
                )),
                plan::choose::plan_rows(&cat, table, filter.as_ref(), opts)?,
            ),
            other => {
                return Err(Error::query(
                    ErrorCode::Unsupported,
                    format!(
                        "explain analyze runs a select, or the row-finding of an update or delete, not {}; use explain",
                        statement_name(other)
                    ),
                ));
            }
        };
        let ctx = exec::ExecCtx::analysing(&snap, limits, physical.size());
        let mut discard = Discard;
        let mut emit = Emitter::new(&mut discard, limits, false);
        exec::run(&physical, &ctx, &mut emit)?;
        emit.finish()?;
        let Some(profile) = ctx.profile.as_ref() else {
            return Err(Error::query(
                ErrorCode::Unsupported,
                "internal: explain analyze without figures",
            ));
        };
        Ok(match head {
            Some(h) => format!(
                "{h}\n{}",
                plan::explain::explain_analyze(&physical, 1, profile)
            ),
            None => plan::explain::explain_analyze(&physical, 0, profile),
        })
    }

    // -----------------------------------------------------------------
    // DDL

    fn create_table(
        &self,
        name: &str,
        columns: &[ColumnDef],
        if_not_exists: bool,
    ) -> Result<Output> {
        let _ddl = self.ddl.lock();
        let cat = self.catalog.read().clone();
        if cat.tables.contains_key(name) {
            if if_not_exists {
                return Ok(Output::Ok);
            }
            return Err(Error::query(
                ErrorCode::TableExists,
                format!("table \"{name}\" already exists"),
            ));
        }
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].iter().any(|d| d.name == c.name) {
                return Err(Error::query(
                    ErrorCode::InvalidSchema,
                    format!(
                        "column \"{}\" is declared twice in table \"{name}\"",
                        c.name
                    ),
                ));
            }
        }
        let pk = constraints::check_columns(name, columns)?;
        let id = take_id(&cat)?;
        let mut columns = columns.to_vec();
        for (i, c) in columns.iter_mut().enumerate() {
            c.primary_key = i == pk;
        }
        // A unique column gets its unique index with the table, named as
        // PostgreSQL names it; the key is unique already.
        let uniques: Vec<(u32, String, String)> = columns
            .iter()
            .enumerate()
            .filter(|(i, c)| c.unique && *i != pk)
            .zip(1..)
            .map(|((_, c), n)| (id + n, format!("{name}_{}_key", c.name), c.name.clone()))
            .collect();
        for (_, ix, _) in &uniques {
            if cat.indexes.contains_key(ix) {
                return Err(Error::query(
                    ErrorCode::IndexExists,
                    format!("index \"{ix}\" (of a unique column) already exists"),
                ));
            }
        }
        let next_id = id
            .checked_add(1 + uniques.len() as u32)
            .ok_or_else(|| Error::query(ErrorCode::InvalidSchema, "out of table ids"))?;
        let mut batch = WriteBatch::new();
        batch.put(
            catalog::table_key(name),
            catalog::encode_table(id, name, &columns, pk),
        );
        for (ix_id, ix, col) in &uniques {
            batch.put(
                catalog::index_key(ix),
                catalog::encode_index(*ix_id, ix, name, col, true),
            );
        }
        batch.put(catalog::next_id_key(), u64::from(next_id).to_be_bytes());
        batch.put(catalog::version_key(), [catalog::FORMAT]);
        self.db.write(batch)?;
        let mut next = (*cat).clone();
        next.next_id = next_id;
        next.tables.insert(
            name.to_string(),
            Arc::new(Table {
                id,
                name: name.to_string(),
                columns,
                pk,
                indexes: Vec::new(),
            }),
        );
        for (ix_id, ix, col) in uniques {
            next.add_index_with(ix_id, ix, name.to_string(), col, true)?;
        }
        *self.catalog.write() = Arc::new(next);
        Ok(Output::Ok)
    }

    fn drop_table(&self, name: &str, if_exists: bool) -> Result<Output> {
        let _ddl = self.ddl.lock();
        let cat = self.catalog.read().clone();
        if if_exists && !cat.tables.contains_key(name) {
            return Ok(Output::Ok);
        }
        let t = cat.table(name)?.clone();
        let lock = self.table_lock(t.id);
        let _excl = lock.write();
        let mut batch = WriteBatch::new();
        batch.delete(catalog::table_key(name));
        batch.put(catalog::dropped_key(t.id), b"");
        for ix in &t.indexes {
            batch.delete(catalog::index_key(&ix.name));
            batch.put(catalog::dropped_key(ix.id), b"");
        }
        self.db.write(batch)?;
        let mut next = (*cat).clone();
        next.tables.remove(name);
        for ix in &t.indexes {
            next.indexes.remove(&ix.name);
        }
        *self.catalog.write() = Arc::new(next);
        self.purge(t.id)?;
        for ix in &t.indexes {
            self.purge(ix.id)?;
        }
        Ok(Output::Ok)
    }

    fn create_index(
        &self,
        name: &str,
        table: &str,
        column: &str,
        if_not_exists: bool,
        unique: bool,
        limits: &Limits,
    ) -> Result<Output> {
        let _ddl = self.ddl.lock();
        let cat = self.catalog.read().clone();
        if cat.indexes.contains_key(name) {
            if if_not_exists {
                return Ok(Output::Ok);
            }
            return Err(Error::query(
                ErrorCode::IndexExists,
                format!("index \"{name}\" already exists"),
            ));
        }
        let t = cat.table(table)?.clone();
        let pos = t.column(column).ok_or_else(|| unknown_column(&t, column))?;
        if t.columns[pos].ty == ColumnType::Json {
            return Err(Error::query(
                ErrorCode::Unsupported,
                format!("cannot index json column \"{column}\""),
            ));
        }
        let lock = self.table_lock(t.id);
        let _excl = lock.write();
        let id = take_id(&cat)?;
        let mut batch = WriteBatch::new();
        batch.put(
            catalog::index_key(name),
            catalog::encode_index(id, name, table, column, unique),
        );
        batch.put(catalog::next_id_key(), u64::from(id + 1).to_be_bytes());
        batch.put(catalog::version_key(), [catalog::FORMAT]);
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        let mut prefix = Vec::new();
        // Backfill in the same batch: the index exists whole or not at all.
        let snap = self.db.snapshot();
        let mut ikey = Vec::new();
        let mut val = [Value::Null];
        let mut meter = Meter::new(limits);
        for pair in snap.scan(keys::table_prefix(t.id).to_vec()..table_end(t.id)) {
            let (k, v) = pair.map_err(|e| Error::Storage(e.into()))?;
            let (_, pk) = keys::decode_row_key(&k).ok_or_else(|| Error::corrupt("bad row key"))?;
            row::decode_columns(&v, &[pos], &mut val)?;
            if unique && val[0] != Value::Null {
                prefix.clear();
                keys::index_prefix(id, &val[0], &mut prefix);
                if !seen.insert(prefix.clone()) {
                    return Err(Error::query(
                        ErrorCode::DuplicateKey,
                        format!(
                            "cannot create unique index \"{name}\": more than one row of \"{table}\" holds {} in column \"{column}\"",
                            val[0]
                        ),
                    ));
                }
                meter.tick_holding(prefix.len() + 48)?;
            }
            ikey.clear();
            keys::index_key(id, &val[0], pk, &mut ikey);
            batch.put(&ikey, b"");
            // The batch holds every entry until it is written.
            meter.tick_holding(ikey.len() + 16)?;
        }
        meter.flush()?;
        drop(snap);
        self.db.write(batch)?;
        let mut next = (*cat).clone();
        next.next_id = id + 1;
        next.add_index_with(
            id,
            name.to_string(),
            table.to_string(),
            column.to_string(),
            unique,
        )?;
        *self.catalog.write() = Arc::new(next);
        Ok(Output::Ok)
    }

    fn drop_index(&self, name: &str, if_exists: bool) -> Result<Output> {
        let _ddl = self.ddl.lock();
        let cat = self.catalog.read().clone();
        if if_exists && !cat.indexes.contains_key(name) {
            return Ok(Output::Ok);
        }
        let Some(ix) = cat.indexes.get(name).cloned() else {
            let hint = crate::hint::closest(name, cat.indexes.keys().map(String::as_str))
                .map(|c| format!("did you mean index \"{c}\"?"));
            return Err(Error::hinted(
                ErrorCode::UnknownIndex,
                format!("unknown index \"{name}\""),
                hint,
            ));
        };
        let t = cat.table(&ix.table)?.clone();
        let lock = self.table_lock(t.id);
        let _excl = lock.write();
        let mut batch = WriteBatch::new();
        batch.delete(catalog::index_key(name));
        batch.put(catalog::dropped_key(ix.id), b"");
        self.db.write(batch)?;
        let mut next = (*cat).clone();
        next.indexes.remove(name);
        let mut nt = (*t).clone();
        nt.indexes.retain(|i| i.id != ix.id);
        next.tables.insert(nt.name.clone(), Arc::new(nt));
        *self.catalog.write() = Arc::new(next);
        self.purge(ix.id)?;
        Ok(Output::Ok)
    }

    /// Deletes every key under id `id` (a dropped table or index), in
    /// batches, then its `dropped` marker. Safe to repeat after a crash.
    fn purge(&self, id: u32) -> Result<()> {
        const CHUNK: usize = 10_000;
        loop {
            let snap = self.db.snapshot();
            let mut batch = WriteBatch::new();
            let mut n = 0;
            for pair in snap.scan(keys::table_prefix(id).to_vec()..table_end(id)) {
                let (k, _) = pair.map_err(|e| Error::Storage(e.into()))?;
                batch.delete(&k);
                n += 1;
                if n == CHUNK {
                    break;
                }
            }
            drop(snap);
            if n == 0 {
                break;
            }
            self.db.write(batch)?;
        }
        let mut batch = WriteBatch::new();
        batch.delete(catalog::dropped_key(id));
        self.db.write(batch)?;
        let mut cat = self.catalog.write();
        if cat.dropped.contains(&id) {
            let mut next = (**cat).clone();
            next.dropped.retain(|d| *d != id);
            *cat = Arc::new(next);
        }
        Ok(())
    }
}

/// The snapshot a statement reads ([`Database::reading`]).
enum Reading<'t> {
    /// Taken for the statement.
    Own(fasty_wal::Snapshot),
    /// Its transaction's.
    Txn(&'t fasty_wal::Snapshot),
}

impl std::ops::Deref for Reading<'_> {
    type Target = fasty_wal::Snapshot;

    fn deref(&self) -> &fasty_wal::Snapshot {
        match self {
            Reading::Own(s) => s,
            Reading::Txn(s) => s,
        }
    }
}

/// Refuses what cannot run inside a transaction, before it runs: DDL
/// (which takes effect at once, outside any transaction) and writes in a
/// read-only one.
fn check_in_transaction(stmt: &Statement, txn: Option<&TxnState>) -> Result<()> {
    let Some(txn) = txn else {
        return Ok(());
    };
    match stmt {
        Statement::CreateTable { .. }
        | Statement::DropTable { .. }
        | Statement::CreateIndex { .. }
        | Statement::DropIndex { .. }
        | Statement::AlterTable { .. } => Err(Error::query(
            ErrorCode::InvalidTransactionState,
            format!(
                "{} cannot run inside a transaction: commit or roll back first (DDL takes effect at once, on its own)",
                ddl_name(stmt)
            ),
        )),
        Statement::Insert { .. } | Statement::Update { .. } | Statement::Delete { .. } => {
            txn.check_writable()
        }
        Statement::Begin { .. } | Statement::Commit | Statement::Rollback => Err(Error::query(
            ErrorCode::InvalidTransactionState,
            format!(
                "{stmt} inside a transaction that its handle ends: a transaction is already open (call Transaction::commit or rollback; a {{\"transaction\": [...]}} request commits by itself)"
            ),
        )),
        _ => Ok(()),
    }
}

/// `create table` and the like, for messages.
fn ddl_name(stmt: &Statement) -> &'static str {
    match stmt {
        Statement::CreateTable { .. } => "create table",
        Statement::DropTable { .. } => "drop table",
        Statement::CreateIndex { .. } => "create index",
        Statement::AlterTable { .. } => "alter table",
        _ => "drop index",
    }
}

/// Starts the thread that rolls back transactions idle past the timeout,
/// when there is one; it ends soon after the database is dropped.
fn spawn_idle_sweep(txns: &Arc<Registry>) {
    let Some(timeout) = txns.idle_timeout() else {
        return;
    };
    let period = (timeout / 4).clamp(
        std::time::Duration::from_millis(5),
        std::time::Duration::from_secs(1),
    );
    let weak = Arc::downgrade(txns);
    let spawned = std::thread::Builder::new()
        .name("fasty-idle-txn".into())
        .spawn(move || {
            loop {
                std::thread::sleep(period);
                let Some(txns) = weak.upgrade() else {
                    break;
                };
                txns.sweep();
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start the idle-transaction sweep; idle transactions stay open");
    }
}

/// The next free id for a table or index.
/// The physical plan of a query, hash joins building on the input
/// estimated smaller from `snap`.
fn plan_select(
    plan: plan::logical::Logical,
    opts: PlanOptions,
    snap: &fasty_wal::Snapshot,
) -> Result<Physical> {
    let sizes = |t: &Table, a: &plan::physical::Access| exec::estimate_rows(snap, t, a);
    plan::choose::physical_sized(plan, opts, Some(&sizes))
}

fn take_id(cat: &Catalog) -> Result<u32> {
    if cat.next_id >= u32::MAX - 1 {
        return Err(Error::query(
            ErrorCode::Unsupported,
            "no table or index ids left in this database",
        ));
    }
    Ok(cat.next_id)
}

/// The two sides of the filter of a plain `select * from T where A = B`
/// (no joins, grouping, ordering or offset; a limit is allowed); `None`
/// for any other shape.
fn equality_filter(s: &Select) -> Option<(&Expr, &Expr)> {
    if !(s.items.is_empty()
        && s.joins.is_empty()
        && s.group_by.is_empty()
        && s.order_by.is_empty()
        && s.offset.is_none())
    {
        return None;
    }
    match &s.filter {
        Some(Expr::Binary {
            op: crate::ast::BinaryOp::Eq,
            left,
            right,
        }) => Some((left, right)),
        _ => None,
    }
}

/// `col = literal` or `literal = col` on a plain (or `T.`-qualified)
/// column of `t`: the column's position and the literal.
fn column_and_literal<'e>(
    t: &Table,
    left: &'e Expr,
    right: &'e Expr,
) -> Option<(usize, &'e Literal)> {
    let column = |e: &Expr| match e {
        Expr::Name(p) => match p.as_slice() {
            [c] => t.column(c),
            [tb, c] if *tb == t.name => t.column(c),
            _ => None,
        },
        _ => None,
    };
    match (left, right) {
        (l, Expr::Literal(v)) => column(l).map(|pos| (pos, v)),
        (Expr::Literal(v), r) => column(r).map(|pos| (pos, v)),
        _ => None,
    }
}

fn stripe(table: u32, pk: i64) -> usize {
    let h = (u64::from(table) << 32 ^ pk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> 56) as usize % STRIPES
}

fn unknown_column(t: &Table, name: &str) -> Error {
    let hint = crate::hint::closest(name, t.columns.iter().map(|c| c.name.as_str()))
        .map(|c| format!("did you mean column \"{c}\"?"));
    Error::hinted(
        ErrorCode::UnknownColumn,
        format!("unknown column \"{name}\" in table \"{}\"", t.name),
        hint,
    )
}

/// A value as the literal that stands for it in a bound statement.
fn value_literal(v: &Value) -> Literal {
    match v {
        Value::Null => Literal::Null,
        Value::Int(i) => Literal::Int(*i),
        Value::Float(x) => Literal::Float(*x),
        Value::Bool(b) => Literal::Bool(*b),
        Value::String(s) => Literal::String(s.clone()),
        Value::Json(j) => json_literal(j),
    }
}

fn json_literal(j: &serde_json::Value) -> Literal {
    match j {
        serde_json::Value::Array(items) => Literal::Array(items.iter().map(json_literal).collect()),
        serde_json::Value::Object(m) => Literal::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), json_literal(v)))
                .collect(),
        ),
        other => value_literal(&Value::from_json(other.clone())),
    }
}

/// Replaces every `?` of `stmt` by its value.
fn bind_statement(stmt: &mut Statement, values: &[Literal]) {
    let e = |x: &mut Expr| bind_expr(x, values);
    match stmt {
        Statement::Insert { rows, .. } => rows
            .iter_mut()
            .flatten()
            .for_each(|(_, l)| bind_literal(l, values)),
        Statement::Select(s) => {
            s.items.iter_mut().for_each(|i| e(&mut i.expr));
            s.joins.iter_mut().for_each(|j| e(&mut j.on));
            s.filter.iter_mut().for_each(e);
            s.group_by.iter_mut().for_each(e);
            s.order_by.iter_mut().for_each(|o| e(&mut o.expr));
        }
        Statement::Update {
            assignments,
            filter,
            ..
        } => {
            assignments.iter_mut().for_each(|(_, x)| e(x));
            filter.iter_mut().for_each(e);
        }
        Statement::Delete { filter, .. } => filter.iter_mut().for_each(e),
        Statement::Explain(inner) | Statement::ExplainAnalyze(inner) => {
            bind_statement(inner, values)
        }
        Statement::Begin { .. } | Statement::Commit | Statement::Rollback => {}
        Statement::CreateTable { .. }
        | Statement::DropTable { .. }
        | Statement::CreateIndex { .. }
        | Statement::DropIndex { .. }
        | Statement::AlterTable { .. } => {}
    }
}

fn bind_expr(e: &mut Expr, values: &[Literal]) {
    let b = |x: &mut Expr| bind_expr(x, values);
    match e {
        Expr::Literal(l) => bind_literal(l, values),
        Expr::Name(_) => {}
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } => b(expr),
        Expr::Binary { left, right, .. } => {
            b(left);
            b(right);
        }
        Expr::Like { expr, pattern, .. } => {
            b(expr);
            b(pattern);
        }
        Expr::InList { expr, list, .. } => {
            b(expr);
            list.iter_mut().for_each(b);
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            b(expr);
            b(low);
            b(high);
        }
        Expr::Aggregate { arg, .. } => {
            if let Some(a) = arg {
                b(a);
            }
        }
        Expr::Function { args, .. } => args.iter_mut().for_each(b),
        Expr::Case {
            operand,
            whens,
            else_result,
        } => {
            if let Some(o) = operand {
                b(o);
            }
            for (c, r) in whens {
                b(c);
                b(r);
            }
            if let Some(e) = else_result {
                b(e);
            }
        }
        Expr::Cast { expr, .. } => b(expr),
    }
}

fn bind_literal(l: &mut Literal, values: &[Literal]) {
    match l {
        Literal::Param(i) => {
            if let Some(v) = values.get(*i as usize) {
                *l = v.clone();
            }
        }
        Literal::Array(items) => items.iter_mut().for_each(|x| bind_literal(x, values)),
        Literal::Object(fields) => fields.iter_mut().for_each(|(_, x)| bind_literal(x, values)),
        _ => {}
    }
}

/// The sink of [`Database::run`]: the whole result in memory, counted
/// against the memory limit.
struct Collect<'l> {
    columns: Vec<Column>,
    rows: Vec<Vec<Value>>,
    limits: &'l Limits,
}

impl RowSink for Collect<'_> {
    fn columns(&mut self, columns: &[Column]) -> Result<()> {
        self.columns = columns.to_vec();
        Ok(())
    }

    fn rows(&mut self, rows: Vec<Vec<Value>>) -> Result<()> {
        if self.limits.memory_limit().is_some() {
            let bytes: usize = rows.iter().map(|r| row_bytes(r)).sum();
            self.limits.hold(bytes)?;
        }
        if self.rows.is_empty() {
            self.rows = rows;
        } else {
            self.rows.extend(rows);
        }
        Ok(())
    }
}

/// `update` or `delete`, for the first line of their plans.
fn write_verb(stmt: &Statement) -> &'static str {
    if matches!(stmt, Statement::Update { .. }) {
        "update"
    } else {
        "delete"
    }
}

/// A sink that drops rows: `explain analyze` runs a query for its
/// figures, not its rows.
struct Discard;

impl RowSink for Discard {
    fn columns(&mut self, _columns: &[Column]) -> Result<()> {
        Ok(())
    }

    fn rows(&mut self, _rows: Vec<Vec<Value>>) -> Result<()> {
        Ok(())
    }
}

/// What a statement is, in a few words, for messages.
fn statement_name(stmt: &Statement) -> &'static str {
    match stmt {
        Statement::Insert { upsert: false, .. } => "insert",
        Statement::Insert { upsert: true, .. } => "upsert",
        Statement::Explain(_) | Statement::ExplainAnalyze(_) => "explain",
        Statement::Select(_) => "select",
        Statement::Update { .. } => "update",
        Statement::Delete { .. } => "delete",
        Statement::Begin { .. } => "begin",
        Statement::Commit => "commit",
        Statement::Rollback => "rollback",
        _ => "ddl",
    }
}
