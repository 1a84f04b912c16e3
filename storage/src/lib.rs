//! fasty-storage: an ordered key-value engine (LSM tree).
//!
//! The data path of a write: [`Engine::apply`] → `memtable` → (`flush`) →
//! `sst` files written through [`io`] → (`compaction`) → deeper levels, with
//! the `manifest` recording which files are live. Reads merge memtables and
//! tables (`version`, `iter`) through the block `cache`.
//!
//! ```
//! use fasty_storage::{Engine, Options, WriteBatch};
//! let engine = Engine::open("unused", Options::memory())?;
//! let mut batch = WriteBatch::new();
//! batch.put(&b"k"[..], &b"v"[..]);
//! engine.apply(&batch, 1)?;
//! assert_eq!(engine.get(b"k")?.as_deref(), Some(&b"v"[..]));
//! # Ok::<(), fasty_storage::Error>(())
//! ```
#![deny(clippy::unwrap_used)]
#![cfg_attr(test, allow(clippy::unwrap_used))]
#![warn(missing_docs)]

pub mod background;
mod batch;
mod cache;
mod columnar;
mod compaction;
mod context;
mod counters;
mod dir;
mod engine;
pub mod error;
mod flush;
#[cfg(any(test, feature = "fuzzing"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod io;
mod iter;
mod manifest;
mod memtable;
mod options;
mod pieces;
pub mod repair;
mod snapshots;
mod sst;
mod status;
mod types;
mod version;
mod versions;
mod workers;

pub use batch::{BatchOp, MalformedBatch, WriteBatch};
pub use columnar::{
    Bitmap, Column, ColumnBlock, ColumnKind, ColumnZone, Dict, Encoded, Field, Packed, PointRead,
    PointRef, RangeTest, VECTOR_ROWS, ValueLayout, Zone, Zones,
};
pub use engine::{Engine, LevelStats, Snapshot, Stats};
pub use error::{Error, Result};
pub use io::IoBackend;
pub use iter::{KeyRange, Scan};
pub use manifest::{LiveFiles, MANIFEST_FILE, live_files};
pub use options::Options;
pub use pieces::{BlockFilter, Lent, Piece, Pieces, Selection, Verdict};
pub use types::Seqno;

/// The README's examples, compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
