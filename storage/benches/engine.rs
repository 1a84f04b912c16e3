//! Micro-benchmarks of the storage engine's hot paths, through its public
//! API only: single-put write batches (sequential and random keys), point
//! gets (hits and misses) on compacted tables, and reads over a key space
//! spread across the memtable, two level-0 tables and level 1 (full scans
//! as an iterator and with `visit`, point gets, one-pair prefix scans).
//!
//! `cargo bench -p fasty-storage` runs them (criterion; add `-- get` to
//! pick by name, `-- --test` to run each once). They replace the old
//! `putbench`, `getbench` and `scanbench` examples; `fasty-bench storage`
//! remains the engine-against-peers comparison.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use fasty_storage::{Engine, IoBackend, Options, WriteBatch};

/// Keys in the get and scan data sets (the old examples used 1M; fewer
/// keep the set-up of a `cargo bench` run short, and still spill out of
/// the memtable into tables).
const KEYS: u64 = 200_000;
/// Bytes per value in the put and get benchmarks.
const VALUE_BYTES: usize = 100;
/// Sources the scan data set is spread over: level 1, two level-0 tables
/// and the memtable.
const SOURCES: u64 = 4;

/// xorshift64: a fast, deterministic stream of pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `0..n` in a shuffled order.
    fn permutation(&mut self, n: u64) -> Vec<u64> {
        let mut order: Vec<u64> = (0..n).collect();
        for i in (1..order.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            order.swap(i, j);
        }
        order
    }
}

/// Key `i` of the put and get data sets: `2i` in 16 bytes, so the odd
/// numbers between two keys are absent.
fn key(i: u64) -> [u8; 16] {
    u128::from(i * 2).to_be_bytes()
}

/// 100 incompressible bytes.
fn value(rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::with_capacity(VALUE_BYTES + 8);
    while v.len() < VALUE_BYTES {
        v.extend_from_slice(&rng.next().to_le_bytes());
    }
    v.truncate(VALUE_BYTES);
    v
}

/// An engine in a fresh temporary directory (kept alive by the returned
/// guard) on the std backend with a 256 MiB block cache.
fn open(background: bool) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut opts = Options::default();
    opts.io = IoBackend::Std;
    opts.block_cache_budget = 256 << 20;
    opts.background = background;
    let engine = Engine::open(dir.path(), opts).expect("open engine");
    (dir, engine)
}

/// One key per write batch, one batch per `apply`, into an engine that
/// keeps growing across iterations (flushes and compactions run in the
/// background as they would in use).
fn puts(c: &mut Criterion) {
    let mut g = c.benchmark_group("put");
    g.throughput(Throughput::Elements(1));
    let val = value(&mut Rng(0x9e37_79b9_7f4a_7c15));
    for order in ["sequential", "random"] {
        let (_dir, engine) = open(true);
        let mut i = 0u64;
        g.bench_function(order, |b| {
            b.iter(|| {
                // Random: a scrambled high half (multiplying by an odd
                // constant is a bijection) over `i`, so keys never repeat.
                let k = if order == "random" {
                    (u128::from(i.wrapping_mul(0x9e37_79b9_7f4a_7c15)) << 64) | u128::from(i)
                } else {
                    u128::from(i)
                };
                let mut batch = WriteBatch::new();
                batch.put(k.to_be_bytes(), &val);
                i += 1;
                engine.apply(&batch, i).expect("apply");
            });
        });
        engine.close().expect("close");
    }
    g.finish();
}

/// Point gets of present keys (random order) and of absent keys between
/// them, after the whole set was compacted into tables.
fn gets(c: &mut Criterion) {
    let (_dir, engine) = open(true);
    let mut rng = Rng(12345);
    for (seqno, i) in rng.permutation(KEYS).into_iter().enumerate() {
        let mut batch = WriteBatch::new();
        batch.put(key(i), value(&mut rng));
        engine.apply(&batch, seqno as u64 + 1).expect("apply");
    }
    engine.compact().expect("compact");
    let order = Rng(0x9e37_79b9_7f4a_7c15).permutation(KEYS);
    let mut g = c.benchmark_group("get");
    g.throughput(Throughput::Elements(1));
    for (name, offset) in [("hit", 0u128), ("miss", 1)] {
        let mut n = 0usize;
        g.bench_function(name, |b| {
            b.iter(|| {
                let k = u128::from_be_bytes(key(order[n % order.len()])) + offset;
                n += 1;
                let found = engine.get(&k.to_be_bytes()).expect("get");
                assert_eq!(found.is_some(), offset == 0, "key {k}");
                black_box(found)
            });
        });
    }
    g.finish();
    engine.close().expect("close");
}

/// Key of row `pk` in the scan data set: the query layer's row key shape,
/// `[table id u32][pk u64]`.
fn row_key(pk: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&4u32.to_be_bytes());
    k[4..].copy_from_slice(&pk.to_be_bytes());
    k
}

/// A 60-byte row that compresses about as well as the query layer's rows.
fn row(rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::with_capacity(60);
    v.extend_from_slice(&(rng.next() % 100).to_le_bytes());
    v.extend_from_slice(&rng.next().to_le_bytes()[..6]);
    v.extend_from_slice(b"user-name-");
    v.extend_from_slice(format!("{:010}", rng.next() % 1_000_000).as_bytes());
    v.resize(60, b'.');
    v
}

/// Which source (0: compacted to level 1, 1 and 2: level-0 tables, 3: the
/// memtable) row `pk` goes to. Interleaved: neighbouring keys in different
/// sources, so a scan's merge switches source at almost every row;
/// sequential: each source holds a contiguous quarter.
fn source_of(pk: u64, interleaved: bool) -> u64 {
    if interleaved {
        pk.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 62
    } else {
        pk * SOURCES / KEYS
    }
}

/// An engine without background work holding the scan data set.
fn scan_store(interleaved: bool) -> (tempfile::TempDir, Engine) {
    let (dir, engine) = open(false);
    let mut rng = Rng(12345);
    let mut seqno = 0;
    for source in 0..SOURCES {
        let mut batch = WriteBatch::new();
        for pk in (0..KEYS).filter(|&pk| source_of(pk, interleaved) == source) {
            batch.put(row_key(pk), row(&mut rng));
            if batch.len() == 100 {
                seqno += 1;
                engine.apply(&batch, seqno).expect("apply");
                batch = WriteBatch::new();
            }
        }
        seqno += 1;
        engine.apply(&batch, seqno).expect("apply");
        match source {
            0 => engine.compact().expect("compact"),
            s if s + 1 < SOURCES => engine.flush().expect("flush"),
            _ => {}
        }
    }
    (dir, engine)
}

/// Reads over the four-source data set, in both layouts.
fn scans(c: &mut Criterion) {
    let order = Rng(0x9e37_79b9_7f4a_7c15).permutation(KEYS);
    for layout in ["interleaved", "sequential"] {
        let (_dir, engine) = scan_store(layout == "interleaved");
        let mut g = c.benchmark_group(format!("scan/{layout}"));
        g.sample_size(10);
        g.throughput(Throughput::Elements(KEYS));
        g.bench_function("iterator", |b| {
            b.iter(|| {
                let (mut n, mut bytes) = (0u64, 0usize);
                for pair in engine.scan(..) {
                    let (k, v) = pair.expect("scan");
                    n += 1;
                    bytes += k.len() + v.len();
                }
                assert_eq!(n, KEYS, "the scan sees every row");
                black_box(bytes)
            });
        });
        g.bench_function("visit", |b| {
            b.iter(|| {
                let (mut n, mut young) = (0u64, 0u64);
                engine
                    .snapshot()
                    .scan(..)
                    .visit(|_k, v| {
                        n += 1;
                        young += u64::from(v[0] < 50);
                        true
                    })
                    .expect("visit");
                assert_eq!(n, KEYS, "visit sees every row");
                black_box(young)
            });
        });
        g.throughput(Throughput::Elements(1));
        let mut n = 0usize;
        g.bench_function("get", |b| {
            b.iter(|| {
                let pk = order[n % order.len()];
                n += 1;
                black_box(engine.get(&row_key(pk)).expect("get").expect("present"))
            });
        });
        // One pair per range: `row_key(pk)` up to its successor, the shape
        // of the query layer's index probe.
        let snap = engine.snapshot();
        g.bench_function(BenchmarkId::new("prefix", "one pair"), |b| {
            b.iter(|| {
                let pk = order[n % order.len()];
                n += 1;
                let mut hits = 0u32;
                snap.scan(row_key(pk)..row_key(pk + 1))
                    .visit(|_k, _v| {
                        hits += 1;
                        false
                    })
                    .expect("short scan");
                assert_eq!(hits, 1, "row {pk}");
            });
        });
        drop(snap);
        g.finish();
        engine.close().expect("close");
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = puts, gets, scans
}
criterion_main!(benches);
