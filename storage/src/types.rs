//! Small value types shared by the memtable, the SSTs and the engine.

use bytes::Bytes;

/// A sequence number: every applied batch has one, strictly increasing.
/// A read at sequence number `s` sees exactly the batches numbered `<= s`.
pub type Seqno = u64;

/// Sequence numbers must fit in 63 bits: the kind shares their word in a
/// memtable's keys.
pub(crate) const MAX_SEQNO: Seqno = (1 << 63) - 1;

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

/// One version of a key as a table writer consumes it: an owned [`Entry`]
/// (flush, compaction) or a borrowed one (a sorted run's flush).
pub(crate) trait TableInput {
    fn key(&self) -> &[u8];
    fn seqno(&self) -> Seqno;
    fn kind(&self) -> Kind;
    fn value(&self) -> &[u8];
}

impl TableInput for Entry {
    fn key(&self) -> &[u8] {
        &self.key
    }
    fn seqno(&self) -> Seqno {
        self.seqno
    }
    fn kind(&self) -> Kind {
        self.kind
    }
    fn value(&self) -> &[u8] {
        &self.value
    }
}

/// Whether a computed checksum matches the stored one. Fuzz builds
/// (`cfg(fuzzing)`, set by cargo-fuzz) accept any checksum so that the
/// fuzzer reaches the decoders behind it instead of stopping at the crc.
#[inline]
pub(crate) fn checksum_ok(computed: u32, stored: u32) -> bool {
    cfg!(fuzzing) || computed == stored
}

/// Compares two versions in internal order (key asc, seqno desc).
#[inline]
pub(crate) fn internal_cmp(
    a_key: &[u8],
    a_seq: Seqno,
    b_key: &[u8],
    b_seq: Seqno,
) -> std::cmp::Ordering {
    compare_keys(a_key, b_key).then_with(|| b_seq.cmp(&a_seq))
}

/// Lexicographic byte order, eight bytes at a time: short keys (the query
/// layer's are 12 bytes) compare in a couple of integer compares instead of a
/// call to `memcmp`.
#[inline]
pub(crate) fn compare_keys(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = load_be(&a[i..i + 8]);
        let y = load_be(&b[i..i + 8]);
        if x != y {
            return x.cmp(&y);
        }
        i += 8;
    }
    if i < n {
        // Fewer than 8 common bytes left. With 8 or more in all, compare
        // the last 8 (the ones before `i` are equal); else byte by byte.
        let (x, y) = if n >= 8 {
            (load_be(&a[n - 8..n]), load_be(&b[n - 8..n]))
        } else {
            (load_be_short(&a[..n]), load_be_short(&b[..n]))
        };
        if x != y {
            return x.cmp(&y);
        }
    }
    a.len().cmp(&b.len())
}

/// Whether two keys are equal (as [`compare_keys`], without `memcmp`).
#[inline]
pub(crate) fn same_key(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && compare_keys(a, b).is_eq()
}

/// Up to 8 bytes as a big-endian integer, zero-padded on the right.
#[inline]
fn load_be_short(bytes: &[u8]) -> u64 {
    let mut v = 0u64;
    for &b in bytes {
        v = v << 8 | u64::from(b);
    }
    v << (8 * (8 - bytes.len().min(8)) % 64)
}

#[inline]
fn load_be(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    buf.copy_from_slice(bytes);
    u64::from_be_bytes(buf)
}

/// The first 16 bytes of `key` as a big-endian integer, zero-padded: the
/// same order as the bytes for keys that differ within their first 16.
#[inline]
pub(crate) fn key_prefix(key: &[u8]) -> u128 {
    let mut buf = [0u8; 16];
    let n = key.len().min(16);
    buf[..n].copy_from_slice(&key[..n]);
    u128::from_be_bytes(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn compare_keys_is_byte_order(
            a in proptest::collection::vec(0u8..4, 0..20),
            b in proptest::collection::vec(0u8..4, 0..20),
        ) {
            prop_assert_eq!(compare_keys(&a, &b), a.cmp(&b));
            prop_assert_eq!(same_key(&a, &b), a == b);
            if key_prefix(&a) != key_prefix(&b) {
                prop_assert_eq!(key_prefix(&a).cmp(&key_prefix(&b)), a.cmp(&b));
            }
        }
    }
}
