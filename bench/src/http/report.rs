//! The `http` run as a markdown table headed by the date, the machine,
//! the load average and the commit: one line per section with its rate,
//! latency percentiles, errors, the project's target and a verdict.

use std::fmt::Write as _;
use std::time::Duration;

use super::Plan;
use super::cpu::Split;
use super::load::Outcome;
use crate::machine::{self, Machine};
use crate::report::format::{human, millis};
use crate::report::table::{Align, Table};

/// What a section's rate counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// Rows inserted.
    Rows,
    /// Point lookups answered.
    Lookups,
    /// Range queries answered.
    Ranges,
    /// Requests of a mixed section.
    Ops,
}

impl Unit {
    fn text(self) -> &'static str {
        match self {
            Unit::Rows => "rows/s",
            Unit::Lookups => "lookups/s",
            Unit::Ranges => "ranges/s",
            Unit::Ops => "requests/s",
        }
    }
}

/// What the project targets for a section.
#[derive(Clone, Copy, Debug)]
pub enum Goal {
    /// At least this rate, in the section's unit.
    MinRate(f64),
    /// A 99th percentile latency of at most this.
    MaxP99(Duration),
}

impl Goal {
    fn text(self, unit: Unit) -> String {
        match self {
            Goal::MinRate(r) => format!("≥ {} {}", human(r), unit.text()),
            Goal::MaxP99(d) => format!("p99 ≤ {} ms", millis(d)),
        }
    }
}

/// One line of the table.
#[derive(Debug)]
pub struct Section {
    /// The section's number (`4b`).
    pub number: String,
    /// What it does.
    pub label: String,
    /// Connections it used.
    pub conns: usize,
    /// What its rate counts.
    pub unit: Unit,
    /// The project's target, if any.
    pub goal: Option<Goal>,
    /// What happened; `None` when it was skipped.
    pub outcome: Option<Outcome>,
    /// Why it was skipped, or a remark on the run.
    pub note: Option<String>,
    /// Cores used by the load generator, the server and the rest while it
    /// ran.
    pub cpu: Option<Split>,
}

impl Section {
    /// A section that ran.
    pub fn ran(
        number: &str,
        label: &str,
        conns: usize,
        unit: Unit,
        goal: Option<Goal>,
        outcome: Outcome,
        note: Option<String>,
    ) -> Section {
        Section {
            number: number.into(),
            label: label.into(),
            conns,
            unit,
            goal,
            outcome: Some(outcome),
            note,
            cpu: None,
        }
    }

    /// The same section with its CPU split.
    pub fn with_cpu(mut self, cpu: Option<Split>) -> Section {
        self.cpu = cpu;
        self
    }

    /// A section that could not run, and why.
    pub fn skipped(number: &str, label: &str, conns: usize, unit: Unit, why: &str) -> Section {
        Section {
            number: number.into(),
            label: label.into(),
            conns,
            unit,
            goal: None,
            outcome: None,
            note: Some(format!("skipped: {why}")),
            cpu: None,
        }
    }

    /// The section's rate in its unit (NaN when skipped).
    pub fn rate(&self) -> f64 {
        let Some(o) = &self.outcome else {
            return f64::NAN;
        };
        let n = match self.unit {
            Unit::Rows => o.rows,
            _ => o.ok,
        };
        n as f64 / o.elapsed.as_secs_f64().max(1e-9)
    }

    /// `Some(true)` met, `Some(false)` missed, `None` no target or no
    /// clean result.
    pub fn met(&self) -> Option<bool> {
        let o = self.outcome.as_ref()?;
        if o.errors > 0 || o.ok == 0 {
            return None;
        }
        match self.goal? {
            Goal::MinRate(r) => Some(self.rate() >= r),
            Goal::MaxP99(d) => o.latencies.percentile(99.0).map(|p| p <= d),
        }
    }
}

/// Everything one invocation measured.
pub struct Report {
    machine: Machine,
    date: String,
    commit: String,
    load_at_start: Option<f64>,
    load_at_end: Option<f64>,
    server: String,
    plan: Plan,
    sections: Vec<Section>,
    notes: Vec<String>,
}

impl Report {
    /// An empty report; the load average is read now.
    pub fn new(plan: &Plan) -> Report {
        Report {
            machine: Machine::current(),
            date: machine::today_utc(),
            commit: crate::report::git_commit(),
            load_at_start: machine::load_average(),
            load_at_end: None,
            server: String::new(),
            plan: plan.clone(),
            sections: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Says what was measured.
    pub fn set_server(&mut self, s: String) {
        self.server = s;
    }

    /// Adds a line.
    pub fn push(&mut self, s: Section) {
        if let Some(o) = &s.outcome {
            let p = |q| o.latencies.percentile(q).map_or("—".into(), millis);
            eprintln!(
                "   {} {}, p50 {} ms, p99 {} ms, {} errors",
                human(s.rate()),
                s.unit.text(),
                p(50.0),
                p(99.0),
                o.errors
            );
        }
        self.sections.push(s);
    }

    /// Adds a note under the table.
    pub fn note(&mut self, n: String) {
        self.notes.push(n);
    }

    /// Reads the load average at the end.
    pub fn finish(&mut self) {
        self.load_at_end = machine::load_average();
    }

    /// The lines so far.
    #[cfg(test)]
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// The table, targets and notes as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "### fasty-server HTTP benchmark, {}\n", self.date);
        let load = |l: Option<f64>| l.map_or_else(|| "unknown".into(), |l| format!("{l:.2}"));
        let _ = writeln!(
            out,
            "Machine: {}. Commit: {}. Server: {}. Load generator: {} async threads, \
             HTTP/1.1 keep-alive connections (hyper), pre-serialised bodies. Sections run at \
             most {} s each (the mixed one {} s); parallel ingest sections load up to {} rows.\n",
            self.machine.summary(),
            self.commit,
            self.server,
            self.plan.client_threads,
            self.plan.seconds,
            self.plan.mixed_seconds,
            self.plan.rows,
        );
        let _ = writeln!(
            out,
            "Load average (1 min) at start and end: {} and {}; on {} cores, anything above \
             1 means other processes competed with this run (the server and the load \
             generator share these cores).\n",
            load(self.load_at_start),
            load(self.load_at_end.or_else(machine::load_average)),
            self.machine.cores
        );
        let mut table = Table::new([
            ("#", Align::Left),
            ("section", Align::Left),
            ("conns", Align::Right),
            ("requests", Align::Right),
            ("throughput", Align::Right),
            ("p50 ms", Align::Right),
            ("p95 ms", Align::Right),
            ("p99 ms", Align::Right),
            ("errors", Align::Right),
            ("cores: load gen / server / db", Align::Right),
            ("target", Align::Left),
            ("met", Align::Left),
        ]);
        let mut problems = Vec::new();
        for s in &self.sections {
            let target = s.goal.map_or("—".into(), |g| g.text(s.unit));
            let Some(o) = &s.outcome else {
                let mut row = vec![s.number.clone(), s.label.clone(), s.conns.to_string()];
                row.extend(std::iter::repeat_n("—".to_string(), 7));
                row.push(target);
                row.push(s.note.as_deref().unwrap_or("skipped").to_string());
                table.row(row);
                continue;
            };
            let p = |q| o.latencies.percentile(q).map_or("—".into(), millis);
            let verdict = match (s.goal, s.met()) {
                (None, _) => "—",
                (Some(_), Some(true)) => "met",
                (Some(_), Some(false)) => "MISSED",
                (Some(_), None) => "no clean result",
            };
            let errors = if o.errors > 0 {
                problems.push(format!(
                    "section {} ({}): {} errors, e.g. {}",
                    s.number,
                    s.label,
                    o.errors,
                    o.messages.join(" | ")
                ));
                format!("**{}**", o.errors)
            } else {
                "0".into()
            };
            table.row(vec![
                s.number.clone(),
                s.label.clone(),
                s.conns.to_string(),
                (o.ok + o.errors).to_string(),
                format!("{} {}", human(s.rate()), s.unit.text()),
                p(50.0),
                p(95.0),
                p(99.0),
                errors,
                s.cpu.map_or("—".into(), |c| {
                    format!("{:.2} / {:.2} / {:.2}", c.client, c.server, c.other)
                }),
                target,
                verdict.to_string(),
            ]);
        }
        let _ = writeln!(out, "{}", table.markdown());
        let with_goal: Vec<&Section> = self.sections.iter().filter(|s| s.goal.is_some()).collect();
        let missed: Vec<String> = with_goal
            .iter()
            .filter(|s| s.met() != Some(true))
            .map(|s| s.number.clone())
            .collect();
        // The ingest target is met when the best parallel section meets it.
        let ingest_met = with_goal
            .iter()
            .any(|s| s.number.starts_with('5') && s.met() == Some(true));
        let _ = writeln!(
            out,
            "The project's targets: {}.",
            if missed.is_empty() {
                "all met".to_string()
            } else {
                format!("not met on section {}", missed.join(", "))
            }
        );
        if with_goal.iter().any(|s| s.number.starts_with('5')) {
            let _ = writeln!(
                out,
                "Batch ingest (≥ 2M rows/s with parallel 1000-row batches): {} by the best of \
                 sections 5a and 5c.",
                if ingest_met { "met" } else { "not met" }
            );
        }
        if problems.is_empty() {
            let _ = writeln!(
                out,
                "\nEvery answer was checked (status 200, `success: true`, inserted counts, row \
                 counts, ids, top-10 order) and was right."
            );
        } else {
            let _ = writeln!(out, "\n**errors** (wrong or failed answers):\n");
            for p in &problems {
                let _ = writeln!(out, "- {p}");
            }
        }
        let _ = writeln!(out, "\nNotes:\n");
        let _ = writeln!(
            out,
            "- Inserts send `{{\"table\": \"users\", \"rows\": [...]}}` (a single-row insert \
             is a one-row batch); queries send `{{\"query\": \"...\"}}` as statement text. \
             Latency is per request, from sending to the whole answer; in the paced section a \
             request that starts late because its connection was busy is timed from when it \
             was due. Percentiles are exact (nearest rank over every request)."
        );
        let _ = writeln!(
            out,
            "- Cores: average CPU time per second of the section, from this process's \
             threads: the load generator's runtime, the server's runtime and blocking pool \
             (where statements run), and the rest (the database's log writer, flushes and \
             compactions). Their sum near the core count means the machine, not the server \
             alone, was the limit; time of threads that ended during a section is missing."
        );
        for s in &self.sections {
            if let (Some(_), Some(n)) = (&s.outcome, &s.note) {
                let _ = writeln!(out, "- Section {}: {n}.", s.number);
            }
        }
        for n in &self.notes {
            let _ = writeln!(out, "- {n}.");
        }
        out
    }
}
