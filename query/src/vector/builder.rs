//! Building a vector one value at a time: typed while the values agree,
//! [`Data::Any`] from the first one that does not.

use super::{Bitmap, Data, TextVec, Vector};
use crate::ast::ColumnType;
use crate::error::Result;
use crate::row::ValueRef;
use crate::value::Value;

/// Grows a [`Vector`]. Starts with the type it is given (or the type of
/// the first non-null value) and falls back to owned values when a value
/// of another type arrives, so any sequence of values can be pushed.
#[derive(Debug)]
pub(crate) struct VectorBuilder {
    data: Option<Data>,
    validity: Bitmap,
    /// Whether any null was pushed.
    nulls: bool,
    cap: usize,
}

impl VectorBuilder {
    /// An untyped builder: the first non-null value sets the type.
    pub(crate) fn with_capacity(cap: usize) -> VectorBuilder {
        VectorBuilder {
            data: None,
            validity: Bitmap::with_capacity(cap),
            nulls: false,
            cap,
        }
    }

    /// A builder for a column declared `ty`.
    pub(crate) fn typed(ty: ColumnType, cap: usize) -> VectorBuilder {
        let mut b = VectorBuilder::with_capacity(cap);
        b.data = Some(empty(ty, cap));
        b
    }

    /// A builder of the same type as `v`.
    pub(crate) fn like(v: &Vector, cap: usize) -> VectorBuilder {
        let mut b = VectorBuilder::with_capacity(cap);
        b.data = Some(match v.data() {
            Data::Int(_) => Data::Int(Vec::with_capacity(cap)),
            Data::Float(_) => Data::Float(Vec::with_capacity(cap)),
            Data::Bool(_) => Data::Bool(Vec::with_capacity(cap)),
            Data::Str(_) => Data::Str(TextVec::with_capacity(cap)),
            Data::Json(_) => Data::Json(TextVec::with_capacity(cap)),
            Data::Any(_) => Data::Any(Vec::with_capacity(cap)),
        });
        b
    }

    /// Appends a null.
    #[inline]
    pub(crate) fn push_null(&mut self) {
        self.nulls = true;
        self.validity.push(false);
        match &mut self.data {
            None => {}
            Some(Data::Int(v)) => v.push(0),
            Some(Data::Float(v)) => v.push(0.0),
            Some(Data::Bool(v)) => v.push(false),
            Some(Data::Str(v) | Data::Json(v)) => v.push(b""),
            Some(Data::Any(v)) => v.push(Value::Null),
        }
    }

    /// Appends an owned value.
    pub(crate) fn push(&mut self, value: &Value) {
        match value {
            Value::Null => self.push_null(),
            Value::Int(x) => self.push_int(*x),
            Value::Float(x) => self.push_float(*x),
            Value::Bool(x) => self.push_bool(*x),
            Value::String(s) => self.push_str(s),
            Value::Json(j) => match &mut self.data {
                Some(Data::Json(v)) => {
                    v.push(j.to_string().as_bytes());
                    self.validity.push(true);
                }
                None => {
                    let text = j.to_string();
                    self.start(Data::Json(TextVec::with_capacity(self.cap)), |d| {
                        if let Data::Json(v) = d {
                            v.push(text.as_bytes())
                        }
                    });
                    self.validity.push(true);
                }
                _ => self.push_any(value.clone()),
            },
        }
    }

    /// Appends a stored value (borrowed from a row).
    #[inline]
    pub(crate) fn push_ref(&mut self, value: ValueRef<'_>) -> Result<()> {
        match value {
            ValueRef::Null => self.push_null(),
            ValueRef::Int(x) => self.push_int(x),
            ValueRef::Float(x) => self.push_float(x),
            ValueRef::Bool(x) => self.push_bool(x),
            ValueRef::String(s) => self.push_str(s),
            ValueRef::Json(text) => match &mut self.data {
                Some(Data::Json(v)) => {
                    v.push(text);
                    self.validity.push(true);
                }
                None => {
                    self.start(Data::Json(TextVec::with_capacity(self.cap)), |d| {
                        if let Data::Json(v) = d {
                            v.push(text)
                        }
                    });
                    self.validity.push(true);
                }
                _ => self.push_any(value.to_value()?),
            },
        }
        Ok(())
    }

    /// Appends position `i` of `v`.
    pub(crate) fn push_from(&mut self, v: &Vector, i: usize) -> Result<()> {
        if v.is_null(i) {
            self.push_null();
            return Ok(());
        }
        match v.data() {
            Data::Int(x) => self.push_int(x[i]),
            Data::Float(x) => self.push_float(x[i]),
            Data::Bool(x) => self.push_bool(x[i]),
            Data::Str(x) => self.push_str(x.str(i)),
            Data::Json(x) => self.push_ref(ValueRef::Json(x.bytes(i)))?,
            Data::Any(x) => self.push(&x[i]),
        }
        Ok(())
    }

    /// Appends an int.
    #[inline]
    pub(crate) fn push_int(&mut self, x: i64) {
        match &mut self.data {
            Some(Data::Int(v)) => v.push(x),
            None => self.start(Data::Int(Vec::with_capacity(self.cap)), |d| {
                if let Data::Int(v) = d {
                    v.push(x)
                }
            }),
            _ => return self.push_any(Value::Int(x)),
        }
        self.validity.push(true);
    }

    /// Appends a float.
    #[inline]
    pub(crate) fn push_float(&mut self, x: f64) {
        match &mut self.data {
            Some(Data::Float(v)) => v.push(x),
            None => self.start(Data::Float(Vec::with_capacity(self.cap)), |d| {
                if let Data::Float(v) = d {
                    v.push(x)
                }
            }),
            _ => return self.push_any(Value::Float(x)),
        }
        self.validity.push(true);
    }

    /// Appends a bool.
    #[inline]
    pub(crate) fn push_bool(&mut self, x: bool) {
        match &mut self.data {
            Some(Data::Bool(v)) => v.push(x),
            None => self.start(Data::Bool(Vec::with_capacity(self.cap)), |d| {
                if let Data::Bool(v) = d {
                    v.push(x)
                }
            }),
            _ => return self.push_any(Value::Bool(x)),
        }
        self.validity.push(true);
    }

    /// Appends a string.
    #[inline]
    pub(crate) fn push_str(&mut self, x: &str) {
        match &mut self.data {
            Some(Data::Str(v)) => v.push(x.as_bytes()),
            None => self.start(Data::Str(TextVec::with_capacity(self.cap)), |d| {
                if let Data::Str(v) = d {
                    v.push(x.as_bytes())
                }
            }),
            _ => return self.push_any(Value::String(x.to_owned())),
        }
        self.validity.push(true);
    }

    /// Appends the validity of `count` values: all valid without
    /// `nulls`, else the inverse of bits `at ..` of `nulls` (bit set =
    /// null, least significant first).
    fn extend_validity(&mut self, count: usize, nulls: Option<(&[u8], usize)>) {
        match nulls {
            None => self.validity.extend_set(count),
            Some((bytes, at)) => {
                let before = self.validity.len();
                self.validity.extend_inverted(bytes, at, count);
                if !self.nulls {
                    let mut k = 0;
                    while k < count {
                        let n = (count - k).min(64);
                        if super::bitmap::read_bits(bytes, at + k, n) != 0 {
                            self.nulls = true;
                            break;
                        }
                        k += n;
                    }
                }
                debug_assert_eq!(self.validity.len(), before + count);
            }
        }
    }

    /// Appends ints in bulk: `values`, with the rows `nulls` marks (see
    /// [`VectorBuilder::extend_validity`]) null (their values become 0,
    /// as [`VectorBuilder::push_null`] stores them). `false` (nothing
    /// appended) when the builder is not an int vector.
    pub(crate) fn extend_ints(&mut self, values: &[i64], nulls: Option<(&[u8], usize)>) -> bool {
        let Some(Data::Int(v)) = &mut self.data else {
            return false;
        };
        append_zeroing_nulls(v, values, nulls);
        self.extend_validity(values.len(), nulls);
        true
    }

    /// Appends floats in bulk, like [`VectorBuilder::extend_ints`].
    pub(crate) fn extend_floats(&mut self, values: &[f64], nulls: Option<(&[u8], usize)>) -> bool {
        let Some(Data::Float(v)) = &mut self.data else {
            return false;
        };
        append_zeroing_nulls(v, values, nulls);
        self.extend_validity(values.len(), nulls);
        true
    }

    /// Appends strings in bulk: value `k` is `bytes[ends[k-1]..ends[k]]`
    /// (the first starts at 0), already checked to be UTF-8; null rows
    /// (see [`VectorBuilder::extend_validity`]) hold empty strings.
    /// `false` (nothing appended) when the builder is not a string vector.
    pub(crate) fn extend_strs(
        &mut self,
        ends: &[u32],
        bytes: &[u8],
        nulls: Option<(&[u8], usize)>,
    ) -> bool {
        let Some(Data::Str(v)) = &mut self.data else {
            return false;
        };
        v.extend(ends, bytes);
        self.extend_validity(ends.len(), nulls);
        true
    }

    /// Appends `count` nulls.
    pub(crate) fn extend_nulls(&mut self, count: usize) {
        for _ in 0..count {
            self.push_null();
        }
    }

    /// The vector built.
    pub(crate) fn finish(self) -> Vector {
        let len = self.validity.len();
        let data = match self.data {
            Some(d) => d,
            None => Data::Any(vec![Value::Null; len]),
        };
        let validity = match &data {
            // Owned values carry their nulls themselves.
            Data::Any(_) => None,
            _ if self.nulls => Some(self.validity),
            _ => None,
        };
        Vector::new(data, validity)
    }

    /// Sets the type from the first non-null value: the nulls before it
    /// get placeholders, then `first` pushes the value.
    fn start(&mut self, mut data: Data, first: impl FnOnce(&mut Data)) {
        for _ in 0..self.validity.len() {
            match &mut data {
                Data::Int(v) => v.push(0),
                Data::Float(v) => v.push(0.0),
                Data::Bool(v) => v.push(false),
                Data::Str(v) | Data::Json(v) => v.push(b""),
                Data::Any(v) => v.push(Value::Null),
            }
        }
        first(&mut data);
        self.data = Some(data);
    }

    /// Appends `value` as an owned value, turning the vector into
    /// [`Data::Any`] first if it is typed.
    fn push_any(&mut self, value: Value) {
        if !matches!(self.data, Some(Data::Any(_))) {
            let len = self.validity.len();
            let mut values = Vec::with_capacity(self.cap.max(len + 1));
            if let Some(data) = self.data.take() {
                let old = Vector::new(data, Some(self.validity.clone()));
                for i in 0..len {
                    // Typed vectors built here hold valid json text only.
                    values.push(old.value(i).unwrap_or(Value::Null));
                }
            } else {
                values.resize(len, Value::Null);
            }
            self.data = Some(Data::Any(values));
        }
        if let Some(Data::Any(v)) = &mut self.data {
            v.push(value);
        }
        self.validity.push(true);
    }
}

/// An empty typed vector for a column of type `ty`.
fn empty(ty: ColumnType, cap: usize) -> Data {
    match ty {
        ColumnType::Int => Data::Int(Vec::with_capacity(cap)),
        ColumnType::Float => Data::Float(Vec::with_capacity(cap)),
        ColumnType::Bool => Data::Bool(Vec::with_capacity(cap)),
        ColumnType::String => Data::Str(TextVec::with_capacity(cap)),
        ColumnType::Json => Data::Json(TextVec::with_capacity(cap)),
    }
}

/// Appends `values` to `v`, the rows `nulls` marks set to the default
/// (0) as [`VectorBuilder::push_null`] stores them.
fn append_zeroing_nulls<T: Copy + Default>(
    v: &mut Vec<T>,
    values: &[T],
    nulls: Option<(&[u8], usize)>,
) {
    let start = v.len();
    v.extend_from_slice(values);
    if let Some((bytes, at)) = nulls {
        zero_nulls(&mut v[start..], bytes, at);
    }
}

/// Sets to the default (zero) the values of `values` whose bit in
/// `nulls` (from bit `at` on) is set.
fn zero_nulls<T: Default>(values: &mut [T], bytes: &[u8], at: usize) {
    let mut k = 0;
    while k < values.len() {
        let n = (values.len() - k).min(64);
        let mut word = super::bitmap::read_bits(bytes, at + k, n);
        while word != 0 {
            let i = word.trailing_zeros() as usize;
            if let Some(x) = values.get_mut(k + i) {
                *x = T::default();
            }
            word &= word - 1;
        }
        k += n;
    }
}
