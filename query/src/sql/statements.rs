//! SQL statements onto [`crate::ast::Statement`], one function per statement
//! kind. Every clause the engine does not run yet is `unsupported`, named.

use sqlparser::ast as sql;

use super::ddl;
use super::errors::unsupported;
use super::expressions::{Translator, ident, object_name};
use crate::ast::{Join, JoinKind, OrderBy, Select, SelectItem, Statement};
use crate::error::{Error, ErrorCode, Result};

/// One statement.
pub(super) fn statement(tr: &mut Translator, s: &sql::Statement) -> Result<Statement> {
    use sql::Statement as S;
    match s {
        S::Query(q) => query(tr, q).map(|s| Statement::Select(Box::new(s))),
        S::Insert(i) => insert(tr, i),
        S::Update(u) => update(tr, u),
        S::Delete(d) => delete(tr, d),
        S::CreateTable(c) => ddl::create_table(tr, c),
        S::CreateIndex(c) => ddl::create_index(c),
        S::AlterTable(a) => ddl::alter_table(tr, a),
        S::Drop {
            object_type,
            if_exists,
            names,
            cascade,
            purge,
            temporary,
            table,
            ..
        } => ddl::drop(
            *object_type,
            *if_exists,
            names,
            *cascade || *purge || *temporary || table.is_some(),
        ),
        S::Explain {
            describe_alias: sql::DescribeAlias::Explain,
            analyze,
            verbose: false,
            query_plan: false,
            estimate: false,
            statement: inner,
            format: None,
            options: None,
        } => {
            let inner = Box::new(statement(tr, inner)?);
            Ok(if *analyze {
                Statement::ExplainAnalyze(inner)
            } else {
                Statement::Explain(inner)
            })
        }
        S::Explain { .. } => Err(unsupported("EXPLAIN options other than ANALYZE")),
        S::StartTransaction {
            modes,
            statements,
            exception: None,
            modifier: None,
            ..
        } if statements.is_empty() => begin(modes),
        S::StartTransaction { .. } => Err(unsupported("a BEGIN ... END block")),
        S::Commit {
            chain: false,
            modifier: None,
            ..
        } => Ok(Statement::Commit),
        S::Rollback {
            chain: false,
            savepoint: None,
        } => Ok(Statement::Rollback),
        S::Commit { .. } | S::Rollback { .. } => {
            Err(unsupported("AND CHAIN and ROLLBACK TO SAVEPOINT"))
        }
        S::Savepoint { .. } | S::ReleaseSavepoint { .. } => Err(unsupported("SAVEPOINT")),
        S::CreateView { .. } => Err(unsupported("CREATE VIEW")),
        S::Truncate(_) => Err(unsupported("TRUNCATE")),
        S::Set(_) => Err(unsupported("SET")),
        S::ShowVariable { .. } => Err(unsupported("SHOW")),
        S::Copy { .. } => Err(unsupported("COPY")),
        S::Merge(_) => Err(unsupported("MERGE")),
        S::Prepare { .. } | S::Execute { .. } | S::Deallocate { .. } => {
            Err(unsupported("PREPARE / EXECUTE (use $n placeholders)"))
        }
        other => Err(unsupported(first_words(other))),
    }
}

/// The statement's first two words, to name it in an error.
fn first_words(s: &sql::Statement) -> String {
    let text = s.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    format!("the statement {}", words.join(" "))
}

/// `BEGIN` / `START TRANSACTION` [READ ONLY | READ WRITE].
fn begin(modes: &[sql::TransactionMode]) -> Result<Statement> {
    let mut read_only = false;
    for m in modes {
        match m {
            sql::TransactionMode::AccessMode(sql::TransactionAccessMode::ReadOnly) => {
                read_only = true
            }
            sql::TransactionMode::AccessMode(sql::TransactionAccessMode::ReadWrite) => {
                read_only = false
            }
            sql::TransactionMode::IsolationLevel(_) => {
                return Err(unsupported(
                    "ISOLATION LEVEL (transactions are snapshot isolated, see docs/sql.md)",
                ));
            }
        }
    }
    Ok(Statement::Begin { read_only })
}

/// `SELECT ... FROM t [JOIN u ON a = b] [WHERE] [GROUP BY] [ORDER BY]
/// [LIMIT] [OFFSET]`.
fn query(tr: &mut Translator, q: &sql::Query) -> Result<Select> {
    if q.with.is_some() {
        return Err(unsupported("WITH (common table expressions)"));
    }
    if q.fetch.is_some() {
        return Err(unsupported("FETCH FIRST"));
    }
    if !q.locks.is_empty() {
        return Err(unsupported("FOR UPDATE / FOR SHARE"));
    }
    let s = match q.body.as_ref() {
        sql::SetExpr::Select(s) => s,
        sql::SetExpr::SetOperation { op, .. } => return Err(unsupported(format!("{op}"))),
        sql::SetExpr::Values(_) => return Err(unsupported("VALUES as a query")),
        sql::SetExpr::Query(_) => return Err(unsupported("a parenthesised query")),
        _ => return Err(unsupported("this kind of query")),
    };
    let distinct = match &s.distinct {
        None | Some(sql::Distinct::All) => false,
        Some(sql::Distinct::Distinct) => true,
        Some(sql::Distinct::On(_)) => return Err(unsupported("DISTINCT ON")),
    };
    let having = s.having.as_ref().map(|e| tr.expr(e)).transpose()?;
    if s.into.is_some() {
        return Err(unsupported("SELECT INTO"));
    }
    if s.top.is_some() || !s.named_window.is_empty() || s.qualify.is_some() {
        return Err(unsupported("TOP / WINDOW / QUALIFY"));
    }
    let ((from, from_alias), joins) = match s.from.as_slice() {
        [] => return Err(unsupported("SELECT without FROM")),
        [one] => from_clause(tr, one)?,
        _ => return Err(unsupported("several tables in FROM (write JOIN ... ON)")),
    };
    let items = projection(tr, &s.projection)?;
    let filter = s.selection.as_ref().map(|e| tr.expr(e)).transpose()?;
    let group_by = match &s.group_by {
        sql::GroupByExpr::Expressions(exprs, modifiers) if modifiers.is_empty() => {
            exprs.iter().map(|e| tr.expr(e)).collect::<Result<_>>()?
        }
        _ => return Err(unsupported("GROUP BY ALL / ROLLUP / CUBE")),
    };
    let order_by = match &q.order_by {
        None => Vec::new(),
        Some(o) => order_by(tr, o)?,
    };
    let (limit, offset) = match &q.limit_clause {
        None => (None, None),
        Some(sql::LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        }) if limit_by.is_empty() => (
            limit.as_ref().map(|e| count(e, "LIMIT")).transpose()?,
            offset
                .as_ref()
                .map(|o| count(&o.value, "OFFSET"))
                .transpose()?,
        ),
        Some(_) => return Err(unsupported("LIMIT offset, count")),
    };
    Ok(Select {
        items,
        from,
        joins,
        filter,
        group_by,
        order_by,
        limit,
        offset,
        distinct,
        having,
        from_alias,
    })
}

/// A table name and the alias it goes by, if any.
type AliasedTable = (String, Option<String>);

/// `FROM t [[AS] a] [[INNER | LEFT [OUTER]] JOIN u [[AS] b] ON ...]...`.
fn from_clause(tr: &mut Translator, t: &sql::TableWithJoins) -> Result<(AliasedTable, Vec<Join>)> {
    let from = aliased_table(&t.relation)?;
    let mut joins = Vec::with_capacity(t.joins.len());
    for j in &t.joins {
        use sql::JoinOperator as J;
        let (kind, constraint) = match &j.join_operator {
            J::Join(c) | J::Inner(c) => (JoinKind::Inner, c),
            J::Left(c) | J::LeftOuter(c) => (JoinKind::Left, c),
            J::Right(_) | J::RightOuter(_) => return Err(unsupported("RIGHT JOIN")),
            J::FullOuter(_) => return Err(unsupported("FULL JOIN")),
            J::CrossJoin(_) => return Err(unsupported("CROSS JOIN")),
            _ => return Err(unsupported("this kind of JOIN")),
        };
        let on = match constraint {
            sql::JoinConstraint::On(e) => tr.expr(e)?,
            sql::JoinConstraint::Using(_) => return Err(unsupported("JOIN ... USING")),
            sql::JoinConstraint::Natural => return Err(unsupported("NATURAL JOIN")),
            _ => return Err(unsupported("JOIN without ON")),
        };
        let (table, alias) = aliased_table(&j.relation)?;
        joins.push(Join {
            table,
            on,
            kind,
            alias,
        });
    }
    Ok((from, joins))
}

/// A plain table name (no alias, no subquery), as UPDATE and DELETE
/// take it.
fn table_factor(t: &sql::TableFactor) -> Result<String> {
    match aliased_table(t)? {
        (name, None) => Ok(name),
        (_, Some(_)) => Err(unsupported("a table alias in UPDATE or DELETE")),
    }
}

/// A table name and its alias (`users u`, `users AS u`; no column
/// aliases, no subquery).
fn aliased_table(t: &sql::TableFactor) -> Result<AliasedTable> {
    match t {
        sql::TableFactor::Table {
            name, alias, args, ..
        } => {
            if args.is_some() {
                return Err(unsupported("a table function"));
            }
            let alias = match alias {
                None => None,
                Some(a) if a.columns.is_empty() => Some(ident(&a.name)?),
                Some(_) => return Err(unsupported("column aliases on a table")),
            };
            Ok((object_name(name)?, alias))
        }
        sql::TableFactor::Derived { .. } => Err(unsupported("a subquery in FROM")),
        _ => Err(unsupported("this kind of table in FROM")),
    }
}

/// The select list: `*` alone is every column (an empty list).
fn projection(tr: &mut Translator, items: &[sql::SelectItem]) -> Result<Vec<SelectItem>> {
    if let [sql::SelectItem::Wildcard(opts)] = items {
        if opts.opt_exclude.is_some()
            || opts.opt_except.is_some()
            || opts.opt_replace.is_some()
            || opts.opt_rename.is_some()
            || opts.opt_ilike.is_some()
        {
            return Err(unsupported("options of *"));
        }
        return Ok(Vec::new());
    }
    items
        .iter()
        .map(|item| match item {
            sql::SelectItem::UnnamedExpr(e) => Ok(SelectItem {
                expr: tr.expr(e)?,
                alias: None,
            }),
            sql::SelectItem::ExprWithAlias { expr, alias } => Ok(SelectItem {
                expr: tr.expr(expr)?,
                alias: Some(ident(alias)?),
            }),
            sql::SelectItem::Wildcard(_) => Err(unsupported("* beside other select items")),
            sql::SelectItem::QualifiedWildcard(..) => Err(unsupported("table.*")),
            _ => Err(unsupported("this select item")),
        })
        .collect()
}

/// `ORDER BY e [ASC|DESC] [NULLS FIRST|LAST]`. The engine sorts nulls
/// first ascending and last descending (PostgreSQL's default is the
/// opposite: see docs/sql.md); an explicit `NULLS` that asks for the other
/// order is not supported yet.
fn order_by(tr: &mut Translator, o: &sql::OrderBy) -> Result<Vec<OrderBy>> {
    if o.interpolate.is_some() {
        return Err(unsupported("INTERPOLATE"));
    }
    let exprs = match &o.kind {
        sql::OrderByKind::Expressions(v) => v,
        sql::OrderByKind::All(_) => return Err(unsupported("ORDER BY ALL")),
    };
    exprs
        .iter()
        .map(|x| {
            if x.with_fill.is_some() {
                return Err(unsupported("WITH FILL"));
            }
            let desc = match &x.options.sort {
                None | Some(sql::OrderBySort::Asc) => false,
                Some(sql::OrderBySort::Desc) => true,
                Some(sql::OrderBySort::Using(_)) => return Err(unsupported("ORDER BY ... USING")),
            };
            // The engine's order: nulls first ascending, last descending.
            if let Some(nulls_first) = x.options.nulls_first
                && nulls_first == desc
            {
                return Err(unsupported(if nulls_first {
                    "NULLS FIRST with descending order"
                } else {
                    "NULLS LAST with ascending order"
                }));
            }
            Ok(OrderBy {
                expr: tr.expr(&x.expr)?,
                desc,
            })
        })
        .collect()
}

/// A `LIMIT` or `OFFSET` count: a non-negative integer constant.
fn count(e: &sql::Expr, clause: &str) -> Result<u64> {
    if let sql::Expr::Value(v) = e {
        if let sql::Value::Number(n, false) = &v.value
            && let Ok(n) = n.parse::<u64>()
        {
            return Ok(n);
        }
        if let sql::Value::Null = &v.value
            && clause == "LIMIT"
        {
            return Ok(u64::MAX);
        }
        if let sql::Value::Placeholder(_) = &v.value {
            return Err(unsupported(format!("a placeholder in {clause}")));
        }
    }
    Err(Error::query(
        ErrorCode::SyntaxError,
        format!("{clause} takes a non-negative integer constant"),
    ))
}

/// `INSERT INTO t [(cols)] VALUES (...), ...`.
fn insert(tr: &mut Translator, i: &sql::Insert) -> Result<Statement> {
    if i.on.is_some() {
        return Err(unsupported("ON CONFLICT"));
    }
    if i.returning.is_some() {
        return Err(unsupported("RETURNING"));
    }
    if i.or.is_some() || i.ignore || i.overwrite || i.replace_into || i.table_alias.is_some() {
        return Err(unsupported("this form of INSERT"));
    }
    if i.overriding.is_some() {
        return Err(unsupported("OVERRIDING"));
    }
    let table = match &i.table {
        sql::TableObject::TableName(n) => object_name(n)?,
        _ => return Err(unsupported("INSERT INTO a table function")),
    };
    let columns: Vec<String> = i.columns.iter().map(object_name).collect::<Result<_>>()?;
    let source = match &i.source {
        Some(q) => q,
        None => return Err(unsupported("INSERT ... DEFAULT VALUES")),
    };
    let values = match source.body.as_ref() {
        sql::SetExpr::Values(v)
            if source.with.is_none()
                && source.order_by.is_none()
                && source.limit_clause.is_none() =>
        {
            v
        }
        _ => return Err(unsupported("INSERT ... SELECT")),
    };
    let mut rows = Vec::with_capacity(values.rows.len());
    for row in &values.rows {
        if !columns.is_empty() && row.len() != columns.len() {
            return Err(Error::query(
                ErrorCode::SyntaxError,
                format!(
                    "INSERT has {} target column(s) and {} value(s) in a row",
                    columns.len(),
                    row.len()
                ),
            ));
        }
        let mut fields = Vec::with_capacity(row.len());
        for (j, e) in row.iter().enumerate() {
            let name = match columns.get(j) {
                Some(c) => c.clone(),
                None => super::positional_field(j),
            };
            fields.push((name, tr.insert_value(e)?));
        }
        rows.push(fields);
    }
    Ok(Statement::Insert {
        table,
        rows,
        upsert: false,
    })
}

/// `UPDATE t SET col = e, ... [WHERE ...]`.
fn update(tr: &mut Translator, u: &sql::Update) -> Result<Statement> {
    if u.from.is_some() {
        return Err(unsupported("UPDATE ... FROM"));
    }
    if u.returning.is_some() {
        return Err(unsupported("RETURNING"));
    }
    if !u.table.joins.is_empty() || u.or.is_some() || !u.order_by.is_empty() || u.limit.is_some() {
        return Err(unsupported("this form of UPDATE"));
    }
    let table = table_factor(&u.table.relation)?;
    let mut assignments = Vec::with_capacity(u.assignments.len());
    for a in &u.assignments {
        let col = match &a.target {
            sql::AssignmentTarget::ColumnName(n) => object_name(n)?,
            sql::AssignmentTarget::Tuple(_) => return Err(unsupported("SET (a, b) = ...")),
        };
        assignments.push((col, tr.expr(&a.value)?));
    }
    let filter = u.selection.as_ref().map(|e| tr.expr(e)).transpose()?;
    Ok(Statement::Update {
        table,
        assignments,
        filter,
    })
}

/// `DELETE FROM t [WHERE ...]`.
fn delete(tr: &mut Translator, d: &sql::Delete) -> Result<Statement> {
    if d.returning.is_some() {
        return Err(unsupported("RETURNING"));
    }
    if d.using.is_some() {
        return Err(unsupported("DELETE ... USING"));
    }
    if !d.tables.is_empty() || !d.order_by.is_empty() || d.limit.is_some() {
        return Err(unsupported("this form of DELETE"));
    }
    let from = match &d.from {
        sql::FromTable::WithFromKeyword(v) | sql::FromTable::WithoutKeyword(v) => v,
    };
    let table = match from.as_slice() {
        [t] if t.joins.is_empty() => table_factor(&t.relation)?,
        _ => return Err(unsupported("DELETE from several tables")),
    };
    let filter = d.selection.as_ref().map(|e| tr.expr(e)).transpose()?;
    Ok(Statement::Delete { table, filter })
}
