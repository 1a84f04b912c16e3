//! `fasty shell`: an interactive session on a data directory or a server —
//! rustyline line editing and history, statements over several lines
//! ending in `;`, results as aligned tables, and meta commands that start
//! with `.` (`.help`).

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use crate::Result;
use crate::table;
use crate::target::{Target, TargetArgs};

/// `fasty shell --help`: what it does, with examples.
pub const LONG_ABOUT: &str = "An interactive shell on a data directory or a server.

A statement may span several lines and ends with `;`. Results are printed as
aligned tables with the row count and time. History is kept in
~/.fasty_history (or --history FILE). Meta commands:
  .tables          list the tables
  .schema TABLE    a table's columns and indexes (data directory only)
  .help            this list
  .quit            leave (or Ctrl-D)

Examples:
  fasty shell --data-dir ./data
  fasty shell --server http://127.0.0.1:8000
  echo 'select users;' | fasty shell --data-dir ./data";

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

const HELP: &str = "\
statements end with ';' and may span lines; meta commands:
  .tables          list the tables
  .schema TABLE    a table's columns and indexes
  .help            this list
  .quit            leave (or Ctrl-D)
";

/// Runs the shell until `.quit` or end of input.
pub fn run(args: ShellArgs) -> Result<()> {
    let target = args.target.open()?;
    let interactive = std::io::stdin().is_terminal();
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
    if interactive {
        let place = match &target {
            Target::Local(_) => format!("data directory {}", args.target.data_dir.display()),
            Target::Remote(c) => format!("server {}", c.base()),
        };
        outln!(
            "fasty {} on {place}; .help for help",
            env!("CARGO_PKG_VERSION")
        );
    }
    let mut buffer = String::new();
    let mut failed = false;
    loop {
        let prompt = if buffer.is_empty() {
            "fasty> "
        } else {
            "   ..> "
        };
        let line = match editor.readline(prompt) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('.') {
            let _ = editor.add_history_entry(trimmed);
            match meta(&target, trimmed) {
                Ok(Flow::Quit) => break,
                Ok(Flow::Continue) => {}
                Err(e) => {
                    eprintln!("error: {e}");
                    failed = true;
                }
            }
            continue;
        }
        if trimmed.is_empty() && buffer.is_empty() {
            continue;
        }
        if !buffer.is_empty() {
            buffer.push('\n');
        }
        buffer.push_str(&line);
        if !buffer.trim_end().ends_with(';') {
            continue;
        }
        let statement = std::mem::take(&mut buffer);
        let _ = editor.add_history_entry(statement.trim());
        if !run_statement(&target, statement.trim()) {
            failed = true;
        }
    }
    if !buffer.trim().is_empty() && !run_statement(&target, buffer.trim()) {
        failed = true;
    }
    if let Some(h) = &history
        && let Err(e) = editor.save_history(h)
    {
        tracing::warn!(file = %h.display(), error = %e, "cannot save the shell history");
    }
    crate::query::close(target)?;
    // Piped input: a failed statement makes the exit status non-zero, as
    // a script runner would.
    if failed && !interactive {
        return Err("a statement failed".into());
    }
    Ok(())
}

/// Runs one statement and prints the answer or the error; `false` on error.
fn run_statement(target: &Target, text: &str) -> bool {
    let start = Instant::now();
    let result = target.query(text);
    let elapsed = start.elapsed();
    match result {
        Ok(answer) => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(table::render(&answer, elapsed).as_bytes());
            let _ = out.flush();
            true
        }
        Err(e) => {
            eprintln!("error: {e}");
            false
        }
    }
}

enum Flow {
    Continue,
    Quit,
}

fn meta(target: &Target, line: &str) -> Result<Flow> {
    let mut words = line.split_whitespace();
    let cmd = words.next().unwrap_or_default();
    let arg = words.next();
    match cmd {
        ".quit" | ".exit" | ".q" => return Ok(Flow::Quit),
        ".help" | ".h" => out!("{HELP}"),
        ".tables" => {
            for t in target.tables()? {
                outln!("{t}");
            }
        }
        ".schema" => {
            let names = match arg {
                Some(t) => vec![t.to_string()],
                None => target.tables()?,
            };
            for name in names {
                let schema = target.schema(&name)?;
                let cols: Vec<String> = schema
                    .columns
                    .iter()
                    .map(|(n, t)| format!("{n}: {t}"))
                    .collect();
                outln!("create table {name} {{ {} }}", cols.join(", "));
                for i in schema.indexes {
                    outln!("  index {i}");
                }
            }
        }
        other => return Err(format!("unknown meta command {other:?}; .help lists them").into()),
    }
    Ok(Flow::Continue)
}
