//! Compaction: merges tables down the levels, dropping versions no reader
//! can see.
//!
//! Level 0 holds flushed tables, newest first, which may overlap (a small
//! tier that absorbs write bursts). Levels 1..=6 are sorted runs of
//! non-overlapping tables. What to merge is chosen by [`picker`];
//! `compact()` merges everything into one level.
//!
//! A version is dropped when no reader can see it: for each key, the
//! newest version is kept, and for each live snapshot the newest version
//! at or below its sequence number; every other version is hidden from
//! every reader by a newer one it also sees. Of what is kept, the version
//! the oldest snapshot sees (or the newest, without snapshots) is dropped
//! too when it is a tombstone and no deeper level can hold an older
//! version of the key. A long-lived snapshot (an open transaction's) so
//! keeps one version per key more, not every version written since. Inputs are marked
//! obsolete after the new manifest is durable; their files are deleted when
//! the last reader lets go of them.

pub(crate) mod picker;

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::context::Context;
use crate::error::Result;
use crate::iter::{MergeIter, Source};
use crate::sst::{Table, TableCursor};
use crate::types::{Entry, Kind, Seqno};
use crate::version::{NUM_LEVELS, SuperVersion, Version};
use picker::Job;

/// Runs compactions, one at a time (the background worker, a writer
/// without background work, or an explicit `compact()`).
pub(crate) struct Compactor {
    /// Per level, the largest key of the last table compacted out of it.
    /// Its lock is held for a whole compaction: one at a time.
    pointers: Mutex<Vec<Option<Bytes>>>,
}

impl Default for Compactor {
    fn default() -> Self {
        Compactor {
            pointers: Mutex::new(vec![None; NUM_LEVELS]),
        }
    }
}

impl Compactor {
    /// Runs one compaction if one is due; false when none was. `horizon`
    /// gives the sequence numbers of the live snapshots, ascending (each a
    /// reader's view the merge must keep).
    pub(crate) fn compact_once(
        &self,
        ctx: &Context<'_>,
        horizon: impl Fn() -> Vec<Seqno>,
    ) -> Result<bool> {
        let mut pointers = self.pointers.lock();
        ctx.status.check_writable()?;
        let Some(job) = picker::pick(&ctx.versions.current().version, ctx.opts, &pointers) else {
            return Ok(false);
        };
        if let Some((level, key)) = &job.pointer {
            pointers[*level] = Some(key.clone());
        }
        run(ctx, &job, horizon)?;
        Ok(true)
    }

    /// Merges every table into the deepest level in use.
    pub(crate) fn compact_all(
        &self,
        ctx: &Context<'_>,
        horizon: impl Fn() -> Vec<Seqno>,
    ) -> Result<()> {
        let _pointers = self.pointers.lock();
        ctx.status.check_writable()?;
        match picker::everything(&ctx.versions.current().version) {
            Some(job) => run(ctx, &job, horizon),
            None => Ok(()),
        }
    }
}

fn run(ctx: &Context<'_>, job: &Job, horizon: impl Fn() -> Vec<Seqno>) -> Result<()> {
    let result = run_job(ctx, job, horizon);
    // Out of space, the inputs are untouched and the outputs removed.
    ctx.status.settle("compaction", &result);
    result
}

fn run_job(ctx: &Context<'_>, job: &Job, horizon: impl Fn() -> Vec<Seqno>) -> Result<()> {
    let Some((lo, hi)) = job.key_range() else {
        return Ok(());
    };
    let version = ctx.versions.current().version.clone();
    // Tombstones may go only if no deeper level can hold an older
    // version of their key.
    let bottom =
        (job.output_level + 1..NUM_LEVELS).all(|l| version.overlapping(l, &lo, &hi).is_empty());
    let horizon = horizon();
    let sources: Vec<Source> = job
        .inputs
        .iter()
        .map(|(_, t)| {
            Source::Tables(TableCursor::new(
                vec![t.clone()],
                std::ops::Bound::Unbounded,
                std::ops::Bound::Unbounded,
                false,
            ))
        })
        .collect();
    let merged = MergeIter::new(sources, false);
    let kept = Retain {
        inner: merged,
        snapshots: horizon,
        drop_tombstones: bottom,
        key: None,
        stripe: None,
    };
    let outputs = ctx.write_tables(kept, job.output_level, ctx.opts.target_file_size)?;
    let written: u64 = outputs.iter().map(|t| t.meta().file_size).sum();

    let _v = ctx.versions.lock_edits();
    let cur = ctx.versions.current();
    let mut next = Version::clone(&cur.version);
    let gone: std::collections::HashSet<u64> = job.inputs.iter().map(|(_, t)| t.id()).collect();
    for level in &mut next.levels {
        level.retain(|t| !gone.contains(&t.id()));
    }
    let outputs: Vec<Arc<Table>> = outputs.into_iter().map(Arc::new).collect();
    let out_level = &mut next.levels[job.output_level];
    out_level.extend(outputs.iter().cloned());
    out_level.sort_by(|a, b| a.meta().min_key.cmp(&b.meta().min_key));
    if let Err(e) = ctx.store_manifest(&next, ctx.versions.flushed_seqno()) {
        // Out of space, the manifest was not replaced: the outputs are
        // in no manifest and their files go with them (see
        // `flush_memtable`).
        if e.is_out_of_space() {
            for t in &outputs {
                t.mark_obsolete();
            }
        }
        return Err(e);
    }
    let next = Arc::new(next);
    ctx.versions.install(|cur| SuperVersion {
        active: cur.active.clone(),
        frozen: cur.frozen.clone(),
        version: next,
    });
    for (_, t) in &job.inputs {
        t.mark_obsolete();
    }
    ctx.counters.compacted(written);
    Ok(())
}
/// Filters a merged stream down to the versions compaction must keep.
struct Retain {
    inner: MergeIter,
    /// The live snapshots' sequence numbers, ascending.
    snapshots: Vec<Seqno>,
    drop_tombstones: bool,
    key: Option<Bytes>,
    /// The stripe of the current key's last version seen: the index of
    /// the oldest snapshot that sees it (the number of snapshots when
    /// none does). An older version in the same stripe is seen by no
    /// reader: each one that could see it sees the newer one.
    stripe: Option<usize>,
}

impl Iterator for Retain {
    type Item = Result<Entry>;

    fn next(&mut self) -> Option<Result<Entry>> {
        loop {
            let e = match self.inner.next()? {
                Ok(e) => e,
                Err(err) => return Some(Err(err)),
            };
            if self.key.as_ref() != Some(&e.key) {
                self.key = Some(e.key.clone());
                self.stripe = None;
            }
            let stripe = self.snapshots.partition_point(|&s| s < e.seqno);
            if self.stripe == Some(stripe) {
                continue;
            }
            self.stripe = Some(stripe);
            // In stripe 0 nothing older is visible to anyone: a tombstone
            // there hides only what this merge drops, unless a deeper
            // level holds more.
            if stripe == 0 && e.kind == Kind::Delete && self.drop_tombstones {
                continue;
            }
            return Some(Ok(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::testing::{Fixture, versions_of};
    use crate::io::Io;
    use crate::io::std_fs::StdIo;
    use crate::io::testing::{FaultKind, SimIo};
    use crate::options::Options;

    type Versions = Vec<(String, Seqno, Kind, String)>;

    fn owned(v: &[(&str, Seqno, Kind, &str)]) -> Versions {
        v.iter()
            .map(|(k, s, kind, v)| (k.to_string(), *s, *kind, v.to_string()))
            .collect()
    }

    /// A fixture on `io` whose level 0 holds two overlapping tables (the
    /// newer first) and, with `deeper`, level 2 a table that may hold older
    /// versions of their keys. Level 0 is due for compaction. (Options are
    /// set field by field, as for a `#[non_exhaustive]` struct.)
    #[allow(clippy::field_reassign_with_default)]
    fn fixture(io: Arc<dyn Io>, deeper: bool) -> Fixture {
        let mut opts = Options::default();
        opts.l0_compaction_trigger = 2;
        let f = Fixture::new(io, opts, Version::empty(), Vec::new());
        let newer = f.table(&[("a", 5, Kind::Put, "a5"), ("b", 6, Kind::Delete, "")]);
        let older = f.table(&[
            ("a", 3, Kind::Put, "a3"),
            ("a", 1, Kind::Put, "a1"),
            ("b", 2, Kind::Put, "b2"),
            ("c", 4, Kind::Put, "c4"),
        ]);
        let mut version = Version::empty();
        version.levels[0] = vec![newer, older];
        if deeper {
            version.levels[2] = vec![f.table(&[("b", 0, Kind::Put, "b0")])];
        }
        let version = Arc::new(version);
        f.versions.install(|cur| SuperVersion {
            active: cur.active.clone(),
            frozen: Vec::new(),
            version,
        });
        f
    }

    /// Runs the due compaction with `horizon`; the versions of the one
    /// table it writes into level 1.
    fn compact(f: &Fixture, horizon: Seqno) -> Versions {
        assert!(
            Compactor::default()
                .compact_once(&f.ctx(), || vec![horizon])
                .unwrap()
        );
        let v = f.versions.current().version.clone();
        assert!(v.levels[0].is_empty(), "level 0 was merged");
        assert_eq!(v.levels[1].len(), 1);
        versions_of(&v.levels[1][0])
    }

    #[test]
    fn a_merge_keeps_every_version_a_snapshot_can_see() {
        let f = fixture(Arc::new(StdIo::new()), false);
        // A reader at 3 sees a3 and b2; newer versions are kept whole.
        assert_eq!(
            compact(&f, 3),
            owned(&[
                ("a", 5, Kind::Put, "a5"),
                ("a", 3, Kind::Put, "a3"),
                ("b", 6, Kind::Delete, ""),
                ("b", 2, Kind::Put, "b2"),
                ("c", 4, Kind::Put, "c4"),
            ])
        );
        assert_eq!(f.counters.read().compactions, 1);
        assert!(
            !Compactor::default()
                .compact_once(&f.ctx(), || vec![3])
                .unwrap(),
            "nothing more is due"
        );
    }

    #[test]
    #[allow(clippy::field_reassign_with_default)]
    fn versions_between_snapshots_that_no_reader_sees_go() {
        let mut opts = Options::default();
        opts.l0_compaction_trigger = 2;
        let f = Fixture::new(Arc::new(StdIo::new()), opts, Version::empty(), Vec::new());
        let newer = f.table(&[
            ("a", 9, Kind::Put, "a9"),
            ("a", 7, Kind::Put, "a7"),
            ("b", 8, Kind::Delete, ""),
        ]);
        let older = f.table(&[
            ("a", 5, Kind::Put, "a5"),
            ("a", 3, Kind::Put, "a3"),
            ("a", 1, Kind::Put, "a1"),
            ("b", 6, Kind::Delete, ""),
            ("b", 2, Kind::Put, "b2"),
        ]);
        let mut version = Version::empty();
        version.levels[0] = vec![newer, older];
        let version = Arc::new(version);
        f.versions.install(|cur| SuperVersion {
            active: cur.active.clone(),
            frozen: Vec::new(),
            version,
        });
        assert!(
            Compactor::default()
                .compact_once(&f.ctx(), || vec![4, 6])
                .unwrap()
        );
        let v = f.versions.current().version.clone();
        // Readers at 4 see a3 and b2, at 6 a5 and b's tombstone 6, later
        // ones a9 and the tombstone 8: a7, a1 and nothing else go. The
        // tombstone 6 stays (the reader at 6 must not see b2).
        assert_eq!(
            versions_of(&v.levels[1][0]),
            owned(&[
                ("a", 9, Kind::Put, "a9"),
                ("a", 5, Kind::Put, "a5"),
                ("a", 3, Kind::Put, "a3"),
                ("b", 8, Kind::Delete, ""),
                ("b", 6, Kind::Delete, ""),
                ("b", 2, Kind::Put, "b2"),
            ])
        );
    }

    #[test]
    fn shadowed_versions_and_tombstones_go_at_the_last_level() {
        let f = fixture(Arc::new(StdIo::new()), false);
        // No reader below 10: only the newest version of each key, and no
        // tombstone, as no deeper level can hold the key.
        assert_eq!(
            compact(&f, 10),
            owned(&[("a", 5, Kind::Put, "a5"), ("c", 4, Kind::Put, "c4")])
        );
        let m = crate::manifest::Manifest::load(f.io.as_ref(), f.dir.path())
            .unwrap()
            .unwrap();
        assert!(m.levels[0].is_empty());
        assert_eq!(m.levels[1].len(), 1, "the manifest records the result");
    }

    #[test]
    fn a_tombstone_stays_while_a_deeper_level_may_hold_its_key() {
        let f = fixture(Arc::new(StdIo::new()), true);
        assert_eq!(
            compact(&f, 10),
            owned(&[
                ("a", 5, Kind::Put, "a5"),
                ("b", 6, Kind::Delete, ""),
                ("c", 4, Kind::Put, "c4"),
            ])
        );
        assert_eq!(
            f.versions.current().version.levels[2].len(),
            1,
            "the deeper level is not an input"
        );
    }

    /// Out of space, a compaction changes nothing (its outputs are
    /// removed) and is retried; other failures poison.
    #[test]
    fn a_failed_compaction_changes_nothing() {
        let mut failed = 0;
        for fault in [FaultKind::NoSpace, FaultKind::FailSync] {
            // Every step of the compaction in turn, until the fault falls
            // past it.
            for at in 0..64 {
                let sim = SimIo::new(Arc::new(StdIo::new()));
                let f = fixture(sim.clone(), false);
                let before: Vec<u64> = f.versions.current().version.levels[0]
                    .iter()
                    .map(|t| t.id())
                    .collect();
                let files = f.table_files();
                sim.inject(sim.ops() + at, fault);
                let compactor = Compactor::default();
                if compactor.compact_once(&f.ctx(), || vec![10]).is_ok() {
                    break;
                }
                failed += 1;
                let v = f.versions.current().version.clone();
                let ids: Vec<u64> = v.levels[0].iter().map(|t| t.id()).collect();
                assert_eq!(ids, before, "{fault:?} at {at}");
                assert!(v.levels[1..].iter().all(Vec::is_empty));
                assert_eq!(f.status.is_poisoned(), fault != FaultKind::NoSpace);
                if fault == FaultKind::NoSpace {
                    assert_eq!(f.table_files(), files, "outputs are removed");
                    assert!(compactor.compact_once(&f.ctx(), || vec![10]).unwrap());
                    assert_eq!(f.versions.current().version.levels[1].len(), 1);
                }
            }
        }
        assert!(failed > 4, "the faults fell on the compaction's steps");
    }
}
