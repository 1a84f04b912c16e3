//! Statements built from fragments of the language — a statement shape
//! with holes filled by expressions, names, literals, deep nesting, long
//! operator chains and odd tokens — so that the fuzzer reaches deep into
//! the grammar instead of failing at the first token. Parsing must never
//! panic or overflow the stack; a `select` or `explain` that parses is
//! also run against a small fixed in-memory database.
#![no_main]

use std::fmt::Write as _;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

const KEYWORDS: &[&str] = &[
    "select", "find", "insert", "upsert", "update", "delete", "create", "drop", "explain", "from",
    "join", "on", "where", "group", "order", "by", "asc", "desc", "limit", "offset", "as", "or",
    "and", "not", "like", "is", "in", "between", "null", "true", "false", "table", "index", "set",
    "count", "sum", "avg", "min", "max", "int", "float", "string", "bool", "json",
];
const NAMES: &[&str] = &[
    "t", "u", "id", "a", "b", "s", "f", "j", "t_id", "name", "x", "j.k", "t.a", "u.name", "j.a.b",
];
const PUNCT: &[&str] = &[
    "(", ")", "[", "]", "{", "}", ",", ";", ":", ".", "*", "+", "-", "/", "=", "!=", "<>", "<",
    "<=", ">", ">=", "?", "--", "\"", "'", "\\", "\0", "\u{feff}", "é", "\n",
];
const BINOPS: &[&str] = &["+", "-", "*", "/", "and", "or", "=", "<", "like", "||", "."];
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "1",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "1e308",
    "1e309",
    "-1e309",
    "1.5",
    "0.0000001",
    "1e-400",
    "99999999999999999999999999999999999999",
    "1.",
    ".5",
    "1e",
    "1e+",
    "0x10",
    "00",
    "1_000",
];

#[derive(Arbitrary, Debug)]
enum Frag {
    Keyword(u8),
    Name(u8),
    Number(u8),
    Int(i64),
    Float(f64),
    Str(String),
    Punct(u8),
    /// `n` opening parentheses, an expression, `n` closing ones.
    Parens(u16, Box<Frag>),
    /// `n` unclosed opening brackets of one kind.
    Open(u8, u16),
    /// A chain `x op x op ... x` of `n` operators.
    Chain(u8, u16),
    /// `not not ... x` or `- - ... x`.
    Prefix(bool, u16),
    /// A json literal nested `n` deep: `[[[...]]]` or `{"a": {...}}`.
    Nested(bool, u16),
    /// A name of `n` repeated characters.
    LongName(u16),
    /// A string literal of `n` characters.
    LongString(u16),
    /// `x in (x, x, ...)` with `n` items.
    InList(u16),
    Raw(String),
    Seq(Vec<Frag>),
}

#[derive(Arbitrary, Debug)]
struct Input {
    shape: u8,
    holes: Vec<Frag>,
}

/// Shapes of statements; `#` marks a hole.
const SHAPES: &[&str] = &[
    "#",
    "select * from t where #",
    "select # from t",
    "select #, # from t where # order by # limit 3",
    "select a, count(*) from t group by # order by # desc",
    "select t.a, u.name from t join u on # where #",
    "find t where #",
    "explain select * from t where # and #",
    "explain explain #",
    "update t set a = # where #",
    "delete from t where #",
    "insert t {id: 5, a: #, j: #}",
    "insert t [#, #]",
    "upsert t {#: #}",
    "create table # {id: int, #: #}",
    "create index # on t (#)",
    "drop table #",
    "select * from t where a between # and #",
    "select * from t where s like #",
    "select * from t where a in (#)",
    "select * from t where j.# is not null",
    "select * from t limit # offset #",
];

fn render(f: &Frag, out: &mut String, budget: &mut usize) {
    // Keeps inputs to a size the parser can handle in a fuzzing run.
    if out.len() > 200_000 || *budget == 0 {
        return;
    }
    *budget -= 1;
    let pick = |list: &[&'static str], i: u8| list[usize::from(i) % list.len()];
    let n = |k: u16| usize::from(k % 4096);
    match f {
        Frag::Keyword(i) => out.push_str(pick(KEYWORDS, *i)),
        Frag::Name(i) => out.push_str(pick(NAMES, *i)),
        Frag::Number(i) => out.push_str(pick(NUMBERS, *i)),
        Frag::Int(v) => {
            let _ = write!(out, "{v}");
        }
        Frag::Float(v) => {
            let _ = write!(out, "{v:?}");
        }
        Frag::Str(s) => {
            let _ = write!(out, "{s:?}");
        }
        Frag::Punct(i) => out.push_str(pick(PUNCT, *i)),
        Frag::Parens(k, inner) => {
            out.push_str(&"(".repeat(n(*k)));
            render(inner, out, budget);
            out.push_str(&")".repeat(n(*k)));
        }
        Frag::Open(kind, k) => {
            out.push_str(&pick(&["(", "[", "{", "not ", "-"], *kind).repeat(n(*k)))
        }
        Frag::Chain(op, k) => {
            let op = pick(BINOPS, *op);
            out.push('a');
            for _ in 0..n(*k) {
                let _ = write!(out, " {op} a");
            }
        }
        Frag::Prefix(not, k) => {
            out.push_str(&(if *not { "not " } else { "- " }).repeat(n(*k)));
            out.push('a');
        }
        Frag::Nested(object, k) => {
            let (open, close) = if *object {
                ("{\"a\": ", "}")
            } else {
                ("[", "]")
            };
            out.push_str(&open.repeat(n(*k)));
            out.push('1');
            out.push_str(&close.repeat(n(*k)));
        }
        Frag::LongName(k) => out.push_str(&"x".repeat(n(*k) * 16)),
        Frag::LongString(k) => {
            out.push('"');
            out.push_str(&"s".repeat(n(*k) * 16));
            out.push('"');
        }
        Frag::InList(k) => {
            out.push_str("a in (");
            for i in 0..n(*k) {
                let _ = write!(out, "{i},");
            }
            out.push_str("0)");
        }
        Frag::Raw(s) => out.push_str(s),
        Frag::Seq(parts) => {
            for p in parts {
                render(p, out, budget);
                out.push(' ');
            }
        }
    }
}

fuzz_target!(|input: Input| {
    let shape = SHAPES[usize::from(input.shape) % SHAPES.len()];
    let mut text = String::new();
    let mut holes = input.holes.iter();
    let mut budget = 256;
    for (i, part) in shape.split('#').enumerate() {
        if i > 0 {
            match holes.next() {
                Some(f) => render(f, &mut text, &mut budget),
                None => text.push('1'),
            }
        }
        text.push_str(part);
    }
    fasty_query::fuzzing::parse_and_query(&text);
});
