//! fasty values and PostgreSQL types: which type a result column is
//! described as, how a value is written in the text and binary formats,
//! and how a bound parameter (text or binary) becomes a [`Value`].
//!
//! | fasty | PostgreSQL |
//! |---|---|
//! | `int` | `int8` |
//! | `float` | `float8` |
//! | `string` | `text` |
//! | `bool` | `bool` |
//! | `json` | `jsonb` |
//! | unknown (a null literal, a json path) | `text` |
//!
//! Parameters are taken as `int2`/`int4`/`int8`, `float4`/`float8`,
//! `numeric` (an integer value becomes an `int`, any other a `float`),
//! `text`/`varchar`/`bpchar`/`name`/unknown, `bool` and `json`/`jsonb`.

use bytes::{BufMut, BytesMut};
use fasty_query::{ColumnType, Value};
use pgwire::api::Type;
use pgwire::api::results::FieldFormat;

use super::errors::PgError;

/// The PostgreSQL type a result column of fasty type `ty` is described as.
pub(crate) fn pg_type(ty: Option<ColumnType>) -> Type {
    match ty {
        Some(ColumnType::Int) => Type::INT8,
        Some(ColumnType::Float) => Type::FLOAT8,
        Some(ColumnType::Bool) => Type::BOOL,
        Some(ColumnType::Json) => Type::JSONB,
        Some(ColumnType::String) | None => Type::TEXT,
    }
}

/// Appends one DataRow field (length, then bytes; -1 for null) for `v`
/// in a column described as `ty`, in `format`.
pub(crate) fn encode_field(
    buf: &mut BytesMut,
    v: &Value,
    ty: &Type,
    format: FieldFormat,
) -> Result<(), PgError> {
    if matches!(v, Value::Null) {
        buf.put_i32(-1);
        return Ok(());
    }
    let at = buf.len();
    buf.put_i32(0);
    if format == FieldFormat::Binary {
        encode_binary(buf, v, ty)?;
    } else {
        buf.put_slice(text(v).as_bytes());
    }
    let len = i32::try_from(buf.len() - at - 4)
        .map_err(|_| PgError::new("54000", "a value is too large for the protocol (1 GiB)"))?;
    buf[at..at + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// A value's text format, as PostgreSQL writes it (`t`/`f` for bools,
/// `Infinity`/`-Infinity` for infinite floats, shortest round-trip
/// digits for floats).
pub(crate) fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => float_text(*f),
        Value::Bool(b) => if *b { "t" } else { "f" }.to_string(),
        Value::String(s) => s.clone(),
        Value::Json(j) => j.to_string(),
    }
}

fn float_text(f: f64) -> String {
    if f.is_infinite() {
        if f > 0.0 { "Infinity" } else { "-Infinity" }.to_string()
    } else if f.is_nan() {
        "NaN".to_string()
    } else {
        // Rust's shortest round-trip form, which PostgreSQL 12+ also
        // prints (`extra_float_digits` 1); integral values without `.0`.
        let s = f.to_string();
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    }
}

fn encode_binary(buf: &mut BytesMut, v: &Value, ty: &Type) -> Result<(), PgError> {
    match (v, ty) {
        (Value::Int(i), t) if *t == Type::INT8 => buf.put_i64(*i),
        (Value::Float(f), t) if *t == Type::FLOAT8 => buf.put_f64(*f),
        (Value::Int(i), t) if *t == Type::FLOAT8 => buf.put_f64(*i as f64),
        (Value::Bool(b), t) if *t == Type::BOOL => buf.put_u8(u8::from(*b)),
        (Value::Json(j), t) if *t == Type::JSONB => {
            buf.put_u8(1);
            buf.put_slice(j.to_string().as_bytes());
        }
        (Value::Json(j), t) if *t == Type::JSON => buf.put_slice(j.to_string().as_bytes()),
        (_, t) if *t == Type::TEXT => buf.put_slice(text(v).as_bytes()),
        (v, t) => {
            return Err(PgError::new(
                "42804",
                format!(
                    "a {} value in a column described as {}: cannot send it in binary",
                    v.type_name(),
                    t.name()
                ),
            ));
        }
    }
    Ok(())
}

/// The value of a bound parameter: `bytes` (`None`: null) in `format`,
/// declared as `ty` (`None`: the client left the type to the server,
/// which takes the text as a string).
pub(crate) fn decode_param(
    bytes: Option<&[u8]>,
    ty: Option<&Type>,
    format: FieldFormat,
    index: usize,
) -> Result<Value, PgError> {
    let Some(bytes) = bytes else {
        return Ok(Value::Null);
    };
    let ty = ty.unwrap_or(&Type::UNKNOWN);
    let bad = |what: &str| {
        PgError::new(
            "22P02",
            format!(
                "parameter ${} is not a valid {} in {} format: {what}",
                index + 1,
                ty.name(),
                if format == FieldFormat::Binary {
                    "binary"
                } else {
                    "text"
                }
            ),
        )
    };
    if format == FieldFormat::Binary {
        let fixed = |n: usize| -> Result<&[u8], PgError> {
            if bytes.len() == n {
                Ok(bytes)
            } else {
                Err(bad(&format!("{} byte(s), expected {n}", bytes.len())))
            }
        };
        let be = |n: usize| -> Result<[u8; 8], PgError> {
            let b = fixed(n)?;
            let mut out = [0u8; 8];
            out[8 - n..].copy_from_slice(b);
            Ok(out)
        };
        return Ok(match ty {
            t if *t == Type::INT2 => {
                Value::Int(i64::from(i16::from_be_bytes([fixed(2)?[0], bytes[1]])))
            }
            t if *t == Type::INT4 => {
                let b = fixed(4)?;
                Value::Int(i64::from(i32::from_be_bytes([b[0], b[1], b[2], b[3]])))
            }
            t if *t == Type::INT8 => Value::Int(i64::from_be_bytes(be(8)?)),
            t if *t == Type::FLOAT4 => {
                let b = fixed(4)?;
                float(f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]])))
            }
            t if *t == Type::FLOAT8 => float(f64::from_be_bytes(be(8)?)),
            t if *t == Type::BOOL => Value::Bool(fixed(1)?[0] != 0),
            t if *t == Type::NUMERIC => numeric_text(&binary_numeric(bytes).map_err(bad)?)
                .ok_or_else(|| bad("not a number"))?,
            t if *t == Type::JSONB => match bytes.split_first() {
                Some((1, rest)) => json(rest).map_err(bad)?,
                _ => return Err(bad("unknown jsonb version")),
            },
            t if *t == Type::JSON => json(bytes).map_err(bad)?,
            t if is_text(t) => Value::String(utf8(bytes).map_err(bad)?.to_string()),
            t => return Err(unsupported_type(t, index)),
        });
    }
    let s = utf8(bytes).map_err(bad)?;
    Ok(match ty {
        t if *t == Type::INT2 || *t == Type::INT4 || *t == Type::INT8 => {
            Value::Int(s.trim().parse().map_err(|_| bad("not an integer"))?)
        }
        t if *t == Type::FLOAT4 || *t == Type::FLOAT8 => {
            float(parse_float(s).ok_or_else(|| bad("not a number"))?)
        }
        t if *t == Type::NUMERIC => numeric_text(s).ok_or_else(|| bad("not a number"))?,
        t if *t == Type::BOOL => Value::Bool(parse_bool(s).ok_or_else(|| bad("not a boolean"))?),
        t if *t == Type::JSON || *t == Type::JSONB => json(bytes).map_err(bad)?,
        t if is_text(t) => Value::String(s.to_string()),
        t => return Err(unsupported_type(t, index)),
    })
}

fn unsupported_type(t: &Type, index: usize) -> PgError {
    PgError::new(
        "0A000",
        format!(
            "parameter ${} has type {}, which fasty does not take: use int8, float8, numeric, text, bool or jsonb",
            index + 1,
            t.name()
        ),
    )
}

fn is_text(t: &Type) -> bool {
    *t == Type::TEXT
        || *t == Type::VARCHAR
        || *t == Type::BPCHAR
        || *t == Type::NAME
        || *t == Type::UNKNOWN
}

fn utf8(b: &[u8]) -> Result<&str, &'static str> {
    std::str::from_utf8(b).map_err(|_| "not UTF-8")
}

fn json(b: &[u8]) -> Result<Value, &'static str> {
    serde_json::from_slice(b)
        .map(Value::Json)
        .map_err(|_| "not JSON")
}

/// A float as fasty keeps it: NaN (which fasty never stores) is null.
fn float(f: f64) -> Value {
    if f.is_nan() {
        Value::Null
    } else {
        Value::Float(f)
    }
}

fn parse_float(s: &str) -> Option<f64> {
    match s.trim().to_ascii_lowercase().as_str() {
        "infinity" | "+infinity" | "inf" => Some(f64::INFINITY),
        "-infinity" | "-inf" => Some(f64::NEG_INFINITY),
        "nan" => Some(f64::NAN),
        t => t.parse().ok(),
    }
}

/// PostgreSQL's boolean input: `t`, `true`, `yes`, `on`, `1` and their
/// opposites, in any case, or any unique prefix of them.
fn parse_bool(s: &str) -> Option<bool> {
    let s = s.trim().to_ascii_lowercase();
    if s.is_empty() {
        return None;
    }
    match s.as_str() {
        "1" | "on" => return Some(true),
        "0" | "off" => return Some(false),
        _ => {}
    }
    if "true".starts_with(&s) || "yes".starts_with(&s) {
        Some(true)
    } else if "false".starts_with(&s) || "no".starts_with(&s) {
        Some(false)
    } else {
        None
    }
}

/// A `numeric`: an `int` when it is integral and fits, else a `float`.
fn numeric_text(s: &str) -> Option<Value> {
    let t = s.trim();
    if let Ok(i) = t.parse::<i64>() {
        return Some(Value::Int(i));
    }
    parse_float(t).map(float)
}

/// The decimal text of a binary `numeric` (base-10000 digits).
fn binary_numeric(b: &[u8]) -> Result<String, &'static str> {
    let word = |i: usize| -> Result<u16, &'static str> {
        b.get(i * 2..i * 2 + 2)
            .map(|w| u16::from_be_bytes([w[0], w[1]]))
            .ok_or("truncated numeric")
    };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    if sign == 0xC000 {
        return Ok("NaN".into());
    }
    if sign == 0xD000 {
        return Ok("Infinity".into());
    }
    if sign == 0xF000 {
        return Ok("-Infinity".into());
    }
    if b.len() != 8 + ndigits * 2 {
        return Err("numeric of the wrong length");
    }
    let mut s = String::new();
    if sign == 0x4000 {
        s.push('-');
    }
    if ndigits == 0 {
        return Ok("0".into());
    }
    // digits[i] is worth 10000^(weight - i).
    let mut int_part = String::new();
    let mut frac_part = String::new();
    for i in 0..ndigits {
        let d = word(4 + i)?;
        if d > 9999 {
            return Err("numeric digit out of range");
        }
        let power = weight - i as i64;
        if power >= 0 {
            if int_part.is_empty() {
                int_part = d.to_string();
            } else {
                int_part.push_str(&format!("{d:04}"));
            }
        } else {
            // Leading zero groups between the point and this digit.
            let gap = (-power - 1) as usize;
            while frac_part.len() < gap * 4 {
                frac_part.push_str("0000");
            }
            frac_part.push_str(&format!("{d:04}"));
        }
    }
    let last_power = weight - (ndigits as i64 - 1);
    if last_power > 0 {
        if last_power > 1000 {
            return Err("numeric out of range");
        }
        for _ in 0..last_power {
            int_part.push_str("0000");
        }
    }
    if int_part.is_empty() {
        int_part.push('0');
    }
    s.push_str(&int_part);
    if !frac_part.is_empty() {
        s.push('.');
        s.push_str(frac_part.trim_end_matches('0'));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_forms_are_postgres_ones() {
        assert_eq!(text(&Value::Bool(true)), "t");
        assert_eq!(text(&Value::Float(1.5)), "1.5");
        assert_eq!(text(&Value::Float(2.0)), "2");
        assert_eq!(text(&Value::Float(f64::NEG_INFINITY)), "-Infinity");
        assert_eq!(text(&Value::Int(-7)), "-7");
    }

    #[test]
    fn booleans_take_postgres_spellings() {
        for (s, b) in [
            ("t", true),
            ("TRUE", true),
            ("on", true),
            ("y", true),
            ("0", false),
            ("off", false),
            ("f", false),
        ] {
            assert_eq!(parse_bool(s), Some(b), "{s}");
        }
        assert_eq!(parse_bool("o"), None);
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn binary_numerics_decode() {
        // 12345.678: weight 1, digits [1, 2345, 6780], dscale 3.
        let mut b = vec![];
        for w in [3u16, 1, 0, 3, 1, 2345, 6780] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(binary_numeric(&b).unwrap(), "12345.678");
        // -0.0005: weight -1, digits [5], sign negative.
        let mut b = vec![];
        for w in [1u16, 0xFFFF, 0x4000, 4, 5] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(binary_numeric(&b).unwrap(), "-0.0005");
        // 20000: weight 1, digits [2].
        let mut b = vec![];
        for w in [1u16, 1, 0, 0, 2] {
            b.extend_from_slice(&w.to_be_bytes());
        }
        assert_eq!(binary_numeric(&b).unwrap(), "20000");
        assert!(binary_numeric(&[0, 1]).is_err());
    }
}
