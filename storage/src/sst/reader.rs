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
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{self, AtomicBool, AtomicU64};

use bytes::Bytes;

use super::block::{
    self, Block, Malformed, RawEntry, TAG_NONE, TAG_ZSTD, TRAILER_LEN, read_u32, read_u64,
};
use super::bloom::{self, Bloom};
use super::{BlockCache, FOOTER_LEN, FORMAT_VERSION, MAGIC, TableMeta};
use crate::error::{Error, Result};
use crate::io::Io;
use crate::types::{Entry, Seqno, internal_cmp};

/// The part of the footer every format version keeps at the end of the
/// file: version, its complement, magic, crc32.
const STABLE_TAIL_LEN: usize = 20;
/// Smallest stored data block: bucket and entry counts, tag and crc.
const MIN_BLOCK_LEN: u64 = 8 + TRAILER_LEN as u64;

/// Where one data block lives, with the last internal key it holds.
#[derive(Debug, Clone, Copy)]
struct BlockHandle {
    /// Up to 8 bytes of the key after the index's common prefix, big-endian
    /// and zero-padded: comparing hints orders keys unless they are equal.
    hint: u64,
    key_start: u32,
    key_end: u32,
    seqno: Seqno,
    offset: u64,
    len: u64,
}

/// The block index, kept in memory: handles in file order, their keys
/// slices of the index block's bytes. Lookups binary-search the handles,
/// comparing integer hints first and key bytes only on a tie.
#[derive(Debug)]
struct Index {
    keys: Bytes,
    /// Length of the prefix every index key shares (that of the first).
    common: usize,
    blocks: Vec<BlockHandle>,
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
    /// `blocks` must have been checked against `keys` (`load_index`).
    fn new(keys: Bytes, mut blocks: Vec<BlockHandle>) -> Index {
        let key = |h: &BlockHandle| &keys[h.key_start as usize..h.key_end as usize];
        let common = match (blocks.first(), blocks.last()) {
            // Keys are sorted, so the first and last share what all share.
            (Some(a), Some(b)) => key(a)
                .iter()
                .zip(key(b))
                .take_while(|(x, y)| x == y)
                .count(),
            _ => 0,
        };
        for h in &mut blocks {
            h.hint = hint_of(&keys[h.key_start as usize + common..h.key_end as usize]);
        }
        Index {
            keys,
            common,
            blocks,
        }
    }

    #[inline]
    fn key(&self, h: &BlockHandle) -> &[u8] {
        // In range: checked by `load_index`.
        &self.keys[h.key_start as usize..h.key_end as usize]
    }

    /// The first block whose last version is at or after `(key, seqno)` in
    /// internal order: the only block that can hold the first version at
    /// or after it. `None` if every block is before it.
    #[inline]
    fn find(&self, key: &[u8], seqno: Seqno) -> Option<usize> {
        let first = self.blocks.first()?;
        let prefix = &self.key(first)[..self.common];
        let i = match key.get(..self.common).map(|k| k.cmp(prefix)) {
            Some(Ordering::Equal) => {
                let hint = hint_of(&key[self.common..]);
                self.blocks.partition_point(|h| {
                    h.hint < hint
                        || (h.hint == hint
                            && internal_cmp(self.key(h), h.seqno, key, seqno).is_lt())
                })
            }
            // Shorter than the common prefix: compare what there is.
            None if key < prefix => 0,
            Some(Ordering::Less) => 0,
            _ => self.blocks.len(),
        };
        (i < self.blocks.len()).then_some(i)
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
}

impl fmt::Debug for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Table")
            .field("id", &self.id)
            .field("path", &self.path)
            .field("meta", &self.meta)
            .field("blocks", &self.index.blocks.len())
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
    pub fn open(path: &Path, id: u64, cache: Arc<BlockCache>, io: Arc<dyn Io>) -> Result<Table> {
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
        Self::from_bytes(path, id, file, cache, io)
    }

    /// Opens a table from its bytes; `path` names it in errors and is
    /// what [`Table::mark_obsolete`] removes.
    pub(super) fn from_bytes(
        path: &Path,
        id: u64,
        file: Bytes,
        cache: Arc<BlockCache>,
        io: Arc<dyn Io>,
    ) -> Result<Table> {
        let footer = Footer::read(path, &file)?;
        let bloom_bytes = read_meta_block(path, &file, footer.bloom)?;
        let index_bytes = read_meta_block(path, &file, footer.index)?;
        let props_bytes = read_meta_block(path, &file, footer.props)?;

        let index = load_index(path, index_bytes, footer.index.0, footer.bloom.0)?;
        let bloom =
            Bloom::parse(&bloom_bytes).map_err(|m| Error::corruption(path, footer.bloom.0, m.0))?;
        let meta = load_properties(
            path,
            &props_bytes,
            footer.props.0,
            file.len() as u64,
            &index,
        )?;

        let words = index.blocks.len().div_ceil(64);
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
    /// entry of kind `Delete`), or `None` if the table holds none.
    pub fn get(&self, key: &[u8], seqno: Seqno) -> Result<Option<Entry>> {
        let hash = bloom::hash(key);
        if !self.bloom.may_contain(hash) {
            return Ok(None);
        }
        let Some(i) = self.index.find(key, seqno) else {
            return Ok(None);
        };
        let block = self.data_block(i)?;
        match block.find(key, seqno, hash) {
            Ok(found) => Ok(found.map(|e| block.to_entry(&e))),
            Err(m) => Err(self.corrupt(self.index.blocks[i].offset, m)),
        }
    }

    /// Versions whose user key lies within the bounds: in internal order,
    /// or in exactly the reverse of it when `reverse` (per key, seqno
    /// ascending). No I/O happens until the first `next`.
    pub fn iter(
        self: &Arc<Self>,
        lower: Bound<Bytes>,
        upper: Bound<Bytes>,
        reverse: bool,
    ) -> TableIter {
        TableIter {
            table: Arc::clone(self),
            lower,
            upper,
            reverse,
            started: false,
            done: false,
            block: None,
            block_idx: 0,
            pos: 0,
        }
    }

    /// Marks the file obsolete: it is removed when the last `Arc<Table>`
    /// drops.
    pub fn mark_obsolete(&self) {
        self.obsolete.store(true, atomic::Ordering::Release);
    }

    /// (offset, stored length) of every data block, in file order.
    #[cfg(test)]
    pub(super) fn block_handles(&self) -> Vec<(u64, u64)> {
        self.index
            .blocks
            .iter()
            .map(|h| (h.offset, h.len))
            .collect()
    }

    fn corrupt(&self, offset: u64, m: Malformed) -> Error {
        Error::corruption(&self.path, offset, m.0)
    }

    /// Data block `i` (which must be below the block count), checked.
    fn data_block(&self, i: usize) -> Result<Block> {
        let h = self.index.blocks[i];
        let corrupt = |m: Malformed| Error::corruption(&self.path, h.offset, m.0);
        // In range: `load_index` checked every handle against the file.
        let (start, end) = (h.offset as usize, (h.offset + h.len) as usize);
        let stored = self
            .file
            .get(start..end)
            .ok_or_else(|| corrupt(Malformed("block beyond end of file")))?;
        let tag = stored[stored.len() - TRAILER_LEN];
        let data = if tag == TAG_NONE {
            let (word, bit) = (&self.verified[i / 64], 1u64 << (i % 64));
            if word.load(atomic::Ordering::Relaxed) & bit == 0 {
                block::verify(stored).map_err(corrupt)?;
                word.fetch_or(bit, atomic::Ordering::Relaxed);
            }
            self.file.slice(start..end - TRAILER_LEN)
        } else {
            self.cache.get_or_load(self.id, h.offset, || {
                let (tag, payload) = block::verify(stored).map_err(corrupt)?;
                if tag != TAG_ZSTD {
                    return Err(corrupt(Malformed("unknown compression tag")));
                }
                block::decompress(payload).map(Bytes::from).map_err(corrupt)
            })?
        };
        let block = Block::parse(data).map_err(corrupt)?;
        if block.len() == 0 {
            return Err(corrupt(Malformed("empty data block")));
        }
        Ok(block)
    }
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
        if version != FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if len < FOOTER_LEN {
            return Err(corrupt("file too short for a version 1 footer"));
        }
        let footer = &file[len - FOOTER_LEN..];
        let crc_at = FOOTER_LEN - 4;
        if read_u32(footer, crc_at) != Some(crc32fast::hash(&footer[..crc_at])) {
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
        (TAG_ZSTD, payload) => block::decompress(payload).map(Bytes::from).map_err(corrupt),
        _ => Err(corrupt(Malformed("unknown compression tag"))),
    }
}

/// Decodes the index block and checks that its handles tile the data
/// region `[0, data_end)` in order and its keys increase.
fn load_index(path: &Path, bytes: Bytes, offset: u64, data_end: u64) -> Result<Index> {
    let corrupt = |m: &'static str| Error::corruption(path, offset, m);
    let block = Block::parse(bytes).map_err(|m| corrupt(m.0))?;
    if u32::try_from(block.bytes().len()).is_err() {
        return Err(corrupt("index block larger than 4 GiB"));
    }
    let mut blocks = Vec::with_capacity(block.len());
    let mut expected = 0u64;
    let mut prev: Option<RawEntry> = None;
    for i in 0..block.len() {
        let e = block.entry_at(i).map_err(|m| corrupt(m.0))?;
        let value = &block.bytes()[e.value.clone()];
        let (Some(at), Some(len), 16) = (read_u64(value, 0), read_u64(value, 8), value.len())
        else {
            return Err(corrupt("bad block handle in index"));
        };
        if at != expected || len < MIN_BLOCK_LEN {
            return Err(corrupt("index handles do not tile the data region"));
        }
        expected = at
            .checked_add(len)
            .ok_or_else(|| corrupt("index handle overflows"))?;
        if let Some(p) = &prev
            && !internal_cmp(block.key(p), p.seqno, block.key(&e), e.seqno).is_lt()
        {
            return Err(corrupt("index keys out of order"));
        }
        blocks.push(BlockHandle {
            hint: 0,
            key_start: e.key.start as u32,
            key_end: e.key.end as u32,
            seqno: e.seqno,
            offset: at,
            len,
        });
        prev = Some(e);
    }
    if expected != data_end {
        return Err(corrupt("index handles do not tile the data region"));
    }
    Ok(Index::new(block.bytes().clone(), blocks))
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
    let consistent = data_blocks == index.blocks.len() as u64
        && (entries == 0) == (data_blocks == 0)
        && entries >= data_blocks
        && min_seqno <= max_seqno
        && min_key <= max_key
        && index
            .blocks
            .last()
            .is_none_or(|h| index.key(h) == &max_key[..]);
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

/// An iterator over a range of a table's versions; see [`Table::iter`].
/// After yielding an error it yields `None`.
pub(crate) struct TableIter {
    table: Arc<Table>,
    lower: Bound<Bytes>,
    upper: Bound<Bytes>,
    reverse: bool,
    started: bool,
    done: bool,
    /// The loaded block; `None` when positioned past the last block.
    block: Option<Block>,
    block_idx: usize,
    pos: usize,
}

impl fmt::Debug for TableIter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TableIter")
            .field("table", &self.table.id)
            .field("lower", &self.lower)
            .field("upper", &self.upper)
            .field("reverse", &self.reverse)
            .finish_non_exhaustive()
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

impl TableIter {
    fn load(&mut self, i: usize) -> Result<()> {
        self.block = Some(self.table.data_block(i)?);
        self.block_idx = i;
        Ok(())
    }

    fn set_end(&mut self) {
        self.block = None;
        self.block_idx = self.table.index.blocks.len();
    }

    /// The entry at the cursor, or `None` past the end.
    fn current(&self) -> Result<Option<(&Block, RawEntry)>> {
        let Some(block) = &self.block else {
            return Ok(None);
        };
        let e = block.entry_at(self.pos).map_err(|m| {
            self.table
                .corrupt(self.table.index.blocks[self.block_idx].offset, m)
        })?;
        Ok(Some((block, e)))
    }

    /// Positions the cursor at the first version at or after `(key, seqno)`.
    fn seek(&mut self, key: &[u8], seqno: Seqno) -> Result<()> {
        let Some(i) = self.table.index.find(key, seqno) else {
            self.set_end();
            return Ok(());
        };
        self.load(i)?;
        let block = self.block.as_ref().map(|b| (b.seek(key, seqno), b.len()));
        if let Some((pos, len)) = block {
            let offset = self.table.index.blocks[i].offset;
            self.pos = pos.map_err(|m| self.table.corrupt(offset, m))?;
            if self.pos == len {
                return Err(self.table.corrupt(
                    offset,
                    Malformed("block ends before the last key its index entry names"),
                ));
            }
        }
        Ok(())
    }

    /// Moves to the next version (or past the end).
    fn advance(&mut self) -> Result<()> {
        let Some(block) = &self.block else {
            return Ok(());
        };
        self.pos += 1;
        if self.pos == block.len() {
            if self.block_idx + 1 < self.table.index.blocks.len() {
                self.load(self.block_idx + 1)?;
                self.pos = 0;
            } else {
                self.set_end();
            }
        }
        Ok(())
    }

    /// Moves to the previous version; `false` if there is none.
    fn retreat(&mut self) -> Result<bool> {
        if self.block.is_some() && self.pos > 0 {
            self.pos -= 1;
            return Ok(true);
        }
        if self.block_idx == 0 {
            return Ok(false);
        }
        self.load(self.block_idx - 1)?;
        self.pos = self.block.as_ref().map_or(0, |b| b.len() - 1);
        Ok(true)
    }

    fn step_forward(&mut self) -> Result<Option<Entry>> {
        if !self.started {
            self.started = true;
            match self.lower.clone() {
                Bound::Unbounded => {
                    if self.table.index.blocks.is_empty() {
                        self.set_end();
                    } else {
                        self.load(0)?;
                        self.pos = 0;
                    }
                }
                Bound::Included(k) | Bound::Excluded(k) => self.seek(&k, Seqno::MAX)?,
            }
            while let Some((block, e)) = self.current()? {
                if !below_lower(block.key(&e), &self.lower) {
                    break;
                }
                self.advance()?;
            }
        } else {
            self.advance()?;
        }
        match self.current()? {
            Some((block, e)) if !above_upper(block.key(&e), &self.upper) => {
                Ok(Some(block.to_entry(&e)))
            }
            _ => Ok(None),
        }
    }

    fn step_reverse(&mut self) -> Result<Option<Entry>> {
        if !self.started {
            self.started = true;
            // Position just past the last version within the upper bound.
            match self.upper.clone() {
                Bound::Unbounded => self.set_end(),
                Bound::Excluded(k) => self.seek(&k, Seqno::MAX)?,
                Bound::Included(k) => {
                    self.seek(&k, 0)?;
                    while let Some((block, e)) = self.current()? {
                        if block.key(&e) != &k[..] {
                            break;
                        }
                        self.advance()?;
                    }
                }
            }
        }
        if !self.retreat()? {
            return Ok(None);
        }
        match self.current()? {
            Some((block, e)) if !below_lower(block.key(&e), &self.lower) => {
                Ok(Some(block.to_entry(&e)))
            }
            _ => Ok(None),
        }
    }
}

impl Iterator for TableIter {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        if self.done {
            return None;
        }
        let step = if self.reverse {
            self.step_reverse()
        } else {
            self.step_forward()
        };
        match step {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
