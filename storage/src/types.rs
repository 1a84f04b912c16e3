//! Small value types shared by the memtable, the SSTs and the engine.

use bytes::Bytes;

/// A sequence number: every applied batch has one, strictly increasing.
/// A read at sequence number `s` sees exactly the batches numbered `<= s`.
pub type Seqno = u64;

/// Whether a version of a key holds a value or deletes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub(crate) enum Kind {
    /// A tombstone: the key is absent from this version on.
    Delete = 0,
    /// A value.
    Put = 1,
}

impl Kind {
    pub(crate) fn from_u8(b: u8) -> Option<Kind> {
        match b {
            0 => Some(Kind::Delete),
            1 => Some(Kind::Put),
            _ => None,
        }
    }
}

/// One version of one key, as stored in memtables and SSTs.
///
/// The internal order is by `key` ascending, then `seqno` descending, so the
/// newest version of a key comes first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub key: Bytes,
    pub seqno: Seqno,
    pub kind: Kind,
    /// Empty for tombstones.
    pub value: Bytes,
}

/// Compares two versions in internal order (key asc, seqno desc).
#[inline]
pub(crate) fn internal_cmp(
    a_key: &[u8],
    a_seq: Seqno,
    b_key: &[u8],
    b_seq: Seqno,
) -> std::cmp::Ordering {
    a_key.cmp(b_key).then_with(|| b_seq.cmp(&a_seq))
}
