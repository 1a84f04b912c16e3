//! `fasty admin`: stats, checkpoint, compact, verify and repair of a data
//! directory (stats of a server too), and file-level backup and restore.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use fasty_query::{Database, Options};

use crate::Result;
use crate::client::Client;
use crate::target::TargetArgs;

/// `fasty admin --help`: what it does, with examples.
pub const LONG_ABOUT: &str = "Administration of a data directory (or a server's stats).

stats, checkpoint, compact and backup work on a data directory (opened
embedded, so not while a server holds it) or on a running server with
--server URL (GET /stats, POST /admin/checkpoint, /admin/compact,
/admin/backup). verify reads the log and the table files, then opens the
database to check every index against its table; repair rebuilds a lost
manifest and cuts a corrupt log so that the database opens again; restore
copies a backup into an empty directory.
None of them creates a missing data directory.

Examples:
  fasty admin stats --server http://127.0.0.1:8000
  fasty admin checkpoint --data-dir ./data
  fasty admin checkpoint --server http://127.0.0.1:8000
  fasty admin verify --data-dir ./data
  fasty admin backup /backups/monday --data-dir ./data
  fasty admin restore /backups/monday --data-dir ./data-restored";

/// Administration: stats, checkpoint, compact, verify, repair, backup,
/// restore.
#[derive(Args, Debug)]
pub struct AdminArgs {
    #[command(subcommand)]
    command: AdminCommand,
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Report on the database: tables and rows, log, storage, cache.
    #[command(
        long_about = "Report on the database: tables and rows, log, storage, cache.

Example:
  fasty admin stats --data-dir ./data
  fasty admin stats --server http://127.0.0.1:8000 --json"
    )]
    Stats {
        #[command(flatten)]
        target: TargetArgs,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Flush memory to tables and delete the log segments that made
    /// redundant.
    #[command(
        long_about = "Flush memory to tables and delete the log segments that made redundant.

Examples:
  fasty admin checkpoint --data-dir ./data
  fasty admin checkpoint --server http://127.0.0.1:8000"
    )]
    Checkpoint {
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Checkpoint, then merge every table into one sorted level.
    #[command(
        long_about = "Checkpoint, then merge every table into one sorted level,
dropping overwritten versions and deleted rows.

Examples:
  fasty admin compact --data-dir ./data
  fasty admin compact --server http://127.0.0.1:8000"
    )]
    Compact {
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Check the log, the table files, and every index against its table.
    #[command(
        long_about = "Check the write-ahead log and every block of the table files, then
open the database and check every row and every secondary index against its
table both ways (no missing, stale, duplicate or dangling entry). Lists each
problem; exits 1 if any but a torn log tail is found. The row and index
check runs on a scratch copy beside the data directory (tables hard-linked),
so nothing is changed and a server may be running on it.

Example:
  fasty admin verify --data-dir ./data"
    )]
    Verify {
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Cut the log at its first bad record so that the database opens.
    #[command(
        long_about = "Cut the log at its first bad record so that the database opens
again. The bytes removed are kept next to the log (*.corrupt-tail,
*.corrupt). A lost or unreadable MANIFEST is first rebuilt from the table
files; damaged tables are moved into lost+found. The database must not be
open elsewhere.

Example:
  fasty admin repair --data-dir ./data"
    )]
    Repair {
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Copy a consistent image of the data directory to DEST, even while a
    /// server runs on it.
    #[command(
        long_about = "Copy a consistent image of the data directory to DEST (which
must be empty or missing), even while a server runs on it: the tables the
manifest lists and the log after them, manifest last. In async mode the image
holds what a crash at that moment would keep. With --server the server
writes the copy (POST /admin/backup), so DEST is a path on the server's
machine; a relative DEST is made absolute against the current directory.

Examples:
  fasty admin backup /backups/monday --data-dir ./data
  fasty admin backup /backups/monday --server http://127.0.0.1:8000"
    )]
    Backup {
        /// Where the backup goes (empty or missing).
        dest: PathBuf,
        #[command(flatten)]
        target: TargetArgs,
    },
    /// Copy a backup into an empty (or missing) data directory.
    #[command(long_about = "Copy a backup into an empty (or missing) data directory;
a non-empty one is refused.

Example:
  fasty admin restore /backups/monday --data-dir ./data")]
    Restore {
        /// The backup.
        src: PathBuf,
        /// The data directory to restore into.
        #[arg(long, value_name = "DIR", default_value = "./data")]
        data_dir: PathBuf,
    },
}

/// Runs the command.
pub fn run(args: AdminArgs) -> Result<()> {
    match args.command {
        AdminCommand::Stats { target, json } => stats(&target, json),
        AdminCommand::Checkpoint { target } => {
            if let Some(c) = client(&target)? {
                crate::target::remote_post(&c, "/admin/checkpoint", &serde_json::json!({}))?;
                outln!("checkpoint done on the server at {}", c.base());
                return Ok(());
            }
            let db = open(&target, "checkpoint")?;
            db.kv().checkpoint()?;
            let s = db.kv().stats();
            db.close()?;
            outln!(
                "checkpoint done: flushed up to sequence number {}, {} log segment(s) left",
                s.storage.flushed_seqno,
                s.log_segments
            );
            Ok(())
        }
        AdminCommand::Compact { target } => {
            if let Some(c) = client(&target)? {
                crate::target::remote_post(&c, "/admin/compact", &serde_json::json!({}))?;
                outln!("compaction done on the server at {}", c.base());
                return Ok(());
            }
            let db = open(&target, "compact")?;
            db.kv().compact()?;
            let files: usize = db.kv().stats().storage.levels.iter().map(|l| l.files).sum();
            db.close()?;
            outln!("compaction done: {files} table file(s)");
            Ok(())
        }
        AdminCommand::Verify { target } => {
            let dir = data_dir(&target, "verify")?;
            let report = fasty_wal::verify(dir)?;
            outln!(
                "log: {} segment(s), {} record(s), {} byte(s), last sequence number {}",
                report.segments,
                report.records,
                report.bytes,
                report
                    .last_seqno
                    .map_or_else(|| "none".to_string(), |s| s.to_string())
            );
            for p in &report.problems {
                outln!("{p}");
            }
            if report.blocks_open() {
                return Err(
                    "the log is corrupt and the database will not open: run `fasty admin repair`"
                        .into(),
                );
            }
            verify_rows_and_indexes(dir)?;
            if report.is_clean() {
                outln!("ok");
            } else {
                outln!("ok: the torn tail is truncated when the database opens");
            }
            Ok(())
        }
        AdminCommand::Repair { target } => {
            let dir = data_dir(&target, "repair")?;
            let report = fasty_wal::repair(dir)?;
            if report.manifest.rebuilt {
                outln!("{}", report.manifest);
            }
            match &report.cut_at {
                None => outln!("the log is intact: nothing to cut"),
                Some(p) => {
                    outln!("cut the log at {p}");
                    for s in &report.saved {
                        outln!("removed bytes saved in {}", s.display());
                    }
                }
            }
            Ok(())
        }
        AdminCommand::Backup { dest, target } => {
            if let Some(c) = client(&target)? {
                let dest = std::path::absolute(&dest)
                    .map_err(|e| format!("cannot resolve {}: {e}", dest.display()))?;
                let dir = dest
                    .to_str()
                    .ok_or_else(|| format!("{} is not valid utf-8", dest.display()))?;
                let data = crate::target::remote_post(
                    &c,
                    "/admin/backup",
                    &serde_json::json!({ "dir": dir }),
                )?;
                outln!(
                    "backup of the server at {} in {}: {} file(s), {} byte(s)",
                    c.base(),
                    dest.display(),
                    crate::table::cell(&data["files"]),
                    crate::table::cell(&data["bytes"])
                );
                return Ok(());
            }
            let data_dir = &target.data_dir;
            crate::target::require_dir(data_dir)?;
            let report = fasty_wal::backup(data_dir, &dest)?;
            outln!(
                "backup of {} in {}: {} table file(s), {} log segment(s), {} byte(s)",
                data_dir.display(),
                dest.display(),
                report.tables,
                report.segments,
                report.bytes
            );
            Ok(())
        }
        AdminCommand::Restore { src, data_dir } => {
            let n = restore(&src, &data_dir)?;
            outln!(
                "restored {} into {} ({n} file(s))",
                src.display(),
                data_dir.display()
            );
            Ok(())
        }
    }
}

/// The client of `--server URL`, checked with `GET /health`, or `None`
/// for a data directory.
fn client(target: &TargetArgs) -> Result<Option<Client>> {
    let Some(url) = &target.server else {
        return Ok(None);
    };
    let c = Client::new(url, target.auth_token.clone())?;
    crate::target::Target::Remote(c.clone()).check()?;
    Ok(Some(c))
}

/// The data directory of a command that has no HTTP route.
fn data_dir<'a>(target: &'a TargetArgs, what: &str) -> Result<&'a Path> {
    if let Some(url) = &target.server {
        return Err(format!(
            "admin {what} works on a data directory only (the HTTP API has no route for it): \
             run it with --data-dir on the machine of the server at {url}"
        )
        .into());
    }
    crate::target::require_dir(&target.data_dir)?;
    Ok(&target.data_dir)
}

fn open(target: &TargetArgs, what: &str) -> Result<Database> {
    let dir = data_dir(target, what)?;
    if !dir.join("MANIFEST").exists() {
        return Err(format!("{} holds no database", dir.display()).into());
    }
    Database::open(dir, Options::default())
        .map_err(|e| crate::target::open_error(dir, &e.to_string()))
}

/// The second half of `admin verify`, once the files check out: checks
/// every row and every index entry against its table both ways. It runs on
/// a consistent copy (tables hard-linked, as `admin backup` makes it,
/// beside the data directory and removed afterwards), so the data
/// directory is not changed and may be in use by a server.
fn verify_rows_and_indexes(dir: &Path) -> Result<()> {
    if !dir.join("MANIFEST").exists() {
        return Ok(());
    }
    let parent = match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".fasty-verify-")
        .tempdir_in(parent)
        .map_err(|e| format!("cannot make a scratch copy in {}: {e}", parent.display()))?;
    let copy = tmp.path().join("data");
    fasty_wal::backup(dir, &copy)?;
    let db = Database::open(&copy, Options::default())
        .map_err(|e| crate::target::open_error(dir, &e.to_string()))?;
    let report = db.verify();
    db.close()?;
    let report = report?;
    outln!("rows and indexes: {report}");
    if report.is_clean() {
        return Ok(());
    }
    for p in &report.problems {
        outln!("{p}");
    }
    Err(format!(
        "{} row or index problem(s): the indexes do not agree with their tables",
        report.problems.len()
    )
    .into())
}

fn stats(target: &TargetArgs, json: bool) -> Result<()> {
    let value = match &target.server {
        Some(url) => {
            let c = Client::new(url, target.auth_token.clone())?;
            crate::target::remote_stats(&c)?
        }
        None => {
            let db = open(target, "stats")?;
            let v = local_stats(&db);
            db.close()?;
            v
        }
    };
    if json {
        outln!("{value}");
    } else {
        print_tree(&value, 0);
    }
    Ok(())
}

fn local_stats(db: &Database) -> serde_json::Value {
    let mut tables = serde_json::Map::new();
    for t in db.tables() {
        let rows = match db.execute(&format!("select count(*) from {t}")) {
            Ok(fasty_query::Output::Rows { rows, .. }) => rows
                .first()
                .and_then(|r| r.first())
                .map_or(serde_json::Value::Null, fasty_query::Value::to_json),
            _ => serde_json::Value::Null,
        };
        let indexes = db.schema(&t).map(|(_, i)| i).unwrap_or_default();
        tables.insert(t, serde_json::json!({ "rows": rows, "indexes": indexes }));
    }
    let s = db.kv().stats();
    let st = &s.storage;
    let levels: Vec<serde_json::Value> = st
        .levels
        .iter()
        .map(|l| serde_json::json!({ "files": l.files, "bytes": l.bytes }))
        .collect();
    serde_json::json!({
        "tables": tables,
        "wal": {
            "durability": s.durability,
            "last_seqno": s.last_seqno,
            "durable_seqno": s.durable_seqno,
            "segments": s.log_segments,
            "replayed_records": s.replay.records,
            "poisoned": s.poisoned,
        },
        "storage": {
            "io_backend": st.io_backend,
            "flushed_seqno": st.flushed_seqno,
            "memtable_bytes": st.memtable_bytes,
            "frozen_memtables": st.frozen_memtables,
            "levels": levels,
            "flushes": st.flushes,
            "compactions": st.compactions,
            "write_stalls": st.write_stalls,
        },
        "cache": {
            "bytes": st.cache_bytes,
            "hits": st.cache_hits,
            "misses": st.cache_misses,
        },
    })
}

/// Nested JSON as indented `key: value` lines.
fn print_tree(v: &serde_json::Value, depth: usize) {
    let pad = "  ".repeat(depth);
    match v {
        serde_json::Value::Object(o) => {
            for (k, v) in o {
                if v.is_object() {
                    outln!("{pad}{k}:");
                    print_tree(v, depth + 1);
                } else {
                    outln!("{pad}{k}: {}", crate::table::cell(v));
                }
            }
        }
        other => outln!("{pad}{}", crate::table::cell(other)),
    }
}

/// Copies the backup `src` into `dest`, which must be empty or missing.
fn restore(src: &Path, dest: &Path) -> Result<usize> {
    if !src.join("MANIFEST").is_file() {
        return Err(format!("{} is not a backup (it has no MANIFEST)", src.display()).into());
    }
    if dest.exists() {
        let mut entries =
            std::fs::read_dir(dest).map_err(|e| format!("cannot read {}: {e}", dest.display()))?;
        if entries.next().is_some() {
            return Err(format!(
                "refusing to restore into {}: it is not empty",
                dest.display()
            )
            .into());
        }
    }
    Ok(fasty_wal::restore(src, dest)?)
}
