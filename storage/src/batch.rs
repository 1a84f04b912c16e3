//! Write batches: puts and deletes applied atomically under one sequence
//! number.

use bytes::Bytes;

use crate::types::Kind;

/// A group of puts and deletes that [`crate::Engine::apply`] makes visible
/// all at once. When a batch touches a key twice, the later operation wins.
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    pub(crate) ops: Vec<(Kind, Bytes, Bytes)>,
    bytes: usize,
}

/// One operation of a batch, as [`WriteBatch::iter`] shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchOp<'a> {
    /// Set `key` to `value`.
    Put(&'a [u8], &'a [u8]),
    /// Remove `key`.
    Delete(&'a [u8]),
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// An empty batch with room for `n` operations.
    pub fn with_capacity(n: usize) -> WriteBatch {
        WriteBatch {
            ops: Vec::with_capacity(n),
            bytes: 0,
        }
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: impl Into<Bytes>, value: impl Into<Bytes>) {
        let (key, value) = (key.into(), value.into());
        self.bytes += key.len() + value.len();
        self.ops.push((Kind::Put, key, value));
    }

    /// Removes `key` (a no-op if it is absent).
    pub fn delete(&mut self, key: impl Into<Bytes>) {
        let key = key.into();
        self.bytes += key.len();
        self.ops.push((Kind::Delete, key, Bytes::new()));
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Bytes of keys and values held.
    pub fn payload_bytes(&self) -> usize {
        self.bytes
    }

    /// Removes every operation, keeping the allocation.
    pub fn clear(&mut self) {
        self.ops.clear();
        self.bytes = 0;
    }

    /// The operations in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = BatchOp<'_>> {
        self.ops.iter().map(|(kind, k, v)| match kind {
            Kind::Put => BatchOp::Put(k, v),
            Kind::Delete => BatchOp::Delete(k),
        })
    }
}
