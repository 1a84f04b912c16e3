//! The suite's workloads and the client harness that drives them: the
//! same threads, the same rows and the same checks for every system.
//!
//! Point operations (single-row inserts, lookups, ranges) run for a fixed
//! time and report operations per second; batch inserts load a fixed
//! number of rows and report rows per second; the analytic queries run
//! once per repetition and report milliseconds. Writes go to a fresh
//! scratch table per run (created before the clock starts, dropped after),
//! so every run starts from the same state.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::system::{Conn, Result, System, TpcbOutcome, TpcbTx};
use super::tpcb;
use crate::data::{
    AGE_FILTER, Dataset, RANGE_ROWS, TOP_K, User, groups_agree, id_range, sums_agree,
};

/// The fewest rows per table a run may load (the range workload reads
/// 100 consecutive ids).
pub const MIN_ROWS: u64 = 1000;
/// Rows per batch in the batch workloads (W2, W3) and the load.
pub const BATCH_ROWS: usize = 1000;
/// Share of point lookups in the sustained mixed load, in tenths (the rest
/// are single-row inserts).
const MIXED_READ_TENTHS: u64 = 8;
/// Clients of the sustained mixed load.
pub const SUSTAINED_CLIENTS: usize = 16;
/// Clients of the latency section.
pub const LATENCY_CLIENTS: usize = 4;
/// First id of the rows the write workloads insert: far above the loaded
/// ids, one disjoint block per client.
const SCRATCH_ID_BASE: i64 = 1 << 40;
const SCRATCH_IDS_PER_CLIENT: i64 = 1 << 32;

/// One line of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// `users` and `orders` in 1000-row batches from one client (the data
    /// the read workloads use; one run per system).
    Load,
    W1Single1,
    W1Single64,
    W2Batch1,
    W3Batch4,
    W3Batch32,
    W4Pk1,
    W4Pk32,
    W5Email,
    W6Range,
    W7Top10,
    W8JoinAggregate,
    W8JoinLimit,
    W9Count,
    W10GroupBy,
    W11IdRange,
    /// pgbench's TPC-B-like transaction, 1 and 16 clients (see
    /// [`super::tpcb`]).
    #[serde(rename = "tpcb-1")]
    Tpcb1,
    #[serde(rename = "tpcb-16")]
    Tpcb16,
    SustainedMixed,
    SustainedWorstSecond,
    LatencyLookupP50,
    LatencyLookupP99,
    LatencyInsertP50,
    LatencyInsertP99,
    /// Seconds from a restart after `kill -9` to the first answered query.
    Recovery,
    /// Bytes on disk per loaded row after the load.
    DiskPerRow,
}

/// What a workload's figure measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    RowsPerSec,
    OpsPerSec,
    Millis,
    Seconds,
    Bytes,
}

impl Unit {
    /// Whether a larger figure is better (throughput) or worse (time, size).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Unit::RowsPerSec | Unit::OpsPerSec)
    }

    /// The unit as the report prints it.
    pub fn label(self) -> &'static str {
        match self {
            Unit::RowsPerSec => "rows/s",
            Unit::OpsPerSec => "ops/s",
            Unit::Millis => "ms",
            Unit::Seconds => "s",
            Unit::Bytes => "bytes",
        }
    }
}

impl Workload {
    /// The timed workloads in the order they run (every line but the
    /// load, recovery and disk use, which are measured apart).
    pub fn timed() -> impl Iterator<Item = Workload> {
        Workload::ALL.into_iter().filter(|w| {
            !matches!(
                w,
                Workload::Load | Workload::Recovery | Workload::DiskPerRow
            )
        })
    }

    /// Every line, in report order.
    pub const ALL: [Workload; 26] = [
        Workload::Load,
        Workload::W1Single1,
        Workload::W1Single64,
        Workload::W2Batch1,
        Workload::W3Batch4,
        Workload::W3Batch32,
        Workload::W4Pk1,
        Workload::W4Pk32,
        Workload::W5Email,
        Workload::W6Range,
        Workload::W7Top10,
        Workload::W8JoinAggregate,
        Workload::W8JoinLimit,
        Workload::W9Count,
        Workload::W10GroupBy,
        Workload::W11IdRange,
        Workload::Tpcb1,
        Workload::Tpcb16,
        Workload::SustainedMixed,
        Workload::SustainedWorstSecond,
        Workload::LatencyLookupP50,
        Workload::LatencyLookupP99,
        Workload::LatencyInsertP50,
        Workload::LatencyInsertP99,
        Workload::Recovery,
        Workload::DiskPerRow,
    ];

    /// The line's label in the report.
    pub fn title(self) -> &'static str {
        match self {
            Workload::Load => "load users+orders, 1000-row batches, 1 client",
            Workload::W1Single1 => "W1 single-row insert, 1 client",
            Workload::W1Single64 => "W1 single-row insert, 64 clients",
            Workload::W2Batch1 => "W2 1000-row batches, 1 client",
            Workload::W3Batch4 => "W3 1000-row batches, 4 clients",
            Workload::W3Batch32 => "W3 1000-row batches, 32 clients",
            Workload::W4Pk1 => "W4 pk lookup, 1 client",
            Workload::W4Pk32 => "W4 pk lookup, 32 clients",
            Workload::W5Email => "W5 email index lookup, 1 client",
            Workload::W6Range => "W6 100-row pk range, 1 client",
            Workload::W7Top10 => "W7 order by balance desc limit 10",
            Workload::W8JoinAggregate => "W8 join, count + sum",
            Workload::W8JoinLimit => "W8 join, limit 10",
            Workload::W9Count => "W9 count(*) where age > 50",
            Workload::W10GroupBy => "W10 age, count(*), avg(balance) group by age",
            Workload::W11IdRange => "W11 count(*) where id between (1% of rows)",
            Workload::Tpcb1 => "TPC-B-like transactions, 1 client",
            Workload::Tpcb16 => "TPC-B-like transactions, 16 clients",
            Workload::SustainedMixed => "sustained 80/20 lookup/insert, 16 clients",
            Workload::SustainedWorstSecond => "sustained, worst 1 s window",
            Workload::LatencyLookupP50 => "latency pk lookup p50, 4 clients",
            Workload::LatencyLookupP99 => "latency pk lookup p99, 4 clients",
            Workload::LatencyInsertP50 => "latency single insert p50, 4 clients",
            Workload::LatencyInsertP99 => "latency single insert p99, 4 clients",
            Workload::Recovery => "recovery after kill -9",
            Workload::DiskPerRow => "disk per row after load",
        }
    }

    /// What the figure measures.
    pub fn unit(self) -> Unit {
        match self {
            Workload::Load | Workload::W2Batch1 | Workload::W3Batch4 | Workload::W3Batch32 => {
                Unit::RowsPerSec
            }
            Workload::W1Single1
            | Workload::W1Single64
            | Workload::W4Pk1
            | Workload::W4Pk32
            | Workload::W5Email
            | Workload::W6Range
            | Workload::Tpcb1
            | Workload::Tpcb16
            | Workload::SustainedMixed
            | Workload::SustainedWorstSecond => Unit::OpsPerSec,
            Workload::W7Top10
            | Workload::W8JoinAggregate
            | Workload::W8JoinLimit
            | Workload::W9Count
            | Workload::W10GroupBy
            | Workload::W11IdRange
            | Workload::LatencyLookupP50
            | Workload::LatencyLookupP99
            | Workload::LatencyInsertP50
            | Workload::LatencyInsertP99 => Unit::Millis,
            Workload::Recovery => Unit::Seconds,
            Workload::DiskPerRow => Unit::Bytes,
        }
    }

    /// Whether running this workload yields its own line and the lines
    /// that follow it (the sustained and latency sections measure several
    /// lines in one run); `false` for those followers.
    pub fn leads(self) -> bool {
        !matches!(
            self,
            Workload::SustainedWorstSecond
                | Workload::LatencyLookupP99
                | Workload::LatencyInsertP50
                | Workload::LatencyInsertP99
        )
    }

    /// The line whose run measures this one (itself, unless it is a
    /// follower: see [`Workload::leads`]).
    pub fn leader(self) -> Workload {
        match self {
            Workload::SustainedWorstSecond => Workload::SustainedMixed,
            Workload::LatencyLookupP99
            | Workload::LatencyInsertP50
            | Workload::LatencyInsertP99 => Workload::LatencyLookupP50,
            w => w,
        }
    }

    /// The name in report.json and on the command line (`w4-pk32`).
    pub fn key(self) -> &'static str {
        match self {
            Workload::Load => "load",
            Workload::W1Single1 => "w1-single1",
            Workload::W1Single64 => "w1-single64",
            Workload::W2Batch1 => "w2-batch1",
            Workload::W3Batch4 => "w3-batch4",
            Workload::W3Batch32 => "w3-batch32",
            Workload::W4Pk1 => "w4-pk1",
            Workload::W4Pk32 => "w4-pk32",
            Workload::W5Email => "w5-email",
            Workload::W6Range => "w6-range",
            Workload::W7Top10 => "w7-top10",
            Workload::W8JoinAggregate => "w8-join-aggregate",
            Workload::W8JoinLimit => "w8-join-limit",
            Workload::W9Count => "w9-count",
            Workload::W10GroupBy => "w10-group-by",
            Workload::W11IdRange => "w11-id-range",
            Workload::Tpcb1 => "tpcb-1",
            Workload::Tpcb16 => "tpcb-16",
            Workload::SustainedMixed => "sustained-mixed",
            Workload::SustainedWorstSecond => "sustained-worst-second",
            Workload::LatencyLookupP50 => "latency-lookup-p50",
            Workload::LatencyLookupP99 => "latency-lookup-p99",
            Workload::LatencyInsertP50 => "latency-insert-p50",
            Workload::LatencyInsertP99 => "latency-insert-p99",
            Workload::Recovery => "recovery",
            Workload::DiskPerRow => "disk-per-row",
        }
    }

    /// Whether each system runs the workload once, untimed, before its
    /// timed runs (the analytic queries: their first run reads cold data).
    pub fn warms_up(self) -> bool {
        matches!(
            self,
            Workload::W7Top10
                | Workload::W8JoinAggregate
                | Workload::W8JoinLimit
                | Workload::W9Count
                | Workload::W10GroupBy
                | Workload::W11IdRange
        )
    }

    /// Whether the figure depends on what an acknowledged write must have
    /// reached (the log, the OS, the disk): the write workloads, the
    /// sections that mix writes in, and recovery.
    pub fn durability_matters(self) -> bool {
        self.writes()
            || matches!(
                self,
                Workload::Tpcb1
                    | Workload::Tpcb16
                    | Workload::SustainedMixed
                    | Workload::SustainedWorstSecond
                    | Workload::LatencyInsertP50
                    | Workload::LatencyInsertP99
                    | Workload::Recovery
            )
    }

    /// Whether the workload runs multi-statement transactions (only the
    /// systems that implement them take part).
    pub fn transactions(self) -> bool {
        matches!(self, Workload::Tpcb1 | Workload::Tpcb16)
    }

    /// Whether the workload writes (and so skips systems that refuse
    /// writes of that kind).
    pub fn writes(self) -> bool {
        matches!(
            self,
            Workload::Load
                | Workload::W1Single1
                | Workload::W1Single64
                | Workload::W2Batch1
                | Workload::W3Batch4
                | Workload::W3Batch32
        )
    }
}

/// How much work each run does.
#[derive(Clone, Debug, Serialize)]
pub struct Scale {
    /// Rows in `users` (and in `orders`).
    pub users: u64,
    /// Rows in `orders`.
    pub orders: u64,
    /// Rows each batch-insert run (W2, W3) writes.
    pub batch_rows: u64,
    /// Seconds each point-operation run lasts.
    pub seconds: f64,
    /// Seconds the sustained run lasts.
    pub sustained_seconds: f64,
    /// Seconds the latency run lasts.
    pub latency_seconds: f64,
    /// Runs of every timed workload per system.
    pub repeat: u32,
    /// Log bytes written before the `kill -9` of the recovery section.
    pub wal_bytes: u64,
}

/// Everything the workloads read: the loaded rows, the rows the batch
/// workloads write, and the answers.
pub struct Input<'a> {
    pub data: &'a Dataset,
    /// `batch_rows` fresh users, cut into 1000-row batches.
    pub batches: Vec<Vec<User>>,
    pub scale: &'a Scale,
    /// Commits and conflicts of every TPC-B-like run, for the notes.
    pub tpcb: Mutex<Vec<TpcbTally>>,
}

/// What one TPC-B-like run committed and retried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TpcbTally {
    pub workload: Workload,
    pub system: &'static str,
    /// Transactions committed (those counted in the figure, and any that
    /// finished after the clock stopped).
    pub commits: u64,
    /// Attempts that failed with a conflict and were run again.
    pub conflicts: u64,
}

/// One line per workload and system: the conflicts over all runs as a
/// share of the attempts.
pub fn tpcb_notes(tallies: &[TpcbTally]) -> Vec<String> {
    let mut sums: Vec<TpcbTally> = Vec::new();
    for t in tallies {
        match sums
            .iter_mut()
            .find(|s| s.workload == t.workload && s.system == t.system)
        {
            Some(s) => {
                s.commits += t.commits;
                s.conflicts += t.conflicts;
            }
            None => sums.push(t.clone()),
        }
    }
    sums.sort_by_key(|s| s.workload);
    let scale = format!(
        "TPC-B-like lines: pgbench's default transaction on {} branches, {} tellers and {} \
         accounts ({} per branch, a tenth of pgbench's 100 000, so that each run loads fresh \
         tables in about a second), history empty at the start; each run's tables are made \
         and filled before the clock starts and dropped after",
        tpcb::SCALE,
        tpcb::SCALE * tpcb::TELLERS_PER_BRANCH,
        tpcb::SCALE * tpcb::ACCOUNTS_PER_BRANCH,
        tpcb::ACCOUNTS_PER_BRANCH
    );
    let rates = sums.iter().map(|s| {
        let attempts = s.commits + s.conflicts;
        format!(
            "{} on {}: {} of {} attempts ({:.2}%) failed with a conflict and were \
                 retried with the same values until they committed",
            s.workload.key(),
            s.system,
            s.conflicts,
            attempts,
            100.0 * s.conflicts as f64 / attempts.max(1) as f64
        )
    });
    if sums.is_empty() {
        Vec::new()
    } else {
        std::iter::once(scale).chain(rates).collect()
    }
}

/// One run's figure, or what went wrong.
pub type Figure = Result<f64>;

/// Runs workload `w` once on `sys`; `run` numbers the repetition (for
/// scratch table names). Some workloads yield several lines at once
/// (sustained, latency): they are returned together, keyed by workload.
pub fn run_once(sys: &dyn System, w: Workload, run: u32, input: &Input) -> Vec<(Workload, Figure)> {
    let one = |f: Figure| vec![(w, f)];
    let secs = Duration::from_secs_f64(input.scale.seconds);
    let data = input.data;
    match w {
        Workload::Load | Workload::Recovery | Workload::DiskPerRow => {
            one(Err("measured apart from the timed workloads".into()))
        }
        Workload::W1Single1 | Workload::W1Single64 => {
            let clients = if w == Workload::W1Single1 { 1 } else { 64 };
            one(with_scratch(sys, "w1", run, |table| {
                timed(sys, clients, secs, |conn, client, i| {
                    let row = scratch_row(data, client, i);
                    conn.insert_users(table, std::slice::from_ref(&row))?;
                    Ok(1)
                })
            }))
        }
        Workload::W2Batch1 | Workload::W3Batch4 | Workload::W3Batch32 => {
            let clients = match w {
                Workload::W2Batch1 => 1,
                Workload::W3Batch4 => 4,
                _ => 32,
            };
            one(with_scratch(sys, "w23", run, |table| {
                let elapsed = each_item(sys, clients, input.batches.len(), |conn, b| {
                    conn.insert_users(table, &input.batches[b])
                })?;
                let rows: usize = input.batches.iter().map(Vec::len).sum();
                Ok(rows as f64 / elapsed.as_secs_f64())
            }))
        }
        Workload::W4Pk1 | Workload::W4Pk32 => {
            let clients = if w == Workload::W4Pk1 { 1 } else { 32 };
            one(timed(sys, clients, secs, |conn, client, i| {
                let id = probe(&data.probe_ids, client, i);
                expect_ids(&conn.user_by_id(id)?, &[id], "pk lookup")?;
                Ok(1)
            }))
        }
        Workload::W5Email => one(timed(sys, 1, secs, |conn, client, i| {
            let id = probe(&data.probe_ids, client, i);
            let user = data.user(id).ok_or("probe id outside the data")?;
            expect_ids(&conn.user_by_email(&user.email)?, &[id], "email lookup")?;
            Ok(1)
        })),
        Workload::W6Range => one(timed(sys, 1, secs, |conn, client, i| {
            let lo = probe(&data.probe_starts, client, i);
            let want: Vec<i64> = (lo..lo + RANGE_ROWS).collect();
            expect_ids(&conn.users_in_range(lo, lo + RANGE_ROWS)?, &want, "range")?;
            Ok(1)
        })),
        Workload::W7Top10 => one(once(sys, |conn| {
            let got = conn.top_balances(TOP_K)?;
            if got == data.truth.top_balances {
                Ok(())
            } else {
                Err(format!(
                    "top-10 balances {got:?}, expected {:?}",
                    data.truth.top_balances
                ))
            }
        })),
        Workload::W8JoinAggregate => one(once(sys, |conn| {
            let (n, sum) = conn.join_count_sum()?;
            let t = &data.truth;
            if n == t.join_count && sums_agree(sum, t.join_sum) {
                Ok(())
            } else {
                Err(format!(
                    "join gave count {n}, sum {sum}; expected {}, {}",
                    t.join_count, t.join_sum
                ))
            }
        })),
        Workload::W8JoinLimit => one(once(sys, |conn| {
            let n = conn.join_limit(TOP_K)?;
            let want = TOP_K.min(data.orders.len());
            if n == want {
                Ok(())
            } else {
                Err(format!("join with limit {TOP_K} gave {n} rows"))
            }
        })),
        Workload::W9Count => one(once(sys, |conn| {
            let n = conn.count_older(AGE_FILTER)?;
            if n == data.truth.older_than {
                Ok(())
            } else {
                Err(format!(
                    "count gave {n}, expected {}",
                    data.truth.older_than
                ))
            }
        })),
        Workload::W10GroupBy => one(once(sys, |conn| {
            let mut got = conn.groups_by_age()?;
            got.sort_by_key(|g| g.age);
            if groups_agree(&got, &data.truth.by_age) {
                Ok(())
            } else {
                Err(format!(
                    "group by gave {} groups, expected {} (or counts or averages differ)",
                    got.len(),
                    data.truth.by_age.len()
                ))
            }
        })),
        Workload::W11IdRange => one(once(sys, |conn| {
            let (lo, hi) = id_range(data.users.len() as u64);
            let n = conn.count_id_range(lo, hi)?;
            if n == data.truth.in_id_range {
                Ok(())
            } else {
                Err(format!(
                    "id range count gave {n}, expected {}",
                    data.truth.in_id_range
                ))
            }
        })),
        Workload::Tpcb1 | Workload::Tpcb16 => {
            let clients = if w == Workload::Tpcb1 { 1 } else { 16 };
            one(tpcb(sys, w, clients, run, input))
        }
        Workload::SustainedMixed | Workload::SustainedWorstSecond => sustained(sys, run, input),
        Workload::LatencyLookupP50
        | Workload::LatencyLookupP99
        | Workload::LatencyInsertP50
        | Workload::LatencyInsertP99 => latency(sys, run, input),
    }
}

/// Loads `users` and `orders` (creating them) from one client in
/// 1000-row batches; rows per second over both tables.
pub fn load(sys: &dyn System, data: &Dataset) -> Figure {
    let mut conn = sys.connect()?;
    conn.create_users("users")?;
    conn.create_orders("orders")?;
    let start = Instant::now();
    for batch in data.users.chunks(BATCH_ROWS) {
        conn.insert_users("users", batch)?;
    }
    for batch in data.orders.chunks(BATCH_ROWS) {
        conn.insert_orders("orders", batch)?;
    }
    let rows = data.users.len() + data.orders.len();
    Ok(rows as f64 / start.elapsed().as_secs_f64())
}

/// Runs `body` with a fresh scratch table `bench_<tag>_<run>`, dropping it
/// afterwards (also when `body` fails).
fn with_scratch(
    sys: &dyn System,
    tag: &str,
    run: u32,
    body: impl FnOnce(&str) -> Figure,
) -> Figure {
    let table = format!("bench_{tag}_{run}");
    let mut conn = sys.connect()?;
    conn.create_users(&table)?;
    let figure = body(&table);
    let dropped = conn.drop_table(&table);
    let figure = figure?;
    dropped.map(|()| figure)
}

/// Row `i` of client `client` in a scratch table: a loaded user's columns
/// under a fresh id.
fn scratch_row(data: &Dataset, client: usize, i: u64) -> User {
    let template = &data.users[(i as usize).wrapping_mul(7919) % data.users.len()];
    User {
        id: SCRATCH_ID_BASE + client as i64 * SCRATCH_IDS_PER_CLIENT + i as i64,
        ..template.clone()
    }
}

/// The `i`-th probe of client `client`: clients start at different points.
fn probe(probes: &[i64], client: usize, i: u64) -> i64 {
    probes[(client * 4099 + i as usize) % probes.len()]
}

fn expect_ids(got: &[i64], want: &[i64], what: &str) -> Result<()> {
    if got == want {
        Ok(())
    } else if got.len() != want.len() {
        Err(format!(
            "{what} returned {} rows, expected {}",
            got.len(),
            want.len()
        ))
    } else {
        Err(format!("{what} returned ids {got:?}, expected {want:?}"))
    }
}

/// Opens one connection per client (untimed), then runs `op` on each for
/// `dur`; the units `op` reports, per second.
fn timed(
    sys: &dyn System,
    clients: usize,
    dur: Duration,
    op: impl Fn(&mut dyn Conn, usize, u64) -> Result<u64> + Sync,
) -> Figure {
    let units = AtomicU64::new(0);
    let elapsed = drive(sys, clients, |conn, client, start, stop| {
        let mut i = 0u64;
        let mut done = 0u64;
        while !stop.load(Ordering::Relaxed) && start.elapsed() < dur {
            done += op(conn, client, i)?;
            i += 1;
        }
        units.fetch_add(done, Ordering::Relaxed);
        Ok(())
    })?;
    Ok(units.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64())
}

/// Opens one connection per client, then lets the clients take items
/// `0..items` from a shared counter and run `op` on each; the time until
/// the last finished.
fn each_item(
    sys: &dyn System,
    clients: usize,
    items: usize,
    op: impl Fn(&mut dyn Conn, usize) -> Result<()> + Sync,
) -> Result<Duration> {
    let next = AtomicUsize::new(0);
    drive(sys, clients, |conn, _, _, stop| {
        while !stop.load(Ordering::Relaxed) {
            let item = next.fetch_add(1, Ordering::Relaxed);
            if item >= items {
                break;
            }
            op(conn, item)?;
        }
        Ok(())
    })
}

/// Runs `body` once on one connection; milliseconds it took.
fn once(sys: &dyn System, body: impl FnOnce(&mut dyn Conn) -> Result<()>) -> Figure {
    let mut conn = sys.connect()?;
    let start = Instant::now();
    body(conn.as_mut())?;
    Ok(start.elapsed().as_secs_f64() * 1e3)
}

/// The client harness: connects `clients` connections, starts them
/// together and runs `body(conn, client, start, stop)` on each in its own
/// thread. The first error stops the others and is returned; otherwise
/// the time from the common start until the last client finished.
fn drive(
    sys: &dyn System,
    clients: usize,
    body: impl Fn(&mut dyn Conn, usize, Instant, &AtomicBool) -> Result<()> + Sync,
) -> Result<Duration> {
    let mut conns = Vec::with_capacity(clients);
    for _ in 0..clients {
        conns.push(sys.connect()?);
    }
    let stop = AtomicBool::new(false);
    let first_error: Mutex<Option<String>> = Mutex::new(None);
    let barrier = Barrier::new(clients + 1);
    let start = std::thread::scope(|s| {
        for (client, mut conn) in conns.into_iter().enumerate() {
            let (stop, first_error, barrier, body) = (&stop, &first_error, &barrier, &body);
            s.spawn(move || {
                barrier.wait();
                let start = Instant::now();
                if let Err(e) = body(conn.as_mut(), client, start, stop) {
                    stop.store(true, Ordering::Relaxed);
                    if let Ok(mut slot) = first_error.lock() {
                        slot.get_or_insert(e);
                    }
                }
            });
        }
        barrier.wait();
        Instant::now()
    });
    let elapsed = start.elapsed();
    match first_error.into_inner() {
        Ok(Some(e)) => Err(e),
        Ok(None) => Ok(elapsed),
        Err(_) => Err("a client thread panicked".into()),
    }
}

/// A TPC-B-like run: fresh tables `tpcbC_R_*` (C clients, run R) created
/// and filled before the clock starts, `clients` clients running
/// transactions for `seconds`, each conflicted transaction retried with the
/// same values until it commits; committed transactions per second. After
/// the clock the tables' sums must be those of the committed transactions;
/// the tables are dropped (also when the run fails).
fn tpcb(sys: &dyn System, w: Workload, clients: usize, run: u32, input: &Input) -> Figure {
    let prefix = format!("tpcb{clients}_{run}");
    let dur = Duration::from_secs_f64(input.scale.seconds);
    let mut admin = sys.connect()?;
    if let Err(e) = admin.tpcb_setup(&prefix) {
        // A half-made set of tables must not stay behind.
        let _ = admin.tpcb_drop(&prefix);
        return Err(e);
    }
    let commits = AtomicU64::new(0);
    let conflicts = AtomicU64::new(0);
    let deltas = AtomicI64::new(0);
    let figure = timed(sys, clients, dur, |conn, client, i| {
        let tx = TpcbTx::generate(client, i, unix_micros());
        for _ in 0..tpcb::MAX_TRIES {
            match conn.tpcb_transaction(&prefix, &tx)? {
                TpcbOutcome::Committed(_balance) => {
                    commits.fetch_add(1, Ordering::Relaxed);
                    deltas.fetch_add(tx.delta, Ordering::Relaxed);
                    return Ok(1);
                }
                TpcbOutcome::Conflict => {
                    conflicts.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        Err(format!(
            "a transaction conflicted {} times in a row",
            tpcb::MAX_TRIES
        ))
    });
    let (commits, conflicts) = (commits.into_inner(), conflicts.into_inner());
    let checked = figure.and_then(|f| {
        admin
            .tpcb_totals(&prefix)?
            .check(commits, deltas.into_inner())?;
        Ok(f)
    });
    if let Ok(mut tallies) = input.tpcb.lock() {
        tallies.push(TpcbTally {
            workload: w,
            system: sys.name(),
            commits,
            conflicts,
        });
    }
    let dropped = admin.tpcb_drop(&prefix);
    let figure = checked?;
    dropped.map(|()| figure)
}

/// Microseconds since the Unix epoch (0 if the clock is before it).
fn unix_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// The sustained mixed load: `SUSTAINED_CLIENTS` clients, 80% pk lookups
/// and 20% single-row inserts into a scratch table; the mean rate and the
/// worst whole second.
fn sustained(sys: &dyn System, run: u32, input: &Input) -> Vec<(Workload, Figure)> {
    let dur = Duration::from_secs_f64(input.scale.sustained_seconds);
    let whole_seconds = dur.as_secs() as usize;
    let windows: Vec<AtomicU64> = (0..=whole_seconds).map(|_| AtomicU64::new(0)).collect();
    let data = input.data;
    let mean = with_scratch(sys, "mixed", run, |table| {
        let elapsed = drive(sys, SUSTAINED_CLIENTS, |conn, client, start, stop| {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) && start.elapsed() < dur {
                if i % 10 < MIXED_READ_TENTHS {
                    let id = probe(&data.probe_ids, client, i);
                    expect_ids(&conn.user_by_id(id)?, &[id], "pk lookup")?;
                } else {
                    let row = scratch_row(data, client, i);
                    conn.insert_users(table, std::slice::from_ref(&row))?;
                }
                if let Some(w) = windows.get(start.elapsed().as_secs() as usize) {
                    w.fetch_add(1, Ordering::Relaxed);
                }
                i += 1;
            }
            Ok(())
        })?;
        let ops: u64 = windows.iter().map(|w| w.load(Ordering::Relaxed)).sum();
        Ok(ops as f64 / elapsed.as_secs_f64())
    });
    // Only whole seconds count; a run shorter than a second has none, and
    // its worst window is its mean.
    let worst = mean.clone().map(|m| {
        windows[..whole_seconds]
            .iter()
            .map(|w| w.load(Ordering::Relaxed) as f64)
            .reduce(f64::min)
            .unwrap_or(m)
    });
    vec![
        (Workload::SustainedMixed, mean),
        (Workload::SustainedWorstSecond, worst),
    ]
}

/// The latency section: `LATENCY_CLIENTS` clients alternating pk lookups
/// and single-row inserts for `latency_seconds`; p50 and p99 of each, ms.
fn latency(sys: &dyn System, run: u32, input: &Input) -> Vec<(Workload, Figure)> {
    let dur = Duration::from_secs_f64(input.scale.latency_seconds);
    let data = input.data;
    let lookups = Mutex::new(Vec::<u32>::new());
    let inserts = Mutex::new(Vec::<u32>::new());
    let outcome = with_scratch(sys, "latency", run, |table| {
        timed(sys, LATENCY_CLIENTS, dur, |conn, client, i| {
            let t = Instant::now();
            let into = if i % 2 == 0 {
                let id = probe(&data.probe_ids, client, i);
                expect_ids(&conn.user_by_id(id)?, &[id], "pk lookup")?;
                &lookups
            } else {
                let row = scratch_row(data, client, i);
                conn.insert_users(table, std::slice::from_ref(&row))?;
                &inserts
            };
            let micros = u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX);
            if let Ok(mut v) = into.lock() {
                v.push(micros);
            }
            Ok(1)
        })
    });
    let pct = |v: &Mutex<Vec<u32>>, q: f64| -> Figure {
        outcome.clone()?;
        let mut v = v.lock().map_err(|_| "latency samples lost")?.clone();
        percentile_ms(&mut v, q).ok_or_else(|| "no samples".to_string())
    };
    vec![
        (Workload::LatencyLookupP50, pct(&lookups, 0.50)),
        (Workload::LatencyLookupP99, pct(&lookups, 0.99)),
        (Workload::LatencyInsertP50, pct(&inserts, 0.50)),
        (Workload::LatencyInsertP99, pct(&inserts, 0.99)),
    ]
}

/// The `q` quantile (nearest rank) of microsecond samples, in ms.
fn percentile_ms(samples: &mut [u32], q: f64) -> Option<f64> {
    samples.sort_unstable();
    crate::report::stats::nearest_rank(samples, q).map(|us| f64::from(us) / 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_json_names() {
        for w in Workload::ALL {
            let json = serde_json::to_value(w).expect("serialise");
            assert_eq!(json.as_str(), Some(w.key()), "{w:?}");
        }
    }

    #[test]
    fn every_follower_is_led_by_a_timed_leader() {
        for w in Workload::timed() {
            assert!(w.leader().leads(), "{w:?}");
            assert!(Workload::timed().any(|t| t == w.leader()), "{w:?}");
        }
    }

    #[test]
    fn tpcb_lines_run_after_w11_and_before_the_sustained_section() {
        let at = |w| Workload::ALL.iter().position(|x| *x == w);
        assert_eq!(at(Workload::Tpcb1), at(Workload::W11IdRange).map(|i| i + 1));
        assert_eq!(at(Workload::Tpcb16), at(Workload::Tpcb1).map(|i| i + 1));
        assert_eq!(
            at(Workload::SustainedMixed),
            at(Workload::Tpcb16).map(|i| i + 1)
        );
        for w in [Workload::Tpcb1, Workload::Tpcb16] {
            assert_eq!(w.unit(), Unit::OpsPerSec);
            assert!(w.durability_matters() && w.transactions() && w.leads());
            // Not a write workload: the systems settle before them as
            // before the other point workloads that follow the writes.
            assert!(!w.writes() && !w.warms_up());
            assert!(Workload::timed().any(|t| t == w));
        }
        let only: Vec<Workload> = Workload::ALL
            .into_iter()
            .filter(|w| w.transactions())
            .collect();
        assert_eq!(only, [Workload::Tpcb1, Workload::Tpcb16]);
    }

    #[test]
    fn a_tpcb_run_commits_checks_the_totals_tallies_and_drops_its_tables() {
        let dir = tempfile::tempdir().unwrap();
        let sys = super::super::fasty::Embedded::open(
            "fasty-embedded",
            dir.path(),
            crate::http::Mode::Memory,
        )
        .unwrap();
        let data = Dataset::new(MIN_ROWS, MIN_ROWS, 1);
        let scale = Scale {
            users: MIN_ROWS,
            orders: MIN_ROWS,
            batch_rows: 0,
            seconds: 0.3,
            sustained_seconds: 0.3,
            latency_seconds: 0.3,
            repeat: 1,
            wal_bytes: 0,
        };
        let input = Input {
            data: &data,
            batches: Vec::new(),
            scale: &scale,
            tpcb: Default::default(),
        };
        // Twice with the same run number: the first run's tables are gone.
        for _ in 0..2 {
            let lines = run_once(&sys, Workload::Tpcb16, 1, &input);
            let [(line, figure)] = lines.as_slice() else {
                panic!("{lines:?}")
            };
            assert_eq!(*line, Workload::Tpcb16);
            assert!(figure.as_ref().is_ok_and(|x| *x > 0.0), "{figure:?}");
        }
        let tallies = input.tpcb.lock().unwrap().clone();
        assert_eq!(tallies.len(), 2);
        assert!(
            tallies
                .iter()
                .all(|t| t.system == "fasty-embedded" && t.commits > 0)
        );
        let notes = tpcb_notes(&tallies);
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("160000 accounts"), "{notes:?}");
        assert!(
            notes[1].starts_with("tpcb-16 on fasty-embedded: "),
            "{notes:?}"
        );
        Box::new(sys).stop().unwrap();
    }

    #[test]
    fn tpcb_notes_sum_the_runs_of_each_line_and_system() {
        let t = |workload, system, commits, conflicts| TpcbTally {
            workload,
            system,
            commits,
            conflicts,
        };
        let notes = tpcb_notes(&[
            t(Workload::Tpcb16, "fasty", 900, 60),
            t(Workload::Tpcb1, "fasty", 500, 0),
            t(Workload::Tpcb16, "fasty", 1000, 40),
            t(Workload::Tpcb16, "postgres", 700, 0),
        ]);
        assert_eq!(notes.len(), 4, "{notes:?}");
        assert!(notes[1].starts_with("tpcb-1 on fasty: 0 of 500 attempts (0.00%)"));
        assert!(notes[2].starts_with("tpcb-16 on fasty: 100 of 2000 attempts (5.00%)"));
        assert!(notes[3].starts_with("tpcb-16 on postgres: 0 of 700"));
        assert!(tpcb_notes(&[]).is_empty());
    }

    #[test]
    fn percentiles_are_nearest_rank_in_ms() {
        let mut v: Vec<u32> = (1..=100).rev().map(|x| x * 1000).collect();
        assert_eq!(percentile_ms(&mut v, 0.5), Some(50.0));
        assert_eq!(percentile_ms(&mut v, 0.99), Some(99.0));
        assert_eq!(percentile_ms(&mut v, 1.0), Some(100.0));
        assert_eq!(percentile_ms(&mut [], 0.5), None);
    }
}
