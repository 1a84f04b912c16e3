//! The piece-wise scan against `scan` and a `BTreeMap` model, over random
//! puts, deletes, overwrites, flushes, compactions and snapshots; zone-map
//! skipping against the model; and the whole-block rules at block edges.

use crate::columnar::PointRead;
use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::columnar::testing::{TaggedLayout, row_key, tagged};
use crate::columnar::{Field, ValueLayout, Zone};
use crate::{Engine, KeyRange, Options, Snapshot, WriteBatch};

type Model = BTreeMap<Vec<u8>, Vec<u8>>;
/// Key/value pairs, owned.
type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

fn engine(dir: &std::path::Path, block_rows: usize) -> Engine {
    let opts = Options::default()
        .with_background(false)
        .with_columnar_block_rows(block_rows)
        .with_value_layout(Some(Arc::new(TaggedLayout)));
    Engine::open(dir, opts).unwrap()
}

fn value(a: i64, name: u8) -> Vec<u8> {
    tagged(&[Field::Int(a), Field::Text(format!("n{name}").as_bytes())])
}

/// The pairs of `pieces`, values of block rows joined by the layout.
fn materialize(pieces: Pieces<'_>) -> (Pairs, usize) {
    let mut out = Vec::new();
    let mut blocks = 0;
    for p in pieces {
        match p.unwrap() {
            Piece::Rows(rows) => {
                assert!(!rows.is_empty());
                out.extend(rows.into_iter().map(|(k, v)| (k.to_vec(), v.to_vec())));
            }
            Piece::Block { block, rows } => {
                assert!(!rows.is_empty(block.rows()));
                blocks += 1;
                for r in rows.iter(block.rows()) {
                    let mut v = Vec::new();
                    block.value(r, &TaggedLayout, &mut v);
                    out.push((block.key_vec(r), v));
                }
            }
        }
    }
    (out, blocks)
}

/// The values of `pieces` read through [`Pieces::next_lent`], the
/// callback stopping after `per_call` rows each time; block rows joined
/// by the layout.
fn materialize_lent(mut pieces: Pieces<'_>, per_call: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let mut taken = 0;
        let mut values = Vec::new();
        let next = pieces.next_lent(|v| {
            values.push(v.to_vec());
            taken += 1;
            taken < per_call
        });
        match next {
            None => {
                assert!(values.is_empty());
                return out;
            }
            Some(Ok(Lent::Rows(n))) => {
                assert!(n > 0 && n <= per_call);
                assert_eq!(n, values.len());
                out.extend(values);
            }
            Some(Ok(Lent::Block { block, rows })) => {
                assert!(values.is_empty());
                assert!(!rows.is_empty(block.rows()));
                for r in rows.iter(block.rows()) {
                    let mut v = Vec::new();
                    block.value(r, &TaggedLayout, &mut v);
                    out.push(v);
                }
            }
            Some(Err(e)) => panic!("{e}"),
        }
    }
}

/// `get_ref`'s find, a block row joined by the layout; checks that the
/// block row is the key's.
fn get_ref(s: &Snapshot, key: &[u8]) -> Option<Vec<u8>> {
    match s.get_ref(key).unwrap()? {
        PointRead::Row(v) => Some(v.to_vec()),
        PointRead::Block { block, row } => {
            assert_eq!(
                &block.key_vec(row)[..],
                key,
                "get_ref found another key's row"
            );
            assert!(!block.is_tombstone(row), "get_ref found a tombstone");
            let mut v = Vec::new();
            block.value(row, &TaggedLayout, &mut v);
            Some(v)
        }
    }
}

fn scan(s: &Snapshot, range: impl KeyRange) -> Pairs {
    s.scan(range)
        .map(|r| {
            let (k, v) = r.unwrap();
            (k.to_vec(), v.to_vec())
        })
        .collect()
}

/// First field of a value, when it is an int.
fn first_int(v: &[u8]) -> Option<i64> {
    let mut f = Vec::new();
    if TaggedLayout.split(v, &mut f)
        && let Some(Field::Int(a)) = f.first()
    {
        return Some(*a);
    }
    None
}

/// Skips blocks whose first column's ints are all at most `0`.
struct IntAbove(i64);

impl BlockFilter for IntAbove {
    fn check(&self, zones: &Zones<'_>) -> Verdict {
        match zones.column(0).range {
            Zone::Int { max, .. } if max <= self.0 => Verdict::Skip,
            Zone::Empty => Verdict::Skip,
            Zone::Int { min, .. } if min > self.0 => Verdict::All,
            _ => Verdict::Some,
        }
    }
}

/// Checks one view: `scan` against the model, pieces against `scan` (all
/// of it, and a sub-range), and a filtered piece scan against the model's
/// matching rows. Returns the number of block pieces seen.
fn check_view(s: &Snapshot, m: &Model, cut: i64) -> usize {
    let want: Pairs = m.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(scan(s, ..), want, "scan differs from the model");
    for id in 0..250 {
        let k = row_key(id);
        let got = s.get(&k).unwrap().map(|v| v.to_vec());
        assert_eq!(
            got.as_ref(),
            m.get(&k),
            "point read of row {id} differs from the model"
        );
        assert_eq!(
            get_ref(s, &k).as_ref(),
            m.get(&k),
            "point read by reference of row {id} differs from the model"
        );
    }
    for k in m.keys().filter(|k| k.first() == Some(&b'i')) {
        assert_eq!(
            get_ref(s, k).as_ref(),
            m.get(k),
            "get_ref of a row-block key"
        );
    }
    let (got, blocks) = materialize(s.pieces(.., None));
    assert_eq!(got, want, "pieces differ from scan");
    let values: Vec<Vec<u8>> = want.iter().map(|(_, v)| v.clone()).collect();
    for per_call in [1, 7, usize::MAX] {
        let got = materialize_lent(s.pieces(.., None), per_call);
        assert_eq!(
            got, values,
            "lent pieces differ from scan ({per_call} a call)"
        );
    }
    let (lo, hi) = (row_key(40), row_key(170));
    let (got, _) = materialize(s.pieces(lo.clone()..hi.clone(), None));
    assert_eq!(
        got,
        scan(s, lo.clone()..hi.clone()),
        "ranged pieces differ from scan"
    );
    let got = materialize_lent(s.pieces(lo.clone()..hi.clone(), None), 5);
    let ranged: Vec<Vec<u8>> = scan(s, lo..hi).into_iter().map(|(_, v)| v).collect();
    assert_eq!(got, ranged, "ranged lent pieces differ from scan");
    let filter = IntAbove(cut);
    let (got, _) = materialize(s.pieces(.., Some(&filter)));
    let matching = |kv: &&(Vec<u8>, Vec<u8>)| first_int(&kv.1).is_some_and(|a| a > cut);
    let got: Vec<_> = got.iter().filter(matching).cloned().collect();
    let want: Vec<_> = want.iter().filter(matching).cloned().collect();
    assert_eq!(got, want, "a zone map skipped a matching row");
    blocks
}

#[derive(Debug, Clone)]
enum Op {
    /// Rows `start..start + count` with first field `a + id`.
    Put(u64, u64, i64, u8),
    Delete(u64, u64),
    /// A key outside any group.
    Other(u8),
    Flush,
    Compact,
    Snapshot,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u64..250, 1u64..60, -50i64..50, 0u8..4).prop_map(|(s, c, a, n)| Op::Put(s, c, a, n)),
        2 => (0u64..250, 1u64..20).prop_map(|(s, c)| Op::Delete(s, c)),
        1 => any::<u8>().prop_map(Op::Other),
        2 => Just(Op::Flush),
        1 => Just(Op::Compact),
        1 => Just(Op::Snapshot),
    ]
}

fn run(ops: &[Op], block_rows: usize, cut: i64) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), block_rows);
    let mut m = Model::new();
    let mut snaps: Vec<(Snapshot, Model)> = Vec::new();
    let mut seqno = 0;
    let mut blocks = 0;
    for op in ops {
        let mut b = WriteBatch::new();
        match op {
            Op::Put(s, c, a, n) => {
                for id in *s..s + c {
                    let v = value(a + id as i64, *n);
                    b.put(&row_key(id)[..], &v[..]);
                    m.insert(row_key(id), v);
                }
            }
            Op::Delete(s, c) => {
                for id in *s..s + c {
                    b.delete(&row_key(id)[..]);
                    m.remove(&row_key(id));
                }
            }
            Op::Other(x) => {
                let k = vec![b'i', *x];
                b.put(&k[..], &b"index"[..]);
                m.insert(k, b"index".to_vec());
            }
            Op::Flush => e.flush().unwrap(),
            Op::Compact => e.compact().unwrap(),
            Op::Snapshot => snaps.push((e.snapshot(), m.clone())),
        }
        if !b.is_empty() {
            seqno += 1;
            e.apply(&b, seqno).unwrap();
        }
    }
    blocks += check_view(&e.snapshot(), &m, cut);
    for (s, sm) in &snaps {
        blocks += check_view(s, sm, cut);
    }
    e.flush().unwrap();
    e.compact().unwrap();
    blocks += check_view(&e.snapshot(), &m, cut);
    for (s, sm) in &snaps {
        blocks += check_view(s, sm, cut);
    }
    blocks
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn pieces_agree_with_scan_and_the_model(
        ops in prop::collection::vec(op(), 1..40),
        block_rows in prop::sample::select(vec![1usize, 7, 64, 4096]),
        cut in -20i64..200,
    ) {
        run(&ops, block_rows, cut);
    }
}

/// A row of shape `shape % 3` (each block of the test below holds one
/// shape, so the blocks of one table have different column directories).
fn shaped(id: u64, shape: u64, generation: i64) -> Vec<u8> {
    let a = generation * 1000 + id as i64;
    let name = format!("row {id} of generation {generation}");
    match shape % 3 {
        0 => tagged(&[Field::Int(a)]),
        1 => tagged(&[
            Field::Text(name.as_bytes()),
            Field::Int(a),
            Field::Float(a as f64 / 4.0),
        ]),
        _ => tagged(&[
            Field::Bool(a % 2 == 0),
            Field::Null,
            Field::Blob(name.as_bytes()),
            Field::Int(-a),
        ]),
    }
}

/// Point reads on columnar blocks go through each block's parsed column
/// directory, which its table keeps after the first read: blocks of one
/// table with differently shaped rows read with their own directory, and
/// after the rows are rewritten and compacted, reads see the new tables'
/// blocks while a snapshot taken before still reads the old ones.
#[test]
fn point_reads_use_each_blocks_own_directory() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 8);
    let put_all = |generation: i64, seqno: u64| {
        let mut b = WriteBatch::new();
        for id in 0..48 {
            let shape = id / 8 + generation as u64;
            b.put(&row_key(id)[..], &shaped(id, shape, generation)[..]);
        }
        e.apply(&b, seqno).unwrap();
        e.flush().unwrap();
        e.compact().unwrap();
    };
    let check = |s: &Snapshot, generation: i64| {
        for id in 0..48 {
            let want = shaped(id, id / 8 + generation as u64, generation);
            let got = s.get(&row_key(id)).unwrap().map(|v| v.to_vec());
            assert_eq!(got, Some(want), "row {id} of generation {generation}");
        }
    };
    put_all(0, 1);
    let before = e.snapshot();
    check(&before, 0);
    check(&before, 0);
    put_all(1, 2);
    check(&e.snapshot(), 1);
    check(&e.snapshot(), 1);
    check(&before, 0);
}

/// With `columnar_from_level` 1, a flush into level 0 writes row blocks
/// (the piece scan yields no block) and the compaction below it writes
/// columnar blocks; reads agree with the model throughout.
#[test]
fn columnar_from_level_keeps_level_0_in_row_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let opts = Options::default()
        .with_background(false)
        .with_columnar_block_rows(16)
        .with_columnar_from_level(1)
        .with_value_layout(Some(Arc::new(TaggedLayout)));
    let e = Engine::open(dir.path(), opts).unwrap();
    let mut m = Model::new();
    let mut b = WriteBatch::new();
    for id in 0..100 {
        let v = value(id as i64, 1);
        b.put(&row_key(id)[..], &v[..]);
        m.insert(row_key(id), v);
    }
    e.apply(&b, 1).unwrap();
    e.flush().unwrap();
    assert_eq!(e.stats().levels[0].files, 1);
    assert_eq!(
        check_view(&e.snapshot(), &m, 50),
        0,
        "level 0 holds a columnar block"
    );
    e.compact().unwrap();
    assert_eq!(e.stats().levels[0].files, 0);
    assert!(
        check_view(&e.snapshot(), &m, 50) > 0,
        "no columnar block below level 0"
    );
}

/// A range that starts or ends inside a columnar block comes up as a
/// block piece selecting exactly the rows in range (when at least 32 rows
/// of the block are), not row by row.
#[test]
fn a_range_inside_a_block_comes_up_as_a_block_piece() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 4096);
    let mut m = Model::new();
    let mut b = WriteBatch::new();
    for id in 0..1000 {
        let v = value(id as i64, 3);
        b.put(&row_key(id)[..], &v[..]);
        m.insert(row_key(id), v);
    }
    e.apply(&b, 1).unwrap();
    e.flush().unwrap();
    e.compact().unwrap();
    let s = e.snapshot();
    let model = |lo: u64, hi: u64| -> Pairs {
        m.range(row_key(lo)..row_key(hi))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    for (lo, hi, blocks) in [
        (100, 200, 1),
        (0, 50, 1),
        (950, 1000, 1),
        (10, 990, 1),
        (500, 520, 0),
    ] {
        let (got, n) = materialize(s.pieces(row_key(lo)..row_key(hi), None));
        assert_eq!(got, model(lo, hi), "rows {lo}..{hi}");
        assert_eq!(n, blocks, "block pieces of rows {lo}..{hi}");
        let (got, n) = materialize(s.pieces(row_key(lo)..=row_key(hi - 1), None));
        assert_eq!(got, model(lo, hi), "rows {lo}..={}", hi - 1);
        assert_eq!(n, blocks, "block pieces of rows {lo}..={}", hi - 1);
    }
}

#[test]
fn compacted_rows_come_up_as_whole_blocks() {
    // One table, its rows in blocks of 64: every block comes up whole.
    let ops = [
        Op::Put(0, 200, 0, 1),
        Op::Put(100, 20, 5, 2),
        Op::Delete(10, 5),
        Op::Flush,
        Op::Compact,
    ];
    assert!(run(&ops, 64, 150) > 0);
}

/// A block whose last key another source also holds is read row by row;
/// the blocks around it come up whole.
#[test]
fn a_block_overlapped_by_another_source_is_read_row_by_row() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 10);
    let mut b = WriteBatch::new();
    for id in 0..30 {
        b.put(&row_key(id)[..], &value(id as i64, 0)[..]);
    }
    e.apply(&b, 1).unwrap();
    e.flush().unwrap();
    // Blocks hold rows 0..10, 10..20, 20..30. A newer version of row 19
    // (the last key of the middle block) sits in the memtable.
    let mut b = WriteBatch::new();
    b.put(&row_key(19)[..], &value(1000, 1)[..]);
    e.apply(&b, 2).unwrap();
    let s = e.snapshot();
    let kinds: Vec<String> = s
        .pieces(.., None)
        .map(|p| match p.unwrap() {
            Piece::Rows(r) => format!("rows {}", r.len()),
            Piece::Block { block, rows } => format!("block {}", rows.len(block.rows())),
        })
        .collect();
    // Rows 10..19 and the memtable's row 19 interleave; once the
    // memtable is past, the last block is alone again.
    assert_eq!(kinds, ["block 10", "rows 10", "block 10"]);
    let mut m = Model::new();
    for id in 0..30 {
        m.insert(row_key(id), value(id as i64, 0));
    }
    m.insert(row_key(19), value(1000, 1));
    check_view(&s, &m, 5);
}

/// Versions above the snapshot and older versions kept for it: the block
/// is still taken whole, with a selection of its live rows.
#[test]
fn a_block_with_versions_for_snapshots_selects_its_live_rows() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 4096);
    let mut b = WriteBatch::new();
    for id in 0..10 {
        b.put(&row_key(id)[..], &value(id as i64, 0)[..]);
    }
    e.apply(&b, 1).unwrap();
    let old = e.snapshot();
    let mut b = WriteBatch::new();
    b.put(&row_key(3)[..], &value(33, 1)[..]);
    b.delete(&row_key(4)[..]);
    e.apply(&b, 2).unwrap();
    e.flush().unwrap();
    let new = e.snapshot();
    // Rows in internal order: keys 0, 1, 2, then 3 at seqnos 2 and 1, 4
    // (a tombstone at 2) and at 1, then 5..=9.
    let old_rows = vec![0u32, 1, 2, 4, 6, 7, 8, 9, 10, 11];
    let new_rows = vec![0u32, 1, 2, 3, 7, 8, 9, 10, 11];
    for (s, want) in [(&old, old_rows), (&new, new_rows)] {
        let pieces: Vec<Piece> = s.pieces(.., None).map(Result::unwrap).collect();
        assert_eq!(pieces.len(), 1);
        let Piece::Block { block, rows } = &pieces[0] else {
            panic!("expected a block piece");
        };
        assert_eq!(block.rows(), 12);
        assert_eq!(rows, &Selection::Rows(want));
    }
}

#[test]
fn a_filter_skips_blocks_by_their_zone_maps() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 64);
    let mut b = WriteBatch::new();
    for id in 0..256 {
        b.put(&row_key(id)[..], &value(id as i64, 0)[..]);
    }
    e.apply(&b, 1).unwrap();
    e.flush().unwrap();
    let s = e.snapshot();
    let (all, blocks) = materialize(s.pieces(.., None));
    assert_eq!((all.len(), blocks), (256, 4));
    // Blocks of ids 0..64 and 64..128 cannot hold a first field above 130.
    let (some, blocks) = materialize(s.pieces(.., Some(&IntAbove(130))));
    assert_eq!((some.len(), blocks), (128, 2));
    assert_eq!(some[..], all[128..]);
}

/// A data directory written without a layout (version 1 tables) opens
/// with one and reads as before; compaction rewrites its rows by column.
#[test]
fn a_directory_of_version_1_tables_reads_with_a_layout() {
    let dir = tempfile::tempdir().unwrap();
    let mut m = Model::new();
    {
        let e = Engine::open(dir.path(), Options::default().with_background(false)).unwrap();
        let mut b = WriteBatch::new();
        for id in 0..100 {
            b.put(&row_key(id)[..], &value(id as i64, 1)[..]);
            m.insert(row_key(id), value(id as i64, 1));
        }
        b.put(&b"i1"[..], &b"index"[..]);
        m.insert(b"i1".to_vec(), b"index".to_vec());
        e.apply(&b, 1).unwrap();
        e.flush().unwrap();
        e.close().unwrap();
    }
    let e = engine(dir.path(), 16);
    assert_eq!(check_view(&e.snapshot(), &m, 10), 0, "version 1 tables");
    let mut b = WriteBatch::new();
    b.delete(&row_key(5)[..]);
    m.remove(&row_key(5));
    e.apply(&b, 2).unwrap();
    e.flush().unwrap();
    e.compact().unwrap();
    assert!(check_view(&e.snapshot(), &m, 10) > 0, "rewritten by column");
    for id in [0, 5, 50, 99] {
        assert_eq!(
            e.get(&row_key(id)).unwrap().map(|v| v.to_vec()),
            m.get(&row_key(id)).cloned()
        );
    }
}

/// Runs at block edges: the rows of a block below another source's next
/// key come up as a block piece of that range, the shared key row by row,
/// and the rest of the block as a range again.
#[test]
fn a_block_splits_into_runs_around_another_sources_key() {
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 4096);
    let mut b = WriteBatch::new();
    for id in 0..100 {
        b.put(&row_key(id)[..], &value(id as i64, 0)[..]);
    }
    e.apply(&b, 1).unwrap();
    e.flush().unwrap();
    let mut b = WriteBatch::new();
    b.put(&row_key(50)[..], &value(-1, 1)[..]);
    b.put(&row_key(90)[..], &value(-2, 1)[..]);
    e.apply(&b, 2).unwrap();
    let s = e.snapshot();
    let kinds: Vec<String> = s
        .pieces(.., None)
        .map(|p| match p.unwrap() {
            Piece::Rows(r) => format!("rows {}", r.len()),
            Piece::Block { rows, .. } => format!("block {rows:?}"),
        })
        .collect();
    // 0..50 is a run; 50 comes from the memtable; 51..90 is a run (39
    // rows); 90 from the memtable; 91..100 is too short for a run.
    assert_eq!(
        kinds,
        [
            "block Range { start: 0, end: 50 }",
            "rows 1",
            "block Range { start: 51, end: 90 }",
            "rows 10"
        ]
    );
    let mut m = Model::new();
    for id in 0..100 {
        m.insert(row_key(id), value(id as i64, 0));
    }
    m.insert(row_key(50), value(-1, 1));
    m.insert(row_key(90), value(-2, 1));
    check_view(&s, &m, 20);
}

/// Counting the rows of one table with a filter on its first column, by
/// `scan` of the same rows in row blocks (no layout) and in columnar
/// blocks (every value joined, then decoded by the caller), and by
/// `pieces` (the FOR ints of each block piece read in bulk):
/// `cargo nextest run -p fasty-storage --lib --run-ignored ignored-only -E 'test(bench_pieces)' --no-capture`.
#[test]
#[ignore = "benchmark"]
fn bench_pieces_against_scan() {
    use std::time::Instant;
    let n: u64 = std::env::var("BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let load = |e: &Engine| {
        let mut b = WriteBatch::new();
        for id in 0..n {
            b.put(
                &row_key(id)[..],
                &value((id % 1000) as i64, (id % 4) as u8)[..],
            );
            if b.len() >= 10_000 {
                e.apply(&b, id + 1).unwrap();
                b = WriteBatch::new();
            }
        }
        e.apply(&b, n + 1).unwrap();
        e.flush().unwrap();
        e.compact().unwrap();
    };
    let (dir, rows_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let e = engine(dir.path(), 4096);
    load(&e);
    let rows_engine =
        Engine::open(rows_dir.path(), Options::default().with_background(false)).unwrap();
    load(&rows_engine);
    let rs = rows_engine.snapshot();
    let s = e.snapshot();
    let mut times = (Vec::new(), Vec::new());
    let mut row_times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let mut count0 = 0u64;
        for kv in rs.scan(..) {
            count0 += u64::from(first_int(&kv.unwrap().1).is_some_and(|a| a > 900));
        }
        row_times.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let mut count = 0u64;
        for kv in s.scan(..) {
            count += u64::from(first_int(&kv.unwrap().1).is_some_and(|a| a > 900));
        }
        times.0.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let mut count2 = 0u64;
        let mut ints = Vec::new();
        for p in s.pieces(.., None) {
            match p.unwrap() {
                Piece::Rows(rows) => {
                    count2 += rows
                        .iter()
                        .filter(|(_, v)| first_int(v).is_some_and(|a| a > 900))
                        .count() as u64;
                }
                Piece::Block { block, rows } => {
                    ints.clear();
                    block.column(0).unwrap().ints(0..block.rows(), &mut ints);
                    count2 += rows.iter(block.rows()).filter(|&r| ints[r] > 900).count() as u64;
                }
            }
        }
        times.1.push(started.elapsed().as_secs_f64());
        assert_eq!((count, count2), (count0, count0));
    }
    row_times.sort_by(f64::total_cmp);
    times.0.sort_by(f64::total_cmp);
    times.1.sort_by(f64::total_cmp);
    println!(
        "{n} rows, filtered count: scan of row blocks {:.1} M rows/s, scan of columnar blocks {:.1} M rows/s, pieces {:.1} M rows/s (medians of 5)",
        n as f64 / row_times[2] / 1e6,
        n as f64 / times.0[2] / 1e6,
        n as f64 / times.1[2] / 1e6
    );
}

/// Prints what opening and draining a short key range costs through
/// `scan` and through `pieces` (1, 100 and 1000 rows of 1M compacted
/// rows in columnar blocks): the set-up of a piece-wise scan must not
/// cost a short range more than a plain scan does. By hand:
/// `cargo nextest run -p fasty-storage --lib --run-ignored ignored-only -E 'test(bench_short)' --no-capture`.
#[test]
#[ignore = "benchmark"]
fn bench_short_ranges_pieces_against_scan() {
    use std::time::Instant;
    let n: u64 = 1_000_000;
    let dir = tempfile::tempdir().unwrap();
    let e = engine(dir.path(), 4096);
    let mut b = WriteBatch::new();
    for id in 0..n {
        b.put(
            &row_key(id)[..],
            &value((id % 1000) as i64, (id % 4) as u8)[..],
        );
        if b.len() >= 10_000 {
            e.apply(&b, id + 1).unwrap();
            b = WriteBatch::new();
        }
    }
    e.apply(&b, n + 1).unwrap();
    e.flush().unwrap();
    e.compact().unwrap();
    let s = e.snapshot();
    for len in [1u64, 100, 1000] {
        let ranges = 20_000;
        let starts: Vec<u64> = (0..ranges)
            .map(|i: u64| (i.wrapping_mul(2_654_435_761)) % (n - len))
            .collect();
        let mut best = (f64::MAX, f64::MAX);
        for _ in 0..3 {
            let started = Instant::now();
            let mut rows = 0usize;
            for &lo in &starts {
                let mut it = s.scan(row_key(lo)..row_key(lo + len));
                it.visit(|_, v| {
                    rows += v.len().min(1);
                    true
                })
                .unwrap();
            }
            best.0 = best.0.min(started.elapsed().as_secs_f64());
            let started = Instant::now();
            let mut rows2 = 0usize;
            for &lo in &starts {
                let mut p = s.pieces(row_key(lo)..row_key(lo + len), None);
                while let Some(l) = p.next_lent(|v| {
                    rows2 += v.len().min(1);
                    true
                }) {
                    if let Lent::Block { block, rows } = l.unwrap() {
                        rows2 += rows.len(block.rows());
                    }
                }
            }
            best.1 = best.1.min(started.elapsed().as_secs_f64());
            assert_eq!(rows, rows2);
            assert_eq!(rows, (ranges * len) as usize);
        }
        println!(
            "{len}-row ranges: scan {:.2} us, pieces {:.2} us per range (best of 3 x {ranges})",
            best.0 / ranges as f64 * 1e6,
            best.1 / ranges as f64 * 1e6
        );
    }
}
