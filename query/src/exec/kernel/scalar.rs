//! Functions, casts, `%`, `||`, `case` and `coalesce` over vectors. A
//! function's arguments are evaluated as vectors and the function is
//! applied position by position (the row path's semantics, without
//! building rows). `case` and `coalesce` narrow the positions in play
//! step by step, so a result or a later argument is evaluated only where
//! the row path would evaluate it (and so raises errors only there).

use crate::ast::ColumnType;
use crate::error::Result;
use crate::func::widen;
use crate::value::Value;

use super::compile::{Node, Scalar};
use super::eval::{Col, Sel, State, build, eval, mask};

/// `op` applied at each position of `sel` to the values of `args`.
pub(super) fn scalar(op: Scalar, args: &[Node], st: &mut State<'_>, sel: Sel<'_>) -> Result<Col> {
    let cols = args
        .iter()
        .map(|a| eval(a, st, sel))
        .collect::<Result<Vec<_>>>()?;
    if cols.iter().all(|c| matches!(c, Col::Const(_))) {
        // Folded when compiled unless it failed: evaluated once, and only
        // with a row in play.
        if sel.is_empty() {
            return Ok(Col::Const(Value::Null));
        }
        let vals = cols
            .iter()
            .map(|c| c.value(0))
            .collect::<Result<Vec<_>>>()?;
        return Ok(Col::Const(op.apply(&vals)?));
    }
    let mut vals = vec![Value::Null; cols.len()];
    build(st.len, sel, |p| {
        for (slot, c) in vals.iter_mut().zip(&cols) {
            *slot = c.value(p)?;
        }
        op.apply(&vals)
    })
}

/// Which branch gave each position its value, and the branches' values.
struct Picks {
    /// Per position: the index into `cols` (`usize::MAX`: null).
    which: Vec<usize>,
    /// Each branch's value, at the positions it was evaluated for.
    cols: Vec<Col>,
}

impl Picks {
    fn new(len: usize) -> Picks {
        Picks {
            which: vec![usize::MAX; len],
            cols: Vec::new(),
        }
    }

    /// Branch `n` evaluated at `positions`, which take their value from it.
    fn take(&mut self, n: &Node, positions: &[u32], st: &mut State<'_>) -> Result<()> {
        if positions.is_empty() {
            return Ok(());
        }
        let c = eval(n, st, Sel::Some(positions))?;
        let k = self.cols.len();
        self.cols.push(c);
        for &p in positions {
            self.which[p as usize] = k;
        }
        Ok(())
    }

    /// The assembled vector, ints widened where `ty` is float.
    fn finish(self, len: usize, sel: Sel<'_>, ty: Option<ColumnType>) -> Result<Col> {
        build(len, sel, |p| {
            Ok(match self.cols.get(self.which[p]) {
                Some(c) => widen(c.value(p)?, ty),
                None => Value::Null,
            })
        })
    }
}

/// `case when c1 then r1 … [else e] end`.
pub(super) fn case(
    whens: &[(Node, Node)],
    else_result: Option<&Node>,
    ty: Option<ColumnType>,
    st: &mut State<'_>,
    sel: Sel<'_>,
) -> Result<Col> {
    let mut picks = Picks::new(st.len);
    let mut rest: Vec<u32> = sel.iter().map(|p| p as u32).collect();
    for (c, r) in whens {
        if rest.is_empty() {
            break;
        }
        let m = mask(c, st, Sel::Some(&rest))?;
        let (hit, miss): (Vec<u32>, Vec<u32>) = rest.iter().partition(|&&p| m.val[p as usize]);
        picks.take(r, &hit, st)?;
        rest = miss;
    }
    if let Some(e) = else_result {
        picks.take(e, &rest, st)?;
    }
    picks.finish(st.len, sel, ty)
}

/// `coalesce(a, b, …)`.
pub(super) fn coalesce(
    args: &[Node],
    ty: Option<ColumnType>,
    st: &mut State<'_>,
    sel: Sel<'_>,
) -> Result<Col> {
    let mut picks = Picks::new(st.len);
    let mut rest: Vec<u32> = sel.iter().map(|p| p as u32).collect();
    for a in args {
        if rest.is_empty() {
            break;
        }
        let c = eval(a, st, Sel::Some(&rest))?;
        let (set, null): (Vec<u32>, Vec<u32>) = rest.iter().partition(|&&p| !c.is_null(p as usize));
        if !set.is_empty() {
            let k = picks.cols.len();
            picks.cols.push(c);
            for &p in &set {
                picks.which[p as usize] = k;
            }
        }
        rest = null;
    }
    picks.finish(st.len, sel, ty)
}
