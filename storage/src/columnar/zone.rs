//! Zone maps: per column, the count of nulls and the range of the non-null
//! values of a vector or a block, so a scan can skip what cannot match.

use std::borrow::Cow;

use super::{Field, Malformed, Reader};

/// The range of a column's non-null values in a vector or block.
#[derive(Debug, Clone, PartialEq)]
pub enum Zone<'a> {
    /// No non-null value.
    Empty,
    /// Every non-null value is an int in `min..=max`.
    Int {
        /// Smallest value.
        min: i64,
        /// Largest value.
        max: i64,
    },
    /// Every non-null value is a float in `min..=max`; `nan` when some
    /// value is NaN (not within the range).
    Float {
        /// Smallest non-NaN value.
        min: f64,
        /// Largest non-NaN value.
        max: f64,
        /// Whether some value is NaN.
        nan: bool,
    },
    /// Every non-null value is a bool.
    Bool {
        /// Some value is false.
        has_false: bool,
        /// Some value is true.
        has_true: bool,
    },
    /// Every non-null value is text (`text`) or a blob, bytewise in
    /// `min..=max`.
    Bytes {
        /// Whether the values are text (else blobs).
        text: bool,
        /// Smallest value.
        min: Cow<'a, [u8]>,
        /// Largest value.
        max: Cow<'a, [u8]>,
    },
    /// Nothing known (values of several kinds, or text too long to keep):
    /// any value may occur.
    Unknown,
}

/// Text and blob values longer than this leave a zone [`Zone::Unknown`],
/// keeping zone maps (which the index holds in memory) small.
pub(crate) const MAX_ZONE_BYTES: usize = 64;

/// A column's zone map: its nulls and its values' range.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnZone<'a> {
    /// Rows that are null or lack the field.
    pub nulls: u32,
    /// Rows covered.
    pub rows: u32,
    /// The range of the other rows' values.
    pub range: Zone<'a>,
}

impl<'a> ColumnZone<'a> {
    /// A zone that knows nothing.
    pub(crate) fn unknown() -> ColumnZone<'a> {
        ColumnZone {
            nulls: 0,
            rows: 0,
            range: Zone::Unknown,
        }
    }

    /// Whether every covered row is null.
    pub fn all_null(&self) -> bool {
        self.nulls == self.rows && matches!(self.range, Zone::Empty)
    }

    /// The zone of the rows of both.
    pub fn merge(&self, other: &ColumnZone<'_>) -> ColumnZone<'a> {
        use Zone::*;
        let range = match (&self.range, &other.range) {
            (Empty, z) => z.clone().into_owned(),
            (z, Empty) => z.clone().into_owned(),
            (Int { min: a, max: b }, Int { min: c, max: d }) => Int {
                min: *a.min(c),
                max: *b.max(d),
            },
            (
                Float {
                    min: a,
                    max: b,
                    nan: x,
                },
                Float {
                    min: c,
                    max: d,
                    nan: y,
                },
            ) => Float {
                min: a.min(*c),
                max: b.max(*d),
                nan: *x || *y,
            },
            (
                Bool {
                    has_false: a,
                    has_true: b,
                },
                Bool {
                    has_false: c,
                    has_true: d,
                },
            ) => Bool {
                has_false: *a || *c,
                has_true: *b || *d,
            },
            (
                Bytes {
                    text: t1,
                    min: a,
                    max: b,
                },
                Bytes {
                    text: t2,
                    min: c,
                    max: d,
                },
            ) if t1 == t2 => Bytes {
                text: *t1,
                min: Cow::Owned(a.as_ref().min(c.as_ref()).to_vec()),
                max: Cow::Owned(b.as_ref().max(d.as_ref()).to_vec()),
            },
            _ => Unknown,
        };
        ColumnZone {
            nulls: self.nulls + other.nulls,
            rows: self.rows + other.rows,
            range,
        }
    }

    /// The same zone, owning its bytes.
    pub fn into_owned(self) -> ColumnZone<'static> {
        ColumnZone {
            nulls: self.nulls,
            rows: self.rows,
            range: self.range.into_owned(),
        }
    }
}

impl Zone<'_> {
    /// The same zone, owning its bytes.
    pub fn into_owned(self) -> Zone<'static> {
        match self {
            Zone::Bytes { text, min, max } => Zone::Bytes {
                text,
                min: Cow::Owned(min.into_owned()),
                max: Cow::Owned(max.into_owned()),
            },
            Zone::Empty => Zone::Empty,
            Zone::Int { min, max } => Zone::Int { min, max },
            Zone::Float { min, max, nan } => Zone::Float { min, max, nan },
            Zone::Bool {
                has_false,
                has_true,
            } => Zone::Bool {
                has_false,
                has_true,
            },
            Zone::Unknown => Zone::Unknown,
        }
    }

    /// Whether `f` (not null) lies within the zone: false means no value
    /// the zone covers equals `f`. The test a block filter's equality
    /// check uses, and what the zone-map property test checks.
    pub fn may_contain(&self, f: &Field<'_>) -> bool {
        match (self, f) {
            (Zone::Unknown, _) => true,
            (_, Field::Null) => true,
            (Zone::Int { min, max }, Field::Int(v)) => min <= v && v <= max,
            (Zone::Float { min, max, nan }, Field::Float(v)) => {
                if v.is_nan() {
                    *nan
                } else {
                    *min <= *v && *v <= *max
                }
            }
            (
                Zone::Bool {
                    has_false,
                    has_true,
                },
                Field::Bool(b),
            ) => {
                if *b {
                    *has_true
                } else {
                    *has_false
                }
            }
            (Zone::Bytes { text, min, max }, Field::Text(b)) => {
                *text && min.as_ref() <= *b && *b <= max.as_ref()
            }
            (Zone::Bytes { text, min, max }, Field::Blob(b)) => {
                !*text && min.as_ref() <= *b && *b <= max.as_ref()
            }
            _ => false,
        }
    }
}

/// Zone tags on disk.
const Z_EMPTY: u8 = 0;
const Z_INT: u8 = 1;
const Z_FLOAT: u8 = 2;
const Z_BOOL: u8 = 3;
const Z_TEXT: u8 = 4;
const Z_BLOB: u8 = 5;
const Z_UNKNOWN: u8 = 6;

/// Builds the zone of some fields.
#[derive(Debug, Default)]
pub(crate) struct ZoneBuilder<'a> {
    nulls: u32,
    rows: u32,
    range: Option<Zone<'a>>,
}

impl<'a> ZoneBuilder<'a> {
    pub(crate) fn add(&mut self, f: &Field<'a>) {
        self.rows += 1;
        let z = match *f {
            Field::Null => {
                self.nulls += 1;
                return;
            }
            Field::Int(v) => Zone::Int { min: v, max: v },
            Field::Float(v) if v.is_nan() => Zone::Float {
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
                nan: true,
            },
            Field::Float(v) => Zone::Float {
                min: v,
                max: v,
                nan: false,
            },
            Field::Bool(b) => Zone::Bool {
                has_false: !b,
                has_true: b,
            },
            Field::Text(b) | Field::Blob(b) if b.len() > MAX_ZONE_BYTES => Zone::Unknown,
            Field::Text(b) => Zone::Bytes {
                text: true,
                min: Cow::Borrowed(b),
                max: Cow::Borrowed(b),
            },
            Field::Blob(b) => Zone::Bytes {
                text: false,
                min: Cow::Borrowed(b),
                max: Cow::Borrowed(b),
            },
        };
        self.range = Some(match self.range.take() {
            None => z,
            Some(Zone::Unknown) => Zone::Unknown,
            Some(acc) => merge_borrowed(acc, z),
        });
    }

    pub(crate) fn finish(self) -> ColumnZone<'a> {
        ColumnZone {
            nulls: self.nulls,
            rows: self.rows,
            range: self.range.unwrap_or(Zone::Empty),
        }
    }
}

/// Merges without copying when both sides borrow from the same data.
fn merge_borrowed<'a>(acc: Zone<'a>, z: Zone<'a>) -> Zone<'a> {
    match (acc, z) {
        (
            Zone::Bytes {
                text: t1,
                min: a,
                max: b,
            },
            Zone::Bytes {
                text: t2,
                min: c,
                max: d,
            },
        ) if t1 == t2 => Zone::Bytes {
            text: t1,
            min: if c < a { c } else { a },
            max: if d > b { d } else { b },
        },
        (acc, z) => {
            let m = ColumnZone {
                nulls: 0,
                rows: 0,
                range: acc,
            }
            .merge(&ColumnZone {
                nulls: 0,
                rows: 0,
                range: z,
            });
            m.range
        }
    }
}

/// Appends a zone's encoding.
pub(crate) fn write(z: &ColumnZone<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(&z.nulls.to_le_bytes());
    out.extend_from_slice(&z.rows.to_le_bytes());
    match &z.range {
        Zone::Empty => out.push(Z_EMPTY),
        Zone::Int { min, max } => {
            out.push(Z_INT);
            out.extend_from_slice(&min.to_le_bytes());
            out.extend_from_slice(&max.to_le_bytes());
        }
        Zone::Float { min, max, nan } => {
            out.push(Z_FLOAT);
            out.extend_from_slice(&min.to_bits().to_le_bytes());
            out.extend_from_slice(&max.to_bits().to_le_bytes());
            out.push(u8::from(*nan));
        }
        Zone::Bool {
            has_false,
            has_true,
        } => {
            out.push(Z_BOOL);
            out.push(u8::from(*has_false) | (u8::from(*has_true) << 1));
        }
        Zone::Bytes { text, min, max } => {
            out.push(if *text { Z_TEXT } else { Z_BLOB });
            for b in [min, max] {
                out.push(b.len() as u8);
                out.extend_from_slice(b);
            }
        }
        Zone::Unknown => out.push(Z_UNKNOWN),
    }
}

/// Reads a zone written by [`write`].
pub(crate) fn read<'a>(r: &mut Reader<'a>) -> Result<ColumnZone<'a>, Malformed> {
    let nulls = r.u32()?;
    let rows = r.u32()?;
    if nulls > rows {
        return Err(Malformed("zone map counts more nulls than rows"));
    }
    let range = match r.u8()? {
        Z_EMPTY => Zone::Empty,
        Z_INT => Zone::Int {
            min: r.u64()? as i64,
            max: r.u64()? as i64,
        },
        Z_FLOAT => Zone::Float {
            min: f64::from_bits(r.u64()?),
            max: f64::from_bits(r.u64()?),
            nan: r.u8()? != 0,
        },
        Z_BOOL => {
            let b = r.u8()?;
            Zone::Bool {
                has_false: b & 1 != 0,
                has_true: b & 2 != 0,
            }
        }
        t @ (Z_TEXT | Z_BLOB) => {
            let n = usize::from(r.u8()?);
            let min = r.take(n)?;
            let n = usize::from(r.u8()?);
            let max = r.take(n)?;
            Zone::Bytes {
                text: t == Z_TEXT,
                min: Cow::Borrowed(min),
                max: Cow::Borrowed(max),
            }
        }
        Z_UNKNOWN => Zone::Unknown,
        _ => return Err(Malformed("unknown zone map tag")),
    };
    Ok(ColumnZone { nulls, rows, range })
}

/// Skips a zone written by [`write`].
pub(crate) fn skip(r: &mut Reader<'_>) -> Result<(), Malformed> {
    read(r).map(|_| ())
}

/// The block-level zone maps of every column of a block: what a
/// [`crate::BlockFilter`] decides on, from the table's index (without
/// reading the block) or from a block in hand.
#[derive(Debug, Clone)]
pub struct Zones<'a> {
    rows: usize,
    cols: Vec<ColumnZone<'a>>,
}

impl<'a> Zones<'a> {
    pub(crate) fn new(rows: usize, cols: Vec<ColumnZone<'a>>) -> Zones<'a> {
        Zones { rows, cols }
    }

    /// Number of rows (versions) in the block, visible or not.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns described; a column past these is null in every
    /// row.
    pub fn columns(&self) -> usize {
        self.cols.len()
    }

    /// The zone of column `c`; past the last column, a zone of nulls only.
    pub fn column(&self, c: usize) -> ColumnZone<'_> {
        match self.cols.get(c) {
            Some(z) => z.clone(),
            None => ColumnZone {
                nulls: self.rows as u32,
                rows: self.rows as u32,
                range: Zone::Empty,
            },
        }
    }

    /// Reads zones written by [`Zones::write`].
    pub(crate) fn read(r: &mut Reader<'a>) -> Result<Zones<'a>, Malformed> {
        let rows = r.u32()? as usize;
        let n = r.u16()? as usize;
        let mut cols = Vec::with_capacity(n);
        for _ in 0..n {
            cols.push(read(r)?);
        }
        Ok(Zones { rows, cols })
    }

    /// Appends the zones' encoding.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.rows as u32).to_le_bytes());
        out.extend_from_slice(&(self.cols.len() as u16).to_le_bytes());
        for c in &self.cols {
            write(c, out);
        }
    }
}
