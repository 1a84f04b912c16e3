//! The types of a prepared statement's placeholders, inferred from where
//! they stand: the column an insert or `set` gives them to, or the column
//! they are compared with (`=`, `<`, `in`, `between`, `like`, arithmetic).
//! A placeholder with no such column (a select item, `? = ?`) has no type.
//! For protocols that describe a statement's parameters before it runs.

use crate::ast::{ColumnType, Expr, Literal, Statement};
use crate::catalog::Catalog;

/// Deeper expressions than this are not looked into (the parser's own
/// bound is lower; this guards trees built by hand).
const MAX_DEPTH: usize = 512;

/// The type of each of the `n` placeholders of `stmt` (`None` where not
/// inferred), names resolved in `cat`.
pub(crate) fn infer(cat: &Catalog, stmt: &Statement, n: usize) -> Vec<Option<ColumnType>> {
    let mut out = vec![None; n];
    statement(cat, stmt, &mut out);
    out
}

fn statement(cat: &Catalog, stmt: &Statement, out: &mut [Option<ColumnType>]) {
    match stmt {
        Statement::Insert { table, rows, .. } => {
            for (column, lit) in rows.iter().flatten() {
                if let Literal::Param(i) = lit {
                    set(
                        out,
                        *i,
                        column_type(cat, &[table], std::slice::from_ref(column)),
                    );
                }
            }
        }
        Statement::Update {
            table,
            assignments,
            filter,
        } => {
            let tables = [table.as_str()];
            for (column, e) in assignments {
                if let Expr::Literal(Literal::Param(i)) = e {
                    set(
                        out,
                        *i,
                        column_type(cat, &tables, std::slice::from_ref(column)),
                    );
                }
                expr(cat, &tables, e, out, 0);
            }
            if let Some(f) = filter {
                expr(cat, &tables, f, out, 0);
            }
        }
        Statement::Delete {
            table,
            filter: Some(f),
        } => expr(cat, &[table.as_str()], f, out, 0),
        Statement::Select(s) => {
            let mut tables = vec![s.from.as_str()];
            tables.extend(s.joins.iter().map(|j| j.table.as_str()));
            let all = s
                .items
                .iter()
                .map(|i| &i.expr)
                .chain(s.joins.iter().map(|j| &j.on))
                .chain(s.filter.iter())
                .chain(s.group_by.iter())
                .chain(s.order_by.iter().map(|o| &o.expr));
            for e in all {
                expr(cat, &tables, e, out, 0);
            }
        }
        Statement::Explain(inner) | Statement::ExplainAnalyze(inner) => {
            statement(cat, inner, out);
        }
        _ => {}
    }
}

/// Types the placeholders that `e` sets against a column, recursively.
fn expr(cat: &Catalog, tables: &[&str], e: &Expr, out: &mut [Option<ColumnType>], depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    let pair = |a: &Expr, b: &Expr, out: &mut [Option<ColumnType>]| {
        if let (Expr::Name(parts), Expr::Literal(Literal::Param(i))) = (a, b) {
            set(out, *i, column_type(cat, tables, parts));
        }
        if let (Expr::Literal(Literal::Param(i)), Expr::Name(parts)) = (a, b) {
            set(out, *i, column_type(cat, tables, parts));
        }
    };
    let next = |x: &Expr, out: &mut [Option<ColumnType>]| expr(cat, tables, x, out, depth + 1);
    match e {
        Expr::Binary { left, right, .. } => {
            pair(left, right, out);
            next(left, out);
            next(right, out);
        }
        Expr::Like {
            expr: x, pattern, ..
        } => {
            if let Expr::Literal(Literal::Param(i)) = pattern.as_ref() {
                set(out, *i, Some(ColumnType::String));
            }
            next(x, out);
            next(pattern, out);
        }
        Expr::InList { expr: x, list, .. } => {
            for item in list {
                pair(x, item, out);
                next(item, out);
            }
            next(x, out);
        }
        Expr::Between {
            expr: x, low, high, ..
        } => {
            pair(x, low, out);
            pair(x, high, out);
            next(x, out);
            next(low, out);
            next(high, out);
        }
        Expr::Unary { expr: x, .. } | Expr::IsNull { expr: x, .. } => next(x, out),
        Expr::Aggregate { arg: Some(a), .. } => next(a, out),
        _ => {}
    }
}

/// Records `ty` for placeholder `i` unless it already has a type.
fn set(out: &mut [Option<ColumnType>], i: u32, ty: Option<ColumnType>) {
    if let Some(slot) = out.get_mut(i as usize)
        && slot.is_none()
    {
        *slot = ty;
    }
}

/// The type of the column `parts` names (`c` in any of `tables`, or
/// `t.c`); `None` for a json path or an unknown name.
fn column_type(cat: &Catalog, tables: &[&str], parts: &[String]) -> Option<ColumnType> {
    let find = |table: &str, column: &str| {
        let t = cat.table(table).ok()?;
        t.column(column).map(|i| t.columns[i].ty)
    };
    match parts {
        [c] => tables.iter().find_map(|t| find(t, c)),
        [t, c] if tables.contains(&t.as_str()) => find(t, c),
        _ => None,
    }
}
