//! The SQL front end's errors: sqlparser's messages ("... at Line: L,
//! Column: C") as [`Error::Syntax`] with the position, the depth bounds
//! (too deep is `too_complex`, never a stack overflow), and the
//! `unsupported` error naming a construct the engine does not run yet.

use sqlparser::keywords::Keyword;
use sqlparser::parser::ParserError;
use sqlparser::tokenizer::{Token, TokenWithSpan, TokenizerError};

use crate::error::{Error, ErrorCode};
use crate::parser::MAX_DEPTH;

/// sqlparser's recursion limit: the fasty language's depth bound
/// ([`MAX_DEPTH`]) over the levels sqlparser counts (one per nested
/// expression, parenthesis or subquery).
pub(super) const RECURSION_LIMIT: usize = MAX_DEPTH as usize;

/// `unsupported`: `construct` parses as SQL but the engine does not run
/// it (yet).
pub(super) fn unsupported(construct: impl std::fmt::Display) -> Error {
    Error::query(
        ErrorCode::Unsupported,
        format!("{construct} is not supported (see docs/sql.md)"),
    )
}

/// `too_complex` past a depth bound.
pub(super) fn too_deep() -> Error {
    Error::query(
        ErrorCode::TooComplex,
        format!(
            "statement nested too deeply (more than {MAX_DEPTH} levels of operators and parentheses): split it, or write a long or-chain as \"in (...)\""
        ),
    )
}

/// A `$n` in text run without preparing it.
pub(super) fn placeholder_needs_prepare() -> Error {
    Error::query(
        ErrorCode::SyntaxError,
        "a \"$n\" placeholder needs a prepared statement (Database::prepare_sql) and its values",
    )
}

/// A prepared statement's text that is not exactly one statement.
pub(super) fn statement_count(n: usize) -> Error {
    Error::query(
        ErrorCode::SyntaxError,
        format!("one statement expected, got {n} (run several in a transaction)"),
    )
}

/// A tokenizer error, with its position.
pub(super) fn tokenizer(e: &TokenizerError) -> Error {
    syntax(
        &e.message,
        e.location.line,
        e.location.column,
        ErrorCode::SyntaxError,
    )
}

/// A parser error: its position parsed back out of the message.
pub(super) fn parser(e: ParserError) -> Error {
    match e {
        ParserError::RecursionLimitExceeded => too_deep(),
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => {
            let (message, line, column) = split_location(&m);
            syntax(message, line, column, ErrorCode::SyntaxError)
        }
    }
}

/// Splits "MESSAGE at Line: L, Column: C" into its parts; a message without
/// a location points at the start.
fn split_location(m: &str) -> (&str, u64, u64) {
    if let Some(i) = m.rfind(" at Line: ") {
        let rest = &m[i + " at Line: ".len()..];
        if let Some((l, c)) = rest.split_once(", Column: ")
            && let (Ok(l), Ok(c)) = (l.trim().parse(), c.trim().parse())
        {
            return (&m[..i], l, c);
        }
    }
    (m, 1, 1)
}

fn syntax(message: &str, line: u64, column: u64, code: ErrorCode) -> Error {
    let mut message = message.trim().to_owned();
    // sqlparser writes "Expected: x, found: y"; errors here are lower case.
    if let Some(first) = message.get(..1) {
        let lower = first.to_ascii_lowercase();
        message.replace_range(..1, &lower);
    }
    Error::Syntax {
        code,
        message,
        line: u32::try_from(line.max(1)).unwrap_or(u32::MAX),
        column: u32::try_from(column.max(1)).unwrap_or(u32::MAX),
        hint: None,
    }
}

/// Bounds operator chains before sqlparser builds them. sqlparser counts
/// nesting against its recursion limit, but builds a chain such as
/// `a + b + c ...` or `x = 1 or x = 2 or ...` in a loop, one tree level per
/// link, that its own recursion limit does not see; a tree that deep would
/// overflow the stack when walked or dropped. The count of operator tokens
/// in a run not broken by a comma, a parenthesis or a `;` bounds the height
/// of any chain in it: past [`MAX_DEPTH`], `too_complex` (the fasty
/// language's bound on a chain).
pub(super) fn check_chains(tokens: &[TokenWithSpan]) -> crate::error::Result<()> {
    let mut runs: Vec<u32> = vec![0];
    for t in tokens {
        match &t.token {
            Token::LParen | Token::LBracket => runs.push(0),
            Token::RParen | Token::RBracket => {
                runs.pop();
                if runs.is_empty() {
                    runs.push(0);
                }
            }
            Token::Comma | Token::SemiColon => {
                if let Some(r) = runs.last_mut() {
                    *r = 0;
                }
            }
            tok if is_operator(tok) => {
                if let Some(r) = runs.last_mut() {
                    *r += 1;
                    if *r > MAX_DEPTH {
                        return Err(too_deep());
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether a token can join two expressions (or prefix one), adding a
/// level to the tree.
fn is_operator(t: &Token) -> bool {
    match t {
        Token::Word(w) => matches!(
            w.keyword,
            Keyword::AND
                | Keyword::OR
                | Keyword::NOT
                | Keyword::IS
                | Keyword::LIKE
                | Keyword::ILIKE
                | Keyword::IN
                | Keyword::BETWEEN
                | Keyword::COLLATE
                | Keyword::AT
        ),
        Token::Whitespace(_)
        | Token::Number(..)
        | Token::Char(_)
        | Token::SingleQuotedString(_)
        | Token::DoubleQuotedString(_)
        | Token::EscapedStringLiteral(_)
        | Token::NationalStringLiteral(_)
        | Token::HexStringLiteral(_)
        | Token::DollarQuotedString(_)
        | Token::Placeholder(_)
        | Token::EOF
        | Token::LBrace
        | Token::RBrace
        | Token::Period
        | Token::Colon => false,
        _ => true,
    }
}
