//! Test helper for `tests/kill.rs` (not a user tool): opens the database in
//! `DIR` in durable mode and writes batches from `THREADS` threads until it
//! is killed, printing `ack <thread> <batch> <seqno>` on stdout after each
//! write is acknowledged.
//!
//! Batch `i` of thread `t` in round `R` puts `b/R/t/i/j` = `R-t-i-j` for
//! `j < 1 + i % 7` and `last/R/t` = `i`, so a reader can tell a whole batch
//! from part of one. Segments and memtables are small so that rotations,
//! flushes and checkpoints happen while it runs.
//!
//! usage: wal-crash-child DIR THREADS ROUND

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

use fasty_wal::{Db, Durability, Options, WriteBatch};

/// The options the test reopens with, too.
fn options() -> Options {
    Options::default()
        .with_durability(Durability::Durable)
        .with_segment_size(64 << 10)
        .with_storage(fasty_storage::Options::default().with_memtable_budget(256 << 10))
}

fn batch(round: u64, t: u64, i: u64) -> WriteBatch {
    let mut b = WriteBatch::new();
    for j in 0..1 + i % 7 {
        b.put(
            format!("b/{round:03}/{t}/{i:08}/{j}"),
            format!("{round}-{t}-{i}-{j}"),
        );
    }
    b.put(format!("last/{round:03}/{t}"), i.to_string());
    b
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(dir), Some(threads), Some(round)) = (
        args.get(1),
        args.get(2).and_then(|s| s.parse::<u64>().ok()),
        args.get(3).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: wal-crash-child DIR THREADS ROUND");
        return ExitCode::from(2);
    };
    let db = match Db::open(dir, options()) {
        Ok(db) => Arc::new(db),
        Err(e) => {
            eprintln!("wal-crash-child: open failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || -> Result<(), String> {
                for i in 0.. {
                    let seqno = db.write(batch(round, t, i)).map_err(|e| e.to_string())?;
                    let mut out = std::io::stdout().lock();
                    writeln!(out, "ack {t} {i} {seqno}").map_err(|e| e.to_string())?;
                    out.flush().map_err(|e| e.to_string())?;
                    if t == 0 && i % 300 == 299 {
                        db.checkpoint().map_err(|e| e.to_string())?;
                    }
                }
                Ok(())
            })
        })
        .collect();
    for w in workers {
        match w.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("wal-crash-child: {e}");
                return ExitCode::FAILURE;
            }
            Err(_) => return ExitCode::FAILURE,
        }
    }
    ExitCode::SUCCESS
}
