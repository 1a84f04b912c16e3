//! The two systems side by side: fasty on disk, with its rows spread over
//! the memtable, level-0 tables and deeper levels, and SQLite in memory
//! with the same rows; running a query or a write on both and comparing.

use fasty_query::ast::{Select, Statement};
use fasty_query::{Column, ColumnType, Database, ExecOptions, Options, Output, Value};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::compare::{
    Cmp, Lite, fasty_cmp, first_difference, from_sqlite, lite_cmp, same_value, sort_rows_by,
    type_error,
};
use super::generate::{self, Ids, Write, has_sum_or_avg};
use super::schema::{FASTY_DDL, INDEXES, SQLITE_DDL, TABLES};
use super::slt_db;
use super::sql::sql_select;

/// One thing done to the fasty database, for the replayable case.
pub enum Step {
    /// A statement and its affected count (`None` for DDL).
    Statement(String, Option<u64>),
    /// Something done below the language (a flush, a compaction), noted
    /// as a comment.
    Note(String),
}

pub struct Pair {
    pub fasty: Database,
    pub sqlite: rusqlite::Connection,
    _dir: tempfile::TempDir,
    /// The seed the data came from, for messages and the failing case.
    pub seed: u64,
    /// Everything done to fasty so far: the setup of a failing case.
    pub history: Vec<Step>,
    /// Rows moved by updates of `id` so far (see `generate::rand_write`).
    pub moves: i64,
}

impl Ids for rusqlite::Connection {
    fn exists(&self, table: &str, id: i64) -> bool {
        self.query_row(
            &format!("SELECT count(*) FROM {table} WHERE id = ?1"),
            [id],
            |r| r.get::<_, i64>(0),
        )
        .unwrap_or_else(|e| panic!("{table} {id}: {e}"))
            > 0
    }
}

/// fasty's options here: on disk, a memtable of 64 KiB and small tables
/// and levels, so that a few thousand rows make several levels of several
/// tables each, and no background threads: flushes and compactions run
/// inline when a write fills the memtable, the same at each run of a seed.
/// The storage layout is the default one.
pub fn options() -> Options {
    let storage = fasty_storage::Options::default()
        .with_memtable_budget(64 << 10)
        .with_block_size(1 << 10)
        .with_target_file_size(96 << 10)
        .with_level1_budget(192 << 10)
        .with_background(false);
    Options::default().with_wal(fasty_wal::Options::default().with_storage(storage))
}

/// Whether seed `seed` stores tables in columnar blocks below level 0:
/// half the seeds do (`seed % 4` of 0 or 1), the others in row blocks,
/// whatever the default is.
pub fn columnar(seed: u64) -> bool {
    seed % 4 < 2
}

/// [`options`] with the storage layout of seed `seed` ([`columnar`]):
/// columnar seeds keep level 0 in row blocks and write columnar blocks
/// from level 1 down, so that a table's rows are in the memtable, in row
/// blocks and in columnar blocks at once.
pub fn options_for(seed: u64) -> Options {
    let opts = options();
    if !columnar(seed) {
        return opts.with_columnar(false);
    }
    // Columnar tables are smaller on disk (packed keys, decimal floats): a
    // smaller level 1 keeps the load's compactions reaching level 2.
    let storage = opts
        .wal
        .storage
        .clone()
        .with_columnar_from_level(1)
        .with_level1_budget(48 << 10);
    let wal = opts.wal.clone().with_storage(storage);
    opts.with_wal(wal).with_columnar(true)
}

impl Pair {
    /// Runs a write on both and checks that the affected counts agree.
    pub fn write(&mut self, w: &Write) {
        let text = w.stmt.to_string();
        let ours = match self.fasty.execute(&text) {
            Ok(Output::Affected(n)) => n,
            other => panic!("seed {}: {text}: {other:?}", self.seed),
        };
        let mut theirs = 0u64;
        for sql in &w.sqlite {
            theirs += self
                .sqlite
                .execute(sql, [])
                .unwrap_or_else(|e| panic!("seed {}: {sql}: {e}", self.seed))
                as u64;
        }
        assert_eq!(
            ours,
            theirs,
            "seed {}: affected rows differ\n fasty:  {text}\n sqlite: {}",
            self.seed,
            w.sqlite.join("; ")
        );
        self.history.push(Step::Statement(text, Some(ours)));
    }

    /// `n` random writes.
    pub fn random_writes(&mut self, rng: &mut StdRng, n: usize) {
        for _ in 0..n {
            let w = generate::rand_write(rng, &self.sqlite, &mut self.moves);
            self.write(&w);
        }
    }

    /// Flushes fasty's memtables to level-0 tables.
    pub fn flush(&mut self) {
        self.fasty.kv().checkpoint().unwrap();
        self.history
            .push(Step::Note("fasty flushed its memtable here".into()));
    }

    /// Merges all of fasty's tables into its deepest level.
    pub fn compact(&mut self) {
        self.fasty.kv().compact().unwrap();
        self.history.push(Step::Note(
            "fasty compacted all its tables into one level here".into(),
        ));
    }

    /// Bytes in fasty's active memtable and the levels holding tables.
    pub fn layout(&self) -> (usize, Vec<usize>) {
        let s = self.fasty.kv().stats().storage;
        let levels = s
            .levels
            .iter()
            .enumerate()
            .filter(|(_, l)| l.files > 0)
            .map(|(i, _)| i)
            .collect();
        (s.memtable_bytes, levels)
    }

    /// How many of fasty's data blocks are columnar.
    pub fn columnar_blocks(&self) -> usize {
        let s = self.fasty.kv().stats().storage;
        s.levels.iter().map(|l| l.columnar_blocks).sum()
    }
}

/// Both systems with the same tables, filled from `seed`, and on fasty's
/// side rows in every place at once: loaded (flushes and compactions
/// running as the memtable fills), compacted into the deepest level, then
/// overwritten by random updates, deletes, inserts and upserts, flushed
/// to level 0, and overwritten again in the memtable. Newer versions in
/// the memtable and upper levels mask older ones (and tombstones
/// deleted rows) below.
pub fn setup(seed: u64, indexes: bool) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let fasty = Database::open(dir.path(), options_for(seed)).unwrap();
    let sqlite = rusqlite::Connection::open_in_memory().unwrap();
    sqlite
        .execute_batch("PRAGMA case_sensitive_like = ON;")
        .unwrap();
    sqlite.execute_batch(SQLITE_DDL).unwrap();
    let mut p = Pair {
        fasty,
        sqlite,
        _dir: dir,
        seed,
        history: Vec::new(),
        moves: 0,
    };
    let mut ddl: Vec<String> = FASTY_DDL.iter().map(|s| s.to_string()).collect();
    if indexes {
        for (i, t, c) in INDEXES {
            ddl.push(format!("create index {i} on {t} ({c})"));
            p.sqlite
                .execute_batch(&format!("CREATE INDEX {i} ON {t} ({c})"))
                .unwrap();
        }
    }
    for d in ddl {
        p.fasty.execute(&d).unwrap();
        p.history.push(Step::Statement(d, None));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    for t in &TABLES {
        for w in generate::load(&mut rng, t) {
            p.write(&w);
        }
    }
    p.compact();
    p.random_writes(&mut rng, 25);
    p.flush();
    p.random_writes(&mut rng, 15);
    // Writes that changed nothing (or a last write that just filled the
    // memtable) could leave a place empty: write on until none is.
    for _ in 0..50 {
        let (memtable, levels) = p.layout();
        if memtable > 0 && levels.len() >= 2 {
            break;
        }
        p.random_writes(&mut rng, 1);
        if p.layout().1.len() < 2 {
            p.flush();
        }
    }
    let (memtable, levels) = p.layout();
    assert!(
        memtable > 0 && levels.len() >= 2 && levels.last() > Some(&1),
        "seed {seed}: the rows should be in the memtable and in two levels or more, the last deeper than 1; memtable {memtable} bytes, tables in levels {levels:?}"
    );
    let blocks = p.columnar_blocks();
    assert_eq!(
        blocks > 0,
        columnar(seed),
        "seed {seed}: {blocks} columnar blocks, but the seed's layout is {}",
        if columnar(seed) { "columnar" } else { "rows" }
    );
    p
}

/// `Database::verify` finds nothing wrong: every index entry has its row
/// and every row its index entries. The report's text otherwise.
pub fn integrity(db: &Database) -> Result<(), String> {
    let report = db
        .verify()
        .map_err(|e| format!("verify failed: {e} ({})", e.code()))?;
    if report.is_clean() {
        return Ok(());
    }
    // The counts, then the first few problems: a broken index can have
    // thousands.
    let mut text = report.to_string();
    if let Some(cut) = text.match_indices('\n').nth(20).map(|(i, _)| i) {
        text.truncate(cut);
        text.push_str("\n  ...");
    }
    Err(text)
}

pub fn assert_integrity(p: &Pair, when: &str) {
    if let Err(e) = integrity(&p.fasty) {
        panic!("seed {}: verify {when}: {e}", p.seed);
    }
}

pub fn fasty_output(p: &Pair, text: &str, opts: ExecOptions) -> (Vec<Column>, Vec<Vec<Value>>) {
    match p.fasty.execute_with(text, opts) {
        Ok(Output::Rows { columns, rows }) => (columns, rows),
        Ok(other) => panic!("seed {}: {text}: expected rows, got {other:?}", p.seed),
        Err(e) => panic!("seed {}: {text}: fasty failed: {e} ({})", p.seed, e.code()),
    }
}

fn sqlite_rows(p: &Pair, sql: &str) -> Vec<Vec<Lite>> {
    let mut stmt = p
        .sqlite
        .prepare(sql)
        .unwrap_or_else(|e| panic!("seed {}: {sql}: {e}", p.seed));
    let n = stmt.column_count();
    let mut out = Vec::new();
    let mut rows = stmt.query([]).unwrap();
    while let Some(r) = rows.next().unwrap() {
        out.push((0..n).map(|i| from_sqlite(r.get_ref(i).unwrap())).collect());
    }
    out
}

/// One query run on both sides: fasty's columns and rows, SQLite's rows
/// (both sorted when the query has no order), and whether they agree.
pub struct Compared {
    pub columns: Vec<Column>,
    pub ours: Vec<Vec<Value>>,
    pub theirs: Vec<Vec<Lite>>,
    pub unordered: bool,
    /// Per column: floats compare with the tolerance.
    pub tolerant: Vec<bool>,
    /// The first row that differs.
    pub differs_at: Option<usize>,
    /// A value of fasty's whose type is not its column's.
    pub type_error: Option<String>,
}

impl Compared {
    pub fn agree(&self) -> bool {
        self.differs_at.is_none() && self.type_error.is_none()
    }

    fn types(&self) -> Vec<Option<ColumnType>> {
        self.columns.iter().map(|c| c.ty).collect()
    }
}

/// Which output columns of `s` compare floats with the tolerance.
pub fn tolerant_columns(s: &Select, n: usize) -> Vec<bool> {
    if s.items.is_empty() {
        return vec![false; n];
    }
    s.items.iter().map(|i| has_sum_or_avg(&i.expr)).collect()
}

pub fn compare(p: &Pair, s: &Select, text: &str, sql: &str) -> Compared {
    let unordered = s.order_by.is_empty();
    let (columns, mut ours) = fasty_output(p, text, ExecOptions::default());
    let mut theirs = sqlite_rows(p, sql);
    let types: Vec<Option<ColumnType>> = columns.iter().map(|c| c.ty).collect();
    if unordered {
        sort_rows_by(&mut ours, fasty_cmp);
        sort_rows_by(&mut theirs, |r| lite_cmp(r, &types));
    }
    let tolerant = tolerant_columns(s, columns.len());
    let a: Vec<_> = ours.iter().map(|r| fasty_cmp(r)).collect();
    let b: Vec<_> = theirs.iter().map(|r| lite_cmp(r, &types)).collect();
    let differs_at = first_difference(&a, &b, &tolerant);
    let type_error = type_error(&columns, &ours);
    Compared {
        columns,
        ours,
        theirs,
        unordered,
        tolerant,
        differs_at,
        type_error,
    }
}

/// Runs `s` on both and panics, naming the replayable case written out,
/// if they differ; also runs it with fasty's access paths switched off,
/// which must give the same rows.
pub fn check_query(p: &Pair, s: &Select) {
    let text = Statement::Select(Box::new(s.clone())).to_string();
    let sql = sql_select(s);
    let c = compare(p, s, &text, &sql);
    if !c.agree() {
        let path = write_case(p.seed, &text, &slt_case(p, &text, &sql, &c));
        let types = c.types();
        let at = c.differs_at.unwrap_or(0);
        let window = at.saturating_sub(2)..at + 3;
        let show = |rows: Vec<Vec<Cmp>>| -> String {
            rows.iter()
                .enumerate()
                .filter(|(i, _)| window.contains(i))
                .map(|(i, r)| format!("\n   {i}: {r:?}"))
                .collect()
        };
        panic!(
            "seed {}: fasty and SQLite differ{}\n fasty:  {text}\n sqlite: {sql}\n fasty rows ({}), from row {}:{}\n sqlite rows ({}), from row {}:{}\n the case, replayable by the slt runner: {}\n replay the seed with FASTY_SEED={}",
            p.seed,
            c.type_error
                .as_ref()
                .map(|e| format!(" (type: {e})"))
                .unwrap_or_default(),
            c.ours.len(),
            window.start,
            show(c.ours.iter().map(|r| fasty_cmp(r)).collect()),
            c.theirs.len(),
            window.start,
            show(c.theirs.iter().map(|r| lite_cmp(r, &types)).collect()),
            path.display(),
            p.seed,
        );
    }
    let (_, mut scanned) = fasty_output(p, &text, ExecOptions::default().with_use_indexes(false));
    if c.unordered {
        sort_rows_by(&mut scanned, fasty_cmp);
    }
    let a: Vec<_> = c.ours.iter().map(|r| fasty_cmp(r)).collect();
    let b: Vec<_> = scanned.iter().map(|r| fasty_cmp(r)).collect();
    if let Some(i) = first_difference(&a, &b, &c.tolerant) {
        panic!(
            "seed {}: index and full-scan plans differ for {text} at row {i}: {:?} vs {:?}",
            p.seed,
            a.get(i),
            b.get(i)
        );
    }
}

/// A SQLite value as the slt runner prints the fasty value it stands for
/// (tests/slt/README.md), under the one mapping of `compare.rs`: an
/// integer 0 or 1 in a bool column is a bool. Nothing else is converted,
/// so a type mismatch stays one in the file.
fn lite_text(v: &Lite, ty: Option<ColumnType>) -> String {
    match super::compare::from_lite(v, ty) {
        Cmp::Null => "NULL".into(),
        Cmp::Bool(b) => slt_db::value_text(&Value::Bool(b)),
        Cmp::Int(i) => slt_db::value_text(&Value::Int(i)),
        Cmp::Float(x) => slt_db::value_text(&Value::Float(x)),
        Cmp::Text(t) => slt_db::value_text(&Value::String(t)),
    }
}

/// The case as a sqllogictest file: the statements that built the
/// database (flushes and compactions as comments: the slt runner replays
/// in memory), then the query with SQLite's rows as the expected result.
/// A number within the comparison's tolerance of fasty's (same row and
/// column) is written as fasty prints it, so the file fails only where
/// the two really differ.
pub fn slt_case(p: &Pair, text: &str, sql: &str, c: &Compared) -> String {
    let mut out = format!(
        "# fasty and SQLite differ on the last query (differential test, seed {}).\n\
         # SQLite ran: {sql}\n\
         # The expected rows are SQLite's.\n",
        p.seed
    );
    for step in &p.history {
        match step {
            Step::Statement(stmt, None) => out.push_str(&format!("\nstatement ok\n{stmt}\n")),
            Step::Statement(stmt, Some(n)) => {
                out.push_str(&format!("\nstatement count {n}\n{stmt}\n"))
            }
            Step::Note(note) => out.push_str(&format!("\n# {note}\n")),
        }
    }
    let letters: String = c
        .columns
        .iter()
        .map(|col| sqllogictest::ColumnType::to_char(&slt_db::column_type(col)))
        .collect();
    let sort = if c.unordered { " rowsort" } else { "" };
    out.push_str(&format!("\nquery {letters}{sort}\n{text}\n----\n"));
    let types = c.types();
    let mut lines: Vec<Vec<String>> = Vec::new();
    for (i, row) in c.theirs.iter().enumerate() {
        let theirs = lite_cmp(row, &types);
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(j, v)| {
                let ours = c.ours.get(i).and_then(|r| r.get(j));
                match ours {
                    Some(o)
                        if matches!(v, Lite::Real(_))
                            && same_value(
                                &super::compare::from_fasty(o),
                                &theirs[j],
                                c.tolerant.get(j).copied().unwrap_or(false),
                            ) =>
                    {
                        slt_db::value_text(o)
                    }
                    _ => lite_text(v, types.get(j).copied().flatten()),
                }
            })
            .collect();
        lines.push(cells);
    }
    if c.unordered {
        // The order `rowsort` compares in: by the printed cells.
        lines.sort_unstable();
    }
    for cells in lines {
        out.push_str(&cells.join(" "));
        out.push('\n');
    }
    out
}

/// Writes a failing case to `<target>/tmp/slt-failures/` and returns its
/// path.
pub fn write_case(seed: u64, text: &str, case: &str) -> std::path::PathBuf {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("slt-failures");
    let path = dir.join(format!("{seed}-{:016x}.slt", h.finish()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&path, case).unwrap();
    path
}
