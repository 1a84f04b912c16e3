//! The `http` benchmark: a load generator for fasty's HTTP API (docs/http.md).
//!
//! By default it starts `fasty_server::serve` in this process on a loopback
//! port over a fresh database ([`server`]), on a tokio runtime of its own;
//! `--url` points it at a running server instead. The load runs on a
//! second runtime: many keep-alive HTTP/1.1 connections ([`client`]), each
//! sending pre-serialised bodies ([`bodies`]) as fast as answers come back
//! or at a fixed rate ([`load`]), timing every request ([`latency`]) and
//! checking every answer. [`sections`] runs the sections in order (later
//! ones look up the rows earlier ones loaded); [`report`] prints the table.
//! What the compare suite measures the same way on its `fasty` system (W1,
//! W2, W3, W4, W7) is left to it.

pub(crate) mod bodies;
pub(crate) mod client;
mod cpu;
mod latency;
mod load;
mod report;
mod sections;
pub(crate) mod server;

use std::path::PathBuf;

use crate::counts::parse_count;
use crate::workdir::WorkDir;

pub use report::Report;

/// How the in-process server's database is opened (docs/wal.md).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Acknowledged at once, synced every 50 ms (the default).
    Async,
    /// Acknowledged after the log's fsync (group commit).
    Durable,
    /// Nothing touches the disk.
    Memory,
}

impl Mode {
    /// The mode's name, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Async => "async",
            Mode::Durable => "durable",
            Mode::Memory => "memory",
        }
    }
}

/// Options of `fasty-bench http`.
#[derive(clap::Args, Debug, Clone)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// A running server to load (`http://127.0.0.1:8000`) instead of the
    /// in-process one; it cannot switch modes then, and the table named
    /// by `--table` must not exist yet.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,

    /// Bearer token for a server started with `--auth-token`.
    #[arg(long, value_name = "T")]
    pub auth_token: Option<String>,

    /// Durability mode of the in-process server.
    #[arg(long, value_enum, default_value = "async")]
    pub durability: Mode,

    /// Modes to run, comma-separated: the first runs every section, each
    /// further one (on a fresh server) the parallel 1000-row ingest only,
    /// e.g. `async,durable`. Overrides `--durability`.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub modes: Vec<Mode>,

    /// Small sizes: a run in seconds, not minutes (`--rows 50_000
    /// --seconds 1 --mixed-seconds 2` unless given).
    #[arg(long)]
    pub quick: bool,

    /// Most seconds each section runs (it may end sooner when its rows
    /// are all sent). Default 5, or 1 with `--quick`.
    #[arg(long)]
    pub seconds: Option<f64>,

    /// Seconds of the sustained mixed section. Default 10, or 2 with
    /// `--quick`.
    #[arg(long)]
    pub mixed_seconds: Option<f64>,

    /// Rows each parallel ingest section loads (the single-connection
    /// batch sections load half as many). Default 1_000_000, or 50_000
    /// with `--quick`.
    #[arg(long, value_parser = parse_count)]
    pub rows: Option<u64>,

    /// Async worker threads of the in-process server (its statements run
    /// on its own blocking pool). Default: the number of cores.
    #[arg(long)]
    pub server_threads: Option<usize>,

    /// Async worker threads of the load generator. Default: the number of
    /// cores.
    #[arg(long)]
    pub client_threads: Option<usize>,

    /// The table the run creates and loads.
    #[arg(long, default_value = "users")]
    pub table: String,

    /// Seed of the rows and of the lookup keys.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Directory for the in-process server's databases: each run makes a
    /// fresh directory inside it, removed at the end. Default: $TMPDIR.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

const AFTER_HELP: &str = "\
Sections (table users: id, name, email, age, balance, active; email index):
  2  single-row insert, 64 connections        target >= 100k rows/s
     {\"table\":\"users\",\"rows\":[one row]}
  3  single-row insert at 50% of section 2's rate (paced, 64 connections)
                                              target p99 <= 2 ms
  4  batch insert, 1 connection, 100/500/5000-row batches (4a, 4b, 4d)
  5  parallel 1000-row batches, 10/64 connections (5a, 5c)
                                              target >= 2M rows/s (async mode)
  7  email lookup `find users where email = E`, 32 connections
  8  pk range `find users where id >= X and id < X+100`, 32 connections
 10  mixed, 32 connections: 1 single-row insert per 4 pk lookups, 10 s
 11  durable mode (with --modes ...,durable): parallel 1000-row batches,
     64 connections, fresh server    target >= 1M rows/s
Every answer is checked (status 200, success, inserted count, row count,
ids); latencies p50/p95/p99 are exact (every request timed).
The sections compare measures on its `fasty` system are not repeated here:
  1 (W1, 1 client), 4c (W2), 5b (W3, 32 clients), 6 (W4, 32 clients) and
  9 (W7 top-10): fasty-bench compare --systems fasty --workloads \\
      w1-single1,w2-batch1,w3-batch32,w4-pk32,w7-top10

  cargo run --release -p fasty-bench -- http
  cargo run --release -p fasty-bench -- http --quick --modes async,durable
  cargo run --release -p fasty-bench -- http --url http://127.0.0.1:8000";

/// Sizes of one run, from the options.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Rows of each parallel ingest section.
    pub rows: u64,
    /// Most seconds per section.
    pub seconds: f64,
    /// Seconds of the mixed section.
    pub mixed_seconds: f64,
    /// Server async threads (in-process only).
    pub server_threads: usize,
    /// Client async threads.
    pub client_threads: usize,
    /// Full-run mode first, then ingest-only modes.
    pub modes: Vec<Mode>,
}

impl Plan {
    /// The sizes `args` ask for.
    pub fn of(args: &Args) -> Plan {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Plan {
            rows: args
                .rows
                .unwrap_or(if args.quick { 50_000 } else { 1_000_000 }),
            seconds: args.seconds.unwrap_or(if args.quick { 1.0 } else { 5.0 }),
            mixed_seconds: args
                .mixed_seconds
                .unwrap_or(if args.quick { 2.0 } else { 10.0 }),
            server_threads: args.server_threads.unwrap_or(cores).max(1),
            client_threads: args.client_threads.unwrap_or(cores).max(1),
            modes: if args.modes.is_empty() {
                vec![args.durability]
            } else {
                args.modes.clone()
            },
        }
    }
}

/// Runs the benchmark and returns the report (the caller prints it).
pub fn measure(args: &Args) -> Result<Report, String> {
    let plan = Plan::of(args);
    if !(plan.seconds > 0.0 && plan.mixed_seconds > 0.0) {
        return Err("--seconds and --mixed-seconds must be positive".into());
    }
    let workdir = if args.url.is_none() {
        Some(
            WorkDir::new(args.dir.as_deref(), "fasty-bench-http-")
                .map_err(|(p, e)| format!("{}: {e}", p.display()))?,
        )
    } else {
        None
    };
    let client = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.client_threads)
        .thread_name("fasty-bench-load")
        .enable_all()
        .build()
        .map_err(|e| format!("client runtime: {e}"))?;
    sections::run_all(args, &plan, workdir.as_ref().map(WorkDir::path), &client)
}

/// Runs the benchmark and prints the markdown table on stdout (progress
/// goes to stderr).
pub fn run(args: &Args) -> Result<(), String> {
    let report = measure(args)?;
    print!("{}", report.markdown());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--url`: the same sections against a server the run did not start
    /// (here one started by the test); a further mode is skipped, not run.
    #[test]
    fn external_server_by_url() {
        let dir = tempfile::tempdir().unwrap();
        let token = Some("t0ken".to_string());
        let server = server::InProcess::start(dir.path(), Mode::Memory, 1, token.clone()).unwrap();
        let mut args = Args {
            url: Some(format!("http://{}/", server.addr())),
            auth_token: token,
            durability: Mode::Async,
            modes: vec![Mode::Async, Mode::Durable],
            quick: true,
            seconds: Some(0.2),
            mixed_seconds: Some(0.2),
            rows: Some(1_000),
            server_threads: None,
            client_threads: Some(1),
            table: "ext_users".into(),
            seed: 1,
            dir: None,
        };
        let report = measure(&args).unwrap();
        let md = report.markdown();
        let (last, ran) = report.sections().split_last().unwrap();
        assert!(last.outcome.is_none(), "{md}");
        assert!(md.contains("cannot switch modes"), "{md}");
        for s in ran {
            let o = s.outcome.as_ref().unwrap();
            assert_eq!(o.errors, 0, "section {}: {:?}\n{md}", s.number, o.messages);
        }
        assert!(md.contains("external server at http://127.0.0.1:"), "{md}");
        // The table exists now: a second run against the same server must
        // report errors instead of numbers, not panic; so must one with a
        // wrong token.
        let again = measure(&args).unwrap().markdown();
        assert!(
            again.contains("**errors**") && again.contains("duplicate"),
            "{again}"
        );
        args.table = "other_users".into();
        args.auth_token = Some("wrong".into());
        let refused = measure(&args).unwrap().markdown();
        assert!(refused.contains("HTTP 401"), "{refused}");
        server.stop().unwrap();
    }

    /// The whole harness on tiny sizes against the in-process server, in
    /// a debug build: every section runs and reports sane numbers.
    #[test]
    fn tiny_run_reports_every_section() {
        let dir = tempfile::tempdir().unwrap();
        let args = Args {
            url: None,
            auth_token: None,
            durability: Mode::Async,
            modes: vec![Mode::Memory, Mode::Durable],
            quick: true,
            seconds: Some(0.3),
            mixed_seconds: Some(0.3),
            rows: Some(3_000),
            server_threads: Some(2),
            client_threads: Some(2),
            table: "users".into(),
            seed: 7,
            dir: Some(dir.path().to_path_buf()),
        };
        let report = measure(&args).unwrap();
        let md = report.markdown();
        // Sections 2, 3, 4a, 4b, 4d, 5a, 5c, 7, 8, 10, then 11 for the
        // second mode.
        assert_eq!(report.sections().len(), 11, "{md}");
        for s in report.sections() {
            let o = s
                .outcome
                .as_ref()
                .unwrap_or_else(|| panic!("section {} skipped: {md}", s.label));
            assert_eq!(
                o.errors, 0,
                "section {} had errors: {:?}\n{md}",
                s.label, o.messages
            );
            assert!(o.ok > 0, "section {} answered nothing\n{md}", s.label);
            assert_eq!(o.latencies.len() as u64, o.ok, "{md}");
            let (p50, p99) = (o.latencies.percentile(50.0), o.latencies.percentile(99.0));
            assert!(p50.is_some() && p50 <= p99, "{md}");
            assert!(s.rate().is_finite() && s.rate() > 0.0, "{md}");
        }
        assert!(md.contains("| 2 |") && md.contains("durable"), "{md}");
        assert!(!md.contains("**errors**"), "{md}");
    }
}
