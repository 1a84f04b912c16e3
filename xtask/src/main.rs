//! `cargo xtask <task>`: orchestration for fasty's developers and CI.
//!
//! - `ci` runs exactly what CI runs (`.ci/run`: fmt, clippy, tests).
//! - `bench [--quick | --full] [--systems LIST] [--out DIR] …` runs the
//!   compare suite (every workload against fasty, PostgreSQL, SQLite and
//!   DuckDB in one run) in a release build with the peers it needs,
//!   installing PostgreSQL 15 from Debian's packages when it is missing.
//! - `bench storage|wal|query|http …` runs one layer's benchmark.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci                 run exactly what CI runs (.ci/run: fmt, clippy, tests)
  bench [--quick | --full] [--systems LIST] [--out DIR] [OPTIONS...]
                     every workload against every system in one run, with
                     a report (report.json, report.md, ratios.svg) in
                     target/bench/ by default; --quick finishes in minutes.
                     Systems: fasty, fasty-durable, fasty-memory,
                     fasty-embedded, postgres, postgres-nosync,
                     postgres-copy, sqlite, sqlite-full, duckdb (default:
                     all). PostgreSQL 15 is installed with apt-get when
                     missing; DuckDB is compiled from source on first use
                     (about 20 minutes on 2 cores). OPTIONS go to
                     `fasty-bench compare` (see `cargo xtask bench --help`).
  bench storage|wal|query|http [ARGS...]
                     one layer's benchmark (fasty-bench's subcommands)
  help               show this text";

/// The single-layer benchmarks, passed through to fasty-bench as they are.
const LAYERS: &[&str] = &["storage", "wal", "query", "http"];

/// Where Debian's PostgreSQL 15 keeps its server programs.
const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let status = match args.first().map(String::as_str) {
        Some("ci") => Command::new("bash")
            .arg(root.join(".ci/run"))
            .current_dir(&root)
            .status(),
        Some("bench") => match bench(&root, &args[1..]) {
            Ok(cmd) => cmd,
            Err(e) => {
                eprintln!("xtask: {e}");
                return ExitCode::FAILURE;
            }
        },
        Some("help" | "-h" | "--help") => {
            // A closed stdout (`| head`) is not an error worth a panic.
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => {
            eprintln!("unknown task {:?}\n\n{USAGE}", other.unwrap_or(""));
            return ExitCode::from(2);
        }
    };
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(u8::try_from(s.code().unwrap_or(1)).unwrap_or(1)),
        Err(e) => {
            eprintln!("xtask: could not start the task: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `fasty-bench` in release mode: a layer's benchmark, or the
/// compare suite with the features its systems need.
fn bench(
    root: &Path,
    args: &[String],
) -> Result<std::io::Result<std::process::ExitStatus>, String> {
    let cargo = |features: &str, rest: &[String]| {
        Command::new(env!("CARGO"))
            .args([
                "run",
                "--release",
                "-p",
                "fasty-bench",
                "--features",
                features,
                "--",
            ])
            .args(rest)
            .current_dir(root)
            .status()
    };
    if args.first().is_some_and(|a| LAYERS.contains(&a.as_str())) {
        return Ok(cargo("fjall,sqlite", args));
    }
    let wants = |system: &str| match option(args, "--systems") {
        Some(list) => list.split(',').any(|s| s.trim() == system),
        None => true,
    };
    let help = args.iter().any(|a| a == "-h" || a == "--help");
    let mut features = String::from("sqlite,postgres");
    if wants("duckdb") && !help {
        features += ",duckdb";
        eprintln!(
            "xtask: DuckDB is compiled from source (the duckdb crate's `bundled` feature) \
             the first time: about 20 minutes on 2 cores; leave it out with --systems"
        );
    }
    let pg_wanted = ["postgres", "postgres-nosync", "postgres-copy"]
        .iter()
        .any(|s| wants(s));
    if pg_wanted && !help {
        let pg_bin = option(args, "--pg-bin").unwrap_or_else(|| PG_BIN.to_string());
        ensure_postgres(Path::new(&pg_bin))?;
    }
    let mut rest = vec!["compare".to_string()];
    rest.extend(args.iter().cloned());
    Ok(cargo(&features, &rest))
}

/// The value of `--name VALUE` or `--name=VALUE` in `args`.
fn option(args: &[String], name: &str) -> Option<String> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == name {
            return it.next().cloned();
        }
        if let Some(v) = a.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(v.to_string());
        }
    }
    None
}

/// Installs Debian's `postgresql-15` when `pg_bin` has no `initdb`.
fn ensure_postgres(pg_bin: &Path) -> Result<(), String> {
    if pg_bin.join("initdb").exists() {
        return Ok(());
    }
    eprintln!(
        "xtask: PostgreSQL 15 not found in {}; installing Debian's postgresql-15",
        pg_bin.display()
    );
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let apt = |args: &[&str]| {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .map_err(|e| format!("could not run apt-get: {e}"))
    };
    let install = ["install", "-y", "--no-install-recommends", "postgresql-15"];
    if !apt(&install)?.success() {
        // A fresh machine may have no package lists yet.
        if !apt(&["update"])?.success() || !apt(&install)?.success() {
            return Err("installing postgresql-15 with apt-get failed".into());
        }
    }
    if pg_bin.join("initdb").exists() {
        Ok(())
    } else {
        Err(format!(
            "postgresql-15 is installed but {} has no initdb; pass --pg-bin DIR",
            pg_bin.display()
        ))
    }
}

/// The workspace root: the parent of this crate's folder.
fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}
