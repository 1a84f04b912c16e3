//! The suite's output: `report.json` (every run's figure), `report.md`
//! (medians with min–max per workload and system, then ratios fasty ÷
//! each peer) and `ratios.svg` (the ratios as a colour-coded grid). The
//! statistics, ratios, tables and the grid are the shared
//! [`crate::report`]'s; this module says which figures go where and which
//! systems pair up.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::workload::{Figure, Scale, Unit, Workload};
use crate::machine::{Machine, today_utc};
use crate::report::format::number;
use crate::report::ratio::{self, Better};
use crate::report::stats::{self, Summary};
use crate::report::svg;
use crate::report::table::{Align, Table};

/// The fasty system each peer is compared with: the one of its kind (a
/// server with a server, an embedded library with the embedded one) and
/// of the same durability where fasty has one ([`durability`]).
pub fn pair(peer: &str) -> Option<&'static str> {
    match peer {
        "postgres" | "postgres-copy" => Some("fasty-durable"),
        "sqlite-full" | "duckdb" => Some("fasty-embedded-durable"),
        "postgres-nosync" => Some("fasty"),
        // fasty has no mode that writes to the OS without syncing: the
        // closest is async, and the report marks the pair as unlike.
        "sqlite" => Some("fasty-embedded"),
        _ => None,
    }
}

/// What an acknowledged write survives on a system, as set up by the
/// suite. A ratio on a workload that writes is like for like only between
/// systems of the same kind; the report marks every other pairing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// Synced to disk before the acknowledgement: survives a power loss.
    Synced,
    /// Handed to the operating system before the acknowledgement, synced
    /// later: survives a process kill, not a power loss.
    OsBuffered,
    /// Acknowledged before the log is written: a process kill loses the
    /// writes of the last sync interval.
    Deferred,
    /// Nothing on disk.
    Memory,
}

impl Durability {
    /// The kind in a few words, for the line under the ratio table.
    pub fn text(self) -> &'static str {
        match self {
            Durability::Synced => "synced before the answer",
            Durability::OsBuffered => {
                "written to the OS before the answer (a process kill loses nothing)"
            }
            Durability::Deferred => {
                "answered before the log is written (a process kill loses the last interval)"
            }
            Durability::Memory => "memory only",
        }
    }
}

/// The durability of each system the suite knows.
pub fn durability(system: &str) -> Option<Durability> {
    Some(match system {
        // fasty durable: group commit, fsync before the answer. PostgreSQL's
        // defaults: synchronous_commit=on. SQLite FULL: the WAL is synced at
        // each commit. DuckDB: its WAL is synced at each commit.
        "fasty-durable"
        | "fasty-embedded-durable"
        | "postgres"
        | "postgres-copy"
        | "sqlite-full"
        | "duckdb" => Durability::Synced,
        // SQLite, WAL mode, synchronous=NORMAL: each commit is written to
        // the WAL file, synced at checkpoints only.
        "sqlite" => Durability::OsBuffered,
        // fasty async: queued for the log writer, written and synced every
        // 50 ms. PostgreSQL synchronous_commit=off: the WAL writer writes
        // and syncs it within three wal_writer_delay (200 ms) rounds.
        "fasty" | "fasty-embedded" | "postgres-nosync" => Durability::Deferred,
        "fasty-memory" => Durability::Memory,
        _ => return None,
    })
}

/// Runs of one cell spread over more than this share of their median are
/// listed under the table.
const NOISY_SPREAD: f64 = 0.25;

/// The marker after a ratio that pairs unlike durability.
const UNLIKE: &str = "†";

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
    /// What an acknowledged write survives.
    durability: Option<Durability>,
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
        stats::median(&self.runs)
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
            commit: crate::report::git_commit(),
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
            durability: durability(name),
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
        let better = if w.unit().higher_is_better() {
            Better::Higher
        } else {
            Better::Lower
        };
        ratio::advantage(ours, theirs, better)
    }

    /// The cells whose runs spread over more than [`NOISY_SPREAD`] of
    /// their median: figures to read with care.
    fn noisy(&self) -> Vec<String> {
        self.results
            .iter()
            .filter_map(|e| {
                let s = Summary::of(&e.runs)?;
                (s.runs > 1 && s.spread() > NOISY_SPREAD)
                    .then(|| format!("{} on {} ({:.0}%)", e.title, e.system, s.spread() * 100.0))
            })
            .collect()
    }

    /// Whether the ratio of `w` for `peer` compares writes acknowledged
    /// under different durability (the cell gets a marker).
    fn unlike(&self, w: Workload, peer: &str) -> bool {
        w.durability_matters()
            && self
                .partner(peer)
                .is_some_and(|fasty| durability(fasty) != durability(peer))
    }

    /// A ratio cell: the ratio with its marker, or a dash.
    fn ratio_cell(&self, w: Workload, peer: &str) -> String {
        match self.ratio(w, peer) {
            Some(r) if self.unlike(w, peer) => format!("{}{UNLIKE}", ratio::text(r)),
            Some(r) => ratio::text(r),
            None => "—".into(),
        }
    }

    /// One line per peer whose ratios pair unlike durability on some
    /// workload, saying what each side's acknowledgement means.
    fn unlike_lines(&self) -> Vec<String> {
        let lines = self.lines();
        self.peers()
            .into_iter()
            .filter(|p| {
                lines
                    .iter()
                    .any(|w| self.unlike(*w, p) && self.ratio(*w, p).is_some())
            })
            .filter_map(|p| {
                let fasty = self.partner(p)?;
                let text = |s: &str| durability(s).map_or("unknown", Durability::text);
                Some(format!(
                    "{UNLIKE} {fasty} ÷ {p} pairs unlike durability on the workloads that write: \
                     {fasty} is {}, {p} is {}",
                    text(fasty),
                    text(p)
                ))
            })
            .collect()
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
        md += "## Medians (min–max)\n\n";
        let mut medians = Table::new([("workload", Align::Left), ("unit", Align::Left)]);
        for n in &names {
            medians.column(*n, Align::Right);
        }
        for w in self.lines() {
            let mut row = vec![w.title().to_string(), w.unit().label().to_string()];
            row.extend(names.iter().map(|n| self.cell(w, n)));
            medians.row(row);
        }
        md += &medians.markdown();
        let noisy = self.noisy();
        if !noisy.is_empty() {
            let _ = writeln!(
                md,
                "\nRuns spread over more than {:.0}% of their median (max − min) on: {}.",
                NOISY_SPREAD * 100.0,
                noisy.join("; ")
            );
        }
        let peers = self.peers();
        if !peers.is_empty() {
            md += "\n## Ratios: fasty ÷ peer (> 1: fasty ahead)\n\n";
            let mut ratios = Table::new([("workload", Align::Left)]);
            for p in &peers {
                ratios.column(
                    format!("{} ÷ {p}", self.partner(p).unwrap_or("fasty")),
                    Align::Right,
                );
            }
            for w in self.lines() {
                let mut row = vec![w.title().to_string()];
                row.extend(peers.iter().map(|p| self.ratio_cell(w, p)));
                ratios.row(row);
            }
            md += &ratios.markdown();
            let unlike = self.unlike_lines();
            if !unlike.is_empty() {
                md += "\n";
                for line in &unlike {
                    let _ = writeln!(md, "{line}.  ");
                }
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
        let Some(s) = Summary::of(&e.runs) else {
            return "failed".into();
        };
        let failed = if e.errors.is_empty() {
            ""
        } else {
            " (some runs failed)"
        };
        if s.runs == 1 {
            format!("{}{failed}", number(s.median))
        } else {
            format!(
                "{} ({}–{}){failed}",
                number(s.median),
                number(s.min),
                number(s.max)
            )
        }
    }

    /// The ratios as an SVG grid (see [`svg::grid`]), unlike durability
    /// marked as in the markdown.
    pub fn svg(&self) -> String {
        let peers = self.peers();
        let columns: Vec<svg::Column> = peers
            .iter()
            .map(|p| svg::Column {
                peer: p,
                fasty: self.partner(p).unwrap_or("fasty"),
            })
            .collect();
        let rows: Vec<svg::Row> = self
            .lines()
            .into_iter()
            .map(|w| svg::Row {
                label: w.title(),
                cells: peers
                    .iter()
                    .map(|p| {
                        let marker = if self.unlike(w, p) { UNLIKE } else { "" };
                        (self.ratio(w, p), marker)
                    })
                    .collect(),
            })
            .collect();
        let mut legend = vec![
            "green: fasty ahead, red: behind; > 1 means more per second or less time/space"
                .to_string(),
        ];
        legend.extend(self.unlike_lines());
        svg::grid(
            &format!(
                "fasty ÷ peer ({} run, {}, commit {})",
                self.mode, self.date, self.commit
            ),
            &legend,
            &columns,
            &rows,
        )
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
        // (300 - 100) / 200: runs spread over 100% of the median.
        assert!(
            r.markdown()
                .contains("median (max − min) on: W4 pk lookup, 1 client on sqlite (100%)."),
            "{}",
            r.markdown()
        );
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
    fn ratios_of_writes_under_unlike_durability_are_marked() {
        let r = report(&[
            ("fasty-embedded", Workload::W2Batch1, 200.0),
            ("sqlite", Workload::W2Batch1, 100.0),
            ("fasty-embedded", Workload::W4Pk1, 300.0),
            ("sqlite", Workload::W4Pk1, 100.0),
            ("fasty", Workload::W2Batch1, 50.0),
            ("postgres-nosync", Workload::W2Batch1, 100.0),
        ]);
        // fasty-embedded is async (deferred), sqlite writes to the OS.
        assert_eq!(r.ratio_cell(Workload::W2Batch1, "sqlite"), "2.00×†");
        // Reads are not marked; like pairs are not marked.
        assert_eq!(r.ratio_cell(Workload::W4Pk1, "sqlite"), "3.00×");
        assert_eq!(r.ratio_cell(Workload::W2Batch1, "postgres-nosync"), "0.50×");
        let md = r.markdown();
        assert!(
            md.contains("† fasty-embedded ÷ sqlite pairs unlike durability"),
            "{md}"
        );
        assert!(!md.contains("÷ postgres-nosync pairs unlike"), "{md}");
        assert!(r.svg().contains(">2.00×†<"));
    }

    #[test]
    fn tpcb_lines_get_ratios_of_like_durability_and_a_row_each() {
        let mut r = report(&[]);
        for name in ["fasty-durable", "postgres"] {
            r.system(name, String::new());
        }
        for (system, x) in [
            ("fasty", 3000.0),
            ("postgres-nosync", 1000.0),
            ("fasty-durable", 500.0),
            ("postgres", 1000.0),
        ] {
            r.record(Workload::Tpcb16, system, Ok(x));
            r.record(Workload::Tpcb1, system, Ok(x / 4.0));
        }
        assert_eq!(r.ratio_cell(Workload::Tpcb16, "postgres-nosync"), "3.00×");
        assert_eq!(r.ratio_cell(Workload::Tpcb16, "postgres"), "0.50×");
        assert_eq!(r.ratio_cell(Workload::Tpcb1, "postgres"), "0.50×");
        let md = r.markdown();
        assert!(
            md.contains("| TPC-B-like transactions, 1 client | ops/s |"),
            "{md}"
        );
        assert!(
            md.contains("| TPC-B-like transactions, 16 clients | ops/s |"),
            "{md}"
        );
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"workload\":\"tpcb-16\""), "{json}");
    }

    #[test]
    fn peers_pair_with_the_fasty_system_of_like_durability() {
        for peer in [
            "postgres",
            "postgres-copy",
            "postgres-nosync",
            "sqlite-full",
            "duckdb",
        ] {
            let fasty = pair(peer).unwrap();
            assert_eq!(durability(fasty), durability(peer), "{peer} with {fasty}");
        }
        assert_ne!(durability("sqlite"), durability(pair("sqlite").unwrap()));
    }
}
