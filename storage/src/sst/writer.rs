//! Writes one SST from versions arriving in internal order.
//!
//! Blocks are built in reused buffers, sealed (compressed, tagged,
//! checksummed) into a write buffer of about 1 MiB, and the write buffer is
//! handed to [`WritableFile::append`] whole, so writes are large and can be
//! in flight while the next megabyte is built.

use std::path::PathBuf;
use std::sync::Arc;

use super::block::{self, BlockBuilder, INDEX_VALUE_LEN, MAX_BLOCK_SIZE, MAX_ENTRY_LEN};
use super::{
    BLOCK_COLUMNAR, BLOCK_COLUMNAR_PACKED, FOOTER_LEN, FORMAT_VERSION, FORMAT_VERSION_COLUMNAR,
    FORMAT_VERSION_ROWS, MAGIC, TableMeta, bloom,
};
use crate::columnar::{SplitRows, Summary, ValueLayout, encode_columns, keys as packed};
use crate::error::{Error, Result};
use crate::io::WritableFile;
use crate::types::{Kind, Seqno, internal_cmp};

/// Size at which the write buffer is handed to the file.
const WRITE_BUFFER: usize = 1 << 20;

/// How a table is laid out.
#[derive(Clone, Debug)]
pub(crate) struct WriterOptions {
    /// Target uncompressed size of a data block, in bytes. An entry larger
    /// than this gets a block of its own.
    pub block_size: usize,
    /// zstd level for data and index blocks; 0 stores blocks uncompressed.
    pub zstd_level: i32,
    /// Bloom filter bits per distinct user key; 0 writes no filter.
    pub bloom_bits_per_key: u32,
    /// How values split into fields: with one, the entries of key groups
    /// go into columnar blocks (format version 2); without, every block
    /// is a row block and the file is version 1.
    pub layout: Option<Arc<dyn ValueLayout>>,
    /// Rows at which a columnar block is cut (at the next key change).
    pub columnar_rows: usize,
}
/// Bytes of keys and values at which a columnar block is cut (at the next
/// key change) however few its rows.
const COLUMNAR_BYTES: usize = 4 << 20;

/// The versions of the columnar block being gathered, copied (the writer
/// sees each version only during its `add`).
#[derive(Debug, Default)]
struct Pending {
    keys: Vec<u8>,
    key_ends: Vec<u32>,
    values: Vec<u8>,
    value_ends: Vec<u32>,
    seqnos: Vec<Seqno>,
    kinds: Vec<Kind>,
    hashes: Vec<u64>,
    /// Length of the group prefix of the keys.
    group_len: usize,
}

impl Pending {
    fn len(&self) -> usize {
        self.seqnos.len()
    }
    fn is_empty(&self) -> bool {
        self.seqnos.is_empty()
    }
    fn bytes(&self) -> usize {
        self.keys.len() + self.values.len()
    }
    fn key(&self, i: usize) -> &[u8] {
        let s = if i == 0 {
            0
        } else {
            self.key_ends[i - 1] as usize
        };
        &self.keys[s..self.key_ends[i] as usize]
    }
    fn value(&self, i: usize) -> &[u8] {
        let s = if i == 0 {
            0
        } else {
            self.value_ends[i - 1] as usize
        };
        &self.values[s..self.value_ends[i] as usize]
    }
    fn last_key(&self) -> &[u8] {
        self.key(self.len() - 1)
    }
    fn push(&mut self, key: &[u8], seqno: Seqno, kind: Kind, value: &[u8], hash: u64) {
        self.keys.extend_from_slice(key);
        self.key_ends.push(self.keys.len() as u32);
        self.values.extend_from_slice(value);
        self.value_ends.push(self.values.len() as u32);
        self.seqnos.push(seqno);
        self.kinds.push(kind);
        self.hashes.push(hash);
    }
    fn clear(&mut self) {
        self.keys.clear();
        self.key_ends.clear();
        self.values.clear();
        self.value_ends.clear();
        self.seqnos.clear();
        self.kinds.clear();
        self.hashes.clear();
    }
}

/// Data blocks in a row that must fail to compress before the writer stops
/// trying for a while.
const INCOMPRESSIBLE_RUN: u32 = 4;
/// Data blocks then stored without trying zstd, before it tries again.
const SKIP_AFTER_INCOMPRESSIBLE: u32 = 64;

/// Builds a table file. Call [`TableWriter::finish`] to complete it; a
/// writer dropped before that leaves an incomplete file that
/// [`super::Table::open`] rejects.
pub(crate) struct TableWriter {
    file: Box<dyn WritableFile>,
    path: PathBuf,
    opts: WriterOptions,
    compressor: Option<zstd::bulk::Compressor<'static>>,
    block: BlockBuilder,
    index: BlockBuilder,
    /// Sealed bytes not yet appended to the file.
    out: Vec<u8>,
    /// Compressor output, reused.
    scratch: Vec<u8>,
    /// Bytes already appended to the file.
    appended: u64,
    /// xxh3 of every distinct user key, for the bloom filter.
    key_hashes: Vec<u64>,
    /// xxh3 of `last_key`.
    key_hash: u64,
    entries: u64,
    data_blocks: u64,
    min_key: Vec<u8>,
    last_key: Vec<u8>,
    last_seqno: Seqno,
    min_seqno: Seqno,
    max_seqno: Seqno,
    /// A write or compression failed; the writer refuses further use.
    failed: bool,
    /// Data blocks in a row that zstd could not shrink enough to keep.
    incompressible_run: u32,
    /// Data blocks still to store without trying zstd (after a long run of
    /// incompressible ones; compressing only to throw the result away cost
    /// a fifth of all CPU time when loading random values).
    skip_compression: u32,
    /// Whether the last sealed block was kept compressed.
    last_compressed: bool,
    /// Whether the row block being built has no hash index
    /// ([`crate::columnar::ValueLayout::hash_index`] of its first key).
    unhashed_block: bool,
    /// The columnar block being gathered (only with a layout).
    pending: Pending,
    /// Buffers of [`TableWriter::finish_columnar`], reused.
    columnar_buf: Vec<u8>,
    join_buf: Vec<u8>,
    /// Columnar data blocks written.
    columnar_blocks: u64,
    /// Whether columnar blocks whose keys have the shape get packed keys
    /// (always, but for tests that write the first columnar format).
    pack_keys: bool,
    /// Columnar data blocks written with packed keys.
    packed_blocks: u64,
}

impl std::fmt::Debug for TableWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableWriter")
            .field("path", &self.path)
            .field("entries", &self.entries)
            .field("estimated_size", &self.estimated_size())
            .finish_non_exhaustive()
    }
}

impl TableWriter {
    /// A writer filling `file`, which must be empty; `path` is used in
    /// error messages only.
    pub fn new(file: Box<dyn WritableFile>, path: PathBuf, opts: WriterOptions) -> TableWriter {
        debug_assert!(file.is_empty(), "a table starts at offset 0 of its file");
        // Keeps every block's contents (one entry may overshoot the target)
        // below 4 GiB, so offsets and lengths inside it fit in a `u32`.
        let mut opts = opts;
        opts.block_size = opts.block_size.clamp(1, MAX_BLOCK_SIZE);
        opts.columnar_rows = opts.columnar_rows.clamp(1, 1 << 20);
        let block_size = opts.block_size;
        TableWriter {
            appended: file.len(),
            file,
            path,
            compressor: None,
            block: BlockBuilder::default(),
            index: BlockBuilder::default(),
            out: Vec::with_capacity(WRITE_BUFFER + block_size + 64),
            scratch: Vec::new(),
            key_hashes: Vec::new(),
            key_hash: 0,
            entries: 0,
            data_blocks: 0,
            min_key: Vec::new(),
            last_key: Vec::new(),
            last_seqno: 0,
            min_seqno: Seqno::MAX,
            max_seqno: 0,
            failed: false,
            incompressible_run: 0,
            skip_compression: 0,
            last_compressed: false,
            unhashed_block: false,
            pending: Pending::default(),
            columnar_buf: Vec::new(),
            join_buf: Vec::new(),
            columnar_blocks: 0,
            pack_keys: true,
            packed_blocks: 0,
            opts,
        }
    }

    /// A writer that keeps every columnar block's keys in the row entry
    /// layout and writes format version 2: the files the build before
    /// packed keys wrote, for tests that check they still read.
    #[cfg(test)]
    pub(crate) fn with_row_keys(mut self) -> TableWriter {
        self.pack_keys = false;
        self
    }

    /// Adds one version. Versions must arrive in strictly increasing
    /// internal order (key ascending, seqno descending); keys and values
    /// are limited to 1 GiB each.
    pub fn add(&mut self, key: &[u8], seqno: Seqno, kind: Kind, value: &[u8]) -> Result<()> {
        self.check_usable()?;
        let ordered =
            self.entries == 0 || internal_cmp(&self.last_key, self.last_seqno, key, seqno).is_lt();
        debug_assert!(
            ordered,
            "versions must arrive in strictly increasing internal order"
        );
        if !ordered {
            return Err(Error::InvalidArgument(format!(
                "sst {}: version out of internal order",
                self.path.display()
            )));
        }
        if key.len() > MAX_ENTRY_LEN || value.len() > MAX_ENTRY_LEN {
            return Err(Error::InvalidArgument(format!(
                "sst {}: key or value longer than {MAX_ENTRY_LEN} bytes",
                self.path.display()
            )));
        }
        let group = self
            .opts
            .layout
            .as_ref()
            .and_then(|l| l.group_len(key))
            .filter(|&g| g <= key.len());
        let new_key = self.entries == 0 || self.last_key != key;
        if let Some(g) = group {
            if !self.block.is_empty() {
                self.finish_block()?;
            }
            // A columnar block is cut only between keys, so a key's
            // versions share a block, and only within one group.
            let cut = !self.pending.is_empty()
                && new_key
                && (self.pending.group_len != g
                    || self.pending.key(0)[..g] != key[..g]
                    || self.pending.len() >= self.opts.columnar_rows
                    || self.pending.bytes() >= COLUMNAR_BYTES);
            if cut {
                self.finish_columnar()?;
            }
        } else {
            if !self.pending.is_empty() {
                self.finish_columnar()?;
            }
            let entry_len = BlockBuilder::entry_len(key.len(), value.len());
            if !self.block.is_empty() && self.block.size() + entry_len > self.opts.block_size {
                self.finish_block()?;
            }
        }
        if self.entries == 0 {
            self.min_key.extend_from_slice(key);
        }
        if new_key {
            self.key_hash = bloom::hash(key);
            self.key_hashes.push(self.key_hash);
            self.last_key.clear();
            self.last_key.extend_from_slice(key);
        }
        self.last_seqno = seqno;
        self.min_seqno = self.min_seqno.min(seqno);
        self.max_seqno = self.max_seqno.max(seqno);
        self.entries += 1;
        if let Some(g) = group {
            if self.pending.is_empty() {
                self.pending.group_len = g;
            }
            self.pending.push(key, seqno, kind, value, self.key_hash);
            return Ok(());
        }
        if self.block.is_empty() {
            self.unhashed_block = self
                .opts
                .layout
                .as_ref()
                .is_some_and(|l| !l.hash_index(key));
        }
        // A key's first version in each block goes into its hash index
        // (all of the block's keys, or none: a block without one is
        // binary-searched).
        let head =
            (!self.unhashed_block && (new_key || self.block.is_empty())).then_some(self.key_hash);
        self.block.add(key, seqno, kind, value, head);
        if self.block.size() >= self.opts.block_size {
            self.finish_block()?;
        }
        Ok(())
    }

    /// Writes the gathered versions as one columnar block, or as row
    /// blocks when some value does not split into fields that join back
    /// to exactly its bytes (nothing is stored that would not read back).
    /// Called with `last_key`/`last_seqno` naming the last gathered version.
    fn finish_columnar(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let result = self.write_pending(&pending);
        self.pending = pending;
        self.pending.clear();
        self.failed |= result.is_err();
        result
    }

    fn write_pending(&mut self, p: &Pending) -> Result<()> {
        let Some(layout) = self.opts.layout.clone() else {
            return Ok(());
        };
        let n = p.len();
        let mut rows = SplitRows::default();
        rows.starts.reserve(n + 1);
        rows.starts.push(0);
        let mut splits = true;
        for i in 0..n {
            if p.kinds[i] == Kind::Put {
                let start = rows.fields.len();
                let value = p.value(i);
                if !layout.split(value, &mut rows.fields) || rows.fields.len() - start > 0xFFFF {
                    splits = false;
                    break;
                }
                self.join_buf.clear();
                layout.join(&rows.fields[start..], &mut self.join_buf);
                if self.join_buf != value {
                    splits = false;
                    break;
                }
            }
            rows.starts.push(rows.fields.len() as u32);
        }
        if !splits {
            drop(rows);
            return self.write_pending_as_rows(p);
        }
        let mut buf = std::mem::take(&mut self.columnar_buf);
        buf.clear();
        let unique = (1..n).all(|i| p.key(i) != p.key(i - 1));
        let pack = self.pack_keys && packed::fits((0..n).map(|i| p.key(i)));
        let (marker, entries, buckets) = if pack {
            // Packed keys: the shared prefix once, suffixes and seqnos
            // bit-packed, tombstones as a bitmap; no hash index.
            packed::encode(
                n,
                |i| p.key(i),
                |i| p.seqnos[i],
                |i| p.kinds[i] == Kind::Delete,
                &mut buf,
            );
            self.packed_blocks += 1;
            (BLOCK_COLUMNAR_PACKED, n as u32, 0)
        } else {
            // A block in the entry layout whose values are the row numbers
            // (varints), so that a point lookup through its hash index
            // lands on the row's position.
            let mut keys = std::mem::take(&mut self.block);
            keys.reset();
            let mut row = Vec::with_capacity(5);
            for i in 0..n {
                let head = i == 0 || p.key(i) != p.key(i - 1);
                row.clear();
                block::put_varint(&mut row, i as u64);
                keys.add(
                    p.key(i),
                    p.seqnos[i],
                    p.kinds[i],
                    &row,
                    head.then_some(p.hashes[i]),
                );
            }
            buf.extend_from_slice(keys.finish());
            let (_, entries, buckets) = keys.finished();
            keys.reset();
            self.block = keys;
            (BLOCK_COLUMNAR, entries, buckets)
        };
        let keys_len = buf.len() as u32;
        let summary = Summary {
            rows: n as u32,
            unique,
            tombstones: p.kinds.contains(&Kind::Delete),
            min_seqno: p.seqnos.iter().copied().min().unwrap_or(0),
            max_seqno: p.seqnos.iter().copied().max().unwrap_or(0),
        };
        // Decimal floats only in blocks with packed keys: both make the
        // file version 3.
        let zones = encode_columns(&rows, &summary, &mut buf, pack);
        let contents_len = buf.len();
        let sealed = self.seal(&buf, false);
        self.columnar_buf = buf;
        let (offset, len) = sealed?;
        let mut handle = Vec::with_capacity(INDEX_VALUE_LEN + 64);
        handle.extend_from_slice(&offset.to_le_bytes());
        handle.extend_from_slice(&len.to_le_bytes());
        handle.push(block::TAG_NONE);
        handle.extend_from_slice(&(contents_len as u32).to_le_bytes());
        handle.extend_from_slice(&entries.to_le_bytes());
        handle.extend_from_slice(&buckets.to_le_bytes());
        handle.push(marker);
        handle.extend_from_slice(&keys_len.to_le_bytes());
        let first = p.key(0);
        handle.extend_from_slice(&(first.len() as u32).to_le_bytes());
        handle.extend_from_slice(first);
        summary.encode(&mut handle);
        crate::columnar::Zones::new(n, zones).write(&mut handle);
        self.index
            .add(p.last_key(), p.seqnos[n - 1], Kind::Put, &handle, None);
        self.data_blocks += 1;
        self.columnar_blocks += 1;
        if self.out.len() >= WRITE_BUFFER {
            self.flush_out(true)?;
        }
        Ok(())
    }

    /// The fallback of [`TableWriter::finish_columnar`]: row blocks.
    fn write_pending_as_rows(&mut self, p: &Pending) -> Result<()> {
        for i in 0..p.len() {
            let (key, value) = (p.key(i), p.value(i));
            let entry_len = BlockBuilder::entry_len(key.len(), value.len());
            if !self.block.is_empty() && self.block.size() + entry_len > self.opts.block_size {
                self.finish_block_as(p.key(i - 1), p.seqnos[i - 1])?;
            }
            if self.block.is_empty() {
                self.unhashed_block = false;
            }
            let head = i == 0 || key != p.key(i - 1) || self.block.is_empty();
            self.block.add(
                key,
                p.seqnos[i],
                p.kinds[i],
                value,
                head.then_some(p.hashes[i]),
            );
            if self.block.size() >= self.opts.block_size {
                self.finish_block_as(key, p.seqnos[i])?;
            }
        }
        if !self.block.is_empty() {
            self.finish_block_as(p.last_key(), p.seqnos[p.len() - 1])?;
        }
        Ok(())
    }

    /// Bytes written or buffered so far: what the file would be without
    /// its filter, index and footer.
    pub fn estimated_size(&self) -> u64 {
        self.appended
            + self.out.len() as u64
            + self.block.size() as u64
            + self.pending.bytes() as u64
    }

    /// Versions added so far.
    #[cfg(test)]
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Writes the pending data block, then the filter, index and properties
    /// blocks and the footer, and syncs the file.
    pub fn finish(mut self) -> Result<TableMeta> {
        self.check_usable()?;
        if !self.pending.is_empty() {
            self.finish_columnar()?;
        }
        if !self.block.is_empty() {
            self.finish_block()?;
        }
        let bloom = bloom::build(&self.key_hashes, self.opts.bloom_bits_per_key);
        let bloom_handle = self.seal(&bloom, false)?;

        let mut index = std::mem::take(&mut self.index);
        let index_handle = self.seal_builder(&mut index, true)?;

        let empty = self.entries == 0;
        let (min_seqno, max_seqno) = if empty {
            (0, 0)
        } else {
            (self.min_seqno, self.max_seqno)
        };
        let mut props = Vec::with_capacity(48 + self.min_key.len() + self.last_key.len());
        for v in [
            self.entries,
            self.data_blocks,
            self.key_hashes.len() as u64,
            min_seqno,
            max_seqno,
        ] {
            props.extend_from_slice(&v.to_le_bytes());
        }
        for key in [&self.min_key, &self.last_key] {
            props.extend_from_slice(&(key.len() as u32).to_le_bytes());
            props.extend_from_slice(key);
        }
        let props_handle = self.seal(&props, false)?;

        let footer_start = self.out.len();
        for v in [
            bloom_handle.0,
            bloom_handle.1,
            index_handle.0,
            index_handle.1,
            props_handle.0,
            props_handle.1,
        ] {
            self.out.extend_from_slice(&v.to_le_bytes());
        }
        // Version 1 unless the file may hold columnar blocks, and 2 unless
        // it holds packed keys, so that a file an older build can read
        // still opens there.
        let version = if self.packed_blocks > 0 {
            FORMAT_VERSION
        } else if self.opts.layout.is_some() {
            FORMAT_VERSION_COLUMNAR
        } else {
            FORMAT_VERSION_ROWS
        };
        self.out.extend_from_slice(&version.to_le_bytes());
        self.out.extend_from_slice(&(!version).to_le_bytes());
        self.out.extend_from_slice(&MAGIC.to_le_bytes());
        let crc = crc32fast::hash(&self.out[footer_start..]);
        self.out.extend_from_slice(&crc.to_le_bytes());
        debug_assert_eq!(self.out.len() - footer_start, FOOTER_LEN);

        let file_size = self.appended + self.out.len() as u64;
        self.flush_out(false)?;
        self.file.sync()?;
        debug_assert_eq!(self.file.len(), file_size);
        Ok(TableMeta {
            file_size,
            entries: self.entries,
            min_key: self.min_key.into(),
            max_key: self.last_key.into(),
            min_seqno,
            max_seqno,
        })
    }

    /// Seals the current data block and records it in the index.
    fn finish_block(&mut self) -> Result<()> {
        let key = std::mem::take(&mut self.last_key);
        let result = self.finish_block_as(&key, self.last_seqno);
        self.last_key = key;
        result
    }

    /// Seals the current data block, whose last version is
    /// `(last_key, last_seqno)`, and records it in the index.
    fn finish_block_as(&mut self, last_key: &[u8], last_seqno: Seqno) -> Result<()> {
        let mut block = std::mem::take(&mut self.block);
        let try_compress = self.opts.zstd_level != 0 && self.skip_compression == 0;
        self.skip_compression = self.skip_compression.saturating_sub(1);
        let result = self.seal_builder(&mut block, try_compress);
        self.block = block;
        if try_compress {
            if self.last_compressed {
                self.incompressible_run = 0;
            } else {
                self.incompressible_run += 1;
                if self.incompressible_run >= INCOMPRESSIBLE_RUN {
                    self.incompressible_run = 0;
                    self.skip_compression = SKIP_AFTER_INCOMPRESSIBLE;
                }
            }
        }
        self.failed |= result.is_err();
        let (offset, len) = result?;
        let (contents_len, entries, buckets) = self.block.finished();
        let tag = if self.last_compressed {
            block::TAG_ZSTD
        } else {
            block::TAG_NONE
        };
        let mut handle = [0u8; INDEX_VALUE_LEN];
        handle[..8].copy_from_slice(&offset.to_le_bytes());
        handle[8..16].copy_from_slice(&len.to_le_bytes());
        handle[16] = tag;
        handle[17..21].copy_from_slice(&contents_len.to_le_bytes());
        handle[21..25].copy_from_slice(&entries.to_le_bytes());
        handle[25..29].copy_from_slice(&buckets.to_le_bytes());
        self.index
            .add(last_key, last_seqno, Kind::Put, &handle, None);
        self.data_blocks += 1;
        if self.out.len() >= WRITE_BUFFER {
            self.flush_out(true)?;
        }
        Ok(())
    }

    /// Finishes `builder`, seals it and resets it; returns (offset, length).
    fn seal_builder(&mut self, builder: &mut BlockBuilder, compress: bool) -> Result<(u64, u64)> {
        let handle = self.seal(builder.finish(), compress);
        builder.reset();
        handle
    }

    /// Appends `raw` as a stored block to the write buffer (compressed when
    /// asked and worthwhile); returns (offset, stored length).
    fn seal(&mut self, raw: &[u8], compress: bool) -> Result<(u64, u64)> {
        let offset = self.appended + self.out.len() as u64;
        let compressor = if compress && self.opts.zstd_level != 0 {
            if self.compressor.is_none() {
                let c = zstd::bulk::Compressor::new(self.opts.zstd_level)
                    .map_err(|e| Error::io(&self.path, e))?;
                self.compressor = Some(c);
            }
            self.compressor.as_mut()
        } else {
            None
        };
        let (len, kept) = block::seal(raw, compressor, &mut self.scratch, &mut self.out)
            .map_err(|e| Error::io(&self.path, e))?;
        self.last_compressed = kept;
        Ok((offset, len as u64))
    }

    /// Hands the write buffer to the file (it may stay in flight), and
    /// starts a new one if `more` is coming.
    fn flush_out(&mut self, more: bool) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let cap = if more {
            WRITE_BUFFER + self.opts.block_size + 64
        } else {
            0
        };
        let buf = std::mem::replace(&mut self.out, Vec::with_capacity(cap));
        self.appended += buf.len() as u64;
        let result = self.file.append(buf);
        self.failed |= result.is_err();
        result
    }

    /// Refuses further use after a failed write: the file is missing bytes
    /// the index would point at.
    fn check_usable(&self) -> Result<()> {
        if self.failed {
            return Err(Error::InvalidArgument(format!(
                "sst {}: writer used after a failed write",
                self.path.display()
            )));
        }
        Ok(())
    }
}
