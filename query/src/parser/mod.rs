//! The fasty language parser (SPEC §2): one statement of text → one
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
//! statement  = "create" "table" NAME "{" [coldef {"," coldef} [","]] "}"
//!            | "create" "index" NAME "on" NAME "(" NAME ")"
//!            | "drop" ("table" | "index") NAME
//!            | ("insert" | "upsert") NAME (object | "[" [object {"," object} [","]] "]")
//!            | "select" "*" "from" NAME tail
//!            | "select" item {"," item} "from" NAME tail
//!            | "select" NAME tail                  -- = select * from NAME
//!            | "find" NAME tail                    -- = select * from NAME
//!            | "update" NAME "set" NAME "=" expr {"," NAME "=" expr} ["where" expr]
//!            | "delete" ["from"] NAME ["where" expr]
//!            | "explain" statement
//! coldef     = NAME ":" ("int" | "float" | "string" | "bool" | "json")
//! item       = expr ["as" NAME]
//! tail       = {"join" NAME "on" expr} ["where" expr] ["group" "by" expr {"," expr}]
//!              ["order" "by" key {"," key}] [limit [offset] | offset [limit]]
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
//! atom       = literal | name | AGG "(" ("*" | expr) ")" | "(" expr ")"
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
//! true false`. `table`, `index`, `set` and `by` are keywords only where
//! the grammar fixes them, and column types and aggregate names only in
//! their places, so all of those remain valid names. Object keys and the
//! parts of a dotted name after the first may be any word.
//!
//! `select users` (a single bare name and no `from`) is `select * from
//! users`; both, and `find users`, give a [`Select`] with no items.
//! `limit` and `offset` may come in either order. Comparisons do not
//! chain: `a = b = c` is an error asking for parentheses.

mod expected;
mod lexer;

use crate::ast::{
    AggFunc, BinaryOp, ColumnDef, ColumnType, Expr, Join, Literal, OrderBy, Select, SelectItem,
    Statement, UnaryOp,
};
use crate::error::{Error, Result};
use expected::{Expected, ExpectedSet, What};
use lexer::{Kw, Lexer, Punct, Tok, Token};

/// How deeply expressions, literals and `explain`s may nest; deeper input
/// is a syntax error rather than a stack overflow.
const MAX_DEPTH: u32 = 64;

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

/// Whether `word` (in any case) is reserved, i.e. cannot be written as a
/// bare table, column or alias name.
pub fn is_keyword(word: &str) -> bool {
    Kw::from_word(word).is_some_and(Kw::reserved)
}

/// A parse failed; the details are in the [`Parser`].
struct Fail;

type PResult<T> = std::result::Result<T, Fail>;

/// An error decided on the spot rather than from expectations.
struct Custom {
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
    depth: u32,
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
            params: Vec::new(),
        }
    }

    fn into_error(self) -> Error {
        match self.custom {
            Some(c) => expected::syntax(self.text, c.at, c.message, c.hint),
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
        self.custom = Some(Custom { at, message, hint });
        Err(Fail)
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
                let name = self.cur_text().to_owned();
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
            return self.fail_with(
                at,
                format!("statement nested too deeply (more than {MAX_DEPTH} levels)"),
                None,
            );
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
                    let name = self.name(What::TableName)?;
                    Ok(Statement::DropTable { name })
                } else if self.eat_kw(Kw::Index, true) {
                    let name = self.name(What::IndexName)?;
                    Ok(Statement::DropIndex { name })
                } else {
                    Err(Fail)
                }
            }
            Kw::Explain => {
                self.bump();
                let inner = self.nested(Self::statement)?;
                Ok(Statement::Explain(Box::new(inner)))
            }
            _ => self.fail(What::Statement),
        }
    }

    fn create(&mut self) -> PResult<Statement> {
        if self.eat_kw(Kw::Table, true) {
            let name = self.name(What::TableName)?;
            self.expect(Punct::LBrace)?;
            let mut columns = Vec::new();
            loop {
                if self.eat(Punct::RBrace, true) {
                    break;
                }
                let name = self.name(What::ColumnName)?;
                self.expect(Punct::Colon)?;
                let ty = self.column_type()?;
                columns.push(ColumnDef { name, ty });
                if !self.eat(Punct::Comma, true) {
                    self.expect(Punct::RBrace)?;
                    break;
                }
            }
            Ok(Statement::CreateTable { name, columns })
        } else if self.eat_kw(Kw::Index, true) {
            let name = self.name(What::IndexName)?;
            self.expect_kw(Kw::On)?;
            let table = self.name(What::TableName)?;
            self.expect(Punct::LParen)?;
            let column = self.name(What::ColumnName)?;
            self.expect(Punct::RParen)?;
            Ok(Statement::CreateIndex {
                name,
                table,
                column,
            })
        } else {
            Err(Fail)
        }
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
            Tok::Punct(Punct::LBrace) => vec![self.object()?],
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
                    rows.push(self.object()?);
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
        let mut assignments = Vec::new();
        loop {
            let column = self.name(What::ColumnName)?;
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
        if self.eat(Punct::Star, true) {
            self.expect_kw(Kw::From)?;
            let from = self.name(What::TableName)?;
            return self.select_tail(Vec::new(), from);
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
            return self.select_tail(items, from);
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

    /// Joins, `where`, `group by`, `order by`, `limit`, `offset`.
    fn select_tail(&mut self, items: Vec<SelectItem>, from: String) -> PResult<Select> {
        let mut joins = Vec::new();
        while self.eat_kw(Kw::Join, false) {
            let table = self.name(What::TableName)?;
            self.expect_kw(Kw::On)?;
            let on = self.expr()?;
            joins.push(Join { table, on });
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

    fn expr(&mut self) -> PResult<Expr> {
        self.nested(|p| {
            let mut left = p.and()?;
            while p.eat_kw(Kw::Or, false) {
                let right = p.and()?;
                left = binary(BinaryOp::Or, left, right);
            }
            Ok(left)
        })
    }

    fn and(&mut self) -> PResult<Expr> {
        let mut left = self.not()?;
        while self.eat_kw(Kw::And, false) {
            let right = self.not()?;
            left = binary(BinaryOp::And, left, right);
        }
        Ok(left)
    }

    fn not(&mut self) -> PResult<Expr> {
        if self.is_kw(Kw::Not) {
            self.bump();
            let expr = self.nested(Self::not)?;
            return Ok(Expr::Unary {
                op: UnaryOp::Not,
                expr: Box::new(expr),
            });
        }
        self.comparison()
    }

    fn comparison(&mut self) -> PResult<Expr> {
        let left = self.sum()?;
        let expr = match self.cur.tok {
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
                let right = self.sum()?;
                binary(op, left, right)
            }
            Tok::Word(Some(Kw::Is)) => {
                self.bump();
                let negated = self.eat_kw(Kw::Not, false);
                self.expect_kw(Kw::Null)?;
                Expr::IsNull {
                    expr: Box::new(left),
                    negated,
                }
            }
            Tok::Word(Some(Kw::Not)) => {
                self.bump();
                match self.cur.tok {
                    Tok::Word(Some(kw @ (Kw::Like | Kw::In | Kw::Between))) => {
                        self.bump();
                        self.negatable(kw, left, true)?
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
                self.negatable(kw, left, false)?
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
        Ok(expr)
    }

    /// The rest of `like`, `in` or `between` (the keyword consumed).
    fn negatable(&mut self, kw: Kw, left: Expr, negated: bool) -> PResult<Expr> {
        let expr = Box::new(left);
        Ok(match kw {
            Kw::Like => Expr::Like {
                expr,
                pattern: Box::new(self.sum()?),
                negated,
            },
            Kw::In => {
                self.expect(Punct::LParen)?;
                let mut list = Vec::new();
                loop {
                    list.push(self.expr()?);
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
                let low = Box::new(self.sum()?);
                self.expect_kw(Kw::And)?;
                let high = Box::new(self.sum()?);
                Expr::Between {
                    expr,
                    low,
                    high,
                    negated,
                }
            }
        })
    }

    fn sum(&mut self) -> PResult<Expr> {
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
            self.bump();
            let right = self.product()?;
            left = binary(op, left, right);
        }
    }

    fn product(&mut self) -> PResult<Expr> {
        let mut left = self.unary()?;
        loop {
            let op = match self.cur.tok {
                Tok::Punct(Punct::Star) => BinaryOp::Mul,
                Tok::Punct(Punct::Slash) => BinaryOp::Div,
                _ => {
                    self.note(Expected::What(What::Operator), false);
                    return Ok(left);
                }
            };
            self.bump();
            let right = self.unary()?;
            left = binary(op, left, right);
        }
    }

    fn unary(&mut self) -> PResult<Expr> {
        if !self.is_punct(Punct::Minus) {
            return self.atom();
        }
        let minus = self.cur;
        self.bump();
        if matches!(self.cur.tok, Tok::Number { .. }) && self.cur.start == minus.end {
            return Ok(Expr::Literal(self.number(Some(minus))?));
        }
        let expr = self.nested(Self::unary)?;
        Ok(Expr::Unary {
            op: UnaryOp::Neg,
            expr: Box::new(expr),
        })
    }

    fn atom(&mut self) -> PResult<Expr> {
        match self.cur.tok {
            Tok::Number { .. }
            | Tok::Str { .. }
            | Tok::Word(Some(Kw::True | Kw::False | Kw::Null))
            | Tok::Punct(Punct::LBracket | Punct::LBrace | Punct::Question) => {
                Ok(Expr::Literal(self.literal()?))
            }
            Tok::Punct(Punct::LParen) => {
                self.bump();
                let expr = self.expr()?;
                self.expect(Punct::RParen)?;
                Ok(expr)
            }
            Tok::Word(kw) if kw.is_none_or(|k| !k.reserved()) => self.name_or_call(),
            _ => self.fail(What::Expression),
        }
    }

    /// `a.b.c`, or `f(...)` for an aggregate `f`.
    fn name_or_call(&mut self) -> PResult<Expr> {
        let first = self.cur;
        let first_text = self.cur_text();
        self.bump();
        if self.is_punct(Punct::LParen) {
            return self.aggregate(first, first_text);
        }
        let mut parts = vec![first_text.to_owned()];
        while self.eat(Punct::Dot, false) {
            match self.cur.tok {
                Tok::Word(_) => {
                    parts.push(self.cur_text().to_owned());
                    self.bump();
                }
                _ => return self.fail(What::FieldName),
            }
        }
        Ok(Expr::Name(parts))
    }

    /// `name(...)`, at the `(`.
    fn aggregate(&mut self, name: Token, text: &str) -> PResult<Expr> {
        let func = AGGREGATES
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(text));
        let Some(func) = func else {
            let hint = crate::hint::closest(text, AGGREGATES.map(AggFunc::name))
                .map(|c| format!("did you mean \"{c}\"?"));
            return self.fail_with(
                name.start,
                format!(
                    "unknown function \"{}\" (aggregates: count, sum, avg, min, max)",
                    expected::shorten(text)
                ),
                hint,
            );
        };
        self.bump();
        let arg = if self.is_punct(Punct::Star) {
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
            None
        } else {
            if func == AggFunc::Count {
                self.note(Expected::Punct(Punct::Star), true);
            }
            Some(Box::new(self.expr()?))
        };
        self.expect(Punct::RParen)?;
        Ok(Expr::Aggregate { func, arg })
    }

    // ---- literals ----

    fn literal(&mut self) -> PResult<Literal> {
        match self.cur.tok {
            Tok::Number { .. } => self.number(None),
            Tok::Punct(Punct::Minus) => {
                let minus = self.cur;
                self.bump();
                self.number(Some(minus))
            }
            Tok::Str { escaped } => {
                let s = self.string(escaped);
                self.bump();
                Ok(Literal::String(s))
            }
            Tok::Word(Some(kw @ (Kw::True | Kw::False | Kw::Null))) => {
                self.bump();
                Ok(match kw {
                    Kw::True => Literal::Bool(true),
                    Kw::False => Literal::Bool(false),
                    _ => Literal::Null,
                })
            }
            Tok::Punct(Punct::LBracket) => self.nested(|p| {
                p.bump();
                let mut items = Vec::new();
                loop {
                    if p.eat(Punct::RBracket, true) {
                        break;
                    }
                    items.push(p.literal()?);
                    if !p.eat(Punct::Comma, true) {
                        p.expect(Punct::RBracket)?;
                        break;
                    }
                }
                Ok(Literal::Array(items))
            }),
            Tok::Punct(Punct::LBrace) => Ok(Literal::Object(self.nested(Self::object)?)),
            Tok::Punct(Punct::Question) => {
                let n = u32::try_from(self.params.len()).unwrap_or(u32::MAX);
                self.params.push(self.cur.start);
                self.bump();
                Ok(Literal::Param(n))
            }
            _ => self.fail(What::Value),
        }
    }

    /// `{ key: literal, ... }`, at the `{`.
    fn object(&mut self) -> PResult<Vec<(String, Literal)>> {
        self.expect(Punct::LBrace)?;
        let mut fields = Vec::new();
        loop {
            if self.eat(Punct::RBrace, true) {
                break;
            }
            let key = match self.cur.tok {
                Tok::Word(_) => self.cur_text().to_owned(),
                Tok::Str { escaped } => self.string(escaped),
                _ => return self.fail(What::FieldName),
            };
            self.bump();
            self.expect(Punct::Colon)?;
            let value = self.literal()?;
            fields.push((key, value));
            if !self.eat(Punct::Comma, true) {
                self.expect(Punct::RBrace)?;
                break;
            }
        }
        Ok(fields)
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
