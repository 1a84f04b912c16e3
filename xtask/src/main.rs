//! `cargo xtask <task>`: orchestration for fasty's developers and CI.
//!
//! - `ci` runs exactly what CI runs (`.ci/run`: fmt, clippy, tests).
//! - `bench [--quick | --full] [--systems LIST] [--out DIR] …` runs the
//!   compare suite (every workload against fasty, PostgreSQL, SQLite and
//!   DuckDB in one run) in a release build with the peers it needs,
//!   installing PostgreSQL 15 from Debian's packages when it is missing.
//! - `bench storage|wal|query|http …` runs one of fasty-bench's other
//!   subcommands (`query` is a selection of the compare suite).
//! - `fuzz --seconds N [TARGET…]` runs the cargo-fuzz targets in `fuzz/`.
//! - `crash [--cycles N]` runs the query layer's kill -9 test longer.
//! - `modules [--dot] [CRATE…]` prints each crate's module graph and its
//!   cycles (`xtask::modules`; `tests/module_graph.rs` fails on new ones).

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
                     fasty-embedded, fasty-embedded-durable, postgres,
                     postgres-nosync, postgres-copy, sqlite, sqlite-full,
                     duckdb (default: all); each peer is compared with the
                     fasty system of like durability where there is one,
                     and marked where not. PostgreSQL 15 is installed with
                     apt-get when missing; DuckDB is compiled from source
                     on first use (about 20 minutes on 2 cores). OPTIONS go to
                     `fasty-bench compare` (see `cargo xtask bench --help`).
  bench storage|wal|query|http [ARGS...]
                     one of fasty-bench's other subcommands: storage (the
                     engine, with and without its log, against fjall), wal
                     (group commit, async vs engine, replay), query (the
                     compare suite narrowed to fasty-embedded and sqlite),
                     http (what compare does not measure over HTTP)
  fuzz [--seconds N] [TARGET...]
                     build every fuzz target in fuzz/ (or the named ones)
                     with cargo +nightly fuzz and run each N seconds
                     (default 60), corpora in fuzz/corpus/<target>, seeds
                     from fuzz/seeds/<target>; fails naming the crash file
                     of every target that crashed
  crash [--cycles N] the query layer's kill -9 test (query/tests/crash.rs)
                     with N kill-and-reopen cycles (default 50)
  modules [--dot] [CRATE...]
                     each crate's graph of top-level modules (which module
                     names which through crate:: or super::) as text or
                     Graphviz dot, with the cycles in it
  help               show this text";

/// fasty-bench's other subcommands, passed through as they are.
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
        Some("fuzz") => match fuzz(&root, &args[1..]) {
            Ok(()) => return ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask: {e}");
                return ExitCode::FAILURE;
            }
        },
        Some("crash") => match crash(&root, &args[1..]) {
            Ok(cmd) => cmd,
            Err(e) => {
                eprintln!("xtask: {e}");
                return ExitCode::FAILURE;
            }
        },
        Some("modules") => match modules(&root, &args[1..]) {
            Ok(()) => return ExitCode::SUCCESS,
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

/// The targets `fuzz/Cargo.toml` declares, in its order.
fn fuzz_targets(fuzz_dir: &Path) -> Result<Vec<String>, String> {
    let manifest = std::fs::read_to_string(fuzz_dir.join("Cargo.toml"))
        .map_err(|e| format!("cannot read fuzz/Cargo.toml: {e}"))?;
    let mut targets = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(v) = line.strip_prefix("name") {
            let name = v
                .trim_start()
                .trim_start_matches('=')
                .trim()
                .trim_matches('"');
            targets.push(name.to_string());
        }
    }
    Ok(targets)
}

/// `cargo xtask fuzz`: builds the targets, runs each for the given time
/// and reports every crash file libFuzzer wrote.
fn fuzz(root: &Path, args: &[String]) -> Result<(), String> {
    let fuzz_dir = root.join("fuzz");
    let all = fuzz_targets(&fuzz_dir)?;
    let mut seconds: u64 = 60;
    let mut wanted = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--seconds" || a.starts_with("--seconds=") {
            let v = match a.strip_prefix("--seconds=") {
                Some(v) => Some(v.to_string()),
                None => it.next().cloned(),
            };
            seconds = v
                .and_then(|v| v.parse().ok())
                .filter(|&s| s > 0)
                .ok_or("--seconds needs a whole number of seconds above 0")?;
        } else if a.starts_with('-') {
            return Err(format!("unknown fuzz option {a:?}; see cargo xtask help"));
        } else if all.contains(a) {
            wanted.push(a.clone());
        } else {
            return Err(format!(
                "no fuzz target {a:?}; the targets are: {}",
                all.join(", ")
            ));
        }
    }
    if wanted.is_empty() {
        wanted = all;
    }
    // cargo-fuzz needs the nightly toolchain through rustup's `cargo +nightly`,
    // and builds in the fuzz folder's own target directory.
    let nightly = || {
        let mut cmd = Command::new("cargo");
        cmd.arg("+nightly")
            .current_dir(&fuzz_dir)
            .env_remove("RUSTUP_TOOLCHAIN")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO");
        cmd
    };
    // `cargo fuzz build` takes one target or none (all of them).
    let one = match &wanted[..] {
        [only] => Some(only),
        _ => None,
    };
    let built = nightly()
        .args(["fuzz", "build", "--debug-assertions"])
        .args(one)
        .status()
        .map_err(|e| format!("could not run cargo +nightly fuzz (install it with `cargo install cargo-fuzz`): {e}"))?;
    if !built.success() {
        return Err("building the fuzz targets failed".into());
    }
    let mut crashes = Vec::new();
    for target in &wanted {
        let corpus = fuzz_dir.join("corpus").join(target);
        let seeds = fuzz_dir.join("seeds").join(target);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
        let artifacts = fuzz_dir.join("artifacts").join(target);
        let before = artifact_files(&artifacts);
        eprintln!("xtask: fuzzing {target} for {seconds} s");
        let mut cmd = nightly();
        cmd.args(["fuzz", "run", "--debug-assertions", target])
            .arg(&corpus);
        if seeds.is_dir() {
            cmd.arg(&seeds);
        }
        let status = cmd
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .status()
            .map_err(|e| format!("could not run cargo +nightly fuzz: {e}"))?;
        if !status.success() {
            let new: Vec<PathBuf> = artifact_files(&artifacts)
                .into_iter()
                .filter(|p| !before.contains(p))
                .collect();
            if new.is_empty() {
                crashes.push(format!("{target}: failed without a crash file ({status})"));
            }
            for path in new {
                crashes.push(format!("{target}: {}", path.display()));
            }
        }
    }
    if crashes.is_empty() {
        eprintln!("xtask: no crashes in {} target(s)", wanted.len());
        return Ok(());
    }
    Err(format!(
        "fuzz targets crashed; minimise with `cd fuzz && cargo +nightly fuzz tmin TARGET FILE`:\n  {}",
        crashes.join("\n  ")
    ))
}

/// The files in a target's artifact folder (none when it does not exist).
fn artifact_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default()
}

/// `cargo xtask crash`: the kill -9 test of the query layer with more
/// cycles than the default test run's.
fn crash(
    root: &Path,
    args: &[String],
) -> Result<std::io::Result<std::process::ExitStatus>, String> {
    let cycles = match option(args, "--cycles") {
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|&c| c > 0)
            .ok_or("--cycles needs a whole number above 0")?,
        None => 50,
    };
    Ok(Command::new(env!("CARGO"))
        .args([
            "nextest",
            "run",
            "-p",
            "fasty-query",
            "--test",
            "crash",
            "--no-capture",
        ])
        .env("FASTY_CRASH_CYCLES", cycles.to_string())
        .current_dir(root)
        .status())
}

/// `cargo xtask modules`: prints the module graph of every workspace
/// crate (or the named ones) and the cycles in each.
fn modules(root: &Path, args: &[String]) -> Result<(), String> {
    let dot = args.iter().any(|a| a == "--dot");
    let wanted: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if let Some(bad) = args.iter().find(|a| a.starts_with('-') && *a != "--dot") {
        return Err(format!(
            "unknown modules option {bad:?}; see cargo xtask help"
        ));
    }
    let graphs = xtask::modules::workspace_graphs(root)?;
    if let Some(missing) = wanted
        .iter()
        .find(|w| !graphs.iter().any(|g| &g.crate_name == **w))
    {
        let names: Vec<&str> = graphs.iter().map(|g| g.crate_name.as_str()).collect();
        return Err(format!(
            "no crate {missing:?}; the crates are: {}",
            names.join(", ")
        ));
    }
    let mut out = String::new();
    for graph in &graphs {
        if !wanted.is_empty() && !wanted.contains(&&graph.crate_name) {
            continue;
        }
        if dot {
            out.push_str(&graph.to_dot());
            continue;
        }
        out.push_str(&graph.to_text());
        for cycle in xtask::modules::cycles(graph)? {
            out.push_str(&format!("  cycle: {cycle}\n"));
        }
    }
    let _ = write!(std::io::stdout(), "{out}");
    Ok(())
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
