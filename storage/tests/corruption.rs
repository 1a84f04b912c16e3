//! Corrupt and foreign files: a flipped byte anywhere in an SST or the
//! manifest is reported as corruption naming the file (never a panic, never
//! wrong data), and an unknown format version is a clear error.

use std::path::{Path, PathBuf};

use fasty_storage::{Engine, Error, Options, WriteBatch};

fn options() -> Options {
    Options::default()
        .with_block_size(512)
        .with_background(false)
        .with_block_cache_budget(0)
}

fn build(dir: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let engine = Engine::open(dir, options()).expect("open");
    let mut pairs = Vec::new();
    for i in 0..400u32 {
        let mut b = WriteBatch::new();
        let (k, v) = (
            format!("key{i:05}").into_bytes(),
            format!("value{i}").repeat(3).into_bytes(),
        );
        b.put(k.clone(), v.clone());
        pairs.push((k, v));
        engine.apply(&b, u64::from(i) + 1).expect("apply");
    }
    engine.close().expect("close");
    pairs
}

fn sst_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sst"))
        .collect();
    v.sort();
    v
}

/// Opens, scans everything and gets every key; returns the first error.
fn read_all(dir: &Path, pairs: &[(Vec<u8>, Vec<u8>)]) -> Result<(), Error> {
    let engine = Engine::open(dir, options())?;
    let mut n = 0;
    for item in engine.scan(..) {
        let (k, v) = item?;
        assert_eq!(
            (k.as_ref(), v.as_ref()),
            (pairs[n].0.as_slice(), pairs[n].1.as_slice()),
            "wrong data"
        );
        n += 1;
    }
    assert_eq!(n, pairs.len(), "rows went missing without an error");
    for (k, v) in pairs {
        assert_eq!(
            engine.get(k)?.as_deref(),
            Some(v.as_slice()),
            "wrong data from get"
        );
    }
    Ok(())
}

#[test]
fn flipped_byte_anywhere_in_an_sst_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pairs = build(dir.path());
    let files = sst_files(dir.path());
    assert_eq!(files.len(), 1);
    let sst = &files[0];
    let original = std::fs::read(sst).expect("read");
    read_all(dir.path(), &pairs).expect("intact file reads back");
    for pos in (0..original.len()).step_by(11).chain([original.len() - 1]) {
        let mut bytes = original.clone();
        bytes[pos] ^= 0x20;
        std::fs::write(sst, &bytes).expect("write");
        match read_all(dir.path(), &pairs) {
            Err(Error::Corruption { path, .. }) => assert_eq!(&path, sst, "error names the file"),
            Err(other) => panic!("flip at {pos}: expected corruption, got {other}"),
            Ok(()) => panic!("flip at {pos} went undetected"),
        }
    }
    std::fs::write(sst, &original).expect("restore");
    read_all(dir.path(), &pairs).expect("restored file reads back");
}

#[test]
fn truncated_sst_is_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pairs = build(dir.path());
    let sst = sst_files(dir.path()).remove(0);
    let original = std::fs::read(&sst).expect("read");
    for len in [0, 10, original.len() / 2, original.len() - 1] {
        std::fs::write(&sst, &original[..len]).expect("write");
        assert!(
            matches!(read_all(dir.path(), &pairs), Err(Error::Corruption { .. })),
            "truncated to {len}"
        );
    }
}

#[test]
fn corruption_error_names_file_and_offset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pairs = build(dir.path());
    let sst = sst_files(dir.path()).remove(0);
    let mut bytes = std::fs::read(&sst).expect("read");
    bytes[100] ^= 0xff; // inside the first data block
    std::fs::write(&sst, &bytes).expect("write");
    let err = read_all(dir.path(), &pairs).expect_err("must fail");
    let msg = err.to_string();
    assert!(
        msg.contains(&sst.display().to_string()),
        "message names the file: {msg}"
    );
    match err {
        Error::Corruption { offset, .. } => {
            assert!(offset <= 100, "offset {offset} is the bad block's")
        }
        other => panic!("expected corruption, got {other}"),
    }
}

#[test]
fn corrupt_manifest_refuses_to_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path());
    let path = dir.path().join("MANIFEST");
    let mut bytes = std::fs::read(&path).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&path, &bytes).expect("write");
    match Engine::open(dir.path(), options()) {
        Err(Error::Corruption { path: p, .. }) => assert_eq!(p, path),
        Err(other) => panic!("expected corruption, got {other}"),
        Ok(_) => panic!("opened with a corrupt manifest"),
    }
}

#[test]
fn unknown_manifest_version_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    build(dir.path());
    let path = dir.path().join("MANIFEST");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[8..12].copy_from_slice(&7u32.to_le_bytes());
    std::fs::write(&path, &bytes).expect("write");
    match Engine::open(dir.path(), options()) {
        Err(e @ Error::UnsupportedVersion { found: 7, .. }) => {
            assert!(e.to_string().contains("version 7"), "{e}");
        }
        Err(other) => panic!("expected an unsupported version, got {other}"),
        Ok(_) => panic!("opened a manifest of unknown version"),
    }
}

#[test]
fn a_second_engine_on_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = Engine::open(dir.path(), options()).expect("open");
    let second = Engine::open(dir.path(), options());
    assert!(second.is_err(), "two engines on one directory");
    drop(first);
    Engine::open(dir.path(), options()).expect("open after the first closed");
}

#[test]
fn memory_only_writes_nothing_to_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("never");
    let engine = Engine::open(&path, Options::memory()).expect("open");
    for i in 0..1000u32 {
        let mut b = WriteBatch::new();
        b.put(i.to_be_bytes(), vec![7u8; 100]);
        engine.apply(&b, u64::from(i) + 1).expect("apply");
    }
    engine.flush().expect("flush");
    engine.compact().expect("compact");
    assert_eq!(engine.scan(..).count(), 1000);
    engine.close().expect("close");
    assert!(
        !path.exists(),
        "memory-only mode created {}",
        path.display()
    );
}
