//! The fasty language parser (placeholder: being written).

use crate::ast::Statement;
use crate::error::Result;

/// Parses one statement (a trailing `;` allowed).
pub fn parse(_text: &str) -> Result<Statement> {
    Err(crate::Error::Syntax { message: "parser not written yet".into(), line: 1, column: 1, hint: None })
}
