//! `cargo xtask <task>`: orchestration for fasty's developers and CI.
//!
//! - `ci` runs exactly what CI runs (`.ci/run`: fmt, clippy, tests).
//! - `bench [ARGS…]` builds the benchmark in release mode with its peers
//!   enabled and runs it (`storage` workloads by default; `bench http`
//!   runs the HTTP load generator against an in-process server).

use std::path::PathBuf;
use std::process::{Command, ExitCode};

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  ci                 run exactly what CI runs (.ci/run: fmt, clippy, tests)
  bench [ARGS...]    run the release benchmark with peers enabled;
                     ARGS go to fasty-bench (default: storage), e.g.
                     `bench query`, `bench http --modes async,durable`
  help               show this text";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    let status = match args.first().map(String::as_str) {
        Some("ci") => Command::new("bash")
            .arg(root.join(".ci/run"))
            .current_dir(&root)
            .status(),
        Some("bench") => {
            let mut rest: Vec<String> = args[1..].to_vec();
            if rest.is_empty() {
                rest.push("storage".into());
            }
            Command::new(env!("CARGO"))
                .args([
                    "run",
                    "--release",
                    "-p",
                    "fasty-bench",
                    "--features",
                    "fjall,sqlite",
                    "--",
                ])
                .args(&rest)
                .current_dir(&root)
                .status()
        }
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
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

/// The workspace root: the parent of this crate's folder.
fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}
