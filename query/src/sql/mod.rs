//! The SQL front end (docs/sql.md): PostgreSQL-dialect text, parsed by the
//! `sqlparser` crate, translated onto the same syntax tree (`ast`) that the
//! fasty parser produces. Binding, planning and execution are shared, so a
//! SQL statement and its fasty equivalent run the same plan.
//!
//! One file per concern: `errors` (parser messages and positions, the
//! depth bounds), `statements` (one translation per statement kind),
//! `expressions` (expressions, literals, `$n` placeholders, identifiers),
//! `types` (SQL type names onto [`ast::ColumnType`]). Anything the engine
//! does not run yet is `unsupported` with the construct's name, one match
//! arm per construct, so features can be wired in one at a time.

mod ddl;
mod errors;
mod expressions;
mod statements;
#[cfg(test)]
mod tests;
mod types;

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Tokenizer;

use crate::ast;
use crate::error::Result;

/// Parses SQL text holding one or more `;`-separated statements (as
/// PostgreSQL's simple query protocol sends them), each translated to the
/// engine's syntax tree. `$n` placeholders are errors here: they need a
/// prepared statement ([`crate::Database::prepare_sql`]).
pub fn parse_sql(text: &str) -> Result<Vec<crate::Statement>> {
    let (statements, params) = parse_sql_with_params(text)?;
    if params > 0 {
        return Err(errors::placeholder_needs_prepare());
    }
    Ok(statements.into_iter().map(crate::Statement).collect())
}

/// Parses SQL text that may hold `$1`, `$2`, ... placeholders: the
/// statements, whose `$n` are [`ast::Literal::Param`]`(n - 1)`, and the
/// highest `n` used (0 when there is none).
pub(crate) fn parse_sql_with_params(text: &str) -> Result<(Vec<ast::Statement>, usize)> {
    let dialect = PostgreSqlDialect {};
    let tokens = Tokenizer::new(&dialect, text)
        .tokenize_with_location()
        .map_err(|e| errors::tokenizer(&e))?;
    errors::check_chains(&tokens)?;
    let parsed = Parser::new(&dialect)
        .with_recursion_limit(errors::RECURSION_LIMIT)
        .with_tokens_with_locations(tokens)
        .parse_statements()
        .map_err(errors::parser)?;
    let mut tr = expressions::Translator::default();
    let mut out = Vec::with_capacity(parsed.len());
    for s in &parsed {
        out.push(statements::statement(&mut tr, s)?);
    }
    Ok((out, tr.max_param as usize))
}

/// Parses exactly one SQL statement (a trailing `;` allowed) with `$n`
/// placeholders, for prepared statements: the statement and the highest
/// `n`. Several statements, or none, are errors.
pub(crate) fn parse_one_sql(text: &str) -> Result<(ast::Statement, usize)> {
    let (mut statements, params) = parse_sql_with_params(text)?;
    match statements.len() {
        1 => match statements.pop() {
            Some(s) => Ok((s, params)),
            None => Err(errors::statement_count(0)),
        },
        n => Err(errors::statement_count(n)),
    }
}

/// The field name that an `INSERT` without a column list gives its
/// `i`-th value: a NUL byte and the position, a name no column has (the
/// engine resolves it against the table's columns when the statement runs,
/// so a prepared insert follows the table as it is then).
pub(crate) fn positional_field(i: usize) -> String {
    format!("\u{0}{i}")
}

/// The position of a field named by [`positional_field`].
pub(crate) fn positional_index(name: &str) -> Option<usize> {
    name.strip_prefix('\u{0}')?.parse().ok()
}
