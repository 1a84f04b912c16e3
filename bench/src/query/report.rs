//! Turns the cells of one `query` run into a markdown table headed by the
//! date and the machine, with the ratio fasty vs SQLite on every line
//! (> 1 = fasty ahead), the targets, and plain verdicts.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::data::{AGE_FILTER, Dataset, RANGE_ROWS, TOP_K};
use super::workload::{BATCH_ROWS, Cell, Measure};
use super::{Args, QueryDb};
use crate::machine::{self, Machine};
use crate::report::format::{human, millis};

/// The lines of the table, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Line {
    InsertUsers,
    InsertOrders,
    PkLookup,
    EmailLookup,
    PkRange,
    TopK,
    Join,
    Count,
}

/// What a line promises, from the issue.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// At least this many rows per second.
    RowsPerSec(f64),
    /// At most this many milliseconds (median).
    Millis(f64),
}

impl Line {
    /// The line's number in the issue (`--lines`): 1 for both loads.
    pub fn index(self) -> u8 {
        match self {
            Line::InsertUsers | Line::InsertOrders => 1,
            Line::PkLookup => 2,
            Line::EmailLookup => 3,
            Line::PkRange => 4,
            Line::TopK => 5,
            Line::Join => 6,
            Line::Count => 7,
        }
    }

    fn number(self) -> &'static str {
        match self {
            Line::InsertUsers => "1a",
            Line::InsertOrders => "1b",
            Line::PkLookup => "2",
            Line::EmailLookup => "3",
            Line::PkRange => "4",
            Line::TopK => "5",
            Line::Join => "6",
            Line::Count => "7",
        }
    }

    /// A short name, for progress messages.
    pub fn label(self) -> &'static str {
        match self {
            Line::InsertUsers => "batch insert, users",
            Line::InsertOrders => "batch insert, orders",
            Line::PkLookup => "primary-key lookup",
            Line::EmailLookup => "secondary-index lookup (email)",
            Line::PkRange => "100-row primary-key range",
            Line::TopK => "top-10 by balance, no index",
            Line::Join => "join orders ⋈ users, count + sum",
            Line::Count => "count(*) with filter",
        }
    }

    /// The workload as the table shows it: fasty's statement text.
    fn workload(self) -> String {
        match self {
            Line::InsertUsers => format!(
                "batch insert `users` ({BATCH_ROWS}-row batches, 6 columns, email index)"
            ),
            Line::InsertOrders => {
                format!("batch insert `orders` ({BATCH_ROWS}-row batches, 3 columns)")
            }
            Line::PkLookup => "pk lookup `find users where id = X`".into(),
            Line::EmailLookup => "index lookup `find users where email = E`".into(),
            Line::PkRange => {
                format!("pk range `find users where id >= X and id < X+{RANGE_ROWS}`")
            }
            Line::TopK => {
                format!("`select * from users order by balance desc limit {TOP_K}`")
            }
            Line::Join => "`select count(*), sum(orders.amount) from orders join users on orders.user_id = users.id`".into(),
            Line::Count => format!("`select count(*) from users where age > {AGE_FILTER}`"),
        }
    }

    /// The unit of a rate line.
    fn unit(self) -> &'static str {
        match self {
            Line::InsertUsers | Line::InsertOrders => "rows/s",
            Line::PkRange => "ranges/s",
            _ => "lookups/s",
        }
    }

    fn target(self) -> Option<Target> {
        match self {
            Line::InsertUsers | Line::InsertOrders => Some(Target::RowsPerSec(5e6)),
            Line::TopK => Some(Target::Millis(10.0)),
            Line::Join => Some(Target::Millis(60.0)),
            Line::Count => Some(Target::Millis(3.0)),
            _ => None,
        }
    }
}

impl Target {
    fn text(self) -> String {
        match self {
            Target::RowsPerSec(r) => format!("≥ {} M rows/s", r / 1e6),
            Target::Millis(ms) => format!("≤ {ms:.0} ms"),
        }
    }

    fn met(self, m: &Measure) -> bool {
        match (self, m) {
            (Target::RowsPerSec(r), Measure::Rate { .. }) => per_sec(m) >= r,
            (Target::Millis(ms), Measure::Times(_)) => median_ms(m).is_some_and(|x| x <= ms),
            _ => false,
        }
    }
}

/// Everything one invocation measured.
pub struct Report {
    machine: Machine,
    date: String,
    dir: PathBuf,
    fs: Option<String>,
    users: usize,
    orders: usize,
    seed: u64,
    seconds: f64,
    repeat: u32,
    /// The 1-minute load average when the run started.
    load_at_start: Option<f64>,
    /// Name and setup of each system, fasty first.
    systems: Vec<(&'static str, String)>,
    lines: Vec<(Line, Vec<Cell>)>,
    notes: Vec<String>,
}

fn per_sec(m: &Measure) -> f64 {
    match m {
        Measure::Rate { ops, elapsed } => *ops as f64 / elapsed.as_secs_f64(),
        Measure::Times(_) => f64::NAN,
    }
}

fn median_ms(m: &Measure) -> Option<f64> {
    match m {
        Measure::Times(t) if !t.is_empty() => {
            let mut ms: Vec<f64> = t.iter().map(|d| d.as_secs_f64() * 1e3).collect();
            ms.sort_by(f64::total_cmp);
            Some(ms[ms.len() / 2])
        }
        _ => None,
    }
}

impl Report {
    pub fn new(data: &Dataset, dir: &Path, args: &Args, systems: &[Box<dyn QueryDb>]) -> Report {
        Report {
            machine: Machine::current(),
            date: machine::today_utc(),
            dir: dir.to_path_buf(),
            fs: machine::fs_type(dir),
            users: data.users.len(),
            orders: data.orders.len(),
            seed: data.seed,
            seconds: args.seconds,
            repeat: args.repeat,
            load_at_start: machine::load_average(),
            systems: systems.iter().map(|s| (s.name(), s.setup())).collect(),
            lines: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Records one line: a cell per system, in the systems' order.
    pub fn record(&mut self, line: Line, cells: Vec<Cell>) {
        self.lines.push((line, cells));
    }

    /// Adds a note under the table.
    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    fn cell_text(line: Line, cell: Option<&Cell>) -> String {
        match cell {
            None => "not built".into(),
            Some(Err(_)) => "**error**".into(),
            Some(Ok(m @ Measure::Rate { .. })) => format!("{} {}", human(per_sec(m)), line.unit()),
            Some(Ok(m @ Measure::Times(t))) => {
                let (Some(med), Some(lo), Some(hi)) =
                    (median_ms(m), t.iter().min(), t.iter().max())
                else {
                    return "no runs".into();
                };
                let med = millis(Duration::from_secs_f64(med / 1e3));
                format!("{med} ms ({}–{})", millis(*lo), millis(*hi))
            }
        }
    }

    /// fasty vs the peer, > 1 = fasty ahead.
    fn ratio(fasty: Option<&Cell>, peer: Option<&Cell>) -> Option<f64> {
        match (fasty?, peer?) {
            (Ok(f @ Measure::Rate { .. }), Ok(p @ Measure::Rate { .. })) => {
                Some(per_sec(f) / per_sec(p))
            }
            (Ok(f @ Measure::Times(_)), Ok(p @ Measure::Times(_))) => {
                Some(median_ms(p)? / median_ms(f)?)
            }
            _ => None,
        }
    }

    /// The table and the verdicts, as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let fs = self.fs.as_deref().unwrap_or("unknown file system");
        let peer = self.systems.get(1).map(|(n, _)| *n);
        let _ = writeln!(out, "### fasty-query benchmark, {}\n", self.date);
        let _ = writeln!(
            out,
            "Machine: {}. Data in `{}` ({fs}). `users`: {} rows, `orders`: {} rows, seed {}. \
             Lookup lines run {} s per system; timed queries: median of {} runs (min–max in \
             brackets) after one warm-up, the systems alternating.\n",
            self.machine.summary(),
            self.dir.display(),
            self.users,
            self.orders,
            self.seed,
            self.seconds,
            self.repeat
        );
        let load = |l: Option<f64>| l.map_or_else(|| "unknown".into(), |l| format!("{l:.2}"));
        let _ = writeln!(
            out,
            "Load average (1 min) at start and end: {} and {}; on {} cores, anything above \
             1 means other processes competed with this run.\n",
            load(self.load_at_start),
            load(machine::load_average()),
            self.machine.cores
        );
        if peer.is_none() {
            let _ = writeln!(
                out,
                "**fasty only**: this binary was built without the `sqlite` feature, so there \
                 is no SQLite column and no ratio (`cargo run --release -p fasty-bench \
                 --features sqlite -- query`).\n"
            );
        }
        let _ = writeln!(
            out,
            "| # | workload | fasty | SQLite | fasty vs SQLite (> 1 = fasty ahead) | target | target met |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---|---|");
        let mut behind = Vec::new();
        let mut missed = Vec::new();
        let mut errors = Vec::new();
        for (line, cells) in &self.lines {
            let fasty = cells.first();
            let sqlite = cells.get(1);
            let ratio = Self::ratio(fasty, sqlite);
            if let Some(r) = ratio
                && r < 1.0
            {
                behind.push(format!("{} ({r:.2}×)", line.number()));
            }
            let ratio_text = ratio.map_or_else(|| "—".into(), |r| format!("{r:.2}×"));
            let (target, verdict) = match (line.target(), fasty) {
                (None, _) => ("—".to_string(), "—".to_string()),
                (Some(t), Some(Ok(m))) => {
                    let met = t.met(m);
                    if !met {
                        missed.push(format!("{} ({})", line.number(), line.label()));
                    }
                    (t.text(), if met { "met" } else { "MISSED" }.into())
                }
                (Some(t), _) => {
                    missed.push(format!("{} (no result)", line.number()));
                    (t.text(), "no result".into())
                }
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {ratio_text} | {target} | {verdict} |",
                line.number(),
                line.workload(),
                Self::cell_text(*line, fasty),
                if peer.is_some() {
                    Self::cell_text(*line, sqlite)
                } else {
                    "not built".into()
                },
            );
            for (i, cell) in cells.iter().enumerate() {
                if let Err(e) = cell {
                    let name = self.systems.get(i).map_or("?", |(n, _)| *n);
                    errors.push(format!("{name}, line {}: {e}", line.number()));
                }
            }
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Targets from the issue: {}.",
            if missed.is_empty() {
                "all met".to_string()
            } else {
                format!("missed on line {}", missed.join(", "))
            }
        );
        if peer.is_some() {
            let _ = writeln!(
                out,
                "Ahead of SQLite on every line: {}.",
                if behind.is_empty() && errors.is_empty() {
                    "yes".to_string()
                } else if behind.is_empty() {
                    "not shown (some lines have no result)".to_string()
                } else {
                    format!("no — behind on line {}", behind.join(", "))
                }
            );
        }
        if errors.is_empty() {
            let _ = writeln!(
                out,
                "\nEvery answer was checked against the generated data (rows, counts, sums, \
                 top-{TOP_K} balances) and was right."
            );
        } else {
            let _ = writeln!(
                out,
                "\n**Errors and wrong answers** (those cells have no number):\n"
            );
            for e in &errors {
                let _ = writeln!(out, "- {e}");
            }
        }
        let _ = writeln!(out, "\nSetup:\n");
        let _ = writeln!(
            out,
            "- Fairness: both run the lookups and the count as prepared statements with bound \
             values (SQLite: cached prepared statements; fasty: Database::prepare, planned per \
             call); top-10 and the join are statement text for fasty. Both create the \
             email index before the load, so both loads maintain it. Both hand every row back \
             as owned values."
        );
        for (name, setup) in &self.systems {
            let _ = writeln!(out, "- {name}: {setup}.");
        }
        for n in &self.notes {
            let _ = writeln!(out, "- {n}.");
        }
        out
    }
}
