//! Number formatting shared by the report tables: rates with k / M
//! suffixes and milliseconds with sensible precision.

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
    }
}
