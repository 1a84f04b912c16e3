//! Readers racing a writer and the background threads: every batch is seen
//! whole or not at all, by scans, snapshots and point reads, while memtables
//! are frozen, flushed and compacted underneath them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fasty_storage::{Engine, Options, WriteBatch};

const ACCOUNTS: u64 = 16;
const TOTAL: u64 = ACCOUNTS * 1000;

fn account(i: u64) -> Vec<u8> {
    format!("acct{i:02}").into_bytes()
}

fn balance(v: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(v);
    u64::from_be_bytes(b)
}

#[test]
fn transfers_are_atomic_for_every_reader() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options::default()
        .with_memtable_budget(16 << 10)
        .with_block_size(512)
        .with_l0_compaction_trigger(2)
        .with_level1_budget(64 << 10)
        .with_target_file_size(32 << 10);
    let engine = Arc::new(Engine::open(dir.path(), opts).expect("open"));
    let mut seqno = 1;
    let mut init = WriteBatch::new();
    for i in 0..ACCOUNTS {
        init.put(account(i), (TOTAL / ACCOUNTS).to_be_bytes());
    }
    engine.apply(&init, seqno).expect("init");

    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|r| {
            let (engine, done) = (engine.clone(), done.clone());
            std::thread::spawn(move || {
                let mut checks = 0u64;
                while !done.load(Ordering::Acquire) || checks < 50 {
                    let range = &b"acct"[..]..&b"acct~"[..];
                    let scanned: u64 = if r == 0 {
                        engine
                            .scan(range)
                            .map(|kv| balance(&kv.expect("scan").1))
                            .sum()
                    } else {
                        engine
                            .scan_rev(range)
                            .map(|kv| balance(&kv.expect("scan").1))
                            .sum()
                    };
                    assert_eq!(scanned, TOTAL, "a scan saw half a transfer");
                    let snap = engine.snapshot();
                    let by_get: u64 = (0..ACCOUNTS)
                        .map(|i| balance(&snap.get(&account(i)).expect("get").expect("present")))
                        .sum();
                    assert_eq!(by_get, TOTAL, "snapshot gets saw half a transfer");
                    checks += 1;
                }
                checks
            })
        })
        .collect();

    let mut balances = vec![TOTAL / ACCOUNTS; ACCOUNTS as usize];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for n in 0..4000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let (a, b) = ((x % ACCOUNTS) as usize, ((x >> 8) % ACCOUNTS) as usize);
        let amount = (x >> 16) % 50;
        if a == b || balances[a] < amount {
            continue;
        }
        balances[a] -= amount;
        balances[b] += amount;
        let mut batch = WriteBatch::new();
        batch.put(account(a as u64), balances[a].to_be_bytes());
        batch.put(account(b as u64), balances[b].to_be_bytes());
        // Filler so memtables fill up and flushes and compactions run.
        batch.put(format!("fill{n:06}").into_bytes(), vec![0u8; 64]);
        seqno += 1;
        engine.apply(&batch, seqno).expect("apply");
    }
    done.store(true, Ordering::Release);
    for r in readers {
        assert!(r.join().expect("reader panicked") >= 50);
    }
    let stats = engine.stats();
    assert!(
        stats.flushes > 3 && stats.compactions > 0,
        "background work ran: {stats:?}"
    );
    for (i, expected) in balances.iter().enumerate() {
        let got = engine
            .get(&account(i as u64))
            .expect("get")
            .expect("present");
        assert_eq!(balance(&got), *expected);
    }
}

/// `flush` (what a log checkpoint runs) under a writer that keeps filling
/// memtables: it covers what was written before the call and returns
/// while the writer goes on, rather than chasing the memtables frozen
/// meanwhile until the writer stops. With the background threads, as
/// here; with `background: false` (tests only) the inline flushes and
/// compactions do chase a writer that never pauses.
#[test]
fn flush_returns_while_a_writer_keeps_writing() {
    const CAP: u64 = 20_000_000;
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options::default()
        .with_memtable_budget(16 << 10)
        .with_block_size(512);
    let engine = Arc::new(Engine::open(dir.path(), opts).expect("open"));
    let applied = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (engine, applied, stop) = (engine.clone(), applied.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut seqno = 0;
            while seqno < CAP && !stop.load(Ordering::Relaxed) {
                seqno += 1;
                let mut b = WriteBatch::new();
                b.put(format!("k{:08}", seqno % 100_000).into_bytes(), [7u8; 40]);
                engine.apply(&b, seqno).expect("apply");
                applied.store(seqno, Ordering::Release);
            }
            seqno
        })
    };
    while applied.load(Ordering::Acquire) < 1000 {
        std::thread::yield_now();
    }
    for _ in 0..5 {
        let before = applied.load(Ordering::Acquire);
        engine.flush().expect("flush");
        assert!(
            engine.flushed_seqno() >= before,
            "flush returned at {} with {before} applied before it began",
            engine.flushed_seqno()
        );
    }
    let still_writing = !writer.is_finished();
    stop.store(true, Ordering::Relaxed);
    let written = writer.join().expect("writer");
    assert!(
        still_writing,
        "the flushes returned only after the writer's last write ({written})"
    );
}
