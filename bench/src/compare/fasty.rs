//! fasty as the suite runs it: embedded (`fasty_query::Database` shared by
//! every client thread, lookups prepared once per connection, batches
//! through `Database::insert_rows`) and as a server (`fasty_server` on a
//! loopback port in this process, one keep-alive HTTP/1.1 connection per
//! client, batches as `{"table", "rows"}` bodies, everything else as
//! statement text), in each durability mode.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fasty_query::{Database, ErrorCode, InsertMode, Options, Output, Prepared, Value};
use serde::Serialize;

use super::recovery::Engine;
use super::system::{Conn, Result, System, TpcbOutcome, TpcbTotals, TpcbTx};
use super::tpcb::{self, Tables};
use crate::data::{AgeGroup, Order, User};
use crate::http::bodies::{insert_body, string_literal};
use crate::http::server::InProcess;
use crate::http::{Mode, client};

/// How long [`settle`] waits at most for background flushes.
const SETTLE_LIMIT: Duration = Duration::from_secs(120);

/// Server worker threads: one per core, as `fasty serve` defaults to.
fn server_threads() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

fn options(mode: Mode) -> Options {
    match mode {
        Mode::Async => Options::default(),
        Mode::Durable => Options::durable(),
        Mode::Memory => Options::memory(),
    }
}

fn err(e: impl std::fmt::Display) -> String {
    format!("fasty: {e}")
}

/// An open fasty database and what both ways of running it report the
/// same way: background work, disk use, recovery, the I/O backend.
struct Store {
    name: &'static str,
    mode: Mode,
    db: Arc<Database>,
    dir: PathBuf,
}

impl Store {
    fn open(name: &'static str, dir: &Path, mode: Mode) -> Result<Store> {
        let db = Database::open(dir, options(mode)).map_err(err)?;
        Ok(Store {
            name,
            mode,
            db: Arc::new(db),
            dir: dir.to_path_buf(),
        })
    }

    fn settle(&self) -> Result<()> {
        settle(&self.db);
        Ok(())
    }

    /// The engine's levels, write stalls and block-cache hits so far, and
    /// the log's space written ahead of time, if any.
    fn state(&self) -> String {
        let s = self.db.kv().stats().storage;
        let ahead = match log_written_ahead(&self.dir) {
            Ok(0) => String::new(),
            Ok(bytes) => format!(
                "; the log holds {:.0} MiB of zeros written ahead of its records \
                 (durable mode's preallocated segments), not counted in disk per row",
                bytes as f64 / f64::from(1 << 20)
            ),
            Err(e) => format!("; the log's size could not be read: {e}"),
        };
        format!(
            "{}: SST files per level [{}], {} write stalls ({:.2} s), {} flushes and {} \
             compactions; block cache {} hits, {} misses ({:.0}% hits), {:.0} MiB held{ahead}",
            self.name,
            level_files(&s),
            s.write_stalls,
            s.write_stall_micros as f64 / 1e6,
            s.flushes,
            s.compactions,
            s.cache_hits,
            s.cache_misses,
            100.0 * s.cache_hits as f64 / (s.cache_hits + s.cache_misses).max(1) as f64,
            s.cache_bytes as f64 / f64::from(1 << 20),
        )
    }

    /// After a checkpoint (memtables flushed, the log trimmed), the bytes
    /// in the data directory, with the levels as background compaction
    /// left them, less the zeros the log writes ahead of its records: in
    /// durable mode the active segment and the spare next one are written
    /// to their full size up front (`fasty_wal::Options::preallocate_segments`),
    /// a fixed 128 MiB by default that holds no table data (PostgreSQL's
    /// figure leaves out its log likewise).
    fn disk_bytes(&self) -> Result<Option<u64>> {
        if self.mode == Mode::Memory {
            return Ok(None);
        }
        self.db.kv().checkpoint().map_err(err)?;
        let total = dir_size(&self.dir)?;
        Ok(Some(total.saturating_sub(log_written_ahead(&self.dir)?)))
    }

    fn recovery(&self, scratch: &Path, wal_bytes: u64) -> Option<Result<f64>> {
        let engine = match self.mode {
            Mode::Async => Engine::FastyAsync,
            Mode::Durable => Engine::FastyDurable,
            Mode::Memory => return None,
        };
        Some(super::recovery::measure(engine, scratch, wal_bytes))
    }

    fn io_backend(&self) -> Option<&'static str> {
        Some(self.db.kv().stats().storage.io_backend)
    }

    /// Closes the database once nothing else holds it.
    fn close(self) -> Result<()> {
        match Arc::try_unwrap(self.db) {
            Ok(db) => db.close().map_err(err),
            Err(_) => Err("fasty: a connection outlived the run".into()),
        }
    }
}

/// fasty's query crate in this process.
pub struct Embedded(Store);

impl Embedded {
    /// Opens a database in `dir` in `mode`.
    pub fn open(name: &'static str, dir: &Path, mode: Mode) -> Result<Embedded> {
        Store::open(name, dir, mode).map(Embedded)
    }
}

impl System for Embedded {
    fn name(&self) -> &'static str {
        self.0.name
    }

    fn describe(&self) -> String {
        format!(
            "fasty's query crate in the harness's process (fasty_query::Database, default \
             options in {} durability), shared by every client thread; batches through \
             Database::insert_rows, single rows as one-row insert_rows, lookups and the \
             count prepared once per client, the rest as statement text; TPC-B-like \
             transactions as Database::begin, five prepared statements and commit",
            self.0.mode.name()
        )
    }

    fn connect(&self) -> Result<Box<dyn Conn>> {
        Ok(Box::new(EmbeddedConn {
            db: Arc::clone(&self.0.db),
            prepared: Default::default(),
            tpcb: None,
        }))
    }

    fn runs(&self, _w: super::workload::Workload) -> bool {
        true
    }

    fn settle(&self) -> Result<()> {
        self.0.settle()
    }

    fn disk_bytes(&self) -> Result<Option<u64>> {
        self.0.disk_bytes()
    }

    fn recovery(&self, scratch: &Path, wal_bytes: u64) -> Option<Result<f64>> {
        self.0.recovery(scratch, wal_bytes)
    }

    fn io_backend(&self) -> Option<&'static str> {
        self.0.io_backend()
    }

    fn state(&self) -> Option<String> {
        Some(self.0.state())
    }

    fn stop(self: Box<Self>) -> Result<()> {
        self.0.close()
    }
}

/// The bytes of every file under `dir`.
///
/// The directory may belong to a database that is running: its files come
/// and go between the listing and the look at each one (the log renames
/// `spare.tmp` to `spare.ready` and `spare.ready` to the next segment,
/// deletes flushed segments; compaction deletes tables). A file gone by
/// then holds no bytes, so it counts as none rather than failing the run.
pub fn dir_size(dir: &Path) -> Result<u64> {
    dir_size_with(dir, &mut |_| {})
}

/// [`dir_size`], calling `before_stat` with each entry's path between the
/// listing and its look (tests make a file vanish there).
fn dir_size_with(dir: &Path, before_stat: &mut dyn FnMut(&Path)) -> Result<u64> {
    let mut total = 0;
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = entry.path();
        before_stat(&path);
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            Err(e) if vanished(&e) => continue,
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        total += if meta.is_dir() {
            match dir_size_with(&path, before_stat) {
                Ok(n) => n,
                Err(_) if !path.exists() => 0,
                Err(e) => return Err(e),
            }
        } else {
            meta.len()
        };
    }
    Ok(total)
}

/// Whether an I/O error says the file is no longer there (removed or
/// renamed by the running database since it was listed).
fn vanished(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
}

/// The zeros at the ends of the files in `dir/wal`: space the log wrote
/// ahead of its records (a segment's records end where its zeros begin).
/// A file renamed or removed by the running log since the listing counts
/// as none (see [`dir_size`]).
fn log_written_ahead(dir: &Path) -> Result<u64> {
    log_written_ahead_with(dir, &mut |_| {})
}

/// [`log_written_ahead`], calling `before_open` with each file's path
/// between the look that finds it a file and its opening.
fn log_written_ahead_with(dir: &Path, before_open: &mut dyn FnMut(&Path)) -> Result<u64> {
    use std::io::{Read, Seek, SeekFrom};
    const CHUNK: u64 = 1 << 20;
    let wal = dir.join("wal");
    let entries = match std::fs::read_dir(&wal) {
        Ok(entries) => entries,
        Err(e) if vanished(&e) => return Ok(0),
        Err(e) => return Err(format!("{}: {e}", wal.display())),
    };
    let mut total = 0;
    let mut buf = vec![0u8; CHUNK as usize];
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", wal.display()))?.path();
        let fail = |e: std::io::Error| format!("{}: {e}", path.display());
        if !path.is_file() {
            continue;
        }
        before_open(&path);
        // Once open, the file stays readable whatever it is renamed to.
        let mut file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if vanished(&e) => continue,
            Err(e) => return Err(fail(e)),
        };
        let len = file.metadata().map_err(fail)?.len();
        // Walk back a chunk at a time to the last non-zero byte.
        let mut end = len;
        while end > 0 {
            let start = end.saturating_sub(CHUNK);
            let chunk = &mut buf[..(end - start) as usize];
            file.seek(SeekFrom::Start(start)).map_err(fail)?;
            file.read_exact(chunk).map_err(fail)?;
            match chunk.iter().rposition(|&b| b != 0) {
                Some(i) => {
                    end = start + i as u64 + 1;
                    break;
                }
                None => end = start,
            }
        }
        total += len - end;
    }
    Ok(total)
}

/// The statements an embedded connection prepares on first use (the
/// tables do not exist when it connects).
#[derive(Default)]
struct Statements {
    by_id: Option<Prepared>,
    by_email: Option<Prepared>,
    in_range: Option<Prepared>,
    older: Option<Prepared>,
    id_range: Option<Prepared>,
}

struct EmbeddedConn {
    db: Arc<Database>,
    prepared: Statements,
    /// The TPC-B-like transaction's statements, prepared for the tables of
    /// the prefix they were prepared for.
    tpcb: Option<(String, [Prepared; 5])>,
}

impl EmbeddedConn {
    fn run(&mut self, text: &str) -> Result<Output> {
        self.db.execute(text).map_err(err)
    }

    /// Runs a prepared statement, preparing `text` into `slot` first if
    /// needed.
    fn prepared(
        db: &Database,
        slot: &mut Option<Prepared>,
        text: &str,
        params: &[Value],
    ) -> Result<Vec<Vec<Value>>> {
        if slot.is_none() {
            *slot = Some(db.prepare(text).map_err(err)?);
        }
        let stmt = slot.as_ref().ok_or("statement not prepared")?;
        rows(db.execute_prepared(stmt, params).map_err(err)?)
    }
}

fn rows(out: Output) -> Result<Vec<Vec<Value>>> {
    match out {
        Output::Rows { rows, .. } => Ok(rows),
        other => Err(format!("fasty answered {other:?}, not rows")),
    }
}

/// The `id` (first column) of each row.
fn ids(rows: &[Vec<Value>]) -> Result<Vec<i64>> {
    rows.iter()
        .map(|r| match r.first() {
            Some(Value::Int(id)) => Ok(*id),
            other => Err(format!("fasty returned id {other:?}")),
        })
        .collect()
}

fn one_row(rows: Vec<Vec<Value>>) -> Result<Vec<Value>> {
    let n = rows.len();
    rows.into_iter()
        .next()
        .filter(|_| n == 1)
        .ok_or_else(|| format!("fasty returned {n} rows, not 1"))
}

fn int(v: &Value) -> Result<i64> {
    match v {
        Value::Int(n) => Ok(*n),
        other => Err(format!("fasty returned {other:?}, not an int")),
    }
}

fn float(v: &Value) -> Result<f64> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(n) => Ok(*n as f64),
        Value::Null => Ok(0.0),
        other => Err(format!("fasty returned {other:?}, not a number")),
    }
}

fn expect_count(n: u64, len: usize) -> Result<()> {
    if n == len as u64 {
        Ok(())
    } else {
        Err(format!("fasty inserted {n} rows of {len}"))
    }
}

impl Conn for EmbeddedConn {
    fn create_users(&mut self, table: &str) -> Result<()> {
        for stmt in users_statements(table) {
            self.run(&stmt)?;
        }
        Ok(())
    }

    fn create_orders(&mut self, table: &str) -> Result<()> {
        self.run(&orders_schema(table)).map(drop)
    }

    fn drop_table(&mut self, table: &str) -> Result<()> {
        self.run(&format!("drop table {table}")).map(drop)
    }

    fn insert_users(&mut self, table: &str, rows: &[User]) -> Result<()> {
        let n = self
            .db
            .insert_rows(
                table,
                rows.iter().map(|u| user_fields(u)),
                InsertMode::Insert,
            )
            .map_err(err)?;
        expect_count(n, rows.len())
    }

    fn insert_orders(&mut self, table: &str, rows: &[Order]) -> Result<()> {
        let n = self
            .db
            .insert_rows(
                table,
                rows.iter().map(|o| {
                    [
                        ("id", Value::Int(o.id)),
                        ("user_id", Value::Int(o.user_id)),
                        ("amount", Value::Float(o.amount)),
                    ]
                }),
                InsertMode::Insert,
            )
            .map_err(err)?;
        expect_count(n, rows.len())
    }

    fn user_by_id(&mut self, id: i64) -> Result<Vec<i64>> {
        let slot = &mut self.prepared.by_id;
        ids(&Self::prepared(
            &self.db,
            slot,
            "find users where id = ?",
            &[Value::Int(id)],
        )?)
    }

    fn user_by_email(&mut self, email: &str) -> Result<Vec<i64>> {
        let slot = &mut self.prepared.by_email;
        let params = [Value::String(email.to_string())];
        ids(&Self::prepared(
            &self.db,
            slot,
            "find users where email = ?",
            &params,
        )?)
    }

    fn users_in_range(&mut self, lo: i64, hi: i64) -> Result<Vec<i64>> {
        let slot = &mut self.prepared.in_range;
        let text = "find users where id >= ? and id < ?";
        ids(&Self::prepared(
            &self.db,
            slot,
            text,
            &[Value::Int(lo), Value::Int(hi)],
        )?)
    }

    fn top_balances(&mut self, k: usize) -> Result<Vec<f64>> {
        let rows = rows(self.run(&format!(
            "select * from users order by balance desc limit {k}"
        ))?)?;
        rows.iter()
            .map(|r| r.get(4).ok_or("short row".to_string()).and_then(float))
            .collect()
    }

    fn join_count_sum(&mut self) -> Result<(i64, f64)> {
        let row = one_row(rows(self.run(JOIN_AGGREGATE)?)?)?;
        match row.as_slice() {
            [n, sum] => Ok((int(n)?, float(sum)?)),
            other => Err(format!("join gave {other:?}")),
        }
    }

    fn join_limit(&mut self, k: usize) -> Result<usize> {
        Ok(rows(self.run(&format!("{JOIN_ROWS} limit {k}"))?)?.len())
    }

    fn count_older(&mut self, age: i64) -> Result<i64> {
        let slot = &mut self.prepared.older;
        let text = "select count(*) from users where age > ?";
        let row = one_row(Self::prepared(&self.db, slot, text, &[Value::Int(age)])?)?;
        row.first().ok_or("empty row".to_string()).and_then(int)
    }

    fn groups_by_age(&mut self) -> Result<Vec<AgeGroup>> {
        rows(self.run(GROUP_BY_AGE)?)?
            .iter()
            .map(|r| match r.as_slice() {
                [age, count, avg] => Ok(AgeGroup {
                    age: int(age)?,
                    count: int(count)?,
                    avg_balance: float(avg)?,
                }),
                _ => Err(format!("group by gave {r:?}")),
            })
            .collect()
    }

    fn count_id_range(&mut self, lo: i64, hi: i64) -> Result<i64> {
        let slot = &mut self.prepared.id_range;
        let text = "select count(*) from users where id between ? and ?";
        let row = one_row(Self::prepared(
            &self.db,
            slot,
            text,
            &[Value::Int(lo), Value::Int(hi)],
        )?)?;
        row.first().ok_or("empty row".to_string()).and_then(int)
    }

    fn tpcb_setup(&mut self, prefix: &str) -> Result<()> {
        let t = Tables::new(prefix);
        for stmt in tpcb::fasty_schema(&t) {
            self.run(&stmt)?;
        }
        for fill in tpcb::initial_rows(&t) {
            for chunk in fill.rows.chunks(TPCB_LOAD_ROWS) {
                let rows = chunk.iter().map(|r| {
                    fill.columns
                        .iter()
                        .zip(r)
                        .map(|(c, v)| (*c, Value::Int(*v)))
                });
                let n = self
                    .db
                    .insert_rows(fill.table, rows, InsertMode::Insert)
                    .map_err(err)?;
                expect_count(n, chunk.len())?;
            }
        }
        Ok(())
    }

    fn tpcb_drop(&mut self, prefix: &str) -> Result<()> {
        let t = Tables::new(prefix);
        let mut first = Ok(());
        for table in t.all() {
            let dropped = self.run(&format!("drop table {table}")).map(drop);
            first = first.and(dropped);
        }
        first
    }

    fn tpcb_transaction(&mut self, prefix: &str, tx: &TpcbTx) -> Result<TpcbOutcome> {
        if self.tpcb.as_ref().is_none_or(|(p, _)| p != prefix) {
            let t = Tables::new(prefix);
            let [a, b, c, d, e] =
                tpcb::fasty_prepared_text(&t).map(|text| self.db.prepare(&text).map_err(err));
            self.tpcb = Some((prefix.to_string(), [a?, b?, c?, d?, e?]));
        }
        let (_, stmts) = self.tpcb.as_ref().ok_or("statements not prepared")?;
        let params =
            tpcb::fasty_params(tx).map(|p| p.into_iter().map(Value::Int).collect::<Vec<_>>());
        match embedded_tpcb(&self.db, stmts, &params) {
            Err(e) if e.code() == ErrorCode::SerializationFailure => Ok(TpcbOutcome::Conflict),
            Err(e) => Err(err(e)),
            Ok(outcome) => outcome,
        }
    }

    fn tpcb_totals(&mut self, prefix: &str) -> Result<TpcbTotals> {
        let [a, t, b, h] = tpcb::fasty_totals_queries(&Tables::new(prefix));
        let sum = |v: &Value| if *v == Value::Null { Ok(0) } else { int(v) };
        let first = |out: Output| -> Result<Vec<Value>> { one_row(rows(out)?) };
        let one = |row: Vec<Value>| row.first().ok_or("empty row".to_string()).and_then(sum);
        let history = first(self.run(&h)?)?;
        let [delta, count] = history.as_slice() else {
            return Err(format!("history totals gave {history:?}"));
        };
        Ok(TpcbTotals {
            accounts: one(first(self.run(&a)?)?)?,
            tellers: one(first(self.run(&t)?)?)?,
            branches: one(first(self.run(&b)?)?)?,
            history: sum(delta)?,
            history_rows: int(count)?,
        })
    }
}

/// Rows per `insert_rows` call or `{"table", "rows"}` request when the
/// TPC-B-like tables are filled.
const TPCB_LOAD_ROWS: usize = 10_000;

/// One TPC-B-like transaction through `Database::begin`: the five prepared
/// statements, then the commit. fasty's own error (a conflict among them)
/// is handed back as is; a wrong answer is the inner error.
fn embedded_tpcb(
    db: &Database,
    stmts: &[Prepared; 5],
    params: &[Vec<Value>; 5],
) -> fasty_query::Result<Result<TpcbOutcome>> {
    let mut tx = db.begin()?;
    let mut balance = None;
    for (i, (stmt, p)) in stmts.iter().zip(params).enumerate() {
        let out = tx.execute_prepared(stmt, p)?;
        let checked = if i == 1 {
            rows(out)
                .and_then(one_row)
                .and_then(|r| r.first().ok_or("empty row".to_string()).and_then(int))
                .map(|b| balance = Some(b))
        } else {
            match out {
                Output::Affected(1) => Ok(()),
                other => Err(format!(
                    "statement {i} of the transaction answered {other:?}, not 1 row changed"
                )),
            }
        };
        if let Err(e) = checked {
            // Dropping the transaction rolls it back.
            return Ok(Err(e));
        }
    }
    tx.commit()?;
    Ok(balance
        .map(TpcbOutcome::Committed)
        .ok_or_else(|| "the select did not run".to_string()))
}

const JOIN_AGGREGATE: &str =
    "select count(*), sum(orders.amount) from orders join users on orders.user_id = users.id";
const GROUP_BY_AGE: &str = "select age, count(*), avg(balance) from users group by age";
const JOIN_ROWS: &str = "select * from orders join users on orders.user_id = users.id";

/// A `users`-shaped table and its email index.
pub fn users_statements(table: &str) -> [String; 2] {
    crate::http::bodies::schema(table)
}

fn orders_schema(table: &str) -> String {
    format!("create table {table} {{ id: int, user_id: int, amount: float }}")
}

/// fasty-server in this process, on a loopback port.
pub struct Server {
    store: Store,
    server: InProcess,
    target: client::Target,
}

impl Server {
    /// Opens a database in `dir` in `mode` and serves it.
    pub fn start(name: &'static str, dir: &Path, mode: Mode) -> Result<Server> {
        let store = Store::open(name, dir, mode)?;
        let server = InProcess::serve(Arc::clone(&store.db), server_threads(), None)?;
        let target = client::Target::new(server.addr(), None)?;
        Ok(Server {
            store,
            server,
            target,
        })
    }
}

impl System for Server {
    fn name(&self) -> &'static str {
        self.store.name
    }

    fn describe(&self) -> String {
        format!(
            "fasty-server in the harness's process on a loopback port ({} worker threads), \
             {} durability; one keep-alive HTTP/1.1 connection per client (hyper's client on a \
             single-threaded runtime per client thread); batches \
             as {{\"table\", \"rows\"}} bodies, everything else as statement text in \
             {{\"query\"}} bodies, TPC-B-like transactions as one {{\"transaction\"}} body \
             each, every answer parsed as JSON",
            server_threads(),
            self.store.mode.name()
        )
    }

    fn runs(&self, w: super::workload::Workload) -> bool {
        // Memory-only fasty has nothing to commit to: it stays out of the
        // transactions, where durability is the point.
        !(w.transactions() && self.store.mode == Mode::Memory)
    }

    fn connect(&self) -> Result<Box<dyn Conn>> {
        // As the synchronous PostgreSQL client does: a single-threaded
        // runtime per connection, driven by the client's own thread.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(err)?;
        let conn = rt.block_on(client::Conn::connect(&self.target))?;
        Ok(Box::new(HttpConn { rt, conn }))
    }

    fn settle(&self) -> Result<()> {
        self.store.settle()
    }

    fn disk_bytes(&self) -> Result<Option<u64>> {
        self.store.disk_bytes()
    }

    fn recovery(&self, scratch: &Path, wal_bytes: u64) -> Option<Result<f64>> {
        self.store.recovery(scratch, wal_bytes)
    }

    fn io_backend(&self) -> Option<&'static str> {
        self.store.io_backend()
    }

    fn state(&self) -> Option<String> {
        Some(self.store.state())
    }

    fn stop(self: Box<Self>) -> Result<()> {
        let Server { store, server, .. } = *self;
        // Stopping the server drops its runtime and with it every clone
        // of the database the server held.
        server.stop()?;
        store.close()
    }
}

/// One keep-alive HTTP/1.1 connection (hyper's client, as the `http`
/// benchmark uses) on a runtime of its own.
struct HttpConn {
    rt: tokio::runtime::Runtime,
    conn: client::Conn,
}

#[derive(Serialize)]
struct QueryBody<'a> {
    query: &'a str,
}

#[derive(Serialize)]
struct OrdersBody<'a> {
    table: &'a str,
    rows: Vec<OrderRow>,
}

#[derive(Serialize)]
struct OrderRow {
    id: i64,
    user_id: i64,
    amount: f64,
}

impl HttpConn {
    /// Posts `body` and returns the parsed answer, an error unless it says
    /// `"success": true`.
    fn post(&mut self, body: Vec<u8>) -> Result<serde_json::Value> {
        let (_status, bytes) = self.rt.block_on(self.conn.query(body.into()))?;
        let answer: serde_json::Value = serde_json::from_slice(&bytes).map_err(err)?;
        if answer["success"] == true {
            Ok(answer)
        } else {
            Err(format!("fasty answered {answer}"))
        }
    }

    fn query(&mut self, text: &str) -> Result<serde_json::Value> {
        self.post(serde_json::to_vec(&QueryBody { query: text }).map_err(err)?)
    }

    /// The `data` rows of a query's answer.
    fn rows(&mut self, text: &str) -> Result<Vec<serde_json::Value>> {
        match self.query(text)? {
            serde_json::Value::Object(mut o) => match o.remove("data") {
                Some(serde_json::Value::Array(rows)) => Ok(rows),
                _ => Err(format!("fasty's answer to {text:?} has no rows")),
            },
            _ => Err("fasty's answer is not an object".into()),
        }
    }

    fn ids(&mut self, text: &str) -> Result<Vec<i64>> {
        self.rows(text)?
            .iter()
            .map(|r| {
                r["id"]
                    .as_i64()
                    .ok_or_else(|| format!("row without id: {r}"))
            })
            .collect()
    }

    fn inserted(&mut self, body: Vec<u8>, len: usize) -> Result<()> {
        let answer = self.post(body)?;
        expect_count(answer["inserted"].as_u64().unwrap_or(0), len)
    }
}

impl Conn for HttpConn {
    fn create_users(&mut self, table: &str) -> Result<()> {
        for stmt in users_statements(table) {
            self.query(&stmt)?;
        }
        Ok(())
    }

    fn create_orders(&mut self, table: &str) -> Result<()> {
        self.query(&orders_schema(table)).map(drop)
    }

    fn drop_table(&mut self, table: &str) -> Result<()> {
        self.query(&format!("drop table {table}")).map(drop)
    }

    fn insert_users(&mut self, table: &str, rows: &[User]) -> Result<()> {
        self.inserted(insert_body(table, rows), rows.len())
    }

    fn insert_orders(&mut self, table: &str, rows: &[Order]) -> Result<()> {
        let body = OrdersBody {
            table,
            rows: rows
                .iter()
                .map(|o| OrderRow {
                    id: o.id,
                    user_id: o.user_id,
                    amount: o.amount,
                })
                .collect(),
        };
        self.inserted(serde_json::to_vec(&body).map_err(err)?, rows.len())
    }

    fn user_by_id(&mut self, id: i64) -> Result<Vec<i64>> {
        self.ids(&format!("find users where id = {id}"))
    }

    fn user_by_email(&mut self, email: &str) -> Result<Vec<i64>> {
        self.ids(&format!(
            "find users where email = {}",
            string_literal(email)
        ))
    }

    fn users_in_range(&mut self, lo: i64, hi: i64) -> Result<Vec<i64>> {
        self.ids(&format!("find users where id >= {lo} and id < {hi}"))
    }

    fn top_balances(&mut self, k: usize) -> Result<Vec<f64>> {
        self.rows(&format!(
            "select * from users order by balance desc limit {k}"
        ))?
        .iter()
        .map(|r| {
            r["balance"]
                .as_f64()
                .ok_or_else(|| format!("row without balance: {r}"))
        })
        .collect()
    }

    fn join_count_sum(&mut self) -> Result<(i64, f64)> {
        let rows = self.rows(JOIN_AGGREGATE)?;
        let [row] = rows.as_slice() else {
            return Err(format!("join gave {} rows, not 1", rows.len()));
        };
        let n = row["count(*)"]
            .as_i64()
            .ok_or_else(|| format!("join gave {row}"))?;
        Ok((n, row["sum(orders.amount)"].as_f64().unwrap_or(0.0)))
    }

    fn join_limit(&mut self, k: usize) -> Result<usize> {
        Ok(self.rows(&format!("{JOIN_ROWS} limit {k}"))?.len())
    }

    fn count_older(&mut self, age: i64) -> Result<i64> {
        let rows = self.rows(&format!("select count(*) from users where age > {age}"))?;
        rows.first()
            .and_then(|r| r["count(*)"].as_i64())
            .ok_or_else(|| format!("count gave {rows:?}"))
    }

    fn groups_by_age(&mut self) -> Result<Vec<AgeGroup>> {
        self.rows(GROUP_BY_AGE)?
            .iter()
            .map(|r| {
                let field = |k: &str| {
                    r.get(k)
                        .ok_or_else(|| format!("group row without {k}: {r}"))
                };
                Ok(AgeGroup {
                    age: field("age")?
                        .as_i64()
                        .ok_or_else(|| format!("bad age in {r}"))?,
                    count: field("count(*)")?
                        .as_i64()
                        .ok_or_else(|| format!("bad count in {r}"))?,
                    avg_balance: field("avg(balance)")?.as_f64().unwrap_or(0.0),
                })
            })
            .collect()
    }

    fn count_id_range(&mut self, lo: i64, hi: i64) -> Result<i64> {
        let rows = self.rows(&format!(
            "select count(*) from users where id between {lo} and {hi}"
        ))?;
        rows.first()
            .and_then(|r| r["count(*)"].as_i64())
            .ok_or_else(|| format!("count gave {rows:?}"))
    }

    fn tpcb_setup(&mut self, prefix: &str) -> Result<()> {
        let t = Tables::new(prefix);
        for stmt in tpcb::fasty_schema(&t) {
            self.query(&stmt)?;
        }
        for fill in tpcb::initial_rows(&t) {
            for chunk in fill.rows.chunks(TPCB_LOAD_ROWS) {
                let rows: Vec<serde_json::Map<String, serde_json::Value>> = chunk
                    .iter()
                    .map(|r| {
                        fill.columns
                            .iter()
                            .zip(r)
                            .map(|(c, v)| (c.to_string(), (*v).into()))
                            .collect()
                    })
                    .collect();
                let body = serde_json::json!({ "table": fill.table, "rows": rows });
                self.inserted(serde_json::to_vec(&body).map_err(err)?, chunk.len())?;
            }
        }
        Ok(())
    }

    fn tpcb_drop(&mut self, prefix: &str) -> Result<()> {
        let t = Tables::new(prefix);
        let mut first = Ok(());
        for table in t.all() {
            let dropped = self.query(&format!("drop table {table}")).map(drop);
            first = first.and(dropped);
        }
        first
    }

    fn tpcb_transaction(&mut self, prefix: &str, tx: &TpcbTx) -> Result<TpcbOutcome> {
        let statements = tpcb::fasty_statements(&Tables::new(prefix), tx);
        let body =
            serde_json::to_vec(&serde_json::json!({ "transaction": statements })).map_err(err)?;
        let (_status, bytes) = self.rt.block_on(self.conn.query(body.into()))?;
        let answer: serde_json::Value = serde_json::from_slice(&bytes).map_err(err)?;
        tpcb::http_outcome(&answer)
    }

    fn tpcb_totals(&mut self, prefix: &str) -> Result<TpcbTotals> {
        let [a, t, b, h] = tpcb::fasty_totals_queries(&Tables::new(prefix));
        let mut value = |text: &str, key: &str| -> Result<i64> {
            let rows = self.rows(text)?;
            match rows.as_slice() {
                [row] if row[key].is_null() => Ok(0),
                [row] => row[key]
                    .as_i64()
                    .ok_or_else(|| format!("{text:?} gave {row}")),
                _ => Err(format!("{text:?} gave {} rows", rows.len())),
            }
        };
        Ok(TpcbTotals {
            accounts: value(&a, "sum(abalance)")?,
            tellers: value(&t, "sum(tbalance)")?,
            branches: value(&b, "sum(bbalance)")?,
            history: value(&h, "sum(delta)")?,
            history_rows: value(&h, "count(*)")?,
        })
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

/// SST files per level, level 0 first: `5, 1, 0`.
fn level_files(s: &fasty_storage::Stats) -> String {
    let files: Vec<String> = s.levels.iter().map(|l| l.files.to_string()).collect();
    files.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log directory as a running durable database has it: a segment,
    /// a ready spare, and the engine's files beside it.
    fn live_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("wal");
        std::fs::create_dir(&wal).unwrap();
        let mut seg = vec![7u8; 40];
        seg.resize(100, 0);
        std::fs::write(wal.join("000000000001.log"), &seg).unwrap();
        let mut spare = vec![1u8; 16];
        spare.resize(1000, 0);
        std::fs::write(wal.join("spare.ready"), &spare).unwrap();
        std::fs::write(dir.path().join("000001.sst"), [5u8; 10]).unwrap();
        dir
    }

    /// Takes `spare.ready` into the next segment's name, as a rotation of
    /// the running log does, when the walk reaches it.
    fn rotate_at(path: &Path) {
        if path.file_name().is_some_and(|n| n == "spare.ready") {
            let next = path.with_file_name("000000000002.log");
            std::fs::rename(path, next).unwrap();
        }
    }

    #[test]
    fn dir_size_counts_a_file_renamed_during_the_walk_as_none() {
        let dir = live_dir();
        assert_eq!(dir_size(dir.path()).unwrap(), 100 + 1000 + 10);
        // The listing named `spare.ready`; by its look, a rotation has
        // renamed it (the new name may or may not be listed too).
        let size = dir_size_with(dir.path(), &mut rotate_at).unwrap();
        assert!(
            size == 100 + 10 || size == 100 + 1000 + 10,
            "a vanished file counts as none: {size}"
        );
    }

    #[test]
    fn log_written_ahead_counts_a_file_renamed_during_the_walk_as_none() {
        let dir = live_dir();
        assert_eq!(log_written_ahead(dir.path()).unwrap(), 60 + 984);
        let ahead = log_written_ahead_with(dir.path(), &mut rotate_at).unwrap();
        assert!(
            ahead == 60 || ahead == 60 + 984,
            "a vanished file counts as none: {ahead}"
        );
    }

    /// Sets up the TPC-B-like tables through `sys`, runs transactions from
    /// one client (each balance read must be the account's running sum),
    /// checks the totals, and drops the tables.
    fn tpcb_round_trip(sys: &dyn System) {
        let prefix = "tpcbtest_1";
        let mut conn = sys.connect().unwrap();
        conn.tpcb_setup(prefix).unwrap();
        let mut balances = std::collections::HashMap::new();
        let mut deltas = 0;
        // Client 0's first transactions hit accounts 1..=160000; add some
        // on account 7 so that a balance is read after several updates.
        let txs = (0..40)
            .map(|i| TpcbTx::generate(0, i, 1000 + i as i64))
            .chain((40..43).map(|i| TpcbTx {
                aid: 7,
                ..TpcbTx::generate(0, i, 0)
            }));
        let mut commits = 0;
        for tx in txs {
            let balance = balances.entry(tx.aid).or_insert(0);
            *balance += tx.delta;
            assert_eq!(
                conn.tpcb_transaction(prefix, &tx).unwrap(),
                TpcbOutcome::Committed(*balance),
                "{tx:?}"
            );
            deltas += tx.delta;
            commits += 1;
        }
        conn.tpcb_totals(prefix)
            .unwrap()
            .check(commits, deltas)
            .unwrap();
        conn.tpcb_drop(prefix).unwrap();
        let gone = conn.tpcb_totals(prefix).unwrap_err();
        assert!(
            gone.contains("unknown_table") || gone.contains("unknown table"),
            "{gone}"
        );
    }

    #[test]
    fn tpcb_runs_embedded_with_prepared_statements() {
        let dir = tempfile::tempdir().unwrap();
        let sys = Embedded::open("fasty-embedded", dir.path(), Mode::Memory).unwrap();
        tpcb_round_trip(&sys);
        Box::new(sys).stop().unwrap();
    }

    #[test]
    fn tpcb_runs_over_http_as_one_transaction_request() {
        let dir = tempfile::tempdir().unwrap();
        let sys = Server::start("fasty", dir.path(), Mode::Memory).unwrap();
        tpcb_round_trip(&sys);
        Box::new(sys).stop().unwrap();
    }

    #[test]
    fn log_written_ahead_counts_the_zeros_after_each_files_last_byte() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(log_written_ahead(dir.path()).unwrap(), 0, "no log yet");
        let wal = dir.path().join("wal");
        std::fs::create_dir(&wal).unwrap();
        // A segment with records, then zeros across more than one chunk.
        let mut seg = vec![7u8; 100];
        seg[50] = 0; // a zero inside the records counts as data
        seg.resize(100 + (3 << 20) + 5, 0);
        std::fs::write(wal.join("000000000005.log"), &seg).unwrap();
        // A spare: a header, then zeros only.
        let mut spare = vec![1u8; 16];
        spare.resize(2 << 20, 0);
        std::fs::write(wal.join("spare.ready"), &spare).unwrap();
        // A segment that is all records, and an empty file.
        std::fs::write(wal.join("000000000004.log"), [9u8; 10]).unwrap();
        std::fs::write(wal.join("000000000006.log"), []).unwrap();
        let expected = ((3 << 20) + 5) + ((2 << 20) - 16);
        assert_eq!(log_written_ahead(dir.path()).unwrap(), expected);
    }
}
