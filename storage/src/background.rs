//! How background work runs: on threads of its own (production), or one
//! unit at a time by a seeded [`Stepper`] (tests).
//!
//! Every background worker of the stack (storage's flush and compaction,
//! the log's writer and spare segments) is written as a *step*: a function
//! that does at most one unit of work without blocking and says whether it
//! did any ([`Progress`]). On threads, a loop runs the step and sleeps on
//! the worker's own condition variable while it is idle. Under a stepper,
//! nothing runs by itself: the test's thread calls [`Stepper::step`] (or a
//! foreground operation that must wait for background work drives the
//! stepper with [`Stepper::drive_until`]), and the stepper picks which
//! registered step runs next from its seed. Together with the simulated I/O
//! this makes a crash, fault or race test a function of its seed: the
//! interleavings it explores differ from seed to seed, and a failing seed
//! replays exactly ([`check_seeds`]).

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;

use parking_lot::Mutex;

/// What one step of a background worker did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// It did a unit of work; there may be more.
    Worked,
    /// There was nothing to do (or it cannot go on until something else
    /// happens).
    Idle,
}

/// One unit of a background worker's work; see the module docs.
pub type Step = Arc<dyn Fn() -> Progress + Send + Sync>;

/// A seeded scheduler of background steps. Cloning gives another handle to
/// the same scheduler. See the module docs.
#[derive(Clone)]
pub struct Stepper {
    shared: Arc<Mutex<State>>,
    seed: u64,
}

struct State {
    rng: u64,
    next_id: u64,
    tasks: Vec<Task>,
    /// The names of the steps that did work, in order (for a failure's
    /// report).
    trace: Vec<&'static str>,
}

struct Task {
    id: u64,
    name: &'static str,
    step: Step,
    /// Running now (a step that drives the stepper itself must not be
    /// re-entered).
    busy: bool,
}

/// A step's place in a [`Stepper`]; dropping it removes the step.
pub struct Registration {
    shared: Arc<Mutex<State>>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.shared.lock().tasks.retain(|t| t.id != self.id);
    }
}

/// [`Stepper::drive_until`] gave up: no registered step can make progress
/// and the condition still does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stuck;

/// Steps [`Stepper::drive_until`] runs before it reports [`Stuck`] even
/// though steps keep working (a livelock, not a wait).
const MAX_DRIVE_STEPS: usize = 1_000_000;

impl Stepper {
    /// A stepper whose choices follow from `seed`.
    pub fn new(seed: u64) -> Stepper {
        Stepper {
            shared: Arc::new(Mutex::new(State {
                rng: seed ^ 0x9e37_79b9_7f4a_7c15,
                next_id: 0,
                tasks: Vec::new(),
                trace: Vec::new(),
            })),
            seed,
        }
    }

    /// The seed this stepper was made with.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Adds a step; it runs only when chosen by [`Stepper::step`] or
    /// [`Stepper::drive_until`], until the registration is dropped.
    pub fn register(&self, name: &'static str, step: Step) -> Registration {
        let mut st = self.shared.lock();
        let id = st.next_id;
        st.next_id += 1;
        st.tasks.push(Task {
            id,
            name,
            step,
            busy: false,
        });
        Registration {
            shared: self.shared.clone(),
            id,
        }
    }

    /// A pseudo-random number from the seed's sequence: tests draw their
    /// own choices (which operation next, which key) from it too, so one
    /// seed fixes the whole run.
    pub fn next_u64(&self) -> u64 {
        splitmix(&mut self.shared.lock().rng)
    }

    /// True with probability `num / den` (from the seed's sequence).
    pub fn chance(&self, num: u64, den: u64) -> bool {
        den > 0 && self.next_u64() % den < num
    }

    /// Runs steps in an order chosen from the seed until one of them does
    /// work (then returns true) or every step that is not running has been
    /// tried and was idle (then false).
    pub fn step(&self) -> bool {
        let mut tried: Vec<u64> = Vec::new();
        loop {
            let (id, name, step) = {
                let mut st = self.shared.lock();
                let ready: Vec<usize> = (0..st.tasks.len())
                    .filter(|&i| !st.tasks[i].busy && !tried.contains(&st.tasks[i].id))
                    .collect();
                if ready.is_empty() {
                    return false;
                }
                let pick = ready[(splitmix(&mut st.rng) % ready.len() as u64) as usize];
                let task = &mut st.tasks[pick];
                task.busy = true;
                (task.id, task.name, task.step.clone())
            };
            let result = catch_unwind(AssertUnwindSafe(|| step()));
            {
                let mut st = self.shared.lock();
                if let Some(t) = st.tasks.iter_mut().find(|t| t.id == id) {
                    t.busy = false;
                }
                if matches!(result, Ok(Progress::Worked)) {
                    st.trace.push(name);
                }
            }
            match result {
                Ok(Progress::Worked) => return true,
                Ok(Progress::Idle) => tried.push(id),
                Err(panic) => resume_unwind(panic),
            }
        }
    }

    /// Runs steps until none has work left; returns how many did work.
    pub fn run_until_idle(&self) -> usize {
        let mut n = 0;
        while n < MAX_DRIVE_STEPS && self.step() {
            n += 1;
        }
        n
    }

    /// Runs steps until `done` holds: what a foreground operation that
    /// waits for background work does under a stepper. [`Stuck`] when no
    /// step can make progress and `done` still does not hold.
    pub fn drive_until(&self, mut done: impl FnMut() -> bool) -> Result<(), Stuck> {
        for _ in 0..MAX_DRIVE_STEPS {
            if done() {
                return Ok(());
            }
            if !self.step() {
                return if done() { Ok(()) } else { Err(Stuck) };
            }
        }
        Err(Stuck)
    }

    /// The names of the last `n` steps that did work, oldest first.
    pub fn trace_tail(&self, n: usize) -> Vec<&'static str> {
        let st = self.shared.lock();
        st.trace[st.trace.len().saturating_sub(n)..].to_vec()
    }
}

impl std::fmt::Debug for Stepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.shared.lock();
        let names: Vec<&str> = st.tasks.iter().map(|t| t.name).collect();
        f.debug_struct("Stepper")
            .field("seed", &self.seed)
            .field("steps", &names)
            .finish()
    }
}

/// SplitMix64: small, fast, and good enough to pick interleavings.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Runs `test` once per seed: the one seed in `FASTY_SEED` if it is set
/// (replaying a failure), otherwise seeds `0..budget` (`FASTY_SEEDS`
/// overrides the budget). A failing seed is reported on stderr with the
/// command that replays it, and its panic is passed on.
pub fn check_seeds(name: &str, budget: u64, test: impl Fn(u64)) {
    let env = |var: &str| {
        std::env::var(var)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let seeds: Vec<u64> = match env("FASTY_SEED") {
        Some(seed) => vec![seed],
        None => (0..env("FASTY_SEEDS").unwrap_or(budget)).collect(),
    };
    run_seeds(name, seeds, test);
}

/// Runs `test` once per seed, reporting the first that fails.
fn run_seeds(name: &str, seeds: impl IntoIterator<Item = u64>, test: impl Fn(u64)) {
    for seed in seeds {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| test(seed))) {
            eprintln!("{name}: failed with seed {seed}; replay it with FASTY_SEED={seed}");
            resume_unwind(panic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn counter(limit: usize) -> (Arc<AtomicUsize>, Step) {
        let n = Arc::new(AtomicUsize::new(0));
        let m = n.clone();
        let step: Step = Arc::new(move || {
            if m.load(Ordering::SeqCst) < limit {
                m.fetch_add(1, Ordering::SeqCst);
                Progress::Worked
            } else {
                Progress::Idle
            }
        });
        (n, step)
    }

    /// The order steps run in, as a string, for a seed.
    fn order(seed: u64) -> String {
        let s = Stepper::new(seed);
        let (_a, a) = counter(5);
        let (_b, b) = counter(5);
        let _ra = s.register("a", a);
        let _rb = s.register("b", b);
        assert_eq!(s.run_until_idle(), 10);
        s.trace_tail(10).concat()
    }

    #[test]
    fn a_seed_fixes_the_interleaving_and_seeds_differ() {
        assert_eq!(order(7), order(7));
        let distinct: std::collections::HashSet<String> = (0..20).map(order).collect();
        assert!(distinct.len() > 5, "{distinct:?}");
    }

    #[test]
    fn drive_until_runs_steps_until_the_condition_or_reports_stuck() {
        let s = Stepper::new(1);
        let (n, step) = counter(3);
        let reg = s.register("count", step);
        let m = n.clone();
        assert_eq!(s.drive_until(|| m.load(Ordering::SeqCst) >= 2), Ok(()));
        assert_eq!(n.load(Ordering::SeqCst), 2);
        assert_eq!(s.drive_until(|| m.load(Ordering::SeqCst) >= 4), Err(Stuck));
        drop(reg);
        assert!(!s.step(), "a dropped registration's step still runs");
    }

    #[test]
    fn a_step_that_drives_the_stepper_is_not_reentered() {
        let s = Stepper::new(3);
        let (n, inner) = counter(4);
        let _inner = s.register("inner", inner);
        let driver = s.clone();
        let depth = Arc::new(AtomicUsize::new(0));
        let d = depth.clone();
        let m = n.clone();
        let _outer = s.register(
            "outer",
            Arc::new(move || {
                assert_eq!(d.fetch_add(1, Ordering::SeqCst), 0, "outer re-entered");
                let r = driver.drive_until(|| m.load(Ordering::SeqCst) >= 4);
                d.fetch_sub(1, Ordering::SeqCst);
                if r.is_ok() {
                    Progress::Idle
                } else {
                    Progress::Worked
                }
            }),
        );
        s.run_until_idle();
        assert_eq!(n.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn check_seeds_runs_every_seed_and_passes_a_failure_on() {
        let ran = std::sync::Mutex::new(Vec::new());
        run_seeds("count", 0..5, |seed| ran.lock().unwrap().push(seed));
        assert_eq!(*ran.lock().unwrap(), vec![0, 1, 2, 3, 4]);
        let ran = std::sync::Mutex::new(Vec::new());
        let failed = catch_unwind(AssertUnwindSafe(|| {
            run_seeds("fails", 0..3, |seed| {
                ran.lock().unwrap().push(seed);
                assert_ne!(seed, 1);
            })
        }));
        assert!(failed.is_err());
        // The failing seed stops the run.
        assert_eq!(*ran.lock().unwrap(), vec![0, 1]);
    }
}
