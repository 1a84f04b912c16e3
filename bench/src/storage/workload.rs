//! The timed phases of one run of one system.
//!
//! A run uses two fresh stores: one for sequential put (then closed and
//! removed), one for random put whose contents, after a flush and a full
//! compaction, serve the reads: random get hits, random get misses and the
//! forward scan. Every phase checks its results; a wrong answer ends the
//! benchmark instead of producing a number.

use std::path::Path;
use std::time::{Duration, Instant};

use super::keys::{Dataset, KEY_BYTES, VALUE_BYTES};
use super::{Error, Result, StoreConfig, System, io_err};

/// One measured workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Ascending keys into an empty store.
    SeqPut,
    /// Shuffled keys into an empty store.
    RandomPut,
    /// Every present key once, shuffled.
    GetHit,
    /// As many absent keys, shuffled.
    GetMiss,
    /// Full forward iteration.
    Scan,
}

impl Workload {
    /// All workloads, in the order they run and are printed.
    pub const ALL: [Workload; 5] = [
        Workload::SeqPut,
        Workload::RandomPut,
        Workload::GetHit,
        Workload::GetMiss,
        Workload::Scan,
    ];

    /// Row label in the table.
    pub fn label(self) -> &'static str {
        match self {
            Workload::SeqPut => "sequential put",
            Workload::RandomPut => "random put",
            Workload::GetHit => "random get, hits",
            Workload::GetMiss => "random get, misses",
            Workload::Scan => "forward scan",
        }
    }

    /// Unit of the rate; all are higher-is-better.
    pub fn unit(self) -> &'static str {
        match self {
            Workload::Scan => "MB/s",
            _ => "ops/s",
        }
    }

    /// Field name in the JSON output.
    pub fn id(self) -> &'static str {
        match self {
            Workload::SeqPut => "seq_put_ops_per_s",
            Workload::RandomPut => "random_put_ops_per_s",
            Workload::GetHit => "random_get_hit_ops_per_s",
            Workload::GetMiss => "random_get_miss_ops_per_s",
            Workload::Scan => "scan_mb_per_s",
        }
    }
}

/// The results of one run of one system.
#[derive(Clone, Debug)]
pub struct Sample {
    /// Rate per workload, indexed like [`Workload::ALL`].
    pub rates: [f64; Workload::ALL.len()],
    /// Seconds the flush plus full compaction took after random put
    /// (informational; not part of any rate).
    pub settle_secs: f64,
}

impl Sample {
    /// The rate measured for `w`.
    pub fn rate(&self, w: Workload) -> f64 {
        self.rates[Workload::ALL.iter().position(|&x| x == w).unwrap_or(0)]
    }
}

/// Runs every workload once on `system`, in fresh stores under `dir`
/// (removed afterwards).
pub fn run_once(
    system: System,
    data: &Dataset,
    dir: &Path,
    config: &StoreConfig,
    tag: &str,
) -> Result<Sample> {
    let n = data.len();
    let mut rates = [0.0; Workload::ALL.len()];
    let mut record = |w: Workload, rate: f64, elapsed: Duration| {
        eprintln!(
            "{tag} {:<20} {:>12.1} {:<5} ({:.2} s)",
            w.label(),
            rate,
            w.unit(),
            elapsed.as_secs_f64()
        );
        rates[Workload::ALL.iter().position(|&x| x == w).unwrap_or(0)] = rate;
    };

    // Sequential put, in a store of its own.
    let seq_dir = dir.join("seq");
    std::fs::create_dir_all(&seq_dir).map_err(io_err(&seq_dir))?;
    let mut store = system.open(&seq_dir, config)?;
    let start = Instant::now();
    for i in 0..n {
        store.put(&Dataset::key(i), data.value(i))?;
    }
    let elapsed = start.elapsed();
    record(Workload::SeqPut, ops_per_sec(n, elapsed), elapsed);
    store.close()?;
    std::fs::remove_dir_all(&seq_dir).map_err(io_err(&seq_dir))?;

    // Random put; this store then serves the reads.
    let rand_dir = dir.join("random");
    std::fs::create_dir_all(&rand_dir).map_err(io_err(&rand_dir))?;
    let mut store = system.open(&rand_dir, config)?;
    let start = Instant::now();
    for &i in data.put_order() {
        store.put(&Dataset::key(i), data.value(i))?;
    }
    let elapsed = start.elapsed();
    record(Workload::RandomPut, ops_per_sec(n, elapsed), elapsed);

    let start = Instant::now();
    store.flush()?;
    store.compact()?;
    let settle = start.elapsed();
    eprintln!(
        "{tag} flush + full compaction      ({:.2} s, not timed)",
        settle.as_secs_f64()
    );

    let start = Instant::now();
    let mut found = 0u64;
    for &i in data.get_order() {
        match store.get(&Dataset::key(i))? {
            Some(VALUE_BYTES) => found += 1,
            other => return Err(wrong(system, format!("get(key {i}) gave {other:?} bytes"))),
        }
    }
    let elapsed = start.elapsed();
    record(Workload::GetHit, ops_per_sec(found, elapsed), elapsed);

    let start = Instant::now();
    for &i in data.get_order() {
        if let Some(len) = store.get(&Dataset::miss_key(i))? {
            return Err(wrong(
                system,
                format!(
                    "get(absent key {}) found {len} bytes",
                    (u128::from(i) << 1) | 1
                ),
            ));
        }
    }
    let elapsed = start.elapsed();
    record(Workload::GetMiss, ops_per_sec(n, elapsed), elapsed);

    let start = Instant::now();
    let (entries, bytes) = store.scan_all()?;
    let elapsed = start.elapsed();
    let expected = n * (KEY_BYTES + VALUE_BYTES) as u64;
    if entries != n || bytes != expected {
        return Err(wrong(
            system,
            format!("scan gave {entries} entries / {bytes} bytes, expected {n} / {expected}"),
        ));
    }
    record(
        Workload::Scan,
        bytes as f64 / 1e6 / elapsed.as_secs_f64(),
        elapsed,
    );

    store.close()?;
    std::fs::remove_dir_all(dir).map_err(io_err(dir))?;
    Ok(Sample {
        rates,
        settle_secs: settle.as_secs_f64(),
    })
}

fn ops_per_sec(ops: u64, elapsed: Duration) -> f64 {
    ops as f64 / elapsed.as_secs_f64()
}

fn wrong(system: System, what: String) -> Error {
    Error::WrongResult {
        system: system.name(),
        what,
    }
}
