//! `fasty`: the command line — run the server, query, an
//! interactive shell, CSV import and administration, on a data directory or
//! against a running server.
//!
//! One module per command (`serve`, `query`, `shell`, `import`, `admin`),
//! plus what they share: `target` (an embedded database or a server, the
//! same replies either way), `client` (the HTTP client of docs/http.md) and
//! `table` (aligned result tables).
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use fasty_query::Options;
use fasty_wal::Durability;

/// `println!` that does not panic when stdout is closed early
/// (`fasty admin stats | head`): the rest of the output is dropped, as a
/// pipeline's reader asked.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod admin;
mod client;
mod import;
mod process;
mod query;
mod records;
mod serve;
mod shell;
mod table;
mod target;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (the same, 15, in
/// the v2 and v3 headers libmimalloc-sys 0.1.49 bundles); the crate has no
/// constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// fasty: a high-throughput relational database.
#[derive(Parser, Debug)]
#[command(name = "fasty", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP server (docs/http.md) on a data directory.
    #[command(long_about = serve::LONG_ABOUT)]
    Serve(serve::ServeArgs),
    /// Run one statement and print its result.
    #[command(long_about = query::LONG_ABOUT)]
    Query(query::QueryArgs),
    /// An interactive shell: line editing, history, multi-line statements.
    #[command(long_about = shell::LONG_ABOUT)]
    Shell(shell::ShellArgs),
    /// Import a CSV file into a table, in atomic batches.
    #[command(long_about = import::LONG_ABOUT)]
    Import(import::ImportArgs),
    /// Administration: stats, checkpoint, compact, verify, repair, backup,
    /// restore.
    #[command(long_about = admin::LONG_ABOUT)]
    Admin(admin::AdminArgs),
}

/// Where the data lives and how durable writes are (docs/wal.md).
#[derive(Args, Debug, Clone)]
pub(crate) struct DataArgs {
    /// The data directory (created if missing; default ./data). Not with
    /// --memory.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Acknowledge a write only after the log is fsynced (group commit).
    #[arg(long, conflicts_with = "memory")]
    pub durable: bool,
    /// Keep everything in memory; nothing touches the disk.
    #[arg(long)]
    pub memory: bool,
    /// Async mode: how often the log is fsynced, in milliseconds.
    #[arg(long, default_value_t = 50, value_name = "N")]
    pub sync_interval_ms: u64,
}

impl DataArgs {
    /// The data directory: `--data-dir`, or `./data`.
    pub(crate) fn dir(&self) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("./data"))
    }

    /// Refuses options that contradict each other instead of ignoring
    /// one of them.
    pub(crate) fn check(&self) -> Result<()> {
        if self.memory
            && let Some(dir) = &self.data_dir
        {
            return Err(format!(
                "--memory keeps nothing on disk, so --data-dir {} would be ignored: \
                 pass one or the other",
                dir.display()
            )
            .into());
        }
        Ok(())
    }

    /// The durability mode's name, for the log.
    pub(crate) fn mode_name(&self) -> String {
        if self.durable {
            "durable".into()
        } else if self.memory {
            "memory".into()
        } else {
            format!("async (sync every {} ms)", self.sync_interval_ms.max(1))
        }
    }

    /// The options of [`Database::open`](fasty_query::Database::open).
    pub(crate) fn options(&self) -> Options {
        let mut opts = Options::default();
        opts.wal.durability = if self.durable {
            Durability::Durable
        } else if self.memory {
            Durability::Memory
        } else {
            Durability::Async {
                sync_interval: Duration::from_millis(self.sync_interval_ms.max(1)),
            }
        };
        opts
    }
}

/// The errors of a command: printed as `error: …`, exit status 1.
pub(crate) type Result<T, E = Box<dyn std::error::Error + Send + Sync>> = std::result::Result<T, E>;

/// Keeps memory mimalloc has freed instead of returning it to the OS after
/// its default 10 ms: a flushed memtable's pages and each batch request's
/// large buffers are soon needed again, and getting them back costs a page
/// fault and the kernel zeroing a fresh (huge) page — about a fifth of the
/// server's time on parallel 1000-row batch inserts. With this, ingest over
/// HTTP measured 10–40% faster (server/README.md). Memory held stays at the
/// peak of memtables, block cache and requests in flight.
fn keep_freed_memory() {
    // SAFETY: `mi_option_set` only stores an integer option read by the
    // allocator; `mi_option_purge_delay` is a valid option and -1 its
    // documented "never purge" value. It is called once, at start-up,
    // before any other thread exists.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

fn main() -> ExitCode {
    keep_freed_memory();
    // Before the first large allocation; see the function's docs for why.
    let thp = process::disable_transparent_huge_pages();
    let cli = Cli::parse();
    // The server logs its progress; the other commands only problems.
    let default_filter = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter)),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a terminal: a log file or pipe gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = thp {
        tracing::debug!(error = %e, "could not turn transparent huge pages off; running with them");
    }
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Query(args) => query::run(args),
        Command::Shell(args) => shell::run(args),
        Command::Import(args) => import::run(args),
        Command::Admin(args) => admin::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A query error already printed itself (to stdout with --json).
            if !e.is::<target::Reported>() {
                eprintln!("error: {e}");
            }
            ExitCode::FAILURE
        }
    }
}
