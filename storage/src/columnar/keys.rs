//! Packed keys: the compact keys part of a columnar block whose keys are
//! all one shared prefix and exactly 8 more bytes (fasty's row keys: a
//! table prefix and an order-preserving integer).
//!
//! The layout (described in `docs/format.md`, "Packed keys"): row count,
//! the prefix once, the key suffixes (big-endian integers, non-decreasing)
//! and the seqnos, each as a base and bit-packed offsets from it, and a
//! tombstone bitmap only when the block holds a tombstone. There is no
//! hash index: lookups search the sorted suffixes directly, reading the
//! packed values in place.

use std::cmp::Ordering;
use std::ops::Range;

use bytes::Bytes;

use super::bits::{self, Bitmap, Packed};
use super::{Malformed, Reader};
use crate::types::Seqno;

/// Bytes of the suffix of every packed key.
pub(crate) const SUFFIX_LEN: usize = 8;

/// Flag: the keys part ends with a tombstone bitmap.
const FLAG_KINDS: u8 = 1;

/// Whether `keys` (in internal order) can be stored as packed keys: every
/// key is the first one's prefix (all but its last 8 bytes) and 8 more
/// bytes, and the prefix fits a `u16` length.
pub(crate) fn fits<'k>(mut keys: impl Iterator<Item = &'k [u8]>) -> bool {
    let Some(first) = keys.next() else {
        return false;
    };
    let Some(plen) = first.len().checked_sub(SUFFIX_LEN) else {
        return false;
    };
    if plen > usize::from(u16::MAX) {
        return false;
    }
    let prefix = &first[..plen];
    keys.all(|k| k.len() == plen + SUFFIX_LEN && &k[..plen] == prefix)
}

/// The big-endian integer of a key's last 8 bytes (`key` must have them).
#[inline]
fn suffix_of(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&key[key.len() - SUFFIX_LEN..]);
    u64::from_be_bytes(b)
}

/// Appends the packed keys part of `n` versions to `out`: `key(i)`,
/// `seqno(i)` and `tombstone(i)` of each, in internal order. The keys must
/// have passed [`fits`].
pub(crate) fn encode<'k>(
    n: usize,
    key: impl Fn(usize) -> &'k [u8],
    seqno: impl Fn(usize) -> Seqno,
    tombstone: impl Fn(usize) -> bool,
    out: &mut Vec<u8>,
) {
    let first = key(0);
    let plen = first.len() - SUFFIX_LEN;
    let suffix_base = (0..n).map(|i| suffix_of(key(i))).min().unwrap_or(0);
    let suffix_max = (0..n).map(|i| suffix_of(key(i))).max().unwrap_or(0);
    let seqno_base = (0..n).map(&seqno).min().unwrap_or(0);
    let seqno_max = (0..n).map(&seqno).max().unwrap_or(0);
    let suffix_width = bits::width_of(suffix_max - suffix_base);
    let seqno_width = bits::width_of(seqno_max - seqno_base);
    let kinds = (0..n).any(&tombstone);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out.extend_from_slice(&(plen as u16).to_le_bytes());
    out.extend_from_slice(&first[..plen]);
    out.extend_from_slice(&suffix_base.to_le_bytes());
    out.push(suffix_width);
    out.extend_from_slice(&seqno_base.to_le_bytes());
    out.push(seqno_width);
    out.push(if kinds { FLAG_KINDS } else { 0 });
    bits::pack(
        (0..n).map(|i| suffix_of(key(i)) - suffix_base),
        n,
        suffix_width,
        out,
    );
    bits::pack((0..n).map(|i| seqno(i) - seqno_base), n, seqno_width, out);
    if kinds {
        bits::put_bitmap((0..n).map(tombstone), n, out);
    }
}

/// Where the parts of a packed keys part lie, parsed from its header.
#[derive(Debug, Clone)]
pub(crate) struct PackedMeta {
    rows: usize,
    prefix: Range<usize>,
    suffix_base: u64,
    suffix_width: u8,
    suffixes: usize,
    seqno_base: u64,
    seqno_width: u8,
    seqnos: usize,
    /// Start of the tombstone bitmap, when the block holds a tombstone.
    kinds: Option<usize>,
}

impl PackedMeta {
    /// Parses a packed keys part (`data`, exactly its bytes), checking
    /// that every part lies within it and that it holds `rows` rows.
    pub(crate) fn parse(data: &[u8], rows: usize) -> Result<PackedMeta, Malformed> {
        let mut r = Reader::new(data);
        let n = r.u32()? as usize;
        if n != rows || n == 0 {
            return Err(Malformed("packed keys row count differs from the index"));
        }
        let plen = usize::from(r.u16()?);
        let prefix_at = r.pos();
        r.take(plen)?;
        let suffix_base = r.u64()?;
        let suffix_width = r.u8()?;
        let seqno_base = r.u64()?;
        let seqno_width = r.u8()?;
        let flags = r.u8()?;
        if suffix_width > 64 || seqno_width > 64 || flags & !FLAG_KINDS != 0 {
            return Err(Malformed("bad packed keys header"));
        }
        let suffixes = r.pos();
        r.take(bits::packed_len(n, suffix_width))?;
        let seqnos = r.pos();
        r.take(bits::packed_len(n, seqno_width))?;
        let kinds = if flags & FLAG_KINDS != 0 {
            let at = r.pos();
            r.take(n.div_ceil(8))?;
            Some(at)
        } else {
            None
        };
        if r.rest() != 0 {
            return Err(Malformed("trailing bytes in packed keys"));
        }
        Ok(PackedMeta {
            rows: n,
            prefix: prefix_at..prefix_at + plen,
            suffix_base,
            suffix_width,
            suffixes,
            seqno_base,
            seqno_width,
            seqnos,
            kinds,
        })
    }
}

/// A packed keys part, borrowed (a point read straight from the map).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PackedView<'a> {
    data: &'a [u8],
    meta: &'a PackedMeta,
}

/// Where a sought key falls among a packed keys part's keys.
enum Target {
    /// Before every key.
    Below,
    /// After every key.
    Above,
    /// Exactly the key with this suffix.
    Exact(u64),
    /// Between keys: before the key with this suffix and every larger one.
    Before(u64),
}

impl<'a> PackedView<'a> {
    /// The view of `data`, whose header `meta` was parsed from it.
    pub(crate) fn new(data: &'a [u8], meta: &'a PackedMeta) -> PackedView<'a> {
        PackedView { data, meta }
    }

    /// Number of rows.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.meta.rows
    }

    /// The prefix every key shares.
    #[inline]
    pub(crate) fn prefix(&self) -> &'a [u8] {
        self.data.get(self.meta.prefix.clone()).unwrap_or(&[])
    }

    /// The suffix of row `i`'s key as an integer (0 out of range).
    #[inline]
    pub(crate) fn suffix(&self, i: usize) -> u64 {
        self.meta
            .suffix_base
            .wrapping_add(self.packed_suffixes().get(i))
    }

    /// Appends the suffixes of every row to `out`.
    pub(crate) fn suffixes(&self, out: &mut Vec<u64>) {
        let start = out.len();
        self.packed_suffixes().unpack(0..self.len(), out);
        for s in &mut out[start..] {
            *s = self.meta.suffix_base.wrapping_add(*s);
        }
    }

    /// The packed suffix offsets.
    #[inline]
    fn packed_suffixes(&self) -> Packed<'a> {
        Packed::new(
            self.data.get(self.meta.suffixes..).unwrap_or(&[]),
            self.meta.suffix_width,
            self.meta.rows,
        )
    }

    /// Seqno of row `i` (0 out of range).
    #[inline]
    pub(crate) fn seqno(&self, i: usize) -> Seqno {
        let p = Packed::new(
            self.data.get(self.meta.seqnos..).unwrap_or(&[]),
            self.meta.seqno_width,
            self.meta.rows,
        );
        self.meta.seqno_base.wrapping_add(p.get(i))
    }

    /// Whether row `i` is a tombstone.
    #[inline]
    pub(crate) fn is_tombstone(&self, i: usize) -> bool {
        match self.meta.kinds {
            Some(at) => i < self.meta.rows && Bitmap(self.data.get(at..).unwrap_or(&[])).get(i),
            None => false,
        }
    }

    /// Whether any row is a tombstone.
    pub(crate) fn has_tombstones(&self) -> bool {
        self.meta.kinds.is_some()
    }

    /// Appends row `i`'s key to `out`.
    #[inline]
    pub(crate) fn key_into(&self, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(self.prefix());
        out.extend_from_slice(&self.suffix(i).to_be_bytes());
    }

    /// Row `i`'s key compared with `other`, as bytes.
    #[inline]
    pub(crate) fn key_cmp(&self, i: usize, other: &[u8]) -> Ordering {
        let prefix = self.prefix();
        let m = prefix.len().min(other.len());
        match prefix[..m].cmp(&other[..m]) {
            Ordering::Equal => {}
            o => return o,
        }
        if other.len() < prefix.len() {
            return Ordering::Greater;
        }
        self.suffix(i).to_be_bytes()[..].cmp(&other[prefix.len()..])
    }

    /// Where `key` falls among the keys.
    fn target(&self, key: &[u8]) -> Target {
        let prefix = self.prefix();
        let m = prefix.len().min(key.len());
        match key[..m].cmp(&prefix[..m]) {
            Ordering::Less => return Target::Below,
            Ordering::Greater => return Target::Above,
            Ordering::Equal if key.len() < prefix.len() => return Target::Below,
            Ordering::Equal => {}
        }
        let tail = &key[prefix.len()..];
        let mut b = [0u8; 8];
        match tail.len().cmp(&SUFFIX_LEN) {
            Ordering::Equal => {
                b.copy_from_slice(tail);
                Target::Exact(u64::from_be_bytes(b))
            }
            // A shorter tail sorts before every suffix it is a prefix of:
            // before exactly the suffixes at or above it zero-padded.
            Ordering::Less => {
                b[..tail.len()].copy_from_slice(tail);
                Target::Before(u64::from_be_bytes(b))
            }
            // A longer tail sorts after the suffix of its first 8 bytes.
            Ordering::Greater => {
                b.copy_from_slice(&tail[..SUFFIX_LEN]);
                match u64::from_be_bytes(b).checked_add(1) {
                    Some(t) => Target::Before(t),
                    None => Target::Above,
                }
            }
        }
    }

    /// The first row for which `before` is false (`before` must be true
    /// for a prefix of the rows, false after): a binary search.
    #[inline]
    fn partition(&self, before: impl Fn(usize) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if before(mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Index of the first row at or after `(key, seqno)` in internal order
    /// (key ascending, then seqno descending), or [`PackedView::len`].
    pub(crate) fn seek(&self, key: &[u8], seqno: Seqno) -> usize {
        match self.target(key) {
            Target::Below => 0,
            Target::Above => self.len(),
            Target::Before(t) => self.partition(|i| self.suffix(i) < t),
            Target::Exact(u) => self.first_at(u, seqno),
        }
    }

    /// The first row at or after (suffix `u`, `seqno`) in internal order.
    #[inline]
    fn first_at(&self, u: u64, seqno: Seqno) -> usize {
        self.partition(|i| {
            let s = self.suffix(i);
            s < u || (s == u && self.seqno(i) > seqno)
        })
    }

    /// The row of the newest version of `key` with a seqno at most
    /// `seqno`, if the block holds one.
    #[inline]
    pub(crate) fn find(&self, key: &[u8], seqno: Seqno) -> Option<usize> {
        let Target::Exact(u) = self.target(key) else {
            return None;
        };
        let i = self.first_at(u, seqno);
        (i < self.len() && self.suffix(i) == u).then_some(i)
    }
}

/// A packed keys part, owned (its bytes shared): what a scan or a cached
/// block holds. Cloning is cheap.
#[derive(Debug, Clone)]
pub(crate) struct PackedKeys {
    data: Bytes,
    meta: std::sync::Arc<PackedMeta>,
}

impl PackedKeys {
    /// Parses `data` (exactly the keys part) for `rows` rows.
    pub(crate) fn parse(data: Bytes, rows: usize) -> Result<PackedKeys, Malformed> {
        let meta = PackedMeta::parse(&data, rows)?;
        Ok(PackedKeys {
            data,
            meta: std::sync::Arc::new(meta),
        })
    }

    /// The borrowed view lookups read.
    #[inline]
    pub(crate) fn view(&self) -> PackedView<'_> {
        PackedView {
            data: &self.data,
            meta: &self.meta,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn build(versions: &[(Vec<u8>, Seqno, bool)]) -> PackedKeys {
        assert!(fits(versions.iter().map(|v| &v.0[..])));
        let mut out = Vec::new();
        encode(
            versions.len(),
            |i| &versions[i].0[..],
            |i| versions[i].1,
            |i| versions[i].2,
            &mut out,
        );
        PackedKeys::parse(Bytes::from(out), versions.len()).unwrap()
    }

    /// Versions in internal order: prefix `p`, suffixes from `seeds`.
    fn versions(p: &[u8], seeds: &[(u64, Seqno, bool)]) -> Vec<(Vec<u8>, Seqno, bool)> {
        let mut v: Vec<(Vec<u8>, Seqno, bool)> = seeds
            .iter()
            .map(|&(s, q, t)| {
                let mut k = p.to_vec();
                k.extend_from_slice(&s.to_be_bytes());
                (k, q, t)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        v.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        v
    }

    fn probes(p: &[u8], v: &[(Vec<u8>, Seqno, bool)], extra: &[u64]) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = vec![Vec::new(), p.to_vec(), b"\xff".to_vec()];
        if let Some((&last, rest)) = p.split_last() {
            out.push(rest.to_vec());
            let mut q = rest.to_vec();
            q.push(last.wrapping_add(1));
            out.push(q);
            let mut q = rest.to_vec();
            q.push(last.wrapping_sub(1));
            out.push(q);
        }
        for (k, _, _) in v {
            out.push(k.clone());
            out.push(k[..k.len() - 3].to_vec());
            let mut longer = k.clone();
            longer.push(0);
            out.push(longer);
        }
        for &s in extra {
            let mut k = p.to_vec();
            k.extend_from_slice(&s.to_be_bytes());
            out.push(k.clone());
            k.truncate(k.len() - 1);
            out.push(k);
        }
        out
    }

    proptest! {
        #[test]
        fn packed_keys_answer_like_a_sorted_list(
            prefix in prop::collection::vec(any::<u8>(), 0..6),
            seeds in prop::collection::vec(
                (prop_oneof![0u64..64, any::<u64>(), Just(u64::MAX)], 0u64..1 << 40, any::<bool>()),
                1..80,
            ),
            extra in prop::collection::vec(any::<u64>(), 0..8),
            seqnos in prop::collection::vec(prop_oneof![0u64..1 << 40, Just(u64::MAX)], 1..6),
        ) {
            let v = versions(&prefix, &seeds);
            let keys = build(&v);
            let view = keys.view();
            prop_assert_eq!(view.len(), v.len());
            prop_assert_eq!(view.has_tombstones(), v.iter().any(|x| x.2));
            for (i, (k, q, t)) in v.iter().enumerate() {
                let mut got = Vec::new();
                view.key_into(i, &mut got);
                prop_assert_eq!(&got, k);
                prop_assert_eq!(view.seqno(i), *q);
                prop_assert_eq!(view.is_tombstone(i), *t);
            }
            for probe in probes(&prefix, &v, &extra) {
                for (i, (k, _, _)) in v.iter().enumerate() {
                    prop_assert_eq!(view.key_cmp(i, &probe), k.cmp(&probe));
                }
                for &seqno in &seqnos {
                    let want = v
                        .iter()
                        .position(|(k, q, _)| k > &probe || (k == &probe && *q <= seqno))
                        .unwrap_or(v.len());
                    prop_assert_eq!(view.seek(&probe, seqno), want, "seek {:?} {}", probe, seqno);
                    let want = v.iter().position(|(k, q, _)| k == &probe && *q <= seqno);
                    prop_assert_eq!(view.find(&probe, seqno), want);
                }
            }
        }
    }

    #[test]
    fn keys_of_another_shape_do_not_fit() {
        let k = |s: &[u8]| s.to_vec();
        let ok = [k(b"t0010000000a"), k(b"t0010000000b")];
        assert!(fits(ok.iter().map(|x| &x[..])));
        let short = [k(b"1234567")];
        assert!(!fits(short.iter().map(|x| &x[..])));
        let lengths = [k(b"t0010000000a"), k(b"t00100000000b")];
        assert!(!fits(lengths.iter().map(|x| &x[..])));
        let prefixes = [k(b"t0010000000a"), k(b"t0020000000a")];
        assert!(!fits(prefixes.iter().map(|x| &x[..])));
        assert!(!fits(std::iter::empty()));
    }

    #[test]
    fn damaged_headers_are_errors_not_panics() {
        let v = versions(b"t001", &[(1, 5, false), (1, 3, true), (9, 2, false)]);
        let mut raw = Vec::new();
        encode(v.len(), |i| &v[i].0[..], |i| v[i].1, |i| v[i].2, &mut raw);
        assert!(PackedMeta::parse(&raw, 3).is_ok());
        assert!(PackedMeta::parse(&raw, 4).is_err());
        for cut in 0..raw.len() {
            assert!(PackedMeta::parse(&raw[..cut], 3).is_err(), "cut at {cut}");
        }
        for at in 0..raw.len() {
            for x in [0x01u8, 0x40, 0x80, 0xff] {
                let mut bad = raw.clone();
                bad[at] ^= x;
                if let Ok(meta) = PackedMeta::parse(&bad, 3) {
                    let view = PackedView::new(&bad, &meta);
                    for i in 0..4 {
                        let _ = (view.suffix(i), view.seqno(i), view.is_tombstone(i));
                        let _ = view.key_cmp(i, b"t001");
                    }
                    let _ = (
                        view.seek(b"t001\0\0\0\0\0\0\0\x01", 4),
                        view.find(b"t001", 0),
                    );
                }
            }
        }
    }
}
