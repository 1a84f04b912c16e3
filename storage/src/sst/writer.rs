//! Writes one SST from versions arriving in internal order.
//!
//! Blocks are built in reused buffers, sealed (compressed, tagged,
//! checksummed) into a write buffer of about 1 MiB, and the write buffer is
//! handed to [`WritableFile::append`] whole, so writes are large and can be
//! in flight while the next megabyte is built.

use std::path::PathBuf;

use super::block::{self, BlockBuilder, INDEX_VALUE_LEN, MAX_BLOCK_SIZE, MAX_ENTRY_LEN};
use super::{FOOTER_LEN, FORMAT_VERSION, MAGIC, TableMeta, bloom};
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
            opts,
        }
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
        let entry_len = BlockBuilder::entry_len(key.len(), value.len());
        if !self.block.is_empty() && self.block.size() + entry_len > self.opts.block_size {
            self.finish_block()?;
        }
        if self.entries == 0 {
            self.min_key.extend_from_slice(key);
        }
        let new_key = self.entries == 0 || self.last_key != key;
        if new_key {
            self.key_hash = bloom::hash(key);
            self.key_hashes.push(self.key_hash);
            self.last_key.clear();
            self.last_key.extend_from_slice(key);
        }
        // A key's first version in each block goes into its hash index.
        let head = (new_key || self.block.is_empty()).then_some(self.key_hash);
        self.block.add(key, seqno, kind, value, head);
        self.last_seqno = seqno;
        self.min_seqno = self.min_seqno.min(seqno);
        self.max_seqno = self.max_seqno.max(seqno);
        self.entries += 1;
        if self.block.size() >= self.opts.block_size {
            self.finish_block()?;
        }
        Ok(())
    }

    /// Bytes written or buffered so far: what the file would be without
    /// its filter, index and footer.
    pub fn estimated_size(&self) -> u64 {
        self.appended + self.out.len() as u64 + self.block.size() as u64
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
        self.out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        self.out.extend_from_slice(&(!FORMAT_VERSION).to_le_bytes());
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
            .add(&self.last_key, self.last_seqno, Kind::Put, &handle, None);
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
