//! Bound expressions: the syntax tree's expressions with every name
//! resolved to a column of the operator's input, so that planning and
//! execution never look a name up again. A second front end (SQL) builds
//! the same trees.
//!
//! [`BoundExpr::eval_row`] evaluates one over a row of owned values: the
//! reference semantics of docs/language.md (three-valued logic, numbers
//! compared across int and float, errors for arithmetic on non-numbers)
//! and the general fallback of the vector kernels, which must agree with
//! it on every input.

use std::cmp::Ordering;
use std::fmt;

use crate::ast::{BinaryOp, ColumnType, UnaryOp};
use crate::error::Result;
use crate::expr::{and, arith, check_pattern, compare, json_path, like, neg, not, or};
use crate::value::Value;

/// An expression over the columns of an operator's input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum BoundExpr {
    /// A constant.
    Literal(Value),
    /// Input column `index`, of declared type `ty` (`None` when the input
    /// column has no declared type: an expression's result).
    Column {
        /// Position in the input.
        index: usize,
        /// Declared type, when known.
        ty: Option<ColumnType>,
        /// The name as written, for `explain`.
        name: String,
    },
    /// A path into a json value: `metadata.level`, `doc.items.0`.
    Path {
        /// The json value.
        base: Box<BoundExpr>,
        /// Object keys and array indexes, in order.
        path: Vec<String>,
    },
    /// `not e`, `-e`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<BoundExpr>,
    },
    /// Arithmetic, comparison, `and`, `or`.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left operand.
        left: Box<BoundExpr>,
        /// Right operand.
        right: Box<BoundExpr>,
    },
    /// `e [not] like pattern`.
    Like {
        /// The tested value.
        expr: Box<BoundExpr>,
        /// The pattern.
        pattern: Box<BoundExpr>,
        /// `not like`.
        negated: bool,
    },
    /// `e is [not] null`.
    IsNull {
        /// The tested value.
        expr: Box<BoundExpr>,
        /// `is not null`.
        negated: bool,
    },
    /// `e [not] in (a, b, …)`.
    InList {
        /// The tested value.
        expr: Box<BoundExpr>,
        /// The candidates.
        list: Vec<BoundExpr>,
        /// `not in`.
        negated: bool,
    },
    /// `e [not] between low and high`.
    Between {
        /// The tested value.
        expr: Box<BoundExpr>,
        /// Lower bound, inclusive.
        low: Box<BoundExpr>,
        /// Upper bound, inclusive.
        high: Box<BoundExpr>,
        /// `not between`.
        negated: bool,
    },
}

impl BoundExpr {
    /// A reference to input column `index`.
    pub(crate) fn column(
        index: usize,
        ty: Option<ColumnType>,
        name: impl Into<String>,
    ) -> BoundExpr {
        BoundExpr::Column {
            index,
            ty,
            name: name.into(),
        }
    }

    /// The value of this expression for one input row.
    pub(crate) fn eval_row(&self, row: &[Value]) -> Result<Value> {
        Ok(match self {
            BoundExpr::Literal(v) => v.clone(),
            BoundExpr::Column { index, .. } => row.get(*index).cloned().unwrap_or(Value::Null),
            BoundExpr::Path { base, path } => json_path(&base.eval_row(row)?, path),
            BoundExpr::Unary { op, expr } => {
                let v = expr.eval_row(row)?;
                match op {
                    UnaryOp::Not => not(&v),
                    UnaryOp::Neg => neg(&v)?,
                }
            }
            BoundExpr::Binary { op, left, right } => {
                let a = left.eval_row(row)?;
                match op {
                    // `false and x` and `true or x` never evaluate `x`.
                    BinaryOp::And if matches!(a, Value::Bool(false)) => a,
                    BinaryOp::Or if matches!(a, Value::Bool(true)) => a,
                    BinaryOp::And => and(&a, &right.eval_row(row)?),
                    BinaryOp::Or => or(&a, &right.eval_row(row)?),
                    BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
                        arith(*op, &a, &right.eval_row(row)?)?
                    }
                    _ => compare(*op, &a, &right.eval_row(row)?),
                }
            }
            BoundExpr::Like {
                expr,
                pattern,
                negated,
            } => match (expr.eval_row(row)?, pattern.eval_row(row)?) {
                (Value::String(s), Value::String(p)) => {
                    check_pattern(&p)?;
                    let pat: Vec<char> = p.chars().collect();
                    Value::Bool(like(&s, &pat) != *negated)
                }
                _ => Value::Null,
            },
            BoundExpr::IsNull { expr, negated } => {
                Value::Bool(expr.eval_row(row)?.is_null() != *negated)
            }
            BoundExpr::InList {
                expr,
                list,
                negated,
            } => {
                let v = expr.eval_row(row)?;
                if v.is_null() {
                    return Ok(Value::Null);
                }
                let mut saw_null = false;
                for item in list {
                    let x = item.eval_row(row)?;
                    match v.sql_cmp(&x) {
                        Some(Ordering::Equal) => return Ok(Value::Bool(!negated)),
                        None if x.is_null() => saw_null = true,
                        _ => {}
                    }
                }
                if saw_null {
                    Value::Null
                } else {
                    Value::Bool(*negated)
                }
            }
            BoundExpr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let v = expr.eval_row(row)?;
                let ge = compare(BinaryOp::GtEq, &v, &low.eval_row(row)?);
                let le = compare(BinaryOp::LtEq, &v, &high.eval_row(row)?);
                let both = and(&ge, &le);
                if *negated { not(&both) } else { both }
            }
        })
    }

    /// The input columns this expression reads, appended to `out`.
    pub(crate) fn columns(&self, out: &mut Vec<usize>) {
        self.visit(&mut |e| {
            if let BoundExpr::Column { index, .. } = e {
                out.push(*index);
            }
        });
    }

    /// Calls `f` on this expression and every expression inside it.
    pub(crate) fn visit(&self, f: &mut dyn FnMut(&BoundExpr)) {
        f(self);
        match self {
            BoundExpr::Literal(_) | BoundExpr::Column { .. } => {}
            BoundExpr::Path { base, .. } => base.visit(f),
            BoundExpr::Unary { expr, .. } | BoundExpr::IsNull { expr, .. } => expr.visit(f),
            BoundExpr::Binary { left, right, .. } => {
                left.visit(f);
                right.visit(f);
            }
            BoundExpr::Like { expr, pattern, .. } => {
                expr.visit(f);
                pattern.visit(f);
            }
            BoundExpr::InList { expr, list, .. } => {
                expr.visit(f);
                list.iter().for_each(|x| x.visit(f));
            }
            BoundExpr::Between {
                expr, low, high, ..
            } => {
                expr.visit(f);
                low.visit(f);
                high.visit(f);
            }
        }
    }

    /// The same expression with every column index mapped through `map`
    /// (when an operator's input columns are rearranged).
    pub(crate) fn remap(&self, map: &dyn Fn(usize) -> usize) -> BoundExpr {
        let r = |e: &BoundExpr| Box::new(e.remap(map));
        match self {
            BoundExpr::Literal(v) => BoundExpr::Literal(v.clone()),
            BoundExpr::Column { index, ty, name } => BoundExpr::Column {
                index: map(*index),
                ty: *ty,
                name: name.clone(),
            },
            BoundExpr::Path { base, path } => BoundExpr::Path {
                base: r(base),
                path: path.clone(),
            },
            BoundExpr::Unary { op, expr } => BoundExpr::Unary {
                op: *op,
                expr: r(expr),
            },
            BoundExpr::Binary { op, left, right } => BoundExpr::Binary {
                op: *op,
                left: r(left),
                right: r(right),
            },
            BoundExpr::Like {
                expr,
                pattern,
                negated,
            } => BoundExpr::Like {
                expr: r(expr),
                pattern: r(pattern),
                negated: *negated,
            },
            BoundExpr::IsNull { expr, negated } => BoundExpr::IsNull {
                expr: r(expr),
                negated: *negated,
            },
            BoundExpr::InList {
                expr,
                list,
                negated,
            } => BoundExpr::InList {
                expr: r(expr),
                list: list.iter().map(|x| x.remap(map)).collect(),
                negated: *negated,
            },
            BoundExpr::Between {
                expr,
                low,
                high,
                negated,
            } => BoundExpr::Between {
                expr: r(expr),
                low: r(low),
                high: r(high),
                negated: *negated,
            },
        }
    }
}

/// Prints the expression as the fasty language writes it (columns by the
/// names they were written with), for `explain`.
impl fmt::Display for BoundExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoundExpr::Literal(v) => match v {
                Value::String(s) => crate::ast::write_string(f, s),
                // As the language writes it: always marked as a float.
                Value::Float(x) => write!(f, "{x:?}"),
                Value::Json(j) => write!(f, "{j}"),
                v => write!(f, "{v}"),
            },
            BoundExpr::Column { name, .. } => f.write_str(name),
            BoundExpr::Path { base, path } => {
                write!(f, "{base}")?;
                path.iter().try_for_each(|p| write!(f, ".{p}"))
            }
            BoundExpr::Unary {
                op: UnaryOp::Not,
                expr,
            } => write!(f, "not {expr}"),
            BoundExpr::Unary {
                op: UnaryOp::Neg,
                expr,
            } => write!(f, "-{expr}"),
            BoundExpr::Binary { op, left, right } => {
                let wrap = |e: &BoundExpr, f: &mut fmt::Formatter<'_>| match e {
                    BoundExpr::Binary { op: inner, .. } if inner.precedence() < op.precedence() => {
                        write!(f, "({e})")
                    }
                    _ => write!(f, "{e}"),
                };
                wrap(left, f)?;
                write!(f, " {} ", op.symbol())?;
                wrap(right, f)
            }
            BoundExpr::Like {
                expr,
                pattern,
                negated,
            } => write!(
                f,
                "{expr} {}like {pattern}",
                if *negated { "not " } else { "" }
            ),
            BoundExpr::IsNull { expr, negated } => {
                write!(f, "{expr} is {}null", if *negated { "not " } else { "" })
            }
            BoundExpr::InList {
                expr,
                list,
                negated,
            } => {
                write!(f, "{expr} {}in (", if *negated { "not " } else { "" })?;
                for (i, x) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str(")")
            }
            BoundExpr::Between {
                expr,
                low,
                high,
                negated,
            } => write!(
                f,
                "{expr} {}between {low} and {high}",
                if *negated { "not " } else { "" }
            ),
        }
    }
}
