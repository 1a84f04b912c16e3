//! fasty-wal: a durable, recoverable ordered key-value store — fasty's
//! storage engine plus a segmented write-ahead log.
//!
//! The data path of a write: [`Db::write`] (`db`, the front door) →
//! `queue` (sequence number, record framed into the queue) → `writer` (one
//! log writer thread writes and fsyncs every queued record at once) →
//! `fasty_storage::Engine::apply`. `shared` holds what the handle and the
//! workers share; `lifecycle` creates, rolls back and rotates segments, and
//! in durable mode `spare` writes the next segment ahead of time as zeros,
//! so that appends overwrite it; `stepped` runs the writer and spares as
//! steps of a test's seeded stepper instead of threads. Reads go straight
//! to the engine. At open, `recovery` replays the log after the engine's
//! flushed sequence number; `segment` and `record` are the on-disk format
//! (`docs/wal.md`).
//!
//! Three durability modes ([`Durability`], docs/wal.md): `Async` acknowledges at
//! once and fsyncs every sync interval (a crash loses at most that
//! interval; a clean stop nothing); `Durable` acknowledges after the fsync
//! covering the write (group commit); `Memory` keeps no log at all.
//!
//! ```
//! use fasty_wal::{Db, Options, WriteBatch};
//! let dir = tempfile::tempdir()?;
//! let db = Db::open(dir.path(), Options::default())?;  // async, 50 ms
//! let mut batch = WriteBatch::new();
//! batch.put(&b"k"[..], &b"v"[..]);
//! db.write(batch)?;
//! db.sync()?;                                          // durable now
//! assert_eq!(db.get(b"k")?.as_deref(), Some(&b"v"[..]));
//! use std::ops::Bound::{Excluded, Included};
//! for pair in db.scan((Included(&b"a"[..]), Excluded(&b"z"[..]))) {
//!     let (_key, _value) = pair?;
//! }
//! db.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
#![warn(missing_docs)]

mod backup;
mod db;
mod error;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
mod lifecycle;
mod options;
mod queue;
mod record;
mod recovery;
mod segment;
mod shared;
mod spare;
mod stepped;
mod writer;

pub use backup::{BackupReport, backup, restore};
pub use db::{Db, Stats};
pub use error::{Error, ErrorKind, Result};
pub use fasty_storage::{BatchOp, Scan, Seqno, Snapshot, WriteBatch};
/// The columnar side of storage, for callers of [`Snapshot::pieces`] and
/// of `fasty_storage::Options::with_value_layout` (set through
/// [`Options::with_storage`]).
pub use fasty_storage::{
    Bitmap, BlockFilter, Column, ColumnBlock, ColumnKind, ColumnZone, Dict, Encoded, Field, Lent,
    Packed, Piece, Pieces, PointRead, PointRef, RangeTest, Selection, VECTOR_ROWS, ValueLayout,
    Verdict, Zone, Zones,
};
pub use options::{Durability, Options};
pub use recovery::{Problem, ProblemKind, RepairReport, ReplayStats, VerifyReport, repair, verify};

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
