//! The `insert`/`upsert` operator ([`crate::plan::physical::Physical::Insert`]):
//! rows of one table and their index entries, in one batch.
//!
//! It runs in two steps around the caller's locks, so that the costly part
//! runs before them: [`Insert::encode`] (no lock, no snapshot) checks the
//! statement's own keys for duplicates and encodes every row and index
//! entry; the caller then locks [`Insert::keys`] and takes a snapshot, and
//! [`Insert::finish`] checks the keys against the stored rows (insert) or
//! deletes the replaced rows' stale index entries (upsert). The caller
//! writes the batch it returns. Locking stays with the caller
//! (`Database`): this module never blocks.

use std::collections::{HashMap, HashSet};

use fasty_wal::{Snapshot, WriteBatch};

use crate::catalog::Table;
use crate::constraints;
use crate::error::{Error, ErrorCode, Result};
use crate::exec::index_entries::{IndexEntries, Written};
use crate::keys;
use crate::row;
use crate::value::Value;

/// Rows of one table to write, flattened into one arena: `width` values
/// per row (every column, in table order, already checked against the
/// column types), and each row's primary key. One allocation for the
/// whole batch instead of one per row.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    /// Columns per row.
    pub width: usize,
    /// Row `i`'s primary key.
    pub pks: Vec<i64>,
    /// Row `i`'s values are `values[i * width..(i + 1) * width]`.
    pub values: Vec<Value>,
}

impl Rows {
    /// No rows yet, room for `rows` rows of `width` columns.
    pub(crate) fn with_capacity(width: usize, rows: usize) -> Rows {
        Rows {
            width,
            pks: Vec::with_capacity(rows),
            values: Vec::with_capacity(rows.saturating_mul(width)),
        }
    }

    /// Whole rows of `t` (as a plan's insert node holds them), moved in;
    /// `missing_primary_key` for a row whose id is not an int.
    #[cfg(test)]
    pub(crate) fn from_rows(t: &Table, rows: Vec<Vec<Value>>) -> Result<Rows> {
        let width = t.columns.len();
        let mut out = Rows::with_capacity(width, rows.len());
        for mut r in rows {
            r.resize(width, Value::Null);
            let Value::Int(pk) = r[t.pk] else {
                return Err(missing_id(t));
            };
            out.pks.push(pk);
            out.values.extend(r);
        }
        Ok(out)
    }

    /// The number of rows.
    pub(crate) fn len(&self) -> usize {
        self.pks.len()
    }

    /// Whether there are no rows.
    pub(crate) fn is_empty(&self) -> bool {
        self.pks.is_empty()
    }

    /// Row `i`'s values, in column order.
    pub(crate) fn row(&self, i: usize) -> &[Value] {
        &self.values[i * self.width..(i + 1) * self.width]
    }
}

/// `missing_primary_key` for a row of `t` without an int id.
pub(crate) fn missing_id(t: &Table) -> Error {
    Error::query(
        ErrorCode::MissingPrimaryKey,
        format!("a row for table \"{}\" has no id", t.name),
    )
}

/// `duplicate_key` for primary key `pk` of `t`.
pub(crate) fn duplicate(t: &Table, pk: i64) -> Error {
    Error::query(
        ErrorCode::DuplicateKey,
        format!(
            "duplicate key: table \"{}\" already has a row with id {pk}",
            t.name
        ),
    )
}

/// An insert or upsert whose rows are encoded, waiting for its keys to be
/// locked ([`Insert::finish`]).
#[derive(Debug)]
pub(crate) struct Insert {
    upsert: bool,
    /// The primary keys written, sorted and unique.
    keys: Vec<i64>,
    /// The rows written, in order: all of them, except that for upsert
    /// only the last of rows sharing a key (it wins).
    order: Vec<usize>,
    /// The rows' puts.
    batch: WriteBatch,
    /// Rows the statement affects (every row given, duplicates of an
    /// upsert included).
    count: u64,
}

impl Insert {
    /// Checks `rows` (of table `t`) for keys given twice — `duplicate_key`
    /// for an insert; for an upsert the last row of a key wins — and
    /// encodes each row written with its index entries.
    pub(crate) fn encode(t: &Table, rows: &Rows, upsert: bool) -> Result<Insert> {
        let mut keys = rows.pks.clone();
        keys.sort_unstable();
        let mut order = None;
        if !upsert {
            if let Some(w) = keys.windows(2).find(|w| w[0] == w[1]) {
                return Err(duplicate(t, w[0]));
            }
        } else if keys.windows(2).any(|w| w[0] == w[1]) {
            let mut last: HashMap<i64, usize> = HashMap::new();
            for (i, pk) in rows.pks.iter().enumerate() {
                last.insert(*pk, i);
            }
            order = Some(
                (0..rows.len())
                    .filter(|&i| last.get(&rows.pks[i]) == Some(&i))
                    .collect(),
            );
            keys.dedup();
        }
        let order: Vec<usize> = order.unwrap_or_else(|| (0..rows.len()).collect());
        let mut entries = IndexEntries::new(t);
        let mut batch = WriteBatch::new();
        if let Some(&first) = order.first() {
            // Room for every record: the first row's writes size the rest,
            // with a few header bytes per record and a quarter to spare
            // (other rows' strings may be longer).
            let per_row = entries.put(rows.pks[first], rows.row(first), &mut WriteBatch::new())
                + t.indexes.len() * 12
                + 20;
            batch = WriteBatch::with_capacity((order.len() * per_row).saturating_mul(5) / 4);
        }
        for &i in &order {
            entries.put(rows.pks[i], rows.row(i), &mut batch);
        }
        Ok(Insert {
            upsert,
            keys,
            order,
            batch,
            count: rows.len() as u64,
        })
    }

    /// The primary keys the statement writes, sorted and unique: what the
    /// caller locks before taking the snapshot for [`Insert::finish`].
    pub(crate) fn keys(&self) -> &[i64] {
        &self.keys
    }

    /// Completes the batch against `snap`, taken with [`Insert::keys`]
    /// locked: an insert fails with `duplicate_key` (writing nothing) if a
    /// key is stored already; an upsert deletes the index entries of the
    /// rows it replaces that the new rows do not put again. `rows` are
    /// the rows given to [`Insert::encode`].
    pub(crate) fn finish(self, t: &Table, rows: &Rows, snap: &Snapshot) -> Result<Written> {
        let Insert {
            upsert,
            keys,
            order,
            mut batch,
            count,
        } = self;
        if !upsert {
            if let Some(pk) = crate::exec::keys::existing_pks(snap, t, &keys)?.first() {
                return Err(duplicate(t, *pk));
            }
        } else if !t.indexes.is_empty() {
            // An index key holds its row's primary key, so none of these
            // deletes can hit a key another row of the batch puts.
            let positions: Vec<usize> = (0..t.columns.len()).collect();
            let mut old = vec![Value::Null; positions.len()];
            let mut entries = IndexEntries::new(t);
            for &i in &order {
                let (pk, new) = (rows.pks[i], rows.row(i));
                let Some(bytes) = snap
                    .get(&keys::row_key(t.id, pk))
                    .map_err(|e| Error::Storage(e.into()))?
                else {
                    continue;
                };
                row::decode_columns(&bytes, &positions, &mut old)?;
                entries.remove(pk, &old, Some((pk, new)), &mut batch);
            }
        }
        if constraints::has_unique(t) {
            // An upsert replaces the stored rows of its keys.
            let leaving: HashSet<i64> = if upsert {
                keys.iter().copied().collect()
            } else {
                HashSet::new()
            };
            let new = order.iter().map(|&i| (rows.pks[i], rows.row(i)));
            constraints::check_unique(t, snap, new, &leaving)?;
        }
        Ok(Written { batch, count })
    }
}
