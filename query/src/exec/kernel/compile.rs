//! From a [`BoundExpr`] to a tree of kernels: constants folded, `not`
//! pushed into the node below it where that is exact, comparisons turned
//! to put a constant on the right, `like` patterns and constant `in`
//! lists prepared once.

use crate::ast::{BinaryOp, ColumnType, UnaryOp};
use crate::cast::cast;
use crate::error::{Error, ErrorCode, Result};
use crate::func::{ScalarFunc, concat_op, modulo};
use crate::parser::MAX_DEPTH;
use crate::plan::bound::BoundExpr;
use crate::value::Value;

use super::in_list::ConstSet;
use super::like::Pattern;

/// Deepest tree compiled: the parser's bound, with room for the levels
/// planning adds (a rewritten predicate, a pushed-down conjunct).
const MAX_KERNEL_DEPTH: u32 = MAX_DEPTH * 2;

/// A kernel: one node of a compiled expression.
#[derive(Debug, Clone)]
pub(super) enum Node {
    /// A constant, the same at every row.
    Const(Value),
    /// Input column `index` (null when the chunk has no such column).
    Column(usize),
    /// A path into a json value.
    Path {
        /// The json value.
        base: Box<Node>,
        /// Object keys and array indexes.
        path: Vec<String>,
    },
    /// `not e`.
    Not(Box<Node>),
    /// `-e`.
    Neg(Box<Node>),
    /// `a and b`: `b` only where `a` is not false.
    And {
        /// Left side.
        left: Box<Node>,
        /// Right side.
        right: Box<Node>,
        /// Whether the right side can raise an error (then `select`
        /// evaluates it wherever the row path would, not only where the
        /// left side is true).
        right_fallible: bool,
    },
    /// `a or b`: `b` only where `a` is not true.
    Or(Box<Node>, Box<Node>),
    /// A comparison (`= != < <= > >=`).
    Cmp(BinaryOp, Box<Node>, Box<Node>),
    /// `+ - * /`.
    Arith(BinaryOp, Box<Node>, Box<Node>),
    /// `e [not] like pattern`.
    Like {
        /// The tested value.
        expr: Box<Node>,
        /// The pattern, prepared when constant.
        pattern: Pattern,
        /// `not like`.
        negated: bool,
    },
    /// `e is [not] null`.
    IsNull(Box<Node>, bool),
    /// `e [not] in (…)`.
    In {
        /// The tested value.
        expr: Box<Node>,
        /// The candidates, in order.
        list: Vec<Node>,
        /// The candidates as a set, when every one is a constant.
        set: Option<ConstSet>,
        /// `not in`.
        negated: bool,
    },
    /// `e [not] between low and high`.
    Between {
        /// The tested value.
        expr: Box<Node>,
        /// Lower bound.
        low: Box<Node>,
        /// Upper bound.
        high: Box<Node>,
        /// `not between`.
        negated: bool,
    },
    /// Evaluated row by row through [`BoundExpr::eval_row`]: a constant
    /// whose evaluation fails (it must fail only where a row reaches it).
    Row(Box<BoundExpr>),
    /// A function of values computed position by position over the
    /// vectors of its arguments (all evaluated): a scalar function, a
    /// cast, `%`, `||`.
    Scalar(Scalar, Vec<Node>),
    /// `case`: each result evaluated only at the positions whose
    /// condition is the first true one; the simple form is compiled to
    /// `operand = value` conditions.
    Case {
        /// Conditions and results, in order.
        whens: Vec<(Node, Node)>,
        /// `else`, when written.
        else_result: Option<Box<Node>>,
        /// The result type (ints widened where it is float).
        ty: Option<ColumnType>,
    },
    /// `coalesce`: each argument evaluated only where all before it were
    /// null.
    Coalesce(Vec<Node>, Option<ColumnType>),
}

/// What a [`Node::Scalar`] computes.
#[derive(Debug, Clone, Copy)]
pub(super) enum Scalar {
    /// A function, with its bound result type.
    Func(ScalarFunc, Option<ColumnType>),
    /// `cast(… as ty)`.
    Cast(ColumnType),
    /// `%`.
    Mod,
    /// `||`.
    Concat,
}

impl Scalar {
    /// The operation on one position's argument values.
    pub(super) fn apply(self, args: &[Value]) -> Result<Value> {
        match (self, args) {
            (Scalar::Func(f, ty), _) => f.eval(args, ty),
            (Scalar::Cast(ty), [v]) => cast(v, ty),
            (Scalar::Mod, [a, b]) => modulo(a, b),
            (Scalar::Concat, [a, b]) => concat_op(a, b),
            _ => Ok(Value::Null),
        }
    }
}

/// Compiles `e`.
pub(super) fn compile(e: &BoundExpr) -> Result<Node> {
    node(e, 0)
}

fn node(e: &BoundExpr, depth: u32) -> Result<Node> {
    if depth > MAX_KERNEL_DEPTH {
        return Err(Error::query(
            ErrorCode::TooComplex,
            format!("expression nested too deeply (at most {MAX_KERNEL_DEPTH} levels)"),
        ));
    }
    if !matches!(e, BoundExpr::Literal(_)) && !reads_columns(e) {
        // The same at every row: evaluated once, here.
        return Ok(match e.eval_row(&[]) {
            Ok(v) => Node::Const(v),
            Err(_) => Node::Row(Box::new(e.clone())),
        });
    }
    let sub = |x: &BoundExpr| node(x, depth + 1).map(Box::new);
    Ok(match e {
        BoundExpr::Literal(v) => Node::Const(v.clone()),
        BoundExpr::Column { index, .. } => Node::Column(*index),
        BoundExpr::Path { base, path } => Node::Path {
            base: sub(base)?,
            path: path.clone(),
        },
        BoundExpr::Unary {
            op: UnaryOp::Neg,
            expr,
        } => Node::Neg(sub(expr)?),
        BoundExpr::Unary {
            op: UnaryOp::Not,
            expr,
        } => negate(*sub(expr)?),
        BoundExpr::Binary { op, left, right } => {
            let (l, r) = (sub(left)?, sub(right)?);
            match op {
                BinaryOp::And => Node::And {
                    right_fallible: fallible(&r),
                    left: l,
                    right: r,
                },
                BinaryOp::Or => Node::Or(l, r),
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div => {
                    Node::Arith(*op, l, r)
                }
                BinaryOp::Mod => Node::Scalar(Scalar::Mod, vec![*l, *r]),
                BinaryOp::Concat => Node::Scalar(Scalar::Concat, vec![*l, *r]),
                _ => match (*l, *r) {
                    // A constant goes right: `5 < a` is `a > 5`.
                    (Node::Const(c), r) if !matches!(r, Node::Const(_)) => {
                        Node::Cmp(mirror(*op), Box::new(r), Box::new(Node::Const(c)))
                    }
                    (l, r) => Node::Cmp(*op, Box::new(l), Box::new(r)),
                },
            }
        }
        BoundExpr::Like {
            expr,
            pattern,
            negated,
        } => Node::Like {
            expr: sub(expr)?,
            pattern: Pattern::new(*sub(pattern)?),
            negated: *negated,
        },
        BoundExpr::IsNull { expr, negated } => Node::IsNull(sub(expr)?, *negated),
        BoundExpr::InList {
            expr,
            list,
            negated,
        } => {
            let list = list
                .iter()
                .map(|x| node(x, depth + 1))
                .collect::<Result<Vec<_>>>()?;
            Node::In {
                expr: sub(expr)?,
                set: ConstSet::new(&list),
                list,
                negated: *negated,
            }
        }
        BoundExpr::Between {
            expr,
            low,
            high,
            negated,
        } => Node::Between {
            expr: sub(expr)?,
            low: sub(low)?,
            high: sub(high)?,
            negated: *negated,
        },
        BoundExpr::Function { .. } | BoundExpr::Case { .. } | BoundExpr::Cast { .. } => {
            scalar_node(e, depth)?
        }
    })
}

/// [`node`] of a function call, `cast` or `case`, apart so that the
/// recursive function's frame stays small.
#[inline(never)]
fn scalar_node(e: &BoundExpr, depth: u32) -> Result<Node> {
    Ok(match e {
        BoundExpr::Function {
            func: ScalarFunc::Coalesce,
            args,
            ty,
        } => Node::Coalesce(
            args.iter()
                .map(|x| node(x, depth + 1))
                .collect::<Result<_>>()?,
            *ty,
        ),
        BoundExpr::Function { func, args, ty } => Node::Scalar(
            Scalar::Func(*func, *ty),
            args.iter()
                .map(|x| node(x, depth + 1))
                .collect::<Result<_>>()?,
        ),
        BoundExpr::Cast { expr, ty } => {
            Node::Scalar(Scalar::Cast(*ty), vec![*Box::new(node(expr, depth + 1)?)])
        }
        BoundExpr::Case {
            operand,
            whens,
            else_result,
            ty,
        } => {
            let subject = match operand {
                Some(o) => Some(node(o, depth + 1)?),
                None => None,
            };
            let mut out = Vec::with_capacity(whens.len());
            for (c, r) in whens {
                let c = node(c, depth + 1)?;
                let c = match &subject {
                    // `case s when v` tests `s = v`.
                    Some(s) => match (s.clone(), c) {
                        (Node::Const(k), c) if !matches!(c, Node::Const(_)) => {
                            Node::Cmp(BinaryOp::Eq, Box::new(c), Box::new(Node::Const(k)))
                        }
                        (s, c) => Node::Cmp(BinaryOp::Eq, Box::new(s), Box::new(c)),
                    },
                    None => c,
                };
                out.push((c, node(r, depth + 1)?));
            }
            Node::Case {
                whens: out,
                else_result: match else_result {
                    Some(e) => Some(Box::new(node(e, depth + 1)?)),
                    None => None,
                },
                ty: *ty,
            }
        }
        _ => Node::Row(Box::new(e.clone())),
    })
}

/// Whether `e` reads an input column anywhere.
fn reads_columns(e: &BoundExpr) -> bool {
    let mut any = false;
    e.visit(&mut |x| any |= matches!(x, BoundExpr::Column { .. }));
    any
}

/// `not n`, pushed into `n` where the result is the same at every row:
/// a comparison's truth value is the opposite comparison's (both null
/// together), and `like`, `in`, `between`, `is null` have a negated form.
fn negate(n: Node) -> Node {
    match n {
        Node::Cmp(op, l, r) => Node::Cmp(opposite(op), l, r),
        Node::IsNull(e, negated) => Node::IsNull(e, !negated),
        Node::Like {
            expr,
            pattern,
            negated,
        } => Node::Like {
            expr,
            pattern,
            negated: !negated,
        },
        Node::In {
            expr,
            list,
            set,
            negated,
        } => Node::In {
            expr,
            list,
            set,
            negated: !negated,
        },
        Node::Between {
            expr,
            low,
            high,
            negated,
        } => Node::Between {
            expr,
            low,
            high,
            negated: !negated,
        },
        n => Node::Not(Box::new(n)),
    }
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

/// The comparison true exactly where `op` is false (given both sides
/// compare).
fn opposite(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Eq => BinaryOp::NotEq,
        BinaryOp::NotEq => BinaryOp::Eq,
        BinaryOp::Lt => BinaryOp::GtEq,
        BinaryOp::LtEq => BinaryOp::Gt,
        BinaryOp::Gt => BinaryOp::LtEq,
        BinaryOp::GtEq => BinaryOp::Lt,
        op => op,
    }
}

/// Whether evaluating `n` can raise an error on some row: arithmetic,
/// negation, a `like` pattern that may be too long, a failing constant,
/// a function, a cast.
pub(super) fn fallible(n: &Node) -> bool {
    match n {
        Node::Const(_) | Node::Column(_) => false,
        Node::Row(_) | Node::Arith(..) | Node::Neg(_) => true,
        Node::Path { base, .. } => fallible(base),
        Node::Not(e) | Node::IsNull(e, _) => fallible(e),
        Node::And { left, right, .. } => fallible(left) || fallible(right),
        Node::Or(l, r) | Node::Cmp(_, l, r) => fallible(l) || fallible(r),
        Node::Like { expr, pattern, .. } => fallible(expr) || pattern.fallible(),
        Node::In { expr, list, .. } => fallible(expr) || list.iter().any(fallible),
        Node::Between {
            expr, low, high, ..
        } => fallible(expr) || fallible(low) || fallible(high),
        Node::Scalar(..) => true,
        Node::Coalesce(args, _) => args.iter().any(fallible),
        Node::Case {
            whens, else_result, ..
        } => {
            whens.iter().any(|(c, r)| fallible(c) || fallible(r))
                || else_result.as_deref().is_some_and(fallible)
        }
    }
}
