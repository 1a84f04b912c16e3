//! A snapshot's private writes (a transaction's): every read through the
//! snapshot sees them as the newest versions, in memtables and tables
//! alike, while nobody else does; `private_writes` hands them back as one
//! batch; `written_after` finds a version newer than a snapshot wherever
//! it lies.

use fasty_storage::{Engine, Options, WriteBatch};

fn apply(engine: &Engine, seqno: u64, ops: &[(&str, Option<&str>)]) {
    let mut b = WriteBatch::new();
    for (k, v) in ops {
        match v {
            Some(v) => b.put(k.as_bytes(), v.as_bytes()),
            None => b.delete(k.as_bytes()),
        }
    }
    engine.apply(&b, seqno).unwrap();
}

fn pairs(scan: fasty_storage::Scan) -> Vec<(String, String)> {
    scan.map(|r| {
        let (k, v) = r.unwrap();
        (
            String::from_utf8(k.to_vec()).unwrap(),
            String::from_utf8(v.to_vec()).unwrap(),
        )
    })
    .collect()
}

fn owned(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn private_writes_are_seen_through_the_snapshot_alone() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Options::default().with_background(false)).unwrap();
    apply(
        &engine,
        1,
        &[("a", Some("a1")), ("b", Some("b1")), ("c", Some("c1"))],
    );
    engine.compact().unwrap();
    apply(&engine, 2, &[("d", Some("d2"))]);
    let mut snap = engine.snapshot();
    // Later writes by others are invisible to the snapshot.
    apply(&engine, 3, &[("e", Some("e3")), ("a", Some("a3"))]);

    let mut own = WriteBatch::new();
    own.put(&b"b"[..], &b"mine"[..]);
    own.delete(&b"c"[..]);
    own.put(&b"bb"[..], &b"new"[..]);
    own.delete(&b"d"[..]);
    snap.write_private(&own);
    // A second write of a key replaces the first.
    let mut again = WriteBatch::new();
    again.put(&b"bb"[..], &b"newer"[..]);
    snap.write_private(&again);

    let want = owned(&[("a", "a1"), ("b", "mine"), ("bb", "newer")]);
    assert_eq!(pairs(snap.scan(..)), want);
    let mut rev = want.clone();
    rev.reverse();
    assert_eq!(pairs(snap.scan_rev(..)), rev);
    assert_eq!(snap.get(b"b").unwrap().as_deref(), Some(&b"mine"[..]));
    assert_eq!(snap.get(b"c").unwrap(), None);
    assert_eq!(snap.get(b"d").unwrap(), None);
    assert_eq!(snap.get(b"e").unwrap(), None);
    assert!(snap.with_ref(b"c", |r| r.is_none()).unwrap());
    // Nobody else sees them.
    assert_eq!(
        pairs(engine.scan(..)),
        owned(&[
            ("a", "a3"),
            ("b", "b1"),
            ("c", "c1"),
            ("d", "d2"),
            ("e", "e3")
        ])
    );
    let other = engine.snapshot();
    assert_eq!(other.get(b"bb").unwrap(), None);

    // Handed back as one batch, a version per key, keys ascending.
    let batch = snap.private_writes();
    let ops: Vec<String> = batch
        .iter()
        .map(|op| match op {
            fasty_storage::BatchOp::Put(k, v) => format!(
                "put {} {}",
                String::from_utf8_lossy(k),
                String::from_utf8_lossy(v)
            ),
            fasty_storage::BatchOp::Delete(k) => format!("del {}", String::from_utf8_lossy(k)),
        })
        .collect();
    assert_eq!(ops, ["put b mine", "put bb newer", "del c", "del d"]);
    assert!(snap.private_bytes() > 0);
    snap.clear_private();
    assert_eq!(snap.get(b"b").unwrap().as_deref(), Some(&b"b1"[..]));
    assert!(snap.private_writes().is_empty());
}

#[test]
fn written_after_finds_newer_versions_in_memtables_and_tables() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Options::default().with_background(false)).unwrap();
    apply(&engine, 1, &[("a", Some("1")), ("b", Some("1"))]);
    engine.flush().unwrap();
    apply(&engine, 2, &[("c", Some("2"))]);
    let snap = engine.snapshot();
    assert_eq!(snap.seqno(), 2);
    for k in ["a", "b", "c", "zz"] {
        assert!(!engine.written_after(k.as_bytes(), 2).unwrap(), "{k}");
    }
    apply(&engine, 3, &[("a", Some("3"))]);
    apply(&engine, 4, &[("b", None)]);
    assert!(engine.written_after(b"a", 2).unwrap());
    assert!(
        engine.written_after(b"b", 2).unwrap(),
        "a tombstone is a write"
    );
    assert!(!engine.written_after(b"c", 2).unwrap());
    assert!(!engine.written_after(b"a", 3).unwrap());
    // The same once the versions are in tables, compacted while the
    // snapshot holds the old ones.
    engine.flush().unwrap();
    assert!(engine.written_after(b"a", 2).unwrap());
    engine.compact().unwrap();
    assert!(engine.written_after(b"a", 2).unwrap());
    assert!(engine.written_after(b"b", 2).unwrap());
    assert!(!engine.written_after(b"c", 2).unwrap());
    assert_eq!(snap.get(b"a").unwrap().as_deref(), Some(&b"1"[..]));
    assert_eq!(snap.get(b"b").unwrap().as_deref(), Some(&b"1"[..]));
}

#[test]
fn compaction_keeps_one_version_per_snapshot_not_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), Options::default().with_background(false)).unwrap();
    apply(&engine, 1, &[("k", Some("v1"))]);
    let old = engine.snapshot();
    for seqno in 2..=200u64 {
        apply(&engine, seqno, &[("k", Some(&format!("v{seqno}")))]);
        if seqno % 50 == 0 {
            engine.flush().unwrap();
        }
    }
    engine.compact().unwrap();
    let stats = engine.stats();
    let tables: usize = stats.levels.iter().map(|l| l.files).sum();
    assert_eq!(tables, 1);
    // The old snapshot still reads its version, the engine the newest;
    // the 198 versions between were dropped: two versions are left.
    assert_eq!(old.get(b"k").unwrap().as_deref(), Some(&b"v1"[..]));
    assert_eq!(engine.get(b"k").unwrap().as_deref(), Some(&b"v200"[..]));
    let bytes: u64 = stats.levels.iter().map(|l| l.bytes).sum();
    drop(old);
    engine.compact().unwrap();
    let alone: u64 = engine.stats().levels.iter().map(|l| l.bytes).sum();
    assert!(
        bytes < alone + 200,
        "two versions take about one more than one ({bytes} against {alone} bytes)"
    );
}
