//! Name resolution for binding: the tables of a statement ([`Scope`]) and
//! what a name means in it (qualified and unqualified names, json paths
//! after a column, ambiguity and unknown-column errors), names over a
//! group row after aggregation ([`GroupBinder`]), and the pieces of a
//! `select` that binding reads before it builds a plan (the join columns
//! of `on`, `order by` keys with aliases replaced, distinct output names).

use std::sync::Arc;

use crate::ast::{AggFunc, BinaryOp, ColumnType, Expr, OrderBy, Select, UnaryOp};
use crate::catalog::Table;
use crate::error::{Error, ErrorCode, Result};
use crate::expr::{self, literal_value};

/// A name resolved to a row position.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// Index into the row.
    pub index: usize,
    /// The column's declared type.
    pub ty: ColumnType,
    /// Path into a `json` column (`metadata.level` → `["level"]`).
    pub path: Vec<String>,
}

/// What binding asks of its context: what a name means there.
pub(crate) trait Binder {
    /// Resolves a (possibly dotted) name.
    fn column(&self, parts: &[String]) -> Result<Resolved>;
    /// A row position already holding the value of `e` (a group-by key or
    /// an aggregate's result, after aggregation).
    fn precomputed(&self, _e: &Expr) -> Option<usize> {
        None
    }
}

/// The tables of a statement, each with the offset of its columns in the
/// combined row a join chain passes along.
pub(crate) struct Scope {
    /// Each table with the offset of its first column.
    pub tables: Vec<(Arc<Table>, usize)>,
    /// The combined row's width: every table's columns.
    pub width: usize,
    /// The name each table goes by in the statement: its alias, else its
    /// own name.
    pub names: Vec<String>,
}

impl Scope {
    /// The scope of `tables`, in statement order (`from`, then each join).
    pub(crate) fn new(tables: Vec<Arc<Table>>) -> Scope {
        let names = tables.iter().map(|t| t.name.clone()).collect();
        Scope::named(tables, names)
    }

    /// The scope of `tables`, each going by the name at the same position
    /// of `names` (an alias or the table's own name).
    pub(crate) fn named(tables: Vec<Arc<Table>>, names: Vec<String>) -> Scope {
        let mut out = Vec::new();
        let mut width = 0;
        for t in tables {
            let n = t.columns.len();
            out.push((t, width));
            width += n;
        }
        Scope {
            tables: out,
            width,
            names,
        }
    }

    /// The name table `ti` goes by in the statement.
    pub(crate) fn name(&self, ti: usize) -> &str {
        match self.names.get(ti) {
            Some(n) => n,
            None => self.tables.get(ti).map_or("", |(t, _)| t.name.as_str()),
        }
    }

    /// Which table (index into `tables`) a name refers to, with the
    /// column position within that table.
    pub(crate) fn locate(&self, parts: &[String]) -> Result<(usize, usize, Vec<String>)> {
        // `table.column[.path]`
        if parts.len() >= 2 {
            for (ti, (t, _)) in self.tables.iter().enumerate() {
                if self.name(ti) == parts[0] {
                    if let Some(c) = t.column(&parts[1]) {
                        return Ok((ti, c, parts[2..].to_vec()));
                    }
                    if !self
                        .tables
                        .iter()
                        .any(|(o, _)| o.column(&parts[0]).is_some())
                    {
                        return Err(self.unknown_column(&parts[1], Some(ti)));
                    }
                }
            }
        }
        // `table.column` with a table renamed by an alias: only the alias
        // names it.
        if parts.len() >= 2
            && !self
                .tables
                .iter()
                .any(|(t, _)| t.column(&parts[0]).is_some())
            && let Some(ti) = (0..self.tables.len())
                .find(|&ti| self.tables[ti].0.name == parts[0] && self.name(ti) != parts[0])
        {
            let alias = self.name(ti);
            return Err(Error::hinted(
                ErrorCode::UnknownColumn,
                format!(
                    "unknown column \"{}\": table \"{}\" is named \"{alias}\" in this statement",
                    parts.join("."),
                    parts[0]
                ),
                Some(format!("write \"{alias}.{}\"", parts[1..].join("."))),
            ));
        }
        // `column[.path]`
        let mut found = None;
        for (ti, (t, _)) in self.tables.iter().enumerate() {
            if let Some(c) = t.column(&parts[0]) {
                if found.is_some() {
                    return Err(Error::query(
                        ErrorCode::AmbiguousColumn,
                        format!(
                            "column \"{}\" is ambiguous; qualify it with its table (\"table.{}\")",
                            parts[0], parts[0]
                        ),
                    ));
                }
                found = Some((ti, c));
            }
        }
        match found {
            Some((ti, c)) => Ok((ti, c, parts[1..].to_vec())),
            None => Err(self.unknown_column(&parts[0], None)),
        }
    }

    /// `unknown_column` for `name` (in table `table`, or in any), with the
    /// nearest column name as a hint.
    fn unknown_column(&self, name: &str, table: Option<usize>) -> Error {
        let candidates: Vec<&str> = self
            .tables
            .iter()
            .enumerate()
            .filter(|(i, _)| table.is_none_or(|t| t == *i))
            .flat_map(|(_, (t, _))| t.columns.iter().map(|c| c.name.as_str()))
            .collect();
        let hint = crate::hint::closest(name, candidates.iter().copied())
            .map(|c| format!("did you mean column \"{c}\"?"));
        let tables: Vec<&str> = (0..self.tables.len()).map(|ti| self.name(ti)).collect();
        Error::hinted(
            ErrorCode::UnknownColumn,
            format!("unknown column \"{name}\" in {}", tables.join(", ")),
            hint,
        )
    }

    /// Tables `e` refers to, as a bit set over `tables`.
    pub(crate) fn tables_of(&self, e: &Expr) -> Result<u64> {
        let mut set = 0u64;
        let mut err = None;
        expr::visit(e, &mut |x| {
            if let Expr::Name(parts) = x {
                match self.locate(parts) {
                    Ok((ti, _, _)) => set |= 1 << ti,
                    Err(e) => err = err.take().or(Some(e)),
                }
            }
        });
        match err {
            Some(e) => Err(e),
            None => Ok(set),
        }
    }
}

impl Binder for Scope {
    fn column(&self, parts: &[String]) -> Result<Resolved> {
        let (ti, c, path) = self.locate(parts)?;
        let (t, off) = &self.tables[ti];
        Ok(Resolved {
            index: off + c,
            ty: t.columns[c].ty,
            path,
        })
    }
}

/// The two sides of `join T on a = b` where `b` belongs to the table at
/// `step` and `a` to the ones before it.
pub(crate) fn join_columns(scope: &Scope, on: &Expr, step: usize) -> Result<(Expr, Expr)> {
    let unsupported = || {
        Error::query(
            ErrorCode::Unsupported,
            format!(
                "join condition \"{on}\" must be an equality of a column of the joined table and one of the tables before it"
            ),
        )
    };
    let Expr::Binary {
        op: BinaryOp::Eq,
        left,
        right,
    } = on
    else {
        return Err(unsupported());
    };
    let (ls, rs) = (scope.tables_of(left)?, scope.tables_of(right)?);
    let new = 1u64 << step;
    let before = new - 1;
    let is_col = |e: &Expr| matches!(e, Expr::Name(_));
    if rs == new && ls != 0 && ls & !before == 0 && is_col(right) {
        Ok(((**left).clone(), (**right).clone()))
    } else if ls == new && rs != 0 && rs & !before == 0 && is_col(left) {
        Ok(((**right).clone(), (**left).clone()))
    } else {
        Err(unsupported())
    }
}

/// `join T on …`'s condition at `step`: its first conjunct that is an
/// equality [`join_columns`] accepts (the key pair), and the other
/// conjuncts, in order.
pub(crate) fn join_condition(
    scope: &Scope,
    on: &Expr,
    step: usize,
) -> Result<(Expr, Expr, Vec<Expr>)> {
    let mut terms = Vec::new();
    expr::conjuncts(on, &mut terms);
    let Some(at) = terms
        .iter()
        .position(|t| join_columns(scope, t, step).is_ok())
    else {
        // The error the whole condition gives.
        let (l, r) = join_columns(scope, on, step)?;
        return Ok((l, r, Vec::new()));
    };
    let key = terms.remove(at);
    let (l, r) = join_columns(scope, &key, step)?;
    Ok((l, r, terms))
}

/// Resolves names over a group row `[group keys.., aggregates..]`.
pub(crate) struct GroupBinder<'a> {
    /// The tables below the aggregation.
    pub scope: &'a Scope,
    /// The `group by` expressions: group row positions `0..keys.len()`.
    pub keys: &'a [Expr],
    /// The aggregates, after the keys in the group row.
    pub aggs: &'a [Expr],
}

impl Binder for GroupBinder<'_> {
    fn column(&self, parts: &[String]) -> Result<Resolved> {
        // A bare column must be a group key (checked by `precomputed`
        // before we get here); anything else is an error.
        self.scope.locate(parts)?;
        Err(Error::query(
            ErrorCode::Unsupported,
            format!(
                "column \"{}\" must appear in group by or inside an aggregate",
                parts.join(".")
            ),
        ))
    }

    fn precomputed(&self, e: &Expr) -> Option<usize> {
        if let Some(i) = self.keys.iter().position(|k| same_expr(self.scope, k, e)) {
            return Some(i);
        }
        self.aggs
            .iter()
            .position(|a| same_expr(self.scope, a, e))
            .map(|i| self.keys.len() + i)
    }
}

/// Whether two expressions mean the same (names compared after resolution,
/// so `age` and `users.age` match).
pub(crate) fn same_expr(scope: &Scope, a: &Expr, b: &Expr) -> bool {
    match (a, b) {
        (Expr::Name(x), Expr::Name(y)) => match (scope.locate(x), scope.locate(y)) {
            (Ok(p), Ok(q)) => p == q,
            _ => x == y,
        },
        (
            Expr::Aggregate {
                func: f,
                arg: x,
                distinct: d,
            },
            Expr::Aggregate {
                func: g,
                arg: y,
                distinct: e,
            },
        ) => {
            f == g
                && d == e
                && match (x, y) {
                    (None, None) => true,
                    (Some(x), Some(y)) => same_expr(scope, x, y),
                    _ => false,
                }
        }
        _ => a == b,
    }
}

/// Output column names and types.
pub(crate) type Columns = Vec<(String, Option<ColumnType>)>;

/// The `order by` keys, an output alias replaced by its expression.
pub(crate) fn order_by_exprs(s: &Select) -> Vec<OrderBy> {
    s.order_by
        .iter()
        .map(|o| {
            let e = match &o.expr {
                Expr::Name(p) if p.len() == 1 => s
                    .items
                    .iter()
                    .find(|i| i.alias.as_deref() == Some(&p[0]))
                    .map_or_else(|| o.expr.clone(), |i| i.expr.clone()),
                e => e.clone(),
            };
            OrderBy {
                expr: e,
                desc: o.desc,
            }
        })
        .collect()
}

/// Output column names made distinct, so a result row is a JSON object
/// without repeated keys: the first column of a name keeps it, a later
/// one becomes `name_1` (`name_2`, ...), skipping any name another column
/// has or was given. `select name, name, name_1` gives `name`, `name_2`,
/// `name_1`.
pub(crate) fn distinct_names(names: Vec<String>) -> Vec<String> {
    let mut taken: std::collections::HashSet<String> = names.iter().cloned().collect();
    let mut seen = std::collections::HashSet::new();
    // The next suffix to try per name, so n copies of a name cost O(n),
    // not O(n²).
    let mut next: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    names
        .into_iter()
        .map(|name| {
            if seen.insert(name.clone()) {
                return name;
            }
            let n = next.entry(name.clone()).or_insert(1);
            loop {
                let candidate = format!("{name}_{n}");
                *n += 1;
                if !taken.contains(&candidate) {
                    taken.insert(candidate.clone());
                    seen.insert(candidate.clone());
                    return candidate;
                }
            }
        })
        .collect()
}

/// The type `e` evaluates to, where it is known before running.
/// [`type_of`] of a function call, `case` or `cast` (apart so that the
/// recursive function's frame stays small).
#[inline(never)]
fn scalar_type_of(e: &Expr, b: &dyn Binder) -> Option<ColumnType> {
    crate::plan::scalar::expr_type(e, &|x| {
        crate::func::ArgType::of(
            type_of(x, b),
            matches!(x, Expr::Literal(crate::ast::Literal::Null)),
        )
    })
}

pub(crate) fn type_of(e: &Expr, b: &dyn Binder) -> Option<ColumnType> {
    match e {
        Expr::Literal(l) => literal_value(l).column_type(),
        Expr::Name(parts) => match b.column(parts) {
            Ok(r) if r.path.is_empty() => Some(r.ty),
            _ => None,
        },
        Expr::Unary {
            op: UnaryOp::Neg,
            expr,
        } => type_of(expr, b),
        Expr::Binary { op, left, right } => match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => {
                match (type_of(left, b)?, type_of(right, b)?) {
                    (ColumnType::Int, ColumnType::Int) => Some(ColumnType::Int),
                    _ => Some(ColumnType::Float),
                }
            }
            BinaryOp::Concat => Some(ColumnType::String),
            _ => Some(ColumnType::Bool),
        },
        Expr::Unary { .. }
        | Expr::Like { .. }
        | Expr::IsNull { .. }
        | Expr::InList { .. }
        | Expr::Between { .. } => Some(ColumnType::Bool),
        Expr::Aggregate { func, arg, .. } => match func {
            AggFunc::Count => Some(ColumnType::Int),
            AggFunc::Avg => Some(ColumnType::Float),
            _ => type_of(arg.as_deref()?, b),
        },
        Expr::Function { .. } | Expr::Case { .. } | Expr::Cast { .. } => scalar_type_of(e, b),
    }
}
