//! Entry points for the fuzz targets in `fuzz/` (outside the workspace and
//! CI) and for the regression tests of what they found. Not part of the
//! supported API.

use std::path::Path;

use bytes::Bytes;
use fasty_storage::BatchOp;

use crate::record::{RECORD_HEADER_LEN, decode_batch};
use crate::segment::{WAL_DIR, scan_segment, segment_header, segment_path};
use crate::{Db, Durability, Options};

/// Reads `data` as a whole segment, once as the newest segment and once
/// as an older one, decoding every record's batch: the reader must end in
/// a clean end, a torn tail or corruption, never a panic.
pub fn scan(data: &[u8]) {
    let data = Bytes::copy_from_slice(data);
    for last in [true, false] {
        let scan = scan_segment(&data, last, |rec| {
            if let Ok(batch) = decode_batch(&rec.payload) {
                for op in batch.iter() {
                    match op {
                        BatchOp::Put(k, v) => assert!(k.len() + v.len() <= data.len()),
                        BatchOp::Delete(k) => assert!(k.len() <= data.len()),
                    }
                }
            }
            Ok(())
        });
        assert!(scan.valid_len <= scan.file_len);
    }
}

/// Builds a segment whose records have good checksums from `data`, so
/// that the fuzzer reaches what lies behind them (sequence checks, batch
/// decoding) instead of stopping at the first checksum. The first byte
/// is flags: bit 0 appends 64 zero bytes (a pre-allocated tail), bits
/// 1..=5 cut that many bytes off the end (a torn write). Then, per
/// record, two bytes of payload length (little-endian), one byte added to
/// the previous sequence number (0 repeats it) and the payload.
pub fn framed_segment(data: &[u8]) -> Vec<u8> {
    let (flags, mut rest) = match data.split_first() {
        Some((&f, rest)) => (f, rest),
        None => (0, data),
    };
    let mut seg = segment_header();
    let mut seqno: u64 = 0;
    while let [lo, hi, step, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (payload, next) = tail.split_at(len);
        seqno = seqno.wrapping_add(u64::from(*step));
        let len32 = u32::try_from(len).unwrap_or(u32::MAX);
        let start = seg.len();
        seg.extend_from_slice(&len32.to_le_bytes());
        seg.extend_from_slice(&[0; 4]);
        seg.extend_from_slice(&seqno.to_le_bytes());
        seg.extend_from_slice(payload);
        let mut h = crc32fast::Hasher::new();
        h.update(&seg[start..start + 4]);
        h.update(&seg[start + 8..]);
        let crc = h.finalize();
        seg[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
        debug_assert_eq!(seg.len(), start + RECORD_HEADER_LEN + len);
        rest = next;
    }
    if flags & 1 == 1 {
        seg.extend_from_slice(&[0; 64]);
    }
    let cut = usize::from((flags >> 1) & 0x1f);
    seg.truncate(seg.len().saturating_sub(cut));
    seg
}

/// Writes `segments` as the log of a database in `dir` (which must be
/// empty) and runs what reads it: [`crate::verify`], then, unless that
/// found the log unreadable, [`Db::open`] (the recovery scan and replay)
/// and a full scan of what it recovered. Errors are fine, panics not.
pub fn recover(dir: &Path, segments: &[Vec<u8>]) {
    let wal_dir = dir.join(WAL_DIR);
    if std::fs::create_dir_all(&wal_dir).is_err() {
        return;
    }
    for (i, seg) in segments.iter().enumerate() {
        if std::fs::write(segment_path(&wal_dir, i as u64 + 1), seg).is_err() {
            return;
        }
    }
    let Ok(report) = crate::verify(dir) else {
        return;
    };
    if report.blocks_open() {
        return;
    }
    let opts = Options {
        durability: Durability::default(),
        segment_size: 64 << 10,
        preallocate_segments: false,
        ..Options::default()
    };
    if let Ok(db) = Db::open(dir, opts) {
        for pair in db.scan(..) {
            if pair.is_err() {
                break;
            }
        }
        let _ = db.close();
    }
}
