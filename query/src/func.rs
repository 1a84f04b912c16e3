//! Scalar functions (`lower`, `coalesce`, `round`, ...) and the `%` and
//! `||` operators: which names exist, how many arguments each takes,
//! their result types (known when a statement is bound, so a result's
//! column types are known before it runs) and what they compute on
//! values. PostgreSQL's semantics where SQLite's differ (docs/language.md
//! lists the differences): `length` counts characters, `substring` is
//! 1-based with SQL's rules outside the string, `concat` skips nulls
//! while `||` gives null, `greatest`/`least` ignore nulls, `round` rounds
//! half away from zero.

use std::cmp::Ordering;

use crate::ast::ColumnType;
use crate::cast::text;
use crate::error::{Error, ErrorCode, Result};
use crate::value::Value;

/// The longest string a function may build, in bytes: `replace` can
/// multiply its input's length.
pub(crate) const MAX_STRING_LEN: usize = 64 << 20;

/// A scalar function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ScalarFunc {
    /// `coalesce(a, b, …)`: the first argument that is not null (later
    /// ones are not evaluated).
    Coalesce,
    /// `nullif(a, b)`: null if `a = b`, else `a`.
    Nullif,
    /// `lower(s)`.
    Lower,
    /// `upper(s)`.
    Upper,
    /// `length(s)`: characters.
    Length,
    /// `substring(s, from[, count])`, 1-based.
    Substring,
    /// `trim(s[, chars])`: both ends.
    Trim,
    /// `ltrim(s[, chars])`.
    Ltrim,
    /// `rtrim(s[, chars])`.
    Rtrim,
    /// `concat(a, …)`: text of the arguments, nulls skipped.
    Concat,
    /// `replace(s, from, to)`.
    Replace,
    /// `strpos(s, sub)`: 1-based character position, 0 when absent.
    Strpos,
    /// `abs(x)`.
    Abs,
    /// `round(x[, digits])`: half away from zero.
    Round,
    /// `floor(x)`.
    Floor,
    /// `ceil(x)`.
    Ceil,
    /// `mod(a, b)`: as `a % b`.
    Mod,
    /// `greatest(a, …)`: the largest non-null argument.
    Greatest,
    /// `least(a, …)`: the smallest non-null argument.
    Least,
}

/// Every function by name, aliases included (lower case).
const NAMES: &[(&str, ScalarFunc)] = &[
    ("coalesce", ScalarFunc::Coalesce),
    ("nullif", ScalarFunc::Nullif),
    ("lower", ScalarFunc::Lower),
    ("upper", ScalarFunc::Upper),
    ("length", ScalarFunc::Length),
    ("char_length", ScalarFunc::Length),
    ("substring", ScalarFunc::Substring),
    ("substr", ScalarFunc::Substring),
    ("trim", ScalarFunc::Trim),
    ("btrim", ScalarFunc::Trim),
    ("ltrim", ScalarFunc::Ltrim),
    ("rtrim", ScalarFunc::Rtrim),
    ("concat", ScalarFunc::Concat),
    ("replace", ScalarFunc::Replace),
    ("strpos", ScalarFunc::Strpos),
    ("abs", ScalarFunc::Abs),
    ("round", ScalarFunc::Round),
    ("floor", ScalarFunc::Floor),
    ("ceil", ScalarFunc::Ceil),
    ("ceiling", ScalarFunc::Ceil),
    ("mod", ScalarFunc::Mod),
    ("greatest", ScalarFunc::Greatest),
    ("least", ScalarFunc::Least),
];

/// What binding knows of an argument's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgType {
    /// The literal `null`: fits any type.
    Null,
    /// Always this type (or null).
    Known(ColumnType),
    /// Not known before the statement runs (a json path, a placeholder).
    Unknown,
}

impl ArgType {
    /// From an expression's known type; `null_literal` when it is `null`.
    pub(crate) fn of(ty: Option<ColumnType>, null_literal: bool) -> ArgType {
        match ty {
            Some(t) => ArgType::Known(t),
            None if null_literal => ArgType::Null,
            None => ArgType::Unknown,
        }
    }
}

/// The kind of value an argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Str,
    Int,
    Number,
    Any,
}

impl ScalarFunc {
    /// The function called `name` (any case).
    pub(crate) fn lookup(name: &str) -> Option<ScalarFunc> {
        NAMES
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, f)| *f)
    }

    /// Every function name, aliases included.
    pub(crate) fn names() -> impl Iterator<Item = &'static str> {
        NAMES.iter().map(|(n, _)| *n)
    }

    /// The function's name as printed.
    pub(crate) fn name(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, f)| *f == self)
            .map_or("?", |(n, _)| n)
    }

    /// Fewest and most arguments (`None`: any number).
    fn arity(self) -> (usize, Option<usize>) {
        use ScalarFunc::*;
        match self {
            Coalesce | Concat | Greatest | Least => (1, None),
            Nullif | Strpos | Mod => (2, Some(2)),
            Lower | Upper | Length | Abs | Floor | Ceil => (1, Some(1)),
            Substring => (2, Some(3)),
            Trim | Ltrim | Rtrim | Round => (1, Some(2)),
            Replace => (3, Some(3)),
        }
    }

    /// What argument `i` must be.
    fn want(self, i: usize) -> Want {
        use ScalarFunc::*;
        match (self, i) {
            (Lower | Upper | Length | Trim | Ltrim | Rtrim | Replace | Strpos, _)
            | (Substring, 0) => Want::Str,
            (Substring, _) | (Round, 1) => Want::Int,
            (Abs | Round | Floor | Ceil | Mod, _) => Want::Number,
            _ => Want::Any,
        }
    }

    /// The result type for arguments of types `args`, or the error a call
    /// with them is: a wrong number of arguments (`unsupported`), an
    /// argument of a type the function never takes or arguments with no
    /// common type (`type_mismatch`). `None`: not known before running.
    pub(crate) fn result_type(self, args: &[ArgType]) -> Result<Option<ColumnType>> {
        use ScalarFunc::*;
        let (min, max) = self.arity();
        if args.len() < min || max.is_some_and(|m| args.len() > m) {
            let count = match max {
                Some(m) if m == min => format!("{min}"),
                Some(m) => format!("{min} to {m}"),
                None => format!("at least {min}"),
            };
            return Err(Error::query(
                ErrorCode::Unsupported,
                format!(
                    "{}() takes {count} argument{}, got {}",
                    self.name(),
                    if count == "1" { "" } else { "s" },
                    args.len()
                ),
            ));
        }
        for (i, a) in args.iter().enumerate() {
            let ArgType::Known(t) = a else { continue };
            let ok = match self.want(i) {
                Want::Str => *t == ColumnType::String,
                Want::Int => *t == ColumnType::Int,
                Want::Number => matches!(t, ColumnType::Int | ColumnType::Float),
                Want::Any => true,
            };
            if !ok {
                return Err(arg_error(self, i, t.name()));
            }
        }
        Ok(match self {
            Lower | Upper | Substring | Trim | Ltrim | Rtrim | Concat | Replace => {
                Some(ColumnType::String)
            }
            Length | Strpos => Some(ColumnType::Int),
            Abs | Round | Floor | Ceil => match args[0] {
                ArgType::Known(t) => Some(t),
                _ => None,
            },
            Mod => match (args[0], args[1]) {
                (ArgType::Known(ColumnType::Int), ArgType::Known(ColumnType::Int)) => {
                    Some(ColumnType::Int)
                }
                (ArgType::Known(_), ArgType::Known(_)) => Some(ColumnType::Float),
                _ => None,
            },
            Nullif => {
                common_type(self.name(), args)?;
                match args[0] {
                    ArgType::Known(t) => Some(t),
                    _ => None,
                }
            }
            Coalesce | Greatest | Least => common_type(self.name(), args)?,
        })
    }

    /// The function on argument values (all of them evaluated: `coalesce`
    /// is lazy only where the caller is); `ty` is the bound result type,
    /// to which ints are widened where it is float.
    pub(crate) fn eval(self, args: &[Value], ty: Option<ColumnType>) -> Result<Value> {
        use ScalarFunc::*;
        let (min, max) = self.arity();
        if args.len() < min || max.is_some_and(|m| args.len() > m) {
            // Binding refuses such calls; a tree built elsewhere gets the
            // same error instead of a panic.
            self.result_type(&vec![ArgType::Unknown; args.len()])?;
        }
        let v = match self {
            Coalesce => args
                .iter()
                .find(|v| !v.is_null())
                .cloned()
                .unwrap_or_default(),
            Nullif => match args {
                [a, b] if a.sql_cmp(b) == Some(Ordering::Equal) => Value::Null,
                [a, ..] => a.clone(),
                [] => Value::Null,
            },
            Concat => {
                let mut out = String::new();
                for a in args.iter().filter(|a| !a.is_null()) {
                    out.push_str(&text(a));
                    check_len(self, out.len())?;
                }
                Value::String(out)
            }
            Greatest | Least => extreme(self, args)?,
            _ if args.iter().any(Value::is_null) => Value::Null,
            Lower => Value::String(string(self, args, 0)?.to_lowercase()),
            Upper => Value::String(string(self, args, 0)?.to_uppercase()),
            Length => Value::Int(string(self, args, 0)?.chars().count() as i64),
            Substring => {
                let s = string(self, args, 0)?;
                let from = int(self, args, 1)?;
                let count = match args.get(2) {
                    Some(_) => Some(int(self, args, 2)?),
                    None => None,
                };
                Value::String(substring(s, from, count)?)
            }
            Trim | Ltrim | Rtrim => {
                let s = string(self, args, 0)?;
                let set: Vec<char> = match args.get(1) {
                    Some(_) => string(self, args, 1)?.chars().collect(),
                    None => vec![' '],
                };
                let strip = |c: char| set.contains(&c);
                Value::String(
                    match self {
                        Ltrim => s.trim_start_matches(strip),
                        Rtrim => s.trim_end_matches(strip),
                        _ => s.trim_matches(strip),
                    }
                    .to_owned(),
                )
            }
            Replace => {
                let s = string(self, args, 0)?;
                let from = string(self, args, 1)?;
                let to = string(self, args, 2)?;
                if from.is_empty() {
                    Value::String(s.to_owned())
                } else {
                    let n = s.matches(from).count();
                    let len = (s.len() - n * from.len()).saturating_add(n.saturating_mul(to.len()));
                    check_len(self, len)?;
                    Value::String(s.replace(from, to))
                }
            }
            Strpos => {
                let s = string(self, args, 0)?;
                let sub = string(self, args, 1)?;
                Value::Int(match s.find(sub) {
                    Some(at) => s[..at].chars().count() as i64 + 1,
                    None => 0,
                })
            }
            Abs => match &args[0] {
                Value::Int(i) => Value::Int(i.checked_abs().ok_or_else(overflow)?),
                Value::Float(x) => Value::Float(x.abs()),
                v => return Err(arg_error(self, 0, v.type_name())),
            },
            Floor | Ceil => match &args[0] {
                Value::Int(i) => Value::Int(*i),
                Value::Float(x) => Value::Float(if self == Floor { x.floor() } else { x.ceil() }),
                v => return Err(arg_error(self, 0, v.type_name())),
            },
            Round => {
                let digits = match args.get(1) {
                    Some(_) => int(self, args, 1)?,
                    None => 0,
                };
                match &args[0] {
                    Value::Int(i) => Value::Int(round_int(*i, digits)?),
                    Value::Float(x) => Value::Float(round_float(*x, digits)),
                    v => return Err(arg_error(self, 0, v.type_name())),
                }
            }
            Mod => modulo(&args[0], &args[1])?,
        };
        Ok(widen(v, ty))
    }
}

/// `v` widened to float when the bound result type is float.
pub(crate) fn widen(v: Value, ty: Option<ColumnType>) -> Value {
    match (v, ty) {
        (Value::Int(i), Some(ColumnType::Float)) => Value::Float(i as f64),
        (v, _) => v,
    }
}

/// The one type values of `types` share (int and float share float), for
/// `coalesce`, `greatest`, `least`, `nullif` and the branches of `case`
/// (`what` names the construct in the error). `None` when some type is
/// not known or all are `null`.
pub(crate) fn common_type(what: &str, types: &[ArgType]) -> Result<Option<ColumnType>> {
    let mut found: Option<ColumnType> = None;
    let mut unknown = false;
    for t in types {
        match t {
            ArgType::Null => {}
            ArgType::Unknown => unknown = true,
            ArgType::Known(t) => {
                found = Some(match (found, *t) {
                    (None, t) => t,
                    (Some(a), b) if a == b => a,
                    (Some(ColumnType::Int), ColumnType::Float)
                    | (Some(ColumnType::Float), ColumnType::Int) => ColumnType::Float,
                    (Some(a), b) => {
                        return Err(Error::query(
                            ErrorCode::TypeMismatch,
                            format!(
                                "{what} types {} and {} cannot be matched",
                                a.name(),
                                b.name()
                            ),
                        ));
                    }
                });
            }
        }
    }
    Ok(if unknown { None } else { found })
}

fn arg_error(f: ScalarFunc, i: usize, got: &str) -> Error {
    let want = match f.want(i) {
        Want::Str => "a string",
        Want::Int => "an int",
        Want::Number => "a number",
        Want::Any => "a value",
    };
    Error::query(
        ErrorCode::TypeMismatch,
        format!(
            "{}() needs {want} as argument {}, got {got}",
            f.name(),
            i + 1
        ),
    )
}

fn overflow() -> Error {
    Error::query(ErrorCode::NumericOverflow, "integer overflow in a function")
}

fn check_len(f: ScalarFunc, len: usize) -> Result<()> {
    if len > MAX_STRING_LEN {
        return Err(Error::query(
            ErrorCode::MemoryLimit,
            format!(
                "{}() would build a string of {len} bytes (at most {MAX_STRING_LEN})",
                f.name()
            ),
        ));
    }
    Ok(())
}

/// Argument `i` as a string, or the error naming the function.
fn string(f: ScalarFunc, args: &[Value], i: usize) -> Result<&str> {
    match args.get(i) {
        Some(Value::String(s)) => Ok(s),
        Some(v) => Err(arg_error(f, i, v.type_name())),
        None => Err(arg_error(f, i, "nothing")),
    }
}

/// Argument `i` as an int.
fn int(f: ScalarFunc, args: &[Value], i: usize) -> Result<i64> {
    match args.get(i) {
        Some(Value::Int(x)) => Ok(*x),
        Some(v) => Err(arg_error(f, i, v.type_name())),
        None => Err(arg_error(f, i, "nothing")),
    }
}

/// SQL's `substring(s from start for count)`: the characters at 1-based
/// positions `start .. start + count` that exist (positions before 1 are
/// counted but hold nothing); a negative count is an error.
pub(crate) fn substring(s: &str, start: i64, count: Option<i64>) -> Result<String> {
    let end = match count {
        Some(n) if n < 0 => {
            return Err(Error::query(
                ErrorCode::TypeMismatch,
                "substring() length must not be negative",
            ));
        }
        Some(n) => start.saturating_add(n),
        None => i64::MAX,
    };
    let first = start.max(1);
    if end <= first {
        return Ok(String::new());
    }
    let skip = usize::try_from(first - 1).unwrap_or(usize::MAX);
    let take = usize::try_from(end - first).unwrap_or(usize::MAX);
    Ok(s.chars().skip(skip).take(take).collect())
}

/// `greatest` / `least`: nulls ignored, null when all are; values that do
/// not compare (a string and an int) are an error.
fn extreme(f: ScalarFunc, args: &[Value]) -> Result<Value> {
    let mut best: Option<&Value> = None;
    for a in args.iter().filter(|a| !a.is_null()) {
        best = Some(match best {
            None => a,
            Some(b) => match a.sql_cmp(b) {
                Some(Ordering::Greater) if f == ScalarFunc::Greatest => a,
                Some(Ordering::Less) if f == ScalarFunc::Least => a,
                Some(_) => b,
                None => {
                    return Err(Error::query(
                        ErrorCode::TypeMismatch,
                        format!(
                            "{}() cannot compare {} with {}",
                            f.name(),
                            b.type_name(),
                            a.type_name()
                        ),
                    ));
                }
            },
        });
    }
    Ok(best.cloned().unwrap_or_default())
}

/// `a % b`: the remainder with the sign of `a`; two ints stay int, a
/// float makes it float; `null` for a zero divisor (as `/`).
pub(crate) fn modulo(a: &Value, b: &Value) -> Result<Value> {
    Ok(match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Value::Null,
        (Value::Int(_), Value::Int(0)) => Value::Null,
        // `wrapping_rem` is exact here: i64::MIN % -1 is 0.
        (Value::Int(x), Value::Int(y)) => Value::Int(x.wrapping_rem(*y)),
        (x, y) => {
            let need = |v: &Value| {
                as_f64(v).ok_or_else(|| {
                    Error::query(
                        ErrorCode::TypeMismatch,
                        format!("operator % needs numbers, got {}", v.type_name()),
                    )
                })
            };
            let (fx, fy) = (need(x)?, need(y)?);
            let r = fx % fy;
            if fy == 0.0 || r.is_nan() {
                Value::Null
            } else {
                Value::Float(r)
            }
        }
    })
}

/// A number as f64.
fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(x) => Some(*x),
        _ => None,
    }
}

/// `a || b`: the text of both sides joined, when at least one is a
/// string; null when either is null.
pub(crate) fn concat_op(a: &Value, b: &Value) -> Result<Value> {
    Ok(match (a, b) {
        (Value::Null, _) | (_, Value::Null) => Value::Null,
        (Value::String(_), _) | (_, Value::String(_)) => {
            let (x, y) = (text(a), text(b));
            check_len(ScalarFunc::Concat, x.len() + y.len())?;
            Value::String(x + &y)
        }
        _ => {
            return Err(Error::query(
                ErrorCode::TypeMismatch,
                format!(
                    "operator || needs a string on one side, got {} and {}",
                    a.type_name(),
                    b.type_name()
                ),
            ));
        }
    })
}

/// An int rounded to `digits` decimal places: itself for `digits >= 0`,
/// else to a multiple of `10^-digits`, halves away from zero.
fn round_int(i: i64, digits: i64) -> Result<i64> {
    if digits >= 0 {
        return Ok(i);
    }
    // `digits` may be i64::MIN: its negation does not fit.
    let Some(m) = digits
        .checked_neg()
        .and_then(|d| u32::try_from(d).ok())
        .and_then(|p| 10i64.checked_pow(p))
    else {
        return Ok(0);
    };
    let (q, r) = (i / m, i % m);
    let q = if r.unsigned_abs() * 2 >= m.unsigned_abs() {
        q + i.signum()
    } else {
        q
    };
    q.checked_mul(m).ok_or_else(overflow)
}

/// A float rounded to `digits` decimal places, halves away from zero, on
/// its shortest decimal form (so `round(1.005, 2)` is 1.01, as the
/// written number suggests, not 1.0 as its binary value would give).
pub(crate) fn round_float(x: f64, digits: i64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return x;
    }
    // `d.ddd…e±x`: the shortest digits that read back as `x`.
    let sci = format!("{:e}", x.abs());
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return x;
    };
    let Ok(exp) = exp.parse::<i64>() else {
        return x;
    };
    let ds: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    // Digits kept: those before the point (exp + 1) and `digits` after.
    let keep = exp.saturating_add(1).saturating_add(digits);
    if keep >= ds.len() as i64 {
        return x;
    }
    if keep < 0 {
        return 0.0_f64.copysign(x);
    }
    let keep = keep as usize;
    let mut kept: Vec<u8> = ds[..keep].to_vec();
    if ds[keep] >= b'5' {
        // Add one at the last kept digit, carrying.
        let mut i = kept.len();
        loop {
            if i == 0 {
                kept.insert(0, b'1');
                break;
            }
            i -= 1;
            if kept[i] == b'9' {
                kept[i] = b'0';
            } else {
                kept[i] += 1;
                break;
            }
        }
    }
    if kept.is_empty() {
        return 0.0_f64.copysign(x);
    }
    let digits_text = String::from_utf8_lossy(&kept);
    let text = format!("{digits_text}e{}", -digits);
    let r: f64 = text.parse().unwrap_or(x.abs());
    r.copysign(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(x: &str) -> Value {
        Value::String(x.to_owned())
    }

    fn call(f: &str, args: &[Value]) -> Result<Value> {
        ScalarFunc::lookup(f).unwrap().eval(args, None)
    }

    #[test]
    fn substring_follows_sql_out_of_range_rules() {
        let sub = |st, n| substring("hello", st, n).unwrap();
        assert_eq!(sub(2, Some(3)), "ell");
        assert_eq!(sub(0, Some(3)), "he");
        assert_eq!(sub(-1, Some(3)), "h");
        assert_eq!(sub(-5, Some(3)), "");
        assert_eq!(sub(4, None), "lo");
        assert_eq!(sub(9, None), "");
        assert_eq!(sub(i64::MIN, Some(i64::MAX)), "");
        assert_eq!(sub(2, Some(i64::MAX)), "ello");
        assert_eq!(substring("héllo", 2, Some(2)).unwrap(), "él");
        assert!(substring("x", 1, Some(-1)).is_err());
    }

    #[test]
    fn string_functions() {
        assert_eq!(call("length", &[s("héllo")]).unwrap(), Value::Int(5));
        assert_eq!(call("upper", &[s("straße")]).unwrap(), s("STRASSE"));
        assert_eq!(call("lower", &[Value::Null]).unwrap(), Value::Null);
        assert_eq!(call("trim", &[s("  a b \t ")]).unwrap(), s("a b \t"));
        assert_eq!(call("ltrim", &[s("xxaxx"), s("x")]).unwrap(), s("axx"));
        assert_eq!(call("rtrim", &[s("xxaxx"), s("x")]).unwrap(), s("xxa"));
        assert_eq!(
            call("replace", &[s("aXbX"), s("X"), s("yy")]).unwrap(),
            s("ayybyy")
        );
        assert_eq!(call("replace", &[s("ab"), s(""), s("z")]).unwrap(), s("ab"));
        assert_eq!(
            call("strpos", &[s("héllo"), s("llo")]).unwrap(),
            Value::Int(3)
        );
        assert_eq!(call("strpos", &[s("abc"), s("z")]).unwrap(), Value::Int(0));
        assert_eq!(call("strpos", &[s("abc"), s("")]).unwrap(), Value::Int(1));
        assert_eq!(
            call(
                "concat",
                &[
                    s("a"),
                    Value::Null,
                    Value::Int(1),
                    Value::Float(2.5),
                    Value::Bool(true)
                ]
            )
            .unwrap(),
            s("a12.5true")
        );
        assert_eq!(concat_op(&s("a"), &Value::Null).unwrap(), Value::Null);
        assert_eq!(concat_op(&Value::Int(1), &s("a")).unwrap(), s("1a"));
        assert_eq!(
            concat_op(&Value::Int(1), &Value::Int(2))
                .unwrap_err()
                .code(),
            ErrorCode::TypeMismatch
        );
        assert_eq!(
            call("lower", &[Value::Int(1)]).unwrap_err().code(),
            ErrorCode::TypeMismatch
        );
    }

    #[test]
    fn replace_refuses_a_huge_result() {
        let big = "a".repeat(1 << 16);
        let to = "b".repeat(1 << 12);
        let e = call("replace", &[s(&big), s("a"), s(&to)]).unwrap_err();
        assert_eq!(e.code(), ErrorCode::MemoryLimit);
    }

    #[test]
    fn numeric_functions() {
        assert_eq!(call("abs", &[Value::Int(-3)]).unwrap(), Value::Int(3));
        assert_eq!(
            call("abs", &[Value::Int(i64::MIN)]).unwrap_err().code(),
            ErrorCode::NumericOverflow
        );
        assert_eq!(
            call("floor", &[Value::Float(-1.5)]).unwrap(),
            Value::Float(-2.0)
        );
        assert_eq!(
            call("ceil", &[Value::Float(-1.5)]).unwrap(),
            Value::Float(-1.0)
        );
        assert_eq!(
            call("round", &[Value::Float(2.5)]).unwrap(),
            Value::Float(3.0)
        );
        assert_eq!(
            call("round", &[Value::Float(-2.5)]).unwrap(),
            Value::Float(-3.0)
        );
        assert_eq!(
            call("round", &[Value::Float(1.005), Value::Int(2)]).unwrap(),
            Value::Float(1.01)
        );
        assert_eq!(
            call("round", &[Value::Float(1234.5), Value::Int(-2)]).unwrap(),
            Value::Float(1200.0)
        );
        assert_eq!(
            call("round", &[Value::Float(0.4), Value::Int(0)]).unwrap(),
            Value::Float(0.0)
        );
        assert_eq!(
            call("round", &[Value::Float(9.99), Value::Int(1)]).unwrap(),
            Value::Float(10.0)
        );
        assert_eq!(
            call("round", &[Value::Float(0.0004), Value::Int(3)]).unwrap(),
            Value::Float(0.0)
        );
        assert_eq!(
            call("round", &[Value::Float(0.0005), Value::Int(3)]).unwrap(),
            Value::Float(0.001)
        );
        assert_eq!(
            call("round", &[Value::Int(1250), Value::Int(-2)]).unwrap(),
            Value::Int(1300)
        );
        assert_eq!(
            call("round", &[Value::Int(-1250), Value::Int(-2)]).unwrap(),
            Value::Int(-1300)
        );
        assert_eq!(
            call("round", &[Value::Int(1249), Value::Int(-2)]).unwrap(),
            Value::Int(1200)
        );
        assert_eq!(
            call("round", &[Value::Int(5), Value::Int(-30)]).unwrap(),
            Value::Int(0)
        );
        assert_eq!(
            call("mod", &[Value::Int(-7), Value::Int(3)]).unwrap(),
            Value::Int(-1)
        );
        assert_eq!(
            call("mod", &[Value::Int(i64::MIN), Value::Int(-1)]).unwrap(),
            Value::Int(0)
        );
        assert_eq!(
            call("mod", &[Value::Int(7), Value::Int(0)]).unwrap(),
            Value::Null
        );
        assert_eq!(
            call("mod", &[Value::Float(5.5), Value::Int(2)]).unwrap(),
            Value::Float(1.5)
        );
        assert_eq!(
            call("greatest", &[Value::Int(1), Value::Null, Value::Float(2.5)]).unwrap(),
            Value::Float(2.5)
        );
        assert_eq!(
            call("least", &[Value::Null, Value::Null]).unwrap(),
            Value::Null
        );
        assert_eq!(
            call("least", &[Value::Int(1), s("a")]).unwrap_err().code(),
            ErrorCode::TypeMismatch
        );
    }

    /// `round(i, n)` of an int: itself for n >= 0, else to a multiple of
    /// 10^-n (halves away from zero); any digit count, `i64::MIN`
    /// included, gives a value, never an overflow of `n`.
    #[test]
    fn round_int_takes_every_digit_count() {
        assert_eq!(round_int(1234, 2).unwrap(), 1234);
        assert_eq!(round_int(1250, -2).unwrap(), 1300);
        assert_eq!(round_int(-1250, -2).unwrap(), -1300);
        assert_eq!(round_int(1249, -2).unwrap(), 1200);
        assert_eq!(round_int(7, -30).unwrap(), 0);
        assert_eq!(round_int(7, i64::MIN).unwrap(), 0);
        assert_eq!(round_int(7, i64::MAX).unwrap(), 7);
    }

    /// `round(x, n)` agrees with rounding the exact decimal text of `x`
    /// when that text is short (no binary-representation surprises).
    #[test]
    fn round_float_matches_decimal_rounding() {
        for (x, n, want) in [
            (2.675, 2, 2.68),
            (-0.125, 2, -0.13),
            (0.5, 0, 1.0),
            (1.45, 1, 1.5),
            (123.456, -1, 120.0),
            (5.0, -1, 10.0),
            (4.9, -1, 0.0),
        ] {
            assert_eq!(round_float(x, n), want, "round({x}, {n})");
        }
    }

    #[test]
    fn result_types_and_arity() {
        use ArgType::*;
        let int = Known(ColumnType::Int);
        let float = Known(ColumnType::Float);
        let string = Known(ColumnType::String);
        let f = |n: &str| ScalarFunc::lookup(n).unwrap();
        assert_eq!(
            f("coalesce").result_type(&[int, float]).unwrap(),
            Some(ColumnType::Float)
        );
        assert_eq!(
            f("coalesce").result_type(&[Null, int]).unwrap(),
            Some(ColumnType::Int)
        );
        assert_eq!(f("coalesce").result_type(&[Unknown, int]).unwrap(), None);
        assert_eq!(
            f("coalesce")
                .result_type(&[int, string])
                .unwrap_err()
                .code(),
            ErrorCode::TypeMismatch
        );
        assert_eq!(
            f("length").result_type(&[string]).unwrap(),
            Some(ColumnType::Int)
        );
        assert_eq!(
            f("length").result_type(&[int]).unwrap_err().code(),
            ErrorCode::TypeMismatch
        );
        assert_eq!(
            f("length").result_type(&[]).unwrap_err().code(),
            ErrorCode::Unsupported
        );
        assert_eq!(
            f("substr")
                .result_type(&[string, int, int, int])
                .unwrap_err()
                .code(),
            ErrorCode::Unsupported
        );
        assert_eq!(
            f("round").result_type(&[float, int]).unwrap(),
            Some(ColumnType::Float)
        );
        assert_eq!(
            f("round").result_type(&[float, float]).unwrap_err().code(),
            ErrorCode::TypeMismatch
        );
        assert_eq!(
            f("mod").result_type(&[int, int]).unwrap(),
            Some(ColumnType::Int)
        );
        assert_eq!(ScalarFunc::lookup("LOWER"), Some(ScalarFunc::Lower));
        assert_eq!(ScalarFunc::lookup("nope"), None);
        assert_eq!(
            ScalarFunc::Coalesce
                .eval(&[Value::Null, Value::Int(2)], Some(ColumnType::Float))
                .unwrap(),
            Value::Float(2.0)
        );
    }
}
