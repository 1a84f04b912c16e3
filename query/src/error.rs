//! The query crate's error type. Every error a user can cause carries a
//! stable [`ErrorCode`] (what clients match on), a one-line message, and
//! for syntax errors the 1-based line and column of the offending token;
//! where a close match exists, a hint (`did you mean "select"?`).

use fasty_wal::ErrorKind as WalErrorKind;

/// Stable error codes: the `code` field of the HTTP error body. Never
/// renamed once released.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// The statement does not parse.
    SyntaxError,
    /// No table of that name.
    UnknownTable,
    /// No column of that name in the tables in scope.
    UnknownColumn,
    /// No index of that name.
    UnknownIndex,
    /// `create table` of a name already taken.
    TableExists,
    /// `create index` of a name already taken.
    IndexExists,
    /// A table definition that breaks the rules (no `int` column `id`,
    /// a column declared twice, an empty table).
    InvalidSchema,
    /// A value of the wrong type for its column or operator.
    TypeMismatch,
    /// `insert` of a primary key that exists (or twice in one statement).
    DuplicateKey,
    /// A row without `id`, or with a `null` one.
    MissingPrimaryKey,
    /// A bare column name that more than one joined table has.
    AmbiguousColumn,
    /// Something the language does not support (a join that is not an
    /// equality of two columns, an aggregate inside `where`, ...).
    Unsupported,
    /// Integer arithmetic that overflows i64.
    NumericOverflow,
    /// A prepared statement run with the wrong number of values.
    InvalidParameter,
    /// The storage below failed (I/O error, unsupported format version,
    /// closed).
    StorageError,
    /// The database refuses writes after a failed log write or fsync;
    /// reads still work, reopen to recover.
    Poisoned,
    /// Stored bytes failed a checksum or could not be decoded (a data
    /// file, the log, a catalog entry or a row): run `fasty admin verify`.
    Corruption,
    /// A statement nested or chained beyond the parser's depth bound, or a
    /// name or pattern past its length limit.
    TooComplex,
    /// A statement ran past its time limit ([`crate::ExecOptions::deadline`]).
    StatementTimeout,
    /// A statement needed more memory than its limit
    /// ([`crate::ExecOptions::memory_limit`]).
    MemoryLimit,
    /// The disk is full: the write was refused and changed nothing.
    /// Writes resume by themselves once space is freed; acknowledged writes
    /// are kept.
    DiskFull,
    /// A statement was stopped by its caller ([`crate::ExecOptions::cancel`]),
    /// say because the client hung up.
    Cancelled,
    /// A transaction's commit found a row it wrote written by another
    /// transaction (or statement) since it began, or a table it wrote
    /// changed by DDL: nothing of it was written. Run it again.
    SerializationFailure,
    /// A write inside a `begin read only` transaction.
    ReadOnlyTransaction,
    /// A transaction's writes outgrew their bound
    /// ([`crate::Options::max_transaction_bytes`]); the statement that
    /// crossed it added nothing.
    TransactionTooLarge,
    /// The transaction stayed idle past its timeout
    /// ([`crate::Options::idle_transaction_timeout`]) and was rolled back.
    TransactionTimeout,
    /// `begin` inside a transaction, `commit` or `rollback` outside one,
    /// DDL inside one, or a transaction statement where no session holds
    /// transactions.
    InvalidTransactionState,
    /// A null (given, or a missing column without default) for a column
    /// declared `not null`.
    NotNullViolation,
}

impl ErrorCode {
    /// The code as sent to clients, in snake case.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::SyntaxError => "syntax_error",
            ErrorCode::UnknownTable => "unknown_table",
            ErrorCode::UnknownColumn => "unknown_column",
            ErrorCode::UnknownIndex => "unknown_index",
            ErrorCode::TableExists => "table_exists",
            ErrorCode::IndexExists => "index_exists",
            ErrorCode::InvalidSchema => "invalid_schema",
            ErrorCode::TypeMismatch => "type_mismatch",
            ErrorCode::DuplicateKey => "duplicate_key",
            ErrorCode::MissingPrimaryKey => "missing_primary_key",
            ErrorCode::AmbiguousColumn => "ambiguous_column",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::NumericOverflow => "numeric_overflow",
            ErrorCode::InvalidParameter => "invalid_parameter",
            ErrorCode::StorageError => "storage_error",
            ErrorCode::Poisoned => "poisoned",
            ErrorCode::Corruption => "corruption",
            ErrorCode::TooComplex => "too_complex",
            ErrorCode::StatementTimeout => "statement_timeout",
            ErrorCode::MemoryLimit => "memory_limit",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::DiskFull => "disk_full",
            ErrorCode::SerializationFailure => "serialization_failure",
            ErrorCode::ReadOnlyTransaction => "read_only_transaction",
            ErrorCode::TransactionTooLarge => "transaction_too_large",
            ErrorCode::TransactionTimeout => "transaction_timeout",
            ErrorCode::InvalidTransactionState => "invalid_transaction_state",
            ErrorCode::NotNullViolation => "not_null_violation",
        }
    }
}

impl ErrorCode {
    /// The PostgreSQL SQLSTATE that best matches the code, for the
    /// PostgreSQL wire protocol (the errcodes appendix of PostgreSQL's
    /// documentation): drivers branch on these (23505 a unique violation,
    /// 40001 retry the transaction, 57014 cancelled, ...).
    pub fn sqlstate(self) -> &'static str {
        match self {
            ErrorCode::SyntaxError => "42601",
            ErrorCode::UnknownTable => "42P01",
            ErrorCode::UnknownColumn => "42703",
            ErrorCode::UnknownIndex => "42704",
            ErrorCode::TableExists | ErrorCode::IndexExists => "42P07",
            ErrorCode::InvalidSchema => "42P16",
            ErrorCode::TypeMismatch => "42804",
            ErrorCode::DuplicateKey => "23505",
            ErrorCode::MissingPrimaryKey | ErrorCode::NotNullViolation => "23502",
            ErrorCode::AmbiguousColumn => "42702",
            ErrorCode::Unsupported => "0A000",
            ErrorCode::NumericOverflow => "22003",
            ErrorCode::InvalidParameter => "08P01",
            ErrorCode::StorageError => "58030",
            ErrorCode::Poisoned => "58000",
            ErrorCode::Corruption => "XX001",
            ErrorCode::TooComplex => "54001",
            ErrorCode::StatementTimeout | ErrorCode::Cancelled => "57014",
            ErrorCode::MemoryLimit => "53200",
            ErrorCode::DiskFull => "53100",
            ErrorCode::SerializationFailure => "40001",
            ErrorCode::ReadOnlyTransaction => "25006",
            ErrorCode::TransactionTooLarge => "54000",
            ErrorCode::TransactionTimeout => "25P03",
            ErrorCode::InvalidTransactionState => "25000",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Everything a statement can fail with.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The text does not parse, or parses into something past a limit of
    /// the parser (then `code` is [`ErrorCode::TooComplex`]).
    #[error("{message} at line {line}, column {column}")]
    Syntax {
        /// [`ErrorCode::SyntaxError`], or [`ErrorCode::TooComplex`] for a
        /// statement nested or chained too deeply or a name too long.
        code: ErrorCode,
        /// What was expected or wrong, one line.
        message: String,
        /// 1-based line of the offending token.
        line: u32,
        /// 1-based column (in characters) of the offending token.
        column: u32,
        /// `did you mean "..."?`, when a keyword is close.
        hint: Option<String>,
    },
    /// The statement parses but cannot run: unknown names, wrong types,
    /// duplicate keys and the like. Nothing was changed.
    #[error("{message}")]
    Query {
        /// The stable code.
        code: ErrorCode,
        /// One line, lower case.
        message: String,
        /// `did you mean column "name"?`, when a name is close.
        hint: Option<String>,
    },
    /// The storage layer failed.
    #[error(transparent)]
    Storage(#[from] fasty_wal::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A query error without a hint.
    pub(crate) fn query(code: ErrorCode, message: impl Into<String>) -> Error {
        Error::Query {
            code,
            message: message.into(),
            hint: None,
        }
    }

    /// A query error with an optional hint.
    pub(crate) fn hinted(
        code: ErrorCode,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Error {
        Error::Query {
            code,
            message: message.into(),
            hint,
        }
    }

    /// Stored bytes (catalog or row) that do not decode.
    pub(crate) fn corrupt(message: impl Into<String>) -> Error {
        Error::query(ErrorCode::Corruption, message)
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Syntax { code, .. } => *code,
            Error::Query { code, .. } => *code,
            Error::Storage(e) => match e.kind() {
                WalErrorKind::Poisoned => ErrorCode::Poisoned,
                WalErrorKind::DiskFull => ErrorCode::DiskFull,
                WalErrorKind::StorageCorruption | WalErrorKind::WalCorruption => {
                    ErrorCode::Corruption
                }
                _ => ErrorCode::StorageError,
            },
        }
    }

    /// The one-line message (for syntax errors without the position,
    /// which [`Error::line`] and [`Error::column`] carry).
    pub fn message(&self) -> String {
        match self {
            Error::Syntax { message, .. } | Error::Query { message, .. } => message.clone(),
            Error::Storage(e) => e.to_string(),
        }
    }

    /// 1-based line of a syntax error.
    pub fn line(&self) -> Option<u32> {
        match self {
            Error::Syntax { line, .. } => Some(*line),
            _ => None,
        }
    }

    /// 1-based column of a syntax error.
    pub fn column(&self) -> Option<u32> {
        match self {
            Error::Syntax { column, .. } => Some(*column),
            _ => None,
        }
    }

    /// The hint, if any.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Syntax { hint, .. } | Error::Query { hint, .. } => hint.as_deref(),
            Error::Storage(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_well_formed_sqlstate() {
        // The match in `sqlstate` is exhaustive, so a new code cannot be
        // forgotten; this checks the shape (five characters of 0-9A-Z, a
        // class PostgreSQL defines) and a few hand-checked values.
        let all = [
            ErrorCode::SyntaxError,
            ErrorCode::UnknownTable,
            ErrorCode::UnknownColumn,
            ErrorCode::UnknownIndex,
            ErrorCode::TableExists,
            ErrorCode::IndexExists,
            ErrorCode::InvalidSchema,
            ErrorCode::TypeMismatch,
            ErrorCode::DuplicateKey,
            ErrorCode::MissingPrimaryKey,
            ErrorCode::AmbiguousColumn,
            ErrorCode::Unsupported,
            ErrorCode::NumericOverflow,
            ErrorCode::InvalidParameter,
            ErrorCode::StorageError,
            ErrorCode::Poisoned,
            ErrorCode::Corruption,
            ErrorCode::TooComplex,
            ErrorCode::StatementTimeout,
            ErrorCode::MemoryLimit,
            ErrorCode::DiskFull,
            ErrorCode::Cancelled,
            ErrorCode::SerializationFailure,
            ErrorCode::ReadOnlyTransaction,
            ErrorCode::TransactionTooLarge,
            ErrorCode::TransactionTimeout,
            ErrorCode::InvalidTransactionState,
        ];
        let classes = [
            "0A", "08", "22", "23", "25", "40", "42", "53", "54", "57", "58", "XX",
        ];
        for code in all {
            let s = code.sqlstate();
            assert_eq!(s.len(), 5, "{code}: {s}");
            assert!(
                s.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
                "{code}: {s}"
            );
            assert!(classes.contains(&&s[..2]), "{code}: {s}");
        }
        assert_eq!(ErrorCode::DuplicateKey.sqlstate(), "23505");
        assert_eq!(ErrorCode::SerializationFailure.sqlstate(), "40001");
        assert_eq!(ErrorCode::UnknownTable.sqlstate(), "42P01");
        assert_eq!(ErrorCode::Cancelled.sqlstate(), "57014");
    }

    #[test]
    fn a_full_disk_has_its_own_code() {
        let e = Error::from(fasty_wal::Error::DiskFull {
            cause: "no space left on device".into(),
        });
        assert_eq!(e.code(), ErrorCode::DiskFull);
        assert_eq!(e.code().as_str(), "disk_full");
    }

    #[test]
    fn wal_errors_map_to_codes_by_kind() {
        let code = |e: fasty_wal::Error| Error::from(e).code();
        let poisoned = fasty_storage::Error::Poisoned {
            cause: "fsync failed".into(),
        };
        assert_eq!(code(poisoned.into()), ErrorCode::Poisoned);
        assert_eq!(
            code(fasty_wal::Error::Poisoned { cause: "x".into() }),
            ErrorCode::Poisoned
        );
        let corrupt = fasty_storage::Error::Corruption {
            path: "t.sst".into(),
            offset: 0,
            reason: "checksum".into(),
        };
        assert_eq!(code(corrupt.into()), ErrorCode::Corruption);
        assert_eq!(code(fasty_wal::Error::Closed), ErrorCode::StorageError);
        let io = fasty_storage::Error::Io {
            path: "poisoned".into(),
            source: std::io::Error::other("disk_full"),
        };
        assert_eq!(code(io.into()), ErrorCode::StorageError);
    }
}
