//! Conversions between the value types: `cast(e as TYPE)` / `e::TYPE`,
//! and the text form of a value that `concat` and `||` use. The rules
//! follow PostgreSQL's: text parses into a number or a bool (bad text is
//! `type_mismatch`), a float becomes an int by rounding half away from
//! zero (out of range is `numeric_overflow`), numbers and bools print as
//! PostgreSQL prints them, and `null` stays `null`.

use crate::ast::ColumnType;
use crate::error::{Error, ErrorCode, Result};
use crate::value::Value;

/// Whether a value of type `from` can ever be cast to `to` (checked when a
/// statement is bound, so that `cast(true as float)` fails before any row
/// is read). Text and json may hold anything, so they decide per value.
pub(crate) fn castable(from: ColumnType, to: ColumnType) -> bool {
    !matches!(
        (from, to),
        (ColumnType::Float, ColumnType::Bool) | (ColumnType::Bool, ColumnType::Float)
    )
}

/// `v` converted to `to`.
pub(crate) fn cast(v: &Value, to: ColumnType) -> Result<Value> {
    Ok(match (v, to) {
        (Value::Null, _) => Value::Null,
        (Value::Int(i), ColumnType::Int) => Value::Int(*i),
        (Value::Int(i), ColumnType::Float) => Value::Float(*i as f64),
        (Value::Int(i), ColumnType::Bool) => Value::Bool(*i != 0),
        (Value::Float(x), ColumnType::Int) => Value::Int(float_to_int(*x)?),
        (Value::Float(x), ColumnType::Float) => Value::Float(*x),
        (Value::Bool(b), ColumnType::Int) => Value::Int(i64::from(*b)),
        (Value::Bool(b), ColumnType::Bool) => Value::Bool(*b),
        (Value::String(s), ColumnType::Int) => Value::Int(parse_int(s)?),
        (Value::String(s), ColumnType::Float) => Value::Float(parse_float(s)?),
        (Value::String(s), ColumnType::Bool) => Value::Bool(parse_bool(s)?),
        (Value::String(s), ColumnType::Json) => parse_json(s)?,
        (v, ColumnType::String) => Value::String(text(v)),
        // A number or a bool is already a json scalar; a json value stays.
        (Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Json(_), ColumnType::Json) => {
            v.clone()
        }
        (v, to) => {
            return Err(Error::query(
                ErrorCode::TypeMismatch,
                format!("cannot cast {} to {}", v.type_name(), to.name()),
            ));
        }
    })
}

/// The text of a value, as PostgreSQL prints it (`true`, `1.5`, `1e+20`);
/// `null` prints as the empty string (callers deal with null first).
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Int(i) => i.to_string(),
        Value::Float(x) => float_text(*x),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Json(j) => j.to_string(),
    }
}

/// A float as PostgreSQL prints a `float8`: the shortest digits that read
/// back as the same value, in exponent form below 1e-4 and from 1e15 on
/// (`1e+20`, `1.5e-05`), `Infinity`, `-Infinity`, `NaN`.
pub(crate) fn float_text(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // `{:e}` is the shortest round-trip form: `1.5e20`, `-2e-5`.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..15).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        format!("{x}")
    }
}

/// A float rounded half away from zero to an int (`2.5` → 3, `-2.5` →
/// -3); `numeric_overflow` outside i64, `type_mismatch` for NaN.
pub(crate) fn float_to_int(x: f64) -> Result<i64> {
    /// 2^63, the first float past i64::MAX.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if x.is_nan() {
        return Err(Error::query(
            ErrorCode::TypeMismatch,
            "cannot cast NaN to int",
        ));
    }
    let r = x.round();
    if !(-TWO_63..TWO_63).contains(&r) {
        return Err(Error::query(
            ErrorCode::NumericOverflow,
            format!("{} is out of range for type int", float_text(x)),
        ));
    }
    Ok(r as i64)
}

fn invalid(ty: &str, s: &str) -> Error {
    let shown: String = s.chars().take(64).collect();
    let more = if shown.len() < s.len() { "..." } else { "" };
    Error::query(
        ErrorCode::TypeMismatch,
        format!("invalid input syntax for type {ty}: \"{shown}{more}\""),
    )
}

/// PostgreSQL trims these around numbers and bools.
fn trim_space(s: &str) -> &str {
    s.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c'))
}

/// Text to int: optional sign and decimal digits, surrounding whitespace
/// allowed (`" -12 "`); no fraction (`"1.5"` is invalid, as in
/// PostgreSQL).
fn parse_int(s: &str) -> Result<i64> {
    let t = trim_space(s);
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid("int", s));
    }
    t.parse::<i64>().map_err(|_| {
        Error::query(
            ErrorCode::NumericOverflow,
            format!("value \"{t}\" is out of range for type int"),
        )
    })
}

/// Text to float: a decimal number with optional exponent, or `Infinity`
/// / `-Infinity` / `inf` (any case), surrounding whitespace allowed.
/// `NaN` is refused (the engine has no NaN: arithmetic gives `null`).
fn parse_float(s: &str) -> Result<f64> {
    let t = trim_space(s);
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let word = body.eq_ignore_ascii_case("infinity") || body.eq_ignore_ascii_case("inf");
    let numeric = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && body.bytes().any(|b| b.is_ascii_digit());
    if !(word || numeric) {
        return Err(invalid("float", s));
    }
    let x: f64 = t.parse().map_err(|_| invalid("float", s))?;
    if x.is_infinite() && !word {
        return Err(Error::query(
            ErrorCode::NumericOverflow,
            format!("\"{t}\" is out of range for type float"),
        ));
    }
    Ok(x)
}

/// Text to bool, as PostgreSQL reads it: `true`, `yes`, `on`, `1` and
/// `false`, `no`, `off`, `0`, in any case, or any prefix of them that is
/// not ambiguous (`t`, `f`, `y`, `n`; `o` alone is ambiguous).
fn parse_bool(s: &str) -> Result<bool> {
    let t = trim_space(s).to_ascii_lowercase();
    let prefix_of = |word: &str, min: usize| t.len() >= min && word.starts_with(t.as_str());
    if prefix_of("true", 1) || prefix_of("yes", 1) || prefix_of("on", 2) || t == "1" {
        Ok(true)
    } else if prefix_of("false", 1) || prefix_of("no", 1) || prefix_of("off", 2) || t == "0" {
        Ok(false)
    } else {
        Err(invalid("bool", s))
    }
}

/// Text to json: the parsed document; a scalar document is the plain
/// value (`'5'` → 5, `'"a"'` → `"a"`), as the engine keeps json scalars.
fn parse_json(s: &str) -> Result<Value> {
    serde_json::from_str::<serde_json::Value>(s)
        .map(Value::from_json)
        .map_err(|e| {
            Error::query(
                ErrorCode::TypeMismatch,
                format!("invalid input syntax for type json: {e}"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(v: Value, to: ColumnType) -> Result<Value> {
        cast(&v, to)
    }

    fn s(x: &str) -> Value {
        Value::String(x.to_owned())
    }

    #[test]
    fn text_to_int_parses_like_postgres() {
        assert_eq!(c(s(" -12 "), ColumnType::Int).unwrap(), Value::Int(-12));
        assert_eq!(c(s("+7"), ColumnType::Int).unwrap(), Value::Int(7));
        for bad in ["", "abc", "1.5", "1e3", "- 1", "12abc", "+"] {
            let e = c(s(bad), ColumnType::Int).unwrap_err();
            assert_eq!(e.code(), ErrorCode::TypeMismatch, "{bad:?}");
        }
        assert_eq!(
            c(s("9223372036854775808"), ColumnType::Int)
                .unwrap_err()
                .code(),
            ErrorCode::NumericOverflow
        );
        assert_eq!(
            c(s("-9223372036854775808"), ColumnType::Int).unwrap(),
            Value::Int(i64::MIN)
        );
    }

    #[test]
    fn float_to_int_rounds_half_away_from_zero() {
        for (x, want) in [
            (2.5, 3),
            (-2.5, -3),
            (2.4999, 2),
            (0.5, 1),
            (-0.5, -1),
            (1e18, 1_000_000_000_000_000_000),
        ] {
            assert_eq!(
                c(Value::Float(x), ColumnType::Int).unwrap(),
                Value::Int(want),
                "{x}"
            );
        }
        for x in [9.3e18, -9.3e18, f64::INFINITY] {
            assert_eq!(
                c(Value::Float(x), ColumnType::Int).unwrap_err().code(),
                ErrorCode::NumericOverflow
            );
        }
    }

    #[test]
    fn numbers_and_bools_print_as_postgres_does() {
        let t = |v| c(v, ColumnType::String).unwrap();
        assert_eq!(t(Value::Int(-3)), s("-3"));
        assert_eq!(t(Value::Float(1.5)), s("1.5"));
        assert_eq!(t(Value::Float(2.0)), s("2"));
        assert_eq!(t(Value::Float(1e20)), s("1e+20"));
        assert_eq!(t(Value::Float(1.5e-5)), s("1.5e-05"));
        assert_eq!(t(Value::Float(123456789012345.0)), s("123456789012345"));
        assert_eq!(t(Value::Float(1e15)), s("1e+15"));
        assert_eq!(t(Value::Float(0.0001)), s("0.0001"));
        assert_eq!(t(Value::Float(f64::NEG_INFINITY)), s("-Infinity"));
        assert_eq!(t(Value::Bool(true)), s("true"));
        assert_eq!(t(Value::Null), Value::Null);
    }

    #[test]
    fn text_to_bool_and_float() {
        for yes in ["true", "T", " yes ", "on", "1", "tr"] {
            assert_eq!(
                c(s(yes), ColumnType::Bool).unwrap(),
                Value::Bool(true),
                "{yes}"
            );
        }
        for no in ["false", "F", "no", "off", "0", "of"] {
            assert_eq!(
                c(s(no), ColumnType::Bool).unwrap(),
                Value::Bool(false),
                "{no}"
            );
        }
        for bad in ["o", "maybe", "", "2", "truex"] {
            assert_eq!(
                c(s(bad), ColumnType::Bool).unwrap_err().code(),
                ErrorCode::TypeMismatch,
                "{bad}"
            );
        }
        assert_eq!(
            c(s(" 1.5e2 "), ColumnType::Float).unwrap(),
            Value::Float(150.0)
        );
        assert_eq!(
            c(s("-Infinity"), ColumnType::Float).unwrap(),
            Value::Float(f64::NEG_INFINITY)
        );
        for bad in ["nan", "abc", "", "1.5x", "."] {
            assert_eq!(
                c(s(bad), ColumnType::Float).unwrap_err().code(),
                ErrorCode::TypeMismatch,
                "{bad}"
            );
        }
        assert_eq!(
            c(s("1e999"), ColumnType::Float).unwrap_err().code(),
            ErrorCode::NumericOverflow
        );
    }

    #[test]
    fn json_and_refused_casts() {
        assert_eq!(
            c(s("[1, 2]"), ColumnType::Json).unwrap(),
            Value::Json(serde_json::json!([1, 2]))
        );
        assert_eq!(c(s("5"), ColumnType::Json).unwrap(), Value::Int(5));
        assert_eq!(
            c(s("{"), ColumnType::Json).unwrap_err().code(),
            ErrorCode::TypeMismatch
        );
        assert_eq!(
            c(Value::Json(serde_json::json!({"a": 1})), ColumnType::String).unwrap(),
            s(r#"{"a":1}"#)
        );
        assert_eq!(
            c(Value::Bool(true), ColumnType::Float).unwrap_err().code(),
            ErrorCode::TypeMismatch
        );
        assert_eq!(
            c(Value::Float(1.0), ColumnType::Bool).unwrap_err().code(),
            ErrorCode::TypeMismatch
        );
        assert_eq!(
            c(Value::Int(0), ColumnType::Bool).unwrap(),
            Value::Bool(false)
        );
        assert_eq!(
            c(Value::Bool(true), ColumnType::Int).unwrap(),
            Value::Int(1)
        );
        assert!(!castable(ColumnType::Bool, ColumnType::Float));
        assert!(castable(ColumnType::String, ColumnType::Int));
    }
}
