//! A statement's limits while it runs: its deadline, its cancel flag and
//! the memory its intermediate state holds. The executor's operators
//! count rows and held bytes in a [`Meter`] of their own and consult the
//! shared [`Limits`] once per chunk of rows (an `Instant::now()` and an
//! atomic add per chunk, nothing per row), so a statement stops within a
//! chunk of passing a limit, on every thread it runs on.
//!
//! This module owns the checks and the error messages; it does not know
//! where the limits come from (the caller's [`ExecOptions`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use crate::error::{Error, ErrorCode, Result};
use crate::value::Value;

/// Per-call switches and limits of [`crate::Database::execute_with`] and
/// [`crate::Database::run_into`]. The limits are checked inside every long
/// operator (scans, joins, sorts, aggregation, the result, the rows
/// `update` and `delete` change) once per chunk of about a thousand rows;
/// a statement stopped by one fails with its code and, if it writes,
/// changes nothing. Start from [`ExecOptions::default()`] and use the
/// builder methods, `with_<field>(value)` taking the field's type (the
/// struct is `#[non_exhaustive]`):
///
/// ```
/// use std::time::{Duration, Instant};
/// let opts = fasty_query::ExecOptions::default()
///     .with_deadline(Some(Instant::now() + Duration::from_secs(5)))
///     .with_memory_limit(Some(64 << 20));
/// # let _ = opts;
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExecOptions {
    /// Use primary-key and index access paths and lookup joins. `false`
    /// forces full scans and hash joins, which must give the same rows
    /// (tests compare the two). Default true.
    pub use_indexes: bool,
    /// Stop with `statement_timeout` once this instant has passed. Default
    /// none.
    pub deadline: Option<std::time::Instant>,
    /// Stop with `memory_limit` once the statement's intermediate state
    /// (hash tables, sort buffers, materialised results) passes this many
    /// bytes. Default none.
    pub memory_limit: Option<usize>,
    /// Stop with `cancelled` once this flag is set (the client hung up).
    /// Default none.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            use_indexes: true,
            deadline: None,
            memory_limit: None,
            cancel: None,
        }
    }
}

impl ExecOptions {
    /// Sets [`ExecOptions::use_indexes`].
    #[must_use]
    pub fn with_use_indexes(mut self, use_indexes: bool) -> ExecOptions {
        self.use_indexes = use_indexes;
        self
    }

    /// Sets [`ExecOptions::deadline`].
    #[must_use]
    pub fn with_deadline(mut self, deadline: Option<std::time::Instant>) -> ExecOptions {
        self.deadline = deadline;
        self
    }

    /// Sets [`ExecOptions::memory_limit`].
    #[must_use]
    pub fn with_memory_limit(mut self, memory_limit: Option<usize>) -> ExecOptions {
        self.memory_limit = memory_limit;
        self
    }

    /// Sets [`ExecOptions::cancel`].
    #[must_use]
    pub fn with_cancel(
        mut self,
        cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    ) -> ExecOptions {
        self.cancel = cancel;
        self
    }
}

/// Rows an operator handles between two checks of the limits.
pub(crate) const CHECK_ROWS: u32 = 1024;

/// Bytes an operator may hold before it reports them early (before
/// [`CHECK_ROWS`] rows), so that wide rows are accounted in time.
const CHECK_BYTES: usize = 256 * 1024;

/// One statement's limits, shared (by reference) by every operator and
/// thread that works on it.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    deadline: Option<Instant>,
    memory_limit: Option<usize>,
    cancel: Option<Arc<AtomicBool>>,
    /// Bytes of intermediate state reported so far.
    used: AtomicUsize,
}

impl Limits {
    /// The limits `opts` asks for.
    pub(crate) fn new(opts: &ExecOptions) -> Limits {
        Limits {
            deadline: opts.deadline,
            memory_limit: opts.memory_limit,
            cancel: opts.cancel.clone(),
            used: AtomicUsize::new(0),
        }
    }

    /// No limits at all.
    #[cfg(test)]
    pub(crate) fn none() -> Limits {
        Limits::default()
    }

    /// The memory limit, in bytes.
    pub(crate) fn memory_limit(&self) -> Option<usize> {
        self.memory_limit
    }

    /// Fails with `cancelled` once the cancel flag is set, or with
    /// `statement_timeout` once the deadline has passed.
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(c) = &self.cancel
            && c.load(Ordering::Relaxed)
        {
            return Err(Error::query(
                ErrorCode::Cancelled,
                "statement cancelled by its caller (the client went away or stopped it)",
            ));
        }
        if let Some(d) = self.deadline
            && Instant::now() >= d
        {
            return Err(Error::query(
                ErrorCode::StatementTimeout,
                "statement ran past its time limit (statement timeout); raise the limit or \
                 make the statement cheaper (a filter on a key or index, a limit)",
            ));
        }
        Ok(())
    }

    /// Records `bytes` more held by the statement; fails with
    /// `memory_limit` once the total passes the limit.
    pub(crate) fn hold(&self, bytes: usize) -> Result<()> {
        let Some(limit) = self.memory_limit else {
            return Ok(());
        };
        let before = self.used.fetch_add(bytes, Ordering::Relaxed);
        if before.saturating_add(bytes) > limit {
            return Err(Error::query(
                ErrorCode::MemoryLimit,
                format!(
                    "statement used more than {} of memory (memory limit); raise the limit or \
                     make the statement hold less (a filter, a limit, fewer columns or groups)",
                    show_bytes(limit)
                ),
            ));
        }
        Ok(())
    }

    /// Records that `bytes` reported earlier are no longer held (a buffer
    /// handed on to the result).
    pub(crate) fn release(&self, bytes: usize) {
        if self.memory_limit.is_some() && bytes > 0 {
            let _ = self
                .used
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                    Some(u.saturating_sub(bytes))
                });
        }
    }

    /// Both checks: the bytes held, then time and cancellation.
    pub(crate) fn report(&self, bytes: usize) -> Result<()> {
        if bytes > 0 {
            self.hold(bytes)?;
        }
        self.check()
    }
}

/// `n` bytes for a message: `256 MiB`, `1.5 GiB`, `64 KiB`, `100 bytes`.
fn show_bytes(n: usize) -> String {
    const UNITS: [(&str, usize); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (name, size) in UNITS {
        if n >= size {
            return if n.is_multiple_of(size) {
                format!("{} {name}", n / size)
            } else {
                format!("{:.1} {name}", n as f64 / size as f64)
            };
        }
    }
    format!("{n} bytes")
}

/// One operator's running count of rows handled and bytes held since it
/// last consulted the [`Limits`].
pub(crate) struct Meter<'l> {
    limits: &'l Limits,
    rows: u32,
    /// Bytes counted, not yet reported.
    bytes: usize,
    /// Bytes reported so far.
    held: usize,
}

impl<'l> Meter<'l> {
    pub(crate) fn new(limits: &'l Limits) -> Meter<'l> {
        Meter {
            limits,
            rows: 0,
            bytes: 0,
            held: 0,
        }
    }

    /// The limits this meter reports to.
    pub(crate) fn limits(&self) -> &'l Limits {
        self.limits
    }

    /// One row of work done; every [`CHECK_ROWS`] rows the limits are
    /// consulted.
    #[inline]
    pub(crate) fn tick(&mut self) -> Result<()> {
        self.rows += 1;
        if self.rows >= CHECK_ROWS {
            return self.flush();
        }
        Ok(())
    }

    /// One row of work done that keeps `bytes` more in memory.
    #[inline]
    pub(crate) fn tick_holding(&mut self, bytes: usize) -> Result<()> {
        self.bytes += bytes;
        self.rows += 1;
        if self.rows >= CHECK_ROWS || self.bytes >= CHECK_BYTES {
            return self.flush();
        }
        Ok(())
    }

    /// Reports what was counted and consults the limits now.
    pub(crate) fn flush(&mut self) -> Result<()> {
        let bytes = std::mem::take(&mut self.bytes);
        self.rows = 0;
        self.held += bytes;
        self.limits.report(bytes)
    }

    /// Takes over what `other` counted (a merged partition's buffer).
    pub(crate) fn absorb(&mut self, mut other: Meter<'_>) -> Result<()> {
        other.flush()?;
        self.held += other.held;
        Ok(())
    }

    /// Reports what is pending, then gives back everything this meter
    /// reported: its operator hands its buffer on (to the result, which
    /// counts it again if it keeps it).
    pub(crate) fn release_all(&mut self) -> Result<()> {
        self.flush()?;
        self.limits.release(std::mem::take(&mut self.held));
        Ok(())
    }
}

/// A cheap estimate of the bytes a row of values holds: the values
/// themselves, their strings and json, and the row's own vector.
#[inline]
pub(crate) fn row_bytes(row: &[Value]) -> usize {
    let mut n = size_of::<Vec<Value>>() + std::mem::size_of_val(row);
    for v in row {
        n += value_heap(v);
    }
    n
}

/// The bytes a value holds outside itself (a rough figure for json).
#[inline]
pub(crate) fn value_heap(v: &Value) -> usize {
    match v {
        Value::String(s) => s.capacity(),
        Value::Json(j) => json_bytes(j, 0),
        _ => 0,
    }
}

/// A rough size of a json value; below a depth of 8 each value counts
/// a flat 64 bytes (json of a row is bounded by its stored size anyway).
fn json_bytes(j: &serde_json::Value, depth: usize) -> usize {
    const NODE: usize = size_of::<serde_json::Value>();
    if depth >= 8 {
        return 64;
    }
    match j {
        serde_json::Value::String(s) => NODE + s.len(),
        serde_json::Value::Array(a) => {
            NODE + a.iter().map(|x| json_bytes(x, depth + 1)).sum::<usize>()
        }
        serde_json::Value::Object(m) => {
            NODE + m
                .iter()
                .map(|(k, x)| k.len() + 32 + json_bytes(x, depth + 1))
                .sum::<usize>()
        }
        _ => NODE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_well() {
        assert_eq!(show_bytes(256 << 20), "256 MiB");
        assert_eq!(show_bytes(3 << 29), "1.5 GiB");
        assert_eq!(show_bytes(64 << 10), "64 KiB");
        assert_eq!(show_bytes(100), "100 bytes");
    }

    #[test]
    fn memory_limit_trips_once_passed() {
        let limits = Limits {
            memory_limit: Some(1000),
            ..Limits::none()
        };
        assert!(limits.hold(600).is_ok());
        assert!(limits.hold(400).is_ok());
        let e = limits.hold(1).unwrap_err();
        assert_eq!(e.code(), ErrorCode::MemoryLimit);
        assert!(e.message().contains("1000 bytes"), "{}", e.message());
    }

    #[test]
    fn meter_checks_once_per_chunk() {
        let limits = Limits {
            deadline: Some(Instant::now()),
            ..Limits::none()
        };
        let mut m = Meter::new(&limits);
        for _ in 0..CHECK_ROWS - 1 {
            m.tick().unwrap();
        }
        assert_eq!(m.tick().unwrap_err().code(), ErrorCode::StatementTimeout);
    }

    #[test]
    fn cancel_wins_over_timeout() {
        let limits = Limits {
            deadline: Some(Instant::now()),
            cancel: Some(Arc::new(AtomicBool::new(true))),
            ..Limits::none()
        };
        assert_eq!(limits.check().unwrap_err().code(), ErrorCode::Cancelled);
    }
}
