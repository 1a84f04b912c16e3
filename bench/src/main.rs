//! fasty-bench: fasty measured against embedded peers, in the same process,
//! on the same data, reported as absolute numbers and as ratios.
//!
//! `compare` is the one harness that runs workloads against peers (`query`
//! is a selection of it); `storage` (the key-value engine against fjall),
//! `wal` (the write-ahead log against the bare engine) and `http` (the
//! server's HTTP API under an async load generator) measure what compare
//! cannot. Every report is built from the shared [`report`] module;
//! [`machine`] describes where the numbers were taken.
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[cfg(feature = "http")]
mod compare;
mod counts;
#[cfg(feature = "http")]
mod data;
#[cfg(feature = "http")]
mod http;
mod machine;
mod report;
mod storage;
#[cfg(feature = "fasty")]
mod wal;
mod workdir;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc for every system alike: glibc malloc's free-list upkeep was
/// ~15% of a storage run's profile.
/// `mi_option_purge_delay` in mimalloc.h's `mi_option_e` (the same, 15, in
/// the v2 and v3 headers libmimalloc-sys 0.1.49 bundles); the crate has no
/// constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// fasty's benchmark harness.
///
/// Every comparison runs fasty and its peers in one process, one after the
/// other on the same machine and the same data, and prints a markdown table
/// of absolute numbers plus ratios fasty ÷ peer. Numbers from different runs
/// or machines are not comparable; the ratios within one run are the result.
#[derive(Parser, Debug)]
#[command(name = "fasty-bench", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Storage engine: sequential and random put, random get (hits and
    /// misses) and full forward scan, for fasty's engine on both I/O
    /// backends, the engine with its log (async) and fjall.
    ///
    /// Build with `--release`; peers are behind cargo features so that
    /// ordinary builds stay fast: `--features fjall` adds fjall.
    Storage(storage::Args),
    /// Write-ahead log: durable-mode throughput by writer threads and batch
    /// size (group commit), async mode against the bare engine, and
    /// recovery replay speed.
    #[cfg(feature = "fasty")]
    Wal(wal::Args),
    /// Query layer: fasty's embedded `Database` against SQLite, as a
    /// selection of `compare`: the systems fasty-embedded and sqlite and
    /// the workloads W4 (pk lookup, 1 client), W5, W6, W7, W8 (join +
    /// aggregate), W9, W10 (group by) and W11 (selective id range) after the load. Same options as `compare`; the
    /// report goes to target/bench/query and report.md is also printed.
    ///
    /// Build with `--release`; SQLite is behind a cargo feature:
    /// `--features sqlite` adds it (on by default).
    #[cfg(feature = "http")]
    Query(compare::Args),
    /// HTTP API: an async load generator (many keep-alive connections on
    /// a few threads) against fasty-server, in-process on a loopback port
    /// by default or at `--url`: what `compare` does not measure the same
    /// way (64-connection single-row inserts and a paced p99 run, 100, 500
    /// and 5000-row batches, 10 and 64-connection ingest, 32-connection
    /// email lookups and ranges, a mixed run), with p50/p95/p99 and the
    /// cores used per section and the project's targets.
    ///
    /// Build with `--release`; `--quick` runs in seconds.
    #[cfg(feature = "http")]
    Http(http::Args),
    /// Every workload (W1–W9, sustained load, latency, disk use) against
    /// fasty (embedded and over HTTP in each durability mode), PostgreSQL,
    /// SQLite and DuckDB in one run, interleaved; writes report.json,
    /// report.md and ratios.svg. `cargo xtask bench` runs this.
    #[cfg(feature = "http")]
    Compare(compare::Args),
    /// The child process of the compare suite's recovery section: writes
    /// until its log holds the wanted bytes, says `ready ID`, waits to be
    /// killed.
    #[cfg(feature = "http")]
    #[command(hide = true)]
    RecoveryWriter(compare::recovery::WriterArgs),
}

/// Turns transparent huge pages off for this process (Linux
/// `PR_SET_THP_DISABLE`; elsewhere nothing). A copy of the `fasty`
/// binary's function of the same name (cli/src/process.rs, which says why):
/// the two binaries share no library crate to hold it, and the engine's
/// crates leave process settings to the binary.
fn disable_transparent_huge_pages() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE takes one integer argument (1 = off)
        // and the rest zero; it touches no memory of ours.
        let rc = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    // As the `fasty` binary does (see its `keep_freed_memory`): freed
    // memory stays with mimalloc instead of going back to the OS after
    // 10 ms, to be faulted in again. Every system in a run shares the
    // allocator and so this setting.
    // SAFETY: `mi_option_set` only stores an integer option read by the
    // allocator; `mi_option_purge_delay` is a valid option and -1 its
    // documented "never purge" value. Called once, before other threads.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    // As the `fasty` binary does: no transparent huge pages (a fault on one
    // can stall the faulting thread for milliseconds of memory compaction).
    // In-process peers (SQLite, DuckDB) run under the same setting.
    if let Err(e) = disable_transparent_huge_pages() {
        eprintln!("note: transparent huge pages stay on: {e}");
    }
    let cli = Cli::parse();
    let result: Result<(), String> = match cli.command {
        Command::Storage(args) => storage::run(&args).map_err(|e| e.to_string()),
        #[cfg(feature = "fasty")]
        Command::Wal(args) => wal::run(&args).map_err(|e| e.to_string()),
        #[cfg(feature = "http")]
        Command::Query(args) => compare::run_query(args),
        #[cfg(feature = "http")]
        Command::Http(args) => http::run(&args),
        #[cfg(feature = "http")]
        Command::Compare(args) => compare::run(&args),
        #[cfg(feature = "http")]
        Command::RecoveryWriter(args) => compare::recovery::writer(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
