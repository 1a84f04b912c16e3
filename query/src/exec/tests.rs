//! Operator tests over chunks made in the test: each operator against a
//! row-at-a-time oracle.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::ast::BinaryOp;
use crate::limits::Limits;
use crate::plan::bound::BoundExpr;
use crate::value::Value;
use crate::vector::Vector;

/// An operator handing out chunks given up front.
pub(crate) struct Source(pub Vec<Chunk>);

impl Operator for Source {
    fn next(&mut self) -> Result<Option<Chunk>> {
        Ok(if self.0.is_empty() {
            None
        } else {
            Some(self.0.remove(0))
        })
    }
}

/// Chunks of at most `size` rows of one int column `n` holding `values`.
pub(crate) fn int_chunks(values: &[Option<i64>], size: usize) -> Vec<Chunk> {
    values
        .chunks(size.max(1))
        .map(|part| {
            let v: Vec<Value> = part
                .iter()
                .map(|x| x.map_or(Value::Null, Value::Int))
                .collect();
            Chunk::new(vec![Arc::new(Vector::from_values(&v))], v.len())
        })
        .collect()
}

/// Every row an operator produces.
pub(crate) fn drain(op: &mut dyn Operator) -> Vec<Vec<Value>> {
    let mut rows = Vec::new();
    while let Some(c) = op.next().unwrap() {
        rows.extend(c.to_rows().unwrap());
    }
    rows
}

fn n() -> BoundExpr {
    BoundExpr::column(0, None, "n")
}

proptest! {
    #[test]
    fn filter_project_and_limit_agree_with_rows(
        values in prop::collection::vec(prop::option::of(-50i64..50), 0..300),
        size in 1usize..70,
        limit in prop::option::of(0u64..120),
        offset in 0u64..40,
        c in -50i64..50,
    ) {
        let limits = Limits::none();
        let cond = BoundExpr::Binary {
            op: BinaryOp::Gt,
            left: Box::new(n()),
            right: Box::new(BoundExpr::Literal(Value::Int(c))),
        };
        let doubled = BoundExpr::Binary {
            op: BinaryOp::Mul,
            left: Box::new(n()),
            right: Box::new(BoundExpr::Literal(Value::Int(2))),
        };
        let src = Box::new(Source(int_chunks(&values, size)));
        let f = Box::new(filter::Filter::new(src, std::slice::from_ref(&cond), &limits).unwrap());
        let p = Box::new(project::Project::new(f, &[(doubled, "d".into()), (n(), "n".into())]).unwrap());
        let mut l = limit::Limit::new(p, limit, offset);
        let got = drain(&mut l);
        let want: Vec<Vec<Value>> = values
            .iter()
            .filter(|v| v.is_some_and(|v| v > c))
            .map(|v| vec![Value::Int(v.unwrap_or(0) * 2), Value::Int(v.unwrap_or(0))])
            .skip(offset as usize)
            .take(limit.map_or(usize::MAX, |l| l as usize))
            .collect();
        prop_assert_eq!(got, want);
    }
}
