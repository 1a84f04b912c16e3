//! The storage crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in the storage engine.
///
/// Variants are meant to be acted on: `Poisoned` means "stop writing, reads
/// still work"; `Corruption` names the file and byte offset that failed its
/// checksum; `UnsupportedVersion` means the file was written by a newer or
/// unknown format.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An I/O call failed.
    #[error("i/o error on {path}: {source}")]
    Io {
        /// The file or directory the call was made on.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Stored data failed a checksum or could not be decoded.
    #[error("corruption in {path} at offset {offset}: {reason}")]
    Corruption {
        /// The file holding the bad bytes.
        path: PathBuf,
        /// Byte offset of the bad record or block within the file.
        offset: u64,
        /// What was wrong, in a few words.
        reason: String,
    },
    /// A file carries a format version this build cannot read.
    #[error("unsupported format version {found} in {path} (this build reads version {supported})")]
    UnsupportedVersion {
        /// The file with the unknown version.
        path: PathBuf,
        /// The version found in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// An earlier write or fsync failed, so the on-disk state is uncertain;
    /// the engine refuses writes until it is reopened. Reads keep working.
    #[error("engine is poisoned by an earlier write failure ({cause}); reopen to recover")]
    Poisoned {
        /// The failure that poisoned the engine.
        cause: String,
    },
    /// The directory has no manifest but holds files of an existing
    /// engine (table files), so the manifest was lost: the engine refuses
    /// to open rather than start empty, and changes nothing.
    /// [`crate::repair::rebuild_manifest`] rebuilds the manifest from the
    /// tables.
    #[error(
        "{dir} has no MANIFEST but holds {found} of an existing database; nothing was changed: run `fasty admin repair` to rebuild the manifest from the tables"
    )]
    MissingManifest {
        /// The data directory.
        dir: PathBuf,
        /// What shows that an engine was there, in a few words.
        found: String,
    },
    /// The caller broke the API contract (for example a sequence number
    /// that does not increase).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The engine has been closed.
    #[error("engine is closed")]
    Closed,
}

impl Error {
    /// Whether this is a write that failed for lack of space (`ENOSPC`, or
    /// `EDQUOT` over a quota): nothing is wrong with what is already on
    /// disk, and the same write can succeed once space is freed. Other I/O
    /// failures (an fsync reporting `EIO` in particular) are not retried:
    /// after a failed fsync the kernel may have dropped the dirty pages.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            Error::Io { source, .. } => {
                matches!(
                    source.kind(),
                    std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
                ) || matches!(source.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
            }
            _ => false,
        }
    }

    /// Whether writes are refused because an earlier write or fsync failed
    /// ([`Error::Poisoned`]): reads still work, reopen to recover.
    pub fn is_poisoned(&self) -> bool {
        matches!(self, Error::Poisoned { .. })
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corruption(
        path: impl Into<PathBuf>,
        offset: u64,
        reason: impl Into<String>,
    ) -> Self {
        Error::Corruption {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
