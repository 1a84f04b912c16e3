//! The portable backend: plain `std::fs` calls, one write at a time.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::{Io, WritableFile};
use crate::error::{Error, Result};

/// [`Io`] over `std::fs`.
#[derive(Debug, Default)]
pub struct StdIo;

impl StdIo {
    /// Creates the backend; it has no state.
    pub fn new() -> Self {
        StdIo
    }
}

/// A file appended to with blocking `write_all` calls.
#[derive(Debug)]
pub struct StdFile {
    file: File,
    path: PathBuf,
    len: u64,
}

impl StdFile {
    fn open(path: &Path, truncate: bool) -> Result<StdFile> {
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(truncate)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        let len = file
            .seek(SeekFrom::End(0))
            .map_err(|e| Error::io(path, e))?;
        Ok(StdFile {
            file,
            path: path.to_path_buf(),
            len,
        })
    }
}

impl WritableFile for StdFile {
    fn append(&mut self, buf: Vec<u8>) -> Result<()> {
        self.file
            .write_all(&buf)
            .map_err(|e| Error::io(&self.path, e))?;
        self.len += buf.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> Result<()> {
        self.file.sync_data().map_err(|e| Error::io(&self.path, e))
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn truncate(&mut self, len: u64) -> Result<()> {
        self.file
            .set_len(len)
            .map_err(|e| Error::io(&self.path, e))?;
        self.file
            .seek(SeekFrom::Start(len))
            .map_err(|e| Error::io(&self.path, e))?;
        self.len = len;
        Ok(())
    }

    fn rewind_to(&mut self, offset: u64) -> Result<()> {
        check_rewind(&self.path, offset, self.len)?;
        self.file
            .seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(&self.path, e))?;
        self.len = offset;
        Ok(())
    }
}

/// Refuses a [`WritableFile::rewind_to`] past the write position.
pub(crate) fn check_rewind(path: &Path, offset: u64, len: u64) -> Result<()> {
    if offset > len {
        return Err(Error::InvalidArgument(format!(
            "{}: cannot rewind to {offset}, past the write position {len}",
            path.display()
        )));
    }
    Ok(())
}

impl Io for StdIo {
    fn name(&self) -> &'static str {
        "std"
    }

    fn create(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        Ok(Box::new(StdFile::open(path, true)?))
    }

    fn open_append(&self, path: &Path) -> Result<Box<dyn WritableFile>> {
        if !path.exists() {
            return Err(Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "file does not exist"),
            ));
        }
        Ok(Box::new(StdFile::open(path, false)?))
    }

    fn read(&self, path: &Path) -> Result<Vec<u8>> {
        std::fs::read(path).map_err(|e| Error::io(path, e))
    }

    fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        std::fs::rename(from, to).map_err(|e| Error::io(from, e))
    }

    fn remove(&self, path: &Path) -> Result<()> {
        std::fs::remove_file(path).map_err(|e| Error::io(path, e))
    }

    fn sync_dir(&self, dir: &Path) -> Result<()> {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| Error::io(dir, e))
    }

    fn create_dir_all(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
    }

    fn list(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
            out.push(entry.map_err(|e| Error::io(dir, e))?.path());
        }
        Ok(out)
    }
}
