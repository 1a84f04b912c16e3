//! Whether the engine may write: poisoned by a failed write or fsync, or
//! short of disk space.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use crate::error::{Error, Result};

/// The engine's health, as background work leaves it.
#[derive(Default)]
pub(crate) struct Status {
    poisoned: AtomicBool,
    cause: Mutex<Option<String>>,
    /// The last flush or compaction failed for lack of disk space: writers
    /// are not stalled on the memtable or level-0 limits meanwhile (that
    /// wait could not end before space is freed; the layer above runs out
    /// of disk for its log next and refuses writes itself).
    out_of_space: AtomicBool,
}

impl Status {
    pub(crate) fn is_poisoned(&self) -> bool {
        self.poisoned.load(Ordering::Acquire)
    }

    /// Refuses further writes after a failed write or fsync.
    pub(crate) fn poison(&self, cause: &Error) {
        let mut slot = self.cause.lock();
        if slot.is_none() {
            tracing::error!(error = %cause, "storage engine poisoned: writes are refused until reopen");
            *slot = Some(cause.to_string());
        }
        self.poisoned.store(true, Ordering::Release);
    }

    /// Why writes are refused, if they are.
    pub(crate) fn cause(&self) -> Option<String> {
        self.cause.lock().clone()
    }

    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.is_poisoned() {
            return Err(Error::Poisoned {
                cause: self.cause().unwrap_or_else(|| "unknown".to_string()),
            });
        }
        Ok(())
    }

    /// Whether the last flush or compaction failed for lack of space.
    pub(crate) fn is_out_of_space(&self) -> bool {
        self.out_of_space.load(Ordering::Acquire)
    }

    /// Records how a flush or compaction (`what`) ended: out of space, it
    /// changed nothing and is retried later; any other failure poisons.
    pub(crate) fn settle(&self, what: &str, result: &Result<()>) {
        self.out_of_space.store(
            matches!(result, Err(e) if e.is_out_of_space()),
            Ordering::Release,
        );
        match result {
            Err(e) if e.is_out_of_space() => {
                tracing::warn!(error = %e, "{what} failed for lack of disk space; it is retried");
            }
            Err(e) => self.poison(e),
            Ok(()) => {}
        }
    }
}
