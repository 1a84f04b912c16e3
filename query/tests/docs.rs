//! The examples of `docs/language.md` and `docs/from-sql.md` run as
//! tests, so the reference cannot drift from the engine.
//!
//! A ```` ```fasty ```` block is a list of statements, each followed by
//! the result it must give, on lines starting with `-- →`:
//!
//! - `-- → ok` (DDL), `-- → N affected` (writes), `-- → no rows`,
//! - one `-- → {"column": value, ...}` line per result row, in order, with
//!   the columns in result order (compared as compact JSON text, so key
//!   order, `1` versus `1.0` and nulls all count),
//! - `-- → error: CODE`, optionally followed by `(TEXT)` that the error's
//!   message or hint must contain,
//! - `-- → plan:` and then the `explain` output, one `-- → LINE` per line.
//!
//! Other lines (comments included) belong to the next statement. Every
//! block runs in order on a fresh memory-mode database; a block tagged
//! ```` ```fasty sample ```` holds the sample data of its document, and
//! is loaded first into every other block of that document unless the
//! block is tagged ```` ```fasty fresh ````.

use fasty_query::{Database, Error, ErrorCode, Options, Output, Session};

/// One statement of a block and what it must give.
#[derive(Debug)]
struct Example {
    /// 1-based line of the document where the statement starts.
    line: usize,
    text: String,
    expected: Vec<String>,
}

/// A fenced block.
#[derive(Debug)]
struct Block {
    line: usize,
    tag: String,
    examples: Vec<Example>,
}

const ARROW: &str = "-- →";

/// The ```` ```fasty ```` blocks of a markdown text. A statement without
/// an expected result, or a block left open, is an error.
fn blocks(doc: &str) -> Result<Vec<Block>, String> {
    let mut out = Vec::new();
    let mut lines = doc.lines().enumerate().map(|(i, l)| (i + 1, l));
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```fasty") else {
            continue;
        };
        let mut block = Block {
            line: n,
            tag: info.trim().to_string(),
            examples: Vec::new(),
        };
        let mut text: Vec<&str> = Vec::new();
        let mut start = 0;
        let mut closed = false;
        for (n, line) in lines.by_ref() {
            if line.trim_start().starts_with("```") {
                closed = true;
                break;
            }
            if let Some(rest) = line.trim_start().strip_prefix(ARROW) {
                let rest = rest.strip_prefix(' ').unwrap_or(rest).trim_end();
                if !text.is_empty() {
                    block.examples.push(Example {
                        line: start,
                        text: text.join("\n"),
                        expected: Vec::new(),
                    });
                    text.clear();
                }
                match block.examples.last_mut() {
                    Some(e) => e.expected.push(rest.to_string()),
                    None => return Err(format!("line {n}: a result with no statement before it")),
                }
                continue;
            }
            if text.is_empty() {
                if line.trim().is_empty() {
                    continue;
                }
                start = n;
            }
            text.push(line);
        }
        if !closed {
            return Err(format!("line {}: block not closed", block.line));
        }
        let leftover = text
            .iter()
            .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with("--"));
        if leftover {
            return Err(format!("line {start}: a statement without a `-- →` result"));
        }
        out.push(block);
    }
    Ok(out)
}

/// JSON text without the whitespace outside strings.
fn compact(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

/// What a statement gave, in the doc's notation.
fn describe(result: &Result<Output, Error>) -> Vec<String> {
    match result {
        Ok(Output::Ok) => vec!["ok".into()],
        Ok(Output::Affected(n)) => vec![format!("{n} affected")],
        Ok(Output::Plan(p)) => std::iter::once("plan:".to_string())
            .chain(p.lines().map(str::to_string))
            .collect(),
        Ok(Output::Rows { rows, .. }) if rows.is_empty() => vec!["no rows".into()],
        Ok(Output::Rows { columns, rows }) => rows
            .iter()
            .map(|r| {
                let fields: Vec<String> = columns
                    .iter()
                    .zip(r)
                    .map(|(c, v)| {
                        format!(
                            "{}:{}",
                            serde_json::Value::String(c.name.clone()),
                            v.to_json()
                        )
                    })
                    .collect();
                format!("{{{}}}", fields.join(","))
            })
            .collect(),
        Err(e) => {
            let mut s = format!("error: {} ({e}", e.code());
            if let Some(h) = e.hint() {
                s.push_str(&format!("; {h}"));
            }
            s.push(')');
            vec![s]
        }
    }
}

/// Checks one result against the expected lines; `Err` says how they
/// differ.
fn check(result: &Result<Output, Error>, expected: &[String]) -> Result<(), String> {
    let got = describe(result);
    let mismatch = || {
        Err(format!(
            "expected:\n    {}\n  got:\n    {}",
            expected.join("\n    "),
            got.join("\n    ")
        ))
    };
    let first = expected.first().map(String::as_str).unwrap_or("");
    if let Some(rest) = first.strip_prefix("error:") {
        let Err(e) = result else { return mismatch() };
        let rest = rest.trim();
        let (code, text) = match rest.split_once(' ') {
            Some((c, t)) => (c, Some(t.trim())),
            None => (rest, None),
        };
        if expected.len() != 1 || e.code().as_str() != code {
            return mismatch();
        }
        if let Some(t) = text {
            let Some(inner) = t.strip_prefix('(').and_then(|t| t.strip_suffix(')')) else {
                return Err(format!(
                    "`{first}`: text after the code goes in parentheses"
                ));
            };
            let whole = format!("{e}");
            if !whole.contains(inner) && !e.hint().is_some_and(|h| h.contains(inner)) {
                return mismatch();
            }
        }
        return Ok(());
    }
    if first.starts_with('{') {
        for line in expected {
            if let Err(err) = serde_json::from_str::<serde_json::Value>(line) {
                return Err(format!("`{line}` is not JSON: {err}"));
            }
        }
        let want: Vec<String> = expected.iter().map(|l| compact(l)).collect();
        return if want == got { Ok(()) } else { mismatch() };
    }
    if first == "plan:" {
        let want: Vec<&str> = expected.iter().map(|l| l.trim_end()).collect();
        return if want == got { Ok(()) } else { mismatch() };
    }
    if expected.len() == 1 && expected[0] == got.join("\n") {
        Ok(())
    } else {
        mismatch()
    }
}

/// Runs `examples` on `db`, in order in one session (so `begin`,
/// `commit` and `rollback` work as in a shell), adding a message per
/// failure to `failures`.
fn run(db: &Database, name: &str, examples: &[Example], failures: &mut Vec<String>) {
    let mut session = Session::new();
    for ex in examples {
        let result = session.execute(db, &ex.text);
        if let Err(why) = check(&result, &ex.expected) {
            failures.push(format!("{name}:{}: `{}`\n  {why}", ex.line, ex.text));
        }
    }
}

/// Runs every block of `doc` (named `name` in messages) and returns the
/// failures and the number of statements run.
fn run_doc(name: &str, doc: &str) -> (Vec<String>, usize) {
    let blocks = match blocks(doc) {
        Ok(b) => b,
        Err(e) => return (vec![format!("{name}: {e}")], 0),
    };
    let mut failures = Vec::new();
    let mut ran = 0;
    let sample: Vec<&Block> = blocks.iter().filter(|b| b.tag == "sample").collect();
    if sample.len() > 1 {
        failures.push(format!("{name}: more than one sample block"));
    }
    for block in &blocks {
        let dir = match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => return (vec![format!("temporary directory: {e}")], ran),
        };
        let db = match Database::open(dir.path(), Options::memory()) {
            Ok(db) => db,
            Err(e) => return (vec![format!("open: {e}")], ran),
        };
        let label = format!("{name} (block at line {})", block.line);
        match block.tag.as_str() {
            "sample" | "fresh" => {}
            "" => {
                if let Some(s) = sample.first() {
                    let mut setup = Vec::new();
                    run(&db, &label, &s.examples, &mut setup);
                    if !setup.is_empty() {
                        failures.push(format!("{label}: the sample data failed to load"));
                        continue;
                    }
                }
            }
            other => {
                failures.push(format!("{label}: unknown block tag `{other}`"));
                continue;
            }
        }
        run(&db, &label, &block.examples, &mut failures);
        ran += block.examples.len();
    }
    (failures, ran)
}

fn doc(file: &str) -> String {
    let path = format!("{}/../docs/{file}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn assert_doc_runs(file: &str, at_least: usize) {
    let (failures, ran) = run_doc(file, &doc(file));
    assert!(
        failures.is_empty(),
        "{} example(s) of docs/{file} are wrong:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        ran >= at_least,
        "docs/{file}: only {ran} statements ran, expected at least {at_least}"
    );
}

#[test]
fn language_reference_examples_hold() {
    assert_doc_runs("language.md", 150);
}

#[test]
fn from_sql_examples_hold() {
    assert_doc_runs("from-sql.md", 20);
}

/// Every error code the crate has is documented in the language reference.
#[test]
fn language_reference_lists_every_error_code() {
    let text = doc("language.md");
    let codes = [
        ErrorCode::SyntaxError,
        ErrorCode::UnknownTable,
        ErrorCode::UnknownColumn,
        ErrorCode::UnknownIndex,
        ErrorCode::TableExists,
        ErrorCode::IndexExists,
        ErrorCode::InvalidSchema,
        ErrorCode::TypeMismatch,
        ErrorCode::DuplicateKey,
        ErrorCode::MissingPrimaryKey,
        ErrorCode::AmbiguousColumn,
        ErrorCode::Unsupported,
        ErrorCode::NumericOverflow,
        ErrorCode::InvalidParameter,
        ErrorCode::StorageError,
        ErrorCode::Poisoned,
        ErrorCode::Corruption,
        ErrorCode::TooComplex,
        ErrorCode::StatementTimeout,
        ErrorCode::MemoryLimit,
        ErrorCode::Cancelled,
    ];
    for c in codes {
        assert!(
            text.contains(&format!("| `{}` |", c.as_str())),
            "docs/language.md has no row for error code `{c}` in its table of codes"
        );
    }
}

/// The checker itself: wrong examples of every kind are caught.
#[test]
fn wrong_examples_fail() {
    let doc = r#"
```fasty sample
create table t { id: int, x: int }
-- → ok
insert t [ { id: 1, x: 5 }, { id: 2 } ]
-- → 2 affected
```

```fasty
find t where x = 5
-- → {"id": 1, "x": 6}
find t
-- → {"id": 1, "x": 5}
find t where id = 1
-- → {"x": 5, "id": 1}
find t where id = 1
-- → {"id": 1.0, "x": 5}
find t where x > 100
-- → {"id": 1, "x": 5}
delete t where id = 1
-- → 2 affected
find t where y = 1
-- → error: unknown_table
find t where y = 1
-- → error: unknown_column (no such text)
create table t { id: int }
-- → ok
find t
-- → no rows
explain find t where id = 1
-- → plan:
-- → full scan on t
```

```fasty fresh
find t
-- → error: unknown_table
find t where id = 1
-- → ok
```
"#;
    let (failures, ran) = run_doc("test.md", doc);
    assert_eq!(ran, 2 + 11 + 2);
    // Every statement of the second block but none of the sample's is
    // wrong; in the fresh block (which starts empty) only the second.
    assert_eq!(failures.len(), 12, "{failures:#?}");
    assert!(
        !failures
            .iter()
            .any(|f| f.contains("`find t`\n  expected:\n    error")),
        "{failures:#?}"
    );

    // The same block with right answers passes.
    let right = r#"
```fasty
create table t { id: int, x: int }
-- → ok
insert t [ { id: 1, x: 5 }, { id: 2 } ]
-- → 2 affected
-- comments before a statement are part of it
find t
-- → {"id": 1, "x": 5}
-- → {"id": 2, "x": null}
select count(*), sum(x) as s from t
-- → {"count(*)": 2, "s": 5}
find t where x > 100
-- → no rows
find t where y = 1
-- → error: unknown_column (unknown column "y")
explain find t where id = 1
-- → plan:
-- → primary-key lookup on t (id in [1])
```
"#;
    let (failures, ran) = run_doc("right.md", right);
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(ran, 7);

    // A statement with no result, and a block left open, are errors.
    assert!(blocks("```fasty\nfind t\n```\n").is_err());
    assert!(blocks("```fasty\nfind t\n-- → no rows\n").is_err());
    assert!(blocks("```fasty\n-- only a comment\n```\n").is_ok());
}

/// A heading's anchor as markdown renderers make it: lower case, spaces
/// to hyphens, other punctuation dropped.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a markdown text's headings (outside code blocks).
fn anchors(doc: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in doc.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code && line.starts_with('#') {
            out.push(slug(line.trim_start_matches('#')));
        }
    }
    out
}

/// The targets of the `](...)` links of a markdown text.
fn links(doc: &str) -> Vec<String> {
    doc.split("](")
        .skip(1)
        .filter_map(|rest| rest.split_once(')').map(|(t, _)| t.to_string()))
        .collect()
}

/// Every link between the pages of docs/ leads to a file of the
/// repository and, with `#anchor`, to a heading of it; none leads
/// outside the repository.
#[test]
fn doc_links_resolve() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .canonicalize()
        .unwrap_or_else(|e| panic!("repository root: {e}"));
    let mut bad = Vec::new();
    let mut pages = 0;
    for entry in std::fs::read_dir(&docs).unwrap_or_else(|e| panic!("docs/: {e}")) {
        let path = entry.unwrap_or_else(|e| panic!("docs/: {e}")).path();
        if path.extension().is_none_or(|x| x != "md") {
            continue;
        }
        pages += 1;
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for link in links(&text) {
            if link.starts_with("http://") || link.starts_with("https://") {
                bad.push(format!("{name}: `{link}` leads outside the repository"));
                continue;
            }
            let (file, anchor) = match link.split_once('#') {
                Some((f, a)) => (f, Some(a)),
                None => (link.as_str(), None),
            };
            let target = if file.is_empty() {
                path.clone()
            } else {
                docs.join(file)
            };
            let Ok(target) = target.canonicalize() else {
                bad.push(format!("{name}: `{link}` leads to no file"));
                continue;
            };
            if !target.starts_with(&root) {
                bad.push(format!("{name}: `{link}` leads outside the repository"));
                continue;
            }
            if let Some(a) = anchor {
                let body = std::fs::read_to_string(&target).unwrap_or_default();
                if !anchors(&body).iter().any(|h| h == a) {
                    bad.push(format!("{name}: `{link}`: no heading with that anchor"));
                }
            }
        }
    }
    assert!(pages >= 7, "only {pages} pages in docs/");
    assert!(bad.is_empty(), "broken links:\n{}", bad.join("\n"));
}
