//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fasty_storage::io::std_fs::StdIo;
use fasty_storage::io::testing::{FaultKind, SimIo, Torn};
use fasty_wal::{Db, Durability, Options, WriteBatch};

pub type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// What a batch does to the model: per key, the new value or a deletion.
pub type Changes = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// A crash-simulating backend over real files.
pub fn sim() -> Arc<SimIo> {
    SimIo::new(Arc::new(StdIo::new()))
}

/// Small segments and memtables so that rotation and flushes happen in
/// small tests; no background engine threads, so I/O steps are repeatable.
pub fn options(durability: Durability, io: Option<Arc<SimIo>>) -> Options {
    Options::default()
        .with_durability(durability)
        .with_segment_size(4096)
        .with_storage(
            fasty_storage::Options::default()
                .with_custom_io(io.map(|io| io as Arc<dyn fasty_storage::io::Io>))
                .with_memtable_budget(32 << 10)
                .with_block_size(512)
                .with_background(false),
        )
}

/// Async with an interval long enough that only explicit syncs happen.
pub fn async_manual() -> Durability {
    Durability::Async {
        sync_interval: std::time::Duration::from_secs(3600),
    }
}

/// Simulates a power cut now: every later I/O step of `db` fails (so its
/// drop changes nothing), then the directory is rewritten to its durable
/// image and the simulator re-armed.
pub fn crash(db: Db, sim: &SimIo, torn: Torn) {
    sim.inject(sim.ops(), FaultKind::Crash);
    drop(db);
    sim.restore_durable_image(torn)
        .expect("restore durable image");
    sim.clear_faults();
}

/// Everything in the database, in key order.
pub fn contents(db: &Db) -> Model {
    db.scan(..)
        .map(|r| {
            let (k, v) = r.expect("scan");
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

/// One random-ish batch: a few puts (some overwrites) and a delete, with
/// values naming the batch so a half-applied batch cannot pass for a whole
/// one.
pub fn make_batch(n: u64, ops: usize) -> (WriteBatch, Changes) {
    let mut b = WriteBatch::new();
    let mut changes = Vec::new();
    for j in 0..ops as u64 {
        let k = format!("key{:04}", (n * 31 + j * 17) % 200).into_bytes();
        let v = format!("batch{n}-op{j}-{}", "x".repeat(((n + j) % 40) as usize)).into_bytes();
        b.put(k.clone(), v.clone());
        changes.push((k, Some(v)));
    }
    let d = format!("key{:04}", (n * 7) % 200).into_bytes();
    b.delete(d.clone());
    changes.push((d, None));
    (b, changes)
}

pub fn apply_to(model: &mut Model, changes: &Changes) {
    for (k, v) in changes {
        match v {
            Some(v) => model.insert(k.clone(), v.clone()),
            None => model.remove(k),
        };
    }
}

/// The segment files in `dir/wal`, sorted.
pub fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("wal"))
        .map(|rd| rd.map(|e| e.expect("dir entry").path()).collect())
        .unwrap_or_default();
    v.retain(|p| p.extension().is_some_and(|e| e == "log"));
    v.sort();
    v
}
