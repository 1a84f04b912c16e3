//! Test support for the join and aggregate operators: a database in
//! memory, its tables read into chunks (a stand-in for the scan
//! operator), and the oracle's answers to compare with
//! ([`rows_of`], from `exec/oracle.rs`).

use std::sync::Arc;

use super::Operator;
use crate::catalog::{Catalog, Table};
use crate::database::{Database, Options};
use crate::error::Result;
use crate::exec::keys::table_end;
pub(crate) use crate::exec::oracle::rows_of;
use crate::keys;
use crate::plan::bound::BoundExpr;
use crate::row::RowReader;
use crate::value::Value;
use crate::vector::{Chunk, VectorBuilder};

/// A database in memory with these statements run.
pub(crate) fn db(statements: &[String]) -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path(), Options::memory()).unwrap();
    for s in statements {
        db.execute(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    (dir, db)
}

/// Table `name` as of now.
pub(crate) fn table(db: &Database, name: &str) -> Arc<Table> {
    let cat = Catalog::load(&db.kv().snapshot()).unwrap();
    cat.table(name).unwrap().clone()
}

/// Every row of `t` (all its columns), in primary-key order, as chunks
/// of at most `size` rows, split into `parts` runs of about equal length.
pub(crate) fn scan(db: &Database, t: &Table, size: usize, parts: usize) -> Vec<Vec<Chunk>> {
    let snap = db.kv().snapshot();
    let mut rows = Vec::new();
    for pair in snap.scan(keys::table_prefix(t.id).to_vec()..table_end(t.id)) {
        let (_, v) = pair.unwrap();
        rows.push(v);
    }
    let per_part = rows.len().div_ceil(parts.max(1)).max(1);
    let mut out = Vec::new();
    for part in rows.chunks(per_part) {
        let mut chunks = Vec::new();
        for c in part.chunks(size.max(1)) {
            let mut cols: Vec<VectorBuilder> = t
                .columns
                .iter()
                .map(|d| VectorBuilder::typed(d.ty, c.len()))
                .collect();
            for bytes in c {
                let mut r = RowReader::new(bytes).unwrap();
                for (i, b) in cols.iter_mut().enumerate() {
                    b.push_ref(r.get(i).unwrap()).unwrap();
                }
            }
            chunks.push(Chunk::new(
                cols.into_iter().map(|b| Arc::new(b.finish())).collect(),
                c.len(),
            ));
        }
        out.push(chunks);
    }
    while out.len() < parts {
        out.push(Vec::new());
    }
    out
}

/// Every row of `t` as chunks of at most `size` rows, in the parts of
/// primary keys a parallel scan splits it into ([`crate::exec::partitions`]),
/// or in one part when it would not be split.
pub(crate) fn scan_parts(db: &Database, t: &Table, size: usize) -> Vec<Vec<Chunk>> {
    let snap = db.kv().snapshot();
    let parts = rayon::current_num_threads() * 4;
    let ranges = crate::exec::keys::split_ranges(&snap, t.id, parts)
        .unwrap()
        .filter(|r| r.len() > 1);
    let Some(ranges) = ranges else {
        return scan(db, t, size, 1);
    };
    let all = scan(db, t, 1, 1).into_iter().flatten();
    let mut out: Vec<Vec<Chunk>> = vec![Vec::new(); ranges.len()];
    let pk = t.pk;
    for c in all {
        let Value::Int(id) = c.columns[pk].value(0).unwrap() else {
            panic!("a row without id")
        };
        let i = ranges
            .iter()
            .position(|&(lo, hi)| lo <= id && id <= hi)
            .unwrap();
        out[i].push(c);
    }
    // Regroup each part's one-row chunks into chunks of `size`.
    out.into_iter()
        .map(|part| {
            part.chunks(size.max(1))
                .map(|cs| {
                    let cols = (0..t.columns.len())
                        .map(|col| {
                            let mut b = VectorBuilder::with_capacity(cs.len());
                            for c in cs {
                                b.push_from(&c.columns[col], 0).unwrap();
                            }
                            Arc::new(b.finish())
                        })
                        .collect();
                    Chunk::new(cols, cs.len())
                })
                .collect()
        })
        .collect()
}

/// All of a table's chunks in one run.
pub(crate) fn scan_all(db: &Database, t: &Table, size: usize) -> Vec<Chunk> {
    scan(db, t, size, 1).into_iter().flatten().collect()
}

/// Column `name` of `t`, as an expression over all of `t`'s columns
/// shifted right by `offset` (the other side of a join before it).
pub(crate) fn col(t: &Table, name: &str, offset: usize) -> BoundExpr {
    let i = t.column(name).unwrap();
    BoundExpr::column(i + offset, Some(t.columns[i].ty), name)
}

/// Every row `op` produces, or the error code it stops with.
pub(crate) fn drain_codes(
    op: &mut dyn Operator,
) -> std::result::Result<Vec<Vec<Value>>, crate::ErrorCode> {
    let mut run = || -> Result<Vec<Vec<Value>>> {
        let mut rows = Vec::new();
        while let Some(c) = op.next()? {
            rows.extend(c.to_rows()?);
        }
        Ok(rows)
    };
    run().map_err(|e| e.code())
}
