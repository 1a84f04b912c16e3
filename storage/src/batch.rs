//! Write batches: puts and deletes applied atomically under one sequence
//! number.
//!
//! A batch is one contiguous byte buffer (its *representation*), so that
//! building one costs an allocation per batch rather than per key, and so
//! that a write-ahead log can store it as it is: [`WriteBatch::as_bytes`]
//! gives the encoding and [`WriteBatch::from_bytes`] checks and restores it.
//!
//! Encoding (version 1), one record per operation, in order:
//! `[kind u8: 1 put, 0 delete][varint key length][key]` and, for a put,
//! `[varint value length][value]`. Varints are LEB128, at most 5 bytes
//! (lengths below 4 GiB).

use bytes::Bytes;

use crate::types::Kind;

/// A group of puts and deletes that [`crate::Engine::apply`] makes visible
/// all at once. When a batch touches a key twice, the later operation wins.
#[derive(Clone, Debug, Default)]
pub struct WriteBatch {
    rep: Rep,
    count: usize,
}

/// The encoding: built by `put`/`delete` in `owned`, or borrowed (`shared`)
/// from a buffer it was checked in (a log segment read at recovery), copied
/// into `owned` only if changed.
#[derive(Clone, Debug, Default)]
struct Rep {
    owned: Vec<u8>,
    shared: Option<Bytes>,
}

impl PartialEq for WriteBatch {
    fn eq(&self, other: &WriteBatch) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for WriteBatch {}

/// One operation of a batch, as [`WriteBatch::iter`] shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchOp<'a> {
    /// Set `key` to `value`.
    Put(&'a [u8], &'a [u8]),
    /// Remove `key`.
    Delete(&'a [u8]),
}

/// Why bytes are not a valid batch encoding.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed write batch at byte {offset}: {reason}")]
pub struct MalformedBatch {
    /// Offset of the bad operation within the encoding.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn get_varint(bytes: &[u8], pos: &mut usize) -> Option<usize> {
    let mut n: u64 = 0;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(*pos)?;
        *pos += 1;
        n |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return usize::try_from(n).ok().filter(|&n| n <= u32::MAX as usize);
        }
    }
    None
}

/// Decodes the operation at `*pos`, advancing past it.
fn decode_op<'a>(rep: &'a [u8], pos: &mut usize) -> Result<BatchOp<'a>, MalformedBatch> {
    let offset = *pos;
    let bad = |reason| MalformedBatch { offset, reason };
    let kind = rep
        .get(*pos)
        .copied()
        .and_then(Kind::from_u8)
        .ok_or(bad("unknown operation kind"))?;
    *pos += 1;
    let field = |pos: &mut usize| -> Result<&'a [u8], MalformedBatch> {
        let len = get_varint(rep, pos).ok_or(bad("bad length"))?;
        let end = pos
            .checked_add(len)
            .filter(|&e| e <= rep.len())
            .ok_or(bad("truncated operation"))?;
        let s = &rep[*pos..end];
        *pos = end;
        Ok(s)
    };
    let key = field(pos)?;
    Ok(match kind {
        Kind::Put => BatchOp::Put(key, field(pos)?),
        Kind::Delete => BatchOp::Delete(key),
    })
}

/// Checks every operation of an encoding; returns how many there are.
fn count_ops(bytes: &[u8]) -> Result<usize, MalformedBatch> {
    let mut pos = 0;
    let mut count = 0;
    while pos < bytes.len() {
        decode_op(bytes, &mut pos)?;
        count += 1;
    }
    Ok(count)
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> WriteBatch {
        WriteBatch::default()
    }

    /// An empty batch with room for `bytes` of encoded operations.
    pub fn with_capacity(bytes: usize) -> WriteBatch {
        WriteBatch {
            rep: Rep {
                owned: Vec::with_capacity(bytes),
                shared: None,
            },
            count: 0,
        }
    }

    /// The encoding, made owned (copied once if it was shared) so that it
    /// can grow.
    fn rep_mut(&mut self) -> &mut Vec<u8> {
        if let Some(shared) = self.rep.shared.take() {
            self.rep.owned = shared.to_vec();
        }
        &mut self.rep.owned
    }

    /// Sets `key` to `value`.
    pub fn put(&mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) {
        let (key, value) = (key.as_ref(), value.as_ref());
        let rep = self.rep_mut();
        rep.reserve(key.len() + value.len() + 11);
        rep.push(Kind::Put as u8);
        put_varint(rep, key.len() as u64);
        rep.extend_from_slice(key);
        put_varint(rep, value.len() as u64);
        rep.extend_from_slice(value);
        self.count += 1;
    }

    /// Removes `key` (a no-op if it is absent).
    pub fn delete(&mut self, key: impl AsRef<[u8]>) {
        let key = key.as_ref();
        let rep = self.rep_mut();
        rep.push(Kind::Delete as u8);
        put_varint(rep, key.len() as u64);
        rep.extend_from_slice(key);
        self.count += 1;
    }

    /// Number of operations.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the batch has no operations.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Size of the encoding in bytes.
    pub fn encoded_len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Removes every operation, keeping the allocation.
    pub fn clear(&mut self) {
        self.rep.owned.clear();
        self.rep.shared = None;
        self.count = 0;
    }

    /// The operations in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = BatchOp<'_>> {
        let rep = self.as_bytes();
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= rep.len() {
                return None;
            }
            // Built only by `put`/`delete` or checked by `from_bytes`.
            decode_op(rep, &mut pos).ok()
        })
    }

    /// The batch's encoding (see the module docs), e.g. for a log record.
    pub fn as_bytes(&self) -> &[u8] {
        self.rep.shared.as_deref().unwrap_or(&self.rep.owned)
    }

    /// Restores a batch from [`WriteBatch::as_bytes`], checking every
    /// operation.
    pub fn from_bytes(bytes: &[u8]) -> Result<WriteBatch, MalformedBatch> {
        Ok(WriteBatch {
            count: count_ops(bytes)?,
            rep: Rep {
                owned: bytes.to_vec(),
                shared: None,
            },
        })
    }

    /// Like [`WriteBatch::from_bytes`], but keeps `bytes` (a slice of a
    /// larger buffer, say a log segment) instead of copying it; the batch
    /// copies only if it is changed later.
    pub fn from_shared(bytes: Bytes) -> Result<WriteBatch, MalformedBatch> {
        Ok(WriteBatch {
            count: count_ops(&bytes)?,
            rep: Rep {
                owned: Vec::new(),
                shared: Some(bytes),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn operations_come_back_in_order() {
        let mut b = WriteBatch::new();
        b.put(b"k1", b"v1");
        b.delete("k2");
        b.put(Vec::from(&b"k3"[..]), [0u8; 300]);
        let ops: Vec<BatchOp<'_>> = b.iter().collect();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0], BatchOp::Put(b"k1", b"v1"));
        assert_eq!(ops[1], BatchOp::Delete(b"k2"));
        assert_eq!(ops[2], BatchOp::Put(b"k3", &[0u8; 300]));
        assert_eq!(b.len(), 3);
        b.clear();
        assert!(b.is_empty() && b.iter().next().is_none());
    }

    proptest! {
        #[test]
        fn encoding_round_trips(ops in proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 0..40), proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200))),
            0..20,
        )) {
            let mut b = WriteBatch::new();
            for (k, v) in &ops {
                match v {
                    Some(v) => b.put(k, v),
                    None => b.delete(k),
                }
            }
            let back = WriteBatch::from_bytes(b.as_bytes()).unwrap();
            prop_assert_eq!(&back, &b);
            let mut shared = WriteBatch::from_shared(Bytes::copy_from_slice(b.as_bytes())).unwrap();
            prop_assert_eq!(&shared, &b);
            prop_assert_eq!(shared.len(), b.len());
            // Changing a shared batch copies it first.
            shared.put(b"extra", b"x");
            prop_assert_eq!(shared.len(), b.len() + 1);
            prop_assert_eq!(&shared.as_bytes()[..b.encoded_len()], b.as_bytes());
            prop_assert_eq!(back.iter().count(), ops.len());
        }

        #[test]
        fn garbage_is_rejected_or_decodes_fully(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(b) = WriteBatch::from_bytes(&bytes) {
                prop_assert_eq!(b.iter().count(), b.len());
            }
        }
    }

    #[test]
    fn truncation_is_detected() {
        let mut b = WriteBatch::new();
        b.put(b"key", b"value");
        let bytes = b.as_bytes();
        for len in 1..bytes.len() {
            assert!(
                WriteBatch::from_bytes(&bytes[..len]).is_err(),
                "truncated to {len}"
            );
        }
        assert!(WriteBatch::from_bytes(&[7]).is_err());
    }
}
