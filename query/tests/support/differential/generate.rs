//! Random queries and writes over the schema in `schema.rs`, as fasty
//! syntax trees.
//!
//! Shapes stay inside what both systems define the same way
//! (docs/language.md lists fasty's rules); what is left out and why:
//! - values of different kinds are never compared (`name > 5`, `active =
//!   1`): fasty gives null, SQLite orders numbers before text and reads
//!   booleans as integers;
//! - `not`, `and` and `or` only get boolean operands (SQLite would accept
//!   numbers, fasty gives null), arithmetic only numbers (fasty's
//!   `type_mismatch`);
//! - arithmetic never involves `id` (moved rows get ids in the millions,
//!   whose products could overflow `int`: fasty's `numeric_overflow`,
//!   SQLite's silent switch to float); the other int columns stay small;
//! - `order by` is used only where it defines the order (a unique key, the
//!   ids of every joined table, or every output column, so that tied rows
//!   are identical), never by a constant (`ORDER BY 1` is a column position
//!   in SQLite), and `limit`/`offset` only with such an order;
//! - aggregate arguments use `+ - *` only, so that sums of quarters stay
//!   exact and ordering by an aggregate cannot flip near-ties; results are
//!   never ordered by `sum`/`avg` (compared with a tolerance);
//! - `having` compares counts, `min` and `max` only (exact values);
//! - `select distinct` orders, when it does, by every output column (the
//!   only order SQL allows there that is defined);
//! - a left join's `on` adds conditions on the joined table only (fasty
//!   refuses others); after a left join the ids of every table define
//!   the order.

use fasty_query::ast::{
    AggFunc, BinaryOp, Expr, Join, JoinKind, Literal, OrderBy, Select, SelectItem, Statement,
    UnaryOp,
};
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use super::schema::{
    Col, Kind, MOVED, TABLES, Table, quarter, rand_operand, rand_value, sql_literal, table,
};
use super::sql::sql_expr;

pub fn name(col: &Col, qualify: bool) -> Expr {
    if qualify {
        Expr::Name(vec![col.table.into(), col.name.into()])
    } else {
        Expr::Name(vec![col.name.into()])
    }
}

fn qname(table: &str, col: &str) -> Expr {
    Expr::Name(vec![table.into(), col.into()])
}

fn lit(l: Literal) -> Expr {
    Expr::Literal(l)
}

fn bin(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}

fn not(e: Expr) -> Expr {
    Expr::Unary {
        op: UnaryOp::Not,
        expr: Box::new(e),
    }
}

fn agg(func: AggFunc, arg: Option<Expr>) -> Expr {
    Expr::Aggregate {
        func,
        arg: arg.map(Box::new),
        distinct: false,
    }
}

/// `func(distinct arg)`.
fn agg_distinct(func: AggFunc, arg: Expr) -> Expr {
    Expr::Aggregate {
        func,
        arg: Some(Box::new(arg)),
        distinct: true,
    }
}

fn item(e: Expr) -> SelectItem {
    SelectItem {
        expr: e,
        alias: None,
    }
}

fn any<'a>(rng: &mut StdRng, cols: &[&'a Col]) -> &'a Col {
    cols[rng.random_range(0..cols.len())]
}

const COMPARISONS: [BinaryOp; 6] = [
    BinaryOp::Eq,
    BinaryOp::NotEq,
    BinaryOp::Lt,
    BinaryOp::LtEq,
    BinaryOp::Gt,
    BinaryOp::GtEq,
];

fn comparison(rng: &mut StdRng) -> BinaryOp {
    COMPARISONS[rng.random_range(0..COMPARISONS.len())]
}

/// The operator that gives the same result with its operands swapped.
fn flip(op: BinaryOp) -> BinaryOp {
    match op {
        BinaryOp::Lt => BinaryOp::Gt,
        BinaryOp::LtEq => BinaryOp::GtEq,
        BinaryOp::Gt => BinaryOp::Lt,
        BinaryOp::GtEq => BinaryOp::LtEq,
        o => o,
    }
}

/// The numeric columns arithmetic may use (not `id`: see the module doc).
fn arith_cols<'a>(cols: &[&'a Col]) -> Vec<&'a Col> {
    cols.iter()
        .copied()
        .filter(|c| c.numeric() && c.name != "id")
        .collect()
}

/// A random numeric expression over `cols` of at most `depth` operators:
/// `+ - * /` mixing ints and floats, division by zero, null operands and
/// negation.
pub fn rand_arith(rng: &mut StdRng, cols: &[&Col], depth: u32, qualify: bool) -> Expr {
    let nums = arith_cols(cols);
    if depth == 0 || rng.random_bool(0.35) {
        return match rng.random_range(0..20) {
            0..=12 if !nums.is_empty() => name(any(rng, &nums), qualify),
            13..=15 => lit(Literal::Int(rng.random_range(0..9))),
            16..=17 => lit(quarter(rng, -8, 40)),
            18 => lit(Literal::Null),
            _ => lit(Literal::Int(rng.random_range(1..4))),
        };
    }
    if rng.random_bool(0.06) {
        return Expr::Unary {
            op: UnaryOp::Neg,
            expr: Box::new(rand_arith(rng, cols, depth - 1, qualify)),
        };
    }
    let op = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div][rng.random_range(0..4)];
    let left = rand_arith(rng, cols, depth - 1, qualify);
    let right = if op == BinaryOp::Div && rng.random_bool(0.2) {
        // Division by zero, int or float, directly or computed.
        match rng.random_range(0..3) {
            0 => lit(Literal::Int(0)),
            1 => lit(Literal::Float(0.0)),
            _ => {
                let c = rand_arith(rng, cols, 0, qualify);
                bin(BinaryOp::Sub, c.clone(), c)
            }
        }
    } else {
        rand_arith(rng, cols, depth - 1, qualify)
    };
    bin(op, left, right)
}

/// A numeric literal to compare arithmetic with.
fn numeric_operand(rng: &mut StdRng) -> Expr {
    match rng.random_range(0..4) {
        0 => lit(quarter(rng, -200, 2000)),
        1 => lit(Literal::Int(rng.random_range(-20..20))),
        _ => lit(Literal::Int(rng.random_range(-100..1500))),
    }
}

/// A random condition over `cols` (qualified names when `qualify`).
pub fn rand_pred(rng: &mut StdRng, cols: &[&Col], depth: u32, qualify: bool) -> Expr {
    if depth > 0 && rng.random_bool(0.4) {
        let l = rand_pred(rng, cols, depth - 1, qualify);
        return match rng.random_range(0..3) {
            0 => bin(BinaryOp::And, l, rand_pred(rng, cols, depth - 1, qualify)),
            1 => bin(BinaryOp::Or, l, rand_pred(rng, cols, depth - 1, qualify)),
            _ => not(l),
        };
    }
    let col = any(rng, cols);
    let c = name(col, qualify);
    let operand = |rng: &mut StdRng| lit(rand_operand(rng, col));
    match rng.random_range(0..18) {
        0 => Expr::IsNull {
            expr: Box::new(c),
            negated: rng.random_bool(0.5),
        },
        1 => Expr::InList {
            expr: Box::new(c),
            list: (0..rng.random_range(1..5))
                .map(|_| {
                    if rng.random_bool(0.1) {
                        lit(Literal::Null)
                    } else {
                        operand(rng)
                    }
                })
                .collect(),
            negated: rng.random_bool(0.3),
        },
        2 if col.kind != Kind::Bool => {
            let bound = |rng: &mut StdRng| {
                if rng.random_bool(0.08) {
                    Box::new(lit(Literal::Null))
                } else {
                    Box::new(operand(rng))
                }
            };
            Expr::Between {
                expr: Box::new(c),
                low: bound(rng),
                high: bound(rng),
                negated: rng.random_bool(0.2),
            }
        }
        3 if col.kind == Kind::Str => {
            let base = match rand_value(rng, col, false) {
                Literal::String(s) => s,
                _ => String::new(),
            };
            let cut = rng.random_range(0..=base.chars().count().min(3));
            let mut p: String = base.chars().take(cut).collect();
            p.push(['%', '_'][rng.random_range(0..2)]);
            if rng.random_bool(0.3) {
                p.insert(0, '%');
            }
            Expr::Like {
                expr: Box::new(c),
                pattern: Box::new(lit(Literal::String(p))),
                negated: rng.random_bool(0.2),
            }
        }
        4 | 5 if !arith_cols(cols).is_empty() => {
            // `age * 2 > 50`, `amount / qty <= balance + 1`.
            let depth = rng.random_range(1..3);
            let left = rand_arith(rng, cols, depth, qualify);
            let right = if rng.random_bool(0.3) {
                rand_arith(rng, cols, 1, qualify)
            } else {
                numeric_operand(rng)
            };
            bin(comparison(rng), left, right)
        }
        6 => {
            // A null literal on either side: never true, never false.
            let op = comparison(rng);
            match rng.random_range(0..5) {
                0 => bin(op, lit(Literal::Null), c),
                1 => Expr::Between {
                    expr: Box::new(c),
                    low: Box::new(lit(Literal::Null)),
                    high: Box::new(operand(rng)),
                    negated: rng.random_bool(0.5),
                },
                _ => bin(op, c, lit(Literal::Null)),
            }
        }
        7 => {
            // Two columns of one kind, maybe of two tables.
            let same: Vec<&Col> = cols
                .iter()
                .copied()
                .filter(|o| o.kind == col.kind)
                .collect();
            let other = any(rng, &same);
            bin(comparison(rng), c, name(other, qualify))
        }
        8 if col.kind == Kind::Bool => {
            if rng.random_bool(0.5) {
                c
            } else {
                not(c)
            }
        }
        _ => {
            let op = comparison(rng);
            if rng.random_bool(0.2) {
                bin(flip(op), operand(rng), c)
            } else {
                bin(op, c, operand(rng))
            }
        }
    }
}

fn select(from: &str) -> Select {
    Select {
        items: Vec::new(),
        from: from.into(),
        joins: Vec::new(),
        filter: None,
        group_by: Vec::new(),
        order_by: Vec::new(),
        limit: None,
        offset: None,
        distinct: false,
        having: None,
        from_alias: None,
    }
}

fn rand_limit(rng: &mut StdRng, s: &mut Select) {
    if rng.random_bool(0.6) {
        s.limit = Some(rng.random_range(0..40));
        if rng.random_bool(0.4) {
            s.offset = Some(rng.random_range(0..30));
        }
    }
}

/// Whether `e` refers to no column (a constant, which must not be an
/// `order by` key: SQLite reads `ORDER BY 1` as a column position).
fn is_constant(e: &Expr) -> bool {
    match e {
        Expr::Literal(_) => true,
        Expr::Name(_) | Expr::Aggregate { .. } => false,
        Expr::Unary { expr, .. } => is_constant(expr),
        Expr::Binary { left, right, .. } => is_constant(left) && is_constant(right),
        Expr::Like { expr, pattern, .. } => is_constant(expr) && is_constant(pattern),
        Expr::IsNull { expr, .. } => is_constant(expr),
        Expr::InList { expr, list, .. } => is_constant(expr) && list.iter().all(is_constant),
        Expr::Between {
            expr, low, high, ..
        } => is_constant(expr) && is_constant(low) && is_constant(high),
        Expr::Function { args, .. } => args.iter().all(is_constant),
        Expr::Cast { expr, .. } => is_constant(expr),
        Expr::Case { .. } => parts(e).iter().all(|x| is_constant(x)),
    }
}

/// The sub-expressions of a `case`.
fn parts(e: &Expr) -> Vec<&Expr> {
    let mut out = Vec::new();
    if let Expr::Case {
        operand,
        whens,
        else_result,
    } = e
    {
        out.extend(operand.as_deref());
        for (c, r) in whens {
            out.push(c);
            out.push(r);
        }
        out.extend(else_result.as_deref());
    }
    out
}

/// Whether `e` holds a `sum` or an `avg`: a float result of one compares
/// with a tolerance (SQLite adds in another order).
pub fn has_sum_or_avg(e: &Expr) -> bool {
    match e {
        Expr::Aggregate { func, arg, .. } => {
            matches!(func, AggFunc::Sum | AggFunc::Avg)
                || arg.as_deref().is_some_and(has_sum_or_avg)
        }
        Expr::Literal(_) | Expr::Name(_) => false,
        Expr::Unary { expr, .. } | Expr::IsNull { expr, .. } => has_sum_or_avg(expr),
        Expr::Binary { left, right, .. } => has_sum_or_avg(left) || has_sum_or_avg(right),
        Expr::Like { expr, pattern, .. } => has_sum_or_avg(expr) || has_sum_or_avg(pattern),
        Expr::InList { expr, list, .. } => has_sum_or_avg(expr) || list.iter().any(has_sum_or_avg),
        Expr::Between {
            expr, low, high, ..
        } => has_sum_or_avg(expr) || has_sum_or_avg(low) || has_sum_or_avg(high),
        Expr::Function { args, .. } => args.iter().any(has_sum_or_avg),
        Expr::Cast { expr, .. } => has_sum_or_avg(expr),
        Expr::Case { .. } => parts(e).iter().any(|x| has_sum_or_avg(x)),
    }
}

fn keys_in_order(rng: &mut StdRng, exprs: &[Expr]) -> Vec<OrderBy> {
    let mut keys: Vec<OrderBy> = exprs
        .iter()
        .filter(|e| !is_constant(e))
        .map(|e| OrderBy {
            expr: e.clone(),
            desc: rng.random_bool(0.5),
        })
        .collect();
    keys.shuffle(rng);
    keys
}

/// An `order by` that defines the order of a result whose rows `unique`
/// identifies (a list of columns unique together): `unique` alone, some
/// columns then `unique`, or every output column when the items are
/// explicit (tied rows are then identical). May be empty (no order).
fn rand_order(rng: &mut StdRng, s: &mut Select, cols: &[&Col], unique: &[Expr], qualify: bool) {
    if rng.random_bool(0.4) {
        return;
    }
    let mut keys = Vec::new();
    match rng.random_range(0..3) {
        0 if !s.items.is_empty() => {
            let outputs: Vec<Expr> = s.items.iter().map(|i| i.expr.clone()).collect();
            keys = keys_in_order(rng, &outputs);
        }
        1 => keys = keys_in_order(rng, unique),
        _ => {
            for _ in 0..rng.random_range(1..3) {
                keys.push(OrderBy {
                    expr: name(any(rng, cols), qualify),
                    desc: rng.random_bool(0.5),
                });
            }
            keys.extend(keys_in_order(rng, unique));
        }
    }
    if keys.is_empty() {
        return;
    }
    s.order_by = keys;
    rand_limit(rng, s);
}

/// A select item over `cols`: mostly a column, else arithmetic, a
/// comparison (a bool result) or a literal.
fn rand_item(rng: &mut StdRng, cols: &[&Col], qualify: bool) -> SelectItem {
    item(match rng.random_range(0..23) {
        20..=22 => match super::functions::rand_function(rng, cols, qualify) {
            Some(e) => e,
            None => name(any(rng, cols), qualify),
        },
        0..=13 => name(any(rng, cols), qualify),
        14..=17 => {
            let depth = rng.random_range(1..3);
            rand_arith(rng, cols, depth, qualify)
        }
        18 => rand_pred(rng, cols, 0, qualify),
        _ => lit(match rng.random_range(0..4) {
            0 => Literal::Null,
            1 => Literal::Int(rng.random_range(-3..100)),
            2 => quarter(rng, -10, 10),
            _ => Literal::String("k".into()),
        }),
    })
}

/// A random single-table query over any of the tables.
pub fn rand_single(rng: &mut StdRng) -> Select {
    let t = &TABLES[[0, 0, 0, 1, 1, 2][rng.random_range(0..6)]];
    let cols: Vec<&Col> = t.cols.iter().collect();
    let mut s = select(t.name);
    if rng.random_bool(0.85) {
        s.filter = Some(rand_pred(rng, &cols, 2, false));
    }
    if rng.random_bool(0.6) {
        s.items = (0..rng.random_range(1..5))
            .map(|_| rand_item(rng, &cols, false))
            .collect();
    }
    let unique = [Expr::Name(vec!["id".into()])];
    if !s.items.is_empty() && rng.random_bool(0.15) {
        make_distinct(rng, &mut s);
        return s;
    }
    if s.items.is_empty() && rng.random_bool(0.3) {
        // Every column of `select *`, permuted: the order is defined.
        let all: Vec<Expr> = cols.iter().map(|c| name(c, false)).collect();
        s.order_by = keys_in_order(rng, &all);
        rand_limit(rng, &mut s);
    } else {
        rand_order(rng, &mut s, &cols, &unique, false);
    }
    s
}

/// A random aggregate: 1-3 aggregates (sometimes combined by
/// arithmetic) over `cols`, with up to two keys of `groups`, and an order
/// by all the group keys (after an aggregate, perhaps) where defined.
fn rand_grouped(rng: &mut StdRng, s: &mut Select, cols: &[&Col], groups: &[Expr], qualify: bool) {
    for _ in 0..rng.random_range(0..3) {
        let g = groups[rng.random_range(0..groups.len())].clone();
        if !s.group_by.contains(&g) {
            s.group_by.push(g);
        }
    }
    s.items = s.group_by.iter().cloned().map(item).collect();
    let nums: Vec<&Col> = cols.iter().copied().filter(|c| c.numeric()).collect();
    let one = |rng: &mut StdRng| -> Expr {
        let arg = |rng: &mut StdRng, numeric: bool| -> Expr {
            if rng.random_bool(0.2) && !arith_cols(cols).is_empty() {
                rand_arith_no_div(rng, cols, qualify)
            } else if numeric {
                name(any(rng, &nums), qualify)
            } else {
                name(any(rng, cols), qualify)
            }
        };
        match rng.random_range(0..14) {
            0 | 1 => agg(AggFunc::Count, None),
            2 => agg(AggFunc::Count, Some(arg(rng, false))),
            12 => agg_distinct(AggFunc::Count, arg(rng, false)),
            13 => {
                let f = [AggFunc::Sum, AggFunc::Avg, AggFunc::Min][rng.random_range(0..3)];
                agg_distinct(f, arg(rng, true))
            }
            3 | 4 => agg(AggFunc::Sum, Some(arg(rng, true))),
            5 | 6 => agg(AggFunc::Avg, Some(arg(rng, true))),
            7 | 8 => agg(AggFunc::Min, Some(arg(rng, false))),
            _ => agg(AggFunc::Max, Some(arg(rng, false))),
        }
    };
    for _ in 0..rng.random_range(1..4) {
        let a = one(rng);
        let e = if rng.random_bool(0.15)
            && !matches!(&a, Expr::Aggregate { arg: Some(x), .. } if !is_numeric_agg(x, cols))
        {
            // Arithmetic over aggregates: `count(*) * 10`, `max(x) - min(x)`,
            // `sum(qty) / count(*)` (int division, by zero when no rows).
            let op = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div]
                [rng.random_range(0..4)];
            let small = arith_cols(cols);
            let other = if rng.random_bool(0.5) || small.is_empty() {
                lit(Literal::Int(rng.random_range(0..11)))
            } else {
                match rng.random_range(0..3) {
                    0 => agg(AggFunc::Count, None),
                    1 => agg(AggFunc::Min, Some(name(any(rng, &small), qualify))),
                    _ => agg(AggFunc::Max, Some(name(any(rng, &small), qualify))),
                }
            };
            bin(op, a, other)
        } else {
            a
        };
        s.items.push(item(e));
    }
    if !s.group_by.is_empty() && rng.random_bool(0.3) {
        s.having = Some(rand_having(rng, cols, qualify));
    }
    if !s.group_by.is_empty() && rng.random_bool(0.5) {
        let groups = s.group_by.clone();
        let mut keys = Vec::new();
        let exact: Vec<Expr> = s.items[groups.len()..]
            .iter()
            .map(|i| i.expr.clone())
            .filter(|e| !has_sum_or_avg(e))
            .collect();
        if !exact.is_empty() && rng.random_bool(0.4) {
            keys.push(OrderBy {
                expr: exact[rng.random_range(0..exact.len())].clone(),
                desc: rng.random_bool(0.5),
            });
        }
        keys.extend(keys_in_order(rng, &groups));
        s.order_by = keys;
        rand_limit(rng, s);
    }
}

/// A `having` predicate: a count, `min` or `max` compared with a
/// constant, sometimes two of them joined by `and`/`or`.
fn rand_having(rng: &mut StdRng, cols: &[&Col], qualify: bool) -> Expr {
    let one = |rng: &mut StdRng| -> Expr {
        let nums: Vec<&Col> = cols.iter().copied().filter(|c| c.numeric()).collect();
        let op = comparison(rng);
        match rng.random_range(0..4) {
            0 => bin(
                op,
                agg(AggFunc::Count, None),
                lit(Literal::Int(rng.random_range(0..4))),
            ),
            1 => bin(
                op,
                agg_distinct(AggFunc::Count, name(any(rng, cols), qualify)),
                lit(Literal::Int(rng.random_range(0..3))),
            ),
            2 if !nums.is_empty() => bin(
                op,
                agg(AggFunc::Min, Some(name(any(rng, &nums), qualify))),
                lit(Literal::Int(rng.random_range(0..60))),
            ),
            _ if !nums.is_empty() => bin(
                op,
                agg(AggFunc::Max, Some(name(any(rng, &nums), qualify))),
                lit(Literal::Int(rng.random_range(0..60))),
            ),
            _ => agg(AggFunc::Count, None),
        }
    };
    let a = one(rng);
    match rng.random_range(0..4) {
        0 => bin(BinaryOp::And, a, one(rng)),
        1 => bin(BinaryOp::Or, a, one(rng)),
        _ => a,
    }
}

/// `select distinct` over `s`'s explicit items: ordered (when at all) by
/// every output column, which the distinct rows tell apart.
fn make_distinct(rng: &mut StdRng, s: &mut Select) {
    s.distinct = true;
    s.order_by.clear();
    s.limit = None;
    s.offset = None;
    if rng.random_bool(0.5) {
        let outputs: Vec<Expr> = s.items.iter().map(|i| i.expr.clone()).collect();
        s.order_by = keys_in_order(rng, &outputs);
        if !s.order_by.is_empty() {
            rand_limit(rng, s);
        }
    }
}

/// Whether the aggregate argument `x` is numeric (a numeric column or
/// arithmetic), so that arithmetic over its aggregate is defined.
fn is_numeric_agg(x: &Expr, cols: &[&Col]) -> bool {
    match x {
        Expr::Name(parts) => cols.iter().any(|c| {
            c.numeric()
                && parts.last().map(String::as_str) == Some(c.name)
                && (parts.len() == 1 || parts[0] == c.table)
        }),
        _ => true,
    }
}

/// Arithmetic for an aggregate's argument: one `+ - *` of two numeric
/// columns or a column and a constant.
fn rand_arith_no_div(rng: &mut StdRng, cols: &[&Col], qualify: bool) -> Expr {
    let nums = arith_cols(cols);
    let op = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul][rng.random_range(0..3)];
    let right = if rng.random_bool(0.5) {
        name(any(rng, &nums), qualify)
    } else {
        lit(Literal::Int(rng.random_range(1..4)))
    };
    bin(op, name(any(rng, &nums), qualify), right)
}

/// A random aggregate query over one table.
pub fn rand_aggregate(rng: &mut StdRng) -> Select {
    let t = &TABLES[[0, 0, 1, 2][rng.random_range(0..4)]];
    let cols: Vec<&Col> = t.cols.iter().collect();
    let mut s = select(t.name);
    if rng.random_bool(0.7) {
        s.filter = Some(rand_pred(rng, &cols, 1, false));
    }
    let n = |c: &str| Expr::Name(vec![c.into()]);
    let div = |c: &str, k: i64| bin(BinaryOp::Div, n(c), lit(Literal::Int(k)));
    let groups: Vec<Expr> = match t.name {
        "users" => vec![n("city"), n("active"), n("age"), n("name"), div("age", 10)],
        "orders" => vec![n("status"), n("qty"), n("user_id"), div("day", 100)],
        _ => vec![n("paid"), n("email"), n("user_id"), div("day", 50)],
    };
    rand_grouped(rng, &mut s, &cols, &groups, false);
    s
}

/// One join of the tables: the query's skeleton, its columns, the ids
/// that identify a result row, and keys it may group by.
struct Shape {
    select: Select,
    cols: Vec<&'static Col>,
    unique: Vec<Expr>,
    groups: Vec<Expr>,
}

fn join(table: &str, left: Expr, right: Expr) -> Join {
    Join {
        table: table.into(),
        on: bin(BinaryOp::Eq, left, right),
        kind: JoinKind::Inner,
        alias: None,
    }
}

/// A random join shape: many-to-one on the primary key, one-to-many on an
/// indexed column, many-to-many on non-unique columns (strings and ints,
/// one side an expression), and chains of three tables.
fn rand_shape(rng: &mut StdRng) -> Shape {
    let (from, joins, unique): (&str, Vec<Join>, Vec<(&str, &str)>) = match rng.random_range(0..7) {
        0 => (
            "orders",
            vec![join(
                "users",
                qname("orders", "user_id"),
                qname("users", "id"),
            )],
            vec![("orders", "id")],
        ),
        1 => (
            "users",
            vec![join(
                "orders",
                qname("orders", "user_id"),
                qname("users", "id"),
            )],
            vec![("orders", "id")],
        ),
        2 => (
            "visits",
            vec![join(
                "users",
                qname("users", "email"),
                qname("visits", "email"),
            )],
            vec![("visits", "id"), ("users", "id")],
        ),
        3 => (
            "orders",
            vec![join(
                "visits",
                qname("visits", "day"),
                qname("orders", "day"),
            )],
            vec![("orders", "id"), ("visits", "id")],
        ),
        4 => (
            "visits",
            vec![
                join("users", qname("users", "id"), qname("visits", "user_id")),
                join("orders", qname("orders", "user_id"), qname("users", "id")),
            ],
            vec![("visits", "id"), ("orders", "id")],
        ),
        5 => (
            "users",
            vec![join(
                "visits",
                qname("visits", "day"),
                bin(BinaryOp::Add, qname("users", "age"), lit(Literal::Int(1))),
            )],
            vec![("users", "id"), ("visits", "id")],
        ),
        _ => (
            "orders",
            vec![
                join("users", qname("users", "id"), qname("orders", "user_id")),
                join("visits", qname("visits", "email"), qname("users", "email")),
            ],
            vec![("orders", "id"), ("visits", "id")],
        ),
    };
    let mut tables = vec![from];
    tables.extend(joins.iter().map(|j| j.table.as_str()));
    let tables: Vec<&'static Table> = tables.iter().map(|t| table(t)).collect();
    let cols: Vec<&'static Col> = tables.iter().flat_map(|t| t.cols.iter()).collect();
    let in_join = |t: &str| tables.iter().any(|x| x.name == t);
    let mut groups = Vec::new();
    for (t, c) in [
        ("users", "city"),
        ("users", "active"),
        ("orders", "status"),
        ("orders", "qty"),
        ("visits", "paid"),
    ] {
        if in_join(t) {
            groups.push(qname(t, c));
        }
    }
    if in_join("users") {
        groups.push(bin(
            BinaryOp::Div,
            qname("users", "age"),
            lit(Literal::Int(10)),
        ));
    }
    if in_join("visits") {
        groups.push(bin(
            BinaryOp::Div,
            qname("visits", "day"),
            lit(Literal::Int(100)),
        ));
    }
    let mut select = select(from);
    select.joins = joins;
    let mut unique: Vec<Expr> = unique.iter().map(|(t, c)| qname(t, c)).collect();
    // Some joins left: every row before stays, with nulls when nothing
    // matches, perhaps with a condition on the joined table in `on`.
    if rng.random_bool(0.35) {
        for j in &mut select.joins {
            if rng.random_bool(0.7) {
                j.kind = JoinKind::Left;
                if rng.random_bool(0.3) {
                    let own: Vec<&Col> = table(&j.table).cols.iter().collect();
                    let extra = rand_pred(rng, &own, 0, true);
                    j.on = bin(BinaryOp::And, j.on.clone(), extra);
                }
            }
        }
        // A null-extended row has null ids on the right: the ids of
        // every table tell the rows apart.
        unique = tables.iter().map(|t| qname(t.name, "id")).collect();
    }
    Shape {
        select,
        cols,
        unique,
        groups,
    }
}

/// A random join: rows (projections, filters, defined orders) or
/// aggregates (count, sum, avg, min, max, grouped or not).
pub fn rand_join(rng: &mut StdRng) -> Select {
    let shape = rand_shape(rng);
    let mut s = shape.select;
    let cols = shape.cols;
    if rng.random_bool(0.8) {
        s.filter = Some(rand_pred(rng, &cols, 2, true));
    }
    if rng.random_bool(0.35) {
        rand_grouped(rng, &mut s, &cols, &shape.groups, true);
        return s;
    }
    if rng.random_bool(0.9) {
        s.items = (0..rng.random_range(1..6))
            .map(|_| rand_item(rng, &cols, true))
            .collect();
        if rng.random_bool(0.15) {
            make_distinct(rng, &mut s);
            return s;
        }
    }
    rand_order(rng, &mut s, &cols, &shape.unique, true);
    s
}

/// A random query of any shape.
pub fn rand_query(rng: &mut StdRng) -> Select {
    match rng.random_range(0..10) {
        0..=4 => rand_single(rng),
        5..=6 => rand_aggregate(rng),
        _ => rand_join(rng),
    }
}

/// One write, as fasty runs it and as SQLite statements (their changes
/// add up to the affected count).
pub struct Write {
    pub stmt: Statement,
    pub sqlite: Vec<String>,
}

/// What a write generator needs to know of the current data, asked of
/// SQLite (which the comparison keeps equal to fasty).
pub trait Ids {
    fn exists(&self, table: &str, id: i64) -> bool;
}

/// A new value for `col` in an update: a literal (null too), or computed
/// from the row as it was (`age + 1`, `not active`, an int column into a
/// float one, another string column).
fn rand_assignment(rng: &mut StdRng, t: &Table, col: &Col) -> Expr {
    let same = |k: Kind| -> Vec<&Col> {
        t.cols
            .iter()
            .filter(|c| c.kind == k && c.name != col.name && c.name != "id")
            .collect()
    };
    match (col.kind, rng.random_range(0..4)) {
        (_, 0) => lit(rand_value(rng, col, true)),
        (Kind::Int, _) => bin(
            [BinaryOp::Add, BinaryOp::Sub][rng.random_range(0..2)],
            name(col, false),
            lit(Literal::Int(rng.random_range(1..8))),
        ),
        (Kind::Float, 1) => {
            // An int into a float column: stored as a float.
            let ints = same(Kind::Int);
            name(any(rng, &ints), false)
        }
        (Kind::Float, _) => bin(BinaryOp::Add, name(col, false), lit(quarter(rng, -8, 8))),
        (Kind::Bool, _) => not(name(col, false)),
        (Kind::Str, 1) if !same(Kind::Str).is_empty() => {
            let strs = same(Kind::Str);
            name(any(rng, &strs), false)
        }
        (Kind::Str, _) => lit(rand_value(rng, col, true)),
    }
}

/// A row for `insert`/`upsert`: random values, nulls both written and
/// left out, sometimes an int for a float column.
fn rand_row(rng: &mut StdRng, t: &Table, id: i64) -> Vec<(String, Literal)> {
    let mut r = vec![("id".to_string(), Literal::Int(id))];
    for c in &t.cols[1..] {
        let mut v = rand_value(rng, c, true);
        if c.kind == Kind::Float && rng.random_bool(0.1) {
            v = Literal::Int(rng.random_range(-10..100));
        }
        // A missing field is null too.
        if v != Literal::Null || rng.random_bool(0.5) {
            r.push((c.name.to_string(), v));
        }
    }
    r
}

/// The SQLite insert of one row (`INSERT OR REPLACE` for an upsert, which
/// replaces the whole row as fasty's does).
pub fn sql_insert(table: &str, row: &[(String, Literal)], replace: bool) -> String {
    let names: Vec<&str> = row.iter().map(|(k, _)| k.as_str()).collect();
    let vals: Vec<String> = row.iter().map(|(_, v)| sql_literal(v)).collect();
    format!(
        "INSERT {}INTO {table} ({}) VALUES ({})",
        if replace { "OR REPLACE " } else { "" },
        names.join(", "),
        vals.join(", ")
    )
}

fn insert(t: &Table, rows: Vec<Vec<(String, Literal)>>, upsert: bool) -> Write {
    let sqlite = rows.iter().map(|r| sql_insert(t.name, r, upsert)).collect();
    Write {
        stmt: Statement::Insert {
            table: t.name.into(),
            rows,
            upsert,
        },
        sqlite,
    }
}

/// A random write to a random table: an update (of one to three
/// columns), a delete of a window of ids, an insert of new ids (ids freed
/// by a delete included), an upsert of new and existing ids, or an update
/// moving rows to new ids. `moves` counts the moves so far (each moves by
/// its own offset, so moved rows never collide).
pub fn rand_write(rng: &mut StdRng, ids: &dyn Ids, moves: &mut i64) -> Write {
    let t = &TABLES[rng.random_range(0..TABLES.len())];
    let cols: Vec<&Col> = t.cols.iter().collect();
    let limit = t.id_limit();
    match rng.random_range(0..20) {
        0..=8 => {
            let mut sets: Vec<(String, Expr)> = Vec::new();
            for _ in 0..rng.random_range(1..4) {
                let c = &t.cols[rng.random_range(1..t.cols.len())];
                if !sets.iter().any(|(n, _)| n == c.name) {
                    sets.push((c.name.to_string(), rand_assignment(rng, t, c)));
                }
            }
            // Every row, now and then, but only computed from the row
            // (`age + 1`, `not active`): a literal for all rows would leave
            // the column one value.
            let computed = |e: &Expr| !matches!(e, Expr::Literal(_) | Expr::Name(_));
            if rng.random_bool(0.05) && sets.iter().all(|(_, e)| computed(e)) {
                return update(t.name, sets, None);
            }
            let filter = rand_pred(rng, &cols, 1, false);
            update(t.name, sets, Some(filter))
        }
        9..=11 => {
            let from = rng.random_range(0..limit);
            let window = bin(
                BinaryOp::And,
                bin(
                    BinaryOp::GtEq,
                    name(cols[0], false),
                    lit(Literal::Int(from)),
                ),
                bin(
                    BinaryOp::Lt,
                    name(cols[0], false),
                    lit(Literal::Int(from + rng.random_range(1..limit / 8))),
                ),
            );
            let filter = bin(BinaryOp::And, rand_pred(rng, &cols, 1, false), window);
            let sql = format!("DELETE FROM {} WHERE {}", t.name, sql_expr(&filter));
            Write {
                stmt: Statement::Delete {
                    table: t.name.into(),
                    filter: Some(filter),
                },
                sqlite: vec![sql],
            }
        }
        12..=15 => {
            let mut new: Vec<i64> = Vec::new();
            for _ in 0..rng.random_range(1..30) {
                let id = rng.random_range(0..limit);
                if !new.contains(&id) && !ids.exists(t.name, id) {
                    new.push(id);
                }
            }
            let rows = new.into_iter().map(|id| rand_row(rng, t, id)).collect();
            insert(t, rows, false)
        }
        16..=18 => {
            let mut some: Vec<i64> = Vec::new();
            for _ in 0..rng.random_range(1..12) {
                let id = rng.random_range(0..limit);
                if !some.contains(&id) {
                    some.push(id);
                }
            }
            let rows = some.into_iter().map(|id| rand_row(rng, t, id)).collect();
            insert(t, rows, true)
        }
        _ => {
            *moves += 1;
            let id = || Expr::Name(vec!["id".into()]);
            let sets = vec![(
                "id".to_string(),
                bin(BinaryOp::Add, id(), lit(Literal::Int(MOVED * *moves))),
            )];
            let filter = bin(
                BinaryOp::And,
                bin(BinaryOp::Lt, id(), lit(Literal::Int(MOVED))),
                rand_pred(rng, &cols, 1, false),
            );
            update(t.name, sets, Some(filter))
        }
    }
}

fn update(table: &str, sets: Vec<(String, Expr)>, filter: Option<Expr>) -> Write {
    let mut sql = format!(
        "UPDATE {table} SET {}",
        sets.iter()
            .map(|(c, e)| format!("{c} = {}", sql_expr(e)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if let Some(f) = &filter {
        sql += &format!(" WHERE {}", sql_expr(f));
    }
    Write {
        stmt: Statement::Update {
            table: table.into(),
            assignments: sets,
            filter,
        },
        sqlite: vec![sql],
    }
}

/// Rows to load a table with: ids with gaps, every nullable column null
/// in some rows, in batches of random sizes.
pub fn load(rng: &mut StdRng, t: &Table) -> Vec<Write> {
    let ids: Vec<i64> = (0..t.rows)
        .map(|i| i * t.stride + rng.random_range(0..t.stride.max(2) - 1))
        .collect();
    let mut out = Vec::new();
    let mut rest = &ids[..];
    while !rest.is_empty() {
        let n = rng.random_range(1..120).min(rest.len());
        let rows = rest[..n].iter().map(|&id| rand_row(rng, t, id)).collect();
        out.push(insert(t, rows, false));
        rest = &rest[n..];
    }
    out
}

/// A few fixed queries that read a table whole and through each of its
/// indexes' access paths, for checks between writes.
pub fn probes() -> Vec<Select> {
    [
        "select * from users order by id",
        "select * from orders order by id",
        "select * from visits order by id",
        "select * from users where city = \"LA\"",
        "select id, email from users where email > \"u2\"",
        "select id, age from users where age between 20 and 40",
        "select id, active from users where active = true",
        "select * from orders where user_id in (3, 77, 1500)",
        "select id, amount from orders where amount < 10",
        "select id, day from orders where day >= 900 order by id",
        "select * from visits where email = \"u7@x.io\"",
        "select id, user_id from visits where user_id < 40",
        "select * from visits where day between 100 and 120",
        "select count(*), sum(qty), min(day), max(amount) from orders",
    ]
    .iter()
    .map(|q| match fasty_query::parser::parse(q) {
        Ok(Statement::Select(s)) => *s,
        other => panic!("{q}: {other:?}"),
    })
    .collect()
}
