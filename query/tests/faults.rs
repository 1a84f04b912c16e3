//! The error codes that come from below the query layer: a failed log
//! fsync poisons the database (`poisoned`: writes refused, reads work,
//! nothing half-written), undecodable stored bytes are `corruption`, and
//! other storage failures (a data directory already in use) are
//! `storage_error`.

use std::sync::Arc;

use fasty_query::{Database, ErrorCode, Options, Output, Value};
use fasty_storage::background::{Stepper, check_seeds};
use fasty_storage::io::Io;
use fasty_storage::io::std_fs::StdIo;
use fasty_storage::io::testing::{FaultKind, SimIo};
use fasty_wal::{Durability, WriteBatch};

/// Durable mode over `io`, spare segments on, the background work (the
/// log writer, spares, flushes) run as steps of `stepper`: nothing writes
/// through `io` at its own pace, so a fault aimed at a step counted from
/// now lands where the test means it to.
fn durable_on(io: Arc<SimIo>, stepper: &Stepper) -> Options {
    let mut opts = Options::durable();
    opts.wal.durability = Durability::Durable;
    opts.wal.storage.custom_io = Some(io as Arc<dyn Io>);
    opts.wal.storage.stepper = Some(stepper.clone());
    // Small segments: each spare is a segment of zeros written ahead.
    opts.wal.segment_size = 64 << 10;
    opts
}

fn count(db: &Database, q: &str) -> i64 {
    match db.execute(q).unwrap() {
        Output::Rows { rows, .. } => match rows[0][0] {
            Value::Int(n) => n,
            ref v => panic!("{v:?}"),
        },
        o => panic!("{o:?}"),
    }
}

#[test]
fn a_failed_fsync_poisons_writes_and_reads_still_work() {
    check_seeds("a_failed_fsync_poisons_writes", 8, a_failed_fsync_poisons);
}

fn a_failed_fsync_poisons(seed: u64) {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimIo::new(Arc::new(StdIo::new()));
    let stepper = Stepper::new(seed);
    let db = Database::open(dir.path(), durable_on(sim.clone(), &stepper)).unwrap();
    db.execute("create table t { id: int, x: int }").unwrap();
    db.execute("create index ix on t (x)").unwrap();
    db.execute("insert t [ {id: 1, x: 1}, {id: 2, x: 2} ]")
        .unwrap();
    // Background work left (the next spare segment written ahead, the move
    // into a spare of a segment started without one) is done now.
    stepper.run_until_idle();
    assert!(db.kv().stats().log_spares_used >= 1, "spares are on");
    // The next durable write is one append and one fsync; fail the fsync.
    sim.inject(sim.ops() + 1, FaultKind::FailSync);
    let e = db
        .execute("insert t [ {id: 3, x: 3}, {id: 4, x: 4} ]")
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Poisoned, "{e}");
    assert_eq!(
        db.execute("insert t { id: 5 }").unwrap_err().code(),
        ErrorCode::Poisoned
    );
    assert_eq!(
        db.execute("delete t where id = 1").unwrap_err().code(),
        ErrorCode::Poisoned
    );
    // Reads work and see neither half of the failed batch.
    assert_eq!(count(&db, "select count(*) from t"), 2);
    assert_eq!(count(&db, "select count(*) from t where x = 3"), 0);
}

#[test]
fn undecodable_rows_and_catalog_entries_are_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), Options::default()).unwrap();
    db.execute("create table t { id: int, x: int }").unwrap();
    db.execute("insert t { id: 1, x: 1 }").unwrap();
    // Table ids start at 1: the row key of id 2 is 00 00 00 01 + the
    // order-preserving id; store garbage there, below the query layer.
    let mut key = vec![0, 0, 0, 1];
    key.extend_from_slice(&(2i64 as u64 ^ (1 << 63)).to_be_bytes());
    let mut b = WriteBatch::new();
    b.put(&key, b"\x07garbage");
    db.kv().write(b).unwrap();
    let e = db.execute("select * from t").unwrap_err();
    assert_eq!(e.code(), ErrorCode::Corruption, "{e}");
    assert_eq!(
        count(&db, "select count(*) from t where id = 1"),
        1,
        "other rows still read"
    );
    // A catalog entry that does not decode stops the open.
    let mut b = WriteBatch::new();
    b.put(b"\0\0\0\0tbroken", b"{not json");
    db.kv().write(b).unwrap();
    db.close().unwrap();
    let e = Database::open(dir.path(), Options::default())
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::Corruption, "{e}");
}

#[test]
fn a_directory_in_use_is_a_storage_error() {
    let dir = tempfile::tempdir().unwrap();
    let _db = Database::open(dir.path(), Options::default()).unwrap();
    let e = Database::open(dir.path(), Options::default())
        .err()
        .unwrap();
    assert_eq!(e.code(), ErrorCode::StorageError, "{e}");
}
