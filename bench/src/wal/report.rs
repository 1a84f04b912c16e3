//! Turns the measurements of one `wal` run into a markdown table with the
//! date, the machine and the file system, and says plainly which targets
//! were met.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::Args;
use super::workload::{DurableCell, KEY_BYTES, ReplayRun, VALUE_BYTES, WriteRun};
use crate::machine::{self, Machine};
use crate::units::human;

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
    pub durable: Vec<DurableCell>,
    /// Per batch size: median engine run, median async run.
    asyncs: Vec<(usize, WriteRun, WriteRun)>,
    pub replay: Option<ReplayRun>,
}

fn median(mut v: Vec<WriteRun>) -> Option<WriteRun> {
    v.sort_by(|a, b| a.rows_per_sec().total_cmp(&b.rows_per_sec()));
    v.get(v.len() / 2).copied()
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
            durable: Vec::new(),
            asyncs: Vec::new(),
            replay: None,
        }
    }

    /// Records the runs of one batch size, keeping the medians.
    pub fn push_async(&mut self, rows: usize, runs: Vec<(WriteRun, WriteRun)>) {
        let (engine, wal): (Vec<_>, Vec<_>) = runs.into_iter().unzip();
        if let (Some(e), Some(w)) = (median(engine), median(wal)) {
            self.asyncs.push((rows, e, w));
        }
    }

    fn group_commit_factor(&self) -> Option<f64> {
        let one = self
            .durable
            .iter()
            .find(|c| c.threads == 1 && c.rows == 1)?;
        let many = self
            .durable
            .iter()
            .find(|c| c.threads == 64 && c.rows == 1)?;
        Some(many.batches_per_sec() / one.batches_per_sec())
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
            "**Durable mode** (acknowledged after the fsync covering the batch; {} s per cell):\n",
            self.seconds
        );
        let _ = writeln!(
            out,
            "| writers | rows/batch | batches/s | rows/s | MB/s | fsyncs/s | batches per fsync |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---:|---:|---:|");
        for c in &self.durable {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {:.1} | {:.0} | {:.1} |",
                c.threads,
                c.rows,
                human(c.batches_per_sec()),
                human(c.rows_per_sec()),
                c.rows_per_sec() * (KEY_BYTES + VALUE_BYTES) as f64 / 1e6,
                c.syncs_per_sec(),
                c.batches_per_sync()
            );
        }
        if let Some(f) = self.group_commit_factor() {
            let verdict = if f >= GROUP_COMMIT_TARGET {
                "met"
            } else {
                "MISSED"
            };
            let _ = writeln!(
                out,
                "\nGroup commit: single-row batches at 64 writers = {f:.1}× one writer (target ≥ {GROUP_COMMIT_TARGET:.0}×: {verdict})."
            );
        }
        let _ = writeln!(
            out,
            "\n**Async mode vs the bare engine** (one thread, {} rows per run, median of {}):\n",
            self.async_rows, self.repeat
        );
        let _ = writeln!(
            out,
            "| rows/batch | engine rows/s | async WAL rows/s | WAL ÷ engine | target ≥ 80% |"
        );
        let _ = writeln!(out, "|---:|---:|---:|---:|---|");
        for (rows, e, w) in &self.asyncs {
            let ratio = w.rows_per_sec() / e.rows_per_sec();
            let verdict = if ratio >= ASYNC_TARGET {
                "met"
            } else {
                "MISSED"
            };
            let _ = writeln!(
                out,
                "| {rows} | {} | {} | {:.0}% | {verdict} |",
                human(e.rows_per_sec()),
                human(w.rows_per_sec()),
                ratio * 100.0
            );
        }
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
