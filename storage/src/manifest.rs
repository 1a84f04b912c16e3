//! The manifest: which SSTs make up each level, the next file number and
//! the highest sequence number that is safely in SSTs.
//!
//! It is rewritten whole on every change — small (a few dozen bytes per
//! table) and rare (once per flush or compaction) — and replaced atomically:
//! write `MANIFEST.tmp`, fsync it, rename it over `MANIFEST`, fsync the
//! directory. A reader therefore sees the old manifest or the new one, never
//! a mix. The layout (format version 1) is in `docs/format.md`.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::io::Io;
use crate::sst::TableMeta;
use crate::types::Seqno;

/// The manifest format version this build writes and reads.
pub(crate) const MANIFEST_VERSION: u32 = 1;
const MAGIC: &[u8; 8] = b"FSTYMANI";
/// magic + version + body length + body crc.
const HEADER_LEN: usize = 8 + 4 + 4 + 4;

/// The manifest's file name in a data directory.
pub const MANIFEST_FILE: &str = "MANIFEST";
pub(crate) const MANIFEST_TMP: &str = "MANIFEST.tmp";

/// One table as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TableRecord {
    pub id: u64,
    pub meta: TableMeta,
}

/// The durable description of the engine's files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    /// The next SST file number to hand out.
    pub next_file_id: u64,
    /// Every version with a seqno `<=` this is in the SSTs listed here.
    pub flushed_seqno: Seqno,
    /// Tables per level; level 0 newest first, deeper levels by key.
    pub levels: Vec<Vec<TableRecord>>,
}

/// What a manifest lists: for tools that copy a data directory without
/// opening the engine (a backup while a server runs on it).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LiveFiles {
    /// Every version with a seqno `<=` this is in `tables`.
    pub flushed_seqno: Seqno,
    /// The SST file names (relative to the data directory), every level.
    pub tables: Vec<PathBuf>,
}

/// Decodes the bytes of a manifest (read from `path`, named in errors)
/// into the files it lists. SSTs are immutable, so a copy of every listed
/// file plus these bytes is a consistent engine image, provided no listed
/// file was deleted (by a compaction) before it was copied.
pub fn live_files(manifest: &[u8], path: &Path) -> Result<LiveFiles> {
    let m = Manifest::decode(manifest, path)?;
    Ok(LiveFiles {
        flushed_seqno: m.flushed_seqno,
        tables: m
            .levels
            .iter()
            .flatten()
            .map(|t| PathBuf::from(format!("{:012}.sst", t.id)))
            .collect(),
    })
}

pub(crate) fn sst_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:012}.sst"))
}

/// The table number in an SST file name, if `path` is one.
pub(crate) fn parse_sst_name(path: &Path) -> Option<u64> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".sst")?;
    if stem.len() != 12 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

impl Manifest {
    /// Reads `dir/MANIFEST`; `Ok(None)` when there is none (a new engine).
    pub(crate) fn load(io: &dyn Io, dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(MANIFEST_FILE);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = io.read(&path)?;
        Manifest::decode(&bytes, &path).map(Some)
    }

    /// Writes the manifest durably and atomically replaces the old one.
    pub(crate) fn store(&self, io: &dyn Io, dir: &Path) -> Result<()> {
        let tmp = dir.join(MANIFEST_TMP);
        let mut file = io.create(&tmp)?;
        file.append(self.encode())?;
        file.sync()?;
        drop(file);
        io.rename(&tmp, &dir.join(MANIFEST_FILE))?;
        io.sync_dir(dir)
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&self.next_file_id.to_le_bytes());
        body.extend_from_slice(&self.flushed_seqno.to_le_bytes());
        body.extend_from_slice(&(self.levels.len() as u32).to_le_bytes());
        for level in &self.levels {
            body.extend_from_slice(&(level.len() as u32).to_le_bytes());
            for t in level {
                for n in [
                    t.id,
                    t.meta.file_size,
                    t.meta.entries,
                    t.meta.min_seqno,
                    t.meta.max_seqno,
                ] {
                    body.extend_from_slice(&n.to_le_bytes());
                }
                for k in [&t.meta.min_key, &t.meta.max_key] {
                    body.extend_from_slice(&(k.len() as u32).to_le_bytes());
                    body.extend_from_slice(k);
                }
            }
        }
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&MANIFEST_VERSION.to_le_bytes());
        out.extend_from_slice(&(body.len() as u32).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<Manifest> {
        let corrupt = |offset: usize, why: &str| Error::corruption(path, offset as u64, why);
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(corrupt(0, "not a manifest (bad magic or too short)"));
        }
        let mut r = Reader { bytes, pos: 8 };
        let version = r.u32().ok_or_else(|| corrupt(8, "truncated header"))?;
        if version != MANIFEST_VERSION {
            return Err(Error::UnsupportedVersion {
                path: path.to_path_buf(),
                found: version,
                supported: MANIFEST_VERSION,
            });
        }
        let len = r.u32().ok_or_else(|| corrupt(12, "truncated header"))? as usize;
        let crc = r.u32().ok_or_else(|| corrupt(16, "truncated header"))?;
        let body = bytes
            .get(HEADER_LEN..)
            .filter(|b| b.len() == len)
            .ok_or_else(|| corrupt(HEADER_LEN, "body length does not match header"))?;
        if !crate::types::checksum_ok(crc32fast::hash(body), crc) {
            return Err(corrupt(HEADER_LEN, "checksum mismatch"));
        }
        let mut r = Reader {
            bytes: body,
            pos: 0,
        };
        let bad = |r: &Reader<'_>| corrupt(HEADER_LEN + r.pos, "malformed manifest body");
        let next_file_id = r.u64().ok_or_else(|| bad(&r))?;
        let flushed_seqno = r.u64().ok_or_else(|| bad(&r))?;
        let nlevels = r.u32().ok_or_else(|| bad(&r))?;
        let mut levels = Vec::new();
        for _ in 0..nlevels {
            let n = r.u32().ok_or_else(|| bad(&r))?;
            let mut level = Vec::new();
            for _ in 0..n {
                let mut nums = [0u64; 5];
                for x in &mut nums {
                    *x = r.u64().ok_or_else(|| bad(&r))?;
                }
                let min_key = r.bytes().ok_or_else(|| bad(&r))?;
                let max_key = r.bytes().ok_or_else(|| bad(&r))?;
                let [id, file_size, entries, min_seqno, max_seqno] = nums;
                level.push(TableRecord {
                    id,
                    meta: TableMeta {
                        file_size,
                        entries,
                        min_key,
                        max_key,
                        min_seqno,
                        max_seqno,
                    },
                });
            }
            levels.push(level);
        }
        if r.pos != body.len() {
            return Err(bad(&r));
        }
        Ok(Manifest {
            next_file_id,
            flushed_seqno,
            levels,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn bytes(&mut self) -> Option<Bytes> {
        let n = self.u32()? as usize;
        Some(Bytes::copy_from_slice(self.take(n)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        let t = |id: u64, lo: &str, hi: &str| TableRecord {
            id,
            meta: TableMeta {
                file_size: 100 + id,
                entries: 10,
                min_key: Bytes::copy_from_slice(lo.as_bytes()),
                max_key: Bytes::copy_from_slice(hi.as_bytes()),
                min_seqno: 1,
                max_seqno: 9,
            },
        };
        Manifest {
            next_file_id: 7,
            flushed_seqno: 42,
            levels: vec![
                vec![t(5, "a", "z"), t(4, "b", "c")],
                vec![],
                vec![t(1, "", "zz")],
            ],
        }
    }

    #[test]
    fn live_files_lists_every_table_and_the_flushed_seqno() {
        let live = live_files(&sample().encode(), Path::new("M")).unwrap();
        assert_eq!(live.flushed_seqno, 42);
        let names: Vec<_> = live.tables.iter().map(|p| p.to_str().unwrap()).collect();
        assert_eq!(
            names,
            ["000000000005.sst", "000000000004.sst", "000000000001.sst"]
        );
        assert!(live_files(b"garbage", Path::new("M")).is_err());
    }

    #[test]
    fn round_trip() {
        let m = sample();
        assert_eq!(Manifest::decode(&m.encode(), Path::new("M")).unwrap(), m);
    }

    #[test]
    fn every_flipped_byte_and_truncation_is_detected() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x40;
            assert!(
                Manifest::decode(&b, Path::new("M")).is_err(),
                "flip at {i} not detected"
            );
            assert!(
                Manifest::decode(&bytes[..i], Path::new("M")).is_err(),
                "truncation at {i}"
            );
        }
    }

    #[test]
    fn unknown_version_is_a_clear_error() {
        let mut b = sample().encode();
        b[8..12].copy_from_slice(&99u32.to_le_bytes());
        match Manifest::decode(&b, Path::new("M")) {
            Err(Error::UnsupportedVersion { found: 99, .. }) => {}
            other => panic!("expected UnsupportedVersion, got {other:?}"),
        }
    }

    #[test]
    fn sst_names_round_trip() {
        let p = sst_path(Path::new("/d"), 42);
        assert_eq!(parse_sst_name(&p), Some(42));
        assert_eq!(parse_sst_name(Path::new("/d/MANIFEST")), None);
        assert_eq!(parse_sst_name(Path::new("/d/42.sst")), None);
    }
}
