//! What the parser expected at the farthest token it reached, and the
//! syntax error built from it.
//!
//! Every test of the current token that fails is noted here, *strong*
//! when the grammar required it there or *weak* when it was an optional
//! continuation (an operator, `where`, `as`, ...). Only notes at the
//! farthest token survive. The message lists the strong ones; the hint
//! looks at all of them, so `find t wher x = 1` says `expected end of
//! input but found "wher"` and suggests `"where"`.

use super::lexer::{Kw, Punct, Tok, Token};
use crate::ast::ColumnType;
use crate::error::{Error, ErrorCode};
use crate::hint::closest;

/// Things the parser can expect that are not one fixed token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum What {
    Statement,
    Expression,
    Value,
    Number,
    Count,
    TableName,
    ColumnName,
    IndexName,
    Alias,
    FieldName,
    ColumnType,
    Operator,
}

impl What {
    const ALL: &[What] = &[
        What::Statement,
        What::Expression,
        What::Value,
        What::Number,
        What::Count,
        What::TableName,
        What::ColumnName,
        What::IndexName,
        What::Alias,
        What::FieldName,
        What::ColumnType,
        What::Operator,
    ];

    fn describe(self) -> &'static str {
        match self {
            What::Statement => "a statement",
            What::Expression => "an expression",
            What::Value => "a value",
            What::Number => "a number",
            What::Count => "a non-negative integer",
            What::TableName => "a table name",
            What::ColumnName => "a column name",
            What::IndexName => "an index name",
            What::Alias => "an alias",
            What::FieldName => "a field name",
            What::ColumnType => "a column type (int, float, string, bool or json)",
            What::Operator => "an operator",
        }
    }

    /// Whether a name would have done here (so a reserved word found
    /// instead deserves a word of explanation).
    fn is_name(self) -> bool {
        matches!(
            self,
            What::Expression
                | What::TableName
                | What::ColumnName
                | What::IndexName
                | What::Alias
                | What::FieldName
        )
    }

    /// Adds the words that fit here to `out`, for hints.
    fn words(self, out: &mut Vec<&'static str>) {
        let kws: &[Kw] = match self {
            What::Statement => &[
                Kw::Select,
                Kw::Find,
                Kw::Insert,
                Kw::Upsert,
                Kw::Update,
                Kw::Delete,
                Kw::Create,
                Kw::Drop,
                Kw::Explain,
                Kw::Begin,
                Kw::Commit,
                Kw::Rollback,
            ],
            What::Operator => &[
                Kw::And,
                Kw::Or,
                Kw::Not,
                Kw::Like,
                Kw::Is,
                Kw::In,
                Kw::Between,
            ],
            What::ColumnType => {
                out.extend(super::COLUMN_TYPES.map(ColumnType::name));
                return;
            }
            _ => return,
        };
        out.extend(kws.iter().map(|k| k.as_str()));
    }
}

/// One expectation.
#[derive(Clone, Copy, Debug)]
pub(super) enum Expected {
    What(What),
    Kw(Kw),
    Punct(Punct),
    End,
}

const KW_BASE: u32 = 16;
const PUNCT_BASE: u32 = 64;
const END_BIT: u32 = 127;

impl Expected {
    fn bit(self) -> u128 {
        let index = match self {
            Expected::What(w) => w as u32,
            Expected::Kw(k) => KW_BASE + k as u32,
            Expected::Punct(p) => PUNCT_BASE + p as u32,
            Expected::End => END_BIT,
        };
        1 << index
    }

    /// The expectations in `bits`, in message order: kinds of thing,
    /// keywords, punctuation, end of input.
    fn all_in(bits: u128) -> impl Iterator<Item = Expected> {
        let whats = What::ALL.iter().map(|w| Expected::What(*w));
        let kws = Kw::ALL.iter().map(|k| Expected::Kw(*k));
        let puncts = Punct::ALL.iter().map(|p| Expected::Punct(*p));
        whats
            .chain(kws)
            .chain(puncts)
            .chain(std::iter::once(Expected::End))
            .filter(move |e| bits & e.bit() != 0)
    }

    fn describe(self) -> String {
        match self {
            Expected::What(w) => w.describe().to_owned(),
            Expected::Kw(k) => format!("\"{}\"", k.as_str()),
            Expected::Punct(p) => format!("\"{}\"", p.as_str()),
            Expected::End => "end of input".to_owned(),
        }
    }
}

/// The expectations noted at the farthest token so far.
pub(super) struct ExpectedSet {
    /// The farthest token a test failed at.
    token: Token,
    strong: u128,
    weak: u128,
}

impl ExpectedSet {
    pub(super) fn new(first: Token) -> ExpectedSet {
        ExpectedSet {
            token: first,
            strong: 0,
            weak: 0,
        }
    }

    /// Notes that `e` was expected at `at` (the current token).
    #[inline]
    pub(super) fn note(&mut self, at: Token, e: Expected, strong: bool) {
        if at.start > self.token.start {
            self.token = at;
            self.strong = 0;
            self.weak = 0;
        } else if at.start < self.token.start {
            return;
        }
        if strong {
            self.strong |= e.bit();
        } else {
            self.weak |= e.bit();
        }
    }

    /// The syntax error for a parse that failed at the farthest token.
    pub(super) fn into_error(self, text: &str) -> Error {
        let token = self.token;
        let found_text = &text[token.start..token.end];
        if let Tok::Error(e) = token.tok {
            return syntax(text, token.start, e.message(&shorten(found_text)), None);
        }
        let listed = if self.strong != 0 {
            self.strong
        } else {
            self.weak
        };
        let list = join_or(Expected::all_in(listed).map(Expected::describe).collect());
        let name_expected =
            Expected::all_in(listed).any(|e| matches!(e, Expected::What(w) if w.is_name()));
        let found = match token.tok {
            Tok::Word(Some(kw)) if kw.reserved() && name_expected => {
                format!("reserved word \"{found_text}\"")
            }
            Tok::Str { .. } => "a string".to_owned(),
            _ => format!("\"{}\"", shorten(found_text)),
        };
        let message = match (token.tok, list.is_empty()) {
            (Tok::Eof, false) => format!("unexpected end of input, expected {list}"),
            (Tok::Eof, true) => "unexpected end of input".to_owned(),
            (_, false) => format!("expected {list} but found {found}"),
            (_, true) => format!("unexpected {found}"),
        };
        let hint = match token.tok {
            Tok::Word(_) => {
                let mut candidates: Vec<&'static str> = Vec::new();
                for e in Expected::all_in(self.strong | self.weak) {
                    match e {
                        Expected::Kw(k) => candidates.push(k.as_str()),
                        Expected::What(w) => w.words(&mut candidates),
                        Expected::Punct(_) | Expected::End => {}
                    }
                }
                closest(found_text, candidates).map(|c| format!("did you mean \"{c}\"?"))
            }
            _ => None,
        };
        syntax(text, token.start, message, hint)
    }
}

/// `a`, `a or b`, `a, b or c`.
fn join_or(mut items: Vec<String>) -> String {
    match items.len() {
        0 => String::new(),
        1 => items.remove(0),
        n => {
            let last = items.remove(n - 1);
            format!("{} or {last}", items.join(", "))
        }
    }
}

/// At most 30 characters of a token, on one line: user text as quoted
/// in a message.
pub(super) fn shorten(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(30)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().nth(30).is_some() {
        out.push('…');
    }
    out
}

/// A syntax error at byte offset `at` of `text`.
pub(super) fn syntax(text: &str, at: usize, message: String, hint: Option<String>) -> Error {
    positioned(ErrorCode::SyntaxError, text, at, message, hint)
}

/// An error with code `code` at byte offset `at` of `text`.
pub(super) fn positioned(
    code: ErrorCode,
    text: &str,
    at: usize,
    message: String,
    hint: Option<String>,
) -> Error {
    let (line, column) = line_column(text, at);
    Error::Syntax {
        code,
        message,
        line,
        column,
        hint,
    }
}

/// 1-based line and column (in characters) of byte offset `at`.
fn line_column(text: &str, at: usize) -> (u32, u32) {
    let before = text.get(..at).unwrap_or(text);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let column = before[line_start..].chars().count() + 1;
    let clamp = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    (clamp(line), clamp(column))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_characters() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("abc", 3), (1, 4));
        assert_eq!(line_column("a\nbc", 3), (2, 2));
        assert_eq!(line_column("é\né x", 6), (2, 3));
    }

    #[test]
    fn lists_read_as_english() {
        assert_eq!(join_or(vec![]), "");
        assert_eq!(join_or(vec!["a".into()]), "a");
        assert_eq!(join_or(vec!["a".into(), "b".into()]), "a or b");
        assert_eq!(
            join_or(vec!["a".into(), "b".into(), "c".into()]),
            "a, b or c"
        );
    }
}
