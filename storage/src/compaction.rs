//! Compaction: merges tables down the levels, dropping versions no reader
//! can see.
//!
//! Level 0 holds flushed tables, newest first, which may overlap (a small
//! tier that absorbs write bursts). Once it has `l0_compaction_trigger`
//! tables they are all merged with the overlapping part of level 1. Levels
//! 1..=6 are sorted runs of non-overlapping tables; when level `n` outgrows
//! its budget (`level1_budget` × 10^(n-1)) one table, chosen round-robin by
//! key, is merged into level `n+1`. `compact()` merges everything into one
//! level.
//!
//! Versions are dropped only below the oldest live snapshot: for each key,
//! every version newer than that snapshot is kept, plus the newest version at
//! or below it; that last one is dropped too when it is a tombstone and no
//! deeper level can hold an older version of the key. Inputs are marked
//! obsolete after the new manifest is durable; their files are deleted when
//! the last reader lets go of them.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use crate::engine::{Inner, Outcome};
use crate::error::Result;
use crate::iter::{MergeIter, Source};
use crate::sst::{Table, TableCursor};
use crate::types::{Entry, Kind, Seqno};
use crate::version::{NUM_LEVELS, Version};

/// One unit of compaction work.
struct Job {
    /// Tables to merge, by the level they are in.
    inputs: Vec<(usize, Arc<Table>)>,
    output_level: usize,
}

impl Job {
    fn key_range(&self) -> Option<(Bytes, Bytes)> {
        let lo = self.inputs.iter().map(|(_, t)| &t.meta().min_key).min()?;
        let hi = self.inputs.iter().map(|(_, t)| &t.meta().max_key).max()?;
        Some((lo.clone(), hi.clone()))
    }
}

impl Inner {
    /// Body of the background compaction thread.
    pub(crate) fn compaction_loop(&self) {
        self.background_loop(Inner::compaction_ready, Inner::compaction_step);
    }

    /// One step of the background compaction: runs one compaction if one
    /// is due.
    pub(crate) fn compaction_step(&self) -> Outcome {
        self.background_step("compaction", Inner::compaction_ready, Inner::compact_once)
    }

    fn compaction_ready(&self) -> bool {
        self.compaction_due(&self.current().version)
    }

    /// Runs one compaction if one is due; false when none was.
    pub(crate) fn compact_once(&self) -> Result<bool> {
        let _c = self.compaction_lock.lock();
        self.check_writable()?;
        let Some(job) = self.pick(&self.current().version) else {
            return Ok(false);
        };
        self.run(job)?;
        Ok(true)
    }

    /// Flushes, then merges every table into the deepest level in use.
    pub(crate) fn compact_all(&self) -> Result<()> {
        if self.io.is_none() {
            return Ok(());
        }
        self.flush_all()?;
        let _c = self.compaction_lock.lock();
        self.check_writable()?;
        let version = self.current().version.clone();
        let inputs: Vec<(usize, Arc<Table>)> = version
            .levels
            .iter()
            .enumerate()
            .flat_map(|(level, tables)| tables.iter().map(move |t| (level, t.clone())))
            .collect();
        if inputs.is_empty() {
            return Ok(());
        }
        let output_level = inputs.iter().map(|(l, _)| *l).max().unwrap_or(1).max(1);
        self.run(Job {
            inputs,
            output_level,
        })
    }

    fn level_budget(&self, level: usize) -> u64 {
        let mut budget = self.opts.level1_budget;
        for _ in 1..level {
            budget = budget.saturating_mul(10);
        }
        budget
    }

    /// Whether `pick` would find work (without moving the round-robin
    /// pointers).
    fn compaction_due(&self, version: &Version) -> bool {
        let l0 = version.levels[0].len();
        (l0 > 0 && l0 >= self.opts.l0_compaction_trigger)
            || (1..NUM_LEVELS - 1)
                .any(|level| version.level_bytes(level) > self.level_budget(level))
    }

    /// Chooses the next compaction, if any is due.
    fn pick(&self, version: &Version) -> Option<Job> {
        let l0 = &version.levels[0];
        if !l0.is_empty() && l0.len() >= self.opts.l0_compaction_trigger {
            let mut job = Job {
                inputs: l0.iter().map(|t| (0, t.clone())).collect(),
                output_level: 1,
            };
            let (lo, hi) = job.key_range()?;
            job.inputs
                .extend(version.overlapping(1, &lo, &hi).into_iter().map(|t| (1, t)));
            return Some(job);
        }
        for level in 1..NUM_LEVELS - 1 {
            if version.level_bytes(level) <= self.level_budget(level) {
                continue;
            }
            let tables = &version.levels[level];
            let mut pointers = self.compact_pointer.lock();
            let start = match &pointers[level] {
                Some(after) => tables
                    .iter()
                    .position(|t| t.meta().min_key > *after)
                    .unwrap_or(0),
                None => 0,
            };
            let table = tables.get(start)?.clone();
            pointers[level] = Some(table.meta().max_key.clone());
            let (lo, hi) = (table.meta().min_key.clone(), table.meta().max_key.clone());
            let mut inputs = vec![(level, table)];
            inputs.extend(
                version
                    .overlapping(level + 1, &lo, &hi)
                    .into_iter()
                    .map(|t| (level + 1, t)),
            );
            return Some(Job {
                inputs,
                output_level: level + 1,
            });
        }
        None
    }

    fn run(&self, job: Job) -> Result<()> {
        let result = self.run_job(&job);
        // Out of space, the inputs are untouched and the outputs removed.
        self.settle("compaction", &result);
        result
    }

    fn run_job(&self, job: &Job) -> Result<()> {
        let Some((lo, hi)) = job.key_range() else {
            return Ok(());
        };
        let version = self.current().version.clone();
        // Tombstones may go only if no deeper level can hold an older
        // version of their key.
        let bottom =
            (job.output_level + 1..NUM_LEVELS).all(|l| version.overlapping(l, &lo, &hi).is_empty());
        let horizon = self.oldest_snapshot();
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
            horizon,
            drop_tombstones: bottom,
            key: None,
            settled: false,
        };
        let outputs = self.write_tables(kept, job.output_level, self.opts.target_file_size)?;
        let written: u64 = outputs.iter().map(|t| t.meta().file_size).sum();

        let _v = self.version_lock.lock();
        let cur = self.current();
        let mut next = Version::clone(&cur.version);
        let gone: std::collections::HashSet<u64> = job.inputs.iter().map(|(_, t)| t.id()).collect();
        for level in &mut next.levels {
            level.retain(|t| !gone.contains(&t.id()));
        }
        let outputs: Vec<Arc<Table>> = outputs.into_iter().map(Arc::new).collect();
        let out_level = &mut next.levels[job.output_level];
        out_level.extend(outputs.iter().cloned());
        out_level.sort_by(|a, b| a.meta().min_key.cmp(&b.meta().min_key));
        if let Err(e) = self.store_manifest(&next, self.flushed_seqno.load(Ordering::Acquire)) {
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
        self.install(|cur| crate::version::SuperVersion {
            active: cur.active.clone(),
            frozen: cur.frozen.clone(),
            version: next,
        });
        for (_, t) in &job.inputs {
            t.mark_obsolete();
        }
        self.counters.compactions.fetch_add(1, Ordering::Relaxed);
        self.counters
            .bytes_compacted
            .fetch_add(written, Ordering::Relaxed);
        Ok(())
    }
}

/// Filters a merged stream down to the versions compaction must keep.
struct Retain {
    inner: MergeIter,
    horizon: Seqno,
    drop_tombstones: bool,
    key: Option<Bytes>,
    /// Whether the current key's newest version at or below the horizon has
    /// been seen (everything older is invisible to every reader).
    settled: bool,
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
                self.settled = false;
            }
            if e.seqno > self.horizon {
                return Some(Ok(e));
            }
            if self.settled {
                continue;
            }
            self.settled = true;
            if e.kind == Kind::Delete && self.drop_tombstones {
                continue;
            }
            return Some(Ok(e));
        }
    }
}
