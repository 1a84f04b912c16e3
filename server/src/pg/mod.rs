//! The PostgreSQL wire protocol (docs/postgres.md), beside HTTP on the
//! same [`Database`](fasty_query::Database): `psql` and PostgreSQL drivers
//! connect to [`serve_pg`]'s listener.
//!
//! Module map: `listener` accepts connections and runs the stop,
//! `handler` answers the simple and extended query protocols (one
//! `fasty_query::Session` per connection, statements on the blocking
//! pool), `types` converts values, `errors` builds ErrorResponses with
//! SQLSTATEs, `settings` keeps `SET`/`SHOW` parameters, `auth` checks the
//! password, `cancel` routes cancel requests to running statements, and
//! this file holds what turns query text into statements.

mod auth;
mod cancel;
mod errors;
mod handler;
mod listener;
mod settings;
mod types;

pub use listener::serve_pg;

use fasty_query::{Database, Prepared, Result, Statement};

/// The statements of `text`, SQL (docs/sql.md): the one place where the
/// protocol's query text becomes statements.
pub(crate) fn parse(text: &str) -> Result<Vec<Statement>> {
    fasty_query::parse_sql(text)
}

/// `text`, one SQL statement, prepared with its `$n` placeholders.
pub(crate) fn prepare(db: &Database, text: &str) -> Result<Prepared> {
    db.prepare_sql(text)
}

/// What a transaction-control statement does, told from its first word
/// (after any leading comments): the pg layer needs it before running
/// the statement, for the failed-transaction state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    /// `BEGIN`, `START TRANSACTION`.
    Begin,
    /// `COMMIT`, `END`.
    Commit,
    /// `ROLLBACK`, `ABORT`.
    Rollback,
}

impl Control {
    /// The control statement `text` is, if any.
    pub(crate) fn of(text: &str) -> Option<Control> {
        let first = skip_comments(text)
            .split(|c: char| c.is_whitespace() || c == ';')
            .find(|w| !w.is_empty())?
            .to_ascii_lowercase();
        match first.as_str() {
            "begin" | "start" => Some(Control::Begin),
            "commit" | "end" => Some(Control::Commit),
            "rollback" | "abort" => Some(Control::Rollback),
            _ => None,
        }
    }

    /// The statement the fasty language has for it (`start transaction`,
    /// `end` and `abort` are PostgreSQL's spellings; isolation levels are
    /// accepted and ignored: transactions are snapshots with write
    /// conflicts, PostgreSQL's repeatable read).
    pub(crate) fn canonical(self, text: &str) -> String {
        match self {
            Control::Begin => {
                if text.to_ascii_lowercase().contains("read only") {
                    "begin read only".into()
                } else {
                    "begin".into()
                }
            }
            Control::Commit => "commit".into(),
            Control::Rollback => "rollback".into(),
        }
    }
}

/// `text` cut into statements at the `;` outside quotes, dollar quotes
/// and comments; blank pieces dropped. A backslash escapes only inside
/// `E'...'` strings (`standard_conforming_strings` is on).
pub(crate) fn split(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'$' => {
                if let Some(tag_len) = dollar_tag(b, i) {
                    let tag = &b[i..i + tag_len];
                    i += tag_len;
                    while i < b.len() && !b[i..].starts_with(tag) {
                        i += 1;
                    }
                    i += tag_len - 1;
                }
            }
            q @ (b'\'' | b'"') => {
                let escapes = q == b'\''
                    && i > 0
                    && matches!(b[i - 1], b'E' | b'e')
                    && (i < 2 || !is_word_byte(b[i - 2]));
                i += 1;
                while i < b.len() {
                    if escapes && b[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if b[i] == q {
                        // A doubled quote stays inside the literal.
                        if b.get(i + 1) == Some(&q) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    i += 1;
                }
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b';' => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out.into_iter()
        .map(str::trim)
        .filter(|s| !is_blank(s))
        .collect()
}

/// The length of the dollar-quote opener (`$$`, `$tag$`) at `b[i]`, if
/// one starts there (not a `$1` placeholder, not inside a word).
fn dollar_tag(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && is_word_byte(b[i - 1]) {
        return None;
    }
    let mut j = i + 1;
    if j < b.len() && b[j].is_ascii_digit() {
        return None;
    }
    while j < b.len() && is_word_byte(b[j]) {
        j += 1;
    }
    (j < b.len() && b[j] == b'$').then_some(j + 1 - i)
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// Whether `s` holds only blanks and comments.
fn is_blank(s: &str) -> bool {
    skip_comments(s).is_empty()
}

/// `s` without its leading blanks and comments: where the statement's
/// first word is (tools put comments before statements).
pub(crate) fn skip_comments(s: &str) -> &str {
    let mut rest = s.trim_start();
    loop {
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, r)| r).trim_start();
        } else {
            return rest;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_respects_quotes_and_comments() {
        assert_eq!(split("select 1; select 2;"), vec!["select 1", "select 2"]);
        assert_eq!(
            split("INSERT INTO t (id, s) VALUES (1, 'a;b'); SELECT * FROM t"),
            vec!["INSERT INTO t (id, s) VALUES (1, 'a;b')", "SELECT * FROM t"]
        );
        assert_eq!(split("select 'it''s;'"), vec!["select 'it''s;'"]);
        assert_eq!(split("select E'a\\';'; x"), vec!["select E'a\\';'", "x"]);
        assert_eq!(split("select 'a\\'; x"), vec!["select 'a\\'", "x"]);
        assert_eq!(split("select $$a;b$$; x"), vec!["select $$a;b$$", "x"]);
        assert_eq!(
            split("select $q$a;$$b$q$; x"),
            vec!["select $q$a;$$b$q$", "x"]
        );
        assert_eq!(split("select $1; x"), vec!["select $1", "x"]);
        assert_eq!(split("select \"a;b\"; x"), vec!["select \"a;b\"", "x"]);
        assert_eq!(split("-- a; b\nselect 1"), vec!["-- a; b\nselect 1"]);
        assert_eq!(split(" ; ;  -- only\n"), Vec::<&str>::new());
        assert_eq!(split("/* ; */ select 1"), vec!["/* ; */ select 1"]);
    }

    #[test]
    fn control_statements_are_told_by_their_first_word() {
        assert_eq!(Control::of("BEGIN"), Some(Control::Begin));
        assert_eq!(Control::of(" start transaction"), Some(Control::Begin));
        assert_eq!(Control::of("end;"), Some(Control::Commit));
        assert_eq!(Control::of("ABORT"), Some(Control::Rollback));
        assert_eq!(Control::of("beginning"), None);
        assert_eq!(
            Control::of("-- a comment\n/* another */ COMMIT"),
            Some(Control::Commit)
        );
        assert_eq!(Control::of("/* begin */ select 1"), None);
        assert_eq!(Control::of("select 1"), None);
        assert_eq!(
            Control::Begin.canonical("BEGIN READ ONLY"),
            "begin read only"
        );
    }
}
