//! Point reads by reference ([`crate::Snapshot::get_ref`], and borrowed:
//! [`crate::Snapshot::with_ref`]) through an engine whose tables hold
//! columnar blocks: against a `BTreeMap` model across the memtable,
//! row-block levels and columnar levels, with overwrites, deletes and
//! snapshots; and the blocks a table caches for
//! them never outlive the table (a compaction's output is read fresh).

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::testing::{Promising, TaggedLayout, row_key, tagged};
use super::{Field, PointRead, PointRef, ValueLayout};
use crate::{Engine, Options, Snapshot, WriteBatch};

type Model = BTreeMap<u64, Vec<u8>>;

/// Ids the tests use.
const IDS: u64 = 600;

fn engine(dir: &std::path::Path, from_level: usize) -> Engine {
    let opts = Options::default()
        .with_background(false)
        .with_columnar_block_rows(64)
        .with_columnar_from_level(from_level)
        .with_value_layout(Some(Arc::new(Promising::UTF8)));
    Engine::open(dir, opts).unwrap()
}

fn value(id: u64, generation: u64) -> Vec<u8> {
    let name = format!("n{id}-{generation}");
    match (id + generation) % 5 {
        // A short row, and one with a null.
        0 => tagged(&[Field::Int(id as i64)]),
        1 => tagged(&[Field::Int(id as i64), Field::Null, Field::Text(b"x")]),
        _ => tagged(&[
            Field::Int((id * generation) as i64),
            Field::Text(name.as_bytes()),
            Field::Float(generation as f64 / 3.0),
        ]),
    }
}

/// What `get_ref` finds for `id`, joined into bytes (checking that a
/// block row is the key's and live, and that its text was checked);
/// also checks that `get` finds the same.
fn read(s: &Snapshot, id: u64) -> Option<Vec<u8>> {
    let key = row_key(id);
    let got = match s.get_ref(&key).unwrap()? {
        PointRead::Row(v) => v.to_vec(),
        PointRead::Block { block, row } => {
            assert_eq!(&block.key_vec(row)[..], &key[..], "another key's row");
            assert!(!block.is_tombstone(row));
            assert!(block.text_is_utf8(), "a cached block's text is checked");
            let mut v = Vec::new();
            // The point-read path's fields join to the stored value.
            block.with_row_fields(row, |f| TaggedLayout.join(f, &mut v));
            v
        }
    };
    assert_eq!(s.get(&key).unwrap().as_deref(), Some(&got[..]), "get");
    assert_eq!(borrowed(s, id).as_ref(), Some(&got), "with_ref");
    Some(got)
}

/// What `with_ref` finds for `id`, joined into bytes while borrowed (with
/// the same checks as [`read`]).
fn borrowed(s: &Snapshot, id: u64) -> Option<Vec<u8>> {
    let key = row_key(id);
    s.with_ref(&key, |found| {
        Some(match found? {
            PointRef::Row(v) => v.to_vec(),
            PointRef::Block { block, row } => {
                let mut found_key = Vec::new();
                block.key_into(row, &mut found_key);
                assert_eq!(found_key, key, "another key's row");
                assert!(!block.is_tombstone(row));
                assert!(block.text_is_utf8(), "a cached block's text is checked");
                let mut v = Vec::new();
                block.with_row_fields(row, |f| TaggedLayout.join(f, &mut v));
                v
            }
        })
    })
    .unwrap()
}

fn check(s: &Snapshot, m: &Model) {
    for id in 0..IDS {
        assert_eq!(read(s, id), m.get(&id).cloned(), "id {id}");
        // A deleted or never written key: `with_ref` sees nothing either.
        if !m.contains_key(&id) {
            assert_eq!(borrowed(s, id), None, "with_ref of absent id {id}");
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    /// Puts ids `start..start + count` at a new generation.
    Put(u64, u64),
    /// Deletes ids `start..start + count`.
    Delete(u64, u64),
    Flush,
    Compact,
    Snapshot,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..IDS, 1..200u64).prop_map(|(s, c)| Op::Put(s, c)),
        2 => (0..IDS, 1..60u64).prop_map(|(s, c)| Op::Delete(s, c)),
        2 => Just(Op::Flush),
        2 => Just(Op::Compact),
        1 => Just(Op::Snapshot),
    ]
}

fn run(ops: &[Op], from_level: usize) {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), from_level);
    let mut m = Model::new();
    let mut snaps: Vec<(Snapshot, Model)> = Vec::new();
    for (seqno, op) in (1..).zip(ops) {
        let mut b = WriteBatch::new();
        match *op {
            Op::Put(s, c) => {
                for id in s..(s + c).min(IDS) {
                    let v = value(id, seqno);
                    b.put(&row_key(id)[..], &v[..]);
                    m.insert(id, v);
                }
            }
            Op::Delete(s, c) => {
                for id in s..(s + c).min(IDS) {
                    b.delete(&row_key(id)[..]);
                    m.remove(&id);
                }
            }
            Op::Flush => e.flush().unwrap(),
            Op::Compact => e.compact().unwrap(),
            Op::Snapshot => snaps.push((e.snapshot(), m.clone())),
        }
        if !b.is_empty() {
            e.apply(&b, seqno).unwrap();
        }
        // Reads between steps fill the tables' block caches.
        check(&e.snapshot(), &m);
    }
    e.flush().unwrap();
    e.compact().unwrap();
    check(&e.snapshot(), &m);
    for (s, sm) in &snaps {
        check(s, sm);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn point_reads_agree_with_the_model(
        ops in prop::collection::vec(op(), 1..24),
        from_level in 0..3usize,
    ) {
        run(&ops, from_level);
    }
}

/// Blocks cached by point reads, then every row overwritten or deleted
/// and compacted: reads see the new rows, and a snapshot taken before
/// still sees the old ones.
#[test]
fn cached_blocks_never_serve_stale_rows_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 0);
    let mut b = WriteBatch::new();
    let mut old = Model::new();
    for id in 0..IDS {
        let v = value(id, 1);
        b.put(&row_key(id)[..], &v[..]);
        old.insert(id, v);
    }
    e.apply(&b, 1).unwrap();
    e.compact().unwrap();
    assert!(e.stats().levels.iter().any(|l| l.columnar_blocks > 0));
    let before = e.snapshot();
    check(&before, &old);
    let mut b = WriteBatch::new();
    let mut new = Model::new();
    for id in 0..IDS {
        if id % 3 == 0 {
            b.delete(&row_key(id)[..]);
        } else {
            let v = value(id, 2);
            b.put(&row_key(id)[..], &v[..]);
            new.insert(id, v);
        }
    }
    e.apply(&b, 2).unwrap();
    e.compact().unwrap();
    check(&e.snapshot(), &new);
    check(&before, &old);
    drop(before);
    e.compact().unwrap();
    check(&e.snapshot(), &new);
}
