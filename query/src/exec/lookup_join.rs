//! `lookup join`: for each input row, the rows of the joined table whose
//! primary key (or indexed column) equals the row's key, fetched from the
//! snapshot one key at a time. Output is input ++ the joined table's
//! columns, then the join's filter.
//!
//! Keys convert as a scan's key access converts them
//! ([`key_value`]): to the joined column's type (`2.0` finds primary key
//! `2`, `2` finds float `2.0`); a key of another type, a null or a json
//! value finds nothing. Output order
//! is input order, and for each input row its matches in primary-key
//! order.

use std::sync::Arc;

use fasty_wal::{Field, PointRead, Snapshot};

use super::{BoxOp, ExecCtx, Kernel, Node, Operator, Predicate};
use crate::ast::ColumnType;
use crate::catalog::Table;
use crate::error::{Error, ErrorCode, Result};
use crate::exec::keys::index_pks;
use crate::exec::scan::point_field_ref;
use crate::keys;
use crate::limits::{Limits, Meter};
use crate::plan::bound::BoundExpr;
use crate::plan::choose::key_value;
use crate::plan::physical::{Lookup, Physical};
use crate::row::RowReader;
use crate::vector::{Chunk, Data, VECTOR_SIZE, Vector, VectorBuilder, gather};

/// The operator of the lookup join at `node`, joining `input`.
pub(crate) fn operator<'a>(
    node: Node<'a>,
    ctx: &'a ExecCtx<'a>,
    input: BoxOp<'a>,
) -> Result<BoxOp<'a>> {
    let Physical::LookupJoin {
        table,
        via,
        key,
        columns,
        filter,
        ..
    } = node.plan
    else {
        return Err(Error::query(
            ErrorCode::Unsupported,
            "internal: not a lookup join",
        ));
    };
    Ok(Box::new(LookupJoin::new(
        input, ctx.snap, table, via, key, columns, filter, ctx.limits,
    )?))
}

/// The input chunk being joined.
struct Joining {
    /// The rows.
    chunk: Chunk,
    /// Their keys.
    keys: Arc<Vector>,
    /// The row in play being joined (an index among the rows in play).
    i: usize,
    /// Primary keys of its matches not yet fetched.
    pks: Vec<i64>,
    /// The next of `pks` to fetch.
    at: usize,
}

/// The lookup join operator.
pub(crate) struct LookupJoin<'a> {
    /// The rows before.
    input: BoxOp<'a>,
    /// The statement's view of the data.
    snap: &'a Snapshot,
    /// The joined table.
    table: &'a Table,
    /// Its primary key or an index.
    via: &'a Lookup,
    /// The key over the input.
    key: Kernel,
    /// The joined table's columns taken, by position.
    columns: &'a [usize],
    /// Conjuncts over input ++ columns.
    filter: Predicate,
    /// The statement's limits.
    limits: &'a Limits,
    /// Lookups done, for the limits.
    meter: Meter<'a>,
    /// The input chunk being joined.
    cur: Option<Joining>,
}

impl<'a> LookupJoin<'a> {
    /// Joins `input` on `key` with `table`'s rows found `via` its primary
    /// key or an index, taking its `columns`, then filters by `filter`
    /// (over input ++ columns).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        input: BoxOp<'a>,
        snap: &'a Snapshot,
        table: &'a Table,
        via: &'a Lookup,
        key: &BoundExpr,
        columns: &'a [usize],
        filter: &[BoundExpr],
        limits: &'a Limits,
    ) -> Result<LookupJoin<'a>> {
        Ok(LookupJoin {
            input,
            snap,
            table,
            via,
            key: Kernel::compile(key)?,
            columns,
            filter: Predicate::compile(filter)?,
            limits,
            meter: Meter::new(limits),
            cur: None,
        })
    }

    /// The primary keys the key at position `p` of `v` finds, ascending.
    fn find(&mut self, v: &Vector, p: usize) -> Result<Vec<i64>> {
        if v.is_null(p) {
            return Ok(Vec::new());
        }
        match self.via {
            Lookup::Pk => {
                if let Data::Int(x) = v.data() {
                    return Ok(vec![x[p]]);
                }
                Ok(match key_value(v.value(p)?, ColumnType::Int) {
                    Some(crate::value::Value::Int(pk)) => vec![pk],
                    _ => Vec::new(),
                })
            }
            Lookup::Index(ix) => {
                let ty = self
                    .table
                    .columns
                    .get(ix.pos)
                    .map(|c| c.ty)
                    .ok_or_else(|| Error::corrupt("index on a column its table lacks"))?;
                match key_value(v.value(p)?, ty) {
                    Some(k) => {
                        index_pks(self.snap, ix.id, std::slice::from_ref(&k), &mut self.meter)
                    }
                    None => Ok(Vec::new()),
                }
            }
        }
    }

    /// The stored row of primary key `pk`, if there is one: its bytes, or
    /// where it lies in a columnar block (read by reference, not joined).
    fn get(&self, pk: i64) -> Result<Option<PointRead>> {
        self.snap
            .get_ref(&keys::row_key(self.table.id, pk))
            .map_err(|e| Error::Storage(e.into()))
    }

    /// The next input chunk to join; `None` at the end.
    fn next_input(&mut self) -> Result<Option<Joining>> {
        while let Some(chunk) = self.input.next()? {
            self.limits.check()?;
            if chunk.is_empty() {
                continue;
            }
            let keys = self.key.eval(&chunk)?;
            return Ok(Some(Joining {
                chunk,
                keys,
                i: 0,
                pks: Vec::new(),
                at: 0,
            }));
        }
        Ok(None)
    }

    /// The joined table's columns of `rows`, as vectors.
    fn decode(&self, rows: &[PointRead]) -> Result<Vec<Arc<Vector>>> {
        let mut cols: Vec<VectorBuilder> = self
            .columns
            .iter()
            .map(|&c| match self.table.columns.get(c) {
                Some(def) => VectorBuilder::typed(def.ty, rows.len()),
                None => VectorBuilder::with_capacity(rows.len()),
            })
            .collect();
        for read in rows {
            match read {
                PointRead::Row(bytes) => {
                    let mut r = RowReader::new(bytes)?;
                    for (b, &c) in cols.iter_mut().zip(self.columns) {
                        b.push_ref(r.get(c)?)?;
                    }
                }
                PointRead::Block { block, row } => {
                    let ncols = self.table.columns.len();
                    let utf8 = block.text_is_utf8();
                    block.with_row_fields(*row, |fields| {
                        if fields.len() > ncols {
                            return Err(Error::corrupt(format!(
                                "corrupt row: {} columns stored but the table has {ncols}",
                                fields.len()
                            )));
                        }
                        for (b, &c) in cols.iter_mut().zip(self.columns) {
                            let field = fields.get(c).copied().unwrap_or(Field::Null);
                            b.push_ref(point_field_ref(field, utf8)?)?;
                        }
                        Ok(())
                    })?;
                }
            }
        }
        Ok(cols.into_iter().map(|b| Arc::new(b.finish())).collect())
    }
}

impl Operator for LookupJoin<'_> {
    fn next(&mut self) -> Result<Option<Chunk>> {
        loop {
            self.limits.check()?;
            let mut cur = match self.cur.take() {
                Some(c) => c,
                None => match self.next_input()? {
                    Some(c) => c,
                    None => return Ok(None),
                },
            };
            let count = cur.chunk.count();
            let mut positions = Vec::new();
            let mut rows = Vec::new();
            while rows.len() < VECTOR_SIZE && cur.i < count {
                if cur.at == 0 && cur.pks.is_empty() {
                    let p = cur.chunk.position(cur.i);
                    cur.pks = self.find(&cur.keys, p)?;
                }
                let Some(&pk) = cur.pks.get(cur.at) else {
                    cur.i += 1;
                    cur.pks.clear();
                    cur.at = 0;
                    continue;
                };
                cur.at += 1;
                self.meter.tick()?;
                if let Some(read) = self.get(pk)? {
                    positions.push(cur.chunk.position(cur.i) as u32);
                    rows.push(read);
                }
            }
            let out = if rows.is_empty() {
                None
            } else {
                let mut columns = Vec::with_capacity(cur.chunk.columns.len() + self.columns.len());
                for c in &cur.chunk.columns {
                    columns.push(Arc::new(gather(c, &positions)?));
                }
                columns.extend(self.decode(&rows)?);
                Some(Chunk {
                    columns,
                    len: rows.len(),
                    sel: None,
                })
            };
            if cur.i < count {
                self.cur = Some(cur);
            }
            if let Some(out) = out {
                let out = self.filter.apply(out)?;
                if !out.is_empty() {
                    return Ok(Some(out));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
