//! Index maintenance, in one place: every write of a row — insert,
//! upsert, update, delete — turns "this row was `old`, is now `new`" into
//! the puts and deletes of its row key and of its entries in every index
//! of the table here, and nowhere else (`create index`, which fills a new
//! index from the stored rows, is DDL and builds its entries itself). The
//! write operators hand the result to one `WriteBatch`, so a row and its
//! index entries always land together or not at all.
//!
//! The rules, for a row of primary key `pk`:
//! - a new row puts its row key (the encoded row) and one entry per index
//!   (`index_key(index, value, pk)`, empty value), whether or not the
//!   entry existed before;
//! - an old row deletes its row key unless the new row has the same
//!   primary key, and deletes each of its index entries whose key the new
//!   row does not put again (keys are compared as bytes, so a value that
//!   changes but encodes the same, such as `-0.0` for `0.0`, keeps its
//!   entry).

use std::collections::BTreeMap;

use fasty_wal::WriteBatch;

use crate::catalog::Table;
use crate::keys;
use crate::row;
use crate::value::Value;

/// Where the puts and deletes of [`IndexEntries`] go.
pub(crate) trait Writes {
    /// Sets `key` to `value`.
    fn put(&mut self, key: &[u8], value: &[u8]);
    /// Removes `key`.
    fn delete(&mut self, key: &[u8]);
}

impl Writes for WriteBatch {
    fn put(&mut self, key: &[u8], value: &[u8]) {
        WriteBatch::put(self, key, value);
    }

    fn delete(&mut self, key: &[u8]) {
        WriteBatch::delete(self, key);
    }
}

/// The final state of every key a statement touches, for writes whose
/// rows may overlap (an update that moves ids: one row's old key is
/// another row's new key). A put always wins over a delete of the same
/// key, whichever comes first; of two puts the later wins.
#[derive(Debug, Default)]
pub(crate) struct FinalState {
    keys: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl FinalState {
    /// Nothing written yet.
    pub(crate) fn new() -> FinalState {
        FinalState::default()
    }

    /// The writes as one batch, in key order.
    pub(crate) fn into_batch(self) -> WriteBatch {
        let mut batch = WriteBatch::new();
        for (k, v) in self.keys {
            match v {
                Some(v) => batch.put(k, v),
                None => batch.delete(k),
            }
        }
        batch
    }
}

impl Writes for FinalState {
    fn put(&mut self, key: &[u8], value: &[u8]) {
        match self.keys.get_mut(key) {
            Some(slot) => *slot = Some(value.to_vec()),
            None => {
                self.keys.insert(key.to_vec(), Some(value.to_vec()));
            }
        }
    }

    fn delete(&mut self, key: &[u8]) {
        if !self.keys.contains_key(key) {
            self.keys.insert(key.to_vec(), None);
        }
    }
}

/// What a write operator produced: the batch to write (a row and its
/// index entries always in the same one) and the number of rows the
/// statement affected.
#[derive(Debug, Default)]
pub(crate) struct Written {
    /// Every put and delete of the statement.
    pub batch: WriteBatch,
    /// Rows inserted, updated or deleted.
    pub count: u64,
}

/// The writes of rows of one table. Holds the buffers keys and values
/// are encoded into, reused from one row to the next, so that writing a
/// row allocates nothing of its own.
pub(crate) struct IndexEntries<'t> {
    table: &'t Table,
    /// The encoded row.
    value: Vec<u8>,
    /// An old index entry's key.
    old_key: Vec<u8>,
    /// A new index entry's key.
    new_key: Vec<u8>,
}

impl<'t> IndexEntries<'t> {
    /// Writes of rows of `table`.
    pub(crate) fn new(table: &'t Table) -> IndexEntries<'t> {
        IndexEntries {
            table,
            value: Vec::with_capacity(128),
            old_key: Vec::with_capacity(64),
            new_key: Vec::with_capacity(64),
        }
    }

    /// Row `old` (primary key and whole row, in column order) becomes
    /// `new`: `None` for a row that did not exist (insert) or no longer
    /// does (delete). Deletes are written before puts. Returns the bytes
    /// of keys and values written, for callers that hold them.
    pub(crate) fn change(
        &mut self,
        old: Option<(i64, &[Value])>,
        new: Option<(i64, &[Value])>,
        out: &mut impl Writes,
    ) -> usize {
        let mut bytes = 0;
        if let Some((pk, row)) = old {
            bytes += self.remove(pk, row, new, out);
        }
        if let Some((pk, row)) = new {
            bytes += self.put(pk, row, out);
        }
        bytes
    }

    /// Puts row `values` (whole, in column order) under primary key `pk`
    /// and its entry in every index. Returns the bytes of keys and values
    /// written.
    pub(crate) fn put(&mut self, pk: i64, values: &[Value], out: &mut impl Writes) -> usize {
        self.value.clear();
        row::encode_row(values, &mut self.value);
        let key = keys::row_key(self.table.id, pk);
        out.put(&key, &self.value);
        let mut bytes = key.len() + self.value.len();
        for ix in &self.table.indexes {
            self.new_key.clear();
            keys::index_key(ix.id, value_at(values, ix.pos), pk, &mut self.new_key);
            out.put(&self.new_key, b"");
            bytes += self.new_key.len();
        }
        bytes
    }

    /// Deletes what row `old` (primary key `pk`) has stored that its
    /// replacement `by` (`None`: nothing replaces it) does not write
    /// again: its row key if the primary key changes, its index entries
    /// whose keys change. Returns the bytes of the keys deleted.
    pub(crate) fn remove(
        &mut self,
        pk: i64,
        old: &[Value],
        by: Option<(i64, &[Value])>,
        out: &mut impl Writes,
    ) -> usize {
        let mut bytes = 0;
        if by.is_none_or(|(new_pk, _)| new_pk != pk) {
            let key = keys::row_key(self.table.id, pk);
            out.delete(&key);
            bytes += key.len();
        }
        for ix in &self.table.indexes {
            let old_value = value_at(old, ix.pos);
            if let Some((new_pk, new)) = by {
                // Equal values of an indexable type (not json) encode
                // alike: no key to build.
                if new_pk == pk && value_at(new, ix.pos) == old_value {
                    continue;
                }
            }
            self.old_key.clear();
            keys::index_key(ix.id, old_value, pk, &mut self.old_key);
            if let Some((new_pk, new)) = by {
                self.new_key.clear();
                keys::index_key(ix.id, value_at(new, ix.pos), new_pk, &mut self.new_key);
                if self.new_key == self.old_key {
                    continue;
                }
            }
            out.delete(&self.old_key);
            bytes += self.old_key.len();
        }
        bytes
    }
}

/// Column `pos` of a whole row; null past its end (rows are whole, so
/// only a caller's mistake gets there, and a null keeps that from
/// panicking).
fn value_at(row: &[Value], pos: usize) -> &Value {
    const NULL: &Value = &Value::Null;
    row.get(pos).unwrap_or(NULL)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use super::*;
    use crate::ast::{ColumnDef, ColumnType};
    use crate::catalog::Index;

    /// One write, as the tests compare them.
    #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
    enum Op {
        Put(Vec<u8>, Vec<u8>),
        Delete(Vec<u8>),
    }

    impl Writes for Vec<Op> {
        fn put(&mut self, key: &[u8], value: &[u8]) {
            self.push(Op::Put(key.to_vec(), value.to_vec()));
        }

        fn delete(&mut self, key: &[u8]) {
            self.push(Op::Delete(key.to_vec()));
        }
    }

    /// `t (id int, k int, s string, f float)` with id 7, indexes 8 on `k`
    /// and 9 on `s`.
    fn table() -> Table {
        let col = |name: &str, ty| ColumnDef::new(name, ty);
        let ix = |id, column: &str, pos| {
            Arc::new(Index {
                id,
                name: format!("t_{column}"),
                table: "t".into(),
                column: column.into(),
                pos,
                unique: false,
            })
        };
        Table {
            id: 7,
            name: "t".into(),
            columns: vec![
                col("id", ColumnType::Int),
                col("k", ColumnType::Int),
                col("s", ColumnType::String),
                col("f", ColumnType::Float),
            ],
            pk: 0,
            indexes: vec![ix(8, "k", 1), ix(9, "s", 2), ix(10, "f", 3)],
        }
    }

    fn row(id: i64, k: Option<i64>, s: &str, f: f64) -> Vec<Value> {
        vec![
            Value::Int(id),
            k.map_or(Value::Null, Value::Int),
            Value::String(s.into()),
            Value::Float(f),
        ]
    }

    fn row_put(r: &[Value]) -> Op {
        let mut v = Vec::new();
        row::encode_row(r, &mut v);
        Op::Put(row_key(r).to_vec(), v)
    }

    fn row_key(r: &[Value]) -> [u8; 12] {
        let Value::Int(pk) = r[0] else {
            panic!("test rows have int ids")
        };
        keys::row_key(7, pk)
    }

    /// The key of `r`'s entry in index `id` (on column `pos`).
    fn entry(id: u32, pos: usize, r: &[Value]) -> Vec<u8> {
        let Value::Int(pk) = r[0] else {
            panic!("test rows have int ids")
        };
        let mut k = Vec::new();
        keys::index_key(id, &r[pos], pk, &mut k);
        k
    }

    fn puts(r: &[Value]) -> Vec<Op> {
        vec![
            row_put(r),
            Op::Put(entry(8, 1, r), Vec::new()),
            Op::Put(entry(9, 2, r), Vec::new()),
            Op::Put(entry(10, 3, r), Vec::new()),
        ]
    }

    fn pk(r: &[Value]) -> i64 {
        match r[0] {
            Value::Int(i) => i,
            _ => panic!("test rows have int ids"),
        }
    }

    /// The writes of `old` → `new`, as a set.
    fn change(old: Option<&[Value]>, new: Option<&[Value]>) -> BTreeSet<Op> {
        let t = table();
        let mut e = IndexEntries::new(&t);
        let mut out = Vec::new();
        e.change(old.map(|r| (pk(r), r)), new.map(|r| (pk(r), r)), &mut out);
        let set: BTreeSet<Op> = out.iter().cloned().collect();
        assert_eq!(set.len(), out.len(), "no write twice: {out:?}");
        // Deletes come before puts.
        let first_put = out.iter().position(|o| matches!(o, Op::Put(..)));
        let last_delete = out.iter().rposition(|o| matches!(o, Op::Delete(..)));
        if let (Some(p), Some(d)) = (first_put, last_delete) {
            assert!(d < p, "{out:?}");
        }
        set
    }

    #[test]
    fn an_insert_puts_the_row_and_one_entry_per_index() {
        let new = row(1, Some(5), "a", 1.5);
        let want: BTreeSet<Op> = puts(&new).into_iter().collect();
        assert_eq!(change(None, Some(&new)), want);
    }

    #[test]
    fn a_delete_deletes_the_row_and_every_entry() {
        let old = row(1, Some(5), "a", 1.5);
        let want: BTreeSet<Op> = [
            Op::Delete(row_key(&old).to_vec()),
            Op::Delete(entry(8, 1, &old)),
            Op::Delete(entry(9, 2, &old)),
            Op::Delete(entry(10, 3, &old)),
        ]
        .into_iter()
        .collect();
        assert_eq!(change(Some(&old), None), want);
    }

    #[test]
    fn no_change_deletes_nothing_and_puts_the_same_entries() {
        let r = row(1, Some(5), "a", 1.5);
        let want: BTreeSet<Op> = puts(&r).into_iter().collect();
        assert_eq!(change(Some(&r), Some(&r)), want);
    }

    #[test]
    fn a_changed_indexed_value_deletes_only_that_entry() {
        let old = row(1, Some(5), "a", 1.5);
        let new = row(1, Some(6), "a", 1.5);
        let mut want: BTreeSet<Op> = puts(&new).into_iter().collect();
        want.insert(Op::Delete(entry(8, 1, &old)));
        assert_eq!(change(Some(&old), Some(&new)), want);
    }

    #[test]
    fn an_indexed_value_changed_to_and_from_null() {
        let set = row(1, Some(5), "a", 1.5);
        let null = row(1, None, "a", 1.5);
        // To null: the entry under 5 goes, one under null comes.
        let mut want: BTreeSet<Op> = puts(&null).into_iter().collect();
        want.insert(Op::Delete(entry(8, 1, &set)));
        assert_eq!(change(Some(&set), Some(&null)), want);
        // From null: the other way round.
        let mut want: BTreeSet<Op> = puts(&set).into_iter().collect();
        want.insert(Op::Delete(entry(8, 1, &null)));
        assert_eq!(change(Some(&null), Some(&set)), want);
        // Null to null is no change.
        let want: BTreeSet<Op> = puts(&null).into_iter().collect();
        assert_eq!(change(Some(&null), Some(&null)), want);
    }

    #[test]
    fn a_changed_id_moves_the_row_and_every_entry() {
        let old = row(1, Some(5), "a", 1.5);
        let new = row(2, Some(5), "a", 1.5);
        let mut want: BTreeSet<Op> = puts(&new).into_iter().collect();
        want.insert(Op::Delete(row_key(&old).to_vec()));
        want.insert(Op::Delete(entry(8, 1, &old)));
        want.insert(Op::Delete(entry(9, 2, &old)));
        want.insert(Op::Delete(entry(10, 3, &old)));
        assert_eq!(change(Some(&old), Some(&new)), want);
    }

    #[test]
    fn a_value_that_encodes_the_same_keeps_its_entry() {
        // -0.0 and 0.0 are one index key: deleting the old entry would
        // delete the new one.
        let old = row(1, Some(5), "a", -0.0);
        let new = row(1, Some(5), "a", 0.0);
        assert_eq!(entry(10, 3, &old), entry(10, 3, &new));
        let want: BTreeSet<Op> = puts(&new).into_iter().collect();
        assert_eq!(change(Some(&old), Some(&new)), want);
    }

    #[test]
    fn final_state_lets_a_put_win_over_a_delete_in_either_order() {
        let mut s = FinalState::new();
        s.put(b"a", b"1");
        s.delete(b"a");
        s.delete(b"b");
        s.put(b"b", b"2");
        s.delete(b"c");
        s.put(b"d", b"3");
        s.put(b"d", b"4");
        let batch = s.into_batch();
        let mut want = WriteBatch::new();
        want.put(b"a", b"1");
        want.put(b"b", b"2");
        want.delete(b"c");
        want.put(b"d", b"4");
        assert_eq!(batch, want);
    }
}
