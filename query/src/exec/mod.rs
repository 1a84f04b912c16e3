//! The vectorised executor: a physical plan ([`crate::plan::physical`])
//! becomes a tree of [`Operator`]s, one per plan node, that hand each other
//! [`Chunk`]s of up to [`crate::vector::VECTOR_SIZE`] rows. Each operator
//! lives in a file of its own in this folder, named after its node.
//!
//! Operators pull: a consumer calls its input's [`Operator::next`] until
//! it returns `None`. Operators that need all their input before they
//! can answer (aggregate, sort, top-k, the build side of a hash join) run
//! their input split into key ranges on every core ([`partitions`]): one
//! copy of the input's pipeline per range, each in a rayon task, merged
//! at the end.
//!
//! Every operator checks the statement's limits (deadline, cancel flag,
//! memory) at least once per chunk it produces.
//!
//! The write operators (`insert.rs`, `update.rs`, `delete.rs`) end a plan
//! and produce no chunks: each returns one `WriteBatch` (rows and index
//! entries, built by `index_entries.rs`) that `Database` writes under its
//! locks.

mod filter;
mod hash_aggregate;
mod hash_join;
mod kernel;
pub(crate) mod keys;
mod limit;
mod lookup_join;
#[cfg(test)]
pub(crate) mod oracle;
mod project;
mod scan;
mod scan_aggregate;
mod sort;
#[cfg(test)]
mod test_tables;
#[cfg(test)]
mod tests;
mod top_k;

use std::sync::atomic::Ordering;
use std::time::Instant;

use fasty_wal::Snapshot;

pub(crate) use hash_join::estimate_rows;
pub(crate) use kernel::{Kernel, Predicate};
pub(crate) use scan::decode_point_read;

pub(crate) use crate::profile::{NodeStats, Profile};

use crate::error::{Error, ErrorCode, Result};
use crate::limits::Limits;
use crate::plan::physical::{Access, Physical};
use crate::stream::Emitter;
use crate::vector::Chunk;

// The write path: operators that end a plan with a batch, and the one
// owner of index maintenance.
pub(crate) mod delete;
pub(crate) mod index_entries;
pub(crate) mod insert;
#[cfg(test)]
pub(crate) mod row_source;
pub(crate) mod update;
#[cfg(test)]
mod write_tests;

/// A running operator.
pub(crate) trait Operator {
    /// The next chunk of rows, or `None` once there are no more. A chunk
    /// may have no row in play (a filter that rejected all of them);
    /// consumers skip those.
    fn next(&mut self) -> Result<Option<Chunk>>;
}

/// A boxed operator borrowing its plan and context for `'a`.
pub(crate) type BoxOp<'a> = Box<dyn Operator + 'a>;

/// A part of a table's primary-key space, scanned by one task of a
/// parallel plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Part {
    /// First primary key, inclusive.
    pub lo: i64,
    /// Last primary key, inclusive.
    pub hi: i64,
}

/// What every operator of one statement shares: the snapshot it reads,
/// its limits and, for `explain analyze`, the figures per plan node.
pub(crate) struct ExecCtx<'a> {
    /// The consistent view every read of the statement goes through.
    pub snap: &'a Snapshot,
    /// Deadline, cancel flag, memory.
    pub limits: &'a Limits,
    /// Per plan node (by preorder id): rows out and time, when analysing.
    pub profile: Option<Profile>,
    /// Hash join build tables, shared by the parts of a parallel plan.
    pub joins: hash_join::SharedTables,
}

impl<'a> ExecCtx<'a> {
    /// A context without profiling.
    pub(crate) fn new(snap: &'a Snapshot, limits: &'a Limits) -> ExecCtx<'a> {
        ExecCtx {
            snap,
            limits,
            profile: None,
            joins: hash_join::SharedTables::default(),
        }
    }

    /// A context that records rows and time for each of `nodes` plan nodes.
    pub(crate) fn analysing(snap: &'a Snapshot, limits: &'a Limits, nodes: usize) -> ExecCtx<'a> {
        ExecCtx {
            snap,
            limits,
            profile: Some(Profile::new(nodes)),
            joins: hash_join::SharedTables::default(),
        }
    }
}

/// A plan node and its preorder id (the root is 0; a node's first child
/// is its id + 1, the next child follows the first child's subtree).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node<'a> {
    /// The node.
    pub plan: &'a Physical,
    /// Its preorder id.
    pub id: usize,
}

impl<'a> Node<'a> {
    /// The root of `plan`.
    pub(crate) fn root(plan: &'a Physical) -> Node<'a> {
        Node { plan, id: 0 }
    }

    /// The node's `i`th input.
    pub(crate) fn child(&self, i: usize) -> Option<Node<'a>> {
        let children = self.plan.children();
        let mut id = self.id + 1;
        for c in children.iter().take(i) {
            id += c.size();
        }
        children.get(i).map(|&plan| Node { plan, id })
    }
}

/// Builds the operator for `node` and its inputs. `part` restricts the
/// full scan at the bottom of the node's first-input chain to one part of
/// the key space (see [`partitions`]).
pub(crate) fn build<'a>(
    node: Node<'a>,
    ctx: &'a ExecCtx<'a>,
    part: Option<Part>,
) -> Result<BoxOp<'a>> {
    let input = |i: usize| -> Result<BoxOp<'a>> {
        let child = node.child(i).ok_or_else(|| {
            Error::query(
                ErrorCode::Unsupported,
                "internal: a plan node without its input",
            )
        })?;
        // Only the first input's chain is split into parts.
        build(child, ctx, if i == 0 { part } else { None })
    };
    let op: BoxOp<'a> = match node.plan {
        Physical::Scan {
            table,
            access,
            columns,
            filter,
            parallel,
        } => {
            let scan = scan::Scan::new(ctx, table, access, columns, filter, part)?;
            // A scan not split over threads may feed a limit: its first
            // chunks are short.
            Box::new(if *parallel { scan } else { scan.ramped() })
        }
        Physical::Filter { predicate, .. } => {
            Box::new(filter::Filter::new(input(0)?, predicate, ctx.limits)?)
        }
        Physical::Project { exprs, .. } => Box::new(project::Project::new(input(0)?, exprs)?),
        Physical::Limit { limit, offset, .. } => {
            Box::new(limit::Limit::new(input(0)?, *limit, *offset))
        }
        Physical::Sort { keys, .. } => Box::new(sort::Sort::new(node, ctx, part, keys)?),
        Physical::TopK {
            keys,
            limit,
            offset,
            ..
        } => Box::new(top_k::TopK::new(node, ctx, part, keys, *limit, *offset)?),
        Physical::HashJoin { .. } => hash_join::operator(node, ctx, input(0)?)?,
        Physical::LookupJoin { .. } => lookup_join::operator(node, ctx, input(0)?)?,
        Physical::HashAggregate { .. } => hash_aggregate::operator(node, ctx, part)?,
        Physical::ScanAggregate { .. } => Box::new(scan_aggregate::ScanAggregate::new(node, ctx)?),
        other => {
            return Err(Error::query(
                ErrorCode::Unsupported,
                format!("internal: no vectorised operator for {}", name(other)),
            ));
        }
    };
    Ok(profiled(node, ctx, op))
}

/// `op`, the operator of `node`, recording its figures when the
/// statement is analysed: for operators built outside [`build`].
pub(crate) fn profiled<'a>(node: Node<'a>, ctx: &'a ExecCtx<'a>, op: BoxOp<'a>) -> BoxOp<'a> {
    match ctx.profile.as_ref().and_then(|p| p.node(node.id)) {
        Some(stats) => Box::new(Timed { inner: op, stats }),
        None => op,
    }
}

/// The parts a plan whose first-input chain ends in a parallel full scan
/// can be split into (about four per core, of equal key width); `None`
/// when it runs whole.
pub(crate) fn partitions(node: Node<'_>, ctx: &ExecCtx<'_>) -> Result<Option<Vec<Part>>> {
    let mut n = node;
    loop {
        match n.plan {
            Physical::Scan {
                table,
                access: Access::FullScan,
                parallel: true,
                ..
            } => {
                let parts = rayon::current_num_threads() * 4;
                let ranges = keys::split_ranges(ctx.snap, table.id, parts)?;
                return Ok(ranges
                    .filter(|r| r.len() > 1)
                    .map(|r| r.into_iter().map(|(lo, hi)| Part { lo, hi }).collect()));
            }
            Physical::Filter { .. }
            | Physical::Project { .. }
            | Physical::LookupJoin { .. }
            | Physical::HashJoin { .. } => match n.child(0) {
                Some(c) => n = c,
                None => return Ok(None),
            },
            _ => return Ok(None),
        }
    }
}

/// [`partitions`] for an operator about to run its input's parts in
/// rayon tasks: the hash tables those parts share are built first, once,
/// so that no task waits on another to build one.
pub(crate) fn parallel_parts<'a>(
    node: Node<'a>,
    ctx: &'a ExecCtx<'a>,
) -> Result<Option<Vec<Part>>> {
    let parts = partitions(node, ctx)?;
    if parts.is_some() {
        hash_join::prepare(node, ctx)?;
    }
    Ok(parts)
}

/// Runs a query plan, sending its rows through `emit`.
pub(crate) fn run(plan: &Physical, ctx: &ExecCtx<'_>, emit: &mut Emitter<'_>) -> Result<()> {
    let mut root = build(Node::root(plan), ctx, None)?;
    while let Some(chunk) = root.next()? {
        for row in chunk.to_rows()? {
            if !emit.push(row)? {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// The operator name `explain` prints for a node.
pub(crate) fn name(node: &Physical) -> &'static str {
    match node {
        Physical::Scan { .. } => "scan",
        Physical::Filter { .. } => "filter",
        Physical::Project { .. } => "project",
        Physical::HashJoin { .. } => "hash join",
        Physical::LookupJoin { .. } => "lookup join",
        Physical::HashAggregate { .. } => "hash aggregate",
        Physical::ScanAggregate { .. } => "scan aggregate",
        Physical::TopK { .. } => "top-k",
        Physical::Sort { .. } => "sort",
        Physical::Limit { .. } => "limit",
        Physical::Insert { .. } => "insert",
        Physical::Update { .. } => "update",
        Physical::Delete { .. } => "delete",
    }
}

/// Records an operator's rows and time for `explain analyze`.
struct Timed<'a> {
    inner: BoxOp<'a>,
    stats: &'a NodeStats,
}

impl Operator for Timed<'_> {
    fn next(&mut self) -> Result<Option<Chunk>> {
        let start = Instant::now();
        let out = self.inner.next();
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.stats.nanos.fetch_add(nanos, Ordering::Relaxed);
        if let Ok(Some(c)) = &out {
            self.stats
                .rows
                .fetch_add(c.count() as u64, Ordering::Relaxed);
            self.stats.chunks.fetch_add(1, Ordering::Relaxed);
        }
        out
    }
}
