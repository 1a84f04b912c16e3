//! Request counters, latency histograms and samples, errors by code,
//! open connections and requests in flight: what `/stats` and `/metrics`
//! report about the HTTP layer. Recording a request is a few relaxed
//! atomic operations on fixed arrays (no allocation; a lock only for a
//! failed request's code); reading copies them into a [`Snapshot`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use axum::http::StatusCode;
use fasty_query::StatementKind;

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
    /// A `{"transaction": [...]}` request.
    Transaction,
    Invalid,
    Other,
}

impl Kind {
    pub(crate) const ALL: [Kind; 11] = [
        Kind::Select,
        Kind::Insert,
        Kind::Upsert,
        Kind::Update,
        Kind::Delete,
        Kind::Ddl,
        Kind::Explain,
        Kind::Batch,
        Kind::Transaction,
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
            Kind::Transaction => "transaction",
            Kind::Invalid => "invalid",
            Kind::Other => "other",
        }
    }

    /// The label of a statement kind.
    pub(crate) fn of(kind: StatementKind) -> Kind {
        match kind {
            StatementKind::Ddl => Kind::Ddl,
            StatementKind::Insert => Kind::Insert,
            StatementKind::Upsert => Kind::Upsert,
            StatementKind::Select => Kind::Select,
            StatementKind::Update => Kind::Update,
            StatementKind::Delete => Kind::Delete,
            StatementKind::Explain => Kind::Explain,
            _ => Kind::Other,
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

/// Latency samples kept per kind: the last this many requests, from
/// which `/stats` computes exact percentiles.
pub(crate) const SAMPLES: usize = 1024;

/// The counters. One per (kind, status), a latency histogram and the
/// last [`SAMPLES`] latencies per kind, failures by error code, and the
/// gauges of open connections and requests in flight.
pub(crate) struct Metrics {
    requests: [[AtomicU64; STATUSES.len()]; KINDS],
    buckets: [[AtomicU64; BUCKETS]; KINDS],
    sum_us: [AtomicU64; KINDS],
    /// Latencies in µs (saturating), a ring per kind written at
    /// `count % SAMPLES`.
    samples: Box<[[AtomicU32; SAMPLES]; KINDS]>,
    /// Per kind, the next sample's position in the ring.
    next: [AtomicU64; KINDS],
    errors: Mutex<BTreeMap<&'static str, u64>>,
    connections: AtomicUsize,
    in_flight: AtomicUsize,
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        Metrics {
            requests: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            buckets: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            sum_us: std::array::from_fn(|_| AtomicU64::new(0)),
            samples: Box::new(std::array::from_fn(|_| {
                std::array::from_fn(|_| AtomicU32::new(0))
            })),
            next: std::array::from_fn(|_| AtomicU64::new(0)),
            errors: Mutex::new(BTreeMap::new()),
            connections: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Counts one finished request; `error` is its error code if it
    /// failed.
    pub(crate) fn record(
        &self,
        kind: Kind,
        status: StatusCode,
        error: Option<&'static str>,
        elapsed: Duration,
    ) {
        let k = kind.index();
        self.requests[k][status_index(status)].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        let b = BOUNDS_US.partition_point(|&bound| bound < us);
        self.buckets[k][b].fetch_add(1, Ordering::Relaxed);
        self.sum_us[k].fetch_add(us, Ordering::Relaxed);
        let slot = self.next[k].fetch_add(1, Ordering::Relaxed);
        self.samples[k][(slot % SAMPLES as u64) as usize]
            .store(u32::try_from(us).unwrap_or(u32::MAX), Ordering::Relaxed);
        if let Some(code) = error {
            let mut errors = self.errors.lock().unwrap_or_else(|e| e.into_inner());
            *errors.entry(code).or_insert(0) += 1;
        }
    }

    /// A connection opened; the guard counts it until dropped.
    pub(crate) fn connection_opened(self: &std::sync::Arc<Self>) -> Gauge {
        self.connections.fetch_add(1, Ordering::Relaxed);
        Gauge(self.clone(), Which::Connections)
    }

    /// A request admitted; the guard counts it until dropped.
    pub(crate) fn request_started(self: &std::sync::Arc<Self>) -> Gauge {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Gauge(self.clone(), Which::InFlight)
    }

    /// The counters now.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            kinds: Kind::ALL
                .iter()
                .map(|&kind| {
                    let k = kind.index();
                    let buckets: [u64; BUCKETS] =
                        std::array::from_fn(|i| load(&self.buckets[k][i]));
                    let n = (load(&self.next[k]) as usize).min(SAMPLES);
                    let mut samples: Vec<u32> = self.samples[k][..n]
                        .iter()
                        .map(|a| a.load(Ordering::Relaxed))
                        .collect();
                    samples.sort_unstable();
                    KindSnapshot {
                        kind,
                        statuses: std::array::from_fn(|i| load(&self.requests[k][i])),
                        buckets,
                        sum_us: load(&self.sum_us[k]),
                        samples,
                    }
                })
                .collect(),
            errors: self
                .errors
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            connections: self.connections.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
        }
    }
}

enum Which {
    Connections,
    InFlight,
}

/// Holds one unit of a gauge (an open connection, a request in flight).
pub(crate) struct Gauge(std::sync::Arc<Metrics>, Which);

impl Drop for Gauge {
    fn drop(&mut self) {
        let g = match self.1 {
            Which::Connections => &self.0.connections,
            Which::InFlight => &self.0.in_flight,
        };
        g.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The counters of every kind at one moment.
pub(crate) struct Snapshot {
    pub(crate) kinds: Vec<KindSnapshot>,
    /// Failed requests by error code.
    pub(crate) errors: BTreeMap<&'static str, u64>,
    /// Connections open.
    pub(crate) connections: usize,
    /// Requests admitted and not yet answered.
    pub(crate) in_flight: usize,
}

/// One kind's counters.
pub(crate) struct KindSnapshot {
    pub(crate) kind: Kind,
    statuses: [u64; STATUSES.len()],
    buckets: [u64; BUCKETS],
    sum_us: u64,
    /// The last (up to [`SAMPLES`]) latencies in µs, sorted.
    samples: Vec<u32>,
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

    /// Latency samples the percentiles are computed from: the last
    /// [`SAMPLES`] requests of the kind at most.
    pub(crate) fn sampled(&self) -> usize {
        self.samples.len()
    }

    /// The latency at or below which a fraction `q` of the sampled
    /// requests finished (nearest rank), in milliseconds; `None` without
    /// requests.
    pub(crate) fn percentile_ms(&self, q: f64) -> Option<f64> {
        let n = self.samples.len();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        Some(f64::from(self.samples[rank - 1]) / 1000.0)
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
        let _ = write!(
            out,
            "# HELP fasty_http_connections Open client connections.\n\
             # TYPE fasty_http_connections gauge\n\
             fasty_http_connections {}\n\
             # HELP fasty_http_requests_in_flight Requests admitted and not yet answered.\n\
             # TYPE fasty_http_requests_in_flight gauge\n\
             fasty_http_requests_in_flight {}\n",
            self.connections, self.in_flight
        );
        out.push_str(
            "# HELP fasty_errors_total Failed requests by error code.\n\
             # TYPE fasty_errors_total counter\n",
        );
        for (code, n) in &self.errors {
            let _ = writeln!(out, "fasty_errors_total{{code=\"{code}\"}} {n}");
        }
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
    fn buckets_percentiles_and_errors() {
        let m = Metrics::new();
        for _ in 0..90 {
            m.record(
                Kind::Select,
                StatusCode::OK,
                None,
                Duration::from_micros(80),
            );
        }
        for i in 0..10 {
            m.record(
                Kind::Select,
                StatusCode::BAD_REQUEST,
                Some("syntax_error"),
                Duration::from_millis(20 + i),
            );
        }
        m.record(
            Kind::Ddl,
            StatusCode::IM_A_TEAPOT,
            Some("table_exists"),
            Duration::from_secs(60),
        );
        let s = m.snapshot();
        let sel = &s.kinds[Kind::Select.index()];
        assert_eq!(sel.count(), 100);
        assert_eq!(sel.sampled(), 100);
        assert_eq!(
            sel.statuses().collect::<Vec<_>>(),
            vec![("200", 90), ("400", 10)]
        );
        // Exact, from the samples: rank 50 of 100 is 80 µs, rank 99 is
        // the ninth-slowest of the ten 20-29 ms requests.
        assert_eq!(sel.percentile_ms(0.5), Some(0.08));
        assert_eq!(sel.percentile_ms(0.99), Some(28.0));
        assert_eq!(sel.percentile_ms(1.0), Some(29.0));
        let ddl = &s.kinds[Kind::Ddl.index()];
        assert_eq!(ddl.statuses().collect::<Vec<_>>(), vec![("other", 1)]);
        assert_eq!(ddl.percentile_ms(0.5), Some(60_000.0));
        assert_eq!(s.kinds[Kind::Batch.index()].percentile_ms(0.5), None);
        assert_eq!(
            s.errors.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>(),
            vec![("syntax_error", 10), ("table_exists", 1)]
        );

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
        assert!(text.contains("fasty_errors_total{code=\"syntax_error\"} 10\n"));
    }

    #[test]
    fn samples_keep_the_last_requests() {
        let m = Metrics::new();
        for _ in 0..SAMPLES {
            m.record(Kind::Select, StatusCode::OK, None, Duration::from_secs(1));
        }
        for _ in 0..SAMPLES {
            m.record(Kind::Select, StatusCode::OK, None, Duration::from_micros(5));
        }
        let s = m.snapshot();
        let sel = &s.kinds[Kind::Select.index()];
        assert_eq!(sel.count(), 2 * SAMPLES as u64);
        assert_eq!(sel.sampled(), SAMPLES);
        assert_eq!(sel.percentile_ms(1.0), Some(0.005));
    }

    #[test]
    fn gauges_count_while_held() {
        let m = std::sync::Arc::new(Metrics::new());
        let c = m.connection_opened();
        let r1 = m.request_started();
        let r2 = m.request_started();
        assert_eq!((m.snapshot().connections, m.snapshot().in_flight), (1, 2));
        drop(r1);
        drop(c);
        assert_eq!((m.snapshot().connections, m.snapshot().in_flight), (0, 1));
        drop(r2);
        assert_eq!(m.snapshot().in_flight, 0);
    }
}
