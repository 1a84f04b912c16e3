//! Scalar semantics: what the engine's expressions mean on single values
//! — comparison, arithmetic, `and`/`or`/`not`, `like`, json paths — and
//! the few facts about syntax-tree expressions that binding and the
//! statements read (literal values, constants, conjuncts, aggregates).
//! `plan/bound.rs` evaluates an expression row by row with these, and the
//! kernels of `exec/kernel/` apply them a vector at a time; both must
//! agree with them exactly.
//!
//! Semantics (docs/language.md): three-valued logic — a comparison with `null` is
//! `null`, `and`/`or`/`not` follow SQL's truth tables, a filter keeps a row
//! only when it is `true`. Arithmetic on two ints stays int (checked:
//! overflow is `numeric_overflow`; `/` truncates), with a float it is
//! float; division by zero is `null` (as SQLite). `like` is case-sensitive.

use std::cmp::Ordering;

use crate::ast::{BinaryOp, Expr, Literal, UnaryOp};
use crate::error::{Error, ErrorCode, Result};
use crate::parser::MAX_LIKE_PATTERN_LEN;
use crate::value::Value;

/// The value of a literal.
pub(crate) fn literal_value(l: &Literal) -> Value {
    match l {
        Literal::Null => Value::Null,
        Literal::Bool(b) => Value::Bool(*b),
        Literal::Int(i) => Value::Int(*i),
        Literal::Float(x) => Value::Float(*x),
        Literal::String(s) => Value::String(s.clone()),
        Literal::Array(_) | Literal::Object(_) => Value::Json(literal_json(l)),
        // Bound before a statement runs (`Database::execute_prepared`).
        Literal::Param(_) => Value::Null,
    }
}

/// A literal as JSON (for `json` columns).
pub(crate) fn literal_json(l: &Literal) -> serde_json::Value {
    match l {
        Literal::Null | Literal::Param(_) => serde_json::Value::Null,
        Literal::Bool(b) => serde_json::Value::Bool(*b),
        Literal::Int(i) => serde_json::Value::from(*i),
        Literal::Float(x) => serde_json::Number::from_f64(*x)
            .map_or(serde_json::Value::Null, serde_json::Value::Number),
        Literal::String(s) => serde_json::Value::String(s.clone()),
        Literal::Array(items) => serde_json::Value::Array(items.iter().map(literal_json).collect()),
        Literal::Object(fields) => serde_json::Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), literal_json(v)))
                .collect(),
        ),
    }
}

/// The constant value of `e` if it has no column in it (a literal, or a
/// negated number).
pub(crate) fn constant(e: &Expr) -> Option<Value> {
    match e {
        Expr::Literal(l) => Some(literal_value(l)),
        Expr::Unary {
            op: UnaryOp::Neg,
            expr,
        } => match constant(expr)? {
            Value::Int(i) => i.checked_neg().map(Value::Int),
            Value::Float(x) => Some(Value::Float(-x)),
            _ => None,
        },
        _ => None,
    }
}

/// Whether `e` contains an aggregate.
pub(crate) fn has_aggregate(e: &Expr) -> bool {
    let mut found = false;
    visit(e, &mut |x| found |= matches!(x, Expr::Aggregate { .. }));
    found
}

/// Calls `f` on `e` and every sub-expression.
pub(crate) fn visit(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match e {
        Expr::Literal(_) | Expr::Name(_) => {}
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } => visit(expr, f),
        Expr::Binary { left, right, .. } => {
            visit(left, f);
            visit(right, f);
        }
        Expr::Like { expr, pattern, .. } => {
            visit(expr, f);
            visit(pattern, f);
        }
        Expr::InList { expr, list, .. } => {
            visit(expr, f);
            list.iter().for_each(|x| visit(x, f));
        }
        Expr::Between {
            expr, low, high, ..
        } => {
            visit(expr, f);
            visit(low, f);
            visit(high, f);
        }
        Expr::Aggregate { arg, .. } => {
            if let Some(a) = arg {
                visit(a, f);
            }
        }
        Expr::Function { args, .. } => args.iter().for_each(|x| visit(x, f)),
        Expr::Case {
            operand,
            whens,
            else_result,
        } => {
            if let Some(o) = operand {
                visit(o, f);
            }
            for (c, r) in whens {
                visit(c, f);
                visit(r, f);
            }
            if let Some(e) = else_result {
                visit(e, f);
            }
        }
        Expr::Cast { expr, .. } => visit(expr, f),
    }
}

/// Splits `e` into its top-level `and` terms.
pub(crate) fn conjuncts(e: &Expr, out: &mut Vec<Expr>) {
    match e {
        Expr::Binary {
            op: BinaryOp::And,
            left,
            right,
        } => {
            conjuncts(left, out);
            conjuncts(right, out);
        }
        e => out.push(e.clone()),
    }
}

/// A `like` pattern within [`MAX_LIKE_PATTERN_LEN`], whether written in
/// the statement, bound to a placeholder or read from a column.
pub(crate) fn check_pattern(p: &str) -> Result<()> {
    if p.len() > MAX_LIKE_PATTERN_LEN {
        return Err(Error::query(
            ErrorCode::TooComplex,
            format!(
                "like pattern too long ({} bytes, at most {MAX_LIKE_PATTERN_LEN})",
                p.len()
            ),
        ));
    }
    Ok(())
}

/// SQL `not`.
pub(crate) fn not(v: &Value) -> Value {
    match v {
        Value::Bool(b) => Value::Bool(!b),
        _ => Value::Null,
    }
}

/// SQL `and` (false wins over null).
pub(crate) fn and(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Bool(false), _) | (_, Value::Bool(false)) => Value::Bool(false),
        (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
        _ => Value::Null,
    }
}

/// SQL `or` (true wins over null).
pub(crate) fn or(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::Bool(true), _) | (_, Value::Bool(true)) => Value::Bool(true),
        (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
        _ => Value::Null,
    }
}

/// A comparison: `null` when either side is null or they do not compare.
pub(crate) fn compare(op: BinaryOp, a: &Value, b: &Value) -> Value {
    let Some(o) = a.sql_cmp(b) else {
        return Value::Null;
    };
    Value::Bool(match op {
        BinaryOp::Eq => o == Ordering::Equal,
        BinaryOp::NotEq => o != Ordering::Equal,
        BinaryOp::Lt => o == Ordering::Less,
        BinaryOp::LtEq => o != Ordering::Greater,
        BinaryOp::Gt => o == Ordering::Greater,
        BinaryOp::GtEq => o != Ordering::Less,
        _ => return Value::Null,
    })
}

pub(crate) fn neg(v: &Value) -> Result<Value> {
    Ok(match v {
        Value::Int(i) => Value::Int(i.checked_neg().ok_or_else(overflow)?),
        Value::Float(x) => Value::Float(-x),
        Value::Null => Value::Null,
        other => return Err(not_a_number("-", other)),
    })
}

fn overflow() -> Error {
    Error::query(ErrorCode::NumericOverflow, "integer overflow in arithmetic")
}

fn not_a_number(op: &str, v: &Value) -> Error {
    Error::query(
        ErrorCode::TypeMismatch,
        format!("operator {op} needs numbers, got {}", v.type_name()),
    )
}

/// `+ - * /` with SQL's null propagation.
pub(crate) fn arith(op: BinaryOp, a: &Value, b: &Value) -> Result<Value> {
    let sym = op.symbol();
    Ok(match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Value::Null,
        (Value::Int(x), Value::Int(y)) => {
            let (x, y) = (*x, *y);
            match op {
                BinaryOp::Add => Value::Int(x.checked_add(y).ok_or_else(overflow)?),
                BinaryOp::Sub => Value::Int(x.checked_sub(y).ok_or_else(overflow)?),
                BinaryOp::Mul => Value::Int(x.checked_mul(y).ok_or_else(overflow)?),
                BinaryOp::Div if y == 0 => Value::Null,
                BinaryOp::Div => Value::Int(x.checked_div(y).ok_or_else(overflow)?),
                _ => Value::Null,
            }
        }
        (x, y) => {
            let fx = as_f64(x).ok_or_else(|| not_a_number(sym, x))?;
            let fy = as_f64(y).ok_or_else(|| not_a_number(sym, y))?;
            let r = match op {
                BinaryOp::Add => fx + fy,
                BinaryOp::Sub => fx - fy,
                BinaryOp::Mul => fx * fy,
                BinaryOp::Div if fy == 0.0 => return Ok(Value::Null),
                BinaryOp::Div => fx / fy,
                _ => return Ok(Value::Null),
            };
            if r.is_nan() {
                Value::Null
            } else {
                Value::Float(r)
            }
        }
    })
}

/// A number as f64.
pub(crate) fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(x) => Some(*x),
        _ => None,
    }
}

/// The value at `path` inside a json value; `null` where the path does not
/// lead anywhere.
pub(crate) fn json_path(v: &Value, path: &[String]) -> Value {
    let Value::Json(j) = v else {
        return Value::Null;
    };
    let mut cur = j;
    for p in path {
        cur = match cur {
            serde_json::Value::Object(m) => match m.get(p) {
                Some(x) => x,
                None => return Value::Null,
            },
            serde_json::Value::Array(a) => match p.parse::<usize>().ok().and_then(|i| a.get(i)) {
                Some(x) => x,
                None => return Value::Null,
            },
            _ => return Value::Null,
        };
    }
    Value::from_json(cur.clone())
}

/// `like`: `%` matches any run of characters, `_` exactly one;
/// case-sensitive. Iterative with one backtrack point, so patterns with
/// many `%` stay linear-ish instead of exponential.
pub(crate) fn like(s: &str, pat: &[char]) -> bool {
    let s: Vec<char> = s.chars().collect();
    let (mut si, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < pat.len() && (pat[pi] == '_' || (pat[pi] != '%' && pat[pi] == s[si])) {
            si += 1;
            pi += 1;
        } else if pi < pat.len() && pat[pi] == '%' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    pat[pi..].iter().all(|&c| c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(p: &str, s: &str) -> bool {
        like(s, &p.chars().collect::<Vec<_>>())
    }

    #[test]
    fn like_matches_runs_and_single_characters() {
        assert!(l("ali%", "alice"));
        assert!(l("%ce", "alice"));
        assert!(l("a_i%e", "alice"));
        assert!(l("%", ""));
        assert!(!l("_", ""));
        assert!(!l("ALI%", "alice"), "like is case-sensitive");
        assert!(l("%a%b%c%", "xxaxxbxxcxx"));
        assert!(!l("%a%b%c%d", "xxaxxbxxcxx"));
        assert!(l("é_", "éa"));
    }

    /// `like` by plain recursion over the pattern: obviously right, and
    /// exponential, so only for short inputs.
    fn like_oracle(s: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('%', rest)) => (0..=s.len()).any(|i| like_oracle(&s[i..], rest)),
            Some(('_', rest)) => !s.is_empty() && like_oracle(&s[1..], rest),
            Some((c, rest)) => s.first() == Some(c) && like_oracle(&s[1..], rest),
        }
    }

    proptest::proptest! {
        #[test]
        fn like_agrees_with_a_recursive_oracle(s in "[abé%_]{0,12}", p in "[abé%_]{0,9}") {
            let sc: Vec<char> = s.chars().collect();
            let pc: Vec<char> = p.chars().collect();
            proptest::prop_assert_eq!(like(&s, &pc), like_oracle(&sc, &pc), "{:?} like {:?}", s, p);
        }
    }

    #[test]
    fn three_valued_logic() {
        let t = Value::Bool(true);
        let f = Value::Bool(false);
        let n = Value::Null;
        assert_eq!(and(&n, &f), f);
        assert_eq!(and(&n, &t), n);
        assert_eq!(or(&n, &t), t);
        assert_eq!(or(&n, &f), n);
        assert_eq!(not(&n), n);
        assert_eq!(compare(BinaryOp::Eq, &n, &n), n);
    }

    #[test]
    fn arithmetic_follows_sqlite() {
        assert_eq!(
            arith(BinaryOp::Div, &Value::Int(7), &Value::Int(2)).unwrap(),
            Value::Int(3)
        );
        assert_eq!(
            arith(BinaryOp::Div, &Value::Int(7), &Value::Int(0)).unwrap(),
            Value::Null
        );
        assert_eq!(
            arith(BinaryOp::Add, &Value::Int(1), &Value::Float(0.5)).unwrap(),
            Value::Float(1.5)
        );
        assert_eq!(
            arith(BinaryOp::Add, &Value::Int(i64::MAX), &Value::Int(1))
                .unwrap_err()
                .code(),
            ErrorCode::NumericOverflow
        );
    }
}
