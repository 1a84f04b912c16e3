//! Planning a statement: bind (names → columns, [`bound`]), the logical
//! plan (what to compute, [`logical`]), the physical plan (how,
//! [`physical`]: access paths, join and aggregate algorithms) that
//! `exec/` runs.

// Wired into `Database` step by step, beside the row executor
// (`runner.rs`, `planner.rs`) it replaces; until then parts are unused.
#![allow(dead_code)]

pub(crate) mod bound;
pub(crate) mod logical;
pub(crate) mod physical;
