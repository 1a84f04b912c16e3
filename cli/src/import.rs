//! `fasty import`: loads a CSV file into a table in atomic batches, on a
//! data directory (`Database::insert_rows`) or a server (the batch body of
//! `POST /query`), with parallel workers and a progress bar.
//!
//! The stages: the reader (this thread) reads records strictly
//! (`records`), maps the header to column names (`column_names`), converts
//! each record to a row of typed values (`convert`) and groups them into
//! batches; workers insert batches; a bad record is reported with its line
//! number (the header is line 1) and skipped or stops the import
//! (`--on-error`). On a stop, the batch holding the bad row is dropped and
//! no later batch is sent, so exactly the batches before it are imported —
//! unless this import created the table (`--create`), which is then
//! dropped: a failed import leaves no half-made table behind.

use std::fs::File;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use fasty_query::{InsertMode, Value};
use indicatif::{ProgressBar, ProgressStyle};

use crate::Result;
use crate::records::{Field, ReadError, Reader, Record};
use crate::target::{Target, TargetArgs};

/// `fasty import --help`: what it does, with examples.
pub const LONG_ABOUT: &str = "Import a CSV file into a table, in atomic batches.

The first line of the file names the columns (with --no-header the columns
are column1, column2, …). A header that is not an identifier is mapped to one
and the mapping printed: each run of characters other than letters, digits
and _ becomes one _ (none at the ends), case is kept, a leading digit gets a _
in front, an empty name becomes columnN (its position); two headers mapping to
the same name are an error.

Each batch is inserted atomically; --workers batches are inserted in
parallel. With --create the table is created first, its column types (int,
float, bool, else string) guessed from the first --infer-rows rows; a column
`id` is the primary key, otherwise the rows are numbered 1, 2, … in file
order. An unquoted empty field is null (so is an unquoted field equal to
--null TEXT); a quoted empty field (\"\") is an empty string in a string
column and null in any other.

The file is read strictly: a quote that never closes, text after a closing
quote, a wrong number of fields, a field that is not UTF-8 or a value that
does not fit its column is reported with its line number (the header is line
1). --on-error skip goes on without the row; --on-error abort (the default)
stops: the batch holding the bad row and every later one are not imported,
earlier ones are — and a table this import created (--create) is dropped.

Examples:
  fasty import users users.csv --data-dir ./data --create
  fasty import sales sales.tsv --data-dir ./data --create --delimiter tab --null NULL
  fasty import events events.csv --server http://127.0.0.1:8000 --batch-size 5000 --workers 4 --on-error skip";

/// Import a CSV file into a table, in atomic batches.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The table to insert into.
    table: String,
    /// The CSV file (with a header line unless --no-header).
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
    /// Rows read to guess column types (with --create).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    infer_rows: usize,
    /// Replace rows whose id exists instead of failing the batch.
    #[arg(long)]
    upsert: bool,
    /// The field delimiter: one ASCII character, or `tab`.
    #[arg(long, default_value = ",", value_name = "C")]
    delimiter: String,
    /// The quote character: one ASCII character.
    #[arg(long, default_value = "\"", value_name = "C")]
    quote: String,
    /// An unquoted field equal to TEXT is null (an unquoted empty field
    /// always is in a column that is not a string).
    #[arg(long, default_value = "", value_name = "TEXT")]
    null: String,
    /// The file has no header line: the columns are column1, column2, …
    #[arg(long)]
    no_header: bool,
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

/// The narrowest of int, float, bool, string that holds every value that
/// is not null.
pub fn infer<'a>(values: impl IntoIterator<Item = &'a str> + Clone) -> Kind {
    let non_empty = || values.clone().into_iter().filter(|v| !v.is_empty());
    if non_empty().next().is_none() {
        return Kind::String;
    }
    if non_empty().all(|v| v.trim().parse::<i64>().is_ok()) {
        Kind::Int
    } else if non_empty().all(|v| v.trim().parse::<f64>().is_ok_and(f64::is_finite)) {
        Kind::Float
    } else if non_empty().all(|v| parse_bool(v.trim()).is_some()) {
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

/// Whether a field stands for null: unquoted and equal to `null_text`,
/// or empty in a column that is not a string.
fn is_null(kind: Kind, field: &Field, null_text: &str) -> bool {
    (!field.quoted && field.text == null_text) || (kind != Kind::String && field.text.is_empty())
}

/// One field as a value of its column's type (see [`is_null`] for null).
pub fn convert(kind: Kind, field: &Field, null_text: &str) -> std::result::Result<Value, String> {
    if is_null(kind, field, null_text) {
        return Ok(Value::Null);
    }
    let text = field.text.as_str();
    let bad = || format!("{text:?} is not {}", article(kind));
    match kind {
        Kind::Int => text.trim().parse().map(Value::Int).map_err(|_| {
            if text.trim().parse::<i128>().is_ok() {
                format!("{text:?} does not fit an int (64-bit)")
            } else {
                bad()
            }
        }),
        Kind::Float => text
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::Float)
            .ok_or_else(bad),
        Kind::Bool => parse_bool(text.trim()).map(Value::Bool).ok_or_else(bad),
        Kind::String => Ok(Value::String(text.to_string())),
        Kind::Json => match serde_json::from_str::<serde_json::Value>(text) {
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

/// A header as a column name: each run of characters other than ASCII
/// letters, digits and `_` becomes one `_`, none kept at either end; case
/// is kept; a leading digit gets a `_` in front; an empty result is
/// `column{position}` (1-based).
pub fn column_name(header: &str, position: usize) -> String {
    let mut out = String::with_capacity(header.len());
    let mut pending = false;
    for c in header.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if pending && !out.is_empty() {
                out.push('_');
            }
            pending = false;
            out.push(c);
        } else {
            pending = true;
        }
    }
    if out.is_empty() {
        return format!("column{position}");
    }
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The header's column names ([`column_name`]); two headers with the same
/// name are an error.
pub fn column_names(headers: &[String]) -> std::result::Result<Vec<String>, String> {
    let names: Vec<String> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| column_name(h, i + 1))
        .collect();
    for (i, n) in names.iter().enumerate() {
        if let Some(j) = names[..i].iter().position(|m| m == n) {
            return Err(if headers[i].trim() == headers[j].trim() {
                format!(
                    "the header names column {n:?} twice (fields {} and {})",
                    j + 1,
                    i + 1
                )
            } else {
                format!(
                    "headers {:?} (field {}) and {:?} (field {}) both become column {n:?}; \
                     rename one in the file",
                    headers[j],
                    j + 1,
                    headers[i],
                    i + 1
                )
            });
        }
    }
    Ok(names)
}

/// A one-character option (`--delimiter`, `--quote`) as its byte.
fn one_byte(option: &str, value: &str) -> Result<u8> {
    let b = match value {
        "tab" | "\\t" | "\t" => b'\t',
        v if v.len() == 1 && v.is_ascii() && !matches!(v, "\n" | "\r") => v.as_bytes()[0],
        _ => {
            return Err(
                format!("{option} takes one ASCII character (or `tab`), not {value:?}").into(),
            );
        }
    };
    Ok(b)
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
    let delimiter = one_byte("--delimiter", &args.delimiter)?;
    let quote = one_byte("--quote", &args.quote)?;
    if delimiter == quote {
        return Err("--delimiter and --quote must differ".into());
    }
    let file =
        File::open(&args.file).map_err(|e| format!("cannot open {}: {e}", args.file.display()))?;
    // Only an import that creates its table may create the data directory.
    let target = if args.create {
        args.target.open_or_create()?
    } else {
        args.target.open()?
    };
    let result = target
        .check()
        .and_then(|()| import(&args, &target, Reader::new(file, delimiter, quote)));
    crate::query::close(target)?;
    result
}

/// The types of the columns and whether each was guessed from the file.
struct Columns {
    names: Vec<String>,
    kinds: Vec<Kind>,
    guessed: Vec<bool>,
    /// Rows the guesses were made from.
    sampled: usize,
}

fn import(args: &ImportArgs, target: &Target, mut reader: Reader) -> Result<()> {
    let total_bytes = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    let file_name = args.file.display();
    let fatal = |e: ReadError| -> Box<dyn std::error::Error + Send + Sync> {
        match e {
            ReadError::Bad { line, message } => {
                format!("{file_name}: line {line}: {message}").into()
            }
            ReadError::Io(m) => format!("{file_name}: {m}").into(),
        }
    };
    // Records read ahead (the header's, to count the fields, and the rows
    // that guess the types); replayed below.
    let mut sample: Vec<std::result::Result<Record, ReadError>> = Vec::new();
    let names: Vec<String> = if args.no_header {
        match reader.next_record() {
            Ok(Some(first)) => {
                let n = first.fields.len();
                sample.push(Ok(first));
                (1..=n).map(|i| format!("column{i}")).collect()
            }
            Ok(None) => return Err(format!("{file_name} holds no rows").into()),
            Err(e) => return Err(fatal(e)),
        }
    } else {
        let header = match reader.next_record() {
            Ok(Some(h)) => h,
            Ok(None) => return Err(format!("{file_name} is empty: no header line").into()),
            Err(e) => return Err(format!("{} (in the header)", fatal(e)).into()),
        };
        let raw: Vec<String> = header.fields.into_iter().map(|f| f.text).collect();
        if raw.iter().all(|h| h.trim().is_empty()) {
            return Err(format!("{file_name}: the header line names no columns").into());
        }
        let names = column_names(&raw)?;
        for (h, n) in raw.iter().zip(&names) {
            if h != n {
                eprintln!("header {h:?} is column {n}");
            }
        }
        names
    };
    let numbered = !names.iter().any(|h| h == "id");

    let columns = if args.create {
        while sample.len() < args.infer_rows.max(1) {
            match reader.next_record() {
                Ok(Some(r)) => sample.push(Ok(r)),
                Ok(None) => break,
                Err(ReadError::Io(m)) => return Err(format!("{file_name}: {m}").into()),
                Err(e) => sample.push(Err(e)),
            }
        }
        let good: Vec<&Record> = sample
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .filter(|r| r.fields.len() == names.len())
            .collect();
        let kinds: Vec<Kind> = (0..names.len())
            .map(|j| {
                infer(good.iter().map(|r| {
                    let f = &r.fields[j];
                    if !f.quoted && f.text == args.null {
                        ""
                    } else {
                        f.text.as_str()
                    }
                }))
            })
            .collect();
        create_table(target, &args.table, &names, &kinds, numbered)?;
        Columns {
            guessed: vec![true; names.len()],
            sampled: good.len(),
            names,
            kinds,
        }
    } else {
        table_columns(target, &args.table, names)?
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
    let mut io_error: Option<String> = None;
    std::thread::scope(|s| {
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
        let mut sample = sample.into_iter();
        loop {
            if shared.stop.load(Ordering::Relaxed) {
                break;
            }
            let rec = match sample.next() {
                Some(r) => r,
                None => match reader.next_record() {
                    Ok(Some(r)) => Ok(r),
                    Ok(None) => break,
                    Err(e) => Err(e),
                },
            };
            record_no += 1;
            let row = match rec {
                Ok(r) => to_row(&columns, &r, numbered, record_no, &args.null)
                    .map(|row| (r.line, row))
                    .map_err(|e| format!("line {}: {e}", r.line)),
                Err(ReadError::Bad { line, message }) => Err(format!("line {line}: {message}")),
                Err(ReadError::Io(m)) => {
                    io_error = Some(m);
                    break;
                }
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
                draw(&progress, reader.offset(), &shared, start);
            }
        }
        // On a bad row (abort) the partial batch holding it is dropped.
        if bad_row.is_none()
            && io_error.is_none()
            && !batch.rows.is_empty()
            && !shared.stop.load(Ordering::Relaxed)
        {
            let _ = tx.send(batch);
        }
        drop(tx);
    });
    draw(&progress, reader.offset(), &shared, start);
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
    let error = match (bad_row, failure, io_error) {
        (Some(msg), _, _) => format!(
            "{file_name}: {msg}; import aborted: the batch holding it and all after it were \
             not imported ({summary})"
        ),
        (None, Some(msg), _) => format!("{msg}; import aborted ({summary})"),
        (None, None, Some(msg)) => format!("{file_name}: {msg}; import aborted ({summary})"),
        (None, None, None) => {
            outln!("{summary}");
            return Ok(());
        }
    };
    if args.create {
        // Nothing of a failed import stays: not even the table it made.
        return Err(match target.query(&format!("drop table {}", args.table)) {
            Ok(_) => format!(
                "{error}; table {} (created by this import) dropped",
                args.table
            ),
            Err(e) => format!(
                "{error}; table {} (created by this import) could not be dropped: {e}",
                args.table
            ),
        }
        .into());
    }
    Err(error.into())
}

fn draw(progress: &ProgressBar, bytes: u64, shared: &Shared, start: Instant) {
    let rows = shared.imported.load(Ordering::Relaxed);
    let rate = rows as f64 / start.elapsed().as_secs_f64().max(1e-9);
    progress.set_position(bytes);
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

/// One record as the fields of a row; `id` numbered when the file has none.
fn to_row(
    columns: &Columns,
    rec: &Record,
    numbered: bool,
    record_no: u64,
    null_text: &str,
) -> std::result::Result<Vec<(String, Value)>, String> {
    if rec.fields.len() != columns.names.len() {
        return Err(format!(
            "expected {} fields, found {}",
            columns.names.len(),
            rec.fields.len()
        ));
    }
    let mut row = Vec::with_capacity(columns.names.len() + usize::from(numbered));
    if numbered {
        let id = i64::try_from(record_no).map_err(|_| "too many rows to number".to_string())?;
        row.push(("id".to_string(), Value::Int(id)));
    }
    for (j, field) in rec.fields.iter().enumerate() {
        let name = &columns.names[j];
        let kind = columns.kinds[j];
        let v = convert(kind, field, null_text).map_err(|e| {
            if columns.guessed[j] {
                format!(
                    "column {name}: {e} (column {name} was guessed {} from the first {} \
                     rows; create the table yourself or pass a larger --infer-rows)",
                    kind.name(),
                    columns.sampled
                )
            } else {
                format!("column {name}: {e}")
            }
        })?;
        if !v.is_null() {
            row.push((name.clone(), v));
        }
    }
    Ok(row)
}

/// The types of an existing table's columns named by the header: from
/// its schema (embedded, or `GET /schema/{table}`). A server without that
/// route is probed instead: a column's type is read off a stored non-null
/// value, and a column holding only nulls is taken as a string, which the
/// server checks.
fn table_columns(target: &Target, table: &str, names: Vec<String>) -> Result<Columns> {
    let schema = match target.schema(table) {
        Ok(s) => Some(s.columns),
        Err(e) if e.code == "unknown_table" || matches!(target, Target::Local(_)) => {
            return Err(format!(
                "cannot import into {table}: {e}; create it first, or pass --create"
            )
            .into());
        }
        Err(_) => None,
    };
    let mut kinds = Vec::with_capacity(names.len());
    let mut guessed = Vec::with_capacity(names.len());
    for name in &names {
        let kind = match &schema {
            Some(cols) => cols
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| Kind::from_name(t))
                .ok_or_else(|| {
                    format!("table {table} has no column {name:?} (named in the header)")
                })?,
            None => {
                let probe = format!("select {name} from {table} where {name} is not null limit 1");
                let answer = target
                    .query(&probe)
                    .map_err(|e| format!("cannot import into {table}: {e}"))?;
                match answer {
                    crate::target::Answer::Rows { rows, .. } => {
                        match rows.first().and_then(|r| r.first()) {
                            Some(serde_json::Value::Bool(_)) => Kind::Bool,
                            Some(serde_json::Value::Number(n)) if n.is_f64() => Kind::Float,
                            Some(serde_json::Value::Number(_)) => Kind::Int,
                            Some(serde_json::Value::Array(_) | serde_json::Value::Object(_)) => {
                                Kind::Json
                            }
                            _ => Kind::String,
                        }
                    }
                    _ => Kind::String,
                }
            }
        };
        kinds.push(kind);
        guessed.push(false);
    }
    Ok(Columns {
        names,
        kinds,
        guessed,
        sampled: 0,
    })
}

fn create_table(
    target: &Target,
    table: &str,
    names: &[String],
    kinds: &[Kind],
    numbered: bool,
) -> Result<()> {
    if !is_identifier(table) {
        return Err(format!(
            "{table:?} is not a valid table name: names are letters, digits and _, \
             not starting with a digit"
        )
        .into());
    }
    let mut cols = Vec::new();
    if numbered {
        cols.push("id: int".to_string());
    }
    for (name, kind) in names.iter().zip(kinds) {
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

    fn f(text: &str) -> Field {
        Field {
            text: text.into(),
            quoted: false,
        }
    }

    fn q(text: &str) -> Field {
        Field {
            text: text.into(),
            quoted: true,
        }
    }

    #[test]
    fn conversion_reports_the_wrong_type() {
        assert_eq!(convert(Kind::Int, &f("42"), ""), Ok(Value::Int(42)));
        assert_eq!(convert(Kind::Int, &f(""), ""), Ok(Value::Null));
        assert_eq!(
            convert(Kind::Int, &f("4x"), ""),
            Err("\"4x\" is not an int".to_string())
        );
        assert_eq!(
            convert(Kind::Int, &f("99999999999999999999"), ""),
            Err("\"99999999999999999999\" does not fit an int (64-bit)".to_string())
        );
        assert_eq!(convert(Kind::Bool, &f("True"), ""), Ok(Value::Bool(true)));
        assert!(convert(Kind::Json, &f("[1]"), "").is_ok());
        assert!(convert(Kind::Json, &f("1"), "").is_err());
    }

    #[test]
    fn null_is_an_unquoted_empty_field_or_the_null_text() {
        let s = |v: &str| Ok(Value::String(v.into()));
        assert_eq!(convert(Kind::String, &f(""), ""), Ok(Value::Null));
        assert_eq!(convert(Kind::String, &q(""), ""), s(""));
        assert_eq!(convert(Kind::String, &f("NULL"), "NULL"), Ok(Value::Null));
        assert_eq!(convert(Kind::String, &q("NULL"), "NULL"), s("NULL"));
        assert_eq!(convert(Kind::String, &f(""), "NULL"), s(""));
        assert_eq!(convert(Kind::Int, &q(""), "NULL"), Ok(Value::Null));
        assert_eq!(convert(Kind::Int, &f("NULL"), "NULL"), Ok(Value::Null));
    }

    #[test]
    fn headers_map_to_identifiers() {
        assert_eq!(column_name("first name", 1), "first_name");
        assert_eq!(column_name("Total ($)", 1), "Total");
        assert_eq!(column_name(" a--b ", 1), "a_b");
        assert_eq!(column_name("2024 sales", 1), "_2024_sales");
        assert_eq!(column_name("_x_", 1), "_x_");
        assert_eq!(column_name("café", 1), "caf");
        assert_eq!(column_name("", 3), "column3");
        assert_eq!(column_name("(%)", 4), "column4");
        let headers = |h: &[&str]| h.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            column_names(&headers(&["id", "first name"])),
            Ok(vec!["id".to_string(), "first_name".to_string()])
        );
        let e = column_names(&headers(&["a b", "a-b"])).unwrap_err();
        assert!(e.contains("both become column \"a_b\""), "{e}");
        let e = column_names(&headers(&["a", "a"])).unwrap_err();
        assert!(e.contains("names column \"a\" twice"), "{e}");
    }

    #[test]
    fn identifiers() {
        assert!(is_identifier("user_2"));
        assert!(!is_identifier("2x"));
        assert!(!is_identifier("a-b"));
        assert!(!is_identifier(""));
    }
}
