//! SQL expressions, literals and identifiers onto the engine's
//! [`ast::Expr`] and [`ast::Literal`]. Unquoted identifiers fold to lower
//! case (PostgreSQL's rule), quoted ones are kept as written; `$n` is
//! [`ast::Literal::Param`]`(n - 1)`; a minus directly on a number is part
//! of the literal, as in the fasty language.

use sqlparser::ast as sql;

use super::errors::{too_deep, unsupported};
use crate::ast::{AggFunc, BinaryOp, Expr, Literal, UnaryOp};
use crate::error::{Error, ErrorCode, Result};
use crate::parser::{MAX_DEPTH, MAX_NAME_LEN};

/// Translation state shared by the statements of one text.
#[derive(Debug, Default)]
pub(super) struct Translator {
    /// The highest `$n` seen.
    pub max_param: u32,
    /// Current expression depth, bounded by [`MAX_DEPTH`].
    depth: u32,
}

/// The highest placeholder number accepted (`$65535`, the most the
/// PostgreSQL protocol can bind).
const MAX_PARAM: u32 = 65_535;

/// A scalar function call by name.
fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function {
        name: name.to_owned(),
        args,
    }
}

/// An identifier: unquoted folds to lower case, quoted stays as written.
pub(super) fn ident(i: &sql::Ident) -> Result<String> {
    let name = match i.quote_style {
        None => i.value.to_lowercase(),
        Some('"') => i.value.clone(),
        Some(q) => return Err(unsupported(format!("identifier quoted with {q}"))),
    };
    if name.is_empty() {
        return Err(Error::query(
            ErrorCode::SyntaxError,
            "zero-length delimited identifier",
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(Error::query(
            ErrorCode::TooComplex,
            format!("name longer than {MAX_NAME_LEN} bytes"),
        ));
    }
    Ok(name)
}

/// A table or index name: one part (no schema).
pub(super) fn object_name(n: &sql::ObjectName) -> Result<String> {
    match n.0.as_slice() {
        [sql::ObjectNamePart::Identifier(i)] => ident(i),
        _ => Err(unsupported(format!("qualified name {n} (schemas)"))),
    }
}

impl Translator {
    /// An expression, depth-bounded.
    pub(super) fn expr(&mut self, e: &sql::Expr) -> Result<Expr> {
        if self.depth >= MAX_DEPTH {
            return Err(too_deep());
        }
        self.depth += 1;
        let out = self.expr_inner(e);
        self.depth -= 1;
        out
    }

    fn boxed(&mut self, e: &sql::Expr) -> Result<Box<Expr>> {
        self.expr(e).map(Box::new)
    }

    fn expr_inner(&mut self, e: &sql::Expr) -> Result<Expr> {
        use sql::Expr as S;
        Ok(match e {
            S::Identifier(i) => Expr::Name(vec![ident(i)?]),
            S::CompoundIdentifier(parts) => {
                Expr::Name(parts.iter().map(ident).collect::<Result<_>>()?)
            }
            S::Value(v) => Expr::Literal(self.value(&v.value)?),
            S::Nested(inner) => self.expr(inner)?,
            S::UnaryOp { op, expr } => self.unary(*op, expr)?,
            S::BinaryOp { left, op, right } => self.binary(left, op, right)?,
            S::IsNull(x) => Expr::IsNull {
                expr: self.boxed(x)?,
                negated: false,
            },
            S::IsNotNull(x) => Expr::IsNull {
                expr: self.boxed(x)?,
                negated: true,
            },
            S::In {
                expr,
                target: sql::InTarget::List(list),
                negated,
                global: false,
            } => Expr::InList {
                expr: self.boxed(expr)?,
                list: list.iter().map(|x| self.expr(x)).collect::<Result<_>>()?,
                negated: *negated,
            },
            S::In { .. } => return Err(unsupported("a subquery (or UNNEST) in IN")),
            S::Between {
                expr,
                negated,
                low,
                high,
            } => Expr::Between {
                expr: self.boxed(expr)?,
                low: self.boxed(low)?,
                high: self.boxed(high)?,
                negated: *negated,
            },
            S::Like {
                negated,
                any: false,
                expr,
                pattern,
                escape_char: None,
            } => Expr::Like {
                expr: self.boxed(expr)?,
                pattern: self.boxed(pattern)?,
                negated: *negated,
            },
            S::Like { .. } => return Err(unsupported("LIKE with ESCAPE or ANY")),
            S::Function(f) => self.function(f)?,
            S::Cast {
                kind: sql::CastKind::Cast | sql::CastKind::DoubleColon,
                expr,
                data_type,
                format: None,
            } => self.cast(expr, data_type)?,
            S::Cast { .. } => return Err(unsupported("TRY_CAST / SAFE_CAST / CAST ... FORMAT")),
            S::Subquery(_) | S::Exists { .. } => {
                return Err(unsupported("a subquery"));
            }
            S::Case {
                operand,
                conditions,
                else_result,
                ..
            } => Expr::Case {
                operand: operand.as_deref().map(|o| self.boxed(o)).transpose()?,
                whens: conditions
                    .iter()
                    .map(|w| Ok((self.expr(&w.condition)?, self.expr(&w.result)?)))
                    .collect::<Result<_>>()?,
                else_result: else_result.as_deref().map(|e| self.boxed(e)).transpose()?,
            },
            S::ILike { .. } => return Err(unsupported("ILIKE")),
            S::SimilarTo { .. } => return Err(unsupported("SIMILAR TO")),
            S::IsTrue(_) | S::IsNotTrue(_) | S::IsFalse(_) | S::IsNotFalse(_) => {
                return Err(unsupported("IS [NOT] TRUE/FALSE"));
            }
            S::IsDistinctFrom(..) | S::IsNotDistinctFrom(..) => {
                return Err(unsupported("IS [NOT] DISTINCT FROM"));
            }
            S::TypedString(_) => return Err(unsupported("a typed literal (type 'text')")),
            S::Extract { .. } => return Err(unsupported("EXTRACT")),
            S::Substring {
                expr,
                substring_from,
                substring_for,
                ..
            } => {
                // `substring(s for n)` starts at the first character.
                let from = match substring_from {
                    Some(f) => self.expr(f)?,
                    None => Expr::Literal(Literal::Int(1)),
                };
                let mut args = vec![self.expr(expr)?, from];
                if let Some(n) = substring_for {
                    args.push(self.expr(n)?);
                }
                call("substring", args)
            }
            S::Trim {
                trim_where,
                trim_what,
                expr,
                trim_characters: None,
            } => {
                let name = match trim_where {
                    None | Some(sql::TrimWhereField::Both) => "trim",
                    Some(sql::TrimWhereField::Leading) => "ltrim",
                    Some(sql::TrimWhereField::Trailing) => "rtrim",
                };
                let mut args = vec![self.expr(expr)?];
                if let Some(what) = trim_what {
                    args.push(self.expr(what)?);
                }
                call(name, args)
            }
            S::Trim { .. } => return Err(unsupported("TRIM with a list of characters")),
            S::Position { expr, r#in } => call("strpos", vec![self.expr(r#in)?, self.expr(expr)?]),
            S::Ceil {
                expr,
                field: sql::CeilFloorKind::DateTimeField(sql::DateTimeField::NoDateTime),
            } => call("ceil", vec![self.expr(expr)?]),
            S::Floor {
                expr,
                field: sql::CeilFloorKind::DateTimeField(sql::DateTimeField::NoDateTime),
            } => call("floor", vec![self.expr(expr)?]),
            S::Ceil { .. } | S::Floor { .. } => {
                return Err(unsupported("CEIL/FLOOR with a scale or a date field"));
            }
            S::Collate { .. } => return Err(unsupported("COLLATE")),
            S::Array(_) => return Err(unsupported("ARRAY")),
            S::Interval(_) => return Err(unsupported("INTERVAL")),
            S::Tuple(_) => return Err(unsupported("a row value (a, b)")),
            S::AnyOp { .. } | S::AllOp { .. } => return Err(unsupported("ANY/ALL")),
            S::AtTimeZone { .. } => return Err(unsupported("AT TIME ZONE")),
            other => return Err(unsupported(format!("the expression {other}"))),
        })
    }

    fn unary(&mut self, op: sql::UnaryOperator, e: &sql::Expr) -> Result<Expr> {
        match op {
            sql::UnaryOperator::Not => Ok(Expr::Unary {
                op: UnaryOp::Not,
                expr: self.boxed(e)?,
            }),
            sql::UnaryOperator::Minus => match number_of(e) {
                Some(n) => Ok(Expr::Literal(number(n, true)?)),
                None => Ok(Expr::Unary {
                    op: UnaryOp::Neg,
                    expr: self.boxed(e)?,
                }),
            },
            sql::UnaryOperator::Plus => match number_of(e) {
                Some(n) => Ok(Expr::Literal(number(n, false)?)),
                None => Err(unsupported("unary + on a non-number")),
            },
            other => Err(unsupported(format!("the operator {other}"))),
        }
    }

    fn binary(
        &mut self,
        left: &sql::Expr,
        op: &sql::BinaryOperator,
        right: &sql::Expr,
    ) -> Result<Expr> {
        use sql::BinaryOperator as B;
        let op = match op {
            B::Or => BinaryOp::Or,
            B::And => BinaryOp::And,
            B::Eq => BinaryOp::Eq,
            B::NotEq => BinaryOp::NotEq,
            B::Lt => BinaryOp::Lt,
            B::LtEq => BinaryOp::LtEq,
            B::Gt => BinaryOp::Gt,
            B::GtEq => BinaryOp::GtEq,
            B::Plus => BinaryOp::Add,
            B::Minus => BinaryOp::Sub,
            B::Multiply => BinaryOp::Mul,
            B::Divide => BinaryOp::Div,
            B::Arrow | B::LongArrow => return self.json_path(left, right),
            B::Modulo => BinaryOp::Mod,
            B::StringConcat => BinaryOp::Concat,
            other => return Err(unsupported(format!("the operator {other}"))),
        };
        Ok(Expr::Binary {
            op,
            left: self.boxed(left)?,
            right: self.boxed(right)?,
        })
    }

    /// `col -> 'key'` and `col ->> 'key'` (chained): the fasty dotted path
    /// `col.key`, which yields the value at the key as its own type.
    fn json_path(&mut self, left: &sql::Expr, right: &sql::Expr) -> Result<Expr> {
        let key = match right {
            sql::Expr::Value(v) => match &v.value {
                sql::Value::SingleQuotedString(s) => s.clone(),
                _ => return Err(unsupported("a json path step other than a 'key' string")),
            },
            _ => return Err(unsupported("a json path step other than a 'key' string")),
        };
        if key.len() > MAX_NAME_LEN {
            return Err(Error::query(
                ErrorCode::TooComplex,
                format!("json key longer than {MAX_NAME_LEN} bytes"),
            ));
        }
        match self.expr(left)? {
            Expr::Name(mut parts) => {
                parts.push(key);
                Ok(Expr::Name(parts))
            }
            _ => Err(unsupported("-> / ->> on anything but a column")),
        }
    }

    /// A function call: the aggregates `count(*)`, `count([DISTINCT] e)`,
    /// `sum`, `avg`, `min`, `max`, or a scalar function by name (the
    /// binder knows which exist and how many arguments each takes).
    fn function(&mut self, f: &sql::Function) -> Result<Expr> {
        let name = match f.name.0.as_slice() {
            [sql::ObjectNamePart::Identifier(i)] => ident(i)?,
            _ => return Err(unsupported(format!("the function {}", f.name))),
        };
        if f.over.is_some() {
            return Err(unsupported("a window function (OVER)"));
        }
        if f.filter.is_some() || !f.within_group.is_empty() {
            return Err(unsupported("FILTER / WITHIN GROUP"));
        }
        let list = match &f.args {
            sql::FunctionArguments::List(l) => l,
            // `current_date` and friends are written without parentheses.
            _ => return Err(unsupported(format!("{name} without an argument list"))),
        };
        if !list.clauses.is_empty() {
            return Err(unsupported(format!("clauses inside {name}(...)")));
        }
        let distinct = list.duplicate_treatment == Some(sql::DuplicateTreatment::Distinct);
        let func = match name.as_str() {
            "count" => AggFunc::Count,
            "sum" => AggFunc::Sum,
            "avg" => AggFunc::Avg,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            _ => {
                if distinct {
                    return Err(unsupported(format!("{name}(DISTINCT ...)")));
                }
                let args = list
                    .args
                    .iter()
                    .map(|a| match a {
                        sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(e)) => self.expr(e),
                        _ => Err(unsupported(format!("a named or * argument of {name}()"))),
                    })
                    .collect::<Result<_>>()?;
                return Ok(call(&name, args));
            }
        };
        let arg = match list.args.as_slice() {
            [sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Wildcard)]
                if func == AggFunc::Count && !distinct =>
            {
                None
            }
            [sql::FunctionArg::Unnamed(sql::FunctionArgExpr::Expr(e))] => Some(self.boxed(e)?),
            _ => {
                return Err(Error::query(
                    ErrorCode::SyntaxError,
                    format!("{name}() takes one argument"),
                ));
            }
        };
        Ok(Expr::Aggregate {
            func,
            arg,
            distinct,
        })
    }

    /// `CAST(e AS t)` / `e::t`. A string constant cast to json is the JSON
    /// value itself (`'{"a": 1}'::jsonb`); anything else converts at run
    /// time with the engine's `cast`.
    fn cast(&mut self, e: &sql::Expr, ty: &sql::DataType) -> Result<Expr> {
        if matches!(ty, sql::DataType::JSON | sql::DataType::JSONB)
            && let sql::Expr::Value(v) = e
            && matches!(
                v.value,
                sql::Value::SingleQuotedString(_) | sql::Value::EscapedStringLiteral(_)
            )
        {
            return Ok(Expr::Literal(self.json_cast(e, ty)?));
        }
        Ok(Expr::Cast {
            expr: self.boxed(e)?,
            ty: super::types::column_type(ty)?,
        })
    }

    /// `'{...}'::json` / `CAST('...' AS jsonb)` on a string constant: the
    /// JSON value as a literal. Other casts are not supported yet.
    pub(super) fn json_cast(&mut self, e: &sql::Expr, ty: &sql::DataType) -> Result<Literal> {
        if !matches!(ty, sql::DataType::JSON | sql::DataType::JSONB) {
            return Err(unsupported(format!("CAST to {ty}")));
        }
        let text = match e {
            sql::Expr::Value(v) => match &v.value {
                sql::Value::SingleQuotedString(s) | sql::Value::EscapedStringLiteral(s) => s,
                _ => {
                    return Err(unsupported(
                        "CAST to json of anything but a string constant",
                    ));
                }
            },
            _ => {
                return Err(unsupported(
                    "CAST to json of anything but a string constant",
                ));
            }
        };
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|err| Error::query(ErrorCode::TypeMismatch, format!("invalid json: {err}")))?;
        json_literal(&json, 0)
    }

    /// A constant.
    pub(super) fn value(&mut self, v: &sql::Value) -> Result<Literal> {
        use sql::Value as V;
        Ok(match v {
            V::Number(n, false) => number(n, false)?,
            V::Number(_, true) => return Err(unsupported("a long (L) number")),
            V::SingleQuotedString(s) | V::EscapedStringLiteral(s) => Literal::String(s.clone()),
            V::DollarQuotedString(d) => Literal::String(d.value.clone()),
            V::Boolean(b) => Literal::Bool(*b),
            V::Null => Literal::Null,
            V::Placeholder(p) => Literal::Param(self.placeholder(p)?),
            other => return Err(unsupported(format!("the literal {other}"))),
        })
    }

    /// `$n` → parameter index `n - 1`.
    fn placeholder(&mut self, p: &str) -> Result<u32> {
        let n = p
            .strip_prefix('$')
            .and_then(|d| d.parse::<u32>().ok())
            .filter(|n| (1..=MAX_PARAM).contains(n))
            .ok_or_else(|| {
                Error::query(
                    ErrorCode::SyntaxError,
                    format!("placeholder {p}: write $1, $2, ... (at most ${MAX_PARAM})"),
                )
            })?;
        self.max_param = self.max_param.max(n);
        Ok(n - 1)
    }

    /// A value in `VALUES (...)`: a constant, `-` a number, `$n`, or a
    /// json cast of a string.
    pub(super) fn insert_value(&mut self, e: &sql::Expr) -> Result<Literal> {
        match self.expr(e)? {
            Expr::Literal(l) => Ok(l),
            _ => Err(unsupported(
                "an expression in VALUES (constants and $n placeholders only)",
            )),
        }
    }
}

/// The digits of `e` when it is a plain number.
fn number_of(e: &sql::Expr) -> Option<&str> {
    match e {
        sql::Expr::Value(v) => match &v.value {
            sql::Value::Number(n, false) => Some(n),
            _ => None,
        },
        _ => None,
    }
}

/// A number: `Int` when it is an integer that fits i64 (after the sign),
/// else `Float`.
fn number(digits: &str, negative: bool) -> Result<Literal> {
    let text = if negative {
        format!("-{digits}")
    } else {
        digits.to_owned()
    };
    if let Ok(i) = text.parse::<i64>() {
        return Ok(Literal::Int(i));
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Literal::Float(f)),
        _ => Err(Error::query(
            ErrorCode::SyntaxError,
            format!("invalid number {text}"),
        )),
    }
}

/// A JSON value as a literal (serde_json reads at most 128 levels; the
/// bound is checked again here).
fn json_literal(v: &serde_json::Value, depth: u32) -> Result<Literal> {
    if depth > crate::parser::MAX_JSON_DEPTH {
        return Err(too_deep());
    }
    use serde_json::Value as J;
    Ok(match v {
        J::Null => Literal::Null,
        J::Bool(b) => Literal::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Literal::Int(i),
            None => Literal::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Literal::String(s.clone()),
        J::Array(items) => Literal::Array(
            items
                .iter()
                .map(|x| json_literal(x, depth + 1))
                .collect::<Result<_>>()?,
        ),
        J::Object(m) => Literal::Object(
            m.iter()
                .map(|(k, x)| Ok((k.clone(), json_literal(x, depth + 1)?)))
                .collect::<Result<_>>()?,
        ),
    })
}
