//! Scan and point-get profile harness shaped like the query layer's tables:
//! 1M rows with 12-byte keys (`[table id u32 BE][pk u64 BE]`) and 60-byte
//! values, spread over one level-1 table set, two level-0 tables and the
//! memtable, then timed as full forward scans (`Scan` as an iterator, and
//! `Scan::visit`), random gets of present keys, and short prefix scans:
//! random `prefix..successor` ranges holding one pair, read with
//! `Snapshot::scan(..).visit` (the shape of the query layer's index probe).
//!
//! `cargo build --release -p fasty-storage --example scanbench &&
//!  target/release/examples/scanbench [interleaved|sequential] [rounds] [scan|visit|get|short]`
//!
//! `interleaved` (the default) puts consecutive keys in different sources,
//! so the scan's merge switches source at almost every row; `sequential`
//! loads the keys in order, so each source holds one contiguous quarter
//! (the shape of a table filled by ascending primary keys).

use std::time::Instant;

use fasty_storage::{Engine, IoBackend, Options, WriteBatch};

/// xorshift64: a fast, deterministic stream of pseudo-random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const ROWS: u64 = 1_000_000;
const SOURCES: u64 = 4;
/// Short prefix scans timed per round.
const SHORT_SCANS: usize = 300_000;

fn key(pk: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&4u32.to_be_bytes());
    k[4..].copy_from_slice(&pk.to_be_bytes());
    k
}

/// A 60-byte row: a few random "columns" and some repeated text, so blocks
/// compress about as well as real rows do (and go through the cache).
fn value(rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::with_capacity(60);
    v.extend_from_slice(&(rng.next() % 100).to_le_bytes());
    v.extend_from_slice(&rng.next().to_le_bytes()[..6]);
    v.extend_from_slice(b"user-name-");
    v.extend_from_slice(format!("{:010}", rng.next() % 1_000_000).as_bytes());
    while v.len() < 60 {
        v.push(b'.');
    }
    v
}

/// Which source (0 = oldest, compacted to level 1; 3 = the memtable) row
/// `pk` goes to.
fn source_of(pk: u64, interleaved: bool) -> u64 {
    if interleaved {
        pk.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 62
    } else {
        pk * SOURCES / ROWS
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let layout = args.next().unwrap_or_else(|| "interleaved".into());
    let interleaved = match layout.as_str() {
        "interleaved" => true,
        "sequential" => false,
        other => panic!("unknown layout {other:?}: interleaved or sequential"),
    };
    let rounds: usize = args
        .next()
        .map(|r| r.parse().expect("rounds must be a number"))
        .unwrap_or(3);
    // `scan`, `visit`, `get` or `short` times only that (for profiling);
    // anything else all four.
    let only = args.next().unwrap_or_default();
    let all = !["scan", "visit", "get", "short"].contains(&only.as_str());
    let do_scan = all || only == "scan";
    let do_visit = all || only == "visit";
    let do_get = all || only == "get";
    let do_short = all || only == "short";
    let dir = tempfile_dir();
    let e = Engine::open(
        &dir,
        Options::default()
            .with_io(IoBackend::Std)
            .with_block_cache_budget(256 << 20)
            .with_background(false),
    )
    .expect("open engine");
    let t = Instant::now();
    let mut rng = Rng(12345);
    let mut seqno = 0;
    for source in 0..SOURCES {
        let mut b = WriteBatch::new();
        for pk in (0..ROWS).filter(|&pk| source_of(pk, interleaved) == source) {
            b.put(key(pk), value(&mut rng));
            if b.len() == 100 {
                seqno += 1;
                e.apply(&b, seqno).expect("apply");
                b = WriteBatch::new();
            }
        }
        seqno += 1;
        e.apply(&b, seqno).expect("apply");
        match source {
            0 => e.compact().expect("compact"),
            s if s + 1 < SOURCES => e.flush().expect("flush"),
            _ => {}
        }
    }
    let stats = e.stats();
    println!(
        "{layout}: loaded {ROWS} rows in {:.1?}; memtable {} MiB, files per level {:?}",
        t.elapsed(),
        stats.memtable_bytes >> 20,
        stats.levels.iter().map(|l| l.files).collect::<Vec<_>>()
    );

    let mut order: Vec<u64> = (0..ROWS).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in (1..order.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let keys: Vec<[u8; 12]> = order.iter().map(|&pk| key(pk)).collect();

    for round in 0..rounds {
        let t = Instant::now();
        let (mut n, mut bytes) = (0u64, 0usize);
        for pair in e.scan(..).take(if do_scan { usize::MAX } else { 0 }) {
            let (k, v) = pair.expect("scan");
            n += 1;
            bytes += k.len() + v.len();
        }
        let scan = t.elapsed();
        assert!(!do_scan || n == ROWS, "scan saw every row");

        let t = Instant::now();
        let (mut m, mut young) = (0u64, 0u64);
        e.snapshot()
            .scan(..)
            .visit(|_k, v| {
                m += 1;
                young += u64::from(v[0] < 50);
                do_visit
            })
            .expect("visit");
        let visit = t.elapsed();
        assert!(!do_visit || m == ROWS, "visit saw every row");

        let t = Instant::now();
        let mut found = 0u64;
        for k in keys.iter().take(if do_get { usize::MAX } else { 0 }) {
            found += u64::from(e.get(k).expect("get").is_some());
        }
        let gets = t.elapsed();
        assert!(!do_get || found == ROWS, "every get found its row");

        // One pair per range: `key(pk)` is the prefix, `key(pk + 1)` its
        // successor.
        let snap = e.snapshot();
        let t = Instant::now();
        let mut hits = 0u64;
        for &pk in order.iter().take(if do_short { SHORT_SCANS } else { 0 }) {
            snap.scan(key(pk)..key(pk + 1))
                .visit(|_k, _v| {
                    hits += 1;
                    false
                })
                .expect("short scan");
        }
        let short = t.elapsed();
        assert!(
            !do_short || hits == SHORT_SCANS as u64,
            "every short scan found its row"
        );
        drop(snap);
        println!(
            "round {round}: scan {:.0} ns/row ({bytes} B), visit {:.0} ns/row ({young} young), get {:.0} ns/op, short scan {:.0} ns/op",
            scan.as_nanos() as f64 / ROWS as f64,
            visit.as_nanos() as f64 / ROWS as f64,
            gets.as_nanos() as f64 / ROWS as f64,
            short.as_nanos() as f64 / SHORT_SCANS as f64,
        );
    }
    drop(e);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A fresh directory under the system temp dir.
fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fasty-scanbench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
