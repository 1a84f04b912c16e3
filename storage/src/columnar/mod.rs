//! Columnar (PAX) data blocks: the values of one group of keys (a table's
//! rows) stored column by column, with zone maps, so that a scan reads only
//! the columns it needs and skips what cannot match.
//!
//! Storage does not know what a row is: the layer above supplies a
//! [`ValueLayout`] that splits a value into typed [`Field`]s and joins them
//! back. This module owns the encodings of one block's columns (the
//! *column region*, described in `docs/format.md`), their decoding into
//! caller buffers ([`ColumnBlock`], [`Column`]) and the zone maps
//! ([`Zone`]). Where blocks live in a table file is `sst`'s business.

mod bits;
mod encode;
pub(crate) mod keys;
mod zone;

/// The value a point read found ([`crate::Snapshot::get_ref`]), as it is
/// stored: value bytes, or a row of a columnar block, not joined into
/// bytes (the caller reads the fields it wants from the block).
#[derive(Debug, Clone)]
pub enum PointRead {
    /// The value's bytes (from a memtable or a row block).
    Row(Bytes),
    /// Row `row` of the columnar block `block`: the value is what
    /// `block.value(row, ..)` joins (never a tombstone).
    Block {
        /// The block holding the version.
        block: Arc<ColumnBlock>,
        /// The version's row number in the block.
        row: usize,
    },
}

impl PointRead {
    /// This read, borrowed: what [`crate::Snapshot::with_ref`] hands out.
    pub fn as_ref(&self) -> PointRef<'_> {
        match self {
            PointRead::Row(bytes) => PointRef::Row(bytes),
            PointRead::Block { block, row } => PointRef::Block { block, row: *row },
        }
    }
}

/// A [`PointRead`] borrowed from the snapshot that found it, for the
/// length of a [`crate::Snapshot::with_ref`] call: the same two forms,
/// but a columnar row names its block by reference, so a point read
/// takes no reference on the shared block (no atomic write to a cache
/// line that every reader of the block also reads).
#[derive(Debug, Clone, Copy)]
pub enum PointRef<'a> {
    /// The value's bytes (from a memtable or a row block).
    Row(&'a [u8]),
    /// Row `row` of the columnar block `block` (never a tombstone).
    Block {
        /// The block holding the version.
        block: &'a ColumnBlock,
        /// The version's row number in the block.
        row: usize,
    },
}

#[cfg(test)]
mod point_tests;
#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;

pub(crate) use encode::{SplitRows, encode_columns};
pub use zone::{ColumnZone, Zone, Zones};

use crate::types::Seqno;
use bits::Bitmap as RawBitmap;
pub use bits::{Packed, RangeTest};

/// How the values under some keys split into typed fields, so that data
/// blocks can store them column by column. Supplied by the layer above
/// (fasty's row encoding); without one, storage never looks inside values.
pub trait ValueLayout: Send + Sync + fmt::Debug + 'static {
    /// Length of the key prefix naming the group `key` belongs to (a
    /// table), or `None` when the key's entries are never columnar (index
    /// entries, catalog). A columnar block holds one group's entries.
    fn group_len(&self, key: &[u8]) -> Option<usize>;
    /// Appends the fields of `value` to `out`; `false` when the value does
    /// not split (its block then keeps the row layout).
    fn split<'v>(&self, value: &'v [u8], out: &mut Vec<Field<'v>>) -> bool;
    /// Appends the value made of `fields`: exactly the bytes `split` read.
    fn join(&self, fields: &[Field<'_>], out: &mut Vec<u8>);
    /// Whether every [`Field::Text`] `split` yields is UTF-8. When it is,
    /// a table checks the text of each columnar block once, as it caches
    /// the block for point reads, and treats invalid text as corruption;
    /// readers may then skip the check ([`ColumnBlock::text_is_utf8`]).
    /// Default false: storage makes no assumption about text.
    fn text_is_utf8(&self) -> bool {
        false
    }
    /// Whether a row block that starts with `key` (a key outside any
    /// group) gets a hash index, which speeds point reads of its keys and
    /// costs about 5 bytes per key. A layout whose other keys are read by
    /// range (a database's index entries, found by prefix) says `false`;
    /// such blocks are binary-searched by the rare point read. Default
    /// true.
    fn hash_index(&self, key: &[u8]) -> bool {
        let _ = key;
        true
    }
}

/// One field of a value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Field<'a> {
    /// No value (also what a short value reads as past its last field).
    Null,
    /// A 64-bit signed integer.
    Int(i64),
    /// A 64-bit float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Text bytes (the layer above knows their encoding).
    Text(&'a [u8]),
    /// Other bytes.
    Blob(&'a [u8]),
}

impl Field<'_> {
    /// The tag this field's kind has in mixed columns and zone maps.
    fn tag(&self) -> u8 {
        match self {
            Field::Null => 0,
            Field::Int(_) => 1,
            Field::Float(_) => 2,
            Field::Bool(_) => 3,
            Field::Text(_) => 4,
            Field::Blob(_) => 5,
        }
    }
}

/// What a column holds: every non-null field of one kind, or several
/// kinds ([`ColumnKind::Mixed`]), or nothing but nulls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Every row is null (or lacks the field).
    Null,
    /// Non-null fields are [`Field::Int`].
    Int,
    /// Non-null fields are [`Field::Float`].
    Float,
    /// Non-null fields are [`Field::Bool`].
    Bool,
    /// Non-null fields are [`Field::Text`].
    Text,
    /// Non-null fields are [`Field::Blob`].
    Blob,
    /// Non-null fields are of more than one kind; read them with
    /// [`Column::field`].
    Mixed,
}

impl ColumnKind {
    fn from_u8(b: u8) -> Option<ColumnKind> {
        Some(match b {
            0 => ColumnKind::Null,
            1 => ColumnKind::Int,
            2 => ColumnKind::Float,
            3 => ColumnKind::Bool,
            4 => ColumnKind::Text,
            5 => ColumnKind::Blob,
            6 => ColumnKind::Mixed,
            _ => return None,
        })
    }
}

/// Rows per vector: the unit of the per-vector zone maps inside a block,
/// and the chunk size the query layer decodes in.
pub const VECTOR_ROWS: usize = 2048;

/// Encoding tags of a column body.
pub(crate) mod enc {
    /// Nothing stored (a null column).
    pub const NONE: u8 = 0;
    /// Fixed-width values (f64, or i64 in mixed columns) or offsets+bytes.
    pub const PLAIN: u8 = 1;
    /// Ints: a base and bit-packed offsets from it.
    pub const FOR: u8 = 2;
    /// Text/blob: a sorted dictionary and bit-packed codes.
    pub const DICT: u8 = 3;
    /// Bools: one bit per row.
    pub const BITMAP: u8 = 4;
    /// Floats that are decimals: `i / 10^e` with `i` FOR-packed like ints
    /// and `e` in the header's dictionary-size field (format version 3).
    pub const DECIMAL: u8 = 5;
}

/// Powers of ten exact in an f64, for [`enc::DECIMAL`].
const POW10: [f64; 10] = [1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/// The float a decimal column stores as `i` at exponent `exp` (at most 9).
#[inline]
fn decimal_value(i: i64, exp: u8) -> f64 {
    i as f64 / POW10[usize::from(exp).min(9)]
}

/// Why a column region failed to decode; the reader adds file and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed(pub &'static str);

/// A reader over a byte slice that checks every length.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(Malformed("column region truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, Malformed> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, Malformed> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, Malformed> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    pub(crate) fn rest(&self) -> usize {
        self.buf.len() - self.pos
    }
}

/// Bytes of a column's header: kind, encoding, null count, FOR base,
/// bit width, dictionary size.
pub(crate) const HEADER_LEN: usize = 1 + 1 + 4 + 8 + 1 + 4;
/// Bytes of a column's directory entry: its header, then where the column
/// (its null bitmap) and its values start in the region (u32 each).
pub(crate) const DIR_ENTRY_LEN: usize = HEADER_LEN + 4 + 4;

/// Per-block facts a scan uses to take a block whole (see
/// [`ColumnBlock::keys_unique`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Summary {
    pub rows: u32,
    pub unique: bool,
    pub tombstones: bool,
    pub min_seqno: Seqno,
    pub max_seqno: Seqno,
}

/// Summary flag: every key of the block is distinct.
const FLAG_UNIQUE: u8 = 1;
/// Summary flag: the block holds at least one tombstone.
const FLAG_TOMBSTONES: u8 = 2;
/// Summary flag: every row has the same field count (stored once).
const FLAG_SAME_COUNT: u8 = 4;

impl Summary {
    fn flags(&self) -> u8 {
        (if self.unique { FLAG_UNIQUE } else { 0 })
            | (if self.tombstones { FLAG_TOMBSTONES } else { 0 })
    }

    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.rows.to_le_bytes());
        out.push(self.flags());
        out.extend_from_slice(&self.min_seqno.to_le_bytes());
        out.extend_from_slice(&self.max_seqno.to_le_bytes());
    }

    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<(Summary, u8), Malformed> {
        let rows = r.u32()?;
        let flags = r.u8()?;
        let (min_seqno, max_seqno) = (r.u64()?, r.u64()?);
        if min_seqno > max_seqno || rows == 0 {
            return Err(Malformed("bad columnar block summary"));
        }
        Ok((
            Summary {
                rows,
                unique: flags & FLAG_UNIQUE != 0,
                tombstones: flags & FLAG_TOMBSTONES != 0,
                min_seqno,
                max_seqno,
            },
            flags,
        ))
    }
}

/// Where one column's parts lie in the column region.
#[derive(Debug, Clone)]
struct ColumnMeta {
    kind: ColumnKind,
    encoding: u8,
    null_count: u32,
    /// Null bitmap (bit set: null or missing); empty when no nulls.
    nulls: Range<usize>,
    /// Per-vector zones, encoded back to back.
    zones: Range<usize>,
    /// The encoded values.
    body: Range<usize>,
    /// FOR base (ints) or dictionary size (dict).
    base: i64,
    /// Where a dictionary column's codes start in the region (after its
    /// dictionary); 0 for other encodings.
    codes: usize,
    /// Bit width of packed values.
    width: u8,
    /// Decimal exponent ([`enc::DECIMAL`]); 0 for other encodings.
    exp: u8,
}

/// The key side of a columnar block: what a [`ColumnBlock`] asks the SST
/// layer for (keys, seqnos and kinds live in the block's keys part, in
/// the row entry layout or packed).
pub(crate) trait KeySide: Send + Sync + fmt::Debug {
    /// Row `i`'s key compared with `other` as bytes (a row out of range
    /// reads as the empty key).
    fn key_cmp(&self, i: usize, other: &[u8]) -> Ordering;
    /// Appends row `i`'s key to `out` (nothing when out of range).
    fn key_into(&self, i: usize, out: &mut Vec<u8>);
    /// The last 8 bytes of row `i`'s key as a big-endian integer, or
    /// `None` if the key is shorter (or the row out of range).
    fn key_suffix(&self, i: usize) -> Option<u64>;
    /// Whether rows `a` and `b` have the same key.
    fn same_key(&self, a: usize, b: usize) -> bool;
    /// Seqno and whether row `i` is a tombstone.
    fn version(&self, i: usize) -> (Seqno, bool);
    /// The packed keys, when the block's keys part is packed.
    fn packed(&self) -> Option<keys::PackedView<'_>> {
        None
    }
}

/// The parsed directory of one block's column region: where every part
/// of every column lies. Parsing it walks the whole directory and every
/// column's zones, so a table keeps it per block once parsed (see
/// [`ColumnBlock::with_dir`]): a point read then goes straight to one
/// field per column.
#[derive(Debug)]
pub(crate) struct ColumnDir {
    summary: Summary,
    /// Field count of every row (when all rows have the same).
    same_count: Option<u16>,
    /// Per-row field counts (u16 LE each) otherwise.
    counts: Range<usize>,
    columns: Vec<ColumnMeta>,
}

impl ColumnDir {
    /// Parses the directory of a column region (`data`) for `rows` rows.
    /// Checks that every section lies within the region; values are not
    /// checked (accessors never read out of bounds whatever the bytes).
    pub(crate) fn parse(data: &[u8], rows: usize) -> Result<ColumnDir, Malformed> {
        let mut r = Reader::new(data);
        let (summary, flags) = Summary::decode(&mut r)?;
        let n = summary.rows as usize;
        if n != rows {
            return Err(Malformed("column region row count differs from the keys"));
        }
        let (same_count, counts) = if flags & FLAG_SAME_COUNT != 0 {
            (Some(r.u16()?), 0..0)
        } else {
            let at = r.pos();
            r.take(2 * n)?;
            (None, at..r.pos())
        };
        let ncols = r.u16()? as usize;
        let dir = r.take(DIR_ENTRY_LEN * ncols)?;
        let vectors = n.div_ceil(VECTOR_ROWS);
        let mut columns = Vec::with_capacity(ncols);
        for e in dir.chunks_exact(DIR_ENTRY_LEN) {
            let (start, body) = dir_offsets(e);
            if start != r.pos() {
                return Err(Malformed("column directory differs from the columns"));
            }
            let meta = parse_column(&mut r, &e[..HEADER_LEN], n, vectors)?;
            if body != meta.body.start {
                return Err(Malformed("column directory differs from the columns"));
            }
            columns.push(meta);
        }
        if r.rest() != 0 {
            return Err(Malformed("trailing bytes in column region"));
        }
        Ok(ColumnDir {
            summary,
            same_count,
            counts,
            columns,
        })
    }

    fn rows(&self) -> usize {
        self.summary.rows as usize
    }

    /// Field count of row `row` of the region `data` this directory
    /// describes (0 out of range).
    #[inline]
    fn field_count(&self, data: &[u8], row: usize) -> usize {
        if row >= self.rows() {
            return 0;
        }
        match self.same_count {
            Some(c) => usize::from(c),
            None => {
                let at = self.counts.start + 2 * row;
                data.get(at..at + 2)
                    .map_or(0, |b| usize::from(u16::from_le_bytes([b[0], b[1]])))
            }
        }
    }

    /// Appends the value of row `row` of the region `data` this directory
    /// was parsed from, as `layout` joins its fields. With `prefetch` (the
    /// point-read path, whose row is usually cold) the cache lines of every
    /// field are asked for before any is read, so that their misses
    /// overlap; a scan, reading rows in order, leaves that to the hardware.
    pub(crate) fn value(
        &self,
        data: &[u8],
        row: usize,
        layout: &dyn ValueLayout,
        out: &mut Vec<u8>,
        prefetch: bool,
    ) -> Result<(), Malformed> {
        let n = self.rows();
        if row >= n {
            return Err(Malformed("row number beyond the column region"));
        }
        let count = self.field_count(data, row);
        let metas = &self.columns[..count.min(self.columns.len())];
        if prefetch {
            for meta in metas {
                prefetch_field(data, meta, n, row);
            }
        }
        with_fields(count, |fields| {
            for (slot, meta) in fields.iter_mut().zip(metas) {
                *slot = field_at(data, meta, n, row);
                // The bytes of a string are read only by the join: ask for
                // them now, so that they load alongside the next columns.
                if prefetch && let Field::Text(b) | Field::Blob(b) = slot {
                    prefetch_at(b, 0);
                }
            }
            out.reserve(16 + 12 * count);
            layout.join(fields, out);
        });
        Ok(())
    }
}

/// One decoded columnar data block, shared by a scan and the query layer.
///
/// Rows are the block's versions in internal order (key ascending, then
/// newest first). A scan hands the block up with a [`crate::Selection`] of
/// the rows that are visible; rows outside it (older versions, tombstones,
/// versions newer than the snapshot) must not be used. Column accessors
/// take row indexes of the block; ranges are clamped to
/// [`ColumnBlock::rows`], and an out-of-range row reads as null.
pub struct ColumnBlock {
    keys: Box<dyn KeySide>,
    data: Bytes,
    dir: Arc<ColumnDir>,
    summary: Summary,
    /// Every text field this block hands out was checked to be UTF-8
    /// ([`ColumnBlock::check_text`]).
    text_utf8: bool,
}

impl fmt::Debug for ColumnBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ColumnBlock")
            .field("rows", &self.summary.rows)
            .field("columns", &self.dir.columns.len())
            .finish_non_exhaustive()
    }
}

impl ColumnBlock {
    /// Parses a column region (`data`) for the rows `keys` describes.
    /// Checks that every section lies within the region; values are not
    /// checked (accessors never read out of bounds whatever the bytes).
    pub(crate) fn parse(
        data: Bytes,
        keys: Box<dyn KeySide>,
        rows: usize,
    ) -> Result<ColumnBlock, Malformed> {
        let dir = Arc::new(ColumnDir::parse(&data, rows)?);
        Ok(ColumnBlock::with_dir(data, keys, dir))
    }

    /// The block over the region `data` whose directory `dir` was parsed
    /// from exactly these bytes (by [`ColumnDir::parse`]).
    pub(crate) fn with_dir(
        data: Bytes,
        keys: Box<dyn KeySide>,
        dir: Arc<ColumnDir>,
    ) -> ColumnBlock {
        ColumnBlock {
            keys,
            data,
            summary: dir.summary,
            dir,
            text_utf8: false,
        }
    }

    /// Checks that every [`Field::Text`] the block can hand out is UTF-8,
    /// then records it ([`ColumnBlock::text_is_utf8`]). Every text field
    /// comes from `field_at` over these (immutable) bytes, so checking its
    /// result for every row of every column that can hold text covers all
    /// of them. The error is the first row found with invalid text.
    pub(crate) fn check_text(&mut self) -> Result<(), Malformed> {
        let n = self.rows();
        for meta in &self.dir.columns {
            if !matches!(meta.kind, ColumnKind::Text | ColumnKind::Mixed) {
                continue;
            }
            for row in 0..n {
                if let Field::Text(b) = field_at(&self.data, meta, n, row)
                    && std::str::from_utf8(b).is_err()
                {
                    return Err(Malformed("text field is not utf-8"));
                }
            }
        }
        self.text_utf8 = true;
        Ok(())
    }

    /// Whether every [`Field::Text`] of this block was checked to be UTF-8
    /// when the block was cached for point reads (see
    /// [`ValueLayout::text_is_utf8`]): such text may be used as `str`
    /// without checking it again. False for blocks not checked.
    pub fn text_is_utf8(&self) -> bool {
        self.text_utf8
    }

    /// Number of rows (versions) in the block.
    pub fn rows(&self) -> usize {
        self.summary.rows as usize
    }

    /// Number of columns: the largest field count of any row.
    pub fn columns(&self) -> usize {
        self.dir.columns.len()
    }

    /// Whether every key in the block is distinct (no older versions kept
    /// for snapshots).
    pub fn keys_unique(&self) -> bool {
        self.summary.unique
    }

    /// Whether the block holds tombstones.
    pub fn has_tombstones(&self) -> bool {
        self.summary.tombstones
    }

    /// Smallest and largest seqno of the block's versions.
    pub fn seqno_range(&self) -> (Seqno, Seqno) {
        (self.summary.min_seqno, self.summary.max_seqno)
    }

    /// Appends row `row`'s key to `out` (nothing when out of range).
    pub fn key_into(&self, row: usize, out: &mut Vec<u8>) {
        self.keys.key_into(row, out)
    }

    /// Row `row`'s key compared with `other` as bytes (a row out of range
    /// reads as the empty key). Keys may be stored packed (a shared prefix
    /// and an integer), so they are compared rather than borrowed.
    #[inline]
    pub fn key_cmp(&self, row: usize, other: &[u8]) -> Ordering {
        self.keys.key_cmp(row, other)
    }

    /// Row `row`'s key, owned (tests compare keys this way).
    #[cfg(test)]
    pub(crate) fn key_vec(&self, row: usize) -> Vec<u8> {
        let mut k = Vec::new();
        self.key_into(row, &mut k);
        k
    }

    /// Whether rows `a` and `b` have the same key.
    #[inline]
    pub fn same_key(&self, a: usize, b: usize) -> bool {
        self.keys.same_key(a, b)
    }

    /// The last 8 bytes of row `row`'s key as a big-endian `u64` (fasty's
    /// row keys end in an order-preserving 8-byte integer), or `None` if
    /// the key is shorter.
    #[inline]
    pub fn key_suffix(&self, row: usize) -> Option<u64> {
        self.keys.key_suffix(row)
    }

    /// The block's keys part when it is packed (see `keys`).
    pub(crate) fn packed_keys(&self) -> Option<keys::PackedView<'_>> {
        self.keys.packed()
    }

    /// [`ColumnBlock::key_suffix`] of every row in `rows`, appended to `out`
    /// (0 for a key shorter than 8 bytes).
    pub fn key_suffixes(&self, rows: Range<usize>, out: &mut Vec<u64>) {
        let rows = self.clamp(rows);
        out.extend(rows.map(|i| self.key_suffix(i).unwrap_or(0)));
    }

    /// Sequence number of row `row`.
    pub fn seqno(&self, row: usize) -> Seqno {
        self.keys.version(row).0
    }

    /// Whether row `row` is a tombstone (it then has no fields).
    pub fn is_tombstone(&self, row: usize) -> bool {
        self.keys.version(row).1
    }

    /// Number of fields row `row`'s value split into; fields past it read
    /// as null.
    pub fn field_count(&self, row: usize) -> usize {
        self.dir.field_count(&self.data, row)
    }

    /// Column `c`, or `None` past the last column.
    pub fn column(&self, c: usize) -> Option<Column<'_>> {
        let meta = self.dir.columns.get(c)?;
        Some(Column {
            data: &self.data,
            meta: meta.clone(),
            rows: self.rows(),
        })
    }

    /// The zone maps of the whole block (merged over its vectors).
    pub fn zones(&self) -> Zones<'static> {
        let mut cols = Vec::with_capacity(self.dir.columns.len());
        for c in 0..self.dir.columns.len() {
            if let Some(col) = self.column(c) {
                cols.push(col.block_zone().into_owned());
            }
        }
        Zones::new(self.rows(), cols)
    }

    /// Appends row `row`'s fields to `out` (nothing for a tombstone).
    pub fn fields<'s>(&'s self, row: usize, out: &mut Vec<Field<'s>>) {
        let n = self.field_count(row);
        let rows = self.rows();
        for c in 0..n {
            out.push(
                self.dir
                    .columns
                    .get(c)
                    .map_or(Field::Null, |meta| field_at(&self.data, meta, rows, row)),
            );
        }
    }

    /// Calls `f` with the fields of row `row` (none for a row out of
    /// range): the point-read path. A point read's row is usually cold,
    /// and each field lies on cache lines of its own, so they are read in
    /// stages whose misses overlap: the first line of every field is asked
    /// for before any is read, then a dictionary column's entry, then the
    /// bytes of every string; only then does `f` see them.
    pub fn with_row_fields<'b, R>(&'b self, row: usize, f: impl FnOnce(&[Field<'b>]) -> R) -> R {
        let n = self.rows();
        let data: &[u8] = &self.data;
        let count = self.dir.field_count(data, row);
        let metas = &self.dir.columns[..count.min(self.dir.columns.len())];
        for meta in metas {
            prefetch_field(data, meta, n, row);
        }
        for meta in metas {
            prefetch_dict_entry(data, meta, n, row);
        }
        with_fields(count, |fields| {
            for (slot, meta) in fields.iter_mut().zip(metas) {
                *slot = field_at(data, meta, n, row);
                if let Field::Text(b) | Field::Blob(b) = slot {
                    prefetch_at(b, 0);
                    prefetch_at(b, b.len().wrapping_sub(1));
                }
            }
            f(fields)
        })
    }

    /// Appends the value of row `row`, as `layout` joins its fields (nothing
    /// for a tombstone): exactly the bytes that were stored.
    pub fn value(&self, row: usize, layout: &dyn ValueLayout, out: &mut Vec<u8>) {
        if self.is_tombstone(row) {
            return;
        }
        if self.dir.value(&self.data, row, layout, out, false).is_err() {
            // Out of range: a row without fields.
            layout.join(&[], out);
        }
    }

    fn clamp(&self, rows: Range<usize>) -> Range<usize> {
        let end = rows.end.min(self.rows());
        rows.start.min(end)..end
    }
}

/// Calls `f` with `count` null fields to fill: on the stack for the few
/// fields most rows have, on the heap beyond.
fn with_fields<'d, R>(count: usize, f: impl FnOnce(&mut [Field<'d>]) -> R) -> R {
    const INLINE: usize = 16;
    if count <= INLINE {
        let mut inline = [Field::Null; INLINE];
        f(&mut inline[..count])
    } else {
        f(&mut vec![Field::Null; count])
    }
}

/// The column and value offsets of a directory entry.
#[inline]
fn dir_offsets(e: &[u8]) -> (usize, usize) {
    let at = |k: usize| u32::from_le_bytes([e[k], e[k + 1], e[k + 2], e[k + 3]]) as usize;
    (at(HEADER_LEN), at(HEADER_LEN + 4))
}

/// Parses the column starting at the reader, whose directory header is
/// `header`.
fn parse_column(
    r: &mut Reader<'_>,
    header: &[u8],
    n: usize,
    vectors: usize,
) -> Result<ColumnMeta, Malformed> {
    let at = r.pos();
    let mut meta = column_header(header, at, n)?;
    if meta.null_count > 0 {
        r.take(n.div_ceil(8))?;
    }
    let zones_at = r.pos();
    for _ in 0..vectors {
        zone::skip(r)?;
    }
    meta.zones = zones_at..r.pos();
    let body_at = r.pos();
    match (meta.kind, meta.encoding) {
        (ColumnKind::Null, _) => {}
        (ColumnKind::Int, _) => {
            r.take(bits::packed_len(n, meta.width))?;
        }
        (ColumnKind::Float, enc::DECIMAL) => {
            r.take(bits::packed_len(n, meta.width))?;
        }
        (ColumnKind::Float, _) => {
            r.take(8 * n)?;
        }
        (ColumnKind::Bool, _) => {
            r.take(n.div_ceil(8))?;
        }
        (ColumnKind::Text | ColumnKind::Blob, enc::PLAIN) => skip_offsets_and_bytes(r, n)?,
        (ColumnKind::Text | ColumnKind::Blob, _) => {
            skip_offsets_and_bytes(r, meta.base as usize)?;
            meta.codes = r.pos();
            r.take(bits::packed_len(n, meta.width))?;
        }
        (ColumnKind::Mixed, _) => {
            r.take(n)?;
            r.take(8 * n)?;
            skip_offsets_and_bytes(r, n)?;
        }
    }
    meta.body = body_at..r.pos();
    Ok(meta)
}

/// Decodes the header of a column starting at byte `at` of its region
/// (with its null bitmap). Zones and body are left for the
/// caller to locate (they are set empty and open-ended).
fn column_header(h: &[u8], at: usize, n: usize) -> Result<ColumnMeta, Malformed> {
    let mut r = Reader::new(h);
    let kind = ColumnKind::from_u8(r.u8()?).ok_or(Malformed("unknown column kind"))?;
    let encoding = r.u8()?;
    let null_count = r.u32()?;
    let base = r.u64()? as i64;
    let width = r.u8()?;
    let dict = r.u32()? as usize;
    if null_count as usize > n {
        return Err(Malformed("more nulls than rows"));
    }
    let fits = match (kind, encoding) {
        (ColumnKind::Null, enc::NONE) => true,
        (ColumnKind::Int, enc::FOR) => width <= 64,
        (ColumnKind::Float | ColumnKind::Mixed, enc::PLAIN) => true,
        (ColumnKind::Float, enc::DECIMAL) => width <= 64 && dict <= 9,
        (ColumnKind::Bool, enc::BITMAP) => true,
        (ColumnKind::Text | ColumnKind::Blob, enc::PLAIN) => true,
        (ColumnKind::Text | ColumnKind::Blob, enc::DICT) => dict > 0 && dict <= n && width <= 32,
        _ => false,
    };
    if !fits {
        return Err(Malformed("column encoding does not fit its kind"));
    }
    let nulls_at = at;
    let nulls_len = if null_count > 0 { n.div_ceil(8) } else { 0 };
    Ok(ColumnMeta {
        kind,
        encoding,
        null_count,
        nulls: nulls_at..nulls_at + nulls_len,
        zones: 0..0,
        body: 0..0,
        codes: 0,
        base: if encoding == enc::DICT {
            dict as i64
        } else {
            base
        },
        exp: if encoding == enc::DECIMAL {
            dict as u8
        } else {
            0
        },
        width,
    })
}

/// Skips `(count + 1)` u32 offsets and the bytes the last one ends at.
fn skip_offsets_and_bytes(r: &mut Reader<'_>, count: usize) -> Result<(), Malformed> {
    let offsets = r.take(4 * (count + 1))?;
    let last = &offsets[4 * count..];
    let len = u32::from_le_bytes([last[0], last[1], last[2], last[3]]) as usize;
    r.take(len)?;
    Ok(())
}

/// Offsets + bytes: the `i`th of `count` byte strings starting at `at`.
#[inline]
fn string_at(data: &[u8], at: usize, count: usize, i: usize) -> &[u8] {
    let off = |j: usize| {
        let p = at + 4 * j;
        data.get(p..p + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    };
    let bytes_at = at + 4 * (count + 1);
    let (s, e) = (off(i), off(i + 1));
    if s > e {
        return &[];
    }
    data.get(bytes_at + s..bytes_at + e).unwrap_or(&[])
}

/// The encoded values of a column, for operators that work on them
/// without decoding (aggregates over dictionary codes or FOR offsets).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Encoded<'a> {
    /// A column of nulls: nothing stored.
    Null,
    /// Ints: the value of row `i` is `base + packed.get(i)` (wrapping);
    /// null rows hold 0 offsets.
    For {
        /// The smallest non-null value.
        base: i64,
        /// The offsets from `base`.
        packed: Packed<'a>,
    },
    /// Text or blob through a dictionary sorted ascending (so code order
    /// is value order): row `i` holds `dict.get(codes.get(i))`; null rows
    /// hold code 0.
    Dict {
        /// The distinct values, ascending.
        dict: Dict<'a>,
        /// One code per row.
        codes: Packed<'a>,
    },
    /// Anything else: read with the decoding methods of [`Column`].
    Plain,
}

/// A sorted dictionary of byte strings (see [`Encoded::Dict`]).
#[derive(Debug, Clone, Copy)]
pub struct Dict<'a> {
    data: &'a [u8],
    len: usize,
}

impl<'a> Dict<'a> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the dictionary is empty (it never is in a valid block).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Entry `code` (empty when out of range).
    pub fn get(&self, code: usize) -> &'a [u8] {
        if code >= self.len {
            return &[];
        }
        string_at(self.data, 0, self.len, code)
    }
}

/// One column of a [`ColumnBlock`].
#[derive(Debug, Clone)]
pub struct Column<'a> {
    data: &'a [u8],
    meta: ColumnMeta,
    rows: usize,
}

impl<'a> Column<'a> {
    /// What the column holds.
    pub fn kind(&self) -> ColumnKind {
        self.meta.kind
    }

    /// Number of null (or missing) rows.
    pub fn null_count(&self) -> usize {
        self.meta.null_count as usize
    }

    /// The null bitmap (bit `i` set: row `i` is null or lacks the field),
    /// or `None` when no row is null.
    pub fn nulls(&self) -> Option<Bitmap<'a>> {
        (self.meta.null_count > 0).then(|| Bitmap {
            bits: RawBitmap(self.data.get(self.meta.nulls.clone()).unwrap_or(&[])),
            len: self.rows,
        })
    }

    /// Whether row `row` is null (or lacks the field, or is out of range).
    pub fn is_null(&self, row: usize) -> bool {
        row >= self.rows
            || self.meta.kind == ColumnKind::Null
            || (self.meta.null_count > 0 && self.nulls().is_some_and(|b| b.get(row)))
    }

    /// Number of vectors ([`VECTOR_ROWS`] rows each, the last may be
    /// shorter), each with a zone map.
    pub fn vectors(&self) -> usize {
        self.rows.div_ceil(VECTOR_ROWS)
    }

    /// The zone map of vector `v` (rows `v * VECTOR_ROWS ..`), or
    /// [`Zone::Unknown`] past the last vector.
    pub fn zone(&self, v: usize) -> ColumnZone<'a> {
        let region = self.data.get(self.meta.zones.clone()).unwrap_or(&[]);
        let mut r = Reader::new(region);
        for _ in 0..v {
            if zone::skip(&mut r).is_err() {
                return ColumnZone::unknown();
            }
        }
        zone::read(&mut r).unwrap_or_else(|_| ColumnZone::unknown())
    }

    /// The zone map of the whole block: the vectors' zones merged.
    pub fn block_zone(&self) -> ColumnZone<'a> {
        let mut acc: Option<ColumnZone<'a>> = None;
        for v in 0..self.vectors() {
            let z = self.zone(v);
            acc = Some(match acc {
                None => z,
                Some(a) => a.merge(&z),
            });
        }
        acc.unwrap_or_else(ColumnZone::unknown)
    }

    /// The encoded form (see [`Encoded`]).
    pub fn encoded(&self) -> Encoded<'a> {
        let body = self.data.get(self.meta.body.clone()).unwrap_or(&[]);
        match (self.meta.kind, self.meta.encoding) {
            (ColumnKind::Null, _) => Encoded::Null,
            (_, enc::FOR) => Encoded::For {
                base: self.meta.base,
                packed: Packed::new(body, self.meta.width, self.rows),
            },
            (_, enc::DICT) => {
                let d = self.meta.base as usize;
                let dict_len = string_region_len(body, d);
                Encoded::Dict {
                    dict: Dict {
                        data: &body[..dict_len.min(body.len())],
                        len: d,
                    },
                    codes: Packed::new(
                        body.get(dict_len..).unwrap_or(&[]),
                        self.meta.width,
                        self.rows,
                    ),
                }
            }
            _ => Encoded::Plain,
        }
    }

    /// Field of row `row` (null when out of range).
    #[inline]
    pub fn field(&self, row: usize) -> Field<'a> {
        field_at(self.data, &self.meta, self.rows, row)
    }

    /// Appends the ints of `rows` to `out` (0 for null rows). For columns
    /// of another kind, appends the int fields of a mixed column and 0
    /// for everything else.
    pub fn ints(&self, rows: Range<usize>, out: &mut Vec<i64>) {
        let rows = clamp(rows, self.rows);
        if self.meta.kind == ColumnKind::Int {
            let body = self.data.get(self.meta.body.clone()).unwrap_or(&[]);
            let p = Packed::new(body, self.meta.width, self.rows);
            let base = self.meta.base;
            let mut offsets = Vec::with_capacity(rows.len());
            p.unpack(rows, &mut offsets);
            out.extend(offsets.iter().map(|&v| base.wrapping_add(v as i64)));
            return;
        }
        out.extend(rows.map(|i| match self.field(i) {
            Field::Int(v) => v,
            _ => 0,
        }));
    }

    /// Appends the floats of `rows` to `out` (0.0 for null rows and, in a
    /// mixed column, for fields that are not floats).
    pub fn floats(&self, rows: Range<usize>, out: &mut Vec<f64>) {
        let rows = clamp(rows, self.rows);
        if self.meta.kind == ColumnKind::Float && self.meta.encoding == enc::DECIMAL {
            let body = self.data.get(self.meta.body.clone()).unwrap_or(&[]);
            let packed = Packed::new(body, self.meta.width, self.rows);
            let (base, exp) = (self.meta.base, self.meta.exp);
            let start = out.len();
            let mut offsets = Vec::with_capacity(rows.len());
            packed.unpack(rows.clone(), &mut offsets);
            out.extend(
                offsets
                    .iter()
                    .map(|&v| decimal_value(base.wrapping_add(v as i64), exp)),
            );
            if let Some(nulls) = self.nulls() {
                for (slot, i) in out[start..].iter_mut().zip(rows) {
                    if nulls.get(i) {
                        *slot = 0.0;
                    }
                }
            }
            return;
        }
        if self.meta.kind == ColumnKind::Float {
            let body = self.data.get(self.meta.body.clone()).unwrap_or(&[]);
            out.reserve(rows.len());
            for i in rows {
                out.push(f64::from_bits(u64_at(body, 8 * i)));
            }
            return;
        }
        out.extend(rows.map(|i| match self.field(i) {
            Field::Float(v) => v,
            _ => 0.0,
        }));
    }

    /// Appends the bools of `rows` to `out` (false for null rows and
    /// non-bool fields).
    pub fn bools(&self, rows: Range<usize>, out: &mut Vec<bool>) {
        let rows = clamp(rows, self.rows);
        out.extend(rows.map(|i| matches!(self.field(i), Field::Bool(true))));
    }

    /// Appends the text or blob bytes of `rows`: each row's bytes to
    /// `bytes`, and after each row the length of `bytes` to `ends` (so row
    /// `k` of the call is `bytes[ends[k-1]..ends[k]]`, with the end before
    /// the first row being `bytes.len()` at the call). Null rows and
    /// fields of other kinds append nothing to `bytes`.
    pub fn strings(&self, rows: Range<usize>, ends: &mut Vec<u32>, bytes: &mut Vec<u8>) {
        let rows = clamp(rows, self.rows);
        ends.reserve(rows.len());
        for i in rows {
            if let Field::Text(b) | Field::Blob(b) = self.field(i) {
                bytes.extend_from_slice(b);
            }
            ends.push(bytes.len() as u32);
        }
    }
}

/// Field of row `row` of the column `meta` describes in `data` (a
/// region of `n` rows): one bounds-checked read per part it touches.
#[inline]
fn field_at<'a>(data: &'a [u8], meta: &ColumnMeta, n: usize, row: usize) -> Field<'a> {
    if row >= n
        || (meta.null_count > 0 && RawBitmap(data.get(meta.nulls.clone()).unwrap_or(&[])).get(row))
    {
        return Field::Null;
    }
    let body = data.get(meta.body.start..).unwrap_or(&[]);
    match meta.kind {
        ColumnKind::Int => {
            let v = Packed::new(body, meta.width, n).get(row);
            Field::Int(meta.base.wrapping_add(v as i64))
        }
        ColumnKind::Float if meta.encoding == enc::DECIMAL => {
            let v = Packed::new(body, meta.width, n).get(row);
            Field::Float(decimal_value(meta.base.wrapping_add(v as i64), meta.exp))
        }
        ColumnKind::Float => Field::Float(f64::from_bits(u64_at(body, 8 * row))),
        ColumnKind::Bool => Field::Bool(RawBitmap(body).get(row)),
        ColumnKind::Text | ColumnKind::Blob => {
            let b = if meta.encoding == enc::DICT {
                let d = meta.base as usize;
                let codes = data.get(meta.codes..).unwrap_or(&[]);
                let code = Packed::new(codes, meta.width, n).get(row);
                if code as usize >= d {
                    &[]
                } else {
                    string_at(body, 0, d, code as usize)
                }
            } else {
                string_at(body, 0, n, row)
            };
            if meta.kind == ColumnKind::Text {
                Field::Text(b)
            } else {
                Field::Blob(b)
            }
        }
        ColumnKind::Mixed => {
            let tag = body.get(row).copied().unwrap_or(0);
            let word = u64_at(body, n + 8 * row);
            match tag {
                1 => Field::Int(word as i64),
                2 => Field::Float(f64::from_bits(word)),
                3 => Field::Bool(word != 0),
                4 => Field::Text(string_at(body, 9 * n, n, row)),
                5 => Field::Blob(string_at(body, 9 * n, n, row)),
                _ => Field::Null,
            }
        }
        ColumnKind::Null => Field::Null,
    }
}

/// Starts loading the cache line(s) [`field_at`] reads first for row
/// `row` of the column `meta` describes (nothing where there is no
/// prefetch instruction). Dependent reads (a string's bytes after its
/// offsets, a dictionary entry after its code) are left to `field_at`.
#[inline]
fn prefetch_field(data: &[u8], meta: &ColumnMeta, n: usize, row: usize) {
    if meta.null_count > 0 {
        prefetch_at(data, meta.nulls.start + row / 8);
    }
    let body = meta.body.start;
    let at = match meta.kind {
        ColumnKind::Null => return,
        ColumnKind::Int => body + row * usize::from(meta.width) / 8,
        ColumnKind::Float if meta.encoding == enc::DECIMAL => {
            body + row * usize::from(meta.width) / 8
        }
        ColumnKind::Float => body + 8 * row,
        ColumnKind::Bool => body + row / 8,
        ColumnKind::Text | ColumnKind::Blob if meta.encoding == enc::DICT => {
            meta.codes + row * usize::from(meta.width) / 8
        }
        ColumnKind::Text | ColumnKind::Blob => body + 4 * row,
        ColumnKind::Mixed => {
            prefetch_at(data, body + row);
            body + n + 8 * row
        }
    };
    prefetch_at(data, at);
}

/// For a dictionary column, starts loading the offsets of row `row`'s
/// dictionary entry (its code's line must be loading already: see
/// [`prefetch_field`]); nothing for other columns or a null row.
#[inline]
fn prefetch_dict_entry(data: &[u8], meta: &ColumnMeta, n: usize, row: usize) {
    if meta.encoding != enc::DICT || !matches!(meta.kind, ColumnKind::Text | ColumnKind::Blob) {
        return;
    }
    let codes = data.get(meta.codes..).unwrap_or(&[]);
    let code = Packed::new(codes, meta.width, n).get(row) as usize;
    prefetch_at(data, meta.body.start + 4 * code);
}

/// Starts loading the cache line holding byte `at` of `data`, if in range.
#[inline]
fn prefetch_at(data: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(b) = data.get(at) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is only a hint to the cache: it reads nothing
        // the program sees and never faults; the address is within `data`.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(b).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, at);
}

/// Length of an offsets+bytes region of `count` strings at the start of
/// `body`.
fn string_region_len(body: &[u8], count: usize) -> usize {
    let at = 4 * count;
    let last = body
        .get(at..at + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    4 * (count + 1) + last
}

#[inline]
fn u64_at(buf: &[u8], at: usize) -> u64 {
    buf.get(at..at + 8).map_or(0, |b| {
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        u64::from_le_bytes(a)
    })
}

fn clamp(rows: Range<usize>, n: usize) -> Range<usize> {
    let end = rows.end.min(n);
    rows.start.min(end)..end
}

/// A bitmap over a block's rows (bit `i` is bit `i % 8` of byte `i / 8`).
#[derive(Debug, Clone, Copy)]
pub struct Bitmap<'a> {
    bits: RawBitmap<'a>,
    len: usize,
}

impl<'a> Bitmap<'a> {
    /// Bit `i` (false out of range).
    pub fn get(&self, i: usize) -> bool {
        i < self.len && self.bits.get(i)
    }
    /// The bytes, least significant bit first.
    pub fn bytes(&self) -> &'a [u8] {
        self.bits.0
    }
    /// Number of bits.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether the bitmap has no bits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
