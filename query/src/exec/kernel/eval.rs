//! Running a kernel tree over a chunk: [`eval`] gives a node's value at
//! the positions in play, [`select`] the positions where it is true.
//! Shared pieces: the positions in play ([`Sel`]), a node's value
//! ([`Col`]), truth values with nulls ([`Mask`]).

use std::sync::Arc;

use crate::error::Result;
use crate::value::Value;
use crate::vector::{Bitmap, Chunk, Data, Positions, Vector, VectorBuilder};

use super::compile::Node;
use super::{arith, compare, in_list, json, like, logic, scalar};

/// The positions in play: every one of `len`, or a list (ascending).
#[derive(Debug, Clone, Copy)]
pub(super) enum Sel<'a> {
    /// Positions `0..len`.
    All(usize),
    /// These positions.
    Some(&'a [u32]),
}

impl<'a> Sel<'a> {
    /// The rows in play of `chunk`.
    pub(super) fn of(chunk: &'a Chunk) -> Sel<'a> {
        match &chunk.sel {
            Some(s) => Sel::Some(s),
            None => Sel::All(chunk.len),
        }
    }

    /// The positions, in order.
    #[inline]
    pub(super) fn iter(self) -> Positions<'a> {
        match self {
            Sel::All(n) => Positions::All(0..n),
            Sel::Some(s) => Positions::Selected(s.iter()),
        }
    }

    /// Whether no position is in play.
    pub(super) fn is_empty(self) -> bool {
        match self {
            Sel::All(n) => n == 0,
            Sel::Some(s) => s.is_empty(),
        }
    }

    /// The positions for which `keep` holds, in order. Branch-free: every
    /// position is written, and the cursor moves past the kept ones.
    #[inline]
    pub(super) fn filter(self, keep: impl Fn(usize) -> bool) -> Vec<u32> {
        let mut out = vec![0u32; self.iter().len()];
        let mut n = 0;
        for p in self.iter() {
            // `n` counts kept positions so far: at most the number seen,
            // so within `out`.
            out[n] = p as u32;
            n += usize::from(keep(p));
        }
        out.truncate(n);
        out
    }
}

/// What a node evaluates to.
#[derive(Debug, Clone)]
pub(super) enum Col {
    /// The same value at every position.
    Const(Value),
    /// One value per position of the chunk.
    Vec(Arc<Vector>),
}

impl Col {
    /// The value at `pos`, owned.
    pub(super) fn value(&self, pos: usize) -> Result<Value> {
        match self {
            Col::Const(v) => Ok(v.clone()),
            Col::Vec(v) => v.value(pos),
        }
    }

    /// Whether the value at `pos` is null.
    #[inline]
    pub(super) fn is_null(&self, pos: usize) -> bool {
        match self {
            Col::Const(v) => v.is_null(),
            Col::Vec(v) => v.is_null(pos),
        }
    }

    /// The value at `pos` as a truth value: `None` for null and for
    /// anything not a bool (`and`, `or`, `not` treat both alike).
    #[inline]
    pub(super) fn truth(&self, pos: usize) -> Option<bool> {
        match self {
            Col::Const(Value::Bool(b)) => Some(*b),
            Col::Const(_) => None,
            Col::Vec(v) if v.is_null(pos) => None,
            Col::Vec(v) => match v.data() {
                Data::Bool(b) => Some(b[pos]),
                Data::Any(x) => match x[pos] {
                    Value::Bool(b) => Some(b),
                    _ => None,
                },
                _ => None,
            },
        }
    }

    /// The string at `pos`, if the value there is one.
    #[inline]
    pub(super) fn str_at(&self, pos: usize) -> Option<&str> {
        match self {
            Col::Const(Value::String(s)) => Some(s),
            Col::Const(_) => None,
            Col::Vec(v) if v.is_null(pos) => None,
            Col::Vec(v) => match v.data() {
                Data::Str(t) => Some(t.str(pos)),
                Data::Any(x) => match &x[pos] {
                    Value::String(s) => Some(s),
                    _ => None,
                },
                _ => None,
            },
        }
    }
}

/// Truth values with nulls over a chunk's positions: what comparisons,
/// `like`, `in`, `between` and `is null` produce. Outside the positions
/// in play, positions are null.
#[derive(Debug, Clone)]
pub(super) struct Mask {
    /// The truth value; false where null.
    pub val: Vec<bool>,
    /// Which positions are not null; `None` when all are.
    pub valid: Option<Vec<bool>>,
}

impl Mask {
    /// `val` with nulls where `valid` is false (`val` is cleared there).
    pub(super) fn new(mut val: Vec<bool>, valid: Option<Vec<bool>>) -> Mask {
        if let Some(valid) = &valid {
            for (v, ok) in val.iter_mut().zip(valid) {
                *v &= *ok;
            }
        }
        Mask { val, valid }
    }

    /// `len` nulls.
    pub(super) fn nulls(len: usize) -> Mask {
        Mask {
            val: vec![false; len],
            valid: Some(vec![false; len]),
        }
    }

    /// The same truth value (or null) at every position.
    pub(super) fn repeat(value: Option<bool>, len: usize) -> Mask {
        match value {
            Some(b) => Mask {
                val: vec![b; len],
                valid: None,
            },
            None => Mask::nulls(len),
        }
    }

    /// Whether position `i` is not null.
    #[inline]
    pub(super) fn valid_at(&self, i: usize) -> bool {
        self.valid.as_ref().is_none_or(|v| v[i])
    }

    /// The positions of `sel` where the value is true.
    pub(super) fn select(&self, sel: Sel<'_>) -> Vec<u32> {
        // `val` is false wherever the value is null.
        let val = &self.val;
        sel.filter(|p| val[p])
    }

    /// As a vector of bools.
    pub(super) fn into_col(self) -> Col {
        let validity = self.valid.as_deref().map(bitmap);
        Col::Vec(Arc::new(Vector::new(Data::Bool(self.val), validity)))
    }
}

/// A validity bitmap of `bits`.
pub(super) fn bitmap(bits: &[bool]) -> Bitmap {
    let mut b = Bitmap::with_capacity(bits.len());
    for &x in bits {
        b.push(x);
    }
    b
}

/// The validity of `v` as one bool per position; `None` when no position
/// is null.
pub(super) fn validity(v: &Vector) -> Option<Vec<bool>> {
    match v.data() {
        Data::Any(x) => x
            .iter()
            .any(Value::is_null)
            .then(|| x.iter().map(|v| !v.is_null()).collect()),
        _ => v
            .validity()
            .map(|b| (0..b.len()).map(|i| b.get(i)).collect()),
    }
}

/// Both validities: a position is valid when it is in both.
pub(super) fn both_valid(a: Option<Vec<bool>>, b: Option<Vec<bool>>) -> Option<Vec<bool>> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(mut a), Some(b)) => {
            for (x, y) in a.iter_mut().zip(&b) {
                *x &= *y;
            }
            Some(a)
        }
    }
}

/// A vector of `len` positions holding `f(p)` at each position `p` in
/// play and null elsewhere.
pub(super) fn build(
    len: usize,
    sel: Sel<'_>,
    mut f: impl FnMut(usize) -> Result<Value>,
) -> Result<Col> {
    let mut out = VectorBuilder::with_capacity(len);
    let mut next = 0;
    for p in sel.iter() {
        while next < p {
            out.push_null();
            next += 1;
        }
        out.push(&f(p)?);
        next += 1;
    }
    while next < len {
        out.push_null();
        next += 1;
    }
    Ok(Col::Vec(Arc::new(out.finish())))
}

/// Truth values computed one position in play at a time (`None` is
/// null); null elsewhere.
pub(super) fn build_mask(
    len: usize,
    sel: Sel<'_>,
    mut f: impl FnMut(usize) -> Result<Option<bool>>,
) -> Result<Mask> {
    let mut val = vec![false; len];
    let mut valid = vec![false; len];
    for p in sel.iter() {
        if let Some(b) = f(p)? {
            val[p] = b;
            valid[p] = true;
        }
    }
    Ok(Mask {
        val,
        valid: Some(valid),
    })
}

/// What one run of a kernel tree over a chunk shares: the chunk and the
/// json documents parsed so far.
pub(super) struct State<'c> {
    /// The input.
    pub chunk: &'c Chunk,
    /// Positions per vector.
    pub len: usize,
    /// Per json column read through a path: each position's document,
    /// once parsed (so two paths into one column parse it once).
    pub json: Vec<(usize, Vec<Option<Value>>)>,
}

impl<'c> State<'c> {
    /// A run over `chunk`.
    pub(super) fn new(chunk: &'c Chunk) -> State<'c> {
        State {
            chunk,
            len: chunk.len,
            json: Vec::new(),
        }
    }
}

/// The value of `n` at the positions `sel` (other positions unspecified).
pub(super) fn eval(n: &Node, st: &mut State<'_>, sel: Sel<'_>) -> Result<Col> {
    Ok(match n {
        Node::Const(v) => Col::Const(v.clone()),
        Node::Column(i) => match st.chunk.columns.get(*i) {
            Some(c) => Col::Vec(c.clone()),
            None => Col::Const(Value::Null),
        },
        Node::Path { base, path } => json::path(base, path, st, sel)?,
        Node::Not(e) => {
            let c = eval(e, st, sel)?;
            build_mask(st.len, sel, |p| Ok(c.truth(p).map(|b| !b)))?.into_col()
        }
        Node::Neg(e) => {
            let c = eval(e, st, sel)?;
            arith::neg(&c, st.len, sel)?
        }
        Node::And { left, right, .. } => logic::and(left, right, st, sel)?.into_col(),
        Node::Or(l, r) => logic::or(l, r, st, sel)?.into_col(),
        Node::Arith(op, l, r) => {
            let a = eval(l, st, sel)?;
            let b = eval(r, st, sel)?;
            arith::arith(*op, &a, &b, st.len, sel)?
        }
        Node::Row(e) => {
            let mut reads = Vec::new();
            e.columns(&mut reads);
            Col::Vec(Arc::new(super::eval_rows(e, &reads, st.chunk, sel)?))
        }
        Node::Scalar(op, args) => scalar::scalar(*op, args, st, sel)?,
        Node::Case {
            whens,
            else_result,
            ty,
        } => scalar::case(whens, else_result.as_deref(), *ty, st, sel)?,
        Node::Coalesce(args, ty) => scalar::coalesce(args, *ty, st, sel)?,
        Node::Cmp(..)
        | Node::Like { .. }
        | Node::IsNull(..)
        | Node::In { .. }
        | Node::Between { .. } => mask(n, st, sel)?.into_col(),
    })
}

/// The truth values of a node that yields a truth value or null at
/// every row (comparison, `like`, `in`, `between`, `is null`); for any
/// other node, its value read as a truth value.
pub(super) fn mask(n: &Node, st: &mut State<'_>, sel: Sel<'_>) -> Result<Mask> {
    Ok(match n {
        Node::Cmp(op, l, r) => {
            let a = eval(l, st, sel)?;
            let b = eval(r, st, sel)?;
            compare::compare(*op, &a, &b, st.len, sel)?
        }
        Node::Like {
            expr,
            pattern,
            negated,
        } => like::like(expr, pattern, *negated, st, sel)?,
        Node::IsNull(e, negated) => {
            let c = eval(e, st, sel)?;
            let negated = *negated;
            Mask::new((0..st.len).map(|p| c.is_null(p) != negated).collect(), None)
        }
        Node::In {
            expr,
            list,
            set,
            negated,
        } => in_list::in_list(expr, list, set.as_ref(), *negated, st, sel)?,
        Node::Between {
            expr,
            low,
            high,
            negated,
        } => {
            let v = eval(expr, st, sel)?;
            let lo = eval(low, st, sel)?;
            let hi = eval(high, st, sel)?;
            compare::between(&v, &lo, &hi, *negated, st.len, sel)?
        }
        _ => {
            let c = eval(n, st, sel)?;
            build_mask(st.len, sel, |p| Ok(c.truth(p)))?
        }
    })
}

/// The chunk's vector, when `n` is a column it has.
fn column<'c>(n: &Node, st: &State<'c>) -> Option<&'c Arc<Vector>> {
    match n {
        Node::Column(i) => st.chunk.columns.get(*i),
        _ => None,
    }
}

/// The positions of `sel` where `n` is true, in order.
pub(super) fn select(n: &Node, st: &mut State<'_>, sel: Sel<'_>) -> Result<Vec<u32>> {
    if sel.is_empty() {
        return Ok(Vec::new());
    }
    match n {
        Node::And {
            left,
            right,
            right_fallible,
        } => logic::and_select(left, right, *right_fallible, st, sel),
        Node::Or(l, r) => logic::or_select(l, r, st, sel),
        Node::Cmp(op, l, r) => {
            // `column op number`: straight to the selection.
            if let (Node::Column(i), Node::Const(c)) = (&**l, &**r)
                && let Some(v) = st.chunk.columns.get(*i)
                && let Some(s) = compare::select_const(*op, v, c, sel)
            {
                return Ok(s);
            }
            Ok(mask(n, st, sel)?.select(sel))
        }
        Node::Like {
            expr,
            pattern,
            negated,
        } => {
            if let Some(v) = column(expr, st)
                && let Some(s) = like::select_column(v, pattern, *negated, sel)
            {
                return Ok(s);
            }
            Ok(mask(n, st, sel)?.select(sel))
        }
        Node::In {
            expr,
            set: Some(set),
            negated,
            ..
        } => {
            if let Some(v) = column(expr, st)
                && let Some(s) = in_list::select_column(v, set, *negated, sel)
            {
                return Ok(s);
            }
            Ok(mask(n, st, sel)?.select(sel))
        }
        Node::IsNull(e, negated) => match column(e, st) {
            Some(v) => Ok(sel.filter(|p| v.is_null(p) != *negated)),
            None => Ok(mask(n, st, sel)?.select(sel)),
        },
        Node::Const(v) => Ok(if matches!(v, Value::Bool(true)) {
            sel.iter().map(|p| p as u32).collect()
        } else {
            Vec::new()
        }),
        _ => Ok(mask(n, st, sel)?.select(sel)),
    }
}
