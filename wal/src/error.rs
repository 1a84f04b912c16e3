//! The WAL crate's error type: its own failures plus the storage engine's.

use std::path::PathBuf;

/// Everything that can go wrong in a [`crate::Db`].
///
/// Variants are meant to be acted on: `Poisoned` means "stop writing, reads
/// still work, reopen to recover"; `Corruption` names the log file and byte
/// offset of the bad record (run [`crate::verify`] / [`crate::repair`]);
/// `Storage` carries whatever the engine below reported.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The storage engine (or its I/O backend) failed.
    #[error(transparent)]
    Storage(#[from] fasty_storage::Error),
    /// A log record that is not the torn tail of the last segment failed
    /// its checksum or could not be decoded; the database does not open.
    #[error(
        "wal corruption in {path} at offset {offset}: {reason}; run `fasty admin verify`, then `fasty admin repair` to cut the log there"
    )]
    Corruption {
        /// The log segment holding the bad bytes.
        path: PathBuf,
        /// Byte offset of the bad record within the segment.
        offset: u64,
        /// What was wrong, in a few words.
        reason: String,
    },
    /// A segment carries a log format version this build cannot read.
    #[error(
        "unsupported wal format version {found} in {path} (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// The segment with the unknown version.
        path: PathBuf,
        /// The version found in its header.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// An earlier log write or fsync failed, so what is durable is
    /// uncertain: writes are refused until the database is reopened. Reads
    /// keep working. A durable-mode write is never acknowledged by an fsync
    /// that failed.
    #[error("database is poisoned by an earlier log failure ({cause}); reopen to recover")]
    Poisoned {
        /// The failure that poisoned the database.
        cause: String,
    },
    /// The log could not be written for lack of disk space, so this write
    /// was refused: not acknowledged and not applied. Nothing acknowledged
    /// before is lost (async mode keeps those writes queued and retries),
    /// and writes succeed again on their own once space is freed.
    #[error(
        "out of disk space for the log ({cause}); this write was not applied: free disk space and retry it, the database resumes writing on its own"
    )]
    DiskFull {
        /// The failure, with the file it was writing.
        cause: String,
    },
    /// The caller broke the API contract (for example a batch larger than
    /// a log record can hold).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The database has been closed.
    #[error("database is closed")]
    Closed,
}

impl Error {
    /// A stable, machine-readable code for this error: `storage`,
    /// `wal_corruption`, `unsupported_version`, `poisoned`, `disk_full`,
    /// `invalid_argument` or `closed` (storage corruption, including a lost
    /// manifest, and poisoning map to `storage_corruption` and `poisoned`).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Storage(
                fasty_storage::Error::Corruption { .. }
                | fasty_storage::Error::MissingManifest { .. },
            ) => "storage_corruption",
            Error::Storage(fasty_storage::Error::Poisoned { .. }) => "poisoned",
            Error::Storage(fasty_storage::Error::UnsupportedVersion { .. }) => {
                "unsupported_version"
            }
            Error::Storage(_) => "storage",
            Error::Corruption { .. } => "wal_corruption",
            Error::UnsupportedVersion { .. } => "unsupported_version",
            Error::Poisoned { .. } => "poisoned",
            Error::DiskFull { .. } => "disk_full",
            Error::InvalidArgument(_) => "invalid_argument",
            Error::Closed => "closed",
        }
    }

    /// Whether writes are refused because an earlier write or fsync failed
    /// (in the log or in the engine below).
    pub fn is_poisoned(&self) -> bool {
        self.code() == "poisoned"
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
