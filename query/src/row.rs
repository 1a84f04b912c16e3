//! The stored value of a table row: its columns by position (declaration
//! order in the catalog), not by name, each with a type tag. Encoding is
//! one pass into a reused buffer; decoding is safe on any bytes (corrupt
//! input is an [`Error::corrupt`], never a panic or wrong data) and can
//! pick out a few columns without allocating for the ones it skips.
//!
//! This module owns only the bytes of a row value; the key a row is
//! stored under belongs to `keys`, and which type a column must hold
//! belongs to the catalog and planner.
//!
//! # Row layout, format version 1
//!
//! ```text
//! row     = count:varint column{count}
//! column  = 0x00                        null
//!         | 0x01 zigzag(v):varint       int
//!         | 0x02 v:f64 little-endian    float (8 bytes, never NaN)
//!         | 0x03                        false
//!         | 0x04                        true
//!         | 0x05 len:varint bytes{len}  string (UTF-8)
//!         | 0x06 len:varint bytes{len}  json (compact text, serde_json)
//! varint  = unsigned LEB128 of a u64, at most 10 bytes
//! zigzag(v) = (v << 1) ^ (v >> 63), so small negative ints stay short
//! ```
//!
//! Tags 0x07..=0xFF are reserved. A row never holds more columns than its
//! table, and nothing may follow the last column.
//!
//! **Short rows.** A row with fewer columns than its table reads the
//! missing trailing columns as null. Nothing writes such rows today; the
//! rule exists so that adding a column to a table (at the end) needs no
//! rewrite of the rows already stored.

use std::fmt::Display;

use fasty_wal::Field;

use crate::error::{Error, Result};
use crate::value::Value;

/// Row tag of null.
const TAG_NULL: u8 = 0x00;
/// Row tag of an int (zigzag varint payload).
const TAG_INT: u8 = 0x01;
/// Row tag of a float (8 bytes little-endian).
const TAG_FLOAT: u8 = 0x02;
/// Row tag of `false`.
const TAG_FALSE: u8 = 0x03;
/// Row tag of `true`.
const TAG_TRUE: u8 = 0x04;
/// Row tag of a string (length-prefixed UTF-8).
const TAG_STRING: u8 = 0x05;
/// Row tag of a json value (length-prefixed JSON text).
const TAG_JSON: u8 = 0x06;

/// The longest varint: 10 bytes of 7 bits cover a u64.
const MAX_VARINT_LEN: usize = 10;

/// Appends `v` as an unsigned LEB128 varint.
fn put_varint(v: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; MAX_VARINT_LEN];
    let n = write_varint(v, &mut buf);
    out.extend_from_slice(&buf[..n]);
}

/// How many bytes [`put_varint`] writes for `v`.
fn varint_len(v: u64) -> usize {
    // One byte per started group of 7 significant bits (at least one).
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// An i64 mapped to a u64 so that values near zero, of either sign, are
/// small: 0, -1, 1, -2, ... become 0, 1, 2, 3, ...
fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// The exact encoded size of `values`, except json values, whose text is
/// not measured in advance: what [`encode_row`] reserves.
fn encoded_len_hint(values: &[Value]) -> usize {
    let columns: usize = values
        .iter()
        .map(|v| match v {
            Value::Null | Value::Bool(_) | Value::Json(_) => 1,
            Value::Int(i) => 1 + varint_len(zigzag(*i)),
            Value::Float(_) => 9,
            Value::String(s) => 1 + varint_len(s.len() as u64) + s.len(),
        })
        .sum();
    varint_len(values.len() as u64) + columns
}

/// Appends the encoding of a row whose columns, in declaration order,
/// are `values` (see the module doc for the layout).
pub(crate) fn encode_row(values: &[Value], out: &mut Vec<u8>) {
    out.reserve(encoded_len_hint(values));
    put_varint(values.len() as u64, out);
    for value in values {
        match value {
            Value::Null => out.push(TAG_NULL),
            Value::Int(v) => put_int(*v, out),
            Value::Float(v) => {
                debug_assert!(!v.is_nan(), "a Value never holds NaN");
                put_float(*v, out);
            }
            Value::Bool(v) => put_bool(*v, out),
            Value::String(s) => put_prefixed(TAG_STRING, s.as_bytes(), out),
            Value::Json(j) => {
                out.push(TAG_JSON);
                // The text is written in place and its length inserted in
                // front of it afterwards, sparing a temporary buffer.
                let start = out.len();
                serde_json::to_writer(&mut *out, j)
                    .expect("a serde_json::Value always serializes into a Vec");
                let mut prefix = [0u8; MAX_VARINT_LEN];
                let n = write_varint((out.len() - start) as u64, &mut prefix);
                out.splice(start..start, prefix[..n].iter().copied());
            }
        }
    }
}

/// Appends the encoding of a row made of storage's columnar `fields`
/// (text is a string column, a blob a json column's text): the bytes
/// [`encode_row`] writes for the same values, so that a row split into
/// columns by `layout::RowLayout` rebuilds exactly.
pub(crate) fn encode_fields(fields: &[Field<'_>], out: &mut Vec<u8>) {
    put_varint(fields.len() as u64, out);
    for field in fields {
        match *field {
            Field::Null => out.push(TAG_NULL),
            Field::Int(v) => put_int(v, out),
            Field::Float(v) => put_float(v, out),
            Field::Bool(v) => put_bool(v, out),
            Field::Text(bytes) => put_prefixed(TAG_STRING, bytes, out),
            Field::Blob(bytes) => put_prefixed(TAG_JSON, bytes, out),
        }
    }
}

/// Appends an int column.
fn put_int(v: i64, out: &mut Vec<u8>) {
    out.push(TAG_INT);
    put_varint(zigzag(v), out);
}

/// Appends a float column.
fn put_float(v: f64, out: &mut Vec<u8>) {
    out.push(TAG_FLOAT);
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a bool column.
fn put_bool(v: bool, out: &mut Vec<u8>) {
    out.push(if v { TAG_TRUE } else { TAG_FALSE });
}

/// Appends a length-prefixed column (string or json text) tagged `tag`.
fn put_prefixed(tag: u8, bytes: &[u8], out: &mut Vec<u8>) {
    out.push(tag);
    put_varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

/// Writes `v` as a varint into `buf`, returning how many bytes it took.
fn write_varint(mut v: u64, buf: &mut [u8; MAX_VARINT_LEN]) -> usize {
    let mut n = 0;
    for slot in buf.iter_mut() {
        n += 1;
        if v < 0x80 {
            *slot = v as u8;
            break;
        }
        *slot = (v as u8) | 0x80;
        v >>= 7;
    }
    n
}

/// All `ncols` columns of a stored row, in declaration order; columns
/// past the end of a short row are null.
pub(crate) fn decode_row(bytes: &[u8], ncols: usize) -> Result<Vec<Value>> {
    let mut reader = RowReader::new(bytes)?;
    if reader.column_count() > ncols {
        return Err(Error::corrupt(format!(
            "corrupt row: {} columns stored but the table has {ncols}",
            reader.column_count()
        )));
    }
    let mut values = Vec::with_capacity(ncols);
    for pos in 0..reader.column_count() {
        values.push(reader.value(pos)?);
    }
    reader.expect_end()?;
    values.resize(ncols, Value::Null);
    Ok(values)
}

/// The columns at `positions` (ascending) of a stored row, into the same
/// slots of `out`, in one walk over the row: the executor's way to read
/// only the columns a statement uses. Columns past the end of a short
/// row are null. Bytes after the last requested column are not checked.
///
/// Positions out of order or repeated still give the right values, at
/// the cost of rescanning the row.
pub(crate) fn decode_columns(bytes: &[u8], positions: &[usize], out: &mut [Value]) -> Result<()> {
    debug_assert_eq!(positions.len(), out.len(), "one slot per position");
    let mut reader = RowReader::new(bytes)?;
    for (slot, &pos) in out.iter_mut().zip(positions) {
        *slot = reader.value(pos)?;
    }
    Ok(())
}

/// Where [`read_into`] puts the columns it reads: one typed call per
/// wanted column (by its slot), straight from the column's tag.
pub(crate) trait ColumnSink {
    /// Slot `slot` is null (stored null, or past a short row's end).
    fn null(&mut self, slot: usize);
    /// Slot `slot` is an int.
    fn int(&mut self, slot: usize, v: i64);
    /// Slot `slot` is a float (never NaN).
    fn float(&mut self, slot: usize, v: f64);
    /// Slot `slot` is a bool.
    fn bool(&mut self, slot: usize, v: bool);
    /// Slot `slot` is a string (checked to be UTF-8).
    fn string(&mut self, slot: usize, v: &str);
    /// Slot `slot` is json text (not yet parsed).
    fn json(&mut self, slot: usize, text: &[u8]) -> Result<()>;
}

/// Reads the columns at `positions` (ascending table positions, repeats
/// allowed) of the stored row `bytes` in one walk, handing column
/// `positions[k]` to `sink` as slot `k`: the columns between are skipped
/// without decoding, columns past the end of a short row are null, and
/// a corrupt row fails with the error [`RowReader::get`] gives for it.
/// After an error some slots may have been handed over.
pub(crate) fn read_into(
    bytes: &[u8],
    positions: &[usize],
    sink: &mut impl ColumnSink,
) -> Result<()> {
    let mut r = RowReader::new(bytes)?;
    let mut k = 0;
    while let Some(&pos) = positions.get(k) {
        if pos >= r.count {
            // Ascending: every later position is past the end too.
            (k..positions.len()).for_each(|slot| sink.null(slot));
            return Ok(());
        }
        let end = k + positions[k..].iter().take_while(|&&p| p == pos).count();
        r.seek(pos)?;
        let start = r.offset;
        r.last = start;
        match r.byte()? {
            TAG_NULL => (k..end).for_each(|slot| sink.null(slot)),
            TAG_INT => {
                let v = unzigzag(r.varint()?);
                (k..end).for_each(|slot| sink.int(slot, v));
            }
            TAG_FLOAT => {
                let v = f64::from_le_bytes(r.take_array()?);
                if v.is_nan() {
                    return Err(r.fault(start, Fault::Nan).into());
                }
                (k..end).for_each(|slot| sink.float(slot, v));
            }
            TAG_FALSE => (k..end).for_each(|slot| sink.bool(slot, false)),
            TAG_TRUE => (k..end).for_each(|slot| sink.bool(slot, true)),
            TAG_STRING => {
                let b = r.take_prefixed()?;
                let v = std::str::from_utf8(b).map_err(|_| r.fault(start, Fault::NotUtf8))?;
                (k..end).for_each(|slot| sink.string(slot, v));
            }
            TAG_JSON => {
                let text = r.take_prefixed()?;
                for slot in k..end {
                    sink.json(slot, text)?;
                }
            }
            t => return Err(r.fault(start, Fault::UnknownTag(t)).into()),
        }
        r.next += 1;
        k = end;
    }
    Ok(())
}

/// One column as stored, borrowing strings and json text from the row:
/// what a compiled filter compares without allocating.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ValueRef<'a> {
    /// Null, or a column past the end of a short row.
    Null,
    /// An `int`.
    Int(i64),
    /// A `float` (never NaN).
    Float(f64),
    /// A `bool`.
    Bool(bool),
    /// A `string`, checked to be UTF-8.
    String(&'a str),
    /// A `json` value's text, not yet parsed (or checked).
    Json(&'a [u8]),
}

impl ValueRef<'_> {
    /// The owned value; parses json text.
    pub(crate) fn to_value(self) -> Result<Value> {
        Ok(match self {
            ValueRef::Null => Value::Null,
            ValueRef::Int(v) => Value::Int(v),
            ValueRef::Float(v) => Value::Float(v),
            ValueRef::Bool(v) => Value::Bool(v),
            ValueRef::String(s) => Value::String(s.to_owned()),
            ValueRef::Json(text) => Value::Json(
                serde_json::from_slice(text)
                    .map_err(|e| Error::corrupt(format!("corrupt row: invalid json: {e}")))?,
            ),
        })
    }
}

/// A cursor over the columns of one stored row. Reading column `p` after
/// column `q < p` skips the columns between without decoding them, so
/// reading columns in ascending order walks the row once; reading
/// backwards rescans from the first column.
#[derive(Debug, Clone)]
pub(crate) struct RowReader<'a> {
    /// The whole row value.
    bytes: &'a [u8],
    /// Where the first column starts (after the column count).
    first: usize,
    /// How many columns the row stores.
    count: usize,
    /// The index of the next column to read.
    next: usize,
    /// Where column `next` starts.
    offset: usize,
    /// Where column `next - 1` starts, to read it again cheaply.
    last: usize,
}

#[cfg_attr(not(test), allow(dead_code))]
impl<'a> RowReader<'a> {
    /// A reader positioned at the first column of the row `bytes`.
    pub(crate) fn new(bytes: &'a [u8]) -> Result<RowReader<'a>> {
        let mut reader = RowReader {
            bytes,
            first: 0,
            count: 0,
            next: 0,
            offset: 0,
            last: 0,
        };
        let count = reader.varint()?;
        let room = bytes.len() - reader.offset;
        // Every column takes at least its tag byte.
        let count = usize::try_from(count)
            .ok()
            .filter(|&c| c <= room)
            .ok_or_else(|| {
                Error::corrupt(format!(
                    "corrupt row: {count} columns claimed in {room} bytes"
                ))
            })?;
        reader.count = count;
        reader.first = reader.offset;
        reader.last = reader.offset;
        Ok(reader)
    }

    /// How many columns the row stores (a short row stores fewer than its
    /// table has).
    pub(crate) fn column_count(&self) -> usize {
        self.count
    }

    /// Column `pos`, borrowed from the row; null past the stored columns.
    pub(crate) fn get(&mut self, pos: usize) -> Result<ValueRef<'a>> {
        if pos >= self.count {
            return Ok(ValueRef::Null);
        }
        if pos < self.next {
            if pos + 1 == self.next {
                self.offset = self.last;
                self.next = pos;
            } else {
                self.rewind();
            }
        }
        match self.seek(pos).and_then(|()| self.read_column()) {
            Ok(column) => Ok(column),
            Err(e) => {
                // A failed read stops mid-column; start over next time so
                // that no later call reads from there.
                self.rewind();
                Err(e.into())
            }
        }
    }

    /// Column `pos` as an owned value; null past the stored columns.
    pub(crate) fn value(&mut self, pos: usize) -> Result<Value> {
        match self.get(pos)? {
            ValueRef::Json(text) => serde_json::from_slice(text)
                .map(Value::Json)
                .map_err(|e| corrupt_at(self.last, pos, format_args!("invalid json: {e}"))),
            column => column.to_value(),
        }
    }

    /// Column `pos` of an `int` column: `None` when null. A stored value
    /// of another type is corruption (the catalog says the column is int).
    pub(crate) fn int(&mut self, pos: usize) -> Result<Option<i64>> {
        match self.get(pos)? {
            ValueRef::Int(v) => Ok(Some(v)),
            ValueRef::Null => Ok(None),
            _ => Err(corrupt_at(self.last, pos, "not an int")),
        }
    }

    /// Checks that the row holds nothing after its last column.
    pub(crate) fn expect_end(&mut self) -> Result<()> {
        if let Err(e) = self.seek(self.count) {
            self.rewind();
            return Err(e.into());
        }
        if self.offset != self.bytes.len() {
            return Err(Error::corrupt(format!(
                "corrupt row: {} trailing bytes after the last column",
                self.bytes.len() - self.offset
            )));
        }
        Ok(())
    }

    /// Moves to the first column.
    fn rewind(&mut self) {
        self.offset = self.first;
        self.last = self.first;
        self.next = 0;
    }

    /// Skips columns up to column `pos` (at most the column count), from
    /// column `next <= pos`.
    fn seek(&mut self, pos: usize) -> Result<(), Corrupt> {
        while self.next < pos {
            self.skip_column()?;
        }
        Ok(())
    }

    /// Reads the column at `offset` and moves past it.
    fn read_column(&mut self) -> Result<ValueRef<'a>, Corrupt> {
        let start = self.offset;
        self.last = start;
        let tag = self.byte()?;
        let value = match tag {
            TAG_NULL => ValueRef::Null,
            TAG_INT => ValueRef::Int(unzigzag(self.varint()?)),
            TAG_FLOAT => {
                let v = f64::from_le_bytes(self.take_array()?);
                if v.is_nan() {
                    return Err(self.fault(start, Fault::Nan));
                }
                ValueRef::Float(v)
            }
            TAG_FALSE => ValueRef::Bool(false),
            TAG_TRUE => ValueRef::Bool(true),
            TAG_STRING => {
                let bytes = self.take_prefixed()?;
                let s =
                    std::str::from_utf8(bytes).map_err(|_| self.fault(start, Fault::NotUtf8))?;
                ValueRef::String(s)
            }
            TAG_JSON => ValueRef::Json(self.take_prefixed()?),
            t => {
                return Err(self.fault(start, Fault::UnknownTag(t)));
            }
        };
        self.next += 1;
        Ok(value)
    }

    /// Moves past the column at `offset` without decoding its payload.
    fn skip_column(&mut self) -> Result<(), Corrupt> {
        let start = self.offset;
        self.last = start;
        match self.byte()? {
            TAG_NULL | TAG_FALSE | TAG_TRUE => {}
            TAG_INT => {
                self.varint()?;
            }
            TAG_FLOAT => {
                self.take(8)?;
            }
            TAG_STRING | TAG_JSON => {
                self.take_prefixed()?;
            }
            t => {
                return Err(self.fault(start, Fault::UnknownTag(t)));
            }
        }
        self.next += 1;
        Ok(())
    }

    /// The next byte.
    #[inline]
    fn byte(&mut self) -> Result<u8, Corrupt> {
        let b = *self
            .bytes
            .get(self.offset)
            .ok_or_else(|| self.truncated())?;
        self.offset += 1;
        Ok(b)
    }

    /// The next `n` bytes.
    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], Corrupt> {
        let bytes = self
            .bytes
            .get(self.offset..)
            .and_then(|rest| rest.get(..n))
            .ok_or_else(|| self.truncated())?;
        self.offset += n;
        Ok(bytes)
    }

    /// The next `N` bytes as an array.
    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], Corrupt> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| self.truncated())
    }

    /// A varint length, then that many bytes.
    fn take_prefixed(&mut self) -> Result<&'a [u8], Corrupt> {
        let len = self.varint()?;
        let len = usize::try_from(len).map_err(|_| self.truncated())?;
        self.take(len)
    }

    /// The next unsigned LEB128 varint (at most 10 bytes, no overflow).
    #[inline]
    fn varint(&mut self) -> Result<u64, Corrupt> {
        let start = self.offset;
        let first = self.byte()?;
        if first < 0x80 {
            return Ok(u64::from(first));
        }
        let mut v = u64::from(first & 0x7F);
        let mut shift = 7;
        loop {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                return Err(self.fault(start, Fault::VarintOverflow));
            }
            v |= u64::from(b & 0x7F) << shift;
            if b < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    /// The fault `kind` in the column at `offset` (column `next`).
    #[cold]
    fn fault(&self, offset: usize, kind: Fault) -> Corrupt {
        Corrupt {
            offset,
            column: self.next,
            kind,
        }
    }

    /// The fault of a row that ends inside a column.
    #[cold]
    fn truncated(&self) -> Corrupt {
        self.fault(self.offset, Fault::Truncated)
    }
}

/// A corrupt row as the decoding steps report it: small and `Copy`, so
/// that the hot path returns it cheaply, and turned into an [`Error`]
/// (allocating its message) only when it leaves the reader.
#[derive(Debug, Clone, Copy)]
struct Corrupt {
    /// Where the bad column starts in the row.
    offset: usize,
    /// Which column it is.
    column: usize,
    /// What is wrong with it.
    kind: Fault,
}

/// What can be wrong with a column's bytes.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// The row ends inside the column.
    Truncated,
    /// A tag byte no version-1 row uses.
    UnknownTag(u8),
    /// A float column holding NaN, which no `Value` may.
    Nan,
    /// A string column that is not UTF-8.
    NotUtf8,
    /// A varint longer than 64 bits.
    VarintOverflow,
}

impl From<Corrupt> for Error {
    #[cold]
    fn from(c: Corrupt) -> Error {
        let what = match c.kind {
            Fault::Truncated => "ends too early".to_owned(),
            Fault::UnknownTag(t) => format!("unknown tag 0x{t:02x}"),
            Fault::Nan => "float is nan".to_owned(),
            Fault::NotUtf8 => "string is not utf-8".to_owned(),
            Fault::VarintOverflow => "varint overflows 64 bits".to_owned(),
        };
        corrupt_at(c.offset, c.column, what)
    }
}

/// A corruption error naming the column and its byte offset in the row.
#[cold]
fn corrupt_at(offset: usize, column: usize, what: impl Display) -> Error {
    Error::corrupt(format!(
        "corrupt row: column {column} at byte {offset}: {what}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::arb;
    use proptest::prelude::*;

    fn encode(values: &[Value]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_row(values, &mut out);
        out
    }

    /// Equality that also tells -0.0 from 0.0: a row must give back
    /// exactly what was stored.
    fn same(a: &[Value], b: &[Value]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| match (x, y) {
                (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
                _ => x == y,
            })
    }

    fn row() -> impl Strategy<Value = Vec<Value>> {
        prop::collection::vec(arb::value(), 0..12)
    }

    /// A stream of values varints must carry: edges of every byte length.
    fn varint_value() -> impl Strategy<Value = u64> {
        prop_oneof![
            any::<u64>(),
            (0u32..64).prop_map(|s| 1u64 << s),
            (0u32..64).prop_map(|s| (1u64 << s) - 1),
            Just(u64::MAX),
        ]
    }

    proptest! {
        #[test]
        fn rows_round_trip(values in row(), extra in 0usize..3) {
            let bytes = encode(&values);
            prop_assert_eq!(bytes.len(), encoded_len_hint(&values) + json_text_len(&values));
            let back = decode_row(&bytes, values.len()).unwrap();
            prop_assert!(same(&back, &values), "{:?} != {:?}", back, values);
            // A short row reads its missing trailing columns as null.
            let wider = decode_row(&bytes, values.len() + extra).unwrap();
            prop_assert!(same(&wider[..values.len()], &values));
            prop_assert!(wider[values.len()..].iter().all(Value::is_null));
        }

        #[test]
        fn encode_appends(prefix in prop::collection::vec(any::<u8>(), 0..8), values in row()) {
            let mut out = prefix.clone();
            encode_row(&values, &mut out);
            prop_assert!(out.starts_with(&prefix));
            prop_assert_eq!(&out[prefix.len()..], &encode(&values)[..]);
        }

        #[test]
        fn decode_columns_agrees_with_decode_row(
            values in row(),
            extra in 0usize..3,
            picks in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
        ) {
            let ncols = values.len() + extra;
            let bytes = encode(&values);
            let all = decode_row(&bytes, ncols).unwrap();
            if ncols > 0 {
                let mut positions: Vec<usize> = picks.iter().map(|i| i.index(ncols)).collect();
                positions.sort_unstable();
                positions.dedup();
                let mut out = vec![Value::Bool(false); positions.len()];
                decode_columns(&bytes, &positions, &mut out).unwrap();
                for (got, &pos) in out.iter().zip(&positions) {
                    prop_assert!(same(std::slice::from_ref(got), &all[pos..=pos]));
                }
                // Any order, repeats included, still reads the right columns.
                let shuffled: Vec<usize> = picks.iter().map(|i| i.index(ncols)).collect();
                let mut reader = RowReader::new(&bytes).unwrap();
                for &pos in &shuffled {
                    let got = reader.value(pos).unwrap();
                    prop_assert!(same(&[got], &all[pos..=pos]));
                }
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            raw in prop::collection::vec(any::<u8>(), 0..64),
            ncols in 0usize..8,
            positions in prop::collection::vec(0usize..10, 0..6),
        ) {
            let _ = decode_row(&raw, ncols);
            let mut out = vec![Value::Null; positions.len()];
            let _ = decode_columns(&raw, &positions, &mut out);
            reader_is_consistent(&raw, &positions)?;
        }

        #[test]
        fn mutated_rows_never_panic_or_lie(
            values in row(),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            positions in prop::collection::vec(0usize..14, 0..6),
        ) {
            // Small changes to a valid row: decoding may fail or give other
            // values, but must stay within the rules (no NaN, no panic).
            let mut bytes = encode(&values);
            for (at, byte) in flips {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if let Ok(back) = decode_row(&bytes, values.len() + 1) {
                prop_assert!(!back.iter().any(|v| matches!(v, Value::Float(x) if x.is_nan())));
            }
            reader_is_consistent(&bytes, &positions)?;
        }

        #[test]
        fn every_truncation_is_an_error(values in row()) {
            let bytes = encode(&values);
            for len in 0..bytes.len() {
                prop_assert!(decode_row(&bytes[..len], values.len()).is_err(), "len {}", len);
            }
        }

        #[test]
        fn varints_round_trip(v in varint_value()) {
            let mut out = Vec::new();
            put_varint(v, &mut out);
            prop_assert_eq!(out.len(), varint_len(v));
            let mut buf = [0u8; MAX_VARINT_LEN];
            let n = write_varint(v, &mut buf);
            prop_assert_eq!(&buf[..n], &out[..]);
            let mut reader = RowReader { bytes: &out, first: 0, count: 0, next: 0, offset: 0, last: 0 };
            prop_assert_eq!(reader.varint().unwrap(), v);
            prop_assert_eq!(reader.offset, out.len());
        }

        #[test]
        fn zigzag_round_trips(v in any::<i64>()) {
            prop_assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    /// A reader used through errors, backwards reads and `expect_end`
    /// gives for each position what a fresh reader gives: no failed read
    /// leaves it reading from the wrong place.
    fn reader_is_consistent(raw: &[u8], positions: &[usize]) -> Result<(), TestCaseError> {
        let Ok(mut reader) = RowReader::new(raw) else {
            return Ok(());
        };
        for &pos in positions {
            let fresh = RowReader::new(raw).unwrap().get(pos).ok();
            prop_assert_eq!(reader.get(pos).ok(), fresh, "column {}", pos);
            let _ = reader.int(pos);
            let _ = reader.expect_end();
        }
        Ok(())
    }

    /// The bytes of json text in `values`, which the size hint leaves out.
    fn json_text_len(values: &[Value]) -> usize {
        values
            .iter()
            .map(|v| match v {
                Value::Json(j) => {
                    let n = j.to_string().len();
                    varint_len(n as u64) + n
                }
                _ => 0,
            })
            .sum()
    }

    #[test]
    fn layout_is_pinned() {
        // Format version 1; these bytes are on disk.
        let row = [
            Value::Int(1),
            Value::Null,
            Value::Int(-2),
            Value::Float(1.5),
            Value::Bool(false),
            Value::Bool(true),
            Value::String("hé".into()),
            Value::Json(serde_json::json!({"b": [1], "a": null})),
            Value::Int(300),
        ];
        let json = br#"{"a":null,"b":[1]}"#;
        let mut expected = vec![9, 0x01, 2, 0x00, 0x01, 3, 0x02];
        expected.extend_from_slice(&1.5f64.to_le_bytes());
        expected.extend_from_slice(&[
            0x03,
            0x04,
            0x05,
            3,
            b'h',
            0xC3,
            0xA9,
            0x06,
            json.len() as u8,
        ]);
        expected.extend_from_slice(json);
        expected.extend_from_slice(&[0x01, 0xD8, 0x04]);
        assert_eq!(encode(&row), expected);
        assert!(same(&decode_row(&expected, 9).unwrap(), &row));
        assert_eq!(encode(&[]), [0]);
    }

    /// serde_json prints floats exactly but, without its `float_roundtrip`
    /// feature, parses them best-effort: this one comes back one ulp off.
    #[test]
    fn json_floats_round_trip_exactly() {
        // 7.29681846740095e-57, which parses back as 7.296818467400949e-57.
        let j = serde_json::json!([f64::from_bits(3_766_951_870_000_038_199)]);
        let bytes = encode(&[Value::Json(j.clone())]);
        assert_eq!(decode_row(&bytes, 1).unwrap(), [Value::Json(j)]);
    }

    #[test]
    fn int_fast_path() {
        let bytes = encode(&[Value::Int(7), Value::Null, Value::String("x".into())]);
        let mut reader = RowReader::new(&bytes).unwrap();
        assert_eq!(reader.int(0).unwrap(), Some(7));
        assert_eq!(reader.int(1).unwrap(), None);
        assert_eq!(reader.int(5).unwrap(), None, "past a short row");
        assert_eq!(
            reader.int(2).unwrap_err().code(),
            crate::ErrorCode::Corruption
        );
        assert_eq!(reader.get(2).unwrap(), ValueRef::String("x"));
    }

    #[test]
    fn corrupt_rows_are_named_errors() {
        let cases: &[(&[u8], usize, &str)] = &[
            (&[], 1, "ends too early"),
            (&[0x80], 1, "ends too early"),
            (&[5, 0], 5, "5 columns claimed in 1 bytes"),
            (&[2, 0, 0], 1, "2 columns stored but the table has 1"),
            (&[1, 0x07], 1, "column 0 at byte 1: unknown tag 0x07"),
            (&[1, 0x01, 0x80], 1, "ends too early"),
            (&[1, 0x02, 0, 0, 0, 0, 0, 0, 0xF8, 0x7F], 1, "float is nan"),
            (&[1, 0x05, 2, b'a'], 1, "ends too early"),
            (&[1, 0x05, 1, 0xFF], 1, "string is not utf-8"),
            (&[1, 0x06, 1, b'{'], 1, "invalid json"),
            (&[1, 0x00, 0x00], 1, "1 trailing bytes"),
            (
                &[
                    1, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02,
                ],
                1,
                "varint overflows 64 bits",
            ),
        ];
        for (bytes, ncols, message) in cases {
            let err = decode_row(bytes, *ncols).expect_err("corrupt");
            assert_eq!(err.code(), crate::ErrorCode::Corruption, "{bytes:02x?}");
            assert!(
                err.message().contains(message),
                "{bytes:02x?}: {:?} lacks {message:?}",
                err.message()
            );
        }
    }
}
