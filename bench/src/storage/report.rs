//! Turns the samples of one benchmark invocation into a markdown table for
//! humans (and storage/README.md) and JSON for tools.
//!
//! Each cell is the median over the runs of that system; ratio columns are
//! fasty ÷ peer for every pair of a fasty system and a peer in this run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::keys::{Dataset, KEY_BYTES, VALUE_BYTES};
use super::workload::{Sample, Workload};
use super::{StoreConfig, System};
use crate::machine::{self, Machine};
use crate::report::format::{json_number as num, json_string as quote, thousands};
use crate::report::ratio::{self, Better};
use crate::report::stats;
use crate::report::table::{Align, Table};

/// Everything one invocation measured, and where.
pub struct Report {
    machine: Machine,
    date: String,
    keys: u64,
    seed: u64,
    dir: PathBuf,
    fs: Option<String>,
    repeat: u32,
    cache_bytes: u64,
    setups: Vec<(System, String)>,
    results: Vec<(System, Vec<Sample>)>,
    skipped: Vec<System>,
}

impl Report {
    /// Collects the results with a description of the machine.
    pub fn new(
        data: &Dataset,
        dir: &Path,
        repeat: u32,
        config: &StoreConfig,
        results: Vec<(System, Vec<Sample>)>,
        skipped: Vec<System>,
    ) -> Report {
        Report {
            machine: Machine::current(),
            date: machine::today_utc(),
            keys: data.len(),
            seed: data.seed(),
            dir: dir.to_path_buf(),
            fs: machine::fs_type(dir),
            repeat,
            cache_bytes: config.cache_bytes,
            setups: results.iter().map(|(s, _)| (*s, s.setup(config))).collect(),
            results,
            skipped,
        }
    }

    fn median(samples: &[Sample], f: impl Fn(&Sample) -> f64) -> f64 {
        let v: Vec<f64> = samples.iter().map(f).collect();
        stats::median(&v).unwrap_or(f64::NAN)
    }

    /// fasty ÷ peer on a rate (every storage figure is higher-is-better);
    /// NaN where there is no ratio.
    fn ratio(fasty: f64, peer: f64) -> f64 {
        ratio::advantage(fasty, peer, Better::Higher).unwrap_or(f64::NAN)
    }

    /// Whether pair `(f, p)` sets a system that logs its writes against
    /// one that does not.
    fn unlike(&self, f: usize, p: usize) -> bool {
        self.results[f].0.logs_writes() != self.results[p].0.logs_writes()
    }

    /// (fasty system, peer) pairs that get a ratio column.
    fn pairs(&self) -> Vec<(usize, usize)> {
        let mut pairs = Vec::new();
        for (f, (fs, _)) in self.results.iter().enumerate() {
            for (p, (ps, _)) in self.results.iter().enumerate() {
                if fs.is_fasty() && !ps.is_fasty() {
                    pairs.push((f, p));
                }
            }
        }
        pairs
    }

    /// The table and its notes, as markdown.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(w, "### Storage engine: fasty vs peers ({})\n", self.date);
        if self.pairs().iter().any(|&(f, p)| self.unlike(f, p)) {
            let _ = writeln!(
                w,
                "**Durability:** fasty-uring and fasty-std are fasty's engine without its \
                 write-ahead log, while fjall journals every write; their ratios against fjall \
                 (marked †) compare unlike work. fasty-wal (the engine with its log, async \
                 mode) ÷ fjall is the like-for-like ratio.\n"
            );
        }
        let _ = writeln!(w, "- machine: {}", self.machine.summary());
        let _ = writeln!(
            w,
            "- data: {} keys, {KEY_BYTES}-byte keys, {VALUE_BYTES}-byte incompressible values, seed {}; \
             directory on {}",
            thousands(self.keys as f64),
            self.seed,
            self.fs.as_deref().unwrap_or("an unknown file system"),
        );
        let _ = writeln!(
            w,
            "- runs: {} per system{}",
            self.repeat,
            if self.repeat > 1 {
                ", interleaved (A B A B …), median shown"
            } else {
                ""
            }
        );
        let _ = writeln!(
            w,
            "- writes: one thread, one put per write call, no fsync per write on any system; \
             block-cache budget {} MiB each",
            self.cache_bytes >> 20
        );
        let _ = writeln!(
            w,
            "- reads: on the random-put store after a flush and a full compaction (waited for); \
             misses lie between present keys"
        );
        for (s, setup) in &self.setups {
            let _ = writeln!(w, "- {}: {setup}", s.name());
        }
        for s in &self.skipped {
            let _ = writeln!(
                w,
                "- {}: skipped, {}",
                s.name(),
                s.missing().unwrap_or("not requested")
            );
        }
        let _ = writeln!(w);

        if self.results.is_empty() {
            let _ = writeln!(w, "No system ran.");
            return out;
        }
        let pairs = self.pairs();
        let mut table = Table::new([("workload", Align::Left)]);
        for (s, _) in &self.results {
            table.column(s.name(), Align::Right);
        }
        for &(f, p) in &pairs {
            table.column(
                format!(
                    "{} ÷ {}{}",
                    self.results[f].0.name(),
                    self.results[p].0.name(),
                    if self.unlike(f, p) { " †" } else { "" }
                ),
                Align::Right,
            );
        }
        for wl in Workload::ALL {
            let medians: Vec<f64> = self
                .results
                .iter()
                .map(|(_, s)| Self::median(s, |x| x.rate(wl)))
                .collect();
            let mut row = vec![format!("{} ({})", wl.label(), wl.unit())];
            for &m in &medians {
                row.push(if wl == Workload::Scan {
                    format!("{m:.1}")
                } else {
                    thousands(m)
                });
            }
            for &(f, p) in &pairs {
                let r = Self::ratio(medians[f], medians[p]);
                row.push(if r.is_finite() {
                    ratio::text(r)
                } else {
                    "—".into()
                });
            }
            table.row(row);
        }
        let mut row = vec!["flush + full compaction after random put (s)".to_string()];
        for (_, s) in &self.results {
            row.push(format!("{:.2}", Self::median(s, |x| x.settle_secs)));
        }
        row.extend(pairs.iter().map(|_| "—".to_string()));
        table.row(row);
        let _ = writeln!(w, "{}", table.markdown());
        if pairs.is_empty() {
            let _ = writeln!(
                w,
                "No ratios: a ratio needs a fasty system and a peer in the same run."
            );
        } else {
            let _ = writeln!(
                w,
                "Ratios are fasty ÷ peer from this run; every rate is higher-is-better, so > 1 means \
                 fasty is faster. Absolute numbers depend on the machine; compare ratios."
            );
        }
        out
    }

    /// Medians, ratios and every run, as a JSON document.
    pub fn json(&self) -> String {
        let mut o = String::new();
        let _ = write!(o, "{{\n  \"benchmark\": \"storage\",\n");
        let _ = writeln!(o, "  \"date\": {},", quote(&self.date));
        let _ = writeln!(
            o,
            "  \"machine\": {{\"cores\": {}, \"memory_bytes\": {}, \"kernel\": {}, \"cpu\": {}}},",
            self.machine.cores,
            self.machine
                .memory_bytes
                .map_or("null".to_string(), |b| b.to_string()),
            self.machine.kernel.as_deref().map_or("null".into(), quote),
            self.machine.cpu.as_deref().map_or("null".into(), quote),
        );
        let _ = writeln!(
            o,
            "  \"keys\": {}, \"key_bytes\": {KEY_BYTES}, \"value_bytes\": {VALUE_BYTES}, \"seed\": {}, \
             \"repeat\": {}, \"cache_bytes\": {},",
            self.keys, self.seed, self.repeat, self.cache_bytes
        );
        let _ = writeln!(
            o,
            "  \"dir\": {}, \"filesystem\": {},",
            quote(&self.dir.display().to_string()),
            self.fs.as_deref().map_or("null".into(), quote)
        );
        let _ = writeln!(
            o,
            "  \"reads_after\": \"flush + full compaction\",\n  \"systems\": {{"
        );
        for (i, ((system, samples), (_, setup))) in
            self.results.iter().zip(&self.setups).enumerate()
        {
            let _ = write!(
                o,
                "    {}: {{\"setup\": {}, \"median\": {}, \"runs\": [",
                quote(system.name()),
                quote(setup),
                rates_json(
                    |w| Self::median(samples, |x| x.rate(w)),
                    Self::median(samples, |x| x.settle_secs)
                ),
            );
            for (j, s) in samples.iter().enumerate() {
                let sep = if j + 1 < samples.len() { ", " } else { "" };
                let _ = write!(o, "{}{sep}", rates_json(|w| s.rate(w), s.settle_secs));
            }
            let sep = if i + 1 < self.results.len() { "," } else { "" };
            let _ = writeln!(o, "]}}{sep}");
        }
        let _ = writeln!(o, "  }},\n  \"ratios\": [");
        let pairs = self.pairs();
        for (i, &(f, p)) in pairs.iter().enumerate() {
            let (fs, fsamples) = &self.results[f];
            let (ps, psamples) = &self.results[p];
            let ratios = Workload::ALL
                .iter()
                .map(|&w| {
                    format!(
                        "{}: {}",
                        quote(w.id()),
                        num(Self::ratio(
                            Self::median(fsamples, |x| x.rate(w)),
                            Self::median(psamples, |x| x.rate(w))
                        ))
                    )
                })
                .collect::<Vec<_>>()
                .join(", ");
            let sep = if i + 1 < pairs.len() { "," } else { "" };
            let _ = writeln!(
                o,
                "    {{\"fasty\": {}, \"peer\": {}, {ratios}}}{sep}",
                quote(fs.name()),
                quote(ps.name())
            );
        }
        let _ = writeln!(o, "  ],\n  \"skipped\": [");
        for (i, s) in self.skipped.iter().enumerate() {
            let sep = if i + 1 < self.skipped.len() { "," } else { "" };
            let _ = writeln!(
                o,
                "    {{\"system\": {}, \"reason\": {}}}{sep}",
                quote(s.name()),
                quote(s.missing().unwrap_or("not requested"))
            );
        }
        let _ = writeln!(o, "  ]\n}}");
        o
    }
}

fn rates_json(rate: impl Fn(Workload) -> f64, settle_secs: f64) -> String {
    let mut s = String::from("{");
    for w in Workload::ALL {
        let _ = write!(s, "{}: {}, ", quote(w.id()), num(rate(w)));
    }
    let _ = write!(s, "\"settle_secs\": {}}}", num(settle_secs));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_even_and_odd_counts() {
        let s = |r: f64| Sample {
            rates: [r; Workload::ALL.len()],
            settle_secs: 0.0,
        };
        assert_eq!(
            Report::median(&[s(3.0), s(1.0), s(2.0)], |x| x.rates[0]),
            2.0
        );
        assert_eq!(Report::median(&[s(4.0), s(1.0)], |x| x.rates[0]), 2.5);
    }

    #[test]
    fn engine_only_ratios_against_a_journaling_peer_are_marked() {
        let s = |r: f64| Sample {
            rates: [r; Workload::ALL.len()],
            settle_secs: 0.0,
        };
        let data = Dataset::new(10, 1);
        let config = StoreConfig {
            cache_bytes: 1 << 20,
            columnar: false,
        };
        let report = Report::new(
            &data,
            Path::new("."),
            1,
            &config,
            vec![
                (System::FastyStd, vec![s(300.0)]),
                (System::FastyWal, vec![s(200.0)]),
                (System::Fjall, vec![s(100.0)]),
            ],
            Vec::new(),
        );
        let md = report.markdown();
        assert!(md.contains("**Durability:**"), "{md}");
        // 300 / 100 and 200 / 100 ops/s; only the engine without its log
        // is marked.
        assert!(
            md.contains("| fasty-std ÷ fjall † | fasty-wal ÷ fjall |"),
            "{md}"
        );
        assert!(md.contains("| 300 | 200 | 100 | 3.00× | 2.00× |"), "{md}");
    }
}
