//! [`Database::verify`](crate::Database::verify): an integrity check of
//! the relational layer over one snapshot. Every catalog entry must
//! decode; every row must decode and carry its key's primary key; every
//! secondary index must agree with its table both ways — each row has
//! exactly its entry in each index of its table (none missing, none
//! extra), and each entry points at an existing row whose indexed value
//! is the entry's; and no key may lie under an id that is neither a table,
//! an index nor a dropped object still being purged.
//!
//! The check reads the stored catalog (what a reopen would load), not the
//! one in memory, and changes nothing. It is a full scan plus a point
//! read per row and index and per index entry: meant for tests, tools and
//! after-crash checks, not for a hot path.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use fasty_wal::{Db, Snapshot};

use crate::catalog::{self, Table};
use crate::error::{Error, Result};
use crate::keys;
use crate::row;
use crate::value::Value;

/// What kind of problem [`Database::verify`](crate::Database::verify)
/// found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntegrityKind {
    /// A catalog entry does not decode, or names a table or column that
    /// does not exist.
    BadCatalogEntry,
    /// A row's key or value does not decode, or its `id` column differs
    /// from the primary key in its key.
    BadRow,
    /// A row has no entry in an index of its table.
    MissingIndexEntry,
    /// An index entry's key does not decode.
    BadIndexEntry,
    /// An index entry points at a row that does not exist.
    DanglingIndexEntry,
    /// An index entry points at an existing row whose indexed value is
    /// not the entry's, and the row's own entry is missing (reported as
    /// well, as [`IntegrityKind::MissingIndexEntry`]).
    StaleIndexEntry,
    /// An index holds, besides a row's own entry, another entry (for
    /// another value) pointing at the same row.
    DuplicateIndexEntry,
    /// A key under an id that belongs to no table or index.
    OrphanKey,
}

impl IntegrityKind {
    /// A stable lower-case name, for reports and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrityKind::BadCatalogEntry => "bad_catalog_entry",
            IntegrityKind::BadRow => "bad_row",
            IntegrityKind::MissingIndexEntry => "missing_index_entry",
            IntegrityKind::BadIndexEntry => "bad_index_entry",
            IntegrityKind::DanglingIndexEntry => "dangling_index_entry",
            IntegrityKind::StaleIndexEntry => "stale_index_entry",
            IntegrityKind::DuplicateIndexEntry => "duplicate_index_entry",
            IntegrityKind::OrphanKey => "orphan_key",
        }
    }
}

/// One problem: what, where (table, index, the stored key) and details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntegrityProblem {
    /// What is wrong.
    pub kind: IntegrityKind,
    /// The table concerned, when known.
    pub table: Option<String>,
    /// The index concerned, when it is about an index.
    pub index: Option<String>,
    /// The stored key of the row, index entry or catalog entry at fault
    /// (for a missing entry: the key it should have).
    pub key: Vec<u8>,
    /// The primary key of the row concerned, when known.
    pub pk: Option<i64>,
    /// A few words on what was found.
    pub detail: String,
}

impl fmt::Display for IntegrityProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind.as_str())?;
        if let Some(t) = &self.table {
            write!(f, " table {t:?}")?;
        }
        if let Some(i) = &self.index {
            write!(f, " index {i:?}")?;
        }
        if let Some(pk) = self.pk {
            write!(f, " id {pk}")?;
        }
        write!(f, " key ")?;
        for b in &self.key {
            write!(f, "{b:02x}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

/// What [`Database::verify`](crate::Database::verify) checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IntegrityReport {
    /// Tables checked.
    pub tables: usize,
    /// Indexes checked.
    pub indexes: usize,
    /// Rows read.
    pub rows: u64,
    /// Index entries read.
    pub index_entries: u64,
    /// Every problem found, in key order.
    pub problems: Vec<IntegrityProblem>,
}

impl IntegrityReport {
    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

impl fmt::Display for IntegrityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} table(s), {} index(es), {} row(s), {} index entries: ",
            self.tables, self.indexes, self.rows, self.index_entries
        )?;
        if self.problems.is_empty() {
            return write!(f, "no problems");
        }
        write!(f, "{} problem(s)", self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  {p}")?;
        }
        Ok(())
    }
}

/// An index as the stored catalog defines it, with its table.
struct IndexDef {
    id: u32,
    name: String,
    table: Arc<Table>,
    /// Position of the indexed column.
    pos: usize,
}

/// The stored catalog, read entry by entry so that one bad entry is a
/// problem in the report instead of the end of the check.
struct StoredCatalog {
    tables: HashMap<u32, Arc<Table>>,
    indexes: HashMap<u32, IndexDef>,
    dropped: HashSet<u32>,
}

/// Checks the database in `db` over one snapshot (see the module doc).
/// Only a failure to read the store is an error; everything wrong with
/// what is stored is in the report.
pub(crate) fn verify(db: &Db) -> Result<IntegrityReport> {
    let snap = db.snapshot();
    let mut report = IntegrityReport::default();
    let cat = read_catalog(&snap, &mut report)?;
    report.tables = cat.tables.len();
    report.indexes = cat.indexes.len();
    let start = keys::table_prefix(1);
    for pair in snap.scan(&start[..]..) {
        let (k, v) = pair.map_err(|e| Error::Storage(e.into()))?;
        let id = k
            .first_chunk::<4>()
            .map(|p| u32::from_be_bytes(*p))
            .unwrap_or(0);
        if let Some(t) = cat.tables.get(&id) {
            report.rows += 1;
            check_row(&snap, &cat, t, &k, &v, &mut report)?;
        } else if let Some(ix) = cat.indexes.get(&id) {
            report.index_entries += 1;
            check_entry(&snap, ix, &k, &v, &mut report)?;
        } else if !cat.dropped.contains(&id) {
            report.problems.push(IntegrityProblem {
                kind: IntegrityKind::OrphanKey,
                table: None,
                index: None,
                key: k.to_vec(),
                pk: None,
                detail: format!("no table or index has id {id}"),
            });
        }
    }
    Ok(report)
}

fn read_catalog(snap: &Snapshot, report: &mut IntegrityReport) -> Result<StoredCatalog> {
    let mut by_name: HashMap<String, Arc<Table>> = HashMap::new();
    let mut indexes = Vec::new();
    let mut dropped = HashSet::new();
    let bad = |key: &[u8], detail: String| IntegrityProblem {
        kind: IntegrityKind::BadCatalogEntry,
        table: None,
        index: None,
        key: key.to_vec(),
        pk: None,
        detail,
    };
    let end = keys::table_prefix(1);
    for pair in snap.scan(&keys::CATALOG_PREFIX[..]..&end[..]) {
        let (k, v) = pair.map_err(|e| Error::Storage(e.into()))?;
        match k.get(4) {
            Some(&catalog::TABLE) => match catalog::decode_table(&v) {
                Ok(t) => {
                    by_name.insert(t.name.clone(), Arc::new(t));
                }
                Err(e) => report.problems.push(bad(&k, e.message())),
            },
            Some(&catalog::INDEX) => match catalog::decode_index(&v) {
                Ok(ix) => indexes.push((k.to_vec(), ix)),
                Err(e) => report.problems.push(bad(&k, e.message())),
            },
            Some(&catalog::NEXT_ID) => {
                if v.len() != 8 {
                    report
                        .problems
                        .push(bad(&k, format!("next id of {} bytes, not 8", v.len())));
                }
            }
            Some(&catalog::VERSION) => {
                if v.len() != 1 || v[0] > catalog::FORMAT {
                    report.problems.push(bad(
                        &k,
                        format!("catalog format {v:?} is not one this release reads"),
                    ));
                }
            }
            Some(&catalog::DROPPED) => match k.get(5..).and_then(|b| b.first_chunk::<4>()) {
                Some(id) if k.len() == 9 => {
                    dropped.insert(u32::from_be_bytes(*id));
                }
                _ => report
                    .problems
                    .push(bad(&k, "dropped-id key of the wrong length".into())),
            },
            _ => report
                .problems
                .push(bad(&k, "catalog entry of an unknown kind".into())),
        }
    }
    let mut defs = HashMap::new();
    for (key, (id, name, table, column)) in indexes {
        let Some(t) = by_name.get(&table) else {
            report.problems.push(IntegrityProblem {
                index: Some(name.clone()),
                ..bad(&key, format!("index on unknown table {table:?}"))
            });
            continue;
        };
        let Some(pos) = t.column(&column) else {
            report.problems.push(IntegrityProblem {
                table: Some(table.clone()),
                index: Some(name.clone()),
                ..bad(&key, format!("index on unknown column {column:?}"))
            });
            continue;
        };
        defs.insert(
            id,
            IndexDef {
                id,
                name,
                table: t.clone(),
                pos,
            },
        );
    }
    Ok(StoredCatalog {
        tables: by_name.into_values().map(|t| (t.id, t)).collect(),
        indexes: defs,
        dropped,
    })
}

/// The indexes of table `t` in the stored catalog, in id order.
fn indexes_of<'c>(cat: &'c StoredCatalog, t: &Table) -> Vec<&'c IndexDef> {
    let mut v: Vec<_> = cat
        .indexes
        .values()
        .filter(|ix| ix.table.id == t.id)
        .collect();
    v.sort_unstable_by_key(|ix| ix.id);
    v
}

/// Decodes row `value` of table `t` stored under `key`: its primary key
/// and columns, or what is wrong with it.
fn decode(t: &Table, key: &[u8], value: &[u8]) -> std::result::Result<(i64, Vec<Value>), String> {
    let (_, pk) = keys::decode_row_key(key).ok_or("row key is not 12 bytes long")?;
    let vals = row::decode_row(value, t.columns.len()).map_err(|e| e.message())?;
    match vals.get(t.pk) {
        Some(Value::Int(id)) if *id == pk => Ok((pk, vals)),
        other => Err(format!("id column holds {other:?} but the key says {pk}")),
    }
}

fn check_row(
    snap: &Snapshot,
    cat: &StoredCatalog,
    t: &Table,
    key: &[u8],
    value: &[u8],
    report: &mut IntegrityReport,
) -> Result<()> {
    let (pk, vals) = match decode(t, key, value) {
        Ok(r) => r,
        Err(detail) => {
            report.problems.push(IntegrityProblem {
                kind: IntegrityKind::BadRow,
                table: Some(t.name.clone()),
                index: None,
                key: key.to_vec(),
                pk: keys::decode_row_key(key).map(|(_, pk)| pk),
                detail,
            });
            return Ok(());
        }
    };
    let mut ikey = Vec::new();
    for ix in indexes_of(cat, t) {
        ikey.clear();
        keys::index_key(ix.id, &vals[ix.pos], pk, &mut ikey);
        if snap
            .get(&ikey)
            .map_err(|e| Error::Storage(e.into()))?
            .is_none()
        {
            report.problems.push(IntegrityProblem {
                kind: IntegrityKind::MissingIndexEntry,
                table: Some(t.name.clone()),
                index: Some(ix.name.clone()),
                key: ikey.clone(),
                pk: Some(pk),
                detail: format!("no entry for value {:?}", vals[ix.pos]),
            });
        }
    }
    Ok(())
}

fn check_entry(
    snap: &Snapshot,
    ix: &IndexDef,
    key: &[u8],
    value: &[u8],
    report: &mut IntegrityReport,
) -> Result<()> {
    let problem = |kind, pk, detail| IntegrityProblem {
        kind,
        table: Some(ix.table.name.clone()),
        index: Some(ix.name.clone()),
        key: key.to_vec(),
        pk,
        detail,
    };
    // id (4) | encoded value | primary key (8), and an empty value.
    let decoded = key
        .len()
        .checked_sub(8)
        .filter(|&end| end > 4)
        .ok_or_else(|| "index key too short".to_string())
        .and_then(|end| {
            let (v, used) = keys::decode_ordered(&key[4..end]).map_err(|e| e.message())?;
            if 4 + used != end {
                return Err(format!("{} bytes after the value", end - 4 - used));
            }
            let pk = keys::pk_of_index_key(key).ok_or("index key too short")?;
            Ok((v, pk))
        })
        .and_then(|d| match value.is_empty() {
            true => Ok(d),
            false => Err(format!("entry holds {} bytes, not none", value.len())),
        });
    let (indexed, pk) = match decoded {
        Ok(d) => d,
        Err(detail) => {
            report
                .problems
                .push(problem(IntegrityKind::BadIndexEntry, None, detail));
            return Ok(());
        }
    };
    let row_key = keys::row_key(ix.table.id, pk);
    let Some(stored) = snap.get(&row_key).map_err(|e| Error::Storage(e.into()))? else {
        report.problems.push(problem(
            IntegrityKind::DanglingIndexEntry,
            Some(pk),
            format!("entry for value {indexed:?} but no such row"),
        ));
        return Ok(());
    };
    // A row that does not decode is reported as a bad row by its own check.
    if let Ok((_, vals)) = decode(&ix.table, &row_key, &stored) {
        let mut expected = Vec::new();
        keys::index_key(ix.id, &vals[ix.pos], pk, &mut expected);
        if expected != key {
            // The row's own entry exists: this one is an extra for it.
            let has_own = snap
                .get(&expected)
                .map_err(|e| Error::Storage(e.into()))?
                .is_some();
            let (kind, detail) = if has_own {
                (
                    IntegrityKind::DuplicateIndexEntry,
                    format!(
                        "a second entry for the row, for value {indexed:?}; the row's own is for {:?}",
                        vals[ix.pos]
                    ),
                )
            } else {
                (
                    IntegrityKind::StaleIndexEntry,
                    format!(
                        "entry for value {indexed:?} but the row holds {:?}",
                        vals[ix.pos]
                    ),
                )
            };
            report.problems.push(problem(kind, Some(pk), detail));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Database, Options};
    use fasty_wal::WriteBatch;

    /// A database with two indexed tables and some history behind it
    /// (updates, upserts, deletes, a dropped index and a dropped table).
    fn healthy() -> Database {
        let db = Database::open("unused-in-memory", Options::memory()).unwrap();
        for text in [
            "create table t {id: int, a: int, s: string, b: float, f: bool, j: json}",
            "create index t_a on t (a)",
            "create index t_s on t (s)",
            r#"insert t [{id: 1, a: 10, s: "x", b: 1.5, f: true, j: {"k": 1}},
                {id: 2, a: 20, s: "y\tz", b: 3, f: false},
                {id: 3, a: null, s: "", b: -0.0, f: null},
                {id: -4, a: 10, s: "x", b: null, f: true}]"#,
            "create index t_b on t (b)",
            "create index t_f on t (f)",
            "update t set a = a + 1, s = \"w\" where id = 2",
            r#"upsert t [{id: 1, a: 11, s: "q", b: 2}, {id: 5, a: 50, s: "n"}]"#,
            "delete from t where id = 3",
            "create index t_gone on t (a)",
            "drop index t_gone",
            "create table u {id: int, v: string}",
            "create index u_v on u (v)",
            r#"insert u {id: 1, v: "a"}"#,
            "drop table u",
            "create table e {id: int, n: int}",
        ] {
            db.execute(text).unwrap();
        }
        db
    }

    fn index_id(db: &Database, name: &str) -> u32 {
        let v = db.kv().get(&catalog::index_key(name)).unwrap().unwrap();
        catalog::decode_index(&v).unwrap().0
    }

    fn table_id(db: &Database, name: &str) -> u32 {
        let v = db.kv().get(&catalog::table_key(name)).unwrap().unwrap();
        catalog::decode_table(&v).unwrap().id
    }

    fn write(db: &Database, f: impl FnOnce(&mut WriteBatch)) {
        let mut batch = WriteBatch::new();
        f(&mut batch);
        db.kv().write(batch).unwrap();
    }

    fn kinds(report: &IntegrityReport) -> Vec<IntegrityKind> {
        report.problems.iter().map(|p| p.kind).collect()
    }

    #[test]
    fn a_healthy_database_verifies_clean() {
        let db = healthy();
        let report = db.verify().unwrap();
        assert!(report.is_clean(), "{report}");
        assert_eq!(report.tables, 2);
        assert_eq!(report.indexes, 4);
        assert_eq!(report.rows, 4);
        assert_eq!(report.index_entries, 16);
        assert!(report.to_string().ends_with("no problems"), "{report}");
    }

    #[test]
    fn an_empty_database_verifies_clean() {
        let db = Database::open("unused-in-memory", Options::memory()).unwrap();
        assert_eq!(db.verify().unwrap(), IntegrityReport::default());
    }

    #[test]
    fn a_deleted_index_entry_is_missing() {
        let db = healthy();
        let mut key = Vec::new();
        keys::index_key(
            index_id(&db, "t_s"),
            &Value::String("w".into()),
            2,
            &mut key,
        );
        write(&db, |b| b.delete(&key));
        let report = db.verify().unwrap();
        assert_eq!(kinds(&report), [IntegrityKind::MissingIndexEntry]);
        let p = &report.problems[0];
        assert_eq!(p.table.as_deref(), Some("t"));
        assert_eq!(p.index.as_deref(), Some("t_s"));
        assert_eq!(p.pk, Some(2));
        assert_eq!(p.key, key);
        assert!(
            p.to_string()
                .starts_with("missing_index_entry table \"t\" index \"t_s\" id 2 key ")
        );
    }

    #[test]
    fn an_entry_without_its_row_is_dangling() {
        let db = healthy();
        let mut key = Vec::new();
        keys::index_key(index_id(&db, "t_a"), &Value::Int(10), 999, &mut key);
        write(&db, |b| b.put(&key, b""));
        let report = db.verify().unwrap();
        assert_eq!(kinds(&report), [IntegrityKind::DanglingIndexEntry]);
        assert_eq!(report.problems[0].pk, Some(999));
        assert_eq!(report.problems[0].index.as_deref(), Some("t_a"));
        assert_eq!(report.problems[0].key, key);
    }

    #[test]
    fn a_row_changed_without_its_index_leaves_a_stale_entry_and_a_missing_one() {
        let db = healthy();
        let t = table_id(&db, "t");
        let rk = keys::row_key(t, 5);
        let old = db.kv().get(&rk).unwrap().unwrap();
        let mut vals = row::decode_row(&old, 6).unwrap();
        assert_eq!(vals[1], Value::Int(50));
        vals[1] = Value::Int(51);
        let mut new = Vec::new();
        row::encode_row(&vals, &mut new);
        write(&db, |b| b.put(rk, &new));
        let report = db.verify().unwrap();
        let mut found = kinds(&report);
        found.sort_by_key(|k| k.as_str());
        assert_eq!(
            found,
            [
                IntegrityKind::MissingIndexEntry,
                IntegrityKind::StaleIndexEntry
            ],
            "{report}"
        );
        assert!(report.problems.iter().all(|p| p.pk == Some(5)
            && p.index.as_deref() == Some("t_a")
            && p.table.as_deref() == Some("t")));
    }

    #[test]
    fn a_second_entry_for_a_row_is_a_duplicate() {
        let db = healthy();
        let mut key = Vec::new();
        keys::index_key(index_id(&db, "t_f"), &Value::Bool(false), 1, &mut key);
        write(&db, |b| b.put(&key, b""));
        let report = db.verify().unwrap();
        assert_eq!(
            kinds(&report),
            [IntegrityKind::DuplicateIndexEntry],
            "{report}"
        );
        assert_eq!(report.problems[0].pk, Some(1));
        assert_eq!(report.problems[0].key, key);
    }

    #[test]
    fn undecodable_rows_entries_and_catalog_entries_are_reported() {
        let db = healthy();
        let t = table_id(&db, "t");
        let e = table_id(&db, "e");
        let ix = index_id(&db, "t_a");
        let mut bad_entry = ix.to_be_bytes().to_vec();
        bad_entry.extend_from_slice(&[0x09; 9]);
        write(&db, |b| {
            // Rows: garbage, a wrong id column, a short key.
            b.put(keys::row_key(e, 7), [0xFF_u8; 3]);
            let mut r = Vec::new();
            row::encode_row(&[Value::Int(8), Value::Null], &mut r);
            b.put(keys::row_key(e, 9), &r);
            b.put(&keys::row_key(e, 10)[..11], &r);
            b.put(&bad_entry, b"");
            b.put(catalog::table_key("broken"), b"{not json");
            b.put(catalog::catalog_key(b'z', b"what"), b"");
            b.put(keys::table_prefix(t + 1000), b"");
        });
        let report = db.verify().unwrap();
        let mut found = kinds(&report);
        found.sort_by_key(|k| k.as_str());
        assert_eq!(
            found,
            [
                IntegrityKind::BadCatalogEntry,
                IntegrityKind::BadCatalogEntry,
                IntegrityKind::BadIndexEntry,
                IntegrityKind::BadRow,
                IntegrityKind::BadRow,
                IntegrityKind::BadRow,
                IntegrityKind::OrphanKey,
            ],
            "{report}"
        );
    }
}
