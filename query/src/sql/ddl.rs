//! SQL DDL onto [`crate::ast::Statement`]: `CREATE TABLE` with its column
//! constraints, `CREATE [UNIQUE] INDEX`, `ALTER TABLE`, `DROP`.

use sqlparser::ast as sql;

use super::errors::unsupported;
use super::expressions::{Translator, ident, object_name};
use super::types::column_type;
use crate::ast::{AlterAction, ColumnDef, Statement};
use crate::error::Result;

/// `CREATE TABLE [IF NOT EXISTS] t (col type [PRIMARY KEY | NOT NULL |
/// NULL | DEFAULT constant | UNIQUE]..., [PRIMARY KEY (col)], [UNIQUE
/// (col)])`. A table without a declared key has the `int` column `id` as
/// its key (the binder checks).
pub(super) fn create_table(tr: &mut Translator, c: &sql::CreateTable) -> Result<Statement> {
    if c.or_replace || c.temporary || c.external || c.unlogged {
        return Err(unsupported(
            "CREATE OR REPLACE / TEMPORARY / UNLOGGED TABLE",
        ));
    }
    if c.query.is_some() {
        return Err(unsupported("CREATE TABLE ... AS"));
    }
    if c.like.is_some() || c.clone.is_some() || c.inherits.is_some() || c.partition_of.is_some() {
        return Err(unsupported(
            "CREATE TABLE ... LIKE / INHERITS / PARTITION OF",
        ));
    }
    let name = object_name(&c.name)?;
    let mut columns = c
        .columns
        .iter()
        .map(|col| column_def(tr, col))
        .collect::<Result<Vec<_>>>()?;
    for k in &c.constraints {
        let (cols, primary) = match k {
            sql::TableConstraint::PrimaryKey(pk) => (&pk.columns, true),
            sql::TableConstraint::Unique(u) => (&u.columns, false),
            sql::TableConstraint::ForeignKey(_) => return Err(unsupported("FOREIGN KEY")),
            sql::TableConstraint::Check(_) => return Err(unsupported("CHECK")),
            _ => return Err(unsupported("this table constraint")),
        };
        let col = match cols.as_slice() {
            [one] => match &one.column.expr {
                sql::Expr::Identifier(i) => ident(i)?,
                _ => return Err(unsupported("a key on an expression")),
            },
            _ => return Err(unsupported("a key of several columns")),
        };
        let Some(def) = columns.iter_mut().find(|d| d.name == col) else {
            return Err(crate::Error::query(
                crate::ErrorCode::UnknownColumn,
                format!("key column \"{col}\" is not a column of table \"{name}\""),
            ));
        };
        if primary {
            def.primary_key = true;
        } else {
            def.unique = true;
        }
    }
    Ok(Statement::CreateTable {
        name,
        columns,
        if_not_exists: c.if_not_exists,
    })
}

/// One column of `CREATE TABLE` or `ALTER TABLE ... ADD COLUMN`.
fn column_def(tr: &mut Translator, col: &sql::ColumnDef) -> Result<ColumnDef> {
    let mut def = ColumnDef::new(ident(&col.name)?, column_type(&col.data_type)?);
    for opt in &col.options {
        match &opt.option {
            sql::ColumnOption::PrimaryKey(_) => def.primary_key = true,
            sql::ColumnOption::Null => {}
            sql::ColumnOption::NotNull => def.not_null = true,
            sql::ColumnOption::Default(e) => def.default = Some(tr.insert_value(e)?),
            sql::ColumnOption::Unique(_) => def.unique = true,
            sql::ColumnOption::ForeignKey(_) => return Err(unsupported("REFERENCES")),
            sql::ColumnOption::Check(_) => return Err(unsupported("CHECK")),
            sql::ColumnOption::Generated { .. } => {
                return Err(unsupported("GENERATED columns"));
            }
            other => return Err(unsupported(format!("the column option {other}"))),
        }
    }
    Ok(def)
}

/// `ALTER TABLE t ADD [COLUMN] def | DROP [COLUMN] c | RENAME [COLUMN] a
/// TO b | RENAME TO u`, one action per statement.
pub(super) fn alter_table(tr: &mut Translator, a: &sql::AlterTable) -> Result<Statement> {
    if a.if_exists || a.only || a.location.is_some() || a.on_cluster.is_some() {
        return Err(unsupported("ALTER TABLE IF EXISTS / ONLY"));
    }
    let table = object_name(&a.name)?;
    let op = match a.operations.as_slice() {
        [one] => one,
        _ => return Err(unsupported("several actions in one ALTER TABLE")),
    };
    use sql::AlterTableOperation as Op;
    let action = match op {
        Op::AddColumn {
            if_not_exists: false,
            column_def: def,
            column_position: None,
            ..
        } => AlterAction::AddColumn(column_def(tr, def)?),
        Op::DropColumn {
            column_names,
            if_exists: false,
            drop_behavior: None,
            ..
        } => match column_names.as_slice() {
            [one] => AlterAction::DropColumn(ident(one)?),
            _ => return Err(unsupported("DROP COLUMN of several columns")),
        },
        Op::RenameColumn {
            old_column_name,
            new_column_name,
        } => AlterAction::RenameColumn {
            from: ident(old_column_name)?,
            to: ident(new_column_name)?,
        },
        Op::RenameTable {
            table_name: sql::RenameTableNameKind::To(n) | sql::RenameTableNameKind::As(n),
        } => AlterAction::RenameTable(object_name(n)?),
        other => return Err(unsupported(format!("ALTER TABLE ... {other}"))),
    };
    Ok(Statement::AlterTable { table, action })
}

/// `CREATE [UNIQUE] INDEX [IF NOT EXISTS] name ON t (col)`.
pub(super) fn create_index(c: &sql::CreateIndex) -> Result<Statement> {
    if c.concurrently || c.using.is_some() || !c.include.is_empty() || !c.with.is_empty() {
        return Err(unsupported(
            "CONCURRENTLY / USING / INCLUDE / WITH of CREATE INDEX",
        ));
    }
    if c.predicate.is_some() {
        return Err(unsupported("a partial index (WHERE)"));
    }
    if c.nulls_distinct.is_some() || !c.index_options.is_empty() || !c.alter_options.is_empty() {
        return Err(unsupported("options of CREATE INDEX"));
    }
    let name = match &c.name {
        Some(n) => object_name(n)?,
        None => return Err(unsupported("CREATE INDEX without a name")),
    };
    let table = object_name(&c.table_name)?;
    let column = match c.columns.as_slice() {
        [one] => {
            if one.operator_class.is_some()
                || one.column.options.sort.is_some()
                || one.column.options.nulls_first.is_some()
            {
                return Err(unsupported("an operator class or order in an index column"));
            }
            match &one.column.expr {
                sql::Expr::Identifier(i) => ident(i)?,
                _ => return Err(unsupported("an index on an expression")),
            }
        }
        _ => return Err(unsupported("an index on several columns")),
    };
    Ok(Statement::CreateIndex {
        name,
        table,
        column,
        if_not_exists: c.if_not_exists,
        unique: c.unique,
    })
}

/// `DROP TABLE|INDEX [IF EXISTS] name`.
pub(super) fn drop(
    object_type: sql::ObjectType,
    if_exists: bool,
    names: &[sql::ObjectName],
    extras: bool,
) -> Result<Statement> {
    if extras {
        return Err(unsupported("DROP ... CASCADE"));
    }
    let name = match names {
        [one] => object_name(one)?,
        _ => return Err(unsupported("DROP of several names")),
    };
    match object_type {
        sql::ObjectType::Table => Ok(Statement::DropTable { name, if_exists }),
        sql::ObjectType::Index => Ok(Statement::DropIndex { name, if_exists }),
        other => Err(unsupported(format!("DROP {other}"))),
    }
}
