//! Kernels against the row path: a proptest over random chunks and
//! expressions, and the edge cases one by one.

use std::sync::Arc;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::ast::{BinaryOp, ColumnType, UnaryOp};
use crate::error::ErrorCode;
use crate::func::ScalarFunc;
use crate::parser::MAX_LIKE_PATTERN_LEN;
use crate::vector::Vector;

/// The row path over the rows in play: each one's value, or the first
/// error.
fn oracle(expr: &BoundExpr, chunk: &Chunk) -> Result<Vec<(usize, Value)>> {
    chunk
        .positions()
        .map(|p| Ok((p, expr.eval_row(&chunk.row(p)?)?)))
        .collect()
}

/// Checks `eval` and `select` of `expr` on `chunk` against the row path:
/// the same values (and types) at every row in play, the same rows
/// selected, an error exactly when the row path errs, with its code.
fn check(expr: &BoundExpr, chunk: &Chunk) -> std::result::Result<(), TestCaseError> {
    let k = Kernel::compile(expr).map_err(|e| TestCaseError::fail(format!("compile: {e}")))?;
    let want = oracle(expr, chunk);
    let fast_eval = k.eval_fast(chunk);
    let fast_select = k.select_fast(chunk);
    let eval = k.eval(chunk);
    let select = k.select(chunk);
    match want {
        Err(e) => {
            prop_assert!(fast_eval.is_err(), "eval of {} did not fail ({})", expr, e);
            prop_assert!(
                fast_select.is_err(),
                "select of {} did not fail ({})",
                expr,
                e
            );
            let got = eval.err().map(|x| (x.code(), x.to_string()));
            prop_assert_eq!(got, Some((e.code(), e.to_string())), "eval of {}", expr);
            let got = select.err().map(|x| (x.code(), x.to_string()));
            prop_assert_eq!(got, Some((e.code(), e.to_string())), "select of {}", expr);
        }
        Ok(rows) => {
            let want_sel: Vec<u32> = rows
                .iter()
                .filter(|(_, v)| matches!(v, Value::Bool(true)))
                .map(|(p, _)| *p as u32)
                .collect();
            for (name, got) in [("fast", fast_eval), ("public", eval)] {
                let v =
                    got.map_err(|e| TestCaseError::fail(format!("{name} eval of {expr}: {e}")))?;
                prop_assert_eq!(v.len(), chunk.len);
                for (p, want) in &rows {
                    let got = v
                        .value(*p)
                        .map_err(|e| TestCaseError::fail(e.to_string()))?;
                    prop_assert_eq!(&got, want, "{} eval of {} at {}", name, expr, p);
                }
            }
            for (name, got) in [("fast", fast_select), ("public", select)] {
                let s =
                    got.map_err(|e| TestCaseError::fail(format!("{name} select of {expr}: {e}")))?;
                prop_assert_eq!(&s[..], &want_sel[..], "{} select of {}", name, expr);
            }
        }
    }
    Ok(())
}

fn int() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -4i64..5,
        1 => prop::sample::select(vec![
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            -1,
            1 << 53,
            (1 << 53) + 1,
            1 << 62,
        ]),
    ]
}

fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => (-8i32..9).prop_map(|x| f64::from(x) / 2.0),
        1 => prop::sample::select(vec![
            -0.0,
            0.1,
            1e300,
            -1e300,
            9.3e18,
            9_007_199_254_740_992.0,
            9_223_372_036_854_775_808.0,
            -9_223_372_036_854_775_808.0,
        ]),
    ]
}

fn string() -> impl Strategy<Value = String> {
    "[ab%_é]{0,4}"
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    prop::sample::select(vec![
        json!({"a": 1, "b": "x"}),
        json!({"a": 2.5}),
        json!({"a": {"b": true}}),
        json!({"a": "ab%"}),
        json!({"a": null, "b": [1, 2]}),
        json!([1, "a", null]),
        json!([{"a": 3}]),
        json!({}),
    ])
}

/// Any value, null included.
fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        int().prop_map(Value::Int),
        float().prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
        string().prop_map(Value::String),
        json_value().prop_map(Value::Json),
    ]
}

/// A value of column kind `kind` (0 int, 1 float, 2 bool, 3 string,
/// 4 json, 5 anything), or null.
fn value_of(kind: u8) -> BoxedStrategy<Value> {
    let v = match kind {
        0 => int().prop_map(Value::Int).boxed(),
        1 => float().prop_map(Value::Float).boxed(),
        2 => any::<bool>().prop_map(Value::Bool).boxed(),
        3 => string().prop_map(Value::String).boxed(),
        4 => json_value().prop_map(Value::Json).boxed(),
        _ => value().boxed(),
    };
    prop_oneof![1 => Just(Value::Null), 5 => v].boxed()
}

const COLUMNS: usize = 4;

/// A chunk of `COLUMNS` columns of random kinds (typed or owned values,
/// with nulls), with or without a random selection.
fn chunk() -> impl Strategy<Value = Chunk> {
    let kind = prop_oneof![3 => Just(0u8), 2 => Just(1), 1 => Just(2), 2 => Just(3), 1 => Just(4), 1 => Just(5)];
    prop::collection::vec(kind, COLUMNS).prop_flat_map(chunk_of)
}

/// A chunk with columns of `kinds` (see [`value_of`]), up to 200 rows,
/// with or without a random selection.
fn chunk_of(kinds: Vec<u8>) -> impl Strategy<Value = Chunk> {
    // Mostly small; sometimes past a bitmap word or two.
    prop_oneof![6 => 0usize..24, 1 => 60usize..200].prop_flat_map(move |len| {
        let cols: Vec<_> = kinds
            .iter()
            .map(|&k| prop::collection::vec(value_of(k), len))
            .collect();
        (
            cols,
            prop::option::of(prop::collection::vec(any::<bool>(), len)),
        )
            .prop_map(move |(cols, keep)| {
                let columns = cols
                    .iter()
                    .map(|c| Arc::new(Vector::from_values(c)))
                    .collect();
                let mut chunk = Chunk::new(columns, len);
                if let Some(keep) = keep {
                    let sel: Vec<u32> = (0..len as u32).filter(|&p| keep[p as usize]).collect();
                    chunk.sel = Some(sel.into());
                }
                chunk
            })
    })
}

/// The column kinds of [`typed_predicate`]'s chunks: int, float, bool,
/// string, json.
const TYPED: [u8; 5] = [0, 1, 2, 3, 4];

/// Filters over columns of the kinds [`TYPED`], mostly against
/// constants of the column's own kind: the typed fast paths.
fn typed_predicate() -> impl Strategy<Value = BoundExpr> {
    let own = |i: usize| prop_oneof![3 => value_of(TYPED[i]).prop_map(lit), 1 => constant()];
    let number = prop_oneof![Just(0usize), Just(1)];
    let operand = prop_oneof![
        6 => (0..TYPED.len()).prop_map(|i| (i, col(i))),
        2 => (
            prop::sample::select(vec![BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div]),
            number.clone(),
            prop_oneof![number.clone().prop_map(col).boxed(), int().prop_map(|x| lit(Value::Int(x))).boxed(), float().prop_map(|x| lit(Value::Float(x))).boxed()],
        )
            .prop_map(|(op, l, r)| (l, bin(op, col(l), r))),
        1 => number.prop_map(|i| (i, BoundExpr::Unary { op: UnaryOp::Neg, expr: Box::new(col(i)) })),
        2 => prop::sample::select(vec!["a", "b", "0"]).prop_map(|p| (0, BoundExpr::Path {
            base: Box::new(col(4)),
            path: vec![p.into()],
        })),
    ];
    let atom = operand.prop_flat_map(move |(i, e)| {
        let e2 = e.clone();
        let e3 = e.clone();
        let e4 = e.clone();
        let e5 = e.clone();
        prop_oneof![
            5 => (cmp_op(), own(i), any::<bool>()).prop_map(move |(op, c, flip)| {
                if flip { bin(op, c, e.clone()) } else { bin(op, e.clone(), c) }
            }),
            2 => (cmp_op(), 0..TYPED.len()).prop_map(move |(op, j)| bin(op, e2.clone(), col(j))),
            2 => (prop::sample::select(vec![
                "a%", "%b", "%a%", "ab", "a_", "%é%", "a%b", "%a%b%", "%", "a%a", "ab%b", "b%a%b",
            ]), any::<bool>()).prop_map(move |(p, negated)| BoundExpr::Like {
                expr: Box::new(col(3)),
                pattern: Box::new(lit(Value::String(p.into()))),
                negated,
            }),
            2 => (prop::collection::vec(own(i), 0..5), any::<bool>()).prop_map(move |(list, negated)| BoundExpr::InList {
                expr: Box::new(e3.clone()),
                list,
                negated,
            }),
            2 => (own(i), own(i), any::<bool>()).prop_map(move |(lo, hi, negated)| BoundExpr::Between {
                expr: Box::new(e4.clone()),
                low: Box::new(lo),
                high: Box::new(hi),
                negated,
            }),
            1 => any::<bool>().prop_map(move |negated| BoundExpr::IsNull {
                expr: Box::new(e5.clone()),
                negated,
            }),
        ]
    });
    atom.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            2 => (inner.clone(), inner.clone()).prop_map(|(l, r)| bin(BinaryOp::And, l, r)),
            2 => (inner.clone(), inner.clone()).prop_map(|(l, r)| bin(BinaryOp::Or, l, r)),
            1 => inner.prop_map(|e| BoundExpr::Unary {
                op: UnaryOp::Not,
                expr: Box::new(e),
            }),
        ]
    })
}

fn lit(v: Value) -> BoundExpr {
    BoundExpr::Literal(v)
}

fn col(i: usize) -> BoundExpr {
    BoundExpr::column(i, None, format!("c{i}"))
}

fn bin(op: BinaryOp, l: BoundExpr, r: BoundExpr) -> BoundExpr {
    BoundExpr::Binary {
        op,
        left: Box::new(l),
        right: Box::new(r),
    }
}

fn binop() -> impl Strategy<Value = BinaryOp> {
    prop::sample::select(vec![
        BinaryOp::And,
        BinaryOp::Or,
        BinaryOp::Eq,
        BinaryOp::NotEq,
        BinaryOp::Lt,
        BinaryOp::LtEq,
        BinaryOp::Gt,
        BinaryOp::GtEq,
        BinaryOp::Add,
        BinaryOp::Sub,
        BinaryOp::Mul,
        BinaryOp::Div,
        BinaryOp::Mod,
        BinaryOp::Concat,
    ])
}

/// A constant of a random kind, weighted as the columns are.
fn constant() -> impl Strategy<Value = BoundExpr> {
    prop_oneof![3 => Just(0u8), 2 => Just(1), 1 => Just(2), 2 => Just(3), 1 => Just(4), 1 => Just(5)]
        .prop_flat_map(value_of)
        .prop_map(lit)
}

/// A comparison operator.
fn cmp_op() -> impl Strategy<Value = BinaryOp> {
    prop::sample::select(vec![
        BinaryOp::Eq,
        BinaryOp::NotEq,
        BinaryOp::Lt,
        BinaryOp::LtEq,
        BinaryOp::Gt,
        BinaryOp::GtEq,
    ])
}

/// Random filters as queries write them: comparisons, `like`, `in`,
/// `between`, `is null` on columns, json paths and arithmetic, under
/// `and`, `or`, `not`.
fn predicate() -> impl Strategy<Value = BoundExpr> {
    let column = (0..COLUMNS).prop_map(col);
    let operand = prop_oneof![
        4 => column.clone(),
        1 => (prop::sample::select(vec![BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div]), column.clone(), prop_oneof![column.clone().boxed(), constant().boxed()])
            .prop_map(|(op, l, r)| bin(op, l, r)),
        1 => (column.clone(), prop::sample::select(vec!["a", "b", "0"])).prop_map(|(c, p)| BoundExpr::Path {
            base: Box::new(c),
            path: vec![p.into()],
        }),
    ];
    let atom = prop_oneof![
        4 => (cmp_op(), operand.clone(), constant()).prop_map(|(op, l, r)| bin(op, l, r)),
        2 => (cmp_op(), operand.clone(), operand.clone()).prop_map(|(op, l, r)| bin(op, l, r)),
        1 => (operand.clone(), string(), any::<bool>()).prop_map(|(e, p, negated)| BoundExpr::Like {
            expr: Box::new(e),
            pattern: Box::new(lit(Value::String(p))),
            negated,
        }),
        1 => (operand.clone(), prop::collection::vec(constant(), 0..5), any::<bool>()).prop_map(
            |(e, list, negated)| BoundExpr::InList {
                expr: Box::new(e),
                list,
                negated,
            }
        ),
        1 => (operand.clone(), constant(), constant(), any::<bool>()).prop_map(|(e, lo, hi, negated)| {
            BoundExpr::Between {
                expr: Box::new(e),
                low: Box::new(lo),
                high: Box::new(hi),
                negated,
            }
        }),
        1 => (operand, any::<bool>()).prop_map(|(e, negated)| BoundExpr::IsNull {
            expr: Box::new(e),
            negated,
        }),
    ];
    atom.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            2 => (inner.clone(), inner.clone()).prop_map(|(l, r)| bin(BinaryOp::And, l, r)),
            2 => (inner.clone(), inner.clone()).prop_map(|(l, r)| bin(BinaryOp::Or, l, r)),
            1 => inner.prop_map(|e| BoundExpr::Unary {
                op: UnaryOp::Not,
                expr: Box::new(e),
            }),
        ]
    })
}

/// Random expressions over `COLUMNS` columns (and one past them): every
/// node kind, nested, constants of every type.
fn expr() -> impl Strategy<Value = BoundExpr> {
    let leaf = prop_oneof![
        6 => (0..COLUMNS).prop_map(col),
        1 => Just(col(COLUMNS)),
        5 => constant(),
    ];
    leaf.prop_recursive(5, 48, 3, |inner| {
        let pattern = prop_oneof![
            4 => string().prop_map(|s| lit(Value::String(s))),
            1 => Just(lit(Value::String("%".repeat(MAX_LIKE_PATTERN_LEN + 1)))),
            1 => inner.clone(),
        ];
        let item = prop_oneof![3 => constant(), 1 => inner.clone()];
        prop_oneof![
            1 => (inner.clone(), prop::sample::select(vec!["a", "b", "0", "1"]), any::<bool>())
                .prop_map(|(base, p, two)| BoundExpr::Path {
                    base: Box::new(base),
                    path: if two { vec![p.into(), "b".into()] } else { vec![p.into()] },
                }),
            1 => (inner.clone(), any::<bool>()).prop_map(|(e, not)| BoundExpr::Unary {
                op: if not { UnaryOp::Not } else { UnaryOp::Neg },
                expr: Box::new(e),
            }),
            4 => (binop(), inner.clone(), inner.clone()).prop_map(|(op, l, r)| bin(op, l, r)),
            1 => (inner.clone(), pattern, any::<bool>()).prop_map(|(e, p, negated)| BoundExpr::Like {
                expr: Box::new(e),
                pattern: Box::new(p),
                negated,
            }),
            1 => (inner.clone(), any::<bool>()).prop_map(|(e, negated)| BoundExpr::IsNull {
                expr: Box::new(e),
                negated,
            }),
            1 => (inner.clone(), prop::collection::vec(item, 0..4), any::<bool>()).prop_map(
                |(e, list, negated)| BoundExpr::InList {
                    expr: Box::new(e),
                    list,
                    negated,
                }
            ),
            1 => (inner.clone(), inner.clone(), inner.clone(), any::<bool>()).prop_map(
                |(e, lo, hi, negated)| BoundExpr::Between {
                    expr: Box::new(e),
                    low: Box::new(lo),
                    high: Box::new(hi),
                    negated,
                }
            ),
            2 => (
                prop::sample::select(vec![
                    ScalarFunc::Coalesce,
                    ScalarFunc::Nullif,
                    ScalarFunc::Lower,
                    ScalarFunc::Length,
                    ScalarFunc::Substring,
                    ScalarFunc::Concat,
                    ScalarFunc::Abs,
                    ScalarFunc::Round,
                    ScalarFunc::Greatest,
                    ScalarFunc::Mod,
                ]),
                prop::collection::vec(inner.clone(), 0..4),
                widening(),
            )
                .prop_map(|(func, args, ty)| BoundExpr::Function { func, args, ty }),
            2 => (
                prop::option::of(inner.clone()),
                prop::collection::vec((inner.clone(), inner.clone()), 1..3),
                prop::option::of(inner.clone()),
                widening(),
            )
                .prop_map(|(operand, whens, e, ty)| BoundExpr::Case {
                    operand: operand.map(Box::new),
                    whens,
                    else_result: e.map(Box::new),
                    ty,
                }),
            1 => (
                inner,
                prop::sample::select(vec![
                    ColumnType::Int,
                    ColumnType::Float,
                    ColumnType::String,
                    ColumnType::Bool,
                    ColumnType::Json,
                ]),
            )
                .prop_map(|(e, ty)| BoundExpr::Cast {
                    expr: Box::new(e),
                    ty,
                }),
        ]
    })
}

/// A bound result type of `case` / `coalesce`: unknown, or float (ints
/// widened).
fn widening() -> impl Strategy<Value = Option<ColumnType>> {
    prop_oneof![
        Just(None),
        Just(Some(ColumnType::Float)),
        Just(Some(ColumnType::Int))
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn kernels_agree_with_the_row_path(c in chunk(), e in expr()) {
        check(&e, &c)?;
    }

    #[test]
    fn filters_agree_with_the_row_path(c in chunk(), e in predicate()) {
        check(&e, &c)?;
    }

    #[test]
    fn typed_filters_agree_with_the_row_path(
        (c, e) in (chunk_of(TYPED.to_vec()), typed_predicate()),
    ) {
        check(&e, &c)?;
    }

    #[test]
    fn comparisons_of_a_column_with_a_constant_agree_with_the_row_path(
        c in chunk(),
        i in 0..COLUMNS,
        op in binop(),
        v in value(),
        flip in any::<bool>(),
    ) {
        let e = if flip { bin(op, lit(v), col(i)) } else { bin(op, col(i), lit(v)) };
        check(&e, &c)?;
    }
}

/// A chunk of one column of `values`, all rows in play.
fn one(values: &[Value]) -> Chunk {
    Chunk::new(vec![Arc::new(Vector::from_values(values))], values.len())
}

/// `expr` evaluated on `chunk` through the public API, after checking it
/// against the row path.
fn eval(expr: &BoundExpr, chunk: &Chunk) -> Result<Vec<Value>> {
    check(expr, chunk).map_err(|e| Error::query(ErrorCode::Unsupported, e.to_string()))?;
    let v = Kernel::compile(expr)?.eval(chunk)?;
    chunk.positions().map(|p| v.value(p)).collect()
}

fn code(r: Result<Vec<Value>>) -> Option<ErrorCode> {
    r.err().map(|e| e.code())
}

use crate::error::Error;

#[test]
fn int_overflow_fails_only_on_rows_in_play() {
    let mut c = one(&[Value::Int(1), Value::Int(i64::MAX)]);
    let plus = bin(BinaryOp::Add, col(0), lit(Value::Int(1)));
    assert_eq!(code(eval(&plus, &c)), Some(ErrorCode::NumericOverflow));
    c.sel = Some(vec![0].into());
    assert_eq!(eval(&plus, &c).unwrap(), vec![Value::Int(2)]);
    let minus = bin(BinaryOp::Sub, lit(Value::Int(-2)), col(0));
    c.sel = None;
    assert_eq!(code(eval(&minus, &c)), Some(ErrorCode::NumericOverflow));
    // A null's placeholder (0) must not count: 0 - i64::MIN overflows.
    let from_min = bin(BinaryOp::Sub, col(0), lit(Value::Int(i64::MIN)));
    assert_eq!(
        eval(&from_min, &one(&[Value::Null, Value::Int(-1)])).unwrap(),
        vec![Value::Null, Value::Int(i64::MAX)]
    );
    let times = bin(BinaryOp::Mul, col(0), col(0));
    assert_eq!(code(eval(&times, &c)), Some(ErrorCode::NumericOverflow));
    let neg = BoundExpr::Unary {
        op: UnaryOp::Neg,
        expr: Box::new(col(0)),
    };
    assert_eq!(
        eval(&neg, &one(&[Value::Int(i64::MAX)])).unwrap(),
        vec![Value::Int(-i64::MAX)]
    );
    assert_eq!(
        code(eval(&neg, &one(&[Value::Int(i64::MIN)]))),
        Some(ErrorCode::NumericOverflow)
    );
}

#[test]
fn int_division_by_zero_is_null_and_min_by_minus_one_overflows() {
    let c = one(&[Value::Int(7), Value::Int(-7), Value::Null]);
    let by = |d: i64| bin(BinaryOp::Div, col(0), lit(Value::Int(d)));
    assert_eq!(
        eval(&by(2), &c).unwrap(),
        vec![Value::Int(3), Value::Int(-3), Value::Null]
    );
    assert_eq!(
        eval(&by(0), &c).unwrap(),
        vec![Value::Null, Value::Null, Value::Null]
    );
    let min = one(&[Value::Int(i64::MIN)]);
    assert_eq!(code(eval(&by(-1), &min)), Some(ErrorCode::NumericOverflow));
    assert_eq!(eval(&by(1), &min).unwrap(), vec![Value::Int(i64::MIN)]);
}

#[test]
fn large_ints_compare_exactly_with_floats() {
    let big = (1i64 << 53) + 1;
    let c = one(&[Value::Int(big), Value::Int(i64::MAX), Value::Int(1 << 53)]);
    let two_53 = Value::Float((1i64 << 53) as f64);
    // A float conversion would make 2^53 + 1 equal to 2^53.
    assert_eq!(
        eval(&bin(BinaryOp::Gt, col(0), lit(two_53.clone())), &c).unwrap(),
        vec![Value::Bool(true), Value::Bool(true), Value::Bool(false)]
    );
    assert_eq!(
        eval(&bin(BinaryOp::Eq, col(0), lit(two_53)), &c).unwrap(),
        vec![Value::Bool(false), Value::Bool(false), Value::Bool(true)]
    );
    // i64::MAX is below 9.3e18, and below 2^63 as a float.
    assert_eq!(
        eval(&bin(BinaryOp::Lt, col(0), lit(Value::Float(9.3e18))), &c).unwrap(),
        vec![Value::Bool(true); 3]
    );
    let floats = one(&[Value::Float(9_223_372_036_854_775_808.0), Value::Float(2.5)]);
    assert_eq!(
        eval(
            &bin(BinaryOp::Gt, col(0), lit(Value::Int(i64::MAX))),
            &floats
        )
        .unwrap(),
        vec![Value::Bool(true), Value::Bool(false)]
    );
    let set = BoundExpr::InList {
        expr: Box::new(col(0)),
        list: vec![lit(Value::Float((1i64 << 53) as f64))],
        negated: false,
    };
    assert_eq!(
        eval(&set, &c).unwrap(),
        vec![Value::Bool(false), Value::Bool(false), Value::Bool(true)]
    );
}

#[test]
fn float_arithmetic_gives_null_for_nan_and_division_by_zero() {
    let c = one(&[Value::Float(0.0), Value::Float(1e308), Value::Float(-2.0)]);
    let div = bin(BinaryOp::Div, col(0), col(0));
    assert_eq!(
        eval(&div, &c).unwrap(),
        vec![Value::Null, Value::Float(1.0), Value::Float(1.0)]
    );
    let inf = bin(BinaryOp::Mul, col(0), lit(Value::Float(1e10)));
    let inf_minus_inf = bin(BinaryOp::Sub, inf.clone(), inf);
    assert_eq!(
        eval(&inf_minus_inf, &c).unwrap(),
        vec![Value::Float(0.0), Value::Null, Value::Float(0.0)]
    );
    // An int with a float is a float.
    let mixed = bin(BinaryOp::Add, col(0), lit(Value::Int(1)));
    assert_eq!(eval(&mixed, &c).unwrap()[2], Value::Float(-1.0));
    let by_zero = bin(BinaryOp::Div, col(0), lit(Value::Int(0)));
    assert_eq!(eval(&by_zero, &c).unwrap(), vec![Value::Null; 3]);
}

#[test]
fn a_non_number_fails_only_where_a_row_reaches_it() {
    let c = one(&[Value::Null, Value::Int(1)]);
    let bad = bin(BinaryOp::Add, col(0), lit(Value::String("a".into())));
    assert_eq!(code(eval(&bad, &c)), Some(ErrorCode::TypeMismatch));
    // Null plus anything is null, without an error.
    let mut only_null = c.clone();
    only_null.sel = Some(vec![0].into());
    assert_eq!(eval(&bad, &only_null).unwrap(), vec![Value::Null]);
    // A failing constant fails only when a row is in play.
    let constant = bin(
        BinaryOp::Gt,
        col(0),
        bin(BinaryOp::Mul, lit(Value::Bool(true)), lit(Value::Int(2))),
    );
    let mut none = c.clone();
    none.sel = Some(Vec::new().into());
    assert_eq!(eval(&constant, &none).unwrap(), Vec::<Value>::new());
    assert_eq!(code(eval(&constant, &c)), Some(ErrorCode::TypeMismatch));
}

#[test]
fn and_or_do_not_evaluate_their_right_side_where_the_left_decides() {
    let c = one(&[Value::Int(1), Value::Int(i64::MAX), Value::Null]);
    let overflow = bin(
        BinaryOp::Gt,
        bin(BinaryOp::Add, col(0), lit(Value::Int(1))),
        lit(Value::Int(0)),
    );
    let small = bin(BinaryOp::Lt, col(0), lit(Value::Int(10)));
    let and = bin(BinaryOp::And, small.clone(), overflow.clone());
    assert_eq!(
        eval(&and, &c).unwrap(),
        vec![Value::Bool(true), Value::Bool(false), Value::Null]
    );
    let not_small = BoundExpr::Unary {
        op: UnaryOp::Not,
        expr: Box::new(small),
    };
    let or = bin(BinaryOp::Or, not_small, overflow.clone());
    assert_eq!(
        eval(&or, &c).unwrap(),
        vec![Value::Bool(true), Value::Bool(true), Value::Null]
    );
    // Where the left side is null, the right side runs (and fails).
    let m = Vector::from_values(&[Value::Null, Value::Int(1)]);
    let n = Vector::from_values(&[Value::Int(i64::MAX), Value::Int(i64::MAX)]);
    let two = Chunk::new(vec![Arc::new(m), Arc::new(n)], 2);
    let right = bin(
        BinaryOp::Gt,
        bin(BinaryOp::Add, col(1), lit(Value::Int(1))),
        lit(Value::Int(0)),
    );
    let null_left = bin(
        BinaryOp::And,
        bin(BinaryOp::Lt, col(0), lit(Value::Int(0))),
        right,
    );
    assert_eq!(
        code(eval(&null_left, &two)),
        Some(ErrorCode::NumericOverflow)
    );
    let mut second = two.clone();
    second.sel = Some(vec![1].into());
    assert_eq!(eval(&null_left, &second).unwrap(), vec![Value::Bool(false)]);
    let bad = bin(
        BinaryOp::Gt,
        bin(
            BinaryOp::Sub,
            lit(Value::String("x".into())),
            lit(Value::Int(1)),
        ),
        lit(Value::Int(0)),
    );
    let cond = bin(
        BinaryOp::And,
        bin(BinaryOp::Gt, col(0), lit(Value::Int(5))),
        bad,
    );
    let k = Kernel::compile(&cond).unwrap();
    let null_row = one(&[Value::Null]);
    assert_eq!(
        k.select(&null_row).err().map(|e| e.code()),
        Some(ErrorCode::TypeMismatch)
    );
    assert_eq!(
        &k.select(&one(&[Value::Int(1)])).unwrap()[..],
        &[] as &[u32]
    );
}

#[test]
fn the_error_is_the_one_of_the_first_failing_row() {
    // Row 0 fails on the string, row 1 on the overflow; the kernel sees
    // the overflow first (it computes `n * 2` for every row), the row
    // path row 0's type mismatch.
    let n = Vector::from_values(&[Value::Int(1), Value::Int(i64::MAX)]);
    let s = Vector::from_values(&[Value::String("x".into()), Value::Int(1)]);
    let c = Chunk::new(vec![Arc::new(n), Arc::new(s)], 2);
    let e = bin(
        BinaryOp::Add,
        bin(BinaryOp::Mul, col(0), lit(Value::Int(2))),
        col(1),
    );
    let k = Kernel::compile(&e).unwrap();
    assert_eq!(
        k.eval_fast(&c).err().map(|e| e.code()),
        Some(ErrorCode::NumericOverflow)
    );
    assert_eq!(
        k.eval(&c).err().map(|e| e.code()),
        Some(ErrorCode::TypeMismatch)
    );
}

#[test]
fn like_patterns_match_as_the_row_path_does() {
    let words = ["alice", "bob", "", "ébène", "a%b", "abcabc", "xaby"];
    let mut values: Vec<Value> = words.iter().map(|w| Value::String((*w).into())).collect();
    values.push(Value::Null);
    let c = one(&values);
    for p in [
        "alice", "al%", "%ce", "%b%", "%", "%%", "a%c", "%b%c", "_ob", "é%", "%è%", "a\\%b",
        "ab%ab%", "a%b%c%", "%a%b%y", "", "abc%bc", "a%a",
    ] {
        for negated in [false, true] {
            let e = BoundExpr::Like {
                expr: Box::new(col(0)),
                pattern: Box::new(lit(Value::String(p.into()))),
                negated,
            };
            eval(&e, &c).unwrap();
        }
    }
}

#[test]
fn a_pattern_too_long_fails_only_against_a_string() {
    let e = BoundExpr::Like {
        expr: Box::new(col(0)),
        pattern: Box::new(lit(Value::String("a".repeat(MAX_LIKE_PATTERN_LEN + 1)))),
        negated: false,
    };
    assert_eq!(
        eval(&e, &one(&[Value::Null, Value::Int(1)])).unwrap(),
        vec![Value::Null, Value::Null]
    );
    assert_eq!(
        code(eval(&e, &one(&[Value::String("a".into())]))),
        Some(ErrorCode::TooComplex)
    );
}

#[test]
fn in_lists_follow_the_null_rules() {
    let c = one(&[Value::Int(1), Value::Int(3), Value::Null]);
    let in_list = |list: Vec<Value>, negated| BoundExpr::InList {
        expr: Box::new(col(0)),
        list: list.into_iter().map(lit).collect(),
        negated,
    };
    assert_eq!(
        eval(&in_list(vec![Value::Int(1), Value::Float(2.0)], false), &c).unwrap(),
        vec![Value::Bool(true), Value::Bool(false), Value::Null]
    );
    assert_eq!(
        eval(&in_list(vec![Value::Float(1.0), Value::Null], true), &c).unwrap(),
        vec![Value::Bool(false), Value::Null, Value::Null]
    );
    assert_eq!(
        eval(&in_list(vec![], false), &c).unwrap(),
        vec![Value::Bool(false), Value::Bool(false), Value::Null]
    );
    let floats = one(&[Value::Float(-0.0), Value::Float(2.5)]);
    assert_eq!(
        eval(
            &in_list(vec![Value::Int(0), Value::Float(2.5)], false),
            &floats
        )
        .unwrap(),
        vec![Value::Bool(true), Value::Bool(true)]
    );
    // A candidate after a match is not evaluated.
    let lazy = BoundExpr::InList {
        expr: Box::new(col(0)),
        list: vec![
            lit(Value::Int(1)),
            bin(BinaryOp::Add, col(0), lit(Value::String("x".into()))),
        ],
        negated: false,
    };
    let mut first = c.clone();
    first.sel = Some(vec![0, 2].into());
    assert_eq!(
        eval(&lazy, &first).unwrap(),
        vec![Value::Bool(true), Value::Null]
    );
    assert_eq!(code(eval(&lazy, &c)), Some(ErrorCode::TypeMismatch));
}

#[test]
fn json_paths_read_each_document_for_every_path() {
    let docs = [
        json!({"level": 3, "kind": "a"}),
        json!({"level": 7.5, "kind": "b"}),
        json!([1, 2]),
    ];
    let mut values: Vec<Value> = docs.iter().cloned().map(Value::Json).collect();
    values.push(Value::Null);
    let c = one(&values);
    let path = |p: &str| BoundExpr::Path {
        base: Box::new(col(0)),
        path: vec![p.into()],
    };
    let e = bin(
        BinaryOp::And,
        bin(BinaryOp::Gt, path("level"), lit(Value::Int(2))),
        bin(BinaryOp::Eq, path("kind"), lit(Value::String("b".into()))),
    );
    assert_eq!(
        eval(&e, &c).unwrap(),
        vec![
            Value::Bool(false),
            Value::Bool(true),
            Value::Null,
            Value::Null
        ]
    );
    assert_eq!(
        eval(&path("1"), &c).unwrap(),
        vec![Value::Null, Value::Null, Value::Int(2), Value::Null]
    );
}

#[test]
fn between_and_is_null_use_three_valued_logic() {
    let c = one(&[Value::Int(1), Value::Int(5), Value::Null, Value::Int(9)]);
    let between = |lo: Value, hi: Value, negated| BoundExpr::Between {
        expr: Box::new(col(0)),
        low: Box::new(lit(lo)),
        high: Box::new(lit(hi)),
        negated,
    };
    assert_eq!(
        eval(&between(Value::Int(2), Value::Float(8.5), false), &c).unwrap(),
        vec![
            Value::Bool(false),
            Value::Bool(true),
            Value::Null,
            Value::Bool(false)
        ]
    );
    // An unknown bound decides only where the other one does not.
    assert_eq!(
        eval(&between(Value::Int(2), Value::Null, true), &c).unwrap(),
        vec![Value::Bool(true), Value::Null, Value::Null, Value::Null]
    );
    let is_null = BoundExpr::IsNull {
        expr: Box::new(col(0)),
        negated: false,
    };
    assert_eq!(
        eval(&is_null, &c).unwrap(),
        vec![
            Value::Bool(false),
            Value::Bool(false),
            Value::Bool(true),
            Value::Bool(false)
        ]
    );
}

/// The speed of `age > 50` over 2048 ints, against the row path. Not a
/// test (no timing is asserted); run with `--ignored --nocapture`.
#[test]
#[ignore]
fn speed_of_a_comparison_with_a_constant() {
    let values: Vec<Value> = (0..2048).map(|i| Value::Int((i * 37) % 100)).collect();
    let c = one(&values);
    let k = Kernel::compile(&bin(BinaryOp::Gt, col(0), lit(Value::Int(50)))).unwrap();
    let rounds = 2000;
    let t = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..rounds {
        n += k.select(&c).unwrap().len();
    }
    let fast = t.elapsed();
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        n -= k.select_rows(&c).unwrap().len();
    }
    let rows = t.elapsed();
    assert_eq!(n, 0);
    println!(
        "age > 50 over 2048 ints: kernel {:?}, row path {:?} per chunk ({:.1}x)",
        fast / rounds,
        rows / rounds,
        rows.as_secs_f64() / fast.as_secs_f64()
    );
}

#[test]
fn case_and_coalesce_evaluate_a_branch_only_where_it_is_taken() {
    let s = |x: &str| Value::String(x.into());
    let c = one(&[s("12"), s("x"), Value::Null]);
    let to_int = BoundExpr::Cast {
        expr: Box::new(col(0)),
        ty: ColumnType::Int,
    };
    // The cast fails on "x"; the case takes it only where the string is
    // not "x".
    let case = BoundExpr::Case {
        operand: None,
        whens: vec![(bin(BinaryOp::NotEq, col(0), lit(s("x"))), to_int.clone())],
        else_result: Some(Box::new(lit(Value::Float(0.5)))),
        ty: Some(ColumnType::Float),
    };
    assert_eq!(
        eval(&case, &c).unwrap(),
        vec![Value::Float(12.0), Value::Float(0.5), Value::Float(0.5)]
    );
    // The simple form compares the operand with each value.
    let simple = BoundExpr::Case {
        operand: Some(Box::new(col(0))),
        whens: vec![
            (lit(s("x")), lit(Value::Int(1))),
            (lit(s("12")), lit(Value::Int(2))),
        ],
        else_result: None,
        ty: Some(ColumnType::Int),
    };
    assert_eq!(
        eval(&simple, &c).unwrap(),
        vec![Value::Int(2), Value::Int(1), Value::Null]
    );
    // coalesce reaches the cast only at the null.
    let co = BoundExpr::Function {
        func: ScalarFunc::Coalesce,
        args: vec![col(0), to_int.clone()],
        ty: None,
    };
    assert_eq!(eval(&co, &c).unwrap(), vec![s("12"), s("x"), Value::Null]);
    // Where the failing branch is taken, the error is the row path's.
    let always = BoundExpr::Case {
        operand: None,
        whens: vec![(lit(Value::Bool(true)), to_int)],
        else_result: None,
        ty: None,
    };
    assert_eq!(code(eval(&always, &c)), Some(ErrorCode::TypeMismatch));
}

#[test]
fn functions_over_vectors() {
    let s = |x: &str| Value::String(x.into());
    let c = Chunk::new(
        vec![
            Arc::new(Vector::from_values(&[s("Héllo"), Value::Null, s("ab")])),
            Arc::new(Vector::from_values(&[
                Value::Int(2),
                Value::Int(1),
                Value::Null,
            ])),
        ],
        3,
    );
    let f = |func, args| BoundExpr::Function {
        func,
        args,
        ty: None,
    };
    assert_eq!(
        eval(&f(ScalarFunc::Upper, vec![col(0)]), &c).unwrap(),
        vec![s("HÉLLO"), Value::Null, s("AB")]
    );
    assert_eq!(
        eval(
            &f(
                ScalarFunc::Substring,
                vec![col(0), col(1), lit(Value::Int(2))]
            ),
            &c
        )
        .unwrap(),
        vec![s("él"), Value::Null, Value::Null]
    );
    assert_eq!(
        eval(&f(ScalarFunc::Concat, vec![col(0), col(1)]), &c).unwrap(),
        vec![s("Héllo2"), s("1"), s("ab")]
    );
    assert_eq!(
        eval(&bin(BinaryOp::Concat, col(0), col(1)), &c).unwrap(),
        vec![s("Héllo2"), Value::Null, Value::Null]
    );
    assert_eq!(
        eval(&bin(BinaryOp::Mod, col(1), lit(Value::Int(2))), &c).unwrap(),
        vec![Value::Int(0), Value::Int(1), Value::Null]
    );
    assert_eq!(
        code(eval(&f(ScalarFunc::Length, vec![col(1)]), &c)),
        Some(ErrorCode::TypeMismatch)
    );
}
