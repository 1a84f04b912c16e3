//! The load loops: `conns` keep-alive connections, one task each, sending
//! pre-built requests and timing every one.
//!
//! - [`closed_loop`]: each connection sends its next request as soon as
//!   the previous answer is in (throughput at saturation);
//! - [`paced`]: requests are scheduled at a fixed rate (open loop), and a
//!   request that starts late because its connection was still busy is
//!   timed from when it should have started (no coordinated omission);
//! - [`mixed`]: closed loop over two pools, one insert every `every` ops.
//!
//! Requests come from a shared [`Pool`]: taken in order, once each (a load)
//! or round and round (lookups). A section ends when its time is up or a
//! once-only pool is used up.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::bodies::{Req, check};
use super::client::{Conn, Target};
use super::latency::Latencies;

/// How long one request may take before it counts as failed (and its
/// connection is replaced): a hung server must not hang the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Requests shared by a section's connections.
pub struct Pool {
    reqs: Vec<Req>,
    cycle: bool,
    next: AtomicUsize,
}

impl Pool {
    /// Each request once, in order.
    pub fn once(reqs: Vec<Req>) -> Arc<Pool> {
        Arc::new(Pool {
            reqs,
            cycle: false,
            next: AtomicUsize::new(0),
        })
    }

    /// The requests round and round until the time is up.
    pub fn cycle(reqs: Vec<Req>) -> Arc<Pool> {
        Arc::new(Pool {
            reqs,
            cycle: true,
            next: AtomicUsize::new(0),
        })
    }

    /// The index of the next request, `None` when a once-only pool is
    /// used up.
    fn take(&self) -> Option<usize> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        match (self.cycle, self.reqs.len()) {
            (_, 0) => None,
            (true, n) => Some(i % n),
            (false, n) => (i < n).then_some(i),
        }
    }

    /// How many requests were taken (each of them was sent): a prefix of
    /// a once-only pool.
    pub fn taken(&self) -> usize {
        let n = self.next.load(Ordering::Relaxed);
        if self.cycle {
            n
        } else {
            n.min(self.reqs.len())
        }
    }

    /// The requests.
    pub fn reqs(&self) -> &[Req] {
        &self.reqs
    }
}

/// What a section's connections did, together.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Requests answered correctly.
    pub ok: u64,
    /// Rows those requests inserted.
    pub rows: u64,
    /// Of `ok`, the requests that came from the insert pool of a mixed run.
    pub inserts: u64,
    /// Requests that failed or were answered wrongly.
    pub errors: u64,
    /// The first few distinct error messages.
    pub messages: Vec<String>,
    /// From the first request to the last answer.
    pub elapsed: Duration,
    /// Latency of every request (failed ones too).
    pub latencies: Latencies,
    /// Connections opened, including reconnects.
    pub connects: u64,
}

impl Outcome {
    fn error(&mut self, msg: String) {
        self.errors += 1;
        if self.messages.len() < 3 && !self.messages.contains(&msg) {
            self.messages.push(msg);
        }
    }

    fn merge(&mut self, o: Outcome) {
        self.ok += o.ok;
        self.rows += o.rows;
        self.inserts += o.inserts;
        self.connects += o.connects;
        self.errors += o.errors;
        for m in o.messages {
            if self.messages.len() < 3 && !self.messages.contains(&m) {
                self.messages.push(m);
            }
        }
        self.latencies.merge(o.latencies);
    }

    /// Requests (correct or not) per second.
    pub fn requests_per_sec(&self) -> f64 {
        (self.ok + self.errors) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// How a connection spends the section.
#[derive(Clone, Copy)]
enum Pace {
    /// Next request as soon as the answer is in.
    Closed,
    /// Request `k` (over all connections) at `start + k / rate`.
    Rate(f64),
    /// Closed loop; every `n`-th request of a connection from the second
    /// pool (inserts), while it lasts.
    Mixed(usize),
}

/// Runs `pool` on `conns` connections, closed loop, for at most `limit`.
pub async fn closed_loop(
    target: &Target,
    conns: usize,
    pool: Arc<Pool>,
    limit: Duration,
) -> Outcome {
    run(target, conns, pool, None, Pace::Closed, limit).await
}

/// Runs `pool` at `rate` requests per second over `conns` connections for
/// at most `limit`.
pub async fn paced(
    target: &Target,
    conns: usize,
    pool: Arc<Pool>,
    rate: f64,
    limit: Duration,
) -> Outcome {
    run(target, conns, pool, None, Pace::Rate(rate), limit).await
}

/// Runs `lookups` on `conns` connections, closed loop, with every
/// `every`-th request of a connection taken from `inserts` instead while
/// it lasts, for `limit`.
pub async fn mixed(
    target: &Target,
    conns: usize,
    lookups: Arc<Pool>,
    inserts: Arc<Pool>,
    every: usize,
    limit: Duration,
) -> Outcome {
    run(
        target,
        conns,
        lookups,
        Some(inserts),
        Pace::Mixed(every.max(1)),
        limit,
    )
    .await
}

async fn run(
    target: &Target,
    conns: usize,
    pool: Arc<Pool>,
    second: Option<Arc<Pool>>,
    pace: Pace,
    limit: Duration,
) -> Outcome {
    let mut total = Outcome::default();
    // Connect everyone before the clock starts.
    let mut opened = Vec::with_capacity(conns);
    for _ in 0..conns.max(1) {
        match Conn::connect(target).await {
            Ok(c) => opened.push(c),
            Err(e) => total.error(e),
        }
    }
    total.connects = opened.len() as u64;
    if opened.is_empty() {
        return total;
    }
    let start = Instant::now();
    let deadline = start + limit;
    let ticket = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::with_capacity(opened.len());
    for conn in opened {
        let (pool, second, ticket, target) =
            (pool.clone(), second.clone(), ticket.clone(), target.clone());
        tasks.push(tokio::spawn(async move {
            connection(
                conn,
                &target,
                &pool,
                second.as_deref(),
                &ticket,
                pace,
                start,
                deadline,
            )
            .await
        }));
    }
    for t in tasks {
        match t.await {
            Ok(o) => total.merge(o),
            Err(e) => total.error(format!("load task: {e}")),
        }
    }
    total.elapsed = start.elapsed();
    total.latencies.finish();
    total
}

/// One connection's loop.
#[allow(clippy::too_many_arguments)]
async fn connection(
    mut conn: Conn,
    target: &Target,
    pool: &Pool,
    second: Option<&Pool>,
    ticket: &AtomicUsize,
    pace: Pace,
    start: Instant,
    deadline: Instant,
) -> Outcome {
    let mut out = Outcome {
        latencies: Latencies::with_capacity(1 << 12),
        ..Outcome::default()
    };
    let mut mine: usize = 0;
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        // Which request, and from when it is timed.
        let (req, from_second, t0) = match pace {
            Pace::Closed => match pool.take() {
                Some(i) => (&pool.reqs[i], false, now),
                None => break,
            },
            Pace::Mixed(every) => {
                mine += 1;
                let from_inserts = mine.is_multiple_of(every);
                match second
                    .filter(|_| from_inserts)
                    .and_then(|p| p.take().map(|i| (p, i)))
                {
                    Some((p, i)) => (&p.reqs[i], true, now),
                    None => match pool.take() {
                        Some(i) => (&pool.reqs[i], false, now),
                        None => break,
                    },
                }
            }
            Pace::Rate(rate) => {
                let k = ticket.fetch_add(1, Ordering::Relaxed);
                let due = start + Duration::from_secs_f64(k as f64 / rate);
                if due >= deadline {
                    break;
                }
                let Some(i) = pool.take() else { break };
                let t0 = if now < due {
                    // On time: wait, then time from the actual send (timer
                    // granularity is the generator's, not the server's).
                    tokio::time::sleep_until(due.into()).await;
                    Instant::now()
                } else {
                    // Late because this connection was busy: the server's
                    // slowness, timed from when the request was due.
                    due
                };
                (&pool.reqs[i], false, t0)
            }
        };
        let result = match tokio::time::timeout(REQUEST_TIMEOUT, conn.query(req.body.clone())).await
        {
            Ok(r) => r,
            Err(_) => Err(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())),
        };
        out.latencies.record(t0.elapsed());
        match result {
            Ok((status, body)) => match check(status.as_u16(), &body, req.expect) {
                Ok(()) => {
                    out.ok += 1;
                    out.rows += req.rows;
                    out.inserts += u64::from(from_second);
                }
                Err(e) => out.error(e),
            },
            Err(e) => {
                out.error(e);
                // The connection may be gone: open a new one, or give up.
                match Conn::connect(target).await {
                    Ok(c) => {
                        conn = c;
                        out.connects += 1;
                    }
                    Err(e) => {
                        out.error(e);
                        break;
                    }
                }
            }
        }
    }
    out
}
