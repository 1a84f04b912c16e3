//! The timed part of the `query` benchmark. Every system loads both tables
//! (one system after the other), lets background work settle, then each
//! line runs on every system back to back: the lookup lines for a fixed
//! time each, the heavy queries `--repeat` times with the systems
//! alternating. Every answer is checked against the generated data; a
//! wrong answer or an error ends that line for that system and is
//! reported in its cell, the other lines go on.

use std::time::{Duration, Instant};

use fasty_query::Value;

use super::data::{AGE_FILTER, Dataset, RANGE_ROWS, TOP_K, User, sums_agree};
use super::report::{Line, Report};
use super::{Args, QueryDb, Row};

/// Rows per insert batch.
pub const BATCH_ROWS: usize = 1000;

/// What one system did on one line.
#[derive(Clone, Debug)]
pub enum Measure {
    /// `ops` statements (or rows, for the loads) in `elapsed`.
    Rate { ops: u64, elapsed: Duration },
    /// The duration of each timed run.
    Times(Vec<Duration>),
}

/// A measurement, or why there is none.
pub type Cell = std::result::Result<Measure, String>;

/// Runs every line on every system and records the cells in `report`.
pub fn run_all(systems: &mut [Box<dyn QueryDb>], data: &Dataset, args: &Args, report: &mut Report) {
    let mut loaded: Vec<Result<(), String>> = Vec::new();
    let mut users = Vec::new();
    let mut orders = Vec::new();
    for s in systems.iter_mut() {
        let (u, o) = load(s.as_mut(), data);
        loaded.push(match (&u, &o) {
            (Ok(_), Ok(_)) => Ok(()),
            (Err(e), _) | (_, Err(e)) => Err(format!("not run: the load failed ({e})")),
        });
        users.push(u);
        orders.push(o);
    }
    report.record(Line::InsertUsers, users);
    report.record(Line::InsertOrders, orders);
    for (s, ok) in systems.iter_mut().zip(&loaded) {
        if ok.is_ok() {
            eprintln!("[{}] waiting for background work", s.name());
            match s.settle() {
                Ok(Some(note)) => report.note(note),
                Ok(None) => {}
                Err(e) => report.note(format!("{}: settling failed: {e}", s.name())),
            }
        }
    }

    let run = Duration::from_secs_f64(args.seconds);
    let wanted = |line: Line| args.lines.contains(&line.index());
    for line in [Line::PkLookup, Line::EmailLookup, Line::PkRange] {
        if !wanted(line) {
            continue;
        }
        let mut cells = Vec::new();
        for (s, ok) in systems.iter_mut().zip(&loaded) {
            let cell = match ok {
                Err(e) => Err(e.clone()),
                Ok(()) => {
                    eprintln!("[{}] {}", s.name(), line.label());
                    rate(run, |i| lookup(line, s.as_mut(), data, i))
                }
            };
            cells.push(cell);
        }
        report.record(line, cells);
    }

    for line in [Line::TopK, Line::Join, Line::Count] {
        if !wanted(line) {
            continue;
        }
        let mut cells: Vec<Cell> = loaded
            .iter()
            .map(|ok| ok.clone().map(|()| Measure::Times(Vec::new())))
            .collect();
        for (s, cell) in systems.iter_mut().zip(cells.iter_mut()) {
            if cell.is_ok() {
                eprintln!("[{}] {} (warm-up)", s.name(), line.label());
                if let Err(e) = heavy(line, s.as_mut(), data) {
                    *cell = Err(e);
                }
            }
        }
        for round in 0..args.repeat {
            for (s, cell) in systems.iter_mut().zip(cells.iter_mut()) {
                let Ok(Measure::Times(times)) = cell else {
                    continue;
                };
                eprintln!(
                    "[{} {}/{}] {}",
                    s.name(),
                    round + 1,
                    args.repeat,
                    line.label()
                );
                match heavy(line, s.as_mut(), data) {
                    Ok(t) => times.push(t),
                    Err(e) => *cell = Err(e),
                }
            }
        }
        report.record(line, cells);
    }
    for s in systems.iter() {
        if let Some(note) = s.state() {
            report.note(note);
        }
    }
}

/// Creates the schema and loads `users`, then `orders`, in batches of
/// [`BATCH_ROWS`]; each table's cell is its whole load.
fn load(s: &mut dyn QueryDb, data: &Dataset) -> (Cell, Cell) {
    eprintln!("[{}] creating the schema", s.name());
    if let Err(e) = s.create_schema() {
        let e = format!("create schema: {e}");
        return (Err(e.clone()), Err(e));
    }
    eprintln!("[{}] loading {} users", s.name(), data.users.len());
    let start = Instant::now();
    for chunk in data.users.chunks(BATCH_ROWS) {
        if let Err(e) = s.insert_users(chunk) {
            let e = format!("insert users {}..: {e}", chunk[0].id);
            return (Err(e.clone()), Err(e));
        }
    }
    let users = Ok(Measure::Rate {
        ops: data.users.len() as u64,
        elapsed: start.elapsed(),
    });
    eprintln!("[{}] loading {} orders", s.name(), data.orders.len());
    let start = Instant::now();
    for chunk in data.orders.chunks(BATCH_ROWS) {
        if let Err(e) = s.insert_orders(chunk) {
            return (users, Err(format!("insert orders {}..: {e}", chunk[0].id)));
        }
    }
    let orders = Ok(Measure::Rate {
        ops: data.orders.len() as u64,
        elapsed: start.elapsed(),
    });
    (users, orders)
}

/// Runs `op(0)`, `op(1)`, … for `run`; the first failure is the cell.
fn rate(run: Duration, mut op: impl FnMut(usize) -> Result<(), String>) -> Cell {
    // A short untimed warm-up: the first statements pay for cold caches.
    for i in 0..64 {
        op(i)?;
    }
    let start = Instant::now();
    let mut n = 0;
    loop {
        for _ in 0..16 {
            op(n)?;
            n += 1;
        }
        let elapsed = start.elapsed();
        if elapsed >= run {
            return Ok(Measure::Rate {
                ops: n as u64,
                elapsed,
            });
        }
    }
}

/// The `i`-th statement of a lookup line, with its answer checked.
fn lookup(line: Line, s: &mut dyn QueryDb, data: &Dataset, i: usize) -> Result<(), String> {
    let id = data.probe_ids[i % data.probe_ids.len()];
    match line {
        Line::PkLookup => {
            let rows = s.user_by_id(id).map_err(|e| e.to_string())?;
            check_rows(&rows, data, &[id], &format!("id = {id}"))
        }
        Line::EmailLookup => {
            let email = data.user(id).map_or("", |u| u.email.as_str());
            let rows = s.user_by_email(email).map_err(|e| e.to_string())?;
            check_rows(&rows, data, &[id], &format!("email = {email:?}"))
        }
        Line::PkRange => {
            let lo = data.probe_starts[i % data.probe_starts.len()];
            let hi = lo + RANGE_ROWS;
            let rows = s.users_in_range(lo, hi).map_err(|e| e.to_string())?;
            let want: Vec<i64> = (lo..hi.min(data.users.len() as i64 + 1)).collect();
            check_rows(&rows, data, &want, &format!("id >= {lo} and id < {hi}"))
        }
        _ => Err(format!("{} is not a lookup line", line.label())),
    }
}

/// One timed run of a heavy query; the answer is checked after the clock
/// stops.
fn heavy(line: Line, s: &mut dyn QueryDb, data: &Dataset) -> Result<Duration, String> {
    let t = &data.truth;
    let start = Instant::now();
    match line {
        Line::TopK => {
            let rows = s.top_by_balance(TOP_K).map_err(|e| e.to_string())?;
            let elapsed = start.elapsed();
            let balances: Vec<f64> = rows
                .iter()
                .map(|r| match r.get(4) {
                    Some(Value::Float(b)) => *b,
                    _ => f64::NAN,
                })
                .collect();
            if balances != t.top_balances {
                return Err(format!(
                    "wrong top-{TOP_K} balances: got {balances:?}, want {:?}",
                    t.top_balances
                ));
            }
            let ids: Vec<i64> = rows.iter().filter_map(|r| int(r.first())).collect();
            check_rows(&rows, data, &ids, "top-k")?;
            Ok(elapsed)
        }
        Line::Join => {
            let (n, sum) = s.join_count_sum().map_err(|e| e.to_string())?;
            let elapsed = start.elapsed();
            if n != t.join_count || !sums_agree(sum, t.join_sum) {
                return Err(format!(
                    "wrong join aggregate: got count {n}, sum {sum}; want {}, {}",
                    t.join_count, t.join_sum
                ));
            }
            Ok(elapsed)
        }
        Line::Count => {
            let n = s.count_older(AGE_FILTER).map_err(|e| e.to_string())?;
            let elapsed = start.elapsed();
            if n != t.older_than {
                return Err(format!(
                    "wrong count(*) where age > {AGE_FILTER}: got {n}, want {}",
                    t.older_than
                ));
            }
            Ok(elapsed)
        }
        _ => Err(format!("{} is not a timed query", line.label())),
    }
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v {
        Some(Value::Int(i)) => Some(*i),
        _ => None,
    }
}

/// Checks that `rows` are exactly the users `ids`, in that order, with
/// every column as generated.
fn check_rows(rows: &[Row], data: &Dataset, ids: &[i64], what: &str) -> Result<(), String> {
    if rows.len() != ids.len() {
        return Err(format!(
            "{what}: got {} rows, want {}",
            rows.len(),
            ids.len()
        ));
    }
    for (row, &id) in rows.iter().zip(ids) {
        let ok = data.user(id).is_some_and(|u| row_is(row, u));
        if !ok {
            return Err(format!("{what}: got row {row:?}, want user {id}"));
        }
    }
    Ok(())
}

/// Whether `row` holds exactly `u`'s columns, without allocating.
fn row_is(row: &[Value], u: &User) -> bool {
    matches!(row,
        [Value::Int(id), Value::String(name), Value::String(email), Value::Int(age),
         Value::Float(balance), Value::Bool(active)]
        if *id == u.id && *name == u.name && *email == u.email && *age == u.age
            && *balance == u.balance && *active == u.active)
}
