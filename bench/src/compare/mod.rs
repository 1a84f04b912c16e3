//! The `compare` suite (`cargo xtask bench`): every workload against every
//! system in one run — fasty embedded and over HTTP in each durability
//! mode, PostgreSQL, SQLite and DuckDB — with the same rows, the same
//! client threads and the same checks, each workload repeated with the
//! systems interleaved (A B A B …) so that drift on a shared machine hits
//! all of them alike. Writes `report.json`, `report.md` and `ratios.svg`.
//!
//! [`system`] is the interface a system implements, [`workload`] the
//! workloads and the client harness, [`report`] the output. Peers needing
//! a build or a server sit behind cargo features (`sqlite`, `postgres`,
//! `duckdb`).

#[cfg(feature = "duckdb")]
mod duckdb;
mod fasty;
#[cfg(feature = "postgres")]
mod postgres;
pub(crate) mod recovery;
mod report;
#[cfg(feature = "sqlite")]
mod sqlite;
pub(crate) mod system;
mod tpcb;
pub(crate) mod workload;

use std::path::PathBuf;
use std::time::Instant;

use crate::data::{Dataset, UserStream};
use crate::http::Mode;
use crate::workdir::WorkDir;
use report::Report;
use system::{Result, System};
use workload::{BATCH_ROWS, Input, Scale, Workload};

/// Every system the suite knows, in report order.
pub const SYSTEMS: &[&str] = &[
    "fasty",
    "fasty-durable",
    "fasty-memory",
    "fasty-embedded",
    "fasty-embedded-durable",
    "postgres",
    "postgres-nosync",
    "postgres-copy",
    "sqlite",
    "sqlite-full",
    "duckdb",
];

/// Options of `fasty-bench compare`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Small data (50 000 rows per table), short runs: under 5 minutes.
    #[arg(long, conflicts_with = "full")]
    pub quick: bool,

    /// The full run (1 000 000 rows per table); the default.
    #[arg(long)]
    pub full: bool,

    /// Systems to run, comma-separated (see below). Default: every one
    /// built in.
    #[arg(long, value_delimiter = ',')]
    pub systems: Vec<String>,

    /// Where report.json, report.md and ratios.svg go.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_OUT)]
    pub out: PathBuf,

    /// Directory for the databases: each run makes a fresh directory
    /// inside it, removed at the end. Default: $TMPDIR; use a disk, not
    /// tmpfs.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Runs of each workload per system (at least 3 by default).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: Option<u32>,

    /// Rows in `users` and in `orders`, instead of the mode's.
    #[arg(long, value_parser = crate::counts::parse_count)]
    pub rows: Option<u64>,

    /// Seconds each point-operation, sustained and latency run lasts,
    /// instead of the mode's.
    #[arg(long, value_name = "SECS")]
    pub seconds: Option<f64>,

    /// MiB of log the recovery section replays, instead of the mode's
    /// (1024 in the full run, 32 in the quick one); 0 skips it.
    #[arg(long, value_name = "MIB")]
    pub wal_mib: Option<u64>,

    /// Only these workloads (after the load, which always runs), by their
    /// names in report.json: e.g. `w7-top10,w8-join-aggregate`,
    /// `recovery`. Handy under a profiler.
    #[arg(long, value_delimiter = ',', value_parser = parse_workload)]
    pub workloads: Vec<Workload>,

    /// Seed of the rows and of the lookup keys.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Directory of PostgreSQL's server programs (initdb, pg_ctl).
    #[arg(long, value_name = "DIR", default_value = "/usr/lib/postgresql/15/bin")]
    pub pg_bin: PathBuf,
}

const AFTER_HELP: &str = "\
Systems:
  fasty            fasty-server over HTTP, async durability (the default mode)
  fasty-durable    fasty-server over HTTP, durable (fsync before the answer)
  fasty-memory     fasty-server over HTTP, memory only
  fasty-embedded   fasty's query crate in-process, async durability
  fasty-embedded-durable
                   fasty's query crate in-process, durable
  postgres         PostgreSQL 15, default settings, multi-row INSERT batches
  postgres-nosync  PostgreSQL 15, synchronous_commit=off
  postgres-copy    PostgreSQL 15, default settings, batches via COPY
                   (batch workloads only)
  sqlite           SQLite, WAL, synchronous=NORMAL (feature `sqlite`)
  sqlite-full      SQLite, WAL, synchronous=FULL (feature `sqlite`)
  duckdb           DuckDB, bundled (feature `duckdb`)

Ratios compare each peer with the fasty system of its kind and durability:
postgres and postgres-copy with fasty-durable; postgres-nosync with fasty;
sqlite-full and duckdb with fasty-embedded-durable; sqlite with
fasty-embedded. sqlite (synchronous=NORMAL) survives a process kill that
fasty's async mode does not: its ratios on workloads that write are marked
with a dagger and explained under the table. A ratio above 1 means fasty
is ahead (more per second, or less time or space).

  cargo xtask bench --quick
  cargo xtask bench --systems fasty,postgres,sqlite --out /tmp/report";

/// A workload by its kebab-case name (`w4-pk32`, `recovery`).
fn parse_workload(name: &str) -> std::result::Result<Workload, String> {
    Workload::ALL
        .into_iter()
        .find(|w| w.key() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = Workload::ALL.iter().map(|w| w.key()).collect();
            format!("unknown workload {name:?}; known: {}", names.join(", "))
        })
}

/// The workloads `fasty-bench query` selects: what the relational layer's
/// own benchmark measured against SQLite (after the load: a primary-key
/// lookup, an email index lookup, a 100-row range, top-10, the join with
/// aggregates, the filtered count, the group-by and the selective id
/// range count, from one client).
pub const QUERY_WORKLOADS: &[Workload] = &[
    Workload::W4Pk1,
    Workload::W5Email,
    Workload::W6Range,
    Workload::W7Top10,
    Workload::W8JoinAggregate,
    Workload::W9Count,
    Workload::W10GroupBy,
    Workload::W11IdRange,
];

/// Where the report goes unless `--out` says otherwise.
const DEFAULT_OUT: &str = "target/bench";

/// `fasty-bench query`: the suite narrowed to fasty's embedded database
/// and SQLite (the systems not given with `--systems`) and to
/// [`QUERY_WORKLOADS`] (unless `--workloads` is given); the report goes to
/// `target/bench/query` by default and report.md is also printed.
pub fn run_query(mut args: Args) -> std::result::Result<(), String> {
    if args.systems.is_empty() {
        args.systems = ["fasty-embedded", "sqlite"]
            .into_iter()
            .filter(|s| available().contains(s))
            .map(String::from)
            .collect();
        if !available().contains(&"sqlite") {
            eprintln!(
                "SQLite not built in: running fasty only \
                 (enable it with `cargo run --release -p fasty-bench --features sqlite -- query`)"
            );
        }
    }
    if args.workloads.is_empty() {
        args.workloads = QUERY_WORKLOADS.to_vec();
    }
    if args.out == std::path::Path::new(DEFAULT_OUT) {
        args.out = PathBuf::from(DEFAULT_OUT).join("query");
    }
    run(&args)?;
    let md = args.out.join("report.md");
    let text = std::fs::read_to_string(&md).map_err(|e| format!("{}: {e}", md.display()))?;
    print!("{text}");
    Ok(())
}

/// How much work each mode does.
fn scale(args: &Args) -> Scale {
    let mut s = if args.quick {
        Scale {
            users: 50_000,
            orders: 50_000,
            batch_rows: 20_000,
            seconds: 0.3,
            sustained_seconds: 1.0,
            latency_seconds: 0.5,
            repeat: 3,
            wal_bytes: 32 << 20,
        }
    } else {
        Scale {
            users: 1_000_000,
            orders: 1_000_000,
            batch_rows: 200_000,
            seconds: 2.0,
            sustained_seconds: 10.0,
            latency_seconds: 3.0,
            repeat: 3,
            wal_bytes: 1 << 30,
        }
    };
    if let Some(rows) = args.rows {
        s.users = rows.max(workload::MIN_ROWS);
        s.orders = rows.max(workload::MIN_ROWS);
        s.batch_rows = s.batch_rows.min(rows.max(BATCH_ROWS as u64));
    }
    if let Some(r) = args.repeat {
        s.repeat = r;
    }
    if let Some(secs) = args.seconds {
        s.seconds = secs;
        s.sustained_seconds = secs;
        s.latency_seconds = secs;
    }
    if let Some(mib) = args.wal_mib {
        s.wal_bytes = mib << 20;
    }
    s
}

/// The systems built into this binary.
pub fn available() -> Vec<&'static str> {
    SYSTEMS
        .iter()
        .copied()
        .filter(|s| match *s {
            "postgres" | "postgres-nosync" | "postgres-copy" => cfg!(feature = "postgres"),
            "sqlite" | "sqlite-full" => cfg!(feature = "sqlite"),
            "duckdb" => cfg!(feature = "duckdb"),
            _ => true,
        })
        .collect()
}

/// Runs the suite and writes the report into `args.out`.
pub fn run(args: &Args) -> std::result::Result<(), String> {
    let wanted: Vec<String> = if args.systems.is_empty() {
        available().into_iter().map(String::from).collect()
    } else {
        args.systems.clone()
    };
    for s in &wanted {
        if !SYSTEMS.contains(&s.as_str()) {
            return Err(format!(
                "unknown system {s:?}; known: {}",
                SYSTEMS.join(", ")
            ));
        }
        if !available().contains(&s.as_str()) {
            return Err(format!(
                "system {s:?} is not built in: enable its cargo feature \
                 (`cargo xtask bench` does for postgres and sqlite; duckdb needs \
                 `--features duckdb`)"
            ));
        }
    }
    let scale = scale(args);
    let workdir = WorkDir::new(args.dir.as_deref(), "fasty-bench-compare-")
        .map_err(|(path, e)| format!("{}: {e}", path.display()))?;
    std::fs::create_dir_all(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?;
    let suite = Suite::new(args, &scale, &wanted, workdir.path())?;
    let scratch = workdir.path().join("recovery");
    let report = suite.run(&scratch);
    report.write(&args.out)?;
    eprintln!(
        "wrote {}, {} and {}",
        args.out.join("report.json").display(),
        args.out.join("report.md").display(),
        args.out.join("ratios.svg").display()
    );
    Ok(())
}

/// Starts system `name` with its data under `base`.
fn start(name: &'static str, base: &std::path::Path, args: &Args) -> Result<Box<dyn System>> {
    let dir = base.join(name);
    Ok(match name {
        "fasty" => Box::new(fasty::Server::start(name, &dir, Mode::Async)?),
        "fasty-durable" => Box::new(fasty::Server::start(name, &dir, Mode::Durable)?),
        "fasty-memory" => Box::new(fasty::Server::start(name, &dir, Mode::Memory)?),
        "fasty-embedded" => Box::new(fasty::Embedded::open(name, &dir, Mode::Async)?),
        "fasty-embedded-durable" => Box::new(fasty::Embedded::open(name, &dir, Mode::Durable)?),
        #[cfg(feature = "postgres")]
        "postgres" => Box::new(postgres::Postgres::start(name, base, &args.pg_bin)?),
        #[cfg(feature = "postgres")]
        "postgres-nosync" => Box::new(postgres::Postgres::start(name, base, &args.pg_bin)?),
        #[cfg(feature = "postgres")]
        "postgres-copy" => Box::new(postgres::Postgres::start(name, base, &args.pg_bin)?),
        #[cfg(feature = "sqlite")]
        "sqlite" => Box::new(sqlite::Sqlite::open(name, &dir, false)?),
        #[cfg(feature = "sqlite")]
        "sqlite-full" => Box::new(sqlite::Sqlite::open(name, &dir, true)?),
        #[cfg(feature = "duckdb")]
        "duckdb" => Box::new(duckdb::DuckDb::open(&dir)?),
        other => return Err(format!("system {other:?} is not built in")),
    })
}

/// One run of the suite: the data, the systems and the report so far.
struct Suite<'a> {
    scale: &'a Scale,
    /// The workloads asked for; empty means all.
    only: Vec<Workload>,
    data: Dataset,
    batches: Vec<Vec<crate::data::User>>,
    systems: Vec<Box<dyn System>>,
    report: Report,
}

impl<'a> Suite<'a> {
    fn new(
        args: &Args,
        scale: &'a Scale,
        wanted: &[String],
        base: &std::path::Path,
    ) -> std::result::Result<Suite<'a>, String> {
        eprintln!(
            "generating {} users and {} orders (seed {})",
            scale.users, scale.orders, args.seed
        );
        let data = Dataset::new(scale.users, scale.orders, args.seed);
        let batches = UserStream::new(args.seed + 1)
            .take(scale.batch_rows as usize)
            .chunks(BATCH_ROWS)
            .map(<[_]>::to_vec)
            .collect();
        let mut report = Report::new(if args.quick { "quick" } else { "full" }, scale);
        let mut systems = Vec::new();
        for name in SYSTEMS.iter().filter(|s| wanted.iter().any(|w| w == *s)) {
            eprintln!("starting {name}");
            match start(name, base, args) {
                Ok(sys) => {
                    report.system(sys.name(), sys.describe());
                    systems.push(sys);
                }
                Err(e) => report.note(format!("{name} did not start and is left out: {e}")),
            }
        }
        if systems.is_empty() {
            return Err("no system started".into());
        }
        let backend = systems
            .iter()
            .filter_map(|s| s.io_backend())
            .find(|b| *b != "memory");
        report.environment(backend.map(String::from), crate::machine::fs_type(base));
        Ok(Suite {
            scale,
            only: args.workloads.clone(),
            data,
            batches,
            systems,
            report,
        })
    }

    fn run(mut self, scratch: &std::path::Path) -> Report {
        let began = Instant::now();
        self.load();
        let input = Input {
            data: &self.data,
            batches: std::mem::take(&mut self.batches),
            scale: self.scale,
            tpcb: Default::default(),
        };
        let mut settled_after_writes = false;
        for w in Workload::timed() {
            if !w.leads() || !self.wanted(w) {
                continue;
            }
            if !w.writes() && !settled_after_writes {
                settle_all(&self.systems, &mut self.report);
                settled_after_writes = true;
            }
            if w.warms_up() {
                for sys in self.systems.iter().filter(|s| s.runs(w)) {
                    let _ = workload::run_once(sys.as_ref(), w, 0, &input);
                }
            }
            for run in 1..=self.scale.repeat {
                for sys in self.systems.iter().filter(|s| s.runs(w)) {
                    for (line, figure) in workload::run_once(sys.as_ref(), w, run, &input) {
                        progress(line, run, self.scale.repeat, sys.name(), &figure);
                        self.report.record(line, sys.name(), figure);
                    }
                }
            }
        }
        if let Ok(tallies) = input.tpcb.lock() {
            for note in workload::tpcb_notes(&tallies) {
                self.report.note(note);
            }
        }
        if self.scale.wal_bytes > 0 && self.wanted(Workload::Recovery) {
            self.recovery(scratch);
        }
        for sys in self.systems {
            let name = sys.name();
            if let Some(state) = sys.state() {
                self.report.note(state);
            }
            if let Err(e) = sys.stop() {
                self.report.note(format!("stopping {name} failed: {e}"));
            }
        }
        self.report.note(format!(
            "the whole run took {:.0} s",
            began.elapsed().as_secs_f64()
        ));
        self.report
    }

    /// Whether `w` (or, for a line measured with others, the line that
    /// leads it) was asked for.
    fn wanted(&self, w: Workload) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o.leader() == w.leader())
    }

    /// The recovery section: each system that can be killed and restarted,
    /// `repeat` times, interleaved.
    fn recovery(&mut self, scratch: &std::path::Path) {
        let w = Workload::Recovery;
        for run in 1..=self.scale.repeat {
            for sys in &self.systems {
                let dir = scratch.join(format!("{}-{run}", sys.name()));
                if let Some(figure) = sys.recovery(&dir, self.scale.wal_bytes) {
                    progress(w, run, self.scale.repeat, sys.name(), &figure);
                    self.report.record(w, sys.name(), figure);
                }
                let _ = std::fs::remove_dir_all(&dir);
            }
        }
    }

    /// Loads every system (one after the other), lets each settle, and
    /// records the load rate and the disk bytes per row.
    fn load(&mut self) {
        let rows = (self.data.users.len() + self.data.orders.len()) as f64;
        for sys in &self.systems {
            eprintln!("[{}] loading", sys.name());
            let figure = workload::load(sys.as_ref(), &self.data);
            progress(Workload::Load, 1, 1, sys.name(), &figure);
            self.report.record(Workload::Load, sys.name(), figure);
        }
        settle_all(&self.systems, &mut self.report);
        if !self.wanted(Workload::DiskPerRow) {
            return;
        }
        for sys in &self.systems {
            let figure = match sys.disk_bytes() {
                Ok(Some(bytes)) => Ok(bytes as f64 / rows),
                Ok(None) => continue,
                Err(e) => Err(e),
            };
            progress(Workload::DiskPerRow, 1, 1, sys.name(), &figure);
            self.report.record(Workload::DiskPerRow, sys.name(), figure);
        }
    }
}

fn settle_all(systems: &[Box<dyn System>], report: &mut Report) {
    for sys in systems {
        eprintln!("[{}] waiting for background work", sys.name());
        if let Err(e) = sys.settle() {
            report.note(format!("{}: settling failed: {e}", sys.name()));
        }
    }
}

fn progress(w: Workload, run: u32, runs: u32, system: &str, figure: &workload::Figure) {
    match figure {
        Ok(x) => eprintln!(
            "  {:<44} {run}/{runs} {system:<16} {} {}",
            w.title(),
            crate::report::format::number(*x),
            w.unit().label()
        ),
        Err(e) => eprintln!("  {:<44} {run}/{runs} {system:<16} failed: {e}", w.title()),
    }
}
