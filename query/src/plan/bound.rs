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
use crate::cast::cast;
use crate::error::Result;
use crate::expr::{and, arith, check_pattern, compare, json_path, like, neg, not, or};
use crate::func::{ScalarFunc, concat_op, modulo, widen};
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
    /// A scalar function call, its arguments checked against it.
    Function {
        /// The function.
        func: ScalarFunc,
        /// The arguments.
        args: Vec<BoundExpr>,
        /// The result type when known; an int result is widened to float
        /// where it is float (`coalesce(int_col, 0.5)`).
        ty: Option<ColumnType>,
    },
    /// `case [operand] when c then r … [else e] end`: the first `r` whose
    /// `c` is true (or equals `operand`); only that `r` is evaluated.
    Case {
        /// The value compared with each `when` (simple form).
        operand: Option<Box<BoundExpr>>,
        /// `when` / `then` pairs.
        whens: Vec<(BoundExpr, BoundExpr)>,
        /// `else`; `null` when absent.
        else_result: Option<Box<BoundExpr>>,
        /// The result type when known (ints widened where it is float).
        ty: Option<ColumnType>,
    },
    /// `cast(e as ty)`.
    Cast {
        /// The converted value.
        expr: Box<BoundExpr>,
        /// The target type.
        ty: ColumnType,
    },
}

impl BoundExpr {
    /// The type of every non-null value the expression yields, when
    /// binding knows it (`None` for a json path, a `null` literal, a
    /// placeholder's value).
    pub(crate) fn result_type(&self) -> Option<ColumnType> {
        match self {
            BoundExpr::Literal(v) => v.column_type(),
            BoundExpr::Column { ty, .. } => *ty,
            BoundExpr::Path { .. } => None,
            BoundExpr::Unary {
                op: UnaryOp::Neg,
                expr,
            } => expr.result_type(),
            BoundExpr::Binary { op, left, right } => match op {
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                    match (left.result_type()?, right.result_type()?) {
                        (ColumnType::Int, ColumnType::Int) => Some(ColumnType::Int),
                        _ => Some(ColumnType::Float),
                    }
                }
                BinaryOp::Concat => Some(ColumnType::String),
                _ => Some(ColumnType::Bool),
            },
            BoundExpr::Unary { .. }
            | BoundExpr::Like { .. }
            | BoundExpr::IsNull { .. }
            | BoundExpr::InList { .. }
            | BoundExpr::Between { .. } => Some(ColumnType::Bool),
            BoundExpr::Function { ty, .. } | BoundExpr::Case { ty, .. } => *ty,
            BoundExpr::Cast { ty, .. } => Some(*ty),
        }
    }

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
                    BinaryOp::Mod => modulo(&a, &right.eval_row(row)?)?,
                    BinaryOp::Concat => concat_op(&a, &right.eval_row(row)?)?,
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
            BoundExpr::Function { .. } | BoundExpr::Case { .. } => self.eval_scalar(row)?,
            BoundExpr::Cast { expr, ty } => cast(&expr.eval_row(row)?, *ty)?,
        })
    }

    /// [`BoundExpr::eval_row`] of a function call or `case`, apart so
    /// that the recursive function's frame stays small.
    #[inline(never)]
    fn eval_scalar(&self, row: &[Value]) -> Result<Value> {
        Ok(match self {
            BoundExpr::Function {
                func: ScalarFunc::Coalesce,
                args,
                ty,
            } => {
                // Lazy: the arguments after the first non-null one are
                // not evaluated.
                for a in args {
                    let v = a.eval_row(row)?;
                    if !v.is_null() {
                        return Ok(widen(v, *ty));
                    }
                }
                Value::Null
            }
            BoundExpr::Function { func, args, ty } => {
                let vals = args
                    .iter()
                    .map(|a| a.eval_row(row))
                    .collect::<Result<Vec<_>>>()?;
                func.eval(&vals, *ty)?
            }
            BoundExpr::Case {
                operand,
                whens,
                else_result,
                ty,
            } => {
                let subject = match operand {
                    Some(o) => Some(o.eval_row(row)?),
                    None => None,
                };
                for (c, r) in whens {
                    let cv = c.eval_row(row)?;
                    let hit = match &subject {
                        Some(s) => compare(BinaryOp::Eq, s, &cv),
                        None => cv,
                    };
                    if matches!(hit, Value::Bool(true)) {
                        return Ok(widen(r.eval_row(row)?, *ty));
                    }
                }
                match else_result {
                    Some(e) => widen(e.eval_row(row)?, *ty),
                    None => Value::Null,
                }
            }
            _ => Value::Null,
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
            BoundExpr::Function { args, .. } => args.iter().for_each(|x| x.visit(f)),
            BoundExpr::Case {
                operand,
                whens,
                else_result,
                ..
            } => {
                if let Some(o) = operand {
                    o.visit(f);
                }
                for (c, r) in whens {
                    c.visit(f);
                    r.visit(f);
                }
                if let Some(e) = else_result {
                    e.visit(f);
                }
            }
            BoundExpr::Cast { expr, .. } => expr.visit(f),
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
            BoundExpr::Function { func, args, ty } => BoundExpr::Function {
                func: *func,
                args: args.iter().map(|x| x.remap(map)).collect(),
                ty: *ty,
            },
            BoundExpr::Case {
                operand,
                whens,
                else_result,
                ty,
            } => BoundExpr::Case {
                operand: operand.as_deref().map(r),
                whens: whens
                    .iter()
                    .map(|(c, v)| (c.remap(map), v.remap(map)))
                    .collect(),
                else_result: else_result.as_deref().map(r),
                ty: *ty,
            },
            BoundExpr::Cast { expr, ty } => BoundExpr::Cast {
                expr: r(expr),
                ty: *ty,
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
            BoundExpr::Function { func, args, .. } => crate::ast::write_call(f, func.name(), args),
            BoundExpr::Case {
                operand,
                whens,
                else_result,
                ..
            } => {
                f.write_str("case")?;
                if let Some(o) = operand {
                    write!(f, " {o}")?;
                }
                crate::ast::write_case_arms(f, whens, else_result.as_deref())
            }
            BoundExpr::Cast { expr, ty } => write!(f, "cast({expr} as {})", ty.name()),
        }
    }
}
