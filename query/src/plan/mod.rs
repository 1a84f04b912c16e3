//! Planning a statement: bind (names → columns, [`bind`] resolving names
//! in a [`scope`], [`bound`]), the logical plan (what to compute,
//! [`logical`]), the physical plan (how, [`physical`], chosen by
//! [`choose`]: access paths, join and aggregate algorithms) that `exec/`
//! runs, and its text ([`explain`]).

pub(crate) mod bind;
pub(crate) mod bound;
pub(crate) mod choose;
pub(crate) mod explain;
pub(crate) mod logical;
pub(crate) mod physical;
pub(crate) mod scalar;
pub(crate) mod scope;
#[cfg(test)]
mod tests;
