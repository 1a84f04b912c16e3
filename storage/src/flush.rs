//! Flushing: frozen memtables become level-0 SSTs.
//!
//! A flush writes the oldest frozen memtable to a new SST (fsynced), makes
//! its name durable, then records it in the manifest together with the new
//! flushed sequence number, and only then drops the memtable. A crash at any
//! step leaves either the old manifest (the SST is an orphan, removed at the
//! next open) or the new one.
//!
//! A sorted run that bulk ingest built ([`crate::Engine::ingest_batches`])
//! waits among the frozen memtables and is flushed by this same protocol;
//! its versions are written straight from its buffer.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::context::Context;
use crate::error::Result;
use crate::memtable::{MemIter, Memtable};
use crate::version::{SuperVersion, Version};

/// Flushes frozen memtables, one at a time (the background worker or an
/// explicit flush).
#[derive(Default)]
pub(crate) struct Flusher {
    lock: Mutex<()>,
}

impl Flusher {
    /// Flushes the oldest frozen memtable; false when there was none. Out
    /// of space, nothing changes: the memtable stays frozen (and readable)
    /// for a retry. Other failures poison the engine.
    pub(crate) fn flush_oldest(&self, ctx: &Context<'_>) -> Result<bool> {
        let _f = self.lock.lock();
        ctx.status.check_writable()?;
        let Some(mem) = ctx.versions.current().frozen.last().cloned() else {
            return Ok(false);
        };
        let result = flush_memtable(ctx, &mem);
        ctx.status.settle("flush", &result);
        result.map(|()| true)
    }
}

fn flush_memtable(ctx: &Context<'_>, mem: &Arc<Memtable>) -> Result<()> {
    let table = if mem.is_empty() {
        None
    } else {
        let table = match mem.run_versions() {
            Some(versions) => ctx.write_tables(versions.map(Ok), 0, u64::MAX)?.pop(),
            None => {
                let entries = MemIter::new(
                    mem.clone(),
                    std::ops::Bound::Unbounded,
                    std::ops::Bound::Unbounded,
                    false,
                );
                ctx.write_tables(entries.map(Ok), 0, u64::MAX)?.pop()
            }
        };
        ctx.counters
            .flushed(table.as_ref().map(|t| t.meta().file_size));
        table.map(Arc::new)
    };
    let _v = ctx.versions.lock_edits();
    let cur = ctx.versions.current();
    let mut version = Version::clone(&cur.version);
    if let Some(t) = &table {
        version.levels[0].insert(0, t.clone());
    }
    let flushed = mem.max_seqno().max(ctx.versions.flushed_seqno());
    if let Err(e) = ctx.store_manifest(&version, flushed) {
        // Out of space, the manifest was not replaced (that takes a
        // rename, the last step but the directory fsync): the table is
        // in no manifest and its file goes with it. After another
        // failure the engine is poisoned and the file stays, as the
        // new manifest may already name it.
        if let Some(t) = table.as_ref().filter(|_| e.is_out_of_space()) {
            t.mark_obsolete();
        }
        return Err(e);
    }
    ctx.versions.set_flushed_seqno(flushed);
    let version = Arc::new(version);
    ctx.versions
        .install(|cur| without_frozen(cur, mem, version));
    Ok(())
}

/// Removes a flushed memtable from the frozen list.
fn without_frozen(cur: &SuperVersion, mem: &Arc<Memtable>, version: Arc<Version>) -> SuperVersion {
    SuperVersion {
        active: cur.active.clone(),
        frozen: cur
            .frozen
            .iter()
            .filter(|m| !Arc::ptr_eq(m, mem))
            .cloned()
            .collect(),
        version,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::context::testing::{Fixture, versions_of};
    use crate::io::Io;
    use crate::io::std_fs::StdIo;
    use crate::io::testing::{FaultKind, SimIo};
    use crate::options::Options;
    use crate::types::Kind;

    /// A frozen memtable with puts, an overwrite and a delete, batches 3
    /// to 6.
    fn memtable() -> Arc<Memtable> {
        let m = Memtable::new(1 << 20);
        assert!(m.insert(b"b", 3, Kind::Put, b"b3"));
        assert!(m.insert(b"a", 4, Kind::Put, b"a4"));
        assert!(m.insert(b"b", 5, Kind::Put, b"b5"));
        assert!(m.insert(b"c", 6, Kind::Delete, b""));
        m.note_seqno(6);
        Arc::new(m)
    }

    #[test]
    fn a_flush_writes_the_oldest_memtable_to_one_level0_table() {
        let newer = Arc::new(Memtable::new(1 << 20));
        assert!(newer.insert(b"z", 7, Kind::Put, b"z7"));
        newer.note_seqno(7);
        let older = memtable();
        let f = Fixture::new(
            Arc::new(StdIo::new()),
            Options::default(),
            Version::empty(),
            vec![newer.clone(), older],
        );
        assert!(Flusher::default().flush_oldest(&f.ctx()).unwrap());
        let sv = f.versions.current();
        assert_eq!(sv.frozen.len(), 1, "the flushed memtable is gone");
        assert!(Arc::ptr_eq(&sv.frozen[0], &newer), "the newer one stays");
        assert_eq!(sv.version.levels[0].len(), 1);
        assert!(sv.version.levels[1..].iter().all(Vec::is_empty));
        let owned = |v: Vec<(&str, u64, Kind, &str)>| -> Vec<(String, u64, Kind, String)> {
            v.into_iter()
                .map(|(k, s, kind, v)| (k.to_string(), s, kind, v.to_string()))
                .collect()
        };
        assert_eq!(
            versions_of(&sv.version.levels[0][0]),
            owned(vec![
                ("a", 4, Kind::Put, "a4"),
                ("b", 5, Kind::Put, "b5"),
                ("b", 3, Kind::Put, "b3"),
                ("c", 6, Kind::Delete, ""),
            ]),
            "every version, in internal order"
        );
        assert_eq!(f.versions.flushed_seqno(), 6);
        assert_eq!(f.counters.read().flushes, 1);
        // The manifest names the table and the flushed seqno.
        let m = crate::manifest::Manifest::load(f.io.as_ref(), f.dir.path())
            .unwrap()
            .unwrap();
        assert_eq!(m.flushed_seqno, 6);
        assert_eq!(m.levels[0].len(), 1);

        assert!(Flusher::default().flush_oldest(&f.ctx()).unwrap());
        let sv = f.versions.current();
        assert!(sv.frozen.is_empty());
        assert_eq!(sv.version.levels[0].len(), 2, "newest table first");
        assert_eq!(versions_of(&sv.version.levels[0][0])[0].0, "z");
        assert_eq!(f.versions.flushed_seqno(), 7);
        assert!(
            !Flusher::default().flush_oldest(&f.ctx()).unwrap(),
            "nothing left"
        );
    }

    /// A failed flush leaves the version, the frozen memtable, the flushed
    /// seqno and the directory as they were: out of space it is retried
    /// later (and then succeeds); any other failure poisons.
    #[test]
    fn a_failed_flush_changes_nothing() {
        let mut failed = 0;
        for fault in [
            FaultKind::NoSpace,
            FaultKind::FailWrite,
            FaultKind::FailSync,
        ] {
            // Every step of the flush in turn, until the fault falls past it.
            for at in 0..64 {
                let sim = SimIo::new(Arc::new(StdIo::new()));
                let mem = memtable();
                let f = Fixture::new(
                    sim.clone() as Arc<dyn Io>,
                    Options::default(),
                    Version::empty(),
                    vec![mem.clone()],
                );
                sim.inject(sim.ops() + at, fault);
                let flusher = Flusher::default();
                let result = flusher.flush_oldest(&f.ctx());
                let sv = f.versions.current();
                if result.is_ok() {
                    // The fault fell past the flush's last step.
                    assert!(sv.frozen.is_empty());
                    break;
                }
                failed += 1;
                assert_eq!(sv.frozen.len(), 1, "{fault:?} at {at}");
                assert!(Arc::ptr_eq(&sv.frozen[0], &mem));
                assert!(
                    sv.version.levels.iter().all(Vec::is_empty),
                    "{fault:?} at {at}"
                );
                assert_eq!(f.versions.flushed_seqno(), 0);
                let out_of_space = fault == FaultKind::NoSpace;
                assert_eq!(f.status.is_poisoned(), !out_of_space, "{fault:?} at {at}");
                assert_eq!(f.status.is_out_of_space(), out_of_space);
                if out_of_space {
                    assert_eq!(f.table_files(), 0, "a half-written table is removed");
                    assert!(flusher.flush_oldest(&f.ctx()).unwrap(), "the retry works");
                    assert_eq!(f.versions.current().version.levels[0].len(), 1);
                    assert_eq!(f.versions.flushed_seqno(), 6);
                    assert!(!f.status.is_out_of_space());
                }
            }
        }
        assert!(failed > 6, "the faults fell on the flush's steps");
    }
}
