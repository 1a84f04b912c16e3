//! Request counters and latency histograms: what `/stats` and `/metrics`
//! report about the HTTP layer. Recording is a few relaxed atomic
//! increments into fixed arrays (no locks, no allocation); reading sums
//! them into a [`Snapshot`].

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::StatusCode;

/// What a request was, for counting: the statement kinds of `/query`,
/// `invalid` for a `/query` request rejected before its statement was
/// known (bad JSON, a syntax error, no token), and `other` for every
/// other route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Select,
    Insert,
    Upsert,
    Update,
    Delete,
    Ddl,
    Explain,
    Batch,
    Invalid,
    Other,
}

impl Kind {
    pub(crate) const ALL: [Kind; 10] = [
        Kind::Select,
        Kind::Insert,
        Kind::Upsert,
        Kind::Update,
        Kind::Delete,
        Kind::Ddl,
        Kind::Explain,
        Kind::Batch,
        Kind::Invalid,
        Kind::Other,
    ];

    /// The label value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Select => "select",
            Kind::Insert => "insert",
            Kind::Upsert => "upsert",
            Kind::Update => "update",
            Kind::Delete => "delete",
            Kind::Ddl => "ddl",
            Kind::Explain => "explain",
            Kind::Batch => "batch",
            Kind::Invalid => "invalid",
            Kind::Other => "other",
        }
    }

    /// The kind of a parsed statement.
    pub(crate) fn of(stmt: &fasty_query::ast::Statement) -> Kind {
        use fasty_query::ast::Statement;
        match stmt {
            Statement::CreateTable { .. }
            | Statement::DropTable { .. }
            | Statement::CreateIndex { .. }
            | Statement::DropIndex { .. } => Kind::Ddl,
            Statement::Insert { upsert: false, .. } => Kind::Insert,
            Statement::Insert { upsert: true, .. } => Kind::Upsert,
            Statement::Select(_) => Kind::Select,
            Statement::Update { .. } => Kind::Update,
            Statement::Delete { .. } => Kind::Delete,
            Statement::Explain(_) => Kind::Explain,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The statuses counted one by one; anything else counts as `other`.
const STATUSES: [u16; 10] = [200, 400, 401, 404, 405, 408, 413, 500, 503, 0];

fn status_index(status: StatusCode) -> usize {
    let s = status.as_u16();
    STATUSES
        .iter()
        .position(|&x| x == s)
        .unwrap_or(STATUSES.len() - 1)
}

fn status_label(i: usize) -> &'static str {
    match STATUSES[i] {
        200 => "200",
        400 => "400",
        401 => "401",
        404 => "404",
        405 => "405",
        408 => "408",
        413 => "413",
        500 => "500",
        503 => "503",
        _ => "other",
    }
}

/// Upper bounds of the latency buckets, in microseconds (100 µs to 10 s);
/// a last, unbounded bucket catches the rest.
const BOUNDS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];
const BUCKETS: usize = BOUNDS_US.len() + 1;
const KINDS: usize = Kind::ALL.len();

/// The counters. One per (kind, status) and a latency histogram per kind.
pub(crate) struct Metrics {
    requests: [[AtomicU64; STATUSES.len()]; KINDS],
    buckets: [[AtomicU64; BUCKETS]; KINDS],
    sum_us: [AtomicU64; KINDS],
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        Metrics {
            requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            buckets: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            sum_us: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Counts one finished request.
    pub(crate) fn record(&self, kind: Kind, status: StatusCode, elapsed: Duration) {
        let k = kind.index();
        self.requests[k][status_index(status)].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let b = BOUNDS_US.partition_point(|&bound| bound < us);
        self.buckets[k][b].fetch_add(1, Ordering::Relaxed);
        self.sum_us[k].fetch_add(us, Ordering::Relaxed);
    }

    /// The counters now.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            kinds: Kind::ALL
                .iter()
                .map(|&kind| {
                    let k = kind.index();
                    KindSnapshot {
                        kind,
                        statuses: std::array::from_fn(|i| load(&self.requests[k][i])),
                        buckets: std::array::from_fn(|i| load(&self.buckets[k][i])),
                        sum_us: load(&self.sum_us[k]),
                    }
                })
                .collect(),
        }
    }
}

/// The counters of every kind at one moment.
pub(crate) struct Snapshot {
    pub(crate) kinds: Vec<KindSnapshot>,
}

/// One kind's counters.
pub(crate) struct KindSnapshot {
    pub(crate) kind: Kind,
    statuses: [u64; STATUSES.len()],
    buckets: [u64; BUCKETS],
    sum_us: u64,
}

impl KindSnapshot {
    /// Requests of this kind.
    pub(crate) fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// `(status label, count)` for every status seen.
    pub(crate) fn statuses(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.statuses
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(i, n)| (status_label(i), *n))
    }

    /// The latency below which a fraction `q` of the requests finished,
    /// in milliseconds, interpolated within its bucket; `None` without
    /// requests. Past the last bound it reports that bound.
    pub(crate) fn percentile_ms(&self, q: f64) -> Option<f64> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let rank = q * total as f64;
        let mut below = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            if n > 0 && (below + n) as f64 >= rank {
                let lo = if i == 0 { 0 } else { BOUNDS_US[i - 1] } as f64;
                let Some(&hi) = BOUNDS_US.get(i) else {
                    return Some(lo / 1000.0);
                };
                let frac = ((rank - below as f64) / n as f64).clamp(0.0, 1.0);
                return Some((lo + frac * (hi as f64 - lo)) / 1000.0);
            }
            below += n;
        }
        Some(BOUNDS_US[BOUNDS_US.len() - 1] as f64 / 1000.0)
    }

    /// Mean latency in milliseconds; `None` without requests.
    pub(crate) fn mean_ms(&self) -> Option<f64> {
        let n = self.count();
        (n > 0).then(|| self.sum_us as f64 / n as f64 / 1000.0)
    }
}

impl Snapshot {
    /// The request counters and histograms in Prometheus text format.
    pub(crate) fn write_prometheus(&self, out: &mut String) {
        out.push_str(
            "# HELP fasty_requests_total HTTP requests by statement kind and status.\n\
             # TYPE fasty_requests_total counter\n",
        );
        for k in &self.kinds {
            for (status, n) in k.statuses() {
                let _ = writeln!(
                    out,
                    "fasty_requests_total{{kind=\"{}\",status=\"{status}\"}} {n}",
                    k.kind.as_str()
                );
            }
        }
        out.push_str(
            "# HELP fasty_request_duration_seconds Request latency by statement kind.\n\
             # TYPE fasty_request_duration_seconds histogram\n",
        );
        for k in &self.kinds {
            let kind = k.kind.as_str();
            let mut cumulative = 0;
            for (i, &bound) in BOUNDS_US.iter().enumerate() {
                cumulative += k.buckets[i];
                let _ = writeln!(
                    out,
                    "fasty_request_duration_seconds_bucket{{kind=\"{kind}\",le=\"{}\"}} {cumulative}",
                    bound as f64 / 1e6
                );
            }
            cumulative += k.buckets[BUCKETS - 1];
            let _ = writeln!(
                out,
                "fasty_request_duration_seconds_bucket{{kind=\"{kind}\",le=\"+Inf\"}} {cumulative}\n\
                 fasty_request_duration_seconds_sum{{kind=\"{kind}\"}} {}\n\
                 fasty_request_duration_seconds_count{{kind=\"{kind}\"}} {cumulative}",
                k.sum_us as f64 / 1e6
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_percentiles() {
        let m = Metrics::new();
        for _ in 0..90 {
            m.record(Kind::Select, StatusCode::OK, Duration::from_micros(80));
        }
        for _ in 0..10 {
            m.record(
                Kind::Select,
                StatusCode::BAD_REQUEST,
                Duration::from_millis(20),
            );
        }
        m.record(Kind::Ddl, StatusCode::IM_A_TEAPOT, Duration::from_secs(60));
        let s = m.snapshot();
        let sel = &s.kinds[Kind::Select.index()];
        assert_eq!(sel.count(), 100);
        assert_eq!(
            sel.statuses().collect::<Vec<_>>(),
            vec![("200", 90), ("400", 10)]
        );
        let p50 = sel.percentile_ms(0.5).unwrap();
        assert!(p50 > 0.0 && p50 <= 0.1, "{p50}");
        let p99 = sel.percentile_ms(0.99).unwrap();
        assert!(p99 > 10.0 && p99 <= 25.0, "{p99}");
        let ddl = &s.kinds[Kind::Ddl.index()];
        assert_eq!(ddl.statuses().collect::<Vec<_>>(), vec![("other", 1)]);
        assert_eq!(ddl.percentile_ms(0.5), Some(10_000.0));
        assert_eq!(s.kinds[Kind::Batch.index()].percentile_ms(0.5), None);

        let mut text = String::new();
        s.write_prometheus(&mut text);
        assert!(text.contains("fasty_requests_total{kind=\"select\",status=\"400\"} 10\n"));
        assert!(
            text.contains(
                "fasty_request_duration_seconds_bucket{kind=\"select\",le=\"0.0001\"} 90\n"
            )
        );
        assert!(text.contains("fasty_request_duration_seconds_count{kind=\"select\"} 100\n"));
        assert!(
            text.contains("fasty_request_duration_seconds_bucket{kind=\"ddl\",le=\"+Inf\"} 1\n")
        );
    }
}
