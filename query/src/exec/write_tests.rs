//! The write operators against a model: random inserts, upserts (as
//! statements and through the batch path), updates (of indexed values,
//! to and from null, of ids) and deletes on an indexed table. After every
//! statement the result (count or error code) is the model's, the rows
//! are the model's, and `Database::verify` finds every index in step with
//! its table. Also the insert operator's two steps driven by hand.

use std::collections::BTreeMap;

use proptest::prelude::*;

use crate::database::{Database, InsertMode, Options};
use crate::error::ErrorCode;
use crate::output::Output;
use crate::value::Value;

/// A row of `t` besides its id: `k int`, `s string`, `f float`.
type Row = (Option<i64>, Option<String>, Option<f64>);

/// One statement of a test run.
#[derive(Debug, Clone)]
enum Op {
    /// `insert`/`upsert` of these rows (id, then the rest), as a
    /// statement or through [`Database::insert_rows`].
    Write {
        rows: Vec<(i64, Row)>,
        upsert: bool,
        text: bool,
    },
    /// `update t set k = <set> where k = <when>` (`k is null` for `None`).
    SetK { set: Option<i64>, when: Option<i64> },
    /// `update t set s = <s>, f = f * -1 where id between lo and hi`:
    /// negates floats, so 0.0 becomes -0.0 (one index key).
    SetSF { s: Option<String>, lo: i64, hi: i64 },
    /// `update t set id = id + by where id >= from`.
    MoveIds { by: i64, from: i64 },
    /// `delete from t where k = <k>` (`k is null` for `None`).
    DeleteK(Option<i64>),
    /// `delete from t where id < below`.
    DeleteBelow(i64),
}

fn row() -> impl Strategy<Value = Row> {
    (
        prop::option::of(0i64..4),
        prop::option::of(prop::sample::select(vec!["a", "b", "c"]).prop_map(String::from)),
        prop::option::of(prop::sample::select(vec![-1.5, 0.0, -0.0, 2.0])),
    )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (
            prop::collection::vec((0i64..24, row()), 0..6),
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(rows, upsert, text)| Op::Write { rows, upsert, text }),
        1 => (prop::option::of(0i64..4), prop::option::of(0i64..4))
            .prop_map(|(set, when)| Op::SetK { set, when }),
        1 => (
            prop::option::of(prop::sample::select(vec!["a", "d"]).prop_map(String::from)),
            0i64..24,
            0i64..24
        )
            .prop_map(|(s, lo, hi)| Op::SetSF { s, lo, hi }),
        1 => (-3i64..4, 0i64..24).prop_map(|(by, from)| Op::MoveIds { by, from }),
        1 => prop::option::of(0i64..4).prop_map(Op::DeleteK),
        1 => (0i64..24).prop_map(Op::DeleteBelow),
    ]
}

fn lit<T: std::fmt::Debug>(v: &Option<T>) -> String {
    v.as_ref().map_or("null".into(), |x| format!("{x:?}"))
}

fn is(col: &str, v: Option<i64>) -> String {
    v.map_or(format!("{col} is null"), |v| format!("{col} = {v}"))
}

/// The model's answer to `op`: the count, or the error code, and the
/// table after it.
fn model(t: &BTreeMap<i64, Row>, op: &Op) -> (Result<u64, ErrorCode>, BTreeMap<i64, Row>) {
    let mut next = t.clone();
    let n = match op {
        Op::Write { rows, upsert, .. } => {
            let mut seen = std::collections::BTreeSet::new();
            for (id, r) in rows {
                if !upsert && (!seen.insert(*id) || t.contains_key(id)) {
                    return (Err(ErrorCode::DuplicateKey), t.clone());
                }
                next.insert(*id, r.clone());
            }
            rows.len() as u64
        }
        Op::SetK { set, when } => {
            let mut n = 0;
            for r in next.values_mut().filter(|r| r.0 == *when) {
                r.0 = *set;
                n += 1;
            }
            // `k = null` matches nothing; `k is null` does.
            n
        }
        Op::SetSF { s, lo, hi } => {
            let mut n = 0;
            // `between` with its bounds the wrong way round finds nothing.
            for (_, r) in next.range_mut(*lo..=*hi.max(lo)).filter(|_| lo <= hi) {
                r.1 = s.clone();
                r.2 = r.2.map(|f| -f);
                n += 1;
            }
            n
        }
        Op::MoveIds { by, from } => {
            let moved: Vec<(i64, Row)> = t.range(*from..).map(|(k, r)| (*k, r.clone())).collect();
            for (id, _) in &moved {
                next.remove(id);
            }
            for (id, r) in &moved {
                if *by != 0 && next.contains_key(&(id + by)) {
                    return (Err(ErrorCode::DuplicateKey), t.clone());
                }
                next.insert(id + by, r.clone());
            }
            moved.len() as u64
        }
        Op::DeleteK(k) => {
            let before = next.len();
            next.retain(|_, r| r.0 != *k);
            (before - next.len()) as u64
        }
        Op::DeleteBelow(below) => {
            let before = next.len();
            next.retain(|id, _| id >= below);
            (before - next.len()) as u64
        }
    };
    (Ok(n), next)
}

/// Runs `op` on `db`.
fn run(db: &Database, op: &Op) -> Result<u64, ErrorCode> {
    let statement = match op {
        Op::Write {
            rows,
            upsert,
            text: false,
        } => {
            let mode = if *upsert {
                InsertMode::Upsert
            } else {
                InsertMode::Insert
            };
            let rows = rows.iter().map(|(id, (k, s, f))| {
                vec![
                    ("id", Value::Int(*id)),
                    ("k", k.map_or(Value::Null, Value::Int)),
                    ("s", s.clone().map_or(Value::Null, Value::String)),
                    ("f", f.map_or(Value::Null, Value::Float)),
                ]
            });
            return db.insert_rows("t", rows, mode).map_err(|e| e.code());
        }
        // The language has no empty row list.
        Op::Write { rows, .. } if rows.is_empty() => return Ok(0),
        Op::Write { rows, upsert, .. } => {
            let rows: Vec<String> = rows
                .iter()
                .map(|(id, (k, s, f))| {
                    format!(
                        "{{ id: {id}, k: {}, s: {}, f: {} }}",
                        lit(k),
                        lit(s),
                        lit(f)
                    )
                })
                .collect();
            let verb = if *upsert { "upsert" } else { "insert" };
            format!("{verb} t [ {} ]", rows.join(", "))
        }
        Op::SetK { set, when } => format!("update t set k = {} where {}", lit(set), is("k", *when)),
        Op::SetSF { s, lo, hi } => format!(
            "update t set s = {}, f = f * -1 where id between {lo} and {hi}",
            lit(s)
        ),
        Op::MoveIds { by, from } => format!("update t set id = id + {by} where id >= {from}"),
        Op::DeleteK(k) => format!("delete from t where {}", is("k", *k)),
        Op::DeleteBelow(below) => format!("delete from t where id < {below}"),
    };
    match db.execute(&statement) {
        Ok(Output::Affected(n)) => Ok(n),
        Ok(other) => panic!("{statement}: {other:?}"),
        Err(e) => Err(e.code()),
    }
}

/// The rows of `t`, in id order, as the model holds them.
fn table(db: &Database) -> BTreeMap<i64, Row> {
    let Ok(Output::Rows { rows, .. }) = db.execute("select id, k, s, f from t") else {
        panic!("select failed");
    };
    rows.into_iter()
        .map(|r| match r.as_slice() {
            [Value::Int(id), k, s, f] => (
                *id,
                (
                    match k {
                        Value::Int(k) => Some(*k),
                        _ => None,
                    },
                    match s {
                        Value::String(s) => Some(s.clone()),
                        _ => None,
                    },
                    match f {
                        Value::Float(f) => Some(*f),
                        _ => None,
                    },
                ),
            ),
            other => panic!("unexpected row {other:?}"),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn indexes_stay_in_step_with_their_rows(ops in prop::collection::vec(op(), 1..40)) {
        let db = Database::open("unused", Options::memory()).unwrap();
        db.execute("create table t { id: int, k: int, s: string, f: float }").unwrap();
        for ix in ["create index t_k on t (k)", "create index t_s on t (s)", "create index t_f on t (f)"] {
            db.execute(ix).unwrap();
        }
        let mut want = BTreeMap::new();
        for op in &ops {
            let (result, next) = model(&want, op);
            prop_assert_eq!(run(&db, op), result, "{:?}", op);
            want = next;
            prop_assert_eq!(&table(&db), &want, "{:?}", op);
            let report = db.verify().unwrap();
            prop_assert!(report.is_clean(), "{:?}: {}", op, report);
        }
    }
}

/// The insert operator's two steps by hand, on rows as a plan's insert
/// node holds them: keys given twice, a stored key, upsert's last row of
/// a key winning and its replaced index entry going.
#[test]
fn insert_encodes_then_finishes_against_a_snapshot() {
    use crate::exec::insert::{Insert, Rows};

    let db = Database::open("unused", Options::memory()).unwrap();
    db.execute("create table t { id: int, k: int, s: string, f: float }")
        .unwrap();
    db.execute("create index t_k on t (k)").unwrap();
    db.execute("insert t { id: 1, k: 1 }").unwrap();
    let cat = crate::catalog::Catalog::load(&db.kv().snapshot()).unwrap();
    let t = cat.table("t").unwrap().clone();
    let r = |id: i64, k: i64| vec![Value::Int(id), Value::Int(k)];

    let missing = Rows::from_rows(&t, vec![vec![Value::Null, Value::Int(1)]]).unwrap_err();
    assert_eq!(missing.code(), ErrorCode::MissingPrimaryKey);

    let twice = Rows::from_rows(&t, vec![r(2, 0), r(2, 1)]).unwrap();
    let e = Insert::encode(&t, &twice, false).unwrap_err();
    assert_eq!(e.code(), ErrorCode::DuplicateKey);

    let stored = Rows::from_rows(&t, vec![r(3, 0), r(1, 0)]).unwrap();
    let insert = Insert::encode(&t, &stored, false).unwrap();
    assert_eq!(insert.keys(), &[1, 3]);
    let e = insert.finish(&t, &stored, &db.kv().snapshot()).unwrap_err();
    assert_eq!(e.code(), ErrorCode::DuplicateKey);

    let rows = Rows::from_rows(&t, vec![r(1, 5), r(4, 2), r(1, 6)]).unwrap();
    let upsert = Insert::encode(&t, &rows, true).unwrap();
    assert_eq!(upsert.keys(), &[1, 4]);
    let written = upsert.finish(&t, &rows, &db.kv().snapshot()).unwrap();
    assert_eq!(written.count, 3);
    db.kv().write(written.batch).unwrap();
    assert_eq!(
        table(&db),
        BTreeMap::from([(1, (Some(6), None, None)), (4, (Some(2), None, None))])
    );
    assert!(db.verify().unwrap().is_clean());
}

/// Rows to change whose id is not an int can only come from damaged data:
/// update and delete fail with `corruption` (and write nothing) rather
/// than skip them; input that is not whole rows is refused.
#[test]
fn rows_without_an_int_id_are_corruption() {
    use crate::exec::delete::Delete;
    use crate::exec::row_source::RowSource;
    use crate::exec::update::Update;
    use crate::limits::Limits;
    use crate::plan::bound::BoundExpr;

    let db = Database::open("unused", Options::memory()).unwrap();
    db.execute("create table t { id: int, k: int, s: string, f: float }")
        .unwrap();
    let cat = crate::catalog::Catalog::load(&db.kv().snapshot()).unwrap();
    let t = cat.table("t").unwrap().clone();
    let limits = Limits::none();
    let source = |rows: Vec<Vec<Value>>, width| Box::new(RowSource::new(rows, width, &limits));
    let good = vec![Value::Int(1), Value::Int(2), Value::Null, Value::Null];
    let bad = vec![Value::Null, Value::Int(2), Value::Null, Value::Null];

    let e = Delete::new(source(vec![good.clone(), bad.clone()], 4), &t, &limits)
        .run()
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Corruption);
    let sets = [(1, BoundExpr::Literal(Value::Int(3)))];
    let e = Update::new(source(vec![good.clone(), bad], 4), &t, &sets, &limits)
        .run(&db.kv().snapshot())
        .unwrap_err();
    assert_eq!(e.code(), ErrorCode::Corruption);

    let e = Delete::new(source(vec![good.clone()], 3), &t, &limits)
        .run()
        .unwrap_err();
    assert!(e.message().contains("not whole rows"), "{e}");
    let written = Update::new(source(vec![good], 4), &t, &sets, &limits)
        .run(&db.kv().snapshot())
        .unwrap();
    assert_eq!(written.count, 1);
}
