//! `fasty import`: loads a CSV file into a table in atomic batches, on a
//! data directory (`Database::insert_rows`) or a server (the batch body of
//! `POST /query`), with parallel workers and a progress bar.
//!
//! The stages: the reader (this thread) parses records, converts each to
//! a row of typed values (`convert`) and groups them into batches; workers
//! insert batches; a bad row is reported with its line number (the header
//! is line 1) and skipped or stops the import (`--on-error`). On a stop,
//! the batch holding the bad row is dropped and no later batch is sent, so
//! exactly the batches before it are imported.

use std::fs::File;
use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use fasty_query::{InsertMode, Value};
use indicatif::{ProgressBar, ProgressStyle};

use crate::Result;
use crate::target::{Target, TargetArgs};

/// `fasty import --help`: what it does, with examples.
pub const LONG_ABOUT: &str = "Import a CSV file into a table, in atomic batches.

The first line of the file names the columns. Each batch is inserted
atomically; --workers batches are inserted in parallel. With --create the
table is created first, its column types (int, float, bool, else string)
inferred from the header and the first rows; a column `id` is the primary key,
otherwise the rows are numbered 1, 2, … in file order. Empty fields are null.

A malformed row (wrong number of fields, a value of the wrong type) is
reported with its line number (the header is line 1); --on-error skip goes
on without it, --on-error abort (the default) stops: the batch holding the bad
row and every later one are not imported, earlier ones are.

Examples:
  fasty import users users.csv --data-dir ./data --create
  fasty import events events.csv --server http://127.0.0.1:8000 --batch-size 5000 --workers 4 --on-error skip";

/// Import a CSV file into a table, in atomic batches.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The table to insert into.
    table: String,
    /// The CSV file (with a header line).
    file: PathBuf,
    #[command(flatten)]
    target: TargetArgs,
    /// Rows per atomic batch.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    batch_size: usize,
    /// Batches inserted in parallel.
    #[arg(long, default_value_t = 2, value_name = "N")]
    workers: usize,
    /// Create the table, inferring column types from the first rows.
    #[arg(long)]
    create: bool,
    /// What a malformed row does.
    #[arg(long, value_enum, default_value_t = OnError::Abort)]
    on_error: OnError,
    /// Rows read to infer column types (with --create, or against a
    /// server, which has no schema route).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    infer_rows: usize,
    /// Replace rows whose id exists instead of failing the batch.
    #[arg(long)]
    upsert: bool,
}

/// What a malformed row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnError {
    /// Report it and go on without it.
    Skip,
    /// Report it and stop before its batch.
    Abort,
}

/// A column's type as the importer converts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `int`.
    Int,
    /// `float`.
    Float,
    /// `bool`.
    Bool,
    /// `string`.
    String,
    /// `json`: an object or array in JSON syntax.
    Json,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Int => "int",
            Kind::Float => "float",
            Kind::Bool => "bool",
            Kind::String => "string",
            Kind::Json => "json",
        }
    }

    fn from_name(s: &str) -> Kind {
        match s {
            "int" => Kind::Int,
            "float" => Kind::Float,
            "bool" => Kind::Bool,
            "json" => Kind::Json,
            _ => Kind::String,
        }
    }
}

/// The narrowest of int, float, bool, string that holds every non-empty
/// value.
pub fn infer<'a>(values: impl IntoIterator<Item = &'a str> + Clone) -> Kind {
    let non_empty = || values.clone().into_iter().filter(|v| !v.is_empty());
    if non_empty().next().is_none() {
        return Kind::String;
    }
    if non_empty().all(|v| v.parse::<i64>().is_ok()) {
        Kind::Int
    } else if non_empty().all(|v| v.parse::<f64>().is_ok_and(f64::is_finite)) {
        Kind::Float
    } else if non_empty().all(|v| parse_bool(v).is_some()) {
        Kind::Bool
    } else {
        Kind::String
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// One field as a value of its column's type; an empty field is null.
pub fn convert(kind: Kind, field: &str) -> std::result::Result<Value, String> {
    if field.is_empty() {
        return Ok(Value::Null);
    }
    let bad = || format!("{field:?} is not {}", article(kind));
    match kind {
        Kind::Int => field.trim().parse().map(Value::Int).map_err(|_| bad()),
        Kind::Float => field
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::Float)
            .ok_or_else(bad),
        Kind::Bool => parse_bool(field.trim()).map(Value::Bool).ok_or_else(bad),
        Kind::String => Ok(Value::String(field.to_string())),
        Kind::Json => match serde_json::from_str::<serde_json::Value>(field) {
            Ok(j @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
                Ok(Value::Json(j))
            }
            _ => Err(bad()),
        },
    }
}

fn article(kind: Kind) -> &'static str {
    match kind {
        Kind::Int => "an int",
        Kind::Float => "a float",
        Kind::Bool => "a bool",
        Kind::String => "a string",
        Kind::Json => "a json object or array",
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Counts the bytes read, for the progress bar's ETA.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// A batch on its way to a worker: the lines it came from and its rows.
struct Batch {
    first_line: u64,
    last_line: u64,
    rows: Vec<Vec<(String, Value)>>,
}

/// What the workers share.
struct Shared {
    imported: AtomicU64,
    stop: AtomicBool,
    failure: Mutex<Option<String>>,
}

/// Runs the command.
pub fn run(args: ImportArgs) -> Result<()> {
    if args.batch_size == 0 || args.workers == 0 {
        return Err("--batch-size and --workers must be at least 1".into());
    }
    let target = args.target.open()?;
    let result = import(&args, &target);
    crate::query::close(target)?;
    result
}

fn import(args: &ImportArgs, target: &Target) -> Result<()> {
    let file =
        File::open(&args.file).map_err(|e| format!("cannot open {}: {e}", args.file.display()))?;
    let total_bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bytes_read = Arc::new(AtomicU64::new(0));
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(true)
        .from_reader(Counting {
            inner: std::io::BufReader::with_capacity(1 << 20, file),
            read: bytes_read.clone(),
        });
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{}: cannot read the header: {e}", args.file.display()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if header.is_empty() || header.iter().all(String::is_empty) {
        return Err(format!("{}: the header line names no columns", args.file.display()).into());
    }
    for (i, h) in header.iter().enumerate() {
        if header[..i].contains(h) {
            return Err(format!("the header names column {h:?} twice").into());
        }
    }
    let numbered = !header.iter().any(|h| h == "id");
    let mut records = reader.into_records();

    // Rows read ahead to infer types; replayed below.
    let mut sample: Vec<std::result::Result<csv::StringRecord, csv::Error>> = Vec::new();
    let kinds: Vec<Kind> = if args.create || matches!(target, Target::Remote(_)) {
        for rec in records.by_ref().take(args.infer_rows.max(1)) {
            sample.push(rec);
        }
        let kinds: Vec<Kind> = (0..header.len())
            .map(|j| {
                infer(
                    sample
                        .iter()
                        .filter_map(|r| r.as_ref().ok())
                        .filter(|r| r.len() == header.len())
                        .map(move |r| r.get(j).unwrap_or_default()),
                )
            })
            .collect();
        if args.create {
            create_table(target, &args.table, &header, &kinds, numbered)?;
            kinds
        } else {
            remote_kinds(target, &args.table, &header, kinds)?
        }
    } else {
        let cols = target.schema(&args.table)?.columns;
        header
            .iter()
            .map(|h| {
                cols.iter()
                    .find(|(n, _)| n == h)
                    .map(|(_, t)| Kind::from_name(t))
                    .ok_or_else(|| {
                        format!(
                            "table {} has no column {h:?} (named in the header)",
                            args.table
                        )
                    })
            })
            .collect::<std::result::Result<_, _>>()?
    };

    let progress = if std::io::stderr().is_terminal() {
        let pb = ProgressBar::new(total_bytes);
        pb.set_style(
            ProgressStyle::with_template(
                "[{elapsed_precise}] {wide_bar} {percent:>3}% {msg} ETA {eta}",
            )
            .map_err(|e| e.to_string())?,
        );
        pb.enable_steady_tick(Duration::from_millis(200));
        pb
    } else {
        ProgressBar::hidden()
    };

    let shared = Shared {
        imported: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        failure: Mutex::new(None),
    };
    let mode = if args.upsert {
        InsertMode::Upsert
    } else {
        InsertMode::Insert
    };
    let start = Instant::now();
    let mut skipped = 0u64;
    let mut bad_row: Option<String> = None;
    std::thread::scope(|s| -> Result<()> {
        let (tx, rx) = mpsc::sync_channel::<Batch>(args.workers);
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..args.workers {
            let rx = rx.clone();
            let shared = &shared;
            s.spawn(move || worker(target, &args.table, mode, &rx, shared));
        }
        let mut batch = Batch {
            first_line: 0,
            last_line: 0,
            rows: Vec::with_capacity(args.batch_size),
        };
        let mut record_no = 0u64;
        let mut last_draw = Instant::now();
        for rec in sample.into_iter().chain(records) {
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
            record_no += 1;
            let row = match rec {
                Ok(r) => {
                    let line = r.position().map_or(0, csv::Position::line);
                    to_row(&header, &kinds, &r, numbered, record_no)
                        .map(|row| (line, row))
                        .map_err(|e| format!("line {line}: {e}"))
                }
                Err(e) => Err(describe_csv_error(&e)),
            };
            match row {
                Ok((line, row)) => {
                    if batch.rows.is_empty() {
                        batch.first_line = line;
                    }
                    batch.last_line = line;
                    batch.rows.push(row);
                }
                Err(msg) => match args.on_error {
                    OnError::Skip => {
                        skipped += 1;
                        progress.suspend(|| eprintln!("skipped {msg}"));
                        continue;
                    }
                    OnError::Abort => {
                        bad_row = Some(msg);
                        break;
                    }
                },
            }
            if batch.rows.len() >= args.batch_size {
                let full = std::mem::replace(
                    &mut batch,
                    Batch {
                        first_line: 0,
                        last_line: 0,
                        rows: Vec::with_capacity(args.batch_size),
                    },
                );
                if tx.send(full).is_err() {
                    break;
                }
            }
            if last_draw.elapsed() >= Duration::from_millis(100) {
                last_draw = Instant::now();
                draw(&progress, &bytes_read, &shared, start);
            }
        }
        // On a bad row (abort) the partial batch holding it is dropped.
        if bad_row.is_none() && !batch.rows.is_empty() && !shared.stop.load(Ordering::Relaxed) {
            let _ = tx.send(batch);
        }
        drop(tx);
        Ok(())
    })?;
    draw(&progress, &bytes_read, &shared, start);
    progress.finish_and_clear();
    let elapsed = start.elapsed();
    let imported = shared.imported.load(Ordering::Relaxed);
    let rate = imported as f64 / elapsed.as_secs_f64().max(1e-9);
    let summary = format!(
        "{imported} rows imported into {} in {:.2} s ({rate:.0} rows/s), {skipped} skipped",
        args.table,
        elapsed.as_secs_f64()
    );
    let failure = shared
        .failure
        .lock()
        .map_err(|_| "an import worker panicked")?
        .take();
    if let Some(msg) = bad_row {
        return Err(format!(
            "{msg}; import aborted: the batch holding it and all after it were not imported \
             ({summary})"
        )
        .into());
    }
    if let Some(msg) = failure {
        return Err(format!("{msg}; import aborted ({summary})").into());
    }
    outln!("{summary}");
    Ok(())
}

fn draw(progress: &ProgressBar, bytes: &AtomicU64, shared: &Shared, start: Instant) {
    let rows = shared.imported.load(Ordering::Relaxed);
    let rate = rows as f64 / start.elapsed().as_secs_f64().max(1e-9);
    progress.set_position(bytes.load(Ordering::Relaxed));
    progress.set_message(format!("{rows} rows, {rate:.0} rows/s"));
}

fn worker(
    target: &Target,
    table: &str,
    mode: InsertMode,
    rx: &Mutex<mpsc::Receiver<Batch>>,
    shared: &Shared,
) {
    loop {
        let batch = {
            let Ok(rx) = rx.lock() else { return };
            match rx.recv() {
                Ok(b) => b,
                Err(_) => return,
            }
        };
        if shared.stop.load(Ordering::Relaxed) {
            continue; // drain: the reader stops soon
        }
        let n = batch.rows.len() as u64;
        match target.insert(table, batch.rows, mode) {
            Ok(_) => {
                shared.imported.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) => {
                shared.stop.store(true, Ordering::Relaxed);
                if let Ok(mut f) = shared.failure.lock() {
                    f.get_or_insert(format!(
                        "the batch of lines {}-{} failed: {e}",
                        batch.first_line, batch.last_line
                    ));
                }
            }
        }
    }
}

fn describe_csv_error(e: &csv::Error) -> String {
    match e.position() {
        Some(p) => format!("line {}: malformed csv: {e}", p.line()),
        None => format!("malformed csv: {e}"),
    }
}

/// One record as the fields of a row; `id` numbered when the file has none.
fn to_row(
    header: &[String],
    kinds: &[Kind],
    rec: &csv::StringRecord,
    numbered: bool,
    record_no: u64,
) -> std::result::Result<Vec<(String, Value)>, String> {
    if rec.len() != header.len() {
        return Err(format!(
            "expected {} fields, found {}",
            header.len(),
            rec.len()
        ));
    }
    let mut row = Vec::with_capacity(header.len() + usize::from(numbered));
    if numbered {
        let id = i64::try_from(record_no).map_err(|_| "too many rows to number".to_string())?;
        row.push(("id".to_string(), Value::Int(id)));
    }
    for ((name, kind), field) in header.iter().zip(kinds).zip(rec.iter()) {
        let v = convert(*kind, field).map_err(|e| format!("column {name}: {e}"))?;
        if !v.is_null() {
            row.push((name.clone(), v));
        }
    }
    Ok(row)
}

/// A server has no schema route: a column's type is read off a stored
/// non-null value (`select c from T where c is not null limit 1`); a column
/// holding only nulls keeps the type inferred from the file, which the
/// server checks.
fn remote_kinds(
    target: &Target,
    table: &str,
    header: &[String],
    inferred: Vec<Kind>,
) -> Result<Vec<Kind>> {
    let mut kinds = inferred;
    for (name, kind) in header.iter().zip(kinds.iter_mut()) {
        if !is_identifier(name) {
            return Err(
                format!("table {table} has no column {name:?} (named in the header)").into(),
            );
        }
        let probe = format!("select {name} from {table} where {name} is not null limit 1");
        let answer = target
            .query(&probe)
            .map_err(|e| format!("cannot import into {table}: {e}"))?;
        if let crate::target::Answer::Rows { rows, .. } = answer
            && let Some(v) = rows.first().and_then(|r| r.first())
        {
            *kind = match v {
                serde_json::Value::Bool(_) => Kind::Bool,
                serde_json::Value::Number(n) if n.is_f64() => Kind::Float,
                serde_json::Value::Number(_) => Kind::Int,
                serde_json::Value::String(_) => Kind::String,
                serde_json::Value::Array(_) | serde_json::Value::Object(_) => Kind::Json,
                serde_json::Value::Null => *kind,
            };
        }
    }
    Ok(kinds)
}

fn create_table(
    target: &Target,
    table: &str,
    header: &[String],
    kinds: &[Kind],
    numbered: bool,
) -> Result<()> {
    if !is_identifier(table) {
        return Err(format!("{table:?} is not a valid table name").into());
    }
    let mut cols = Vec::new();
    if numbered {
        cols.push("id: int".to_string());
    }
    for (name, kind) in header.iter().zip(kinds) {
        if !is_identifier(name) {
            return Err(format!(
                "cannot create a column {name:?}: names are letters, digits and _, \
                 not starting with a digit"
            )
            .into());
        }
        if name == "id" && *kind != Kind::Int {
            return Err(format!(
                "column id holds {} values, but the primary key must be int",
                kind.name()
            )
            .into());
        }
        cols.push(format!("{name}: {}", kind.name()));
    }
    let ddl = format!("create table {table} {{ {} }}", cols.join(", "));
    target
        .query(&ddl)
        .map_err(|e| format!("cannot create table {table}: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inference_takes_the_narrowest_type() {
        assert_eq!(infer(["1", "-2", ""]), Kind::Int);
        assert_eq!(infer(["1", "2.5"]), Kind::Float);
        assert_eq!(infer(["true", "FALSE", ""]), Kind::Bool);
        assert_eq!(infer(["1", "x"]), Kind::String);
        assert_eq!(infer(["", ""]), Kind::String);
        assert_eq!(infer(["nan"]), Kind::String);
    }

    #[test]
    fn conversion_reports_the_wrong_type() {
        assert_eq!(convert(Kind::Int, "42"), Ok(Value::Int(42)));
        assert_eq!(convert(Kind::Int, ""), Ok(Value::Null));
        assert_eq!(
            convert(Kind::Int, "4x"),
            Err("\"4x\" is not an int".to_string())
        );
        assert_eq!(convert(Kind::Bool, "True"), Ok(Value::Bool(true)));
        assert!(convert(Kind::Json, "[1]").is_ok());
        assert!(convert(Kind::Json, "1").is_err());
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("user_2"));
        assert!(!is_identifier("2x"));
        assert!(!is_identifier("a-b"));
        assert!(!is_identifier(""));
    }
}
