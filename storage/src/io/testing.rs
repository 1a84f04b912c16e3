//! Test backends: [`SimIo`] wraps a real backend, injects faults at chosen
//! steps and simulates a crash by rewriting the directories it has seen to
//! their *durable* image, the state a POSIX file system is only guaranteed
//! to keep after power loss.
//!
//! The model is deliberately conservative:
//! - a file's content is durable only as of its last successful
//!   [`WritableFile::sync`] (a brand-new file's durable content is empty);
//! - a directory's names (creations, renames, removals) are durable only as
//!   of the last successful [`Io::sync_dir`] on that directory, and a file
//!   fsync does not make its name durable;
//! - files that already exist in a directory when [`SimIo`] first touches it
//!   (or after [`SimIo::restore_durable_image`]) are durable as they are.
//!
//! Directories themselves are not modelled: [`Io::create_dir_all`] is passed
//! through and created directories survive a simulated crash.
//!
//! Compiled only for this crate's unit tests and with the `test-util`
//! feature, which integration tests of this and later crates enable through
//! their dev-dependencies; nothing in the engine depends on it, and release
//! builds do not contain it.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;

use super::{Io, WritableFile};
use crate::error::{Error, Result};

/// A fault armed with [`SimIo::inject`] for one numbered operation.
///
/// A fault other than `Crash` that lands on an operation of another kind
/// (say `FailSync` on a `create`) makes that operation fail without doing
/// anything, so a test can sweep one fault over every step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// The append returns an error and writes nothing.
    FailWrite,
    /// The append writes only the first half of the buffer (rounded down),
    /// then returns an error.
    ShortWrite,
    /// The sync (file or directory) returns an error; nothing becomes
    /// durable.
    FailSync,
    /// The disk is full: the operation fails with `ENOSPC` ("no space left
    /// on device"); an append first writes the first half of the buffer
    /// (rounded down), as a write that runs out of space part way does.
    NoSpace,
    /// The operation and every later one (reads included) fail with
    /// "simulated crash": the process is dead until
    /// [`SimIo::restore_durable_image`].
    Crash,
}

/// What a simulated crash does to bytes appended but not yet synced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Torn {
    /// Every file is restored to exactly its durable content.
    DropUnsynced,
    /// A file written since its last sync keeps a pseudo-random prefix
    /// (possibly empty, possibly all) of the bytes written from the first
    /// one that differs from its durable content, chosen from the seed: a
    /// torn tail, as after a crash in the middle of write-back. That covers
    /// appends and overwrites (of space written ahead with
    /// [`WritableFile::rewind_to`]); beyond the kept prefix an overwritten
    /// file keeps its durable bytes. A file cut since its last sync
    /// (truncated below its durable length, or created over) gets its
    /// durable content.
    KeepPrefix(u64),
}

/// An inode-like identity, so renames and removals keep track of content.
type FileId = u64;

/// Content of one file identity.
#[derive(Debug, Default)]
struct FileState {
    /// What has been written (the shadow of the real file).
    live: Vec<u8>,
    /// What the last successful sync made durable.
    durable: Vec<u8>,
    /// Whether the file was cut (truncated below its durable length or
    /// created over) since its last sync: a crash then keeps the durable
    /// content whole rather than tearing.
    cut: bool,
}

/// Names in one directory.
#[derive(Debug, Default)]
struct DirState {
    live: BTreeMap<OsString, FileId>,
    durable: BTreeMap<OsString, FileId>,
}

/// The kind of a counted operation, for matching faults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Append,
    Sync,
    Other,
}

#[derive(Debug, Default)]
struct State {
    ops: u64,
    faults: BTreeMap<u64, FaultKind>,
    crashed: bool,
    /// [`SimIo::set_disk_full`].
    disk_full: bool,
    /// Bumped by every restore; file handles from an earlier epoch are dead.
    epoch: u64,
    next_id: FileId,
    files: HashMap<FileId, FileState>,
    dirs: BTreeMap<PathBuf, DirState>,
}

fn crash_error(path: &Path) -> Error {
    Error::io(path, io::Error::other("simulated crash"))
}

fn fault_error(path: &Path, kind: FaultKind) -> Error {
    if kind == FaultKind::NoSpace {
        return Error::io(path, io::Error::from_raw_os_error(libc::ENOSPC));
    }
    let what = match kind {
        FaultKind::NoSpace => "simulated full disk",
        FaultKind::FailWrite => "simulated write failure",
        FaultKind::ShortWrite => "simulated short write",
        FaultKind::FailSync => "simulated sync failure",
        FaultKind::Crash => "simulated crash",
    };
    Error::io(path, io::Error::other(what))
}

/// Splits a file path into its directory and name.
fn split(path: &Path) -> Result<(PathBuf, OsString)> {
    let name = path.file_name().ok_or_else(|| {
        Error::io(
            path,
            io::Error::new(ErrorKind::InvalidInput, "path has no file name"),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((dir, name.to_os_string()))
}

impl State {
    /// Counts one operation and decides whether it runs: `Ok(Some(kind))`
    /// means "append only half, then fail with `kind`" (a `ShortWrite` or
    /// `NoSpace` on an append, or any append while the disk is full).
    fn begin(&mut self, path: &Path, op: Op) -> Result<Option<FaultKind>> {
        let n = self.ops;
        self.ops += 1;
        if self.crashed {
            return Err(crash_error(path));
        }
        match self.faults.remove(&n) {
            None if self.disk_full && op == Op::Append => Ok(Some(FaultKind::NoSpace)),
            None => Ok(None),
            Some(FaultKind::Crash) => {
                self.crashed = true;
                Err(crash_error(path))
            }
            Some(kind @ (FaultKind::ShortWrite | FaultKind::NoSpace)) if op == Op::Append => {
                Ok(Some(kind))
            }
            Some(kind) => Err(fault_error(path, kind)),
        }
    }

    /// Fails if the process has "crashed" (for operations that are not
    /// counted).
    fn alive(&self, path: &Path) -> Result<()> {
        if self.crashed {
            Err(crash_error(path))
        } else {
            Ok(())
        }
    }

    fn new_id(&mut self, live: Vec<u8>, durable: Vec<u8>) -> FileId {
        let id = self.next_id;
        self.next_id += 1;
        self.files.insert(
            id,
            FileState {
                live,
                durable,
                cut: false,
            },
        );
        id
    }

    /// The state of `dir`, scanning it on first touch: files found there are
    /// durable as they are.
    fn dir(&mut self, dir: &Path) -> Result<&mut DirState> {
        if !self.dirs.contains_key(dir) {
            let mut state = DirState::default();
            match std::fs::read_dir(dir) {
                Ok(entries) => {
                    for entry in entries {
                        let path = entry.map_err(|e| Error::io(dir, e))?.path();
                        if !path.is_file() {
                            continue;
                        }
                        let content = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                        let name = path.file_name().unwrap_or_default().to_os_string();
                        let id = self.new_id(content.clone(), content);
                        state.live.insert(name.clone(), id);
                        state.durable.insert(name, id);
                    }
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(dir, e)),
            }
            self.dirs.insert(dir.to_path_buf(), state);
        }
        self.dirs
            .get_mut(dir)
            .ok_or_else(|| Error::InvalidArgument("directory state vanished".into()))
    }

    /// The identity live under `path`; a file that appeared behind the
    /// simulator's back is adopted as durable.
    fn live_id(&mut self, path: &Path) -> Result<FileId> {
        let (dir, name) = split(path)?;
        if let Some(&id) = self.dir(&dir)?.live.get(&name) {
            return Ok(id);
        }
        let content = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let id = self.new_id(content.clone(), content);
        let d = self.dir(&dir)?;
        d.live.insert(name.clone(), id);
        d.durable.insert(name, id);
        Ok(id)
    }

    fn file(&mut self, id: FileId) -> &mut FileState {
        self.files.entry(id).or_default()
    }
}

struct Core {
    inner: Arc<dyn Io>,
    state: Mutex<State>,
}

/// An [`Io`] that writes real files through an inner backend (normally
/// [`super::std_fs::StdIo`]) while tracking their durable image, injects
/// faults at numbered steps and can rewrite the disk to what a crash would
/// have left.
///
/// Operations are serialized by one lock, so the model is exact even when
/// several threads share the backend.
pub struct SimIo {
    core: Arc<Core>,
}

impl std::fmt::Debug for SimIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.core.state.lock();
        f.debug_struct("SimIo")
            .field("inner", &self.core.inner.name())
            .field("ops", &st.ops)
            .field("crashed", &st.crashed)
            .finish()
    }
}

impl SimIo {
    /// Wraps `inner`, which does the real writing.
    pub fn new(inner: Arc<dyn Io>) -> Arc<SimIo> {
        Arc::new(SimIo {
            core: Arc::new(Core {
                inner,
                state: Mutex::new(State::default()),
            }),
        })
    }

    /// Number of operations performed so far (failed ones included). Every
    /// call of `append`, `sync`, `truncate` (on files) and `create`,
    /// `open_append`, `rename`, `remove`, `sync_dir` (on the `Io`) counts as
    /// one step; `read`, `list` and `create_dir_all` do not count. The count
    /// keeps running across restores.
    pub fn ops(&self) -> u64 {
        self.core.state.lock().ops
    }

    /// Arms a fault for the operation numbered `at_op` (0-based, counted by
    /// [`SimIo::ops`]). A step already taken never fires.
    pub fn inject(&self, at_op: u64, kind: FaultKind) {
        self.core.state.lock().faults.insert(at_op, kind);
    }

    /// While `full`, every append fails as [`FaultKind::NoSpace`] does
    /// (half written, then `ENOSPC`); other operations work. For testing
    /// what a full disk does and that writing resumes once it is not.
    pub fn set_disk_full(&self, full: bool) {
        self.core.state.lock().disk_full = full;
    }

    /// Disarms every fault not fired yet.
    pub fn clear_faults(&self) {
        self.core.state.lock().faults.clear();
    }

    /// Whether a [`FaultKind::Crash`] has fired since the last restore.
    pub fn crashed(&self) -> bool {
        self.core.state.lock().crashed
    }

    /// Rewrites the real directories to their durable image, then forgets
    /// the crash so the same `SimIo` can be reused, treating the restored
    /// state as fully durable.
    ///
    /// For every directory seen, files not in its durable name set are
    /// deleted and every durable name is (re)written with its durable
    /// content, or with a torn tail per [`Torn::KeepPrefix`]. Works whether
    /// or not a crash fired (a "power cut" at the current step). File handles
    /// opened before the restore fail from then on, and restored files are
    /// new inodes, so late writes through such handles cannot change them.
    /// Faults armed for later steps stay armed.
    pub fn restore_durable_image(&self, torn: Torn) -> io::Result<()> {
        let mut st = self.core.state.lock();
        let mut rng = match torn {
            Torn::DropUnsynced => None,
            Torn::KeepPrefix(seed) => Some(XorShift::new(seed)),
        };
        // Decide every file's content first: a renamed file's live bytes are
        // known only by identity, and its live name is about to be deleted.
        let mut plan: Vec<(PathBuf, BTreeMap<OsString, Vec<u8>>)> = Vec::new();
        for (dir, d) in &st.dirs {
            let mut names = BTreeMap::new();
            for (name, id) in &d.durable {
                let content = match st.files.get(id) {
                    None => Vec::new(),
                    Some(f) => {
                        let mut content = f.durable.clone();
                        if let Some(rng) = rng.as_mut()
                            && !f.cut
                            && f.live != f.durable
                        {
                            // Bytes from the first difference on reach the
                            // disk in order, up to a seeded point.
                            let same = f
                                .live
                                .iter()
                                .zip(&f.durable)
                                .take_while(|(a, b)| a == b)
                                .count();
                            let extra = &f.live[same..];
                            let keep = rng.below(extra.len() as u64 + 1) as usize;
                            let end = same + keep;
                            if end > content.len() {
                                content.resize(end, 0);
                            }
                            content[same..end].copy_from_slice(&extra[..keep]);
                        }
                        content
                    }
                };
                names.insert(name.clone(), content);
            }
            plan.push((dir.clone(), names));
        }
        for (dir, names) in &plan {
            match std::fs::read_dir(dir) {
                Ok(entries) => {
                    for entry in entries {
                        let path = entry?.path();
                        let durable = path.file_name().is_some_and(|n| names.contains_key(n));
                        if path.is_file() && !durable {
                            std::fs::remove_file(&path)?;
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    if names.is_empty() {
                        continue;
                    }
                    std::fs::create_dir_all(dir)?;
                }
                Err(e) => return Err(e),
            }
            for (name, content) in names {
                // A fresh inode renamed over the old one, so that writes
                // still in flight from handles opened before the restore
                // land in an orphan and cannot change the restored image.
                let mut tmp_name = name.clone();
                tmp_name.push(".sim-restore");
                let tmp = dir.join(tmp_name);
                std::fs::write(&tmp, content)?;
                std::fs::rename(&tmp, dir.join(name))?;
            }
        }
        let faults = std::mem::take(&mut st.faults);
        *st = State {
            ops: st.ops,
            faults,
            crashed: false,
            disk_full: st.disk_full,
            epoch: st.epoch + 1,
            ..State::default()
        };
        for (dir, names) in plan {
            let mut d = DirState::default();
            for (name, content) in names {
                let id = st.new_id(content.clone(), content);
                d.live.insert(name.clone(), id);
                d.durable.insert(name, id);
            }
            st.dirs.insert(dir, d);
        }
        Ok(())
    }

    fn open(&self, path: &Path, create: bool) -> Result<Box<dyn WritableFile>> {
        let mut st = self.core.state.lock();
        st.begin(path, Op::Other)?;
        let (dir, name) = split(path)?;
        // Scan before the real call changes the directory.
        st.dir(&dir)?;
        let inner = if create {
            self.core.inner.create(path)?
        } else {
            self.core.inner.open_append(path)?
        };
        let id = if create {
            // Truncating an existing file keeps its identity (and its durable
            // content until the next sync).
            let existing = st.dir(&dir)?.live.get(&name).copied();
            let id = match existing {
                Some(id) => id,
                None => {
                    let id = st.new_id(Vec::new(), Vec::new());
                    st.dir(&dir)?.live.insert(name, id);
                    id
                }
            };
            let f = st.file(id);
            f.live.clear();
            f.cut |= !f.durable.is_empty();
            id
        } else {
            st.live_id(path)?
        };
        Ok(Box::new(SimFile {
            core: Arc::clone(&self.core),
            inner,
            id,
            path: path.to_path_buf(),
            epoch: st.epoch,
        }))
    }
}

impl Io for SimIo {
    fn name(&self) -> &'static str {
        "sim"
    }

    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        self.open(path, true)
    }

    fn open_append(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        self.open(path, false)
    }

    fn read(&self, path: &Path) -> Result<Vec<u8>> {
        self.core.state.lock().alive(path)?;
        self.core.inner.read(path)
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let mut st = self.core.state.lock();
        st.begin(from, Op::Other)?;
        let (from_dir, from_name) = split(from)?;
        let (to_dir, to_name) = split(to)?;
        st.dir(&from_dir)?;
        st.dir(&to_dir)?;
        let id = st.live_id(from).ok();
        self.core.inner.rename(from, to)?;
        st.dir(&from_dir)?.live.remove(&from_name);
        match id {
            Some(id) => {
                st.dir(&to_dir)?.live.insert(to_name, id);
            }
            None => {
                // Not a file we could read (a directory, say): adopt it if we
                // can, otherwise leave it untracked.
                let _ = st.live_id(to);
            }
        }
        Ok(())
    }

    fn remove(&self, path: &Path) -> Result<()> {
        let mut st = self.core.state.lock();
        st.begin(path, Op::Other)?;
        let (dir, name) = split(path)?;
        st.dir(&dir)?;
        self.core.inner.remove(path)?;
        // The identity's durable bytes stay: a durable name may still point
        // at it until the directory is synced.
        st.dir(&dir)?.live.remove(&name);
        Ok(())
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        let mut st = self.core.state.lock();
        st.begin(dir, Op::Sync)?;
        st.dir(dir)?;
        self.core.inner.sync_dir(dir)?;
        let d = st.dir(dir)?;
        d.durable = d.live.clone();
        Ok(())
    }

    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        self.core.state.lock().alive(dir)?;
        self.core.inner.create_dir_all(dir)
    }

    fn list(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        self.core.state.lock().alive(dir)?;
        self.core.inner.list(dir)
    }
}

/// A file written through [`SimIo`]: forwards to the inner backend's file
/// and keeps the shadow copy of its content up to date.
struct SimFile {
    core: Arc<Core>,
    inner: Box<dyn WritableFile>,
    id: FileId,
    path: PathBuf,
    epoch: u64,
}

impl SimFile {
    /// Counts the step and checks the handle survived no restore.
    fn begin(&self, st: &mut State, op: Op) -> Result<Option<FaultKind>> {
        let short = st.begin(&self.path, op)?;
        if st.epoch != self.epoch {
            return Err(Error::io(
                &self.path,
                io::Error::other("file handle opened before a simulated crash"),
            ));
        }
        Ok(short)
    }
}

impl WritableFile for SimFile {
    fn append(&mut self, mut buf: Vec<u8>) -> Result<()> {
        let mut st = self.core.state.lock();
        let short = self.begin(&mut st, Op::Append)?;
        if short.is_some() {
            buf.truncate(buf.len() / 2);
        }
        // Appends go at the write position, which `rewind_to` may have moved
        // back into the file: overwrite the shadow there.
        let pos = usize::try_from(self.inner.len())
            .map_err(|_| Error::InvalidArgument("file too large to simulate".into()))?;
        let live = &mut st.file(self.id).live;
        let end = pos + buf.len();
        if live.len() < end {
            live.resize(end, 0);
        }
        live[pos..end].copy_from_slice(&buf);
        self.inner.append(buf)?;
        if let Some(kind) = short {
            return Err(fault_error(&self.path, kind));
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        let mut st = self.core.state.lock();
        self.begin(&mut st, Op::Sync)?;
        self.inner.sync()?;
        let f = st.file(self.id);
        f.durable = f.live.clone();
        f.cut = false;
        Ok(())
    }

    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn truncate(&mut self, len: u64) -> Result<()> {
        let mut st = self.core.state.lock();
        self.begin(&mut st, Op::Other)?;
        self.inner.truncate(len)?;
        let new_len = usize::try_from(len)
            .map_err(|_| Error::InvalidArgument(format!("length {len} too large")))?;
        let f = st.file(self.id);
        f.live.resize(new_len, 0);
        f.cut |= new_len < f.durable.len();
        Ok(())
    }

    fn rewind_to(&mut self, offset: u64) -> Result<()> {
        let mut st = self.core.state.lock();
        self.begin(&mut st, Op::Other)?;
        self.inner.rewind_to(offset)
    }
}

/// A tiny xorshift64 generator: deterministic torn tails without a
/// dependency.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        let s = seed
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .wrapping_add(0x632B_E59B_D9B4_E019);
        XorShift(if s == 0 { 1 } else { s })
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A value in `0..n` (`n` ≥ 1).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::std_fs::StdIo;

    fn sim() -> (tempfile::TempDir, Arc<SimIo>) {
        let dir = tempfile::tempdir().unwrap();
        (dir, SimIo::new(Arc::new(StdIo::new())))
    }

    /// Creates `path` holding `bytes`, fsynced with its directory entry.
    fn durable(io: &SimIo, dir: &Path, path: &Path, bytes: &[u8]) -> Box<dyn WritableFile> {
        let mut f = io.create(path).unwrap();
        f.append(bytes.to_vec()).unwrap();
        f.sync().unwrap();
        io.sync_dir(dir).unwrap();
        f
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn is_crash(e: &Error) -> bool {
        e.to_string().contains("simulated crash")
    }

    #[test]
    fn synced_file_without_sync_dir_disappears() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        let mut f = io.create(&p).unwrap();
        f.append(b"hello".to_vec()).unwrap();
        f.sync().unwrap();
        drop(f);
        assert_eq!(std::fs::read(&p).unwrap(), b"hello");
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert!(!p.exists());
    }

    #[test]
    fn sync_dir_keeps_file_with_synced_content_only() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        let mut f = durable(&io, dir.path(), &p, b"synced");
        f.append(b" not synced".to_vec()).unwrap();
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"synced");
    }

    #[test]
    fn created_and_dir_synced_but_never_fsynced_is_empty() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        let mut f = io.create(&p).unwrap();
        f.append(b"data".to_vec()).unwrap();
        io.sync_dir(dir.path()).unwrap();
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"");
    }

    #[test]
    fn unsynced_tail_of_existing_file_dropped() {
        let (dir, io) = sim();
        let p = dir.path().join("old");
        std::fs::write(&p, b"before").unwrap();
        let mut f = io.open_append(&p).unwrap();
        assert_eq!(f.len(), 6);
        f.append(b" after".to_vec()).unwrap();
        assert_eq!(io.read(&p).unwrap(), b"before after");
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"before");
    }

    #[test]
    fn keep_prefix_keeps_a_seeded_prefix_of_the_tail() {
        let mut kept = Vec::new();
        for seed in 0..16 {
            let (dir, io) = sim();
            let p = dir.path().join("log");
            let mut f = durable(&io, dir.path(), &p, b"durable|");
            let tail: Vec<u8> = (0..200u8).collect();
            f.append(tail[..120].to_vec()).unwrap();
            f.append(tail[120..].to_vec()).unwrap();
            io.restore_durable_image(Torn::KeepPrefix(seed)).unwrap();
            let got = std::fs::read(&p).unwrap();
            assert!(got.starts_with(b"durable|"));
            assert_eq!(&got[8..], &tail[..got.len() - 8]);
            kept.push(got.len() - 8);
        }
        // Different seeds tear at different points.
        kept.sort_unstable();
        kept.dedup();
        assert!(kept.len() > 4, "{kept:?}");
    }

    #[test]
    fn keep_prefix_is_deterministic() {
        let run = || {
            let (dir, io) = sim();
            let p = dir.path().join("log");
            let mut f = io.create(&p).unwrap();
            f.append(vec![7; 1000]).unwrap();
            io.sync_dir(dir.path()).unwrap();
            io.restore_durable_image(Torn::KeepPrefix(42)).unwrap();
            std::fs::read(&p).unwrap().len()
        };
        assert_eq!(run(), run());
    }

    #[test]
    fn keep_prefix_ignores_rewritten_files() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        std::fs::write(&p, b"abcdef").unwrap();
        let mut f = io.open_append(&p).unwrap();
        f.truncate(2).unwrap();
        f.append(b"XYZWVU".to_vec()).unwrap();
        io.restore_durable_image(Torn::KeepPrefix(1)).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"abcdef");
    }

    #[test]
    fn overwrites_after_rewind_are_durable_only_once_synced() {
        let (dir, io) = sim();
        let p = dir.path().join("seg");
        let mut f = durable(&io, dir.path(), &p, &[0; 64]);
        f.rewind_to(8).unwrap();
        f.append(b"record".to_vec()).unwrap();
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), vec![0; 64]);
        let mut f = io.open_append(&p).unwrap();
        f.rewind_to(8).unwrap();
        f.append(b"record".to_vec()).unwrap();
        f.sync().unwrap();
        io.restore_durable_image(Torn::KeepPrefix(3)).unwrap();
        let mut want = vec![0; 64];
        want[8..14].copy_from_slice(b"record");
        assert_eq!(std::fs::read(&p).unwrap(), want);
    }

    #[test]
    fn keep_prefix_tears_an_overwrite_and_keeps_the_space_after_it() {
        let mut kept = Vec::new();
        for seed in 0..16 {
            let (dir, io) = sim();
            let p = dir.path().join("seg");
            let mut f = durable(&io, dir.path(), &p, &[0; 300]);
            f.rewind_to(20).unwrap();
            let new: Vec<u8> = (1..=200u8).collect();
            f.append(new[..50].to_vec()).unwrap();
            f.append(new[50..].to_vec()).unwrap();
            io.restore_durable_image(Torn::KeepPrefix(seed)).unwrap();
            let got = std::fs::read(&p).unwrap();
            assert_eq!(got.len(), 300, "an overwrite does not change the size");
            let k = got[20..220].iter().take_while(|&&b| b != 0).count();
            assert_eq!(&got[20..20 + k], &new[..k]);
            assert!(got[..20].iter().chain(&got[20 + k..]).all(|&b| b == 0));
            kept.push(k);
        }
        kept.sort_unstable();
        kept.dedup();
        assert!(kept.len() > 4, "{kept:?}");
    }

    #[test]
    fn rename_without_sync_dir_reverts() {
        let (dir, io) = sim();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, b"content").unwrap();
        io.rename(&a, &b).unwrap();
        assert_eq!(names(dir.path()), ["b"]);
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(names(dir.path()), ["a"]);
        assert_eq!(std::fs::read(&a).unwrap(), b"content");
    }

    #[test]
    fn rename_with_sync_dir_sticks_and_replaces() {
        let (dir, io) = sim();
        let (tmp, cur) = (dir.path().join("tmp"), dir.path().join("CURRENT"));
        std::fs::write(&cur, b"old").unwrap();
        let mut f = io.create(&tmp).unwrap();
        f.append(b"new".to_vec()).unwrap();
        f.sync().unwrap();
        io.rename(&tmp, &cur).unwrap();
        io.sync_dir(dir.path()).unwrap();
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(names(dir.path()), ["CURRENT"]);
        assert_eq!(std::fs::read(&cur).unwrap(), b"new");
    }

    #[test]
    fn renamed_file_keeps_identity_for_sync() {
        // Synced under its new name after the rename: the old durable name
        // gets the synced content.
        let (dir, io) = sim();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let mut f = io.create(&a).unwrap();
        io.sync_dir(dir.path()).unwrap();
        io.rename(&a, &b).unwrap();
        f.append(b"x".to_vec()).unwrap();
        f.sync().unwrap();
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(names(dir.path()), ["a"]);
        assert_eq!(std::fs::read(&a).unwrap(), b"x");
    }

    #[test]
    fn remove_without_sync_dir_comes_back() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        let f = durable(&io, dir.path(), &p, b"keep me");
        drop(f);
        io.remove(&p).unwrap();
        assert!(!p.exists());
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"keep me");
        // Removed and synced: gone for good.
        io.remove(&p).unwrap();
        io.sync_dir(dir.path()).unwrap();
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert!(!p.exists());
    }

    #[test]
    fn create_over_existing_keeps_durable_content_until_sync() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        std::fs::write(&p, b"durable").unwrap();
        let mut f = io.create(&p).unwrap();
        f.append(b"new".to_vec()).unwrap();
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"durable");
    }

    #[test]
    fn unsynced_truncate_reverts() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        std::fs::write(&p, b"0123456789").unwrap();
        let mut f = io.open_append(&p).unwrap();
        f.truncate(3).unwrap();
        assert_eq!(f.len(), 3);
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"0123456789");
        let mut f = io.open_append(&p).unwrap();
        f.truncate(3).unwrap();
        f.sync().unwrap();
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"012");
    }

    #[test]
    fn ops_counts_only_mutating_calls() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        io.create_dir_all(dir.path()).unwrap();
        let mut f = io.create(&p).unwrap(); // 0
        f.append(b"x".to_vec()).unwrap(); // 1
        f.sync().unwrap(); // 2
        f.truncate(0).unwrap(); // 3
        assert_eq!(f.len(), 0);
        io.read(&p).unwrap();
        io.list(dir.path()).unwrap();
        io.sync_dir(dir.path()).unwrap(); // 4
        io.rename(&p, &dir.path().join("b")).unwrap(); // 5
        drop(io.open_append(&dir.path().join("b")).unwrap()); // 6
        io.remove(&dir.path().join("b")).unwrap(); // 7
        assert_eq!(io.ops(), 8);
    }

    #[test]
    fn fault_fires_at_the_right_op_only() {
        let (dir, io) = sim();
        let mut f = io.create(&dir.path().join("a")).unwrap(); // op 0
        io.inject(3, FaultKind::FailWrite);
        f.append(b"1".to_vec()).unwrap(); // 1
        f.append(b"2".to_vec()).unwrap(); // 2
        let err = f.append(b"3".to_vec()).unwrap_err(); // 3
        assert!(err.to_string().contains("simulated write failure"), "{err}");
        f.append(b"4".to_vec()).unwrap(); // 4
        f.sync().unwrap();
        assert_eq!(io.read(&dir.path().join("a")).unwrap(), b"124");
        assert!(!io.crashed());
    }

    #[test]
    fn clear_faults_disarms() {
        let (dir, io) = sim();
        io.inject(0, FaultKind::Crash);
        io.clear_faults();
        io.create(&dir.path().join("a")).unwrap();
        assert!(!io.crashed());
    }

    #[test]
    fn fail_write_writes_nothing() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        let mut f = io.create(&p).unwrap();
        io.inject(io.ops(), FaultKind::FailWrite);
        assert!(f.append(b"abcdef".to_vec()).is_err());
        assert_eq!(f.len(), 0);
        assert_eq!(std::fs::read(&p).unwrap(), b"");
    }

    #[test]
    fn short_write_writes_half_then_errors() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        let mut f = io.create(&p).unwrap();
        io.inject(io.ops(), FaultKind::ShortWrite);
        let err = f.append(b"abcdefg".to_vec()).unwrap_err();
        assert!(err.to_string().contains("simulated short write"), "{err}");
        assert_eq!(f.len(), 3);
        assert_eq!(std::fs::read(&p).unwrap(), b"abc");
        // Synced afterwards, the half write is what becomes durable.
        f.sync().unwrap();
        io.sync_dir(dir.path()).unwrap();
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"abc");
    }

    #[test]
    fn fail_sync_makes_nothing_durable() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        let mut f = io.create(&p).unwrap();
        io.sync_dir(dir.path()).unwrap();
        f.append(b"data".to_vec()).unwrap();
        io.inject(io.ops(), FaultKind::FailSync);
        let err = f.sync().unwrap_err();
        assert!(err.to_string().contains("simulated sync failure"), "{err}");
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"");
    }

    #[test]
    fn fail_sync_on_sync_dir_keeps_names_volatile() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        drop(io.create(&p).unwrap());
        io.inject(io.ops(), FaultKind::FailSync);
        assert!(io.sync_dir(dir.path()).is_err());
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert!(!p.exists());
    }

    #[test]
    fn fault_on_other_kind_of_op_fails_it_without_effect() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        io.inject(0, FaultKind::FailSync);
        assert!(io.create(&p).is_err());
        assert!(!p.exists());
    }

    #[test]
    fn crash_makes_every_later_op_fail() {
        let (dir, io) = sim();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        let mut f = io.create(&a).unwrap(); // 0
        f.append(b"ok".to_vec()).unwrap(); // 1
        io.inject(2, FaultKind::Crash);
        let err = f.append(b"lost".to_vec()).unwrap_err(); // 2
        assert!(is_crash(&err), "{err}");
        assert!(matches!(err, Error::Io { .. }));
        assert!(io.crashed());
        assert_eq!(std::fs::read(&a).unwrap(), b"ok");
        assert!(is_crash(&f.append(b"x".to_vec()).unwrap_err()));
        assert!(is_crash(&f.sync().unwrap_err()));
        assert!(is_crash(&f.truncate(0).unwrap_err()));
        assert!(is_crash(&io.create(&b).err().unwrap()));
        assert!(is_crash(&io.open_append(&a).err().unwrap()));
        assert!(is_crash(&io.rename(&a, &b).unwrap_err()));
        assert!(is_crash(&io.remove(&a).unwrap_err()));
        assert!(is_crash(&io.sync_dir(dir.path()).unwrap_err()));
        assert!(is_crash(&io.read(&a).unwrap_err()));
        assert!(is_crash(&io.list(dir.path()).unwrap_err()));
        assert!(is_crash(&io.create_dir_all(dir.path()).unwrap_err()));
        assert!(!b.exists());

        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert!(!io.crashed());
        assert!(!a.exists());
        // Handles from before the crash stay dead; the Io works again.
        assert!(f.append(b"x".to_vec()).is_err());
        let _g = durable(&io, dir.path(), &b, b"again");
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(std::fs::read(&b).unwrap(), b"again");
    }

    #[test]
    fn restored_state_is_durable() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        let _f = durable(&io, dir.path(), &p, b"v1");
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        // A second restore with nothing new changes nothing.
        io.restore_durable_image(Torn::KeepPrefix(3)).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"v1");
    }

    #[test]
    fn untouched_directories_are_left_alone() {
        let (dir, io) = sim();
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("x"), b"x").unwrap();
        drop(io.create(&dir.path().join("a")).unwrap());
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(names(other.path()), ["x"]);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn stale_handle_cannot_touch_restored_file() {
        let (dir, io) = sim();
        let p = dir.path().join("a");
        let mut f = durable(&io, dir.path(), &p, b"synced");
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        let err = f.append(b"late".to_vec()).unwrap_err();
        assert!(
            err.to_string().contains("before a simulated crash"),
            "{err}"
        );
        assert_eq!(std::fs::read(&p).unwrap(), b"synced");
        assert_eq!(names(dir.path()), ["a"]);
    }

    #[test]
    fn works_over_uring() {
        let Ok(uring) = crate::io::uring::UringIo::new() else {
            eprintln!("skipping: io_uring unavailable");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let io = SimIo::new(Arc::new(uring));
        assert_eq!(io.name(), "sim");
        let p = dir.path().join("a");
        let mut f = io.create(&p).unwrap();
        for i in 0..50u8 {
            f.append(vec![i; 1000]).unwrap();
        }
        f.sync().unwrap();
        io.sync_dir(dir.path()).unwrap();
        f.append(vec![9; 1000]).unwrap();
        drop(f);
        assert_eq!(std::fs::read(&p).unwrap().len(), 51_000);
        io.restore_durable_image(Torn::DropUnsynced).unwrap();
        assert_eq!(std::fs::read(&p).unwrap().len(), 50_000);
    }
}
