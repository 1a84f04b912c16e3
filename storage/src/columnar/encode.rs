//! Encodes the column region of a columnar block from rows of fields.

use std::collections::BTreeSet;

use super::bits::{self, width_of};
use super::zone::{self, ZoneBuilder};
use super::{
    ColumnKind, DIR_ENTRY_LEN, FLAG_SAME_COUNT, Field, HEADER_LEN, Summary, VECTOR_ROWS, enc,
};

/// The rows of one block, split: row `i`'s fields are
/// `fields[starts[i]..starts[i + 1]]` (none for a tombstone).
#[derive(Debug, Default)]
pub(crate) struct SplitRows<'v> {
    pub fields: Vec<Field<'v>>,
    pub starts: Vec<u32>,
}

impl<'v> SplitRows<'v> {
    pub(crate) fn rows(&self) -> usize {
        self.starts.len().saturating_sub(1)
    }

    fn row(&self, i: usize) -> &[Field<'v>] {
        &self.fields[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    fn field(&self, i: usize, c: usize) -> Field<'v> {
        self.row(i).get(c).copied().unwrap_or(Field::Null)
    }
}

/// Appends the column region of `rows` (with `summary`, whose row count
/// must match) to `out`, and returns the block-level zone of every column
/// (what the index keeps). Field counts must fit a `u16`.
///
/// `decimal` allows [`enc::DECIMAL`] for float columns (a block of format
/// version 3: older readers do not know that encoding).
pub(crate) fn encode_columns<'v>(
    rows: &SplitRows<'v>,
    summary: &Summary,
    out: &mut Vec<u8>,
    decimal: bool,
) -> Vec<zone::ColumnZone<'v>> {
    let n = rows.rows();
    debug_assert_eq!(n, summary.rows as usize);
    let region = out.len();
    summary.encode(out);
    let flags_at = out.len() - 17;
    let counts: Vec<u16> = (0..n).map(|i| rows.row(i).len() as u16).collect();
    let ncols = counts.iter().copied().max().unwrap_or(0) as usize;
    if counts.iter().all(|&c| c == counts[0]) {
        out[flags_at] |= FLAG_SAME_COUNT;
        out.extend_from_slice(&counts[0].to_le_bytes());
    } else {
        for c in &counts {
            out.extend_from_slice(&c.to_le_bytes());
        }
    }
    out.extend_from_slice(&(ncols as u16).to_le_bytes());
    // The directory: where each column and its values start, so a point
    // read goes straight to one row's fields.
    let dir = out.len();
    out.resize(dir + DIR_ENTRY_LEN * ncols, 0);
    let mut zones = Vec::with_capacity(ncols);
    let mut column = Vec::with_capacity(n);
    for c in 0..ncols {
        column.clear();
        column.extend((0..n).map(|i| rows.field(i, c)));
        let start = (out.len() - region) as u32;
        let (zone, header, body) = encode_column(&column, out, decimal);
        let body = (body - region) as u32;
        let e = &mut out[dir + DIR_ENTRY_LEN * c..dir + DIR_ENTRY_LEN * (c + 1)];
        e[..HEADER_LEN].copy_from_slice(&header);
        e[HEADER_LEN..HEADER_LEN + 4].copy_from_slice(&start.to_le_bytes());
        e[HEADER_LEN + 4..].copy_from_slice(&body.to_le_bytes());
        zones.push(zone);
    }
    zones
}

/// Appends one column (null bitmap, zones, values); returns its
/// block-level zone, its header (for the directory) and where its values
/// start in `out`.
fn encode_column<'v>(
    col: &[Field<'v>],
    out: &mut Vec<u8>,
    decimal: bool,
) -> (zone::ColumnZone<'v>, [u8; HEADER_LEN], usize) {
    let n = col.len();
    let mut tags = 0u8;
    let mut nulls = 0u32;
    for f in col {
        match f {
            Field::Null => nulls += 1,
            f => tags |= 1 << f.tag(),
        }
    }
    let kind = match tags {
        0 => ColumnKind::Null,
        0b10 => ColumnKind::Int,
        0b100 => ColumnKind::Float,
        0b1000 => ColumnKind::Bool,
        0b1_0000 => ColumnKind::Text,
        0b10_0000 => ColumnKind::Blob,
        _ => ColumnKind::Mixed,
    };
    if nulls > 0 {
        bits::put_bitmap(col.iter().map(|f| matches!(f, Field::Null)), n, out);
    }
    let mut block_zone = ZoneBuilder::default().finish();
    for (v, chunk) in col.chunks(VECTOR_ROWS).enumerate() {
        let mut z = ZoneBuilder::default();
        for f in chunk {
            z.add(f);
        }
        let z = z.finish();
        zone::write(&z, out);
        block_zone = if v == 0 { z } else { block_zone.merge(&z) };
    }
    let body = out.len();
    let (mut base, mut width, mut dict_len) = (0i64, 0u8, 0u32);
    let encoding = match kind {
        ColumnKind::Null => enc::NONE,
        ColumnKind::Int => {
            let ints = || {
                col.iter().map(|f| match f {
                    Field::Int(v) => Some(*v),
                    _ => None,
                })
            };
            let min = ints().flatten().min().unwrap_or(0);
            let max = ints().flatten().max().unwrap_or(0);
            width = width_of(max.wrapping_sub(min) as u64);
            base = min;
            bits::pack(
                ints().map(|v| v.map_or(0, |v| v.wrapping_sub(min) as u64)),
                n,
                width,
                out,
            );
            enc::FOR
        }
        ColumnKind::Float => {
            let floats = || {
                col.iter().map(|f| match f {
                    Field::Float(v) => Some(*v),
                    _ => None,
                })
            };
            match decimal.then(|| decimal_scale(floats().flatten())).flatten() {
                Some((exp, min, max)) => {
                    width = width_of(max.wrapping_sub(min) as u64);
                    base = min;
                    dict_len = u32::from(exp);
                    bits::pack(
                        floats().map(|v| v.map_or(0, |v| scaled(v, exp).wrapping_sub(min) as u64)),
                        n,
                        width,
                        out,
                    );
                    enc::DECIMAL
                }
                None => {
                    for v in floats() {
                        out.extend_from_slice(&v.unwrap_or(0.0).to_bits().to_le_bytes());
                    }
                    enc::PLAIN
                }
            }
        }
        ColumnKind::Bool => {
            bits::put_bitmap(col.iter().map(|f| matches!(f, Field::Bool(true))), n, out);
            enc::BITMAP
        }
        ColumnKind::Text | ColumnKind::Blob => {
            let (e, w, d) = encode_bytes(col, out);
            (width, dict_len) = (w, d);
            e
        }
        ColumnKind::Mixed => {
            out.extend(col.iter().map(Field::tag));
            for f in col {
                let w = match *f {
                    Field::Int(v) => v as u64,
                    Field::Float(v) => v.to_bits(),
                    Field::Bool(b) => u64::from(b),
                    _ => 0,
                };
                out.extend_from_slice(&w.to_le_bytes());
            }
            put_strings(col.iter().map(bytes_of), out);
            enc::PLAIN
        }
    };
    let mut h = [0u8; HEADER_LEN];
    h[0] = kind as u8;
    h[1] = encoding;
    h[2..6].copy_from_slice(&nulls.to_le_bytes());
    h[6..14].copy_from_slice(&base.to_le_bytes());
    h[14] = width;
    h[15..19].copy_from_slice(&dict_len.to_le_bytes());
    (block_zone, h, body)
}

/// The largest decimal exponent [`decimal_scale`] tries.
const MAX_DECIMAL_EXP: u8 = 9;

/// `v` × 10^`exp`, rounded to an integer (saturating).
fn scaled(v: f64, exp: u8) -> i64 {
    (v * super::POW10[usize::from(exp)]).round() as i64
}

/// The smallest exponent `e` (at most [`MAX_DECIMAL_EXP`]) at which every
/// value is `i / 10^e` for an integer `i` of magnitude below 2^53 — the
/// exact bits back, as [`super::decimal_value`] computes them — with the
/// smallest and largest such `i`; `None` when there is none (NaN,
/// infinities, -0.0, too many digits) or the integers span 64 bits.
fn decimal_scale(values: impl Iterator<Item = f64> + Clone) -> Option<(u8, i64, i64)> {
    const LIMIT: f64 = (1u64 << 53) as f64;
    'exp: for exp in 0..=MAX_DECIMAL_EXP {
        let (mut min, mut max) = (i64::MAX, i64::MIN);
        for v in values.clone() {
            let s = v * super::POW10[usize::from(exp)];
            // NaN fails this test too.
            if s.abs().partial_cmp(&LIMIT) != Some(std::cmp::Ordering::Less) {
                continue 'exp;
            }
            let i = s.round() as i64;
            if super::decimal_value(i, exp).to_bits() != v.to_bits() {
                continue 'exp;
            }
            min = min.min(i);
            max = max.max(i);
        }
        if min > max {
            return None;
        }
        return (width_of(max.wrapping_sub(min) as u64) < 64).then_some((exp, min, max));
    }
    None
}

fn bytes_of<'v>(f: &Field<'v>) -> &'v [u8] {
    match *f {
        Field::Text(b) | Field::Blob(b) => b,
        _ => &[],
    }
}

/// Appends `(count + 1)` u32 offsets and the strings' bytes.
fn put_strings<'v>(strings: impl Iterator<Item = &'v [u8]> + Clone, out: &mut Vec<u8>) {
    let mut end = 0u32;
    out.extend_from_slice(&0u32.to_le_bytes());
    for s in strings.clone() {
        end += s.len() as u32;
        out.extend_from_slice(&end.to_le_bytes());
    }
    for s in strings {
        out.extend_from_slice(s);
    }
}

/// Text or blob: a dictionary when at most half the rows are distinct,
/// plain otherwise. Returns (encoding, code width, dictionary size).
fn encode_bytes(col: &[Field<'_>], out: &mut Vec<u8>) -> (u8, u8, u32) {
    let n = col.len();
    let mut distinct: BTreeSet<&[u8]> = BTreeSet::new();
    let mut dict_ok = true;
    for f in col {
        if let Field::Text(b) | Field::Blob(b) = f {
            distinct.insert(b);
            if distinct.len() > n / 2 {
                dict_ok = false;
                break;
            }
        }
    }
    if !dict_ok || distinct.is_empty() {
        put_strings(col.iter().map(bytes_of), out);
        return (enc::PLAIN, 0, 0);
    }
    let dict: Vec<&[u8]> = distinct.into_iter().collect();
    let width = width_of((dict.len() - 1) as u64);
    put_strings(dict.iter().copied(), out);
    let code = |f: &Field<'_>| match f {
        Field::Text(b) | Field::Blob(b) => dict.binary_search(b).unwrap_or(0) as u64,
        _ => 0,
    };
    bits::pack(col.iter().map(code), n, width, out);
    (enc::DICT, width, dict.len() as u32)
}
