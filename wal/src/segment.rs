//! Log segments: naming, the 16-byte segment header, and reading one
//! segment back record by record.
//!
//! A segment is `wal/NNNNNNNNNNNN.log` (a 12-digit id, increasing) holding
//! a header followed by records ([`crate::record`]). Ids order segments;
//! sequence numbers increase across them. This module classifies what it
//! reads (a clean end, a torn tail, corruption) but never changes a file:
//! truncating, deleting and creating segments is for [`crate::recovery`]
//! and [`crate::lifecycle`].

use std::path::{Path, PathBuf};

use bytes::Bytes;
use fasty_storage::Seqno;
use fasty_storage::io::Io;

use crate::error::Result;
use crate::record::{RECORD_HEADER_LEN, Record, read_record, validate_batch};

/// Subdirectory of the data directory that holds the log.
pub(crate) const WAL_DIR: &str = "wal";
/// First eight bytes of every segment.
pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"FSTYWAL\0";
/// The log format version this build reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Bytes of a segment header: magic, version, crc32 of the first 12 bytes.
pub(crate) const SEGMENT_HEADER_LEN: usize = 16;

/// The header every segment starts with.
pub(crate) fn segment_header() -> Vec<u8> {
    let mut h = Vec::with_capacity(SEGMENT_HEADER_LEN);
    h.extend_from_slice(&SEGMENT_MAGIC);
    h.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    let crc = crc32fast::hash(&h);
    h.extend_from_slice(&crc.to_le_bytes());
    h
}

/// `wal_dir/NNNNNNNNNNNN.log`.
pub(crate) fn segment_path(wal_dir: &Path, id: u64) -> PathBuf {
    wal_dir.join(format!("{id:012}.log"))
}

/// The id of a segment file name, or `None` for any other file (saved-aside
/// tails, temporary files).
pub(crate) fn parse_segment_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let digits = name.strip_suffix(".log")?;
    if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segments in `wal_dir`, by id. A missing directory has none.
pub(crate) fn list_segments(io: &dyn Io, wal_dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    if !wal_dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut segments: Vec<(u64, PathBuf)> = io
        .list(wal_dir)?
        .into_iter()
        .filter_map(|p| parse_segment_name(&p).map(|id| (id, p)))
        .collect();
    segments.sort_unstable_by_key(|(id, _)| *id);
    Ok(segments)
}

/// How reading a segment ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SegmentEnd {
    /// Every byte belongs to a good record.
    Clean,
    /// The last segment ends in a record cut short by a crash, starting at
    /// `offset`: recovery truncates it.
    Torn {
        /// Where the torn record starts.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A bad record that is not a torn tail: recovery refuses to open.
    Corrupt {
        /// Where the bad record (or header) starts.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The header names a format version this build cannot read.
    Unsupported {
        /// The version found.
        found: u32,
    },
}

/// What reading one segment found.
#[derive(Debug, Clone)]
pub(crate) struct SegmentScan {
    /// Good records read.
    pub records: u64,
    /// Sequence number of the last good record.
    pub last_seqno: Option<Seqno>,
    /// Offset just past the last good record (or the header). Only zeros
    /// follow it in a clean segment that was filled ahead of time.
    pub valid_len: u64,
    /// Size of the file.
    pub file_len: u64,
    /// How it ended.
    pub end: SegmentEnd,
}

/// Why the caller's per-record check stops reading: the record is well
/// framed but wrong in context (sequence number out of order, records
/// missing, undecodable payload), which is corruption at that record.
pub(crate) struct Halt(pub String);

/// Reads the records of one segment in order, handing each to `visit`,
/// and stops at the first problem ([`SegmentScan::end`]).
///
/// `last` says whether this is the newest segment, the only one a crash can
/// leave torn. A bad record there is a torn tail only if nothing valid
/// follows it: no later offset holds a record that checks (length in
/// bounds, checksum, decodable payload, a sequence number that can follow
/// the last good one; see [`resync`]), or the bytes between the bad record
/// and that later record show pages that never reached the disk (see
/// `unwritten_pages`: a later page written back before an earlier one,
/// which a crash can leave). Anything else — a damaged length or checksum, or a zeroed
/// record, with good records after it — is corruption, as is any bad record
/// in an older segment. Zeros from the end of the last good record to the
/// end of the file are a clean end in any segment: the writer fills
/// segments with zeros ahead of time and overwrites them (a gap that this
/// hides in an older segment still shows up in the caller's sequence
/// check, as missing records).
pub(crate) fn scan_segment(
    data: &Bytes,
    last: bool,
    visit: impl FnMut(&Record) -> Result<(), Halt>,
) -> SegmentScan {
    let mut visit = visit;
    scan_segment_all(data, last, false, |rec, _| visit(rec)).0
}

/// A problem found past the first one by [`scan_segment_all`]: the offset
/// of a bad record and why, in a segment already found corrupt.
pub(crate) type LaterProblem = (u64, String);

/// [`scan_segment`], and with `keep_going`, every later problem as well:
/// after corruption, reading resumes at the next record that checks
/// ([`resync`]), and each further bad record is listed (for `verify`).
/// Records read after a resync count in `records` and `last_seqno` but not
/// in `valid_len`; `visit` is told which record is the first after skipped
/// bytes (records are missing before it).
pub(crate) fn scan_segment_all(
    data: &Bytes,
    last: bool,
    keep_going: bool,
    mut visit: impl FnMut(&Record, bool) -> Result<(), Halt>,
) -> (SegmentScan, Vec<LaterProblem>) {
    let mut scan = SegmentScan {
        records: 0,
        last_seqno: None,
        valid_len: 0,
        file_len: data.len() as u64,
        end: SegmentEnd::Clean,
    };
    let mut later = Vec::new();
    if data.len() < SEGMENT_HEADER_LEN {
        let reason = format!(
            "segment header cut short ({} of {SEGMENT_HEADER_LEN} bytes)",
            data.len()
        );
        scan.end = if last {
            SegmentEnd::Torn { offset: 0, reason }
        } else {
            SegmentEnd::Corrupt { offset: 0, reason }
        };
        return (scan, later);
    }
    let header = &data[..SEGMENT_HEADER_LEN];
    if header[..8] != SEGMENT_MAGIC {
        scan.end = SegmentEnd::Corrupt {
            offset: 0,
            reason: "not a wal segment (bad magic)".into(),
        };
        return (scan, later);
    }
    let crc = u32::from_le_bytes([header[12], header[13], header[14], header[15]]);
    if crc32fast::hash(&header[..12]) != crc {
        scan.end = SegmentEnd::Corrupt {
            offset: 0,
            reason: "segment header checksum mismatch".into(),
        };
        return (scan, later);
    }
    let version = u32::from_le_bytes([header[8], header[9], header[10], header[11]]);
    if version != FORMAT_VERSION {
        scan.end = SegmentEnd::Unsupported { found: version };
        return (scan, later);
    }
    let mut off = SEGMENT_HEADER_LEN;
    scan.valid_len = off as u64;
    // Set once a problem was found: reading goes on only to list more.
    let mut damaged = false;
    // The next record follows skipped bytes.
    let mut skipped = false;
    let mut problem = |scan: &mut SegmentScan, damaged: &mut bool, end: SegmentEnd| {
        if *damaged {
            if let SegmentEnd::Corrupt { offset, reason } | SegmentEnd::Torn { offset, reason } =
                end
            {
                later.push((offset, reason));
            }
        } else {
            scan.end = end;
            *damaged = true;
        }
    };
    loop {
        match read_record(data, off) {
            Ok(None) => break,
            Ok(Some(rec)) => {
                let after_gap = std::mem::take(&mut skipped);
                if let Err(Halt(reason)) = visit(&rec, after_gap) {
                    let end = SegmentEnd::Corrupt {
                        offset: off as u64,
                        reason,
                    };
                    problem(&mut scan, &mut damaged, end);
                    if !keep_going {
                        break;
                    }
                    off = rec.end;
                    continue;
                }
                scan.records += 1;
                scan.last_seqno = Some(rec.seqno);
                off = rec.end;
                if !damaged {
                    scan.valid_len = off as u64;
                }
            }
            Err(_) if data[off..].iter().all(|&b| b == 0) => break,
            Err(bad) => {
                let next = resync(data, off + 1, scan.last_seqno);
                let torn =
                    last && !damaged && next.is_none_or(|p| unwritten_pages(&data[..p], off));
                let offset = off as u64;
                let end = if torn {
                    SegmentEnd::Torn {
                        offset,
                        reason: bad.reason(),
                    }
                } else if let Some(p) = next {
                    SegmentEnd::Corrupt {
                        offset,
                        reason: format!(
                            "{}, and a good record follows at offset {p}, so it is not a torn tail",
                            bad.reason()
                        ),
                    }
                } else {
                    SegmentEnd::Corrupt {
                        offset,
                        reason: format!("{} in a segment that is not the last", bad.reason()),
                    }
                };
                problem(&mut scan, &mut damaged, end);
                match next {
                    Some(p) if keep_going && !torn => {
                        off = p;
                        skipped = true;
                    }
                    _ => break,
                }
            }
        }
    }
    (scan, later)
}

/// The first offset at or after `from` where a record checks and could
/// belong to this log after the good record with sequence number `prev`:
/// its length is in bounds, its checksum matches, its payload decodes, and
/// its sequence number is above `prev` by at most one more than the number
/// of records the skipped bytes could have held (every record is at least
/// a header long). Without `prev` (the segment's first record is bad) any
/// nonzero sequence number passes. A zero header never passes (sequence
/// numbers start at 1), so zeros written ahead never resync.
pub(crate) fn resync(data: &Bytes, from: usize, prev: Option<Seqno>) -> Option<usize> {
    // Zeros at the end (written ahead) hold no record: stop before them.
    let written = data.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let mut p = from;
    while p + RECORD_HEADER_LEN <= written {
        let h = &data[p..p + RECORD_HEADER_LEN];
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&h[8..16]);
        let seqno = u64::from_le_bytes(seq);
        let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let plausible = seqno != 0
            && len <= data.len() - p - RECORD_HEADER_LEN
            && prev.is_none_or(|prev| {
                let skipped = (p.saturating_sub(from) + 1) / RECORD_HEADER_LEN + 1;
                seqno > prev && seqno - prev <= skipped as u64
            });
        if plausible
            && let Ok(Some(rec)) = read_record(data, p)
            && validate_batch(&rec.payload).is_ok()
        {
            return Some(p);
        }
        p += 1;
    }
    None
}

/// Whether `data[from..]`, from a bad record at `from` to a good record at
/// its end, shows pages that never reached the disk: only zeros from `from`
/// to the next page boundary (the page holding the end of the last fsynced
/// write was not written back again), or a whole zero page (4 KiB starting
/// at a multiple of 4 KiB) anywhere. Pages written back out of order by a
/// crash leave exactly that; damage to written data does not.
fn unwritten_pages(data: &[u8], from: usize) -> bool {
    const PAGE: usize = 4096;
    let boundary = (from + 1).div_ceil(PAGE) * PAGE;
    if boundary <= data.len() && data[from..boundary].iter().all(|&b| b == 0) {
        return true;
    }
    let mut start = from.div_ceil(PAGE) * PAGE;
    while start + PAGE <= data.len() {
        if data[start..start + PAGE].iter().all(|&b| b == 0) {
            return true;
        }
        start += PAGE;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::encode_record;
    use fasty_storage::WriteBatch;

    fn segment(n: u64) -> Vec<u8> {
        let mut buf = segment_header();
        for s in 1..=n {
            let mut b = WriteBatch::new();
            b.put(format!("k{s}"), vec![s as u8; 20]);
            encode_record(&mut buf, s, &b).unwrap();
        }
        buf
    }

    fn scan(buf: &[u8], last: bool) -> SegmentScan {
        scan_segment(&Bytes::copy_from_slice(buf), last, |_| Ok(()))
    }

    #[test]
    fn names_round_trip() {
        let p = segment_path(Path::new("/d/wal"), 42);
        assert_eq!(p, Path::new("/d/wal/000000000042.log"));
        assert_eq!(parse_segment_name(&p), Some(42));
        for other in [
            "000000000042.log.corrupt-tail",
            "42.log",
            "00000000004x.log",
            "000000000042.sst",
        ] {
            assert_eq!(parse_segment_name(Path::new(other)), None, "{other}");
        }
    }

    #[test]
    fn clean_segment() {
        let buf = segment(5);
        let s = scan(&buf, false);
        assert_eq!(s.end, SegmentEnd::Clean);
        assert_eq!((s.records, s.last_seqno), (5, Some(5)));
        assert_eq!(s.valid_len, buf.len() as u64);
    }

    #[test]
    fn every_cut_of_the_last_segment_is_a_torn_tail() {
        let buf = segment(3);
        let ends: Vec<usize> = {
            let full = scan(&buf, true);
            assert_eq!(full.end, SegmentEnd::Clean);
            let mut v = vec![SEGMENT_HEADER_LEN];
            let data = Bytes::copy_from_slice(&buf);
            let mut off = SEGMENT_HEADER_LEN;
            while let Some(r) = read_record(&data, off).unwrap() {
                off = r.end;
                v.push(off);
            }
            v
        };
        for cut in 0..buf.len() {
            let s = scan(&buf[..cut], true);
            let good = ends.iter().rev().find(|&&e| e <= cut).copied();
            if ends.contains(&cut) {
                assert_eq!(s.end, SegmentEnd::Clean, "cut {cut}");
            } else {
                assert!(matches!(s.end, SegmentEnd::Torn { .. }), "cut {cut}: {s:?}");
                assert_eq!(s.valid_len, good.unwrap_or(0) as u64, "cut {cut}");
            }
            // The same cut in an older segment is corruption.
            let older = scan(&buf[..cut], false);
            if !ends.contains(&cut) {
                assert!(matches!(older.end, SegmentEnd::Corrupt { .. }), "cut {cut}");
            }
        }
    }

    #[test]
    fn flipped_byte_before_a_good_record_is_corruption_even_in_the_last_segment() {
        let mut buf = segment(3);
        buf[SEGMENT_HEADER_LEN + 20] ^= 0x40; // inside the first record
        let s = scan(&buf, true);
        assert!(
            matches!(&s.end, SegmentEnd::Corrupt { offset, .. } if *offset == SEGMENT_HEADER_LEN as u64),
            "{s:?}"
        );
    }

    #[test]
    fn flipped_byte_in_the_final_record_is_a_torn_tail() {
        let mut buf = segment(3);
        let n = buf.len();
        buf[n - 3] ^= 1;
        assert!(matches!(scan(&buf, true).end, SegmentEnd::Torn { .. }));
        assert!(matches!(scan(&buf, false).end, SegmentEnd::Corrupt { .. }));
    }

    #[test]
    fn zeros_after_the_last_record_are_a_clean_end() {
        for n in [0, 1, 3] {
            let mut buf = segment(n);
            let used = buf.len();
            for zeros in [1, 15, 16, 17, 4000] {
                buf.truncate(used);
                buf.resize(used + zeros, 0);
                for last in [true, false] {
                    let s = scan(&buf, last);
                    assert_eq!(s.end, SegmentEnd::Clean, "{n} records, {zeros} zeros");
                    assert_eq!((s.records, s.valid_len), (n, used as u64));
                    assert_eq!(s.file_len, buf.len() as u64);
                }
            }
        }
    }

    #[test]
    fn a_record_torn_over_zeros_is_a_torn_tail_and_data_after_zeros_is_not_clean() {
        let clean = segment(3);
        let used = clean.len();
        // The last record's final bytes never reached the zeros under them.
        let mut torn = clean.clone();
        torn[used - 5..].fill(0);
        torn.resize(used + 4096, 0);
        let s = scan(&torn, true);
        assert!(matches!(s.end, SegmentEnd::Torn { .. }), "{s:?}");
        assert_eq!(s.records, 2);
        assert!(matches!(scan(&torn, false).end, SegmentEnd::Corrupt { .. }));
        // Zeros where a record should start, then data: a later page written
        // back before an earlier one (torn) or damage (corrupt).
        let mut gap = clean.clone();
        gap.resize(used + 100, 0);
        gap.extend_from_slice(&[7; 30]);
        gap.resize(gap.len() + 1000, 0);
        let s = scan(&gap, true);
        assert!(
            matches!(s.end, SegmentEnd::Torn { offset, .. } if offset == used as u64),
            "{s:?}"
        );
        assert!(matches!(scan(&gap, false).end, SegmentEnd::Corrupt { .. }));
    }

    #[test]
    fn zeros_to_a_page_boundary_before_a_good_record_are_a_torn_tail() {
        // The page holding the end of the synced records was not written
        // back again, a later one was: zeros from the first unsynced record
        // to the page boundary, then good records.
        let mut buf = segment(3);
        let used = buf.len();
        let mut more = Vec::new();
        for s in 4..200u64 {
            let mut b = WriteBatch::new();
            b.put(format!("k{s}"), vec![s as u8; 20]);
            encode_record(&mut more, s, &b).unwrap();
        }
        buf.extend_from_slice(&more);
        let boundary = used.div_ceil(4096) * 4096;
        assert!(buf.len() > boundary + 200);
        buf[used..boundary].fill(0);
        let s = scan(&buf, true);
        assert!(
            matches!(&s.end, SegmentEnd::Torn { offset, .. } if *offset == used as u64),
            "{s:?}"
        );
        // Zeros that stop short of the boundary are a zeroed record: damage.
        let mut zeroed = segment(3);
        zeroed.extend_from_slice(&more);
        zeroed[used..used + 40].fill(0);
        let s = scan(&zeroed, true);
        assert!(matches!(s.end, SegmentEnd::Corrupt { .. }), "{s:?}");
    }

    #[test]
    fn a_whole_zero_page_before_a_good_record_is_a_torn_tail_only_in_the_last_segment() {
        // Pages written back out of order before a crash: a good record can
        // follow an aligned page that never reached the disk.
        let mut buf = segment(3);
        let hole = buf.len().div_ceil(4096) * 4096;
        buf.resize(hole + 4096, 0);
        let mut b = WriteBatch::new();
        b.put(&b"late"[..], vec![9u8; 20]);
        encode_record(&mut buf, 5, &b).unwrap();
        let s = scan(&buf, true);
        assert!(matches!(s.end, SegmentEnd::Torn { .. }), "{s:?}");
        assert_eq!(s.records, 3);
        assert!(matches!(scan(&buf, false).end, SegmentEnd::Corrupt { .. }));
        // Without the whole zero page it is damage, not a torn tail.
        let mut short = segment(3);
        let used = short.len();
        short.resize(used + 100, 0);
        encode_record(&mut short, 5, &b).unwrap();
        let s = scan(&short, true);
        assert!(
            matches!(&s.end, SegmentEnd::Corrupt { offset, .. } if *offset == used as u64),
            "{s:?}"
        );
    }

    #[test]
    fn header_problems() {
        let mut bad_magic = segment(1);
        bad_magic[0] = b'X';
        assert!(matches!(
            scan(&bad_magic, true).end,
            SegmentEnd::Corrupt { offset: 0, .. }
        ));
        let mut v2 = segment(1);
        v2[8..12].copy_from_slice(&2u32.to_le_bytes());
        let crc = crc32fast::hash(&v2[..12]);
        v2[12..16].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(scan(&v2, true).end, SegmentEnd::Unsupported { found: 2 });
        let mut bad_crc = segment(1);
        bad_crc[13] ^= 1;
        assert!(matches!(
            scan(&bad_crc, true).end,
            SegmentEnd::Corrupt { offset: 0, .. }
        ));
    }
}
