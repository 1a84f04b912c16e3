//! Binding scalar functions, `case` and `cast`: the function name is
//! resolved (an unknown one is `unsupported`, with a "did you mean"), the
//! argument count and the argument types known at bind time are checked,
//! and the result type is fixed, so that a statement's result columns
//! have types before it runs.

use crate::ast::{ColumnType, Expr};
use crate::cast::castable;
use crate::error::{Error, ErrorCode, Result};
use crate::func::{ArgType, ScalarFunc, common_type};
use crate::plan::bound::BoundExpr;
use crate::value::Value;

/// What binding knows of a bound expression's type.
pub(crate) fn arg_type(e: &BoundExpr) -> ArgType {
    ArgType::of(
        e.result_type(),
        matches!(e, BoundExpr::Literal(Value::Null)),
    )
}

/// Binds a function call, `case` or `cast`; `bind` binds a
/// sub-expression (the caller's binder, whose recursion is bounded by
/// the parser's depth).
#[inline(never)]
pub(crate) fn bind_scalar(
    e: &Expr,
    bind: &dyn Fn(&Expr) -> Result<BoundExpr>,
) -> Result<BoundExpr> {
    match e {
        Expr::Function { name, args } => {
            let Some(func) = ScalarFunc::lookup(name) else {
                return Err(unknown_function(name));
            };
            let args = args.iter().map(bind).collect::<Result<Vec<_>>>()?;
            let types: Vec<ArgType> = args.iter().map(arg_type).collect();
            let ty = func.result_type(&types)?;
            Ok(BoundExpr::Function { func, args, ty })
        }
        Expr::Case {
            operand,
            whens,
            else_result,
        } => {
            let operand = match operand {
                Some(o) => Some(Box::new(bind(o)?)),
                None => None,
            };
            let mut bound = Vec::with_capacity(whens.len());
            for (c, r) in whens {
                bound.push((bind(c)?, bind(r)?));
            }
            let else_result = match else_result {
                Some(x) => Some(Box::new(bind(x)?)),
                None => None,
            };
            match &operand {
                Some(o) => {
                    let mut types = vec![arg_type(o)];
                    types.extend(bound.iter().map(|(c, _)| arg_type(c)));
                    common_type("case", &types)?;
                }
                None => {
                    for (c, _) in &bound {
                        if let ArgType::Known(t) = arg_type(c)
                            && t != ColumnType::Bool
                        {
                            return Err(Error::query(
                                ErrorCode::TypeMismatch,
                                format!("a case condition must be a bool, not {} ({c})", t.name()),
                            ));
                        }
                    }
                }
            }
            let mut results: Vec<ArgType> = bound.iter().map(|(_, r)| arg_type(r)).collect();
            results.push(else_result.as_deref().map_or(ArgType::Null, arg_type));
            let ty = common_type("case result", &results)?;
            Ok(BoundExpr::Case {
                operand,
                whens: bound,
                else_result,
                ty,
            })
        }
        Expr::Cast { expr, ty } => {
            let inner = bind(expr)?;
            if let Some(from) = inner.result_type()
                && !castable(from, *ty)
            {
                return Err(Error::query(
                    ErrorCode::TypeMismatch,
                    format!("cannot cast {} to {}", from.name(), ty.name()),
                ));
            }
            Ok(BoundExpr::Cast {
                expr: Box::new(inner),
                ty: *ty,
            })
        }
        _ => Err(Error::query(
            ErrorCode::Unsupported,
            format!("{e} is not a function call, case or cast"),
        )),
    }
}

/// `unsupported`: no function called `name`, with the closest name.
pub(crate) fn unknown_function(name: &str) -> Error {
    let candidates = ScalarFunc::names().chain(["count", "sum", "avg", "min", "max"]);
    let hint = crate::hint::closest(name, candidates).map(|c| format!("did you mean \"{c}\"?"));
    Error::hinted(
        ErrorCode::Unsupported,
        format!("unknown function \"{name}\""),
        hint,
    )
}

/// The type of a function call, `case` or `cast` written in the
/// statement, from the types of its parts (`type_of` gives those; a
/// `null` literal is marked); `None` when not known or when the call is
/// wrong (binding reports that).
#[inline(never)]
pub(crate) fn expr_type(e: &Expr, type_of: &dyn Fn(&Expr) -> ArgType) -> Option<ColumnType> {
    match e {
        Expr::Function { name, args } => {
            let types: Vec<ArgType> = args.iter().map(type_of).collect();
            ScalarFunc::lookup(name)?.result_type(&types).ok()?
        }
        Expr::Case {
            whens, else_result, ..
        } => {
            let mut results: Vec<ArgType> = whens.iter().map(|(_, r)| type_of(r)).collect();
            results.push(else_result.as_deref().map_or(ArgType::Null, type_of));
            common_type("case result", &results).ok()?
        }
        Expr::Cast { ty, .. } => Some(*ty),
        _ => match type_of(e) {
            ArgType::Known(t) => Some(t),
            _ => None,
        },
    }
}
