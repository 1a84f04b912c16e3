//! Comparing fasty's results with SQLite's, value by value and type by
//! type: an `int` is not a `float`.
//!
//! Where SQLite's typing legitimately differs from fasty's documented one
//! (docs/language.md, "types and values"), the mapping is explicit:
//! - SQLite has no boolean type: a bool column, a comparison used as a
//!   value and `min`/`max` of bools are integers 0 and 1 there. An integer
//!   0 or 1 from SQLite stands for a bool exactly where fasty's result
//!   column is typed `bool` (any other integer there is a mismatch).
//!
//! Nothing else is mapped: fasty `int` must be SQLite INTEGER, `float`
//! REAL (SQLite's REAL columns store ints written into them as REAL,
//! as fasty's float columns do), `string` TEXT, `null` NULL.
//!
//! Floats compare exactly, except in a column computed with `sum` or
//! `avg` (SQLite adds in another order; quarters keep most sums exact,
//! but not all: `avg` divides), which allows a relative 1e-9.

use std::cmp::Ordering;

use fasty_query::{Column, ColumnType, Value};

/// A value as comparable across the two systems.
#[derive(Debug, Clone, PartialEq)]
pub enum Cmp {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
}

impl Cmp {
    fn rank(&self) -> u8 {
        match self {
            Cmp::Null => 0,
            Cmp::Bool(_) => 1,
            Cmp::Int(_) => 2,
            Cmp::Float(_) => 3,
            Cmp::Text(_) => 4,
        }
    }

    /// A total order, to sort results compared as multisets.
    pub fn total_cmp(&self, other: &Cmp) -> Ordering {
        match (self, other) {
            (Cmp::Bool(a), Cmp::Bool(b)) => a.cmp(b),
            (Cmp::Int(a), Cmp::Int(b)) => a.cmp(b),
            // -0.0 and 0.0 are one number to both systems (`=` holds), and
            // which of the two a computation gives may differ: they sort
            // as one, so that tied rows stay in the same order on both sides.
            (Cmp::Float(a), Cmp::Float(b)) => (a + 0.0).total_cmp(&(b + 0.0)),
            (Cmp::Text(a), Cmp::Text(b)) => a.cmp(b),
            (a, b) => a.rank().cmp(&b.rank()),
        }
    }
}

pub fn from_fasty(v: &Value) -> Cmp {
    match v {
        Value::Null => Cmp::Null,
        Value::Int(i) => Cmp::Int(*i),
        Value::Float(x) => Cmp::Float(*x),
        Value::Bool(b) => Cmp::Bool(*b),
        Value::String(s) => Cmp::Text(s.clone()),
        Value::Json(j) => Cmp::Text(j.to_string()),
    }
}

/// A value as SQLite returned it, kept to write a failing case out.
#[derive(Debug, Clone, PartialEq)]
pub enum Lite {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

pub fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> Lite {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Null => Lite::Null,
        ValueRef::Integer(i) => Lite::Int(i),
        ValueRef::Real(x) => Lite::Real(x),
        ValueRef::Text(t) => Lite::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(_) => Lite::Text("<blob>".into()),
    }
}

/// SQLite's value as the fasty value it stands for in a result column of
/// fasty type `ty` (see the module doc for the one mapping).
pub fn from_lite(v: &Lite, ty: Option<ColumnType>) -> Cmp {
    match (v, ty) {
        (Lite::Null, _) => Cmp::Null,
        (Lite::Int(i @ (0 | 1)), Some(ColumnType::Bool)) => Cmp::Bool(*i == 1),
        (Lite::Int(i), _) => Cmp::Int(*i),
        (Lite::Real(x), _) => Cmp::Float(*x),
        (Lite::Text(t), _) => Cmp::Text(t.clone()),
    }
}

/// Two values are the same: of one type and equal (-0.0 equals 0.0, as
/// in both systems' `=`), or floats within the tolerance when `tolerant`.
pub fn same_value(p: &Cmp, q: &Cmp, tolerant: bool) -> bool {
    match (p, q) {
        (Cmp::Float(a), Cmp::Float(b)) if tolerant => {
            (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
        }
        _ => p == q,
    }
}

/// The index of the first row that differs (or is missing on one side);
/// `tolerant` says which columns allow the float tolerance.
pub fn first_difference(a: &[Vec<Cmp>], b: &[Vec<Cmp>], tolerant: &[bool]) -> Option<usize> {
    let n = a.len().max(b.len());
    (0..n).find(|&i| match (a.get(i), b.get(i)) {
        (Some(x), Some(y)) => {
            x.len() != y.len()
                || x.iter()
                    .zip(y)
                    .enumerate()
                    .any(|(j, (p, q))| !same_value(p, q, tolerant.get(j).copied().unwrap_or(false)))
        }
        _ => true,
    })
}

pub fn row_cmp(a: &[Cmp], b: &[Cmp]) -> Ordering {
    for (p, q) in a.iter().zip(b) {
        let o = p.total_cmp(q);
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

/// Sorts rows of any kind by their comparable form.
pub fn sort_rows_by<T>(rows: &mut Vec<Vec<T>>, key: impl Fn(&[T]) -> Vec<Cmp>) {
    let mut keyed: Vec<(Vec<Cmp>, Vec<T>)> = rows.drain(..).map(|r| (key(&r), r)).collect();
    keyed.sort_by(|a, b| row_cmp(&a.0, &b.0));
    rows.extend(keyed.into_iter().map(|(_, r)| r));
}

pub fn fasty_cmp(row: &[Value]) -> Vec<Cmp> {
    row.iter().map(from_fasty).collect()
}

pub fn lite_cmp(row: &[Lite], types: &[Option<ColumnType>]) -> Vec<Cmp> {
    row.iter()
        .enumerate()
        .map(|(j, v)| from_lite(v, types.get(j).copied().flatten()))
        .collect()
}

/// fasty's values must have the type fasty gives their column (what the
/// slt files' type letters rely on): the first that does not, described.
pub fn type_error(columns: &[Column], rows: &[Vec<Value>]) -> Option<String> {
    for (i, row) in rows.iter().enumerate() {
        for (c, v) in columns.iter().zip(row) {
            let Some(ty) = c.ty else { continue };
            let ok = match v {
                Value::Null => true,
                Value::Int(_) => ty == ColumnType::Int,
                Value::Float(_) => ty == ColumnType::Float,
                Value::Bool(_) => ty == ColumnType::Bool,
                Value::String(_) => ty == ColumnType::String,
                Value::Json(_) => ty == ColumnType::Json,
            };
            if !ok {
                return Some(format!(
                    "row {i}, column {:?} is typed {} but holds {v:?}",
                    c.name,
                    ty.name()
                ));
            }
        }
    }
    None
}
