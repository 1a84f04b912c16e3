//! Blocks: the unit of checksumming, compression and caching in an SST.
//!
//! This module owns two layouts (both described in `docs/format.md`):
//!
//! - the *framing* every block carries on disk: `[payload][tag u8][crc32 u32
//!   LE]`, where the crc covers payload and tag, and a zstd payload is
//!   `[uncompressed length u32 LE][zstd frame]`;
//! - the *entry layout* inside a decompressed data or index block: entries,
//!   then one `u32` offset per entry, then the entry count, so a lookup
//!   binary-searches the offsets.
//!
//! Nothing here knows about files: decoding errors come back as
//! [`Malformed`] and the reader turns them into `Error::Corruption` with the
//! file path and the block's offset.

use std::cell::RefCell;
use std::ops::Range;

use bytes::Bytes;

use crate::types::{Entry, Kind, Seqno, internal_cmp};

/// Compression tag of a block stored as is.
pub(super) const TAG_NONE: u8 = 0;
/// Compression tag of a zstd-compressed block.
pub(super) const TAG_ZSTD: u8 = 1;
/// Bytes after the payload of every stored block: tag and crc32.
pub(super) const TRAILER_LEN: usize = 5;
/// Length of an entry header before the key: key length, value length (both
/// varints, at most 5 bytes each), kind and seqno.
const MAX_HEADER_LEN: usize = 5 + 5 + 1 + 8;
/// Largest key or value the format accepts. Keeps every length and offset
/// inside a block representable as a `u32`.
pub(super) const MAX_ENTRY_LEN: usize = (u32::MAX / 4) as usize;

/// Why a block failed to decode. The caller adds the file and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Malformed(pub &'static str);

/// Appends `v` as a LEB128 varint.
pub(super) fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Reads a LEB128 varint of at most 32 bits at `*pos`, advancing `*pos`.
#[inline]
fn get_varint32(buf: &[u8], pos: &mut usize) -> Result<u32, Malformed> {
    let mut v: u32 = 0;
    for shift in [0u32, 7, 14, 21, 28] {
        let b = *buf.get(*pos).ok_or(Malformed("truncated varint"))?;
        *pos += 1;
        if shift == 28 && b > 0x0f {
            return Err(Malformed("varint overflows 32 bits"));
        }
        v |= u32::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err(Malformed("varint overflows 32 bits"))
}

/// Reads a little-endian `u32` at `pos`.
#[inline]
pub(super) fn read_u32(buf: &[u8], pos: usize) -> Option<u32> {
    let b = buf.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?))
}

/// Reads a little-endian `u64` at `pos`.
#[inline]
pub(super) fn read_u64(buf: &[u8], pos: usize) -> Option<u64> {
    let b = buf.get(pos..pos.checked_add(8)?)?;
    Some(u64::from_le_bytes(b.try_into().ok()?))
}

/// Hash-index bucket holding no key.
const BUCKET_EMPTY: u16 = 0xFFFF;
/// Hash-index bucket holding more than one key: fall back to binary search.
const BUCKET_COLLISION: u16 = 0xFFFE;
/// Blocks with more entries than this get no hash index.
const MAX_HASHED_ENTRIES: usize = 0xFFFD;

/// The hash-index bucket of a key hash among `buckets` buckets.
#[inline]
fn bucket_of(hash: u64, buckets: usize) -> usize {
    (((hash >> 32) * buckets as u64) >> 32) as usize
}

/// Number of hash-index buckets for `keys` distinct keys (load factor 0.75).
fn bucket_count(keys: usize) -> usize {
    (keys * 4).div_ceil(3)
}

/// Builds one block in the entry layout. Reused from block to block.
#[derive(Debug, Default)]
pub(super) struct BlockBuilder {
    buf: Vec<u8>,
    offsets: Vec<u32>,
    /// (key hash, index of the key's first entry in this block), for the
    /// hash index; empty for blocks built without one.
    heads: Vec<(u64, u16)>,
    buckets: Vec<u16>,
}

impl BlockBuilder {
    /// Encoded size of an entry with these key and value lengths, including
    /// its slot in the offsets array and hash index.
    pub(super) fn entry_len(key_len: usize, value_len: usize) -> usize {
        MAX_HEADER_LEN + key_len + value_len + 4 + 3
    }

    /// Appends an entry. Keys and values must be at most [`MAX_ENTRY_LEN`].
    /// `head_hash` is the key's hash (see [`super::bloom::hash`]) when this
    /// is the key's first entry in the block and the block has a hash
    /// index; `None` otherwise.
    pub(super) fn add(
        &mut self,
        key: &[u8],
        seqno: Seqno,
        kind: Kind,
        value: &[u8],
        head_hash: Option<u64>,
    ) {
        debug_assert!(key.len() <= MAX_ENTRY_LEN && value.len() <= MAX_ENTRY_LEN);
        if let Some(h) = head_hash
            && self.offsets.len() < MAX_HASHED_ENTRIES
        {
            self.heads.push((h, self.offsets.len() as u16));
        }
        self.offsets.push(self.buf.len() as u32);
        put_varint(&mut self.buf, key.len() as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.push(kind as u8);
        self.buf.extend_from_slice(&seqno.to_le_bytes());
        self.buf.extend_from_slice(key);
        self.buf.extend_from_slice(value);
    }

    /// Size of the finished block if it were finished now.
    pub(super) fn size(&self) -> usize {
        let buckets = if self.offsets.len() <= MAX_HASHED_ENTRIES {
            bucket_count(self.heads.len())
        } else {
            0
        };
        self.buf.len() + 4 * self.offsets.len() + 2 * buckets + 8
    }

    /// Whether no entry was added since the last reset.
    pub(super) fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Appends the offsets array, hash index and counts and returns the
    /// finished block. Call [`BlockBuilder::reset`] before adding again.
    pub(super) fn finish(&mut self) -> &[u8] {
        for off in &self.offsets {
            self.buf.extend_from_slice(&off.to_le_bytes());
        }
        let n = if self.offsets.len() <= MAX_HASHED_ENTRIES {
            bucket_count(self.heads.len())
        } else {
            0
        };
        self.buckets.clear();
        self.buckets.resize(n, BUCKET_EMPTY);
        if n > 0 {
            for &(hash, first) in &self.heads {
                let b = &mut self.buckets[bucket_of(hash, n)];
                *b = if *b == BUCKET_EMPTY {
                    first
                } else {
                    BUCKET_COLLISION
                };
            }
        }
        for b in &self.buckets {
            self.buf.extend_from_slice(&b.to_le_bytes());
        }
        self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&(self.offsets.len() as u32).to_le_bytes());
        &self.buf
    }

    /// Empties the builder, keeping its allocations.
    pub(super) fn reset(&mut self) {
        self.buf.clear();
        self.offsets.clear();
        self.heads.clear();
    }
}

/// One entry of a block, as ranges into the block's bytes.
#[derive(Debug, Clone)]
pub(super) struct RawEntry {
    pub key: Range<usize>,
    pub seqno: Seqno,
    pub kind: Kind,
    pub value: Range<usize>,
}

/// A decompressed, checksum-verified block in the entry layout. Cloning is
/// cheap (the bytes are shared).
#[derive(Debug, Clone)]
pub(super) struct Block {
    data: Bytes,
    /// Where the offsets array starts; entries live in `data[..offsets_at]`.
    offsets_at: usize,
    /// Where the hash index starts (it ends 8 bytes before the block's end).
    buckets_at: usize,
    buckets: usize,
    count: usize,
}

impl Block {
    /// Checks the block's trailer (counts, offsets array and hash index fit).
    pub(super) fn parse(data: Bytes) -> Result<Block, Malformed> {
        let too_short = Malformed("block too short for its trailer");
        let counts_at = data.len().checked_sub(8).ok_or(too_short)?;
        let buckets = read_u32(&data, counts_at).ok_or(too_short)? as usize;
        let count = read_u32(&data, counts_at + 4).ok_or(too_short)? as usize;
        let buckets_at = counts_at
            .checked_sub(2 * buckets)
            .ok_or(Malformed("hash index exceeds block size"))?;
        let offsets_at = buckets_at
            .checked_sub(4 * count)
            .ok_or(Malformed("entry count exceeds block size"))?;
        Ok(Block {
            data,
            offsets_at,
            buckets_at,
            buckets,
            count,
        })
    }

    /// Number of entries.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.count
    }

    /// The block's bytes.
    #[inline]
    pub(super) fn bytes(&self) -> &Bytes {
        &self.data
    }

    /// Decodes entry `i`, checking every length against the block.
    #[inline]
    pub(super) fn entry_at(&self, i: usize) -> Result<RawEntry, Malformed> {
        if i >= self.count {
            return Err(Malformed("entry index out of range"));
        }
        let mut pos = read_u32(&self.data, self.offsets_at + 4 * i)
            .ok_or(Malformed("offsets array out of range"))? as usize;
        let entries = self
            .data
            .get(..self.offsets_at)
            .ok_or(Malformed("offsets array out of range"))?;
        let key_len = get_varint32(entries, &mut pos)? as usize;
        let value_len = get_varint32(entries, &mut pos)? as usize;
        let kind = entries
            .get(pos)
            .and_then(|b| Kind::from_u8(*b))
            .ok_or(Malformed("bad entry kind"))?;
        let seqno = read_u64(entries, pos + 1).ok_or(Malformed("entry overruns block"))?;
        let key_start = pos + 9;
        let value_start = key_start + key_len;
        let value_end = value_start + value_len;
        if value_end > entries.len() {
            return Err(Malformed("entry overruns block"));
        }
        Ok(RawEntry {
            key: key_start..value_start,
            seqno,
            kind,
            value: value_start..value_end,
        })
    }

    /// The key of a decoded entry.
    #[inline]
    pub(super) fn key(&self, e: &RawEntry) -> &[u8] {
        // In range: `entry_at` checked it against `data[..offsets_at]`.
        &self.data[e.key.clone()]
    }

    /// The entry as an owned [`Entry`] sharing this block's bytes.
    #[inline]
    pub(super) fn to_entry(&self, e: &RawEntry) -> Entry {
        Entry {
            key: self.data.slice(e.key.clone()),
            seqno: e.seqno,
            kind: e.kind,
            value: self.data.slice(e.value.clone()),
        }
    }

    /// Index of the first entry at or after `(key, seqno)` in internal
    /// order among entries `lo..`, or [`Block::len`] if every one is before
    /// it.
    fn seek_from(&self, mut lo: usize, key: &[u8], seqno: Seqno) -> Result<usize, Malformed> {
        let mut hi = self.count;
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.entry_at(mid)?;
            if internal_cmp(self.key(&e), e.seqno, key, seqno).is_lt() {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo)
    }

    /// Index of the first entry at or after `(key, seqno)` in internal
    /// order, or [`Block::len`] if every entry is before it.
    pub(super) fn seek(&self, key: &[u8], seqno: Seqno) -> Result<usize, Malformed> {
        self.seek_from(0, key, seqno)
    }

    /// The newest entry of `key` with seqno `<= seqno` in this block, if
    /// any; `hash` is the key's [`super::bloom::hash`]. Uses the hash index
    /// when the block has one, so a lookup usually decodes one entry.
    #[inline]
    pub(super) fn find(
        &self,
        key: &[u8],
        seqno: Seqno,
        hash: u64,
    ) -> Result<Option<RawEntry>, Malformed> {
        let start = if self.buckets == 0 {
            None
        } else {
            let at = self.buckets_at + 2 * bucket_of(hash, self.buckets);
            let b = self
                .data
                .get(at..at + 2)
                .ok_or(Malformed("hash index out of range"))?;
            match u16::from_le_bytes([b[0], b[1]]) {
                BUCKET_EMPTY => return Ok(None),
                BUCKET_COLLISION => None,
                first => Some(first as usize),
            }
        };
        let i = match start {
            None => self.seek(key, seqno)?,
            Some(first) => {
                // Walk the key's versions from its first one here; many
                // versions: binary search the rest.
                let mut i = first;
                let mut steps = 0;
                loop {
                    if i >= self.count {
                        return Ok(None);
                    }
                    let e = self.entry_at(i)?;
                    if self.key(&e) != key {
                        return Ok(None);
                    }
                    if e.seqno <= seqno {
                        return Ok(Some(e));
                    }
                    steps += 1;
                    i += 1;
                    if steps == 8 {
                        break self.seek_from(i, key, seqno)?;
                    }
                }
            }
        };
        if i >= self.count {
            return Ok(None);
        }
        let e = self.entry_at(i)?;
        Ok((self.key(&e) == key).then_some(e))
    }
}

/// Appends `raw` to `out` as a stored block: compressed with `compressor`
/// when that saves at least 1/8, then tag and crc32. `scratch` is reused
/// for the compressor's output. Returns the stored length.
pub(super) fn seal(
    raw: &[u8],
    compressor: Option<&mut zstd::bulk::Compressor<'static>>,
    scratch: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> std::io::Result<(usize, bool)> {
    let start = out.len();
    let mut tag = TAG_NONE;
    if let Some(c) = compressor {
        scratch.clear();
        scratch.reserve(zstd::zstd_safe::compress_bound(raw.len()));
        let n = c.compress_to_buffer(raw, scratch)?;
        if 4 + n <= raw.len() - raw.len() / 8 {
            out.extend_from_slice(&(raw.len() as u32).to_le_bytes());
            out.extend_from_slice(&scratch[..n]);
            tag = TAG_ZSTD;
        }
    }
    if tag == TAG_NONE {
        out.extend_from_slice(raw);
    }
    out.push(tag);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok((out.len() - start, tag == TAG_ZSTD))
}

/// Checks a stored block's crc and returns its tag and payload.
#[inline]
pub(super) fn verify(stored: &[u8]) -> Result<(u8, &[u8]), Malformed> {
    let body_len = stored
        .len()
        .checked_sub(4)
        .filter(|&n| n >= 1)
        .ok_or(Malformed("block shorter than its trailer"))?;
    let (body, crc) = stored.split_at(body_len);
    let crc = u32::from_le_bytes(crc.try_into().map_err(|_| Malformed("bad crc field"))?);
    if crc32fast::hash(body) != crc {
        return Err(Malformed("block checksum mismatch"));
    }
    let (payload, tag) = body.split_at(body_len - 1);
    Ok((tag[0], payload))
}

thread_local! {
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { RefCell::new(None) };
}

/// Decompresses a verified zstd payload (`[len u32][frame]`).
pub(super) fn decompress(payload: &[u8]) -> Result<Vec<u8>, Malformed> {
    let len = read_u32(payload, 0).ok_or(Malformed("compressed block too short"))? as usize;
    let frame = &payload[4..];
    let mut out = Vec::with_capacity(len);
    DECOMPRESSOR.with(|d| {
        let mut d = d.borrow_mut();
        if d.is_none() {
            *d = Some(
                zstd::bulk::Decompressor::new()
                    .map_err(|_| Malformed("cannot create zstd decompressor"))?,
            );
        }
        let d = d
            .as_mut()
            .ok_or(Malformed("cannot create zstd decompressor"))?;
        let n = d
            .decompress_to_buffer(frame, &mut out)
            .map_err(|_| Malformed("zstd frame does not decompress"))?;
        if n != len {
            return Err(Malformed("decompressed length differs from header"));
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build_with(entries: &[(&[u8], Seqno, Kind, &[u8])], hash_index: bool) -> Block {
        let mut b = BlockBuilder::default();
        let mut prev: Option<&[u8]> = None;
        for (k, s, kind, v) in entries {
            let head = (hash_index && prev != Some(*k)).then(|| super::super::bloom::hash(k));
            b.add(k, *s, *kind, v, head);
            prev = Some(*k);
        }
        let size = b.size();
        let raw = b.finish().to_vec();
        assert_eq!(raw.len(), size);
        let block = Block::parse(Bytes::from(raw)).unwrap();
        assert_eq!(block.buckets > 0, hash_index && !entries.is_empty());
        block
    }

    fn build(entries: &[(&[u8], Seqno, Kind, &[u8])]) -> Block {
        build_with(entries, true)
    }

    #[test]
    fn find_agrees_with_a_linear_scan() {
        // 300 keys, some with many versions (more than the linear walk).
        let keys: Vec<Vec<u8>> = (0..300u32)
            .map(|i| format!("k{i:04}").into_bytes())
            .collect();
        let mut entries: Vec<(&[u8], Seqno, Kind, &[u8])> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let versions = if i % 50 == 0 { 20 } else { 1 + i % 3 };
            for v in (0..versions).rev() {
                entries.push((k, 10 * v as u64 + 5, Kind::Put, b"v"));
            }
        }
        let scan = |key: &[u8], seqno: Seqno| {
            entries
                .iter()
                .position(|(k, s, _, _)| *k == key && *s <= seqno)
        };
        for hash_index in [true, false] {
            let block = build_with(&entries, hash_index);
            for probe in keys
                .iter()
                .map(|k| k.as_slice())
                .chain([&b"k"[..], b"k0100x", b"zz"])
            {
                let hash = super::super::bloom::hash(probe);
                for seqno in [0, 4, 5, 6, 15, 99, 150, 195, 196, Seqno::MAX] {
                    let got = block.find(probe, seqno, hash).unwrap();
                    let want = scan(probe, seqno);
                    let got = got.map(|e| (block.key(&e).to_vec(), e.seqno));
                    let want = want.map(|i| (entries[i].0.to_vec(), entries[i].1));
                    assert_eq!(
                        got, want,
                        "find({probe:?}, {seqno}), hash index {hash_index}"
                    );
                }
            }
        }
    }

    #[test]
    fn varint_round_trip_and_overflow() {
        for v in [0u64, 1, 127, 128, 300, 16_383, 16_384, u32::MAX as u64] {
            let mut buf = Vec::new();
            put_varint(&mut buf, v);
            let mut pos = 0;
            assert_eq!(get_varint32(&buf, &mut pos).unwrap() as u64, v);
            assert_eq!(pos, buf.len());
        }
        let mut buf = Vec::new();
        put_varint(&mut buf, u32::MAX as u64 + 1);
        assert!(get_varint32(&buf, &mut 0).is_err());
        assert!(get_varint32(&[0x80, 0x80], &mut 0).is_err());
    }

    #[test]
    fn seek_finds_first_at_or_after() {
        let b = build(&[
            (b"a", 5, Kind::Put, b"a5"),
            (b"a", 3, Kind::Delete, b""),
            (b"b", 9, Kind::Put, b""),
            (b"c", 1, Kind::Put, b"c1"),
        ]);
        assert_eq!(b.len(), 4);
        assert_eq!(b.seek(b"a", u64::MAX).unwrap(), 0);
        assert_eq!(b.seek(b"a", 4).unwrap(), 1);
        assert_eq!(b.seek(b"a", 2).unwrap(), 2);
        assert_eq!(b.seek(b"bb", 0).unwrap(), 3);
        assert_eq!(b.seek(b"d", 0).unwrap(), 4);
        let e = b.to_entry(&b.entry_at(1).unwrap());
        assert_eq!(
            (&e.key[..], e.seqno, e.kind, &e.value[..]),
            (&b"a"[..], 3, Kind::Delete, &b""[..])
        );
    }

    #[test]
    fn malformed_blocks_are_errors_not_panics() {
        let good = build(&[
            (b"key", 1, Kind::Put, b"value"),
            (b"k2", 1, Kind::Put, b"v"),
        ]);
        let raw = good.bytes().to_vec();
        // Every truncation and every single-byte change either decodes to
        // something in bounds or is an error; none panics.
        for cut in 0..raw.len() {
            if let Ok(b) = Block::parse(Bytes::copy_from_slice(&raw[..cut])) {
                for i in 0..b.len() + 1 {
                    let _ = b.entry_at(i);
                }
                let _ = b.seek(b"k", 0);
            }
        }
        for i in 0..raw.len() {
            for x in [0x01u8, 0x80, 0xff] {
                let mut bad = raw.clone();
                bad[i] ^= x;
                if let Ok(b) = Block::parse(Bytes::from(bad)) {
                    for j in 0..b.len().min(4) {
                        let _ = b.entry_at(j);
                    }
                    let _ = b.seek(b"k", 0);
                }
            }
        }
    }

    #[test]
    fn seal_verify_round_trip() {
        let compressible = vec![7u8; 4096];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let random: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        let mut c = zstd::bulk::Compressor::new(3).unwrap();
        for (raw, expect_tag) in [(&compressible, TAG_ZSTD), (&random, TAG_NONE)] {
            let (mut scratch, mut out) = (Vec::new(), vec![0xAA]);
            let (n, _) = seal(raw, Some(&mut c), &mut scratch, &mut out).unwrap();
            assert_eq!(n, out.len() - 1);
            let (tag, payload) = verify(&out[1..]).unwrap();
            assert_eq!(tag, expect_tag);
            let back = if tag == TAG_ZSTD {
                decompress(payload).unwrap()
            } else {
                payload.to_vec()
            };
            assert_eq!(&back, raw);
            for i in 1..out.len() {
                let mut bad = out.clone();
                bad[i] ^= 0x10;
                assert!(verify(&bad[1..]).is_err(), "flip at {i} undetected");
            }
        }
        assert!(verify(&[1, 2, 3, 4]).is_err());
    }
}
