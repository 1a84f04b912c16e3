//! A full disk (`ENOSPC`) keeps every acknowledged write and is not fatal:
//! - async mode: a failed log write keeps its records queued (they are
//!   acknowledged and applied), new writes are refused with `disk_full`
//!   while the log is stalled, the writer retries, and once there is space
//!   again writing resumes and a clean close writes everything;
//! - durable mode: the write whose append failed is refused (never
//!   acknowledged, never applied), the next write tries again, and nothing
//!   is lost or duplicated;
//! - a spare segment written ahead gives its space back first, so it is
//!   never why an append fails.
//!
//! Faults come from the simulated backend ([`FaultKind::NoSpace`] at every
//! step, or a disk that is full until told otherwise), and from a real
//! small tmpfs the test mounts (skipped where mounting is not permitted).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use fasty_storage::io::testing::{FaultKind, SimIo, Torn};
use fasty_wal::{Db, Durability, Error, Options, WriteBatch};

fn assert_disk_full(e: &Error) {
    assert_eq!(e.code(), "disk_full", "expected disk_full, got {e}");
    assert!(!e.is_poisoned());
    assert!(e.to_string().contains("free disk space"), "{e}");
}

/// The model holding `batches`, applied in order.
fn model_of(batches: &[Changes]) -> Model {
    let mut m = Model::new();
    for c in batches {
        apply_to(&mut m, c);
    }
    m
}

/// Writes batches 0..40 with a checkpoint and a few syncs in between,
/// recording which were acknowledged and which refused. Every refusal must
/// be `disk_full` (never poisoned).
fn workload(db: &Db, acked: &mut Vec<Changes>, refused: &mut usize) {
    for n in 0..40u64 {
        if n == 25
            && let Err(e) = db.checkpoint()
        {
            assert!(!e.is_poisoned(), "checkpoint poisoned: {e}");
        }
        if n % 8 == 7
            && let Err(e) = db.sync()
        {
            assert_disk_full(&e);
        }
        let (b, changes) = make_batch(n, 3);
        match db.write(b) {
            Ok(_) => acked.push(changes),
            Err(e) => {
                assert_disk_full(&e);
                *refused += 1;
            }
        }
    }
}

/// [`options`], with or without spare segments.
fn opts_with(durability: Durability, spares: bool, sim: &Arc<SimIo>) -> Options {
    options(durability, Some(sim.clone())).with_preallocate_segments(spares)
}

/// Counts the I/O steps of a clean run of [`workload`].
fn steps(durability: Durability, spares: bool) -> u64 {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim();
    let db = Db::open(dir.path(), opts_with(durability, spares, &sim)).unwrap();
    let start = sim.ops();
    let (mut acked, mut refused) = (Vec::new(), 0);
    workload(&db, &mut acked, &mut refused);
    assert_eq!((acked.len(), refused), (40, 0));
    sim.ops() - start
}

/// `ENOSPC` at each step of a workload, in both modes (durable with and
/// without a spare segment, which gives its space back so that no write
/// fails at all there): nothing is poisoned,
/// every acknowledged write is visible at once, the database goes on
/// writing, and after a clean close (even steps) or a power cut right after
/// the workload's final sync (odd steps) exactly the acknowledged batches
/// are there — none lost, none refused one applied.
#[test]
fn out_of_space_at_every_step_loses_nothing_and_needs_no_restart() {
    for (durability, spares) in [
        (Durability::Durable, true),
        (Durability::Durable, false),
        (async_manual(), false),
    ] {
        let steps = steps(durability, spares);
        assert!(steps > 20, "{steps}");
        let mut refusals = 0;
        for step in 0..steps {
            let dir = tempfile::tempdir().unwrap();
            let sim = sim();
            let opts = || opts_with(durability, spares, &sim);
            let db = Db::open(dir.path(), opts()).unwrap();
            sim.inject(sim.ops() + step, FaultKind::NoSpace);
            let (mut acked, mut refused) = (Vec::new(), 0);
            workload(&db, &mut acked, &mut refused);
            refusals += refused;
            let what = format!("{} (spares {spares}) at step {step}", durability.name());
            assert!(db.stats().poisoned.is_none(), "{what}: poisoned");
            let model = model_of(&acked);
            assert_eq!(contents(&db), model, "{what}");
            // Space is back (the fault fired once): writing works again,
            // without a restart.
            let (b, changes) = make_batch(500, 2);
            let mut acked_after = acked.clone();
            let mut tries = 0;
            loop {
                match db.write(b.clone()) {
                    Ok(_) => break,
                    Err(e) => {
                        // An async log still waiting for its retry.
                        assert_disk_full(&e);
                        tries += 1;
                        assert!(tries < 500, "{what}: writes never resumed");
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            }
            acked_after.push(changes);
            let model = model_of(&acked_after);
            if step % 2 == 0 {
                db.close()
                    .unwrap_or_else(|e| panic!("{what}: close failed: {e}"));
            } else {
                db.sync()
                    .unwrap_or_else(|e| panic!("{what}: sync failed: {e}"));
                crash(db, &sim, Torn::DropUnsynced);
            }
            let db = Db::open(dir.path(), opts())
                .unwrap_or_else(|e| panic!("{what}: reopen failed: {e}"));
            assert_eq!(contents(&db), model, "{what} after reopen");
            db.close().unwrap();
        }
        if spares {
            assert_eq!(refusals, 0, "a spare was the cause of a failed write");
        } else {
            assert!(
                refusals > 0,
                "{}: no step made a write fail",
                durability.name()
            );
        }
    }
}

/// The scenario of a server on a full disk: async writes acknowledged,
/// the disk fills (the log and the engine both fail to write), writes are
/// refused with `disk_full` while it is full, space is freed, and a clean
/// stop writes every acknowledged batch.
#[test]
fn async_writes_survive_a_full_disk_and_a_close_once_space_is_back() {
    for close_at_once in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let sim = sim();
        let opts = || options(async_manual(), Some(sim.clone()));
        let db = Db::open(dir.path(), opts()).unwrap();
        let mut acked = Vec::new();
        for n in 0..30 {
            let (b, changes) = make_batch(n, 3);
            db.write(b).unwrap();
            acked.push(changes);
        }
        db.sync().unwrap();
        sim.set_disk_full(true);
        // Acknowledged before the log writer notices the disk is full.
        for n in 30..60 {
            let (b, changes) = make_batch(n, 3);
            db.write(b).unwrap();
            acked.push(changes);
        }
        assert_disk_full(&db.sync().unwrap_err());
        let (b, _) = make_batch(1000, 1);
        assert_disk_full(&db.write(b).unwrap_err());
        assert!(db.checkpoint().is_err());
        assert!(db.stats().poisoned.is_none());
        // Reads see every acknowledged write meanwhile.
        assert_eq!(contents(&db), model_of(&acked));
        sim.set_disk_full(false);
        if !close_at_once {
            // The writer's own retry brings writes back.
            let mut tries = 0;
            let (b, changes) = make_batch(61, 3);
            while let Err(e) = db.write(b.clone()) {
                assert_disk_full(&e);
                tries += 1;
                assert!(tries < 500, "writes never resumed");
                std::thread::sleep(Duration::from_millis(10));
            }
            acked.push(changes);
            db.sync().unwrap();
        }
        db.close().unwrap();
        let db = Db::open(dir.path(), opts()).unwrap();
        assert_eq!(
            contents(&db),
            model_of(&acked),
            "close_at_once {close_at_once}"
        );
    }
}

/// Closing while the disk is still full fails, saying so, rather than
/// pretending; the writes synced before are there after a restart.
#[test]
fn closing_on_a_full_disk_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim();
    let opts = || options(async_manual(), Some(sim.clone()));
    let db = Db::open(dir.path(), opts()).unwrap();
    let mut synced = Vec::new();
    for n in 0..10 {
        let (b, changes) = make_batch(n, 3);
        db.write(b).unwrap();
        synced.push(changes);
    }
    db.sync().unwrap();
    let (b, _) = make_batch(10, 3);
    db.write(b).unwrap();
    sim.set_disk_full(true);
    let err = db.close().unwrap_err();
    assert!(err.to_string().contains("No space left"), "{err}");
    sim.set_disk_full(false);
    let db = Db::open(dir.path(), opts()).unwrap();
    let got = contents(&db);
    let with_last = {
        let mut all = synced.clone();
        all.push(make_batch(10, 3).1);
        model_of(&all)
    };
    assert!(got == model_of(&synced) || got == with_last);
}

/// Durable mode with a spare segment written ahead: when an append runs
/// out of space, the spare is removed and the append written again, so the
/// write succeeds; the spare is never why a write fails.
#[test]
fn the_spare_segment_gives_its_space_to_a_failing_append() {
    let dir = tempfile::tempdir().unwrap();
    let sim = sim();
    let opts = || options(Durability::Durable, Some(sim.clone()));
    let db = Db::open(dir.path(), opts()).unwrap();
    let spare = dir.path().join("wal/spare.ready");
    assert!(spare.exists(), "a spare is ready after open");
    let mut acked = Vec::new();
    for n in 0..3 {
        let (b, changes) = make_batch(n, 2);
        db.write(b).unwrap();
        acked.push(changes);
    }
    // The next write: its append runs out of space.
    sim.inject(sim.ops(), FaultKind::NoSpace);
    let (b, changes) = make_batch(3, 2);
    db.write(b)
        .expect("the write succeeds once the spare is gone");
    acked.push(changes);
    assert!(!spare.exists(), "the spare gave its space back");
    for n in 4..60 {
        let (b, changes) = make_batch(n, 2);
        db.write(b).unwrap();
        acked.push(changes);
    }
    assert_eq!(contents(&db), model_of(&acked));
    crash(db, &sim, Torn::DropUnsynced);
    let db = Db::open(dir.path(), opts()).unwrap();
    assert_eq!(contents(&db), model_of(&acked));
}

/// A tmpfs of `mib` MiB mounted for one test, unmounted (and its mount
/// point removed) when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `None` (with a message) where mounting is not permitted.
    fn mount(mib: u64) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { dir }),
            Ok(o) => {
                eprintln!(
                    "skipped: cannot mount a tmpfs here ({}): needs root and CAP_SYS_ADMIN",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("skipped: cannot run mount: {e}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the file system holding `path` with a file there, until a write
/// fails; returns the file.
fn fill_up(path: &Path) -> PathBuf {
    use std::io::Write as _;
    let file = path.join("filler");
    let mut f = std::fs::File::create(&file).unwrap();
    let chunk = vec![0xa5u8; 1 << 20];
    loop {
        if f.write_all(&chunk).is_err() {
            break;
        }
    }
    // Fill the last few KiB too.
    let small = vec![0xa5u8; 4096];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
    file
}

fn tmpfs_options(durability: Durability) -> Options {
    Options::default()
        .with_durability(durability)
        .with_segment_size(8 << 20)
        .with_storage(fasty_storage::Options::default().with_memtable_budget(1 << 20))
}

/// A batch of `n`: 4 KiB under a key of its own.
fn big_batch(n: u64) -> (Vec<u8>, WriteBatch) {
    let key = format!("key{n:08}").into_bytes();
    let mut b = WriteBatch::new();
    b.put(key.clone(), vec![(n % 251) as u8; 4096]);
    (key, b)
}

/// Real full disk: a tmpfs is filled from outside while the database
/// writes. Writes are refused while it is full; once the filler is
/// removed, writes succeed again without a restart, a clean close
/// succeeds, and after reopening every acknowledged batch is there and no
/// refused one.
#[test]
fn a_real_full_disk_in_both_modes() {
    for durability in [
        Durability::Async {
            sync_interval: Duration::from_millis(20),
        },
        Durability::Durable,
    ] {
        let Some(fs) = Tmpfs::mount(64) else {
            return;
        };
        // Most of the volume is taken before the database starts, so the
        // database's own files stay small beside the space freed later
        // (else its flushes and compactions could take all of it back).
        let prefill = fs.path().join("prefill");
        std::fs::write(&prefill, vec![0x5au8; 44 << 20]).unwrap();
        let data = fs.path().join("db");
        let db = Arc::new(Db::open(&data, tmpfs_options(durability)).unwrap());
        // The writer writes until the full disk refused 20 writes, waits
        // until space is freed, then writes until 20 more succeeded (not
        // more: the log would fill the small volume again by itself), or
        // gives up after 2,000 refusals once space is back (a bound on a
        // hang: the assertions below then fail).
        let freed = Arc::new(AtomicBool::new(false));
        let refusals = Arc::new(AtomicUsize::new(0));
        let writer = {
            let (db, freed, refusals) = (db.clone(), freed.clone(), refusals.clone());
            std::thread::spawn(move || {
                let (mut acked, mut refused) = (Vec::new(), Vec::new());
                let mut after = 0;
                let mut refused_after = 0;
                let mut n = 0u64;
                while after < 20 && refused_after < 2000 {
                    if refused.len() >= 20 && !freed.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    let (key, b) = big_batch(n);
                    n += 1;
                    match db.write(b) {
                        Ok(_) => {
                            acked.push(key);
                            if freed.load(Ordering::Acquire) {
                                after += 1;
                            }
                        }
                        Err(e) => {
                            assert_disk_full(&e);
                            refused.push(key);
                            if freed.load(Ordering::Acquire) {
                                refused_after += 1;
                            }
                            refusals.fetch_add(1, Ordering::Release);
                            std::thread::sleep(Duration::from_millis(5));
                        }
                    }
                }
                (acked, refused)
            })
        };
        let what = durability.name();
        std::thread::sleep(Duration::from_millis(100));
        let filler = fill_up(fs.path());
        // Wait (a bound on a hang, not a timing assertion) until the full
        // disk refused writes.
        let mut waited = 0;
        while refusals.load(Ordering::Acquire) < 20 && waited < 3000 {
            std::thread::sleep(Duration::from_millis(10));
            waited += 1;
        }
        assert!(
            refusals.load(Ordering::Acquire) >= 20,
            "{what}: the full disk refused no writes"
        );
        assert!(db.stats().poisoned.is_none(), "{what}: poisoned");
        // Space is back: writes succeed again, with no restart.
        std::fs::remove_file(&filler).unwrap();
        std::fs::remove_file(&prefill).unwrap();
        freed.store(true, Ordering::Release);
        let (acked, refused) = writer.join().unwrap();
        assert!(
            refused.len() < 20 + 2000,
            "{what}: writes still refused after space came back"
        );
        let db = Arc::into_inner(db).unwrap();
        db.close()
            .unwrap_or_else(|e| panic!("{what}: close failed: {e}"));
        let db = Db::open(&data, tmpfs_options(durability)).unwrap();
        for key in &acked {
            assert!(
                db.get(key).unwrap().is_some(),
                "{what}: acknowledged {} lost",
                String::from_utf8_lossy(key)
            );
        }
        for key in &refused {
            assert_eq!(
                db.get(key).unwrap(),
                None,
                "{what}: refused {} applied",
                String::from_utf8_lossy(key)
            );
        }
        db.close().unwrap();
    }
}

/// Durable mode on a small volume: a spare segment is written ahead only
/// when at least two segments' worth of space is free, so on a volume
/// barely larger than a segment it never takes the space the log needs.
#[test]
fn no_spare_segment_on_a_volume_without_room_for_it() {
    for (mib, expect_spare) in [(100u64, false), (200, true)] {
        let Some(fs) = Tmpfs::mount(mib) else {
            return;
        };
        let data = fs.path().join("db");
        let opts = || {
            Options::durable()
                .with_storage(fasty_storage::Options::default().with_background(false))
        };
        let db = Db::open(&data, opts()).unwrap();
        let spare = data.join("wal/spare.ready");
        assert_eq!(spare.exists(), expect_spare, "{mib} MiB volume");
        let mut keys = Vec::new();
        for n in 0..100 {
            let (key, b) = big_batch(n);
            db.write(b).unwrap();
            keys.push(key);
        }
        db.close().unwrap();
        let db = Db::open(&data, opts()).unwrap();
        for key in &keys {
            assert!(db.get(key).unwrap().is_some());
        }
        db.close().unwrap();
    }
}
