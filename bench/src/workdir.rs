//! Where a benchmark run puts its stores: the directory the user named, or
//! a fresh temporary one removed when the run ends.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// A run's base directory; a temporary one lives as long as this value.
pub struct WorkDir {
    path: PathBuf,
    _temp: Option<TempDir>,
}

impl WorkDir {
    /// Creates `dir` if given, else a new temporary directory named
    /// `prefix…` under `$TMPDIR`. On failure, the path that failed and why.
    pub fn new(dir: Option<&Path>, prefix: &str) -> Result<WorkDir, (PathBuf, std::io::Error)> {
        if let Some(d) = dir {
            std::fs::create_dir_all(d).map_err(|e| (d.to_path_buf(), e))?;
            return Ok(WorkDir {
                path: d.to_path_buf(),
                _temp: None,
            });
        }
        let temp = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir()
            .map_err(|e| (std::env::temp_dir(), e))?;
        Ok(WorkDir {
            path: temp.path().to_path_buf(),
            _temp: Some(temp),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
