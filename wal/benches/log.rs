//! Micro-benchmarks of the log's append path, through `Db`'s public API:
//! an async-mode write (acknowledged once queued; the log writer syncs
//! every 50 ms) of 1- and 100-row batches, and durable-mode writes (each
//! acknowledged after the fsync covering it) from 1, 4 and 16 writer
//! threads, where group commit shares fsyncs between writers.
//!
//! `cargo bench -p fasty-wal` runs them (criterion; `-- --test` runs each
//! once). Durable numbers depend on the disk's fsync latency: run them on
//! the disk the database will use, not tmpfs. `fasty-bench wal` has the
//! longer measurements (up to 64 writers, 1000-row batches, replay).

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fasty_wal::{Db, Options, WriteBatch};

/// Bytes per key and per value.
const KEY_BYTES: usize = 16;
const VALUE_BYTES: usize = 100;

/// 1 MiB of incompressible bytes to cut values from without allocating.
fn value_pool() -> Bytes {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let pool: Vec<u8> = (0..1 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    Bytes::from(pool)
}

/// `rows` rows of writer `writer` starting at its row `first`: keys spread
/// over the key space (a scrambled prefix), unique per writer and row.
fn batch(pool: &Bytes, writer: u64, first: u64, rows: usize) -> WriteBatch {
    let mut b = WriteBatch::with_capacity(rows * (KEY_BYTES + VALUE_BYTES));
    for n in first..first + rows as u64 {
        let mut k = [0u8; KEY_BYTES];
        let h = (n ^ (writer << 40)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        k[..8].copy_from_slice(&h.to_be_bytes());
        k[8..].copy_from_slice(&((writer << 48) | n).to_be_bytes());
        let off = (n.wrapping_mul(7919) % (pool.len() - VALUE_BYTES) as u64) as usize;
        b.put(
            Bytes::copy_from_slice(&k),
            pool.slice(off..off + VALUE_BYTES),
        );
    }
    b
}

/// A database in a fresh temporary directory (kept alive by the guard).
fn open(opts: Options) -> (tempfile::TempDir, Db) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = Db::open(dir.path(), opts).expect("open the database");
    (dir, db)
}

/// Async mode: the writer's cost of queuing and applying one batch.
fn async_write(c: &mut Criterion) {
    let pool = value_pool();
    let mut g = c.benchmark_group("async-write");
    for rows in [1usize, 100] {
        let (_dir, db) = open(Options::default());
        let mut next = 0u64;
        g.throughput(Throughput::Elements(rows as u64));
        g.bench_with_input(BenchmarkId::new("rows", rows), &rows, |b, &rows| {
            b.iter(|| {
                let seqno = db.write(batch(&pool, 0, next, rows)).expect("write");
                next += rows as u64;
                black_box(seqno)
            });
        });
        db.close().expect("close");
    }
    g.finish();
}

/// Durable mode, single-row batches from `writers` threads started
/// together: one iteration is one acknowledged batch, whichever thread
/// wrote it, so the time per iteration falls as group commit shares
/// fsyncs.
fn durable_write(c: &mut Criterion) {
    let pool = value_pool();
    let mut g = c.benchmark_group("durable-write");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1));
    for writers in [1u64, 4, 16] {
        let (_dir, db) = open(Options::durable());
        let mut next = 0u64;
        g.bench_with_input(
            BenchmarkId::new("writers", writers),
            &writers,
            |b, &writers| {
                b.iter_custom(|iters| {
                    let first = next;
                    next += iters;
                    let start = Barrier::new(writers as usize + 1);
                    std::thread::scope(|s| {
                        for w in 0..writers {
                            let (db, pool, start) = (&db, &pool, &start);
                            // Writer `w` takes iterations w, w + writers, …
                            let mine = (iters + writers - 1 - w) / writers;
                            s.spawn(move || {
                                start.wait();
                                for i in 0..mine {
                                    db.write(batch(pool, w, first + i, 1)).expect("write");
                                }
                            });
                        }
                        start.wait();
                        // Read after the scope has joined every writer.
                        Instant::now()
                    })
                    .elapsed()
                });
            },
        );
        db.close().expect("close");
    }
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = async_write, durable_write
}
criterion_main!(benches);
