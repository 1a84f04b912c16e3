//! How answers look in a terminal: an aligned table of the rows followed by
//! `N rows (T ms)`, or the affected count, `ok`, or the plan. A null cell
//! is `NULL`, so that it differs from the string `"null"`; columns are
//! aligned by display width (a CJK character takes two cells).

use std::fmt::Write as _;
use std::time::Duration;

use unicode_width::UnicodeWidthStr;

use crate::target::Answer;

/// A value's text: strings as they are, `null`, numbers and booleans as
/// JSON writes them, json values compact.
pub fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A table cell's text: [`cell`], but a null is `NULL`.
pub fn table_cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "NULL".to_string(),
        other => cell(other),
    }
}

/// The answer as printed, ending in a newline; `(T ms)` after the count
/// when `timer`.
pub fn render(answer: &Answer, elapsed: Duration, timer: bool) -> String {
    let time = if timer {
        format!(" ({})", format_elapsed(elapsed))
    } else {
        String::new()
    };
    match answer {
        Answer::Rows { columns, rows } => {
            let mut out = render_rows(columns, rows);
            let noun = if rows.len() == 1 { "row" } else { "rows" };
            let _ = writeln!(out, "{} {noun}{time}", rows.len());
            out
        }
        Answer::Affected(n) => {
            let noun = if *n == 1 { "row" } else { "rows" };
            format!("{n} {noun} affected{time}\n")
        }
        Answer::Inserted(n) => format!("{n} rows inserted{time}\n"),
        Answer::Ok => format!("ok{time}\n"),
        Answer::Plan(p) => {
            let mut s = p.trim_end().to_string();
            s.push('\n');
            s
        }
    }
}

/// `1.23 ms`, `45 ms`, `1.20 s`.
pub fn format_elapsed(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 10_000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

/// The header, a rule and the rows, columns padded to their widest cell;
/// numbers right-aligned, everything else left-aligned. Nothing when
/// there are no columns.
pub fn render_rows(columns: &[String], rows: &[Vec<serde_json::Value>]) -> String {
    if columns.is_empty() {
        return String::new();
    }
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|v| one_line(&table_cell(v))).collect())
        .collect();
    let mut width: Vec<usize> = columns.iter().map(|c| c.width()).collect();
    for r in &cells {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.width());
        }
    }
    let numeric: Vec<bool> = (0..columns.len())
        .map(|j| {
            rows.iter().any(|r| r.get(j).is_some_and(|v| v.is_number()))
                && rows
                    .iter()
                    .all(|r| r.get(j).is_none_or(|v| v.is_number() || v.is_null()))
        })
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, texts: &[String], numeric: &[bool]| {
        let mut first = true;
        for (j, (t, w)) in texts.iter().zip(&width).enumerate() {
            if !first {
                out.push_str(" | ");
            }
            first = false;
            let pad = w.saturating_sub(t.width());
            if numeric.get(j).copied().unwrap_or(false) {
                out.push_str(&" ".repeat(pad));
                out.push_str(t);
            } else {
                out.push_str(t);
                out.push_str(&" ".repeat(pad));
            }
        }
        let trimmed = out.trim_end_matches(' ').len();
        out.truncate(trimmed);
        out.push('\n');
    };
    line(&mut out, columns, &[]);
    let rule: Vec<String> = width.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&rule.join("-+-"));
    out.push('\n');
    for r in &cells {
        line(&mut out, r, &numeric);
    }
    out
}

/// Newlines and tabs in a cell would break the table.
fn one_line(s: &str) -> String {
    if s.contains(['\n', '\r', '\t']) {
        s.replace('\n', "\\n")
            .replace('\r', "\\r")
            .replace('\t', "\\t")
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_are_aligned_with_numbers_on_the_right() {
        let cols = vec!["id".to_string(), "name".to_string()];
        let rows = vec![
            vec![json!(1), json!("alice")],
            vec![json!(100), json!(null)],
        ];
        assert_eq!(
            render_rows(&cols, &rows),
            "id  | name\n----+------\n  1 | alice\n100 | NULL\n"
        );
    }

    #[test]
    fn null_differs_from_the_string_null_and_wide_text_aligns() {
        let cols = vec!["name".to_string(), "n".to_string()];
        let rows = vec![
            vec![json!("null"), json!(null)],
            vec![json!("東京"), json!(2)],
            vec![json!(null), json!(3)],
        ];
        assert_eq!(
            render_rows(&cols, &rows),
            "name | n\n-----+-----\nnull | NULL\n東京 |    2\nNULL |    3\n"
        );
    }

    #[test]
    fn counts_and_time_follow_the_rows() {
        let a = Answer::Rows {
            columns: vec!["x".into()],
            rows: vec![vec![json!("a\nb")]],
        };
        let s = render(&a, Duration::from_micros(1500), true);
        assert_eq!(s, "x\n----\na\\nb\n1 row (1.50 ms)\n");
        assert_eq!(
            render(&Answer::Affected(3), Duration::from_millis(12), true),
            "3 rows affected (12 ms)\n"
        );
        assert_eq!(
            render(&Answer::Affected(1), Duration::from_millis(12), false),
            "1 row affected\n"
        );
    }
}
