//! `alter table`: add, drop and rename a column, rename a table. Each is
//! one atomic write batch — the new catalog entries, and when the stored
//! rows must change (a column dropped, or added with a default) every row
//! rewritten — taken under the DDL lock and the table's exclusive lock,
//! so a crash leaves the old definition or the new one, never a mix.
//!
//! Adding a column without a default rewrites nothing: a stored row
//! shorter than its table reads its missing trailing columns as null
//! (see `row`). Dropping a column drops the indexes on it (as PostgreSQL
//! does); the primary key cannot be dropped.

use std::collections::HashSet;
use std::sync::Arc;

use fasty_wal::WriteBatch;

use super::{Database, take_id, unknown_column};
use crate::ast::{AlterAction, ColumnDef};
use crate::catalog::{self, Catalog, Index, Table};
use crate::constraints;
use crate::error::{Error, ErrorCode, Result};
use crate::exec::keys::table_end;
use crate::keys;
use crate::limits::{Limits, Meter};
use crate::output::Output;
use crate::row;
use crate::value::Value;

impl Database {
    /// Runs `alter table TABLE ACTION`.
    pub(super) fn alter_table(
        &self,
        table: &str,
        action: &AlterAction,
        limits: &Limits,
    ) -> Result<Output> {
        let _ddl = self.ddl.lock();
        let cat = self.catalog.read().clone();
        let t = cat.table(table)?.clone();
        let lock = self.table_lock(t.id);
        let _excl = lock.write();
        match action {
            AlterAction::AddColumn(c) => self.add_column(&cat, &t, c, limits),
            AlterAction::DropColumn(c) => self.drop_column(&cat, &t, c, limits),
            AlterAction::RenameColumn { from, to } => {
                let pos = t.column(from).ok_or_else(|| unknown_column(&t, from))?;
                check_free_column(&t, to)?;
                let mut nt = (*t).clone();
                nt.columns[pos].name.clone_from(to);
                let indexes = t
                    .indexes
                    .iter()
                    .map(|ix| {
                        let mut ix = (**ix).clone();
                        if ix.pos == pos {
                            ix.column.clone_from(to);
                        }
                        ix
                    })
                    .collect();
                self.replace_table(&cat, &t, nt, indexes, WriteBatch::new(), &[])
            }
            AlterAction::RenameTable(to) => {
                if cat.tables.contains_key(to) {
                    return Err(Error::query(
                        ErrorCode::TableExists,
                        format!("table \"{to}\" already exists"),
                    ));
                }
                let mut nt = (*t).clone();
                nt.name.clone_from(to);
                let indexes = t
                    .indexes
                    .iter()
                    .map(|ix| {
                        let mut ix = (**ix).clone();
                        ix.table.clone_from(to);
                        ix
                    })
                    .collect();
                self.replace_table(&cat, &t, nt, indexes, WriteBatch::new(), &[])
            }
        }
    }

    /// `add column`: a new last column; a default is written into every
    /// stored row (with a unique index, checked as it is built).
    fn add_column(
        &self,
        cat: &Catalog,
        t: &Arc<Table>,
        c: &ColumnDef,
        limits: &Limits,
    ) -> Result<Output> {
        check_free_column(t, &c.name)?;
        if c.primary_key {
            return Err(Error::query(
                ErrorCode::Unsupported,
                format!(
                    "table \"{}\" has its primary key; a column added cannot be one",
                    t.name
                ),
            ));
        }
        constraints::check_column(&t.name, c)?;
        let default = constraints::default_value(c);
        let mut nt = (**t).clone();
        nt.columns.push(c.clone());
        let pos = nt.columns.len() - 1;
        let mut indexes: Vec<Index> = t.indexes.iter().map(|ix| (**ix).clone()).collect();
        let mut new_ids = Vec::new();
        if c.unique {
            let name = format!("{}_{}_key", t.name, c.name);
            if cat.indexes.contains_key(&name) {
                return Err(Error::query(
                    ErrorCode::IndexExists,
                    format!("index \"{name}\" (of a unique column) already exists"),
                ));
            }
            let id = take_id(cat)?;
            new_ids.push(id);
            indexes.push(Index {
                id,
                name,
                table: t.name.clone(),
                column: c.name.clone(),
                pos,
                unique: true,
            });
        }
        let mut batch = WriteBatch::new();
        let mut rows = 0u64;
        if default != Value::Null || c.not_null || c.unique {
            let snap = self.db.snapshot();
            let mut meter = Meter::new(limits);
            let mut buf = Vec::new();
            let mut ikey = Vec::new();
            for pair in snap.scan(keys::table_prefix(t.id).to_vec()..table_end(t.id)) {
                let (k, v) = pair.map_err(|e| Error::Storage(e.into()))?;
                rows += 1;
                if default == Value::Null {
                    if c.not_null {
                        return Err(Error::query(
                            ErrorCode::NotNullViolation,
                            format!(
                                "column \"{}\" is not null without a default, and table \"{}\" has rows",
                                c.name, t.name
                            ),
                        ));
                    }
                    // Unique with nulls only: the entries, no rewrite.
                } else {
                    let mut values = row::decode_row(&v, t.columns.len())?;
                    values.push(default.clone());
                    buf.clear();
                    row::encode_row(&values, &mut buf);
                    batch.put(&k, &buf);
                    meter.tick_holding(k.len() + buf.len() + 16)?;
                }
                if let Some(&id) = new_ids.first() {
                    if default != Value::Null && rows > 1 {
                        return Err(constraints::duplicate_value(t, &c.name, &default));
                    }
                    let (_, pk) =
                        keys::decode_row_key(&k).ok_or_else(|| Error::corrupt("bad row key"))?;
                    ikey.clear();
                    keys::index_key(id, &default, pk, &mut ikey);
                    batch.put(&ikey, b"");
                    meter.tick_holding(ikey.len() + 16)?;
                }
            }
            meter.flush()?;
        }
        self.replace_table(cat, t, nt, indexes, batch, &new_ids)
    }

    /// `drop column`: every stored row rewritten without it, the indexes
    /// on it dropped.
    fn drop_column(
        &self,
        cat: &Catalog,
        t: &Arc<Table>,
        name: &str,
        limits: &Limits,
    ) -> Result<Output> {
        let pos = t.column(name).ok_or_else(|| unknown_column(t, name))?;
        if pos == t.pk {
            return Err(Error::query(
                ErrorCode::InvalidSchema,
                format!(
                    "column \"{name}\" is the primary key of table \"{}\" and cannot be dropped",
                    t.name
                ),
            ));
        }
        if t.columns.len() == 1 {
            return Err(Error::query(
                ErrorCode::InvalidSchema,
                format!("table \"{}\" would have no columns", t.name),
            ));
        }
        let mut nt = (**t).clone();
        nt.columns.remove(pos);
        nt.pk = if t.pk > pos { t.pk - 1 } else { t.pk };
        let mut indexes = Vec::new();
        let mut dropped = Vec::new();
        for ix in &t.indexes {
            if ix.pos == pos {
                dropped.push((**ix).clone());
            } else {
                let mut ix = (**ix).clone();
                if ix.pos > pos {
                    ix.pos -= 1;
                }
                indexes.push(ix);
            }
        }
        let mut batch = WriteBatch::new();
        let snap = self.db.snapshot();
        let mut meter = Meter::new(limits);
        let mut buf = Vec::new();
        for pair in snap.scan(keys::table_prefix(t.id).to_vec()..table_end(t.id)) {
            let (k, v) = pair.map_err(|e| Error::Storage(e.into()))?;
            let mut values = row::decode_row(&v, t.columns.len())?;
            values.remove(pos);
            buf.clear();
            row::encode_row(&values, &mut buf);
            batch.put(&k, &buf);
            meter.tick_holding(k.len() + buf.len() + 16)?;
        }
        meter.flush()?;
        drop(snap);
        for ix in &dropped {
            batch.delete(catalog::index_key(&ix.name));
            batch.put(catalog::dropped_key(ix.id), b"");
        }
        self.replace_table(cat, t, nt, indexes, batch, &[])?;
        for ix in &dropped {
            self.purge(ix.id)?;
        }
        Ok(Output::Ok)
    }

    /// Writes `batch` with the catalog entries of `nt` (replacing `old`,
    /// possibly under a new name) and its `indexes`, of which `new_ids`
    /// are new; then swaps the in-memory catalog.
    fn replace_table(
        &self,
        cat: &Catalog,
        old: &Table,
        nt: Table,
        indexes: Vec<Index>,
        mut batch: WriteBatch,
        new_ids: &[u32],
    ) -> Result<Output> {
        if nt.name != old.name {
            batch.delete(catalog::table_key(&old.name));
        }
        batch.put(
            catalog::table_key(&nt.name),
            catalog::encode_table(nt.id, &nt.name, &nt.columns, nt.pk),
        );
        let kept: HashSet<u32> = indexes.iter().map(|ix| ix.id).collect();
        for ix in &indexes {
            batch.put(
                catalog::index_key(&ix.name),
                catalog::encode_index(ix.id, &ix.name, &ix.table, &ix.column, ix.unique),
            );
        }
        let mut next = cat.clone();
        if let Some(&last) = new_ids.iter().max() {
            next.next_id = last + 1;
            batch.put(catalog::next_id_key(), u64::from(last + 1).to_be_bytes());
        }
        batch.put(catalog::version_key(), [catalog::FORMAT]);
        self.db.write(batch)?;
        next.tables.remove(&old.name);
        for ix in &old.indexes {
            if !kept.contains(&ix.id) {
                next.indexes.remove(&ix.name);
            }
        }
        let table = nt.name.clone();
        next.tables.insert(
            table.clone(),
            Arc::new(Table {
                indexes: Vec::new(),
                ..nt
            }),
        );
        for ix in indexes {
            next.add_index_with(ix.id, ix.name, table.clone(), ix.column, ix.unique)?;
        }
        *self.catalog.write() = Arc::new(next);
        Ok(Output::Ok)
    }
}

/// `invalid_schema` if `t` has a column `name` already.
fn check_free_column(t: &Table, name: &str) -> Result<()> {
    if t.column(name).is_some() {
        return Err(Error::query(
            ErrorCode::InvalidSchema,
            format!("table \"{}\" has a column \"{name}\" already", t.name),
        ));
    }
    Ok(())
}
