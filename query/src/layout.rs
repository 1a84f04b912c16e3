//! How a table row splits into typed fields for storage's columnar data
//! blocks: the row encoding of `row` seen column by column. Storage calls
//! this at flush and compaction time to store a table's rows by column,
//! and to rebuild a row's bytes for a point read; it checks that every
//! row rebuilds to exactly the bytes it split, so a value this layout does
//! not understand is simply stored whole.
//!
//! Only table rows split: their keys are a table prefix and an 8-byte
//! primary key (12 bytes; index keys are longer, catalog keys start with
//! the reserved prefix).

use fasty_wal::{Field, ValueLayout};

use crate::keys::CATALOG_PREFIX;
use crate::row::{RowReader, ValueRef, encode_fields};

/// The layout of fasty's table rows, given to storage when columnar data
/// blocks are switched on (`Options::with_columnar`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RowLayout;

/// Length of a row key: table prefix and primary key.
const ROW_KEY_LEN: usize = 12;

/// Length of the table prefix a row key starts with: one columnar block
/// holds one table's rows.
const TABLE_PREFIX_LEN: usize = 4;

impl ValueLayout for RowLayout {
    fn group_len(&self, key: &[u8]) -> Option<usize> {
        (key.len() == ROW_KEY_LEN && key[..TABLE_PREFIX_LEN] != CATALOG_PREFIX)
            .then_some(TABLE_PREFIX_LEN)
    }

    /// Keys outside the tables' groups are index entries, read by prefix
    /// scans (no hash index), and the catalog's (point reads at open and
    /// at DDL keep theirs).
    fn hash_index(&self, key: &[u8]) -> bool {
        key.get(..TABLE_PREFIX_LEN) == Some(&CATALOG_PREFIX[..])
    }

    fn split<'v>(&self, value: &'v [u8], out: &mut Vec<Field<'v>>) -> bool {
        let start = out.len();
        let Ok(mut reader) = RowReader::new(value) else {
            return false;
        };
        for pos in 0..reader.column_count() {
            let field = match reader.get(pos) {
                Ok(ValueRef::Null) => Field::Null,
                Ok(ValueRef::Int(v)) => Field::Int(v),
                Ok(ValueRef::Float(v)) => Field::Float(v),
                Ok(ValueRef::Bool(v)) => Field::Bool(v),
                Ok(ValueRef::String(s)) => Field::Text(s.as_bytes()),
                Ok(ValueRef::Json(text)) => Field::Blob(text),
                Err(_) => {
                    out.truncate(start);
                    return false;
                }
            };
            out.push(field);
        }
        if reader.expect_end().is_err() {
            out.truncate(start);
            return false;
        }
        true
    }

    fn join(&self, fields: &[Field<'_>], out: &mut Vec<u8>) {
        encode_fields(fields, out);
    }

    /// Strings are `str`: their fields are UTF-8.
    fn text_is_utf8(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::keys::table_prefix;
    use crate::row::encode_row;
    use crate::value::Value;

    /// Any value a row column may hold.
    fn value() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<i64>().prop_map(Value::Int),
            any::<f64>()
                .prop_filter("no nan", |v| !v.is_nan())
                .prop_map(Value::Float),
            any::<bool>().prop_map(Value::Bool),
            ".{0,12}".prop_map(Value::String),
            (any::<i64>(), ".{0,6}").prop_map(|(n, s)| Value::Json(serde_json::json!({ s: n }))),
        ]
    }

    proptest! {
        #[test]
        fn rows_split_and_join_to_the_same_bytes(
            values in prop::collection::vec(value(), 0..10),
        ) {
            let mut row = Vec::new();
            encode_row(&values, &mut row);
            let mut fields = Vec::new();
            prop_assert!(RowLayout.split(&row, &mut fields));
            prop_assert_eq!(fields.len(), values.len());
            let mut joined = vec![7u8];
            RowLayout.join(&fields, &mut joined);
            prop_assert_eq!(&joined[1..], &row[..]);
        }

        #[test]
        fn split_is_total_and_exact_on_any_bytes(
            bytes in prop::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut fields = vec![Field::Null];
            if RowLayout.split(&bytes, &mut fields) {
                let mut joined = Vec::new();
                RowLayout.join(&fields[1..], &mut joined);
                // A value that splits is a well-formed row, and every
                // well-formed row this module sees uses minimal varints.
                if joined != bytes {
                    prop_assert!(bytes.len() > joined.len(), "{bytes:?} vs {joined:?}");
                }
            } else {
                prop_assert_eq!(fields, vec![Field::Null]);
            }
        }
    }

    #[test]
    fn non_rows_do_not_split() {
        let mut fields = Vec::new();
        // Trailing bytes after the last column.
        let mut row = Vec::new();
        encode_row(&[Value::Int(1)], &mut row);
        row.push(0);
        assert!(!RowLayout.split(&row, &mut fields));
        // An unknown tag, a truncated string, an empty value.
        assert!(!RowLayout.split(&[1, 0x09], &mut fields));
        assert!(!RowLayout.split(&[1, 0x05, 4, b'a'], &mut fields));
        assert!(!RowLayout.split(&[], &mut fields));
        assert!(fields.is_empty());
    }

    #[test]
    fn only_row_keys_are_grouped() {
        let mut row_key = table_prefix(3).to_vec();
        row_key.extend_from_slice(&7u64.to_be_bytes());
        assert_eq!(RowLayout.group_len(&row_key), Some(4));
        let mut catalog_key = CATALOG_PREFIX.to_vec();
        catalog_key.extend_from_slice(&7u64.to_be_bytes());
        assert_eq!(RowLayout.group_len(&catalog_key), None);
        let mut index_key = row_key.clone();
        index_key.push(1);
        assert_eq!(RowLayout.group_len(&index_key), None);
        assert_eq!(RowLayout.group_len(&row_key[..8]), None);
    }

    /// The rows of `select * from t`.
    fn all_rows(db: &crate::Database) -> Vec<Vec<Value>> {
        match db.execute("select * from t") {
            Ok(crate::output::Output::Rows { rows, .. }) => rows,
            other => panic!("not rows: {other:?}"),
        }
    }

    /// Whether table `t`'s stored rows include a columnar block.
    fn has_blocks(db: &crate::Database) -> bool {
        let snap = db.kv().snapshot();
        snap.pieces(vec![0u8, 0, 0, 1]..vec![0xff; 4], None)
            .any(|p| matches!(p, Ok(fasty_wal::Piece::Block { .. })))
    }

    /// The rows (`None`: an error) of `q`.
    fn rows_of(db: &crate::Database, q: &str) -> Option<Vec<Vec<Value>>> {
        match db.execute(q) {
            Ok(crate::output::Output::Rows { rows, .. }) => Some(rows),
            _ => None,
        }
    }

    /// Point reads by primary key (the `find` fast path, key lists, index
    /// lookups) of rows in columnar blocks read them from the block's
    /// fields: the same rows as from row blocks, through overwrites,
    /// deletes and newer versions in memtables and row tables.
    #[test]
    fn point_reads_of_columnar_rows_equal_those_of_row_blocks() {
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let dbs: Vec<crate::Database> = dirs
            .iter()
            .zip([false, true])
            .map(|(d, columnar)| {
                crate::Database::open(d.path(), crate::Options::durable().with_columnar(columnar))
                    .unwrap()
            })
            .collect();
        let run = |q: &str| {
            for db in &dbs {
                db.execute(q).unwrap();
            }
        };
        run("create table t { id: int, a: int, s: string, f: float, b: bool, j: json }");
        run("create index t_s on t (s)");
        let values: Vec<String> = (0..500)
            .map(|i| {
                let a = if i % 7 == 0 {
                    "null".to_owned()
                } else {
                    (i * 3).to_string()
                };
                format!(
                    r#"{{ id: {i}, a: {a}, s: "s{}", f: {i}.25, b: {}, j: {{"k": [{i}]}} }}"#,
                    i % 50,
                    i % 3 == 0
                )
            })
            .collect();
        run(&format!("insert t [ {} ]", values.join(", ")));
        let check = |stage: &str| {
            let mut queries: Vec<String> = (0..520)
                .step_by(7)
                .map(|i| format!("find t where id = {i}"))
                .collect();
            queries.extend([
                "select * from t where id in (0, 3, 99, 250, 499, 600)".to_owned(),
                "select s, a, j from t where id in (1, 2, 7, 77, 300)".to_owned(),
                "select count(*) from t where id in (5, 6, 1000)".to_owned(),
                "find t where s = \"s7\"".to_owned(),
                "select id, b from t where s = \"s13\"".to_owned(),
            ]);
            for q in &queries {
                let want = rows_of(&dbs[0], q);
                assert!(want.is_some(), "{q} fails on row blocks");
                assert_eq!(rows_of(&dbs[1], q), want, "{q} ({stage})");
            }
        };
        for db in &dbs {
            db.kv().compact().unwrap();
        }
        assert!(has_blocks(&dbs[1]), "compaction writes columnar blocks");
        check("compacted");
        run("update t set a = a + 1, s = \"u\" where id < 100");
        run("delete t where id >= 400 and id < 450");
        check("newer versions in the memtable");
        for db in &dbs {
            db.kv().checkpoint().unwrap();
        }
        run("update t set f = 0.5 where id >= 200 and id < 220");
        check("newer versions in level 0 and the memtable");
    }

    #[test]
    fn the_switch_stores_rows_by_column_and_either_build_reads_them() {
        let dir = tempfile::tempdir().unwrap();
        let open = |columnar| {
            crate::Database::open(
                dir.path(),
                crate::Options::durable().with_columnar(columnar),
            )
        };
        let db = open(false).unwrap();
        db.execute("create table t { id: int, a: int, s: string, f: float, j: json }")
            .unwrap();
        let values: Vec<String> = (0..300)
            .map(|i| {
                let a = if i % 7 == 0 {
                    "null".to_owned()
                } else {
                    (i * 3).to_string()
                };
                format!(r#"{{ id: {i}, a: {a}, s: "s{i}", f: {i}.5, j: {{"k": {i}}} }}"#)
            })
            .collect();
        db.execute(&format!("insert t [ {} ]", values.join(", ")))
            .unwrap();
        let want = all_rows(&db);
        assert_eq!(want.len(), 300);
        db.kv().compact().unwrap();
        assert!(
            !has_blocks(&db),
            "without the switch, compaction writes row blocks"
        );
        db.close().unwrap();
        // Row blocks written without the switch read the same with it, and
        // its compaction rewrites them by column.
        let db = open(true).unwrap();
        assert_eq!(all_rows(&db), want);
        db.kv().compact().unwrap();
        assert!(
            has_blocks(&db),
            "with the switch, compaction writes columnar blocks"
        );
        assert_eq!(all_rows(&db), want);
        db.close().unwrap();
        // Columnar blocks are refused, not misread, without the switch.
        let err = open(false).err().expect("columnar files need the layout");
        assert!(err.to_string().contains("value layout"), "{err}");
        let db = open(true).unwrap();
        assert_eq!(all_rows(&db), want);
    }
}
