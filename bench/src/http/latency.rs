//! Request latencies of one section: every sample kept (a few bytes per
//! request), sorted once at the end, percentiles by nearest rank. Exact,
//! and cheap enough for the millions of requests a section sends.

use std::time::Duration;

/// Latency samples in nanoseconds.
#[derive(Debug, Default, Clone)]
pub struct Latencies {
    nanos: Vec<u64>,
    sorted: bool,
}

impl Latencies {
    /// An empty set with room for `n` samples.
    pub fn with_capacity(n: usize) -> Latencies {
        Latencies {
            nanos: Vec::with_capacity(n),
            sorted: true,
        }
    }

    /// Adds one sample.
    pub fn record(&mut self, d: Duration) {
        self.nanos
            .push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        self.sorted = false;
    }

    /// Takes every sample of `other`.
    pub fn merge(&mut self, other: Latencies) {
        self.nanos.extend(other.nanos);
        self.sorted = false;
    }

    /// How many samples.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.nanos.len()
    }

    /// Sorts the samples (needed before [`Latencies::percentile`]).
    pub fn finish(&mut self) {
        if !self.sorted {
            self.nanos.sort_unstable();
            self.sorted = true;
        }
    }

    /// The `p`-th percentile (0–100) by nearest rank: the smallest sample
    /// with at least `p`% of the samples at or below it. `None` without
    /// samples or before [`Latencies::finish`].
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if !self.sorted {
            return None;
        }
        crate::report::stats::nearest_rank(&self.nanos, p / 100.0).map(Duration::from_nanos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut l = Latencies::with_capacity(100);
        assert_eq!(l.percentile(50.0), None);
        for ms in (1..=100).rev() {
            l.record(Duration::from_millis(ms));
        }
        assert_eq!(l.percentile(50.0), None, "unsorted");
        l.finish();
        assert_eq!(l.percentile(50.0), Some(Duration::from_millis(50)));
        assert_eq!(l.percentile(99.0), Some(Duration::from_millis(99)));
        assert_eq!(l.percentile(100.0), Some(Duration::from_millis(100)));
        assert_eq!(l.percentile(0.0), Some(Duration::from_millis(1)));
        let mut one = Latencies::default();
        one.record(Duration::from_micros(7));
        l.merge(one);
        l.finish();
        assert_eq!(l.len(), 101);
        assert_eq!(l.percentile(0.5), Some(Duration::from_micros(7)));
    }
}
