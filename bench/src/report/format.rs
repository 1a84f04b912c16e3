//! Number formatting shared by the report tables: rates with k / M
//! suffixes, milliseconds with sensible precision, thousands separators,
//! and the two JSON scalars the hand-written JSON of `storage` needs.

use std::time::Duration;

/// `x` with three significant-ish digits and a k or M suffix
/// (`2.35 M`, `412.0 k`, `87`); a dash when it is not finite.
pub fn human(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// `d` in milliseconds: no decimals from 100 ms, one from 10 ms, else two.
pub fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms >= 100.0 {
        format!("{ms:.0}")
    } else if ms >= 10.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.2}")
    }
}

/// A figure with about three significant digits and a k/M suffix
/// (`1.23 M`, `45 k`, `4.5 k`, `312`, `31.2`, `3.12`, `0.312`).
pub fn number(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let a = x.abs();
    if a >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if a >= 1e4 {
        format!("{:.0} k", x / 1e3)
    } else if a >= 1e3 {
        format!("{:.1} k", x / 1e3)
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// `1234567.8` → `1,234,568`; a dash when not finite.
pub fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "—".into();
    }
    let digits = format!("{:.0}", x.round());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && c != '-' && (digits.len() - i) % 3 == 0 && !out.ends_with('-') {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A JSON number, or `null` for NaN and infinities.
pub fn json_number(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.3}")
    } else {
        "null".into()
    }
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    use std::fmt::Write as _;
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(q, "\\u{:04x}", u32::from(c));
            }
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(human(2_345_678.0), "2.35 M");
        assert_eq!(human(412_049.0), "412.0 k");
        assert_eq!(human(87.4), "87");
        assert_eq!(human(f64::NAN), "—");
        assert_eq!(millis(Duration::from_micros(412_300)), "412");
        assert_eq!(millis(Duration::from_micros(41_230)), "41.2");
        assert_eq!(millis(Duration::from_micros(4_123)), "4.12");
        assert_eq!(number(1_234_567.0), "1.23 M");
        assert_eq!(number(45_300.0), "45 k");
        assert_eq!(number(4_530.0), "4.5 k");
        assert_eq!(number(0.3124), "0.312");
        assert_eq!(number(f64::INFINITY), "—");
        assert_eq!(thousands(1_234_567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(-1_000.0), "-1,000");
        assert_eq!(json_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
        assert_eq!(json_number(f64::NAN), "null");
        assert_eq!(json_number(2.5), "2.500");
    }
}
