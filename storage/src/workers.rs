//! How the engine's background workers (flush, compaction) run: each is a
//! step ([`Outcome`]) that a thread of its own loops over ([`spawn`],
//! [`thread_loop`]), or that a [`Stepper`] runs when a test or a stalled
//! write drives it ([`register`]). The [`Signal`] wakes sleeping threads
//! and stalled writers and tells them about shutdown.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use crate::background::{Progress, Registration, Stepper};
use crate::error::{Error, Result};

/// What one step of a background worker did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// It did a unit of work.
    Worked,
    /// Nothing to do, or the engine is poisoned.
    Idle,
    /// It failed for lack of disk space and changed nothing; a thread
    /// retries after a pause, a stepper whenever the step is chosen.
    OutOfSpace,
}

/// The outcome of one attempt at the work of a step (`what`, for the log).
/// Failures other than a full disk are logged: they poisoned the engine,
/// so the worker idles from then on.
pub(crate) fn outcome<T>(what: &str, result: Result<T>) -> Outcome {
    match result {
        Ok(_) => Outcome::Worked,
        Err(e) if e.is_out_of_space() => Outcome::OutOfSpace,
        Err(e) => {
            tracing::error!(error = %e, "background {what} failed");
            Outcome::Idle
        }
    }
}

/// Wakes background threads and stalled writers; says when the engine
/// shuts down.
#[derive(Default)]
pub(crate) struct Signal {
    /// Guards the condition variable below; `true` once shutting down.
    shutdown: Mutex<bool>,
    cv: Condvar,
}

impl Signal {
    /// Wakes everyone waiting.
    pub(crate) fn notify(&self) {
        let _g = self.shutdown.lock();
        self.cv.notify_all();
    }

    /// Marks the engine as shutting down and wakes everyone waiting.
    pub(crate) fn shut_down(&self) {
        *self.shutdown.lock() = true;
        self.cv.notify_all();
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        *self.shutdown.lock()
    }

    /// Waits until `ready` holds (checked under the signal's lock) or the
    /// engine shuts down; returns false on shutdown.
    pub(crate) fn wait_until(&self, mut ready: impl FnMut() -> bool) -> bool {
        let mut shutdown = self.shutdown.lock();
        loop {
            if *shutdown {
                return false;
            }
            if ready() {
                return true;
            }
            self.cv.wait_for(&mut shutdown, Duration::from_millis(100));
        }
    }

    /// Sleeps for `d` unless the engine shuts down first (then false): a
    /// background thread's pause before retrying after a full disk.
    pub(crate) fn pause(&self, d: Duration) -> bool {
        let mut shutdown = self.shutdown.lock();
        if !*shutdown {
            self.cv.wait_for(&mut shutdown, d);
        }
        !*shutdown
    }
}

/// The body of a background thread: runs `step` until shutdown, sleeping
/// while it is idle until `ready` holds. After an out-of-space failure it
/// pauses (growing backoff) before trying again.
pub(crate) fn thread_loop(signal: &Signal, ready: impl Fn() -> bool, step: impl Fn() -> Outcome) {
    let mut backoff = Backoff::default();
    while !signal.is_shut_down() {
        match step() {
            Outcome::Worked => backoff.reset(),
            Outcome::Idle => {
                if !signal.wait_until(&ready) {
                    return;
                }
            }
            Outcome::OutOfSpace => {
                if !signal.pause(backoff.next()) {
                    return;
                }
            }
        }
    }
}

/// Starts a thread named `name` running `body` on `target`.
pub(crate) fn spawn<S: Send + Sync + 'static>(
    name: &str,
    target: Arc<S>,
    body: fn(&S),
) -> Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || body(&target))
        .map_err(|e| Error::io(PathBuf::from(name), e))
}

/// Registers `step` on `target` with `stepper`. The step holds its target
/// weakly: the stepper (kept in the options, inside the engine's state)
/// must not keep the state alive.
pub(crate) fn register<S: Send + Sync + 'static>(
    stepper: &Stepper,
    name: &'static str,
    target: &Arc<S>,
    step: fn(&S) -> Outcome,
) -> Registration {
    let weak = Arc::downgrade(target);
    stepper.register(
        name,
        Arc::new(move || match weak.upgrade() {
            Some(target) if step(&target) == Outcome::Worked => Progress::Worked,
            _ => Progress::Idle,
        }),
    )
}

/// Pauses between retries of a background job that failed for lack of disk
/// space: 50 ms, doubling up to 2 s.
#[derive(Default)]
pub(crate) struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The pause before the next retry.
    pub(crate) fn next(&mut self) -> Duration {
        let d = Duration::from_millis(50u64 << self.failures.min(5)).min(Duration::from_secs(2));
        self.failures = self.failures.saturating_add(1);
        d
    }

    /// The job succeeded: the next failure starts over.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }
}
