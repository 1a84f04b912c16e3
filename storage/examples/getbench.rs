use fasty_storage::{Engine, IoBackend, Options, WriteBatch};
use std::time::Instant;
fn main() {
    let dir = std::env::args().nth(1).unwrap_or("/tmp/getbench".into());
    let n: u64 = 1_000_000;
    let build = !std::path::Path::new(&dir).join("MANIFEST").exists();
    let e = Engine::open(
        &dir,
        Options {
            io: IoBackend::Std,
            block_cache_budget: 256 << 20,
            ..Options::default()
        },
    )
    .unwrap();
    if build {
        let mut x = 12345u64;
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = ((i * 2654435761) % n * 2) as u128;
            let mut b = WriteBatch::new();
            b.put(
                k.to_be_bytes().to_vec(),
                [(x & 0xff) as u8; 100]
                    .iter()
                    .enumerate()
                    .map(|(j, v)| v ^ (x >> (j % 56)) as u8)
                    .collect::<Vec<u8>>(),
            );
            e.apply(b, i + 1).unwrap();
        }
        e.compact().unwrap();
    }
    let keys: Vec<[u8; 16]> = (0..n)
        .map(|i| (((i * 7919) % n) * 2) as u128)
        .map(|k: u128| k.to_be_bytes())
        .collect();
    for round in 0..3 {
        let t = Instant::now();
        let mut found = 0;
        for k in &keys {
            if e.get(k).unwrap().is_some() {
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
