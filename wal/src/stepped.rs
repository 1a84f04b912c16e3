//! The log's background work as steps of a test's seeded [`Stepper`]
//! instead of threads (`Options::storage.stepper`, tests only; see
//! [`fasty_storage::background`]).
//!
//! The log writer ([`LogWriter::turn`]) and, with the engine's background
//! work on, the spare segments ([`Spares::step`]) are registered as steps,
//! sharing the stepper (and so one seed's order) with the engine's flushes
//! and compactions. Nothing runs by itself: a foreground call that waits
//! for the log (a durable write's fsync, `sync`, `checkpoint`, `close`)
//! drives the stepper until what it waits for holds ([`Stepped::drive`]),
//! with every lock released. Time-based triggers (the async sync interval,
//! the retry after a full disk) count as due whenever the writer's step
//! runs.

use std::path::Path;
use std::sync::{Arc, Weak};

use fasty_storage::background::{Progress, Registration, Stepper};
use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::recovery::SegmentMeta;
use crate::shared::Core;
use crate::spare::Spares;
use crate::writer::{LogWriter, Turn};

/// The log writer run as a step: running, or done with its last segment's
/// description (which close takes).
enum WriterSlot {
    Running(Box<LogWriter>),
    Exited(Option<SegmentMeta>),
}

/// An open log's steps in a stepper; dropping it unregisters them.
pub(crate) struct Stepped {
    stepper: Stepper,
    writer: Arc<Mutex<WriterSlot>>,
    /// Kept outside [`Core`]: the steps hold the core weakly, so the core
    /// does not keep its own steps alive.
    _registrations: Vec<Registration>,
}

impl Stepped {
    /// Registers `writer` (and `spares`, when given) with `stepper`.
    pub(crate) fn register(
        stepper: Stepper,
        core: &Arc<Core>,
        writer: LogWriter,
        spares: Option<&Arc<Spares>>,
    ) -> Stepped {
        let slot = Arc::new(Mutex::new(WriterSlot::Running(Box::new(writer))));
        let weak: Weak<Core> = Arc::downgrade(core);
        let step_slot = slot.clone();
        let mut registrations = vec![stepper.register(
            "wal-writer",
            Arc::new(move || {
                let Some(core) = weak.upgrade() else {
                    return Progress::Idle;
                };
                let mut slot = step_slot.lock();
                let WriterSlot::Running(writer) = &mut *slot else {
                    return Progress::Idle;
                };
                match writer.turn(&core) {
                    Turn::Worked => Progress::Worked,
                    Turn::Idle => Progress::Idle,
                    Turn::Exit => {
                        *slot = WriterSlot::Exited(Some(writer.meta()));
                        Progress::Worked
                    }
                }
            }),
        )];
        if let Some(spares) = spares {
            let weak: Weak<Spares> = Arc::downgrade(spares);
            registrations.push(stepper.register(
                "wal-spare",
                Arc::new(move || weak.upgrade().map_or(Progress::Idle, |s| s.step())),
            ));
        }
        Stepped {
            stepper,
            writer: slot,
            _registrations: registrations,
        }
    }

    /// Runs the stepper until `done` holds. The caller holds no lock a step
    /// takes. When no step can make progress and `done` still does not
    /// hold, the error says what was being waited for.
    pub(crate) fn drive(
        &self,
        dir: &Path,
        waiting_for: &str,
        done: impl FnMut() -> bool,
    ) -> Result<()> {
        self.stepper.drive_until(done).map_err(|_| {
            Error::Storage(fasty_storage::Error::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::Deadlock,
                    format!(
                        "the test stepper (seed {}) is stuck: no background step can make progress while waiting for {waiting_for}",
                        self.stepper.seed()
                    ),
                ),
            })
        })
    }

    /// Close: once the writer has exited (its shutdown set), its last
    /// segment's description; `None` if it has not or it was taken.
    pub(crate) fn take_exited(&self) -> Option<SegmentMeta> {
        match &mut *self.writer.lock() {
            WriterSlot::Exited(meta) => meta.take(),
            WriterSlot::Running(_) => None,
        }
    }

    /// Whether the writer has exited.
    pub(crate) fn writer_exited(&self) -> bool {
        matches!(*self.writer.lock(), WriterSlot::Exited(_))
    }
}
