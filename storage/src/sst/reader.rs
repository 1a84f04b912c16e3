//! Reads an SST through a read-only memory map.
//!
//! [`Table::open`] checks the footer and loads the filter, index and
//! properties blocks (each checksummed) into memory. Data blocks are read on
//! demand: an uncompressed block is a zero-copy slice of the map whose crc
//! is checked the first time it is read, a compressed block is checked and
//! decompressed once into the shared [`BlockCache`]. Entries handed out are
//! `Bytes` slices of those blocks. Any bytes that fail a check or do not
//! decode are an [`Error::Corruption`] naming the file and the offset of
//! the bad block; nothing here panics on file contents.

use std::cmp::Ordering;
use std::fmt;
use std::ops::{Bound, Range};
use std::path::{Path, PathBuf};
use std::sync::atomic::{self, AtomicBool, AtomicU64};
use std::sync::{Arc, OnceLock};

use bytes::{Buf, Bytes};

use super::block::{
    self, Block, BlockView, INDEX_VALUE_LEN, Layout, Malformed, RawEntry, TAG_NONE, TAG_ZSTD,
    TRAILER_LEN, read_u32, read_u64,
};
use super::bloom::{self, Bloom};
use super::{
    BLOCK_COLUMNAR, BLOCK_COLUMNAR_PACKED, BlockCache, FOOTER_LEN, FORMAT_VERSION,
    FORMAT_VERSION_COLUMNAR, FORMAT_VERSION_ROWS, MAGIC, TableMeta,
};
use crate::columnar::PointRead;
use crate::columnar::keys::{PackedKeys, PackedMeta, PackedView};
use crate::columnar::{self, ColumnBlock, ColumnDir, KeySide, Reader, Summary, ValueLayout, Zones};
use crate::error::{Error, Result};
use crate::io::Io;
use crate::types::{Entry, Kind, Seqno, internal_cmp};

thread_local! {
    /// The buffer point reads join a columnar row's value into.
    static JOIN_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The part of the footer every format version keeps at the end of the
/// file: version, its complement, magic, crc32.
const STABLE_TAIL_LEN: usize = 20;
/// Smallest stored data block: bucket and entry counts, tag and crc.
const MIN_BLOCK_LEN: u64 = 8 + TRAILER_LEN as u64;

/// What a lookup needs to know about one data block, from its index
/// entry: where it is stored and its layout, so that reading an entry does
/// not first read the block's trailer. Aligned so that it never straddles
/// two cache lines.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(32))]
struct BlockHandle {
    offset: u64,
    stored_len: u32,
    /// Length of the (decompressed) contents.
    contents_len: u32,
    entries: u32,
    buckets: u32,
    /// Length of the entry layout at the start of the contents: all of
    /// it in a row block, the keys in a columnar block.
    keys_len: u32,
    tag: u8,
    columnar: bool,
    /// A columnar block whose keys part is packed (`buckets` is then 0
    /// and the keys are not in the entry layout).
    packed: bool,
}

impl BlockHandle {
    #[inline]
    fn layout(&self) -> std::result::Result<Layout, Malformed> {
        Layout::new(
            self.keys_len as usize,
            self.buckets as usize,
            self.entries as usize,
        )
    }
}

/// The last internal key of one data block: a slice of the index block's
/// bytes and a seqno. Only read when hints tie.
#[derive(Debug, Clone, Copy)]
struct BlockKey {
    key_start: u32,
    key_end: u32,
    seqno: Seqno,
}

/// Hints per [`HintLine`].
const HINTS_PER_LINE: usize = 8;

/// Eight consecutive block hints: one cache line.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct HintLine([u64; HINTS_PER_LINE]);

/// The block index, kept in memory. A lookup binary-searches `top` (the
/// largest hint of every line, small enough to stay cached), then counts
/// within one line of `lines`, and compares key bytes only when hints tie;
/// the result indexes `handles`.
#[derive(Debug)]
struct Index {
    keys: Bytes,
    /// Length of the prefix every index key shares (that of the first).
    common: usize,
    /// Up to 8 bytes of each block's last key after the common prefix,
    /// big-endian and zero-padded: comparing hints orders keys unless they
    /// are equal. The last line is padded with `u64::MAX`.
    lines: Box<[HintLine]>,
    /// `top[j]` is the hint of the last block in `lines[j]`.
    top: Box<[u64]>,
    handles: Box<[BlockHandle]>,
    block_keys: Box<[BlockKey]>,
    /// What the index says of each columnar block (`None` for row blocks).
    columnar: Box<[Option<ColumnarEntry>]>,
}

/// The part of a columnar block's index entry past the row block fields:
/// its first key, summary and block-level zone maps (ranges into the
/// index block's bytes).
#[derive(Debug, Clone)]
struct ColumnarEntry {
    /// Checked at load; kept for scans that would skip a block before
    /// loading it (not done yet).
    #[allow(dead_code)]
    first_key: Range<u32>,
    summary: Summary,
    zones: Range<u32>,
}

/// The first 8 bytes of `s`, big-endian, zero-padded.
#[inline]
fn hint_of(s: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    let n = s.len().min(8);
    b[..n].copy_from_slice(&s[..n]);
    u64::from_be_bytes(b)
}

impl Index {
    /// `handles` and `block_keys` must have been checked against `keys`
    /// (`load_index`).
    fn new(
        keys: Bytes,
        handles: Vec<BlockHandle>,
        block_keys: Vec<BlockKey>,
        columnar: Vec<Option<ColumnarEntry>>,
    ) -> Index {
        let key = |k: &BlockKey| &keys[k.key_start as usize..k.key_end as usize];
        let common = match (block_keys.first(), block_keys.last()) {
            // Keys are sorted, so the first and last share what all share.
            (Some(a), Some(b)) => key(a)
                .iter()
                .zip(key(b))
                .take_while(|(x, y)| x == y)
                .count(),
            _ => 0,
        };
        let hints: Vec<u64> = block_keys
            .iter()
            .map(|k| hint_of(&keys[k.key_start as usize + common..k.key_end as usize]))
            .collect();
        let lines: Box<[HintLine]> = hints
            .chunks(HINTS_PER_LINE)
            .map(|c| {
                let mut line = HintLine([u64::MAX; HINTS_PER_LINE]);
                line.0[..c.len()].copy_from_slice(c);
                line
            })
            .collect();
        let top = hints
            .chunks(HINTS_PER_LINE)
            .map(|c| c.last().copied().unwrap_or(u64::MAX))
            .collect();
        Index {
            keys,
            common,
            lines,
            top,
            handles: handles.into_boxed_slice(),
            block_keys: block_keys.into_boxed_slice(),
            columnar: columnar.into_boxed_slice(),
        }
    }

    /// Number of data blocks.
    #[inline]
    fn len(&self) -> usize {
        self.handles.len()
    }

    #[inline]
    fn key(&self, i: usize) -> &[u8] {
        // In range: checked by `load_index`.
        let k = &self.block_keys[i];
        &self.keys[k.key_start as usize..k.key_end as usize]
    }

    #[inline]
    fn hint(&self, i: usize) -> u64 {
        self.lines[i / HINTS_PER_LINE].0[i % HINTS_PER_LINE]
    }

    /// The first block whose hint is `>= hint`, or [`Index::len`].
    #[inline]
    fn lower_bound(&self, hint: u64) -> usize {
        let j = self.top.partition_point(|&h| h < hint);
        let Some(line) = self.lines.get(j) else {
            return self.len();
        };
        // `top[j] >= hint` is a real hint of this line, so the count stops
        // at or before it (padding is `u64::MAX`, never below `hint`).
        let below = line.0.iter().map(|&h| usize::from(h < hint)).sum::<usize>();
        HINTS_PER_LINE * j + below
    }

    /// The first block whose last version is at or after `(key, seqno)` in
    /// internal order: the only block that can hold the first version at
    /// or after it. `None` if every block is before it.
    #[inline]
    fn find(&self, key: &[u8], seqno: Seqno) -> Option<usize> {
        if self.handles.is_empty() {
            return None;
        }
        let prefix = &self.key(0)[..self.common];
        let i = match key.get(..self.common).map(|k| k.cmp(prefix)) {
            Some(Ordering::Equal) => {
                let hint = hint_of(&key[self.common..]);
                let mut lo = self.lower_bound(hint);
                if lo < self.len() && self.hint(lo) == hint {
                    // Blocks whose hints tie with the key's: compare keys.
                    let mut hi = self.len();
                    while lo < hi {
                        let mid = lo + (hi - lo) / 2;
                        let before = self.hint(mid) == hint
                            && internal_cmp(self.key(mid), self.block_keys[mid].seqno, key, seqno)
                                .is_lt();
                        if before {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                }
                lo
            }
            // Shorter than the common prefix: compare what there is.
            None if key < prefix => 0,
            Some(Ordering::Less) => 0,
            _ => self.len(),
        };
        (i < self.len()).then_some(i)
    }
}

/// An open, immutable table.
pub(crate) struct Table {
    id: u64,
    path: PathBuf,
    meta: TableMeta,
    /// The whole file, mapped.
    file: Bytes,
    index: Index,
    bloom: Bloom,
    /// One bit per data block: an uncompressed block whose crc was checked.
    verified: Box<[AtomicU64]>,
    cache: Arc<BlockCache>,
    io: Arc<dyn Io>,
    obsolete: AtomicBool,
    /// Joins the fields of columnar blocks back into values; present
    /// whenever the table holds columnar blocks (checked at open).
    layout: Option<Arc<dyn ValueLayout>>,
    /// The parsed column directory of each columnar data block, filled on
    /// first use (empty when the table holds no columnar block). The table
    /// is immutable, so an entry never goes stale: a compaction writes new
    /// tables with slots of their own.
    dirs: Box<[OnceLock<Arc<ColumnDir>>]>,
    /// Each columnar data block as a [`ColumnBlock`], built on the first
    /// point read by reference ([`Table::get_ref`]) that lands in it, then
    /// kept with its [`SuffixKeys`] (same emptiness as `dirs`).
    blocks: Box<[OnceLock<CachedBlock>]>,
}

/// What a point read by reference found in a table, borrowing the
/// table's cached block ([`Table::read_ref`]): a [`PointRead`] whose
/// block is not yet shared.
#[derive(Debug)]
pub(crate) enum TableRef<'t> {
    /// The value's bytes (a row block's version, or a tombstone's empty
    /// value).
    Row(Bytes),
    /// Row `row` of a columnar block the table keeps.
    Block {
        /// The table's cached block.
        block: &'t Arc<ColumnBlock>,
        /// The version's row number in the block.
        row: usize,
    },
}

impl TableRef<'_> {
    /// The owned form, taking a reference on the block.
    pub(crate) fn into_owned(self) -> PointRead {
        match self {
            TableRef::Row(bytes) => PointRead::Row(bytes),
            TableRef::Block { block, row } => PointRead::Block {
                block: Arc::clone(block),
                row,
            },
        }
    }
}

/// A columnar block kept for point reads.
#[derive(Debug)]
struct CachedBlock {
    block: Arc<ColumnBlock>,
    /// Its keys as integers, when they have the shape that allows it.
    keys: Option<SuffixKeys>,
}

/// The keys of a columnar block whose versions are all puts of distinct
/// keys made of one shared prefix and 8 more bytes (fasty's row keys: a
/// table prefix and an order-preserving integer): the last 8 bytes of
/// each, big-endian, ascending. A point read then finds its row with an
/// interpolation search over this array (usually one probe, one cache
/// line) instead of the keys part's hash index and entry (two dependent
/// cache misses).
#[derive(Debug)]
struct SuffixKeys {
    /// The prefix every key shares.
    prefix: Box<[u8]>,
    /// Row `i`'s key suffix; strictly ascending.
    suffixes: Box<[u64]>,
    /// The newest seqno in the block: a read at or after it sees every
    /// row.
    max_seqno: Seqno,
}

impl SuffixKeys {
    /// The keys of `block`, if they have the shape (see [`SuffixKeys`]).
    fn of(block: &ColumnBlock) -> Option<SuffixKeys> {
        if !block.keys_unique() || block.has_tombstones() || block.rows() == 0 {
            return None;
        }
        if let Some(p) = block.packed_keys() {
            // Packed keys have the shape by construction: their suffixes
            // only need unpacking (and checking that they ascend).
            let mut suffixes = Vec::new();
            p.suffixes(&mut suffixes);
            if suffixes.windows(2).any(|w| w[0] >= w[1]) || p.has_tombstones() {
                return None;
            }
            return Some(SuffixKeys {
                prefix: p.prefix().into(),
                suffixes: suffixes.into_boxed_slice(),
                max_seqno: block.seqno_range().1,
            });
        }
        let mut first = Vec::new();
        block.key_into(0, &mut first);
        let plen = first.len().checked_sub(8)?;
        let prefix: Box<[u8]> = first[..plen].into();
        let mut suffixes = Vec::with_capacity(block.rows());
        let mut k = Vec::with_capacity(first.len());
        for row in 0..block.rows() {
            k.clear();
            block.key_into(row, &mut k);
            if k.len() != plen + 8 || k[..plen] != prefix[..] || block.is_tombstone(row) {
                return None;
            }
            let s = block.key_suffix(row)?;
            if suffixes.last().is_some_and(|&last| last >= s) {
                return None;
            }
            suffixes.push(s);
        }
        Some(SuffixKeys {
            prefix,
            suffixes: suffixes.into_boxed_slice(),
            max_seqno: block.seqno_range().1,
        })
    }

    /// The row of `key` as a read at `seqno` sees it: `Some(Some(row))`
    /// found, `Some(None)` not in the block, `None` when this index cannot
    /// answer (a read older than some row, or a key of another shape).
    #[inline]
    fn find(&self, key: &[u8], seqno: Seqno) -> Option<Option<usize>> {
        if seqno < self.max_seqno || key.len() != self.prefix.len() + 8 {
            return None;
        }
        let (prefix, tail) = key.split_at(self.prefix.len());
        if prefix != &self.prefix[..] {
            return Some(None);
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(tail);
        Some(interpolation_search(&self.suffixes, u64::from_be_bytes(b)))
    }
}

/// The position of `t` in `s` (strictly ascending): a few interpolation
/// probes, which land on dense keys at once, then a binary search.
#[inline]
pub(super) fn interpolation_search(s: &[u64], t: u64) -> Option<usize> {
    let (mut lo, mut hi) = (0, s.len());
    for _ in 0..3 {
        if lo >= hi {
            return None;
        }
        let (a, b) = (s[lo], s[hi - 1]);
        if t < a || t > b {
            return None;
        }
        if a == b {
            return Some(lo);
        }
        let span = (hi - 1 - lo) as u128;
        let pos = lo + (u128::from(t - a) * span / u128::from(b - a)) as usize;
        match s[pos].cmp(&t) {
            Ordering::Equal => return Some(pos),
            Ordering::Less => lo = pos + 1,
            Ordering::Greater => hi = pos,
        }
    }
    let rest = s.get(lo..hi)?;
    rest.binary_search(&t).ok().map(|p| lo + p)
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("id", &self.id)
            .field("path", &self.path)
            .field("meta", &self.meta)
            .field("blocks", &self.index.len())
            .finish_non_exhaustive()
    }
}

impl Table {
    /// Maps the file read-only, checks the footer (magic, version, crc) and
    /// loads and checks the index, bloom filter and properties.
    ///
    /// A file written by another format version is
    /// [`Error::UnsupportedVersion`]; a truncated or damaged one is
    /// [`Error::Corruption`].
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn open(path: &Path, id: u64, cache: Arc<BlockCache>, io: Arc<dyn Io>) -> Result<Table> {
        Self::open_with(path, id, cache, io, None)
    }

    /// [`Table::open`] with the value layout that joins the fields of
    /// columnar blocks; a table holding columnar blocks opened without
    /// one is an [`Error::InvalidArgument`].
    pub fn open_with(
        path: &Path,
        id: u64,
        cache: Arc<BlockCache>,
        io: Arc<dyn Io>,
        layout: Option<Arc<dyn ValueLayout>>,
    ) -> Result<Table> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        if len < STABLE_TAIL_LEN as u64 {
            return Err(Error::corruption(
                path,
                0,
                format!("file of {len} bytes is too short for a table footer"),
            ));
        }
        // SAFETY: the map is read-only and tables are immutable once
        // `TableWriter::finish` returns: the engine never writes to,
        // truncates or replaces a table file while it is open (removal only
        // unlinks it, which leaves the mapping valid). Another process
        // modifying the file would break this, as it would for any mmap
        // reader; the data directory is the engine's alone.
        let map =
            unsafe { memmap2::MmapOptions::new().map(&file) }.map_err(|e| Error::io(path, e))?;
        let file = Bytes::from_owner(map);
        Self::from_bytes_with(path, id, file, cache, io, layout)
    }

    /// Opens a table from its bytes; `path` names it in errors and is
    /// what [`Table::mark_obsolete`] removes.
    #[cfg(test)]
    pub(super) fn from_bytes(
        path: &Path,
        id: u64,
        file: Bytes,
        cache: Arc<BlockCache>,
        io: Arc<dyn Io>,
    ) -> Result<Table> {
        Self::from_bytes_with(path, id, file, cache, io, None)
    }

    /// [`Table::from_bytes`] with a value layout (see [`Table::open_with`]).
    pub(super) fn from_bytes_with(
        path: &Path,
        id: u64,
        file: Bytes,
        cache: Arc<BlockCache>,
        io: Arc<dyn Io>,
        layout: Option<Arc<dyn ValueLayout>>,
    ) -> Result<Table> {
        let footer = Footer::read(path, &file)?;
        let bloom_bytes = read_meta_block(path, &file, footer.bloom)?;
        let index_bytes = read_meta_block(path, &file, footer.index)?;
        let props_bytes = read_meta_block(path, &file, footer.props)?;

        let index = load_index(
            path,
            index_bytes,
            footer.index.0,
            footer.bloom.0,
            footer.version,
        )?;
        if layout.is_none() && index.columnar.iter().any(Option::is_some) {
            return Err(Error::InvalidArgument(format!(
                "table {} holds columnar blocks: open the engine with the value layout that wrote it",
                path.display()
            )));
        }
        let bloom =
            Bloom::parse(&bloom_bytes).map_err(|m| Error::corruption(path, footer.bloom.0, m.0))?;
        let meta = load_properties(
            path,
            &props_bytes,
            footer.props.0,
            file.len() as u64,
            &index,
        )?;

        let words = index.len().div_ceil(64);
        let (dirs, blocks) = if index.columnar.iter().any(Option::is_some) {
            (
                (0..index.len()).map(|_| OnceLock::new()).collect(),
                (0..index.len()).map(|_| OnceLock::new()).collect(),
            )
        } else {
            (Box::default(), Box::default())
        };
        Ok(Table {
            id,
            path: path.to_path_buf(),
            meta,
            file,
            index,
            bloom,
            verified: (0..words).map(|_| AtomicU64::new(0)).collect(),
            cache,
            io,
            obsolete: AtomicBool::new(false),
            layout,
            dirs,
            blocks,
        })
    }

    /// The id the table was opened with (also its block cache key).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// What the table holds.
    pub fn meta(&self) -> &TableMeta {
        &self.meta
    }

    /// The table's file.
    #[cfg(test)]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The newest version of `key` with seqno `<= seqno` (a tombstone is an
    /// entry of kind `Delete`), or `None` if the table holds none. Only
    /// tests and the fuzz targets look a table up on its own.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn get(&self, key: &[u8], seqno: Seqno) -> Result<Option<Entry>> {
        if self.has_columnar() {
            return Ok(self
                .get_value_columnar(key, seqno)?
                .map(|(seqno, kind, value)| Entry {
                    key: Bytes::copy_from_slice(key),
                    seqno,
                    kind,
                    value,
                }));
        }
        Ok(self
            .lookup(key, seqno)?
            .map(|(bytes, base, e)| block::entry_in(&bytes, base, &e)))
    }

    /// The kind and value of what [`Table::get`] finds: the engine's point
    /// read, which needs no key and so takes one reference on the block
    /// (the value's) instead of three.
    pub fn get_value(&self, key: &[u8], seqno: Seqno) -> Result<Option<(Kind, Bytes)>> {
        if self.has_columnar() {
            return Ok(self
                .get_value_columnar(key, seqno)?
                .map(|(_, kind, value)| (kind, value)));
        }
        Ok(self.lookup(key, seqno)?.map(|(mut bytes, base, e)| {
            // Narrowing an owned `Bytes` in place takes no reference.
            bytes.truncate(base + e.value.end);
            bytes.advance(base + e.value.start);
            (e.kind, bytes)
        }))
    }

    /// The sequence number of the newest version of `key` (a put or a
    /// tombstone) in this table, if it holds one.
    pub(crate) fn newest_seqno(&self, key: &[u8]) -> Result<Option<Seqno>> {
        Ok(self
            .find_version(key, crate::types::MAX_SEQNO)?
            .map(|found| match found {
                Found::Bytes(seqno, ..) | Found::Columnar { seqno, .. } => seqno,
            }))
    }

    /// What [`Table::get_value`] finds, without joining a columnar row:
    /// a version in a columnar block comes back as the block and its row
    /// number ([`PointRead::Block`]), anything else as its value bytes.
    /// A tombstone is `(Kind::Delete, PointRead::Row(empty))`.
    #[cfg(test)]
    pub fn get_ref(&self, key: &[u8], seqno: Seqno) -> Result<Option<(Kind, PointRead)>> {
        Ok(self
            .read_ref(key, seqno)?
            .map(|(kind, read)| (kind, read.into_owned())))
    }

    /// [`Table::get_ref`] borrowing the table's cached block instead of
    /// taking a reference on it (see [`TableRef`]).
    pub(crate) fn read_ref(
        &self,
        key: &[u8],
        seqno: Seqno,
    ) -> Result<Option<(Kind, TableRef<'_>)>> {
        if !self.has_columnar() {
            return Ok(self
                .get_value(key, seqno)?
                .map(|(kind, value)| (kind, TableRef::Row(value))));
        }
        let hash = bloom::hash(key);
        if !self.bloom.may_contain(hash) {
            return Ok(None);
        }
        let Some(i) = self.index.find(key, seqno) else {
            return Ok(None);
        };
        if let Some(found) = self.find_cached(i, key, seqno) {
            return Ok(found);
        }
        Ok(match self.find_version_in(i, key, seqno, hash)? {
            None => None,
            Some(Found::Bytes(_, kind, value)) => Some((kind, TableRef::Row(value))),
            Some(Found::Columnar { block, row, .. }) => Some((
                Kind::Put,
                TableRef::Block {
                    block: self.cached_block(block)?,
                    row,
                },
            )),
        })
    }

    /// [`Table::read_ref`] in block `i` (the one the index names) through
    /// its [`SuffixKeys`], when the block is cached and they can answer.
    #[inline]
    fn find_cached(
        &self,
        i: usize,
        key: &[u8],
        seqno: Seqno,
    ) -> Option<Option<(Kind, TableRef<'_>)>> {
        let cached = self.blocks.get(i)?.get()?;
        let row = cached.keys.as_ref()?.find(key, seqno)?;
        Some(row.map(|row| {
            (
                Kind::Put,
                TableRef::Block {
                    block: &cached.block,
                    row,
                },
            )
        }))
    }

    /// The version of `key` a point read finds (newest with seqno `<=
    /// seqno`) in a table that may hold columnar blocks: the bytes of a
    /// row block's version or of a tombstone, or where a put in a
    /// columnar block is.
    fn find_version(&self, key: &[u8], seqno: Seqno) -> Result<Option<Found>> {
        let hash = bloom::hash(key);
        if !self.bloom.may_contain(hash) {
            return Ok(None);
        }
        let Some(i) = self.index.find(key, seqno) else {
            return Ok(None);
        };
        self.find_version_in(i, key, seqno, hash)
    }

    /// [`Table::find_version`] in block `i`, the one the index names
    /// (`hash` is the key's bloom hash).
    #[inline]
    fn find_version_in(
        &self,
        i: usize,
        key: &[u8],
        seqno: Seqno,
        hash: u64,
    ) -> Result<Option<Found>> {
        let h = self.index.handles[i];
        if !h.columnar {
            return Ok(self
                .lookup_in(i, key, seqno, hash)?
                .map(|(mut bytes, base, e)| {
                    bytes.truncate(base + e.value.end);
                    bytes.advance(base + e.value.start);
                    Found::Bytes(e.seqno, e.kind, bytes)
                }));
        }
        let corrupt = |m: Malformed| self.corrupt(h.offset, m);
        self.check_uncompressed(i, &h)?;
        let start = h.offset as usize;
        let data = self
            .file
            .get(start..start + h.contents_len as usize)
            .ok_or_else(|| corrupt(Malformed("block beyond end of file")))?;
        let keys = data
            .get(..h.keys_len as usize)
            .ok_or_else(|| corrupt(Malformed("keys beyond the block")))?;
        if h.packed {
            return self.find_packed(i, keys, key, seqno);
        }
        let layout = h.layout().map_err(corrupt)?;
        let view = BlockView::new(keys, layout).map_err(corrupt)?;
        let Some(e) = view.find(key, seqno, hash).map_err(corrupt)? else {
            return Ok(None);
        };
        if e.kind == Kind::Delete {
            return Ok(Some(Found::Bytes(e.seqno, Kind::Delete, Bytes::new())));
        }
        let row = view.row_of(&e).map_err(corrupt)?;
        Ok(Some(Found::Columnar {
            block: i,
            seqno: e.seqno,
            row,
        }))
    }

    /// [`Table::find_version_in`] in columnar block `i`, whose keys part
    /// `keys` is packed: read in place, no hash index.
    #[inline]
    fn find_packed(
        &self,
        i: usize,
        keys: &[u8],
        key: &[u8],
        seqno: Seqno,
    ) -> Result<Option<Found>> {
        let h = self.index.handles[i];
        let meta = PackedMeta::parse(keys, h.entries as usize)
            .map_err(|m| self.corrupt(h.offset, Malformed(m.0)))?;
        let view = PackedView::new(keys, &meta);
        let Some(row) = view.find(key, seqno) else {
            return Ok(None);
        };
        let seqno = view.seqno(row);
        if view.is_tombstone(row) {
            return Ok(Some(Found::Bytes(seqno, Kind::Delete, Bytes::new())));
        }
        Ok(Some(Found::Columnar {
            block: i,
            seqno,
            row,
        }))
    }

    /// Columnar data block `i` as a [`ColumnBlock`]: built on first use,
    /// then kept.
    #[inline]
    fn cached_block(&self, i: usize) -> Result<&Arc<ColumnBlock>> {
        let Some(slot) = self.blocks.get(i) else {
            let offset = self.index.handles.get(i).map_or(0, |h| h.offset);
            return Err(self.corrupt(offset, Malformed("columnar block in a table without any")));
        };
        if let Some(c) = slot.get() {
            return Ok(&c.block);
        }
        self.build_block(i, slot).map(|c| &c.block)
    }

    #[cold]
    #[inline(never)]
    fn build_block<'s>(
        &self,
        i: usize,
        slot: &'s OnceLock<CachedBlock>,
    ) -> Result<&'s CachedBlock> {
        let offset = self.index.handles[i].offset;
        let keys = self.keys_part(i)?;
        let mut block = self
            .column_block(i, &keys)?
            .ok_or_else(|| self.corrupt(offset, Malformed("row block marked columnar")))?;
        if self.layout.as_ref().is_some_and(|l| l.text_is_utf8()) {
            // Checked once here, so that readers of the cached block need
            // not check each field they read.
            block
                .check_text()
                .map_err(|m| self.corrupt(offset, Malformed(m.0)))?;
        }
        let keys = SuffixKeys::of(&block);
        // Another thread may have filled the slot meanwhile: same block.
        let _ = slot.set(CachedBlock {
            block: Arc::new(block),
            keys,
        });
        slot.get()
            .ok_or_else(|| self.corrupt(offset, Malformed("columnar block lost")))
    }

    /// Whether any data block is columnar.
    #[inline]
    fn has_columnar(&self) -> bool {
        !self.dirs.is_empty()
    }

    /// [`Table::get_value`] in a table that may hold columnar blocks: a
    /// version found in one has its value joined from its fields.
    /// Also returns the version's seqno.
    fn get_value_columnar(&self, key: &[u8], seqno: Seqno) -> Result<Option<(Seqno, Kind, Bytes)>> {
        let (i, seqno, row) = match self.find_version(key, seqno)? {
            None => return Ok(None),
            Some(Found::Bytes(seqno, kind, value)) => return Ok(Some((seqno, kind, value))),
            Some(Found::Columnar { block, seqno, row }) => (block, seqno, row),
        };
        let Some(l) = &self.layout else {
            return Ok(Some((seqno, Kind::Put, Bytes::new())));
        };
        let h = self.index.handles[i];
        let corrupt = |m: Malformed| self.corrupt(h.offset, m);
        // The block's column region (`find_version` checked the block
        // lies in the file; a keys part longer than it is corruption).
        let start = h.offset as usize;
        let region = self
            .file
            .get(start + h.keys_len as usize..start + h.contents_len as usize)
            .ok_or_else(|| corrupt(Malformed("block beyond end of file")))?;
        let dir = self.column_dir(i, region, h.entries as usize)?;
        // Joined into a reused buffer, then copied out at its exact size
        // (one allocation, and a `Bytes` that needs no shared header).
        let value = JOIN_BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            dir.value(region, row, l.as_ref(), &mut buf, true)
                .map(|()| Bytes::copy_from_slice(&buf))
        });
        let value = value.map_err(|m| corrupt(Malformed(m.0)))?;
        Ok(Some((seqno, Kind::Put, value)))
    }

    /// The column directory of columnar data block `i`, whose column
    /// region is `region` (of `rows` rows): parsed on first use, then
    /// kept.
    #[inline]
    fn column_dir(&self, i: usize, region: &[u8], rows: usize) -> Result<&Arc<ColumnDir>> {
        let Some(slot) = self.dirs.get(i) else {
            let offset = self.index.handles.get(i).map_or(0, |h| h.offset);
            return Err(self.corrupt(offset, Malformed("columnar block in a table without any")));
        };
        if let Some(dir) = slot.get() {
            return Ok(dir);
        }
        let dir = ColumnDir::parse(region, rows)
            .map_err(|m| self.corrupt(self.index.handles[i].offset, Malformed(m.0)))?;
        // Another thread may have filled the slot meanwhile: same bytes,
        // same directory.
        let _ = slot.set(Arc::new(dir));
        slot.get().ok_or_else(|| {
            self.corrupt(
                self.index.handles[i].offset,
                Malformed("column directory lost"),
            )
        })
    }

    /// The version [`Table::get`] finds, with the bytes it was decoded from
    /// (the block or the whole map) and the block's start in them.
    #[inline]
    fn lookup(&self, key: &[u8], seqno: Seqno) -> Result<Option<(Bytes, usize, RawEntry)>> {
        let hash = bloom::hash(key);
        if !self.bloom.may_contain(hash) {
            return Ok(None);
        }
        let Some(i) = self.index.find(key, seqno) else {
            return Ok(None);
        };
        self.lookup_in(i, key, seqno, hash)
    }

    /// [`Table::lookup`] in row block `i`, the one the index names.
    #[inline]
    fn lookup_in(
        &self,
        i: usize,
        key: &[u8],
        seqno: Seqno,
        hash: u64,
    ) -> Result<Option<(Bytes, usize, RawEntry)>> {
        let h = self.index.handles[i];
        let corrupt = |m: Malformed| self.corrupt(h.offset, m);
        let layout = h.layout().map_err(corrupt)?;
        if h.tag == TAG_NONE {
            // Zero-copy: decode straight from the map, and take a reference
            // on it only for the entry handed out.
            self.check_uncompressed(i, &h)?;
            let start = h.offset as usize;
            let data = self
                .file
                .get(start..start + h.contents_len as usize)
                .ok_or_else(|| corrupt(Malformed("block beyond end of file")))?;
            let view = BlockView::new(data, layout).map_err(corrupt)?;
            let found = view.find(key, seqno, hash).map_err(corrupt)?;
            Ok(found.map(|e| (self.file.clone(), start, e)))
        } else {
            let data = self.load_compressed(&h)?;
            let view = BlockView::new(&data, layout).map_err(corrupt)?;
            let found = view.find(key, seqno, hash).map_err(corrupt)?;
            Ok(found.map(|e| (data, 0, e)))
        }
    }

    /// Versions whose user key lies within the bounds: in internal order,
    /// or in exactly the reverse of it when `reverse` (per key, seqno
    /// ascending). No I/O happens until the first `next`.
    #[cfg(any(test, feature = "fuzzing"))]
    pub fn iter(
        self: &Arc<Self>,
        lower: Bound<Bytes>,
        upper: Bound<Bytes>,
        reverse: bool,
    ) -> TableIter {
        TableIter(TableCursor::new(
            vec![Arc::clone(self)],
            lower,
            upper,
            reverse,
        ))
    }

    /// Marks the file obsolete: it is removed when the last `Arc<Table>`
    /// drops.
    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, atomic::Ordering::Release);
    }

    /// The block-level zone maps of columnar block `i`, from the index
    /// (`None` for a row block).
    pub(crate) fn block_zones(&self, i: usize) -> Option<Zones<'_>> {
        let e = self.index.columnar.get(i)?.as_ref()?;
        let bytes = self
            .index
            .keys
            .get(e.zones.start as usize..e.zones.end as usize)?;
        // Checked when the index was loaded.
        Zones::read(&mut Reader::new(bytes)).ok()
    }

    /// How many data blocks are columnar.
    pub fn columnar_block_count(&self) -> usize {
        self.index.handles.iter().filter(|h| h.columnar).count()
    }

    /// Whether each data block is columnar, in file order.
    #[cfg(test)]
    pub(crate) fn columnar_blocks(&self) -> Vec<bool> {
        self.index.handles.iter().map(|h| h.columnar).collect()
    }

    /// Whether each data block is columnar with packed keys, in file order.
    #[cfg(test)]
    pub(crate) fn packed_blocks(&self) -> Vec<bool> {
        self.index.handles.iter().map(|h| h.packed).collect()
    }

    /// (offset, stored length) of every data block, in file order.
    #[cfg(test)]
    pub(crate) fn block_handles(&self) -> Vec<(u64, u64)> {
        self.index
            .handles
            .iter()
            .map(|h| (h.offset, u64::from(h.stored_len)))
            .collect()
    }

    fn corrupt(&self, offset: u64, m: Malformed) -> Error {
        Error::corruption(&self.path, offset, m.0)
    }

    /// The stored bytes (payload, tag, crc) of the block `h` describes.
    fn stored(&self, h: &BlockHandle) -> Result<&[u8]> {
        let start = h.offset as usize;
        self.file
            .get(start..start + h.stored_len as usize)
            .ok_or_else(|| self.corrupt(h.offset, Malformed("block beyond end of file")))
    }

    /// Checks uncompressed data block `i` (described by `h`) on its first
    /// use: its crc, and that its tag and trailer agree with the index
    /// entry lookups trust instead of reading them.
    #[inline]
    fn check_uncompressed(&self, i: usize, h: &BlockHandle) -> Result<()> {
        let (word, bit) = (&self.verified[i / 64], 1u64 << (i % 64));
        if word.load(atomic::Ordering::Relaxed) & bit == 0 {
            self.verify_uncompressed(h)?;
            word.fetch_or(bit, atomic::Ordering::Relaxed);
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn verify_uncompressed(&self, h: &BlockHandle) -> Result<()> {
        let corrupt = |m: Malformed| self.corrupt(h.offset, m);
        let (tag, payload) = block::verify(self.stored(h)?).map_err(corrupt)?;
        if tag != TAG_NONE {
            return Err(corrupt(Malformed("compression tag differs from the index")));
        }
        check_trailer(payload, h).map_err(corrupt)
    }

    /// The decompressed contents of compressed block `h`, from the cache
    /// or checked (crc, tag, length, trailer) and decompressed into it.
    fn load_compressed(&self, h: &BlockHandle) -> Result<Bytes> {
        let corrupt = |m: Malformed| self.corrupt(h.offset, m);
        self.cache.get_or_load(self.id, h.offset, || {
            let (tag, payload) = block::verify(self.stored(h)?).map_err(corrupt)?;
            if tag != TAG_ZSTD {
                return Err(corrupt(Malformed("compression tag differs from the index")));
            }
            let data =
                block::decompress(payload, Some(h.contents_len as usize)).map_err(corrupt)?;
            check_trailer(&data, h).map_err(corrupt)?;
            // An owner rather than `Bytes::from(Vec)`: slices of it narrow
            // in place (`truncate` on a `Vec`-backed `Bytes` reallocates its
            // shared header).
            Ok(Bytes::from_owner(data))
        })
    }

    /// The keys part of data block `i` (which must be below the block
    /// count), checked: the whole of a row block, or a columnar block's
    /// keys (in the entry layout, or packed).
    fn keys_part(&self, i: usize) -> Result<KeysPart> {
        let h = self.index.handles[i];
        let corrupt = |m: Malformed| self.corrupt(h.offset, m);
        let data = if h.tag == TAG_NONE {
            self.check_uncompressed(i, &h)?;
            let start = h.offset as usize;
            let range = start..start + h.keys_len as usize;
            if self
                .file
                .get(start..start + h.contents_len as usize)
                .is_none()
            {
                return Err(corrupt(Malformed("block beyond end of file")));
            }
            self.file.slice(range)
        } else {
            self.load_compressed(&h)?
        };
        if h.packed {
            return PackedKeys::parse(data, h.entries as usize)
                .map(KeysPart::Packed)
                .map_err(|m| corrupt(Malformed(m.0)));
        }
        let layout = h.layout().map_err(corrupt)?;
        Block::with_layout(data, layout)
            .map(KeysPart::Rows)
            .map_err(corrupt)
    }

    /// The columns of columnar data block `i`, whose keys (from
    /// [`Table::keys_part`]) are `keys`; `None` for a row block.
    fn column_block(&self, i: usize, keys: &KeysPart) -> Result<Option<ColumnBlock>> {
        let h = self.index.handles[i];
        if !h.columnar {
            return Ok(None);
        }
        let start = h.offset as usize;
        let region = start + h.keys_len as usize..start + h.contents_len as usize;
        if self.file.get(region.clone()).is_none() {
            return Err(self.corrupt(h.offset, Malformed("block beyond end of file")));
        }
        let data = self.file.slice(region);
        let dir = Arc::clone(self.column_dir(i, &data, h.entries as usize)?);
        let keys = Box::new(BlockKeys(keys.clone()));
        Ok(Some(ColumnBlock::with_dir(data, keys, dir)))
    }
}

/// The keys part of a data block: a block in the entry layout (a row
/// block, or a columnar block's keys as the first columnar format stored
/// them), or a columnar block's packed keys.
#[derive(Debug, Clone)]
enum KeysPart {
    Rows(Block),
    Packed(PackedKeys),
}

impl KeysPart {
    /// No keys: a placeholder for "no block".
    fn empty() -> KeysPart {
        KeysPart::Rows(Block::empty())
    }

    /// Number of versions.
    #[inline]
    fn len(&self) -> usize {
        match self {
            KeysPart::Rows(b) => b.len(),
            KeysPart::Packed(p) => p.view().len(),
        }
    }

    /// Decodes version `i`. For packed keys only its seqno and kind are
    /// set (the key is read with [`PackedView::key_into`], the value from
    /// the columns).
    #[inline]
    fn entry_at(&self, i: usize) -> std::result::Result<RawEntry, Malformed> {
        match self {
            KeysPart::Rows(b) => b.entry_at(i),
            KeysPart::Packed(p) => {
                let v = p.view();
                if i >= v.len() {
                    return Err(Malformed("entry index out of range"));
                }
                Ok(RawEntry {
                    key: 0..0,
                    seqno: v.seqno(i),
                    kind: if v.is_tombstone(i) {
                        Kind::Delete
                    } else {
                        Kind::Put
                    },
                    value: 0..0,
                })
            }
        }
    }

    /// Index of the first version at or after `(key, seqno)` in internal
    /// order, or [`KeysPart::len`].
    #[inline]
    fn seek(&self, key: &[u8], seqno: Seqno) -> std::result::Result<usize, Malformed> {
        match self {
            KeysPart::Rows(b) => b.seek(key, seqno),
            KeysPart::Packed(p) => Ok(p.view().seek(key, seqno)),
        }
    }

    /// Appends version `i`'s key to `out` (nothing when it does not
    /// decode; reading it through [`KeysPart::entry_at`] reports that).
    fn key_into(&self, i: usize, out: &mut Vec<u8>) {
        match self {
            KeysPart::Rows(b) => {
                if let Ok(e) = b.entry_at(i) {
                    out.extend_from_slice(b.key(&e));
                }
            }
            KeysPart::Packed(p) => {
                if i < p.view().len() {
                    p.view().key_into(i, out);
                }
            }
        }
    }
}

/// Where the version a point read finds is ([`Table::find_version`]).
enum Found {
    /// Its seqno, kind and value bytes: a version in a row block, or a
    /// tombstone.
    Bytes(Seqno, Kind, Bytes),
    /// A put in columnar data block `block`, at row `row`.
    Columnar {
        block: usize,
        seqno: Seqno,
        row: usize,
    },
}

/// The keys of a columnar block, as its [`ColumnBlock`] reads them.
#[derive(Debug)]
struct BlockKeys(KeysPart);

impl BlockKeys {
    /// The key of row `i` in the entry layout (empty when it does not
    /// decode).
    #[inline]
    fn row_key(b: &Block, i: usize) -> &[u8] {
        match b.entry_at(i) {
            Ok(e) => &b.bytes()[e.key],
            Err(_) => &[],
        }
    }
}

impl KeySide for BlockKeys {
    #[inline]
    fn key_cmp(&self, i: usize, other: &[u8]) -> Ordering {
        match &self.0 {
            KeysPart::Rows(b) => BlockKeys::row_key(b, i).cmp(other),
            KeysPart::Packed(p) => {
                let v = p.view();
                if i < v.len() {
                    v.key_cmp(i, other)
                } else {
                    [].as_slice().cmp(other)
                }
            }
        }
    }

    fn key_into(&self, i: usize, out: &mut Vec<u8>) {
        self.0.key_into(i, out);
    }

    #[inline]
    fn key_suffix(&self, i: usize) -> Option<u64> {
        match &self.0 {
            KeysPart::Rows(b) => {
                let k = BlockKeys::row_key(b, i);
                let tail = k.get(k.len().checked_sub(8)?..)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(tail);
                Some(u64::from_be_bytes(a))
            }
            KeysPart::Packed(p) => (i < p.view().len()).then(|| p.view().suffix(i)),
        }
    }

    #[inline]
    fn same_key(&self, a: usize, b: usize) -> bool {
        match &self.0 {
            KeysPart::Rows(blk) => BlockKeys::row_key(blk, a) == BlockKeys::row_key(blk, b),
            KeysPart::Packed(p) => {
                let v = p.view();
                a < v.len() && b < v.len() && v.suffix(a) == v.suffix(b)
            }
        }
    }

    #[inline]
    fn version(&self, i: usize) -> (Seqno, bool) {
        match self.0.entry_at(i) {
            Ok(e) => (e.seqno, e.kind == Kind::Delete),
            Err(_) => (0, false),
        }
    }

    fn packed(&self) -> Option<PackedView<'_>> {
        match &self.0 {
            KeysPart::Rows(_) => None,
            KeysPart::Packed(p) => Some(p.view()),
        }
    }
}

/// Checks that a verified block's contents have the length and counts its
/// index entry records.
fn check_trailer(contents: &[u8], h: &BlockHandle) -> std::result::Result<(), Malformed> {
    let keys = contents
        .get(..h.keys_len as usize)
        .ok_or(Malformed("block shorter than its keys"))?;
    if h.packed {
        PackedMeta::parse(keys, h.entries as usize).map_err(|m| Malformed(m.0))?;
        if contents.len() != h.contents_len as usize {
            return Err(Malformed("block trailer differs from the index"));
        }
        return Ok(());
    }
    let l = Layout::of(keys)?;
    if contents.len() != h.contents_len as usize
        || l.entries() != h.entries as usize
        || l.buckets() != h.buckets as usize
    {
        return Err(Malformed("block trailer differs from the index"));
    }
    Ok(())
}

impl Drop for Table {
    fn drop(&mut self) {
        if self.obsolete.load(atomic::Ordering::Acquire)
            && let Err(e) = self.io.remove(&self.path)
        {
            tracing::warn!(path = %self.path.display(), error = %e, "cannot remove obsolete table");
        }
    }
}

/// The version 1 footer: handles (offset, stored length) of the meta blocks.
struct Footer {
    bloom: (u64, u64),
    index: (u64, u64),
    props: (u64, u64),
    /// The file's format version: 1 (row blocks only) or 2.
    version: u32,
}

impl Footer {
    fn read(path: &Path, file: &[u8]) -> Result<Footer> {
        let len = file.len();
        if len < STABLE_TAIL_LEN {
            return Err(Error::corruption(
                path,
                0,
                "file too short for a table footer",
            ));
        }
        let footer_at = len.saturating_sub(FOOTER_LEN) as u64;
        let corrupt = |reason: &str| Error::corruption(path, footer_at, reason);
        // The stable tail: version, !version, magic, crc.
        let tail = len - STABLE_TAIL_LEN;
        let (Some(version), Some(check), Some(magic)) = (
            read_u32(file, tail),
            read_u32(file, tail + 4),
            read_u64(file, tail + 8),
        ) else {
            return Err(corrupt("footer out of range"));
        };
        if magic != MAGIC {
            return Err(corrupt("bad magic number (not a table, or truncated)"));
        }
        if version != !check {
            return Err(corrupt("footer version field damaged"));
        }
        if version != FORMAT_VERSION
            && version != FORMAT_VERSION_COLUMNAR
            && version != FORMAT_VERSION_ROWS
        {
            return Err(Error::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if len < FOOTER_LEN {
            return Err(corrupt("file too short for a table footer"));
        }
        let footer = &file[len - FOOTER_LEN..];
        let crc_at = FOOTER_LEN - 4;
        if !read_u32(footer, crc_at).is_some_and(|stored| {
            crate::types::checksum_ok(crc32fast::hash(&footer[..crc_at]), stored)
        }) {
            return Err(corrupt("footer checksum mismatch"));
        }
        let h = |i: usize| {
            (
                read_u64(footer, 16 * i).unwrap_or(0),
                read_u64(footer, 16 * i + 8).unwrap_or(0),
            )
        };
        let footer = Footer {
            bloom: h(0),
            index: h(1),
            props: h(2),
            version,
        };
        // The meta blocks are contiguous and end where the footer starts.
        let chain = [footer.bloom, footer.index, footer.props];
        let mut end = footer.bloom.0;
        for (offset, stored) in chain {
            if offset != end || stored < TRAILER_LEN as u64 {
                return Err(corrupt("meta block handles are inconsistent"));
            }
            end = offset
                .checked_add(stored)
                .ok_or_else(|| corrupt("meta block handle overflows"))?;
        }
        if end != footer_at {
            return Err(corrupt("meta blocks do not end at the footer"));
        }
        Ok(footer)
    }
}

/// Checks and, if compressed, decompresses a filter, index or properties
/// block.
fn read_meta_block(path: &Path, file: &Bytes, (offset, len): (u64, u64)) -> Result<Bytes> {
    let corrupt = |m: Malformed| Error::corruption(path, offset, m.0);
    let (start, end) = (offset as usize, (offset + len) as usize);
    let stored = file
        .get(start..end)
        .ok_or_else(|| corrupt(Malformed("block beyond end of file")))?;
    match block::verify(stored).map_err(corrupt)? {
        (TAG_NONE, _) => Ok(file.slice(start..end - TRAILER_LEN)),
        (TAG_ZSTD, payload) => block::decompress(payload, None)
            .map(Bytes::from)
            .map_err(corrupt),
        _ => Err(corrupt(Malformed("unknown compression tag"))),
    }
}

/// Decodes the index block and checks that its handles tile the data
/// region `[0, data_end)` in order, its keys increase, and each block's
/// recorded layout is possible.
fn load_index(
    path: &Path,
    bytes: Bytes,
    offset: u64,
    data_end: u64,
    version: u32,
) -> Result<Index> {
    let corrupt = |m: &'static str| Error::corruption(path, offset, m);
    let block = Block::parse(bytes).map_err(|m| corrupt(m.0))?;
    if u32::try_from(block.bytes().len()).is_err() {
        return Err(corrupt("index block larger than 4 GiB"));
    }
    let mut handles = Vec::with_capacity(block.len());
    let mut block_keys = Vec::with_capacity(block.len());
    let mut columnar = Vec::with_capacity(block.len());
    let mut expected = 0u64;
    let mut prev: Option<RawEntry> = None;
    for i in 0..block.len() {
        let e = block.entry_at(i).map_err(|m| corrupt(m.0))?;
        let v = &block.bytes()[e.value.clone()];
        let u32_at = |at: usize| read_u32(v, at).unwrap_or(0);
        // Version 2 index entries of columnar blocks go on past the
        // version 1 fields.
        let long = version >= FORMAT_VERSION_COLUMNAR && v.len() > INDEX_VALUE_LEN;
        let (Some(at), Some(len), true) = (
            read_u64(v, 0),
            read_u64(v, 8),
            v.len() == INDEX_VALUE_LEN || long,
        ) else {
            return Err(corrupt("bad block handle in index"));
        };
        let mut h = BlockHandle {
            offset: at,
            stored_len: u32::try_from(len).map_err(|_| corrupt("data block of 4 GiB or more"))?,
            tag: v[16],
            contents_len: u32_at(17),
            entries: u32_at(21),
            buckets: u32_at(25),
            keys_len: u32_at(17),
            columnar: false,
            packed: false,
        };
        let ext = if long {
            let base = e.value.start;
            let entry = columnar_entry(&v[INDEX_VALUE_LEN..], base + INDEX_VALUE_LEN, version)
                .map_err(|m| corrupt(m.0))?;
            h.keys_len = entry.0;
            h.columnar = true;
            h.packed = entry.2;
            if h.keys_len > h.contents_len || h.tag != TAG_NONE || (h.packed && h.buckets != 0) {
                return Err(corrupt("bad columnar block handle in index"));
            }
            if entry.1.summary.rows != h.entries {
                return Err(corrupt("columnar block row count differs in index"));
            }
            Some(entry.1)
        } else {
            None
        };
        if at != expected || len < MIN_BLOCK_LEN {
            return Err(corrupt("index handles do not tile the data region"));
        }
        expected = at
            .checked_add(len)
            .ok_or_else(|| corrupt("index handle overflows"))?;
        let tag_ok = match h.tag {
            TAG_NONE => u64::from(h.contents_len) + TRAILER_LEN as u64 == len,
            TAG_ZSTD => true,
            _ => false,
        };
        if !tag_ok {
            return Err(corrupt("bad compression tag or length in index"));
        }
        if h.entries == 0 {
            return Err(corrupt("empty data block in index"));
        }
        if !h.packed {
            h.layout().map_err(|m| corrupt(m.0))?;
        }
        if let Some(p) = &prev
            && !internal_cmp(block.key(p), p.seqno, block.key(&e), e.seqno).is_lt()
        {
            return Err(corrupt("index keys out of order"));
        }
        handles.push(h);
        columnar.push(ext);
        block_keys.push(BlockKey {
            key_start: e.key.start as u32,
            key_end: e.key.end as u32,
            seqno: e.seqno,
        });
        prev = Some(e);
    }
    if expected != data_end {
        return Err(corrupt("index handles do not tile the data region"));
    }
    Ok(Index::new(
        block.bytes().clone(),
        handles,
        block_keys,
        columnar,
    ))
}

/// Decodes the columnar part of an index entry, `ext`, which starts at
/// byte `at` of the index block of a file of format `version`: (keys
/// length, the entry, whether the keys are packed). A marker the version
/// does not know is an error.
fn columnar_entry(
    ext: &[u8],
    at: usize,
    version: u32,
) -> std::result::Result<(u32, ColumnarEntry, bool), columnar::Malformed> {
    let bad = columnar::Malformed("bad columnar index entry");
    let mut r = Reader::new(ext);
    let packed = match r.u8()? {
        BLOCK_COLUMNAR => false,
        BLOCK_COLUMNAR_PACKED if version >= FORMAT_VERSION => true,
        _ => {
            return Err(columnar::Malformed(
                "unknown columnar block marker in index",
            ));
        }
    };
    let keys_len = r.u32()?;
    let first_len = r.u32()? as usize;
    let first_at = at + r.pos();
    r.take(first_len)?;
    let first_key = first_at as u32..(first_at + first_len) as u32;
    let (summary, _) = Summary::decode(&mut r)?;
    let zones_at = at + r.pos();
    let zones = Zones::read(&mut r)?;
    if zones.rows() != summary.rows as usize || r.rest() != 0 {
        return Err(bad);
    }
    Ok((
        keys_len,
        ColumnarEntry {
            first_key,
            summary,
            zones: zones_at as u32..(at + r.pos()) as u32,
        },
        packed,
    ))
}

/// Decodes the properties block and cross-checks it with the index.
fn load_properties(
    path: &Path,
    p: &[u8],
    offset: u64,
    file_size: u64,
    index: &Index,
) -> Result<TableMeta> {
    let corrupt = |m: &str| Error::corruption(path, offset, m);
    let field = |i: usize| read_u64(p, 8 * i).ok_or_else(|| corrupt("properties block too short"));
    let (entries, data_blocks, _distinct_keys, min_seqno, max_seqno) =
        (field(0)?, field(1)?, field(2)?, field(3)?, field(4)?);
    let mut pos = 40;
    let mut key = || -> Result<Bytes> {
        let len = read_u32(p, pos).ok_or_else(|| corrupt("properties block too short"))? as usize;
        let k = p
            .get(pos + 4..pos + 4 + len)
            .ok_or_else(|| corrupt("properties block too short"))?;
        pos += 4 + len;
        Ok(Bytes::copy_from_slice(k))
    };
    let (min_key, max_key) = (key()?, key()?);
    if pos != p.len() {
        return Err(corrupt("trailing bytes in properties block"));
    }
    let consistent = data_blocks == index.len() as u64
        && (entries == 0) == (data_blocks == 0)
        && entries >= data_blocks
        && min_seqno <= max_seqno
        && min_key <= max_key
        && (index.len() == 0 || index.key(index.len() - 1) == &max_key[..]);
    if !consistent {
        return Err(corrupt("properties disagree with the index"));
    }
    Ok(TableMeta {
        file_size,
        entries,
        min_key,
        max_key,
        min_seqno,
        max_seqno,
    })
}

/// The part of a table a [`TableProblem`] is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TablePart {
    Footer,
    Filter,
    Index,
    Properties,
    Data,
}

/// One damaged part of a table found by [`check_table`].
#[derive(Debug, Clone)]
pub(crate) struct TableProblem {
    pub part: TablePart,
    /// Byte offset of the bad block (the footer's for the footer).
    pub offset: u64,
    pub reason: String,
}

/// What [`check_table`] found.
#[derive(Debug, Default)]
pub(crate) struct TableCheck {
    /// The table's properties, when its footer, index and properties
    /// blocks are sound.
    pub meta: Option<TableMeta>,
    /// Data blocks read.
    pub data_blocks: u64,
    /// Every damaged part found, in file order within each kind.
    pub problems: Vec<TableProblem>,
}

impl TableCheck {
    fn push(&mut self, part: TablePart, e: Error) {
        let (offset, reason) = match e {
            Error::Corruption { offset, reason, .. } => (offset, reason),
            other => (0, other.to_string()),
        };
        self.problems.push(TableProblem {
            part,
            offset,
            reason,
        });
    }
}

/// Reads every block of the table `file` (read from `path`, named in
/// errors) and reports each one that fails a check, rather than stopping
/// at the first: the footer, the filter, index and properties blocks, and
/// every data block the index locates (checksum, compression, trailer,
/// entries decodable, in internal order across the whole table, within
/// the properties' key and sequence ranges and all present in the filter).
/// A damaged footer or index leaves the data blocks unlocatable; that is
/// reported once.
pub(crate) fn check_table(path: &Path, file: &Bytes) -> TableCheck {
    let mut out = TableCheck::default();
    let footer = match Footer::read(path, file) {
        Ok(f) => f,
        Err(e) => {
            out.push(TablePart::Footer, e);
            return out;
        }
    };
    let bloom = read_meta_block(path, file, footer.bloom)
        .and_then(|b| Bloom::parse(&b).map_err(|m| Error::corruption(path, footer.bloom.0, m.0)));
    let bloom = match bloom {
        Ok(b) => Some(b),
        Err(e) => {
            out.push(TablePart::Filter, e);
            None
        }
    };
    let index = read_meta_block(path, file, footer.index)
        .and_then(|b| load_index(path, b, footer.index.0, footer.bloom.0, footer.version));
    let index = match index {
        Ok(i) => Some(i),
        Err(e) => {
            out.push(TablePart::Index, e);
            None
        }
    };
    let props = read_meta_block(path, file, footer.props);
    let meta = match (props, &index) {
        (Ok(p), Some(index)) => load_properties(path, &p, footer.props.0, file.len() as u64, index)
            .map_err(|e| out.push(TablePart::Properties, e))
            .ok(),
        (Ok(_), None) => None,
        (Err(e), _) => {
            out.push(TablePart::Properties, e);
            None
        }
    };
    let Some(index) = index else {
        return out;
    };
    let mut prev: Option<(Bytes, Seqno)> = None;
    let mut entries = 0u64;
    let mut bloom_misses = 0u64;
    for i in 0..index.len() {
        let h = index.handles[i];
        out.data_blocks += 1;
        let block = match check_data_block(file, &h) {
            Ok(b) => b,
            Err(m) => {
                out.push(TablePart::Data, Error::corruption(path, h.offset, m.0));
                // Order is checked again from the next sound block on.
                prev = None;
                continue;
            }
        };
        entries += block.len() as u64;
        let mut bad: Option<&'static str> = None;
        // The previous version: in this block, or (for the first) the
        // last one of the previous sound block.
        let mut last: Option<(Vec<u8>, Seqno)> = prev.take().map(|(k, s)| (k.to_vec(), s));
        let mut key = Vec::new();
        let mut in_block = 0usize;
        for j in 0..block.len() {
            let e = match block.entry_at(j) {
                Ok(e) => e,
                Err(m) => {
                    bad = Some(m.0);
                    break;
                }
            };
            key.clear();
            block.key_into(j, &mut key);
            if let Some((pk, ps)) = &last
                && !internal_cmp(pk, *ps, &key, e.seqno).is_lt()
            {
                bad = Some("versions out of order");
                break;
            }
            if let Some(m) = &meta
                && (key[..] < m.min_key[..]
                    || key[..] > m.max_key[..]
                    || e.seqno < m.min_seqno
                    || e.seqno > m.max_seqno)
            {
                bad = Some("version outside the table's key or sequence range");
                break;
            }
            if let Some(b) = &bloom
                && !b.may_contain(bloom::hash(&key))
            {
                bloom_misses += 1;
            }
            in_block += 1;
            match &mut last {
                Some((k, s)) => {
                    k.clear();
                    k.extend_from_slice(&key);
                    *s = e.seqno;
                }
                None => last = Some((key.clone(), e.seqno)),
            }
        }
        if bad.is_none()
            && in_block > 0
            && let Some((k, s)) = &last
            && (&k[..] != index.key(i) || *s != index.block_keys[i].seqno)
        {
            bad = Some("last version differs from the index");
        }
        prev = last
            .filter(|_| bad.is_none() && in_block > 0)
            .map(|(k, s)| (Bytes::from(k), s));
        if let Some(reason) = bad {
            out.push(TablePart::Data, Error::corruption(path, h.offset, reason));
        }
    }
    if bloom_misses > 0 {
        out.push(
            TablePart::Filter,
            Error::corruption(
                path,
                footer.bloom.0,
                format!("filter rejects {bloom_misses} key(s) the table holds"),
            ),
        );
    }
    if let Some(m) = &meta
        && !out.problems.iter().any(|p| p.part == TablePart::Data)
        && entries != m.entries
    {
        out.push(
            TablePart::Properties,
            Error::corruption(
                path,
                footer.props.0,
                format!(
                    "properties count {} versions, the data blocks hold {entries}",
                    m.entries
                ),
            ),
        );
    }
    out.meta = meta.filter(|_| out.problems.is_empty());
    out
}

/// Checks and decodes one data block: checksum, tag, decompression and
/// trailer against its index entry.
fn check_data_block(file: &Bytes, h: &BlockHandle) -> std::result::Result<KeysPart, Malformed> {
    let start = h.offset as usize;
    let stored = file
        .get(start..start + h.stored_len as usize)
        .ok_or(Malformed("block beyond end of file"))?;
    let (tag, payload) = block::verify(stored)?;
    if tag != h.tag {
        return Err(Malformed("compression tag differs from the index"));
    }
    let data = match tag {
        TAG_NONE => file.slice(start..start + payload.len()),
        TAG_ZSTD => Bytes::from(block::decompress(payload, Some(h.contents_len as usize))?),
        _ => return Err(Malformed("unknown compression tag")),
    };
    check_trailer(&data, h)?;
    let keys_bytes = data.slice(..h.keys_len as usize);
    let keys = if h.packed {
        KeysPart::Packed(
            PackedKeys::parse(keys_bytes, h.entries as usize).map_err(|m| Malformed(m.0))?,
        )
    } else {
        let keys = Block::with_layout(keys_bytes, h.layout()?)?;
        if h.columnar {
            for j in 0..keys.len() {
                if keys.view().row_of(&keys.entry_at(j)?)? != j {
                    return Err(Malformed("bad row number in columnar block keys"));
                }
            }
        }
        KeysPart::Rows(keys)
    };
    if h.columnar {
        let region = data.slice(h.keys_len as usize..);
        ColumnBlock::parse(region, Box::new(BlockKeys(keys.clone())), keys.len())
            .map_err(|m| Malformed(m.0))?;
    }
    Ok(keys)
}

/// An iterator over a range of a table's versions; see [`Table::iter`].
/// After yielding an error it yields `None`.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) struct TableIter(TableCursor);

#[cfg(any(test, feature = "fuzzing"))]
impl fmt::Debug for TableIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(any(test, feature = "fuzzing"))]
impl Iterator for TableIter {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        match self.0.advance() {
            Ok(true) => Some(Ok(self.0.entry())),
            Ok(false) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

fn below_lower(key: &[u8], lower: &Bound<Bytes>) -> bool {
    match lower {
        Bound::Included(l) => key < &l[..],
        Bound::Excluded(l) => key <= &l[..],
        Bound::Unbounded => false,
    }
}

fn above_upper(key: &[u8], upper: &Bound<Bytes>) -> bool {
    match upper {
        Bound::Included(u) => key > &u[..],
        Bound::Excluded(u) => key >= &u[..],
        Bound::Unbounded => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CursorState {
    Unstarted,
    On,
    Done,
}

/// A cursor over the versions, within user-key bounds, of one table or of
/// the ordered, non-overlapping tables of one level: in internal order, or
/// in exactly its reverse (per key, seqno ascending).
///
/// Built for scans: each version is decoded once (forward, from where the
/// previous one ends), the current block is held (its bytes shared), so the
/// block cache is consulted once per block rather than per version, and the
/// end bound is compared only in a block the table's index says may cross
/// it. No I/O happens until the first [`TableCursor::advance`]; after an
/// error or the end it stays at the end.
pub(crate) struct TableCursor {
    /// The tables, in the order they are read (descending when reverse).
    tables: Vec<Arc<Table>>,
    /// The table being read.
    t: usize,
    lower: Bound<Bytes>,
    upper: Bound<Bytes>,
    reverse: bool,
    state: CursorState,
    /// The keys of the current block of `tables[t]` (empty when not
    /// positioned) and its number.
    block: KeysPart,
    block_idx: usize,
    /// The current version: its index in the block, and the version.
    pos: usize,
    entry: RawEntry,
    /// Whether the current block may hold versions past the end bound
    /// (above `upper` forward, below `lower` reverse).
    check_end: bool,
    /// [`TableCursor::prepare`] loaded the block the first seek lands in.
    prepared: bool,
    /// The columns of the current block when it is columnar.
    cols: Option<Arc<ColumnBlock>>,
    /// The current version's value, joined from `cols`.
    val: Vec<u8>,
    /// The current version's key when the block's keys are packed.
    packed_key: Vec<u8>,
}

impl fmt::Debug for TableCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableCursor")
            .field(
                "tables",
                &self.tables.iter().map(|t| t.id).collect::<Vec<_>>(),
            )
            .field("lower", &self.lower)
            .field("upper", &self.upper)
            .field("reverse", &self.reverse)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl TableCursor {
    /// A cursor over `tables` — one table, or tables of one level whose key
    /// ranges do not overlap, in key order (or descending key order when
    /// `reverse`).
    pub(crate) fn new(
        tables: Vec<Arc<Table>>,
        lower: Bound<Bytes>,
        upper: Bound<Bytes>,
        reverse: bool,
    ) -> TableCursor {
        TableCursor {
            tables,
            t: 0,
            lower,
            upper,
            reverse,
            state: CursorState::Unstarted,
            block: KeysPart::empty(),
            block_idx: 0,
            pos: 0,
            entry: RawEntry::EMPTY,
            check_end: true,
            prepared: false,
            cols: None,
            val: Vec::new(),
            packed_key: Vec::new(),
        }
    }

    /// Starts the first forward seek's memory traffic without waiting for
    /// it: loads the block the lower bound falls in and prefetches it, so
    /// that a merge starting many sources overlaps their cache misses
    /// (see [`crate::iter::MergeIter`]). Does nothing in reverse, without a
    /// lower bound, or once started; errors are left for
    /// [`TableCursor::advance`] to meet again and report.
    pub(crate) fn prepare(&mut self) {
        if self.state != CursorState::Unstarted || self.reverse || self.tables.is_empty() {
            return;
        }
        let (Bound::Included(k) | Bound::Excluded(k)) = &self.lower else {
            return;
        };
        let Some(i) = self.table().index.find(k, Seqno::MAX) else {
            return;
        };
        if self.load(i).is_ok() {
            if let KeysPart::Rows(b) = &self.block {
                b.view().prefetch();
            }
            self.prepared = true;
        }
    }

    /// Moves to the next version (the first one on the first call);
    /// `false` at the end.
    #[inline]
    pub(crate) fn advance(&mut self) -> Result<bool> {
        let step = match self.state {
            CursorState::On if self.reverse => self.step_back(),
            CursorState::On => self.step(),
            CursorState::Unstarted => {
                self.state = CursorState::On;
                self.start()
            }
            CursorState::Done => return Ok(false),
        };
        match step {
            Ok(true) => Ok(true),
            Ok(false) => {
                self.finish();
                Ok(false)
            }
            Err(e) => {
                self.finish();
                Err(e)
            }
        }
    }

    /// The current version's key (only meaningful after `advance` returned
    /// `true`).
    #[inline]
    pub(crate) fn key(&self) -> &[u8] {
        match &self.block {
            KeysPart::Rows(b) => b.key(&self.entry),
            KeysPart::Packed(_) => &self.packed_key,
        }
    }

    /// The current version's value (empty for a tombstone).
    #[inline]
    pub(crate) fn value(&self) -> &[u8] {
        if self.cols.is_some() {
            return &self.val;
        }
        match &self.block {
            KeysPart::Rows(b) => &b.bytes()[self.entry.value.clone()],
            KeysPart::Packed(_) => &[],
        }
    }

    #[inline]
    pub(crate) fn seqno(&self) -> Seqno {
        self.entry.seqno
    }

    #[inline]
    pub(crate) fn kind(&self) -> crate::types::Kind {
        self.entry.kind
    }

    /// The current version, owned (sharing the block's bytes).
    #[inline]
    pub(crate) fn entry(&self) -> Entry {
        let (key, value) = self.pair();
        Entry {
            key,
            seqno: self.entry.seqno,
            kind: self.entry.kind,
            value,
        }
    }

    /// The current key and value, owned (sharing the block's bytes).
    #[inline]
    pub(crate) fn pair(&self) -> (Bytes, Bytes) {
        let KeysPart::Rows(b) = &self.block else {
            // Packed keys are always a columnar block's.
            return (
                Bytes::copy_from_slice(&self.packed_key),
                Bytes::copy_from_slice(&self.val),
            );
        };
        let data = b.bytes();
        let value = if self.cols.is_some() {
            Bytes::copy_from_slice(&self.val)
        } else {
            data.slice(self.entry.value.clone())
        };
        (data.slice(self.entry.key.clone()), value)
    }

    /// When the cursor is on a version in a columnar block (going
    /// forward): the block, the version's row in it, the block's number in
    /// the current table and the table. What the piece-wise scan may take
    /// as a run.
    pub(crate) fn at_columnar_row(&self) -> Option<(&Arc<ColumnBlock>, usize, usize, &Arc<Table>)> {
        if self.state != CursorState::On || self.reverse {
            return None;
        }
        let cols = self.cols.as_ref()?;
        Some((cols, self.pos, self.block_idx, &self.tables[self.t]))
    }

    /// Moves forward to row `row` of the current block (at or after the
    /// current one); past its last row, to the first version after the
    /// block. `false` at the end.
    pub(crate) fn skip_to_row(&mut self, row: usize) -> Result<bool> {
        if self.state == CursorState::On && row > self.pos && row < self.block.len() {
            self.decode(row)?;
            return Ok(self.within_end());
        }
        if row >= self.block.len() {
            return self.skip_block();
        }
        Ok(self.state == CursorState::On)
    }

    /// The end of the current block's rows that are within the end bound
    /// (forward): the block's length when every row is, else the first
    /// row above the bound (a binary search from the current row).
    pub(crate) fn rows_within_end(&self) -> usize {
        let n = self.block.len();
        if !self.check_end {
            return n;
        }
        let (mut lo, mut hi) = (self.pos, n);
        let mut key = Vec::new();
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            // An undecodable entry ends the run early; reading it row by
            // row then reports the corruption.
            let above = match &self.block {
                KeysPart::Rows(b) => match b.entry_at(mid) {
                    Ok(e) => above_upper(&b.bytes()[e.key], &self.upper),
                    Err(_) => true,
                },
                KeysPart::Packed(p) => {
                    key.clear();
                    p.view().key_into(mid, &mut key);
                    above_upper(&key, &self.upper)
                }
            };
            if above {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo
    }

    /// Moves past the current block, to the first version of the next
    /// one (in this table or the next) within bounds; `false` at the end.
    pub(crate) fn skip_block(&mut self) -> Result<bool> {
        if self.state != CursorState::On {
            return self.advance();
        }
        // The next step from the block's last version leaves the block.
        self.pos = self.block.len().saturating_sub(1);
        self.cols = None;
        self.advance()
    }

    /// Joins the current version's value when the block is columnar.
    #[inline]
    fn fill_value(&mut self) {
        if let Some(cols) = &self.cols {
            self.val.clear();
            if let Some(layout) = &self.tables[self.t].layout {
                cols.value(self.pos, layout.as_ref(), &mut self.val);
            }
        }
    }

    fn finish(&mut self) {
        self.prepared = false;
        self.state = CursorState::Done;
        self.block = KeysPart::empty();
        self.cols = None;
        self.entry = RawEntry::EMPTY;
    }

    fn table(&self) -> &Table {
        &self.tables[self.t]
    }

    fn corrupt(&self, m: Malformed) -> Error {
        let t = self.table();
        t.corrupt(t.index.handles[self.block_idx].offset, m)
    }

    /// Makes block `i` of the current table current.
    fn load(&mut self, i: usize) -> Result<()> {
        let table = &self.tables[self.t];
        self.block = table.keys_part(i)?;
        self.cols = table.column_block(i, &self.block)?.map(Arc::new);
        self.block_idx = i;
        let index = &table.index;
        self.check_end = if self.reverse {
            // Block `i` starts after the last key of block `i - 1`.
            match i.checked_sub(1) {
                Some(p) => below_lower(index.key(p), &self.lower),
                None => !matches!(self.lower, Bound::Unbounded),
            }
        } else {
            above_upper(index.key(i), &self.upper)
        };
        Ok(())
    }

    /// Decodes entry `pos` of the current block, through its offsets array.
    fn decode(&mut self, pos: usize) -> Result<()> {
        self.entry = self.block.entry_at(pos).map_err(|m| self.corrupt(m))?;
        if let KeysPart::Packed(p) = &self.block {
            self.packed_key.clear();
            p.view().key_into(pos, &mut self.packed_key);
        }
        self.pos = pos;
        self.fill_value();
        Ok(())
    }

    /// Decodes the last entry of the current block.
    fn decode_last(&mut self) -> Result<()> {
        let last = self
            .block
            .len()
            .checked_sub(1)
            .ok_or_else(|| self.corrupt(Malformed("empty data block")))?;
        self.decode(last)
    }

    /// Moves to the first version at or after `(key, seqno)` in the current
    /// table; `false` if there is none.
    fn seek(&mut self, key: &[u8], seqno: Seqno) -> Result<bool> {
        let Some(i) = self.table().index.find(key, seqno) else {
            return Ok(false);
        };
        self.load(i)?;
        self.seek_in_block(key, seqno)
    }

    /// [`TableCursor::seek`] once the block it lands in is loaded.
    fn seek_in_block(&mut self, key: &[u8], seqno: Seqno) -> Result<bool> {
        let pos = self.block.seek(key, seqno).map_err(|m| self.corrupt(m))?;
        if pos == self.block.len() {
            return Err(self.corrupt(Malformed(
                "block ends before the last key its index entry names",
            )));
        }
        self.decode(pos)?;
        Ok(true)
    }

    /// Next version of the current table, ignoring bounds.
    #[inline]
    fn next_in_table(&mut self) -> Result<bool> {
        if self.pos + 1 < self.block.len() {
            let KeysPart::Rows(b) = &self.block else {
                self.decode(self.pos + 1)?;
                return Ok(true);
            };
            // Entries are stored back to back.
            self.entry = b
                .entry_at_offset(self.entry.value.end)
                .map_err(|m| self.corrupt(m))?;
            self.pos += 1;
            self.fill_value();
            return Ok(true);
        }
        if self.block_idx + 1 < self.table().index.len() {
            self.load(self.block_idx + 1)?;
            self.decode(0)?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Previous version of the current table, ignoring bounds.
    fn prev_in_table(&mut self) -> Result<bool> {
        if self.pos > 0 {
            self.decode(self.pos - 1)?;
            return Ok(true);
        }
        if self.block_idx > 0 {
            self.load(self.block_idx - 1)?;
            self.decode_last()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Positions on the current table's first version within the lower
    /// bound; `false` if it has none.
    fn first_in_table(&mut self) -> Result<bool> {
        let mut found = match &self.lower {
            Bound::Unbounded => {
                if self.table().index.len() == 0 {
                    return Ok(false);
                }
                self.load(0)?;
                self.decode(0)?;
                true
            }
            Bound::Included(k) | Bound::Excluded(k) => {
                let k = k.clone();
                // `prepare` loaded the block of this very seek (the lower
                // bound, in the first table).
                if std::mem::take(&mut self.prepared) {
                    self.seek_in_block(&k, Seqno::MAX)?
                } else {
                    self.seek(&k, Seqno::MAX)?
                }
            }
        };
        while found && below_lower(self.key(), &self.lower) {
            found = self.next_in_table()?;
        }
        Ok(found)
    }

    /// Positions on the current table's last version within the upper
    /// bound; `false` if it has none.
    fn last_in_table(&mut self) -> Result<bool> {
        // Find the first version past the bound, then step back one.
        let past = match self.upper.clone() {
            Bound::Unbounded => false,
            Bound::Excluded(k) => self.seek(&k, Seqno::MAX)?,
            Bound::Included(k) => {
                let mut found = self.seek(&k, 0)?;
                while found && self.key() == &k[..] {
                    found = self.next_in_table()?;
                }
                found
            }
        };
        if past {
            return self.prev_in_table();
        }
        let Some(last) = self.table().index.len().checked_sub(1) else {
            return Ok(false);
        };
        self.load(last)?;
        self.decode_last()?;
        Ok(true)
    }

    /// Positions on the first version within bounds of the next table that
    /// has one.
    fn enter_next_table(&mut self) -> Result<bool> {
        while self.t + 1 < self.tables.len() {
            self.t += 1;
            let found = if self.reverse {
                self.last_in_table()?
            } else {
                self.first_in_table()?
            };
            if found {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether the current version is within the end bound.
    #[inline]
    fn within_end(&self) -> bool {
        !self.check_end
            || if self.reverse {
                !below_lower(self.key(), &self.lower)
            } else {
                !above_upper(self.key(), &self.upper)
            }
    }

    fn start(&mut self) -> Result<bool> {
        if self.tables.is_empty() {
            return Ok(false);
        }
        let found = if self.reverse {
            self.last_in_table()?
        } else {
            self.first_in_table()?
        };
        Ok((found || self.enter_next_table()?) && self.within_end())
    }

    #[inline]
    fn step(&mut self) -> Result<bool> {
        Ok((self.next_in_table()? || self.enter_next_table()?) && self.within_end())
    }

    fn step_back(&mut self) -> Result<bool> {
        Ok((self.prev_in_table()? || self.enter_next_table()?) && self.within_end())
    }
}
