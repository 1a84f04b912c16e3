//! The parsed statement as users of the crate see it: [`parse`] gives an
//! opaque [`Statement`] to run ([`crate::Database::run`],
//! [`crate::Database::run_into`]) or to classify ([`Statement::kind`],
//! [`crate::Database::is_key_read`]), so that a server can route and count
//! statements without the syntax tree, which stays the crate's own.

use std::fmt;

use crate::ast;
use crate::error::Result;
use crate::parser;

/// One parsed statement. `Display` prints it back as fasty text that
/// parses to the same statement.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement(pub(crate) ast::Statement);

/// What kind of statement a [`Statement`] is, for routing and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatementKind {
    /// `select` or `find`: reads rows.
    Select,
    /// `insert`.
    Insert,
    /// `upsert`.
    Upsert,
    /// `update`.
    Update,
    /// `delete`.
    Delete,
    /// `create table`, `drop table`, `create index`, `drop index`.
    Ddl,
    /// `explain`: the plan of a statement, which is not run.
    Explain,
    /// `begin`, `commit` or `rollback`: controls a session's transaction.
    Transaction,
}

impl Statement {
    /// The statement's kind.
    pub fn kind(&self) -> StatementKind {
        kind_of(&self.0)
    }
}

/// The kind of a syntax tree.
pub(crate) fn kind_of(stmt: &ast::Statement) -> StatementKind {
    match stmt {
        ast::Statement::CreateTable { .. }
        | ast::Statement::DropTable { .. }
        | ast::Statement::CreateIndex { .. }
        | ast::Statement::DropIndex { .. }
        | ast::Statement::AlterTable { .. } => StatementKind::Ddl,
        ast::Statement::Insert { upsert: false, .. } => StatementKind::Insert,
        ast::Statement::Insert { upsert: true, .. } => StatementKind::Upsert,
        ast::Statement::Select(_) => StatementKind::Select,
        ast::Statement::Update { .. } => StatementKind::Update,
        ast::Statement::Delete { .. } => StatementKind::Delete,
        ast::Statement::Explain(_) | ast::Statement::ExplainAnalyze(_) => StatementKind::Explain,
        ast::Statement::Begin { .. } | ast::Statement::Commit | ast::Statement::Rollback => {
            StatementKind::Transaction
        }
    }
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parses one statement (a trailing `;` allowed), for
/// [`crate::Database::run`] and friends. Anything else — an empty text, a
/// second statement, an unknown word, a `?` placeholder (those need
/// [`crate::Database::prepare`]) — is an [`crate::Error::Syntax`] with the
/// position of the offending token; a statement past the language's limits
/// is `too_complex`.
pub fn parse(text: &str) -> Result<Statement> {
    parser::parse(text).map(Statement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        for (text, kind) in [
            ("create table t { id: int }", StatementKind::Ddl),
            ("drop table t", StatementKind::Ddl),
            ("create index i on t (a)", StatementKind::Ddl),
            ("drop index i", StatementKind::Ddl),
            ("insert t { id: 1 }", StatementKind::Insert),
            ("upsert t { id: 1 }", StatementKind::Upsert),
            ("find t where id = 1", StatementKind::Select),
            ("select a from t", StatementKind::Select),
            ("update t set a = 1", StatementKind::Update),
            ("delete t where id = 1", StatementKind::Delete),
            ("explain delete t", StatementKind::Explain),
        ] {
            assert_eq!(parse(text).unwrap().kind(), kind, "{text}");
        }
    }

    #[test]
    fn prints_back_as_text_that_parses_to_the_same_statement() {
        let s = parse("find users where age > 30 order by name limit 2").unwrap();
        assert_eq!(parse(&s.to_string()).unwrap(), s);
    }
}
