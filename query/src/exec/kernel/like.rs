//! `like` / `not like`. A constant pattern is prepared once: without `_`
//! it is literal pieces between `%`s, matched with prefix, suffix and
//! substring tests (exact, `abc%`, `%abc`, `%abc%` and longer chains);
//! with `_` it goes through the row path's matcher on the pattern's
//! characters, decoded once. A pattern read from the rows is checked and
//! matched row by row, as the row path does.

use crate::error::Result;
use crate::expr::{check_pattern, like as like_chars};
use crate::value::Value;
use crate::vector::{Data, Vector};

use super::compile::Node;
use super::eval::{Mask, Sel, State, build_mask, eval};

/// A `like` pattern as compiled.
#[derive(Debug, Clone)]
pub(super) enum Pattern {
    /// A constant string pattern within the length limit.
    Const(Matcher),
    /// A constant string pattern over the length limit: an error
    /// wherever a string is tested against it.
    TooLong(String),
    /// A constant that is not a string (null, a number): every row gives
    /// null.
    NotString,
    /// A pattern computed per row.
    Dynamic(Box<Node>),
}

impl Pattern {
    /// The pattern of the compiled node `n`.
    pub(super) fn new(n: Node) -> Pattern {
        match n {
            Node::Const(Value::String(p)) => match check_pattern(&p) {
                Ok(()) => Pattern::Const(Matcher::new(&p)),
                Err(_) => Pattern::TooLong(p),
            },
            Node::Const(_) => Pattern::NotString,
            n => Pattern::Dynamic(Box::new(n)),
        }
    }

    /// Whether testing a row against it can fail.
    pub(super) fn fallible(&self) -> bool {
        match self {
            Pattern::Const(_) | Pattern::NotString => false,
            // A computed pattern may be too long.
            Pattern::TooLong(_) | Pattern::Dynamic(_) => true,
        }
    }
}

/// A prepared constant pattern.
#[derive(Debug, Clone)]
pub(super) enum Matcher {
    /// No `%` or `_`: the whole string.
    Exact(String),
    /// `abc%`.
    Prefix(String),
    /// `%abc`.
    Suffix(String),
    /// `%abc%`.
    Contains(String),
    /// `a%b%c` and the like: a prefix, pieces found in order, a suffix.
    Pieces {
        /// What the string starts with.
        prefix: String,
        /// What follows, in order, with anything between.
        middle: Vec<String>,
        /// What the string ends with.
        suffix: String,
    },
    /// Anything with `_`: the general matcher.
    General(Vec<char>),
}

impl Matcher {
    /// Prepares pattern `p`.
    pub(super) fn new(p: &str) -> Matcher {
        if p.contains('_') {
            return Matcher::General(p.chars().collect());
        }
        let parts: Vec<&str> = p.split('%').collect();
        let [first, inner @ .., last] = parts.as_slice() else {
            // No `%` at all.
            return Matcher::Exact(p.to_owned());
        };
        let middle: Vec<String> = inner
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| (*s).to_owned())
            .collect();
        match (first.is_empty(), middle.len(), last.is_empty()) {
            (_, 0, true) => Matcher::Prefix((*first).to_owned()),
            (true, 0, false) => Matcher::Suffix((*last).to_owned()),
            (true, 1, true) => Matcher::Contains(middle.concat()),
            _ => Matcher::Pieces {
                prefix: (*first).to_owned(),
                middle,
                suffix: (*last).to_owned(),
            },
        }
    }

    /// Whether `s` matches. Without `_`, matching bytes of valid UTF-8 is
    /// matching characters: a piece found in the bytes starts and ends on
    /// character boundaries.
    #[inline]
    pub(super) fn matches(&self, s: &str) -> bool {
        match self {
            Matcher::Exact(p) => s == p,
            Matcher::Prefix(p) => s.starts_with(p.as_str()),
            Matcher::Suffix(p) => s.ends_with(p.as_str()),
            Matcher::Contains(p) => s.contains(p.as_str()),
            Matcher::Pieces {
                prefix,
                middle,
                suffix,
            } => {
                if s.len() < prefix.len() + suffix.len()
                    || !s.starts_with(prefix.as_str())
                    || !s.ends_with(suffix.as_str())
                {
                    return false;
                }
                // Each piece as early as it occurs leaves the most room
                // for the rest.
                let mut rest = &s[prefix.len()..s.len() - suffix.len()];
                for m in middle {
                    match rest.find(m.as_str()) {
                        Some(at) => rest = &rest[at + m.len()..],
                        None => return false,
                    }
                }
                true
            }
            Matcher::General(p) => like_chars(s, p),
        }
    }
}

/// The positions of `sel` where `column [not] like pattern` is true,
/// for a column of strings and a constant pattern; `None` otherwise.
pub(super) fn select_column(
    v: &Vector,
    pattern: &Pattern,
    negated: bool,
    sel: Sel<'_>,
) -> Option<Vec<u32>> {
    let (Data::Str(t), Pattern::Const(m)) = (v.data(), pattern) else {
        return None;
    };
    Some(sel.filter(|p| !v.is_null(p) && m.matches(t.str(p)) != negated))
}

/// `expr [not] like pattern` at the positions `sel`.
pub(super) fn like(
    expr: &Node,
    pattern: &Pattern,
    negated: bool,
    st: &mut State<'_>,
    sel: Sel<'_>,
) -> Result<Mask> {
    let v = eval(expr, st, sel)?;
    match pattern {
        Pattern::Const(m) => build_mask(st.len, sel, |p| {
            Ok(v.str_at(p).map(|s| m.matches(s) != negated))
        }),
        Pattern::TooLong(pat) => {
            for p in sel.iter() {
                if v.str_at(p).is_some() {
                    check_pattern(pat)?;
                }
            }
            Ok(Mask::nulls(st.len))
        }
        Pattern::NotString => Ok(Mask::nulls(st.len)),
        Pattern::Dynamic(n) => {
            let pat = eval(n, st, sel)?;
            build_mask(st.len, sel, |p| match (v.str_at(p), pat.str_at(p)) {
                (Some(s), Some(q)) => {
                    check_pattern(q)?;
                    let chars: Vec<char> = q.chars().collect();
                    Ok(Some(like_chars(s, &chars) != negated))
                }
                _ => Ok(None),
            })
        }
    }
}
