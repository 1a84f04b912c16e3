//! Arithmetic (`+ - * /`, unary `-`) over vectors, with the row path's
//! rules: two ints stay int (overflow is `numeric_overflow`, division
//! truncates, division by zero is null), a float makes the result float
//! (NaN and division by zero are null), null gives null, and anything
//! else is a `type_mismatch` — raised only when a row in play reaches it.

use std::sync::Arc;

use crate::ast::BinaryOp;
use crate::error::Result;
use crate::expr::{arith as arith_values, neg as neg_values};
use crate::value::Value;
use crate::vector::{Data, Vector};

use super::eval::{Col, Sel, bitmap, both_valid, build, validity};

/// One side of an arithmetic operation with a fast path.
enum Num<'a> {
    /// An int at every position.
    IntConst(i64),
    /// A float at every position.
    FloatConst(f64),
    /// Ints.
    Ints(&'a [i64]),
    /// Floats.
    Floats(&'a [f64]),
}

impl Num<'_> {
    /// The value at `i` as a float (as the row path widens an int).
    #[inline]
    fn f(&self, i: usize) -> f64 {
        match self {
            Num::IntConst(x) => *x as f64,
            Num::FloatConst(x) => *x,
            Num::Ints(x) => x[i] as f64,
            Num::Floats(x) => x[i],
        }
    }
}

/// The fast-path view of `c`, if it is a number at every position (or
/// null); `None` sends the operation to the general path.
fn num(c: &Col) -> Option<(Num<'_>, Option<Vec<bool>>)> {
    match c {
        Col::Const(Value::Int(x)) => Some((Num::IntConst(*x), None)),
        Col::Const(Value::Float(x)) => Some((Num::FloatConst(*x), None)),
        Col::Vec(v) => match v.data() {
            Data::Int(x) => Some((Num::Ints(x), validity(v))),
            Data::Float(x) => Some((Num::Floats(x), validity(v))),
            _ => None,
        },
        Col::Const(_) => None,
    }
}

/// `a op b` at the positions `sel`.
pub(super) fn arith(op: BinaryOp, a: &Col, b: &Col, len: usize, sel: Sel<'_>) -> Result<Col> {
    if matches!(a, Col::Const(Value::Null)) || matches!(b, Col::Const(Value::Null)) {
        return Ok(Col::Const(Value::Null));
    }
    if let (Col::Const(x), Col::Const(y)) = (a, b) {
        // Both constant (constant subtrees are folded when compiled, so
        // this is rare): evaluated once, and only with a row in play.
        return if sel.is_empty() {
            Ok(Col::Const(Value::Null))
        } else {
            Ok(Col::Const(arith_values(op, x, y)?))
        };
    }
    let (Some((x, vx)), Some((y, vy))) = (num(a), num(b)) else {
        return generic(op, a, b, len, sel);
    };
    let valid = both_valid(vx, vy);
    match (&x, &y) {
        (Num::Ints(_) | Num::IntConst(_), Num::Ints(_) | Num::IntConst(_)) => {
            ints(op, &x, &y, valid, len, sel)
        }
        _ => Ok(floats(op, &x, &y, valid, len)),
    }
}

/// Ints with ints: wrapping arithmetic over every position (a tight
/// loop), then, only if some position overflowed, a look at whether one
/// in play did.
fn ints(
    op: BinaryOp,
    x: &Num<'_>,
    y: &Num<'_>,
    valid: Option<Vec<bool>>,
    len: usize,
    sel: Sel<'_>,
) -> Result<Col> {
    let at = |n: &Num<'_>, i: usize| match n {
        Num::IntConst(c) => *c,
        Num::Ints(v) => v[i],
        // Not reached: both sides are ints here.
        Num::FloatConst(_) | Num::Floats(_) => 0,
    };
    let is_valid = |i: usize| valid.as_ref().is_none_or(|v| v[i]);
    if op == BinaryOp::Div {
        let mut out = vec![0i64; len];
        let mut ok = vec![false; len];
        for p in sel.iter() {
            let (a, b) = (at(x, p), at(y, p));
            if !is_valid(p) || b == 0 {
                continue;
            }
            match a.checked_div(b) {
                Some(r) => {
                    out[p] = r;
                    ok[p] = true;
                }
                None => {
                    return Err(arith_values(op, &Value::Int(a), &Value::Int(b))
                        .err()
                        .unwrap_or_else(overflow));
                }
            }
        }
        return Ok(int_col(out, Some(ok)));
    }
    let mut out = vec![0i64; len];
    let any = match op {
        BinaryOp::Add => wrapping(i64::overflowing_add, x, y, &mut out),
        BinaryOp::Sub => wrapping(i64::overflowing_sub, x, y, &mut out),
        BinaryOp::Mul => wrapping(i64::overflowing_mul, x, y, &mut out),
        _ => return Ok(Col::Const(Value::Null)),
    };
    let f = |a: i64, b: i64| match op {
        BinaryOp::Add => a.checked_add(b),
        BinaryOp::Sub => a.checked_sub(b),
        _ => a.checked_mul(b),
    };
    if any {
        for p in sel.iter() {
            if is_valid(p) && f(at(x, p), at(y, p)).is_none() {
                return Err(
                    arith_values(op, &Value::Int(at(x, p)), &Value::Int(at(y, p)))
                        .err()
                        .unwrap_or_else(overflow),
                );
            }
        }
    }
    Ok(int_col(out, valid))
}

/// `f` (a wrapping operation that also tells whether it overflowed) at
/// every position into `out`, one plain loop per shape of the operands;
/// whether any position overflowed.
#[inline]
fn wrapping(
    f: impl Fn(i64, i64) -> (i64, bool),
    x: &Num<'_>,
    y: &Num<'_>,
    out: &mut [i64],
) -> bool {
    let mut any = false;
    let mut put = |o: &mut i64, a: i64, b: i64| {
        let (r, over) = f(a, b);
        *o = r;
        any |= over;
    };
    match (x, y) {
        (Num::Ints(a), Num::Ints(b)) => {
            for ((o, &a), &b) in out.iter_mut().zip(*a).zip(*b) {
                put(o, a, b);
            }
        }
        (Num::Ints(a), Num::IntConst(c)) => {
            for (o, &a) in out.iter_mut().zip(*a) {
                put(o, a, *c);
            }
        }
        (Num::IntConst(c), Num::Ints(b)) => {
            for (o, &b) in out.iter_mut().zip(*b) {
                put(o, *c, b);
            }
        }
        (Num::IntConst(a), Num::IntConst(b)) => {
            for o in out.iter_mut() {
                put(o, *a, *b);
            }
        }
        // Not reached: both sides are ints here.
        _ => {}
    }
    any
}

/// The overflow error, for the unexpected case where the row path's
/// arithmetic does not give one.
fn overflow() -> crate::error::Error {
    crate::error::Error::query(
        crate::error::ErrorCode::NumericOverflow,
        "integer overflow in arithmetic",
    )
}

/// A float on either side: both widened, NaN and division by zero null.
fn floats(op: BinaryOp, x: &Num<'_>, y: &Num<'_>, valid: Option<Vec<bool>>, len: usize) -> Col {
    let mut out = vec![0f64; len];
    let mut ok = valid.unwrap_or_else(|| vec![true; len]);
    for i in 0..len {
        let (a, b) = (x.f(i), y.f(i));
        let r = match op {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div if b == 0.0 => f64::NAN,
            BinaryOp::Div => a / b,
            _ => f64::NAN,
        };
        let good = ok[i] && !r.is_nan();
        ok[i] = good;
        out[i] = if good { r } else { 0.0 };
    }
    let validity = (!ok.iter().all(|&b| b)).then(|| bitmap(&ok));
    Col::Vec(Arc::new(Vector::new(Data::Float(out), validity)))
}

/// Ints with nulls where `valid` is false.
fn int_col(mut out: Vec<i64>, valid: Option<Vec<bool>>) -> Col {
    if let Some(v) = &valid {
        for (o, ok) in out.iter_mut().zip(v) {
            if !ok {
                *o = 0;
            }
        }
    }
    let validity = valid.filter(|v| !v.iter().all(|&b| b)).map(|v| bitmap(&v));
    Col::Vec(Arc::new(Vector::new(Data::Int(out), validity)))
}

/// The general path: one position at a time through the row path's
/// arithmetic (its errors included).
fn generic(op: BinaryOp, a: &Col, b: &Col, len: usize, sel: Sel<'_>) -> Result<Col> {
    build(len, sel, |p| arith_values(op, &a.value(p)?, &b.value(p)?))
}

/// `-c` at the positions `sel`.
pub(super) fn neg(c: &Col, len: usize, sel: Sel<'_>) -> Result<Col> {
    match c {
        // Nothing in play: nothing to negate (or to fail on).
        Col::Const(_) if sel.is_empty() => Ok(Col::Const(Value::Null)),
        Col::Const(v) => Ok(Col::Const(neg_values(v)?)),
        Col::Vec(v) => match v.data() {
            Data::Int(x) => {
                let valid = validity(v);
                let mut out = vec![0i64; len];
                for p in sel.iter() {
                    if valid.as_ref().is_none_or(|v| v[p]) {
                        out[p] = match x[p].checked_neg() {
                            Some(r) => r,
                            None => {
                                return Err(neg_values(&Value::Int(x[p]))
                                    .err()
                                    .unwrap_or_else(overflow));
                            }
                        };
                    }
                }
                Ok(int_col(out, valid))
            }
            Data::Float(x) => {
                let out = x.iter().map(|f| -f).collect();
                Ok(Col::Vec(Arc::new(Vector::new(
                    Data::Float(out),
                    v.validity().cloned(),
                ))))
            }
            _ => build(len, sel, |p| neg_values(&v.value(p)?)),
        },
    }
}
