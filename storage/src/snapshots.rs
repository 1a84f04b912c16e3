//! The sequence numbers live snapshots read at: compaction keeps every
//! version one of them can see.

use std::collections::BTreeMap;

use parking_lot::Mutex;

use crate::types::Seqno;

/// Live snapshots, counted per sequence number.
#[derive(Default)]
pub(crate) struct Snapshots {
    live: Mutex<BTreeMap<Seqno, usize>>,
}

impl Snapshots {
    /// A snapshot at `seqno` was taken.
    pub(crate) fn pin(&self, seqno: Seqno) {
        *self.live.lock().entry(seqno).or_insert(0) += 1;
    }

    /// A snapshot at `seqno` was dropped.
    pub(crate) fn unpin(&self, seqno: Seqno) {
        let mut live = self.live.lock();
        if let Some(n) = live.get_mut(&seqno) {
            *n -= 1;
            if *n == 0 {
                live.remove(&seqno);
            }
        }
    }

    /// The sequence numbers of the live snapshots, ascending, each once.
    pub(crate) fn list(&self) -> Vec<Seqno> {
        self.live.lock().keys().copied().collect()
    }

    /// How many snapshots are live.
    pub(crate) fn count(&self) -> usize {
        self.live.lock().values().sum()
    }
}
