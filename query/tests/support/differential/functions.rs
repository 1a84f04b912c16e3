//! Random calls of the scalar functions, `case`, `cast`, `%` and `||`,
//! limited to the forms on which fasty (PostgreSQL's semantics) and
//! SQLite agree in value and type: string functions on strings,
//! `substring` from positions 1 and up, `coalesce`/`nullif`/`case` whose
//! arguments share one kind (SQLite does not widen an int to a float),
//! `%` on ints only (SQLite truncates floats first), `round` of floats
//! only and without digits (SQLite's `round` of an int is a float),
//! casts of ints only (SQLite truncates a float cast to int), no
//! `greatest`/`least` (SQLite's `max`/`min` give null for any null).

use fasty_query::ast::{BinaryOp, ColumnType, Expr, Literal};
use rand::Rng;
use rand::rngs::StdRng;

use super::generate::{name, rand_pred};
use super::schema::{Col, Kind, quarter};

fn call(f: &str, args: Vec<Expr>) -> Expr {
    Expr::Function {
        name: f.to_owned(),
        args,
    }
}

fn lit(l: Literal) -> Expr {
    Expr::Literal(l)
}

fn s(x: &str) -> Expr {
    lit(Literal::String(x.to_owned()))
}

fn of_kind<'a>(cols: &[&'a Col], kind: Kind) -> Vec<&'a Col> {
    cols.iter().copied().filter(|c| c.kind == kind).collect()
}

/// A literal of `kind`, for the same-kind arguments.
fn literal_of(rng: &mut StdRng, kind: Kind) -> Expr {
    match kind {
        Kind::Int => lit(Literal::Int(rng.random_range(-5..50))),
        Kind::Float => lit(quarter(rng, -10, 40)),
        Kind::Str => s(["k", "alice", "", "NYC"][rng.random_range(0..4)]),
        Kind::Bool => lit(Literal::Bool(rng.random_bool(0.5))),
    }
}

/// A string expression over `strs` (not empty).
fn string_expr(rng: &mut StdRng, strs: &[&Col], qualify: bool) -> Expr {
    let c = name(strs[rng.random_range(0..strs.len())], qualify);
    match rng.random_range(0..8) {
        0 => call("lower", vec![c]),
        1 => call("upper", vec![c]),
        2 => call(
            "substring",
            vec![c, lit(Literal::Int(rng.random_range(1..6)))],
        ),
        3 => call(
            "substring",
            vec![
                c,
                lit(Literal::Int(rng.random_range(1..6))),
                lit(Literal::Int(rng.random_range(0..5))),
            ],
        ),
        4 => call("replace", vec![c, s("a"), s("xy")]),
        5 => call("trim", vec![c]),
        6 => Expr::Binary {
            op: BinaryOp::Concat,
            left: Box::new(c),
            right: Box::new(s("-")),
        },
        _ => c,
    }
}

/// A random function call, `case`, cast or `%` over `cols`, or `None`
/// when `cols` has nothing it fits.
pub fn rand_function(rng: &mut StdRng, cols: &[&Col], qualify: bool) -> Option<Expr> {
    let strs = of_kind(cols, Kind::Str);
    let ints: Vec<&Col> = of_kind(cols, Kind::Int)
        .into_iter()
        .filter(|c| c.name != "id")
        .collect();
    let floats = of_kind(cols, Kind::Float);
    let pick = |rng: &mut StdRng, v: &[&Col]| name(v[rng.random_range(0..v.len())], qualify);
    Some(match rng.random_range(0..9) {
        0 | 1 if !strs.is_empty() => string_expr(rng, &strs, qualify),
        2 if !strs.is_empty() => match rng.random_range(0..2) {
            0 => call("length", vec![string_expr(rng, &strs, qualify)]),
            _ => call("strpos", vec![pick(rng, &strs), s("a")]),
        },
        3 if !ints.is_empty() => Expr::Binary {
            op: BinaryOp::Mod,
            left: Box::new(pick(rng, &ints)),
            right: Box::new(lit(Literal::Int(rng.random_range(-4..8)))),
        },
        4 if !floats.is_empty() => match rng.random_range(0..3) {
            0 => call("round", vec![pick(rng, &floats)]),
            1 => call("abs", vec![pick(rng, &floats)]),
            _ => call(
                "coalesce",
                vec![pick(rng, &floats), lit(quarter(rng, -10, 10))],
            ),
        },
        5 if !ints.is_empty() => match rng.random_range(0..3) {
            0 => call("abs", vec![pick(rng, &ints)]),
            1 => call("nullif", vec![pick(rng, &ints), literal_of(rng, Kind::Int)]),
            _ => Expr::Cast {
                expr: Box::new(pick(rng, &ints)),
                ty: if rng.random_bool(0.5) {
                    ColumnType::String
                } else {
                    ColumnType::Float
                },
            },
        },
        6 if !strs.is_empty() => call(
            "coalesce",
            vec![
                pick(rng, &strs),
                pick(rng, &strs),
                literal_of(rng, Kind::Str),
            ],
        ),
        _ => {
            // `case` with results of one kind.
            let kinds: Vec<(Kind, Vec<&Col>)> = [Kind::Int, Kind::Float, Kind::Str]
                .into_iter()
                .map(|k| (k, of_kind(cols, k)))
                .filter(|(_, v)| !v.is_empty())
                .collect();
            if kinds.is_empty() {
                return None;
            }
            let (kind, same) = &kinds[rng.random_range(0..kinds.len())];
            let result = |rng: &mut StdRng| {
                if rng.random_bool(0.5) {
                    pick(rng, same)
                } else {
                    literal_of(rng, *kind)
                }
            };
            let whens = (0..rng.random_range(1..3))
                .map(|_| (rand_pred(rng, cols, 1, qualify), result(rng)))
                .collect();
            let else_result = rng.random_bool(0.7).then(|| Box::new(result(rng)));
            Expr::Case {
                operand: None,
                whens,
                else_result,
            }
        }
    })
}
