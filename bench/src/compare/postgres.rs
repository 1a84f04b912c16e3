//! PostgreSQL as the suite runs it: one server (Debian's PostgreSQL 15,
//! `initdb` into a fresh directory under the suite's base directory,
//! started by `pg_ctl` on a free loopback port, initdb's default settings)
//! shared by three systems, each with its own database:
//!
//! * `postgres`: batches as one multi-row parameterised `INSERT`;
//! * `postgres-nosync`: the same with `synchronous_commit=off` (set on
//!   its database with `ALTER DATABASE`);
//! * `postgres-copy`: batches (and the load) through `COPY … FROM STDIN`
//!   in binary format; it takes part in the batch workloads only.
//!
//! Every client has its own connection over TCP (the synchronous
//! `postgres` crate, no TLS, trust authentication); its statements are
//! prepared once per connection (lazily: the tables do not exist when it
//! connects) and cached, the inserts once per table and row count.
//!
//! The server is started by the first of the three systems to start and
//! stopped (`pg_ctl stop -m fast`) when the last one is stopped or
//! dropped. initdb and the server refuse to run as root: under root they
//! run as the `postgres` user (`runuser`), which then owns the cluster's
//! directory.

use std::collections::HashMap;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use postgres::binary_copy::BinaryCopyInWriter;
use postgres::error::SqlState;
use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls, Row, Statement};

use super::system::{Conn, Result, System, TpcbOutcome, TpcbTotals, TpcbTx};
use super::tpcb::{self, Tables};
use crate::data::{AgeGroup, Order, User};

/// The OS user the server runs as when the harness runs as root.
const PG_USER: &str = "postgres";
/// How long a client keeps retrying a connection the server turns away
/// for lack of slots (backends of the previous run still exiting).
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);
/// How long the recovery section waits for a restarted server to answer.
const RECOVERY_PATIENCE: Duration = Duration::from_secs(900);

/// A client error with its cause (the server's message, the I/O error).
fn err(e: postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("postgres: {}: {}", db.severity(), db.message());
    }
    match std::error::Error::source(&e) {
        Some(cause) => format!("postgres: {e}: {cause}"),
        None => format!("postgres: {e}"),
    }
}

fn io_err(what: impl std::fmt::Display, e: std::io::Error) -> String {
    format!("postgres: {what}: {e}")
}

/// How a system sends batches.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Batches {
    /// One multi-row `INSERT … VALUES ($1, …), (…)` per batch.
    Insert,
    /// `COPY t (…) FROM STDIN (FORMAT binary)` per batch.
    Copy,
}

/// The running server, shared by the PostgreSQL systems.
struct Cluster {
    /// The temporary directory holding `data/` and `server.log`.
    temp: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Whether initdb and pg_ctl run through `runuser -u postgres`.
    as_pg_user: bool,
    version: String,
    shared_buffers: String,
    /// Set once the server has been stopped.
    stopped: Mutex<bool>,
}

/// The server the systems share while any of them is alive.
static CLUSTER: Mutex<Weak<Cluster>> = Mutex::new(Weak::new());

impl Cluster {
    /// The running server, started (under `base`, with the programs in
    /// `bin`) if no system holds one.
    fn shared(base: &Path, bin: &Path) -> Result<Arc<Cluster>> {
        let mut slot = CLUSTER
            .lock()
            .map_err(|_| "postgres: the server registry is poisoned".to_string())?;
        if let Some(c) = slot.upgrade() {
            return Ok(c);
        }
        let c = Arc::new(Cluster::start(base, bin)?);
        *slot = Arc::downgrade(&c);
        Ok(c)
    }

    fn start(base: &Path, bin: &Path) -> Result<Cluster> {
        for program in ["initdb", "pg_ctl"] {
            let p = bin.join(program);
            if !p.is_file() {
                return Err(format!(
                    "postgres: {} not found (install PostgreSQL 15's server, e.g. \
                     `apt-get install postgresql-15`, or pass --pg-bin DIR)",
                    p.display()
                ));
            }
        }
        std::fs::create_dir_all(base).map_err(|e| io_err(base.display(), e))?;
        let temp = tempfile::Builder::new()
            .prefix("postgres-")
            .tempdir_in(base)
            .map_err(|e| io_err(base.display(), e))?;
        let as_pg_user = running_as_root();
        if as_pg_user {
            // The server's user must reach its directory through `base`
            // (a 0700 temporary directory of root's) and own its own.
            allow_traverse(base)?;
            run(Command::new("chown")
                .arg("-R")
                .arg(format!("{PG_USER}:"))
                .arg(temp.path()))?;
        }
        let data = temp.path().join("data");
        let port = free_port()?;
        let mut cluster = Cluster {
            data,
            bin: bin.to_path_buf(),
            port,
            as_pg_user,
            version: String::new(),
            shared_buffers: String::new(),
            stopped: Mutex::new(true),
            temp,
        };
        let mut initdb = cluster.command("initdb");
        initdb.arg("-D").arg(&cluster.data).args([
            "--auth=trust",
            "-U",
            "postgres",
            "--encoding=UTF8",
        ]);
        run(&mut initdb)?;
        *cluster
            .stopped
            .get_mut()
            .map_err(|_| "postgres: poisoned".to_string())? = false;
        cluster.launch(true)?;
        let mut client = cluster.client("postgres")?;
        let show = |client: &mut Client, what: &str| -> Result<String> {
            client
                .query_one(&format!("SHOW {what}"), &[])
                .and_then(|r| r.try_get::<_, String>(0))
                .map_err(err)
        };
        cluster.version = show(&mut client, "server_version")?;
        cluster.shared_buffers = show(&mut client, "shared_buffers")?;
        Ok(cluster)
    }

    /// Starts the server with `pg_ctl start`, waiting until it accepts
    /// connections if `wait` (otherwise pg_ctl returns once the postmaster
    /// is launched); the server log's tail if that fails.
    fn launch(&self, wait: bool) -> Result<()> {
        let log = self.log_path();
        let mut pg_ctl = self.command("pg_ctl");
        if wait {
            pg_ctl.arg("-w");
        } else {
            pg_ctl.arg("-W");
        }
        pg_ctl
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(format!(
                "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories='{}'",
                self.port,
                self.data.display()
            ))
            .arg("start");
        run(&mut pg_ctl)
            .map_err(|e| format!("{e}\nserver log ({}):\n{}", log.display(), tail(&log, 20)))
    }

    /// The recovery section for database `db`: with checkpoints held off,
    /// writes 1000-row batches until `wal_bytes` of WAL follow the last
    /// checkpoint, kills the postmaster with SIGKILL, restarts it and
    /// times until a lookup of the last row written answers: seconds.
    fn recovery(&self, db: &str, wal_bytes: u64) -> Result<f64> {
        let mut admin = self.client(db)?;
        let wal_mb = (wal_bytes >> 20) * 4 + 1024;
        each(
            &mut admin,
            &[
                &format!("ALTER SYSTEM SET max_wal_size = '{wal_mb}MB'"),
                "ALTER SYSTEM SET checkpoint_timeout = '1h'",
                "SELECT pg_reload_conf()",
                "DROP TABLE IF EXISTS bench_recovery",
            ],
        )?;
        let mut conn = PgConn {
            client: self.client(db)?,
            batches: Batches::Insert,
            inserts: HashMap::new(),
            reads: Reads::default(),
            tpcb: None,
        };
        conn.create_users("bench_recovery")?;
        admin.batch_execute("CHECKPOINT").map_err(err)?;
        let lsn = |c: &mut Client| -> Result<i64> {
            c.query_one(
                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint",
                &[],
            )
            .and_then(|r| r.try_get(0))
            .map_err(err)
        };
        let from = lsn(&mut admin)?;
        let mut users = crate::data::UserStream::new(7);
        let mut last = 0;
        for batch in 0u64.. {
            let rows = users.take(1000);
            conn.insert_users("bench_recovery", &rows)?;
            last = rows.last().map_or(last, |u| u.id);
            if batch % 8 == 0 && lsn(&mut admin)? - from >= wal_bytes as i64 {
                break;
            }
        }
        drop((conn, admin));
        self.kill()?;
        let began = Instant::now();
        self.launch(false)?;
        let params = format!(
            "host=127.0.0.1 port={} user=postgres dbname={db}",
            self.port
        );
        let mut client = loop {
            match Client::connect(&params, NoTls) {
                Ok(c) => break c,
                Err(_) if began.elapsed() < RECOVERY_PATIENCE => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => return Err(err(e)),
            }
        };
        let found: i64 = client
            .query_one(
                "SELECT count(*) FROM bench_recovery WHERE id = $1",
                &[&last],
            )
            .and_then(|r| r.try_get(0))
            .map_err(err)?;
        let elapsed = began.elapsed().as_secs_f64();
        each(
            &mut client,
            &[
                "DROP TABLE bench_recovery",
                "ALTER SYSTEM RESET max_wal_size",
                "ALTER SYSTEM RESET checkpoint_timeout",
                "SELECT pg_reload_conf()",
                "CHECKPOINT",
            ],
        )?;
        if found == 1 {
            Ok(elapsed)
        } else {
            Err(format!(
                "postgres: after recovery, row {last} (committed) is missing"
            ))
        }
    }

    /// Kills the postmaster with SIGKILL and waits until it and its
    /// children are gone (they notice its death and exit), so that a
    /// restart finds no shared memory still attached.
    fn kill(&self) -> Result<()> {
        let pidfile = self.data.join("postmaster.pid");
        let text = std::fs::read_to_string(&pidfile).map_err(|e| io_err(pidfile.display(), e))?;
        let pid = text
            .lines()
            .next()
            .map(str::trim)
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("postgres: no pid in {}", pidfile.display()))?
            .to_string();
        run(Command::new("kill").args(["-9", &pid]))?;
        let began = Instant::now();
        while Path::new("/proc").join(&pid).exists() && began.elapsed() < CONNECT_PATIENCE {
            std::thread::sleep(Duration::from_millis(10));
        }
        // The children exit on their own within milliseconds; give them a
        // moment rather than timing a refused start.
        std::thread::sleep(Duration::from_millis(500));
        Ok(())
    }

    fn log_path(&self) -> PathBuf {
        self.temp.path().join("server.log")
    }

    /// One of the server's programs, as the `postgres` user under root.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut c = if self.as_pg_user {
            let mut c = Command::new("runuser");
            c.args(["-u", PG_USER, "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        c.current_dir(self.temp.path()).stdin(Stdio::null());
        c
    }

    /// A new connection to database `db`, retried while the server turns
    /// it away for lack of connection slots or while starting up.
    fn client(&self, db: &str) -> Result<Client> {
        let params = format!(
            "host=127.0.0.1 port={} user=postgres dbname={db}",
            self.port
        );
        let began = Instant::now();
        loop {
            match Client::connect(&params, NoTls) {
                Ok(c) => return Ok(c),
                Err(e)
                    if (e.code() == Some(&SqlState::TOO_MANY_CONNECTIONS)
                        || e.code() == Some(&SqlState::CANNOT_CONNECT_NOW))
                        && began.elapsed() < CONNECT_PATIENCE =>
                {
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => return Err(err(e)),
            }
        }
    }

    /// Stops the server (once; later calls do nothing).
    fn shutdown(&self) -> Result<()> {
        let mut stopped = self
            .stopped
            .lock()
            .map_err(|_| "postgres: poisoned".to_string())?;
        if *stopped {
            return Ok(());
        }
        *stopped = true;
        let mut pg_ctl = self.command("pg_ctl");
        pg_ctl
            .arg("stop")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w"]);
        run(&mut pg_ctl)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("stopping PostgreSQL failed: {e}");
        }
    }
}

/// Runs each statement on its own (ALTER SYSTEM refuses to run in the
/// implicit transaction of a multi-statement batch).
fn each(client: &mut Client, statements: &[&str]) -> Result<()> {
    for stmt in statements {
        client.batch_execute(stmt).map_err(err)?;
    }
    Ok(())
}

/// Whether this process runs as root (`id -u` says 0).
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Adds search (execute) permission for everyone to `dir`.
fn allow_traverse(dir: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(dir).map_err(|e| io_err(dir.display(), e))?;
    let mut perms = meta.permissions();
    if perms.mode() & 0o011 != 0o011 {
        perms.set_mode(perms.mode() | 0o011);
        std::fs::set_permissions(dir, perms).map_err(|e| io_err(dir.display(), e))?;
    }
    Ok(())
}

/// A loopback port nobody listens on (just now).
fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| io_err("binding 127.0.0.1:0", e))?;
    let port = l.local_addr().map_err(|e| io_err("127.0.0.1:0", e))?.port();
    Ok(port)
}

/// Runs `cmd` to completion; its output in the error if it fails.
fn run(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let out = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| io_err(&shown, e))?;
    if out.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&out.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stdout));
    let lines: Vec<&str> = text.lines().collect();
    Err(format!(
        "postgres: {shown} failed ({}): {}",
        out.status,
        lines[lines.len().saturating_sub(10)..].join("\n")
    ))
}

/// The last `n` lines of file `path`.
fn tail(path: &Path, n: usize) -> String {
    let mut text = String::new();
    match std::fs::File::open(path).and_then(|mut f| f.read_to_string(&mut text)) {
        Ok(_) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(unreadable: {e})"),
    }
}

/// One of the PostgreSQL systems: a database in the shared server.
pub struct Postgres {
    name: &'static str,
    cluster: Arc<Cluster>,
    db: String,
    batches: Batches,
    nosync: bool,
}

impl Postgres {
    /// Starts system `name` (`postgres`, `postgres-nosync` or
    /// `postgres-copy`): its database in the shared server, which is
    /// started under `base` with the programs in `bin` if not running.
    pub fn start(name: &'static str, base: &Path, bin: &Path) -> Result<Postgres> {
        let (batches, nosync) = match name {
            "postgres" => (Batches::Insert, false),
            "postgres-nosync" => (Batches::Insert, true),
            "postgres-copy" => (Batches::Copy, false),
            other => return Err(format!("postgres: unknown system {other:?}")),
        };
        let cluster = Cluster::shared(base, bin)?;
        let db = format!("bench_{}", name.replace('-', "_"));
        let mut admin = cluster.client("postgres")?;
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
            .map_err(err)?;
        admin
            .batch_execute(&format!("CREATE DATABASE {db}"))
            .map_err(err)?;
        if nosync {
            admin
                .batch_execute(&format!("ALTER DATABASE {db} SET synchronous_commit = off"))
                .map_err(err)?;
        }
        Ok(Postgres {
            name,
            cluster,
            db,
            batches,
            nosync,
        })
    }

    fn client(&self) -> Result<Client> {
        self.cluster.client(&self.db)
    }
}

impl System for Postgres {
    fn name(&self) -> &'static str {
        self.name
    }

    fn describe(&self) -> String {
        let settings = if self.nosync {
            "synchronous_commit=off (ALTER DATABASE); otherwise initdb's defaults"
        } else {
            "initdb's defaults (fsync and synchronous_commit on)"
        };
        let batches = match self.batches {
            Batches::Insert => {
                "batches as one multi-row parameterised INSERT, prepared per connection \
                 and row count; single rows as a one-row INSERT in autocommit"
            }
            Batches::Copy => {
                "batches (and the load) as one COPY … FROM STDIN (FORMAT binary) each; \
                 batch workloads only, the reads' statements as in postgres"
            }
        };
        format!(
            "PostgreSQL {} as a separate server process on loopback TCP (started by the \
             harness from {}, shared by the postgres systems, one database each): {settings}, \
             shared_buffers={}; one connection per client (rust-postgres 0.19, no TLS); \
             {batches}; reads as prepared statements with every column read; TPC-B-like \
             transactions as BEGIN, five prepared statements, COMMIT (READ COMMITTED)",
            self.cluster.version,
            self.cluster.bin.display(),
            self.cluster.shared_buffers
        )
    }

    fn connect(&self) -> Result<Box<dyn Conn>> {
        Ok(Box::new(PgConn {
            client: self.client()?,
            batches: self.batches,
            inserts: HashMap::new(),
            reads: Reads::default(),
            tpcb: None,
        }))
    }

    fn runs(&self, w: super::workload::Workload) -> bool {
        use super::workload::Workload;
        match self.batches {
            Batches::Insert => true,
            Batches::Copy => matches!(
                w,
                Workload::W2Batch1 | Workload::W3Batch4 | Workload::W3Batch32
            ),
        }
    }

    fn settle(&self) -> Result<()> {
        let mut client = self.client()?;
        for table in ["users", "orders"] {
            let exists: bool = client
                .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
                .and_then(|r| r.try_get(0))
                .map_err(err)?;
            if exists {
                client
                    .batch_execute(&format!("VACUUM ANALYZE {table}"))
                    .map_err(err)?;
            }
        }
        client.batch_execute("CHECKPOINT").map_err(err)
    }

    fn disk_bytes(&self) -> Result<Option<u64>> {
        let mut client = self.client()?;
        let bytes: i64 = client
            .query_one(
                "SELECT (pg_total_relation_size('users') + pg_total_relation_size('orders'))::bigint",
                &[],
            )
            .and_then(|r| r.try_get(0))
            .map_err(err)?;
        Ok(Some(u64::try_from(bytes).unwrap_or(0)))
    }

    fn recovery(&self, _scratch: &Path, wal_bytes: u64) -> Option<Result<f64>> {
        // One server: measured once, under the system with its defaults.
        (self.name == "postgres").then(|| self.cluster.recovery(&self.db, wal_bytes))
    }

    fn stop(self: Box<Self>) -> Result<()> {
        // The last system to stop stops the server; a connection still
        // open elsewhere keeps only the database, not the server.
        match Arc::try_unwrap(self.cluster) {
            Ok(cluster) => cluster.shutdown(),
            Err(_) => Ok(()),
        }
    }
}

/// The read statements a connection prepares on first use.
#[derive(Default)]
struct Reads {
    by_id: Option<Statement>,
    by_email: Option<Statement>,
    in_range: Option<Statement>,
    top: Option<Statement>,
    join_sum: Option<Statement>,
    join_limit: Option<Statement>,
    older: Option<Statement>,
    by_age: Option<Statement>,
    id_range: Option<Statement>,
}

struct PgConn {
    client: Client,
    batches: Batches,
    /// Multi-row INSERTs by table and row count.
    inserts: HashMap<(String, usize), Statement>,
    reads: Reads,
    /// The TPC-B-like transaction's statements and the prefix of the
    /// tables they were prepared for.
    tpcb: Option<(String, [Statement; 5])>,
}

const USER_COLUMNS: &str = "id, name, email, age, balance, active";
const ORDER_COLUMNS: &str = "id, user_id, amount";

/// `INSERT INTO table (columns) VALUES ($1, …), (…)` for `rows` rows of
/// `width` columns.
fn insert_text(table: &str, columns: &str, width: usize, rows: usize) -> String {
    use std::fmt::Write;
    let mut sql = format!("INSERT INTO {table} ({columns}) VALUES ");
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            let sep = if c == 0 { "" } else { ", " };
            let _ = write!(sql, "{sep}${}", r * width + c + 1);
        }
        sql.push(')');
    }
    sql
}

/// Copies every column of `row` out of the client's buffer, as a client
/// handing it on must; the id (first column).
fn read_row(row: &Row) -> Result<i64> {
    let mut id = None;
    for (i, col) in row.columns().iter().enumerate() {
        let t = col.type_();
        if *t == Type::INT8 {
            let v: Option<i64> = row.try_get(i).map_err(err)?;
            if i == 0 {
                id = v;
            }
        } else if *t == Type::FLOAT8 {
            let _: Option<f64> = row.try_get(i).map_err(err)?;
        } else if *t == Type::BOOL {
            let _: Option<bool> = row.try_get(i).map_err(err)?;
        } else {
            let s: Option<&str> = row.try_get(i).map_err(err)?;
            std::hint::black_box(s.map(str::len));
        }
    }
    id.ok_or_else(|| "postgres: a row without an id".to_string())
}

impl PgConn {
    /// Statement `slot`, preparing `text` first if needed.
    fn prepared(
        client: &mut Client,
        slot: &mut Option<Statement>,
        text: &str,
    ) -> Result<Statement> {
        if let Some(s) = slot {
            return Ok(s.clone());
        }
        let s = client.prepare(text).map_err(err)?;
        *slot = Some(s.clone());
        Ok(s)
    }

    /// The ids of the rows of a prepared read, every column read.
    fn ids(&mut self, stmt: Statement, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<i64>> {
        let rows = self.client.query(&stmt, params).map_err(err)?;
        rows.iter().map(read_row).collect()
    }

    /// The multi-row INSERT into `table` for `rows` rows.
    fn insert_stmt(
        &mut self,
        table: &str,
        columns: &str,
        width: usize,
        rows: usize,
    ) -> Result<Statement> {
        let key = (table.to_string(), rows);
        if let Some(s) = self.inserts.get(&key) {
            return Ok(s.clone());
        }
        let s = self
            .client
            .prepare(&insert_text(table, columns, width, rows))
            .map_err(err)?;
        self.inserts.insert(key, s.clone());
        Ok(s)
    }

    fn insert(
        &mut self,
        table: &str,
        columns: &str,
        types: &[Type],
        rows: usize,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        match self.batches {
            Batches::Insert => {
                let stmt = self.insert_stmt(table, columns, types.len(), rows)?;
                self.client.execute(&stmt, params).map_err(err)?;
            }
            Batches::Copy => {
                let writer = self
                    .client
                    .copy_in(&format!(
                        "COPY {table} ({columns}) FROM STDIN (FORMAT binary)"
                    ))
                    .map_err(err)?;
                let mut writer = BinaryCopyInWriter::new(writer, types);
                for row in params.chunks(types.len()) {
                    writer.write(row).map_err(err)?;
                }
                writer.finish().map_err(err)?;
            }
        }
        Ok(())
    }
}

impl Conn for PgConn {
    fn create_users(&mut self, table: &str) -> Result<()> {
        self.client
            .batch_execute(&format!(
                "CREATE TABLE {table} (id BIGINT PRIMARY KEY, name TEXT, email TEXT, \
                 age BIGINT, balance DOUBLE PRECISION, active BOOLEAN);
                 CREATE INDEX idx_{table}_email ON {table} (email);"
            ))
            .map_err(err)
    }

    fn create_orders(&mut self, table: &str) -> Result<()> {
        self.client
            .batch_execute(&format!(
                "CREATE TABLE {table} (id BIGINT PRIMARY KEY, user_id BIGINT, \
                 amount DOUBLE PRECISION);"
            ))
            .map_err(err)
    }

    fn drop_table(&mut self, table: &str) -> Result<()> {
        self.inserts.retain(|(t, _), _| t != table);
        self.client
            .batch_execute(&format!("DROP TABLE {table};"))
            .map_err(err)
    }

    fn insert_users(&mut self, table: &str, rows: &[User]) -> Result<()> {
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(rows.len() * 6);
        for u in rows {
            params.extend_from_slice(&[&u.id, &u.name, &u.email, &u.age, &u.balance, &u.active]);
        }
        let types = [
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::INT8,
            Type::FLOAT8,
            Type::BOOL,
        ];
        self.insert(table, USER_COLUMNS, &types, rows.len(), &params)
    }

    fn insert_orders(&mut self, table: &str, rows: &[Order]) -> Result<()> {
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(rows.len() * 3);
        for o in rows {
            params.extend_from_slice(&[&o.id, &o.user_id, &o.amount]);
        }
        let types = [Type::INT8, Type::INT8, Type::FLOAT8];
        self.insert(table, ORDER_COLUMNS, &types, rows.len(), &params)
    }

    fn user_by_id(&mut self, id: i64) -> Result<Vec<i64>> {
        let stmt = Self::prepared(
            &mut self.client,
            &mut self.reads.by_id,
            "SELECT * FROM users WHERE id = $1",
        )?;
        self.ids(stmt, &[&id])
    }

    fn user_by_email(&mut self, email: &str) -> Result<Vec<i64>> {
        let stmt = Self::prepared(
            &mut self.client,
            &mut self.reads.by_email,
            "SELECT * FROM users WHERE email = $1",
        )?;
        self.ids(stmt, &[&email])
    }

    fn users_in_range(&mut self, lo: i64, hi: i64) -> Result<Vec<i64>> {
        let stmt = Self::prepared(
            &mut self.client,
            &mut self.reads.in_range,
            "SELECT * FROM users WHERE id >= $1 AND id < $2 ORDER BY id",
        )?;
        self.ids(stmt, &[&lo, &hi])
    }

    fn top_balances(&mut self, k: usize) -> Result<Vec<f64>> {
        let stmt = Self::prepared(
            &mut self.client,
            &mut self.reads.top,
            "SELECT * FROM users ORDER BY balance DESC LIMIT $1",
        )?;
        let rows = self.client.query(&stmt, &[&(k as i64)]).map_err(err)?;
        rows.iter()
            .map(|r| {
                read_row(r)?;
                r.try_get::<_, f64>("balance").map_err(err)
            })
            .collect()
    }

    fn join_count_sum(&mut self) -> Result<(i64, f64)> {
        let stmt = Self::prepared(
            &mut self.client,
            &mut self.reads.join_sum,
            "SELECT count(*), sum(orders.amount) FROM orders \
             JOIN users ON orders.user_id = users.id",
        )?;
        let row = self.client.query_one(&stmt, &[]).map_err(err)?;
        let n: i64 = row.try_get(0).map_err(err)?;
        let sum: Option<f64> = row.try_get(1).map_err(err)?;
        Ok((n, sum.unwrap_or(0.0)))
    }

    fn join_limit(&mut self, k: usize) -> Result<usize> {
        let stmt = Self::prepared(
            &mut self.client,
            &mut self.reads.join_limit,
            "SELECT * FROM orders JOIN users ON orders.user_id = users.id LIMIT $1",
        )?;
        let rows = self.client.query(&stmt, &[&(k as i64)]).map_err(err)?;
        for r in &rows {
            read_row(r)?;
        }
        Ok(rows.len())
    }

    fn count_older(&mut self, age: i64) -> Result<i64> {
        let stmt = Self::prepared(
            &mut self.client,
            &mut self.reads.older,
            "SELECT count(*) FROM users WHERE age > $1",
        )?;
        let row = self.client.query_one(&stmt, &[&age]).map_err(err)?;
        row.try_get(0).map_err(err)
    }

    fn groups_by_age(&mut self) -> Result<Vec<AgeGroup>> {
        let stmt = Self::prepared(
            &mut self.client,
            &mut self.reads.by_age,
            "SELECT age, count(*), avg(balance) FROM users GROUP BY age",
        )?;
        let rows = self.client.query(&stmt, &[]).map_err(err)?;
        rows.iter()
            .map(|r| {
                Ok(AgeGroup {
                    age: r.try_get(0).map_err(err)?,
                    count: r.try_get(1).map_err(err)?,
                    avg_balance: r.try_get::<_, Option<f64>>(2).map_err(err)?.unwrap_or(0.0),
                })
            })
            .collect()
    }

    fn count_id_range(&mut self, lo: i64, hi: i64) -> Result<i64> {
        let stmt = Self::prepared(
            &mut self.client,
            &mut self.reads.id_range,
            "SELECT count(*) FROM users WHERE id BETWEEN $1 AND $2",
        )?;
        let row = self.client.query_one(&stmt, &[&lo, &hi]).map_err(err)?;
        row.try_get(0).map_err(err)
    }

    fn tpcb_setup(&mut self, prefix: &str) -> Result<()> {
        let t = Tables::new(prefix);
        for stmt in tpcb_setup_sql(&t) {
            self.client.batch_execute(&stmt).map_err(err)?;
        }
        Ok(())
    }

    fn tpcb_drop(&mut self, prefix: &str) -> Result<()> {
        self.tpcb = None;
        let t = Tables::new(prefix);
        self.client
            .batch_execute(&format!("DROP TABLE IF EXISTS {}", t.all().join(", ")))
            .map_err(err)
    }

    fn tpcb_transaction(&mut self, prefix: &str, tx: &TpcbTx) -> Result<TpcbOutcome> {
        if self.tpcb.as_ref().is_none_or(|(p, _)| p != prefix) {
            let t = Tables::new(prefix);
            let [a, b, c, d, e] = tpcb_transaction_sql(&t).map(|text| self.client.prepare(&text));
            let stmts = [a, b, c, d, e].map(|s| s.map_err(err));
            let [a, b, c, d, e] = stmts;
            self.tpcb = Some((prefix.to_string(), [a?, b?, c?, d?, e?]));
        }
        let (_, stmts) = self.tpcb.as_ref().ok_or("statements not prepared")?;
        let int = |v: i64| i32::try_from(v).map_err(|_| format!("postgres: {v} is not an int4"));
        let (aid, tid, bid, delta) = (int(tx.aid)?, int(tx.tid)?, int(tx.bid)?, int(tx.delta)?);
        let mut txn = self.client.transaction().map_err(err)?;
        let run = |txn: &mut postgres::Transaction<'_>| -> std::result::Result<Result<i64>, postgres::Error> {
            let mut changed = vec![txn.execute(&stmts[0], &[&delta, &aid])?];
            let balance: Option<i32> = txn.query_one(&stmts[1], &[&aid])?.try_get(0)?;
            changed.push(txn.execute(&stmts[2], &[&delta, &tid])?);
            changed.push(txn.execute(&stmts[3], &[&delta, &bid])?);
            changed.push(txn.execute(&stmts[4], &[&tid, &bid, &aid, &delta])?);
            if let Some(n) = changed.iter().find(|n| **n != 1) {
                return Ok(Err(format!("postgres: a statement of the transaction changed {n} rows, not 1")));
            }
            Ok(balance
                .map(i64::from)
                .ok_or_else(|| "postgres: the select gave a null balance".to_string()))
        };
        let outcome = run(&mut txn).and_then(|balance| {
            // A wrong answer rolls back (dropping the transaction).
            let balance = match balance {
                Ok(b) => b,
                Err(e) => return Ok(Err(e)),
            };
            txn.commit().map(|()| Ok(balance))
        });
        match outcome {
            Ok(answer) => answer.map(TpcbOutcome::Committed),
            Err(e)
                if e.code() == Some(&SqlState::T_R_SERIALIZATION_FAILURE)
                    || e.code() == Some(&SqlState::T_R_DEADLOCK_DETECTED) =>
            {
                Ok(TpcbOutcome::Conflict)
            }
            Err(e) => Err(err(e)),
        }
    }

    fn tpcb_totals(&mut self, prefix: &str) -> Result<TpcbTotals> {
        let t = Tables::new(prefix);
        let row = self
            .client
            .query_one(
                &format!(
                    "SELECT (SELECT coalesce(sum(abalance), 0) FROM {})::bigint, \
                     (SELECT coalesce(sum(tbalance), 0) FROM {})::bigint, \
                     (SELECT coalesce(sum(bbalance), 0) FROM {})::bigint, \
                     (SELECT coalesce(sum(delta), 0) FROM {})::bigint, \
                     (SELECT count(*) FROM {})::bigint",
                    t.accounts, t.tellers, t.branches, t.history, t.history
                ),
                &[],
            )
            .map_err(err)?;
        let get = |i: usize| row.try_get::<_, i64>(i).map_err(err);
        Ok(TpcbTotals {
            accounts: get(0)?,
            tellers: get(1)?,
            branches: get(2)?,
            history: get(3)?,
            history_rows: get(4)?,
        })
    }
}

/// The statements that make one run's TPC-B-like tables as pgbench's
/// default initialisation does (tables with int columns, the rows, `VACUUM
/// ANALYZE`, then the primary keys), without the `filler` columns and with
/// the rows generated by the server (`INSERT … SELECT … FROM
/// generate_series`, pgbench's server-side generation); each runs alone
/// (`VACUUM` refuses to run in a multi-statement batch's transaction).
fn tpcb_setup_sql(t: &Tables) -> Vec<String> {
    let (b, tl, a, h) = (&t.branches, &t.tellers, &t.accounts, &t.history);
    let (scale, tellers, accounts) = (
        tpcb::SCALE,
        tpcb::TELLERS_PER_BRANCH,
        tpcb::ACCOUNTS_PER_BRANCH,
    );
    vec![
        format!(
            "CREATE TABLE {b} (bid int NOT NULL, bbalance int); \
             CREATE TABLE {tl} (tid int NOT NULL, bid int, tbalance int); \
             CREATE TABLE {a} (aid int NOT NULL, bid int, abalance int); \
             CREATE TABLE {h} (tid int, bid int, aid int, delta int, mtime timestamp)"
        ),
        format!(
            "INSERT INTO {b} (bid, bbalance) SELECT i, 0 FROM generate_series(1, {scale}) i; \
             INSERT INTO {tl} (tid, bid, tbalance) \
             SELECT i, (i - 1) / {tellers} + 1, 0 FROM generate_series(1, {}) i; \
             INSERT INTO {a} (aid, bid, abalance) \
             SELECT i, (i - 1) / {accounts} + 1, 0 FROM generate_series(1, {}) i",
            scale * tellers,
            scale * accounts
        ),
        format!("VACUUM ANALYZE {b}, {tl}, {a}, {h}"),
        format!(
            "ALTER TABLE {b} ADD PRIMARY KEY (bid); \
             ALTER TABLE {tl} ADD PRIMARY KEY (tid); \
             ALTER TABLE {a} ADD PRIMARY KEY (aid)"
        ),
    ]
}

/// pgbench's tpcb-like script for one run's tables, as statements to
/// prepare: parameters delta and aid; aid; delta and tid; delta and bid;
/// tid, bid, aid and delta.
fn tpcb_transaction_sql(t: &Tables) -> [String; 5] {
    [
        format!(
            "UPDATE {} SET abalance = abalance + $1 WHERE aid = $2",
            t.accounts
        ),
        format!("SELECT abalance FROM {} WHERE aid = $1", t.accounts),
        format!(
            "UPDATE {} SET tbalance = tbalance + $1 WHERE tid = $2",
            t.tellers
        ),
        format!(
            "UPDATE {} SET bbalance = bbalance + $1 WHERE bid = $2",
            t.branches
        ),
        format!(
            "INSERT INTO {} (tid, bid, aid, delta, mtime) \
             VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)",
            t.history
        ),
    ]
}
