//! The sections of an `http` run, in order. The loads come first and the
//! rows they got acknowledged become the lookups' keys ([`Known`]); the
//! paced section runs at half the rate the 64-connection section reached;
//! each further mode gets a fresh in-process server for its ingest.
//!
//! Sections that the compare suite measures the same way on its `fasty`
//! system are not here (they were numbered 1, 4c, 5b, 6 and 9): single-row
//! inserts from one client (W1), 1000-row batches from one client (W2) and
//! from 32 (W3), primary-key lookups from 32 clients (W4) and top-10 (W7).
//! The numbering of the others is kept.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::runtime::Runtime;

use super::bodies::{self, Expect, Req};
use super::client::{Conn, Target};
use super::cpu::{Split, Usage};
use super::load::{self, Outcome, Pool};
use super::report::{Goal, Report, Section, Unit};
use super::server::InProcess;
use super::{Args, Mode, Plan};
use crate::data::{RANGE_ROWS, User, UserStream};

/// Lookup keys drawn from the loaded rows.
const PROBES: usize = 1 << 16;
/// Single-row inserts per lookup in the mixed section: one in `MIX_EVERY`.
const MIX_EVERY: usize = 5;

/// What the server is known to hold: rows of loads that finished without
/// an error (a load with errors may have left any subset, so its rows are
/// never probed).
struct Known {
    /// Id ranges `[lo, hi)` fully loaded, in id order.
    ranges: Vec<(i64, i64)>,
    /// A uniform sample (reservoir) of loaded `(id, email)`.
    sample: Vec<(i64, String)>,
    seen: u64,
    rng: StdRng,
}

impl Known {
    fn new(seed: u64) -> Known {
        Known {
            ranges: Vec::new(),
            sample: Vec::with_capacity(PROBES),
            seen: 0,
            rng: StdRng::seed_from_u64(seed ^ 0x6874_7470),
        }
    }

    /// Records rows the server acknowledged.
    fn add(&mut self, users: &[User]) {
        let (Some(first), Some(last)) = (users.first(), users.last()) else {
            return;
        };
        self.ranges.push((first.id, last.id + 1));
        for u in users {
            self.seen += 1;
            if self.sample.len() < PROBES {
                self.sample.push((u.id, u.email.clone()));
            } else {
                let j = self.rng.random_range(0..self.seen);
                if let Some(slot) = usize::try_from(j).ok().and_then(|j| self.sample.get_mut(j)) {
                    *slot = (u.id, u.email.clone());
                }
            }
        }
    }

    /// The range `[x, x + RANGE_ROWS)` around `id`, if its load range
    /// holds that many rows.
    fn range_at(&self, id: i64) -> Option<i64> {
        let &(lo, hi) = self
            .ranges
            .iter()
            .find(|(lo, hi)| (*lo..*hi).contains(&id))?;
        (hi - lo >= RANGE_ROWS).then(|| id.min(hi - RANGE_ROWS))
    }
}

/// One run against one server.
struct Run<'a> {
    rt: &'a Runtime,
    target: Target,
    table: String,
    users: UserStream,
    known: Known,
    limit: Duration,
    mode: Option<Mode>,
    report: &'a mut Report,
}

/// Runs every section and returns the report.
pub fn run_all(
    args: &Args,
    plan: &Plan,
    dir: Option<&Path>,
    rt: &Runtime,
) -> Result<Report, String> {
    let mut report = Report::new(plan);
    let first = plan.modes.first().copied().unwrap_or(Mode::Async);
    let (server, target) = connect(args, plan, dir, first)?;
    report.set_server(match &server {
        Some(s) => format!(
            "in-process fasty-server on {} ({} mode, {} async threads)",
            s.addr(),
            first.name(),
            plan.server_threads
        ),
        None => format!("external server at {}", args.url.as_deref().unwrap_or("?")),
    });
    let mut run = Run {
        rt,
        target,
        table: args.table.clone(),
        users: UserStream::new(args.seed),
        known: Known::new(args.seed),
        limit: Duration::from_secs_f64(plan.seconds),
        mode: server.as_ref().map(|_| first),
        report: &mut report,
    };
    run.health();
    run.schema();
    let rows = plan.rows as usize;

    // 2–3: single-row inserts (1, from one client, is compare's W1).
    let peak = run.insert(
        "2",
        "single-row insert",
        64,
        (rows / 2).max(1),
        1,
        Some(Goal::MinRate(100e3)),
    );
    run.paced(peak);

    // 4: batch sizes on one connection (4c, 1000 rows, is compare's W2).
    for (n, batch) in ["4a", "4b", "4d"].iter().zip([100, 500, 5000]) {
        run.insert(
            n,
            &format!("batch insert, {batch}-row batches"),
            1,
            (rows / 2).max(1),
            batch,
            None,
        );
    }
    // 5: parallel 1000-row batches, the ingest target in async mode (5b,
    // 32 connections, is compare's W3).
    let ingest_goal = (run.mode != Some(Mode::Durable) && run.mode != Some(Mode::Memory))
        .then_some(Goal::MinRate(2e6));
    for (n, conns) in ["5a", "5c"].iter().zip([10, 64]) {
        run.insert(
            n,
            "parallel 1000-row batches",
            conns,
            rows,
            1000,
            ingest_goal,
        );
    }

    // 7–8: queries over what was loaded (6, pk lookups, is compare's W4;
    // 9, top-10, its W7).
    run.lookups();

    // 10: inserts and lookups together.
    run.mixed(plan.mixed_seconds, peak);
    drop(run);
    if let Some(s) = server {
        s.stop()?;
    }

    // 11…: ingest in each further mode, on a fresh server.
    for (i, &mode) in plan.modes.iter().enumerate().skip(1) {
        let number = (10 + i).to_string();
        let label = format!(
            "parallel 1000-row batches, {} mode (fresh server)",
            mode.name()
        );
        let Some(base) = dir else {
            report.push(Section::skipped(
                &number,
                &label,
                64,
                Unit::Rows,
                "an external server (--url) cannot switch modes",
            ));
            continue;
        };
        let sub = base.join(format!("mode-{i}-{}", mode.name()));
        let server = InProcess::start(&sub, mode, plan.server_threads, None)?;
        let target = Target::new(server.addr(), None)?;
        let mut run = Run {
            rt,
            target,
            table: args.table.clone(),
            users: UserStream::new(args.seed),
            known: Known::new(args.seed),
            limit: Duration::from_secs_f64(plan.seconds),
            mode: Some(mode),
            report: &mut report,
        };
        run.schema();
        let goal = match mode {
            Mode::Durable => Some(Goal::MinRate(1e6)),
            Mode::Async => Some(Goal::MinRate(2e6)),
            Mode::Memory => None,
        };
        run.insert(&number, &label, 64, rows, 1000, goal);
        drop(run);
        server.stop()?;
    }
    report.finish();
    Ok(report)
}

/// Starts the in-process server (or not, with `--url`) and says where to
/// send requests.
fn connect(
    args: &Args,
    plan: &Plan,
    dir: Option<&Path>,
    mode: Mode,
) -> Result<(Option<InProcess>, Target), String> {
    match (&args.url, dir) {
        (Some(url), _) => Ok((None, Target::from_url(url, args.auth_token.as_deref())?)),
        (None, Some(base)) => {
            let server = InProcess::start(
                &base.join(format!("mode-0-{}", mode.name())),
                mode,
                plan.server_threads,
                None,
            )?;
            let target = Target::new(server.addr(), None)?;
            Ok((Some(server), target))
        }
        (None, None) => Err("no directory for the in-process server".into()),
    }
}

impl Run<'_> {
    /// Runs one load loop on the client runtime; its outcome and how the
    /// process's CPU time split while it ran.
    fn load(&self, f: impl Future<Output = Outcome>) -> (Outcome, Option<Split>) {
        let before = Usage::now();
        let outcome = self.rt.block_on(f);
        let after = Usage::now();
        let cpu = before
            .zip(after)
            .map(|(b, a)| b.split_until(&a, outcome.elapsed));
        (outcome, cpu)
    }

    /// `GET /health` once, a note if it fails.
    fn health(&mut self) {
        let target = self.target.clone();
        let r = self.rt.block_on(async move {
            let mut c = Conn::connect(&target).await?;
            c.request(hyper::Method::GET, "/health", None).await
        });
        match r {
            Ok((s, _)) if s.is_success() => {}
            Ok((s, body)) => self.report.note(format!(
                "GET /health answered {s}: {}",
                String::from_utf8_lossy(&body)
            )),
            Err(e) => self.report.note(format!("GET /health failed: {e}")),
        }
    }

    /// Creates the table and its email index; failures become notes (the
    /// sections then show the errors).
    fn schema(&mut self) {
        for stmt in bodies::schema(&self.table) {
            let req = bodies::query(&stmt, Expect::Success);
            let target = self.target.clone();
            let r = self.rt.block_on(async move {
                let mut c = Conn::connect(&target).await?;
                let (status, body) = c.query(req.body.clone()).await?;
                bodies::check(status.as_u16(), &body, req.expect)
            });
            if let Err(e) = r {
                self.report.note(format!("`{stmt}` failed: {e}"));
            }
        }
    }

    /// A load of `rows` fresh users in `batch`-row requests on `conns`
    /// connections; returns requests per second (0 on errors).
    fn insert(
        &mut self,
        number: &str,
        label: &str,
        conns: usize,
        rows: usize,
        batch: usize,
        goal: Option<Goal>,
    ) -> f64 {
        eprintln!("{number}: {label}, {conns} connection(s), up to {rows} rows");
        let users = self.users.take(rows);
        let pool = Pool::once(bodies::insert_batches(&self.table, &users, batch));
        let (outcome, cpu) = self.load(load::closed_loop(
            &self.target,
            conns,
            pool.clone(),
            self.limit,
        ));
        let acked: u64 = pool.reqs()[..pool.taken()].iter().map(|r| r.rows).sum();
        let clean = outcome.errors == 0;
        if clean {
            self.known
                .add(&users[..usize::try_from(acked).unwrap_or(0).min(users.len())]);
        }
        let rate = outcome.requests_per_sec();
        let note =
            (acked < rows as u64).then(|| format!("{acked} of {rows} rows sent in the time limit"));
        self.report.push(
            Section::ran(number, label, conns, Unit::Rows, goal, outcome, note).with_cpu(cpu),
        );
        if clean { rate } else { 0.0 }
    }

    /// Single-row inserts at half of `peak` requests per second.
    fn paced(&mut self, peak: f64) {
        let label = "single-row insert, paced at 50% of section 2's rate";
        if !(peak.is_finite() && peak > 0.0) {
            self.report.push(Section::skipped(
                "3",
                label,
                64,
                Unit::Rows,
                "section 2 measured no clean peak rate",
            ));
            return;
        }
        let rate = peak / 2.0;
        let n = (rate * self.limit.as_secs_f64()).ceil() as usize + 64;
        eprintln!("3: {label} ({rate:.0} rows/s)");
        let users = self.users.take(n);
        let pool = Pool::once(bodies::insert_batches(&self.table, &users, 1));
        let (outcome, cpu) = self.load(load::paced(
            &self.target,
            64,
            pool.clone(),
            rate,
            self.limit,
        ));
        if outcome.errors == 0 {
            let taken = pool.taken().min(users.len());
            self.known.add(&users[..taken]);
        }
        let note = Some(format!("scheduled at {rate:.0} requests/s"));
        self.report.push(
            Section::ran(
                "3",
                label,
                64,
                Unit::Rows,
                Some(Goal::MaxP99(Duration::from_millis(2))),
                outcome,
                note,
            )
            .with_cpu(cpu),
        );
    }

    /// Sections 7 and 8: email index lookups and primary-key ranges.
    fn lookups(&mut self) {
        let t = self.table.clone();
        let email: Vec<Req> = self
            .known
            .sample
            .iter()
            .map(|(id, email)| {
                bodies::query(
                    &format!("find {t} where email = {}", bodies::string_literal(email)),
                    Expect::Rows {
                        rows: 1,
                        first_id: Some(*id),
                    },
                )
            })
            .collect();
        let range: Vec<Req> = self
            .known
            .sample
            .iter()
            .filter_map(|(id, _)| self.known.range_at(*id))
            .map(|x| {
                bodies::query(
                    &format!("find {t} where id >= {x} and id < {}", x + RANGE_ROWS),
                    Expect::Rows {
                        rows: RANGE_ROWS as u64,
                        first_id: Some(x),
                    },
                )
            })
            .collect();
        self.query_section(
            "7",
            "email lookup `find users where email = E` (index)",
            32,
            email,
            Unit::Lookups,
            None,
        );
        self.query_section(
            "8",
            "pk range `find users where id >= X and id < X+100`",
            32,
            range,
            Unit::Ranges,
            None,
        );
    }

    /// A closed-loop query section over `reqs`, round and round.
    fn query_section(
        &mut self,
        number: &str,
        label: &str,
        conns: usize,
        reqs: Vec<Req>,
        unit: Unit,
        goal: Option<Goal>,
    ) {
        if reqs.is_empty() {
            self.report.push(Section::skipped(
                number,
                label,
                conns,
                unit,
                "no rows were loaded without errors",
            ));
            return;
        }
        eprintln!("{number}: {label}, {conns} connection(s)");
        let (outcome, cpu) = self.load(load::closed_loop(
            &self.target,
            conns,
            Pool::cycle(reqs),
            self.limit,
        ));
        self.report
            .push(Section::ran(number, label, conns, unit, goal, outcome, None).with_cpu(cpu));
    }

    /// Section 10: single-row inserts and pk lookups together for
    /// `seconds`; `rate` (requests/s) sizes the insert pool.
    fn mixed(&mut self, seconds: f64, rate: f64) {
        let label = "mixed: 1 single-row insert per 4 pk lookups";
        let lookups: Vec<Req> = self
            .known
            .sample
            .iter()
            .map(|(id, _)| {
                bodies::query(
                    &format!("find {} where id = {id}", self.table),
                    Expect::Rows {
                        rows: 1,
                        first_id: Some(*id),
                    },
                )
            })
            .collect();
        if lookups.is_empty() {
            self.report.push(Section::skipped(
                "10",
                label,
                32,
                Unit::Ops,
                "no rows were loaded without errors",
            ));
            return;
        }
        let want = (rate.max(1e3) * seconds * 1.5 / MIX_EVERY as f64).ceil() as usize;
        let n = want.clamp(1_000, 2_000_000);
        eprintln!("10: {label}, 32 connections, {seconds} s");
        let users = self.users.take(n);
        let inserts = Pool::once(bodies::insert_batches(&self.table, &users, 1));
        let (outcome, cpu) = self.load(load::mixed(
            &self.target,
            32,
            Pool::cycle(lookups),
            inserts.clone(),
            MIX_EVERY,
            Duration::from_secs_f64(seconds),
        ));
        let taken = inserts.taken();
        if outcome.errors == 0 {
            self.known.add(&users[..taken.min(users.len())]);
        }
        let secs = outcome.elapsed.as_secs_f64().max(1e-9);
        let mut note = format!(
            "{:.1} k inserts/s + {:.1} k lookups/s",
            outcome.inserts as f64 / secs / 1e3,
            (outcome.ok - outcome.inserts) as f64 / secs / 1e3
        );
        if taken >= users.len() {
            note += "; the insert pool ran out: lookups only after that";
        }
        self.report.push(
            Section::ran("10", label, 32, Unit::Ops, None, outcome, Some(note)).with_cpu(cpu),
        );
    }
}
