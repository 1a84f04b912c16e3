//! Binding: a parsed `select` becomes a [`Logical`] plan. Every name is
//! resolved against the statement's tables by [`Scope::locate`]
//! (qualified and unqualified names, json paths after a column,
//! ambiguity and unknown-column errors),
//! `where` is split into conjuncts and each goes to the first point where
//! its tables are present, and the output stage (aggregation, sort,
//! projection, limit) is built over the rows that pass.
//!
//! Each table's scan reads only the columns the statement uses; the
//! combined row of a join chain is the scans' columns side by side, table
//! after table, so an expression's column position is the same at every
//! step of the chain.

use crate::ast::{Expr, JoinKind, Select};
use crate::catalog::Catalog;
use crate::error::{Error, ErrorCode, Result};
use crate::expr::{self, check_pattern, conjuncts, constant, has_aggregate};
use crate::plan::bound::BoundExpr;
use crate::plan::logical::{AggCall, Logical, SortKey};
use crate::plan::scalar;
use crate::plan::scope::{
    Binder, Columns, GroupBinder, Scope, distinct_names, join_condition, order_by_exprs, same_expr,
    type_of,
};
use crate::value::Value;

/// A bound `select`: the logical plan and the output columns a user sees
/// (names made distinct, declared types where known).
#[derive(Debug)]
pub(crate) struct BoundSelect {
    /// What the statement computes.
    pub plan: Logical,
    /// The result's column names and types.
    pub columns: Columns,
}

/// Binds `e` against `b`: names become column positions, constants
/// (literals and negated numbers) become literals. Raises the errors
/// found before any row is read: a path into a non-json column, an
/// aggregate where none is allowed, a constant `like` pattern that is too
/// long. The recursion is bounded by the parser's expression depth.
pub(crate) fn bind_expr(e: &Expr, b: &dyn Binder) -> Result<BoundExpr> {
    if let Some(i) = b.precomputed(e) {
        return Ok(BoundExpr::column(i, None, e.to_string()));
    }
    if let Some(v) = constant(e) {
        return Ok(BoundExpr::Literal(v));
    }
    let bx = |x: &Expr| bind_expr(x, b).map(Box::new);
    Ok(match e {
        Expr::Literal(l) => BoundExpr::Literal(expr::literal_value(l)),
        Expr::Name(parts) => {
            let r = b.column(parts)?;
            let name = parts[..parts.len() - r.path.len()].join(".");
            let col = BoundExpr::column(r.index, Some(r.ty), name.clone());
            if r.path.is_empty() {
                col
            } else if r.ty != crate::ast::ColumnType::Json {
                return Err(Error::query(
                    ErrorCode::TypeMismatch,
                    format!(
                        "\"{name}\" is a {} column, a path into it needs a json column",
                        r.ty.name()
                    ),
                ));
            } else {
                BoundExpr::Path {
                    base: Box::new(col),
                    path: r.path,
                }
            }
        }
        Expr::Unary { op, expr } => BoundExpr::Unary {
            op: *op,
            expr: bx(expr)?,
        },
        Expr::Binary { op, left, right } => BoundExpr::Binary {
            op: *op,
            left: bx(left)?,
            right: bx(right)?,
        },
        Expr::Like {
            expr,
            pattern,
            negated,
        } => {
            let inner = bx(expr)?;
            // A pattern written in the statement is checked before any row
            // is read.
            if let Some(Value::String(p)) = constant(pattern) {
                check_pattern(&p)?;
            }
            BoundExpr::Like {
                expr: inner,
                pattern: bx(pattern)?,
                negated: *negated,
            }
        }
        Expr::IsNull { expr, negated } => BoundExpr::IsNull {
            expr: bx(expr)?,
            negated: *negated,
        },
        Expr::InList {
            expr,
            list,
            negated,
        } => BoundExpr::InList {
            expr: bx(expr)?,
            list: list
                .iter()
                .map(|x| bind_expr(x, b))
                .collect::<Result<_>>()?,
            negated: *negated,
        },
        Expr::Between {
            expr,
            low,
            high,
            negated,
        } => BoundExpr::Between {
            expr: bx(expr)?,
            low: bx(low)?,
            high: bx(high)?,
            negated: *negated,
        },
        Expr::Aggregate { .. } => {
            return Err(Error::query(
                ErrorCode::Unsupported,
                format!("aggregate {e} is not allowed here"),
            ));
        }
        Expr::Function { .. } | Expr::Case { .. } | Expr::Cast { .. } => {
            return scalar::bind_scalar(e, &|x: &Expr| bind_expr(x, b));
        }
    })
}

/// Binds a `select` into a logical plan:
/// `Project(Limit(Sort(Aggregate(Join(…Join(Scan, Scan)…)))))`, each stage
/// present only when the statement asks for it (`select *` has no
/// project; a sort sits below the project, so its keys may name any
/// column or an output alias).
pub(crate) fn bind_select(cat: &Catalog, s: &Select) -> Result<BoundSelect> {
    let mut tables = vec![cat.table(&s.from)?.clone()];
    let mut names = vec![s.from_alias.clone().unwrap_or_else(|| s.from.clone())];
    for j in &s.joins {
        tables.push(cat.table(&j.table)?.clone());
        names.push(j.alias.clone().unwrap_or_else(|| j.table.clone()));
    }
    if tables.len() > 64 {
        return Err(Error::query(
            ErrorCode::TooComplex,
            "more than 64 tables in one statement (too complex)",
        ));
    }
    for (i, n) in names.iter().enumerate() {
        if names[..i].contains(n) {
            return Err(Error::hinted(
                ErrorCode::Unsupported,
                format!("table name \"{n}\" is used twice in one statement"),
                Some(format!(
                    "give one of them an alias (\"join {} as {n}2 on ...\")",
                    tables[i].name
                )),
            ));
        }
    }
    let scope = Scope::named(tables, names);
    let n = scope.tables.len();

    // Which conjunct goes where: to the earliest step where all its tables
    // are present (a constant one to the first table).
    let mut terms = Vec::new();
    if let Some(w) = &s.filter {
        if has_aggregate(w) {
            return Err(Error::query(
                ErrorCode::Unsupported,
                "aggregates are not allowed in where",
            ));
        }
        conjuncts(w, &mut terms);
    }
    let mut per_step: Vec<Vec<(Expr, u64)>> = vec![Vec::new(); n];
    for t in terms {
        let set = scope.tables_of(&t)?;
        let step = (64 - set.leading_zeros()).saturating_sub(1) as usize;
        per_step[step].push((t, set));
    }

    // The columns each table must read.
    let mut needed: Vec<Vec<bool>> = scope
        .tables
        .iter()
        .map(|(t, _)| vec![false; t.columns.len()])
        .collect();
    let mut mark = |e: &Expr| -> Result<()> {
        let mut err = None;
        expr::visit(e, &mut |x| {
            if let Expr::Name(parts) = x {
                match scope.locate(parts) {
                    Ok((ti, c, _)) => needed[ti][c] = true,
                    Err(e) => err = err.take().or(Some(e)),
                }
            }
        });
        err.map_or(Ok(()), Err)
    };
    for i in &s.items {
        mark(&i.expr)?;
    }
    for (e, _) in per_step.iter().flatten() {
        mark(e)?;
    }
    for e in &s.group_by {
        mark(e)?;
    }
    for o in &s.order_by {
        // An order key may name an output alias instead of a column.
        if !matches!(&o.expr, Expr::Name(p) if p.len() == 1 && s.items.iter().any(|i| i.alias.as_deref() == Some(&p[0])))
        {
            mark(&o.expr)?;
        }
    }
    let mut join_keys = Vec::new();
    for (k, j) in s.joins.iter().enumerate() {
        if has_aggregate(&j.on) {
            return Err(Error::query(
                ErrorCode::Unsupported,
                "aggregates are not allowed in a join condition",
            ));
        }
        let (l, r, extra) = join_condition(&scope, &j.on, k + 1)?;
        mark(&l)?;
        mark(&r)?;
        let mut on = Vec::with_capacity(extra.len());
        for e in extra {
            mark(&e)?;
            let set = scope.tables_of(&e)?;
            on.push((e, set));
        }
        join_keys.push((l, r, on));
    }
    if let Some(h) = &s.having {
        mark(h)?;
    }
    if s.items.is_empty() {
        for t in &mut needed {
            t.iter_mut().for_each(|b| *b = true);
        }
    }

    // Position of every (table, column) in the combined row: the tables'
    // read columns side by side.
    let mut map = vec![usize::MAX; scope.width];
    let mut base = Vec::with_capacity(n);
    let mut pos = 0;
    for (ti, (t, off)) in scope.tables.iter().enumerate() {
        base.push(pos);
        for c in 0..t.columns.len() {
            if needed[ti][c] {
                map[off + c] = pos;
                pos += 1;
            }
        }
    }
    let layout = Layout { scope: &scope, map };
    let scan = |ti: usize, filter: Vec<BoundExpr>| {
        let (table, _) = &scope.tables[ti];
        Logical::Scan {
            table: table.clone(),
            columns: (0..table.columns.len())
                .filter(|&c| needed[ti][c])
                .collect(),
            filter,
        }
    };

    // The first table, with every conjunct of the first step.
    let first = per_step[0]
        .iter()
        .map(|(t, _)| layout.bind(t))
        .collect::<Result<_>>()?;
    let mut plan = scan(0, first);
    // Each join: the joined table's own conjuncts go into its scan, the
    // ones that also need tables before it into the join.
    for (k, (l, r, on)) in join_keys.iter().enumerate() {
        let ti = k + 1;
        let shift = base[ti];
        let left_join = s.joins[k].kind == JoinKind::Left;
        let mut own = Vec::new();
        let mut cross = Vec::new();
        let mut order = Vec::new();
        // `on`'s other conjuncts: the joined table's own ones filter its
        // rows before the join (for a left join too: a row they reject
        // matches nothing); ones over tables before it filter the pairs.
        for (t, set) in on {
            let b = layout.bind(t)?;
            if set & !(1 << ti) == 0 {
                own.push(b.remap(&|i| i - shift));
                order.push(true);
            } else if left_join {
                return Err(Error::query(
                    ErrorCode::Unsupported,
                    format!(
                        "a left join's condition may add conditions on the joined table only, not \"{t}\" (move it to where, or use join)"
                    ),
                ));
            } else {
                cross.push(b);
                order.push(false);
            }
        }
        // `where` conjuncts whose last table is this one: after a left
        // join they see its null-extended rows, so they filter above it.
        let mut after = Vec::new();
        for (t, set) in &per_step[ti] {
            let b = layout.bind(t)?;
            if left_join {
                after.push(b);
                continue;
            }
            let is_own = set & !(1 << ti) == 0;
            if is_own {
                own.push(b.remap(&|i| i - shift));
            } else {
                cross.push(b);
            }
            order.push(is_own);
        }
        let left_key = layout.bind(l)?;
        let right_key = layout.bind(r)?.remap(&|i| i - shift);
        plan = Logical::Join {
            left: Box::new(plan),
            right: Box::new(scan(ti, own)),
            left_key,
            right_key,
            filter: cross,
            order,
            kind: s.joins[k].kind,
        };
        if !after.is_empty() {
            plan = Logical::Filter {
                input: Box::new(plan),
                predicate: after,
            };
        }
    }
    output(&layout, s, plan)
}

/// Resolves names over the statement's tables and maps them to positions
/// in the combined row.
struct Layout<'a> {
    scope: &'a Scope,
    /// Scope position (table offset + column) → combined-row position.
    map: Vec<usize>,
}

impl Layout<'_> {
    /// `e` bound over the combined row.
    fn bind(&self, e: &Expr) -> Result<BoundExpr> {
        let b = bind_expr(e, self.scope)?;
        Ok(b.remap(&|i| self.map.get(i).copied().unwrap_or(i)))
    }
}

/// Adds the output stage over `input`: [`output_rows`], and for `select
/// distinct` an aggregate keyed on every output column (nulls equal)
/// with the sort and limit above it.
fn output(layout: &Layout<'_>, s: &Select, input: Logical) -> Result<BoundSelect> {
    if !s.distinct {
        return output_rows(layout, s, input);
    }
    let rows = Select {
        order_by: Vec::new(),
        limit: None,
        offset: None,
        distinct: false,
        ..s.clone()
    };
    let bound = output_rows(layout, &rows, input)?;
    let keys: Vec<BoundExpr> = bound
        .columns
        .iter()
        .enumerate()
        .map(|(i, (name, ty))| BoundExpr::column(i, *ty, name.clone()))
        .collect();
    // Each sort key must be an output column (as in SQL): the rows it
    // would sort by are gone.
    let sort_keys = s
        .order_by
        .iter()
        .map(|o| {
            let at = if s.items.is_empty() {
                match layout.bind(&o.expr)? {
                    BoundExpr::Column { index, .. } => Some(index),
                    _ => None,
                }
            } else {
                s.items.iter().position(|i| {
                    matches!(&o.expr, Expr::Name(p) if p.len() == 1 && i.alias.as_deref() == Some(&p[0]))
                        || same_expr(layout.scope, &i.expr, &o.expr)
                })
            };
            match at.and_then(|i| keys.get(i)) {
                Some(k) => Ok(SortKey {
                    expr: k.clone(),
                    desc: o.desc,
                }),
                None => Err(Error::query(
                    ErrorCode::Unsupported,
                    format!(
                        "with select distinct, order by \"{}\" must be one of the selected columns",
                        o.expr
                    ),
                )),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let mut plan = Logical::Aggregate {
        input: Box::new(bound.plan),
        keys,
        aggs: Vec::new(),
    };
    if !sort_keys.is_empty() {
        plan = Logical::Sort {
            input: Box::new(plan),
            keys: sort_keys,
        };
    }
    if s.limit.is_some() || s.offset.is_some_and(|o| o > 0) {
        plan = Logical::Limit {
            input: Box::new(plan),
            limit: s.limit,
            offset: s.offset.unwrap_or(0),
        };
    }
    Ok(BoundSelect {
        plan,
        columns: bound.columns,
    })
}

/// Adds the output stage (aggregate, having, sort, limit, project) over
/// `input`.
fn output_rows(layout: &Layout<'_>, s: &Select, input: Logical) -> Result<BoundSelect> {
    let scope = layout.scope;
    let aggregate = !s.group_by.is_empty()
        || s.having.is_some()
        || s.items.iter().any(|i| has_aggregate(&i.expr))
        || s.order_by.iter().any(|o| has_aggregate(&o.expr));
    let limit = |plan: Logical| {
        if s.limit.is_some() || s.offset.is_some_and(|o| o > 0) {
            Logical::Limit {
                input: Box::new(plan),
                limit: s.limit,
                offset: s.offset.unwrap_or(0),
            }
        } else {
            plan
        }
    };
    let sort = |plan: Logical, keys: Vec<SortKey>| {
        if keys.is_empty() {
            plan
        } else {
            Logical::Sort {
                input: Box::new(plan),
                keys,
            }
        }
    };
    // `select *`: every column of every table, in order, named with its
    // table when there are several.
    if s.items.is_empty() && !aggregate {
        let qualify = scope.tables.len() > 1;
        let columns = scope
            .tables
            .iter()
            .enumerate()
            .flat_map(|(ti, (t, _))| {
                let table = scope.name(ti);
                t.columns.iter().map(move |c| {
                    let name = if qualify {
                        format!("{table}.{}", c.name)
                    } else {
                        c.name.clone()
                    };
                    (name, Some(c.ty))
                })
            })
            .collect();
        let keys = order_by_exprs(s)
            .iter()
            .map(|o| {
                Ok(SortKey {
                    expr: layout.bind(&o.expr)?,
                    desc: o.desc,
                })
            })
            .collect::<Result<_>>()?;
        return Ok(BoundSelect {
            plan: limit(sort(input, keys)),
            columns,
        });
    }
    let names = distinct_names(s.items.iter().map(|i| i.name()).collect());
    if aggregate && s.items.is_empty() {
        return Err(Error::query(
            ErrorCode::Unsupported,
            "select * cannot be combined with group by or aggregates",
        ));
    }
    let order_exprs = order_by_exprs(s);
    let columns: Columns = names
        .iter()
        .zip(&s.items)
        .map(|(n, i)| (n.clone(), type_of(&i.expr, scope)))
        .collect();

    if !aggregate {
        let items = s
            .items
            .iter()
            .zip(&names)
            .map(|(i, n)| Ok((layout.bind(&i.expr)?, n.clone())))
            .collect::<Result<_>>()?;
        let keys = order_exprs
            .iter()
            .map(|o| {
                Ok(SortKey {
                    expr: layout.bind(&o.expr)?,
                    desc: o.desc,
                })
            })
            .collect::<Result<_>>()?;
        let plan = Logical::Project {
            input: Box::new(limit(sort(input, keys))),
            exprs: items,
        };
        return Ok(BoundSelect { plan, columns });
    }

    // The distinct aggregates the output uses.
    let mut aggs: Vec<Expr> = Vec::new();
    for e in s
        .items
        .iter()
        .map(|i| &i.expr)
        .chain(s.having.iter())
        .chain(order_exprs.iter().map(|o| &o.expr))
    {
        let mut err = None;
        expr::visit(e, &mut |x| {
            if let Expr::Aggregate { arg, .. } = x {
                if arg.as_deref().is_some_and(has_aggregate) {
                    err = Some(Error::query(
                        ErrorCode::Unsupported,
                        "an aggregate cannot contain another aggregate",
                    ));
                }
                if !aggs.iter().any(|a| same_expr(scope, a, x)) {
                    aggs.push(x.clone());
                }
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
    }
    let keys = s
        .group_by
        .iter()
        .map(|e| {
            if has_aggregate(e) {
                Err(Error::query(
                    ErrorCode::Unsupported,
                    "group by cannot use an aggregate",
                ))
            } else {
                layout.bind(e)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let mut calls = Vec::new();
    for a in &aggs {
        let Expr::Aggregate {
            func,
            arg,
            distinct,
        } = a
        else {
            continue;
        };
        let arg = match arg {
            Some(x) => Some(layout.bind(x)?),
            None => None,
        };
        calls.push(AggCall {
            func: *func,
            arg,
            distinct: *distinct,
        });
    }
    // Over the group row `[keys.., aggregates..]`.
    let group = GroupBinder {
        scope,
        keys: &s.group_by,
        aggs: &aggs,
    };
    let items = s
        .items
        .iter()
        .zip(&names)
        .map(|(i, n)| Ok((bind_expr(&i.expr, &group)?, n.clone())))
        .collect::<Result<_>>()?;
    let order = order_exprs
        .iter()
        .map(|o| {
            Ok(SortKey {
                expr: bind_expr(&o.expr, &group)?,
                desc: o.desc,
            })
        })
        .collect::<Result<_>>()?;
    let mut agg = Logical::Aggregate {
        input: Box::new(input),
        keys,
        aggs: calls,
    };
    if let Some(h) = &s.having {
        let mut predicate = Vec::new();
        let mut terms = Vec::new();
        conjuncts(h, &mut terms);
        for t in &terms {
            predicate.push(bind_expr(t, &group)?);
        }
        agg = Logical::Filter {
            input: Box::new(agg),
            predicate,
        };
    }
    let plan = Logical::Project {
        input: Box::new(limit(sort(agg, order))),
        exprs: items,
    };
    Ok(BoundSelect { plan, columns })
}

/// The `select *` over one table that finds the rows an `update` or
/// `delete` with `filter` changes.
pub(crate) fn finder(table: &str, filter: Option<&Expr>) -> Select {
    Select {
        items: Vec::new(),
        from: table.to_string(),
        joins: Vec::new(),
        filter: filter.cloned(),
        group_by: Vec::new(),
        order_by: Vec::new(),
        limit: None,
        offset: None,
        distinct: false,
        having: None,
        from_alias: None,
    }
}
