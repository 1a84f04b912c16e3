//! Blocks: the unit of checksumming, compression and caching in an SST.
//!
//! This module owns two layouts (both described in `docs/format.md`):
//!
//! - the *framing* every block carries on disk: `[payload][tag u8][crc32 u32
//!   LE]`, where the crc covers payload and tag, and a zstd payload is
//!   `[uncompressed length u32 LE][zstd frame]`;
//! - the *entry layout* inside a decompressed data or index block: entries,
//!   then one `u32` offset per entry (for binary search and iteration),
//!   then a hash index (open addressing: key-hash tag and byte offset of
//!   the key's first entry, so a point lookup reads a bucket and then the
//!   entry), then the bucket and entry counts.
//!
//! Nothing here knows about files: decoding errors come back as
//! [`Malformed`] and the reader turns them into `Error::Corruption` with the
//! file path and the block's offset.

use std::cell::RefCell;
use std::ops::Range;

use bytes::Bytes;

#[cfg(any(test, feature = "fuzzing"))]
use crate::types::Entry;
use crate::types::{Kind, Seqno, internal_cmp};

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

/// Largest target data block size the writer uses (larger requests are
/// clamped): a block of this size plus one maximal entry stays below 4 GiB.
pub(super) const MAX_BLOCK_SIZE: usize = 1 << 30;
/// Length of an index entry's value: the data block's offset (u64), stored
/// length (u64), compression tag (u8), contents length, entry count and
/// hash-index bucket count (u32 each).
pub(super) const INDEX_VALUE_LEN: usize = 8 + 8 + 1 + 4 + 4 + 4;

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

/// Largest block contents whose hash-index buckets are narrow (`u16`
/// offset and tag); larger blocks use wide buckets (`u32` offset and tag).
const MAX_NARROW_BLOCK: usize = 0xFFFF;

/// Width in bytes of one hash-index bucket in a block of `len` bytes.
#[inline]
fn bucket_width(len: usize) -> usize {
    if len <= MAX_NARROW_BLOCK { 4 } else { 8 }
}

/// The offset field of an empty bucket, for buckets `width` bytes wide.
#[inline]
fn bucket_empty(width: usize) -> u32 {
    if width == 4 { 0xFFFF } else { u32::MAX }
}

/// The tag field of a bucket holding a key with this hash.
#[inline]
fn bucket_tag(hash: u64, width: usize) -> u32 {
    if width == 4 {
        u32::from(hash as u16)
    } else {
        hash as u32
    }
}

/// The home bucket of a key hash among `buckets` buckets.
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
    /// (key hash, byte offset of the key's first entry in this block), for
    /// the hash index; empty for blocks built without one.
    heads: Vec<(u64, u32)>,
    /// (offset, tag) per bucket, while finishing.
    buckets: Vec<(u32, u32)>,
    /// (contents length, entries, buckets) of the last finished block.
    finished: (u32, u32, u32),
}

impl BlockBuilder {
    /// Encoded size of an entry with these key and value lengths, including
    /// its slot in the offsets array and (at most) its hash-index buckets.
    pub(super) fn entry_len(key_len: usize, value_len: usize) -> usize {
        MAX_HEADER_LEN + key_len + value_len + 4 + 11
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
        let at = self.buf.len() as u32;
        if let Some(h) = head_hash {
            self.heads.push((h, at));
        }
        self.offsets.push(at);
        put_varint(&mut self.buf, key.len() as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.buf.push(kind as u8);
        self.buf.extend_from_slice(&seqno.to_le_bytes());
        self.buf.extend_from_slice(key);
        self.buf.extend_from_slice(value);
    }

    /// (size, bucket count, bucket width) of the block if finished now.
    fn shape(&self) -> (usize, usize, usize) {
        let buckets = bucket_count(self.heads.len());
        let base = self.buf.len() + 4 * self.offsets.len() + 8;
        let narrow = base + 4 * buckets;
        if narrow <= MAX_NARROW_BLOCK {
            (narrow, buckets, 4)
        } else {
            (base + 8 * buckets, buckets, 8)
        }
    }

    /// Size of the finished block if it were finished now.
    pub(super) fn size(&self) -> usize {
        self.shape().0
    }

    /// Whether no entry was added since the last reset.
    pub(super) fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Appends the offsets array, hash index and counts and returns the
    /// finished block. Call [`BlockBuilder::reset`] before adding again.
    pub(super) fn finish(&mut self) -> &[u8] {
        let (size, n, width) = self.shape();
        for off in &self.offsets {
            self.buf.extend_from_slice(&off.to_le_bytes());
        }
        // Open addressing with linear probing: a key goes into the first
        // empty bucket at or after its home bucket. There are more buckets
        // than keys, so one is always free.
        let empty = bucket_empty(width);
        self.buckets.clear();
        self.buckets.resize(n, (empty, 0));
        for &(hash, first) in &self.heads {
            let mut b = bucket_of(hash, n);
            while self.buckets[b].0 != empty {
                b = if b + 1 == n { 0 } else { b + 1 };
            }
            self.buckets[b] = (first, bucket_tag(hash, width));
        }
        for &(offset, tag) in &self.buckets {
            if width == 4 {
                self.buf.extend_from_slice(&(offset as u16).to_le_bytes());
                self.buf.extend_from_slice(&(tag as u16).to_le_bytes());
            } else {
                self.buf.extend_from_slice(&offset.to_le_bytes());
                self.buf.extend_from_slice(&tag.to_le_bytes());
            }
        }
        self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        self.buf
            .extend_from_slice(&(self.offsets.len() as u32).to_le_bytes());
        debug_assert_eq!(self.buf.len(), size);
        self.finished = (size as u32, self.offsets.len() as u32, n as u32);
        &self.buf
    }

    /// (contents length, entry count, bucket count) of the block last
    /// returned by [`BlockBuilder::finish`].
    pub(super) fn finished(&self) -> (u32, u32, u32) {
        self.finished
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

impl RawEntry {
    /// An empty entry, valid in any block (also [`Block::empty`]).
    pub(super) const EMPTY: RawEntry = RawEntry {
        key: 0..0,
        seqno: 0,
        kind: Kind::Delete,
        value: 0..0,
    };
}

/// Where the parts of a block in the entry layout start, derived from its
/// length and its two counts (which the table's index also records, so a
/// lookup need not read the block's trailer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Layout {
    /// Length of the block's contents.
    size: usize,
    /// Where the offsets array starts; entries live in `data[..offsets_at]`.
    offsets_at: usize,
    /// Where the hash index starts (it ends 8 bytes before the block's end).
    buckets_at: usize,
    buckets: usize,
    /// Bytes per bucket: 4, or 8 in blocks longer than 65535 bytes.
    width: usize,
    count: usize,
}

impl Layout {
    /// The layout of a block of `len` bytes with these counts, if they fit.
    #[inline]
    pub(super) fn new(len: usize, buckets: usize, count: usize) -> Result<Layout, Malformed> {
        let width = bucket_width(len);
        let buckets_at = len
            .checked_sub(8)
            .and_then(|n| n.checked_sub(buckets.checked_mul(width)?))
            .ok_or(Malformed("hash index exceeds block size"))?;
        let offsets_at = count
            .checked_mul(4)
            .and_then(|n| buckets_at.checked_sub(n))
            .ok_or(Malformed("entry count exceeds block size"))?;
        Ok(Layout {
            size: len,
            offsets_at,
            buckets_at,
            buckets,
            width,
            count,
        })
    }

    /// Reads the counts from the trailer of `data` (the last 8 bytes).
    pub(super) fn of(data: &[u8]) -> Result<Layout, Malformed> {
        let too_short = Malformed("block too short for its trailer");
        let counts_at = data.len().checked_sub(8).ok_or(too_short)?;
        let buckets = read_u32(data, counts_at).ok_or(too_short)? as usize;
        let count = read_u32(data, counts_at + 4).ok_or(too_short)? as usize;
        Layout::new(data.len(), buckets, count)
    }

    /// Number of entries.
    #[inline]
    pub(super) fn entries(&self) -> usize {
        self.count
    }

    /// Number of hash-index buckets (0: no hash index).
    #[inline]
    pub(super) fn buckets(&self) -> usize {
        self.buckets
    }
}

/// Largest block [`BlockView::seek`] prefetches whole: the default target
/// size and then some (a block ends with the entry that crosses the
/// target).
const PREFETCH_MAX_BLOCK: usize = 8 << 10;

/// Starts loading the cache lines of `bytes` without waiting for them
/// (a no-op where there is no prefetch instruction).
#[inline]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let p = bytes.as_ptr();
        for at in (0..bytes.len()).step_by(64) {
            // SAFETY: a prefetch is only a hint to the cache: it reads
            // nothing the program sees, never faults, and the address stays
            // within `bytes` anyway.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(at).cast()) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// A borrowed, checksum-verified block in the entry layout: what lookups
/// decode from without touching any reference count.
#[derive(Debug, Clone, Copy)]
pub(super) struct BlockView<'a> {
    data: &'a [u8],
    l: Layout,
}

impl<'a> BlockView<'a> {
    /// `data` with a layout computed for its length.
    #[inline]
    pub(super) fn new(data: &'a [u8], l: Layout) -> Result<BlockView<'a>, Malformed> {
        if data.len() != l.size {
            return Err(Malformed("block length differs from the index"));
        }
        Ok(BlockView { data, l })
    }

    /// Starts loading a small block's offsets array and entries into the
    /// cache, without waiting. A binary search is a chain of dependent
    /// reads, each on another cache line of a block that is usually cold
    /// (one of thousands in the cache): asking for all of them at once
    /// lets the misses overlap instead of queueing.
    #[inline]
    pub(super) fn prefetch(&self) {
        if self.l.size <= PREFETCH_MAX_BLOCK {
            prefetch(
                self.data
                    .get(self.l.offsets_at..self.l.buckets_at)
                    .unwrap_or(&[]),
            );
            prefetch(self.data.get(..self.l.offsets_at).unwrap_or(&[]));
        }
    }

    /// The row number a columnar block's key entry `e` holds as its
    /// value (a varint).
    #[inline]
    pub(super) fn row_of(&self, e: &RawEntry) -> Result<usize, Malformed> {
        let value = self
            .data
            .get(e.value.clone())
            .ok_or(Malformed("entry out of range"))?;
        let mut pos = 0;
        let row = get_varint32(value, &mut pos)? as usize;
        if pos != value.len() || row >= self.l.count {
            return Err(Malformed("bad row number in columnar block keys"));
        }
        Ok(row)
    }

    /// Decodes entry `i`, checking every length against the block.
    #[inline]
    pub(super) fn entry_at(&self, i: usize) -> Result<RawEntry, Malformed> {
        if i >= self.l.count {
            return Err(Malformed("entry index out of range"));
        }
        let pos = read_u32(self.data, self.l.offsets_at + 4 * i)
            .ok_or(Malformed("offsets array out of range"))?;
        self.entry_at_offset(pos as usize)
    }

    /// Decodes the entry starting at byte `pos`, checking every length
    /// against the entries region. Entries are stored back to back, so the
    /// entry after `e` starts at `e.value.end`.
    #[inline]
    pub(super) fn entry_at_offset(&self, mut pos: usize) -> Result<RawEntry, Malformed> {
        let entries = self
            .data
            .get(..self.l.offsets_at)
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
    pub(super) fn key(&self, e: &RawEntry) -> &'a [u8] {
        // In range: `entry_at` checked it against `data[..offsets_at]`.
        &self.data[e.key.clone()]
    }

    /// Index of the first entry at or after `(key, seqno)` in internal
    /// order, or the entry count if every entry is before it.
    pub(super) fn seek(&self, key: &[u8], seqno: Seqno) -> Result<usize, Malformed> {
        self.prefetch();
        let (mut lo, mut hi) = (0, self.l.count);
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

    /// Hash-index bucket `b` (below the bucket count): (offset, tag).
    #[inline]
    fn bucket(&self, b: usize) -> Result<(u32, u32), Malformed> {
        let at = self.l.buckets_at + self.l.width * b;
        let bytes = self
            .data
            .get(at..at + self.l.width)
            .ok_or(Malformed("hash index out of range"))?;
        Ok(match *bytes {
            [a, b, c, d] => (
                u32::from(u16::from_le_bytes([a, b])),
                u32::from(u16::from_le_bytes([c, d])),
            ),
            [a, b, c, d, e, f, g, h] => (
                u32::from_le_bytes([a, b, c, d]),
                u32::from_le_bytes([e, f, g, h]),
            ),
            _ => return Err(Malformed("hash index out of range")),
        })
    }

    /// The newest entry of `key` with seqno `<= seqno` in this block, if
    /// any; `hash` is the key's [`super::bloom::hash`]. Uses the hash index
    /// when the block has one, so a lookup usually reads one or two
    /// adjacent buckets and decodes one entry.
    #[inline]
    pub(super) fn find(
        &self,
        key: &[u8],
        seqno: Seqno,
        hash: u64,
    ) -> Result<Option<RawEntry>, Malformed> {
        let n = self.l.buckets;
        if n > 0 {
            let (empty, tag) = (bucket_empty(self.l.width), bucket_tag(hash, self.l.width));
            let mut b = bucket_of(hash, n);
            // At most `n` probes, even if a damaged index has no empty bucket.
            for _ in 0..n {
                let (offset, t) = self.bucket(b)?;
                if offset == empty {
                    return Ok(None);
                }
                if t == tag {
                    // Possibly the key's first version here; entries are
                    // contiguous, so walk its versions. Many: binary search.
                    let mut pos = offset as usize;
                    let e = self.entry_at_offset(pos)?;
                    if self.key(&e) == key {
                        let mut e = e;
                        for _ in 0..8 {
                            if e.seqno <= seqno {
                                return Ok(Some(e));
                            }
                            pos = e.value.end;
                            if pos >= self.l.offsets_at {
                                return Ok(None);
                            }
                            e = self.entry_at_offset(pos)?;
                            if self.key(&e) != key {
                                return Ok(None);
                            }
                        }
                        break;
                    }
                }
                b = if b + 1 == n { 0 } else { b + 1 };
            }
        }
        let i = self.seek(key, seqno)?;
        if i >= self.l.count {
            return Ok(None);
        }
        let e = self.entry_at(i)?;
        Ok((self.key(&e) == key).then_some(e))
    }
}

/// An owned, checksum-verified block in the entry layout. Cloning is
/// cheap (the bytes are shared).
#[derive(Debug, Clone)]
pub(super) struct Block {
    data: Bytes,
    l: Layout,
}

impl Block {
    /// A block of no bytes and no entries: a placeholder for "no block".
    pub(super) fn empty() -> Block {
        Block {
            data: Bytes::new(),
            l: Layout {
                size: 0,
                offsets_at: 0,
                buckets_at: 0,
                buckets: 0,
                width: 4,
                count: 0,
            },
        }
    }

    /// Checks the block's trailer (counts, offsets array and hash index fit).
    pub(super) fn parse(data: Bytes) -> Result<Block, Malformed> {
        let l = Layout::of(&data)?;
        Ok(Block { data, l })
    }

    /// `data` with a layout known from elsewhere (the index).
    pub(super) fn with_layout(data: Bytes, l: Layout) -> Result<Block, Malformed> {
        BlockView::new(&data, l)?;
        Ok(Block { data, l })
    }

    /// The borrowed view lookups decode from.
    #[inline]
    pub(super) fn view(&self) -> BlockView<'_> {
        BlockView {
            data: &self.data,
            l: self.l,
        }
    }

    /// Number of entries.
    #[inline]
    pub(super) fn len(&self) -> usize {
        self.l.count
    }

    /// The block's bytes.
    #[inline]
    pub(super) fn bytes(&self) -> &Bytes {
        &self.data
    }

    /// Decodes entry `i`, checking every length against the block.
    #[inline]
    pub(super) fn entry_at(&self, i: usize) -> Result<RawEntry, Malformed> {
        self.view().entry_at(i)
    }

    /// Decodes the entry starting at byte `pos` (see
    /// [`BlockView::entry_at_offset`]).
    #[inline]
    pub(super) fn entry_at_offset(&self, pos: usize) -> Result<RawEntry, Malformed> {
        self.view().entry_at_offset(pos)
    }

    /// The key of a decoded entry.
    #[inline]
    pub(super) fn key(&self, e: &RawEntry) -> &[u8] {
        // In range: `entry_at` checked it against `data[..offsets_at]`.
        &self.data[e.key.clone()]
    }

    /// The entry as an owned [`Entry`] sharing this block's bytes.
    #[cfg(test)]
    pub(super) fn to_entry(&self, e: &RawEntry) -> Entry {
        entry_in(&self.data, 0, e)
    }

    /// Index of the first entry at or after `(key, seqno)` in internal
    /// order, or [`Block::len`] if every entry is before it.
    pub(super) fn seek(&self, key: &[u8], seqno: Seqno) -> Result<usize, Malformed> {
        self.view().seek(key, seqno)
    }
}

/// The entry `e` of a block that starts at byte `base` of `bytes`, as an
/// owned [`Entry`] sharing `bytes`. `e` must have been decoded from that
/// block.
#[cfg(any(test, feature = "fuzzing"))]
pub(super) fn entry_in(bytes: &Bytes, base: usize, e: &RawEntry) -> Entry {
    Entry {
        key: bytes.slice(base + e.key.start..base + e.key.end),
        seqno: e.seqno,
        kind: e.kind,
        value: bytes.slice(base + e.value.start..base + e.value.end),
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
    if !crate::types::checksum_ok(crc32fast::hash(body), crc) {
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
pub(super) fn decompress(payload: &[u8], expected: Option<usize>) -> Result<Vec<u8>, Malformed> {
    let len = read_u32(payload, 0).ok_or(Malformed("compressed block too short"))? as usize;
    let frame = &payload[4..];
    let Some(expected) = expected else {
        // No independent size to check the header against (meta blocks):
        // let memory grow only as the frame really produces data, so a
        // lying length cannot make us allocate gigabytes up front.
        use std::io::Read as _;
        let mut out = Vec::with_capacity(len.min(1 << 20));
        zstd::stream::read::Decoder::new(frame)
            .map_err(|_| Malformed("cannot create zstd decompressor"))?
            .take(len as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|_| Malformed("zstd frame does not decompress"))?;
        if out.len() != len {
            return Err(Malformed("decompressed length differs from header"));
        }
        return Ok(out);
    };
    if len != expected {
        return Err(Malformed("decompressed length differs from the index"));
    }
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
        assert_eq!(block.l.buckets > 0, hash_index && !entries.is_empty());
        block
    }

    fn build(entries: &[(&[u8], Seqno, Kind, &[u8])]) -> Block {
        build_with(entries, true)
    }

    #[test]
    fn find_agrees_with_a_linear_scan() {
        // Narrow buckets; wide buckets (a block of more than 64 KiB).
        find_agrees_with_a_linear_scan_with(b"v", 4);
        find_agrees_with_a_linear_scan_with(&[7u8; 100], 8);
    }

    fn find_agrees_with_a_linear_scan_with(value: &[u8], width: usize) {
        // 300 keys, some with many versions (more than the linear walk).
        let keys: Vec<Vec<u8>> = (0..300u32)
            .map(|i| format!("k{i:04}").into_bytes())
            .collect();
        let mut entries: Vec<(&[u8], Seqno, Kind, &[u8])> = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            let versions = if i % 50 == 0 { 20 } else { 1 + i % 3 };
            for v in (0..versions).rev() {
                entries.push((k, 10 * v as u64 + 5, Kind::Put, value));
            }
        }
        let scan = |key: &[u8], seqno: Seqno| {
            entries
                .iter()
                .position(|(k, s, _, _)| *k == key && *s <= seqno)
        };
        for hash_index in [true, false] {
            let block = build_with(&entries, hash_index);
            assert_eq!(block.l.width, width);
            for probe in keys
                .iter()
                .map(|k| k.as_slice())
                .chain([&b"k"[..], b"k0100x", b"zz"])
            {
                let hash = super::super::bloom::hash(probe);
                for seqno in [0, 4, 5, 6, 15, 99, 150, 195, 196, Seqno::MAX] {
                    let got = block.view().find(probe, seqno, hash).unwrap();
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
                decompress(payload, None).unwrap()
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

#[cfg(test)]
mod decompress_regressions {
    use super::*;

    /// Found by the `sst_read` fuzz target: a compressed block whose
    /// length header claimed ~3.8 GB made the reader allocate that much
    /// before decompressing.
    #[test]
    fn a_lying_length_header_is_refused_without_allocating_it() {
        let frame = zstd::bulk::compress(b"hello hello hello hello", 1).unwrap();
        let mut payload = 3_851_722_825u32.to_le_bytes().to_vec();
        payload.extend_from_slice(&frame);
        assert!(decompress(&payload, None).is_err());
        assert!(decompress(&payload, Some(23)).is_err());
        let mut honest = 23u32.to_le_bytes().to_vec();
        honest.extend_from_slice(&frame);
        assert_eq!(
            decompress(&honest, None).unwrap(),
            b"hello hello hello hello"
        );
        assert_eq!(
            decompress(&honest, Some(23)).unwrap(),
            b"hello hello hello hello"
        );
    }
}
