//! End-to-end tests of the SST format: tables written by [`TableWriter`] and
//! read by [`Table`] answer exactly like a `BTreeMap` model, and damaged
//! files are errors naming the damaged block, never panics or wrong data.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use proptest::prelude::*;

use super::{
    BlockCache, FOOTER_LEN, FORMAT_VERSION, Table, TableIter, TableMeta, TableWriter, WriterOptions,
};
use crate::error::{Error, Result};
use crate::io::std_fs::StdIo;
use crate::io::{Io, WritableFile};
use crate::types::{Entry, Kind, Seqno};

/// The model: versions in internal order (key asc, seqno desc).
type Model = BTreeMap<(Vec<u8>, Reverse<Seqno>), (Kind, Vec<u8>)>;
/// A version as plain data, for comparisons.
type Version = (Vec<u8>, Seqno, Kind, Vec<u8>);

fn opts(block_size: usize, zstd_level: i32, bloom_bits_per_key: u32) -> WriterOptions {
    WriterOptions {
        block_size,
        zstd_level,
        bloom_bits_per_key,
        layout: None,
        columnar_rows: 4096,
    }
}

fn version(e: &Entry) -> Version {
    (e.key.to_vec(), e.seqno, e.kind, e.value.to_vec())
}

/// A [`WritableFile`] in memory that records the size of every append.
#[derive(Clone, Default)]
struct MemFile {
    state: Arc<Mutex<MemState>>,
}

#[derive(Default)]
struct MemState {
    bytes: Vec<u8>,
    appends: Vec<usize>,
    synced_len: Option<usize>,
}

impl WritableFile for MemFile {
    fn append(&mut self, buf: Vec<u8>) -> Result<()> {
        let mut s = self.state.lock().unwrap();
        s.appends.push(buf.len());
        s.bytes.extend_from_slice(&buf);
        Ok(())
    }
    fn sync(&mut self) -> Result<()> {
        let mut s = self.state.lock().unwrap();
        s.synced_len = Some(s.bytes.len());
        Ok(())
    }
    fn len(&self) -> u64 {
        self.state.lock().unwrap().bytes.len() as u64
    }
    fn truncate(&mut self, len: u64) -> Result<()> {
        self.state.lock().unwrap().bytes.truncate(len as usize);
        Ok(())
    }
}

fn fill(w: &mut TableWriter, model: &Model) {
    for ((k, Reverse(s)), (kind, v)) in model {
        w.add(k, *s, *kind, v).unwrap();
    }
}

/// Writes `model` to memory; returns the file's bytes, its meta and the
/// sizes of the appends.
fn write_mem(model: &Model, o: WriterOptions) -> (Bytes, TableMeta, Vec<usize>) {
    let file = MemFile::default();
    let mut w = TableWriter::new(Box::new(file.clone()), PathBuf::from("mem.sst"), o);
    fill(&mut w, model);
    let meta = w.finish().unwrap();
    let s = file.state.lock().unwrap();
    assert_eq!(s.synced_len, Some(s.bytes.len()), "finish syncs everything");
    (Bytes::from(s.bytes.clone()), meta, s.appends.clone())
}

fn write_file(dir: &Path, name: &str, model: &Model, o: WriterOptions) -> (PathBuf, TableMeta) {
    let path = dir.join(name);
    let file = StdIo::new().create(&path).unwrap();
    let mut w = TableWriter::new(file, path.clone(), o);
    fill(&mut w, model);
    (path, w.finish().unwrap())
}

fn std_io() -> Arc<dyn Io> {
    Arc::new(StdIo::new())
}

fn open_mem(bytes: Bytes, cache: Arc<BlockCache>) -> Result<Table> {
    Table::from_bytes(Path::new("mem.sst"), 7, bytes, cache, std_io())
}

fn model_get(m: &Model, key: &[u8], seqno: Seqno) -> Option<Version> {
    m.range((key.to_vec(), Reverse(seqno))..=(key.to_vec(), Reverse(0)))
        .next()
        .map(|((k, Reverse(s)), (kind, v))| (k.clone(), *s, *kind, v.clone()))
}

fn in_bounds(key: &[u8], lower: &Bound<Bytes>, upper: &Bound<Bytes>) -> bool {
    let above_lower = match lower {
        Bound::Included(l) => key >= &l[..],
        Bound::Excluded(l) => key > &l[..],
        Bound::Unbounded => true,
    };
    let below_upper = match upper {
        Bound::Included(u) => key <= &u[..],
        Bound::Excluded(u) => key < &u[..],
        Bound::Unbounded => true,
    };
    above_lower && below_upper
}

fn model_range(
    m: &Model,
    lower: &Bound<Bytes>,
    upper: &Bound<Bytes>,
    reverse: bool,
) -> Vec<Version> {
    let mut out: Vec<Version> = m
        .iter()
        .filter(|((k, _), _)| in_bounds(k, lower, upper))
        .map(|((k, Reverse(s)), (kind, v))| (k.clone(), *s, *kind, v.clone()))
        .collect();
    if reverse {
        out.reverse();
    }
    out
}

fn table_range(
    t: &Arc<Table>,
    lower: &Bound<Bytes>,
    upper: &Bound<Bytes>,
    reverse: bool,
) -> Vec<Version> {
    t.iter(lower.clone(), upper.clone(), reverse)
        .map(|e| version(&e.unwrap()))
        .collect()
}

/// Checks meta, every version by `get` at several seqnos, the extra
/// `probes`, full scans both ways and scans within `bounds`.
fn check_table(
    m: &Model,
    t: &Arc<Table>,
    probes: &[(Vec<u8>, Seqno)],
    bounds: &[(Bound<Bytes>, Bound<Bytes>)],
) {
    let meta = t.meta();
    assert_eq!(meta.entries, m.len() as u64);
    if let (Some(((first, _), _)), Some(((last, _), _))) = (m.first_key_value(), m.last_key_value())
    {
        assert_eq!(&meta.min_key[..], &first[..]);
        assert_eq!(&meta.max_key[..], &last[..]);
        assert_eq!(
            meta.min_seqno,
            m.keys().map(|(_, Reverse(s))| *s).min().unwrap()
        );
        assert_eq!(
            meta.max_seqno,
            m.keys().map(|(_, Reverse(s))| *s).max().unwrap()
        );
    }
    for (k, Reverse(s)) in m.keys() {
        for at in [*s, s.saturating_add(1), s.saturating_sub(1), 0, Seqno::MAX] {
            let got = t.get(k, at).unwrap().map(|e| version(&e));
            assert_eq!(got, model_get(m, k, at), "get({k:?}, {at})");
        }
    }
    for (k, at) in probes {
        let got = t.get(k, *at).unwrap().map(|e| version(&e));
        assert_eq!(got, model_get(m, k, *at), "probe get({k:?}, {at})");
    }
    let all = (Bound::Unbounded, Bound::Unbounded);
    for (lower, upper) in std::iter::once(&all).chain(bounds) {
        for reverse in [false, true] {
            assert_eq!(
                table_range(t, lower, upper, reverse),
                model_range(m, lower, upper, reverse),
                "iter({lower:?}, {upper:?}, reverse {reverse})"
            );
        }
    }
}

/// A small deterministic generator (xorshift64*), so the fixed-data tests
/// need no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `keys` keys with 1–4 versions each: tombstones, empty values, values
/// larger than a block (compressible and not), seqnos up to `Seqno::MAX`.
fn sample_model(keys: u64, seed: u64) -> Model {
    let mut rng = Rng(seed | 1);
    let mut m = Model::new();
    for i in 0..keys {
        let key = format!("key{:08}", i * 3).into_bytes();
        for _ in 0..1 + rng.below(4) {
            let seqno = match rng.below(20) {
                0 => Seqno::MAX - rng.below(2),
                1 => 0,
                _ => rng.below(1000),
            };
            let (kind, value) = match rng.below(10) {
                0 => (Kind::Delete, Vec::new()),
                1 => (Kind::Put, Vec::new()),
                2 if rng.below(5) == 0 => (Kind::Put, vec![b'x'; 5000 + rng.below(5000) as usize]),
                3 if rng.below(5) == 0 => {
                    (Kind::Put, (0..3000).map(|_| rng.next() as u8).collect())
                }
                _ => (
                    Kind::Put,
                    format!("value-{i}-{seqno}-{}", "abc".repeat(rng.below(20) as usize))
                        .into_bytes(),
                ),
            };
            m.insert((key.clone(), Reverse(seqno)), (kind, value));
        }
    }
    m
}

fn sample_bounds(m: &Model) -> Vec<(Bound<Bytes>, Bound<Bytes>)> {
    let keys: Vec<&Vec<u8>> = m.keys().map(|(k, _)| k).collect();
    let key = |i: usize| Bytes::copy_from_slice(keys[i % keys.len()]);
    let n = keys.len();
    vec![
        (Bound::Included(key(n / 3)), Bound::Excluded(key(n / 2))),
        (Bound::Excluded(key(n / 3)), Bound::Included(key(n / 2))),
        (Bound::Unbounded, Bound::Included(key(n / 4))),
        (Bound::Excluded(key(3 * n / 4)), Bound::Unbounded),
        (
            Bound::Included(Bytes::from_static(b"key")),
            Bound::Excluded(Bytes::from_static(b"key00000100")),
        ),
        (Bound::Included(key(n / 2)), Bound::Included(key(n / 3))),
        (
            Bound::Included(Bytes::from_static(b"zzz")),
            Bound::Unbounded,
        ),
    ]
}

fn absent_probes(m: &Model) -> Vec<(Vec<u8>, Seqno)> {
    let mut probes = vec![
        (Vec::new(), Seqno::MAX),
        (b"zzz".to_vec(), 5),
        (b"a".to_vec(), 0),
    ];
    for ((k, Reverse(s)), _) in m.iter().step_by(7) {
        let mut absent = k.clone();
        absent.push(0);
        probes.push((absent, *s));
    }
    probes
}

fn round_trip(zstd_level: i32) -> (u64, Arc<BlockCache>) {
    let dir = tempfile::tempdir().unwrap();
    let m = sample_model(3000, 42);
    let (path, meta) = write_file(dir.path(), "1.sst", &m, opts(4096, zstd_level, 10));
    assert_eq!(meta.file_size, std::fs::metadata(&path).unwrap().len());
    let cache = Arc::new(BlockCache::new(8 << 20));
    let t = Arc::new(Table::open(&path, 1, cache.clone(), std_io()).unwrap());
    assert_eq!(t.meta(), &meta);
    assert_eq!((t.id(), t.path()), (1, path.as_path()));
    check_table(&m, &t, &absent_probes(&m), &sample_bounds(&m));
    (meta.file_size, cache)
}

#[test]
fn round_trip_uncompressed() {
    let (_, cache) = round_trip(0);
    // Uncompressed blocks are served from the map, not the cache.
    assert_eq!(
        (cache.hits(), cache.misses(), cache.used_bytes()),
        (0, 0, 0)
    );
}

#[test]
fn round_trip_zstd() {
    let (compressed_size, cache) = round_trip(3);
    assert!(
        cache.misses() > 0 && cache.hits() > cache.misses(),
        "{cache:?}"
    );
    assert!(cache.used_bytes() > 0);
    let (plain_size, _) = round_trip(0);
    assert!(
        compressed_size < plain_size * 3 / 4,
        "zstd {compressed_size} vs plain {plain_size}"
    );
}

#[test]
fn round_trip_without_cache_or_filter() {
    let m = sample_model(500, 7);
    let (bytes, _, _) = write_mem(&m, opts(1024, 1, 0));
    let t = Arc::new(open_mem(bytes, Arc::new(BlockCache::new(0))).unwrap());
    check_table(&m, &t, &absent_probes(&m), &sample_bounds(&m));
}

#[test]
fn empty_table() {
    let (bytes, meta, _) = write_mem(&Model::new(), opts(4096, 3, 10));
    assert_eq!(meta.entries, 0);
    assert_eq!((meta.min_seqno, meta.max_seqno), (0, 0));
    assert!(meta.min_key.is_empty() && meta.max_key.is_empty());
    let t = Arc::new(open_mem(bytes, Arc::new(BlockCache::new(1 << 20))).unwrap());
    assert_eq!(t.get(b"a", Seqno::MAX).unwrap(), None);
    assert_eq!(t.get(b"", Seqno::MAX).unwrap(), None);
    check_table(
        &Model::new(),
        &t,
        &[],
        &[(Bound::Included(Bytes::from_static(b"a")), Bound::Unbounded)],
    );
}

#[test]
fn bloom_filter_skips_blocks_for_absent_keys() {
    let m = sample_model(2000, 3);
    let (bytes, _, _) = write_mem(&m, opts(4096, 3, 10));
    let cache = Arc::new(BlockCache::new(1 << 20));
    let t = open_mem(bytes, cache.clone()).unwrap();
    let n = 10_000;
    for i in 0..n {
        // Between existing keys (which are multiples of 3), so the index
        // alone would send every lookup to a block.
        let key = format!("key{:08}", 3 * (i % 2000) + 1);
        assert_eq!(t.get(key.as_bytes(), Seqno::MAX).unwrap(), None);
    }
    let block_reads = cache.hits() + cache.misses();
    assert!(
        block_reads < n / 20,
        "{block_reads} of {n} absent lookups read a block"
    );
}

#[test]
fn writer_appends_large_buffers_and_counts() {
    let mut m = Model::new();
    let mut rng = Rng(99);
    for i in 0..40_000u32 {
        let value: Vec<u8> = (0..100).map(|_| rng.next() as u8).collect();
        m.insert((i.to_be_bytes().to_vec(), Reverse(1)), (Kind::Put, value));
    }
    let file = MemFile::default();
    let mut w = TableWriter::new(
        Box::new(file.clone()),
        PathBuf::from("mem.sst"),
        opts(4096, 0, 10),
    );
    let mut last = 0;
    for (n, ((k, Reverse(s)), (kind, v))) in m.iter().enumerate() {
        w.add(k, *s, *kind, v).unwrap();
        assert_eq!(w.entries(), n as u64 + 1);
        assert!(w.estimated_size() >= last);
        last = w.estimated_size();
    }
    assert!(last > 4_000_000);
    let meta = w.finish().unwrap();
    assert!(meta.file_size >= last);
    let appends = file.state.lock().unwrap().appends.clone();
    assert!(appends.len() >= 4);
    let (tail, full) = appends.split_last().unwrap();
    assert!(full.iter().all(|&n| n >= 1 << 20), "{appends:?}");
    assert!(*tail > 0);
}

/// A file whose appends fail once `fail` is set.
struct FailingFile {
    inner: MemFile,
    fail: Arc<std::sync::atomic::AtomicBool>,
}

impl WritableFile for FailingFile {
    fn append(&mut self, buf: Vec<u8>) -> Result<()> {
        if self.fail.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(Error::io("mem.sst", std::io::Error::other("injected")));
        }
        self.inner.append(buf)
    }
    fn sync(&mut self) -> Result<()> {
        self.inner.sync()
    }
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn truncate(&mut self, len: u64) -> Result<()> {
        self.inner.truncate(len)
    }
}

#[test]
fn writer_refuses_use_after_a_failed_write() {
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let file = FailingFile {
        inner: MemFile::default(),
        fail: fail.clone(),
    };
    let mut w = TableWriter::new(Box::new(file), PathBuf::from("mem.sst"), opts(4096, 0, 10));
    let value = vec![7u8; 1000];
    fail.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut i = 0u32;
    let err = loop {
        // The first append happens once about 1 MiB is buffered.
        if let Err(e) = w.add(&i.to_be_bytes(), 1, Kind::Put, &value) {
            break e;
        }
        i += 1;
    };
    assert!(matches!(err, Error::Io { .. }), "{err}");
    fail.store(false, std::sync::atomic::Ordering::Relaxed);
    assert!(matches!(
        w.add(&(i + 1).to_be_bytes(), 1, Kind::Put, &value),
        Err(Error::InvalidArgument(_))
    ));
    assert!(matches!(w.finish(), Err(Error::InvalidArgument(_))));
}

#[test]
fn tables_and_iterators_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Table>();
    send_sync::<BlockCache>();
    send::<TableIter>();
    send::<TableWriter>();
}

#[test]
#[cfg(debug_assertions)]
#[should_panic(expected = "strictly increasing internal order")]
fn out_of_order_versions_are_rejected() {
    let mut w = TableWriter::new(
        Box::new(MemFile::default()),
        PathBuf::from("mem.sst"),
        opts(4096, 0, 10),
    );
    w.add(b"b", 5, Kind::Put, b"").unwrap();
    // Same key, newer seqno: must come first.
    let _ = w.add(b"b", 6, Kind::Put, b"");
}

/// The versions stored in the format-version-1 fixtures in `testdata/`.
fn fixture_model() -> Model {
    let mut m = Model::new();
    let mut put = |k: &str, s: Seqno, kind: Kind, v: &[u8]| {
        m.insert((k.as_bytes().to_vec(), Reverse(s)), (kind, v.to_vec()));
    };
    put("apple", 7, Kind::Put, b"red");
    put("apple", 3, Kind::Delete, b"");
    put("banana", 5, Kind::Put, b"");
    put("cherry", 9, Kind::Put, "dark red, ".repeat(30).as_bytes());
    put("cherry", 2, Kind::Put, b"green");
    m
}

/// Writer options of the fixtures: (file name, options).
fn fixtures() -> [(&'static str, WriterOptions, &'static [u8]); 2] {
    [
        (
            "v1-plain.sst",
            opts(64, 0, 10),
            include_bytes!("testdata/v1-plain.sst"),
        ),
        (
            "v1-zstd.sst",
            opts(256, 3, 10),
            include_bytes!("testdata/v1-zstd.sst"),
        ),
    ]
}

/// Rewrites the fixtures; run once when the format version changes, and
/// keep the old ones for the old version's reader.
#[test]
#[ignore = "rewrites the fixtures"]
fn bless_fixtures() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sst/testdata");
    for (name, o, _) in fixtures() {
        let (bytes, _, _) = write_mem(&fixture_model(), o);
        std::fs::write(dir.join(name), &bytes).unwrap();
    }
}

#[test]
fn format_v1_fixtures_read_back() {
    let m = fixture_model();
    for (name, o, stored) in fixtures() {
        let t = Arc::new(
            open_mem(
                Bytes::from_static(stored),
                Arc::new(BlockCache::new(1 << 20)),
            )
            .unwrap(),
        );
        assert!(t.block_handles().len() >= 3, "{name}");
        check_table(&m, &t, &absent_probes(&m), &sample_bounds(&m));
        if o.zstd_level == 0 {
            // Without compression the writer's output is fully determined
            // by the format: it must not drift.
            let (bytes, _, _) = write_mem(&m, o);
            assert_eq!(&bytes[..], stored, "{name}: writer output changed");
        }
    }
}

/// The block (offset, length) holding byte `at`.
fn block_of(handles: &[(u64, u64)], at: u64) -> (u64, u64) {
    *handles
        .iter()
        .find(|(o, l)| (*o..o + l).contains(&at))
        .unwrap()
}

fn assert_corruption_at(e: &Error, expected: u64) {
    match e {
        Error::Corruption { path, offset, .. } => {
            assert_eq!(path, Path::new("mem.sst"));
            assert_eq!(*offset, expected, "{e}");
        }
        other => panic!("expected corruption at {expected}, got {other}"),
    }
}

fn flipped_data_bytes_are_detected(zstd_level: i32) {
    let m = sample_model(60, 11);
    let (bytes, _, _) = write_mem(&m, opts(512, zstd_level, 10));
    let clean = open_mem(bytes.clone(), Arc::new(BlockCache::new(0))).unwrap();
    let handles = clean.block_handles();
    assert!(handles.len() > 5);
    let data_end = handles.last().map(|(o, l)| o + l).unwrap();
    let expected_all = model_range(&m, &Bound::Unbounded, &Bound::Unbounded, false);
    for at in 0..data_end {
        let (block, _) = block_of(&handles, at);
        let mut bad = bytes.to_vec();
        bad[at as usize] ^= 1 << (at % 8);
        let t = Arc::new(open_mem(Bytes::from(bad), Arc::new(BlockCache::new(0))).unwrap());
        let mut errors = 0;
        for (k, Reverse(s)) in m.keys() {
            match t.get(k, *s) {
                Ok(got) => assert_eq!(got.map(|e| version(&e)), model_get(&m, k, *s)),
                Err(e) => {
                    assert_corruption_at(&e, block);
                    errors += 1;
                }
            }
        }
        assert!(errors > 0, "flip at {at} went unnoticed by get");
        for reverse in [false, true] {
            let mut expected = expected_all.clone();
            if reverse {
                expected.reverse();
            }
            let mut it = t.iter(Bound::Unbounded, Bound::Unbounded, reverse);
            let mut seen = 0;
            let err = loop {
                match it.next().expect("scan ends with the corruption") {
                    Ok(e) => {
                        assert_eq!(version(&e), expected[seen]);
                        seen += 1;
                    }
                    Err(e) => break e,
                }
            };
            assert_corruption_at(&err, block);
            assert!(it.next().is_none(), "iterator fuses after an error");
        }
    }
}

#[test]
fn flipped_data_byte_uncompressed_is_corruption() {
    flipped_data_bytes_are_detected(0);
}

#[test]
fn flipped_data_byte_zstd_is_corruption() {
    flipped_data_bytes_are_detected(3);
}

#[test]
fn flipped_meta_or_footer_byte_fails_open() {
    for zstd_level in [0, 3] {
        let m = sample_model(300, 5);
        let (bytes, _, _) = write_mem(&m, opts(1024, zstd_level, 10));
        let clean = open_mem(bytes.clone(), Arc::new(BlockCache::new(0))).unwrap();
        let data_end = clean.block_handles().last().map(|(o, l)| o + l).unwrap();
        let footer_at = bytes.len() as u64 - FOOTER_LEN as u64;
        let mut offsets = std::collections::BTreeSet::new();
        for at in data_end..bytes.len() as u64 {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = bytes.to_vec();
                bad[at as usize] ^= mask;
                match open_mem(Bytes::from(bad), Arc::new(BlockCache::new(0))) {
                    Err(Error::Corruption { offset, .. }) => {
                        assert!(offset == footer_at || (data_end..footer_at).contains(&offset));
                        offsets.insert(offset);
                    }
                    Err(e) => panic!("flip at {at}: expected corruption, got {e}"),
                    Ok(_) => panic!("flip at {at} (mask {mask:#x}) went unnoticed by open"),
                }
            }
        }
        // Filter, index, properties and footer each reported their own offset.
        assert_eq!(offsets.len(), 4, "{offsets:?}");
    }
}

#[test]
fn unknown_version_is_unsupported() {
    let dir = tempfile::tempdir().unwrap();
    let m = sample_model(10, 1);
    let (path, _) = write_file(dir.path(), "9.sst", &m, opts(4096, 0, 10));
    let mut bytes = std::fs::read(&path).unwrap();
    let footer = bytes.len() - FOOTER_LEN;
    bytes[footer + 48..footer + 52].copy_from_slice(&99u32.to_le_bytes());
    bytes[footer + 52..footer + 56].copy_from_slice(&(!99u32).to_le_bytes());
    let crc = crc32fast::hash(&bytes[footer..footer + FOOTER_LEN - 4]);
    bytes[footer + FOOTER_LEN - 4..].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    match Table::open(&path, 9, Arc::new(BlockCache::new(0)), std_io()) {
        Err(Error::UnsupportedVersion {
            path: p,
            found,
            supported,
        }) => {
            assert_eq!((p, found, supported), (path, 99, FORMAT_VERSION));
        }
        other => panic!("expected unsupported version, got {other:?}"),
    }
}

#[test]
fn truncated_file_is_corruption() {
    let m = sample_model(200, 9);
    let (bytes, _, _) = write_mem(&m, opts(1024, 3, 10));
    let len = bytes.len();
    let cuts = (0..len).step_by(97).chain(len - FOOTER_LEN - 2..len);
    for cut in cuts {
        match open_mem(bytes.slice(..cut), Arc::new(BlockCache::new(0))) {
            Err(Error::Corruption { .. }) => {}
            Err(e) => panic!("cut at {cut}: expected corruption, got {e}"),
            Ok(_) => panic!("cut at {cut} opened"),
        }
    }
    // The same through a real, mapped file, including an empty one.
    let dir = tempfile::tempdir().unwrap();
    let (path, meta) = write_file(dir.path(), "2.sst", &m, opts(1024, 3, 10));
    for cut in [meta.file_size - 1, meta.file_size / 2, 10, 0] {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(cut)
            .unwrap();
        match Table::open(&path, 2, Arc::new(BlockCache::new(0)), std_io()) {
            Err(Error::Corruption { path: p, .. }) => assert_eq!(p, path),
            other => panic!("cut at {cut}: expected corruption, got {other:?}"),
        }
    }
}

#[test]
fn mark_obsolete_removes_file_after_last_reference() {
    let dir = tempfile::tempdir().unwrap();
    let m = sample_model(100, 2);
    let cache = Arc::new(BlockCache::new(1 << 20));
    let (path, _) = write_file(dir.path(), "3.sst", &m, opts(1024, 0, 10));
    let t = Arc::new(Table::open(&path, 3, cache.clone(), std_io()).unwrap());
    let t2 = Arc::clone(&t);
    let mut it = t.iter(Bound::Unbounded, Bound::Unbounded, false);
    let first = it.next().unwrap().unwrap();
    t.mark_obsolete();
    drop(t);
    drop(t2);
    assert!(path.exists(), "an iterator still holds the table");
    // The mapping stays readable, and entries outlive the table.
    assert_eq!(it.by_ref().count(), m.len() - 1);
    drop(it);
    assert!(!path.exists(), "removed with the last reference");
    assert_eq!(first.key.len(), 11);

    // A table not marked obsolete leaves its file alone.
    let (kept, _) = write_file(dir.path(), "4.sst", &m, opts(1024, 0, 10));
    drop(Table::open(&kept, 4, cache, std_io()).unwrap());
    assert!(kept.exists());
}

#[test]
fn obsolete_removal_failure_does_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = write_file(dir.path(), "5.sst", &sample_model(10, 4), opts(1024, 0, 10));
    let t = Table::open(&path, 5, Arc::new(BlockCache::new(0)), std_io()).unwrap();
    std::fs::remove_file(&path).unwrap();
    t.mark_obsolete();
    drop(t);
}

#[test]
fn concurrent_readers_share_the_cache() {
    let m = Arc::new(sample_model(1000, 8));
    let (bytes, _, _) = write_mem(&m, opts(2048, 3, 10));
    let t = Arc::new(open_mem(bytes, Arc::new(BlockCache::new(1 << 20))).unwrap());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for (k, Reverse(seq)) in m.keys() {
                    let got = t.get(k, *seq).unwrap().map(|e| version(&e));
                    assert_eq!(got, model_get(&m, k, *seq));
                }
            });
        }
    });
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(b'a'..=b'e', 0..4),
        1 => prop::collection::vec(any::<u8>(), 0..24),
    ]
}

fn model_strategy() -> impl Strategy<Value = Model> {
    let seqno = prop_oneof![8 => 0u64..40, 1 => Just(Seqno::MAX), 1 => Just(Seqno::MAX - 1)];
    let value = prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..24),
        1 => Just(Vec::new()),
        1 => (300usize..3000, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
        1 => prop::collection::vec(any::<u8>(), 300..1500),
    ];
    let version = (key_strategy(), seqno, any::<bool>(), value).prop_map(|(k, s, put, v)| {
        let body = if put {
            (Kind::Put, v)
        } else {
            (Kind::Delete, Vec::new())
        };
        ((k, Reverse(s)), body)
    });
    prop::collection::vec(version, 0..250).prop_map(|vs| vs.into_iter().collect())
}

fn bound_strategy() -> impl Strategy<Value = Bound<Bytes>> {
    bounds_of(key_strategy().boxed())
}

/// Bounds (unbounded, or inclusive or exclusive at one of `keys`).
fn bounds_of(keys: BoxedStrategy<Vec<u8>>) -> impl Strategy<Value = Bound<Bytes>> {
    prop_oneof![
        1 => Just(Bound::Unbounded),
        2 => keys.clone().prop_map(|k| Bound::Included(Bytes::from(k))),
        2 => keys.prop_map(|k| Bound::Excluded(Bytes::from(k))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    #[test]
    fn model_round_trip(
        m in model_strategy(),
        block_size in 64usize..1024,
        zstd in any::<bool>(),
        bloom_bits in 0u32..14,
        bounds in prop::collection::vec((bound_strategy(), bound_strategy()), 12),
        probes in prop::collection::vec((key_strategy(), prop_oneof![0u64..40, Just(Seqno::MAX)]), 24),
    ) {
        let (bytes, meta, _) = write_mem(&m, opts(block_size, if zstd { 3 } else { 0 }, bloom_bits));
        prop_assert_eq!(meta.file_size, bytes.len() as u64);
        let t = Arc::new(open_mem(bytes, Arc::new(BlockCache::new(64 << 10))).unwrap());
        check_table(&m, &t, &probes, &bounds);
    }
}

/// Timings against a 1M-key table; run with
/// `cargo test --release -p fasty-storage --lib sst::tests::bench -- --ignored --nocapture`.
/// `BENCH_KEYS`, `BENCH_MAX_VALUE` (values of 0…n bytes, default 100),
/// `BENCH_BLOCK` (default 4096) and `BENCH_SORTED=1` (look keys up in key
/// order rather than at random) change the workload.
#[test]
#[ignore = "benchmark"]
fn bench_gets_and_scans() {
    use std::time::Instant;
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let n = env("BENCH_KEYS", 1_000_000);
    let max_value = env("BENCH_MAX_VALUE", 100) as usize;
    let block_size = env("BENCH_BLOCK", 4096) as usize;
    let dir = tempfile::tempdir().unwrap();
    for zstd_level in [0, 3] {
        let path = dir.path().join(format!("bench-{zstd_level}.sst"));
        let file = StdIo::new().create(&path).unwrap();
        let mut w = TableWriter::new(file, path.clone(), opts(block_size, zstd_level, 10));
        let started = Instant::now();
        let mut value = vec![0u8; max_value.max(8)];
        for i in 0..n {
            value[..8].copy_from_slice(&i.to_le_bytes());
            let key = format!("key{i:012}");
            let len = i as usize % (max_value + 1);
            w.add(key.as_bytes(), 1, Kind::Put, &value[..len]).unwrap();
        }
        let meta = w.finish().unwrap();
        let write_secs = started.elapsed().as_secs_f64();
        let cache = Arc::new(BlockCache::new(256 << 20));
        let t = Arc::new(Table::open(&path, 1, cache.clone(), std_io()).unwrap());

        // Warm the cache and page cache with one full scan.
        let started = Instant::now();
        let mut bytes = 0usize;
        let mut count = 0u64;
        for e in t.iter(Bound::Unbounded, Bound::Unbounded, false) {
            let e = e.unwrap();
            bytes += e.key.len() + e.value.len();
            count += 1;
        }
        let first_scan = started.elapsed().as_secs_f64();
        assert_eq!(count, n);
        let started = Instant::now();
        for e in t.iter(Bound::Unbounded, Bound::Unbounded, false) {
            std::hint::black_box(e.unwrap());
        }
        let scan = started.elapsed().as_secs_f64();
        let started = Instant::now();
        for e in t.iter(Bound::Unbounded, Bound::Unbounded, true) {
            std::hint::black_box(e.unwrap());
        }
        let rscan = started.elapsed().as_secs_f64();

        // Keys are written into a stack buffer, so the benchmark itself
        // causes no cache misses (a Vec of a million keys would).
        let key_of = |i: usize, buf: &mut [u8; 16]| {
            buf[..3].copy_from_slice(b"key");
            let mut v = i;
            for d in buf[3..15].iter_mut().rev() {
                *d = b'0' + (v % 10) as u8;
                v /= 10;
            }
            buf[15] = b'x';
        };
        let mut rng = Rng(12345);
        let mut order: Vec<usize> = (0..2_000_000).map(|_| rng.below(n) as usize).collect();
        if env("BENCH_SORTED", 0) == 1 {
            order.sort_unstable();
        }
        let gets = order.len() as f64;
        let started = Instant::now();
        let mut found = 0usize;
        let mut buf = [0u8; 16];
        for &i in &order {
            key_of(i, &mut buf);
            found += t.get(&buf[..15], 5).unwrap().is_some() as usize;
        }
        let get_secs = started.elapsed().as_secs_f64();
        assert_eq!(found, order.len());
        let started = Instant::now();
        let mut missing = 0usize;
        for &i in &order {
            key_of(i, &mut buf);
            missing += t.get(&buf, 5).unwrap().is_none() as usize;
        }
        let miss_secs = started.elapsed().as_secs_f64();
        assert_eq!(missing, order.len());
        println!(
            "zstd {zstd_level}: file {:.1} MiB ({} bytes of kv), write {:.0} MB/s; \
             scan first {:.0} MB/s, warm {:.0} MB/s, reverse {:.0} MB/s; \
             random gets {:.2} M/s present, {:.2} M/s absent; cache {:?}",
            meta.file_size as f64 / (1 << 20) as f64,
            bytes,
            bytes as f64 / write_secs / 1e6,
            bytes as f64 / first_scan / 1e6,
            bytes as f64 / scan / 1e6,
            bytes as f64 / rscan / 1e6,
            gets / get_secs / 1e6,
            gets / miss_secs / 1e6,
            cache,
        );
    }
}

#[test]
fn index_fields_are_checked_against_the_block() {
    // An index entry whose layout fields disagree with its block (but
    // whose own crc is fine) is corruption at that block, never trusted.
    // (Uncompressed, so the index block can be patched in place.)
    {
        let m = sample_model(60, 11);
        let (bytes, _, _) = write_mem(&m, opts(512, 0, 10));
        let clean = open_mem(bytes.clone(), Arc::new(BlockCache::new(0))).unwrap();
        let (_, len0) = clean.block_handles()[0];
        let mut bad = bytes.to_vec();
        let footer = bad.len() - FOOTER_LEN;
        let index_at = u64::from_le_bytes(bad[footer + 16..footer + 24].try_into().unwrap());
        let index_len = u64::from_le_bytes(bad[footer + 24..footer + 32].try_into().unwrap());
        let (start, end) = (index_at as usize, (index_at + index_len) as usize);
        assert_eq!(bad[end - 5], 0, "uncompressed index block");
        let mut pattern = 0u64.to_le_bytes().to_vec();
        pattern.extend_from_slice(&len0.to_le_bytes());
        let at = start
            + bad[start..end]
                .windows(16)
                .position(|w| w == &pattern[..])
                .expect("block 0's handle in the index");
        // One bucket fewer for block 0: still a possible layout.
        bad[at + 25] -= 1;
        let crc = crc32fast::hash(&bad[start..end - 4]);
        bad[end - 4..end].copy_from_slice(&crc.to_le_bytes());
        let t = open_mem(Bytes::from(bad), Arc::new(BlockCache::new(0))).unwrap();
        let (first_key, Reverse(first_seqno)) = m.keys().next().unwrap();
        let err = t.get(first_key, *first_seqno).unwrap_err();
        assert_corruption_at(&err, 0);
    }
}

/// `check_table` (verify) reports a flipped data byte as exactly that
/// block, and a flipped filter, index, properties or footer byte as that
/// part; never a panic, never a clean report.
#[test]
fn check_table_names_each_flipped_block() {
    use super::{TablePart, check_table};
    for zstd_level in [0, 3] {
        let m = sample_model(40, 13);
        let (bytes, meta, _) = write_mem(&m, opts(512, zstd_level, 10));
        let path = Path::new("mem.sst");
        let clean = check_table(path, &bytes);
        assert!(clean.problems.is_empty(), "{:?}", clean.problems);
        assert_eq!(clean.meta.as_ref(), Some(&meta));
        let t = open_mem(bytes.clone(), Arc::new(BlockCache::new(0))).unwrap();
        let handles = t.block_handles();
        assert_eq!(clean.data_blocks, handles.len() as u64);
        let data_end = handles.last().map(|(o, l)| o + l).unwrap();
        let footer_at = bytes.len() as u64 - FOOTER_LEN as u64;
        let step = |at: u64| if at < data_end { 7 } else { 1 };
        let mut at = 0u64;
        let mut flips = 0;
        while at < bytes.len() as u64 {
            flips += 1;
            let mut bad = bytes.to_vec();
            bad[at as usize] ^= 1 << (at % 8);
            let c = check_table(path, &Bytes::from(bad));
            let got: Vec<(TablePart, u64)> =
                c.problems.iter().map(|p| (p.part, p.offset)).collect();
            if at < data_end {
                let (block, _) = block_of(&handles, at);
                assert_eq!(got, [(TablePart::Data, block)], "flip at {at}");
            } else {
                assert!(!got.is_empty(), "flip at {at} went unnoticed");
                let part = got[0].0;
                assert!(part != TablePart::Data, "flip at {at}: {got:?}");
                if at >= footer_at {
                    assert_eq!(part, TablePart::Footer, "flip at {at}");
                }
            }
            assert!(c.meta.is_none() || got.is_empty());
            at += step(at);
        }
        assert!(flips > 500, "{flips} flips over {} bytes", bytes.len());
    }
}

mod columnar {
    //! Tables with columnar blocks (format version 2) answer like the
    //! model, hold the blocks they should, and detect damage.

    use super::*;
    use crate::columnar::testing::{Promising, TaggedLayout, row_key, tagged};
    use crate::columnar::{Field, PointRead, ValueLayout};

    fn layout() -> Option<Arc<dyn crate::columnar::ValueLayout>> {
        Some(Arc::new(TaggedLayout))
    }

    fn copts(block_size: usize) -> WriterOptions {
        let mut o = opts(block_size, 0, 10);
        o.layout = layout();
        o
    }

    fn open_columnar(bytes: Bytes) -> Result<Table> {
        Table::from_bytes_with(
            Path::new("mem.sst"),
            7,
            bytes,
            Arc::new(BlockCache::new(1 << 20)),
            std_io(),
            layout(),
        )
    }

    /// Rows of group `t001` (many versions, tombstones, short rows, a run
    /// of values that do not split), rows of `t002`, and keys outside any
    /// group before, between and after them.
    fn columnar_model(rows: u64, seed: u64) -> Model {
        let mut rng = Rng(seed | 1);
        let mut m = Model::new();
        let mut put = |k: Vec<u8>, s: Seqno, kind: Kind, v: Vec<u8>| {
            m.insert((k, Reverse(s)), (kind, v));
        };
        for i in 0..50u64 {
            put(
                format!("a{i:04}").into_bytes(),
                i + 1,
                Kind::Put,
                b"catalog".to_vec(),
            );
            put(
                format!("i{i:04}").into_bytes(),
                i + 1,
                Kind::Put,
                Vec::new(),
            );
        }
        for i in 0..rows {
            for _ in 0..1 + rng.below(3) {
                let seqno = 1 + rng.below(5000);
                let text = format!("name{}", rng.below(7));
                let v = match rng.below(30) {
                    0 => (Kind::Delete, Vec::new()),
                    1 => (Kind::Put, tagged(&[Field::Int(i as i64)])),
                    2 => (Kind::Put, Vec::new()),
                    3 => (
                        Kind::Put,
                        tagged(&[Field::Float(rng.next() as f64), Field::Null]),
                    ),
                    _ => (
                        Kind::Put,
                        tagged(&[
                            Field::Int(i as i64 * 3 - 1000),
                            Field::Text(text.as_bytes()),
                            Field::Bool(i % 2 == 0),
                            Field::Float(i as f64 / 4.0),
                        ]),
                    ),
                };
                // A stretch of values the layout cannot split.
                let v = if (700..720).contains(&i) && v.0 == Kind::Put {
                    (Kind::Put, b"garbage".to_vec())
                } else {
                    v
                };
                put(row_key(i), seqno, v.0, v.1);
            }
        }
        for i in 0..30u64 {
            let mut k = b"t002".to_vec();
            k.extend_from_slice(&i.to_be_bytes());
            put(
                k,
                7,
                Kind::Put,
                tagged(&[Field::Blob(&[1, 2, 3]), Field::Int(-5)]),
            );
        }
        put(b"zz".to_vec(), 3, Kind::Put, b"after".to_vec());
        m
    }

    /// Writes `m` with columnar blocks; `row_keys` keeps their keys in
    /// the entry layout, as the build before packed keys did.
    fn write_columnar(m: &Model, o: WriterOptions, row_keys: bool) -> (Bytes, TableMeta) {
        let file = MemFile::default();
        let mut w = TableWriter::new(Box::new(file.clone()), PathBuf::from("mem.sst"), o);
        if row_keys {
            w = w.with_row_keys();
        }
        fill(&mut w, m);
        let meta = w.finish().unwrap();
        let bytes = file.state.lock().unwrap().bytes.clone();
        (Bytes::from(bytes), meta)
    }

    /// The format version in a table's footer.
    fn file_version(bytes: &[u8]) -> u32 {
        let at = bytes.len() - FOOTER_LEN + 48;
        u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn columnar_tables_answer_like_the_model() {
        columnar_tables_answer_like_the_model_with(false);
    }

    /// Files of the first columnar format (keys in the entry layout,
    /// format version 2) still read exactly as before.
    #[test]
    fn columnar_tables_with_row_layout_keys_still_read() {
        columnar_tables_answer_like_the_model_with(true);
    }

    fn columnar_tables_answer_like_the_model_with(row_keys: bool) {
        let m = columnar_model(10_000, 5);
        let (bytes, meta) = write_columnar(&m, copts(4096), row_keys);
        let t = Arc::new(open_columnar(bytes.clone()).unwrap());
        assert_eq!(t.meta(), &meta);
        let packed = t.packed_blocks().iter().filter(|&&p| p).count();
        if row_keys {
            assert_eq!(packed, 0);
            assert_eq!(file_version(&bytes), super::super::FORMAT_VERSION_COLUMNAR);
        } else {
            assert!(packed > 0, "no block got packed keys");
            assert_eq!(file_version(&bytes), FORMAT_VERSION);
        }
        let kinds = t.columnar_blocks();
        let columnar = kinds.iter().filter(|&&c| c).count();
        // 10 000 rows of ~2 versions in blocks of about 4096 rows, plus
        // `t002`; the unsplittable stretch and the other keys are rows.
        assert!((4..=10).contains(&columnar), "{kinds:?}");
        assert!(kinds.iter().any(|&c| !c));
        let mut probes = absent_probes(&m);
        probes.push((row_key(10_001), Seqno::MAX));
        let mut bounds = sample_bounds(&m);
        bounds.push((
            Bound::Included(Bytes::from(row_key(100))),
            Bound::Excluded(Bytes::from(row_key(5000))),
        ));
        check_table(&m, &t, &probes, &bounds);
        // Without the layout, such a table is refused with a clear error.
        let e = open_mem(bytes, Arc::new(BlockCache::new(0))).unwrap_err();
        assert!(
            matches!(&e, Error::InvalidArgument(m) if m.contains("value layout")),
            "{e}"
        );
    }

    #[test]
    fn a_layout_without_groups_writes_version_1_row_blocks_only() {
        let m = sample_model(300, 3);
        let (with, _, _) = write_mem(&m, copts(512));
        let (without, _, _) = write_mem(&m, opts(512, 0, 10));
        // The same blocks; only the footer's version differs.
        let n = with.len();
        assert_eq!(with[..n - FOOTER_LEN], without[..n - FOOTER_LEN]);
        let t = Arc::new(open_columnar(with).unwrap());
        assert!(t.columnar_blocks().iter().all(|&c| !c));
        check_table(&m, &t, &absent_probes(&m), &sample_bounds(&m));
    }

    #[test]
    fn flipped_bytes_in_columnar_blocks_are_corruption() {
        flipped_bytes_in_columnar_blocks_are_corruption_with(false);
        flipped_bytes_in_columnar_blocks_are_corruption_with(true);
    }

    fn flipped_bytes_in_columnar_blocks_are_corruption_with(row_keys: bool) {
        let m = columnar_model(600, 9);
        let (bytes, _) = write_columnar(&m, copts(4096), row_keys);
        let clean = open_columnar(bytes.clone()).unwrap();
        let handles = clean.block_handles();
        let kinds = clean.columnar_blocks();
        let first = kinds.iter().position(|&c| c).unwrap();
        assert_eq!(clean.packed_blocks()[first], !row_keys);
        let (offset, len) = handles[first];
        let keys: Vec<&Vec<u8>> = m.keys().map(|(k, _)| k).collect();
        // Positions through the block: keys (every byte of the first 64,
        // where a packed keys part has its header), columns, trailer.
        let step = (len / 23).max(1) as usize;
        let positions = (offset..offset + 64).chain((offset + 64..offset + len).step_by(step));
        for at in positions {
            let mut bad = bytes.to_vec();
            bad[at as usize] ^= 0x20;
            let t = Arc::new(open_columnar(Bytes::from(bad)).unwrap());
            let mut errors = 0;
            for k in &keys {
                match t.get(k, Seqno::MAX) {
                    Ok(got) => assert_eq!(
                        got.map(|e| version(&e)),
                        model_get(&m, k, Seqno::MAX),
                        "flip at {at}"
                    ),
                    Err(e) => {
                        assert_corruption_at(&e, offset);
                        errors += 1;
                    }
                }
            }
            assert!(errors > 0, "flip at {at} went unnoticed by get");
            let err = t
                .iter(Bound::Unbounded, Bound::Unbounded, false)
                .find_map(|e| e.err())
                .expect("a scan meets the damage");
            assert_corruption_at(&err, offset);
        }
    }

    #[test]
    fn row_blocks_without_a_hash_index_are_smaller_and_read_the_same() {
        let m = columnar_model(3000, 4);
        let (hashed, _) = write_columnar(&m, copts(512), false);
        let mut o = copts(512);
        o.layout = Some(Arc::new(Promising {
            utf8: false,
            hash_index: false,
        }));
        let (unhashed, _) = write_columnar(&m, o, false);
        // The row blocks (keys outside any group) lose their buckets.
        assert!(
            unhashed.len() < hashed.len(),
            "{} bytes without hash indexes, {} with",
            unhashed.len(),
            hashed.len()
        );
        let report = super::super::check_table(Path::new("mem.sst"), &unhashed);
        assert!(report.problems.is_empty(), "{:?}", report.problems);
        let t = Arc::new(open_with(
            unhashed,
            Arc::new(Promising {
                utf8: false,
                hash_index: false,
            }),
        ));
        check_table(&m, &t, &absent_probes(&m), &sample_bounds(&m));
    }

    /// Rows 0..200 of `t001` (an int and a text field); row `bad`'s text,
    /// if any, is not UTF-8. Written as columnar blocks.
    fn text_table(bad: Option<u64>) -> Bytes {
        let mut m = Model::new();
        for i in 0..200u64 {
            let text = if Some(i) == bad {
                vec![b'a', 0xff, 0xfe]
            } else {
                format!("name{i}").into_bytes()
            };
            let v = tagged(&[Field::Int(i as i64), Field::Text(&text)]);
            m.insert((row_key(i), Reverse(i + 1)), (Kind::Put, v));
        }
        let mut o = opts(4096, 0, 10);
        o.layout = Some(Arc::new(Promising::UTF8));
        write_mem(&m, o).0
    }

    fn open_with(bytes: Bytes, layout: Arc<dyn ValueLayout>) -> Table {
        Table::from_bytes_with(
            Path::new("mem.sst"),
            7,
            bytes,
            Arc::new(BlockCache::new(1 << 20)),
            std_io(),
            Some(layout),
        )
        .unwrap()
    }

    #[test]
    fn invalid_utf8_in_a_cached_block_is_corruption() {
        let bytes = text_table(Some(77));
        let t = open_with(bytes.clone(), Arc::new(Promising::UTF8));
        let (offset, _) = t.block_handles()[0];
        assert_eq!(t.columnar_blocks(), vec![true]);
        // Any point read by reference into the block caches it, so checks
        // its text: the damage is reported, naming file and block.
        for i in [5, 77] {
            let e = t.get_ref(&row_key(i), Seqno::MAX).unwrap_err();
            assert_corruption_at(&e, offset);
        }
        // A layout that promises nothing about text reads the bytes as
        // stored, from a block not marked checked.
        let t = open_with(bytes, Arc::new(TaggedLayout));
        match t.get_ref(&row_key(77), Seqno::MAX).unwrap() {
            Some((Kind::Put, PointRead::Block { block, row })) => {
                assert!(!block.text_is_utf8());
                let mut f = Vec::new();
                block.fields(row, &mut f);
                assert_eq!(f, [Field::Int(77), Field::Text(&[b'a', 0xff, 0xfe])]);
            }
            other => panic!("expected a columnar row, got {other:?}"),
        }
        // Valid text: the cached block is marked checked.
        let t = open_with(text_table(None), Arc::new(Promising::UTF8));
        match t.get_ref(&row_key(77), Seqno::MAX).unwrap() {
            Some((Kind::Put, PointRead::Block { block, row })) => {
                assert!(block.text_is_utf8());
                let mut f = Vec::new();
                block.fields(row, &mut f);
                assert_eq!(f, [Field::Int(77), Field::Text(b"name77")]);
            }
            other => panic!("expected a columnar row, got {other:?}"),
        }
    }

    #[test]
    fn check_table_reads_columnar_blocks() {
        let m = columnar_model(3000, 2);
        for row_keys in [false, true] {
            let (bytes, meta) = write_columnar(&m, copts(4096), row_keys);
            let report = super::super::check_table(Path::new("mem.sst"), &bytes);
            assert!(report.problems.is_empty(), "{:?}", report.problems);
            assert_eq!(report.meta, Some(meta));
        }
    }

    /// A packed keys part whose suffixes are out of order (crc made to
    /// match) is found by `check_table`, naming the block.
    #[test]
    fn check_table_finds_packed_keys_out_of_order() {
        let mut m = Model::new();
        for i in 0..100u64 {
            let v = tagged(&[Field::Int(i as i64)]);
            m.insert((row_key(i * 3), Reverse(i + 1)), (Kind::Put, v));
        }
        let (bytes, _) = write_columnar(&m, copts(4096), false);
        let t = open_columnar(bytes.clone()).unwrap();
        assert_eq!(t.packed_blocks(), vec![true]);
        let (offset, len) = t.block_handles()[0];
        // Header: rows u32, prefix length u16, prefix "t001", suffix base
        // u64, width u8, seqno base u64, width u8, flags u8; then the
        // suffixes (offsets 0, 3, 6, ... at 9 bits): make row 0's 5,
        // after row 1's 3.
        let suffixes = offset as usize + 4 + 2 + 4 + 8 + 1 + 8 + 1 + 1;
        let mut bad = bytes.to_vec();
        assert_eq!(bad[suffixes], 0);
        bad[suffixes] = 5;
        let end = (offset + len) as usize;
        let crc = crc32fast::hash(&bad[offset as usize..end - 4]);
        bad[end - 4..end].copy_from_slice(&crc.to_le_bytes());
        let report = super::super::check_table(Path::new("mem.sst"), &Bytes::from(bad));
        // (The filter, which never saw row 0's new key, is reported too.)
        let p = &report.problems[0];
        assert_eq!(
            (p.part, p.offset),
            (super::super::TablePart::Data, offset),
            "{p:?}"
        );
        assert!(p.reason.contains("out of order"), "{p:?}");
    }

    /// Version by version as a read at `at` finds it through `get_ref`.
    fn get_ref_version(t: &Table, key: &[u8], at: Seqno) -> Option<(Kind, Vec<u8>)> {
        let (kind, found) = t.get_ref(key, at).unwrap()?;
        Some(match found {
            PointRead::Row(v) => (kind, v.to_vec()),
            PointRead::Block { block, row } => {
                assert_eq!(&block.key_vec(row)[..], key, "another key's row");
                let mut v = Vec::new();
                block.value(row, &TaggedLayout, &mut v);
                (kind, v)
            }
        })
    }

    fn packed_key(group: u8, suffix: u64) -> Vec<u8> {
        let mut k = format!("t00{group}").into_bytes();
        k.extend_from_slice(&suffix.to_be_bytes());
        k
    }

    fn packed_model_strategy() -> impl Strategy<Value = Model> {
        let suffix = prop_oneof![
            6 => 0u64..200,
            1 => any::<u64>(),
            1 => Just(u64::MAX),
            1 => Just(0u64),
        ];
        let seqno = prop_oneof![8 => 1u64..400, 1 => Just(Seqno::MAX)];
        let version = (1u8..3, suffix, seqno, 0u8..8).prop_map(|(g, s, q, kind)| {
            let body = if kind == 0 {
                (Kind::Delete, Vec::new())
            } else {
                (
                    Kind::Put,
                    tagged(&[Field::Int(s as i64 ^ q as i64), Field::Bool(kind > 3)]),
                )
            };
            ((packed_key(g, s), Reverse(q)), body)
        });
        prop::collection::vec(version, 1..300).prop_map(|vs| vs.into_iter().collect())
    }

    /// Keys near the model's: prefix only, shorter, longer, neighbours.
    fn packed_probe_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => (1u8..3, 0u64..210).prop_map(|(g, s)| packed_key(g, s)),
            1 => (1u8..3, 0usize..12, 0u64..210).prop_map(|(g, n, s)| {
                let mut k = packed_key(g, s);
                k.truncate(n);
                k
            }),
            1 => (1u8..3, 0u64..210, any::<u8>()).prop_map(|(g, s, b)| {
                let mut k = packed_key(g, s);
                k.push(b);
                k
            }),
            1 => Just(packed_key(1, u64::MAX)),
            1 => prop::collection::vec(any::<u8>(), 0..14),
        ]
    }

    fn packed_bound_strategy() -> impl Strategy<Value = Bound<Bytes>> {
        bounds_of(packed_probe_strategy().boxed())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

        /// Random keys of one prefix and an integer, several versions
        /// each, tombstones and random seqnos: packed keys (and the row
        /// layout, for comparison) read back like the model through
        /// `get`, `get_ref` at random snapshots and scans both ways within
        /// random bounds.
        #[test]
        fn packed_keys_answer_like_the_model(
            m in packed_model_strategy(),
            rows in 1usize..70,
            row_keys in any::<bool>(),
            bounds in prop::collection::vec((packed_bound_strategy(), packed_bound_strategy()), 10),
            probes in prop::collection::vec(
                (packed_probe_strategy(), prop_oneof![0u64..400, Just(Seqno::MAX)]),
                24,
            ),
        ) {
            let mut o = copts(4096);
            o.columnar_rows = rows;
            let (bytes, _) = write_columnar(&m, o, row_keys);
            let t = Arc::new(open_columnar(bytes.clone()).unwrap());
            let packed = t.packed_blocks().iter().filter(|&&p| p).count();
            prop_assert_eq!(packed == 0, row_keys);
            check_table(&m, &t, &probes, &bounds);
            let model_ref = |k: &[u8], at: Seqno| {
                model_get(&m, k, at).map(|(_, _, kind, v)| (kind, v))
            };
            // Twice: the first read of a block caches it for the next.
            for _ in 0..2 {
                for (k, Reverse(s)) in m.keys() {
                    for at in [*s, s.saturating_sub(1), Seqno::MAX] {
                        prop_assert_eq!(get_ref_version(&t, k, at), model_ref(k, at));
                    }
                }
                for (k, at) in &probes {
                    prop_assert_eq!(get_ref_version(&t, k, *at), model_ref(k, *at));
                }
            }
            let report = super::super::check_table(Path::new("mem.sst"), &bytes);
            prop_assert!(report.problems.is_empty(), "{:?}", report.problems);
        }
    }
}

/// Point reads of table rows from row blocks (no layout) and from columnar
/// blocks (the same rows), for comparing the two:
/// `cargo nextest run -p fasty-storage --lib --run-ignored ignored-only -E 'test(bench_columnar_gets)' --no-capture`.
/// `BENCH_KEYS` (default 200 000) changes the table size. The two tables
/// are read in turns, seven rounds, and the median round reported.
#[test]
#[ignore = "benchmark"]
fn bench_columnar_gets() {
    use crate::columnar::Field;
    use crate::columnar::testing::{TaggedLayout, row_key, tagged};
    use std::time::Instant;
    let n: u64 = std::env::var("BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(99);
    let keys: Vec<[u8; 12]> = (0..500_000)
        .map(|_| row_key(rng.below(n)).try_into().unwrap())
        .collect();
    let mut tables = Vec::new();
    let only_columnar = std::env::var("BENCH_ONLY_COLUMNAR").is_ok();
    for (columnar, zstd) in [(false, 0), (false, 1), (true, 0)] {
        if only_columnar && !columnar {
            continue;
        }
        let path = dir.path().join(format!("bench-{columnar}-{zstd}.sst"));
        let file = StdIo::new().create(&path).unwrap();
        let mut o = opts(4096, zstd, 10);
        if columnar {
            o.layout = Some(Arc::new(TaggedLayout));
        }
        let mut w = TableWriter::new(file, path.clone(), o.clone());
        for i in 0..n {
            let name = format!("customer {}", i % 1000);
            let v = tagged(&[
                Field::Int(i as i64),
                Field::Text(name.as_bytes()),
                Field::Int((i % 97) as i64),
                Field::Float(i as f64 * 0.5),
                Field::Bool(i % 2 == 0),
            ]);
            w.add(&row_key(i), 1, Kind::Put, &v).unwrap();
        }
        let meta = w.finish().unwrap();
        let t = Table::open_with(
            &path,
            1,
            Arc::new(BlockCache::new(256 << 20)),
            std_io(),
            o.layout.clone(),
        )
        .unwrap();
        for k in &keys {
            t.get_value(k, 5).unwrap().unwrap();
        }
        tables.push((columnar, zstd, meta.file_size, t, Vec::new()));
    }
    for _ in 0..7 {
        for (_, _, _, t, rounds) in &mut tables {
            let started = Instant::now();
            let mut bytes = 0;
            for k in &keys {
                bytes += t.get_value(k, 5).unwrap().unwrap().1.len();
            }
            std::hint::black_box(bytes);
            rounds.push(keys.len() as f64 / started.elapsed().as_secs_f64() / 1e6);
        }
    }
    for (columnar, zstd, size, _, mut rounds) in tables {
        rounds.sort_by(f64::total_cmp);
        println!(
            "columnar {columnar}, zstd {zstd}: file {:.1} MiB, random gets {:.2} M/s (median of 7; min {:.2}, max {:.2})",
            size as f64 / (1 << 20) as f64,
            rounds[3],
            rounds[0],
            rounds[6],
        );
    }
}

/// The interpolation search of a block's key suffixes finds every value
/// of dense, sparse and skewed arrays, and nothing else.
#[test]
fn interpolation_search_finds_exactly_the_values() {
    use super::reader::interpolation_search;
    let mut rng = Rng(17);
    let dense: Vec<u64> = (1000..5096).collect();
    let sparse: Vec<u64> = (0..3000u64).map(|i| i * 7 + i % 3).collect();
    let mut skewed: Vec<u64> = (0..500u64).map(|i| i * i * i).collect();
    skewed.extend([u64::MAX - 1, u64::MAX]);
    let mut random: Vec<u64> = (0..2000).map(|_| rng.below(u64::MAX)).collect();
    random.sort_unstable();
    random.dedup();
    for s in [dense, sparse, skewed, random, vec![5], vec![]] {
        for (i, &v) in s.iter().enumerate() {
            assert_eq!(interpolation_search(&s, v), Some(i), "{v}");
            for w in [v.wrapping_add(1), v.wrapping_sub(1)] {
                let want = s.binary_search(&w).ok();
                assert_eq!(interpolation_search(&s, w), want, "{w}");
            }
        }
        for w in [0, 1, 999, 5096, u64::MAX] {
            assert_eq!(interpolation_search(&s, w), s.binary_search(&w).ok(), "{w}");
        }
    }
}
