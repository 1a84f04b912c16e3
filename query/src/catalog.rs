//! The catalog: which tables and indexes exist, their ids, columns and
//! types. It is persisted in the reserved key range under
//! [`keys::CATALOG_PREFIX`] in the same store as the data, so a DDL
//! statement is one atomic write batch, and it is loaded whole at open.
//!
//! Catalog keys (after the 4-byte prefix):
//! - `t` + table name → the table: `{"id", "name", "columns": [[name, type], ..]}`,
//!   since format 2 with an optional `"pk": column` (absent: `id`) and a
//!   column optionally `[name, type, {"not_null": true, "default": json}]`
//! - `i` + index name → the index: `{"id", "name", "table", "column"}`,
//!   since format 2 with an optional `"unique": true`
//! - `v` → the catalog format (one byte, [`FORMAT`]); absent means 1.
//!   Every DDL statement writes it, so a reader that knows only format 1
//!   (which refuses unknown entry kinds) refuses the directory instead of
//!   ignoring constraints it does not know, and this reader refuses a
//!   format newer than its own.
//! - `n` → the next free id (8 bytes, big-endian), shared by tables and
//!   indexes so their key prefixes never collide
//! - `d` + id (4 bytes BE) → a dropped table's or index's id whose data is
//!   still being deleted; the purge runs after the drop and again at open
//!   until done, so dropped data can never come back under a new name (ids
//!   are never reused either).
//!
//! Definitions are JSON text: small, rare, and readable in a hex dump.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;

use crate::ast::{ColumnDef, ColumnType, Literal};
use crate::error::{Error, ErrorCode, Result};
use crate::keys::CATALOG_PREFIX;
use crate::value::Value;

/// A table: its id (the key prefix of its rows) and columns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub id: u32,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Position of the primary-key column (`id` unless declared).
    pub pk: usize,
    /// Indexes on this table.
    pub indexes: Vec<Arc<Index>>,
}

impl Table {
    /// Position of column `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Checks `v` against column `pos`, converting an int for a float
    /// column: what every write stores.
    pub(crate) fn coerce(&self, pos: usize, v: Value) -> Result<Value> {
        let col = &self.columns[pos];
        Ok(match (col.ty, v) {
            (_, Value::Null) => Value::Null,
            (ColumnType::Int, v @ Value::Int(_)) => v,
            (ColumnType::Float, Value::Int(i)) => Value::Float(i as f64),
            (ColumnType::Float, v @ Value::Float(_)) => v,
            (ColumnType::String, v @ Value::String(_)) => v,
            (ColumnType::Bool, v @ Value::Bool(_)) => v,
            (ColumnType::Json, v @ Value::Json(_)) => v,
            (ty, v) => {
                return Err(Error::query(
                    ErrorCode::TypeMismatch,
                    format!(
                        "column \"{}\" of table \"{}\" is {}, got {} {}",
                        col.name,
                        self.name,
                        ty.name(),
                        v.type_name(),
                        short(&v)
                    ),
                ));
            }
        })
    }
}

/// A secondary index on one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Index {
    pub id: u32,
    pub name: String,
    pub table: String,
    pub column: String,
    /// Position of the indexed column in the table.
    pub pos: usize,
    /// No two rows hold the same non-null value in the column.
    pub unique: bool,
}

/// Every table and index, as of one moment. Immutable: DDL builds a new
/// one and swaps it in, so a statement plans against a consistent view.
#[derive(Debug, Clone, Default)]
pub(crate) struct Catalog {
    pub tables: HashMap<String, Arc<Table>>,
    pub indexes: HashMap<String, Arc<Index>>,
    pub next_id: u32,
    /// Ids whose data is still to be deleted.
    pub dropped: Vec<u32>,
}

pub(crate) const TABLE: u8 = b't';
pub(crate) const INDEX: u8 = b'i';
pub(crate) const NEXT_ID: u8 = b'n';
pub(crate) const DROPPED: u8 = b'd';
pub(crate) const VERSION: u8 = b'v';

/// The catalog format this release writes and the newest it reads.
/// 1: tables keyed by `id`, no constraints; 2: declared primary keys,
/// `not null`, defaults and unique indexes.
pub(crate) const FORMAT: u8 = 2;

/// The key of the catalog format byte.
pub(crate) fn version_key() -> Vec<u8> {
    catalog_key(VERSION, b"")
}

/// The catalog key of kind `tag` with suffix `name`.
pub(crate) fn catalog_key(tag: u8, name: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(5 + name.len());
    k.extend_from_slice(&CATALOG_PREFIX);
    k.push(tag);
    k.extend_from_slice(name);
    k
}

pub(crate) fn table_key(name: &str) -> Vec<u8> {
    catalog_key(TABLE, name.as_bytes())
}

pub(crate) fn index_key(name: &str) -> Vec<u8> {
    catalog_key(INDEX, name.as_bytes())
}

pub(crate) fn next_id_key() -> Vec<u8> {
    catalog_key(NEXT_ID, b"")
}

pub(crate) fn dropped_key(id: u32) -> Vec<u8> {
    catalog_key(DROPPED, &id.to_be_bytes())
}

/// The stored form of a table definition: `pk` is the key column's
/// position (written only when it is not the column `id`, so a table of
/// the first format is stored as it was).
pub(crate) fn encode_table(id: u32, name: &str, columns: &[ColumnDef], pk: usize) -> Vec<u8> {
    let cols: Vec<_> = columns
        .iter()
        .map(|c| {
            let mut extra = serde_json::Map::new();
            if c.not_null {
                extra.insert("not_null".into(), json!(true));
            }
            if let Some(d) = &c.default {
                extra.insert("default".into(), crate::expr::literal_value(d).to_json());
            }
            if extra.is_empty() {
                json!([c.name, c.ty.name()])
            } else {
                json!([c.name, c.ty.name(), extra])
            }
        })
        .collect();
    let mut t = json!({"id": id, "name": name, "columns": cols});
    if let Some(c) = columns.get(pk).filter(|c| c.name != "id") {
        t["pk"] = json!(c.name);
    }
    t.to_string().into_bytes()
}

/// The stored form of an index definition.
pub(crate) fn encode_index(
    id: u32,
    name: &str,
    table: &str,
    column: &str,
    unique: bool,
) -> Vec<u8> {
    let mut ix = json!({"id": id, "name": name, "table": table, "column": column});
    if unique {
        ix["unique"] = json!(true);
    }
    ix.to_string().into_bytes()
}

fn parse_type(s: &str) -> Option<ColumnType> {
    Some(match s {
        "int" => ColumnType::Int,
        "float" => ColumnType::Float,
        "string" => ColumnType::String,
        "bool" => ColumnType::Bool,
        "json" => ColumnType::Json,
        _ => return None,
    })
}

fn bad(what: &str) -> Error {
    Error::corrupt(format!("catalog entry {what} does not decode"))
}

pub(crate) fn decode_table(bytes: &[u8]) -> Result<Table> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| bad("of a table"))?;
    let id = v["id"]
        .as_u64()
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| bad("of a table"))?;
    let name = v["name"].as_str().ok_or_else(|| bad("of a table"))?;
    let mut columns = Vec::new();
    for c in v["columns"].as_array().ok_or_else(|| bad(name))? {
        let (Some(cname), Some(ty)) = (c[0].as_str(), c[1].as_str().and_then(parse_type)) else {
            return Err(bad(name));
        };
        let mut col = ColumnDef::new(cname, ty);
        if let Some(extra) = c.get(2) {
            let extra = extra.as_object().ok_or_else(|| bad(name))?;
            col.not_null = extra.get("not_null").and_then(|b| b.as_bool()) == Some(true);
            if let Some(d) = extra.get("default") {
                coerce_to(ty, Value::from_json(d.clone())).ok_or_else(|| bad(name))?;
                if !d.is_null() {
                    col.default = Some(json_literal(d));
                }
            }
        }
        columns.push(col);
    }
    let pk_name = match v.get("pk") {
        None => "id",
        Some(p) => p.as_str().ok_or_else(|| bad(name))?,
    };
    let pk = columns
        .iter()
        .position(|c| c.name == pk_name && c.ty == ColumnType::Int)
        .ok_or_else(|| bad(name))?;
    columns[pk].primary_key = true;
    Ok(Table {
        id,
        name: name.to_string(),
        columns,
        pk,
        indexes: Vec::new(),
    })
}

/// A stored default as the literal it was declared as (serde_json bounds
/// the nesting of what it parses).
fn json_literal(j: &serde_json::Value) -> Literal {
    match j {
        serde_json::Value::Null => Literal::Null,
        serde_json::Value::Bool(b) => Literal::Bool(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Literal::Int(i),
            None => n.as_f64().map_or(Literal::Null, Literal::Float),
        },
        serde_json::Value::String(s) => Literal::String(s.clone()),
        serde_json::Value::Array(items) => Literal::Array(items.iter().map(json_literal).collect()),
        serde_json::Value::Object(m) => Literal::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), json_literal(v)))
                .collect(),
        ),
    }
}

/// `v` as a value of type `ty` (an int for a float column converted),
/// or `None` if it is of another type.
fn coerce_to(ty: ColumnType, v: Value) -> Option<Value> {
    Some(match (ty, v) {
        (_, Value::Null) => Value::Null,
        (ColumnType::Int, v @ Value::Int(_)) => v,
        (ColumnType::Float, Value::Int(i)) => Value::Float(i as f64),
        (ColumnType::Float, v @ Value::Float(_)) => v,
        (ColumnType::String, v @ Value::String(_)) => v,
        (ColumnType::Bool, v @ Value::Bool(_)) => v,
        (ColumnType::Json, v @ Value::Json(_)) => v,
        _ => return None,
    })
}

/// Whether the stored index definition `bytes` is of a unique index
/// (format 2; false when it does not say).
pub(crate) fn index_is_unique(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("unique").and_then(|u| u.as_bool()))
        == Some(true)
}

pub(crate) fn decode_index(bytes: &[u8]) -> Result<(u32, String, String, String)> {
    let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| bad("of an index"))?;
    let id = v["id"]
        .as_u64()
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| bad("of an index"))?;
    let field = |f: &str| {
        v[f].as_str()
            .map(str::to_string)
            .ok_or_else(|| bad("of an index"))
    };
    Ok((id, field("name")?, field("table")?, field("column")?))
}

impl Catalog {
    /// Loads the catalog from the reserved key range.
    pub(crate) fn load(snap: &fasty_wal::Snapshot) -> Result<Catalog> {
        let mut cat = Catalog {
            next_id: 1,
            ..Catalog::default()
        };
        let mut indexes = Vec::new();
        let end = crate::keys::table_prefix(1);
        for pair in snap.scan(&CATALOG_PREFIX[..]..&end[..]) {
            let (k, v) = pair.map_err(fasty_wal::Error::from)?;
            match k.get(4) {
                Some(&TABLE) => {
                    let t = decode_table(&v)?;
                    cat.tables.insert(t.name.clone(), Arc::new(t));
                }
                Some(&INDEX) => indexes.push((decode_index(&v)?, index_is_unique(&v))),
                Some(&VERSION) => {
                    let format = v.first().copied().unwrap_or(0);
                    if v.len() != 1 || format > FORMAT {
                        return Err(Error::corrupt(format!(
                            "the data directory was written by a newer fasty: catalog format {format}, this release reads up to {FORMAT}; open it with that release or a newer one"
                        )));
                    }
                }
                Some(&NEXT_ID) => {
                    let b: [u8; 8] = v[..].try_into().map_err(|_| bad("next id"))?;
                    cat.next_id =
                        u32::try_from(u64::from_be_bytes(b)).map_err(|_| bad("next id"))?;
                }
                Some(&DROPPED) => {
                    let b: [u8; 4] = k[5..].try_into().map_err(|_| bad("dropped id"))?;
                    cat.dropped.push(u32::from_be_bytes(b));
                }
                _ => return Err(bad("of an unknown kind")),
            }
        }
        for ((id, name, table, column), unique) in indexes {
            cat.add_index_with(id, name, table, column, unique)?;
        }
        Ok(cat)
    }

    /// Adds an index to the in-memory catalog (its table must exist), a
    /// unique one when `unique`.
    pub(crate) fn add_index_with(
        &mut self,
        id: u32,
        name: String,
        table: String,
        column: String,
        unique: bool,
    ) -> Result<Arc<Index>> {
        let t = self.tables.get(&table).ok_or_else(|| bad(&name))?;
        let pos = t.column(&column).ok_or_else(|| bad(&name))?;
        let idx = Arc::new(Index {
            id,
            name: name.clone(),
            table: table.clone(),
            column,
            pos,
            unique,
        });
        let mut t = (**t).clone();
        t.indexes.push(idx.clone());
        self.tables.insert(table, Arc::new(t));
        self.indexes.insert(name, idx.clone());
        Ok(idx)
    }

    /// The table `name`, or `unknown_table` with a hint.
    pub(crate) fn table(&self, name: &str) -> Result<&Arc<Table>> {
        self.tables.get(name).ok_or_else(|| {
            let hint = crate::hint::closest(name, self.tables.keys().map(String::as_str))
                .map(|c| format!("did you mean table \"{c}\"?"));
            Error::hinted(
                ErrorCode::UnknownTable,
                format!("unknown table \"{name}\""),
                hint,
            )
        })
    }

    /// Table names, sorted.
    pub(crate) fn table_names(&self) -> Vec<String> {
        let mut v: Vec<_> = self.tables.keys().cloned().collect();
        v.sort();
        v
    }
}

/// A value as a short text for an error message (at most 40 characters).
fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => {
            let mut out = String::new();
            let _ = crate::ast::write_string(&mut out, s);
            out
        }
        v => v.to_string(),
    };
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A catalog over `entries` (key, value) written straight to a store.
    fn load(entries: &[(Vec<u8>, Vec<u8>)]) -> Result<Catalog> {
        let db =
            fasty_wal::Db::open("unused", fasty_wal::Options::memory()).map_err(Error::Storage)?;
        let mut batch = fasty_wal::WriteBatch::new();
        for (k, v) in entries {
            batch.put(k, v);
        }
        db.write(batch).map_err(Error::Storage)?;
        Catalog::load(&db.snapshot())
    }

    /// Entries exactly as the first catalog format wrote them (no `pk`,
    /// no constraints, no format byte) still decode, with `id` the key.
    #[test]
    fn first_format_entries_decode() {
        let table =
            br#"{"columns":[["name","string"],["id","int"],["age","int"]],"id":3,"name":"users"}"#;
        let index = br#"{"column":"age","id":4,"name":"idx_age","table":"users"}"#;
        let cat = load(&[
            (table_key("users"), table.to_vec()),
            (index_key("idx_age"), index.to_vec()),
            (next_id_key(), 5u64.to_be_bytes().to_vec()),
        ])
        .unwrap();
        let t = cat.table("users").unwrap();
        assert_eq!(t.pk, 1);
        assert!(t.columns[1].primary_key);
        assert!(t.columns.iter().all(|c| !c.not_null && c.default.is_none()));
        assert_eq!(t.indexes.len(), 1);
        assert!(!t.indexes[0].unique);
        assert_eq!(t.indexes[0].pos, 2);
        // A table without constraints keyed by `id` is stored as before.
        let cols: Vec<ColumnDef> = t
            .columns
            .iter()
            .map(|c| ColumnDef::new(c.name.clone(), c.ty))
            .collect();
        assert_eq!(encode_table(3, "users", &cols, 1), table.to_vec());
        assert_eq!(
            encode_index(4, "idx_age", "users", "age", false),
            index.to_vec()
        );
    }

    #[test]
    fn constraints_round_trip() {
        let mut cols = vec![
            ColumnDef::new("a", ColumnType::String),
            ColumnDef::new("sku", ColumnType::Int),
            ColumnDef::new("f", ColumnType::Float),
            ColumnDef::new("j", ColumnType::Json),
        ];
        cols[0].not_null = true;
        cols[0].default = Some(Literal::String("x\"y".into()));
        cols[2].default = Some(Literal::Float(2.5));
        cols[3].default = Some(Literal::Array(vec![Literal::Int(1)]));
        let bytes = encode_table(9, "p", &cols, 1);
        let t = decode_table(&bytes).unwrap();
        assert_eq!(t.pk, 1);
        assert!(t.columns[0].not_null && !t.columns[1].not_null);
        assert_eq!(t.columns[0].default, cols[0].default);
        assert_eq!(t.columns[2].default, cols[2].default);
        assert_eq!(t.columns[3].default, cols[3].default);
        assert!(index_is_unique(&encode_index(1, "i", "p", "a", true)));
        // A key that names a missing or non-int column does not decode.
        let bad = br#"{"id":3,"name":"p","pk":"a","columns":[["a","string"]]}"#;
        assert!(decode_table(bad).is_err());
    }

    /// A directory whose catalog format is newer than this release's is
    /// refused with a message that says so; the current one opens.
    #[test]
    fn newer_format_is_refused() {
        let err = load(&[(version_key(), vec![FORMAT + 1])]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::Corruption);
        assert!(err.to_string().contains("newer fasty"), "{err}");
        assert!(load(&[(version_key(), vec![FORMAT])]).is_ok());
        assert!(load(&[(version_key(), vec![])]).is_err());
    }
}
