//! Ratios as an SVG grid: one row per workload, one column per peer, each
//! cell coloured by how far fasty is ahead (green) or behind (red) on a
//! log scale, with the ratio written in it.

use std::fmt::Write as _;

use super::ratio;

/// One column of the grid: the peer and the fasty system it is compared
/// with.
pub struct Column<'a> {
    /// The peer's name (bold, on top).
    pub peer: &'a str,
    /// The fasty system it pairs with (small, below).
    pub fasty: &'a str,
}

/// One row: the workload and a ratio (or nothing) per column, plus a
/// marker printed after the ratio (`*` for unlike durability, or empty).
pub struct Row<'a> {
    /// The workload's title.
    pub label: &'a str,
    /// Per column: the ratio and its marker.
    pub cells: Vec<(Option<f64>, &'a str)>,
}

/// The grid as a standalone SVG document; `title` heads it, `legend`
/// lines follow under the title.
pub fn grid(title: &str, legend: &[String], columns: &[Column], rows: &[Row]) -> String {
    let (label_w, cell_w, cell_h) = (330.0, 120.0, 22.0);
    let head_h = 46.0 + 18.0 * legend.len() as f64;
    let width = label_w + cell_w * columns.len().max(1) as f64 + 10.0;
    let height = head_h + cell_h * rows.len() as f64 + 40.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(
        svg,
        "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">{}</text>",
        xml(title)
    );
    for (i, line) in legend.iter().enumerate() {
        let _ = writeln!(
            svg,
            "<text x=\"10\" y=\"{}\">{}</text>",
            38.0 + 18.0 * i as f64,
            xml(line)
        );
    }
    for (j, c) in columns.iter().enumerate() {
        let x = label_w + cell_w * j as f64 + cell_w / 2.0;
        let _ = writeln!(
            svg,
            "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\
             <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\">vs {}</text>",
            head_h - 14.0,
            xml(c.peer),
            head_h - 3.0,
            xml(c.fasty)
        );
    }
    for (i, r) in rows.iter().enumerate() {
        let y = head_h + cell_h * i as f64;
        let _ = writeln!(
            svg,
            "<text x=\"10\" y=\"{}\">{}</text>",
            y + cell_h * 0.7,
            xml(r.label)
        );
        for (j, (cell, marker)) in r.cells.iter().enumerate() {
            let x = label_w + cell_w * j as f64;
            let (fill, text) = match cell {
                Some(r) => (colour(*r), format!("{}{marker}", ratio::text(*r))),
                None => ("#eeeeee".to_string(), "—".to_string()),
            };
            let _ = writeln!(
                svg,
                "<rect x=\"{x}\" y=\"{y}\" width=\"{}\" height=\"{}\" fill=\"{fill}\" \
                 stroke=\"white\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                cell_w,
                cell_h,
                x + cell_w / 2.0,
                y + cell_h * 0.7,
                xml(&text)
            );
        }
    }
    svg += "</svg>\n";
    svg
}

/// Green for ratios above 1, red below, saturating at 16× either way.
fn colour(r: f64) -> String {
    let t = (r.log2() / 4.0).clamp(-1.0, 1.0);
    let fade = |x: f64| (255.0 - 150.0 * x.abs()).round() as u8;
    if t >= 0.0 {
        format!("#{:02x}ff{:02x}", fade(t), fade(t))
    } else {
        format!("#ff{:02x}{:02x}", fade(t), fade(t))
    }
}

/// `s` safe inside an SVG text node or attribute.
fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_run_from_red_through_white_to_green() {
        assert_eq!(colour(1.0), "#ffffff");
        assert_eq!(colour(16.0), "#69ff69");
        assert_eq!(colour(1.0 / 16.0), "#ff6969");
        assert_eq!(colour(1000.0), colour(16.0));
    }

    #[test]
    fn a_grid_holds_every_cell_escaped() {
        let svg = grid(
            "fasty ÷ peer",
            &["a < b".to_string()],
            &[Column {
                peer: "sqlite",
                fasty: "fasty-embedded",
            }],
            &[Row {
                label: "W7 top-10",
                cells: vec![(Some(2.0), "*")],
            }],
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(
            svg.contains(">a &lt; b<") && svg.contains(">2.00×*<"),
            "{svg}"
        );
        assert!(svg.contains(">vs fasty-embedded<"), "{svg}");
    }
}
