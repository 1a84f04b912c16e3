//! The `storage` benchmark: fasty's storage engine (io_uring and std I/O
//! backends) against embedded key-value peers, on identical data.
//!
//! Each system sits behind [`KvStore`], a deliberately small trait: one put
//! per call, a flush, a full compaction, point gets and a full forward scan.
//! One module per system adapts its engine to it ([`fasty`], [`fjall`]);
//! [`keys`] makes the data, [`workload`] times the phases, [`report`] prints
//! the table. Peers are behind cargo features; a system that was not built
//! in is reported as skipped, with the flag that enables it.

#[cfg(feature = "fasty")]
mod fasty;
#[cfg(feature = "fjall")]
mod fjall;
mod keys;
mod report;
mod workload;

use crate::counts::parse_count;
use crate::workdir::WorkDir;
use std::path::{Path, PathBuf};

use keys::Dataset;
use report::Report;
use workload::Sample;

/// Options of `fasty-bench storage`.
#[derive(clap::Args, Debug)]
#[command(after_long_help = AFTER_HELP)]
pub struct Args {
    /// Keys loaded into each store (16-byte keys, 100-byte values).
    /// Underscores are allowed: 1_000_000.
    #[arg(long, default_value = "1_000_000", value_parser = parse_count)]
    pub keys: u64,

    /// Runs per system. With R > 1 the systems are interleaved
    /// (A B A B …, so drift hits all of them alike) and the median is
    /// reported.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub repeat: u32,

    /// Systems to run, comma-separated, in this order. A system whose cargo
    /// feature is off is skipped with a note.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "fasty-uring,fasty-std,fasty-wal,fjall"
    )]
    pub systems: Vec<System>,

    /// Directory for the stores: each run makes a fresh directory inside
    /// it, removed when it ends. Default: $TMPDIR (use a disk-backed file
    /// system, not tmpfs, for meaningful I/O numbers).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Block-cache budget given to every system, in MiB.
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub cache_mib: u64,

    /// Seed of the key shuffles and the value bytes; the same seed gives
    /// every system, and every run, the same data.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Also write the results (medians and every run) as JSON to PATH.
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,

    /// fasty-uring and fasty-std store values in columnar data blocks:
    /// each 100-byte value splits into four 8-byte ints and a 68-byte
    /// blob (a stand-in for a table row), so reads join them back.
    #[arg(long)]
    pub columnar: bool,
}

const AFTER_HELP: &str = "\
Workloads, each on every system:
  sequential put      keys in ascending order into an empty store
  random put          keys in a fixed-seed shuffled order into an empty store
  random get, hits    every key once, in a second shuffled order
  random get, misses  as many absent keys, each between two present ones
  forward scan        full iteration, (key + value bytes) / time in MB/s
Reads run on the random-put store after a flush and a full compaction, so
they hit on-disk tables. Every put is its own call (one WriteBatch per put
for fasty, Keyspace::insert for fjall) from one thread; no system fsyncs per
write. fasty-uring and fasty-std are the engine without a log; fasty-wal
logs every write (async mode, synced every 50 ms) as fjall journals every
write (buffered, never synced per write): fasty-wal ÷ fjall is the like-for-
like ratio. Ratios are fasty ÷ peer within this run; > 1 means fasty is
faster.

Examples:
  cargo run --release -p fasty-bench --features fjall -- storage
  cargo run --release -p fasty-bench --features fjall -- storage --keys 200_000 --repeat 3 --json out.json";

/// A system under test.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum System {
    /// fasty's storage engine with the io_uring backend.
    #[value(name = "fasty-uring")]
    FastyUring,
    /// fasty's storage engine with the std::fs backend.
    #[value(name = "fasty-std")]
    FastyStd,
    /// fasty's storage engine with its write-ahead log (`fasty_wal::Db`,
    /// async mode): the one to compare with a peer that journals.
    #[value(name = "fasty-wal")]
    FastyWal,
    /// fjall 3.1, a Rust LSM tree (cargo feature `fjall`).
    #[value(name = "fjall")]
    Fjall,
}

impl System {
    /// The name used on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            System::FastyUring => "fasty-uring",
            System::FastyStd => "fasty-std",
            System::FastyWal => "fasty-wal",
            System::Fjall => "fjall",
        }
    }

    /// Whether this is fasty itself (the numerator of every ratio).
    pub fn is_fasty(self) -> bool {
        matches!(
            self,
            System::FastyUring | System::FastyStd | System::FastyWal
        )
    }

    /// Whether the system logs its writes before acknowledging them (none
    /// fsyncs per write): ratios are like for like between two that do.
    pub fn logs_writes(self) -> bool {
        matches!(self, System::FastyWal | System::Fjall)
    }

    /// Why this system cannot run in this build, or `None` if it can.
    pub fn missing(self) -> Option<&'static str> {
        match self {
            System::FastyUring | System::FastyStd | System::FastyWal
                if cfg!(not(feature = "fasty")) =>
            {
                Some(
                    "built without the `fasty` feature (off until fasty_storage::Engine lands); \
                 enable it with `cargo run --release -p fasty-bench --features fasty -- storage`",
                )
            }
            System::Fjall if cfg!(not(feature = "fjall")) => Some(
                "built without the `fjall` feature; \
                 enable it with `cargo run --release -p fasty-bench --features fjall -- storage`",
            ),
            _ => None,
        }
    }

    /// How this system was configured, for the notes under the table.
    pub fn setup(self, config: &StoreConfig) -> String {
        let _ = config;
        match self {
            #[cfg(feature = "fasty")]
            System::FastyUring => fasty::setup(fasty::Backend::Uring, config),
            #[cfg(feature = "fasty")]
            System::FastyStd => fasty::setup(fasty::Backend::Std, config),
            #[cfg(feature = "fasty")]
            System::FastyWal => fasty::wal_setup(config),
            #[cfg(feature = "fjall")]
            System::Fjall => fjall::setup(config),
            #[allow(unreachable_patterns)]
            _ => String::from("not built"),
        }
    }

    /// Opens (creating) a store of this system in the empty directory `dir`.
    pub fn open(self, dir: &Path, config: &StoreConfig) -> Result<Box<dyn KvStore>> {
        let _ = (dir, config);
        match self {
            #[cfg(feature = "fasty")]
            System::FastyUring => Ok(Box::new(fasty::FastyStore::open(
                dir,
                fasty::Backend::Uring,
                config,
            )?)),
            #[cfg(feature = "fasty")]
            System::FastyStd => Ok(Box::new(fasty::FastyStore::open(
                dir,
                fasty::Backend::Std,
                config,
            )?)),
            #[cfg(feature = "fasty")]
            System::FastyWal => Ok(Box::new(fasty::FastyWalStore::open(dir, config)?)),
            #[cfg(feature = "fjall")]
            System::Fjall => Ok(Box::new(fjall::FjallStore::open(dir, config)?)),
            #[allow(unreachable_patterns)]
            _ => Err(Error::NotBuilt(self.name())),
        }
    }
}

/// Settings every system gets alike.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Block-cache budget in bytes.
    pub cache_bytes: u64,
    /// fasty's engine writes columnar data blocks (`--columnar`).
    pub columnar: bool,
}

/// A key-value store as the benchmark drives it. Errors end the run: a
/// benchmark of a failing engine measures nothing.
pub trait KvStore {
    /// Writes one key, as one write call (no batching across keys), without
    /// an fsync.
    fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()>;
    /// Writes everything buffered in memory to on-disk tables and waits.
    fn flush(&mut self) -> Result<()>;
    /// Compacts all tables into the fewest the engine produces and waits
    /// until no background work is left.
    fn compact(&mut self) -> Result<()>;
    /// The length of the value stored under `key`, if any.
    fn get(&self, key: &[u8]) -> Result<Option<usize>>;
    /// Iterates everything in key order: (entries, key + value bytes).
    fn scan_all(&self) -> Result<(u64, u64)>;
    /// Closes the store, waiting for its background work.
    fn close(self: Box<Self>) -> Result<()>;
}

/// What can end a storage benchmark run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// fasty's engine failed.
    #[cfg(feature = "fasty")]
    #[error("fasty: {0}")]
    Fasty(#[from] fasty_storage::Error),
    /// fasty's write-ahead log failed.
    #[cfg(feature = "fasty")]
    #[error("fasty-wal: {0}")]
    FastyWal(#[from] fasty_wal::Error),
    /// fjall failed.
    #[cfg(feature = "fjall")]
    #[error("fjall: {0}")]
    Fjall(#[from] ::fjall::Error),
    /// Creating, removing or writing benchmark files failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A system returned wrong data; its numbers would mean nothing.
    #[error("{system} returned wrong results: {what}")]
    WrongResult {
        /// The system's name.
        system: &'static str,
        /// What was expected and what came back.
        what: String,
    },
    /// The system was requested but is not compiled into this binary.
    #[error("{0} is not built into this binary")]
    NotBuilt(&'static str),
}

/// The storage benchmark's result type.
pub type Result<T> = std::result::Result<T, Error>;

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Runs the storage benchmark and prints the markdown table on stdout
/// (progress goes to stderr).
pub fn run(args: &Args) -> Result<()> {
    let mut systems: Vec<System> = Vec::new();
    for &s in &args.systems {
        if !systems.contains(&s) {
            systems.push(s);
        }
    }
    let (runnable, skipped): (Vec<System>, Vec<System>) =
        systems.into_iter().partition(|s| s.missing().is_none());
    for s in &skipped {
        eprintln!("skipping {}: {}", s.name(), s.missing().unwrap_or_default());
    }

    let workdir = WorkDir::new(args.dir.as_deref(), "fasty-bench-")
        .map_err(|(path, source)| Error::Io { path, source })?;
    let base = workdir.path().to_path_buf();

    let config = StoreConfig {
        cache_bytes: args.cache_mib << 20,
        columnar: args.columnar,
    };
    eprintln!(
        "preparing {} keys (seed {}) in {}",
        args.keys,
        args.seed,
        base.display()
    );
    let data = Dataset::new(args.keys, args.seed);

    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); runnable.len()];
    for round in 0..args.repeat {
        for (i, &system) in runnable.iter().enumerate() {
            let dir = base.join(format!("{}-run{}", system.name(), round + 1));
            let tag = format!("[{} {}/{}]", system.name(), round + 1, args.repeat);
            let sample = workload::run_once(system, &data, &dir, &config, &tag)?;
            samples[i].push(sample);
        }
    }

    let report = Report::new(
        &data,
        &base,
        args.repeat,
        &config,
        runnable.into_iter().zip(samples).collect(),
        skipped,
    );
    print!("{}", report.markdown());
    if let Some(path) = &args.json {
        std::fs::write(path, report.json()).map_err(io_err(path))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
