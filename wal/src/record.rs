//! Log record framing and the write-batch payload codec (format version 1,
//! see `docs/wal.md`).
//!
//! A record is `[len u32][crc32 u32][seqno u64][payload; len]`, integers
//! little-endian, where the crc32 (IEEE) covers `len`, `seqno` and the
//! payload, so a bit flip anywhere in a record, header included, is caught.
//! The payload is one write batch in its own encoding
//! ([`WriteBatch::as_bytes`], described in `fasty_storage`'s `batch`
//! module): per operation `[kind u8: 1 put, 0 delete][varint key
//! length][key]`, and for a put `[varint value length][value]`. Replay keeps
//! the batches as slices of the segment it read, without copying them.
//!
//! This module only turns bytes into records and back; which records are
//! replayed, and what a bad one means, is decided in [`crate::recovery`].

use bytes::Bytes;
use fasty_storage::{Seqno, WriteBatch};

/// Bytes of a record header: length, checksum, sequence number.
pub(crate) const RECORD_HEADER_LEN: usize = 16;

/// Appends the framed record of `batch` under `seqno` to `buf`. On error
/// (a batch too large for one record) `buf` is left as it was.
pub(crate) fn encode_record(
    buf: &mut Vec<u8>,
    seqno: Seqno,
    batch: &WriteBatch,
) -> Result<(), String> {
    let start = buf.len();
    encode_unchecked(buf, seqno, batch)?;
    seal_record(&mut buf[start..]);
    Ok(())
}

/// Like [`encode_record`] but leaves the checksum field zero, for
/// [`seal_records`] to fill in later (on another thread: async mode's
/// writers leave the checksums to the log writer, off their own path).
pub(crate) fn encode_unchecked(
    buf: &mut Vec<u8>,
    seqno: Seqno,
    batch: &WriteBatch,
) -> Result<(), String> {
    let start = buf.len();
    buf.reserve(encoded_len_estimate(batch));
    buf.extend_from_slice(&[0u8; RECORD_HEADER_LEN]);
    let len = match encode_payload(buf, batch, start) {
        Ok(len) => len,
        Err(e) => {
            buf.truncate(start);
            return Err(e);
        }
    };
    let header = &mut buf[start..start + RECORD_HEADER_LEN];
    header[0..4].copy_from_slice(&len.to_le_bytes());
    header[8..16].copy_from_slice(&seqno.to_le_bytes());
    Ok(())
}

/// Writes the checksum of the one record `rec` holds, whole.
fn seal_record(rec: &mut [u8]) {
    let crc = record_crc(&rec[0..4], &rec[8..]);
    rec[4..8].copy_from_slice(&crc.to_le_bytes());
}

/// Fills in the checksums of the records [`encode_unchecked`] put back to
/// back in `buf`. Fails, changing nothing after the last whole record, if
/// `buf` does not end with a whole record (a bug, not bad input).
pub(crate) fn seal_records(buf: &mut [u8]) -> Result<(), String> {
    let mut off = 0;
    while off < buf.len() {
        let rest = &mut buf[off..];
        let end = match rest.first_chunk::<4>() {
            Some(len) => RECORD_HEADER_LEN.saturating_add(u32::from_le_bytes(*len) as usize),
            None => usize::MAX,
        };
        let Some(rec) = rest.get_mut(..end) else {
            return Err(format!(
                "a queued log record at offset {off} runs past its buffer"
            ));
        };
        seal_record(rec);
        off += end;
    }
    Ok(())
}

/// A record encoded before its sequence number is known: large batches are
/// encoded and checksummed by the writing thread, outside every lock, and
/// only [`UnsealedRecord::seal`] (a few dozen bytes of work) runs in log
/// order.
pub(crate) struct UnsealedRecord {
    bytes: Vec<u8>,
    payload_crc: crc32fast::Hasher,
}

impl UnsealedRecord {
    /// Encodes `batch` into a record buffer of its own.
    pub(crate) fn new(batch: &WriteBatch) -> Result<UnsealedRecord, String> {
        let mut bytes = Vec::with_capacity(encoded_len_estimate(batch));
        bytes.extend_from_slice(&[0u8; RECORD_HEADER_LEN]);
        let len = encode_payload(&mut bytes, batch, 0)?;
        bytes[0..4].copy_from_slice(&len.to_le_bytes());
        let mut payload_crc = crc32fast::Hasher::new();
        payload_crc.update(&bytes[RECORD_HEADER_LEN..]);
        Ok(UnsealedRecord { bytes, payload_crc })
    }

    /// Bytes of the whole record.
    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Stamps `seqno` and the checksum into the header.
    pub(crate) fn seal(mut self, seqno: Seqno) -> Vec<u8> {
        self.bytes[8..16].copy_from_slice(&seqno.to_le_bytes());
        let mut h = crc32fast::Hasher::new();
        h.update(&self.bytes[0..4]);
        h.update(&self.bytes[8..16]);
        h.combine(&self.payload_crc);
        let crc = h.finalize();
        self.bytes[4..8].copy_from_slice(&crc.to_le_bytes());
        self.bytes
    }
}

/// The encoded size of `batch` as a record.
pub(crate) fn encoded_len_estimate(batch: &WriteBatch) -> usize {
    RECORD_HEADER_LEN + batch.encoded_len()
}

/// Appends the payload of `batch` (its own encoding,
/// [`WriteBatch::as_bytes`]) to `buf`, whose record starts at `start`;
/// returns the payload length.
fn encode_payload(buf: &mut Vec<u8>, batch: &WriteBatch, start: usize) -> Result<u32, String> {
    buf.extend_from_slice(batch.as_bytes());
    let payload_len = buf.len() - start - RECORD_HEADER_LEN;
    u32::try_from(payload_len).map_err(|_| {
        format!(
            "a write batch of {payload_len} encoded bytes does not fit in one log record (at most 4 GiB)"
        )
    })
}

fn record_crc(len: &[u8], seqno_and_payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len);
    h.update(seqno_and_payload);
    h.finalize()
}

/// One record read back from a segment.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// The sequence number the batch was applied under.
    pub seqno: Seqno,
    /// The encoded batch (a slice of the segment's bytes).
    pub payload: Bytes,
    /// Offset just past this record.
    pub end: usize,
}

/// Why the bytes at some offset are not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BadRecord {
    /// The header or the payload runs past the end of the data: what a
    /// write cut short by a crash leaves.
    Incomplete(String),
    /// A complete record whose checksum does not match. `next` is where the
    /// following record would start if the length field is right.
    Checksum {
        /// Offset just past the bad record, as its length field claims.
        next: usize,
    },
}

impl BadRecord {
    /// A few words for errors and reports.
    pub(crate) fn reason(&self) -> String {
        match self {
            BadRecord::Incomplete(why) => why.clone(),
            BadRecord::Checksum { .. } => "record checksum mismatch".into(),
        }
    }
}

/// Reads the record starting at `off` in `data`: `Ok(None)` at the exact
/// end of the data.
pub(crate) fn read_record(data: &Bytes, off: usize) -> Result<Option<Record>, BadRecord> {
    let rest = data.len().saturating_sub(off);
    if rest == 0 {
        return Ok(None);
    }
    if rest < RECORD_HEADER_LEN {
        return Err(BadRecord::Incomplete(format!(
            "record header cut short ({rest} of {RECORD_HEADER_LEN} bytes)"
        )));
    }
    let h = &data[off..off + RECORD_HEADER_LEN];
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&h[8..16]);
    let seqno = u64::from_le_bytes(seq);
    let start = off + RECORD_HEADER_LEN;
    if len > data.len() - start {
        return Err(BadRecord::Incomplete(format!(
            "record of {len} payload bytes runs past the end of the file ({} bytes left)",
            data.len() - start
        )));
    }
    let end = start + len;
    if record_crc(&h[0..4], &data[off + 8..end]) != crc {
        return Err(BadRecord::Checksum { next: end });
    }
    Ok(Some(Record {
        seqno,
        payload: data.slice(start..end),
        end,
    }))
}

/// Decodes a record payload into the batch it was made from, without
/// copying: the batch keeps a slice of `payload`.
pub(crate) fn decode_batch(payload: &Bytes) -> Result<WriteBatch, String> {
    WriteBatch::from_shared(payload.clone()).map_err(|e| e.to_string())
}

/// Checks that `payload` decodes.
pub(crate) fn validate_batch(payload: &Bytes) -> Result<(), String> {
    decode_batch(payload).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fasty_storage::BatchOp;
    use proptest::prelude::*;

    fn batch(ops: &[(bool, Vec<u8>, Vec<u8>)]) -> WriteBatch {
        let mut b = WriteBatch::new();
        for (put, k, v) in ops {
            if *put {
                b.put(k.clone(), v.clone());
            } else {
                b.delete(k.clone());
            }
        }
        b
    }

    fn ops_of(b: &WriteBatch) -> Vec<(bool, Vec<u8>, Vec<u8>)> {
        b.iter()
            .map(|op| match op {
                BatchOp::Put(k, v) => (true, k.to_vec(), v.to_vec()),
                BatchOp::Delete(k) => (false, k.to_vec(), Vec::new()),
            })
            .collect()
    }

    #[test]
    fn layout_is_as_documented() {
        let mut b = WriteBatch::new();
        b.put(&b"k"[..], &b"vv"[..]);
        b.delete(&b"d"[..]);
        let mut buf = Vec::new();
        encode_record(&mut buf, 7, &b).unwrap();
        let payload = [
            1, 1, b'k', 2, b'v',
            b'v', // put: kind, varint key len, key, varint value len, value
            0, 1, b'd', // delete: kind, varint key len, key
        ];
        assert_eq!(&buf[0..4], &(payload.len() as u32).to_le_bytes());
        assert_eq!(&buf[8..16], &7u64.to_le_bytes());
        assert_eq!(&buf[16..], &payload);
        let mut h = crc32fast::Hasher::new();
        h.update(&buf[0..4]);
        h.update(&buf[8..]);
        assert_eq!(&buf[4..8], &h.finalize().to_le_bytes());
    }

    #[test]
    fn unsealed_then_sealed_equals_encoded() {
        let mut b = WriteBatch::new();
        for i in 0..100u32 {
            b.put(i.to_be_bytes(), vec![i as u8; 37]);
        }
        b.delete(&b"gone"[..]);
        let mut direct = Vec::new();
        encode_record(&mut direct, 123_456, &b).unwrap();
        let unsealed = UnsealedRecord::new(&b).unwrap();
        assert_eq!(unsealed.len(), direct.len());
        assert_eq!(unsealed.seal(123_456), direct);
    }

    #[test]
    fn sealing_a_cut_buffer_fails_except_between_records() {
        let b = batch(&[(true, b"key".to_vec(), vec![7; 40])]);
        let mut buf = Vec::new();
        encode_unchecked(&mut buf, 1, &b).unwrap();
        let first = buf.len();
        encode_unchecked(&mut buf, 2, &b).unwrap();
        for cut in 0..=buf.len() {
            let whole = cut == 0 || cut == first || cut == buf.len();
            let mut part = buf[..cut].to_vec();
            assert_eq!(seal_records(&mut part).is_ok(), whole, "cut at {cut}");
        }
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let b = batch(&[(true, b"key".to_vec(), b"value".to_vec())]);
        let mut buf = Vec::new();
        encode_record(&mut buf, 99, &b).unwrap();
        for byte in 0..buf.len() {
            for bit in 0..8 {
                let mut bad = buf.clone();
                bad[byte] ^= 1 << bit;
                let data = Bytes::from(bad);
                assert!(read_record(&data, 0).is_err(), "byte {byte} bit {bit}");
            }
        }
    }

    #[test]
    fn truncation_is_incomplete() {
        let b = batch(&[(true, b"key".to_vec(), vec![7; 100])]);
        let mut buf = Vec::new();
        encode_record(&mut buf, 1, &b).unwrap();
        for cut in 1..buf.len() {
            let data = Bytes::copy_from_slice(&buf[..cut]);
            assert!(
                matches!(read_record(&data, 0), Err(BadRecord::Incomplete(_))),
                "cut at {cut}"
            );
        }
        let data = Bytes::new();
        assert!(read_record(&data, 0).unwrap().is_none());
    }

    #[test]
    fn bad_payloads_are_errors_not_panics() {
        for payload in [
            &[9][..],
            &[1][..],
            &[1, 5, b'a'][..],
            &[1, 1, b'a', 3, b'x'][..],
            &[0, 2, b'a'][..],
            &[1, 255, 255, 255, 255, 255, 1][..],
        ] {
            let payload = Bytes::copy_from_slice(payload);
            assert!(decode_batch(&payload).is_err());
            assert!(validate_batch(&payload).is_err());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn round_trip(
            ops in proptest::collection::vec(
                (any::<bool>(),
                 proptest::collection::vec(any::<u8>(), 0..20),
                 proptest::collection::vec(any::<u8>(), 0..40)),
                0..20),
            seqnos in proptest::collection::vec(any::<u64>(), 1..4),
        ) {
            let ops: Vec<_> = ops
                .into_iter()
                .map(|(p, k, v)| (p, k, if p { v } else { Vec::new() }))
                .collect();
            let b = batch(&ops);
            let mut buf = Vec::new();
            for &s in &seqnos {
                encode_record(&mut buf, s, &b).unwrap();
            }
            let data = Bytes::from(buf);
            let mut off = 0;
            for &s in &seqnos {
                let rec = read_record(&data, off).unwrap().unwrap();
                prop_assert_eq!(rec.seqno, s);
                prop_assert_eq!(ops_of(&decode_batch(&rec.payload).unwrap()), ops.clone());
                off = rec.end;
            }
            prop_assert!(read_record(&data, off).unwrap().is_none());

            // Framed now and checksummed later (async mode's queue): the
            // same bytes.
            let mut later = Vec::new();
            for &s in &seqnos {
                encode_unchecked(&mut later, s, &b).unwrap();
            }
            seal_records(&mut later).unwrap();
            prop_assert_eq!(&later[..], &data[..]);
        }
    }
}
