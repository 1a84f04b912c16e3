//! Statistics over repeated runs: the median and range of a measurement,
//! and nearest-rank percentiles of latency samples. Every benchmark reports
//! the median of its runs (robust to one slow run on a shared machine) with
//! the range beside it.

/// Median, minimum and maximum of the runs of one measurement.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// The middle run; the mean of the two middle runs for an even count.
    pub median: f64,
    /// The smallest run.
    pub min: f64,
    /// The largest run.
    pub max: f64,
    /// How many runs.
    pub runs: usize,
}

impl Summary {
    /// The summary of `runs`; `None` when there are none or one is not a
    /// number (a NaN has no place in an order).
    pub fn of(runs: &[f64]) -> Option<Summary> {
        if runs.is_empty() || runs.iter().any(|x| x.is_nan()) {
            return None;
        }
        let mut v = runs.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Summary {
            median,
            min: v[0],
            max: v[n - 1],
            runs: n,
        })
    }

    /// The range relative to the median, `(max - min) / median`: 0 when
    /// every run agreed, 0.1 when they spread over a tenth of the median.
    pub fn spread(&self) -> f64 {
        (self.max - self.min) / self.median
    }
}

/// The median of `runs` (see [`Summary::of`]).
pub fn median(runs: &[f64]) -> Option<f64> {
    Summary::of(runs).map(|s| s.median)
}

/// The run whose `key` is the median one (the upper of the two middle runs
/// for an even count), whole: for runs that carry several figures which
/// must stay together (rows/s and fsyncs/s of one run, say). `None`
/// without runs.
pub fn median_run<T: Clone>(runs: &[T], key: impl Fn(&T) -> f64) -> Option<T> {
    let mut sorted: Vec<&T> = runs.iter().collect();
    sorted.sort_by(|a, b| key(a).total_cmp(&key(b)));
    sorted.get(sorted.len() / 2).map(|r| (*r).clone())
}

/// The `q` quantile (0–1) of `sorted` (ascending) by nearest rank: the
/// smallest sample with at least a share `q` of the samples at or below
/// it. `None` without samples.
pub fn nearest_rank<T: Copy>(sorted: &[T], q: f64) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_run_is_kept_whole() {
        let runs = [(3.0, "c"), (1.0, "a"), (2.0, "b"), (4.0, "d")];
        // sorted by the figure: a b c d; the upper middle is c
        assert_eq!(median_run(&runs, |r| r.0), Some((3.0, "c")));
        assert_eq!(median_run(&runs[..3], |r| r.0), Some((2.0, "b")));
        assert_eq!(median_run(&[] as &[(f64, &str)], |r| r.0), None);
    }

    #[test]
    fn odd_counts_take_the_middle_run() {
        let s = Summary::of(&[30.0, 10.0, 20.0]).unwrap();
        assert_eq!(
            s,
            Summary {
                median: 20.0,
                min: 10.0,
                max: 30.0,
                runs: 3
            }
        );
        // (30 - 10) / 20
        assert_eq!(s.spread(), 1.0);
    }

    #[test]
    fn even_counts_average_the_two_middle_runs() {
        // sorted: 1, 4, 6, 100 -> (4 + 6) / 2
        let s = Summary::of(&[100.0, 4.0, 1.0, 6.0]).unwrap();
        assert_eq!(s.median, 5.0);
        assert_eq!((s.min, s.max, s.runs), (1.0, 100.0, 4));
        assert_eq!(s.spread(), 99.0 / 5.0);
        assert_eq!(median(&[4.0, 1.0]), Some(2.5));
    }

    #[test]
    fn one_run_has_no_spread_and_nothing_has_no_summary() {
        let s = Summary::of(&[7.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (7.0, 7.0, 7.0));
        assert_eq!(s.spread(), 0.0);
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(nearest_rank(&v, 0.5), Some(50));
        assert_eq!(nearest_rank(&v, 0.99), Some(99));
        assert_eq!(nearest_rank(&v, 0.995), Some(100));
        assert_eq!(nearest_rank(&v, 1.0), Some(100));
        assert_eq!(nearest_rank(&v, 0.0), Some(1));
        // 3 samples: p50 is rank ceil(1.5) = 2.
        assert_eq!(nearest_rank(&[5, 6, 9], 0.5), Some(6));
        assert_eq!(nearest_rank::<u32>(&[], 0.5), None);
    }
}
