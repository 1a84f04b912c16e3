//! The catalog: which tables and indexes exist, their ids, columns and
//! types. It is persisted in the reserved key range under
//! [`keys::CATALOG_PREFIX`] in the same store as the data, so a DDL
//! statement is one atomic write batch, and it is loaded whole at open.
//!
//! Catalog keys (after the 4-byte prefix):
//! - `t` + table name → the table: `{"id", "name", "columns": [[name, type], ..]}`
//! - `i` + index name → the index: `{"id", "name", "table", "column"}`
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

use crate::ast::{ColumnDef, ColumnType};
use crate::error::{Error, ErrorCode, Result};
use crate::keys::CATALOG_PREFIX;
use crate::value::Value;

/// A table: its id (the key prefix of its rows) and columns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub id: u32,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    /// Position of the `id` column.
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

/// The stored form of a table definition.
pub(crate) fn encode_table(id: u32, name: &str, columns: &[ColumnDef]) -> Vec<u8> {
    let cols: Vec<_> = columns
        .iter()
        .map(|c| json!([c.name, c.ty.name()]))
        .collect();
    json!({"id": id, "name": name, "columns": cols})
        .to_string()
        .into_bytes()
}

/// The stored form of an index definition.
pub(crate) fn encode_index(id: u32, name: &str, table: &str, column: &str) -> Vec<u8> {
    json!({"id": id, "name": name, "table": table, "column": column})
        .to_string()
        .into_bytes()
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
        columns.push(ColumnDef {
            name: cname.to_string(),
            ty,
        });
    }
    let pk = columns
        .iter()
        .position(|c| c.name == "id" && c.ty == ColumnType::Int)
        .ok_or_else(|| bad(name))?;
    Ok(Table {
        id,
        name: name.to_string(),
        columns,
        pk,
        indexes: Vec::new(),
    })
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
                Some(&INDEX) => indexes.push(decode_index(&v)?),
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
        for (id, name, table, column) in indexes {
            cat.add_index(id, name, table, column)?;
        }
        Ok(cat)
    }

    /// Adds an index to the in-memory catalog (its table must exist).
    pub(crate) fn add_index(
        &mut self,
        id: u32,
        name: String,
        table: String,
        column: String,
    ) -> Result<Arc<Index>> {
        let t = self.tables.get(&table).ok_or_else(|| bad(&name))?;
        let pos = t.column(&column).ok_or_else(|| bad(&name))?;
        let idx = Arc::new(Index {
            id,
            name: name.clone(),
            table: table.clone(),
            column,
            pos,
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
