//! The fasty language parser (docs/language.md): one statement of text → one
//! [`Statement`]. It owns the grammar and the wording of syntax errors;
//! it knows nothing of the catalog (names are resolved by the planner).
//!
//! Characters become tokens in [`lexer`] (nom combinators, on demand);
//! the grammar is recursive descent over those tokens with one token of
//! lookahead, so a statement is read in a single pass without
//! backtracking. Every failed test of the current token is noted in
//! [`expected`], and a syntax error reports the farthest token reached,
//! what would have been accepted there and, for a misspelt keyword,
//! `did you mean "..."?`.
//!
//! # Grammar
//!
//! Keywords are case-insensitive, names case-sensitive; `--` starts a
//! comment running to the end of the line.
//!
//! ```text
//! input      = statement [";"] EOF
//! statement  = "create" "table" ["if" "not" "exists"] NAME "{" [coldef {"," coldef} [","]] "}"
//!            | "create" ["unique"] "index" ["if" "not" "exists"] NAME "on" NAME "(" NAME ")"
//!            | "alter" "table" NAME ("add" "column" coldef | "drop" "column" NAME
//!                | "rename" "column" NAME "to" NAME | "rename" "to" NAME)  -- none reserved
//!            | "drop" ("table" | "index") ["if" "exists"] NAME   -- "if", "exists" are not reserved
//!            | ("insert" | "upsert") NAME (object | "[" [object {"," object} [","]] "]")
//!            | "select" ["distinct"] "*" "from" NAME [alias] tail
//!            | "select" ["distinct"] item {"," item} "from" NAME [alias] tail
//!            | "select" NAME tail                  -- = select * from NAME
//!            | "find" NAME tail                    -- = select * from NAME
//!            | "update" NAME "set" NAME "=" expr {"," NAME "=" expr} ["where" expr]
//!            | "delete" ["from"] NAME ["where" expr]
//!            | "explain" ["analyze"] statement      -- "analyze" is not reserved
//!            | "begin" ["read" "only"]             -- "read", "only" are not reserved
//!            | "commit" | "rollback"
//! coldef     = NAME ":" ("int" | "float" | "string" | "bool" | "json") {constraint}
//! constraint = "primary" "key" | "not" "null" | "unique" | "default" literal  -- no "?"
//! item       = expr ["as" NAME]
//! alias      = ["as"] NAME
//! tail       = {join NAME [alias] "on" expr} ["where" expr] ["group" "by" expr {"," expr}]
//!              ["having" expr] ["order" "by" key {"," key}] [limit [offset] | offset [limit]]
//! join       = ["inner"] "join" | "left" ["outer"] "join"     -- "outer" is not reserved
//! key        = expr ["asc" | "desc"]
//! limit      = "limit" INTEGER            offset = "offset" INTEGER
//!
//! expr       = and {"or" and}
//! and        = not {"and" not}
//! not        = "not" not | comparison
//! comparison = sum [ ("=" | "!=" | "<>" | "<" | "<=" | ">" | ">=") sum
//!                  | ["not"] "like" sum
//!                  | "is" ["not"] "null"
//!                  | ["not"] "in" "(" expr {"," expr} ")"
//!                  | ["not"] "between" sum "and" sum ]      -- never chained
//! sum        = product {("+" | "-") product}
//! product    = unary {("*" | "/") unary}
//! unary      = "-" unary | atom                 -- "-" touching a number: a negative literal
//! atom       = literal | name | AGG "(" ("*" | ["distinct"] expr) ")" | "(" expr ")"
//! name       = NAME {"." WORD}                  -- a.b.c; parts after a dot may be keywords
//! AGG        = "count" | "sum" | "avg" | "min" | "max"    -- "*" only in count(*)
//!
//! literal    = ["-"] NUMBER | STRING | "true" | "false" | "null" | array | object
//!            | "?"                             -- a placeholder: prepared statements only
//! array      = "[" [literal {"," literal} [","]] "]"
//! object     = "{" [field {"," field} [","]] "}"
//! field      = (WORD | STRING) ":" literal     -- any word, keywords included
//!
//! NAME       = [A-Za-z_][A-Za-z0-9_]*, not a reserved word
//! NUMBER     = digits ["." digits] [("e" | "E") ["+" | "-"] digits]
//! STRING     = '"' ... '"' | "'" ... "'"    -- escapes \" \' \\ \n \t
//! ```
//!
//! An integer literal is [`Literal::Int`] when it fits i64 (the minus sign
//! included, so `-9223372036854775808` is one), else [`Literal::Float`];
//! a number with a fraction or exponent is always a float, and one that
//! overflows f64 is an error. `-x` on anything but a number touching the
//! minus is [`UnaryOp::Neg`].
//!
//! **Reserved words** (not usable as bare names, in any case): `select
//! find insert upsert update delete create drop explain from join on where
//! group order asc desc limit offset as or and not like is in between null
//! true false left inner distinct having`. `table`, `index`, `set` and `by` are keywords only where
//! the grammar fixes them, and column types and aggregate names only in
//! their places, so all of those remain valid names. Object keys and the
//! parts of a dotted name after the first may be any word.
//!
//! `select users` (a single bare name and no `from`) is `select * from
//! users`; both, and `find users`, give a [`Select`] with no items.
//! `limit` and `offset` may come in either order. Comparisons do not
//! chain: `a = b = c` is an error asking for parentheses.
//!
//! # Limits
//!
//! Every later pass recurses over the trees read here, so the parser
//! bounds them as it builds them (chains too, link by link): their height
//! ([`MAX_DEPTH`]), json literal nesting ([`MAX_JSON_DEPTH`]), `explain`s
//! ([`MAX_EXPLAINS`]), name lengths ([`MAX_NAME_LEN`]); past a bound the
//! error has code `too_complex` and the position where it was crossed.
//! `like` patterns ([`MAX_LIKE_PATTERN_LEN`]) are checked where they are
//! compiled or evaluated, as they may come from placeholders or columns.
//! A key given twice in an object or a column twice in a `set` list is a
//! syntax error at the second.

mod expected;
#[cfg(test)]
mod function_tests;
mod lexer;
#[cfg(test)]
mod limit_tests;
#[cfg(test)]
mod tests;

use crate::ast::{
    AggFunc, AlterAction, BinaryOp, ColumnDef, ColumnType, Expr, Join, JoinKind, Literal, OrderBy,
    Select, SelectItem, Statement, UnaryOp,
};
use crate::error::{Error, ErrorCode, Result};
use expected::{Expected, ExpectedSet, What};
use lexer::{Kw, Lexer, Punct, Tok, Token};

/// How deep an expression may be: the height of its tree, where a name
/// or scalar is one level and every operator node adds one (so a chain of
/// `n` terms, `a + a + ... + a` or `x = 1 or x = 2 or ...`, is `n` levels
/// deep), every level of a json literal adds one, and every pair of
/// parentheses adds two (the parser recurses through each precedence
/// level for them). Past it a statement fails with
/// [`ErrorCode::TooComplex`] instead of overflowing the stack of a later
/// pass (planning, compilation, evaluation, printing and dropping all
/// recurse over the tree). At 256 the deepest pass stays under about
/// 0.75 MiB of stack in an unoptimised build, well inside the 2 MiB of a
/// worker thread; a long list of alternatives is better written
/// `x in (1, 2, ...)`, which is one level however long.
pub const MAX_DEPTH: u32 = 256;

/// How many `explain`s may stand in front of a statement (each is a level
/// of recursion with a large frame, and one is all that is useful).
pub const MAX_EXPLAINS: u32 = 8;

/// How deeply json literals (`[...]`, `{...}`) may nest: below
/// serde_json's read limit (128), so every json value the language can
/// write can be read back. Past it: [`ErrorCode::TooComplex`].
pub const MAX_JSON_DEPTH: u32 = 100;

/// The longest name (table, column, index, alias, or a part of a dotted
/// name), in bytes. Past it: [`ErrorCode::TooComplex`], before any name
/// is looked up.
pub const MAX_NAME_LEN: usize = 128;

/// The longest `like` pattern, in bytes, whether written in the statement,
/// bound to a placeholder or read from a column: matching costs up to the
/// pattern's length times the string's. Past it: [`ErrorCode::TooComplex`].
pub const MAX_LIKE_PATTERN_LEN: usize = 1024;

/// An expression with its height (see [`MAX_DEPTH`]).
type Node = (Expr, u32);

/// The column types, named in `create table`.
const COLUMN_TYPES: [ColumnType; 5] = [
    ColumnType::Int,
    ColumnType::Float,
    ColumnType::String,
    ColumnType::Bool,
    ColumnType::Json,
];

/// The aggregate functions, called by name.
const AGGREGATES: [AggFunc; 5] = [
    AggFunc::Count,
    AggFunc::Sum,
    AggFunc::Avg,
    AggFunc::Min,
    AggFunc::Max,
];

/// Parses one statement (a trailing `;` allowed). Anything else — an
/// empty text, a second statement, an unknown word — is an
/// [`Error::Syntax`] with the position of the offending token.
pub fn parse(text: &str) -> Result<Statement> {
    let (statement, params) = parse_with_params(text)?;
    match params.first() {
        None => Ok(statement),
        Some(&at) => Err(expected::syntax(
            text,
            at,
            "a \"?\" placeholder needs a prepared statement (Database::prepare)".to_string(),
            None,
        )),
    }
}

/// Parses one statement that may hold `?` placeholders (a prepared
/// statement's text): the statement, whose placeholders are
/// [`Literal::Param`] numbered from 0 in order of appearance, and the
/// byte offset of each placeholder.
pub fn parse_with_params(text: &str) -> Result<(Statement, Vec<usize>)> {
    let mut parser = Parser::new(text);
    match parser.input() {
        Ok(statement) => Ok((statement, parser.params)),
        Err(Fail) => Err(parser.into_error()),
    }
}

/// Checks a statement built without the parser (for [`crate::Database::run`])
/// against the bounds the parser enforces on what it reads: expression
/// trees at most [`MAX_DEPTH`] levels deep (json literals counted, as
/// there are no parentheses in a tree) and at most [`MAX_EXPLAINS`]
/// `explain`s. Walks the tree with a stack of its own, so any tree can be
/// checked; `too_complex` past a bound. Parsed statements always pass,
/// as do prepared ones with json values bound from serde_json (which
/// reads at most 127 levels).
pub fn check_depth(statement: &Statement) -> Result<()> {
    enum Item<'s> {
        Expr(&'s Expr),
        Literal(&'s Literal),
    }
    let mut statement = statement;
    let mut explains = 0;
    while let Statement::Explain(inner) | Statement::ExplainAnalyze(inner) = statement {
        explains += 1;
        if explains > MAX_EXPLAINS {
            return Err(Error::query(
                ErrorCode::TooComplex,
                format!("explain nested too deeply (more than {MAX_EXPLAINS}): one is enough"),
            ));
        }
        statement = inner;
    }
    let mut stack: Vec<(Item<'_>, u32)> = Vec::new();
    match statement {
        Statement::Insert { rows, .. } => {
            stack.extend(rows.iter().flatten().map(|(_, l)| (Item::Literal(l), 1)));
        }
        Statement::Select(s) => {
            stack.extend(s.items.iter().map(|i| (Item::Expr(&i.expr), 1)));
            stack.extend(s.joins.iter().map(|j| (Item::Expr(&j.on), 1)));
            stack.extend(s.filter.iter().map(|e| (Item::Expr(e), 1)));
            stack.extend(s.group_by.iter().map(|e| (Item::Expr(e), 1)));
            stack.extend(s.having.iter().map(|e| (Item::Expr(e), 1)));
            stack.extend(s.order_by.iter().map(|o| (Item::Expr(&o.expr), 1)));
        }
        Statement::Update {
            assignments,
            filter,
            ..
        } => {
            stack.extend(assignments.iter().map(|(_, e)| (Item::Expr(e), 1)));
            stack.extend(filter.iter().map(|e| (Item::Expr(e), 1)));
        }
        Statement::Delete { filter, .. } => {
            stack.extend(filter.iter().map(|e| (Item::Expr(e), 1)));
        }
        _ => {}
    }
    while let Some((item, depth)) = stack.pop() {
        if depth > MAX_DEPTH {
            return Err(Error::query(
                ErrorCode::TooComplex,
                format!(
                    "statement nested too deeply (more than {MAX_DEPTH} levels of operators and brackets)"
                ),
            ));
        }
        let below = depth + 1;
        match item {
            Item::Literal(Literal::Array(items)) => {
                stack.extend(items.iter().map(|l| (Item::Literal(l), below)));
            }
            Item::Literal(Literal::Object(fields)) => {
                stack.extend(fields.iter().map(|(_, l)| (Item::Literal(l), below)));
            }
            Item::Literal(_) | Item::Expr(Expr::Name(_)) => {}
            // The literal is the node itself: no extra level.
            Item::Expr(Expr::Literal(l)) => stack.push((Item::Literal(l), depth)),
            Item::Expr(Expr::Unary { expr, .. } | Expr::IsNull { expr, .. }) => {
                stack.push((Item::Expr(expr), below));
            }
            Item::Expr(Expr::Binary { left, right, .. }) => {
                stack.push((Item::Expr(left), below));
                stack.push((Item::Expr(right), below));
            }
            Item::Expr(Expr::Like { expr, pattern, .. }) => {
                stack.push((Item::Expr(expr), below));
                stack.push((Item::Expr(pattern), below));
            }
            Item::Expr(Expr::InList { expr, list, .. }) => {
                stack.push((Item::Expr(expr), below));
                stack.extend(list.iter().map(|e| (Item::Expr(e), below)));
            }
            Item::Expr(Expr::Between {
                expr, low, high, ..
            }) => {
                stack.push((Item::Expr(expr), below));
                stack.push((Item::Expr(low), below));
                stack.push((Item::Expr(high), below));
            }
            Item::Expr(Expr::Aggregate { arg, .. }) => {
                stack.extend(arg.iter().map(|a| (Item::Expr(a), below)));
            }
            Item::Expr(Expr::Function { args, .. }) => {
                stack.extend(args.iter().map(|a| (Item::Expr(a), below)));
            }
            Item::Expr(Expr::Case {
                operand,
                whens,
                else_result,
            }) => {
                stack.extend(operand.iter().map(|o| (Item::Expr(o), below)));
                for (c, r) in whens {
                    stack.push((Item::Expr(c), below));
                    stack.push((Item::Expr(r), below));
                }
                stack.extend(else_result.iter().map(|e| (Item::Expr(e), below)));
            }
            Item::Expr(Expr::Cast { expr, .. }) => stack.push((Item::Expr(expr), below)),
        }
    }
    Ok(())
}

/// Whether `word` (in any case) is reserved, i.e. cannot be written as a
/// bare table, column or alias name. (The lexer decides this itself;
/// the tests ask.)
#[cfg(test)]
pub fn is_keyword(word: &str) -> bool {
    Kw::from_word(word).is_some_and(Kw::reserved)
}

/// The words that may follow a table name in a `select` (or do in SQL:
/// `right`, `full`, `cross`, `natural`, `using`): a bare word that is one
/// of them, or close to one, is not read as an alias.
const CLAUSE_WORDS: [&str; 15] = [
    "where", "join", "inner", "left", "group", "having", "order", "limit", "offset", "outer",
    "right", "full", "cross", "natural", "using",
];

/// A parse failed; the details are in the [`Parser`].
struct Fail;

type PResult<T> = std::result::Result<T, Fail>;

/// An error decided on the spot rather than from expectations.
struct Custom {
    code: ErrorCode,
    at: usize,
    message: String,
    hint: Option<String>,
}

struct Parser<'a> {
    text: &'a str,
    lexer: Lexer<'a>,
    /// The lookahead token.
    cur: Token,
    expected: ExpectedSet,
    custom: Option<Custom>,
    /// Nesting of the constructs the parser recurses on (parentheses,
    /// `not`, `-`, json literals, `in` lists, aggregate arguments): a
    /// guard for the parser's own stack, checked on the way down. Each
    /// such construct adds as much to the tree's height as it adds here,
    /// so the guard never refuses what the height bound allows.
    depth: u32,
    /// Nesting of json arrays and objects (see [`MAX_JSON_DEPTH`]).
    json_depth: u32,
    /// `explain`s in front of the statement being read.
    explains: u32,
    /// Byte offsets of the `?` placeholders read so far.
    params: Vec<usize>,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        let mut lexer = Lexer::new(text);
        let cur = lexer.next_token();
        Parser {
            text,
            lexer,
            cur,
            expected: ExpectedSet::new(cur),
            custom: None,
            depth: 0,
            json_depth: 0,
            explains: 0,
            params: Vec::new(),
        }
    }

    fn into_error(self) -> Error {
        match self.custom {
            Some(c) => expected::positioned(c.code, self.text, c.at, c.message, c.hint),
            None => self.expected.into_error(self.text),
        }
    }

    // ---- token helpers ----

    fn bump(&mut self) {
        self.cur = self.lexer.next_token();
    }

    fn cur_text(&self) -> &'a str {
        &self.text[self.cur.start..self.cur.end]
    }

    fn note(&mut self, e: Expected, strong: bool) {
        self.expected.note(self.cur, e, strong);
    }

    /// Fails, expecting `what` at the current token.
    fn fail<T>(&mut self, what: What) -> PResult<T> {
        self.note(Expected::What(what), true);
        Err(Fail)
    }

    /// Fails with a message of its own at byte offset `at`.
    fn fail_with<T>(&mut self, at: usize, message: String, hint: Option<String>) -> PResult<T> {
        self.custom = Some(Custom {
            code: ErrorCode::SyntaxError,
            at,
            message,
            hint,
        });
        Err(Fail)
    }

    /// Fails with [`ErrorCode::TooComplex`] and `message` at byte `at`.
    fn fail_too_complex<T>(&mut self, at: usize, message: String) -> PResult<T> {
        self.custom = Some(Custom {
            code: ErrorCode::TooComplex,
            at,
            message,
            hint: None,
        });
        Err(Fail)
    }

    /// Fails: the statement is deeper than [`MAX_DEPTH`] at byte `at`.
    fn too_deep<T>(&mut self, at: usize) -> PResult<T> {
        self.fail_too_complex(
            at,
            format!(
                "statement nested too deeply (more than {MAX_DEPTH} levels of operators, parentheses and brackets): split it, or write a long or-chain as \"in (...)\""
            ),
        )
    }

    /// Fails: `name` (at byte `at`) is longer than [`MAX_NAME_LEN`].
    fn name_too_long<T>(&mut self, at: usize, name: &str) -> PResult<T> {
        self.fail_too_complex(
            at,
            format!(
                "name \"{}\" is too long ({} bytes, at most {MAX_NAME_LEN})",
                expected::shorten(name),
                name.len()
            ),
        )
    }

    /// The current word as a name part, if within [`MAX_NAME_LEN`].
    fn word_within_limit(&mut self) -> PResult<String> {
        let text = self.cur_text();
        if text.len() > MAX_NAME_LEN {
            let at = self.cur.start;
            return self.name_too_long(at, text);
        }
        Ok(text.to_owned())
    }

    fn is_kw(&self, kw: Kw) -> bool {
        self.cur.tok == Tok::Word(Some(kw))
    }

    fn is_punct(&self, p: Punct) -> bool {
        self.cur.tok == Tok::Punct(p)
    }

    /// Consumes keyword `kw` if it is next; otherwise notes it as
    /// expected (`strong`: required here, else an optional continuation).
    fn eat_kw(&mut self, kw: Kw, strong: bool) -> bool {
        if self.is_kw(kw) {
            self.bump();
            true
        } else {
            self.note(Expected::Kw(kw), strong);
            false
        }
    }

    fn expect_kw(&mut self, kw: Kw) -> PResult<()> {
        if self.eat_kw(kw, true) {
            Ok(())
        } else {
            Err(Fail)
        }
    }

    fn eat(&mut self, p: Punct, strong: bool) -> bool {
        if self.is_punct(p) {
            self.bump();
            true
        } else {
            self.note(Expected::Punct(p), strong);
            false
        }
    }

    fn expect(&mut self, p: Punct) -> PResult<()> {
        if self.eat(p, true) { Ok(()) } else { Err(Fail) }
    }

    /// A bare name (any word but a reserved one).
    fn name(&mut self, what: What) -> PResult<String> {
        match self.cur.tok {
            Tok::Word(kw) if kw.is_none_or(|k| !k.reserved()) => {
                let name = self.word_within_limit()?;
                self.bump();
                Ok(name)
            }
            _ => self.fail(what),
        }
    }

    /// Runs `f` one nesting level deeper.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= MAX_DEPTH {
            let at = self.cur.start;
            return self.too_deep(at);
        }
        self.depth += 1;
        let result = f(self);
        self.depth -= 1;
        result
    }

    // ---- statements ----

    fn input(&mut self) -> PResult<Statement> {
        let statement = self.statement()?;
        if self.eat(Punct::Semi, false) && !matches!(self.cur.tok, Tok::Eof | Tok::Error(_)) {
            let at = self.cur.start;
            let found = expected::shorten(self.cur_text());
            return self.fail_with(
                at,
                format!("expected end of input after \";\" but found \"{found}\": one statement per request"),
                None,
            );
        }
        if self.cur.tok != Tok::Eof {
            self.note(Expected::End, true);
            return Err(Fail);
        }
        Ok(statement)
    }

    fn statement(&mut self) -> PResult<Statement> {
        // `alter` is a keyword only at the start of a statement.
        if self.plain_word("alter") {
            return self.alter();
        }
        let Tok::Word(Some(kw)) = self.cur.tok else {
            return self.fail(What::Statement);
        };
        match kw {
            Kw::Select => {
                self.bump();
                Ok(Statement::Select(Box::new(self.select()?)))
            }
            Kw::Find => {
                self.bump();
                let from = self.name(What::TableName)?;
                Ok(Statement::Select(Box::new(
                    self.select_tail(Vec::new(), from)?,
                )))
            }
            Kw::Insert | Kw::Upsert => {
                self.bump();
                self.insert(kw == Kw::Upsert)
            }
            Kw::Update => {
                self.bump();
                self.update()
            }
            Kw::Delete => {
                self.bump();
                self.eat_kw(Kw::From, false);
                let table = self.name(What::TableName)?;
                let filter = self.filter()?;
                Ok(Statement::Delete { table, filter })
            }
            Kw::Create => {
                self.bump();
                self.create()
            }
            Kw::Drop => {
                self.bump();
                if self.eat_kw(Kw::Table, true) {
                    let (name, if_exists) = self.guarded_name(What::TableName, false)?;
                    Ok(Statement::DropTable { name, if_exists })
                } else if self.eat_kw(Kw::Index, true) {
                    let (name, if_exists) = self.guarded_name(What::IndexName, false)?;
                    Ok(Statement::DropIndex { name, if_exists })
                } else {
                    Err(Fail)
                }
            }
            Kw::Explain => {
                if self.explains >= MAX_EXPLAINS {
                    let at = self.cur.start;
                    return self.fail_too_complex(
                        at,
                        format!(
                            "explain nested too deeply (more than {MAX_EXPLAINS}): one is enough"
                        ),
                    );
                }
                self.bump();
                // `analyze` is a keyword only here, right after `explain`
                // (no statement starts with a plain word).
                let analyze = self.cur.tok == Tok::Word(None) && self.cur_text() == "analyze";
                if analyze {
                    self.bump();
                }
                self.explains += 1;
                let inner = self.statement();
                self.explains -= 1;
                let inner = Box::new(inner?);
                Ok(if analyze {
                    Statement::ExplainAnalyze(inner)
                } else {
                    Statement::Explain(inner)
                })
            }
            Kw::Begin => {
                self.bump();
                // `read only` are keywords only here, right after `begin`.
                let read_only = self.cur.tok == Tok::Word(None) && self.cur_text() == "read";
                if read_only {
                    self.bump();
                    if !(self.cur.tok == Tok::Word(None) && self.cur_text() == "only") {
                        let at = self.cur.start;
                        return self.fail_with(
                            at,
                            "expected \"only\" after \"begin read\"".into(),
                            None,
                        );
                    }
                    self.bump();
                }
                Ok(Statement::Begin { read_only })
            }
            Kw::Commit => {
                self.bump();
                Ok(Statement::Commit)
            }
            Kw::Rollback => {
                self.bump();
                Ok(Statement::Rollback)
            }
            _ => self.fail(What::Statement),
        }
    }

    fn create(&mut self) -> PResult<Statement> {
        if self.eat_kw(Kw::Table, true) {
            let (name, if_not_exists) = self.guarded_name(What::TableName, true)?;
            self.expect(Punct::LBrace)?;
            let mut columns = Vec::new();
            loop {
                if self.eat(Punct::RBrace, true) {
                    break;
                }
                columns.push(self.coldef()?);
                if !self.eat(Punct::Comma, true) {
                    self.expect(Punct::RBrace)?;
                    break;
                }
            }
            Ok(Statement::CreateTable {
                name,
                columns,
                if_not_exists,
            })
        } else if self.plain_word("unique") {
            self.expect_kw(Kw::Index)?;
            self.create_index(true)
        } else if self.eat_kw(Kw::Index, true) {
            self.create_index(false)
        } else {
            Err(Fail)
        }
    }

    /// The rest of `create [unique] index`, after `index`.
    fn create_index(&mut self, unique: bool) -> PResult<Statement> {
        {
            let (name, if_not_exists) = self.guarded_name(What::IndexName, true)?;
            self.expect_kw(Kw::On)?;
            let table = self.name(What::TableName)?;
            self.expect(Punct::LParen)?;
            let column = self.name(What::ColumnName)?;
            self.expect(Punct::RParen)?;
            Ok(Statement::CreateIndex {
                name,
                table,
                column,
                if_not_exists,
                unique,
            })
        }
    }

    /// `NAME ":" TYPE {constraint}`: a column of `create table` or
    /// `alter table .. add column`. The constraint words (`primary key`,
    /// `unique`, `default`) are keywords only here.
    fn coldef(&mut self) -> PResult<ColumnDef> {
        let name = self.name(What::ColumnName)?;
        self.expect(Punct::Colon)?;
        let ty = self.column_type()?;
        let mut col = ColumnDef::new(name, ty);
        loop {
            if self.eat_kw(Kw::Not, false) {
                self.expect_kw(Kw::Null)?;
                col.not_null = true;
            } else if self.plain_word("primary") {
                if !self.plain_word("key") {
                    let at = self.cur.start;
                    return self.fail_with(at, "expected \"key\" after \"primary\"".into(), None);
                }
                col.primary_key = true;
            } else if self.plain_word("unique") {
                col.unique = true;
            } else if self.cur.tok == Tok::Word(None)
                && self.cur_text().eq_ignore_ascii_case("default")
            {
                let at = self.cur.start;
                self.bump();
                let (value, _) = self.literal()?;
                if matches!(value, Literal::Param(_)) || col.default.is_some() {
                    return self.fail_with(
                        at,
                        format!(
                            "column \"{}\": one default, a constant (not \"?\")",
                            col.name
                        ),
                        None,
                    );
                }
                col.default = Some(value);
            } else {
                return Ok(col);
            }
        }
    }

    /// `alter table NAME ACTION`, after `alter`.
    fn alter(&mut self) -> PResult<Statement> {
        self.expect_kw(Kw::Table)?;
        let table = self.name(What::TableName)?;
        let action = if self.plain_word("add") {
            self.expect_column_word()?;
            AlterAction::AddColumn(self.coldef()?)
        } else if self.eat_kw(Kw::Drop, true) {
            self.expect_column_word()?;
            AlterAction::DropColumn(self.name(What::ColumnName)?)
        } else if self.plain_word("rename") {
            if self.plain_word("to") {
                AlterAction::RenameTable(self.name(What::TableName)?)
            } else {
                self.expect_column_word()?;
                let from = self.name(What::ColumnName)?;
                if !self.plain_word("to") {
                    let at = self.cur.start;
                    return self.fail_with(
                        at,
                        format!("expected \"to\" after \"rename column {from}\""),
                        None,
                    );
                }
                let to = self.name(What::ColumnName)?;
                AlterAction::RenameColumn { from, to }
            }
        } else {
            let at = self.cur.start;
            return self.fail_with(
                at,
                format!("expected \"add column\", \"drop column\", \"rename column\" or \"rename to\" after \"alter table {table}\""),
                None,
            );
        };
        Ok(Statement::AlterTable { table, action })
    }

    /// The word `column` of `alter table .. add/drop/rename column`.
    fn expect_column_word(&mut self) -> PResult<()> {
        if self.plain_word("column") {
            return Ok(());
        }
        let at = self.cur.start;
        self.fail_with(at, "expected \"column\"".into(), None)
    }

    /// The name after `create table`, `create index` (`creating`) or
    /// `drop table`, `drop index`, with its optional guard `if not exists`
    /// (creating) or `if exists`: whether the guard was there. `if`,
    /// `exists` are no keywords: `if` is the guard only when the word after
    /// it continues one (`not` when creating, `exists` when dropping), so
    /// a table named `if` keeps working.
    fn guarded_name(&mut self, what: What, creating: bool) -> PResult<(String, bool)> {
        let name = self.name(what)?;
        if !name.eq_ignore_ascii_case("if") {
            return Ok((name, false));
        }
        if creating {
            if self.cur.tok != Tok::Word(Some(Kw::Not)) {
                return Ok((name, false));
            }
            self.bump();
            if !self.plain_word("exists") {
                let at = self.cur.start;
                return self.fail_with(at, "expected \"exists\" after \"if not\"".into(), None);
            }
        } else if !self.plain_word("exists") {
            return Ok((name, false));
        }
        Ok((self.name(what)?, true))
    }

    /// Takes the current token if it is the unreserved word `word` (in any
    /// case).
    fn plain_word(&mut self, word: &str) -> bool {
        if self.cur.tok == Tok::Word(None) && self.cur_text().eq_ignore_ascii_case(word) {
            self.bump();
            return true;
        }
        false
    }

    fn column_type(&mut self) -> PResult<ColumnType> {
        if let Tok::Word(_) = self.cur.tok {
            let word = self.cur_text();
            let ty = COLUMN_TYPES
                .into_iter()
                .find(|t| t.name().eq_ignore_ascii_case(word));
            if let Some(ty) = ty {
                self.bump();
                return Ok(ty);
            }
        }
        self.fail(What::ColumnType)
    }

    fn insert(&mut self, upsert: bool) -> PResult<Statement> {
        let table = self.name(What::TableName)?;
        let rows = match self.cur.tok {
            Tok::Punct(Punct::LBrace) => vec![self.object(true)?.0],
            Tok::Punct(Punct::LBracket) => {
                self.bump();
                let mut rows = Vec::new();
                loop {
                    if self.eat(Punct::RBracket, true) {
                        break;
                    }
                    if !self.is_punct(Punct::LBrace) {
                        self.note(Expected::Punct(Punct::LBrace), true);
                        return Err(Fail);
                    }
                    rows.push(self.object(true)?.0);
                    if !self.eat(Punct::Comma, true) {
                        self.expect(Punct::RBracket)?;
                        break;
                    }
                }
                rows
            }
            _ => {
                self.note(Expected::Punct(Punct::LBrace), true);
                self.note(Expected::Punct(Punct::LBracket), true);
                return Err(Fail);
            }
        };
        Ok(Statement::Insert {
            table,
            rows,
            upsert,
        })
    }

    fn update(&mut self) -> PResult<Statement> {
        let table = self.name(What::TableName)?;
        self.expect_kw(Kw::Set)?;
        let mut assignments: Vec<(String, Expr)> = Vec::new();
        loop {
            let at = self.cur.start;
            let column = self.name(What::ColumnName)?;
            if assignments.iter().any(|(c, _)| *c == column) {
                return self.fail_with(at, format!("column \"{column}\" given twice"), None);
            }
            self.expect(Punct::Eq)?;
            assignments.push((column, self.expr()?));
            if !self.eat(Punct::Comma, false) {
                break;
            }
        }
        let filter = self.filter()?;
        Ok(Statement::Update {
            table,
            assignments,
            filter,
        })
    }

    /// `[where expr]`
    fn filter(&mut self) -> PResult<Option<Expr>> {
        if self.eat_kw(Kw::Where, false) {
            Ok(Some(self.expr()?))
        } else {
            Ok(None)
        }
    }

    /// After `select`.
    fn select(&mut self) -> PResult<Select> {
        let distinct = self.eat_kw(Kw::Distinct, false);
        let mut s = self.select_items()?;
        s.distinct = distinct;
        Ok(s)
    }

    /// After `select [distinct]`.
    fn select_items(&mut self) -> PResult<Select> {
        if self.eat(Punct::Star, true) {
            self.expect_kw(Kw::From)?;
            let from = self.name(What::TableName)?;
            return self.aliased_tail(Vec::new(), from);
        }
        let mut items = Vec::new();
        loop {
            let expr = self.expr()?;
            let alias = if self.eat_kw(Kw::As, false) {
                Some(self.name(What::Alias)?)
            } else {
                None
            };
            items.push(SelectItem { expr, alias });
            if !self.eat(Punct::Comma, false) {
                break;
            }
        }
        if self.eat_kw(Kw::From, true) {
            let from = self.name(What::TableName)?;
            return self.aliased_tail(items, from);
        }
        // `select TABLE`: one bare, unqualified, unaliased name.
        if let [
            SelectItem {
                expr: Expr::Name(parts),
                alias: None,
            },
        ] = items.as_mut_slice()
            && let [table] = parts.as_mut_slice()
        {
            let from = std::mem::take(table);
            return self.select_tail(Vec::new(), from);
        }
        Err(Fail)
    }

    /// A table's `[as] ALIAS`, if one follows. A bare word of four or
    /// more letters that looks like a misspelt clause keyword (`wher`)
    /// is not taken as an alias, so that it fails where it stands, with
    /// a hint.
    fn table_alias(&mut self) -> PResult<Option<String>> {
        if self.eat_kw(Kw::As, false) {
            return Ok(Some(self.name(What::Alias)?));
        }
        match self.cur.tok {
            Tok::Word(kw) if kw.is_none_or(|k| !k.reserved()) => {
                let text = self.cur_text();
                let lower = text.to_ascii_lowercase();
                if CLAUSE_WORDS.contains(&lower.as_str())
                    || (text.len() >= 4 && crate::hint::closest(text, CLAUSE_WORDS).is_some())
                {
                    return Ok(None);
                }
                Ok(Some(self.name(What::Alias)?))
            }
            _ => Ok(None),
        }
    }

    /// `join`, `inner join`, `left [outer] join`, if one is next.
    fn join_kind(&mut self) -> PResult<Option<JoinKind>> {
        if self.eat_kw(Kw::Join, false) {
            return Ok(Some(JoinKind::Inner));
        }
        if self.eat_kw(Kw::Inner, false) {
            self.expect_kw(Kw::Join)?;
            return Ok(Some(JoinKind::Inner));
        }
        if self.eat_kw(Kw::Left, false) {
            self.eat_kw(Kw::Outer, false);
            self.expect_kw(Kw::Join)?;
            return Ok(Some(JoinKind::Left));
        }
        Ok(None)
    }

    /// Joins, `where`, `group by`, `having`, `order by`, `limit`,
    /// `offset`.
    fn select_tail(&mut self, items: Vec<SelectItem>, from: String) -> PResult<Select> {
        self.select_tail_as(items, from, None)
    }

    /// [`Self::select_tail`] after `from NAME`, which may have an alias
    /// (the `find NAME` and `select NAME` shorthands take none).
    fn aliased_tail(&mut self, items: Vec<SelectItem>, from: String) -> PResult<Select> {
        let alias = self.table_alias()?;
        self.select_tail_as(items, from, alias)
    }

    /// [`Self::select_tail`] with the first table's alias.
    fn select_tail_as(
        &mut self,
        items: Vec<SelectItem>,
        from: String,
        from_alias: Option<String>,
    ) -> PResult<Select> {
        let mut joins = Vec::new();
        while let Some(kind) = self.join_kind()? {
            let table = self.name(What::TableName)?;
            let alias = self.table_alias()?;
            self.expect_kw(Kw::On)?;
            let on = self.expr()?;
            joins.push(Join {
                table,
                on,
                kind,
                alias,
            });
        }
        let filter = self.filter()?;
        let mut group_by = Vec::new();
        if self.eat_kw(Kw::Group, false) {
            self.expect_kw(Kw::By)?;
            loop {
                group_by.push(self.expr()?);
                if !self.eat(Punct::Comma, false) {
                    break;
                }
            }
        }
        let having = if self.eat_kw(Kw::Having, false) {
            Some(self.expr()?)
        } else {
            None
        };
        let mut order_by = Vec::new();
        if self.eat_kw(Kw::Order, false) {
            self.expect_kw(Kw::By)?;
            loop {
                let expr = self.expr()?;
                let desc = if self.eat_kw(Kw::Desc, false) {
                    true
                } else {
                    self.eat_kw(Kw::Asc, false);
                    false
                };
                order_by.push(OrderBy { expr, desc });
                if !self.eat(Punct::Comma, false) {
                    break;
                }
            }
        }
        let (mut limit, mut offset) = (None, None);
        loop {
            if limit.is_none() && self.eat_kw(Kw::Limit, false) {
                limit = Some(self.count("limit")?);
            } else if offset.is_none() && self.eat_kw(Kw::Offset, false) {
                offset = Some(self.count("offset")?);
            } else {
                break;
            }
        }
        Ok(Select {
            items,
            from,
            joins,
            filter,
            group_by,
            order_by,
            limit,
            offset,
            distinct: false,
            having,
            from_alias,
        })
    }

    /// The integer after `limit` or `offset`.
    fn count(&mut self, clause: &str) -> PResult<u64> {
        if self.cur.tok == (Tok::Number { int: true })
            && let Ok(n) = self.cur_text().parse::<u64>()
        {
            self.bump();
            return Ok(n);
        }
        match self.cur.tok {
            Tok::Number { .. } | Tok::Punct(Punct::Minus) => {
                let at = self.cur.start;
                self.fail_with(
                    at,
                    format!("\"{clause}\" takes a non-negative integer"),
                    None,
                )
            }
            _ => self.fail(What::Count),
        }
    }

    // ---- expressions, loosest first ----
    //
    // Each returns the expression with its height (see `MAX_DEPTH`), and
    // every node built is checked against the bound as it is built, so a
    // chain fails at its first link past the bound instead of after
    // building a tree no later pass could walk.

    /// A whole expression, for a statement's clauses.
    fn expr(&mut self) -> PResult<Expr> {
        Ok(self.or_expr()?.0)
    }

    /// `h` checked against [`MAX_DEPTH`].
    fn height(&mut self, h: u32, at: usize) -> PResult<u32> {
        if h > MAX_DEPTH {
            return self.too_deep(at);
        }
        Ok(h)
    }

    /// A binary node over two operands, its height checked.
    fn binary(&mut self, op: BinaryOp, left: Node, right: Node, at: usize) -> PResult<Node> {
        let h = self.height(left.1.max(right.1) + 1, at)?;
        Ok((binary(op, left.0, right.0), h))
    }

    fn or_expr(&mut self) -> PResult<Node> {
        let mut left = self.and()?;
        loop {
            let at = self.cur.start;
            if !self.eat_kw(Kw::Or, false) {
                return Ok(left);
            }
            let right = self.and()?;
            left = self.binary(BinaryOp::Or, left, right, at)?;
        }
    }

    fn and(&mut self) -> PResult<Node> {
        let mut left = self.not()?;
        loop {
            let at = self.cur.start;
            if !self.eat_kw(Kw::And, false) {
                return Ok(left);
            }
            let right = self.not()?;
            left = self.binary(BinaryOp::And, left, right, at)?;
        }
    }

    fn not(&mut self) -> PResult<Node> {
        if self.is_kw(Kw::Not) {
            let at = self.cur.start;
            self.bump();
            let (expr, h) = self.nested(Self::not)?;
            let h = self.height(h + 1, at)?;
            return Ok((
                Expr::Unary {
                    op: UnaryOp::Not,
                    expr: Box::new(expr),
                },
                h,
            ));
        }
        self.comparison()
    }

    fn comparison(&mut self) -> PResult<Node> {
        let left = self.concat()?;
        // The rest in a function of its own keeps this frame, which every
        // level of parentheses passes through, small.
        self.comparison_rest(left)
    }

    #[inline(never)]
    fn comparison_rest(&mut self, left: Node) -> PResult<Node> {
        let at = self.cur.start;
        let node = match self.cur.tok {
            Tok::Punct(p) => {
                let op = match p {
                    Punct::Eq => BinaryOp::Eq,
                    Punct::NotEq => BinaryOp::NotEq,
                    Punct::Lt => BinaryOp::Lt,
                    Punct::LtEq => BinaryOp::LtEq,
                    Punct::Gt => BinaryOp::Gt,
                    Punct::GtEq => BinaryOp::GtEq,
                    _ => {
                        self.note(Expected::What(What::Operator), false);
                        return Ok(left);
                    }
                };
                self.bump();
                let right = self.concat()?;
                self.binary(op, left, right, at)?
            }
            Tok::Word(Some(Kw::Is)) => {
                self.bump();
                let negated = self.eat_kw(Kw::Not, false);
                self.expect_kw(Kw::Null)?;
                let h = self.height(left.1 + 1, at)?;
                let expr = Expr::IsNull {
                    expr: Box::new(left.0),
                    negated,
                };
                (expr, h)
            }
            Tok::Word(Some(Kw::Not)) => {
                self.bump();
                match self.cur.tok {
                    Tok::Word(Some(kw @ (Kw::Like | Kw::In | Kw::Between))) => {
                        self.bump();
                        self.negatable(kw, left, true, at)?
                    }
                    _ => {
                        for kw in [Kw::Like, Kw::In, Kw::Between] {
                            self.note(Expected::Kw(kw), true);
                        }
                        return Err(Fail);
                    }
                }
            }
            Tok::Word(Some(kw @ (Kw::Like | Kw::In | Kw::Between))) => {
                self.bump();
                self.negatable(kw, left, false, at)?
            }
            _ => {
                self.note(Expected::What(What::Operator), false);
                return Ok(left);
            }
        };
        let chained = match self.cur.tok {
            Tok::Punct(p) => matches!(
                p,
                Punct::Eq | Punct::NotEq | Punct::Lt | Punct::LtEq | Punct::Gt | Punct::GtEq
            ),
            Tok::Word(Some(kw)) => {
                matches!(kw, Kw::Is | Kw::Not | Kw::Like | Kw::In | Kw::Between)
            }
            _ => false,
        };
        if chained {
            let at = self.cur.start;
            return self.fail_with(
                at,
                "comparisons do not chain: add parentheses, as in (a = b) = c".to_owned(),
                None,
            );
        }
        Ok(node)
    }

    /// The rest of `like`, `in` or `between` (the keyword consumed), the
    /// operator at byte `at`.
    fn negatable(&mut self, kw: Kw, left: Node, negated: bool, at: usize) -> PResult<Node> {
        let (left, mut h) = left;
        let expr = Box::new(left);
        let node = match kw {
            Kw::Like => {
                let (pattern, ph) = self.concat()?;
                h = h.max(ph);
                Expr::Like {
                    expr,
                    pattern: Box::new(pattern),
                    negated,
                }
            }
            Kw::In => {
                self.expect(Punct::LParen)?;
                let mut list = Vec::new();
                loop {
                    let (item, ih) = self.nested(Self::or_expr)?;
                    h = h.max(ih);
                    list.push(item);
                    if !self.eat(Punct::Comma, true) {
                        self.expect(Punct::RParen)?;
                        break;
                    }
                }
                Expr::InList {
                    expr,
                    list,
                    negated,
                }
            }
            _ => {
                let (low, lh) = self.concat()?;
                self.expect_kw(Kw::And)?;
                let (high, hh) = self.concat()?;
                h = h.max(lh).max(hh);
                Expr::Between {
                    expr,
                    low: Box::new(low),
                    high: Box::new(high),
                    negated,
                }
            }
        };
        let h = self.height(h + 1, at)?;
        Ok((node, h))
    }

    /// `a || b || …`: looser than `+ -`, tighter than comparisons (as in
    /// PostgreSQL).
    fn concat(&mut self) -> PResult<Node> {
        let mut left = self.sum()?;
        loop {
            if !self.is_punct(Punct::Concat) {
                self.note(Expected::What(What::Operator), false);
                return Ok(left);
            }
            let at = self.cur.start;
            self.bump();
            let right = self.sum()?;
            left = self.binary(BinaryOp::Concat, left, right, at)?;
        }
    }

    fn sum(&mut self) -> PResult<Node> {
        let mut left = self.product()?;
        loop {
            let op = match self.cur.tok {
                Tok::Punct(Punct::Plus) => BinaryOp::Add,
                Tok::Punct(Punct::Minus) => BinaryOp::Sub,
                _ => {
                    self.note(Expected::What(What::Operator), false);
                    return Ok(left);
                }
            };
            let at = self.cur.start;
            self.bump();
            let right = self.product()?;
            left = self.binary(op, left, right, at)?;
        }
    }

    fn product(&mut self) -> PResult<Node> {
        let mut left = self.unary()?;
        loop {
            let op = match self.cur.tok {
                Tok::Punct(Punct::Star) => BinaryOp::Mul,
                Tok::Punct(Punct::Slash) => BinaryOp::Div,
                Tok::Punct(Punct::Percent) => BinaryOp::Mod,
                _ => {
                    self.note(Expected::What(What::Operator), false);
                    return Ok(left);
                }
            };
            let at = self.cur.start;
            self.bump();
            let right = self.unary()?;
            left = self.binary(op, left, right, at)?;
        }
    }

    fn unary(&mut self) -> PResult<Node> {
        if !self.is_punct(Punct::Minus) {
            let at = self.cur.start;
            let atom = self.atom()?;
            return self.cast_suffix(atom, at);
        }
        let minus = self.cur;
        self.bump();
        if matches!(self.cur.tok, Tok::Number { .. }) && self.cur.start == minus.end {
            let literal = (Expr::Literal(self.number(Some(minus))?), 1);
            return self.cast_suffix(literal, minus.start);
        }
        let (expr, h) = self.nested(Self::unary)?;
        let h = self.height(h + 1, minus.start)?;
        Ok((
            Expr::Unary {
                op: UnaryOp::Neg,
                expr: Box::new(expr),
            },
            h,
        ))
    }

    fn atom(&mut self) -> PResult<Node> {
        match self.cur.tok {
            Tok::Number { .. }
            | Tok::Str { .. }
            | Tok::Word(Some(Kw::True | Kw::False | Kw::Null))
            | Tok::Punct(Punct::LBracket | Punct::LBrace | Punct::Question) => {
                let at = self.cur.start;
                let (literal, h) = self.literal()?;
                let h = self.height(h, at)?;
                Ok((Expr::Literal(literal), h))
            }
            Tok::Punct(Punct::LParen) => {
                // Parentheses count two levels (in the guard on the way
                // down too): the parser recurses through every precedence
                // level for them.
                let at = self.cur.start;
                self.bump();
                self.depth += 1;
                let inner = self.nested(Self::or_expr);
                self.depth -= 1;
                let (expr, h) = inner?;
                self.expect(Punct::RParen)?;
                let h = self.height(h + 2, at)?;
                Ok((expr, h))
            }
            Tok::Word(Some(Kw::Case)) => self.case(),
            Tok::Word(kw) if kw.is_none_or(|k| !k.reserved()) => self.name_or_call(),
            _ => self.fail(What::Expression),
        }
    }

    /// `e::TYPE`, any number of times, after the operand `e` that started
    /// at byte `at`.
    #[inline(never)]
    fn cast_suffix(&mut self, operand: Node, at: usize) -> PResult<Node> {
        let (mut expr, mut h) = operand;
        while self.eat(Punct::DoubleColon, false) {
            let ty = self.column_type()?;
            h = self.height(h + 1, at)?;
            expr = Expr::Cast {
                expr: Box::new(expr),
                ty,
            };
        }
        Ok((expr, h))
    }

    /// `case [operand] when c then r {when c then r} [else e] end`, at
    /// `case`. `when`, `then`, `else` and `end` are not reserved: they
    /// only ever follow an expression.
    #[inline(never)]
    fn case(&mut self) -> PResult<Node> {
        let at = self.cur.start;
        self.bump();
        let mut h = 0;
        let operand = if self.is_word("when") {
            None
        } else {
            let (o, oh) = self.nested(Self::or_expr)?;
            h = oh;
            Some(Box::new(o))
        };
        let mut whens = Vec::new();
        while self.plain_word("when") {
            let (c, ch) = self.nested(Self::or_expr)?;
            self.expect_word("then")?;
            let (r, rh) = self.nested(Self::or_expr)?;
            h = h.max(ch).max(rh);
            whens.push((c, r));
        }
        if whens.is_empty() {
            return self
                .expect_word("when")
                .map(|_| (Expr::Literal(Literal::Null), 1));
        }
        let else_result = if self.plain_word("else") {
            let (e, eh) = self.nested(Self::or_expr)?;
            h = h.max(eh);
            Some(Box::new(e))
        } else {
            None
        };
        self.expect_word("end")?;
        let h = self.height(h + 1, at)?;
        Ok((
            Expr::Case {
                operand,
                whens,
                else_result,
            },
            h,
        ))
    }

    /// Whether the current token is the unreserved word `word`.
    fn is_word(&self, word: &str) -> bool {
        self.cur.tok == Tok::Word(None) && self.cur_text().eq_ignore_ascii_case(word)
    }

    /// Takes the unreserved word `word`, or fails naming it.
    fn expect_word(&mut self, word: &str) -> PResult<()> {
        if self.plain_word(word) {
            return Ok(());
        }
        let at = self.cur.start;
        let found = match self.cur.tok {
            Tok::Eof => "end of input".to_owned(),
            _ => format!("\"{}\"", expected::shorten(self.cur_text())),
        };
        self.fail_with(at, format!("expected \"{word}\" but found {found}"), None)
    }

    /// `cast(e as TYPE)`, at the `(`.
    #[inline(never)]
    fn cast_call(&mut self, name: Token) -> PResult<Node> {
        self.bump();
        let (expr, h) = self.nested(Self::or_expr)?;
        self.expect_kw(Kw::As)?;
        let ty = self.column_type()?;
        self.expect(Punct::RParen)?;
        let h = self.height(h + 1, name.start)?;
        Ok((
            Expr::Cast {
                expr: Box::new(expr),
                ty,
            },
            h,
        ))
    }

    /// `f(a, …)` for a scalar function `f`, at the `(`.
    #[inline(never)]
    fn function(&mut self, name: Token, text: &str) -> PResult<Node> {
        self.bump();
        let mut args = Vec::new();
        let mut h = 0;
        if !self.eat(Punct::RParen, true) {
            loop {
                let (a, ah) = self.nested(Self::or_expr)?;
                h = h.max(ah);
                args.push(a);
                if !self.eat(Punct::Comma, true) {
                    self.expect(Punct::RParen)?;
                    break;
                }
            }
        }
        let h = self.height(h + 1, name.start)?;
        Ok((
            Expr::Function {
                name: text.to_ascii_lowercase(),
                args,
            },
            h,
        ))
    }

    /// `a.b.c`, or `f(...)` for an aggregate `f`.
    fn name_or_call(&mut self) -> PResult<Node> {
        let first = self.cur;
        let first_text = self.cur_text();
        self.bump();
        if self.is_punct(Punct::LParen) {
            if first_text.eq_ignore_ascii_case("cast") {
                return self.cast_call(first);
            }
            if crate::func::ScalarFunc::lookup(first_text).is_some() {
                return self.function(first, first_text);
            }
            return self.aggregate(first, first_text);
        }
        if first_text.len() > MAX_NAME_LEN {
            return self.name_too_long(first.start, first_text);
        }
        let mut parts = vec![first_text.to_owned()];
        while self.eat(Punct::Dot, false) {
            match self.cur.tok {
                Tok::Word(_) => {
                    parts.push(self.word_within_limit()?);
                    self.bump();
                }
                _ => return self.fail(What::FieldName),
            }
        }
        Ok((Expr::Name(parts), 1))
    }

    /// `name(...)`, at the `(`.
    fn aggregate(&mut self, name: Token, text: &str) -> PResult<Node> {
        let func = AGGREGATES
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(text));
        let Some(func) = func else {
            let names = AGGREGATES
                .map(AggFunc::name)
                .into_iter()
                .chain(crate::func::ScalarFunc::names());
            let hint = crate::hint::closest(text, names).map(|c| format!("did you mean \"{c}\"?"));
            return self.fail_with(
                name.start,
                format!("unknown function \"{}\"", expected::shorten(text)),
                hint,
            );
        };
        self.bump();
        let mut distinct = false;
        let (arg, h) = if self.is_punct(Punct::Star) {
            if func != AggFunc::Count {
                let at = self.cur.start;
                return self.fail_with(
                    at,
                    format!(
                        "\"*\" is only allowed in count(*), not in {}()",
                        func.name()
                    ),
                    None,
                );
            }
            self.bump();
            (None, 0)
        } else {
            if func == AggFunc::Count {
                self.note(Expected::Punct(Punct::Star), true);
            }
            distinct = self.eat_kw(Kw::Distinct, false);
            let (arg, h) = self.nested(Self::or_expr)?;
            (Some(Box::new(arg)), h)
        };
        self.expect(Punct::RParen)?;
        let h = self.height(h + 1, name.start)?;
        Ok((
            Expr::Aggregate {
                func,
                arg,
                distinct,
            },
            h,
        ))
    }

    // ---- literals ----

    /// A literal and its height (1 for a scalar, one more per level of
    /// array or object).
    fn literal(&mut self) -> PResult<(Literal, u32)> {
        match self.cur.tok {
            Tok::Number { .. } => Ok((self.number(None)?, 1)),
            Tok::Punct(Punct::Minus) => {
                let minus = self.cur;
                self.bump();
                Ok((self.number(Some(minus))?, 1))
            }
            Tok::Str { escaped } => {
                let s = self.string(escaped);
                self.bump();
                Ok((Literal::String(s), 1))
            }
            Tok::Word(Some(kw @ (Kw::True | Kw::False | Kw::Null))) => {
                self.bump();
                let l = match kw {
                    Kw::True => Literal::Bool(true),
                    Kw::False => Literal::Bool(false),
                    _ => Literal::Null,
                };
                Ok((l, 1))
            }
            Tok::Punct(Punct::LBracket) => self.json_nested(|p| {
                p.bump();
                let mut items = Vec::new();
                let mut h = 0;
                loop {
                    if p.eat(Punct::RBracket, true) {
                        break;
                    }
                    let (item, ih) = p.literal()?;
                    h = h.max(ih);
                    items.push(item);
                    if !p.eat(Punct::Comma, true) {
                        p.expect(Punct::RBracket)?;
                        break;
                    }
                }
                Ok((Literal::Array(items), h + 1))
            }),
            Tok::Punct(Punct::LBrace) => self.json_nested(|p| {
                let (fields, h) = p.object(false)?;
                Ok((Literal::Object(fields), h + 1))
            }),
            Tok::Punct(Punct::Question) => {
                let n = u32::try_from(self.params.len()).unwrap_or(u32::MAX);
                self.params.push(self.cur.start);
                self.bump();
                Ok((Literal::Param(n), 1))
            }
            _ => self.fail(What::Value),
        }
    }

    /// Runs `f`, which reads a json array or object, one json level (and
    /// one nesting level) deeper.
    fn json_nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.json_depth >= MAX_JSON_DEPTH {
            let at = self.cur.start;
            return self.fail_too_complex(
                at,
                format!(
                    "json value nested too deeply (more than {MAX_JSON_DEPTH} levels of arrays and objects)"
                ),
            );
        }
        self.json_depth += 1;
        let result = self.nested(f);
        self.json_depth -= 1;
        result
    }

    /// `{ key: literal, ... }`, at the `{`: the fields and the height of
    /// the tallest value. A key given twice is an error (`row`: the keys
    /// are column names of an inserted row).
    fn object(&mut self, row: bool) -> PResult<(Vec<(String, Literal)>, u32)> {
        self.expect(Punct::LBrace)?;
        let mut fields: Vec<(String, Literal)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut h = 0;
        loop {
            if self.eat(Punct::RBrace, true) {
                break;
            }
            let at = self.cur.start;
            let key = match self.cur.tok {
                Tok::Word(_) if row => self.word_within_limit()?,
                Tok::Word(_) => self.cur_text().to_owned(),
                Tok::Str { escaped } => {
                    let key = self.string(escaped);
                    if row && key.len() > MAX_NAME_LEN {
                        return self.name_too_long(at, &key);
                    }
                    key
                }
                _ => return self.fail(What::FieldName),
            };
            if !seen.insert(key.clone()) {
                let what = if row { "column" } else { "key" };
                return self.fail_with(
                    at,
                    format!("{what} \"{}\" given twice", expected::shorten(&key)),
                    None,
                );
            }
            self.bump();
            self.expect(Punct::Colon)?;
            let (value, vh) = self.literal()?;
            h = h.max(vh);
            fields.push((key, value));
            if !self.eat(Punct::Comma, true) {
                self.expect(Punct::RBrace)?;
                break;
            }
        }
        Ok((fields, h))
    }

    /// The current number token as a literal, negated when `minus` (the
    /// `-` token before it) is given.
    fn number(&mut self, minus: Option<Token>) -> PResult<Literal> {
        let Tok::Number { int } = self.cur.tok else {
            return self.fail(What::Number);
        };
        let digits = self.cur_text();
        if int && let Ok(n) = digits.parse::<u64>() {
            let value = match minus {
                Some(_) => 0i64.checked_sub_unsigned(n),
                None => i64::try_from(n).ok(),
            };
            if let Some(v) = value {
                self.bump();
                return Ok(Literal::Int(v));
            }
        }
        match digits.parse::<f64>() {
            Ok(x) if x.is_finite() => {
                self.bump();
                Ok(Literal::Float(if minus.is_some() { -x } else { x }))
            }
            _ => {
                let at = minus.map_or(self.cur.start, |m| m.start);
                let written = expected::shorten(&self.text[at..self.cur.end]);
                self.fail_with(at, format!("number \"{written}\" is out of range"), None)
            }
        }
    }

    /// The current string token's value.
    fn string(&self, escaped: bool) -> String {
        let body = &self.text[self.cur.start + 1..self.cur.end - 1];
        if escaped {
            lexer::unescape(body)
        } else {
            body.to_owned()
        }
    }
}

fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
    Expr::Binary {
        op,
        left: Box::new(left),
        right: Box::new(right),
    }
}
