//! The choice of what to compact: a pure function of a [`Version`], the
//! options and the round-robin pointers.
//!
//! Once level 0 has `l0_compaction_trigger` tables they are all merged with
//! the overlapping part of level 1. Otherwise, when level `n` (1..=5)
//! outgrows its budget (`level1_budget` × 10^(n-1)), one of its tables,
//! the first that starts after the level's pointer (wrapping around), is
//! merged with the overlapping tables of level `n+1`.

use std::sync::Arc;

use bytes::Bytes;

use crate::options::Options;
use crate::sst::Table;
use crate::version::{NUM_LEVELS, Version};

/// One unit of compaction work.
#[derive(Debug)]
pub(crate) struct Job {
    /// Tables to merge, by the level they are in.
    pub inputs: Vec<(usize, Arc<Table>)>,
    pub output_level: usize,
    /// The round-robin pointer the job moves: the level it compacts out of
    /// and the largest key it takes from there.
    pub pointer: Option<(usize, Bytes)>,
}

impl Job {
    /// The smallest and largest key of the inputs (`None` without inputs).
    pub(crate) fn key_range(&self) -> Option<(Bytes, Bytes)> {
        let lo = self.inputs.iter().map(|(_, t)| &t.meta().min_key).min()?;
        let hi = self.inputs.iter().map(|(_, t)| &t.meta().max_key).max()?;
        Some((lo.clone(), hi.clone()))
    }
}

/// The size budget of `level` (1 and deeper).
pub(crate) fn level_budget(opts: &Options, level: usize) -> u64 {
    let mut budget = opts.level1_budget;
    for _ in 1..level {
        budget = budget.saturating_mul(10);
    }
    budget
}

/// Whether [`pick`] would find work.
pub(crate) fn compaction_due(version: &Version, opts: &Options) -> bool {
    let l0 = version.levels[0].len();
    (l0 > 0 && l0 >= opts.l0_compaction_trigger)
        || (1..NUM_LEVELS - 1).any(|level| version.level_bytes(level) > level_budget(opts, level))
}

/// Chooses the next compaction, if any is due; `pointers` holds, per level,
/// the largest key of the last table compacted out of it.
pub(crate) fn pick(version: &Version, opts: &Options, pointers: &[Option<Bytes>]) -> Option<Job> {
    let l0 = &version.levels[0];
    if !l0.is_empty() && l0.len() >= opts.l0_compaction_trigger {
        let mut job = Job {
            inputs: l0.iter().map(|t| (0, t.clone())).collect(),
            output_level: 1,
            pointer: None,
        };
        let (lo, hi) = job.key_range()?;
        job.inputs
            .extend(version.overlapping(1, &lo, &hi).into_iter().map(|t| (1, t)));
        return Some(job);
    }
    for level in 1..NUM_LEVELS - 1 {
        if version.level_bytes(level) <= level_budget(opts, level) {
            continue;
        }
        let tables = &version.levels[level];
        let start = match pointers.get(level).and_then(Option::as_ref) {
            Some(after) => tables
                .iter()
                .position(|t| t.meta().min_key > *after)
                .unwrap_or(0),
            None => 0,
        };
        let table = tables.get(start)?.clone();
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
            pointer: Some((level, hi)),
        });
    }
    None
}

/// The job of a full compaction: every table, into the deepest level in
/// use (at least level 1); `None` when there are no tables.
pub(crate) fn everything(version: &Version) -> Option<Job> {
    let inputs: Vec<(usize, Arc<Table>)> = version
        .levels
        .iter()
        .enumerate()
        .flat_map(|(level, tables)| tables.iter().map(move |t| (level, t.clone())))
        .collect();
    if inputs.is_empty() {
        return None;
    }
    let output_level = inputs.iter().map(|(l, _)| *l).max().unwrap_or(1).max(1);
    Some(Job {
        inputs,
        output_level,
        pointer: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::testing::Fixture;
    use crate::types::Kind;

    /// A table over keys `lo..=hi` (two keys, so that its size is about
    /// the same whatever the keys).
    fn table(f: &Fixture, lo: &str, hi: &str) -> Arc<Table> {
        f.table(&[(lo, 1, Kind::Put, "v"), (hi, 1, Kind::Put, "v")])
    }

    fn version(levels: Vec<Vec<Arc<Table>>>) -> Version {
        let mut v = Version::empty();
        for (level, tables) in levels.into_iter().enumerate() {
            v.levels[level] = tables;
        }
        v
    }

    /// The inputs of a job as `(level, table id)`, sorted.
    fn inputs(job: &Job) -> Vec<(usize, u64)> {
        let mut v: Vec<(usize, u64)> = job.inputs.iter().map(|(l, t)| (*l, t.id())).collect();
        v.sort();
        v
    }

    // Options are set field by field, as for a `#[non_exhaustive]` struct.
    #[allow(clippy::field_reassign_with_default)]
    fn opts(l0_trigger: usize, level1_budget: u64) -> Options {
        let mut o = Options::default();
        o.l0_compaction_trigger = l0_trigger;
        o.level1_budget = level1_budget;
        o
    }

    #[test]
    fn nothing_to_do() {
        let f = Fixture::std();
        let none = opts(4, 1 << 30);
        assert!(pick(&Version::empty(), &none, &[]).is_none());
        assert!(!compaction_due(&Version::empty(), &none));
        // Level 0 below its trigger, level 1 within its budget.
        let v = version(vec![
            vec![
                table(&f, "a", "c"),
                table(&f, "b", "d"),
                table(&f, "a", "z"),
            ],
            vec![table(&f, "a", "m"), table(&f, "n", "z")],
        ]);
        assert!(pick(&v, &none, &[]).is_none());
        assert!(!compaction_due(&v, &none));
        // A trigger of 0 does not mean "always" for an empty level 0.
        assert!(pick(&Version::empty(), &opts(0, 1 << 30), &[]).is_none());
    }

    #[test]
    fn level0_at_its_trigger_merges_into_the_overlapping_part_of_level1() {
        let f = Fixture::std();
        let l0 = vec![table(&f, "d", "f"), table(&f, "c", "e")];
        let l1 = vec![
            table(&f, "a", "b"),
            table(&f, "b1", "c5"),
            table(&f, "e5", "g"),
            table(&f, "h", "k"),
        ];
        let ids = |ts: &[Arc<Table>]| ts.iter().map(|t| t.id()).collect::<Vec<_>>();
        let (l0_ids, l1_ids) = (ids(&l0), ids(&l1));
        let v = version(vec![l0, l1]);
        let o = opts(2, 1 << 30);
        assert!(compaction_due(&v, &o));
        let job = pick(&v, &o, &[]).unwrap();
        assert_eq!(job.output_level, 1);
        assert!(job.pointer.is_none());
        // Level 0 spans c..f: the level-1 tables b1..c5 and e5..g overlap it.
        let mut want = vec![
            (0, l0_ids[0]),
            (0, l0_ids[1]),
            (1, l1_ids[1]),
            (1, l1_ids[2]),
        ];
        want.sort();
        assert_eq!(inputs(&job), want);
        assert_eq!(
            job.key_range(),
            Some((Bytes::from_static(b"b1"), Bytes::from_static(b"g")))
        );
        assert!(
            pick(&v, &opts(3, 1 << 30), &[]).is_none(),
            "below the trigger"
        );
    }

    #[test]
    fn a_level_over_budget_sends_one_table_down_round_robin() {
        let f = Fixture::std();
        let l1 = vec![
            table(&f, "a", "c"),
            table(&f, "d", "f"),
            table(&f, "g", "i"),
        ];
        let l2 = vec![
            table(&f, "a", "b"),
            table(&f, "c", "d5"),
            table(&f, "e", "e5"),
            table(&f, "h", "z"),
        ];
        let l1_ids: Vec<u64> = l1.iter().map(|t| t.id()).collect();
        let l2_ids: Vec<u64> = l2.iter().map(|t| t.id()).collect();
        let v = version(vec![vec![], l1, l2]);
        // Level 1 holds three tables; a budget below that is overflowed.
        let o = opts(4, v.level_bytes(1) - 1);
        assert!(compaction_due(&v, &o));
        assert!(
            pick(&v, &opts(4, v.level_bytes(1)), &[]).is_none(),
            "at budget"
        );

        let mut pointers = vec![None; NUM_LEVELS];
        let mut chosen = Vec::new();
        for _ in 0..4 {
            let job = pick(&v, &o, &pointers).unwrap();
            assert_eq!(job.output_level, 2);
            let (level, key) = job.pointer.clone().unwrap();
            assert_eq!(level, 1);
            let from_l1: Vec<u64> = job
                .inputs
                .iter()
                .filter(|(l, _)| *l == 1)
                .map(|(_, t)| t.id())
                .collect();
            assert_eq!(from_l1.len(), 1, "one table of the level");
            let t = v.levels[1].iter().find(|t| t.id() == from_l1[0]).unwrap();
            assert_eq!(key, t.meta().max_key, "the pointer moves past it");
            chosen.push((from_l1[0], inputs(&job)));
            pointers[level] = Some(key);
        }
        assert_eq!(
            chosen.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
            vec![l1_ids[0], l1_ids[1], l1_ids[2], l1_ids[0]],
            "round robin, wrapping around"
        );
        // Each pulls in the level-2 tables it overlaps.
        assert_eq!(
            chosen[0].1,
            vec![(1, l1_ids[0]), (2, l2_ids[0]), (2, l2_ids[1])]
        );
        assert_eq!(
            chosen[1].1,
            vec![(1, l1_ids[1]), (2, l2_ids[1]), (2, l2_ids[2])]
        );
        assert_eq!(chosen[2].1, vec![(1, l1_ids[2]), (2, l2_ids[3])]);
    }

    #[test]
    fn level0_goes_before_an_overflowing_level_and_deeper_budgets_grow_tenfold() {
        let f = Fixture::std();
        let v = version(vec![
            vec![table(&f, "a", "b")],
            vec![table(&f, "a", "b"), table(&f, "c", "d")],
        ]);
        let o = opts(1, 1);
        assert_eq!(pick(&v, &o, &[]).unwrap().output_level, 1);
        assert_eq!(level_budget(&o, 1), 1);
        let o = opts(4, 7);
        assert_eq!(level_budget(&o, 3), 700);
        assert_eq!(pick(&v, &o, &[]).unwrap().output_level, 2);
    }

    #[test]
    fn everything_takes_every_table_into_the_deepest_level_in_use() {
        let f = Fixture::std();
        assert!(everything(&Version::empty()).is_none());
        let v = version(vec![vec![table(&f, "a", "b")]]);
        assert_eq!(everything(&v).unwrap().output_level, 1);
        let v = version(vec![
            vec![table(&f, "a", "b")],
            vec![],
            vec![],
            vec![table(&f, "c", "d")],
        ]);
        let job = everything(&v).unwrap();
        assert_eq!(job.output_level, 3);
        assert_eq!(job.inputs.len(), 2);
    }
}
