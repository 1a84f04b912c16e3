//! `fasty query`: runs one statement on a data directory or a server and
//! prints the answer as a table, or with `--json` the docs/http.md response
//! object and nothing else.

use std::io::Write;
use std::time::Instant;

use clap::Args;

use crate::Result;
use crate::table;
use crate::target::{Reported, TargetArgs};

/// `fasty query --help`: what it does, with examples.
pub const LONG_ABOUT: &str = "Run one statement and print its result.

Prints the rows as an aligned table followed by `N rows (T ms)`, or the
number of rows affected, `ok`, or the plan of an `explain`. With --json,
prints exactly the response object of the HTTP API (docs/http.md) and nothing
else on stdout. A failing statement prints its code, line:column and hint
and exits with status 1.

The statement is a transaction of its own: it applies whole or not at all.
For several statements in one transaction (begin ... commit) use `fasty shell`
on a data directory, or send them to a server as one {\"transaction\": [...]}
request (docs/http.md).

Examples:
  fasty query --data-dir ./data 'create table users { id: int, name: string }'
  fasty query --data-dir ./data 'insert users { id: 1, name: \"alice\" }'
  fasty query --server http://127.0.0.1:8000 --json 'find users where name = \"alice\"'";

/// Run one statement and print its result.
#[derive(Args, Debug)]
pub struct QueryArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Print the docs/http.md JSON response object instead of a table.
    #[arg(long)]
    json: bool,
    /// The statement.
    statement: String,
}

/// Runs the command.
pub fn run(args: QueryArgs) -> Result<()> {
    let target = args.target.open()?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        let result = target.query_json(&args.statement);
        let (text, ok) = match &result {
            Ok(t) => (t, true),
            Err(t) => (t, false),
        };
        writeln!(stdout, "{text}")?;
        stdout.flush()?;
        close(target)?;
        return if ok { Ok(()) } else { Err(Reported.into()) };
    }
    let start = Instant::now();
    let result = target.query(&args.statement);
    let elapsed = start.elapsed();
    close(target)?;
    match result {
        Ok(answer) => {
            stdout.write_all(table::render(&answer, elapsed, true).as_bytes())?;
            stdout.flush()?;
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Closes an embedded database (syncing what the statement wrote).
pub fn close(target: crate::target::Target) -> Result<()> {
    if let crate::target::Target::Local(db) = target {
        db.close()?;
    }
    Ok(())
}
