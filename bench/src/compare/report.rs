//! The suite's output: `report.json` (every run's figure), `report.md`
//! (medians with min–max per workload and system, then ratios fasty ÷
//! each peer) and `ratios.svg` (the ratios as a colour-coded grid).

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::workload::{Figure, Scale, Unit, Workload};
use crate::machine::{Machine, today_utc};

/// The fasty system each peer is compared with: the one of its kind
/// (a server with a server of the same durability, an embedded library
/// with the embedded one).
pub fn pair(peer: &str) -> Option<&'static str> {
    match peer {
        "postgres" => Some("fasty-durable"),
        "sqlite-full" => Some("fasty-embedded-durable"),
        "postgres-nosync" | "postgres-copy" => Some("fasty"),
        "sqlite" | "duckdb" => Some("fasty-embedded"),
        _ => None,
    }
}

#[derive(Serialize)]
struct MachineInfo {
    summary: String,
    cores: usize,
    memory_bytes: Option<u64>,
    kernel: Option<String>,
    cpu: Option<String>,
}

#[derive(Serialize)]
struct SystemInfo {
    name: String,
    setup: String,
}

/// Every figure of one workload on one system.
#[derive(Serialize)]
struct Entry {
    workload: Workload,
    title: &'static str,
    unit: Unit,
    higher_is_better: bool,
    system: String,
    /// One figure per run, in run order.
    runs: Vec<f64>,
    /// Why runs failed, if any did.
    errors: Vec<String>,
}

impl Entry {
    fn median(&self) -> Option<f64> {
        let mut v = self.runs.clone();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(v[n / 2]),
            _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
        }
    }
}

/// The report being built.
#[derive(Serialize)]
pub struct Report {
    date: String,
    commit: String,
    mode: &'static str,
    machine: MachineInfo,
    /// The I/O backend fasty's storage engine used.
    io_backend: Option<String>,
    /// The file system holding the databases.
    data_fs: Option<String>,
    scale: Scale,
    systems: Vec<SystemInfo>,
    results: Vec<Entry>,
    notes: Vec<String>,
}

impl Report {
    /// An empty report for a run in `mode` at `scale`.
    pub fn new(mode: &'static str, scale: &Scale) -> Report {
        let m = Machine::current();
        Report {
            date: today_utc(),
            commit: git_commit(),
            mode,
            machine: MachineInfo {
                summary: m.summary(),
                cores: m.cores,
                memory_bytes: m.memory_bytes,
                kernel: m.kernel,
                cpu: m.cpu,
            },
            io_backend: None,
            data_fs: None,
            scale: scale.clone(),
            systems: Vec::new(),
            results: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Records a system taking part and how it is set up.
    pub fn system(&mut self, name: &str, setup: String) {
        self.systems.push(SystemInfo {
            name: name.to_string(),
            setup,
        });
    }

    /// Records where the data lives and fasty's I/O backend.
    pub fn environment(&mut self, io_backend: Option<String>, data_fs: Option<String>) {
        self.io_backend = io_backend;
        self.data_fs = data_fs;
    }

    /// Adds a note under the tables.
    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    /// Records one run's figure.
    pub fn record(&mut self, w: Workload, system: &str, figure: Figure) {
        let i = match self
            .results
            .iter()
            .position(|e| e.workload == w && e.system == system)
        {
            Some(i) => i,
            None => {
                self.results.push(Entry {
                    workload: w,
                    title: w.title(),
                    unit: w.unit(),
                    higher_is_better: w.unit().higher_is_better(),
                    system: system.to_string(),
                    runs: Vec::new(),
                    errors: Vec::new(),
                });
                self.results.len() - 1
            }
        };
        match figure {
            Ok(x) => self.results[i].runs.push(x),
            Err(e) => self.results[i].errors.push(e),
        }
    }

    fn entry(&self, w: Workload, system: &str) -> Option<&Entry> {
        self.results
            .iter()
            .find(|e| e.workload == w && e.system == system)
    }

    /// fasty's advantage over `peer` on `w` (> 1: fasty ahead), from the
    /// medians.
    fn ratio(&self, w: Workload, peer: &str) -> Option<f64> {
        let ours = self.entry(w, self.partner(peer)?)?.median()?;
        let theirs = self.entry(w, peer)?.median()?;
        let r = if w.unit().higher_is_better() {
            ours / theirs
        } else {
            theirs / ours
        };
        r.is_finite().then_some(r).filter(|r| *r > 0.0)
    }

    /// The fasty system `peer` is compared with in this run: its pair if
    /// it ran, else the first fasty system that did.
    fn partner(&self, peer: &str) -> Option<&str> {
        let ran = |n: &str| self.systems.iter().any(|s| s.name == n);
        pair(peer).filter(|p| ran(p)).or_else(|| {
            self.systems
                .iter()
                .map(|s| s.name.as_str())
                .find(|n| n.starts_with("fasty"))
        })
    }

    fn peers(&self) -> Vec<&str> {
        self.systems
            .iter()
            .map(|s| s.name.as_str())
            .filter(|n| !n.starts_with("fasty"))
            .collect()
    }

    fn lines(&self) -> Vec<Workload> {
        Workload::ALL
            .into_iter()
            .filter(|w| self.results.iter().any(|e| e.workload == *w))
            .collect()
    }

    /// The report as markdown.
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# fasty compare report ({} run)\n", self.mode);
        let _ = writeln!(
            md,
            "- date {}, commit `{}`\n- machine: {}\n- fasty's I/O backend: {}; data on {}\n\
             - data: {} users, {} orders; {} runs of each workload per system, systems \
             interleaved; point workloads run {} s, the sustained section {} s, the latency \
             section {} s; batch workloads write {} rows\n",
            self.date,
            self.commit,
            self.machine.summary,
            self.io_backend.as_deref().unwrap_or("unknown"),
            self.data_fs.as_deref().unwrap_or("an unknown file system"),
            self.scale.users,
            self.scale.orders,
            self.scale.repeat,
            self.scale.seconds,
            self.scale.sustained_seconds,
            self.scale.latency_seconds,
            self.scale.batch_rows,
        );
        let names: Vec<&str> = self.systems.iter().map(|s| s.name.as_str()).collect();
        md += "## Medians (min–max)\n\n| workload | unit |";
        for n in &names {
            let _ = write!(md, " {n} |");
        }
        md += "\n|---|---|";
        md += &"---:|".repeat(names.len());
        md += "\n";
        for w in self.lines() {
            let _ = write!(md, "| {} | {} |", w.title(), w.unit().label());
            for n in &names {
                let _ = write!(md, " {} |", self.cell(w, n));
            }
            md += "\n";
        }
        let peers = self.peers();
        if !peers.is_empty() {
            md += "\n## Ratios: fasty ÷ peer (> 1: fasty ahead)\n\n| workload |";
            for p in &peers {
                let _ = write!(md, " {} ÷ {p} |", self.partner(p).unwrap_or("fasty"));
            }
            md += "\n|---|";
            md += &"---:|".repeat(peers.len());
            md += "\n";
            for w in self.lines() {
                let _ = write!(md, "| {} |", w.title());
                for p in &peers {
                    match self.ratio(w, p) {
                        Some(r) => {
                            let _ = write!(md, " {} |", ratio_text(r));
                        }
                        None => md += " — |",
                    }
                }
                md += "\n";
            }
        }
        md += "\n## Systems\n\n";
        for s in &self.systems {
            let _ = writeln!(md, "- **{}**: {}", s.name, s.setup);
        }
        let failures: Vec<String> = self
            .results
            .iter()
            .flat_map(|e| {
                e.errors
                    .iter()
                    .map(move |err| format!("{} on {}: {err}", e.title, e.system))
            })
            .collect();
        if !self.notes.is_empty() || !failures.is_empty() {
            md += "\n## Notes\n\n";
            for n in self.notes.iter().chain(&failures) {
                let _ = writeln!(md, "- {n}");
            }
        }
        md
    }

    /// `median (min–max)`, `failed`, or a dash where the system did not
    /// run the workload.
    fn cell(&self, w: Workload, system: &str) -> String {
        let Some(e) = self.entry(w, system) else {
            return "—".into();
        };
        let Some(median) = e.median() else {
            return "failed".into();
        };
        let min = e.runs.iter().copied().reduce(f64::min).unwrap_or(median);
        let max = e.runs.iter().copied().reduce(f64::max).unwrap_or(median);
        let failed = if e.errors.is_empty() {
            ""
        } else {
            " (some runs failed)"
        };
        if e.runs.len() == 1 {
            format!("{}{failed}", number(median))
        } else {
            format!(
                "{} ({}–{}){failed}",
                number(median),
                number(min),
                number(max)
            )
        }
    }

    /// The ratios as an SVG grid: one row per workload, one column per
    /// peer, each cell coloured by how far fasty is ahead (green) or behind
    /// (red) on a log scale, with the ratio written in it.
    pub fn svg(&self) -> String {
        let peers = self.peers();
        let lines = self.lines();
        let (label_w, cell_w, cell_h, head_h) = (330.0, 120.0, 22.0, 64.0);
        let width = label_w + cell_w * peers.len().max(1) as f64 + 10.0;
        let height = head_h + cell_h * lines.len() as f64 + 40.0;
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
             font-family=\"sans-serif\" font-size=\"12\">"
        );
        let _ = writeln!(
            svg,
            "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
             <text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">fasty ÷ peer \
             ({} run, {}, commit {})</text>\n\
             <text x=\"10\" y=\"38\">green: fasty ahead, red: behind; &gt; 1 means more per \
             second or less time/space</text>",
            self.mode,
            xml(&self.date),
            xml(&self.commit)
        );
        for (j, p) in peers.iter().enumerate() {
            let x = label_w + cell_w * j as f64 + cell_w / 2.0;
            let _ = writeln!(
                svg,
                "<text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-weight=\"bold\">{}</text>\
                 <text x=\"{x}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10\">vs {}</text>",
                head_h - 14.0,
                xml(p),
                head_h - 3.0,
                xml(self.partner(p).unwrap_or("fasty"))
            );
        }
        for (i, w) in lines.iter().enumerate() {
            let y = head_h + cell_h * i as f64;
            let _ = writeln!(
                svg,
                "<text x=\"10\" y=\"{}\">{}</text>",
                y + cell_h * 0.7,
                xml(w.title())
            );
            for (j, p) in peers.iter().enumerate() {
                let x = label_w + cell_w * j as f64;
                let (fill, text) = match self.ratio(*w, p) {
                    Some(r) => (colour(r), ratio_text(r)),
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

    /// Writes `report.json`, `report.md` and `ratios.svg` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<(), String> {
        let json = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        let put = |name: &str, text: &str| {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
        };
        put("report.json", &json)?;
        put("report.md", &self.markdown())?;
        put("ratios.svg", &self.svg())
    }
}

/// `2.31×`, `0.45×`.
fn ratio_text(r: f64) -> String {
    if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.2}×")
    }
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

/// A figure with about three significant digits and a k/M suffix.
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

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The commit being measured (`git rev-parse --short HEAD`), with
/// `-dirty` when the work tree has changes; `unknown` outside a checkout.
fn git_commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        Some(hash) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(s) if !s.is_empty() => format!("{hash}-dirty"),
            _ => hash,
        },
        None => "unknown".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(runs: &[(&str, Workload, f64)]) -> Report {
        let scale = Scale {
            users: 10,
            orders: 10,
            batch_rows: 10,
            seconds: 0.1,
            sustained_seconds: 0.1,
            latency_seconds: 0.1,
            repeat: 1,
            wal_bytes: 0,
        };
        let mut r = Report::new("quick", &scale);
        for name in ["fasty", "fasty-embedded", "sqlite", "postgres-nosync"] {
            r.system(name, String::new());
        }
        for (system, w, x) in runs {
            r.record(*w, system, Ok(*x));
        }
        r
    }

    #[test]
    fn ratios_say_how_far_fasty_is_ahead_whatever_the_unit() {
        let r = report(&[
            ("fasty-embedded", Workload::W4Pk1, 300.0),
            ("sqlite", Workload::W4Pk1, 100.0),
            ("fasty-embedded", Workload::W7Top10, 2.0),
            ("sqlite", Workload::W7Top10, 8.0),
            ("fasty", Workload::W2Batch1, 50.0),
            ("postgres-nosync", Workload::W2Batch1, 100.0),
        ]);
        assert_eq!(r.ratio(Workload::W4Pk1, "sqlite"), Some(3.0));
        assert_eq!(r.ratio(Workload::W7Top10, "sqlite"), Some(4.0));
        assert_eq!(r.ratio(Workload::W2Batch1, "postgres-nosync"), Some(0.5));
        assert_eq!(r.ratio(Workload::W9Count, "sqlite"), None);
    }

    #[test]
    fn a_cell_is_the_median_with_the_range_and_says_when_runs_failed() {
        let mut r = report(&[
            ("sqlite", Workload::W4Pk1, 300.0),
            ("sqlite", Workload::W4Pk1, 100.0),
            ("sqlite", Workload::W4Pk1, 200.0),
        ]);
        assert_eq!(r.cell(Workload::W4Pk1, "sqlite"), "200 (100–300)");
        r.record(Workload::W4Pk1, "sqlite", Err("boom".into()));
        assert!(
            r.cell(Workload::W4Pk1, "sqlite")
                .ends_with("(some runs failed)")
        );
        r.record(Workload::W9Count, "sqlite", Err("boom".into()));
        assert_eq!(r.cell(Workload::W9Count, "sqlite"), "failed");
        assert_eq!(r.cell(Workload::W9Count, "fasty"), "—");
        assert!(
            r.markdown()
                .contains("W9 count(*) where age > 50 on sqlite: boom")
        );
    }

    #[test]
    fn colours_run_from_red_through_white_to_green() {
        assert_eq!(colour(1.0), "#ffffff");
        assert_eq!(colour(16.0), "#69ff69");
        assert_eq!(colour(1.0 / 16.0), "#ff6969");
        assert_eq!(colour(1000.0), colour(16.0));
    }
}
