//! Graceful shutdown: which requests are in flight, and the draining
//! state in which new ones are refused (503) while those finish.
//!
//! A request holds a [`Work`] guard from the moment it is admitted until
//! its response is ready; a statement handed to the blocking pool holds
//! one of its own, so a client that hangs up does not let the server stop
//! (and sync) under a write still running.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tokio::sync::Notify;

/// Shared between the request gate and [`crate::serve`].
#[derive(Default)]
pub(crate) struct Lifecycle {
    draining: AtomicBool,
    in_flight: AtomicUsize,
    idle: Notify,
}

impl Lifecycle {
    /// Admits a request, or `None` once draining has begun.
    pub(crate) fn enter(self: &Arc<Self>) -> Option<Work> {
        // Count first, then look at the flag: `drained` sets the flag and
        // then reads the count, so either this request sees the flag or
        // the drain sees this request (both are SeqCst).
        let work = self.hold();
        if self.draining.load(Ordering::SeqCst) {
            return None;
        }
        Some(work)
    }

    /// One more unit of work, admitted unconditionally: for work that an
    /// admitted request starts and that may outlive it.
    pub(crate) fn hold(self: &Arc<Self>) -> Work {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        Work(self.clone())
    }

    /// Whether draining has begun.
    pub(crate) fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Refuses new requests from now on and waits for the admitted ones.
    pub(crate) async fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        loop {
            let idle = self.idle.notified();
            tokio::pin!(idle);
            // Register before checking, so a last `Work` dropped in
            // between is not missed.
            idle.as_mut().enable();
            if self.in_flight.load(Ordering::SeqCst) == 0 {
                return;
            }
            idle.await;
        }
    }
}

/// An admitted request or the statement it runs; dropping it ends it.
pub(crate) struct Work(Arc<Lifecycle>);

impl Drop for Work {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn drain_waits_for_work_and_refuses_new_requests() {
        let life = Arc::new(Lifecycle::default());
        let a = life.enter().unwrap();
        let b = a.0.hold();
        let drained = tokio::spawn({
            let life = life.clone();
            async move { life.drain().await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(life.is_draining());
        assert!(life.enter().is_none());
        drop(a);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!drained.is_finished());
        drop(b);
        tokio::time::timeout(Duration::from_secs(5), drained)
            .await
            .unwrap()
            .unwrap();
    }
}
