//! Markdown tables: a header, one alignment per column, rows of cells.
//! Every benchmark prints its results through this, so the tables look
//! alike and paste into a README as they are.

use std::fmt::Write as _;

/// How a column's cells line up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text: names, workloads, verdicts.
    Left,
    /// Numbers.
    Right,
}

/// A markdown table being built.
#[derive(Debug, Default)]
pub struct Table {
    head: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these columns.
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = (S, Align)>) -> Table {
        let (head, align) = columns.into_iter().map(|(h, a)| (h.into(), a)).unzip();
        Table {
            head,
            align,
            rows: Vec::new(),
        }
    }

    /// Adds a column after the existing ones.
    pub fn column(&mut self, head: impl Into<String>, align: Align) {
        self.head.push(head.into());
        self.align.push(align);
    }

    /// Adds a row; missing cells print empty, extra ones are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// The table, one line per row, ending in a newline.
    pub fn markdown(&self) -> String {
        let mut out = String::from("|");
        for h in &self.head {
            let _ = write!(out, " {h} |");
        }
        out += "\n|";
        for a in &self.align {
            out += match a {
                Align::Left => "---|",
                Align::Right => "---:|",
            };
        }
        out += "\n";
        for row in &self.rows {
            out += "|";
            for i in 0..self.head.len() {
                let _ = write!(out, " {} |", row.get(i).map_or("", String::as_str));
            }
            out += "\n";
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_alignment_and_rows() {
        let mut t = Table::new([("workload", Align::Left), ("fasty", Align::Right)]);
        t.column("ratio", Align::Right);
        t.row(vec!["get".into(), "1.0 M".into(), "2.00×".into()]);
        t.row(vec!["scan".into()]);
        assert_eq!(
            t.markdown(),
            "| workload | fasty | ratio |\n|---|---:|---:|\n| get | 1.0 M | 2.00× |\n| scan |  |  |\n"
        );
    }
}
