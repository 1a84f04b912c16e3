//! Point-lookup profile harness: loads 1M keys (16-byte keys, 100 random,
//! incompressible bytes per value, like the real benchmark), compacts them
//! into SSTs, then times rounds of 1M gets of present keys in random order.
//!
//! `cargo build --release -p fasty-storage --example getbench &&
//!  rm -rf /tmp/gb && target/release/examples/getbench /tmp/gb [rounds]`
//!
//! An existing directory is reused (no load), so a second run times reads
//! of the same tables.

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

/// Key `i` of the data set: even numbers, so odd ones are absent.
fn key(i: u64) -> [u8; 16] {
    u128::from(i * 2).to_be_bytes()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "/tmp/getbench".into());
    let rounds: usize = args
        .next()
        .map(|r| r.parse().expect("rounds must be a number"))
        .unwrap_or(3);
    let n: u64 = 1_000_000;
    let build = !std::path::Path::new(&dir).join("MANIFEST").exists();
    let e = Engine::open(
        &dir,
        Options::default()
            .with_io(IoBackend::Std)
            .with_block_cache_budget(256 << 20),
    )
    .expect("open engine");
    if build {
        let mut rng = Rng(12345);
        let t = Instant::now();
        for i in 0..n {
            // Insert in a scrambled order: 2654435761 is coprime with n, so
            // this visits every key of 0..n once.
            let k = (i * 2_654_435_761) % n;
            let mut value = Vec::with_capacity(100);
            while value.len() < 100 {
                value.extend_from_slice(&rng.next().to_le_bytes());
            }
            value.truncate(100);
            let mut b = WriteBatch::new();
            b.put(key(k), value);
            e.apply(&b, i + 1).expect("apply");
        }
        e.compact().expect("compact");
        println!("loaded {n} keys in {:.1?}", t.elapsed());
    }
    // Random order, every key present: a shuffled permutation of 0..n.
    let mut order: Vec<u64> = (0..n).collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in (1..order.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    let keys: Vec<[u8; 16]> = order.iter().map(|&i| key(i)).collect();
    for round in 0..rounds {
        let t = Instant::now();
        let mut found = 0u64;
        for k in &keys {
            if e.get(k).expect("get").is_some() {
                found += 1;
            }
        }
        let dt = t.elapsed();
        println!(
            "round {round}: {found} found, {:.0} gets/s",
            n as f64 / dt.as_secs_f64()
        );
    }
    println!("{:?}", e.stats().levels);
}
