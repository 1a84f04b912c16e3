//! Values at run time: what a column holds, what an expression yields and
//! what a result row carries, with the comparison rules of docs/language.md
//! (numbers compare across `int` and `float`; `null` compares with
//! nothing; `order by` puts nulls first).

use std::cmp::Ordering;
use std::fmt;

use crate::ast::ColumnType;

/// One value.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// SQL null: absent or unknown.
    #[default]
    Null,
    /// An `int`.
    Int(i64),
    /// A `float` (never NaN: arithmetic that would give NaN gives null).
    Float(f64),
    /// A `bool`.
    Bool(bool),
    /// A `string`.
    String(String),
    /// A `json` object or array, or a part of one reached by a path.
    Json(serde_json::Value),
}

impl Value {
    /// The column type this value belongs to; `None` for null.
    pub fn column_type(&self) -> Option<ColumnType> {
        match self {
            Value::Null => None,
            Value::Int(_) => Some(ColumnType::Int),
            Value::Float(_) => Some(ColumnType::Float),
            Value::Bool(_) => Some(ColumnType::Bool),
            Value::String(_) => Some(ColumnType::String),
            Value::Json(_) => Some(ColumnType::Json),
        }
    }

    /// The name of this value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        self.column_type().map_or("null", ColumnType::name)
    }

    /// Whether this is null.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// SQL comparison: `None` when either side is null or the two cannot
    /// be compared (a string with a number); ints and floats compare as
    /// numbers.
    pub fn sql_cmp(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Int(a), Value::Int(b)) => Some(a.cmp(b)),
            (Value::Float(a), Value::Float(b)) => a.partial_cmp(b),
            (Value::Int(a), Value::Float(b)) => cmp_int_float(*a, *b),
            (Value::Float(a), Value::Int(b)) => cmp_int_float(*b, *a).map(Ordering::reverse),
            (Value::String(a), Value::String(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
            (Value::Json(a), Value::Json(b)) => (a == b).then_some(Ordering::Equal),
            _ => None,
        }
    }

    /// The total order of `order by` and `group by` output: nulls first,
    /// then bools, numbers, strings, json; within a kind, by value.
    pub fn sort_cmp(&self, other: &Value) -> Ordering {
        fn rank(v: &Value) -> u8 {
            match v {
                Value::Null => 0,
                Value::Bool(_) => 1,
                Value::Int(_) | Value::Float(_) => 2,
                Value::String(_) => 3,
                Value::Json(_) => 4,
            }
        }
        match rank(self).cmp(&rank(other)) {
            Ordering::Equal => match (self, other) {
                (Value::Json(a), Value::Json(b)) => a.to_string().cmp(&b.to_string()),
                _ => self.sql_cmp(other).unwrap_or(Ordering::Equal),
            },
            o => o,
        }
    }

    /// The value as JSON: how results go over HTTP. `json` values come
    /// back as nested JSON, not as a string.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Float(x) => serde_json::Number::from_f64(*x)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::Json(j) => j.clone(),
        }
    }

    /// A JSON value as a fasty value: numbers become `int` (when integral
    /// and in range) or `float`, strings `string`, objects and arrays
    /// `json`.
    pub fn from_json(j: serde_json::Value) -> Value {
        match j {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => n.as_f64().map_or(Value::Null, Value::Float),
            },
            serde_json::Value::String(s) => Value::String(s),
            j @ (serde_json::Value::Array(_) | serde_json::Value::Object(_)) => Value::Json(j),
        }
    }
}

/// Compares an int with a float exactly (no rounding of large ints).
pub(crate) fn cmp_int_float(a: i64, b: f64) -> Option<Ordering> {
    if b.is_nan() {
        return None;
    }
    // Every i64 lies in [-2^63, 2^63); outside that the float decides.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if b >= TWO_63 {
        return Some(Ordering::Less);
    }
    if b < -TWO_63 {
        return Some(Ordering::Greater);
    }
    let t = b.trunc();
    // `t` is integral and in range, so the cast is exact.
    let ti = t as i64;
    match a.cmp(&ti) {
        Ordering::Equal => 0.0f64.partial_cmp(&(b - t)),
        o => Some(o),
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::String(s) => f.write_str(s),
            Value::Json(j) => write!(f, "{j}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_and_floats_compare_as_numbers() {
        assert_eq!(
            Value::Int(2).sql_cmp(&Value::Float(2.5)),
            Some(Ordering::Less)
        );
        assert_eq!(
            Value::Float(-0.5).sql_cmp(&Value::Int(0)),
            Some(Ordering::Less)
        );
        assert_eq!(
            Value::Int(3).sql_cmp(&Value::Float(3.0)),
            Some(Ordering::Equal)
        );
        // 2^53 + 1 is not a float; it must still compare above 2^53.
        let big = (1i64 << 53) + 1;
        assert_eq!(
            Value::Int(big).sql_cmp(&Value::Float((1i64 << 53) as f64)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            Value::Int(i64::MAX).sql_cmp(&Value::Float(9.3e18)),
            Some(Ordering::Less)
        );
    }

    #[test]
    fn null_compares_with_nothing_but_sorts_first() {
        assert_eq!(Value::Null.sql_cmp(&Value::Null), None);
        assert_eq!(Value::Null.sql_cmp(&Value::Int(1)), None);
        assert_eq!(Value::Null.sort_cmp(&Value::Int(i64::MIN)), Ordering::Less);
        assert_eq!(
            Value::String("a".into()).sql_cmp(&Value::Int(1)),
            None,
            "strings and numbers are not comparable"
        );
    }

    #[test]
    fn json_numbers_become_ints_or_floats() {
        assert_eq!(Value::from_json(serde_json::json!(5)), Value::Int(5));
        assert_eq!(Value::from_json(serde_json::json!(5.5)), Value::Float(5.5));
        assert!(matches!(
            Value::from_json(serde_json::json!({"a": 1})),
            Value::Json(_)
        ));
    }
}
