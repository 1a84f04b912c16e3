//! A statement's limits and its streamed result: a deadline, a cancel
//! flag and a memory limit stop every long operator (scans, joins, sorts,
//! aggregation, the collected result, `update` and `delete`, which then
//! write nothing), and `run_into` hands a query's rows to a sink in
//! bounded chunks as they are produced.
//!
//! No assertion depends on timing: a deadline is set to "now", so any
//! check of it fails; a cancel flag is set by another thread while the
//! statement waits for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use fasty_query::{
    Column, Database, Error, ErrorCode, ExecOptions, InsertMode, Options, Output, RowSink,
    Streamed, Value,
};

/// Rows per table: several check intervals, and large enough for the
/// parallel scan to split into many ranges.
const N: i64 = 20_000;

/// A memory-mode database with tables `t` and `u`, `n` rows each: ids
/// `0, 3, 6, …`, `k = i % 7`, a constant `c = 1`, and a string `s`.
fn db_with(n: i64, s_len: usize) -> Database {
    let db = Database::open("/nonexistent/never-created", Options::memory()).unwrap();
    for t in ["t", "u"] {
        db.execute(&format!(
            "create table {t} {{ id: int, k: int, c: int, s: string }}"
        ))
        .unwrap();
        let rows = (0..n).map(|i| {
            vec![
                ("id", Value::Int(i * 3)),
                ("k", Value::Int(i % 7)),
                ("c", Value::Int(1)),
                ("s", Value::String(format!("{i:0>width$}", width = s_len))),
            ]
        });
        db.insert_rows(t, rows, InsertMode::Insert).unwrap();
    }
    db
}

fn db() -> Database {
    db_with(N, 8)
}

fn past_deadline() -> ExecOptions {
    ExecOptions::default().with_deadline(Some(Instant::now()))
}

fn memory(bytes: usize) -> ExecOptions {
    ExecOptions::default().with_memory_limit(Some(bytes))
}

fn err(db: &Database, q: &str, opts: ExecOptions) -> Error {
    match db.execute_with(q, opts) {
        Err(e) => e,
        Ok(o) => panic!("{q}: expected an error, got {}", describe(&o)),
    }
}

fn describe(o: &Output) -> String {
    match o {
        Output::Rows { rows, .. } => format!("{} rows", rows.len()),
        other => format!("{other:?}"),
    }
}

fn count(db: &Database, q: &str) -> i64 {
    match db.execute(q) {
        Ok(Output::Rows { rows, .. }) => match rows[..] {
            [ref r] => match r[..] {
                [Value::Int(n)] => n,
                _ => panic!("{q}: {r:?}"),
            },
            _ => panic!("{q}: {} rows", rows.len()),
        },
        other => panic!("{q}: {other:?}"),
    }
}

/// Counts what it is given; fails once it has more than `fail_after`
/// rows.
#[derive(Default)]
struct Counter {
    columns: Option<Vec<Column>>,
    rows: u64,
    chunks: u64,
    largest: usize,
    ids: Vec<i64>,
    fail_after: Option<u64>,
}

impl RowSink for Counter {
    fn columns(&mut self, columns: &[Column]) -> fasty_query::Result<()> {
        assert!(self.columns.is_none(), "columns sent twice");
        self.columns = Some(columns.to_vec());
        Ok(())
    }

    fn rows(&mut self, rows: Vec<Vec<Value>>) -> fasty_query::Result<()> {
        assert!(self.columns.is_some(), "rows before columns");
        assert!(!rows.is_empty(), "an empty chunk");
        self.chunks += 1;
        self.largest = self.largest.max(rows.len());
        self.rows += rows.len() as u64;
        self.ids.extend(rows.iter().map(|r| match r[0] {
            Value::Int(i) => i,
            ref v => panic!("id {v:?}"),
        }));
        if self.fail_after.is_some_and(|n| self.rows > n) {
            return Err(Error::Query {
                code: ErrorCode::Cancelled,
                message: "the client went away".into(),
                hint: None,
            });
        }
        Ok(())
    }
}

fn stream(db: &Database, q: &str, opts: ExecOptions, sink: &mut Counter) -> Result<u64, Error> {
    match db.execute_into(q, opts, sink)? {
        Streamed::Rows(n) => Ok(n),
        Streamed::Other(o) => panic!("{q}: not a query: {o:?}"),
    }
}

#[test]
fn a_past_deadline_stops_every_long_operator() {
    let db = db();
    db.execute("create index t_k on t (k)").unwrap();
    let queries = [
        // full scan (parallel), filter rejecting everything
        "select * from t where s = 'none'",
        // primary-key range scan
        "select id from t where id > 3 and s = 'none'",
        // index range scan
        "select id from t where k >= 0 and s = 'none'",
        // hash join
        "select count(*) from t join u on t.c = u.c",
        // lookup join on the primary key
        "select count(*) from t join u on t.id = u.id",
        // lookup join through an index
        "select count(*) from u join t on u.k = t.k",
        // sort and top-k
        "select * from t order by s desc",
        "select * from t order by s desc limit 10",
        // aggregation with and without groups
        "select k, count(*), max(s) from t group by k",
        "select sum(id) from t",
    ];
    for q in queries {
        let e = err(&db, q, past_deadline());
        assert_eq!(e.code(), ErrorCode::StatementTimeout, "{q}: {e}");
        assert!(e.message().contains("time limit"), "{q}: {e}");
        let opts = past_deadline().with_use_indexes(false);
        assert_eq!(err(&db, q, opts).code(), ErrorCode::StatementTimeout, "{q}");
        let e = stream(&db, q, past_deadline(), &mut Counter::default()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::StatementTimeout, "{q} streamed");
    }
}

#[test]
fn writes_stopped_by_a_limit_change_nothing() {
    let db = db();
    db.execute("create index t_k on t (k)").unwrap();
    let writes = [
        "update t set k = 99",
        "update t set id = id + 1000000 where k < 5",
        "delete from t",
        "delete from t where k > 2",
    ];
    let cancelled = ExecOptions::default().with_cancel(Some(Arc::new(AtomicBool::new(true))));
    for w in writes {
        for (opts, code) in [
            (past_deadline(), ErrorCode::StatementTimeout),
            (cancelled.clone(), ErrorCode::Cancelled),
            (memory(256 << 10), ErrorCode::MemoryLimit),
        ] {
            assert_eq!(err(&db, w, opts).code(), code, "{w}");
            assert_eq!(count(&db, "select count(*) from t"), N, "{w}");
            assert_eq!(count(&db, "select count(*) from t where k = 99"), 0, "{w}");
            assert_eq!(count(&db, "select count(*) from t where id >= 1000000"), 0);
            // The index still matches the rows.
            assert_eq!(count(&db, "select count(*) from t where k = 3"), N / 7);
        }
    }
    // Without limits they do change the table.
    assert!(matches!(
        db.execute("update t set k = 99 where k = 3"),
        Ok(Output::Affected(n)) if n == (N / 7) as u64
    ));
}

#[test]
fn an_index_build_stopped_by_a_limit_leaves_no_index() {
    let db = db();
    let q = "create index t_s on t (s)";
    assert_eq!(
        err(&db, q, past_deadline()).code(),
        ErrorCode::StatementTimeout
    );
    assert_eq!(err(&db, q, memory(64 << 10)).code(), ErrorCode::MemoryLimit);
    let e = db.execute("drop index t_s").unwrap_err();
    assert_eq!(e.code(), ErrorCode::UnknownIndex);
    assert_eq!(db.execute(q).unwrap(), Output::Ok);
    assert_eq!(count(&db, "select count(*) from t where s = '00000042'"), 1);
}

#[test]
fn a_constant_key_join_stops_at_the_memory_limit() {
    let db = db_with(600, 8);
    // 360 000 rows of about three hundred bytes: a hundred megabytes if
    // collected whole.
    let q = "select * from t join u on t.c = u.c";
    let e = err(&db, q, memory(8 << 20));
    assert_eq!(e.code(), ErrorCode::MemoryLimit, "{e}");
    assert!(
        e.message()
            .contains("more than 8 MiB of memory (memory limit)"),
        "{e}"
    );
    // The build side of a hash join counts too: no result rows here (and
    // the build keeps only its 600 keys and their chains, about 13 KiB).
    let q = "select count(*) from t join u on t.k = u.k";
    assert_eq!(err(&db, q, memory(4 << 10)).code(), ErrorCode::MemoryLimit);
    let pairs: i64 = (0..7)
        .map(|k| (0..600).filter(|i| i % 7 == k).count() as i64)
        .map(|n| n * n)
        .sum();
    assert_eq!(count(&db, q), pairs);
}

#[test]
fn sorts_and_groups_count_against_the_memory_limit() {
    let db = db();
    let opts = memory(1 << 20);
    for q in [
        "select * from t order by s",
        "select id, count(*) from t group by id",
        "select s, min(id) from t group by s order by s desc",
    ] {
        let e = stream(&db, q, opts.clone(), &mut Counter::default()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::MemoryLimit, "{q}: {e}");
    }
    // A sort buffer handed on to a collected result counts once, not
    // twice (about 6 MB of sort buffer becoming 3 MB of result here).
    let q = "select * from t order by s";
    match db.execute_with(q, memory(8 << 20)) {
        Ok(Output::Rows { rows, .. }) => assert_eq!(rows.len() as i64, N),
        other => panic!("{q}: {:?}", other.map(|o| describe(&o))),
    }
    // A top-k holds only its k rows.
    let mut sink = Counter::default();
    let n = stream(
        &db,
        "select * from t order by s desc limit 5",
        opts,
        &mut sink,
    )
    .unwrap();
    assert_eq!(n, 5);
    assert_eq!(sink.ids, [59_997, 59_994, 59_991, 59_988, 59_985]);
}

#[test]
fn a_streamed_scan_holds_a_bounded_amount() {
    // 20 000 rows of 2 KB: 40 MB if held whole.
    let db = db_with(N, 2_000);
    let limit = 24 << 20;
    let e = err(&db, "select * from t", memory(limit));
    assert_eq!(e.code(), ErrorCode::MemoryLimit, "collected whole: {e}");
    // The parallel scan's key ranges outgrow their buffers here and are
    // finished by streaming scans: every row still comes once, in order.
    for (q, skip) in [
        ("select * from t", 0),
        ("select id, s from t where k <> 3", 0),
        ("select id, s from t where k <> 3 offset 9000", 9000),
    ] {
        let mut sink = Counter::default();
        let n = stream(&db, q, memory(limit), &mut sink).unwrap();
        assert_eq!(n, sink.rows, "{q}");
        assert!(sink.largest <= 1024, "{q}: a chunk of {}", sink.largest);
        let want: Vec<i64> = (0..N)
            .filter(|i| !q.contains("k <> 3") || i % 7 != 3)
            .map(|i| i * 3)
            .skip(skip)
            .collect();
        assert_eq!(sink.ids, want, "{q}");
    }
}

#[test]
fn streamed_rows_match_collected_rows() {
    let db = db();
    db.execute("create index u_k on u (k)").unwrap();
    let queries = [
        // the point-read fast path through an index: 2857 rows
        "find u where k = 3",
        "select * from u where k = 5 limit 1500",
        "select * from t",
        "select id, s from t where k = 2",
        "select id from t offset 12345",
        "select id from t where k <> 1 offset 777",
        "select id from t limit 3000 offset 5000",
        "select id from t where id > 30000 limit 2500",
        "select id from t order by k, id desc offset 10",
        "select k, count(*) from t group by k",
        "select t.id from t join u on t.id = u.id where t.k = 4",
        "select id from t limit 0",
    ];
    // Limits far from reached change no answer (they switch on the
    // memory estimates and bound the parallel scan's buffers).
    let generous = ExecOptions::default()
        .with_deadline(Some(Instant::now() + std::time::Duration::from_secs(3600)))
        .with_memory_limit(Some(1 << 30))
        .with_cancel(Some(Arc::new(AtomicBool::new(false))));
    for q in queries {
        let Ok(Output::Rows { columns, rows }) = db.execute(q) else {
            panic!("{q}");
        };
        match db.execute_with(q, generous.clone()) {
            Ok(Output::Rows { rows: limited, .. }) => assert!(limited == rows, "{q}"),
            other => panic!("{q}: {:?}", other.map(|o| describe(&o))),
        }
        for opts in [ExecOptions::default(), generous.clone()] {
            let mut sink = Counter::default();
            let n = stream(&db, q, opts, &mut sink).unwrap();
            assert_eq!(sink.columns.as_ref(), Some(&columns), "{q}");
            assert_eq!(n as usize, rows.len(), "{q}");
            let ids: Vec<i64> = rows
                .iter()
                .map(|r| match r[0] {
                    Value::Int(i) => i,
                    _ => panic!(),
                })
                .collect();
            assert_eq!(sink.ids, ids, "{q}");
            assert!(sink.largest <= 1024, "{q}");
        }
    }
    // Unsorted rows come in primary-key order, every one once.
    let mut sink = Counter::default();
    stream(
        &db,
        "select id from t offset 12345",
        ExecOptions::default(),
        &mut sink,
    )
    .unwrap();
    assert_eq!(sink.ids, (12_345..N).map(|i| i * 3).collect::<Vec<_>>());
    // A point read streams too; other statements do not call the sink.
    let mut sink = Counter::default();
    assert_eq!(
        stream(
            &db,
            "find t where id = 9",
            ExecOptions::default(),
            &mut sink
        )
        .unwrap(),
        1
    );
    assert_eq!(sink.ids, [9]);
    let mut sink = Counter::default();
    let out = db
        .execute_into(
            "delete from t where id = 9",
            ExecOptions::default(),
            &mut sink,
        )
        .unwrap();
    assert_eq!(out, Streamed::Other(Output::Affected(1)));
    assert!(sink.columns.is_none() && sink.chunks == 0);
}

#[test]
fn a_failing_sink_stops_the_statement() {
    let fails = |db: &Database, q: &str, opts: ExecOptions| {
        let mut sink = Counter {
            fail_after: Some(2_000),
            ..Counter::default()
        };
        let e = stream(db, q, opts, &mut sink).unwrap_err();
        assert_eq!(e.message(), "the client went away", "{q}");
        // The chunk that failed was the last one asked for.
        assert!(
            sink.rows > 2_000 && sink.rows <= 2_000 + 1024,
            "{q}: {}",
            sink.rows
        );
    };
    // 40 MB of rows: had the scan run to the end before the sink saw a
    // row, the memory limit would have stopped it first.
    let wide = db_with(N, 2_000);
    for q in ["select * from t", "select id, s from t where k <> 0"] {
        fails(&wide, q, memory(24 << 20));
    }
    let db = db_with(3_000, 8);
    for q in [
        "select * from t order by s",
        "select t.id from t join u on t.id = u.id",
    ] {
        fails(&db, q, ExecOptions::default());
    }
}

/// Waits, on the statement's thread, for another thread to set the
/// cancel flag after the first chunk.
struct Handshake {
    started: mpsc::Sender<()>,
    flagged: mpsc::Receiver<()>,
    rows: u64,
}

impl RowSink for Handshake {
    fn columns(&mut self, _: &[Column]) -> fasty_query::Result<()> {
        Ok(())
    }

    fn rows(&mut self, rows: Vec<Vec<Value>>) -> fasty_query::Result<()> {
        if self.rows == 0 {
            self.started.send(()).unwrap();
            self.flagged.recv().unwrap();
        }
        self.rows += rows.len() as u64;
        Ok(())
    }
}

#[test]
fn a_cancel_flag_set_by_another_thread_stops_the_statement() {
    let db = db_with(3_000, 8);
    let flag = Arc::new(AtomicBool::new(false));
    let (started_tx, started_rx) = mpsc::channel();
    let (flagged_tx, flagged_rx) = mpsc::channel();
    let canceller = {
        let flag = flag.clone();
        std::thread::spawn(move || {
            started_rx.recv().unwrap();
            flag.store(true, Ordering::Relaxed);
            flagged_tx.send(()).unwrap();
        })
    };
    let mut sink = Handshake {
        started: started_tx,
        flagged: flagged_rx,
        rows: 0,
    };
    let opts = ExecOptions::default().with_cancel(Some(flag));
    // Nine million rows: the statement is still running when the flag is
    // set, whatever the machine's speed.
    let stmt = fasty_query::parse("select t.id, u.id from t join u on t.c = u.c").unwrap();
    let e = db.run_into(&stmt, opts, &mut sink).unwrap_err();
    canceller.join().unwrap();
    assert_eq!(e.code(), ErrorCode::Cancelled, "{e}");
    assert!(sink.rows < 9_000_000);
    // A flag set before the statement stops it at its first check, in
    // operators that send nothing until they are done.
    let opts = ExecOptions::default().with_cancel(Some(Arc::new(AtomicBool::new(true))));
    for q in [
        "select count(*) from t join u on t.c = u.c",
        "select * from t order by s",
    ] {
        assert_eq!(
            err(&db, q, opts.clone()).code(),
            ErrorCode::Cancelled,
            "{q}"
        );
    }
}
