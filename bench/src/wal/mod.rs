//! The `wal` benchmark: what fasty's write-ahead log (`fasty_wal::Db`)
//! costs and how group commit pays for durability.
//!
//! Three measurements, each in [`workload`]:
//! - durable mode: writes per second with 1, 4, 16 and 64 writer threads and
//!   batches of 1, 100 and 1000 rows; the fsyncs per second and batches per
//!   fsync show group commit at work;
//! - async mode against the bare storage engine (no log) on the same rows;
//! - recovery: a child process (this binary, `wal --write-log-and-exit`)
//!   writes a log and exits without closing, then the database is opened and
//!   its replay timed.
//!
//! Rows are 16-byte keys and 100-byte values. [`report`] prints the markdown
//! table with the date and the machine.

mod report;
mod workload;

use crate::counts::parse_count;
use crate::workdir::WorkDir;
use std::path::{Path, PathBuf};

use report::Report;

/// Options of `fasty-bench wal`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Writer thread counts for durable mode, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16,64")]
    pub threads: Vec<usize>,

    /// Rows per batch, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,100,1000")]
    pub rows: Vec<usize>,

    /// Seconds each durable-mode cell runs.
    #[arg(long, default_value_t = 2.0)]
    pub seconds: f64,

    /// Rows written per async-vs-engine run (per batch size).
    #[arg(long, default_value = "1_000_000", value_parser = parse_count)]
    pub async_rows: u64,

    /// Runs of every durable-mode cell (all cells in turn, then again) and
    /// of each async-vs-engine pair (engine and WAL interleaved); medians
    /// are reported.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,

    /// Durable mode: append to segments instead of overwriting spares
    /// written ahead (`Options::preallocate_segments = false`), to measure
    /// what the spares bring.
    #[arg(long)]
    pub no_preallocate: bool,

    /// MiB of log the recovery measurement replays.
    #[arg(long, default_value_t = 256)]
    pub replay_mib: u64,

    /// Directory for the databases: each run makes a fresh directory
    /// inside it, removed at the end. Default: $TMPDIR; use a disk, not
    /// tmpfs, for meaningful fsync numbers.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Internal: write `--replay-mib` of log into DIR in async mode, sync,
    /// and exit without closing (the recovery measurement's child).
    #[arg(long, value_name = "DIR", hide = true)]
    pub write_log_and_exit: Option<PathBuf>,
}

const AFTER_HELP: &str = "\
Measurements (16-byte keys, 100-byte values):
  durable     Db in durable mode: every write is acknowledged after the fsync
              covering it; N threads write batches of R rows for --seconds
  async       Db in async mode (50 ms sync interval) against the bare storage
              engine, one thread, batches of R rows; target: >= 80% of engine
  replay      open after a crash (a child process exits without closing):
              log bytes replayed per second; target: >= 500 MB/s
Group commit target: single-row batches at 64 writers >= 20x one writer.

Example:
  cargo run --release -p fasty-bench -- wal
  cargo run --release -p fasty-bench -- wal --threads 1,64 --rows 1 --seconds 1";

/// What can end a WAL benchmark run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database failed.
    #[error("fasty-wal: {0}")]
    Wal(#[from] fasty_wal::Error),
    /// The engine failed.
    #[error("fasty-storage: {0}")]
    Storage(#[from] fasty_storage::Error),
    /// Creating or removing benchmark files, or running the child, failed.
    #[error("{path}: {source}")]
    Io {
        /// The file, directory or program.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The database returned wrong data; its numbers would mean nothing.
    #[error("wrong result: {0}")]
    WrongResult(String),
}

/// The WAL benchmark's result type.
pub type Result<T> = std::result::Result<T, Error>;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs the WAL benchmark and prints the markdown table on stdout
/// (progress goes to stderr).
pub fn run(args: &Args) -> Result<()> {
    if let Some(dir) = &args.write_log_and_exit {
        return workload::write_log_and_exit(dir, args.replay_mib << 20);
    }
    let workdir = WorkDir::new(args.dir.as_deref(), "fasty-bench-wal-")
        .map_err(|(path, source)| Error::Io { path, source })?;
    let base = workdir.path().to_path_buf();
    let mut report = Report::new(&base, args);
    // Every cell in turn, then again: a slow spell of the machine's disk
    // hits one run of several cells, not all runs of one.
    let repeat = args.repeat;
    let mut rounds = Vec::new();
    for round in 1..=repeat {
        let mut cells = Vec::new();
        for &rows in &args.rows {
            for &threads in &args.threads {
                let dir = base.join(format!("durable-{threads}t-{rows}r"));
                eprintln!(
                    "durable: {threads} threads, {rows} rows per batch (run {round} of {repeat})"
                );
                cells.push(workload::durable(
                    &dir,
                    threads,
                    rows,
                    args.seconds,
                    !args.no_preallocate,
                )?);
                remove(&dir)?;
            }
        }
        rounds.push(cells);
    }
    report.push_durable(rounds);
    for &rows in &args.rows {
        eprintln!("async vs engine: {rows} rows per batch");
        let mut runs = Vec::new();
        for r in 0..args.repeat {
            let engine_dir = base.join(format!("engine-{rows}r-{r}"));
            let engine = workload::bare_engine(&engine_dir, rows, args.async_rows)?;
            remove(&engine_dir)?;
            let wal_dir = base.join(format!("async-{rows}r-{r}"));
            let wal = workload::async_db(&wal_dir, rows, args.async_rows)?;
            remove(&wal_dir)?;
            runs.push((engine, wal));
        }
        report.push_async(rows, runs);
    }
    eprintln!(
        "replay: writing {} MiB of log in a child process",
        args.replay_mib
    );
    let dir = base.join("replay");
    report.replay = Some(workload::replay(&dir, args.replay_mib)?);
    remove(&dir)?;
    print!("{}", report.markdown());
    Ok(())
}

fn remove(dir: &Path) -> Result<()> {
    std::fs::remove_dir_all(dir).map_err(io_err(dir))
}
