//! Characters → tokens, on demand (the parser looks one token ahead, so a
//! statement is never tokenised into a buffer). The character-level rules
//! are nom combinators; every token records its byte span so errors can
//! point at it.
//!
//! The lexer never fails: a malformed string, number or character becomes
//! an [`Tok::Error`] token (repeated forever after), and the parser reports
//! it when it gets there — so an earlier syntax error still wins.

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, take_till, take_while},
    character::complete::{char, digit1, multispace1, one_of, satisfy},
    combinator::{opt, recognize},
    multi::many0_count,
};

/// Defines [`Kw`] from `Variant = "text"` pairs (lower case).
macro_rules! keywords {
    ($($var:ident = $text:literal / $bytes:literal,)*) => {
        /// The words the grammar gives a meaning. Most are reserved (not
        /// usable as bare names); see [`Kw::reserved`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(super) enum Kw { $($var,)* }

        impl Kw {
            /// Every keyword, in declaration order (the order error
            /// messages list them in).
            pub(super) const ALL: &[Kw] = &[$(Kw::$var,)*];

            /// The keyword as written (lower case).
            pub(super) fn as_str(self) -> &'static str {
                match self { $(Kw::$var => $text,)* }
            }

            fn from_lower(word: &[u8]) -> Option<Kw> {
                match word { $($bytes => Some(Kw::$var),)* _ => None }
            }
        }
    };
}

keywords! {
    Select = "select" / b"select",
    Find = "find" / b"find",
    Insert = "insert" / b"insert",
    Upsert = "upsert" / b"upsert",
    Update = "update" / b"update",
    Delete = "delete" / b"delete",
    Create = "create" / b"create",
    Drop = "drop" / b"drop",
    Explain = "explain" / b"explain",
    Begin = "begin" / b"begin",
    Commit = "commit" / b"commit",
    Rollback = "rollback" / b"rollback",
    Table = "table" / b"table",
    Index = "index" / b"index",
    From = "from" / b"from",
    Join = "join" / b"join",
    On = "on" / b"on",
    Where = "where" / b"where",
    Group = "group" / b"group",
    Order = "order" / b"order",
    By = "by" / b"by",
    Asc = "asc" / b"asc",
    Desc = "desc" / b"desc",
    Limit = "limit" / b"limit",
    Offset = "offset" / b"offset",
    As = "as" / b"as",
    Set = "set" / b"set",
    Or = "or" / b"or",
    And = "and" / b"and",
    Not = "not" / b"not",
    Like = "like" / b"like",
    Is = "is" / b"is",
    In = "in" / b"in",
    Between = "between" / b"between",
    Null = "null" / b"null",
    True = "true" / b"true",
    False = "false" / b"false",
    Case = "case" / b"case",
    Left = "left" / b"left",
    Inner = "inner" / b"inner",
    Outer = "outer" / b"outer",
    Distinct = "distinct" / b"distinct",
    Having = "having" / b"having",
}

impl Kw {
    /// The keyword spelled `word`, in any case.
    pub(super) fn from_word(word: &str) -> Option<Kw> {
        const MAX: usize = 8; // "rollback"
        let bytes = word.as_bytes();
        if bytes.len() < 2 || bytes.len() > MAX {
            return None;
        }
        let mut lower = [0u8; MAX];
        for (l, b) in lower.iter_mut().zip(bytes) {
            *l = b.to_ascii_lowercase();
        }
        Kw::from_lower(&lower[..bytes.len()])
    }

    /// Whether the word cannot be a bare name. `table`, `index`, `set`
    /// and `by` only ever follow a fixed keyword (`create`, `drop`, a table
    /// name, `order`, `group`), and `begin`, `commit` and `rollback` only
    /// start a statement (where no name can stand), so they stay usable as
    /// names.
    pub(super) fn reserved(self) -> bool {
        !matches!(
            self,
            Kw::Table
                | Kw::Index
                | Kw::Set
                | Kw::By
                | Kw::Begin
                | Kw::Commit
                | Kw::Rollback
                | Kw::Outer
        )
    }
}

/// Punctuation and operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Punct {
    Comma,
    Colon,
    Semi,
    Dot,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    LParen,
    RParen,
    Star,
    Plus,
    Minus,
    Slash,
    Eq,
    /// `!=` or `<>`.
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `?`: a parameter of a prepared statement.
    Question,
    /// `%`: remainder.
    Percent,
    /// `||`: string concatenation.
    Concat,
    /// `::`: a cast, `e::int`.
    DoubleColon,
}

impl Punct {
    /// Every punctuation token, in declaration order.
    pub(super) const ALL: &[Punct] = &[
        Punct::Comma,
        Punct::Colon,
        Punct::Semi,
        Punct::Dot,
        Punct::LBrace,
        Punct::RBrace,
        Punct::LBracket,
        Punct::RBracket,
        Punct::LParen,
        Punct::RParen,
        Punct::Star,
        Punct::Plus,
        Punct::Minus,
        Punct::Slash,
        Punct::Eq,
        Punct::NotEq,
        Punct::Lt,
        Punct::LtEq,
        Punct::Gt,
        Punct::GtEq,
        Punct::Question,
        Punct::Percent,
        Punct::Concat,
        Punct::DoubleColon,
    ];

    /// The token as written (`!=` for either spelling of not-equal).
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Punct::Comma => ",",
            Punct::Colon => ":",
            Punct::Semi => ";",
            Punct::Dot => ".",
            Punct::LBrace => "{",
            Punct::RBrace => "}",
            Punct::LBracket => "[",
            Punct::RBracket => "]",
            Punct::LParen => "(",
            Punct::RParen => ")",
            Punct::Star => "*",
            Punct::Plus => "+",
            Punct::Minus => "-",
            Punct::Slash => "/",
            Punct::Eq => "=",
            Punct::NotEq => "!=",
            Punct::Lt => "<",
            Punct::LtEq => "<=",
            Punct::Gt => ">",
            Punct::GtEq => ">=",
            Punct::Question => "?",
            Punct::Percent => "%",
            Punct::Concat => "||",
            Punct::DoubleColon => "::",
        }
    }
}

/// Why the text could not be tokenised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LexError {
    /// A backslash followed by something other than `" ' \ n t`; the
    /// token spans the backslash and the character after it.
    UnknownEscape,
    /// A quote without its closing twin; the token starts at the quote.
    UnterminatedString,
    /// A character no token starts with.
    UnexpectedChar,
    /// Digits run into letters (`12abc`, `1e`).
    BadNumber,
}

impl LexError {
    /// The one-line message for the error token's text.
    pub(super) fn message(self, text: &str) -> String {
        match self {
            LexError::UnknownEscape => {
                format!("unknown escape \"{text}\" in a string (known: \\\" \\' \\\\ \\n \\t)")
            }
            LexError::UnterminatedString => "unterminated string: no closing quote".to_owned(),
            LexError::UnexpectedChar => format!("unexpected character \"{text}\""),
            LexError::BadNumber => format!("invalid number \"{text}\""),
        }
    }
}

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tok {
    /// An identifier or keyword (`Some` when the word, in any case, is one).
    Word(Option<Kw>),
    /// An unsigned number: digits, optional fraction, optional exponent.
    /// `int` when it has neither.
    Number { int: bool },
    /// A quoted string (span includes the quotes); `escaped` when it holds
    /// a backslash escape to resolve.
    Str { escaped: bool },
    /// Punctuation or an operator.
    Punct(Punct),
    /// The end of the text.
    Eof,
    /// Text that is no token.
    Error(LexError),
}

/// A token and its byte span in the text.
#[derive(Clone, Copy, Debug)]
pub(super) struct Token {
    /// What it is.
    pub(super) tok: Tok,
    /// Byte offset of its first character.
    pub(super) start: usize,
    /// Byte offset just past it.
    pub(super) end: usize,
}

/// The lexer: a cursor over the text.
pub(super) struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    /// Once an error token is produced, it is produced again forever.
    failed: Option<Token>,
}

type LexResult<'a, O> = IResult<&'a str, O, ()>;

/// Whitespace and `-- ...` comments.
fn trivia(i: &str) -> LexResult<'_, usize> {
    many0_count(alt((multispace1, comment))).parse(i)
}

fn comment(i: &str) -> LexResult<'_, &str> {
    recognize((tag("--"), take_till(|c| c == '\n'))).parse(i)
}

/// `[A-Za-z_][A-Za-z0-9_]*`
fn word(i: &str) -> LexResult<'_, &str> {
    recognize((
        satisfy(|c| c.is_ascii_alphabetic() || c == '_'),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_'),
    ))
    .parse(i)
}

/// `digits [. digits] [(e|E) [+|-] digits]`
fn number(i: &str) -> LexResult<'_, &str> {
    recognize((
        digit1,
        opt((char('.'), digit1)),
        opt((one_of("eE"), opt(one_of("+-")), digit1)),
    ))
    .parse(i)
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl<'a> Lexer<'a> {
    /// A lexer at the start of `text`.
    pub(super) fn new(text: &'a str) -> Lexer<'a> {
        Lexer {
            text,
            pos: 0,
            failed: None,
        }
    }

    fn offset(&self, rest: &str) -> usize {
        self.text.len() - rest.len()
    }

    /// The next token (after whitespace and comments).
    pub(super) fn next_token(&mut self) -> Token {
        if let Some(t) = self.failed {
            return t;
        }
        let mut rest = &self.text[self.pos..];
        if let Ok((r, _)) = trivia(rest) {
            rest = r;
        }
        let start = self.offset(rest);
        let token = self.token_at(start, rest);
        if matches!(token.tok, Tok::Error(_)) {
            self.failed = Some(token);
        }
        self.pos = token.end;
        token
    }

    fn token_at(&self, start: usize, rest: &'a str) -> Token {
        let simple = |tok, len| Token {
            tok,
            start,
            end: start + len,
        };
        let mut chars = rest.chars();
        let Some(c) = chars.next() else {
            return simple(Tok::Eof, 0);
        };
        let next = chars.next();
        let punct = |p, len| simple(Tok::Punct(p), len);
        match c {
            ',' => punct(Punct::Comma, 1),
            ':' if next == Some(':') => punct(Punct::DoubleColon, 2),
            ':' => punct(Punct::Colon, 1),
            ';' => punct(Punct::Semi, 1),
            '.' => punct(Punct::Dot, 1),
            '{' => punct(Punct::LBrace, 1),
            '}' => punct(Punct::RBrace, 1),
            '[' => punct(Punct::LBracket, 1),
            ']' => punct(Punct::RBracket, 1),
            '(' => punct(Punct::LParen, 1),
            ')' => punct(Punct::RParen, 1),
            '*' => punct(Punct::Star, 1),
            '?' => punct(Punct::Question, 1),
            '+' => punct(Punct::Plus, 1),
            '-' => punct(Punct::Minus, 1),
            '/' => punct(Punct::Slash, 1),
            '%' => punct(Punct::Percent, 1),
            '|' if next == Some('|') => punct(Punct::Concat, 2),
            '=' => punct(Punct::Eq, 1),
            '<' => match next {
                Some('=') => punct(Punct::LtEq, 2),
                Some('>') => punct(Punct::NotEq, 2),
                _ => punct(Punct::Lt, 1),
            },
            '>' => match next {
                Some('=') => punct(Punct::GtEq, 2),
                _ => punct(Punct::Gt, 1),
            },
            '!' if next == Some('=') => punct(Punct::NotEq, 2),
            '"' | '\'' => self.string(start, c),
            '0'..='9' => match number(rest) {
                Ok((after, n)) => {
                    if after.starts_with(is_word_char) {
                        let bad = take_while::<_, _, ()>(is_word_char)(after)
                            .map_or(after.len(), |(r, _)| after.len() - r.len());
                        simple(Tok::Error(LexError::BadNumber), n.len() + bad)
                    } else {
                        let int = !n.contains(['.', 'e', 'E']);
                        simple(Tok::Number { int }, n.len())
                    }
                }
                Err(_) => simple(Tok::Error(LexError::UnexpectedChar), c.len_utf8()),
            },
            _ => match word(rest) {
                Ok((_, w)) => simple(Tok::Word(Kw::from_word(w)), w.len()),
                Err(_) => simple(Tok::Error(LexError::UnexpectedChar), c.len_utf8()),
            },
        }
    }

    /// A string opened by `quote` at `start`; validates escapes (the
    /// parser resolves them when it takes the value).
    fn string(&self, start: usize, quote: char) -> Token {
        let mut rest = &self.text[start + 1..];
        let mut escaped = false;
        loop {
            let Ok((r, _)) = take_till::<_, _, ()>(|c| c == quote || c == '\\')(rest) else {
                break;
            };
            let mut chars = r.chars();
            match chars.next() {
                Some('\\') => match chars.next() {
                    Some('"' | '\'' | '\\' | 'n' | 't') => {
                        escaped = true;
                        rest = &r[2..];
                    }
                    Some(other) => {
                        let at = self.offset(r);
                        return Token {
                            tok: Tok::Error(LexError::UnknownEscape),
                            start: at,
                            end: at + 1 + other.len_utf8(),
                        };
                    }
                    None => break,
                },
                Some(_) => {
                    return Token {
                        tok: Tok::Str { escaped },
                        start,
                        end: self.offset(r) + 1,
                    };
                }
                None => break,
            }
        }
        Token {
            tok: Tok::Error(LexError::UnterminatedString),
            start,
            end: start + 1,
        }
    }
}

/// Resolves the escapes of a string token's body (between the quotes).
pub(super) fn unescape(body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let mut after = rest[i + 1..].chars();
        match after.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(c) => out.push(c),
            None => {}
        }
        rest = after.as_str();
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<Tok> {
        let mut lexer = Lexer::new(text);
        let mut out = Vec::new();
        loop {
            let t = lexer.next_token();
            out.push(t.tok);
            if matches!(t.tok, Tok::Eof | Tok::Error(_)) {
                return out;
            }
        }
    }

    #[test]
    fn keywords_any_case() {
        assert_eq!(Kw::from_word("SELECT"), Some(Kw::Select));
        assert_eq!(Kw::from_word("Between"), Some(Kw::Between));
        assert_eq!(Kw::from_word("selects"), None);
        assert_eq!(Kw::from_word("x"), None);
        for kw in Kw::ALL {
            assert_eq!(Kw::from_word(kw.as_str()), Some(*kw));
        }
    }

    #[test]
    fn operators_numbers_comments() {
        use Punct::*;
        assert_eq!(
            tokens("a<>b!=c<=d>=e--x\n1.5e-3 7"),
            vec![
                Tok::Word(None),
                Tok::Punct(NotEq),
                Tok::Word(None),
                Tok::Punct(NotEq),
                Tok::Word(None),
                Tok::Punct(LtEq),
                Tok::Word(None),
                Tok::Punct(GtEq),
                Tok::Word(None),
                Tok::Number { int: false },
                Tok::Number { int: true },
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn strings_and_errors() {
        assert_eq!(
            tokens(r#""a\"b""#),
            vec![Tok::Str { escaped: true }, Tok::Eof]
        );
        assert_eq!(
            tokens("'it' 'x'"),
            vec![
                Tok::Str { escaped: false },
                Tok::Str { escaped: false },
                Tok::Eof
            ]
        );
        assert_eq!(tokens(r#""\q""#), vec![Tok::Error(LexError::UnknownEscape)]);
        assert_eq!(
            tokens(r#""abc"#),
            vec![Tok::Error(LexError::UnterminatedString)]
        );
        assert_eq!(
            tokens(r#""abc\"#),
            vec![Tok::Error(LexError::UnterminatedString)]
        );
        assert_eq!(tokens("12ab"), vec![Tok::Error(LexError::BadNumber)]);
        assert_eq!(tokens("#"), vec![Tok::Error(LexError::UnexpectedChar)]);
        assert_eq!(tokens("é"), vec![Tok::Error(LexError::UnexpectedChar)]);
        assert_eq!(unescape(r#"a\"b\\c\nd\te\'"#), "a\"b\\c\nd\te'");
    }
}
