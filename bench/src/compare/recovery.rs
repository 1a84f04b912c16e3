//! Recovery after `kill -9`: a child process (this binary's hidden
//! `recovery-writer` subcommand) loads `users` until its log holds the
//! wanted bytes, makes everything durable, says `ready LAST_ID` and waits
//! (until its stdin closes, should the harness die first);
//! the harness kills it with SIGKILL and times reopening the database
//! until the first answered query, which must find the last row written.
//!
//! The log is kept from being checkpointed away while it grows: fasty gets
//! a memtable budget larger than the log, SQLite `wal_autocheckpoint=0`.

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use fasty_query::{Database, InsertMode, Options, Output};

use super::fasty::dir_size;
use super::fasty::user_fields;
use super::system::Result;
use super::workload::Figure;
use crate::data::{User, UserStream};

/// Rows per write in the child.
const BATCH: usize = 1000;
/// How often (in batches) the child looks at its log's size.
const CHECK_EVERY: usize = 8;

/// The engines the child can write with.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// fasty's query crate, async durability.
    FastyAsync,
    /// fasty's query crate, durable.
    FastyDurable,
    /// SQLite, WAL, synchronous=NORMAL.
    Sqlite,
    /// SQLite, WAL, synchronous=FULL.
    SqliteFull,
    /// DuckDB, automatic checkpoints held off.
    Duckdb,
}

/// Options of the hidden `recovery-writer` subcommand.
#[derive(clap::Args, Debug)]
pub struct WriterArgs {
    /// The engine to write with.
    #[arg(long, value_enum)]
    pub engine: Engine,
    /// The database directory (created).
    #[arg(long)]
    pub dir: PathBuf,
    /// Log bytes to write before saying `ready`.
    #[arg(long)]
    pub bytes: u64,
}

fn err(e: impl std::fmt::Display) -> String {
    format!("recovery: {e}")
}

/// fasty's options for both the writer and the reopening: `engine`'s
/// durability, with a memtable budget that holds the whole log so that no
/// flush (and no checkpoint) trims it.
fn fasty_options(engine: Engine, bytes: u64) -> Options {
    let mut opts = if engine == Engine::FastyDurable {
        Options::durable()
    } else {
        Options::default()
    };
    let budget = usize::try_from(bytes.saturating_mul(4)).unwrap_or(usize::MAX);
    opts.wal.storage.memtable_budget = opts.wal.storage.memtable_budget.max(budget);
    opts
}

/// The child: writes until the log holds `args.bytes`, prints `ready ID`
/// and sleeps until killed.
pub fn writer(args: &WriterArgs) -> std::result::Result<(), String> {
    std::fs::create_dir_all(&args.dir).map_err(err)?;
    let mut stream = UserStream::new(7);
    // What the child holds open until it is killed: closing would
    // checkpoint (SQLite folds its WAL into the database on last close).
    let (last, _open): (i64, Box<dyn std::any::Any>) = match args.engine {
        Engine::FastyAsync | Engine::FastyDurable => {
            let db =
                Database::open(&args.dir, fasty_options(args.engine, args.bytes)).map_err(err)?;
            for stmt in super::fasty::users_statements("users") {
                db.execute(&stmt).map_err(err)?;
            }
            let wal = args.dir.join("wal");
            let last = write_until(
                &mut stream,
                args.bytes,
                || dir_size(&wal),
                |rows| {
                    db.insert_rows(
                        "users",
                        rows.iter().map(|u| user_fields(u)),
                        InsertMode::Insert,
                    )
                    .map(drop)
                    .map_err(err)
                },
            )?;
            db.kv().sync().map_err(err)?;
            (last, Box::new(db))
        }
        Engine::Sqlite | Engine::SqliteFull => sqlite_writer(args, &mut stream)?,
        Engine::Duckdb => duckdb_writer(args, &mut stream)?,
    };
    let mut out = std::io::stdout().lock();
    writeln!(out, "ready {last}").map_err(err)?;
    out.flush().map_err(err)?;
    drop(out);
    // Wait to be killed. Should the harness die first, its end of our
    // stdin closes and the read returns: no orphan is left behind.
    let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
    Err("the harness went away before killing the writer".into())
}

/// Writes 1000-row batches with `write` until `log_bytes` reports at least
/// `bytes`; the last id written.
fn write_until(
    stream: &mut UserStream,
    bytes: u64,
    log_bytes: impl Fn() -> Result<u64>,
    mut write: impl FnMut(&[User]) -> Result<()>,
) -> Result<i64> {
    let mut last = 0;
    for batch in 0usize.. {
        let rows = stream.take(BATCH);
        write(&rows)?;
        last = rows.last().map_or(last, |u| u.id);
        if batch % CHECK_EVERY == 0 && log_bytes()? >= bytes {
            break;
        }
    }
    Ok(last)
}

#[cfg(feature = "sqlite")]
fn sqlite_writer(
    args: &WriterArgs,
    stream: &mut UserStream,
) -> Result<(i64, Box<dyn std::any::Any>)> {
    let path = args.dir.join("bench.sqlite");
    let mut conn = super::sqlite::open_file(&path, args.engine == Engine::SqliteFull)?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(err)?;
    super::sqlite::create_users(&conn, "users")?;
    let wal = args.dir.join("bench.sqlite-wal");
    let size = || Ok(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    let last = write_until(stream, args.bytes, size, |rows| {
        super::sqlite::insert_users(&mut conn, "users", rows)
    })?;
    Ok((last, Box::new(conn)))
}

#[cfg(not(feature = "sqlite"))]
fn sqlite_writer(_: &WriterArgs, _: &mut UserStream) -> Result<(i64, Box<dyn std::any::Any>)> {
    Err("SQLite is not built in".into())
}

/// Runs the child for `engine` in `dir` until its log holds `bytes`, kills
/// it with SIGKILL, and times reopening until the last row is found:
/// seconds.
pub fn measure(engine: Engine, dir: &Path, bytes: u64) -> Figure {
    let exe = std::env::current_exe().map_err(err)?;
    let name = clap::ValueEnum::to_possible_value(&engine)
        .map(|v| v.get_name().to_string())
        .unwrap_or_default();
    let mut child = Command::new(exe)
        .args([
            "recovery-writer",
            "--engine",
            &name,
            "--bytes",
            &bytes.to_string(),
            "--dir",
        ])
        .arg(dir)
        // Held open until the kill: the child exits if it ever closes.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(err)?;
    let mut line = String::new();
    let read = child
        .stdout
        .take()
        .map(|out| BufReader::new(out).read_line(&mut line));
    let last: Option<i64> = line
        .trim()
        .strip_prefix("ready ")
        .and_then(|id| id.parse().ok());
    // `wait` closes the child's stdin first; held until the child is
    // gone, so that it dies by the SIGKILL and not by reading EOF.
    let stdin = child.stdin.take();
    let _ = child.kill();
    let status = child.wait().map_err(err)?;
    drop(stdin);
    let Some(last) = last else {
        return Err(format!(
            "the writer child stopped before it was ready ({status}; read {read:?})"
        ));
    };
    let start = Instant::now();
    let (found, open) = reopen(engine, dir, bytes, last)?;
    let elapsed = start.elapsed();
    // Closing (fasty: syncing, SQLite: checkpointing) is not recovery.
    drop(open);
    if found == 1 {
        Ok(elapsed.as_secs_f64())
    } else {
        Err(format!(
            "after recovery, row {last} (acknowledged and synced) is missing"
        ))
    }
}

/// What `reopen` found, and the open database, closed by the caller once
/// the clock has stopped.
type Reopened = (usize, Box<dyn std::any::Any>);

/// Opens the database the killed child left and looks up row `last`.
fn reopen(engine: Engine, dir: &Path, bytes: u64, last: i64) -> Result<Reopened> {
    match engine {
        Engine::FastyAsync | Engine::FastyDurable => {
            let db = Database::open(dir, fasty_options(engine, bytes)).map_err(err)?;
            let out = db
                .execute(&format!("find users where id = {last}"))
                .map_err(err)?;
            let n = match out {
                Output::Rows { rows, .. } => rows.len(),
                _ => 0,
            };
            Ok((n, Box::new(db)))
        }
        Engine::Sqlite | Engine::SqliteFull => sqlite_lookup(engine, dir, last),
        Engine::Duckdb => duckdb_lookup(dir, last),
    }
}

#[cfg(feature = "duckdb")]
fn duckdb_writer(
    args: &WriterArgs,
    stream: &mut UserStream,
) -> Result<(i64, Box<dyn std::any::Any>)> {
    use super::system::System as _;
    let db = super::duckdb::DuckDb::open(&args.dir)?;
    db.hold_off_checkpoints()?;
    let mut conn = db.connect()?;
    conn.create_users("users")?;
    let wal = args.dir.join("bench.duckdb.wal");
    let size = || Ok(std::fs::metadata(&wal).map_or(0, |m| m.len()));
    let last = write_until(stream, args.bytes, size, |rows| {
        conn.insert_users("users", rows)
    })?;
    Ok((last, Box::new((db, conn))))
}

#[cfg(not(feature = "duckdb"))]
fn duckdb_writer(_: &WriterArgs, _: &mut UserStream) -> Result<(i64, Box<dyn std::any::Any>)> {
    Err("DuckDB is not built in".into())
}

#[cfg(feature = "duckdb")]
fn duckdb_lookup(dir: &Path, last: i64) -> Result<Reopened> {
    use super::system::System as _;
    let db = super::duckdb::DuckDb::open(dir)?;
    let found = db.connect()?.user_by_id(last)?.len();
    Ok((found, Box::new(db)))
}

#[cfg(not(feature = "duckdb"))]
fn duckdb_lookup(_: &Path, _: i64) -> Result<Reopened> {
    Err("DuckDB is not built in".into())
}

#[cfg(feature = "sqlite")]
fn sqlite_lookup(engine: Engine, dir: &Path, last: i64) -> Result<Reopened> {
    let path = dir.join("bench.sqlite");
    let conn = super::sqlite::open_file(&path, engine == Engine::SqliteFull)?;
    let n: i64 = conn
        .query_row("SELECT count(*) FROM users WHERE id = ?1", [last], |r| {
            r.get(0)
        })
        .map_err(err)?;
    Ok((usize::try_from(n).unwrap_or(0), Box::new(conn)))
}

#[cfg(not(feature = "sqlite"))]
fn sqlite_lookup(_: Engine, _: &Path, _: i64) -> Result<Reopened> {
    Err("SQLite is not built in".into())
}
