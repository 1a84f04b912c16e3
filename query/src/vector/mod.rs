//! Column chunks: what the vectorised operators exchange instead of rows
//! of owned [`Value`]s.
//!
//! A [`Chunk`] holds up to [`VECTOR_SIZE`] rows as one [`Vector`] per
//! column, plus an optional selection: the positions of the rows still in
//! play. A filter narrows the selection without moving any data; the
//! columns of a chunk are shared (`Arc`), so projecting a column or passing
//! it through an operator copies nothing.
//!
//! A vector is typed when its column is ([`Data::Int`], [`Data::Float`],
//! [`Data::Bool`], text as offsets + bytes for strings and json) with a
//! validity bitmap for nulls, and falls back to [`Data::Any`] (owned
//! values) when a column mixes types (a json path, an expression whose
//! type is not known before it runs). Positions outside the selection hold
//! unspecified values; kernels never read them.

mod bitmap;
mod builder;
mod text;

use std::sync::Arc;

pub(crate) use bitmap::Bitmap;
pub(crate) use builder::VectorBuilder;
pub(crate) use text::TextVec;

use crate::error::{Error, Result};
use crate::value::Value;

/// Rows per chunk: a vector of ints fills 16 KiB, so the columns a
/// pipeline touches stay in the cache from one operator to the next.
pub(crate) const VECTOR_SIZE: usize = 2048;

/// The values of one vector, by type.
#[derive(Debug, Clone)]
pub(crate) enum Data {
    /// `int` values (0 where null).
    Int(Vec<i64>),
    /// `float` values (0.0 where null; never NaN).
    Float(Vec<f64>),
    /// `bool` values (false where null).
    Bool(Vec<bool>),
    /// `string` values, UTF-8 checked when the vector was built.
    Str(TextVec),
    /// `json` values as compact JSON text, parsed only where a path or the
    /// output needs them.
    Json(TextVec),
    /// Anything, owned: the general fallback. Nulls are [`Value::Null`].
    Any(Vec<Value>),
}

impl Data {
    /// Number of positions.
    pub(crate) fn len(&self) -> usize {
        match self {
            Data::Int(v) => v.len(),
            Data::Float(v) => v.len(),
            Data::Bool(v) => v.len(),
            Data::Str(v) | Data::Json(v) => v.len(),
            Data::Any(v) => v.len(),
        }
    }
}

/// One column of a chunk: typed values and which of them are null.
#[derive(Debug, Clone)]
pub(crate) struct Vector {
    data: Data,
    /// Bit set = a value, clear = null; `None` when nothing is null.
    validity: Option<Bitmap>,
}

impl Vector {
    /// A vector of `data` with no nulls, or with the nulls `validity`
    /// marks (cleared bits). The lengths must match.
    pub(crate) fn new(data: Data, validity: Option<Bitmap>) -> Vector {
        debug_assert!(validity.as_ref().is_none_or(|v| v.len() == data.len()));
        Vector { data, validity }
    }

    /// A vector of `len` nulls.
    pub(crate) fn nulls(len: usize) -> Vector {
        Vector {
            data: Data::Any(vec![Value::Null; len]),
            validity: None,
        }
    }

    /// A vector holding `value` at each of `len` positions.
    pub(crate) fn repeat(value: &Value, len: usize) -> Vector {
        let mut b = VectorBuilder::with_capacity(len);
        for _ in 0..len {
            b.push(value);
        }
        b.finish()
    }

    #[cfg(test)]
    /// Owned values, typed by what they hold.
    pub(crate) fn from_values(values: &[Value]) -> Vector {
        let mut b = VectorBuilder::with_capacity(values.len());
        for v in values {
            b.push(v);
        }
        b.finish()
    }

    /// The typed values.
    pub(crate) fn data(&self) -> &Data {
        &self.data
    }

    /// The validity bitmap; `None` when no position is null (for
    /// [`Data::Any`], nulls are in the values instead).
    pub(crate) fn validity(&self) -> Option<&Bitmap> {
        self.validity.as_ref()
    }

    /// Number of positions.
    pub(crate) fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether position `i` is null.
    #[inline]
    pub(crate) fn is_null(&self, i: usize) -> bool {
        if let Some(v) = &self.validity
            && !v.get(i)
        {
            return true;
        }
        matches!(&self.data, Data::Any(v) if v[i].is_null())
    }

    /// The value at position `i`, owned. Json text is parsed; text that
    /// does not parse (never written by fasty) is corruption.
    pub(crate) fn value(&self, i: usize) -> Result<Value> {
        if self.is_null(i) {
            return Ok(Value::Null);
        }
        Ok(match &self.data {
            Data::Int(v) => Value::Int(v[i]),
            Data::Float(v) => Value::Float(v[i]),
            Data::Bool(v) => Value::Bool(v[i]),
            Data::Str(v) => Value::String(v.str(i).to_owned()),
            Data::Json(v) => Value::Json(
                serde_json::from_slice(v.bytes(i))
                    .map_err(|e| Error::corrupt(format!("corrupt json value: {e}")))?,
            ),
            Data::Any(v) => v[i].clone(),
        })
    }

    /// Appends the value at each of `positions` to the matching row of
    /// `rows` (as many rows as positions).
    fn append_to(&self, positions: Positions<'_>, rows: &mut [Vec<Value>]) -> Result<()> {
        let valid = |p: usize| self.validity.as_ref().is_none_or(|v| v.get(p));
        let pairs = positions.zip(rows.iter_mut());
        match &self.data {
            Data::Int(v) => pairs.for_each(|(p, r)| {
                r.push(if valid(p) {
                    Value::Int(v[p])
                } else {
                    Value::Null
                })
            }),
            Data::Float(v) => pairs.for_each(|(p, r)| {
                r.push(if valid(p) {
                    Value::Float(v[p])
                } else {
                    Value::Null
                })
            }),
            Data::Bool(v) => pairs.for_each(|(p, r)| {
                r.push(if valid(p) {
                    Value::Bool(v[p])
                } else {
                    Value::Null
                })
            }),
            Data::Str(v) => {
                // Every value is UTF-8, so all of them together are: one
                // check of the whole buffer instead of one per value.
                let (ends, bytes) = v.parts();
                let all = std::str::from_utf8(bytes).ok();
                for (p, r) in pairs {
                    let one = all.and_then(|a| a.get(ends[p] as usize..ends[p + 1] as usize));
                    r.push(match (valid(p), one) {
                        (false, _) => Value::Null,
                        (true, Some(s)) => Value::String(s.to_owned()),
                        (true, None) => Value::String(v.str(p).to_owned()),
                    });
                }
            }
            Data::Json(_) => {
                for (p, r) in pairs {
                    r.push(self.value(p)?);
                }
            }
            Data::Any(v) => pairs.for_each(|(p, r)| r.push(v[p].clone())),
        }
        Ok(())
    }

    /// Heap bytes this vector holds: what it counts against a statement's
    /// memory limit.
    pub(crate) fn heap_bytes(&self) -> usize {
        let data = match &self.data {
            Data::Int(v) => v.len() * 8,
            Data::Float(v) => v.len() * 8,
            Data::Bool(v) => v.len(),
            Data::Str(v) | Data::Json(v) => v.heap_bytes(),
            Data::Any(v) => v.iter().map(crate::limits::value_heap).sum::<usize>() + v.len() * 32,
        };
        data + self.validity.as_ref().map_or(0, Bitmap::heap_bytes)
    }
}

/// The positions of a chunk's rows that are in play, ascending.
pub(crate) type Selection = Arc<[u32]>;

/// A batch of up to [`VECTOR_SIZE`] rows, by column.
#[derive(Debug, Clone, Default)]
pub(crate) struct Chunk {
    /// One vector per column, each `len` positions long.
    pub columns: Vec<Arc<Vector>>,
    /// Positions in each vector.
    pub len: usize,
    /// The rows in play; `None` means all `len` of them.
    pub sel: Option<Selection>,
}

impl Chunk {
    /// A chunk of these columns, all rows in play.
    pub(crate) fn new(columns: Vec<Arc<Vector>>, len: usize) -> Chunk {
        debug_assert!(columns.iter().all(|c| c.len() == len));
        Chunk {
            columns,
            len,
            sel: None,
        }
    }

    /// A chunk of `len` rows without columns (what `count(*)` over a
    /// table needs from its scan).
    pub(crate) fn empty_rows(len: usize) -> Chunk {
        Chunk {
            columns: Vec::new(),
            len,
            sel: None,
        }
    }

    /// The number of rows in play.
    pub(crate) fn count(&self) -> usize {
        self.sel.as_ref().map_or(self.len, |s| s.len())
    }

    /// Whether no row is in play.
    pub(crate) fn is_empty(&self) -> bool {
        self.count() == 0
    }

    /// The positions of the rows in play, in order.
    pub(crate) fn positions(&self) -> Positions<'_> {
        match &self.sel {
            Some(s) => Positions::Selected(s.iter()),
            None => Positions::All(0..self.len),
        }
    }

    /// The position of the `n`th row in play.
    #[inline]
    pub(crate) fn position(&self, n: usize) -> usize {
        match &self.sel {
            Some(s) => s[n] as usize,
            None => n,
        }
    }

    /// The same columns with only `sel` (positions into the vectors,
    /// ascending) in play.
    pub(crate) fn with_selection(&self, sel: Selection) -> Chunk {
        Chunk {
            columns: self.columns.clone(),
            len: self.len,
            sel: Some(sel),
        }
    }

    /// Row `pos` (a position, not an index into the selection) as owned
    /// values.
    pub(crate) fn row(&self, pos: usize) -> Result<Vec<Value>> {
        self.columns.iter().map(|c| c.value(pos)).collect()
    }

    /// The rows in play as owned values, in order: how results leave the
    /// engine.
    pub(crate) fn to_rows(&self) -> Result<Vec<Vec<Value>>> {
        let width = self.columns.len();
        let mut rows: Vec<Vec<Value>> = (0..self.count())
            .map(|_| Vec::with_capacity(width))
            .collect();
        // Column by column: one type dispatch per column, not per value.
        for c in &self.columns {
            c.append_to(self.positions(), &mut rows)?;
        }
        Ok(rows)
    }

    /// A dense copy of the rows in play (no selection), for operators that
    /// keep rows (sort, hash join build).
    pub(crate) fn compact(&self) -> Result<Chunk> {
        let Some(sel) = &self.sel else {
            return Ok(self.clone());
        };
        let columns = self
            .columns
            .iter()
            .map(|c| Ok(Arc::new(gather(c, sel)?)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Chunk::new(columns, sel.len()))
    }

    /// Heap bytes of the columns.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.columns.iter().map(|c| c.heap_bytes()).sum::<usize>()
            + self.sel.as_ref().map_or(0, |s| s.len() * 4)
    }
}

/// The values of `v` at `positions`, as a new dense vector.
pub(crate) fn gather(v: &Vector, positions: &[u32]) -> Result<Vector> {
    let mut b = VectorBuilder::like(v, positions.len());
    for &p in positions {
        b.push_from(v, p as usize)?;
    }
    Ok(b.finish())
}

/// Iterator over a chunk's positions in play.
pub(crate) enum Positions<'a> {
    /// Every position.
    All(std::ops::Range<usize>),
    /// The selected ones.
    Selected(std::slice::Iter<'a, u32>),
}

impl Iterator for Positions<'_> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        match self {
            Positions::All(r) => r.next(),
            Positions::Selected(s) => s.next().map(|&p| p as usize),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self {
            Positions::All(r) => r.size_hint(),
            Positions::Selected(s) => s.size_hint(),
        }
    }
}

impl ExactSizeIterator for Positions<'_> {}

#[cfg(test)]
mod tests;
