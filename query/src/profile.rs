//! What `explain analyze` measures: rows, chunks and time per node of a
//! physical plan, filled in by the executor and printed by the planner's
//! explain, so that neither depends on the other for it.

use std::sync::atomic::AtomicU64;

/// Rows and time per plan node, summed over every copy of the node (a
/// parallel plan runs one per part).
#[derive(Debug, Default)]
pub(crate) struct Profile {
    nodes: Vec<NodeStats>,
}

/// One node's figures.
#[derive(Debug, Default)]
pub(crate) struct NodeStats {
    /// Rows in play in the chunks the node produced.
    pub rows: AtomicU64,
    /// Nanoseconds spent in the node's `next`, its inputs' included.
    pub nanos: AtomicU64,
    /// Chunks produced.
    pub chunks: AtomicU64,
}

impl Profile {
    /// Zeroed figures for a plan of `nodes` nodes.
    pub(crate) fn new(nodes: usize) -> Profile {
        Profile {
            nodes: (0..nodes).map(|_| NodeStats::default()).collect(),
        }
    }

    /// Node `id`'s figures.
    pub(crate) fn node(&self, id: usize) -> Option<&NodeStats> {
        self.nodes.get(id)
    }
}
