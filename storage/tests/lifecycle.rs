//! Engine life-cycle behaviour: file deletion waits for readers, writers
//! stall instead of growing memory, background failures poison, drop and
//! close keep what was written, and misuse is a clear error.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use fasty_storage::io::std_fs::StdIo;
use fasty_storage::io::testing::{FaultKind, SimIo};
use fasty_storage::io::{Io, WritableFile};
use fasty_storage::{Engine, Error, Options, WriteBatch};

fn put(engine: &Engine, seqno: u64, key: &[u8], value: &[u8]) -> fasty_storage::Result<()> {
    let mut b = WriteBatch::new();
    b.put(key, value);
    engine.apply(&b, seqno)
}

fn sst_count(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sst"))
        })
        .count()
}

#[test]
fn compacted_files_stay_until_the_last_iterator_lets_go() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options::default()
        .with_background(false)
        .with_l0_compaction_trigger(100);
    let engine = Engine::open(dir.path(), opts).expect("open");
    let mut seqno = 0;
    for round in 0..3u32 {
        for i in 0..100u32 {
            seqno += 1;
            put(&engine, seqno, &i.to_be_bytes(), &round.to_be_bytes()).expect("put");
        }
        engine.flush().expect("flush");
    }
    assert_eq!(sst_count(dir.path()), 3);
    let mut old = engine.scan(..);
    let first = old.next().expect("one").expect("ok");
    engine.compact().expect("compact");
    // The three inputs are obsolete but the iterator still reads them.
    assert_eq!(sst_count(dir.path()), 4);
    let rest: Vec<_> = old
        .map(|r| r.expect("old iterator keeps working"))
        .collect();
    assert_eq!(rest.len(), 99);
    assert_eq!(first.1.as_ref(), &2u32.to_be_bytes());
    assert!(rest.iter().all(|(_, v)| v.as_ref() == 2u32.to_be_bytes()));
    assert_eq!(
        sst_count(dir.path()),
        1,
        "dropping the iterator deletes the inputs"
    );
}

/// An I/O backend whose fsyncs are slow, so flushing falls behind.
struct SlowIo {
    inner: StdIo,
    delay: Duration,
}

struct SlowFile {
    inner: Box<dyn WritableFile>,
    delay: Duration,
}

impl WritableFile for SlowFile {
    fn append(&mut self, buf: Vec<u8>) -> fasty_storage::Result<()> {
        self.inner.append(buf)
    }
    fn sync(&mut self) -> fasty_storage::Result<()> {
        std::thread::sleep(self.delay);
        self.inner.sync()
    }
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn truncate(&mut self, len: u64) -> fasty_storage::Result<()> {
        self.inner.truncate(len)
    }
}

impl Io for SlowIo {
    fn name(&self) -> &'static str {
        "slow"
    }
    fn create(&self, path: &Path) -> fasty_storage::Result<Box<dyn WritableFile>> {
        Ok(Box::new(SlowFile {
            inner: self.inner.create(path)?,
            delay: self.delay,
        }))
    }
    fn open_append(&self, path: &Path) -> fasty_storage::Result<Box<dyn WritableFile>> {
        self.inner.open_append(path)
    }
    fn read(&self, path: &Path) -> fasty_storage::Result<Vec<u8>> {
        self.inner.read(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> fasty_storage::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> fasty_storage::Result<()> {
        self.inner.remove(path)
    }
    fn sync_dir(&self, dir: &Path) -> fasty_storage::Result<()> {
        self.inner.sync_dir(dir)
    }
    fn create_dir_all(&self, dir: &Path) -> fasty_storage::Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn list(&self, dir: &Path) -> fasty_storage::Result<Vec<PathBuf>> {
        self.inner.list(dir)
    }
}

#[test]
fn writers_stall_instead_of_queueing_unbounded_memtables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let opts = Options::default()
        .with_custom_io(Some(Arc::new(SlowIo {
            inner: StdIo::new(),
            delay: Duration::from_millis(30),
        })))
        .with_memtable_budget(16 << 10)
        .with_max_frozen_memtables(2);
    let engine = Engine::open(dir.path(), opts).expect("open");
    let value = vec![7u8; 200];
    let mut most_frozen = 0;
    for i in 0..3000u64 {
        put(&engine, i + 1, &i.to_be_bytes(), &value).expect("put");
        let stats = engine.stats();
        most_frozen = most_frozen.max(stats.frozen_memtables);
        assert!(
            stats.memtable_bytes < (16 << 10) + 4096,
            "active memtable grew past its budget: {}",
            stats.memtable_bytes
        );
    }
    let stats = engine.stats();
    assert!(most_frozen <= 2, "{most_frozen} frozen memtables queued");
    assert!(stats.write_stalls > 0, "writers never stalled: {stats:?}");
    assert!(stats.flushes > 0);
    engine.close().expect("close");
    let engine = Engine::open(dir.path(), Options::default()).expect("reopen");
    assert_eq!(engine.scan(..).count(), 3000);
}

#[test]
fn a_failed_background_flush_poisons_and_reads_go_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = SimIo::new(Arc::new(StdIo::new()));
    let opts = Options::default()
        .with_custom_io(Some(sim.clone()))
        .with_memtable_budget(8 << 10);
    let engine = Engine::open(dir.path(), opts).expect("open");
    sim.inject(sim.ops(), FaultKind::FailSync);
    let mut written = 0u64;
    let mut refused = None;
    for i in 0..100_000u64 {
        match put(&engine, i + 1, &i.to_be_bytes(), &[1u8; 100]) {
            Ok(()) => written += 1,
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
        if i % 64 == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    match refused {
        Some(Error::Poisoned { cause }) => {
            assert!(cause.contains("sync") || cause.contains("fault"), "{cause}")
        }
        other => panic!("expected the engine to be poisoned, got {other:?}"),
    }
    assert!(engine.stats().poisoned.is_some());
    assert_eq!(
        engine.scan(..).count() as u64,
        written,
        "every acknowledged write is readable"
    );
    for i in (0..written).step_by(97) {
        assert!(engine.get(&i.to_be_bytes()).expect("get").is_some());
    }
}

#[test]
fn drop_without_close_keeps_every_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let engine = Engine::open(dir.path(), Options::default()).expect("open");
        for i in 0..500u64 {
            put(&engine, i + 1, &i.to_be_bytes(), b"v").expect("put");
        }
    }
    let engine = Engine::open(dir.path(), Options::default()).expect("reopen");
    assert_eq!(engine.scan(..).count(), 500);
    assert_eq!(engine.last_seqno(), 500);
}

#[test]
fn sequence_numbers_must_increase() {
    let engine = Engine::open("unused", Options::memory()).expect("open");
    put(&engine, 5, b"a", b"1").expect("put");
    for bad in [5, 4, 0] {
        match put(&engine, bad, b"a", b"2") {
            Err(Error::InvalidArgument(msg)) => assert!(msg.contains("sequence number")),
            other => panic!("seqno {bad} accepted: {other:?}"),
        }
    }
    assert_eq!(engine.get(b"a").expect("get").as_deref(), Some(&b"1"[..]));
}

#[test]
fn snapshots_see_a_stable_view_across_flush_and_compaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let engine = Engine::open(dir.path(), Options::default()).expect("open");
    put(&engine, 1, b"k", b"old").expect("put");
    let snap = engine.snapshot();
    put(&engine, 2, b"k", b"new").expect("put");
    let mut b = WriteBatch::new();
    b.delete(&b"k"[..]);
    b.put(&b"other"[..], &b"x"[..]);
    engine.apply(&b, 3).expect("apply");
    engine.compact().expect("compact");
    assert_eq!(snap.get(b"k").expect("get").as_deref(), Some(&b"old"[..]));
    assert_eq!(snap.scan(..).count(), 1);
    assert_eq!(engine.get(b"k").expect("get"), None);
    assert_eq!(engine.stats().snapshots, 1);
    drop(snap);
    assert_eq!(engine.stats().snapshots, 0);
}

#[test]
fn flushed_seqno_can_be_read_without_opening() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(Engine::flushed_seqno_in(dir.path()).expect("read"), None);
    let engine = Engine::open(dir.path(), Options::default()).expect("open");
    put(&engine, 7, b"k", b"v").expect("put");
    engine.flush().expect("flush");
    put(&engine, 8, b"k", b"w").expect("put");
    // Readable while the engine holds the directory, and says what is on disk.
    assert_eq!(Engine::flushed_seqno_in(dir.path()).expect("read"), Some(7));
    engine.close().expect("close");
    assert_eq!(Engine::flushed_seqno_in(dir.path()).expect("read"), Some(8));
}

/// Tables written into levels above `compress_from_level` store blocks
/// uncompressed; from that level on they are compressed. Compressible
/// values make the difference visible in the level sizes, and reads see
/// the same data either way.
#[test]
fn only_levels_from_compress_from_level_are_compressed() {
    let value = vec![b'x'; 200];
    let level_bytes = |compress_from_level: usize| {
        let dir = tempfile::tempdir().unwrap();
        let opts = Options::default()
            .with_background(false)
            .with_compress_from_level(compress_from_level);
        let engine = Engine::open(dir.path(), opts).unwrap();
        for i in 0..2000u32 {
            put(&engine, u64::from(i) + 1, &i.to_be_bytes(), &value).unwrap();
        }
        engine.flush().unwrap();
        let l0 = engine.stats().levels[0].bytes;
        engine.compact().unwrap();
        let stats = engine.stats();
        assert_eq!(stats.levels[0].files, 0);
        let l1 = stats.levels[1].bytes;
        for i in [0u32, 777, 1999] {
            assert_eq!(
                engine.get(&i.to_be_bytes()).unwrap().as_deref(),
                Some(&value[..])
            );
        }
        engine.close().unwrap();
        (l0, l1)
    };
    let raw = 2000 * 200;
    // Level 1 compressed, level 0 not.
    let (l0, l1) = level_bytes(1);
    assert!(l0 > raw, "level 0 is uncompressed: {l0} bytes");
    assert!(l1 < raw / 4, "level 1 is compressed: {l1} bytes");
    // Neither compressed (the default keeps levels 0 and 1 uncompressed).
    let (l0, l1) = level_bytes(2);
    assert!(
        l0 > raw && l1 > raw,
        "both uncompressed: {l0} and {l1} bytes"
    );
    // Both compressed.
    let (l0, l1) = level_bytes(0);
    assert!(
        l0 < raw / 4 && l1 < raw / 4,
        "both compressed: {l0} and {l1} bytes"
    );
}
