//! Checking and repairing an engine's files without opening it:
//! [`verify_dir`] reads every block of every table and reports each damaged
//! one; [`rebuild_manifest`] writes a new manifest from the tables found
//! when the old one is lost or unreadable.
//!
//! The procedures are described in `docs/recovery.md` ("Verify" and
//! "Rebuilding a lost manifest").

use std::fmt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::dir::lock_dir;
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::io::{Io, open_backend};
use crate::manifest::{
    MANIFEST_FILE, MANIFEST_TMP, Manifest, TableRecord, parse_sst_name, sst_path,
};
use crate::options::Options;
use crate::sst::{TableMeta, TablePart, check_table};
use crate::types::Seqno;

/// The folder of a data directory that repair moves damaged files into
/// (never deleting them).
pub const LOST_AND_FOUND: &str = "lost+found";

/// Which part of the engine's files a [`Finding`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Part {
    /// The manifest: missing while tables exist, or unreadable.
    Manifest,
    /// A whole table file: missing, unreadable, or not the table the
    /// manifest describes.
    Table,
    /// A table's footer (its data blocks cannot be located).
    Footer,
    /// A table's bloom filter block.
    Filter,
    /// A table's index block (its data blocks cannot be located).
    Index,
    /// A table's properties block.
    Properties,
    /// One data block of a table.
    DataBlock,
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Part::Manifest => "manifest",
            Part::Table => "table file",
            Part::Footer => "table footer",
            Part::Filter => "bloom filter block",
            Part::Index => "index block",
            Part::Properties => "properties block",
            Part::DataBlock => "data block",
        })
    }
}

impl From<TablePart> for Part {
    fn from(p: TablePart) -> Part {
        match p {
            TablePart::Footer => Part::Footer,
            TablePart::Filter => Part::Filter,
            TablePart::Index => Part::Index,
            TablePart::Properties => Part::Properties,
            TablePart::Data => Part::DataBlock,
        }
    }
}

/// One damaged part found by [`verify_dir`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The file.
    pub path: PathBuf,
    /// Byte offset of the bad block within the file (0 for a whole file).
    pub offset: u64,
    /// Which part is damaged.
    pub part: Part,
    /// What is wrong, in a few words.
    pub reason: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "damaged {} in {} at offset {}: {}",
            self.part,
            self.path.display(),
            self.offset,
            self.reason
        )
    }
}

/// What [`verify_dir`] found.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct VerifyReport {
    /// Table files read.
    pub tables: usize,
    /// Data blocks read.
    pub data_blocks: u64,
    /// Every damaged part, table by table (by file id).
    pub findings: Vec<Finding>,
}

impl VerifyReport {
    /// Whether nothing is damaged.
    pub fn is_clean(&self) -> bool {
        self.findings.is_empty()
    }
}

/// Reads the engine's files in `dir` and reports every damaged part it can
/// find, changing nothing (the engine is not opened, no lock is taken).
///
/// With a readable manifest, every table it lists is read whole: footer,
/// filter, index and properties blocks, then each data block (checksum,
/// decompression, entries in order and within the table's key and
/// sequence ranges, keys present in the filter); a table that is missing
/// or whose properties differ from the manifest's record is a finding too.
/// Tables the manifest does not list are left out (the engine removes them
/// at open). Without a manifest, a directory that holds tables has lost it
/// (a finding) and every table is read; one without tables is fine (a new
/// engine, or a log not yet flushed).
///
/// An engine running on `dir` may replace its manifest and remove tables
/// meanwhile: when a listed table went missing and the manifest changed
/// during the read, the read is done again (up to three times).
pub fn verify_dir(dir: impl AsRef<Path>) -> Result<VerifyReport> {
    let dir = dir.as_ref();
    let manifest = || std::fs::read(dir.join(MANIFEST_FILE)).ok();
    let mut attempt = 1;
    loop {
        let before = manifest();
        let report = verify_once(dir)?;
        let raced = report.findings.iter().any(|f| f.part == Part::Table) && manifest() != before;
        if !raced || attempt == 3 {
            return Ok(report);
        }
        attempt += 1;
    }
}

fn verify_once(dir: &Path) -> Result<VerifyReport> {
    let mut report = VerifyReport::default();
    if !dir.is_dir() {
        return Ok(report);
    }
    let io = crate::io::std_fs::StdIo::new();
    let mut found: Vec<(u64, PathBuf)> = io
        .list(dir)?
        .into_iter()
        .filter_map(|p| parse_sst_name(&p).map(|id| (id, p)))
        .collect();
    found.sort();
    let manifest_path = dir.join(MANIFEST_FILE);
    let listed: Option<Vec<TableRecord>> = match Manifest::load(&io, dir) {
        Ok(Some(m)) => Some(m.levels.into_iter().flatten().collect()),
        Ok(None) => {
            // What `Engine::open` takes for a lost manifest.
            let tmp = dir.join(MANIFEST_TMP);
            let in_tmp = io
                .read(&tmp)
                .ok()
                .and_then(|b| Manifest::decode(&b, &tmp).ok())
                .map_or(0, |m| m.levels.iter().map(Vec::len).sum::<usize>());
            let sign = if !found.is_empty() {
                Some(format!("{} table file(s)", found.len()))
            } else {
                (in_tmp > 0).then(|| format!("a {MANIFEST_TMP} listing {in_tmp} table(s)"))
            };
            if let Some(sign) = sign {
                report.findings.push(Finding {
                    path: manifest_path,
                    offset: 0,
                    part: Part::Manifest,
                    reason: format!(
                        "missing while the directory holds {sign}: run `fasty admin repair` to rebuild it"
                    ),
                });
            }
            None
        }
        Err(e) => {
            let (offset, reason) = match e {
                Error::Corruption { offset, reason, .. } => (offset, reason),
                other => (0, other.to_string()),
            };
            report.findings.push(Finding {
                path: manifest_path,
                offset,
                part: Part::Manifest,
                reason,
            });
            None
        }
    };
    let tables: Vec<(PathBuf, Option<TableMeta>)> = match listed {
        Some(mut records) => {
            records.sort_by_key(|r| r.id);
            records
                .into_iter()
                .map(|r| (sst_path(dir, r.id), Some(r.meta)))
                .collect()
        }
        None => found.into_iter().map(|(_, p)| (p, None)).collect(),
    };
    for (path, expected) in tables {
        let bytes = match std::fs::read(&path) {
            Ok(b) => Bytes::from(b),
            Err(e) => {
                let reason = if e.kind() == std::io::ErrorKind::NotFound {
                    "listed in the manifest but missing".to_string()
                } else {
                    format!("cannot be read: {e}")
                };
                report.findings.push(Finding {
                    path,
                    offset: 0,
                    part: Part::Table,
                    reason,
                });
                continue;
            }
        };
        report.tables += 1;
        let check = check_table(&path, &bytes);
        report.data_blocks += check.data_blocks;
        if let (Some(want), Some(got)) = (&expected, &check.meta)
            && want != got
        {
            report.findings.push(Finding {
                path: path.clone(),
                offset: 0,
                part: Part::Table,
                reason: "table properties disagree with the manifest".into(),
            });
        }
        report
            .findings
            .extend(check.problems.into_iter().map(|p| Finding {
                path: path.clone(),
                offset: p.offset,
                part: p.part.into(),
                reason: p.reason,
            }));
    }
    Ok(report)
}

/// A file [`rebuild_manifest`] moved into [`LOST_AND_FOUND`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MovedAside {
    /// Where it was.
    pub from: PathBuf,
    /// Where it is now.
    pub to: PathBuf,
    /// Why it was not used, in a few words.
    pub reason: String,
}

/// What [`rebuild_manifest`] did.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RebuildReport {
    /// Whether a new manifest was written (false: the manifest was sound,
    /// or the directory holds no engine yet; nothing was changed).
    pub rebuilt: bool,
    /// Sound tables the new manifest is built from.
    pub tables: usize,
    /// Whether their key ranges overlapped, so that they were merged
    /// (newest version of each key kept) into one sorted level.
    pub merged: bool,
    /// The flushed sequence number recorded: the highest one in the sound
    /// tables. A write-ahead log replays what follows it.
    pub flushed_seqno: Seqno,
    /// Damaged files, the unreadable manifest and a stray `MANIFEST.tmp`,
    /// moved into [`LOST_AND_FOUND`] rather than deleted.
    pub moved_aside: Vec<MovedAside>,
}

impl fmt::Display for RebuildReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.rebuilt {
            return f.write_str("the manifest is sound: nothing to rebuild");
        }
        write!(
            f,
            "rebuilt the manifest from {} table file(s){}, flushed sequence number {}",
            self.tables,
            if self.merged {
                " (merged into one level)"
            } else {
                ""
            },
            self.flushed_seqno
        )?;
        for m in &self.moved_aside {
            write!(
                f,
                "; moved {} to {} ({})",
                m.from.display(),
                m.to.display(),
                m.reason
            )?;
        }
        Ok(())
    }
}

/// Rebuilds the manifest of the engine in `dir` from the tables there,
/// when it is missing or does not decode; a sound manifest (or a directory
/// with no tables and no manifest, a new engine) is left alone.
///
/// Every `NNNNNNNNNNNN.sst` is read whole as [`verify_dir`] reads it; a
/// table with any damage is moved into `dir/lost+found` (never deleted),
/// as are an undecodable `MANIFEST` and a `MANIFEST.tmp`. Sound tables
/// whose key ranges do not overlap become level 1 as they are; otherwise
/// they are merged (as a full compaction does, so that the newest version
/// of each key wins whatever levels they came from) into one sorted level,
/// which replaces them. The flushed sequence number becomes the highest in
/// the sound tables, so a write-ahead log replays exactly what follows.
/// Table files that a crash left behind after a compaction had already
/// merged them can bring back versions that compaction had dropped (see
/// `docs/recovery.md`).
///
/// Takes the directory lock (the engine must not be open elsewhere) and
/// uses `opts` for the I/O backend and the tables it writes (background
/// threads are not started). A manifest of an unknown format version is
/// [`Error::UnsupportedVersion`] and is not touched.
pub fn rebuild_manifest(dir: impl AsRef<Path>, opts: Options) -> Result<RebuildReport> {
    let dir = dir.as_ref().to_path_buf();
    if opts.memory_only {
        return Err(Error::InvalidArgument(
            "a memory-only engine has no manifest to rebuild".into(),
        ));
    }
    let opts = opts.with_background(false);
    let io = match &opts.custom_io {
        Some(io) => io.clone(),
        None => open_backend(opts.io)?,
    };
    if !dir.is_dir() {
        return Ok(RebuildReport::default());
    }
    let lock_file = lock_dir(&dir)?;
    let mut report = RebuildReport::default();
    let mut aside: Vec<(PathBuf, String)> = Vec::new();
    match Manifest::load(io.as_ref(), &dir) {
        Ok(Some(_)) => return Ok(report),
        Ok(None) => {}
        Err(Error::Corruption { offset, reason, .. }) => aside.push((
            dir.join(MANIFEST_FILE),
            format!("unreadable manifest (offset {offset}: {reason})"),
        )),
        Err(e) => return Err(e),
    }
    let mut ssts: Vec<(u64, PathBuf)> = Vec::new();
    for path in io.list(&dir)? {
        if let Some(id) = parse_sst_name(&path) {
            ssts.push((id, path));
        } else if path.file_name().is_some_and(|n| n == MANIFEST_TMP) {
            aside.push((path, "an unfinished manifest write".into()));
        }
    }
    ssts.sort();
    if ssts.is_empty() && aside.is_empty() {
        // A new engine: `Engine::open` creates its manifest.
        return Ok(report);
    }
    let mut good: Vec<TableRecord> = Vec::new();
    for (id, path) in &ssts {
        let check = io
            .read(path)
            .map(|b| check_table(path, &Bytes::from(b)))
            .map_err(|e| e.to_string());
        match check {
            Ok(c) if c.problems.is_empty() => match c.meta {
                Some(meta) => good.push(TableRecord { id: *id, meta }),
                None => aside.push((path.clone(), "table without properties".into())),
            },
            Ok(c) => {
                let first = &c.problems[0];
                let reason = format!(
                    "{} damaged part(s), the first a {} at offset {}: {}",
                    c.problems.len(),
                    Part::from(first.part),
                    first.offset,
                    first.reason
                );
                aside.push((path.clone(), reason));
            }
            Err(e) => aside.push((path.clone(), format!("unreadable: {e}"))),
        }
    }
    if !aside.is_empty() {
        let lost = dir.join(LOST_AND_FOUND);
        io.create_dir_all(&lost)?;
        for (from, reason) in aside {
            let to = free_name(&lost, &from);
            io.rename(&from, &to)?;
            tracing::warn!(from = %from.display(), to = %to.display(), reason = %reason, "repair: moved a damaged file aside");
            report.moved_aside.push(MovedAside { from, to, reason });
        }
        io.sync_dir(&lost)?;
        io.sync_dir(&dir)?;
    }
    let manifest = layout(&mut good, ssts.last().map_or(1, |(id, _)| id + 1));
    report.rebuilt = true;
    report.tables = good.len();
    report.merged = manifest.levels[0].len() > 1;
    report.flushed_seqno = manifest.flushed_seqno;
    let engine = Engine::start(dir.clone(), opts, io, lock_file, &manifest, false)?;
    if report.merged {
        engine.compact()?;
    } else {
        engine.store_current_manifest()?;
    }
    engine.close()?;
    tracing::warn!(
        dir = %dir.display(),
        tables = report.tables,
        flushed_seqno = report.flushed_seqno,
        merged = report.merged,
        "repair: rebuilt the manifest from the table files"
    );
    Ok(report)
}

/// The manifest for the sound `tables`: in level 1 sorted by key when no
/// two overlap, else all in level 0 (newest first by highest sequence
/// number, for a merge that does not depend on that order).
fn layout(tables: &mut [TableRecord], next_file_id: u64) -> Manifest {
    let flushed_seqno = tables.iter().map(|t| t.meta.max_seqno).max().unwrap_or(0);
    tables.sort_by(|a, b| a.meta.min_key.cmp(&b.meta.min_key));
    let disjoint = tables
        .windows(2)
        .all(|w| w[0].meta.max_key < w[1].meta.min_key);
    let mut levels = vec![Vec::new(); crate::version::NUM_LEVELS];
    if disjoint {
        levels[1] = tables.to_vec();
    } else {
        let mut l0 = tables.to_vec();
        l0.sort_by_key(|t| std::cmp::Reverse((t.meta.max_seqno, t.id)));
        levels[0] = l0;
    }
    Manifest {
        next_file_id,
        flushed_seqno,
        levels,
    }
}

/// `dir/<name of file>`, or with `.1`, `.2`, … appended if taken.
fn free_name(dir: &Path, file: &Path) -> PathBuf {
    let name = file
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_os_string());
    let mut to = dir.join(&name);
    let mut n = 1u32;
    while to.exists() {
        let mut with = name.clone();
        with.push(format!(".{n}"));
        to = dir.join(with);
        n += 1;
    }
    to
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WriteBatch;
    use crate::cache::BlockCache;
    use crate::io::std_fs::StdIo;
    use crate::sst::Table;
    use std::sync::Arc;

    fn options() -> Options {
        Options::default()
            .with_block_size(256)
            .with_background(false)
            .with_l0_compaction_trigger(10)
    }

    /// Three tables of 300 keys each (many data blocks); returns their
    /// paths and the (offset, stored length) of every data block of each.
    fn build(dir: &Path) -> Vec<(PathBuf, Vec<(u64, u64)>)> {
        let engine = Engine::open(dir, options()).unwrap();
        for seqno in 1..=3u64 {
            let mut b = WriteBatch::new();
            for i in 0..300 {
                b.put(format!("k{seqno}-{i:04}").into_bytes(), vec![b'v'; 20]);
            }
            engine.apply(&b, seqno).unwrap();
            engine.flush().unwrap();
        }
        engine.close().unwrap();
        let io: Arc<dyn Io> = Arc::new(StdIo::new());
        let mut out: Vec<_> = io
            .list(dir)
            .unwrap()
            .into_iter()
            .filter_map(|p| parse_sst_name(&p).map(|id| (id, p)))
            .map(|(id, p)| {
                let t = Table::open(&p, id, Arc::new(BlockCache::new(0)), io.clone()).unwrap();
                let blocks = t.block_handles();
                (p, blocks)
            })
            .collect();
        out.sort();
        assert_eq!(out.len(), 3);
        out
    }

    fn flip(path: &Path, at: u64) {
        let mut b = std::fs::read(path).unwrap();
        b[at as usize] ^= 0x20;
        std::fs::write(path, b).unwrap();
    }

    fn damaged(r: &VerifyReport) -> Vec<(PathBuf, u64, Part)> {
        r.findings
            .iter()
            .map(|f| (f.path.clone(), f.offset, f.part))
            .collect()
    }

    #[test]
    fn a_sound_engine_verifies_clean() {
        let dir = tempfile::tempdir().unwrap();
        let tables = build(dir.path());
        let r = verify_dir(dir.path()).unwrap();
        assert!(r.is_clean(), "{:?}", r.findings);
        assert_eq!(r.tables, 3);
        let blocks: usize = tables.iter().map(|(_, b)| b.len()).sum();
        assert_eq!(r.data_blocks, blocks as u64);
    }

    #[test]
    fn one_damaged_data_block_in_the_middle_is_reported_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let tables = build(dir.path());
        let (path, blocks) = &tables[1];
        assert!(blocks.len() > 4);
        let (offset, len) = blocks[blocks.len() / 2];
        flip(path, offset + len / 2);
        let r = verify_dir(dir.path()).unwrap();
        assert_eq!(damaged(&r), [(path.clone(), offset, Part::DataBlock)]);
        assert!(
            r.findings[0].reason.contains("checksum"),
            "{}",
            r.findings[0]
        );
        // Every block was still read.
        let all: usize = tables.iter().map(|(_, b)| b.len()).sum();
        assert_eq!(r.data_blocks, all as u64);
    }

    #[test]
    fn every_damaged_block_is_reported_not_just_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let tables = build(dir.path());
        let (p0, b0) = &tables[0];
        let (p2, b2) = &tables[2];
        flip(p0, b0[1].0 + 3);
        flip(p2, b2[b2.len() - 2].0 + 5);
        flip(p2, b2[b2.len() - 1].0 + 5);
        let r = verify_dir(dir.path()).unwrap();
        assert_eq!(
            damaged(&r),
            [
                (p0.clone(), b0[1].0, Part::DataBlock),
                (p2.clone(), b2[b2.len() - 2].0, Part::DataBlock),
                (p2.clone(), b2[b2.len() - 1].0, Part::DataBlock),
            ]
        );
    }

    #[test]
    fn damaged_meta_blocks_and_footers_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let tables = build(dir.path());
        // Table 0: a byte of the filter, which starts where data ends.
        let (p0, b0) = &tables[0];
        let (last_off, last_len) = b0[b0.len() - 1];
        let filter_at = last_off + last_len;
        flip(p0, filter_at + 3);
        // Table 2: its footer.
        let (p2, _) = &tables[2];
        let len = std::fs::metadata(p2).unwrap().len();
        flip(p2, len - 30);
        let r = verify_dir(dir.path()).unwrap();
        let parts: Vec<_> = r
            .findings
            .iter()
            .map(|f| (f.path.clone(), f.part))
            .collect();
        assert_eq!(
            parts,
            [(p0.clone(), Part::Filter), (p2.clone(), Part::Footer)],
            "{:?}",
            r.findings
        );
        assert_eq!(r.findings[0].offset, filter_at);
    }

    #[test]
    fn damaged_compressed_blocks_are_found_too() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(
            dir.path(),
            options().with_compress_from_level(0).with_zstd_level(3),
        )
        .unwrap();
        let mut b = WriteBatch::new();
        for i in 0..400 {
            b.put(
                format!("k{i:04}").into_bytes(),
                format!("value {i}").repeat(4),
            );
        }
        engine.apply(&b, 1).unwrap();
        engine.close().unwrap();
        assert!(verify_dir(dir.path()).unwrap().is_clean());
        let io: Arc<dyn Io> = Arc::new(StdIo::new());
        let path = sst_path(dir.path(), 1);
        let t = Table::open(&path, 1, Arc::new(BlockCache::new(0)), io).unwrap();
        let blocks = t.block_handles();
        drop(t);
        let (offset, len) = blocks[blocks.len() / 2];
        flip(&path, offset + len / 2);
        let r = verify_dir(dir.path()).unwrap();
        assert_eq!(damaged(&r), [(path, offset, Part::DataBlock)]);
    }

    #[test]
    fn a_missing_manifest_or_table_is_a_finding() {
        let dir = tempfile::tempdir().unwrap();
        let tables = build(dir.path());
        std::fs::remove_file(&tables[1].0).unwrap();
        let r = verify_dir(dir.path()).unwrap();
        assert_eq!(damaged(&r), [(tables[1].0.clone(), 0, Part::Table)]);
        std::fs::remove_file(dir.path().join(MANIFEST_FILE)).unwrap();
        let r = verify_dir(dir.path()).unwrap();
        assert_eq!(
            damaged(&r),
            [(dir.path().join(MANIFEST_FILE), 0, Part::Manifest)]
        );
        assert_eq!(r.tables, 2);
        // Verify changes nothing: no manifest was created.
        assert!(!dir.path().join(MANIFEST_FILE).exists());
        // A manifest.tmp listing tables, the tables gone: still lost.
        let m = layout(
            &mut [TableRecord {
                id: 1,
                meta: TableMeta {
                    file_size: 1,
                    entries: 1,
                    min_key: Bytes::from_static(b"a"),
                    max_key: Bytes::from_static(b"a"),
                    min_seqno: 1,
                    max_seqno: 1,
                },
            }],
            2,
        );
        std::fs::write(dir.path().join(MANIFEST_TMP), m.encode()).unwrap();
        for (p, _) in &tables {
            let _ = std::fs::remove_file(p);
        }
        let r = verify_dir(dir.path()).unwrap();
        assert_eq!(
            damaged(&r),
            [(dir.path().join(MANIFEST_FILE), 0, Part::Manifest)]
        );
        assert!(r.findings[0].reason.contains("MANIFEST.tmp"));
        std::fs::remove_file(dir.path().join(MANIFEST_TMP)).unwrap();
        assert!(verify_dir(dir.path()).unwrap().is_clean());
    }
}
