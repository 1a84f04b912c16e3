//! `fasty shell`: an interactive session on a data directory or a server —
//! rustyline line editing and history, statements split at `;` (several
//! on a line, or one over several lines), results as aligned tables (or
//! csv, json, line), and meta commands that start with `.` (`.help`).
//!
//! Input that is not a terminal is a script: it is read to its end and
//! run statement by statement; the first failure is reported with its
//! line and ends the shell with status 1.

use std::fs::File;
use std::io::{BufWriter, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::Args;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use crate::Result;
use crate::table;
use crate::target::{Answer, Target, TargetArgs};

/// The meta commands, for `--help` and `.help`.
macro_rules! meta_commands {
    () => {
        "  .tables                     list the tables
  .schema [TABLE]             columns and indexes of one table or all
  .mode table|csv|json|line   how rows are printed
  .timer on|off               print the time of each statement
  .read FILE                  run the statements of FILE
  .output [FILE]              write results to FILE (alone: back to stdout)
  .help                       this list
"
    };
}

/// `fasty shell --help`: what it does, with examples.
pub const LONG_ABOUT: &str = concat!(
    "An interactive shell on a data directory or a server.

Statements end with `;`: several may share a line, one may span lines (a `;`
inside quotes or after `--` does not count). Results are printed as aligned
tables (null as NULL) with the row count and time. History is kept in
~/.fasty_history (or --history FILE). `\\q`, `quit`, `exit`, `.quit` or
Ctrl-D leave. `describe TABLE` shows a table's columns.

Input that is not a terminal is run as a script: every statement in order;
the first failure prints its line and the shell exits with status 1.

On a data directory, `begin` (or `begin read only`) opens a transaction: the
statements after it see the database as of `begin` plus their own writes, and
`commit` writes them all at once (or fails with serialization_failure, writing
nothing, if another writer changed one of its rows meanwhile) or `rollback`
drops them. Leaving the shell with a transaction open rolls it back. Outside a
transaction every statement is its own. On a server (--server) each statement
is its own: send a whole transaction as one request instead (docs/http.md).

Meta commands:
",
    meta_commands!(),
    "  .quit                       leave

Examples:
  fasty shell --data-dir ./data
  fasty shell --server http://127.0.0.1:8000
  fasty shell --data-dir ./data < script.fql"
);

/// An interactive shell: line editing, history, multi-line statements.
#[derive(Args, Debug)]
pub struct ShellArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The history file (default ~/.fasty_history, or DIR/.fasty_history
    /// when there is no home directory).
    #[arg(long, value_name = "FILE")]
    history: Option<PathBuf>,
}

const HELP: &str = concat!(
    "statements end with ';' (several per line, or one over several lines);
\\q, quit or exit leave; describe TABLE shows a table's columns
meta commands:
",
    meta_commands!(),
    "  .quit                       leave (or Ctrl-D)
the language: docs/language.md; the HTTP API: docs/http.md;
coming from SQL: docs/from-sql.md
"
);

/// How `.read` files may nest.
const MAX_READ_DEPTH: usize = 16;

/// How rows are printed (`.mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Aligned columns, then `N rows (T ms)`.
    Table,
    /// A header line and one line per row, RFC 4180 quoting; null empty.
    Csv,
    /// One JSON array of row objects.
    Json,
    /// One `column = value` line per column, a blank line between rows.
    Line,
}

/// Runs the shell until `.quit` or end of input.
pub fn run(args: ShellArgs) -> Result<()> {
    let target = args.target.open()?;
    target.check()?;
    let mut session = Session {
        target: &target,
        txn: fasty_query::Session::new(),
        mode: Mode::Table,
        timer: true,
        out: Box::new(std::io::stdout()),
        depth: 0,
    };
    let result = if std::io::stdin().is_terminal() {
        interactive(&args, &mut session)
    } else {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read the script from stdin: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|_| "the script on stdin is not utf-8")?;
        session
            .script(&text)
            .map_err(|e| format!("line {e}").into())
    };
    let _ = session.out.flush();
    if session.txn.in_transaction() {
        eprintln!("the open transaction was rolled back (end it with commit to keep its writes)");
    }
    drop(session);
    crate::query::close(target)?;
    result
}

/// The interactive loop: errors are printed and the session goes on.
fn interactive(args: &ShellArgs, session: &mut Session<'_>) -> Result<()> {
    let history = args.history.clone().or_else(|| {
        std::env::var_os("HOME")
            .map(|h| PathBuf::from(h).join(".fasty_history"))
            .or_else(|| {
                args.target
                    .server
                    .is_none()
                    .then(|| args.target.data_dir.join(".fasty_history"))
            })
    });
    let mut editor = DefaultEditor::new()?;
    if let Some(h) = &history {
        // A missing history file is the first session's normal state.
        let _ = editor.load_history(h);
    }
    let place = match session.target {
        Target::Local(_) => format!("data directory {}", args.target.data_dir.display()),
        Target::Remote(c) => format!("server {}", c.base()),
    };
    outln!(
        "fasty {} on {place}; .help for help, \\q to leave",
        env!("CARGO_PKG_VERSION")
    );
    let mut input = Input::default();
    let mut line_no = 0u64;
    loop {
        let prompt = if input.is_empty() {
            "fasty> "
        } else {
            "   ..> "
        };
        let line = match editor.readline(prompt) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => {
                input = Input::default();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        line_no += 1;
        if !line.trim().is_empty() {
            let _ = editor.add_history_entry(line.trim());
        }
        match session.feed(&mut input, &line, line_no) {
            Ok(Flow::Quit) => break,
            Ok(Flow::Continue) => {}
            Err((_, e)) => eprintln!("error: {e}"),
        }
    }
    if let Some(h) = &history
        && let Err(e) = editor.save_history(h)
    {
        tracing::warn!(file = %h.display(), error = %e, "cannot save the shell history");
    }
    Ok(())
}

/// What comes after a line.
enum Flow {
    Continue,
    Quit,
}

/// Text of a statement not yet ended by `;`, and the line it starts on.
#[derive(Default)]
struct Input {
    text: String,
    first_line: u64,
}

impl Input {
    fn is_empty(&self) -> bool {
        self.text.trim().is_empty()
    }
}

/// A failure and the line it belongs to.
type Failure = (u64, Box<dyn std::error::Error + Send + Sync>);

/// The shell's state: where statements go and how answers are printed.
struct Session<'a> {
    target: &'a Target,
    /// The transaction `begin` opened, on a data directory.
    txn: fasty_query::Session,
    mode: Mode,
    timer: bool,
    out: Box<dyn Write>,
    /// `.read` nesting.
    depth: usize,
}

impl Session<'_> {
    /// Runs a script to its end or its first failure, given as
    /// `N: message` (N the failing statement's line).
    fn script(&mut self, text: &str) -> std::result::Result<(), String> {
        let mut input = Input::default();
        for (i, line) in text.lines().enumerate() {
            match self.feed(&mut input, line, i as u64 + 1) {
                Ok(Flow::Continue) => {}
                Ok(Flow::Quit) => return Ok(()),
                Err((line, e)) => return Err(format!("{line}: {e}")),
            }
        }
        // A last statement without its `;`.
        if !input.is_empty() {
            let line = input.first_line;
            self.statement(input.text.trim())
                .map_err(|e| format!("{line}: {e}"))?;
        }
        Ok(())
    }

    /// Takes one line: a meta command or a leave word on its own, or text
    /// that ends (and runs) statements at each `;`.
    fn feed(
        &mut self,
        input: &mut Input,
        line: &str,
        line_no: u64,
    ) -> std::result::Result<Flow, Failure> {
        let trimmed = line.trim();
        if input.is_empty() {
            let word = trimmed.trim_end_matches(';').trim_end();
            if matches!(word, "\\q" | "quit" | "exit") {
                return Ok(Flow::Quit);
            }
            if trimmed.starts_with('.') {
                return self.meta(trimmed).map_err(|e| (line_no, e));
            }
            input.text.clear();
            input.first_line = line_no;
        }
        input.text.push_str(line);
        input.text.push('\n');
        let (statements, rest) = split_statements(&input.text);
        let mut failure = None;
        for (offset, text) in statements {
            let at = input.first_line + newlines(&input.text[..offset]);
            if let Err(e) = self.statement(&text) {
                failure = Some((at, e));
                break;
            }
        }
        if let Some(f) = failure {
            *input = Input::default();
            return Err(f);
        }
        input.first_line += newlines(&input.text[..rest]);
        input.text.drain(..rest);
        Ok(Flow::Continue)
    }

    /// Runs one statement (without its `;`) and prints its answer.
    fn statement(&mut self, text: &str) -> Result<()> {
        if let Some(table) = describe_target(text) {
            return self.describe(table);
        }
        let start = Instant::now();
        let answer = self.target.query_in(&mut self.txn, text)?;
        let elapsed = start.elapsed();
        let printed = match self.mode {
            Mode::Table => table::render(&answer, elapsed, self.timer),
            mode => match &answer {
                Answer::Rows { columns, rows } => match mode {
                    Mode::Csv => csv_rows(columns, rows)?,
                    Mode::Json => json_rows(columns, rows),
                    _ => line_rows(columns, rows),
                },
                other => table::render(other, elapsed, self.timer),
            },
        };
        self.out.write_all(printed.as_bytes())?;
        self.out.flush()?;
        Ok(())
    }

    fn describe(&mut self, table: &str) -> Result<()> {
        let schema = self.target.schema(table)?;
        let rows: Vec<Vec<serde_json::Value>> = schema
            .columns
            .iter()
            .map(|(n, t)| vec![n.clone().into(), t.clone().into()])
            .collect();
        let mut text = table::render_rows(&["column".into(), "type".into()], &rows);
        for (name, cols) in &schema.indexes {
            text.push_str(&index_line(name, cols));
        }
        self.out.write_all(text.as_bytes())?;
        Ok(())
    }

    fn meta(&mut self, line: &str) -> Result<Flow> {
        let mut words = line.split_whitespace();
        let cmd = words.next().unwrap_or_default();
        let arg = words.next();
        if words.next().is_some() {
            return Err(format!("{cmd} takes at most one argument; .help lists them").into());
        }
        let mut text = String::new();
        match cmd {
            ".quit" | ".exit" | ".q" => return Ok(Flow::Quit),
            ".help" | ".h" => text.push_str(HELP),
            ".tables" => {
                for t in self.target.tables()? {
                    text.push_str(&t);
                    text.push('\n');
                }
            }
            ".schema" => {
                let all = match arg {
                    Some(t) => vec![self.target.schema(t)?],
                    None => self.target.schemas()?,
                };
                for schema in all {
                    let cols: Vec<String> = schema
                        .columns
                        .iter()
                        .map(|(n, t)| format!("{n}: {t}"))
                        .collect();
                    text.push_str(&format!(
                        "create table {} {{ {} }}\n",
                        schema.name,
                        cols.join(", ")
                    ));
                    for (name, cols) in &schema.indexes {
                        text.push_str(&index_line(name, cols));
                    }
                }
            }
            ".mode" => {
                self.mode = match arg {
                    Some("table") => Mode::Table,
                    Some("csv") => Mode::Csv,
                    Some("json") => Mode::Json,
                    Some("line") => Mode::Line,
                    _ => return Err("usage: .mode table|csv|json|line".into()),
                }
            }
            ".timer" => {
                self.timer = match arg {
                    Some("on") => true,
                    Some("off") => false,
                    _ => return Err("usage: .timer on|off".into()),
                }
            }
            ".read" => {
                let Some(file) = arg else {
                    return Err("usage: .read FILE".into());
                };
                self.read(Path::new(file))?;
            }
            ".output" => {
                self.out.flush()?;
                self.out = match arg {
                    None => Box::new(std::io::stdout()),
                    Some(file) => Box::new(BufWriter::new(
                        File::create(file).map_err(|e| format!("cannot write {file}: {e}"))?,
                    )),
                };
            }
            other => {
                return Err(format!("unknown meta command {other:?}; .help lists them").into());
            }
        }
        self.out.write_all(text.as_bytes())?;
        self.out.flush()?;
        Ok(Flow::Continue)
    }

    /// `.read FILE`: its statements, stopping at the first failure.
    fn read(&mut self, file: &Path) -> Result<()> {
        if self.depth >= MAX_READ_DEPTH {
            return Err(format!(
                ".read nests deeper than {MAX_READ_DEPTH} files (does {} read itself?)",
                file.display()
            )
            .into());
        }
        let text = std::fs::read_to_string(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        self.depth += 1;
        let result = self.script(&text);
        self.depth -= 1;
        result.map_err(|e| format!("{}: line {e}", file.display()).into())
    }
}

fn index_line(name: &str, cols: &[String]) -> String {
    if cols.is_empty() {
        format!("  index {name}\n")
    } else {
        format!("  index {name} ({})\n", cols.join(", "))
    }
}

/// The table of `describe TABLE` (any case, an optional `;` gone already).
fn describe_target(text: &str) -> Option<&str> {
    let mut words = text.split_whitespace();
    let first = words.next()?;
    let table = words.next()?;
    (first.eq_ignore_ascii_case("describe") && words.next().is_none()).then_some(table)
}

fn newlines(s: &str) -> u64 {
    s.bytes().filter(|&b| b == b'\n').count() as u64
}

/// Splits text at each `;` outside quotes (`"…"`, `'…'`, with `\`
/// escapes) and `--` comments. Gives each complete statement that holds
/// more than blanks and comments, with the byte offset of its first
/// character, and the offset where the unfinished rest begins (the end
/// when the rest is only blanks and comments).
fn split_statements(text: &str) -> (Vec<(usize, String)>, usize) {
    #[derive(PartialEq)]
    enum S {
        Code,
        Quoted(u8),
        Escaped(u8),
        Comment,
    }
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut state = S::Code;
    let mut start = 0;
    // The first byte of the statement that is not a blank or a comment.
    let mut first: Option<usize> = None;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match state {
            S::Code => match b {
                b';' => {
                    if let Some(f) = first {
                        out.push((f, text[f..i].trim().to_string()));
                    }
                    first = None;
                    start = i + 1;
                }
                b'-' if bytes.get(i + 1) == Some(&b'-') => {
                    state = S::Comment;
                    i += 1;
                }
                b'"' | b'\'' => {
                    first.get_or_insert(i);
                    state = S::Quoted(b);
                }
                b if b.is_ascii_whitespace() => {}
                _ => {
                    first.get_or_insert(i);
                }
            },
            S::Quoted(q) => {
                if b == b'\\' {
                    state = S::Escaped(q);
                } else if b == q {
                    state = S::Code;
                }
            }
            S::Escaped(q) => state = S::Quoted(q),
            S::Comment => {
                if b == b'\n' {
                    state = S::Code;
                }
            }
        }
        i += 1;
    }
    // A rest of blanks and comments is nothing to wait for.
    (out, if first.is_some() { start } else { text.len() })
}

/// Rows as CSV: a header line, then one line per row; null is an empty
/// field, a string that is empty is `""`.
fn csv_rows(columns: &[String], rows: &[Vec<serde_json::Value>]) -> Result<String> {
    let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
    w.write_record(columns)?;
    for r in rows {
        let fields: Vec<String> = r
            .iter()
            .map(|v| match v {
                serde_json::Value::Null => String::new(),
                other => table::cell(other),
            })
            .collect();
        w.write_record(&fields)?;
    }
    let bytes = w.into_inner().map_err(|e| e.to_string())?;
    Ok(String::from_utf8(bytes)?)
}

/// Rows as one JSON array of objects, fields in column order.
fn json_rows(columns: &[String], rows: &[Vec<serde_json::Value>]) -> String {
    let names: Vec<String> = columns
        .iter()
        .map(|c| serde_json::Value::String(c.clone()).to_string())
        .collect();
    let objects: Vec<String> = rows
        .iter()
        .map(|r| {
            let fields: Vec<String> = names
                .iter()
                .zip(r)
                .map(|(n, v)| format!("{n}:{v}"))
                .collect();
            format!("{{{}}}", fields.join(","))
        })
        .collect();
    format!("[{}]\n", objects.join(","))
}

/// Rows as `column = value` lines, names right-aligned, a blank line
/// between rows.
fn line_rows(columns: &[String], rows: &[Vec<serde_json::Value>]) -> String {
    use unicode_width::UnicodeWidthStr;
    let width = columns.iter().map(|c| c.width()).max().unwrap_or(0);
    let mut out = String::new();
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        for (c, v) in columns.iter().zip(r) {
            let pad = " ".repeat(width.saturating_sub(c.width()));
            out.push_str(&format!("{pad}{c} = {}\n", table::table_cell(v)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn texts(s: &str) -> (Vec<String>, &str) {
        let (st, rest) = split_statements(s);
        (st.into_iter().map(|(_, t)| t).collect(), &s[rest..])
    }

    #[test]
    fn statements_split_at_semicolons_outside_quotes_and_comments() {
        assert_eq!(
            texts("select a; select b;select c"),
            (vec!["select a".into(), "select b".into()], "select c")
        );
        assert_eq!(
            texts("insert t { s: \"a;b\", t: 'c\\';d' }; -- x; y\nselect t;"),
            (
                vec![
                    "insert t { s: \"a;b\", t: 'c\\';d' }".into(),
                    "select t".into()
                ],
                ""
            )
        );
        // Blank statements and comment-only ones are no statements.
        assert_eq!(texts(" ; -- only\n;"), (vec![], ""));
        let (st, _) = split_statements("\n\n  select x;");
        assert_eq!(st[0].0, 4);
    }

    #[test]
    fn describe_is_recognised() {
        assert_eq!(describe_target("DESCRIBE users"), Some("users"));
        assert_eq!(describe_target("describe"), None);
        assert_eq!(describe_target("select users"), None);
    }

    #[test]
    fn rows_in_each_mode() {
        let cols = vec!["id".to_string(), "name".to_string()];
        let rows = vec![vec![json!(1), json!("a,b")], vec![json!(2), json!(null)]];
        assert_eq!(csv_rows(&cols, &rows).unwrap(), "id,name\n1,\"a,b\"\n2,\n");
        assert_eq!(
            json_rows(&cols, &rows),
            "[{\"id\":1,\"name\":\"a,b\"},{\"id\":2,\"name\":null}]\n"
        );
        assert_eq!(
            line_rows(&cols, &rows),
            "  id = 1\nname = a,b\n\n  id = 2\nname = NULL\n"
        );
    }
}
