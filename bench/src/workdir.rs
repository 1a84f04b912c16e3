//! Where a benchmark run puts its stores: a fresh directory, removed when
//! the run ends, inside the directory the user named or under `$TMPDIR`.
//! Fresh every time, so that two runs given the same `--dir` never read
//! each other's data.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

/// A run's base directory; it is removed when this value is dropped.
pub struct WorkDir {
    temp: TempDir,
}

impl WorkDir {
    /// Creates a new directory named `prefix…` inside `dir` (created if
    /// needed) or, without one, under `$TMPDIR`. On failure, the path that
    /// failed and why.
    pub fn new(dir: Option<&Path>, prefix: &str) -> Result<WorkDir, (PathBuf, std::io::Error)> {
        let parent = match dir {
            Some(d) => {
                std::fs::create_dir_all(d).map_err(|e| (d.to_path_buf(), e))?;
                d.to_path_buf()
            }
            None => std::env::temp_dir(),
        };
        let temp = tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&parent)
            .map_err(|e| (parent, e))?;
        Ok(WorkDir { temp })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.temp.path()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_given_the_same_dir_get_fresh_directories_removed_at_the_end() {
        let base = tempfile::tempdir().expect("temp dir");
        let a = WorkDir::new(Some(base.path()), "run-").expect("first");
        let b = WorkDir::new(Some(base.path()), "run-").expect("second");
        assert_ne!(a.path(), b.path());
        assert!(a.path().starts_with(base.path()) && b.path().starts_with(base.path()));
        std::fs::write(a.path().join("data"), b"x").expect("write");
        let (pa, pb) = (a.path().to_path_buf(), b.path().to_path_buf());
        drop(a);
        drop(b);
        assert!(!pa.exists() && !pb.exists());
        assert!(base.path().exists());
    }
}
