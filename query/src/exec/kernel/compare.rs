//! Comparisons (`= != < <= > >=`) and `between` over vectors, with
//! [`Value::sql_cmp`]'s rules: ints and floats compare exactly as numbers,
//! strings by bytes, bools false before true, json only for equality,
//! null (or values that do not compare) give null.

use std::cmp::Ordering;

use crate::ast::BinaryOp;
use crate::error::Result;
use crate::expr::compare as compare_values;
use crate::value::{Value, cmp_int_float};
use crate::vector::{Bitmap, Data, Vector};

use super::eval::{Col, Mask, Sel, both_valid, build_mask, validity};

/// `a op b` at the positions `sel`.
pub(super) fn compare(op: BinaryOp, a: &Col, b: &Col, len: usize, sel: Sel<'_>) -> Result<Mask> {
    match (a, b) {
        (Col::Const(x), Col::Const(y)) => Ok(Mask::repeat(truth(&compare_values(op, x, y)), len)),
        (Col::Const(Value::Null), _) | (_, Col::Const(Value::Null)) => Ok(Mask::nulls(len)),
        (Col::Const(_), Col::Vec(_)) => compare(mirror(op), b, a, len, sel),
        (Col::Vec(v), Col::Const(c)) => {
            let val = match (v.data(), c) {
                (Data::Int(x), Value::Int(c)) => by_op(op, x, |x| x, *c),
                (Data::Float(x), Value::Float(c)) if !c.is_nan() => by_op(op, x, |x| x, *c),
                (Data::Bool(x), Value::Bool(c)) => by_op(op, x, |x| x, *c),
                (Data::Int(x), Value::Float(c)) if !c.is_nan() => {
                    by_ord(op, x.len(), |i| cmp_int_float(x[i], *c))
                }
                (Data::Float(x), Value::Int(c)) => by_ord(op, x.len(), |i| {
                    cmp_int_float(*c, x[i]).map(Ordering::reverse)
                }),
                (Data::Str(t), Value::String(c)) => {
                    let c = c.as_bytes();
                    by_ord(op, t.len(), |i| Some(t.bytes(i).cmp(c)))
                }
                _ => return generic(op, a, b, len, sel),
            };
            Ok(Mask::new(val, validity(v)))
        }
        (Col::Vec(v), Col::Vec(w)) => {
            let val = match (v.data(), w.data()) {
                (Data::Int(x), Data::Int(y)) => zip_op(op, x, y),
                (Data::Float(x), Data::Float(y)) => zip_op(op, x, y),
                (Data::Bool(x), Data::Bool(y)) => zip_op(op, x, y),
                (Data::Int(x), Data::Float(y)) => {
                    by_ord(op, x.len(), |i| cmp_int_float(x[i], y[i]))
                }
                (Data::Float(x), Data::Int(y)) => by_ord(op, x.len(), |i| {
                    cmp_int_float(y[i], x[i]).map(Ordering::reverse)
                }),
                (Data::Str(x), Data::Str(y)) => {
                    by_ord(op, x.len(), |i| Some(x.bytes(i).cmp(y.bytes(i))))
                }
                _ => return generic(op, a, b, len, sel),
            };
            Ok(Mask::new(val, both_valid(validity(v), validity(w))))
        }
    }
}

/// The positions of `sel` where `v op c` is true, straight from the
/// values (no truth vector in between) when `v` is a vector of ints or
/// floats, bools or strings and `c` a value of the same type; `None`
/// otherwise.
pub(super) fn select_const(op: BinaryOp, v: &Vector, c: &Value, sel: Sel<'_>) -> Option<Vec<u32>> {
    let valid = v.validity();
    match (v.data(), c) {
        (Data::Int(x), Value::Int(c)) => Some(sel_op(op, x, *c, valid, sel)),
        (Data::Float(x), Value::Float(c)) if !c.is_nan() => Some(sel_op(op, x, *c, valid, sel)),
        (Data::Bool(x), Value::Bool(c)) => Some(sel_op(op, x, *c, valid, sel)),
        (Data::Str(t), Value::String(c)) => {
            let c = c.as_bytes();
            let ok = |p: usize| valid.is_none_or(|b| b.get(p));
            Some(sel.filter(|p| ok(p) && holds(op, t.bytes(p).cmp(c))))
        }
        _ => None,
    }
}

/// [`select_const`]'s loops: one per operator, each a plain comparison.
#[inline]
fn sel_op<T: PartialOrd + Copy>(
    op: BinaryOp,
    x: &[T],
    c: T,
    valid: Option<&Bitmap>,
    sel: Sel<'_>,
) -> Vec<u32> {
    macro_rules! run {
        ($cmp:tt) => {
            match valid {
                None => sel.filter(|p| x[p] $cmp c),
                Some(b) => sel.filter(|p| b.get(p) & (x[p] $cmp c)),
            }
        };
    }
    match op {
        BinaryOp::Eq => run!(==),
        BinaryOp::NotEq => run!(!=),
        BinaryOp::Lt => run!(<),
        BinaryOp::LtEq => run!(<=),
        BinaryOp::Gt => run!(>),
        BinaryOp::GtEq => run!(>=),
        _ => Vec::new(),
    }
}

/// `v [not] between lo and hi` at the positions `sel`: `v >= lo and v <=
/// hi` (three-valued), negated for `not between`.
pub(super) fn between(
    v: &Col,
    lo: &Col,
    hi: &Col,
    negated: bool,
    len: usize,
    sel: Sel<'_>,
) -> Result<Mask> {
    let ge = compare(BinaryOp::GtEq, v, lo, len, sel)?;
    let le = compare(BinaryOp::LtEq, v, hi, len, sel)?;
    let mut val = vec![false; len];
    let mut valid = vec![false; len];
    for i in 0..len {
        let (gv, lv) = (ge.valid_at(i), le.valid_at(i));
        // `val` is false where null, so a known false is valid && !val.
        let any_false = (gv && !ge.val[i]) || (lv && !le.val[i]);
        let both_true = ge.val[i] && le.val[i];
        valid[i] = any_false || both_true;
        val[i] = both_true != negated;
    }
    Ok(Mask::new(val, Some(valid)))
}

/// The mask of a truth value (`None` for null).
fn truth(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        _ => None,
    }
}

/// The general path: one position at a time through the row path's
/// comparison.
fn generic(op: BinaryOp, a: &Col, b: &Col, len: usize, sel: Sel<'_>) -> Result<Mask> {
    build_mask(len, sel, |p| {
        Ok(truth(&compare_values(op, &a.value(p)?, &b.value(p)?)))
    })
}

/// `a op b` is `b mirror(op) a`.
fn mirror(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        op => op,
    }
}

/// Every value of `x` against the constant `c`, one loop per operator so
/// that each is a plain comparison the compiler can vectorise.
#[inline]
fn by_op<T: Copy, U: PartialOrd + Copy>(
    op: BinaryOp,
    x: &[T],
    f: impl Fn(T) -> U,
    c: U,
) -> Vec<bool> {
    match op {
        BinaryOp::Eq => x.iter().map(|&v| f(v) == c).collect(),
        BinaryOp::NotEq => x.iter().map(|&v| f(v) != c).collect(),
        BinaryOp::Lt => x.iter().map(|&v| f(v) < c).collect(),
        BinaryOp::LtEq => x.iter().map(|&v| f(v) <= c).collect(),
        BinaryOp::Gt => x.iter().map(|&v| f(v) > c).collect(),
        BinaryOp::GtEq => x.iter().map(|&v| f(v) >= c).collect(),
        _ => vec![false; x.len()],
    }
}

/// Two vectors of one type compared position by position.
#[inline]
fn zip_op<T: PartialOrd + Copy>(op: BinaryOp, x: &[T], y: &[T]) -> Vec<bool> {
    let pairs = x.iter().zip(y);
    match op {
        BinaryOp::Eq => pairs.map(|(a, b)| a == b).collect(),
        BinaryOp::NotEq => pairs.map(|(a, b)| a != b).collect(),
        BinaryOp::Lt => pairs.map(|(a, b)| a < b).collect(),
        BinaryOp::LtEq => pairs.map(|(a, b)| a <= b).collect(),
        BinaryOp::Gt => pairs.map(|(a, b)| a > b).collect(),
        BinaryOp::GtEq => pairs.map(|(a, b)| a >= b).collect(),
        _ => vec![false; x.len()],
    }
}

/// `len` positions compared through an ordering; `None` (values that do
/// not compare, which the callers' inputs never are at valid positions)
/// counts as false.
#[inline]
fn by_ord(op: BinaryOp, len: usize, f: impl Fn(usize) -> Option<Ordering>) -> Vec<bool> {
    (0..len)
        .map(|i| f(i).is_some_and(|o| holds(op, o)))
        .collect()
}

/// Whether ordering `o` satisfies comparison `op`.
#[inline]
fn holds(op: BinaryOp, o: Ordering) -> bool {
    match op {
        BinaryOp::Eq => o == Ordering::Equal,
        BinaryOp::NotEq => o != Ordering::Equal,
        BinaryOp::Lt => o == Ordering::Less,
        BinaryOp::LtEq => o != Ordering::Greater,
        BinaryOp::Gt => o == Ordering::Greater,
        BinaryOp::GtEq => o != Ordering::Less,
        _ => false,
    }
}
