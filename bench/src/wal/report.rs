//! Turns the measurements of one `wal` run into a markdown table with the
//! date, the machine and the file system, and says plainly which targets
//! were met.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::Args;
use super::workload::{DurableCell, KEY_BYTES, ReplayRun, VALUE_BYTES, WriteRun};
use crate::machine::{self, Machine};
use crate::report::format::human;
use crate::report::stats::median_run;
use crate::report::table::{Align, Table};

/// Async mode must keep this share of the bare engine's throughput.
const ASYNC_TARGET: f64 = 0.80;
/// Replay must reach this many MB/s.
const REPLAY_TARGET_MBS: f64 = 500.0;
/// Single-row batches at 64 writers must beat one writer by this factor.
const GROUP_COMMIT_TARGET: f64 = 20.0;

/// Everything one invocation measured.
pub struct Report {
    machine: Machine,
    date: String,
    dir: PathBuf,
    fs: Option<String>,
    seconds: f64,
    async_rows: u64,
    repeat: u32,
    /// Durable mode's segments written ahead as zeros (the default).
    preallocate: bool,
    /// Per cell (threads, rows): the median run.
    durable: Vec<DurableCell>,
    /// Group commit factor of each round of runs (64 writers ÷ one writer,
    /// both single-row, measured in the same round).
    group_commit_runs: Vec<f64>,
    /// Per batch size: median engine run, median async run.
    asyncs: Vec<(usize, WriteRun, WriteRun)>,
    pub replay: Option<ReplayRun>,
}

impl Report {
    pub fn new(dir: &Path, args: &Args) -> Report {
        Report {
            machine: Machine::current(),
            date: machine::today_utc(),
            dir: dir.to_path_buf(),
            fs: machine::fs_type(dir),
            seconds: args.seconds,
            async_rows: args.async_rows,
            repeat: args.repeat,
            preallocate: !args.no_preallocate,
            durable: Vec::new(),
            group_commit_runs: Vec::new(),
            asyncs: Vec::new(),
            replay: None,
        }
    }

    /// Records the runs of one batch size, keeping the medians.
    pub fn push_async(&mut self, rows: usize, runs: Vec<(WriteRun, WriteRun)>) {
        let (engine, wal): (Vec<_>, Vec<_>) = runs.into_iter().unzip();
        if let (Some(e), Some(w)) = (
            median_run(&engine, WriteRun::rows_per_sec),
            median_run(&wal, WriteRun::rows_per_sec),
        ) {
            self.asyncs.push((rows, e, w));
        }
    }

    /// Records the durable-mode runs: `rounds[r]` holds round `r`'s run of
    /// every cell, in the same order each round. Keeps each cell's median
    /// run and each round's group commit factor.
    pub fn push_durable(&mut self, rounds: Vec<Vec<DurableCell>>) {
        let cells = rounds.first().map_or(0, Vec::len);
        for i in 0..cells {
            let runs: Vec<DurableCell> = rounds.iter().filter_map(|r| r.get(i)).cloned().collect();
            if let Some(median) = median_run(&runs, DurableCell::batches_per_sec) {
                self.durable.push(median);
            }
        }
        self.group_commit_runs = rounds
            .iter()
            .filter_map(|r| group_commit_factor(r))
            .collect();
    }

    /// The tables and the verdicts, as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let fs = self.fs.as_deref().unwrap_or("unknown file system");
        let _ = writeln!(out, "### fasty-wal benchmark, {}\n", self.date);
        let _ = writeln!(
            out,
            "Machine: {}. Data in `{}` ({fs}). Rows: {KEY_BYTES}-byte keys, {VALUE_BYTES}-byte values.\n",
            self.machine.summary(),
            self.dir.display()
        );
        let _ = writeln!(
            out,
            "**Durable mode** (acknowledged after the fsync covering the batch; median of {} runs of {} s per cell, every cell run in turn each round; {}):\n",
            self.repeat,
            self.seconds,
            if self.preallocate {
                "segments written ahead as zeros and overwritten"
            } else {
                "segments appended to (`--no-preallocate`)"
            }
        );
        let mut durable = Table::new(
            [
                "writers",
                "rows/batch",
                "batches/s",
                "rows/s",
                "MB/s",
                "fsyncs/s",
                "batches per fsync",
            ]
            .map(|h| (h, Align::Right)),
        );
        for c in &self.durable {
            durable.row(vec![
                c.threads.to_string(),
                c.rows.to_string(),
                human(c.batches_per_sec()),
                human(c.rows_per_sec()),
                format!(
                    "{:.1}",
                    c.rows_per_sec() * (KEY_BYTES + VALUE_BYTES) as f64 / 1e6
                ),
                format!("{:.0}", c.syncs_per_sec()),
                format!("{:.1}", c.batches_per_sync()),
            ]);
        }
        out += &durable.markdown();
        if let Some(f) = group_commit_factor(&self.durable) {
            let verdict = if f >= GROUP_COMMIT_TARGET {
                "met"
            } else {
                "MISSED"
            };
            let _ = writeln!(
                out,
                "\nGroup commit: single-row batches at 64 writers = {f:.1}× one writer, medians of {} runs (target ≥ {GROUP_COMMIT_TARGET:.0}×: {verdict}); round by round: {}.",
                self.repeat,
                self.group_commit_runs
                    .iter()
                    .map(|f| format!("{f:.1}×"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        let _ = writeln!(
            out,
            "\n**Async mode vs the bare engine** (one thread, {} rows per run, median of {}):\n",
            self.async_rows, self.repeat
        );
        let mut asyncs = Table::new([
            ("rows/batch", Align::Right),
            ("engine rows/s", Align::Right),
            ("async WAL rows/s", Align::Right),
            ("WAL ÷ engine", Align::Right),
            ("target ≥ 80%", Align::Left),
        ]);
        for (rows, e, w) in &self.asyncs {
            let ratio = w.rows_per_sec() / e.rows_per_sec();
            let verdict = if ratio >= ASYNC_TARGET {
                "met"
            } else {
                "MISSED"
            };
            asyncs.row(vec![
                rows.to_string(),
                human(e.rows_per_sec()),
                human(w.rows_per_sec()),
                format!("{:.0}%", ratio * 100.0),
                verdict.to_string(),
            ]);
        }
        out += &asyncs.markdown();
        if let Some(r) = &self.replay {
            let mbs = r.mb_per_sec();
            let verdict = if mbs >= REPLAY_TARGET_MBS {
                "met"
            } else {
                "MISSED"
            };
            let _ = writeln!(
                out,
                "\n**Recovery replay**: {:.0} MB of log ({} records of 100 rows) read, checked and applied in {:.2} s = **{mbs:.0} MB/s** (target ≥ {REPLAY_TARGET_MBS:.0} MB/s: {verdict}); whole open {:.2} s. Of that, reading and checking the log took {:.2} s ({:.0} MB/s); the rest is the engine applying the batches. Warm page cache, as after a process crash.",
                r.log_bytes as f64 / 1e6,
                r.records,
                r.replay.as_secs_f64(),
                r.open.as_secs_f64(),
                r.check.as_secs_f64(),
                r.check_mb_per_sec()
            );
        }
        out
    }
}

/// Single-row batches/s at 64 writers ÷ at one writer, among `cells`.
fn group_commit_factor(cells: &[DurableCell]) -> Option<f64> {
    let rate = |threads| {
        cells
            .iter()
            .find(|c| c.threads == threads && c.rows == 1)
            .map(DurableCell::batches_per_sec)
    };
    Some(rate(64)? / rate(1)?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cell(threads: usize, batches: u64) -> DurableCell {
        DurableCell {
            threads,
            rows: 1,
            batches,
            elapsed: Duration::from_secs(1),
            syncs: batches / threads as u64,
        }
    }

    #[test]
    fn durable_cells_keep_medians_and_each_round_has_its_factor() {
        use clap::Parser as _;
        let args = crate::Cli::try_parse_from(["fasty-bench", "wal"]).unwrap();
        let crate::Command::Wal(args) = args.command else {
            panic!("not the wal command");
        };
        let mut report = Report::new(Path::new("."), &args);
        report.push_durable(vec![
            vec![cell(1, 100), cell(64, 3000)],
            vec![cell(1, 50), cell(64, 2500)],
            vec![cell(1, 200), cell(64, 2000)],
        ]);
        let rates: Vec<f64> = report
            .durable
            .iter()
            .map(DurableCell::batches_per_sec)
            .collect();
        assert_eq!(rates, [100.0, 2500.0]);
        assert_eq!(report.group_commit_runs, [30.0, 50.0, 10.0]);
        assert_eq!(group_commit_factor(&report.durable), Some(25.0));
        let md = report.markdown();
        assert!(md.contains("= 25.0× one writer, medians of 3 runs"), "{md}");
        assert!(md.contains("round by round: 30.0×, 50.0×, 10.0×"), "{md}");
    }
}
