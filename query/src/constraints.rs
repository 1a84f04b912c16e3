//! Column constraints, in one place: which column definitions a table may
//! have (one `int` primary key, defaults of the column's type), the row
//! an insert starts from (every column's default), `not null`, and
//! `unique` indexes — checked by every write (insert, upsert, update) and
//! again at a transaction's commit.
//!
//! A unique index holds at most one entry per non-null value: since an
//! index key is `index id | value | primary key` and the value encoding is
//! prefix-free, the entries of one value are exactly the keys under
//! [`keys::index_prefix`], so a check is one short prefix scan.

use std::collections::{HashMap, HashSet};

use fasty_wal::{BatchOp, Snapshot, WriteBatch};

use crate::ast::{ColumnDef, ColumnType, Literal};
use crate::catalog::{Catalog, Table};
use crate::error::{Error, ErrorCode, Result};
use crate::keys;
use crate::value::Value;

/// Checks the columns of a new table named `table` and returns the
/// position of its primary key: the one column declared `primary key`
/// (an `int`), or, when none is, the column `id: int`.
pub(crate) fn check_columns(table: &str, columns: &[ColumnDef]) -> Result<usize> {
    let declared: Vec<usize> = (0..columns.len())
        .filter(|&i| columns[i].primary_key)
        .collect();
    let pk = match declared[..] {
        [] => match columns.iter().position(|c| c.name == "id") {
            Some(p) if columns[p].ty == ColumnType::Int => p,
            Some(p) => {
                return Err(invalid(format!(
                    "column \"id\" of table \"{table}\" is the primary key and must be int, not {} (or declare another column \"primary key\")",
                    columns[p].ty.name()
                )));
            }
            None => {
                return Err(invalid(format!(
                    "table \"{table}\" needs a primary key column \"id: int\", or a column declared \"primary key\""
                )));
            }
        },
        [p] if columns[p].ty == ColumnType::Int => p,
        [p] => {
            return Err(Error::query(
                ErrorCode::Unsupported,
                format!(
                    "primary key column \"{}\" of table \"{table}\" is {}: primary keys are int",
                    columns[p].name,
                    columns[p].ty.name()
                ),
            ));
        }
        _ => {
            return Err(invalid(format!(
                "table \"{table}\" declares more than one primary key"
            )));
        }
    };
    for c in columns {
        check_column(table, c)?;
    }
    Ok(pk)
}

/// Checks one column's constraints: a default of the column's type, no
/// unique json column.
pub(crate) fn check_column(table: &str, c: &ColumnDef) -> Result<()> {
    if let Some(d) = &c.default {
        if matches!(d, Literal::Param(_)) {
            return Err(invalid(format!(
                "the default of column \"{}\" must be a constant",
                c.name
            )));
        }
        if coerce(c, crate::expr::literal_value(d)).is_none() {
            return Err(Error::query(
                ErrorCode::TypeMismatch,
                format!(
                    "the default of column \"{}\" of table \"{table}\" is not a {}: {d}",
                    c.name,
                    c.ty.name()
                ),
            ));
        }
    }
    if c.unique && c.ty == ColumnType::Json {
        return Err(Error::query(
            ErrorCode::Unsupported,
            format!("json column \"{}\" cannot be unique", c.name),
        ));
    }
    Ok(())
}

/// `v` as stored in column `c` (an int given for a float column becomes
/// a float); `None` if it is of another type.
fn coerce(c: &ColumnDef, v: Value) -> Option<Value> {
    Some(match (c.ty, v) {
        (_, Value::Null) => Value::Null,
        (ColumnType::Float, Value::Int(i)) => Value::Float(i as f64),
        (ColumnType::Int, v @ Value::Int(_))
        | (ColumnType::Float, v @ Value::Float(_))
        | (ColumnType::String, v @ Value::String(_))
        | (ColumnType::Bool, v @ Value::Bool(_))
        | (ColumnType::Json, v @ Value::Json(_)) => v,
        _ => return None,
    })
}

/// Column `c`'s default as stored (null without one).
pub(crate) fn default_value(c: &ColumnDef) -> Value {
    c.default
        .as_ref()
        .and_then(|d| coerce(c, crate::expr::literal_value(d)))
        .unwrap_or(Value::Null)
}

/// The row an insert into `t` starts from: each column's default.
pub(crate) fn defaults(t: &Table) -> Vec<Value> {
    t.columns.iter().map(default_value).collect()
}

/// Whether a column of `t` has a default or is `not null`: whether
/// inserts need [`defaults`] and [`check_not_null`].
pub(crate) fn has_column_rules(t: &Table) -> bool {
    t.columns.iter().any(|c| c.not_null || c.default.is_some())
}

/// `not_null_violation` if `row` (whole, in column order) holds a null in
/// a `not null` column of `t`.
pub(crate) fn check_not_null(t: &Table, row: &[Value]) -> Result<()> {
    for (c, v) in t.columns.iter().zip(row) {
        if c.not_null && *v == Value::Null {
            return Err(Error::query(
                ErrorCode::NotNullViolation,
                format!(
                    "column \"{}\" of table \"{}\" is not null; the row gives it no value",
                    c.name, t.name
                ),
            ));
        }
    }
    Ok(())
}

/// Whether `t` has a unique index.
pub(crate) fn has_unique(t: &Table) -> bool {
    t.indexes.iter().any(|ix| ix.unique)
}

/// Checks the unique indexes of `t` for a write whose final rows are
/// `new` (primary key and whole row), replacing the stored rows of
/// primary keys `leaving` (an update's old rows, an upsert's replaced
/// ones): no two new rows share a non-null value of a unique column, and
/// no new row's value is held in `snap` by a row that stays.
/// `duplicate_key` otherwise.
pub(crate) fn check_unique<'r>(
    t: &Table,
    snap: &Snapshot,
    new: impl Iterator<Item = (i64, &'r [Value])> + Clone,
    leaving: &HashSet<i64>,
) -> Result<()> {
    let mut prefix = Vec::new();
    for ix in t.indexes.iter().filter(|ix| ix.unique) {
        let mut seen: HashSet<Vec<u8>> = HashSet::new();
        for (pk, row) in new.clone() {
            let v = row.get(ix.pos).unwrap_or(&Value::Null);
            if *v == Value::Null {
                continue;
            }
            prefix.clear();
            keys::index_prefix(ix.id, v, &mut prefix);
            if !seen.insert(prefix.clone()) {
                return Err(duplicate_value(t, &ix.column, v));
            }
            for other in entries_under(snap, &prefix)? {
                if other != pk && !leaving.contains(&other) {
                    return Err(duplicate_value(t, &ix.column, v));
                }
            }
        }
    }
    Ok(())
}

/// The primary keys of the index entries under `prefix` in `snap`.
fn entries_under(snap: &Snapshot, prefix: &[u8]) -> Result<Vec<i64>> {
    let mut out = Vec::new();
    let range = match keys::successor(prefix) {
        Some(end) => snap.scan(prefix.to_vec()..end),
        None => snap.scan(prefix.to_vec()..),
    };
    for pair in range {
        let (k, _) = pair.map_err(|e| Error::Storage(e.into()))?;
        out.push(keys::pk_of_index_key(&k).ok_or_else(|| Error::corrupt("bad index key"))?);
    }
    Ok(out)
}

/// Re-checks, at a transaction's commit, the unique-index entries that
/// `batch` puts against `latest` (the store as it is now, taken with the
/// written tables locked exclusively): another writer may have stored the
/// same value since the transaction's snapshot. Entries the batch itself
/// deletes do not count.
pub(crate) fn check_unique_commit(
    cat: &Catalog,
    batch: &WriteBatch,
    latest: &Snapshot,
) -> Result<()> {
    let unique: HashMap<u32, (&str, &str)> = cat
        .indexes
        .values()
        .filter(|ix| ix.unique)
        .map(|ix| (ix.id, (ix.table.as_str(), ix.column.as_str())))
        .collect();
    if unique.is_empty() {
        return Ok(());
    }
    let mut deleted: HashSet<&[u8]> = HashSet::new();
    let mut puts: Vec<&[u8]> = Vec::new();
    for op in batch.iter() {
        match op {
            BatchOp::Delete(k) => {
                deleted.insert(k);
            }
            BatchOp::Put(k, _) => puts.push(k),
        }
    }
    let mut seen: HashSet<&[u8]> = HashSet::new();
    for key in puts {
        let Some(id) = key.first_chunk::<4>().map(|b| u32::from_be_bytes(*b)) else {
            continue;
        };
        let Some(&(table, column)) = unique.get(&id) else {
            continue;
        };
        let Some(prefix) = key.get(..key.len().saturating_sub(8)) else {
            continue;
        };
        let (value, _) = keys::decode_ordered(&prefix[4..])?;
        if value == Value::Null {
            continue;
        }
        let clash = || {
            Error::query(
                ErrorCode::DuplicateKey,
                format!(
                    "duplicate key: column \"{column}\" of table \"{table}\" is unique and another row holds {value} (written since this transaction began); nothing was written"
                ),
            )
        };
        if !seen.insert(prefix) {
            return Err(clash());
        }
        let own = keys::pk_of_index_key(key);
        let range = match keys::successor(prefix) {
            Some(end) => latest.scan(prefix.to_vec()..end),
            None => latest.scan(prefix.to_vec()..),
        };
        for pair in range {
            let (k, _) = pair.map_err(|e| Error::Storage(e.into()))?;
            if keys::pk_of_index_key(&k) != own && !deleted.contains(&k[..]) {
                return Err(clash());
            }
        }
    }
    Ok(())
}

/// `duplicate_key` for value `v` of unique column `column` of `t`.
pub(crate) fn duplicate_value(t: &Table, column: &str, v: &Value) -> Error {
    Error::query(
        ErrorCode::DuplicateKey,
        format!(
            "duplicate key: column \"{column}\" of table \"{}\" is unique and another row holds {v}",
            t.name
        ),
    )
}

fn invalid(message: String) -> Error {
    Error::query(ErrorCode::InvalidSchema, message)
}
