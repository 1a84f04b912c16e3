//! The timed parts of the `wal` benchmark. Every function opens its own
//! store in a fresh directory and closes it; timings cover only the writes
//! (or only the open, for replay).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use fasty_storage::{Engine, WriteBatch};
use fasty_wal::{Db, Options};

use super::{Error, Result, io_err};

/// Bytes per key and per value.
pub const KEY_BYTES: usize = 16;
/// See [`KEY_BYTES`].
pub const VALUE_BYTES: usize = 100;

/// One durable-mode cell: `threads` writers, `rows` per batch.
#[derive(Debug, Clone)]
pub struct DurableCell {
    pub threads: usize,
    pub rows: usize,
    pub batches: u64,
    pub elapsed: Duration,
    pub syncs: u64,
}

impl DurableCell {
    pub fn batches_per_sec(&self) -> f64 {
        self.batches as f64 / self.elapsed.as_secs_f64()
    }
    pub fn rows_per_sec(&self) -> f64 {
        self.batches_per_sec() * self.rows as f64
    }
    pub fn syncs_per_sec(&self) -> f64 {
        self.syncs as f64 / self.elapsed.as_secs_f64()
    }
    pub fn batches_per_sync(&self) -> f64 {
        self.batches as f64 / self.syncs.max(1) as f64
    }
}

/// Rows per second of one single-threaded write run.
#[derive(Debug, Clone, Copy)]
pub struct WriteRun {
    pub rows: u64,
    pub elapsed: Duration,
}

impl WriteRun {
    pub fn rows_per_sec(&self) -> f64 {
        self.rows as f64 / self.elapsed.as_secs_f64()
    }
}

/// The recovery measurement.
#[derive(Debug, Clone)]
pub struct ReplayRun {
    pub log_bytes: u64,
    pub records: u64,
    pub replay: Duration,
    /// The part of `replay` spent reading and checking the log.
    pub check: Duration,
    pub open: Duration,
}

impl ReplayRun {
    pub fn mb_per_sec(&self) -> f64 {
        self.log_bytes as f64 / 1e6 / self.replay.as_secs_f64()
    }
    /// Reading and checking alone (no engine work).
    pub fn check_mb_per_sec(&self) -> f64 {
        self.log_bytes as f64 / 1e6 / self.check.as_secs_f64()
    }
}

/// Keys and values without allocation in the timed loops beyond what a
/// caller of the API pays anyway (one `Bytes` per key).
struct Rows {
    values: Bytes,
}

impl Rows {
    fn new() -> Rows {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let pool: Vec<u8> = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        Rows {
            values: Bytes::from(pool),
        }
    }

    /// Key `n` of writer `t`: a scrambled 8-byte prefix (so writes land all
    /// over the key space) then writer and sequence, 16 bytes.
    fn key(t: u64, n: u64) -> Bytes {
        let mut k = [0u8; KEY_BYTES];
        let h = (n ^ (t << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        k[..8].copy_from_slice(&h.to_be_bytes());
        k[8..].copy_from_slice(&((t << 48) | n).to_be_bytes());
        Bytes::copy_from_slice(&k)
    }

    fn value(&self, n: u64) -> Bytes {
        let off = (n.wrapping_mul(7919) % (self.values.len() - VALUE_BYTES) as u64) as usize;
        self.values.slice(off..off + VALUE_BYTES)
    }

    fn batch(&self, t: u64, first: u64, rows: usize) -> WriteBatch {
        let mut b = WriteBatch::with_capacity(rows);
        for n in first..first + rows as u64 {
            b.put(Self::key(t, n), self.value(n));
        }
        b
    }
}

/// Durable mode: `threads` writers each write batches of `rows` rows as
/// fast as their acknowledgements come back, for `seconds`; `preallocate`
/// as `Options::preallocate_segments`.
pub fn durable(
    dir: &Path,
    threads: usize,
    rows: usize,
    seconds: f64,
    preallocate: bool,
) -> Result<DurableCell> {
    let opts = Options::durable().with_preallocate_segments(preallocate);
    let db = Arc::new(Db::open(dir, opts)?);
    let data = Arc::new(Rows::new());
    let stop = Arc::new(AtomicBool::new(false));
    let batches = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads as u64)
        .map(|t| {
            let (db, data, stop, batches) =
                (db.clone(), data.clone(), stop.clone(), batches.clone());
            std::thread::spawn(move || -> fasty_wal::Result<()> {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    db.write(data.batch(t, n, rows))?;
                    n += rows as u64;
                    batches.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join()
            .map_err(|_| Error::WrongResult("a writer thread panicked".into()))??;
    }
    let elapsed = start.elapsed();
    let stats = db.stats();
    let cell = DurableCell {
        threads,
        rows,
        batches: batches.load(Ordering::Relaxed),
        elapsed,
        syncs: stats.log_syncs,
    };
    if stats.log_records != cell.batches {
        return Err(Error::WrongResult(format!(
            "{} batches acknowledged but {} logged",
            cell.batches, stats.log_records
        )));
    }
    let db = Arc::into_inner(db).ok_or_else(|| Error::WrongResult("db still shared".into()))?;
    db.close()?;
    Ok(cell)
}

/// The bare engine, no log: `total` rows in batches of `rows`, one thread.
pub fn bare_engine(dir: &Path, rows: usize, total: u64) -> Result<WriteRun> {
    let engine = Engine::open(dir, fasty_storage::Options::default())?;
    let data = Rows::new();
    let start = Instant::now();
    let mut seqno = 0;
    let mut n = 0;
    while n < total {
        seqno += 1;
        engine.apply(&data.batch(0, n, rows), seqno)?;
        n += rows as u64;
    }
    let elapsed = start.elapsed();
    engine.close()?;
    Ok(WriteRun { rows: n, elapsed })
}

/// Async mode (default 50 ms interval): the same rows as [`bare_engine`].
pub fn async_db(dir: &Path, rows: usize, total: u64) -> Result<WriteRun> {
    let db = Db::open(dir, Options::default())?;
    let data = Rows::new();
    let start = Instant::now();
    let mut n = 0;
    while n < total {
        db.write(data.batch(0, n, rows))?;
        n += rows as u64;
    }
    let elapsed = start.elapsed();
    db.close()?;
    Ok(WriteRun { rows: n, elapsed })
}

/// Options of the replay measurement: memtables large enough that replay
/// measures reading, checking, decoding and inserting, not flushing.
fn replay_options() -> Options {
    Options::default().with_storage(fasty_storage::Options::default().with_memtable_budget(2 << 30))
}

/// The child side of [`replay`]: writes `bytes` of log in batches of 100
/// rows, syncs, and exits without closing, as a crash would.
pub fn write_log_and_exit(dir: &Path, bytes: u64) -> Result<()> {
    let db = Db::open(dir, replay_options())?;
    let data = Rows::new();
    // A row is 125 bytes of record payload (tag, two lengths, key, value).
    let rows = bytes / 125;
    let mut n = 0;
    while n < rows {
        db.write(data.batch(0, n, 100))?;
        n += 100;
    }
    db.sync()?;
    let written = db.stats().log_bytes_written;
    eprintln!("child: wrote {written} bytes of log, exiting without close");
    std::process::exit(0);
}

/// Recovery: a child process writes a log of `mib` MiB and exits without
/// closing; opening the database here replays it.
pub fn replay(dir: &Path, mib: u64) -> Result<ReplayRun> {
    let exe = std::env::current_exe().map_err(io_err(Path::new("current_exe")))?;
    let status = std::process::Command::new(&exe)
        .arg("wal")
        .arg("--replay-mib")
        .arg(mib.to_string())
        .arg("--write-log-and-exit")
        .arg(dir)
        .status()
        .map_err(io_err(&exe))?;
    if !status.success() {
        return Err(Error::WrongResult(format!(
            "log writer child failed: {status}"
        )));
    }
    // Drop the log from the page cache? Not possible without privileges;
    // the numbers are for a warm cache, as after a process crash.
    let start = Instant::now();
    let db = Db::open(dir, replay_options())?;
    let open = start.elapsed();
    let stats = db.stats();
    let run = ReplayRun {
        log_bytes: stats.replay.log_bytes,
        records: stats.replay.records,
        replay: stats.replay.duration,
        check: stats.replay.check_duration,
        open,
    };
    if run.records == 0 {
        return Err(Error::WrongResult("nothing was replayed".into()));
    }
    db.close()?;
    Ok(run)
}
