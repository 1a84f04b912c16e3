//! Every encoding round-trips; zone maps never exclude a value they cover.

use bytes::Bytes;
use proptest::prelude::*;

use super::*;

/// Keys and versions of a test block.
#[derive(Debug)]
struct TestKeys(Vec<(Vec<u8>, Seqno, bool)>);

impl TestKeys {
    fn key(&self, i: usize) -> &[u8] {
        self.0.get(i).map_or(&[], |k| &k.0)
    }
}

impl KeySide for TestKeys {
    fn key_cmp(&self, i: usize, other: &[u8]) -> Ordering {
        self.key(i).cmp(other)
    }
    fn key_into(&self, i: usize, out: &mut Vec<u8>) {
        out.extend_from_slice(self.key(i));
    }
    fn key_suffix(&self, i: usize) -> Option<u64> {
        let k = self.key(i);
        Some(u64::from_be_bytes(
            k.get(k.len().checked_sub(8)?..)?.try_into().ok()?,
        ))
    }
    fn same_key(&self, a: usize, b: usize) -> bool {
        self.key(a) == self.key(b)
    }
    fn version(&self, i: usize) -> (Seqno, bool) {
        self.0.get(i).map_or((0, false), |k| (k.1, k.2))
    }
}

/// A field as owned data, for strategies.
#[derive(Debug, Clone, PartialEq)]
enum Owned {
    Null,
    Int(i64),
    Float(f64),
    Bool(bool),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl Owned {
    fn field(&self) -> Field<'_> {
        match self {
            Owned::Null => Field::Null,
            Owned::Int(v) => Field::Int(*v),
            Owned::Float(v) => Field::Float(*v),
            Owned::Bool(v) => Field::Bool(*v),
            Owned::Text(b) => Field::Text(b),
            Owned::Blob(b) => Field::Blob(b),
        }
    }
}

fn same(a: &Field<'_>, b: &Field<'_>) -> bool {
    match (a, b) {
        (Field::Float(x), Field::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

/// One column's generator: mostly one kind, sometimes mixed.
fn owned(kind: u8) -> BoxedStrategy<Owned> {
    let small_text = prop::sample::select(vec![
        b"a".to_vec(),
        b"bb".to_vec(),
        b"".to_vec(),
        vec![0xff; 3],
    ]);
    match kind {
        0 => prop_oneof![
            8 => any::<i64>().prop_map(Owned::Int),
            8 => (-100i64..100).prop_map(Owned::Int),
            1 => Just(Owned::Null)
        ]
        .boxed(),
        1 => prop_oneof![
            8 => any::<f64>().prop_map(Owned::Float),
            1 => Just(Owned::Null)
        ]
        .boxed(),
        2 => prop_oneof![any::<bool>().prop_map(Owned::Bool), Just(Owned::Null)].boxed(),
        // Decimals (a decimal column), now and then a value that is not one.
        6 => prop_oneof![
            16 => (-10_000_000i64..10_000_000, 0i32..4)
                .prop_map(|(i, e)| Owned::Float(i as f64 / 10f64.powi(e))),
            1 => prop::sample::select(vec![-0.0, f64::NAN, f64::INFINITY, 0.1 + 0.2, 1e300])
                .prop_map(Owned::Float),
            2 => Just(Owned::Null)
        ]
        .boxed(),
        3 => prop_oneof![
            4 => small_text.prop_map(Owned::Text),
            1 => Just(Owned::Null)
        ]
        .boxed(),
        4 => prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 0..80).prop_map(Owned::Blob),
            1 => Just(Owned::Null)
        ]
        .boxed(),
        _ => prop_oneof![
            any::<i64>().prop_map(Owned::Int),
            any::<f64>().prop_map(Owned::Float),
            any::<bool>().prop_map(Owned::Bool),
            prop::collection::vec(any::<u8>(), 0..5).prop_map(Owned::Text),
            prop::collection::vec(any::<u8>(), 0..5).prop_map(Owned::Blob),
            Just(Owned::Null),
        ]
        .boxed(),
    }
}

/// Rows of up to four columns of the given kinds, each row possibly short
/// (or a tombstone: `None`).
fn rows() -> impl Strategy<Value = Vec<Option<Vec<Owned>>>> {
    prop::collection::vec(0u8..7, 0..4).prop_flat_map(|kinds| {
        let row = kinds.iter().map(|&k| owned(k)).collect::<Vec<_>>();
        let width = kinds.len();
        prop::collection::vec(
            (row, 0..=width, 0u8..20).prop_map(|(mut r, keep, t)| {
                if t == 0 {
                    return None;
                }
                if t == 1 {
                    r.truncate(keep);
                }
                Some(r)
            }),
            1..300,
        )
    })
}

fn build(rows: &[Option<Vec<Owned>>]) -> (ColumnBlock, Vec<zone::ColumnZone<'static>>) {
    let mut split = SplitRows::default();
    split.starts.push(0);
    for r in rows {
        if let Some(r) = r {
            split.fields.extend(r.iter().map(Owned::field));
        }
        split.starts.push(split.fields.len() as u32);
    }
    let summary = Summary {
        rows: rows.len() as u32,
        unique: true,
        tombstones: rows.iter().any(Option::is_none),
        min_seqno: 1,
        max_seqno: 9,
    };
    let mut out = Vec::new();
    let zones = encode_columns(&split, &summary, &mut out, true);
    let zones = zones.into_iter().map(|z| z.into_owned()).collect();
    let keys = TestKeys(
        rows.iter()
            .enumerate()
            .map(|(i, r)| ((i as u64).to_be_bytes().to_vec(), 5, r.is_none()))
            .collect(),
    );
    let block = ColumnBlock::parse(Bytes::from(out), Box::new(keys), rows.len()).unwrap();
    (block, zones)
}

/// One column of `values` (`None`: null), as a block of one-field rows.
fn float_column(values: &[Option<f64>]) -> ColumnBlock {
    let rows: Vec<Option<Vec<Owned>>> = values
        .iter()
        .map(|v| Some(vec![v.map_or(Owned::Null, Owned::Float)]))
        .collect();
    build(&rows).0
}

#[test]
fn decimal_floats_are_packed_and_read_back_exactly() {
    // Cents, with nulls: packed at the width of their span.
    let cents: Vec<Option<f64>> = (0..1000i64)
        .map(|i| (i % 7 != 3).then(|| (i * 37 % 100_000) as f64 / 100.0))
        .collect();
    let block = float_column(&cents);
    let col = block.column(0).unwrap();
    assert_eq!(col.meta.encoding, enc::DECIMAL);
    assert_eq!(col.meta.exp, 2);
    assert!(
        col.meta.body.len() < 8 * cents.len() / 3,
        "{} bytes",
        col.meta.body.len()
    );
    let mut floats = Vec::new();
    col.floats(0..cents.len(), &mut floats);
    for (i, want) in cents.iter().enumerate() {
        match want {
            Some(v) => {
                assert!(same(&col.field(i), &Field::Float(*v)), "row {i}");
                assert_eq!(floats[i].to_bits(), v.to_bits(), "row {i}");
            }
            None => {
                assert!(matches!(col.field(i), Field::Null), "row {i}");
                assert_eq!(floats[i].to_bits(), 0f64.to_bits(), "null row {i}");
            }
        }
    }
    // Whole numbers need no scale.
    let whole: Vec<Option<f64>> = (0..50).map(|i| Some(f64::from(i) - 20.0)).collect();
    let block = float_column(&whole);
    let col = block.column(0).unwrap();
    assert_eq!((col.meta.encoding, col.meta.exp), (enc::DECIMAL, 0));
    // One value that no decimal gives back exactly keeps the column plain.
    for odd in [-0.0, f64::NAN, f64::NEG_INFINITY, 0.1 + 0.2, 1e300, 5e-324] {
        let mut values = cents.clone();
        values[500] = Some(odd);
        let block = float_column(&values);
        let col = block.column(0).unwrap();
        assert_eq!(col.meta.encoding, enc::PLAIN, "{odd}");
        assert!(same(&col.field(500), &Field::Float(odd)));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_encoding_round_trips(rows in rows()) {
        let (block, _) = build(&rows);
        prop_assert_eq!(block.rows(), rows.len());
        for (i, r) in rows.iter().enumerate() {
            let mut got = Vec::new();
            block.fields(i, &mut got);
            let want: Vec<Field<'_>> = r.iter().flatten().map(Owned::field).collect();
            prop_assert_eq!(got.len(), want.len(), "row {}", i);
            for (g, w) in got.iter().zip(&want) {
                prop_assert!(same(g, w), "row {}: {:?} != {:?}", i, g, w);
            }
            prop_assert_eq!(block.key_suffix(i), Some(i as u64));
            // The point-read path reads the same fields.
            let point: Vec<Field<'_>> = block.with_row_fields(i, |f| f.to_vec());
            prop_assert_eq!(point.len(), want.len(), "row {}", i);
            for (g, w) in point.iter().zip(&want) {
                prop_assert!(same(g, w), "row {}: {:?} != {:?}", i, g, w);
            }
        }
        prop_assert_eq!(block.with_row_fields(rows.len(), |f| f.len()), 0);
        // The bulk decoders agree with `field`.
        for c in 0..block.columns() {
            let col = block.column(c).unwrap();
            let (mut ints, mut floats, mut bools) = (Vec::new(), Vec::new(), Vec::new());
            let (mut ends, mut bytes) = (Vec::new(), Vec::new());
            col.ints(0..rows.len(), &mut ints);
            col.floats(0..rows.len(), &mut floats);
            col.bools(0..rows.len(), &mut bools);
            col.strings(0..rows.len(), &mut ends, &mut bytes);
            let mut start = 0usize;
            for i in 0..rows.len() {
                let f = col.field(i);
                prop_assert_eq!(col.is_null(i), matches!(f, Field::Null));
                let end = ends[i] as usize;
                match f {
                    Field::Int(v) => prop_assert_eq!(ints[i], v),
                    Field::Float(v) => prop_assert_eq!(floats[i].to_bits(), v.to_bits()),
                    Field::Bool(v) => prop_assert_eq!(bools[i], v),
                    Field::Text(b) | Field::Blob(b) => prop_assert_eq!(&bytes[start..end], b),
                    Field::Null => {}
                }
                start = end;
                // The encoded forms agree too.
                match col.encoded() {
                    Encoded::For { base, packed } if !col.is_null(i) => {
                        prop_assert_eq!(Field::Int(base.wrapping_add(packed.get(i) as i64)), f);
                    }
                    Encoded::Dict { dict, codes } if !col.is_null(i) => {
                        let b = dict.get(codes.get(i) as usize);
                        prop_assert!(matches!(f, Field::Text(x) | Field::Blob(x) if x == b));
                    }
                    _ => {}
                }
            }
        }
    }

    #[test]
    fn a_zone_map_never_excludes_a_value_it_covers(rows in rows()) {
        let (block, zones) = build(&rows);
        let block_zones = block.zones();
        for (i, r) in rows.iter().enumerate() {
            for (c, v) in r.iter().flatten().enumerate() {
                let f = v.field();
                let col = block.column(c).unwrap();
                prop_assert!(col.zone(i / VECTOR_ROWS).range.may_contain(&f));
                prop_assert!(col.block_zone().range.may_contain(&f));
                prop_assert!(zones[c].range.may_contain(&f));
                prop_assert!(block_zones.column(c).range.may_contain(&f));
                if matches!(f, Field::Null) {
                    prop_assert!(block_zones.column(c).nulls > 0);
                }
            }
        }
    }

    #[test]
    fn damaged_column_regions_never_panic(rows in rows(), flips in prop::collection::vec((any::<usize>(), 1u8..=255), 1..4)) {
        let mut split = SplitRows::default();
        split.starts.push(0);
        for r in &rows {
            if let Some(r) = r {
                split.fields.extend(r.iter().map(Owned::field));
            }
            split.starts.push(split.fields.len() as u32);
        }
        let summary = Summary { rows: rows.len() as u32, unique: true, tombstones: false, min_seqno: 1, max_seqno: 1 };
        let mut out = Vec::new();
        encode_columns(&split, &summary, &mut out, true);
        for (at, x) in flips {
            let at = at % out.len();
            out[at] ^= x;
        }
        let keys = TestKeys(vec![(vec![1], 1, false); rows.len()]);
        if let Ok(b) = ColumnBlock::parse(Bytes::from(out), Box::new(keys), rows.len()) {
            for c in 0..b.columns() + 1 {
                if let Some(col) = b.column(c) {
                    let _ = col.block_zone();
                    for i in 0..b.rows() + 1 {
                        let _ = col.field(i);
                    }
                    let mut v = Vec::new();
                    col.ints(0..b.rows(), &mut v);
                    let (mut e, mut s) = (Vec::new(), Vec::new());
                    col.strings(0..b.rows(), &mut e, &mut s);
                }
            }
            for i in 0..b.rows() + 1 {
                let mut f = Vec::new();
                b.fields(i, &mut f);
                b.with_row_fields(i, |f| f.len());
            }
        }
    }
}

#[test]
fn encodings_are_chosen_by_the_data() {
    let rows: Vec<Option<Vec<Owned>>> = (0..100)
        .map(|i| {
            Some(vec![
                Owned::Int(1000 + i),
                Owned::Text(if i % 2 == 0 {
                    b"x".to_vec()
                } else {
                    b"y".to_vec()
                }),
                Owned::Text(format!("unique {i}").into_bytes()),
                Owned::Float(i as f64),
                Owned::Bool(i % 3 == 0),
                if i == 5 {
                    Owned::Float(1.5)
                } else {
                    Owned::Int(i)
                },
            ])
        })
        .collect();
    let (block, _) = build(&rows);
    let col = |c| block.column(c).unwrap();
    assert!(matches!(col(0).encoded(), Encoded::For { base: 1000, packed } if packed.width() == 7));
    assert!(matches!(col(1).encoded(), Encoded::Dict { dict, .. } if dict.len() == 2));
    assert!(matches!(col(2).encoded(), Encoded::Plain));
    assert_eq!(col(3).kind(), ColumnKind::Float);
    assert_eq!(col(4).kind(), ColumnKind::Bool);
    assert_eq!(col(5).kind(), ColumnKind::Mixed);
    assert_eq!(
        col(0).block_zone().range,
        Zone::Int {
            min: 1000,
            max: 1099
        }
    );
}

#[test]
fn each_vector_of_a_block_has_its_own_zone() {
    // 5000 rows: vectors of 2048, 2048 and 904 rows.
    let rows: Vec<Option<Vec<Owned>>> = (0..5000)
        .map(|i| {
            Some(vec![
                Owned::Int(i),
                if i < 4096 {
                    Owned::Null
                } else {
                    Owned::Text(b"late".to_vec())
                },
            ])
        })
        .collect();
    let (block, _) = build(&rows);
    let ints = block.column(0).unwrap();
    assert_eq!(ints.vectors(), 3);
    let ranges: Vec<_> = (0..3).map(|v| ints.zone(v).range).collect();
    assert_eq!(
        ranges,
        [
            Zone::Int { min: 0, max: 2047 },
            Zone::Int {
                min: 2048,
                max: 4095
            },
            Zone::Int {
                min: 4096,
                max: 4999
            }
        ]
    );
    assert_eq!(ints.block_zone().range, Zone::Int { min: 0, max: 4999 });
    let text = block.column(1).unwrap();
    assert!(text.zone(0).all_null() && text.zone(1).all_null());
    assert_eq!((text.zone(2).nulls, text.zone(2).rows), (0, 904));
    assert_eq!(text.block_zone().nulls, 4096);
    assert_eq!(ints.zone(3).range, Zone::Unknown);
}
