//! A lost manifest: open refuses and changes nothing; `rebuild_manifest`
//! rebuilds it from the table files so that every key reads as before.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fasty_storage::repair::{LOST_AND_FOUND, rebuild_manifest};
use fasty_storage::{Engine, Error, Options, Seqno, WriteBatch};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

/// Small memtables, tables and level budgets so that a few thousand
/// writes make several flushes and compactions into several levels.
fn options() -> Options {
    Options::default()
        .with_memtable_budget(4 << 10)
        .with_block_size(256)
        .with_target_file_size(4 << 10)
        .with_level1_budget(12 << 10)
        .with_l0_compaction_trigger(3)
        .with_background(false)
        .with_block_cache_budget(0)
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn key(i: u64) -> Vec<u8> {
    format!("key{i:05}").into_bytes()
}

/// Writes `batches` random batches of puts (many overwrites) and deletes
/// over 400 keys, flushing now and then; returns the model and the last
/// sequence number. The engine is closed (everything flushed).
fn build(dir: &Path, seed: u64, batches: u64) -> (Model, Seqno) {
    let engine = Engine::open(dir, options()).expect("open");
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut model = Model::new();
    for seqno in 1..=batches {
        let mut b = WriteBatch::new();
        for _ in 0..1 + rng.below(4) {
            let k = key(rng.below(400));
            if rng.below(5) == 0 {
                b.delete(k.clone());
                model.remove(&k);
            } else {
                let v = format!("v{seqno}-{}", "x".repeat(rng.below(60) as usize)).into_bytes();
                b.put(k.clone(), v.clone());
                model.insert(k, v);
            }
        }
        engine.apply(&b, seqno).expect("apply");
        if rng.below(60) == 0 {
            engine.flush().expect("flush");
        }
    }
    let levels = engine.stats().levels;
    let used = levels.iter().filter(|l| l.files > 0).count();
    assert!(used >= 2, "data in one level only: {levels:?}");
    engine.close().expect("close");
    (model, batches)
}

/// Every file under `dir` with its contents, sorted (LOCK excluded: the
/// engine may create it).
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().is_some_and(|n| n != "LOCK") {
                let bytes = std::fs::read(&p).expect("read");
                out.push((p, bytes));
            }
        }
    }
    out.sort();
    out
}

fn ssts(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = files(dir)
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| p.parent() == Some(dir) && p.extension().is_some_and(|e| e == "sst"))
        .collect();
    v.sort();
    v
}

/// Checks every key of 0..400 with `get` and the whole content with a scan.
fn check(engine: &Engine, model: &Model, what: &str) {
    for i in 0..400 {
        let k = key(i);
        assert_eq!(
            engine.get(&k).expect("get").map(|v| v.to_vec()),
            model.get(&k).cloned(),
            "{what}: key {i}"
        );
    }
    let scanned: Model = engine
        .scan(..)
        .map(|r| {
            let (k, v) = r.expect("scan");
            (k.to_vec(), v.to_vec())
        })
        .collect();
    assert_eq!(&scanned, model, "{what}: scan");
}

fn assert_missing_manifest(dir: &Path) {
    match Engine::open(dir, options()) {
        Err(e @ Error::MissingManifest { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&dir.display().to_string()), "{msg}");
            assert!(msg.contains("fasty admin repair"), "{msg}");
        }
        Err(other) => panic!("expected a missing manifest, got {other}"),
        Ok(_) => panic!("opened without a manifest"),
    }
}

#[test]
fn without_a_manifest_open_refuses_and_repair_rebuilds_every_key() {
    for seed in 1..=6 {
        let dir = tempfile::tempdir().expect("tempdir");
        let (model, last) = build(dir.path(), seed, 2500);
        std::fs::remove_file(dir.path().join("MANIFEST")).expect("remove manifest");
        let before = files(dir.path());
        assert!(!ssts(dir.path()).is_empty());
        assert_missing_manifest(dir.path());
        // Twice: a refused open leaves the directory as it was.
        assert_missing_manifest(dir.path());
        assert_eq!(files(dir.path()), before, "seed {seed}: open changed files");

        let report = rebuild_manifest(dir.path(), options()).expect("rebuild");
        assert!(report.rebuilt, "seed {seed}");
        assert!(report.moved_aside.is_empty(), "seed {seed}: {report}");
        assert_eq!(report.flushed_seqno, last, "seed {seed}");
        for round in 0..2 {
            let engine = Engine::open(dir.path(), options()).expect("open after repair");
            assert_eq!(engine.flushed_seqno(), last);
            assert_eq!(engine.last_seqno(), last);
            check(&engine, &model, &format!("seed {seed} round {round}"));
            engine.close().expect("close");
        }
        // A sound manifest is left alone.
        let again = rebuild_manifest(dir.path(), options()).expect("second rebuild");
        assert!(!again.rebuilt);
    }
}

#[test]
fn disjoint_tables_are_kept_as_they_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = || options().with_l0_compaction_trigger(10);
    let engine = Engine::open(dir.path(), opts()).expect("open");
    let mut model = Model::new();
    for (seqno, prefix) in [(1, "a"), (2, "b"), (3, "c")] {
        let mut b = WriteBatch::new();
        for i in 0..20 {
            let (k, v) = (format!("{prefix}{i:03}").into_bytes(), vec![b'v'; 30]);
            b.put(k.clone(), v.clone());
            model.insert(k, v);
        }
        engine.apply(&b, seqno).expect("apply");
        engine.flush().expect("flush");
    }
    engine.close().expect("close");
    let tables = ssts(dir.path());
    std::fs::remove_file(dir.path().join("MANIFEST")).expect("remove manifest");
    let report = rebuild_manifest(dir.path(), opts()).expect("rebuild");
    assert!(report.rebuilt && !report.merged, "{report}");
    assert_eq!(report.tables, 3);
    assert_eq!(ssts(dir.path()), tables, "tables rewritten");
    let engine = Engine::open(dir.path(), opts()).expect("open");
    assert_eq!(engine.stats().levels[1].files, 3);
    let scanned: Model = engine
        .scan(..)
        .map(|r| r.map(|(k, v)| (k.to_vec(), v.to_vec())).expect("scan"))
        .collect();
    assert_eq!(scanned, model);
}

#[test]
fn a_damaged_table_is_moved_aside_and_the_rest_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(dir.path(), options()).expect("open");
    for (seqno, prefix) in [(1u64, "a"), (2, "b")] {
        let mut b = WriteBatch::new();
        for i in 0..50 {
            b.put(format!("{prefix}{i:03}").into_bytes(), vec![b'v'; 40]);
        }
        engine.apply(&b, seqno).expect("apply");
        engine.flush().expect("flush");
    }
    engine.close().expect("close");
    let tables = ssts(dir.path());
    assert_eq!(tables.len(), 2);
    // The second flush ("b" keys, seqno 2): damage its first data block.
    let bad = &tables[1];
    let mut bytes = std::fs::read(bad).expect("read");
    bytes[10] ^= 0x55;
    std::fs::write(bad, &bytes).expect("write");
    std::fs::remove_file(dir.path().join("MANIFEST")).expect("remove manifest");
    assert_missing_manifest(dir.path());

    let report = rebuild_manifest(dir.path(), options()).expect("rebuild");
    assert_eq!(report.tables, 1);
    assert_eq!(report.flushed_seqno, 1, "the sound table's highest");
    assert_eq!(report.moved_aside.len(), 1, "{report}");
    let moved = &report.moved_aside[0];
    assert_eq!(&moved.from, bad);
    assert_eq!(
        moved.to,
        dir.path()
            .join(LOST_AND_FOUND)
            .join(bad.file_name().expect("name"))
    );
    assert!(moved.reason.contains("data block"), "{}", moved.reason);
    assert_eq!(std::fs::read(&moved.to).expect("moved file"), bytes);
    let engine = Engine::open(dir.path(), options()).expect("open");
    assert_eq!(engine.flushed_seqno(), 1);
    assert_eq!(engine.scan(..).count(), 50);
    assert!(engine.get(b"a000").expect("get").is_some());
    assert!(engine.get(b"b000").expect("get").is_none());
}

#[test]
fn an_empty_directory_still_becomes_an_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(dir.path(), options()).expect("open");
    engine.close().expect("close");
    assert!(dir.path().join("MANIFEST").exists());
    // A directory that does not exist yet, too.
    let sub = dir.path().join("new");
    Engine::open(&sub, options())
        .expect("open new")
        .close()
        .expect("close");
    assert!(sub.join("MANIFEST").exists());
}

#[test]
fn an_unfinished_first_manifest_write_is_removed() {
    for content in [&b""[..], b"FSTYMANI\x01\x00", b"garbage"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let tmp = dir.path().join("MANIFEST.tmp");
        std::fs::write(&tmp, content).expect("write");
        let engine = Engine::open(dir.path(), options()).expect("open");
        engine.close().expect("close");
        assert!(!tmp.exists());
        assert!(dir.path().join("MANIFEST").exists());
    }
}

#[test]
fn a_manifest_tmp_listing_tables_is_not_taken_for_a_new_engine() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (model, last) = build(dir.path(), 9, 800);
    let manifest = dir.path().join("MANIFEST");
    std::fs::rename(&manifest, dir.path().join("MANIFEST.tmp")).expect("rename");
    // Even with the tables gone elsewhere, the tmp names them.
    let away = tempfile::tempdir().expect("tempdir");
    for t in ssts(dir.path()) {
        std::fs::rename(&t, away.path().join(t.file_name().expect("name"))).expect("move");
    }
    let before = files(dir.path());
    assert_missing_manifest(dir.path());
    assert_eq!(files(dir.path()), before);
    // Tables back: repair moves the tmp aside and rebuilds.
    for t in ssts(away.path()) {
        std::fs::rename(&t, dir.path().join(t.file_name().expect("name"))).expect("move");
    }
    let report = rebuild_manifest(dir.path(), options()).expect("rebuild");
    assert_eq!(report.moved_aside.len(), 1, "{report}");
    assert!(
        dir.path()
            .join(LOST_AND_FOUND)
            .join("MANIFEST.tmp")
            .exists()
    );
    let engine = Engine::open(dir.path(), options()).expect("open");
    assert_eq!(engine.flushed_seqno(), last);
    check(&engine, &model, "after repair");
}

#[test]
fn an_unreadable_manifest_is_moved_aside_and_rebuilt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (model, last) = build(dir.path(), 11, 800);
    let manifest = dir.path().join("MANIFEST");
    let mut bytes = std::fs::read(&manifest).expect("read");
    let n = bytes.len() - 1;
    bytes[n] ^= 1;
    std::fs::write(&manifest, &bytes).expect("write");
    assert!(matches!(
        Engine::open(dir.path(), options()),
        Err(Error::Corruption { .. })
    ));
    let report = rebuild_manifest(dir.path(), options()).expect("rebuild");
    assert!(report.rebuilt);
    assert_eq!(
        std::fs::read(dir.path().join(LOST_AND_FOUND).join("MANIFEST")).expect("saved"),
        bytes
    );
    let engine = Engine::open(dir.path(), options()).expect("open");
    assert_eq!(engine.flushed_seqno(), last);
    check(&engine, &model, "after repair");
}

/// Sequence ranges do not order tables of different levels: here a
/// level-2 table holds an old version of `m000` (seqno 1) and versions up
/// to seqno 122 of other keys, while level 1 holds the newer `m000`
/// (seqno 2). Taking the tables newest-first by their highest sequence
/// number would read the old `m000`; the rebuild must not.
#[test]
fn a_deeper_table_with_newer_other_keys_does_not_shadow_a_newer_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = || {
        options()
            .with_l0_compaction_trigger(1)
            .with_level1_budget(16 << 10)
            .with_target_file_size(1 << 30)
    };
    let engine = Engine::open(dir.path(), opts()).expect("open");
    let mut b = WriteBatch::new();
    for c in 'a'..='z' {
        for i in 0..20 {
            b.put(format!("{c}{i:03}").into_bytes(), vec![b'1'; 50]);
        }
    }
    engine.apply(&b, 1).expect("apply");
    engine.flush().expect("flush");
    let mut b = WriteBatch::new();
    b.put(&b"m000"[..], &b"new"[..]);
    engine.apply(&b, 2).expect("apply");
    engine.flush().expect("flush");
    let mut seqno = 3;
    for c in 'a'..='c' {
        for i in 0..40 {
            let mut b = WriteBatch::new();
            b.put(format!("{c}{i:03}").into_bytes(), vec![b'3'; 200]);
            engine.apply(&b, seqno).expect("apply");
            seqno += 1;
        }
    }
    engine.flush().expect("flush");
    let files: Vec<usize> = engine.stats().levels.iter().map(|l| l.files).collect();
    assert_eq!(files[..3], [0, 1, 1], "not the layout this test needs");
    assert_eq!(
        engine.get(b"m000").expect("get").as_deref(),
        Some(&b"new"[..])
    );
    engine.close().expect("close");

    std::fs::remove_file(dir.path().join("MANIFEST")).expect("remove manifest");
    // Options under which level 0 is not compacted on its own.
    let lazy = || opts().with_l0_compaction_trigger(10);
    let report = rebuild_manifest(dir.path(), lazy()).expect("rebuild");
    assert!(report.merged, "{report}");
    assert_eq!(report.flushed_seqno, seqno - 1);
    let engine = Engine::open(dir.path(), lazy()).expect("open");
    assert_eq!(
        engine.get(b"m000").expect("get").as_deref(),
        Some(&b"new"[..])
    );
    assert_eq!(
        engine.get(b"a000").expect("get").as_deref(),
        Some(&[b'3'; 200][..])
    );
    assert_eq!(
        engine.get(b"z019").expect("get").as_deref(),
        Some(&[b'1'; 50][..])
    );
    assert_eq!(engine.scan(..).count(), 26 * 20 + 60);
}
