//! `e [not] in (…)`. The row path's rules: null `e` gives null; a
//! candidate equal to `e` by [`Value::sql_cmp`] gives true (`not in`:
//! false) and the candidates after it are not evaluated; otherwise a null
//! candidate makes the answer null, else false (`not in`: true).
//!
//! A list of constants becomes a set once ([`ConstSet`]): a hash lookup
//! per row, with ints and floats equal exactly as `sql_cmp` has them.

use std::cmp::Ordering;

use rustc_hash::FxHashSet;

use crate::error::Result;
use crate::value::Value;
use crate::vector::{Data, Vector};

use super::compile::Node;
use super::eval::{Col, Mask, Sel, State, build_mask, eval};

/// Every `i64` lies in `[-2^63, 2^63)`.
const TWO_63: f64 = 9_223_372_036_854_775_808.0;

/// The int a float is exactly equal to, if any.
#[inline]
fn exact_int(f: f64) -> Option<i64> {
    // In range and integral, so the cast is exact.
    (f.fract() == 0.0 && (-TWO_63..TWO_63).contains(&f)).then_some(f as i64)
}

/// A list of constant candidates, by type.
#[derive(Debug, Clone, Default)]
pub(super) struct ConstSet {
    /// The int candidates, and the float ones equal to an int.
    ints: FxHashSet<i64>,
    /// The float candidates' bits (`-0.0` stored as `0.0`).
    floats: FxHashSet<u64>,
    /// The string candidates.
    strs: FxHashSet<String>,
    /// Whether `false`, `true` are candidates.
    bools: [bool; 2],
    /// The json candidates (compared for equality one by one).
    jsons: Vec<serde_json::Value>,
    /// Whether null is a candidate.
    null: bool,
}

impl ConstSet {
    /// The set of `list`, if every candidate is a constant.
    pub(super) fn new(list: &[Node]) -> Option<ConstSet> {
        let mut s = ConstSet::default();
        for n in list {
            let Node::Const(v) = n else {
                return None;
            };
            match v {
                Value::Null => s.null = true,
                Value::Int(x) => {
                    s.ints.insert(*x);
                }
                Value::Float(f) if f.is_nan() => {}
                Value::Float(f) => {
                    s.floats.insert((f + 0.0).to_bits());
                    if let Some(i) = exact_int(*f) {
                        s.ints.insert(i);
                    }
                }
                Value::Bool(b) => s.bools[usize::from(*b)] = true,
                Value::String(x) => {
                    s.strs.insert(x.clone());
                }
                Value::Json(j) => s.jsons.push(j.clone()),
            }
        }
        Some(s)
    }

    /// Whether an int is a candidate.
    #[inline]
    fn has_int(&self, x: i64) -> bool {
        self.ints.contains(&x)
    }

    /// Whether a float is a candidate (as a float, or as the int it
    /// equals).
    #[inline]
    fn has_float(&self, f: f64) -> bool {
        self.floats.contains(&(f + 0.0).to_bits()) || exact_int(f).is_some_and(|i| self.has_int(i))
    }

    /// Whether a non-null value is a candidate.
    fn has(&self, v: &Value) -> bool {
        match v {
            Value::Null => false,
            Value::Int(x) => self.has_int(*x),
            Value::Float(f) => self.has_float(*f),
            Value::Bool(b) => self.bools[usize::from(*b)],
            Value::String(s) => self.strs.contains(s),
            Value::Json(j) => self.jsons.iter().any(|c| c == j),
        }
    }
}

/// `expr [not] in (list)` at the positions `sel`.
pub(super) fn in_list(
    expr: &Node,
    list: &[Node],
    set: Option<&ConstSet>,
    negated: bool,
    st: &mut State<'_>,
    sel: Sel<'_>,
) -> Result<Mask> {
    let v = eval(expr, st, sel)?;
    match set {
        Some(set) => with_set(&v, set, negated, st.len, sel),
        None => general(&v, list, negated, st, sel),
    }
}

/// The positions of `sel` where `column [not] in (set)` is true, for a
/// column of ints, floats or strings; `None` otherwise.
pub(super) fn select_column(
    v: &Vector,
    set: &ConstSet,
    negated: bool,
    sel: Sel<'_>,
) -> Option<Vec<u32>> {
    // True on a hit for `in`; on a miss for `not in`, unless a candidate
    // is null (then a miss is null).
    let keep = |hit: bool| if hit { !negated } else { negated && !set.null };
    Some(match v.data() {
        Data::Int(x) => sel.filter(|p| !v.is_null(p) && keep(set.has_int(x[p]))),
        Data::Float(x) => sel.filter(|p| !v.is_null(p) && keep(set.has_float(x[p]))),
        Data::Str(t) => sel.filter(|p| !v.is_null(p) && keep(set.strs.contains(t.str(p)))),
        _ => return None,
    })
}

/// Against a set of constants.
fn with_set(v: &Col, set: &ConstSet, negated: bool, len: usize, sel: Sel<'_>) -> Result<Mask> {
    // No candidate equal: null if one is null, else false.
    let miss = if set.null { None } else { Some(negated) };
    let answer = |hit: bool| if hit { Some(!negated) } else { miss };
    match v {
        Col::Vec(vec) => match vec.data() {
            Data::Int(x) => {
                return build_mask(len, sel, |p| {
                    Ok((!vec.is_null(p))
                        .then(|| answer(set.has_int(x[p])))
                        .flatten())
                });
            }
            Data::Float(x) => {
                return build_mask(len, sel, |p| {
                    Ok((!vec.is_null(p))
                        .then(|| answer(set.has_float(x[p])))
                        .flatten())
                });
            }
            Data::Str(t) => {
                return build_mask(len, sel, |p| {
                    Ok((!vec.is_null(p))
                        .then(|| answer(set.strs.contains(t.str(p))))
                        .flatten())
                });
            }
            _ => {}
        },
        Col::Const(Value::Null) => return Ok(Mask::nulls(len)),
        Col::Const(c) => return Ok(Mask::repeat(answer(set.has(c)), len)),
    }
    build_mask(len, sel, |p| {
        let x = v.value(p)?;
        Ok(if x.is_null() {
            None
        } else {
            answer(set.has(&x))
        })
    })
}

/// Candidates computed per row: each evaluated only at the rows still
/// undecided, in order.
fn general(
    v: &Col,
    list: &[Node],
    negated: bool,
    st: &mut State<'_>,
    sel: Sel<'_>,
) -> Result<Mask> {
    let len = st.len;
    let mut hit = vec![false; len];
    let mut saw_null = vec![false; len];
    let mut rest = sel.filter(|p| !v.is_null(p));
    let mut values: Vec<Value> = vec![Value::Null; len];
    for &p in &rest {
        values[p as usize] = v.value(p as usize)?;
    }
    for item in list {
        if rest.is_empty() {
            break;
        }
        let x = eval(item, st, Sel::Some(&rest))?;
        let mut still = Vec::with_capacity(rest.len());
        for &p in &rest {
            let p = p as usize;
            let c = x.value(p)?;
            match values[p].sql_cmp(&c) {
                Some(Ordering::Equal) => hit[p] = true,
                None if c.is_null() => {
                    saw_null[p] = true;
                    still.push(p as u32);
                }
                _ => still.push(p as u32),
            }
        }
        rest = still;
    }
    build_mask(len, sel, |p| {
        Ok(if v.is_null(p) {
            None
        } else if hit[p] {
            Some(!negated)
        } else if saw_null[p] {
            None
        } else {
            Some(negated)
        })
    })
}
