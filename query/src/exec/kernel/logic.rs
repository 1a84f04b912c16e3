//! `and` and `or` with three-valued logic, evaluating the right side
//! only at the rows where the left side does not decide (as the row path
//! does, so the right side's errors arise only there).

use crate::error::Result;

use super::compile::Node;
use super::eval::{Mask, Sel, State, eval, select};

/// The positions of `sel` where `keep` holds.
fn narrow(sel: Sel<'_>, keep: impl Fn(usize) -> bool) -> Vec<u32> {
    sel.filter(keep)
}

/// `a and b` at the positions `sel`: false where `a` is false (`b` not
/// evaluated there), else true when both are true, else null.
pub(super) fn and(a: &Node, b: &Node, st: &mut State<'_>, sel: Sel<'_>) -> Result<Mask> {
    let left = eval(a, st, sel)?;
    let rest = narrow(sel, |p| left.truth(p) != Some(false));
    let right = if rest.is_empty() {
        None
    } else {
        Some(eval(b, st, Sel::Some(&rest))?)
    };
    let mut val = vec![false; st.len];
    let mut valid = vec![false; st.len];
    for p in sel.iter() {
        let r = match left.truth(p) {
            Some(false) => Some(false),
            l => match right.as_ref().and_then(|c| c.truth(p)) {
                Some(false) => Some(false),
                Some(true) if l == Some(true) => Some(true),
                _ => None,
            },
        };
        if let Some(x) = r {
            val[p] = x;
            valid[p] = true;
        }
    }
    Ok(Mask::new(val, Some(valid)))
}

/// `a or b` at the positions `sel`: true where `a` is true (`b` not
/// evaluated there), else false when both are false, else null.
pub(super) fn or(a: &Node, b: &Node, st: &mut State<'_>, sel: Sel<'_>) -> Result<Mask> {
    let left = eval(a, st, sel)?;
    let rest = narrow(sel, |p| left.truth(p) != Some(true));
    let right = if rest.is_empty() {
        None
    } else {
        Some(eval(b, st, Sel::Some(&rest))?)
    };
    let mut val = vec![false; st.len];
    let mut valid = vec![false; st.len];
    for p in sel.iter() {
        let r = match left.truth(p) {
            Some(true) => Some(true),
            l => match right.as_ref().and_then(|c| c.truth(p)) {
                Some(true) => Some(true),
                Some(false) if l == Some(false) => Some(false),
                _ => None,
            },
        };
        if let Some(x) = r {
            val[p] = x;
            valid[p] = true;
        }
    }
    Ok(Mask::new(val, Some(valid)))
}

/// The positions of `sel` where `a and b` is true. When `b` cannot fail,
/// `b` runs only on the rows `a` kept; otherwise it runs wherever `a` is
/// not false (true or null), as the row path evaluates it, so that its
/// errors arise exactly there.
pub(super) fn and_select(
    a: &Node,
    b: &Node,
    b_fallible: bool,
    st: &mut State<'_>,
    sel: Sel<'_>,
) -> Result<Vec<u32>> {
    if !b_fallible {
        let kept = select(a, st, sel)?;
        return select(b, st, Sel::Some(&kept));
    }
    let left = eval(a, st, sel)?;
    let rest = narrow(sel, |p| left.truth(p) != Some(false));
    let both = select(b, st, Sel::Some(&rest))?;
    Ok(narrow(Sel::Some(&both), |p| left.truth(p) == Some(true)))
}

/// The positions of `sel` where `a or b` is true: those `a` keeps, and
/// those `b` keeps among the rest (where `a` is not true, so `b` runs
/// exactly where the row path runs it).
pub(super) fn or_select(a: &Node, b: &Node, st: &mut State<'_>, sel: Sel<'_>) -> Result<Vec<u32>> {
    let first = select(a, st, sel)?;
    if first.len() == sel.iter().len() {
        return Ok(first);
    }
    let rest = {
        // `first` is a subset of `sel`, in order: one cursor into it
        // tells membership.
        let mut it = first.iter().peekable();
        let mut rest = Vec::with_capacity(sel.iter().len() - first.len());
        for p in sel.iter() {
            if it.peek().is_some_and(|&&f| f as usize == p) {
                it.next();
            } else {
                rest.push(p as u32);
            }
        }
        rest
    };
    let second = select(b, st, Sel::Some(&rest))?;
    Ok(merge(&first, &second))
}

/// Two ascending, disjoint position lists as one.
fn merge(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] < b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}
