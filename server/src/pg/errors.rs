//! Errors as PostgreSQL sends them: an ErrorResponse with a SQLSTATE
//! ([`fasty_query::ErrorCode::sqlstate`]), the message, the hint, and for
//! syntax errors the position (1-based, in characters, into the
//! statement's text).

use pgwire::error::{ErrorInfo, PgWireError};

/// An error for the client: SQLSTATE, message, hint, position.
#[derive(Debug, Clone)]
pub(crate) struct PgError {
    code: &'static str,
    message: String,
    hint: Option<String>,
    position: Option<usize>,
}

/// SQLSTATE of a statement in a transaction block that failed earlier.
pub(crate) const IN_FAILED_TRANSACTION: &str = "25P02";

impl PgError {
    /// An error with `code` (a SQLSTATE) and `message`.
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> PgError {
        PgError {
            code,
            message: message.into(),
            hint: None,
            position: None,
        }
    }

    /// A statement's error; `text` is the statement it came from (for
    /// the position of a syntax error).
    pub(crate) fn from_query(e: &fasty_query::Error, text: &str) -> PgError {
        PgError {
            code: e.code().sqlstate(),
            message: e.message(),
            hint: e.hint().map(str::to_string),
            position: e
                .line()
                .zip(e.column())
                .map(|(line, column)| position(text, line, column)),
        }
    }

    /// The statement that follows a failure in a transaction block.
    pub(crate) fn in_failed_transaction() -> PgError {
        PgError::new(
            IN_FAILED_TRANSACTION,
            "current transaction is aborted, commands ignored until end of transaction block",
        )
    }

    /// The SQLSTATE.
    #[cfg(test)]
    pub(crate) fn code(&self) -> &'static str {
        self.code
    }

    /// As pgwire sends it.
    pub(crate) fn info(&self) -> ErrorInfo {
        let mut info = ErrorInfo::new("ERROR".into(), self.code.into(), self.message.clone());
        info.hint = self.hint.clone();
        info.position = self.position.map(|p| p.to_string());
        info
    }
}

impl From<PgError> for PgWireError {
    fn from(e: PgError) -> PgWireError {
        PgWireError::UserError(Box::new(e.info()))
    }
}

/// The 1-based character offset in `text` of `line`:`column` (both
/// 1-based, the column in characters); past the end, the end.
fn position(text: &str, line: u32, column: u32) -> usize {
    let mut offset = 0usize;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line as usize {
            return offset + column as usize;
        }
        offset += l.chars().count();
    }
    offset.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters_across_lines() {
        assert_eq!(position("selec 1", 1, 1), 1);
        assert_eq!(position("select\nfrom x", 2, 6), 7 + 6);
        assert_eq!(position("é\nab", 2, 2), 2 + 2);
    }

    #[test]
    fn a_syntax_error_carries_its_position() {
        let text = "select * from t wher id = 1";
        let e = fasty_query::parse_sql(text).unwrap_err();
        let pg = PgError::from_query(&e, text);
        assert_eq!(pg.code(), "42601");
        let p: usize = pg.info().position.unwrap().parse().unwrap();
        assert!(p > 1 && p <= text.len(), "{p}");
    }
}
