//! Sorted string tables: immutable files of versions in internal order
//! (key ascending, sequence number descending).
//!
//! On-disk format version 1 is described in `docs/format.md`. In short: data
//! blocks (entries, an offsets array for binary search and a small hash index
//! for point lookups; zstd-compressed unless compression does not pay), each
//! followed by a one-byte compression tag and a crc32; then a bloom filter block over the
//! user keys, an index block (last key of every data block, its offset and
//! length), a properties block (min/max key, counts, seqno range), and a
//! fixed-size footer with the offsets of those blocks, the format version, a
//! magic number and its own crc32.
//!
//! Writes go through [`crate::io::WritableFile`]; reads go through a
//! `memmap2` map of the file and the shared [`BlockCache`]. This module owns
//! the file format and nothing else: which tables exist is the manifest's
//! business, when they are deleted the version set's.

mod block;
pub(crate) mod bloom;
mod reader;
mod writer;

#[cfg(test)]
mod tests;

#[cfg(test)]
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use reader::TableIter;
pub(crate) use reader::{Table, TableCursor, TablePart, TableRef, check_table};
pub(crate) use writer::{TableWriter, WriterOptions};

use bytes::Bytes;

use crate::types::Seqno;

/// The newest SST format version this build writes and reads: version 3
/// may hold columnar data blocks with packed keys (written when the
/// engine has a value layout).
pub(crate) const FORMAT_VERSION: u32 = 3;

/// The format version of files whose columnar blocks all keep their keys
/// in the row entry layout (the first columnar format), which this build
/// still reads.
pub(crate) const FORMAT_VERSION_COLUMNAR: u32 = 2;

/// The format version of files with row blocks only, which this build
/// still writes when there is no value layout (and reads).
pub(crate) const FORMAT_VERSION_ROWS: u32 = 1;

/// Index entry marker (the byte after the version 1 fields) of a columnar
/// data block; see `docs/format.md`.
pub(crate) const BLOCK_COLUMNAR: u8 = 1;

/// Index entry marker of a columnar data block whose keys part is packed
/// (format version 3 on); see `docs/format.md`.
pub(crate) const BLOCK_COLUMNAR_PACKED: u8 = 2;

/// The last eight bytes before the footer's crc: "FASTYSST" in ASCII.
const MAGIC: u64 = u64::from_le_bytes(*b"FASTYSST");

/// Length of the version 1 footer: six block handles (offset and stored
/// length of the filter, index and properties blocks), the version, its
/// complement, the magic and a crc32.
const FOOTER_LEN: usize = 6 * 8 + 4 + 4 + 8 + 4;

/// What a finished table holds, as recorded in the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableMeta {
    /// File size in bytes.
    pub file_size: u64,
    /// Number of versions (puts and tombstones).
    pub entries: u64,
    /// Smallest user key.
    pub min_key: Bytes,
    /// Largest user key.
    pub max_key: Bytes,
    /// Smallest sequence number stored (0 for an empty table).
    pub min_seqno: Seqno,
    /// Largest sequence number stored (0 for an empty table).
    pub max_seqno: Seqno,
}

pub(crate) use crate::cache::BlockCache;
