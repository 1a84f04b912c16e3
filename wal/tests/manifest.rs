//! The engine's files under the log: a lost manifest refuses open, changes
//! nothing, is reported by `verify` and rebuilt by `repair` so that the log
//! replays exactly the records after the tables; damaged table blocks are
//! reported by `verify`, each one.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use fasty_storage::io::testing::Torn;
use fasty_wal::{Db, Durability, ProblemKind};

/// Every file under `dir` (LOCK excepted) with its contents, sorted.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "LOCK") {
                let bytes = std::fs::read(&p).unwrap();
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

fn tables(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sst"))
        .collect();
    v.sort();
    v
}

/// 400 batches, checkpoints after 150 and 300 (two tables, older segments
/// removed),
/// then a crash with the last 100 only in the log.
fn build(dir: &Path) -> Model {
    let sim = sim();
    let opts = || options(Durability::Durable, Some(sim.clone()));
    let db = Db::open(dir, opts()).unwrap();
    let mut model = Model::new();
    for n in 0..400 {
        let (b, changes) = make_batch(n, 3);
        db.write(b).unwrap();
        apply_to(&mut model, &changes);
        if n == 149 || n == 299 {
            db.checkpoint().unwrap();
        }
    }
    db.sync().unwrap();
    crash(db, &sim, Torn::DropUnsynced);
    model
}

fn open(dir: &Path) -> fasty_wal::Result<Db> {
    Db::open(dir, options(Durability::Durable, None))
}

#[test]
fn a_lost_manifest_refuses_open_and_repair_rebuilds_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = build(dir.path());
    assert!(!tables(dir.path()).is_empty());
    std::fs::remove_file(dir.path().join("MANIFEST")).unwrap();
    let before = files(dir.path());

    let Err(err) = open(dir.path()) else {
        panic!("opened without a manifest");
    };
    assert_eq!(err.code(), "storage_corruption", "{err}");
    assert!(err.to_string().contains("fasty admin repair"), "{err}");
    assert_eq!(files(dir.path()), before, "a refused open changed files");

    let report = fasty_wal::verify(dir.path()).unwrap();
    assert!(report.blocks_open());
    let storage: Vec<_> = report
        .problems
        .iter()
        .filter(|p| p.kind == ProblemKind::Storage)
        .collect();
    assert_eq!(storage.len(), 1, "{:?}", report.problems);
    assert_eq!(storage[0].path, dir.path().join("MANIFEST"));
    assert_eq!(files(dir.path()), before, "verify changed files");

    let report = fasty_wal::repair(dir.path()).unwrap();
    assert!(report.manifest.rebuilt, "{}", report.manifest);
    assert!(report.manifest.moved_aside.is_empty());
    assert!(report.cut_at.is_none(), "{:?}", report.cut_at);

    let db = open(dir.path()).unwrap();
    assert_eq!(contents(&db), model);
    // Exactly the records after the tables were replayed: none lost, none
    // applied twice.
    let stats = db.stats();
    assert_eq!(stats.replay.records, 400 - report.manifest.flushed_seqno);
    assert!(stats.replay.records >= 100, "{}", stats.replay.records);
    db.close().unwrap();
    assert!(fasty_wal::verify(dir.path()).unwrap().is_clean());
}

#[test]
fn verify_names_each_damaged_table_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(Durability::Durable, None);
    opts.storage.l0_compaction_trigger = 10;
    let db = Db::open(dir.path(), opts).unwrap();
    for n in 0..300 {
        db.write(make_batch(n, 3).0).unwrap();
        if n % 100 == 99 {
            db.checkpoint().unwrap();
        }
    }
    db.close().unwrap();
    assert!(fasty_wal::verify(dir.path()).unwrap().is_clean());
    let ts = tables(dir.path());
    assert!(ts.len() >= 2, "{ts:?}");
    // Damage a byte a third of the way into two tables: data blocks come
    // first, the filter, index and properties at the end.
    let mut flipped = Vec::new();
    for t in [&ts[0], &ts[ts.len() - 1]] {
        let mut b = std::fs::read(t).unwrap();
        let at = b.len() / 3;
        b[at] ^= 0x11;
        std::fs::write(t, &b).unwrap();
        flipped.push((t.clone(), at as u64));
    }
    let report = fasty_wal::verify(dir.path()).unwrap();
    assert!(report.blocks_open());
    assert_eq!(report.problems.len(), 2, "{:?}", report.problems);
    for (p, (path, at)) in report.problems.iter().zip(&flipped) {
        assert_eq!(p.kind, ProblemKind::Storage);
        assert_eq!(&p.path, path);
        assert!(p.offset <= *at && *at < p.offset + 4096, "{p} vs {at}");
        assert!(p.to_string().contains("data block"), "{p}");
    }
}
