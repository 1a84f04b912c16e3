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

/// What kind of failure an [`Error`] is, for callers that act on it or map
/// it to codes of their own: decided by the error's variant (and the
/// storage error it wraps), never by its message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A storage failure of no kind below (an I/O error, the engine
    /// closed, a bad argument to the engine).
    Storage,
    /// The engine's files failed a checksum, or its manifest is lost.
    StorageCorruption,
    /// A log record that is not a torn tail is bad ([`Error::Corruption`]).
    WalCorruption,
    /// A file (log segment or engine file) has a format version this build
    /// cannot read.
    UnsupportedVersion,
    /// Writes are refused after an earlier write or fsync failed, in the
    /// log ([`Error::Poisoned`]) or in the engine below.
    Poisoned,
    /// A write refused for lack of disk space ([`Error::DiskFull`]).
    DiskFull,
    /// The caller broke the API contract ([`Error::InvalidArgument`]).
    InvalidArgument,
    /// The database has been closed ([`Error::Closed`]).
    Closed,
}

impl ErrorKind {
    /// The kind's stable code, as [`Error::code`] gives it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Storage => "storage",
            ErrorKind::StorageCorruption => "storage_corruption",
            ErrorKind::WalCorruption => "wal_corruption",
            ErrorKind::UnsupportedVersion => "unsupported_version",
            ErrorKind::Poisoned => "poisoned",
            ErrorKind::DiskFull => "disk_full",
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Closed => "closed",
        }
    }
}

impl Error {
    /// What kind of failure this is (see [`ErrorKind`]). A storage error
    /// keeps its own kind: a poisoned engine is [`ErrorKind::Poisoned`]
    /// like a poisoned log.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Storage(e) if e.is_poisoned() => ErrorKind::Poisoned,
            Error::Storage(
                fasty_storage::Error::Corruption { .. }
                | fasty_storage::Error::MissingManifest { .. },
            ) => ErrorKind::StorageCorruption,
            Error::Storage(fasty_storage::Error::UnsupportedVersion { .. }) => {
                ErrorKind::UnsupportedVersion
            }
            Error::Storage(_) => ErrorKind::Storage,
            Error::Corruption { .. } => ErrorKind::WalCorruption,
            Error::UnsupportedVersion { .. } => ErrorKind::UnsupportedVersion,
            Error::Poisoned { .. } => ErrorKind::Poisoned,
            Error::DiskFull { .. } => ErrorKind::DiskFull,
            Error::InvalidArgument(_) => ErrorKind::InvalidArgument,
            Error::Closed => ErrorKind::Closed,
        }
    }

    /// A stable, machine-readable code for this error: `storage`,
    /// `wal_corruption`, `unsupported_version`, `poisoned`, `disk_full`,
    /// `invalid_argument` or `closed` (storage corruption, including a lost
    /// manifest, and poisoning map to `storage_corruption` and `poisoned`).
    pub fn code(&self) -> &'static str {
        self.kind().as_str()
    }

    /// Whether writes are refused because an earlier write or fsync failed
    /// (in the log or in the engine below).
    pub fn is_poisoned(&self) -> bool {
        self.kind() == ErrorKind::Poisoned
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_come_from_the_variant_and_the_wrapped_storage_error() {
        let engine_poisoned = Error::from(fasty_storage::Error::Poisoned {
            cause: "fsync failed".into(),
        });
        assert!(engine_poisoned.is_poisoned());
        assert_eq!(engine_poisoned.code(), "poisoned");
        // The storage error's message is the one users see, unchanged.
        assert_eq!(
            engine_poisoned.to_string(),
            "engine is poisoned by an earlier write failure (fsync failed); reopen to recover"
        );
        let log_poisoned = Error::Poisoned {
            cause: "poisoned by a closed file".into(),
        };
        assert_eq!(log_poisoned.kind(), ErrorKind::Poisoned);
        // A message that merely mentions poisoning is not a poisoned kind.
        let io = Error::from(fasty_storage::Error::Io {
            path: "poisoned".into(),
            source: std::io::Error::other("poisoned"),
        });
        assert!(!io.is_poisoned());
        assert_eq!(io.kind(), ErrorKind::Storage);
        let full = Error::DiskFull {
            cause: "no space".into(),
        };
        assert_eq!(
            (full.kind(), full.code()),
            (ErrorKind::DiskFull, "disk_full")
        );
        let lost = Error::from(fasty_storage::Error::MissingManifest {
            dir: "d".into(),
            found: "tables".into(),
        });
        assert_eq!(lost.code(), "storage_corruption");
        assert_eq!(
            Error::corruption("x.log", 3, "bad").code(),
            "wal_corruption"
        );
        assert_eq!(Error::Closed.code(), "closed");
    }

    #[test]
    fn a_wrapped_storage_error_keeps_its_source_chain() {
        use std::error::Error as _;
        let e = Error::from(fasty_storage::Error::Io {
            path: "wal/1.log".into(),
            source: std::io::Error::other("device gone"),
        });
        let source = e.source().expect("the i/o error is the source");
        assert_eq!(source.to_string(), "device gone");
    }
}
