//! Times random single-put batches into an engine (the write path of
//! `fasty-bench storage` without the peers), for profiling.
//!
//! `cargo run --release -p fasty-storage --example putbench -- [DIR] [KEYS]`

use std::time::Instant;

use fasty_storage::{Engine, IoBackend, Options, WriteBatch};

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "/tmp/putbench".into());
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let _ = std::fs::remove_dir_all(&dir);
    let opts = Options::default().with_io(IoBackend::Std);
    let engine = Engine::open(&dir, opts).expect("open");
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let value: Vec<u8> = (0..100)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let start = Instant::now();
    for i in 0..n {
        // A fixed permutation of 0..n: random order, no duplicates.
        let k = u128::from(i.wrapping_mul(2_654_435_761) % n * 2);
        let mut batch = WriteBatch::new();
        batch.put(k.to_be_bytes(), &value);
        engine.apply(&batch, i + 1).expect("apply");
    }
    let dt = start.elapsed();
    println!("{n} random puts: {:.0} puts/s", n as f64 / dt.as_secs_f64());
    println!("{:?}", engine.stats());
}
